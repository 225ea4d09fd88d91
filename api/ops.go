package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
)

// healthz handles GET /healthz: the process is alive.
func (s *server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
	return nil
}

// readyz handles GET /readyz: PostgreSQL and Temporal are reachable, else 503.
func (s *server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := gin.H{"postgres": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.DB.PingContext(ctx); err != nil {
		checks["postgres"], ready = "unreachable", false
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = "unreachable", false
	}
	code := http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
		checks["status"] = "unavailable"
	} else {
		checks["status"] = "ok"
	}
	c.JSON(code, checks)
	return nil
}
