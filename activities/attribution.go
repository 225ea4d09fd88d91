package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// Attribution is who referred a conversion and the facts the conversion rules read about it: the
// workflow's first step, shown in its history. It decides nothing: domain.Decide does, when Record
// stores the conversion.
type Attribution struct {
	Method     string `json:"method,omitempty"` // cookie, backup, click_id, afid; empty when unattributed
	ClickID    string `json:"click_id,omitempty"`
	AffID      int64  `json:"aff_id,omitempty"`
	SubID      string `json:"sub_id,omitempty"`
	CreativeID int64  `json:"creative_id,omitempty"`
	IP         string `json:"ip,omitempty"`
	// ClickCreatedAt is when the attributed click was made (zero without a click).
	ClickCreatedAt time.Time `json:"click_created_at,omitzero"`
	// AffiliateActive is whether the credited affiliate is active.
	AffiliateActive bool          `json:"affiliate_active,omitempty"`
	Payout          domain.Payout `json:"payout"` // the affiliate's override for the offer if set, else the offer's
	Currency        string        `json:"currency"`
	// SingleUse is true when the click may earn only one conversion (the offer is not multi_conversion).
	SingleUse bool `json:"single_use"`
	// CookieWindow is the offer's cookie window; zero only in histories recorded before Attribute
	// returned facts, whose decision it carried in RejectReason instead.
	CookieWindow time.Duration `json:"cookie_window,omitempty"`
	// RejectReason is the rejection Attribute decided before domain.Decide existed. Only workflows
	// started by an older worker carry it; RecordInput.DecideInput reads it for them.
	RejectReason string `json:"reject_reason,omitempty"`
}

// ErrTypeNotFound marks a non-retryable failure: the offer vanished between the API and the worker.
const ErrTypeNotFound = "NotFound"

// nonRetryableNotFound makes a NotFound error (an offer, click or affiliate that vanished between
// the API and the worker) fail the activity for good; any other error is retried.
func nonRetryableNotFound(err error) error {
	if domain.ErrorKind(err) == domain.NotFound {
		return temporal.NewNonRetryableApplicationError(domain.ErrorMessage(err), ErrTypeNotFound, err)
	}
	return err
}

// cookieClickWait bounds how long Attribute waits for a cookie's click to be stored. docs/API.md makes
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
func (a *Activities) Attribute(ctx context.Context, in domain.ConversionRequest) (Attribution, error) {
	offer, err := a.Store.Offer(ctx, in.OfferID)
	if err != nil {
		return Attribution{}, nonRetryableNotFound(err)
	}
	out := Attribution{Currency: offer.Currency, SingleUse: !offer.MultiConversion, IP: in.IP, CookieWindow: offer.CookieWindow()}
	since := in.ReceivedAt.Add(-offer.CookieWindow())

	var click *store.Click
	switch in.Source {
	case domain.SourceClickID:
		click, err = a.Store.Click(ctx, in.ClickID)
		if err != nil {
			return Attribution{}, nonRetryableNotFound(err)
		}
		out.Method = domain.MethodClickID
	case domain.SourceAFID:
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
				return out, nil // unattributed: no Method
			}
		}
	}
	if click != nil {
		out.ClickID, out.AffID, out.IP, out.ClickCreatedAt = click.ClickID, click.AffID, click.IP, click.CreatedAt
		if click.SubID != nil {
			out.SubID = *click.SubID
		}
		if click.CreativeID != nil {
			out.CreativeID = *click.CreativeID
		}
	}

	aff, err := a.Store.Affiliate(ctx, out.AffID)
	if err != nil {
		return Attribution{}, nonRetryableNotFound(err)
	}
	out.AffiliateActive = aff.Status == domain.StatusActive
	if out.Payout, err = a.Store.PayoutFor(ctx, offer, aff.ID); err != nil {
		return Attribution{}, fmt.Errorf("attribute: %w", err)
	}
	return out, nil
}
