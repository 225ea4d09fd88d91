package domain

import "time"

// DecideInput is everything the conversion rules read, as plain values: the request, what
// attribution found, the offer's rules and the counters the rules need. A new rule adds its
// fact here and one case to Decide.
type DecideInput struct {
	// Now is when the conversion was received: the time the rules are applied at, so a request
	// stored late (its workflow retried through a database outage) is judged as it arrived.
	Now time.Time

	// The request.
	Event        string // the event's name; empty for the offer's plain conversion
	Test         bool   // a test conversion (test=1): decided by the same rules, it claims no click and never counts in caps
	Amount       Money  // the sale amount
	CustomPayout *Money // a valid custom payout replaces the commission (nil: none)
	CustomStatus string // "rejected" or "pending" from the advertiser; empty otherwise

	// What attribution found.
	Method          string    // how it was attributed (MethodCookie, ...); empty when unattributed
	ClickFound      bool      // the conversion is attributed to a stored click
	ClickCreatedAt  time.Time // when that click was made
	ClickUsed       bool      // that click already earned a conversion (read under its row lock)
	AffiliateActive bool      // the credited affiliate is active

	// The offer's rules.
	Payout          Payout        // the affiliate's override for the offer if set, else the offer's payout
	MultiConversion bool          // a click may earn more than one conversion
	CookieWindow    time.Duration // how long after its click a conversion may be credited to it
	// MinConversion is the offer's min_conversion_seconds: a conversion sooner after its click is too_fast.
	MinConversion time.Duration

	// Caps are the offer's and the affiliate's caps that apply to this conversion, each with the
	// slots already taken, read under the counters' row locks (empty: no cap applies).
	Caps []CapCounter
}

// Decision is a conversion's status, its rejection reason (empty unless rejected) and its
// commission (zero when rejected).
type Decision struct {
	Status     string
	Reason     string
	Commission Money
}

// Decide applies docs/API.md's conversion rules in their order; the first that applies is the reason.
// It is the one place a conversion's status and commission are decided. It is pure, so it runs
// where its inputs are exact: inside the transaction that records the conversion, holding the
// click's row lock (ClickUsed is then the truth under concurrency).
func Decide(in DecideInput) Decision {
	switch {
	case in.Method == "":
		return rejected(ReasonUnattributed)
	case in.ClickFound && !in.MultiConversion && in.ClickUsed:
		return rejected(ReasonClickUsed)
	case in.ClickFound && in.ClickCreatedAt.Before(in.Now.Add(-in.CookieWindow)):
		return rejected(ReasonClickExpired)
	case !in.AffiliateActive:
		return rejected(ReasonInactiveAffiliate)
	case in.ClickFound && in.MinConversion > 0 && in.Now.Sub(in.ClickCreatedAt) < in.MinConversion:
		return rejected(ReasonTooFast)
	case in.CountsInCaps() && anyFull(in.Caps):
		return rejected(ReasonOverCap)
	case in.CustomStatus == ConversionRejected:
		return rejected(ReasonAdvertiser)
	}
	d := Decision{Status: ConversionApproved, Commission: in.Payout.Commission(in.Amount)}
	if in.CustomPayout != nil {
		d.Commission = *in.CustomPayout
	}
	if in.CustomStatus == ConversionPending {
		d.Status = ConversionPending
	}
	return d
}

// CountsInCaps reports whether the conversion is one caps count: a plain (not event) conversion
// that is not a test.
func (in DecideInput) CountsInCaps() bool { return in.Event == "" && !in.Test }

// TakesCapSlot reports whether recording this decision takes a slot of each cap: a counted
// conversion that is approved or held. A rejection takes none.
func (in DecideInput) TakesCapSlot(d Decision) bool {
	return in.CountsInCaps() && d.Status != ConversionRejected
}

func anyFull(caps []CapCounter) bool {
	for _, c := range caps {
		if c.Full() {
			return true
		}
	}
	return false
}

// ClaimsClick reports whether recording this decision makes its click used: a single-use click
// is claimed by the conversion it credits, not by one it rejects, nor by a test conversion.
func (in DecideInput) ClaimsClick(d Decision) bool {
	return !in.Test && in.ClickFound && !in.MultiConversion && d.Status != ConversionRejected
}

// Apply sets the conversion's status, reason and commission to the decision's.
func (c *Conversion) Apply(d Decision) {
	c.Status, c.Commission, c.Reason = d.Status, d.Commission, nil
	if d.Reason != "" {
		c.Reason = &d.Reason
	}
}

func rejected(reason string) Decision {
	return Decision{Status: ConversionRejected, Reason: reason}
}
