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
		mb, err := b.object("macros", "of macro names to strings")
		if err != nil {
			return err
		}
		for name, raw := range mb {
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return domain.FieldError("macros", "must be an object of macro names to strings")
			}
			if !validJSONText(raw) {
				return domain.FieldError("macros", "must be valid UTF-8")
			}
			if !domain.IsMacro(name) {
				return domain.FieldError("macros", "%q is not a macro", name)
			}
			if err := checkText("macros", v, 1024); err != nil {
				return err
			}
			overrides[name] = v
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

// samplePixelMacros are the pixel test tool's values: those of a made-up approved conversion of
// the affiliate (on the pixel's offer when it has one), through the same Macros as a real
// delivery, so a test POST's body has every key a real one has.
func samplePixelMacros(affID int64, offerID *int64) map[string]string {
	clickID, sub, invoice, ip := domain.NewID(), "test", "test-invoice", "203.0.113.1"
	c := domain.Conversion{ID: "test-" + domain.NewID(), AffID: &affID, SubID: &sub, ClickID: &clickID,
		InvoiceID: &invoice, Amount: 1000, Commission: 100, Currency: "USD", Status: domain.ConversionApproved, IP: &ip}
	m := c.Macros()
	m["offer_id"] = "" // a pixel for every offer names none
	if offerID != nil {
		m["offer_id"] = strconv.FormatInt(*offerID, 10)
	}
	return m
}
