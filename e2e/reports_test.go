package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestMetrics: GET /metrics serves the Prometheus text format with counters of clicks,
// impressions, conversions started and stored, and duplicates. Not parallel: the other tests'
// traffic would move the counters.
func TestMetrics(t *testing.T) {
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	before := scrapeMetrics(t, s)

	click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	if resp, _ := get(t, fmt.Sprintf("%s/impression?offer_id=%d&aff_id=%d", s.URL, f.Offer.ID, f.Affiliate.ID)); resp.StatusCode != 200 {
		t.Fatalf("impression: %d", resp.StatusCode)
	}
	inv := invoiceID("METRICS")
	a := mustPostback(t, s, 202, afidPost(f, "10", inv))
	mustPostback(t, s, 200, afidPost(f, "10", inv))
	if res := workflowResult(t, s, a.WorkflowID); res.Status != "approved" {
		t.Fatalf("workflow %+v", res)
	}

	after := scrapeMetrics(t, s)
	deltas := map[string]float64{
		`trackflow_clicks_total`:                             2,
		`trackflow_impressions_total`:                        1,
		`trackflow_conversions_started_total{source="afid"}`: 1,
		`trackflow_conversions_total{status="approved"}`:     1,
		`trackflow_duplicates_total{layer="temporal"}`:       1,
		`trackflow_duplicates_total{layer="database"}`:       0,
	}
	for series, want := range deltas {
		if _, ok := after[series]; !ok {
			t.Errorf("no series %s in /metrics", series)
			continue
		}
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s went up by %v, want %v", series, got, want)
		}
	}
	if _, ok := after["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// reportRow is one row of GET /api/v1/reports, raw.
type reportRow map[string]json.RawMessage

// report fetches a report and returns its rows, checking the envelope and each row's keys.
func report(t *testing.T, s *testenv.Stack, query, keyName string) []reportRow {
	t.Helper()
	code, body := rawAdmin(t, s, "/api/v1/reports?"+query)
	if code != 200 {
		t.Fatalf("report %s: %d %s", query, code, body["error"])
	}
	var rows []reportRow
	if err := json.Unmarshal(body["items"], &rows); err != nil || len(body) != 4 || body["group_by"] == nil {
		t.Fatalf("report %s: %v (%v)", query, body, err)
	}
	wantKeys := []string{keyName, "clicks", "impressions", "conversions", "duplicates", "revenue", "commission", "conversion_rate", "epc"}
	sort.Strings(wantKeys)
	for _, r := range rows {
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != strings.Join(wantKeys, ",") {
			t.Fatalf("report %s: row keys %v, want %v", query, keys, wantKeys)
		}
	}
	return rows
}

// figures renders a row's figures in a fixed order, to compare with a want string.
func (r reportRow) figures() string {
	var b strings.Builder
	for _, k := range []string{"clicks", "impressions", "conversions", "duplicates", "revenue", "commission", "conversion_rate", "epc"} {
		fmt.Fprintf(&b, "%s=%s ", k, r[k])
	}
	return strings.TrimSpace(b.String())
}

// TestReports: clicks, impressions, approved conversions with their revenue and commission,
// duplicates, conversion rate and EPC, by offer, by affiliate (today's live traffic), and by UTC
// day over a backdated range with its edges.
func TestReports(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)

	// Today: 4 clicks, 2 impressions, approved conversions of 10.00, 20.00 (AFID) and 5.00 (Click
	// ID), one rejected (click_used), two duplicates (a postback, and a page pixel that names no
	// affiliate: it counts for the original's).
	var clicks []string
	for range 4 {
		id, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
		clicks = append(clicks, id)
	}
	for range 2 {
		if resp, _ := get(t, fmt.Sprintf("%s/impression?offer_id=%d&aff_id=%d", s.URL, f.Offer.ID, f.Affiliate.ID)); resp.StatusCode != 200 {
			t.Fatalf("impression: %d", resp.StatusCode)
		}
	}
	inv1, inv2 := invoiceID("R1"), invoiceID("R2")
	// One at a time: the last two share a click, and the first of them must be the one to use it.
	for _, p := range []url.Values{afidPost(f, "10.00", inv1), afidPost(f, "20.00", inv2),
		clickPost(f, clicks[0], "5", invoiceID("R3")), clickPost(f, clicks[0], "7", invoiceID("R4"))} {
		workflowResult(t, s, mustPostback(t, s, 202, p).WorkflowID)
	}
	mustPostback(t, s, 200, afidPost(f, "10.00", inv1))
	if resp, _ := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=20.00&id=%s", s.URL, f.Offer.ID, inv2)); resp.Header.Get("X-Conversion-Status") != "duplicate" {
		t.Fatalf("pixel duplicate: %d %v", resp.StatusCode, resp.Header)
	}

	today := time.Now().UTC().Format(time.DateOnly)
	want := "clicks=4 impressions=2 conversions=3 duplicates=2 revenue=\"35.00\" commission=\"6.00\" conversion_rate=\"0.7500\" epc=\"1.50\""
	found := false
	for _, r := range report(t, s, "group_by=offer&from="+today+"&to="+today, "offer_id") {
		if string(r["offer_id"]) == fmt.Sprint(f.Offer.ID) {
			found = true
			if got := r.figures(); got != want {
				t.Errorf("offer row: %s\nwant        %s", got, want)
			}
		}
	}
	if !found {
		t.Error("no row for the offer")
	}
	found = false
	for _, r := range report(t, s, "group_by=affiliate&from="+today+"&to="+today, "aff_id") {
		if string(r["aff_id"]) == fmt.Sprint(f.Affiliate.ID) {
			found = true
			if got := r.figures(); got != want {
				t.Errorf("affiliate row: %s\nwant            %s", got, want)
			}
		}
	}
	if !found {
		t.Error("no row for the affiliate")
	}

	// By day, on a backdated range nothing else writes to (three days in the 1990s picked by the
	// offer's id, so a rerun in the same database gets its own): rows written as the endpoints and
	// the worker would have written them then, some just outside the range.
	ctx := context.Background()
	day1 := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 4*int(f.Offer.ID))
	at := func(day int, clock string) time.Time { // day 0 is day1; clock is HH:MM:SS UTC
		c, err := time.Parse(time.TimeOnly, clock)
		if err != nil {
			t.Fatal(err)
		}
		return day1.AddDate(0, 0, day).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute +
			time.Duration(c.Second())*time.Second)
	}
	type moment struct {
		day   int
		clock string
	}
	for _, m := range []moment{{-1, "23:59:59"}, {0, "00:00:00"}, {0, "12:00:00"}, {0, "23:59:59"},
		{2, "01:00:00"}, {2, "02:00:00"}, {2, "23:59:59"}, {3, "00:00:00"}} {
		c := store.Click{ClickID: domain.NewID(), OfferID: f.Offer.ID, AffID: f.Affiliate.ID, IP: "192.0.2.1", CreatedAt: at(m.day, m.clock)}
		if err := s.Store.InsertClick(ctx, &c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DB.Exec(`INSERT INTO impressions (offer_id, aff_id, ip, created_at) VALUES ($1, $2, '192.0.2.1', $3)`,
		f.Offer.ID, f.Affiliate.ID, at(2, "05:00:00")); err != nil {
		t.Fatal(err)
	}
	conversion := func(when time.Time, status string, amount, commission domain.Money) {
		inv := invoiceID("OLD")
		c := domain.Conversion{ID: domain.NewID(), OfferID: f.Offer.ID, AffID: &f.Affiliate.ID, InvoiceID: &inv,
			Amount: amount, Currency: "USD", Commission: commission, Status: status, WorkflowID: "conversion/old/" + inv,
			CreatedAt: when}
		testenv.InsertConversion(t, s.DB, c)
	}
	conversion(at(0, "10:00:00"), "approved", 1000, 100)
	conversion(at(0, "11:00:00"), "rejected", 5000, 0)
	conversion(at(2, "10:00:00"), "approved", 750, 25)
	conversion(at(2, "11:00:00"), "approved", 250, 25)
	conversion(at(3, "00:00:00"), "approved", 99900, 9900)
	if _, err := s.DB.Exec(`INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id, created_at)
		VALUES ($1, $2, 'OLD-DUP', 'conversion/old/OLD-DUP', $3)`, f.Offer.ID, f.Affiliate.ID, at(2, "12:00:00")); err != nil {
		t.Fatal(err)
	}
	date := func(day int) string { return day1.AddDate(0, 0, day).Format(time.DateOnly) }
	days := report(t, s, "group_by=day&from="+date(0)+"&to="+date(2), "day")
	wantDays := []string{
		`day="` + date(0) + `" clicks=3 impressions=0 conversions=1 duplicates=0 revenue="10.00" commission="1.00" conversion_rate="0.3333" epc="0.33"`,
		`day="` + date(1) + `" clicks=0 impressions=0 conversions=0 duplicates=0 revenue="0.00" commission="0.00" conversion_rate="0.0000" epc="0.00"`,
		`day="` + date(2) + `" clicks=3 impressions=1 conversions=2 duplicates=1 revenue="10.00" commission="0.50" conversion_rate="0.6667" epc="0.17"`,
	}
	if len(days) != len(wantDays) {
		t.Fatalf("%d day rows, want %d: %v", len(days), len(wantDays), days)
	}
	for i, r := range days {
		if got := "day=" + string(r["day"]) + " " + r.figures(); got != wantDays[i] {
			t.Errorf("day row %d: %s\nwant           %s", i, got, wantDays[i])
		}
	}
	// The same days in Asia/Kathmandu (+05:45): each row moves to the day it is there.
	ktm := report(t, s, "group_by=day&tz=Asia/Kathmandu&from="+date(0)+"&to="+date(2)+fmt.Sprintf("&offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), "day")
	wantKtm := []string{
		`day="` + date(0) + `" clicks=3 impressions=0 conversions=1 duplicates=0 revenue="10.00" commission="1.00" conversion_rate="0.3333" epc="0.33"`,
		`day="` + date(1) + `" clicks=1 impressions=0 conversions=0 duplicates=0 revenue="0.00" commission="0.00" conversion_rate="0.0000" epc="0.00"`,
		`day="` + date(2) + `" clicks=2 impressions=1 conversions=2 duplicates=1 revenue="10.00" commission="0.50" conversion_rate="1.0000" epc="0.25"`,
	}
	if len(ktm) != len(wantKtm) {
		t.Fatalf("%d Kathmandu day rows, want %d: %v", len(ktm), len(wantKtm), ktm)
	}
	for i, r := range ktm {
		if got := "day=" + string(r["day"]) + " " + r.figures(); got != wantKtm[i] {
			t.Errorf("Kathmandu day row %d: %s\nwant                     %s", i, got, wantKtm[i])
		}
	}
	// Filtered on another offer, the days are there and empty.
	for _, r := range report(t, s, "group_by=day&from="+date(0)+"&to="+date(2)+fmt.Sprintf("&offer_id=%d", f.Offer.ID+1000000), "day") {
		if string(r["clicks"]) != "0" || string(r["conversions"]) != "0" {
			t.Errorf("another offer's day row: %s", r.figures())
		}
	}

	// One day, as from and to both default to today (the backdated rows are not in it).
	if rows := report(t, s, "", "day"); len(rows) != 1 || string(rows[0]["day"]) != `"`+today+`"` {
		t.Errorf("default report: %v", rows)
	}

	for q, field := range map[string]string{
		"group_by=week": "group_by:", "from=2001-3-1": "from:", "from=2001-02-30": "from:", "to=yesterday": "to:",
		"from=2001-03-02&to=2001-03-01": "to:", "from=2001-01-01&to=2002-01-02": "to:",
		"tz=Mars/Olympus_Mons": "tz:", "tz=Local": "tz:", "tz=../../etc/passwd": "tz:",
		"offer_id=x": "offer_id:", "aff_id=-1": "aff_id:", "offer_id=0": "offer_id:",
	} {
		code, body := rawAdmin(t, s, "/api/v1/reports?"+q)
		var msg string
		_ = json.Unmarshal(body["error"], &msg)
		if code != 400 || !strings.HasPrefix(msg, field) {
			t.Errorf("%s: %d %q, want 400 naming %s", q, code, msg, field)
		}
	}
	if code, _ := rawAdmin(t, s, "/api/v1/reports?group_by=day&from=2001-01-01&to=2002-01-01"); code != 200 {
		t.Errorf("a 366-day report: %d", code)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/reports", nil)
	if resp, err := noRedirect.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("without the admin token: %v %v", resp, err)
	}
}

// TestReportDuplicatesPerEvent: invoices are unique per (offer, event, id), so a lead and a plain
// conversion may share an id, here from two affiliates. A duplicate that names no affiliate (a
// page pixel, turned away by Temporal) counts for the original of its own event, and stays there
// when another event's conversion with the same id is recorded later.
func TestReportDuplicatesPerEvent(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	mustAdmin(t, s, 201, "POST", fmt.Sprintf("/api/v1/offers/%d/events", f.Offer.ID),
		map[string]any{"name": "lead", "payout": map[string]any{"type": "cpa", "amount": "0.50"}}, nil)
	other := newAffiliate(t, s)
	inv := invoiceID("EV")
	pixelDuplicate := func(event string) {
		t.Helper()
		q := fmt.Sprintf("%s/pixel?offer_id=%d&amount=1.00&id=%s", s.URL, f.Offer.ID, inv)
		if event != "" {
			q += "&event=" + event
		}
		if resp, _ := get(t, q); resp.Header.Get("X-Conversion-Status") != "duplicate" {
			t.Fatalf("pixel duplicate of event %q: %d %v", event, resp.StatusCode, resp.Header)
		}
	}

	// The lead, from the fixture's affiliate, and one duplicate of it.
	lead := afidPost(f, "1.00", inv)
	lead.Set("event", "lead")
	workflowResult(t, s, mustPostback(t, s, 202, lead).WorkflowID)
	pixelDuplicate("lead")
	// The plain conversion with the same id, from the other affiliate, and two duplicates of it.
	sale := afidPost(f, "10.00", inv)
	sale.Set("aff_id", fmt.Sprint(other.ID))
	workflowResult(t, s, mustPostback(t, s, 202, sale).WorkflowID)
	pixelDuplicate("")
	pixelDuplicate("")

	today := time.Now().UTC().Format(time.DateOnly)
	got := map[string]string{}
	for _, r := range report(t, s, fmt.Sprintf("group_by=affiliate&from=%s&to=%s&offer_id=%d", today, today, f.Offer.ID), "aff_id") {
		got[string(r["aff_id"])] = "conversions=" + string(r["conversions"]) + " duplicates=" + string(r["duplicates"])
	}
	want := map[string]string{
		fmt.Sprint(f.Affiliate.ID): "conversions=1 duplicates=1",
		fmt.Sprint(other.ID):       "conversions=1 duplicates=2",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by affiliate: %v\nwant          %v", got, want)
	}
	if n := duplicatesCounted(t, s, f.Offer.ID, inv); n != 3 {
		t.Errorf("%d duplicates stored, want 3", n)
	}
}
