package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trackflow/trackflow/domain"
)

// Event is one of an offer's named conversion events (lead, signup, ...), with its own payout.
type Event struct {
	ID            int64  `json:"id" db:"id"`
	OfferID       int64  `json:"offer_id" db:"offer_id"`
	Name          string `json:"name" db:"name"`
	domain.Payout `json:"payout"`
	CreatedAt     time.Time `json:"created_at" db:"created_at"`
}

const eventColumns = `id, offer_id, name, payout_type, payout_amount, payout_percent, created_at`

// CreateEvent adds an event to an offer: an unknown offer is NotFound, a name the offer already
// has is a Conflict.
func (s *Store) CreateEvent(ctx context.Context, e *Event) error {
	const q = `INSERT INTO offer_events (offer_id, name, payout_type, payout_amount, payout_percent)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`
	err := s.DB.QueryRowxContext(ctx, q, e.OfferID, e.Name, e.Type, e.Amount, e.Percent).Scan(&e.ID, &e.CreatedAt)
	switch {
	case isForeignKeyViolation(err):
		return domain.Errorf(domain.NotFound, "offer not found")
	case isUniqueViolation(err, ""):
		return domain.Errorf(domain.Conflict, "name: the offer already has an event %s", e.Name)
	case err != nil:
		return fmt.Errorf("insert event: %w", err)
	}
	return nil
}

// Events lists an offer's events, newest first (docs/API.md: every list is), at most limit of
// them; limit 0: all of them.
func (s *Store) Events(ctx context.Context, offerID int64, limit int) ([]Event, error) {
	const q = `SELECT ` + eventColumns + ` FROM offer_events WHERE offer_id = $1 ORDER BY id DESC
		LIMIT NULLIF($2::bigint, 0)`
	out := []Event{}
	if err := s.DB.SelectContext(ctx, &out, q, offerID, limit); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}

// Event reads one of an offer's events by name, or NotFound.
func (s *Store) Event(ctx context.Context, offerID int64, name string) (*Event, error) {
	const q = `SELECT ` + eventColumns + ` FROM offer_events WHERE offer_id = $1 AND name = $2`
	var e Event
	if err := s.DB.GetContext(ctx, &e, q, offerID, name); err != nil {
		return nil, notFound(err, "event")
	}
	return &e, nil
}

// CapRules are an offer's caps as RecordConversion applies them.
type CapRules struct {
	Offer     domain.Caps `json:"offer"`
	Affiliate domain.Caps `json:"affiliate"`
	Timezone  string      `json:"timezone,omitempty"`
}

// Any reports whether any cap is set.
func (r CapRules) Any() bool { return r.Offer.Any() || r.Affiliate.Any() }

func (r CapRules) location() *time.Location {
	if loc, err := time.LoadLocation(r.Timezone); err == nil && r.Timezone != "" {
		return loc
	}
	return time.UTC
}

// capKey names one cap counter row.
type capKey struct {
	affID  int64 // 0: the offer's own cap
	period string
	start  time.Time
	limit  int64
}

// capKeys are the counters a conversion of affID at now needs, in the one order every
// transaction locks them in (offer day, offer month, affiliate day, affiliate month), so two
// conversions never wait on each other's counters in a cycle.
func (r CapRules) capKeys(affID int64, now time.Time) []capKey {
	day, month := domain.CapPeriods(now, r.location())
	var keys []capKey
	add := func(aff int64, c domain.Caps) {
		if c.Daily != nil {
			keys = append(keys, capKey{aff, domain.PeriodDay, day, *c.Daily})
		}
		if c.Monthly != nil {
			keys = append(keys, capKey{aff, domain.PeriodMonth, month, *c.Monthly})
		}
	}
	add(0, r.Offer)
	if affID != 0 {
		add(affID, r.Affiliate)
	}
	return keys
}

// lockCapCounters locks the counters of keys (making each the first time its period is used,
// from the conversions already stored in it, so a cap set in the middle of a day counts the
// day's earlier conversions) and reads the slots each has taken.
func lockCapCounters(ctx context.Context, tx *sqlx.Tx, offerID int64, loc *time.Location, keys []capKey) ([]domain.CapCounter, error) {
	const q = `INSERT INTO cap_counters AS k (offer_id, aff_id, period, start, used)
		SELECT $1::bigint, $2::bigint, $3::char(1), $4::date, count(*) FROM conversions
		WHERE offer_id = $1 AND ($2 = 0 OR aff_id = $2) AND event = '' AND NOT test AND status IN ('approved', 'pending')
			AND created_at >= $5::timestamptz AND created_at < $6::timestamptz
		ON CONFLICT (offer_id, aff_id, period, start) DO UPDATE SET used = k.used
		RETURNING used`
	out := make([]domain.CapCounter, len(keys))
	for i, k := range keys {
		from, to := domain.PeriodBounds(k.period, k.start, loc)
		out[i].Limit = k.limit
		if err := tx.GetContext(ctx, &out[i].Used, q, offerID, k.affID, k.period, date(k.start), from, to); err != nil {
			return nil, fmt.Errorf("lock cap counter: %w", err)
		}
	}
	return out, nil
}

// takeCapSlots adds one to the counters of keys (already locked by lockCapCounters).
func takeCapSlots(ctx context.Context, tx *sqlx.Tx, offerID int64, keys []capKey) error {
	const q = `UPDATE cap_counters SET used = used + 1 WHERE offer_id = $1 AND aff_id = $2 AND period = $3 AND start = $4`
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, q, offerID, k.affID, k.period, date(k.start)); err != nil {
			return fmt.Errorf("take cap slot: %w", err)
		}
	}
	return nil
}

// freeCapSlots gives back the slots a conversion took, in the counters' lock order.
func freeCapSlots(ctx context.Context, tx *sqlx.Tx, offerID int64, affID *int64, day, month time.Time) error {
	const q = `UPDATE cap_counters SET used = used - 1
		WHERE offer_id = $1 AND aff_id = ANY($2) AND ((period = 'd' AND start = $3) OR (period = 'm' AND start = $4))`
	affs := []int64{0}
	if affID != nil {
		affs = append(affs, *affID)
	}
	// One statement updates its rows in an order of its choosing; lock them in the fixed order first.
	const lock = `SELECT 1 FROM cap_counters
		WHERE offer_id = $1 AND aff_id = ANY($2) AND ((period = 'd' AND start = $3) OR (period = 'm' AND start = $4))
		ORDER BY aff_id, period FOR UPDATE`
	if _, err := tx.ExecContext(ctx, lock, offerID, pq.Array(affs), date(day), date(month)); err != nil {
		return fmt.Errorf("free cap slot: %w", err)
	}
	if _, err := tx.ExecContext(ctx, q, offerID, pq.Array(affs), date(day), date(month)); err != nil {
		return fmt.Errorf("free cap slot: %w", err)
	}
	return nil
}

// CapState is whether an offer's caps are full now: the offer's own, and which affiliates'.
type CapState struct {
	Full           bool
	FullAffiliates map[int64]bool
}

// OfferCapState reads the cap counters of an offer's current day and month. The API's offer cache
// reloads it with the offer, so that a click on a capped offer goes to its fallback without a
// query of its own.
func (s *Store) OfferCapState(ctx context.Context, o *Offer, now time.Time) (CapState, error) {
	var st CapState
	rules := CapRules{Offer: o.Caps, Affiliate: o.AffiliateCaps, Timezone: o.Timezone}
	if !rules.Any() {
		return st, nil
	}
	day, month := domain.CapPeriods(now, rules.location())
	const q = `SELECT aff_id, period, used FROM cap_counters
		WHERE offer_id = $1 AND ((period = 'd' AND start = $2) OR (period = 'm' AND start = $3))`
	var rows []struct {
		AffID  int64  `db:"aff_id"`
		Period string `db:"period"`
		Used   int64  `db:"used"`
	}
	if err := s.DB.SelectContext(ctx, &rows, q, o.ID, date(day), date(month)); err != nil {
		return st, fmt.Errorf("cap state: %w", err)
	}
	for _, r := range rows {
		caps := o.Caps
		if r.AffID != 0 {
			caps = o.AffiliateCaps
		}
		limit := caps.Daily
		if r.Period == domain.PeriodMonth {
			limit = caps.Monthly
		}
		if limit == nil || r.Used < *limit {
			continue
		}
		if r.AffID == 0 {
			st.Full = true
			continue
		}
		if st.FullAffiliates == nil {
			st.FullAffiliates = map[int64]bool{}
		}
		st.FullAffiliates[r.AffID] = true
	}
	return st, nil
}

// date writes a calendar date as PostgreSQL's DATE reads it.
func date(t time.Time) string { return t.Format(time.DateOnly) }
