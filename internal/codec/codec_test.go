package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/trackflow/trackflow/internal/codec"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func payload(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustParse(t *testing.T, keys string) *codec.Codec {
	t.Helper()
	c, err := codec.Parse(keys)
	if err != nil || c == nil {
		t.Fatalf("Parse: %v, %v", c, err)
	}
	return c
}

func TestEncryptsAndRoundTrips(t *testing.T) {
	c := mustParse(t, newKey(t))
	in := payload(t, map[string]string{"ip": "203.0.113.9", "amount": "19.95"})
	enc, err := c.Encode([]*commonpb.Payload{in})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc[0].Data, []byte("203.0.113.9")) || bytes.Contains(enc[0].Data, []byte("19.95")) {
		t.Fatal("the encoded payload holds the visitor's data in clear")
	}
	if got := string(enc[0].Metadata["encoding"]); got != codec.Encoding {
		t.Fatalf("encoding = %q", got)
	}
	if got := string(enc[0].Metadata[codec.MetaKeyID]); got != c.KeyID() || len(got) != 16 {
		t.Fatalf("key id = %q, want %q", got, c.KeyID())
	}
	dec, err := c.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(dec[0], in) {
		t.Fatalf("round trip: got %v, want %v", dec[0], in)
	}
	// Two encodings of one payload differ (a fresh nonce each time).
	again, _ := c.Encode([]*commonpb.Payload{in})
	if bytes.Equal(again[0].Data, enc[0].Data) {
		t.Fatal("two encodings are identical: the nonce is reused")
	}
}

func TestOldKeyStillDecodesAfterRotation(t *testing.T) {
	oldKey, newKeyStr := newKey(t), newKey(t)
	before := mustParse(t, oldKey)
	in := payload(t, "held conversion input")
	enc, err := before.Encode([]*commonpb.Payload{in})
	if err != nil {
		t.Fatal(err)
	}
	after := mustParse(t, newKeyStr+","+oldKey)
	dec, err := after.Decode(enc)
	if err != nil {
		t.Fatalf("decode after rotation: %v", err)
	}
	if !proto.Equal(dec[0], in) {
		t.Fatalf("got %v", dec[0])
	}
	// New payloads are written under the new key, which the old key set cannot read.
	fresh, _ := after.Encode([]*commonpb.Payload{in})
	if string(fresh[0].Metadata[codec.MetaKeyID]) == before.KeyID() {
		t.Fatal("after rotation the old key still encrypts")
	}
	if _, err := before.Decode(fresh); err == nil || !strings.Contains(err.Error(), "not in TEMPORAL_CODEC_KEYS") {
		t.Fatalf("decode under an unknown key: %v", err)
	}
}

func TestPlainPayloadsPassThroughAndTamperingFails(t *testing.T) {
	c := mustParse(t, newKey(t))
	plain := payload(t, "written before the codec was enabled")
	dec, err := c.Decode([]*commonpb.Payload{plain})
	if err != nil || !proto.Equal(dec[0], plain) {
		t.Fatalf("plain payload: %v, %v", dec, err)
	}
	enc, _ := c.Encode([]*commonpb.Payload{plain})
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := c.Decode(enc); err == nil {
		t.Fatal("a tampered payload decoded")
	}
}

func TestParse(t *testing.T) {
	if c, err := codec.Parse(" "); c != nil || err != nil {
		t.Fatalf("empty: %v, %v", c, err)
	}
	k := newKey(t)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	for _, bad := range []string{"not-base64!", short, k + "," + short, k + "," + k, k + ","} {
		_, err := codec.Parse(bad)
		if err == nil || !strings.HasPrefix(err.Error(), "TEMPORAL_CODEC_KEYS: ") {
			t.Errorf("Parse(%q) = %v, want an error naming TEMPORAL_CODEC_KEYS", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), k) {
			t.Errorf("the error quotes a key: %v", err)
		}
	}
}
