package api

import (
	"testing"
	"time"
)

// TestCacheFreshnessBound: API.md wants an admin change in effect within five seconds on every
// process; a cached entry is served at most its TTL plus the grace while one request reloads it.
func TestCacheFreshnessBound(t *testing.T) {
	t.Parallel()
	if worst := cacheTTL + cacheStaleGrace; worst > 5*time.Second {
		t.Fatalf("a cached offer may be %s old; API.md allows 5 s", worst)
	}
}
