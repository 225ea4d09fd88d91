package e2e

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/schema"
	"github.com/trackflow/trackflow/workflows"
)

// TestMigrateThenStartWithoutMigrating is a release as the runbook does it: the api refuses to
// start with MIGRATE=false on an unmigrated database; `trackflow migrate` applies the migrations
// and registers the search attributes on a namespace that has none, twice without harm; then a
// worker with MIGRATE=false starts, and `trackflow healthcheck` probes it.
func TestMigrateThenStartWithoutMigrating(t *testing.T) {
	t.Parallel()
	bin := testenv.BuildBinary(t)
	db, dbURL := testenv.NewEmptyDBURL(t)
	temporalAddr := testenv.TemporalAddress(t)
	ns, err := testenv.RegisterNamespace(temporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"DATABASE_URL=" + dbURL, "DB_MAX_CONNS=4", "TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_NAMESPACE=" + ns, "DEMO=false"}
	runBin := func(env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(append(os.Environ(), base...), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := runBin([]string{"ROLE=api", "MIGRATE=false", "HTTP_ADDR=" + testenv.FreeAddr(t)})
	if err == nil || !strings.Contains(out, "trackflow migrate") || !strings.Contains(out, schema.Latest()) {
		t.Fatalf("api on an unmigrated database with MIGRATE=false: err %v, output:\n%s", err, out)
	}
	for i := range 2 {
		if out, err := runBin(nil, "migrate"); err != nil || !strings.Contains(out, "migrated") {
			t.Fatalf("trackflow migrate (run %d): %v\n%s", i+1, err, out)
		}
	}
	if err := schema.Check(context.Background(), db); err != nil {
		t.Fatalf("after trackflow migrate: %v", err)
	}
	c, err := testenv.Dial(temporalAddr, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sas, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames {
		if typ := sas.GetCustomAttributes()[name]; typ != enums.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("search attribute %s after migrate: %v, want Keyword", name, typ)
		}
	}

	addr := testenv.FreeAddr(t)
	testenv.StartProcess(t, bin, "worker started", append(base, "ROLE=worker", "MIGRATE=false", "HTTP_ADDR="+addr)...)
	if out, err := runBin([]string{"HTTP_ADDR=" + addr}, "healthcheck"); err != nil {
		t.Fatalf("healthcheck of a running worker: %v\n%s", err, out)
	}
	if out, err := runBin([]string{"HTTP_ADDR=" + addr}, "healthcheck", "/no-such-path"); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("healthcheck of a missing path: err %v, output:\n%s", err, out)
	}
}
