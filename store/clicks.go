package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trackflow/trackflow/domain"
)

// Click is one visit through a tracking link: the cookie's target and the cookie-less backup.
type Click struct {
	ClickID string  `json:"click_id" db:"click_id"`
	OfferID int64   `json:"offer_id" db:"offer_id"`
	AffID   int64   `json:"aff_id" db:"aff_id"`
	SubID   *string `json:"sub_id" db:"sub_id"`
	domain.Subs
	CreativeID  *int64    `json:"creative_id" db:"creative_id"`
	IP          string    `json:"ip" db:"ip"`
	UserAgent   string    `json:"user_agent" db:"user_agent"`
	Referer     string    `json:"referer" db:"referer"`
	CreatedAt   time.Time `json:"created_at" db:"created_at"`
	ConvertedBy *string   `json:"converted_by" db:"converted_by"`
}

const clickColumns = `click_id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, host(ip) AS ip, user_agent, referer,
	created_at, converted_by`

// InsertClick stores one click.
func (s *Store) InsertClick(ctx context.Context, c *Click) error {
	const q = `INSERT INTO clicks (click_id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, ip, user_agent, referer, created_at)
		VALUES (:click_id, :offer_id, :aff_id, :sub_id, :sub2, :sub3, :sub4, :sub5, :creative_id, :ip, :user_agent, :referer, :created_at)`
	if _, err := s.DB.NamedExecContext(ctx, q, c); err != nil {
		return fmt.Errorf("insert click: %w", err)
	}
	return nil
}

// Click reads one click, or NotFound.
func (s *Store) Click(ctx context.Context, clickID string) (*Click, error) {
	const q = `SELECT ` + clickColumns + ` FROM clicks WHERE click_id = $1`
	var c Click
	if err := s.DB.GetContext(ctx, &c, q, clickID); err != nil {
		return nil, notFound(err, "click")
	}
	return &c, nil
}

// backupClickQuery is BackupClick's query; a test EXPLAINs it to prove it uses clicks_backup_idx.
// md5(user_agent) matches the index expression; the user agent itself is compared too, so an md5
// collision cannot attribute a sale to another browser.
const backupClickQuery = `SELECT ` + clickColumns + ` FROM clicks
	WHERE offer_id = $1 AND ip = $2 AND md5(user_agent) = md5($3) AND user_agent = $3 AND created_at >= $4
	ORDER BY created_at DESC LIMIT 1`

// backupFirstClickQuery is backupClickQuery for first-click offers: the earliest click instead.
var backupFirstClickQuery = strings.Replace(backupClickQuery, "ORDER BY created_at DESC", "ORDER BY created_at ASC", 1)

// BackupClick finds the latest click (the earliest when first is true: first-click attribution)
// on an offer from one IP and user agent made since a time: the cookie-less backup attribution.
// It is one index scan on clicks_backup_idx.
func (s *Store) BackupClick(ctx context.Context, offerID int64, ip, userAgent string, since time.Time, first bool) (*Click, error) {
	var c Click
	q := backupClickQuery
	if first {
		q = backupFirstClickQuery
	}
	if err := s.DB.GetContext(ctx, &c, q, offerID, ip, userAgent, since); err != nil {
		return nil, notFound(err, "click")
	}
	return &c, nil
}

// Impression is one view of an affiliate's creative.
type Impression struct {
	OfferID int64   `db:"offer_id"`
	AffID   int64   `db:"aff_id"`
	SubID   *string `db:"sub_id"`
	domain.Subs
	CreativeID *int64    `db:"creative_id"`
	IP         string    `db:"ip"`
	UserAgent  string    `db:"user_agent"`
	CreatedAt  time.Time `db:"created_at"`
}
