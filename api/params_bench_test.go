package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkParseParamsClick is the click path's parsing: a tracking link's query string read into
// Params and its offer, affiliate, sub and creative IDs validated.
func BenchmarkParseParamsClick(b *testing.B) {
	r := httptest.NewRequest("GET", "/click?offer_id=12&aff_id=345&sub_id=campaign-7&creative_id=9", nil)
	b.ReportAllocs()
	for b.Loop() {
		p, err := ParseParams(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.ID("offer_id", true); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Affiliate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseParamsPostbackForm is a CRM's AFID postback sent as a form body.
func BenchmarkParseParamsPostbackForm(b *testing.B) {
	const body = "offer_id=12&aff_id=345&amount=19.95&id=INV-1001&token=0123456789abcdef0123456789abcdef"
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("POST", "/postback", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		p, err := ParseParams(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := p.Money("amount", true); err != nil {
			b.Fatal(err)
		}
	}
}
