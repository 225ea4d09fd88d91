package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// cookieOutcomes reads trackflow_cookie_click_lookups_total by outcome.
func cookieOutcomes(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "trackflow_cookie_click_lookups_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	return out
}

// attributionFixture is what Attribute's tests start from: a fresh database with an offer and an
// affiliate, a click-ID key, and the registry of the activities' metrics.
type attributionFixture struct {
	st     *store.Store
	seeded testenv.Seeded
	key    *domain.ClickIDKey
	reg    *prometheus.Registry
}

func newAttributionFixture(t *testing.T) attributionFixture {
	st := &store.Store{DB: testenv.NewDB(t)}
	return attributionFixture{st: st, seeded: testenv.Seed(t, st, nil), key: domain.NewClickIDKey(), reg: prometheus.NewRegistry()}
}

// activities are the fixture's activities with this process's click writer (nil: a worker with
// none, ROLE=worker) and the writers' options, which bound the wait for a cookie's click.
func (f attributionFixture) activities(clicks *store.ClickWriter, opts store.BatchOptions) *activities.Activities {
	return &activities.Activities{Store: f.st, Metrics: metrics.New(f.reg), ClickIDKey: f.key, Clicks: clicks, ClickWriter: opts}
}

// TestCookieClickWaitsOnlyForAuthenticFreshIDs (issue 8, finding 2): Attribute waits for a
// cookie's click that is not stored yet only when the click ID is authentic and fresh (here: held
// by the click writer, and found once it commits); a forged ID, an authentic ID older than the
// freshness bound and a pre-format ID are looked up once, never waited for.
func TestCookieClickWaitsOnlyForAuthenticFreshIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAttributionFixture(t)
	st, seeded, key, reg := f.st, f.seeded, f.key, f.reg
	// A writer whose batch waits 300 ms: the fresh click is not in Postgres when Attribute starts.
	opts := store.BatchOptions{FlushInterval: 300 * time.Millisecond}
	clicks := store.NewClickWriter(st.DB, opts)
	defer clicks.Close(ctx)
	a := f.activities(clicks, opts)
	attribute := func(cookie string) activities.Attribution {
		t.Helper()
		att, err := a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
			CookieClickID: cookie, IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return att
	}
	click := func(id string, at time.Time) store.Click {
		return store.Click{ClickID: id, OfferID: seeded.Offer.ID, AffID: seeded.Affiliate.ID, IP: "203.0.113.1",
			UserAgent: "other", CreatedAt: at}
	}
	check := func(what string, want map[string]float64) {
		t.Helper()
		got := cookieOutcomes(t, reg)
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("after %s: outcomes %v, want %v", what, got, want)
			}
		}
	}

	fresh := key.NewClickID(time.Now())
	if err := clicks.Add(click(fresh, time.Now().UTC())); err != nil {
		t.Fatal(err)
	}
	if att := attribute(fresh); att.Method != domain.MethodCookie || att.ClickID != fresh {
		t.Fatalf("fresh authentic cookie: %+v, want its click", att)
	}
	check("a fresh click held by the writer", map[string]float64{"found_after_wait": 1, "unknown": 0})

	forged := domain.NewClickIDKey().NewClickID(time.Now())
	if att := attribute(forged); att.Method != "" || att.ClickID != "" {
		t.Fatalf("forged cookie: %+v, want unattributed", att)
	}
	check("a forged ID", map[string]float64{"found_after_wait": 1, "unknown": 1, "lost": 0})

	// Older than the freshness bound, and a newer click is stored: the writers are not behind.
	old := key.NewClickID(time.Now().Add(-time.Hour))
	if att := attribute(old); att.Method == domain.MethodCookie {
		t.Fatalf("old unknown cookie: %+v", att)
	}
	check("an old unknown ID", map[string]float64{"found_after_wait": 1, "unknown": 2, "lost": 0})

	legacy := domain.NewID()
	if err := st.InsertClick(ctx, ptr(click(legacy, time.Now().UTC()))); err != nil {
		t.Fatal(err)
	}
	if att := attribute(legacy); att.Method != domain.MethodCookie || att.ClickID != legacy {
		t.Fatalf("pre-format stored ID: %+v, want its click", att)
	}
	check("a pre-format stored ID", map[string]float64{"found": 1, "found_after_wait": 1, "unknown": 2, "lost": 0})
}

func ptr[T any](v T) *T { return &v }

// TestCookieClickRetriedWhileWriterBehind: a fresh authentic cookie whose click this process's
// writer still holds (its Postgres refuses the batch, as just after a restart) makes Attribute
// fail with a retryable Unavailable error instead of attributing the conversion to another click
// or to none (CI failure of TestPostgresRestartLosesNothing, stop 17).
func TestCookieClickRetriedWhileWriterBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAttributionFixture(t)
	st, seeded, key, reg := f.st, f.seeded, f.key, f.reg
	opts := store.BatchOptions{RetryMax: 50 * time.Millisecond}
	clicks := testenv.StalledClickWriter(t, opts)
	a := f.activities(clicks, opts)
	// The backup lookup would find this stored click from the same visitor: the wrong one.
	if err := st.InsertClick(ctx, &store.Click{ClickID: key.NewClickID(time.Now()), OfferID: seeded.Offer.ID,
		AffID: seeded.Affiliate.ID, IP: "198.51.100.7", UserAgent: "UA", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	held := key.NewClickID(time.Now())
	if err := clicks.Add(store.Click{ClickID: held, OfferID: seeded.Offer.ID, AffID: seeded.Affiliate.ID,
		IP: "198.51.100.7", UserAgent: "UA", CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	att, err := a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
		CookieClickID: held, IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: time.Now()})
	if domain.ErrorKind(err) != domain.Unavailable {
		t.Fatalf("cookie click held by a writer that is behind: %+v, %v; want an Unavailable error", att, err)
	}
	if got := cookieOutcomes(t, reg); got["lost"] != 0 {
		t.Fatalf("outcomes %v: a click still held by this process counted as lost", got)
	}
}

// TestBackupClickInsideTheRequestsWindow: the backup lookup credits the latest click inside the
// cookie window that ends at the request, never a click made after it (the visitor clicked again
// while the conversion's workflow was retried through a database outage), which would also make
// the conversion too_fast for a click it cannot have come from.
func TestBackupClickInsideTheRequestsWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAttributionFixture(t)
	st, seeded := f.st, f.seeded
	a := f.activities(nil, store.BatchOptions{})
	received := time.Now().UTC().Truncate(time.Microsecond).Add(-10 * time.Minute)
	click := func(at time.Time) string {
		c := store.Click{ClickID: domain.NewID(), OfferID: seeded.Offer.ID, AffID: seeded.Affiliate.ID,
			IP: "198.51.100.7", UserAgent: "UA", CreatedAt: at}
		if err := st.InsertClick(ctx, &c); err != nil {
			t.Fatal(err)
		}
		return c.ClickID
	}
	before := click(received.Add(-time.Minute))
	atRequest := click(received) // made in the request's microsecond: inside the window
	click(received.Add(time.Microsecond))
	click(received.Add(5 * time.Minute))
	att, err := a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
		IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: received})
	if err != nil || att.Method != domain.MethodBackup || att.ClickID != atRequest {
		t.Fatalf("backup attribution = %+v, %v; want the click made at the request, %s", att, err, atRequest)
	}
	// A first-click offer's backup takes the earliest click of the same window.
	first := seeded.Offer
	first.Attribution = domain.AttributionFirstClick
	if err := st.UpdateOffer(ctx, &first); err != nil {
		t.Fatal(err)
	}
	att, err = a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
		IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: received.Add(-30 * time.Second)})
	if err != nil || att.ClickID != before {
		t.Fatalf("first-click backup attribution = %+v, %v; want the one click made before the request, %s", att, err, before)
	}
	// A request before every click has none.
	att, err = a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
		IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: received.Add(-2 * time.Minute)})
	if err != nil || att.Method != "" {
		t.Fatalf("backup attribution before every click = %+v, %v; want unattributed", att, err)
	}
}

// TestCookieClickWaitsForOtherProcessesWriters: a worker with no writer of its own (ROLE=worker)
// does not give up an authentic cookie's click until a click made after it is stored, or
// cookieClickPatience after the conversion came in: before,
// another process's writer may still hold it (Postgres just back from an outage), and the attempt
// is retried; after, the click counts as lost and the conversion goes on without it.
func TestCookieClickWaitsForOtherProcessesWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAttributionFixture(t)
	st, seeded, key, reg := f.st, f.seeded, f.key, f.reg
	a := f.activities(nil, store.BatchOptions{FlushInterval: time.Millisecond, RetryMax: 50 * time.Millisecond})
	unstored := key.NewClickID(time.Now())
	attribute := func() (activities.Attribution, error) {
		return a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
			CookieClickID: unstored, IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: time.Now()})
	}
	if att, err := attribute(); domain.ErrorKind(err) != domain.Unavailable {
		t.Fatalf("no click stored after the cookie's: %+v, %v; want an Unavailable error (retried)", att, err)
	}
	// Still nothing later stored, but the conversion came in longer than cookieClickPatience ago:
	// the click is lost (a quiet network, or an API process killed with clicks in its buffer).
	longAgo := time.Now().Add(-11 * time.Minute)
	att, err := a.Attribute(ctx, domain.ConversionRequest{OfferID: seeded.Offer.ID, Source: domain.SourcePage,
		CookieClickID: key.NewClickID(longAgo), IP: "198.51.100.7", UserAgent: "UA", ReceivedAt: longAgo})
	if err != nil || att.Method != "" {
		t.Fatalf("past the patience: %+v, %v; want the conversion unattributed", att, err)
	}
	if got := cookieOutcomes(t, reg); got["lost"] != 1 {
		t.Fatalf("outcomes %v after the patience ran out: want one lost", got)
	}
	if err := st.InsertClick(ctx, &store.Click{ClickID: key.NewClickID(time.Now()), OfferID: seeded.Offer.ID,
		AffID: seeded.Affiliate.ID, IP: "203.0.113.9", UserAgent: "other", CreatedAt: time.Now().Add(2 * time.Second).UTC()}); err != nil {
		t.Fatal(err)
	}
	att, err = attribute()
	if err != nil || att.Method != "" {
		t.Fatalf("a later click stored: %+v, %v; want the conversion unattributed", att, err)
	}
	// Given up once more: as unknown (the deadline had passed) or lost (after one more wait).
	if got := cookieOutcomes(t, reg); got["lost"]+got["unknown"] != 2 {
		t.Fatalf("outcomes %v: the cookie's click was given up without being counted", got)
	}
}
