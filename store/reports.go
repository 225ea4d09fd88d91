package store

import (
	"context"
	"fmt"
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
	// the UTC day as days since 1970-01-01.
	Key         int64 `db:"k"`
	Clicks      int64 `db:"clicks"`
	Impressions int64 `db:"impressions"`
	// Conversions counts approved conversions; Revenue and Commission sum theirs.
	Conversions int64        `db:"conversions"`
	Duplicates  int64        `db:"duplicates"`
	Revenue     domain.Money `db:"revenue"`
	Commission  domain.Money `db:"commission"`
}

// Report counts clicks, impressions, approved conversions (with their revenue and commission) and
// duplicates created in [from, to), grouped by offer, affiliate or UTC day; rows come in key order
// and only groups with activity appear. A duplicate that did not name its affiliate (a page pixel
// is turned away by Temporal before its cookie is read) counts for the original conversion's.
// Amounts are summed whatever their currency.
func (s *Store) Report(ctx context.Context, group string, from, to time.Time) ([]ReportRow, error) {
	// One statement for the three groupings: the key is a CASE on the grouping, always a bigint so
	// that the four partial aggregates join on it (COALESCE keeps a missing affiliate joinable).
	const q = `WITH
		cl AS (SELECT CASE $1::text WHEN 'offer' THEN offer_id WHEN 'affiliate' THEN aff_id
				ELSE (created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' END AS k, count(*) AS n
			FROM clicks WHERE created_at >= $2 AND created_at < $3 GROUP BY 1),
		im AS (SELECT CASE $1::text WHEN 'offer' THEN offer_id WHEN 'affiliate' THEN aff_id
				ELSE (created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' END AS k, count(*) AS n
			FROM impressions WHERE created_at >= $2 AND created_at < $3 GROUP BY 1),
		cv AS (SELECT CASE $1::text WHEN 'offer' THEN offer_id WHEN 'affiliate' THEN COALESCE(aff_id, 0)
				ELSE (created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' END AS k,
				count(*) AS n, sum(amount) AS revenue, sum(commission) AS commission
			FROM conversions WHERE status = 'approved' AND NOT test AND created_at >= $2 AND created_at < $3 GROUP BY 1),
		du AS (SELECT CASE $1::text WHEN 'offer' THEN d.offer_id WHEN 'affiliate' THEN COALESCE(d.aff_id, c.aff_id, 0)
				ELSE (d.created_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01' END AS k, count(*) AS n
			FROM conversion_duplicates d
			LEFT JOIN conversions c ON c.offer_id = d.offer_id AND c.invoice_id = d.invoice_id AND NOT c.test
			WHERE d.created_at >= $2 AND d.created_at < $3 GROUP BY 1)
		SELECT k, COALESCE(cl.n, 0) AS clicks, COALESCE(im.n, 0) AS impressions, COALESCE(cv.n, 0) AS conversions,
			COALESCE(du.n, 0) AS duplicates, COALESCE(cv.revenue, 0) AS revenue, COALESCE(cv.commission, 0) AS commission
		FROM cl FULL JOIN im USING (k) FULL JOIN cv USING (k) FULL JOIN du USING (k)
		ORDER BY k`
	switch group {
	case GroupOffer, GroupAffiliate, GroupDay:
	default:
		return nil, domain.FieldError("group_by", "must be offer, affiliate or day")
	}
	rows := []ReportRow{}
	if err := s.DB.SelectContext(ctx, &rows, q, group, from, to); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return rows, nil
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
