// Package metrics holds trackflow's Prometheus counters. They are registered on a registry the
// caller passes in (no globals), and one Metrics is shared by the API and the worker of a process,
// so GET /metrics shows both halves.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Layers of invoice de-duplication, the label of the duplicates counter.
const (
	// LayerTemporal is a duplicate Temporal rejected at start (the workflow ID was taken).
	LayerTemporal = "temporal"
	// LayerDatabase is a duplicate only the unique index saw (Temporal had forgotten the first).
	LayerDatabase = "database"
)

// Outcomes of a cookie click lookup, the label of the cookie_click_lookups counter.
const (
	CookieClickFound          = "found"
	CookieClickFoundAfterWait = "found_after_wait"
	CookieClickUnknown        = "unknown"
	CookieClickLost           = "lost"
)

// Realms of authentication, the label of the auth_rate_limited counter.
const (
	RealmAdmin    = "admin"
	RealmPostback = "postback"
)

// Metrics are trackflow's counters. A nil *Metrics counts nothing, so code paths that do not care
// (unit tests) need not build one.
type Metrics struct {
	gatherer           prometheus.Gatherer
	clicks             prometheus.Counter
	impressions        prometheus.Counter
	conversionsStarted *prometheus.CounterVec
	conversions        *prometheus.CounterVec
	duplicates         *prometheus.CounterVec
	fallbackClicks     *prometheus.CounterVec
	cookieClicks       *prometheus.CounterVec
	authRefused        *prometheus.CounterVec
}

// New registers trackflow's counters, and the Go runtime and process collectors, on reg.
func New(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		gatherer: reg,
		clicks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "clicks_total",
			Help: "Clicks stored (GET /click answered 302).",
		}),
		impressions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "impressions_total",
			Help: "Impressions stored (GET /impression answered 200).",
		}),
		conversionsStarted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "conversions_started_total",
			Help: "Conversion workflows started, by source: page (pixel or form), click_id or afid.",
		}, []string{"source"}),
		conversions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "conversions_total",
			Help: "Conversions stored by the worker, by status at the time they were stored.",
		}, []string{"status"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "duplicates_total",
			Help: "Duplicate conversion requests (an (offer_id, id) already used), by the layer that caught them: temporal at start, or database in the workflow.",
		}, []string{"layer"}),
		fallbackClicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "fallback_clicks_total",
			Help: "Clicks sent to an offer's fallback_url (no click stored), by reason: paused or cap.",
		}, []string{"reason"}),
		cookieClicks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "cookie_click_lookups_total",
			Help: "Lookups of a tf_ cookie's click by the worker, by outcome: found, found_after_wait, unknown (not stored and not waited for: forged, old or pre-format ID), lost (waited for, never stored).",
		}, []string{"outcome"}),
		authRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "trackflow", Name: "auth_rate_limited_total",
			Help: "Requests refused 429 because their client failed authentication too often, by realm: admin or postback.",
		}, []string{"realm"}),
	}
	// Both layers appear from the start, at 0, so a dashboard's rate() has a series to work on.
	m.duplicates.WithLabelValues(LayerTemporal)
	m.duplicates.WithLabelValues(LayerDatabase)
	for _, o := range []string{CookieClickFound, CookieClickFoundAfterWait, CookieClickUnknown, CookieClickLost} {
		m.cookieClicks.WithLabelValues(o)
	}
	for _, r := range []string{RealmAdmin, RealmPostback} {
		m.authRefused.WithLabelValues(r)
	}
	reg.MustRegister(m.clicks, m.impressions, m.conversionsStarted, m.conversions, m.duplicates, m.cookieClicks, m.authRefused,
		m.fallbackClicks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format (GET /metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Click counts a stored click.
func (m *Metrics) Click() {
	if m != nil {
		m.clicks.Inc()
	}
}

// Impression counts a stored impression.
func (m *Metrics) Impression() {
	if m != nil {
		m.impressions.Inc()
	}
}

// ConversionStarted counts a conversion workflow started from a source.
func (m *Metrics) ConversionStarted(source string) {
	if m != nil {
		m.conversionsStarted.WithLabelValues(source).Inc()
	}
}

// Conversion counts a conversion stored with a status.
func (m *Metrics) Conversion(status string) {
	if m != nil {
		m.conversions.WithLabelValues(status).Inc()
	}
}

// Duplicate counts a duplicate request caught by a layer.
func (m *Metrics) Duplicate(layer string) {
	if m != nil {
		m.duplicates.WithLabelValues(layer).Inc()
	}
}

// FallbackClick counts a click sent to an offer's fallback_url, for a reason (paused or cap).
func (m *Metrics) FallbackClick(reason string) {
	if m != nil {
		m.fallbackClicks.WithLabelValues(reason).Inc()
	}
}

// CookieClick counts a lookup of a cookie's click by its outcome.
func (m *Metrics) CookieClick(outcome string) {
	if m != nil {
		m.cookieClicks.WithLabelValues(outcome).Inc()
	}
}

// AuthRateLimited counts a request refused for too many failed authentications in a realm.
func (m *Metrics) AuthRateLimited(realm string) {
	if m != nil {
		m.authRefused.WithLabelValues(realm).Inc()
	}
}
