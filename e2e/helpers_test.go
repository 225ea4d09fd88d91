package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// noRedirect is an HTTP client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// adminRaw calls the admin API with a JSON body (when in is not nil) and returns the status and
// the raw answer.
func adminRaw(t *testing.T, s *testenv.Stack, method, path string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	return adminSend(t, s, method, path, body)
}

// adminSend sends body as it is (nil: none) to the admin API with the token and returns the
// status and the raw answer.
func adminSend(t *testing.T, s *testenv.Stack, method, path string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testenv.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// admin calls the admin API and decodes a successful JSON answer into out (when not nil).
func admin(t *testing.T, s *testenv.Stack, method, path string, in any, out any) int {
	t.Helper()
	code, raw := adminRaw(t, s, method, path, in)
	if out != nil && code < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return code
}

// mustAdmin is admin that fails the test unless the status is want.
func mustAdmin(t *testing.T, s *testenv.Stack, want int, method, path string, in, out any) {
	t.Helper()
	if got := admin(t, s, method, path, in, out); got != want {
		t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// fixture is one advertiser with one offer and one affiliate, made through the admin API.
type fixture struct {
	Advertiser api.AdvertiserCreated
	Offer      store.Offer
	Affiliate  store.Affiliate
}

// newFixture creates an advertiser, an active affiliate and an offer with the given payout and
// extra offer fields.
func newFixture(t *testing.T, s *testenv.Stack, payout map[string]any, offerExtra map[string]any) fixture {
	t.Helper()
	return newFixtureWith(t, s, nil, payout, offerExtra)
}

// newFixtureWith is newFixture with extra advertiser fields (allowed_ips, postback_token).
func newFixtureWith(t *testing.T, s *testenv.Stack, advExtra, payout, offerExtra map[string]any) fixture {
	t.Helper()
	var f fixture
	adv := map[string]any{"name": "adv " + t.Name()}
	for k, v := range advExtra {
		adv[k] = v
	}
	mustAdmin(t, s, 201, "POST", "/api/v1/advertisers", adv, &f.Advertiser)
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "aff " + t.Name()}, &f.Affiliate)
	offer := map[string]any{
		"advertiser_id": f.Advertiser.ID, "name": "offer " + t.Name(),
		"landing_url": "https://shop.example/landing?cid={click_id}&a={aff_id}&s={sub_id}",
		"payout":      payout,
	}
	for k, v := range offerExtra {
		offer[k] = v
	}
	mustAdmin(t, s, 201, "POST", "/api/v1/offers", offer, &f.Offer)
	return f
}

// click follows a tracking link and returns the click ID and the cookie it set.
func click(t *testing.T, s *testenv.Stack, query string, header http.Header) (string, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+"/click?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("click: status %d (%s)", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	id := resp.Header.Get("X-Click-Id")
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "tf_") {
			return id, c
		}
	}
	t.Fatal("click: no tf_ cookie")
	return "", nil
}

// get sends a GET with Go's user agent and optional cookies and returns the response (body read).
func get(t *testing.T, rawURL string, cookies ...*http.Cookie) (*http.Response, []byte) {
	t.Helper()
	return send(t, http.MethodGet, rawURL, "", "", "", cookies...)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// conversionByInvoice waits for the conversion of an invoice to reach a final status.
func conversionByInvoice(t *testing.T, s *testenv.Stack, offerID int64, invoice string) domain.Conversion {
	t.Helper()
	var c domain.Conversion
	eventually(t, 30*time.Second, "conversion "+invoice, func() bool {
		var list struct{ Items []domain.Conversion }
		q := url.Values{"offer_id": {fmt.Sprint(offerID)}, "invoice_id": {invoice}}
		mustAdmin(t, s, 200, "GET", "/api/v1/conversions?"+q.Encode(), nil, &list)
		if len(list.Items) == 1 && list.Items[0].Status != domain.ConversionPending {
			c = list.Items[0]
			return true
		}
		return false
	})
	return c
}

// affiliateServer stands in for an affiliate's pixel endpoint: it answers from a script of
// status codes (the last repeats) and records every request.
type affiliateServer struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	requests []*http.Request
	bodies   [][]byte
}

func newAffiliateServer(t *testing.T, script ...int) *affiliateServer {
	a := &affiliateServer{script: script}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		n := len(a.requests)
		a.requests = append(a.requests, r)
		a.bodies = append(a.bodies, b)
		code := a.script[min(n, len(a.script)-1)]
		a.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(a.Close)
	return a
}

// hits returns how many requests arrived and how many of them were answered 2xx.
func (a *affiliateServer) hits() (total, ok int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.requests {
		if c := a.script[min(i, len(a.script)-1)]; c >= 200 && c < 300 {
			ok++
		}
	}
	return len(a.requests), ok
}

func (a *affiliateServer) request(i int) *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[i]
}
