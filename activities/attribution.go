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

// Attribution is who referred a conversion and the facts the conversion rules read about it: the
// workflow's first step, shown in its history. It decides nothing: domain.Decide does, when Record
// stores the conversion.
type Attribution struct {
	Method     string    `json:"method,omitempty"` // first_party, cookie, backup, click_id, afid; empty when unattributed
	ClickID    string    `json:"click_id,omitempty"`
	AffID      int64     `json:"aff_id,omitempty"`
	SubID      string    `json:"sub_id,omitempty"`
	Subs       [4]string `json:"subs,omitzero"` // sub2..sub5 of the click or the AFID post
	CreativeID int64     `json:"creative_id,omitempty"`
	IP         string    `json:"ip,omitempty"`
	// ClickCreatedAt is when the attributed click was made (zero without a click).
	ClickCreatedAt time.Time `json:"click_created_at,omitzero"`
	// AffiliateActive is whether the credited affiliate is active.
	AffiliateActive bool `json:"affiliate_active,omitempty"`
	// Payout is the event's payout for an event conversion; else the affiliate's override for the
	// offer if set, else the offer's.
	Payout   domain.Payout `json:"payout"`
	Currency string        `json:"currency"`
	// SingleUse is true when the click may earn only one conversion (the offer is not multi_conversion).
	SingleUse bool `json:"single_use"`
	// CookieWindow is the offer's cookie window; zero only in histories recorded before Attribute
	// returned facts, whose decision it carried in RejectReason instead.
	CookieWindow time.Duration `json:"cookie_window,omitempty"`
	// RejectReason is the rejection Attribute decided before domain.Decide existed. Only workflows
	// started by an older worker carry it; RecordInput.DecideInput reads it for them.
	RejectReason string `json:"reject_reason,omitempty"`
	// MinConversion is the offer's min_conversion_seconds (too_fast).
	MinConversion time.Duration `json:"min_conversion,omitempty"`
	// Caps are the offer's caps and time zone; zero in histories recorded before caps existed.
	Caps store.CapRules `json:"caps,omitzero"`
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

// cookieClickPatience bounds how long after a conversion was received its cookie's click is waited
// for while no later click is stored anywhere (a quiet network): past it the click counts as
// lost, and the conversion goes on by the next way, rather than retrying for days. This process's
// own writer still holding rows is always waited for.
const cookieClickPatience = 10 * time.Minute

// cookieClickPoll is how often a wait for a cookie's click looks again when no writer of this
// process can wake it (the click was redirected by another API process).
const cookieClickPoll = 50 * time.Millisecond

// cookieClick reads the click a tf_ cookie names. A click not stored yet is waited for only when
// its ID is authentic (minted with CLICK_ID_KEY) and inside the window: until its creation time
// (to the second) plus the writers' Freshness bound, or, past that, one more Freshness from now. A
// forged, pre-format or old unknown ID costs one index lookup and no wait (issue 8, finding 2).
//
// An authentic click is given up (the conversion tries the next way) only once the writers are
// demonstrably past it: this process's writer has stored every row it held before the wait, and
// a click made a second after it is stored, or cookieClickPatience has passed since the conversion
// was received. Until then it may still be in some API process's writer (Postgres is just back
// from an outage and the writers are catching up), so the attempt fails with a retryable
// Unavailable error instead of crediting another click, or none.
func (a *Activities) cookieClick(ctx context.Context, clickID string, since, received time.Time) (*store.Click, error) {
	c, err := a.Store.Click(ctx, clickID)
	if err == nil {
		a.Metrics.CookieClick(metrics.CookieClickFound)
		return c, nil
	}
	if domain.ErrorKind(err) != domain.NotFound {
		return nil, err
	}
	createdAt, authentic := a.ClickIDKey.Verify(clickID)
	if !authentic || createdAt.Before(since.Add(-time.Second)) {
		a.Metrics.CookieClick(metrics.CookieClickUnknown)
		return nil, err
	}
	// passed reports whether the writers have stored a click made a second after this one.
	passed := func() (bool, error) { return a.Store.ClickStoredAfter(ctx, createdAt.Add(time.Second)) }
	freshness := a.ClickWriter.Freshness()
	deadline := createdAt.Add(time.Second + freshness)
	if !time.Now().Before(deadline) {
		done, perr := passed()
		if perr != nil {
			return nil, perr
		}
		if done {
			a.Metrics.CookieClick(metrics.CookieClickUnknown)
			return nil, err
		}
		deadline = time.Now().Add(freshness)
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	synced := a.Clicks == nil
	for {
		if !synced {
			// A click this process redirected is stored when Sync returns; one redirected by
			// another process is looked for every cookieClickPoll.
			synced = a.Clicks.Sync(wctx) == nil
		} else {
			select {
			case <-wctx.Done():
			case <-time.After(cookieClickPoll):
			}
		}
		if wctx.Err() != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c, err = a.Store.Click(ctx, clickID)
		switch {
		case err == nil:
			a.Metrics.CookieClick(metrics.CookieClickFoundAfterWait)
			return c, nil
		case domain.ErrorKind(err) != domain.NotFound:
			return nil, err
		case wctx.Err() == nil:
			continue
		case !synced:
			return nil, domain.Errorf(domain.Unavailable, "the cookie's click is not stored yet: this process's click writer is still catching up")
		}
		done, perr := passed()
		switch {
		case perr != nil:
			return nil, perr
		case !done && time.Since(received) < cookieClickPatience:
			return nil, domain.Errorf(domain.Unavailable, "the cookie's click is not stored yet: no click made after it is stored either")
		}
		a.Metrics.CookieClick(metrics.CookieClickLost)
		return nil, err
	}
}

// Attribute resolves who referred a conversion: the first-party click_id's click, else the
// cookie's click, else the backup DB's latest
// click from the same IP and user agent, or the click of a Click ID post, or the AFID post's
// affiliate; then checks the click's window and the affiliate's status, and picks the payout.
func (a *Activities) Attribute(ctx context.Context, in domain.ConversionRequest) (Attribution, error) {
	offer, err := a.Store.Offer(ctx, in.OfferID)
	if err != nil {
		return Attribution{}, nonRetryableNotFound(err)
	}
	out := Attribution{Currency: offer.Currency, SingleUse: !offer.MultiConversion, IP: in.IP, CookieWindow: offer.CookieWindow(),
		MinConversion: time.Duration(offer.MinConversionSeconds) * time.Second,
		Caps:          store.CapRules{Offer: offer.Caps, Affiliate: offer.AffiliateCaps, Timezone: offer.Timezone}}
	received := in.ReceivedAt
	since := received.Add(-offer.CookieWindow())

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
		out.AffID, out.SubID, out.Subs, out.CreativeID = in.AffID, in.SubID, in.Subs, in.CreativeID
	default:
		// A first-party click_id, then the tf_ cookie: each counts only when it names a stored
		// click of this offer inside the cookie window; otherwise the next way is tried.
		for _, try := range []struct{ id, method string }{
			{in.FirstPartyClickID, domain.MethodFirstParty}, {in.CookieClickID, domain.MethodCookie},
		} {
			if try.id == "" || click != nil {
				continue
			}
			c, err := a.cookieClick(ctx, try.id, since, received)
			switch {
			case err == nil && c.OfferID == in.OfferID && !c.CreatedAt.Before(since):
				click, out.Method = c, try.method
			case err != nil && domain.ErrorKind(err) != domain.NotFound:
				return Attribution{}, err
			}
		}
		if click == nil {
			first := offer.Attribution == domain.AttributionFirstClick
			c, err := a.Store.BackupClick(ctx, in.OfferID, in.IP, in.UserAgent, since, received, first)
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
		out.Subs = click.Subs.Values()
		if click.CreativeID != nil {
			out.CreativeID = *click.CreativeID
		}
	}

	aff, err := a.Store.Affiliate(ctx, out.AffID)
	if err != nil {
		return Attribution{}, nonRetryableNotFound(err)
	}
	out.AffiliateActive = aff.Status == domain.StatusActive
	if in.Event != "" {
		// An event pays its own payout (the API checked that the offer has it).
		ev, err := a.Store.Event(ctx, in.OfferID, in.Event)
		if err != nil {
			return Attribution{}, nonRetryableNotFound(err)
		}
		out.Payout = ev.Payout
		return out, nil
	}
	if out.Payout, err = a.Store.PayoutFor(ctx, offer, aff.ID); err != nil {
		return Attribution{}, fmt.Errorf("attribute: %w", err)
	}
	return out, nil
}
