package domain

import (
	"testing"
	"time"
)

// TestDecide has one row per rule of docs/API.md's "Conversion rules", in the order docs/API.md gives,
// then the cases where several rules apply and the first must win.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	five := Money(500)
	// base is an approved conversion: a fresh, unused click of an active affiliate, 10% of 19.95.
	base := func() DecideInput {
		return DecideInput{
			Now: now, Amount: 1995, Method: MethodCookie, ClickFound: true, ClickCreatedAt: now.Add(-time.Hour),
			AffiliateActive: true, Payout: Payout{Type: PayoutCPS, Percent: 1000}, CookieWindow: 30 * 24 * time.Hour,
		}
	}
	expired := now.Add(-31 * 24 * time.Hour)
	cases := []struct {
		name string
		edit func(*DecideInput)
		want Decision
	}{
		// One row per rule, in docs/API.md's order.
		{"unattributed", func(in *DecideInput) { in.Method, in.ClickFound = "", false },
			Decision{Status: "rejected", Reason: "unattributed"}},
		{"click_used", func(in *DecideInput) { in.ClickUsed = true },
			Decision{Status: "rejected", Reason: "click_used"}},
		{"click_expired", func(in *DecideInput) { in.Method, in.ClickCreatedAt = MethodClickID, expired },
			Decision{Status: "rejected", Reason: "click_expired"}},
		{"inactive_affiliate", func(in *DecideInput) { in.AffiliateActive = false },
			Decision{Status: "rejected", Reason: "inactive_affiliate"}},
		{"advertiser", func(in *DecideInput) { in.CustomStatus = "rejected" },
			Decision{Status: "rejected", Reason: "advertiser"}},
		{"pending", func(in *DecideInput) { in.CustomStatus = "pending" },
			Decision{Status: "pending", Commission: 200}},
		{"approved, cps rounded half up", func(*DecideInput) {},
			Decision{Status: "approved", Commission: 200}},

		// Commission.
		{"cpa_cps adds", func(in *DecideInput) { in.Payout = Payout{Type: PayoutCPACPS, Amount: 100, Percent: 1000} },
			Decision{Status: "approved", Commission: 300}},
		{"custom payout replaces", func(in *DecideInput) { in.CustomPayout = &five },
			Decision{Status: "approved", Commission: 500}},
		{"custom payout on a held conversion", func(in *DecideInput) { in.CustomPayout, in.CustomStatus = &five, "pending" },
			Decision{Status: "pending", Commission: 500}},
		{"afid: no click to use or expire", func(in *DecideInput) {
			in.Method, in.ClickFound, in.ClickUsed, in.ClickCreatedAt = MethodAFID, false, true, expired
		}, Decision{Status: "approved", Commission: 200}},
		{"multi_conversion: a used click earns again", func(in *DecideInput) { in.MultiConversion, in.ClickUsed = true, true },
			Decision{Status: "approved", Commission: 200}},
		{"window edge: a click exactly cookie-window old still counts", func(in *DecideInput) {
			in.ClickCreatedAt = now.Add(-in.CookieWindow)
		}, Decision{Status: "approved", Commission: 200}},

		// The first rule that applies wins, and a rejection carries no commission.
		{"unattributed beats the advertiser", func(in *DecideInput) { in.Method, in.CustomStatus = "", "rejected" },
			Decision{Status: "rejected", Reason: "unattributed"}},
		{"unattributed beats a hold and a custom payout", func(in *DecideInput) {
			in.Method, in.CustomStatus, in.CustomPayout = "", "pending", &five
		}, Decision{Status: "rejected", Reason: "unattributed"}},
		{"click_used beats click_expired", func(in *DecideInput) { in.ClickUsed, in.ClickCreatedAt = true, expired },
			Decision{Status: "rejected", Reason: "click_used"}},
		{"click_expired beats inactive_affiliate", func(in *DecideInput) { in.ClickCreatedAt, in.AffiliateActive = expired, false },
			Decision{Status: "rejected", Reason: "click_expired"}},
		{"inactive_affiliate beats the advertiser and a custom payout", func(in *DecideInput) {
			in.AffiliateActive, in.CustomStatus, in.CustomPayout = false, "rejected", &five
		}, Decision{Status: "rejected", Reason: "inactive_affiliate"}},
		{"advertiser's rejection zeroes a custom payout", func(in *DecideInput) { in.CustomStatus, in.CustomPayout = "rejected", &five },
			Decision{Status: "rejected", Reason: "advertiser"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.edit(&in)
			if got := Decide(in); got != tc.want {
				t.Fatalf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestClaimsClick: only a single-use click credited by the conversion becomes used.
func TestClaimsClick(t *testing.T) {
	t.Parallel()
	approved, rejectedByRule := Decision{Status: ConversionApproved}, Decision{Status: ConversionRejected}
	single := DecideInput{ClickFound: true}
	multi := DecideInput{ClickFound: true, MultiConversion: true}
	noClick := DecideInput{}
	for name, k := range map[string]struct {
		in   DecideInput
		d    Decision
		want bool
	}{
		"single-use, approved": {single, approved, true},
		"held claims too":      {single, Decision{Status: ConversionPending}, true},
		"rejected does not":    {single, rejectedByRule, false},
		"multi_conversion":     {multi, approved, false},
		"no click":             {noClick, approved, false},
	} {
		if got := k.in.ClaimsClick(k.d); got != k.want {
			t.Errorf("%s: ClaimsClick = %v, want %v", name, got, k.want)
		}
	}
}
