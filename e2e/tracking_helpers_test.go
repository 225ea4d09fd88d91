package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/gif"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// send makes one request as a browser or cart would: a user agent, an optional body of a content
// type, cookies. It returns the response with its body read. An empty ua keeps Go's default.
func send(t *testing.T, method, rawURL, ctype, body, ua string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if ua != "" {
		req.Header.Set("User-Agent", ua)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// errorOf is a tracking answer's error message: a JSON body's "error" (postbacks), else the
// X-Error header that GIF and text answers carry.
func errorOf(resp *http.Response, body []byte) string {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		return e.Error
	}
	return resp.Header.Get("X-Error")
}

// clickAs follows a tracking link with a user agent and returns the click ID and its cookie.
func clickAs(t *testing.T, s *testenv.Stack, query, ua string) (string, *http.Cookie) {
	t.Helper()
	return click(t, s, query, http.Header{"User-Agent": {ua}})
}

// pixelAs loads the thank-you page's image pixel and checks it answered the 200 GIF; it returns
// the workflow ID.
func pixelAs(t *testing.T, s *testenv.Stack, query, ua string, cookies ...*http.Cookie) string {
	t.Helper()
	resp, body := send(t, "GET", s.URL+"/pixel?"+query, "", "", ua, cookies...)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pixel %s: %d %q", query, resp.StatusCode, resp.Header.Get("X-Error"))
	}
	checkGIF(t, resp, body)
	wf := resp.Header.Get("X-Workflow-Id")
	if wf == "" {
		t.Fatalf("pixel %s: no X-Workflow-Id", query)
	}
	return wf
}

// checkGIF fails unless the response is the uncacheable 1x1 GIF.
func checkGIF(t *testing.T, resp *http.Response, body []byte) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "image/gif" {
		t.Fatalf("content type %q, want image/gif", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	img, err := gif.Decode(bytes.NewReader(body))
	if err != nil || img.Bounds().Dx() != 1 || img.Bounds().Dy() != 1 {
		t.Fatalf("body is not a 1x1 GIF: %v", err)
	}
}

// workflowResult waits for a conversion workflow to end and returns its result. Two minutes: a
// pixel's retries may keep it open that long.
func workflowResult(t *testing.T, s *testenv.Stack, workflowID string) workflows.ConversionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var res workflows.ConversionResult
	if err := s.Temporal.GetWorkflow(ctx, workflowID, "").Get(ctx, &res); err != nil {
		t.Fatalf("workflow %s: %v", workflowID, err)
	}
	return res
}

// conversionOf reads the stored conversion of a finished workflow.
func conversionOf(t *testing.T, s *testenv.Stack, workflowID string) domain.Conversion {
	t.Helper()
	res := workflowResult(t, s, workflowID)
	var c domain.Conversion
	mustAdmin(t, s, 200, "GET", "/api/v1/conversions/"+res.ConversionID, nil, &c)
	return c
}

// rowsFor counts a table's rows for one offer.
func rowsFor(t *testing.T, s *testenv.Stack, table string, offerID int64) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, "SELECT count(*) FROM "+table+" WHERE offer_id = $1", offerID); err != nil {
		t.Fatal(err)
	}
	return n
}

// str is a nullable string field as text, "<nil>" for null.
func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// newPixel registers an affiliate GET pixel on a test affiliate server for all offers.
func newPixel(t *testing.T, s *testenv.Stack, affID int64, srv *affiliateServer) {
	t.Helper()
	mustAdmin(t, s, 201, "POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels", affID), map[string]any{
		"url": srv.URL + "/pb?tx={transaction_id}&payout={payout}&currency={currency}&status={status}&click={click_id}",
	}, nil)
}

// pixelHits lists the tx (conversion id) of every request the affiliate server received.
func (a *affiliateServer) pixelHits() []url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]url.Values, len(a.requests))
	for i, r := range a.requests {
		out[i] = r.URL.Query()
	}
	return out
}

// newAffiliate creates another active affiliate.
func newAffiliate(t *testing.T, s *testenv.Stack) store.Affiliate {
	t.Helper()
	var a store.Affiliate
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "aff " + t.Name()}, &a)
	return a
}
