//! One loaded policy module: its bytes, its check report, and a bounded, lazily
//! (re)instantiated sandbox to call it in (policy-core.md §4.1).

use super::bindings::{self as b, claims, fairness, host_lock, meta, supersession};
use super::check::{self, Report};
use super::engine::{self, Compiled};
use super::{Limits, Slot};
use std::collections::BTreeMap;
use stick_policy::types as n;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Linker, Lower};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder, Trap};

/// Why a policy call gave no answer. The host then applies the safe fallback.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallFault {
    /// The call exhausted its fuel (a runaway loop).
    #[error("ran out of fuel (limit {0} units)")]
    OutOfFuel(u64),
    /// The instance tried to grow its memory past the cap.
    #[error("exceeded the memory limit of {0} bytes")]
    MemoryLimit(u64),
    /// Any other trap (a panic aborts through `unreachable`).
    #[error("trapped: {0}")]
    Trap(String),
    /// The function answered `invalid-input`.
    #[error("returned invalid-input: {0}")]
    InvalidInput(String),
    /// The answer broke the contract (e.g. a holder that is not a candidate).
    #[error("returned an invalid answer: {0}")]
    InvalidOutput(String),
    /// The module does not export the function.
    #[error("does not export `{0}`")]
    Missing(String),
    /// `TT_TEST_POLICY_FAULT` named the function (follow-through.md §11).
    #[error("trapped (forced by TT_TEST_POLICY_FAULT)")]
    Forced,
}

/// Per-store state: the memory limiter.
pub struct StoreData {
    limits: StoreLimits,
}

struct Live {
    store: Store<StoreData>,
    instance: Instance,
}

/// A usable module: compiled, checked, pre-instantiated.
pub struct LoadedModule {
    /// The path as configured, or None for the embedded default.
    pub source: Option<String>,
    /// SHA-256 of the module bytes (64 hex).
    pub sha256: String,
    /// Whether its AOT artifact existed before this process loaded it.
    pub was_cached: bool,
    /// The cache artifact, when the cache was usable.
    pub artifact: Option<std::path::PathBuf>,
    /// The interface check.
    pub report: Report,
    pre: InstancePre<StoreData>,
    funcs: BTreeMap<String, ComponentExportIndex>,
    live: Option<Live>,
    limits: Limits,
    last_fuel: Option<u64>,
}

/// A module that failed to load: the problems, one line each.
#[derive(Clone, Debug)]
pub struct Unusable {
    /// The path as given.
    pub source: String,
    /// One-line descriptions; the first names the main problem.
    pub problems: Vec<String>,
}

impl LoadedModule {
    /// Load `bytes`: tell the kind, compile through the cache, check the interfaces
    /// against `reference`, define every import as a trap and pre-instantiate.
    ///
    /// Errors: every problem that makes the module unusable (policy-core.md §5).
    pub fn load(
        engine: &Engine,
        source: Option<String>,
        bytes: &[u8],
        cache_dir: Option<&std::path::Path>,
        reference: Option<&Report>,
        limits: Limits,
    ) -> Result<(LoadedModule, Option<String>), Unusable> {
        Self::load_digested(engine, source, bytes, None, cache_dir, reference, limits)
    }

    /// [`LoadedModule::load`] with the SHA-256 of `bytes` when the caller knows it (the
    /// embedded module's is computed at build time); None hashes the bytes.
    ///
    /// Errors: as [`LoadedModule::load`].
    pub fn load_digested(
        engine: &Engine,
        source: Option<String>,
        bytes: &[u8],
        sha256: Option<&str>,
        cache_dir: Option<&std::path::Path>,
        reference: Option<&Report>,
        limits: Limits,
    ) -> Result<(LoadedModule, Option<String>), Unusable> {
        let label = source.clone().unwrap_or_else(|| "embedded default".into());
        let unusable = |problems: Vec<String>| Unusable { source: label.clone(), problems };
        match engine::wasm_kind(bytes) {
            engine::WasmKind::Component => {}
            engine::WasmKind::CoreModule => {
                return Err(unusable(vec![
                    "is a core WebAssembly module, not a component (build for wasm32-wasip2)".into(),
                ]));
            }
            engine::WasmKind::NotWasm => return Err(unusable(vec!["is not a WebAssembly component".into()])),
        }
        let sha256 = sha256.map_or_else(|| engine::sha256_hex(bytes), str::to_string);
        let Compiled { component, was_cached, artifact, warning } = engine::compile(engine, bytes, &sha256, cache_dir)
            .map_err(|e| unusable(vec![format!("does not compile: {e}")]))?;
        // A module compiled in memory belongs to a compiling engine (engine::compile).
        let engine = component.engine();
        let report = check::check(engine, &component, reference);
        if !report.problems.is_empty() {
            return Err(unusable(report.problems));
        }
        let mut linker: Linker<StoreData> = Linker::new(engine);
        let pre = linker
            .define_unknown_imports_as_traps(&component)
            .and_then(|()| linker.instantiate_pre(&component))
            .map_err(|e| unusable(vec![format!("cannot be instantiated: {}", engine::one_line(&e))]))?;
        let mut funcs = BTreeMap::new();
        for iface in &report.interfaces {
            let Some(inst) = component.get_export_index(None, &iface.export) else { continue };
            for f in &iface.functions {
                if let Some(idx) = component.get_export_index(Some(&inst), &f.name) {
                    funcs.insert(f.name.clone(), idx);
                }
            }
        }
        let module = LoadedModule {
            source,
            sha256,
            was_cached,
            artifact,
            report,
            pre,
            funcs,
            live: None,
            limits,
            last_fuel: None,
        };
        Ok((module, warning))
    }

    /// Whether the module implements `slot`.
    pub fn implements(&self, slot: Slot) -> bool {
        self.report.implements(slot)
    }

    /// Drop the live instance: the next call instantiates in a fresh `Store`, as it
    /// does after a trap (policy-core.md §4.1).
    pub fn discard_instance(&mut self) {
        self.live = None;
    }

    /// Fuel used by the last call (units).
    pub fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }

    fn instantiate(&mut self) -> Result<Live, CallFault> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX))
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(self.pre.engine(), StoreData { limits });
        store.limiter(|d| &mut d.limits);
        store.set_fuel(self.limits.fuel).map_err(|e| CallFault::Trap(engine::one_line(&e)))?;
        let instance = self.pre.instantiate(&mut store).map_err(|e| self.classify(&e))?;
        Ok(Live { store, instance })
    }

    fn classify(&self, e: &wasmtime::Error) -> CallFault {
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => CallFault::OutOfFuel(self.limits.fuel),
            Some(Trap::UnreachableCodeReached) => {
                CallFault::Trap("unreachable instruction executed (the module panicked or aborted)".into())
            }
            _ if format!("{e:#}").contains("growing memory") => CallFault::MemoryLimit(self.limits.memory_bytes),
            _ => {
                let cause = engine::one_line(e);
                // A std guest that panics writes the message through its (inert)
                // wasi:cli/stderr import before aborting; so does a print.
                if cause.contains("unknown import") {
                    CallFault::Trap(format!("the module called an inert import (a panic or a print): {cause}"))
                } else {
                    CallFault::Trap(cause)
                }
            }
        }
    }

    /// Call `function` with fresh fuel; a trap discards the instance so the next call
    /// gets a fresh `Store` (policy-core.md §4.1).
    fn call<P, R>(&mut self, function: &str, params: P) -> Result<R, CallFault>
    where
        P: ComponentNamedList + Lower,
        R: ComponentNamedList + Lift,
    {
        self.last_fuel = None;
        let idx = self.funcs.get(function).cloned().ok_or_else(|| CallFault::Missing(function.to_string()))?;
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate()?,
        };
        live.store.set_fuel(self.limits.fuel).map_err(|e| CallFault::Trap(engine::one_line(&e)))?;
        let func = live
            .instance
            .get_typed_func::<P, R>(&mut live.store, &idx)
            .map_err(|e| CallFault::Trap(format!("type mismatch: {}", engine::one_line(&e))))?;
        let outcome = func.call(&mut live.store, params);
        self.last_fuel = live.store.get_fuel().ok().map(|left| self.limits.fuel.saturating_sub(left));
        match outcome {
            Ok(r) => {
                self.live = Some(live);
                Ok(r)
            }
            Err(e) => Err(self.classify(&e)),
        }
    }

    /// `meta.describe`, if exported.
    pub fn describe(&mut self) -> Option<Result<n::ModuleInfo, CallFault>> {
        self.report.interface("meta")?;
        Some(self.call::<(), (meta::ModuleInfo,)>("describe", ()).map(|(m,)| b::module_info(m)))
    }

    /// `claims.classify-action-claim`, raw (no fallback).
    pub fn classify_action_claim(&mut self, text: &str) -> Result<Option<n::Claim>, CallFault> {
        match self
            .call::<(&str,), (Result<Option<claims::Claim>, claims::PolicyError>,)>("classify-action-claim", (text,))?
        {
            (Ok(c),) => Ok(c.map(b::claim)),
            (Err(claims::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }

    /// `fairness.select-next-holder`, raw.
    pub fn select_next_holder(&mut self, input: &n::SelectionInput) -> Result<Option<String>, CallFault> {
        let i = b::selection(input);
        match self.call::<(&fairness::SelectionInput,), (Result<Option<String>, fairness::PolicyError>,)>(
            "select-next-holder",
            (&i,),
        )? {
            (Ok(v),) => Ok(v),
            (Err(fairness::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }

    /// `fairness.should-defer-idle-claim`, raw.
    pub fn should_defer_idle_claim(&mut self, input: &n::DeferralInput) -> Result<bool, CallFault> {
        let i = b::deferral(input);
        match self.call::<(&fairness::DeferralInput,), (Result<bool, fairness::PolicyError>,)>(
            "should-defer-idle-claim",
            (&i,),
        )? {
            (Ok(v),) => Ok(v),
            (Err(fairness::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }

    /// `supersession.is-superseded`, raw.
    pub fn is_superseded(
        &mut self,
        existing: &n::HarnessInstance,
        incoming: &n::HarnessInstance,
    ) -> Result<bool, CallFault> {
        let (e, i) = (b::harness(existing), b::harness(incoming));
        type H = supersession::HarnessInstance;
        match self.call::<(&H, &H), (Result<bool, supersession::PolicyError>,)>("is-superseded", (&e, &i))? {
            (Ok(v),) => Ok(v),
            (Err(supersession::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }

    /// `host-lock.classify-mount-source`, raw.
    pub fn classify_mount_source(&mut self, facts: &n::MountFacts) -> Result<n::MountVerdict, CallFault> {
        let f = b::mount_facts(facts);
        match self.call::<(&host_lock::MountFacts,), (Result<host_lock::MountVerdict, host_lock::PolicyError>,)>(
            "classify-mount-source",
            (&f,),
        )? {
            (Ok(v),) => Ok(b::mount_verdict(v)),
            (Err(host_lock::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }

    /// `host-lock.decide-foreign-lock`, raw.
    pub fn decide_foreign_lock(&mut self, facts: &n::ForeignLockFacts) -> Result<n::LockDecision, CallFault> {
        let f = b::lock_facts(facts);
        match self.call::<(&host_lock::ForeignLockFacts,), (Result<host_lock::LockDecision, host_lock::PolicyError>,)>(
            "decide-foreign-lock",
            (&f,),
        )? {
            (Ok(v),) => Ok(b::lock_decision(v)),
            (Err(host_lock::PolicyError::InvalidInput(s)),) => Err(CallFault::InvalidInput(s)),
        }
    }
}

/// A loaded module as a case-table [`Evaluator`](stick_policy::cases::Evaluator):
/// raw calls, faults reported as errors, fuel metered (`tt policy test`).
pub struct ComponentEvaluator<'a>(pub &'a mut LoadedModule);

impl stick_policy::cases::Evaluator for ComponentEvaluator<'_> {
    fn implements(&self, slot: &str) -> bool {
        Slot::from_name(slot).is_some_and(|s| self.0.implements(s))
    }
    fn classify_action_claim(&mut self, text: &str) -> Result<Option<n::Claim>, String> {
        self.0.classify_action_claim(text).map_err(|e| e.to_string())
    }
    fn select_next_holder(&mut self, input: &n::SelectionInput) -> Result<Option<String>, String> {
        self.0.select_next_holder(input).map_err(|e| e.to_string())
    }
    fn should_defer_idle_claim(&mut self, input: &n::DeferralInput) -> Result<bool, String> {
        self.0.should_defer_idle_claim(input).map_err(|e| e.to_string())
    }
    fn is_superseded(&mut self, existing: &n::HarnessInstance, incoming: &n::HarnessInstance) -> Result<bool, String> {
        self.0.is_superseded(existing, incoming).map_err(|e| e.to_string())
    }
    fn classify_mount_source(&mut self, facts: &n::MountFacts) -> Result<n::MountVerdict, String> {
        self.0.classify_mount_source(facts).map_err(|e| e.to_string())
    }
    fn decide_foreign_lock(&mut self, facts: &n::ForeignLockFacts) -> Result<n::LockDecision, String> {
        self.0.decide_foreign_lock(facts).map_err(|e| e.to_string())
    }
    fn last_fuel(&self) -> Option<u64> {
        self.0.last_fuel()
    }
}
