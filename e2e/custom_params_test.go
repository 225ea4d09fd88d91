package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestCustomParamsIgnoredUnlessAllowed: an offer without allow_custom_params ignores payout,
// currency and status entirely, even malformed or conflicting ones.
func TestCustomParamsIgnoredUnlessAllowed(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "3"}, map[string]any{"currency": "GBP"})
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	for _, custom := range []string{
		"payout=abc&currency=usd&status=bogus&payout=1",
		"payout=9&currency=EUR&status=pending",
		"status=rejected",
	} {
		_, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), ua)
		c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=10&%s", f.Offer.ID, custom), ua, cookie))
		if c.Status != "approved" || c.Commission.String() != "3.00" || c.Currency != "GBP" || c.Reason != nil {
			t.Errorf("%s: conversion %+v, want approved 3.00 GBP", custom, c)
		}
	}
}

// TestCustomParams: an offer with allow_custom_params honours and validates them: payout
// replaces the commission, currency the offer's, status=rejected rejects (reason advertiser) and
// status=pending holds the conversion, with no pixel, until an admin approves (the pixel fires
// then) or rejects it (reason admin).
func TestCustomParams(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cps", "percent": "10"}, map[string]any{"allow_custom_params": true})
	aff := newAffiliateServer(t, 200)
	newPixel(t, s, f.Affiliate.ID, aff)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	clickQ := fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID)
	pixel := func(extra string) string {
		_, cookie := clickAs(t, s, clickQ, ua)
		return pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&%s", f.Offer.ID, extra), ua, cookie)
	}

	// payout and currency.
	c := conversionOf(t, s, pixel("payout=5.25&currency=EUR"))
	if c.Status != "approved" || c.Commission.String() != "5.25" || c.Currency != "EUR" {
		t.Fatalf("custom payout and currency %+v", c)
	}
	eventually(t, 30*time.Second, "the affiliate pixel", func() bool { n, _ := aff.hits(); return n == 1 })
	if q := aff.pixelHits()[0]; q.Get("tx") != c.ID || q.Get("payout") != "5.25" || q.Get("currency") != "EUR" {
		t.Fatalf("pixel %v", q)
	}
	// payout=0 is a valid payout: no commission, still approved.
	if c := conversionOf(t, s, pixel("payout=0")); c.Status != "approved" || c.Commission.String() != "0.00" {
		t.Fatalf("payout=0 %+v", c)
	}
	// status=approved is the default.
	if c := conversionOf(t, s, pixel("status=approved")); c.Status != "approved" || c.Commission.String() != "2.00" {
		t.Fatalf("status=approved %+v", c)
	}

	// Three approved conversions, three pixels.
	eventually(t, 30*time.Second, "three affiliate pixels", func() bool { n, _ := aff.hits(); return n == 3 })
	const approvedSoFar = 3

	// status=rejected: rejected by the advertiser, no commission, no pixel.
	c = conversionOf(t, s, pixel("status=rejected&payout=4"))
	if c.Status != "rejected" || str(c.Reason) != "advertiser" || c.Commission.String() != "0.00" {
		t.Fatalf("status=rejected %+v", c)
	}

	// Malformed custom parameters are 400s naming them, on the pixel and the form post; nothing
	// is stored.
	before := rowsFor(t, s, "conversions", f.Offer.ID)
	for _, bad := range []struct{ q, field string }{
		{"payout=1e3", "payout"}, {"payout=-1", "payout"}, {"payout=1.999", "payout"},
		{"payout=1&payout=2", "payout"}, {"currency=eur", "currency"}, {"currency=EURO", "currency"},
		{"currency=E1R", "currency"}, {"status=hold", "status"}, {"status=APPROVED", "status"},
		{"status=pending&status=approved", "status"},
	} {
		q := fmt.Sprintf("offer_id=%d&amount=1&%s", f.Offer.ID, bad.q)
		resp, body := send(t, "GET", s.URL+"/pixel?"+q, "", "", ua)
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("X-Error"), bad.field+": ") {
			t.Errorf("pixel %s: %d %q", bad.q, resp.StatusCode, resp.Header.Get("X-Error"))
		} else {
			checkGIF(t, resp, body)
		}
		resp, _ = send(t, "POST", s.URL+"/conversion", "application/x-www-form-urlencoded", q, ua)
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("X-Error"), bad.field+": ") {
			t.Errorf("form %s: %d %q", bad.q, resp.StatusCode, resp.Header.Get("X-Error"))
		}
	}
	if n := rowsFor(t, s, "conversions", f.Offer.ID); n != before {
		t.Fatalf("malformed custom parameters stored %d conversions", n-before)
	}

	// status=pending: held, no pixel, the workflow waiting; approve → approved, the pixel fires.
	held := heldConversion(t, s, f.Offer.ID, pixel("status=pending&payout=7&id=HOLD-A-"+domain.NewID()[:6]))
	if held.Commission.String() != "7.00" {
		t.Fatalf("held conversion %+v", held)
	}
	if n, _ := aff.hits(); n != approvedSoFar {
		t.Fatalf("a held conversion fired the affiliate pixel (%d hits)", n)
	}
	var approved domain.Conversion
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+held.ID+"/approve", nil, &approved)
	if approved.ID != held.ID || approved.Status != "approved" || approved.Commission.String() != "7.00" {
		t.Fatalf("approve answered %+v", approved)
	}
	if res := workflowResult(t, s, held.WorkflowID); res.Status != "approved" || res.Delivered != 1 {
		t.Fatalf("approved workflow result %+v", res)
	}
	hits := aff.pixelHits()
	if len(hits) != approvedSoFar+1 || hits[approvedSoFar].Get("tx") != held.ID ||
		hits[approvedSoFar].Get("status") != "approved" || hits[approvedSoFar].Get("payout") != "7.00" {
		t.Fatalf("pixels after approve %v", hits)
	}
	// The same decision again (a retried request), after the workflow closed: the first outcome.
	var again domain.Conversion
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+held.ID+"/approve", nil, &again)
	if again.Status != "approved" || again.ID != held.ID {
		t.Fatalf("second approve answered %+v", again)
	}
	if code, msg := adminError(t, s, "POST", "/api/v1/conversions/"+held.ID+"/reject", nil); code != 409 || !strings.HasPrefix(msg, "status: ") {
		t.Fatalf("reject after approve: %d %q, want 409", code, msg)
	}
	if n, _ := aff.hits(); n != approvedSoFar+1 {
		t.Fatalf("the second approve fired the pixel again (%d hits)", n)
	}

	// status=pending, then reject: rejected, reason admin, no commission, no pixel ever.
	held = heldConversion(t, s, f.Offer.ID, pixel("status=pending&id=HOLD-R-"+domain.NewID()[:6]))
	var rejected domain.Conversion
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+held.ID+"/reject", map[string]any{"reason": "fraud check"}, &rejected)
	if rejected.Status != "rejected" || str(rejected.Reason) != "admin" || rejected.Commission.String() != "0.00" ||
		str(rejected.Note) != "fraud check" {
		t.Fatalf("reject answered %+v", rejected)
	}
	if res := workflowResult(t, s, held.WorkflowID); res.Status != "rejected" || res.Delivered != 0 {
		t.Fatalf("rejected workflow result %+v", res)
	}
	if n, _ := aff.hits(); n != approvedSoFar+1 {
		t.Fatalf("a rejected held conversion fired the affiliate pixel (%d hits)", n)
	}

	for path, want := range map[string]int{
		"/api/v1/conversions/nope/approve":                  404,
		"/api/v1/conversions/" + domain.NewID() + "/reject": 404,
		"/api/v1/conversions/" + c.ID + "/approve":          409, // rejected by the advertiser
	} {
		if code := admin(t, s, "POST", path, nil, nil); code != want {
			t.Errorf("POST %s: %d, want %d", path, code, want)
		}
	}
}

// heldConversion waits for a conversion held for review to be stored, then checks that it is
// held: status pending, its workflow running with no activity in flight (no pixel is firing)
// and no delivery logged.
func heldConversion(t *testing.T, s *testenv.Stack, offerID int64, workflowID string) domain.Conversion {
	t.Helper()
	invoice := workflowID[strings.LastIndex(workflowID, "/")+1:]
	var c domain.Conversion
	eventually(t, 30*time.Second, "held conversion "+invoice, func() bool {
		var list struct{ Items []domain.Conversion }
		q := url.Values{"offer_id": {fmt.Sprint(offerID)}, "invoice_id": {invoice}}
		mustAdmin(t, s, 200, "GET", "/api/v1/conversions?"+q.Encode(), nil, &list)
		if len(list.Items) == 1 {
			c = list.Items[0]
			return true
		}
		return false
	})
	if c.Status != "pending" || c.WorkflowID != workflowID {
		t.Fatalf("held conversion %+v", c)
	}
	d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflowID, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := d.WorkflowExecutionInfo.Status; st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING || len(d.PendingActivities) != 0 {
		t.Fatalf("held workflow: %s with %d pending activities", st, len(d.PendingActivities))
	}
	var detail struct {
		Deliveries []store.Delivery `json:"deliveries"`
	}
	mustAdmin(t, s, 200, "GET", "/api/v1/conversions/"+c.ID, nil, &detail)
	if len(detail.Deliveries) != 0 {
		t.Fatalf("held conversion has deliveries %+v", detail.Deliveries)
	}
	return c
}
