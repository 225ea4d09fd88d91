package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/trackflow/trackflow/internal/testenv"
)

// TestMain fails the run when an exchange of any test broke api/openapi.yaml (that test also saw
// a 500 with testenv.ContractViolationHeader), or, when the whole suite ran, when a documented
// operation was never exercised.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	complete := flag.Lookup("test.run").Value.String() == "" && !testing.Short()
	if problems := testenv.ContractReport(complete); len(problems) > 0 {
		fmt.Fprintln(os.Stderr, "FAIL: the API and api/openapi.yaml disagree:")
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "  "+p)
		}
		code = 1
	}
	os.Exit(code)
}
