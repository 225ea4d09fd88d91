package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestFormBody: dotted names nest, empty inputs are left out unless they clear a setting,
// checkboxes are booleans, integers are numbers, lists split.
func TestFormBody(t *testing.T) {
	form := url.Values{"name": {" Shoes "}, "payout.type": {"cpa"}, "payout.amount": {"5.00"}, "payout.percent": {""},
		"multi_conversion": {"on"}, "currency": {""}, "caps.daily": {"20"}, "hold_seconds": {"3600"},
		"min_conversion_seconds": {"ten"}, "fallback_url": {""}}
	got := formBody(offerFields(false), form)
	want := map[string]any{"name": "Shoes", "payout": map[string]any{"type": "cpa", "amount": "5.00"},
		"multi_conversion": true, "allow_custom_params": false,
		// an empty URL or cap that clears is sent, so that an edit removes it
		"thank_you_url": "", "fallback_url": "",
		"caps":           map[string]any{"daily": int64(20), "monthly": nil},
		"affiliate_caps": map[string]any{"daily": nil, "monthly": nil},
		// a number field's integer is a JSON number; anything else is left for the API to refuse
		"hold_seconds": int64(3600), "min_conversion_seconds": "ten"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("formBody = %#v, want %#v", got, want)
	}
	if got := formBody(advertiserFields, url.Values{"name": {"A"}, "allowed_ips": {"10.0.0.0/8, 192.0.2.1/32"}}); !reflect.DeepEqual(got["allowed_ips"], []string{"10.0.0.0/8", "192.0.2.1/32"}) {
		t.Errorf("allowed_ips = %#v", got["allowed_ips"])
	}
	if got := formValues(eventFields, url.Values{"name": {"lead"}, "payout.type": {"cpa"}}); !reflect.DeepEqual(got,
		map[string]any{"name": "lead", "payout": map[string]any{"type": "cpa", "amount": "", "percent": ""}}) {
		t.Errorf("formValues = %#v", got)
	}
}

// TestFieldIDs: the fields of a page's second form have ids of their own, and an input names its
// hint and error for assistive technology.
func TestFieldIDs(t *testing.T) {
	f := eventFields[0]
	f.Error = "name: must be …"
	if f.ID() != "f-event-name" || f.ErrorID() != "e-event-name" || f.DescribedBy() != "h-event-name e-event-name" {
		t.Errorf("event name field: id %q, error id %q, described by %q", f.ID(), f.ErrorID(), f.DescribedBy())
	}
	if f := offerFields(false)[0]; f.ID() != "f-name" || f.DescribedBy() != "" {
		t.Errorf("offer name field: id %q, described by %q", f.ID(), f.DescribedBy())
	}
}

// TestFillPutsTheAPIErrorBesideItsField: the message goes to the field it names, else above the form.
func TestFillPutsTheAPIErrorBesideItsField(t *testing.T) {
	fs, general := fill(offerFields(false), map[string]any{"payout": map[string]any{"amount": "5.00"}}, "payout.amount: must be a decimal")
	for _, f := range fs {
		switch f.Name {
		case "payout.amount":
			if f.Error != "payout.amount: must be a decimal" || f.Value != "5.00" {
				t.Errorf("payout.amount: %+v", f)
			}
		default:
			if f.Error != "" {
				t.Errorf("%s has the error %q", f.Name, f.Error)
			}
		}
	}
	if general != "" {
		t.Errorf("a field's error was also shown above the form: %q", general)
	}
	if _, general := fill(offerFields(false), nil, "offer not found"); general != "offer not found" {
		t.Errorf("a message naming no field: %q", general)
	}
}

// TestSession: a signed expiry is a session until it expires; a changed value, signature or admin
// token is none, and the CSRF token depends on the session.
func TestSession(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := New(Config{AdminToken: "secret-token"})
	c.now = func() time.Time { return now }
	v, _ := c.newSession()
	with := func(value string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/console/offers", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
		return r
	}
	if _, ok := c.session(with(v)); !ok {
		t.Fatal("a fresh session is refused")
	}
	exp, mac, _ := strings.Cut(v, ".")
	for name, bad := range map[string]string{"later expiry": exp + "9." + mac, "no signature": exp, "other signature": exp + "." + c.sign("x")} {
		if _, ok := c.session(with(bad)); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	other := New(Config{AdminToken: "another-token"})
	if _, ok := other.session(with(v)); ok {
		t.Error("a session survives a change of admin token")
	}
	now = now.Add(sessionTTL)
	if _, ok := c.session(with(v)); ok {
		t.Error("an expired session is accepted")
	}
	v2, _ := c.newSession()
	if c.csrf(v) == c.csrf(v2) || c.csrf(v) == "" {
		t.Error("the CSRF token does not depend on the session")
	}
}

// TestDayChart: one point per day on each line, and the day labels escaped.
func TestDayChart(t *testing.T) {
	items := []any{
		map[string]any{"day": "2026-12-01", "clicks": 10.0, "conversions": 1.0},
		map[string]any{"day": "2026-12-02", "clicks": 4.0, "conversions": 0.0},
	}
	svg := string(dayChart(items))
	if strings.Count(svg, `<circle class="clicks"`) != 2 || strings.Count(svg, `<circle class="conv"`) != 2 || !strings.Contains(svg, "<svg") {
		t.Errorf("chart: %s", svg)
	}
	if got := string(dayChart([]any{map[string]any{"day": "<b>", "clicks": 1.0}})); strings.Contains(got, "<b>") {
		t.Error("a day label is not escaped")
	}
	if dayChart(nil) != "" {
		t.Error("an empty report draws a chart")
	}
}

// TestCookieSecureOnHTTPS: the session cookie is Secure when the API says the request came over https.
func TestCookieSecureOnHTTPS(t *testing.T) {
	for _, https := range []bool{false, true} {
		c := New(Config{AdminToken: "t", HTTPS: func(*http.Request) bool { return https }})
		rec := httptest.NewRecorder()
		v, exp := c.newSession()
		c.setCookie(rec, httptest.NewRequest(http.MethodPost, "/console/sign-in", nil), v, exp)
		ck := rec.Result().Cookies()[0]
		if ck.Secure != https || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != cookiePath {
			t.Errorf("https=%v: cookie %+v", https, ck)
		}
	}
}

// TestPagesMatchOpenAPI: api/openapi.yaml's page enum of /console/{page}, for both methods, is
// Pages, and every page but sign-in has a handler and no other does.
func TestPagesMatchOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Value("/console/{page}")
	if item == nil {
		t.Fatal("api/openapi.yaml has no /console/{page}")
	}
	for method, op := range map[string]*openapi3.Operation{"GET": item.Get, "POST": item.Post} {
		var enum []any
		if op != nil {
			for _, p := range op.Parameters {
				if p.Value.Name == "page" && p.Value.Schema != nil {
					enum = p.Value.Schema.Value.Enum
				}
			}
		}
		if fmt.Sprint(enum) != fmt.Sprint(Pages) {
			t.Errorf("%s /console/{page}: api/openapi.yaml's pages are %v, the console's %v", method, enum, Pages)
		}
	}
	var served []string
	for p := range handlers {
		served = append(served, p)
	}
	want := slices.DeleteFunc(slices.Clone(Pages), func(p string) bool { return p == "sign-in" })
	slices.Sort(served)
	slices.Sort(want)
	if !slices.Equal(served, want) {
		t.Errorf("pages with a handler: %v, want %v", served, want)
	}
}
