package activities

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
)

func TestRetryAfterWithinSchedule(t *testing.T) {
	t.Parallel()
	s := domain.RetrySchedule{Initial: time.Second, MaxInterval: time.Hour}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"120", 2 * time.Minute, true},
		{" 5 ", 5 * time.Second, true},
		{"0", time.Second, true},   // never sooner than the first interval
		{"86400", time.Hour, true}, // never later than the longest
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), time.Second, true}, // a date in the past
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
	} {
		got, ok := retryAfter(tc.header, s, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Retry-After %q: %s %v, want %s %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBlockedIP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip      string
		blocked bool
	}{
		{"127.0.0.1", true}, {"127.255.0.9", true}, {"10.0.0.1", true}, {"172.31.255.255", true},
		{"192.168.0.1", true}, {"169.254.169.254", true}, {"100.64.1.1", true}, {"0.0.0.0", true},
		{"0.1.2.3", true}, {"224.0.0.251", true}, {"239.255.255.250", true}, {"255.255.255.255", true},
		{"::1", true}, {"::", true}, {"fe80::1", true}, {"fc00::1", true}, {"ff02::1", true},
		{"::ffff:10.0.0.1", true}, {"::ffff:127.0.0.1", true},
		{"93.184.216.34", false}, {"8.8.8.8", false}, {"100.63.255.255", false}, {"172.32.0.1", false},
		{"2606:4700:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := blockedIP(netip.MustParseAddr(tc.ip)); got != tc.blocked {
			t.Errorf("blockedIP(%s) = %v, want %v", tc.ip, got, tc.blocked)
		}
	}
}
