//! Identity derivation (protocol.md §7): `--agent`, `TT_HARNESS_AGENT_ID`, harness
//! environment markers, process ancestry, the human fallback, and the guardian identity.
//!
//! STUB: the signatures below are the contract the service codes against.

use crate::env::Env;
use crate::error::TtError;
use crate::liveness::Liveness;
use serde::Serialize;

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

/// Derive the caller's identity (protocol.md §7.1–§7.6). Errors: `cli_error` (exit 2)
/// for an `--agent`/`TT_HARNESS_AGENT_ID` value that is not 1–256 bytes without
/// whitespace or control characters.
pub fn derive(env: &Env, agent_flag: Option<&str>, _liveness: &mut Liveness) -> Result<Identity, TtError> {
    let agent_id = agent_flag.map(str::to_string).unwrap_or_else(|| "human:user".to_string());
    Ok(Identity {
        agent_id,
        metadata: ProcessMetadata { session_kind: "human_cli".into(), ..Default::default() },
        source: Source::HumanCliDefault,
        detail: String::new(),
        harness_env: harness_env(env),
    })
}

/// The guardian's identity (protocol.md §7.7).
pub fn guardian(agent_id: &str, _harness: &HarnessArgs, _liveness: &mut Liveness) -> Identity {
    Identity {
        agent_id: agent_id.to_string(),
        metadata: ProcessMetadata { session_kind: "human_guardian".into(), ..Default::default() },
        source: Source::AgentOverride,
        detail: String::new(),
        harness_env: false,
    }
}

/// Whether the caller is in a harness environment (protocol.md §7.8, cli.md §2.7).
pub fn harness_env(env: &Env) -> bool {
    env.flag("TT_HARNESS_EXPORT") || env.non_blank("TT_HARNESS_AGENT_ID").is_some() || env.has_harness_marker()
}
