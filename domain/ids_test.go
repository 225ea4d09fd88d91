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
	id := key.NewClickID(now)
	if !domain.IsID(id) || id == key.NewClickID(now) {
		t.Fatalf("NewClickID = %q: want 32 lowercase hex, different each time", id)
	}
	at, ok := key.Verify(id)
	if !ok || !at.Equal(now.Truncate(time.Second)) {
		t.Fatalf("Verify = %s %v, want %s true", at, ok, now.Truncate(time.Second))
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
		if _, ok := key.Verify(forged); ok {
			t.Errorf("character %d changed (%s): still authentic", i, forged)
		}
	}
	for name, bad := range map[string]string{
		"other key": other.NewClickID(now), "pre-format": domain.NewID(), "upper case": strings.ToUpper(id),
		"short": id[:31], "empty": "", "non-hex": strings.Repeat("g", 32),
	} {
		if _, ok := key.Verify(bad); ok {
			t.Errorf("%s (%q): authentic", name, bad)
		}
	}
	if _, ok := (*domain.ClickIDKey)(nil).Verify(id); ok {
		t.Error("no key: authentic")
	}
	if _, ok := domain.ClickIDTime("xyz"); ok {
		t.Error("ClickIDTime of a malformed ID: ok")
	}
}

// TestClickIDKeysKeepTheirOwnMACs: two keys used in turn each mint and verify with their own
// pooled MAC, and a short secret is refused. (BenchmarkNewClickID and BenchmarkVerifyClickID
// report the allocations: one per minted ID, its string; none to verify one.)
func TestClickIDKeysKeepTheirOwnMACs(t *testing.T) {
	a, b := domain.NewClickIDKey(), domain.NewClickIDKey()
	now := time.Now()
	for i := 0; i < 100; i++ {
		ida, idb := a.NewClickID(now), b.NewClickID(now)
		if _, ok := a.Verify(ida); !ok {
			t.Fatal("a's ID not authentic under a")
		}
		if _, ok := b.Verify(ida); ok {
			t.Fatal("a's ID authentic under b")
		}
		if _, ok := b.Verify(idb); !ok {
			t.Fatal("b's ID not authentic under b")
		}
	}
	if _, err := domain.ClickIDKeyFrom(make([]byte, domain.ClickIDKeySize-1)); err == nil {
		t.Error("a 31-byte secret accepted")
	}
}
