package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// heldByPostback sends an AFID postback held as pending (custom status) and returns its stored
// conversion, its workflow waiting.
func heldByPostback(t *testing.T, s *testenv.Stack, f fixture) domain.Conversion {
	t.Helper()
	wfID, _ := afidConversion(t, s, f, url.Values{"status": {"pending"}})
	return heldConversion(t, s, f.Offer.ID, wfID)
}

// TestHoldExpiresThroughWorkerRestart: offers with hold_seconds expire their held conversions
// (approve: approved and the pixel fires; reject: rejected, reason hold_expired) on time, although
// the worker process is killed and replaced while the hold's timer runs.
func TestHoldExpiresThroughWorkerRestart(t *testing.T) {
	t.Parallel()
	s := testenv.New(t, testenv.Options{NoWorker: true})
	bin := testenv.BuildBinary(t)
	first := testenv.StartWorker(t, s, bin)
	const hold = 4 * time.Second

	aff := newAffiliateServer(t, 200)
	approveF := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"},
		map[string]any{"allow_custom_params": true, "hold_seconds": int(hold.Seconds())})
	newPixel(t, s, approveF.Affiliate.ID, aff)
	rejectF := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"},
		map[string]any{"allow_custom_params": true, "hold_seconds": int(hold.Seconds()), "hold_expiry": "reject"})
	if approveF.Offer.HoldSeconds != 4 || approveF.Offer.HoldExpiry != "approve" || rejectF.Offer.HoldExpiry != "reject" {
		t.Fatalf("offers %+v / %+v", approveF.Offer, rejectF.Offer)
	}

	toApprove, toReject := heldByPostback(t, s, approveF), heldByPostback(t, s, rejectF)
	first.Kill()
	testenv.StartWorker(t, s, bin)

	approved, rejected := conversionOf(t, s, toApprove.WorkflowID), conversionOf(t, s, toReject.WorkflowID)
	if approved.Status != domain.ConversionApproved || approved.Reason != nil || approved.Commission.String() != "2.00" {
		t.Errorf("expired hold (approve): %+v", approved)
	}
	if rejected.Status != domain.ConversionRejected || str(rejected.Reason) != domain.ReasonHoldExpired || rejected.Commission.String() != "0.00" {
		t.Errorf("expired hold (reject): %+v", rejected)
	}
	for _, c := range []domain.Conversion{approved, rejected} {
		// On time: not before the hold, and after it within the new worker's pick-up (a killed
		// worker's sticky queue hands its tasks over after 5 s).
		if took := c.UpdatedAt.Sub(c.CreatedAt); took < hold || took > hold+15*time.Second {
			t.Errorf("%s decided %s after it was recorded, want %s", c.Status, took, hold)
		}
	}
	if n, ok := aff.hits(); n != 1 || ok != 1 {
		t.Errorf("affiliate pixel received %d times, want once (the approved expiry)", n)
	}
	if code, msg := adminError(t, s, "POST", "/api/v1/conversions/"+toReject.ID+"/approve", nil); code != 409 || !strings.HasPrefix(msg, "status: ") {
		t.Errorf("approve after expiry: %d %q, want 409", code, msg)
	}
}

// TestReviewWhileWorkerDown: with no worker, approve answers 503 with Retry-After after a bounded
// wait and says the decision may still apply; once a worker is back, the same request answers 200
// with the approved conversion, and its pixel fires once.
func TestReviewWhileWorkerDown(t *testing.T) {
	t.Parallel()
	s := testenv.New(t, testenv.Options{NoWorker: true})
	bin := testenv.BuildBinary(t)
	w := testenv.StartWorker(t, s, bin)
	aff := newAffiliateServer(t, 200)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, map[string]any{"allow_custom_params": true})
	newPixel(t, s, f.Affiliate.ID, aff)
	held := heldByPostback(t, s, f)
	w.Kill()

	start := time.Now()
	code, raw := adminRaw(t, s, "POST", "/api/v1/conversions/"+held.ID+"/approve", nil)
	if took := time.Since(start); code != 503 || took > 15*time.Second || !strings.Contains(string(raw), "may still apply") {
		t.Fatalf("approve with the worker down: %d after %s: %s", code, took, raw)
	}
	testenv.StartWorker(t, s, bin)
	var approved domain.Conversion
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+held.ID+"/approve", nil, &approved)
	if approved.Status != domain.ConversionApproved || approved.ID != held.ID {
		t.Fatalf("approve after the worker's return: %+v", approved)
	}
	if res := workflowResult(t, s, held.WorkflowID); res.Status != domain.ConversionApproved || res.Delivered != 1 {
		t.Fatalf("workflow result %+v", res)
	}
	if n, _ := aff.hits(); n != 1 {
		t.Fatalf("affiliate pixel received %d times, want once", n)
	}
}

// TestOfferHoldFields: hold_seconds and hold_expiry are validated, stored, read and patched.
func TestOfferHoldFields(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	if f.Offer.HoldSeconds != 0 || f.Offer.HoldExpiry != domain.HoldExpiryApprove {
		t.Fatalf("defaults: %+v", f.Offer)
	}
	path := fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID)
	for _, bad := range []map[string]any{
		{"hold_seconds": -1}, {"hold_seconds": 31536001}, {"hold_seconds": "60"}, {"hold_seconds": 1.5},
		{"hold_expiry": "maybe"}, {"hold_expiry": 1},
	} {
		var field string
		for k := range bad {
			field = k
		}
		if code, msg := adminError(t, s, "PATCH", path, bad); code != 400 || !strings.HasPrefix(msg, field+": ") {
			t.Errorf("PATCH %v: %d %q", bad, code, msg)
		}
	}
	var o store.Offer
	mustAdmin(t, s, 200, "PATCH", path, map[string]any{"hold_seconds": 31536000, "hold_expiry": "reject"}, &o)
	mustAdmin(t, s, 200, "GET", path, nil, &o)
	if o.HoldSeconds != 31536000 || o.HoldExpiry != domain.HoldExpiryReject {
		t.Fatalf("after PATCH: %+v", o)
	}
}
