package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// heldRun runs a conversion held for review (custom status=pending) to its end, with the review
// signal sent after a day, and returns its result and the status change it asked for.
func heldRun(t *testing.T, review Review) (ConversionResult, activities.StatusChange, int) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Activities{}
	env.RegisterActivity(a)

	att := attributed()
	att.Payout = domain.Payout{Type: domain.PayoutCPA, Amount: 200}
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(att, nil)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordInput) (activities.RecordOutput, error) {
			c := decided(in)
			if c.Status != domain.ConversionPending {
				t.Errorf("recorded status %s, want pending", c.Status)
			}
			return activities.RecordOutput{Conversion: c, Pixels: []store.Pixel{{ID: 1}}}, nil
		})
	var change activities.StatusChange
	env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StatusChange) (activities.RecordOutput, error) {
			change = in
			c := domain.Conversion{ID: in.ConversionID, Status: in.To, Reason: in.Reason, Commission: 200}
			if in.To == domain.ConversionRejected {
				c.Commission = 0
			}
			return activities.RecordOutput{Conversion: c, Pixels: []store.Pixel{{ID: 1}}}, nil
		})
	fired := 0
	env.OnActivity(a.FirePixel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FireInput) (activities.FireResult, error) {
			fired++
			if in.Event != domain.ConversionApproved || in.Macros["status"] != domain.ConversionApproved {
				t.Errorf("pixel fired for %s / %s", in.Event, in.Macros["status"])
			}
			return activities.FireResult{StatusCode: 200, Attempt: 1}, nil
		})
	env.RegisterDelayedCallback(func() {
		if fired != 0 {
			t.Errorf("%d pixels fired before the review", fired)
		}
		env.SignalWorkflow(SignalReview, review)
	}, 24*time.Hour)

	env.ExecuteWorkflow(Conversion, domain.ConversionRequest{ConversionID: "conv", WorkflowID: "conversion/1/INV",
		OfferID: 1, InvoiceID: "INV", Amount: 1995, Source: domain.SourcePage, CustomStatus: domain.ConversionPending})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	return res, change, fired
}

// TestHeldConversionApproved: a held conversion waits for the review signal, then is approved
// and fires its pixel.
func TestHeldConversionApproved(t *testing.T) {
	t.Parallel()
	res, change, fired := heldRun(t, Review{Approve: true})
	if change.From != domain.ConversionPending || change.To != domain.ConversionApproved || change.Reason != nil {
		t.Fatalf("status change %+v", change)
	}
	if res.Status != domain.ConversionApproved || res.Delivered != 1 || fired != 1 {
		t.Fatalf("result %+v, %d pixels fired", res, fired)
	}
}

// TestHeldConversionRejected: a rejected held conversion gets reason admin and fires nothing.
func TestHeldConversionRejected(t *testing.T) {
	t.Parallel()
	res, change, fired := heldRun(t, Review{Approve: false, Reason: "fraud"})
	if change.To != domain.ConversionRejected || change.Reason == nil || *change.Reason != domain.ReasonAdmin {
		t.Fatalf("status change %+v", change)
	}
	if res.Status != domain.ConversionRejected || res.Reason != domain.ReasonAdmin || res.Delivered != 0 || fired != 0 {
		t.Fatalf("result %+v, %d pixels fired", res, fired)
	}
}
