//! One library function per command. Each takes a resolved [`Context`] and returns a
//! serialisable result or a [`TtError`](crate::TtError); the binary renders it.

pub mod claims;
pub mod guard;
pub mod policy;
pub mod room;
pub mod turn;

use crate::clock::Clock;
use crate::env::Env;
use crate::error::TtError;
use crate::identity::Identity;
use crate::liveness::{Liveness, Machine};
use crate::policy::{Limits, Policies, PolicyConfig, select_modules};
use crate::service::{Caller, Service};
use crate::sessions::SessionFile;
use crate::settings::Settings;
use serde_json::Value;
use std::path::PathBuf;

/// What a command produced: the JSON result, its text rendering, warning lines for
/// stderr (printed before the result).
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The JSON object (cli.md §4).
    pub json: Value,
    /// The text rendering.
    pub text: String,
    /// Plain warning lines for stderr.
    pub warnings: Vec<String>,
}

/// What every command gets from the CLI: resolved paths, settings, clock and hooks.
#[derive(Clone, Debug)]
pub struct Context {
    /// The environment snapshot (hooks such as `TT_POLICY`, `TT_TEST_POLICY_FAULT`).
    pub env: Env,
    /// The current directory.
    pub cwd: PathBuf,
    /// The data directory (protocol.md §4.1); not necessarily existing.
    pub data_dir: PathBuf,
    /// The effective, validated settings.
    pub settings: Settings,
    /// The protocol clock.
    pub clock: Clock,
    /// `--policy` flags, in order.
    pub policy_flags: Vec<String>,
}

impl Context {
    /// `$HOME`, if set.
    pub fn home(&self) -> Option<PathBuf> {
        self.env.non_blank("HOME").map(PathBuf::from)
    }

    /// The liveness service of this process (`TT_HOST_ID`, `TT_BOOT_ID`,
    /// `TT_LIVENESS_FILE`, `liveness_cache_ms`). Errors: `invalid_settings`.
    pub fn liveness(&self) -> Result<Liveness, TtError> {
        Liveness::new(
            Machine::detect(&self.env),
            self.env.non_blank("TT_LIVENESS_FILE").map(PathBuf::from),
            self.settings.liveness_cache_ms,
        )
    }

    /// Open the service: refuse remote file systems (protocol.md §4.1.4), open and
    /// migrate the database, prepare the policy slots (loaded lazily).
    pub fn service(&self, liveness: Liveness) -> Result<Service, TtError> {
        crate::fscheck::check_local(&self.data_dir, &self.env)?;
        let store = crate::store::Store::open(&self.data_dir, self.settings.busy_timeout_ms)?;
        Ok(Service {
            store,
            settings: self.settings.clone(),
            clock: self.clock.clone(),
            liveness,
            policies: Policies::new(self.policy_config()),
            data_dir: self.data_dir.clone(),
            home: self.home(),
        })
    }

    /// A wake socket for a blocking wait on `room_id` (protocol.md §17.8), unless the
    /// operator switched notifications off with `TT_WAKE=off` (or `0`, `false`, `no`),
    /// which leaves the 250 ms fallback poll alone (used by the benchmarks to compare).
    pub fn waiter(&self, room_id: &str) -> Option<crate::wake::Waiter> {
        let off = self
            .env
            .get("TT_WAKE")
            .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "off" | "0" | "false" | "no"));
        if off { None } else { crate::wake::Waiter::bind(&self.data_dir, room_id) }
    }

    /// The side file `cli-sessions.json`.
    pub fn sessions(&self) -> SessionFile {
        SessionFile::new(&self.data_dir, self.clock.clone())
    }

    /// `<data_dir>/settings.toml`.
    pub fn settings_path(&self) -> PathBuf {
        self.data_dir.join("settings.toml")
    }

    /// `<data_dir>/cache/policy` (policy-core.md §4.2).
    pub fn policy_cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache").join("policy")
    }

    /// Per-call sandbox bounds from the settings.
    pub fn policy_limits(&self) -> Limits {
        Limits { fuel: self.settings.policy_fuel, memory_bytes: self.settings.policy_memory_bytes }
    }

    /// The policy configuration a protocol command uses: module selection of
    /// policy-core.md §4.3, the cache, the limits, forced faults, and the fault log.
    pub fn policy_config(&self) -> PolicyConfig {
        PolicyConfig {
            modules: select_modules(
                &self.policy_flags,
                self.env.get("TT_POLICY"),
                &self.settings.policy_modules,
                &self.cwd,
                &self.data_dir,
            ),
            cache_dir: Some(self.policy_cache_dir()),
            limits: self.policy_limits(),
            forced_faults: self
                .env
                .get("TT_TEST_POLICY_FAULT")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            fault_log: Some(self.data_dir.join("logs").join("policy-faults.jsonl")),
            clock: self.clock.clone(),
        }
    }
}

/// The caller of an operation, from the identity of this invocation.
pub fn caller(identity: &Identity) -> Caller {
    Caller { agent_id: identity.agent_id.clone(), metadata: identity.metadata.clone() }
}
