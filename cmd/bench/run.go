package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/trackflow/trackflow/worker"
)

type runConfig struct {
	API, Baseline, AdminToken  string
	Temporal, Namespace, DBURL string
	APIPid                     int
	APIBin, Pprof, OutDir      string
	TemporalConfig             string
	ClickRound, ConvRound      time.Duration
	ClickRounds, ConvRounds    int
	Sequential                 int
	Concurrency                int
	Clicks                     int
	Eager                      bool
	Phases                     string
}

func (c *runConfig) phase(name string) bool { return strings.Contains(","+c.Phases+",", ","+name+",") }

func (c *runConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.API, "api", "http://127.0.0.1:18080", "trackflow's base URL")
	fs.StringVar(&c.Baseline, "baseline", "http://127.0.0.1:18090", "the bare Gin baseline's base URL")
	fs.StringVar(&c.AdminToken, "admin-token", "bench-admin-token", "trackflow's ADMIN_TOKEN")
	fs.StringVar(&c.Temporal, "temporal", "127.0.0.1:7260", "the Temporal server trackflow uses")
	fs.StringVar(&c.Namespace, "namespace", "default", "its namespace")
	fs.StringVar(&c.DBURL, "db", "", "trackflow's DATABASE_URL (to count stored clicks)")
	fs.IntVar(&c.APIPid, "api-pid", 0, "trackflow's process id (memory, and SIGTERM at the end)")
	fs.StringVar(&c.APIBin, "api-bin", "", "trackflow's binary (to read its profile)")
	fs.StringVar(&c.Pprof, "pprof", "http://127.0.0.1:16060", "trackflow's PPROF_ADDR as a URL")
	fs.StringVar(&c.OutDir, "out", ".dev/bench", "where raw outputs and the profile go")
	fs.StringVar(&c.TemporalConfig, "temporal-config", "", "how the Temporal server was started (printed)")
	fs.DurationVar(&c.ClickRound, "click-round", 10*time.Second, "one wrk run")
	fs.DurationVar(&c.ConvRound, "conv-round", 8*time.Second, "one closed-loop conversion run")
	fs.IntVar(&c.ClickRounds, "click-rounds", 3, "interleaved wrk rounds of /click and the baseline")
	fs.IntVar(&c.ConvRounds, "conv-rounds", 4, "interleaved closed-loop rounds of conversions and the minimal workflow")
	fs.IntVar(&c.Sequential, "sequential", 60, "one-at-a-time samples of each")
	fs.IntVar(&c.Concurrency, "concurrency", 20, "concurrent conversion senders")
	fs.IntVar(&c.Clicks, "clicks", 1_000_000, "clicks stored before the last memory sample")
	fs.BoolVar(&c.Eager, "eager-start", true, "start minimal workflows with EnableEagerStart, as the API starts conversions")
	fs.StringVar(&c.Phases, "phases", "clicks,conversions,memory,shutdown", "what to measure")
}

// row is one line of the table.
type row struct{ figure, ours, base, ratio, target, met string }

func run(ctx context.Context, cfg runConfig) error {
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	db, err := sqlx.Open("postgres", cfg.DBURL)
	if err != nil {
		return err
	}
	defer db.Close()
	aff, err := newAffiliateServer()
	if err != nil {
		return err
	}
	defer aff.Close()
	f, err := newFixture(ctx, cfg.API, cfg.AdminToken, aff.URL+"/pb?inv={invoice_id}&tx={transaction_id}&payout={payout}")
	if err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...) }
	var rows []row

	// --- clicks: wrk against the bare baseline and /click, interleaved -------------------------
	clickURL := fmt.Sprintf("%s/click?offer_id=%d&aff_id=%d&sub_id=bench", cfg.API, f.OfferID, f.AffID)
	if cfg.phase("clicks") {
		r, err := clickFigures(ctx, cfg, clickURL, db, log)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if cfg.phase("conversions") {
		r, err := conversionFigures(ctx, cfg, f, aff, log)
		if err != nil {
			return err
		}
		rows = append(rows, r...)
	}
	if cfg.phase("eager-ab") {
		if err := eagerAB(ctx, cfg, log); err != nil {
			return err
		}
	}
	if cfg.phase("memory") && cfg.APIPid > 0 {
		r, err := memorySeries(ctx, cfg, clickURL, db, log)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if cfg.phase("shutdown") && cfg.APIPid > 0 {
		r, err := shutdownUnderLoad(ctx, cfg, clickURL, db, log)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}

	printTable(os.Stdout, cfg, rows)
	if cfg.APIBin != "" && cfg.phase("clicks") {
		if top, err := profileTop(cfg.APIBin, filepath.Join(cfg.OutDir, "click.pprof")); err == nil {
			fmt.Printf("\nCPU profile of trackflow during the first `/click` round (go tool pprof -top):\n\n```\n%s```\n", top)
		}
	}
	return nil
}

// clickFigures runs wrk against the bare baseline and /click, interleaved, profiling the API
// during the first /click round, then checks that every answered click was stored.
func clickFigures(ctx context.Context, cfg runConfig, clickURL string, db *sqlx.DB, log func(string, ...any)) ([]row, error) {
	var rows []row
	baseURL := cfg.Baseline + "/click?offer_id=1&aff_id=1&sub_id=bench"
	log("warming up /click and the baseline")
	if _, err := runWrk(ctx, baseURL, 2, 64, 2*time.Second); err != nil {
		return nil, err
	}
	if _, err := runWrk(ctx, clickURL, 2, 64, 2*time.Second); err != nil {
		return nil, err
	}
	before, err := countClicks(ctx, db)
	if err != nil {
		return nil, err
	}
	var ours, base []wrkResult
	for i := 0; i < cfg.ClickRounds; i++ {
		b, err := runWrk(ctx, baseURL, 2, 64, cfg.ClickRound)
		if err != nil {
			return nil, err
		}
		log("baseline round %d: %.0f req/s, p99 %s", i+1, b.RPS, ms(b.P99))
		var profErr error
		var wg sync.WaitGroup
		if i == 0 && cfg.Pprof != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				profErr = fetchProfile(ctx, cfg.Pprof, cfg.ClickRound-2*time.Second, filepath.Join(cfg.OutDir, "click.pprof"))
			}()
		}
		o, err := runWrk(ctx, clickURL, 2, 64, cfg.ClickRound)
		wg.Wait()
		if err != nil {
			return nil, err
		}
		if profErr != nil {
			log("profile: %v", profErr)
		}
		log("/click round %d: %.0f req/s, p99 %s, non-3xx %d", i+1, o.RPS, ms(o.P99), o.Non3xx)
		_ = os.WriteFile(filepath.Join(cfg.OutDir, fmt.Sprintf("wrk-click-%d.txt", i+1)), []byte(o.Raw), 0o644)
		_ = os.WriteFile(filepath.Join(cfg.OutDir, fmt.Sprintf("wrk-baseline-%d.txt", i+1)), []byte(b.Raw), 0o644)
		ours, base = append(ours, o), append(base, b)
	}
	o, b := summary(ours), summary(base)
	ratio := o.RPS / b.RPS
	rows = append(rows,
		row{"`/click` req/s, every click stored (wrk -t2 -c64, mean of rounds)", fmt.Sprintf("%.0f", o.RPS),
			fmt.Sprintf("%.0f (bare Gin)", b.RPS), fmt.Sprintf("%.2f", ratio), "≥ 0.50", yes(ratio >= 0.5)},
		row{"`/click` p99 latency at that load (worst round)", ms(o.P99), ms(b.P99) + " (bare Gin)", "", "< 10 ms",
			yes(o.P99 < 10*time.Millisecond)})
	// Every answered click must be in Postgres within a second of its redirect.
	time.Sleep(1500 * time.Millisecond)
	after, err := countClicks(ctx, db)
	if err != nil {
		return nil, err
	}
	answered := o.Requests - o.Non3xx
	rows = append(rows, row{"clicks stored ÷ clicks answered by the measured rounds (1.5 s after)",
		fmt.Sprint(after - before), fmt.Sprint(answered), fmt.Sprintf("%.3f", float64(after-before)/float64(answered)),
		"≥ 1 (wrk does not count the answers it cut off)", yes(after-before >= answered)})

	return rows, nil
}

// conversionFigures compares conversions, postback in to affiliate pixel received, with the
// minimal workflow on the same Temporal server and worker settings: 20 at once, and one at a time.
func conversionFigures(ctx context.Context, cfg runConfig, f fixture, aff *affiliateServer, log func(string, ...any)) ([]row, error) {
	var rows []row
	// --- conversions: trackflow vs the minimal workflow on the same Temporal server --------------
	tc, err := client.Dial(client.Options{HostPort: cfg.Temporal, Namespace: cfg.Namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		return nil, err
	}
	defer tc.Close()
	w := sdkworker.New(tc, minimalTaskQueue, worker.SDKOptions(worker.Options{}))
	w.RegisterWorkflow(MinimalWorkflow)
	w.RegisterActivity(MinimalStep)
	if err := w.Start(); err != nil {
		return nil, err
	}
	defer w.Stop()
	conv := func(ctx context.Context) (time.Duration, error) { return conversion(ctx, cfg.API, f, aff) }
	mini := func(ctx context.Context) (time.Duration, error) { return minimal(ctx, tc, cfg.Eager) }
	log("warming up conversions and the minimal workflow")
	for _, one := range []func(context.Context) (time.Duration, error){conv, mini} {
		if r := closedLoop(ctx, cfg.Concurrency, 3*time.Second, one); r.Errors > 0 {
			return nil, fmt.Errorf("warm-up: %d errors, first: %w", r.Errors, r.First)
		}
	}
	var convRuns, miniRuns []loadResult
	for i := 0; i < cfg.ConvRounds; i++ {
		m := closedLoop(ctx, cfg.Concurrency, cfg.ConvRound, mini)
		c := closedLoop(ctx, cfg.Concurrency, cfg.ConvRound, conv)
		log("concurrent round %d: conversions %.1f/s (p50 %s, max %s, %d errors), minimal %.1f/s (p50 %s, max %s, %d errors)",
			i+1, c.PerSec, ms(percentile(c.Lat, .5)), ms(percentile(c.Lat, 1)), c.Errors,
			m.PerSec, ms(percentile(m.Lat, .5)), ms(percentile(m.Lat, 1)), m.Errors)
		if c.First != nil || m.First != nil {
			log("first errors: %v / %v", c.First, m.First)
		}
		convRuns, miniRuns = append(convRuns, c), append(miniRuns, m)
	}
	cRate, mRate := meanRate(convRuns), meanRate(miniRuns)
	rows = append(rows, row{fmt.Sprintf("conversions/s, %d concurrent senders, postback in → affiliate pixel received", cfg.Concurrency),
		fmt.Sprintf("%.1f", cRate), fmt.Sprintf("%.1f (minimal workflow)", mRate), fmt.Sprintf("%.2f", cRate/mRate),
		"≥ 0.75", yes(cRate/mRate >= 0.75)})

	var cLat, cDone, mLat []time.Duration
	for i := 0; i < cfg.Sequential; i++ { // alternate, so both see the same noise
		start := time.Now()
		d, wfID, err := postbackToPixel(ctx, cfg.API, f, aff)
		if err != nil {
			return nil, err
		}
		cLat = append(cLat, d)
		// For comparison with the minimal workflow's start → result: the conversion's too.
		if err := tc.GetWorkflow(ctx, wfID, "").Get(ctx, nil); err != nil {
			return nil, fmt.Errorf("conversion workflow %s: %w", wfID, err)
		}
		cDone = append(cDone, time.Since(start))
		if d, err = mini(ctx); err != nil {
			return nil, err
		}
		mLat = append(mLat, d)
	}
	c50, m50 := percentile(cLat, .5), percentile(mLat, .5)
	rows = append(rows, row{fmt.Sprintf("one at a time, p50 of %d: request → pixel received", cfg.Sequential),
		ms(c50), ms(m50) + " (minimal, start → result)", fmt.Sprintf("%.2f", float64(c50)/float64(m50)), "≤ 1.25",
		yes(float64(c50)/float64(m50) <= 1.25)})
	d50 := percentile(cDone, .5)
	rows = append(rows, row{"(for reference) one at a time, p50: postback → conversion workflow completed",
		ms(d50), ms(m50) + " (minimal, start → result)", fmt.Sprintf("%.2f", float64(d50)/float64(m50)), "", ""})
	log("one at a time: conversion p50 %s p90 %s (workflow completed p50 %s); minimal p50 %s p90 %s",
		ms(c50), ms(percentile(cLat, .9)), ms(d50), ms(m50), ms(percentile(mLat, .9)))

	return rows, nil
}

func meanRate(rs []loadResult) float64 {
	var s float64
	for _, r := range rs {
		s += r.PerSec / float64(len(rs))
	}
	return s
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func countClicks(ctx context.Context, db *sqlx.DB) (int64, error) {
	var n int64
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM clicks`)
	return n, err
}

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// memorySeries drives /click in wrk runs of 5 s until cfg.Clicks are stored, sampling the API's
// RSS after each; flat means the last sample is within 10% of the first one past 200,000 clicks
// (by then the pools, buffers and caches have reached their size).
func memorySeries(ctx context.Context, cfg runConfig, clickURL string, db *sqlx.DB, log func(string, ...any)) (row, error) {
	var ref, last int64
	var refClicks, lastClicks int64
	var series []string
	for {
		n, err := countClicks(ctx, db)
		if err != nil {
			return row{}, err
		}
		r, err := rss(cfg.APIPid)
		if err != nil {
			return row{}, err
		}
		series = append(series, fmt.Sprintf("%dk:%dMiB", n/1000, r>>20))
		if ref == 0 && n >= 200_000 {
			ref, refClicks = r, n
		}
		last, lastClicks = r, n
		if n >= int64(cfg.Clicks) {
			break
		}
		if _, err := runWrk(ctx, clickURL, 2, 64, 5*time.Second); err != nil {
			return row{}, err
		}
	}
	log("RSS by clicks stored: %s", strings.Join(series, " "))
	_ = os.WriteFile(filepath.Join(cfg.OutDir, "rss.txt"), []byte(strings.Join(series, "\n")+"\n"), 0o644)
	growth := float64(last) / float64(ref)
	return row{"API resident memory (RSS) after clicks stored",
		fmt.Sprintf("%d MiB at %dk clicks", last>>20, lastClicks/1000), fmt.Sprintf("%d MiB at %dk clicks", ref>>20, refClicks/1000),
		fmt.Sprintf("%.2f", growth), "flat (≤ 1.10)", yes(growth <= 1.10)}, nil
}

// shutdownUnderLoad sends SIGTERM to the API while 32 clients click, then checks that every
// click answered 302 (its X-Click-Id) is in Postgres.
func shutdownUnderLoad(ctx context.Context, cfg runConfig, clickURL string, db *sqlx.DB, log func(string, ...any)) (row, error) {
	var mu sync.Mutex
	var acked []string
	refused := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := httpClient.Get(clickURL)
				if err != nil {
					select {
					case <-stop:
						return
					default:
						time.Sleep(time.Millisecond) // the listener is closing: try until stopped
						continue
					}
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case http.StatusFound:
					acked = append(acked, resp.Header.Get("X-Click-Id"))
				default:
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	for { // SIGTERM once the load runs
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 5000 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sent := time.Now()
	if err := syscall.Kill(cfg.APIPid, syscall.SIGTERM); err != nil {
		close(stop)
		wg.Wait()
		return row{}, err
	}
	for processAlive(cfg.APIPid) && time.Since(sent) < time.Minute {
		time.Sleep(10 * time.Millisecond)
	}
	exited := time.Since(sent)
	close(stop)
	wg.Wait()
	missing, err := missingClicks(ctx, db, acked)
	if err != nil {
		return row{}, err
	}
	log("shutdown: %d clicks answered 302, %d refused, exited %s after SIGTERM, %d missing", len(acked), refused, exited.Round(time.Millisecond), missing)
	return row{"clicks answered 302 but missing from Postgres after SIGTERM under load (32 clients)",
		fmt.Sprint(missing), fmt.Sprintf("of %d answered 302 (%d refused 503)", len(acked), refused), "", "0", yes(missing == 0)}, nil
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func missingClicks(ctx context.Context, db *sqlx.DB, ids []string) (int, error) {
	missing := 0
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 10_000)]
		ids = ids[len(chunk):]
		var found int
		if err := db.GetContext(ctx, &found, `SELECT count(*) FROM clicks WHERE click_id = ANY($1)`, pq.Array(chunk)); err != nil {
			return 0, err
		}
		missing += len(chunk) - found
	}
	return missing, nil
}

func fetchProfile(ctx context.Context, base string, d time.Duration, path string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds())), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func profileTop(bin, path string) (string, error) {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", bin, path).Output()
	if err != nil {
		return "", err
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines { // drop the File/Build ID header
		if strings.HasPrefix(l, "Showing nodes") {
			lines = lines[i:]
			break
		}
	}
	return strings.Join(lines, "\n"), nil
}

func printTable(w io.Writer, cfg runConfig, rows []row) {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Fprintf(w, "`make bench`, %s — %d cores (%s), %s, %s/%s\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"),
		runtime.NumCPU(), cpu, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if cfg.TemporalConfig != "" {
		fmt.Fprintf(w, "Temporal: %s\n\n", cfg.TemporalConfig)
	}
	fmt.Fprintln(w, "| figure | trackflow | baseline | ratio | target | met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.figure, r.ours, r.base, r.ratio, r.target, r.met)
	}
}

// eagerAB (phase eager-ab, not in the default set) compares the minimal workflow started with
// and without EnableEagerStart, alternating rounds: the evidence for the API's choice.
func eagerAB(ctx context.Context, cfg runConfig, log func(string, ...any)) error {
	tc, err := client.Dial(client.Options{HostPort: cfg.Temporal, Namespace: cfg.Namespace,
		Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err != nil {
		return err
	}
	defer tc.Close()
	w := sdkworker.New(tc, minimalTaskQueue, worker.SDKOptions(worker.Options{}))
	w.RegisterWorkflow(MinimalWorkflow)
	w.RegisterActivity(MinimalStep)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	var rates [2][]loadResult
	var lats [2][]time.Duration
	for i := 0; i < cfg.ConvRounds; i++ {
		for j, eager := range []bool{false, true} {
			one := func(ctx context.Context) (time.Duration, error) { return minimal(ctx, tc, eager) }
			rates[j] = append(rates[j], closedLoop(ctx, cfg.Concurrency, cfg.ConvRound, one))
			for k := 0; k < cfg.Sequential/cfg.ConvRounds; k++ {
				d, err := one(ctx)
				if err != nil {
					return err
				}
				lats[j] = append(lats[j], d)
			}
		}
	}
	for j, name := range []string{"plain start", "eager start"} {
		log("minimal workflow, %s: %.1f/s at %d concurrent, p50 one at a time %s", name, meanRate(rates[j]),
			cfg.Concurrency, ms(percentile(lats[j], .5)))
	}
	return nil
}
