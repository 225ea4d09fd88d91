package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// BenchmarkClick is the API's own cost of a click: GET /click through the real router (its
// middleware, the cached offer and affiliate, a click ID, the cookie, the landing URL's macros
// and the writer's append), without the network. A real Postgres stores the clicks behind the
// writer, beside the measured loop, as in production.
// `make bench` runs it; compare allocs/op and ns/op between commits on the same machine.
func BenchmarkClick(b *testing.B) {
	db := testenv.NewDB(b)
	const token = "bench-admin-token"
	// The writer's buffer is large enough never to refuse while Postgres catches up.
	clicks := store.NewClickWriter(db, store.BatchOptions{MaxPending: 1 << 24, MaxPendingBytes: 1 << 32})
	b.Cleanup(func() {
		if err := clicks.Close(context.Background()); err != nil {
			b.Errorf("storing the clicks: %v", err)
		}
	})
	h := api.New(api.Config{AdminToken: token, Clicks: clicks}, &store.Store{DB: db}, nil)
	create := func(path, body string) int64 {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusCreated || err != nil {
			b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		return out.ID
	}
	adv := create("/api/v1/advertisers", `{"name": "bench advertiser"}`)
	offer := create("/api/v1/offers", fmt.Sprintf(`{"advertiser_id": %d, "name": "bench offer",
		"landing_url": "https://shop.example/land?cid={click_id}&aff={aff_id}&s={sub_id}",
		"thank_you_url": "https://shop.example/thanks", "payout": {"type": "cpa", "amount": "2.00"},
		"currency": "USD"}`, adv))
	aff := create("/api/v1/affiliates", `{"name": "bench affiliate"}`)
	target := fmt.Sprintf("/click?offer_id=%d&aff_id=%d&sub_id=s1", offer, aff)

	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			b.Fatalf("GET %s: %d %s", target, rec.Code, rec.Body)
		}
	}
}
