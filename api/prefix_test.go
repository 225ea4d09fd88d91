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

// TestValidJSONText: raw JSON values that encoding/json would decode with U+FFFD are told apart.
func TestValidJSONText(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		`"plain"`:              true,
		`"é \u00e9 \"q\" \\u"`: true,
		`"\ud83d\ude00"`:       true,
		`"\\ud800"`:            true, // an escaped backslash, then text
		`["a", "\u0041"]`:      true,
		"\"\xff\"":             false,
		"\"a\xc3\"":            false,
		`"\ud800"`:             false,
		`"\ud800x"`:            false,
		`"\udc00"`:             false,
		`"\ud83d\u0041"`:       false,
		`"\ude00\ud83d"`:       false,
		`"\u12"`:               false,
		`["ok", "\ud800"]`:     false,
		"\"\xed\xa0\x80\"":     false, // a surrogate encoded in bytes (CESU/WTF-8)
	} {
		if got := validJSONText([]byte(raw)); got != want {
			t.Errorf("validJSONText(%q) = %v, want %v", raw, got, want)
		}
	}
}
