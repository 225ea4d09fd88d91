package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackflow/trackflow/domain"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
)

// httpClient is the senders' client: keep-alive, never following redirects.
var httpClient = &http.Client{
	Timeout:       30 * time.Second,
	Transport:     &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// fixture is the advertiser, affiliate and offer the benchmark drives, made through the admin API.
type fixture struct {
	Token   string
	OfferID int64
	AffID   int64
}

func adminCall(ctx context.Context, api, token, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, api+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

// newFixture creates the benchmark's offer (cpa 2.00, the same landing URL shape as the bare
// baseline's redirect) and an affiliate whose one GET pixel points at the local affiliate server.
func newFixture(ctx context.Context, api, adminToken, pixelURL string) (fixture, error) {
	f := fixture{Token: "bench-" + domain.NewID()}
	var adv, aff, offer struct{ ID int64 }
	if err := adminCall(ctx, api, adminToken, "POST", "/api/v1/advertisers",
		map[string]any{"name": "bench advertiser", "postback_token": f.Token}, &adv); err != nil {
		return f, err
	}
	if err := adminCall(ctx, api, adminToken, "POST", "/api/v1/affiliates", map[string]any{"name": "bench affiliate"}, &aff); err != nil {
		return f, err
	}
	if err := adminCall(ctx, api, adminToken, "POST", "/api/v1/offers", map[string]any{
		"advertiser_id": adv.ID, "name": "bench offer",
		"landing_url": "http://127.0.0.1/landing?click_id={click_id}&aff_id={aff_id}&sub_id={sub_id}",
		"payout":      map[string]any{"type": "cpa", "amount": "2"},
	}, &offer); err != nil {
		return f, err
	}
	var px struct{ ID int64 }
	if err := adminCall(ctx, api, adminToken, "POST", fmt.Sprintf("/api/v1/affiliates/%d/pixels", aff.ID),
		map[string]any{"url": pixelURL}, &px); err != nil {
		return f, err
	}
	f.OfferID, f.AffID = offer.ID, aff.ID
	return f, nil
}

// affiliateServer stands in for the affiliate's pixel endpoint and tells each sender when its
// conversion's pixel arrived.
type affiliateServer struct {
	URL     string
	srv     *http.Server
	mu      sync.Mutex
	waiting map[string]chan time.Time
}

func newAffiliateServer() (*affiliateServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &affiliateServer{URL: "http://" + ln.Addr().String(), waiting: map[string]chan time.Time{}}
	a.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		inv := r.URL.Query().Get("inv")
		a.mu.Lock()
		ch := a.waiting[inv]
		delete(a.waiting, inv)
		a.mu.Unlock()
		if ch != nil {
			ch <- at
		}
		w.WriteHeader(http.StatusOK)
	})}
	go a.srv.Serve(ln) //nolint:errcheck // ends with Close
	return a, nil
}

func (a *affiliateServer) expect(inv string) chan time.Time {
	ch := make(chan time.Time, 1)
	a.mu.Lock()
	a.waiting[inv] = ch
	a.mu.Unlock()
	return ch
}

func (a *affiliateServer) Close() { a.srv.Close() }

var invoiceSeq atomic.Int64

// conversion sends one AFID postback and waits until its affiliate pixel arrives: request in to
// pixel received.
func conversion(ctx context.Context, api string, f fixture, aff *affiliateServer) (time.Duration, error) {
	d, _, err := postbackToPixel(ctx, api, f, aff)
	return d, err
}

// postbackToPixel is conversion, also returning the conversion's workflow ID.
func postbackToPixel(ctx context.Context, api string, f fixture, aff *affiliateServer) (time.Duration, string, error) {
	inv := fmt.Sprintf("B%d-%d", time.Now().UnixNano(), invoiceSeq.Add(1))
	arrived := aff.expect(inv)
	form := url.Values{"token": {f.Token}, "offer_id": {fmt.Sprint(f.OfferID)}, "aff_id": {fmt.Sprint(f.AffID)},
		"amount": {"19.95"}, "id": {inv}}
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, "POST", api+"/postback", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("postback: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return 0, "", fmt.Errorf("postback: %d %s", resp.StatusCode, body)
	}
	var accepted struct {
		WorkflowID string `json:"workflow_id"`
	}
	if err := json.Unmarshal(body, &accepted); err != nil {
		return 0, "", fmt.Errorf("postback answer %q: %w", body, err)
	}
	select {
	case at := <-arrived:
		return at.Sub(start), accepted.WorkflowID, nil
	case <-time.After(60 * time.Second):
		return 0, "", fmt.Errorf("pixel of %s never arrived", inv)
	case <-ctx.Done():
		return 0, "", ctx.Err()
	}
}

// minimalTaskQueue is where the minimal baseline workflow runs, beside trackflow's queue.
const minimalTaskQueue = "bench-minimal"

// MinimalWorkflow is the floor of the conversion figures: two local activities and one
// activity, no I/O, the shape of a conversion (attribute, record, fire one pixel).
func MinimalWorkflow(ctx workflow.Context, in string) (string, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var s string
	if err := workflow.ExecuteLocalActivity(lctx, MinimalStep, in).Get(lctx, &s); err != nil {
		return "", err
	}
	if err := workflow.ExecuteLocalActivity(lctx, MinimalStep, s).Get(lctx, &s); err != nil {
		return "", err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 15 * time.Second})
	if err := workflow.ExecuteActivity(actx, MinimalStep, s).Get(actx, &s); err != nil {
		return "", err
	}
	return s, nil
}

// MinimalStep is the minimal workflow's activity: no I/O.
func MinimalStep(_ context.Context, s string) (string, error) { return s, nil }

var minimalSeq atomic.Int64

// minimal runs one minimal workflow, start to result.
func minimal(ctx context.Context, c client.Client, eager bool) (time.Duration, error) {
	start := time.Now()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        fmt.Sprintf("minimal/%d-%d", time.Now().UnixNano(), minimalSeq.Add(1)),
		TaskQueue: minimalTaskQueue, EnableEagerStart: eager,
	}, MinimalWorkflow, "x")
	if err != nil {
		return 0, fmt.Errorf("start minimal workflow: %w", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		return 0, fmt.Errorf("minimal workflow: %w", err)
	}
	return time.Since(start), nil
}

// loadResult is a closed-loop run: how many completed per second, and their latencies.
type loadResult struct {
	PerSec float64
	Lat    []time.Duration
	Errors int
	First  error
}

// closedLoop runs one() from n senders, each starting its next as soon as its last completed,
// for d; the rate counts completions over the time until the last one ended.
func closedLoop(ctx context.Context, n int, d time.Duration, one func(context.Context) (time.Duration, error)) loadResult {
	var mu sync.Mutex
	var res loadResult
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				lat, err := one(ctx)
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.First == nil {
						res.First = err
					}
				} else {
					res.Lat = append(res.Lat, lat)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.PerSec = float64(len(res.Lat)) / time.Since(start).Seconds()
	return res
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), lat...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}
