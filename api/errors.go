package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
)

// status maps a domain error to its HTTP status; anything not a domain error is a 500.
func status(err error) int {
	switch domain.ErrorKind(err) {
	case domain.Invalid:
		return http.StatusBadRequest
	case domain.Unauthorized:
		return http.StatusUnauthorized
	case domain.Forbidden:
		return http.StatusForbidden
	case domain.NotFound:
		return http.StatusNotFound
	case domain.Conflict:
		return http.StatusConflict
	case domain.Unavailable:
		return http.StatusServiceUnavailable
	case domain.RateLimited:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}

// message is what a client may see of an error: a domain error's message, or "internal error"
// (the real error is logged, never sent: it may hold driver or Temporal details).
func message(c *gin.Context, err error) string {
	if domain.ErrorKind(err) == domain.Internal {
		slog.ErrorContext(c.Request.Context(), "request failed", "method", c.Request.Method,
			"path", c.FullPath(), "error", err)
	}
	return domain.ErrorMessage(err)
}

// handlerFunc is a handler that returns its error instead of answering it: the adapter it is
// registered with (asJSON, asText, asGIF) answers the error in the body type docs/API.md requires of
// its route, so every error reaches HTTP here.
type handlerFunc func(c *gin.Context) error

// asJSON adapts the handler of a JSON endpoint (admin, postback, ops): errors are {"error": "..."}.
func asJSON(h handlerFunc) gin.HandlerFunc { return answerWith(h, jsonError) }

// asText adapts the handler of a redirecting tracking endpoint (/click, POST /conversion): errors
// are text/plain with the message in X-Error.
func asText(h handlerFunc) gin.HandlerFunc { return answerWith(h, textError) }

// asGIF adapts the handler of an image tracking endpoint (/impression, /pixel): errors are the
// 1x1 GIF with the message in X-Error, so the page that embeds it never breaks.
func asGIF(h handlerFunc) gin.HandlerFunc { return answerWith(h, gifError) }

// answerWith runs h and answers its error, if any, with answer (which aborts the chain, so a
// failing middleware stops the request). A temporary refusal also says when to retry.
func answerWith(h handlerFunc, answer func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			if domain.ErrorKind(err) == domain.Unavailable && c.Writer.Header().Get("Retry-After") == "" {
				c.Header("Retry-After", "1") // a temporary refusal (the click buffer is full, or shutdown)
			}
			answer(c, err)
		}
	}
}

// jsonError answers a JSON endpoint's error: {"error": "..."}.
func jsonError(c *gin.Context, err error) {
	c.AbortWithStatusJSON(status(err), gin.H{"error": message(c, err)})
}

// textError answers a redirecting tracking endpoint's error: text/plain, message in X-Error too.
func textError(c *gin.Context, err error) { writeTextError(c, status(err), message(c, err)) }

// gifError answers an image tracking endpoint's error: the same 1x1 GIF, message in X-Error.
func gifError(c *gin.Context, err error) { writeGIFError(c, status(err), message(c, err)) }

func writeTextError(c *gin.Context, code int, msg string) {
	c.Header("X-Error", msg)
	c.Header("Cache-Control", "no-store")
	c.Data(code, "text/plain; charset=utf-8", []byte(msg+"\n"))
	c.Abort()
}

func writeGIFError(c *gin.Context, code int, msg string) {
	c.Header("X-Error", msg)
	writeGIF(c, code)
	c.Abort()
}

// transparentGIF is a 1x1 transparent GIF.
var transparentGIF = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

func writeGIF(c *gin.Context, code int) {
	c.Header("Cache-Control", "no-store")
	c.Data(code, "image/gif", transparentGIF)
}
