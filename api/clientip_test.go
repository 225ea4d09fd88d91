package api

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

// TestClientIP: X-Forwarded-For is believed only from a peer in TRUSTED_PROXIES, and then only
// its left-most entry.
func TestClientIP(t *testing.T) {
	t.Parallel()
	s := &server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fe80::/10")}}}
	cases := []struct{ remote, xff, want string }{
		{"203.0.113.9:5000", "", "203.0.113.9"},
		{"203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},         // untrusted peer: header ignored
		{"10.1.2.3:5000", "198.51.100.1, 10.9.9.9", "198.51.100.1"}, // trusted proxy: left-most
		{"10.1.2.3:5000", "not-an-ip", "10.1.2.3"},                  // garbage: the peer
		{"[::ffff:10.1.2.3]:5000", "2001:db8::1", "2001:db8::1"},    // IPv4-mapped peer
		{"[2001:db8::9]:443", "", "2001:db8::9"},
		// An IPv6 zone names this host's interface: dropped, so the address is one PostgreSQL's
		// inet stores and prefixes contain.
		{"[fe80::1%eth0]:5000", "", "fe80::1"},
		{"10.1.2.3:5000", "fe80::2%eth1, 10.9.9.9", "fe80::2"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/click", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r); got != c.want {
			t.Errorf("%s with X-Forwarded-For %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
	// A link-local proxy in TRUSTED_PROXIES is trusted whatever interface it came in on.
	r := httptest.NewRequest("GET", "/click", nil)
	r.RemoteAddr = "[fe80::7%eth0]:5000"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if got := s.clientIP(r); got != "198.51.100.7" {
		t.Errorf("X-Forwarded-For from a zoned link-local proxy: %s, want 198.51.100.7", got)
	}
}
