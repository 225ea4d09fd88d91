// Package api is trackflow's HTTP server: tracking endpoints (clicks, impressions, conversions,
// postbacks), the admin API and the ops endpoints of API.md, on one Gin router.
package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
)

// Config is what the API needs from the environment.
type Config struct {
	AdminToken     string
	TrustedProxies []netip.Prefix
	// Retry is the affiliate-pixel retry schedule given to every conversion workflow.
	Retry activities.RetrySchedule
	// PublicURL is the base URL of tracking-code snippets (PUBLIC_URL); empty: the request's own.
	PublicURL string
	// Metrics are the process's counters, served on GET /metrics; New makes its own when nil.
	Metrics *metrics.Metrics
}

// server holds the handlers' dependencies.
type server struct {
	cfg      Config
	store    *store.Store
	temporal client.Client
}

// New builds the router with its dependencies.
func New(cfg Config, st *store.Store, tc client.Client) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	r.HandleMethodNotAllowed = true
	_ = r.SetTrustedProxies(nil) // client IPs come from clientIP, which honours TRUSTED_PROXIES
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(prometheus.NewRegistry())
	}
	s := &server{cfg: cfg, store: st, temporal: tc}

	r.GET("/click", s.click)
	r.GET("/impression", s.impression)
	r.GET("/pixel", s.pixel)
	r.POST("/conversion", s.conversion)
	r.GET("/postback", s.postback)
	r.POST("/postback", s.postback)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(cfg.Metrics.Handler()))

	v1 := r.Group("/api/v1", s.requireAdmin)
	v1.POST("/advertisers", s.createAdvertiser)
	v1.POST("/affiliates", s.createAffiliate)
	v1.PATCH("/affiliates/:id", s.updateAffiliate)
	v1.POST("/affiliates/:id/pixels", s.createPixel)
	v1.POST("/offers", s.createOffer)
	v1.GET("/offers/:id", s.getOffer)
	v1.PATCH("/offers/:id", s.updateOffer)
	v1.PUT("/offers/:id/payouts/:aff_id", s.setPayout)
	v1.GET("/offers/:id/tracking-code", s.trackingCode)
	v1.GET("/clicks/:click_id", s.getClick)
	v1.GET("/conversions", s.listConversions)
	v1.GET("/conversions/:id", s.getConversion)
	v1.POST("/conversions/:id/approve", s.approveConversion)
	v1.POST("/conversions/:id/reject", s.rejectConversion)
	v1.POST("/conversions/:id/reverse", s.reverseConversion)
	v1.GET("/reports", s.report)

	r.NoRoute(func(c *gin.Context) { c.JSON(http.StatusNotFound, gin.H{"error": "route: not found"}) })
	r.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, gin.H{"error": "method: not allowed"})
	})
	return r
}

// clientIP is the TCP peer, or the left-most X-Forwarded-For entry when the peer is a trusted proxy.
func (s *server) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" && s.trusted(peer) {
		first, _, _ := strings.Cut(xff, ",")
		if ip, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			return ip.Unmap().String()
		}
	}
	return peer.String()
}

func (s *server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
