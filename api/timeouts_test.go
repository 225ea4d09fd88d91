package api_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestHeldConnectionsAreClosed (issue 8, finding 1): with 300 ms timeouts, connections that
// declare a body and send 3 bytes of it (postback, form conversion, authenticated admin call),
// send half their headers, or sit idle after a request are all closed by the server, an admin call
// without a valid token is answered 401 before its body arrives, and a normal client is served
// throughout.
func TestHeldConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	short := 300 * time.Millisecond
	to := api.Timeouts{Header: short, Tiny: short, Body: short, Admin: short, Write: 10 * time.Second, Idle: short}
	srv := api.NewHTTPServer(api.New(api.Config{AdminToken: "adm", Timeouts: to}, st, nil), to)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := ln.Addr().String()

	const n = 10
	slowBody := func(method, path, auth string) string {
		h := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n", method, path)
		if auth != "" {
			h += "Authorization: Bearer " + auth + "\r\n"
		}
		return h + "\r\nabc"
	}
	held := map[string]string{
		"slow postback body":   slowBody("POST", "/postback", ""),
		"slow conversion body": slowBody("POST", "/conversion", ""),
		"slow admin body":      slowBody("POST", "/api/v1/affiliates", "adm"),
		"slow unknown route":   slowBody("POST", "/nowhere", ""),
		"half headers":         "GET /healthz HTTP/1.1\r\nHost: x\r\n",
		"idle keep-alive":      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	type result struct {
		what string
		err  error
	}
	done := make(chan result, n*len(held))
	for what, send := range held {
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, send); err != nil {
				t.Fatal(err)
			}
			go func() {
				// The guard only bounds a failing test: a closed connection ends the read at once.
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, err := io.Copy(io.Discard, c)
				done <- result{what, err}
			}()
		}
	}

	// An admin call without a valid token is answered before its body, and its connection closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, slowBody("POST", "/api/v1/affiliates", "wrong"))
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("unauthenticated admin call with a pending body: %v %+v", err, resp)
	}

	// A normal client is served while the held connections wait, and after.
	normal := &http.Client{Timeout: 10 * time.Second}
	check := func() {
		resp, err := normal.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("normal client: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	check()
	for i := 0; i < n*len(held); i++ {
		r := <-done
		var ne net.Error
		if errors.As(r.err, &ne) && ne.Timeout() || errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s: connection still open after 30 s", r.what)
		}
		if r.err != nil && !strings.Contains(r.err.Error(), "reset") {
			t.Errorf("%s: read ended with %v, want EOF or reset", r.what, r.err)
		}
	}
	check()
}
