package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// routesDocs serves the OpenAPI document.
func (s *Server) routesDocs(e *echo.Echo) {
	e.GET("/openapi.json", s.openAPI)
}

// Routes lists the routes the server registered (Echo's own table).
func (s *Server) Routes() []*echo.Route { return s.echo.Routes() }

// openAPICache holds the rendered document per version string.
var openAPICache sync.Map // string -> []byte

// openAPI answers GET /openapi.json (no authentication).
func (s *Server) openAPI(c echo.Context) error {
	if b, ok := openAPICache.Load(s.opts.Version); ok {
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b.([]byte))
	}
	b, err := json.Marshal(OpenAPIDocument(s.opts.Version))
	if err != nil {
		return fmt.Errorf("render OpenAPI document: %w", err)
	}
	openAPICache.Store(s.opts.Version, b)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b)
}

// oaObj is a JSON object of the document.
type oaObj = map[string]any

// OpenAPIDocument returns the OpenAPI 3.0 description of every route the
// server registers, with version as info.version.
func OpenAPIDocument(version string) map[string]any {
	if version == "" {
		version = "dev"
	}
	paths := oaObj{}
	add := func(path, method string, op oaObj) {
		p, ok := paths[path].(oaObj)
		if !ok {
			p = oaObj{}
			paths[path] = p
		}
		p[method] = op
	}
	// v1: every resource also answers with the .json suffix, in JSON.
	addV1 := func(path, method string, op func(jsonForm bool) oaObj) {
		add(path, method, op(false))
		add(path+".json", method, op(true))
	}

	add("/healthz", "get", oaHealth())
	add("/openapi.json", "get", oaOpenAPIDoc())

	addV1("/v1/Accounts/{sid}/Calls/connect", "post", oaV1Connect)
	addV1("/v1/Accounts/{sid}/Calls/{CallSid}", "get", oaV1Call)
	addV1("/v1/Accounts/{sid}/Calls", "get", oaV1Calls)
	add("/v1/Accounts/{sid}/Recordings/{id}", "get", oaRecordingDownload("get"))
	add("/v1/Accounts/{sid}/Recordings/{id}", "head", oaRecordingDownload("head"))

	add("/v3/accounts/{sid}/calls", "post", oaV3Place())
	add("/v3/accounts/{sid}/calls/{call_sid}", "get", oaV3Call())
	add("/v3/accounts/{sid}/calls/{call_sid}/legs", "get", oaV3Legs())

	const m = "/v2/accounts/{sid}"
	add(m+"/flows", "post", oaManage("Flows", "Create a flow",
		"Creates an unpublished flow. The document is validated: an invalid one is refused with 400 and every problem "+
			"(applet and field) in error_data.problems; warnings do not stop creation and come back in response.warnings.",
		nil, oaJSONBody("FlowCreate"), oaCreated("flow", oaRef("Flow"), true), true))
	add(m+"/flows", "get", oaManage("Flows", "List flows",
		"The account's flows, oldest first, without their documents.",
		append(oaParams(), oaPageParams()...), nil, oaListOK("Flow"), false))
	add(m+"/flows/{flow_id}", "get", oaManage("Flows", "Get a flow", "The flow with its draft document.",
		oaParams("flow_id"), nil, oaSingle("flow", oaRef("Flow"), false), false))
	add(m+"/flows/{flow_id}", "put", oaManage("Flows", "Update a flow's draft",
		"Replaces the draft document and/or renames the flow (at least one of the two). Published versions, and calls "+
			"in progress, are not affected. An invalid document is refused like on create.",
		oaParams("flow_id"), oaJSONBody("FlowUpdate"), oaSingle("flow", oaRef("Flow"), true), true))
	add(m+"/flows/{flow_id}", "delete", oaManage("Flows", "Delete a flow",
		"Deletes the flow and its versions. Refused with 409 while an ExoPhone points at it.",
		oaParams("flow_id"), nil, oaSingle("flow", oaRef("Deleted"), false), false))
	add(m+"/flows/{flow_id}/validate", "post", oaManage("Flows", "Validate a flow",
		"Without a body, or with one that has no document, validates the stored draft. With {\"document\": {...}}, "+
			"validates that document instead and stores nothing. An invalid document is still a 200: valid is false and the problems are listed.",
		oaParams("flow_id"), oaOptionalJSONBody("FlowDocument"), oaSingle("validation", oaRef("Validation"), false), false))
	add(m+"/flows/{flow_id}/publish", "post", oaManage("Flows", "Publish a flow",
		"Freezes the draft as the next version and makes it live for new calls. An invalid draft is refused with 400 "+
			"and its problems.",
		oaParams("flow_id"), nil, oaSingle("flow_version", oaRef("FlowVersion"), true, "flow", oaRef("Flow")), true))
	add(m+"/flows/{flow_id}/duplicate", "post", oaManage("Flows", "Duplicate a flow",
		"Copies the flow's draft into a new, unpublished flow.",
		oaParams("flow_id"), oaJSONBody("FlowName"), oaCreated("flow", oaRef("Flow"), false), false))
	add(m+"/flows/{flow_id}/versions", "get", oaManage("Flows", "List a flow's published versions",
		"Oldest first, without their documents.",
		append(oaParams("flow_id"), oaPageParams()...), nil, oaListOK("FlowVersion"), false))
	add(m+"/flows/{flow_id}/versions/{version}", "get", oaManage("Flows", "Get a published version",
		"The version with its document.",
		oaParams("flow_id", "version"), nil, oaSingle("flow_version", oaRef("FlowVersion"), false), false))

	add(m+"/exophones", "post", oaManage("ExoPhones", "Add an ExoPhone",
		"Adds a number to the account, optionally pointing at a published flow. A number already held (by any "+
			"account) is 409; an unknown flow 404; an unpublished flow 400.",
		nil, oaJSONBody("ExoPhoneCreate"), oaCreated("exophone", oaRef("ExoPhone"), false), false))
	add(m+"/exophones", "get", oaManage("ExoPhones", "List ExoPhones", "Ordered by number.",
		append(oaParams(), oaPageParams()...), nil, oaListOK("ExoPhone"), false))
	add(m+"/exophones/{number}", "get", oaManage("ExoPhones", "Get an ExoPhone", "",
		oaParams("number"), nil, oaSingle("exophone", oaRef("ExoPhone"), false), false))
	add(m+"/exophones/{number}", "put", oaManage("ExoPhones", "Assign or unassign an ExoPhone's flow",
		"flow_id is required: a published flow of the account to assign, or null to unassign. An unpublished flow is 400.",
		oaParams("number"), oaJSONBody("ExoPhoneUpdate"), oaSingle("exophone", oaRef("ExoPhone"), false), false))
	add(m+"/exophones/{number}", "delete", oaManage("ExoPhones", "Remove an ExoPhone",
		"Calls made through it keep their records.",
		oaParams("number"), nil, oaSingle("exophone", oaRef("Deleted"), false), false))

	add(m+"/users", "post", oaManage("Users", "Create a user",
		"Adds a user (agent), in Switchyard's shape (name, devices: up to 10 numbers or SIP URIs tried in the order given) "+
			"or Exotel's CCM shape (first_name, last_name, role, device_contact_uri, device_name). A device that another "+
			"user of the account has is 409; available defaults to true.",
		nil, oaJSONOrFormBody("UserCreate", true), oaCreated("user", oaRef("User"), false), false))
	add(m+"/users", "get", oaManage("Users", "List users",
		"The account's users, oldest first, each with its devices and whether it is on a call now.",
		append(oaParams(), append(oaPageParams(),
			oaQuery("fields", "Exotel's devices,active_call,last_login: every user carries all three", oaStr("")),
			oaQuery("devices.contact_uri", "comma-separated numbers or SIP URIs: users with one of them", oaStr("")),
			oaQuery("email", "comma-separated addresses, any case", oaStr("")))...), nil, oaListOK("User"), false))
	add(m+"/users/{user_sid}", "get", oaManage("Users", "Get a user", "Unknown, or another account's: 404 code 10731.",
		oaParams("user_sid"), nil, oaSingle("user", oaRef("User"), false), false))
	add(m+"/users/{user_sid}", "put", oaManage("Users", "Update a user",
		"Changes the fields sent (at least one); devices replaces the whole list (the user's own devices may stay, "+
			"a device of another user is 409); email null removes it. All or nothing.",
		oaParams("user_sid"), oaJSONOrFormBody("UserUpdate", true), oaSingle("user", oaRef("User"), false), false))
	add(m+"/users/{user_sid}/devices/{device_id}", "put", oaManage("Users", "Switch a device on or off, move or rename it",
		"Exotel's device update: available in the body or the query (the body may then be left out), contact_uri, name. "+
			"An unknown device, or one of another user, is 404 code 10731; a contact another device of the account has is 409.",
		append(oaParams("user_sid"), oaObj{"name": "device_id", "in": "path", "required": true, "schema": oaStr("")},
			oaQuery("available", "true or false", oaBool(""))),
		oaJSONOrFormBody("UserDeviceUpdate", false), oaSingle("user", oaRef("User"), false), false))
	add(m+"/users/{user_sid}", "delete", oaManage("Users", "Delete a user",
		"Deletes the user and its devices. A call the user is on goes on.",
		oaParams("user_sid"), nil, oaSingle("user", oaRef("Deleted"), false), false))

	add(m+"/calls/{call_sid}/callbacks", "get", oaManage("Calls", "A call's status callbacks",
		"The call's status callbacks in the order they were produced, each with its delivery attempts "+
			"(a call has a handful: not paged).",
		oaParams("call_sid"), nil, oaSingle("callbacks", oaArray(oaRef("Callback"), ""), false), false))
	add(m+"/calls/{call_sid}/recordings", "get", oaManage("Recordings", "A call's recordings",
		"Oldest first; not paged.",
		oaParams("call_sid"), nil, oaSingle("recordings", oaArray(oaRef("Recording"), ""), false), false))
	add(m+"/calls/{call_sid}/requests", "get", oaManage("Calls", "A call's HTTP requests",
		"The HTTP requests the call's flow made to the customer's server (passthru, programmable connect URLs, "+
			"dial events), oldest first, with their outcome; not paged.",
		oaParams("call_sid"), nil, oaSingle("requests", oaArray(oaRef("CallRequest"), ""), false), false))
	add(m+"/calls/{call_sid}/messages", "get", oaManage("Calls", "A call's messages",
		"The SMS and emails the call's flow sent, or failed to send, oldest first; not paged.",
		oaParams("call_sid"), nil, oaSingle("messages", oaArray(oaRef("Message"), ""), false), false))
	add(m+"/calls/{call_sid}/path", "get", oaManage("Calls", "A call's applet path",
		"The applets the call's flow ran through, in the order it entered them (an applet entered twice, as a menu "+
			"offered again, is listed twice). It is written with the call's final record: empty while the call runs, "+
			"for a call that ran no flow, and for a call closed after its Switchyard instance was lost. At most 200 "+
			"applets are kept: the first 199 and the last.",
		oaParams("call_sid"), nil, oaSingle("applet_path", oaArray(oaRef("AppletStep"), "in the order entered"), false), false))
	add(m+"/recordings/{id}", "get", oaManage("Recordings", "Get a recording's metadata",
		"url downloads the file (GET /v1/Accounts/{sid}/Recordings/{id}).",
		oaParams("id"), nil, oaSingle("recording", oaRef("Recording"), false), false))

	oaV2Paths(add)
	oaNumbersPaths(add, addV1)
	oaSMSPaths(addV1)
	add(smsReportsPath, "post", oaSMSReport())
	oaOpsPaths(add)

	return oaObj{
		"openapi": "3.0.3",
		"info": oaObj{
			"title":   "Switchyard API",
			"version": version,
			"description": "Switchyard's Exotel-compatible HTTP API: Voice v1 (XML by default, JSON with a .json suffix), " +
				"Voice v3, recording downloads, and the management API for what Exotel keeps in its dashboard " +
				"(flows, ExoPhones, users, status callbacks, HTTP requests, messages and applet paths of calls, recordings), and Exotel's " +
				"Campaigns v2 with its lists and contacts (and a do-not-call list). Authentication is HTTP Basic with an API key " +
				"and token, or the account SID and its token (legacy clients). Valid credentials for another " +
				"account are 403; another account's resources are 404. Each account may make 200 requests a minute " +
				"(configurable; per instance), and a client address 20 failed authentications a minute: over " +
				"either, 429 with Retry-After. Text with NUL bytes, other control characters or invalid UTF-8 is 400.",
		},
		"security": []any{oaObj{"basicAuth": []any{}}},
		"tags": []any{
			oaObj{"name": "Voice v1", "description": "Exotel's Twilio-style v1 call API."},
			oaObj{"name": "Voice v3", "description": "Exotel's v3 call API (JSON, v2/v3 envelope)."},
			oaObj{"name": "Recordings", "description": "Recording files and their metadata."},
			oaObj{"name": "Flows", "description": "Call flows: drafts and published versions."},
			oaObj{"name": "ExoPhones", "description": "The account's virtual numbers and the flows they run."},
			oaObj{"name": "Users", "description": "Users (agents) and the devices they are reached on."},
			oaObj{"name": "Calls", "description": "Management views of a call."},
			oaObj{"name": "Campaigns", "description": "Exotel's Campaigns v2: outbound dialling of numbers and lists, and its report."},
			oaObj{"name": "Contacts", "description": "Exotel's v2 contacts: the phone book campaigns call."},
			oaObj{"name": "Lists", "description": "Exotel's v2 lists of contacts, and CSV uploads to them."},
			oaObj{"name": "Numbers", "description": "What a phone number is: type, circle, operator, do-not-call."},
			oaObj{"name": "Do-not-call", "description": "Numbers campaigns must not call (Switchyard)."},
			oaObj{"name": "Service", "description": "Health and this document."},
			oaObj{"name": "Operators", "description": "Metrics and the cluster's nodes, for the operators (not tenants)."},
		},
		"paths": paths,
		"components": oaObj{
			"securitySchemes": oaObj{
				"basicAuth": oaObj{"type": "http", "scheme": "basic",
					"description": "Username: API key (or, for legacy clients, the account SID). Password: the token."},
				"gatewayToken": oaObj{"type": "http", "scheme": "bearer",
					"description": "The webhook SMS gateway's token (-sms-token)."},
				"opsToken": oaObj{"type": "http", "scheme": "bearer",
					"description": "The operator token (-ops-token)."},
			},
			"parameters": oaMerge(oaParameters(), oaV2Parameters()),
			"responses":  oaResponses(),
			"schemas":    oaMerge(oaMerge(oaMerge(oaSchemas(), oaV2Schemas()), oaNumbersSchemas()), oaSMSSchemas()),
		},
	}
}

// Schema helpers.

// oaMerge adds the entries of more to m.
func oaMerge(m oaObj, more oaObj) oaObj {
	for k, v := range more {
		m[k] = v
	}
	return m
}

func oaRef(name string) oaObj { return oaObj{"$ref": "#/components/schemas/" + name} }

func oaTyped(t, desc string) oaObj {
	o := oaObj{"type": t}
	if desc != "" {
		o["description"] = desc
	}
	return o
}

func oaStr(desc string) oaObj  { return oaTyped("string", desc) }
func oaInt(desc string) oaObj  { return oaTyped("integer", desc) }
func oaBool(desc string) oaObj { return oaTyped("boolean", desc) }

func oaNullable(o oaObj) oaObj {
	o["nullable"] = true
	return o
}

func oaEnum(desc string, values ...string) oaObj {
	o := oaStr(desc)
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	o["enum"] = vs
	return o
}

func oaArray(items oaObj, desc string) oaObj {
	o := oaTyped("array", desc)
	o["items"] = items
	return o
}

func oaObject(required []string, props oaObj) oaObj {
	o := oaObj{"type": "object", "properties": props}
	if len(required) > 0 {
		r := make([]any, len(required))
		for i, v := range required {
			r[i] = v
		}
		o["required"] = r
	}
	return o
}

func oaParamRef(name string) oaObj { return oaObj{"$ref": "#/components/parameters/" + name} }

func oaParams(names ...string) []any {
	out := []any{oaParamRef("sid")}
	for _, n := range names {
		out = append(out, oaParamRef(n))
	}
	return out
}

func oaPageParams() []any { return []any{oaParamRef("offset"), oaParamRef("limit")} }

func oaQuery(name, desc string, schema oaObj) oaObj {
	return oaObj{"name": name, "in": "query", "required": false, "description": desc, "schema": schema}
}

func oaJSONContent(schema oaObj) oaObj {
	return oaObj{"application/json": oaObj{"schema": schema}}
}

func oaJSONBody(schema string) oaObj {
	return oaObj{"required": true, "content": oaJSONContent(oaRef(schema))}
}

// oaJSONOrFormBody is a body in JSON or, with the same fields, a
// URL-encoded form (as some of Exotel's clients send, even under a JSON
// Content-Type).
func oaJSONOrFormBody(schema string, required bool) oaObj {
	return oaObj{"required": required, "content": oaObj{
		"application/json":                  oaObj{"schema": oaRef(schema)},
		"application/x-www-form-urlencoded": oaObj{"schema": oaRef(schema)},
	}}
}

func oaOptionalJSONBody(schema string) oaObj {
	return oaObj{"required": false, "content": oaJSONContent(oaRef(schema))}
}

func oaRespRef(name string) oaObj { return oaObj{"$ref": "#/components/responses/" + name} }

// oaEnvelope is the v2/v3 response body around response.
func oaEnvelope(metadata, response oaObj) oaObj {
	return oaObject([]string{"request_id", "method", "http_code", "metadata", "response"}, oaObj{
		"request_id": oaStr("32 hex characters; also in the X-Request-Id header"),
		"method":     oaStr("the request's HTTP method"),
		"http_code":  oaInt("the HTTP status"),
		"metadata":   metadata,
		"response":   response,
	})
}

// oaSingleBody is the envelope of a single-object answer: response holds
// code, error_data (null), status "success" and the object under key;
// extra adds more keys (key, schema pairs).
func oaSingleBody(key string, schema oaObj, warnings bool, extra ...any) oaObj {
	props := oaObj{
		"code":       oaInt("the HTTP status"),
		"error_data": oaNullable(oaTyped("object", "null on success")),
		"status":     oaEnum("", "success"),
		key:          schema,
	}
	req := []string{"code", "error_data", "status", key}
	for i := 0; i+1 < len(extra); i += 2 {
		props[extra[i].(string)] = extra[i+1]
		req = append(req, extra[i].(string))
	}
	if warnings {
		props["warnings"] = oaArray(oaRef("Problem"), "validation warnings (not fatal)")
		req = append(req, "warnings")
	}
	return oaEnvelope(oaNullable(oaTyped("object", "null for single objects")), oaObject(req, props))
}

func oaSingle(key string, schema oaObj, warnings bool, extra ...any) oaObj {
	return oaManageResponses("200", "OK", oaSingleBody(key, schema, warnings, extra...))
}

func oaCreated(key string, schema oaObj, warnings bool) oaObj {
	return oaManageResponses("201", "Created", oaSingleBody(key, schema, warnings))
}

func oaListOK(item string) oaObj {
	body := oaEnvelope(oaRef("ListMetadata"), oaArray(oaObject([]string{"code", "error_data", "status", "data"}, oaObj{
		"code":       oaInt("200"),
		"error_data": oaNullable(oaTyped("object", "null")),
		"status":     oaEnum("", "success"),
		"data":       oaRef(item),
	}), "one entry per item"))
	return oaManageResponses("200", "OK", body)
}

// oaManageResponses is the success answer plus the errors every management
// route can give.
func oaManageResponses(status, desc string, body oaObj) oaObj {
	return oaObj{
		status: oaObj{"description": desc, "content": oaJSONContent(body)},
		"400":  oaRespRef("BadRequest"),
		"401":  oaRespRef("Unauthorized"),
		"403":  oaRespRef("Forbidden"),
		"404":  oaRespRef("NotFound"),
		"409":  oaRespRef("Conflict"),
		"413":  oaRespRef("TooLarge"),
		"415":  oaRespRef("UnsupportedMediaType"),
		"429":  oaRespRef("TooManyRequests"),
		"500":  oaRespRef("InternalError"),
	}
}

func oaManage(tag, summary, desc string, parameters []any, body oaObj, responses oaObj, flowProblems bool) oaObj {
	if parameters == nil {
		parameters = oaParams()
	}
	op := oaObj{"tags": []any{tag}, "summary": summary, "parameters": parameters, "responses": responses}
	if desc != "" {
		op["description"] = desc
	}
	if body != nil {
		op["requestBody"] = body
	}
	if flowProblems {
		responses["400"] = oaRespRef("InvalidFlow")
	}
	return op
}

func oaHealth() oaObj {
	health := oaObject([]string{"status"}, oaObj{
		"status":   oaEnum("", "ok", "unavailable"),
		"version":  oaStr("the server's version"),
		"database": oaEnum("present when a database is configured", "ok", "unreachable"),
	})
	return oaObj{
		"tags": []any{"Service"}, "summary": "Health check", "security": []any{},
		"description": "200 when the database answers, 503 otherwise. No authentication.",
		"responses": oaObj{
			"200": oaObj{"description": "healthy", "content": oaJSONContent(health)},
			"503": oaObj{"description": "the database does not answer", "content": oaJSONContent(health)},
		},
	}
}

func oaOpenAPIDoc() oaObj {
	return oaObj{
		"tags": []any{"Service"}, "summary": "This OpenAPI document", "security": []any{},
		"responses": oaObj{
			"200": oaObj{"description": "the OpenAPI 3.0 document", "content": oaJSONContent(oaTyped("object", ""))},
		},
	}
}

func oaRecordingDownload(method string) oaObj {
	summary := "Download a recording"
	if method == "head" {
		summary = "A recording's size and type"
	}
	audio := oaObj{"schema": oaObj{"type": "string", "format": "binary"}}
	return oaObj{
		"tags": []any{"Recordings"}, "summary": summary,
		"description": "Streams the recording's file (byte ranges supported). Needs the account's credentials, " +
			"or none on a pre-signed URL (Expires and Signature, as handed out in PreSignedRecordingUrl).",
		"security": []any{oaObj{"basicAuth": []any{}}, oaObj{}},
		"parameters": []any{oaParamRef("sid"), oaParamRef("id"),
			oaQuery("Expires", "pre-signed URL: expiry, unix seconds", oaInt("")),
			oaQuery("Signature", "pre-signed URL: signature", oaStr("")),
			oaObj{"name": "Range", "in": "header", "required": false, "schema": oaStr(""), "description": "byte range (RFC 9110)"},
		},
		"responses": oaObj{
			"200": oaObj{"description": "the audio file", "content": oaObj{"audio/wav": audio, "audio/mpeg": audio}},
			"206": oaObj{"description": "the requested range", "content": oaObj{"audio/wav": audio, "audio/mpeg": audio}},
			"401": oaRespRef("V1Unauthorized"),
			"403": oaRespRef("V1Error"),
			"404": oaRespRef("V1Error"),
			"416": oaObj{"description": "the range cannot be satisfied"},
			"429": oaRespRef("V1Error"),
		},
	}
}

// v1 operations. jsonForm is the .json variant of the path.

func oaV1Content(jsonForm bool, jsonSchema, xmlSchema oaObj) oaObj {
	if jsonForm {
		return oaJSONContent(jsonSchema)
	}
	return oaObj{"application/xml": oaObj{"schema": xmlSchema}}
}

func oaV1Responses(jsonForm bool, okDesc string, jsonSchema, xmlSchema oaObj, codes ...string) oaObj {
	r := oaObj{"200": oaObj{"description": okDesc, "content": oaV1Content(jsonForm, jsonSchema, xmlSchema)}}
	errBody := oaObj{"description": "error", "content": oaV1Content(jsonForm, oaRef("RestException"), oaRef("RestExceptionXML"))}
	for _, c := range append([]string{"400", "401", "403", "404"}, codes...) {
		r[c] = errBody
	}
	return r
}

func oaV1Summary(base string, jsonForm bool) string {
	if jsonForm {
		return base + " (JSON)"
	}
	return base + " (XML)"
}

func oaV1Connect(jsonForm bool) oaObj {
	form := oaRef("V1ConnectRequest")
	return oaObj{
		"tags":    []any{"Voice v1"},
		"summary": oaV1Summary("Connect two numbers, or a number to a flow", jsonForm),
		"description": "Dials From; when it answers, dials To and bridges the two (click-to-call), or runs the flow " +
			"given as Url (http://<host>/<AccountSid>/exoml/start_voice/<flow_id>). Both legs see CallerId, an " +
			"ExoPhone of the account. 200 means accepted, not connected. 409: From is busy, or the Idempotency-Key " +
			"was used with another request; 503: no media node can place the call now.",
		"parameters": []any{oaParamRef("sid"),
			oaQuery("details", "true adds the Details block to the Call", oaBool("")),
			oaParamRef("Idempotency-Key")},
		"requestBody": oaObj{"required": true, "content": oaObj{
			"application/x-www-form-urlencoded": oaObj{"schema": form},
			"multipart/form-data":               oaObj{"schema": form},
		}},
		"responses": oaReplayed(oaV1Responses(jsonForm, "the call, accepted", oaRef("V1CallResponse"), oaRef("V1CallResponseXML"),
			"409", "413", "415", "429", "500", "503")),
	}
}

func oaV1Call(jsonForm bool) oaObj {
	return oaObj{
		"tags":    []any{"Voice v1"},
		"summary": oaV1Summary("A call's details", jsonForm),
		"parameters": []any{oaParamRef("sid"), oaParamRef("CallSid"),
			oaQuery("details", "true adds the Details block (legs, conversation duration)", oaBool("")),
			oaQuery("RecordingUrlValidity", "minutes (5-60): adds PreSignedRecordingUrl", oaObj{"type": "integer", "minimum": 5, "maximum": 60}),
		},
		"responses": oaV1Responses(jsonForm, "the call", oaRef("V1CallResponse"), oaRef("V1CallResponseXML"), "429", "500"),
	}
}

func oaV1Calls(jsonForm bool) oaObj {
	return oaObj{
		"tags":    []any{"Voice v1"},
		"summary": oaV1Summary("Bulk call details", jsonForm),
		"description": "The account's calls matching the filters, newest first by default, one page at a time; " +
			"follow Metadata.NextPageUri. Calls in progress are not listed.",
		"parameters": []any{oaParamRef("sid"),
			oaQuery("Sid", "one or comma-separated CallSids (at most 100)", oaStr("")),
			oaQuery("DateCreated", "gte:YYYY-MM-DD HH:mm:ss;lte:YYYY-MM-DD HH:mm:ss (IST)", oaStr("")),
			oaQuery("To", "comma-separated, at most 5", oaStr("")),
			oaQuery("From", "comma-separated, at most 5", oaStr("")),
			oaQuery("Status", "call status value(s), comma-separated", oaStr("")),
			oaQuery("Duration", "gte:10s;lte:45s or eq:30s", oaStr("")),
			oaQuery("Price", "gte:0.10;lte:1.0", oaStr("")),
			oaQuery("Direction", "", oaEnum("", "inbound", "outbound-dial", "outbound-api")),
			oaQuery("PhoneNumber", "ExoPhone(s), comma-separated, at most 5", oaStr("")),
			oaQuery("PageSize", "default 50, at most 100", oaObj{"type": "integer", "minimum": 1, "maximum": 100}),
			oaQuery("SortBy", "", oaEnum("", "DateCreated:asc", "DateCreated:desc")),
			oaQuery("Before", "cursor from PrevPageUri", oaStr("")),
			oaQuery("After", "cursor from NextPageUri", oaStr("")),
			oaQuery("RecordingUrlValidity", "minutes (5-60): adds PreSignedRecordingUrl", oaObj{"type": "integer", "minimum": 5, "maximum": 60}),
		},
		"responses": oaV1Responses(jsonForm, "a page of calls", oaRef("V1CallList"), oaRef("V1CallListXML"), "429", "500"),
	}
}

// oaReplayed adds the Idempotent-Replayed header to a call-creating
// operation's 200.
func oaReplayed(responses oaObj) oaObj {
	ok := responses["200"].(oaObj)
	ok["headers"] = oaObj{"Idempotent-Replayed": oaObj{"schema": oaEnum("", "true"),
		"description": "present when the answer replays an earlier request with the same Idempotency-Key"}}
	return responses
}

// v3 operations.

func oaV3Responses(key string, schema oaObj, codes ...string) oaObj {
	r := oaObj{"200": oaObj{"description": "OK", "content": oaJSONContent(oaSingleBody(key, schema, false))}}
	for _, c := range append([]string{"400", "401", "403", "404"}, codes...) {
		r[c] = oaRespRef(map[string]string{
			"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "409": "Conflict",
			"413": "TooLarge", "415": "UnsupportedMediaType", "429": "TooManyRequests", "500": "InternalError",
			"503": "Unavailable",
		}[c])
	}
	return r
}

func oaV3Place() oaObj {
	return oaObj{
		"tags":    []any{"Voice v3"},
		"summary": "Connect two numbers (click-to-call)",
		"description": "Dials from; when it answers, dials to and bridges them; both see virtual_number. Accepts " +
			"the v3 body and the v2-style fields the new portal shows. 200 means accepted, not connected. " +
			"Errors: 404 code 10716 when virtual_number is not an ExoPhone of the account; 404 code 10731 for " +
			"an unknown from.user_id; 409 code 10706 while from is on another call and " +
			"from.state_management is true; 503 when no media node can place the call.",
		"parameters":  []any{oaParamRef("sid"), oaParamRef("Idempotency-Key")},
		"requestBody": oaJSONBody("V3CallRequest"),
		"responses":   oaReplayed(oaV3Responses("call_details", oaRef("V3CallDetails"), "409", "413", "415", "429", "500", "503")),
	}
}

func oaV3Call() oaObj {
	return oaObj{
		"tags": []any{"Voice v3"}, "summary": "A call's details",
		"parameters": []any{oaParamRef("sid"), oaParamRef("call_sid")},
		"responses":  oaV3Responses("call_details", oaRef("V3CallDetails"), "429", "500"),
	}
}

func oaV3Legs() oaObj {
	return oaObj{
		"tags": []any{"Voice v3"}, "summary": "A call's legs",
		"parameters": []any{oaParamRef("sid"), oaParamRef("call_sid")},
		"responses":  oaV3Responses("leg_details", oaRef("V3LegDetails"), "429", "500"),
	}
}

func oaParameters() oaObj {
	path := func(name, desc string, schema oaObj) oaObj {
		return oaObj{"name": name, "in": "path", "required": true, "description": desc, "schema": schema}
	}
	return oaObj{
		"sid":      path("sid", "the account SID", oaStr("")),
		"CallSid":  path("CallSid", "the call's SID (32 hex characters)", oaStr("")),
		"call_sid": path("call_sid", "the call's SID (32 hex characters)", oaStr("")),
		"flow_id":  path("flow_id", "the flow's id", oaStr("")),
		"version":  path("version", "a published version number", oaObj{"type": "integer", "minimum": 1}),
		"number": path("number", "the ExoPhone in E.164, its + escaped (%2B15550000100) or left out (15550000100)",
			oaStr("")),
		"id":       path("id", "the recording's id", oaStr("")),
		"user_sid": path("user_sid", "the user's SID (us_…)", oaStr("")),
		"Idempotency-Key": oaObj{"name": "Idempotency-Key", "in": "header", "required": false,
			"schema":      oaObj{"type": "string", "minLength": 1, "maxLength": 255},
			"description": "printable ASCII: a retried request with the same key returns the call the first one created (the answer then has Idempotent-Replayed: true); the same key with another request is 409"},
		"offset": oaQuery("offset", "items to skip (default 0)", oaObj{"type": "integer", "minimum": 0, "default": 0}),
		"limit": oaQuery("limit", fmt.Sprintf("items per page (default %d)", manageDefaultLimit),
			oaObj{"type": "integer", "minimum": 1, "maximum": manageMaxLimit, "default": manageDefaultLimit}),
	}
}

func oaResponses() oaObj {
	failure := func(desc string) oaObj {
		return oaObj{"description": desc, "content": oaJSONContent(oaRef("Failure"))}
	}
	v1err := oaObj{"description": "error (RestException; XML without the .json suffix)", "content": oaObj{
		"application/json": oaObj{"schema": oaRef("RestException")},
		"application/xml":  oaObj{"schema": oaRef("RestExceptionXML")},
	}}
	v1unauth := oaObj{"description": "missing or wrong credentials", "content": v1err["content"],
		"headers": oaObj{"WWW-Authenticate": oaObj{"schema": oaStr("")}}}
	return oaObj{
		"BadRequest":   failure("malformed or invalid request (code 1000)"),
		"Unauthorized": oaObj{"description": "missing or wrong credentials (code 1010)", "content": oaJSONContent(oaRef("Failure")), "headers": oaObj{"WWW-Authenticate": oaObj{"schema": oaStr("")}}},
		"Forbidden":    failure("valid credentials of another account (code 1018)"),
		"NotFound": failure("unknown resource, or another account's: flow (1001), ExoPhone (10716), call (10744), " +
			"user (10731), recording (1001)"),
		"Conflict":             failure("conflict: number taken, flow assigned, device of another user, contact busy (1002, 10706)"),
		"TooLarge":             failure("request body too large (1004)"),
		"UnsupportedMediaType": failure("wrong Content-Type (1003)"),
		"TooManyRequests": oaObj{"description": "rate limited (10724): the account's requests per minute, or the " +
			"client address's failed authentications; Retry-After gives the seconds to wait",
			"content": oaJSONContent(oaRef("Failure")), "headers": oaObj{"Retry-After": oaObj{"schema": oaInt("seconds")}}},
		"InternalError": failure("server error (1100)"),
		"Unavailable":   failure("temporarily unavailable (1006)"),
		"InvalidFlow": oaObj{"description": "malformed request, or an invalid flow document: error_data.problems " +
			"lists every problem with its applet and field", "content": oaJSONContent(oaRef("FlowFailure"))},
		"V1Error":        v1err,
		"V1Unauthorized": v1unauth,
	}
}

func oaSchemas() oaObj {
	dt := func(desc string) oaObj { return oaObj{"type": "string", "format": "date-time", "description": desc} }
	v1time := func(desc string) oaObj { return oaStr(desc + " (YYYY-MM-DD HH:mm:ss, IST)") }
	callStatus := oaEnum("call status", "queued", "ringing", "in-progress", "completed", "failed", "busy", "no-answer", "canceled")
	problem := oaObject([]string{"severity", "applet", "field", "message"}, oaObj{
		"severity": oaEnum("", "error", "warning"),
		"applet":   oaStr("the applet id; empty for document-level problems"),
		"field":    oaStr("JSON path inside the applet or document, e.g. config.timeout"),
		"message":  oaStr(""),
	})
	errorData := oaObject([]string{"code", "description", "message"}, oaObj{
		"code":        oaInt("error code (see the API docs: 1010, 10716, …)"),
		"description": oaStr(""),
		"message":     oaStr(""),
	})
	flowErrorData := oaObject([]string{"code", "description", "message"}, oaObj{
		"code":        oaInt(""),
		"description": oaStr(""),
		"message":     oaStr(""),
		"problems":    oaArray(oaRef("Problem"), "present for an invalid flow document: every problem found"),
	})
	failureOf := func(data oaObj) oaObj {
		return oaEnvelope(oaNullable(oaTyped("object", "null")), oaObject([]string{"code", "error_data", "status"}, oaObj{
			"code":       oaInt("the HTTP status"),
			"status":     oaEnum("", "failure"),
			"error_data": data,
		}))
	}
	v1Call := oaObject(nil, oaObj{
		"Sid":                   oaStr("32 hex characters"),
		"ParentCallSid":         oaNullable(oaStr("")),
		"DateCreated":           v1time("request time"),
		"DateUpdated":           v1time("last change"),
		"AccountSid":            oaStr(""),
		"To":                    oaStr("second leg; the ExoPhone for a flow call"),
		"From":                  oaStr("first leg"),
		"PhoneNumberSid":        oaStr("the ExoPhone"),
		"Status":                callStatus,
		"StartTime":             v1time(""),
		"EndTime":               oaNullable(v1time("")),
		"Duration":              oaNullable(oaStr("seconds, as a string; null while live")),
		"Price":                 oaNullable(oaStr("")),
		"Direction":             oaEnum("", "inbound", "outbound-dial", "outbound-api"),
		"AnsweredBy":            oaNullable(oaStr("")),
		"ForwardedFrom":         oaNullable(oaStr("")),
		"CallerName":            oaNullable(oaStr("")),
		"Uri":                   oaStr("/v1/Accounts/<sid>/Calls/<Sid>"),
		"RecordingUrl":          oaNullable(oaStr("")),
		"CallType":              oaNullable(oaStr("trans")),
		"PreSignedRecordingUrl": oaStr("with RecordingUrlValidity: the recording, downloadable without credentials until it expires"),
		"Details":               oaRef("V1CallDetails"),
	})
	v1Meta := oaObject(nil, oaObj{
		"Total":        oaInt("calls matching the filters"),
		"PageSize":     oaInt(""),
		"FirstPageUri": oaStr(""),
		"PrevPageUri":  oaNullable(oaStr("")),
		"NextPageUri":  oaNullable(oaStr("empty on the last page")),
	})
	statusCallbacks := oaArray(oaObject([]string{"event", "url"}, oaObj{
		"event": oaEnum("", "terminal", "answered"),
		"url":   oaStr(""),
	}), "")
	v3Leg := oaObject(nil, oaObj{
		"sid":          oaStr(""),
		"name":         oaNullable(oaStr("")),
		"contact_uri":  oaStr(""),
		"date_created": oaStr(""),
		"date_updated": oaStr(""),
		"status":       oaEnum("", "in-progress", "completed", "failed", "no-answer", "busy", "canceled"),
		"group_id":     oaNullable(oaStr("to legs only")),
		"group_name":   oaNullable(oaStr("to legs only")),
	})
	return oaObj{
		"Problem":       problem,
		"ErrorData":     errorData,
		"FlowErrorData": flowErrorData,
		"Failure":       failureOf(oaRef("ErrorData")),
		"FlowFailure":   failureOf(oaRef("FlowErrorData")),
		"ListMetadata": oaObject([]string{"count", "offset", "total", "limit"}, oaObj{
			"count":  oaInt("items in this page"),
			"offset": oaInt(""),
			"total":  oaInt("items in all"),
			"limit":  oaInt(""),
		}),
		"Deleted": oaObject([]string{"id", "deleted"}, oaObj{"id": oaStr(""), "deleted": oaBool("")}),
		"FlowDocument": oaObject(nil, oaObj{
			"document": oaTyped("object", "a flow document to validate instead of the stored draft"),
		}),
		"FlowCreate": oaObject([]string{"name", "document"}, oaObj{
			"name":     oaStr("1 to 200 characters"),
			"document": oaTyped("object", "a flow document: {name?, description?, start, applets, layout?}; layout places applets on the console's canvas ({applet: {x, y}}) and is never read by calls"),
		}),
		"FlowUpdate": oaObject(nil, oaObj{
			"name":     oaStr("a new name"),
			"document": oaTyped("object", "a new draft document"),
		}),
		"FlowName": oaObject([]string{"name"}, oaObj{"name": oaStr("the new flow's name")}),
		"Flow": oaObject([]string{"id", "account_sid", "name", "published", "live_version", "flow_url", "uri", "date_created", "date_updated"}, oaObj{
			"id":           oaStr(""),
			"account_sid":  oaStr(""),
			"name":         oaStr(""),
			"published":    oaBool("whether a version is live"),
			"live_version": oaNullable(oaInt("the version new calls run; null until published")),
			"flow_url":     oaStr("Exotel flow URL, for Calls/connect's Url: http(s)://<host>/<AccountSid>/exoml/start_voice/<id>"),
			"uri":          oaStr(""),
			"date_created": dt(""),
			"date_updated": dt(""),
			"document":     oaTyped("object", "the draft; left out of lists"),
		}),
		"FlowVersion": oaObject([]string{"flow_id", "version", "live", "published_at", "uri"}, oaObj{
			"flow_id":      oaStr(""),
			"version":      oaInt(""),
			"live":         oaBool("whether new calls run this version"),
			"published_at": dt(""),
			"uri":          oaStr(""),
			"document":     oaTyped("object", "left out of lists"),
		}),
		"Validation": oaObject([]string{"flow_id", "source", "valid", "errors", "warnings"}, oaObj{
			"flow_id":  oaStr(""),
			"source":   oaEnum("what was validated: the stored draft, or the document in the request body", "draft", "body"),
			"valid":    oaBool("no errors"),
			"errors":   oaArray(oaRef("Problem"), ""),
			"warnings": oaArray(oaRef("Problem"), ""),
		}),
		"ExoPhoneCreate": oaObject([]string{"number"}, oaObj{
			"number":        oaStr("E.164, e.g. +15550000100"),
			"friendly_name": oaStr("up to 200 characters"),
			"flow_id":       oaNullable(oaStr("a published flow of the account")),
		}),
		"ExoPhoneUpdate": oaObject([]string{"flow_id"}, oaObj{
			"flow_id": oaNullable(oaStr("a published flow of the account, or null to unassign")),
		}),
		"ExoPhone": oaObject([]string{"number", "account_sid", "friendly_name", "flow_id", "flow_url", "uri", "date_created", "date_updated"}, oaObj{
			"number":        oaStr("E.164"),
			"account_sid":   oaStr(""),
			"friendly_name": oaStr(""),
			"flow_id":       oaNullable(oaStr("")),
			"flow_url":      oaNullable(oaStr("the assigned flow's Exotel URL")),
			"uri":           oaStr(""),
			"date_created":  dt(""),
			"date_updated":  dt(""),
		}),
		"Callback": oaObject([]string{"id", "call_sid", "seq", "event", "url", "content_type", "status", "delivered_at", "date_created", "payload", "attempts"}, oaObj{
			"id":           oaStr(""),
			"call_sid":     oaStr(""),
			"seq":          oaInt("1, 2, … in the order the events happened"),
			"event":        oaEnum("", "terminal", "answered"),
			"url":          oaStr(""),
			"content_type": oaEnum("", "multipart/form-data", "application/json"),
			"status":       oaEnum("delivery state", "pending", "delivered", "failed"),
			"delivered_at": oaNullable(dt("")),
			"date_created": dt(""),
			"payload":      oaTyped("object", "the fields sent, in the order sent"),
			"attempts": oaArray(oaObject([]string{"attempt", "url", "http_status", "latency_ms", "error", "time"}, oaObj{
				"attempt":     oaInt("1-based"),
				"url":         oaStr(""),
				"http_status": oaNullable(oaInt("null when no response arrived")),
				"latency_ms":  oaInt(""),
				"error":       oaNullable(oaStr("")),
				"time":        dt(""),
			}), "every delivery attempt, oldest first"),
		}),
		"Recording": oaObject([]string{"id", "account_sid", "call_sid", "leg_id", "url", "duration", "channels", "format", "uri", "date_created"}, oaObj{
			"id":           oaStr(""),
			"account_sid":  oaStr(""),
			"call_sid":     oaStr(""),
			"leg_id":       oaNullable(oaStr("")),
			"url":          oaStr("downloads the file (credentials needed)"),
			"duration":     oaInt("seconds"),
			"channels":     oaEnum("", "single", "dual"),
			"format":       oaStr("e.g. wav, mp3"),
			"uri":          oaStr(""),
			"date_created": dt(""),
		}),
		"UserCreate": oaObject(nil, oaObj{
			"name":               oaStr("1 to 200 characters; required unless first_name or last_name is given (then it defaults to the two joined)"),
			"first_name":         oaStr("Exotel CCM: at most 200 characters (default: name up to its first space)"),
			"last_name":          oaStr("Exotel CCM: at most 200 characters (default: the rest of name)"),
			"role":               oaEnum("default user", "admin", "supervisor", "user"),
			"email":              oaNullable(oaStr("an email address such as alice@example.com")),
			"devices":            oaObj{"type": "array", "maxItems": 10, "items": oaStr("E.164 or local number, or sip: URI"), "description": "tried in this order; a user may have none"},
			"device_contact_uri": oaStr("Exotel CCM: the user's one device (instead of devices)"),
			"device_name":        oaStr("the friendly name of device_contact_uri's device"),
			"available":          oaBool("default true; an unavailable user is never dialled by a state-managed connect"),
		}),
		"UserUpdate": oaObject(nil, oaObj{
			"name":               oaStr("1 to 200 characters; first_name and last_name follow it unless sent"),
			"first_name":         oaStr("renames the user to first and last joined unless name is sent"),
			"last_name":          oaStr(""),
			"role":               oaEnum("", "admin", "supervisor", "user"),
			"email":              oaNullable(oaStr("an email address, or null (or \"\") to remove it")),
			"devices":            oaObj{"type": "array", "maxItems": 10, "items": oaStr("E.164 or local number, or sip: URI"), "description": "replaces the list; devices that stay keep their id, name and switch"},
			"device_contact_uri": oaStr("replaces the list with this one device"),
			"available":          oaBool(""),
		}),
		"UserDevice": oaObject([]string{"id", "name", "type", "contact_uri", "available", "verified"}, oaObj{
			"id":          oaStr("dv_ and 24 hex characters"),
			"name":        oaStr("friendly name"),
			"type":        oaEnum("", "tel", "sip"),
			"contact_uri": oaStr("the number or SIP URI as given"),
			"available":   oaBool("the device's own switch: a device that is off is never dialled"),
			"verified":    oaBool("always true"),
		}),
		"UserDeviceUpdate": oaObject(nil, oaObj{
			"available":   oaBool("also accepted as the available query parameter"),
			"contact_uri": oaStr("moves the device to another number or SIP URI"),
			"name":        oaStr(""),
		}),
		"User": oaObject([]string{"sid", "id", "name", "first_name", "last_name", "email", "role", "devices", "available", "busy", "busy_call_sid", "active_call", "last_login", "created_at", "updated_at"}, oaObj{
			"sid":           oaStr("us_ and 24 hex characters"),
			"id":            oaStr("the same as sid (Exotel's name)"),
			"name":          oaStr(""),
			"first_name":    oaStr(""),
			"last_name":     oaStr(""),
			"role":          oaEnum("", "admin", "supervisor", "user"),
			"email":         oaNullable(oaStr("null when none")),
			"devices":       oaArray(oaRef("UserDevice"), "in the order tried"),
			"available":     oaBool("the user's own switch"),
			"busy":          oaBool("on a call now"),
			"busy_call_sid": oaNullable(oaStr("the call the user is on; null when not busy")),
			"active_call":   oaNullable(oaObject([]string{"call_sid"}, oaObj{"call_sid": oaStr("")})),
			"last_login":    oaNullable(oaStr("always null: no dashboard logins")),
			"created_at":    dt(""),
			"updated_at":    dt(""),
		}),
		"CallRequest": oaObject([]string{"id", "applet", "kind", "method", "url", "http_status", "latency_ms", "outcome", "error", "response", "created_at"}, oaObj{
			"id":          oaStr(""),
			"applet":      oaStr("the applet that made the request"),
			"kind":        oaStr("passthru, connect (programmable connect URL), …"),
			"method":      oaStr("HTTP method"),
			"url":         oaStr(""),
			"http_status": oaNullable(oaInt("null when no response arrived")),
			"latency_ms":  oaInt(""),
			"outcome":     oaStr("the output the flow took: success, alternate, error, …"),
			"error":       oaNullable(oaStr("")),
			"response":    oaStr("the start of the response body"),
			"created_at":  dt(""),
		}),
		"AppletStep": oaObject([]string{"flow", "applet", "type", "at"}, oaObj{
			"flow":   oaStr("the flow the applet belongs to: the call's own, or the one a transfer moved it to"),
			"applet": oaStr("the applet id"),
			"type":   oaStr("the applet type: greeting, ivr, connect, …"),
			"at":     dt("when the call entered the applet"),
		}),
		"Message": oaObject([]string{"id", "applet", "channel", "recipients", "subject", "body", "provider", "status", "error", "created_at"}, oaObj{
			"id":         oaStr(""),
			"applet":     oaStr("the applet that sent it"),
			"channel":    oaEnum("", "sms", "email"),
			"recipients": oaArray(oaStr(""), "numbers or email addresses"),
			"subject":    oaStr("email only"),
			"body":       oaStr(""),
			"provider":   oaStr("what sent it: smtp, log, …"),
			"status":     oaEnum("", "sent", "failed"),
			"error":      oaNullable(oaStr("why sending failed")),
			"created_at": dt(""),
		}),

		"RestException": oaObject([]string{"RestException"}, oaObj{
			"RestException": oaObject([]string{"Status", "Message"}, oaObj{"Status": oaInt("the HTTP status"), "Message": oaStr("")}),
		}),
		"RestExceptionXML": oaObj{"type": "object", "xml": oaObj{"name": "TwilioResponse"}, "properties": oaObj{
			"RestException": oaObject(nil, oaObj{"Status": oaInt(""), "Message": oaStr("")}),
		}},
		"V1ConnectRequest": oaObject([]string{"From", "CallerId"}, oaObj{
			"From":                      oaStr("first leg: E.164, Indian local forms, or a sip: URI"),
			"To":                        oaStr("second leg; leave out when Url is given"),
			"Url":                       oaStr("flow URL instead of To: http://<host>/<AccountSid>/exoml/start_voice/<flow_id> (or the legacy /exoml/start/<flow_id>)"),
			"CallerId":                  oaStr("an ExoPhone of the account"),
			"CallType":                  oaEnum("trans (promo is no longer supported: 400)", "trans"),
			"TimeLimit":                 oaObj{"type": "integer", "minimum": 0, "maximum": 14400, "description": "max call length, seconds (0 or empty: 14400)"},
			"TimeOut":                   oaObj{"type": "integer", "minimum": 0, "maximum": 3600, "description": "ring time of each leg, seconds (0 or empty: 45)"},
			"WaitUrl":                   oaStr("audio played to From while To rings"),
			"Record":                    oaEnum("", "true", "false"),
			"RecordingChannels":         oaEnum("", "single", "dual"),
			"RecordingFormat":           oaEnum("", "mp3", "mp3-hq"),
			"CustomField":               oaObj{"type": "string", "maxLength": 128, "description": "echoed in the terminal callback and passed to the flow"},
			"StatusCallback":            oaStr("URL"),
			"StatusCallbackEvents":      oaArray(oaEnum("", "terminal", "answered"), "also StatusCallbackEvents[] / StatusCallbackEvents[0..n]"),
			"StatusCallbackContentType": oaEnum("", "multipart/form-data", "application/json"),
			"StreamUrl":                 oaStr("not supported by this server: a request giving it is refused with 400"),
			"StreamBegin":               oaStr("ignored (StreamUrl is not supported)"),
			"StartPlaybackToNew":        oaEnum("ignored (StartPlaybackValueNew is not supported)", "Callee", "Both"),
			"StartPlaybackValueNew":     oaStr("not supported by this server: a request giving it is refused with 400"),
		}),
		"V1Call": v1Call,
		"V1CallDetails": oaObject(nil, oaObj{
			"ConversationDuration": oaInt("seconds both parties were connected"),
			"Leg1Status":           oaNullable(oaStr("")),
			"Leg2Status":           oaNullable(oaStr("")),
			"Legs": oaArray(oaObject(nil, oaObj{"Leg": oaObject(nil, oaObj{
				"Id": oaInt("1 or 2"), "OnCallDuration": oaInt("seconds")})}), ""),
		}),
		"V1CallResponse": oaObject([]string{"Call"}, oaObj{"Call": oaRef("V1Call")}),
		"V1CallResponseXML": oaObj{"type": "object", "xml": oaObj{"name": "TwilioResponse"}, "properties": oaObj{
			"Call": oaRef("V1Call"),
		}},
		"V1CallList": oaObject([]string{"Metadata", "Calls"}, oaObj{
			"Metadata": v1Meta,
			"Calls":    oaArray(oaRef("V1Call"), ""),
		}),
		"V1CallListXML": oaObj{"type": "object", "xml": oaObj{"name": "TwilioResponse"}, "properties": oaObj{
			"Metadata": v1Meta,
			"Calls": oaObj{"type": "array", "xml": oaObj{"wrapped": true},
				"items": oaObj{"allOf": []any{oaRef("V1Call")}, "xml": oaObj{"name": "Call"}}},
		}},

		"V3CallRequest": oaObject([]string{"from", "to", "virtual_number"}, oaObj{
			"from": oaObject(nil, oaObj{
				"contact_uri":      oaStr("first leg (agent): E.164 or sip: URI"),
				"state_management": oaObj{"description": "refuse (409, 10706) while this contact is on another call; true/false or \"true\"/\"false\"", "oneOf": []any{oaBool(""), oaEnum("", "true", "false")}},
				"user_contact_uri": oaStr("v2-style alternative to contact_uri (state is tracked)"),
				"user_id":          oaStr("v2 style: a user (see /v2/accounts/{account_sid}/users), called on their first device and held while on the call; unknown: 404 code 10731"),
			}),
			"to": oaObject(nil, oaObj{
				"contact_uri": oaStr("the customer, E.164"),
				"number":      oaStr("v2-style alternative to contact_uri"),
			}),
			"virtual_number": oaStr("an ExoPhone of the account"),
			"recording": oaObj{"description": "{record, channels}, or (v2 style) a boolean; booleans may be quoted", "oneOf": []any{
				oaObject(nil, oaObj{"record": oaBool(""), "channels": oaEnum("", "single", "dual")}),
				oaBool(""),
			}},
			"recording_channels": oaEnum("v2 style, with recording: true", "single", "dual"),
			"wait_audio_url":     oaStr("audio played to from while to rings"),
			"max_time_limit":     oaObj{"type": "integer", "minimum": 0, "maximum": 14400, "description": "max call length, seconds (a numeric string is accepted; 0: 14400)"},
			"attempt_time_out":   oaObj{"type": "integer", "minimum": 0, "maximum": 3600, "description": "ring time of each leg, seconds (a numeric string is accepted; 0: 45)"},
			"custom_field":       oaObj{"type": "string", "maxLength": 128},
			"status_callback":    statusCallbacks,
		}),
		"V3CallDetails": oaObject(nil, oaObj{
			"sid":             oaStr(""),
			"direction":       oaStr(""),
			"virtual_number":  oaStr(""),
			"state":           oaEnum("", "active", "terminal"),
			"status":          oaNullable(oaEnum("null while active", "completed", "from_leg_unanswered", "to_leg_unanswered", "from_leg_cancelled", "to_leg_cancelled", "to_leg_no_dial", "from_leg_no_dial")),
			"legs":            oaNullable(oaStr("URI of the legs resource")),
			"created_time":    oaStr("YYYY-MM-DD HH:mm:ss+05:30"),
			"updated_time":    oaStr(""),
			"start_time":      oaStr(""),
			"end_time":        oaStr("1970-01-01 05:30:00+05:30 while active"),
			"total_duration":  oaInt("seconds"),
			"total_talk_time": oaInt("seconds"),
			"custom_field":    oaNullable(oaStr("")),
			"app_id":          oaNullable(oaStr("flow id")),
			"app_name":        oaNullable(oaStr("")),
			"digits":          oaNullable(oaStr("DTMF collected, hyphen-separated")),
			"recordings":      oaArray(oaObject(nil, oaObj{"url": oaStr("")}), ""),
		}),
		"V3Leg": v3Leg,
		"V3LegDetails": oaObject(nil, oaObj{
			"call_sid":    oaStr(""),
			"account_sid": oaStr(""),
			"from":        oaArray(oaRef("V3Leg"), ""),
			"to":          oaArray(oaRef("V3Leg"), ""),
		}),
	}
}
