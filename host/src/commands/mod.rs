//! One library function per command. Each takes a resolved [`Context`] and returns a
//! serialisable result or a [`TtError`](crate::TtError); the binary renders it.

pub mod policy;

use crate::clock::Clock;
use crate::env::Env;
use crate::policy::{Limits, PolicyConfig, select_modules};
use crate::settings::Settings;
use std::path::PathBuf;

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
