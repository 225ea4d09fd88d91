package store

import (
	"context"
	"fmt"
	"time"
)

// DeliveryInFlight is the error of an attempt whose answer is not recorded yet. An attempt is
// logged before the affiliate is called and completed afterwards, so an attempt cut off by a
// killed worker or a Temporal activity timeout still shows in the log, with this error.
const DeliveryInFlight = "no answer recorded: the attempt is in flight, or was cut off (worker stopped or activity timed out)"

// Delivery is one attempt to fire an affiliate pixel.
type Delivery struct {
	ID           int64  `json:"-" db:"id"`
	ConversionID string `json:"-" db:"conversion_id"`
	PixelID      int64  `json:"pixel_id" db:"pixel_id"`
	// Event is approved or reversed: which status of the conversion the pixel reported.
	Event  string `json:"event" db:"event"`
	Method string `json:"method" db:"method"`
	// URL is the URL called, macros expanded; Body is a POST pixel's signed JSON body.
	URL        string    `json:"url" db:"url"`
	Body       string    `json:"body,omitempty" db:"body"`
	Attempt    int       `json:"attempt" db:"attempt"`
	StatusCode int       `json:"status_code" db:"status_code"`
	Error      string    `json:"error" db:"error"`
	DurationMS int64     `json:"duration_ms" db:"duration_ms"`
	At         time.Time `json:"at" db:"at"`
}

// InsertDelivery logs one pixel attempt and sets d.ID.
func (s *Store) InsertDelivery(ctx context.Context, d *Delivery) error {
	const q = `INSERT INTO pixel_deliveries (conversion_id, pixel_id, event, method, url, body, attempt,
			status_code, error, duration_ms, at)
		VALUES (:conversion_id, :pixel_id, :event, :method, :url, :body, :attempt, :status_code, :error,
			:duration_ms, :at)
		RETURNING id`
	rows, err := s.DB.NamedQueryContext(ctx, q, d)
	if err != nil {
		return fmt.Errorf("insert delivery: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return fmt.Errorf("insert delivery: no id returned: %w", rows.Err())
	}
	if err := rows.Scan(&d.ID); err != nil {
		return fmt.Errorf("insert delivery: %w", err)
	}
	return rows.Err()
}

// FinishDelivery records what an attempt logged by InsertDelivery got: status code, error, duration.
func (s *Store) FinishDelivery(ctx context.Context, d *Delivery) error {
	const q = `UPDATE pixel_deliveries SET status_code = :status_code, error = :error, duration_ms = :duration_ms
		WHERE id = :id`
	if _, err := s.DB.NamedExecContext(ctx, q, d); err != nil {
		return fmt.Errorf("finish delivery: %w", err)
	}
	return nil
}

// Deliveries lists a conversion's pixel attempts, oldest first.
func (s *Store) Deliveries(ctx context.Context, conversionID string) ([]Delivery, error) {
	const q = `SELECT id, conversion_id, pixel_id, event, method, url, body, attempt, status_code, error,
			duration_ms, at
		FROM pixel_deliveries WHERE conversion_id = $1 ORDER BY at, id`
	out := []Delivery{}
	if err := s.DB.SelectContext(ctx, &out, q, conversionID); err != nil {
		return nil, fmt.Errorf("select deliveries: %w", err)
	}
	return out, nil
}
