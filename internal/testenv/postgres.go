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
	_, here, _, _ := runtime.Caller(0)
	sh := filepath.Join(filepath.Dir(here), "..", "..", "deployments", "local", "postgres.sh")
	out, err := exec.Command(sh, args...).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		p.t.Fatalf("postgres.sh %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
