package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// serveBaseline serves the bare Gin baseline of the click figure: a handler that sets the same
// headers as /click (cookie, X-Click-Id, Cache-Control, Location) and answers 302, doing nothing
// else, in its own process like the API.
func serveBaseline(ctx context.Context, addr string) error {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	const clickID = "0123456789abcdef0123456789abcdef"
	r.GET("/click", func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Set-Cookie", "tf_1="+clickID+"; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=None")
		h.Set("X-Click-Id", clickID)
		h.Set("Cache-Control", "no-store")
		h.Set("Location", "http://127.0.0.1/landing?click_id="+clickID+"&aff_id=1&sub_id=bench")
		c.Status(http.StatusFound)
	})
	srv := &http.Server{Addr: addr, Handler: r, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
