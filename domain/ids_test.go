package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
)

// TestClickIDAuthenticated (issue 8, finding 2): a click ID carries its creation time and a tag
// only the key's holder makes; any changed character, another key, a pre-format random ID or a
// malformed one is not authentic.
func TestClickIDAuthenticated(t *testing.T) {
	t.Parallel()
	key, other := domain.NewClickIDKey(), domain.NewClickIDKey()
	now := time.Date(2026, 12, 2, 1, 2, 3, 456, time.UTC)
	id := domain.NewClickID(key, now)
	if !domain.IsID(id) || id == domain.NewClickID(key, now) {
		t.Fatalf("NewClickID = %q: want 32 lowercase hex, different each time", id)
	}
	at, ok := domain.VerifyClickID(key, id)
	if !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("VerifyClickID = %s %v, want %s true", at, ok, now.Truncate(time.Second))
	}
	if at, ok := domain.ClickIDTime(id); !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("ClickIDTime = %s %v", at, ok)
	}
	for i := 0; i < len(id); i++ {
		c := byte('0')
		if id[i] == '0' {
			c = '1'
		}
		forged := id[:i] + string(c) + id[i+1:]
		if _, ok := domain.VerifyClickID(key, forged); ok {
			t.Errorf("character %d changed (%s): still authentic", i, forged)
		}
	}
	for name, bad := range map[string]string{
		"other key": domain.NewClickID(other, now), "pre-format": domain.NewID(), "upper case": strings.ToUpper(id),
		"short": id[:31], "empty": "", "non-hex": strings.Repeat("g", 32),
	} {
		if _, ok := domain.VerifyClickID(key, bad); ok {
			t.Errorf("%s (%q): authentic", name, bad)
		}
	}
	if _, ok := domain.VerifyClickID(nil, id); ok {
		t.Error("no key: authentic")
	}
	if _, ok := domain.ClickIDTime("xyz"); ok {
		t.Error("ClickIDTime of a malformed ID: ok")
	}
}
