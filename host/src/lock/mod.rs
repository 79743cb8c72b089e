//! The host-local state lock (host-lock.md §4–§10): `<data_dir>/host.lock` names the one
//! machine whose processes may write the data directory. Any number of processes of that
//! machine proceed; a process of another host name is refused writes (and runs reads
//! read-only) until the lock is healed.
//!
//! * [`check`] is the lock check of §5.2, run once per command after the filesystem
//!   refusal and before the database is opened. Its cost on the normal path (a fresh lock
//!   naming this host) is one `open` + `fstat` + `read` of a file of about 200 bytes; a
//!   writing command adds one `utimensat` at most once a minute per host (§4.3).
//! * A foreign lock is judged by the `host-lock` policy slot through the staged decision
//!   loop of §6.3 ([`decide`]). The host enforces the rails G1–G4 whatever module fills
//!   the slot: **a pid recorded in a foreign lock is probed only after the policy asked for
//!   it on facts whose locality is `local`**, and with auto-heal off nothing is probed at
//!   all (the hard invariant; see docs/ARCHITECTURE.md).
//! * Heals replace the lock by the atomic takeover of §7.2 (pre-unlink comparison,
//!   `unlink`, `O_EXCL` create, post-write verification): among concurrent healers exactly
//!   one wins.
//! * Every change and every refusal of a writing command is appended to the audit log
//!   `<data_dir>/logs/host-lock.jsonl` (§10), a plain file that is safe to append to even
//!   in a directory another host owns.
//!
//! Time is a parameter (`now`, epoch ms on the protocol clock): the module reads no
//! clock, so every path is reproducible with an injected time. Test hooks arrive as
//! values in [`LockHooks`]; the module reads no environment variable.

mod file;

use crate::clock::iso8601;
use crate::error::{ErrorCode, TtError};
use crate::liveness::{self, SignalProbe};
use crate::policy::{Policies, Slot};
use serde_json::{Value, json};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use stick_policy::types as n;

pub use file::{LockRead, LockRecord, Snapshot, read_lock};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "host.lock";
/// A heartbeat at least this old (ms) is stale (§2; exactly 300 000 is stale).
pub const STALE_AFTER_MS: u64 = 300_000;
/// A lock naming this host is touched when its heartbeat is at least this old (ms), or
/// more than this far in the future (§4.3).
pub const TOUCH_AFTER_MS: u64 = 60_000;
/// The guardian's lock tick (ms, §4.3).
pub const TICK_EVERY_MS: u64 = 60_000;
/// At most this many policy calls per decision (§6.3 G4).
const MAX_DECISION_CALLS: usize = 3;
/// The guidance of a `host_lock_conflict` (§8.1).
pub const CONFLICT_HINT: &str =
    "verify that no other machine uses this directory, then run `tt guards heal-lock --force`";
/// Added to [`CONFLICT_HINT`] for a dry-run `would_heal` (§8.1).
pub const DRY_RUN_HINT_SUFFIX: &str = " or set `host_lock_dry_run` to false";

/// This machine as the lock sees it (§4.2): the host name decides same host vs foreign;
/// the machine id recognises a rename; the boot id is informational. The machine id is
/// read lazily (only a creation, an upgrade check or a foreign lock needs it).
#[derive(Clone, Debug)]
pub struct ThisHost {
    /// `TT_HOST_ID`, else `gethostname(2)` (the host id of protocol.md §6.1).
    pub hostname: String,
    /// The boot id (`TT_BOOT_ID`, else the kernel's), `None` when unknown.
    pub boot_id: Option<String>,
    /// This process.
    pub pid: i64,
    machine_id_hook: Option<String>,
    machine_id: OnceCell<Option<String>>,
}

impl ThisHost {
    /// Facts of this host. `machine_id_hook` is the value of `TT_MACHINE_ID` when set
    /// (the empty string means unknown); `None` reads `/etc/machine-id` on first use.
    pub fn new(hostname: String, machine_id_hook: Option<String>, boot_id: Option<String>, pid: i64) -> Self {
        ThisHost { hostname, boot_id, pid, machine_id_hook, machine_id: OnceCell::new() }
    }

    /// This machine id: `TT_MACHINE_ID`, else `/etc/machine-id`, trimmed; `None` when
    /// missing, unreadable, empty or longer than 128 characters (§4.1).
    pub fn machine_id(&self) -> Option<&str> {
        self.machine_id
            .get_or_init(|| match &self.machine_id_hook {
                Some(v) => normalize_id(v),
                None => std::fs::read_to_string("/etc/machine-id").ok().and_then(|s| normalize_id(&s)),
            })
            .as_deref()
    }
}

/// A machine or boot id as the lock keeps it: trimmed, `None` when empty or longer than
/// 128 characters (§4.1).
pub fn normalize_id(raw: &str) -> Option<String> {
    let t = raw.trim();
    (!t.is_empty() && t.chars().count() <= 128).then(|| t.to_string())
}

/// Test hooks of host-lock.md §12, resolved by the CLI.
#[derive(Clone, Debug, Default)]
pub struct LockHooks {
    /// `TT_MOUNT_SOURCE`: replaces the `df` probe; `!df-failed` means the probe failed.
    pub mount_source: Option<String>,
    /// `TT_PIDS_ALIVE` (set, even empty): replaces `kill(pid, 0)`; listed pids are alive.
    pub pids_alive: Option<Vec<i64>>,
    /// `TT_PROBE_LOG`: one line per mount probe and per pid probe.
    pub probe_log: Option<PathBuf>,
    /// `TT_TEST_HEAL_BARRIER`: the barrier of §7.2 step 3.
    pub heal_barrier: Option<PathBuf>,
}

impl LockHooks {
    /// Parse `TT_PIDS_ALIVE`: comma-separated pids; blanks and non-numbers are ignored.
    pub fn parse_pids(value: &str) -> Vec<i64> {
        value.split(',').filter_map(|p| p.trim().parse::<i64>().ok()).collect()
    }
}

/// Everything the lock check needs, resolved by the CLI.
#[derive(Clone, Debug)]
pub struct LockConfig {
    /// The data directory (as configured; `host.lock` lives in it).
    pub data_dir: PathBuf,
    /// This machine.
    pub this: ThisHost,
    /// Setting `host_lock_auto_heal`.
    pub auto_heal: bool,
    /// Setting `host_lock_dry_run`.
    pub dry_run: bool,
    /// The filesystem type name of §3 (the `fs_type` input of §6.1), if known.
    pub fs_type: Option<String>,
    /// Test hooks.
    pub hooks: LockHooks,
}

impl LockConfig {
    /// `<data_dir>/host.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.data_dir.join(LOCK_FILE)
    }

    /// `<data_dir>/logs/host-lock.jsonl`.
    pub fn audit_path(&self) -> PathBuf {
        self.data_dir.join("logs").join("host-lock.jsonl")
    }
}

/// How a command uses the database (§5.1): writing commands run the full check and may
/// create, replace, touch or heal the lock; reading commands (and `tt guards`) only read
/// it and run read-only under a foreign lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A writing command.
    Write,
    /// A reading command, or the observation of `tt guards`.
    Read,
}

/// How a check that let the command use the database ended (§5.2, §9 `outcome`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proceed {
    /// A writer created the lock.
    Created,
    /// No lock, and a reader does not create one.
    Absent,
    /// The lock names this host.
    SameHost,
    /// A same-host lock without a machine id was rewritten with full content.
    Upgraded,
    /// A corrupt lock was replaced by a writer.
    ReplacedCorrupt,
    /// A corrupt lock, left alone by a reader.
    Corrupt,
    /// A foreign lock written by this machine under its old name was taken over.
    HealedRename,
    /// A stale foreign lock was taken over by auto-heal.
    HealedStale,
    /// `tt guards heal-lock --force` took the lock over.
    Forced,
}

impl Proceed {
    /// The JSON spelling (§9).
    pub fn as_str(self) -> &'static str {
        match self {
            Proceed::Created => "created",
            Proceed::Absent => "absent",
            Proceed::SameHost => "same_host",
            Proceed::Upgraded => "upgraded",
            Proceed::ReplacedCorrupt => "replaced_corrupt",
            Proceed::Corrupt => "corrupt",
            Proceed::HealedRename => "healed_rename",
            Proceed::HealedStale => "healed_stale",
            Proceed::Forced => "forced",
        }
    }
}

/// A final answer about a foreign lock (§6.2 output, after the loop of §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Equal machine ids: heal at once.
    HealRename,
    /// Local, pid dead or absent, heartbeat stale: heal.
    HealStale,
    /// As `HealStale`, but dry run: change nothing.
    WouldHeal,
    /// Stay foreign.
    Conflict,
}

impl Decision {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::HealRename => "heal_rename",
            Decision::HealStale => "heal_stale",
            Decision::WouldHeal => "would_heal",
            Decision::Conflict => "conflict",
        }
    }

    /// Whether the next writing command heals (rename, or stale heal without dry run).
    pub fn heals(self) -> bool {
        matches!(self, Decision::HealRename | Decision::HealStale)
    }
}

/// The decision loop's result with what it gathered (§8.1 `fs_local`, `pid_dead`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The decision.
    pub decision: Decision,
    /// The policy's reason, or `policy_fault` / `lost_takeover_race`.
    pub reason: String,
    /// `Some(locality == local)` once locality was gathered.
    pub fs_local: Option<bool>,
    /// `Some(dead or no pid)` once the pid state was gathered.
    pub pid_dead: Option<bool>,
}

impl Decided {
    fn fault() -> Decided {
        Decided { decision: Decision::Conflict, reason: "policy_fault".into(), fs_local: None, pid_dead: None }
    }
}

/// A lock naming another host that stays in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// The lock as read.
    pub record: LockRecord,
    /// `now − mtime` (ms, ≥ 0), `None` when the mtime could not be read.
    pub heartbeat_age_ms: Option<u64>,
    /// Why it stays (or, for a reader, what the next writer would do).
    pub decided: Decided,
}

/// What the lock check found (the `host_lock` state of a command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockState {
    /// The command may use the database normally.
    Owned {
        /// How the check ended.
        outcome: Proceed,
        /// The lock as it is now (`None` when absent or corrupt).
        record: Option<LockRecord>,
        /// Its heartbeat age as read (ms), before any touch.
        heartbeat_age_ms: Option<u64>,
    },
    /// The lock names another host (reads only: a writing command gets an error).
    Foreign(Foreign),
    /// `host.lock` exists but cannot be read (reads only).
    Unreadable(String),
}

impl LockState {
    /// Whether a reading command must run read-only (§8.2).
    pub fn read_only(&self) -> bool {
        !matches!(self, LockState::Owned { .. })
    }

    /// The `host_lock` field a reading command adds under a foreign (or unreadable) lock
    /// (§8.2), `None` when the command runs normally.
    pub fn notice(&self, this_hostname: &str) -> Option<Value> {
        match self {
            LockState::Owned { .. } => None,
            LockState::Foreign(f) => Some(json!({
                "state": "foreign",
                "lock_hostname": f.record.hostname,
                "this_hostname": this_hostname,
                "heartbeat_age_ms": f.heartbeat_age_ms,
                "decision": f.decided.decision.as_str(),
                "reason": f.decided.reason,
                "read_only": true,
            })),
            LockState::Unreadable(why) => Some(json!({
                "state": "unreadable",
                "lock_hostname": null,
                "this_hostname": this_hostname,
                "heartbeat_age_ms": null,
                "decision": null,
                "reason": why,
                "read_only": true,
            })),
        }
    }

    /// The one `warning:` line of a reading command in text mode (§8.2).
    pub fn warning_line(&self, this_hostname: &str) -> Option<String> {
        match self {
            LockState::Owned { .. } => None,
            LockState::Foreign(f) => Some(format!(
                "warning: the data directory belongs to host {}, not this host {this_hostname} (heartbeat {}, \
                 decision {}, {}); running read-only",
                f.record.hostname,
                age_phrase(f.heartbeat_age_ms),
                f.decided.decision.as_str(),
                f.decided.reason
            )),
            LockState::Unreadable(why) => Some(format!("warning: cannot read host.lock ({why}); running read-only")),
        }
    }
}

/// `6m 0s ago`, `12s ago`, `2h 5m ago`; `unknown` when the age is unknown.
pub fn age_phrase(age_ms: Option<u64>) -> String {
    match age_ms {
        Some(ms) => format!("{} ago", duration_words(ms)),
        None => "age unknown".into(),
    }
}

/// A duration in the two largest units: `45s`, `6m 0s`, `2h 5m`, `3d 4h`.
pub fn duration_words(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3600, (s % 3600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3600)
    }
}

/// The heartbeat age of a lock whose mtime is `mtime_ms` at `now` (§2): negative ages
/// count as 0; `None` when the mtime is unknown.
pub fn heartbeat_age(mtime_ms: Option<i64>, now: u64) -> Option<u64> {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    mtime_ms.map(|m| u64::try_from(now.saturating_sub(m)).unwrap_or(0))
}

/// Whether a lock naming this host needs a touch (§4.3): the heartbeat is at least
/// 60 000 ms old or more than 60 000 ms in the future (or its mtime is unknown).
pub fn touch_due(mtime_ms: Option<i64>, now: u64) -> bool {
    let Some(m) = mtime_ms else { return true };
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let delta = now.saturating_sub(m);
    !(-60_000..60_000).contains(&delta)
}

/// Whether a heartbeat age is stale (§2): ≥ 300 000 ms, or unknown.
pub fn is_stale(age_ms: Option<u64>) -> bool {
    age_ms.is_none_or(|a| a >= STALE_AFTER_MS)
}

/// The lock check of §5.2, once per command, after the filesystem refusal and before the
/// database is opened. `now` is the protocol time (epoch ms).
///
/// * [`Access::Write`]: creates an absent lock, replaces a corrupt one (after the
///   re-reads of a lock being written), upgrades a same-host lock without machine id,
///   touches a same-host lock when due, heals a foreign lock the policy says to heal.
///   Returns [`LockState::Owned`] only.
/// * [`Access::Read`]: changes nothing and never creates, replaces or touches; a
///   foreign lock still runs the decision loop (probes within the rails included) so that
///   the result says what the next writer would do. Returns any [`LockState`].
///
/// Errors (writers only): `host_lock_conflict` (exit 1, §8.1) when the lock stays foreign;
/// `storage_error` when `host.lock` cannot be read or written.
pub fn check(cfg: &LockConfig, access: Access, policies: &mut Policies, now: u64) -> Result<LockState, TtError> {
    let path = cfg.lock_path();
    for _attempt in 0..2 {
        let snap = match read_lock(&path) {
            LockRead::Absent if access == Access::Read => {
                return Ok(LockState::Owned { outcome: Proceed::Absent, record: None, heartbeat_age_ms: None });
            }
            LockRead::Absent => match file::create(cfg, now) {
                Ok(record) => {
                    audit(cfg, now, "host_lock_created", None, None, None);
                    return Ok(LockState::Owned {
                        outcome: Proceed::Created,
                        record: Some(record),
                        heartbeat_age_ms: Some(0),
                    });
                }
                // Someone created it meanwhile: start again from step 1, once.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_error(&path, &e)),
            },
            LockRead::Unreadable(why) if access == Access::Read => return Ok(LockState::Unreadable(why)),
            LockRead::Unreadable(why) => {
                return Err(TtError::storage(format!("cannot read the host lock `{}`: {why}", path.display())));
            }
            LockRead::Present(snap) => file::settle(&path, snap, now),
        };
        let age = heartbeat_age(snap.mtime_ms, now);
        let Some(record) = snap.record.clone() else {
            if access == Access::Read {
                return Ok(LockState::Owned { outcome: Proceed::Corrupt, record: None, heartbeat_age_ms: age });
            }
            let record = file::replace(cfg, now).map_err(|e| write_error(&path, &e))?;
            audit(cfg, now, "host_lock_corrupt_replaced", None, age, None);
            return Ok(LockState::Owned {
                outcome: Proceed::ReplacedCorrupt,
                record: Some(record),
                heartbeat_age_ms: age,
            });
        };
        if record.hostname == cfg.this.hostname {
            return same_host(cfg, access, record, &snap, now);
        }
        let decided = decide(cfg, &record, age, policies);
        let foreign = Foreign { record, heartbeat_age_ms: age, decided };
        if access == Access::Read {
            return Ok(LockState::Foreign(foreign));
        }
        return heal_or_refuse(cfg, foreign, &snap, now);
    }
    Err(TtError::storage(format!("the host lock `{}` keeps appearing and disappearing; try again", path.display())))
}

fn same_host(
    cfg: &LockConfig,
    access: Access,
    record: LockRecord,
    snap: &Snapshot,
    now: u64,
) -> Result<LockState, TtError> {
    let age = heartbeat_age(snap.mtime_ms, now);
    if access == Access::Read {
        return Ok(LockState::Owned { outcome: Proceed::SameHost, record: Some(record), heartbeat_age_ms: age });
    }
    if record.machine_id.is_none() && cfg.this.machine_id().is_some() {
        let path = cfg.lock_path();
        let new = file::replace(cfg, now).map_err(|e| write_error(&path, &e))?;
        audit(cfg, now, "host_lock_upgraded", Some(&record), age, None);
        return Ok(LockState::Owned { outcome: Proceed::Upgraded, record: Some(new), heartbeat_age_ms: age });
    }
    if touch_due(snap.mtime_ms, now) {
        // Best effort: a failed touch only lets the heartbeat age.
        let _ = file::touch(&cfg.lock_path(), now);
    }
    Ok(LockState::Owned { outcome: Proceed::SameHost, record: Some(record), heartbeat_age_ms: age })
}

fn heal_or_refuse(cfg: &LockConfig, mut foreign: Foreign, snap: &Snapshot, now: u64) -> Result<LockState, TtError> {
    let path = cfg.lock_path();
    let age = foreign.heartbeat_age_ms;
    match foreign.decided.decision {
        Decision::HealRename | Decision::HealStale => {
            match file::takeover(cfg, Some(&snap.bytes), now).map_err(|e| write_error(&path, &e))? {
                file::Takeover::Won(record) => {
                    let (event, outcome) = if foreign.decided.decision == Decision::HealRename {
                        ("host_lock_rename_healed", Proceed::HealedRename)
                    } else {
                        ("host_lock_auto_healed", Proceed::HealedStale)
                    };
                    audit(cfg, now, event, Some(&foreign.record), age, Some(&foreign.decided));
                    Ok(LockState::Owned { outcome, record: Some(record), heartbeat_age_ms: age })
                }
                file::Takeover::Lost => {
                    foreign.decided.decision = Decision::Conflict;
                    foreign.decided.reason = "lost_takeover_race".into();
                    audit(cfg, now, "host_lock_takeover_lost", Some(&foreign.record), age, Some(&foreign.decided));
                    Err(conflict_error(cfg, &foreign))
                }
            }
        }
        Decision::WouldHeal => {
            audit(cfg, now, "host_lock_would_auto_heal", Some(&foreign.record), age, Some(&foreign.decided));
            Err(conflict_error(cfg, &foreign))
        }
        Decision::Conflict => {
            audit(cfg, now, "host_lock_foreign", Some(&foreign.record), age, Some(&foreign.decided));
            Err(conflict_error(cfg, &foreign))
        }
    }
}

fn write_error(path: &Path, e: &std::io::Error) -> TtError {
    TtError::storage(format!("cannot write the host lock `{}`: {e}", path.display()))
}

/// What `tt guards heal-lock --force` did (§9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ForceOutcome {
    /// An absent or same-host lock: handled as without `--force`.
    Checked(LockState),
    /// A foreign, corrupt or unreadable lock was taken over.
    Forced {
        /// The lock that was replaced (`None` when it was corrupt or unreadable).
        previous: Option<LockRecord>,
        /// The new lock.
        record: LockRecord,
    },
}

/// `tt guards heal-lock --force` (§9): an absent or same-host lock goes through
/// [`check`] as a writer; a foreign, corrupt or unreadable lock is taken over at once by
/// §7.2 without its step 1, without probes and without a policy call (the operator
/// vouches that no other machine uses the directory). The caller has applied the
/// filesystem refusal of §3 before.
///
/// Errors: `host_lock_conflict` with reason `lost_takeover_race` when another process won
/// the takeover; `storage_error` when the lock cannot be written.
pub fn force_heal(cfg: &LockConfig, policies: &mut Policies, now: u64) -> Result<ForceOutcome, TtError> {
    let path = cfg.lock_path();
    let (previous, age) = match read_lock(&path) {
        LockRead::Absent => return check(cfg, Access::Write, policies, now).map(ForceOutcome::Checked),
        LockRead::Present(snap) => match &snap.record {
            Some(r) if r.hostname == cfg.this.hostname => {
                return check(cfg, Access::Write, policies, now).map(ForceOutcome::Checked);
            }
            other => (other.clone(), heartbeat_age(snap.mtime_ms, now)),
        },
        LockRead::Unreadable(_) => (None, None),
    };
    let forced = Decided { decision: Decision::Conflict, reason: "forced".into(), fs_local: None, pid_dead: None };
    match file::takeover(cfg, None, now).map_err(|e| write_error(&path, &e))? {
        file::Takeover::Won(record) => {
            // No policy was asked (§9): the audit line carries no decision and no reason.
            audit(cfg, now, "host_lock_force_healed", previous.as_ref(), age, None);
            Ok(ForceOutcome::Forced { previous, record })
        }
        file::Takeover::Lost => {
            let lost = Decided { reason: "lost_takeover_race".into(), ..forced };
            audit(cfg, now, "host_lock_takeover_lost", previous.as_ref(), age, Some(&lost));
            let record = match read_lock(&path) {
                LockRead::Present(Snapshot { record: Some(r), .. }) => r,
                _ => previous.unwrap_or_else(|| LockRecord::named("unknown")),
            };
            Err(conflict_error(cfg, &Foreign { record, heartbeat_age_ms: age, decided: lost }))
        }
    }
}

/// The guardian's lock tick (§4.3): touch the lock when it names this host and the
/// heartbeat is due. Nothing else: no creation, no heal, no audit; a foreign lock is not
/// touched. Returns whether the lock was touched.
pub fn tick(cfg: &LockConfig, now: u64) -> bool {
    match read_lock(&cfg.lock_path()) {
        LockRead::Present(Snapshot { record: Some(r), mtime_ms, .. })
            if r.hostname == cfg.this.hostname && touch_due(mtime_ms, now) =>
        {
            file::touch(&cfg.lock_path(), now).is_ok()
        }
        _ => false,
    }
}

/// The decision loop of §6.3 for a foreign lock, with the host's rails:
///
/// * **G1** a pid is probed only when the call that asked for it had `locality = local`;
/// * **G2** the mount probe runs only when `auto_heal` is true;
/// * **G3** a heal is accepted only inside the safety envelope (equal known machine ids
///   for a rename; auto-heal on, dry run off, local, pid dead or absent, heartbeat stale
///   or unknown for a stale heal);
/// * **G4** each `need_*` answer asks for a fact not gathered yet, at most 3 calls.
///
/// A violation, a fault of `decide-foreign-lock` or an `unknown` answer keeps the lock
/// foreign with reason `policy_fault` (recorded and warned once, policy-core.md §4.1).
/// A fault of `classify-mount-source` yields its fallback `unknown`.
pub fn decide(cfg: &LockConfig, record: &LockRecord, age: Option<u64>, policies: &mut Policies) -> Decided {
    decide_with(cfg, record, age, policies)
}

/// Where the decision loop gets its answers: the `host-lock` policy slot in production,
/// a scripted (possibly rogue) judge in the rail tests.
pub trait Judge {
    /// `decide-foreign-lock`; `None` is a fault (already recorded by the judge).
    fn decide(&mut self, facts: &n::ForeignLockFacts) -> Option<n::LockDecision>;
    /// `classify-mount-source` (a fault gives the fallback `unknown`).
    fn classify(&mut self, facts: &n::MountFacts) -> n::MountVerdict;
    /// Record a rail violation as a fault of `decide-foreign-lock`.
    fn violation(&mut self, why: &str);
}

impl Judge for Policies {
    fn decide(&mut self, facts: &n::ForeignLockFacts) -> Option<n::LockDecision> {
        self.decide_foreign_lock(facts).ok()
    }

    fn classify(&mut self, facts: &n::MountFacts) -> n::MountVerdict {
        self.classify_mount_source(facts)
    }

    fn violation(&mut self, why: &str) {
        self.record_fault(Slot::HostLock, "decide-foreign-lock", why);
    }
}

/// [`decide`] with any [`Judge`]: the loop and its rails, independent of the policy
/// runtime.
pub fn decide_with(cfg: &LockConfig, record: &LockRecord, age: Option<u64>, judge: &mut dyn Judge) -> Decided {
    let mut facts = n::ForeignLockFacts {
        lock_hostname: record.hostname.clone(),
        this_hostname: cfg.this.hostname.clone(),
        lock_machine_id: record.machine_id.clone(),
        this_machine_id: cfg.this.machine_id().map(str::to_string),
        auto_heal: cfg.auto_heal,
        dry_run: cfg.dry_run,
        heartbeat_age_ms: age,
        locality: n::GatheredLocality::NotGathered,
        pid_state: n::PidState::NotGathered,
    };
    let mut gathered = Decided::fault();
    // A fault keeps what was gathered (§8.1: `fs_local` and `pid_dead` report the facts).
    let violation = |judge: &mut dyn Judge, gathered: &Decided, why: &str| {
        judge.violation(why);
        gathered.clone()
    };
    for _call in 0..MAX_DECISION_CALLS {
        let Some(answer) = judge.decide(&facts) else {
            return gathered;
        };
        let verdict =
            |decision, gathered: &Decided| Decided { decision, reason: answer.reason.clone(), ..gathered.clone() };
        match answer.decision {
            n::LockDecisionKind::NeedLocality => {
                if !facts.auto_heal {
                    return violation(judge, &gathered, "asked for the mount probe with auto-heal off (rail G2)");
                }
                if facts.locality != n::GatheredLocality::NotGathered {
                    return violation(judge, &gathered, "asked for locality twice (rail G4)");
                }
                let source = mount_probe(cfg);
                let mount = judge.classify(&n::MountFacts { source, fs_type: cfg.fs_type.clone() });
                facts.locality = match mount.locality {
                    n::Locality::Local => n::GatheredLocality::Local,
                    n::Locality::Network => n::GatheredLocality::Network,
                    n::Locality::Unknown => n::GatheredLocality::Unknown,
                };
                gathered.fs_local = Some(facts.locality == n::GatheredLocality::Local);
            }
            n::LockDecisionKind::NeedPidProbe => {
                // G1, the hard invariant: never probe a foreign pid unless locality is proven.
                if facts.locality != n::GatheredLocality::Local {
                    return violation(
                        judge,
                        &gathered,
                        "asked for a pid probe before locality was proven local (rail G1)",
                    );
                }
                if facts.pid_state != n::PidState::NotGathered {
                    return violation(judge, &gathered, "asked for the pid probe twice (rail G4)");
                }
                facts.pid_state = pid_probe(cfg, record.pid);
                gathered.pid_dead = Some(matches!(facts.pid_state, n::PidState::Dead | n::PidState::NoPid));
            }
            n::LockDecisionKind::HealRename => {
                let equal = facts.lock_machine_id.as_deref().and_then(normalize_id).is_some()
                    && facts.lock_machine_id.as_deref().and_then(normalize_id)
                        == facts.this_machine_id.as_deref().and_then(normalize_id);
                if !equal {
                    return violation(judge, &gathered, "answered heal_rename without equal machine ids (rail G3)");
                }
                return verdict(Decision::HealRename, &gathered);
            }
            n::LockDecisionKind::HealStale => {
                let inside = facts.auto_heal
                    && !facts.dry_run
                    && facts.locality == n::GatheredLocality::Local
                    && matches!(facts.pid_state, n::PidState::Dead | n::PidState::NoPid)
                    && is_stale(facts.heartbeat_age_ms);
                if !inside {
                    return violation(judge, &gathered, "answered heal_stale outside the safety envelope (rail G3)");
                }
                return verdict(Decision::HealStale, &gathered);
            }
            n::LockDecisionKind::WouldHeal => return verdict(Decision::WouldHeal, &gathered),
            n::LockDecisionKind::Conflict => return verdict(Decision::Conflict, &gathered),
            n::LockDecisionKind::Unknown => return violation(judge, &gathered, "answered unknown"),
        }
    }
    violation(judge, &gathered, "asked for more facts after 3 calls (rail G4)")
}

/// The mount probe of §6.4: the `TT_MOUNT_SOURCE` hook (`!df-failed` = failed) or `df`;
/// logged to `TT_PROBE_LOG` either way.
fn mount_probe(cfg: &LockConfig) -> Option<String> {
    probe_log(cfg, &format!("mount-probe {}", cfg.data_dir.display()));
    match cfg.hooks.mount_source.as_deref() {
        Some("!df-failed") => None,
        Some(source) => Some(source.to_string()),
        None => crate::fscheck::mount_source(&cfg.data_dir),
    }
}

/// The pid probe of §6.4: `no_pid` without a pid (nothing probed or logged); otherwise
/// the `TT_PIDS_ALIVE` hook or `kill(pid, 0)`, logged to `TT_PROBE_LOG`.
fn pid_probe(cfg: &LockConfig, pid: Option<i64>) -> n::PidState {
    let Some(pid) = pid.filter(|p| *p > 0) else { return n::PidState::NoPid };
    probe_log(cfg, &format!("pid-probe {pid}"));
    if let Some(alive) = &cfg.hooks.pids_alive {
        return if alive.contains(&pid) { n::PidState::Alive } else { n::PidState::Dead };
    }
    match liveness::signal_zero(pid) {
        SignalProbe::Alive => n::PidState::Alive,
        SignalProbe::Dead => n::PidState::Dead,
        SignalProbe::Unknown => n::PidState::Unknown,
    }
}

fn probe_log(cfg: &LockConfig, line: &str) {
    if let Some(log) = &cfg.hooks.probe_log {
        let _ = file::append_line(log, line);
    }
}

/// The `host_lock_conflict` error of §8.1 (exit 1), with every detail field and the hint
/// both on its own line (text) and as the `hint` field (JSON).
pub fn conflict_error(cfg: &LockConfig, f: &Foreign) -> TtError {
    let dir = cfg.data_dir.display().to_string();
    let would = f.decided.decision == Decision::WouldHeal;
    let mut message = format!(
        "the data directory `{dir}` belongs to host `{}`, not to this host `{}`",
        f.record.hostname, cfg.this.hostname
    );
    let mut hint = CONFLICT_HINT.to_string();
    if would {
        message.push_str(" (dry run: it would have been healed)");
        hint.push_str(DRY_RUN_HINT_SUFFIX);
    }
    let decision = if would { "would_heal" } else { "conflict" };
    TtError::new(ErrorCode::HostLockConflict, message)
        .with("data_dir", dir)
        .with("lock_path", cfg.lock_path().display().to_string())
        .with("lock_hostname", f.record.hostname.clone())
        .with("this_hostname", cfg.this.hostname.clone())
        .with("lock_machine_id", f.record.machine_id.clone())
        .with("this_machine_id", cfg.this.machine_id().map(str::to_string))
        .with("lock_boot_id", f.record.boot_id.clone())
        .with("lock_pid", f.record.pid)
        .with("lock_created_at", f.record.created_at.clone())
        .with("heartbeat_age_ms", f.heartbeat_age_ms)
        .with("heartbeat_stale", is_stale(f.heartbeat_age_ms))
        .with("decision", decision)
        .with("reason", f.decided.reason.clone())
        .with("fs_local", f.decided.fs_local)
        .with("pid_dead", f.decided.pid_dead)
        .with("hint", hint.clone())
        .hint(hint)
}

/// Append one audit line (§10). Write failures are ignored.
fn audit(
    cfg: &LockConfig,
    now: u64,
    event: &str,
    previous: Option<&LockRecord>,
    age: Option<u64>,
    decided: Option<&Decided>,
) {
    let line = json!({
        "ts": iso8601(now),
        "event": event,
        "this_hostname": cfg.this.hostname,
        "this_machine_id": cfg.this.machine_id(),
        "lock_hostname": previous.map(|r| r.hostname.clone()),
        "lock_machine_id": previous.and_then(|r| r.machine_id.clone()),
        "lock_pid": previous.and_then(|r| r.pid),
        "heartbeat_age_ms": age,
        "decision": decided.map(|d| d.decision.as_str()),
        "reason": decided.map(|d| d.reason.clone()),
        "fs_local": decided.and_then(|d| d.fs_local),
        "pid_dead": decided.and_then(|d| d.pid_dead),
        "pid": cfg.this.pid,
    });
    file::append_audit(&cfg.audit_path(), &line.to_string());
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn lock_touch_and_staleness_boundaries() {
        let now = 1_790_000_000_000u64;
        let at = |delta: i64| Some(i64::try_from(now).unwrap() - delta);
        assert!(!touch_due(at(59_999), now));
        assert!(touch_due(at(60_000), now));
        assert!(!touch_due(at(-60_000), now), "60 s in the future is not due");
        assert!(touch_due(at(-60_001), now));
        assert!(touch_due(None, now));
        assert_eq!(heartbeat_age(at(-5_000), now), Some(0), "a future mtime is age 0");
        assert_eq!(heartbeat_age(at(360_000), now), Some(360_000));
        assert!(!is_stale(Some(299_999)));
        assert!(is_stale(Some(300_000)));
        assert!(is_stale(None));
    }

    /// A scripted judge: answers in order, counts violations, classifies as `local`.
    struct Scripted {
        answers: Vec<n::LockDecisionKind>,
        seen: Vec<n::ForeignLockFacts>,
        violations: Vec<String>,
    }

    impl Judge for Scripted {
        fn decide(&mut self, facts: &n::ForeignLockFacts) -> Option<n::LockDecision> {
            self.seen.push(facts.clone());
            let kind = if self.answers.is_empty() { n::LockDecisionKind::Conflict } else { self.answers.remove(0) };
            Some(n::LockDecision { decision: kind, reason: "scripted".into() })
        }
        fn classify(&mut self, _facts: &n::MountFacts) -> n::MountVerdict {
            n::MountVerdict { locality: n::Locality::Unknown, reason: "scripted".into() }
        }
        fn violation(&mut self, why: &str) {
            self.violations.push(why.into());
        }
    }

    fn rails_cfg(dir: &Path, auto_heal: bool) -> LockConfig {
        LockConfig {
            data_dir: dir.to_path_buf(),
            this: ThisHost::new("current-host".into(), Some("11".into()), None, 1),
            auto_heal,
            dry_run: false,
            fs_type: Some("ext4".into()),
            hooks: LockHooks {
                mount_source: Some("overlay".into()),
                pids_alive: Some(Vec::new()),
                probe_log: Some(dir.join("probes.log")),
                heal_barrier: None,
            },
        }
    }

    #[test]
    fn lock_rails_hold_against_a_rogue_module() {
        use n::LockDecisionKind as K;
        let tmp = tempfile::tempdir().unwrap();
        let record = LockRecord { pid: Some(99_999), machine_id: Some("22".into()), ..LockRecord::named("old-host") };
        let probes = || std::fs::read_to_string(tmp.path().join("probes.log")).unwrap_or_default();
        let run = |auto_heal: bool, answers: Vec<K>| {
            let mut judge = Scripted { answers, seen: Vec::new(), violations: Vec::new() };
            let d = decide_with(&rails_cfg(tmp.path(), auto_heal), &record, Some(400_000), &mut judge);
            (d, judge)
        };
        // G1, the hard invariant: a pid probe asked for before locality is proven local.
        let (d, j) = run(true, vec![K::NeedPidProbe]);
        assert_eq!((d.decision, d.reason.as_str(), j.violations.len()), (Decision::Conflict, "policy_fault", 1));
        assert!(!probes().contains("pid-probe"), "{}", probes());
        // …and after locality came back `unknown` (overlay): still no pid probe.
        let (d, j) = run(true, vec![K::NeedLocality, K::NeedPidProbe]);
        assert_eq!((d.reason.as_str(), d.fs_local, j.violations.len()), ("policy_fault", Some(false), 1));
        assert!(!probes().contains("pid-probe"), "{}", probes());
        // G2: no mount probe with auto-heal off.
        let _ = std::fs::remove_file(tmp.path().join("probes.log"));
        let (d, j) = run(false, vec![K::NeedLocality]);
        assert_eq!((d.reason.as_str(), j.violations.len()), ("policy_fault", 1));
        assert_eq!(probes(), "", "auto-heal off probes nothing");
        // G3: heals outside the envelope.
        let (d, _) = run(true, vec![K::HealRename]);
        assert_eq!(d.reason, "policy_fault");
        let (d, _) = run(false, vec![K::HealStale]);
        assert_eq!(d.reason, "policy_fault");
        // G4: the same fact twice, and more than three calls.
        let (d, _) = run(true, vec![K::NeedLocality, K::NeedLocality]);
        assert_eq!(d.reason, "policy_fault");
        let (_, j) = run(true, vec![K::NeedLocality, K::Conflict]);
        assert_eq!((j.seen.len(), j.violations.len()), (2, 0));
        // `unknown` is a fault too.
        let (d, _) = run(true, vec![K::Unknown]);
        assert_eq!(d.reason, "policy_fault");
    }

    #[test]
    fn lock_ids_and_words() {
        assert_eq!(normalize_id(" abc \n").as_deref(), Some("abc"));
        assert_eq!(normalize_id("  "), None);
        assert_eq!(normalize_id(&"a".repeat(129)), None);
        assert_eq!(normalize_id(&"a".repeat(128)).map(|s| s.len()), Some(128));
        assert_eq!(duration_words(360_000), "6m 0s");
        assert_eq!(duration_words(12_345), "12s");
        assert_eq!(duration_words(7_500_000), "2h 5m");
        assert_eq!(LockHooks::parse_pids(""), Vec::<i64>::new());
        assert_eq!(LockHooks::parse_pids("1, 2,x,,99999"), vec![1, 2, 99999]);
        let this = ThisHost::new("h".into(), Some(String::new()), None, 1);
        assert_eq!(this.machine_id(), None, "an empty TT_MACHINE_ID means unknown");
    }
}
