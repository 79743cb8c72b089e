//! The protocol database (protocol.md §20): the only module that touches rusqlite.
//!
//! [`Store::write`] runs one `BEGIN IMMEDIATE … COMMIT` transaction (the write lock is
//! taken up front, so `busy_timeout` applies and there is no lock upgrade); any error
//! rolls everything back, presence touches included (§20.4). [`Store::read`] runs one
//! deferred read transaction, so a projection is internally consistent. Inside either,
//! the service works through [`Tx`], whose methods are protocol-level row operations
//! (rooms, members, events, notes, commitments), never SQL.

pub mod commitments;
pub mod schema;

pub use commitments::{Commitment, NewCommitment};

use crate::error::{ErrorCode, TtError};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// WAL size (bytes) above which a writer checkpoints and truncates the WAL after its
/// commit. `tt` processes are short-lived and skip the checkpoint on close
/// (`SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE`, §20.1), so every process that opens the database
/// alone rebuilds the WAL index by reading the whole WAL, and that rebuild forgets how
/// much was already checkpointed, so SQLite's passive auto-checkpoint never restarts the
/// log. Truncating keeps the replay (and the WAL) small. The threshold trades the two
/// costs: a release appends about 44 KB, and the truncating checkpoint (two `fsync`s,
/// 2–8 ms) ran after every third write at 128 KiB; at 512 KiB the median release is
/// 0.3–0.7 ms faster while an opener that replays the WAL alone (a `tt state` in an idle
/// room) is about 0.17 ms slower (interleaved A/B runs in docs/PERFORMANCE.md).
pub const WAL_TRUNCATE_BYTES: u64 = 512 * 1024;

/// How long the truncating checkpoint may wait for readers (ms); it is skipped, not
/// retried, when they do not finish in time.
const WAL_TRUNCATE_WAIT_MS: u64 = 20;

/// The database file name inside the data directory.
pub const DB_FILE: &str = "rooms.sqlite";

/// A stored room state (protocol.md §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredState {
    /// No owner, no reservation (maybe a pending handoff).
    Idle,
    /// An owner holds a lease.
    Owned,
    /// Reserved for one member until a grant or a takeover.
    Reserved,
    /// Closed by a direct database write; nothing can be granted.
    Closed,
}

impl StoredState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StoredState::Idle => "idle",
            StoredState::Owned => "owned",
            StoredState::Reserved => "reserved",
            StoredState::Closed => "closed",
        }
    }

    fn parse(s: &str) -> StoredState {
        match s {
            "owned" => StoredState::Owned,
            "reserved" => StoredState::Reserved,
            "closed" => StoredState::Closed,
            _ => StoredState::Idle,
        }
    }
}

/// A `path_rooms` row (protocol.md §20.3). Times are epoch milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// Random UUID.
    pub room_id: String,
    /// The room's directory.
    pub canonical_path: String,
    /// Informational: ordinal of the last grantee or target.
    pub sequence_index: i64,
    /// The stick holder.
    pub owner: Option<String>,
    /// The reserved recipient.
    pub reserved_for: Option<String>,
    /// The pending handoff (a `release` or `pass` event).
    pub pending_handoff_event_seq: Option<i64>,
    /// The turn (ownership epoch); 0 = never granted.
    pub turn_id: i64,
    /// The owner's lease (fencing token with `turn_id`).
    pub lease_id: Option<String>,
    /// Lease expiry (ms).
    pub lease_expires_at: Option<i64>,
    /// Reservation expiry (ms).
    pub claim_expires_at: Option<i64>,
    /// Stored state.
    pub state: StoredState,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A `room_members` row (protocol.md §20.3). `*_at` in ms except the two process start
/// times (seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// The room.
    pub room_id: String,
    /// The member.
    pub agent_id: String,
    /// Join order, never reused within a room.
    pub ordinal: i64,
    /// Join time (ms).
    pub joined_at: i64,
    /// Presence (ms).
    pub last_seen_at: i64,
    /// Last wait poll or join (ms).
    pub last_wait_at: Option<i64>,
    /// `human_cli`, `harness_cli` or `human_guardian`.
    pub session_kind: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Row process host.
    pub host_id: Option<String>,
    /// Row process boot id.
    pub boot_id: Option<String>,
    /// Row process pid.
    pub pid: Option<i64>,
    /// Row process start time (s).
    pub process_started_at: Option<i64>,
    /// Harness name.
    pub harness_name: Option<String>,
    /// Harness session id.
    pub harness_session_id: Option<String>,
    /// Harness root host.
    pub harness_host_id: Option<String>,
    /// Harness root boot id.
    pub harness_boot_id: Option<String>,
    /// Harness root pid.
    pub harness_pid: Option<i64>,
    /// Harness root start time (s).
    pub harness_process_started_at: Option<i64>,
    /// The pending handoff this member was last hinted about in park mode (§13).
    pub last_park_hint_event_seq: Option<i64>,
}

/// A `room_events` row (protocol.md §17.2).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Global, strictly increasing, never reused.
    pub event_seq: i64,
    /// Random UUID.
    pub event_id: String,
    /// The room.
    pub room_id: String,
    /// The turn (old turn for release/pass, new turn for claim/takeover).
    pub turn_id: i64,
    /// One of the known event types (§17.1).
    pub event_type: String,
    /// From.
    pub from_agent_id: Option<String>,
    /// To.
    pub to_agent_id: Option<String>,
    /// The handoff object, verbatim.
    pub handoff: Option<Value>,
    /// Reason text.
    pub reason: Option<String>,
    /// Payload (`message_sent`, `commitments_inherited`).
    pub payload: Option<Value>,
    /// Creation time (ms).
    pub created_at: i64,
}

/// An event to append; the store assigns `event_seq` and `event_id`.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    /// The room.
    pub room_id: &'a str,
    /// The turn.
    pub turn_id: i64,
    /// The type.
    pub event_type: &'a str,
    /// From.
    pub from: Option<&'a str>,
    /// To.
    pub to: Option<&'a str>,
    /// The handoff.
    pub handoff: Option<&'a Value>,
    /// Reason.
    pub reason: Option<&'a str>,
    /// Payload.
    pub payload: Option<&'a Value>,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A `notes` row (protocol.md §18.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Random UUID.
    pub note_id: String,
    /// The room.
    pub room_id: String,
    /// The turn it belongs to; None = room-scoped.
    pub turn_id: Option<i64>,
    /// Author.
    pub author_agent_id: String,
    /// Body (trimmed).
    pub body: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Resolution time (ms); v1 never resolves.
    pub resolved_at: Option<i64>,
    /// Resolver.
    pub resolved_by_agent_id: Option<String>,
}

/// The visibility filter of an event query (protocol.md §17.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Target {
    /// No target filter (audit).
    #[default]
    Any,
    /// The `self` filter for this agent.
    SelfOf(String),
    /// Strictly `to_agent_id = <agent>`.
    Agent(String),
}

/// An event query (protocol.md §17.3, §17.7).
#[derive(Clone, Debug)]
pub struct EventFilter {
    /// The room.
    pub room_id: String,
    /// Only events with `event_seq > after`.
    pub after: i64,
    /// Only these types (None = all).
    pub types: Option<Vec<String>>,
    /// Only from this agent.
    pub from: Option<String>,
    /// Visibility.
    pub target: Target,
    /// Wait-only suppression for the `self` agent: `Some(owned_turn)` where
    /// `owned_turn` is the room's turn if that agent currently owns a stored-`owned`
    /// room (its claim of that turn stays visible), else None.
    pub wait_suppression: Option<Option<i64>>,
    /// Only events created at or after this time (ms), for the horizon view.
    pub since_created_at: Option<i64>,
}

impl EventFilter {
    /// Every event of a room after `after`.
    pub fn room(room_id: &str, after: i64) -> Self {
        EventFilter {
            room_id: room_id.to_string(),
            after,
            types: None,
            from: None,
            target: Target::Any,
            wait_suppression: None,
            since_created_at: None,
        }
    }

    fn where_clause(&self) -> (String, Vec<SqlValue>) {
        let mut sql = String::from("room_id = ? AND event_seq > ?");
        let mut args = vec![SqlValue::Text(self.room_id.clone()), SqlValue::Integer(self.after)];
        if let Some(types) = &self.types {
            sql.push_str(" AND event_type IN (");
            sql.push_str(&vec!["?"; types.len()].join(","));
            sql.push(')');
            args.extend(types.iter().map(|t| SqlValue::Text(t.clone())));
        }
        if let Some(from) = &self.from {
            sql.push_str(" AND from_agent_id = ?");
            args.push(SqlValue::Text(from.clone()));
        }
        if let Some(since) = self.since_created_at {
            sql.push_str(" AND created_at >= ?");
            args.push(SqlValue::Integer(since));
        }
        match &self.target {
            Target::Any => {}
            Target::Agent(a) => {
                sql.push_str(" AND to_agent_id = ?");
                args.push(SqlValue::Text(a.clone()));
            }
            Target::SelfOf(x) => {
                sql.push_str(
                    " AND ((event_type = 'message_sent' AND (to_agent_id = ? OR (to_agent_id IS NULL AND from_agent_id IS NOT ?)))
                      OR (event_type IN ('join','leave') AND from_agent_id IS NOT ?)
                      OR (event_type NOT IN ('message_sent','join','leave') AND (to_agent_id = ? OR from_agent_id = ?)))",
                );
                for _ in 0..5 {
                    args.push(SqlValue::Text(x.clone()));
                }
                if let Some(owned_turn) = self.wait_suppression {
                    sql.push_str(
                        " AND NOT (event_type IN ('release','pass') AND from_agent_id = ?)
                          AND NOT (event_type = 'claim' AND to_agent_id = ? AND turn_id IS NOT ?)",
                    );
                    args.push(SqlValue::Text(x.clone()));
                    args.push(SqlValue::Text(x.clone()));
                    args.push(owned_turn.map(SqlValue::Integer).unwrap_or(SqlValue::Null));
                }
            }
        }
        (sql, args)
    }
}

/// The database of one data directory.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    busy_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn sql_error(e: &rusqlite::Error) -> TtError {
    if let rusqlite::Error::SqliteFailure(err, _) = e
        && matches!(err.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    {
        return TtError::new(ErrorCode::DatabaseBusy, "the database is busy; another tt holds the write lock")
            .with("retryable", true)
            .hint("retry the command");
    }
    TtError::storage(format!("database error: {e}"))
}

impl From<rusqlite::Error> for TtError {
    fn from(e: rusqlite::Error) -> Self {
        sql_error(&e)
    }
}

impl Store {
    /// `<data_dir>/rooms.sqlite`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(DB_FILE)
    }

    /// Open (creating the data dir 0700 and the file 0600 if needed), set the pragmas of
    /// protocol.md §20.1, check the application id and run pending migrations (§20.2).
    ///
    /// Creating the database is serialised: an opener that finds no database (or an empty
    /// file), or fails on one that another process is still creating, opens it again
    /// holding an exclusive `flock` on the data directory (std's `File::lock`; the kernel
    /// drops it if the holder is killed; skipped where it cannot be taken). Without it, 16
    /// agents starting at once on a fresh data directory could fail with `database_busy`
    /// (SQLite refuses a concurrent switch to WAL without waiting) — found by the chaos
    /// harness, `docs/RELIABILITY.md`.
    ///
    /// Errors: `incompatible_database` for a foreign non-empty database (nothing is
    /// modified), `database_busy`, `storage_error`.
    pub fn open(data_dir: &Path, busy_timeout_ms: u64) -> Result<Store, TtError> {
        crate::paths::ensure_private_dir(data_dir)
            .map_err(|e| TtError::storage(format!("cannot create the data directory `{}`: {e}", data_dir.display())))?;
        let path = Self::path_in(data_dir);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
            let started = std::time::Instant::now();
            match Self::open_file(&path, busy_timeout_ms) {
                // Busy for the whole busy timeout: a writer really holds the database, and
                // a second attempt would only double the wait. (With a zero timeout the
                // second attempt is what waits, on the creation lock, for a first opener.)
                Err(e)
                    if e.code == ErrorCode::DatabaseBusy
                        && busy_timeout_ms > 0
                        && started.elapsed() >= Duration::from_millis(busy_timeout_ms) =>
                {
                    return Err(e);
                }
                Err(e) if e.code != ErrorCode::IncompatibleDatabase => {}
                done => return done,
            }
        }
        // Best effort: where the directory cannot be locked (a file system without
        // `flock` on directories) open as before rather than refuse to work.
        let dir = std::fs::File::open(data_dir).ok().filter(|d| d.lock().is_ok());
        let store = Self::open_file(&path, busy_timeout_ms);
        drop(dir);
        store
    }

    /// [`Store::open`] without the creation lock.
    fn open_file(path: &Path, busy_timeout_ms: u64) -> Result<Store, TtError> {
        let path = path.to_path_buf();
        let existed = path.exists();
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| TtError::storage(format!("cannot open `{}`: {e}", path.display())))?;
        if !existed {
            let _ignored = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let mut store = Store { conn, path, busy_timeout: Duration::from_millis(busy_timeout_ms) };
        let header = store.configure(busy_timeout_ms)?;
        store.migrate(header)?;
        Ok(store)
    }

    /// Open an existing database without creating anything; None when the data dir or
    /// the file does not exist (the guardian never creates them, §16.3).
    pub fn open_existing(data_dir: &Path, busy_timeout_ms: u64) -> Result<Option<Store>, TtError> {
        if !Self::path_in(data_dir).is_file() {
            return Ok(None);
        }
        Self::open(data_dir, busy_timeout_ms).map(Some)
    }

    /// An empty database in memory, for a reading command under a foreign host lock
    /// when `rooms.sqlite` does not exist: it may create no file in a directory another
    /// host owns (host-lock.md §8.2), and an empty database answers every read the way
    /// a fresh data dir does (no rooms).
    ///
    /// Errors: `storage_error`.
    pub fn in_memory(busy_timeout_ms: u64) -> Result<Store, TtError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| TtError::storage(format!("cannot open an in-memory database: {e}")))?;
        conn.busy_timeout(Duration::from_millis(busy_timeout_ms))?;
        let mut store =
            Store { conn, path: PathBuf::from(":memory:"), busy_timeout: Duration::from_millis(busy_timeout_ms) };
        let header = store.header()?;
        store.migrate(header)?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Set the connection up; returns the [`Store::header`] read with the ownership check,
    /// for [`Store::migrate`].
    fn configure(&mut self, busy_timeout_ms: u64) -> Result<(i64, i64), TtError> {
        self.conn.busy_timeout(Duration::from_millis(busy_timeout_ms))?;
        let _ignored = self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true).ok();
        // Ownership first, before anything could modify a foreign file (§20.1). The id and
        // the table count come from one read transaction: a concurrent first opener creates
        // the tables and sets the id in one commit, which must not land between them.
        let header = match self.owned_header() {
            Ok(Some(header)) => header,
            Ok(None) => return Err(self.incompatible()),
            // Not a database at all (garbage, another format).
            Err(e) if e.code == ErrorCode::StorageError => return Err(self.incompatible()),
            Err(e) => return Err(e),
        };
        // `journal_mode = WAL` on every connection (protocol.md §20.1): WAL is persistent
        // and SQLite opens a file whose header says WAL in WAL mode by itself, so the
        // pragma (a statement to parse and run) is only needed for a new file.
        if !header_says_wal(&self.path) {
            let mode: String = self.conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(TtError::storage(format!(
                    "cannot switch `{}` to WAL mode (got {mode})",
                    self.path.display()
                )));
            }
        }
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        // `PRAGMA foreign_keys = ON` without parsing a statement.
        self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_FKEY, true)?;
        Ok(header)
    }

    fn incompatible(&self) -> TtError {
        TtError::new(
            ErrorCode::IncompatibleDatabase,
            format!(
                "rooms.sqlite at {} was not created by this tt; move it aside or set TT_DATA_DIR.",
                self.path.display()
            ),
        )
        .with("path", self.path.display().to_string())
    }

    /// `(PRAGMA application_id, PRAGMA user_version)`, read from the database header
    /// without loading the schema (a table-valued `pragma_…` query would load it, and
    /// switching to WAL afterwards would make SQLite parse it twice). `user_version`
    /// caches the id of the newest applied migration, so that an up-to-date database is
    /// recognised without reading `schema_migrations` (which stays authoritative, §20.2).
    fn header(&self) -> Result<(i64, i64), TtError> {
        let id = self.conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version = self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        Ok((id, version))
    }

    /// The [`Store::header`], or None when the file belongs to something else (see
    /// [`Store::is_foreign`]), read in one snapshot.
    fn owned_header(&mut self) -> Result<Option<(i64, i64)>, TtError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let foreign = Self::is_foreign(&tx, id)?;
        tx.commit()?;
        Ok((!foreign).then_some((id, version)))
    }

    /// Whether a database whose `application_id` is `id` belongs to something else: a
    /// non-zero foreign id, or id 0 with tables (§20.1).
    fn is_foreign(conn: &Connection, id: i64) -> Result<bool, TtError> {
        Ok(id != schema::APPLICATION_ID && (id != 0 || Self::has_tables(conn)?))
    }

    fn has_tables(conn: &Connection) -> Result<bool, TtError> {
        let n: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        Ok(n > 0)
    }

    fn applied(conn: &Connection) -> Result<HashSet<i64>, TtError> {
        let exists: i64 =
            conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'", [], |r| r.get(0))?;
        if exists == 0 {
            return Ok(HashSet::new());
        }
        let mut stmt = conn.prepare("SELECT id FROM schema_migrations")?;
        let ids = stmt.query_map([], |r| r.get::<_, i64>(0))?.collect::<Result<HashSet<_>, _>>()?;
        Ok(ids)
    }

    /// Run pending migrations; `configure` has refused foreign files already, and the
    /// check is repeated under the write lock for a concurrent opener. Each migration's
    /// transaction also sets `user_version` to its id; a database migrated before that
    /// cache existed gets it set once.
    ///
    /// `(id, version)` is the [`Store::header`] as the caller read it.
    fn migrate(&mut self, (id, version): (i64, i64)) -> Result<(), TtError> {
        let latest = schema::MIGRATIONS.iter().map(|m| m.id).max().unwrap_or(0);
        if id == schema::APPLICATION_ID && version >= latest {
            return Ok(());
        }
        for m in schema::MIGRATIONS {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Re-check under the write lock: a concurrent opener may have done it.
            let id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
            if Self::is_foreign(&tx, id)? {
                drop(tx);
                return Err(self.incompatible());
            }
            if Self::applied(&tx)?.contains(&m.id) {
                let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
                if version < m.id {
                    tx.pragma_update(None, "user_version", m.id)?;
                }
                tx.commit()?;
                continue;
            }
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
            )?;
            tx.execute_batch(m.sql)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            tx.execute(
                "INSERT INTO schema_migrations (id, name, applied_at) VALUES (?1, ?2, ?3)",
                params![m.id, m.name, now],
            )?;
            tx.pragma_update(None, "application_id", schema::APPLICATION_ID)?;
            tx.pragma_update(None, "user_version", m.id)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Run `f` in one `BEGIN IMMEDIATE … COMMIT` transaction; any error rolls back
    /// everything (protocol.md §20.4). Errors: `database_busy` when the write lock is not
    /// obtained within `busy_timeout_ms`, `storage_error`, or whatever `f` returns.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, TtError>) -> Result<T, TtError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        self.truncate_wal_if_large();
        Ok(out)
    }

    /// After a commit: checkpoint and truncate the WAL once it exceeds
    /// [`WAL_TRUNCATE_BYTES`]. Best effort: a busy reader makes it a no-op.
    fn truncate_wal_if_large(&self) {
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > WAL_TRUNCATE_BYTES) {
            let _ = self.conn.busy_timeout(Duration::from_millis(WAL_TRUNCATE_WAIT_MS));
            let _ = self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            let _ = self.conn.busy_timeout(self.busy_timeout);
        }
    }

    /// Run `f` in one deferred (read) transaction, so a projection is internally
    /// consistent. Writing through `Tx` inside it is a logic error the caller avoids.
    pub fn read<T>(&mut self, f: impl FnOnce(&Tx<'_>) -> Result<T, TtError>) -> Result<T, TtError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let out = f(&Tx { tx: &tx })?;
        tx.commit()?;
        Ok(out)
    }
}

/// Protocol-level row operations inside one transaction.
pub struct Tx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

const ROOM_COLS: &str = "room_id, canonical_path, sequence_index, owner, reserved_for, pending_handoff_event_seq, \
     turn_id, lease_id, lease_expires_at, claim_expires_at, state, created_at, updated_at";
const MEMBER_COLS: &str = "room_id, agent_id, ordinal, joined_at, last_seen_at, last_wait_at, session_kind, \
     display_name, host_id, boot_id, pid, process_started_at, harness_name, harness_session_id, harness_host_id, \
     harness_boot_id, harness_pid, harness_process_started_at, last_park_hint_event_seq";
const EVENT_COLS: &str = "event_seq, event_id, room_id, turn_id, event_type, from_agent_id, to_agent_id, \
     handoff_json, reason, payload_json, created_at";
const NOTE_COLS: &str =
    "note_id, room_id, turn_id, author_agent_id, body, created_at, resolved_at, resolved_by_agent_id";

/// Whether the database file's header records WAL mode: the file format's read and
/// write version bytes (offsets 18 and 19, https://sqlite.org/fileformat.html#the_database_header)
/// are both 2. False for a missing, short or unreadable file. The main file's header is
/// what SQLite itself consults when it opens a connection, so a true here means the
/// connection is already in WAL mode.
fn header_says_wal(path: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let mut versions = [0u8; 2];
    std::fs::File::open(path).and_then(|f| f.read_exact_at(&mut versions, 18)).is_ok() && versions == [2, 2]
}

fn room_from(r: &Row<'_>) -> rusqlite::Result<Room> {
    Ok(Room {
        room_id: r.get(0)?,
        canonical_path: r.get(1)?,
        sequence_index: r.get(2)?,
        owner: r.get(3)?,
        reserved_for: r.get(4)?,
        pending_handoff_event_seq: r.get(5)?,
        turn_id: r.get(6)?,
        lease_id: r.get(7)?,
        lease_expires_at: r.get(8)?,
        claim_expires_at: r.get(9)?,
        state: StoredState::parse(&r.get::<_, String>(10)?),
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

fn member_from(r: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        room_id: r.get(0)?,
        agent_id: r.get(1)?,
        ordinal: r.get(2)?,
        joined_at: r.get(3)?,
        last_seen_at: r.get(4)?,
        last_wait_at: r.get(5)?,
        session_kind: r.get(6)?,
        display_name: r.get(7)?,
        host_id: r.get(8)?,
        boot_id: r.get(9)?,
        pid: r.get(10)?,
        process_started_at: r.get(11)?,
        harness_name: r.get(12)?,
        harness_session_id: r.get(13)?,
        harness_host_id: r.get(14)?,
        harness_boot_id: r.get(15)?,
        harness_pid: r.get(16)?,
        harness_process_started_at: r.get(17)?,
        last_park_hint_event_seq: r.get(18)?,
    })
}

fn json_col(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn event_from(r: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        event_seq: r.get(0)?,
        event_id: r.get(1)?,
        room_id: r.get(2)?,
        turn_id: r.get(3)?,
        event_type: r.get(4)?,
        from_agent_id: r.get(5)?,
        to_agent_id: r.get(6)?,
        handoff: json_col(r.get(7)?),
        reason: r.get(8)?,
        payload: json_col(r.get(9)?),
        created_at: r.get(10)?,
    })
}

fn note_from(r: &Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        note_id: r.get(0)?,
        room_id: r.get(1)?,
        turn_id: r.get(2)?,
        author_agent_id: r.get(3)?,
        body: r.get(4)?,
        created_at: r.get(5)?,
        resolved_at: r.get(6)?,
        resolved_by_agent_id: r.get(7)?,
    })
}

impl Tx<'_> {
    // ----- rooms ------------------------------------------------------------------------

    /// The room with this id.
    pub fn room(&self, room_id: &str) -> Result<Option<Room>, TtError> {
        let sql = format!("SELECT {ROOM_COLS} FROM path_rooms WHERE room_id = ?1");
        Ok(self.tx.prepare_cached(&sql)?.query_row([room_id], room_from).optional()?)
    }

    /// The room at exactly this path.
    pub fn room_at(&self, canonical_path: &str) -> Result<Option<Room>, TtError> {
        let sql = format!("SELECT {ROOM_COLS} FROM path_rooms WHERE canonical_path = ?1");
        Ok(self.tx.prepare_cached(&sql)?.query_row([canonical_path], room_from).optional()?)
    }

    /// The id of the room at exactly this path (a one-column read: lookups that need only
    /// the id parse a smaller statement).
    pub fn room_id_at(&self, canonical_path: &str) -> Result<Option<String>, TtError> {
        let mut stmt = self.tx.prepare_cached("SELECT room_id FROM path_rooms WHERE canonical_path = ?1")?;
        Ok(stmt.query_row([canonical_path], |r| r.get(0)).optional()?)
    }

    /// Rooms ordered by path; `limit` None = all.
    pub fn rooms(&self, limit: Option<usize>) -> Result<Vec<Room>, TtError> {
        let lim = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)).unwrap_or(-1);
        let sql = format!("SELECT {ROOM_COLS} FROM path_rooms ORDER BY canonical_path LIMIT ?1");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map([lim], room_from)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The number of rooms.
    pub fn room_count(&self) -> Result<usize, TtError> {
        let n: i64 = self.tx.query_row("SELECT count(*) FROM path_rooms", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The ids of every existing room.
    pub fn room_ids(&self) -> Result<HashSet<String>, TtError> {
        let mut stmt = self.tx.prepare_cached("SELECT room_id FROM path_rooms")?;
        let ids = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<HashSet<_>, _>>()?;
        Ok(ids)
    }

    /// Insert a new room. Errors: `storage_error` (e.g. the path is taken).
    pub fn insert_room(&self, room: &Room) -> Result<(), TtError> {
        let sql = format!("INSERT INTO path_rooms ({ROOM_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)");
        self.tx.execute(
            &sql,
            params![
                room.room_id,
                room.canonical_path,
                room.sequence_index,
                room.owner,
                room.reserved_for,
                room.pending_handoff_event_seq,
                room.turn_id,
                room.lease_id,
                room.lease_expires_at,
                room.claim_expires_at,
                room.state.as_str(),
                room.created_at,
                room.updated_at
            ],
        )?;
        Ok(())
    }

    /// Write every mutable column of `room`.
    pub fn update_room(&self, room: &Room) -> Result<(), TtError> {
        self.tx.execute(
            "UPDATE path_rooms SET sequence_index=?2, owner=?3, reserved_for=?4, pending_handoff_event_seq=?5, \
             turn_id=?6, lease_id=?7, lease_expires_at=?8, claim_expires_at=?9, state=?10, updated_at=?11 \
             WHERE room_id=?1",
            params![
                room.room_id,
                room.sequence_index,
                room.owner,
                room.reserved_for,
                room.pending_handoff_event_seq,
                room.turn_id,
                room.lease_id,
                room.lease_expires_at,
                room.claim_expires_at,
                room.state.as_str(),
                room.updated_at
            ],
        )?;
        Ok(())
    }

    /// Delete a room with its children, children first (protocol.md §15.4).
    pub fn delete_room(&self, room_id: &str) -> Result<(), TtError> {
        for table in schema::ROOM_CHILD_TABLES {
            let exists: i64 = self.tx.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            if exists > 0 {
                self.tx.execute(&format!("DELETE FROM {table} WHERE room_id = ?1"), [room_id])?;
            }
        }
        self.tx.execute("DELETE FROM path_rooms WHERE room_id = ?1", [room_id])?;
        Ok(())
    }

    /// Rooms whose latest activity (max of `updated_at` and every member's
    /// `joined_at`, `last_seen_at`, `last_wait_at`) is at or before `cutoff` (ms),
    /// protocol.md §15.2.
    pub fn purge_candidates(&self, cutoff: i64) -> Result<Vec<String>, TtError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT r.room_id FROM path_rooms r WHERE max(r.updated_at, COALESCE((SELECT max(max(m.joined_at, \
             m.last_seen_at, COALESCE(m.last_wait_at, 0))) FROM room_members m WHERE m.room_id = r.room_id), 0)) <= ?1",
        )?;
        let ids = stmt.query_map([cutoff], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    // ----- members ----------------------------------------------------------------------

    /// The room's members ordered by ordinal.
    pub fn members(&self, room_id: &str) -> Result<Vec<Member>, TtError> {
        let sql = format!("SELECT {MEMBER_COLS} FROM room_members WHERE room_id = ?1 ORDER BY ordinal");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map([room_id], member_from)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// One member row.
    pub fn member(&self, room_id: &str, agent_id: &str) -> Result<Option<Member>, TtError> {
        let sql = format!("SELECT {MEMBER_COLS} FROM room_members WHERE room_id = ?1 AND agent_id = ?2");
        Ok(self.tx.prepare_cached(&sql)?.query_row([room_id, agent_id], member_from).optional()?)
    }

    /// The next ordinal of a room: 1 + max, 0 for the first member.
    pub fn next_ordinal(&self, room_id: &str) -> Result<i64, TtError> {
        let max: Option<i64> =
            self.tx.query_row("SELECT max(ordinal) FROM room_members WHERE room_id = ?1", [room_id], |r| r.get(0))?;
        Ok(max.map_or(0, |m| m + 1))
    }

    /// Insert a member row, or update every column of an existing one but its key and
    /// its `ordinal`, which is fixed when the member is created ([`crate::service::new_member`]).
    ///
    /// An upsert, not `INSERT OR REPLACE`: REPLACE deletes the old row and inserts a new
    /// one, rewriting both indexes of `room_members`; updating in place leaves the rowid
    /// and the indexes alone (fewer WAL pages per release, docs/PERFORMANCE.md).
    pub fn put_member(&self, m: &Member) -> Result<(), TtError> {
        static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let updates: Vec<String> = MEMBER_COLS
                .split(", ")
                .filter(|c| !matches!(*c, "room_id" | "agent_id" | "ordinal"))
                .map(|c| format!("{c} = excluded.{c}"))
                .collect();
            format!(
                "INSERT INTO room_members ({MEMBER_COLS}, status) \
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,'active') \
                 ON CONFLICT (room_id, agent_id) DO UPDATE SET {}, status = 'active'",
                updates.join(", ")
            )
        });
        self.tx.prepare_cached(sql)?.execute(params![
            m.room_id,
            m.agent_id,
            m.ordinal,
            m.joined_at,
            m.last_seen_at,
            m.last_wait_at,
            m.session_kind,
            m.display_name,
            m.host_id,
            m.boot_id,
            m.pid,
            m.process_started_at,
            m.harness_name,
            m.harness_session_id,
            m.harness_host_id,
            m.harness_boot_id,
            m.harness_pid,
            m.harness_process_started_at,
            m.last_park_hint_event_seq
        ])?;
        Ok(())
    }

    /// Delete one member row.
    pub fn delete_member(&self, room_id: &str, agent_id: &str) -> Result<(), TtError> {
        self.tx.execute("DELETE FROM room_members WHERE room_id = ?1 AND agent_id = ?2", [room_id, agent_id])?;
        Ok(())
    }

    // ----- events -----------------------------------------------------------------------

    /// Append an event; returns it with its sequence number.
    pub fn append_event(&self, e: &NewEvent<'_>) -> Result<Event, TtError> {
        let event_id = uuid::Uuid::new_v4().to_string();
        let handoff = e.handoff.map(Value::to_string);
        let payload = e.payload.map(Value::to_string);
        self.tx.execute(
            "INSERT INTO room_events (event_id, room_id, turn_id, event_type, from_agent_id, to_agent_id, \
             handoff_json, reason, payload_json, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
            params![
                event_id,
                e.room_id,
                e.turn_id,
                e.event_type,
                e.from,
                e.to,
                handoff,
                e.reason,
                payload,
                e.created_at
            ],
        )?;
        Ok(Event {
            event_seq: self.tx.last_insert_rowid(),
            event_id,
            room_id: e.room_id.to_string(),
            turn_id: e.turn_id,
            event_type: e.event_type.to_string(),
            from_agent_id: e.from.map(str::to_string),
            to_agent_id: e.to.map(str::to_string),
            handoff: e.handoff.cloned(),
            reason: e.reason.map(str::to_string),
            payload: e.payload.cloned(),
            created_at: e.created_at,
        })
    }

    /// One event by sequence number.
    pub fn event(&self, event_seq: i64) -> Result<Option<Event>, TtError> {
        let sql = format!("SELECT {EVENT_COLS} FROM room_events WHERE event_seq = ?1");
        Ok(self.tx.query_row(&sql, [event_seq], event_from).optional()?)
    }

    /// The room's largest `event_seq`, 0 if none.
    pub fn max_event_seq(&self, room_id: &str) -> Result<i64, TtError> {
        let max: Option<i64> =
            self.tx.query_row("SELECT max(event_seq) FROM room_events WHERE room_id = ?1", [room_id], |r| r.get(0))?;
        Ok(max.unwrap_or(0))
    }

    /// The newest event's `created_at` of a room.
    pub fn newest_event_at(&self, room_id: &str) -> Result<Option<i64>, TtError> {
        Ok(self
            .tx
            .query_row(
                "SELECT created_at FROM room_events WHERE room_id = ?1 ORDER BY event_seq DESC LIMIT 1",
                [room_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Events matching `filter`, ascending, at most `limit`.
    pub fn events_after(&self, filter: &EventFilter, limit: usize) -> Result<Vec<Event>, TtError> {
        let (clause, mut args) = filter.where_clause();
        args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!("SELECT {EVENT_COLS} FROM room_events WHERE {clause} ORDER BY event_seq ASC LIMIT ?");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), event_from)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest `limit` events matching `filter`, returned oldest first.
    pub fn events_newest(&self, filter: &EventFilter, limit: usize) -> Result<Vec<Event>, TtError> {
        let (clause, mut args) = filter.where_clause();
        args.push(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!("SELECT {EVENT_COLS} FROM room_events WHERE {clause} ORDER BY event_seq DESC LIMIT ?");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query_map(params_from_iter(args), event_from)?.collect::<Result<Vec<_>, _>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// How many events match `filter`.
    pub fn count_events(&self, filter: &EventFilter) -> Result<usize, TtError> {
        let (clause, args) = filter.where_clause();
        let sql = format!("SELECT count(*) FROM room_events WHERE {clause}");
        let n: i64 = self.tx.query_row(&sql, params_from_iter(args), |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// `last_held_at` of each of `agents`: the largest `created_at` (ms) of the room's
    /// `claim` and `takeover` events to that agent (protocol.md §11.1); agents that never
    /// held the stick are absent. Two index seeks per agent on
    /// `room_events_room_holder_idx` (SQLite's min/max optimisation), so the cost does
    /// not grow with the room's history.
    pub fn last_held<'s>(
        &self,
        room_id: &str,
        agents: impl IntoIterator<Item = &'s str>,
    ) -> Result<HashMap<String, i64>, TtError> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT (SELECT max(created_at) FROM room_events \
                     WHERE room_id = ?1 AND event_type = 'claim' AND to_agent_id = ?2), \
                    (SELECT max(created_at) FROM room_events \
                     WHERE room_id = ?1 AND event_type = 'takeover' AND to_agent_id = ?2)",
        )?;
        let mut held = HashMap::new();
        for agent in agents {
            let (claim, takeover) = stmt.query_row(params![room_id, agent], |r| {
                Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
            })?;
            if let Some(at) = claim.max(takeover) {
                held.insert(agent.to_string(), at);
            }
        }
        Ok(held)
    }

    // ----- notes ------------------------------------------------------------------------

    /// Insert a note.
    pub fn insert_note(&self, n: &Note) -> Result<(), TtError> {
        let sql = format!("INSERT INTO notes ({NOTE_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
        self.tx.execute(
            &sql,
            params![
                n.note_id,
                n.room_id,
                n.turn_id,
                n.author_agent_id,
                n.body,
                n.created_at,
                n.resolved_at,
                n.resolved_by_agent_id
            ],
        )?;
        Ok(())
    }

    /// One note of a room.
    pub fn note(&self, room_id: &str, note_id: &str) -> Result<Option<Note>, TtError> {
        let sql = format!("SELECT {NOTE_COLS} FROM notes WHERE room_id = ?1 AND note_id = ?2");
        Ok(self.tx.query_row(&sql, [room_id, note_id], note_from).optional()?)
    }

    /// Every note of a room ordered by `(created_at, note_id)`.
    pub fn notes(&self, room_id: &str) -> Result<Vec<Note>, TtError> {
        let sql = format!("SELECT {NOTE_COLS} FROM notes WHERE room_id = ?1 ORDER BY created_at, note_id");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map([room_id], note_from)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest note's `created_at` of a room.
    pub fn newest_note_at(&self, room_id: &str) -> Result<Option<i64>, TtError> {
        Ok(self.tx.query_row("SELECT max(created_at) FROM notes WHERE room_id = ?1", [room_id], |r| r.get(0))?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn journal_mode(store: &Store) -> String {
        store.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn wal_is_set_once_and_read_from_the_header_afterwards() {
        let t = tempfile::tempdir().unwrap();
        let path = Store::path_in(t.path());
        assert!(!header_says_wal(&path), "missing file");
        std::fs::write(&path, b"").unwrap();
        assert!(!header_says_wal(&path), "empty file");
        std::fs::remove_file(&path).unwrap();
        let first = Store::open(t.path(), 1000).unwrap();
        assert_eq!(journal_mode(&first), "wal");
        assert!(header_says_wal(&path), "the header records WAL once it is set");
        drop(first);
        // A later connection skips the pragma and is in WAL mode all the same.
        let second = Store::open(t.path(), 1000).unwrap();
        assert_eq!(journal_mode(&second), "wal");
        // A rollback-journal database is switched by the pragma.
        second.conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        assert!(!header_says_wal(&path));
        drop(second);
        let third = Store::open(t.path(), 1000).unwrap();
        assert_eq!(journal_mode(&third), "wal");
    }

    #[test]
    fn a_database_busy_for_the_whole_timeout_is_not_opened_twice() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path(), 1000).unwrap();
        // A rollback-journal database under an exclusive transaction: even the header
        // read waits for the whole busy timeout.
        store.conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        drop(store);
        let holder = Connection::open(Store::path_in(t.path())).unwrap();
        holder.execute_batch("BEGIN EXCLUSIVE; UPDATE schema_migrations SET name = name;").unwrap();
        let started = std::time::Instant::now();
        let err = Store::open(t.path(), 400).map(drop).expect_err("busy");
        assert_eq!(err.code, ErrorCode::DatabaseBusy, "{err:?}");
        // One wait of 400 ms, not two (the second attempt is for a creation race only).
        assert!(started.elapsed() < Duration::from_millis(790), "{:?}", started.elapsed());
    }
}
