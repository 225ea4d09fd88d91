// Package workflows defines the conversion workflow and names its Temporal contract: task queue,
// workflow IDs, signals and search attributes. Workflows are deterministic and hold no I/O.
package workflows

import (
	"context"
	"errors"
	"strconv"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/trackflow/trackflow/domain"
)

// TaskQueue is the task queue of every conversion workflow.
const TaskQueue = "conversions"

// SignalReview approves or rejects a held (pending) conversion; its payload is a Review. The API
// sends Updates now (UpdateApprove, UpdateReject); workflows still take the signal, which API
// processes of the previous release send during a rolling deploy.
const SignalReview = "review"

// Review is an admin's decision on a held conversion.
type Review struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"`
}

// Custom search attributes (Keyword) that ops filter on in the Temporal UI.
var (
	OfferIDKey           = temporal.NewSearchAttributeKeyKeyword("OfferId")
	AffiliateIDKey       = temporal.NewSearchAttributeKeyKeyword("AffiliateId")
	ClickIDKey           = temporal.NewSearchAttributeKeyKeyword("ClickId")
	InvoiceIDKey         = temporal.NewSearchAttributeKeyKeyword("InvoiceId")
	AttributionMethodKey = temporal.NewSearchAttributeKeyKeyword("AttributionMethod")
	ConversionStatusKey  = temporal.NewSearchAttributeKeyKeyword("ConversionStatus")
	// ConversionSummaryKey holds the conversion's one-line state (conversionLine), for the
	// Temporal UI's workflow list: the UI (2.42) has no column for user metadata, but it shows
	// any custom search attribute as a column. Like every search attribute it goes through no
	// payload codec, so the line holds no visitor data and no sale amount.
	ConversionSummaryKey = temporal.NewSearchAttributeKeyKeyword("ConversionSummary")
)

// searchAttributeKeys are every custom search attribute above: the one list that the names to
// register (SearchAttributeNames) derive from.
var searchAttributeKeys = []temporal.SearchAttributeKeyKeyword{
	OfferIDKey, AffiliateIDKey, ClickIDKey, InvoiceIDKey, AttributionMethodKey, ConversionStatusKey,
	ConversionSummaryKey,
}

// SearchAttributeNames lists the custom search attributes to register on a namespace (all
// Keyword). The scripts and the Helm values that name them too are checked against it by
// deployments/validate.
var SearchAttributeNames = func() []string {
	names := make([]string, len(searchAttributeKeys))
	for i, k := range searchAttributeKeys {
		names[i] = k.GetName()
	}
	return names
}()

// ConversionWorkflowID is the workflow ID of an offer's plain conversion (no event): see
// EventWorkflowID.
func ConversionWorkflowID(offerID int64, invoiceID, conversionID string) string {
	return EventWorkflowID(offerID, "", invoiceID, conversionID)
}

// EventWorkflowID is the workflow ID of a conversion: conversion/<offer>/<invoice> when the
// invoice is known, so Temporal itself rejects a concurrent duplicate; otherwise
// conversion/<offer>/-/<conversion id>. An event's conversion has <offer>:<event> in place of
// <offer>, so de-duplication is per event. The invoice appears as it is unless it holds bytes
// outside printable ASCII, a space or a '%': see escapeInvoice.
func EventWorkflowID(offerID int64, event, invoiceID, conversionID string) string {
	prefix := "conversion/" + strconv.FormatInt(offerID, 10)
	if event != "" {
		prefix += ":" + event // an event name is [a-z0-9_]: nothing to escape
	}
	if invoiceID != "" {
		return prefix + "/" + escapeInvoice(invoiceID)
	}
	return prefix + "/-/" + conversionID
}

// TrialConversionWorkflowID is the workflow ID of a test conversion (test=1):
// conversion/<offer>/test/<conversion id>. It never names the invoice: a test conversion reserves
// none, so it is never a duplicate and never makes a later real conversion one.
func TrialConversionWorkflowID(offerID int64, conversionID string) string {
	return "conversion/" + strconv.FormatInt(offerID, 10) + "/test/" + conversionID
}

// escapeInvoice makes an invoice (any UTF-8) fit a workflow ID. The SDK sends the workflow ID in a
// gRPC header (temporal-resource-id), which takes printable ASCII only, and the pixel echoes it in
// X-Workflow-Id. So bytes outside '!'..'~' are percent-encoded, and '%' too, which keeps the
// mapping one-to-one: two invoices never share a workflow ID. Usual order numbers are unchanged.
func escapeInvoice(s string) string {
	plain := func(c byte) bool { return c > ' ' && c < 0x7f && c != '%' }
	i := 0
	for i < len(s) && plain(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+16)
	b = append(b, s[:i]...)
	for ; i < len(s); i++ {
		if c := s[i]; plain(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// conversionAttributes are a conversion's search attributes as far as they are known; an unknown
// (zero) one is left out. Every workflow of a conversion builds its attributes here.
type conversionAttributes struct {
	OfferID, AffID                              int64
	InvoiceID, ClickID, Method, Status, Summary string
}

func (f conversionAttributes) updates() []temporal.SearchAttributeUpdate {
	var sa []temporal.SearchAttributeUpdate
	set := func(k temporal.SearchAttributeKeyKeyword, v string) {
		if v != "" {
			sa = append(sa, k.ValueSet(v))
		}
	}
	id := func(v int64) string {
		if v == 0 {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	set(OfferIDKey, id(f.OfferID))
	set(AffiliateIDKey, id(f.AffID))
	set(InvoiceIDKey, f.InvoiceID)
	set(ClickIDKey, f.ClickID)
	set(AttributionMethodKey, f.Method)
	set(ConversionStatusKey, f.Status)
	set(ConversionSummaryKey, f.Summary)
	return sa
}

// StartConversion starts the conversion workflow and returns as soon as the start is durable. It
// reports duplicate=true when a workflow with the same ID (the same invoice) exists or existed
// within Temporal's retention.
func StartConversion(ctx context.Context, c client.Client, req domain.ConversionRequest) (duplicate bool, err error) {
	sa := conversionAttributes{OfferID: req.OfferID, AffID: req.AffID, InvoiceID: req.InvoiceID,
		ClickID: req.ClickID, Status: domain.ConversionPending}
	// A postback names its attribution method; a page's (cookie or backup) is known after Attribute.
	switch req.Source {
	case domain.SourceClickID:
		sa.Method = domain.MethodClickID
	case domain.SourceAFID:
		sa.Method = domain.MethodAFID
	}
	opts := startOptions(req.WorkflowID, sa)
	opts.StaticSummary, opts.StaticDetails = startSummary(req), startDetails(req)
	// Eager start: when this process also runs the worker (ROLE=all), the first workflow task
	// comes back in the start response instead of through a task-queue poll, saving the
	// matching round trip; with a separate worker it is an ordinary start.
	opts.EnableEagerStart = true
	_, err = c.ExecuteWorkflow(ctx, opts, Conversion, req)
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return true, nil
	}
	return false, err
}

// startOptions start a workflow whose ID may be used once: a second start with the same ID, while
// it runs or within retention, fails with WorkflowExecutionAlreadyStarted.
func startOptions(id string, sa conversionAttributes) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                TaskQueue,
		WorkflowIDReusePolicy:                    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(sa.updates()...),
	}
}

// ReviewConversion sends an admin's decision on a held conversion to its workflow as an Update
// (UpdateApprove, or UpdateReject with the admin's reason) and waits, at most until ctx ends, for
// the decision to be stored; it returns the conversion as it now is. The update ID is the
// conversion's and the decision's, so a retried request gets the first one's outcome instead of a
// second decision. Errors are domain errors: Conflict when the conversion is not held (the
// validator refused, or its workflow has closed), Unavailable when ctx ended first (no worker took
// it in time: the decision may still apply).
func ReviewConversion(ctx context.Context, c client.Client, conv *domain.Conversion, approve bool, reason string) (*domain.Conversion, error) {
	name, args := UpdateReject, []any{reason}
	if approve {
		name, args = UpdateApprove, nil
	}
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   conv.WorkflowID,
		UpdateID:     conv.ID + "/" + name,
		UpdateName:   name,
		Args:         args,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var out domain.Conversion
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if err == nil {
		return &out, nil
	}
	return nil, reviewError(ctx, err, conv)
}

// reviewError maps what UpdateWorkflow returned to a domain error.
func reviewError(ctx context.Context, err error, conv *domain.Conversion) error {
	var app *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	var deadline *serviceerror.DeadlineExceeded
	switch {
	case ctx.Err() != nil || errors.As(err, &deadline) || errors.Is(err, context.DeadlineExceeded):
		return domain.Errorf(domain.Unavailable, "worker: the decision was not applied in time (no worker took it); "+
			"it may still apply: send the same request again to learn the outcome")
	case errors.As(err, &app) && app.Type() == ErrTypeNotPending:
		return domain.Errorf(domain.Conflict, "%s", app.Message())
	case errors.As(err, &notFound) || conv.Status != domain.ConversionPending:
		// The workflow has closed (decided, expired, or never held), or it never took decisions.
		return domain.Errorf(domain.Conflict, "status: conversion is %s, not pending", conv.Status)
	}
	return err
}
