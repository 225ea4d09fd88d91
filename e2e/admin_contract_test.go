package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestAdminParametersGivenTwice: docs/API.md's "Where parameters come from" holds on the admin
// API too. A query parameter or a body field (at the top or inside payout, caps, macros) given
// twice with different values is a 400 naming it, never the first or last value silently; a
// malformed query string is a 400, never a list with its filter dropped; the same value twice is
// fine.
func TestAdminParametersGivenTwice(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	pixel := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": "http://127.0.0.1:9/pb"})
	offer := fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID)
	for _, c := range []struct{ method, path, body, field string }{
		{"GET", "/api/v1/conversions?offer_id=1&offer_id=2", "", "offer_id"},
		{"GET", "/api/v1/conversions?aff_id=1&aff_id=2", "", "aff_id"},
		{"GET", "/api/v1/conversions?invoice_id=A&invoice_id=B", "", "invoice_id"},
		{"GET", "/api/v1/conversions?status=pending&status=approved", "", "status"},
		{"GET", "/api/v1/conversions?limit=1&limit=2", "", "limit"},
		{"GET", "/api/v1/conversions?offer_id=%zz", "", "query"},
		{"GET", "/api/v1/advertisers?limit=1&limit=2", "", "limit"},
		{"GET", "/api/v1/reports?group_by=offer&group_by=day", "", "group_by"},
		{"GET", "/api/v1/reports?tz=UTC&tz=Europe/Berlin", "", "tz"},
		{"GET", "/api/v1/reports?from=2026-01-01&from=2026-01-02", "", "from"},
		{"GET", "/api/v1/reports?offer_id=1&offer_id=2", "", "offer_id"},
		{"GET", offer + "/tracking-code?aff_id=1&aff_id=2", "", "aff_id"},
		{"POST", "/api/v1/affiliates", `{"name": "a", "name": "b"}`, "name"},
		{"PATCH", offer, `{"cookie_days": 10, "cookie_days": 20}`, "cookie_days"},
		{"PATCH", offer, `{"payout": {"type": "cpa", "type": "cps"}}`, "payout.type"},
		{"PATCH", offer, `{"caps": {"daily": 1, "daily": 2}}`, "caps.daily"},
		{"PUT", offer + fmt.Sprintf("/payouts/%d", f.Affiliate.ID), `{"type": "cpa", "amount": "1", "amount": "2"}`, "amount"},
		{"POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d/test", f.Affiliate.ID, pixel.ID), `{"macros": {"payout": "1", "payout": "2"}}`, "macros.payout"},
	} {
		code, msg := adminRawBody(t, s, c.method, c.path, c.body)
		if code != 400 || !strings.HasPrefix(msg, c.field+": ") {
			t.Errorf("%s %s %s: %d %q, want 400 naming %s", c.method, c.path, c.body, code, msg, c.field)
		}
	}
	// The same value twice is one value.
	if code, msg := adminRawBody(t, s, "GET", fmt.Sprintf("/api/v1/conversions?offer_id=%d&offer_id=%d", f.Offer.ID, f.Offer.ID), ""); code != 200 {
		t.Errorf("offer_id twice, same value: %d %q", code, msg)
	}
	if code, msg := adminRawBody(t, s, "PATCH", offer, `{"cookie_days": 10, "cookie_days": 10}`); code != 200 {
		t.Errorf("cookie_days twice, same value: %d %q", code, msg)
	}
}

// TestEventListNewestFirstWithLimit: GET /offers/:id/events is a list like the others of
// docs/API.md's Admin API: newest first, limit default 50, at most 500 (it was oldest first and
// took no limit).
func TestEventListNewestFirstWithLimit(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	path := fmt.Sprintf("/api/v1/offers/%d/events", f.Offer.ID)
	names := []string{"lead", "signup", "upsell"}
	for _, n := range names {
		mustAdmin(t, s, 201, "POST", path, map[string]any{"name": n, "payout": cpa2}, nil)
	}
	var list struct{ Items []store.Event }
	mustAdmin(t, s, 200, "GET", path, nil, &list)
	if len(list.Items) != 3 || list.Items[0].Name != "upsell" || list.Items[2].Name != "lead" {
		t.Errorf("events %+v, want upsell, signup, lead", list.Items)
	}
	mustAdmin(t, s, 200, "GET", path+"?limit=2", nil, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "upsell" || list.Items[1].Name != "signup" {
		t.Errorf("limit=2: events %+v, want upsell, signup", list.Items)
	}
	for _, l := range []string{"0", "-1", "501", "1e3", "abc"} {
		if code, msg := adminError(t, s, "GET", path+"?limit="+l, nil); code != 400 || !strings.HasPrefix(msg, "limit: ") {
			t.Errorf("limit=%s: %d %q, want 400 naming limit", l, code, msg)
		}
	}
	// The tracking code still has a snippet for every event.
	var code api.TrackingCode
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/offers/%d/tracking-code", f.Offer.ID), nil, &code)
	if len(code.Events) != 3 {
		t.Errorf("tracking code events %+v", code.Events)
	}
}
