package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
	"github.com/trackflow/trackflow/store"
)

// RecordInput is the conversion the workflow decided on, to be stored.
type RecordInput struct {
	Conversion domain.Conversion `json:"conversion"`
	// ClaimClick makes the click single-use: a click already used rejects the conversion.
	ClaimClick bool `json:"claim_click"`
}

// RecordOutput is what was stored, and the affiliate pixels to fire when it is approved.
type RecordOutput struct {
	Conversion domain.Conversion `json:"conversion"`
	Duplicate  bool              `json:"duplicate"`
	Pixels     []store.Pixel     `json:"pixels"`
}

// Record stores the conversion (reserving its invoice and claiming its click in one transaction)
// and lists the affiliate's active pixels for the offer.
func (a *Activities) Record(ctx context.Context, in RecordInput) (RecordOutput, error) {
	res, err := a.Store.RecordConversion(ctx, in.Conversion, in.ClaimClick)
	if err != nil {
		return RecordOutput{}, err
	}
	switch {
	case res.Replayed: // an earlier attempt stored and counted it
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
	return out, nil
}

// StatusChange moves a conversion between statuses (a held conversion approved or rejected, an
// approved one reversed).
type StatusChange struct {
	ConversionID string  `json:"conversion_id"`
	From         string  `json:"from"`
	To           string  `json:"to"`
	Reason       *string `json:"reason,omitempty"`
}

// SetStatus applies a status change and lists the pixels to fire for it; it is idempotent (a
// retry after success returns the row).
func (a *Activities) SetStatus(ctx context.Context, in StatusChange) (RecordOutput, error) {
	c, err := a.Store.SetConversionStatus(ctx, in.ConversionID, in.From, in.To, in.Reason)
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
