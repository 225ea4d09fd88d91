package workflows

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
	"go.temporal.io/sdk/worker"
)

var a *activities.Activities

func request() domain.ConversionRequest {
	return domain.ConversionRequest{
		ConversionID: "c1", WorkflowID: ConversionWorkflowID(1, "INV-1", "c1"), OfferID: 1, InvoiceID: "INV-1",
		Amount: 1995, Source: domain.SourcePage, CookieClickID: "0123456789abcdef0123456789abcdef",
		IP: "203.0.113.9", ReceivedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Retry: domain.RetrySchedule{Initial: time.Second, MaxInterval: time.Minute, For: time.Hour},
	}
}

func attributed() activities.Attribution {
	return activities.Attribution{
		Method: domain.MethodCookie, ClickID: "0123456789abcdef0123456789abcdef", AffID: 7, IP: "203.0.113.9",
		ClickCreatedAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), AffiliateActive: true,
		Payout: domain.Payout{Type: domain.PayoutCPS, Percent: 1000}, Currency: "USD", SingleUse: true,
		CookieWindow: 30 * 24 * time.Hour,
	}
}

// decided is what Record stores for in, without a database: the conversion as domain.Decide
// decides it (with an unused click).
func decided(in activities.RecordInput) domain.Conversion {
	c := in.Conversion()
	c.Apply(domain.Decide(in.DecideInput()))
	return c
}

// recordAsGiven makes the Record mock store the decided conversion, with two pixels.
func recordAsGiven(_ context.Context, in activities.RecordInput) (activities.RecordOutput, error) {
	return activities.RecordOutput{Conversion: decided(in), Pixels: []store.Pixel{{ID: 1}, {ID: 2}}}, nil
}

func TestConversionApprovedFiresEveryPixel(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterActivity(a)
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(attributed(), nil)
	var recorded activities.RecordInput
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) (activities.RecordOutput, error) {
		recorded = in
		return recordAsGiven(context.Background(), in)
	})
	fired := map[int64]map[string]string{}
	upserted := map[string]string{}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		for _, k := range []temporal.SearchAttributeKeyKeyword{AffiliateIDKey, ClickIDKey, AttributionMethodKey, ConversionStatusKey, ConversionSummaryKey} {
			if v, ok := sa.GetKeyword(k); ok {
				upserted[k.GetName()] = v
			}
		}
	}).Return(nil)
	var firedMu sync.Mutex // the pixels' activities run at once
	env.OnActivity(a.FirePixel, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FireInput) (activities.FireResult, error) {
		firedMu.Lock()
		defer firedMu.Unlock()
		fired[in.Pixel.ID] = in.Macros
		return activities.FireResult{StatusCode: 200, Attempt: 1}, nil
	})

	env.ExecuteWorkflow(Conversion, request())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.ConversionApproved || res.Commission != 200 || res.Delivered != 2 || res.Failed != 0 {
		t.Fatalf("result %+v", res)
	}
	if recorded.Attribution != attributed() || recorded.Request.ConversionID != "c1" {
		t.Fatalf("recorded %+v", recorded)
	}
	if len(fired) != 2 || fired[1]["payout"] != "2.00" || fired[2]["transaction_id"] != "c1" || fired[1]["status"] != "approved" {
		t.Fatalf("fired %+v", fired)
	}
	want := map[string]string{"AffiliateId": "7", "ClickId": "0123456789abcdef0123456789abcdef", "AttributionMethod": "cookie", "ConversionStatus": "approved",
		"ConversionSummary": "approved · 2.00 USD to affiliate 7 · cookie"}
	for k, v := range want {
		if upserted[k] != v {
			t.Errorf("search attribute %s upserted %q, want %q", k, upserted[k], v)
		}
	}
}

func TestConversionUnattributedIsRejectedWithoutPixels(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterActivity(a)
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(
		activities.Attribution{Currency: "USD", IP: "203.0.113.9", CookieWindow: 30 * 24 * time.Hour}, nil)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordInput) (activities.RecordOutput, error) {
		return activities.RecordOutput{Conversion: decided(in)}, nil
	})
	env.ExecuteWorkflow(Conversion, request())
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.ConversionRejected || res.Reason != domain.ReasonUnattributed || res.Commission != 0 {
		t.Fatalf("result %+v", res)
	}
	env.AssertNotCalled(t, "FirePixel", mock.Anything, mock.Anything)
}

func TestConversionDuplicateStopsBeforePixels(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterActivity(a)
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(attributed(), nil)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(activities.RecordOutput{Duplicate: true}, nil)
	env.ExecuteWorkflow(Conversion, request())
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusDuplicate {
		t.Fatalf("result %+v", res)
	}
	env.AssertNotCalled(t, "FirePixel", mock.Anything, mock.Anything)
}

func TestConversionHeldWaitsForReview(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterActivity(a)
	req := request()
	req.CustomStatus = domain.ConversionPending
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(attributed(), nil)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(recordAsGiven)
	var change activities.StatusChange
	env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.StatusChange) (activities.RecordOutput, error) {
		change = in
		c := domain.Conversion{ID: "c1", Status: in.To, Commission: 200}
		return activities.RecordOutput{Conversion: c, Pixels: []store.Pixel{{ID: 1}}}, nil
	})
	var firedBeforeReview, reviewed atomic.Bool // the callback and the activity run on different goroutines
	env.OnActivity(a.FirePixel, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FireInput) (activities.FireResult, error) {
		if !reviewed.Load() {
			firedBeforeReview.Store(true)
		}
		return activities.FireResult{StatusCode: 200}, nil
	})
	env.RegisterDelayedCallback(func() {
		reviewed.Store(true)
		env.SignalWorkflow(SignalReview, Review{Approve: true})
	}, time.Hour)
	env.ExecuteWorkflow(Conversion, req)
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if firedBeforeReview.Load() || change.From != domain.ConversionPending || change.To != domain.ConversionApproved ||
		res.Status != domain.ConversionApproved || res.Delivered != 1 {
		t.Fatalf("fired early %v, change %+v, result %+v", firedBeforeReview.Load(), change, res)
	}
}

func TestConversionPixelThatGivesUpDoesNotFailTheConversion(t *testing.T) {
	t.Parallel()
	env := newTestEnv()
	env.RegisterActivity(a)
	env.OnActivity(a.Attribute, mock.Anything, mock.Anything).Return(attributed(), nil)
	env.OnActivity(a.Record, mock.Anything, mock.Anything).Return(recordAsGiven)
	env.OnActivity(a.FirePixel, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FireInput) (activities.FireResult, error) {
		if in.Pixel.ID == 1 {
			return activities.FireResult{}, temporal.NewNonRetryableApplicationError("affiliate answered 404", activities.ErrTypePixelRejected, errors.New("404"))
		}
		return activities.FireResult{StatusCode: 200}, nil
	})
	env.ExecuteWorkflow(Conversion, request())
	var res ConversionResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != domain.ConversionApproved || res.Delivered != 1 || res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
}

// newTestEnv is a workflow test environment with room for a loaded CI machine: the testsuite's
// wall-clock limit of 3 s per workflow and its 1 s deadlock detector can be reached by a -race run
// on two busy cores, which would fail a test that is right.
func newTestEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(time.Minute)
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: 30 * time.Second})
	return env
}
