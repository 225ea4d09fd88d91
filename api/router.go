// Package api is trackflow's HTTP server: tracking endpoints (clicks, impressions, conversions,
// postbacks), the admin API and the ops endpoints of docs/API.md, on one Gin router.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/api/console"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/codec"
	"github.com/trackflow/trackflow/internal/logging"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
)

// Config is what the API needs from the environment.
type Config struct {
	AdminToken     string
	TrustedProxies []netip.Prefix
	// Retry is the affiliate-pixel retry schedule given to every conversion workflow.
	Retry domain.RetrySchedule
	// PublicURL is the base URL of tracking-code snippets (PUBLIC_URL); empty: the request's own.
	PublicURL string
	// Metrics are the process's counters, served on GET /metrics; New makes its own when nil.
	Metrics *metrics.Metrics
	// Clicks and Impressions store the hot path's rows in batches; the caller closes them after
	// the HTTP server has stopped, so every acknowledged row is stored. Nil: New starts one that
	// is never closed (tests).
	Clicks      *store.ClickWriter
	Impressions *store.ImpressionWriter
	// Logger is the process's logger (logging.New); nil: slog's default.
	Logger *slog.Logger
	// PixelClient fires the pixel test tool's requests: the worker's guarded client
	// (activities.NewPixelClient with POSTBACK_ALLOW_PRIVATE). Nil: one that refuses private
	// targets.
	PixelClient *http.Client
	// ReviewWait bounds how long approve and reject wait for a worker to store the decision
	// before answering 503 (REVIEW_WAIT); zero: DefaultReviewWait.
	ReviewWait time.Duration
	// Codec is the payload codec that /codec/decode and /codec/encode apply (TEMPORAL_CODEC_KEYS);
	// nil: payloads pass through unchanged, as they do in the client.
	Codec *codec.Codec
	// UIOrigins are the Temporal UI's origins, allowed by CORS on /codec (TEMPORAL_UI_ORIGIN).
	UIOrigins []string
	// CodecLoopbackNoAuth lets loopback peers call /codec without the admin token (make run).
	CodecLoopbackNoAuth bool
	// Timeouts bound body reads per route class (NewHTTPServer sets the connection's); zero
	// fields: DefaultTimeouts.
	Timeouts Timeouts
	// AuthLimit bounds failed authentications per client IP; zero: DefaultAuthLimit.
	AuthLimit AuthLimit
	// TemporalUIURL is the Temporal UI's base URL (TEMPORAL_UI_URL), for the console's links to a
	// conversion's workflow; Namespace is the Temporal namespace those links name.
	TemporalUIURL string
	Namespace     string
	// ClickIDKey authenticates the click IDs the API mints (CLICK_ID_KEY, shared with the
	// workers); nil: New makes a random one (tests, a single ROLE=all process).
	ClickIDKey []byte
}

// server holds the handlers' dependencies.
type server struct {
	cfg         Config
	store       *store.Store
	temporal    client.Client
	clicks      *store.ClickWriter
	impressions *store.ImpressionWriter
	cache       *lookupCache
	log         *slog.Logger
	// adminAuth and postbackAuth count failed authentications per client IP, one budget each.
	adminAuth, postbackAuth *authLimiter
	pixels                  *http.Client
}

// New builds the router with its dependencies.
func New(cfg Config, st *store.Store, tc client.Client) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	to := cfg.Timeouts.withDefaults()
	// Every request gets the tightest body deadline first; the routes that take a body widen it.
	r.Use(requestID, gin.Recovery(), bodyDeadline(to.Tiny))
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // client IPs come from clientIP, which honours TRUSTED_PROXIES
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(prometheus.NewRegistry())
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &server{cfg: cfg, store: st, temporal: tc, clicks: cfg.Clicks, impressions: cfg.Impressions,
		cache: newLookupCache(st), adminAuth: newAuthLimiter(cfg.AuthLimit), postbackAuth: newAuthLimiter(cfg.AuthLimit),
		log: cfg.Logger, pixels: cfg.PixelClient}
	if s.pixels == nil {
		s.pixels = activities.NewPixelClient(false)
	}
	if len(s.cfg.ClickIDKey) == 0 {
		s.cfg.ClickIDKey = domain.NewClickIDKey()
	}
	if s.clicks == nil {
		s.clicks = store.NewClickWriter(st.DB, store.BatchOptions{})
	}
	if s.impressions == nil {
		s.impressions = store.NewImpressionWriter(st.DB, store.BatchOptions{})
	}

	s.routes(r)
	return r
}

// routes registers every route of docs/API.md on r. Each route is also in api/openapi.yaml:
// TestRoutesMatchOpenAPI fails when the two differ.
func (s *server) routes(r *gin.Engine) {
	to := s.cfg.Timeouts.withDefaults()
	// Each handler is adapted to the body type its errors must have (docs/API.md, "Errors").
	r.GET("/click", asText(s.click))
	r.GET("/impression", asGIF(s.impression))
	// The routes that read clicks first wait for the clicks this process has redirected.
	r.GET("/pixel", s.syncClicks, asGIF(s.pixel))
	r.POST("/conversion", bodyDeadline(to.Body), s.syncClicks, asText(s.conversion))
	r.GET("/tf.js", trackingScript)
	// HEAD of the script (CDNs, `curl -I`) answers GET's headers; the tracking routes have no
	// HEAD, since it would record what a link checker's request is not.
	r.HEAD("/tf.js", trackingScript)
	// A postback waits for the clicks only in its Click ID form (postbackClick): an AFID post
	// reads none.
	r.GET("/postback", asJSON(s.postback))
	r.POST("/postback", bodyDeadline(to.Body), asJSON(s.postback))

	r.GET("/healthz", asJSON(s.healthz))
	r.GET("/readyz", asJSON(s.readyz))
	r.GET("/metrics", gin.WrapH(s.cfg.Metrics.Handler()))
	r.GET("/openapi.yaml", openAPI)

	cdc := r.Group("/codec", s.codecCORS)
	cdc.OPTIONS("/decode")
	cdc.OPTIONS("/encode")
	cdc.POST("/decode", asJSON(s.requireCodecAuth), bodyDeadline(codecTimeout), asJSON(s.codecDecode))
	cdc.POST("/encode", asJSON(s.requireCodecAuth), bodyDeadline(codecTimeout), asJSON(s.codecEncode))

	v1 := r.Group("/api/v1", asJSON(s.requireAdmin), bodyDeadline(to.Admin), s.invalidateCache)
	v1.POST("/advertisers", asJSON(s.createAdvertiser))
	v1.GET("/advertisers", asJSON(s.listAdvertisers))
	v1.POST("/advertisers/:id/postback-token", asJSON(s.regeneratePostbackToken))
	v1.POST("/affiliates", asJSON(s.createAffiliate))
	v1.PATCH("/affiliates/:id", asJSON(s.updateAffiliate))
	v1.POST("/affiliates/:id/pixels", asJSON(s.createPixel))
	v1.PATCH("/affiliates/:id/pixels/:pixel_id", asJSON(s.updatePixel))
	v1.POST("/affiliates/:id/pixels/:pixel_id/test", asJSON(s.testPixel))
	v1.POST("/offers", asJSON(s.createOffer))
	v1.GET("/offers/:id", asJSON(s.getOffer))
	v1.PATCH("/offers/:id", asJSON(s.updateOffer))
	v1.GET("/offers/:id/payouts", asJSON(s.listPayouts))
	v1.PUT("/offers/:id/payouts/:aff_id", asJSON(s.setPayout))
	v1.POST("/offers/:id/events", asJSON(s.createEvent))
	v1.GET("/offers/:id/events", asJSON(s.listEvents))
	v1.GET("/offers/:id/tracking-code", asJSON(s.trackingCode))
	v1.GET("/clicks/:click_id", asJSON(s.getClick))
	v1.GET("/conversions", asJSON(s.listConversions))
	v1.GET("/conversions/:id", asJSON(s.getConversion))
	v1.POST("/conversions/:id/approve", asJSON(s.approveConversion))
	v1.POST("/conversions/:id/reject", asJSON(s.rejectConversion))
	v1.POST("/conversions/:id/reverse", asJSON(s.reverseConversion))
	v1.GET("/reports", asJSON(s.report))

	// The operator console: one handler, /console/{page}, documented once per method in
	// api/openapi.yaml with the page names as an enum (console.Pages), so the route test still
	// holds the console's pages to the document. It calls this router for everything it shows.
	con := console.New(console.Config{AdminToken: s.cfg.AdminToken, API: r, Store: s.store,
		TemporalUIURL: s.cfg.TemporalUIURL, Namespace: s.cfg.Namespace, Logger: s.log, HTTPS: s.https})
	serveConsole := func(c *gin.Context) { con.Serve(c.Writer, c.Request, c.Param("page")) }
	r.GET("/console/:page", bodyDeadline(to.Admin), serveConsole)
	r.POST("/console/:page", bodyDeadline(to.Admin), serveConsole)

	r.NoRoute(func(c *gin.Context) { c.JSON(http.StatusNotFound, gin.H{"error": "route: not found"}) })
	r.NoMethod(methodNotAllowed)
}

// methodNotAllowed answers a method a route does not take (405, with gin's Allow header) in the
// body type of the route's errors (API.md, "Errors"): a tracking endpoint's GIF or text with the
// message in X-Error, JSON elsewhere.
func methodNotAllowed(c *gin.Context) {
	const msg = "method: not allowed"
	switch c.Request.URL.Path {
	case "/impression", "/pixel":
		writeGIFError(c, http.StatusMethodNotAllowed, msg)
	case "/click", "/conversion":
		writeTextError(c, http.StatusMethodNotAllowed, msg)
	default:
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": msg})
	}
}

// clientIP is the TCP peer, or the left-most X-Forwarded-For entry when the peer is a trusted proxy.
func (s *server) clientIP(r *http.Request) string {
	p, ok := peer(r)
	if !ok {
		return r.RemoteAddr
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" && s.trusted(p) {
		first, _, _ := strings.Cut(xff, ",")
		if ip, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return ip.Unmap().WithZone("").String()
		}
	}
	return p.String()
}

// fromTrustedProxy reports whether the TCP peer of r is in TRUSTED_PROXIES: only then are its
// X-Forwarded-* headers believed.
func (s *server) fromTrustedProxy(r *http.Request) bool {
	p, ok := peer(r)
	return ok && s.trusted(p)
}

// https reports whether r reached the API over https: directly, or through a trusted proxy
// that says so in X-Forwarded-Proto.
func (s *server) https(r *http.Request) bool {
	return r.TLS != nil || s.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// peer is the TCP peer's address; ok is false when RemoteAddr is not an ip:port (net/http always
// sets one). An IPv6 zone (fe80::1%eth0, a link-local peer) is dropped: it names an interface of
// this host, not the client, PostgreSQL's inet refuses it (the click would be acknowledged, then
// never stored), and a prefix never contains a zoned address (allow-lists, TRUSTED_PROXIES).
func peer(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap().WithZone(""), true
}

func (s *server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// syncClicks is the middleware of the conversion routes: it waits (a few milliseconds at most, and
// only when clicks wait) until the clicks this process has redirected are in Postgres, so the
// conversion's workflow finds a click made a moment before. Past a second it lets the request go
// on: docs/API.md promises visibility within one second, and Postgres may be stalled (the
// workflow's attribution then waits for the click itself).
func (s *server) syncClicks(c *gin.Context) {
	if err := s.waitClicks(c.Request.Context()); err != nil {
		s.log.WarnContext(c.Request.Context(), "clicks not yet stored", "path", c.FullPath(), "error", err)
	}
}

// waitClicks waits, at most a second, until every click this process has redirected is stored.
func (s *server) waitClicks(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.clicks.Sync(ctx)
}

// storedClick reads the click id names. A click not found whose ID is authentic may be one this
// process redirected a moment ago: the writer is waited for (waitClicks) and the click read again.
// If the writer is still behind after that wait (Postgres is back from an outage and the writer is
// catching up), the answer is Unavailable (503 with Retry-After), not NotFound: the click may yet
// be stored, and a caller told "not found" would not try again. A forged or pre-format ID costs one
// lookup and no wait.
func (s *server) storedClick(ctx context.Context, id string) (*store.Click, error) {
	click, err := s.store.Click(ctx, id)
	if domain.ErrorKind(err) != domain.NotFound {
		return click, err
	}
	if _, authentic := domain.VerifyClickID(s.cfg.ClickIDKey, id); !authentic {
		return nil, err
	}
	serr := s.waitClicks(ctx)
	click, err = s.store.Click(ctx, id)
	if domain.ErrorKind(err) == domain.NotFound && serr != nil {
		return nil, domain.Errorf(domain.Unavailable, "click_id: click not stored yet, try again")
	}
	return click, err
}

// requestID names every request: a valid incoming X-Request-Id (a proxy's) is kept, else one is
// made. It is answered in X-Request-Id and carried in the request's context, so every line logged
// while serving the request names it (logging.New's handler adds it).
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID(id) {
		id = domain.NewID()
	}
	c.Header("X-Request-Id", id)
	c.Request = c.Request.WithContext(logging.WithRequestID(c.Request.Context(), id))
}

// validRequestID accepts 1 to 128 characters of letters, digits and -_.: — what request-ID
// generators send, and nothing a log line could be forged with.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}
