package store

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/trackflow/trackflow/domain"
)

// Advertiser owns offers and authenticates postbacks with its token. The token is never encoded
// (json:"-"): only the create answer shows it, once, through its own view type (api.AdvertiserCreated).
type Advertiser struct {
	ID            int64          `json:"id" db:"id"`
	Name          string         `json:"name" db:"name"`
	PostbackToken string         `json:"-" db:"postback_token"`
	AllowedIPs    pq.StringArray `json:"allowed_ips" db:"allowed_ips"`
	CreatedAt     time.Time      `json:"created_at" db:"created_at"`
	UpdatedAt     time.Time      `json:"updated_at" db:"updated_at"`
}

// CreateAdvertiser inserts a new advertiser; a taken token is a Conflict.
func (s *Store) CreateAdvertiser(ctx context.Context, a *Advertiser) error {
	const q = `INSERT INTO advertisers (name, postback_token, allowed_ips)
		VALUES (:name, :postback_token, :allowed_ips)
		RETURNING id, created_at, updated_at`
	if a.AllowedIPs == nil {
		a.AllowedIPs = pq.StringArray{}
	}
	rows, err := s.DB.NamedQueryContext(ctx, q, a)
	if err != nil {
		if err := tokenTaken(err); err != nil {
			return err
		}
		return fmt.Errorf("insert advertiser: %w", err)
	}
	defer rows.Close()
	rows.Next()
	if err := rows.StructScan(a); err != nil {
		return fmt.Errorf("insert advertiser: %w", err)
	}
	return rows.Err()
}

// tokenTaken is the Conflict of a postback token another advertiser has, or nil for another error.
func tokenTaken(err error) error {
	if isUniqueViolation(err, "advertisers_postback_token_key") {
		return domain.Errorf(domain.Conflict, "postback_token: already taken")
	}
	return nil
}

// SetPostbackToken replaces an advertiser's postback token and returns the advertiser with it;
// unknown id: NotFound, a token another advertiser has: Conflict. The old token matches no
// advertiser once this returns: postbacks look tokens up here, uncached (AdvertiserByToken).
func (s *Store) SetPostbackToken(ctx context.Context, id int64, token string) (*Advertiser, error) {
	const q = `UPDATE advertisers SET postback_token = $2, updated_at = now() WHERE id = $1
		RETURNING id, name, postback_token, allowed_ips::text[] AS allowed_ips, created_at, updated_at`
	var a Advertiser
	if err := s.DB.GetContext(ctx, &a, q, id, token); err != nil {
		if err := tokenTaken(err); err != nil {
			return nil, err
		}
		return nil, notFound(err, "advertiser")
	}
	return &a, nil
}

// ListAdvertisers reads the newest advertisers first, at most limit, without their tokens.
func (s *Store) ListAdvertisers(ctx context.Context, limit int) ([]Advertiser, error) {
	const q = `SELECT id, name, allowed_ips::text[] AS allowed_ips, created_at, updated_at
		FROM advertisers ORDER BY id DESC LIMIT $1`
	out := []Advertiser{}
	if err := s.DB.SelectContext(ctx, &out, q, limit); err != nil {
		return nil, fmt.Errorf("list advertisers: %w", err)
	}
	return out, nil
}

// AdvertiserByToken finds the advertiser whose postback token is token, or NotFound. The lookup
// goes by the token's SHA-256 (schema 002), so neither its timing nor the driver ever sees the
// token compared byte by byte; the token itself is then compared in constant time.
func (s *Store) AdvertiserByToken(ctx context.Context, token string) (*Advertiser, error) {
	const q = `SELECT id, name, postback_token, allowed_ips::text[] AS allowed_ips, created_at, updated_at
		FROM advertisers WHERE postback_token_sha256 = $1`
	sum := sha256.Sum256([]byte(token))
	var list []Advertiser
	if err := s.DB.SelectContext(ctx, &list, q, sum[:]); err != nil {
		return nil, fmt.Errorf("advertiser by token: %w", err)
	}
	for i := range list {
		if subtle.ConstantTimeCompare([]byte(list[i].PostbackToken), []byte(token)) == 1 {
			return &list[i], nil
		}
	}
	return nil, domain.Errorf(domain.NotFound, "advertiser not found")
}

// Advertiser reads one advertiser, or NotFound.
func (s *Store) Advertiser(ctx context.Context, id int64) (*Advertiser, error) {
	const q = `SELECT id, name, postback_token, allowed_ips::text[] AS allowed_ips, created_at, updated_at
		FROM advertisers WHERE id = $1`
	var a Advertiser
	if err := s.DB.GetContext(ctx, &a, q, id); err != nil {
		return nil, notFound(err, "advertiser")
	}
	return &a, nil
}

// Affiliate is a publisher who sends traffic and earns commissions.
type Affiliate struct {
	ID        int64     `json:"id" db:"id"`
	Name      string    `json:"name" db:"name"`
	Status    string    `json:"status" db:"status"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
	UpdatedAt time.Time `json:"updated_at" db:"updated_at"`
}

// CreateAffiliate inserts a new affiliate.
func (s *Store) CreateAffiliate(ctx context.Context, a *Affiliate) error {
	const q = `INSERT INTO affiliates (name, status) VALUES ($1, $2) RETURNING id, created_at, updated_at`
	if err := s.DB.QueryRowxContext(ctx, q, a.Name, a.Status).Scan(&a.ID, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return fmt.Errorf("insert affiliate: %w", err)
	}
	return nil
}

// UpdateAffiliate writes an affiliate's name and status.
func (s *Store) UpdateAffiliate(ctx context.Context, a *Affiliate) error {
	const q = `UPDATE affiliates SET name = $2, status = $3, updated_at = now() WHERE id = $1 RETURNING updated_at`
	if err := s.DB.QueryRowxContext(ctx, q, a.ID, a.Name, a.Status).Scan(&a.UpdatedAt); err != nil {
		return notFound(err, "affiliate")
	}
	return nil
}

// Affiliate reads one affiliate, or NotFound.
func (s *Store) Affiliate(ctx context.Context, id int64) (*Affiliate, error) {
	const q = `SELECT id, name, status, created_at, updated_at FROM affiliates WHERE id = $1`
	var a Affiliate
	if err := s.DB.GetContext(ctx, &a, q, id); err != nil {
		return nil, notFound(err, "affiliate")
	}
	return &a, nil
}

// Offer is what an advertiser pays affiliates for.
type Offer struct {
	ID                int64           `json:"id" db:"id"`
	AdvertiserID      int64           `json:"advertiser_id" db:"advertiser_id"`
	Name              string          `json:"name" db:"name"`
	LandingURL        string          `json:"landing_url" db:"landing_url"`
	ThankYouURL       string          `json:"thank_you_url" db:"thank_you_url"`
	CookieDays        int             `json:"cookie_days" db:"cookie_days"`
	domain.Payout     `json:"payout"` // embedded so sqlx maps its payout_* columns
	Currency          string          `json:"currency" db:"currency"`
	MultiConversion   bool            `json:"multi_conversion" db:"multi_conversion"`
	AllowCustomParams bool            `json:"allow_custom_params" db:"allow_custom_params"`
	Status            string          `json:"status" db:"status"`
	// FallbackURL takes the clicks of a paused or capped offer ("": none).
	FallbackURL string `json:"fallback_url" db:"fallback_url"`
	// Timezone (IANA) defines the offer's days and months for caps.
	Timezone      string      `json:"timezone" db:"timezone"`
	Caps          domain.Caps `json:"caps" db:"caps"`
	AffiliateCaps domain.Caps `json:"affiliate_caps" db:"affiliate_caps"`
	// MinConversionSeconds rejects a conversion sooner than this after its click (too_fast).
	MinConversionSeconds int64 `json:"min_conversion_seconds" db:"min_conversion_seconds"`
	// Attribution is last_click or first_click.
	Attribution string `json:"attribution" db:"attribution"`
	// HoldSeconds bounds how long a held conversion waits for a decision (0: until one comes);
	// HoldExpiry is what it becomes then: domain.HoldExpiryApprove or HoldExpiryReject.
	HoldSeconds int64     `json:"hold_seconds" db:"hold_seconds"`
	HoldExpiry  string    `json:"hold_expiry" db:"hold_expiry"`
	CreatedAt   time.Time `json:"created_at" db:"created_at"`
	UpdatedAt   time.Time `json:"updated_at" db:"updated_at"`
}

// CookieWindow is how long after a click a conversion may still be credited to it.
func (o *Offer) CookieWindow() time.Duration {
	return time.Duration(o.CookieDays) * 24 * time.Hour
}

const offerColumns = `id, advertiser_id, name, landing_url, thank_you_url, cookie_days, payout_type,
	payout_amount, payout_percent, currency, multi_conversion, allow_custom_params, status,
	fallback_url, timezone, caps, affiliate_caps, min_conversion_seconds, attribution, hold_seconds, hold_expiry, created_at, updated_at`

// CreateOffer inserts a new offer; an unknown advertiser is a NotFound on advertiser_id.
func (s *Store) CreateOffer(ctx context.Context, o *Offer) error {
	if o.HoldExpiry == "" {
		o.HoldExpiry = domain.HoldExpiryApprove
	}
	const q = `INSERT INTO offers (advertiser_id, name, landing_url, thank_you_url, cookie_days,
			payout_type, payout_amount, payout_percent, currency, multi_conversion, allow_custom_params, status,
			fallback_url, timezone, caps, affiliate_caps, min_conversion_seconds, attribution, hold_seconds, hold_expiry)
		VALUES (:advertiser_id, :name, :landing_url, :thank_you_url, :cookie_days, :payout_type,
			:payout_amount, :payout_percent, :currency, :multi_conversion, :allow_custom_params, :status,
			:fallback_url, :timezone, :caps, :affiliate_caps, :min_conversion_seconds, :attribution, :hold_seconds, :hold_expiry)
		RETURNING id, created_at, updated_at`
	if o.Timezone == "" {
		o.Timezone = "UTC"
	}
	if o.Attribution == "" {
		o.Attribution = domain.AttributionLastClick
	}
	rows, err := s.DB.NamedQueryContext(ctx, q, o)
	if err != nil {
		if isForeignKeyViolation(err) {
			return domain.Errorf(domain.NotFound, "advertiser_id: advertiser not found")
		}
		return fmt.Errorf("insert offer: %w", err)
	}
	defer rows.Close()
	rows.Next()
	if err := rows.Scan(&o.ID, &o.CreatedAt, &o.UpdatedAt); err != nil {
		return fmt.Errorf("insert offer: %w", err)
	}
	return rows.Err()
}

// UpdateOffer writes every editable field of an offer, its advertiser included; an unknown offer or
// advertiser is a NotFound naming the parameter.
func (s *Store) UpdateOffer(ctx context.Context, o *Offer) error {
	const q = `UPDATE offers SET advertiser_id = :advertiser_id, name = :name, landing_url = :landing_url, thank_you_url = :thank_you_url,
			cookie_days = :cookie_days, payout_type = :payout_type, payout_amount = :payout_amount,
			payout_percent = :payout_percent, currency = :currency, multi_conversion = :multi_conversion,
			allow_custom_params = :allow_custom_params, status = :status, fallback_url = :fallback_url,
			timezone = :timezone, caps = :caps, affiliate_caps = :affiliate_caps,
			min_conversion_seconds = :min_conversion_seconds, attribution = :attribution,
			hold_seconds = :hold_seconds, hold_expiry = :hold_expiry, updated_at = now()
		WHERE id = :id`
	res, err := s.DB.NamedExecContext(ctx, q, o)
	if isForeignKeyViolation(err) {
		return domain.Errorf(domain.NotFound, "advertiser_id: advertiser not found")
	}
	if err != nil {
		return fmt.Errorf("update offer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.NotFound, "id: offer not found")
	}
	return nil
}

// Offer reads one offer, or NotFound.
func (s *Store) Offer(ctx context.Context, id int64) (*Offer, error) {
	const q = `SELECT ` + offerColumns + ` FROM offers WHERE id = $1`
	var o Offer
	if err := s.DB.GetContext(ctx, &o, q, id); err != nil {
		return nil, notFound(err, "offer")
	}
	return &o, nil
}

// SetPayoutOverride sets an affiliate's own commission for one offer.
func (s *Store) SetPayoutOverride(ctx context.Context, offerID, affID int64, p domain.Payout) error {
	const q = `INSERT INTO offer_payouts (offer_id, aff_id, payout_type, payout_amount, payout_percent)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (offer_id, aff_id) DO UPDATE SET payout_type = EXCLUDED.payout_type,
			payout_amount = EXCLUDED.payout_amount, payout_percent = EXCLUDED.payout_percent, updated_at = now()`
	if _, err := s.DB.ExecContext(ctx, q, offerID, affID, p.Type, p.Amount, p.Percent); err != nil {
		if isForeignKeyViolation(err) {
			return domain.Errorf(domain.NotFound, "offer or affiliate not found")
		}
		return fmt.Errorf("set payout override: %w", err)
	}
	return nil
}

// PayoutOverride is an affiliate's own commission for one offer, flat as PUT
// /api/v1/offers/:id/payouts/:aff_id answers it (docs/API.md).
type PayoutOverride struct {
	OfferID       int64 `json:"offer_id" db:"offer_id"`
	AffID         int64 `json:"aff_id" db:"aff_id"`
	domain.Payout       // embedded untagged so its type, amount and percent stay top-level
}

// PayoutOverrides lists an offer's per-affiliate overrides, by affiliate id.
func (s *Store) PayoutOverrides(ctx context.Context, offerID int64) ([]PayoutOverride, error) {
	const q = `SELECT offer_id, aff_id, payout_type, payout_amount, payout_percent
		FROM offer_payouts WHERE offer_id = $1 ORDER BY aff_id`
	out := []PayoutOverride{}
	if err := s.DB.SelectContext(ctx, &out, q, offerID); err != nil {
		return nil, fmt.Errorf("list payout overrides: %w", err)
	}
	return out, nil
}

// PayoutFor returns the commission setting for an affiliate on an offer: its override if set,
// else the offer's payout.
func (s *Store) PayoutFor(ctx context.Context, o *Offer, affID int64) (domain.Payout, error) {
	const q = `SELECT payout_type, payout_amount, payout_percent FROM offer_payouts WHERE offer_id = $1 AND aff_id = $2`
	var p domain.Payout
	err := s.DB.GetContext(ctx, &p, q, o.ID, affID)
	if err != nil {
		if domain.ErrorKind(notFound(err, "")) == domain.NotFound {
			return o.Payout, nil
		}
		return domain.Payout{}, fmt.Errorf("payout override: %w", err)
	}
	return p, nil
}

// Pixel is an affiliate's own pixel or postback URL, fired for its approved conversions. It travels
// in workflow payloads, so its signing secret is never encoded (json:"-"): only the create answer
// shows it, through its own view type (api.PixelCreated).
type Pixel struct {
	ID        int64     `json:"id" db:"id"`
	AffID     int64     `json:"aff_id" db:"aff_id"`
	OfferID   *int64    `json:"offer_id" db:"offer_id"`
	URL       string    `json:"url" db:"url"`
	Method    string    `json:"method" db:"method"`
	Secret    string    `json:"-" db:"secret"`
	Status    string    `json:"status" db:"status"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
}

// CreatePixel inserts an affiliate pixel.
func (s *Store) CreatePixel(ctx context.Context, p *Pixel) error {
	const q = `INSERT INTO affiliate_pixels (aff_id, offer_id, url, method, secret)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, status, created_at`
	err := s.DB.QueryRowxContext(ctx, q, p.AffID, p.OfferID, p.URL, p.Method, p.Secret).Scan(&p.ID, &p.Status, &p.CreatedAt)
	if err != nil {
		if isForeignKeyViolation(err) {
			return domain.Errorf(domain.NotFound, "affiliate or offer not found")
		}
		return fmt.Errorf("insert pixel: %w", err)
	}
	return nil
}

// ActivePixels lists the active pixels an affiliate has for an offer (its own or all-offer ones),
// without their secrets: the list travels through Temporal's history, which ops read in the UI, so
// FirePixel reads a POST pixel's secret itself (PixelSecret).
func (s *Store) ActivePixels(ctx context.Context, affID, offerID int64) ([]Pixel, error) {
	const q = `SELECT id, aff_id, offer_id, url, method, '' AS secret, status, created_at FROM affiliate_pixels
		WHERE aff_id = $1 AND (offer_id IS NULL OR offer_id = $2) AND status = 'active' ORDER BY id`
	var ps []Pixel
	if err := s.DB.SelectContext(ctx, &ps, q, affID, offerID); err != nil {
		return nil, fmt.Errorf("select pixels: %w", err)
	}
	return ps, nil
}

// PixelSecret reads the signing secret of a POST pixel, or NotFound.
func (s *Store) PixelSecret(ctx context.Context, pixelID int64) (string, error) {
	const q = `SELECT secret FROM affiliate_pixels WHERE id = $1`
	var secret string
	if err := s.DB.GetContext(ctx, &secret, q, pixelID); err != nil {
		return "", notFound(err, "pixel")
	}
	return secret, nil
}

// ListOffers reads the newest offers first, at most limit (the operator console's list).
func (s *Store) ListOffers(ctx context.Context, limit int) ([]Offer, error) {
	q := `SELECT ` + offerColumns + ` FROM offers ORDER BY id DESC LIMIT $1`
	out := []Offer{}
	return out, s.DB.SelectContext(ctx, &out, q, limit)
}

// ListAffiliates reads the newest affiliates first, at most limit (the operator console's list).
func (s *Store) ListAffiliates(ctx context.Context, limit int) ([]Affiliate, error) {
	const q = `SELECT id, name, status, created_at, updated_at FROM affiliates ORDER BY id DESC LIMIT $1`
	out := []Affiliate{}
	return out, s.DB.SelectContext(ctx, &out, q, limit)
}

// Pixels reads an affiliate's pixels, any status, oldest first, without their secrets.
func (s *Store) Pixels(ctx context.Context, affID int64) ([]Pixel, error) {
	const q = `SELECT id, aff_id, offer_id, url, method, '' AS secret, status, created_at FROM affiliate_pixels
		WHERE aff_id = $1 ORDER BY id`
	out := []Pixel{}
	return out, s.DB.SelectContext(ctx, &out, q, affID)
}

// UpdatePixel writes a pixel's URL and status; a pixel of another affiliate is NotFound. A paused
// pixel is left out of ActivePixels, so conversions decided from then on do not fire it.
func (s *Store) UpdatePixel(ctx context.Context, p *Pixel) error {
	const q = `UPDATE affiliate_pixels SET url = $3, status = $4 WHERE id = $1 AND aff_id = $2`
	res, err := s.DB.ExecContext(ctx, q, p.ID, p.AffID, p.URL, p.Status)
	if err != nil {
		return fmt.Errorf("update pixel: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return domain.Errorf(domain.NotFound, "pixel not found")
	}
	return nil
}

// AffiliatePixel reads one pixel of an affiliate, with its secret (for the pixel test tool); a
// pixel of another affiliate is NotFound.
func (s *Store) AffiliatePixel(ctx context.Context, affID, pixelID int64) (*Pixel, error) {
	const q = `SELECT id, aff_id, offer_id, url, method, secret, status, created_at FROM affiliate_pixels
		WHERE id = $1 AND aff_id = $2`
	var p Pixel
	if err := s.DB.GetContext(ctx, &p, q, pixelID, affID); err != nil {
		return nil, notFound(err, "pixel")
	}
	return &p, nil
}
