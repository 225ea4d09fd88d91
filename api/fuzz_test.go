package api

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// adminFields are the names an admin body's errors may start with.
var adminFields = map[string]bool{
	"body": true, "name": true, "postback_token": true, "allowed_ips": true, "advertiser_id": true,
	"landing_url": true, "thank_you_url": true, "cookie_days": true, "payout": true, "payout.type": true,
	"payout.amount": true, "payout.percent": true, "currency": true, "multi_conversion": true,
	"allow_custom_params": true, "status": true,
}

// FuzzAdminBody feeds an admin body to the readers of an advertiser and an offer (issue 8: a
// fuzz target per parser of outside input). Invariants: no panic; every error is an Invalid
// *domain.Error naming a field; accepted text is valid UTF-8 without NUL and never altered by
// decoding (no U+FFFD the body did not spell); accepted CIDRs are canonical prefixes.
func FuzzAdminBody(f *testing.F) {
	for _, s := range []string{
		`{"name": "adv", "postback_token": "3f9c1a7be2d84c6f9a1e5b7d20c4e8f1", "allowed_ips": ["::ffff:10.0.0.1", "2001:db8::/32"]}`,
		`{"advertiser_id": 1, "name": "o", "landing_url": "https://x.example/?c={click_id}", "payout": {"type": "cps", "percent": "12.5"}, "currency": "EUR", "cookie_days": 30}`,
		"{\"name\": \"a\xffb\"}", `{"name": "a", "name": "a"}`, `{"payout": {"type": "cpa", "type": "cps"}}`, `{"name": "\ud800"}`, `{"name": "a\u0000"}`, `{"payout": {"type": "cpa", "amount": 1e3}}`,
		`{"allowed_ips": ["fe80::1%eth0", "10.0.0.0/33"]}`, `[1]`, `{"name": null}`, `{"cookie_days": "9223372036854775808"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, dup, err := decodeObject(raw)
		if err != nil {
			var v map[string]json.RawMessage
			if json.Unmarshal(raw, &v) == nil && v != nil {
				t.Fatalf("decodeObject refused the JSON object %q: %v", raw, err)
			}
			return // readBody answers "body: must be a JSON object"
		}
		if dup != "" {
			return // readBody answers "<dup>: given more than once with different values"
		}
		var adv store.Advertiser
		var o store.Offer
		o.Currency, o.CookieDays = "USD", 30
		errs := []error{
			b.str("name", true, 255, &adv.Name),
			b.str("postback_token", false, 255, &adv.PostbackToken),
			b.cidrs("allowed_ips", (*[]string)(&adv.AllowedIPs)),
			b.id("advertiser_id", false, &o.AdvertiserID),
			offerFields(b, &o, false),
		}
		if adv.PostbackToken != "" {
			errs = append(errs, checkPostbackToken(adv.PostbackToken))
		}
		for _, err := range errs {
			if err == nil {
				continue
			}
			var e *domain.Error
			if !errors.As(err, &e) || e.Kind != domain.Invalid {
				t.Fatalf("error %#v is not an Invalid *domain.Error", err)
			}
			name, _, ok := strings.Cut(e.Msg, ": ")
			if !ok || !adminFields[name] {
				t.Fatalf("error %q does not start with a field name", e.Msg)
			}
		}
		spelt := strings.Contains(string(raw), "\ufffd") || strings.Contains(strings.ToLower(string(raw)), `\ufffd`)
		for _, s := range []string{adv.Name, adv.PostbackToken, o.Name, o.LandingURL, o.ThankYouURL, o.Currency} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 || (!spelt && strings.ContainsRune(s, utf8.RuneError)) {
				t.Fatalf("accepted text %q", s)
			}
		}
		for _, c := range adv.AllowedIPs {
			p, err := netip.ParsePrefix(c)
			if err != nil || p != p.Masked() || p.Addr().Is4In6() || p.String() != c {
				t.Fatalf("accepted CIDR %q", c)
			}
		}
	})
}

// FuzzParsePrefix: an accepted allow-list or TRUSTED_PROXIES entry is a masked prefix, never
// IPv4-mapped, and reading its text again gives itself.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:127.0.0.1", "::ffff:10.0.0.0/104", "10.0.0.0/8", "2001:db8::/32",
		"fe80::1%eth0", "::ffff:0:0/95", "1.2.3.4/33", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("ParsePrefix(%q) = %s", s, p)
		}
		if again, err := ParsePrefix(p.String()); err != nil || again != p {
			t.Fatalf("ParsePrefix(%q) = %s, then %s %v", s, p, again, err)
		}
	})
}

// FuzzValidJSONText: a JSON string validJSONText accepts decodes to valid UTF-8 with no U+FFFD
// the raw text did not spell; one it refuses is one decoding would have altered.
func FuzzValidJSONText(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"\\ud800"`, `"\ufffd"`, `"\udc00\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return
		}
		spelt := strings.Contains(string(raw), "\ufffd") || strings.Contains(strings.ToLower(string(raw)), `\ufffd`)
		altered := strings.ContainsRune(s, utf8.RuneError) && !spelt
		if validJSONText(raw) == altered && !spelt {
			t.Fatalf("validJSONText(%q) = %v, but decoding gives %q", raw, !altered, s)
		}
	})
}
