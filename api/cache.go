package api

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/singleflight"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// cacheTTL is how long an offer or affiliate read serves the tracking endpoints. docs/API.md wants an
// admin change in effect within five seconds on every process; this process's own admin writes
// clear the cache at once (invalidateCache), so the next request it serves sees them.
const cacheTTL = time.Second

// cacheStaleGrace is how long past its TTL an entry is still served while one load refreshes it
// in the background: TTL + grace + cacheLoadTimeout stays inside docs/API.md's five seconds.
const cacheStaleGrace = time.Second

// cacheLoadTimeout bounds one load. A load runs detached from the request that started it (the
// others share it, and it must not die with the first request's client), so it needs a bound of
// its own.
const cacheLoadTimeout = 2 * time.Second

// cacheStaleIfError is how long past its TTL an entry still answers when Postgres cannot be
// reached: during a database restart tracking links keep redirecting (the click writer holds
// their rows until Postgres is back) instead of failing. No admin change can land meanwhile on the
// unreachable database, so the five-second promise holds for every change that was made.
const cacheStaleIfError = 5 * time.Minute

// cacheMaxEntries bounds the cache: lookups of unknown IDs are cached too (a flood of them must
// not reach Postgres), so the key space is the client's choice.
const cacheMaxEntries = 10_000

// lookupCache keeps recent offer and affiliate reads of the tracking endpoints, so a click costs
// no Postgres round trip: expiring entries, and one load per key at a time (singleflight) however
// many requests miss together. Entries are immutable: callers must not modify what they get.
type lookupCache struct {
	store      *store.Store
	offers     cacheTable[trackedOffer]
	affiliates cacheTable[store.Affiliate]
	size       atomic.Int64
	// gen changes at every invalidation; a load that began before it is neither stored nor shared
	// with requests that came after it.
	gen atomic.Uint64
	// now is the cache's clock (time.Now); tests set it to age entries.
	now func() time.Time
}

// cacheTable is one kind of entry: the entries by ID and the loads in flight.
type cacheTable[T any] struct {
	entries sync.Map // int64 → *cacheEntry[T]
	loads   singleflight.Group
}

type cacheEntry[T any] struct {
	val     *T
	err     error // a NotFound is cached like a value
	expires int64 // unix nanoseconds
	gen     uint64
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
	t, err := cached(c, &c.offers, ctx, id, (*lookupCache).loadOffer)
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
	return cached(c, &c.affiliates, ctx, id, loadAffiliate)
}

func loadAffiliate(c *lookupCache, ctx context.Context, id int64) (*store.Affiliate, error) {
	return c.store.Affiliate(ctx, id)
}

// cached answers from a fresh entry; past its TTL, from the entry while a shared load refreshes it
// (for cacheStaleGrace); otherwise it waits for the shared load. A database error is never
// remembered: the last answer stands for cacheStaleIfError, then the error is returned. load is
// a plain function, not a method value, so that a hit allocates nothing.
func cached[T any](c *lookupCache, t *cacheTable[T], ctx context.Context, id int64,
	load func(*lookupCache, context.Context, int64) (*T, error)) (*T, error) {
	now := c.now().UnixNano()
	gen := c.gen.Load()
	var stale *cacheEntry[T]
	if v, ok := t.entries.Load(id); ok {
		if e := v.(*cacheEntry[T]); e.gen == gen {
			if now < e.expires {
				return e.val, e.err
			}
			stale = e
		}
	}
	key := strconv.FormatUint(gen, 10) + "/" + strconv.FormatInt(id, 10)
	flight := t.loads.DoChan(key, func() (any, error) {
		// A load that ended between this reader's miss and its flight has stored a fresh entry:
		// answer it rather than load again.
		if v, ok := t.entries.Load(id); ok {
			if e := v.(*cacheEntry[T]); e.gen == gen && now < e.expires {
				return e, nil
			}
		}
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheLoadTimeout)
		defer cancel()
		val, err := load(c, lctx, id)
		if err != nil && domain.ErrorKind(err) != domain.NotFound {
			return nil, err // a database error is not remembered
		}
		e := &cacheEntry[T]{val: val, err: err, expires: now + int64(cacheTTL), gen: gen}
		if c.gen.Load() == gen {
			if _, replaced := t.entries.Swap(id, e); !replaced && c.size.Add(1) > cacheMaxEntries {
				c.clear()
			}
		}
		return e, nil
	})
	var res singleflight.Result
	if stale != nil && now < stale.expires+int64(cacheStaleGrace) {
		select {
		case res = <-flight:
		default:
			return stale.val, stale.err // the load refreshes the entry for the next requests
		}
	} else {
		select {
		case res = <-flight:
		case <-ctx.Done():
			res.Err = domain.Errorf(domain.Unavailable, "lookup: %v", ctx.Err())
		}
	}
	if res.Err != nil {
		if stale != nil && now < stale.expires+int64(cacheStaleIfError) {
			return stale.val, stale.err // Postgres is unreachable: the last answer stands
		}
		return nil, res.Err
	}
	e := res.Val.(*cacheEntry[T])
	return e.val, e.err
}

func (c *lookupCache) clear() {
	c.offers.entries.Clear()
	c.affiliates.entries.Clear()
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
