package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/store"
)

// TestClickIDAuthenticated (issue 8, finding 2): a click ID carries its creation time and a tag
// only the key's holder makes; any changed character, another key, a pre-format random ID or a
// malformed one is not authentic.
func TestClickIDAuthenticated(t *testing.T) {
	t.Parallel()
	key, other := store.NewClickIDKey(), store.NewClickIDKey()
	now := time.Date(2026, 12, 2, 1, 2, 3, 456, time.UTC)
	id := store.NewClickID(key, now)
	if !store.IsID(id) || id == store.NewClickID(key, now) {
		t.Fatalf("NewClickID = %q: want 32 lowercase hex, different each time", id)
	}
	at, ok := store.VerifyClickID(key, id)
	if !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("VerifyClickID = %s %v, want %s true", at, ok, now.Truncate(time.Second))
	}
	if at, ok := store.ClickIDTime(id); !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("ClickIDTime = %s %v", at, ok)
	}
	for i := 0; i < len(id); i++ {
		c := byte('0')
		if id[i] == '0' {
			c = '1'
		}
		forged := id[:i] + string(c) + id[i+1:]
		if _, ok := store.VerifyClickID(key, forged); ok {
			t.Errorf("character %d changed (%s): still authentic", i, forged)
		}
	}
	for name, bad := range map[string]string{
		"other key": store.NewClickID(other, now), "pre-format": store.NewID(), "upper case": strings.ToUpper(id),
		"short": id[:31], "empty": "", "non-hex": strings.Repeat("g", 32),
	} {
		if _, ok := store.VerifyClickID(key, bad); ok {
			t.Errorf("%s (%q): authentic", name, bad)
		}
	}
	if _, ok := store.VerifyClickID(nil, id); ok {
		t.Error("no key: authentic")
	}
	if _, ok := store.ClickIDTime("xyz"); ok {
		t.Error("ClickIDTime of a malformed ID: ok")
	}
}
