package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestPostbackAuthentication walks docs/API.md's validation order for /postback: parameters (400),
// the advertiser's token (401), its IP allow-list (403), then the click or offer (404).
func TestPostbackAuthentication(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	other := newFixture(t, s, cpa2, nil)
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	otherClick, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", other.Offer.ID, other.Affiliate.ID), nil)
	token := f.Advertiser.PostbackToken

	// Allow-lists: one that holds the test client (127.0.0.1), one that does not.
	allowed := newFixtureWith(t, s, map[string]any{"allowed_ips": []string{"10.0.0.0/8", "127.0.0.1"}}, cpa2, nil)
	allowedClick, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", allowed.Offer.ID, allowed.Affiliate.ID), nil)
	fenced := newFixtureWith(t, s, map[string]any{"allowed_ips": []string{"10.0.0.0/8", "192.0.2.7/32"}}, cpa2, nil)
	fencedClick, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", fenced.Offer.ID, fenced.Affiliate.ID), nil)

	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	hdr := func(tok string) http.Header { return http.Header{"X-Postback-Token": {tok}} }
	unknownClick := domain.NewID()

	cases := []struct {
		name    string
		via     string
		params  url.Values
		header  http.Header
		code    int
		errPart string // the error must start with this (the field's name)
	}{
		{"token parameter", viaQuery, q("click_id", clickID, "amount", "1", "token", token), nil, 202, ""},
		{"token header", viaForm, q("click_id", clickID, "amount", "1"), hdr(token), 202, ""},
		{"token in JSON body", viaJSON, q("click_id", clickID, "amount", "1", "token", token), nil, 202, ""},
		{"both, the same", viaQuery, q("click_id", clickID, "amount", "1", "token", token), hdr(token), 202, ""},
		{"both, different", viaQuery, q("click_id", clickID, "amount", "1", "token", token), hdr(other.Advertiser.PostbackToken), 400, "token:"},
		{"no token", viaQuery, q("click_id", clickID, "amount", "1"), nil, 401, "token:"},
		{"unknown token", viaQuery, q("click_id", clickID, "amount", "1", "token", token+"x"), nil, 401, "token:"},
		{"token with a NUL", viaQuery, q("click_id", clickID, "amount", "1", "token", "a\x00b"), nil, 401, "token:"},
		{"token not UTF-8", viaQuery, q("click_id", clickID, "amount", "1", "token", "\xff\xfe"), nil, 401, "token:"},
		{"bad click_id before auth", viaQuery, q("click_id", "XYZ", "amount", "1"), nil, 400, "click_id:"},
		{"bad amount before auth", viaQuery, q("click_id", clickID, "amount", "1.999", "token", "nope"), nil, 400, "amount:"},
		{"missing amount", viaQuery, q("click_id", clickID, "token", token), nil, 400, "amount:"},
		{"unknown click", viaQuery, q("click_id", unknownClick, "amount", "1", "token", token), nil, 404, "click_id:"},
		{"another advertiser's click", viaQuery, q("click_id", otherClick, "amount", "1", "token", token), nil, 404, "click_id:"},
		{"click of another offer than offer_id", viaQuery, q("click_id", clickID, "offer_id", fmt.Sprint(other.Offer.ID), "amount", "1", "token", token), nil, 404, "click_id:"},
		{"IP in the allow-list", viaQuery, q("click_id", allowedClick, "amount", "1", "token", allowed.Advertiser.PostbackToken), nil, 202, ""},
		{"IP not in the allow-list", viaQuery, q("click_id", fencedClick, "amount", "1", "token", fenced.Advertiser.PostbackToken), nil, 403, "ip:"},
		{"X-Forwarded-For from an untrusted peer is ignored", viaQuery, q("click_id", fencedClick, "amount", "1", "token", fenced.Advertiser.PostbackToken),
			http.Header{"X-Forwarded-For": {"10.1.2.3"}}, 403, "ip:"},
		{"auth before the allow-list", viaQuery, q("click_id", fencedClick, "amount", "1", "token", "wrong-token-wrong-token"), nil, 401, "token:"},
		{"allow-list before existence", viaQuery, q("click_id", unknownClick, "amount", "1", "token", fenced.Advertiser.PostbackToken), nil, 403, "ip:"},
		{"AFID: unknown offer", viaQuery, q("offer_id", "999999999", "aff_id", fmt.Sprint(f.Affiliate.ID), "amount", "1", "token", token), nil, 404, "offer_id:"},
		{"AFID: another advertiser's offer", viaQuery, q("offer_id", fmt.Sprint(other.Offer.ID), "aff_id", fmt.Sprint(f.Affiliate.ID), "amount", "1", "token", token), nil, 404, "offer_id:"},
		{"AFID: unknown affiliate", viaQuery, q("offer_id", fmt.Sprint(f.Offer.ID), "aff_id", "999999999", "amount", "1", "token", token), nil, 404, "aff_id:"},
		{"AFID: missing aff_id", viaQuery, q("offer_id", fmt.Sprint(f.Offer.ID), "amount", "1", "token", token), nil, 400, "aff_id:"},
		{"AFID: bad offer_id before auth", viaQuery, q("offer_id", "0", "aff_id", "1", "amount", "1"), nil, 400, "offer_id:"},
		{"neither click_id nor offer_id", viaQuery, q("amount", "1", "token", token), nil, 400, "offer_id:"},
	}
	for _, tc := range cases {
		a := postback(t, s, tc.via, tc.params, tc.header)
		if a.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d", tc.name, a.Code, a, tc.code)
			continue
		}
		if tc.code >= 400 {
			if !strings.HasPrefix(a.Error, tc.errPart) || len(a.Keys) != 1 {
				t.Errorf("%s: body %v, want only an error starting %q", tc.name, a.Keys, tc.errPart)
			}
			continue
		}
		if a.Status != "accepted" || !strings.HasPrefix(a.WorkflowID, "conversion/") || len(a.Keys) != 2 {
			t.Errorf("%s: body %v, want exactly status accepted and workflow_id", tc.name, a.Keys)
		}
	}
}

// TestClickIDPost credits the click's affiliate, sub_id and visitor IP, and names the workflow by
// the invoice (or, without one, uniquely).
func TestClickIDPost(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa_cps", "amount": "1.00", "percent": "10"}, nil)
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=s-1&creative_id=44", f.Offer.ID, f.Affiliate.ID), nil)

	invoice := invoiceID("CID")
	a := mustPostback(t, s, 202, clickPost(f, clickID, "19.95", invoice))
	if want := fmt.Sprintf("conversion/%d/%s", f.Offer.ID, invoice); a.WorkflowID != want || a.Status != "accepted" {
		t.Fatalf("answer %+v, want workflow %s", a, want)
	}
	c := conversionByInvoice(t, s, f.Offer.ID, invoice)
	if c.Status != "approved" || c.Commission.String() != "3.00" || c.Amount.String() != "19.95" ||
		deref(c.AttributionMethod) != "click_id" || deref(c.ClickID) != clickID || c.AffID == nil || *c.AffID != f.Affiliate.ID ||
		deref(c.SubID) != "s-1" || c.CreativeID == nil || *c.CreativeID != 44 || deref(c.IP) != "127.0.0.1" ||
		c.WorkflowID != a.WorkflowID || c.Currency != "USD" {
		t.Fatalf("conversion %+v", c)
	}

	// Without an invoice every post is its own workflow: conversion/<offer>/-/<unique>. This click
	// is used now, so the conversion is rejected: still a new conversion, not a duplicate.
	a = mustPostback(t, s, 202, clickPost(f, clickID, "5", ""))
	if !regexp.MustCompile(fmt.Sprintf(`^conversion/%d/-/[0-9a-f]{32}$`, f.Offer.ID)).MatchString(a.WorkflowID) {
		t.Fatalf("workflow id %q", a.WorkflowID)
	}
	if res := workflowResult(t, s, a.WorkflowID); res.Status != "rejected" || res.Reason != "click_used" || res.Commission != 0 {
		t.Fatalf("second post without invoice: %+v", res)
	}
}

// TestClickIDPostExpiredClick rejects a click older than the offer's cookie window.
func TestClickIDPostExpiredClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"cookie_days": 30})
	// Clicks made 31 days (outside) and 29 days (inside the window) ago, written as the click
	// endpoint would have written them then.
	insert := func(age time.Duration) string {
		c := store.Click{ClickID: domain.NewID(), OfferID: f.Offer.ID, AffID: f.Affiliate.ID, IP: "198.51.100.4",
			UserAgent: "old browser", CreatedAt: time.Now().Add(-age).UTC()}
		if err := s.Store.InsertClick(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		return c.ClickID
	}
	expired, fresh := insert(31*24*time.Hour), insert(29*24*time.Hour)

	inv := invoiceID("EXP")
	mustPostback(t, s, 202, clickPost(f, expired, "10", inv))
	c := conversionByInvoice(t, s, f.Offer.ID, inv)
	if c.Status != "rejected" || deref(c.Reason) != "click_expired" || c.Commission != 0 || deref(c.ClickID) != expired {
		t.Fatalf("expired click: %+v", c)
	}
	if stored, _ := s.Store.Click(context.Background(), expired); stored.ConvertedBy != nil {
		t.Fatalf("a rejected conversion used the click: %+v", stored)
	}

	inv = invoiceID("FRESH")
	mustPostback(t, s, 202, clickPost(f, fresh, "10", inv))
	if c := conversionByInvoice(t, s, f.Offer.ID, inv); c.Status != "approved" || c.Commission.String() != "2.00" || deref(c.IP) != "198.51.100.4" {
		t.Fatalf("click inside the window: %+v", c)
	}
}

// TestClickIDPostPausedAffiliate records the conversion of a paused affiliate's click as rejected.
func TestClickIDPostPausedAffiliate(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	setAffiliateStatus(t, s, f.Affiliate.ID, "paused")

	inv := invoiceID("PAUSED")
	mustPostback(t, s, 202, clickPost(f, clickID, "10", inv))
	c := conversionByInvoice(t, s, f.Offer.ID, inv)
	if c.Status != "rejected" || deref(c.Reason) != "inactive_affiliate" || c.Commission != 0 {
		t.Fatalf("paused affiliate: %+v", c)
	}
}

// TestSingleUseClick: a click earns one conversion whichever way it was found (cookie, backup DB,
// Click ID post); the second is rejected click_used, unless the offer is multi_conversion.
func TestSingleUseClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)

	// pageConversion converts on the thank-you page: with the click's cookie, or (cookie nil) by the
	// backup DB, which needs the click's user agent.
	pageConversion := func(t *testing.T, f fixture, invoice string, cookie *http.Cookie, ua string) {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/pixel?offer_id=%d&amount=10&id=%s", s.URL, f.Offer.ID, invoice), nil)
		req.Header.Set("User-Agent", ua)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Conversion-Status") != "" {
			t.Fatalf("pixel: %d %s", resp.StatusCode, resp.Header.Get("X-Error"))
		}
	}
	type step struct {
		how     string // cookie, backup or click_id
		status  string
		reason  string
		methods string
	}
	cases := []struct {
		name  string
		multi bool
		steps []step
	}{
		{"cookie then click ID", false, []step{{"cookie", "approved", "", "cookie"}, {"click_id", "rejected", "click_used", "click_id"}}},
		{"backup then click ID", false, []step{{"backup", "approved", "", "backup"}, {"click_id", "rejected", "click_used", "click_id"}}},
		{"click ID then cookie", false, []step{{"click_id", "approved", "", "click_id"}, {"cookie", "rejected", "click_used", "cookie"}}},
		{"click ID then backup", false, []step{{"click_id", "approved", "", "click_id"}, {"backup", "rejected", "click_used", "backup"}}},
		{"click ID twice", false, []step{{"click_id", "approved", "", "click_id"}, {"click_id", "rejected", "click_used", "click_id"}}},
		{"multi_conversion: cookie, click ID, backup", true, []step{
			{"cookie", "approved", "", "cookie"}, {"click_id", "approved", "", "click_id"}, {"backup", "approved", "", "backup"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, cpa2, map[string]any{"multi_conversion": tc.multi})
			ua := "single-use/" + domain.NewID()
			clickID, cookie := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), http.Header{"User-Agent": {ua}})
			for i, st := range tc.steps {
				inv := invoiceID(fmt.Sprintf("SU%d", i))
				switch st.how {
				case "cookie":
					pageConversion(t, f, inv, cookie, ua)
				case "backup":
					pageConversion(t, f, inv, nil, ua)
				case "click_id":
					mustPostback(t, s, 202, clickPost(f, clickID, "10", inv))
				}
				c := conversionByInvoice(t, s, f.Offer.ID, inv)
				wantCommission := "2.00"
				if st.status == "rejected" {
					wantCommission = "0.00"
				}
				if c.Status != st.status || deref(c.Reason) != st.reason || deref(c.AttributionMethod) != st.methods ||
					deref(c.ClickID) != clickID || c.Commission.String() != wantCommission {
					t.Fatalf("step %d (%s): %+v", i, st.how, c)
				}
			}
		})
	}
}

// TestClickIDConcurrentPosts: two simultaneous Click ID posts of one click with different invoices
// give exactly one approved and one click_used, every time.
func TestClickIDConcurrentPosts(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	const pairs = 10
	type pair struct{ click, inv1, inv2 string }
	ps := make([]pair, pairs)
	for i := range ps {
		id, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
		ps[i] = pair{id, invoiceID(fmt.Sprintf("P%dA", i)), invoiceID(fmt.Sprintf("P%dB", i))}
	}
	// Every post of every pair waits at the gate, then all go at once.
	gate := make(chan struct{})
	var wg sync.WaitGroup
	codes := make([]int, 2*pairs)
	for i, p := range ps {
		for j, inv := range []string{p.inv1, p.inv2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				codes[2*i+j] = postback(t, s, viaForm, clickPost(f, p.click, "10", inv), nil).Code
			}()
		}
	}
	close(gate)
	wg.Wait()
	for i, code := range codes {
		if code != 202 {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	for i, p := range ps {
		a, b := conversionByInvoice(t, s, f.Offer.ID, p.inv1), conversionByInvoice(t, s, f.Offer.ID, p.inv2)
		got := []string{a.Status + "/" + deref(a.Reason), b.Status + "/" + deref(b.Reason)}
		sort.Strings(got)
		if got[0] != "approved/" || got[1] != "rejected/click_used" {
			t.Errorf("pair %d: %v", i, got)
		}
		winner := a
		if a.Status != "approved" {
			winner = b
		}
		stored, err := s.Store.Click(context.Background(), p.click)
		if err != nil || stored.ConvertedBy == nil || *stored.ConvertedBy != winner.ID {
			t.Errorf("pair %d: click used by %v, want %s (%v)", i, stored.ConvertedBy, winner.ID, err)
		}
	}
}

// TestAFIDPost: a recurring-billing CRM posts the affiliate's IDs on every rebill; each rebill with
// its own invoice is its own conversion, and the same invoice again is a duplicate.
func TestAFIDPost(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cps", "percent": "12.5"}, nil)

	var rebills []domain.Conversion
	for i := 1; i <= 3; i++ {
		inv := invoiceID(fmt.Sprintf("REBILL%d", i))
		p := afidPost(f, "39.99", inv)
		p.Set("sub_id", "crm-7")
		p.Set("creative_id", "12")
		a := mustPostback(t, s, 202, p)
		if a.WorkflowID != workflows.ConversionWorkflowID(f.Offer.ID, inv, "") {
			t.Fatalf("workflow id %q", a.WorkflowID)
		}
		rebills = append(rebills, conversionByInvoice(t, s, f.Offer.ID, inv))
	}
	for i, c := range rebills {
		// 12.5 % of 39.99 is 4.99875: half up to 5.00.
		if c.Status != "approved" || c.Commission.String() != "5.00" || deref(c.AttributionMethod) != "afid" ||
			c.ClickID != nil || deref(c.SubID) != "crm-7" || c.CreativeID == nil || *c.CreativeID != 12 ||
			c.AffID == nil || *c.AffID != f.Affiliate.ID || deref(c.IP) != "127.0.0.1" {
			t.Fatalf("rebill %d: %+v", i, c)
		}
	}
	if rebills[0].ID == rebills[1].ID || rebills[1].ID == rebills[2].ID {
		t.Fatal("rebills share a conversion")
	}

	// The same invoice again: a duplicate, answered with the original's workflow.
	a := mustPostback(t, s, 200, afidPost(f, "39.99", *rebills[0].InvoiceID))
	if a.Status != "duplicate" || a.WorkflowID != rebills[0].WorkflowID || len(a.Keys) != 2 {
		t.Fatalf("duplicate rebill: %+v", a)
	}

	// Without an invoice, every post is a new conversion.
	w1 := mustPostback(t, s, 202, afidPost(f, "10", "")).WorkflowID
	w2 := mustPostback(t, s, 202, afidPost(f, "10", "")).WorkflowID
	r1, r2 := workflowResult(t, s, w1), workflowResult(t, s, w2)
	if w1 == w2 || r1.Status != "approved" || r2.Status != "approved" || r1.ConversionID == r2.ConversionID {
		t.Fatalf("posts without invoice: %s %+v, %s %+v", w1, r1, w2, r2)
	}

	// A paused offer takes no conversions: 404.
	paused := newFixture(t, s, cpa2, map[string]any{"status": "paused"})
	if a := postback(t, s, viaQuery, afidPost(paused, "10", invoiceID("P")), nil); a.Code != 404 || !strings.HasPrefix(a.Error, "offer_id:") {
		t.Fatalf("paused offer: %+v", a)
	}
}

// TestAFIDPostPausedAffiliate records a paused affiliate's rebill as rejected, inactive_affiliate.
func TestAFIDPostPausedAffiliate(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	setAffiliateStatus(t, s, f.Affiliate.ID, "paused")
	inv := invoiceID("PAUSEDAFID")
	mustPostback(t, s, 202, afidPost(f, "10", inv))
	c := conversionByInvoice(t, s, f.Offer.ID, inv)
	if c.Status != "rejected" || deref(c.Reason) != "inactive_affiliate" || c.Commission != 0 || deref(c.AttributionMethod) != "afid" {
		t.Fatalf("paused affiliate: %+v", c)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
