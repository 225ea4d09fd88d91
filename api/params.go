package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/trackflow/trackflow/domain"
)

// maxBody bounds a tracking request's body.
const maxBody = 64 << 10

// aliases are LinkTrust's parameter names, accepted case-sensitively for the canonical ones.
var aliases = map[string]string{
	"CID": "offer_id", "AFID": "aff_id", "SID": "sub_id", "ADID": "creative_id", "ClickID": "click_id",
	"sub1": "sub_id",
}

// paramNames are the canonical names of every tracking endpoint's parameters. Anything else a cart
// sends (utm_*, its own fields) is ignored rather than rejected, so carts work unchanged.
var paramNames = map[string]bool{
	"offer_id": true, "aff_id": true, "sub_id": true, "creative_id": true, "click_id": true,
	"amount": true, "id": true, "payout": true, "currency": true, "status": true, "token": true, "test": true,
	"sub2": true, "sub3": true, "sub4": true, "sub5": true, "event": true,
}

// Params are a tracking request's parameters under their canonical names, gathered from the query
// string and, for POST, a form or JSON body. A parameter given twice with different values is
// remembered as a conflict and reported when it is read, not when it is parsed: custom parameters
// of an offer that does not allow them must be ignored entirely, conflicts included.
type Params struct {
	values    map[string]string
	conflicts map[string]bool
	// undecodable are parameters of ours whose value is not URL-encoded text (a lone %): like a
	// conflict, reported when read.
	undecodable map[string]bool
}

// ParseParams gathers a request's parameters.
func ParseParams(r *http.Request) (Params, error) {
	var body []byte
	if r.Method == http.MethodPost && r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return Params{}, domain.FieldError("body", "could not be read")
		}
		if len(b) > maxBody {
			return Params{}, domain.FieldError("body", "is larger than %d bytes", maxBody)
		}
		body = b
	}
	return parseParams(r.URL.RawQuery, r.Header.Get("Content-Type"), body)
}

// parseParams reads the query string and a body of the given content type. Its errors are always
// Invalid errors naming "body" or a parameter.
func parseParams(rawQuery, contentType string, body []byte) (Params, error) {
	p := Params{values: map[string]string{}}
	p.addEncoded(rawQuery)
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	mt, mp, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-www-form-urlencoded":
		p.addEncoded(string(body))
	case "multipart/form-data":
		// An HTML form with enctype="multipart/form-data": its text fields count, files are ignored.
		f, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(maxBody)
		if err != nil {
			return Params{}, domain.FieldError("body", "is not a valid multipart form")
		}
		p.addAll(f.Value)
		_ = f.RemoveAll()
	case "application/json":
		if err := p.addJSON(body); err != nil {
			return Params{}, err
		}
	default:
		return Params{}, domain.FieldError("body", "must be application/x-www-form-urlencoded or application/json")
	}
	return p, nil
}

// addEncoded reads URL-encoded name=value pairs (a query string or a form body) as carts'
// trackers (PHP) and browsers (URLSearchParams) do: only '&' separates pairs, so a ';' is part of
// a value, and a pair that does not decode is ignored unless its name is one of ours. A cart's own
// field (utm_campaign=50%off) or more than url.ParseQuery's 10,000 pairs never loses the click;
// a parameter of ours that does not decode is a 400 naming it, when it is read (undecodable).
func (p *Params) addEncoded(s string) {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			continue
		}
		if name = canonical(name); !paramNames[name] {
			continue
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			if p.undecodable == nil {
				p.undecodable = map[string]bool{}
			}
			p.undecodable[name] = true
			continue
		}
		p.set(name, value)
	}
}

func (p *Params) addAll(v map[string][]string) {
	for name, vals := range v {
		for _, val := range vals {
			p.add(name, val)
		}
	}
}

// addJSON reads a flat JSON object token by token, so that a key given twice is seen as a repeat
// (decoding into a map would silently keep the last one). A JSON number keeps its text, so money
// is checked against the money pattern exactly as a string would be.
func (p *Params) addJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return domain.FieldError("body", "is not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return domain.FieldError("body", "is not a valid JSON object")
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return domain.FieldError("body", "is not a valid JSON object")
		}
		if !paramNames[canonical(name)] {
			continue
		}
		v, isNull, err := jsonScalar(raw)
		if err != nil {
			return domain.FieldError(canonical(name), "must be a string or a number")
		}
		if !isNull {
			p.add(name, v)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return domain.FieldError("body", "is not a valid JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return domain.FieldError("body", "has data after the JSON object")
	}
	return nil
}

// jsonScalar turns a JSON string, number or boolean into its text; null is reported as such.
func jsonScalar(raw json.RawMessage) (v string, isNull bool, err error) {
	switch raw[0] {
	case '"':
		if !validJSONText(raw) {
			// Kept invalid (its raw text behind a byte that is never UTF-8) rather than decoded
			// with U+FFFD: the parameter's reader then answers "<name>: must be valid UTF-8" as
			// for a query string, and two different invalid values stay different.
			return "\xff" + string(raw), false, nil
		}
		err = json.Unmarshal(raw, &v)
		return v, false, err
	case 'n':
		return "", true, nil
	case '{', '[':
		return "", false, errors.New("not a scalar")
	}
	return string(raw), false, nil // a number (its exact text) or true/false
}

func canonical(name string) string {
	if c, ok := aliases[name]; ok {
		return c
	}
	return name
}

func (p *Params) add(name, value string) {
	if name = canonical(name); paramNames[name] {
		p.set(name, value)
	}
}

// set records one value of a parameter of ours, by its canonical name; a second, different value
// makes it a conflict.
func (p *Params) set(name, value string) {
	if prev, ok := p.values[name]; ok && prev != value {
		if p.conflicts == nil {
			p.conflicts = map[string]bool{}
		}
		p.conflicts[name] = true
		return
	}
	p.values[name] = value
}

// lookup reads a parameter: its value, whether it was given, and an error when it was given more
// than once with different values.
func (p Params) lookup(name string) (string, bool, error) {
	if p.conflicts[name] {
		return "", true, domain.FieldError(name, "given more than once with different values")
	}
	if p.undecodable[name] {
		return "", true, undecodable(name)
	}
	v, ok := p.values[name]
	return v, ok, nil
}

// undecodable is the error of a parameter whose value is not URL-encoded text.
func undecodable(name string) error {
	return domain.FieldError(name, "is not URL-encoded text (a %% must start an escape like %%20)")
}

// Value reads a parameter as given; absent gives "".
func (p Params) Value(name string) (string, error) {
	v, _, err := p.lookup(name)
	return v, err
}

// ID reads a positive integer identifier; absent (or empty) gives 0, or an error when required.
func (p Params) ID(name string, required bool) (int64, error) {
	s, _, err := p.lookup(name)
	if err != nil {
		return 0, err
	}
	if s == "" {
		if required {
			return 0, domain.FieldError(name, "is required")
		}
		return 0, nil
	}
	return parseID(name, s)
}

// parseID reads ^[1-9][0-9]{0,18}$ that fits an int64: no sign, no leading zero. It runs on every
// click, so it checks the digits itself rather than with a regular expression.
func parseID(name, s string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, domain.FieldError(name, "must be a positive integer")
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, domain.FieldError(name, "must be a positive integer")
	}
	return v, nil
}

// Money reads an amount of docs/API.md's money pattern; absent (or empty) is not ok, or an error when
// required.
func (p Params) Money(name string, required bool) (domain.Money, bool, error) {
	s, _, err := p.lookup(name)
	if err != nil {
		return 0, false, err
	}
	if s == "" {
		if required {
			return 0, false, domain.FieldError(name, "is required")
		}
		return 0, false, nil
	}
	m, err := domain.ParseMoney(s)
	if err != nil {
		return 0, false, domain.FieldError(name, "%s", err.Error())
	}
	return m, true, nil
}

// Text reads free text of at most max bytes of UTF-8; absent gives "".
func (p Params) Text(name string, max int) (string, error) {
	s, _, err := p.lookup(name)
	if err != nil {
		return "", err
	}
	return s, checkText(name, s, max)
}

// checkText enforces what PostgreSQL's text and Temporal's IDs can hold: valid UTF-8 without NUL.
func checkText(name, s string, max int) error {
	switch {
	case len(s) > max:
		return domain.FieldError(name, "must be at most %d bytes", max)
	case !utf8.ValidString(s):
		return domain.FieldError(name, "must be valid UTF-8")
	case strings.IndexByte(s, 0) >= 0:
		return domain.FieldError(name, "must not contain NUL characters")
	}
	return nil
}

// Invoice reads the invoice (order) number id: 1 to 128 bytes of UTF-8 when present.
func (p Params) Invoice() (string, error) {
	s, ok, err := p.lookup("id")
	if err != nil || !ok {
		return "", err
	}
	if s == "" {
		return "", domain.FieldError("id", "must be 1 to 128 bytes")
	}
	return s, checkText("id", s, 128)
}

// ClickID reads a click ID: 32 lowercase hex characters.
func (p Params) ClickID(required bool) (string, error) {
	s, _, err := p.lookup("click_id")
	if err != nil {
		return "", err
	}
	if s == "" {
		if required {
			return "", domain.FieldError("click_id", "is required")
		}
		return "", nil
	}
	if !domain.IsID(s) {
		return "", domain.FieldError("click_id", "must be 32 lowercase hex characters")
	}
	return s, nil
}

// Test reads the test flag of a conversion: 1 or true is a test conversion; 0, false or absent
// is not.
func (p Params) Test() (bool, error) {
	s, _, err := p.lookup("test")
	if err != nil {
		return false, err
	}
	switch s {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, domain.FieldError("test", "must be 1, true, 0 or false")
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Custom are the custom conversion parameters, honoured when the offer allows them.
type Custom struct {
	Payout   *domain.Money
	Currency string
	Status   string
}

// Custom validates the custom conversion parameters payout, currency and status. Call it only
// when the offer allows them: otherwise they are ignored, however malformed.
func (p Params) Custom() (Custom, error) {
	var c Custom
	if m, ok, err := p.Money("payout", false); err != nil {
		return c, err
	} else if ok {
		c.Payout = &m
	}
	cur, err := p.Value("currency")
	if err != nil {
		return c, err
	}
	if cur != "" && !currencyPattern.MatchString(cur) {
		return c, domain.FieldError("currency", "must be three upper-case letters (ISO 4217)")
	}
	c.Currency = cur
	st, err := p.Value("status")
	if err != nil {
		return c, err
	}
	switch st {
	case "", domain.ConversionApproved, domain.ConversionPending, domain.ConversionRejected:
		c.Status = st
	default:
		return c, domain.FieldError("status", "must be approved, pending or rejected")
	}
	return c, nil
}

// AffiliateIDs are the affiliate's identifiers of a click, impression or AFID post ("" and 0
// when absent).
type AffiliateIDs struct {
	AffID      int64
	SubID      string
	Subs       [4]string // sub2..sub5
	CreativeID int64
}

// Affiliate reads the affiliate's identifiers of a click, impression or AFID post.
func (p Params) Affiliate() (AffiliateIDs, error) {
	var a AffiliateIDs
	var err error
	if a.AffID, err = p.ID("aff_id", true); err != nil {
		return a, err
	}
	if a.SubID, err = p.Text("sub_id", 255); err != nil {
		return a, err
	}
	for i, name := range domain.SubNames {
		if a.Subs[i], err = p.Text(name, 255); err != nil {
			return a, err
		}
	}
	a.CreativeID, err = p.ID("creative_id", false)
	return a, err
}

// macro is one of the affiliate's identifiers as a landing-page macro; false for other names.
func (a AffiliateIDs) macro(name string) (string, bool) {
	switch name {
	case "aff_id":
		return strconv.FormatInt(a.AffID, 10), true
	case "sub_id":
		return a.SubID, true
	case "creative_id":
		return optionalID(a.CreativeID), true
	}
	for i, sub := range domain.SubNames {
		if name == sub {
			return a.Subs[i], true
		}
	}
	return "", false
}

// eventPattern is API.md's event name: 1 to 32 of [a-z0-9_], starting with a letter.
var eventPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Event reads the optional event name of a conversion ("" for the plain conversion).
func (p Params) Event() (string, error) {
	s, err := p.Value("event")
	if err != nil || s == "" {
		return "", err
	}
	if !eventPattern.MatchString(s) {
		return "", domain.FieldError("event", "must be 1 to 32 characters of a-z, 0-9 and _, starting with a letter")
	}
	return s, nil
}
