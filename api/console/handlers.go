package console

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/trackflow/trackflow/domain"
)

// handlers answer each page once the session (and, for a POST, the CSRF token) is checked.
var handlers = map[string]func(*request){
	"sign-out":    signOut,
	"offers":      offers,
	"offer":       offer,
	"advertisers": advertisers,
	"affiliates":  affiliates,
	"affiliate":   affiliate,
	"conversions": conversions,
	"conversion":  conversion,
	"reports":     reports,
}

func signOut(q *request) {
	if q.r.Method != http.MethodPost {
		q.fail(http.StatusMethodNotAllowed, "method: sign out with the button")
		return
	}
	q.c.setCookie(q.w, q.r, "", time.Time{})
	q.redirect("/console/sign-in")
}

// offers lists the offers and creates one (POST /api/v1/offers).
func offers(q *request) {
	listAndCreate(q, offerFields(true), "/api/v1/offers", "/console/offer?created=1&id=", "Offers",
		func(ctx context.Context) (any, error) { return q.c.cfg.Store.ListOffers(ctx, 200) })
}

// affiliates lists the affiliates and creates one (POST /api/v1/affiliates).
func affiliates(q *request) {
	listAndCreate(q, affiliateFields, "/api/v1/affiliates", "/console/affiliate?id=", "Affiliates",
		func(ctx context.Context) (any, error) { return q.c.cfg.Store.ListAffiliates(ctx, 200) })
}

// listAndCreate answers a page that lists objects (template data "List") above a form that
// creates one through the API route create: a refused form is shown again with the API's
// message beside its field, an accepted one leads to the new object's page (next + its id).
func listAndCreate(q *request, fields []Field, create, next, title string, list func(context.Context) (any, error)) {
	f := newForm(fields)
	if q.r.Method == http.MethodPost {
		if obj := q.send(f, http.MethodPost, create); obj != nil {
			q.redirect(next + toString(obj["id"]))
			return
		}
	}
	items, err := list(q.r.Context())
	if err != nil {
		q.fail(http.StatusInternalServerError, q.page+": could not be listed")
		return
	}
	data := map[string]any{"List": items}
	f.show(data, "", nil)
	q.render(f.code, q.page, title, data)
}

// offer edits one offer (PATCH /api/v1/offers/:id), lists and sets affiliates' payouts, adds
// events and shows the offer's tracking code.
func offer(q *request) {
	id, ok := positiveID(q.r, "id")
	if !ok {
		q.fail(http.StatusNotFound, "offer: not found")
		return
	}
	sid := strconv.FormatInt(id, 10)
	path := "/api/v1/offers/" + sid
	edit, override, event := newForm(offerFields(false)), newForm(payoutOverrideFields), newForm(eventFields)
	if q.r.Method == http.MethodPost {
		var ok bool
		switch q.r.PostForm.Get("action") {
		case "payout":
			ok = q.send(override, http.MethodPut, path+"/payouts/"+url.PathEscape(q.r.PostForm.Get("aff_id"))) != nil
		case "event":
			ok = q.send(event, http.MethodPost, path+"/events") != nil
		default:
			ok = q.send(edit, http.MethodPatch, path) != nil
		}
		if ok {
			q.redirect("/console/offer?saved=1&id=" + sid)
			return
		}
	}
	res := q.api(http.MethodGet, path, nil)
	if !res.OK() {
		q.fail(res.Code, res.Message())
		return
	}
	o := jsonMap(res)
	data := map[string]any{"Offer": o, "AffID": q.r.URL.Query().Get("aff_id")}
	switch {
	case q.r.URL.Query().Get("created") != "":
		data["Notice"] = "Offer created."
	case q.r.URL.Query().Get("saved") != "":
		data["Notice"] = "Saved."
	}
	edit.show(data, "", o)
	override.show(data, "Override", nil)
	event.show(data, "Event", nil)
	if ev := q.api(http.MethodGet, path+"/events?limit=500", nil); ev.OK() { // every event, newest first
		data["Events"] = jsonMap(ev)["items"]
	}
	if po := q.api(http.MethodGet, path+"/payouts", nil); po.OK() {
		data["Overrides"] = jsonMap(po)["items"]
	}
	tcPath := path + "/tracking-code"
	if aff := q.r.URL.Query().Get("aff_id"); aff != "" {
		tcPath += "?aff_id=" + url.QueryEscape(aff)
	}
	if tc := q.api(http.MethodGet, tcPath, nil); tc.OK() {
		data["Code"] = jsonMap(tc)
	} else {
		data["CodeError"] = tc.Message()
	}
	q.render(max(edit.code, override.code, event.code), "offer", "Offer "+toString(o["name"]), data)
}

// advertisers lists the advertisers (GET /api/v1/advertisers), creates one, and gives one a new
// postback token; a new token is shown once, in the answer to the post that made it.
func advertisers(q *request) {
	f := newForm(advertiserFields)
	data := map[string]any{}
	if q.r.Method == http.MethodPost {
		switch q.r.PostForm.Get("action") {
		case "token":
			res := q.api(http.MethodPost, "/api/v1/advertisers/"+url.PathEscape(q.r.PostForm.Get("id"))+"/postback-token", nil)
			if !res.OK() {
				q.fail(res.Code, res.Message())
				return
			}
			data["Token"], data["TokenNew"] = jsonMap(res), true
		default:
			if adv := q.send(f, http.MethodPost, "/api/v1/advertisers"); adv != nil {
				data["Token"] = adv
			}
		}
	}
	res := q.api(http.MethodGet, "/api/v1/advertisers?limit=200", nil)
	if !res.OK() {
		q.fail(res.Code, res.Message())
		return
	}
	data["List"] = jsonMap(res)["items"]
	f.show(data, "", nil)
	q.render(f.code, "advertisers", "Advertisers", data)
}

// statusActions are the affiliate page's status buttons: the affiliate's own, or one pixel's.
var statusActions = map[string]struct {
	pixel  bool
	status string
}{
	"pause": {false, "paused"}, "activate": {false, "active"},
	"pixel-pause": {true, "paused"}, "pixel-resume": {true, "active"},
}

// affiliate shows one affiliate and its pixels: pause or activate the affiliate, add a pixel,
// pause or resume one, and try one with the pixel test tool (its answer shown once).
func affiliate(q *request) {
	id, ok := positiveID(q.r, "id")
	if !ok {
		q.fail(http.StatusNotFound, "affiliate: not found")
		return
	}
	sid := strconv.FormatInt(id, 10)
	path := "/api/v1/affiliates/" + sid
	f := newForm(pixelFields)
	data := map[string]any{}
	if q.r.Method == http.MethodPost {
		pixel := path + "/pixels/" + url.PathEscape(q.r.PostForm.Get("pixel_id"))
		switch action := q.r.PostForm.Get("action"); action {
		case "pixel":
			if p := q.send(f, http.MethodPost, path+"/pixels"); p != nil {
				data["CreatedPixel"] = p
			}
		case "pixel-test":
			res := q.api(http.MethodPost, pixel+"/test", nil)
			if !res.OK() {
				q.fail(res.Code, res.Message())
				return
			}
			data["Tried"], data["TriedID"] = jsonMap(res), q.r.PostForm.Get("pixel_id")
		default:
			change, ok := statusActions[action]
			if !ok {
				q.fail(http.StatusBadRequest, "action: not an action of this page")
				return
			}
			target := path
			if change.pixel {
				target = pixel
			}
			if res := q.api(http.MethodPatch, target, map[string]any{"status": change.status}); !res.OK() {
				q.fail(res.Code, res.Message())
				return
			}
			q.redirect("/console/affiliate?id=" + sid)
			return
		}
	}
	a, err := q.c.cfg.Store.Affiliate(q.r.Context(), id)
	if domain.ErrorKind(err) == domain.NotFound {
		q.fail(http.StatusNotFound, err.Error())
		return
	}
	if err != nil {
		q.fail(http.StatusInternalServerError, "affiliate: could not be read")
		return
	}
	pixels, err := q.c.cfg.Store.Pixels(q.r.Context(), id)
	if err != nil {
		q.fail(http.StatusInternalServerError, "pixels: could not be listed")
		return
	}
	data["Affiliate"], data["Pixels"] = a, pixels
	f.show(data, "", nil)
	q.render(f.code, "affiliate", "Affiliate "+a.Name, data)
}

// conversionFilters are the list API's query parameters.
var conversionFilters = []Field{
	{Name: "offer_id", Label: "Offer ID", Kind: "number"},
	{Name: "aff_id", Label: "Affiliate ID", Kind: "number"},
	{Name: "invoice_id", Label: "Invoice", Kind: "text"},
	{Name: "status", Label: "Status", Kind: "select", Options: []string{"pending", "approved", "rejected", "reversed"}},
	{Name: "limit", Label: "Limit", Kind: "number"},
}

// conversions lists conversions with the list API's filters (GET /api/v1/conversions).
func conversions(q *request) {
	res, data := q.filtered(conversionFilters, "/api/v1/conversions", nil)
	if res.OK() {
		data["Items"] = jsonMap(res)["items"]
	}
	q.render(res.Code, "conversions", "Conversions", data)
}

// filtered calls a read route of the API with the page's query parameters that fields name
// (adjust may add defaults), and returns the answer and the page's data holding the filters'
// form: Fields, and Error for a message naming no field.
func (q *request) filtered(fields []Field, path string, adjust func(url.Values)) (apiResult, map[string]any) {
	in, qs := q.r.URL.Query(), url.Values{}
	for _, f := range fields {
		if v := in.Get(f.Name); v != "" {
			qs.Set(f.Name, v)
		}
	}
	if adjust != nil {
		adjust(qs)
	}
	res := q.api(http.MethodGet, path+"?"+qs.Encode(), nil)
	apiErr := ""
	if !res.OK() {
		apiErr = res.Message()
	}
	data := map[string]any{}
	data["Fields"], data["Error"] = fill(fields, formValues(fields, qs), apiErr)
	return res, data
}

// doneNotices confirm a review action after its redirect: approve and reject answer once the
// decision is stored, a reversal runs in a workflow of its own.
var doneNotices = map[string]string{
	"approve": "Approved.",
	"reject":  "Rejected.",
	"reverse": "Reversal sent: the conversion becomes reversed once its workflow has run.",
}

// conversion shows one conversion and its deliveries; approve, reject and reverse call the API.
func conversion(q *request) {
	id := q.r.URL.Query().Get("id")
	if id == "" { // else the API's path would end in a slash, which the router redirects
		q.fail(http.StatusNotFound, "conversion: not found")
		return
	}
	path := "/api/v1/conversions/" + url.PathEscape(id)
	var actionErr string
	code := http.StatusOK
	if q.r.Method == http.MethodPost {
		action := q.r.PostForm.Get("action")
		if action != "approve" && action != "reject" && action != "reverse" {
			q.fail(http.StatusBadRequest, "action: must be approve, reject or reverse")
			return
		}
		var body map[string]any
		if reason := q.r.PostForm.Get("reason"); reason != "" && action != "approve" {
			body = map[string]any{"reason": reason}
		}
		res := q.api(http.MethodPost, path+"/"+action, body)
		if res.OK() {
			q.redirect("/console/conversion?id=" + url.QueryEscape(id) + "&done=" + action)
			return
		}
		code, actionErr = res.Code, res.Message()
	}
	res := q.api(http.MethodGet, path, nil)
	if !res.OK() {
		q.fail(res.Code, res.Message())
		return
	}
	conv := jsonMap(res)
	data := map[string]any{"C": conv, "Notice": doneNotices[q.r.URL.Query().Get("done")], "ActionError": actionErr}
	if base := q.c.cfg.TemporalUIURL; base != "" {
		data["WorkflowURL"] = base + "/namespaces/" + url.PathEscape(q.c.cfg.Namespace) + "/workflows/" +
			url.PathEscape(toString(conv["workflow_id"]))
	}
	q.render(code, "conversion", "Conversion "+id, data)
}

// reportFields are the report API's query parameters.
var reportFields = []Field{
	{Name: "group_by", Label: "Group by", Kind: "select", Options: []string{"day", "offer", "affiliate"}},
	{Name: "from", Label: "From", Kind: "date"},
	{Name: "to", Label: "To", Kind: "date"},
	{Name: "tz", Label: "Time zone", Kind: "text", Hint: "IANA, e.g. Europe/Paris"},
	{Name: "offer_id", Label: "Offer ID", Kind: "number"},
	{Name: "aff_id", Label: "Affiliate ID", Kind: "number"},
}

// reports shows GET /api/v1/reports as a table, and a chart of clicks and conversions per day;
// without a range it shows the last 14 days.
func reports(q *request) {
	res, data := q.filtered(reportFields, "/api/v1/reports", func(qs url.Values) {
		if qs.Get("group_by") == "" {
			qs.Set("group_by", "day")
		}
		if qs.Get("from") == "" && qs.Get("to") == "" {
			today := q.c.now().UTC()
			qs.Set("from", today.AddDate(0, 0, -13).Format(time.DateOnly))
			qs.Set("to", today.Format(time.DateOnly))
		}
	})
	if res.OK() {
		rep := jsonMap(res)
		items, _ := rep["items"].([]any)
		data["Items"], data["Group"] = items, rep["group_by"]
		if rep["group_by"] == "day" {
			data["Chart"] = dayChart(items)
		}
	}
	q.render(res.Code, "reports", "Reports", data)
}
