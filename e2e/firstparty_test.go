package e2e

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
)

// TestFirstPartyScriptInBrowser runs GET /tf.js in Debian's chromium with third-party cookies
// blocked. The tracker and the shop are two sites (tracker.test and shop.test, both on 127.0.0.1
// over TLS). The visitor clicks, lands on the shop and buys after the browser's user agent
// changed: the tf_ cookie is in the browser but never reaches the thank-you page's pixel (it is
// third party there), and the backup lookup cannot match (another user agent), so the sale is
// credited first_party, by the _tfclid cookie the script kept on the shop's own site. The
// thank-you page (the tracking code's snippet) calls trackflow.conversion before the async script
// has loaded: the queue. A page without tfclid stores nothing, sends nothing, and the console
// shows no error during the whole visit.
func TestFirstPartyScriptInBrowser(t *testing.T) {
	s := testenv.Shared(t)

	tracker := newRecordingProxy(t, s.URL)
	shop := &shopSite{}
	shopSrv := httptest.NewTLSServer(shop)
	t.Cleanup(shopSrv.Close)
	trackerURL := "https://tracker.test:" + port(t, tracker.URL)
	shopURL := "https://shop.test:" + port(t, shopSrv.URL)
	otherURL := "https://other.test:" + port(t, shopSrv.URL)

	// The advertiser's set-up, from the tracking code: landing URL with tfclid, the two snippets.
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "3.00"},
		map[string]any{"landing_url": shopURL + "/landing?from=aff"})
	var code api.TrackingCode
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/offers/%d/tracking-code", f.Offer.ID), nil, &code)
	if code.LandingURL != shopURL+"/landing?from=aff&tfclid={click_id}" {
		t.Fatalf("tracking code landing_url %q", code.LandingURL)
	}
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID), map[string]any{"landing_url": code.LandingURL}, nil)
	shop.landing = strings.ReplaceAll(code.LandingPageScript, code.BaseURL, trackerURL)
	shop.thanks = strings.ReplaceAll(code.ThankYouPageScript, code.BaseURL, trackerURL)

	ctx := newBrowser(t)
	console := watchConsole(t, ctx)

	// The click: a top-level visit of the tracker (its tf_ cookie is first party there), then the
	// landing page, whose script keeps tfclid in _tfclid on shop.test.
	trackLink := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d&sub_id=browser", trackerURL, f.Offer.ID, f.Affiliate.ID)
	if err := chromedp.Do(ctx, chromedp.Navigate(trackLink)); err != nil {
		t.Fatal(err)
	}
	clickID, err := chromedp.Run(ctx, chromedp.Poll[string](`(document.cookie.match(/(?:^|; )_tfclid=([0-9a-f]{32})/) || [])[1]`,
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("no _tfclid cookie on the landing page: %v", err)
	}
	click, err := s.Store.Click(context.Background(), clickID)
	if err != nil || click.OfferID != f.Offer.ID {
		t.Fatalf("_tfclid %s is not a stored click of offer %d: %v", clickID, f.Offer.ID, err)
	}
	if search, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.search`)); err != nil || search != "?from=aff&tfclid="+clickID {
		t.Errorf("landing URL changed: %q (%v)", search, err)
	}
	kept := cookieNamed(t, ctx, shopURL+"/", "_tfclid")
	if kept == nil || kept.Path != "/" || !kept.Secure || kept.HTTPOnly || kept.SameSite != network.CookieSameSiteLax ||
		time.Until(time.Unix(int64(kept.Expires), 0)) < 89*24*time.Hour {
		t.Errorf("_tfclid cookie %+v, want Path=/, Secure, SameSite=Lax, 90 days", kept)
	}
	if c := cookieNamed(t, ctx, trackerURL+"/", fmt.Sprintf("tf_%d", f.Offer.ID)); c == nil || c.Value != clickID {
		t.Fatalf("the browser holds no tf_ cookie of the click (%+v): the test would not show that it is blocked", c)
	}

	// The sale, on another network with another browser: the backup lookup cannot match.
	if _, err := chromedp.Call(ctx, emulation.SetUserAgentOverride,
		emulation.SetUserAgentOverrideParams{UserAgent: "Mozilla/5.0 (another device) trackflow-e2e"}); err != nil {
		t.Fatal(err)
	}
	invoice := invoiceID("tfjs")
	if err := chromedp.Do(ctx, chromedp.Navigate(shopURL+"/thanks?order="+invoice+"&amount=42.50")); err != nil {
		t.Fatal(err)
	}
	c := conversionByInvoice(t, s, f.Offer.ID, invoice)
	if str(c.AttributionMethod) != domain.MethodFirstParty || str(c.ClickID) != clickID || c.Status != domain.ConversionApproved ||
		c.Amount.String() != "42.50" || c.Commission.String() != "3.00" {
		t.Fatalf("conversion %s/%s click %s status %s amount %s commission %s, want first_party/%s approved 42.50 3.00",
			str(c.AttributionMethod), str(c.InvoiceID), str(c.ClickID), c.Status, c.Amount, c.Commission, clickID)
	}
	pixels := tracker.requestsTo("/pixel")
	if len(pixels) != 1 {
		t.Fatalf("%d /pixel requests, want 1", len(pixels))
	}
	if p := pixels[0]; p.tfCookie || p.query.Get("click_id") != clickID || p.query.Get("id") != invoice ||
		!strings.Contains(p.userAgent, "another device") {
		t.Errorf("/pixel request: tf_ cookie sent %v (third-party cookies must be blocked), query %v, user agent %q",
			p.tfCookie, p.query, p.userAgent)
	}

	// A page without tfclid, on a site the visitor never came to through a click.
	if err := chromedp.Do(ctx, chromedp.Navigate(otherURL+"/plain?x=1")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.trackflow && !Array.isArray(window.trackflow) && typeof trackflow.conversion === "function"`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Fatalf("tf.js did not load on a page without tfclid: %v", err)
	}
	if cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie + "|" + location.search`)); err != nil || cookies != "|?x=1" {
		t.Errorf("page without tfclid: cookies and query %q (%v), want none and ?x=1", cookies, err)
	}
	if n := len(tracker.requestsTo("/pixel")); n != 1 {
		t.Errorf("a page without a conversion call sent %d more /pixel requests", n-1)
	}
	for _, r := range tracker.all() {
		if r.path != "/click" && r.path != "/tf.js" && r.path != "/pixel" {
			t.Errorf("unexpected request to the tracker: %s", r.path)
		}
	}
	if errs := console(); len(errs) > 0 {
		t.Errorf("console errors: %q", errs)
	}
}

// watchConsole collects the console's errors and uncaught exceptions; the func it returns lists
// those seen so far.
func watchConsole(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, m.String()+" ("+m.URL+")")
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), errs...)
	}
}

// cookieNamed is the browser's cookie of that name sent to rawURL, or nil.
func cookieNamed(t *testing.T, ctx context.Context, rawURL, name string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// shopSite is the advertiser's site: a landing page and a thank-you page with the tracking
// code's snippets, and a plain page with the script and no tfclid.
type shopSite struct {
	landing, thanks string
}

func (s *shopSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var body string
	switch r.URL.Path {
	case "/landing", "/plain":
		body = "<h1>Shop</h1>" + s.landing
	case "/thanks":
		body = "<h1>Thank you</h1>" + strings.NewReplacer("{amount}", html.EscapeString(q.Get("amount")),
			"{order_id}", html.EscapeString(q.Get("order"))).Replace(s.thanks)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The empty icon keeps the browser from asking for /favicon.ico (a 404 is a console error).
	fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>%s</body></html>`, body)
}

// recordingProxy is the tracker as the browser sees it: TLS in front of the stack's API, noting
// each request's path, query, user agent and whether a tf_ cookie came with it.
type recordingProxy struct {
	*httptest.Server
	mu       sync.Mutex
	requests []proxiedRequest
}

type proxiedRequest struct {
	path      string
	query     url.Values
	userAgent string
	tfCookie  bool
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := proxiedRequest{path: r.URL.Path, query: r.URL.Query(), userAgent: r.UserAgent()}
		for _, c := range r.Cookies() {
			req.tfCookie = req.tfCookie || strings.HasPrefix(c.Name, "tf_")
		}
		p.mu.Lock()
		p.requests = append(p.requests, req)
		p.mu.Unlock()
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) all() []proxiedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proxiedRequest(nil), p.requests...)
}

func (p *recordingProxy) requestsTo(path string) []proxiedRequest {
	var out []proxiedRequest
	for _, r := range p.all() {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// port is the port of an httptest server's URL.
func port(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// newBrowser starts headless chromium for the test: tracker.test, shop.test and other.test
// resolve to 127.0.0.1, the test servers' self-signed certificates are accepted, and third-party
// cookies are blocked (the profile's "Block third-party cookies" setting).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	profile := t.TempDir()
	prefs := `{"profile":{"block_third_party_cookies":true,"cookie_controls_mode":1}}`
	if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), []byte(prefs), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, _ := startBrowser(t, 2*time.Minute, chromedp.UserDataDir(profile),
		chromedp.Flag("host-resolver-rules", "MAP tracker.test 127.0.0.1, MAP shop.test 127.0.0.1, MAP other.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true))
	return ctx
}
