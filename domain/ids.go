package domain

import (
	"crypto/rand"
	"encoding/hex"
)

// NewID returns 128 random bits as 32 lowercase hex characters: click IDs, conversion IDs and
// webhook ids. crypto/rand never fails on supported platforms (it panics instead of returning weak
// bytes), so callers need no error path.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	var out [32]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// IsID reports whether s looks like an ID made by NewID.
func IsID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
