package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// Seeded is an advertiser with one active offer (cpa 2.00) and one active affiliate, stored
// directly through store for tests that run without the admin API.
type Seeded struct {
	Advertiser store.Advertiser
	Offer      store.Offer
	Affiliate  store.Affiliate
}

// Seed stores a Seeded; edit, when not nil, adjusts the advertiser and offer before they are stored.
func Seed(t testing.TB, st *store.Store, edit func(*store.Advertiser, *store.Offer)) Seeded {
	t.Helper()
	ctx := context.Background()
	s := Seeded{
		Advertiser: store.Advertiser{Name: "adv", PostbackToken: domain.NewID()},
		Offer: store.Offer{Name: "offer", LandingURL: "https://shop.example/?c={click_id}", CookieDays: 30,
			Currency: "USD", Payout: domain.Payout{Type: domain.PayoutCPA, Amount: 200}, Status: domain.StatusActive},
		Affiliate: store.Affiliate{Name: "aff", Status: domain.StatusActive},
	}
	if edit != nil {
		edit(&s.Advertiser, &s.Offer)
	}
	if err := st.CreateAdvertiser(ctx, &s.Advertiser); err != nil {
		t.Fatal(err)
	}
	s.Offer.AdvertiserID = s.Advertiser.ID
	if err := st.CreateOffer(ctx, &s.Offer); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAffiliate(ctx, &s.Affiliate); err != nil {
		t.Fatal(err)
	}
	return s
}

// InsertConversion stores c as it is, already decided, for tests that need conversions of a given
// status and time (reports, lists, pixel logs) without running the conversion rules: the row's
// created_at is c.CreatedAt (now when zero), so tests set the time instead of back-dating rows.
func InsertConversion(t testing.TB, db *sqlx.DB, c domain.Conversion) domain.Conversion {
	t.Helper()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	const q = `INSERT INTO conversions (id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, click_id, event,
			invoice_id, amount, currency, commission, reversed_commission, status, reason, note, attribution_method,
			workflow_id, ip, test, created_at, updated_at)
		VALUES (:id, :offer_id, :aff_id, :sub_id, :sub2, :sub3, :sub4, :sub5, :creative_id, :click_id, COALESCE(:event, ''),
			:invoice_id, :amount, :currency, :commission, :reversed_commission, :status, :reason, :note, :attribution_method,
			:workflow_id, :ip, :test, :created_at, :created_at)`
	if _, err := db.NamedExecContext(context.Background(), q, c); err != nil {
		t.Fatal(err)
	}
	c.UpdatedAt = c.CreatedAt
	return c
}
