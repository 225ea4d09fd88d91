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
		{"GET", "/api/v1/conversions?offer_id=%zz", "", "offer_id"},
		{"GET", "/api/v1/reports?tz=%zz", "", "tz"},
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
	// A pair the route does not read is not looked at, even one that does not decode.
	if code, msg := adminRawBody(t, s, "GET", fmt.Sprintf("/api/v1/conversions?utm_campaign=50%%off&offer_id=%d", f.Offer.ID), ""); code != 200 {
		t.Errorf("an undecodable pair of no parameter of ours: %d %q", code, msg)
	}
	if code, msg := adminRawBody(t, s, "GET", "/api/v1/reports?group_by=", ""); code != 400 || !strings.HasPrefix(msg, "group_by: ") {
		t.Errorf("group_by given empty: %d %q, want 400 naming group_by", code, msg)
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

// TestAdminUnknownIDs: "Unknown id: 404", on every admin route that takes one, in the path or in
// the body, and the message starts with the parameter's name like every other error ("offer not
// found" named no field; an unknown advertiser_id in a new offer was a 400, an unknown offer_id
// in a new pixel "affiliate or offer not found").
func TestAdminUnknownIDs(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	pixel := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": "http://127.0.0.1:9/pb"})
	const unknown = "999999999"
	offer, aff := fmt.Sprint(f.Offer.ID), fmt.Sprint(f.Affiliate.ID)
	newOffer := map[string]any{"advertiser_id": 999999999, "name": "o", "landing_url": "https://x.example/", "payout": cpa2}
	for _, c := range []struct {
		method, path string
		body         any
		prefix       string
	}{
		{"POST", "/api/v1/offers", newOffer, "advertiser_id: "},
		{"GET", "/api/v1/offers/" + unknown, nil, "id: "},
		{"GET", "/api/v1/offers/abc", nil, "id: "},
		{"PATCH", "/api/v1/offers/" + unknown, map[string]any{"name": "x"}, "id: "},
		{"PATCH", "/api/v1/affiliates/" + unknown, map[string]any{"name": "x"}, "id: "},
		{"PUT", "/api/v1/offers/" + unknown + "/payouts/" + aff, cpa2, "id: "},
		{"PUT", "/api/v1/offers/" + offer + "/payouts/" + unknown, cpa2, "aff_id: "},
		{"PUT", "/api/v1/offers/" + offer + "/payouts/0", cpa2, "aff_id: "},
		{"POST", "/api/v1/offers/" + unknown + "/events", map[string]any{"name": "lead", "payout": cpa2}, "id: "},
		{"GET", "/api/v1/offers/" + unknown + "/events", nil, "id: "},
		{"GET", "/api/v1/offers/" + unknown + "/tracking-code", nil, "id: "},
		{"GET", "/api/v1/offers/" + offer + "/tracking-code?aff_id=" + unknown, nil, "aff_id: "},
		{"POST", "/api/v1/affiliates/" + unknown + "/pixels", map[string]any{"url": "https://x.example/"}, "id: "},
		{"POST", "/api/v1/affiliates/" + aff + "/pixels", map[string]any{"url": "https://x.example/", "offer_id": 999999999}, "offer_id: "},
		{"POST", "/api/v1/affiliates/" + aff + "/pixels/" + unknown + "/test", nil, "pixel_id: "},
		{"POST", "/api/v1/affiliates/" + unknown + fmt.Sprintf("/pixels/%d/test", pixel.ID), nil, "pixel_id: "},
		{"PATCH", "/api/v1/affiliates/" + aff + "/pixels/" + unknown, map[string]any{"status": "paused"}, "pixel_id: "},
		{"POST", "/api/v1/advertisers/" + unknown + "/postback-token", nil, "id: "},
		{"GET", "/api/v1/clicks/" + strings.Repeat("0", 32), nil, "click_id: "},
		{"GET", "/api/v1/conversions/" + unknown, nil, "id: "},
		{"POST", "/api/v1/conversions/" + unknown + "/approve", nil, "id: "},
		{"POST", "/api/v1/conversions/" + unknown + "/reject", nil, "id: "},
		{"POST", "/api/v1/conversions/" + unknown + "/reverse", nil, "id: "},
	} {
		if code, msg := adminError(t, s, c.method, c.path, c.body); code != 404 || !strings.HasPrefix(msg, c.prefix) || !strings.HasSuffix(msg, " not found") {
			t.Errorf("%s %s: %d %q, want 404 %q...", c.method, c.path, code, msg, c.prefix)
		}
	}
}

// TestOfferPatchAdvertiser: PATCH /offers/:id updates every field a create sets, advertiser_id
// included (it was ignored with a 200): the offer moves to that advertiser, whose postback token
// its snippets then carry; an unknown advertiser is a 404 naming advertiser_id and changes nothing.
func TestOfferPatchAdvertiser(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	var other api.AdvertiserCreated
	mustAdmin(t, s, 201, "POST", "/api/v1/advertisers", map[string]any{"name": "other " + t.Name()}, &other)
	path := fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID)
	if code, msg := adminError(t, s, "PATCH", path, map[string]any{"advertiser_id": 999999999, "name": "renamed"}); code != 404 || !strings.HasPrefix(msg, "advertiser_id: ") {
		t.Errorf("unknown advertiser: %d %q, want 404 naming advertiser_id", code, msg)
	}
	if code, msg := adminError(t, s, "PATCH", path, map[string]any{"advertiser_id": 0}); code != 400 || !strings.HasPrefix(msg, "advertiser_id: ") {
		t.Errorf("advertiser_id 0: %d %q, want 400 naming advertiser_id", code, msg)
	}
	var o store.Offer
	mustAdmin(t, s, 200, "GET", path, nil, &o)
	if o.AdvertiserID != f.Advertiser.ID || o.Name != f.Offer.Name {
		t.Fatalf("refused patches changed the offer: %+v", o)
	}
	mustAdmin(t, s, 200, "PATCH", path, map[string]any{"advertiser_id": other.ID}, &o)
	if o.AdvertiserID != other.ID {
		t.Fatalf("patched offer's advertiser_id %d, want %d", o.AdvertiserID, other.ID)
	}
	var code api.TrackingCode
	mustAdmin(t, s, 200, "GET", path+"/tracking-code", nil, &code)
	if !strings.Contains(code.ClickIDPostback, "token="+other.PostbackToken) {
		t.Errorf("tracking code after the move: %s", code.ClickIDPostback)
	}
}
