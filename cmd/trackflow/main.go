// Command trackflow runs the API and the Temporal worker (ROLE=all, api or worker).
//
//	trackflow                     serve, as ROLE says
//	trackflow migrate             apply the migrations, register the search attributes, exit (ROLE=migrate)
//	trackflow healthcheck [path]  GET path (default /healthz) on HTTP_ADDR; exit 0 on a 2xx, for
//	                              container healthchecks in an image that has no curl
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/app"
	"github.com/trackflow/trackflow/internal/logging"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/schema"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "trackflow:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	command := ""
	if len(args) > 0 {
		command = args[0]
	}
	switch command {
	case "", "migrate":
	case "healthcheck":
		return healthcheck(ctx, args[1:])
	default:
		return fmt.Errorf("unknown command %q: usage: trackflow [migrate | healthcheck [path]]", command)
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	// One logger for the process, passed down; it is also slog's default, for the few package
	// functions that log without a dependency struct.
	logger, err := logging.New(os.Stderr, cfg.LogFormat, slog.LevelInfo)
	if err != nil {
		return fmt.Errorf("LOG_FORMAT: %w", err)
	}
	slog.SetDefault(logger)
	if command == "migrate" {
		cfg.Role = "migrate"
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer db.Close()
	// With MIGRATE=false a release migrates once (`trackflow migrate`) before its pods roll, so
	// several replicas never race to migrate; each only checks that the schema is not older than it needs.
	if cfg.Role == "migrate" || cfg.Migrate {
		if err := schema.Migrate(ctx, db); err != nil {
			return err
		}
	} else if err := schema.Check(ctx, db); err != nil {
		return err
	}
	st := &store.Store{DB: db}
	// Today's and the coming days' partitions exist before anything is served; then every hour
	// (any number of processes may do it: it is idempotent and serialised in Postgres).
	if err := st.MaintainPartitions(ctx, time.Now(), cfg.ClickRetentionDays); err != nil {
		return err
	}
	go st.RunPartitionUpkeep(ctx, time.Hour, cfg.ClickRetentionDays)
	if cfg.PprofAddr != "" {
		go servePprof(cfg.PprofAddr, logger)
	}

	// One registry for the process: with ROLE=all, GET /metrics shows the API's and the worker's
	// counters together, and the Temporal SDK's client and worker metrics beside them.
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	sdkMetrics, closeSDKMetrics := metrics.NewSDKHandler(reg)
	defer closeSDKMetrics.Close()

	tc, err := client.DialContext(ctx, temporalOptions(cfg, logger, sdkMetrics))
	if err != nil {
		return fmt.Errorf("dial temporal %s: %w", cfg.Temporal.HostPort, err)
	}
	defer tc.Close()
	if cfg.Role == "migrate" {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := workflows.RegisterSearchAttributes(rctx, tc, cfg.Temporal.Namespace); err != nil {
			return err
		}
		logger.Info("migrated", "schema", schema.Latest(), "namespace", cfg.Temporal.Namespace,
			"search_attributes", workflows.SearchAttributeNames)
		return nil
	}

	if cfg.ClickIDKeyGenerated {
		logger.Warn("CLICK_ID_KEY is not set: using a random key for this process; a deployment of several API or worker processes must give them all the same CLICK_ID_KEY")
	}
	proc := app.New(st, tc, app.Config{
		RunAPI: cfg.Role != "worker", RunWorker: cfg.Role != "api", PostbackAllowPrivate: cfg.PostbackAllowPrivate,
		API: api.Config{
			AdminToken: cfg.AdminToken, TrustedProxies: cfg.TrustedProxies, Retry: cfg.Retry, Metrics: m,
			PublicURL: cfg.PublicURL, ReviewWait: cfg.ReviewWait, Logger: logger,
			PixelClient: activities.NewPixelClient(cfg.PostbackAllowPrivate),
			ClickIDKey:  cfg.ClickIDKey, Timeouts: cfg.HTTP,
			Codec: cfg.Codec, UIOrigins: cfg.UIOrigins, CodecLoopbackNoAuth: cfg.CodecLoopbackNoAuth,
			TemporalUIURL: cfg.TemporalUIURL, Namespace: cfg.Temporal.Namespace,
		},
	})
	clicks, impressions := proc.Clicks, proc.Impressions
	if w := proc.Worker; w != nil {
		if err := w.Start(); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		defer w.Stop()
		logger.Info("worker started", "task_queue", "conversions", "temporal", cfg.Temporal.HostPort,
			"namespace", cfg.Temporal.Namespace, "payload_codec", cfg.Codec != nil)
	}
	handler := proc.Handler
	if cfg.Role == "worker" {
		// A worker alone serves only what ops scrape and probe: its metrics and liveness.
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		})
		handler = mux
	}
	if cfg.Demo && cfg.Role != "worker" {
		if handler, err = demo(ctx, cfg, st, handler); err != nil {
			return err
		}
	}
	srv := api.NewHTTPServer(handler, cfg.HTTP)
	// Listen before saying so: "http listening" means connections are accepted, and a taken port
	// fails the start instead of a background goroutine.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTPAddr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("http listening", "addr", ln.Addr().String(), "role", cfg.Role)

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	// First the HTTP server stops accepting and finishes the requests in flight; then the click
	// and impression writers store every row they acknowledged. A click that arrives after the writer closed
	// is answered 503, never 302, so none is acknowledged and lost.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	httpErr := srv.Shutdown(shutdownCtx)
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelDrain()
	if clicks != nil {
		if err := clicks.Close(drainCtx); err != nil {
			return err
		}
		s := clicks.Stats()
		logger.Info("clicks stored", "clicks", s.Stored, "batches", s.Batches, "refused", s.Refused, "dropped", s.Dropped)
	}
	if impressions != nil {
		if err := impressions.Close(drainCtx); err != nil {
			return err
		}
	}
	if httpErr != nil && !errors.Is(httpErr, http.ErrServerClosed) {
		return fmt.Errorf("http shutdown: %w", httpErr)
	}
	return nil
}

// temporalOptions is the process's one Temporal client (the worker is made from it): the
// connection from envconfig, the payload codec when TEMPORAL_CODEC_KEYS is set, the SDK's metrics
// on the process's registry, and a logger that only speaks of warnings.
func temporalOptions(cfg Config, logger *slog.Logger, sdkMetrics client.MetricsHandler) client.Options {
	o := cfg.Temporal
	cfg.Codec.Apply(&o)
	o.MetricsHandler = sdkMetrics
	o.Logger = tlog.NewStructuredLogger(temporalLogger(logger, cfg.LogFormat))
	return o
}

// servePprof serves the runtime profiles on their own address (PPROF_ADDR), for `make bench`.
func servePprof(addr string, logger *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	logger.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil {
		logger.Error("pprof", "error", err)
	}
}

// temporalLogger is the process's logger for the Temporal SDK, at warnings and above: its info
// lines (every worker poll, start and stop) would drown the service's own.
func temporalLogger(logger *slog.Logger, format string) *slog.Logger {
	l, err := logging.New(os.Stderr, format, slog.LevelWarn)
	if err != nil {
		return logger
	}
	return l
}

// healthcheck is `trackflow healthcheck [path]`: it GETs path (default /healthz) from this
// container's own listener (HTTP_ADDR) and fails unless the answer is a 2xx. The image is
// distroless, so compose healthchecks run the binary itself instead of curl.
func healthcheck(ctx context.Context, args []string) error {
	path := "/healthz"
	if len(args) > 0 {
		path = args[0]
	}
	host, port, err := net.SplitHostPort(env("HTTP_ADDR", ":8080"))
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
