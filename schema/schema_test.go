package schema_test

import (
	"context"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/schema"
)

// TestCheck: a process started with MIGRATE=false accepts a fully migrated database and refuses
// one that lacks the newest migration, or was never migrated, naming what is missing.
func TestCheck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.NewDB(t)
	if err := schema.Check(ctx, db); err != nil {
		t.Fatalf("migrated database: %v", err)
	}
	if _, err := db.Exec(`DELETE FROM schema_migrations WHERE name = $1`, schema.Latest()); err != nil {
		t.Fatal(err)
	}
	err := schema.Check(ctx, db)
	if err == nil || !strings.Contains(err.Error(), schema.Latest()) || !strings.Contains(err.Error(), "trackflow migrate") {
		t.Fatalf("database without %s: %v", schema.Latest(), err)
	}

	empty, _ := testenv.NewEmptyDBURL(t)
	if err := schema.Check(ctx, empty); err == nil || !strings.Contains(err.Error(), "001_") {
		t.Fatalf("never migrated database: %v", err)
	}
	if err := schema.Migrate(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if err := schema.Check(ctx, empty); err != nil {
		t.Fatalf("after Migrate: %v", err)
	}
}

// TestLatest names the newest embedded migration.
func TestLatest(t *testing.T) {
	t.Parallel()
	if l := schema.Latest(); !strings.HasSuffix(l, ".sql") || l < "003" {
		t.Fatalf("Latest() = %q", l)
	}
}
