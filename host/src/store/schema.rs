//! Migrations (protocol.md §20.2) and the v1 schema (§20.3).

/// `PRAGMA application_id` of a `tt` database: `0x54545331` ("TTS1", protocol.md §20.1).
pub const APPLICATION_ID: i64 = 1_414_812_465;

/// One migration: its id, its name and the SQL it runs (inside its own
/// `BEGIN IMMEDIATE` transaction together with its `schema_migrations` row).
pub struct Migration {
    /// Strictly increasing id.
    pub id: i64,
    /// Short name, e.g. `initial`.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration in order. Companion specifications append theirs after `1 initial`:
/// `2 commitments` is follow-through.md §5.1.
pub const MIGRATIONS: &[Migration] =
    &[Migration { id: 1, name: "initial", sql: INITIAL }, Migration { id: 2, name: "commitments", sql: COMMITMENTS }];

/// Child tables of a room, deleted before the room row, children first (protocol.md
/// §15.4, follow-through.md §5.6): companion tables (`commitments`,
/// `claim_observations`) → notes → events → members. A missing table is skipped.
pub const ROOM_CHILD_TABLES: &[&str] = &["commitments", "claim_observations", "notes", "room_events", "room_members"];

const INITIAL: &str = r#"
CREATE TABLE path_rooms (
  room_id                   TEXT PRIMARY KEY,
  canonical_path            TEXT NOT NULL UNIQUE,
  sequence_index            INTEGER NOT NULL DEFAULT 0,
  owner                     TEXT,
  reserved_for              TEXT,
  pending_handoff_event_seq INTEGER,
  turn_id                   INTEGER NOT NULL DEFAULT 0,
  lease_id                  TEXT,
  lease_expires_at          INTEGER,
  claim_expires_at          INTEGER,
  state                     TEXT NOT NULL CHECK (state IN ('idle','owned','reserved','closed')),
  created_at                INTEGER NOT NULL,
  updated_at                INTEGER NOT NULL
);

CREATE TABLE room_members (
  room_id                    TEXT NOT NULL REFERENCES path_rooms(room_id),
  agent_id                   TEXT NOT NULL,
  ordinal                    INTEGER NOT NULL,
  joined_at                  INTEGER NOT NULL,
  last_seen_at               INTEGER NOT NULL,
  last_wait_at               INTEGER,
  status                     TEXT NOT NULL DEFAULT 'active',
  session_kind               TEXT NOT NULL,
  display_name               TEXT,
  host_id                    TEXT,
  boot_id                    TEXT,
  pid                        INTEGER,
  process_started_at         INTEGER,
  harness_name               TEXT,
  harness_session_id         TEXT,
  harness_host_id            TEXT,
  harness_boot_id            TEXT,
  harness_pid                INTEGER,
  harness_process_started_at INTEGER,
  last_park_hint_event_seq   INTEGER,
  PRIMARY KEY (room_id, agent_id)
);
CREATE INDEX room_members_room_ordinal_idx ON room_members (room_id, ordinal);

CREATE TABLE room_events (
  event_seq     INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id      TEXT NOT NULL UNIQUE,
  room_id       TEXT NOT NULL REFERENCES path_rooms(room_id),
  turn_id       INTEGER NOT NULL,
  event_type    TEXT NOT NULL,
  from_agent_id TEXT,
  to_agent_id   TEXT,
  handoff_json  TEXT,
  reason        TEXT,
  payload_json  TEXT,
  created_at    INTEGER NOT NULL
);
CREATE INDEX room_events_room_seq_idx    ON room_events (room_id, event_seq);
CREATE INDEX room_events_room_turn_idx   ON room_events (room_id, turn_id);
CREATE INDEX room_events_room_holder_idx ON room_events (room_id, event_type, to_agent_id, created_at);

CREATE TABLE notes (
  note_id              TEXT PRIMARY KEY,
  room_id              TEXT NOT NULL REFERENCES path_rooms(room_id) ON DELETE CASCADE,
  turn_id              INTEGER,
  author_agent_id      TEXT NOT NULL,
  body                 TEXT NOT NULL,
  created_at           INTEGER NOT NULL,
  resolved_at          INTEGER,
  resolved_by_agent_id TEXT
);
CREATE INDEX notes_by_room_created ON notes (room_id, created_at, note_id);
"#;

/// follow-through.md §5.1: commitments and the hook's stale-read guard. The partial unique
/// index makes "at most one pending row per room and external key" a storage invariant,
/// so every transaction that writes commitments first sweeps lapsed rows (§5.5).
const COMMITMENTS: &str = r#"
CREATE TABLE commitments (
  seq                     INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id                 TEXT NOT NULL REFERENCES path_rooms(room_id) ON DELETE CASCADE,
  kind                    TEXT NOT NULL DEFAULT 'action_claim',
  status                  TEXT NOT NULL CHECK (status IN ('pending','done','withdrawn','expired')),
  agent_id                TEXT,
  origin_agent_id         TEXT NOT NULL,
  topic                   TEXT NOT NULL,
  external_key            TEXT NOT NULL,
  verb                    TEXT NOT NULL,
  matched                 TEXT NOT NULL,
  excerpt                 TEXT NOT NULL,
  source                  TEXT NOT NULL CHECK (source IN ('observe','hook','handoff')),
  source_field            TEXT,
  handoff_event_seq       INTEGER,
  created_turn_id         INTEGER NOT NULL,
  created_at              INTEGER NOT NULL,
  expires_at              INTEGER NOT NULL,
  inherited_from_agent_id TEXT,
  inherited_at            INTEGER,
  inherit_reason          TEXT,
  attached_turn_id        INTEGER,
  attached_at             INTEGER,
  resolved_at             INTEGER,
  resolved_by_agent_id    TEXT,
  resolution              TEXT
);
CREATE UNIQUE INDEX commitments_open_key ON commitments (room_id, external_key) WHERE status = 'pending';
CREATE INDEX commitments_by_assignee ON commitments (room_id, agent_id, status);
CREATE INDEX commitments_by_topic    ON commitments (room_id, topic, status);

CREATE TABLE claim_observations (
  room_id       TEXT NOT NULL REFERENCES path_rooms(room_id) ON DELETE CASCADE,
  agent_id      TEXT NOT NULL,
  text_sha256   TEXT NOT NULL,
  observed_at   INTEGER NOT NULL,
  PRIMARY KEY (room_id, agent_id)
);
"#;
