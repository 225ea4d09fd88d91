package workflows

import (
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
)

// ConversionResult is how a conversion workflow ended.
type ConversionResult struct {
	ConversionID string       `json:"conversion_id"`
	Status       string       `json:"status"` // approved, rejected, pending, or duplicate
	Reason       string       `json:"reason,omitempty"`
	Commission   domain.Money `json:"commission"`
	Delivered    int          `json:"delivered"` // pixels that answered 2xx
	Failed       int          `json:"failed"`    // pixels that gave up
}

// StatusDuplicate is the ConversionStatus search attribute of a workflow that found its invoice
// already used in the database.
const StatusDuplicate = "duplicate"

// localOptions are for the millisecond database steps: retried quickly, and for as long as
// PostgreSQL may be down, so an acknowledged conversion is never lost.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: 7 * 24 * time.Hour,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        100 * time.Millisecond,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Second,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotFound, activities.ErrTypeConflict},
	},
}

// pixelOptions are for firing one affiliate pixel: a regular activity per pixel, each with its own
// retry schedule, so one dead affiliate server never delays another. The activity ID names the
// pixel and the event, so the Temporal UI's pending activities say which pixel is retrying.
// StartToClose leaves the attempt's own timeout room to log its outcome, so in practice it fires
// only when an attempt is cut off (its worker died mid-attempt).
func pixelOptions(s domain.RetrySchedule, pixelID int64, event string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		ActivityID:             "pixel/" + strconv.FormatInt(pixelID, 10) + "/" + event,
		StartToCloseTimeout:    s.Timeout() + 5*time.Second,
		ScheduleToCloseTimeout: s.For,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    s.Initial,
			BackoffCoefficient: 2,
			MaximumInterval:    s.MaxInterval,
			NonRetryableErrorTypes: []string{
				activities.ErrTypePixelRejected, activities.ErrTypePixelRefused, activities.ErrTypePixelInvalid,
			},
		},
	}
}

// Conversion is the workflow of one conversion request: attribute it, then record it (Record
// decides its status and commission with domain.Decide in the transaction that stores it, reserving
// the invoice and the click), then fire the affiliate's pixels.
// A conversion held as pending waits for a review or its hold's expiry (awaitReview).
func Conversion(ctx workflow.Context, req domain.ConversionRequest) (ConversionResult, error) {
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	h := &held{lctx: lctx}
	if err := h.handleReviews(ctx); err != nil {
		return ConversionResult{}, err
	}

	var att activities.Attribution
	if err := workflow.ExecuteLocalActivity(lctx, a.Attribute, req).Get(lctx, &att); err != nil {
		return ConversionResult{}, err
	}
	// The attribution's search attributes go out with the status in one upsert: both are known in
	// the same workflow task, and every upsert is a history event and a visibility write on the
	// Temporal server, which is what bounds conversions per second.
	found := attributionAttributes(att)

	var rec activities.RecordOutput
	in := activities.RecordInput{Request: req, Attribution: att}
	if err := workflow.ExecuteLocalActivity(lctx, a.Record, in).Get(lctx, &rec); err != nil {
		return ConversionResult{}, err
	}
	h.recorded = &rec
	// Adding a key to these upserts (ConversionSummary) changed no command: no version needed.
	if rec.Duplicate {
		upsert(ctx, append(found, conversionAttributes{Status: StatusDuplicate, Summary: duplicateLine}.updates()...)...)
		workflow.SetCurrentDetails(ctx, duplicateLine)
		return ConversionResult{ConversionID: req.ConversionID, Status: StatusDuplicate}, nil
	}
	upsert(ctx, append(found, stateAttributes(rec.Conversion)...)...)

	setDetails(ctx, rec.Conversion, "")

	if rec.Conversion.Status == domain.ConversionPending {
		var err error
		if rec, err = awaitReview(ctx, h, rec); err != nil {
			return ConversionResult{}, err
		}
	}

	res := result(rec.Conversion)
	if rec.Conversion.Status == domain.ConversionApproved {
		res.Delivered, res.Failed = firePixels(ctx, rec, domain.ConversionApproved, req.Retry)
	}
	return res, nil
}

// firePixels fires every pixel at once, one activity each, and waits for all of them. A pixel
// that gives up is counted, not an error: the conversion itself stands. A test conversion's
// pixels run the same activities (the same commands: no workflow version needed), which log each
// one as it would go out and send nothing.
func firePixels(ctx workflow.Context, rec activities.RecordOutput, event string, retry domain.RetrySchedule) (delivered, failed int) {
	var a *activities.Activities
	macros := rec.Conversion.Macros()
	futures := make([]workflow.Future, len(rec.Pixels))
	for i, p := range rec.Pixels {
		opts := pixelOptions(retry, p.ID, event)
		opts.Summary = pixelSummary(event, p)
		actx := workflow.WithActivityOptions(ctx, opts)
		in := activities.FireInput{ConversionID: rec.Conversion.ID, Event: event, Pixel: p, Macros: macros, Retry: retry,
			Test: rec.Conversion.Test}
		futures[i] = workflow.ExecuteActivity(actx, a.FirePixel, in)
	}
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			failed++
			workflow.GetLogger(ctx).Warn("affiliate pixel gave up", "error", err)
		} else if !rec.Conversion.Test { // a test conversion's pixels are logged, not delivered
			delivered++
		}
	}
	return delivered, failed
}

func result(c domain.Conversion) ConversionResult {
	r := ConversionResult{ConversionID: c.ID, Status: c.Status, Commission: c.Commission}
	if c.Reason != nil {
		r.Reason = *c.Reason
	}
	return r
}

func attributionAttributes(att activities.Attribution) []temporal.SearchAttributeUpdate {
	return conversionAttributes{AffID: att.AffID, ClickID: att.ClickID, Method: att.Method}.updates()
}

// upsert sets search attributes; a failure only costs ops a filter, so it is logged, not fatal.
func upsert(ctx workflow.Context, sa ...temporal.SearchAttributeUpdate) {
	if len(sa) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, sa...); err != nil {
		workflow.GetLogger(ctx).Warn("upsert search attributes", "error", err)
	}
}
