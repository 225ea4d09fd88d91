package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// handlers answer each page once the session (and, for a POST, the CSRF token) is checked.
var handlers map[string]func(*request)

func init() {
	handlers = map[string]func(*request){
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
	fields := offerFields(true)
	code, apiErr := http.StatusOK, ""
	var values map[string]any
	if q.r.Method == http.MethodPost {
		res := q.api(http.MethodPost, "/api/v1/offers", formBody(fields, q.r.PostForm))
		if res.OK() {
			q.redirect("/console/offer?id=" + toString(jsonMap(res)["id"]) + "&created=1")
			return
		}
		code, apiErr, values = res.Code, res.Message(), formValues(fields, q.r.PostForm)
	}
	list, err := q.c.cfg.Store.ListOffers(q.r.Context(), 200)
	if err != nil {
		q.fail(http.StatusInternalServerError, "offers: could not be listed")
		return
	}
	f, general := fill(fields, values, apiErr)
	q.render(code, "offers", "Offers", map[string]any{"Offers": list, "Fields": f, "Error": general})
}

// offer edits one offer (PATCH /api/v1/offers/:id) and shows its tracking code.
func offer(q *request) {
	id, ok := positiveID(q.r, "id")
	if !ok {
		q.fail(http.StatusNotFound, "offer: not found")
		return
	}
	path := "/api/v1/offers/" + strconv.FormatInt(id, 10)
	fields := offerFields(false)
	code, apiErr, notice, overrideErr := http.StatusOK, "", "", ""
	var values, overrideValues map[string]any
	if q.r.Method == http.MethodPost && q.r.PostForm.Get("action") == "payout" {
		body := formBody(payoutOverrideFields, q.r.PostForm)
		delete(body, "aff_id")
		res := q.api(http.MethodPut, path+"/payouts/"+url.PathEscape(q.r.PostForm.Get("aff_id")), body)
		if res.OK() {
			q.redirect("/console/offer?id=" + strconv.FormatInt(id, 10) + "&saved=1")
			return
		}
		code, overrideErr, overrideValues = res.Code, res.Message(), formValues(payoutOverrideFields, q.r.PostForm)
	} else if q.r.Method == http.MethodPost {
		res := q.api(http.MethodPatch, path, formBody(fields, q.r.PostForm))
		if res.OK() {
			q.redirect("/console/offer?id=" + strconv.FormatInt(id, 10) + "&saved=1")
			return
		}
		code, apiErr, values = res.Code, res.Message(), formValues(fields, q.r.PostForm)
	}
	res := q.api(http.MethodGet, path, nil)
	if !res.OK() {
		q.fail(res.Code, res.Message())
		return
	}
	o := jsonMap(res)
	if values == nil {
		values = o
	}
	switch {
	case q.r.URL.Query().Get("created") != "":
		notice = "Offer created."
	case q.r.URL.Query().Get("saved") != "":
		notice = "Saved."
	}
	tcPath := path + "/tracking-code"
	if aff := q.r.URL.Query().Get("aff_id"); aff != "" {
		tcPath += "?aff_id=" + url.QueryEscape(aff)
	}
	tc := q.api(http.MethodGet, tcPath, nil)
	f, general := fill(fields, values, apiErr)
	data := map[string]any{"Offer": o, "Fields": f, "Error": general, "Notice": notice, "AffID": q.r.URL.Query().Get("aff_id")}
	data["OverrideFields"], data["OverrideError"] = fill(payoutOverrideFields, overrideValues, overrideErr)
	if tc.OK() {
		data["Code"] = jsonMap(tc)
	} else {
		data["CodeError"] = tc.Message()
	}
	q.render(code, "offer", "Offer "+toString(o["name"]), data)
}

// advertisers creates an advertiser and shows its postback token, once.
func advertisers(q *request) {
	code, apiErr := http.StatusOK, ""
	var values, created map[string]any
	if q.r.Method == http.MethodPost {
		res := q.api(http.MethodPost, "/api/v1/advertisers", formBody(advertiserFields, q.r.PostForm))
		if res.OK() {
			created = jsonMap(res)
		} else {
			code, apiErr, values = res.Code, res.Message(), formValues(advertiserFields, q.r.PostForm)
		}
	}
	f, general := fill(advertiserFields, values, apiErr)
	q.render(code, "advertisers", "Advertisers", map[string]any{"Fields": f, "Error": general, "Created": created})
}

// affiliates lists the affiliates and creates one.
func affiliates(q *request) {
	code, apiErr := http.StatusOK, ""
	var values map[string]any
	if q.r.Method == http.MethodPost {
		res := q.api(http.MethodPost, "/api/v1/affiliates", formBody(affiliateFields, q.r.PostForm))
		if res.OK() {
			q.redirect("/console/affiliate?id=" + toString(jsonMap(res)["id"]))
			return
		}
		code, apiErr, values = res.Code, res.Message(), formValues(affiliateFields, q.r.PostForm)
	}
	list, err := q.c.cfg.Store.ListAffiliates(q.r.Context(), 200)
	if err != nil {
		q.fail(http.StatusInternalServerError, "affiliates: could not be listed")
		return
	}
	f, general := fill(affiliateFields, values, apiErr)
	q.render(code, "affiliates", "Affiliates", map[string]any{"Affiliates": list, "Fields": f, "Error": general})
}

// affiliate shows one affiliate and its pixels: pause or activate it, add a pixel.
func affiliate(q *request) {
	id, ok := positiveID(q.r, "id")
	if !ok {
		q.fail(http.StatusNotFound, "affiliate: not found")
		return
	}
	sid := strconv.FormatInt(id, 10)
	code, apiErr := http.StatusOK, ""
	var values, createdPixel map[string]any
	if q.r.Method == http.MethodPost {
		switch q.r.PostForm.Get("action") {
		case "pause", "activate":
			status := map[string]string{"pause": "paused", "activate": "active"}[q.r.PostForm.Get("action")]
			res := q.api(http.MethodPatch, "/api/v1/affiliates/"+sid, map[string]any{"status": status})
			if !res.OK() {
				q.fail(res.Code, res.Message())
				return
			}
			q.redirect("/console/affiliate?id=" + sid)
			return
		default:
			res := q.api(http.MethodPost, "/api/v1/affiliates/"+sid+"/pixels", formBody(pixelFields, q.r.PostForm))
			if res.OK() {
				createdPixel = jsonMap(res)
			} else {
				code, apiErr, values = res.Code, res.Message(), formValues(pixelFields, q.r.PostForm)
			}
		}
	}
	a, err := q.c.cfg.Store.Affiliate(q.r.Context(), id)
	if err != nil {
		q.fail(http.StatusNotFound, "affiliate: not found")
		return
	}
	pixels, err := q.c.cfg.Store.Pixels(q.r.Context(), id)
	if err != nil {
		q.fail(http.StatusInternalServerError, "pixels: could not be listed")
		return
	}
	f, general := fill(pixelFields, values, apiErr)
	q.render(code, "affiliate", "Affiliate "+a.Name, map[string]any{"Affiliate": a, "Pixels": pixels,
		"Fields": f, "Error": general, "CreatedPixel": createdPixel})
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
	in := q.r.URL.Query()
	qs := url.Values{}
	for _, f := range conversionFilters {
		if v := in.Get(f.Name); v != "" {
			qs.Set(f.Name, v)
		}
	}
	res := q.api(http.MethodGet, "/api/v1/conversions?"+qs.Encode(), nil)
	values := formValues(conversionFilters, in)
	data := map[string]any{}
	code, apiErr := http.StatusOK, ""
	if res.OK() {
		data["Items"] = jsonMap(res)["items"]
	} else {
		code, apiErr = res.Code, res.Message()
	}
	data["Fields"], data["Error"] = fill(conversionFilters, values, apiErr)
	q.render(code, "conversions", "Conversions", data)
}

// conversion shows one conversion and its deliveries; approve, reject and reverse call the API.
func conversion(q *request) {
	id := q.r.URL.Query().Get("id")
	path := "/api/v1/conversions/" + url.PathEscape(id)
	var notice, actionErr string
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
	if d := q.r.URL.Query().Get("done"); d != "" {
		notice = "Sent: " + d + "."
	}
	data := map[string]any{"C": conv, "Notice": notice, "ActionError": actionErr}
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

// reports shows GET /api/v1/reports as a table, and a chart of clicks and conversions per day.
func reports(q *request) {
	in := q.r.URL.Query()
	qs := url.Values{}
	for _, f := range reportFields {
		if v := in.Get(f.Name); v != "" {
			qs.Set(f.Name, v)
		}
	}
	if qs.Get("group_by") == "" {
		qs.Set("group_by", "day")
	}
	if qs.Get("from") == "" && qs.Get("to") == "" {
		today := q.c.now().UTC()
		qs.Set("from", today.AddDate(0, 0, -13).Format(time.DateOnly))
		qs.Set("to", today.Format(time.DateOnly))
	}
	res := q.api(http.MethodGet, "/api/v1/reports?"+qs.Encode(), nil)
	values := formValues(reportFields, qs)
	data := map[string]any{}
	code, apiErr := http.StatusOK, ""
	if res.OK() {
		rep := jsonMap(res)
		items, _ := rep["items"].([]any)
		data["Items"], data["Group"] = items, rep["group_by"]
		if rep["group_by"] == "day" {
			data["Chart"] = dayChart(items)
		}
	} else {
		code, apiErr = res.Code, res.Message()
	}
	data["Fields"], data["Error"] = fill(reportFields, values, apiErr)
	q.render(code, "reports", "Reports", data)
}
