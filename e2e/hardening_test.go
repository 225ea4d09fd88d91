package e2e

import (
	"encoding/json"
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

// adminRawBody sends a raw body to the admin API and returns the status and error message.
func adminRawBody(t *testing.T, s *testenv.Stack, method, path, body string) (int, string) {
	t.Helper()
	code, raw := adminSend(t, s, method, path, strings.NewReader(body))
	var e struct{ Error string }
	_ = json.Unmarshal(raw, &e)
	return code, e.Error
}

// TestAdminRefusesInvalidJSONText (issue 8, finding 3): the admin API refuses text that JSON
// decoding would silently alter (invalid UTF-8, lone surrogate escapes), naming the field,
// instead of storing a name, token or CIDR changed.
func TestAdminRefusesInvalidJSONText(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	for _, c := range []struct{ path, body, field string }{
		{"/api/v1/affiliates", "{\"name\": \"a\xffb\"}", "name"},
		{"/api/v1/affiliates", `{"name": "a\ud800b"}`, "name"},
		{"/api/v1/advertisers", "{\"name\": \"adv\", \"postback_token\": \"\xfe" + strings.Repeat("k", 30) + "\"}", "postback_token"},
		{"/api/v1/advertisers", `{"name": "adv", "allowed_ips": ["10.0.0.1", "\udc00"]}`, "allowed_ips"},
	} {
		code, msg := adminRawBody(t, s, "POST", c.path, c.body)
		if code != 400 || !strings.HasPrefix(msg, c.field+": ") {
			t.Errorf("POST %s %q: %d %q, want 400 naming %s", c.path, c.body, code, msg, c.field)
		}
	}
}
