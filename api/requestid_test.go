package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/logging"
)

// TestRequestID: a valid incoming X-Request-Id is kept, a missing or forged one replaced by a new
// ID; either is answered and carried in the request's context for the logger.
func TestRequestID(t *testing.T) {
	t.Parallel()
	gin.SetMode(gin.ReleaseMode)
	for name, k := range map[string]struct {
		in   string
		keep bool
	}{
		"kept":          {"lb-7f3a.42:1", true},
		"missing":       {"", false},
		"line injected": {"a\nlevel=ERROR", false},
		"too long":      {string(make([]byte, 129)), false},
	} {
		r := gin.New()
		r.Use(requestID)
		var seen string
		r.GET("/", func(c *gin.Context) { seen = logging.RequestID(c.Request.Context()) })
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if k.in != "" {
			req.Header["X-Request-Id"] = []string{k.in}
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		got := w.Header().Get("X-Request-Id")
		if got != seen || (k.keep && got != k.in) || (!k.keep && !domain.IsID(got)) {
			t.Errorf("%s: answered %q, context %q", name, got, seen)
		}
	}
}
