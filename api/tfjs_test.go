package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestTrackingScriptServed checks GET /tf.js's answer: JavaScript, cacheable for an hour, under
// 4 KB, and self-contained (it loads nothing: no import, no other script, no fetch).
func TestTrackingScriptServed(t *testing.T) {
	h := api.New(api.Config{AdminToken: "admin"}, &store.Store{DB: testenv.NewDB(t)}, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/tf.js", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/javascript") ||
		rec.Header().Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("GET /tf.js: %d, Content-Type %q, Cache-Control %q", rec.Code, rec.Header().Get("Content-Type"),
			rec.Header().Get("Cache-Control"))
	}
	if len(body) >= 4096 {
		t.Errorf("tf.js is %d bytes, want under 4 KB", len(body))
	}
	for _, dep := range []string{"import ", "require(", "createElement(\"script\")", "fetch(", "XMLHttpRequest", "sendBeacon", "localStorage"} {
		if strings.Contains(body, dep) {
			t.Errorf("tf.js uses %s: it must load and send nothing but the /pixel image", dep)
		}
	}
}
