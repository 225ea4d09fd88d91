// Package activities holds everything a conversion workflow does to the world: PostgreSQL through
// store, and outbound HTTP to affiliates' pixels. Activities hang off one struct that holds their
// dependencies; each is idempotent so Temporal may retry it.
package activities

import (
	"net/http"

	"go.temporal.io/sdk/client"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
)

// Activities are the conversion workflow's steps.
type Activities struct {
	Store *store.Store
	// HTTP fires affiliate pixels: see NewPixelClient for its SSRF guard and redirect policy.
	HTTP *http.Client
	// Temporal lets a reversal wait for its conversion's workflow (AwaitWorkflowClosed).
	Temporal client.Client
	// Metrics counts stored conversions and the duplicates only the database caught; may be nil.
	Metrics *metrics.Metrics
	// ClickIDKey authenticates click IDs (CLICK_ID_KEY, shared with the API): only an authentic,
	// fresh cookie's click is waited for. Nil: no ID is authentic, none is waited for.
	ClickIDKey *domain.ClickIDKey
	// Clicks is the click writer of this process's API (ROLE=all), nil otherwise: a wait for a
	// cookie's click then wakes when the writer commits instead of polling.
	Clicks *store.ClickWriter
	// ClickWriter are the click writers' settings, whose Freshness bounds that wait.
	ClickWriter store.BatchOptions
}
