// Package console is trackflow's operator console: server-rendered HTML pages (html/template,
// embedded) under /console/, signed in with the admin token.
//
// The console is a client of the JSON API, in process: every write and every read the API
// offers is made by calling the API's own handler (the http.Handler it is mounted on) with the
// admin bearer token, so the API's parsers, validators, rate limits and store queries are the
// only ones — the console turns form fields into the same JSON bodies and shows the API's error
// messages beside the field they name. Only the lists the API lacks (offers, affiliates, an
// affiliate's pixels) read the store directly, through its methods.
package console

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackflow/trackflow/store"
)

//go:embed templates/*.html
var templateFS embed.FS

// Config is what the console needs from the API that mounts it.
type Config struct {
	// AdminToken signs in, and keys the session and CSRF HMACs: no shared state between API
	// processes, and changing the token ends every session.
	AdminToken string
	// API is the JSON API's handler, called in process for every read and write it offers.
	API http.Handler
	// Store serves the lists the API has no route for.
	Store *store.Store
	// TemporalUIURL is the Temporal UI's base URL (TEMPORAL_UI_URL); empty: no workflow links.
	TemporalUIURL string
	// Namespace is the Temporal namespace, for the UI's workflow links.
	Namespace string
	// HTTPS reports whether a request reached the API over https (directly, or through a
	// trusted proxy's X-Forwarded-Proto): the session cookie is then Secure.
	HTTPS  func(*http.Request) bool
	Logger *slog.Logger
}

// Pages are the console's page names: /console/{page}. api/openapi.yaml lists the same names
// (TestPagesMatchOpenAPI); every page but sign-in has a handler, every page but sign-out a template.
var Pages = []string{"sign-in", "sign-out", "offers", "offer", "advertisers", "affiliates", "affiliate",
	"conversions", "conversion", "reports"}

// sessionTTL is how long a sign-in lasts.
const sessionTTL = 12 * time.Hour

const (
	sessionCookie = "tf_console"
	csrfField     = "csrf"
	cookiePath    = "/console/"
)

// Console serves /console/{page}.
type Console struct {
	cfg   Config
	key   []byte
	pages map[string]*template.Template
	now   func() time.Time
}

// New parses the embedded templates.
func New(cfg Config) *Console {
	mac := hmac.New(sha256.New, []byte(cfg.AdminToken))
	mac.Write([]byte("trackflow console session v1"))
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTPS == nil {
		cfg.HTTPS = func(r *http.Request) bool { return r.TLS != nil }
	}
	c := &Console{cfg: cfg, key: mac.Sum(nil), pages: map[string]*template.Template{}, now: time.Now}
	for _, p := range append(slices.Clone(Pages), "error") {
		if p == "sign-out" { // a button that redirects: no page of its own
			continue
		}
		c.pages[p] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS,
			"templates/layout.html", "templates/fields.html", "templates/"+p+".html"))
	}
	return c
}

// Serve answers /console/{page}; page is the path parameter.
func (c *Console) Serve(w http.ResponseWriter, r *http.Request, page string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if page == "sign-in" {
		c.signIn(w, r)
		return
	}
	sess, ok := c.session(r)
	if !ok {
		next := "/console/" + page
		if r.Method == http.MethodGet && r.URL.RawQuery != "" {
			next += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, "/console/sign-in?next="+url.QueryEscape(next), http.StatusSeeOther)
		return
	}
	rq := &request{w: w, r: r, c: c, csrf: c.csrf(sess), page: page}
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			rq.fail(http.StatusBadRequest, "body: not a form")
			return
		}
		if !hmac.Equal([]byte(r.PostForm.Get(csrfField)), []byte(rq.csrf)) {
			rq.fail(http.StatusForbidden, "csrf: the form's token is missing or stale; reload the page and try again")
			return
		}
	}
	h, ok := handlers[page]
	if !ok {
		rq.fail(http.StatusNotFound, "page: not found")
		return
	}
	h(rq)
}

// sign computes the base64url HMAC of msg under the console's key.
func (c *Console) sign(msg string) string {
	mac := hmac.New(sha256.New, c.key)
	mac.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// newSession is a session value: its expiry (Unix seconds) and the HMAC of it.
func (c *Console) newSession() (string, time.Time) {
	exp := c.now().Add(sessionTTL)
	v := strconv.FormatInt(exp.Unix(), 10)
	return v + "." + c.sign("session:"+v), exp
}

// session returns the request's session value when it is signed and not expired.
func (c *Console) session(r *http.Request) (string, bool) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || c.cfg.AdminToken == "" {
		return "", false
	}
	v, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(c.sign("session:"+v))) {
		return "", false
	}
	exp, err := strconv.ParseInt(v, 10, 64)
	if err != nil || c.now().Unix() >= exp {
		return "", false
	}
	return ck.Value, true
}

// csrf is the form token of a session: an HMAC of the session value, so it needs no storage and
// a forged page cannot compute it (SameSite=Strict already keeps the cookie off cross-site posts).
func (c *Console) csrf(session string) string { return c.sign("csrf:" + session) }

func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, value string, exp time.Time) {
	ck := &http.Cookie{Name: sessionCookie, Value: value, Path: cookiePath, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.cfg.HTTPS(r)}
	if value == "" {
		ck.MaxAge = -1
	} else {
		ck.Expires = exp
		ck.MaxAge = int(sessionTTL / time.Second)
	}
	http.SetCookie(w, ck)
}

// signIn shows the sign-in form and checks a token by calling the admin API with it, so a wrong
// token is counted by the API's own failed-authentication limiter (and refused 429 when spent).
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	next := r.FormValue("next")
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "/console//") {
		next = "/console/offers"
	}
	rq := &request{w: w, r: r, c: c, page: "sign-in"}
	data := map[string]any{"Next": next}
	if r.Method != http.MethodPost {
		rq.render(http.StatusOK, "sign-in", "Sign in", data)
		return
	}
	token := r.PostFormValue("token")
	res := c.call(r, token, http.MethodGet, "/api/v1/conversions?limit=1", nil)
	if res.Code != http.StatusOK {
		data["Error"] = "token: not accepted (" + res.Message() + ")"
		if res.Code == http.StatusUnauthorized {
			data["Error"] = "token: not the admin token"
		}
		rq.render(res.Code, "sign-in", "Sign in", data)
		return
	}
	v, exp := c.newSession()
	c.setCookie(w, r, v, exp)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// apiResult is the JSON API's answer to an in-process call.
type apiResult struct {
	Code int
	Body []byte
}

// Message is the API's error message ({"error": "..."}), or the status text.
func (a apiResult) Message() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(a.Body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return http.StatusText(a.Code)
}

// OK reports a 2xx answer.
func (a apiResult) OK() bool { return a.Code >= 200 && a.Code < 300 }

// Decode reads the answer's JSON into out.
func (a apiResult) Decode(out any) error { return json.Unmarshal(a.Body, out) }

// call makes an in-process request to the JSON API as the client of r (same peer address and
// forwarding headers, so the API's limits and logs see the operator, not the console).
func (c *Console) call(r *http.Request, token, method, path string, in any) apiResult {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(r.Context(), method, path, body)
	req.RemoteAddr, req.Host, req.TLS = r.RemoteAddr, r.Host, r.TLS // tracking code is written for the host the operator uses
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	c.cfg.API.ServeHTTP(rec, req)
	return apiResult{Code: rec.Code, Body: rec.Body.Bytes()}
}
