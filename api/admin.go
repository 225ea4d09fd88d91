package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// createAdvertiser handles POST /api/v1/advertisers.
func (s *server) createAdvertiser(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var a store.Advertiser
	var tokenErr error
	a.PostbackToken, tokenErr = postbackTokenField(b)
	if err := firstError(errors.Join(
		b.str("name", true, 255, &a.Name),
		tokenErr,
		b.cidrs("allowed_ips", (*[]string)(&a.AllowedIPs)),
	)); err != nil {
		return err
	}
	if err := s.store.CreateAdvertiser(c.Request.Context(), &a); err != nil {
		return err
	}
	created(c, AdvertiserCreated{Advertiser: a, PostbackToken: a.PostbackToken})
	return nil
}

// postbackTokenField reads a body's chosen postback_token (held to checkPostbackToken's rules),
// or makes one (128 random bits) when the field is omitted.
func postbackTokenField(b body) (string, error) {
	var token string
	if err := b.str("postback_token", false, 255, &token); err != nil {
		return "", err
	}
	if !b.has("postback_token") {
		return domain.NewID(), nil
	}
	return token, checkPostbackToken(token)
}

// listAdvertisers handles GET /api/v1/advertisers: newest first, never a token.
func (s *server) listAdvertisers(c *gin.Context) error {
	n, err := limit(c)
	if err != nil {
		return err
	}
	list, err := s.store.ListAdvertisers(c.Request.Context(), n)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
	return nil
}

// regeneratePostbackToken handles POST /api/v1/advertisers/:id/postback-token: a new token (the
// body's postback_token, or a generated one), shown in this answer only; the old one is refused
// from the next postback on.
func (s *server) regeneratePostbackToken(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	token, err := postbackTokenField(b)
	if err != nil {
		return err
	}
	id, err := pathID(c, "id", "advertiser")
	if err != nil {
		return err
	}
	a, err := s.store.SetPostbackToken(c.Request.Context(), id, token)
	if err != nil {
		return named(err, "id", "advertiser")
	}
	c.JSON(http.StatusOK, AdvertiserCreated{Advertiser: *a, PostbackToken: a.PostbackToken})
	return nil
}

// createAffiliate handles POST /api/v1/affiliates.
func (s *server) createAffiliate(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	a := store.Affiliate{Status: domain.StatusActive}
	if err := firstError(errors.Join(
		b.str("name", true, 255, &a.Name),
		b.oneOf("status", &a.Status, domain.StatusActive, domain.StatusPaused),
	)); err != nil {
		return err
	}
	if err := s.store.CreateAffiliate(c.Request.Context(), &a); err != nil {
		return err
	}
	created(c, a)
	return nil
}

// updateAffiliate handles PATCH /api/v1/affiliates/:id. Fields are checked before the affiliate
// is looked up: docs/API.md's order is parameters (400) before existence (404).
func (s *server) updateAffiliate(c *gin.Context) error {
	ctx := c.Request.Context()
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var patch store.Affiliate
	if err := firstError(errors.Join(
		b.str("name", false, 255, &patch.Name),
		b.oneOf("status", &patch.Status, domain.StatusActive, domain.StatusPaused),
	)); err != nil {
		return err
	}
	if b.has("name") && strings.TrimSpace(patch.Name) == "" {
		return domain.FieldError("name", "must not be empty")
	}
	id, err := pathID(c, "id", "affiliate")
	if err != nil {
		return err
	}
	a, err := s.store.Affiliate(ctx, id)
	if err != nil {
		return named(err, "id", "affiliate")
	}
	if b.has("name") {
		a.Name = patch.Name
	}
	if b.has("status") {
		a.Status = patch.Status
	}
	if err := s.store.UpdateAffiliate(ctx, a); err != nil {
		return named(err, "id", "affiliate")
	}
	c.JSON(http.StatusOK, a)
	return nil
}

// createOffer handles POST /api/v1/offers.
func (s *server) createOffer(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	o := store.Offer{CookieDays: 30, Currency: "USD", Status: domain.StatusActive, Timezone: "UTC",
		Attribution: domain.AttributionLastClick, HoldExpiry: domain.HoldExpiryApprove}
	if err := firstError(offerFields(b, &o, true)); err != nil {
		return err
	}
	if err := s.store.CreateOffer(c.Request.Context(), &o); err != nil {
		return err
	}
	created(c, o)
	return nil
}

// maxHoldSeconds is the longest hold an offer may set: a year.
const maxHoldSeconds = 365 * 24 * 60 * 60

// offerFields reads an offer's editable fields from a create or update body: every field of a
// create, its advertiser_id included (an update moves the offer to that advertiser, whose token
// then authenticates its postbacks).
func offerFields(b body, o *store.Offer, create bool) error {
	var cookieDays int64
	err := errors.Join(
		b.id("advertiser_id", create, &o.AdvertiserID),
		b.str("name", create, 255, &o.Name),
		b.url("landing_url", create, false, &o.LandingURL),
		b.url("thank_you_url", false, true, &o.ThankYouURL),
		b.id("cookie_days", false, &cookieDays),
		b.payout("payout", create, &o.Payout),
		b.str("currency", false, 3, &o.Currency),
		b.boolean("multi_conversion", &o.MultiConversion),
		b.boolean("allow_custom_params", &o.AllowCustomParams),
		b.oneOf("status", &o.Status, domain.StatusActive, domain.StatusPaused),
		b.url("fallback_url", false, true, &o.FallbackURL),
		b.timezone("timezone", &o.Timezone),
		b.caps("caps", &o.Caps),
		b.caps("affiliate_caps", &o.AffiliateCaps),
		b.intRange("min_conversion_seconds", 0, 86400, &o.MinConversionSeconds),
		b.oneOf("attribution", &o.Attribution, domain.AttributionLastClick, domain.AttributionFirstClick),
		b.intRange("hold_seconds", 0, maxHoldSeconds, &o.HoldSeconds),
		b.oneOf("hold_expiry", &o.HoldExpiry, domain.HoldExpiryApprove, domain.HoldExpiryReject),
	)
	if err != nil {
		return err
	}
	if b.has("cookie_days") {
		if cookieDays < 1 || cookieDays > 365 {
			return domain.FieldError("cookie_days", "must be an integer from 1 to 365")
		}
		o.CookieDays = int(cookieDays)
	}
	if !currencyPattern.MatchString(o.Currency) {
		return domain.FieldError("currency", "must be three upper-case letters (ISO 4217)")
	}
	if strings.TrimSpace(o.Name) == "" {
		return domain.FieldError("name", "must not be empty")
	}
	return nil
}

// getOffer handles GET /api/v1/offers/:id.
func (s *server) getOffer(c *gin.Context) error {
	o, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, o)
	return nil
}

// updateOffer handles PATCH /api/v1/offers/:id: only the fields given change.
func (s *server) updateOffer(c *gin.Context) error {
	ctx := c.Request.Context()
	b, err := readBody(c)
	if err != nil {
		return err
	}
	// Parameters (400) before existence (404): the fields are first checked on a valid stand-in,
	// so that a bad field is reported even for an unknown offer, then applied to the stored one.
	standIn := store.Offer{Name: "stand-in", CookieDays: 30, Currency: "USD",
		Payout: domain.Payout{Type: domain.PayoutCPA}, Status: domain.StatusActive, Timezone: "UTC",
		Attribution: domain.AttributionLastClick, HoldExpiry: domain.HoldExpiryApprove}
	if err := firstError(offerFields(b, &standIn, false)); err != nil {
		return err
	}
	o, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	if err := firstError(offerFields(b, o, false)); err != nil {
		return err
	}
	if err := s.store.UpdateOffer(ctx, o); err != nil {
		return err
	}
	if o, err = s.store.Offer(ctx, o.ID); err != nil {
		return named(err, "id", "offer")
	}
	c.JSON(http.StatusOK, o)
	return nil
}

// pathOffer reads the offer the :id path parameter names; a malformed id is a 404 like an unknown one.
func (s *server) pathOffer(c *gin.Context) (*store.Offer, error) {
	id, err := pathID(c, "id", "offer")
	if err != nil {
		return nil, err
	}
	o, err := s.store.Offer(c.Request.Context(), id)
	return o, named(err, "id", "offer")
}

// createEvent handles POST /api/v1/offers/:id/events: a named event with its own payout; a
// name the offer already has is a 409.
func (s *server) createEvent(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var e store.Event
	if err := firstError(errors.Join(b.str("name", true, 64, &e.Name), b.payout("payout", true, &e.Payout))); err != nil {
		return err
	}
	if !eventPattern.MatchString(e.Name) {
		return domain.FieldError("name", "must be 1 to 32 characters of a-z, 0-9 and _, starting with a letter")
	}
	if e.OfferID, err = pathID(c, "id", "offer"); err != nil {
		return err
	}
	if err := s.store.CreateEvent(c.Request.Context(), &e); err != nil {
		return named(err, "id", "offer")
	}
	created(c, e)
	return nil
}

// listEvents handles GET /api/v1/offers/:id/events: newest first, limit default 50, at most 500,
// like every list of docs/API.md.
func (s *server) listEvents(c *gin.Context) error {
	n, err := limit(c)
	if err != nil {
		return err
	}
	o, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	list, err := s.store.Events(c.Request.Context(), o.ID, n)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
	return nil
}

// setPayout handles PUT /api/v1/offers/:id/payouts/:aff_id.
func (s *server) setPayout(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var p domain.Payout
	if err := b.payoutFields("", &p); err != nil {
		return err
	}
	o, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	affID, err := pathID(c, "aff_id", "affiliate")
	if err != nil {
		return err
	}
	// The offer exists: a missing reference can only be the affiliate.
	if err := s.store.SetPayoutOverride(c.Request.Context(), o.ID, affID, p); err != nil {
		return named(err, "aff_id", "affiliate")
	}
	c.JSON(http.StatusOK, store.PayoutOverride{OfferID: o.ID, AffID: affID, Payout: p})
	return nil
}

// listPayouts handles GET /api/v1/offers/:id/payouts: the offer's overrides, each as setPayout
// answers it, so the console can show what is set.
func (s *server) listPayouts(c *gin.Context) error {
	o, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	list, err := s.store.PayoutOverrides(c.Request.Context(), o.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
	return nil
}

// createPixel handles POST /api/v1/affiliates/:id/pixels.
func (s *server) createPixel(c *gin.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	p := store.Pixel{Method: http.MethodGet}
	var offerID int64
	if err := firstError(errors.Join(
		b.url("url", true, false, &p.URL),
		b.oneOf("method", &p.Method, http.MethodGet, http.MethodPost),
		b.id("offer_id", false, &offerID),
		b.str("secret", false, 200, &p.Secret),
	)); err != nil {
		return err
	}
	if offerID != 0 {
		p.OfferID = &offerID
	}
	switch {
	case p.Method == http.MethodGet && p.Secret != "":
		return domain.FieldError("secret", "only POST pixels are signed")
	case p.Method == http.MethodPost && p.Secret == "":
		p.Secret = domain.NewWebhookSecret()
	case p.Method == http.MethodPost && !validWebhookSecret(p.Secret):
		return domain.FieldError("secret", "must be whsec_ followed by the base64 of 24 to 64 bytes")
	}
	if p.AffID, err = pathID(c, "id", "affiliate"); err != nil {
		return err
	}
	if _, err := s.store.Affiliate(c.Request.Context(), p.AffID); err != nil {
		return named(err, "id", "affiliate")
	}
	// The affiliate exists: a missing reference can only be the offer.
	if err := s.store.CreatePixel(c.Request.Context(), &p); err != nil {
		return named(err, "offer_id", "offer")
	}
	created(c, PixelCreated{Pixel: p, Secret: p.Secret})
	return nil
}

// updatePixel handles PATCH /api/v1/affiliates/:id/pixels/:pixel_id: pause or resume a pixel
// (status), or point it elsewhere (url). Fields are checked before the pixel is looked up.
func (s *server) updatePixel(c *gin.Context) error {
	ctx := c.Request.Context()
	b, err := readBody(c)
	if err != nil {
		return err
	}
	var patch store.Pixel
	if err := firstError(errors.Join(
		b.url("url", false, false, &patch.URL),
		b.oneOf("status", &patch.Status, domain.StatusActive, domain.StatusPaused),
	)); err != nil {
		return err
	}
	p, err := s.pathPixel(c)
	if err != nil {
		return err
	}
	if b.has("url") {
		p.URL = patch.URL
	}
	if b.has("status") {
		p.Status = patch.Status
	}
	if err := s.store.UpdatePixel(ctx, p); err != nil {
		return named(err, "pixel_id", "pixel")
	}
	c.JSON(http.StatusOK, p)
	return nil
}

// pathPixel reads the pixel that the :id (affiliate) and :pixel_id path parameters name, with its
// secret; another affiliate's pixel, or a malformed id, is a 404 like an unknown one.
func (s *server) pathPixel(c *gin.Context) (*store.Pixel, error) {
	affID, err := pathID(c, "id", "affiliate")
	if err != nil {
		return nil, err
	}
	pixelID, err := pathID(c, "pixel_id", "pixel")
	if err != nil {
		return nil, err
	}
	p, err := s.store.AffiliatePixel(c.Request.Context(), affID, pixelID)
	return p, named(err, "pixel_id", "pixel")
}

// validWebhookSecret reports a secret docs/API.md accepts: whsec_ and the base64 of 24 to 64 bytes.
func validWebhookSecret(s string) bool {
	key, ok := domain.WebhookKey(s)
	return ok && len(key) >= 24 && len(key) <= 64
}

// getClick handles GET /api/v1/clicks/:click_id.
func (s *server) getClick(c *gin.Context) error {
	click, err := s.storedClick(c.Request.Context(), c.Param("click_id")) // a malformed ID is not found
	if err != nil {
		return named(err, "click_id", "click")
	}
	c.JSON(http.StatusOK, click)
	return nil
}

// listConversions handles GET /api/v1/conversions.
func (s *server) listConversions(c *gin.Context) error {
	f, err := conversionFilter(c)
	if err != nil {
		return err
	}
	list, err := s.store.ListConversions(c.Request.Context(), f)
	if err != nil {
		return err
	}
	items := make([]conversionJSON, len(list))
	for i := range list {
		items[i] = conversionView(&list[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
	return nil
}

// conversionFilter reads the list's query: offer_id, aff_id, invoice_id, status, limit.
func conversionFilter(c *gin.Context) (store.ConversionFilter, error) {
	var f store.ConversionFilter
	var err error
	if f.OfferID, err = queryID(c, "offer_id"); err != nil {
		return f, err
	}
	if f.AffID, err = queryID(c, "aff_id"); err != nil {
		return f, err
	}
	if f.InvoiceID, err = queryValue(c, "invoice_id"); err != nil {
		return f, err
	}
	if err := checkText("invoice_id", f.InvoiceID, 128); err != nil {
		return f, err
	}
	if f.Status, err = queryValue(c, "status"); err != nil {
		return f, err
	}
	switch f.Status {
	case "", domain.ConversionPending, domain.ConversionApproved, domain.ConversionRejected, domain.ConversionReversed:
	default:
		return f, domain.FieldError("status", "must be pending, approved, rejected or reversed")
	}
	f.Limit, err = limit(c)
	return f, err
}

// getConversion handles GET /api/v1/conversions/:id.
func (s *server) getConversion(c *gin.Context) error {
	ctx := c.Request.Context()
	conv, err := s.pathConversion(c)
	if err != nil {
		return err
	}
	d, err := s.store.Deliveries(ctx, conv.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, conversionDetailView(conv, d))
	return nil
}

// pathConversion reads the conversion the :id path parameter names.
func (s *server) pathConversion(c *gin.Context) (*domain.Conversion, error) {
	conv, err := s.store.Conversion(c.Request.Context(), c.Param("id"))
	return conv, named(err, "id", "conversion")
}

// approveConversion handles POST /api/v1/conversions/:id/approve: a held conversion becomes
// approved (its workflow then fires the pixels).
func (s *server) approveConversion(c *gin.Context) error {
	return s.review(c, true, "")
}

// rejectConversion handles POST /api/v1/conversions/:id/reject; the reason becomes the note.
func (s *server) rejectConversion(c *gin.Context) error {
	reason, err := readReason(c)
	if err != nil {
		return err
	}
	return s.review(c, false, reason)
}

// review sends an admin's decision to the held conversion's workflow as an Update and answers 200
// with the conversion as it now is once the decision is stored; 409 when it is not held; 503
// when no worker applied it within ReviewWait (the decision may still apply). It does not check
// the status first: a retried request (same decision) must get the first one's outcome, which
// only the workflow knows.
func (s *server) review(c *gin.Context, approve bool, reason string) error {
	ctx := c.Request.Context()
	conv, err := s.pathConversion(c)
	if err != nil {
		return err
	}
	wait := s.cfg.ReviewWait
	if wait <= 0 {
		wait = DefaultReviewWait
	}
	uctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done, err := workflows.ReviewConversion(uctx, s.temporal, conv, approve, reason)
	if err != nil {
		if domain.ErrorKind(err) == domain.Unavailable {
			c.Header("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		}
		return err
	}
	c.JSON(http.StatusOK, conversionView(done))
	return nil
}

// DefaultReviewWait bounds how long approve and reject wait for a worker to store the decision
// when Config.ReviewWait is zero: a local activity on a live worker takes milliseconds.
const DefaultReviewWait = 5 * time.Second

// reverseConversion handles POST /api/v1/conversions/:id/reverse: a refund or chargeback, run by
// a reversal workflow of its own.
func (s *server) reverseConversion(c *gin.Context) error {
	ctx := c.Request.Context()
	reason, err := readReason(c)
	if err != nil {
		return err
	}
	conv, err := s.pathConversion(c)
	if err != nil {
		return err
	}
	if conv.Status != domain.ConversionApproved {
		return domain.Errorf(domain.Conflict, "status: only an approved conversion can be reversed, this one is %s", conv.Status)
	}
	wfID, err := workflows.StartReversal(ctx, s.temporal, conv, reason, s.cfg.Retry)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "workflow_id": wfID})
	return nil
}

// readReason reads the optional reason of a reject or reverse body.
func readReason(c *gin.Context) (string, error) {
	b, err := readBody(c)
	if err != nil {
		return "", err
	}
	var reason string
	err = b.str("reason", false, 1000, &reason)
	return reason, err
}

// firstError returns the first of errors.Join's errors, so a response names one field.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}
