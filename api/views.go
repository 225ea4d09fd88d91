package api

import (
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// apiTime is a time as docs/API.md writes it: UTC, to the second, "2026-11-21T10:00:00Z".
type apiTime time.Time

// MarshalJSON writes the time as docs/API.md's RFC 3339 UTC string.
func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05Z") + `"`), nil
}

// conversionJSON is a conversion as the API shows it. Its time fields shadow the embedded ones
// (encoding/json prefers the shallower field), so domain.Conversion keeps full precision in
// workflow payloads while responses match docs/API.md.
type conversionJSON struct {
	*domain.Conversion
	CreatedAt apiTime `json:"created_at"`
	UpdatedAt apiTime `json:"updated_at"`
}

func conversionView(c *domain.Conversion) conversionJSON {
	return conversionJSON{Conversion: c, CreatedAt: apiTime(c.CreatedAt), UpdatedAt: apiTime(c.UpdatedAt)}
}

// deliveryJSON is one pixel attempt as the API shows it.
type deliveryJSON struct {
	*store.Delivery
	At apiTime `json:"at"`
}

// conversionDetail is a conversion with its pixel deliveries, oldest first ([] when none).
type conversionDetail struct {
	conversionJSON
	Deliveries []deliveryJSON `json:"deliveries"`
}

func conversionDetailView(c *domain.Conversion, ds []store.Delivery) conversionDetail {
	out := conversionDetail{conversionJSON: conversionView(c), Deliveries: make([]deliveryJSON, len(ds))}
	for i := range ds {
		out.Deliveries[i] = deliveryJSON{Delivery: &ds[i], At: apiTime(ds[i].At)}
	}
	return out
}

// AdvertiserCreated is the answer to POST /api/v1/advertisers and to POST
// /api/v1/advertisers/:id/postback-token: the advertiser with its postback token, the only
// answers that show it (store.Advertiser never encodes it).
type AdvertiserCreated struct {
	store.Advertiser
	PostbackToken string `json:"postback_token"`
}

// PixelCreated is the answer to POST /api/v1/affiliates/:id/pixels: the pixel with a POST pixel's
// signing secret, the one answer that shows it (store.Pixel, which workflow payloads carry,
// never encodes it).
type PixelCreated struct {
	store.Pixel
	Secret string `json:"secret,omitempty"`
}
