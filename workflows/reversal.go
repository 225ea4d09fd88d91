package workflows

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/trackflow/trackflow/activities"
	"github.com/trackflow/trackflow/domain"
)

// ReversalRequest is the input of a reversal workflow.
type ReversalRequest struct {
	ConversionID string `json:"conversion_id"`
	// ConversionWorkflowID is the conversion's own workflow: its approval pixels finish first.
	ConversionWorkflowID string               `json:"conversion_workflow_id"`
	Reason               string               `json:"reason,omitempty"`
	Retry                domain.RetrySchedule `json:"retry"`
}

// ReversalWorkflowID is the workflow ID of a conversion's reversal: one per conversion, ever.
func ReversalWorkflowID(conversionID string) string { return "reversal/" + conversionID }

// StartReversal starts a conversion's reversal workflow, with the conversion's search attributes
// so that ops filtering on an affiliate or invoice find it beside the conversion. A second
// reversal of the same conversion is a Conflict.
func StartReversal(ctx context.Context, c client.Client, conv *domain.Conversion, reason string, retry domain.RetrySchedule) (string, error) {
	id := ReversalWorkflowID(conv.ID)
	deref := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	sa := conversionAttributes{OfferID: conv.OfferID, InvoiceID: deref(conv.InvoiceID), ClickID: deref(conv.ClickID),
		Method: deref(conv.AttributionMethod), Status: domain.ConversionReversed}
	if conv.AffID != nil {
		sa.AffID = *conv.AffID
	}
	opts := startOptions(id, sa)
	opts.StaticSummary = "reversal · conversion " + conv.ID + " · " + conversionLine(*conv)
	req := ReversalRequest{ConversionID: conv.ID, ConversionWorkflowID: conv.WorkflowID, Reason: reason, Retry: retry}
	_, err := c.ExecuteWorkflow(ctx, opts, Reversal, req)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return id, domain.Errorf(domain.Conflict, "status: conversion is already being reversed")
	}
	return id, err
}

// awaitOptions are for waiting until the conversion's workflow has closed: a cheap describe call,
// retried at most a minute apart, for as long as its approval pixels may retry.
func awaitOptions(s domain.RetrySchedule) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: s.For + s.Timeout() + time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    s.Initial,
			BackoffCoefficient: 2,
			MaximumInterval:    min(s.MaxInterval, time.Minute),
		},
	}
}

// Reversal is the workflow of a refund or chargeback: the approved conversion becomes reversed
// (commission 0, reversed_commission the original) at once; then, once the conversion's own
// workflow has closed (its approval pixels delivered or given up, so no affiliate hears
// "reversed" before "approved"), each of the affiliate's active pixels fires again with
// {status}=reversed and {payout}= the commission withdrawn.
//
// It is a workflow of its own, reversal/<conversion id>, rather than a signal to the conversion's
// workflow: a refund may come months later, long after that workflow closed (and Temporal's
// retention dropped it), and keeping every conversion open that long for a rare event would cost
// more than it buys. The ID makes a second reversal of one conversion impossible.
func Reversal(ctx workflow.Context, req ReversalRequest) (ConversionResult, error) {
	var a *activities.Activities
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	change := activities.StatusChange{ConversionID: req.ConversionID, From: domain.ConversionApproved, To: domain.ConversionReversed}
	if req.Reason != "" {
		change.Note = &req.Reason
	}
	var rec activities.RecordOutput
	if err := workflow.ExecuteLocalActivity(lctx, a.SetStatus, change).Get(lctx, &rec); err != nil {
		return ConversionResult{}, err
	}
	if workflow.GetVersion(ctx, changeReversalSummary, workflow.DefaultVersion, 1) >= 1 {
		upsert(ctx, stateAttributes(rec.Conversion)...)
	}
	setDetails(ctx, rec.Conversion, "")
	actx := workflow.WithActivityOptions(ctx, awaitOptions(req.Retry))
	if err := workflow.ExecuteActivity(actx, a.AwaitWorkflowClosed, req.ConversionWorkflowID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("conversion workflow still open: firing reversal pixels anyway", "error", err)
	}
	res := result(rec.Conversion)
	res.Delivered, res.Failed = firePixels(ctx, rec, domain.ConversionReversed, req.Retry)
	return res, nil
}
