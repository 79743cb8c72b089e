//! The CLI side file `cli-sessions.json` (cli.md §3): per-(agent, room) lease, guardian
//! and event cursor. The database stays authoritative: a lost or stale row never grants
//! anything (protocol.md §20.6).
//!
//! Reading is lock-free and robust (cli.md §3.6). Writing is a locked read-modify-write
//! ([`SessionFile::update`], cli.md §3.5) whose closure should use the row helpers below
//! ([`join_refresh`], [`record_lease`], [`record_cursor`], [`clear_lease`], [`remove_row`],
//! [`remove_room_rows`]) instead of editing rows by hand; [`find_for_path`] is the path
//! lookup of cli.md §3.4.

use crate::clock::{Clock, iso8601};
use crate::error::TtError;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The side file's name inside the data directory.
pub const FILE_NAME: &str = "cli-sessions.json";

/// How long a writer retries the lock directory before `storage_error` (cli.md §3.5).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// The back-off between lock attempts (cli.md §3.5).
pub const LOCK_RETRY: Duration = Duration::from_millis(10);

/// A lock directory whose modification time is more than this old is stale and is
/// removed (cli.md §3.5).
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(30);

/// A lock staged this long before it could be moved into place gets its modification
/// time refreshed, so that its age under the 30 s rule starts when it was taken.
const STAGED_REFRESH_AFTER: Duration = Duration::from_secs(1);

/// One row (cli.md §3.2).
///
/// JSON: `{agent_id, room_id, canonical_path, workspace_root, lease_id?, turn_id?,
/// guardian_pid?, guardian_process_started_at?, event_cursor_seq?, updated_at}`; the
/// optional fields are omitted when `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionRow {
    /// Key part.
    pub agent_id: String,
    /// Key part.
    pub room_id: String,
    /// The room's path.
    pub canonical_path: String,
    /// The workspace root.
    pub workspace_root: String,
    /// The lease this CLI recorded, while held.
    pub lease_id: Option<String>,
    /// The lease's turn.
    pub turn_id: Option<i64>,
    /// The recorded guardian pid.
    pub guardian_pid: Option<i64>,
    /// The guardian's start time (s).
    pub guardian_process_started_at: Option<i64>,
    /// The `tt wait` cursor.
    pub event_cursor_seq: Option<i64>,
    /// ISO timestamp of the last change.
    pub updated_at: String,
}

impl SessionRow {
    /// Whether the row records a usable lease: both `lease_id` and `turn_id` are present
    /// (what `release`, `pass`, `assign` and `heartbeat` need, cli.md §3.4).
    pub fn has_lease(&self) -> bool {
        self.lease_id.is_some() && self.turn_id.is_some()
    }

    /// The recorded guardian as `(pid, process_started_at_s)`, when both are present.
    pub fn guardian(&self) -> Option<(i64, i64)> {
        Some((self.guardian_pid?, self.guardian_process_started_at?))
    }

    /// Whether this row is the one for `(agent_id, room_id)`.
    pub fn is(&self, agent_id: &str, room_id: &str) -> bool {
        self.agent_id == agent_id && self.room_id == room_id
    }

    /// Parse one array element robustly (cli.md §3.6): `None` when it is not an object
    /// or `agent_id`, `room_id` or `canonical_path` is missing or not a string. An optional
    /// field of the wrong type is dropped; the lease pair (`lease_id`, `turn_id`) and the
    /// guardian pair (`guardian_pid`, `guardian_process_started_at`) are dropped together
    /// when either member has the wrong type. A missing or non-string `workspace_root`
    /// becomes `canonical_path`; a missing or non-string `updated_at` becomes `""` (older
    /// than every timestamp).
    pub fn from_json(value: &Value) -> Option<SessionRow> {
        let obj = value.as_object()?;
        let string = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let agent_id = string("agent_id")?;
        let room_id = string("room_id")?;
        let canonical_path = string("canonical_path")?;
        // `Some(None)` = wrong type; `None` = absent or null; `Some(Some(v))` = valid.
        let opt_str = |k: &str| match obj.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_str().map(str::to_string)),
        };
        let opt_int = |k: &str| match obj.get(k) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_i64()),
        };
        let (lease_id, turn_id) = pair(opt_str("lease_id"), opt_int("turn_id"));
        let (guardian_pid, guardian_process_started_at) =
            pair(opt_int("guardian_pid"), opt_int("guardian_process_started_at"));
        Some(SessionRow {
            workspace_root: string("workspace_root").unwrap_or_else(|| canonical_path.clone()),
            agent_id,
            room_id,
            canonical_path,
            lease_id,
            turn_id,
            guardian_pid,
            guardian_process_started_at,
            event_cursor_seq: opt_int("event_cursor_seq").flatten(),
            updated_at: string("updated_at").unwrap_or_default(),
        })
    }

    /// The row as a JSON object, fields in cli.md §3.2 order, `None` fields omitted.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("agent_id".into(), Value::from(self.agent_id.clone()));
        m.insert("room_id".into(), Value::from(self.room_id.clone()));
        m.insert("canonical_path".into(), Value::from(self.canonical_path.clone()));
        m.insert("workspace_root".into(), Value::from(self.workspace_root.clone()));
        if let Some(v) = &self.lease_id {
            m.insert("lease_id".into(), Value::from(v.clone()));
        }
        let ints = [
            ("turn_id", self.turn_id),
            ("guardian_pid", self.guardian_pid),
            ("guardian_process_started_at", self.guardian_process_started_at),
            ("event_cursor_seq", self.event_cursor_seq),
        ];
        for (k, v) in ints {
            if let Some(v) = v {
                m.insert(k.into(), Value::from(v));
            }
        }
        m.insert("updated_at".into(), Value::from(self.updated_at.clone()));
        Value::Object(m)
    }
}

/// Two optional fields that only make sense together: a wrong-typed member drops both.
fn pair<A, B>(a: Option<Option<A>>, b: Option<Option<B>>) -> (Option<A>, Option<B>) {
    match (a, b) {
        (Some(None), _) | (_, Some(None)) => (None, None),
        (a, b) => (a.flatten(), b.flatten()),
    }
}

/// The side file of one data directory.
#[derive(Clone, Debug)]
pub struct SessionFile {
    path: PathBuf,
    clock: Clock,
    lock_timeout: Duration,
}

impl SessionFile {
    /// `<data_dir>/cli-sessions.json`.
    pub fn new(data_dir: &Path, clock: Clock) -> Self {
        SessionFile { path: data_dir.join(FILE_NAME), clock, lock_timeout: LOCK_TIMEOUT }
    }

    /// The side file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `now()` as the ISO-8601 string stored in `updated_at` (protocol.md §3.1), for the
    /// `now_iso` argument of the row helpers.
    pub fn now_iso(&self) -> String {
        iso8601(self.clock.now_ms())
    }

    /// Every row (robust read, cli.md §3.6). No lock.
    ///
    /// A missing or unreadable file reads as no rows. An unparsable file (not JSON, or
    /// not an array) is renamed to `cli-sessions.json.corrupt-<epoch ms>` and reads as no
    /// rows. Invalid rows are dropped or repaired per [`SessionRow::from_json`];
    /// duplicate `(agent_id, room_id)` rows collapse to the newest `updated_at`.
    pub fn read(&self) -> Vec<SessionRow> {
        self.read_rows().unwrap_or_default()
    }

    /// Locked read-modify-write (cli.md §3.5); rows whose room is not in `live_rooms`
    /// are dropped. `f` edits the rows. Errors: `storage_error`.
    pub fn update(&self, live_rooms: &HashSet<String>, f: impl FnOnce(&mut Vec<SessionRow>)) -> Result<(), TtError> {
        self.update_with(live_rooms, f)
    }

    /// [`SessionFile::update`] returning what `f` returns.
    ///
    /// Takes the lock directory `cli-sessions.json.lock` (retry every 10 ms for up to
    /// 5 s; a lock older than 30 s by its modification time is removed as stale, and so
    /// is at once a lock whose owner marker names a process that is gone), reads
    /// the rows, drops those whose `room_id` is not in `live_rooms`, applies `f`, keeps
    /// one row per `(agent_id, room_id)` (the last one `f` left), and writes
    /// `.cli-sessions.json.<pid>.<random>.tmp` (mode 0600, fsync) renamed over the file.
    /// The lock is removed on every path out, errors included. The data directory is
    /// created (mode 0700) if missing.
    ///
    /// Errors: `storage_error` on lock timeout or any file-system failure (the file is
    /// then unchanged).
    pub fn update_with<T>(
        &self,
        live_rooms: &HashSet<String>,
        f: impl FnOnce(&mut Vec<SessionRow>) -> T,
    ) -> Result<T, TtError> {
        let dir = self.dir();
        crate::paths::ensure_private_dir(dir).map_err(|e| storage("cannot create the data directory", dir, &e))?;
        let _lock = self.lock()?;
        sweep_leftovers(dir);
        let mut rows = self.read_rows().map_err(|e| storage("cannot read the session file", &self.path, &e))?;
        rows.retain(|r| live_rooms.contains(&r.room_id));
        let out = f(&mut rows);
        dedup_keep_last(&mut rows);
        self.write(&rows)?;
        Ok(out)
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    /// The read of [`SessionFile::read`], surfacing I/O errors other than "missing".
    fn read_rows(&self) -> std::io::Result<Vec<SessionRow>> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&bytes) else {
            self.quarantine();
            return Ok(Vec::new());
        };
        let mut rows: Vec<SessionRow> = Vec::new();
        for row in items.iter().filter_map(SessionRow::from_json) {
            match rows.iter_mut().find(|r| r.is(&row.agent_id, &row.room_id)) {
                Some(existing) if existing.updated_at <= row.updated_at => *existing = row,
                Some(_) => {}
                None => rows.push(row),
            }
        }
        Ok(rows)
    }

    /// Rename an unparsable file aside (cli.md §3.6). Best effort: a concurrent reader
    /// may have moved it already.
    fn quarantine(&self) {
        let mut aside = self.path.clone().into_os_string();
        aside.push(format!(".corrupt-{}", self.clock.now_ms()));
        let _ = fs::rename(&self.path, PathBuf::from(aside));
    }

    /// Take the lock directory (cli.md §3.5). On Linux the directory is staged privately
    /// with this process's owner marker inside and moved into place with
    /// `renameat2(RENAME_NOREPLACE)`, so the lock never exists unmarked: a holder killed at
    /// any instant leaves either no lock or a lock whose dead owner the next writer breaks
    /// at once. Where that rename is unsupported, or this process's start time is unknown,
    /// it falls back to `mkdir` plus the marker.
    fn lock(&self) -> Result<LockGuard, TtError> {
        let lock = self.lock_path();
        let started_at = crate::liveness::own_start_time();
        let mut staged = started_at.and_then(|s| Staged::new(self.dir(), s));
        let started = Instant::now();
        loop {
            let taken = match staged.as_mut().map(|st| (st.install(&lock), st.started_at)) {
                Some((Ok(true), started_at)) => {
                    // The lock's age (the 30 s rule) is its modification time, which the
                    // move kept from the staging: refresh it after a long wait.
                    if started.elapsed() >= STAGED_REFRESH_AFTER {
                        let _ = fs::File::open(&lock).and_then(|d| d.set_modified(SystemTime::now()));
                    }
                    return Ok(LockGuard::installed(lock, started_at));
                }
                Some((Ok(false), _)) => Err(ErrorKind::AlreadyExists.into()),
                Some((Err(_), _)) | None => {
                    staged = None;
                    fs::DirBuilder::new().mode(0o700).create(&lock)
                }
            };
            match taken {
                Ok(()) => return Ok(LockGuard::taken(lock, started_at)),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if lock_is_stale(&lock) {
                        remove_lock_dir(&lock);
                        continue;
                    }
                    if break_dead_owner(&lock) {
                        continue;
                    }
                }
                Err(e) => return Err(storage("cannot create the session lock", &lock, &e)),
            }
            if started.elapsed() >= self.lock_timeout {
                return Err(TtError::storage(format!(
                    "timed out after {} ms waiting for the session lock `{}`",
                    self.lock_timeout.as_millis(),
                    lock.display()
                ))
                .with("path", lock.display().to_string())
                .hint("if no other tt process is running, remove the lock directory"));
            }
            std::thread::sleep(LOCK_RETRY);
        }
    }

    fn write(&self, rows: &[SessionRow]) -> Result<(), TtError> {
        let value = Value::Array(rows.iter().map(SessionRow::to_json).collect());
        let mut bytes = serde_json::to_vec_pretty(&value)
            .map_err(|e| TtError::storage(format!("cannot encode the session file: {e}")))?;
        bytes.push(b'\n');
        let tmp = temp_copy(self.dir(), std::process::id());
        let result = write_synced(&tmp, &bytes).and_then(|()| fs::rename(&tmp, &self.path));
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(storage("cannot write the session file", &self.path, &e));
        }
        // No directory fsync: the database is authoritative, and a rename lost to a power
        // failure only loses a hint that the next `tt wait` rebuilds (protocol.md §20.6).
        Ok(())
    }
}

/// Create `path` exclusively with mode 0600, write `bytes`, fsync.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_data()
}

/// Whether the lock directory's modification time is more than 30 s in the past (by the
/// system wall clock, which is what the file system stamps; not the protocol clock).
fn lock_is_stale(lock: &Path) -> bool {
    fs::metadata(lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > LOCK_STALE_AFTER)
}

/// Remove a lock directory (stale, or a side directory) and the owner marker inside it,
/// if any (best effort).
fn remove_lock_dir(lock: &Path) {
    if let Ok(entries) = fs::read_dir(lock) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(OWNER_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let _ = fs::remove_dir(lock);
}

/// Create this process's owner marker (start time `started_at`, s) in `dir`, exclusively,
/// mode 0600; returns its path.
fn create_marker(dir: &Path, started_at: i64) -> std::io::Result<PathBuf> {
    let marker = dir.join(owner_name(std::process::id(), started_at));
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&marker)?;
    Ok(marker)
}

/// The owner marker `owner-<pid>-<start time s>` a lock holder creates inside the lock
/// directory (an extension of cli.md §3.5; a lock without one, made by a holder killed
/// right after `mkdir` or by another implementation, only goes stale after 30 s).
const OWNER_PREFIX: &str = "owner-";

fn owner_name(pid: u32, started_at: i64) -> String {
    format!("{OWNER_PREFIX}{pid}-{started_at}")
}

fn parse_owner(name: &str) -> Option<(i64, i64)> {
    let (pid, started) = name.strip_prefix(OWNER_PREFIX)?.split_once('-')?;
    Some((pid.parse().ok()?, started.parse().ok()?))
}

/// A lock whose one owner marker names a process that is provably gone (protocol.md §6.3
/// steps 5–8: the pid is missing or was reused by a later process) was left by a holder
/// that was killed inside the lock; it is stale at once instead of after 30 s. Without this,
/// every writer of the data directory waits 5 s and fails with `storage_error` for 30 s
/// after a `tt` is killed while rewriting the file — about half of the random SIGKILLs of
/// `tt release`, `tt pass` and `tt try` in the crash run (`docs/RELIABILITY.md`).
///
/// Breaking is safe against concurrent breakers: only the process whose `unlink` of that
/// very marker succeeds removes the directory, and `rmdir` never removes a directory that a
/// new holder has already marked. Returns whether the lock was broken.
fn break_dead_owner(lock: &Path) -> bool {
    let Ok(entries) = fs::read_dir(lock) else { return false };
    let names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    let [name] = names.as_slice() else { return false };
    let Some((pid, started_at)) = parse_owner(name) else { return false };
    if crate::liveness::local_verdict(pid, started_at) != crate::liveness::Verdict::Gone {
        return false;
    }
    if fs::remove_file(lock.join(name)).is_err() {
        return false;
    }
    let _ = fs::remove_dir(lock);
    true
}

fn storage(what: &str, path: &Path, e: &std::io::Error) -> TtError {
    TtError::storage(format!("{what} `{}`: {e}", path.display())).with("path", path.display().to_string())
}

/// The prefix of the private directories next to the lock: a writer stages its lock in
/// one (`.cli-sessions.json.lock.<pid>-<start s>.<random>.tmp`, holding its owner marker)
/// and moves a released lock into another before emptying it. A writer killed in between
/// leaves one behind; [`sweep_leftovers`] removes those of processes that are gone (with
/// [`remove_lock_dir`]: a side directory is a lock directory under another name).
const SIDE_PREFIX: &str = ".cli-sessions.json.lock.";
const SIDE_SUFFIX: &str = ".tmp";

/// A fresh side directory path of this process in `dir`.
fn side_dir(dir: &Path, started_at: i64) -> PathBuf {
    dir.join(format!("{SIDE_PREFIX}{}-{started_at}.{}{SIDE_SUFFIX}", std::process::id(), uuid::Uuid::new_v4().simple()))
}

/// The `(pid, start time s)` a side directory's name carries.
fn parse_side_dir(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix(SIDE_PREFIX)?.strip_suffix(SIDE_SUFFIX)?;
    let (owner, _random) = rest.split_once('.')?;
    let (pid, started) = owner.split_once('-')?;
    Some((pid.parse().ok()?, started.parse().ok()?))
}

/// The prefix and suffix of a temporary copy of the session file (cli.md §3.5).
const COPY_PREFIX: &str = ".cli-sessions.json.";
const COPY_SUFFIX: &str = ".tmp";

/// A fresh temporary copy path for process `pid` in `dir`:
/// `.cli-sessions.json.<pid>.<random>.tmp` (cli.md §3.5).
fn temp_copy(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{COPY_PREFIX}{pid}.{}{COPY_SUFFIX}", uuid::Uuid::new_v4().simple()))
}

/// The pid a [`temp_copy`] name carries; None for any other name.
fn parse_temp_copy(name: &str) -> Option<i64> {
    let rest = name.strip_prefix(COPY_PREFIX)?.strip_suffix(COPY_SUFFIX)?;
    let (pid, random) = rest.split_once('.')?;
    if random.is_empty() || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    pid.parse().ok()
}

/// Remove what writers that are provably gone left in `dir`: their side directories
/// (protocol.md §6.3 steps 5–8) and their temporary copies. Run by each writer while it
/// holds the lock: one directory read, and a liveness probe only for a leftover that is
/// there. A directory wrongly judged gone (a writer in another pid namespace) only costs
/// that writer its staged lock: it falls back to `mkdir`.
///
/// A temporary copy is only ever written under the lock, so one that exists while this
/// process holds it was left by a writer killed before its rename (or one whose lock was
/// broken as stale). Its name carries no start time, so it is removed only when its pid
/// no longer exists at all (`kill(pid, 0)` fails with `ESRCH`); behind a reused pid it
/// stays. Without this, every writer killed between the `fsync` and the rename left a
/// file behind for good (the crash run kills writers at random points, docs/RELIABILITY.md).
fn sweep_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let own = i64::from(std::process::id());
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some((pid, started_at)) = parse_side_dir(&name) {
            if crate::liveness::local_verdict(pid, started_at) == crate::liveness::Verdict::Gone {
                remove_lock_dir(&entry.path());
            }
        } else if let Some(pid) = parse_temp_copy(&name)
            && pid != own
            && entry.file_type().is_ok_and(|t| t.is_file())
            && crate::liveness::signal_zero(pid) == crate::liveness::SignalProbe::Dead
        {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A lock directory staged privately, its owner marker already inside, waiting to be
/// moved into place. Dropping it before that removes it.
struct Staged {
    dir: PathBuf,
    /// This process's start time (s), named in `dir` and in the marker.
    started_at: i64,
    installed: bool,
}

impl Staged {
    /// Stage in `data_dir` for this process (start time `started_at`, s). None where the
    /// atomic move is unavailable (not Linux) or staging fails.
    fn new(data_dir: &Path, started_at: i64) -> Option<Staged> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let staged = Staged { dir: side_dir(data_dir, started_at), started_at, installed: false };
        fs::DirBuilder::new().mode(0o700).create(&staged.dir).ok()?;
        create_marker(&staged.dir, started_at).ok()?;
        Some(staged)
    }

    /// Move the staged directory to `lock` unless `lock` exists: Ok(true) when this
    /// process now holds the lock, Ok(false) when it is held. Errors: the rename's,
    /// `Unsupported` off Linux (the caller falls back to `mkdir`).
    fn install(&mut self, lock: &Path) -> std::io::Result<bool> {
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{CWD, RenameFlags, renameat_with};
            match renameat_with(CWD, &self.dir, CWD, lock, RenameFlags::NOREPLACE) {
                Ok(()) => {
                    self.installed = true;
                    Ok(true)
                }
                Err(rustix::io::Errno::EXIST) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = lock;
            Err(ErrorKind::Unsupported.into())
        }
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.installed {
            remove_lock_dir(&self.dir);
        }
    }
}

/// A held session lock: the lock directory and this process's owner marker inside it.
/// Dropping it (success, error or unwind) removes both.
struct LockGuard {
    dir: PathBuf,
    owner: Option<PathBuf>,
    /// This process's start time (s), when known: the release then moves the lock aside
    /// in one step (see [`Drop`]).
    started_at: Option<i64>,
}

impl LockGuard {
    /// The lock directory was just created by this process: mark it with this process's
    /// pid and start time (`started_at`, s), so that a writer finding it after this process
    /// was killed can tell the lock is dead (best effort: without a marker the 30 s rule
    /// applies).
    fn taken(dir: PathBuf, started_at: Option<i64>) -> LockGuard {
        let owner = started_at.and_then(|started| create_marker(&dir, started).ok());
        LockGuard { dir, owner, started_at }
    }

    /// A staged directory of this process (start time `started_at`, s) was just moved to
    /// `dir`, its marker inside.
    fn installed(dir: PathBuf, started_at: i64) -> LockGuard {
        let owner = Some(dir.join(owner_name(std::process::id(), started_at)));
        LockGuard { dir, owner, started_at: Some(started_at) }
    }
}

impl Drop for LockGuard {
    /// Release. A marked lock is first renamed to a side directory, so that it disappears
    /// in one step: removing the marker and then the directory would leave an unmarked
    /// lock (30 s of `storage_error` for every writer) if this process were killed in
    /// between. Should the moved directory not hold this process's marker (the lock was
    /// removed as stale after 30 s and retaken meanwhile), it is moved back.
    fn drop(&mut self) {
        if let (Some(owner), Some(started_at), Some(parent)) = (&self.owner, self.started_at, self.dir.parent()) {
            let aside = side_dir(parent, started_at);
            if fs::rename(&self.dir, &aside).is_ok() {
                let ours = owner.file_name().map(|name| aside.join(name)).is_some_and(|m| fs::remove_file(m).is_ok());
                if ours {
                    let _ = fs::remove_dir(&aside);
                } else {
                    let mut back = Staged { dir: aside, started_at, installed: false };
                    if !matches!(back.install(&self.dir), Ok(true)) {
                        back.installed = true; // leave it for its owner's breaker or the sweep
                    }
                }
                return;
            }
        }
        // No marker, or the move failed: the two-step removal.
        if let Some(owner) = &self.owner {
            let _ = fs::remove_file(owner);
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Keep the last row for each `(agent_id, room_id)`, in their original order.
fn dedup_keep_last(rows: &mut Vec<SessionRow>) {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut kept: Vec<SessionRow> = Vec::with_capacity(rows.len());
    for row in rows.drain(..).rev() {
        if seen.insert((row.agent_id.clone(), row.room_id.clone())) {
            kept.push(row);
        }
    }
    kept.reverse();
    *rows = kept;
}

/// The row for `(agent_id, room_id)`, if any.
pub fn find<'a>(rows: &'a [SessionRow], agent_id: &str, room_id: &str) -> Option<&'a SessionRow> {
    rows.iter().find(|r| r.is(agent_id, room_id))
}

fn find_mut<'a>(rows: &'a mut [SessionRow], agent_id: &str, room_id: &str) -> Option<&'a mut SessionRow> {
    rows.iter_mut().find(|r| r.is(agent_id, room_id))
}

/// "join refresh" (cli.md §3.3; `join` and the implicit join of `wait`, `try`, `take`):
/// upsert the row for `(agent_id, room_id)` with `canonical_path`, `workspace_root` and
/// `updated_at = now_iso`, keeping lease, guardian and cursor. `seed_cursor` (an explicit
/// `join`'s `cursor_event_seq`, protocol.md §17.5) is stored only when the row has no
/// cursor yet; pass `None` from implicit joins.
pub fn join_refresh(
    rows: &mut Vec<SessionRow>,
    agent_id: &str,
    room_id: &str,
    canonical_path: &str,
    workspace_root: &str,
    seed_cursor: Option<i64>,
    now_iso: &str,
) {
    let row = match find_mut(rows, agent_id, room_id) {
        Some(row) => row,
        None => {
            rows.push(SessionRow { agent_id: agent_id.into(), room_id: room_id.into(), ..SessionRow::default() });
            match rows.last_mut() {
                Some(row) => row,
                None => return,
            }
        }
    };
    row.canonical_path = canonical_path.into();
    row.workspace_root = workspace_root.into();
    if row.event_cursor_seq.is_none() {
        row.event_cursor_seq = seed_cursor;
    }
    row.updated_at = now_iso.into();
}

/// "record lease" (cli.md §3.3; `wait`/`try`/`take` after `your_turn`, guardian repair):
/// set `lease_id`, `turn_id` and the guardian `(pid, process_started_at_s)`; `guardian:
/// None` (spawning failed) removes any recorded guardian. Returns `false`, changing
/// nothing, when there is no row for `(agent_id, room_id)`: call [`join_refresh`] first in
/// the same [`SessionFile::update`].
pub fn record_lease(
    rows: &mut [SessionRow],
    agent_id: &str,
    room_id: &str,
    lease_id: &str,
    turn_id: i64,
    guardian: Option<(i64, i64)>,
    now_iso: &str,
) -> bool {
    let Some(row) = find_mut(rows, agent_id, room_id) else { return false };
    row.lease_id = Some(lease_id.into());
    row.turn_id = Some(turn_id);
    row.guardian_pid = guardian.map(|g| g.0);
    row.guardian_process_started_at = guardian.map(|g| g.1);
    row.updated_at = now_iso.into();
    true
}

/// "record cursor" (cli.md §3.3, protocol.md §17.5): `event_cursor_seq =
/// max(stored, cursor)`; the cursor only moves forward. `updated_at` changes only when the
/// cursor does. Returns whether a row for `(agent_id, room_id)` exists.
pub fn record_cursor(rows: &mut [SessionRow], agent_id: &str, room_id: &str, cursor: i64, now_iso: &str) -> bool {
    let Some(row) = find_mut(rows, agent_id, room_id) else { return false };
    if row.event_cursor_seq.is_none_or(|stored| cursor > stored) {
        row.event_cursor_seq = Some(cursor);
        row.updated_at = now_iso.into();
    }
    true
}

/// "clear lease" (cli.md §3.3): remove `lease_id`, `turn_id`, `guardian_pid` and
/// `guardian_process_started_at` (the caller stops the guardian first, protocol.md
/// §16.4). Returns whether a row for `(agent_id, room_id)` exists.
pub fn clear_lease(rows: &mut [SessionRow], agent_id: &str, room_id: &str, now_iso: &str) -> bool {
    let Some(row) = find_mut(rows, agent_id, room_id) else { return false };
    row.lease_id = None;
    row.turn_id = None;
    row.guardian_pid = None;
    row.guardian_process_started_at = None;
    row.updated_at = now_iso.into();
    true
}

/// "remove row" (cli.md §3.3, `leave`): delete the row for `(agent_id, room_id)`.
/// Returns whether one was removed. When `leave` deleted the room, use
/// [`remove_room_rows`] instead.
pub fn remove_row(rows: &mut Vec<SessionRow>, agent_id: &str, room_id: &str) -> bool {
    let before = rows.len();
    rows.retain(|r| !r.is(agent_id, room_id));
    rows.len() != before
}

/// "remove room rows" (cli.md §3.3; `kick` or `leave` that deleted the room): delete
/// every row for `room_id`. Returns how many were removed.
pub fn remove_room_rows(rows: &mut Vec<SessionRow>, room_id: &str) -> usize {
    let before = rows.len();
    rows.retain(|r| r.room_id != room_id);
    before - rows.len()
}

/// Lookup for a path (cli.md §3.4, protocol.md §9.6): among `agent_id`'s rows whose
/// `canonical_path` is one of `ancestor_paths` (deepest first, as
/// [`crate::workspace::ancestor_paths`] returns them) and whose room still exists
/// (`room_exists(room_id)`), the deepest wins; ties go to the newest `updated_at`.
/// Whether the row must hold a lease is the caller's check ([`SessionRow::has_lease`]).
pub fn find_for_path(
    rows: &[SessionRow],
    agent_id: &str,
    ancestor_paths: &[PathBuf],
    room_exists: impl Fn(&str) -> bool,
) -> Option<SessionRow> {
    let mut best: Option<(usize, &SessionRow)> = None;
    for row in rows.iter().filter(|r| r.agent_id == agent_id) {
        let Some(depth) = ancestor_paths.iter().position(|a| a.as_path() == Path::new(&row.canonical_path)) else {
            continue;
        };
        if !room_exists(&row.room_id) {
            continue;
        }
        let better = match best {
            None => true,
            Some((d, b)) => depth < d || (depth == d && row.updated_at > b.updated_at),
        };
        if better {
            best = Some((depth, row));
        }
    }
    best.map(|(_, r)| r.clone())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    const T1: &str = "2026-04-22T12:00:00.000Z";
    const T2: &str = "2026-04-22T12:00:01.000Z";

    fn file() -> (tempfile::TempDir, SessionFile) {
        let t = tempfile::tempdir().unwrap();
        let f = SessionFile::new(t.path(), Clock::from_origin(1_776_859_200_000));
        (t, f)
    }

    fn live(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn missing_file_is_empty() {
        let (_t, f) = file();
        assert!(f.read().is_empty());
    }

    #[test]
    fn corrupt_file_is_renamed_and_empty() {
        for bad in ["{not json", "{\"a\": 1}", ""] {
            let (t, f) = file();
            fs::write(f.path(), bad).unwrap();
            assert!(f.read().is_empty());
            assert!(!f.path().exists());
            let names: Vec<String> = fs::read_dir(t.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names.len(), 1, "{names:?}");
            assert!(names[0].starts_with("cli-sessions.json.corrupt-17768592"), "{names:?}");
        }
    }

    #[test]
    fn robust_rows() {
        let (_t, f) = file();
        let doc = json!([
            {"agent_id": "a", "room_id": "r1", "canonical_path": "/p", "workspace_root": "/p",
             "lease_id": "L", "turn_id": 3, "guardian_pid": 10, "guardian_process_started_at": "yesterday",
             "event_cursor_seq": 7, "updated_at": T1},
            {"agent_id": "a", "room_id": "r2", "canonical_path": "/q", "workspace_root": "/q",
             "lease_id": 5, "turn_id": 3, "event_cursor_seq": "x", "updated_at": T1, "extra": true},
            {"agent_id": 1, "room_id": "r3", "canonical_path": "/x", "workspace_root": "/x", "updated_at": T1},
            {"agent_id": "a", "canonical_path": "/x", "workspace_root": "/x", "updated_at": T1},
            {"agent_id": "a", "room_id": "r4", "canonical_path": null, "updated_at": T1},
            "not an object",
            {"agent_id": "b", "room_id": "r1", "canonical_path": "/p", "turn_id": 1.5, "lease_id": null}
        ]);
        fs::write(f.path(), doc.to_string()).unwrap();
        let rows = f.read();
        assert_eq!(rows.len(), 3);
        // Textual guardian_process_started_at removes both guardian fields, nothing else.
        assert_eq!(
            rows[0],
            SessionRow {
                agent_id: "a".into(),
                room_id: "r1".into(),
                canonical_path: "/p".into(),
                workspace_root: "/p".into(),
                lease_id: Some("L".into()),
                turn_id: Some(3),
                guardian_pid: None,
                guardian_process_started_at: None,
                event_cursor_seq: Some(7),
                updated_at: T1.into(),
            }
        );
        // Wrong-typed lease_id removes the lease pair; wrong-typed cursor is removed.
        assert_eq!((rows[1].lease_id.clone(), rows[1].turn_id, rows[1].event_cursor_seq), (None, None, None));
        assert!(!rows[1].has_lease());
        // Missing workspace_root falls back to canonical_path; missing updated_at is "".
        assert_eq!(rows[2].workspace_root, "/p");
        assert_eq!(rows[2].updated_at, "");
        assert_eq!(rows[2].turn_id, None);
    }

    #[test]
    fn round_trip_omits_none_fields() {
        let (_t, f) = file();
        f.update(&live(&["r1"]), |rows| {
            join_refresh(rows, "a", "r1", "/p", "/p", Some(4), T1);
        })
        .unwrap();
        let text = fs::read_to_string(f.path()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!([{"agent_id": "a", "room_id": "r1", "canonical_path": "/p", "workspace_root": "/p",
                    "event_cursor_seq": 4, "updated_at": T1}])
        );
        let mode = fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No lock or temp file is left behind.
        let names: Vec<String> = fs::read_dir(f.path().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![FILE_NAME.to_string()]);
        // now_iso follows the injected clock.
        assert!(f.now_iso().starts_with("2026-04-22T12:00:"));
    }

    #[test]
    fn update_drops_dead_rooms_and_keeps_one_row_per_key() {
        let (_t, f) = file();
        f.update(&live(&["r1", "r2"]), |rows| {
            join_refresh(rows, "a", "r1", "/p", "/p", None, T1);
            join_refresh(rows, "a", "r2", "/q", "/q", None, T1);
            rows.push(SessionRow {
                agent_id: "a".into(),
                room_id: "r1".into(),
                ..find(rows, "a", "r1").unwrap().clone()
            });
        })
        .unwrap();
        assert_eq!(f.read().len(), 2);
        f.update(&live(&["r2"]), |_| {}).unwrap();
        let rows = f.read();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].room_id, "r2");
    }

    #[test]
    fn row_operations() {
        let mut rows = Vec::new();
        join_refresh(&mut rows, "a", "r", "/p", "/p", Some(5), T1);
        join_refresh(&mut rows, "a", "r", "/p2", "/root", Some(9), T2);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].canonical_path.as_str(), rows[0].workspace_root.as_str()), ("/p2", "/root"));
        assert_eq!(rows[0].event_cursor_seq, Some(5), "join seeds only an empty cursor");

        assert!(!record_lease(&mut rows, "b", "r", "L", 1, None, T1));
        assert!(record_lease(&mut rows, "a", "r", "L", 4, Some((100, 1_700_000_000)), T2));
        assert!(rows[0].has_lease());
        assert_eq!(rows[0].guardian(), Some((100, 1_700_000_000)));
        // A later join refresh keeps lease, guardian and cursor.
        join_refresh(&mut rows, "a", "r", "/p2", "/root", None, T2);
        assert_eq!(rows[0].lease_id.as_deref(), Some("L"));
        assert_eq!(rows[0].guardian_pid, Some(100));
        // Recording without a guardian removes the old one.
        record_lease(&mut rows, "a", "r", "L2", 5, None, T2);
        assert_eq!((rows[0].turn_id, rows[0].guardian()), (Some(5), None));

        // The cursor only moves forward.
        assert!(record_cursor(&mut rows, "a", "r", 3, T1));
        assert_eq!(rows[0].event_cursor_seq, Some(5));
        assert_eq!(rows[0].updated_at, T2, "no change, no timestamp");
        record_cursor(&mut rows, "a", "r", 12, T1);
        assert_eq!(rows[0].event_cursor_seq, Some(12));

        assert!(clear_lease(&mut rows, "a", "r", T2));
        assert!(!rows[0].has_lease());
        assert_eq!(rows[0].guardian(), None);
        assert_eq!(rows[0].event_cursor_seq, Some(12));

        join_refresh(&mut rows, "b", "r", "/p", "/p", None, T1);
        join_refresh(&mut rows, "b", "s", "/s", "/s", None, T1);
        assert!(remove_row(&mut rows, "a", "r"));
        assert!(!remove_row(&mut rows, "a", "r"));
        assert_eq!(remove_room_rows(&mut rows, "r"), 1);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].room_id, "s");
    }

    #[test]
    fn lookup_for_path() {
        let mut rows = Vec::new();
        join_refresh(&mut rows, "a", "top", "/w", "/w", None, T2);
        join_refresh(&mut rows, "a", "sub", "/w/sub", "/w", None, T1);
        join_refresh(&mut rows, "a", "gone", "/w/sub/deep", "/w", None, T2);
        join_refresh(&mut rows, "b", "other", "/w/sub/deep", "/w", None, T2);
        let anc: Vec<PathBuf> = ["/w/sub/deep/x", "/w/sub/deep", "/w/sub", "/w"].iter().map(PathBuf::from).collect();
        let exists = |r: &str| r != "gone";
        // Deepest existing room of this agent wins; b's row is not a's.
        assert_eq!(find_for_path(&rows, "a", &anc, exists).unwrap().room_id, "sub");
        assert_eq!(find_for_path(&rows, "a", &anc[3..], exists).unwrap().room_id, "top");
        assert!(find_for_path(&rows, "c", &anc, exists).is_none());
        // Same depth: the newest updated_at wins.
        join_refresh(&mut rows, "a", "sub2", "/w/sub", "/w", None, T2);
        assert_eq!(find_for_path(&rows, "a", &anc, exists).unwrap().room_id, "sub2");
    }

    #[test]
    fn stale_lock_is_removed_and_fresh_lock_times_out() {
        let (_t, mut f) = file();
        let lock = f.lock_path();
        fs::create_dir(&lock).unwrap();
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::open(&lock).unwrap().set_times(fs::FileTimes::new().set_modified(old)).unwrap();
        f.update(&live(&["r"]), |rows| join_refresh(rows, "a", "r", "/p", "/p", None, T1)).unwrap();
        assert!(!lock.exists());
        assert_eq!(f.read().len(), 1);

        fs::create_dir(&lock).unwrap();
        f.lock_timeout = Duration::from_millis(50);
        let err = f.update(&live(&["r"]), |rows| rows.clear()).unwrap_err();
        assert_eq!(err.code, ErrorCode::StorageError);
        assert!(lock.exists(), "someone else's lock is not removed");
        assert_eq!(f.read().len(), 1, "nothing was written");
    }

    /// A child that has exited and been reaped: its pid is missing (or reused later).
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn a_lock_whose_owner_is_gone_is_broken_at_once() {
        let (_t, mut f) = file();
        f.lock_timeout = Duration::from_millis(200);
        let lock = f.lock_path();
        // A fresh lock left by a holder that was killed inside it (found by the crash run).
        fs::create_dir(&lock).unwrap();
        let started = crate::liveness::own_start_time().unwrap();
        fs::write(lock.join(owner_name(dead_pid(), started)), "").unwrap();
        f.update(&live(&["r"]), |rows| join_refresh(rows, "a", "r", "/p", "/p", None, T1)).unwrap();
        assert!(!lock.exists(), "the dead holder's lock was not broken");
        assert_eq!(f.read().len(), 1);

        // A live holder's lock (this very process, exact start time) is respected.
        fs::create_dir(&lock).unwrap();
        fs::write(lock.join(owner_name(std::process::id(), started)), "").unwrap();
        let err = f.update(&live(&["r"]), |rows| rows.clear()).unwrap_err();
        assert_eq!(err.code, ErrorCode::StorageError);
        assert!(lock.exists(), "a live holder's lock is not removed");
        // So is one whose holder cannot be judged (a start time later than observed: unknown).
        fs::remove_file(lock.join(owner_name(std::process::id(), started))).unwrap();
        fs::write(lock.join(owner_name(std::process::id(), started + 3600)), "").unwrap();
        assert!(f.update(&live(&["r"]), |rows| rows.clear()).is_err());
        assert!(lock.exists());
        // Two markers: not a lock this implementation made; only the 30 s rule applies.
        fs::write(lock.join(owner_name(dead_pid(), started)), "").unwrap();
        assert!(f.update(&live(&["r"]), |rows| rows.clear()).is_err());
        let old = SystemTime::now() - Duration::from_secs(60);
        fs::File::open(&lock).unwrap().set_times(fs::FileTimes::new().set_modified(old)).unwrap();
        f.update(&live(&["r"]), |rows| join_refresh(rows, "b", "r", "/p", "/p", None, T1)).unwrap();
        assert!(!lock.exists(), "the 30 s rule removes a marked lock too");
        assert_eq!(f.read().len(), 2);
    }

    #[test]
    fn a_held_lock_is_marked_and_the_marker_goes_with_it() {
        let (_t, f) = file();
        let lock = f.lock_path();
        let seen = f
            .update_with(&live(&["r"]), |_| {
                fs::read_dir(&lock)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap();
        let started = crate::liveness::own_start_time().unwrap();
        assert_eq!(seen, vec![owner_name(std::process::id(), started)]);
        assert!(!lock.exists());
    }

    /// Names in the data directory other than the side file.
    fn lock_debris(f: &SessionFile) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(f.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != FILE_NAME)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_lock_appears_marked_and_leaves_nothing_behind() {
        let (_t, f) = file();
        let lock = f.lock_path();
        let debris = f.update_with(&live(&["r"]), |_| lock_debris(&f)).unwrap();
        // While held: the lock itself, no staging directory beside it.
        assert_eq!(debris, vec![FILE_NAME.to_string() + ".lock"]);
        assert!(lock_debris(&f).is_empty(), "released: no lock, no side directory");
        assert!(!lock.exists());
    }

    #[test]
    fn side_directories_of_gone_writers_are_swept_and_live_ones_kept() {
        let (_t, f) = file();
        let dead = dead_pid();
        // A writer killed while staging (marker inside) and one killed after moving its
        // released lock aside; and a live writer (this process) in the middle of staging.
        let staged_dead = f.dir().join(format!("{SIDE_PREFIX}{dead}-1.aaaa{SIDE_SUFFIX}"));
        fs::create_dir(&staged_dead).unwrap();
        fs::write(staged_dead.join(owner_name(dead, 1)), b"").unwrap();
        let aside_dead = f.dir().join(format!("{SIDE_PREFIX}{dead}-1.bbbb{SIDE_SUFFIX}"));
        fs::create_dir(&aside_dead).unwrap();
        let started = crate::liveness::own_start_time().unwrap();
        let live_dir = side_dir(f.dir(), started);
        fs::create_dir(&live_dir).unwrap();
        // Not ours to judge: other names are left alone.
        fs::create_dir(f.dir().join(".cli-sessions.json.lock.unparsable.tmp")).unwrap();
        f.update(&live(&["r"]), |rows| join_refresh(rows, "a", "r", "/p", "/p", None, T1)).unwrap();
        assert!(!staged_dead.exists() && !aside_dead.exists(), "{:?}", lock_debris(&f));
        assert!(live_dir.exists(), "a live writer's staging directory stays");
        assert!(f.dir().join(".cli-sessions.json.lock.unparsable.tmp").exists());
        assert_eq!(f.read().len(), 1);
    }

    #[test]
    fn a_lock_retaken_after_the_stale_rule_is_not_removed_by_its_old_holder() {
        let (_t, f) = file();
        let lock = f.lock_path();
        let guard = f.lock().unwrap();
        // Held past 30 s: another writer removed it as stale and now holds its own.
        remove_lock_dir(&lock);
        fs::create_dir(&lock).unwrap();
        let other = lock.join(owner_name(1, 1));
        fs::write(&other, b"").unwrap();
        drop(guard);
        assert!(other.exists(), "the new holder's lock is put back");
        let leftovers: Vec<String> = lock_debris(&f).into_iter().filter(|n| n.ends_with(SIDE_SUFFIX)).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn temporary_copies_of_gone_writers_are_swept_and_others_kept() {
        let (_t, f) = file();
        let dead = dead_pid();
        let copy = |pid: u32| temp_copy(f.dir(), pid);
        // Killed between its fsync and its rename.
        let gone = copy(dead);
        fs::write(&gone, b"[]").unwrap();
        // A live writer's copy (this test's parent process stands in for one), this
        // process's own, and names that are not temporary copies.
        let parent = copy(std::os::unix::process::parent_id());
        fs::write(&parent, b"[]").unwrap();
        let own = copy(std::process::id());
        fs::write(&own, b"[]").unwrap();
        let others = [".cli-sessions.json.x.abc.tmp", ".cli-sessions.json.1.zz.tmp", "cli-sessions.json.1.ab.tmp"];
        for o in others {
            fs::write(f.dir().join(o), b"").unwrap();
        }
        f.update(&live(&["r"]), |rows| join_refresh(rows, "a", "r", "/p", "/p", None, T1)).unwrap();
        assert!(!gone.exists(), "a gone writer's copy is removed");
        assert!(parent.exists() && own.exists(), "copies of existing pids stay");
        assert!(others.iter().all(|o| f.dir().join(o).exists()));
        assert_eq!(f.read().len(), 1);
    }

    #[test]
    fn temporary_copy_names_carry_the_pid() {
        assert_eq!(parse_temp_copy(".cli-sessions.json.42.0123456789abcdef0123456789abcdef.tmp"), Some(42));
        for other in [
            ".cli-sessions.json.lock.42-1.abcd.tmp",
            ".cli-sessions.json.42..tmp",
            ".cli-sessions.json.42.abc",
            "cli-sessions.json",
            ".cli-sessions.json.corrupt-1.tmp",
        ] {
            assert_eq!(parse_temp_copy(other), None, "{other}");
        }
    }

    #[test]
    fn side_directory_names_carry_pid_and_start_time() {
        let path = side_dir(Path::new("/d"), 1_700_000_000);
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(parse_side_dir(&name), Some((i64::from(std::process::id()), 1_700_000_000)));
        for other in [".cli-sessions.json.lock", ".cli-sessions.json.lock.x.tmp", ".cli-sessions.json.1.abc.tmp"] {
            assert_eq!(parse_side_dir(other), None, "{other}");
        }
    }

    #[test]
    fn a_lock_taken_after_a_long_wait_is_young() {
        let (_t, f) = file();
        let lock = f.lock_path();
        // A held lock, released after 1.2 s: the waiter's staged lock is older by then.
        fs::create_dir(&lock).unwrap();
        let held = lock.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1200));
            fs::remove_dir(&held).unwrap();
        });
        let age = f
            .update_with(&live(&["r"]), |_| {
                SystemTime::now().duration_since(fs::metadata(&lock).unwrap().modified().unwrap()).unwrap_or_default()
            })
            .unwrap();
        releaser.join().unwrap();
        assert!(age < Duration::from_millis(500), "the lock's age starts when it was taken: {age:?}");
    }

    #[test]
    fn concurrent_updates_lose_no_row() {
        let (_t, f) = file();
        let threads = 8;
        let per_thread = 15;
        let all: HashSet<String> = (0..threads).map(|t| format!("room-{t}")).collect();
        std::thread::scope(|s| {
            for t in 0..threads {
                let f = f.clone();
                let all = &all;
                s.spawn(move || {
                    for i in 0..per_thread {
                        let room = format!("room-{t}");
                        let agent = format!("agent-{i}");
                        f.update(all, |rows| join_refresh(rows, &agent, &room, "/p", "/p", Some(i), T1)).unwrap();
                        f.update(all, |rows| {
                            record_cursor(rows, &agent, &room, i + 100, T2);
                        })
                        .unwrap();
                    }
                });
            }
        });
        let rows = f.read();
        assert_eq!(rows.len(), (threads as usize) * (per_thread as usize));
        assert!(rows.iter().all(|r| r.event_cursor_seq.unwrap() >= 100));
    }
}
