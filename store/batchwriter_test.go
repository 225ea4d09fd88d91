package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

func newClick(i int) store.Click {
	return store.Click{ClickID: domain.NewID(), OfferID: 1, AffID: int64(i + 1), IP: "203.0.113.9",
		UserAgent: "Mozilla/5.0 test", Referer: "https://ref.example/", CreatedAt: time.Now().UTC()}
}

func countClicks(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM clicks`); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func closeWriter(t *testing.T, w *store.ClickWriter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestClickWriterFlushesBySize: a full batch is stored although the interval is an hour away, and
// a partial one waits for it.
func TestClickWriterFlushesBySize(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	w := store.NewClickWriter(db, store.BatchOptions{BatchSize: 10, FlushInterval: time.Hour})
	for i := 0; i < 10; i++ {
		if err := w.Add(newClick(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The rows are visible as the COPY commits, a moment before the writer counts them stored.
	waitFor(t, 10*time.Second, "a full batch in Postgres, counted", func() bool {
		return countClicks(t, db) == 10 && w.Stats().Stored == 10
	})
	for i := 0; i < 3; i++ {
		if err := w.Add(newClick(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s := w.Stats(); s.Pending != 3 || s.Stored != 10 || s.Batches != 1 {
		t.Fatalf("stats %+v, want 3 pending, 10 stored in 1 batch", s)
	}
	if n := countClicks(t, db); n != 10 {
		t.Fatalf("%d clicks stored, want the partial batch to wait", n)
	}
	closeWriter(t, w)
	if n := countClicks(t, db); n != 13 {
		t.Fatalf("%d clicks stored after Close, want 13", n)
	}
}

// TestClickWriterFlushesByTime: a lone click is stored after the interval, and Sync waits for it.
func TestClickWriterFlushesByTime(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	w := store.NewClickWriter(db, store.BatchOptions{BatchSize: 1000, FlushInterval: 20 * time.Millisecond})
	defer closeWriter(t, w)
	c := newClick(0)
	if err := w.Add(c); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the click in Postgres", func() bool { return countClicks(t, db) == 1 })

	// Sync makes what this process accepted visible to the next read, without polling.
	c2 := newClick(1)
	if err := w.Add(c2); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := (&store.Store{DB: db}).Click(context.Background(), c2.ClickID)
	if err != nil {
		t.Fatalf("click after Sync: %v", err)
	}
	if got.AffID != c2.AffID || got.IP != c2.IP || got.UserAgent != c2.UserAgent || got.Referer != c2.Referer {
		t.Fatalf("stored %+v, want %+v", got, c2)
	}
}

// TestClickWriterDrainsOnClose: Close stores every accepted click, then refuses new ones.
func TestClickWriterDrainsOnClose(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	w := store.NewClickWriter(db, store.BatchOptions{BatchSize: 700, FlushInterval: time.Hour})
	const n = 2500
	for i := 0; i < n; i++ {
		if err := w.Add(newClick(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	if got := countClicks(t, db); got != n {
		t.Fatalf("%d clicks stored after Close, want %d", got, n)
	}
	err := w.Add(newClick(0))
	if domain.ErrorKind(err) != domain.Unavailable {
		t.Fatalf("Add after Close: %v, want domain.Unavailable", err)
	}
}

// TestClickWriterBackPressure: while Postgres is stalled (the table locked), the bounded buffer
// fills and Add refuses with Unavailable; once Postgres answers every accepted click is stored.
func TestClickWriterBackPressure(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	ctx := context.Background()
	lock, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(`LOCK TABLE clicks IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	const maxPending = 5
	w := store.NewClickWriter(db, store.BatchOptions{BatchSize: 100, FlushInterval: time.Millisecond, MaxPending: maxPending})
	defer closeWriter(t, w)

	accepted, refused := 0, 0
	deadline := time.Now().Add(10 * time.Second)
	for refused == 0 && time.Now().Before(deadline) {
		err := w.Add(newClick(accepted))
		switch {
		case err == nil:
			accepted++
		case domain.ErrorKind(err) == domain.Unavailable:
			refused++
		default:
			t.Fatal(err)
		}
		if accepted > 2*maxPending {
			t.Fatalf("accepted %d clicks while Postgres is stalled: the buffer is not bounded", accepted)
		}
		if refused == 0 && accepted > maxPending {
			time.Sleep(time.Millisecond) // the flusher holds one batch at most: wait for its stall
		}
	}
	if refused == 0 {
		t.Fatalf("no refusal after %d clicks with Postgres stalled", accepted)
	}
	if s := w.Stats(); s.Refused == 0 || s.Pending != maxPending {
		t.Fatalf("stats %+v, want refusals and %d pending", s, maxPending)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := countClicks(t, db); got != accepted {
		t.Fatalf("%d clicks stored, want the %d accepted", got, accepted)
	}
}

// TestClickWriterBadRows: header bytes Postgres cannot store are made storable, and a row it
// still rejects is dropped alone, not with its batch.
func TestClickWriterBadRows(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	w := store.NewClickWriter(db, store.BatchOptions{BatchSize: 3, FlushInterval: time.Hour})
	good, odd, bad := newClick(0), newClick(1), newClick(2)
	odd.UserAgent = "Mozilla\xff\x00/5.0"
	bad.IP = "not-an-ip"
	for _, c := range []store.Click{good, odd, bad} {
		if err := w.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	closeWriter(t, w)
	if s := w.Stats(); s.Dropped != 1 || s.Stored != 3 {
		t.Fatalf("stats %+v, want 1 dropped of 3", s)
	}
	st := &store.Store{DB: db}
	ctx := context.Background()
	if _, err := st.Click(ctx, good.ClickID); err != nil {
		t.Fatalf("good click: %v", err)
	}
	got, err := st.Click(ctx, odd.ClickID)
	if err != nil {
		t.Fatalf("click with odd user agent: %v", err)
	}
	if got.UserAgent != "Mozilla\uFFFD/5.0" {
		t.Fatalf("user agent stored as %q", got.UserAgent)
	}
	if _, err := st.Click(ctx, bad.ClickID); domain.ErrorKind(err) != domain.NotFound {
		t.Fatalf("bad click: %v, want domain.NotFound", err)
	}
}

// TestImpressionWriter: impressions go through the same batching: Sync sees them stored, a
// header Postgres cannot hold is made storable, and Close stores what waits and then refuses.
func TestImpressionWriter(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	w := store.NewImpressionWriter(db, store.BatchOptions{BatchSize: 100, FlushInterval: time.Hour})
	sub := "s\x00ub"
	for i := 0; i < 3; i++ {
		im := store.Impression{OfferID: 1, AffID: int64(i + 1), SubID: &sub, IP: "2001:db8::1",
			UserAgent: "bad \xff agent", CreatedAt: time.Now().UTC()}
		if err := w.Add(im); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (n int) {
		if err := db.Get(&n, `SELECT count(*) FROM impressions WHERE user_agent = $1 AND sub_id = 'sub'`, "bad \uFFFD agent"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d impressions stored before the hour-long interval or Sync", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d impressions stored after Close, want 3", n)
	}
	if err := w.Add(store.Impression{OfferID: 1, AffID: 1, IP: "203.0.113.9"}); domain.ErrorKind(err) != domain.Unavailable ||
		!strings.HasPrefix(domain.ErrorMessage(err), "impression: ") {
		t.Fatalf("Add after Close: %v", err)
	}
}
