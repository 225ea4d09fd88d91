package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/internal/testenv"
)

// stormSize is how many thank-you pixels a storm sends (the attack of issue 8 sent 600).
const stormSize = 50

// pixelStorm loads the offer's thank-you pixel stormSize times, 10 at a time, each with a new
// random well-formed tf_ cookie, and returns once every one is answered.
func pixelStorm(t *testing.T, s *testenv.Stack, f fixture) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 10)
	errs := make(chan string, stormSize)
	for i := 0; i < stormSize; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/pixel?offer_id=%d&amount=1&id=%s", s.URL, f.Offer.ID, invoiceID("STORM")), nil)
			req.Header.Set("User-Agent", fmt.Sprintf("storm-%d", i))
			var b [16]byte
			_, _ = rand.Read(b[:])
			req.AddCookie(&http.Cookie{Name: fmt.Sprintf("tf_%d", f.Offer.ID), Value: hex.EncodeToString(b[:])})
			resp, err := noRedirect.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Sprintf("pixel: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// afidLatency sends an AFID postback and returns how long its conversion took to leave pending
// (its workflow's result: there are no pixels to fire).
func afidLatency(t *testing.T, s *testenv.Stack, f fixture) time.Duration {
	t.Helper()
	start := time.Now()
	wf, _ := afidConversion(t, s, f, nil)
	res := workflowResult(t, s, wf)
	if res.Status != "approved" {
		t.Fatalf("AFID conversion: %+v", res)
	}
	return time.Since(start)
}

// TestForgedCookieStorm (issue 8, finding 2): a storm of thank-you pixels carrying random
// well-formed tf_ cookies costs the worker no waiting: every forged cookie is one lookup (the
// cookie_click_lookups "unknown" outcome, none waited for, none lost after a wait), and a
// legitimate AFID postback sent right after the storm is approved. Before the fix each forged
// cookie held a local-activity slot for 3 s: 50 of them on 40 slots delayed the postback by
// seconds. The counters show any wait without timing anything (the postback's latency is only
// logged). Not parallel: it reads process-wide counters.
func TestForgedCookieStorm(t *testing.T) {
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	before := scrapeMetrics(t, s)
	pixelStorm(t, s, f)
	stormed := afidLatency(t, s, f)
	eventually(t, 2*time.Minute, "the forged storm's conversions", func() bool {
		return rowsFor(t, s, "conversions", f.Offer.ID) == stormSize+1
	})
	after := scrapeMetrics(t, s)
	delta := func(outcome string) float64 {
		k := `trackflow_cookie_click_lookups_total{outcome="` + outcome + `"}`
		return after[k] - before[k]
	}
	t.Logf("AFID postback to approved after %d forged cookies: %s", stormSize, stormed)
	if delta("unknown") < stormSize || delta("found_after_wait") != 0 || delta("lost") != 0 {
		t.Errorf("cookie lookups during the storm: unknown +%v, found_after_wait +%v, lost +%v; want +%d unknown and no wait",
			delta("unknown"), delta("found_after_wait"), delta("lost"), stormSize)
	}
}
