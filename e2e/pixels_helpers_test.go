package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// receipt is one request an affiliate endpoint received.
type receipt struct {
	At     time.Time
	Method string
	URL    *url.URL
	Header http.Header
	Body   []byte
	// Status is what the endpoint answered (0 while it has not answered).
	Status int
	// Cancelled is true when the caller gave up before the answer (a timeout, a killed worker).
	Cancelled bool
}

// answerFunc decides the answer to the n-th request (from 0): a status code and extra headers. It
// may block, for example until the request's context is done.
type answerFunc func(n int, r *http.Request) (int, http.Header)

// script answers with the given status codes in turn, the last one repeating.
func script(codes ...int) answerFunc {
	return func(n int, _ *http.Request) (int, http.Header) { return codes[min(n, len(codes)-1)], nil }
}

// affiliateEndpoint is an affiliate's pixel server: it answers by an answerFunc and records every
// request, including ones still waiting for their answer.
type affiliateEndpoint struct {
	*httptest.Server
	answer answerFunc
	mu     sync.Mutex
	got    []*receipt
}

// newAffiliateEndpoint starts an affiliate endpoint on a free loopback port.
func newAffiliateEndpoint(t *testing.T, answer answerFunc) *affiliateEndpoint {
	return newAffiliateEndpointOn(t, "127.0.0.1:0", answer)
}

// newAffiliateEndpointOn starts an affiliate endpoint listening on addr (host:port).
func newAffiliateEndpointOn(t *testing.T, addr string, answer answerFunc) *affiliateEndpoint {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	e := &affiliateEndpoint{answer: answer}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(e.serve))
	e.Listener.Close()
	e.Listener = l
	e.Start()
	t.Cleanup(e.Close)
	return e
}

func (e *affiliateEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc := &receipt{At: time.Now(), Method: r.Method, URL: r.URL, Header: r.Header.Clone(), Body: body}
	e.mu.Lock()
	n := len(e.got)
	e.got = append(e.got, rc)
	e.mu.Unlock()
	code, h := e.answer(n, r)
	e.mu.Lock()
	rc.Status, rc.Cancelled = code, r.Context().Err() != nil
	e.mu.Unlock()
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
}

// receipts returns copies of the requests received so far, in arrival order.
func (e *affiliateEndpoint) receipts() []receipt {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]receipt, len(e.got))
	for i, r := range e.got {
		out[i] = *r
	}
	return out
}

// successes counts the requests answered 2xx.
func (e *affiliateEndpoint) successes() int {
	n := 0
	for _, r := range e.receipts() {
		if r.Status >= 200 && r.Status < 300 {
			n++
		}
	}
	return n
}

// addPixel creates an affiliate pixel through the admin API.
func addPixel(t *testing.T, s *testenv.Stack, affID int64, body map[string]any) api.PixelCreated {
	t.Helper()
	var p api.PixelCreated
	mustAdmin(t, s, 201, "POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels", affID), body, &p)
	return p
}

// afidConversion sends an AFID postback for the fixture's offer and affiliate (extra adds or
// replaces parameters) and returns the workflow ID and invoice of the accepted conversion.
func afidConversion(t *testing.T, s *testenv.Stack, f fixture, extra url.Values) (workflowID, invoice string) {
	t.Helper()
	q := url.Values{
		"token": {f.Advertiser.PostbackToken}, "offer_id": {fmt.Sprint(f.Offer.ID)},
		"aff_id": {fmt.Sprint(f.Affiliate.ID)}, "amount": {"19.95"}, "id": {"INV-" + domain.NewID()[:10]},
	}
	for k, v := range extra {
		q[k] = v
	}
	resp, body := get(t, s.URL+"/postback?"+q.Encode())
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("AFID postback: %d %s", resp.StatusCode, body)
	}
	return workflows.ConversionWorkflowID(f.Offer.ID, q.Get("id"), ""), q.Get("id")
}

// conversionWithDeliveries is GET /api/v1/conversions/:id.
type conversionWithDeliveries struct {
	domain.Conversion
	Deliveries []store.Delivery `json:"deliveries"`
}

// conversionDetail reads a conversion with its delivery log through the admin API.
func conversionDetail(t *testing.T, s *testenv.Stack, id string) conversionWithDeliveries {
	t.Helper()
	var d conversionWithDeliveries
	mustAdmin(t, s, 200, "GET", "/api/v1/conversions/"+id, nil, &d)
	return d
}

// finishedDeliveries counts a conversion's logged attempts that have an answer or an error other
// than "in flight", read straight from the database (cheap enough to poll).
func finishedDeliveries(t *testing.T, s *testenv.Stack, conversionID string) []store.Delivery {
	t.Helper()
	all, err := s.Store.Deliveries(context.Background(), conversionID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Delivery
	for _, d := range all {
		if d.Error != store.DeliveryInFlight {
			out = append(out, d)
		}
	}
	return out
}

// adminError calls the admin API and returns the status and the {"error": ...} message.
func adminError(t *testing.T, s *testenv.Stack, method, path string, in any) (int, string) {
	t.Helper()
	code, raw := adminRaw(t, s, method, path, in)
	var e struct{ Error string }
	_ = json.Unmarshal(raw, &e)
	return code, e.Error
}
