package activities

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// PixelTry is what one firing of the pixel test tool did (POST
// /api/v1/affiliates/:id/pixels/:pixel_id/test): the request as sent and the affiliate's answer.
type PixelTry struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   string `json:"body"`
	// StatusCode is 0 when no answer came (refused target, timeout, connection error).
	StatusCode int `json:"status_code"`
	// ResponseBody is the answer's first KB.
	ResponseBody string `json:"response_body"`
	DurationMS   int64  `json:"duration_ms"`
	// Error says why no answer came, or that a redirect was not followed; empty otherwise.
	Error string `json:"error"`
}

// tryResponseLimit is how much of the affiliate's answer PixelTry keeps.
const tryResponseLimit = 1 << 10

// TryPixel fires a pixel once, now, with macros: the request FirePixel would make (the same
// client, so the same SSRF guard; a POST signed the same way), without retries and without a
// delivery log row. Whatever happens is in the result; a refused target is never called.
func TryPixel(ctx context.Context, client *http.Client, p store.Pixel, macros map[string]string, timeout time.Duration) PixelTry {
	in := FireInput{ConversionID: macros["transaction_id"], Event: "test", Pixel: p, Macros: macros}
	now := time.Now()
	target := domain.ExpandMacros(p.URL, macros)
	out := PixelTry{Method: pixelMethod(p), URL: target}
	req, body, err := buildPixelRequest(ctx, in, target, p.Secret, now)
	out.Body = body
	if err != nil {
		out.Error = err.Error()
		return out
	}
	at := sendPixel(ctx, client, req, timeout, tryResponseLimit)
	out.Error = at.err
	if at.blocked {
		return out // never called: no duration
	}
	out.DurationMS = at.durationMS
	if at.resp != nil {
		out.StatusCode, out.ResponseBody = at.resp.StatusCode, strings.ToValidUTF8(string(at.body), "\uFFFD")
	}
	return out
}
