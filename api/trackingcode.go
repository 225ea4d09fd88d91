package api

import (
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// TrackingCode is GET /api/v1/offers/:id/tracking-code's answer: ready-to-paste snippets for one
// offer. Values only the affiliate or the advertiser's cart knows are placeholders in braces,
// listed in Placeholders; the advertiser's postback token is filled in.
type TrackingCode struct {
	OfferID int64 `json:"offer_id"`
	// AffID is the affiliate filled into the links (the aff_id query parameter), or null.
	AffID   *int64 `json:"aff_id"`
	BaseURL string `json:"base_url"`
	// TrackingLink is the affiliate's link: GET /click.
	TrackingLink string `json:"tracking_link"`
	// ImpressionPixel is the affiliate's <img> for banner views: GET /impression.
	ImpressionPixel string `json:"impression_pixel"`
	// ImagePixel is the advertiser's thank-you page <img>: GET /pixel.
	ImagePixel string `json:"image_pixel"`
	// HTMLForm is the advertiser's checkout form alternative: POST /conversion.
	HTMLForm string `json:"html_form"`
	// ClickIDPostback and AFIDPostback are the advertiser's server-to-server URLs: /postback.
	ClickIDPostback string `json:"click_id_postback"`
	AFIDPostback    string `json:"afid_postback"`
	// LandingURL is the offer's landing_url carrying tfclid={click_id}, for GET /tf.js: set it as
	// the offer's landing_url (it is the offer's own when it already carries tfclid).
	LandingURL string `json:"landing_url"`
	// LandingPageScript goes on the advertiser's landing page: it keeps the click in a first-party
	// cookie. ThankYouPageScript goes on the thank-you page (with LandingPageScript's script it
	// may replace ImagePixel): it reports the sale with that click, where third-party cookies are
	// blocked.
	LandingPageScript  string            `json:"landing_page_script"`
	ThankYouPageScript string            `json:"thank_you_page_script"`
	Placeholders       map[string]string `json:"placeholders"`
	// Events are the offer's named events, each with its image pixel and Click ID postback.
	Events []EventCode `json:"events"`
}

// EventCode is the snippets of one of the offer's events: the plain snippets with event=<name>.
type EventCode struct {
	Name            string `json:"name"`
	ImagePixel      string `json:"image_pixel"`
	ClickIDPostback string `json:"click_id_postback"`
}

// trackingCode handles GET /api/v1/offers/:id/tracking-code.
func (s *server) trackingCode(c *gin.Context) error {
	ctx := c.Request.Context()
	affID, err := queryID(c, "aff_id")
	if err != nil {
		return err
	}
	offer, err := s.pathOffer(c)
	if err != nil {
		return err
	}
	adv, err := s.store.Advertiser(ctx, offer.AdvertiserID)
	if err != nil {
		return err
	}
	aff := "{aff_id}"
	if affID != 0 {
		if _, err := s.store.Affiliate(ctx, affID); err != nil {
			return named(err, "aff_id", "affiliate")
		}
		aff = strconv.FormatInt(affID, 10)
	}
	base := s.publicBase(c.Request)
	offer64 := strconv.FormatInt(offer.ID, 10)
	token := url.QueryEscape(adv.PostbackToken)
	affQuery := "offer_id=" + offer64 + "&aff_id=" + aff + "&sub_id={sub_id}&sub2={sub2}&sub3={sub3}&sub4={sub4}&sub5={sub5}"
	sale := "amount={amount}&id={order_id}"

	out := TrackingCode{
		OfferID:         offer.ID,
		BaseURL:         base,
		TrackingLink:    base + "/click?" + affQuery,
		ImpressionPixel: pixelTag(base + "/impression?" + affQuery),
		ImagePixel:      pixelTag(base + "/pixel?offer_id=" + offer64 + "&" + sale),
		HTMLForm: strings.Join([]string{
			`<form method="post" action="` + html.EscapeString(base+"/conversion") + `">`,
			`  <input type="hidden" name="offer_id" value="` + offer64 + `">`,
			`  <input type="hidden" name="amount" value="{amount}">`,
			`  <input type="hidden" name="id" value="{order_id}">`,
			`  <button type="submit">Complete order</button>`,
			`</form>`,
		}, "\n"),
		LandingURL:        withTFClid(offer.LandingURL),
		LandingPageScript: `<script src="` + html.EscapeString(base+"/tf.js") + `" async></script>`,
		ThankYouPageScript: strings.Join([]string{
			`<script>`,
			`  window.trackflow = window.trackflow || [];`,
			`  trackflow.conversion = trackflow.conversion || function (c) { trackflow.push(["conversion", c]); };`,
			`  trackflow.conversion({offer_id: ` + offer64 + `, amount: "{amount}", id: "{order_id}"});`,
			`</script>`,
			`<script src="` + html.EscapeString(base+"/tf.js") + `" async></script>`,
		}, "\n"),
		ClickIDPostback: base + "/postback?token=" + token + "&click_id={click_id}&" + sale,
		AFIDPostback:    base + "/postback?token=" + token + "&" + affQuery + "&" + sale,
		Placeholders: map[string]string{
			"{sub_id}":   "the affiliate's own tracking value (optional: remove it or leave it empty; sub1 is an alias)",
			"{sub2}":     "more of the affiliate's tracking values, {sub2} to {sub5} (optional: remove them or leave them empty)",
			"{amount}":   "the sale amount, like 19.95",
			"{order_id}": "the order or invoice number: each one converts once (optional)",
			"{click_id}": "the click ID the landing page received ({click_id} macro of the offer's landing_url)",
		},
	}
	events, err := s.store.Events(ctx, offer.ID, 0)
	if err != nil {
		return err
	}
	out.Events = make([]EventCode, len(events))
	for i, e := range events {
		ev := "&event=" + e.Name
		out.Events[i] = EventCode{Name: e.Name,
			ImagePixel:      pixelTag(base + "/pixel?offer_id=" + offer64 + ev + "&" + sale),
			ClickIDPostback: out.ClickIDPostback + ev,
		}
	}
	if affID != 0 {
		out.AffID = &affID
	} else {
		out.Placeholders["{aff_id}"] = "the affiliate's id"
	}
	// PureJSON: the snippets stay readable (no \u003c for <) for whoever copies them from curl.
	c.PureJSON(http.StatusOK, out)
	return nil
}

// pixelTag is the hidden 1x1 <img> of a pixel URL.
func pixelTag(src string) string {
	return `<img src="` + html.EscapeString(src) + `" width="1" height="1" style="display:none" alt="">`
}

// withTFClid adds tfclid={click_id} to a landing URL's query (before any fragment), unless it
// has a tfclid already.
func withTFClid(landing string) string {
	if strings.Contains(landing, "tfclid=") {
		return landing
	}
	u, frag, hasFrag := strings.Cut(landing, "#")
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
		if strings.HasSuffix(u, "?") || strings.HasSuffix(u, "&") {
			sep = ""
		}
	}
	u += sep + "tfclid={click_id}"
	if hasFrag {
		u += "#" + frag
	}
	return u
}

// publicBase is the base URL of the snippets: PUBLIC_URL, else the scheme and Host the request
// came in with (X-Forwarded-Proto and X-Forwarded-Host are believed only from TRUSTED_PROXIES).
func (s *server) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if s.fromTrustedProxy(r) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host, _, _ = strings.Cut(h, ",")
			host = strings.TrimSpace(host)
		}
	}
	return scheme + "://" + host
}
