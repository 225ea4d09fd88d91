package store

import (
	"strings"
	"unicode/utf8"
)

// StorableText makes s storable in a PostgreSQL text column, which refuses invalid UTF-8 and NUL:
// invalid bytes become U+FFFD, NUL is dropped, and a value longer than max bytes (max > 0) is cut
// at a character boundary. Request headers go through it before they are stored or compared with
// what was stored (the backup lookup's user agent). Plain ASCII within bounds is returned as it is.
func StorableText(s string, max int) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
			break
		}
	}
	if max <= 0 || len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
