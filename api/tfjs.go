package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// tfJS is GET /tf.js, the first-party tracking script (API.md): it keeps the landing URL's tfclid
// in a _tfclid cookie on the advertiser's own site, which browsers that block third-party cookies
// still send, and reports conversions to /pixel with it as click_id.
//
//go:embed tf.js
var tfJS []byte

// trackingScript handles GET /tf.js.
func trackingScript(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, "application/javascript; charset=utf-8", tfJS)
}
