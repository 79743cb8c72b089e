//! The policy runtime (policy-core.md §4): the only module that touches wasmtime.
//!
//! [`Policies`] is what the service layer uses: it resolves which module fills each
//! slot, creates the engine lazily on the first decision, calls the slot's module
//! inside a fuel- and memory-bounded sandbox, and fails closed: a trap, fuel or memory
//! exhaustion, an `invalid-input` answer or an answer that breaks the contract gives
//! the documented safe fallback, one warning line, and a fault record.

pub mod bindings;
pub mod check;
pub mod engine;
pub mod module;

use crate::clock::{Clock, iso8601};
use module::{CallFault, LoadedModule, Unusable};
use std::io::Write;
use std::path::{Path, PathBuf};
use stick_policy::types as n;

/// The embedded default module (`policies/default.wasm`, built from `policy-wasm/`).
pub static DEFAULT_MODULE: &[u8] = include_bytes!("../../../policies/default.wasm");

/// The 64-hex SHA-256 of [`DEFAULT_MODULE`], computed by `host/build.rs`.
pub const DEFAULT_MODULE_SHA256: &str = env!("TT_DEFAULT_MODULE_SHA256");

/// Texts passed to the claim classifier are cut to this many bytes (follow-through.md §3.8).
pub const CLASSIFY_MAX_BYTES: usize = 65_536;

/// A swappable decision (one WIT interface).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `claims`: the action-claim classifier.
    Claims,
    /// `fairness`: next-holder selection and idle-claim deferral.
    Fairness,
    /// `supersession`: session supersession.
    Supersession,
    /// `host-lock`: mount-source classifier and foreign-lock decision.
    HostLock,
}

impl Slot {
    /// Every slot, in the order of policy-core.md §5.
    pub const ALL: [Slot; 4] = [Slot::Claims, Slot::Fairness, Slot::Supersession, Slot::HostLock];

    /// The WIT interface name.
    pub fn name(self) -> &'static str {
        match self {
            Slot::Claims => "claims",
            Slot::Fairness => "fairness",
            Slot::Supersession => "supersession",
            Slot::HostLock => "host-lock",
        }
    }

    /// The slot of a WIT interface name.
    pub fn from_name(name: &str) -> Option<Slot> {
        Slot::ALL.into_iter().find(|s| s.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Per-call sandbox bounds (settings `policy_fuel`, `policy_memory_bytes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel units per call.
    pub fuel: u64,
    /// Memory cap of an instance, in bytes.
    pub memory_bytes: u64,
}

/// A configured module: the path as written and where it resolves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSpec {
    /// As given (`--policy`, `TT_POLICY` or `policy_modules`).
    pub configured: String,
    /// Resolved against the current directory (flag, env) or the data dir (settings).
    pub path: PathBuf,
}

/// Select the module list, first source that is set wins (policy-core.md §4.3):
/// `--policy` flags, then `TT_POLICY` (`:`-separated; blank counts as unset), then
/// `policy_modules`; empty means the embedded default alone.
pub fn select_modules(
    flags: &[String],
    tt_policy: Option<&str>,
    settings_modules: &[String],
    cwd: &Path,
    data_dir: &Path,
) -> Vec<ModuleSpec> {
    let spec = |base: &Path, p: &str| ModuleSpec { configured: p.to_string(), path: base.join(p) };
    if !flags.is_empty() {
        return flags.iter().map(|p| spec(cwd, p)).collect();
    }
    if let Some(list) = tt_policy.filter(|v| !v.trim().is_empty()) {
        return list.split(':').filter(|p| !p.trim().is_empty()).map(|p| spec(cwd, p)).collect();
    }
    settings_modules.iter().map(|p| spec(data_dir, p)).collect()
}

/// Everything [`Policies`] needs, resolved by the CLI.
#[derive(Clone, Debug)]
pub struct PolicyConfig {
    /// Configured modules, in precedence order (empty: the embedded default only).
    pub modules: Vec<ModuleSpec>,
    /// `<data_dir>/cache/policy`, or None to compile in memory.
    pub cache_dir: Option<PathBuf>,
    /// Per-call bounds.
    pub limits: Limits,
    /// WIT function names forced to fault (`TT_TEST_POLICY_FAULT`).
    pub forced_faults: Vec<String>,
    /// `<data_dir>/logs/policy-faults.jsonl` when faults are recorded (None for
    /// `tt policy check` and `tt policy test`).
    pub fault_log: Option<PathBuf>,
    /// The protocol clock, for fault timestamps.
    pub clock: Clock,
}

/// One recorded policy fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The slot (or `module` for a module that could not be used).
    pub slot: String,
    /// The WIT function, or `load`.
    pub function: String,
    /// One line.
    pub reason: String,
}

/// Which module fills a slot, as `tt policy show` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SlotInfo {
    /// The WIT interface name.
    pub slot: &'static str,
    /// `embedded` or the module's path as configured.
    pub source: String,
    /// From `meta.describe`, when the module exports `meta`.
    pub name: Option<String>,
    /// From `meta.describe`.
    pub version: Option<String>,
    /// SHA-256 of the module bytes.
    pub sha256: String,
    /// Whether its AOT artifact existed before this command loaded it.
    pub cached: bool,
}

struct Loaded {
    /// Index 0 is the embedded default when it loaded.
    modules: Vec<LoadedModule>,
    owners: [Option<usize>; 4],
}

impl Loaded {
    /// The index of the module that fills `slot`.
    fn owner(&self, slot: Slot) -> Option<usize> {
        self.owners.get(slot.index()).copied().flatten()
    }
}

/// The slots of one process, filled lazily; see the module docs.
pub struct Policies {
    config: PolicyConfig,
    loaded: Option<Loaded>,
    warnings: Vec<String>,
    call_fault_warned: bool,
    faults: Vec<Fault>,
}

impl Policies {
    /// Prepare the slots; no engine is created until the first decision.
    pub fn new(config: PolicyConfig) -> Self {
        Policies { config, loaded: None, warnings: Vec::new(), call_fault_warned: false, faults: Vec::new() }
    }

    /// Warning lines for stderr, drained and deduplicated (at most one for call faults
    /// per command; one per unusable module; one for an unusable cache).
    pub fn take_warnings(&mut self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        std::mem::take(&mut self.warnings).into_iter().filter(|w| seen.insert(w.clone())).collect()
    }

    /// Faults recorded so far by this process.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Load every module now (engine, embedded default, configured modules), so that a
    /// later decision inside a write transaction does no slow work (protocol.md §20.5).
    pub fn preload(&mut self) {
        let _ = self.loaded();
    }

    fn loaded(&mut self) -> &mut Loaded {
        if self.loaded.is_none() {
            let loaded = self.load_all();
            self.loaded = Some(loaded);
        }
        self.loaded.get_or_insert_with(|| Loaded { modules: Vec::new(), owners: [None; 4] })
    }

    fn load_all(&mut self) -> Loaded {
        let mut loaded = Loaded { modules: Vec::new(), owners: [None; 4] };
        let engine = match engine::new_engine() {
            Ok(e) => e,
            Err(e) => {
                self.record("module", "load", &format!("cannot create the policy engine: {}", engine::one_line(&e)));
                return loaded;
            }
        };
        let cache = self.config.cache_dir.clone();
        let limits = self.config.limits;
        match load_embedded(&engine, cache.as_deref(), limits) {
            Ok((m, warning)) => {
                self.warnings.extend(warning);
                loaded.modules.push(m);
            }
            Err(u) => self.record("module", "load", &u.problems.join("; ")),
        }
        let reference = loaded.modules.first().map(|m| m.report.clone());
        for spec in self.config.modules.clone() {
            match load_file(&engine, &spec, cache.as_deref(), reference.as_ref(), limits) {
                Ok((m, warning)) => {
                    self.warnings.extend(warning);
                    loaded.modules.push(m);
                }
                Err(u) => {
                    let (message, hint) = unusable_message(&u);
                    self.warnings.push(format!("warning: {message} (hint: {hint})"));
                    self.record_quiet(
                        "module",
                        "load",
                        &format!("`{}` {}", u.source, u.problems.first().cloned().unwrap_or_default()),
                    );
                }
            }
        }
        let first_configured = usize::from(reference.is_some());
        for slot in Slot::ALL {
            let configured = loaded.modules.iter().enumerate().skip(first_configured).find(|(_, m)| m.implements(slot));
            let embedded = loaded.modules.first().filter(|m| reference.is_some() && m.implements(slot)).map(|_| 0);
            if let Some(owner) = loaded.owners.get_mut(slot.index()) {
                *owner = configured.map(|(i, _)| i).or(embedded);
            }
        }
        loaded
    }

    /// Record a fault the host found in an answer (a rail violation of host-lock.md
    /// §6.3): like a call fault, one warning per command and one fault-log line.
    pub fn record_fault(&mut self, slot: Slot, function: &str, reason: &str) {
        self.record(slot.name(), function, &format!("returned an invalid answer: {reason}"));
    }

    /// The configured modules, in precedence order (empty: the embedded default only).
    pub fn configured(&self) -> &[ModuleSpec] {
        &self.config.modules
    }

    /// Load every module and return the one-line problems of the configured modules that
    /// could not be used (they fill no slot; policy-core.md §4.3).
    pub fn unusable_modules(&mut self) -> Vec<String> {
        let _ = self.loaded();
        self.faults.iter().filter(|f| f.slot == "module").map(|f| f.reason.clone()).collect()
    }

    /// Record a fault: append it to the fault log and warn once per command.
    fn record(&mut self, slot: &str, function: &str, reason: &str) {
        if !self.call_fault_warned {
            self.call_fault_warned = true;
            self.warnings
                .push(format!("warning: policy `{slot}` {function} failed ({reason}); the safe fallback was applied"));
        }
        self.record_quiet(slot, function, reason);
    }

    fn record_quiet(&mut self, slot: &str, function: &str, reason: &str) {
        self.faults.push(Fault { slot: slot.into(), function: function.into(), reason: reason.into() });
        let Some(log) = self.config.fault_log.clone() else { return };
        let Some(data_dir) = log.parent().and_then(Path::parent) else { return };
        if !data_dir.is_dir() {
            return;
        }
        let line = serde_json::json!({
            "ts": iso8601(self.config.clock.now_ms()),
            "slot": slot,
            "function": function,
            "reason": reason,
        });
        let _ignored = append_line(&log, &line.to_string());
    }

    /// Run `f` on the module that fills `slot`, handling forced faults and recording
    /// any fault. `Err` means: apply the fallback.
    fn guarded<T>(
        &mut self,
        slot: Slot,
        function: &str,
        f: impl FnOnce(&mut LoadedModule) -> Result<T, CallFault>,
    ) -> Result<T, CallFault> {
        let outcome = if self.config.forced_faults.iter().any(|x| x == function) {
            Err(CallFault::Forced)
        } else {
            let loaded = self.loaded();
            match loaded.owner(slot).and_then(|i| loaded.modules.get_mut(i)) {
                Some(m) => f(m),
                None => Err(CallFault::Missing(function.to_string())),
            }
        };
        if let Err(fault) = &outcome {
            self.record(slot.name(), function, &fault.to_string());
        }
        outcome
    }

    /// Classify a text; fallback "not a claim". The text is cut to 65 536 bytes at a
    /// character boundary, and a claim with verb `unknown`, an empty `matched` or one
    /// longer than the input is a fault (follow-through.md §3.8).
    pub fn classify_action_claim(&mut self, text: &str) -> Option<n::Claim> {
        let text = cut_to_boundary(text, CLASSIFY_MAX_BYTES);
        self.guarded(Slot::Claims, "classify-action-claim", |m| {
            let claim = m.classify_action_claim(text)?;
            match claim {
                Some(c) if c.verb == n::ActionVerb::Unknown || c.matched.is_empty() || c.matched.len() > text.len() => {
                    Err(CallFault::InvalidOutput(format!("claim {c:?} breaks the output check")))
                }
                other => Ok(other),
            }
        })
        .ok()
        .flatten()
    }

    /// Select the next holder; fallback: nobody. An answer that is not a candidate's
    /// agent id is a fault (protocol.md §11.3, §11.6).
    pub fn select_next_holder(&mut self, input: &n::SelectionInput) -> Option<String> {
        self.guarded(Slot::Fairness, "select-next-holder", |m| {
            let chosen = m.select_next_holder(input)?;
            match chosen {
                Some(id) if !input.candidates.iter().any(|c| c.agent_id == id) => {
                    Err(CallFault::InvalidOutput(format!("`{id}` is not a candidate")))
                }
                other => Ok(other),
            }
        })
        .ok()
        .flatten()
    }

    /// Whether to defer an idle claim; fallback: do not defer (protocol.md §11.6).
    pub fn should_defer_idle_claim(&mut self, input: &n::DeferralInput) -> bool {
        self.guarded(Slot::Fairness, "should-defer-idle-claim", |m| m.should_defer_idle_claim(input)).unwrap_or(false)
    }

    /// Whether `existing` is superseded by `incoming`; fallback: not superseded.
    pub fn is_superseded(&mut self, existing: &n::HarnessInstance, incoming: &n::HarnessInstance) -> bool {
        self.guarded(Slot::Supersession, "is-superseded", |m| m.is_superseded(existing, incoming)).unwrap_or(false)
    }

    /// Classify a mount source; fallback `unknown` (reason `policy_fault`).
    pub fn classify_mount_source(&mut self, facts: &n::MountFacts) -> n::MountVerdict {
        self.guarded(Slot::HostLock, "classify-mount-source", |m| m.classify_mount_source(facts))
            .unwrap_or(n::MountVerdict { locality: n::Locality::Unknown, reason: "policy_fault".into() })
    }

    /// Decide about a foreign lock. `Err` is a fault (already recorded and warned):
    /// the caller keeps the lock foreign with reason `policy_fault` (host-lock.md §6.3).
    pub fn decide_foreign_lock(&mut self, facts: &n::ForeignLockFacts) -> Result<n::LockDecision, CallFault> {
        self.guarded(Slot::HostLock, "decide-foreign-lock", |m| m.decide_foreign_lock(facts))
    }

    /// Which module fills each slot (`tt policy show`). Loads the modules.
    pub fn slot_infos(&mut self) -> Vec<SlotInfo> {
        let loaded = self.loaded();
        let mut out = Vec::new();
        let mut described: Vec<Option<n::ModuleInfo>> = Vec::new();
        for m in loaded.modules.iter_mut() {
            described.push(m.describe().and_then(Result::ok));
        }
        for slot in Slot::ALL {
            let Some(i) = loaded.owner(slot) else { continue };
            let (Some(m), Some(info)) = (loaded.modules.get(i), described.get(i)) else { continue };
            out.push(SlotInfo {
                slot: slot.name(),
                source: m.source.clone().unwrap_or_else(|| "embedded".into()),
                name: info.as_ref().map(|d| d.name.clone()),
                version: info.as_ref().map(|d| d.version.clone()),
                sha256: m.sha256.clone(),
                cached: m.was_cached,
            });
        }
        out
    }
}

/// Load the embedded default module (through the cache). Its check report is the
/// reference every other module is checked against (policy-core.md §4.4).
///
/// Errors: the problems, should the embedded module ever fail to load.
pub fn load_embedded(
    engine: &wasmtime::Engine,
    cache_dir: Option<&Path>,
    limits: Limits,
) -> Result<(LoadedModule, Option<String>), Unusable> {
    // Its digest comes from the build (saves hashing 84 KB per process).
    LoadedModule::load_digested(engine, None, DEFAULT_MODULE, Some(DEFAULT_MODULE_SHA256), cache_dir, None, limits)
}

/// Read and load one module file.
///
/// Errors: the problems that make it unusable (unreadable file included).
pub fn load_file(
    engine: &wasmtime::Engine,
    spec: &ModuleSpec,
    cache_dir: Option<&Path>,
    reference: Option<&check::Report>,
    limits: Limits,
) -> Result<(LoadedModule, Option<String>), Unusable> {
    let bytes = std::fs::read(&spec.path)
        .map_err(|e| Unusable { source: spec.configured.clone(), problems: vec![format!("cannot be read: {e}")] })?;
    LoadedModule::load(engine, Some(spec.configured.clone()), &bytes, cache_dir, reference, limits)
}

/// The §4.4 message and hint for an unusable module.
pub fn unusable_message(u: &Unusable) -> (String, String) {
    let first = u.problems.first().cloned().unwrap_or_else(|| "is not usable".into());
    let message = format!("policy module `{}` {first}", u.source);
    let hint = if first.starts_with("cannot be read") {
        "check the path given with --policy, TT_POLICY, policy_modules or on the command line"
    } else if first.starts_with("imports ") {
        "a policy module may import only the wasi:cli and wasi:io interfaces a std guest carries; remove the import"
    } else if first.starts_with("is ") {
        "build the module as a component: cargo build --target wasm32-wasip2 (see policies/README.md)"
    } else {
        "rebuild the module against wit/ from this release, or upgrade tt"
    };
    let hint = hint.to_string();
    (message, hint)
}

/// `text` cut to at most `max` bytes at a character boundary.
pub fn cut_to_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or("")
}

/// Append one line with `O_APPEND`, creating the parent directory (0700) if needed.
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        crate::paths::ensure_private_dir(dir)?;
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
    f.write_all(format!("{line}\n").as_bytes())
}
