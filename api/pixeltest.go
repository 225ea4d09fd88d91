package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
)

// testPixel handles POST /api/v1/affiliates/:id/pixels/:pixel_id/test: fire the pixel once, now,
// with sample macros (the body's macros override them), and answer what happened. The affiliate's
// answer, whatever it is, is a 200 of this call; nothing is retried or logged as a delivery.
func (s *server) testPixel(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	overrides := map[string]string{}
	if b.has("macros") {
		if err := json.Unmarshal(b["macros"], &overrides); err != nil {
			return domain.FieldError("macros", "must be an object of macro names to strings")
		}
		for name, v := range overrides {
			if !domain.IsMacro(name) {
				return domain.FieldError("macros", "%q is not a macro", name)
			}
			if err := checkText("macros", v, 1024); err != nil {
				return err
			}
		}
	}
	p, err := s.pathPixel(c)
	if err != nil {
		return err
	}
	macros := samplePixelMacros(p.AffID, p.OfferID)
	for name, v := range overrides {
		macros[name] = v
	}
	c.JSON(http.StatusOK, activities.TryPixel(c.Request.Context(), s.pixels, *p, macros, s.cfg.Retry.Timeout()))
	return nil
}

// samplePixelMacros are the pixel test tool's values: a made-up approved conversion of the
// affiliate (on the pixel's offer when it has one).
func samplePixelMacros(affID int64, offerID *int64) map[string]string {
	offer := ""
	if offerID != nil {
		offer = strconv.FormatInt(*offerID, 10)
	}
	return map[string]string{
		"transaction_id": "test-" + domain.NewID(), "click_id": domain.NewID(), "offer_id": offer,
		"aff_id": strconv.FormatInt(affID, 10), "sub_id": "test", "creative_id": "", "invoice_id": "test-invoice",
		"amount": "10.00", "payout": "1.00", "currency": "USD", "status": domain.ConversionApproved,
		"ip": "203.0.113.1",
	}
}
