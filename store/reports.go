package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/trackflow/trackflow/domain"
)

// Report groupings of GET /api/v1/reports.
const (
	GroupOffer     = "offer"
	GroupAffiliate = "affiliate"
	GroupDay       = "day"
)

// ReportRow is one group's activity over a report's range.
type ReportRow struct {
	// Key is the offer id, the affiliate id (0: no affiliate, e.g. unattributed), or for GroupDay
	// the day in the report's zone as days since 1970-01-01.
	Key         int64 `db:"k"`
	Clicks      int64 `db:"clicks"`
	Impressions int64 `db:"impressions"`
	// Conversions counts approved conversions; Revenue and Commission sum theirs.
	Conversions int64        `db:"conversions"`
	Duplicates  int64        `db:"duplicates"`
	Revenue     domain.Money `db:"revenue"`
	Commission  domain.Money `db:"commission"`
}

// ReportQuery selects a report: a grouping, a range of whole days in a zone, and filters.
type ReportQuery struct {
	Group string
	// From is the first day and To the last (inclusive), as dates in Zone (their clock is ignored).
	From, To time.Time
	// Zone defines the days (nil: UTC).
	Zone *time.Location
	// OfferID and AffID filter when not 0.
	OfferID, AffID int64
}

// rollupLevel is the range of one key of report_rollups a report reads: the one filtered on, every
// real one when the report groups by it, or else -1, the level that sums them all.
func rollupLevel(filter int64, grouped bool) (lo, hi int64) {
	switch {
	case filter != 0:
		return filter, filter
	case grouped:
		return 0, math.MaxInt64
	default:
		return -1, -1
	}
}

// DayKey is a report's key for a date: days since 1970-01-01.
func DayKey(d time.Time) int64 {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// Report counts clicks, impressions, approved non-test conversions (with their revenue and
// commission) and duplicates of the query's days, grouped by offer, affiliate or day in the
// query's zone; rows come in key order and only groups with activity appear. A duplicate that did
// not name its affiliate (a page pixel is turned away by Temporal before its cookie is read)
// counts for the original conversion's. Amounts are summed whatever their currency.
//
// It reads report_rollups, never the raw rows: 15-minute buckets kept by triggers in the same
// transaction as the rows they count (schema/005), so it costs the same at any number of clicks
// and counts clicks retention has dropped. Every zone's day is a whole number of buckets.
func (s *Store) Report(ctx context.Context, rq ReportQuery) ([]ReportRow, error) {
	// By day, the database sums by bucket and the buckets are put in their day here, with Go's
	// zone rules: the ones that computed the range.
	const q = `SELECT CASE $1::text WHEN 'offer' THEN offer_id WHEN 'affiliate' THEN aff_id
				ELSE extract(epoch FROM bucket)::bigint END AS k,
			sum(clicks) AS clicks, sum(impressions) AS impressions, sum(conversions) AS conversions,
			sum(duplicates) AS duplicates, sum(revenue) AS revenue, sum(commission) AS commission
		FROM report_rollups
		WHERE bucket >= $2 AND bucket < $3 AND offer_id BETWEEN $4 AND $5 AND aff_id BETWEEN $6 AND $7
		GROUP BY 1
		HAVING sum(clicks) <> 0 OR sum(impressions) <> 0 OR sum(conversions) <> 0 OR sum(duplicates) <> 0
		ORDER BY 1`
	switch rq.Group {
	case GroupOffer, GroupAffiliate, GroupDay:
	default:
		return nil, domain.FieldError("group_by", "must be offer, affiliate or day")
	}
	zone := rq.Zone
	if zone == nil {
		zone = time.UTC
	}
	from := time.Date(rq.From.Year(), rq.From.Month(), rq.From.Day(), 0, 0, 0, 0, zone)
	to := time.Date(rq.To.Year(), rq.To.Month(), rq.To.Day()+1, 0, 0, 0, 0, zone)
	offerLo, offerHi := rollupLevel(rq.OfferID, rq.Group == GroupOffer)
	affLo, affHi := rollupLevel(rq.AffID, rq.Group == GroupAffiliate)
	rows := []ReportRow{}
	if err := s.DB.SelectContext(ctx, &rows, q, rq.Group, from, to, offerLo, offerHi, affLo, affHi); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if rq.Group != GroupDay {
		return rows, nil
	}
	var days []ReportRow
	for _, r := range rows {
		key := DayKey(time.Unix(r.Key, 0).In(zone))
		if n := len(days); n > 0 && days[n-1].Key == key {
			d := &days[n-1]
			d.Clicks += r.Clicks
			d.Impressions += r.Impressions
			d.Conversions += r.Conversions
			d.Duplicates += r.Duplicates
			d.Revenue += r.Revenue
			d.Commission += r.Commission
			continue
		}
		r.Key = key
		days = append(days, r)
	}
	return days, nil
}

// ConversionRate is approved conversions ÷ clicks as a decimal fraction with four decimals,
// rounded half up ("0.0250" is 2.5 %); "0.0000" when there were no clicks. Integer arithmetic, so
// it is exact.
func (r ReportRow) ConversionRate() string {
	if r.Clicks == 0 {
		return "0.0000"
	}
	v := (2*r.Conversions*10000 + r.Clicks) / (2 * r.Clicks) // ten-thousandths, half up
	return fmt.Sprintf("%d.%04d", v/10000, v%10000)
}

// EPC is the commission earned per click, rounded half up to the cent; 0 when there were no clicks.
func (r ReportRow) EPC() domain.Money {
	if r.Clicks == 0 {
		return 0
	}
	return domain.Money((2*int64(r.Commission) + r.Clicks) / (2 * r.Clicks))
}
