package store

import (
	"context"
	"database/sql"
	"errors"
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

// clickColumns reads a click; click_id is stored as a uuid (16 bytes) and read as 32 hex characters.
const clickColumns = `translate(click_id::text, '-', '') AS click_id, offer_id, aff_id, sub_id, sub2, sub3, sub4, sub5, creative_id, host(ip) AS ip, user_agent, referer,
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

// clickByIDQuery is Click's query: the time range names the partition (see clickTimeRange); a
// test EXPLAINs it.
const clickByIDQuery = `SELECT ` + clickColumns + ` FROM clicks WHERE click_id = $1 AND created_at >= $2 AND created_at < $3`

// Click reads one click, or NotFound. The time in its ID names the partition to look in; an ID
// whose time is not that of a stored click (an older, random ID) is looked up in every partition,
// as is one not found where its time says (the same older IDs, random bytes that look like a time).
func (s *Store) Click(ctx context.Context, clickID string) (*Click, error) {
	if !domain.IsID(clickID) {
		return nil, domain.Errorf(domain.NotFound, "click not found")
	}
	now := time.Now()
	from, to, narrowed := clickTimeRange(clickID, now)
	var c Click
	err := s.DB.GetContext(ctx, &c, clickByIDQuery, clickID, from, to)
	if errors.Is(err, sql.ErrNoRows) && narrowed {
		from, to, _ = clickTimeRange("", now) // every partition
		err = s.DB.GetContext(ctx, &c, clickByIDQuery, clickID, from, to)
	}
	if err != nil {
		return nil, notFound(err, "click")
	}
	return &c, nil
}

// ClickStoredAfter reports whether any click created after t is stored: when none is, the click
// writers may be holding rows back (Postgres just returned from an outage). One index lookup
// (clicks_created_idx).
func (s *Store) ClickStoredAfter(ctx context.Context, t time.Time) (bool, error) {
	var ok bool
	err := s.DB.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM clicks WHERE created_at > $1)`, t)
	return ok, err
}

// backupClickQuery is BackupClick's query; a test EXPLAINs it to prove it uses clicks_backup_idx.
// user_agent_key(user_agent) matches the index expression; the user agent itself is compared too,
// so a collision of the key cannot attribute a sale to another browser. The upper bound ($5, the
// conversion's request: a click made after it is outside its window) also lets the planner prune
// the default partition, and then scan the daily ones newest first and stop at the first that has
// the click, instead of probing every one.
const backupClickQuery = `SELECT ` + clickColumns + ` FROM clicks
	WHERE offer_id = $1 AND ip = $2 AND user_agent_key(user_agent) = user_agent_key($3) AND user_agent = $3
		AND created_at >= $4 AND created_at <= $5
	ORDER BY created_at DESC LIMIT 1`

// backupFirstClickQuery is backupClickQuery for first-click offers: the earliest click instead.
var backupFirstClickQuery = strings.Replace(backupClickQuery, "ORDER BY created_at DESC", "ORDER BY created_at ASC", 1)

// BackupClick finds the latest click (the earliest when first is true: first-click attribution)
// on an offer from one IP and user agent made in the cookie window from since to until (the
// conversion's request), both included: the cookie-less backup attribution. It scans
// clicks_backup_idx, newest partition first (oldest first for first).
func (s *Store) BackupClick(ctx context.Context, offerID int64, ip, userAgent string, since, until time.Time, first bool) (*Click, error) {
	var c Click
	q := backupClickQuery
	if first {
		q = backupFirstClickQuery
	}
	if err := s.DB.GetContext(ctx, &c, q, offerID, ip, userAgent, since, until); err != nil {
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
