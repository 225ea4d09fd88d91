package api

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// click handles GET /click: store a click, set its cookie, redirect to the offer's landing page;
// or, for a paused or capped offer with a fallback_url, redirect there and store nothing.
func (s *server) click(c *gin.Context) error {
	v, err := s.readVisit(c)
	if err != nil {
		return err
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "no-store")
	// The landing and fallback URLs' macros: the visit's ids and the credited click (none on a
	// fallback: no click is stored, so none is named).
	var credited string
	macro := func(name string) (string, bool) {
		switch name {
		case "offer_id":
			return strconv.FormatInt(v.offer.ID, 10), true
		case "click_id":
			return credited, true
		}
		return v.ids.macro(name)
	}
	if reason := v.fallback(); reason != "" {
		s.cfg.Metrics.FallbackClick(reason)
		h.Set("X-Fallback", reason)
		h.Set("Location", domain.ExpandMacrosFunc(v.offer.FallbackURL, macro))
		c.Status(http.StatusFound)
		return nil
	}
	if v.offer.Status != domain.StatusActive {
		return offerNotFound()
	}
	now := time.Now().UTC()
	click := store.Click{
		ClickID: domain.NewClickID(s.cfg.ClickIDKey, now), OfferID: v.offer.ID, AffID: v.ids.AffID, Subs: domain.NewSubs(v.ids.Subs),
		IP: s.clientIP(c.Request), UserAgent: userAgent(c.Request), Referer: store.StorableText(c.Request.Referer(), maxReferer),
		CreatedAt: now,
	}
	click.SubID, click.CreativeID = v.optional()
	// First click: an earlier click of this visitor keeps the credit, so the cookie and the
	// landing page keep naming it; the new click is still stored (it counts in reports).
	credited = s.firstClick(c, v.offer, now)
	if err := s.clicks.Add(click); err != nil {
		return err // Unavailable, with Retry-After: the buffer is full or the server is stopping
	}
	s.cfg.Metrics.Click()
	if credited == "" {
		credited = click.ClickID
		cookie := http.Cookie{Name: "tf_" + strconv.FormatInt(v.offer.ID, 10), Value: click.ClickID, Path: "/",
			MaxAge: int(v.offer.CookieWindow() / time.Second), HttpOnly: true, Secure: true, SameSite: http.SameSiteNoneMode}
		h.Set("Set-Cookie", cookie.String())
	}
	h.Set("X-Click-Id", credited)
	h.Set("Location", domain.ExpandMacrosFunc(v.offer.LandingURL, macro))
	c.Status(http.StatusFound)
	return nil
}

// firstClick returns the click that keeps the credit on a first_click offer: the one the
// request's tf_ cookie names when it is a stored click of this offer inside the cookie window;
// "" when there is none (or the offer is last_click), and the new click takes it. Only this case
// reads Postgres on the click path; a forged or expired ID costs at most one lookup, never a wait,
// and Postgres being down never refuses the click.
func (s *server) firstClick(c *gin.Context, offer *store.Offer, now time.Time) string {
	if offer.Attribution != domain.AttributionFirstClick {
		return ""
	}
	id, err := c.Cookie("tf_" + strconv.FormatInt(offer.ID, 10))
	if err != nil || !domain.IsID(id) {
		return ""
	}
	// The ID's MAC and time (domain.NewClickID) settle two cases without Postgres or a wait: an
	// authentic ID minted before the cookie window (to the second) names no click inside it, and
	// only an authentic ID can name a click this process redirected and has not yet stored.
	createdAt, authentic := domain.VerifyClickID(s.cfg.ClickIDKey, id)
	if authentic && createdAt.Before(now.Add(-offer.CookieWindow()-time.Second)) {
		return ""
	}
	prev, err := s.storedClick(c.Request.Context(), id)
	switch {
	case domain.ErrorKind(err) == domain.NotFound:
		return ""
	case err != nil:
		// Postgres is unreachable, or the earlier click is not stored yet: the click is still
		// kept rather than refused, and an authentic ID inside the window keeps the credit (the
		// workflow's attribution checks its offer once the click can be read).
		s.log.WarnContext(c.Request.Context(), "first click: earlier click unreadable", "error", err)
		if authentic {
			return id
		}
		return ""
	case prev.OfferID != offer.ID || prev.CreatedAt.Before(now.Add(-offer.CookieWindow())):
		return ""
	}
	return prev.ClickID
}

// impression handles GET /impression: store an impression, answer the GIF.
func (s *server) impression(c *gin.Context) error {
	v, err := s.readVisit(c)
	if err != nil {
		return err
	}
	if v.offer.Status != domain.StatusActive {
		return offerNotFound()
	}
	im := store.Impression{OfferID: v.offer.ID, AffID: v.ids.AffID, Subs: domain.NewSubs(v.ids.Subs),
		IP: s.clientIP(c.Request), UserAgent: userAgent(c.Request), CreatedAt: time.Now().UTC()}
	im.SubID, im.CreativeID = v.optional()
	if err := s.impressions.Add(im); err != nil {
		return err // Unavailable, with Retry-After: the buffer is full or the server is stopping
	}
	s.cfg.Metrics.Impression()
	writeGIF(c, http.StatusOK)
	return nil
}

// visit is what a click or an impression is of: a known offer (active or paused: the caller
// decides), its cap state as of the cache, and an active affiliate with its identifiers.
type visit struct {
	offer *store.Offer
	caps  store.CapState
	ids   AffiliateIDs
}

// readVisit reads the shared part of /click and /impression, in docs/API.md's order: the parameters
// (400), then the offer (known) and the affiliate (known and active) (404). It costs no Postgres
// round trip: the offer, its cap state and the affiliate come from the cache.
func (s *server) readVisit(c *gin.Context) (visit, error) {
	ctx := c.Request.Context()
	var v visit
	p, err := ParseParams(c.Request)
	if err != nil {
		return v, err
	}
	offerID, err := p.ID("offer_id", true)
	if err != nil {
		return v, err
	}
	if v.ids, err = p.Affiliate(); err != nil {
		return v, err
	}
	if v.offer, v.caps, err = s.cache.trackedOffer(ctx, offerID); err != nil {
		if domain.ErrorKind(err) == domain.NotFound {
			err = offerNotFound()
		}
		return v, err
	}
	return v, s.activeAffiliate(ctx, v.ids.AffID)
}

// fallback says why a click goes to the offer's fallback_url ("paused" or "cap"), or "" when it
// does not: the offer has none, or it is active and no cap of it (or of this affiliate on it) is
// full for the current day or month.
func (v visit) fallback() string {
	switch {
	case v.offer.FallbackURL == "":
		return ""
	case v.offer.Status != domain.StatusActive:
		return "paused"
	case v.caps.Full || v.caps.FullAffiliates[v.ids.AffID]:
		return "cap"
	}
	return ""
}

// optional is the visit's sub_id and creative_id as the store keeps them: nil when absent.
func (v visit) optional() (subID *string, creativeID *int64) {
	if v.ids.SubID != "" {
		subID = &v.ids.SubID
	}
	if v.ids.CreativeID != 0 {
		creativeID = &v.ids.CreativeID
	}
	return subID, creativeID
}

// pixel handles GET /pixel: the thank-you page's image pixel starts a conversion.
func (s *server) pixel(c *gin.Context) error {
	if _, err := s.pageConversion(c); err != nil {
		return err
	}
	writeGIF(c, http.StatusOK)
	return nil
}

// conversion handles POST /conversion: a form post that starts a conversion, then redirects to
// the offer's thank-you page.
func (s *server) conversion(c *gin.Context) error {
	offer, err := s.pageConversion(c)
	if err != nil {
		return err
	}
	if offer.ThankYouURL == "" {
		c.Status(http.StatusNoContent)
		return nil
	}
	c.Header("Location", offer.ThankYouURL)
	c.Status(http.StatusSeeOther)
	return nil
}

// pageConversion is the shared part of /pixel and /conversion: attribution by the first-party
// click_id (GET /tf.js), the tf_ cookie or the backup DB, in the workflow. Once the workflow is started (or found a duplicate) it sets
// X-Workflow-Id and X-Conversion-Status, and returns the offer.
func (s *server) pageConversion(c *gin.Context) (*store.Offer, error) {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		return nil, err
	}
	req, err := conversionBase(p, true)
	if err != nil {
		return nil, err
	}
	if req.FirstPartyClickID, err = p.ClickID(false); err != nil {
		return nil, err
	}
	offer, err := s.activeOffer(ctx, req.OfferID)
	if err != nil {
		return nil, err
	}
	// The custom parameters are parameters (400): checked before the event's existence (404).
	if err := applyCustom(p, offer, &req); err != nil {
		return nil, err
	}
	if err := s.checkEvent(ctx, offer.ID, req.Event); err != nil {
		return nil, err
	}
	req.Source = domain.SourcePage
	if v, err := c.Cookie("tf_" + strconv.FormatInt(req.OfferID, 10)); err == nil && domain.IsID(v) {
		req.CookieClickID = v
	}
	req.IP, req.UserAgent = s.clientIP(c.Request), userAgent(c.Request)
	dup, err := s.startConversion(ctx, &req, nil)
	if err != nil {
		return nil, err
	}
	c.Header("X-Workflow-Id", req.WorkflowID)
	if dup {
		c.Header("X-Conversion-Status", "duplicate")
	}
	return offer, nil
}

// postback handles GET|POST /postback: the advertiser's server-to-server Click ID or AFID post.
func (s *server) postback(c *gin.Context) error {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		return err
	}
	// Parameters first (400), then authentication (401), allow-list (403), existence (404). The
	// custom parameters come once the offer is known (whether they are read at all depends on
	// it), still before the event's existence.
	clickID, err := p.ClickID(false)
	if err != nil {
		return err
	}
	req, err := conversionBase(p, clickID == "")
	if err != nil {
		return err
	}
	if clickID == "" {
		ids, err := p.Affiliate()
		if err != nil {
			return err
		}
		req.AffID, req.SubID, req.Subs, req.CreativeID = ids.AffID, ids.SubID, ids.Subs, ids.CreativeID
	}
	token, err := postbackToken(c, p)
	if err != nil {
		return err
	}
	ip := s.clientIP(c.Request)
	if err := s.postbackAuth.check(c, ip); err != nil {
		s.cfg.Metrics.AuthRateLimited(metrics.RealmPostback)
		return err
	}
	adv, err := s.advertiser(ctx, token)
	if domain.ErrorKind(err) == domain.Unauthorized {
		s.postbackAuth.failed(ip)
	}
	if err != nil {
		return err
	}
	if !ipAllowed(adv.AllowedIPs, ip) {
		return domain.Errorf(domain.Forbidden, "ip: %s is not in the advertiser's allow-list", ip)
	}

	var offer *store.Offer
	if clickID != "" {
		offer, err = s.postbackClick(ctx, adv, clickID, &req)
	} else {
		offer, err = s.postbackAFID(ctx, adv, &req)
	}
	if err != nil {
		return err
	}
	if err := applyCustom(p, offer, &req); err != nil {
		return err
	}
	if err := s.checkEvent(ctx, offer.ID, req.Event); err != nil {
		return err
	}
	req.IP = ip
	affID := req.AffID // a duplicate is counted for the click's or the post's affiliate
	dup, err := s.startConversion(ctx, &req, &affID)
	if err != nil {
		return err
	}
	if dup {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate", "workflow_id": req.WorkflowID})
	} else {
		c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "workflow_id": req.WorkflowID})
	}
	return nil
}

// postbackClick resolves a Click ID post's click. A click that is unknown, of another advertiser's
// offer, of an inactive offer, or of another offer than an offer_id given beside it, is not found:
// a caller cannot tell them apart.
func (s *server) postbackClick(ctx context.Context, adv *store.Advertiser, clickID string, req *domain.ConversionRequest) (*store.Offer, error) {
	notFound := domain.Errorf(domain.NotFound, "click_id: click not found")
	click, err := s.storedClick(ctx, clickID)
	if err != nil {
		if domain.ErrorKind(err) == domain.NotFound {
			err = notFound
		}
		return nil, err
	}
	if req.OfferID != 0 && req.OfferID != click.OfferID {
		return nil, notFound
	}
	offer, err := s.advertiserOffer(ctx, adv, click.OfferID, notFound)
	if err != nil {
		return nil, err
	}
	// AffID is the click's, so the workflow carries its AffiliateId search attribute from the start.
	req.OfferID, req.Source, req.ClickID, req.AffID = click.OfferID, domain.SourceClickID, clickID, click.AffID
	return offer, nil
}

// postbackAFID resolves an AFID post's offer (active, this advertiser's) and affiliate (known; a
// paused one's conversion is recorded as rejected by the workflow, so the CRM's rebills stay
// visible).
func (s *server) postbackAFID(ctx context.Context, adv *store.Advertiser, req *domain.ConversionRequest) (*store.Offer, error) {
	offer, err := s.advertiserOffer(ctx, adv, req.OfferID, offerNotFound())
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Affiliate(ctx, req.AffID); err != nil {
		if domain.ErrorKind(err) == domain.NotFound {
			err = domain.Errorf(domain.NotFound, "aff_id: affiliate not found")
		}
		return nil, err
	}
	req.Source = domain.SourceAFID
	return offer, nil
}

// advertiserOffer reads an active offer of adv's; an offer that is unknown, paused or another
// advertiser's is notFound: a postback cannot tell them apart.
func (s *server) advertiserOffer(ctx context.Context, adv *store.Advertiser, id int64, notFound error) (*store.Offer, error) {
	offer, err := s.activeOffer(ctx, id)
	if domain.ErrorKind(err) == domain.NotFound || (err == nil && offer.AdvertiserID != adv.ID) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	return offer, nil
}

// conversionBase reads what every conversion carries: offer_id (unless the click gives it), amount,
// id, test.
func conversionBase(p Params, needOffer bool) (domain.ConversionRequest, error) {
	var req domain.ConversionRequest
	var err error
	if req.OfferID, err = p.ID("offer_id", needOffer); err != nil {
		return req, err
	}
	if req.Amount, _, err = p.Money("amount", true); err != nil {
		return req, err
	}
	if req.Event, err = p.Event(); err != nil {
		return req, err
	}
	if req.InvoiceID, err = p.Invoice(); err != nil {
		return req, err
	}
	req.Test, err = p.Test()
	return req, err
}

// checkEvent makes an event conversion of an offer without that event a 404.
func (s *server) checkEvent(ctx context.Context, offerID int64, event string) error {
	if event == "" {
		return nil
	}
	_, err := s.store.Event(ctx, offerID, event)
	if domain.ErrorKind(err) == domain.NotFound {
		return domain.Errorf(domain.NotFound, "event: the offer has no event %s", event)
	}
	return err
}

// applyCustom honours the custom conversion parameters only when the offer allows them.
func applyCustom(p Params, offer *store.Offer, req *domain.ConversionRequest) error {
	if !offer.AllowCustomParams {
		return nil
	}
	cp, err := p.Custom()
	if err != nil {
		return err
	}
	req.CustomPayout, req.CustomCurrency, req.CustomStatus = cp.Payout, cp.Currency, cp.Status
	return nil
}

// startConversion starts the conversion's workflow; a duplicate invoice is counted.
func (s *server) startConversion(ctx context.Context, req *domain.ConversionRequest, affID *int64) (bool, error) {
	req.ConversionID = domain.NewID()
	req.WorkflowID = workflows.EventWorkflowID(req.OfferID, req.Event, req.InvoiceID, req.ConversionID)
	if req.Test {
		req.WorkflowID = workflows.TrialConversionWorkflowID(req.OfferID, req.ConversionID)
	}
	req.ReceivedAt = time.Now().UTC()
	req.Retry = s.cfg.Retry
	dup, err := workflows.StartConversion(ctx, s.temporal, *req)
	if err != nil {
		return false, err
	}
	if !dup {
		s.cfg.Metrics.ConversionStarted(req.Source)
		return false, nil
	}
	s.cfg.Metrics.Duplicate(metrics.LayerTemporal)
	err = s.store.CountDuplicate(ctx, store.Duplicate{OfferID: req.OfferID, AffID: affID, Event: req.Event, InvoiceID: req.InvoiceID,
		WorkflowID: req.WorkflowID, RequestID: req.ConversionID})
	return true, err
}

// postbackToken reads the advertiser's token from the token parameter or X-Postback-Token.
func postbackToken(c *gin.Context, p Params) (string, error) {
	param, err := p.Value("token")
	if err != nil {
		return "", err
	}
	header := c.GetHeader("X-Postback-Token")
	switch {
	case param != "" && header != "" && param != header:
		return "", domain.FieldError("token", "the token parameter and X-Postback-Token differ")
	case param != "":
		return param, nil
	case header != "":
		return header, nil
	}
	return "", domain.Errorf(domain.Unauthorized, "token: a postback token is required")
}

// advertiser authenticates a postback token (found by its hash, compared in constant time: see
// store.AdvertiserByToken); a token that matches no advertiser is a 401.
func (s *server) advertiser(ctx context.Context, token string) (*store.Advertiser, error) {
	if checkText("token", token, 255) != nil {
		// No stored token is longer, holds NUL or invalid UTF-8 (which PostgreSQL would refuse
		// to compare, a 500): it matches none.
		return nil, domain.Errorf(domain.Unauthorized, "token: not a valid postback token")
	}
	adv, err := s.store.AdvertiserByToken(ctx, token)
	if domain.ErrorKind(err) == domain.NotFound {
		return nil, domain.Errorf(domain.Unauthorized, "token: not a valid postback token")
	}
	return adv, err
}

// ipAllowed reports whether ip is in the allow-list; an empty list allows every address.
func ipAllowed(allowed []string, ip string) bool {
	if len(allowed) == 0 {
		return true
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, cidr := range allowed {
		// ParsePrefix also reads an entry stored before mapped forms were normalised.
		if p, err := ParsePrefix(cidr); err == nil && p.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}

// activeOffer reads an offer that takes traffic; unknown or paused is NotFound.
func (s *server) activeOffer(ctx context.Context, id int64) (*store.Offer, error) {
	o, _, err := s.cache.trackedOffer(ctx, id)
	if domain.ErrorKind(err) == domain.NotFound || (err == nil && o.Status != domain.StatusActive) {
		return nil, offerNotFound()
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}

// activeAffiliate checks that an affiliate exists and is active; otherwise NotFound.
func (s *server) activeAffiliate(ctx context.Context, id int64) error {
	a, err := s.cache.affiliate(ctx, id)
	if domain.ErrorKind(err) == domain.NotFound || (err == nil && a.Status != domain.StatusActive) {
		return domain.Errorf(domain.NotFound, "aff_id: affiliate not found or not active")
	}
	return err
}

// offerNotFound is the tracking endpoints' 404 for an offer that is unknown, paused or (on a
// postback) another advertiser's: one message, naming the field (API.md, "Errors"), so a
// caller cannot tell the cases apart.
func offerNotFound() error {
	return domain.Errorf(domain.NotFound, "offer_id: offer not found or not active")
}

// Stored header sizes: enough for any real browser, and a bound on what one request may store.
const (
	maxUserAgent = 1024
	maxReferer   = 2048
)

// userAgent is the request's user agent as clicks store it and the backup lookup compares it.
func userAgent(r *http.Request) string { return store.StorableText(r.UserAgent(), maxUserAgent) }

func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
