package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/trackflow/trackflow/api"
)

// ContractViolationHeader marks an answer that the contract check replaced: the real answer did
// not match api/openapi.yaml. Its status is 500 and its body says what differed.
const ContractViolationHeader = "X-Contract-Violation"

// contract validates every request the stacks' API serves, and its answer, against
// api/openapi.yaml (the e2e suite's check that the router keeps the documented contract).
type contract struct {
	doc    *openapi3.T
	router routers.Router

	mu         sync.Mutex
	violations []string
	validated  map[string]int // "GET /api/v1/offers/{id}" → answers validated
}

var (
	contractOnce  sync.Once
	theContract   *contract
	contractError error
)

// loadContract parses the embedded document once per test binary.
func loadContract() (*contract, error) {
	contractOnce.Do(func() {
		// The API's image and metrics answers are opaque to the schemas: read them as strings.
		openapi3filter.RegisterBodyDecoder("image/gif", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/javascript", openapi3filter.PlainBodyDecoder)
		doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
		if err == nil {
			err = doc.Validate(context.Background())
		}
		if err != nil {
			contractError = fmt.Errorf("api/openapi.yaml: %w", err)
			return
		}
		// Match the paths whatever the test server's host and port.
		doc.Servers = nil
		r, err := gorillamux.NewRouter(doc)
		if err != nil {
			contractError = fmt.Errorf("api/openapi.yaml: %w", err)
			return
		}
		theContract = &contract{doc: doc, router: r, validated: map[string]int{}}
	})
	return theContract, contractError
}

// options are the validation's: every status documented, the bearer token's presence checked
// (its value is the API's business).
var contractOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		h := in.RequestValidationInput.Request.Header.Get("Authorization")
		if in.SecurityScheme.Type == "http" && in.SecurityScheme.Scheme == "bearer" && strings.HasPrefix(h, "Bearer ") {
			return nil
		}
		return errors.New("authorization: no bearer token")
	},
}

// checked wraps the API's handler: it validates the request, serves it into a buffer, validates
// the answer and passes it on — or, when the answer breaks the document, records the violation
// and answers 500 with ContractViolationHeader, so the test that made the request sees it.
//
// A request the document refuses (a test's deliberately bad input) must be answered 4xx, with a
// documented answer: that is how tracking endpoints' 400/401/403/404 are checked.
func (k *contract) checked(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)

		if problem := k.check(r, body, rec); problem != "" {
			msg := fmt.Sprintf("%s %s answered %d: %s", r.Method, r.URL.RequestURI(), rec.Code, problem)
			k.mu.Lock()
			k.violations = append(k.violations, msg)
			k.mu.Unlock()
			w.Header().Set(ContractViolationHeader, "api/openapi.yaml")
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "openapi contract violation: "+msg+"\n")
			return
		}
		for name, v := range rec.Header() {
			w.Header()[name] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// check returns what, in the exchange, breaks the document ("" when nothing does).
func (k *contract) check(r *http.Request, body []byte, rec *httptest.ResponseRecorder) string {
	ctx := context.Background()
	vr := r.Clone(ctx)
	vr.Body = io.NopCloser(bytes.NewReader(body))
	route, pathParams, err := k.router.FindRoute(vr)
	if err != nil {
		// Not a documented operation: only the router's own refusal may answer it.
		if (rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed) &&
			strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			return ""
		}
		return "the route is not in api/openapi.yaml (" + err.Error() + ")"
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: pathParams, Route: route, Options: contractOptions}
	reqErr := openapi3filter.ValidateRequest(ctx, in)

	res := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: contractOptions,
	}
	if err := openapi3filter.ValidateResponse(ctx, res); err != nil {
		return "the answer does not match api/openapi.yaml: " + err.Error()
	}
	if reqErr != nil && rec.Code < 400 {
		return "api/openapi.yaml refuses the request, but the API accepted it: " + reqErr.Error()
	}
	k.mu.Lock()
	k.validated[route.Method+" "+route.Path]++
	k.mu.Unlock()
	return ""
}

// ContractReport is the e2e suite's final check, for TestMain: every exchange matched
// api/openapi.yaml and, when complete is set (the whole suite ran), every documented operation
// was exercised and validated at least once. It returns the problems, one per line.
func ContractReport(complete bool) []string {
	k, err := loadContract()
	if err != nil {
		return []string{err.Error()}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.Clone(k.violations)
	if complete {
		for path, item := range k.doc.Paths.Map() {
			for method := range item.Operations() {
				if k.validated[method+" "+path] == 0 {
					out = append(out, fmt.Sprintf("%s %s: documented in api/openapi.yaml, never exercised by the e2e suite", method, path))
				}
			}
		}
	}
	slices.Sort(out[len(k.violations):])
	return out
}
