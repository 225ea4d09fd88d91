package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/trackflow/trackflow/api"
	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/internal/testenv"
	"github.com/trackflow/trackflow/store"
)

// TestTrackingCodeBaseURL checks where the snippets point: PUBLIC_URL when set, else the scheme
// and Host of the request, with X-Forwarded-Proto and X-Forwarded-Host believed only from a
// trusted proxy.
func TestTrackingCodeBaseURL(t *testing.T) {
	t.Parallel()
	st := &store.Store{DB: testenv.NewDB(t)}
	seeded := testenv.Seed(t, st, func(a *store.Advertiser, _ *store.Offer) {
		a.PostbackToken = "token/with+specials-" + domain.NewID()
	})
	offer := &seeded.Offer
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "t.example"}
	for _, tc := range []struct {
		name string
		cfg  api.Config
		want string
	}{
		{"PUBLIC_URL wins", api.Config{PublicURL: "https://track.example.com/"}, "https://track.example.com"},
		{"request Host; forwarded headers of an untrusted peer ignored", api.Config{}, "http://api.internal:8080"},
		{"forwarded headers of a trusted proxy", api.Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, "https://t.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AdminToken = "admin"
			h := api.New(tc.cfg, st, nil)
			req := httptest.NewRequest("GET", fmt.Sprintf("http://api.internal:8080/api/v1/offers/%d/tracking-code", offer.ID), nil)
			req.RemoteAddr = "192.0.2.10:4567"
			req.Header.Set("Authorization", "Bearer admin")
			for k, v := range forwarded {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var code api.TrackingCode
			if err := json.Unmarshal(rec.Body.Bytes(), &code); err != nil {
				t.Fatal(err)
			}
			if code.BaseURL != tc.want {
				t.Errorf("base URL %q, want %q", code.BaseURL, tc.want)
			}
			for name, snippet := range map[string]string{"tracking_link": code.TrackingLink, "click_id_postback": code.ClickIDPostback,
				"afid_postback": code.AFIDPostback} {
				if !strings.HasPrefix(snippet, tc.want+"/") {
					t.Errorf("%s %q does not start with %s", name, snippet, tc.want)
				}
			}
			for name, snippet := range map[string]string{"impression_pixel": code.ImpressionPixel, "image_pixel": code.ImagePixel,
				"html_form": code.HTMLForm, "landing_page_script": code.LandingPageScript,
				"thank_you_page_script": code.ThankYouPageScript} {
				if !strings.Contains(snippet, `"`+tc.want+"/") {
					t.Errorf("%s %q does not point at %s", name, snippet, tc.want)
				}
			}
			if !strings.Contains(code.LandingPageScript, tc.want+`/tf.js"`) ||
				!strings.Contains(code.ThankYouPageScript, fmt.Sprintf("trackflow.conversion({offer_id: %d,", offer.ID)) {
				t.Errorf("first-party scripts:\n%s\n%s", code.LandingPageScript, code.ThankYouPageScript)
			}
			if want := offer.LandingURL + "&tfclid={click_id}"; code.LandingURL != want {
				t.Errorf("landing_url %q, want %q", code.LandingURL, want)
			}
			if !strings.Contains(code.ClickIDPostback, "token=token%2Fwith%2Bspecials-") {
				t.Errorf("token not escaped in %s", code.ClickIDPostback)
			}
			if testing.Verbose() {
				out, _ := json.MarshalIndent(code, "", "  ")
				t.Logf("%s", out)
			}
		})
	}
}

// TestWithTFClid checks where the landing URL's tfclid goes: into the query, before a fragment,
// and not twice.
func TestWithTFClid(t *testing.T) {
	for in, want := range map[string]string{
		"https://shop.example/":                   "https://shop.example/?tfclid={click_id}",
		"https://shop.example/p?x=1":              "https://shop.example/p?x=1&tfclid={click_id}",
		"https://shop.example/p?":                 "https://shop.example/p?tfclid={click_id}",
		"https://shop.example/p?x=1#top":          "https://shop.example/p?x=1&tfclid={click_id}#top",
		"https://shop.example/?tfclid={click_id}": "https://shop.example/?tfclid={click_id}",
	} {
		if got := api.WithTFClid(in); got != want {
			t.Errorf("withTFClid(%q) = %q, want %q", in, got, want)
		}
	}
}
