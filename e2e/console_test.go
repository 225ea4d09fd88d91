package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trackflow/trackflow/internal/testenv"
)

// TestConsoleInBrowser drives Debian's chromium through the operator console: sign in, create an
// advertiser, an offer (a validation error shown beside its field first), an affiliate with a
// pixel, copy the tracking link, follow it, make a sale, see it in conversions with its delivery,
// open reports and find the chart, sign out. It fails, never skips, without chromium.
// TRACKFLOW_CONSOLE_SCREENSHOTS=dir saves a screenshot of each page there (make console-screenshots).
func TestConsoleInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is required by the console's browser test: apt-get install -y chromium (.ci/run installs it)")
	}
	s := testenv.Shared(t)
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Shop</title><h1 id="shop">The shop</h1>`))
	}))
	t.Cleanup(landing.Close)
	pixelEnd := newAffiliateEndpoint(t, script(http.StatusOK))

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()

	shots := os.Getenv("TRACKFLOW_CONSOLE_SCREENSHOTS")
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// page checks what every page must hold (a label on each input, no horizontal scroll at
	// 1280 px) and saves its screenshot.
	page := func(name string) {
		t.Helper()
		var unlabelled []string
		var overflow bool
		run("check "+name,
			into(&unlabelled, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input:not([type=hidden]),select,textarea')].filter(e => e.labels.length == 0).map(e => e.name)`)),
			into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)))
		if len(unlabelled) > 0 {
			t.Errorf("%s: inputs without a label: %v", name, unlabelled)
		}
		if overflow {
			t.Errorf("%s: the page scrolls sideways", name)
		}
		if shots != "" {
			var png []byte
			run("screenshot "+name, into(&png, chromedp.FullScreenshot(100)))
			if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var location, text string

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

	var advID, advToken string
	run("advertiser",
		chromedp.Navigate(s.URL+"/console/advertisers"),
		chromedp.SendKeys(chromedp.CSS(`[name="name"]`), "Browser Advertiser"),
		chromedp.Submit(chromedp.CSS(`[name="name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#adv-token`)),
		into(&advID, chromedp.Text(chromedp.CSS(`#adv-id`))), into(&advToken, chromedp.Text(chromedp.CSS(`#adv-token`))))
	if len(strings.TrimSpace(advToken)) < 24 {
		t.Errorf("the new advertiser's token shown is %q", advToken)
	}
	page("advertisers")

	// The offer form shows the API's own message beside the field it names.
	run("offer with a bad currency",
		chromedp.Navigate(s.URL+"/console/offers"),
		chromedp.SendKeys(chromedp.CSS(`[name="advertiser_id"]`), advID),
		chromedp.SendKeys(chromedp.CSS(`[name="name"]`), "Browser Offer"),
		chromedp.SendKeys(chromedp.CSS(`[name="landing_url"]`), landing.URL+"/?cid={click_id}"),
		chromedp.SetValue(chromedp.CSS(`[name="payout.type"]`), "cpa"),
		chromedp.SendKeys(chromedp.CSS(`[name="payout.amount"]`), "5.00"),
		chromedp.SendKeys(chromedp.CSS(`[name="currency"]`), "usd"),
		chromedp.Submit(chromedp.CSS(`[name="name"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#e-currency`)),
		into(&text, chromedp.Text(chromedp.CSS(`#e-currency`))))
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
		chromedp.SendKeys(chromedp.CSS(`[name="url"]`), pixelEnd.URL+"/px?click_id={click_id}&payout={payout}"),
		chromedp.Submit(chromedp.CSS(`[name="url"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Text(chromedp.CSS(`table`))))
	if !strings.Contains(text, pixelEnd.URL+"/px") {
		t.Errorf("the affiliate's pixels are %q, want the new one", text)
	}
	page("affiliate")

	// Edit the offer, and give the affiliate its own payout (a bad amount first).
	run("edit offer",
		chromedp.Navigate(s.URL+"/console/offer?id="+offerID),
		chromedp.SetValue(chromedp.CSS(`#f-name`), "Browser Offer v2"),
		chromedp.Submit(chromedp.CSS(`#f-name`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
		into(&text, chromedp.Value(chromedp.CSS(`#f-name`))))
	if text != "Browser Offer v2" {
		t.Errorf("after the edit the offer's name is %q", text)
	}
	run("payout override",
		chromedp.SendKeys(chromedp.CSS(`#f-aff_id`), affID),
		chromedp.SetValue(chromedp.CSS(`#f-type`), "cpa"),
		chromedp.SendKeys(chromedp.CSS(`#f-amount`), "seven"),
		chromedp.Submit(chromedp.CSS(`#f-amount`)),
		chromedp.WaitVisible(chromedp.CSS(`#e-amount`)),
		into(&text, chromedp.Text(chromedp.CSS(`#e-amount`))))
	if !strings.HasPrefix(text, "amount: ") {
		t.Errorf("a bad override amount shows %q beside the field", text)
	}
	run("payout override", chromedp.SetValue(`#f-amount`, "7.00"),
		chromedp.Submit(chromedp.CSS(`#f-amount`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))

	var link string
	run("tracking code",
		chromedp.Navigate(s.URL+"/console/offer?id="+offerID+"&aff_id="+affID),
		chromedp.WaitVisible(chromedp.CSS(`#code-tracking_link`)),
		into(&link, chromedp.Text(chromedp.CSS(`#code-tracking_link`))),
		chromedp.Click(chromedp.CSS(`button[data-copy="code-tracking_link"]`)),
		chromedp.WaitVisible(`//button[@data-copy="code-tracking_link" and text()="Copied"]`))
	page("offer")
	if !strings.HasPrefix(link, s.URL+"/click?") || !strings.Contains(link, "aff_id="+affID) {
		t.Fatalf("the tracking link is %q, want a /click link of %s for affiliate %s", link, s.URL, affID)
	}

	// A visitor follows the link and buys: the conversion pixel, with the click's cookie.
	run("follow the link", chromedp.Navigate(strings.ReplaceAll(link, "{sub_id}", "b1")), chromedp.WaitVisible(`#shop`),
		chromedp.Navigate(s.URL+"/pixel?offer_id="+offerID+"&amount=19.95&id=INV-BROWSER-1"))
	eventually(t, 30*time.Second, "the affiliate's pixel", func() bool { return pixelEnd.successes() >= 1 })

	eventually(t, 30*time.Second, "the approved conversion in the console", func() bool {
		run("conversions", chromedp.Navigate(s.URL+"/console/conversions?offer_id="+offerID),
			into(&text, chromedp.Text(chromedp.CSS(`table`))))
		return strings.Contains(text, "INV-BROWSER-1") && strings.Contains(text, "approved")
	})
	page("conversions")
	run("conversion", chromedp.Click(`//a[contains(@href, "/console/conversion?id=")]`),
		chromedp.WaitVisible(chromedp.CSS(`#deliveries li.ok`)),
		into(&text, chromedp.Text(chromedp.CSS(`#deliveries`))))
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

	var points int
	run("reports", chromedp.Navigate(s.URL+"/console/reports?offer_id="+offerID),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
		into(&points, chromedp.Evaluate[int](`document.querySelectorAll('svg.chart circle.conv').length`)),
		into(&text, chromedp.Text(chromedp.CSS(`#report`))))
	if points != 14 || !strings.Contains(text, time.Now().UTC().Format(time.DateOnly)) {
		t.Errorf("the report's chart has %d points (want 14 days) and its table %q", points, text)
	}
	page("reports")

	// Phone width: still no sideways scroll.
	var overflow bool
	run("phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.URL+"/console/conversions"),
		chromedp.WaitVisible(chromedp.CSS(`table`)),
		into(&overflow, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)))
	if overflow {
		t.Error("at 390 px the conversions page scrolls sideways")
	}
	page("conversions-phone")

	run("sign out", chromedp.EmulateViewport(1280, 900), chromedp.Click(`//button[text()="Sign out"]`),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.Navigate(s.URL+"/console/offers"), chromedp.WaitVisible(chromedp.CSS(`#token`)))
}

// TestConsoleSessionAndCSRF: a page without a session redirects to sign-in; a form posted with a
// session but without its CSRF token is refused and changes nothing.
func TestConsoleSessionAndCSRF(t *testing.T) {
	s := testenv.Shared(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

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

	var before int
	if err := s.DB.Get(&before, `SELECT count(*) FROM affiliates`); err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", "forged"} {
		form := url.Values{"name": {"CSRF Victim"}}
		if token != "" {
			form.Set("csrf", token)
		}
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/console/affiliates", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(session)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("a form with csrf %q: %d, want 403", token, res.StatusCode)
		}
	}
	var after int
	if err := s.DB.Get(&after, `SELECT count(*) FROM affiliates`); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("a refused form created %d affiliates", after-before)
	}

	// A tampered session (a later expiry under the old signature) is no session.
	v, mac, _ := strings.Cut(session.Value, ".")
	exp, _ := strconv.ParseInt(v, 10, 64)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/console/offers", nil)
	req.AddCookie(&http.Cookie{Name: "tf_console", Value: strconv.FormatInt(exp+86400, 10) + "." + mac})
	res, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("a tampered session: %d, want 303 to sign in", res.StatusCode)
	}
}

// into turns an action that yields a value into one that stores it in dst, so that a sequence of
// steps can read the page as it goes.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, tg)
		*dst = v
		return chromedp.Void{}, err
	}
}
