package api_test

import (
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

// TestClickHeldByWriterIsNotNotFound: while this process's click writer cannot store what it holds
// (its Postgres refuses, as just after a restart), a click it redirected is answered 503 with
// Retry-After by GET /api/v1/clicks/:id and by a Click ID post, never 404 (a CRM told "not found"
// would not post again); a first_click offer's link still redirects and keeps the held click's
// credit; a forged ID is still 404 (CI failure of TestPostgresRestartLosesNothing, stop 17).
func TestClickHeldByWriterIsNotNotFound(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	seeded := testenv.Seed(t, st, func(_ *store.Advertiser, o *store.Offer) { o.Attribution = domain.AttributionFirstClick })
	clicks := testenv.StalledClickWriter(t, store.BatchOptions{RetryMax: 50 * time.Millisecond})
	h := api.New(api.Config{AdminToken: "adm", Clicks: clicks}, st, nil)
	do := func(method, path string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer adm")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	link := fmt.Sprintf("/click?offer_id=%d&aff_id=%d", seeded.Offer.ID, seeded.Affiliate.ID)
	first := do("GET", link, nil)
	held := first.Header.Get("X-Click-Id")
	if first.StatusCode != http.StatusFound || held == "" {
		t.Fatalf("click: %d %q", first.StatusCode, first.Header.Get("X-Error"))
	}

	for name, path := range map[string]string{
		"GET /api/v1/clicks/:id": "/api/v1/clicks/" + held,
		"Click ID post":          fmt.Sprintf("/postback?token=%s&click_id=%s&amount=5", seeded.Advertiser.PostbackToken, held),
	} {
		resp := do("GET", path, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s naming a held click: %d (Retry-After %q), want 503 with Retry-After",
				name, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if resp := do("GET", "/api/v1/clicks/"+domain.NewClickIDKey().NewClickID(time.Now()), nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a forged click ID: %d, want 404", resp.StatusCode)
	}

	again := do("GET", link, first.Cookies()[0])
	if again.StatusCode != http.StatusFound || again.Header.Get("X-Click-Id") != held {
		t.Fatalf("first_click link with the held click's cookie: %d, credited %q, want 302 crediting %q",
			again.StatusCode, again.Header.Get("X-Click-Id"), held)
	}
}
