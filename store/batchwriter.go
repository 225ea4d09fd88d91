package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackflow/trackflow/domain"
)

// BatchOptions tune a Writer; zero values take the defaults below.
type BatchOptions struct {
	// BatchSize flushes as soon as this many rows wait (default 1000): one COPY per batch.
	BatchSize int
	// FlushInterval is the longest a row waits for a batch to fill (default 2 ms). A flush also
	// takes every row that arrived while the previous one ran, so under load batches grow by
	// themselves and at low load a click is in Postgres a few milliseconds after its redirect, far
	// inside docs/API.md's one second.
	FlushInterval time.Duration
	// MaxPending bounds the rows waiting in memory (default 50,000: more than a second of the
	// busiest load one process serves). Past it, or past MaxPendingBytes, Add refuses with
	// Unavailable (503) instead of growing while Postgres is stalled.
	MaxPending int
	// MaxPendingBytes bounds the same buffer by the size of its strings (default 64 MiB), since a
	// user agent or referer may be long.
	MaxPendingBytes int
	// RetryMax is the longest pause between attempts to store a batch Postgres refused (default 1 s).
	RetryMax time.Duration
}

func (o *BatchOptions) defaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Millisecond
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 50_000
	}
	if o.MaxPendingBytes <= 0 {
		o.MaxPendingBytes = 64 << 20
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Second
	}
}

// Freshness bounds how long after its redirect a click is in Postgres while the database is up:
// one flush interval, plus one back-off of a batch Postgres refused. The worker waits for a
// cookie's click not yet stored no longer than the click ID's creation time plus this.
func (o BatchOptions) Freshness() time.Duration {
	o.defaults()
	return o.FlushInterval + o.RetryMax
}

// Writer stores rows of one kind (clicks, impressions) in batches, off the request path: the
// handler hands a row to Add and answers at once; one goroutine writes what waits with a single
// COPY per batch. Close stores every row Add accepted before it returns, so an acknowledged click
// survives a clean shutdown.
type Writer[T any] struct {
	db   *sqlx.DB
	opts BatchOptions
	kind rowKind[T]

	mu           sync.Mutex
	pending      []T
	spare        []T // the previous batch's array, reused so steady load allocates nothing
	pendingBytes int
	closed       bool
	queued       uint64        // rows accepted by Add, ever
	stored       uint64        // rows committed (or dropped as unstorable), ever: a prefix of queued
	storedCh     chan struct{} // closed and replaced at every commit, to wake Sync
	stats        WriterStats

	kick chan struct{} // wakes the flusher: the first row of a batch, a full batch, Close
	done chan struct{} // closed when the flusher has exited

	errBusy, errClosed error // what Add answers when the buffer is full, or after Close
}

// rowKind is how one kind of row is batched.
type rowKind[T any] struct {
	noun    string // "click": names the rows in messages
	table   string
	columns []string        // the columns COPY fills, in the order of values
	values  func(*T) []any  // one row's values
	prepare func(*T) int    // makes the row storable (valid UTF-8, no NUL) and returns its size in memory
	id      func(*T) string // names a dropped row in the log
}

// ClickWriter batches clicks: the /click hot path.
type ClickWriter = Writer[Click]

// NewClickWriter starts a click writer on db. Close it to store what waits.
func NewClickWriter(db *sqlx.DB, opts BatchOptions) *ClickWriter {
	return newWriter(db, opts, rowKind[Click]{
		noun: "click", table: "clicks",
		columns: []string{"click_id", "offer_id", "aff_id", "sub_id", "sub2", "sub3", "sub4", "sub5", "creative_id", "ip",
			"user_agent", "referer", "created_at"},
		values: func(c *Click) []any {
			return []any{c.ClickID, c.OfferID, c.AffID, c.SubID, c.Sub2, c.Sub3, c.Sub4, c.Sub5, c.CreativeID, c.IP,
				c.UserAgent, c.Referer, c.CreatedAt}
		},
		prepare: func(c *Click) int {
			// Postgres refuses invalid UTF-8 and NUL in text columns; one such header must not fail
			// a whole batch, so the strings are made storable here (what Go's HTTP server lets through).
			c.UserAgent, c.Referer = StorableText(c.UserAgent, 0), StorableText(c.Referer, 0)
			c.SubID = storablePtr(c.SubID)
			return 160 + len(c.ClickID) + len(c.IP) + len(c.UserAgent) + len(c.Referer) + lenPtr(c.SubID) + storableSubs(&c.Subs)
		},
		id: func(c *Click) string { return c.ClickID },
	})
}

// ImpressionWriter batches impressions, the other hot path.
type ImpressionWriter = Writer[Impression]

// NewImpressionWriter starts an impression writer on db. Close it to store what waits.
func NewImpressionWriter(db *sqlx.DB, opts BatchOptions) *ImpressionWriter {
	return newWriter(db, opts, rowKind[Impression]{
		noun: "impression", table: "impressions",
		columns: []string{"offer_id", "aff_id", "sub_id", "sub2", "sub3", "sub4", "sub5", "creative_id", "ip", "user_agent", "created_at"},
		values: func(im *Impression) []any {
			return []any{im.OfferID, im.AffID, im.SubID, im.Sub2, im.Sub3, im.Sub4, im.Sub5, im.CreativeID, im.IP, im.UserAgent, im.CreatedAt}
		},
		prepare: func(im *Impression) int {
			im.UserAgent, im.SubID = StorableText(im.UserAgent, 0), storablePtr(im.SubID)
			return 128 + len(im.IP) + len(im.UserAgent) + lenPtr(im.SubID) + storableSubs(&im.Subs)
		},
		id: func(im *Impression) string { return fmt.Sprintf("offer %d aff %d", im.OfferID, im.AffID) },
	})
}

// WriterStats are a Writer's counters since it started.
type WriterStats struct {
	Queued   uint64 // rows accepted
	Stored   uint64 // rows committed
	Batches  uint64 // COPY statements committed
	Refused  uint64 // rows refused with domain.Unavailable (buffer full or closed)
	Retries  uint64 // failed attempts to store a batch, retried
	Dropped  uint64 // rows Postgres rejected as invalid data, logged and skipped
	Pending  int    // rows waiting now
	MaxBatch int    // the largest batch so far
}

func newWriter[T any](db *sqlx.DB, opts BatchOptions, kind rowKind[T]) *Writer[T] {
	opts.defaults()
	w := &Writer[T]{
		db: db, opts: opts, kind: kind,
		pending:   make([]T, 0, opts.BatchSize),
		spare:     make([]T, 0, opts.BatchSize),
		storedCh:  make(chan struct{}),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		errBusy:   domain.Errorf(domain.Unavailable, "%s: too many %ss waiting to be stored; retry shortly", kind.noun, kind.noun),
		errClosed: domain.Errorf(domain.Unavailable, "%s: the server is shutting down; retry shortly", kind.noun),
	}
	go w.run()
	return w
}

// Add queues a row to be stored within a few milliseconds. It never waits on Postgres: when the
// buffer is full (Postgres is stalled or slower than the traffic) or the writer is closed it
// returns an Unavailable error and the row must not be acknowledged.
func (w *Writer[T]) Add(row T) error {
	size := w.kind.prepare(&row)

	w.mu.Lock()
	switch {
	case w.closed:
		w.stats.Refused++
		w.mu.Unlock()
		return w.errClosed
	case len(w.pending) >= w.opts.MaxPending || w.pendingBytes+size > w.opts.MaxPendingBytes:
		w.stats.Refused++
		w.mu.Unlock()
		return w.errBusy
	}
	w.pending = append(w.pending, row)
	w.pendingBytes += size
	w.queued++
	n := len(w.pending)
	w.mu.Unlock()

	if n == 1 || n == w.opts.BatchSize {
		w.wake()
	}
	return nil
}

// Sync waits until every row Add accepted before the call is in Postgres, or ctx ends. A
// conversion or click lookup served by this process calls it first, so a click this process
// redirected is always visible to it; it returns at once when nothing waits.
func (w *Writer[T]) Sync(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	for w.stored < target {
		ch := w.storedCh
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sync %ss: %w", w.kind.noun, ctx.Err())
		case <-w.done:
			w.mu.Lock()
			stored := w.stored
			w.mu.Unlock()
			if stored < target {
				return fmt.Errorf("sync %ss: the writer stopped", w.kind.noun)
			}
			return nil
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// Close stops accepting rows and stores every one that waits; it returns once they are all in
// Postgres, or with an error when ctx ends first (the rows still waiting are then lost, and
// counted in the error).
func (w *Writer[T]) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wake()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		lost := w.queued - w.stored
		w.mu.Unlock()
		return fmt.Errorf("close %s writer: %d %ss not stored: %w", w.kind.noun, lost, w.kind.noun, ctx.Err())
	}
}

// Stats returns the writer's counters.
func (w *Writer[T]) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Queued, s.Stored, s.Pending = w.queued, w.stored, len(w.pending)
	return s
}

func (w *Writer[T]) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run is the flusher: it waits for a first row, lets the batch fill for at most FlushInterval
// (or until BatchSize), takes everything waiting and stores it, retrying until Postgres takes it.
func (w *Writer[T]) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-w.kick
		w.mu.Lock()
		n, closed := len(w.pending), w.closed
		w.mu.Unlock()
		if n == 0 {
			if closed {
				return
			}
			continue
		}
		if n < w.opts.BatchSize && !closed {
			timer.Reset(w.opts.FlushInterval)
			select {
			case <-timer.C:
			case <-w.kick: // a full batch, or Close
				timer.Stop()
			}
		}
		w.mu.Lock()
		batch := w.pending
		w.pending, w.spare = w.spare[:0], nil
		w.pendingBytes = 0
		w.mu.Unlock()

		dropped := w.store(batch)

		w.mu.Lock()
		w.stored += uint64(len(batch))
		w.stats.Batches++
		w.stats.Dropped += uint64(dropped)
		w.stats.MaxBatch = max(w.stats.MaxBatch, len(batch))
		close(w.storedCh)
		w.storedCh = make(chan struct{})
		clear(batch) // drop the strings for the collector before the array is reused
		w.spare = batch[:0]
		more := len(w.pending) > 0 || w.closed
		w.mu.Unlock()
		if more {
			w.wake() // rows came in meanwhile: flush again without waiting for a new first one
		}
	}
}

// store writes one batch, retrying with backoff for as long as Postgres fails: an accepted row
// is never given up because the database is restarting. Rows Postgres rejects as invalid data
// are stored one by one so a single bad row cannot block the others; it returns how many it had
// to drop.
func (w *Writer[T]) store(batch []T) (dropped int) {
	pause := 10 * time.Millisecond
	for {
		err := w.copyRows(batch)
		if err == nil {
			return 0
		}
		if isDataError(err) {
			return w.storeOneByOne(batch)
		}
		w.mu.Lock()
		w.stats.Retries++
		w.mu.Unlock()
		slog.Error("store "+w.kind.noun+"s: retrying", "rows", len(batch), "in", pause, "error", err)
		time.Sleep(pause)
		pause = min(2*pause, w.opts.RetryMax)
	}
}

func (w *Writer[T]) storeOneByOne(batch []T) (dropped int) {
	for i := range batch {
		pause := 10 * time.Millisecond
		for {
			err := w.copyRows(batch[i : i+1])
			if err == nil {
				break
			}
			if isDataError(err) {
				slog.Error("store "+w.kind.noun+": dropped, Postgres rejects it", "row", w.kind.id(&batch[i]), "error", err)
				dropped++
				break
			}
			time.Sleep(pause)
			pause = min(2*pause, w.opts.RetryMax)
		}
	}
	return dropped
}

// copyRows stores rows with one COPY in one transaction: all of them or none.
func (w *Writer[T]) copyRows(rows []T) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	// The table and column names are constants of this package, never input.
	stmt, err := tx.PrepareContext(ctx, "COPY "+w.kind.table+" ("+strings.Join(w.kind.columns, ", ")+") FROM STDIN")
	if err != nil {
		return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
	}
	for i := range rows {
		if _, err := stmt.ExecContext(ctx, w.kind.values(&rows[i])...); err != nil {
			stmt.Close()
			return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("copy %ss: %w", w.kind.noun, err)
	}
	return nil
}

// isDataError reports an error Postgres raises for the data itself (class 22, data exception;
// 23, integrity constraint violation): retrying the same rows cannot succeed.
func isDataError(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (strings.HasPrefix(string(pqErr.Code), "22") || strings.HasPrefix(string(pqErr.Code), "23"))
}

// storablePtr is StorableText, unbounded, for an optional text.
func storablePtr(s *string) *string {
	if s == nil {
		return nil
	}
	v := StorableText(*s, 0)
	return &v
}

func lenPtr(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

// storableSubs makes sub2..sub5 storable, as sub_id, and returns their size in memory.
func storableSubs(s *domain.Subs) int {
	s.Sub2, s.Sub3, s.Sub4, s.Sub5 = storablePtr(s.Sub2), storablePtr(s.Sub3), storablePtr(s.Sub4), storablePtr(s.Sub5)
	return lenPtr(s.Sub2) + lenPtr(s.Sub3) + lenPtr(s.Sub4) + lenPtr(s.Sub5)
}
