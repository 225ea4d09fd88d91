package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestReversalOrder checks the reversal's steps: the status changes first, the approval pixels
// are waited for, then every pixel fires with the reversed event; a wait that gives up does not
// stop the reversal pixels.
func TestReversalOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		waitErr error
	}{
		{"conversion workflow closed", nil},
		{"wait gave up", temporal.NewNonRetryableApplicationError("still open", activities.ErrTypeWorkflowOpen, nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var a *activities.Activities
			env := workflows.NewTestEnv()
			var mu sync.Mutex
			var steps []string
			step := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				steps = append(steps, s)
			}
			aff := int64(7)
			method := domain.MethodCookie
			reversed := domain.Conversion{ID: "c1", OfferID: 1, AffID: &aff, Status: domain.ConversionReversed,
				Currency: "USD", AttributionMethod: &method}
			var summary string
			env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
				if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(workflows.ConversionSummaryKey); ok {
					summary = v
				}
			}).Return(nil)
			env.OnActivity(a.SetStatus, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.StatusChange) (activities.RecordOutput, error) {
					step("status " + in.From + "->" + in.To)
					return activities.RecordOutput{Conversion: reversed, Pixels: []store.Pixel{{ID: 1}, {ID: 2}}}, nil
				})
			env.OnActivity(a.AwaitWorkflowClosed, mock.Anything, "conversion/1/INV").Return(func(context.Context, string) error {
				step("await")
				return tc.waitErr
			})
			env.OnActivity(a.FirePixel, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.FireInput) (activities.FireResult, error) {
					if in.Event != domain.ConversionReversed || in.Macros["status"] != domain.ConversionReversed {
						return activities.FireResult{}, errors.New("wrong event " + in.Event)
					}
					step("fire")
					return activities.FireResult{StatusCode: 200}, nil
				})
			env.ExecuteWorkflow(workflows.Reversal, workflows.ReversalRequest{ConversionID: "c1",
				ConversionWorkflowID: "conversion/1/INV", Retry: domain.DefaultRetrySchedule})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res workflows.ConversionResult
			if err := env.GetWorkflowResult(&res); err != nil {
				t.Fatal(err)
			}
			want := []string{"status approved->reversed", "await", "fire", "fire"}
			if len(steps) != len(want) || steps[0] != want[0] || steps[1] != want[1] || steps[2] != "fire" || steps[3] != "fire" {
				t.Errorf("steps %v, want %v", steps, want)
			}
			if res.Status != domain.ConversionReversed || res.Delivered != 2 || res.Failed != 0 {
				t.Errorf("result %+v", res)
			}
			if want := "reversed · 0.00 USD to affiliate 7 · cookie"; summary != want {
				t.Errorf("ConversionSummary %q, want %q", summary, want)
			}
		})
	}
}
