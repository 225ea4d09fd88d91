package metrics

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// sdkSanitize is the SDK's Prometheus sanitizing, except that label values keep '-', '.', ':' and
// '/': Prometheus allows any text there, and a namespace such as trackflow.a1b2c or test-3f2a must
// read as itself in a query.
var sdkSanitize = tally.SanitizeOptions{
	NameCharacters:       sdktally.PrometheusSanitizeOptions.NameCharacters,
	KeyCharacters:        sdktally.PrometheusSanitizeOptions.KeyCharacters,
	ValueCharacters:      tally.ValidCharacters{Ranges: tally.AlphanumericRange, Characters: []rune{'_', '-', '.', ':', '/'}},
	ReplacementCharacter: tally.DefaultReplacementCharacter,
}

// NewSDKHandler returns the Temporal SDK's metrics handler, reporting on reg beside trackflow's
// counters: the client's requests (temporal_request_total, temporal_request_latency_seconds), and
// the worker's task schedule-to-start latencies, task failures, activity errors and sticky cache
// (temporal_workflow_task_schedule_to_start_latency_seconds, temporal_activity_execution_failed_total,
// temporal_sticky_cache_size, …). Names follow the SDK's Prometheus convention (counters end in
// _total, timers are histograms in seconds), as in Temporal's dashboards. Close stops the
// reporting loop. Tally rather than OpenTelemetry: the SDK's own Prometheus path, and two small
// modules instead of the OTel SDK and exporter.
func NewSDKHandler(reg *prometheus.Registry) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		Gatherer:         reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError: func(err error) {
			slog.Warn("temporal sdk metric not registered", "error", err)
		},
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdkSanitize,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}
