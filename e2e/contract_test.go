package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestDocumentedRoutesNotCoveredElsewhere exercises the documented operations that no other e2e
// test calls, so that every route of api/openapi.yaml has a real answer validated against it
// (TestMain checks that each was), and the answers are the documented ones.
func TestDocumentedRoutesNotCoveredElsewhere(t *testing.T) {
	s := testenv.Shared(t)

	resp, body := get(t, s.URL+"/openapi.yaml")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/yaml" {
		t.Fatalf("GET /openapi.yaml: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(body, api.OpenAPI) {
		t.Errorf("GET /openapi.yaml is not api/openapi.yaml (%d bytes, want %d)", len(body), len(api.OpenAPI))
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, body := get(t, s.URL+path)
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK || got["status"] != "ok" {
			t.Errorf("GET %s: %d %s, want 200 with status ok", path, resp.StatusCode, body)
		}
	}

	// HEAD /tf.js: GET's headers, no script.
	req, _ := http.NewRequest(http.MethodHead, s.URL+"/tf.js", nil)
	if resp, err := noRedirect.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/javascript") ||
			resp.Header.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("HEAD /tf.js: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}

	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2.00"}, nil)
	var offer store.Offer
	mustAdmin(t, s, http.StatusOK, "GET", "/api/v1/offers/"+strconv.FormatInt(f.Offer.ID, 10), nil, &offer)
	if offer.ID != f.Offer.ID || offer.Name != f.Offer.Name {
		t.Errorf("GET the offer: %+v, want the created %+v", offer, f.Offer)
	}
	var aff store.Affiliate
	affPath := "/api/v1/affiliates/" + strconv.FormatInt(f.Affiliate.ID, 10)
	mustAdmin(t, s, http.StatusOK, "PATCH", affPath, map[string]any{"status": "paused"}, &aff)
	if aff.Status != domain.StatusPaused {
		t.Errorf("PATCH the affiliate: status %q, want paused", aff.Status)
	}
	mustAdmin(t, s, http.StatusNotFound, "PATCH", "/api/v1/affiliates/999999999", map[string]any{"name": "x"}, nil)
	mustAdmin(t, s, http.StatusBadRequest, "PATCH", affPath, map[string]any{"status": "gone"}, nil)

	// The codec endpoints of the shared stack (no TEMPORAL_CODEC_KEYS: payloads pass through; the
	// encryption itself is TestPayloadPrivacy's, on the binary). Preflight needs no token.
	payloads := map[string]any{"payloads": []map[string]any{{"metadata": map[string]string{"encoding": "anNvbi9wbGFpbg=="}, "data": "IjEi"}}}
	for _, op := range []string{"/codec/decode", "/codec/encode"} {
		var out map[string][]map[string]any
		mustAdmin(t, s, http.StatusOK, "POST", op, payloads, &out)
		if len(out["payloads"]) != 1 || out["payloads"][0]["data"] != "IjEi" {
			t.Errorf("POST %s: %v, want the payload back unchanged", op, out)
		}
		mustAdmin(t, s, http.StatusBadRequest, "POST", op, []int{1}, nil)
		if code, _ := adminRaw(t, s, http.MethodOptions, op, nil); code != http.StatusNoContent {
			t.Errorf("OPTIONS %s: %d, want 204", op, code)
		}
	}

	// Not a route: the router's own JSON 404, which the contract check lets through.
	if code, raw := adminRaw(t, s, "GET", "/api/v1/nothing-here", nil); code != http.StatusNotFound {
		t.Errorf("GET /api/v1/nothing-here: %d %s, want 404", code, raw)
	}
}
