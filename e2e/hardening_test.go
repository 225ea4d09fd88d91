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
