package main

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// wrkResult is what one wrk run measured.
type wrkResult struct {
	RPS      float64
	P50, P99 time.Duration
	Requests int64
	Non3xx   int64 // responses other than 2xx/3xx (a refused click is a 503)
	Errors   int64 // socket errors of every kind
	Raw      string
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon      = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// runWrk runs wrk -t<threads> -c<conns> -d<d> --latency against url.
func runWrk(ctx context.Context, url string, threads, conns int, d time.Duration) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, "wrk", fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", conns),
		fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", url)
	out, err := cmd.CombinedOutput()
	r := wrkResult{Raw: string(out)}
	if err != nil {
		return r, fmt.Errorf("wrk %s: %w: %s", url, err, out)
	}
	m := wrkRPS.FindStringSubmatch(r.Raw)
	if m == nil {
		return r, fmt.Errorf("wrk %s: no Requests/sec in %q", url, out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range wrkLatency.FindAllStringSubmatch(r.Raw, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		lat := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.P50 = lat
		} else {
			r.P99 = lat
		}
	}
	if m := wrkRequests.FindStringSubmatch(r.Raw); m != nil {
		r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkNon.FindStringSubmatch(r.Raw); m != nil {
		r.Non3xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkSocket.FindStringSubmatch(r.Raw); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.Errors += n
		}
	}
	return r, nil
}

// summary is the mean of several runs' throughput and the worst of their latencies.
func summary(rs []wrkResult) wrkResult {
	var s wrkResult
	for _, r := range rs {
		s.RPS += r.RPS / float64(len(rs))
		s.P50 = max(s.P50, r.P50)
		s.P99 = max(s.P99, r.P99)
		s.Requests += r.Requests
		s.Non3xx += r.Non3xx
		s.Errors += r.Errors
	}
	return s
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) + " ms" }
