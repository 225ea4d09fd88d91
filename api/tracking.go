package api

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// click handles GET /click: store a click, set its cookie, redirect to the offer's landing page.
func (s *server) click(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		textError(c, err)
		return
	}
	offerID, err := p.ID("offer_id", true)
	if err != nil {
		textError(c, err)
		return
	}
	affID, subID, creativeID, err := p.Affiliate()
	if err != nil {
		textError(c, err)
		return
	}
	offer, err := s.activeOffer(ctx, offerID)
	if err != nil {
		textError(c, err)
		return
	}
	if err := s.activeAffiliate(ctx, affID); err != nil {
		textError(c, err)
		return
	}
	click := store.Click{
		ClickID: store.NewID(), OfferID: offerID, AffID: affID,
		IP: s.clientIP(c.Request), UserAgent: userAgent(c.Request), Referer: headerText(c.Request.Referer(), maxReferer),
		CreatedAt: time.Now().UTC(),
	}
	if subID != "" {
		click.SubID = &subID
	}
	if creativeID != 0 {
		click.CreativeID = &creativeID
	}
	if err := s.clicks.Add(click); err != nil {
		c.Header("Retry-After", "1") // Unavailable: the buffer is full or the server is stopping
		textError(c, err)
		return
	}
	s.cfg.Metrics.Click()
	location := store.ExpandMacros(offer.LandingURL, map[string]string{
		"click_id": click.ClickID, "offer_id": strconv.FormatInt(offerID, 10),
		"aff_id": strconv.FormatInt(affID, 10), "sub_id": subID, "creative_id": optionalID(creativeID),
	})
	h := c.Writer.Header()
	h.Set("Set-Cookie", "tf_"+strconv.FormatInt(offerID, 10)+"="+click.ClickID+"; Path=/; Max-Age="+
		strconv.Itoa(offer.CookieDays*86400)+"; HttpOnly; Secure; SameSite=None")
	h.Set("X-Click-Id", click.ClickID)
	h.Set("Cache-Control", "no-store")
	h.Set("Location", location)
	c.Status(http.StatusFound)
}

// impression handles GET /impression: store an impression, answer the GIF.
func (s *server) impression(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		gifError(c, err)
		return
	}
	offerID, err := p.ID("offer_id", true)
	if err != nil {
		gifError(c, err)
		return
	}
	affID, subID, creativeID, err := p.Affiliate()
	if err != nil {
		gifError(c, err)
		return
	}
	if _, err := s.activeOffer(ctx, offerID); err != nil {
		gifError(c, err)
		return
	}
	if err := s.activeAffiliate(ctx, affID); err != nil {
		gifError(c, err)
		return
	}
	im := store.Impression{OfferID: offerID, AffID: affID, IP: s.clientIP(c.Request), UserAgent: userAgent(c.Request)}
	if subID != "" {
		im.SubID = &subID
	}
	if creativeID != 0 {
		im.CreativeID = &creativeID
	}
	if err := s.store.InsertImpression(ctx, &im); err != nil {
		gifError(c, err)
		return
	}
	s.cfg.Metrics.Impression()
	writeGIF(c, http.StatusOK)
}

// pixel handles GET /pixel: the thank-you page's image pixel starts a conversion.
func (s *server) pixel(c *gin.Context) {
	wfID, dup, err := s.pageConversion(c)
	if err != nil {
		gifError(c, err)
		return
	}
	c.Header("X-Workflow-Id", wfID)
	if dup {
		c.Header("X-Conversion-Status", "duplicate")
	}
	writeGIF(c, http.StatusOK)
}

// conversion handles POST /conversion: a form post that starts a conversion, then redirects to
// the offer's thank-you page.
func (s *server) conversion(c *gin.Context) {
	wfID, dup, err := s.pageConversion(c)
	if err != nil {
		textError(c, err)
		return
	}
	c.Header("X-Workflow-Id", wfID)
	if dup {
		c.Header("X-Conversion-Status", "duplicate")
	}
	offer := c.MustGet("offer").(*store.Offer)
	if offer.ThankYouURL == "" {
		c.Status(http.StatusNoContent)
		return
	}
	c.Header("Location", offer.ThankYouURL)
	c.Status(http.StatusSeeOther)
}

// pageConversion is the shared part of /pixel and /conversion: attribution by the tf_ cookie or
// the backup DB, in the workflow.
func (s *server) pageConversion(c *gin.Context) (workflowID string, duplicate bool, err error) {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		return "", false, err
	}
	req, err := conversionBase(p, true)
	if err != nil {
		return "", false, err
	}
	offer, err := s.activeOffer(ctx, req.OfferID)
	if err != nil {
		return "", false, err
	}
	c.Set("offer", offer)
	if err := applyCustom(p, offer, &req); err != nil {
		return "", false, err
	}
	req.Source = activities.SourcePage
	if v, err := c.Cookie("tf_" + strconv.FormatInt(req.OfferID, 10)); err == nil && store.IsID(v) {
		req.CookieClickID = v
	}
	req.IP, req.UserAgent = s.clientIP(c.Request), userAgent(c.Request)
	dup, err := s.startConversion(ctx, &req, nil)
	return req.WorkflowID, dup, err
}

// postback handles GET|POST /postback: the advertiser's server-to-server Click ID or AFID post.
func (s *server) postback(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := ParseParams(c.Request)
	if err != nil {
		jsonError(c, err)
		return
	}
	// Parameters first (400), then authentication (401), allow-list (403), existence (404). The
	// custom parameters come last: whether they are read at all depends on the offer.
	clickID, err := p.ClickID(false)
	if err != nil {
		jsonError(c, err)
		return
	}
	req, err := conversionBase(p, clickID == "")
	if err != nil {
		jsonError(c, err)
		return
	}
	if clickID == "" {
		if req.AffID, req.SubID, req.CreativeID, err = p.Affiliate(); err != nil {
			jsonError(c, err)
			return
		}
	}
	token, err := postbackToken(c, p)
	if err != nil {
		jsonError(c, err)
		return
	}
	adv, err := s.advertiser(ctx, token)
	if err != nil {
		jsonError(c, err)
		return
	}
	ip := s.clientIP(c.Request)
	if !ipAllowed(adv.AllowedIPs, ip) {
		jsonError(c, store.Errorf(store.Forbidden, "ip: %s is not in the advertiser's allow-list", ip))
		return
	}

	var offer *store.Offer
	if clickID != "" {
		offer, err = s.postbackClick(ctx, adv, clickID, &req)
	} else {
		offer, err = s.postbackAFID(ctx, adv, &req)
	}
	if err != nil {
		jsonError(c, err)
		return
	}
	if err := applyCustom(p, offer, &req); err != nil {
		jsonError(c, err)
		return
	}
	req.IP = ip
	affID := req.AffID // a duplicate is counted for the click's or the post's affiliate
	dup, err := s.startConversion(ctx, &req, &affID)
	switch {
	case err != nil:
		jsonError(c, err)
	case dup:
		c.JSON(http.StatusOK, gin.H{"status": "duplicate", "workflow_id": req.WorkflowID})
	default:
		c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "workflow_id": req.WorkflowID})
	}
}

// postbackClick resolves a Click ID post's click. A click that is unknown, of another advertiser's
// offer, of an inactive offer, or of another offer than an offer_id given beside it, is not found:
// a caller cannot tell them apart.
func (s *server) postbackClick(ctx context.Context, adv *store.Advertiser, clickID string, req *activities.ConversionRequest) (*store.Offer, error) {
	notFound := store.Errorf(store.NotFound, "click_id: click not found")
	click, err := s.store.Click(ctx, clickID)
	if err != nil {
		if store.ErrorKind(err) == store.NotFound {
			err = notFound
		}
		return nil, err
	}
	if req.OfferID != 0 && req.OfferID != click.OfferID {
		return nil, notFound
	}
	offer, err := s.activeOffer(ctx, click.OfferID)
	if store.ErrorKind(err) == store.NotFound || (err == nil && offer.AdvertiserID != adv.ID) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	// AffID is the click's, so the workflow carries its AffiliateId search attribute from the start.
	req.OfferID, req.Source, req.ClickID, req.AffID = click.OfferID, activities.SourceClickID, clickID, click.AffID
	return offer, nil
}

// postbackAFID resolves an AFID post's offer (active, this advertiser's) and affiliate (known; a
// paused one's conversion is recorded as rejected by the workflow, so the CRM's rebills stay
// visible).
func (s *server) postbackAFID(ctx context.Context, adv *store.Advertiser, req *activities.ConversionRequest) (*store.Offer, error) {
	offer, err := s.activeOffer(ctx, req.OfferID)
	if store.ErrorKind(err) == store.NotFound || (err == nil && offer.AdvertiserID != adv.ID) {
		return nil, store.Errorf(store.NotFound, "offer_id: offer not found or not active")
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Affiliate(ctx, req.AffID); err != nil {
		if store.ErrorKind(err) == store.NotFound {
			err = store.Errorf(store.NotFound, "aff_id: affiliate not found")
		}
		return nil, err
	}
	req.Source = activities.SourceAFID
	return offer, nil
}

// conversionBase reads what every conversion carries: offer_id (unless the click gives it), amount, id.
func conversionBase(p Params, needOffer bool) (activities.ConversionRequest, error) {
	var req activities.ConversionRequest
	var err error
	if req.OfferID, err = p.ID("offer_id", needOffer); err != nil {
		return req, err
	}
	if req.Amount, _, err = p.Money("amount", true); err != nil {
		return req, err
	}
	req.InvoiceID, err = p.Invoice()
	return req, err
}

// applyCustom honours the custom conversion parameters only when the offer allows them.
func applyCustom(p Params, offer *store.Offer, req *activities.ConversionRequest) error {
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
func (s *server) startConversion(ctx context.Context, req *activities.ConversionRequest, affID *int64) (bool, error) {
	req.ConversionID = store.NewID()
	req.WorkflowID = workflows.ConversionWorkflowID(req.OfferID, req.InvoiceID, req.ConversionID)
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
	err = s.store.CountDuplicate(ctx, store.Duplicate{OfferID: req.OfferID, AffID: affID, InvoiceID: req.InvoiceID,
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
		return "", store.FieldError("token", "the token parameter and X-Postback-Token differ")
	case param != "":
		return param, nil
	case header != "":
		return header, nil
	}
	return "", store.Errorf(store.Unauthorized, "token: a postback token is required")
}

// advertiser authenticates a postback token (found by its hash, compared in constant time: see
// store.AdvertiserByToken); a token that matches no advertiser is a 401.
func (s *server) advertiser(ctx context.Context, token string) (*store.Advertiser, error) {
	if checkText("token", token, 255) != nil {
		// No stored token is longer, holds NUL or invalid UTF-8 (which PostgreSQL would refuse
		// to compare, a 500): it matches none.
		return nil, store.Errorf(store.Unauthorized, "token: not a valid postback token")
	}
	adv, err := s.store.AdvertiserByToken(ctx, token)
	if store.ErrorKind(err) == store.NotFound {
		return nil, store.Errorf(store.Unauthorized, "token: not a valid postback token")
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
		if p, err := netip.ParsePrefix(cidr); err == nil && p.Contains(addr) {
			return true
		}
	}
	return false
}

// activeOffer reads an offer that takes traffic; unknown or paused is NotFound.
func (s *server) activeOffer(ctx context.Context, id int64) (*store.Offer, error) {
	o, err := s.cache.offer(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.Status != store.StatusActive {
		return nil, store.Errorf(store.NotFound, "offer not found or not active")
	}
	return o, nil
}

// activeAffiliate checks that an affiliate exists and is active; otherwise NotFound.
func (s *server) activeAffiliate(ctx context.Context, id int64) error {
	a, err := s.cache.affiliate(ctx, id)
	if err != nil {
		return err
	}
	if a.Status != store.StatusActive {
		return store.Errorf(store.NotFound, "affiliate not found or not active")
	}
	return nil
}

// Stored header sizes: enough for any real browser, and a bound on what one request may store.
const (
	maxUserAgent = 1024
	maxReferer   = 2048
)

// userAgent is the request's user agent as clicks store it and the backup lookup compares it.
func userAgent(r *http.Request) string { return headerText(r.UserAgent(), maxUserAgent) }

// headerText makes a request header storable: PostgreSQL text refuses invalid UTF-8, which a
// client may send in a header, so it is replaced (and NUL, which net/http already refuses, is
// dropped); a long value is cut at a character boundary.
func headerText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func optionalID(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}
