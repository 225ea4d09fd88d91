package testenv

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// StartTemporalWithUI starts a Temporal dev server of the test's own, in memory, with its Web UI,
// from the pinned CLI (TRACKFLOW_TEMPORAL_CLI, which `make test` exports), and returns its
// frontend address and the UI's base URL once both answer. The shared test server's UI port is
// not known to the tests, hence a server of its own for a test that drives the UI. It stops when
// t ends.
func StartTemporalWithUI(t testing.TB) (address, uiURL string) {
	t.Helper()
	cli := env(t, "TRACKFLOW_TEMPORAL_CLI")
	address, ui := FreeAddr(t), FreeAddr(t)
	_, uiPort, err := net.SplitHostPort(ui)
	if err != nil {
		t.Fatal(err)
	}
	out := &LockedBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{HostPort: address, Namespace: "default",
			Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))},
		EnableUI: true, UIPort: uiPort, LogLevel: "warn", Stdout: out, Stderr: out,
		// As the shared test servers: one task-queue partition, so a task is matched at once.
		ExtraArgs: []string{"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
			"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"},
	})
	if err != nil {
		t.Fatalf("start a Temporal dev server with its UI: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Logf("stop the Temporal dev server: %v", err)
		}
		if t.Failed() {
			t.Logf("Temporal dev server output:\n%s", out)
		}
	})
	uiURL = "http://" + ui
	for {
		resp, err := http.Get(uiURL + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return srv.FrontendHostPort(), uiURL
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the Temporal UI never answered on %s: %v", uiURL, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
