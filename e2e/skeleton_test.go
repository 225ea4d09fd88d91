// Package e2e drives the real router against a real worker, a real Temporal dev server and a real
// PostgreSQL (started by `make test`), as carts, CRMs and affiliates would.
package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestSaleFromClickToAffiliatePixel is the walking skeleton: a click, the thank-you page's pixel
// with the cookie, an approved conversion with its commission, and the affiliate's pixel, which
// fails twice and then is received exactly once.
func TestSaleFromClickToAffiliatePixel(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cps", "percent": "10"}, nil)
	aff := newAffiliateServer(t, 500, 500, 200)
	var pixel store.Pixel
	mustAdmin(t, s, 201, "POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels", f.Affiliate.ID), map[string]any{
		"url": aff.URL + "/pb?tx={transaction_id}&amount={amount}&payout={payout}&sub={sub_id}&click={click_id}&status={status}",
	}, &pixel)

	clickID, cookie := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=a%%26b", f.Offer.ID, f.Affiliate.ID), nil)
	if !domain.IsID(clickID) {
		t.Fatalf("click id %q is not 32 hex characters", clickID)
	}
	if cookie.Name != fmt.Sprintf("tf_%d", f.Offer.ID) || cookie.Value != clickID || cookie.MaxAge != 30*86400 ||
		!cookie.HttpOnly || !cookie.Secure {
		t.Fatalf("cookie %+v", cookie)
	}
	stored, err := s.Store.Click(context.Background(), clickID)
	if err != nil || stored.IP != "127.0.0.1" || stored.SubID == nil || *stored.SubID != "a&b" {
		t.Fatalf("stored click %+v, %v", stored, err)
	}

	invoice := "INV-" + domain.NewID()[:8]
	resp, body := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=19.95&id=%s", s.URL, f.Offer.ID, invoice), cookie)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || len(body) == 0 {
		t.Fatalf("pixel: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Error"))
	}
	wfID := resp.Header.Get("X-Workflow-Id")
	if want := workflows.ConversionWorkflowID(f.Offer.ID, invoice, ""); wfID != want {
		t.Fatalf("workflow id %q, want %q", wfID, want)
	}

	var res workflows.ConversionResult
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &res); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if res.Status != domain.ConversionApproved || res.Delivered != 1 || res.Failed != 0 {
		t.Fatalf("workflow result %+v", res)
	}

	conv := conversionByInvoice(t, s, f.Offer.ID, invoice)
	if conv.Status != "approved" || conv.Commission.String() != "2.00" || conv.Amount.String() != "19.95" ||
		conv.AttributionMethod == nil || *conv.AttributionMethod != "cookie" || conv.ClickID == nil || *conv.ClickID != clickID {
		t.Fatalf("conversion %+v", conv)
	}

	total, ok := aff.hits()
	if total != 3 || ok != 1 {
		t.Fatalf("affiliate got %d requests, %d successful; want 3 and 1", total, ok)
	}
	q := aff.request(2).URL.Query()
	want := url.Values{"tx": {conv.ID}, "amount": {"19.95"}, "payout": {"2.00"}, "sub": {"a&b"}, "click": {clickID}, "status": {"approved"}}
	for k, v := range want {
		if q.Get(k) != v[0] {
			t.Errorf("pixel macro %s = %q, want %q", k, q.Get(k), v[0])
		}
	}

	var detail struct {
		domain.Conversion
		Deliveries []store.Delivery `json:"deliveries"`
	}
	mustAdmin(t, s, 200, "GET", "/api/v1/conversions/"+conv.ID, nil, &detail)
	if len(detail.Deliveries) != 3 {
		t.Fatalf("deliveries %+v", detail.Deliveries)
	}
	for i, d := range detail.Deliveries {
		wantCode := []int{500, 500, 200}[i]
		if d.Attempt != i+1 || d.StatusCode != wantCode || !strings.HasPrefix(d.URL, aff.URL) {
			t.Errorf("delivery %d: %+v", i, d)
		}
	}
}

// TestLargestCommission: a cpa_cps commission of the largest flat payout plus 100% of the largest
// sale is stored and approved, not stuck in retries.
func TestLargestCommission(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa_cps", "amount": "9999999999.99", "percent": "100"}, nil)
	q := url.Values{"token": {f.Advertiser.PostbackToken}, "offer_id": {fmt.Sprint(f.Offer.ID)},
		"aff_id": {fmt.Sprint(f.Affiliate.ID)}, "amount": {"9999999999.99"}, "id": {"BIG-" + domain.NewID()[:8]}}
	resp, body := get(t, s.URL+"/postback?"+q.Encode())
	if resp.StatusCode != 202 {
		t.Fatalf("postback: %d %s", resp.StatusCode, body)
	}
	conv := conversionByInvoice(t, s, f.Offer.ID, q.Get("id"))
	if conv.Status != domain.ConversionApproved || conv.Commission.String() != "19999999999.98" {
		t.Fatalf("conversion %s commission %s", conv.Status, conv.Commission)
	}
}
