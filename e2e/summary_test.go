package e2e

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// TestConversionSummaryAttribute: the ConversionSummary search attribute, the column the Temporal
// UI's workflow list shows, holds each conversion's line as its state changes on the real stack:
// approved; held (pending), then approved or rejected by an admin; a duplicate; a reversal's own
// workflow. Ops can filter on it too. (That it holds no visitor data or sale amount in clear is
// TestPayloadPrivacyCodecAndSDKMetrics's.)
func TestConversionSummaryAttribute(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"allow_custom_params": true})
	aff := fmt.Sprint(f.Affiliate.ID)
	line := func(status, commission string) string {
		return status + " · " + commission + " USD to affiliate " + aff + " · afid"
	}

	approved, _ := afidConversion(t, s, f, nil)
	workflowResult(t, s, approved)
	awaitSummary(t, s, approved, line("approved", "2.00"))
	found := findWorkflows(t, s, fmt.Sprintf(`ConversionSummary=%q AND AffiliateId=%q`, line("approved", "2.00"), aff), 1)
	if got := found[0].GetExecution().GetWorkflowId(); got != approved {
		t.Fatalf("ConversionSummary query found %s, want %s", got, approved)
	}

	toApprove, toReject := heldByPostback(t, s, f), heldByPostback(t, s, f)
	awaitSummary(t, s, toApprove.WorkflowID, line("pending", "2.00"))
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+toApprove.ID+"/approve", nil, nil)
	awaitSummary(t, s, toApprove.WorkflowID, line("approved", "2.00"))
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+toReject.ID+"/reject", map[string]any{"reason": "fraud check"}, nil)
	awaitSummary(t, s, toReject.WorkflowID, line("rejected (admin)", "0.00"))

	// A duplicate found in the database (its first workflow forgotten by Temporal).
	inv := url.Values{"id": {invoiceID("SUM-DUP")}}
	first, _ := afidConversion(t, s, f, inv)
	workflowResult(t, s, first)
	forgetWorkflow(t, s, first)
	second, _ := afidConversion(t, s, f, inv)
	workflowResult(t, s, second)
	awaitSummary(t, s, second, "duplicate: invoice already used")

	// The reversal's workflow shows the conversion as reversed; the commission went to zero.
	res := workflowResult(t, s, approved)
	mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+res.ConversionID+"/reverse", map[string]any{"reason": "chargeback"}, nil)
	reversal := workflows.ReversalWorkflowID(res.ConversionID)
	workflowResult(t, s, reversal)
	awaitSummary(t, s, reversal, line("reversed", "0.00"))
}

// awaitSummary waits until a workflow's ConversionSummary search attribute is want: an upsert is
// applied when its workflow task completes, which may be just after the API answered.
func awaitSummary(t *testing.T, s *testenv.Stack, workflowID, want string) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("ConversionSummary of %s = %q", workflowID, want), func() bool {
		d, err := s.Temporal.DescribeWorkflowExecution(context.Background(), workflowID, "")
		if err != nil {
			t.Fatalf("describe %s: %v", workflowID, err)
		}
		p, ok := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[workflows.ConversionSummaryKey.GetName()]
		if !ok {
			return false
		}
		var got string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &got); err != nil {
			t.Fatalf("ConversionSummary of %s: %v", workflowID, err)
		}
		return got == want
	})
}
