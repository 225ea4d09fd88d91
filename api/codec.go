package api

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/codec"
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// The codec server (API.md, "Payload privacy"): Temporal's remote codec protocol, which the
// Temporal UI and CLI speak. POST /codec/decode and /codec/encode take {"payloads":[...]} (the
// protobuf JSON of temporal.api.common.v1.Payloads) and answer the same shape, one payload out
// for each in. X-Namespace is accepted and not used: the keys are the process's, whatever the
// namespace, and a payload that is not encrypted decodes to itself.

// codecMaxBody bounds a codec request: the UI sends one event's payloads at a time, and Temporal
// refuses payloads over 2 MB, so a few of those fit.
const codecMaxBody = 8 << 20

// codecTimeout bounds reading a codec request's body (the router's bodyDeadline, once the caller
// is authenticated), so a slow client cannot hold a handler.
const codecTimeout = 10 * time.Second

// codecAllowHeaders are the request headers the UI sends to a codec server (Authorization and
// Authorization-Extras only when it passes an access token).
const codecAllowHeaders = "Authorization, Authorization-Extras, Content-Type, X-Namespace"

// codecCORS lets the Temporal UI at TEMPORAL_UI_ORIGIN (one origin or several) call the codec from the browser, with
// credentials. It answers a preflight (OPTIONS) itself, without authentication: browsers never
// send credentials on a preflight. Other origins get no CORS headers, so browsers refuse them.
func (s *server) codecCORS(c *gin.Context) {
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	if origin := c.GetHeader("Origin"); origin != "" && slices.Contains(s.cfg.UIOrigins, origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if c.Request.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", codecAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
		}
	}
	if c.Request.Method == http.MethodOptions {
		c.AbortWithStatus(http.StatusNoContent)
	}
}

// requireCodecAuth is requireAdmin, except that with CODEC_LOOPBACK_NO_AUTH (make run) a
// loopback peer needs no token: the dev server's UI has no login, so it has no token to pass.
func (s *server) requireCodecAuth(c *gin.Context) error {
	if s.cfg.CodecLoopbackNoAuth {
		if p, ok := peer(c.Request); ok && p.IsLoopback() {
			c.Next()
			return nil
		}
	}
	return s.requireAdmin(c)
}

// codecDecode handles POST /codec/decode.
func (s *server) codecDecode(c *gin.Context) error { return s.codecApply(c, (*codec.Codec).Decode) }

// codecEncode handles POST /codec/encode.
func (s *server) codecEncode(c *gin.Context) error { return s.codecApply(c, (*codec.Codec).Encode) }

// codecApply reads the payloads, applies the codec's direction to them (none configured: they
// pass through unchanged) and answers them.
func (s *server) codecApply(c *gin.Context, apply func(*codec.Codec, []*commonpb.Payload) ([]*commonpb.Payload, error)) error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, codecMaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return domain.FieldError("payloads", "the body is over %d bytes", codecMaxBody)
	case err != nil:
		return domain.FieldError("payloads", "the body could not be read")
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(raw, &in); err != nil {
		return domain.FieldError("payloads", "the body must be {\"payloads\": [...]}, Temporal's JSON of payloads")
	}
	out := in.Payloads
	if s.cfg.Codec != nil {
		out, err = apply(s.cfg.Codec, in.Payloads)
	}
	if err != nil {
		// The codec's messages name a key ID at most, never a key or a payload's content.
		return domain.FieldError("payloads", "%s", err.Error())
	}
	// Not EmitUnpopulated: fields newer than a caller's API version (externalPayloads) would make
	// its strict protojson refuse the whole answer, as the CLI 1.5 does.
	b, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		return err
	}
	if len(out) == 0 {
		b = []byte(`{"payloads":[]}`)
	}
	c.Data(http.StatusOK, "application/json", b)
	return nil
}
