// Package codec encrypts the payloads trackflow sends to Temporal (API.md, "Payload privacy"):
// AES-256-GCM under keys from TEMPORAL_CODEC_KEYS, so the server's history holds no visitor IP,
// user agent or amount in clear. The first key encrypts; every key decrypts, so keys rotate
// without downtime: deploy "new,old", and drop "old" once no history written under it is needed.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

// EnvKeys is the variable that holds the keys: comma-separated, each the standard base64 of 32
// random bytes (`openssl rand -base64 32`).
const EnvKeys = "TEMPORAL_CODEC_KEYS"

// Metadata of an encrypted payload. The encoding names the scheme; the key ID names the key, so
// a payload written under an older key is decrypted with that key after a rotation.
const (
	Encoding    = "binary/encrypted"
	MetaKeyID   = "encryption-key-id"
	metaEncoded = converter.MetadataEncoding
)

// Codec is a converter.PayloadCodec that encrypts with its first key and decrypts with any.
type Codec struct {
	keys []key // keys[0] encrypts
}

type key struct {
	id   string
	aead cipher.AEAD
}

// Parse reads a TEMPORAL_CODEC_KEYS value. An empty value is no codec (nil, nil): payloads stay
// in clear. Any malformed key is an error naming the variable and the key's position, never its
// value.
func Parse(value string) (*Codec, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	c := &Codec{}
	seen := map[string]bool{}
	for i, s := range strings.Split(value, ",") {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil || len(raw) != 32 {
			return nil, fmt.Errorf("%s: key %d must be the base64 of 32 bytes", EnvKeys, i+1)
		}
		k, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: key %d: %w", EnvKeys, i+1, err)
		}
		if seen[k.id] {
			return nil, fmt.Errorf("%s: key %d is given twice", EnvKeys, i+1)
		}
		seen[k.id] = true
		c.keys = append(c.keys, k)
	}
	return c, nil
}

func newKey(raw []byte) (key, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, err
	}
	// The ID is a digest prefix: it tells keys apart and reveals nothing usable about the key.
	sum := sha256.Sum256(raw)
	return key{id: hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// KeyID is the ID of the key that encrypts, as written in each payload's metadata.
func (c *Codec) KeyID() string { return c.keys[0].id }

// Encode encrypts each payload (its metadata and data, marshalled whole) under the first key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("codec: marshal payload: %w", err)
		}
		nonce := make([]byte, k.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, fmt.Errorf("codec: nonce: %w", err)
		}
		// The key ID is authenticated data: a payload cannot be passed off as another key's.
		sealed := k.aead.Seal(nonce, nonce, plain, []byte(k.id))
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{metaEncoded: []byte(Encoding), MetaKeyID: []byte(k.id)},
			Data:     sealed,
		}
	}
	return out, nil
}

// Decode decrypts each encrypted payload with the key its metadata names. Payloads that are not
// encrypted (written before the codec was enabled) pass through unchanged.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[metaEncoded]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetaKeyID])
		k, ok := c.key(id)
		if !ok {
			return payloads, fmt.Errorf("codec: payload encrypted under key %q, which is not in %s", id, EnvKeys)
		}
		n := k.aead.NonceSize()
		if len(p.Data) < n {
			return payloads, errors.New("codec: encrypted payload too short")
		}
		plain, err := k.aead.Open(nil, p.Data[:n], p.Data[n:], []byte(k.id))
		if err != nil {
			return payloads, fmt.Errorf("codec: payload under key %q does not decrypt: %w", id, err)
		}
		var dp commonpb.Payload
		if err := proto.Unmarshal(plain, &dp); err != nil {
			return payloads, fmt.Errorf("codec: unmarshal payload: %w", err)
		}
		out[i] = &dp
	}
	return out, nil
}

func (c *Codec) key(id string) (key, bool) {
	for _, k := range c.keys {
		if k.id == id {
			return k, true
		}
	}
	return key{}, false
}

// Apply sets the client options that make every payload the client (and a worker made from it)
// sends go through c: the data converter, and a failure converter that also encrypts failure
// messages and stack traces, which can quote a pixel URL with the visitor's IP. A nil c changes
// nothing.
func (c *Codec) Apply(o *client.Options) {
	if c == nil {
		return
	}
	dc := converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
	o.DataConverter = dc
	o.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: dc, EncodeCommonAttributes: true,
	})
}
