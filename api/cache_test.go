package api

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// TestCacheFreshnessBound: docs/API.md wants an admin change (made on another process, so no
// invalidation here) in effect within five seconds, even when the request that reloads an expired
// entry hangs and the others keep serving the old value.
func TestCacheFreshnessBound(t *testing.T) {
	t.Parallel()
	c := newLookupCache(nil)
	clock := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	var m sync.Map
	name := "v1"
	load := func(_ context.Context, id int64) (*store.Offer, error) { return &store.Offer{ID: id, Name: name}, nil }
	get := func() string {
		o, err := cached(c, &m, context.Background(), 1, load)
		if err != nil {
			t.Fatal(err)
		}
		return o.Name
	}
	get()
	changed := clock
	name = "v2"
	for get() != "v2" {
		// The worst case: a reload is always under way elsewhere, so only the grace's end forces one.
		v, _ := m.Load(int64(1))
		v.(*cacheEntry[store.Offer]).refreshing.Store(true)
		clock = clock.Add(100 * time.Millisecond)
		if clock.Sub(changed) > 5*time.Second {
			t.Fatalf("the change is not served %s after it was made; docs/API.md allows 5 s", clock.Sub(changed))
		}
	}
}

// TestCacheServesLastAnswerWhilePostgresIsDown: within the TTL the loader is not called; past it
// a database error is answered with the last value for a while (tracking links keep working
// through a Postgres restart), then with the error; NotFound is remembered; invalidate reloads.
func TestCacheServesLastAnswerWhilePostgresIsDown(t *testing.T) {
	t.Parallel()
	c := newLookupCache(nil)
	clock := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return clock }
	var m sync.Map
	calls, name, fail := 0, "v1", error(nil)
	load := func(_ context.Context, id int64) (*store.Offer, error) {
		calls++
		if fail != nil {
			return nil, fail
		}
		if id == 404 {
			return nil, domain.Errorf(domain.NotFound, "offer not found")
		}
		return &store.Offer{ID: id, Name: name}, nil
	}
	get := func(id int64) (*store.Offer, error) { return cached(c, &m, context.Background(), id, load) }
	age := func(_ int64, by time.Duration) { clock = clock.Add(cacheTTL + by) }

	if o, err := get(1); err != nil || o.Name != "v1" || calls != 1 {
		t.Fatalf("first read: %+v %v, %d loads", o, err, calls)
	}
	name = "v2"
	if o, _ := get(1); o.Name != "v1" || calls != 1 {
		t.Fatalf("within the TTL: %q, %d loads", o.Name, calls)
	}
	age(1, cacheStaleGrace+time.Millisecond)
	if o, _ := get(1); o.Name != "v2" || calls != 2 {
		t.Fatalf("past the TTL: %q, %d loads", o.Name, calls)
	}

	fail = errors.New("dial tcp: connection refused")
	age(1, cacheStaleGrace+time.Millisecond)
	if o, err := get(1); err != nil || o.Name != "v2" {
		t.Fatalf("Postgres down, recent entry: %+v %v", o, err)
	}
	age(1, cacheStaleIfError+time.Second)
	if _, err := get(1); err == nil || domain.ErrorKind(err) != domain.Internal {
		t.Fatalf("Postgres down, entry too old: %v", err)
	}
	if _, err := get(2); err == nil {
		t.Fatal("Postgres down, never seen: no error")
	}

	fail = nil
	n := calls
	for i := 0; i < 2; i++ {
		if _, err := get(404); domain.ErrorKind(err) != domain.NotFound {
			t.Fatalf("unknown offer: %v", err)
		}
	}
	if calls != n+1 {
		t.Fatalf("NotFound not remembered: %d loads for two reads", calls-n)
	}
	name = "v3"
	c.invalidate()
	if o, _ := get(1); o.Name != "v3" {
		t.Fatalf("after invalidate: %q", o.Name)
	}
}
