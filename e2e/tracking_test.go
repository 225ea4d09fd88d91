package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestBackupAttribution covers the thank-you page without the cookie: the latest click on the
// offer from the same IP and user agent inside the cookie window is credited (backup), by the
// image pixel and the form post alike; a click already used, another browser, a click outside
// the window, or none at all leave the conversion rejected.
func TestBackupAttribution(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cps", "percent": "10"}, map[string]any{"cookie_days": 30})
	aff := newAffiliateServer(t, 200)
	newPixel(t, s, f.Affiliate.ID, aff)
	ua := func(n string) string { return "Mozilla/5.0 (" + t.Name() + " " + n + ")" }
	clickQ := fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=s1", f.Offer.ID, f.Affiliate.ID)
	inv := func() string { return "INV-" + domain.NewID()[:10] }

	clickAs(t, s, clickQ, ua("A"))
	latestA, _ := clickAs(t, s, clickQ, ua("A"))
	clickB, _ := clickAs(t, s, clickQ, ua("B"))

	// No cookie, the browser of the two clicks "A": the later one is credited.
	wf := pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&id=%s", f.Offer.ID, inv()), ua("A"))
	c := conversionOf(t, s, wf)
	if c.Status != "approved" || str(c.AttributionMethod) != "backup" || str(c.ClickID) != latestA ||
		c.AffID == nil || *c.AffID != f.Affiliate.ID || str(c.SubID) != "s1" || c.Commission.String() != "2.00" ||
		str(c.IP) != "127.0.0.1" {
		t.Fatalf("backup conversion %+v", c)
	}
	// The click is single-use: the same browser again finds the same (latest) click, now used.
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=5&id=%s", f.Offer.ID, inv()), ua("A")))
	if c.Status != "rejected" || str(c.Reason) != "click_used" || c.Commission.String() != "0.00" {
		t.Fatalf("second backup conversion %+v", c)
	}

	// The form post without the cookie, browser "B".
	resp, _ := send(t, "POST", s.URL+"/conversion", "application/x-www-form-urlencoded",
		url.Values{"offer_id": {fmt.Sprint(f.Offer.ID)}, "amount": {"10"}, "id": {inv()}}.Encode(), ua("B"))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("form post: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	c = conversionOf(t, s, resp.Header.Get("X-Workflow-Id"))
	if c.Status != "approved" || str(c.AttributionMethod) != "backup" || str(c.ClickID) != clickB || c.Commission.String() != "1.00" {
		t.Fatalf("form post backup conversion %+v", c)
	}

	// A browser that never clicked: rejected, unattributed, no affiliate.
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=19.95&id=%s", f.Offer.ID, inv()), ua("never")))
	if c.Status != "rejected" || str(c.Reason) != "unattributed" || c.AttributionMethod != nil || c.AffID != nil ||
		c.ClickID != nil || c.Commission.String() != "0.00" {
		t.Fatalf("unattributed conversion %+v", c)
	}

	// The cookie window: a click 31 days old is out of a 30-day window, one 29 days old is in.
	old := func(name string, age time.Duration) string {
		cl := store.Click{ClickID: domain.NewID(), OfferID: f.Offer.ID, AffID: f.Affiliate.ID, IP: "127.0.0.1",
			UserAgent: ua(name), CreatedAt: time.Now().UTC().Add(-age)}
		if err := s.Store.InsertClick(context.Background(), &cl); err != nil {
			t.Fatal(err)
		}
		return cl.ClickID
	}
	old("expired", 31*24*time.Hour)
	inWindow := old("in window", 29*24*time.Hour)
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1&id=%s", f.Offer.ID, inv()), ua("expired")))
	if c.Status != "rejected" || str(c.Reason) != "unattributed" {
		t.Fatalf("conversion after an expired click %+v", c)
	}
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1&id=%s", f.Offer.ID, inv()), ua("in window")))
	if c.Status != "approved" || str(c.AttributionMethod) != "backup" || str(c.ClickID) != inWindow {
		t.Fatalf("conversion after a 29-day-old click %+v", c)
	}

	// The cookie comes first, whatever the browser; a cookie naming another offer's click, or an
	// unknown click, falls back to the backup.
	cookieClick, cookie := clickAs(t, s, clickQ, ua("C"))
	backupClick, _ := clickAs(t, s, clickQ, ua("D"))
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1&id=%s", f.Offer.ID, inv()), ua("D"), cookie))
	if str(c.AttributionMethod) != "cookie" || str(c.ClickID) != cookieClick {
		t.Fatalf("cookie conversion %+v", c)
	}
	other := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	otherClick, _ := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", other.Offer.ID, other.Affiliate.ID), ua("D"))
	foreign := &http.Cookie{Name: fmt.Sprintf("tf_%d", f.Offer.ID), Value: otherClick}
	c = conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=1&id=%s", f.Offer.ID, inv()), ua("D"), foreign))
	if str(c.AttributionMethod) != "backup" || str(c.ClickID) != backupClick {
		t.Fatalf("conversion with another offer's click in the cookie %+v", c)
	}

	// Every approved conversion fired the affiliate pixel once; the rejected ones never did.
	var approved []string
	var list struct{ Items []domain.Conversion }
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/conversions?offer_id=%d&status=approved", f.Offer.ID), nil, &list)
	for _, c := range list.Items {
		approved = append(approved, c.ID)
	}
	if len(approved) != 5 {
		t.Fatalf("%d approved conversions, want 5", len(approved))
	}
	eventually(t, 30*time.Second, "one pixel per approved conversion", func() bool { n, _ := aff.hits(); return n >= 5 })
	got := map[string]int{}
	for _, q := range aff.pixelHits() {
		got[q.Get("tx")]++
	}
	for _, id := range approved {
		if got[id] != 1 {
			t.Errorf("conversion %s fired %d pixels", id, got[id])
		}
	}
	if len(got) != 5 {
		t.Errorf("pixels fired for %d conversions, want 5: %v", len(got), got)
	}
}

// TestFormPostConversion covers POST /conversion: 303 to the thank-you page (204 without one),
// duplicates included, from a form, JSON or multipart body; bad fields 400 in text; an unknown or
// paused offer 404.
func TestFormPostConversion(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	const thanks = "https://shop.example/thanks?order=done"
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2"}, map[string]any{"thank_you_url": thanks})
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	form := "application/x-www-form-urlencoded"
	post := func(ctype, body string, cookies ...*http.Cookie) *http.Response {
		resp, _ := send(t, "POST", s.URL+"/conversion", ctype, body, ua, cookies...)
		return resp
	}

	clickID, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), ua)
	invoice := "ORD-" + domain.NewID()[:8]
	body := fmt.Sprintf("offer_id=%d&amount=49.90&id=%s", f.Offer.ID, invoice)
	resp := post(form, body, cookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != thanks {
		t.Fatalf("form post: %d Location %q X-Error %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("X-Error"))
	}
	wf := resp.Header.Get("X-Workflow-Id")
	if wf != workflows.ConversionWorkflowID(f.Offer.ID, invoice, "") {
		t.Fatalf("workflow id %q", wf)
	}
	c := conversionOf(t, s, wf)
	if c.Status != "approved" || str(c.AttributionMethod) != "cookie" || str(c.ClickID) != clickID ||
		c.Amount.String() != "49.90" || c.Commission.String() != "2.00" || str(c.InvoiceID) != invoice {
		t.Fatalf("conversion %+v", c)
	}

	// The same invoice again (a refresh of the thank-you page): still the redirect, marked duplicate.
	resp = post(form, body, cookie)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != thanks ||
		resp.Header.Get("X-Conversion-Status") != "duplicate" || resp.Header.Get("X-Workflow-Id") != wf {
		t.Fatalf("duplicate form post: %d %v", resp.StatusCode, resp.Header)
	}

	// A JSON body and a multipart form post work the same way.
	_, cookie2 := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), ua)
	resp = post("application/json", fmt.Sprintf(`{"offer_id": %d, "amount": 19.95, "id": "J-%s"}`, f.Offer.ID, invoice), cookie2)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("JSON post: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Amount.String() != "19.95" || c.Status != "approved" {
		t.Fatalf("JSON post conversion %+v", c)
	}
	mp := "--XyZ\r\nContent-Disposition: form-data; name=\"offer_id\"\r\n\r\n" + fmt.Sprint(f.Offer.ID) +
		"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"amount\"\r\n\r\n7.5\r\n--XyZ--\r\n"
	resp = post("multipart/form-data; boundary=XyZ", mp)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("multipart post: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Amount.String() != "7.50" {
		t.Fatalf("multipart conversion %+v", c)
	}

	// Bad fields: 400 in text, the message naming the field, in the body and X-Error.
	for body, field := range map[string]string{
		fmt.Sprintf("offer_id=%d&amount=1.999", f.Offer.ID):                  "amount",
		fmt.Sprintf("offer_id=%d", f.Offer.ID):                               "amount",
		"offer_id=007&amount=1":                                              "offer_id",
		fmt.Sprintf("offer_id=%d&amount=1&id=", f.Offer.ID):                  "id",
		fmt.Sprintf("offer_id=%d&CID=%d&amount=1", f.Offer.ID, f.Offer.ID+1): "offer_id",
	} {
		resp, text := send(t, "POST", s.URL+"/conversion", form, body, ua)
		if resp.StatusCode != 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
			!strings.HasPrefix(resp.Header.Get("X-Error"), field+": ") || !strings.HasPrefix(string(text), field+": ") {
			t.Errorf("%s: %d %q %q %q", body, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Error"), text)
		}
	}

	// Unknown offer: 404.
	if resp := post(form, "offer_id=999999999&amount=1"); resp.StatusCode != 404 || resp.Header.Get("X-Error") == "" {
		t.Fatalf("unknown offer: %d", resp.StatusCode)
	}

	// An offer without a thank-you page: 204, duplicates included.
	g := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", g.Offer.ID, g.Affiliate.ID), ua)
	for i := 0; i < 2; i++ {
		resp := post(form, fmt.Sprintf("offer_id=%d&amount=1&id=X1", g.Offer.ID))
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Location") != "" {
			t.Fatalf("post %d without a thank-you page: %d %q", i, resp.StatusCode, resp.Header.Get("Location"))
		}
		if dup := resp.Header.Get("X-Conversion-Status") == "duplicate"; dup != (i == 1) {
			t.Fatalf("post %d: duplicate header %v", i, dup)
		}
	}

	// A paused offer: 404, and nothing recorded.
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", g.Offer.ID), map[string]any{"status": "paused"}, nil)
	before := rowsFor(t, s, "conversion_duplicates", g.Offer.ID)
	if resp := post(form, fmt.Sprintf("offer_id=%d&amount=1&id=X2", g.Offer.ID)); resp.StatusCode != 404 {
		t.Fatalf("paused offer: %d", resp.StatusCode)
	}
	if resp := post(form, fmt.Sprintf("offer_id=%d&amount=1&id=X1", g.Offer.ID)); resp.StatusCode != 404 ||
		rowsFor(t, s, "conversion_duplicates", g.Offer.ID) != before {
		t.Fatalf("paused offer, known invoice: %d", resp.StatusCode)
	}
}

// TestImpression covers GET /impression: the impression is stored and the uncacheable GIF
// answered; bad parameters (400) and unknown or inactive offers and affiliates (404) answer the
// same GIF and store nothing.
func TestImpression(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	imp := func(query string) (*http.Response, []byte) {
		return send(t, "GET", s.URL+"/impression?"+query, "", "", ua)
	}

	for _, q := range []string{
		fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=banner-1&creative_id=42", f.Offer.ID, f.Affiliate.ID),
		fmt.Sprintf("CID=%d&AFID=%d&SID=banner-1&ADID=42", f.Offer.ID, f.Affiliate.ID),
	} {
		resp, body := imp(q)
		if resp.StatusCode != 200 {
			t.Fatalf("impression %s: %d %q", q, resp.StatusCode, resp.Header.Get("X-Error"))
		}
		checkGIF(t, resp, body)
	}
	var rows []struct {
		AffID      int64   `db:"aff_id"`
		SubID      *string `db:"sub_id"`
		CreativeID *int64  `db:"creative_id"`
		IP         string  `db:"ip"`
		UserAgent  string  `db:"user_agent"`
	}
	if err := s.DB.Select(&rows, `SELECT aff_id, sub_id, creative_id, host(ip) AS ip, user_agent
		FROM impressions WHERE offer_id = $1`, f.Offer.ID); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d impressions stored, want 2", len(rows))
	}
	for _, r := range rows {
		if r.AffID != f.Affiliate.ID || str(r.SubID) != "banner-1" || r.CreativeID == nil || *r.CreativeID != 42 ||
			r.IP != "127.0.0.1" || r.UserAgent != ua {
			t.Fatalf("impression row %+v", r)
		}
	}

	paused := newAffiliate(t, s)
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/affiliates/%d", paused.ID), map[string]any{"status": "paused"}, nil)
	for q, want := range map[string]int{
		fmt.Sprintf("offer_id=%d", f.Offer.ID):                                                400,
		fmt.Sprintf("offer_id=%d&aff_id=0", f.Offer.ID):                                       400,
		fmt.Sprintf("offer_id=%d&aff_id=%d&sub_id=%%FF", f.Offer.ID, f.Affiliate.ID):          400,
		fmt.Sprintf("offer_id=%d&CID=%d&aff_id=%d", f.Offer.ID, f.Offer.ID+1, f.Affiliate.ID): 400,
		fmt.Sprintf("offer_id=999999999&aff_id=%d", f.Affiliate.ID):                           404,
		fmt.Sprintf("offer_id=%d&aff_id=999999999", f.Offer.ID):                               404,
		fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, paused.ID):                           404,
	} {
		resp, body := imp(q)
		if resp.StatusCode != want || resp.Header.Get("X-Error") == "" {
			t.Errorf("impression %s: %d %q, want %d", q, resp.StatusCode, resp.Header.Get("X-Error"), want)
			continue
		}
		checkGIF(t, resp, body)
	}
	if n := rowsFor(t, s, "impressions", f.Offer.ID); n != 2 {
		t.Fatalf("%d impressions after the bad requests, want still 2", n)
	}
}

// TestGetClick covers GET /api/v1/clicks/:click_id: the stored click right after its redirect,
// 404 for an unknown or malformed id.
func TestGetClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/click?CID=%d&AFID=%d&SID=s%%C3%%A9&ADID=9", s.URL, f.Offer.ID, f.Affiliate.ID), nil)
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Referer", "https://publisher.example/page")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Click-Id")
	if resp.StatusCode != 302 || !domain.IsID(id) ||
		resp.Header.Get("Location") != "https://shop.example/landing?cid="+id+fmt.Sprintf("&a=%d&s=s%%C3%%A9", f.Affiliate.ID) {
		t.Fatalf("click: %d %q %q", resp.StatusCode, id, resp.Header.Get("Location"))
	}

	var got map[string]any
	mustAdmin(t, s, 200, "GET", "/api/v1/clicks/"+id, nil, &got)
	want := map[string]any{"click_id": id, "offer_id": float64(f.Offer.ID), "aff_id": float64(f.Affiliate.ID),
		"sub_id": "sé", "creative_id": float64(9), "ip": "127.0.0.1", "user_agent": ua,
		"referer": "https://publisher.example/page", "converted_by": nil}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("click %s = %#v, want %#v", k, got[k], v)
		}
	}
	if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(got["created_at"])); err != nil || time.Since(at) > time.Minute {
		t.Errorf("click created_at %v", got["created_at"])
	}

	for _, bad := range []string{domain.NewID(), strings.ToUpper(id), id[:31], "x"} {
		if code := admin(t, s, "GET", "/api/v1/clicks/"+bad, nil, nil); code != 404 {
			t.Errorf("GET click %q: %d, want 404", bad, code)
		}
	}
}

// TestLinkTrustAliases covers LinkTrust's names on every tracking endpoint, from the query, a form
// body and a JSON body: the same value under both names is fine, different values are a 400
// naming the canonical field.
func TestLinkTrustAliases(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	o, a := f.Offer.ID, f.Affiliate.ID

	// Click: CID, AFID, SID, ADID, also repeated with the canonical name and the same value.
	id, cookie := clickAs(t, s, fmt.Sprintf("CID=%d&offer_id=%d&AFID=%d&SID=sub-7&sub_id=sub-7&ADID=5", o, o, a), ua)
	cl, err := s.Store.Click(context.Background(), id)
	if err != nil || cl.OfferID != o || cl.AffID != a || str(cl.SubID) != "sub-7" || cl.CreativeID == nil || *cl.CreativeID != 5 {
		t.Fatalf("aliased click %+v, %v", cl, err)
	}
	// Pixel with CID; the form post with CID in the body and offer_id in the query (same value).
	c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("CID=%d&amount=3", o), ua, cookie))
	if c.OfferID != o || str(c.ClickID) != id {
		t.Fatalf("pixel with CID %+v", c)
	}
	clickAs(t, s, fmt.Sprintf("CID=%d&AFID=%d", o, a), ua)
	resp, _ := send(t, "POST", fmt.Sprintf("%s/conversion?offer_id=%d", s.URL, o), "application/x-www-form-urlencoded",
		fmt.Sprintf("CID=%d&amount=4", o), ua)
	if resp.StatusCode != 204 {
		t.Fatalf("form with CID: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Amount.String() != "4.00" || c.Status != "approved" {
		t.Fatalf("form with CID %+v", c)
	}

	// Postbacks: a Click ID post with ClickID in a JSON body, an AFID post with every alias.
	pbClick, _ := clickAs(t, s, fmt.Sprintf("CID=%d&AFID=%d", o, a), ua)
	token := f.Advertiser.PostbackToken
	resp, body := send(t, "POST", s.URL+"/postback", "application/json",
		fmt.Sprintf(`{"ClickID": %q, "amount": 12.5, "token": %q}`, pbClick, token), ua)
	if resp.StatusCode != 202 {
		t.Fatalf("Click ID post with ClickID: %d %s", resp.StatusCode, body)
	}
	var accepted struct {
		WorkflowID string `json:"workflow_id"`
	}
	_ = json.Unmarshal(body, &accepted)
	if c := conversionOf(t, s, accepted.WorkflowID); str(c.ClickID) != pbClick || str(c.AttributionMethod) != "click_id" {
		t.Fatalf("Click ID post conversion %+v", c)
	}
	resp, body = send(t, "GET", fmt.Sprintf("%s/postback?CID=%d&AFID=%d&SID=rebill&ADID=8&amount=9.99&token=%s", s.URL, o, a, token), "", "", ua)
	if resp.StatusCode != 202 {
		t.Fatalf("AFID post with aliases: %d %s", resp.StatusCode, body)
	}
	_ = json.Unmarshal(body, &accepted)
	if c := conversionOf(t, s, accepted.WorkflowID); c.AffID == nil || *c.AffID != a || str(c.SubID) != "rebill" ||
		c.CreativeID == nil || *c.CreativeID != 8 || str(c.AttributionMethod) != "afid" {
		t.Fatalf("AFID post conversion %+v", c)
	}

	// Conflicts, each endpoint: 400 naming the canonical field, nothing stored.
	clicks, convs := rowsFor(t, s, "clicks", o), rowsFor(t, s, "conversions", o)
	for _, r := range []struct{ method, path, ctype, body, field string }{
		{"GET", fmt.Sprintf("/click?offer_id=%d&CID=%d&aff_id=%d", o, o+1, a), "", "", "offer_id"},
		{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d&SID=x&sub_id=y", o, a), "", "", "sub_id"},
		{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=%d&AFID=%d", o, a, a+1), "", "", "aff_id"},
		{"GET", fmt.Sprintf("/pixel?CID=%d&CID=%d&amount=1", o, o+1), "", "", "offer_id"},
		{"POST", fmt.Sprintf("/conversion?offer_id=%d", o), "application/json", fmt.Sprintf(`{"CID": %d, "amount": 1}`, o+1), "offer_id"},
		{"POST", "/conversion", "application/x-www-form-urlencoded", fmt.Sprintf("offer_id=%d&amount=1&amount=2", o), "amount"},
		{"POST", "/postback?token=" + token, "application/json", fmt.Sprintf(`{"click_id": %q, "ClickID": %q, "amount": 1}`, pbClick, id), "click_id"},
		{"GET", fmt.Sprintf("/postback?offer_id=%d&aff_id=%d&ADID=1&creative_id=2&amount=1&token=%s", o, a, token), "", "", "creative_id"},
	} {
		resp, body := send(t, r.method, s.URL+r.path, r.ctype, r.body, ua)
		msg := errorOf(resp, body)
		if resp.StatusCode != 400 || !strings.HasPrefix(msg, r.field+": ") {
			t.Errorf("%s %s %s: %d %q, want 400 naming %s", r.method, r.path, r.body, resp.StatusCode, msg, r.field)
		}
	}
	if rowsFor(t, s, "clicks", o) != clicks || rowsFor(t, s, "conversions", o) != convs {
		t.Fatal("a rejected request stored a click or a conversion")
	}
}

// TestPayoutOverridesAndCommissions covers the commission: the offer's payout unless the
// affiliate has an override (PUT /offers/:id/payouts/:aff_id), cpa, cps and cpa_cps, rounded half
// up to the cent; a changed override or offer payout applies to the next conversion.
func TestPayoutOverridesAndCommissions(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "2.50"}, nil)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	b, c, d := newAffiliate(t, s), newAffiliate(t, s), newAffiliate(t, s)
	put := func(affID int64, payout map[string]any) map[string]any {
		var out map[string]any
		mustAdmin(t, s, 200, "PUT", fmt.Sprintf("/api/v1/offers/%d/payouts/%d", f.Offer.ID, affID), payout, &out)
		return out
	}
	commission := func(affID int64, amount string) string {
		t.Helper()
		_, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, affID), ua)
		conv := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=%s", f.Offer.ID, amount), ua, cookie))
		if conv.Status != "approved" || conv.AffID == nil || *conv.AffID != affID {
			t.Fatalf("conversion %+v", conv)
		}
		return conv.Commission.String()
	}

	if out := put(b.ID, map[string]any{"type": "cps", "percent": "10"}); out["type"] != "cps" || out["percent"] != "10.00" ||
		out["amount"] != "0.00" || out["aff_id"] != float64(b.ID) || out["offer_id"] != float64(f.Offer.ID) {
		t.Fatalf("PUT payout answered %v", out)
	}
	put(c.ID, map[string]any{"type": "cpa_cps", "amount": 1, "percent": 7.5})
	put(d.ID, map[string]any{"type": "cps", "percent": "12.5"})

	for _, k := range []struct {
		aff          int64
		amount, want string
	}{
		{f.Affiliate.ID, "19.95", "2.50"}, // the offer's cpa
		{b.ID, "19.95", "2.00"},           // 10% of 19.95 = 1.995 → 2.00
		{c.ID, "10.10", "1.76"},           // 1.00 + 7.5% of 10.10 = 1.7575 → 1.76
		{d.ID, "0.04", "0.01"},            // 12.5% of 0.04 = 0.005 → 0.01: half up, not to even
		{d.ID, "0.03", "0.00"},            // 0.00375 → 0.00
		{d.ID, "9999999999.99", "1250000000.00"},
	} {
		if got := commission(k.aff, k.amount); got != k.want {
			t.Errorf("affiliate %d, amount %s: commission %s, want %s", k.aff, k.amount, got, k.want)
		}
	}

	// Changes take effect on the next conversion: a new override, and the offer's own payout.
	put(b.ID, map[string]any{"type": "cpa", "amount": "4"})
	if got := commission(b.ID, "19.95"); got != "4.00" {
		t.Errorf("after replacing the override: %s, want 4.00", got)
	}
	var o store.Offer
	mustAdmin(t, s, 200, "PATCH", fmt.Sprintf("/api/v1/offers/%d", f.Offer.ID),
		map[string]any{"payout": map[string]any{"type": "cpa_cps", "amount": "1", "percent": "50"}}, &o)
	if o.Payout.Type != "cpa_cps" || o.Payout.Amount.String() != "1.00" || o.Payout.Percent.String() != "50.00" {
		t.Fatalf("PATCH payout answered %+v", o.Payout)
	}
	if got := commission(f.Affiliate.ID, "3.33"); got != "2.67" { // 1.00 + 1.665 → 2.67
		t.Errorf("after the offer's payout changed: %s, want 2.67", got)
	}
	if got := commission(b.ID, "3.33"); got != "4.00" { // the override still wins
		t.Errorf("override after the offer's payout changed: %s, want 4.00", got)
	}

	for path, want := range map[string]int{
		fmt.Sprintf("/api/v1/offers/999999999/payouts/%d", b.ID):       404,
		fmt.Sprintf("/api/v1/offers/%d/payouts/999999999", f.Offer.ID): 404,
		fmt.Sprintf("/api/v1/offers/%d/payouts/x", f.Offer.ID):         404,
	} {
		if code := admin(t, s, "PUT", path, map[string]any{"type": "cpa", "amount": "1"}, nil); code != want {
			t.Errorf("PUT %s: %d, want %d", path, code, want)
		}
	}
	for _, body := range []map[string]any{
		{"type": "cps", "percent": "100.01"}, {"type": "cpa", "amount": "-1"}, {"type": "bonus"}, {},
	} {
		if code := admin(t, s, "PUT", fmt.Sprintf("/api/v1/offers/%d/payouts/%d", f.Offer.ID, b.ID), body, nil); code != 400 {
			t.Errorf("PUT payout %v: %d, want 400", body, code)
		}
	}
}

// TestPausedAffiliateAndOffer covers PATCH of affiliates and offers and what pausing does: a
// paused affiliate's clicks and impressions are 404 and its conversions rejected
// (inactive_affiliate); a paused offer is 404 on every tracking endpoint; resuming restores both.
func TestPausedAffiliateAndOffer(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "5"}, map[string]any{"thank_you_url": "https://shop.example/ty"})
	aff := newAffiliateServer(t, 200)
	newPixel(t, s, f.Affiliate.ID, aff)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	o, a := f.Offer.ID, f.Affiliate.ID
	clickQ := fmt.Sprintf("offer_id=%d&aff_id=%d", o, a)
	affPath, offerPath := fmt.Sprintf("/api/v1/affiliates/%d", a), fmt.Sprintf("/api/v1/offers/%d", o)

	_, cookie := clickAs(t, s, clickQ, ua)
	var patched store.Affiliate
	mustAdmin(t, s, 200, "PATCH", affPath, map[string]any{"status": "paused", "name": "renamed"}, &patched)
	if patched.Status != "paused" || patched.Name != "renamed" || patched.ID != a {
		t.Fatalf("PATCH affiliate answered %+v", patched)
	}
	clicks := rowsFor(t, s, "clicks", o)
	resp, body := send(t, "GET", s.URL+"/click?"+clickQ, "", "", ua)
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") ||
		resp.Header.Get("X-Error") == "" || len(body) == 0 || rowsFor(t, s, "clicks", o) != clicks {
		t.Fatalf("click of a paused affiliate: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if resp, _ := send(t, "GET", s.URL+"/impression?"+clickQ, "", "", ua); resp.StatusCode != 404 {
		t.Fatalf("impression of a paused affiliate: %d", resp.StatusCode)
	}
	// Its earlier click converts, by cookie or backup, as rejected: inactive_affiliate.
	c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=20", o), ua, cookie))
	if c.Status != "rejected" || str(c.Reason) != "inactive_affiliate" || c.Commission.String() != "0.00" ||
		str(c.AttributionMethod) != "cookie" {
		t.Fatalf("cookie conversion of a paused affiliate %+v", c)
	}
	resp, _ = send(t, "POST", s.URL+"/conversion", "application/x-www-form-urlencoded", fmt.Sprintf("offer_id=%d&amount=20", o), ua)
	if resp.StatusCode != 303 {
		t.Fatalf("form post: %d", resp.StatusCode)
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Status != "rejected" || str(c.Reason) != "inactive_affiliate" ||
		str(c.AttributionMethod) != "backup" {
		t.Fatalf("backup conversion of a paused affiliate %+v", c)
	}

	// Resumed: clicks work again, and convert.
	mustAdmin(t, s, 200, "PATCH", affPath, map[string]any{"status": "active"}, nil)
	_, cookie = clickAs(t, s, clickQ, ua)
	if c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=20", o), ua, cookie)); c.Status != "approved" {
		t.Fatalf("conversion after resuming %+v", c)
	}
	eventually(t, 30*time.Second, "the one approved conversion's pixel", func() bool { n, _ := aff.hits(); return n == 1 })

	// A paused offer: 404 on the click, the impression, the pixel (with the GIF) and the form post.
	var offer store.Offer
	mustAdmin(t, s, 200, "PATCH", offerPath, map[string]any{"status": "paused", "name": "Summer sale"}, &offer)
	if offer.Status != "paused" || offer.Name != "Summer sale" || offer.Payout.Amount.String() != "5.00" || offer.ThankYouURL != "https://shop.example/ty" {
		t.Fatalf("PATCH offer answered %+v", offer)
	}
	mustAdmin(t, s, 200, "GET", offerPath, nil, &offer)
	if offer.Status != "paused" || offer.Name != "Summer sale" {
		t.Fatalf("GET offer after PATCH %+v", offer)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/click?" + clickQ, ""},
		{"GET", "/impression?" + clickQ, ""},
		{"GET", fmt.Sprintf("/pixel?offer_id=%d&amount=1", o), ""},
		{"POST", "/conversion", fmt.Sprintf("offer_id=%d&amount=1", o)},
	} {
		resp, body := send(t, r.method, s.URL+r.path, "application/x-www-form-urlencoded", r.body, ua, cookie)
		if resp.StatusCode != 404 || resp.Header.Get("X-Error") == "" {
			t.Errorf("%s %s on a paused offer: %d", r.method, r.path, resp.StatusCode)
		}
		if strings.HasPrefix(r.path, "/pixel") || strings.HasPrefix(r.path, "/impression") {
			checkGIF(t, resp, body)
		}
	}
	mustAdmin(t, s, 200, "PATCH", offerPath, map[string]any{"status": "active"}, nil)
	clickAs(t, s, clickQ, ua)

	// PATCH of something that does not exist, and bad fields.
	for _, r := range []struct {
		path string
		body map[string]any
		want int
	}{
		{"/api/v1/affiliates/999999999", map[string]any{"status": "paused"}, 404},
		{"/api/v1/offers/999999999", map[string]any{"status": "paused"}, 404},
		{"/api/v1/offers/abc", map[string]any{"name": "x"}, 404},
		{"/api/v1/offers/999999999", map[string]any{"status": "off"}, 400},
		{affPath, map[string]any{"status": "deleted"}, 400},
		{offerPath, map[string]any{"landing_url": "ftp://x.example/"}, 400},
		{offerPath, map[string]any{"landing_url": ""}, 400}, // every click would redirect nowhere
		{offerPath, map[string]any{"cookie_days": 0}, 400},
		{offerPath, map[string]any{"payout": map[string]any{"percent": "100.5"}}, 400},
	} {
		if code := admin(t, s, "PATCH", r.path, r.body, nil); code != r.want {
			t.Errorf("PATCH %s %v: %d, want %d", r.path, r.body, code, r.want)
		}
	}
	mustAdmin(t, s, 200, "GET", offerPath, nil, &offer)
	if offer.Status != "active" || offer.CookieDays != 30 || offer.Payout.Type != "cpa" {
		t.Fatalf("a rejected PATCH changed the offer: %+v", offer)
	}
}

// TestNotFoundNamesTheField covers API.md's "Errors" for the 404s of the tracking endpoints: the
// message starts with the field's canonical name (offer_id, aff_id, click_id, event), in the
// endpoint's body type, and an unknown offer and a paused one answer the same message.
func TestNotFoundNamesTheField(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	paused := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, map[string]any{"status": "paused"})
	var pausedAff store.Affiliate
	mustAdmin(t, s, 201, "POST", "/api/v1/affiliates", map[string]any{"name": "paused " + t.Name(), "status": "paused"}, &pausedAff)
	o, a, token := f.Offer.ID, f.Affiliate.ID, f.Advertiser.PostbackToken
	const unknown = 999999999
	for _, r := range []struct{ method, path, body, field string }{
		{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d", unknown, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d", paused.Offer.ID, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d", o, unknown), "", "aff_id"},
		{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d", o, pausedAff.ID), "", "aff_id"},
		{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=%d", unknown, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=%d", paused.Offer.ID, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=%d", o, unknown), "", "aff_id"},
		{"GET", fmt.Sprintf("/pixel?offer_id=%d&amount=1", unknown), "", "offer_id"},
		{"GET", fmt.Sprintf("/pixel?offer_id=%d&amount=1", paused.Offer.ID), "", "offer_id"},
		{"GET", fmt.Sprintf("/pixel?offer_id=%d&amount=1&event=nosuch", o), "", "event"},
		{"POST", "/conversion", fmt.Sprintf("offer_id=%d&amount=1", unknown), "offer_id"},
		{"POST", "/conversion", fmt.Sprintf("offer_id=%d&amount=1", paused.Offer.ID), "offer_id"},
		{"GET", fmt.Sprintf("/postback?token=%s&offer_id=%d&aff_id=%d&amount=1", token, unknown, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/postback?token=%s&offer_id=%d&aff_id=%d&amount=1", token, paused.Offer.ID, a), "", "offer_id"},
		{"GET", fmt.Sprintf("/postback?token=%s&offer_id=%d&aff_id=%d&amount=1", token, o, unknown), "", "aff_id"},
		{"GET", fmt.Sprintf("/postback?token=%s&click_id=%s&amount=1", token, domain.NewID()), "", "click_id"},
	} {
		resp, body := send(t, r.method, s.URL+r.path, "application/x-www-form-urlencoded", r.body, "")
		if msg := errorOf(resp, body); resp.StatusCode != 404 || !strings.HasPrefix(msg, r.field+": ") {
			t.Errorf("%s %s %s: %d %q, want 404 naming %s", r.method, r.path, r.body, resp.StatusCode, msg, r.field)
		}
	}
	// Unknown and paused are one answer: a caller cannot tell which offers exist.
	unk, _ := send(t, "GET", fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", s.URL, unknown, a), "", "", "")
	pau, _ := send(t, "GET", fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", s.URL, paused.Offer.ID, a), "", "", "")
	if unk.Header.Get("X-Error") != pau.Header.Get("X-Error") {
		t.Errorf("unknown offer %q, paused offer %q: want one message", unk.Header.Get("X-Error"), pau.Header.Get("X-Error"))
	}
}

// TestCartFieldsNeverLoseTheClick: a tracking link or thank-you page carries the cart's and the
// ad network's own fields, not always validly encoded. Those are ignored: the click is stored and
// redirected, the conversion accepted; a ';' is part of a value. Only a parameter of ours that
// does not decode is a 400, naming it, with nothing stored.
func TestCartFieldsNeverLoseTheClick(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, nil)
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	o, a := f.Offer.ID, f.Affiliate.ID

	id, cookie := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d&utm_campaign=50%%off&sub_id=a;b&x%%zz=1", o, a), ua)
	cl, err := s.Store.Click(context.Background(), id)
	if err != nil || str(cl.SubID) != "a;b" {
		t.Fatalf("click with undecodable cart fields %+v, %v", cl, err)
	}
	c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=3&ref=100%%", o), ua, cookie))
	if c.Status != "approved" || str(c.ClickID) != id {
		t.Fatalf("pixel with an undecodable cart field %+v", c)
	}

	clicks := rowsFor(t, s, "clicks", o)
	resp, body := send(t, "GET", fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d&sub2=50%%off", s.URL, o, a), "", "", ua)
	if msg := errorOf(resp, body); resp.StatusCode != 400 || !strings.HasPrefix(msg, "sub2: ") {
		t.Errorf("click with sub2=50%%off: %d %q, want 400 naming sub2", resp.StatusCode, msg)
	}
	if n := rowsFor(t, s, "clicks", o); n != clicks {
		t.Errorf("%d clicks after a refused one, want %d", n, clicks)
	}
}
