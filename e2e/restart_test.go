package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestPostgresRestartLosesNothing runs the real binary (API and worker) on a PostgreSQL of its
// own and stops that database: tracking links keep redirecting (offers from the cache, click rows
// held by the writer), a thank-you pixel is acknowledged (its workflow waits for the database),
// and once Postgres is back every acknowledged click is stored and the sale is credited, with the
// affiliate's pixel received exactly once.
func TestPostgresRestartLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.StartPrivatePostgres(t)
	db, err := store.Open(ctx, pg.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &store.Store{DB: db}
	seeded := testenv.Seed(t, st, nil)
	aff := newAffiliateServer(t, 200)
	if err := st.CreatePixel(ctx, &store.Pixel{AffID: seeded.Affiliate.ID, URL: aff.URL + "/pb?tx={transaction_id}",
		Method: http.MethodGet}); err != nil {
		t.Fatal(err)
	}
	temporalAddr := testenv.TemporalAddress(t)
	ns, err := testenv.NewNamespace(temporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	testenv.StartProcess(t, testenv.BuildBinary(t), "http listening",
		"ROLE=all", "HTTP_ADDR="+addr, "DATABASE_URL="+pg.URL, "TEMPORAL_ADDRESS="+temporalAddr,
		"TEMPORAL_NAMESPACE="+ns, "POSTBACK_ALLOW_PRIVATE=true", "DEMO=false", "ADMIN_TOKEN=x",
		"POSTBACK_RETRY_INITIAL=200ms", "POSTBACK_RETRY_MAX_INTERVAL=1s")
	base := "http://" + addr
	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", base, seeded.Offer.ID, seeded.Affiliate.ID)
	if resp, _ := get(t, link); resp.StatusCode != http.StatusFound {
		t.Fatalf("click before the outage: %d", resp.StatusCode)
	}

	pg.Stop()
	var acked []string
	var cookie *http.Cookie
	for i := 0; i < 10; i++ {
		resp, _ := get(t, link)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("click %d while Postgres is down: %d %q", i, resp.StatusCode, resp.Header.Get("X-Error"))
		}
		acked = append(acked, resp.Header.Get("X-Click-Id"))
		cookie = resp.Cookies()[0]
	}
	invoice := "INV-" + domain.NewID()[:8]
	resp, _ := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=19.95&id=%s", base, seeded.Offer.ID, invoice), cookie)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pixel while Postgres is down: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}
	wfID := resp.Header.Get("X-Workflow-Id")
	pg.Start()

	eventually(t, time.Minute, "every acknowledged click stored", func() bool {
		var n int
		err := db.Get(&n, `SELECT count(*) FROM clicks WHERE click_id = ANY($1)`, pq.Array(acked))
		return err == nil && n == len(acked)
	})
	tc, err := testenv.Dial(temporalAddr, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var res workflows.ConversionResult
	if err := tc.GetWorkflow(wctx, wfID, "").Get(wctx, &res); err != nil {
		t.Fatalf("conversion workflow: %v", err)
	}
	if res.Status != domain.ConversionApproved || res.Delivered != 1 {
		t.Fatalf("conversion after the restart: %+v", res)
	}
	var conv domain.Conversion
	if err := db.Get(&conv, `SELECT click_id, status FROM conversions WHERE invoice_id = $1`, invoice); err != nil ||
		conv.ClickID == nil || *conv.ClickID != cookie.Value || conv.Status != domain.ConversionApproved {
		t.Fatalf("stored conversion %+v, %v", conv, err)
	}
	if total, ok := aff.hits(); total != 1 || ok != 1 {
		t.Fatalf("affiliate pixel received %d times (%d ok), want once", total, ok)
	}
}

// TestTemporalRestartLosesNothing runs the real binary against a Temporal server of its own and
// restarts that server while a conversion's affiliate pixel is being retried: clicks never need
// Temporal, a conversion Temporal cannot take is answered 500 (never acknowledged), and the
// acknowledged conversion resumes after the restart and reaches the affiliate exactly once.
func TestTemporalRestartLosesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dbURL := testenv.NewDBURL(t)
	st := &store.Store{DB: db}
	seeded := testenv.Seed(t, st, nil)
	var status, received, delivered atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	affSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		code := int(status.Load())
		received.Add(1)
		if code == http.StatusOK {
			delivered.Add(1)
		}
		w.WriteHeader(code)
	}))
	defer affSrv.Close()
	if err := st.CreatePixel(ctx, &store.Pixel{AffID: seeded.Affiliate.ID, URL: affSrv.URL + "/pb?tx={transaction_id}",
		Method: http.MethodGet}); err != nil {
		t.Fatal(err)
	}
	tmp := testenv.StartPrivateTemporal(t)
	addr := testenv.FreeAddr(t)
	testenv.StartProcess(t, testenv.BuildBinary(t), "http listening",
		"ROLE=all", "HTTP_ADDR="+addr, "DATABASE_URL="+dbURL, "TEMPORAL_ADDRESS="+tmp.Address,
		"POSTBACK_ALLOW_PRIVATE=true", "DEMO=false", "ADMIN_TOKEN=x",
		"POSTBACK_RETRY_INITIAL=200ms", "POSTBACK_RETRY_MAX_INTERVAL=1s")
	base := "http://" + addr
	link := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", base, seeded.Offer.ID, seeded.Affiliate.ID)
	pixel := func(cookie *http.Cookie, invoice string) *http.Response {
		resp, _ := get(t, fmt.Sprintf("%s/pixel?offer_id=%d&amount=19.95&id=%s", base, seeded.Offer.ID, invoice), cookie)
		return resp
	}

	resp, _ := get(t, link)
	invoice := "INV-" + domain.NewID()[:8]
	if r := pixel(resp.Cookies()[0], invoice); r.StatusCode != http.StatusOK {
		t.Fatalf("pixel: %d %q", r.StatusCode, r.Header.Get("X-Error"))
	}
	eventually(t, time.Minute, "the affiliate pixel to be tried", func() bool { return received.Load() >= 1 })

	tmp.Stop()
	resp, _ = get(t, link)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("click while Temporal is down: %d", resp.StatusCode)
	}
	lost := "INV-" + domain.NewID()[:8]
	if r := pixel(resp.Cookies()[0], lost); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("pixel while Temporal is down: %d, want 500 (not acknowledged)", r.StatusCode)
	}
	tmp.Start()
	status.Store(http.StatusOK)

	tc, err := testenv.Dial(tmp.Address, "default")
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var res workflows.ConversionResult
	if err := tc.GetWorkflow(wctx, workflows.ConversionWorkflowID(seeded.Offer.ID, invoice, ""), "").Get(wctx, &res); err != nil {
		t.Fatalf("conversion workflow after the restart: %v", err)
	}
	if res.Status != domain.ConversionApproved || res.Delivered != 1 || delivered.Load() != 1 {
		t.Fatalf("after the restart: %+v, affiliate received %d (%d ok)", res, received.Load(), delivered.Load())
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM conversions WHERE invoice_id = $1`, lost); err != nil || n != 0 {
		t.Fatalf("the unacknowledged pixel stored %d conversions (%v)", n, err)
	}
}
