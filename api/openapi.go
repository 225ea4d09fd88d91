package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPI is api/openapi.yaml, the OpenAPI 3.1 description of every route of the router. The
// e2e harness validates every request and response against it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPI handles GET /openapi.yaml: the document, public like the tracking endpoints.
func openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", OpenAPI)
}
