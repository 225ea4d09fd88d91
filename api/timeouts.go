package api

import (
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Timeouts bound how long a client may hold a connection (issue 8, finding 1: a body declared
// and never sent, or an idle keep-alive connection, was held for as long as the client liked).
// Each route class gets the body deadline it needs, set once its headers are read; a request
// past it fails its body read and its connection is closed.
type Timeouts struct {
	// Header bounds reading a request's headers (ReadHeaderTimeout).
	Header time.Duration
	// Tiny bounds the body of the routes that take none: the GET tracking routes, ops, and any
	// route not found.
	Tiny time.Duration
	// Body bounds the body of a form conversion or a postback (at most 64 KiB).
	Body time.Duration
	// Admin bounds the body of an admin API call (at most 1 MiB).
	Admin time.Duration
	// Write bounds handling a request and writing its answer, from the end of its headers.
	Write time.Duration
	// Idle closes a keep-alive connection that sends no new request.
	Idle time.Duration
}

// DefaultTimeouts suit a public tracking endpoint: a pixel's request is headers only, a cart's
// postback a few hundred bytes, an admin body at most 1 MiB.
var DefaultTimeouts = Timeouts{Header: 5 * time.Second, Tiny: time.Second, Body: 5 * time.Second,
	Admin: 30 * time.Second, Write: 30 * time.Second, Idle: 60 * time.Second}

func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.Header, &d.Header}, {&t.Tiny, &d.Tiny}, {&t.Body, &d.Body}, {&t.Admin, &d.Admin},
		{&t.Write, &d.Write}, {&t.Idle, &d.Idle},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// NewHTTPServer is the server of h with t's connection timeouts. Its ReadTimeout is the longest
// body deadline (the admin API's): the router's bodyDeadline shortens it per route.
func NewHTTPServer(h http.Handler, t Timeouts) *http.Server {
	t = t.withDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: t.Header, ReadTimeout: t.Header + t.Admin,
		WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// bodyDeadline sets the deadline of the rest of the request's body read: d from now. Once the
// body has been read to its end the deadline is lifted: net/http then reads the connection in the
// background to notice a client that goes away, and a deadline passing there would cancel a
// request still being handled (WriteTimeout bounds that). A request without a body gets none.
func bodyDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body == nil || c.Request.Body == http.NoBody {
			return
		}
		rc := http.NewResponseController(c.Writer)
		// ErrNotSupported only under a test recorder, which has no connection to bound.
		if rc.SetReadDeadline(time.Now().Add(d)) != nil {
			return
		}
		if b, ok := c.Request.Body.(*deadlineBody); ok {
			b.rc = rc // a route widening the default: the same body, read once
			return
		}
		c.Request.Body = &deadlineBody{ReadCloser: c.Request.Body, rc: rc}
	}
}

// deadlineBody lifts the connection's read deadline when the body has been read to its end.
type deadlineBody struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
