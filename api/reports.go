package api

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// maxReportDays bounds a report's range, and so its cost and (by day) its number of rows.
const maxReportDays = 366

// reportMetrics are a report row's figures: counts as numbers, money as two-decimal strings,
// conversion_rate as a four-decimal fraction string (see store.ReportRow.ConversionRate).
type reportMetrics struct {
	Clicks         int64        `json:"clicks"`
	Impressions    int64        `json:"impressions"`
	Conversions    int64        `json:"conversions"`
	Duplicates     int64        `json:"duplicates"`
	Revenue        domain.Money `json:"revenue"`
	Commission     domain.Money `json:"commission"`
	ConversionRate string       `json:"conversion_rate"`
	EPC            domain.Money `json:"epc"`
}

type offerReportRow struct {
	OfferID int64 `json:"offer_id"`
	reportMetrics
}

type affiliateReportRow struct {
	AffID *int64 `json:"aff_id"` // null: conversions no affiliate was found for
	reportMetrics
}

type dayReportRow struct {
	Day string `json:"day"`
	reportMetrics
}

// report handles GET /api/v1/reports: group_by offer, affiliate or day (default day), from and to
// as days in tz (IANA, default UTC), inclusive (default today there), offer_id and aff_id filters.
// By day, every day of the range has a row.
func (s *server) report(c *gin.Context) error {
	group, given, err := queryLookup(c, "group_by")
	if err != nil {
		return err
	}
	if !given {
		group = store.GroupDay
	}
	switch group {
	case store.GroupOffer, store.GroupAffiliate, store.GroupDay:
	default:
		return domain.FieldError("group_by", "must be offer, affiliate or day")
	}
	tz, err := queryValue(c, "tz")
	if err != nil {
		return err
	}
	zone, err := reportZone(tz)
	if err != nil {
		return err
	}
	now := time.Now().In(zone)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	from, err := reportDay(c, "from", today)
	if err != nil {
		return err
	}
	to, err := reportDay(c, "to", today)
	if err != nil {
		return err
	}
	switch days := int(to.Sub(from)/(24*time.Hour)) + 1; {
	case days < 1:
		return domain.FieldError("to", "must not be before from")
	case days > maxReportDays:
		return domain.FieldError("to", "must be at most %d days after from", maxReportDays-1)
	}
	rq := store.ReportQuery{Group: group, From: from, To: to, Zone: zone}
	if rq.OfferID, err = queryID(c, "offer_id"); err != nil {
		return err
	}
	if rq.AffID, err = queryID(c, "aff_id"); err != nil {
		return err
	}
	rows, err := s.store.Report(c.Request.Context(), rq)
	if err != nil {
		return err
	}

	items := make([]any, 0, len(rows))
	switch group {
	case store.GroupOffer:
		for _, r := range rows {
			items = append(items, offerReportRow{OfferID: r.Key, reportMetrics: reportFigures(r)})
		}
	case store.GroupAffiliate:
		for _, r := range rows {
			row := affiliateReportRow{reportMetrics: reportFigures(r)}
			if r.Key != 0 {
				row.AffID = &r.Key
			}
			items = append(items, row)
		}
	case store.GroupDay:
		byDay := make(map[int64]store.ReportRow, len(rows))
		for _, r := range rows {
			byDay[r.Key] = r
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			items = append(items, dayReportRow{Day: d.Format(time.DateOnly), reportMetrics: reportFigures(byDay[store.DayKey(d)])})
		}
	}
	c.JSON(http.StatusOK, gin.H{
		"group_by": group, "from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "items": items,
	})
	return nil
}

// reportZone reads tz: an IANA zone name, UTC when empty. "Local" (the server's own zone) and
// other names the zone database does not hold are refused.
func reportZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, domain.FieldError("tz", "must be an IANA time zone name, e.g. America/New_York")
	}
	return loc, nil
}

// reportDay reads a YYYY-MM-DD query parameter as a date (midnight UTC stands for the day).
func reportDay(c *gin.Context, name string, def time.Time) (time.Time, error) {
	s, err := queryValue(c, name)
	if err != nil || s == "" {
		return def, err
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || len(s) != len(time.DateOnly) {
		return time.Time{}, domain.FieldError(name, "must be a date YYYY-MM-DD")
	}
	return d, nil
}

func reportFigures(r store.ReportRow) reportMetrics {
	return reportMetrics{
		Clicks: r.Clicks, Impressions: r.Impressions, Conversions: r.Conversions, Duplicates: r.Duplicates,
		Revenue: r.Revenue, Commission: r.Commission, ConversionRate: r.ConversionRate(), EPC: r.EPC(),
	}
}
