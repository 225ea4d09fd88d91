//go:build tools

// Package temporal pins the Temporal CLI (and so the dev server and Web UI) that `make run`,
// `make test` and `make bench` build. It is its own module because the CLI's server needs an
// older go.temporal.io/api than the SDK in the main module.
package temporal

import _ "github.com/temporalio/cli/cmd/temporal"
