package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/schema"
	"github.com/trackflow/trackflow/store"
)

// PrivatePostgres is a PostgreSQL cluster of one test's own, run by the project's
// deployments/local/postgres.sh, for a test that stops and starts the database under a running
// trackflow. The shared test cluster must never be restarted: other tests use it.
type PrivatePostgres struct {
	t    testing.TB
	dir  string
	port string
	// URL is the migrated trackflow database of the cluster.
	URL string
}

// StartPrivatePostgres creates, starts and migrates a cluster on a free port; it is stopped and
// removed when t ends.
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	dir, err := os.MkdirTemp("", "trackflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	// The cluster runs as the postgres user when the tests run as root: it must reach the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(FreeAddr(t), ":")
	p := &PrivatePostgres{t: t, dir: filepath.Join(dir, "data"), port: port}
	t.Cleanup(func() {
		p.script("stop", p.dir, p.port)
		os.RemoveAll(dir)
	})
	p.URL = strings.TrimSpace(p.script("start", p.dir, p.port, "--fast"))
	db, err := store.Open(context.Background(), p.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := schema.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return p
}

// Stop shuts the cluster down (as a restart or an outage would).
func (p *PrivatePostgres) Stop() { p.t.Helper(); p.script("stop", p.dir, p.port) }

// Start starts the stopped cluster again on the same port.
func (p *PrivatePostgres) Start() { p.t.Helper(); p.script("start", p.dir, p.port, "--fast") }

func (p *PrivatePostgres) script(args ...string) string {
	p.t.Helper()
	return localScript(p.t, "postgres.sh", args...)
}

// PrivateTemporal is a Temporal dev server of one test's own, run by the project's
// deployments/local/temporal.sh with its state in a file, so that it can be stopped and started
// again with its workflows, as a Temporal restart would. The shared test server is never restarted.
type PrivateTemporal struct {
	t        testing.TB
	dir      string
	grpc, ui string
	// Address is the server's host:port; its default namespace has trackflow's search attributes.
	Address string
}

// StartPrivateTemporal starts a dev server on free ports; it is stopped and removed when t ends.
func StartPrivateTemporal(t testing.TB) *PrivateTemporal {
	t.Helper()
	dir, err := os.MkdirTemp("", "trackflow-temporal-")
	if err != nil {
		t.Fatal(err)
	}
	_, grpc, _ := strings.Cut(FreeAddr(t), ":")
	_, ui, _ := strings.Cut(FreeAddr(t), ":")
	p := &PrivateTemporal{t: t, dir: dir, grpc: grpc, ui: ui}
	t.Cleanup(func() {
		localScript(t, "temporal.sh", "stop", p.dir)
		os.RemoveAll(dir)
	})
	p.Start()
	return p
}

// Stop shuts the server down.
func (p *PrivateTemporal) Stop() { p.t.Helper(); localScript(p.t, "temporal.sh", "stop", p.dir) }

// Start starts the server again on the same ports and state, and waits until it serves.
func (p *PrivateTemporal) Start() {
	p.t.Helper()
	p.Address = strings.TrimSpace(localScript(p.t, "temporal.sh", "start", p.dir, p.grpc, p.ui))
}

// localScript runs one of deployments/local's scripts and returns its standard output.
func localScript(t testing.TB, name string, args ...string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	sh := filepath.Join(filepath.Dir(here), "..", "..", "deployments", "local", name)
	out, err := exec.Command(sh, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
