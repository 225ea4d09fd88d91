package activities_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// seedConversion stores an advertiser, offer, affiliate and an approved conversion: the delivery
// log refers to a conversion.
func seedConversion(t *testing.T, st *store.Store) domain.Conversion {
	t.Helper()
	seeded := testenv.Seed(t, st, nil)
	offer, aff := &seeded.Offer, &seeded.Affiliate
	id := domain.NewID()
	return testenv.InsertConversion(t, st.DB, domain.Conversion{ID: id, OfferID: offer.ID, AffID: &aff.ID, Amount: 1995,
		Currency: "USD", Commission: 200, Status: domain.ConversionApproved, WorkflowID: "conversion/-/" + id})
}

// fire runs FirePixel once for a new GET pixel to target, as Temporal would run one attempt.
func fire(t *testing.T, a *activities.Activities, conv domain.Conversion, target string) (store.Pixel, error) {
	t.Helper()
	p := store.Pixel{AffID: *conv.AffID, URL: target, Method: http.MethodGet}
	if err := a.Store.CreatePixel(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := activities.FireInput{ConversionID: conv.ID, Event: domain.ConversionApproved, Pixel: p, Macros: conv.Macros(),
		Retry: domain.DefaultRetrySchedule}
	_, err := env.ExecuteActivity(a.FirePixel, in)
	return p, err
}

// deliveriesOf returns the logged attempts of one pixel.
func deliveriesOf(t *testing.T, st *store.Store, conv domain.Conversion, pixelID int64) []store.Delivery {
	t.Helper()
	all, err := st.Deliveries(context.Background(), conv.ID)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Delivery
	for _, d := range all {
		if d.PixelID == pixelID {
			out = append(out, d)
		}
	}
	return out
}

// TestFirePixelRefusesInternalTargets fires pixels at loopback (by address and by a name that
// resolves to it), the cloud metadata address and other internal ranges with the SSRF guard on:
// each is refused at dial time, fails without retry, and is logged; a live server behind the
// loopback targets receives nothing. With POSTBACK_ALLOW_PRIVATE the same name goes through.
func TestFirePixelRefusesInternalTargets(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	conv := seedConversion(t, st)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	guarded := &activities.Activities{Store: st, HTTP: activities.NewPixelClient(false)}
	for _, target := range []string{
		srv.URL + "/pb?tx={transaction_id}",        // 127.0.0.1, a live server
		"http://localhost:" + port + "/pb",         // a name resolving to loopback: checked after DNS
		"http://127.1.2.3:" + port + "/pb",         // the rest of 127/8
		"http://0.0.0.0:" + port + "/pb",           // unspecified: Linux would connect to the local host
		"http://169.254.169.254/latest/meta-data/", // cloud metadata (link-local)
		"http://10.1.2.3/pb",                       // private
		"http://172.16.0.1/pb",
		"http://192.168.1.1/pb",
		"http://100.64.0.1/pb", // carrier-grade NAT
		"http://224.0.0.1/pb",  // multicast
		"http://[::1]:" + port + "/pb",
		"http://[fe80::1]/pb",                       // IPv6 link-local
		"http://[fd00::1]/pb",                       // IPv6 unique local
		"http://[::ffff:127.0.0.1]:" + port + "/pb", // IPv4-mapped loopback
		"http://[64:ff9b::7f00:1]:" + port + "/pb",  // NAT64 of loopback (issue 8, finding 7)
		"http://[2002:a00:1::1]/pb",                 // 6to4 of 10.0.0.1
	} {
		p, err := fire(t, guarded, conv, target)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypePixelRefused || !appErr.NonRetryable() {
			t.Errorf("%s: error %v, want a non-retryable %s", target, err, activities.ErrTypePixelRefused)
			continue
		}
		d := deliveriesOf(t, st, conv, p.ID)
		if len(d) != 1 || d[0].Attempt != 1 || d[0].StatusCode != 0 || !strings.HasPrefix(d[0].Error, "refused: ") ||
			d[0].Method != http.MethodGet || d[0].URL == "" {
			t.Errorf("%s: logged as %+v, want one refused attempt", target, d)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server received %d requests through the guard", n)
	}

	// Control: the refusals come from the guard, not from a dead target.
	open := &activities.Activities{Store: st, HTTP: activities.NewPixelClient(true)}
	if _, err := fire(t, open, conv, "http://localhost:"+port+"/pb"); err != nil || hits.Load() != 1 {
		t.Fatalf("with private targets allowed: %v, %d requests", err, hits.Load())
	}
}

// TestFirePixelErrorsHideTheURL (issue 8, finding 8): a failed attempt's error, which Temporal
// and the worker log, names the pixel and the host but not the expanded URL (an affiliate's key,
// the visitor's IP); the delivery log keeps the whole URL for admins.
func TestFirePixelErrorsHideTheURL(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	conv := seedConversion(t, st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	dead := testenv.FreeAddr(t)
	a := &activities.Activities{Store: st, HTTP: activities.NewPixelClient(true)}
	for _, base := range []string{srv.URL, "http://" + dead} {
		p, err := fire(t, a, conv, base+"/pb?key=AFFILIATE-SECRET&tx={transaction_id}")
		host := strings.TrimPrefix(base, "http://")
		if err == nil || strings.Contains(err.Error(), "AFFILIATE-SECRET") || strings.Contains(err.Error(), conv.ID) ||
			!strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "pixel "+itoa(p.ID)) {
			t.Errorf("%s: error %v, want the pixel id and host, no query", base, err)
		}
		if d := deliveriesOf(t, st, conv, p.ID); len(d) != 1 || !strings.Contains(d[0].URL, "AFFILIATE-SECRET") {
			t.Errorf("%s: delivery log %+v, want the full URL", base, d)
		}
	}
}

// TestFirePixelWithoutLogDoesNotCall checks that an attempt that cannot be logged (PostgreSQL
// unreachable) calls nobody and fails retryably, so no call goes unlogged.
func TestFirePixelWithoutLogDoesNotCall(t *testing.T) {
	t.Parallel()
	db := testenv.NewDB(t)
	st := &store.Store{DB: db}
	conv := seedConversion(t, st)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer srv.Close()
	p := store.Pixel{AffID: *conv.AffID, URL: srv.URL, Method: http.MethodGet}
	if err := st.CreatePixel(context.Background(), &p); err != nil {
		t.Fatal(err)
	}
	closed := testenv.NewDB(t)
	closed.Close()
	a := &activities.Activities{Store: &store.Store{DB: closed}, HTTP: activities.NewPixelClient(true)}
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.FirePixel, activities.FireInput{ConversionID: conv.ID, Event: domain.ConversionApproved,
		Pixel: p, Macros: conv.Macros(), Retry: domain.DefaultRetrySchedule})
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("error %v, want a retryable one", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the affiliate was called although the attempt could not be logged")
	}
}

// TestSignWebhookMatchesReferenceLibrary signs with SignWebhook and verifies with the Standard
// Webhooks reference library, for several secret lengths.
func TestSignWebhookMatchesReferenceLibrary(t *testing.T) {
	t.Parallel()
	for _, n := range []int{24, 32, 64} {
		key := make([]byte, n)
		for i := range key {
			key[i] = byte(i * 7)
		}
		secret := "whsec_" + base64Std(key)
		body := []byte(`{"status":"approved","sub_id":"a&b ☕"}`)
		ts := time.Now().Unix()
		sig, err := activities.SignWebhook(secret, "msg_1", itoa(ts), body)
		if err != nil {
			t.Fatal(err)
		}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {itoa(ts)}, "Webhook-Signature": {sig}}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("%d-byte secret: %v", n, err)
		}
		if ref, _ := wh.Sign("msg_1", time.Unix(ts, 0), body); ref != sig {
			t.Errorf("%d-byte secret: signature %s, reference %s", n, sig, ref)
		}
	}
	if _, err := activities.SignWebhook("not-a-secret", "msg_1", "1", nil); err == nil {
		t.Error("a secret without whsec_ signed")
	}
}
