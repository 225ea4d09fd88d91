//go:build tools

// Package tools pins the linters that `make test` runs (deployments/local/lint.sh builds them
// into .dev/bin): staticcheck and Temporal's workflowcheck. It is its own module so that their
// dependencies never reach the main module's go.mod.
package tools

import (
	_ "go.temporal.io/sdk/contrib/tools/workflowcheck"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
