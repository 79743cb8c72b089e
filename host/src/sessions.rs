//! The CLI side file `cli-sessions.json` (cli.md §3): per-(agent, room) lease, guardian
//! and event cursor. The database stays authoritative.
//!
//! STUB: the signatures below are the contract the commands code against.

use crate::clock::Clock;
use crate::error::TtError;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One row (cli.md §3.2).
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

/// The side file of one data directory.
#[derive(Clone, Debug)]
pub struct SessionFile {
    path: PathBuf,
    clock: Clock,
}

impl SessionFile {
    /// `<data_dir>/cli-sessions.json`.
    pub fn new(data_dir: &Path, clock: Clock) -> Self {
        SessionFile { path: data_dir.join("cli-sessions.json"), clock }
    }

    /// Every row (robust read, cli.md §3.6). No lock.
    pub fn read(&self) -> Vec<SessionRow> {
        let _ = (&self.path, &self.clock);
        Vec::new()
    }

    /// Locked read-modify-write (cli.md §3.5); rows whose room is not in `live_rooms`
    /// are dropped. `f` edits the rows. Errors: `storage_error`.
    pub fn update(&self, _live_rooms: &HashSet<String>, f: impl FnOnce(&mut Vec<SessionRow>)) -> Result<(), TtError> {
        let mut rows = self.read();
        f(&mut rows);
        Ok(())
    }
}
