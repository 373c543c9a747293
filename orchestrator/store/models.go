package store

import "time"

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
	Duration             int       `gorm:"column:duration"`
	ConversationDuration int       `gorm:"column:conversation_duration"`
	HangupCause          string    `gorm:"column:hangup_cause"`
	RecordingURL         string    `gorm:"column:recording_url"`
	CustomField          string    `gorm:"column:custom_field"`
	Digits               string    `gorm:"column:digits"`
	Node                 string    `gorm:"column:node"` // FreeSWITCH node
	Price                *string   `gorm:"column:price"`
	CreatedAt            time.Time `gorm:"column:created_at"` // Exotel DateCreated
	UpdatedAt            time.Time `gorm:"column:updated_at"`
}

// TableName implements gorm's tabler.
func (Call) TableName() string { return "calls" }

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
	Channels  string    `gorm:"column:channels"`
	Format    string    `gorm:"column:format"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

// TableName implements gorm's tabler.
func (Recording) TableName() string { return "recordings" }

// Recording channel layouts.
const (
	ChannelsSingle = "single"
	ChannelsDual   = "dual"
)
