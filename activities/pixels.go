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
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/store"
)

// Error types of a pixel attempt that must not be retried.
const (
	ErrTypePixelRejected = "PixelRejected" // the affiliate answered 4xx (not 408/429)
	ErrTypePixelRefused  = "PixelRefused"  // the SSRF guard refused the target
	ErrTypePixelInvalid  = "PixelInvalid"  // the URL or secret cannot make a request
)

// FireInput is one affiliate pixel to fire for one conversion event.
type FireInput struct {
	ConversionID string            `json:"conversion_id"`
	Event        string            `json:"event"` // approved or reversed
	Pixel        store.Pixel       `json:"pixel"`
	Macros       map[string]string `json:"macros"`
	Retry        RetrySchedule     `json:"retry"`
}

// FireResult is what the affiliate's server answered on the successful attempt.
type FireResult struct {
	StatusCode int `json:"status_code"`
	Attempt    int `json:"attempt"`
}

// WebhookID is the Standard Webhooks message id of one delivery: the same on every retry.
func WebhookID(conversionID string, pixelID int64, event string) string {
	return fmt.Sprintf("msg_%s_%d_%s", conversionID, pixelID, event)
}

// FirePixel makes one attempt to fire an affiliate pixel and logs it. 2xx succeeds; 4xx other than
// 408 and 429 and refused targets fail without retry; everything else is retried by Temporal on
// the workflow's schedule, honouring Retry-After within it.
func (a *Activities) FirePixel(ctx context.Context, in FireInput) (FireResult, error) {
	attempt := int(activity.GetInfo(ctx).Attempt)
	req, body, err := buildPixelRequest(ctx, in, time.Now())
	if err != nil {
		return FireResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypePixelInvalid, err)
	}
	d := store.Delivery{ConversionID: in.ConversionID, PixelID: in.Pixel.ID, Event: in.Event,
		Method: req.Method, URL: req.URL.String(), Body: body, Attempt: attempt, At: time.Now().UTC()}

	start := time.Now()
	resp, err := a.HTTP.Do(req)
	d.DurationMS = time.Since(start).Milliseconds()
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		d.StatusCode = resp.StatusCode
	} else {
		d.Error = err.Error()
	}
	a.logDelivery(ctx, &d)

	var blocked *BlockedAddressError
	switch {
	case errors.As(err, &blocked):
		return FireResult{}, temporal.NewNonRetryableApplicationError(blocked.Error(), ErrTypePixelRefused, nil)
	case err != nil:
		return FireResult{}, fmt.Errorf("fire pixel %d: %w", in.Pixel.ID, err)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return FireResult{StatusCode: resp.StatusCode, Attempt: attempt}, nil
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429:
		return FireResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("affiliate answered %d", resp.StatusCode), ErrTypePixelRejected, nil)
	}
	msg := fmt.Sprintf("affiliate answered %d", resp.StatusCode)
	if delay, ok := retryAfter(resp.Header.Get("Retry-After"), in.Retry, time.Now()); ok {
		return FireResult{}, temporal.NewApplicationErrorWithOptions(msg, "PixelRetry",
			temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	return FireResult{}, temporal.NewApplicationError(msg, "PixelRetry")
}

// logDelivery stores the attempt. A failure to log must not re-fire a pixel that was delivered,
// so it is retried briefly and then only reported in the worker log.
func (a *Activities) logDelivery(ctx context.Context, d *store.Delivery) {
	var err error
	for i := 0; i < 3; i++ {
		if err = a.Store.InsertDelivery(ctx, d); err == nil {
			return
		}
		time.Sleep(time.Duration(i+1) * 100 * time.Millisecond)
	}
	activity.GetLogger(ctx).Error("log pixel delivery", "conversion", d.ConversionID, "pixel", d.PixelID, "error", err)
}

// buildPixelRequest makes the GET with macros replaced, or the signed Standard Webhooks POST.
func buildPixelRequest(ctx context.Context, in FireInput, now time.Time) (*http.Request, string, error) {
	if in.Pixel.Method != http.MethodPost {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, store.ExpandMacros(in.Pixel.URL, in.Macros), nil)
		if err != nil {
			return nil, "", fmt.Errorf("pixel url: %w", err)
		}
		req.Header.Set("User-Agent", "trackflow-postback/1")
		return req, "", nil
	}
	body, err := json.Marshal(in.Macros)
	if err != nil {
		return nil, "", err
	}
	id := WebhookID(in.ConversionID, in.Pixel.ID, in.Event)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig, err := SignWebhook(in.Pixel.Secret, id, ts, body)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, store.ExpandMacros(in.Pixel.URL, in.Macros), bytes.NewReader(body))
	if err != nil {
		return nil, "", fmt.Errorf("pixel url: %w", err)
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
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("pixel secret is not whsec_<base64>: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// retryAfter reads a Retry-After header (seconds or an HTTP date) and clamps it to the schedule.
func retryAfter(h string, s RetrySchedule, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
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
