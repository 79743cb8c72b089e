//! Process identity and liveness (protocol.md §6): the only module that inspects
//! processes or sends signals. `Unknown` never counts as `Gone`.
//!
//! STUB: the signatures below are the contract the service codes against.

use crate::env::Env;
use crate::error::TtError;
use std::path::PathBuf;

/// A liveness verdict (protocol.md §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The recorded process runs.
    Alive,
    /// The recorded process provably ended.
    Gone,
    /// Nothing can be concluded (human, other host, undeterminable).
    Unknown,
}

impl Verdict {
    /// `"alive"`, `"gone"` or `"unknown"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Alive => "alive",
            Verdict::Gone => "gone",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A process reference `(host_id, boot_id, pid, started_at)` (protocol.md §6.1);
/// `started_at` in seconds since the epoch. Any part may be missing in a stored row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessRef {
    /// Host id (`TT_HOST_ID` or the host name).
    pub host_id: Option<String>,
    /// Boot id.
    pub boot_id: Option<String>,
    /// Process id.
    pub pid: Option<i64>,
    /// Start time, seconds since the epoch.
    pub started_at: Option<i64>,
}

/// The two process references stored on a member row (protocol.md §6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberProcesses {
    /// The row process (the process that last stamped the row).
    pub row: ProcessRef,
    /// The harness root process (harness identities only).
    pub harness: ProcessRef,
}

/// What `inspect(pid)` found (protocol.md §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inspection {
    /// No such pid, or a zombie.
    Missing,
    /// The process exists.
    Present {
        /// Start time, seconds since the epoch.
        started_at: i64,
        /// Parent pid, if known.
        parent_pid: Option<i64>,
        /// The command label of protocol.md §7.3 (basename of argv[0], `.exe`… removed,
        /// sanitized), if known.
        label: Option<String>,
    },
    /// The process exists but cannot be inspected, or inspection failed.
    Undeterminable,
}

/// The current machine: host id and boot id (protocol.md §6.1, `TT_HOST_ID`, `TT_BOOT_ID`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// `TT_HOST_ID` if non-blank, else the host name.
    pub host_id: String,
    /// `TT_BOOT_ID` if set (empty = unknown → None), else the OS boot id.
    pub boot_id: Option<String>,
}

impl Machine {
    /// Detect from the environment snapshot and the OS.
    pub fn detect(env: &Env) -> Machine {
        Machine { host_id: env.non_blank("TT_HOST_ID").unwrap_or("localhost").to_string(), boot_id: None }
    }
}

/// The liveness service of one process.
#[derive(Debug)]
pub struct Liveness {
    machine: Machine,
    _file: Option<PathBuf>,
}

impl Liveness {
    /// Build. Errors: `invalid_settings` for a malformed `TT_LIVENESS_FILE`.
    pub fn new(machine: Machine, liveness_file: Option<PathBuf>, _cache_ms: u64) -> Result<Self, TtError> {
        Ok(Liveness { machine, _file: liveness_file })
    }

    /// The current machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// §6.3 member verdict: step 0 (`TT_LIVENESS_FILE`) then steps 1–8.
    pub fn member_verdict(&mut self, _agent_id: &str, _procs: &MemberProcesses) -> Verdict {
        Verdict::Unknown
    }

    /// §6.3 steps 2–8 for one reference (no liveness file).
    pub fn process_verdict(&mut self, _r: &ProcessRef) -> Verdict {
        Verdict::Unknown
    }

    /// §6.3 step 0 only: the liveness file's verdict for `agent_id`.
    pub fn file_verdict(&mut self, _agent_id: &str) -> Option<Verdict> {
        None
    }

    /// Inspect `pid` (cached for `liveness_cache_ms`).
    pub fn inspect(&mut self, _pid: i64) -> Inspection {
        Inspection::Undeterminable
    }

    /// The reference of a running process on this machine, or None.
    pub fn current_process(&mut self, _pid: i64) -> Option<ProcessRef> {
        None
    }

    /// §6.4: SIGTERM only if `pid` runs on this host and boot with exactly `started_at`.
    pub fn terminate_known_process(&mut self, _pid: i64, _started_at: i64) -> bool {
        false
    }

    /// Send `SIGTERM` (or `SIGKILL` when `kill`) to a child this process spawned.
    pub fn signal_child(&mut self, _pid: i64, _kill: bool) -> bool {
        false
    }
}
