package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/trackflow/trackflow/domain"
)

// Partition upkeep (schema/005): clicks and impressions live in one partition per UTC day. The
// process itself keeps them: partitions for the days around today exist before it serves, and
// every hour it creates the coming days' and drops the expired ones. Several processes may do so
// at once; the SQL functions serialise on an advisory lock and create only what is missing.
const (
	// PartitionsBehind and PartitionsAhead are the days before and after today kept created.
	PartitionsBehind = 7
	PartitionsAhead  = 7
	// MinRetentionDays is the shortest CLICK_RETENTION_DAYS: no cookie window (at most 365 days)
	// outlives its click.
	MinRetentionDays = 366
	// DefaultRetentionDays is CLICK_RETENTION_DAYS when unset (API.md, "Data retention").
	DefaultRetentionDays = 400
)

// EnsurePartitions creates the daily partitions of clicks and impressions for the UTC days from
// first to last, inclusive, that do not exist yet, and returns how many tables it created.
func (s *Store) EnsurePartitions(ctx context.Context, first, last time.Time) (int, error) {
	var n int
	err := s.DB.GetContext(ctx, &n, `SELECT trackflow_ensure_partitions($1::date, $2::date)`,
		first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly))
	if err != nil {
		return 0, fmt.Errorf("ensure partitions: %w", err)
	}
	return n, nil
}

// DropPartitionsBefore drops the partitions of the UTC days before firstKept (and deletes older
// rows that landed in the default partitions). Reports still count them: rollups are not touched.
func (s *Store) DropPartitionsBefore(ctx context.Context, firstKept time.Time) (int, error) {
	var n int
	if err := s.DB.GetContext(ctx, &n, `SELECT trackflow_drop_partitions($1::date)`, firstKept.UTC().Format(time.DateOnly)); err != nil {
		return 0, fmt.Errorf("drop partitions: %w", err)
	}
	return n, nil
}

// MaintainPartitions runs one round of partition upkeep (create ahead, drop what is older than
// retentionDays) and returns its error, so a process can refuse to start without its partitions.
func (s *Store) MaintainPartitions(ctx context.Context, now time.Time, retentionDays int) error {
	today := now.UTC().Truncate(24 * time.Hour)
	made, err := s.EnsurePartitions(ctx, today.AddDate(0, 0, -PartitionsBehind), today.AddDate(0, 0, PartitionsAhead))
	if err != nil {
		return err
	}
	dropped, err := s.DropPartitionsBefore(ctx, today.AddDate(0, 0, -retentionDays))
	if err != nil {
		return err
	}
	if made > 0 || dropped > 0 {
		slog.Info("partitions", "created", made, "dropped", dropped, "retention_days", retentionDays)
	}
	return nil
}

// RunPartitionUpkeep repeats MaintainPartitions every interval until ctx ends, logging failures
// (the next round retries; the days ahead leave a week to fix what fails).
func (s *Store) RunPartitionUpkeep(ctx context.Context, interval time.Duration, retentionDays int) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.MaintainPartitions(ctx, time.Now(), retentionDays); err != nil && ctx.Err() == nil {
			slog.Error("partition upkeep", "error", err)
		}
	}
}

// clickIDTime is the creation time a click ID carries (domain.ClickIDTime) when it is plausible
// for a stored click; ok is false otherwise (an older, fully random ID), and the lookup then
// searches every partition.
func clickIDTime(id string, now time.Time) (t time.Time, ok bool) {
	t, ok = domain.ClickIDTime(id)
	// A stored click is at most the longest retention old, and not from the future (an hour of
	// clock skew between processes allowed).
	if !ok || t.Before(now.AddDate(0, 0, -MaxRetentionDays)) || t.After(now.Add(time.Hour)) {
		return time.Time{}, false
	}
	return t, true
}

// MaxRetentionDays bounds CLICK_RETENTION_DAYS (ten years), so a click ID's time can be judged
// plausible without knowing the setting.
const MaxRetentionDays = 3660

// clickTimeRange is the created_at range a lookup of a click by ID scans: an hour either side of
// the time in its ID (one partition, two near midnight; the ID and created_at are taken at the
// same redirect), or everything.
func clickTimeRange(id string, now time.Time) (from, to time.Time, narrowed bool) {
	t, ok := clickIDTime(id, now)
	if !ok {
		return time.Unix(0, 0).UTC().AddDate(-100, 0, 0), now.AddDate(100, 0, 0), false
	}
	return t.Add(-time.Hour), t.Add(time.Hour), true
}

// lockClickTx locks a click's row in the conversion's transaction and reports when it was made
// and whether a conversion already used it (a click not found is neither). Like Click, it looks in
// the partitions the ID's time names, then everywhere.
func lockClickTx(ctx context.Context, tx *sqlx.Tx, clickID string) (createdAt time.Time, used bool, err error) {
	if !domain.IsID(clickID) {
		return time.Time{}, false, nil
	}
	const lock = `SELECT created_at, converted_by IS NOT NULL AS used FROM clicks
		WHERE click_id = $1 AND created_at >= $2 AND created_at < $3 FOR UPDATE`
	from, to, narrowed := clickTimeRange(clickID, time.Now())
	for {
		var row struct {
			CreatedAt time.Time `db:"created_at"`
			Used      bool      `db:"used"`
		}
		err := tx.GetContext(ctx, &row, lock, clickID, from, to)
		switch {
		case err == nil:
			return row.CreatedAt, row.Used, nil
		case !errors.Is(err, sql.ErrNoRows):
			return time.Time{}, false, fmt.Errorf("lock click: %w", err)
		case !narrowed:
			return time.Time{}, false, nil
		}
		from, to, narrowed = clickTimeRange("", time.Now())
	}
}

// claimClickTx marks a click used by a conversion, in the conversion's transaction, after
// lockClickTx locked it; createdAt (the locked row's) names its partition.
func claimClickTx(ctx context.Context, tx *sqlx.Tx, clickID, conversionID string, createdAt time.Time) error {
	const claim = `UPDATE clicks SET converted_by = $2 WHERE click_id = $1 AND created_at = $3 AND converted_by IS NULL`
	if _, err := tx.ExecContext(ctx, claim, clickID, conversionID, createdAt); err != nil {
		return fmt.Errorf("claim click: %w", err)
	}
	return nil
}
