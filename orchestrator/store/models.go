package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// The models mirror the tables created by the migrations in migrations.go;
// every column is named explicitly so the DDL and the tags can be read side
// by side. GORM never creates or alters tables here.

// Account is a tenant. Its SID appears in API paths (/v1/Accounts/{sid}).
type Account struct {
	SID  string `gorm:"column:sid;primaryKey"`
	Name string `gorm:"column:name"`
	// TokenHash is the sha256 (hex) of the account token, used for the
	// legacy SID:token Basic auth.
	TokenHash string    `gorm:"column:token_hash"`
	CreatedAt time.Time `gorm:"column:created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Account) TableName() string { return "accounts" }

// APIKey is an API key of an account; its token is stored hashed.
type APIKey struct {
	Key         string     `gorm:"column:api_key;primaryKey"`
	AccountSID  string     `gorm:"column:account_sid"`
	TokenHash   string     `gorm:"column:token_hash"`
	Description string     `gorm:"column:description"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	RevokedAt   *time.Time `gorm:"column:revoked_at"`
}

// TableName implements gorm's tabler.
func (APIKey) TableName() string { return "api_keys" }

// ExoPhone is a number owned by an account; inbound calls to it run its flow.
type ExoPhone struct {
	Number       string    `gorm:"column:number;primaryKey"` // E.164
	AccountSID   string    `gorm:"column:account_sid"`
	FlowID       *string   `gorm:"column:flow_id"`
	FriendlyName string    `gorm:"column:friendly_name"`
	CreatedAt    time.Time `gorm:"column:created_at"`
	UpdatedAt    time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (ExoPhone) TableName() string { return "exophones" }

// Flow is a call flow: an editable draft plus a pointer to its live
// published version.
type Flow struct {
	ID         string `gorm:"column:id;primaryKey"`
	AccountSID string `gorm:"column:account_sid"`
	Name       string `gorm:"column:name"`
	// Draft is the flow document (JSON) being edited. The store does not
	// look inside it.
	Draft string `gorm:"column:draft"`
	// LiveVersion is the published version new calls run; 0 means the flow
	// was never published.
	LiveVersion int       `gorm:"column:live_version"`
	CreatedAt   time.Time `gorm:"column:created_at"`
	UpdatedAt   time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Flow) TableName() string { return "flows" }

// FlowVersion is an immutable published copy of a flow's draft.
type FlowVersion struct {
	FlowID      string    `gorm:"column:flow_id;primaryKey"`
	Version     int       `gorm:"column:version;primaryKey;autoIncrement:false"`
	AccountSID  string    `gorm:"column:account_sid"`
	Document    string    `gorm:"column:document"`
	PublishedAt time.Time `gorm:"column:published_at"`
}

// TableName implements gorm's tabler.
func (FlowVersion) TableName() string { return "flow_versions" }

// Call is one call (Exotel's Call object).
type Call struct {
	SID           string  `gorm:"column:sid;primaryKey"` // 32 lowercase hex, see NewSID
	AccountSID    string  `gorm:"column:account_sid"`
	ParentCallSID *string `gorm:"column:parent_call_sid"`
	// Direction is DirectionInbound, DirectionOutboundAPI or DirectionOutboundDial.
	Direction   string     `gorm:"column:direction"`
	From        string     `gorm:"column:from_number"`
	To          string     `gorm:"column:to_number"`
	PhoneNumber string     `gorm:"column:phone_number"` // the ExoPhone
	FlowID      *string    `gorm:"column:flow_id"`
	FlowVersion int        `gorm:"column:flow_version"` // the version the call is pinned to
	Status      Status     `gorm:"column:status"`
	StartTime   time.Time  `gorm:"column:start_time"`
	AnswerTime  *time.Time `gorm:"column:answer_time"`
	EndTime     *time.Time `gorm:"column:end_time"`
	// Duration is the whole call in seconds; ConversationDuration the time
	// both parties were connected.
	Duration             int     `gorm:"column:duration"`
	ConversationDuration int     `gorm:"column:conversation_duration"`
	HangupCause          string  `gorm:"column:hangup_cause"`
	RecordingURL         string  `gorm:"column:recording_url"`
	CustomField          string  `gorm:"column:custom_field"`
	Digits               string  `gorm:"column:digits"`
	Node                 string  `gorm:"column:node"` // FreeSWITCH node
	Price                *string `gorm:"column:price"`
	// CallType is Exotel's CallType ("trans").
	CallType string `gorm:"column:call_type"`
	// Outbound is the request of an API-created call as JSON, read by the
	// orchestrator that places it; empty for inbound calls.
	Outbound string `gorm:"column:outbound"`
	// InstanceID is the Switchyard instance running the call (see
	// Instances): when it stops beating, its unfinished calls are
	// reconciled at once. Empty for calls from before it was kept.
	InstanceID string `gorm:"column:instance_id"`
	// StatusCallback is the URL status callbacks go to ("" = none).
	StatusCallback string `gorm:"column:status_callback"`
	// StatusCallbackEvents is a comma-separated subset of
	// CallbackTerminal, CallbackAnswered; empty means one terminal
	// callback with the base fields only.
	StatusCallbackEvents string `gorm:"column:status_callback_events"`
	// StatusCallbackURLs is a JSON object event → URL (v3's per-event
	// status_callback) overriding StatusCallback for those events; "" for
	// none.
	StatusCallbackURLs string `gorm:"column:status_callback_urls"`
	// StatusCallbackContentType is ContentMultipart (default) or ContentJSON.
	StatusCallbackContentType string    `gorm:"column:status_callback_content_type"`
	CreatedAt                 time.Time `gorm:"column:created_at"` // Exotel DateCreated
	UpdatedAt                 time.Time `gorm:"column:updated_at"`

	// AppletPath is the applets the call's flow ran through, in order,
	// written with the final record (CallFinal.AppletPath); empty while
	// the call runs, for calls that ran no flow, and for calls closed by
	// the reconciler (the path lived in the runtime that lost them).
	AppletPath AppletPath `gorm:"column:applet_path"`
}

// TableName implements gorm's tabler.
func (Call) TableName() string { return "calls" }

// AppletStep is one applet a call entered: which flow it belongs to (a
// transfer moves the call to another flow's applets), its id and type,
// and when the call entered it (the time of the event that led there).
type AppletStep struct {
	Flow   string    `json:"flow"`
	Applet string    `json:"applet"`
	Type   string    `json:"type"`
	At     time.Time `json:"at"`
}

// MaxAppletPath bounds the applets a call's path keeps. The runtime keeps
// the first MaxAppletPath-1 and the last: a path this long may have lost
// applets between its last two steps (their times show the gap).
const MaxAppletPath = 200

// AppletPath is the applets a call ran through, in order. It is stored
// as JSON text in calls.applet_path: an empty path as the empty string.
type AppletPath []AppletStep

// Value implements driver.Valuer: the empty string for an empty path,
// else a JSON array with times in UTC.
func (p AppletPath) Value() (driver.Value, error) {
	if len(p) == 0 {
		return "", nil
	}
	out := make([]AppletStep, len(p))
	for i, st := range p {
		st.At = st.At.UTC()
		out[i] = st
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("applet path: %w", err)
	}
	return string(b), nil
}

// Scan implements sql.Scanner: NULL and the empty string are an empty
// (nil) path.
func (p *AppletPath) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("applet path: cannot scan %T", src)
	}
	if len(b) == 0 {
		*p = nil
		return nil
	}
	var out []AppletStep
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("applet path: %w", err)
	}
	*p = out
	return nil
}

// Leg is one channel of a call: the customer leg, and every agent leg
// tried, including the losers of parallel ringing.
type Leg struct {
	ID         string `gorm:"column:id;primaryKey"`
	CallSID    string `gorm:"column:call_sid"`
	AccountSID string `gorm:"column:account_sid"`
	Seq        int    `gorm:"column:seq"`  // 1 = first leg
	UUID       string `gorm:"column:uuid"` // FreeSWITCH Unique-ID
	// Direction is LegInbound or LegOutbound.
	Direction     string     `gorm:"column:direction"`
	From          string     `gorm:"column:from_number"`
	To            string     `gorm:"column:to_number"`
	Status        Status     `gorm:"column:status"`
	StartTime     time.Time  `gorm:"column:start_time"`
	AnswerTime    *time.Time `gorm:"column:answer_time"`
	EndTime       *time.Time `gorm:"column:end_time"`
	Duration      int        `gorm:"column:duration"`  // seconds
	TalkTime      int        `gorm:"column:talk_time"` // seconds (billsec)
	HangupCause   string     `gorm:"column:hangup_cause"`
	SIPTermStatus string     `gorm:"column:sip_term_status"`
	RecordingURL  string     `gorm:"column:recording_url"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
	UpdatedAt     time.Time  `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Leg) TableName() string { return "legs" }

// Recording is an audio file made during a call.
type Recording struct {
	ID         string  `gorm:"column:id;primaryKey"`
	AccountSID string  `gorm:"column:account_sid"`
	CallSID    string  `gorm:"column:call_sid"`
	LegID      *string `gorm:"column:leg_id"`
	URL        string  `gorm:"column:url"`
	Path       string  `gorm:"column:path"`
	Duration   int     `gorm:"column:duration"` // seconds
	// Channels is "single" or "dual".
	Channels string `gorm:"column:channels"`
	// Format is the format of the file served: that at Path until the
	// recording is archived ("wav"), then the stored object's ("wav",
	// "mp3").
	Format    string    `gorm:"column:format"`
	CreatedAt time.Time `gorm:"column:created_at"`

	// Archiving (see Recordings.ClaimArchive): ArchiveStatus is "" (no
	// archiving: rows from before it), ArchivePending, ArchiveDone or
	// ArchiveFailed; ArchiveFormat is what the file is archived as
	// ("wav", "mp3", "mp3-hq"). Once archived, the file is the object
	// StorageKey of the blob store Storage ("disk:/folder",
	// "s3://bucket/prefix"), of Size bytes.
	ArchiveStatus   string     `gorm:"column:archive_status"`
	ArchiveFormat   string     `gorm:"column:archive_format"`
	Storage         string     `gorm:"column:storage"`
	StorageKey      string     `gorm:"column:storage_key"`
	Size            int64      `gorm:"column:size"`
	ArchiveAttempts int        `gorm:"column:archive_attempts"`
	ArchiveError    string     `gorm:"column:archive_error"`
	ClaimedBy       string     `gorm:"column:claimed_by"`
	ClaimUntil      *time.Time `gorm:"column:claim_until"`
	ArchivedAt      *time.Time `gorm:"column:archived_at"`
	// CallEnded: the recording's call is over (its final record is
	// written), so its file is complete and may be archived.
	CallEnded bool `gorm:"column:call_ended"`
}

// TableName implements gorm's tabler.
func (Recording) TableName() string { return "recordings" }

// Archive states of a recording.
const (
	ArchivePending = "pending"
	ArchiveDone    = "archived"
	ArchiveFailed  = "failed"
)

// Recording channel layouts.
const (
	ChannelsSingle = "single"
	ChannelsDual   = "dual"
)

// Callback is a status callback in the outbox: written in the transaction
// that changed the call, relayed to the delivery queue, delivered at least
// once. Payload is a snapshot of the fields as JSON (an object whose key
// order is the order fields are sent in).
type Callback struct {
	ID          string     `gorm:"column:id;primaryKey"`
	AccountSID  string     `gorm:"column:account_sid"`
	CallSID     string     `gorm:"column:call_sid"`
	Seq         int        `gorm:"column:seq"`   // 1, 2, … per call, in the order events happened
	Event       string     `gorm:"column:event"` // CallbackTerminal or CallbackAnswered
	URL         string     `gorm:"column:url"`
	ContentType string     `gorm:"column:content_type"`
	Payload     string     `gorm:"column:payload"`
	Status      string     `gorm:"column:status"` // CallbackPending, CallbackDelivered, CallbackFailed
	Attempts    int        `gorm:"column:attempts"`
	RelayedAt   *time.Time `gorm:"column:relayed_at"`
	DeliveredAt *time.Time `gorm:"column:delivered_at"`
	CreatedAt   time.Time  `gorm:"column:created_at"`
	UpdatedAt   time.Time  `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Callback) TableName() string { return "callbacks" }

// CallbackAttempt is one HTTP attempt to deliver a Callback.
type CallbackAttempt struct {
	ID         string    `gorm:"column:id;primaryKey"`
	CallbackID string    `gorm:"column:callback_id"`
	AccountSID string    `gorm:"column:account_sid"`
	CallSID    string    `gorm:"column:call_sid"`
	Attempt    int       `gorm:"column:attempt"` // 1-based
	URL        string    `gorm:"column:url"`
	HTTPStatus int       `gorm:"column:http_status"` // 0 when no response arrived
	LatencyMS  int       `gorm:"column:latency_ms"`
	Error      string    `gorm:"column:error"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (CallbackAttempt) TableName() string { return "callback_attempts" }

// Status callback events, content types and delivery states.
const (
	CallbackTerminal = "terminal"
	CallbackAnswered = "answered"

	ContentMultipart = "multipart/form-data"
	ContentJSON      = "application/json"

	CallbackPending   = "pending"
	CallbackDelivered = "delivered"
	CallbackFailed    = "failed"
)

// IdempotencyKey remembers which call a client's Idempotency-Key created.
type IdempotencyKey struct {
	AccountSID  string    `gorm:"column:account_sid;primaryKey"`
	Key         string    `gorm:"column:idem_key;primaryKey"`
	RequestHash string    `gorm:"column:request_hash"`
	CallSID     string    `gorm:"column:call_sid"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (IdempotencyKey) TableName() string { return "idempotency_keys" }

// ContactLock marks a contact (number or SIP URI) as held by a live call.
type ContactLock struct {
	AccountSID string `gorm:"column:account_sid;primaryKey"`
	Contact    string `gorm:"column:contact;primaryKey"`
	CallSID    string `gorm:"column:call_sid"`
	// LegUUID is the dialled leg the hold is for; "" holds for the whole
	// call.
	LegUUID   string    `gorm:"column:leg_uuid"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (ContactLock) TableName() string { return "contact_locks" }

// User is an agent of the account, reached on one or more devices.
type User struct {
	SID        string `gorm:"column:sid;primaryKey"`
	AccountSID string `gorm:"column:account_sid"`
	Name       string `gorm:"column:name"`
	// FirstName and LastName are Exotel's CCM fields; Name is the
	// display name (the two joined when the user was made from them).
	FirstName string `gorm:"column:first_name"`
	LastName  string `gorm:"column:last_name"`
	// Role is admin, supervisor or user.
	Role  string `gorm:"column:role"`
	Email string `gorm:"column:email"`
	// Available is the agent's own switch: an unavailable user is never
	// dialled by a state-managed connect.
	Available bool         `gorm:"column:available"`
	Devices   []UserDevice `gorm:"foreignKey:UserSID;references:SID"`
	CreatedAt time.Time    `gorm:"column:created_at"`
	UpdatedAt time.Time    `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (User) TableName() string { return "users" }

// UserDevice is a number or SIP URI a user is reached on; Contact is in
// ContactKey form, unique in the account.
type UserDevice struct {
	AccountSID string `gorm:"column:account_sid;primaryKey"`
	Contact    string `gorm:"column:contact;primaryKey"`
	// Device is the contact as the user was given it, for display.
	Device string `gorm:"column:device"`
	// SID names the device (Exotel's device id); Name is its friendly
	// name; Available is its own switch: a device that is off is never
	// dialled.
	SID       string    `gorm:"column:sid"`
	Name      string    `gorm:"column:name"`
	Available bool      `gorm:"column:available"`
	UserSID   string    `gorm:"column:user_sid"`
	Position  int       `gorm:"column:position"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (UserDevice) TableName() string { return "user_devices" }

// StickyAgent remembers the agent a caller last spoke to through a connect
// applet (Scope), until ExpiresAt.
type StickyAgent struct {
	AccountSID string    `gorm:"column:account_sid;primaryKey"`
	Scope      string    `gorm:"column:scope;primaryKey"`
	Caller     string    `gorm:"column:caller;primaryKey"`
	Contact    string    `gorm:"column:contact"`
	ExpiresAt  time.Time `gorm:"column:expires_at"`
	UpdatedAt  time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (StickyAgent) TableName() string { return "sticky_agents" }

// QueueEntry is a caller waiting for a free agent.
type QueueEntry struct {
	CallSID    string    `gorm:"column:call_sid;primaryKey"`
	AccountSID string    `gorm:"column:account_sid"`
	QueueKey   string    `gorm:"column:queue_key"`
	EnqueuedAt time.Time `gorm:"column:enqueued_at"`
	// ExpiresAt is when the entry stops counting if its call's instance
	// is gone and nobody refreshed it.
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

// TableName implements gorm's tabler.
func (QueueEntry) TableName() string { return "queue_entries" }

// CallRequest is one HTTP request a flow made to the customer's server
// (a passthru, a dynamic connect), logged against the call.
type CallRequest struct {
	ID         string `gorm:"column:id;primaryKey"`
	AccountSID string `gorm:"column:account_sid"`
	CallSID    string `gorm:"column:call_sid"`
	Applet     string `gorm:"column:applet"`
	// Kind is "passthru" or "connect".
	Kind       string `gorm:"column:kind"`
	Method     string `gorm:"column:method"`
	URL        string `gorm:"column:url"`
	HTTPStatus int    `gorm:"column:http_status"` // 0: no response
	LatencyMS  int    `gorm:"column:latency_ms"`
	// Outcome is the output the flow took (success, alternate, error, ...).
	Outcome string `gorm:"column:outcome"`
	Error   string `gorm:"column:error"`
	// Response is the start of the response body.
	Response  string    `gorm:"column:response"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (CallRequest) TableName() string { return "call_requests" }

// Message is an SMS or email a flow sent (or failed to send).
type Message struct {
	ID         string `gorm:"column:id;primaryKey"`
	AccountSID string `gorm:"column:account_sid"`
	CallSID    string `gorm:"column:call_sid"`
	Applet     string `gorm:"column:applet"`
	Channel    string `gorm:"column:channel"`    // sms or email
	Recipients string `gorm:"column:recipients"` // comma-separated
	Subject    string `gorm:"column:subject"`
	Body       string `gorm:"column:body"`
	Provider   string `gorm:"column:provider"`
	// Status is MessageSent or MessageFailed.
	Status    string    `gorm:"column:status"`
	Error     string    `gorm:"column:error"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (Message) TableName() string { return "messages" }

// Message statuses.
const (
	MessageSent   = "sent"
	MessageFailed = "failed"
)
