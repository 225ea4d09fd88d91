package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestAuthFailuresRateLimited (issue 8, finding 5): past its budget of failed authentications, a
// client IP is answered 429 with Retry-After on the admin API and on postbacks, before its token
// is checked, and the refusals are counted; successful calls spend nothing, so the token's owner
// calling from another address (or before failing) is never refused.
func TestAuthFailuresRateLimited(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	seeded := testenv.Seed(t, st, func(a *store.Advertiser, _ *store.Offer) { a.AllowedIPs = []string{"192.0.2.99/32"} })
	reg := prometheus.NewRegistry()
	h := api.New(api.Config{AdminToken: "the-admin-token", AuthLimit: api.AuthLimit{Burst: 5, Every: time.Hour},
		Metrics: metrics.New(reg)}, st, nil)
	do := func(ip, method, target, header string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.RemoteAddr = ip + ":4000"
		if header != "" {
			req.Header.Set("Authorization", "Bearer "+header)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	adminGet := func(ip, token string) *httptest.ResponseRecorder {
		return do(ip, "GET", fmt.Sprintf("/api/v1/offers/%d", seeded.Offer.ID), token)
	}
	postback := func(ip, token string) *httptest.ResponseRecorder {
		return do(ip, "GET", fmt.Sprintf("/postback?offer_id=%d&aff_id=%d&amount=1&id=INV-1&token=%s",
			seeded.Offer.ID, seeded.Affiliate.ID, token), "")
	}

	// The owner's correct calls spend nothing, however many.
	for i := 0; i < 50; i++ {
		if rec := adminGet("198.51.100.1", "the-admin-token"); rec.Code != 200 {
			t.Fatalf("owner's call %d: %d %s", i, rec.Code, rec.Body)
		}
		// The right postback token passes authentication: 403 is the allow-list, the next check.
		if rec := postback("198.51.100.1", seeded.Advertiser.PostbackToken); rec.Code != 403 {
			t.Fatalf("owner's postback %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for name, call := range map[string]func(ip, token string) *httptest.ResponseRecorder{"admin": adminGet, "postback": postback} {
		attacker := map[string]string{"admin": "203.0.113.1", "postback": "203.0.113.2"}[name]
		for i := 0; i < 5; i++ {
			if rec := call(attacker, "wrong-"+strconv.Itoa(i)); rec.Code != 401 {
				t.Fatalf("%s: wrong token %d: %d, want 401", name, i, rec.Code)
			}
		}
		for i := 0; i < 20; i++ {
			rec := call(attacker, "wrong-again")
			ra, err := strconv.Atoi(rec.Header().Get("Retry-After"))
			if rec.Code != 429 || err != nil || ra < 1 || ra > 3600 || !strings.Contains(rec.Body.String(), "authorization: too many failed attempts") {
				t.Fatalf("%s: failure past the budget: %d Retry-After %q %s, want 429", name, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
		}
		// The owner, elsewhere, is served at once.
		if rec := call("198.51.100.1", map[string]string{"admin": "the-admin-token", "postback": seeded.Advertiser.PostbackToken}[name]); rec.Code == 429 || rec.Code == 401 {
			t.Fatalf("%s: owner after the attack: %d", name, rec.Code)
		}
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() == "trackflow_auth_rate_limited_total" {
			for _, m := range f.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if got["admin"] != 20 || got["postback"] != 20 {
		t.Fatalf("trackflow_auth_rate_limited_total = %v, want 20 per realm", got)
	}
}

// TestPostbackTokenStrength (issue 8, finding 5): a chosen postback token must be long and not
// guessable; a generated one is made when the field is omitted.
func TestPostbackTokenStrength(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	h := api.New(api.Config{AdminToken: "adm"}, st, nil)
	for tok, want := range map[string]int{
		"aaaaaaaaaaaaaaaa":                      400,
		"                ":                      400,
		strings.Repeat(" ", 32):                 400,
		"abcdefghijklmnopqrstuvw":               400, // 23 characters
		"abababababababababababababab":          400, // 2 different characters
		"demo-postback-token-0000000000000":     400, // a run of 13 zeros
		"3f9c1a7b e2d84c6f9a1e5b7d20c4e8f1":     400, // a space
		"3f9c1a7b\te2d84c6f9a1e5b7d20c4e8f1":    400,
		"3f9c1a7bé2d84c6f9a1e5b7d20c4e8f1":      400, // not ASCII
		"demo-3f9c1a7be2d84c6f9a1e5b7d20c4e8f1": 201, // the demo's
		"3f9c1a7be2d84c6f9a1e5b7d20c4e8f1":      201, // openssl rand -hex 16
		"q7Vx-2LpZ_9mKc4RtYw8NbHs":              201,
	} {
		body := fmt.Sprintf(`{"name": "adv", "postback_token": %q}`, tok)
		req := httptest.NewRequest("POST", "/api/v1/advertisers", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer adm")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want || (want == 400 && !strings.Contains(rec.Body.String(), `"postback_token: `)) {
			t.Errorf("postback_token %q: %d %s, want %d", tok, rec.Code, rec.Body, want)
		}
	}
	req := httptest.NewRequest("POST", "/api/v1/advertisers", strings.NewReader(`{"name": "generated"}`))
	req.Header.Set("Authorization", "Bearer adm")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("generated token: %d %s", rec.Code, rec.Body)
	}
}

// TestAdminBearerSchemeCaseInsensitive: the admin token is accepted whatever the case of the
// Authorization scheme (RFC 9110: auth schemes are case-insensitive; "bearer <token>" was a
// 401), and nothing else than the token passes.
func TestAdminBearerSchemeCaseInsensitive(t *testing.T) {
	t.Parallel()
	h := api.New(api.Config{AdminToken: "the-admin-token", AuthLimit: api.AuthLimit{Burst: 100, Every: time.Hour}},
		&store.Store{DB: testenv.NewDB(t)}, nil)
	for header, want := range map[string]int{
		"Bearer the-admin-token":  200,
		"bearer the-admin-token":  200,
		"BEARER the-admin-token":  200,
		"Bearer  the-admin-token": 200,
		"Bearer the-admin-tokenx": 401,
		"Basic the-admin-token":   401,
		"Bearer":                  401,
		"Bearer ":                 401,
		"the-admin-token":         401,
		"Bearerthe-admin-token":   401,
	} {
		req := httptest.NewRequest("GET", "/api/v1/advertisers", nil)
		req.Header.Set("Authorization", header)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d %s, want %d", header, rec.Code, rec.Body, want)
		}
	}
}
