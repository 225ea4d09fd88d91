package schema_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/schema"
)

// TestMigrationConvertsPopulatedDatabase: a database populated under the migrations before 005 (clicks
// on many days, one decades old, impressions, conversions, duplicates) is converted by 005
// without losing a row, and its rollups count exactly what the raw rows say.
func TestMigrationConvertsPopulatedDatabase(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.NewEmptyDBURL(t)
	migrateBefore(t, db, "005")
	const populate = `
		INSERT INTO advertisers (name, postback_token) VALUES ('a', 't');
		INSERT INTO offers (advertiser_id, name, landing_url, payout_type) SELECT 1, 'o' || g, 'https://x.example/', 'cpa' FROM generate_series(1, 3) g;
		INSERT INTO clicks (click_id, offer_id, aff_id, ip, user_agent, created_at, converted_by)
			SELECT md5(g::text), g % 3 + 1, g % 4 + 1, '192.0.2.1', 'ua ' || g % 7, now() - g * interval '37 minutes',
				CASE WHEN g % 10 = 0 THEN 'conv' END
			FROM generate_series(1, 5000) g;
		INSERT INTO clicks (click_id, offer_id, aff_id, ip, created_at) VALUES (md5('old'), 1, 1, '192.0.2.1', '1990-01-05 12:00Z');
		INSERT INTO impressions (offer_id, aff_id, ip, created_at) SELECT g % 3 + 1, 1, '192.0.2.1', now() - g * interval '1 hour' FROM generate_series(1, 500) g;
		INSERT INTO conversions (id, offer_id, aff_id, invoice_id, amount, currency, commission, status, workflow_id, created_at)
			SELECT md5('c' || g), g % 3 + 1, CASE WHEN g % 5 > 0 THEN g % 4 + 1 END, 'INV' || g, g, 'USD', 2,
				(ARRAY['approved', 'pending', 'rejected', 'reversed'])[g % 4 + 1], 'w', now() - g * interval '3 hours'
			FROM generate_series(1, 400) g;
		INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id, created_at)
			SELECT g % 3 + 1, CASE WHEN g % 2 = 0 THEN 9 END, 'INV' || g, 'w', now() - g * interval '5 hours' FROM generate_series(1, 100) g;`
	if _, err := db.ExecContext(ctx, populate); err != nil {
		t.Fatal(err)
	}
	// What the old report query counted, by offer and affiliate, over all time.
	const raw = `SELECT offer_id, aff_id, sum(cl) cl, sum(im) im, sum(cv) cv, sum(du) du, sum(rev) rev FROM (
			SELECT offer_id, aff_id, 1 cl, 0 im, 0 cv, 0 du, 0 rev FROM clicks
			UNION ALL SELECT offer_id, aff_id, 0, 1, 0, 0, 0 FROM impressions
			UNION ALL SELECT offer_id, COALESCE(aff_id, 0), 0, 0, 1, 0, amount FROM conversions WHERE status = 'approved'
			UNION ALL SELECT d.offer_id, COALESCE(d.aff_id, c.aff_id, 0), 0, 0, 0, 1, 0 FROM conversion_duplicates d
				LEFT JOIN conversions c ON c.offer_id = d.offer_id AND c.invoice_id = d.invoice_id) x
		GROUP BY 1, 2 ORDER BY 1, 2`
	type counts struct {
		Offer int64  `db:"offer_id"`
		Aff   int64  `db:"aff_id"`
		Cl    int64  `db:"cl"`
		Im    int64  `db:"im"`
		Cv    int64  `db:"cv"`
		Du    int64  `db:"du"`
		Rev   string `db:"rev"`
	}
	var before []counts
	if err := db.SelectContext(ctx, &before, raw); err != nil {
		t.Fatal(err)
	}
	var clicksBefore []string
	if err := db.SelectContext(ctx, &clicksBefore, `SELECT click_id || offer_id || aff_id || created_at || COALESCE(converted_by, '') FROM clicks ORDER BY 1`); err != nil {
		t.Fatal(err)
	}

	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}

	var clicksAfter []string
	if err := db.SelectContext(ctx, &clicksAfter, `SELECT translate(click_id::text, '-', '') || offer_id || aff_id || created_at || COALESCE(converted_by, '')
		FROM clicks ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	if len(clicksAfter) != len(clicksBefore) {
		t.Fatalf("%d clicks after the migration, %d before", len(clicksAfter), len(clicksBefore))
	}
	for i := range clicksBefore {
		if clicksBefore[i] != clicksAfter[i] {
			t.Fatalf("click %d changed: %q, was %q", i, clicksAfter[i], clicksBefore[i])
		}
	}
	var parts, inDefault int
	if err := db.GetContext(ctx, &parts, `SELECT count(*) FROM pg_inherits WHERE inhparent = 'clicks'::regclass`); err != nil || parts < 100 {
		t.Fatalf("%d click partitions, want one per day of clicks: %v", parts, err)
	}
	if err := db.GetContext(ctx, &inDefault, `SELECT count(*) FROM clicks_default`); err != nil || inDefault != 1 {
		t.Fatalf("%d clicks in the default partition, want the one from 1990: %v", inDefault, err)
	}
	var after []counts
	const rolled = `SELECT offer_id, aff_id, sum(clicks) cl, sum(impressions) im, sum(conversions) cv, sum(duplicates) du,
			sum(revenue) rev FROM report_rollups WHERE offer_id >= 0 AND aff_id >= 0 GROUP BY 1, 2 ORDER BY 1, 2`
	if err := db.SelectContext(ctx, &after, rolled); err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || len(before) < 10 {
		t.Fatalf("rollups %+v\nraw     %+v", after, before)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Errorf("rollup %+v, raw %+v", after[i], before[i])
		}
	}
	checkRollupLevels(t, db)
}

// checkRollupLevels fails t unless the summing levels of report_rollups (-1: every offer, every
// affiliate) agree with its (offer, affiliate) rows.
func checkRollupLevels(t *testing.T, db *sqlx.DB) {
	t.Helper()
	var wrong int
	const levels = `SELECT count(*) FROM (
			SELECT bucket, CASE WHEN grouping(offer_id) = 1 THEN -1 ELSE offer_id END o,
				CASE WHEN grouping(aff_id) = 1 THEN -1 ELSE aff_id END a, sum(clicks) cl, sum(conversions) cv, sum(duplicates) du
			FROM report_rollups WHERE offer_id >= 0 AND aff_id >= 0
			GROUP BY GROUPING SETS ((bucket, offer_id), (bucket, aff_id), (bucket))) s
		FULL JOIN (SELECT * FROM report_rollups WHERE offer_id = -1 OR aff_id = -1) r
			ON r.bucket = s.bucket AND r.offer_id = s.o AND r.aff_id = s.a
		WHERE (s.cl, s.cv, s.du) IS DISTINCT FROM (r.clicks, r.conversions, r.duplicates)`
	if err := db.Get(&wrong, levels); err != nil || wrong != 0 {
		t.Errorf("%d summing rollup rows disagree with the (offer, affiliate) rows: %v", wrong, err)
	}
}

// migrateBefore applies to an empty database the migrations whose names sort before name.
func migrateBefore(t *testing.T, db *sqlx.DB, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for _, m := range schema.NamesBefore(name) {
		if err := schema.Apply(ctx, conn, m); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrationAttributesDuplicatesPerEvent: under 005's duplicate rollup, a lead and a plain
// conversion sharing an invoice id (issue 12: invoices are unique per event) mixed up the
// affiliates of their duplicates. 009 gives the stored duplicates their event, from their workflow
// IDs, and recounts them: the rollups by affiliate equal the raw rows again.
func TestMigrationAttributesDuplicatesPerEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := testenv.NewEmptyDBURL(t)
	migrateBefore(t, db, "009")
	// Offer 1: INV1's lead from affiliate 1 with a duplicate, then its plain conversion from
	// affiliate 2 with two; INV2's lead duplicate before its lead (affiliate 3), a plain one of
	// affiliate 2, and a duplicate that names its affiliate (9).
	const populate = `
		INSERT INTO advertisers (name, postback_token) VALUES ('a', 't');
		INSERT INTO offers (advertiser_id, name, landing_url, payout_type) VALUES (1, 'o', 'https://x.example/', 'cpa');
		INSERT INTO conversions (id, offer_id, aff_id, event, invoice_id, amount, currency, commission, status, workflow_id)
			VALUES ('c1', 1, 1, 'lead', 'INV1', 1, 'USD', 1, 'approved', 'conversion/1:lead/INV1');
		INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id) VALUES (1, NULL, 'INV1', 'conversion/1:lead/INV1');
		INSERT INTO conversions (id, offer_id, aff_id, invoice_id, amount, currency, commission, status, workflow_id)
			VALUES ('c2', 1, 2, 'INV1', 1, 'USD', 1, 'approved', 'conversion/1/INV1');
		INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id)
			VALUES (1, NULL, 'INV1', 'conversion/1/INV1'), (1, NULL, 'INV1', 'conversion/1/INV1');
		INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id) VALUES (1, NULL, 'INV2', 'conversion/1:lead/INV2');
		INSERT INTO conversions (id, offer_id, aff_id, invoice_id, amount, currency, commission, status, workflow_id)
			VALUES ('c3', 1, 2, 'INV2', 1, 'USD', 1, 'approved', 'conversion/1/INV2');
		INSERT INTO conversions (id, offer_id, aff_id, event, invoice_id, amount, currency, commission, status, workflow_id)
			VALUES ('c4', 1, 3, 'lead', 'INV2', 1, 'USD', 1, 'approved', 'conversion/1:lead/INV2');
		INSERT INTO conversion_duplicates (offer_id, aff_id, invoice_id, workflow_id) VALUES (1, 9, 'INV2', 'conversion/1/INV2');`
	if _, err := db.ExecContext(ctx, populate); err != nil {
		t.Fatal(err)
	}
	// Duplicates by affiliate: what the rollups say, and the raw rows with the events of the
	// workflow IDs (a duplicate without an affiliate counts for its event's original).
	const rolled = `SELECT string_agg(aff_id || ':' || du, ' ' ORDER BY aff_id) FROM (
			SELECT aff_id, sum(duplicates) du FROM report_rollups WHERE offer_id = 1 AND aff_id >= 0
			GROUP BY 1 HAVING sum(duplicates) <> 0) x`
	const want = "1:1 2:2 3:1 9:1"
	var before, after, events string
	if err := db.GetContext(ctx, &before, rolled); err != nil || before == want {
		t.Fatalf("before 009 the rollups say %q (%v): the case does not show 005's mistake", before, err)
	}

	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &events, `SELECT string_agg(event, ',' ORDER BY id) FROM conversion_duplicates`); err != nil || events != "lead,,,lead," {
		t.Errorf("the duplicates' events: %q (%v), want lead,,,lead,", events, err)
	}
	if err := db.GetContext(ctx, &after, rolled); err != nil || after != want {
		t.Errorf("after 009 the rollups say %q (%v), want %s (before: %s)", after, err, want, before)
	}
	checkRollupLevels(t, db)
}
