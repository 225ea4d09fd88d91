package domain

import (
	"testing"
	"time"
)

// BenchmarkExpandMacros is a landing URL expanded for one click.
func BenchmarkExpandMacros(b *testing.B) {
	const tmpl = "https://shop.example/landing?cid={click_id}&o={offer_id}&a={aff_id}&s={sub_id}&c={creative_id}"
	values := map[string]string{"click_id": NewID(), "offer_id": "12", "aff_id": "345", "sub_id": "a b&c", "creative_id": ""}
	b.ReportAllocs()
	for b.Loop() {
		if ExpandMacros(tmpl, values) == "" {
			b.Fatal("empty")
		}
	}
}

// BenchmarkCommission is the commission of a cpa_cps payout on a sale.
func BenchmarkCommission(b *testing.B) {
	p := Payout{Type: PayoutCPACPS, Amount: 250, Percent: 1050}
	b.ReportAllocs()
	var sum Money
	for b.Loop() {
		sum += p.Commission(1995)
	}
	if sum == 0 {
		b.Fatal("no commission")
	}
}

// BenchmarkParseMoney is an amount parameter parsed into cents.
func BenchmarkParseMoney(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseMoney("1999.95"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewID is one random ID (conversion IDs, webhook ids): 128 bits from crypto/rand as 32
// hex characters.
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if len(NewID()) != 32 {
			b.Fatal("bad id")
		}
	}
}

// BenchmarkNewClickID is one click ID, minted on every click: time, random bits and the key's
// MAC tag. One allocation, its string.
func BenchmarkNewClickID(b *testing.B) {
	key := NewClickIDKey()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if len(key.NewClickID(now)) != 32 {
			b.Fatal("bad id")
		}
	}
}

// BenchmarkVerifyClickID checks one click ID's tag, as a first_click link or the worker does for
// a cookie: no allocation.
func BenchmarkVerifyClickID(b *testing.B) {
	key := NewClickIDKey()
	id := key.NewClickID(time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := key.Verify(id); !ok {
			b.Fatal("not authentic")
		}
	}
}
