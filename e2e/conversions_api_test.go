package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// conversionKeys are the keys of docs/API.md's conversion object; the detail adds deliveries.
var conversionKeys = []string{"id", "offer_id", "aff_id", "sub_id", "sub2", "sub3", "sub4", "sub5", "creative_id", "event", "click_id", "invoice_id",
	"amount", "currency", "commission", "reversed_commission", "status", "reason", "note", "attribution_method",
	"workflow_id", "ip", "created_at", "updated_at", "test"}

var apiTimePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// rawAdmin calls the admin API and returns the status and the raw JSON object.
func rawAdmin(t *testing.T, s *testenv.Stack, path string) (int, map[string]json.RawMessage) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+testenv.AdminToken)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("GET %s: %d, not a JSON object: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode, m
}

// checkConversionJSON checks a conversion object key by key against want (raw JSON text).
func checkConversionJSON(t *testing.T, what string, obj map[string]json.RawMessage, want map[string]string, extra ...string) {
	t.Helper()
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	wantKeys := append(append([]string{}, conversionKeys...), extra...)
	sort.Strings(keys)
	sort.Strings(wantKeys)
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
		t.Errorf("%s: keys %v, want %v", what, keys, wantKeys)
	}
	for k, v := range want {
		if string(obj[k]) != v {
			t.Errorf("%s: %s = %s, want %s", what, k, obj[k], v)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		var s string
		if err := json.Unmarshal(obj[k], &s); err != nil || !apiTimePattern.MatchString(s) {
			t.Errorf("%s: %s = %s, want a UTC time like \"2026-11-21T10:00:00Z\"", what, k, obj[k])
		}
	}
}

// TestConversionObject: the list item and the detail are docs/API.md's conversion object exactly: every
// key present, nulls as null, money as two-decimal strings, ids as numbers; the detail lists the
// pixel deliveries oldest first, [] when there are none.
func TestConversionObject(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	aff := newAffiliateServer(t, 500, 200)
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/pb?tx={transaction_id}&status={status}&payout={payout}"})
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=s1", f.Offer.ID, f.Affiliate.ID), nil)

	inv := invoiceID("OBJ")
	a := mustPostback(t, s, 202, clickPost(f, clickID, "19.95", inv))
	if res := workflowResult(t, s, a.WorkflowID); res.Delivered != 1 {
		t.Fatalf("workflow %+v", res)
	}
	conv := conversionByInvoice(t, s, f.Offer.ID, inv)
	want := map[string]string{
		"id": `"` + conv.ID + `"`, "offer_id": fmt.Sprint(f.Offer.ID), "aff_id": fmt.Sprint(f.Affiliate.ID),
		"sub_id": `"s1"`, "creative_id": "null", "click_id": `"` + clickID + `"`, "invoice_id": `"` + inv + `"`,
		"amount": `"19.95"`, "currency": `"USD"`, "commission": `"2.00"`, "reversed_commission": "null",
		"status": `"approved"`, "reason": "null", "note": "null", "attribution_method": `"click_id"`,
		"workflow_id": `"` + a.WorkflowID + `"`, "ip": `"127.0.0.1"`,
		"sub2": "null", "sub3": "null", "sub4": "null", "sub5": "null", "event": "null", "test": "false",
	}

	code, list := rawAdmin(t, s, "/api/v1/conversions?invoice_id="+url.QueryEscape(inv))
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(list["items"], &items); code != 200 || err != nil || len(items) != 1 || len(list) != 1 {
		t.Fatalf("list: %d %v (%v)", code, list, err)
	}
	checkConversionJSON(t, "list item", items[0], want)

	code, detail := rawAdmin(t, s, "/api/v1/conversions/"+conv.ID)
	if code != 200 {
		t.Fatalf("detail: %d", code)
	}
	checkConversionJSON(t, "detail", detail, want, "deliveries")
	var deliveries []map[string]json.RawMessage
	if err := json.Unmarshal(detail["deliveries"], &deliveries); err != nil || len(deliveries) != 2 {
		t.Fatalf("deliveries %s (%v)", detail["deliveries"], err)
	}
	for i, d := range deliveries {
		for _, k := range []string{"pixel_id", "method", "url", "attempt", "status_code", "error", "duration_ms", "at"} {
			if _, ok := d[k]; !ok {
				t.Errorf("delivery %d has no %s: %v", i, k, d)
			}
		}
		var at string
		_ = json.Unmarshal(d["at"], &at)
		if string(d["attempt"]) != fmt.Sprint(i+1) || string(d["status_code"]) != []string{"500", "200"}[i] ||
			string(d["method"]) != `"GET"` || !apiTimePattern.MatchString(at) {
			t.Errorf("delivery %d (oldest first): %v", i, d)
		}
	}

	// A conversion that fired no pixel: deliveries is [], not null.
	rejected := mustPostback(t, s, 202, clickPost(f, clickID, "5", invoiceID("OBJ-USED")))
	res := workflowResult(t, s, rejected.WorkflowID)
	_, detail = rawAdmin(t, s, "/api/v1/conversions/"+res.ConversionID)
	if string(detail["deliveries"]) != "[]" || string(detail["reason"]) != `"click_used"` || string(detail["commission"]) != `"0.00"` {
		t.Fatalf("rejected detail: deliveries %s reason %s commission %s", detail["deliveries"], detail["reason"], detail["commission"])
	}

	for _, id := range []string{"0123456789abcdef0123456789abcdef", "nope", "%ff%fe", "%00"} {
		if code, body := rawAdmin(t, s, "/api/v1/conversions/"+id); code != 404 || !strings.Contains(string(body["error"]), "not found") {
			t.Errorf("GET conversion %q: %d %v", id, code, body)
		}
	}
}

// TestConversionsList: filters offer_id, aff_id, invoice_id, status; newest first; limit default
// 50, at most 500; a bad filter is a 400 naming it.
func TestConversionsList(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	var other store.Affiliate
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "other " + t.Name()}, &other)

	// 60 conversions of the offer, stored as the workflow stores them, a second apart: every 10th is
	// the other affiliate's, every 7th rejected.
	base := time.Now().Add(-time.Hour).UTC()
	want := map[string][]string{} // filter → ids, newest first
	for i := range 60 {
		affID := f.Affiliate.ID
		if i%10 == 0 {
			affID = other.ID
		}
		inv := fmt.Sprintf("LIST-%d-%02d", f.Offer.ID, i)
		c := domain.Conversion{ID: domain.NewID(), OfferID: f.Offer.ID, AffID: &affID, InvoiceID: &inv,
			Amount: 1000, Currency: "USD", Commission: 200, Status: "approved", WorkflowID: "conversion/test/" + inv}
		if i%7 == 0 {
			reason := "click_used"
			c.Status, c.Reason, c.Commission = "rejected", &reason, 0
		}
		c.CreatedAt = base.Add(time.Duration(i) * time.Second)
		testenv.InsertConversion(t, s.DB, c)
		want["all"] = append([]string{c.ID}, want["all"]...)
		if affID == other.ID {
			want["other"] = append([]string{c.ID}, want["other"]...)
		}
		if c.Status == "rejected" {
			want["rejected"] = append([]string{c.ID}, want["rejected"]...)
		}
		if i == 33 {
			want["invoice"] = []string{c.ID}
		}
	}
	ids := func(query string) []string {
		t.Helper()
		var list struct{ Items []domain.Conversion }
		mustAdmin(t, s, 200, "GET", "/api/v1/conversions?"+query, nil, &list)
		out := make([]string, len(list.Items))
		for i, c := range list.Items {
			out[i] = c.ID
		}
		return out
	}
	offer := fmt.Sprintf("offer_id=%d", f.Offer.ID)
	checks := []struct {
		query string
		want  []string
	}{
		{offer, want["all"][:50]}, // default limit 50, newest first
		{offer + "&limit=500", want["all"]},
		{offer + "&limit=3", want["all"][:3]},
		{fmt.Sprintf("%s&aff_id=%d", offer, other.ID), want["other"]},
		{fmt.Sprintf("aff_id=%d", other.ID), want["other"]},
		{offer + "&status=rejected&limit=500", want["rejected"]},
		{fmt.Sprintf("%s&aff_id=%d&status=rejected", offer, other.ID), intersect(want["other"], want["rejected"])},
		{offer + "&invoice_id=" + url.QueryEscape(fmt.Sprintf("LIST-%d-33", f.Offer.ID)), want["invoice"]},
		{"invoice_id=" + url.QueryEscape(fmt.Sprintf("LIST-%d-33", f.Offer.ID)), want["invoice"]},
		{offer + "&status=reversed", []string{}},
		{"offer_id=999999999", []string{}},
	}
	for _, c := range checks {
		if got := ids(c.query); strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: got %d ids %v, want %d %v", c.query, len(got), got, len(c.want), c.want)
		}
	}

	bad := map[string]string{
		"limit=0": "limit:", "limit=501": "limit:", "limit=abc": "limit:", "limit=-1": "limit:", "limit=1.5": "limit:",
		"offer_id=abc": "offer_id:", "offer_id=0": "offer_id:", "aff_id=-3": "aff_id:", "aff_id=1e3": "aff_id:",
		"status=bogus": "status:", "invoice_id=" + strings.Repeat("x", 129): "invoice_id:", "invoice_id=%ff": "invoice_id:",
	}
	for q, field := range bad {
		code, body := rawAdmin(t, s, "/api/v1/conversions?"+q)
		var msg string
		_ = json.Unmarshal(body["error"], &msg)
		if code != 400 || !strings.HasPrefix(msg, field) {
			t.Errorf("%s: %d %q, want 400 naming %s", q, code, msg, field)
		}
	}
	resp, _ := get(t, s.URL+"/api/v1/conversions")
	if resp.StatusCode != 401 {
		t.Errorf("without the admin token: %d", resp.StatusCode)
	}
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	out := []string{}
	for _, x := range a {
		if in[x] {
			out = append(out, x)
		}
	}
	return out
}
