//! Native mirrors of the WIT records of `stick:policy@0.1.0` (wit/policy.wit).
//!
//! Field and case names are the WIT names in snake_case; this is also the JSON
//! shape of the case tables (policy-core.md §6, documented in policies/README.md).
//! All times and durations are integer milliseconds since the Unix epoch.
#![allow(missing_docs, reason = "field-by-field mirrors of wit/policy.wit, which documents them")]

use alloc::string::String;
use alloc::vec::Vec;
#[cfg(not(target_arch = "wasm32"))]
use serde::{Deserialize, Serialize};

/// Derives serde for native builds only (the wasm guest does not need it).
macro_rules! wit_type {
    ($(#[$m:meta])* $vis:vis $kind:ident $name:ident $body:tt) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[cfg_attr(not(target_arch = "wasm32"), derive(Serialize, Deserialize))]
        #[cfg_attr(not(target_arch = "wasm32"), serde(rename_all = "snake_case", deny_unknown_fields))]
        $vis $kind $name $body
    };
}

/// An expected failure of a policy function (WIT `policy-error`). The host
/// treats it as a policy fault and applies the safe fallback (policy-core.md §4.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// The facts were malformed; the string says which field and why.
    InvalidInput(String),
}

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PolicyError::InvalidInput(why) => write!(f, "invalid-input: {why}"),
        }
    }
}

impl core::error::Error for PolicyError {}

// ----- claims -----------------------------------------------------------------------------

wit_type! {
    /// The ten canonical verbs in contract order (follow-through.md §3.3), plus `Unknown`.
    #[derive(Copy, PartialOrd, Ord, Hash)]
    pub enum ActionVerb { Relaunch, Restart, Redeploy, Deploy, Push, Merge, Revert, Rebase, Rerun, Fix, Unknown }
}

impl ActionVerb {
    /// The ten real verbs, in the order that breaks ties (follow-through.md §3.6).
    pub const ALL: [ActionVerb; 10] = [
        ActionVerb::Relaunch,
        ActionVerb::Restart,
        ActionVerb::Redeploy,
        ActionVerb::Deploy,
        ActionVerb::Push,
        ActionVerb::Merge,
        ActionVerb::Revert,
        ActionVerb::Rebase,
        ActionVerb::Rerun,
        ActionVerb::Fix,
    ];

    /// The lemma as written in JSON and in the spec (`"restart"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ActionVerb::Relaunch => "relaunch",
            ActionVerb::Restart => "restart",
            ActionVerb::Redeploy => "redeploy",
            ActionVerb::Deploy => "deploy",
            ActionVerb::Push => "push",
            ActionVerb::Merge => "merge",
            ActionVerb::Revert => "revert",
            ActionVerb::Rebase => "rebase",
            ActionVerb::Rerun => "rerun",
            ActionVerb::Fix => "fix",
            ActionVerb::Unknown => "unknown",
        }
    }
}

wit_type! {
    /// A recognised action claim: the canonical verb and the matched span (trimmed).
    pub struct Claim { pub verb: ActionVerb, pub matched: String }
}

// ----- fairness ---------------------------------------------------------------------------

wit_type! {
    /// A member's liveness verdict (protocol.md §6.3); `Unprobed` where §11.3 allows it.
    #[derive(Copy)]
    pub enum Liveness { Alive, Gone, Unknown, Unprobed }
}

wit_type! {
    /// Why `select_next_holder` is asked (protocol.md §11.3, §11.5).
    #[derive(Copy)]
    pub enum Purpose { Release, Assign, Unknown }
}

wit_type! {
    /// A reference member (releaser, caller or prior owner); `rank` none when it
    /// is no longer a member.
    pub struct AgentRef {
        pub agent_id: String,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub rank: Option<u32>,
    }
}

wit_type! {
    /// One member of the room as the policy sees it (protocol.md §11.1).
    pub struct Candidate {
        pub agent_id: String,
        pub ordinal: u64,
        pub rank: u32,
        pub last_seen_at_ms: u64,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub last_wait_at_ms: Option<u64>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub last_held_at_ms: Option<u64>,
        pub liveness: Liveness,
        pub session_kind: String,
    }
}

wit_type! {
    /// Input of `select_next_holder` (protocol.md §11.3).
    pub struct SelectionInput {
        pub purpose: Purpose,
        pub now_ms: u64,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub after: Option<AgentRef>,
        pub member_count: u32,
        pub candidates: Vec<Candidate>,
        pub presence_ttl_ms: u64,
        pub waiter_grace_ms: u64,
    }
}

wit_type! {
    /// Input of `should_defer_idle_claim` (protocol.md §11.4).
    pub struct DeferralInput {
        pub now_ms: u64,
        pub caller: String,
        pub handoff_age_ms: u64,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub prior_owner: Option<AgentRef>,
        pub member_count: u32,
        pub candidates: Vec<Candidate>,
        pub waiter_grace_ms: u64,
        pub prior_owner_release_cooldown_ms: u64,
        pub presence_ttl_ms: u64,
    }
}

// ----- supersession -----------------------------------------------------------------------

wit_type! {
    /// A harness instance (protocol.md §14.2); every field optional.
    /// `harness_process_started_at` is in seconds since the epoch.
    #[derive(Default)]
    pub struct HarnessInstance {
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub harness_name: Option<String>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub harness_session_id: Option<String>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub harness_host_id: Option<String>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub harness_pid: Option<u32>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub harness_process_started_at: Option<u64>,
    }
}

// ----- host-lock --------------------------------------------------------------------------

wit_type! {
    /// Whether the data dir provably sits on a disk of this machine (host-lock.md §2).
    #[derive(Copy)]
    pub enum Locality { Local, Network, Unknown }
}

wit_type! {
    /// Facts for `classify_mount_source` (host-lock.md §6.1).
    pub struct MountFacts {
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub source: Option<String>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub fs_type: Option<String>,
    }
}

wit_type! {
    /// Verdict of `classify_mount_source`.
    pub struct MountVerdict { pub locality: Locality, pub reason: String }
}

wit_type! {
    /// Locality as far as the host has gathered it (host-lock.md §6.2).
    #[derive(Copy)]
    pub enum GatheredLocality { NotGathered, Local, Network, Unknown }
}

wit_type! {
    /// The recorded pid's state, once probed (host-lock.md §6.4).
    #[derive(Copy)]
    pub enum PidState { NotGathered, Alive, Dead, NoPid, Unknown }
}

wit_type! {
    /// The facts table of host-lock.md §6.2.
    pub struct ForeignLockFacts {
        pub lock_hostname: String,
        pub this_hostname: String,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub lock_machine_id: Option<String>,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub this_machine_id: Option<String>,
        pub auto_heal: bool,
        pub dry_run: bool,
        #[cfg_attr(not(target_arch = "wasm32"), serde(default))]
        pub heartbeat_age_ms: Option<u64>,
        pub locality: GatheredLocality,
        pub pid_state: PidState,
    }
}

wit_type! {
    /// What the host should do about a foreign lock (host-lock.md §6.2).
    #[derive(Copy)]
    pub enum LockDecisionKind { HealRename, NeedLocality, NeedPidProbe, HealStale, WouldHeal, Conflict, Unknown }
}

wit_type! {
    /// Decision of `decide_foreign_lock`.
    pub struct LockDecision { pub decision: LockDecisionKind, pub reason: String }
}

// ----- meta -------------------------------------------------------------------------------

wit_type! {
    /// Self-description of a module (`meta.describe`).
    pub struct ModuleInfo {
        /// The module's name, e.g. `stick-default`.
        pub name: String,
        /// The module's version (semver).
        pub version: String,
        /// The slot interfaces it implements (`claims`, `fairness`, `supersession`, `host-lock`).
        pub slots: Vec<String>,
    }
}
