package workflows

import (
	"strconv"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/trackflow/trackflow/domain"
	"github.com/trackflow/trackflow/store"
)

// Temporal user metadata: what the UI shows of a workflow without decoding its payloads. It holds
// ids, statuses and commissions, never a visitor's IP or user agent.

// startSummary is a conversion workflow's fixed one-line summary (StaticSummary): what was
// received. What became of it is in its current details (setDetails).
func startSummary(req domain.ConversionRequest) string {
	parts := []string{"conversion", "offer " + strconv.FormatInt(req.OfferID, 10)}
	if req.InvoiceID != "" {
		parts = append(parts, "invoice "+req.InvoiceID)
	}
	if req.AffID != 0 {
		parts = append(parts, "affiliate "+strconv.FormatInt(req.AffID, 10))
	}
	return strings.Join(append(parts, req.Source), " · ")
}

// startDetails are a conversion workflow's fixed details (StaticDetails, Markdown).
func startDetails(req domain.ConversionRequest) string {
	return "Conversion `" + req.ConversionID + "` received by `" + req.Source + "` for offer " +
		strconv.FormatInt(req.OfferID, 10) + ". Its state is in the current details and the " +
		"`ConversionStatus` search attribute; the admin API has the full record."
}

// conversionLine is one line about a conversion as it now is, e.g.
// "approved · 2.00 USD to affiliate 7 · cookie".
func conversionLine(c domain.Conversion) string {
	status := c.Status
	if c.Reason != nil {
		status += " (" + *c.Reason + ")"
	}
	money := c.Commission.String() + " " + c.Currency
	if c.AffID != nil {
		money += " to affiliate " + strconv.FormatInt(*c.AffID, 10)
	}
	method := "unattributed"
	if c.AttributionMethod != nil {
		method = *c.AttributionMethod
	}
	return status + " · " + money + " · " + method
}

// duplicateLine is the state of a conversion workflow that found its invoice already used.
const duplicateLine = "duplicate: invoice already used"

// stateAttributes are the search attributes of a conversion's state, upserted wherever it changes:
// its status (ConversionStatus) and its line (ConversionSummary, what the UI's workflow list
// shows in that column; the same text as the current details, without their note).
func stateAttributes(c domain.Conversion) []temporal.SearchAttributeUpdate {
	return conversionAttributes{Status: c.Status, Summary: conversionLine(c)}.updates()
}

// setDetails keeps the UI's current details of a workflow at its conversion's state, with an
// optional note (such as when a hold expires). It writes no command, so it needs no version.
func setDetails(ctx workflow.Context, c domain.Conversion, note string) {
	line := conversionLine(c)
	if note != "" {
		line += " · " + note
	}
	workflow.SetCurrentDetails(ctx, line)
}

// pixelSummary names a pixel activity in the UI by its method and target host.
func pixelSummary(event string, p store.Pixel) string {
	// The host by hand: workflowcheck counts net/url as non-deterministic.
	host := p.URL
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:] // never show userinfo
	}
	method := p.Method
	if method == "" {
		method = "GET"
	}
	return event + " pixel " + strconv.FormatInt(p.ID, 10) + ": " + method + " " + host
}
