// Package store is trackflow's PostgreSQL code: every SQL query, the click batch writer and the
// mapping of driver errors to domain errors. Queries are consts next to the method that runs
// them; the types they read and write come from domain.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackflow/trackflow/domain"
)

// Store runs trackflow's queries on one connection pool.
type Store struct {
	DB *sqlx.DB
}

// Open connects to PostgreSQL with a pool sized for the API and worker of one process.
func Open(ctx context.Context, url string, maxConns int) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("ping postgres: %w", err)
	}
	return db, nil
}

// isUniqueViolation reports a unique-index conflict, optionally on one named constraint.
func isUniqueViolation(err error, constraint string) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
		return false
	}
	return constraint == "" || pqErr.Constraint == constraint
}

// isForeignKeyViolation reports a reference to a row that does not exist.
func isForeignKeyViolation(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "23503"
}

// notFound maps sql.ErrNoRows to a NotFound domain error naming what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.NotFound, "%s not found", what)
	}
	return err
}
