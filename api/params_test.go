package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// noDBRouter is the real router with no database and no Temporal client behind it: every request
// these tests send must be answered from its parameters alone. A handler that got past validation
// would dereference the nil pool, panic, and be answered 500 by gin's recovery, failing the test.
func noDBRouter() http.Handler {
	return New(Config{AdminToken: "unit-admin-token"}, &store.Store{}, nil)
}

// TestMalformedTrackingInput sends every malformed input of docs/API.md's common rules to every
// tracking endpoint it applies to: each answer is 400, keeps the endpoint's body type, and names
// the canonical field first in its message.
func TestMalformedTrackingInput(t *testing.T) {
	t.Parallel()
	h := noDBRouter()
	long := func(n int) string { return strings.Repeat("a", n) }
	type tc struct {
		name, method, target, ctype, body, field string
	}
	var cases []tc
	// Money: the pattern ^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$ and nothing else.
	for _, bad := range []string{"-1", "1e3", "NaN", ".5", "5.", "007", "1.999", "+5", "10000000000",
		"%205", "5%20", "1,5", "0x10", "Infinity", "5.00.1", "%EF%BC%95", "00", "0.", "-0"} {
		cases = append(cases,
			tc{"pixel amount " + bad, "GET", "/pixel?offer_id=1&amount=" + bad, "", "", "amount"},
			tc{"form amount " + bad, "POST", "/conversion", "application/x-www-form-urlencoded", "offer_id=1&amount=" + bad, "amount"},
			tc{"postback amount " + bad, "GET", "/postback?click_id=" + domain.NewID() + "&amount=" + bad, "", "", "amount"},
		)
	}
	for _, bad := range []string{"1e3", "-1", "19.950", "1E1", "0.5e1", "true", `"NaN"`, `"19.95 "`, "{}", "[1]"} {
		cases = append(cases, tc{"JSON amount " + bad, "POST", "/conversion", "application/json",
			`{"offer_id": 1, "amount": ` + bad + `}`, "amount"})
	}
	cases = append(cases,
		tc{"pixel amount missing", "GET", "/pixel?offer_id=1", "", "", "amount"},
		tc{"pixel amount empty", "GET", "/pixel?offer_id=1&amount=", "", "", "amount"},
		tc{"form amount missing", "POST", "/conversion", "application/x-www-form-urlencoded", "offer_id=1", "amount"},
	)
	// Identifiers: positive integers only.
	for _, bad := range []string{"0", "-1", "01", "1.5", "99999999999999999999", "9223372036854775808",
		"%201", "1%20", "%EF%BC%91", "1e2", "0x1", "abc", "+1"} {
		cases = append(cases,
			tc{"click offer_id " + bad, "GET", "/click?aff_id=1&offer_id=" + bad, "", "", "offer_id"},
			tc{"click aff_id " + bad, "GET", "/click?offer_id=1&aff_id=" + bad, "", "", "aff_id"},
			tc{"click creative_id " + bad, "GET", "/click?offer_id=1&aff_id=1&creative_id=" + bad, "", "", "creative_id"},
			tc{"impression offer_id " + bad, "GET", "/impression?aff_id=1&offer_id=" + bad, "", "", "offer_id"},
			tc{"impression aff_id " + bad, "GET", "/impression?offer_id=1&aff_id=" + bad, "", "", "aff_id"},
			tc{"pixel offer_id " + bad, "GET", "/pixel?amount=1&offer_id=" + bad, "", "", "offer_id"},
			tc{"form offer_id " + bad, "POST", "/conversion", "application/x-www-form-urlencoded", "amount=1&offer_id=" + bad, "offer_id"},
			tc{"afid offer_id " + bad, "POST", "/postback", "application/x-www-form-urlencoded", "amount=1&aff_id=1&offer_id=" + bad, "offer_id"},
			tc{"afid aff_id " + bad, "GET", "/postback?amount=1&offer_id=1&aff_id=" + bad, "", "", "aff_id"},
		)
	}
	cases = append(cases,
		tc{"click offer_id missing", "GET", "/click?aff_id=1", "", "", "offer_id"},
		tc{"click aff_id missing", "GET", "/click?offer_id=1", "", "", "aff_id"},
		tc{"impression aff_id missing", "GET", "/impression?offer_id=1", "", "", "aff_id"},
		tc{"pixel offer_id missing", "GET", "/pixel?amount=1", "", "", "offer_id"},
		tc{"JSON offer_id float", "POST", "/conversion", "application/json", `{"offer_id": 1.0, "amount": 1}`, "offer_id"},
		tc{"JSON offer_id exponent", "POST", "/conversion", "application/json", `{"offer_id": 1e0, "amount": 1}`, "offer_id"},
		tc{"JSON offer_id object", "POST", "/conversion", "application/json", `{"offer_id": {"a": 1}, "amount": 1}`, "offer_id"},
		tc{"JSON CID list", "POST", "/conversion", "application/json", `{"CID": [1], "amount": 1}`, "offer_id"},
	)
	// sub_id: at most 255 bytes of UTF-8; id: 1 to 128 bytes of UTF-8.
	cases = append(cases,
		tc{"sub_id 256 bytes", "GET", "/click?offer_id=1&aff_id=1&sub_id=" + long(256), "", "", "sub_id"},
		tc{"sub_id 128 two-byte runes", "GET", "/click?offer_id=1&aff_id=1&sub_id=" + strings.Repeat("%C3%A9", 128), "", "", "sub_id"},
		tc{"sub_id invalid UTF-8", "GET", "/click?offer_id=1&aff_id=1&sub_id=%FF", "", "", "sub_id"},
		tc{"sub_id truncated rune", "GET", "/impression?offer_id=1&aff_id=1&sub_id=a%C3", "", "", "sub_id"},
		tc{"sub_id NUL", "GET", "/click?offer_id=1&aff_id=1&sub_id=a%00b", "", "", "sub_id"},
		tc{"afid sub_id 256 bytes", "GET", "/postback?offer_id=1&aff_id=1&amount=1&sub_id=" + long(256), "", "", "sub_id"},
		tc{"id empty", "GET", "/pixel?offer_id=1&amount=1&id=", "", "", "id"},
		tc{"id 129 bytes", "GET", "/pixel?offer_id=1&amount=1&id=" + long(129), "", "", "id"},
		tc{"id invalid UTF-8", "GET", "/pixel?offer_id=1&amount=1&id=INV%FE", "", "", "id"},
		tc{"id NUL", "POST", "/conversion", "application/x-www-form-urlencoded", "offer_id=1&amount=1&id=a%00", "id"},
		tc{"JSON id NUL escape", "POST", "/conversion", "application/json", `{"offer_id": 1, "amount": 1, "id": "a\u0000"}`, "id"},
		tc{"JSON id empty", "POST", "/postback", "application/json", `{"click_id": "` + domain.NewID() + `", "amount": 1, "id": ""}`, "id"},
		// JSON text that encoding/json would decode with U+FFFD (issue 8, finding 3).
		tc{"JSON id invalid UTF-8", "POST", "/conversion", "application/json", "{\"offer_id\": 1, \"amount\": 1, \"id\": \"\xffCOLL-1\"}", "id"},
		tc{"JSON id lone high surrogate", "POST", "/conversion", "application/json", `{"offer_id": 1, "amount": 1, "id": "\ud800COLL-1"}`, "id"},
		tc{"JSON id lone low surrogate", "POST", "/postback", "application/json", `{"click_id": "` + domain.NewID() + `", "amount": 1, "id": "\udc00"}`, "id"},
		tc{"JSON id reversed pair", "POST", "/conversion", "application/json", `{"offer_id": 1, "amount": 1, "id": "\ude00\ud83d"}`, "id"},
		tc{"JSON sub_id invalid UTF-8", "POST", "/postback", "application/json", "{\"offer_id\": 1, \"aff_id\": 1, \"amount\": 1, \"sub_id\": \"a\xfe\"}", "sub_id"},
		tc{"JSON invalid id twice differently", "POST", "/conversion", "application/json", "{\"offer_id\": 1, \"amount\": 1, \"id\": \"\xff\", \"id\": \"\xfe\"}", "id"},
		tc{"postback id 129 bytes", "GET", "/postback?click_id=" + domain.NewID() + "&amount=1&id=" + long(129), "", "", "id"},
	)
	// click_id: 32 lowercase hex characters.
	for _, bad := range []string{strings.ToUpper(domain.NewID()), domain.NewID()[:31], domain.NewID() + "0",
		strings.Repeat("g", 32), "%20" + domain.NewID()[1:], "0x" + domain.NewID()[2:]} {
		cases = append(cases,
			tc{"click_id " + bad, "GET", "/postback?amount=1&click_id=" + bad, "", "", "click_id"},
			tc{"ClickID " + bad, "POST", "/postback", "application/x-www-form-urlencoded", "amount=1&ClickID=" + bad, "click_id"},
		)
	}
	// Conflicting repeats: query and body, name and alias, or the same name twice.
	cases = append(cases,
		tc{"offer_id and CID", "GET", "/click?offer_id=1&CID=2&aff_id=1", "", "", "offer_id"},
		tc{"aff_id and AFID", "GET", "/click?offer_id=1&aff_id=1&AFID=2", "", "", "aff_id"},
		tc{"sub_id and SID", "GET", "/impression?offer_id=1&aff_id=1&sub_id=a&SID=b", "", "", "sub_id"},
		tc{"creative_id and ADID", "GET", "/click?offer_id=1&aff_id=1&creative_id=1&ADID=2", "", "", "creative_id"},
		tc{"offer_id twice", "GET", "/pixel?offer_id=1&offer_id=2&amount=1", "", "", "offer_id"},
		tc{"amount twice", "GET", "/pixel?offer_id=1&amount=1&amount=2", "", "", "amount"},
		tc{"id twice", "GET", "/pixel?offer_id=1&amount=1&id=a&id=b", "", "", "id"},
		tc{"empty and set", "GET", "/pixel?offer_id=&offer_id=1&amount=1", "", "", "offer_id"},
		tc{"query and form", "POST", "/conversion?offer_id=1", "application/x-www-form-urlencoded", "CID=2&amount=1", "offer_id"},
		tc{"query and JSON", "POST", "/conversion?amount=1", "application/json", `{"offer_id": 1, "amount": "2"}`, "amount"},
		tc{"JSON key twice", "POST", "/conversion", "application/json", `{"offer_id": 1, "amount": 1, "offer_id": 2}`, "offer_id"},
		tc{"JSON name and alias", "POST", "/conversion", "application/json", `{"offer_id": 1, "CID": "3", "amount": 1}`, "offer_id"},
		tc{"click_id and ClickID", "POST", "/postback?click_id=" + domain.NewID(), "application/json", `{"ClickID": "` + domain.NewID() + `", "amount": 1}`, "click_id"},
		tc{"token twice", "GET", "/postback?amount=1&click_id=" + domain.NewID() + "&token=a&token=b", "", "", "token"},
		tc{"token param and header differ", "GET", "/postback?amount=1&click_id=" + domain.NewID() + "&token=a", "", "", "token"},
	)
	// Bodies and query strings that are not what they say.
	cases = append(cases,
		tc{"query escape", "GET", "/pixel?offer_id=1&amount=1%zz", "", "", "amount"},
		tc{"query escape of a sub", "GET", "/click?offer_id=1&aff_id=1&sub3=50%off", "", "", "sub3"},
		tc{"query escape of an alias", "GET", "/impression?offer_id=1&AFID=%", "", "", "aff_id"},
		tc{"JSON array", "POST", "/conversion", "application/json", `[1]`, "body"},
		tc{"JSON string", "POST", "/conversion", "application/json", `"offer_id"`, "body"},
		tc{"JSON truncated", "POST", "/conversion", "application/json", `{"offer_id": 1,`, "body"},
		tc{"JSON trailing data", "POST", "/conversion", "application/json", `{"offer_id": 1, "amount": 1} {}`, "body"},
		tc{"form escape", "POST", "/conversion", "application/x-www-form-urlencoded", "offer_id=1&amount=%zz", "amount"},
		tc{"unknown content type", "POST", "/conversion", "text/plain", "offer_id=1&amount=1", "body"},
		tc{"no content type", "POST", "/postback", "", "click_id=x", "body"},
		tc{"multipart without boundary", "POST", "/conversion", "multipart/form-data", "--x\r\n", "body"},
		tc{"body too large", "POST", "/conversion", "application/x-www-form-urlencoded", "offer_id=1&amount=1&x=" + long(maxBody), "body"},
	)

	for _, c := range cases {
		var body *strings.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(c.method, c.target, body)
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.name == "token param and header differ" {
			req.Header.Set("X-Postback-Token", "c")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		msg := w.Header().Get("X-Error")
		wantType := "text/plain; charset=utf-8"
		switch {
		case strings.HasPrefix(c.target, "/pixel"), strings.HasPrefix(c.target, "/impression"):
			wantType = "image/gif"
			if !bytes.Equal(w.Body.Bytes(), transparentGIF) {
				t.Errorf("%s: body is not the GIF", c.name)
			}
		case strings.HasPrefix(c.target, "/postback"):
			wantType = "application/json; charset=utf-8"
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Errorf("%s: body %q is not a JSON error", c.name, w.Body.String())
			}
			msg = e.Error
		}
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(msg, c.field+": ") ||
			w.Header().Get("Content-Type") != wantType {
			t.Errorf("%s: %s %s → %d %q %q; want 400 %s naming %s", c.name, c.method, c.target,
				w.Code, w.Header().Get("Content-Type"), msg, wantType, c.field)
		}
	}
}

// TestMalformedAdminInput covers the payout settings' money and percent rules on the admin API,
// and text PostgreSQL cannot store, all checked before anything is looked up.
func TestMalformedAdminInput(t *testing.T) {
	t.Parallel()
	h := noDBRouter()
	cases := []struct {
		method, path, body, field string
	}{
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cps", "percent": "100.01"}`, "percent"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cps", "percent": 101}`, "percent"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cps", "percent": "-1"}`, "percent"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cps", "percent": "10.555"}`, "percent"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cpa", "amount": "1e3"}`, "amount"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cpa", "amount": -1}`, "amount"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "cpa", "amount": "10000000000"}`, "amount"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"type": "flat", "amount": "1"}`, "type"},
		{"PUT", "/api/v1/offers/1/payouts/1", `{"amount": "1"}`, "type"},
		{"PUT", "/api/v1/offers/999999/payouts/999999", `{"type": "cps", "percent": "100.5"}`, "percent"},
		{"POST", "/api/v1/offers", `{"advertiser_id": 1, "name": "o", "landing_url": "https://x.example/", "payout": {"type": "cps", "percent": "100.01"}}`, "payout.percent"},
		{"POST", "/api/v1/offers", `{"advertiser_id": 1, "name": "o", "landing_url": "https://x.example/", "payout": {"type": "cpa", "amount": ".5"}}`, "payout.amount"},
		{"POST", "/api/v1/offers", `{"advertiser_id": 1, "name": "o", "landing_url": "https://x.example/", "payout": {"type": "cpa", "amount": "5"}, "currency": "usd"}`, "currency"},
		{"POST", "/api/v1/offers", `{"advertiser_id": 0, "name": "o", "landing_url": "https://x.example/", "payout": {"type": "cpa", "amount": "5"}}`, "advertiser_id"},
		{"POST", "/api/v1/offers", `{"advertiser_id": "01", "name": "o", "landing_url": "https://x.example/", "payout": {"type": "cpa", "amount": "5"}}`, "advertiser_id"},
		// PATCH: a bad field is a 400 before the (unknown) offer or affiliate is looked up.
		{"PATCH", "/api/v1/offers/999999", `{"payout": {"percent": "101"}}`, "payout.percent"},
		{"PATCH", "/api/v1/offers/999999", `{"cookie_days": 366}`, "cookie_days"},
		{"PATCH", "/api/v1/offers/999999", `{"currency": "EURO"}`, "currency"},
		{"PATCH", "/api/v1/offers/999999", `{"status": "deleted"}`, "status"},
		{"PATCH", "/api/v1/affiliates/999999", `{"status": "gone"}`, "status"},
		{"PATCH", "/api/v1/affiliates/999999", `{"name": ""}`, "name"},
		{"PATCH", "/api/v1/affiliates/999999", `[1]`, "body"},
		{"PATCH", "/api/v1/affiliates/999999", `{"name": "a\u0000b"}`, "name"},
		{"POST", "/api/v1/affiliates", `{"name": "\u0000"}`, "name"},
		{"POST", "/api/v1/advertisers", `{"name": "adv", "postback_token": "0123456789abcdef\u0000"}`, "postback_token"},
		{"POST", "/api/v1/offers", `{"advertiser_id": 1, "name": "o\u0000", "landing_url": "https://x.example/", "payout": {"type": "cpa", "amount": "5"}}`, "name"},
		{"GET", "/api/v1/conversions?invoice_id=%FF", "", "invoice_id"},
		{"GET", "/api/v1/conversions?invoice_id=a%00", "", "invoice_id"},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer unit-admin-token")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var e struct{ Error string }
		_ = json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(e.Error, c.field+": ") {
			t.Errorf("%s %s %s → %d %q; want 400 naming %s", c.method, c.path, c.body, w.Code, e.Error, c.field)
		}
	}
}

// TestParseParamsAccepts covers the valid side of the rules: money, aliases, the three body
// types, repeats of one value, and parameters that are not the endpoints' (ignored).
func TestParseParamsAccepts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"19.95", "0", "1200", "5.5", "0.01", "9999999999.99", "0.5", "10.10"} {
		p, err := parseParams("amount="+s, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := p.Money("amount", true); err != nil || !ok {
			t.Errorf("amount %s: %v", s, err)
		}
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("CID", "7")
	_ = mw.WriteField("amount", "19.95")
	fw, _ := mw.CreateFormFile("upload", "x.txt")
	_, _ = fw.Write([]byte("offer_id=8"))
	_ = mw.Close()

	cases := []struct {
		name, query, ctype, body string
		want                     map[string]string
	}{
		{"query with aliases", "CID=7&AFID=3&SID=s%201&ADID=4&ClickID=" + strings.Repeat("ab", 16), "", "",
			map[string]string{"offer_id": "7", "aff_id": "3", "sub_id": "s 1", "creative_id": "4", "click_id": strings.Repeat("ab", 16)}},
		{"same value repeated", "offer_id=7&CID=7&offer_id=7", "application/x-www-form-urlencoded", "CID=7&amount=1",
			map[string]string{"offer_id": "7", "amount": "1"}},
		{"JSON number keeps its text", "", "application/json; charset=utf-8", `{"CID": 7, "amount": 19.95, "id": 123, "sub_id": null}`,
			map[string]string{"offer_id": "7", "amount": "19.95", "id": "123"}},
		{"JSON ignores unknown nested values", "", "application/json", `{"offer_id": "7", "cart": {"items": [1, 2]}, "amount": "5.5"}`,
			map[string]string{"offer_id": "7", "amount": "5.5"}},
		{"multipart form fields, files ignored", "", mw.FormDataContentType(), mp.String(),
			map[string]string{"offer_id": "7", "amount": "19.95"}},
		{"unknown names ignored, even conflicting", "utm=a&utm=b&cid=1&cid=2&offer_id=7", "", "",
			map[string]string{"offer_id": "7"}},
		{"empty body with any type", "offer_id=7", "text/plain", "  ", map[string]string{"offer_id": "7"}},
		// A cart's own fields never fail the request, even when they do not decode.
		{"undecodable unknown names and values ignored", "utm_campaign=50%off&offer_id=7&x%zz=1&%=%", "application/x-www-form-urlencoded",
			"ref=100%&amount=1", map[string]string{"offer_id": "7", "amount": "1"}},
		{"semicolon is part of a value", "offer_id=7&sub_id=a;b&sub2=c;d=e", "", "", map[string]string{"offer_id": "7", "sub_id": "a;b", "sub2": "c;d=e"}},
		{"more pairs than url.ParseQuery takes", strings.Repeat("x=1&", 20000) + "offer_id=7", "", "", map[string]string{"offer_id": "7"}},
	}
	for _, c := range cases {
		p, err := parseParams(c.query, c.ctype, []byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for name, want := range c.want {
			if got, err := p.Value(name); err != nil || got != want {
				t.Errorf("%s: %s = %q, %v; want %q", c.name, name, got, err, want)
			}
		}
		for name := range paramNames {
			if _, ok := c.want[name]; !ok {
				if v, ok, _ := p.lookup(name); ok {
					t.Errorf("%s: unexpected %s = %q", c.name, name, v)
				}
			}
		}
	}
	// A conflict is reported only when the parameter is read: custom parameters of an offer that
	// does not allow them are never read, so they never fail the request.
	p, err := parseParams("offer_id=1&amount=1&payout=1&payout=2&status=bogus", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ID("offer_id", true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Custom(); err == nil || !strings.HasPrefix(err.Error(), "payout: ") {
		t.Fatalf("custom: %v, want a payout conflict", err)
	}
	// The same for a value that does not decode.
	if p, err = parseParams("offer_id=1&currency=%E", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ID("offer_id", true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Custom(); err == nil || !strings.HasPrefix(err.Error(), "currency: ") {
		t.Fatalf("custom: %v, want currency not decodable", err)
	}
}

// TestHeaderText checks what clicks store of a user agent or referer: valid UTF-8, no NUL, cut at
// a character boundary.
func TestHeaderText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Mozilla/5.0":            "Mozilla/5.0",
		"a\xffb":                 "a\uFFFDb",
		"a\x00b":                 "ab",
		strings.Repeat("é", 600): strings.Repeat("é", 512),
	} {
		if got := store.StorableText(in, maxUserAgent); got != want || !utf8.ValidString(got) {
			t.Errorf("StorableText(%q) = %q, want %q", in, got, want)
		}
	}
}

// fieldNames are the names an error of the parser or its accessors may start with.
var fieldNames = func() map[string]bool {
	m := map[string]bool{"query": true, "body": true}
	for n := range paramNames {
		m[n] = true
	}
	return m
}()

// checkFieldError fails unless err is nil or an Invalid *domain.Error whose message starts with
// want (or, when want is "", any known field name) and ": ".
func checkFieldError(t *testing.T, where string, err error, want ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var e *domain.Error
	if !errors.As(err, &e) || e.Kind != domain.Invalid {
		t.Fatalf("%s: error %#v is not an Invalid *domain.Error", where, err)
	}
	name, _, ok := strings.Cut(e.Msg, ": ")
	if !ok || !fieldNames[name] {
		t.Fatalf("%s: message %q does not start with a field name and \": \"", where, e.Msg)
	}
	if len(want) > 0 {
		for _, w := range want {
			if name == w {
				return
			}
		}
		t.Fatalf("%s: message %q names %s, want one of %v", where, e.Msg, name, want)
	}
}

// FuzzParseParams feeds the parser arbitrary query strings, content types and bodies, then reads
// every parameter through its accessor. Invariants: no panic; every error is an Invalid
// *domain.Error naming a field; every accepted value obeys docs/API.md's rules.
func FuzzParseParams(f *testing.F) {
	id := domain.NewID()
	for _, s := range [][3]string{
		{"offer_id=1&aff_id=2&sub_id=s&creative_id=3", "", ""},
		{"CID=1&AFID=2&SID=s&ADID=3&ClickID=" + id, "", ""},
		{"offer_id=1&amount=19.95&id=INV-1&payout=2.5&currency=EUR&status=pending", "", ""},
		{"offer_id=1&CID=2", "", ""},
		{"amount=1e3&amount=NaN", "", ""},
		{"x=%zz", "", ""},
		{"sub_id=%FF%00", "", ""},
		{"", "application/x-www-form-urlencoded", "offer_id=1&amount=.5&id="},
		{"offer_id=1", "application/x-www-form-urlencoded; charset=utf-8", "CID=2"},
		{"", "application/json", `{"offer_id": 1, "amount": 19.95, "id": "a\u0000", "CID": "1"}`},
		{"", "application/json", `{"amount": {"x": 1}, "click_id": "` + id + `"}`},
		{"", "application/json", `{"offer_id": 1} trailing`},
		{"", "application/json", `[1, 2]`},
		{"", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"CID\"\r\n\r\n5\r\n--x--\r\n"},
		{"", "text/plain", "offer_id=1"},
		{"token=a", "", ""},
		{"", "application/json", "{\"offer_id\": 1, \"amount\": 1, \"id\": \"\xffCOLL-1\"}"},
		{"", "application/json", `{"offer_id": 1, "amount": 1, "id": "\ud800", "sub_id": "\udc00\ud83d"}`},
	} {
		f.Add(s[0], s[1], []byte(s[2]))
	}
	f.Fuzz(func(t *testing.T, query, ctype string, body []byte) {
		p, err := parseParams(query, ctype, body)
		checkFieldError(t, "parseParams", err)
		if err != nil {
			return
		}
		for _, name := range []string{"offer_id", "aff_id", "creative_id"} {
			v, err := p.ID(name, false)
			checkFieldError(t, name, err, name)
			if err == nil && v < 0 {
				t.Fatalf("%s = %d", name, v)
			}
		}
		for _, name := range []string{"amount", "payout"} {
			m, ok, err := p.Money(name, false)
			checkFieldError(t, name, err, name)
			if ok {
				if m < 0 || m > domain.MaxMoney {
					t.Fatalf("%s = %d out of range", name, m)
				}
				if back, err := domain.ParseMoney(m.String()); err != nil || back != m {
					t.Fatalf("%s = %s does not round-trip: %v", name, m, err)
				}
			}
		}
		sub, err := p.Text("sub_id", 255)
		checkFieldError(t, "sub_id", err, "sub_id")
		if err == nil && (len(sub) > 255 || !utf8.ValidString(sub) || strings.IndexByte(sub, 0) >= 0) {
			t.Fatalf("sub_id %q accepted", sub)
		}
		inv, err := p.Invoice()
		checkFieldError(t, "id", err, "id")
		if _, given, _ := p.lookup("id"); err == nil && given &&
			(len(inv) < 1 || len(inv) > 128 || !utf8.ValidString(inv) || strings.IndexByte(inv, 0) >= 0) {
			t.Fatalf("id %q accepted", inv)
		}
		cid, err := p.ClickID(false)
		checkFieldError(t, "click_id", err, "click_id")
		if err == nil && cid != "" && !domain.IsID(cid) {
			t.Fatalf("click_id %q accepted", cid)
		}
		c, err := p.Custom()
		checkFieldError(t, "custom", err, "payout", "currency", "status")
		if err == nil && c.Currency != "" && !currencyPattern.MatchString(c.Currency) {
			t.Fatalf("currency %q accepted", c.Currency)
		}
		_, err = p.Affiliate()
		checkFieldError(t, "affiliate", err, "aff_id", "sub_id", "sub2", "sub3", "sub4", "sub5", "creative_id")
		_, err = p.Value("token")
		checkFieldError(t, "token", err, "token")
	})
}

// TestMethodNotAllowedKeepsBodyType: a method a tracking route does not take is a 405 in the
// route's error body type (GIF or text, message in X-Error), JSON elsewhere; never a recorded
// visit (the router has no database here).
func TestMethodNotAllowedKeepsBodyType(t *testing.T) {
	t.Parallel()
	h := noDBRouter()
	for _, c := range []struct{ method, path, ctype string }{
		{"POST", "/pixel?offer_id=1&amount=1", "image/gif"},
		{"HEAD", "/impression?offer_id=1&aff_id=1", "image/gif"},
		{"POST", "/click?offer_id=1&aff_id=1", "text/plain; charset=utf-8"},
		{"GET", "/conversion?offer_id=1&amount=1", "text/plain; charset=utf-8"},
		{"DELETE", "/postback", "application/json; charset=utf-8"},
		{"POST", "/tf.js", "application/json; charset=utf-8"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		msg := w.Header().Get("X-Error")
		if strings.HasPrefix(c.ctype, "application/json") {
			var e struct{ Error string }
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			msg = e.Error
		}
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Content-Type") != c.ctype ||
			!strings.HasPrefix(msg, "method: ") || w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: %d %q %q, want 405 %s naming method", c.method, c.path, w.Code, w.Header().Get("Content-Type"), msg, c.ctype)
		}
		if c.ctype == "image/gif" && !bytes.Equal(w.Body.Bytes(), transparentGIF) {
			t.Errorf("%s %s: body is not the GIF", c.method, c.path)
		}
	}
}
