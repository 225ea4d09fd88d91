package domain

import (
	"fmt"
	"time"
)

// Status values of offers, affiliates and pixels.
const (
	StatusActive = "active"
	StatusPaused = "paused"
)

// Conversion statuses and rejection reasons of docs/API.md.
const (
	ConversionPending  = "pending"
	ConversionApproved = "approved"
	ConversionRejected = "rejected"
	ConversionReversed = "reversed"

	ReasonUnattributed      = "unattributed"
	ReasonClickUsed         = "click_used"
	ReasonClickExpired      = "click_expired"
	ReasonInactiveAffiliate = "inactive_affiliate"
	ReasonTooFast           = "too_fast"
	ReasonOverCap           = "over_cap"
	ReasonAdvertiser        = "advertiser"
	ReasonAdmin             = "admin"
	ReasonHoldExpired       = "hold_expired"
)

// What a held conversion becomes when its offer's hold_seconds run out (API.md, Held conversions).
const (
	HoldExpiryApprove = "approve"
	HoldExpiryReject  = "reject"
)

// Attribution methods of docs/API.md.
const (
	MethodCookie  = "cookie"
	MethodBackup  = "backup"
	MethodClickID = "click_id"
	MethodAFID    = "afid"
	// MethodFirstParty is the click_id that GET /tf.js kept on the advertiser's own site.
	MethodFirstParty = "first_party"
)

// Conversion is one credited (or rejected) sale.
type Conversion struct {
	ID      string  `json:"id" db:"id"`
	OfferID int64   `json:"offer_id" db:"offer_id"`
	AffID   *int64  `json:"aff_id" db:"aff_id"`
	SubID   *string `json:"sub_id" db:"sub_id"`
	Subs
	CreativeID         *int64    `json:"creative_id" db:"creative_id"`
	ClickID            *string   `json:"click_id" db:"click_id"`
	Event              *string   `json:"event" db:"event"` // nil for the plain conversion
	InvoiceID          *string   `json:"invoice_id" db:"invoice_id"`
	Amount             Money     `json:"amount" db:"amount"`
	Currency           string    `json:"currency" db:"currency"`
	Commission         Money     `json:"commission" db:"commission"`
	ReversedCommission *Money    `json:"reversed_commission" db:"reversed_commission"`
	Status             string    `json:"status" db:"status"`
	Reason             *string   `json:"reason" db:"reason"`
	Note               *string   `json:"note" db:"note"` // the admin's text with a reject or a reversal
	AttributionMethod  *string   `json:"attribution_method" db:"attribution_method"`
	WorkflowID         string    `json:"workflow_id" db:"workflow_id"`
	IP                 *string   `json:"ip" db:"ip"`
	CreatedAt          time.Time `json:"created_at" db:"created_at"`
	UpdatedAt          time.Time `json:"updated_at" db:"updated_at"`

	// Test marks a test conversion (test=1): decided by the same rules, but it claims no click,
	// reserves no invoice, counts in no report or cap and fires no pixel.
	Test bool `json:"test" db:"test"`
}

// Macros are the values of docs/API.md's affiliate-pixel macros for one event of the conversion: for
// a reversal, {payout} is the commission withdrawn.
func (c *Conversion) Macros() map[string]string {
	m := map[string]string{
		"transaction_id": c.ID,
		"offer_id":       fmt.Sprint(c.OfferID),
		"amount":         c.Amount.String(),
		"payout":         c.Commission.String(),
		"currency":       c.Currency,
		"status":         c.Status,
	}
	opt := func(name string, v *string) {
		m[name] = ""
		if v != nil {
			m[name] = *v
		}
	}
	opt("click_id", c.ClickID)
	opt("sub_id", c.SubID)
	opt("invoice_id", c.InvoiceID)
	opt("event", c.Event)
	opt("sub2", c.Sub2)
	opt("sub3", c.Sub3)
	opt("sub4", c.Sub4)
	opt("sub5", c.Sub5)
	opt("ip", c.IP)
	m["aff_id"], m["creative_id"] = "", ""
	if c.AffID != nil {
		m["aff_id"] = fmt.Sprint(*c.AffID)
	}
	if c.CreativeID != nil {
		m["creative_id"] = fmt.Sprint(*c.CreativeID)
	}
	if c.Status == ConversionReversed && c.ReversedCommission != nil {
		m["payout"] = c.ReversedCommission.String()
	}
	return m
}

// Subs are an affiliate's sub2..sub5 tracking values beside sub_id (nil when absent), on clicks,
// impressions and conversions.
type Subs struct {
	Sub2 *string `json:"sub2" db:"sub2"`
	Sub3 *string `json:"sub3" db:"sub3"`
	Sub4 *string `json:"sub4" db:"sub4"`
	Sub5 *string `json:"sub5" db:"sub5"`
}

// SubNames are the parameter and macro names of Subs, in order.
var SubNames = [4]string{"sub2", "sub3", "sub4", "sub5"}

// NewSubs makes Subs from their values in SubNames order; an empty value is absent.
func NewSubs(v [4]string) Subs {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		p := s // only a present sub costs an allocation (&s would move s to the heap on every call)
		return &p
	}
	return Subs{Sub2: opt(v[0]), Sub3: opt(v[1]), Sub4: opt(v[2]), Sub5: opt(v[3])}
}

// Values are the subs in SubNames order, "" when absent.
func (s Subs) Values() [4]string {
	val := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return [4]string{val(s.Sub2), val(s.Sub3), val(s.Sub4), val(s.Sub5)}
}
