package domain

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Caps bound an offer's (or each affiliate's on an offer) approved plain conversions per day and
// per calendar month in the offer's time zone. A nil bound is no cap.
type Caps struct {
	Daily   *int64 `json:"daily,omitempty"`
	Monthly *int64 `json:"monthly,omitempty"`
}

// Any reports whether either bound is set.
func (c Caps) Any() bool { return c.Daily != nil || c.Monthly != nil }

// Value stores the caps as a JSON object (the offers.caps and affiliate_caps columns).
func (c Caps) Value() (driver.Value, error) {
	b, err := json.Marshal(c)
	return string(b), err
}

// Scan reads the caps from their JSON column.
func (c *Caps) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	case nil:
		*c = Caps{}
		return nil
	default:
		return fmt.Errorf("caps: cannot scan %T", src)
	}
	*c = Caps{}
	return json.Unmarshal(b, c)
}

// Cap periods: a counter covers one day or one calendar month.
const (
	PeriodDay   = "d"
	PeriodMonth = "m"
)

// CapPeriods are the starts of the day and of the month that t falls in, in loc, as dates
// (midnight UTC of that calendar date, how PostgreSQL's DATE reads and writes them). A day in a
// zone with daylight saving time is then 23 or 25 hours long, as the zone's calendar says.
func CapPeriods(t time.Time, loc *time.Location) (day, month time.Time) {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// PeriodBounds are the instants a cap period starts and ends at in loc: the day (or month) that
// starts at the calendar date start.
func PeriodBounds(period string, start time.Time, loc *time.Location) (from, to time.Time) {
	y, m, d := start.Date()
	from = time.Date(y, m, d, 0, 0, 0, 0, loc)
	if period == PeriodMonth {
		return from, time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	}
	return from, time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// CapCounter is one cap that applies to a conversion: its bound and the slots its period has
// already taken (read under the counter's row lock).
type CapCounter struct {
	Limit int64
	Used  int64
}

// Full reports whether the counter has no slot left.
func (c CapCounter) Full() bool { return c.Used >= c.Limit }

// Attribution models of an offer: which click gets the credit when a visitor clicked several times.
const (
	AttributionLastClick  = "last_click"
	AttributionFirstClick = "first_click"
)
