//! `tt policy show | check | test | use | compile` (policy-core.md §5). These commands
//! never open the database and never run the host-lock check.

use super::Context;
use crate::error::{ErrorCode, TtError};
use crate::policy::check::FunctionSig;
use crate::policy::module::{ComponentEvaluator, LoadedModule, Unusable};
use crate::policy::{ModuleSpec, Policies, Slot, SlotInfo, engine, load_embedded, load_file, unusable_message};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use stick_policy::cases;

/// Result of `tt policy show`.
#[derive(Debug, Serialize)]
pub struct ShowResult {
    /// One entry per slot in the order claims, fairness, supersession, host-lock.
    pub slots: Vec<SlotInfo>,
    /// Warning lines for stderr (unusable configured modules).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// `tt policy show`: which module fills each slot. A configured module that is not
/// usable is warned about and recorded as a fault (policy-core.md §4.3).
pub fn show(ctx: &Context) -> ShowResult {
    let mut policies = Policies::new(ctx.policy_config());
    let slots = policies.slot_infos();
    ShowResult { slots, warnings: policies.take_warnings() }
}

/// One slot's verdict in `tt policy check`.
#[derive(Debug, Serialize)]
pub struct SlotVerdict {
    /// The WIT interface name.
    pub slot: &'static str,
    /// `ok` or `absent`.
    pub verdict: &'static str,
    /// The exported interface name with its version (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// Its functions with signatures (when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<FunctionSig>>,
}

/// Result of `tt policy check`.
#[derive(Debug, Serialize)]
pub struct CheckResult {
    /// The module path as given.
    pub path: String,
    /// SHA-256 of the module bytes.
    pub sha256: String,
    /// From `meta.describe` (null without `meta`).
    pub name: Option<String>,
    /// From `meta.describe`.
    pub version: Option<String>,
    /// Always true (an unusable module is an error).
    pub usable: bool,
    /// One entry per slot.
    pub slots: Vec<SlotVerdict>,
    /// Every import of the component.
    pub imports: Vec<String>,
}

/// Load the module at `path` (relative to the current directory) the way `check`,
/// `test`, `use` and `compile` do: through the AOT cache, checked against the embedded
/// default's interfaces.
///
/// Errors: `policy_module_invalid` (exit 1, details `path` and `problems`).
fn load_module(ctx: &Context, path: &str) -> Result<(LoadedModule, Option<PathBuf>), TtError> {
    let engine = engine::new_engine()
        .map_err(|e| TtError::storage(format!("cannot create the policy engine: {}", engine::one_line(&e))))?;
    let cache = ctx.policy_cache_dir();
    let limits = ctx.policy_limits();
    let (embedded, _) = load_embedded(&engine, Some(&cache), limits).map_err(|u| invalid_module(&u))?;
    let spec = ModuleSpec { configured: path.to_string(), path: ctx.cwd.join(path) };
    let (module, _) =
        load_file(&engine, &spec, Some(&cache), Some(&embedded.report), limits).map_err(|u| invalid_module(&u))?;
    let artifact = module.artifact.clone();
    Ok((module, artifact))
}

fn invalid_module(u: &Unusable) -> TtError {
    let (message, hint) = unusable_message(u);
    TtError::new(ErrorCode::PolicyModuleInvalid, message)
        .hint(hint)
        .with("path", u.source.clone())
        .with("problems", u.problems.clone())
}

fn describe(module: &mut LoadedModule) -> (Option<String>, Option<String>) {
    match module.describe() {
        Some(Ok(info)) => (Some(info.name), Some(info.version)),
        _ => (None, None),
    }
}

/// `tt policy check PATH`: interface versions, functions, imports, verdict per slot.
///
/// Errors: `policy_module_invalid` when the module is not usable.
pub fn check(ctx: &Context, path: &str) -> Result<CheckResult, TtError> {
    let (mut module, _) = load_module(ctx, path)?;
    let (name, version) = describe(&mut module);
    let slots = Slot::ALL
        .iter()
        .map(|slot| match module.report.interface(slot.name()) {
            Some(i) => SlotVerdict {
                slot: slot.name(),
                verdict: "ok",
                interface: Some(i.export.clone()),
                functions: Some(i.functions.clone()),
            },
            None => SlotVerdict { slot: slot.name(), verdict: "absent", interface: None, functions: None },
        })
        .collect();
    Ok(CheckResult {
        path: path.to_string(),
        sha256: module.sha256.clone(),
        name,
        version,
        usable: true,
        slots,
        imports: module.report.imports.clone(),
    })
}

/// One table in `tt policy test`.
#[derive(Debug, Serialize)]
pub struct TableSummary {
    /// The table path as given or found.
    pub path: String,
    /// The slot its file name names (null when none).
    pub slot: Option<&'static str>,
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
}

/// One failed case.
#[derive(Debug, Serialize)]
pub struct CaseFailure {
    /// The table path.
    pub path: String,
    /// 1-based line number.
    pub line: usize,
    /// The case's note.
    pub note: String,
    /// The input as written.
    pub input: Value,
    /// The wanted output.
    pub want: Value,
    /// The output the module gave, or `{"error": …}`.
    pub got: Value,
}

/// One case line for `--verbose` (text only).
#[derive(Debug)]
pub struct CaseLine {
    /// The table path.
    pub path: String,
    /// 1-based line number.
    pub line: usize,
    /// The case's note.
    pub note: String,
    /// Whether it passed.
    pub passed: bool,
    /// Fuel used (units), when metered.
    pub fuel: Option<u64>,
}

/// Result of `tt policy test`; exit 1 when `failed > 0`.
#[derive(Debug, Serialize)]
pub struct TestResult {
    /// The module path as given.
    pub module: String,
    /// Total cases passed.
    pub passed: usize,
    /// Total cases failed.
    pub failed: usize,
    /// Per-table counts.
    pub tables: Vec<TableSummary>,
    /// Every failed case.
    pub failures: Vec<CaseFailure>,
    /// Every case, for `--verbose` text output.
    #[serde(skip)]
    pub cases: Vec<CaseLine>,
}

fn cases_error(message: String) -> TtError {
    TtError::new(ErrorCode::InvalidInput, message).with("field", "cases")
}

/// The default tables: every `*.jsonl` of `./policies/cases/` whose slot `module`
/// implements, sorted by name.
fn default_tables(ctx: &Context, module: &LoadedModule) -> Result<Vec<(String, PathBuf)>, TtError> {
    let dir = ctx.cwd.join("policies").join("cases");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        cases_error(format!("cannot read `policies/cases/` under the current directory: {e}"))
            .hint("run from the project root, or name the case tables: tt policy test MODULE TABLE.jsonl")
    })?;
    let mut tables: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            cases::slot_of_file_name(name).and_then(Slot::from_name).is_some_and(|s| module.implements(s))
        })
        .map(|p| {
            let shown = Path::new("policies/cases").join(p.file_name().unwrap_or_default());
            (shown.display().to_string(), p)
        })
        .collect();
    tables.sort();
    Ok(tables)
}

/// `tt policy test PATH [CASES…]`: run case tables against a module.
///
/// Errors: `policy_module_invalid` for an unusable module; `invalid_input`
/// (`field: "cases"`) when a table cannot be read or `policies/cases/` is missing.
pub fn test(ctx: &Context, path: &str, tables: &[String]) -> Result<TestResult, TtError> {
    let (mut module, _) = load_module(ctx, path)?;
    let tables: Vec<(String, PathBuf)> = if tables.is_empty() {
        default_tables(ctx, &module)?
    } else {
        tables.iter().map(|t| (t.clone(), ctx.cwd.join(t))).collect()
    };
    let mut result = TestResult {
        module: path.to_string(),
        passed: 0,
        failed: 0,
        tables: Vec::new(),
        failures: Vec::new(),
        cases: Vec::new(),
    };
    for (shown, file) in tables {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| cases_error(format!("cannot read case table `{shown}`: {e}")))?;
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let table = cases::run_table(name, &text, &mut ComponentEvaluator(&mut module));
        result.passed += table.passed();
        result.failed += table.failed();
        result.tables.push(TableSummary {
            path: shown.clone(),
            slot: table.slot,
            passed: table.passed(),
            failed: table.failed(),
        });
        for c in table.cases {
            result.cases.push(CaseLine {
                path: shown.clone(),
                line: c.line,
                note: c.note.clone(),
                passed: c.passed,
                fuel: c.fuel,
            });
            if !c.passed {
                result.failures.push(CaseFailure {
                    path: shown.clone(),
                    line: c.line,
                    note: c.note,
                    input: c.input,
                    want: c.want,
                    got: c.got,
                });
            }
        }
    }
    Ok(result)
}

/// Result of `tt policy use`.
#[derive(Debug, Serialize)]
pub struct UseResult {
    /// `recorded` or `reset`.
    pub status: &'static str,
    /// The recorded list (absent for `reset`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_modules: Option<Vec<String>>,
    /// The settings file written.
    pub settings_path: String,
}

/// `tt policy use PATH` (after the checks of `check`) or `tt policy use --reset`.
///
/// Errors: `policy_module_invalid` (settings untouched); `invalid_settings` when the
/// existing `settings.toml` is not valid TOML; `storage_error` when it cannot be written.
pub fn use_module(ctx: &Context, path: Option<&str>) -> Result<UseResult, TtError> {
    let settings_path = ctx.settings_path();
    let shown = settings_path.display().to_string();
    let Some(path) = path else {
        crate::settings::write_policy_modules(&settings_path, None)?;
        return Ok(UseResult { status: "reset", policy_modules: None, settings_path: shown });
    };
    load_module(ctx, path)?;
    let absolute = std::path::absolute(ctx.cwd.join(path)).unwrap_or_else(|_| ctx.cwd.join(path));
    let list = vec![absolute.display().to_string()];
    crate::paths::ensure_private_dir(&ctx.data_dir)
        .map_err(|e| TtError::storage(format!("cannot create the data directory `{}`: {e}", ctx.data_dir.display())))?;
    crate::settings::write_policy_modules(&settings_path, Some(&list))?;
    Ok(UseResult { status: "recorded", policy_modules: Some(list), settings_path: shown })
}

/// Result of `tt policy compile`.
#[derive(Debug, Serialize)]
pub struct CompileResult {
    /// The module path as given.
    pub path: String,
    /// SHA-256 of the module bytes.
    pub sha256: String,
    /// The cache file (policy-core.md §4.2).
    pub artifact: String,
}

/// `tt policy compile PATH`: warm the AOT cache.
///
/// Errors: `policy_module_invalid`; `storage_error` when the cache cannot be written.
pub fn compile(ctx: &Context, path: &str) -> Result<CompileResult, TtError> {
    let (module, artifact) = load_module(ctx, path)?;
    let artifact = artifact.ok_or_else(|| {
        TtError::storage(format!("cannot write the policy cache under `{}`", ctx.policy_cache_dir().display()))
    })?;
    Ok(CompileResult { path: path.to_string(), sha256: module.sha256, artifact: artifact.display().to_string() })
}
