package api

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/metrics"
)

// requireAdmin guards the admin API with Authorization: Bearer <ADMIN_TOKEN>. It answers before
// the body is read: a refused request also closes its connection, so that net/http does not
// read (up to 256 KB of) the body first to keep the connection, however slowly it is sent.
func (s *server) requireAdmin(c *gin.Context) error {
	ip := s.clientIP(c.Request)
	if err := s.adminAuth.check(c, ip); err != nil {
		s.cfg.Metrics.AuthRateLimited(metrics.RealmAdmin)
		closeUnread(c)
		return err
	}
	got, ok := bearerToken(c.GetHeader("Authorization"))
	if !ok || s.cfg.AdminToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
		s.adminAuth.failed(ip)
		closeUnread(c)
		return domain.Errorf(domain.Unauthorized, "authorization: a valid admin bearer token is required")
	}
	c.Next()
	return nil
}

// bearerToken reads the token of an Authorization header "Bearer <token>". The scheme is
// case-insensitive (RFC 9110, section 11.1), so "bearer <token>" is the same credential.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimLeft(token, " ")
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// closeUnread makes a refused request's answer close the connection when its body is left
// unread, instead of net/http draining the body before answering.
func closeUnread(c *gin.Context) {
	if c.Request.ContentLength != 0 {
		c.Header("Connection", "close")
	}
}

// body is an admin request's JSON object, read field by field so that every error names its field.
type body map[string]json.RawMessage

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 1 << 20

func readBody(c *gin.Context) (body, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxAdminBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, domain.FieldError("body", "is larger than %d bytes", maxAdminBody)
	}
	if err != nil {
		return nil, domain.FieldError("body", "could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return body{}, nil
	}
	b, dup, err := decodeObject(raw)
	if err != nil {
		return nil, domain.FieldError("body", "must be a JSON object")
	}
	if dup != "" {
		return nil, repeatedField(dup)
	}
	return b, nil
}

// decodeObject reads a JSON object into its fields, key by key: a key given twice with different
// values is reported in dup (decoding into a map would keep the last one silently, where
// docs/API.md makes a parameter given twice with different values a 400 naming it). err is set
// when raw is not one JSON object.
func decodeObject(raw []byte) (b body, dup string, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, "", errors.New("not a JSON object")
	}
	b = body{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, "", err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, "", err
		}
		if prev, ok := b[name]; ok && !sameJSON(prev, v) && dup == "" {
			dup = name
		}
		b[name] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, "", errors.New("not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, "", errors.New("data after the JSON object")
	}
	return b, dup, nil
}

// sameJSON reports whether two raw JSON values are the same but for insignificant whitespace.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// repeatedField is the error of a parameter given more than once with different values.
func repeatedField(name string) error {
	return domain.FieldError(name, "given more than once with different values")
}

// object reads a field that must be a JSON object (payout, caps, macros), described by shape in
// the error; a key repeated with different values inside it is a 400 naming name.key.
func (b body) object(name, shape string) (body, error) {
	ob, dup, err := decodeObject(b[name])
	switch {
	case err != nil:
		return nil, domain.FieldError(name, "must be an object %s", shape)
	case dup != "":
		return nil, repeatedField(name + "." + dup)
	}
	return ob, nil
}

func (b body) has(name string) bool {
	v, ok := b[name]
	return ok && string(v) != "null"
}

// missing reports whether a field is absent (or null); when it is and the field is required, the
// error says so.
func (b body) missing(name string, required bool) (bool, error) {
	switch {
	case b.has(name):
		return false, nil
	case required:
		return true, domain.FieldError(name, "is required")
	}
	return true, nil
}

// str reads a string field into dst when present; required fields must be non-empty.
func (b body) str(name string, required bool, max int, dst *string) error {
	if missing, err := b.missing(name, required); missing {
		return err
	}
	var s string
	if err := json.Unmarshal(b[name], &s); err != nil {
		return domain.FieldError(name, "must be a string")
	}
	if !validJSONText(b[name]) { // decoding replaced what was invalid: refuse, never store it altered
		return domain.FieldError(name, "must be valid UTF-8")
	}
	if required && strings.TrimSpace(s) == "" {
		return domain.FieldError(name, "must not be empty")
	}
	if len(s) > max || !utf8.ValidString(s) {
		return domain.FieldError(name, "must be at most %d bytes of UTF-8", max)
	}
	if strings.IndexByte(s, 0) >= 0 { // a JSON "\u0000", which PostgreSQL text cannot hold
		return domain.FieldError(name, "must not contain NUL characters")
	}
	*dst = s
	return nil
}

// id reads a positive integer field (a JSON number, or a string of digits).
func (b body) id(name string, required bool, dst *int64) error {
	if missing, err := b.missing(name, required); missing {
		return err
	}
	v, err := parseID(name, strings.Trim(string(b[name]), `"`))
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// intRange reads an integer field (a JSON number) that must lie in [lo, hi].
func (b body) intRange(name string, lo, hi int64, dst *int64) error {
	if !b.has(name) {
		return nil
	}
	var v int64
	if err := json.Unmarshal(b[name], &v); err != nil || v < lo || v > hi {
		return domain.FieldError(name, "must be an integer from %d to %d", lo, hi)
	}
	*dst = v
	return nil
}

// boolean reads a true/false field.
func (b body) boolean(name string, dst *bool) error {
	if !b.has(name) {
		return nil
	}
	if err := json.Unmarshal(b[name], dst); err != nil {
		return domain.FieldError(name, "must be true or false")
	}
	return nil
}

// oneOf reads a string field that must be one of the allowed values.
func (b body) oneOf(name string, dst *string, allowed ...string) error {
	var s string
	if err := b.str(name, false, 64, &s); err != nil || !b.has(name) {
		return err
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return nil
		}
	}
	return domain.FieldError(name, "must be one of %s", strings.Join(allowed, ", "))
}

// url reads an absolute http(s) URL field. Only a clearable one (an offer's thank_you_url or
// fallback_url) may be given as "" to remove it; a landing or pixel URL never can.
func (b body) url(name string, required, clearable bool, dst *string) error {
	var s string
	if err := b.str(name, required, 2048, &s); err != nil || !b.has(name) {
		return err
	}
	if s == "" && clearable {
		*dst = ""
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return domain.FieldError(name, "must be an absolute http or https URL")
	}
	*dst = s
	return nil
}

// timezone reads an IANA time zone name; an unknown one is a 400.
func (b body) timezone(name string, dst *string) error {
	var s string
	if err := b.str(name, false, 64, &s); err != nil || !b.has(name) {
		return err
	}
	// "" and "Local" would be UTC and the server's own zone: neither is an IANA name.
	if _, err := time.LoadLocation(s); err != nil || s == "" || s == "Local" {
		return domain.FieldError(name, "must be an IANA time zone name like Europe/Berlin")
	}
	*dst = s
	return nil
}

// caps reads a {"daily": N, "monthly": M} object field: positive integers, each optional (absent
// or null: no cap). Given, it replaces the whole setting, so {} removes every cap.
func (b body) caps(name string, dst *domain.Caps) error {
	if !b.has(name) {
		return nil
	}
	cb, err := b.object(name, `{"daily": N, "monthly": M}`)
	if err != nil {
		return err
	}
	var c domain.Caps
	for key, raw := range cb {
		var field **int64
		switch key {
		case "daily":
			field = &c.Daily
		case "monthly":
			field = &c.Monthly
		default:
			return domain.FieldError(name+"."+key, "is not a cap: daily or monthly")
		}
		if string(raw) == "null" {
			continue
		}
		var v int64
		if err := json.Unmarshal(raw, &v); err != nil || v < 1 || v > 1<<31-1 {
			return domain.FieldError(name+"."+key, "must be a positive integer")
		}
		*field = &v
	}
	*dst = c
	return nil
}

// money reads a money field (a string or a JSON number matching the money pattern).
func (b body) money(name, field string, dst *domain.Money) error {
	if !b.has(name) {
		return nil
	}
	v, err := domain.ParseMoneyJSON(b[name])
	if err != nil {
		return domain.FieldError(field, "%s", err.Error())
	}
	*dst = v
	return nil
}

// payout reads a {type, amount, percent} object field.
func (b body) payout(field string, required bool, dst *domain.Payout) error {
	if missing, err := b.missing(field, required); missing {
		return err
	}
	pb, err := b.object(field, "{type, amount, percent}")
	if err != nil {
		return err
	}
	return pb.payoutFields(field+".", dst)
}

func (b body) payoutFields(prefix string, dst *domain.Payout) error {
	p := *dst
	var t string
	if err := b.oneOf("type", &t, "cpa", "cps", "cpa_cps"); err != nil {
		return domain.FieldError(prefix+"type", "must be one of cpa, cps, cpa_cps")
	}
	if t != "" {
		p.Type = domain.PayoutType(t)
	}
	if p.Type == "" {
		return domain.FieldError(prefix+"type", "is required")
	}
	if err := b.money("amount", prefix+"amount", &p.Amount); err != nil {
		return err
	}
	if b.has("percent") {
		v, err := domain.ParsePercentJSON(b["percent"])
		if err != nil {
			return domain.FieldError(prefix+"percent", "%s", err.Error())
		}
		p.Percent = v
	}
	*dst = p
	return nil
}

// cidrs reads a list of CIDRs (a bare IP means that one address).
func (b body) cidrs(name string, dst *[]string) error {
	if !b.has(name) {
		return nil
	}
	var list []string
	if err := json.Unmarshal(b[name], &list); err != nil || !validJSONText(b[name]) {
		return domain.FieldError(name, "must be a list of CIDR strings")
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		p, err := ParsePrefix(s)
		if err != nil {
			return domain.FieldError(name, "%q is not a CIDR", s)
		}
		out = append(out, p.String())
	}
	*dst = out
	return nil
}

// pathID reads a positive integer path parameter; a malformed one is a 404 like an unknown one.
func pathID(c *gin.Context, name, what string) (int64, error) {
	v, err := parseID(name, c.Param(name))
	if err != nil {
		return 0, notFound(name, what)
	}
	return v, nil
}

// notFound is the 404 of an unknown id. Its message starts with the name of the parameter or
// field that gave the id, like every error message of docs/API.md: "aff_id: affiliate not found".
func notFound(name, what string) error {
	return domain.Errorf(domain.NotFound, "%s: %s not found", name, what)
}

// named gives a store's NotFound (which says what row is missing, not which parameter named it)
// the name of the parameter; other errors pass unchanged.
func named(err error, name, what string) error {
	if domain.ErrorKind(err) == domain.NotFound {
		return notFound(name, what)
	}
	return err
}

// queryValue reads a parameter of an admin request's query string ("" when absent), pair by pair
// as the tracking endpoints do (addEncoded): a parameter given more than once with different
// values is a 400 naming it (docs/API.md, "Where parameters come from"), and so is one whose value
// does not decode, rather than a filter silently dropped (a list that then answers every row);
// other pairs are not looked at.
func queryValue(c *gin.Context, name string) (string, error) {
	v, _, err := queryLookup(c, name)
	return v, err
}

// queryLookup is queryValue that also says whether the parameter was given (empty or not).
func queryLookup(c *gin.Context, name string) (value string, found bool, err error) {
	for s := c.Request.URL.RawQuery; s != ""; {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		rawName, rawValue, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(rawName); err != nil || n != name {
			continue
		}
		v, err := url.QueryUnescape(rawValue)
		switch {
		case err != nil:
			return "", true, undecodable(name)
		case found && v != value:
			return "", true, repeatedField(name)
		}
		value, found = v, true
	}
	return value, found, nil
}

// queryID reads an optional positive integer from an admin request's query string (0 when absent).
func queryID(c *gin.Context, name string) (int64, error) {
	s, err := queryValue(c, name)
	if err != nil || s == "" {
		return 0, err
	}
	return parseID(name, s)
}

// limit reads the list limit: default 50, at most 500.
func limit(c *gin.Context) (int, error) {
	s, err := queryValue(c, "limit")
	if err != nil || s == "" {
		return 50, err
	}
	v, err := parseID("limit", s)
	if err != nil || v > 500 {
		return 0, domain.FieldError("limit", "must be an integer from 1 to 500")
	}
	return int(v), nil
}

func created(c *gin.Context, v any) { c.JSON(http.StatusCreated, v) }
