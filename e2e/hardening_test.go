package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/internal/testenv"
)

// TestListFiltersAtInt64Limits (issue 8, finding 4): the admin list filters take any positive
// int64. A filter above 2^31-1 was a 500: Postgres typed the parameter compared with 0 as int4.
func TestListFiltersAtInt64Limits(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	for _, c := range []struct {
		value string
		want  int
	}{
		{"1", 200},
		{"2147483647", 200},
		{"2147483648", 200},
		{"4294967296", 200},
		{"9223372036854775807", 200},
		{"9223372036854775808", 400},
		{"0", 400},
		{"-1", 400},
	} {
		for _, name := range []string{"offer_id", "aff_id"} {
			path := fmt.Sprintf("/api/v1/conversions?%s=%s", name, c.value)
			code, msg := adminError(t, s, "GET", path, nil)
			if code != c.want {
				t.Errorf("GET %s: %d %q, want %d", path, code, msg, c.want)
			}
			if c.want == 400 && !strings.HasPrefix(msg, name+": ") {
				t.Errorf("GET %s: error %q does not name %s", path, msg, name)
			}
		}
	}
}

// TestAllowListMappedIPv4 (issue 8, finding 6): an allow-list entry written in its IPv4-mapped
// IPv6 form is stored as the IPv4 address it means, and admits that client.
func TestAllowListMappedIPv4(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixtureWith(t, s, map[string]any{"allowed_ips": []string{"::ffff:127.0.0.1", "::ffff:10.0.0.0/104"}}, cpa2, nil)
	if got := strings.Join(f.Advertiser.AllowedIPs, ","); got != "127.0.0.1/32,10.0.0.0/8" {
		t.Fatalf("allowed_ips stored as %s, want 127.0.0.1/32,10.0.0.0/8", got)
	}
	mustPostback(t, s, 202, afidPost(f, "10.00", invoiceID("MAPPED")))
}
