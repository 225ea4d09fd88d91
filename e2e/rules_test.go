package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// statusCounts counts an offer's stored conversions by status and reason ("rejected/over_cap").
func statusCounts(t *testing.T, s *testenv.Stack, offerID int64) map[string]int {
	t.Helper()
	var rows []struct {
		Status string  `db:"status"`
		Reason *string `db:"reason"`
		N      int     `db:"n"`
	}
	const q = `SELECT status, reason, count(*) AS n FROM conversions WHERE offer_id = $1 GROUP BY 1, 2`
	if err := s.DB.Select(&rows, q, offerID); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		k := r.Status
		if r.Reason != nil {
			k += "/" + *r.Reason
		}
		out[k] += r.N
	}
	return out
}

// awaitStored waits until an offer has n stored conversions and returns their counts by status.
func awaitStored(t *testing.T, s *testenv.Stack, offerID int64, n int) map[string]int {
	t.Helper()
	var got map[string]int
	eventually(t, 3*time.Minute, fmt.Sprintf("%d conversions of offer %d", n, offerID), func() bool {
		got = statusCounts(t, s, offerID)
		total := 0
		for _, v := range got {
			total += v
		}
		return total >= n
	})
	return got
}

// concurrentAFID sends n AFID posts (no invoice) for one affiliate, up to 25 at a time: their
// workflows record concurrently. (More requests at once only time out starting workflows on the
// shared test Temporal server; store's TestCapCountersUnderConcurrency records 200 at once.)
func concurrentAFID(t *testing.T, s *testenv.Stack, f fixture, affID int64, n int) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	slots := make(chan struct{}, 25)
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			slots <- struct{}{}
			defer func() { <-slots }()
			q := afidPost(f, "10.00", "")
			q.Set("aff_id", fmt.Sprint(affID))
			resp, err := noRedirect.Get(s.URL + "/postback?" + q.Encode())
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("AFID post answered %d, want 202", c)
			return
		}
	}
}

// clickAnswer follows a tracking link without failing on a non-302.
func clickAnswer(t *testing.T, s *testenv.Stack, query string, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	resp, _ := send(t, "GET", s.URL+"/click?"+query, "", "", "", cookies...)
	return resp
}

func clicksStored(t *testing.T, s *testenv.Stack, offerID int64) int {
	t.Helper()
	var n int
	if err := s.DB.Get(&n, `SELECT count(*) FROM clicks WHERE offer_id = $1`, offerID); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCapExactUnderConcurrency: 200 concurrent conversions against a daily cap of 10 give exactly
// 10 approved and 190 over_cap, for the offer's cap and for an affiliate's cap; once a cap is
// full, clicks go to the fallback_url within five seconds (the other affiliate's do not).
//
// Not parallel: its 400 workflow starts run before the parallel tests start, so the shared test
// Temporal server is not also serving the rest of the suite (under that load starts time out).
func TestCapExactUnderConcurrency(t *testing.T) {
	s := testenv.Shared(t)
	const fallback = "https://other.example/fb?a={aff_id}&c={click_id}"

	t.Run("offer cap", func(t *testing.T) {
		f := newFixture(t, s, cpa2, map[string]any{"caps": map[string]any{"daily": 10, "monthly": 1000},
			"timezone": "America/New_York", "fallback_url": fallback})
		link := fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID)
		if resp := clickAnswer(t, s, link); resp.StatusCode != http.StatusFound || resp.Header.Get("X-Fallback") != "" {
			t.Fatalf("click before the cap is full: %d %q", resp.StatusCode, resp.Header.Get("X-Fallback"))
		}
		concurrentAFID(t, s, f, f.Affiliate.ID, 200)
		got := awaitStored(t, s, f.Offer.ID, 200)
		if got["approved"] != 10 || got["rejected/over_cap"] != 190 || len(got) != 2 {
			t.Fatalf("conversions by status: %v, want 10 approved and 190 over_cap", got)
		}
		var resp *http.Response
		eventually(t, 5*time.Second, "clicks to go to the fallback", func() bool {
			resp = clickAnswer(t, s, link)
			return resp.Header.Get("X-Fallback") == "cap"
		})
		want := fmt.Sprintf("https://other.example/fb?a=%d&c=", f.Affiliate.ID)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want ||
			resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Click-Id") != "" {
			t.Fatalf("fallback click: %d %v", resp.StatusCode, resp.Header)
		}
		before := clicksStored(t, s, f.Offer.ID)
		if resp := clickAnswer(t, s, link); resp.Header.Get("X-Fallback") != "cap" || clicksStored(t, s, f.Offer.ID) != before {
			t.Fatalf("a fallback click was stored (%v)", resp.Header)
		}
		if scrapeMetrics(t, s)[`trackflow_fallback_clicks_total{reason="cap"}`] < 1 {
			t.Fatal("fallback click not counted")
		}
	})

	t.Run("affiliate cap", func(t *testing.T) {
		f := newFixture(t, s, cpa2, map[string]any{"affiliate_caps": map[string]any{"daily": 10}, "fallback_url": fallback})
		var other store.Affiliate
		mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "other"}, &other)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); concurrentAFID(t, s, f, f.Affiliate.ID, 200) }()
		go func() { defer wg.Done(); concurrentAFID(t, s, f, other.ID, 5) }()
		wg.Wait()
		awaitStored(t, s, f.Offer.ID, 205)
		var rows []struct {
			AffID  int64  `db:"aff_id"`
			Status string `db:"status"`
			N      int    `db:"n"`
		}
		if err := s.DB.Select(&rows, `SELECT aff_id, status, count(*) AS n FROM conversions WHERE offer_id = $1 GROUP BY 1, 2`, f.Offer.ID); err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, r := range rows {
			got[fmt.Sprintf("%d/%s", r.AffID, r.Status)] = r.N
		}
		want := map[string]int{fmt.Sprintf("%d/approved", f.Affiliate.ID): 10, fmt.Sprintf("%d/rejected", f.Affiliate.ID): 190,
			fmt.Sprintf("%d/approved", other.ID): 5}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("conversions by affiliate and status: %v, want %v", got, want)
		}
		eventually(t, 5*time.Second, "the capped affiliate's clicks to go to the fallback", func() bool {
			return clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID)).Header.Get("X-Fallback") == "cap"
		})
		if resp := clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, other.ID)); resp.StatusCode != http.StatusFound ||
			resp.Header.Get("X-Fallback") != "" || !strings.HasPrefix(resp.Header.Get("Location"), "https://shop.example/") {
			t.Fatalf("the other affiliate's click: %d %v", resp.StatusCode, resp.Header)
		}
	})
}

// TestCapSlots: a held conversion holds its slot, a rejection frees it, a reversal does not; an
// event's conversions never count. A full cap without a fallback_url changes nothing on clicks.
func TestCapSlots(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"caps": map[string]any{"daily": 1}, "allow_custom_params": true})
	mustAdmin(t, s, 201, "POST", fmt.Sprintf("/api/v1/offers/%d/events", f.Offer.ID),
		map[string]any{"name": "lead", "payout": map[string]any{"type": "cpa", "amount": "0.50"}}, nil)
	post := func(extra url.Values) domain.Conversion {
		t.Helper()
		inv := invoiceID("CAP")
		q := afidPost(f, "10.00", inv)
		for k, v := range extra {
			q[k] = v
		}
		a := mustPostback(t, s, 202, q)
		if extra.Get("status") == "pending" {
			return heldConversion(t, s, f.Offer.ID, a.WorkflowID)
		}
		return conversionByInvoice(t, s, f.Offer.ID, inv)
	}
	held := post(url.Values{"status": {"pending"}})
	if c := post(nil); c.Status != "rejected" || deref(c.Reason) != "over_cap" {
		t.Fatalf("conversion while the slot is held: %s %v", c.Status, deref(c.Reason))
	}
	if c := post(url.Values{"event": {"lead"}}); c.Status != "approved" || c.Commission.String() != "0.50" || deref(c.Event) != "lead" {
		t.Fatalf("event conversion on a full cap: %+v", c)
	}
	mustAdmin(t, s, 200, "POST", "/api/v1/conversions/"+held.ID+"/reject", map[string]any{"reason": "fraud"}, nil)
	approved := post(nil)
	if approved.Status != "approved" {
		t.Fatalf("conversion after the held one was rejected: %s %v", approved.Status, deref(approved.Reason))
	}
	mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+approved.ID+"/reverse", map[string]any{}, nil)
	eventually(t, 30*time.Second, "the reversal", func() bool {
		c, err := s.Store.Conversion(t.Context(), approved.ID)
		return err == nil && c.Status == "reversed"
	})
	if c := post(nil); c.Status != "rejected" || deref(c.Reason) != "over_cap" {
		t.Fatalf("conversion after a reversal: %s %v (a reversal keeps its slot)", c.Status, deref(c.Reason))
	}
	// No fallback_url: a full cap changes nothing on clicks.
	resp := clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID))
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Fallback") != "" || resp.Header.Get("X-Click-Id") == "" {
		t.Fatalf("click on a capped offer without fallback: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestFallbackPaused: a paused offer's clicks go to its fallback_url (no click, no cookie);
// without one, a paused offer is 404.
func TestFallbackPaused(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"status": "paused",
		"fallback_url": "https://other.example/p?o={offer_id}&s={sub_id}&s2={sub2}&c={click_id}"})
	resp := clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=x&sub2=y", f.Offer.ID, f.Affiliate.ID))
	want := fmt.Sprintf("https://other.example/p?o=%d&s=x&s2=y&c=", f.Offer.ID)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Fallback") != "paused" || resp.Header.Get("Location") != want ||
		resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("paused offer with fallback: %d %v", resp.StatusCode, resp.Header)
	}
	if n := clicksStored(t, s, f.Offer.ID); n != 0 {
		t.Fatalf("%d clicks stored for a fallback", n)
	}
	if scrapeMetrics(t, s)[`trackflow_fallback_clicks_total{reason="paused"}`] < 1 {
		t.Fatal("fallback click not counted")
	}
	g := newFixture(t, s, cpa2, map[string]any{"status": "paused"})
	if resp := clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", g.Offer.ID, g.Affiliate.ID)); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("paused offer without fallback: %d", resp.StatusCode)
	}
}

// TestEvents: an offer's named events, each paid its own payout, de-duplicated and single-use
// per event; a lead and then a sale on the same click both earn.
func TestEvents(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	path := fmt.Sprintf("/api/v1/offers/%d/events", f.Offer.ID)
	var ev store.Event
	mustAdmin(t, s, 201, "POST", path, map[string]any{"name": "lead", "payout": map[string]any{"type": "cpa", "amount": "0.75"}}, &ev)
	if ev.Name != "lead" || ev.OfferID != f.Offer.ID || ev.Amount.String() != "0.75" {
		t.Fatalf("event %+v", ev)
	}
	for _, k := range []struct {
		body map[string]any
		code int
		msg  string
	}{
		{map[string]any{"name": "lead", "payout": cpa2}, 409, "name: "},
		{map[string]any{"name": "Lead", "payout": cpa2}, 400, "name: "},
		{map[string]any{"name": "1lead", "payout": cpa2}, 400, "name: "},
		{map[string]any{"name": strings.Repeat("a", 33), "payout": cpa2}, 400, "name: "},
		{map[string]any{"name": "sale"}, 400, "payout: "},
	} {
		code, msg := adminError(t, s, "POST", path, k.body)
		if code != k.code || !strings.HasPrefix(msg, k.msg) {
			t.Errorf("POST events %v: %d %q, want %d %q...", k.body, code, msg, k.code, k.msg)
		}
	}
	if code, _ := adminError(t, s, "POST", "/api/v1/offers/999999999/events", map[string]any{"name": "x", "payout": cpa2}); code != 404 {
		t.Errorf("event of an unknown offer: %d", code)
	}
	var list struct{ Items []store.Event }
	mustAdmin(t, s, 200, "GET", path, nil, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "lead" {
		t.Fatalf("events %+v", list.Items)
	}

	var snippets api.TrackingCode
	mustAdmin(t, s, 200, "GET", path[:strings.LastIndex(path, "/")]+"/tracking-code", nil, &snippets)
	if len(snippets.Events) != 1 || snippets.Events[0].Name != "lead" || !strings.Contains(snippets.Events[0].ImagePixel, "event=lead") ||
		!strings.HasSuffix(snippets.Events[0].ClickIDPostback, "&event=lead") || !strings.Contains(snippets.TrackingLink, "&sub2={sub2}") {
		t.Fatalf("tracking code events %+v, link %s", snippets.Events, snippets.TrackingLink)
	}

	clickID, cookie := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	inv := invoiceID("EV")
	base := fmt.Sprintf("offer_id=%d&amount=20.00&id=%s", f.Offer.ID, inv)
	// Unknown event: 404, with the GIF.
	if resp, _ := send(t, "GET", s.URL+"/pixel?"+base+"&event=signup", "", "", "", cookie); resp.StatusCode != 404 ||
		!strings.HasPrefix(resp.Header.Get("X-Error"), "event: ") {
		t.Fatalf("unknown event: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if resp, _ := send(t, "GET", s.URL+"/pixel?"+base+"&event=Bad!", "", "", "", cookie); resp.StatusCode != 400 {
		t.Fatalf("malformed event: %d", resp.StatusCode)
	}
	leadWF := pixelAs(t, s, base+"&event=lead", "", cookie)
	if want := fmt.Sprintf("conversion/%d:lead/%s", f.Offer.ID, inv); leadWF != want {
		t.Fatalf("event workflow id %q, want %q", leadWF, want)
	}
	// The same invoice for the plain conversion is not a duplicate of the lead.
	saleWF := pixelAs(t, s, base, "", cookie)
	if want := fmt.Sprintf("conversion/%d/%s", f.Offer.ID, inv); saleWF != want {
		t.Fatalf("plain workflow id %q, want %q", saleWF, want)
	}
	lead, sale := workflowResult(t, s, leadWF), workflowResult(t, s, saleWF)
	if lead.Status != "approved" || lead.Commission.String() != "0.75" || sale.Status != "approved" || sale.Commission.String() != "2.00" {
		t.Fatalf("lead %+v, sale %+v", lead, sale)
	}
	// The same (offer, event, id) again is a duplicate; a second lead on the click is click_used.
	if resp, _ := send(t, "GET", s.URL+"/pixel?"+base+"&event=lead", "", "", "", cookie); resp.Header.Get("X-Conversion-Status") != "duplicate" {
		t.Fatalf("repeated lead: %v", resp.Header)
	}
	again := mustPostback(t, s, 202, url.Values{"click_id": {clickID}, "amount": {"1"}, "event": {"lead"}, "token": {f.Advertiser.PostbackToken}})
	if res := workflowResult(t, s, again.WorkflowID); res.Status != "rejected" || res.Reason != "click_used" {
		t.Fatalf("second lead on the click: %+v", res)
	}
	if !strings.HasPrefix(again.WorkflowID, fmt.Sprintf("conversion/%d:lead/-/", f.Offer.ID)) {
		t.Fatalf("event workflow id without invoice: %q", again.WorkflowID)
	}
	code, obj := rawAdmin(t, s, "/api/v1/conversions/"+lead.ConversionID)
	if code != 200 || string(obj["event"]) != `"lead"` {
		t.Fatalf("conversion object: %d event %s", code, obj["event"])
	}
	code, obj = rawAdmin(t, s, "/api/v1/conversions/"+sale.ConversionID)
	if code != 200 || string(obj["event"]) != `null` {
		t.Fatalf("plain conversion object: %d event %s", code, obj["event"])
	}
}

// TestTooFast: a conversion sooner than min_conversion_seconds after its click is too_fast.
func TestTooFast(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"min_conversion_seconds": 3600})
	clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
	a := mustPostback(t, s, 202, clickPost(f, clickID, "5", ""))
	if res := workflowResult(t, s, a.WorkflowID); res.Status != "rejected" || res.Reason != "too_fast" || res.Commission != 0 {
		t.Fatalf("conversion a second after its click: %+v", res)
	}
	// An AFID post has no click: never too fast.
	a = mustPostback(t, s, 202, afidPost(f, "5", ""))
	if res := workflowResult(t, s, a.WorkflowID); res.Status != "approved" {
		t.Fatalf("AFID post: %+v", res)
	}
}

// TestFirstClick: on a first_click offer an earlier valid cookie keeps the credit (the new click
// is still stored), and the backup lookup picks the earliest click; last_click is the default.
func TestFirstClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{"attribution": "first_click"})
	link := fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID)
	first, cookie := click(t, s, link, nil)
	resp := clickAnswer(t, s, link+"&sub_id=second", cookie)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Click-Id") != first ||
		!strings.Contains(resp.Header.Get("Location"), "cid="+first) {
		t.Fatalf("second click with the first's cookie: %d %v", resp.StatusCode, resp.Header)
	}
	if n := clicksStored(t, s, f.Offer.ID); n != 2 {
		t.Fatalf("%d clicks stored, want 2", n)
	}
	// A cookie naming another offer's click is not valid here: the new click takes the credit.
	other := newFixture(t, s, cpa2, nil)
	otherID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", other.Offer.ID, other.Affiliate.ID), nil)
	forged := &http.Cookie{Name: cookie.Name, Value: otherID}
	if resp := clickAnswer(t, s, link, forged); resp.Header.Get("Set-Cookie") == "" || resp.Header.Get("X-Click-Id") == otherID {
		t.Fatalf("click with another offer's click in the cookie: %v", resp.Header)
	}

	// Backup: two clicks from one browser without cookies; the sale goes to the earliest.
	g := newFixture(t, s, cpa2, map[string]any{"attribution": "first_click"})
	glink := fmt.Sprintf("offer_id=%d&aff_id=%d", g.Offer.ID, g.Affiliate.ID)
	earliest, _ := clickAs(t, s, glink, "first-click-browser")
	clickAs(t, s, glink, "first-click-browser")
	inv := invoiceID("FC")
	pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=5&id=%s", g.Offer.ID, inv), "first-click-browser")
	if c := conversionByInvoice(t, s, g.Offer.ID, inv); deref(c.ClickID) != earliest || deref(c.AttributionMethod) != "backup" {
		t.Fatalf("backup conversion credited to %s by %s, want the earliest %s", deref(c.ClickID), deref(c.AttributionMethod), earliest)
	}

	// last_click (the default): every click sets the cookie.
	l := newFixture(t, s, cpa2, nil)
	llink := fmt.Sprintf("offer_id=%d&aff_id=%d", l.Offer.ID, l.Affiliate.ID)
	_, lc := click(t, s, llink, nil)
	if resp := clickAnswer(t, s, llink, lc); resp.Header.Get("Set-Cookie") == "" || resp.Header.Get("X-Click-Id") == lc.Value {
		t.Fatalf("last_click second click: %v", resp.Header)
	}
}

// TestSubs: sub1 (alias of sub_id) and sub2..sub5 on clicks, impressions and AFID posts reach the
// landing page's macros, the stored rows, the conversion object and the affiliate's pixel.
func TestSubs(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, map[string]any{
		"landing_url": "https://shop.example/l?c={click_id}&s1={sub_id}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}"})
	aff := newAffiliateServer(t, 200)
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/p?s2={sub2}&s5={sub5}&e={event}"})
	subs := "sub1=one&sub2=t%20wo&sub3=three&sub4=four&sub5=%C3%BC"
	link := fmt.Sprintf("offer_id=%d&aff_id=%d&%s", f.Offer.ID, f.Affiliate.ID, subs)
	resp := clickAnswer(t, s, link)
	id := resp.Header.Get("X-Click-Id")
	want := "https://shop.example/l?c=" + id + "&s1=one&s2=t+wo&s3=three&s4=four&s5=%C3%BC"
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
		t.Fatalf("click: %d Location %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	var c store.Click
	mustAdmin(t, s, 200, "GET", "/api/v1/clicks/"+id, nil, &c)
	if deref(c.SubID) != "one" || deref(c.Sub2) != "t wo" || deref(c.Sub3) != "three" || deref(c.Sub4) != "four" || deref(c.Sub5) != "ü" {
		t.Fatalf("stored click %+v", c)
	}
	a := mustPostback(t, s, 202, clickPost(f, id, "5", ""))
	conv := workflowResult(t, s, a.WorkflowID)
	_, obj := rawAdmin(t, s, "/api/v1/conversions/"+conv.ConversionID)
	for k, v := range map[string]string{"sub_id": `"one"`, "sub2": `"t wo"`, "sub3": `"three"`, "sub4": `"four"`, "sub5": `"ü"`, "event": "null"} {
		if string(obj[k]) != v {
			t.Errorf("conversion %s = %s, want %s", k, obj[k], v)
		}
	}
	eventually(t, 30*time.Second, "the affiliate pixel", func() bool { n, _ := aff.hits(); return n == 1 })
	if q := aff.request(0).URL.Query(); q.Get("s2") != "t wo" || q.Get("s5") != "ü" || !q.Has("e") || q.Get("e") != "" {
		t.Fatalf("pixel query %v", q)
	}

	// AFID post with subs.
	q := afidPost(f, "5", "")
	q.Set("sub2", "afid-2")
	q.Set("SID", "afid-1")
	a = mustPostback(t, s, 202, q)
	conv = workflowResult(t, s, a.WorkflowID)
	_, obj = rawAdmin(t, s, "/api/v1/conversions/"+conv.ConversionID)
	if string(obj["sub_id"]) != `"afid-1"` || string(obj["sub2"]) != `"afid-2"` || string(obj["sub3"]) != "null" {
		t.Fatalf("AFID conversion subs: %s %s %s", obj["sub_id"], obj["sub2"], obj["sub3"])
	}

	// Impression with subs.
	if resp, _ := get(t, s.URL+"/impression?"+link); resp.StatusCode != 200 {
		t.Fatalf("impression: %d", resp.StatusCode)
	}
	var n int
	if err := s.DB.Get(&n, `SELECT count(*) FROM impressions WHERE offer_id = $1 AND sub_id = 'one' AND sub2 = 't wo' AND sub5 = 'ü'`, f.Offer.ID); err != nil || n != 1 {
		t.Fatalf("impressions with subs: %d %v", n, err)
	}

	// Bad subs: 400 naming the field; sub1 and sub_id with different values conflict.
	for query, field := range map[string]string{
		"sub3=" + strings.Repeat("x", 256): "sub3: ",
		"sub5=%FF":                         "sub5: ",
		"sub1=a&sub_id=b":                  "sub_id: ",
	} {
		resp := clickAnswer(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&%s", f.Offer.ID, f.Affiliate.ID, query))
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("X-Error"), field) {
			t.Errorf("click %s: %d %q, want 400 %q...", query, resp.StatusCode, resp.Header.Get("X-Error"), field)
		}
	}
}

// TestOfferRuleFields: the rule fields of an offer are validated (400 naming the field), stored,
// shown and patched.
func TestOfferRuleFields(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	path := fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID)
	if o := f.Offer; o.Timezone != "UTC" || o.Attribution != "last_click" || o.MinConversionSeconds != 0 || o.FallbackURL != "" ||
		o.Caps.Any() || o.AffiliateCaps.Any() {
		t.Fatalf("defaults: %+v", o)
	}
	for _, k := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"timezone": "Mars/Olympus"}, "timezone: "},
		{map[string]any{"timezone": "Local"}, "timezone: "},
		{map[string]any{"fallback_url": "ftp://x.example/"}, "fallback_url: "},
		{map[string]any{"caps": map[string]any{"daily": 0}}, "caps.daily: "},
		{map[string]any{"caps": map[string]any{"monthly": 1.5}}, "caps.monthly: "},
		{map[string]any{"caps": map[string]any{"weekly": 3}}, "caps.weekly: "},
		{map[string]any{"affiliate_caps": []int{1}}, "affiliate_caps: "},
		{map[string]any{"min_conversion_seconds": 86401}, "min_conversion_seconds: "},
		{map[string]any{"min_conversion_seconds": -1}, "min_conversion_seconds: "},
		{map[string]any{"attribution": "linear"}, "attribution: "},
	} {
		code, msg := adminError(t, s, "PATCH", path, k.body)
		if code != 400 || !strings.HasPrefix(msg, k.field) {
			t.Errorf("PATCH %v: %d %q, want 400 %q...", k.body, code, msg, k.field)
		}
	}
	var o store.Offer
	mustAdmin(t, s, 200, "PATCH", path, map[string]any{"timezone": "Asia/Kathmandu", "fallback_url": "https://fb.example/",
		"caps": map[string]any{"daily": 5}, "affiliate_caps": map[string]any{"monthly": 50}, "min_conversion_seconds": 86400,
		"attribution": "first_click"}, &o)
	mustAdmin(t, s, 200, "GET", path, nil, &o)
	if o.Timezone != "Asia/Kathmandu" || o.FallbackURL != "https://fb.example/" || o.Caps.Daily == nil || *o.Caps.Daily != 5 ||
		o.Caps.Monthly != nil || o.AffiliateCaps.Monthly == nil || *o.AffiliateCaps.Monthly != 50 ||
		o.MinConversionSeconds != 86400 || o.Attribution != "first_click" {
		t.Fatalf("patched offer %+v", o)
	}
	var cleared store.Offer
	mustAdmin(t, s, 200, "PATCH", path, map[string]any{"caps": map[string]any{}}, &cleared)
	if cleared.Caps.Any() || !cleared.AffiliateCaps.Any() {
		t.Fatalf("caps after {}: %+v %+v", cleared.Caps, cleared.AffiliateCaps)
	}
}
