package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// recordHistoriesEnv, set to 1, makes TestWorkflowShapesReplay write the histories it records to
// workflows/testdata, where workflows' replay test reads them: `make record-histories`.
const recordHistoriesEnv = "TRACKFLOW_RECORD_HISTORIES"

// TestWorkflowShapesReplay runs every shape of workflow on the real server (approved with pixels,
// duplicate, unattributed, held then approved, held then rejected, hold expired, pixel retried
// then delivered, reversal), fetches each history and replays it with the current workflow code.
// With TRACKFLOW_RECORD_HISTORIES=1 it also writes them to workflows/testdata/<shape>.json.
func TestWorkflowShapesReplay(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	t.Logf("Temporal namespace %s (its workflows stay for the UI until the server's retention ends)", s.Namespace)
	cpa := map[string]any{"type": "cpa", "amount": "2"}
	held := map[string]any{"allow_custom_params": true}
	pending := url.Values{"status": {"pending"}}

	shapes := map[string]func(t *testing.T) string{
		"approved_with_pixels": func(t *testing.T) string {
			f := newFixture(t, s, cpa, nil)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 200).URL + "/pb?tx={transaction_id}"})
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 200).URL + "/pb", "method": "POST"})
			wf, _ := afidConversion(t, s, f, nil)
			return wf
		},
		"duplicate": func(t *testing.T) string {
			f := newFixture(t, s, cpa, nil)
			inv := url.Values{"id": {invoiceID("DUP")}}
			first, _ := afidConversion(t, s, f, inv)
			workflowResult(t, s, first)
			forgetWorkflow(t, s, first)
			second, _ := afidConversion(t, s, f, inv)
			return second
		},
		"unattributed": func(t *testing.T) string {
			f := newFixture(t, s, cpa, nil)
			return pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&id=%s", f.Offer.ID, invoiceID("UN")), "recorder "+t.Name())
		},
		"held_then_approved": func(t *testing.T) string {
			f := newFixture(t, s, cpa, held)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 200).URL + "/pb"})
			c := heldByPostback(t, s, f)
			mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+c.ID+"/approve", nil, nil)
			return c.WorkflowID
		},
		"held_then_rejected": func(t *testing.T) string {
			f := newFixture(t, s, cpa, held)
			c := heldByPostback(t, s, f)
			mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+c.ID+"/reject", map[string]any{"reason": "fraud check"}, nil)
			return c.WorkflowID
		},
		"hold_expired": func(t *testing.T) string {
			f := newFixture(t, s, cpa, map[string]any{"allow_custom_params": true, "hold_seconds": 1})
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 200).URL + "/pb"})
			wf, _ := afidConversion(t, s, f, pending)
			return wf
		},
		"pixel_retried_then_delivered": func(t *testing.T) string {
			f := newFixture(t, s, cpa, nil)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 500, 503, 200).URL + "/pb"})
			wf, _ := afidConversion(t, s, f, nil)
			return wf
		},
		"reversal": func(t *testing.T) string {
			f := newFixture(t, s, cpa, nil)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": newAffiliateServer(t, 200).URL + "/pb"})
			wf, _ := afidConversion(t, s, f, nil)
			res := workflowResult(t, s, wf)
			mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+res.ConversionID+"/reverse", map[string]any{"reason": "chargeback"}, nil)
			return workflows.ReversalWorkflowID(res.ConversionID)
		},
	}
	for name, run := range shapes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			wf := run(t)
			workflowResult(t, s, wf)
			h := history(t, s, wf)
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflow(workflows.Conversion)
			r.RegisterWorkflow(workflows.Reversal)
			if err := r.ReplayWorkflowHistory(nil, h); err != nil {
				t.Fatalf("replay of a fresh %s history: %v", name, err)
			}
			if os.Getenv(recordHistoriesEnv) != "1" {
				return
			}
			raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("..", "workflows", "testdata", name+".json")
			if err := os.WriteFile(path, append(raw, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d events)", path, len(h.Events))
		})
	}
}

// history fetches a closed workflow's whole history.
func history(t *testing.T, s *testenv.Stack, workflowID string) *historypb.History {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	it := s.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, e)
	}
	if len(h.Events) == 0 {
		t.Fatalf("history of %s is empty", workflowID)
	}
	return h
}
