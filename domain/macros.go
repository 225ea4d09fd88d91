package domain

import (
	"net/url"
	"strings"
)

// ExpandMacros replaces every {name} in template whose name is a key of values with the value,
// URL-escaped; macros with no value become empty. Text outside braces is left as it is.
func ExpandMacros(template string, values map[string]string) string {
	return ExpandMacrosFunc(template, func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	})
}

// ExpandMacrosFunc is ExpandMacros with the values given by a lookup: the click path answers
// from its own fields instead of filling a map on every click.
func ExpandMacrosFunc(template string, value func(name string) (string, bool)) string {
	if !strings.Contains(template, "{") {
		return template
	}
	var b strings.Builder
	b.Grow(len(template) + 64)
	for {
		open := strings.IndexByte(template, '{')
		if open < 0 {
			b.WriteString(template)
			return b.String()
		}
		end := strings.IndexByte(template[open:], '}')
		if end < 0 {
			b.WriteString(template)
			return b.String()
		}
		name := template[open+1 : open+end]
		b.WriteString(template[:open])
		if v, ok := value(name); ok {
			b.WriteString(url.QueryEscape(v))
		} else if _, known := knownMacros[name]; !known {
			b.WriteString(template[open : open+end+1])
		}
		template = template[open+end+1:]
	}
}

// knownMacros are the macro names of docs/API.md: a known macro with no value expands to empty, an
// unknown {word} is left alone.
var knownMacros = map[string]struct{}{
	"click_id": {}, "offer_id": {}, "aff_id": {}, "sub_id": {}, "creative_id": {},
	"transaction_id": {}, "invoice_id": {}, "amount": {}, "payout": {}, "currency": {},
	"status": {}, "ip": {}, "event": {}, "sub2": {}, "sub3": {}, "sub4": {}, "sub5": {},
}

// IsMacro reports whether name is one of API.md's affiliate-pixel macros.
func IsMacro(name string) bool {
	_, ok := knownMacros[name]
	return ok
}
