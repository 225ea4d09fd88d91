package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestContractCheckCatchesViolations: the e2e harness's check refuses an answer that breaks
// api/openapi.yaml, and a request the document refuses that the API accepts, and passes a
// documented exchange through untouched.
func TestContractCheckCatchesViolations(t *testing.T) {
	k, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path string
		header             http.Header
		answer             func(w http.ResponseWriter)
		violation          bool
	}{
		{"documented", "GET", "/healthz", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"status":"ok"}`)
		}, false},
		{"wrong body", "GET", "/healthz", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"state":"fine"}`)
		}, true},
		{"undocumented status", "GET", "/healthz", nil, func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusTeapot)
		}, true},
		{"wrong content type", "GET", "/impression?offer_id=1&aff_id=1", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "ok")
		}, true},
		{"error without the error field", "GET", "/api/v1/reports", http.Header{"Authorization": {"Bearer x"}}, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"message":"no"}`)
		}, true},
		{"no token accepted", "GET", "/api/v1/reports", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"group_by":"day","from":"2026-01-01","to":"2026-01-01","items":[]}`)
		}, true},
		{"no token refused", "GET", "/api/v1/reports", nil, func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"authorization: required"}`)
		}, false},
		{"undocumented route", "GET", "/secret", nil, func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, "hello")
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k.mu.Lock()
			before := len(k.violations)
			k.mu.Unlock()
			h := k.checked(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { c.answer(w) }))
			req := httptest.NewRequest(c.method, c.path, nil)
			for name, v := range c.header {
				req.Header[name] = v
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			flagged := rec.Header().Get(ContractViolationHeader) != ""
			if flagged != c.violation {
				t.Fatalf("flagged %v, want %v (answer %d %s)", flagged, c.violation, rec.Code, rec.Body)
			}
			if flagged && (rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "openapi contract violation")) {
				t.Errorf("a violation answers %d %q, want 500 naming it", rec.Code, rec.Body)
			}
			k.mu.Lock()
			recorded := len(k.violations) > before
			k.violations = k.violations[:before] // these are the test's own, not the API's
			k.mu.Unlock()
			if recorded != c.violation {
				t.Errorf("recorded %v, want %v", recorded, c.violation)
			}
		})
	}
}
