package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/schema"
	"github.com/trackflow/trackflow/store"
)

// scaleConfig is `bench scale` (make bench-scale): the data-growth figures of issue 11.
type scaleConfig struct {
	DBURL      string
	Millions   int
	Offers     int
	Affiliates int
	Samples    int
}

func (c *scaleConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.DBURL, "db", "", "an empty trackflow database's URL (migrated here)")
	fs.IntVar(&c.Millions, "millions", 20, "clicks stored, in millions (figures at 1 M and at this; 0: only the rollup trigger's cost)")
	fs.IntVar(&c.Offers, "offers", 10, "offers the clicks are spread over")
	fs.IntVar(&c.Affiliates, "affiliates", 20, "affiliates the clicks are spread over")
	fs.IntVar(&c.Samples, "samples", 40, "timed runs of each query")
}

// scaleDays is the span the clicks are spread over; the reports' 30 days.
const scaleDays = 30

// userAgents are realistic user agents (their length drives the bytes per click).
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.39 Mobile Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

// scale stores Millions million clicks through the real batch writer, one million per sweep over
// the 30 days (each sweep in time order, as traffic arrives), plus 2% of them as conversions
// (RecordConversion, then a tenth reversed), and measures at 1 M and at the end.
func scale(ctx context.Context, cfg scaleConfig) error {
	log := func(format string, a ...any) { fmt.Fprintf(os.Stderr, "bench scale: "+format+"\n", a...) }
	db, err := store.Open(ctx, cfg.DBURL, 8)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := schema.Migrate(ctx, db); err != nil {
		return err
	}
	st := &store.Store{DB: db}
	end := time.Now().UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -scaleDays)
	if _, err := st.EnsurePartitions(ctx, start, end.AddDate(0, 0, 7)); err != nil {
		return err
	}
	var offers []int64
	if err := db.SelectContext(ctx, &offers, `WITH a AS (INSERT INTO advertisers (name, postback_token) VALUES ('scale', md5(random()::text)) RETURNING id)
		INSERT INTO offers (advertiser_id, name, landing_url, payout_type, payout_amount)
		SELECT a.id, 'scale ' || g, 'https://shop.example/', 'cpa', 2 FROM a, generate_series(1, $1) g RETURNING id`, cfg.Offers); err != nil {
		return fmt.Errorf("offers: %w", err)
	}
	rng := rand.New(rand.NewPCG(1, 11))
	var figures []scaleFigure
	type sample struct {
		id, ip, ua string
		offer      int64
	}
	var samples []sample // clicks to look up, by ID and by the backup key

	abWith, abWithout, err := rollupAB(ctx, st, offers, cfg.Affiliates, rng, log)
	if err != nil {
		return err
	}
	const n = 1_000_000
	var emptyRate, fullRate float64
	for m := 1; m <= cfg.Millions; m++ {
		w := store.NewClickWriter(db, store.BatchOptions{})
		step := time.Duration(int64(scaleDays*24*time.Hour) / n)
		t0 := time.Now()
		for i := range n {
			c := scaleClick(rng, start.Add(time.Duration(i)*step+time.Duration(rng.Int64N(int64(step)))), offers, cfg.Affiliates)
			if i%(n/200) == 0 {
				samples = append(samples, sample{c.ClickID, c.IP, c.UserAgent, c.OfferID})
			}
			if err := addClick(ctx, w, c); err != nil {
				return err
			}
		}
		if err := w.Close(ctx); err != nil {
			return err
		}
		rate := float64(n) / time.Since(t0).Seconds()
		log("million %d stored: %.0f clicks/s", m, rate)
		if m == 1 {
			emptyRate = rate
		}
		fullRate = rate
		if err := scaleConversions(ctx, st, offers, cfg.Affiliates, start, n/50, rng); err != nil {
			return err
		}
		if m == 1 || m == cfg.Millions {
			if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
				return err
			}
			f, err := measureScale(ctx, st, cfg, end, func(i int) (string, string, string, int64) {
				s := samples[i%len(samples)]
				return s.id, s.ip, s.ua, s.offer
			}, log)
			if err != nil {
				return err
			}
			f.clicksM = m
			figures = append(figures, f)
		}
	}
	if len(figures) == 0 { // -millions 0: the A/B alone
		fmt.Printf("Click writer with the rollup trigger ÷ without (3 interleaved rounds of 100,000 clicks each, mean): %.0f ÷ %.0f clicks/s = %.2f\n",
			abWith, abWithout, abWith/abWithout)
		return nil
	}
	a, b := figures[0], figures[len(figures)-1]
	fmt.Printf("`make bench-scale` (SCALE_MILLIONS=%d), %s — %d cores, %s, %d offers × %d affiliates, clicks over %d days + 2%% conversions\n\n",
		cfg.Millions, time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version(), cfg.Offers, cfg.Affiliates, scaleDays)
	fmt.Printf("| figure | at 1 M | at %d M | ratio |\n|---|---|---|---|\n", cfg.Millions)
	for i := range a.rows {
		fmt.Printf("| %s | %s | %s | %.2f |\n", a.rows[i].name, a.rows[i].text, b.rows[i].text, b.rows[i].value/a.rows[i].value)
	}
	fmt.Printf("| click writer, clicks/s (a million through the batch writer) | %.0f (empty) | %.0f (last million) | %.2f |\n",
		emptyRate, fullRate, fullRate/emptyRate)
	fmt.Printf("\nClick writer with the rollup trigger ÷ without (3 interleaved rounds of 100,000 clicks each, mean): %.0f ÷ %.0f clicks/s = %.2f\n",
		abWith, abWithout, abWith/abWithout)
	return nil
}

// scaleClick is one click at a time, with an ID in issue 8's shape (its time in bytes 0–3).
func scaleClick(rng *rand.Rand, at time.Time, offers []int64, affs int) store.Click {
	var b [16]byte
	binary.BigEndian.PutUint32(b[:4], uint32(at.Unix()))
	for j := 4; j < 16; j++ {
		b[j] = byte(rng.Uint32())
	}
	c := store.Click{ClickID: hex.EncodeToString(b[:]), OfferID: offers[rng.IntN(len(offers))], AffID: int64(1 + rng.IntN(affs)),
		IP: fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)), UserAgent: userAgents[rng.IntN(len(userAgents))],
		Referer: "https://publisher.example/article/" + fmt.Sprint(rng.IntN(100000)), CreatedAt: at}
	if rng.IntN(3) == 0 {
		sub := fmt.Sprintf("sub-%d", rng.IntN(1000))
		c.SubID = &sub
	}
	return c
}

// addClick hands a click to the writer, waiting for it to drain when its buffer is full.
func addClick(ctx context.Context, w *store.ClickWriter, c store.Click) error {
	for {
		err := w.Add(c)
		if err == nil || domain.ErrorKind(err) != domain.Unavailable {
			return err
		}
		if err := w.Sync(ctx); err != nil {
			return err
		}
	}
}

// rollupAB is the rollups' cost on the write path: the writer's clicks/s with the rollup trigger
// and without it, interleaved, into days 60–50 before the report window (dropped afterwards; the
// rollups of the runs with the trigger stay, outside every measured report).
func rollupAB(ctx context.Context, st *store.Store, offers []int64, affs int, rng *rand.Rand, log func(string, ...any)) (with, without float64, err error) {
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -60)
	if _, err := st.EnsurePartitions(ctx, day, day.AddDate(0, 0, 10)); err != nil {
		return 0, 0, err
	}
	defer func() {
		if _, err := st.DB.ExecContext(context.Background(), `ALTER TABLE clicks ENABLE TRIGGER clicks_rollup`); err != nil {
			log("re-enabling the rollup trigger: %v", err)
		}
	}()
	const rounds, n = 3, 100_000
	for r := range 2 * rounds {
		on := r%2 == 0
		if _, err := st.DB.ExecContext(ctx, map[bool]string{true: `ALTER TABLE clicks ENABLE TRIGGER clicks_rollup`,
			false: `ALTER TABLE clicks DISABLE TRIGGER clicks_rollup`}[on]); err != nil {
			return 0, 0, err
		}
		w := store.NewClickWriter(st.DB, store.BatchOptions{})
		t0 := time.Now()
		for i := range n {
			if err := addClick(ctx, w, scaleClick(rng, day.Add(time.Duration(r*n+i)*time.Second), offers, affs)); err != nil {
				return 0, 0, err
			}
		}
		if err := w.Close(ctx); err != nil {
			return 0, 0, err
		}
		rate := float64(n) / time.Since(t0).Seconds()
		log("rollup A/B round %d, trigger %v: %.0f clicks/s", r/2+1, on, rate)
		if on {
			with += rate / rounds
		} else {
			without += rate / rounds
		}
	}
	if _, err := st.DropPartitionsBefore(ctx, day.AddDate(0, 0, 11)); err != nil {
		return 0, 0, err
	}
	return with, without, nil
}

// scaleConversions records conversions at random times (a tenth of them reversed later), some
// duplicated, through the store as the worker does: the rollup triggers run as in production.
func scaleConversions(ctx context.Context, st *store.Store, offers []int64, affs int, start time.Time, n int, rng *rand.Rand) error {
	for i := range n {
		aff := int64(1 + rng.IntN(affs))
		inv := domain.NewID()
		c := domain.Conversion{ID: domain.NewID(), OfferID: offers[rng.IntN(len(offers))], AffID: &aff, InvoiceID: &inv,
			Amount: domain.Money(rng.IntN(20000)), Currency: "USD", Commission: 200, Status: domain.ConversionApproved,
			WorkflowID: "conversion/scale/" + inv}
		afid := domain.DecideInput{Now: time.Now(), Method: domain.MethodAFID, AffiliateActive: true,
			Payout: domain.Payout{Type: domain.PayoutCPA, Amount: 200}, Amount: c.Amount}
		if _, err := st.RecordConversion(ctx, c, afid, store.CapRules{}); err != nil {
			return err
		}
		at := start.Add(time.Duration(rng.Int64N(int64(scaleDays * 24 * time.Hour))))
		if _, err := st.DB.ExecContext(ctx, `UPDATE conversions SET created_at = $2 WHERE id = $1`, c.ID, at); err != nil {
			return err
		}
		if i%10 == 0 {
			if _, err := st.SetConversionStatus(ctx, c.ID, domain.ConversionApproved, domain.ConversionReversed, nil, nil); err != nil {
				return err
			}
		}
		if i%50 == 0 {
			if err := st.CountDuplicate(ctx, store.Duplicate{OfferID: c.OfferID, InvoiceID: inv, WorkflowID: "w", RequestID: domain.NewID()}); err != nil {
				return err
			}
		}
	}
	return nil
}

type scaleRow struct {
	name, text string
	value      float64
}

type scaleFigure struct {
	clicksM int
	rows    []scaleRow
}

// measureScale times the reports (p50/p95), the backup lookup and the click-by-ID lookup, and
// the bytes a click takes.
func measureScale(ctx context.Context, st *store.Store, cfg scaleConfig, end time.Time, sample func(int) (string, string, string, int64),
	log func(string, ...any)) (scaleFigure, error) {
	var f scaleFigure
	timed := func(name string, fn func(i int) error) error {
		var d []time.Duration
		for i := range cfg.Samples {
			t0 := time.Now()
			if err := fn(i); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			d = append(d, time.Since(t0))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		p50, p95 := d[len(d)/2], d[len(d)*95/100]
		f.rows = append(f.rows, scaleRow{name + " p50", ms(p50), float64(p50)}, scaleRow{name + " p95", ms(p95), float64(p95)})
		log("%s: p50 %s p95 %s", name, ms(p50), ms(p95))
		return nil
	}
	last := end.AddDate(0, 0, -1)
	first := end.AddDate(0, 0, -scaleDays)
	ny, _ := time.LoadLocation("America/New_York")
	for _, r := range []struct {
		name string
		rq   store.ReportQuery
	}{
		{"report, 30 days by day (UTC)", store.ReportQuery{Group: store.GroupDay, From: first, To: last}},
		{"report, 30 days by day (America/New_York)", store.ReportQuery{Group: store.GroupDay, From: first, To: last, Zone: ny}},
		{"report, 30 days by offer", store.ReportQuery{Group: store.GroupOffer, From: first, To: last}},
		{"report, 30 days by affiliate", store.ReportQuery{Group: store.GroupAffiliate, From: first, To: last}},
		{"report, 1 day by affiliate", store.ReportQuery{Group: store.GroupAffiliate, From: last, To: last}},
	} {
		if err := timed(r.name, func(int) error { _, err := st.Report(ctx, r.rq); return err }); err != nil {
			return f, err
		}
	}
	if err := timed("click by ID (`GET /clicks/:id`)", func(i int) error {
		id, _, _, _ := sample(i * 7)
		_, err := st.Click(ctx, id)
		return err
	}); err != nil {
		return f, err
	}
	if err := timed("backup lookup (IP + user agent, 30-day window)", func(i int) error {
		_, ip, ua, offer := sample(i*7 + 3)
		_, err := st.BackupClick(ctx, offer, ip, ua, end.AddDate(0, 0, -scaleDays), end, false)
		if domain.ErrorKind(err) == domain.NotFound {
			return errors.New("sampled click not found")
		}
		return err
	}); err != nil {
		return f, err
	}
	sizes, err := clickBytes(ctx, st.DB)
	if err != nil {
		return f, err
	}
	f.rows = append(f.rows, sizes...)
	return f, nil
}

// clickBytes is the clicks' size per stored click: heap (with TOAST), each index, and in all.
func clickBytes(ctx context.Context, db *sqlx.DB) ([]scaleRow, error) {
	var r struct {
		N      int64 `db:"n"`
		Heap   int64 `db:"heap"`
		ByID   int64 `db:"by_id"`
		Backup int64 `db:"backup"`
	}
	const q = `SELECT (SELECT count(*) FROM clicks) AS n,
		(SELECT sum(pg_table_size(c.oid)) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'clicks'::regclass) AS heap,
		(SELECT sum(pg_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = 'clicks_click_id_idx'::regclass) AS by_id,
		(SELECT sum(pg_relation_size(i.inhrelid)) FROM pg_inherits i WHERE i.inhparent = 'clicks_backup_idx'::regclass) AS backup`
	if err := db.GetContext(ctx, &r, q); err != nil {
		return nil, fmt.Errorf("sizes: %w", err)
	}
	per := func(name string, b int64) scaleRow {
		v := float64(b) / float64(r.N)
		return scaleRow{name, fmt.Sprintf("%.0f", v), v}
	}
	return []scaleRow{
		per("bytes per click: heap", r.Heap), per("bytes per click: click_id index", r.ByID),
		per("bytes per click: backup index", r.Backup), per("bytes per click, in all", r.Heap+r.ByID+r.Backup),
	}, nil
}
