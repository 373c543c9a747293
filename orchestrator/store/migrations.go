package store

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Migration is one step of the schema. Versions are applied in increasing
// order, each in its own transaction, and never edited once released: change
// the schema by appending a migration.
type Migration struct {
	Version int
	Name    string
	// SQL runs on every dialect, one statement per element. The
	// placeholder {{timestamp}} becomes TIMESTAMP on SQLite and TIMESTAMPTZ
	// on PostgreSQL; everything else must be portable.
	SQL []string
	// Postgres and SQLite run only on their dialect, after SQL.
	Postgres []string
	SQLite   []string
	// Func, if set, runs last, inside the same transaction.
	Func func(ctx context.Context, tx *gorm.DB, dialect string) error
}

// statements returns the SQL of m for dialect, placeholders expanded.
func (m Migration) statements(dialect string) []string {
	ts := "TIMESTAMP"
	extra := m.SQLite
	if dialect == DialectPostgres {
		ts = "TIMESTAMPTZ"
		extra = m.Postgres
	}
	out := make([]string, 0, len(m.SQL)+len(extra))
	for _, s := range append(append([]string(nil), m.SQL...), extra...) {
		out = append(out, strings.ReplaceAll(s, "{{timestamp}}", ts))
	}
	return out
}

// migrations is the schema, in order. Conventions: string primary keys (no
// sequences, so the DDL stays portable), timestamps in UTC, NOT NULL with
// defaults for optional text, composite foreign keys (id, account_sid) so a
// child row can never point at another account's parent.
var migrations = []Migration{
	{
		Version: 1,
		Name:    "accounts and api keys",
		SQL: []string{
			`CREATE TABLE accounts (
				sid        TEXT PRIMARY KEY,
				name       TEXT NOT NULL,
				token_hash TEXT NOT NULL,
				created_at {{timestamp}} NOT NULL,
				updated_at {{timestamp}} NOT NULL
			)`,
			`CREATE TABLE api_keys (
				api_key     TEXT PRIMARY KEY,
				account_sid TEXT NOT NULL REFERENCES accounts (sid),
				token_hash  TEXT NOT NULL,
				description TEXT NOT NULL DEFAULT '',
				created_at  {{timestamp}} NOT NULL,
				revoked_at  {{timestamp}} NULL
			)`,
			`CREATE INDEX api_keys_account_sid_idx ON api_keys (account_sid)`,
		},
	},
	{
		Version: 2,
		Name:    "flows, versions and exophones",
		SQL: []string{
			`CREATE TABLE flows (
				id           TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL REFERENCES accounts (sid),
				name         TEXT NOT NULL,
				draft        TEXT NOT NULL,
				live_version INTEGER NOT NULL DEFAULT 0,
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				UNIQUE (id, account_sid)
			)`,
			`CREATE INDEX flows_account_sid_idx ON flows (account_sid)`,
			`CREATE TABLE flow_versions (
				flow_id      TEXT NOT NULL,
				version      INTEGER NOT NULL,
				account_sid  TEXT NOT NULL,
				document     TEXT NOT NULL,
				published_at {{timestamp}} NOT NULL,
				PRIMARY KEY (flow_id, version),
				FOREIGN KEY (flow_id, account_sid) REFERENCES flows (id, account_sid)
			)`,
			`CREATE TABLE exophones (
				number        TEXT PRIMARY KEY,
				account_sid   TEXT NOT NULL REFERENCES accounts (sid),
				flow_id       TEXT NULL,
				friendly_name TEXT NOT NULL DEFAULT '',
				created_at    {{timestamp}} NOT NULL,
				updated_at    {{timestamp}} NOT NULL,
				FOREIGN KEY (flow_id, account_sid) REFERENCES flows (id, account_sid)
			)`,
			`CREATE INDEX exophones_account_sid_idx ON exophones (account_sid)`,
			`CREATE INDEX exophones_flow_id_idx ON exophones (flow_id)`,
		},
	},
	{
		Version: 3,
		Name:    "calls, legs and recordings",
		SQL: []string{
			`CREATE TABLE calls (
				sid                   TEXT PRIMARY KEY,
				account_sid           TEXT NOT NULL REFERENCES accounts (sid),
				parent_call_sid       TEXT NULL,
				direction             TEXT NOT NULL,
				from_number           TEXT NOT NULL DEFAULT '',
				to_number             TEXT NOT NULL DEFAULT '',
				phone_number          TEXT NOT NULL DEFAULT '',
				flow_id               TEXT NULL,
				flow_version          INTEGER NOT NULL DEFAULT 0,
				status                TEXT NOT NULL,
				start_time            {{timestamp}} NOT NULL,
				answer_time           {{timestamp}} NULL,
				end_time              {{timestamp}} NULL,
				duration              INTEGER NOT NULL DEFAULT 0,
				conversation_duration INTEGER NOT NULL DEFAULT 0,
				hangup_cause          TEXT NOT NULL DEFAULT '',
				recording_url         TEXT NOT NULL DEFAULT '',
				custom_field          TEXT NOT NULL DEFAULT '',
				digits                TEXT NOT NULL DEFAULT '',
				node                  TEXT NOT NULL DEFAULT '',
				price                 TEXT NULL,
				created_at            {{timestamp}} NOT NULL,
				updated_at            {{timestamp}} NOT NULL,
				UNIQUE (sid, account_sid)
			)`,
			// Keyset paging walks (created_at, sid) in either direction.
			`CREATE INDEX calls_account_created_idx ON calls (account_sid, created_at DESC, sid DESC)`,
			`CREATE INDEX calls_account_status_idx ON calls (account_sid, status)`,
			`CREATE TABLE legs (
				id              TEXT PRIMARY KEY,
				call_sid        TEXT NOT NULL,
				account_sid     TEXT NOT NULL,
				seq             INTEGER NOT NULL,
				uuid            TEXT NOT NULL,
				direction       TEXT NOT NULL,
				from_number     TEXT NOT NULL DEFAULT '',
				to_number       TEXT NOT NULL DEFAULT '',
				status          TEXT NOT NULL,
				start_time      {{timestamp}} NOT NULL,
				answer_time     {{timestamp}} NULL,
				end_time        {{timestamp}} NULL,
				duration        INTEGER NOT NULL DEFAULT 0,
				talk_time       INTEGER NOT NULL DEFAULT 0,
				hangup_cause    TEXT NOT NULL DEFAULT '',
				sip_term_status TEXT NOT NULL DEFAULT '',
				recording_url   TEXT NOT NULL DEFAULT '',
				created_at      {{timestamp}} NOT NULL,
				updated_at      {{timestamp}} NOT NULL,
				UNIQUE (id, call_sid),
				FOREIGN KEY (call_sid, account_sid) REFERENCES calls (sid, account_sid)
			)`,
			`CREATE UNIQUE INDEX legs_call_seq_key ON legs (call_sid, seq)`,
			`CREATE UNIQUE INDEX legs_uuid_key ON legs (uuid)`,
			`CREATE TABLE recordings (
				id          TEXT PRIMARY KEY,
				account_sid TEXT NOT NULL,
				call_sid    TEXT NOT NULL,
				leg_id      TEXT NULL,
				url         TEXT NOT NULL,
				path        TEXT NOT NULL DEFAULT '',
				duration    INTEGER NOT NULL DEFAULT 0,
				channels    TEXT NOT NULL DEFAULT 'single',
				format      TEXT NOT NULL DEFAULT '',
				created_at  {{timestamp}} NOT NULL,
				FOREIGN KEY (call_sid, account_sid) REFERENCES calls (sid, account_sid),
				FOREIGN KEY (leg_id, call_sid) REFERENCES legs (id, call_sid)
			)`,
			`CREATE INDEX recordings_call_sid_idx ON recordings (call_sid)`,
		},
	},
	{
		Version: 4,
		Name:    "outbound call options, status callbacks, idempotency keys, contact locks",
		SQL: []string{
			`ALTER TABLE calls ADD COLUMN call_type TEXT NOT NULL DEFAULT 'trans'`,
			// The request of an API call (Calls/connect, v3 calls) as JSON: what
			// the orchestrator needs to place it (see OutboundSpec).
			`ALTER TABLE calls ADD COLUMN outbound TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE calls ADD COLUMN status_callback TEXT NOT NULL DEFAULT ''`,
			// Comma-separated: terminal, answered. Empty means Exotel's
			// default: one terminal callback with the base fields.
			`ALTER TABLE calls ADD COLUMN status_callback_events TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE calls ADD COLUMN status_callback_content_type TEXT NOT NULL DEFAULT ''`,
			// Per-event URLs (v3 status_callback [{event, url}]) as a JSON
			// object, overriding status_callback for those events.
			`ALTER TABLE calls ADD COLUMN status_callback_urls TEXT NOT NULL DEFAULT ''`,
			// The transactional outbox of status callbacks: rows are written
			// in the transaction that changes the call, then relayed to the
			// delivery queue.
			`CREATE TABLE callbacks (
				id           TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL,
				call_sid     TEXT NOT NULL,
				seq          INTEGER NOT NULL,
				event        TEXT NOT NULL,
				url          TEXT NOT NULL,
				content_type TEXT NOT NULL,
				payload      TEXT NOT NULL,
				status       TEXT NOT NULL DEFAULT 'pending',
				attempts     INTEGER NOT NULL DEFAULT 0,
				relayed_at   {{timestamp}} NULL,
				delivered_at {{timestamp}} NULL,
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				UNIQUE (id, account_sid),
				FOREIGN KEY (call_sid, account_sid) REFERENCES calls (sid, account_sid)
			)`,
			`CREATE UNIQUE INDEX callbacks_call_seq_key ON callbacks (call_sid, seq)`,
			`CREATE INDEX callbacks_relay_idx ON callbacks (relayed_at, created_at)`,
			`CREATE TABLE callback_attempts (
				id          TEXT PRIMARY KEY,
				callback_id TEXT NOT NULL,
				account_sid TEXT NOT NULL,
				call_sid    TEXT NOT NULL,
				attempt     INTEGER NOT NULL,
				url         TEXT NOT NULL,
				http_status INTEGER NOT NULL DEFAULT 0,
				latency_ms  INTEGER NOT NULL DEFAULT 0,
				error       TEXT NOT NULL DEFAULT '',
				created_at  {{timestamp}} NOT NULL,
				FOREIGN KEY (callback_id, account_sid) REFERENCES callbacks (id, account_sid)
			)`,
			`CREATE INDEX callback_attempts_call_idx ON callback_attempts (call_sid, created_at)`,
			`CREATE TABLE idempotency_keys (
				account_sid  TEXT NOT NULL REFERENCES accounts (sid),
				idem_key     TEXT NOT NULL,
				request_hash TEXT NOT NULL,
				call_sid     TEXT NOT NULL,
				created_at   {{timestamp}} NOT NULL,
				PRIMARY KEY (account_sid, idem_key)
			)`,
			// A contact (number or SIP URI) held by a live call: the
			// conditional insert that keeps state-managed users on one call.
			`CREATE TABLE contact_locks (
				account_sid TEXT NOT NULL,
				contact     TEXT NOT NULL,
				call_sid    TEXT NOT NULL,
				expires_at  {{timestamp}} NOT NULL,
				created_at  {{timestamp}} NOT NULL,
				PRIMARY KEY (account_sid, contact)
			)`,
			`CREATE INDEX contact_locks_call_idx ON contact_locks (call_sid)`,
		},
	},
	{
		Version: 5,
		Name:    "passthru requests and messages of calls",
		SQL: []string{
			// Every HTTP request a flow made to the customer's server
			// (passthru, dynamic connect), with its outcome.
			`CREATE TABLE call_requests (
				id           TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL,
				call_sid     TEXT NOT NULL,
				applet       TEXT NOT NULL DEFAULT '',
				kind         TEXT NOT NULL DEFAULT 'passthru',
				method       TEXT NOT NULL,
				url          TEXT NOT NULL,
				http_status  INTEGER NOT NULL DEFAULT 0,
				latency_ms   INTEGER NOT NULL DEFAULT 0,
				outcome      TEXT NOT NULL DEFAULT '',
				error        TEXT NOT NULL DEFAULT '',
				response     TEXT NOT NULL DEFAULT '',
				created_at   {{timestamp}} NOT NULL,
				FOREIGN KEY (call_sid, account_sid) REFERENCES calls (sid, account_sid)
			)`,
			`CREATE INDEX call_requests_call_idx ON call_requests (call_sid, created_at)`,
			// Every SMS and email a flow sent, or failed to send.
			`CREATE TABLE messages (
				id           TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL,
				call_sid     TEXT NOT NULL,
				applet       TEXT NOT NULL DEFAULT '',
				channel      TEXT NOT NULL,
				recipients   TEXT NOT NULL,
				subject      TEXT NOT NULL DEFAULT '',
				body         TEXT NOT NULL DEFAULT '',
				provider     TEXT NOT NULL DEFAULT '',
				status       TEXT NOT NULL,
				error        TEXT NOT NULL DEFAULT '',
				created_at   {{timestamp}} NOT NULL,
				FOREIGN KEY (call_sid, account_sid) REFERENCES calls (sid, account_sid)
			)`,
			`CREATE INDEX messages_call_idx ON messages (call_sid, created_at)`,
		},
	},
	{
		Version: 6,
		Name:    "users, agent state, sticky agents and queues",
		SQL: []string{
			// Users (agents) and the devices they are reached on. A device
			// belongs to one user of the account.
			`CREATE TABLE users (
				sid          TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL REFERENCES accounts (sid),
				name         TEXT NOT NULL,
				email        TEXT NOT NULL DEFAULT '',
				available    BOOLEAN NOT NULL DEFAULT TRUE,
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				UNIQUE (sid, account_sid)
			)`,
			`CREATE INDEX users_account_idx ON users (account_sid, created_at)`,
			`CREATE TABLE user_devices (
				account_sid  TEXT NOT NULL,
				contact      TEXT NOT NULL,
				device       TEXT NOT NULL DEFAULT '',
				user_sid     TEXT NOT NULL,
				position     INTEGER NOT NULL DEFAULT 0,
				created_at   {{timestamp}} NOT NULL,
				PRIMARY KEY (account_sid, contact),
				FOREIGN KEY (user_sid, account_sid) REFERENCES users (sid, account_sid) ON DELETE CASCADE
			)`,
			`CREATE INDEX user_devices_user_idx ON user_devices (user_sid, position)`,
			// A hold taken for one dialled leg is released when that leg
			// ends; call-wide holds (the From of a click-to-call) have none.
			`ALTER TABLE contact_locks ADD COLUMN leg_uuid TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX contact_locks_leg_idx ON contact_locks (leg_uuid)`,
			// The agent a caller last spoke to, per connect applet (scope).
			`CREATE TABLE sticky_agents (
				account_sid  TEXT NOT NULL,
				scope        TEXT NOT NULL,
				caller       TEXT NOT NULL,
				contact      TEXT NOT NULL,
				expires_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				PRIMARY KEY (account_sid, scope, caller)
			)`,
			// Callers waiting for a free agent, in arrival order per queue.
			`CREATE TABLE queue_entries (
				call_sid     TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL,
				queue_key    TEXT NOT NULL,
				enqueued_at  {{timestamp}} NOT NULL,
				expires_at   {{timestamp}} NOT NULL
			)`,
			`CREATE INDEX queue_entries_order_idx ON queue_entries (account_sid, queue_key, enqueued_at, call_sid)`,
		},
	},
	{
		Version: 7,
		Name:    "instance-wide settings",
		SQL: []string{
			// Values every instance sharing the database must agree on
			// (the key that signs pre-signed recording URLs), written
			// once by whichever instance needs one first.
			`CREATE TABLE settings (
				name       TEXT PRIMARY KEY,
				value      TEXT NOT NULL,
				created_at {{timestamp}} NOT NULL
			)`,
		},
	},
	{
		Version: 8,
		Name:    "the instance running each call",
		SQL: []string{
			// Which Switchyard instance runs a call, and when each
			// instance last said it was alive: a killed instance's calls
			// are reconciled seconds after it stops beating, and calls of
			// live instances are never asked about.
			`ALTER TABLE calls ADD COLUMN instance_id TEXT NOT NULL DEFAULT ''`,
			`CREATE INDEX calls_unfinished_instance_idx ON calls (instance_id) WHERE end_time IS NULL`,
			`CREATE TABLE instances (
				id          TEXT PRIMARY KEY,
				name        TEXT NOT NULL,
				started_at  {{timestamp}} NOT NULL,
				seen_at     {{timestamp}} NOT NULL
			)`,
			`CREATE INDEX instances_name_idx ON instances (name)`,
		},
	},
	{
		Version: 9,
		Name:    "campaigns, lists, contacts, do-not-call numbers and leases",
		SQL: []string{
			// Exotel's contacts: an account's address book, referenced by
			// lists. custom_field is a JSON object of free-form columns (the
			// @@Column placeholders of campaign text); timezone is the
			// contact's IANA zone, for calling windows.
			`CREATE TABLE contacts (
				sid          TEXT PRIMARY KEY,
				account_sid  TEXT NOT NULL REFERENCES accounts (sid),
				number       TEXT NOT NULL,
				first_name   TEXT NOT NULL DEFAULT '',
				last_name    TEXT NOT NULL DEFAULT '',
				company_name TEXT NOT NULL DEFAULT '',
				email        TEXT NOT NULL DEFAULT '',
				tag          TEXT NOT NULL DEFAULT '',
				custom_field TEXT NULL,
				timezone     TEXT NOT NULL DEFAULT '',
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				UNIQUE (sid, account_sid)
			)`,
			`CREATE INDEX contacts_account_idx ON contacts (account_sid, created_at, sid)`,
			`CREATE TABLE lists (
				sid         TEXT PRIMARY KEY,
				account_sid TEXT NOT NULL REFERENCES accounts (sid),
				name        TEXT NOT NULL,
				tag         TEXT NOT NULL DEFAULT '',
				created_at  {{timestamp}} NOT NULL,
				updated_at  {{timestamp}} NOT NULL,
				UNIQUE (sid, account_sid),
				UNIQUE (account_sid, name)
			)`,
			// A list's contacts, in the order they were added (seq).
			`CREATE TABLE list_members (
				list_sid    TEXT NOT NULL,
				contact_sid TEXT NOT NULL,
				account_sid TEXT NOT NULL,
				seq         INTEGER NOT NULL,
				created_at  {{timestamp}} NOT NULL,
				PRIMARY KEY (list_sid, contact_sid),
				FOREIGN KEY (list_sid, account_sid) REFERENCES lists (sid, account_sid) ON DELETE CASCADE,
				FOREIGN KEY (contact_sid, account_sid) REFERENCES contacts (sid, account_sid) ON DELETE CASCADE
			)`,
			`CREATE INDEX list_members_order_idx ON list_members (list_sid, seq)`,
			`CREATE INDEX list_members_contact_idx ON list_members (contact_sid)`,
			// The account's do-not-call list, checked when a campaign
			// dials; number_key is store.ContactKey of the number.
			`CREATE TABLE dnd_numbers (
				account_sid TEXT NOT NULL REFERENCES accounts (sid),
				number_key  TEXT NOT NULL,
				number      TEXT NOT NULL,
				reason      TEXT NOT NULL DEFAULT '',
				created_at  {{timestamp}} NOT NULL,
				PRIMARY KEY (account_sid, number_key)
			)`,
			// Campaign dialing limits of an account, across its campaigns.
			`ALTER TABLE accounts ADD COLUMN dial_rate INTEGER NOT NULL DEFAULT 60`,
			`ALTER TABLE accounts ADD COLUMN dial_concurrency INTEGER NOT NULL DEFAULT 60`,
			// A campaign, or one run of a recurring campaign (parent_sid
			// names the recurring campaign, run counts its runs).
			`CREATE TABLE campaigns (
				sid                    TEXT PRIMARY KEY,
				account_sid            TEXT NOT NULL REFERENCES accounts (sid),
				name                   TEXT NOT NULL,
				type                   TEXT NOT NULL DEFAULT 'trans',
				campaign_type          TEXT NOT NULL DEFAULT 'static',
				caller_id              TEXT NOT NULL,
				url                    TEXT NOT NULL DEFAULT '',
				flow_id                TEXT NOT NULL DEFAULT '',
				flow_type              TEXT NOT NULL DEFAULT '',
				read_via_text          TEXT NOT NULL DEFAULT '',
				repeat_menu_attempts   INTEGER NOT NULL DEFAULT 0,
				numbers                TEXT NULL,
				lists                  TEXT NULL,
				retries                TEXT NOT NULL DEFAULT '',
				send_at                {{timestamp}} NULL,
				end_at                 {{timestamp}} NULL,
				recurrence             TEXT NOT NULL DEFAULT '',
				timezone               TEXT NOT NULL DEFAULT '',
				window_start           TEXT NOT NULL DEFAULT '',
				window_end             TEXT NOT NULL DEFAULT '',
				status_callback        TEXT NOT NULL DEFAULT '',
				call_status_callback   TEXT NOT NULL DEFAULT '',
				call_schedule_callback TEXT NOT NULL DEFAULT '',
				mode                   TEXT NOT NULL DEFAULT 'auto',
				throttle               INTEGER NOT NULL DEFAULT 0,
				max_concurrent         INTEGER NOT NULL DEFAULT 0,
				custom_field           TEXT NOT NULL DEFAULT '',
				call_duplicate_numbers BOOLEAN NOT NULL DEFAULT FALSE,
				status                 TEXT NOT NULL,
				parent_sid             TEXT NOT NULL DEFAULT '',
				run                    INTEGER NOT NULL DEFAULT 0,
				next_run_at            {{timestamp}} NULL,
				skipped                INTEGER NOT NULL DEFAULT 0,
				date_started           {{timestamp}} NULL,
				date_ended             {{timestamp}} NULL,
				created_at             {{timestamp}} NOT NULL,
				updated_at             {{timestamp}} NOT NULL,
				UNIQUE (sid, account_sid)
			)`,
			`CREATE INDEX campaigns_account_idx ON campaigns (account_sid, created_at, sid)`,
			`CREATE INDEX campaigns_status_idx ON campaigns (status)`,
			`CREATE UNIQUE INDEX campaigns_run_key ON campaigns (parent_sid, run) WHERE parent_sid <> ''`,
			// One row per number a campaign calls, with where it stands:
			// pending, in-progress, retry, or a final status. next_at is
			// when it may be dialled next.
			`CREATE TABLE campaign_numbers (
				id           TEXT PRIMARY KEY,
				campaign_sid TEXT NOT NULL,
				account_sid  TEXT NOT NULL,
				seq          INTEGER NOT NULL,
				number       TEXT NOT NULL,
				number_key   TEXT NOT NULL,
				contact_sid  TEXT NOT NULL DEFAULT '',
				name         TEXT NOT NULL DEFAULT '',
				data         TEXT NULL,
				timezone     TEXT NOT NULL DEFAULT '',
				status       TEXT NOT NULL,
				attempts     INTEGER NOT NULL DEFAULT 0,
				next_at      {{timestamp}} NOT NULL,
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				FOREIGN KEY (campaign_sid, account_sid) REFERENCES campaigns (sid, account_sid) ON DELETE CASCADE
			)`,
			`CREATE UNIQUE INDEX campaign_numbers_seq_key ON campaign_numbers (campaign_sid, seq)`,
			`CREATE INDEX campaign_numbers_due_idx ON campaign_numbers (campaign_sid, status, next_at, seq)`,
			// One row per call a campaign placed: the unique (number,
			// attempt) is what keeps a number from being called twice for
			// the same attempt, whichever instance dials.
			`CREATE TABLE campaign_attempts (
				call_sid     TEXT PRIMARY KEY,
				campaign_sid TEXT NOT NULL,
				account_sid  TEXT NOT NULL,
				number_id    TEXT NOT NULL,
				attempt      INTEGER NOT NULL,
				number       TEXT NOT NULL,
				status       TEXT NOT NULL,
				instance_id  TEXT NOT NULL DEFAULT '',
				created_at   {{timestamp}} NOT NULL,
				updated_at   {{timestamp}} NOT NULL,
				FOREIGN KEY (campaign_sid, account_sid) REFERENCES campaigns (sid, account_sid) ON DELETE CASCADE
			)`,
			`CREATE UNIQUE INDEX campaign_attempts_number_key ON campaign_attempts (number_id, attempt)`,
			`CREATE INDEX campaign_attempts_campaign_idx ON campaign_attempts (campaign_sid, created_at)`,
			`CREATE INDEX campaign_attempts_open_idx ON campaign_attempts (status)`,
			// Named leases: the one instance that runs a singleton (the
			// campaign dialer) holds its row; epoch fences a holder that
			// lost it.
			`CREATE TABLE leases (
				name       TEXT PRIMARY KEY,
				holder     TEXT NOT NULL,
				epoch      INTEGER NOT NULL,
				expires_at {{timestamp}} NOT NULL
			)`,
		},
		// Campaign callbacks (a campaign's start and end, a number's
		// schedule) belong to no call: the outbox keeps its key in
		// call_sid without the foreign key to calls.
		Postgres: []string{
			`ALTER TABLE callbacks DROP CONSTRAINT IF EXISTS callbacks_call_sid_account_sid_fkey`,
		},
		Func: dropCallbackCallFK,
	},
	{
		Version: 10,
		Name:    "sms messages",
		SQL: []string{
			// Every SMS, sent through the API or by a flow's SMS applet
			// (call_sid set), from queued to its final delivery status.
			// The sender claims due rows (status queued, next_attempt_at
			// past) and retries temporary failures; units are segments
			// (GSM-7 160/153, UCS-2 70/67).
			`CREATE TABLE sms_messages (
				sid                  TEXT PRIMARY KEY,
				account_sid          TEXT NOT NULL REFERENCES accounts (sid),
				call_sid             TEXT NULL,
				from_number          TEXT NOT NULL,
				to_number            TEXT NOT NULL,
				body                 TEXT NOT NULL,
				encoding_type        TEXT NOT NULL DEFAULT 'plain',
				priority             TEXT NOT NULL DEFAULT 'normal',
				sms_type             TEXT NOT NULL DEFAULT 'transactional',
				dlt_entity_id        TEXT NOT NULL DEFAULT '',
				dlt_template_id      TEXT NOT NULL DEFAULT '',
				custom_field         TEXT NOT NULL DEFAULT '',
				status_callback      TEXT NOT NULL DEFAULT '',
				status               TEXT NOT NULL,
				detailed_status      TEXT NOT NULL DEFAULT '',
				detailed_status_code INTEGER NOT NULL DEFAULT 0,
				units                INTEGER NOT NULL DEFAULT 1,
				price                TEXT NOT NULL DEFAULT '',
				direction            TEXT NOT NULL DEFAULT 'outbound-api',
				provider             TEXT NOT NULL DEFAULT '',
				provider_message_id  TEXT NOT NULL DEFAULT '',
				attempts             INTEGER NOT NULL DEFAULT 0,
				next_attempt_at      {{timestamp}} NULL,
				last_error           TEXT NOT NULL DEFAULT '',
				created_at           {{timestamp}} NOT NULL,
				updated_at           {{timestamp}} NOT NULL,
				sent_at              {{timestamp}} NULL
			)`,
			`CREATE INDEX sms_messages_account_idx ON sms_messages (account_sid, created_at, sid)`,
			`CREATE INDEX sms_messages_due_idx ON sms_messages (status, next_attempt_at)`,
			`CREATE INDEX sms_messages_call_idx ON sms_messages (call_sid)`,
			`CREATE INDEX sms_messages_provider_idx ON sms_messages (provider, provider_message_id)`,
		},
	},
	{
		Version: 11,
		Name:    "recording archive: format, blob store and claims",
		SQL: []string{
			// A recording's file is archived once its call is over:
			// transcoded to archive_format (wav, mp3, mp3-hq) and put in
			// the blob store named by storage under storage_key. Until
			// then (storage_key empty) the file at path is served.
			// archive_status: '' (nothing to do: rows from before), pending,
			// archived, failed. An instance claims a pending row by
			// setting claimed_by and claim_until (a lease it extends while
			// it works; a crashed instance's row is claimable again once
			// the lease lapses); claim_until is also when a failed
			// attempt may be retried.
			`ALTER TABLE recordings ADD COLUMN archive_status TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN archive_format TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN storage TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN storage_key TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN size BIGINT NOT NULL DEFAULT 0`,
			`ALTER TABLE recordings ADD COLUMN archive_attempts INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE recordings ADD COLUMN archive_error TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN claimed_by TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE recordings ADD COLUMN claim_until {{timestamp}} NULL`,
			`ALTER TABLE recordings ADD COLUMN archived_at {{timestamp}} NULL`,
			`CREATE INDEX recordings_archive_due_idx ON recordings (claim_until, created_at) WHERE archive_status = 'pending'`,
		},
	},
	{
		Version: 12,
		Name:    "CCM users: first and last name, role, device ids and availability",
		SQL: []string{
			// Exotel's CCM users: name is kept as the display name
			// (first and last joined when both are given).
			`ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'`,
			// Each device has an id (PUT users/<id>/devices/<device_id>),
			// a friendly name and its own on/off switch: a device that is
			// off is not dialled, whatever the user's own switch says.
			`ALTER TABLE user_devices ADD COLUMN sid TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE user_devices ADD COLUMN name TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE user_devices ADD COLUMN available BOOLEAN NOT NULL DEFAULT TRUE`,
		},
		Func: backfillDeviceSIDs,
	},
	{
		Version: 13,
		Name:    "FreeSWITCH nodes: what the instances last saw of each, and drains",
		SQL: []string{
			// One row per node, keyed by its event socket address as the
			// instances are configured with it (-fs). The observation
			// columns are the freshest report of any instance (seen_by,
			// seen_at); drained is the operators' switch, which every
			// instance reads: no new calls are placed on a drained node.
			`CREATE TABLE nodes (
				address        TEXT PRIMARY KEY,
				core_uuid      TEXT NOT NULL DEFAULT '',
				connected      BOOLEAN NOT NULL DEFAULT FALSE,
				sessions       INTEGER NOT NULL DEFAULT 0,
				max_sessions   INTEGER NOT NULL DEFAULT 0,
				idle_cpu       REAL NOT NULL DEFAULT 0,
				last_heartbeat {{timestamp}} NULL,
				seen_by        TEXT NOT NULL DEFAULT '',
				seen_at        {{timestamp}} NULL,
				drained        BOOLEAN NOT NULL DEFAULT FALSE,
				drained_at     {{timestamp}} NULL
			)`,
		},
	},
	{
		Version: 14,
		Name:    "the applets each call ran through",
		SQL: []string{
			// A JSON array of {flow, applet, type, at}, in the order the
			// call entered them, written with the final record; '' for
			// calls from before, calls still running and calls that ran
			// no flow.
			`ALTER TABLE calls ADD COLUMN applet_path TEXT NOT NULL DEFAULT ''`,
		},
	},
	{
		Version: 15,
		Name:    "recordings claimable once their call is over",
		SQL: []string{
			// call_ended is set when the recording's call gets its final
			// record (Calls.Finish), or at once for a call already over.
			// The archiver's claim then reads the recordings that are
			// ready and no others: it used to join every pending
			// recording to its call, those of live calls too, so that
			// with 10,000 calls up each claim took 20-30 ms, holding
			// SQLite's writer.
			`ALTER TABLE recordings ADD COLUMN call_ended BOOLEAN NOT NULL DEFAULT FALSE`,
			`UPDATE recordings SET call_ended = TRUE
				WHERE EXISTS (SELECT 1 FROM calls c WHERE c.sid = recordings.call_sid AND c.end_time IS NOT NULL)`,
			`DROP INDEX recordings_archive_due_idx`,
			`CREATE INDEX recordings_archive_due_idx ON recordings (created_at, id) WHERE archive_status = 'pending' AND call_ended`,
			// The recordings still waiting for their call, for the sweep
			// that marks those whose call ended without Calls.Finish
			// marking them (an instance of an earlier version finished it).
			`CREATE INDEX recordings_call_live_idx ON recordings (call_sid) WHERE archive_status = 'pending' AND NOT call_ended`,
		},
	},
}

// backfillDeviceSIDs gives the devices of earlier versions their ids,
// then makes ids unique.
func backfillDeviceSIDs(ctx context.Context, tx *gorm.DB, _ string) error {
	type key struct{ AccountSID, Contact string }
	var keys []key
	if err := tx.WithContext(ctx).Raw(`SELECT account_sid, contact FROM user_devices WHERE sid = ''`).Scan(&keys).Error; err != nil {
		return fmt.Errorf("devices without ids: %w", err)
	}
	for _, k := range keys {
		if err := tx.WithContext(ctx).Exec(`UPDATE user_devices SET sid = ? WHERE account_sid = ? AND contact = ?`,
			newID("dv"), k.AccountSID, k.Contact).Error; err != nil {
			return fmt.Errorf("device id for %s: %w", k.Contact, err)
		}
	}
	return tx.WithContext(ctx).Exec(`CREATE UNIQUE INDEX user_devices_sid_idx ON user_devices (sid)`).Error
}

// dropCallbackCallFK rebuilds the callbacks table on SQLite without its
// foreign key to calls (SQLite cannot drop a constraint). Foreign keys
// are deferred to the commit, where callback_attempts points at the
// rebuilt table under the same name.
func dropCallbackCallFK(ctx context.Context, tx *gorm.DB, dialect string) error {
	if dialect == DialectPostgres {
		return nil
	}
	for _, q := range []string{
		`PRAGMA defer_foreign_keys = ON`,
		`CREATE TABLE callbacks_rebuilt (
			id           TEXT PRIMARY KEY,
			account_sid  TEXT NOT NULL,
			call_sid     TEXT NOT NULL,
			seq          INTEGER NOT NULL,
			event        TEXT NOT NULL,
			url          TEXT NOT NULL,
			content_type TEXT NOT NULL,
			payload      TEXT NOT NULL,
			status       TEXT NOT NULL DEFAULT 'pending',
			attempts     INTEGER NOT NULL DEFAULT 0,
			relayed_at   TIMESTAMP NULL,
			delivered_at TIMESTAMP NULL,
			created_at   TIMESTAMP NOT NULL,
			updated_at   TIMESTAMP NOT NULL,
			UNIQUE (id, account_sid)
		)`,
		`INSERT INTO callbacks_rebuilt (id, account_sid, call_sid, seq, event, url, content_type, payload,
			status, attempts, relayed_at, delivered_at, created_at, updated_at)
		 SELECT id, account_sid, call_sid, seq, event, url, content_type, payload,
			status, attempts, relayed_at, delivered_at, created_at, updated_at FROM callbacks`,
		`DROP TABLE callbacks`,
		`ALTER TABLE callbacks_rebuilt RENAME TO callbacks`,
		`CREATE UNIQUE INDEX callbacks_call_seq_key ON callbacks (call_sid, seq)`,
		`CREATE INDEX callbacks_relay_idx ON callbacks (relayed_at, created_at)`,
	} {
		if err := tx.WithContext(ctx).Exec(q).Error; err != nil {
			return fmt.Errorf("rebuild callbacks: %w", err)
		}
	}
	return nil
}
