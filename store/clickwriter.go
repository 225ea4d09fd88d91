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
)

// ClickWriterOptions tune a ClickWriter; zero values take the defaults below.
type ClickWriterOptions struct {
	// BatchSize flushes as soon as this many clicks wait (default 1000): one COPY per batch.
	BatchSize int
	// FlushInterval is the longest a click waits for a batch to fill (default 2 ms). A flush
	// also takes every click that arrived while the previous one ran, so under load batches grow
	// by themselves and at low load a click is in Postgres a few milliseconds after its redirect,
	// far inside API.md's one second.
	FlushInterval time.Duration
	// MaxPending bounds the clicks waiting in memory (default 50,000: more than a second of the
	// busiest load one process serves). Past it, or past MaxPendingBytes, Add refuses with
	// Unavailable (503) instead of growing while Postgres is stalled.
	MaxPending int
	// MaxPendingBytes bounds the same buffer by the size of its strings (default 64 MiB), since a
	// user agent or referer may be long.
	MaxPendingBytes int
	// RetryMax is the longest pause between attempts to store a batch Postgres refused (default 1 s).
	RetryMax time.Duration
}

func (o *ClickWriterOptions) defaults() {
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

// ClickWriter stores clicks in batches, off the request path: the click handler hands a click to
// Add and redirects at once; one goroutine writes what waits with a single COPY per batch. Close
// stores every click Add accepted before it returns, so an acknowledged click survives a clean
// shutdown.
type ClickWriter struct {
	db   *sqlx.DB
	opts ClickWriterOptions

	mu           sync.Mutex
	pending      []Click
	spare        []Click // the previous batch's array, reused so steady load allocates nothing
	pendingBytes int
	closed       bool
	queued       uint64        // clicks accepted by Add, ever
	stored       uint64        // clicks committed (or dropped as unstorable), ever: a prefix of queued
	storedCh     chan struct{} // closed and replaced at every commit, to wake Sync
	stats        ClickWriterStats

	kick chan struct{} // wakes the flusher: the first click of a batch, a full batch, Close
	done chan struct{} // closed when the flusher has exited
}

// ClickWriterStats are a ClickWriter's counters since it started.
type ClickWriterStats struct {
	Queued   uint64 // clicks accepted
	Stored   uint64 // clicks committed
	Batches  uint64 // COPY statements committed
	Refused  uint64 // clicks refused with Unavailable (buffer full or closed)
	Retries  uint64 // failed attempts to store a batch, retried
	Dropped  uint64 // clicks Postgres rejected as invalid data, logged and skipped
	Pending  int    // clicks waiting now
	MaxBatch int    // the largest batch so far
}

// NewClickWriter starts a writer on db. Close it to store what waits.
func NewClickWriter(db *sqlx.DB, opts ClickWriterOptions) *ClickWriter {
	opts.defaults()
	w := &ClickWriter{
		db: db, opts: opts,
		pending:  make([]Click, 0, opts.BatchSize),
		spare:    make([]Click, 0, opts.BatchSize),
		storedCh: make(chan struct{}),
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	go w.run()
	return w
}

// errClicksBusy is what Add answers while the buffer is full: the client should retry shortly.
var errClicksBusy = Errorf(Unavailable, "click: too many clicks waiting to be stored; retry shortly")

// errClicksClosed is what Add answers once shutdown has begun.
var errClicksClosed = Errorf(Unavailable, "click: the server is shutting down; retry shortly")

// Add queues a click to be stored within a few milliseconds. It never waits on Postgres: when
// the buffer is full (Postgres is stalled or slower than the traffic) or the writer is closed it
// returns an Unavailable error and the click must not be acknowledged.
func (w *ClickWriter) Add(c Click) error {
	// Postgres refuses invalid UTF-8 and NUL in text columns; one such header must not fail a
	// whole batch, so the strings are made storable here (what Go's HTTP server lets through).
	c.UserAgent, c.Referer = storable(c.UserAgent), storable(c.Referer)
	if c.SubID != nil {
		s := storable(*c.SubID)
		c.SubID = &s
	}
	size := clickSize(&c)

	w.mu.Lock()
	switch {
	case w.closed:
		w.stats.Refused++
		w.mu.Unlock()
		return errClicksClosed
	case len(w.pending) >= w.opts.MaxPending || w.pendingBytes+size > w.opts.MaxPendingBytes:
		w.stats.Refused++
		w.mu.Unlock()
		return errClicksBusy
	}
	w.pending = append(w.pending, c)
	w.pendingBytes += size
	w.queued++
	n := len(w.pending)
	w.mu.Unlock()

	if n == 1 || n == w.opts.BatchSize {
		w.wake()
	}
	return nil
}

// Sync waits until every click Add accepted before the call is in Postgres, or ctx ends. A
// conversion or click lookup served by this process calls it first, so a click this process
// redirected is always visible to it; it returns at once when nothing waits.
func (w *ClickWriter) Sync(ctx context.Context) error {
	w.mu.Lock()
	target := w.queued
	for w.stored < target {
		ch := w.storedCh
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sync clicks: %w", ctx.Err())
		case <-w.done:
			w.mu.Lock()
			stored := w.stored
			w.mu.Unlock()
			if stored < target {
				return errors.New("sync clicks: the writer stopped")
			}
			return nil
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// Close stops accepting clicks and stores every one that waits; it returns once they are all in
// Postgres, or with an error when ctx ends first (the clicks still waiting are then lost, and
// counted in the error).
func (w *ClickWriter) Close(ctx context.Context) error {
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
		return fmt.Errorf("close click writer: %d clicks not stored: %w", lost, ctx.Err())
	}
}

// Stats returns the writer's counters.
func (w *ClickWriter) Stats() ClickWriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Queued, s.Stored, s.Pending = w.queued, w.stored, len(w.pending)
	return s
}

func (w *ClickWriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// run is the flusher: it waits for a first click, lets the batch fill for at most FlushInterval
// (or until BatchSize), takes everything waiting and stores it, retrying until Postgres takes it.
func (w *ClickWriter) run() {
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
			w.wake() // clicks came in meanwhile: flush again without waiting for a new first one
		}
	}
}

// store writes one batch, retrying with backoff for as long as Postgres fails: an accepted click
// is never given up because the database is restarting. Rows Postgres rejects as invalid data
// are stored one by one so a single bad row cannot block the others; it returns how many it had
// to drop.
func (w *ClickWriter) store(batch []Click) (dropped int) {
	pause := 10 * time.Millisecond
	for {
		err := w.copyClicks(batch)
		if err == nil {
			return 0
		}
		if isDataError(err) {
			return w.storeOneByOne(batch)
		}
		w.mu.Lock()
		w.stats.Retries++
		w.mu.Unlock()
		slog.Error("store clicks: retrying", "clicks", len(batch), "in", pause, "error", err)
		time.Sleep(pause)
		pause = min(2*pause, w.opts.RetryMax)
	}
}

func (w *ClickWriter) storeOneByOne(batch []Click) (dropped int) {
	for i := range batch {
		pause := 10 * time.Millisecond
		for {
			err := w.copyClicks(batch[i : i+1])
			if err == nil {
				break
			}
			if isDataError(err) {
				slog.Error("store click: dropped, Postgres rejects it", "click_id", batch[i].ClickID, "error", err)
				dropped++
				break
			}
			time.Sleep(pause)
			pause = min(2*pause, w.opts.RetryMax)
		}
	}
	return dropped
}

// clickCopyColumns are the columns COPY fills, in the order copyClicks passes them.
var clickCopyColumns = []string{"click_id", "offer_id", "aff_id", "sub_id", "creative_id", "ip",
	"user_agent", "referer", "created_at"}

// copyClicks stores clicks with one COPY in one transaction: all of them or none.
func (w *ClickWriter) copyClicks(clicks []Click) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("copy clicks: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	stmt, err := tx.PrepareContext(ctx, pq.CopyIn("clicks", clickCopyColumns...))
	if err != nil {
		return fmt.Errorf("copy clicks: %w", err)
	}
	for i := range clicks {
		c := &clicks[i]
		if _, err := stmt.ExecContext(ctx, c.ClickID, c.OfferID, c.AffID, c.SubID, c.CreativeID, c.IP,
			c.UserAgent, c.Referer, c.CreatedAt); err != nil {
			stmt.Close()
			return fmt.Errorf("copy clicks: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return fmt.Errorf("copy clicks: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy clicks: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("copy clicks: %w", err)
	}
	return nil
}

// isDataError reports an error Postgres raises for the data itself (class 22, data exception;
// 23, integrity constraint violation): retrying the same rows cannot succeed.
func isDataError(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (strings.HasPrefix(string(pqErr.Code), "22") || strings.HasPrefix(string(pqErr.Code), "23"))
}

// storable makes a header value storable in a Postgres text column: valid UTF-8 without NUL.
func storable(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= 0x80 {
			return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
		}
	}
	return s // the common case: plain ASCII, no copy
}

// clickSize approximates the memory a waiting click holds.
func clickSize(c *Click) int {
	n := 160 + len(c.ClickID) + len(c.IP) + len(c.UserAgent) + len(c.Referer)
	if c.SubID != nil {
		n += len(*c.SubID)
	}
	return n
}
