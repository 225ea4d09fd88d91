package domain

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
)

// webhookSecretPrefix starts every Standard Webhooks secret.
const webhookSecretPrefix = "whsec_"

// NewWebhookSecret makes a Standard Webhooks secret: whsec_ and the base64 of 32 random bytes.
func NewWebhookSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return webhookSecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// WebhookKey is the signing key of a whsec_<base64> secret; ok is false when s is not one.
func WebhookKey(s string) (key []byte, ok bool) {
	raw, found := strings.CutPrefix(s, webhookSecretPrefix)
	if !found {
		return nil, false
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	return key, err == nil && len(key) > 0
}
