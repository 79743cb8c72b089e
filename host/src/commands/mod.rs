//! One library function per command. Each takes a resolved [`Context`] and returns a
//! serialisable result or a [`TtError`](crate::TtError); the binary renders it.

pub mod claims;
pub mod guard;
pub mod guards;
pub mod policy;
pub mod room;
pub mod turn;

use crate::clock::Clock;
use crate::env::Env;
use crate::error::TtError;
use crate::identity::Identity;
use crate::liveness::{Liveness, Machine};
use crate::lock::{Access, LockConfig, LockHooks, ThisHost};
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

    /// Open the service of a writing command: [`Context::open`] with
    /// [`Access::Write`], dropping warnings of a refused open (the guardian and the
    /// benchmarks use it; the CLI prints them).
    pub fn service(&self, liveness: Liveness) -> Result<Service, TtError> {
        self.open(liveness, Access::Write, &mut Vec::new())
    }

    /// Open the service: refuse remote file systems (protocol.md §4.1.4, host-lock.md §3),
    /// run the host-lock check (host-lock.md §5.2) for a writing or reading command, open
    /// and migrate the database, prepare the policy slots (loaded lazily; the same slots
    /// serve the lock decision and the command).
    ///
    /// Under a foreign lock a reading command gets a read-only service (its
    /// `host_lock` state says why) that never creates the database: without
    /// `rooms.sqlite` it reads an empty in-memory one.
    ///
    /// Errors: `remote_filesystem`; `host_lock_conflict` for a writing command under a
    /// foreign lock (policy warnings of the decision are pushed to `warnings`);
    /// `storage_error`, `incompatible_database`, `database_busy` from the store.
    pub fn open(&self, liveness: Liveness, access: Access, warnings: &mut Vec<String>) -> Result<Service, TtError> {
        let fs_type = crate::fscheck::check_local(&self.data_dir, &self.env)?;
        let mut policies = Policies::new(self.policy_config());
        let lock = self.lock_config(liveness.machine(), fs_type);
        let host_lock = match crate::lock::check(&lock, access, &mut policies, self.clock.now_ms()) {
            Ok(state) => state,
            Err(e) => {
                warnings.extend(policies.take_warnings());
                return Err(e);
            }
        };
        let read_only = host_lock.read_only();
        let store = if read_only && !crate::store::Store::path_in(&self.data_dir).is_file() {
            crate::store::Store::in_memory(self.settings.busy_timeout_ms)?
        } else {
            crate::store::Store::open(&self.data_dir, self.settings.busy_timeout_ms)?
        };
        Ok(Service {
            store,
            settings: self.settings.clone(),
            clock: self.clock.clone(),
            liveness,
            policies,
            data_dir: self.data_dir.clone(),
            home: self.home(),
            host_lock,
            read_only,
        })
    }

    /// The host-lock configuration of this invocation (host-lock.md §4.2, §10, §12):
    /// this host from `machine` (`TT_HOST_ID`, `TT_BOOT_ID`), `TT_MACHINE_ID`, the
    /// settings, the filesystem type found by the refusal check, and the test hooks
    /// `TT_MOUNT_SOURCE`, `TT_PIDS_ALIVE`, `TT_PROBE_LOG`, `TT_TEST_HEAL_BARRIER`.
    pub fn lock_config(&self, machine: &Machine, fs_type: Option<String>) -> LockConfig {
        let path = |key: &str| self.env.non_blank(key).map(|p| self.cwd.join(p));
        LockConfig {
            data_dir: self.data_dir.clone(),
            this: ThisHost::new(
                machine.host_id.clone(),
                self.env.get("TT_MACHINE_ID").map(str::to_string),
                machine.boot_id.clone(),
                i64::from(std::process::id()),
            ),
            auto_heal: self.settings.host_lock_auto_heal,
            dry_run: self.settings.host_lock_dry_run,
            fs_type,
            hooks: LockHooks {
                mount_source: self.env.get("TT_MOUNT_SOURCE").map(str::to_string),
                pids_alive: self.env.get("TT_PIDS_ALIVE").map(LockHooks::parse_pids),
                probe_log: path("TT_PROBE_LOG"),
                heal_barrier: path("TT_TEST_HEAL_BARRIER"),
            },
        }
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
