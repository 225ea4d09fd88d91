package api

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// cacheTTL is how long an offer or affiliate read serves the tracking endpoints. docs/API.md wants an
// admin change in effect within five seconds on every process; this process's own admin writes
// clear the cache at once (invalidateCache), so the next request it serves sees them.
const cacheTTL = time.Second

// cacheStaleGrace is how long past its TTL an entry may still be served while one request
// reloads it: 1 s + 1 s stays well inside docs/API.md's five seconds.
const cacheStaleGrace = time.Second

// cacheStaleIfError is how long past its TTL an entry still answers when Postgres cannot be
// reached: during a database restart tracking links keep redirecting (the click writer holds
// their rows until Postgres is back) instead of failing. No admin change can land meanwhile on the
// unreachable database, so the five-second promise holds for every change that was made.
const cacheStaleIfError = 5 * time.Minute

// cacheMaxEntries bounds the cache: lookups of unknown IDs are cached too (a flood of them must
// not reach Postgres), so the key space is the client's choice.
const cacheMaxEntries = 10_000

// lookupCache keeps recent offer and affiliate reads of the tracking endpoints, so a click costs
// no Postgres round trip. Entries are immutable: callers must not modify what they get.
type lookupCache struct {
	store      *store.Store
	offers     sync.Map // int64 → *cacheEntry[trackedOffer]
	affiliates sync.Map // int64 → *cacheEntry[store.Affiliate]
	size       atomic.Int64
	// gen changes at every invalidation; a read that began before it is not cached.
	gen atomic.Uint64
	// now is the cache's clock (time.Now); tests set it to age entries.
	now func() time.Time
}

type cacheEntry[T any] struct {
	val     *T
	err     error // a NotFound is cached like a value
	expires int64 // unix nanoseconds
	gen     uint64
	// refreshing is set by the one request that reloads an expired entry; the others keep
	// serving the old value meanwhile instead of all querying Postgres at once.
	refreshing atomic.Bool
}

func newLookupCache(st *store.Store) *lookupCache { return &lookupCache{store: st, now: time.Now} }

// trackedOffer is an offer with its cap state: the cap state rides the offer's cache entry, so a
// click on a capped offer goes to its fallback_url without a query of its own, within the
// entry's TTL (plus its stale grace) of the cap filling: inside API.md's five seconds.
type trackedOffer struct {
	offer *store.Offer
	caps  store.CapState
}

// trackedOffer reads an offer and its cap state through the cache.
func (c *lookupCache) trackedOffer(ctx context.Context, id int64) (*store.Offer, store.CapState, error) {
	t, err := cached(c, &c.offers, ctx, id, c.loadOffer)
	if err != nil {
		return nil, store.CapState{}, err
	}
	return t.offer, t.caps, nil
}

// loadOffer reads an offer and, when it has caps, the state of its current periods.
func (c *lookupCache) loadOffer(ctx context.Context, id int64) (*trackedOffer, error) {
	o, err := c.store.Offer(ctx, id)
	if err != nil {
		return nil, err
	}
	caps, err := c.store.OfferCapState(ctx, o, c.now())
	if err != nil {
		return nil, err
	}
	return &trackedOffer{offer: o, caps: caps}, nil
}

// affiliate reads an affiliate through the cache.
func (c *lookupCache) affiliate(ctx context.Context, id int64) (*store.Affiliate, error) {
	return cached(c, &c.affiliates, ctx, id, c.store.Affiliate)
}

func cached[T any](c *lookupCache, m *sync.Map, ctx context.Context, id int64,
	load func(context.Context, int64) (*T, error)) (*T, error) {
	now := c.now().UnixNano()
	gen := c.gen.Load()
	var stale *cacheEntry[T]
	if v, ok := m.Load(id); ok {
		e := v.(*cacheEntry[T])
		switch {
		case e.gen != gen:
		case now < e.expires:
			return e.val, e.err
		case now < e.expires+int64(cacheStaleGrace) && !e.refreshing.CompareAndSwap(false, true):
			return e.val, e.err // another request is reloading it
		default:
			stale = e
		}
	}
	val, err := load(ctx, id)
	if err != nil && domain.ErrorKind(err) != domain.NotFound {
		if stale != nil {
			stale.refreshing.Store(false)
			if now < stale.expires+int64(cacheStaleIfError) {
				return stale.val, stale.err // Postgres is unreachable: the last answer stands
			}
		}
		return nil, err // a database error is not remembered
	}
	if c.gen.Load() == gen {
		if c.size.Add(1) > cacheMaxEntries {
			c.clear()
		}
		m.Store(id, &cacheEntry[T]{val: val, err: err, expires: now + int64(cacheTTL), gen: gen})
	}
	return val, err
}

func (c *lookupCache) clear() {
	c.offers.Clear()
	c.affiliates.Clear()
	c.size.Store(0)
}

// invalidate forgets everything: an admin write may have changed any offer or affiliate.
func (c *lookupCache) invalidate() {
	c.gen.Add(1)
	c.clear()
}

// invalidateCache is the admin API's middleware: after any write (whatever its outcome) this
// process's cache is cleared, so the next tracking request it serves sees the change.
func (s *server) invalidateCache(c *gin.Context) {
	c.Next()
	switch c.Request.Method {
	case "GET", "HEAD", "OPTIONS":
	default:
		s.cache.invalidate()
	}
}
