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
		// Issue 8, finding 7: IPv6 forms that carry a private IPv4 address, and the rest of IANA's
		// special-purpose registries.
		{"64:ff9b::7f00:1", true}, {"64:ff9b::10.0.0.1", true}, {"64:ff9b::169.254.169.254", true},
		{"64:ff9b::8.8.8.8", false},
		{"64:ff9b:1::8.8.8.8", true}, // local-use translation: not globally reachable at all
		{"2002:7f00:1::1", true}, {"2002:a00:1::", true}, {"2002:c0a8:101::1", true}, {"2002:808:808::1", false},
		{"::127.0.0.1", true}, {"::10.0.0.1", true}, {"::169.254.169.254", true},
		{"::ffff:0:127.0.0.1", true}, {"::ffff:0:10.1.2.3", true}, {"::ffff:0:8.8.8.8", false},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", true}, // Teredo, client 127.0.0.1 (inverted)
		{"2001:0:7f00:1:0:0:f7f7:f7f7", true},          // Teredo server 127.0.0.1
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", false},
		{"192.0.0.8", true}, {"192.0.2.1", true}, {"198.18.0.1", true}, {"198.51.100.7", true},
		{"203.0.113.1", true}, {"240.0.0.1", true}, {"192.88.99.1", true}, {"192.31.196.1", false},
		{"100::1", true}, {"2001:2::1", true}, {"2001:db8::1", true}, {"3fff::1", true}, {"5f00::1", true},
		{"fec0::1", true}, {"2001:10::1", true}, {"2001:1::1", false}, {"2001:4:112::1", false},
		{"2001:20::1", false}, {"2620:4f:8000::1", false}, {"fe80::1%eth0", true},
	} {
		if got := blockedIP(netip.MustParseAddr(tc.ip)); got != tc.blocked {
			t.Errorf("blockedIP(%s) = %v, want %v", tc.ip, got, tc.blocked)
		}
	}
}

// TestBlockedRangesTable: every range of the table is refused at both ends, and the globally
// reachable exceptions inside them are allowed; the reason names the range.
func TestBlockedRangesTable(t *testing.T) {
	t.Parallel()
	for _, b := range blockedRanges {
		first := b.prefix.Addr()
		last := first
		for i := b.prefix.Bits(); i < first.BitLen(); i++ {
			last = setBit(last, i)
		}
		for _, ip := range []netip.Addr{first, last} {
			if a := allowedIn(ip); a {
				continue
			}
			if what, blocked := blockedReason(ip); !blocked || what == "" {
				t.Errorf("%s (in %s, %s): blocked %v %q", ip, b.prefix, b.what, blocked, what)
			}
		}
	}
	for _, a := range allowedInBlocked {
		if a.prefix == teredo {
			continue
		}
		if blockedIP(a.prefix.Addr()) {
			t.Errorf("%s (%s) is globally reachable but blocked", a.prefix, a.what)
		}
	}
}

func allowedIn(ip netip.Addr) bool {
	for _, a := range allowedInBlocked {
		if a.prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// setBit sets bit i (0 is the most significant) of ip.
func setBit(ip netip.Addr, i int) netip.Addr {
	if ip.Is4() {
		b := ip.As4()
		b[i/8] |= 0x80 >> (i % 8)
		return netip.AddrFrom4(b)
	}
	b := ip.As16()
	b[i/8] |= 0x80 >> (i % 8)
	return netip.AddrFrom16(b)
}
