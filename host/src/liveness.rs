//! Process identity and liveness (protocol.md §6): the only module that inspects
//! processes or sends signals. `Unknown` never counts as `Gone`.
//!
//! Process inspection goes through `sysinfo`, refreshing only the one pid asked about
//! (never the whole process table), with `kill(pid, 0)` confirming an absence
//! (§6.2). Results are cached per pid for `liveness_cache_ms` (§6.5). The member
//! verdict of §6.3 is the pure function [`decide`] over a reference, the current
//! [`Machine`] and an inspection; [`Liveness`] wires it to the real process table and
//! to the `TT_LIVENESS_FILE` test hook (§4.2).

use crate::env::Env;
use crate::error::{ErrorCode, TtError};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};

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

    /// Parse `"alive"`, `"gone"` or `"unknown"` (exact, lowercase), as the values of
    /// `TT_LIVENESS_FILE` are read (protocol.md §4.2); anything else is `None`.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "alive" => Some(Verdict::Alive),
            "gone" => Some(Verdict::Gone),
            "unknown" => Some(Verdict::Unknown),
            _ => None,
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

impl ProcessRef {
    /// Whether both `pid` and `started_at` are set, i.e. the reference names a process
    /// at all (protocol.md §6.3 step 2, §8.3 rule 1).
    pub fn is_complete(&self) -> bool {
        self.pid.is_some() && self.started_at.is_some()
    }
}

/// The two process references stored on a member row (protocol.md §6.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberProcesses {
    /// The row process (the process that last stamped the row).
    pub row: ProcessRef,
    /// The harness root process (harness identities only).
    pub harness: ProcessRef,
}

impl MemberProcesses {
    /// The reference the verdict follows (protocol.md §6.3 step 1): the harness process
    /// when `harness.pid` and `harness.started_at` are both set, with host
    /// `harness.host_id ?? row.host_id` and boot `harness.boot_id ?? row.boot_id`;
    /// otherwise the row process (#29: liveness follows the harness root first).
    pub fn reference(&self) -> ProcessRef {
        let h = &self.harness;
        if h.is_complete() {
            ProcessRef {
                host_id: h.host_id.clone().or_else(|| self.row.host_id.clone()),
                boot_id: h.boot_id.clone().or_else(|| self.row.boot_id.clone()),
                pid: h.pid,
                started_at: h.started_at,
            }
        } else {
            self.row.clone()
        }
    }
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
    /// Detect from the environment snapshot and the OS (protocol.md §6.1, §4.2;
    /// host-lock.md §12):
    /// * `host_id` = `TT_HOST_ID` if non-blank (verbatim), else the host name
    ///   (`gethostname(2)`), else `localhost`;
    /// * `boot_id` = `TT_BOOT_ID` if set (trimmed; blank = unknown → `None`), else on
    ///   Linux `/proc/sys/kernel/random/boot_id` (trimmed), elsewhere
    ///   `boot:<boot time in s>`; `None` when unavailable.
    pub fn detect(env: &Env) -> Machine {
        let host_id = env.non_blank("TT_HOST_ID").map_or_else(host_name, str::to_string);
        let boot_id = match env.get("TT_BOOT_ID") {
            Some(v) => non_blank_trimmed(v),
            None => os_boot_id(),
        };
        Machine { host_id, boot_id }
    }
}

fn non_blank_trimmed(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// This machine's host name: `gethostname(2)`, else the `uname` node name.
fn host_name() -> String {
    System::host_name()
        .ok()
        .and_then(|h| non_blank_trimmed(&h))
        .or_else(|| non_blank_trimmed(&rustix::system::uname().nodename().to_string_lossy()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The kernel boot id (protocol.md §6.1).
#[cfg(target_os = "linux")]
fn os_boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().and_then(|s| non_blank_trimmed(&s))
}

/// `boot:<boot time in seconds>` (protocol.md §6.1 "elsewhere"). On macOS the spec asks
/// for the `kern.bootsessionuuid` sysctl, which needs `unsafe` FFI this crate forbids;
/// the boot time (itself a sysctl, `kern.boottime`) identifies a boot just as well.
#[cfg(not(target_os = "linux"))]
fn os_boot_id() -> Option<String> {
    System::boot_time().ok().filter(|t| *t > 0).map(|t| format!("boot:{t}"))
}

/// `sanitize(s)` of protocol.md §7.5: lowercase, every maximal run of characters
/// outside `[a-z0-9]` replaced by one `-`, leading and trailing `-` removed; `anon` if
/// the result is empty. Used for user names (§7.5, §7.6) and command labels (§7.3).
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else {
            pending_dash = true;
        }
    }
    if out.is_empty() { "anon".to_string() } else { out }
}

/// The command label of protocol.md §7.3 from the first element of a process's
/// argument vector (or its process name when the vector is empty): the basename
/// (after the last `/` or `\`), a trailing `.exe`, `.cmd` or `.bat` removed
/// (case-insensitively), then [`sanitize`]d. E.g. `/usr/local/bin/codex` → `codex`,
/// `C:\Tools\Claude.EXE` → `claude`, `-bash` → `bash`.
pub fn command_label(argv0: &str) -> String {
    let base = argv0.rsplit(['/', '\\']).next().unwrap_or(argv0);
    let stem = base
        .len()
        .checked_sub(4)
        .and_then(|cut| {
            let suffix = base.get(cut..)?;
            [".exe", ".cmd", ".bat"].iter().any(|s| suffix.eq_ignore_ascii_case(s)).then(|| base.get(..cut))?
        })
        .unwrap_or(base);
    sanitize(stem)
}

/// The liveness decision of protocol.md §6.3 steps 2–8 for one reference, as a pure
/// function: `inspect` is called (at most once, with the recorded pid) only when steps
/// 2–4 did not already decide.
///
/// 2. `pid` or `started_at` null → `Unknown`;
/// 3. host null or not `machine.host_id` → `Unknown`;
/// 4. recorded boot set, current boot known, different → `Gone`;
/// 5. `Undeterminable` → `Unknown`, `Missing` → `Gone`;
/// 6. observed start == recorded → `Alive`; 7. later → `Gone`; 8. earlier → `Unknown`.
pub fn decide(r: &ProcessRef, machine: &Machine, inspect: impl FnOnce(i64) -> Inspection) -> Verdict {
    let (Some(pid), Some(recorded)) = (r.pid, r.started_at) else { return Verdict::Unknown };
    if r.host_id.as_deref() != Some(machine.host_id.as_str()) {
        return Verdict::Unknown;
    }
    if let (Some(rec_boot), Some(cur_boot)) = (&r.boot_id, &machine.boot_id)
        && rec_boot != cur_boot
    {
        return Verdict::Gone;
    }
    judge(&inspect(pid), recorded)
}

/// §6.3 steps 5–8: what an inspection says about a process recorded as started at
/// `recorded` (s). `Undeterminable` → `Unknown`, `Missing` → `Gone`; observed start ==
/// recorded → `Alive`, later → `Gone` (the pid was reused), earlier → `Unknown`.
fn judge(found: &Inspection, recorded: i64) -> Verdict {
    match found {
        Inspection::Undeterminable => Verdict::Unknown,
        Inspection::Missing => Verdict::Gone,
        Inspection::Present { started_at: observed, .. } => match observed.cmp(&recorded) {
            Ordering::Equal => Verdict::Alive,
            Ordering::Greater => Verdict::Gone,
            Ordering::Less => Verdict::Unknown,
        },
    }
}

/// Parse the content of a `TT_LIVENESS_FILE` (protocol.md §4.2): a JSON object mapping
/// agent ids to `"alive"`, `"gone"` or `"unknown"`. Errors: a one-phrase reason when
/// the text is not such an object.
pub fn parse_liveness_map(text: &str) -> Result<BTreeMap<String, Verdict>, String> {
    let shape = "must be a JSON object mapping agent ids to \"alive\", \"gone\" or \"unknown\"";
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else { return Err(shape.to_string()) };
    map.into_iter()
        .map(|(k, v)| match v.as_str().and_then(Verdict::parse) {
            Some(verdict) => Ok((k, verdict)),
            None => Err(format!("{shape}; the value for `{k}` is {v}")),
        })
        .collect()
}

/// Read a liveness file: missing → empty mapping; unreadable or malformed → the reason.
fn read_liveness_file(path: &Path) -> Result<BTreeMap<String, Verdict>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_liveness_map(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

/// The `TT_LIVENESS_FILE` hook: the last good mapping and when the file was last read.
#[derive(Debug)]
struct LivenessFile {
    path: PathBuf,
    map: BTreeMap<String, Verdict>,
    read_at: Instant,
}

impl LivenessFile {
    /// Re-read when the last read is `ttl` old or older; a malformed re-read keeps the
    /// previous mapping (§4.2), a missing file is an empty mapping.
    fn refresh(&mut self, ttl: Duration) {
        if self.read_at.elapsed() < ttl {
            return;
        }
        if let Ok(map) = read_liveness_file(&self.path) {
            self.map = map;
        }
        self.read_at = Instant::now();
    }
}

/// A positive pid that fits the OS type, or `None`.
fn os_pid(pid: i64) -> Option<rustix::process::Pid> {
    i32::try_from(pid).ok().filter(|p| *p > 0).and_then(rustix::process::Pid::from_raw)
}

/// This process's start time (s since the epoch, §6.1), read fresh, so that a file this
/// process owns can name it exactly (`cli-sessions.json.lock`, cli.md §3.5). `None` when
/// it cannot be inspected.
pub fn own_start_time() -> Option<i64> {
    match probe_uncached(i64::from(std::process::id()), Detail::StartOnly) {
        Inspection::Present { started_at, .. } => Some(started_at),
        Inspection::Missing | Inspection::Undeterminable => None,
    }
}

/// §6.3 steps 5–8 for a process of this host and boot, probed fresh (no cache): `Gone`
/// when `pid` is missing or now belongs to a process started later than `started_at`
/// (s), `Alive` on an exact match, `Unknown` otherwise. Used to judge the holder named by
/// a session lock (cli.md §3.5); `Unknown` never counts as `Gone`.
pub fn local_verdict(pid: i64, started_at: i64) -> Verdict {
    judge(&probe_uncached(pid, Detail::StartOnly), started_at)
}

/// What `kill(pid, 0)` says about a pid recorded in a foreign host lock
/// (host-lock.md §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignalProbe {
    /// The call succeeded, or failed with `EPERM` (a live process of another user).
    Alive,
    /// `ESRCH`: no such process.
    Dead,
    /// Any other failure; never counts as dead.
    Unknown,
}

/// `kill(pid, 0)` for the pid of a foreign host lock (host-lock.md §6.4): `ESRCH` is
/// [`SignalProbe::Dead`], success or `EPERM` [`SignalProbe::Alive`]. A pid ≤ 0 or beyond
/// the OS range is never passed to `kill` and gives [`SignalProbe::Unknown`]. The caller
/// (the `lock` module) calls this only after locality is proven (the hard invariant of
/// host-lock.md §6.3 G1); this module only performs the probe.
pub fn signal_zero(pid: i64) -> SignalProbe {
    let Some(os) = os_pid(pid) else { return SignalProbe::Unknown };
    match rustix::process::test_kill_process(os) {
        Ok(()) | Err(rustix::io::Errno::PERM) => SignalProbe::Alive,
        Err(rustix::io::Errno::SRCH) => SignalProbe::Dead,
        Err(_) => SignalProbe::Unknown,
    }
}

/// The process table of this process, shared by every [`Prober`]: `System::new` reads the
/// boot time from `/proc/stat`, which a short command would otherwise pay once per prober
/// (its liveness service, then [`own_start_time`] for the session lock; docs/PERFORMANCE.md).
/// It only ever holds the pids asked about.
static SYSTEM: std::sync::Mutex<Option<System>> = std::sync::Mutex::new(None);

/// The uncached prober (over the shared [`SYSTEM`], refreshing only the pids asked about)
/// and the per-pid cache of §6.5.
struct Prober {
    cache: HashMap<i64, (Inspection, Instant)>,
    ttl: Duration,
}

/// How many cache entries trigger a sweep of expired ones (a guardian runs for hours).
const CACHE_SWEEP_AT: usize = 256;

impl Prober {
    /// A prober with an empty cache whose entries live `ttl`.
    fn new(ttl: Duration) -> Prober {
        Prober { cache: HashMap::new(), ttl }
    }

    fn inspect(&mut self, pid: i64) -> Inspection {
        if let Some((found, at)) = self.cache.get(&pid)
            && at.elapsed() < self.ttl
        {
            return found.clone();
        }
        self.probe(pid)
    }

    /// Inspect `pid` now, bypassing (and then updating) the cache.
    fn probe(&mut self, pid: i64) -> Inspection {
        let found = probe_uncached(pid, Detail::WithLabel);
        if self.cache.len() >= CACHE_SWEEP_AT {
            let ttl = self.ttl;
            self.cache.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        self.cache.insert(pid, (found.clone(), Instant::now()));
        found
    }

    fn forget(&mut self, pid: i64) {
        self.cache.remove(&pid);
    }
}

/// How much of a process [`probe_uncached`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Start time, parent and state (`/proc/<pid>/stat`), plus the command line for the
    /// inspection's label: what the §6.5 cache holds.
    WithLabel,
    /// Without the command line (one `/proc` file fewer): for the exact-identity checks
    /// that compare only the start time. The label is then the process name.
    StartOnly,
}

/// Inspect `pid` now through the shared [`SYSTEM`], without any cache (§6.2).
fn probe_uncached(pid: i64, detail: Detail) -> Inspection {
    let Some(os) = os_pid(pid) else { return Inspection::Undeterminable };
    let Ok(raw) = u32::try_from(os.as_raw_pid()) else { return Inspection::Undeterminable };
    let mut shared = SYSTEM.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if shared.is_none() {
        *shared = System::new().ok();
    }
    let Some(system) = shared.as_mut() else { return Inspection::Undeterminable };
    let spid = sysinfo::Pid::from_u32(raw);
    // Only this pid, only `stat` (start time, parent, state) and, for a label, `cmdline`:
    // no tasks, no memory, no CPU, no user lookups. Dead entries are dropped from the list.
    let kind = match detail {
        Detail::WithLabel => ProcessRefreshKind::nothing().without_tasks().with_cmd(UpdateKind::Always),
        Detail::StartOnly => ProcessRefreshKind::nothing().without_tasks(),
    };
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[spid]), true, kind);
    match system.process(spid) {
        Some(p) if matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead) => Inspection::Missing,
        Some(p) => {
            let Some(started_at) = i64::try_from(p.start_time()).ok().filter(|s| *s > 0) else {
                return Inspection::Undeterminable;
            };
            let argv0 = match p.cmd().first() {
                Some(a) => a.to_string_lossy(),
                None => p.name().to_string_lossy(),
            };
            let label = (!argv0.trim().is_empty()).then(|| command_label(&argv0));
            Inspection::Present { started_at, parent_pid: p.parent().map(|pp| i64::from(pp.as_u32())), label }
        }
        // Not listed: confirm the absence so that a restricted `/proc` view never
        // produces a false `missing` (§6.2).
        None => match rustix::process::test_kill_process(os) {
            Err(rustix::io::Errno::SRCH) => Inspection::Missing,
            _ => Inspection::Undeterminable,
        },
    }
}

/// The liveness service of one process.
pub struct Liveness {
    machine: Machine,
    file: Option<LivenessFile>,
    prober: Prober,
}

impl fmt::Debug for Liveness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Liveness")
            .field("machine", &self.machine)
            .field("file", &self.file)
            .field("cache_ms", &self.prober.ttl.as_millis())
            .field("cached", &self.prober.cache.len())
            .finish()
    }
}

impl Liveness {
    /// Build. `liveness_file` is the `TT_LIVENESS_FILE` path (the caller passes `None`
    /// when it is unset or blank); it is read now: a missing file is an empty mapping.
    /// `cache_ms` is `liveness_cache_ms` (§6.5): the lifetime of a cached inspection and
    /// the interval after which the liveness file is re-read.
    ///
    /// Errors: `invalid_settings` (exit 2, details `source: "TT_LIVENESS_FILE"`,
    /// `key: null`) for a liveness file that cannot be read or is not a JSON object of
    /// `alive`/`gone`/`unknown` strings (protocol.md §4.2).
    pub fn new(machine: Machine, liveness_file: Option<PathBuf>, cache_ms: u64) -> Result<Self, TtError> {
        let file = match liveness_file {
            None => None,
            Some(path) => {
                let map = read_liveness_file(&path).map_err(|why| {
                    TtError::new(ErrorCode::InvalidSettings, format!("invalid TT_LIVENESS_FILE: {why}"))
                        .with("source", "TT_LIVENESS_FILE")
                        .with("key", Value::Null)
                })?;
                Some(LivenessFile { path, map, read_at: Instant::now() })
            }
        };
        let ttl = Duration::from_millis(cache_ms);
        Ok(Liveness { machine, file, prober: Prober::new(ttl) })
    }

    /// The current machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// §6.3 member verdict: step 0 (`TT_LIVENESS_FILE`) then steps 1–8 on
    /// [`MemberProcesses::reference`].
    pub fn member_verdict(&mut self, agent_id: &str, procs: &MemberProcesses) -> Verdict {
        match self.file_verdict(agent_id) {
            Some(v) => v,
            None => self.process_verdict(&procs.reference()),
        }
    }

    /// §6.3 steps 2–8 for one reference (no liveness file); see [`decide`].
    pub fn process_verdict(&mut self, r: &ProcessRef) -> Verdict {
        decide(r, &self.machine, |pid| self.prober.inspect(pid))
    }

    /// §6.4's guardian-liveness check: steps 2–8 for `pid` started at `started_at` (s),
    /// taking host and boot to be the current ones.
    pub fn local_process_verdict(&mut self, pid: i64, started_at: i64) -> Verdict {
        let r = ProcessRef {
            host_id: Some(self.machine.host_id.clone()),
            boot_id: self.machine.boot_id.clone(),
            pid: Some(pid),
            started_at: Some(started_at),
        };
        self.process_verdict(&r)
    }

    /// §6.3 step 0 only: the liveness file's verdict for `agent_id`, `None` when there is
    /// no file or it does not list the agent. The file is re-read when the last read is
    /// at least `liveness_cache_ms` old; a malformed re-read keeps the previous mapping.
    pub fn file_verdict(&mut self, agent_id: &str) -> Option<Verdict> {
        let file = self.file.as_mut()?;
        file.refresh(self.prober.ttl);
        file.map.get(agent_id).copied()
    }

    /// Inspect `pid` (§6.2), cached for `liveness_cache_ms` from when the probe
    /// completed (§6.5). A pid ≤ 0 or beyond the OS range is `Undeterminable`.
    pub fn inspect(&mut self, pid: i64) -> Inspection {
        self.prober.inspect(pid)
    }

    /// The reference of a running process on this machine (current host id and boot
    /// id, `pid`, start time in s), or `None` if it is not present or cannot be inspected.
    pub fn current_process(&mut self, pid: i64) -> Option<ProcessRef> {
        match self.inspect(pid) {
            Inspection::Present { started_at, .. } => Some(ProcessRef {
                host_id: Some(self.machine.host_id.clone()),
                boot_id: self.machine.boot_id.clone(),
                pid: Some(pid),
                started_at: Some(started_at),
            }),
            Inspection::Missing | Inspection::Undeterminable => None,
        }
    }

    /// The pid of this process.
    pub fn own_pid(&self) -> i64 {
        i64::from(std::process::id())
    }

    /// The parent pid of this process (`getppid`), `None` when the parent is outside
    /// this pid namespace (ppid 0).
    pub fn parent_pid(&self) -> Option<i64> {
        rustix::process::getppid().map(|p| i64::from(p.as_raw_pid()))
    }

    /// §6.4: SIGTERM only if `pid` runs on this host and boot with exactly `started_at`
    /// (s), checked with a fresh probe (never the cache). Returns whether the signal was
    /// sent: false for a missing, reused, zombie or uninspectable pid, for pid ≤ 1 or
    /// this process, and on any error. On Linux the process is pinned with a pidfd
    /// before its start time is checked, so a pid reused in between is never signalled.
    pub fn terminate_known_process(&mut self, pid: i64, started_at: i64) -> bool {
        let Some(os) = os_pid(pid).filter(|_| pid > 1 && pid != self.own_pid()) else { return false };
        #[cfg(target_os = "linux")]
        let pinned = match rustix::process::pidfd_open(os, rustix::process::PidfdFlags::empty()) {
            Ok(fd) => Some(fd),
            Err(rustix::io::Errno::SRCH) => return false,
            Err(_) => None,
        };
        // Whatever the cache held about `pid` is stale from here on.
        self.prober.forget(pid);
        let matches = matches!(probe_uncached(pid, Detail::StartOnly), Inspection::Present { started_at: s, .. } if s == started_at);
        if !matches {
            return false;
        }
        #[cfg(target_os = "linux")]
        if let Some(fd) = pinned {
            return rustix::process::pidfd_send_signal(&fd, rustix::process::Signal::TERM).is_ok();
        }
        rustix::process::kill_process(os, rustix::process::Signal::TERM).is_ok()
    }

    /// Send `SIGTERM` (or `SIGKILL` when `kill`) to a child this process spawned (the
    /// guardian READY timeout, protocol.md §16.2). Returns whether the signal was sent;
    /// false for pid ≤ 1, this process, or any error.
    pub fn signal_child(&mut self, pid: i64, kill: bool) -> bool {
        let Some(os) = os_pid(pid).filter(|_| pid > 1 && pid != self.own_pid()) else { return false };
        self.prober.forget(pid);
        let signal = if kill { rustix::process::Signal::KILL } else { rustix::process::Signal::TERM };
        rustix::process::kill_process(os, signal).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn machine() -> Machine {
        Machine { host_id: "h1".into(), boot_id: Some("boot-a".into()) }
    }

    fn reference(host: Option<&str>, boot: Option<&str>, pid: Option<i64>, started: Option<i64>) -> ProcessRef {
        ProcessRef { host_id: host.map(Into::into), boot_id: boot.map(Into::into), pid, started_at: started }
    }

    fn present(started_at: i64) -> Inspection {
        Inspection::Present { started_at, parent_pid: Some(1), label: Some("x".into()) }
    }

    /// Decide with a fixed inspection; `None` asserts that inspection is not reached.
    fn decide_with(r: &ProcessRef, m: &Machine, found: Option<Inspection>) -> Verdict {
        decide(r, m, |pid| {
            assert_eq!(Some(pid), r.pid);
            found.clone().expect("inspection must not be reached")
        })
    }

    #[test]
    fn verdict_table_steps_2_to_8() {
        let m = machine();
        let full = |started| reference(Some("h1"), Some("boot-a"), Some(42), Some(started));
        // Step 2: null pid or start time.
        assert_eq!(decide_with(&reference(Some("h1"), Some("boot-a"), None, Some(100)), &m, None), Verdict::Unknown);
        assert_eq!(decide_with(&reference(Some("h1"), Some("boot-a"), Some(42), None), &m, None), Verdict::Unknown);
        assert_eq!(decide_with(&ProcessRef::default(), &m, None), Verdict::Unknown);
        // Step 3: null or other host, even with a different boot.
        assert_eq!(decide_with(&reference(None, Some("boot-a"), Some(42), Some(100)), &m, None), Verdict::Unknown);
        assert_eq!(
            decide_with(&reference(Some("h2"), Some("boot-z"), Some(42), Some(100)), &m, None),
            Verdict::Unknown
        );
        // Step 4: rebooted.
        assert_eq!(decide_with(&reference(Some("h1"), Some("boot-b"), Some(42), Some(100)), &m, None), Verdict::Gone);
        // Step 4 skipped when either boot id is unknown.
        let no_boot = Machine { boot_id: None, ..machine() };
        assert_eq!(decide_with(&full(100), &no_boot, Some(present(100))), Verdict::Alive);
        assert_eq!(
            decide_with(&reference(Some("h1"), None, Some(42), Some(100)), &m, Some(present(100))),
            Verdict::Alive
        );
        // Step 5.
        assert_eq!(decide_with(&full(100), &m, Some(Inspection::Undeterminable)), Verdict::Unknown);
        assert_eq!(decide_with(&full(100), &m, Some(Inspection::Missing)), Verdict::Gone);
        // Steps 6–8.
        assert_eq!(decide_with(&full(100), &m, Some(present(100))), Verdict::Alive);
        assert_eq!(decide_with(&full(100), &m, Some(present(101))), Verdict::Gone);
        assert_eq!(decide_with(&full(100), &m, Some(present(99))), Verdict::Unknown);
    }

    #[test]
    fn step_1_prefers_a_complete_harness_reference() {
        let row = reference(Some("row-host"), Some("row-boot"), Some(10), Some(1000));
        // Complete harness reference, host and boot inherited from the row.
        let procs = MemberProcesses { row: row.clone(), harness: reference(None, None, Some(20), Some(2000)) };
        assert_eq!(procs.reference(), reference(Some("row-host"), Some("row-boot"), Some(20), Some(2000)));
        // Own host and boot win.
        let procs =
            MemberProcesses { row: row.clone(), harness: reference(Some("hh"), Some("hb"), Some(20), Some(2000)) };
        assert_eq!(procs.reference(), reference(Some("hh"), Some("hb"), Some(20), Some(2000)));
        // Incomplete harness reference → the row process.
        for harness in [reference(Some("hh"), None, Some(20), None), reference(Some("hh"), None, None, Some(2000))] {
            let procs = MemberProcesses { row: row.clone(), harness };
            assert_eq!(procs.reference(), row);
        }
        assert_eq!(MemberProcesses::default().reference(), ProcessRef::default());
    }

    #[test]
    fn sanitize_follows_7_5() {
        assert_eq!(sanitize("alice"), "alice");
        assert_eq!(sanitize("Alice Smith"), "alice-smith");
        assert_eq!(sanitize("--J.Doe__42--"), "j-doe-42");
        assert_eq!(sanitize("a...b"), "a-b");
        assert_eq!(sanitize(""), "anon");
        assert_eq!(sanitize("@@@"), "anon");
        assert_eq!(sanitize("ÉCOLE"), "cole");
        assert_eq!(sanitize("x\u{0}y"), "x-y");
    }

    #[test]
    fn command_labels_follow_7_3() {
        assert_eq!(command_label("/usr/local/bin/codex"), "codex");
        assert_eq!(command_label("claude"), "claude");
        assert_eq!(command_label("C:\\Tools\\Claude.EXE"), "claude");
        assert_eq!(command_label("gemini.cmd"), "gemini");
        assert_eq!(command_label("opencode.bat"), "opencode");
        assert_eq!(command_label("-bash"), "bash");
        assert_eq!(command_label("/opt/Claude Code"), "claude-code");
        assert_eq!(command_label("node.js"), "node-js");
        assert_eq!(command_label(".exe"), "anon");
        assert_eq!(command_label("dir/"), "anon");
        assert_eq!(command_label("é.exe"), "anon");
    }

    #[test]
    fn liveness_map_parsing() {
        let map = parse_liveness_map(r#"{"a:1":"alive","b":"gone","c":"unknown"}"#).unwrap();
        assert_eq!(map.get("a:1"), Some(&Verdict::Alive));
        assert_eq!(map.get("b"), Some(&Verdict::Gone));
        assert_eq!(map.get("c"), Some(&Verdict::Unknown));
        assert!(parse_liveness_map("{}").unwrap().is_empty());
        for bad in ["", "[]", "null", "\"alive\"", r#"{"a":"dead"}"#, r#"{"a":1}"#, r#"{"a":"ALIVE"}"#, "{"] {
            assert!(parse_liveness_map(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn verdict_strings_round_trip() {
        for v in [Verdict::Alive, Verdict::Gone, Verdict::Unknown] {
            assert_eq!(Verdict::parse(v.as_str()), Some(v));
        }
        assert_eq!(Verdict::parse("Alive"), None);
    }

    #[test]
    fn malformed_liveness_file_at_construction_is_invalid_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.json");
        std::fs::write(&path, r#"{"a":"maybe"}"#).unwrap();
        let err = Liveness::new(machine(), Some(path), 1000).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidSettings);
        assert_eq!(err.code.exit_code(), 2);
        assert_eq!(err.details.get("source"), Some(&Value::from("TT_LIVENESS_FILE")));
        assert_eq!(err.details.get("key"), Some(&Value::Null));
    }

    #[test]
    fn missing_liveness_file_is_an_empty_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Liveness::new(machine(), Some(dir.path().join("absent.json")), 1000).unwrap();
        assert_eq!(l.file_verdict("a"), None);
        let mut l = Liveness::new(machine(), None, 1000).unwrap();
        assert_eq!(l.file_verdict("a"), None);
    }

    #[test]
    fn liveness_file_is_reread_and_a_malformed_reread_keeps_the_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.json");
        std::fs::write(&path, r#"{"a":"alive"}"#).unwrap();
        // cache 0 ms: every lookup re-reads.
        let mut l = Liveness::new(machine(), Some(path.clone()), 0).unwrap();
        assert_eq!(l.file_verdict("a"), Some(Verdict::Alive));
        std::fs::write(&path, r#"{"a":"gone","b":"unknown"}"#).unwrap();
        assert_eq!(l.file_verdict("a"), Some(Verdict::Gone));
        assert_eq!(l.file_verdict("b"), Some(Verdict::Unknown));
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(l.file_verdict("a"), Some(Verdict::Gone));
        std::fs::write(&path, r#"{"a":"nope"}"#).unwrap();
        assert_eq!(l.file_verdict("b"), Some(Verdict::Unknown));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(l.file_verdict("a"), None);

        // A long cache: no re-read within the window.
        std::fs::write(&path, r#"{"a":"alive"}"#).unwrap();
        let mut l = Liveness::new(machine(), Some(path.clone()), 3_600_000).unwrap();
        std::fs::write(&path, r#"{"a":"gone"}"#).unwrap();
        assert_eq!(l.file_verdict("a"), Some(Verdict::Alive));
    }

    #[test]
    fn member_verdict_consults_the_file_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.json");
        std::fs::write(&path, r#"{"listed":"gone"}"#).unwrap();
        let mut l = Liveness::new(machine(), Some(path), 0).unwrap();
        let me = l.current_process(l.own_pid()).unwrap();
        let procs = MemberProcesses { row: me, harness: ProcessRef::default() };
        assert_eq!(l.member_verdict("listed", &procs), Verdict::Gone);
        assert_eq!(l.member_verdict("other", &procs), Verdict::Alive);
        // process_verdict never consults the file.
        assert_eq!(l.process_verdict(&procs.row), Verdict::Alive);
    }

    fn real() -> Liveness {
        Liveness::new(Machine::detect(&Env::default()), None, 1000).unwrap()
    }

    #[test]
    fn this_process_is_alive_with_a_stable_start_time() {
        let mut l = real();
        let pid = l.own_pid();
        let Inspection::Present { started_at, parent_pid, label } = l.inspect(pid) else {
            panic!("this process must be present")
        };
        assert!(started_at > 1_000_000_000, "{started_at}");
        assert_eq!(parent_pid, l.parent_pid());
        assert!(label.is_some());
        // Identical on every reading, cached or fresh.
        let mut fresh = real();
        assert!(matches!(fresh.inspect(pid), Inspection::Present { started_at: s, .. } if s == started_at));
        assert_eq!(l.local_process_verdict(pid, started_at), Verdict::Alive);
        assert_eq!(l.local_process_verdict(pid, started_at + 1), Verdict::Unknown);
        assert_eq!(l.local_process_verdict(pid, started_at - 1), Verdict::Gone);
        let me = l.current_process(pid).unwrap();
        assert_eq!(me.host_id.as_deref(), Some(l.machine().host_id.as_str()));
        assert_eq!(me.boot_id, l.machine().boot_id);
        assert_eq!(me.started_at, Some(started_at));
    }

    #[test]
    fn own_reference_is_unknown_on_another_host_and_gone_after_a_reboot() {
        let mut l = real();
        let me = l.current_process(l.own_pid()).unwrap();
        let other_host = ProcessRef { host_id: Some("elsewhere".into()), ..me.clone() };
        assert_eq!(l.process_verdict(&other_host), Verdict::Unknown);
        if l.machine().boot_id.is_some() {
            let rebooted = ProcessRef { boot_id: Some("another-boot".into()), ..me };
            assert_eq!(l.process_verdict(&rebooted), Verdict::Gone);
        }
    }

    #[test]
    fn a_reaped_child_is_gone_and_a_zombie_is_missing() {
        let mut l = Liveness::new(Machine::detect(&Env::default()), None, 0).unwrap();
        let mut child = Command::new("sleep").arg("30").stdin(Stdio::null()).spawn().unwrap();
        let pid = i64::from(child.id());
        let Inspection::Present { started_at, parent_pid, label } = l.inspect(pid) else { panic!("child must run") };
        assert_eq!(parent_pid, Some(l.own_pid()));
        assert_eq!(label.as_deref(), Some("sleep"));
        assert_eq!(l.local_process_verdict(pid, started_at), Verdict::Alive);
        // A zombie (killed, not yet reaped) counts as missing.
        assert!(l.signal_child(pid, true));
        let deadline = Instant::now() + Duration::from_secs(10);
        while l.inspect(pid) != Inspection::Missing && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(l.inspect(pid), Inspection::Missing);
        child.wait().unwrap();
        assert_eq!(l.inspect(pid), Inspection::Missing);
        assert_eq!(l.local_process_verdict(pid, started_at), Verdict::Gone);
    }

    #[test]
    fn terminate_known_process_needs_the_exact_start_time() {
        let mut l = Liveness::new(Machine::detect(&Env::default()), None, 0).unwrap();
        let mut child = Command::new("sleep").arg("30").stdin(Stdio::null()).spawn().unwrap();
        let pid = i64::from(child.id());
        let Inspection::Present { started_at, .. } = l.inspect(pid) else { panic!("child must run") };
        assert!(!l.terminate_known_process(pid, started_at - 1));
        assert!(!l.terminate_known_process(pid, started_at + 1));
        assert!(child.try_wait().unwrap().is_none(), "a wrong start time must not be signalled");
        assert!(l.terminate_known_process(pid, started_at));
        let status = child.wait().unwrap();
        assert!(!status.success());
        // Gone now: nothing is signalled any more.
        assert!(!l.terminate_known_process(pid, started_at));
    }

    #[test]
    fn signal_zero_reads_esrch_as_dead_only() {
        assert_eq!(signal_zero(i64::from(std::process::id())), SignalProbe::Alive);
        // pid 1 belongs to another user or to us: alive either way (EPERM counts as alive).
        assert_eq!(signal_zero(1), SignalProbe::Alive);
        for pid in [0, -1, i64::from(i32::MAX) + 1] {
            assert_eq!(signal_zero(pid), SignalProbe::Unknown, "{pid}");
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        assert_eq!(signal_zero(pid), SignalProbe::Dead);
    }

    #[test]
    fn invalid_pids_are_never_inspected_or_signalled() {
        let mut l = real();
        for pid in [0, -1, -42, i64::from(i32::MAX) + 1] {
            assert_eq!(l.inspect(pid), Inspection::Undeterminable, "{pid}");
            assert!(!l.terminate_known_process(pid, 1), "{pid}");
            assert!(!l.signal_child(pid, false), "{pid}");
        }
        assert!(!l.terminate_known_process(1, 1));
        let own = l.own_pid();
        let Inspection::Present { started_at, .. } = l.inspect(own) else { panic!("self must be present") };
        assert!(!l.terminate_known_process(own, started_at));
    }

    #[test]
    fn an_unused_pid_is_missing() {
        let mut l = real();
        // pid_max is at most 2^22 on Linux; a pid above it cannot exist.
        assert_eq!(l.inspect(i64::from(i32::MAX)), Inspection::Missing);
    }

    #[test]
    fn inspections_are_cached_for_the_cache_window() {
        let mut l = Liveness::new(Machine::detect(&Env::default()), None, 3_600_000).unwrap();
        let mut child = Command::new("sleep").arg("30").stdin(Stdio::null()).spawn().unwrap();
        let pid = i64::from(child.id());
        let first = l.inspect(pid);
        assert!(matches!(first, Inspection::Present { .. }));
        child.kill().unwrap();
        child.wait().unwrap();
        // Still the cached reading; a fresh service sees the truth.
        assert_eq!(l.inspect(pid), first);
        assert_eq!(real().inspect(pid), Inspection::Missing);
    }

    #[test]
    fn machine_detection_honours_the_hooks() {
        let env = |pairs: &[(&str, &str)]| Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let m = Machine::detect(&env(&[("TT_HOST_ID", "test-host"), ("TT_BOOT_ID", "b-1")]));
        assert_eq!(m, Machine { host_id: "test-host".into(), boot_id: Some("b-1".into()) });
        let m = Machine::detect(&env(&[("TT_HOST_ID", "test-host"), ("TT_BOOT_ID", "")]));
        assert_eq!(m.boot_id, None);
        let m = Machine::detect(&env(&[("TT_HOST_ID", "  ")]));
        assert!(!m.host_id.trim().is_empty());
        assert_ne!(m.host_id, "  ");
        #[cfg(target_os = "linux")]
        {
            let m = Machine::detect(&env(&[]));
            let expected =
                std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string());
            assert_eq!(m.boot_id, expected);
        }
    }
}
