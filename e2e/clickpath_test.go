package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestAdminChangeReachesNextClick: offers and affiliates are cached for the click path, and an
// admin change through this process is in effect for the very next click (docs/API.md, Freshness).
func TestAdminChangeReachesNextClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", s.URL, f.Offer.ID, f.Affiliate.ID)
	expect := func(want int, what string) {
		t.Helper()
		resp, _ := get(t, link)
		if resp.StatusCode != want {
			t.Fatalf("%s: click status %d, want %d (%s)", what, resp.StatusCode, want, resp.Header.Get("X-Error"))
		}
	}
	expect(http.StatusFound, "active")

	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID), map[string]any{"status": "paused"}, nil)
	expect(http.StatusNotFound, "offer paused")
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID), map[string]any{"status": "active"}, nil)
	expect(http.StatusFound, "offer active again")

	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/affiliates/%d", f.Affiliate.ID), map[string]any{"status": "paused"}, nil)
	expect(http.StatusNotFound, "affiliate paused")
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/affiliates/%d", f.Affiliate.ID), map[string]any{"status": "active"}, nil)
	expect(http.StatusFound, "affiliate active again")

	// A landing URL change is in the next redirect too.
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID),
		map[string]any{"landing_url": "https://other.example/lp?c={click_id}"}, nil)
	resp, _ := get(t, link)
	if loc := resp.Header.Get("Location"); loc != "https://other.example/lp?c="+resp.Header.Get("X-Click-Id") {
		t.Fatalf("location after the change: %q", loc)
	}
}

// TestClickRefusedWhenClicksCannotBeStored: a click the writer cannot take (here: closed, as
// during shutdown) is answered 503 with a message, never redirected, so no acknowledged click is
// lost.
func TestClickRefusedWhenClicksCannotBeStored(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	st := &store.Store{DB: db}
	ctx := context.Background()
	seeded := testenv.Seed(t, st, func(_ *store.Advertiser, o *store.Offer) { o.LandingURL = "https://shop.example/" })
	offer, aff := &seeded.Offer, &seeded.Affiliate
	clicks := store.NewClickWriter(db, store.BatchOptions{})
	srv := httptest.NewServer(api.New(api.Config{AdminToken: testenv.AdminToken, Clicks: clicks}, st, nil))
	defer srv.Close()
	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", srv.URL, offer.ID, aff.ID)

	resp, _ := get(t, link)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("click: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	closeCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := clicks.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Click(ctx, resp.Header.Get("X-Click-Id")); err != nil {
		t.Fatalf("the redirected click after Close: %v", err)
	}

	resp, body := get(t, link)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Location") != "" ||
		resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Error") == "" || len(body) == 0 {
		t.Fatalf("click after Close: %d, headers %v, body %q", resp.StatusCode, resp.Header, body)
	}
}

// TestOtherProcessChangeReachesClicks: a change this process did not make (another API process,
// here a direct write) reaches the click path once the cached offer expires.
func TestOtherProcessChangeReachesClicks(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", s.URL, f.Offer.ID, f.Affiliate.ID)
	if resp, _ := get(t, link); resp.StatusCode != http.StatusFound {
		t.Fatalf("click: %d", resp.StatusCode)
	}
	o, err := s.Store.Offer(context.Background(), f.Offer.ID)
	if err != nil {
		t.Fatal(err)
	}
	o.Status = domain.StatusPaused
	if err := s.Store.UpdateOffer(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	// The bound itself (TTL + stale grace ≤ 5 s) is checked in api; here: it does expire.
	eventually(t, 10*time.Second, "the paused offer to refuse clicks", func() bool {
		resp, _ := get(t, link)
		return resp.StatusCode == http.StatusNotFound
	})
}
