package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
)

// TestMalformedInputOnTheRealStack sends malformed input of docs/API.md's common rules to every
// tracking endpoint of a real, existing offer that allows custom parameters: every answer is a
// 400 naming the field (never a 5xx), and nothing at all is stored. Then the valid money forms
// are accepted and stored exactly.
func TestMalformedInputOnTheRealStack(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, map[string]any{"type": "cpa", "amount": "1"}, map[string]any{"allow_custom_params": true})
	ua := "Mozilla/5.0 (" + t.Name() + ")"
	o, a, token := f.Offer.ID, f.Affiliate.ID, f.Advertiser.PostbackToken
	clickID, _ := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", o, a), ua)
	long := strings.Repeat("x", 256)

	type req struct{ method, path, ctype, body, field string }
	var reqs []req
	// Each conversion endpoint with its required parameters but the amount.
	endpoints := []struct {
		method, base string
	}{
		{"GET", fmt.Sprintf("/pixel?offer_id=%d", o)},
		{"POST", fmt.Sprintf("/conversion?offer_id=%d", o)},
		{"GET", fmt.Sprintf("/postback?token=%s&click_id=%s", token, clickID)},
		{"POST", fmt.Sprintf("/postback?token=%s&offer_id=%d&aff_id=%d", token, o, a)},
	}
	for _, e := range endpoints {
		for _, bad := range []struct{ q, field string }{
			{"amount=-1", "amount"}, {"amount=1e3", "amount"}, {"amount=NaN", "amount"}, {"amount=.5", "amount"},
			{"amount=5.", "amount"}, {"amount=007", "amount"}, {"amount=1.999", "amount"}, {"amount=%2B5", "amount"},
			{"amount=10000000000", "amount"}, {"amount=", "amount"}, {"amount=1&amount=2", "amount"},
			{"id=", "id"}, {"id=" + strings.Repeat("i", 129), "id"}, {"id=%FF", "id"}, {"id=a%00", "id"},
			{"payout=1e3", "payout"}, {"payout=-1", "payout"}, {"currency=usd", "currency"}, {"status=held", "status"},
			// A malformed custom parameter is a 400 before an unknown event's 404 (parameters first).
			{"payout=-1&event=nosuch", "payout"}, {"status=held&event=nosuch", "status"},
		} {
			q := bad.q
			if bad.field != "amount" {
				q += "&amount=1"
			}
			reqs = append(reqs, req{e.method, e.base + "&" + q, "", "", bad.field})
		}
	}
	reqs = append(reqs,
		req{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d&sub_id=%s", o, a, long), "", "", "sub_id"},
		req{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d&sub_id=%%FF", o, a), "", "", "sub_id"},
		req{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d&sub_id=%%00", o, a), "", "", "sub_id"},
		req{"GET", fmt.Sprintf("/click?offer_id=0%d&aff_id=%d", o, a), "", "", "offer_id"},
		req{"GET", fmt.Sprintf("/click?offer_id=%d&aff_id=%d&creative_id=1.5", o, a), "", "", "creative_id"},
		req{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=%d&sub_id=%s", o, a, long), "", "", "sub_id"},
		req{"GET", fmt.Sprintf("/impression?offer_id=%d&aff_id=-%d", o, a), "", "", "aff_id"},
		req{"POST", "/conversion", "application/json", fmt.Sprintf(`{"offer_id": %d, "amount": 1e3}`, o), "amount"},
		req{"POST", "/conversion", "application/json", fmt.Sprintf(`{"offer_id": %d, "amount": 1, "id": "\u0000"}`, o), "id"},
		req{"POST", "/postback", "application/json", fmt.Sprintf(`{"token": %q, "click_id": %q, "amount": 19.999}`, token, clickID), "amount"},
		req{"GET", fmt.Sprintf("/postback?token=%s&click_id=%s&amount=1", token, strings.ToUpper(clickID)), "", "", "click_id"},
		req{"GET", fmt.Sprintf("/postback?token=%s&offer_id=%d&aff_id=%d&amount=1&sub_id=%s", token, o, a, long), "", "", "sub_id"},
		// Parameters before authentication: a bad parameter without a token is 400, not 401.
		req{"GET", fmt.Sprintf("/postback?click_id=%s&amount=1.999", clickID), "", "", "amount"},
		req{"GET", "/postback?click_id=nothex&amount=1", "", "", "click_id"},
	)
	for _, r := range reqs {
		resp, body := send(t, r.method, s.URL+r.path, r.ctype, r.body, ua)
		msg := errorOf(resp, body)
		if resp.StatusCode != 400 || !strings.HasPrefix(msg, r.field+": ") {
			t.Errorf("%s %s %s: %d %q, want 400 naming %s", r.method, r.path, r.body, resp.StatusCode, msg, r.field)
		}
	}
	for table, want := range map[string]int{"clicks": 1, "impressions": 0, "conversions": 0, "conversion_duplicates": 0} {
		if n := rowsFor(t, s, table, o); n != want {
			t.Errorf("%d rows in %s after malformed requests, want %d", n, table, want)
		}
	}

	// Tokens no advertiser can have (invalid UTF-8, NUL, too long) are 401, not a database error.
	for _, bad := range []string{"%FF%FE", "a%00b", strings.Repeat("t", 300)} {
		resp, body := send(t, "GET", fmt.Sprintf("%s/postback?token=%s&click_id=%s&amount=1", s.URL, bad, clickID), "", "", ua)
		if resp.StatusCode != 401 || !strings.Contains(string(body), "token: ") {
			t.Errorf("token %q: %d %s", bad, resp.StatusCode, body)
		}
	}
	rq, _ := http.NewRequest("GET", fmt.Sprintf("%s/postback?click_id=%s&amount=1", s.URL, clickID), nil)
	rq.Header["X-Postback-Token"] = []string{"\xff\xfe"}
	if resp, err := noRedirect.Do(rq); err != nil || resp.StatusCode != 401 {
		t.Errorf("X-Postback-Token of invalid UTF-8: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Validation order past the parameters: no token 401, then an unknown click 404.
	for path, want := range map[string]int{
		fmt.Sprintf("/postback?click_id=%s&amount=1", domain.NewID()):                 401,
		fmt.Sprintf("/postback?click_id=%s&amount=1&token=%s", domain.NewID(), token): 404,
	} {
		if resp, _ := send(t, "GET", s.URL+path, "", "", ua); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// Conversion ids that cannot exist, even of invalid UTF-8: 404, not a database error.
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/conversions/%FF"}, {"POST", "/api/v1/conversions/%FF%00/approve"},
		{"POST", "/api/v1/conversions/x%C3/reject"}, {"POST", "/api/v1/conversions/%FF/reverse"},
	} {
		if code := admin(t, s, r.method, r.path, nil, nil); code != 404 {
			t.Errorf("%s %s: %d, want 404", r.method, r.path, code)
		}
	}

	// A user agent of invalid UTF-8 is stored (made valid), and the backup still matches it.
	badUA := "Mozilla/5.0 \xff\xfe (" + t.Name() + ")"
	uaClick, _ := clickAs(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", o, a), badUA)
	if c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=2", o), badUA)); str(c.ClickID) != uaClick ||
		str(c.AttributionMethod) != "backup" {
		t.Fatalf("backup for a user agent of invalid UTF-8: %+v", c)
	}

	// The valid money forms, by the pixel, a JSON form post and a JSON postback.
	for amount, want := range map[string]string{"19.95": "19.95", "0": "0.00", "1200": "1200.00", "5.5": "5.50",
		"9999999999.99": "9999999999.99", "0.01": "0.01"} {
		if c := conversionOf(t, s, pixelAs(t, s, fmt.Sprintf("offer_id=%d&amount=%s", o, amount), ua)); c.Amount.String() != want {
			t.Errorf("amount %s stored as %s", amount, c.Amount)
		}
	}
	resp, _ := send(t, "POST", s.URL+"/conversion", "application/json", fmt.Sprintf(`{"offer_id": %d, "amount": 19.95, "payout": 2.5}`, o), ua)
	if resp.StatusCode != 204 {
		t.Fatalf("JSON number amount: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	if c := conversionOf(t, s, resp.Header.Get("X-Workflow-Id")); c.Amount.String() != "19.95" {
		t.Errorf("JSON number 19.95 stored as %s", c.Amount)
	}
	resp, body := send(t, "POST", s.URL+"/postback", "application/json",
		fmt.Sprintf(`{"token": %q, "offer_id": %d, "aff_id": %d, "amount": 19.95, "payout": 2.5}`, token, o, a), ua)
	var accepted struct {
		WorkflowID string `json:"workflow_id"`
	}
	if err := json.Unmarshal(body, &accepted); err != nil || resp.StatusCode != 202 {
		t.Fatalf("JSON postback: %d %s", resp.StatusCode, body)
	}
	if c := conversionOf(t, s, accepted.WorkflowID); c.Amount.String() != "19.95" || c.Commission.String() != "2.50" {
		t.Errorf("JSON postback stored %s / %s", c.Amount, c.Commission)
	}
}
