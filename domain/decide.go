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

// ClaimsClick reports whether recording this decision makes its click used: a single-use click
// is claimed by the conversion it credits, not by one it rejects.
func (in DecideInput) ClaimsClick(d Decision) bool {
	return in.ClickFound && !in.MultiConversion && d.Status != ConversionRejected
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
