package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
)

// RecordInput is what the workflow gathered: the request and its attribution. Record decides the
// conversion from them (domain.Decide) inside the transaction that stores it.
type RecordInput struct {
	Request     domain.ConversionRequest `json:"request"`
	Attribution Attribution              `json:"attribution"`
}

// RecordOutput is what was stored, and the affiliate pixels to fire when it is approved.
type RecordOutput struct {
	Conversion domain.Conversion `json:"conversion"`
	Duplicate  bool              `json:"duplicate"`
	Pixels     []store.Pixel     `json:"pixels"`
	// Hold is the offer's hold setting, read when the conversion is held (pending); histories
	// recorded before holds expired lack it, and a zero Hold waits for a decision.
	Hold Hold `json:"hold,omitzero"`
}

// Hold is how long a held conversion waits for a decision and what it becomes when none came.
type Hold struct {
	Seconds int64  `json:"seconds,omitempty"` // 0: wait until a decision comes
	Expiry  string `json:"expiry,omitempty"`  // domain.HoldExpiryApprove or HoldExpiryReject
	// Left is what remains of the hold when Record returns: Seconds less the time since the
	// conversion was stored (at least a millisecond), so the hold runs from when the conversion was
	// recorded (API.md) even when the workflow task that recorded it is retried later (its worker
	// died before the timer was started, and Record answers from the stored row). Zero when
	// Seconds is, and in histories recorded before it, whose timers ran Seconds.
	Left time.Duration `json:"left,omitempty"`
}

// holdOf is the hold of a conversion held since storedAt, for an offer's hold_seconds and
// hold_expiry, as of now.
func holdOf(seconds int64, expiry string, storedAt, now time.Time) Hold {
	h := Hold{Seconds: seconds, Expiry: expiry}
	if seconds > 0 {
		full := time.Duration(seconds) * time.Second
		h.Left = min(max(full-now.Sub(storedAt), time.Millisecond), full)
	}
	return h
}

// Record decides and stores the conversion (reserving its invoice and claiming its click in one
// transaction) and lists the affiliate's active pixels for the offer.
func (a *Activities) Record(ctx context.Context, in RecordInput) (RecordOutput, error) {
	res, err := a.Store.RecordConversion(ctx, in.Conversion(), in.DecideInput(), in.Attribution.Caps)
	if err != nil {
		return RecordOutput{}, err
	}
	switch {
	case res.Replayed: // an earlier attempt stored and counted it
	case res.Conversion.Test: // a test conversion counts nowhere
	case res.Duplicate:
		a.Metrics.Duplicate(metrics.LayerDatabase)
	default:
		a.Metrics.Conversion(res.Conversion.Status)
	}
	out := RecordOutput{Conversion: res.Conversion, Duplicate: res.Duplicate}
	if !res.Duplicate && res.Conversion.AffID != nil {
		if out.Pixels, err = a.Store.ActivePixels(ctx, *res.Conversion.AffID, res.Conversion.OfferID); err != nil {
			return RecordOutput{}, fmt.Errorf("record: %w", err)
		}
	}
	if !res.Duplicate && res.Conversion.Status == domain.ConversionPending {
		offer, err := a.Store.Offer(ctx, res.Conversion.OfferID)
		if err != nil {
			return RecordOutput{}, nonRetryableNotFound(err)
		}
		out.Hold = holdOf(offer.HoldSeconds, offer.HoldExpiry, res.Conversion.CreatedAt, time.Now())
	}
	return out, nil
}

// Conversion is the conversion to store, before its decision: who referred it and what it is.
func (in RecordInput) Conversion() domain.Conversion {
	req, att := in.Request, in.Attribution
	c := domain.Conversion{
		ID: req.ConversionID, OfferID: req.OfferID, WorkflowID: req.WorkflowID,
		Amount: req.Amount, Currency: att.Currency, Test: req.Test,
	}
	if req.CustomCurrency != "" {
		c.Currency = req.CustomCurrency
	}
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	optID := func(v int64) *int64 {
		if v == 0 {
			return nil
		}
		return &v
	}
	c.InvoiceID, c.IP, c.AttributionMethod = opt(req.InvoiceID), opt(att.IP), opt(att.Method)
	c.ClickID, c.SubID = opt(att.ClickID), opt(att.SubID)
	c.AffID, c.CreativeID = optID(att.AffID), optID(att.CreativeID)
	c.Subs, c.Event = domain.NewSubs(att.Subs), opt(req.Event)
	return c
}

// DecideInput gathers domain.Decide's inputs; the store adds ClickUsed under the click's lock.
func (r RecordInput) DecideInput() domain.DecideInput {
	req, att := r.Request, r.Attribution
	in := domain.DecideInput{
		Now: req.ReceivedAt, Event: req.Event, Amount: req.Amount, CustomPayout: req.CustomPayout, CustomStatus: req.CustomStatus,
		Method: att.Method, ClickFound: att.ClickID != "", ClickCreatedAt: att.ClickCreatedAt,
		AffiliateActive: att.AffiliateActive, Payout: att.Payout, MultiConversion: !att.SingleUse,
		CookieWindow: att.CookieWindow, MinConversion: att.MinConversion, Test: req.Test,
	}
	if att.CookieWindow == 0 {
		// An attribution from an older worker's history: it checked the window and the affiliate
		// itself and carried its verdict in RejectReason. Restate that verdict as facts.
		in.CookieWindow, in.ClickCreatedAt = time.Nanosecond, req.ReceivedAt
		in.AffiliateActive = att.RejectReason != domain.ReasonInactiveAffiliate
		switch att.RejectReason {
		case domain.ReasonUnattributed:
			in.Method = ""
		case domain.ReasonClickExpired:
			in.ClickCreatedAt = req.ReceivedAt.Add(-time.Second)
		}
	}
	return in
}

// StatusChange moves a conversion between statuses (a held conversion approved or rejected, an
// approved one reversed).
type StatusChange struct {
	ConversionID string  `json:"conversion_id"`
	From         string  `json:"from"`
	To           string  `json:"to"`
	Reason       *string `json:"reason,omitempty"`
	// Note is the admin's text (a reject's or a reversal's reason), kept as the conversion's note.
	Note *string `json:"note,omitempty"`
}

// SetStatus applies a status change and lists the pixels to fire for it; it is idempotent (a
// retry after success returns the row).
func (a *Activities) SetStatus(ctx context.Context, in StatusChange) (RecordOutput, error) {
	reason, note := in.Reason, in.Note
	if in.To == domain.ConversionReversed && note == nil {
		// A reversal started before notes existed put its text in Reason: it is a note.
		reason, note = nil, in.Reason
	}
	c, err := a.Store.SetConversionStatus(ctx, in.ConversionID, in.From, in.To, reason, note)
	if err != nil {
		if domain.ErrorKind(err) == domain.Conflict || domain.ErrorKind(err) == domain.NotFound {
			return RecordOutput{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeConflict, nil)
		}
		return RecordOutput{}, err
	}
	out := RecordOutput{Conversion: *c}
	if c.AffID != nil && (c.Status == domain.ConversionApproved || c.Status == domain.ConversionReversed) {
		if out.Pixels, err = a.Store.ActivePixels(ctx, *c.AffID, c.OfferID); err != nil {
			return RecordOutput{}, fmt.Errorf("set status: %w", err)
		}
	}
	return out, nil
}

// ErrTypeConflict marks a status change the conversion's current status does not allow.
const ErrTypeConflict = "Conflict"
