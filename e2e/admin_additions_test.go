package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestAdvertiserListAndTokenRegeneration covers the two advertiser routes the repository adds
// (docs/API.md, "Admin routes this repository adds"): the list never shows a token, newest first,
// with the usual limit; a regenerated token is shown once, and the old one is refused at once.
func TestAdvertiserListAndTokenRegeneration(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	var newer api.AdvertiserCreated
	mustAdmin(t, s, 201, "POST", "/api/v1/advertisers", map[string]any{"name": "newer " + t.Name(), "allowed_ips": []string{"0.0.0.0/0", "::/0"}}, &newer)

	// Authentication first.
	for _, call := range []struct{ method, path string }{
		{"GET", "/api/v1/advertisers"},
		{"POST", fmt.Sprintf("/api/v1/advertisers/%d/postback-token", f.Advertiser.ID)},
	} {
		if resp, _ := send(t, call.method, s.URL+call.path, "", "", ""); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without the admin token: %d, want 401", call.method, call.path, resp.StatusCode)
		}
	}

	// The list: newest first, never a token, limit 1 to 500.
	code, raw := adminRaw(t, s, "GET", "/api/v1/advertisers?limit=500", nil)
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal(raw, &list); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/advertisers: %d %s", code, raw)
	}
	if bytes.Contains(raw, []byte("postback_token")) || bytes.Contains(raw, []byte(f.Advertiser.PostbackToken)) {
		t.Errorf("the advertiser list shows a postback token: %s", raw)
	}
	pos := map[float64]int{}
	for i, a := range list.Items {
		pos[a["id"].(float64)] = i
	}
	iNew, okNew := pos[float64(newer.ID)]
	iOld, okOld := pos[float64(f.Advertiser.ID)]
	if !okNew || !okOld || iNew > iOld {
		t.Errorf("the list has the newer advertiser at %d (%v) and the older at %d (%v): want both, newest first", iNew, okNew, iOld, okOld)
	}
	if got := list.Items[iNew]["allowed_ips"]; fmt.Sprint(got) != "[0.0.0.0/0 ::/0]" {
		t.Errorf("allowed_ips in the list: %v", got)
	}
	var one struct{ Items []store.Advertiser }
	mustAdmin(t, s, 200, "GET", "/api/v1/advertisers?limit=1", nil, &one)
	if len(one.Items) != 1 {
		t.Errorf("limit=1 lists %d advertisers", len(one.Items))
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x"} {
		if code, msg := adminError(t, s, "GET", "/api/v1/advertisers?"+q, nil); code != 400 || !strings.HasPrefix(msg, "limit: ") {
			t.Errorf("GET /api/v1/advertisers?%s: %d %q, want 400 naming limit", q, code, msg)
		}
	}

	// Regeneration: bad input is 400 naming the field (before the 404 of an unknown id), a token
	// another advertiser has is 409, an unknown or malformed id 404.
	path := fmt.Sprintf("/api/v1/advertisers/%d/postback-token", f.Advertiser.ID)
	for _, bad := range []any{map[string]any{"postback_token": "short"}, map[string]any{"postback_token": 5}} {
		for _, p := range []string{path, "/api/v1/advertisers/999999999/postback-token"} {
			if code, msg := adminError(t, s, "POST", p, bad); code != 400 || !strings.HasPrefix(msg, "postback_token: ") {
				t.Errorf("POST %s %v: %d %q, want 400 naming postback_token", p, bad, code, msg)
			}
		}
	}
	if code, msg := adminError(t, s, "POST", path, []int{1}); code != 400 || !strings.HasPrefix(msg, "body: ") {
		t.Errorf("a body that is no object: %d %q", code, msg)
	}
	for _, p := range []string{"/api/v1/advertisers/999999999/postback-token", "/api/v1/advertisers/abc/postback-token"} {
		if code, _ := adminRaw(t, s, "POST", p, nil); code != 404 {
			t.Errorf("POST %s: %d, want 404", p, code)
		}
	}
	if code, msg := adminError(t, s, "POST", path, map[string]any{"postback_token": newer.PostbackToken}); code != 409 || !strings.HasPrefix(msg, "postback_token: ") {
		t.Errorf("another advertiser's token: %d %q, want 409", code, msg)
	}

	// A postback with the old token works until the regeneration, and never after.
	old := f.Advertiser.PostbackToken
	mustPostback(t, s, http.StatusAccepted, afidPost(f, "5.00", invoiceID("OLD")))
	var renewed api.AdvertiserCreated
	mustAdmin(t, s, 200, "POST", path, nil, &renewed)
	if renewed.ID != f.Advertiser.ID || renewed.Name != f.Advertiser.Name || len(renewed.PostbackToken) < 32 || renewed.PostbackToken == old {
		t.Fatalf("regenerated: %+v (old token %q)", renewed, old)
	}
	if a := mustPostback(t, s, http.StatusUnauthorized, afidPost(f, "5.00", invoiceID("OLD"))); !strings.HasPrefix(a.Error, "token: ") {
		t.Errorf("the old token after regeneration: %+v", a)
	}
	f.Advertiser.PostbackToken = renewed.PostbackToken
	mustPostback(t, s, http.StatusAccepted, afidPost(f, "5.00", invoiceID("NEW")))

	// A chosen token follows the rules of create.
	chosen := "tok_" + domain.NewID() + domain.NewID()
	mustAdmin(t, s, 200, "POST", path, map[string]any{"postback_token": chosen}, &renewed)
	if renewed.PostbackToken != chosen {
		t.Errorf("a chosen token: %q, want %q", renewed.PostbackToken, chosen)
	}
	mustPostback(t, s, http.StatusUnauthorized, afidPost(f, "5.00", invoiceID("OLD")))
	f.Advertiser.PostbackToken = chosen
	mustPostback(t, s, http.StatusAccepted, afidPost(f, "5.00", invoiceID("CHOSEN")))
}

// TestPixelPauseAndResume covers PATCH /api/v1/affiliates/:id/pixels/:pixel_id: validation and
// 404s, the answer (never the secret), and its effect: a paused pixel is not fired for the next
// approved conversion while the affiliate's other pixel is; resumed and re-pointed, it fires at
// its new URL.
func TestPixelPauseAndResume(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	paused, kept, moved := newAffiliateEndpoint(t, script(200)), newAffiliateEndpoint(t, script(200)), newAffiliateEndpoint(t, script(200))
	toPause := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": paused.URL + "/p?tx={transaction_id}", "method": "POST"})
	other := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": kept.URL + "/k?tx={transaction_id}"})
	path := fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d", f.Affiliate.ID, toPause.ID)

	if resp, _ := send(t, "PATCH", s.URL+path, "application/json", `{"status":"paused"}`, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("PATCH without the admin token: %d, want 401", resp.StatusCode)
	}
	stranger := newAffiliate(t, s)
	for body, field := range map[string]string{
		`{"status":"gone"}`: "status", `{"status":1}`: "status", `{"url":"ftp://x.example/"}`: "url",
		`{"url":""}`: "url", `{"url":"/relative"}`: "url", `[]`: "body",
	} {
		// Parameters before existence: the same 400 for an unknown pixel.
		for _, p := range []string{path, fmt.Sprintf("/api/v1/affiliates/%d/pixels/999999999", f.Affiliate.ID)} {
			if code, msg := adminError(t, s, "PATCH", p, json.RawMessage(body)); code != 400 || !strings.HasPrefix(msg, field+": ") {
				t.Errorf("PATCH %s %s: %d %q, want 400 naming %s", p, body, code, msg, field)
			}
		}
	}
	for _, p := range []string{
		fmt.Sprintf("/api/v1/affiliates/%d/pixels/999999999", f.Affiliate.ID),
		fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d", stranger.ID, toPause.ID), // another affiliate's pixel
		fmt.Sprintf("/api/v1/affiliates/%d/pixels/x", f.Affiliate.ID),
	} {
		if code, _ := adminRaw(t, s, "PATCH", p, map[string]any{"status": "paused"}); code != 404 {
			t.Errorf("PATCH %s: %d, want 404", p, code)
		}
	}

	code, raw := adminRaw(t, s, "PATCH", path, map[string]any{"status": "paused"})
	var got api.PixelCreated
	if err := json.Unmarshal(raw, &got); code != 200 || err != nil || got.Status != domain.StatusPaused || got.ID != toPause.ID || got.URL != toPause.URL || got.Method != "POST" {
		t.Fatalf("PATCH status paused: %d %s", code, raw)
	}
	if bytes.Contains(raw, []byte("secret")) || bytes.Contains(raw, []byte(toPause.Secret)) {
		t.Errorf("the PATCH answer shows the pixel's secret: %s", raw)
	}

	// The next approved conversion fires the affiliate's other pixel only.
	wfID, _ := afidConversion(t, s, f, nil)
	if res := workflowResult(t, s, wfID); res.Status != domain.ConversionApproved || res.Delivered != 1 {
		t.Fatalf("conversion with one pixel paused: %+v, want approved with one delivery", res)
	}
	c := conversionOf(t, s, wfID)
	if len(paused.receipts()) != 0 || kept.successes() != 1 || deliveriesOfPixel(t, s, toPause.ID) != 0 || deliveriesOfPixel(t, s, other.ID) != 1 {
		t.Errorf("with pixel %d paused: it got %d requests (%d logged), the other pixel %d (%d logged); want 0 and 1",
			toPause.ID, len(paused.receipts()), deliveriesOfPixel(t, s, toPause.ID), kept.successes(), deliveriesOfPixel(t, s, other.ID))
	}
	if c.Status != domain.ConversionApproved {
		t.Errorf("the conversion is %s", c.Status)
	}

	// Resumed and pointed elsewhere, it fires at its new URL.
	mustAdmin(t, s, 200, "PATCH", path, map[string]any{"status": "active", "url": moved.URL + "/m?tx={transaction_id}"}, &got)
	if got.Status != domain.StatusActive || !strings.HasPrefix(got.URL, moved.URL) {
		t.Fatalf("PATCH resume and url: %+v", got)
	}
	wfID, _ = afidConversion(t, s, f, nil)
	if res := workflowResult(t, s, wfID); res.Delivered != 2 {
		t.Fatalf("conversion with both pixels active: %+v, want two deliveries", res)
	}
	c = conversionOf(t, s, wfID)
	if len(paused.receipts()) != 0 || moved.successes() != 1 || kept.successes() != 2 {
		t.Errorf("after resuming: old URL %d, new URL %d, other pixel %d requests; want 0, 1, 2",
			len(paused.receipts()), moved.successes(), kept.successes())
	}
	if r := moved.receipts(); len(r) != 1 || r[0].Method != "POST" || !bytes.Contains(r[0].Body, []byte(c.ID)) {
		t.Errorf("the re-pointed pixel's request: %+v, want conversion %s", r, c.ID)
	}
}

// TestPayoutOverrideList covers GET /api/v1/offers/:id/payouts (docs/API.md, "Admin routes this
// repository adds"): the admin token first, 404 for an unknown or malformed offer id, each
// override listed as the PUT answered it, by affiliate id, and a second PUT replacing the first.
func TestPayoutOverrideList(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	path := fmt.Sprintf("/api/v1/offers/%d/payouts", f.Offer.ID)
	if resp, _ := send(t, "GET", s.URL+path, "", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET %s without the admin token: %d, want 401", path, resp.StatusCode)
	}
	for _, p := range []string{"/api/v1/offers/999999999/payouts", "/api/v1/offers/abc/payouts", "/api/v1/offers/0/payouts"} {
		if code, msg := adminError(t, s, "GET", p, nil); code != 404 || msg != "id: offer not found" {
			t.Errorf("GET %s: %d %q, want 404 id: offer not found", p, code, msg)
		}
	}
	list := func() []map[string]any {
		t.Helper()
		var out struct{ Items []map[string]any }
		mustAdmin(t, s, 200, "GET", path, nil, &out)
		return out.Items
	}
	if items := list(); len(items) != 0 {
		t.Fatalf("a new offer lists overrides %v, want none", items)
	}

	other := newAffiliate(t, s)
	set := func(affID int64, payout map[string]any) map[string]any {
		t.Helper()
		var put map[string]any
		mustAdmin(t, s, 200, "PUT", fmt.Sprintf("%s/%d", path, affID), payout, &put)
		return put
	}
	// The later affiliate first: the list is by affiliate id, not by when each was set.
	putOther := set(other.ID, map[string]any{"type": "cps", "percent": "12.5"})
	set(f.Affiliate.ID, map[string]any{"type": "cpa", "amount": "7"})
	putMine := set(f.Affiliate.ID, map[string]any{"type": "cpa_cps", "amount": "2.00", "percent": "5"})
	want := []map[string]any{putMine, putOther}
	if got := list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the overrides are %v, want %v (each as its last PUT answered)", got, want)
	}
	if putMine["type"] != "cpa_cps" || putMine["amount"] != "2.00" || putMine["percent"] != "5.00" ||
		putMine["aff_id"] != float64(f.Affiliate.ID) || putMine["offer_id"] != float64(f.Offer.ID) {
		t.Errorf("the second PUT answered %v", putMine)
	}
	// Another offer's overrides are not this one's.
	g := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	var none struct{ Items []map[string]any }
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/offers/%d/payouts", g.Offer.ID), nil, &none)
	if len(none.Items) != 0 {
		t.Errorf("another offer lists %v", none.Items)
	}
}
