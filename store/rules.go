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
// from the slots the conversions already stored hold in it, so a cap set in the middle of a day
// counts the day's earlier conversions) and reads the slots each has taken.
//
// A stored conversion holds a slot of the periods its cap_day and cap_month name (the periods it
// was received in, set when it took the slot): approved, held and reversed ones do (a reversal
// keeps its slot), rejected ones do not (a rejection clears them). Its status alone would miss
// the reversed ones, and its created_at would put one received just before midnight but stored
// after it in the wrong day. created_at is never before the conversion was received, so the lower
// bound (an hour early, for clock skew between processes) only lets the offer's index skip older rows.
func lockCapCounters(ctx context.Context, tx *sqlx.Tx, offerID int64, loc *time.Location, keys []capKey) ([]domain.CapCounter, error) {
	const q = `INSERT INTO cap_counters AS k (offer_id, aff_id, period, start, used)
		SELECT $1::bigint, $2::bigint, $3::char(1), $4::date, count(*) FROM conversions
		WHERE offer_id = $1 AND ($2 = 0 OR aff_id = $2)
			AND (CASE WHEN $3::char(1) = 'd' THEN cap_day ELSE cap_month END) = $4::date
			AND created_at >= $5::timestamptz
		ON CONFLICT (offer_id, aff_id, period, start) DO UPDATE SET used = k.used
		RETURNING used`
	out := make([]domain.CapCounter, len(keys))
	for i, k := range keys {
		from, _ := domain.PeriodBounds(k.period, k.start, loc)
		out[i].Limit = k.limit
		if err := tx.GetContext(ctx, &out[i].Used, q, offerID, k.affID, k.period, date(k.start), from.Add(-time.Hour)); err != nil {
			return nil, fmt.Errorf("lock cap counter: %w", err)
		}
	}
	return out, nil
}

// lockPeriodCounters locks every counter already made for the periods (day and month) a
// conversion of affID falls in — the offer's and the affiliate's, whether or not the offer's
// caps name them now — in the one lock order (aff_id, then period), and reports how many there
// are. A conversion takes or frees a slot in each of them (shiftCapSlots), so a counter keeps
// counting while its cap is removed and counts right when it is set again. Locking them all first
// keeps every transaction to that order.
func lockPeriodCounters(ctx context.Context, tx *sqlx.Tx, offerID int64, affID *int64, day, month time.Time) (int, error) {
	const q = `SELECT 1 FROM cap_counters
		WHERE offer_id = $1 AND aff_id = ANY($2) AND ((period = 'd' AND start = $3) OR (period = 'm' AND start = $4))
		ORDER BY aff_id, period FOR UPDATE`
	var rows []int
	if err := tx.SelectContext(ctx, &rows, q, offerID, pq.Array(periodAffs(affID)), date(day), date(month)); err != nil {
		return 0, fmt.Errorf("lock cap counters: %w", err)
	}
	return len(rows), nil
}

// shiftCapSlots takes (delta 1) or gives back (delta -1) a conversion's slot in every counter of
// its periods, all of them locked already (lockPeriodCounters, lockCapCounters).
func shiftCapSlots(ctx context.Context, tx *sqlx.Tx, offerID int64, affID *int64, day, month time.Time, delta int) error {
	const q = `UPDATE cap_counters SET used = used + $5
		WHERE offer_id = $1 AND aff_id = ANY($2) AND ((period = 'd' AND start = $3) OR (period = 'm' AND start = $4))`
	if _, err := tx.ExecContext(ctx, q, offerID, pq.Array(periodAffs(affID)), date(day), date(month), delta); err != nil {
		return fmt.Errorf("shift cap slots: %w", err)
	}
	return nil
}

// periodAffs are the counters' aff_id values a conversion of affID counts in: the offer's (0) and
// the affiliate's.
func periodAffs(affID *int64) []int64 {
	if affID == nil {
		return []int64{0}
	}
	return []int64{0, *affID}
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
