package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"

	"github.com/trackflow/trackflow/domain"
)

// AuthLimit bounds failed authentications (a wrong admin or postback token) per client IP: a
// bucket of Burst failures, refilled at one per Every. Only failures take from it, so a client
// that authenticates correctly is never slowed however often it calls; a client whose bucket is
// empty is answered 429 with Retry-After before its token is even checked (issue 8, finding 5).
type AuthLimit struct {
	Burst int
	Every time.Duration
}

// DefaultAuthLimit allows 10 failures at once, then one every 6 s (10 a minute): a cart with a
// mistyped token sees its 401s, a guesser gets 10 guesses a minute per address.
var DefaultAuthLimit = AuthLimit{Burst: 10, Every: 6 * time.Second}

// maxTrackedClients bounds the limiter's memory: past it, buckets that have refilled are dropped.
const maxTrackedClients = 100_000

// authLimiter holds one token bucket per client IP that failed recently, per realm.
type authLimiter struct {
	limit AuthLimit
	mu    sync.Mutex
	ips   map[string]*rate.Limiter
}

func newAuthLimiter(l AuthLimit) *authLimiter {
	if l.Burst <= 0 || l.Every <= 0 {
		l = DefaultAuthLimit
	}
	return &authLimiter{limit: l, ips: map[string]*rate.Limiter{}}
}

// check answers RateLimited, with Retry-After set on c, when ip has no failure left to spend.
func (a *authLimiter) check(c *gin.Context, ip string) error {
	a.mu.Lock()
	lim := a.ips[ip]
	a.mu.Unlock()
	if lim == nil {
		return nil
	}
	now := time.Now()
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return nil
	}
	wait := time.Duration((1 - tokens) * float64(a.limit.Every))
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	return domain.Errorf(domain.RateLimited, "authorization: too many failed attempts from %s; retry later", ip)
}

// failed spends one of ip's failures.
func (a *authLimiter) failed(ip string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	lim := a.ips[ip]
	if lim == nil {
		if len(a.ips) >= maxTrackedClients {
			a.sweep()
		}
		lim = rate.NewLimiter(rate.Every(a.limit.Every), a.limit.Burst)
		a.ips[ip] = lim
	}
	lim.Allow()
}

// sweep forgets the clients whose bucket is full again: they are as if never seen.
func (a *authLimiter) sweep() {
	now := time.Now()
	for ip, lim := range a.ips {
		if lim.TokensAt(now) >= float64(a.limit.Burst) {
			delete(a.ips, ip)
		}
	}
}

// checkPostbackToken refuses an advertiser-chosen postback token that is short or guessable
// (issue 8, finding 5: "aaaaaaaaaaaaaaaa" and sixteen spaces were accepted). A generated token
// (the field omitted: 128 random bits) is always preferred; a chosen one must be at least 24
// printable ASCII characters without spaces, use at least 8 different characters, repeat none
// more than 4 times in a row, and carry an estimated 80 bits (length × Shannon entropy of its
// character frequencies): `openssl rand -hex 16` passes.
func checkPostbackToken(tok string) error {
	const rule = "must be at least 24 printable ASCII characters without spaces, with at least 8 different characters, no run of 5 equal ones and about 80 bits of entropy; omit it to have one generated"
	if len(tok) < 24 {
		return domain.FieldError("postback_token", rule)
	}
	counts := map[byte]int{}
	run := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c > '~' {
			return domain.FieldError("postback_token", rule)
		}
		if i > 0 && tok[i-1] == c {
			run++
		} else {
			run = 1
		}
		if run > 4 {
			return domain.FieldError("postback_token", rule)
		}
		counts[c]++
	}
	var bits float64
	for _, n := range counts {
		p := float64(n) / float64(len(tok))
		bits -= float64(n) * math.Log2(p)
	}
	if len(counts) < 8 || bits < 80 {
		return domain.FieldError("postback_token", rule)
	}
	return nil
}
