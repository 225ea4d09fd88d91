package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestConsoleInBrowser drives Debian's chromium through the operator console: sign in; create an
// advertiser, list it and give it a new postback token; create an offer (a validation error shown
// beside its field first) and edit every setting of API.md's offer (caps, holds, attribution …);
// add an event; an affiliate with a pixel, and its payout override, then listed on the offer; copy
// the tracking link, follow it, make a sale, see it in conversions with its delivery, reverse it; hold two sales, approve one (from the keyboard)
// and reject the other with a note; try the pixel with the test tool, pause and resume it; open
// reports and find the chart; check every page at phone width; sign out. It fails, never skips,
// without chromium. TRACKFLOW_CONSOLE_SCREENSHOTS=dir saves a screenshot of each page there
// (make console-screenshots).
func TestConsoleInBrowser(t *testing.T) {
	s := testenv.Shared(t)
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Shop</title><h1 id="shop">The shop</h1>`))
	}))
	t.Cleanup(landing.Close)
	pixelEnd := newAffiliateEndpoint(t, script(http.StatusOK))

	_, run := startBrowser(t, 4*time.Minute, chromedp.WindowSize(1280, 900))

	shots := os.Getenv("TRACKFLOW_CONSOLE_SCREENSHOTS")
	// check tests what every page must hold: a label on each input, a name on each button, every
	// control reachable from the keyboard, and no sideways scroll at the current width.
	check := func(name string) {
		t.Helper()
		var unlabelled, unnamed, unreachable []string
		var overflow bool
		run("check "+name,
			into(&unlabelled, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]),select,textarea')].filter(e => e.labels.length == 0).map(e => e.name)`)),
			into(&unnamed, chromedp.Evaluate[[]string](`[...document.querySelectorAll('button')].filter(b => !(b.getAttribute('aria-label') || b.textContent.trim())).map(b => b.outerHTML)`)),
			into(&unreachable, chromedp.Evaluate[[]string](`[...document.querySelectorAll('a[href],button,input:not([type=hidden]),select,textarea,[onclick]')].filter(e => e.tabIndex < 0 || e.disabled).map(e => e.outerHTML)`)),
			into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)))
		if len(unlabelled) > 0 {
			t.Errorf("%s: inputs without a label: %v", name, unlabelled)
		}
		if len(unnamed) > 0 {
			t.Errorf("%s: buttons without a name: %v", name, unnamed)
		}
		if len(unreachable) > 0 {
			t.Errorf("%s: controls the keyboard cannot reach: %v", name, unreachable)
		}
		if overflow {
			var wide []string
			run("what is too wide on "+name, into(&wide, chromedp.Evaluate[[]string](`[...document.querySelectorAll('body *')].filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX == 'visible').slice(0, 5).map(e => e.tagName + '.' + e.className + ': ' + e.scrollWidth + ' px in ' + e.clientWidth)`)))
			t.Errorf("%s: the page scrolls sideways (too wide: %v)", name, wide)
		}
	}
	// page checks a page and saves its screenshot.
	page := func(name string) {
		t.Helper()
		check(name)
		if shots != "" {
			var png []byte
			run("screenshot "+name, into(&png, chromedp.FullScreenshot(100)))
			if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var location, text string
	byID := func(id string) string { return `[id="` + id + `"]` } // ids hold dots: f-payout.amount
	// refused runs steps that fill a form, submits it from the input with id submit, and returns
	// the message shown beside field (the API's, refusing the form).
	refused := func(what, submit, field string, steps ...chromedp.Action[chromedp.Void]) string {
		t.Helper()
		var msg string
		run(what, append(steps, chromedp.Submit(byID(submit)), chromedp.WaitVisible(byID("e-"+field)),
			into(&msg, chromedp.Text(byID("e-"+field))))...)
		return msg
	}

	// Without a session, every page sends the browser to sign in; it comes back after.
	run("sign in",
		chromedp.Navigate(s.URL+"/console/affiliates"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		into(&location, chromedp.Location()))
	if !strings.Contains(location, "/console/sign-in?next=%2Fconsole%2Faffiliates") {
		t.Fatalf("without a session the console is at %s, want the sign-in page", location)
	}
	run("wrong token", chromedp.SendKeys(`#token`, "not-the-token"), chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`#token-error`)), into(&text, chromedp.Text(chromedp.CSS(`#token-error`))))
	if !strings.HasPrefix(text, "token: ") {
		t.Errorf("a wrong token shows %q, want the token field's error", text)
	}
	page("sign-in")
	run("sign in", chromedp.SendKeys(`#token`, testenv.AdminToken), chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`[name="name"]`)), into(&location, chromedp.Location()))
	if !strings.HasSuffix(location, "/console/affiliates") {
		t.Errorf("after signing in the browser is at %s, want the page it asked for", location)
	}

	// An advertiser: its token shown once, then listed without it, then a new token.
	var advID, advToken, newToken string
	run("advertiser",
		chromedp.Navigate(s.URL+"/console/advertisers"),
		chromedp.SendKeys(chromedp.CSS(`[name="name"]`), "Browser Advertiser"),
		chromedp.Submit(chromedp.CSS(`[name="name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#adv-token`)),
		into(&advID, chromedp.Text(chromedp.CSS(`#adv-id`))), into(&advToken, chromedp.Text(chromedp.CSS(`#adv-token`))),
		chromedp.Navigate(s.URL+"/console/advertisers"),
		chromedp.WaitVisible(chromedp.CSS(`#advertisers`)),
		into(&text, chromedp.Text(chromedp.CSS(`#advertisers`))))
	if len(strings.TrimSpace(advToken)) < 24 {
		t.Errorf("the new advertiser's token shown is %q", advToken)
	}
	if !strings.Contains(text, "Browser Advertiser") || strings.Contains(text, advToken) {
		t.Errorf("the advertiser list is %q: want the new advertiser, without its token", text)
	}
	run("new postback token",
		chromedp.Click(`//button[@aria-label="New postback token for advertiser `+advID+`"]`),
		chromedp.WaitVisible(chromedp.CSS(`#adv-token`)),
		into(&newToken, chromedp.Text(chromedp.CSS(`#adv-token`))))
	if len(strings.TrimSpace(newToken)) < 24 || newToken == advToken {
		t.Errorf("the regenerated token shown is %q (the first was %q)", newToken, advToken)
	}
	page("advertisers")

	// The offer form shows the API's own message beside the field it names.
	text = refused("offer with a bad currency", "f-name", "currency",
		chromedp.Navigate(s.URL+"/console/offers"),
		chromedp.SendKeys(chromedp.CSS(`[name="advertiser_id"]`), advID),
		chromedp.SendKeys(chromedp.CSS(`[name="name"]`), "Browser Offer"),
		chromedp.SendKeys(chromedp.CSS(`[name="landing_url"]`), landing.URL+"/?cid={click_id}"),
		chromedp.SetValue(chromedp.CSS(`[name="payout.type"]`), "cpa"),
		chromedp.SendKeys(chromedp.CSS(`[name="payout.amount"]`), "5.00"),
		chromedp.SendKeys(chromedp.CSS(`[name="currency"]`), "usd"))
	if !strings.HasPrefix(text, "currency: must be three upper-case letters") {
		t.Errorf("the currency's error is %q, want API.md's message", text)
	}
	page("offers-error")
	var offerID string
	run("offer",
		chromedp.SetValue(chromedp.CSS(`[name="currency"]`), "USD"),
		chromedp.Submit(chromedp.CSS(`[name="name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#offer-id`)),
		into(&offerID, chromedp.Text(chromedp.CSS(`#offer-id`))))

	var affID string
	run("affiliate",
		chromedp.Navigate(s.URL+"/console/affiliates"),
		chromedp.SendKeys(chromedp.CSS(`[name="name"]`), "Browser Affiliate"),
		chromedp.Submit(chromedp.CSS(`[name="name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#aff-id`)),
		into(&affID, chromedp.Text(chromedp.CSS(`#aff-id`))),
		chromedp.SendKeys(chromedp.CSS(`[name="url"]`), pixelEnd.URL+"/px?click_id={click_id}&payout={payout}&status={status}"),
		chromedp.Submit(chromedp.CSS(`[name="url"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Text(chromedp.CSS(`#pixels`))))
	if !strings.Contains(text, pixelEnd.URL+"/px") {
		t.Errorf("the affiliate's pixels are %q, want the new one", text)
	}

	// Edit the offer: every setting of API.md's offer is a field (a bad hold first).
	text = refused("edit offer with a bad hold", "f-name", "hold_seconds",
		chromedp.Navigate(s.URL+"/console/offer?id="+offerID),
		chromedp.SetValue(byID("f-name"), "Browser Offer v2"),
		chromedp.SetValue(byID("f-hold_seconds"), "-5"))
	if !strings.HasPrefix(text, "hold_seconds: must be an integer from 0 to 31536000") {
		t.Errorf("a negative hold shows %q beside the field", text)
	}
	run("edit offer",
		chromedp.SetValue(byID("f-hold_seconds"), "3600"),
		chromedp.SetValue(byID("f-hold_expiry"), "reject"),
		chromedp.SetValue(byID("f-timezone"), "Europe/Paris"),
		chromedp.SetValue(byID("f-caps.daily"), "100"),
		chromedp.SetValue(byID("f-affiliate_caps.monthly"), "500"),
		chromedp.SetValue(byID("f-min_conversion_seconds"), "0"),
		chromedp.SetValue(byID("f-attribution"), "first_click"),
		chromedp.SetValue(byID("f-fallback_url"), landing.URL+"/full"),
		chromedp.Click(byID("f-allow_custom_params")),
		chromedp.Submit(byID("f-name")),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	var o store.Offer
	mustAdmin(t, s, 200, "GET", "/api/v1/offers/"+offerID, nil, &o)
	if o.Name != "Browser Offer v2" || o.HoldSeconds != 3600 || o.HoldExpiry != "reject" || o.Timezone != "Europe/Paris" ||
		o.Caps.Daily == nil || *o.Caps.Daily != 100 || o.Caps.Monthly != nil || o.AffiliateCaps.Monthly == nil || *o.AffiliateCaps.Monthly != 500 ||
		o.Attribution != "first_click" || o.FallbackURL != landing.URL+"/full" || !o.AllowCustomParams {
		t.Errorf("after the console's edit the offer is %+v", o)
	}
	// Cleared in the form, a cap and the fallback URL are removed.
	var cleared bool
	run("clear a cap", chromedp.Navigate(s.URL+"/console/offer?id="+offerID), chromedp.WaitVisible(byID("f-caps.daily")),
		into(&cleared, chromedp.Evaluate[bool](`["f-caps.daily", "f-fallback_url"].every(id => (document.getElementById(id).value = "") === "")`)),
		chromedp.SetValue(byID("f-attribution"), "last_click"),
		chromedp.Submit(byID("f-name")), chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Value(byID("f-hold_seconds"))))
	o = store.Offer{} // decoding into the old value would keep the cap that "caps": {} leaves out
	mustAdmin(t, s, 200, "GET", "/api/v1/offers/"+offerID, nil, &o)
	if !cleared || o.Caps.Daily != nil || o.FallbackURL != "" || o.AffiliateCaps.Monthly == nil || text != "3600" {
		t.Errorf("after clearing the daily cap and the fallback URL: %+v (hold shown %q)", o, text)
	}

	// An event: a bad name beside its field, then added and listed.
	text = refused("event with a bad name", "f-event-name", "event-name",
		chromedp.SendKeys(byID("f-event-name"), "Bad Name"),
		chromedp.SetValue(byID("f-event-payout.type"), "cpa"),
		chromedp.SendKeys(byID("f-event-payout.amount"), "3.00"))
	if !strings.HasPrefix(text, "name: must be") {
		t.Errorf("a bad event name shows %q beside the field", text)
	}
	run("event",
		chromedp.SetValue(byID("f-event-name"), "lead"),
		chromedp.Submit(byID("f-event-name")),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Text(chromedp.CSS(`#events`))))
	if !strings.Contains(text, "lead") || !strings.Contains(text, "3.00") {
		t.Errorf("the offer's events are %q, want lead at 3.00", text)
	}

	// The affiliate's own payout (a bad amount first).
	text = refused("payout override", "f-amount", "amount",
		chromedp.SendKeys(chromedp.CSS(`#f-aff_id`), affID),
		chromedp.SetValue(chromedp.CSS(`#f-type`), "cpa"),
		chromedp.SendKeys(chromedp.CSS(`#f-amount`), "seven"))
	if !strings.HasPrefix(text, "amount: ") {
		t.Errorf("a bad override amount shows %q beside the field", text)
	}
	run("payout override", chromedp.SetValue(`#f-amount`, "7.00"),
		chromedp.Submit(chromedp.CSS(`#f-amount`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Text(chromedp.CSS(`#payouts tbody`))))
	if f := strings.Fields(text); len(f) < 4 || f[0] != affID || f[1] != "cpa" || f[2] != "7.00" || f[3] != "0.00" {
		t.Errorf("the offer's overrides read %q, want affiliate %s at cpa 7.00, 0.00 %%", text, affID)
	}

	var link string
	run("tracking code",
		chromedp.Navigate(s.URL+"/console/offer?id="+offerID+"&aff_id="+affID),
		chromedp.WaitVisible(chromedp.CSS(`#code-tracking_link`)),
		into(&link, chromedp.Text(chromedp.CSS(`#code-tracking_link`))),
		chromedp.Click(chromedp.CSS(`button[data-copy="code-tracking_link"]`)),
		chromedp.WaitVisible(`//button[@data-copy="code-tracking_link" and text()="Copied"]`),
		into(&text, chromedp.Text(chromedp.CSS(`#tracking`))))
	page("offer")
	if !strings.HasPrefix(link, s.URL+"/click?") || !strings.Contains(link, "aff_id="+affID) {
		t.Fatalf("the tracking link is %q, want a /click link of %s for affiliate %s", link, s.URL, affID)
	}
	if !strings.Contains(text, "tfclid={click_id}") || !strings.Contains(text, "event=lead") {
		t.Errorf("the tracking code lacks the tf.js landing URL or the lead event's snippets: %q", text)
	}

	// A visitor follows the link and buys: the conversion pixel, with the click's cookie.
	sale := func(invoice, extra string) {
		t.Helper()
		run("sale "+invoice, chromedp.Navigate(strings.ReplaceAll(link, "{sub_id}", "b1")), chromedp.WaitVisible(`#shop`),
			chromedp.Navigate(s.URL+"/pixel?offer_id="+offerID+"&amount=19.95&id="+invoice+extra))
	}
	// openConversion waits for the invoice's conversion in the console's list, with a status,
	// and opens its page.
	openConversion := func(invoice, status string) {
		t.Helper()
		eventually(t, 30*time.Second, "the "+status+" conversion "+invoice+" in the console", func() bool {
			run("conversions", chromedp.Navigate(s.URL+"/console/conversions?offer_id="+offerID+"&invoice_id="+invoice),
				into(&text, chromedp.Text(chromedp.CSS(`table`))))
			return strings.Contains(text, invoice) && strings.Contains(text, status)
		})
		run("conversion "+invoice, chromedp.Click(`//a[contains(@href, "/console/conversion?id=")]`),
			chromedp.WaitVisible(chromedp.CSS(`#conv-status`)))
	}
	sale("INV-BROWSER-1", "")
	eventually(t, 30*time.Second, "the affiliate's pixel", func() bool { return pixelEnd.successes() >= 1 })
	run("conversions", chromedp.Navigate(s.URL+"/console/conversions?offer_id="+offerID), chromedp.WaitVisible(chromedp.CSS(`table`)))
	page("conversions")
	openConversion("INV-BROWSER-1", "approved")
	run("deliveries", chromedp.WaitVisible(chromedp.CSS(`#deliveries li.ok`)), into(&text, chromedp.Text(chromedp.CSS(`#deliveries`))))
	if !strings.Contains(text, "HTTP 200") || !strings.Contains(text, pixelEnd.URL+"/px") || !strings.Contains(text, "payout=7.00") {
		t.Errorf("the delivery timeline is %q, want the pixel's 200 with the affiliate's own payout", text)
	}
	page("conversion")
	run("reverse", chromedp.SendKeys(`#reason`, "chargeback"),
		chromedp.Click(`//button[@value="reverse"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	eventually(t, 30*time.Second, "the reversed conversion in the console", func() bool {
		run("reload", chromedp.Reload(), into(&text, chromedp.Text(chromedp.CSS(`#conv-status`))))
		return text == "reversed"
	})

	// A held sale (custom status=pending): approved from its page with the keyboard alone, it
	// becomes approved and its pixel fires.
	sale("INV-HOLD-1", "&status=pending")
	openConversion("INV-HOLD-1", "pending")
	run("approve", chromedp.Focus(`//button[@value="approve"]`), chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)), into(&text, chromedp.Text(chromedp.CSS(`#conv-status`))))
	if text != "approved" {
		t.Errorf("after approving the held sale its status is %q", text)
	}
	page("conversion-approved")
	eventually(t, 30*time.Second, "the approved hold's delivery in the console", func() bool {
		run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#deliveries`)),
			into(&text, chromedp.Text(chromedp.CSS(`#deliveries`))))
		return strings.Contains(text, "HTTP 200") && strings.Contains(text, "status=approved")
	})

	// Another, rejected with a note.
	sale("INV-HOLD-2", "&status=pending")
	openConversion("INV-HOLD-2", "pending")
	var note, reason string
	run("reject", chromedp.SendKeys(`#reason`, "order cancelled by the shop"),
		chromedp.Click(`//button[@value="reject"]`),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Text(chromedp.CSS(`#conv-status`))), into(&note, chromedp.Text(chromedp.CSS(`#conv-note`))),
		into(&reason, chromedp.Text(`//tr[th[text()="Reason"]]/td`)))
	if text != "rejected" || note != "order cancelled by the shop" || reason != "admin" {
		t.Errorf("after rejecting the held sale: status %q, reason %q, note %q", text, reason, note)
	}

	// The pixel test tool, then pausing and resuming the pixel.
	run("pixel test", chromedp.Navigate(s.URL+"/console/affiliate?id="+affID),
		chromedp.Click(`//button[starts-with(@aria-label, "Test pixel ")]`),
		chromedp.WaitVisible(chromedp.CSS(`#px-try`)),
		into(&text, chromedp.Text(chromedp.CSS(`#px-try`))))
	if !strings.Contains(text, "HTTP 200") || !strings.Contains(text, "GET "+pixelEnd.URL+"/px?click_id=") ||
		!strings.Contains(text, "payout=1.00") || !strings.Contains(text, " ms") {
		t.Errorf("the pixel test's answer is %q, want the GET to the pixel, its 200 and its duration", text)
	}
	page("affiliate")
	run("pause pixel", chromedp.Click(`//button[starts-with(@aria-label, "Pause pixel ")]`),
		chromedp.WaitVisible(`//button[starts-with(@aria-label, "Resume pixel ")]`),
		into(&text, chromedp.Text(chromedp.CSS(`#pixels tbody`))))
	if !strings.Contains(text, "paused") {
		t.Errorf("after pausing, the pixels are %q", text)
	}
	run("resume pixel", chromedp.Click(`//button[starts-with(@aria-label, "Resume pixel ")]`),
		chromedp.WaitVisible(`//button[starts-with(@aria-label, "Pause pixel ")]`),
		into(&text, chromedp.Text(chromedp.CSS(`#pixels tbody`))))
	if !strings.Contains(text, "active") {
		t.Errorf("after resuming, the pixels are %q", text)
	}

	var points int
	run("reports", chromedp.Navigate(s.URL+"/console/reports?offer_id="+offerID),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
		into(&points, chromedp.Evaluate[int](`document.querySelectorAll('svg.chart circle.conv').length`)),
		into(&text, chromedp.Text(chromedp.CSS(`#report`))))
	if points != 14 || !strings.Contains(text, time.Now().UTC().Format(time.DateOnly)) {
		t.Errorf("the report's chart has %d points (want 14 days) and its table %q", points, text)
	}
	page("reports")

	// Phone width: every page without sideways scroll, its checks still holding.
	run("phone", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"offers", "offer?id=" + offerID, "advertisers", "affiliates", "affiliate?id=" + affID,
		"conversions", "reports"} {
		run("phone "+p, chromedp.Navigate(s.URL+"/console/"+p), chromedp.WaitVisible(chromedp.CSS(`main`)))
		check(p + " at 390 px")
	}
	run("phone conversion", chromedp.Navigate(s.URL+"/console/conversions?offer_id="+offerID), chromedp.WaitVisible(chromedp.CSS(`table`)))
	page("conversions-phone")
	openConversion("INV-HOLD-1", "approved")
	check("conversion at 390 px")

	run("sign out", chromedp.EmulateViewport(1280, 900), chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.Navigate(s.URL+"/console/offers"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
}

// TestConsoleSessionAndCSRF: a page without a session redirects to sign-in; a form posted with a
// session but without its CSRF token is refused and changes nothing.
func TestConsoleSessionAndCSRF(t *testing.T) {
	s := testenv.Shared(t)
	res, err := noRedirect.Get(s.URL + "/console/conversions?status=approved")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/sign-in?next="+url.QueryEscape("/console/conversions?status=approved") {
		t.Fatalf("without a session: %d to %q, want 303 to the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}

	res, err = noRedirect.PostForm(s.URL+"/console/sign-in", url.Values{"token": {testenv.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "tf_console" {
			session = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.MaxAge <= 0 {
		t.Fatalf("sign-in: %d, cookie %+v; want 303 and an HttpOnly, SameSite=Strict, expiring session", res.StatusCode, session)
	}

	// Every form of every page, posted without its CSRF token or with a forged one, is refused
	// and changes nothing: each case counts what its form would change.
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	px := addPixel(t, s, f.Affiliate.ID, map[string]any{"url": "https://affiliate.example/px"})
	aff, offer, adv := strconv.FormatInt(f.Affiliate.ID, 10), strconv.FormatInt(f.Offer.ID, 10), strconv.FormatInt(f.Advertiser.ID, 10)
	pixel := strconv.FormatInt(px.ID, 10)
	// status sends a request to a console page with a session cookie (and a form when not nil)
	// and returns the answer's status, redirects not followed.
	status := func(method, page string, form url.Values, ck *http.Cookie) int {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, s.URL+"/console/"+page, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(ck)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	count := func(q string, args ...any) int {
		var n int
		if err := s.DB.Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		page  string
		form  url.Values
		state func() int
	}{
		{"affiliates", url.Values{"name": {"CSRF Victim"}}, func() int { return count(`SELECT count(*) FROM affiliates`) }},
		{"advertisers", url.Values{"action": {"create"}, "name": {"CSRF Victim"}}, func() int { return count(`SELECT count(*) FROM advertisers`) }},
		{"advertisers", url.Values{"action": {"token"}, "id": {adv}}, func() int {
			return count(`SELECT count(*) FROM advertisers WHERE id = $1 AND postback_token = $2`, f.Advertiser.ID, f.Advertiser.PostbackToken)
		}},
		{"offer?id=" + offer, url.Values{"action": {"edit"}, "name": {"CSRF Victim"}}, func() int {
			return count(`SELECT count(*) FROM offers WHERE name = 'CSRF Victim'`)
		}},
		{"offer?id=" + offer, url.Values{"action": {"event"}, "name": {"victim"}, "payout.type": {"cpa"}}, func() int {
			return count(`SELECT count(*) FROM offer_events WHERE offer_id = $1`, f.Offer.ID)
		}},
		{"affiliate?id=" + aff, url.Values{"action": {"pause"}}, func() int {
			return count(`SELECT count(*) FROM affiliates WHERE id = $1 AND status = 'active'`, f.Affiliate.ID)
		}},
		{"affiliate?id=" + aff, url.Values{"action": {"pixel"}, "url": {"https://victim.example/"}}, func() int {
			return count(`SELECT count(*) FROM affiliate_pixels WHERE aff_id = $1`, f.Affiliate.ID)
		}},
		{"affiliate?id=" + aff, url.Values{"action": {"pixel-pause"}, "pixel_id": {pixel}}, func() int {
			return count(`SELECT count(*) FROM affiliate_pixels WHERE id = $1 AND status = 'active'`, px.ID)
		}},
	} {
		before := c.state()
		for _, token := range []string{"", "forged"} {
			form := url.Values{}
			for k, v := range c.form {
				form[k] = v
			}
			if token != "" {
				form.Set("csrf", token)
			}
			if code := status(http.MethodPost, c.page, form, session); code != http.StatusForbidden {
				t.Errorf("%s %v with csrf %q: %d, want 403", c.page, c.form, token, code)
			}
		}
		if after := c.state(); after != before {
			t.Errorf("a refused %s %v changed what it counts from %d to %d", c.page, c.form, before, after)
		}
	}

	// A page about one object without its id, or an unknown one, is 404: never the API's
	// redirect of a path ending in a slash.
	for _, page := range []string{"conversion", "conversion?id=", "offer", "affiliate?id=x", "affiliate?id=999999999"} {
		if code := status(http.MethodGet, page, nil, session); code != http.StatusNotFound {
			t.Errorf("GET /console/%s: %d, want 404", page, code)
		}
	}

	// A tampered session (a later expiry under the old signature) is no session.
	v, mac, _ := strings.Cut(session.Value, ".")
	exp, _ := strconv.ParseInt(v, 10, 64)
	tampered := &http.Cookie{Name: "tf_console", Value: strconv.FormatInt(exp+86400, 10) + "." + mac}
	if code := status(http.MethodGet, "offers", nil, tampered); code != http.StatusSeeOther {
		t.Errorf("a tampered session: %d, want 303 to sign in", code)
	}
}
