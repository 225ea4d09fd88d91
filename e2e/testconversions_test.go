package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// TestTestConversion checks API.md's "Test conversions": a test pixel runs the whole workflow
// (attribution, commission, status), is stored with test: true under conversion/<offer>/test/<id>,
// logs each affiliate pixel (GET and POST) as attempt 0 with the exact URL or body and sends none,
// leaves its click unclaimed, its invoice free and the reports untouched. A real conversion with
// the same invoice afterwards is credited to the same click, and is not a duplicate.
func TestTestConversion(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2.50"}, nil)
	aff := newAffiliateServer(t, 200)
	getPixel := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/pb?tx={transaction_id}&payout={payout}&status={status}"})
	postPixel := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/hook", "method": "POST"})

	const ua = "test-conversion-ua"
	clickID, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=t", f.Offer.ID, f.Affiliate.ID), ua)
	invoice := invoiceID("test")
	wf := pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=10.00&id=%s&test=1", f.Offer.ID, invoice), ua, cookie)
	prefix := fmt.Sprintf("conversion/%d/test/", f.Offer.ID)
	if !strings.HasPrefix(wf, prefix) || !domain.IsID(strings.TrimPrefix(wf, prefix)) {
		t.Fatalf("test workflow ID %q, want %s<conversion id>", wf, prefix)
	}
	res := workflowResult(t, s, wf)
	if res.Delivered != 0 || res.Failed != 0 {
		t.Errorf("test conversion delivered %d, failed %d pixels: none is sent", res.Delivered, res.Failed)
	}
	tc := conversionDetail(t, s, res.ConversionID)
	if !tc.Test || tc.ID != strings.TrimPrefix(wf, prefix) || tc.Status != domain.ConversionApproved ||
		tc.Commission.String() != "2.50" || str(tc.AttributionMethod) != domain.MethodCookie || str(tc.ClickID) != clickID {
		t.Fatalf("test conversion %+v", tc.Conversion)
	}
	var raw map[string]any
	_, body := adminRaw(t, s, "GET", "/api/v1/conversions/"+tc.ID, nil)
	if err := json.Unmarshal(body, &raw); err != nil || raw["test"] != true {
		t.Errorf("conversion JSON test = %v (%v)", raw["test"], err)
	}
	if len(tc.Deliveries) != 2 {
		t.Fatalf("%d deliveries logged, want one per pixel: %+v", len(tc.Deliveries), tc.Deliveries)
	}
	for _, d := range tc.Deliveries {
		if d.Attempt != 0 || d.StatusCode != 0 || d.Error != activities.TestNotSent {
			t.Errorf("delivery %+v: want attempt 0, status_code 0, error %q", d, activities.TestNotSent)
		}
		switch d.PixelID {
		case getPixel.ID:
			want := aff.URL + "/pb?tx=" + tc.ID + "&payout=2.50&status=approved"
			if d.Method != http.MethodGet || d.URL != want {
				t.Errorf("GET pixel logged %s %s, want %s", d.Method, d.URL, want)
			}
		case postPixel.ID:
			var sent map[string]string
			if err := json.Unmarshal([]byte(d.Body), &sent); err != nil || d.Method != http.MethodPost ||
				d.URL != aff.URL+"/hook" || sent["transaction_id"] != tc.ID || sent["payout"] != "2.50" || sent["click_id"] != clickID {
				t.Errorf("POST pixel logged %s %s %s (%v)", d.Method, d.URL, d.Body, err)
			}
		default:
			t.Errorf("delivery of unknown pixel %d", d.PixelID)
		}
	}
	if total, _ := aff.hits(); total != 0 {
		t.Errorf("the affiliate received %d requests for a test conversion", total)
	}
	var convertedBy *string
	if err := s.DB.Get(&convertedBy, `SELECT converted_by FROM clicks WHERE click_id = $1`, clickID); err != nil || convertedBy != nil {
		t.Fatalf("click claimed by %v after a test conversion (%v)", convertedBy, err)
	}
	today := tc.CreatedAt.UTC().Format("2006-01-02")
	rows := report(t, s, "group_by=offer&from="+today+"&to="+today, "offer_id")
	for _, r := range rows {
		if string(r["offer_id"]) == fmt.Sprint(f.Offer.ID) && (string(r["conversions"]) != "0" || string(r["revenue"]) != `"0.00"`) {
			t.Errorf("report counts the test conversion: %s conversions, revenue %s", r["conversions"], r["revenue"])
		}
	}

	// The real sale: the same invoice is free and the same click unused.
	real := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=10.00&id=%s", f.Offer.ID, invoice), ua, cookie))
	if real.Test || real.Status != domain.ConversionApproved || str(real.ClickID) != clickID ||
		real.WorkflowID != workflows.ConversionWorkflowID(f.Offer.ID, invoice, "") {
		t.Fatalf("real conversion after the test: %+v", real)
	}
	eventually(t, 30e9, "the real conversion's two pixels", func() bool { _, ok := aff.hits(); return ok == 2 })
	if n := duplicatesCounted(t, s, f.Offer.ID, invoice); n != 0 {
		t.Errorf("%d duplicates counted", n)
	}
	rows = report(t, s, "group_by=offer&from="+today+"&to="+today, "offer_id")
	found := false
	for _, r := range rows {
		if string(r["offer_id"]) == fmt.Sprint(f.Offer.ID) {
			found = true
			if string(r["conversions"]) != "1" || string(r["revenue"]) != `"10.00"` || string(r["duplicates"]) != "0" {
				t.Errorf("report: %s conversions, revenue %s, duplicates %s; want only the real one", r["conversions"], r["revenue"], r["duplicates"])
			}
		}
	}
	if !found {
		t.Error("no report row for the offer")
	}
}

// TestTestFlagOnEveryConversionEndpoint: test=true on a postback and on a form post makes a test
// conversion; a malformed flag is a 400 naming the field.
func TestTestFlagOnEveryConversionEndpoint(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1.00"}, nil)
	prefix := fmt.Sprintf("conversion/%d/test/", f.Offer.ID)

	q := url.Values{"token": {f.Advertiser.PostbackToken}, "offer_id": {fmt.Sprint(f.Offer.ID)},
		"aff_id": {fmt.Sprint(f.Affiliate.ID)}, "amount": {"5.00"}, "id": {invoiceID("pb")}, "test": {"true"}}
	ans := mustPostback(t, s, http.StatusAccepted, q)
	if !strings.HasPrefix(ans.WorkflowID, prefix) {
		t.Fatalf("AFID test postback workflow %q", ans.WorkflowID)
	}
	if c := conversionOf(t, s, ans.WorkflowID); !c.Test || str(c.AttributionMethod) != domain.MethodAFID {
		t.Errorf("AFID test postback stored %+v", c)
	}

	resp, _ := send(t, "POST", s.URL+"/conversion", "application/x-www-form-urlencoded",
		fmt.Sprintf("offer_id=%d&amount=3.00&test=1", f.Offer.ID), "form-ua")
	if wf := resp.Header.Get("X-Workflow-Id"); resp.StatusCode != http.StatusNoContent || !strings.HasPrefix(wf, prefix) {
		t.Fatalf("test form post: %d, workflow %q", resp.StatusCode, wf)
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); !c.Test || c.Reason == nil || *c.Reason != domain.ReasonUnattributed {
		t.Errorf("test form post stored %+v", c)
	}

	resp, body := get(t, s.URL+fmt.Sprintf("/pixel?offer_id=%d&amount=1.00&test=yes", f.Offer.ID))
	if msg := errorOf(resp, body); resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(msg, "test") {
		t.Errorf("test=yes: %d %q, want 400 naming test", resp.StatusCode, msg)
	}
}

// TestFirstPartyClickIDFallsThrough: a click_id that names no usable click of the offer (another
// offer's click) falls through to the tf_ cookie; one that does wins over the cookie.
func TestFirstPartyClickIDFallsThrough(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1.00"}, nil)
	g := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1.00"}, nil)
	const ua = "first-party-ua"
	first, _ := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), ua+"-1")
	second, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), ua)
	other, _ := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", g.Offer.ID, g.Affiliate.ID), ua)

	c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1.00&click_id=%s", f.Offer.ID, first), ua, cookie))
	if str(c.AttributionMethod) != domain.MethodFirstParty || str(c.ClickID) != first {
		t.Errorf("click_id of the offer: %s %s, want first_party %s", str(c.AttributionMethod), str(c.ClickID), first)
	}
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1.00&click_id=%s", f.Offer.ID, other), ua, cookie))
	if str(c.AttributionMethod) != domain.MethodCookie || str(c.ClickID) != second {
		t.Errorf("another offer's click_id: %s %s, want cookie %s", str(c.AttributionMethod), str(c.ClickID), second)
	}
	resp, _ := send(t, "POST", s.URL+"/conversion", "application/x-www-form-urlencoded",
		fmt.Sprintf("offer_id=%d&amount=1.00&click_id=%s", f.Offer.ID, domain.NewID()), ua+"-none")
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Reason == nil || *c.Reason != domain.ReasonUnattributed {
		t.Errorf("unknown click_id, no cookie, no backup: %+v", c)
	}
}
