package domain

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Money is an amount in minor units (cents). It is never a float: it is parsed from and printed
// as a decimal string with exactly two decimals, and stored as NUMERIC.
type Money int64

// Percent is a percentage in hundredths of a percent (1050 = 10.50%).
type Percent int64

// MaxMoney is the largest amount docs/API.md accepts: 9999999999.99.
const MaxMoney Money = 999999999999

var moneyPattern = regexp.MustCompile(`^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$`)

// ParseMoney parses a decimal string of docs/API.md's money pattern.
func ParseMoney(s string) (Money, error) {
	if !moneyPattern.MatchString(s) {
		return 0, fmt.Errorf("must be a decimal amount like 19.95 (digits, optional point and one or two decimals, no sign)")
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a decimal amount like 19.95")
	}
	var f int64
	switch len(frac) {
	case 1:
		f = int64(frac[0]-'0') * 10
	case 2:
		f = int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	}
	return Money(w*100 + f), nil
}

// ParsePercent parses a percentage with the money pattern, at most 100.
func ParsePercent(s string) (Percent, error) {
	m, err := ParseMoney(s)
	if err != nil {
		return 0, fmt.Errorf("must be a percentage like 10.5 (0 to 100, at most two decimals)")
	}
	if m > 10000 {
		return 0, fmt.Errorf("must be at most 100")
	}
	return Percent(m), nil
}

// String prints the amount with exactly two decimals, as every API output does.
func (m Money) String() string {
	neg := ""
	v := int64(m)
	if v < 0 {
		neg, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", neg, v/100, v%100)
}

// String prints the percentage with exactly two decimals.
func (p Percent) String() string { return Money(p).String() }

// MarshalJSON writes the amount as a JSON string, "19.95".
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads what MarshalJSON wrote (workflow payloads, API answers): any decimal with at
// most two decimals. It does not enforce docs/API.md's input bounds — a commission may exceed the
// largest amount a client may send — so input is checked with ParseMoney / ParseMoneyJSON.
func (m *Money) UnmarshalJSON(b []byte) error {
	v, err := scanDecimal(jsonText(b))
	*m = Money(v)
	return err
}

// ParseMoneyJSON validates a JSON string or number against the money pattern.
func ParseMoneyJSON(b []byte) (Money, error) { return ParseMoney(jsonText(b)) }

// ParsePercentJSON validates a JSON string or number against the percent pattern.
func ParsePercentJSON(b []byte) (Percent, error) { return ParsePercent(jsonText(b)) }

// jsonText is the text of a JSON string, or the raw text of any other JSON value.
func jsonText(b []byte) string {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return ""
		}
	}
	return s
}

// MarshalJSON writes the percentage as a JSON string, "10.50".
func (p Percent) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// UnmarshalJSON reads what MarshalJSON wrote; input is checked with ParsePercentJSON.
func (p *Percent) UnmarshalJSON(b []byte) error {
	v, err := scanDecimal(jsonText(b))
	*p = Percent(v)
	return err
}

// Value stores the amount as a NUMERIC literal.
func (m Money) Value() (driver.Value, error) { return m.String(), nil }

// Scan reads a NUMERIC column.
func (m *Money) Scan(src any) error {
	v, err := scanDecimal(src)
	*m = Money(v)
	return err
}

// Value stores the percentage as a NUMERIC literal.
func (p Percent) Value() (driver.Value, error) { return p.String(), nil }

// Scan reads a NUMERIC column.
func (p *Percent) Scan(src any) error {
	v, err := scanDecimal(src)
	*p = Percent(v)
	return err
}

// scanDecimal reads a NUMERIC with at most two decimals into hundredths.
func scanDecimal(src any) (int64, error) {
	var s string
	switch v := src.(type) {
	case []byte:
		s = string(v)
	case string:
		s = v
	case int64:
		return v * 100, nil
	default:
		return 0, fmt.Errorf("scan decimal: unsupported type %T", src)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("scan decimal %q: %w", s, err)
	}
	frac = (frac + "00")[:2]
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("scan decimal %q: %w", s, err)
	}
	v := w*100 + f
	if neg {
		v = -v
	}
	return v, nil
}

// PayoutType is how an offer pays its affiliates.
type PayoutType string

// The payout types of docs/API.md.
const (
	PayoutCPA    PayoutType = "cpa"     // flat amount per conversion
	PayoutCPS    PayoutType = "cps"     // percent of the sale
	PayoutCPACPS PayoutType = "cpa_cps" // both added
)

// Payout is an offer's commission setting or an affiliate's override of it.
type Payout struct {
	Type    PayoutType `json:"type" db:"payout_type"`
	Amount  Money      `json:"amount" db:"payout_amount"`
	Percent Percent    `json:"percent" db:"payout_percent"`
}

// Commission computes the affiliate's commission on a sale: the flat amount, the percentage of
// the sale rounded half up to the cent, or both. Pure integer arithmetic, so workflows may call it.
func (p Payout) Commission(sale Money) Money {
	var c Money
	if p.Type == PayoutCPA || p.Type == PayoutCPACPS {
		c += p.Amount
	}
	if p.Type == PayoutCPS || p.Type == PayoutCPACPS {
		// sale (cents) × percent (hundredths of a percent) / 10000, half up.
		c += Money((int64(sale)*int64(p.Percent) + 5000) / 10000)
	}
	return c
}
