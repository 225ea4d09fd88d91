package domain

import "time"

// ConversionRequest is one conversion as the API received it: the workflow's input.
type ConversionRequest struct {
	ConversionID string `json:"conversion_id"` // the transaction id, made by the API
	WorkflowID   string `json:"workflow_id"`
	OfferID      int64  `json:"offer_id"`
	InvoiceID    string `json:"invoice_id,omitempty"`
	Amount       Money  `json:"amount"`
	// Source says how to attribute: the cookie or backup DB (pixel, form), a Click ID post, an AFID post.
	Source        string `json:"source"`
	CookieClickID string `json:"cookie_click_id,omitempty"`
	ClickID       string `json:"click_id,omitempty"`
	AffID         int64  `json:"aff_id,omitempty"`
	SubID         string `json:"sub_id,omitempty"`
	// Subs are an AFID post's sub2..sub5 (a click's come from the click).
	Subs [4]string `json:"subs,omitzero"`
	// Event is the event's name; empty for the offer's plain conversion.
	Event      string `json:"event,omitempty"`
	CreativeID int64  `json:"creative_id,omitempty"`
	IP         string `json:"ip"`
	UserAgent  string `json:"user_agent,omitempty"`
	// Custom conversion parameters, already validated; only set when the offer allows them.
	CustomPayout   *Money    `json:"custom_payout,omitempty"`
	CustomCurrency string    `json:"custom_currency,omitempty"`
	CustomStatus   string    `json:"custom_status,omitempty"`
	ReceivedAt     time.Time `json:"received_at"`
	// Retry is the affiliate-pixel retry schedule, from configuration.
	Retry RetrySchedule `json:"retry"`

	// FirstPartyClickID is a page conversion's click_id parameter (the _tfclid cookie GET /tf.js
	// keeps on the advertiser's site), tried before the tf_ cookie.
	FirstPartyClickID string `json:"first_party_click_id,omitempty"`
	// Test is a test conversion (test=1): see domain.Conversion.Test.
	Test bool `json:"test,omitempty"`
}

// The sources of a conversion request.
const (
	SourcePage    = "page" // image pixel or form post: first-party click_id, cookie, then backup DB
	SourceClickID = "click_id"
	SourceAFID    = "afid"
)

// RetrySchedule is how affiliate pixels are retried (POSTBACK_RETRY_*) and how long one attempt
// may take (POSTBACK_TIMEOUT). It travels in the workflow's input, so a conversion keeps the
// schedule it started with.
type RetrySchedule struct {
	Initial     time.Duration `json:"initial"`
	MaxInterval time.Duration `json:"max_interval"`
	For         time.Duration `json:"for"`
	// AttemptTimeout bounds one attempt; zero (a workflow started before it existed) means PixelTimeout.
	AttemptTimeout time.Duration `json:"attempt_timeout,omitempty"`
}

// Timeout is the time one pixel attempt may take.
func (s RetrySchedule) Timeout() time.Duration {
	if s.AttemptTimeout > 0 {
		return s.AttemptTimeout
	}
	return PixelTimeout
}

// DefaultRetrySchedule is docs/API.md's: first retry after 1 s, doubling, at most 1 h apart, for 72 h,
// 10 s per attempt.
var DefaultRetrySchedule = RetrySchedule{Initial: time.Second, MaxInterval: time.Hour, For: 72 * time.Hour,
	AttemptTimeout: PixelTimeout}

// PixelTimeout is the default bound of one attempt to fire an affiliate pixel (docs/API.md: 10 s per
// attempt); POSTBACK_TIMEOUT changes it (RetrySchedule.AttemptTimeout).
const PixelTimeout = 10 * time.Second
