//! Identity derivation (protocol.md §7): `--agent`, `TT_HARNESS_AGENT_ID`, harness
//! environment markers, process ancestry, the human fallback, and the guardian identity.
//!
//! Everything here is computed from the [`Env`] snapshot and from what the
//! [`Liveness`] service reports about processes (this module never inspects a process
//! itself). The decision procedure runs over a small private `ProcessView` trait so
//! that the unit tests can drive it with a fake process tree.

use crate::env::Env;
use crate::error::TtError;
use crate::liveness::{Inspection, Liveness, Machine, ProcessRef};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use crate::liveness::{command_label, sanitize};

/// The metadata recorded on a member row (protocol.md §8.3, cli.md §4.1): the row
/// process and, for harness identities, the harness root. Start times in seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProcessMetadata {
    /// `human_cli`, `harness_cli` or `human_guardian`.
    pub session_kind: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Row process host id.
    pub host_id: Option<String>,
    /// Row process boot id.
    pub boot_id: Option<String>,
    /// Row process pid.
    pub pid: Option<i64>,
    /// Row process start time (s).
    pub process_started_at: Option<i64>,
    /// Harness name (`claude`, `codex`, …).
    pub harness_name: Option<String>,
    /// Resolved session id (`harness:…`, `pid:…`, `term:…`, `userhost:…`).
    pub harness_session_id: Option<String>,
    /// Harness root host id.
    pub harness_host_id: Option<String>,
    /// Harness root boot id.
    pub harness_boot_id: Option<String>,
    /// Harness root pid.
    pub harness_pid: Option<i64>,
    /// Harness root start time (s).
    pub harness_process_started_at: Option<i64>,
}

impl ProcessMetadata {
    /// The row process as a reference (protocol.md §6.1).
    pub fn row_process(&self) -> ProcessRef {
        ProcessRef {
            host_id: self.host_id.clone(),
            boot_id: self.boot_id.clone(),
            pid: self.pid,
            started_at: self.process_started_at,
        }
    }

    /// The harness process as a reference (protocol.md §6.1).
    pub fn harness_process(&self) -> ProcessRef {
        ProcessRef {
            host_id: self.harness_host_id.clone(),
            boot_id: self.harness_boot_id.clone(),
            pid: self.harness_pid,
            started_at: self.harness_process_started_at,
        }
    }
}

/// Which rule decided the identity (cli.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `--agent ID`.
    AgentOverride,
    /// `TT_HARNESS_AGENT_ID`.
    HarnessCliExportedAgentId,
    /// A harness marker or the ancestry.
    HarnessCliEnvDetection,
    /// `human:<user>`.
    HumanCliDefault,
}

impl Source {
    /// The snake_case name used in JSON and text output (cli.md §4.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::AgentOverride => "agent_override",
            Source::HarnessCliExportedAgentId => "harness_cli_exported_agent_id",
            Source::HarnessCliEnvDetection => "harness_cli_env_detection",
            Source::HumanCliDefault => "human_cli_default",
        }
    }
}

/// The caller's identity for one invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The agent id.
    pub agent_id: String,
    /// Row metadata.
    pub metadata: ProcessMetadata,
    /// Which rule decided.
    pub source: Source,
    /// One sentence naming the deciding input.
    pub detail: String,
    /// Whether the caller is in a harness environment (protocol.md §7.8).
    pub harness_env: bool,
}

/// Harness fields a guardian receives on its command line (protocol.md §16.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HarnessArgs {
    /// `--harness-name`.
    pub name: Option<String>,
    /// `--harness-session-id`.
    pub session_id: Option<String>,
    /// `--harness-host-id`.
    pub host_id: Option<String>,
    /// `--harness-boot-id`.
    pub boot_id: Option<String>,
    /// `--harness-pid`.
    pub pid: Option<i64>,
    /// `--harness-process-started-at` (s).
    pub started_at: Option<i64>,
}

impl HarnessArgs {
    /// The harness fields of an identity, as the CLI passes them to the guardian it
    /// spawns (protocol.md §16.1).
    pub fn from_metadata(m: &ProcessMetadata) -> HarnessArgs {
        HarnessArgs {
            name: m.harness_name.clone(),
            session_id: m.harness_session_id.clone(),
            host_id: m.harness_host_id.clone(),
            boot_id: m.harness_boot_id.clone(),
            pid: m.harness_pid,
            started_at: m.harness_process_started_at,
        }
    }
}

/// The longest agent id in bytes (protocol.md §4.3.4, §7.2).
pub const MAX_AGENT_ID_BYTES: usize = 256;

/// How many ancestors the harness walk looks at, parent first (protocol.md §7.3, §7.4).
pub const MAX_ANCESTRY_LEVELS: usize = 10;

/// Check an agent id given by `--agent` or `TT_HARNESS_AGENT_ID` (protocol.md §7.2):
/// 1–256 bytes, no control characters, no whitespace. `origin` names where it came from
/// (`--agent`, `TT_HARNESS_AGENT_ID`). Errors: `cli_error` (exit 2).
pub fn check_agent_id(id: &str, origin: &str) -> Result<(), TtError> {
    let ok =
        !id.is_empty() && id.len() <= MAX_AGENT_ID_BYTES && !id.chars().any(|c| c.is_control() || c.is_whitespace());
    if ok {
        Ok(())
    } else {
        Err(TtError::usage(format!(
            "invalid agent id from {origin}: it must be 1 to {MAX_AGENT_ID_BYTES} bytes without whitespace or control characters"
        )))
    }
}

/// The display name of an `--agent` id (protocol.md §7.1, §7.7): the id with the
/// shortest leading `<prefix>:` removed (`Foo:Bar` → `Bar`, `a:b:c` → `b:c`), unchanged
/// without a colon.
pub fn override_display_name(agent_id: &str) -> String {
    agent_id.split_once(':').map_or(agent_id, |(_, rest)| rest).to_string()
}

/// The display name of a `TT_HARNESS_AGENT_ID` (protocol.md §7.2): the part before the
/// first colon (`codex:abc` → `codex`), or `harness` when there is no colon or that part
/// is empty.
pub fn exported_display_name(agent_id: &str) -> String {
    match agent_id.split_once(':') {
        Some((prefix, _)) if !prefix.is_empty() => prefix.to_string(),
        _ => "harness".to_string(),
    }
}

/// The harness a command label maps to (protocol.md §7.3): `claude`, `claude-code` →
/// `claude`; `codex`; `agy`, `antigravity` → `antigravity`; `gemini`; `grok`;
/// `opencode`. Labels are sanitized already (see [`command_label`]).
pub fn harness_for_label(label: &str) -> Option<&'static str> {
    match label {
        "claude" | "claude-code" => Some("claude"),
        "codex" => Some("codex"),
        "agy" | "antigravity" => Some("antigravity"),
        "gemini" => Some("gemini"),
        "grok" => Some("grok"),
        "opencode" => Some("opencode"),
        _ => None,
    }
}

/// The env session id variables of a harness, in order (protocol.md §7.3 table).
fn session_vars(harness: &str) -> &'static [&'static str] {
    match harness {
        "claude" => &["CLAUDE_CODE_SESSION_ID"],
        "codex" => &["CODEX_THREAD_ID"],
        "antigravity" => &["ANTIGRAVITY_CONVERSATION_ID", "ANTIGRAVITY_TRAJECTORY_ID"],
        "opencode" => &["OPENCODE_RUN_ID", "OPENCODE_PID"],
        "grok" => &["GROK_SESSION_ID"],
        _ => &[],
    }
}

/// The terminal variables of protocol.md §7.4 step 3, in order.
const TERMINAL_VARS: [&str; 7] =
    ["ITERM_SESSION_ID", "CMUX_TAB_ID", "KITTY_WINDOW_ID", "WEZTERM_PANE", "TERMINATOR_UUID", "TMUX_PANE", "STY"];

/// The harness environment signal of protocol.md §7.3 (first matching row wins), with
/// a phrase naming the variable that matched, e.g. `("codex", "CODEX_THREAD_ID is set")`.
/// `CLAUDE_CODE_SESSION_ID`, `CLAUDE_CODE_EXECPATH` and `GROK_SESSION_ID` alone are not
/// signals. `= 1` means exactly `1`; "non-empty" means any value but the empty string.
pub fn env_signal(env: &Env) -> Option<(&'static str, String)> {
    let is_one = |k: &str| env.get(k) == Some("1");
    let non_empty = |k: &str| env.get(k).is_some_and(|v| !v.is_empty());
    // (harness, variables that must be non-empty, variables that must be `1`)
    let rows: [(&'static str, &[&str], &[&str]); 6] = [
        ("claude", &[], &["CLAUDECODE"]),
        ("codex", &["CODEX_THREAD_ID"], &["CODEX_MANAGED_BY_NPM"]),
        ("antigravity", &["ANTIGRAVITY_CONVERSATION_ID", "ANTIGRAVITY_TRAJECTORY_ID"], &["ANTIGRAVITY_AGENT"]),
        ("gemini", &[], &["GEMINI_CLI"]),
        ("opencode", &[], &["OPENCODE"]),
        ("grok", &[], &["GROK_AGENT"]),
    ];
    rows.iter().find_map(|(harness, set, one)| {
        let phrase = set
            .iter()
            .find(|k| non_empty(k))
            .map(|k| format!("{k} is set"))
            .or_else(|| one.iter().find(|k| is_one(k)).map(|k| format!("{k}=1 is set")))?;
        Some((*harness, phrase))
    })
}

/// The env session id of `harness` (protocol.md §7.4 step 1): the first of its §7.3
/// variables that is non-blank, trimmed, with the variable's name.
fn env_session_id<'e>(env: &'e Env, harness: &str) -> Option<(&'static str, &'e str)> {
    session_vars(harness).iter().find_map(|k| env.non_blank(k).map(|v| (*k, v.trim())))
}

/// The §7.5 hash: `H:` + the first 8 lowercase hex digits of
/// SHA-256(`H \0 host_id \0 session_id \0 sanitize(username)`); `session_id` includes
/// its prefix. E.g. (`codex`, `test-host`, `harness:thread-1`, `alice`) → `codex:ba4f8daf`.
pub fn harness_agent_id(harness: &str, host_id: &str, session_id: &str, username: &str) -> String {
    let mut h = Sha256::new();
    for (i, part) in [harness, host_id, session_id, &sanitize(username)].iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(part.as_bytes());
    }
    let hex: String = h.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{harness}:{hex}")
}

/// Whether the caller is in a harness environment (protocol.md §7.8, cli.md §2.7).
pub fn harness_env(env: &Env) -> bool {
    env.flag("TT_HARNESS_EXPORT") || env.non_blank("TT_HARNESS_AGENT_ID").is_some() || env.has_harness_marker()
}

/// What derivation needs from the system; [`Liveness`] is the real one.
trait ProcessView {
    fn machine(&self) -> &Machine;
    fn parent_pid(&self) -> Option<i64>;
    fn own_pid(&self) -> i64;
    fn inspect(&mut self, pid: i64) -> Inspection;
    /// The login name of the effective uid from the system user database.
    fn login_name(&self) -> Option<String>;
}

impl ProcessView for Liveness {
    fn machine(&self) -> &Machine {
        Liveness::machine(self)
    }
    fn parent_pid(&self) -> Option<i64> {
        Liveness::parent_pid(self)
    }
    fn own_pid(&self) -> i64 {
        Liveness::own_pid(self)
    }
    fn inspect(&mut self, pid: i64) -> Inspection {
        Liveness::inspect(self, pid)
    }
    fn login_name(&self) -> Option<String> {
        let euid = rustix::process::geteuid().as_raw();
        let users = sysinfo::Users::new_with_refreshed_list().ok()?;
        users.iter().find(|u| **u.id() == euid).map(|u| u.name().to_string()).filter(|n| !n.trim().is_empty())
    }
}

/// The user name of §7.5: the system login name of the effective uid, else `$USER`,
/// else `$LOGNAME`, else `user` (not yet sanitized).
fn username(env: &Env, view: &dyn ProcessView) -> String {
    view.login_name()
        .or_else(|| env.non_blank("USER").map(str::to_string))
        .or_else(|| env.non_blank("LOGNAME").map(str::to_string))
        .unwrap_or_else(|| "user".to_string())
}

/// One inspected ancestor.
#[derive(Clone, Debug)]
struct Ancestor {
    pid: i64,
    started_at: i64,
    label: Option<String>,
}

impl Ancestor {
    fn harness(&self) -> Option<&'static str> {
        self.label.as_deref().and_then(harness_for_label)
    }
}

/// The ancestry, parent first: at most 10 levels, stopping at pid ≤ 1 or at a process
/// that cannot be inspected (protocol.md §7.3).
fn ancestry(view: &mut dyn ProcessView) -> Vec<Ancestor> {
    let mut out = Vec::new();
    let mut next = view.parent_pid();
    while out.len() < MAX_ANCESTRY_LEVELS {
        let Some(pid) = next.filter(|p| *p > 1) else { break };
        match view.inspect(pid) {
            Inspection::Present { started_at, parent_pid, label } => {
                out.push(Ancestor { pid, started_at, label });
                next = parent_pid;
            }
            Inspection::Missing | Inspection::Undeterminable => break,
        }
    }
    out
}

/// The caller's parent process on this machine: pid from `getppid`, its start time if
/// it can be inspected; empty when there is no parent pid.
fn parent_process(view: &mut dyn ProcessView) -> ProcessRef {
    let Some(pid) = view.parent_pid() else { return ProcessRef::default() };
    let started_at = match view.inspect(pid) {
        Inspection::Present { started_at, .. } => Some(started_at),
        Inspection::Missing | Inspection::Undeterminable => None,
    };
    let machine = view.machine();
    ProcessRef { host_id: Some(machine.host_id.clone()), boot_id: machine.boot_id.clone(), pid: Some(pid), started_at }
}

/// Derive the caller's identity (protocol.md §7.1–§7.6). Errors: `cli_error` (exit 2)
/// for an `--agent`/`TT_HARNESS_AGENT_ID` value that is not 1–256 bytes without
/// whitespace or control characters.
///
/// Order: `--agent` (§7.1), non-blank `TT_HARNESS_AGENT_ID` (§7.2), a harness marker
/// (§7.3), with `TT_HARNESS_EXPORT` enabled the nearest harness ancestor (§7.3), else
/// `human:<sanitize(username)>` (§7.6). A harness identity resolves its session id by
/// §7.4 and hashes it by §7.5; its row process is the parent, its harness process the
/// harness root (outermost ancestor running the same harness) or else the parent.
pub fn derive(env: &Env, agent_flag: Option<&str>, liveness: &mut Liveness) -> Result<Identity, TtError> {
    derive_with(env, agent_flag, liveness)
}

fn derive_with(env: &Env, agent_flag: Option<&str>, view: &mut dyn ProcessView) -> Result<Identity, TtError> {
    let in_harness_env = harness_env(env);
    if let Some(id) = agent_flag {
        check_agent_id(id, "--agent")?;
        return Ok(Identity {
            agent_id: id.to_string(),
            metadata: ProcessMetadata {
                session_kind: "human_cli".into(),
                display_name: Some(override_display_name(id)),
                ..Default::default()
            },
            source: Source::AgentOverride,
            detail: format!("--agent {id} was given"),
            harness_env: in_harness_env,
        });
    }
    if let Some(id) = env.non_blank("TT_HARNESS_AGENT_ID") {
        check_agent_id(id, "TT_HARNESS_AGENT_ID")?;
        let parent = parent_process(view);
        return Ok(Identity {
            agent_id: id.to_string(),
            metadata: ProcessMetadata {
                session_kind: "harness_cli".into(),
                display_name: Some(exported_display_name(id)),
                host_id: parent.host_id,
                boot_id: parent.boot_id,
                pid: parent.pid,
                process_started_at: parent.started_at,
                ..Default::default()
            },
            source: Source::HarnessCliExportedAgentId,
            detail: format!("TT_HARNESS_AGENT_ID is set to {id}"),
            harness_env: in_harness_env,
        });
    }
    let signal = env_signal(env);
    if signal.is_none() && !env.flag("TT_HARNESS_EXPORT") {
        return Ok(human(env, view, "no identity override or harness signal is present", in_harness_env));
    }
    let ancestors = ancestry(view);
    let (harness, trigger) = match signal {
        Some(found) => found,
        None => match ancestors.iter().find_map(|a| a.harness().map(|h| (h, a))) {
            Some((h, a)) => (
                h,
                format!(
                    "TT_HARNESS_EXPORT is enabled and ancestor process {} runs {}",
                    a.pid,
                    a.label.as_deref().unwrap_or(h)
                ),
            ),
            None => {
                let why = "TT_HARNESS_EXPORT is enabled but no ancestor process runs a known harness";
                return Ok(human(env, view, why, in_harness_env));
            }
        },
    };
    Ok(harness_identity(env, view, harness, &trigger, &ancestors, in_harness_env))
}

/// §7.6: `human:<sanitize(username)>`, no process metadata.
fn human(env: &Env, view: &dyn ProcessView, why: &str, in_harness_env: bool) -> Identity {
    let user = sanitize(&username(env, view));
    Identity {
        agent_id: format!("human:{user}"),
        metadata: ProcessMetadata {
            session_kind: "human_cli".into(),
            display_name: Some(user.clone()),
            ..Default::default()
        },
        source: Source::HumanCliDefault,
        detail: format!("{why}; user {user}"),
        harness_env: in_harness_env,
    }
}

/// §7.4 and §7.5 for a detected harness `harness`.
fn harness_identity(
    env: &Env,
    view: &mut dyn ProcessView,
    harness: &'static str,
    trigger: &str,
    ancestors: &[Ancestor],
    in_harness_env: bool,
) -> Identity {
    let parent = parent_process(view);
    let machine = view.machine().clone();
    let user = username(env, view);
    // The harness root: the outermost ancestor (within the walk) running this harness.
    let root = ancestors.iter().rev().find(|a| a.harness() == Some(harness));
    let terminal = || TERMINAL_VARS.iter().find_map(|k| env.non_blank(k).map(|v| (*k, v.trim())));
    let (session_id, how) = if let Some((var, id)) = env_session_id(env, harness) {
        // The trigger already names the variable when it is the session variable.
        let how = (trigger != format!("{var} is set")).then(|| format!("from {var}"));
        (format!("harness:{id}"), how)
    } else if let Some(r) = root {
        (format!("pid:{}@{}", r.pid, r.started_at), Some("from the harness root process".to_string()))
    } else if let Some((var, value)) = terminal() {
        (format!("term:{var}={value}"), Some(format!("from {var}")))
    } else if let (Some(pid), Some(started_at)) = (parent.pid, parent.started_at) {
        (format!("pid:{pid}@{started_at}"), Some("from the parent process".to_string()))
    } else {
        (format!("userhost:{}@{}", sanitize(&user), machine.host_id), Some("from the user and host".to_string()))
    };
    let detail = match how {
        None => format!("{trigger}; session id {session_id}"),
        Some(how) => format!("{trigger}; session id {session_id} {how}"),
    };
    let agent_id = harness_agent_id(harness, &machine.host_id, &session_id, &user);
    let harness_process = match root {
        Some(r) => ProcessRef {
            host_id: Some(machine.host_id.clone()),
            boot_id: machine.boot_id.clone(),
            pid: Some(r.pid),
            started_at: Some(r.started_at),
        },
        None => parent.clone(),
    };
    Identity {
        agent_id,
        metadata: ProcessMetadata {
            session_kind: "harness_cli".into(),
            display_name: Some(harness.to_string()),
            host_id: parent.host_id,
            boot_id: parent.boot_id,
            pid: parent.pid,
            process_started_at: parent.started_at,
            harness_name: Some(harness.to_string()),
            harness_session_id: Some(session_id.clone()),
            harness_host_id: harness_process.host_id,
            harness_boot_id: harness_process.boot_id,
            harness_pid: harness_process.pid,
            harness_process_started_at: harness_process.started_at,
        },
        source: Source::HarnessCliEnvDetection,
        detail,
        harness_env: in_harness_env,
    }
}

/// The guardian's identity (protocol.md §7.7): `agent_id` as given, `session_kind =
/// human_guardian`, display name as for `--agent`, this process's own pid, start time
/// (s), host and boot as the row process, and the harness fields from the command line
/// unchanged.
pub fn guardian(agent_id: &str, harness: &HarnessArgs, liveness: &mut Liveness) -> Identity {
    guardian_with(agent_id, harness, liveness)
}

fn guardian_with(agent_id: &str, harness: &HarnessArgs, view: &mut dyn ProcessView) -> Identity {
    let pid = view.own_pid();
    let started_at = match view.inspect(pid) {
        Inspection::Present { started_at, .. } => Some(started_at),
        Inspection::Missing | Inspection::Undeterminable => None,
    };
    let machine = view.machine();
    Identity {
        agent_id: agent_id.to_string(),
        metadata: ProcessMetadata {
            session_kind: "human_guardian".into(),
            display_name: Some(override_display_name(agent_id)),
            host_id: Some(machine.host_id.clone()),
            boot_id: machine.boot_id.clone(),
            pid: Some(pid),
            process_started_at: started_at,
            harness_name: harness.name.clone(),
            harness_session_id: harness.session_id.clone(),
            harness_host_id: harness.host_id.clone(),
            harness_boot_id: harness.boot_id.clone(),
            harness_pid: harness.pid,
            harness_process_started_at: harness.started_at,
        },
        source: Source::AgentOverride,
        detail: format!("guardian process {pid} runs for {agent_id}"),
        harness_env: false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use std::collections::BTreeMap;

    /// A fake process tree: pid → (start time, parent, argv[0]); pids not listed are
    /// missing, `undeterminable` pids cannot be inspected.
    struct Fake {
        machine: Machine,
        own: i64,
        parent: Option<i64>,
        procs: BTreeMap<i64, (i64, Option<i64>, &'static str)>,
        undeterminable: Vec<i64>,
        login: Option<&'static str>,
    }

    impl Fake {
        /// tt (pid 500) ← parent 400 `bash` ← 1.
        fn new() -> Fake {
            let mut procs = BTreeMap::new();
            procs.insert(500, (5000, Some(400), "/usr/local/bin/tt"));
            procs.insert(400, (4000, Some(1), "-bash"));
            Fake {
                machine: Machine { host_id: "test-host".into(), boot_id: Some("boot-1".into()) },
                own: 500,
                parent: Some(400),
                procs,
                undeterminable: Vec::new(),
                login: Some("alice"),
            }
        }

        /// A chain of ancestors above tt: `chain[0]` is the parent; pids 400, 399, …
        fn chain(chain: &[&'static str]) -> Fake {
            let mut f = Fake::new();
            f.procs.clear();
            f.procs.insert(500, (5000, Some(400), "tt"));
            for (i, argv0) in chain.iter().enumerate() {
                let pid = 400 - i as i64;
                let parent = if i + 1 == chain.len() { 1 } else { pid - 1 };
                f.procs.insert(pid, (pid * 10, Some(parent), argv0));
            }
            f
        }
    }

    impl ProcessView for Fake {
        fn machine(&self) -> &Machine {
            &self.machine
        }
        fn parent_pid(&self) -> Option<i64> {
            self.parent
        }
        fn own_pid(&self) -> i64 {
            self.own
        }
        fn inspect(&mut self, pid: i64) -> Inspection {
            if self.undeterminable.contains(&pid) {
                return Inspection::Undeterminable;
            }
            match self.procs.get(&pid) {
                Some((started_at, parent_pid, argv0)) => Inspection::Present {
                    started_at: *started_at,
                    parent_pid: *parent_pid,
                    label: Some(command_label(argv0)),
                },
                None => Inspection::Missing,
            }
        }
        fn login_name(&self) -> Option<String> {
            self.login.map(str::to_string)
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    fn derive_fake(pairs: &[(&str, &str)], agent: Option<&str>, fake: &mut Fake) -> Identity {
        derive_with(&env(pairs), agent, fake).unwrap()
    }

    #[test]
    fn worked_examples_of_7_5() {
        assert_eq!(harness_agent_id("codex", "test-host", "harness:thread-1", "alice"), "codex:ba4f8daf");
        assert_eq!(harness_agent_id("codex", "test-host", "harness:thread-2", "alice"), "codex:ae035a24");
        assert_eq!(harness_agent_id("claude", "test-host", "harness:thread-1", "alice"), "claude:62293d04");
        // The user name is sanitized before hashing.
        assert_eq!(harness_agent_id("codex", "test-host", "harness:thread-1", "Alice"), "codex:ba4f8daf");
    }

    #[test]
    fn codex_thread_id_gives_the_worked_example() {
        let id = derive_fake(&[("CODEX_THREAD_ID", "thread-1")], None, &mut Fake::new());
        assert_eq!(id.agent_id, "codex:ba4f8daf");
        assert_eq!(id.source, Source::HarnessCliEnvDetection);
        assert_eq!(id.detail, "CODEX_THREAD_ID is set; session id harness:thread-1");
        assert!(id.harness_env);
        let m = &id.metadata;
        assert_eq!(m.session_kind, "harness_cli");
        assert_eq!(m.display_name.as_deref(), Some("codex"));
        assert_eq!(m.harness_name.as_deref(), Some("codex"));
        assert_eq!(m.harness_session_id.as_deref(), Some("harness:thread-1"));
        // Row process = parent; harness process = parent too (no codex ancestor).
        let parent = ProcessRef {
            host_id: Some("test-host".into()),
            boot_id: Some("boot-1".into()),
            pid: Some(400),
            started_at: Some(4000),
        };
        assert_eq!(m.row_process(), parent);
        assert_eq!(m.harness_process(), parent);
        // A trimmed, non-blank session id.
        let id = derive_fake(&[("CODEX_THREAD_ID", " thread-2 ")], None, &mut Fake::new());
        assert_eq!(id.agent_id, "codex:ae035a24");
    }

    #[test]
    fn claude_marker_and_session_id() {
        let pairs = [("CLAUDECODE", "1"), ("CLAUDE_CODE_SESSION_ID", "thread-1")];
        let id = derive_fake(&pairs, None, &mut Fake::new());
        assert_eq!(id.agent_id, "claude:62293d04");
        assert_eq!(id.detail, "CLAUDECODE=1 is set; session id harness:thread-1 from CLAUDE_CODE_SESSION_ID");
        // CLAUDE_CODE_SESSION_ID alone is not a signal, nor are the other lone variables.
        for lone in [("CLAUDE_CODE_SESSION_ID", "thread-1"), ("CLAUDE_CODE_EXECPATH", "/x"), ("GROK_SESSION_ID", "g")] {
            let id = derive_fake(&[lone], None, &mut Fake::new());
            assert_eq!(id.agent_id, "human:alice", "{lone:?}");
            assert_eq!(id.source, Source::HumanCliDefault);
            assert!(!id.harness_env);
        }
        // `CLAUDECODE` must be exactly 1.
        let id = derive_fake(&[("CLAUDECODE", "true")], None, &mut Fake::new());
        assert_eq!(id.source, Source::HumanCliDefault);
    }

    #[test]
    fn the_same_session_id_gives_the_same_agent_id_under_any_parent() {
        let pairs = [("CODEX_THREAD_ID", "thread-1")];
        let a = derive_fake(&pairs, None, &mut Fake::new());
        let b = derive_fake(&pairs, None, &mut Fake::chain(&["sh", "bash", "node", "codex"]));
        assert_eq!(a.agent_id, b.agent_id);
        // The harness root still becomes the harness process.
        assert_eq!(b.metadata.harness_pid, Some(397));
        assert_eq!(b.metadata.harness_process_started_at, Some(3970));
        assert_eq!(b.metadata.pid, Some(400));
    }

    #[test]
    fn env_signal_rows_in_order() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (&[("CLAUDECODE", "1"), ("CODEX_THREAD_ID", "t")], "claude", "CLAUDECODE=1 is set"),
            (&[("CODEX_MANAGED_BY_NPM", "1")], "codex", "CODEX_MANAGED_BY_NPM=1 is set"),
            (&[("CODEX_MANAGED_BY_NPM", "1"), ("CODEX_THREAD_ID", "t")], "codex", "CODEX_THREAD_ID is set"),
            (&[("ANTIGRAVITY_AGENT", "1")], "antigravity", "ANTIGRAVITY_AGENT=1 is set"),
            (&[("ANTIGRAVITY_TRAJECTORY_ID", "t")], "antigravity", "ANTIGRAVITY_TRAJECTORY_ID is set"),
            (&[("GEMINI_CLI", "1"), ("OPENCODE", "1")], "gemini", "GEMINI_CLI=1 is set"),
            (&[("OPENCODE", "1"), ("GROK_AGENT", "1")], "opencode", "OPENCODE=1 is set"),
            (&[("GROK_AGENT", "1")], "grok", "GROK_AGENT=1 is set"),
        ];
        for (pairs, harness, phrase) in cases {
            assert_eq!(env_signal(&env(pairs)), Some((*harness, phrase.to_string())), "{pairs:?}");
            assert!(env(pairs).has_harness_marker());
        }
        for pairs in [&[("CODEX_THREAD_ID", "")][..], &[("GEMINI_CLI", "0")], &[("OPENCODE_RUN_ID", "r")], &[]] {
            assert_eq!(env_signal(&env(pairs)), None, "{pairs:?}");
        }
    }

    #[test]
    fn env_session_ids_per_harness() {
        let sid =
            |pairs: &[(&str, &str)]| derive_fake(pairs, None, &mut Fake::new()).metadata.harness_session_id.unwrap();
        assert_eq!(sid(&[("ANTIGRAVITY_CONVERSATION_ID", "c"), ("ANTIGRAVITY_TRAJECTORY_ID", "t")]), "harness:c");
        assert_eq!(sid(&[("ANTIGRAVITY_CONVERSATION_ID", " "), ("ANTIGRAVITY_TRAJECTORY_ID", "t")]), "harness:t");
        assert_eq!(sid(&[("OPENCODE", "1"), ("OPENCODE_RUN_ID", "r"), ("OPENCODE_PID", "9")]), "harness:r");
        assert_eq!(sid(&[("OPENCODE", "1"), ("OPENCODE_PID", "9")]), "harness:9");
        assert_eq!(sid(&[("GROK_AGENT", "1"), ("GROK_SESSION_ID", "g")]), "harness:g");
        // Gemini has no env session id: the parent process decides.
        assert_eq!(sid(&[("GEMINI_CLI", "1"), ("CODEX_THREAD_ID", "")]), "pid:400@4000");
    }

    #[test]
    fn session_id_fallbacks_of_7_4() {
        let gemini = [("GEMINI_CLI", "1")];
        // Step 2: the outermost gemini ancestor wins over terminal ids.
        let mut f = Fake::chain(&["bash", "gemini", "node", "gemini", "zsh"]);
        let id = derive_fake(&[gemini[0], ("TMUX_PANE", "%1")], None, &mut f);
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("pid:397@3970"));
        assert_eq!(id.metadata.harness_pid, Some(397));
        assert_eq!(id.detail, "GEMINI_CLI=1 is set; session id pid:397@3970 from the harness root process");
        // Every shell under one harness root shares one agent id.
        let again = derive_fake(&[gemini[0]], None, &mut Fake::chain(&["zsh", "gemini", "node", "gemini"]));
        assert_eq!(again.metadata.harness_session_id.as_deref(), Some("pid:397@3970"));
        assert_eq!(again.agent_id, id.agent_id);

        // Step 3: the first non-blank terminal variable, in the listed order, trimmed.
        let pairs = [gemini[0], ("STY", "s"), ("TMUX_PANE", " %3 "), ("WEZTERM_PANE", " ")];
        let id = derive_fake(&pairs, None, &mut Fake::new());
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("term:TMUX_PANE=%3"));
        let pairs = [gemini[0], ("STY", "s"), ("ITERM_SESSION_ID", "w0t0p0")];
        let id = derive_fake(&pairs, None, &mut Fake::new());
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("term:ITERM_SESSION_ID=w0t0p0"));

        // Step 4: the parent process.
        let id = derive_fake(&gemini, None, &mut Fake::new());
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("pid:400@4000"));
        assert_eq!(id.agent_id, harness_agent_id("gemini", "test-host", "pid:400@4000", "alice"));

        // Step 5: no inspectable parent.
        let mut f = Fake::new();
        f.undeterminable.push(400);
        let id = derive_fake(&gemini, None, &mut f);
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("userhost:alice@test-host"));
        assert_eq!(id.metadata.pid, Some(400));
        assert_eq!(id.metadata.process_started_at, None);
        let mut f = Fake::new();
        f.parent = None;
        let id = derive_fake(&gemini, None, &mut f);
        assert_eq!(id.metadata.harness_session_id.as_deref(), Some("userhost:alice@test-host"));
        assert_eq!(id.metadata.row_process(), ProcessRef::default());
    }

    #[test]
    fn ancestry_walk_needs_harness_export() {
        let chain = ["bash", "/opt/codex/bin/codex", "zsh", "codex.exe"];
        // Without TT_HARNESS_EXPORT the ancestry is not consulted.
        let id = derive_fake(&[], None, &mut Fake::chain(&chain));
        assert_eq!(id.agent_id, "human:alice");
        assert!(!id.harness_env);
        for on in ["1", "true", "TRUE"] {
            let id = derive_fake(&[("TT_HARNESS_EXPORT", on)], None, &mut Fake::chain(&chain));
            assert_eq!(id.source, Source::HarnessCliEnvDetection, "{on}");
            assert_eq!(id.metadata.harness_name.as_deref(), Some("codex"));
            // Session id from the outermost codex ancestor (pid 397).
            assert_eq!(id.metadata.harness_session_id.as_deref(), Some("pid:397@3970"));
            assert_eq!(id.metadata.harness_pid, Some(397));
            assert_eq!(id.metadata.pid, Some(400));
            assert!(id.detail.starts_with("TT_HARNESS_EXPORT is enabled and ancestor process 399 runs codex; "));
            assert!(id.harness_env);
        }
        for off in ["0", "false", "off", ""] {
            let id = derive_fake(&[("TT_HARNESS_EXPORT", off)], None, &mut Fake::chain(&chain));
            assert_eq!(id.source, Source::HumanCliDefault, "{off}");
        }
        // Enabled but nothing found → human.
        let id = derive_fake(&[("TT_HARNESS_EXPORT", "1")], None, &mut Fake::chain(&["bash", "zsh"]));
        assert_eq!(id.agent_id, "human:alice");
        assert!(id.detail.starts_with("TT_HARNESS_EXPORT is enabled but no ancestor"));
        assert!(id.harness_env);
    }

    #[test]
    fn ancestry_walk_nearest_harness_decides() {
        let id = derive_fake(&[("TT_HARNESS_EXPORT", "1")], None, &mut Fake::chain(&["bash", "claude", "codex"]));
        assert_eq!(id.metadata.harness_name.as_deref(), Some("claude"));
        assert_eq!(id.metadata.harness_pid, Some(399));
        for (argv0, harness) in [
            ("claude-code", "claude"),
            ("agy", "antigravity"),
            ("Antigravity.exe", "antigravity"),
            ("gemini.cmd", "gemini"),
            ("grok", "grok"),
            ("opencode.bat", "opencode"),
        ] {
            let id = derive_fake(&[("TT_HARNESS_EXPORT", "1")], None, &mut Fake::chain(&[argv0]));
            assert_eq!(id.metadata.harness_name.as_deref(), Some(harness), "{argv0}");
        }
    }

    #[test]
    fn ancestry_walk_stop_rules() {
        let export = [("TT_HARNESS_EXPORT", "1")];
        // Ten levels: a harness at level 10 is found, at level 11 it is not.
        let mut ten = vec!["sh"; 9];
        ten.push("codex");
        let id = derive_fake(&export, None, &mut Fake::chain(&ten));
        assert_eq!(id.metadata.harness_pid, Some(391));
        let mut eleven = vec!["sh"; 10];
        eleven.push("codex");
        let id = derive_fake(&export, None, &mut Fake::chain(&eleven));
        assert_eq!(id.source, Source::HumanCliDefault);
        // An uninspectable ancestor stops the walk.
        let mut f = Fake::chain(&["sh", "bash", "codex"]);
        f.undeterminable.push(399);
        assert_eq!(derive_fake(&export, None, &mut f).source, Source::HumanCliDefault);
        // A missing ancestor too.
        let mut f = Fake::chain(&["sh", "bash", "codex"]);
        f.procs.remove(&399);
        assert_eq!(derive_fake(&export, None, &mut f).source, Source::HumanCliDefault);
        // pid 1 is never considered.
        let mut f = Fake::chain(&["sh"]);
        f.procs.insert(1, (10, Some(0), "codex"));
        assert_eq!(derive_fake(&export, None, &mut f).source, Source::HumanCliDefault);
        // The outermost root is searched within the same ten levels.
        let mut f = Fake::chain(&["codex", "sh", "sh", "sh", "sh", "sh", "sh", "sh", "sh", "sh", "codex"]);
        let id = derive_fake(&export, None, &mut f);
        assert_eq!(id.metadata.harness_pid, Some(400));
    }

    #[test]
    fn agent_override() {
        let mut f = Fake::new();
        let pairs = [("TT_HARNESS_AGENT_ID", "codex:abc"), ("CODEX_THREAD_ID", "t")];
        let id = derive_fake(&pairs, Some("Foo:Bar"), &mut f);
        assert_eq!(id.agent_id, "Foo:Bar");
        assert_eq!(id.source, Source::AgentOverride);
        assert_eq!(
            id.metadata,
            ProcessMetadata {
                session_kind: "human_cli".into(),
                display_name: Some("Bar".into()),
                ..Default::default()
            }
        );
        assert!(id.harness_env);
        assert_eq!(override_display_name("a:b:c"), "b:c");
        assert_eq!(override_display_name("plain"), "plain");
        assert_eq!(override_display_name(":x"), "x");
        let id = derive_fake(&[], Some("human:bob"), &mut f);
        assert!(!id.harness_env);
        assert_eq!(id.metadata.display_name.as_deref(), Some("bob"));
    }

    #[test]
    fn agent_id_validation() {
        let mut f = Fake::new();
        let long = "a".repeat(256);
        assert_eq!(derive_fake(&[], Some(&long), &mut f).agent_id, long);
        let too_long = "a".repeat(257);
        let multibyte = "é".repeat(129); // 258 bytes
        for bad in ["", "a b", "a\tb", "a\u{7}b", "a\u{a0}b", " x", &too_long, &multibyte] {
            let err = derive_with(&env(&[]), Some(bad), &mut f).unwrap_err();
            assert_eq!(err.code, ErrorCode::CliError, "{bad:?}");
            assert_eq!(err.code.exit_code(), 2);
            let err = derive_with(&env(&[("TT_HARNESS_AGENT_ID", bad)]), None, &mut f);
            if bad.trim().is_empty() {
                assert!(err.is_ok(), "a blank TT_HARNESS_AGENT_ID is not set");
            } else {
                assert_eq!(err.unwrap_err().code, ErrorCode::CliError, "{bad:?}");
            }
        }
        assert!(check_agent_id("codex:ba4f8daf", "--agent").is_ok());
        assert!(check_agent_id("ünïcode:ok", "--agent").is_ok());
    }

    #[test]
    fn exported_agent_id() {
        let mut f = Fake::new();
        let pairs = [("TT_HARNESS_AGENT_ID", "codex:abc"), ("CLAUDECODE", "1")];
        let id = derive_fake(&pairs, None, &mut f);
        assert_eq!(id.agent_id, "codex:abc");
        assert_eq!(id.source, Source::HarnessCliExportedAgentId);
        assert!(id.harness_env);
        let m = &id.metadata;
        assert_eq!(m.session_kind, "harness_cli");
        assert_eq!(m.display_name.as_deref(), Some("codex"));
        assert_eq!(
            m.row_process(),
            ProcessRef {
                host_id: Some("test-host".into()),
                boot_id: Some("boot-1".into()),
                pid: Some(400),
                started_at: Some(4000)
            }
        );
        assert_eq!(m.harness_process(), ProcessRef::default());
        assert_eq!(m.harness_name, None);
        assert_eq!(m.harness_session_id, None);
        assert_eq!(exported_display_name("plain"), "harness");
        assert_eq!(exported_display_name(":x"), "harness");
        assert_eq!(exported_display_name("a:b:c"), "a");
        // Blank → not set.
        let id = derive_fake(&[("TT_HARNESS_AGENT_ID", "  ")], None, &mut f);
        assert_eq!(id.source, Source::HumanCliDefault);
    }

    #[test]
    fn human_fallback_and_username_order() {
        let mut f = Fake::new();
        f.login = Some("Alice Smith");
        let id = derive_fake(&[("USER", "bob")], None, &mut f);
        assert_eq!(id.agent_id, "human:alice-smith");
        assert_eq!(id.detail, "no identity override or harness signal is present; user alice-smith");
        assert_eq!(
            id.metadata,
            ProcessMetadata {
                session_kind: "human_cli".into(),
                display_name: Some("alice-smith".into()),
                ..Default::default()
            }
        );
        f.login = None;
        assert_eq!(derive_fake(&[("USER", "bob"), ("LOGNAME", "carol")], None, &mut f).agent_id, "human:bob");
        assert_eq!(derive_fake(&[("USER", " "), ("LOGNAME", "carol")], None, &mut f).agent_id, "human:carol");
        assert_eq!(derive_fake(&[], None, &mut f).agent_id, "human:user");
        assert_eq!(derive_fake(&[("USER", "!!")], None, &mut f).agent_id, "human:anon");
        // The user name also enters the harness hash and the userhost id.
        let id = derive_fake(&[("CODEX_THREAD_ID", "thread-1"), ("USER", "alice")], None, &mut f);
        assert_eq!(id.agent_id, "codex:ba4f8daf");
    }

    #[test]
    fn guardian_identity() {
        let mut f = Fake::new();
        let args = HarnessArgs {
            name: Some("codex".into()),
            session_id: Some("harness:t".into()),
            host_id: Some("other-host".into()),
            boot_id: None,
            pid: Some(77),
            started_at: Some(770),
        };
        let id = guardian_with("codex:abcd1234", &args, &mut f);
        assert_eq!(id.agent_id, "codex:abcd1234");
        assert_eq!(id.source, Source::AgentOverride);
        let m = &id.metadata;
        assert_eq!(m.session_kind, "human_guardian");
        assert_eq!(m.display_name.as_deref(), Some("abcd1234"));
        assert_eq!(
            m.row_process(),
            ProcessRef {
                host_id: Some("test-host".into()),
                boot_id: Some("boot-1".into()),
                pid: Some(500),
                started_at: Some(5000)
            }
        );
        assert_eq!(HarnessArgs::from_metadata(m), args);
        let bare = guardian_with("human:alice", &HarnessArgs::default(), &mut f);
        assert_eq!(bare.metadata.harness_process(), ProcessRef::default());
        assert_eq!(bare.metadata.display_name.as_deref(), Some("alice"));
    }

    #[test]
    fn harness_env_of_7_8() {
        assert!(!harness_env(&env(&[])));
        assert!(harness_env(&env(&[("TT_HARNESS_EXPORT", "True")])));
        assert!(!harness_env(&env(&[("TT_HARNESS_EXPORT", "off")])));
        assert!(harness_env(&env(&[("TT_HARNESS_AGENT_ID", "x:y")])));
        assert!(!harness_env(&env(&[("TT_HARNESS_AGENT_ID", " ")])));
        assert!(harness_env(&env(&[("GROK_AGENT", "1")])));
        assert!(!harness_env(&env(&[("CLAUDE_CODE_SESSION_ID", "s")])));
    }

    #[test]
    fn label_mapping() {
        for (label, h) in [
            ("claude", Some("claude")),
            ("claude-code", Some("claude")),
            ("codex", Some("codex")),
            ("agy", Some("antigravity")),
            ("antigravity", Some("antigravity")),
            ("gemini", Some("gemini")),
            ("grok", Some("grok")),
            ("opencode", Some("opencode")),
            ("node", None),
            ("claude2", None),
            ("Claude", None),
        ] {
            assert_eq!(harness_for_label(label), h, "{label}");
        }
    }

    #[test]
    fn sources_serialize_in_snake_case() {
        for s in [
            Source::AgentOverride,
            Source::HarnessCliExportedAgentId,
            Source::HarnessCliEnvDetection,
            Source::HumanCliDefault,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::Value::from(s.as_str()));
        }
    }

    /// The real system: derivation through `Liveness`.
    #[test]
    fn real_process_derivation() {
        let e = env(&[("TT_HOST_ID", "test-host"), ("CODEX_THREAD_ID", "thread-1")]);
        let mut l = Liveness::new(Machine::detect(&e), None, 1000).unwrap();
        let id = derive(&e, None, &mut l).unwrap();
        assert!(id.agent_id.starts_with("codex:"));
        assert_eq!(id.metadata.pid, l.parent_pid());
        assert!(id.metadata.process_started_at.is_some());
        assert_eq!(id.metadata.host_id.as_deref(), Some("test-host"));
        let user = username(&e, &l);
        assert_eq!(id.agent_id, harness_agent_id("codex", "test-host", "harness:thread-1", &user));

        let g = guardian("codex:x", &HarnessArgs::default(), &mut l);
        assert_eq!(g.metadata.pid, Some(i64::from(std::process::id())));
        let me = l.current_process(l.own_pid()).unwrap();
        assert_eq!(g.metadata.process_started_at, me.started_at);
        assert_eq!(l.process_verdict(&g.metadata.row_process()), crate::liveness::Verdict::Alive);
    }
}
