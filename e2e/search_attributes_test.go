package e2e

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// TestSearchAttributes: ops find a conversion's workflow through Temporal's visibility API by
// OfferId, AffiliateId, ClickId, InvoiceId, AttributionMethod and ConversionStatus, as the workflow
// sets them. Visibility is eventually consistent, so every query is waited for.
func TestSearchAttributes(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	offer, affID := fmt.Sprint(f.Offer.ID), fmt.Sprint(f.Affiliate.ID)

	// An AFID post, found by its invoice.
	afidInv := invoiceID("SA-AFID")
	afid := mustPostback(t, s, 202, afidPost(f, "10", afidInv))
	workflowResult(t, s, afid.WorkflowID)
	found := findWorkflows(t, s, fmt.Sprintf(`InvoiceId=%q`, afidInv), 1)
	if found[0].GetExecution().GetWorkflowId() != afid.WorkflowID {
		t.Fatalf("InvoiceId found %s, want %s", found[0].GetExecution().GetWorkflowId(), afid.WorkflowID)
	}
	found = findWorkflows(t, s, fmt.Sprintf(`InvoiceId=%q AND ConversionStatus="approved"`, afidInv), 1)
	want := map[string]string{"OfferId": offer, "AffiliateId": affID, "InvoiceId": afidInv,
		"AttributionMethod": "afid", "ConversionStatus": "approved"}
	checkAttributes(t, searchAttributes(t, found[0]), want)

	// A Click ID post, found by its click; a second post of that click is rejected, click_used.
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	clickInv := invoiceID("SA-CLICK")
	byClick := mustPostback(t, s, 202, clickPost(f, clickID, "10", clickInv))
	workflowResult(t, s, byClick.WorkflowID)
	used := mustPostback(t, s, 202, clickPost(f, clickID, "10", invoiceID("SA-USED")))
	workflowResult(t, s, used.WorkflowID)
	found = findWorkflows(t, s, fmt.Sprintf(`ClickId=%q AND ConversionStatus="approved"`, clickID), 1)
	checkAttributes(t, searchAttributes(t, found[0]), map[string]string{"OfferId": offer, "AffiliateId": affID,
		"ClickId": clickID, "InvoiceId": clickInv, "AttributionMethod": "click_id", "ConversionStatus": "approved"})

	// The filters of the Temporal UI: one affiliate's approved conversions, its rejected ones.
	approved := findWorkflows(t, s, fmt.Sprintf(`AffiliateId=%q AND ConversionStatus="approved"`, affID), 2)
	ids := map[string]bool{}
	for _, e := range approved {
		ids[e.GetExecution().GetWorkflowId()] = true
	}
	if !ids[afid.WorkflowID] || !ids[byClick.WorkflowID] {
		t.Fatalf("approved workflows of affiliate %s: %v", affID, ids)
	}
	rejected := findWorkflows(t, s, fmt.Sprintf(`AffiliateId=%q AND ConversionStatus="rejected"`, affID), 1)
	if rejected[0].GetExecution().GetWorkflowId() != used.WorkflowID {
		t.Fatalf("rejected workflow %s, want %s", rejected[0].GetExecution().GetWorkflowId(), used.WorkflowID)
	}
	findWorkflows(t, s, fmt.Sprintf(`OfferId=%q AND AttributionMethod="click_id"`, offer), 2)

	// An unattributed page pixel: rejected, and no affiliate to filter on.
	pageInv := invoiceID("SA-PAGE")
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/pixel?offer_id=%d&amount=10&id=%s", s.URL, f.Offer.ID, pageInv), nil)
	req.Header.Set("User-Agent", "a browser that never clicked")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if res := workflowResult(t, s, resp.Header.Get("X-Workflow-Id")); res.Reason != "unattributed" {
		t.Fatalf("page pixel without a click: %+v", res)
	}
	found = findWorkflows(t, s, fmt.Sprintf(`InvoiceId=%q AND ConversionStatus="rejected"`, pageInv), 1)
	if sa := searchAttributes(t, found[0]); sa["AffiliateId"] != "" || sa["OfferId"] != offer {
		t.Fatalf("unattributed conversion's attributes %v", sa)
	}
	if got := found[0].GetExecution().GetWorkflowId(); got != workflows.ConversionWorkflowID(f.Offer.ID, pageInv, "") {
		t.Fatalf("page workflow %s", got)
	}
}

func checkAttributes(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("search attribute %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
