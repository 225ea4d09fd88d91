package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
)

// Change IDs of workflow.GetVersion: every edit that changes a workflow's command sequence gets
// one, so that histories written by older code replay exactly (README, "Changing a workflow").
const (
	// changeHoldTimer: a held conversion also waits on a durable timer when its offer has
	// hold_seconds > 0, and a decision arrives as an Update. DefaultVersion histories (recorded
	// before it) wait with no timer; they still take the review signal, and an Update too, since a
	// signal or an Update produces no command of the workflow's own.
	changeHoldTimer = "hold-timer"
	// changeReversalSummary: a reversal upserts its conversion's state (ConversionStatus and
	// ConversionSummary, the line the UI's list shows) once stored; DefaultVersion histories
	// (recorded before it) upsert nothing after the start.
	changeReversalSummary = "reversal-summary"
)

// Update names of a held conversion's decisions (API.md: POST /conversions/:id/approve|reject).
const (
	UpdateApprove = "approve"
	UpdateReject  = "reject"
)

// ErrTypeNotPending is the error type of an Update refused because the conversion is no longer
// held: it is decided, being decided, or was never held.
const ErrTypeNotPending = "NotPending"

// held is a held conversion's state while it waits: the handlers of the review (Update or signal)
// and the hold's timer each decide through it, and only one decision is ever stored.
type held struct {
	lctx     workflow.Context
	recorded *activities.RecordOutput // the conversion as Record stored it; nil before
	busy     bool                     // a decision's SetStatus is running
	decided  *activities.RecordOutput // the stored decision
	signal   *Review                  // a review signal received (older API processes send one)
}

// validate refuses a decision once another one is being stored or was stored. It runs before the
// Update is accepted, so a refused Update leaves nothing in the history.
// An Update that arrives before Record (a worker replaying the history) is accepted and waits.
func (h *held) validate() error {
	status := domain.ConversionPending
	switch {
	case h.decided != nil:
		status = h.decided.Conversion.Status
	case h.recorded != nil:
		status = h.recorded.Conversion.Status
	}
	if h.busy || status != domain.ConversionPending {
		return notPending(status)
	}
	return nil
}

func notPending(status string) error {
	return temporal.NewApplicationError(fmt.Sprintf("status: conversion is %s, not pending", status), ErrTypeNotPending)
}

// review is an Update's decision: it waits for the conversion to be recorded, then stores the
// decision if the conversion is still held.
func (h *held) review(ctx workflow.Context, r Review) (domain.Conversion, error) {
	if err := workflow.Await(ctx, func() bool { return h.recorded != nil }); err != nil {
		return domain.Conversion{}, err
	}
	if err := h.validate(); err != nil {
		return domain.Conversion{}, err
	}
	out, err := h.decide(ctx, reviewChange(h.recorded.Conversion.ID, r))
	return out.Conversion, err
}

// handleReviews registers the approve and reject Updates. It runs first thing in the workflow, so
// an Update delivered while a new worker replays the history finds its handler.
func (h *held) handleReviews(ctx workflow.Context) error {
	// Approve and reject answer with the conversion as stored, so the API needs no second read.
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApprove,
		func(ctx workflow.Context) (domain.Conversion, error) { return h.review(ctx, Review{Approve: true}) },
		workflow.UpdateHandlerOptions{Validator: func(workflow.Context) error { return h.validate() }})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateReject,
		func(ctx workflow.Context, reason string) (domain.Conversion, error) {
			return h.review(ctx, Review{Reason: reason})
		},
		workflow.UpdateHandlerOptions{Validator: func(workflow.Context, string) error { return h.validate() }})
}

// decide stores a decision (SetStatus, a local activity) and shows it in the UI.
func (h *held) decide(ctx workflow.Context, change activities.StatusChange) (activities.RecordOutput, error) {
	var a *activities.Activities
	h.busy = true
	defer func() { h.busy = false }()
	var out activities.RecordOutput
	if err := workflow.ExecuteLocalActivity(h.lctx, a.SetStatus, change).Get(ctx, &out); err != nil {
		return out, err
	}
	h.decided = &out
	upsert(ctx, stateAttributes(out.Conversion)...)
	setDetails(ctx, out.Conversion, "")
	return out, nil
}

// reviewChange is the status change of an admin's review.
func reviewChange(id string, r Review) activities.StatusChange {
	change := activities.StatusChange{ConversionID: id, From: domain.ConversionPending, To: domain.ConversionApproved}
	if !r.Approve {
		reason := domain.ReasonAdmin
		change.To, change.Reason = domain.ConversionRejected, &reason
		if r.Reason != "" {
			change.Note = &r.Reason
		}
	}
	return change
}

// awaitReview holds a pending conversion until an admin's decision (an Update, or the review
// signal of older API processes) or, when the offer sets hold_seconds, the hold's expiry,
// whichever comes first; it returns the stored decision.
func awaitReview(ctx workflow.Context, h *held, rec activities.RecordOutput) (activities.RecordOutput, error) {
	id := rec.Conversion.ID
	workflow.Go(ctx, func(ctx workflow.Context) {
		var r Review
		workflow.GetSignalChannel(ctx, SignalReview).Receive(ctx, &r)
		h.signal = &r
	})

	hold := time.Duration(0)
	if workflow.GetVersion(ctx, changeHoldTimer, workflow.DefaultVersion, 1) >= 1 {
		// What is left of the hold since the conversion was recorded; histories recorded before
		// Record said so (Left zero) wait the whole hold. Only the timer's length differs: the
		// same commands, no version needed.
		hold = time.Duration(rec.Hold.Seconds) * time.Second
		if rec.Hold.Left > 0 {
			hold = rec.Hold.Left
		}
	}
	setDetails(ctx, rec.Conversion, holdNote(rec.Hold, hold))
	reviewed := func() bool { return h.decided != nil || (!h.busy && h.signal != nil) }
	if hold > 0 {
		opts := workflow.AwaitOptions{Timeout: hold, TimerOptions: workflow.TimerOptions{Summary: "hold expires: " + expiry(rec.Hold)}}
		ok, err := workflow.AwaitWithOptions(ctx, opts, reviewed)
		if err != nil {
			return rec, err
		}
		if !ok {
			// The hold ran out; an Update that began storing its decision in this same task wins.
			if err := workflow.Await(ctx, func() bool { return !h.busy }); err != nil {
				return rec, err
			}
			if h.decided == nil {
				return h.decide(ctx, expiryChange(id, rec.Hold))
			}
		}
	} else if err := workflow.Await(ctx, reviewed); err != nil {
		return rec, err
	}
	if h.decided != nil {
		return *h.decided, nil
	}
	return h.decide(ctx, reviewChange(id, *h.signal))
}

// expiry is what a hold's expiry does: approve unless the offer says reject.
func expiry(h activities.Hold) string {
	if h.Expiry == domain.HoldExpiryReject {
		return domain.HoldExpiryReject
	}
	return domain.HoldExpiryApprove
}

// expiryChange is the status change of a hold that ran out.
func expiryChange(id string, h activities.Hold) activities.StatusChange {
	change := activities.StatusChange{ConversionID: id, From: domain.ConversionPending, To: domain.ConversionApproved}
	if expiry(h) == domain.HoldExpiryReject {
		reason := domain.ReasonHoldExpired
		change.To, change.Reason = domain.ConversionRejected, &reason
	}
	return change
}

// holdNote says, in the UI's details of a held conversion, when its hold expires.
func holdNote(h activities.Hold, hold time.Duration) string {
	if hold == 0 {
		return "held for review"
	}
	// To the second: what is left of a hold is rarely whole ("59m59.987s").
	return "held for review, " + expiry(h) + " after " + max(hold.Round(time.Second), time.Second).String()
}
