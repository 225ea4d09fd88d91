package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// uiColumnsKey is where the Temporal UI (2.42) keeps each namespace's workflow-list columns in the
// browser's localStorage ("Configure columns" writes it): {"<namespace>": [{"label": ...}, ...]}.
const uiColumnsKey = "namespace-workflow-table-columns"

// TestTemporalUIListShowsSummaries drives Debian's chromium through the Temporal UI that the
// pinned CLI serves, with the ConversionSummary column chosen as ops choose it (README): the
// workflow list shows each conversion's line — approved by cookie and by AFID, unattributed,
// held, rejected by an admin, and a reversal. It fails, never skips, without chromium.
// TRACKFLOW_TEMPORAL_UI_SCREENSHOT=file.png saves the list there (make temporal-ui-screenshot).
func TestTemporalUIListShowsSummaries(t *testing.T) {
	t.Parallel()
	addr, ui := testenv.StartTemporalWithUI(t)
	s := testenv.New(t, testenv.Options{TemporalAddress: addr})
	f := newFixture(t, s, cpa2, map[string]any{"allow_custom_params": true})
	aff := fmt.Sprint(f.Affiliate.ID)
	line := func(status, commission, method string) string {
		return status + " · " + commission + " USD to affiliate " + aff + " · " + method
	}

	_, cookie := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	byCookie := pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&id=%s", f.Offer.ID, invoiceID("UI")), "ui test", cookie)
	byAFID, _ := afidConversion(t, s, f, nil)
	unattributed := pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&id=%s", f.Offer.ID, invoiceID("UI")), "a browser that never clicked")
	held := heldByPostback(t, s, f)
	rejected := heldByPostback(t, s, f)
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+rejected.ID+"/reject", map[string]any{"reason": "fraud check"}, nil)
	res := workflowResult(t, s, byAFID)
	mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+res.ConversionID+"/reverse", map[string]any{"reason": "chargeback"}, nil)
	reversal := workflows.ReversalWorkflowID(res.ConversionID)
	want := map[string]string{
		byCookie:            line("approved", "2.00", "cookie"),
		byAFID:              line("approved", "2.00", "afid"),
		unattributed:        "rejected (unattributed) · 0.00 USD · unattributed",
		held.WorkflowID:     line("pending", "2.00", "afid"),
		rejected.WorkflowID: line("rejected (admin)", "0.00", "afid"),
		reversal:            line("reversed", "0.00", "afid"),
	}
	for wf, l := range want {
		awaitSummary(t, s, wf, l)
		findWorkflows(t, s, fmt.Sprintf("WorkflowId=%q AND ConversionSummary=%q", wf, l), 1) // what the list reads
	}

	columns, err := json.Marshal(map[string][]map[string]string{s.Namespace: {
		{"label": "Status"}, {"label": "Workflow ID"}, {"label": workflows.ConversionSummaryKey.GetName()},
		{"label": "Type"}, {"label": "End"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, run := startBrowser(t, 3*time.Minute, chromedp.WindowSize(1600, 1000))
	// The UI reads the stored columns when it loads: store them on its origin, then open the list.
	var stored bool
	run("store the columns", chromedp.Navigate(ui+"/"),
		into(&stored, chromedp.Evaluate[bool](fmt.Sprintf(`localStorage.setItem(%q, %q), true`, uiColumnsKey, columns))))
	run("open the workflow list", chromedp.Navigate(ui+"/namespaces/"+url.PathEscape(s.Namespace)+"/workflows"))
	var text string
	eventually(t, time.Minute, "every summary in the UI's workflow list", func() bool {
		run("read the list", into(&text, chromedp.Evaluate[string](`document.body.innerText`)))
		if !strings.Contains(text, workflows.ConversionSummaryKey.GetName()) {
			return false
		}
		for _, l := range want {
			if !strings.Contains(text, l) {
				return false
			}
		}
		return true
	})
	if shot := os.Getenv("TRACKFLOW_TEMPORAL_UI_SCREENSHOT"); shot != "" {
		var png []byte
		run("screenshot", into(&png, chromedp.FullScreenshot(100)))
		if err := os.WriteFile(shot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
