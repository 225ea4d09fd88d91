package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/trackflow/trackflow/domain"
)

const conversionColumns = `id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, click_id,
	NULLIF(event, '') AS event, invoice_id, amount, currency,
	commission, reversed_commission, status, reason, note, attribution_method, workflow_id, host(ip) AS ip,
	created_at, updated_at, test`

// RecordResult is what RecordConversion decided and stored.
type RecordResult struct {
	Conversion domain.Conversion
	// Duplicate is true when (offer_id, event, invoice_id) was already used: nothing was stored but the
	// duplicate count.
	Duplicate bool
	// Replayed is true when an earlier attempt of the same request had already stored this outcome
	// (an activity retry after a commit whose answer was lost): nothing new was written.
	Replayed bool
}

// RecordConversion decides a conversion and stores it in one transaction. c carries who and
// what (ids, amount, currency, click, affiliate, event); its status, reason and commission are set
// here by domain.Decide from in. A single-use click is locked first (SELECT ... FOR UPDATE), so
// in.ClickUsed (for the conversion's event) is read under the lock and, under concurrency, exactly
// one conversion wins the click: the second waits for the first to commit and then finds the click
// used. A conversion that caps count then locks the cap counters of its day and month (every one
// made so far, lockPeriodCounters, then those its offer's caps need, lockCapCounters), so in.Caps
// is exact too: a cap of N yields N slots taken, never N+1, and each counter counts the slot even
// while its cap is off. Then the invoice is reserved
// (a duplicate is only counted), the slots taken and the click claimed, in the same transaction,
// so a conversion is never stored without its claim nor a click claimed by a duplicate. A test
// conversion (c.Test) reserves no invoice (the unique index skips test rows), takes no cap slot and
// claims no click. It is
// idempotent on c.ID, so an activity retry returns what the first call stored.
func (s *Store) RecordConversion(ctx context.Context, c domain.Conversion, in domain.DecideInput, caps CapRules) (RecordResult, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return RecordResult{}, fmt.Errorf("record conversion: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck

	const existing = `SELECT ` + conversionColumns + ` FROM conversions WHERE id = $1`
	var prev domain.Conversion
	switch err := tx.GetContext(ctx, &prev, existing, c.ID); {
	case err == nil:
		return RecordResult{Conversion: prev, Replayed: true}, nil
	case !errors.Is(err, sql.ErrNoRows):
		return RecordResult{}, fmt.Errorf("record conversion: %w", err)
	}

	in.ClickUsed = false
	var clickAt time.Time // the locked click's created_at: names its partition for the claim
	if in.ClickFound && !in.MultiConversion && c.ClickID != nil {
		// The click's row lock serialises every conversion of the click, whatever its event.
		if clickAt, in.ClickUsed, err = lockClickTx(ctx, tx, *c.ClickID); err != nil {
			return RecordResult{}, err
		}
		if in.Event != "" {
			const used = `SELECT EXISTS (SELECT 1 FROM click_event_claims WHERE click_id = $1 AND event = $2)`
			if err := tx.GetContext(ctx, &in.ClickUsed, used, *c.ClickID, in.Event); err != nil {
				return RecordResult{}, fmt.Errorf("click event claim: %w", err)
			}
		}
	}
	day, month := domain.CapPeriods(in.Now, caps.location())
	counted := false // some counter of day or month exists (and is locked): a slot taken counts in it
	if in.CountsInCaps() {
		n, err := lockPeriodCounters(ctx, tx, c.OfferID, c.AffID, day, month)
		if err != nil {
			return RecordResult{}, err
		}
		counted = n > 0
	}
	if in.CountsInCaps() && caps.Any() {
		var affID int64
		if c.AffID != nil {
			affID = *c.AffID
		}
		keys := caps.capKeys(affID, in.Now)
		if in.Caps, err = lockCapCounters(ctx, tx, c.OfferID, caps.location(), keys); err != nil {
			return RecordResult{}, err
		}
		counted = true
	}
	d := domain.Decide(in)
	c.Apply(d)

	row := recordRow{Conversion: c, Event: in.Event}
	if in.TakesCapSlot(d) {
		row.CapDay, row.CapMonth = &day, &month
	}
	const insert = `INSERT INTO conversions (id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, click_id,
			event, invoice_id, amount, currency, commission, status, reason, attribution_method, workflow_id, ip,
			cap_day, cap_month, test)
		VALUES (:id, :offer_id, :aff_id, :sub_id, :sub2, :sub3, :sub4, :sub5, :creative_id, :click_id, :event_name,
			:invoice_id, :amount, :currency, :commission, :status, :reason, :attribution_method, :workflow_id, :ip,
			:cap_day, :cap_month, :test)
		ON CONFLICT (offer_id, event, invoice_id) WHERE invoice_id IS NOT NULL AND NOT test DO NOTHING`
	res, err := tx.NamedExecContext(ctx, insert, row)
	if err != nil {
		return RecordResult{}, fmt.Errorf("insert conversion: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		d := Duplicate{OfferID: c.OfferID, AffID: c.AffID, Event: in.Event, InvoiceID: *c.InvoiceID, WorkflowID: c.WorkflowID, RequestID: c.ID}
		counted, err := insertDuplicate(ctx, tx, d)
		if err != nil {
			return RecordResult{}, err
		}
		return RecordResult{Conversion: c, Duplicate: true, Replayed: !counted}, tx.Commit()
	}

	if in.TakesCapSlot(d) && counted {
		if err := shiftCapSlots(ctx, tx, c.OfferID, c.AffID, day, month, 1); err != nil {
			return RecordResult{}, err
		}
	}
	if in.ClaimsClick(d) && c.ClickID != nil {
		if in.Event != "" {
			// An event's conversion claims the click for its event only.
			const claim = `INSERT INTO click_event_claims (click_id, event, conversion_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`
			if _, err := tx.ExecContext(ctx, claim, *c.ClickID, in.Event, c.ID); err != nil {
				return RecordResult{}, fmt.Errorf("claim click event: %w", err)
			}
		} else if err := claimClickTx(ctx, tx, *c.ClickID, c.ID, clickAt); err != nil {
			return RecordResult{}, err
		}
	}
	var out domain.Conversion
	if err := tx.GetContext(ctx, &out, existing, c.ID); err != nil {
		return RecordResult{}, fmt.Errorf("record conversion: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return RecordResult{}, fmt.Errorf("record conversion: %w", err)
	}
	return RecordResult{Conversion: out}, nil
}

// recordRow is what RecordConversion inserts: the conversion, its event as stored ("" for the
// plain conversion) and the cap periods it takes a slot in (nil: none).
type recordRow struct {
	domain.Conversion
	Event    string     `db:"event_name"`
	CapDay   *time.Time `db:"cap_day"`
	CapMonth *time.Time `db:"cap_month"`
}

// Duplicate is one request whose invoice (offer_id, event, id) was already used: never a
// conversion, only counted (the duplicates metric and report column).
type Duplicate struct {
	OfferID int64
	// AffID is the affiliate when the request named one (postbacks); reports fall back to the
	// original conversion's, the one of the same event.
	AffID *int64
	// Event is the request's event, "" for the plain conversion.
	Event      string
	InvoiceID  string
	WorkflowID string
	// RequestID is the request's conversion id: a retry counting the same request again is a no-op.
	RequestID string
}

// execer is what insertDuplicate needs: a pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertDuplicate counts a duplicate once per request; counted is false when it already was.
func insertDuplicate(ctx context.Context, db execer, d Duplicate) (counted bool, err error) {
	const q = `INSERT INTO conversion_duplicates (offer_id, aff_id, event, invoice_id, workflow_id, request_id)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING`
	res, err := db.ExecContext(ctx, q, d.OfferID, d.AffID, d.Event, d.InvoiceID, d.WorkflowID, d.RequestID)
	if err != nil {
		return false, fmt.Errorf("count duplicate: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CountDuplicate records a duplicate request that Temporal rejected at start.
func (s *Store) CountDuplicate(ctx context.Context, d Duplicate) error {
	_, err := insertDuplicate(ctx, s.DB, d)
	return err
}

// SetConversionStatus moves a conversion from one status to another (approve or reject a held
// conversion, reverse an approved one). A conversion not in status from is a Conflict; note is the admin's text (nil: none). A
// rejection gives back the cap slots the conversion held, in the same transaction; a reversal
// keeps them (API.md, Caps).
func (s *Store) SetConversionStatus(ctx context.Context, id, from, to string, reason, note *string) (*domain.Conversion, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("set conversion status: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck
	var slot struct {
		OfferID  int64      `db:"offer_id"`
		AffID    *int64     `db:"aff_id"`
		CapDay   *time.Time `db:"cap_day"`
		CapMonth *time.Time `db:"cap_month"`
	}
	const lock = `SELECT offer_id, aff_id, cap_day, cap_month FROM conversions WHERE id = $1 AND status = $2 FOR UPDATE`
	err = tx.GetContext(ctx, &slot, lock, id, from)
	if errors.Is(err, sql.ErrNoRows) {
		cur, err := s.Conversion(ctx, id)
		if err != nil {
			return nil, err
		}
		if cur.Status == to {
			return cur, nil // already done: an activity retry
		}
		return nil, domain.Errorf(domain.Conflict, "conversion is %s, not %s", cur.Status, from)
	}
	if err != nil {
		return nil, fmt.Errorf("set conversion status: %w", err)
	}
	frees := to == domain.ConversionRejected && slot.CapDay != nil && slot.CapMonth != nil
	if frees {
		if _, err := lockPeriodCounters(ctx, tx, slot.OfferID, slot.AffID, *slot.CapDay, *slot.CapMonth); err != nil {
			return nil, err
		}
		if err := shiftCapSlots(ctx, tx, slot.OfferID, slot.AffID, *slot.CapDay, *slot.CapMonth, -1); err != nil {
			return nil, err
		}
	}
	const q = `UPDATE conversions SET status = $3, reason = $4, note = $6, updated_at = now(),
			reversed_commission = CASE WHEN $3 = 'reversed' THEN commission ELSE reversed_commission END,
			commission = CASE WHEN $3 IN ('reversed', 'rejected') THEN 0 ELSE commission END,
			cap_day = CASE WHEN $5 THEN NULL ELSE cap_day END,
			cap_month = CASE WHEN $5 THEN NULL ELSE cap_month END
		WHERE id = $1 AND status = $2
		RETURNING ` + conversionColumns
	var c domain.Conversion
	if err := tx.GetContext(ctx, &c, q, id, from, to, reason, frees, note); err != nil {
		return nil, fmt.Errorf("set conversion status: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("set conversion status: %w", err)
	}
	return &c, nil
}

// Conversion reads one conversion, or NotFound.
func (s *Store) Conversion(ctx context.Context, id string) (*domain.Conversion, error) {
	if !domain.IsID(id) {
		// Every conversion id is a NewID; anything else (even invalid UTF-8, which PostgreSQL
		// would refuse with an error) cannot name one.
		return nil, domain.Errorf(domain.NotFound, "conversion not found")
	}
	const q = `SELECT ` + conversionColumns + ` FROM conversions WHERE id = $1`
	var c domain.Conversion
	if err := s.DB.GetContext(ctx, &c, q, id); err != nil {
		return nil, notFound(err, "conversion")
	}
	return &c, nil
}

// ConversionFilter selects conversions for the list endpoint; zero fields are not filtered on.
type ConversionFilter struct {
	OfferID   int64  `db:"offer_id"`
	AffID     int64  `db:"aff_id"`
	InvoiceID string `db:"invoice_id"`
	Status    string `db:"status"`
	Limit     int    `db:"limit"`
}

// ListConversions returns conversions newest first.
func (s *Store) ListConversions(ctx context.Context, f ConversionFilter) ([]domain.Conversion, error) {
	// Every parameter compared with a literal is cast to its column's type: an untyped parameter
	// compared with 0 is typed int4 by Postgres, and an offer_id above 2^31-1 failed the query.
	const q = `SELECT ` + conversionColumns + ` FROM conversions
		WHERE (CAST(:offer_id AS bigint) = 0 OR offer_id = :offer_id)
		  AND (CAST(:aff_id AS bigint) = 0 OR aff_id = :aff_id)
		  AND (CAST(:invoice_id AS text) = '' OR invoice_id = :invoice_id)
		  AND (CAST(:status AS text) = '' OR status = :status)
		ORDER BY created_at DESC, id DESC LIMIT :limit`
	query, args, err := s.DB.BindNamed(q, f)
	if err != nil {
		return nil, err
	}
	out := []domain.Conversion{}
	if err := s.DB.SelectContext(ctx, &out, query, args...); err != nil {
		return nil, fmt.Errorf("list conversions: %w", err)
	}
	return out, nil
}
