// Package schema holds the SQL migrations, embedded, and applies them in order.
package schema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

//go:embed *.sql
var migrations embed.FS

// lockKey serialises concurrent Migrate calls (several processes starting at once).
const lockKey = 7_210_415_001

// Migrate applies every migration not yet recorded in schema_migrations, each in its own
// transaction, in file-name order. It is safe to call on every start and from several processes.
func Migrate(ctx context.Context, db *sqlx.DB) error {
	conn, err := db.Connx(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		return fmt.Errorf("migrate lock: %w", err)
	}
	defer conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey) //nolint:errcheck

	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, name := range names() {
		if err := apply(ctx, conn, name); err != nil {
			return err
		}
	}
	return nil
}

func apply(ctx context.Context, conn *sqlx.Conn, name string) error {
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck
	var done bool
	if err := tx.GetContext(ctx, &done, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if done {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	return tx.Commit()
}

// names are the embedded migrations in the order they apply.
func names() []string {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		panic(err) // only a malformed pattern fails, and "*.sql" is not one
	}
	sort.Strings(names)
	return names
}

// Latest is the name of the newest migration this binary carries, e.g. "003_commission_width.sql":
// the schema version it needs.
func Latest() string {
	n := names()
	return n[len(n)-1]
}

// Check reports an error unless every migration this binary carries is recorded as applied, so a
// process started with MIGRATE=false refuses to run on an older schema instead of failing on its
// first query. A newer schema (a later release migrated first) is fine: migrations only add.
func Check(ctx context.Context, db *sqlx.DB) error {
	var applied []string
	err := db.SelectContext(ctx, &applied, `SELECT name FROM schema_migrations`)
	if err != nil && !isUndefinedTable(err) {
		return fmt.Errorf("schema check: %w", err)
	}
	done := make(map[string]bool, len(applied))
	for _, n := range applied {
		done[n] = true
	}
	var missing []string
	for _, n := range names() {
		if !done[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("schema: the database lacks migrations %s (this binary needs %s): run `trackflow migrate` first, or start with MIGRATE=true",
			strings.Join(missing, ", "), Latest())
	}
	return nil
}

// isUndefinedTable is Postgres's 42P01: schema_migrations does not exist, nothing was migrated.
func isUndefinedTable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "42P01"
}
