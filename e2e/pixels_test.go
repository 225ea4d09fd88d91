package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestPixelMacrosEscapedAndScoped fires GET pixels and checks that every macro of docs/API.md arrives
// intact, values with &, #, spaces, + and unicode included; that an affiliate's pixels for this
// offer and for all offers fire once each, and that pixels for another offer or another
// affiliate do not.
func TestPixelMacrosEscapedAndScoped(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cps", "percent": "10"}, nil)
	var other store.Offer
	mustAdmin(t, s, 201, "POST", "/api/v1/offers", map[string]any{"advertiser_id": f.Advertiser.ID,
		"name": "other " + t.Name(), "landing_url": "https://shop.example/", "payout": map[string]any{"type": "cpa", "amount": "1"}}, &other)
	var stranger store.Affiliate
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "stranger " + t.Name()}, &stranger)

	ep := newAffiliateEndpoint(t, script(200))
	const every = "tx={transaction_id}&click={click_id}&offer={offer_id}&aff={aff_id}&sub={sub_id}&cr={creative_id}" +
		"&inv={invoice_id}&amt={amount}&pay={payout}&cur={currency}&st={status}&ip={ip}&keep={not_a_macro}"
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/this-offer?" + every, "offer_id": f.Offer.ID})
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/all-offers/{transaction_id}?sub={sub_id}"})
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/other-offer?tx={transaction_id}", "offer_id": other.ID})
	addPixel(t, s, stranger.ID, map[string]any{"url": ep.URL + "/other-affiliate?tx={transaction_id}"})

	const sub = "a&b #c d/e=f+g%h?i é ü ☕"
	clickID, cookie := click(t, s, url.Values{"offer_id": {fmt.Sprint(f.Offer.ID)}, "aff_id": {fmt.Sprint(f.Affiliate.ID)},
		"sub_id": {sub}, "creative_id": {"5"}}.Encode(), nil)
	invoice := "INV #1&2 " + domain.NewID()[:8] // ASCII: a non-ASCII invoice breaks the workflow start (reported)
	resp, _ := get(t, s.URL+"/pixel?"+url.Values{"offer_id": {fmt.Sprint(f.Offer.ID)}, "amount": {"19.95"}, "id": {invoice}}.Encode(), cookie)
	if resp.StatusCode != 200 {
		t.Fatalf("pixel: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	res := workflowResult(t, s, resp.Header.Get("X-Workflow-Id"))
	if res.Status != domain.ConversionApproved || res.Delivered != 2 || res.Failed != 0 {
		t.Fatalf("workflow result %+v, want approved with 2 pixels delivered", res)
	}
	conv := conversionDetail(t, s, res.ConversionID)

	got := ep.receipts()
	var paths []string
	for _, r := range got {
		paths = append(paths, r.URL.Path)
	}
	slices.Sort(paths)
	if want := []string{"/all-offers/" + conv.ID, "/this-offer"}; !slices.Equal(paths, want) {
		t.Fatalf("affiliate endpoint got %q, want %q (once each, nothing for another offer or affiliate)", paths, want)
	}
	want := map[string]string{"tx": conv.ID, "click": clickID, "offer": fmt.Sprint(f.Offer.ID),
		"aff": fmt.Sprint(f.Affiliate.ID), "sub": sub, "cr": "5", "inv": invoice, "amt": "19.95", "pay": "2.00",
		"cur": "USD", "st": "approved", "ip": "127.0.0.1", "keep": "{not_a_macro}"}
	for _, r := range got {
		if r.URL.Path == "/this-offer" {
			assertQuery(t, r.URL.Query(), want)
		} else if q := r.URL.Query(); q.Get("sub") != sub || len(q) != 1 {
			t.Errorf("all-offers pixel query %q, want sub=%q only", r.URL.RawQuery, sub)
		}
	}

	// The delivery log names exactly the URLs called.
	if len(conv.Deliveries) != 2 {
		t.Fatalf("deliveries %+v, want 2", conv.Deliveries)
	}
	for _, d := range conv.Deliveries {
		i := slices.IndexFunc(got, func(r receipt) bool { return ep.URL+r.URL.RequestURI() == d.URL })
		if i < 0 || d.Attempt != 1 || d.StatusCode != 200 || d.Method != "GET" || d.Event != "approved" || d.Error != "" {
			t.Errorf("delivery %+v does not match a request received", d)
		}
	}

	// An AFID post has no click: {click_id} is empty; sub_id, creative_id and the IP come from the post.
	const sub2 = "x y&z=1#frag"
	wf2, inv2 := afidConversion(t, s, f, url.Values{"sub_id": {sub2}, "creative_id": {"9"}})
	res2 := workflowResult(t, s, wf2)
	if res2.Delivered != 2 {
		t.Fatalf("AFID conversion result %+v", res2)
	}
	for _, r := range ep.receipts() {
		if r.URL.Path == "/this-offer" && r.URL.Query().Get("tx") == res2.ConversionID {
			want2 := map[string]string{"tx": res2.ConversionID, "click": "", "offer": fmt.Sprint(f.Offer.ID),
				"aff": fmt.Sprint(f.Affiliate.ID), "sub": sub2, "cr": "9", "inv": inv2, "amt": "19.95", "pay": "2.00",
				"cur": "USD", "st": "approved", "ip": "127.0.0.1", "keep": "{not_a_macro}"}
			assertQuery(t, r.URL.Query(), want2)
			return
		}
	}
	t.Fatalf("no /this-offer request for the AFID conversion %s", res2.ConversionID)
}

// assertQuery checks that q holds exactly the parameters of want, each once: a value that was
// not escaped would split into extra parameters or lose its tail to a #.
func assertQuery(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	if len(q) != len(want) {
		t.Errorf("query has %d parameters, want %d: %v", len(q), len(want), q)
	}
	for k, v := range want {
		if got := q[k]; len(got) != 1 || got[0] != v {
			t.Errorf("macro %s arrived as %q, want %q", k, got, v)
		}
	}
}

// TestPixelSignedPOST fires POST pixels and has the receiver verify them with the Standard
// Webhooks reference library: the same webhook-id on the retry, every field a string, and the
// secret (generated, or given) kept out of the workflow history.
func TestPixelSignedPOST(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	ep := newAffiliateEndpoint(t, script(500, 200))
	ep2 := newAffiliateEndpoint(t, script(200))
	path := fmt.Sprintf("/api/v1/affiliates/%d/pixels", f.Affiliate.ID)

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": ep.URL, "method": "POST", "secret": "whsec_" + randomBase64(16)}, "secret"},
		{map[string]any{"url": ep.URL, "method": "POST", "secret": "whsec_" + randomBase64(65)}, "secret"},
		{map[string]any{"url": ep.URL, "method": "POST", "secret": randomBase64(32)}, "secret"},
		{map[string]any{"url": ep.URL, "secret": "whsec_" + randomBase64(32)}, "secret"},
		{map[string]any{"url": ep.URL, "method": "PUT"}, "method"},
		{map[string]any{"url": "ftp://example.com/x"}, "url"},
		{map[string]any{"method": "POST"}, "url"},
	} {
		if code, msg := adminError(t, s, "POST", path, bad.body); code != 400 || !strings.HasPrefix(msg, bad.field+": ") {
			t.Errorf("create pixel %v: %d %q, want 400 naming %s", bad.body, code, msg, bad.field)
		}
	}

	p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/hook?tx={transaction_id}", "method": "POST"})
	raw, ok := strings.CutPrefix(p.Secret, "whsec_")
	key, err := base64.StdEncoding.DecodeString(raw)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		t.Fatalf("generated secret %q is not whsec_ + base64 of 24 to 64 bytes", p.Secret)
	}
	given := "whsec_" + randomBase64(48)
	if p2 := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep2.URL, "method": "POST", "secret": given}); p2.Secret != given {
		t.Fatalf("given secret not kept: %q", p2.Secret)
	}

	wf, inv := afidConversion(t, s, f, url.Values{"sub_id": {"s 1&2 ☕"}})
	res := workflowResult(t, s, wf)
	if res.Delivered != 2 || res.Failed != 0 {
		t.Fatalf("workflow result %+v", res)
	}
	got := ep.receipts()
	if len(got) != 2 || got[0].Status != 500 || got[1].Status != 200 {
		t.Fatalf("endpoint got %d requests, want a 500 then a 200", len(got))
	}
	wh, err := standardwebhooks.NewWebhook(p.Secret)
	if err != nil {
		t.Fatal(err)
	}
	sigPattern := regexp.MustCompile(`^v1,[A-Za-z0-9+/]{43}=$`)
	for i, r := range got {
		if err := wh.Verify(r.Body, r.Header); err != nil {
			t.Errorf("request %d: Standard Webhooks verification failed: %v", i, err)
		}
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || !sigPattern.MatchString(r.Header.Get("webhook-signature")) {
			t.Errorf("request %d: %s, Content-Type %q, signature %q", i, r.Method, r.Header.Get("Content-Type"), r.Header.Get("webhook-signature"))
		}
	}
	if id := got[0].Header.Get("webhook-id"); id == "" || id != got[1].Header.Get("webhook-id") {
		t.Errorf("webhook-id %q then %q: want the same on the retry", id, got[1].Header.Get("webhook-id"))
	}
	// Negative controls: the library does reject a wrong secret and a changed body.
	wrong, _ := standardwebhooks.NewWebhook("whsec_" + randomBase64(32))
	if wrong.Verify(got[1].Body, got[1].Header) == nil {
		t.Error("a wrong secret verified")
	}
	if wh.Verify(append([]byte(" "), got[1].Body...), got[1].Header) == nil {
		t.Error("a changed body verified")
	}
	if err := mustVerifier(t, given).Verify(ep2.receipts()[0].Body, ep2.receipts()[0].Header); err != nil {
		t.Errorf("pixel with a given secret: %v", err)
	}

	var fields map[string]string
	if err := json.Unmarshal(got[1].Body, &fields); err != nil {
		t.Fatalf("body %s is not a JSON object of strings: %v", got[1].Body, err)
	}
	want := map[string]string{"transaction_id": res.ConversionID, "click_id": "", "offer_id": fmt.Sprint(f.Offer.ID),
		"aff_id": fmt.Sprint(f.Affiliate.ID), "sub_id": "s 1&2 ☕", "creative_id": "", "invoice_id": inv,
		"amount": "19.95", "payout": "2.00", "currency": "USD", "status": "approved", "ip": "127.0.0.1",
		"event": "", "sub2": "", "sub3": "", "sub4": "", "sub5": ""}
	if len(fields) != len(want) {
		t.Errorf("body has fields %v, want exactly %d", fields, len(want))
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("body field %s = %q, want %q", k, fields[k], v)
		}
	}
	if got := ep.URL + got[1].URL.RequestURI(); got != ep.URL+"/hook?tx="+res.ConversionID {
		t.Errorf("POST pixel URL %s: macros not expanded", got)
	}

	detail := conversionDetail(t, s, res.ConversionID)
	var mine []store.Delivery
	for _, d := range detail.Deliveries {
		if d.PixelID == p.ID {
			mine = append(mine, d)
		}
	}
	if len(mine) != 2 || mine[0].StatusCode != 500 || mine[1].StatusCode != 200 || mine[1].Body != string(got[1].Body) ||
		mine[0].Method != "POST" || mine[0].Attempt != 1 || mine[1].Attempt != 2 {
		t.Errorf("deliveries of the POST pixel: %+v", mine)
	}

	// Ops see the URL and answer in the workflow history; they never see a secret there.
	history := workflowHistoryText(t, s, wf)
	if strings.Contains(history, "whsec_") || strings.Contains(history, raw) {
		t.Error("a pixel secret is in the workflow history")
	}
	if !strings.Contains(history, ep.URL+"/hook?tx="+res.ConversionID) {
		t.Error("the workflow history does not name the URL called")
	}
}

func mustVerifier(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func randomBase64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// workflowHistoryText is a workflow's history as text, as the Temporal UI would show it.
func workflowHistoryText(t *testing.T, s *testenv.Stack, workflowID string) string {
	t.Helper()
	it := s.Temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(ev.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// TestPixelRetryRules runs one conversion per answer pattern: 2xx succeeds; 4xx other than 408
// and 429 stops after one attempt; 408, 429, 5xx and 3xx (never followed) are retried.
func TestPixelRetryRules(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	redirectThenOK := func(n int, _ *http.Request) (int, http.Header) {
		if n == 0 {
			return http.StatusFound, http.Header{"Location": {"/followed"}}
		}
		return 200, nil
	}
	for _, tc := range []struct {
		name      string
		answer    answerFunc
		codes     []int // the status of each attempt, in order
		delivered bool
	}{
		{"500 twice then 200", script(500, 500, 200), []int{500, 500, 200}, true},
		{"404 stops at once", script(404), []int{404}, false},
		{"400 stops at once", script(400), []int{400}, false},
		{"410 stops at once", script(410), []int{410}, false},
		{"408 is retried", script(408, 200), []int{408, 200}, true},
		{"429 is retried", script(429, 200), []int{429, 200}, true},
		{"502 and 503 are retried", script(502, 503, 204), []int{502, 503, 204}, true},
		{"302 is retried, not followed", redirectThenOK, []int{302, 200}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
			ep := newAffiliateEndpoint(t, tc.answer)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/pb?tx={transaction_id}"})
			wf, _ := afidConversion(t, s, f, nil)
			res := workflowResult(t, s, wf)
			if tc.delivered != (res.Delivered == 1) || tc.delivered == (res.Failed == 1) {
				t.Fatalf("result %+v, want delivered=%v", res, tc.delivered)
			}
			// The workflow has ended, so no attempt is still to come.
			got := ep.receipts()
			if len(got) != len(tc.codes) {
				t.Fatalf("%d attempts, want %d", len(got), len(tc.codes))
			}
			detail := conversionDetail(t, s, res.ConversionID)
			if len(detail.Deliveries) != len(tc.codes) {
				t.Fatalf("deliveries %+v, want %d", detail.Deliveries, len(tc.codes))
			}
			for i, d := range detail.Deliveries {
				if d.Attempt != i+1 || d.StatusCode != tc.codes[i] || got[i].Status != tc.codes[i] || d.DurationMS < 0 || d.At.IsZero() {
					t.Errorf("attempt %d: delivery %+v, endpoint answered %d; want %d", i+1, d, got[i].Status, tc.codes[i])
				}
				if i > 0 && d.At.Before(detail.Deliveries[i-1].At) {
					t.Errorf("deliveries not oldest first: %v after %v", d.At, detail.Deliveries[i-1].At)
				}
			}
			for _, r := range got {
				if r.URL.Path != "/pb" {
					t.Errorf("a redirect was followed to %s", r.URL.Path)
				}
			}
			if tc.codes[0] == http.StatusFound && !strings.HasPrefix(detail.Deliveries[0].Error, "redirect not followed") {
				t.Errorf("redirect logged as %q", detail.Deliveries[0].Error)
			}
		})
	}
}

// TestPixelRetryAfter checks that the attempt after a Retry-After waits at least that long, and
// that a Retry-After beyond the schedule's longest interval is cut to it (testenv.Retry: 2 s).
func TestPixelRetryAfter(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	for _, tc := range []struct {
		name       string
		code       int
		retryAfter string
		min, max   time.Duration
	}{
		// Without the header the retry would come after 200 ms (about 1 s on the dev server).
		{"429 Retry-After 2 is honoured", 429, "2", 2 * time.Second, 6 * time.Second},
		{"503 Retry-After 3600 is cut to the longest interval", 503, "3600", testenv.Retry.MaxInterval, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
			ep := newAffiliateEndpoint(t, func(n int, _ *http.Request) (int, http.Header) {
				if n == 0 {
					return tc.code, http.Header{"Retry-After": {tc.retryAfter}}
				}
				return 200, nil
			})
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/pb"})
			wf, _ := afidConversion(t, s, f, nil)
			if res := workflowResult(t, s, wf); res.Delivered != 1 {
				t.Fatalf("result %+v", res)
			}
			got := ep.receipts()
			if len(got) != 2 {
				t.Fatalf("%d attempts, want 2", len(got))
			}
			if gap := got[1].At.Sub(got[0].At); gap < tc.min || gap > tc.max {
				t.Errorf("second attempt %s after the first, want between %s and %s", gap, tc.min, tc.max)
			}
		})
	}
}

// TestPixelTimeoutThenRecovers has an affiliate that hangs past the attempt timeout once: the
// attempt is cut off at the timeout, logged as one, and the retry is delivered.
func TestPixelTimeoutThenRecovers(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	ep := newAffiliateEndpoint(t, func(n int, r *http.Request) (int, http.Header) {
		if n == 0 {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		}
		return 200, nil
	})
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": ep.URL + "/pb"})
	wf, _ := afidConversion(t, s, f, nil)
	res := workflowResult(t, s, wf)
	if res.Delivered != 1 {
		t.Fatalf("result %+v", res)
	}
	got := ep.receipts()
	if len(got) != 2 || !got[0].Cancelled || got[1].Status != 200 || got[1].Cancelled {
		t.Fatalf("endpoint got %+v: want a request the caller gave up on, then one answered 200", got)
	}
	timeout := testenv.Retry.AttemptTimeout
	if gap := got[1].At.Sub(got[0].At); gap < timeout {
		t.Errorf("retry %s after the hanging attempt began, before the %s timeout", gap, timeout)
	}
	d := conversionDetail(t, s, res.ConversionID).Deliveries
	if len(d) != 2 {
		t.Fatalf("deliveries %+v", d)
	}
	wantErr := fmt.Sprintf("timeout: no answer within %s", timeout)
	if d[0].StatusCode != 0 || d[0].Error != wantErr || d[0].DurationMS < timeout.Milliseconds() ||
		d[0].DurationMS > (timeout+5*time.Second).Milliseconds() {
		t.Errorf("timed-out attempt logged as %+v, want error %q and a duration of about %s", d[0], wantErr, timeout)
	}
	if d[1].StatusCode != 200 || d[1].Attempt != 2 || d[1].Error != "" {
		t.Errorf("second attempt logged as %+v", d[1])
	}
}

// TestPixelAffiliateDownThenBack points a pixel at a port where nothing listens (connection
// refused), lets a few attempts fail, then starts the affiliate on that same port: the pixel is
// delivered exactly once.
func TestPixelAffiliateDownThenBack(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": "http://" + addr + "/pb?tx={transaction_id}"})
	wf, inv := afidConversion(t, s, f, nil)
	conv := conversionByInvoice(t, s, f.Offer.ID, inv)
	eventually(t, 30*time.Second, "three refused attempts", func() bool { return len(finishedDeliveries(t, s, conv.ID)) >= 3 })

	ep := newAffiliateEndpointOn(t, addr, script(200))
	res := workflowResult(t, s, wf)
	if res.Delivered != 1 {
		t.Fatalf("result %+v", res)
	}
	if got := ep.receipts(); len(got) != 1 || got[0].Status != 200 || got[0].URL.Query().Get("tx") != conv.ID {
		t.Fatalf("affiliate got %d requests after coming back, want exactly 1", len(got))
	}
	d := conversionDetail(t, s, conv.ID).Deliveries
	if len(d) < 4 {
		t.Fatalf("deliveries %+v: want refused attempts and the success", d)
	}
	for i, x := range d {
		if x.Attempt != i+1 {
			t.Errorf("delivery %d has attempt %d", i, x.Attempt)
		}
		last := i == len(d)-1
		if last && (x.StatusCode != 200 || x.Error != "") {
			t.Errorf("last delivery %+v, want 200", x)
		}
		if !last && (x.StatusCode != 0 || !strings.Contains(x.Error, "connection refused")) {
			t.Errorf("delivery %+v, want connection refused", x)
		}
	}
}

// TestReversal reverses an approved conversion while its approval pixel is still being retried:
// the conversion is reversed at once, and each pixel hears "reversed", with the withdrawn
// commission as {payout}, only after it heard "approved".
func TestReversal(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, map[string]any{"allow_custom_params": true})
	var released atomic.Bool
	getEP := newAffiliateEndpoint(t, func(_ int, r *http.Request) (int, http.Header) {
		if r.URL.Query().Get("st") == "approved" && !released.Load() {
			return 503, nil
		}
		return 200, nil
	})
	postEP := newAffiliateEndpoint(t, script(200))
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": getEP.URL + "/pb?tx={transaction_id}&st={status}&pay={payout}"})
	pp := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": postEP.URL + "/hook", "method": "POST"})

	wf, inv := afidConversion(t, s, f, nil)
	conv := conversionByInvoice(t, s, f.Offer.ID, inv)
	if conv.Status != domain.ConversionApproved || conv.Commission.String() != "2.00" {
		t.Fatalf("conversion %+v", conv)
	}
	eventually(t, 30*time.Second, "a failed approval attempt", func() bool { return len(getEP.receipts()) > 0 })

	var accepted map[string]string
	mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+conv.ID+"/reverse", map[string]any{"reason": "chargeback"}, &accepted)
	if accepted["status"] != "accepted" || accepted["workflow_id"] != "reversal/"+conv.ID {
		t.Fatalf("reverse answered %v", accepted)
	}
	var after conversionWithDeliveries
	eventually(t, 30*time.Second, "status reversed", func() bool {
		after = conversionDetail(t, s, conv.ID)
		return after.Status == domain.ConversionReversed
	})
	if after.Commission.String() != "0.00" || after.ReversedCommission == nil || after.ReversedCommission.String() != "2.00" ||
		after.Reason != nil || after.Note == nil || *after.Note != "chargeback" {
		t.Fatalf("reversed conversion %+v", after.Conversion)
	}
	if code, msg := adminError(t, s, "POST", "/api/v1/conversions/"+conv.ID+"/reverse", nil); code != 409 || !strings.HasPrefix(msg, "status: ") {
		t.Errorf("second reverse: %d %q, want 409", code, msg)
	}

	released.Store(true)
	if res := workflowResult(t, s, wf); res.Delivered != 2 {
		t.Fatalf("conversion workflow %+v", res)
	}
	res := workflowResult(t, s, accepted["workflow_id"])
	if res.Status != domain.ConversionReversed || res.Delivered != 2 || res.Failed != 0 || res.Commission.String() != "0.00" {
		t.Fatalf("reversal workflow %+v", res)
	}

	// GET pixel: every approval attempt, the successful one included, came before the reversal.
	got := getEP.receipts()
	var order []string
	for _, r := range got {
		q := r.URL.Query()
		order = append(order, fmt.Sprintf("%s/%s/%d", q.Get("st"), q.Get("pay"), r.Status))
	}
	last := order[len(order)-1]
	if last != "reversed/2.00/200" || order[len(order)-2] != "approved/2.00/200" || slices.Index(order, "reversed/2.00/200") != len(order)-1 {
		t.Fatalf("GET pixel calls %v: want approvals (the last one 200), then one reversed/2.00", order)
	}

	// POST pixel: approved, then reversed, each signed, each its own webhook-id.
	posts := postEP.receipts()
	if len(posts) != 2 {
		t.Fatalf("POST pixel got %d requests", len(posts))
	}
	wh := mustVerifier(t, pp.Secret)
	for i, want := range []string{"approved", "reversed"} {
		var body map[string]string
		if err := json.Unmarshal(posts[i].Body, &body); err != nil || body["status"] != want || body["payout"] != "2.00" ||
			body["transaction_id"] != conv.ID {
			t.Errorf("POST %d body %s, want status %s and payout 2.00", i, posts[i].Body, want)
		}
		if err := wh.Verify(posts[i].Body, posts[i].Header); err != nil {
			t.Errorf("POST %d: %v", i, err)
		}
	}
	if posts[0].Header.Get("webhook-id") == posts[1].Header.Get("webhook-id") {
		t.Error("the reversal reused the approval's webhook-id")
	}
	var reversedLog int
	for _, d := range conversionDetail(t, s, conv.ID).Deliveries {
		if d.Event == domain.ConversionReversed {
			reversedLog++
		}
	}
	if reversedLog != 2 {
		t.Errorf("%d reversal deliveries logged, want 2", reversedLog)
	}

	// Ops find the reversal by the attributes they filter on.
	query := fmt.Sprintf(`WorkflowId = "reversal/%s" AND ConversionStatus = "reversed" AND AffiliateId = "%d" AND InvoiceId = "%s"`,
		conv.ID, f.Affiliate.ID, inv)
	eventually(t, 30*time.Second, "reversal visible to "+query, func() bool {
		resp, err := s.Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		return err == nil && len(resp.Executions) == 1
	})
}

// TestReversalRefused checks the reverse endpoint's other answers: 409 unless approved, 404 for
// an unknown conversion, 400 for a bad reason.
func TestReversalRefused(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, map[string]any{"allow_custom_params": true})
	_, rejInv := afidConversion(t, s, f, url.Values{"status": {"rejected"}})
	rejected := conversionByInvoice(t, s, f.Offer.ID, rejInv)
	_, heldInv := afidConversion(t, s, f, url.Values{"status": {"pending"}})
	var held domain.Conversion
	eventually(t, 30*time.Second, "held conversion", func() bool {
		var list struct{ Items []domain.Conversion }
		mustAdmin(t, s, 200, "GET", "/api/v1/conversions?"+url.Values{"invoice_id": {heldInv}}.Encode(), nil, &list)
		if len(list.Items) == 1 {
			held = list.Items[0]
		}
		return held.ID != ""
	})
	for _, tc := range []struct {
		name, id string
		body     any
		code     int
		prefix   string
	}{
		{"rejected", rejected.ID, nil, 409, "status: "},
		{"held", held.ID, map[string]any{"reason": "refund"}, 409, "status: "},
		{"unknown", domain.NewID(), nil, 404, "id: conversion not found"},
		{"reason not text", rejected.ID, map[string]any{"reason": 5}, 400, "reason: "},
	} {
		if code, msg := adminError(t, s, "POST", "/api/v1/conversions/"+tc.id+"/reverse", tc.body); code != tc.code || !strings.HasPrefix(msg, tc.prefix) {
			t.Errorf("%s: %d %q, want %d %q...", tc.name, code, msg, tc.code, tc.prefix)
		}
	}
	if c := conversionDetail(t, s, held.ID); c.Status != domain.ConversionPending || c.Commission.String() != "2.00" {
		t.Errorf("held conversion changed: %+v", c.Conversion)
	}
}

// TestWorkerProcessKilledDeliversOnce runs the worker as a process of its own (cmd/trackflow,
// ROLE=worker) and kills it with SIGKILL while two affiliates fail: one answers 500 (the kill
// falls between its attempts), the other hangs (the kill cuts an attempt off). A new worker
// process picks both up; each affiliate receives exactly one 2xx, and the cut-off attempt stays in
// the delivery log.
func TestWorkerProcessKilledDeliversOnce(t *testing.T) {
	t.Parallel()
	s := testenv.New(t, testenv.Options{NoWorker: true})
	bin := testenv.BuildBinary(t)
	first := testenv.StartWorker(t, s, bin)

	var succeed atomic.Bool
	failing := newAffiliateEndpoint(t, func(int, *http.Request) (int, http.Header) {
		if succeed.Load() {
			return 200, nil
		}
		return 500, nil
	})
	hanging := newAffiliateEndpoint(t, func(n int, r *http.Request) (int, http.Header) {
		if n == 0 {
			<-r.Context().Done() // the killed worker's connection closes
		}
		return 200, nil
	})
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, nil)
	var other store.Affiliate
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "hanging " + t.Name()}, &other)
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": failing.URL + "/pb?tx={transaction_id}"})
	addPixel(t, s, other.ID, map[string]any{"url": hanging.URL + "/pb?tx={transaction_id}"})
	wfA, invA := afidConversion(t, s, f, nil)
	fOther := f
	fOther.Affiliate = other
	wfB, invB := afidConversion(t, s, fOther, nil)
	convA := conversionByInvoice(t, s, f.Offer.ID, invA)
	conversionByInvoice(t, s, f.Offer.ID, invB)

	eventually(t, 60*time.Second, "two failed attempts and a hanging one", func() bool {
		return len(finishedDeliveries(t, s, convA.ID)) >= 2 && len(hanging.receipts()) == 1
	})
	first.Kill()
	before := len(failing.receipts())
	testenv.StartWorker(t, s, bin)
	eventually(t, 60*time.Second, "an attempt by the new worker process", func() bool { return len(failing.receipts()) > before })
	succeed.Store(true)

	resA, resB := workflowResult(t, s, wfA), workflowResult(t, s, wfB)
	if resA.Delivered != 1 || resB.Delivered != 1 {
		t.Fatalf("results %+v and %+v: want each pixel delivered", resA, resB)
	}
	if n := failing.successes(); n != 1 {
		t.Errorf("failing affiliate got %d 2xx answers, want exactly 1", n)
	}
	if got := hanging.receipts(); len(got) != 2 || !got[0].Cancelled || got[1].Status != 200 {
		t.Errorf("hanging affiliate got %+v: want the cut-off request, then one 200", got)
	}

	for _, id := range []string{resA.ConversionID, resB.ConversionID} {
		d := conversionDetail(t, s, id).Deliveries
		var ok int
		for i, x := range d {
			if x.Attempt != i+1 {
				t.Errorf("%s: delivery %d has attempt %d", id, i, x.Attempt)
			}
			if x.StatusCode == 200 {
				ok++
			}
		}
		if ok != 1 || d[len(d)-1].StatusCode != 200 {
			t.Errorf("%s: deliveries %+v: want exactly one 200, the last", id, d)
		}
	}
	// The hanging affiliate's first attempt was cut off by the kill: it is logged as such.
	if d := conversionDetail(t, s, resB.ConversionID).Deliveries; len(d) != 2 || d[0].Error != store.DeliveryInFlight || d[0].StatusCode != 0 {
		t.Errorf("cut-off attempt logged as %+v, want %q", d, store.DeliveryInFlight)
	}
}

// TestTrackingCodeSnippetsWork pastes every snippet of GET /api/v1/offers/:id/tracking-code, fills
// in its placeholders, and uses it: each one records what it should.
func TestTrackingCodeSnippetsWork(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "3"}, map[string]any{"thank_you_url": "https://shop.example/thanks"})
	var tc api.TrackingCode
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/offers/%d/tracking-code?aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil, &tc)
	if tc.BaseURL != s.URL || tc.OfferID != f.Offer.ID || tc.AffID == nil || *tc.AffID != f.Affiliate.ID {
		t.Fatalf("tracking code %+v", tc)
	}
	if !strings.Contains(tc.ClickIDPostback, "token="+url.QueryEscape(f.Advertiser.PostbackToken)) ||
		!strings.Contains(tc.AFIDPostback, "token="+url.QueryEscape(f.Advertiser.PostbackToken)) {
		t.Errorf("postback URLs lack the advertiser's token: %s, %s", tc.ClickIDPostback, tc.AFIDPostback)
	}
	for _, p := range []string{"{sub_id}", "{amount}", "{order_id}", "{click_id}"} {
		if tc.Placeholders[p] == "" {
			t.Errorf("placeholder %s is not explained", p)
		}
	}
	fill := func(snippet string, pairs ...string) string {
		// sub2..sub5 are optional: left empty, as the placeholders say they may be.
		pairs = append(pairs, "{sub2}", "", "{sub3}", "", "{sub4}", "", "{sub5}", "")
		return strings.NewReplacer(pairs...).Replace(snippet)
	}
	attr := func(snippet, name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(snippet)
		if m == nil {
			t.Fatalf("no %s in %s", name, snippet)
		}
		return html.UnescapeString(m[1])
	}
	newClick := func() (string, *http.Cookie) {
		link := fill(tc.TrackingLink, "{sub_id}", "snippet")
		q, ok := strings.CutPrefix(link, s.URL+"/click?")
		if !ok {
			t.Fatalf("tracking link %s", link)
		}
		return click(t, s, q, nil)
	}
	invoice := func() string { return "SNIP-" + domain.NewID()[:10] }

	// The affiliate's tracking link and impression pixel.
	clickID, cookie := newClick()
	if c, err := s.Store.Click(context.Background(), clickID); err != nil || c.AffID != f.Affiliate.ID || c.SubID == nil || *c.SubID != "snippet" {
		t.Fatalf("click from the tracking link: %+v %v", c, err)
	}
	if resp, _ := get(t, fill(attr(tc.ImpressionPixel, "src"), "{sub_id}", "snippet")); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" {
		t.Errorf("impression pixel: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
	}

	// The thank-you page's image pixel, in the browser that clicked.
	inv1 := invoice()
	if resp, _ := get(t, fill(attr(tc.ImagePixel, "src"), "{amount}", "30.00", "{order_id}", inv1), cookie); resp.StatusCode != 200 {
		t.Fatalf("image pixel: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
	}

	// The checkout form, in a browser with a click of its own.
	_, cookie2 := newClick()
	inv2 := invoice()
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(tc.HTMLForm, -1) {
		form.Set(m[1], fill(m[2], "{amount}", "30.00", "{order_id}", inv2))
	}
	req, _ := http.NewRequest("POST", attr(tc.HTMLForm, "action"), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie2)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://shop.example/thanks" {
		t.Fatalf("HTML form: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("X-Error"))
	}

	// The advertiser's server-to-server posts.
	click3, _ := newClick()
	inv3, inv4 := invoice(), invoice()
	if resp, body := get(t, fill(tc.ClickIDPostback, "{click_id}", click3, "{amount}", "30.00", "{order_id}", inv3)); resp.StatusCode != 202 {
		t.Fatalf("Click ID postback: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(t, fill(tc.AFIDPostback, "{sub_id}", "rebill", "{amount}", "30.00", "{order_id}", inv4)); resp.StatusCode != 202 {
		t.Fatalf("AFID postback: %d %s", resp.StatusCode, body)
	}

	for inv, method := range map[string]string{inv1: "cookie", inv2: "cookie", inv3: "click_id", inv4: "afid"} {
		c := conversionByInvoice(t, s, f.Offer.ID, inv)
		if c.Status != domain.ConversionApproved || c.AttributionMethod == nil || *c.AttributionMethod != method ||
			c.AffID == nil || *c.AffID != f.Affiliate.ID || c.Amount.String() != "30.00" || c.Commission.String() != "3.00" {
			t.Errorf("conversion %s: %+v, want approved by %s", inv, c, method)
		}
	}

	// Without aff_id the affiliate's id is a placeholder too.
	var generic api.TrackingCode
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/offers/%d/tracking-code", f.Offer.ID), nil, &generic)
	if generic.AffID != nil || !strings.Contains(generic.TrackingLink, "aff_id={aff_id}") || generic.Placeholders["{aff_id}"] == "" {
		t.Errorf("generic tracking code %+v", generic)
	}
	for _, bad := range []struct {
		path, prefix string
		code         int
	}{
		{fmt.Sprintf("/api/v1/offers/%d/tracking-code?aff_id=x", f.Offer.ID), "aff_id: ", 400},
		{fmt.Sprintf("/api/v1/offers/%d/tracking-code?aff_id=999999999", f.Offer.ID), "aff_id: affiliate not found", 404},
		{"/api/v1/offers/999999999/tracking-code", "id: offer not found", 404},
		{"/api/v1/offers/abc/tracking-code", "id: offer not found", 404},
	} {
		if code, msg := adminError(t, s, "GET", bad.path, nil); code != bad.code || !strings.HasPrefix(msg, bad.prefix) {
			t.Errorf("GET %s: %d %q, want %d %q", bad.path, code, msg, bad.code, bad.prefix)
		}
	}
}
