package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/workflows"
)

// TestDuplicateInvoiceUnderConcurrency: 50 simultaneous requests for one (offer, invoice), by every
// method (AFID and Click ID posts as GET, form and JSON, and thank-you pixels with the cookie),
// make one conversion with one commission and one affiliate pixel; the other 49 are answered as
// duplicates and counted.
func TestDuplicateInvoiceUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	aff := newAffiliateServer(t, 200)
	addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/pb?tx={transaction_id}&status={status}&payout={payout}"})
	ua := "dedupe/" + domain.NewID()
	clickID, cookie := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), http.Header{"User-Agent": {ua}})
	inv := invoiceID("DUP50")
	wfID := workflows.ConversionWorkflowID(f.Offer.ID, inv, "")

	type answer struct {
		accepted, duplicate bool
		detail              string
	}
	const n = 50
	answers := make([]answer, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			var a postbackAnswer
			switch i % 5 {
			case 0:
				a = postback(t, s, viaQuery, afidPost(f, "25.00", inv), nil)
			case 1:
				a = postback(t, s, viaForm, afidPost(f, "25.00", inv), nil)
			case 2:
				a = postback(t, s, viaJSON, clickPost(f, clickID, "25.00", inv), nil)
			case 3:
				p := clickPost(f, clickID, "25.00", inv)
				p.Del("token")
				a = postback(t, s, viaQuery, p, http.Header{"X-Postback-Token": {f.Advertiser.PostbackToken}})
			case 4:
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/pixel?offer_id=%d&amount=25.00&id=%s", s.URL, f.Offer.ID, inv), nil)
				req.Header.Set("User-Agent", ua)
				req.AddCookie(cookie)
				resp, err := noRedirect.Do(req)
				if err != nil {
					answers[i].detail = err.Error()
					return
				}
				resp.Body.Close()
				dup := resp.Header.Get("X-Conversion-Status") == "duplicate"
				ok := resp.StatusCode == 200 && resp.Header.Get("X-Workflow-Id") == wfID
				answers[i] = answer{accepted: ok && !dup, duplicate: ok && dup,
					detail: fmt.Sprintf("pixel %d %s", resp.StatusCode, resp.Header.Get("X-Error"))}
				return
			}
			answers[i] = answer{
				accepted:  a.Code == 202 && a.Status == "accepted" && a.WorkflowID == wfID,
				duplicate: a.Code == 200 && a.Status == "duplicate" && a.WorkflowID == wfID,
				detail:    fmt.Sprintf("postback %+v", a),
			}
		}()
	}
	close(gate)
	wg.Wait()
	var accepted, duplicates int
	for i, a := range answers {
		switch {
		case a.accepted:
			accepted++
		case a.duplicate:
			duplicates++
		default:
			t.Errorf("request %d: neither accepted nor duplicate: %s", i, a.detail)
		}
	}
	if accepted != 1 || duplicates != n-1 {
		t.Fatalf("%d accepted and %d duplicates, want 1 and %d", accepted, duplicates, n-1)
	}

	res := workflowResult(t, s, wfID)
	if res.Status != "approved" || res.Commission.String() != "2.00" || res.Delivered != 1 {
		t.Fatalf("workflow result %+v", res)
	}
	var list struct{ Items []domain.Conversion }
	mustAdmin(t, s, 200, "GET", fmt.Sprintf("/api/v1/conversions?offer_id=%d", f.Offer.ID), nil, &list)
	if len(list.Items) != 1 || list.Items[0].Commission.String() != "2.00" || deref(list.Items[0].InvoiceID) != inv {
		t.Fatalf("conversions of the offer: %+v", list.Items)
	}
	if got := duplicatesCounted(t, s, f.Offer.ID, inv); got != n-1 {
		t.Fatalf("%d duplicates counted, want %d", got, n-1)
	}
	if total, _ := aff.hits(); total != 1 {
		t.Fatalf("affiliate pixel received %d times, want once", total)
	}
}

// TestDuplicateOnlyTheDatabaseSees: once Temporal has forgotten the first workflow (retention), a
// re-post of its invoice starts a new workflow, is answered as accepted, and that workflow ends
// as a duplicate: nothing stored, no pixel, the duplicate counted. The same whatever became of the
// first conversion, and whichever method the re-post uses.
func TestDuplicateOnlyTheDatabaseSees(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)

	cases := []struct {
		name       string
		pausedAff  bool // the first conversion is rejected, inactive_affiliate
		wantStatus string
		wantPixels int
	}{
		{"first approved", false, "approved", 1},
		{"first rejected", true, "rejected", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, cpa2, nil)
			aff := newAffiliateServer(t, 200)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/pb?tx={transaction_id}&status={status}&payout={payout}"})
			clickID, _ := click(t, s, fmt.Sprintf("offer_id=%d&aff_id=%d", f.Offer.ID, f.Affiliate.ID), nil)
			if tc.pausedAff {
				setAffiliateStatus(t, s, f.Affiliate.ID, "paused")
			}
			inv := invoiceID("FORGOTTEN")
			first := mustPostback(t, s, 202, afidPost(f, "30.00", inv))
			if res := workflowResult(t, s, first.WorkflowID); res.Status != tc.wantStatus {
				t.Fatalf("first: %+v", res)
			}
			original := conversionByInvoice(t, s, f.Offer.ID, inv)
			if tc.pausedAff {
				// Were the re-post not a duplicate, it would now be approved and fire the pixel.
				setAffiliateStatus(t, s, f.Affiliate.ID, "active")
			}
			forgetWorkflow(t, s, first.WorkflowID)

			// The re-post: a Click ID post this time, with another amount.
			const dbDuplicates = `trackflow_duplicates_total{layer="database"}`
			before := scrapeMetrics(t, s)[dbDuplicates]
			again := mustPostback(t, s, 202, clickPost(f, clickID, "99.00", inv))
			if again.Status != "accepted" || again.WorkflowID != first.WorkflowID {
				t.Fatalf("re-post: %+v", again)
			}
			if res := workflowResult(t, s, again.WorkflowID); res.Status != workflows.StatusDuplicate || res.Delivered != 0 {
				t.Fatalf("re-post workflow: %+v", res)
			}
			if n := conversionsStored(t, s, f.Offer.ID, inv); n != 1 {
				t.Fatalf("%d conversions hold the invoice", n)
			}
			// Other tests run beside this one, so the counter is only known to have gone up.
			if after := scrapeMetrics(t, s)[dbDuplicates]; after < before+1 {
				t.Fatalf("%s went from %v to %v", dbDuplicates, before, after)
			}
			now := conversionByInvoice(t, s, f.Offer.ID, inv)
			if now.ID != original.ID || now.Status != tc.wantStatus || now.Amount.String() != "30.00" || now.Commission != original.Commission {
				t.Fatalf("the original changed: %+v, was %+v", now, original)
			}
			if got := duplicatesCounted(t, s, f.Offer.ID, inv); got != 1 {
				t.Fatalf("%d duplicates counted, want 1", got)
			}
			if stored, _ := s.Store.Click(t.Context(), clickID); stored.ConvertedBy != nil {
				t.Fatalf("the duplicate used the click: %+v", stored)
			}
			if total, _ := aff.hits(); total != tc.wantPixels {
				t.Fatalf("affiliate pixel received %d times, want %d", total, tc.wantPixels)
			}
			// Ops find the duplicate's workflow by its status.
			findWorkflows(t, s, fmt.Sprintf(`InvoiceId=%q AND ConversionStatus="duplicate"`, inv), 1)
		})
	}
}

// TestDuplicateWhateverTheFirstStatus: an invoice is used once whatever became of its first
// conversion (approved, rejected, held pending, reversed): a later request by any method is a
// duplicate, earns nothing and fires no pixel.
func TestDuplicateWhateverTheFirstStatus(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)

	cases := []struct {
		name   string
		status string
		pixels int // affiliate pixels the first conversion fired
	}{
		{"approved", "approved", 1},
		{"rejected", "rejected", 0},
		{"pending", "pending", 0},
		{"reversed", "reversed", 2}, // approved, then reversed: the pixel fired twice
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, s, cpa2, map[string]any{"allow_custom_params": true})
			aff := newAffiliateServer(t, 200)
			addPixel(t, s, f.Affiliate.ID, map[string]any{"url": aff.URL + "/pb?tx={transaction_id}&status={status}&payout={payout}"})
			inv := invoiceID("ANY")
			p := afidPost(f, "30.00", inv)
			switch tc.status {
			case "rejected":
				p.Set("status", "rejected")
			case "pending":
				p.Set("status", "pending")
			}
			first := mustPostback(t, s, 202, p)
			var original domain.Conversion
			if tc.status == "pending" {
				eventually(t, 30*time.Second, "the held conversion", func() bool {
					var list struct{ Items []domain.Conversion }
					mustAdmin(t, s, 200, "GET", "/api/v1/conversions?invoice_id="+url.QueryEscape(inv), nil, &list)
					if len(list.Items) == 1 {
						original = list.Items[0]
					}
					return len(list.Items) == 1
				})
			} else {
				workflowResult(t, s, first.WorkflowID)
				original = conversionByInvoice(t, s, f.Offer.ID, inv)
			}
			if tc.status == "reversed" {
				mustAdmin(t, s, 202, "POST", "/api/v1/conversions/"+original.ID+"/reverse", map[string]any{"reason": "chargeback"}, nil)
				workflowResult(t, s, workflows.ReversalWorkflowID(original.ID))
				original = conversionByInvoice(t, s, f.Offer.ID, inv)
			}
			if original.Status != tc.status {
				t.Fatalf("first conversion %+v, want %s", original, tc.status)
			}

			// A re-post by AFID, and the thank-you page's pixel, are both duplicates.
			a := mustPostback(t, s, 200, afidPost(f, "30.00", inv))
			if a.Status != "duplicate" || a.WorkflowID != first.WorkflowID {
				t.Fatalf("re-post: %+v", a)
			}
			resp, _ := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=30.00&id=%s", s.URL, f.Offer.ID, url.QueryEscape(inv)))
			if resp.StatusCode != 200 || resp.Header.Get("X-Conversion-Status") != "duplicate" ||
				resp.Header.Get("X-Workflow-Id") != first.WorkflowID || resp.Header.Get("Content-Type") != "image/gif" {
				t.Fatalf("pixel re-post: %d %v", resp.StatusCode, resp.Header)
			}
			if got := duplicatesCounted(t, s, f.Offer.ID, inv); got != 2 {
				t.Fatalf("%d duplicates counted, want 2", got)
			}
			if n := conversionsStored(t, s, f.Offer.ID, inv); n != 1 {
				t.Fatalf("%d conversions hold the invoice", n)
			}
			if total, _ := aff.hits(); total != tc.pixels {
				t.Fatalf("affiliate pixel received %d times, want %d", total, tc.pixels)
			}
			if tc.status == "pending" {
				// The held conversion is still the one to approve, and fires its pixel once.
				if code := admin(t, s, "POST", "/api/v1/conversions/"+original.ID+"/approve", nil, nil); code != 200 {
					t.Fatalf("approve: status %d", code)
				}
				if res := workflowResult(t, s, first.WorkflowID); res.Status != "approved" || res.Delivered != 1 {
					t.Fatalf("approved held conversion: %+v", res)
				}
				if total, _ := aff.hits(); total != 1 {
					t.Fatalf("affiliate pixel received %d times after approval, want 1", total)
				}
			}
		})
	}
}

// TestInvoiceOfAnyUTF8: an invoice is 1 to 128 bytes of any UTF-8. Its workflow ID stays printable
// ASCII (percent-encoded where needed, which Temporal's gRPC headers and X-Workflow-Id require),
// the conversion keeps the invoice as given, and de-duplication holds for it.
func TestInvoiceOfAnyUTF8(t *testing.T) {
	t.Parallel()
	s := testenv.Shared(t)
	f := newFixture(t, s, cpa2, nil)
	suffix := domain.NewID()[:6]
	inv := "Bestellung Ä/50%-" + suffix
	wantWF := fmt.Sprintf("conversion/%d/Bestellung%%20%%C3%%84/50%%25-%s", f.Offer.ID, suffix)

	a := mustPostback(t, s, 202, afidPost(f, "10", inv))
	if a.WorkflowID != wantWF {
		t.Fatalf("workflow id %q, want %q", a.WorkflowID, wantWF)
	}
	c := conversionByInvoice(t, s, f.Offer.ID, inv)
	if deref(c.InvoiceID) != inv || c.WorkflowID != wantWF || c.Status != "approved" {
		t.Fatalf("conversion %+v", c)
	}
	if d := mustPostback(t, s, 200, afidPost(f, "10", inv)); d.Status != "duplicate" || d.WorkflowID != wantWF {
		t.Fatalf("duplicate: %+v", d)
	}
	resp, _ := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=10&id=%s", s.URL, f.Offer.ID, url.QueryEscape(inv)))
	if resp.Header.Get("X-Conversion-Status") != "duplicate" || resp.Header.Get("X-Workflow-Id") != wantWF {
		t.Fatalf("pixel duplicate: %d %v", resp.StatusCode, resp.Header)
	}
	// The escaped text, as an invoice of its own, is another invoice.
	escaped := "Bestellung%20%C3%84/50%25-" + suffix
	if o := mustPostback(t, s, 202, afidPost(f, "10", escaped)); o.WorkflowID == wantWF {
		t.Fatalf("invoice %q shares the workflow of %q", escaped, inv)
	}
	findWorkflows(t, s, fmt.Sprintf(`InvoiceId=%q`, inv), 1)

	// A NUL cannot be stored by PostgreSQL: refused at the door, naming the field.
	for _, p := range []url.Values{afidPost(f, "10", "INV\x00"), func() url.Values {
		v := afidPost(f, "10", "")
		v.Set("sub_id", "s\x00")
		return v
	}()} {
		if a := postback(t, s, viaQuery, p, nil); a.Code != 400 || !(strings.HasPrefix(a.Error, "id:") || strings.HasPrefix(a.Error, "sub_id:")) {
			t.Errorf("NUL in %v: %+v", p, a)
		}
	}
}
