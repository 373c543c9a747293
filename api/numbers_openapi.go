package api

// The OpenAPI description of the number routes (routesNumbers).

// oaNumbersPaths adds the number operations; addV1 adds a v1 path and its
// .json form.
func oaNumbersPaths(add func(path, method string, op oaObj), addV1 func(path, method string, op func(jsonForm bool) oaObj)) {
	numberParam := oaObj{"name": "number", "in": "path", "required": true, "schema": oaStr(""),
		"description": "a number in E.164 (%2B919876543210), its digits (919876543210) or an Indian national number (09876543210, 9876543210)"}
	addV1("/v1/Accounts/{sid}/Numbers/{number}", "get", func(jsonForm bool) oaObj {
		return oaObj{
			"tags":    []any{"Numbers"},
			"summary": oaV1Summary("A number's metadata", jsonForm),
			"description": "The number's type, telecom circle and operator, from the number series table (built in, plus " +
				"the file SWITCHYARD_NUMBER_SERIES names; Type Unknown when no series matches), and DND Yes when the number " +
				"is on the account's do-not-call list.",
			"parameters": []any{oaParamRef("sid"), numberParam},
			"responses":  oaV1Responses(jsonForm, "the number", oaRef("V1Number"), oaRef("V1NumberXML"), "429", "500"),
		}
	})

	const beta = "/v2_beta/Accounts/{sid}/IncomingPhoneNumbers"
	betaOp := func(summary, desc string, params []any, body bool, ok oaObj) oaObj {
		op := oaObj{"tags": []any{"ExoPhones"}, "summary": summary, "description": desc,
			"parameters": append([]any{oaParamRef("sid")}, params...),
			"responses":  oaV1Responses(true, "OK", ok, nil, "409", "413", "415", "429", "500")}
		if body {
			form := oaRef("IncomingPhoneNumberForm")
			op["requestBody"] = oaObj{"required": true, "content": oaObj{
				"application/x-www-form-urlencoded": oaObj{"schema": form},
				"multipart/form-data":               oaObj{"schema": form},
			}}
		}
		return op
	}
	add(beta, "get", betaOp("List ExoPhones (v2_beta)",
		"Exotel's v2_beta listing, JSON only, by number, Page from 0 and PageSize (default 50, at most 100).",
		[]any{oaQuery("Page", "from 0", oaObj{"type": "integer", "minimum": 0}),
			oaQuery("PageSize", "default 50", oaObj{"type": "integer", "minimum": 1, "maximum": numbersMaxPageSize})},
		false, oaRef("IncomingPhoneNumberPage")))
	add(beta, "post", betaOp("Add an ExoPhone (v2_beta)",
		"PhoneNumber joins the account, with the flow VoiceUrl names (published, of the account) and FriendlyName. "+
			"A number held by any account is 409. SMSUrl is refused: no flows run for inbound SMS.",
		nil, true, oaRef("IncomingPhoneNumber")))
	add(beta+"/{number}", "get", betaOp("Get an ExoPhone (v2_beta)", "The sid is the number's E.164 digits.",
		[]any{numberParam}, false, oaRef("IncomingPhoneNumber")))
	add(beta+"/{number}", "put", betaOp("Assign an ExoPhone to a flow, or rename it (v2_beta)",
		"VoiceUrl assigns a published flow (empty unassigns); FriendlyName renames. At least one.",
		[]any{numberParam}, true, oaRef("IncomingPhoneNumber")))
	add(beta+"/{number}", "delete", betaOp("Release an ExoPhone (v2_beta)",
		"The number leaves the account; its calls keep their records. 200 with the number as it was.",
		[]any{numberParam}, false, oaRef("IncomingPhoneNumber")))

	const v2 = "/v2/accounts/{sid}/incoming-phone-numbers"
	add(v2, "get", oaManage("ExoPhones", "List ExoPhones (v2)", "By number, in the v2 envelope.",
		append(oaParams(), oaPageParams()...), nil, oaListOK("IncomingPhoneNumber"), false))
	add(v2+"/{number}", "get", oaManage("ExoPhones", "Get an ExoPhone (v2)", "",
		[]any{oaParamRef("sid"), numberParam}, nil, oaSingle("incoming_phone_number", oaRef("IncomingPhoneNumber"), false), false))
}

func oaNumbersSchemas() oaObj {
	v1number := oaObj{
		"PhoneNumber":  oaStr("E.164"),
		"Circle":       oaStr("telecom circle code (KA, MH, DL, ...); empty when not known"),
		"CircleName":   oaStr(""),
		"Type":         oaEnum("", "Mobile", "Landline", "TollFree", "Unknown"),
		"Operator":     oaStr("operator code; empty when not known"),
		"OperatorName": oaStr(""),
		"DND":          oaEnum("on the account's do-not-call list", "Yes", "No"),
	}
	number := oaObject([]string{"sid", "phone_number"}, oaObj{
		"sid":               oaStr("the number's E.164 digits"),
		"account_sid":       oaStr(""),
		"phone_number":      oaStr("E.164"),
		"friendly_name":     oaStr("the number itself when none was given"),
		"phone_number_type": oaEnum("", "Mobile", "Landline", "TollFree", "Unknown"),
		"capabilities":      oaObject(nil, oaObj{"voice": oaBool(""), "sms": oaBool("")}),
		"country":           oaStr("ISO code, when known"),
		"region":            oaStr("telecom circle, when known"),
		"voice_url":         oaNullable(oaStr("the assigned flow's URL")),
		"sms_url":           oaNullable(oaStr("always null")),
		"date_created":      oaStr("YYYY-MM-DD HH:mm:ss, IST"),
		"date_updated":      oaStr("YYYY-MM-DD HH:mm:ss, IST"),
		"uri":               oaStr(""),
	})
	nullableURI := oaNullable(oaStr(""))
	return oaObj{
		"V1Number":            oaObject([]string{"Numbers"}, oaObj{"Numbers": oaObject(nil, v1number)}),
		"V1NumberXML":         oaObject(nil, oaObj{"Numbers": oaObject(nil, v1number)}),
		"IncomingPhoneNumber": number,
		"IncomingPhoneNumberPage": oaObject([]string{"incoming_phone_numbers"}, oaObj{
			"page": oaInt(""), "page_size": oaInt(""), "uri": oaStr(""), "first_page_uri": oaStr(""),
			"next_page_uri": nullableURI, "previous_page_uri": nullableURI,
			"incoming_phone_numbers": oaArray(oaRef("IncomingPhoneNumber"), ""),
		}),
		"IncomingPhoneNumberForm": oaObject(nil, oaObj{
			"PhoneNumber":  oaStr("POST only, required"),
			"VoiceUrl":     oaStr("http(s)://<host>/<AccountSid>/exoml/start_voice/<flow_id>; empty unassigns (PUT)"),
			"FriendlyName": oaStr("at most 200 characters"),
			"SMSUrl":       oaStr("refused when not empty"),
		}),
	}
}
