package console

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// request is one console request being answered.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	c    *Console
	csrf string
	page string
}

// api calls the JSON API with the admin token (the session proves the operator had it).
func (q *request) api(method, path string, in any) apiResult {
	return q.c.call(q.r, q.c.cfg.AdminToken, method, path, in)
}

// render executes a page's template inside the layout.
func (q *request) render(code int, tmpl, title string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["Title"] = title
	data["CSRF"] = q.csrf
	data["Page"] = q.page
	data["SignedIn"] = q.csrf != ""
	var buf bytes.Buffer
	if err := q.c.pages[tmpl].Execute(&buf, data); err != nil {
		q.c.cfg.Logger.ErrorContext(q.r.Context(), "console template", "page", tmpl, "error", err)
		http.Error(q.w, "internal error", http.StatusInternalServerError)
		return
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.WriteHeader(code)
	_, _ = q.w.Write(buf.Bytes())
}

// fail answers an error page.
func (q *request) fail(code int, msg string) {
	q.render(code, "error", http.StatusText(code), map[string]any{"Error": msg})
}

// redirect answers a POST with 303 to a page (post/redirect/get).
func (q *request) redirect(path string) { http.Redirect(q.w, q.r, path, http.StatusSeeOther) }

// Field is one form input, described as data so that a new API field is one line: Name is the
// JSON field's dotted path ("payout.amount"), which is also how the API's messages name it.
type Field struct {
	Name, Label, Kind, Hint string
	Options                 []string
	Required                bool
	// Clear sends an empty input as "" (text) or null (number) instead of leaving it out, so an
	// edit can remove the setting (a fallback URL, a cap).
	Clear bool
	// Form names the form on pages with several, so that element ids stay unique.
	Form string
	// Group, on the first field of a group, is the group's heading.
	Group string
	Value string
	Error string
}

// ID is the input's element id.
func (f Field) ID() string { return "f-" + f.prefix() + f.Name }

// ErrorID is the element id of the field's error message.
func (f Field) ErrorID() string { return "e-" + f.prefix() + f.Name }

// HintID is the element id of the field's hint.
func (f Field) HintID() string { return "h-" + f.prefix() + f.Name }

// DescribedBy is the input's aria-describedby: its hint and its error, when it has them.
func (f Field) DescribedBy() string {
	var ids []string
	if f.Hint != "" {
		ids = append(ids, f.HintID())
	}
	if f.Error != "" {
		ids = append(ids, f.ErrorID())
	}
	return strings.Join(ids, " ")
}

func (f Field) prefix() string {
	if f.Form == "" {
		return ""
	}
	return f.Form + "-"
}

// inForm returns fields named as inputs of form (element ids f-<form>-<name>).
func inForm(form string, fields []Field) []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		f.Form = form
		out[i] = f
	}
	return out
}

// payoutKinds are the payout types of docs/API.md.
var payoutKinds = []string{"cpa", "cps", "cpa_cps"}

// offerFields are an offer's editable fields (docs/API.md, POST /api/v1/offers).
func offerFields(create bool) []Field {
	fs := []Field{
		{Name: "name", Label: "Name", Kind: "text", Required: create},
		{Name: "landing_url", Label: "Landing URL", Kind: "url", Required: create, Hint: "macros such as {click_id} are expanded"},
		{Name: "thank_you_url", Label: "Thank-you URL", Kind: "url", Clear: true},
		{Name: "status", Label: "Status", Kind: "select", Options: []string{"active", "paused"}},
		{Name: "fallback_url", Label: "Fallback URL", Kind: "url", Clear: true, Hint: "takes the clicks of a paused or capped offer"},
		{Name: "payout.type", Label: "Payout type", Kind: "select", Options: payoutKinds, Required: create, Group: "Payout"},
		{Name: "payout.amount", Label: "Payout amount", Kind: "text", Hint: "decimal, e.g. 12.50"},
		{Name: "payout.percent", Label: "Payout percent", Kind: "text", Hint: "for cps, e.g. 7.5"},
		{Name: "currency", Label: "Currency", Kind: "text", Hint: "ISO 4217, default USD"},
		{Name: "cookie_days", Label: "Cookie days", Kind: "number", Hint: "1 to 365, default 30", Group: "Attribution and rules"},
		{Name: "attribution", Label: "Attribution", Kind: "select", Options: []string{"last_click", "first_click"}},
		{Name: "min_conversion_seconds", Label: "Minimum seconds from click", Kind: "number", Hint: "0 to 86400; sooner is rejected too_fast"},
		{Name: "multi_conversion", Label: "Several conversions per click", Kind: "checkbox"},
		{Name: "allow_custom_params", Label: "Allow custom parameters", Kind: "checkbox", Hint: "payout, currency, status=pending (hold)"},
		{Name: "timezone", Label: "Time zone", Kind: "text", Hint: "IANA, for the caps' days and months; default UTC", Group: "Caps (approved conversions; empty: none)"},
		{Name: "caps.daily", Label: "Daily cap", Kind: "number", Clear: true},
		{Name: "caps.monthly", Label: "Monthly cap", Kind: "number", Clear: true},
		{Name: "affiliate_caps.daily", Label: "Daily cap per affiliate", Kind: "number", Clear: true},
		{Name: "affiliate_caps.monthly", Label: "Monthly cap per affiliate", Kind: "number", Clear: true},
		{Name: "hold_seconds", Label: "Hold seconds", Kind: "number", Hint: "how long a held conversion waits; 0: until decided", Group: "Held conversions"},
		{Name: "hold_expiry", Label: "When a hold expires", Kind: "select", Options: []string{"approve", "reject"}},
	}
	if create {
		fs = append([]Field{{Name: "advertiser_id", Label: "Advertiser ID", Kind: "number", Required: true}}, fs...)
	}
	return fs
}

// payoutOverrideFields are an affiliate's own payout for one offer (PUT .../payouts/:aff_id).
var payoutOverrideFields = []Field{
	{Name: "aff_id", Label: "Affiliate ID", Kind: "number", Required: true},
	{Name: "type", Label: "Payout type", Kind: "select", Options: payoutKinds, Required: true},
	{Name: "amount", Label: "Amount", Kind: "text"},
	{Name: "percent", Label: "Percent", Kind: "text"},
}

// eventFields are a named event of an offer (POST /api/v1/offers/:id/events).
var eventFields = inForm("event", []Field{
	{Name: "name", Label: "Event name", Kind: "text", Required: true, Hint: "a-z, 0-9, _; e.g. lead"},
	{Name: "payout.type", Label: "Payout type", Kind: "select", Options: payoutKinds, Required: true},
	{Name: "payout.amount", Label: "Payout amount", Kind: "text"},
	{Name: "payout.percent", Label: "Payout percent", Kind: "text"},
})

var advertiserFields = []Field{
	{Name: "name", Label: "Name", Kind: "text", Required: true},
	{Name: "allowed_ips", Label: "Allowed IPs", Kind: "list", Hint: "CIDRs, comma-separated; empty: any"},
}

var affiliateFields = []Field{
	{Name: "name", Label: "Name", Kind: "text", Required: true},
	{Name: "status", Label: "Status", Kind: "select", Options: []string{"active", "paused"}},
}

var pixelFields = []Field{
	{Name: "url", Label: "Pixel URL", Kind: "url", Required: true, Hint: "macros: {click_id}, {payout}, {amount}, {status}…"},
	{Name: "method", Label: "Method", Kind: "select", Options: []string{"GET", "POST"}},
	{Name: "offer_id", Label: "Only for offer ID", Kind: "number", Hint: "empty: every offer"},
}

// formBody turns the posted fields into the API's JSON body: empty inputs are left out (the API's
// defaults, or unchanged on an edit) unless the field clears, checkboxes are booleans, integers
// are JSON numbers (anything else typed into a number field is sent as text, for the API to
// refuse by name), dotted names nest.
func formBody(fields []Field, form url.Values) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		var v any
		raw := strings.TrimSpace(form.Get(f.Name))
		switch {
		case f.Kind == "checkbox":
			v = raw != ""
		case raw == "" && f.Clear && f.Kind == "number":
			v = nil
		case raw == "" && f.Clear:
			v = ""
		case raw == "":
			continue
		case f.Kind == "list":
			var items []string
			for _, s := range strings.Split(raw, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			v = items
		case f.Kind == "number":
			v = raw
			if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
				v = n
			}
		default:
			v = raw
		}
		setPath(out, f.Name, v)
	}
	return out
}

// setPath sets a dotted name in a JSON-like object, making the nested objects it goes through.
func setPath(m map[string]any, dotted string, v any) {
	parts := strings.Split(dotted, ".")
	for _, p := range parts[:len(parts)-1] {
		sub, _ := m[p].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
			m[p] = sub
		}
		m = sub
	}
	m[parts[len(parts)-1]] = v
}

// fill sets the fields' values from a JSON object (dotted names look into nested objects), and
// the error of the field the API's message names ("payout.amount: must be …"); a message naming
// no field is returned to be shown above the form.
func fill(fields []Field, values map[string]any, apiErr string) ([]Field, string) {
	out := make([]Field, len(fields))
	copy(out, fields)
	general := apiErr
	for i := range out {
		var v any = values
		for _, p := range strings.Split(out[i].Name, ".") {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		switch v := v.(type) {
		case nil:
		case string:
			out[i].Value = v
		case bool:
			if v {
				out[i].Value = "on"
			}
		case float64:
			out[i].Value = strconv.FormatFloat(v, 'f', -1, 64)
		case []any:
			var s []string
			for _, x := range v {
				s = append(s, toString(x))
			}
			out[i].Value = strings.Join(s, ", ")
		default:
			out[i].Value = toString(v)
		}
		if apiErr != "" && strings.HasPrefix(apiErr, out[i].Name+":") {
			out[i].Error = apiErr
			general = ""
		}
	}
	return out, general
}

// formValues is a posted form as fill's JSON-like values, to re-show what was typed.
func formValues(fields []Field, form url.Values) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		setPath(out, f.Name, form.Get(f.Name))
	}
	return out
}

// form is one form of a page: its fields and, after the API refused a post, the refusal and what
// was typed, to show again.
type form struct {
	fields []Field
	code   int
	err    string
	values map[string]any
}

func newForm(fields []Field) *form { return &form{fields: fields, code: http.StatusOK} }

// send posts the form as the JSON body of an admin route. It returns the API's answer object, or
// nil when the API refused it: the form then holds the refusal.
func (q *request) send(f *form, method, path string) map[string]any {
	res := q.api(method, path, formBody(f.fields, q.r.PostForm))
	if res.OK() {
		return jsonMap(res)
	}
	f.code, f.err, f.values = res.Code, res.Message(), formValues(f.fields, q.r.PostForm)
	return nil
}

// show puts the form in a page's data as <key>Fields and <key>Error: filled from what was typed
// when the post was refused, else from current (the stored object, or nil for a new one).
func (f *form) show(data map[string]any, key string, current map[string]any) {
	values := f.values
	if values == nil {
		values = current
	}
	data[key+"Fields"], data[key+"Error"] = fill(f.fields, values, f.err)
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// jsonMap decodes an API answer into a generic object (the templates show the API's fields).
func jsonMap(res apiResult) map[string]any {
	var m map[string]any
	_ = res.Decode(&m)
	return m
}

// positiveID reads a query parameter that must be a positive integer.
func positiveID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	return id, err == nil && id > 0
}

var funcs = template.FuncMap{
	"str": toString,
	// form is the data of the "form" template: a form posted to action (a console page) with
	// its CSRF token, its name as the action field (when several share a page), its fields,
	// the API's message naming none of them, and its button's label.
	"form": func(csrf, action, name string, fields []Field, err any, button string) map[string]any {
		return map[string]any{"CSRF": csrf, "Action": action, "Name": name, "Fields": fields, "Error": err, "Button": button}
	},
	// snippet is the data of the "snippet" template: a copyable block of tracking code.
	"snippet": func(id, title string, text any) map[string]any {
		return map[string]any{"ID": id, "Title": title, "Text": text}
	},
	"badge": func(status any) string {
		switch toString(status) {
		case "approved", "active":
			return "ok"
		case "pending", "paused":
			return "wait"
		case "rejected", "reversed":
			return "bad"
		}
		return ""
	},
	"ok": func(code any) bool {
		n, _ := code.(float64)
		return n >= 200 && n < 300
	},
}
