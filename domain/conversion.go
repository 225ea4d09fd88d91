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
)

// Conversion is one credited (or rejected) sale.
type Conversion struct {
	ID                 string    `json:"id" db:"id"`
	OfferID            int64     `json:"offer_id" db:"offer_id"`
	AffID              *int64    `json:"aff_id" db:"aff_id"`
	SubID              *string   `json:"sub_id" db:"sub_id"`
	CreativeID         *int64    `json:"creative_id" db:"creative_id"`
	ClickID            *string   `json:"click_id" db:"click_id"`
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
