package api

import (
	"fmt"

	"github.com/switchyard/switchyard/orchestrator/store"
)

// The OpenAPI description of the Campaigns v2, Lists, Contacts and
// do-not-call routes (routesV2).

// oaV2Result is one entry of a v2 response array.
func oaV2Result(data oaObj) oaObj {
	return oaObject([]string{"code", "error_data", "status", "data"}, oaObj{
		"code":       oaInt("the item's HTTP status"),
		"error_data": oaNullable(oaObj{"allOf": []any{oaRef("ErrorData")}, "description": "null on success"}),
		"status":     oaEnum("", "success", "failure"),
		"data":       oaNullable(oaObj{"allOf": []any{data}}),
	})
}

// oaV2Items is a create's or update's answer: metadata total, success and
// failed, and a result per item; 200 when all succeeded, 207 when some
// did, else the items' status.
func oaV2Items(data oaObj) oaObj {
	body := oaEnvelope(oaRef("BulkMetadata"), oaArray(oaV2Result(data), "a result per item, in the request's order"))
	r := oaManageResponses("200", "every item succeeded", body)
	r["207"] = oaObj{"description": "some items succeeded, some failed (see each item's code)", "content": oaJSONContent(body)}
	return r
}

// oaV2One is a single object's answer: the response array's only entry.
func oaV2One(data oaObj) oaObj {
	body := oaEnvelope(oaNullable(oaTyped("object", "null")), oaArray(oaV2Result(data), "one entry"))
	return oaManageResponses("200", "OK", body)
}

func oaV2Query() oaObj {
	return oaObj{
		"page":      oaQuery("page", "legacy alias of offset: the page, from 1 (offset wins)", oaObj{"type": "integer", "minimum": 1}),
		"page_size": oaQuery("page_size", "legacy alias of limit (limit wins)", oaObj{"type": "integer", "minimum": 1, "maximum": manageMaxLimit}),
		"name":      oaQuery("name", "part of the name, any case", oaStr("")),
	}
}

func oaV2PageParams(extra ...any) []any {
	q := oaV2Query()
	return append(append(oaPageParams(), q["page"], q["page_size"]), extra...)
}

// oaV2Paths adds the v2 operations.
func oaV2Paths(add func(path, method string, op oaObj)) {
	const m = "/v2/accounts/{sid}"
	q := oaV2Query()
	sortBy := func(fields string) oaObj {
		return oaQuery("sort_by", fields+", each as field:asc or field:desc (default date_created:asc)", oaStr(""))
	}
	cp := oaParams("campaign_sid")

	add(m+"/campaigns", "post", oaManage("Campaigns", "Create campaigns",
		"Exotel's clients wrap the campaigns in an array ({\"campaigns\": [{…}]}); a single campaign at the top level is "+
			"taken too. Each is checked and created on its own: a refused field is that item's 400 (error_data names the "+
			"field), a list, flow or caller_id that does not exist its 404. Campaigns start at schedule.send_at (now if none).",
		nil, oaJSONBody("V2CampaignCreate"), oaV2Items(oaRef("V2Campaign")), false))
	add(m+"/campaigns", "get", oaManage("Campaigns", "List campaigns",
		"Oldest first unless sort_by says otherwise; deleted campaigns only when status asks for them.",
		append(oaParams(), append(oaV2PageParams(), q["name"],
			oaQuery("status", "comma-separated: Created, InProgress (in-progress), Paused, Completed, Failed, Canceled, Deleted, Archived; any case", oaStr("")),
			oaQuery("type", "trans", oaStr("")),
			sortBy("date_created or name"),
			oaQuery("parent", "a recurring campaign's id: lists its runs", oaStr("")))...),
		nil, oaListOK("V2Campaign"), false))
	add(m+"/campaigns/{campaign_sid}", "get", oaManage("Campaigns", "Get a campaign",
		"response[0].data is the campaign, with its stats.", cp, nil, oaV2One(oaRef("V2Campaign")), false))
	add(m+"/campaigns/{campaign_sid}", "put", oaManage("Campaigns", "Update a campaign, or pause, resume, complete or archive it",
		"One campaign, wrapped ({\"campaigns\": [{…}]}) or not. Before the campaign starts any field may change; after, only "+
			"status_callback, call_status_callback and call_schedule_callback (another field is 409). action moves it: pause "+
			"(from Created or InProgress), resume (from Paused), complete (from Paused: the numbers not called end as "+
			"failed-no-attempt and status_callback is sent), archive (from Completed); another status is 409.",
		cp, oaJSONBody("V2CampaignUpdate"), oaV2One(oaRef("V2Campaign")), false))
	add(m+"/campaigns/{campaign_sid}", "delete", oaManage("Campaigns", "Delete a campaign",
		"Marks it (and the runs of a recurring campaign) deleted: numbers not yet called are not called; calls in progress go on.",
		cp, nil, oaV2One(oaRef("Deleted")), false))
	report := []any{oaQuery("status", "comma-separated: completed, failed, busy, no-answer, in-progress", oaStr("")),
		sortBy("date_created")}
	add(m+"/campaigns/{campaign_sid}/call-details", "get", oaManage("Campaigns", "A campaign's calls (report)",
		"A page of the calls the campaign placed, one per attempt. With format=csv, or Accept: text/csv, the whole "+
			"report as a CSV download (as call-details.csv).",
		append(append(oaParams("campaign_sid"), oaV2PageParams()...), append(report,
			oaQuery("format", "csv for the CSV download", oaEnum("", "json", "csv")))...),
		nil, oaV2Report(oaListOK("V2CallDetail")), false))
	add(m+"/campaigns/{campaign_sid}/call-details.csv", "get", oaManage("Campaigns", "A campaign's calls as CSV",
		"Every call of the report (status and sort_by apply) with a header row: "+
			"number,name,duration,status,digits,recording_url,start_time,end_time,caller_id,direction,call_sid,date_created,attempt.",
		append(oaParams("campaign_sid"), report...), nil, oaV2Report(nil), false))

	add(m+"/contacts", "post", oaManage("Contacts", "Create contacts",
		fmt.Sprintf("{\"contacts\": [{…}]}, at most %d. Each is checked on its own (a bad number is that item's 400); "+
			"the others are created.", store.MaxContactsPerRequest),
		nil, oaJSONBody("V2ContactCreate"), oaV2Items(oaRef("V2Contact")), false))
	add(m+"/contacts", "get", oaManage("Contacts", "List contacts", "Oldest first.",
		append(oaParams(), oaV2PageParams()...), nil, oaListOK("V2Contact"), false))
	ct := oaParams("contact_sid")
	add(m+"/contacts/{contact_sid}", "get", oaManage("Contacts", "Get a contact", "", ct, nil, oaV2One(oaRef("V2Contact")), false))
	add(m+"/contacts/{contact_sid}", "put", oaManage("Contacts", "Update a contact",
		"The fields given change; custom_field replaces the custom fields (null clears them).",
		ct, oaJSONBody("V2ContactRequest"), oaV2One(oaRef("V2Contact")), false))
	add(m+"/contacts/{contact_sid}", "delete", oaManage("Contacts", "Delete a contact",
		"It leaves every list too.", ct, nil, oaV2One(oaRef("Deleted")), false))

	add(m+"/lists", "post", oaManage("Lists", "Create lists",
		"{\"lists\": [{\"name\", \"tag\"}]}; each is created on its own, a name the account already uses is that item's 409.",
		nil, oaJSONBody("V2ListCreate"), oaV2Items(oaRef("V2List")), false))
	add(m+"/lists", "get", oaManage("Lists", "List lists", "",
		append(oaParams(), append(oaV2PageParams(), q["name"], sortBy("date_created or name"))...), nil, oaListOK("V2List"), false))
	ls := oaParams("list_sid")
	add(m+"/lists/{list_sid}", "get", oaManage("Lists", "Get a list", "With its contact count.", ls, nil, oaV2One(oaRef("V2List")), false))
	add(m+"/lists/{list_sid}", "delete", oaManage("Lists", "Delete a list", "Its contacts stay in the phone book.",
		ls, nil, oaV2One(oaRef("Deleted")), false))
	add(m+"/lists/{list_sid}/contacts", "get", oaManage("Lists", "A list's contacts", "In the order they were added.",
		append(oaParams("list_sid"), oaV2PageParams()...), nil, oaListOK("V2Contact"), false))
	csvFile := oaObject([]string{"file"}, oaObj{"file": oaObj{"type": "string", "format": "binary", "description": "the CSV"}})
	add(m+"/lists/{list_sid}/contacts", "post", oaManage("Lists", "Add contacts to a list",
		"JSON {\"contact_references\": [{\"contact_sid\"}]} puts existing contacts on the list, with a result each (404 for an "+
			"unknown contact, 409 for one already on it). A CSV, as the body (text/csv) or the file field of a "+
			"multipart/form-data upload (at most 60 MB), creates its contacts and adds them, all or none: the header row names "+
			"the columns, number (required), first_name, last_name, company_name, email, tag and timezone (an IANA zone); any "+
			"other column is a custom field. A bad row makes it 400, each bad row reported with its line; nothing is created.",
		ls, oaObj{"required": true, "content": oaObj{
			"application/json":    oaObj{"schema": oaRef("V2ContactReferences")},
			"text/csv":            oaObj{"schema": oaStr("the CSV")},
			"multipart/form-data": oaObj{"schema": csvFile},
		}}, oaV2Items(oaObj{"oneOf": []any{oaRef("V2ListRef"), oaRef("V2Contact"), oaRef("V2CSVLine")}}), false))

	add(m+"/dnd-numbers", "get", oaManage("Do-not-call", "List do-not-call numbers", "In the order added.",
		append(oaParams(), oaV2PageParams()...), nil, oaListOK("V2DND"), false))
	add(m+"/dnd-numbers", "post", oaManage("Do-not-call", "Add do-not-call numbers",
		"Campaigns settle these numbers as failed-dnd instead of calling them (matched by their digits). Each number is "+
			"checked on its own; one already on the list stays as it was.",
		nil, oaJSONBody("V2DNDRequest"), oaV2Items(oaRef("V2DND")), false))
	add(m+"/dnd-numbers/{dnd_number}", "delete", oaManage("Do-not-call", "Remove a do-not-call number", "",
		oaParams("dnd_number"), nil, oaV2One(oaRef("Deleted")), false))
}

// oaV2Report adds the CSV answer to a report's responses (json: the JSON
// ones, or nil for the CSV only).
func oaV2Report(json oaObj) oaObj {
	csv := oaObj{"text/csv": oaObj{"schema": oaStr("CSV with a header row")}}
	if json == nil {
		json = oaManageResponses("200", "", oaObj{})
		json["200"] = oaObj{"description": "the report (Content-Disposition: attachment)", "content": csv}
		return json
	}
	ok := json["200"].(oaObj)
	ok["content"].(oaObj)["text/csv"] = csv["text/csv"]
	return json
}

func oaV2Parameters() oaObj {
	path := func(name, desc string) oaObj {
		return oaObj{"name": name, "in": "path", "required": true, "description": desc, "schema": oaStr("")}
	}
	return oaObj{
		"campaign_sid": path("campaign_sid", "the campaign's id (cp_…)"),
		"contact_sid":  path("contact_sid", "the contact's SID (ct_…)"),
		"list_sid":     path("list_sid", "the list's SID (ls_…)"),
		"dnd_number":   path("dnd_number", "the number, its + escaped (%2B919800000001) or left out"),
	}
}

func oaV2Schemas() oaObj {
	dt := func(desc string) oaObj {
		return oaObj{"type": "string", "format": "date-time", "description": desc + " (RFC 3339, IST)"}
	}
	retries := oaObject(nil, oaObj{
		"number_of_retries": oaObj{"type": "integer", "minimum": 0, "maximum": 3},
		"interval_mins":     oaObj{"type": "integer", "minimum": 1, "description": "required with retries"},
		"mechanism":         oaEnum("", "Linear", "Exponential"),
		"on_status":         oaArray(oaEnum("", "busy", "no-answer", "failed"), "default: all three"),
	})
	window := oaObject(nil, oaObj{"start": oaStr("HH:MM, local to the contact (default 09:00)"), "end": oaStr("HH:MM (default 21:00; 24:00 for midnight)")})
	spec := oaObj{
		"from":                   oaObj{"description": "the numbers to call, 1 to 5000: an array, or a comma-separated string", "oneOf": []any{oaArray(oaStr(""), ""), oaStr("")}},
		"lists":                  oaArray(oaStr("list SID"), "at most 5 for static, exactly 1 for dynamic"),
		"caller_id":              oaStr("an ExoPhone of the account (E.164, or as Exotel writes it: 08047000000)"),
		"url":                    oaStr("the flow: http://<host>/<AccountSid>/exoml/start_voice/<flow_id>"),
		"campaign_type":          oaEnum("", "static", "dynamic"),
		"flow_type":              oaEnum("instead of url: the campaign builds a flow that speaks read_via_text (ivr also takes one key)", "ivr", "greeting"),
		"read_via_text":          oaStr("what the built flow says; @@Column is spoken as the contact's value (@@first_name, a custom CSV column)"),
		"repeat_menu_attempts":   oaInt("ivr: how many more times the text is said when no key comes (0 to 9)"),
		"name":                   oaStr("more than 3 characters; default \"<AccountSid> <date> <time>\""),
		"type":                   oaEnum("", "trans"),
		"call_duplicate_numbers": oaBool("default false"),
		"retries":                retries,
		"schedule": oaObject(nil, oaObj{
			"send_at":    dt("start; default now"),
			"end_at":     dt("stop, even with numbers left; default send_at + 30 days"),
			"recurrence": oaStr("Switchyard: a cron expression (minute hour day month weekday, in timezone): each firing starts a run"),
		}),
		"status_callback":        oaStr("URL: POSTed when the campaign starts and ends"),
		"call_status_callback":   oaStr("URL: POSTed after each call"),
		"call_schedule_callback": oaStr("URL: POSTed when a number is done (retries included)"),
		"mode":                   oaEnum("", "auto", "custom"),
		"throttle":               oaInt("calls per minute (mode custom), up to the account's rate"),
		"max_concurrent":         oaInt("Switchyard: at most this many live calls (default the account's cap)"),
		"calling_window":         window,
		"timezone":               oaStr("Switchyard: IANA zone of the recurrence and of contacts without one (default Asia/Kolkata)"),
		"custom_field":           oaObj{"description": "passed to the flow", "oneOf": []any{oaStr(""), oaTyped("object", "")}},
	}
	update := oaObj{"action": oaEnum("", "pause", "resume", "complete", "archive")}
	for k, v := range spec {
		update[k] = v
	}
	stats := oaObj{}
	for _, k := range store.StatsKeys {
		stats[k] = oaInt("")
	}
	contact := oaObj{
		"number":       oaStr("E.164, national, or a sip: URI"),
		"first_name":   oaStr(""),
		"last_name":    oaStr(""),
		"company_name": oaStr(""),
		"email":        oaStr(""),
		"tag":          oaStr(""),
		"custom_field": oaObj{"type": "object", "additionalProperties": oaStr(""), "description": "free-form fields (also accepted as custom)"},
		"timezone":     oaStr("Switchyard: the contact's IANA zone, for calling windows"),
	}
	contactOut := oaObj{"sid": oaStr("")}
	for k, v := range contact {
		contactOut[k] = v
	}
	contactOut["timezone"] = oaNullable(oaStr("null: the campaign's"))
	contactOut["date_created"], contactOut["date_updated"], contactOut["uri"] = dt(""), dt(""), oaStr("")
	wrapped := func(key, item string, desc string) oaObj {
		return oaObj{"description": desc, "oneOf": []any{
			oaObject([]string{key}, oaObj{key: oaArray(oaRef(item), "")}),
			oaRef(item),
		}}
	}
	return oaObj{
		"BulkMetadata": oaObject([]string{"total", "success", "failed"}, oaObj{
			"total": oaInt("items in the request"), "success": oaInt(""), "failed": oaInt(""),
		}),
		"V2CampaignRequest": oaObject(nil, spec),
		"V2CampaignCreate":  wrapped("campaigns", "V2CampaignRequest", "{\"campaigns\": [campaign, …]} or one campaign"),
		"V2CampaignUpdate": oaObj{"description": "{\"campaigns\": [update]} or the update", "oneOf": []any{
			oaObject([]string{"campaigns"}, oaObj{"campaigns": oaObj{"type": "array", "minItems": 1, "maxItems": 1, "items": oaObject(nil, update)}}),
			oaObject(nil, update),
		}},
		"V2Campaign": oaObject([]string{"id", "account_sid", "name", "status", "stats", "uri"}, oaObj{
			"id": oaStr("cp_…"), "account_sid": oaStr(""), "name": oaStr(""), "type": oaStr(""), "caller_id": oaStr(""),
			"campaign_type": oaStr(""), "from": oaArray(oaStr(""), ""), "lists": oaArray(oaStr(""), ""), "url": oaStr(""),
			"flow_type": oaNullable(oaStr("")), "read_via_text": oaNullable(oaStr("")), "repeat_menu_attempts": oaInt(""),
			"retries": retries,
			"schedule": oaObject(nil, oaObj{"send_at": oaNullable(dt("")), "end_at": oaNullable(dt("")),
				"recurrence": oaNullable(oaStr("")), "next_run_at": dt("recurring campaigns: the next run")}),
			"status_callback": oaNullable(oaStr("")), "call_status_callback": oaNullable(oaStr("")),
			"call_schedule_callback": oaNullable(oaStr("")), "mode": oaStr(""),
			"throttle": oaNullable(oaInt("null: the account's rate")), "max_concurrent": oaNullable(oaInt("null: the account's cap")),
			"calling_window": window, "timezone": oaStr(""),
			"custom_field":           oaNullable(oaObj{"oneOf": []any{oaStr(""), oaTyped("object", "")}}),
			"call_duplicate_numbers": oaBool(""), "date_created": dt(""), "date_updated": dt(""),
			"date_started": oaNullable(dt("")), "date_ended": oaNullable(dt("")),
			"status":              oaEnum("", store.CampaignCreated, store.CampaignInProgress, store.CampaignPaused, store.CampaignCompleted, store.CampaignFailed, store.CampaignCanceled, store.CampaignDeleted, store.CampaignArchived),
			"stats":               oaObject(nil, stats),
			"parent_campaign_sid": oaStr("a run of a recurring campaign: that campaign"),
			"run":                 oaInt("a run of a recurring campaign: its number"),
			"uri":                 oaStr(""),
		}),
		"V2CallDetail": oaObject(nil, oaObj{
			"number": oaStr(""), "name": oaNullable(oaStr("the contact's")), "duration": oaInt("seconds"),
			"status": oaEnum("", "completed", "failed", "busy", "no-answer", "in-progress"),
			"digits": oaNullable(oaStr("")), "recording_url": oaNullable(oaStr("")),
			"start_time": oaNullable(dt("")), "end_time": oaNullable(dt("")), "caller_id": oaStr(""),
			"direction": oaEnum("", "Outgoing"), "call_sid": oaStr(""), "date_created": dt(""),
			"attempt": oaInt("Switchyard: 1 for the first call of the number, 2 for its first retry, …"),
		}),
		"V2ContactRequest": oaObject(nil, contact),
		"V2ContactCreate":  wrapped("contacts", "V2ContactRequest", "{\"contacts\": [contact, …]} or one contact"),
		"V2Contact":        oaObject([]string{"sid", "number"}, contactOut),
		"V2ListRequest":    oaObject([]string{"name"}, oaObj{"name": oaStr("unique in the account, 1 to 200 characters"), "tag": oaStr("")}),
		"V2ListCreate":     wrapped("lists", "V2ListRequest", "{\"lists\": [list, …]} or one list"),
		"V2List": oaObject([]string{"sid", "name"}, oaObj{"sid": oaStr("ls_…"), "name": oaStr(""), "tag": oaStr(""),
			"contact_count": oaInt(""), "date_created": dt(""), "date_updated": dt(""), "uri": oaStr("")}),
		"V2ContactReferences": oaObject([]string{"contact_references"}, oaObj{"contact_references": oaArray(
			oaObject([]string{"contact_sid"}, oaObj{"contact_sid": oaStr("")}), fmt.Sprintf("at most %d", store.MaxContactsPerRequest))}),
		"V2ListRef": oaObject(nil, oaObj{"list_id": oaStr(""), "sid": oaStr("the contact's SID, as contact_sid"), "contact_sid": oaStr("")}),
		"V2CSVLine": oaObject([]string{"line"}, oaObj{"line": oaInt("a bad row's line in the CSV (the header is line 1)")}),
		"V2DNDRequest": oaObject([]string{"numbers"}, oaObj{
			"numbers": oaArray(oaStr(""), fmt.Sprintf("1 to %d", store.MaxContactsPerRequest)), "reason": oaStr(""),
		}),
		"V2DND": oaObject([]string{"number"}, oaObj{"number": oaStr(""), "reason": oaNullable(oaStr("")), "date_created": dt("")}),
	}
}
