package workflows

import (
	"testing"

	"github.com/trackflow/trackflow/store"
)

// TestPixelSummaryNamesHost: a pixel activity's UI summary names its target host, never userinfo.
func TestPixelSummaryNamesHost(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"https://aff.example.com/pb?tx={transaction_id}": "approved pixel 3: GET aff.example.com",
		"http://user:pw@10.0.0.1:8080":                   "approved pixel 3: GET 10.0.0.1:8080",
	} {
		if got := pixelSummary("approved", store.Pixel{ID: 3, URL: url}); got != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
}
