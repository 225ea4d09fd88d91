package api

import "testing"

// TestParsePrefix: allow-list and TRUSTED_PROXIES entries are read as the prefix they mean, an
// IPv4-mapped form as IPv4 (issue 8, finding 6), and it then matches the IPv4 client it names.
func TestParsePrefix(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1":                "127.0.0.1/32",
		"::ffff:127.0.0.1":         "127.0.0.1/32",
		"::ffff:7f00:1":            "127.0.0.1/32",
		"::ffff:10.1.2.3/104":      "10.0.0.0/8",
		"::ffff:0:0/96":            "0.0.0.0/0",
		"10.1.2.3/8":               "10.0.0.0/8",
		"2001:db8::1":              "2001:db8::1/128",
		"2001:db8::/32":            "2001:db8::/32",
		"::ffff:0:0/95":            "error",
		"fe80::1%eth0":             "error",
		"not-an-ip":                "error",
		"10.0.0.0/33":              "error",
		"::ffff:192.168.0.1/129":   "error",
		"::ffff:192.168.0.1/120.5": "error",
	} {
		p, err := ParsePrefix(in)
		got := p.String()
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParsePrefix(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
	for _, c := range []struct {
		list []string
		ip   string
		want bool
	}{
		{[]string{"::ffff:127.0.0.1/128"}, "127.0.0.1", true}, // stored before normalisation
		{[]string{"127.0.0.1/32"}, "::ffff:127.0.0.1", true},
		{[]string{"127.0.0.1/32"}, "127.0.0.2", false},
		{nil, "127.0.0.2", true},
	} {
		if got := ipAllowed(c.list, c.ip); got != c.want {
			t.Errorf("ipAllowed(%v, %s) = %v, want %v", c.list, c.ip, got, c.want)
		}
	}
}
