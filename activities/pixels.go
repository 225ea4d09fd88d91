package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// Error types of a pixel attempt. The first three are never retried (the workflow's retry policy
// lists them, and FirePixel marks them non-retryable too); PixelRetry is retried on the schedule.
const (
	ErrTypePixelRejected = "PixelRejected" // the affiliate answered 4xx (not 408/429)
	ErrTypePixelRefused  = "PixelRefused"  // the SSRF guard refused the target
	ErrTypePixelInvalid  = "PixelInvalid"  // the URL or secret cannot make a request
	ErrTypePixelRetry    = "PixelRetry"    // 3xx, 408, 429, 5xx, timeout or connection error
)

// FireInput is one affiliate pixel to fire for one conversion event.
type FireInput struct {
	ConversionID string               `json:"conversion_id"`
	Event        string               `json:"event"` // approved or reversed
	Pixel        store.Pixel          `json:"pixel"` // without its secret: FirePixel reads it
	Macros       map[string]string    `json:"macros"`
	Retry        domain.RetrySchedule `json:"retry"`

	// Test is a test conversion's pixel: logged as it would go out, never sent.
	Test bool `json:"test,omitempty"`
}

// TestNotSent is the error of a test conversion's delivery: what would have been sent, not sent.
const TestNotSent = "test: not sent"

// FireResult is the successful attempt: what was called and what it answered, so the workflow
// history in the Temporal UI names the URL next to the pixel's input.
type FireResult struct {
	Method     string `json:"method"`
	URL        string `json:"url"`
	StatusCode int    `json:"status_code"`
	Attempt    int    `json:"attempt"`
}

// WebhookID is the Standard Webhooks message id of one delivery: the same on every retry.
func WebhookID(conversionID string, pixelID int64, event string) string {
	return fmt.Sprintf("msg_%s_%d_%s", conversionID, pixelID, event)
}

// FirePixel makes one attempt to fire an affiliate pixel. 2xx succeeds; 4xx other than 408 and
// 429, refused targets and unusable URLs fail without retry; everything else is retried by
// Temporal on the workflow's schedule, honouring Retry-After within it.
//
// The attempt is logged before the affiliate is called and completed after, so an attempt cut
// off by a killed worker or an activity timeout stays in the log (store.DeliveryInFlight); when the
// log cannot be written the affiliate is not called and the attempt is retried.
func (a *Activities) FirePixel(ctx context.Context, in FireInput) (FireResult, error) {
	attempt := int(activity.GetInfo(ctx).Attempt)
	timeout := in.Retry.Timeout()
	var secret string
	if in.Pixel.Method == http.MethodPost {
		s, err := a.Store.PixelSecret(ctx, in.Pixel.ID)
		if domain.ErrorKind(err) == domain.NotFound {
			return FireResult{}, temporal.NewNonRetryableApplicationError("pixel not found", ErrTypePixelInvalid, err)
		}
		if err != nil {
			return FireResult{}, fmt.Errorf("fire pixel %d: %w", in.Pixel.ID, err)
		}
		secret = s
	}
	now := time.Now()
	target := domain.ExpandMacros(in.Pixel.URL, in.Macros)
	req, body, buildErr := buildPixelRequest(ctx, in, target, secret, now)
	d := store.Delivery{ConversionID: in.ConversionID, PixelID: in.Pixel.ID, Event: in.Event,
		Method: pixelMethod(in.Pixel), URL: target, Body: body, Attempt: attempt, At: now.UTC(),
		Error: store.DeliveryInFlight}
	if in.Test {
		// A test conversion's pixel: the exact URL and body, logged once as attempt 0, never sent.
		d.Attempt, d.Error = 0, TestNotSent
		if buildErr != nil {
			d.Error = TestNotSent + ": " + buildErr.Error()
		}
		if err := a.Store.InsertDelivery(ctx, &d); err != nil {
			return FireResult{}, fmt.Errorf("fire pixel %d: %w", in.Pixel.ID, err)
		}
		return FireResult{Method: d.Method, URL: d.URL}, nil
	}
	if err := a.Store.InsertDelivery(ctx, &d); err != nil {
		return FireResult{}, fmt.Errorf("fire pixel %d: %w", in.Pixel.ID, err)
	}
	if buildErr != nil {
		d.Error = buildErr.Error()
		a.finishDelivery(ctx, &d)
		return FireResult{}, temporal.NewNonRetryableApplicationError(buildErr.Error(), ErrTypePixelInvalid, nil)
	}

	at := sendPixel(ctx, a.HTTP, req, timeout, 0)
	d.DurationMS, d.Error = at.durationMS, at.err
	switch {
	case at.blocked:
		a.finishDelivery(ctx, &d)
		return FireResult{}, temporal.NewNonRetryableApplicationError(d.Error, ErrTypePixelRefused, nil)
	case at.resp == nil:
		a.finishDelivery(ctx, &d)
		return FireResult{}, temporal.NewApplicationError(fmt.Sprintf("%s: %s", pixelRef(in.Pixel.ID, d.Method, target), d.Error), ErrTypePixelRetry)
	}

	resp := at.resp
	d.StatusCode = resp.StatusCode
	a.finishDelivery(ctx, &d)
	msg := fmt.Sprintf("%s: affiliate answered %d", pixelRef(in.Pixel.ID, d.Method, target), resp.StatusCode)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return FireResult{Method: d.Method, URL: d.URL, StatusCode: resp.StatusCode, Attempt: attempt}, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return FireResult{}, temporal.NewNonRetryableApplicationError(msg, ErrTypePixelRejected, nil)
	}
	if delay, ok := retryAfter(resp.Header.Get("Retry-After"), in.Retry, time.Now()); ok {
		return FireResult{}, temporal.NewApplicationErrorWithOptions(msg+" (Retry-After "+delay.String()+")",
			ErrTypePixelRetry, temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return FireResult{}, temporal.NewApplicationError(msg, ErrTypePixelRetry)
}

// pixelAttempt is one request of a pixel: the affiliate's answer, or why none came.
type pixelAttempt struct {
	resp       *http.Response // the answer, its body read and closed; nil when none came
	body       []byte         // the answer's first bytes (as many as sendPixel was asked to keep)
	durationMS int64
	blocked    bool // the SSRF guard refused the target: it was never called
	// err says why no answer came (attemptError), or that a redirect was not followed; empty otherwise.
	err string
}

// sendPixel makes one attempt of req through client (FirePixel's and TryPixel's one way to call
// an affiliate), bounded by timeout. It keeps the answer's first keep bytes and drains the rest,
// up to 64 KB, so that the connection can be reused.
func sendPixel(ctx context.Context, client *http.Client, req *http.Request, timeout time.Duration, keep int64) pixelAttempt {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	resp, err := client.Do(req.WithContext(actx))
	var at pixelAttempt
	if err == nil {
		at.resp = resp
		if keep > 0 {
			at.body, _ = io.ReadAll(io.LimitReader(resp.Body, keep))
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
	at.durationMS = time.Since(start).Milliseconds()
	var blocked *BlockedAddressError
	switch {
	case errors.As(err, &blocked):
		at.blocked, at.err = true, blocked.Error()
	case err != nil:
		at.err = attemptError(ctx, err, timeout)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		at.err = "redirect not followed: Location " + resp.Header.Get("Location")
	}
	return at
}

// pixelRef names an attempt in errors, which Temporal and the worker log: the pixel's id, the
// method and the target's host only. The expanded URL can carry an affiliate's key and the
// visitor's IP; it stays in the delivery log, which only admins read (issue 8, finding 8).
func pixelRef(pixelID int64, method, target string) string {
	host := "?"
	if u, err := url.Parse(target); err == nil && u.Host != "" {
		host = u.Host
	}
	return fmt.Sprintf("pixel %d: %s %s", pixelID, method, host)
}

// attemptError says why an attempt got no answer, without repeating the URL the log row holds.
func attemptError(ctx context.Context, err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return "cut off: the worker stopped or the activity timed out during the attempt"
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("timeout: no answer within %s", timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

// finishDelivery completes an attempt's log row. It runs even when the activity's context is done
// (the row must not keep saying "in flight"), and a failure to log must not re-fire a pixel that
// was delivered, so it is retried briefly and then only reported in the worker log.
func (a *Activities) finishDelivery(ctx context.Context, d *store.Delivery) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var err error
	for i := 0; i < 3; i++ {
		if err = a.Store.FinishDelivery(wctx, d); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	activity.GetLogger(ctx).Error("log pixel delivery", "conversion", d.ConversionID, "pixel", d.PixelID,
		"attempt", d.Attempt, "error", err)
}

func pixelMethod(p store.Pixel) string {
	if p.Method == http.MethodPost {
		return http.MethodPost
	}
	return http.MethodGet
}

// buildPixelRequest makes the GET of target, or the Standard Webhooks POST of the macros as a JSON
// object of strings, signed with secret. It returns the body it signed.
func buildPixelRequest(ctx context.Context, in FireInput, target, secret string, now time.Time) (*http.Request, string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", fmt.Errorf("pixel url: not an absolute http or https URL after macro expansion")
	}
	if pixelMethod(in.Pixel) == http.MethodGet {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return nil, "", fmt.Errorf("pixel url: %w", err)
		}
		req.Header.Set("User-Agent", "trackflow-postback/1")
		return req, "", nil
	}
	body, err := json.Marshal(in.Macros)
	if err != nil {
		return nil, "", fmt.Errorf("pixel body: %w", err)
	}
	id := WebhookID(in.ConversionID, in.Pixel.ID, in.Event)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := SignWebhook(secret, id, ts, body)
	if err != nil {
		return nil, string(body), err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, string(body), fmt.Errorf("pixel url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "trackflow-postback/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	return req, string(body), nil
}

// SignWebhook computes the Standard Webhooks signature "v1,<base64 HMAC-SHA256(id.timestamp.body)>"
// keyed by the base64 part of a whsec_ secret.
func SignWebhook(secret, id, timestamp string, body []byte) (string, error) {
	key, ok := domain.WebhookKey(secret)
	if !ok {
		return "", errors.New("pixel secret: not whsec_<base64>")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) and clamps it to the schedule's
// bounds: never sooner than its first interval, never later than its longest.
func retryAfter(h string, s domain.RetrySchedule, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(h, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return 0, false
	}
	if s.Initial > 0 && d < s.Initial {
		d = s.Initial
	}
	if s.MaxInterval > 0 && d > s.MaxInterval {
		d = s.MaxInterval
	}
	return d, true
}
