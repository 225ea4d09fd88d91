package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trackflow/trackflow/internal/metrics"
)

// routeEngine is the router with every route registered and no dependency behind them: enough
// to list the routes and to serve GET /openapi.yaml.
func routeEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	(&server{cfg: Config{Metrics: metrics.New(prometheus.NewRegistry())}}).routes(r)
	return r
}

// ginParam is a Gin path parameter (":id"), written "{id}" in OpenAPI.
var ginParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// TestRoutesMatchOpenAPI fails when a route of the router is missing from api/openapi.yaml, or
// the document describes an operation the router does not serve.
func TestRoutesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)

	var routes []string
	for _, r := range routeEngine().Routes() {
		routes = append(routes, r.Method+" "+ginParam.ReplaceAllString(r.Path, "{$1}"))
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(routes)
	slices.Sort(documented)

	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is not in api/openapi.yaml: document it (parameters, bodies, every status)", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("api/openapi.yaml documents %s, which the router does not serve", d)
		}
	}
	if len(routes) < 20 {
		t.Errorf("the router lists only %d routes: %v", len(routes), routes)
	}
}

// TestOpenAPIServed checks GET /openapi.yaml: public, YAML, the embedded document.
func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	routeEngine().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if !strings.HasPrefix(rec.Body.String(), "#") || rec.Body.Len() != len(OpenAPI) {
		t.Errorf("the body is not the embedded document (%d bytes, want %d)", rec.Body.Len(), len(OpenAPI))
	}
}

// loadOpenAPI parses the embedded document and checks that it is a valid OpenAPI 3.1 document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("api/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi: %q, want 3.1.x", doc.OpenAPI)
	}
	return doc
}
