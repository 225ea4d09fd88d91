package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestBackupClickLatestInWindow checks the backup lookup's answer: the latest click of the offer
// from the same IP and user agent since the window's start, and nothing for another IP, user
// agent or offer, or once the window has passed.
func TestBackupClickLatestInWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &store.Store{DB: testenv.NewDB(t)}
	now := time.Now().UTC().Truncate(time.Microsecond)
	ins := func(offerID int64, ip, ua string, at time.Time) string {
		c := store.Click{ClickID: domain.NewID(), OfferID: offerID, AffID: 1, IP: ip, UserAgent: ua, CreatedAt: at}
		if err := st.InsertClick(ctx, &c); err != nil {
			t.Fatal(err)
		}
		return c.ClickID
	}
	ins(1, "203.0.113.9", "UA", now.Add(-30*time.Hour)) // before the window
	earliest := ins(1, "203.0.113.9", "UA", now.Add(-3*time.Hour))
	latest := ins(1, "203.0.113.9", "UA", now.Add(-time.Hour))
	ins(1, "203.0.113.9", "UA2", now.Add(-time.Minute)) // another browser
	ins(1, "203.0.113.10", "UA", now.Add(-time.Minute)) // another IP
	ins(2, "203.0.113.9", "UA", now.Add(-time.Minute))  // another offer
	v6 := ins(1, "2001:db8::1", "UA", now.Add(-time.Minute))

	got, err := st.BackupClick(ctx, 1, "203.0.113.9", "UA", now.Add(-24*time.Hour), now, false)
	if err != nil || got.ClickID != latest || got.IP != "203.0.113.9" || got.UserAgent != "UA" {
		t.Fatalf("backup click = %+v, %v; want %s", got, err, latest)
	}
	// First-click offers: the earliest click inside the window.
	if got, err := st.BackupClick(ctx, 1, "203.0.113.9", "UA", now.Add(-24*time.Hour), now, true); err != nil || got.ClickID != earliest {
		t.Fatalf("first-click backup click = %+v, %v; want %s", got, err, earliest)
	}
	if got, err := st.BackupClick(ctx, 1, "2001:db8::1", "UA", now.Add(-24*time.Hour), now, false); err != nil || got.ClickID != v6 {
		t.Fatalf("IPv6 backup click = %+v, %v; want %s", got, err, v6)
	}
	for name, q := range map[string]struct {
		offer     int64
		ip, ua    string
		sinceBack time.Duration
	}{
		"window passed":     {1, "203.0.113.9", "UA", 30 * time.Minute},
		"unknown UA":        {1, "203.0.113.9", "other", 24 * time.Hour},
		"UA prefix":         {1, "203.0.113.9", "U", 24 * time.Hour},
		"unknown IP":        {1, "198.51.100.1", "UA", 24 * time.Hour},
		"unknown offer":     {3, "203.0.113.9", "UA", 24 * time.Hour},
		"empty UA no click": {1, "203.0.113.9", "", 24 * time.Hour},
	} {
		_, err := st.BackupClick(ctx, q.offer, q.ip, q.ua, now.Add(-q.sinceBack), now, false)
		if domain.ErrorKind(err) != domain.NotFound {
			t.Errorf("%s: err = %v, want domain.NotFound", name, err)
		}
	}
}

// TestBackupClickUsesIndex proves the backup lookup is an index scan on clicks_backup_idx: with
// enough clicks (many offers, IPs and user agents) and fresh statistics, the planner's own choice
// for the real query, with real parameter values, names that index and scans no table sequentially.
func TestBackupClickUsesIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.NewDB(t)
	const fill = `INSERT INTO clicks (click_id, offer_id, aff_id, ip, user_agent, created_at)
		SELECT md5(g::text)::uuid, g % 200 + 1, g % 50 + 1,
			('10.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256)::inet,
			'Mozilla/5.0 (test ' || g % 97 || ')', now() - (g % 5000) * interval '1 minute'
		FROM generate_series(1, 200000) AS g`
	if _, err := db.ExecContext(ctx, fill); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE clicks`); err != nil {
		t.Fatal(err)
	}
	// g = 12345: offer 146, IP 10.0.48.57, user agent "... 26)".
	var raw []byte
	err := db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+store.BackupClickQuery,
		146, "10.0.48.57", "Mozilla/5.0 (test 26)", time.Now().Add(-30*24*time.Hour), time.Now().Add(time.Hour)).Scan(&raw)
	if err != nil {
		t.Fatal(err)
	}
	var plan []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &plan); err != nil || len(plan) != 1 {
		t.Fatalf("explain: %v, %s", err, raw)
	}
	var usesIndex bool
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.NodeType == "Seq Scan" || n.NodeType == "Bitmap Heap Scan" {
			t.Errorf("plan has a %s on %s:\n%s", n.NodeType, n.RelationName, raw)
		}
		// A partition's copy of clicks_backup_idx, its condition covering the user agent's key
		// too, not only the offer and IP prefix.
		if n.NodeType == "Index Scan" && strings.Contains(n.IndexName, "user_agent_key") && strings.Contains(n.IndexCond, "md5(user_agent)") {
			usesIndex = true
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plan[0].Plan)
	if !usesIndex {
		t.Fatalf("the backup lookup is not an index scan on clicks_backup_idx with the user agent in its condition:\n%s", raw)
	}

	// The plan's answer is the right row.
	st := &store.Store{DB: db}
	got, err := st.BackupClick(ctx, 146, "10.0.48.57", "Mozilla/5.0 (test 26)", time.Now().Add(-30*24*time.Hour), time.Now(), false)
	if err != nil || got.OfferID != 146 || got.IP != "10.0.48.57" {
		t.Fatalf("backup click = %+v, %v", got, err)
	}
}

// planNode is the part of EXPLAIN (FORMAT JSON)'s plan tree the index test reads.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	IndexName    string     `json:"Index Name"`
	IndexCond    string     `json:"Index Cond"`
	RelationName string     `json:"Relation Name"`
	Plans        []planNode `json:"Plans"`
}
