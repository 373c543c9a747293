package api

// The OpenAPI description of the SMS routes (routesSMS).

// oaSMSPaths adds the SMS operations; addV1 adds a v1 path and its .json
// form.
func oaSMSPaths(addV1 func(path, method string, op func(jsonForm bool) oaObj)) {
	send := func(jsonForm bool) oaObj {
		form := oaRef("V1SMSRequest")
		return oaObj{
			"tags":    []any{"SMS v1"},
			"summary": oaV1Summary("Send an SMS", jsonForm),
			"description": "Queues one SMS per To and answers at once with Status queued (DetailedStatusCode 21010). " +
				"The message is sent in the background, temporary failures retried; StatusCallback gets a form POST " +
				"(SmsSid, To, Status, SmsUnits, DetailedStatus, DetailedStatusCode, DateSent, CustomField) when it is " +
				"final. One To answers one SMSMessage; several (repeated To, To[] or To[0..n], at most 100) answer " +
				"one SMSMessage per To, in order: in JSON a list of {\"SMSMessage\": …}, in XML repeated <SMSMessage> " +
				"elements. 503: no SMS sender is configured.",
			"parameters": []any{oaParamRef("sid")},
			"requestBody": oaObj{"required": true, "content": oaObj{
				"application/x-www-form-urlencoded": oaObj{"schema": form},
				"multipart/form-data":               oaObj{"schema": form},
			}},
			"responses": oaV1Responses(jsonForm, "the queued message(s)",
				oaObj{"oneOf": []any{oaRef("V1SMSResponse"), oaArray(oaRef("V1SMSResponse"), "several To")}},
				oaRef("V1SMSResponseXML"), "413", "415", "429", "500", "503"),
		}
	}
	// Exotel's own samples write SMS/send, most clients Sms/send.
	addV1("/v1/Accounts/{sid}/Sms/send", "post", send)
	addV1("/v1/Accounts/{sid}/SMS/send", "post", send)
	for _, base := range []string{"SMS", "Sms"} {
		addV1("/v1/Accounts/{sid}/"+base+"/Messages/{SmsSid}", "get", func(jsonForm bool) oaObj {
			return oaObj{
				"tags":    []any{"SMS v1"},
				"summary": oaV1Summary("An SMS's details", jsonForm),
				"parameters": []any{oaParamRef("sid"),
					oaObj{"name": "SmsSid", "in": "path", "required": true, "schema": oaStr(""),
						"description": "the SMS's Sid (32 hex characters)"}},
				"responses": oaV1Responses(jsonForm, "the message", oaRef("V1SMSResponse"), oaRef("V1SMSResponseXML"), "429", "500"),
			}
		})
	}
}

func oaSMSSchemas() oaObj {
	v1time := func(desc string) oaObj { return oaStr(desc + " (YYYY-MM-DD HH:mm:ss, IST)") }
	msg := oaObject(nil, oaObj{
		"Sid":                oaStr("32 hex characters"),
		"AccountSid":         oaStr(""),
		"From":               oaStr("the ExoPhone or sender ID"),
		"To":                 oaStr(""),
		"Body":               oaStr(""),
		"Status":             oaEnum("", "queued", "sending", "submitted", "sent", "failed", "failed-dnd"),
		"DetailedStatus":     oaStr("PENDING_TO_OPERATOR, DELIVERED_TO_HANDSET, FAILED_DND, …"),
		"DetailedStatusCode": oaStr("Exotel's code, as a string: 21010, 20005, 23005, …"),
		"Direction":          oaStr("outbound-api"),
		"DateCreated":        v1time(""),
		"DateUpdated":        v1time(""),
		"DateSent":           oaNullable(v1time("null until submitted")),
		"Price":              oaNullable(oaStr("null: not priced")),
		"ApiVersion":         oaStr("v1"),
		"Uri":                oaStr("/v1/Accounts/<sid>/SMS/Messages/<Sid>(.json)"),
		"SmsUnits":           oaStr("segments, as a string"),
	})
	return oaObj{
		"V1SMSRequest": oaObject([]string{"From", "To", "Body"}, oaObj{
			"From":           oaStr("an ExoPhone of the account, or a sender ID (3-11 letters and digits)"),
			"To":             oaStr("the recipient; repeat (or To[], To[0..n]) for several"),
			"Body":           oaStr("at most 2000 characters"),
			"EncodingType":   oaEnum("default plain; unicode sends UCS-2", "plain", "unicode"),
			"Priority":       oaEnum("", "normal", "high"),
			"StatusCallback": oaStr("http(s) URL posted when the message is final"),
			"DltEntityId":    oaStr("DLT entity id (India)"),
			"DltTemplateId":  oaStr("DLT template id (India)"),
			"SmsType":        oaEnum("", "transactional", "transactional_opt_in", "promotional"),
			"CustomField":    oaStr("echoed in the callback; at most 128 characters"),
		}),
		"V1SMS":         msg,
		"V1SMSResponse": oaObject([]string{"SMSMessage"}, oaObj{"SMSMessage": oaRef("V1SMS")}),
		"V1SMSResponseXML": oaObj{"type": "object", "xml": oaObj{"name": "TwilioResponse"}, "properties": oaObj{
			"SMSMessage": oaRef("V1SMS"),
		}},
	}
}
