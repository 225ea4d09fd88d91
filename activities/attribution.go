package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// Attribution is who referred a conversion and what the affiliate earns: the workflow's first
// decision, shown in its history.
type Attribution struct {
	Method       string        `json:"method,omitempty"` // cookie, backup, click_id, afid; empty when unattributed
	RejectReason string        `json:"reject_reason,omitempty"`
	ClickID      string        `json:"click_id,omitempty"`
	AffID        int64         `json:"aff_id,omitempty"`
	SubID        string        `json:"sub_id,omitempty"`
	CreativeID   int64         `json:"creative_id,omitempty"`
	IP           string        `json:"ip,omitempty"`
	Payout       domain.Payout `json:"payout"`
	Currency     string        `json:"currency"`
	// SingleUse is true when the click may earn only one conversion (the offer is not multi_conversion).
	SingleUse bool `json:"single_use"`
}

// ErrTypeNotFound marks a non-retryable failure: the offer vanished between the API and the worker.
const ErrTypeNotFound = "NotFound"

// cookieClickWait bounds how long Attribute waits for a cookie's click to be stored. API.md makes
// a click visible within a second of its redirect; a click writer recovering from a Postgres
// outage stores what it holds within its 1 s back-off of the database's return. Only a cookie
// whose click is not (yet) in Postgres waits: a forged one, or one redirected during an outage.
const cookieClickWait = 3 * time.Second

// cookieClick reads the click a tf_ cookie names, waiting up to cookieClickWait for a click that
// is not stored yet, so that a sale right after a database outage is credited to the click in its
// cookie rather than to whatever the backup lookup finds first.
func (a *Activities) cookieClick(ctx context.Context, clickID string) (*store.Click, error) {
	deadline := time.Now().Add(cookieClickWait)
	for {
		c, err := a.Store.Click(ctx, clickID)
		if err == nil || domain.ErrorKind(err) != domain.NotFound || time.Now().After(deadline) {
			return c, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Attribute resolves who referred a conversion: the cookie's click, else the backup DB's latest
// click from the same IP and user agent, or the click of a Click ID post, or the AFID post's
// affiliate; then checks the click's window and the affiliate's status, and picks the payout.
func (a *Activities) Attribute(ctx context.Context, in ConversionRequest) (Attribution, error) {
	offer, err := a.Store.Offer(ctx, in.OfferID)
	if err != nil {
		if domain.ErrorKind(err) == domain.NotFound {
			return Attribution{}, temporal.NewNonRetryableApplicationError("offer not found", ErrTypeNotFound, err)
		}
		return Attribution{}, err
	}
	out := Attribution{Currency: offer.Currency, SingleUse: !offer.MultiConversion, IP: in.IP}
	since := in.ReceivedAt.Add(-offer.CookieWindow())

	var click *store.Click
	switch in.Source {
	case SourceClickID:
		click, err = a.Store.Click(ctx, in.ClickID)
		if err != nil {
			if domain.ErrorKind(err) == domain.NotFound {
				return Attribution{}, temporal.NewNonRetryableApplicationError("click not found", ErrTypeNotFound, err)
			}
			return Attribution{}, err
		}
		out.Method = domain.MethodClickID
		if click.CreatedAt.Before(since) {
			out.RejectReason = domain.ReasonClickExpired
		}
	case SourceAFID:
		out.Method = domain.MethodAFID
		out.AffID, out.SubID, out.CreativeID = in.AffID, in.SubID, in.CreativeID
	default:
		if in.CookieClickID != "" {
			c, err := a.cookieClick(ctx, in.CookieClickID)
			switch {
			case err == nil && c.OfferID == in.OfferID && !c.CreatedAt.Before(since):
				click, out.Method = c, domain.MethodCookie
			case err != nil && domain.ErrorKind(err) != domain.NotFound:
				return Attribution{}, err
			}
		}
		if click == nil {
			c, err := a.Store.BackupClick(ctx, in.OfferID, in.IP, in.UserAgent, since)
			switch {
			case err == nil:
				click, out.Method = c, domain.MethodBackup
			case domain.ErrorKind(err) != domain.NotFound:
				return Attribution{}, err
			default:
				out.RejectReason = domain.ReasonUnattributed
				return out, nil
			}
		}
	}
	if click != nil {
		out.ClickID, out.AffID, out.IP = click.ClickID, click.AffID, click.IP
		if click.SubID != nil {
			out.SubID = *click.SubID
		}
		if click.CreativeID != nil {
			out.CreativeID = *click.CreativeID
		}
	}

	aff, err := a.Store.Affiliate(ctx, out.AffID)
	if err != nil {
		if domain.ErrorKind(err) == domain.NotFound {
			return Attribution{}, temporal.NewNonRetryableApplicationError("affiliate not found", ErrTypeNotFound, err)
		}
		return Attribution{}, err
	}
	if aff.Status != domain.StatusActive && out.RejectReason == "" {
		out.RejectReason = domain.ReasonInactiveAffiliate
	}
	if out.Payout, err = a.Store.PayoutFor(ctx, offer, aff.ID); err != nil {
		return Attribution{}, fmt.Errorf("attribute: %w", err)
	}
	return out, nil
}
