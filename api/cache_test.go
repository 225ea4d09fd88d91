package api

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// testCache is a cache on a test clock, with a loader of offers that tests steer: name is what it
// answers, and while hold is set each load waits for a value on release (or its context's end).
type testCache struct {
	c       *lookupCache
	clock   time.Time
	mu      sync.Mutex
	name    string
	hold    chan struct{}
	loads   atomic.Int32
	reads   atomic.Int32 // readers that have called get
	started chan context.Context
}

func newTestCache() *testCache {
	tc := &testCache{clock: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), name: "v1",
		started: make(chan context.Context, 100)}
	tc.c = newLookupCache(nil)
	tc.c.now = func() time.Time { tc.mu.Lock(); defer tc.mu.Unlock(); return tc.clock }
	return tc
}

func (tc *testCache) load(ctx context.Context, id int64) (*store.Offer, error) {
	tc.loads.Add(1)
	tc.started <- ctx
	tc.mu.Lock()
	name, hold := tc.name, tc.hold // what the database held when the query began
	tc.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &store.Offer{ID: id, Name: name}, nil
}

func (tc *testCache) set(name string, hold chan struct{}) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.name, tc.hold = name, hold
}

func (tc *testCache) age(by time.Duration) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.clock = tc.clock.Add(by)
}

func (tc *testCache) get(t *testing.T, ctx context.Context) string {
	t.Helper()
	tc.reads.Add(1)
	o, err := cached(tc.c, &tc.c.offers, ctx, 1, func(_ *lookupCache, ctx context.Context, id int64) (*trackedOffer, error) {
		o, err := tc.load(ctx, id)
		if err != nil {
			return nil, err
		}
		return &trackedOffer{offer: o}, nil
	})
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return o.offer.Name
}

// waitFor polls cond until it holds, failing the test after ten seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCacheOneLoadPerKey: requests that miss together share one load (a cold offer under a burst
// of clicks costs Postgres one query, not one per click).
func TestCacheOneLoadPerKey(t *testing.T) {
	t.Parallel()
	tc := newTestCache()
	hold := make(chan struct{})
	tc.set("v1", hold)
	var done sync.WaitGroup
	names := make([]string, 50)
	for i := range names {
		done.Add(1)
		go func() {
			defer done.Done()
			names[i] = tc.get(t, context.Background())
		}()
	}
	// Every reader is in the cache while the first load is held: none can be answered from an
	// entry, so a cache without shared loads would load once per reader.
	waitFor(t, "50 readers", func() bool { return tc.reads.Load() == 50 })
	<-tc.started
	close(hold)
	done.Wait()
	if n := tc.loads.Load(); n != 1 {
		t.Fatalf("50 concurrent misses made %d loads, want 1", n)
	}
	for i, n := range names {
		if n != "v1" {
			t.Fatalf("reader %d got %q", i, n)
		}
	}
}

// TestCacheFreshnessBound: docs/API.md wants an admin change made on another process (so no
// invalidation here) in effect within five seconds. Past its TTL an entry is answered at once
// while one background load refreshes it; past the grace readers wait for the load, whose own
// time is bounded: TTL + grace + load timeout is the worst staleness.
func TestCacheFreshnessBound(t *testing.T) {
	t.Parallel()
	tc := newTestCache()
	ctx := context.Background()
	if got := tc.get(t, ctx); got != "v1" {
		t.Fatalf("first read: %q", got)
	}
	<-tc.started
	hold := make(chan struct{})
	tc.set("v2", hold)
	tc.age(cacheTTL / 2)
	if got := tc.get(t, ctx); got != "v1" || tc.loads.Load() != 1 {
		t.Fatalf("within the TTL: %q after %d loads", got, tc.loads.Load())
	}

	// Within the grace: the old answer at once, whatever the load is doing, and one load.
	tc.age(cacheTTL)
	for range 20 {
		if got := tc.get(t, ctx); got != "v1" {
			t.Fatalf("within the grace: %q", got)
		}
	}
	loadCtx := <-tc.started
	if n := tc.loads.Load(); n != 2 {
		t.Fatalf("20 reads within the grace made %d loads in all, want 2", n)
	}
	if dl, ok := loadCtx.Deadline(); !ok || time.Until(dl) > cacheLoadTimeout {
		t.Fatalf("a load has no deadline within %s: %v %v", cacheLoadTimeout, dl, ok)
	}
	close(hold)
	waitFor(t, "the background load to refresh the entry", func() bool { return tc.get(t, ctx) == "v2" })

	// Past the grace, a reader waits for the load rather than answer what it knows is stale.
	tc.set("v3", nil)
	tc.age(cacheTTL + cacheStaleGrace + time.Millisecond)
	if got := tc.get(t, ctx); got != "v3" {
		t.Fatalf("past the grace: %q", got)
	}
	if limit := 5 * time.Second; cacheTTL+cacheStaleGrace+cacheLoadTimeout >= limit {
		t.Fatalf("worst staleness %s is not inside docs/API.md's %s", cacheTTL+cacheStaleGrace+cacheLoadTimeout, limit)
	}
}

// TestCacheInvalidateDuringLoad: a load that began before an admin write is neither stored nor
// shared with the requests after it, so this process's own writes are seen at once.
func TestCacheInvalidateDuringLoad(t *testing.T) {
	t.Parallel()
	tc := newTestCache()
	hold := make(chan struct{})
	tc.set("old", hold)
	first := make(chan string)
	go func() { first <- tc.get(t, context.Background()) }()
	<-tc.started
	tc.c.invalidate()
	tc.set("new", nil)
	if got := tc.get(t, context.Background()); got != "new" {
		t.Fatalf("after invalidate, during an older load: %q", got)
	}
	close(hold)
	if got := <-first; got != "old" {
		t.Fatalf("the older reader: %q", got)
	}
	tc.set("newer", nil)
	if got := tc.get(t, context.Background()); got != "new" {
		t.Fatalf("the older load replaced the entry: %q", got)
	}
}

// TestCacheWaitEndsWithTheRequest: past the grace, a reader whose request ends while the load
// hangs gets the last answer (as when Postgres is unreachable), and without one an error.
func TestCacheWaitEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	tc := newTestCache()
	tc.get(t, context.Background())
	tc.set("v2", make(chan struct{}))
	tc.age(cacheTTL + cacheStaleGrace + time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-tc.started; <-tc.started; cancel() }()
	if got := tc.get(t, ctx); got != "v1" {
		t.Fatalf("request ended during a hung load: %q", got)
	}
	_, err := cached(tc.c, &tc.c.affiliates, ctx, 2, func(_ *lookupCache, ctx context.Context, _ int64) (*store.Affiliate, error) {
		<-ctx.Done() // hangs until its own timeout
		return nil, ctx.Err()
	})
	if err == nil {
		t.Fatal("no error for a never-seen id with the request ended")
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
	var m cacheTable[store.Offer]
	calls, name, fail := 0, "v1", error(nil)
	load := func(_ *lookupCache, _ context.Context, id int64) (*store.Offer, error) {
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
