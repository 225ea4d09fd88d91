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
		{"too_fast", func(in *DecideInput) { in.MinConversion = 2 * time.Hour },
			Decision{Status: "rejected", Reason: "too_fast"}},
		{"over_cap", func(in *DecideInput) { in.Caps = []CapCounter{{Limit: 10, Used: 3}, {Limit: 10, Used: 10}} },
			Decision{Status: "rejected", Reason: "over_cap"}},
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

		// Click-to-conversion time and caps.
		{"too_fast edge: exactly min_conversion_seconds after the click is fine", func(in *DecideInput) {
			in.MinConversion = time.Hour
		}, Decision{Status: "approved", Commission: 200}},
		{"too_fast needs a click: an AFID post is never too fast", func(in *DecideInput) {
			in.Method, in.ClickFound, in.MinConversion = MethodAFID, false, 24*time.Hour
		}, Decision{Status: "approved", Commission: 200}},
		{"a cap with a slot left", func(in *DecideInput) { in.Caps = []CapCounter{{Limit: 10, Used: 9}} },
			Decision{Status: "approved", Commission: 200}},
		{"caps count plain conversions only: an event passes a full cap", func(in *DecideInput) {
			in.Event, in.Caps = "lead", []CapCounter{{Limit: 1, Used: 1}}
		}, Decision{Status: "approved", Commission: 200}},
		{"test conversions never count", func(in *DecideInput) { in.Test, in.Caps = true, []CapCounter{{Limit: 1, Used: 5}} },
			Decision{Status: "approved", Commission: 200}},
		{"a held conversion is over the cap like an approved one", func(in *DecideInput) {
			in.CustomStatus, in.Caps = "pending", []CapCounter{{Limit: 1, Used: 1}}
		}, Decision{Status: "rejected", Reason: "over_cap"}},

		// The first rule that applies wins, and a rejection carries no commission.
		{"inactive_affiliate beats too_fast", func(in *DecideInput) { in.AffiliateActive, in.MinConversion = false, 2*time.Hour },
			Decision{Status: "rejected", Reason: "inactive_affiliate"}},
		{"click_used beats too_fast and over_cap", func(in *DecideInput) {
			in.ClickUsed, in.MinConversion, in.Caps = true, 2*time.Hour, []CapCounter{{Limit: 1, Used: 1}}
		}, Decision{Status: "rejected", Reason: "click_used"}},
		{"too_fast beats over_cap", func(in *DecideInput) {
			in.MinConversion, in.Caps = 2*time.Hour, []CapCounter{{Limit: 1, Used: 1}}
		}, Decision{Status: "rejected", Reason: "too_fast"}},
		{"over_cap beats the advertiser", func(in *DecideInput) {
			in.CustomStatus, in.Caps = "rejected", []CapCounter{{Limit: 1, Used: 1}}
		}, Decision{Status: "rejected", Reason: "over_cap"}},
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

// TestTakesCapSlot: an approved or held plain conversion takes a slot; a rejection, an event's
// conversion and a test conversion take none.
func TestTakesCapSlot(t *testing.T) {
	t.Parallel()
	for name, k := range map[string]struct {
		in   DecideInput
		d    Decision
		want bool
	}{
		"approved":   {DecideInput{}, Decision{Status: ConversionApproved}, true},
		"held":       {DecideInput{}, Decision{Status: ConversionPending}, true},
		"rejected":   {DecideInput{}, Decision{Status: ConversionRejected, Reason: ReasonOverCap}, false},
		"an event":   {DecideInput{Event: "lead"}, Decision{Status: ConversionApproved}, false},
		"a test one": {DecideInput{Test: true}, Decision{Status: ConversionApproved}, false},
	} {
		if got := k.in.TakesCapSlot(k.d); got != k.want {
			t.Errorf("%s: TakesCapSlot = %v, want %v", name, got, k.want)
		}
	}
}

// TestCapPeriods: days and months are the offer's zone's calendar, across DST changes. The
// clock is injected: each case is an instant, as a conversion's received time.
func TestCapPeriods(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	kathmandu, err := time.LoadLocation("Asia/Kathmandu")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, k := range []struct {
		at         string
		loc        *time.Location
		day, month string
	}{
		{"2026-03-08T04:59:59Z", ny, "2026-03-07", "2026-03-01"}, // 23:59:59 EST, the night DST starts
		{"2026-03-08T05:00:00Z", ny, "2026-03-08", "2026-03-01"}, // 00:00 EST: the 23-hour day begins
		{"2026-03-09T03:59:59Z", ny, "2026-03-08", "2026-03-01"}, // 23:59:59 EDT: it ends 23 h later
		{"2026-03-09T04:00:00Z", ny, "2026-03-09", "2026-03-01"},
		{"2026-11-01T05:30:00Z", ny, "2026-11-01", "2026-11-01"}, // 01:30 EDT, then 01:30 EST an hour later
		{"2026-11-01T06:30:00Z", ny, "2026-11-01", "2026-11-01"},
		{"2026-11-02T04:59:59Z", ny, "2026-11-01", "2026-11-01"}, // the 25-hour day's last second
		{"2026-11-01T03:59:59Z", ny, "2026-10-31", "2026-10-01"}, // month boundary in New York, not UTC
		{"2026-11-30T18:14:59Z", kathmandu, "2026-11-30", "2026-11-01"},
		{"2026-11-30T18:15:00Z", kathmandu, "2026-12-01", "2026-12-01"}, // +05:45
		{"2026-12-31T23:59:59Z", time.UTC, "2026-12-31", "2026-12-01"},
	} {
		day, month := CapPeriods(utc(k.at), k.loc)
		if got := day.Format(time.DateOnly); got != k.day {
			t.Errorf("%s in %s: day %s, want %s", k.at, k.loc, got, k.day)
		}
		if got := month.Format(time.DateOnly); got != k.month {
			t.Errorf("%s in %s: month %s, want %s", k.at, k.loc, got, k.month)
		}
	}
	// The bounds of a period are the zone's midnights: 23 hours on the day DST starts, 25 on the
	// day it ends.
	for _, k := range []struct {
		start string
		want  time.Duration
	}{{"2026-03-08", 23 * time.Hour}, {"2026-11-01", 25 * time.Hour}, {"2026-11-02", 24 * time.Hour}} {
		start, _ := time.Parse(time.DateOnly, k.start)
		from, to := PeriodBounds(PeriodDay, start, ny)
		if to.Sub(from) != k.want {
			t.Errorf("day %s in New York: %s long, want %s", k.start, to.Sub(from), k.want)
		}
	}
	start, _ := time.Parse(time.DateOnly, "2026-03-01")
	if from, to := PeriodBounds(PeriodMonth, start, ny); !from.Equal(utc("2026-03-01T05:00:00Z")) || !to.Equal(utc("2026-04-01T04:00:00Z")) {
		t.Errorf("March 2026 in New York: %s to %s", from, to)
	}
}
