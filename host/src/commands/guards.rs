//! `tt guards [path]` and `tt guards heal-lock [--force]` (host-lock.md §9, §11), and
//! the one-line guard summary of `tt health` (§11.4).
//!
//! `tt guards` opens no database and never takes anything over: it observes the host
//! lock in reading mode (the decision loop runs, probes within the rails included, but
//! nothing is written, touched or healed), loads every policy module, records no policy
//! fault, and exits 0 whatever the states are. `tt guards heal-lock` is a writing
//! command for operators.

use super::{Context, Outcome};
use crate::clock::iso8601;
use crate::error::TtError;
use crate::guards::{self, HostLockFacts, PolicyFacts, Row};
use crate::liveness::Machine;
use crate::lock::{self, Access, ForceOutcome, LockRead, LockRecord, LockState, Proceed};
use crate::policy::{Policies, Slot};
use serde_json::{Value, json};
use std::path::Path;

/// Every test hook of protocol.md §4.2, host-lock.md §12 and follow-through.md §11
/// (`test_hooks_active`, §11.3).
pub const TEST_HOOKS: &[&str] = &[
    "TT_NOW_MS",
    "TT_SETTINGS",
    "TT_LIVENESS_FILE",
    "TT_HOST_ID",
    "TT_MACHINE_ID",
    "TT_BOOT_ID",
    "TT_FS_TYPE",
    "TT_MOUNT_SOURCE",
    "TT_PIDS_ALIVE",
    "TT_PROBE_LOG",
    "TT_TEST_HEAL_BARRIER",
    "TT_TEST_POLICY_FAULT",
];

/// 24 hours in ms (`faults_24h`).
const DAY_MS: u64 = 86_400_000;

/// `tt guards [path]` (§11): six rows in the order of §11.1. `path` (default: the
/// current directory) only locates the workspace for the Stop-hook check. Never fails:
/// a state that cannot be determined is an `errored` row.
pub fn guards(ctx: &Context, path: Option<&str>) -> Outcome {
    let now = ctx.clock.now_ms();
    let machine = Machine::detect(&ctx.env);
    let fs_type = crate::fscheck::probe_fs_type(&ctx.data_dir, &ctx.env);
    let remote = fs_type.as_deref().is_some_and(crate::fscheck::is_remote);
    let mut config = ctx.policy_config();
    // Observation writes nothing: no fault records, and the AOT cache only where a data
    // dir already exists on a local filesystem.
    config.fault_log = None;
    if remote || !ctx.data_dir.is_dir() {
        config.cache_dir = None;
    }
    let mut policies = Policies::new(config);
    let cfg = ctx.lock_config(&machine, fs_type.clone());
    let state = if remote {
        observe_without_decision(&cfg, now)
    } else {
        lock::check(&cfg, Access::Read, &mut policies, now).unwrap_or_else(|e| LockState::Unreadable(e.message))
    };
    let host = HostLockFacts {
        data_dir: ctx.data_dir.display().to_string(),
        this_hostname: machine.host_id.clone(),
        this_machine_id: cfg.this.machine_id().map(str::to_string),
        fs_type,
        remote,
        state,
        auto_heal: ctx.settings.host_lock_auto_heal,
        dry_run: ctx.settings.host_lock_dry_run,
    };
    let home = ctx.home();
    let workspace = crate::workspace::resolve(path, &ctx.cwd, home.as_deref()).workspace_root;
    let hook = guards::stop_hook_installed(&workspace, home.as_deref());
    let policy = full_policy_facts(ctx, &mut policies, now);
    let usable = |slot: Slot| !policy.1.contains(&slot);
    let rows = rows(ctx, &host, usable(Slot::Supersession), usable(Slot::Claims), hook, &policy.0);
    let lines = guards::attention_lines(&rows);
    let mut warnings = policies.take_warnings();
    // Policy faults of this evaluation are counted, not recorded; the warning line of a
    // protocol command would repeat the row.
    warnings.clear();
    let json = json!({
        "generated_at": iso8601(now),
        "data_dir": ctx.data_dir.display().to_string(),
        "hostname": machine.host_id,
        "machine_id": cfg.this.machine_id(),
        "boot_id": machine.boot_id,
        "guards": rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        "summary": guards::summary(&rows),
        "attention": lines,
        "test_hooks_active": TEST_HOOKS.iter().filter(|h| ctx.env.get(h).is_some()).collect::<Vec<_>>(),
    });
    Outcome { json, text: guards::render_text(&rows), warnings }
}

fn rows(
    ctx: &Context,
    host: &HostLockFacts,
    supersession_usable: bool,
    claims_usable: bool,
    hook: bool,
    policy: &PolicyFacts,
) -> Vec<Row> {
    vec![
        guards::host_lock_row(host),
        guards::supersession_row(supersession_usable),
        guards::action_claim_sentinel_row(&ctx.settings, claims_usable, hook),
        guards::idle_room_purge_row(&ctx.settings),
        guards::claim_timeout_takeover_row(&ctx.settings),
        guards::policy_module_row(policy),
    ]
}

/// The lock as it is, without a decision (a refused data dir: §3 makes the lock moot).
fn observe_without_decision(cfg: &lock::LockConfig, now: u64) -> LockState {
    match lock::read_lock(&cfg.lock_path()) {
        LockRead::Absent => LockState::Owned { outcome: Proceed::Absent, record: None, heartbeat_age_ms: None },
        LockRead::Unreadable(why) => LockState::Unreadable(why),
        LockRead::Present(s) => {
            let age = lock::heartbeat_age(s.mtime_ms, now);
            match s.record {
                None => LockState::Owned { outcome: Proceed::Corrupt, record: None, heartbeat_age_ms: age },
                Some(r) if r.hostname == cfg.this.hostname => {
                    LockState::Owned { outcome: Proceed::SameHost, record: Some(r), heartbeat_age_ms: age }
                }
                Some(r) => LockState::Foreign(lock::Foreign {
                    record: r,
                    heartbeat_age_ms: age,
                    decided: lock::Decided {
                        decision: lock::Decision::Conflict,
                        reason: "remote_filesystem".into(),
                        fs_local: None,
                        pid_dead: None,
                    },
                }),
            }
        }
    }
}

/// The lines of `logs/policy-faults.jsonl` whose `ts` lies in the last 24 hours, per
/// slot (policy-core.md §4.1). A missing log counts nothing.
fn recorded_faults(data_dir: &Path, now: u64) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(data_dir.join("logs").join("policy-faults.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| {
            v.get("ts").and_then(Value::as_str).and_then(parse_ms).is_some_and(|t| t <= now && now - t <= DAY_MS)
        })
        .map(|v| v.get("slot").and_then(Value::as_str).unwrap_or("module").to_string())
        .collect()
}

fn parse_ms(iso: &str) -> Option<u64> {
    let t = humantime::parse_rfc3339(iso).ok()?;
    u64::try_from(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()
}

/// The full policy check of `tt guards`: load every module, see which fills each slot.
/// Returns the facts and the slots that are not usable.
fn full_policy_facts(ctx: &Context, policies: &mut Policies, now: u64) -> (PolicyFacts, Vec<Slot>) {
    let infos = policies.slot_infos();
    let problems = policies.unusable_modules();
    let recorded = recorded_faults(&ctx.data_dir, now);
    let own = policies.faults().len();
    let missing: Vec<Slot> = Slot::ALL.into_iter().filter(|s| !infos.iter().any(|i| i.slot == s.name())).collect();
    let configured: Vec<String> = policies.configured().iter().map(|m| m.configured.clone()).collect();
    let described = configured
        .iter()
        .find_map(|c| infos.iter().find(|i| &i.source == c))
        .or_else(|| infos.iter().find(|i| i.source == "embedded"))
        .or(infos.first());
    let sources: std::collections::BTreeSet<&str> = infos.iter().map(|i| i.source.as_str()).collect();
    let mut degraded: Vec<String> = missing.iter().map(|s| s.name().to_string()).collect();
    for slot in Slot::ALL {
        if recorded.iter().any(|r| r == slot.name()) && !degraded.iter().any(|d| d == slot.name()) {
            degraded.push(slot.name().to_string());
        }
    }
    let facts = PolicyFacts {
        enabled: problems.is_empty() && missing.is_empty(),
        faults_24h: u64::try_from(recorded.len() + own).unwrap_or(u64::MAX),
        name: described.and_then(|d| d.name.clone()),
        version: described.and_then(|d| d.version.clone()),
        sha256: described.map(|d| d.sha256.clone()),
        source: described.map_or_else(|| "embedded".to_string(), |d| d.source.clone()),
        embedded_default: missing.is_empty() && infos.iter().all(|i| i.source == "embedded"),
        slots: (sources.len() > 1)
            .then(|| infos.iter().map(|i| json!({"slot": i.slot, "source": i.source, "sha256": i.sha256})).collect()),
        degraded,
        problems,
    };
    (facts, missing)
}

/// The guard summary of `tt health` (§11.4): `{"summary": <line>, "attention": <n>}`
/// and the text line `Guards: …`. Cheap: no policy module is instantiated; a slot counts
/// as usable when its module file exists and no fault of that slot was recorded in the
/// last 24 hours. `host_lock` is the command's own lock check; `workspace` the room's
/// workspace root. `tt guards` is authoritative where the two disagree.
pub fn health_summary(ctx: &Context, host_lock: &LockState, this: &Machine, workspace: &Path) -> (Value, String) {
    let now = ctx.clock.now_ms();
    let recorded = recorded_faults(&ctx.data_dir, now);
    let config = ctx.policy_config();
    let files_exist = config.modules.iter().all(|m| m.path.is_file());
    let usable = |slot: Slot| files_exist && !recorded.iter().any(|r| r == slot.name());
    let this_machine_id = lock::ThisHost::new(
        this.host_id.clone(),
        ctx.env.get("TT_MACHINE_ID").map(str::to_string),
        this.boot_id.clone(),
        0,
    )
    .machine_id()
    .map(str::to_string);
    let host = HostLockFacts {
        data_dir: ctx.data_dir.display().to_string(),
        this_hostname: this.host_id.clone(),
        this_machine_id,
        fs_type: None,
        remote: false,
        state: host_lock.clone(),
        auto_heal: ctx.settings.host_lock_auto_heal,
        dry_run: ctx.settings.host_lock_dry_run,
    };
    let home = ctx.home();
    let hook = guards::stop_hook_installed(workspace, home.as_deref());
    let policy = PolicyFacts {
        enabled: files_exist,
        faults_24h: u64::try_from(recorded.len()).unwrap_or(u64::MAX),
        source: "embedded".into(),
        ..PolicyFacts::default()
    };
    let rows = rows(ctx, &host, usable(Slot::Supersession), usable(Slot::Claims), hook, &policy);
    let line = guards::summary_line(&rows);
    let attention = guards::attention_lines(&rows).len();
    (json!({"summary": line, "attention": attention}), format!("Guards: {line}\n"))
}

/// `tt guards heal-lock [--force]` (§9). The filesystem refusal applies, `--force` or
/// not. Without `--force` it runs the writing check of §5.2; with it, a foreign or
/// corrupt lock is taken over at once (no probe, no policy call).
///
/// Errors: `remote_filesystem`; `host_lock_conflict` when the lock stays foreign or the
/// takeover race was lost (policy warnings of the decision are pushed to `warnings`);
/// `storage_error`.
pub fn heal_lock(ctx: &Context, force: bool, warnings: &mut Vec<String>) -> Result<Outcome, TtError> {
    let fs_type = crate::fscheck::check_local(&ctx.data_dir, &ctx.env)?;
    let machine = Machine::detect(&ctx.env);
    let cfg = ctx.lock_config(&machine, fs_type);
    let mut policies = Policies::new(ctx.policy_config());
    let now = ctx.clock.now_ms();
    let result = if force {
        lock::force_heal(&cfg, &mut policies, now)
    } else {
        lock::check(&cfg, Access::Write, &mut policies, now).map(ForceOutcome::Checked)
    };
    let policy_warnings = policies.take_warnings();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            warnings.extend(policy_warnings);
            return Err(e);
        }
    };
    let current = match lock::read_lock(&cfg.lock_path()) {
        LockRead::Present(s) => s.record.map(|r| r.to_json()).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let host = &machine.host_id;
    let (json, text) = match outcome {
        ForceOutcome::Forced { previous, .. } => {
            let previous_host = previous.as_ref().map_or("(unreadable lock)".to_string(), |p| p.hostname.clone());
            (
                json!({"status": "owned", "outcome": "forced", "previous": previous.as_ref().map(LockRecord::to_json), "lock": current}),
                format!("host.lock now names this host ({host}); previous owner: {previous_host}\n"),
            )
        }
        ForceOutcome::Checked(state) => {
            let outcome = match &state {
                LockState::Owned { outcome, .. } => outcome.as_str(),
                LockState::Foreign(_) | LockState::Unreadable(_) => "foreign",
            };
            (
                json!({"status": "owned", "outcome": outcome, "lock": current}),
                format!("host.lock names this host ({host}): {outcome}\n"),
            )
        }
    };
    Ok(Outcome { json, text, warnings: policy_warnings })
}
