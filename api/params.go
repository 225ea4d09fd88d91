package api

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trackflow/trackflow/store"
)

// maxBody bounds a tracking request's body.
const maxBody = 64 << 10

// aliases are LinkTrust's parameter names, accepted case-sensitively for the canonical ones.
var aliases = map[string]string{
	"CID": "offer_id", "AFID": "aff_id", "SID": "sub_id", "ADID": "creative_id", "ClickID": "click_id",
}

// Params are a tracking request's parameters under their canonical names, gathered from the query
// string and, for POST, a form or JSON body.
type Params map[string]string

// ParseParams gathers a request's parameters. A parameter given more than once (query and body,
// name and alias, or repeated) with different values is an error naming it.
func ParseParams(r *http.Request) (Params, error) {
	var body []byte
	if r.Method == http.MethodPost && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return nil, store.FieldError("body", "could not be read")
		}
		if len(b) > maxBody {
			return nil, store.FieldError("body", "is larger than %d bytes", maxBody)
		}
		body = b
	}
	return parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), body)
}

func parseParams(rawQuery, contentType string, body []byte) (Params, error) {
	p := Params{}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, store.FieldError("query", "is not a valid URL query string")
	}
	if err := p.addAll(q); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-www-form-urlencoded":
		f, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, store.FieldError("body", "is not a valid form")
		}
		return p, p.addAll(f)
	case "application/json":
		return p, p.addJSON(body)
	default:
		return nil, store.FieldError("body", "must be application/x-www-form-urlencoded or application/json")
	}
}

func (p Params) addAll(v url.Values) error {
	for name, vals := range v {
		for _, val := range vals {
			if err := p.add(name, val); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p Params) addJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return store.FieldError("body", "is not a JSON object")
	}
	if dec.More() {
		return store.FieldError("body", "has data after the JSON object")
	}
	for name, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = strconv.FormatBool(v)
		case nil:
			continue
		default:
			return store.FieldError(canonical(name), "must be a string or a number")
		}
		if err := p.add(name, s); err != nil {
			return err
		}
	}
	return nil
}

func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

func (p Params) add(name, value string) error {
	name = canonical(name)
	if prev, ok := p[name]; ok && prev != value {
		return store.FieldError(name, "given more than once with different values")
	}
	p[name] = value
	return nil
}

// ID reads a positive integer identifier; absent (or empty) gives 0, or an error when required.
func (p Params) ID(name string, required bool) (int64, error) {
	s := p[name]
	if s == "" {
		if required {
			return 0, store.FieldError(name, "is required")
		}
		return 0, nil
	}
	return parseID(name, s)
}

var digits = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)

func parseID(name, s string) (int64, error) {
	if !digits.MatchString(s) {
		return 0, store.FieldError(name, "must be a positive integer")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, store.FieldError(name, "must be a positive integer")
	}
	return v, nil
}

// Money reads an amount of API.md's money pattern.
func (p Params) Money(name string, required bool) (store.Money, bool, error) {
	s, ok := p[name]
	if !ok || s == "" {
		if required {
			return 0, false, store.FieldError(name, "is required")
		}
		return 0, false, nil
	}
	m, err := store.ParseMoney(s)
	if err != nil {
		return 0, false, store.FieldError(name, "%s", err.Error())
	}
	return m, true, nil
}

// Text reads free text of at most max bytes of UTF-8; absent gives "".
func (p Params) Text(name string, max int) (string, error) {
	s := p[name]
	if len(s) > max {
		return "", store.FieldError(name, "must be at most %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return "", store.FieldError(name, "must be UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 { // PostgreSQL text cannot hold NUL: refuse it here, not in the workflow
		return "", store.FieldError(name, "must not contain NUL characters")
	}
	return s, nil
}

// Invoice reads the invoice (order) number id: 1 to 128 bytes of UTF-8 when present.
func (p Params) Invoice() (string, error) {
	s, ok := p["id"]
	if !ok {
		return "", nil
	}
	if s == "" {
		return "", store.FieldError("id", "must be 1 to 128 bytes")
	}
	return p.Text("id", 128)
}

// ClickID reads a click ID: 32 lowercase hex characters.
func (p Params) ClickID(required bool) (string, error) {
	s := p["click_id"]
	if s == "" {
		if required {
			return "", store.FieldError("click_id", "is required")
		}
		return "", nil
	}
	if !store.IsID(s) {
		return "", store.FieldError("click_id", "must be 32 lowercase hex characters")
	}
	return s, nil
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Custom are the custom conversion parameters, honoured when the offer allows them.
type Custom struct {
	Payout   *store.Money
	Currency string
	Status   string
}

// Custom validates the custom conversion parameters payout, currency and status.
func (p Params) Custom() (Custom, error) {
	var c Custom
	if m, ok, err := p.Money("payout", false); err != nil {
		return c, err
	} else if ok {
		c.Payout = &m
	}
	if s := p["currency"]; s != "" {
		if !currencyPattern.MatchString(s) {
			return c, store.FieldError("currency", "must be three upper-case letters (ISO 4217)")
		}
		c.Currency = s
	}
	switch s := p["status"]; s {
	case "", store.ConversionApproved, store.ConversionPending, store.ConversionRejected:
		c.Status = s
	default:
		return c, store.FieldError("status", "must be approved, pending or rejected")
	}
	return c, nil
}

// Affiliate reads the affiliate's identifiers of a click, impression or AFID post.
func (p Params) Affiliate() (affID int64, subID string, creativeID int64, err error) {
	if affID, err = p.ID("aff_id", true); err != nil {
		return
	}
	if subID, err = p.Text("sub_id", 255); err != nil {
		return
	}
	creativeID, err = p.ID("creative_id", false)
	return
}
