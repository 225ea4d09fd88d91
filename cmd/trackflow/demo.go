package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// demo seeds an advertiser, an affiliate with a pixel and an offer (once per database), prints a
// working tracking link and pixel URL, and serves /demo/landing (the advertiser's page) and
// /demo/affiliate-pixel (a stand-in affiliate server that prints what it receives) beside the API.
func demo(ctx context.Context, cfg Config, st *store.Store, apiHandler http.Handler) (http.Handler, error) {
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: HTTP_ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)

	const token = "demo-3f9c1a7be2d84c6f9a1e5b7d20c4e8f1"
	adv, err := st.AdvertiserByToken(ctx, token)
	offerID, affID := int64(1), int64(1)
	switch {
	case err == nil:
		slog.Info("demo data exists", "advertiser", adv.ID)
	case domain.ErrorKind(err) != domain.NotFound:
		return nil, err
	default:
		adv = &store.Advertiser{Name: "Demo Advertiser", PostbackToken: token}
		if err := st.CreateAdvertiser(ctx, adv); err != nil {
			return nil, err
		}
		aff := &store.Affiliate{Name: "Demo Affiliate", Status: domain.StatusActive}
		if err := st.CreateAffiliate(ctx, aff); err != nil {
			return nil, err
		}
		offer := &store.Offer{AdvertiserID: adv.ID, Name: "Demo Offer", CookieDays: 30, Currency: "USD",
			LandingURL:  base + "/demo/landing?click_id={click_id}&aff_id={aff_id}&sub_id={sub_id}",
			ThankYouURL: base + "/demo/landing?thanks=1",
			Payout:      domain.Payout{Type: domain.PayoutCPS, Percent: 1000}, Status: domain.StatusActive}
		if err := st.CreateOffer(ctx, offer); err != nil {
			return nil, err
		}
		pixel := &store.Pixel{AffID: aff.ID, Method: http.MethodGet,
			URL: base + "/demo/affiliate-pixel?transaction_id={transaction_id}&offer_id={offer_id}&amount={amount}&payout={payout}&status={status}&click_id={click_id}"}
		if err := st.CreatePixel(ctx, pixel); err != nil {
			return nil, err
		}
		offerID, affID = offer.ID, aff.ID
	}
	fmt.Printf(`
trackflow demo is up.
  Tracking link:   %[1]s/click?offer_id=%[2]d&aff_id=%[3]d&sub_id=demo
  Pixel URL:       %[1]s/pixel?offer_id=%[2]d&amount=19.95&id=INV-1001
  Postback token:  %[4]s
  Admin token:     %[5]s
  Console:         %[1]s/console/sign-in (sign in with the admin token)
  Temporal UI:     http://localhost:8233
The demo affiliate's pixel prints "affiliate pixel received" here when it fires.
The tokens above are printed because this is the demo (DEMO=true, make run); without DEMO
trackflow never prints or logs a token.

`, base, offerID, affID, token, cfg.AdminToken)

	mux := http.NewServeMux()
	mux.HandleFunc("/demo/landing", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Demo landing page. Query: %s\n", r.URL.RawQuery)
	})
	mux.HandleFunc("/demo/affiliate-pixel", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("affiliate pixel received: %s\n", strings.ReplaceAll(r.URL.RawQuery, "&", " "))
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/", apiHandler)
	return mux, nil
}
