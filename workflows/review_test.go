package workflows

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// heldRun runs a conversion held for review (custom status=pending) to its end, with the review
// signal sent after a day, and returns its result and the status change it asked for.
func heldRun(t *testing.T, review Review) (ConversionResult, activities.StatusChange, int) {
	t.Helper()
	return heldRunWith(t, activities.Hold{}, func(env *testsuite.TestWorkflowEnvironment) {
		env.SignalWorkflow(SignalReview, review)
	})
}

// heldRunWith runs a held conversion whose offer has the given hold, calling review after a day.
func heldRunWith(t *testing.T, hold activities.Hold, review func(*testsuite.TestWorkflowEnvironment)) (ConversionResult, activities.StatusChange, int) {
	t.Helper()
	return heldRunAt(t, hold, 24*time.Hour, review)
}

// heldRunAt is heldRunWith calling review after the given time.
func heldRunAt(t *testing.T, hold activities.Hold, after time.Duration, review func(*testsuite.TestWorkflowEnvironment)) (ConversionResult, activities.StatusChange, int) {
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
			return activities.RecordOutput{Conversion: c, Pixels: []store.Pixel{{ID: 1}}, Hold: hold}, nil
		})
	// The last ConversionSummary upserted is the line of the conversion as the decision stored it.
	var summary string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(ConversionSummaryKey); ok {
			summary = v
		}
	}).Return(nil)
	var change activities.StatusChange
	var stored domain.Conversion
	env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StatusChange) (activities.RecordOutput, error) {
			change = in
			c := domain.Conversion{ID: in.ConversionID, Status: in.To, Reason: in.Reason, Note: in.Note, Commission: 200}
			if in.To == domain.ConversionRejected {
				c.Commission = 0
			}
			stored = c
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
		review(env)
	}, after)

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
	if want := conversionLine(stored); summary != want || stored.Status == "" {
		t.Errorf("ConversionSummary %q after the decision, want %q", summary, want)
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

// update sends an Update and records its outcome.
type update struct {
	accepted, rejected bool
	err                error
	conv               domain.Conversion
}

func sendUpdate(env *testsuite.TestWorkflowEnvironment, name, id string, u *update, args ...any) {
	env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() { u.accepted = true },
		OnReject: func(err error) { u.rejected, u.err = true, err },
		OnComplete: func(v any, err error) {
			u.err = err
			if c, ok := v.(domain.Conversion); ok {
				u.conv = c
			}
		},
	}, args...)
}

// TestHeldConversionApprovedByUpdate: the approve Update stores the decision and answers with the
// conversion; a reject after it is refused by the validator.
func TestHeldConversionApprovedByUpdate(t *testing.T) {
	t.Parallel()
	var approve, reject update
	res, change, fired := heldRunWith(t, activities.Hold{}, func(env *testsuite.TestWorkflowEnvironment) {
		sendUpdate(env, UpdateApprove, "conv/approve", &approve)
		sendUpdate(env, UpdateReject, "conv/reject", &reject, "too late")
	})
	if !approve.accepted || approve.err != nil || approve.conv.Status != domain.ConversionApproved {
		t.Fatalf("approve: %+v", approve)
	}
	if !reject.rejected || reject.err == nil || !strings.Contains(reject.err.Error(), "not pending") {
		t.Fatalf("reject after approve: %+v", reject)
	}
	if change.To != domain.ConversionApproved || res.Status != domain.ConversionApproved || fired != 1 {
		t.Fatalf("change %+v, result %+v, %d fired", change, res, fired)
	}
}

// TestHeldConversionRejectedByUpdate: the reject Update's reason becomes the note.
func TestHeldConversionRejectedByUpdate(t *testing.T) {
	t.Parallel()
	var reject update
	res, change, fired := heldRunWith(t, activities.Hold{Seconds: 7 * 24 * 3600}, func(env *testsuite.TestWorkflowEnvironment) {
		sendUpdate(env, UpdateReject, "conv/reject", &reject, "fraud check")
	})
	if reject.err != nil || reject.conv.Note == nil || *reject.conv.Note != "fraud check" {
		t.Fatalf("reject: %+v", reject)
	}
	if change.Reason == nil || *change.Reason != domain.ReasonAdmin || res.Status != domain.ConversionRejected || fired != 0 {
		t.Fatalf("change %+v, result %+v, %d fired", change, res, fired)
	}
}

// TestHoldExpires: with hold_seconds shorter than the review's day, the hold's expiry decides:
// approved (pixels fire) by default, rejected with reason hold_expired when the offer says reject.
func TestHoldExpires(t *testing.T) {
	t.Parallel()
	for _, expiry := range []string{"", domain.HoldExpiryReject} {
		res, change, fired := heldRunWith(t, activities.Hold{Seconds: 3600, Expiry: expiry}, func(env *testsuite.TestWorkflowEnvironment) {
			t.Errorf("expiry %q: the workflow still ran after its hold expired", expiry)
		})
		want, reason, pixels := domain.ConversionApproved, "", 1
		if expiry == domain.HoldExpiryReject {
			want, reason, pixels = domain.ConversionRejected, domain.ReasonHoldExpired, 0
		}
		if res.Status != want || res.Reason != reason || fired != pixels || change.To != want {
			t.Fatalf("expiry %q: result %+v, change %+v, %d fired", expiry, res, change, fired)
		}
	}
}

// TestHoldTimerRunsWhatIsLeft: the hold's timer runs what Record says is left of it (the
// conversion was recorded a while before this workflow task: its worker died first), not the
// offer's whole hold_seconds again.
func TestHoldTimerRunsWhatIsLeft(t *testing.T) {
	t.Parallel()
	hold := activities.Hold{Seconds: 3600, Left: 10 * time.Minute, Expiry: domain.HoldExpiryReject}
	res, change, _ := heldRunAt(t, hold, 30*time.Minute, func(*testsuite.TestWorkflowEnvironment) {
		t.Error("the hold, 10 minutes left of it, had not expired after 30 minutes")
	})
	if res.Reason != domain.ReasonHoldExpired || change.To != domain.ConversionRejected {
		t.Fatalf("result %+v, change %+v", res, change)
	}
}
