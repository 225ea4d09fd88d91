package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// How a postback's parameters travel: the query string of a GET, or the body of a POST.
const (
	viaQuery = "query"
	viaForm  = "form"
	viaJSON  = "json"
)

// postbackAnswer is what /postback answered.
type postbackAnswer struct {
	Code int
	// Keys is the JSON body's object, to check that it holds exactly the keys docs/API.md names.
	Keys       map[string]any
	Status     string `json:"status"`
	WorkflowID string `json:"workflow_id"`
	Error      string `json:"error"`
}

// postback sends a server-to-server post with its parameters carried as via says, plus headers.
func postback(t *testing.T, s *testenv.Stack, via string, params url.Values, header http.Header) postbackAnswer {
	t.Helper()
	var req *http.Request
	switch via {
	case viaQuery:
		req, _ = http.NewRequest("GET", s.URL+"/postback?"+params.Encode(), nil)
	case viaForm:
		req, _ = http.NewRequest("POST", s.URL+"/postback", strings.NewReader(params.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case viaJSON:
		m := map[string]string{}
		for k := range params {
			m[k] = params.Get(k)
		}
		b, _ := json.Marshal(m)
		req, _ = http.NewRequest("POST", s.URL+"/postback", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	default:
		t.Fatalf("postback: unknown via %q", via)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var a postbackAnswer
	a.Code = resp.StatusCode
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("postback: %d with Content-Type %q: %q", resp.StatusCode, ct, raw)
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("postback: %d %q: %v", resp.StatusCode, raw, err)
	}
	_ = json.Unmarshal(raw, &a.Keys)
	return a
}

// mustPostback is postback that fails the test unless the status code is want.
func mustPostback(t *testing.T, s *testenv.Stack, want int, params url.Values) postbackAnswer {
	t.Helper()
	a := postback(t, s, viaQuery, params, nil)
	if a.Code != want {
		t.Fatalf("postback %v: %d %+v, want %d", params, a.Code, a, want)
	}
	return a
}

// clickPost is the query of a Click ID post authenticated by the fixture's token.
func clickPost(f fixture, clickID, amount, invoice string) url.Values {
	v := url.Values{"click_id": {clickID}, "amount": {amount}, "token": {f.Advertiser.PostbackToken}}
	if invoice != "" {
		v.Set("id", invoice)
	}
	return v
}

// afidPost is the query of an AFID post for the fixture's offer and affiliate.
func afidPost(f fixture, amount, invoice string) url.Values {
	v := url.Values{
		"offer_id": {fmt.Sprint(f.Offer.ID)}, "aff_id": {fmt.Sprint(f.Affiliate.ID)},
		"amount": {amount}, "token": {f.Advertiser.PostbackToken},
	}
	if invoice != "" {
		v.Set("id", invoice)
	}
	return v
}

// invoiceID returns a fresh invoice number.
func invoiceID(prefix string) string { return prefix + "-" + domain.NewID()[:10] }

// setAffiliateStatus pauses or reactivates an affiliate through the admin API.
func setAffiliateStatus(t *testing.T, s *testenv.Stack, affID int64, status string) {
	t.Helper()
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/affiliates/%d", affID), map[string]any{"status": status}, nil)
}

// duplicatesCounted is how many duplicate requests were counted for one invoice.
func duplicatesCounted(t *testing.T, s *testenv.Stack, offerID int64, invoice string) int {
	t.Helper()
	var n int
	const q = `SELECT count(*) FROM conversion_duplicates WHERE offer_id = $1 AND invoice_id = $2`
	if err := s.DB.Get(&n, q, offerID, invoice); err != nil {
		t.Fatal(err)
	}
	return n
}

// conversionsStored is how many conversions hold one invoice (0 or 1 when dedupe works).
func conversionsStored(t *testing.T, s *testenv.Stack, offerID int64, invoice string) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, `SELECT count(*) FROM conversions WHERE offer_id = $1 AND invoice_id = $2`, offerID, invoice); err != nil {
		t.Fatal(err)
	}
	return n
}

// forgetWorkflow deletes a finished workflow from Temporal, as its retention would, and waits until
// Temporal no longer knows it.
func forgetWorkflow(t *testing.T, s *testenv.Stack, workflowID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err := s.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
		Namespace: s.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: workflowID},
	})
	if err != nil {
		t.Fatalf("delete workflow %s: %v", workflowID, err)
	}
	// Deletion waits for the transfer queue's next checkpoint: about a second on the servers
	// `make test` starts, up to a minute on a dev server with default settings.
	eventually(t, 2*time.Minute, "Temporal to forget "+workflowID, func() bool {
		_, err := s.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		var nf *serviceerror.NotFound
		return errors.As(err, &nf)
	})
}

// findWorkflows waits until a visibility query returns exactly want executions (visibility is
// eventually consistent) and returns them.
func findWorkflows(t *testing.T, s *testenv.Stack, query string, want int) []*workflowpb.WorkflowExecutionInfo {
	t.Helper()
	var found []*workflowpb.WorkflowExecutionInfo
	eventually(t, 30*time.Second, fmt.Sprintf("%d workflows for %s", want, query), func() bool {
		resp, err := s.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.Namespace, Query: query, PageSize: 100,
		})
		if err != nil {
			t.Fatalf("list workflows %s: %v", query, err)
		}
		found = resp.Executions
		return len(found) == want
	})
	return found
}

// searchAttributes decodes a listed workflow's custom Keyword search attributes.
func searchAttributes(t *testing.T, info *workflowpb.WorkflowExecutionInfo) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range workflows.SearchAttributeNames {
		p, ok := info.GetSearchAttributes().GetIndexedFields()[name]
		if !ok {
			continue
		}
		var v string
		if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
			t.Fatalf("search attribute %s: %v", name, err)
		}
		out[name] = v
	}
	return out
}

// scrapeMetrics reads GET /metrics into series ("name{labels}") and values.
func scrapeMetrics(t *testing.T, s *testenv.Stack) map[string]float64 {
	t.Helper()
	resp, body := get(t, s.URL+"/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// cpa2 is a flat 2.00 commission.
var cpa2 = map[string]any{"type": "cpa", "amount": "2.00"}
