package store_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// timedID is a click ID in issue 8's shape: its first 4 bytes are its creation time.
func timedID(t time.Time) string {
	b, _ := hex.DecodeString(domain.NewID())
	binary.BigEndian.PutUint32(b[:4], uint32(t.Unix()))
	return hex.EncodeToString(b)
}

// TestClickByIDNamesItsPartition: a click ID carrying its time is looked up in at most two
// partitions (EXPLAIN, with 15 days of partitions present); an older random ID is found across
// all of them; claims find both.
func TestClickByIDNamesItsPartition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testenv.NewDB(t)
	st := &store.Store{DB: db}
	offer := testenv.Seed(t, st, nil).Offer.ID
	now := time.Now().UTC()
	if _, err := st.EnsurePartitions(ctx, now.AddDate(0, 0, -30), now.AddDate(0, 0, 7)); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{now, now.Truncate(24 * time.Hour), now.Truncate(24 * time.Hour).Add(-time.Second), now.AddDate(0, 0, -20)} {
		id := timedID(at)
		from, to, narrowed := store.ClickTimeRange(id, now)
		if !narrowed {
			t.Fatalf("%s: time not recognised", at)
		}
		var raw []byte
		if err := db.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+store.ClickByIDQuery, id, from, to).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var plan []struct{ Plan planNode }
		if err := json.Unmarshal(raw, &plan); err != nil {
			t.Fatal(err)
		}
		rels := map[string]bool{}
		var walk func(n planNode)
		walk = func(n planNode) {
			if n.RelationName != "" {
				rels[n.RelationName] = true
			}
			if n.NodeType == "Seq Scan" {
				t.Errorf("%s: sequential scan of %s", at, n.RelationName)
			}
			for _, c := range n.Plans {
				walk(c)
			}
		}
		walk(plan[0].Plan)
		if len(rels) == 0 || len(rels) > 2 {
			t.Errorf("click at %s: the lookup reads %d partitions %v, want 1 or 2:\n%s", at, len(rels), rels, raw)
		}

		c := store.Click{ClickID: id, OfferID: 1, AffID: 1, IP: "192.0.2.1", CreatedAt: at}
		if err := st.InsertClick(ctx, &c); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Click(ctx, id); err != nil || got.ClickID != id {
			t.Fatalf("click %s: %+v %v", id, got, err)
		}
	}
	// An ID of the older format whose first bytes read as a plausible time, and one that does not.
	for _, id := range []string{timedID(now.AddDate(0, 0, -3))[:8] + domain.NewID()[8:], "ff" + domain.NewID()[2:]} {
		c := store.Click{ClickID: id, OfferID: 1, AffID: 1, IP: "192.0.2.1", CreatedAt: now.AddDate(0, 0, -10)}
		if err := st.InsertClick(ctx, &c); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Click(ctx, id); err != nil || got.ClickID != id {
			t.Fatalf("older click %s: %+v %v", id, got, err)
		}
		res, err := st.RecordConversion(ctx, domain.Conversion{ID: domain.NewID(), OfferID: offer, ClickID: &id, Currency: "USD",
			WorkflowID: "w"}, domain.DecideInput{Now: now, Method: domain.MethodCookie, ClickFound: true,
			ClickCreatedAt: c.CreatedAt, AffiliateActive: true, CookieWindow: 30 * 24 * time.Hour}, store.CapRules{})
		if err != nil || res.Conversion.Status != domain.ConversionApproved {
			t.Fatalf("claim of %s: %+v %v", id, res.Conversion, err)
		}
	}
	for _, id := range []string{domain.NewID(), "not-an-id", "0123456789ABCDEF0123456789ABCDEF"} {
		if _, err := st.Click(ctx, id); domain.ErrorKind(err) != domain.NotFound {
			t.Errorf("click %q: %v, want NotFound", id, err)
		}
	}
}
