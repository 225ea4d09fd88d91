package activities

import (
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
)

// TestRecordInputConversion: the custom currency replaces the offer's, and what attribution did
// not find stays NULL.
func TestRecordInputConversion(t *testing.T) {
	t.Parallel()
	in := RecordInput{
		Request:     domain.ConversionRequest{ConversionID: "c1", OfferID: 3, Amount: 1995, CustomCurrency: "EUR"},
		Attribution: Attribution{Method: domain.MethodAFID, AffID: 7, Currency: "USD"},
	}
	c := in.Conversion()
	if c.Currency != "EUR" || c.AffID == nil || *c.AffID != 7 || c.ClickID != nil || c.InvoiceID != nil ||
		*c.AttributionMethod != domain.MethodAFID || c.Amount != 1995 {
		t.Fatalf("conversion %+v", c)
	}
}

// TestRecordInputDecidesOlderHistories: an attribution recorded by an older worker carried its
// verdict in RejectReason and no facts; Decide must reach the same verdict from it.
func TestRecordInputDecidesOlderHistories(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for reason, want := range map[string]string{
		"":                             domain.ConversionApproved,
		domain.ReasonUnattributed:      domain.ReasonUnattributed,
		domain.ReasonClickExpired:      domain.ReasonClickExpired,
		domain.ReasonInactiveAffiliate: domain.ReasonInactiveAffiliate,
	} {
		att := Attribution{Method: domain.MethodClickID, ClickID: "c", AffID: 7, SingleUse: true, RejectReason: reason,
			Payout: domain.Payout{Type: domain.PayoutCPA, Amount: 200}}
		if reason == domain.ReasonUnattributed {
			att.Method, att.ClickID = "", ""
		}
		d := domain.Decide(RecordInput{Request: domain.ConversionRequest{ReceivedAt: now, Amount: 1995}, Attribution: att}.DecideInput())
		got := d.Reason
		if got == "" {
			got = d.Status
		}
		if got != want {
			t.Errorf("reject_reason %q: decided %+v, want %s", reason, d, want)
		}
	}
}

// TestHoldRunsFromTheRecording: the hold Record hands the workflow is what is left of the offer's
// hold_seconds since the conversion was stored, so a workflow task retried after its worker died
// (Record then answers from the stored row) does not wait the whole hold again.
func TestHoldRunsFromTheRecording(t *testing.T) {
	t.Parallel()
	stored := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, k := range []struct {
		name    string
		seconds int64
		now     time.Time
		want    time.Duration
	}{
		{"just stored", 3600, stored.Add(20 * time.Millisecond), time.Hour - 20*time.Millisecond},
		{"a retried task, 10 s later", 3600, stored.Add(10 * time.Second), time.Hour - 10*time.Second},
		{"past the hold: expires at once", 5, stored.Add(time.Minute), time.Millisecond},
		{"the database's clock ahead of the worker's", 5, stored.Add(-time.Second), 5 * time.Second},
		{"no hold: wait for a decision", 0, stored.Add(time.Hour), 0},
	} {
		h := holdOf(k.seconds, domain.HoldExpiryReject, stored, k.now)
		if h.Left != k.want || h.Seconds != k.seconds || h.Expiry != domain.HoldExpiryReject {
			t.Errorf("%s: %+v, want %s left", k.name, h, k.want)
		}
	}
}
