// Command bench is `make bench`'s driver (deployments/local/bench.sh starts the servers):
//
//	bench baseline -addr HOST:PORT     serve the bare Gin baseline: one Set-Cookie and a 302
//	bench run [flags]                  measure everything against a running trackflow and print
//	                                   one Markdown table with both sides of every ratio
//	bench scale -db URL -millions N    store N million clicks through the batch writer and time
//	                                   reports, lookups and the writer at 1 M and N M (issue 11)
//
// Numbers on a shared 2-core machine are noisy: every ratio is taken between runs made here, in
// one go, interleaved where they compete for the same cores.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench baseline -addr HOST:PORT | bench run [flags] | bench scale [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	switch os.Args[1] {
	case "baseline":
		fs := flag.NewFlagSet("baseline", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:18090", "listen address")
		_ = fs.Parse(os.Args[2:])
		err = serveBaseline(ctx, *addr)
	case "run":
		var cfg runConfig
		fs := flag.NewFlagSet("run", flag.ExitOnError)
		cfg.flags(fs)
		_ = fs.Parse(os.Args[2:])
		err = run(ctx, cfg)
	case "scale":
		var cfg scaleConfig
		fs := flag.NewFlagSet("scale", flag.ExitOnError)
		cfg.flags(fs)
		_ = fs.Parse(os.Args[2:])
		err = scale(ctx, cfg)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
