package store_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackflow/trackflow/domain"
)

// moneyPattern is API.md's money pattern.
var moneyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$`)

// FuzzParseMoney: money text is accepted exactly when it matches API.md's pattern within the
// bound, and an accepted amount prints as two decimals that parse back to it.
func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"19.95", "0", "1200", "5.5", "-1", "1e3", "NaN", ".5", "5.", "007", "1.999", "+5",
		"9999999999.99", "10000000000", "٣", "1\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := domain.ParseMoney(s)
		if err != nil {
			if moneyPattern.MatchString(s) && len(strings.SplitN(s, ".", 2)[0]) <= 10 {
				t.Fatalf("ParseMoney(%q) refused: %v", s, err)
			}
			return
		}
		if !moneyPattern.MatchString(s) || m < 0 || m > domain.MaxMoney {
			t.Fatalf("ParseMoney(%q) = %d accepted", s, m)
		}
		out := m.String()
		if back, err := domain.ParseMoney(out); err != nil || back != m || !regexp.MustCompile(`^\d+\.\d\d$`).MatchString(out) {
			t.Fatalf("ParseMoney(%q) = %s: does not round-trip (%v)", s, out, err)
		}
		if j, err := domain.ParseMoneyJSON([]byte(`"` + s + `"`)); err != nil || j != m {
			t.Fatalf("ParseMoneyJSON(%q) = %d %v, want %d", s, j, err, m)
		}
	})
}

// FuzzExpandMacros: a macro's value always arrives URL-escaped (it cannot add a parameter or
// change the URL's structure) and unescapes to itself; a template without braces is unchanged;
// valid UTF-8 in gives valid UTF-8 out.
func FuzzExpandMacros(f *testing.F) {
	f.Add("https://a.example/pb?tx={transaction_id}&s={sub_id}", "x&y=1#z")
	f.Add("{sub_id}{unknown}{", "\xff")
	f.Add("no macros", "v")
	f.Fuzz(func(t *testing.T, template, value string) {
		out := domain.ExpandMacros(template, map[string]string{"sub_id": value})
		if !strings.Contains(template, "{") && out != template {
			t.Fatalf("ExpandMacros(%q) = %q, want it unchanged", template, out)
		}
		if utf8.ValidString(template) && !utf8.ValidString(out) {
			t.Fatalf("ExpandMacros(%q, %q) = %q: invalid UTF-8", template, value, out)
		}
		alone := domain.ExpandMacros("{sub_id}", map[string]string{"sub_id": value})
		if strings.ContainsAny(alone, "&#?/ {}") {
			t.Fatalf("value %q expands unescaped: %q", value, alone)
		}
		if back, err := url.QueryUnescape(alone); err != nil || back != value {
			t.Fatalf("value %q expands to %q, which unescapes to %q (%v)", value, alone, back, err)
		}
	})
}

// FuzzClickID: a key's Verify and ClickIDTime take any text without panicking; only a
// well-formed ID can be authentic; an ID minted with a key verifies under it, to the second; a
// secret shorter than ClickIDKeySize is refused.
func FuzzClickID(f *testing.F) {
	f.Add(domain.NewID(), []byte("0123456789abcdef0123456789abcdef"), int64(1764640000))
	f.Add("ZZ", []byte{}, int64(0))
	f.Fuzz(func(t *testing.T, id string, secret []byte, unix int64) {
		key, err := domain.ClickIDKeyFrom(secret)
		if (err == nil) != (len(secret) >= domain.ClickIDKeySize) {
			t.Fatalf("ClickIDKeyFrom(%d bytes): %v", len(secret), err)
		}
		if _, ok := key.Verify(id); ok && !domain.IsID(id) {
			t.Fatalf("malformed %q authentic", id)
		}
		if _, ok := domain.ClickIDTime(id); ok != domain.IsID(id) {
			t.Fatalf("ClickIDTime(%q) ok = %v", id, ok)
		}
		if key == nil || unix < 0 || unix > 1<<32-1 {
			return
		}
		at := time.Unix(unix, 0).UTC()
		minted := key.NewClickID(at)
		if got, ok := key.Verify(minted); !ok || !got.Equal(at) || !domain.IsID(minted) {
			t.Fatalf("NewClickID(%s) = %q verifies as %s %v", at, minted, got, ok)
		}
	})
}
