// Package app builds a trackflow process from its parts: the click and impression writers, the
// activities and the worker that runs them, and the API handler. cmd/trackflow and
// internal/testenv both build theirs here, so a dependency added to one reaches the other.
package app

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/worker"
)

// Config chooses what a process runs and how.
type Config struct {
	// RunAPI and RunWorker are the roles of the process (ROLE=all runs both).
	RunAPI, RunWorker bool
	// API configures the API handler. New sets its Clicks, Impressions and Metrics; its
	// ClickIDKey is the activities' too, and its Metrics (nil: a registry of the process's own)
	// are shared by the API and the worker, so GET /metrics shows both.
	API api.Config
	// PostbackAllowPrivate lets affiliate pixels point at private addresses (POSTBACK_ALLOW_PRIVATE).
	PostbackAllowPrivate bool
	// Worker tunes the worker; zero: worker's defaults.
	Worker worker.Options
}

// Process is a trackflow process built and not yet started. The caller starts and stops Worker,
// serves Handler, and closes Clicks and Impressions after the HTTP server has stopped.
type Process struct {
	Store *store.Store
	// Clicks and Impressions are the API's batch writers; nil without the API.
	Clicks      *store.ClickWriter
	Impressions *store.ImpressionWriter
	// Worker runs the conversion workflows and their activities; nil without the worker.
	Worker sdkworker.Worker
	// Handler is the API's router; nil without the API.
	Handler http.Handler
	// Metrics are the process's counters.
	Metrics *metrics.Metrics
}

// New builds the process's parts on st and tc as cfg says.
func New(st *store.Store, tc client.Client, cfg Config) *Process {
	p := &Process{Store: st, Metrics: cfg.API.Metrics}
	if p.Metrics == nil {
		p.Metrics = metrics.New(prometheus.NewRegistry())
	}
	// Clicks and impressions are stored in batches off the request path; the writers outlive the
	// HTTP server so that every click answered with a redirect is stored before the process exits.
	if cfg.RunAPI {
		p.Clicks = store.NewClickWriter(st.DB, store.BatchOptions{})
		p.Impressions = store.NewImpressionWriter(st.DB, store.BatchOptions{})
	}
	if cfg.RunWorker {
		acts := &activities.Activities{Store: st, HTTP: activities.NewPixelClient(cfg.PostbackAllowPrivate),
			Temporal: tc, Metrics: p.Metrics, ClickIDKey: cfg.API.ClickIDKey, Clicks: p.Clicks}
		p.Worker = worker.New(tc, acts, cfg.Worker)
	}
	if cfg.RunAPI {
		a := cfg.API
		a.Metrics, a.Clicks, a.Impressions = p.Metrics, p.Clicks, p.Impressions
		p.Handler = api.New(a, st, tc)
	}
	return p
}
