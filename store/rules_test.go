package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestCapCountersUnderConcurrency records 200 conversions at once against a daily cap of 10 (and,
// for a second affiliate, an affiliate cap of 10 beside an offer cap of 15): exactly the cap's
// number are approved, never one more. Then a rejected held conversion frees its slot and a
// reversed one does not.
func TestCapCountersUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &store.Store{DB: testenv.NewDB(t)}
	ten, fifteen := int64(10), int64(15)
	seeded := testenv.Seed(t, st, func(_ *store.Advertiser, o *store.Offer) {
		o.Caps, o.AffiliateCaps, o.Timezone = domain.Caps{Daily: &fifteen}, domain.Caps{Daily: &ten}, "Europe/Berlin"
	})
	rules := store.CapRules{Offer: seeded.Offer.Caps, Affiliate: seeded.Offer.AffiliateCaps, Timezone: "Europe/Berlin"}
	other := store.Affiliate{Name: "other", Status: domain.StatusActive}
	if err := st.CreateAffiliate(ctx, &other); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	record := func(affID int64, status string) (domain.Conversion, error) {
		return recordAFID(st, seeded, affID, now, rules, status)
	}
	count := func(affID int64, n int) map[string]int {
		var mu sync.Mutex
		var wg sync.WaitGroup
		out := map[string]int{}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := record(affID, "")
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("record: %v", err)
					return
				}
				out[c.Status+"/"+fmt.Sprint(deref(c.Reason))]++
			}()
		}
		wg.Wait()
		return out
	}
	if got := count(seeded.Affiliate.ID, 200); got["approved/"] != 10 || got["rejected/over_cap"] != 190 {
		t.Fatalf("affiliate capped at 10: %v", got)
	}
	// The offer's cap of 15 leaves the other affiliate 5.
	if got := count(other.ID, 200); got["approved/"] != 5 || got["rejected/over_cap"] != 195 {
		t.Fatalf("offer capped at 15: %v", got)
	}
	state, err := st.OfferCapState(ctx, &seeded.Offer, now)
	if err != nil || !state.Full || !state.FullAffiliates[seeded.Affiliate.ID] || state.FullAffiliates[other.ID] {
		t.Fatalf("cap state %+v, %v", state, err)
	}

	// Free two slots of the offer by rejecting two of the other affiliate's conversions as an
	// admin would (they were approved; a held one is rejected the same way).
	var ids []string
	if err := st.DB.Select(&ids, `SELECT id FROM conversions WHERE aff_id = $1 AND status = 'approved' LIMIT 2`, other.ID); err != nil {
		t.Fatal(err)
	}
	reason := domain.ReasonAdmin
	if _, err := st.SetConversionStatus(ctx, ids[0], domain.ConversionApproved, domain.ConversionRejected, &reason, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetConversionStatus(ctx, ids[1], domain.ConversionApproved, domain.ConversionReversed, nil, nil); err != nil {
		t.Fatal(err)
	}
	held, err := record(other.ID, domain.ConversionPending)
	if err != nil || held.Status != domain.ConversionPending {
		t.Fatalf("held conversion after a rejection freed a slot: %+v %v", held, err)
	}
	if c, err := record(other.ID, ""); err != nil || deref(c.Reason) != domain.ReasonOverCap {
		t.Fatalf("conversion while the freed slot is held: %+v %v (a reversal keeps its slot)", c, err)
	}
	// Rejecting it again is a retry: the slot is freed once.
	if _, err := st.SetConversionStatus(ctx, held.ID, domain.ConversionPending, domain.ConversionRejected, &reason, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetConversionStatus(ctx, held.ID, domain.ConversionPending, domain.ConversionRejected, &reason, nil); err != nil {
		t.Fatal(err)
	}
	var used int
	if err := st.DB.Get(&used, `SELECT used FROM cap_counters WHERE offer_id = $1 AND aff_id = 0 AND period = 'd'`, seeded.Offer.ID); err != nil || used != 14 {
		t.Fatalf("offer counter %d, %v; want 14", used, err)
	}
}

// recordAFID records, through RecordConversion under rules, an AFID conversion of seeded's offer
// for affID received at; status is its custom status ("": approved).
func recordAFID(st *store.Store, seeded testenv.Seeded, affID int64, at time.Time, rules store.CapRules, status string) (domain.Conversion, error) {
	id := domain.NewID()
	c := domain.Conversion{ID: id, OfferID: seeded.Offer.ID, AffID: &affID, Amount: 1000, Currency: "USD",
		WorkflowID: "conversion/test/-/" + id}
	in := domain.DecideInput{Now: at, Amount: 1000, Method: domain.MethodAFID, AffiliateActive: true,
		Payout: seeded.Offer.Payout, CookieWindow: time.Hour, CustomStatus: status}
	res, err := st.RecordConversion(context.Background(), c, in, rules)
	return res.Conversion, err
}

// mustRecordAFID is recordAFID for seeded's own affiliate, failing t on an error.
func mustRecordAFID(t *testing.T, st *store.Store, seeded testenv.Seeded, at time.Time, rules store.CapRules, status string) domain.Conversion {
	t.Helper()
	c, err := recordAFID(st, seeded, seeded.Affiliate.ID, at, rules, status)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestCapCounterMadeLateCountsEveryHeldSlot: a counter made after its period has conversions (a
// cap set in the middle of a day, or a conversion recorded late) starts from the slots those
// conversions hold: approved, held and reversed ones (a reversal does not free its slot), in the
// period each was received in, not the one it happened to be stored in; rejected ones hold none.
func TestCapCounterMadeLateCountsEveryHeldSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &store.Store{DB: testenv.NewDB(t)}
	seeded := testenv.Seed(t, st, nil)
	now := time.Now()
	yesterday := now.Add(-24 * time.Hour) // received yesterday, stored now (a workflow retried through an outage)
	record := func(at time.Time, rules store.CapRules, status string) domain.Conversion {
		return mustRecordAFID(t, st, seeded, at, rules, status)
	}
	// No caps yet: today one approved, one reversed, one held, one rejected by an admin.
	none := store.CapRules{}
	record(now, none, "")
	reversed := record(now, none, "")
	if _, err := st.SetConversionStatus(ctx, reversed.ID, domain.ConversionApproved, domain.ConversionReversed, nil, nil); err != nil {
		t.Fatal(err)
	}
	record(now, none, domain.ConversionPending)
	rejected := record(now, none, domain.ConversionPending)
	reason := domain.ReasonAdmin
	if _, err := st.SetConversionStatus(ctx, rejected.ID, domain.ConversionPending, domain.ConversionRejected, &reason, nil); err != nil {
		t.Fatal(err)
	}
	// Then a daily cap of 3: today's three slots are taken.
	three, one := int64(3), int64(1)
	if c := record(now, store.CapRules{Offer: domain.Caps{Daily: &three}}, ""); deref(c.Reason) != domain.ReasonOverCap {
		t.Errorf("today, cap 3 with an approved, a reversed and a held conversion: %s %s, want over_cap", c.Status, deref(c.Reason))
	}
	// One received yesterday and stored today holds a slot of yesterday, whose counter is made later.
	record(yesterday, none, "")
	if c := record(yesterday, store.CapRules{Affiliate: domain.Caps{Daily: &one}}, ""); deref(c.Reason) != domain.ReasonOverCap {
		t.Errorf("yesterday, affiliate cap 1 with a conversion received then: %s %s, want over_cap", c.Status, deref(c.Reason))
	}
}

// TestCapCounterKeptWhileCapsAreOff: a counter, once made, counts every slot taken in its period,
// also by conversions recorded while the offer had no cap (caps removed in the middle of a day
// and set again): a cap of N still yields N. A rejection gives back a slot those took too.
func TestCapCounterKeptWhileCapsAreOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &store.Store{DB: testenv.NewDB(t)}
	seeded := testenv.Seed(t, st, nil)
	now := time.Now()
	record := func(rules store.CapRules, status string) domain.Conversion {
		return mustRecordAFID(t, st, seeded, now, rules, status)
	}
	three := int64(3)
	capped := store.CapRules{Offer: domain.Caps{Daily: &three}, Affiliate: domain.Caps{Daily: &three}}
	if c := record(capped, ""); c.Status != domain.ConversionApproved {
		t.Fatalf("first conversion under a cap of 3: %s %s", c.Status, deref(c.Reason))
	}
	// The caps are removed: two more conversions, one of them held.
	record(store.CapRules{}, "")
	held := record(store.CapRules{}, domain.ConversionPending)
	// Set again: the day's three slots are taken.
	if c := record(capped, ""); deref(c.Reason) != domain.ReasonOverCap {
		t.Fatalf("cap of 3 set again after three conversions: %s %s, want over_cap", c.Status, deref(c.Reason))
	}
	if c := record(store.CapRules{Affiliate: domain.Caps{Daily: &three}}, ""); deref(c.Reason) != domain.ReasonOverCap {
		t.Fatalf("affiliate cap of 3 after three conversions: %s %s, want over_cap", c.Status, deref(c.Reason))
	}
	// Rejecting the held one frees one slot, in both counters.
	reason := domain.ReasonAdmin
	if _, err := st.SetConversionStatus(ctx, held.ID, domain.ConversionPending, domain.ConversionRejected, &reason, nil); err != nil {
		t.Fatal(err)
	}
	if c := record(capped, ""); c.Status != domain.ConversionApproved {
		t.Fatalf("after a held conversion was rejected: %s %s, want approved", c.Status, deref(c.Reason))
	}
	if c := record(capped, ""); deref(c.Reason) != domain.ReasonOverCap {
		t.Fatalf("the freed slot taken: %s %s, want over_cap", c.Status, deref(c.Reason))
	}
}
