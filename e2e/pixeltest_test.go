package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/testenv"
)

// pixelTryAnswer is POST /api/v1/affiliates/:id/pixels/:pixel_id/test's answer.
type pixelTryAnswer struct {
	Method       string `json:"method"`
	URL          string `json:"url"`
	Body         string `json:"body"`
	StatusCode   int    `json:"status_code"`
	ResponseBody string `json:"response_body"`
	DurationMS   int64  `json:"duration_ms"`
	Error        string `json:"error"`
}

// hookServer records the requests an affiliate's endpoint receives and answers with answer.
type hookServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
}

func newHookServer(t *testing.T, answer http.HandlerFunc) *hookServer {
	t.Helper()
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests, h.bodies = append(h.requests, r), append(h.bodies, string(b))
		h.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.requests)
}

func tryPixel(t *testing.T, s *testenv.Stack, p api.PixelCreated, in any) pixelTryAnswer {
	t.Helper()
	var out pixelTryAnswer
	code, raw := adminRaw(t, s, "POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d/test", p.AffID, p.ID), in)
	if code != http.StatusOK {
		t.Fatalf("pixel test: %d %s", code, raw)
	}
	var keys map[string]any
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) != 7 {
		t.Fatalf("pixel test answer %s: want exactly method, url, body, status_code, response_body, duration_ms, error (%v)", raw, err)
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// deliveriesOfPixel counts the delivery log rows of a pixel: the test tool writes none.
func deliveriesOfPixel(t *testing.T, s *testenv.Stack, pixelID int64) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, `SELECT count(*) FROM pixel_deliveries WHERE pixel_id = $1`, pixelID); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPixelTestTool checks the pixel test tool against an affiliate that answers 200 (a signed
// POST with overridden macros, the answer's first KB), 500 (not retried) and never (the attempt
// timeout of the test stack, 2 s), and its input errors. No call is logged as a delivery.
func TestPixelTestTool(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1.00"}, nil)

	t.Run("200 signed POST", func(t *testing.T) {
		hook := newHookServer(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("a", 2000)))
		})
		p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": hook.URL + "/hook?tx={transaction_id}", "method": "POST",
			"offer_id": f.Offer.ID})
		ans := tryPixel(t, s, p, map[string]any{"macros": map[string]string{"payout": "7.00", "sub_id": "mine"}})
		if ans.Method != "POST" || ans.StatusCode != 200 || ans.Error != "" || ans.ResponseBody != strings.Repeat("a", 1024) {
			t.Fatalf("answer %+v", ans)
		}
		var sent map[string]string
		if err := json.Unmarshal([]byte(ans.Body), &sent); err != nil || sent["payout"] != "7.00" || sent["sub_id"] != "mine" ||
			sent["status"] != "approved" || !strings.HasPrefix(sent["transaction_id"], "test-") ||
			sent["offer_id"] != fmt.Sprint(f.Offer.ID) || sent["aff_id"] != fmt.Sprint(f.Affiliate.ID) {
			t.Fatalf("body %s (%v)", ans.Body, err)
		}
		// Every key of a real delivery's body, empty when the sample has no value.
		for _, name := range []string{"event", "sub2", "sub3", "sub4", "sub5", "creative_id", "ip", "invoice_id", "amount", "currency"} {
			if _, ok := sent[name]; !ok {
				t.Errorf("body %s has no %q, which a real delivery's has", ans.Body, name)
			}
		}
		if ans.URL != hook.URL+"/hook?tx="+sent["transaction_id"] {
			t.Errorf("url %s", ans.URL)
		}
		if hook.count() != 1 {
			t.Fatalf("%d requests, want 1", hook.count())
		}
		r := hook.requests[0]
		sig, err := activities.SignWebhook(p.Secret, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), []byte(hook.bodies[0]))
		if err != nil || r.Header.Get("webhook-signature") != sig || hook.bodies[0] != ans.Body {
			t.Errorf("signature %q, want %q (%v); body received %s", r.Header.Get("webhook-signature"), sig, err, hook.bodies[0])
		}
		if n := deliveriesOfPixel(t, s, p.ID); n != 0 {
			t.Errorf("%d deliveries logged", n)
		}
	})

	t.Run("500 not retried", func(t *testing.T) {
		hook := newHookServer(t, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(500)
			_, _ = w.Write([]byte("boom"))
		})
		p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": hook.URL + "/pb?payout={payout}&s={status}"})
		ans := tryPixel(t, s, p, nil)
		if ans.Method != "GET" || ans.StatusCode != 500 || ans.ResponseBody != "boom" || ans.Body != "" ||
			ans.URL != hook.URL+"/pb?payout=1.00&s=approved" {
			t.Fatalf("answer %+v", ans)
		}
		if hook.count() != 1 || deliveriesOfPixel(t, s, p.ID) != 0 {
			t.Errorf("%d requests (want 1), %d deliveries (want 0)", hook.count(), deliveriesOfPixel(t, s, p.ID))
		}
	})

	t.Run("timeout", func(t *testing.T) {
		hook := newHookServer(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": hook.URL + "/slow"})
		ans := tryPixel(t, s, p, nil)
		if ans.StatusCode != 0 || !strings.HasPrefix(ans.Error, "timeout:") || ans.DurationMS < testenv.Retry.AttemptTimeout.Milliseconds() {
			t.Fatalf("answer %+v, want a timeout after %s", ans, testenv.Retry.AttemptTimeout)
		}
		if hook.count() != 1 {
			t.Errorf("%d requests, want 1", hook.count())
		}
	})

	t.Run("bad input", func(t *testing.T) {
		p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": "https://affiliate.example/pb"})
		other := newAffiliate(t, s)
		for _, tc := range []struct {
			path string
			body any
			code int
			msg  string
		}{
			{fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d/test", f.Affiliate.ID, p.ID), map[string]any{"macros": map[string]string{"nope": "x"}}, 400, "macros"},
			{fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d/test", f.Affiliate.ID, p.ID), map[string]any{"macros": map[string]int{"payout": 1}}, 400, "macros"},
			{fmt.Sprintf("/api/v1/affiliates/%d/pixels/%d/test", other.ID, p.ID), nil, 404, ""},
			{fmt.Sprintf("/api/v1/affiliates/%d/pixels/999999999/test", f.Affiliate.ID), nil, 404, ""},
		} {
			code, msg := adminError(t, s, "POST", tc.path, tc.body)
			if code != tc.code || !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("%s %v: %d %q, want %d %q…", tc.path, tc.body, code, msg, tc.code, tc.msg)
			}
		}
	})
}

// TestPixelTestToolRefusesPrivateTarget: with POSTBACK_ALLOW_PRIVATE=false, a pixel on loopback
// answers the guard's error and the affiliate's server is never called.
func TestPixelTestToolRefusesPrivateTarget(t *testing.T) {
	t.Parallel()
	s := testenv.New(t, testenv.Options{RefusePrivate: true})
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1.00"}, nil)
	hook := newHookServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	p := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": hook.URL + "/pb", "method": "POST"})
	ans := tryPixel(t, s, p, nil)
	if ans.StatusCode != 0 || !strings.HasPrefix(ans.Error, "refused:") || ans.URL != hook.URL+"/pb" {
		t.Fatalf("answer %+v, want the refusal", ans)
	}
	if hook.count() != 0 || deliveriesOfPixel(t, s, p.ID) != 0 {
		t.Errorf("%d requests, %d deliveries; want none", hook.count(), deliveriesOfPixel(t, s, p.ID))
	}
}
