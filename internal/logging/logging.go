// Package logging builds the process's one slog.Logger and carries a request's ID in its context,
// so every line logged while serving a request names the request.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// New returns the logger of a process writing to w: JSON lines (format "json" or empty, the
// default in production, for log shippers) or slog's text (format "text", for make run). Every
// record logged with a context that carries a request ID gets a request_id attribute.
func New(w io.Writer, format string, level slog.Leveler) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("must be json or text")
	}
	return slog.New(requestIDHandler{h}), nil
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request's ID. Every request gets one, so it costs one
// allocation (context.WithValue would take two: the context and the boxed string).
func WithRequestID(ctx context.Context, id string) context.Context {
	return &requestIDContext{Context: ctx, id: id}
}

type requestIDContext struct {
	context.Context
	id string
}

func (c *requestIDContext) Value(key any) any {
	if _, ok := key.(requestIDKey); ok {
		return c.id
	}
	return c.Context.Value(key)
}

// RequestID is the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds the context's request ID to every record.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
