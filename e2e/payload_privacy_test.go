package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/codec"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
	"github.com/trackflow/trackflow/workflows"
)

// TestPayloadPrivacyCodecAndSDKMetrics runs the real binary with TEMPORAL_CODEC_KEYS set and a
// conversion through it: the history the Temporal server holds, read by a client without the
// codec, has no visitor IP, user agent or amount anywhere in clear, while /codec/decode (the
// codec server the UI calls) turns the same payloads back into them. A second process, its keys
// rotated to "new,old", still decodes them. /metrics shows the SDK's metrics beside trackflow's.
func TestPayloadPrivacyCodecAndSDKMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dbURL := testenv.NewDBURL(t)
	st := &store.Store{DB: db}
	seeded := testenv.Seed(t, st, nil)
	aff := newAffiliateServer(t, 200)
	// The pixel's macros put the IP and amount in the activity's input as well.
	if err := st.CreatePixel(ctx, &store.Pixel{AffID: seeded.Affiliate.ID,
		URL: aff.URL + "/pb?tx={transaction_id}&ip={ip}&amount={amount}", Method: http.MethodGet}); err != nil {
		t.Fatal(err)
	}
	temporalAddr := testenv.TemporalAddress(t)
	ns, err := testenv.NewNamespace(temporalAddr)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, newKey := randomKey(t), randomKey(t)
	const token, uiOrigin = "codec-test-token", "http://ui.test:8233"
	bin := testenv.BuildBinary(t)
	common := []string{"DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + temporalAddr, "TEMPORAL_NAMESPACE=" + ns,
		"POSTBACK_ALLOW_PRIVATE=true", "DEMO=false", "ADMIN_TOKEN=" + token, "TRUSTED_PROXIES=127.0.0.1/32",
		"TEMPORAL_UI_ORIGIN=" + uiOrigin}
	addr := testenv.FreeAddr(t)
	testenv.StartProcess(t, bin, "http listening", append(common, "ROLE=all", "HTTP_ADDR="+addr,
		"TEMPORAL_CODEC_KEYS="+oldKey)...)
	base := "http://" + addr

	const ip, ua, amount = "203.0.113.77", "PrivacyProbe/4.2 (visitor-agent-5b1f)", "4321.87"
	visit := func(rawURL string, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
		req.Header.Set("User-Agent", ua)
		req.Header.Set("X-Forwarded-For", ip)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := visit(fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d", base, seeded.Offer.ID, seeded.Affiliate.ID))
	if resp.StatusCode != http.StatusFound || len(resp.Cookies()) == 0 {
		t.Fatalf("click: %d", resp.StatusCode)
	}
	resp = visit(fmt.Sprintf("%s/pixel?offer_id=%d&amount=%s&id=INV-%s", base, seeded.Offer.ID, amount, domain.NewID()[:8]),
		resp.Cookies()[0])
	wfID := resp.Header.Get("X-Workflow-Id")
	if resp.StatusCode != http.StatusOK || wfID == "" {
		t.Fatalf("pixel: %d %q", resp.StatusCode, resp.Header.Get("X-Error"))
	}

	// The raw history, through a client without the codec, once the workflow has closed.
	raw, err := testenv.Dial(temporalAddr, ns)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	eventually(t, time.Minute, "the conversion workflow to complete", func() bool {
		d, err := raw.DescribeWorkflowExecution(ctx, wfID, "")
		return err == nil && d.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	if total, ok := aff.hits(); total != 1 || ok != 1 {
		t.Fatalf("affiliate pixel: %d requests, %d ok", total, ok)
	}
	if q := aff.request(0).URL.Query(); q.Get("ip") != ip || q.Get("amount") != amount {
		t.Fatalf("affiliate pixel got %s: the probe values did not reach the workflow", aff.request(0).URL)
	}
	var history []byte
	var payloads []*commonpb.Payload
	it := raw.GetWorkflowHistory(ctx, wfID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		b, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, b...)
		payloads = append(payloads, payloadsIn(ev.ProtoReflect())...)
	}
	for _, secret := range []string{ip, ua, amount} {
		if bytes.Contains(history, []byte(secret)) {
			t.Errorf("the server's history holds %q in clear", secret)
		}
	}
	// The line the UI's workflow list shows (ConversionSummary) is a search attribute, so in clear:
	// status, commission, affiliate and method, no visitor data or amount; the history checked
	// above holds it.
	d, err := raw.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatal(err)
	}
	var summary string
	sa := d.WorkflowExecutionInfo.GetSearchAttributes().GetIndexedFields()[workflows.ConversionSummaryKey.GetName()]
	if err := converter.GetDefaultDataConverter().FromPayload(sa, &summary); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("approved · 2.00 USD to affiliate %d · cookie", seeded.Affiliate.ID); summary != want ||
		!bytes.Contains(history, []byte(want)) {
		t.Errorf("ConversionSummary %q, want %q in the history", summary, want)
	}
	encrypted := 0
	for _, p := range payloads {
		if string(p.Metadata["encoding"]) == codec.Encoding {
			encrypted++
		}
	}
	if len(payloads) < 4 || encrypted != len(payloads) {
		t.Fatalf("%d of %d payloads in the history are encrypted", encrypted, len(payloads))
	}

	// The codec server decodes them back: what the UI shows to an ops user who holds the token.
	decoded := codecCall(t, base, "decode", token, payloads, http.StatusOK)
	var clear []byte
	for _, p := range decoded {
		clear = append(clear, p.Data...)
	}
	for _, secret := range []string{ip, ua, amount} {
		if !bytes.Contains(clear, []byte(secret)) {
			t.Errorf("the decoded payloads do not hold %q", secret)
		}
	}
	// Encode then decode is the identity, and encode writes under the configured key.
	sample := []*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}}
	enc := codecCall(t, base, "encode", token, sample, http.StatusOK)
	if string(enc[0].Metadata["encoding"]) != codec.Encoding || bytes.Contains(enc[0].Data, []byte(`"x"`)) {
		t.Fatalf("encode: %v", enc[0])
	}
	if back := codecCall(t, base, "decode", token, enc, http.StatusOK); !proto.Equal(back[0], sample[0]) {
		t.Fatalf("encode then decode: %v", back[0])
	}
	// Without the token, or with another, the codec refuses; a bad body is a 400 naming payloads.
	codecCall(t, base, "decode", "", payloads, http.StatusUnauthorized)
	codecCall(t, base, "encode", "wrong", sample, http.StatusUnauthorized)
	if code, body := codecRaw(t, base, "decode", token, "", []byte(`{"payloads": 5}`)); code != 400 ||
		!strings.Contains(body, `"error":"payloads: `) {
		t.Fatalf("bad body: %d %s", code, body)
	}

	// CORS: the UI's origin gets a preflight answered without auth, and its requests allowed.
	pre, _ := http.NewRequest(http.MethodOptions, base+"/codec/decode", nil)
	pre.Header.Set("Origin", uiOrigin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	presp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	allow := strings.ToLower(presp.Header.Get("Access-Control-Allow-Headers"))
	if presp.StatusCode != http.StatusNoContent || presp.Header.Get("Access-Control-Allow-Origin") != uiOrigin ||
		presp.Header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(allow, "authorization") ||
		!strings.Contains(allow, "content-type") || !strings.Contains(allow, "x-namespace") {
		t.Fatalf("preflight: %d %v", presp.StatusCode, presp.Header)
	}
	if code, _ := codecRaw(t, base, "decode", token, uiOrigin, []byte(`{"payloads":[]}`)); code != 200 {
		t.Fatalf("decode from the UI's origin: %d", code)
	}
	pre.Header.Set("Origin", "http://evil.test")
	if presp, err = http.DefaultClient.Do(pre); err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if got := presp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("another origin is allowed: %q", got)
	}

	// After a rotation ("new,old") the old payloads still decode, and new ones use the new key.
	rotated := testenv.FreeAddr(t)
	testenv.StartProcess(t, bin, "http listening", append(common, "ROLE=api", "HTTP_ADDR="+rotated,
		"TEMPORAL_CODEC_KEYS="+newKey+","+oldKey, "CODEC_LOOPBACK_NO_AUTH=true")...)
	again := codecCall(t, "http://"+rotated, "decode", token, payloads, http.StatusOK)
	for i := range again {
		if !proto.Equal(again[i], decoded[i]) {
			t.Fatalf("payload %d decodes differently after the rotation", i)
		}
	}
	fresh := codecCall(t, "http://"+rotated, "encode", "", sample, http.StatusOK) // loopback, no token needed
	if string(fresh[0].Metadata[codec.MetaKeyID]) == string(enc[0].Metadata[codec.MetaKeyID]) {
		t.Fatal("after the rotation the old key still encrypts")
	}
	codecCall(t, base, "decode", token, fresh, http.StatusBadRequest) // the old process lacks the new key

	// The SDK's client and worker metrics beside trackflow's counters (reported every second).
	var metrics string
	eventually(t, 15*time.Second, "SDK metrics on /metrics", func() bool {
		_, b := get(t, base+"/metrics")
		metrics = string(b)
		for _, name := range []string{
			"temporal_request_total{", "temporal_workflow_task_schedule_to_start_latency_seconds_bucket{",
			"temporal_workflow_task_execution_latency_seconds_bucket{", "temporal_sticky_cache_size{",
			"temporal_workflow_completed_total{", "trackflow_conversions_total{",
		} {
			if !strings.Contains(metrics, name) {
				return false
			}
		}
		return true
	})
	if !strings.Contains(metrics, `namespace="`+ns+`"`) || !strings.Contains(metrics, `task_queue="conversions"`) {
		t.Fatalf("SDK metrics lack their namespace and task queue labels:\n%s", metrics)
	}
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// payloadsIn collects every Payload message inside m (a history event), at any depth, except
// search attributes: those stay readable (API.md) and go through no codec.
func payloadsIn(m protoreflect.Message) []*commonpb.Payload {
	switch v := m.Interface().(type) {
	case *commonpb.Payload:
		return []*commonpb.Payload{v}
	case *commonpb.SearchAttributes:
		return nil
	}
	var out []*commonpb.Payload
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				out = append(out, payloadsIn(v.List().Get(i).Message())...)
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				out = append(out, payloadsIn(mv.Message())...)
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			out = append(out, payloadsIn(v.Message())...)
		}
		return true
	})
	return out
}

// codecCall posts payloads to /codec/<op> as the Temporal UI does and returns the answer's
// payloads; it fails the test unless the status is want.
func codecCall(t *testing.T, base, op, token string, in []*commonpb.Payload, want int) []*commonpb.Payload {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: in})
	if err != nil {
		t.Fatal(err)
	}
	code, out := codecRaw(t, base, op, token, "", body)
	if code != want {
		t.Fatalf("POST /codec/%s: %d, want %d: %s", op, code, want, out)
	}
	if code != http.StatusOK {
		return nil
	}
	// An older caller's strict protojson (the CLI 1.5) refuses fields it does not know.
	if strings.Contains(out, "externalPayloads") {
		t.Fatalf("POST /codec/%s answers a field older callers refuse: %s", op, out)
	}
	var res commonpb.Payloads
	if err := protojson.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("POST /codec/%s answered %s: %v", op, out, err)
	}
	if len(res.Payloads) != len(in) {
		t.Fatalf("POST /codec/%s: %d payloads out for %d in", op, len(res.Payloads), len(in))
	}
	return res.Payloads
}

func codecRaw(t *testing.T, base, op, token, origin string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/codec/"+op, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if origin != "" && resp.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("POST /codec/%s from %s: no Access-Control-Allow-Origin", op, origin)
	}
	return resp.StatusCode, string(b)
}
