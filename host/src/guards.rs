//! The guard posture (host-lock.md §11): one status row per safety mechanism in a fixed
//! vocabulary, so that a guard that is switched on but not working is never silent.
//!
//! This module is pure: it turns gathered facts into rows, states, attention lines and
//! the one-line summary of `tt health`. Gathering (the lock observation, policy loading,
//! the Stop-hook lookup) is `commands::guards`' job; `tt guards` gathers fully,
//! `tt health` cheaply (§11.4).

use crate::lock::{Decision, LockState, Proceed, age_phrase, duration_words};
use crate::settings::Settings;
use serde_json::{Map, Value, json};
use std::path::Path;

/// The six states of §11.2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effective {
    /// The guard's status could not be determined, or it reports faults.
    Errored,
    /// Configured on, but not working right now.
    OffRuntimeDivergent,
    /// Deliberately switched off.
    Off,
    /// On, but its acting part only logs what it would do.
    OnDryRun,
    /// On and demonstrably working.
    OnConfirmed,
    /// On, but nothing confirms it is wired up.
    OnUnverified,
}

impl Effective {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Effective::Errored => "errored",
            Effective::OffRuntimeDivergent => "off-runtime-divergent",
            Effective::Off => "off",
            Effective::OnDryRun => "on-dry-run",
            Effective::OnConfirmed => "on-confirmed",
            Effective::OnUnverified => "on-unverified",
        }
    }

    /// The order of the summary (§11.4).
    const SUMMARY_ORDER: [Effective; 6] = [
        Effective::OnConfirmed,
        Effective::OnUnverified,
        Effective::OnDryRun,
        Effective::Off,
        Effective::OffRuntimeDivergent,
        Effective::Errored,
    ];
}

/// Why a guard is off (§11.2 rule 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffClass {
    /// Off by default.
    DarkDefault,
    /// On by default, switched off.
    DivergedFromDefault,
}

impl OffClass {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OffClass::DarkDefault => "dark-default",
            OffClass::DivergedFromDefault => "diverged-from-default",
        }
    }
}

/// The inputs of the state rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateInputs {
    /// The status could not be determined, or the component reports faults.
    pub errored: bool,
    /// The configuration switches the guard on.
    pub config_on: bool,
    /// Its configuration with an empty settings file.
    pub default_on: bool,
    /// The runtime reports it working.
    pub runtime_enabled: bool,
    /// Its wiring is verified.
    pub verified: bool,
    /// Its dry-run condition holds.
    pub dry_run: bool,
}

/// §11.2: the first matching rule wins.
pub fn derive_state(i: StateInputs) -> (Effective, Option<OffClass>) {
    if i.errored {
        (Effective::Errored, None)
    } else if i.config_on && !i.runtime_enabled {
        (Effective::OffRuntimeDivergent, None)
    } else if !i.config_on {
        let class = if i.default_on { OffClass::DivergedFromDefault } else { OffClass::DarkDefault };
        (Effective::Off, Some(class))
    } else if i.dry_run {
        (Effective::OnDryRun, None)
    } else if i.runtime_enabled && i.verified {
        (Effective::OnConfirmed, None)
    } else {
        (Effective::OnUnverified, None)
    }
}

/// One row of `tt guards` (§11.3).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `host_lock`, `supersession`, …
    pub key: &'static str,
    /// `host-lock`, `supersession`, …
    pub name: &'static str,
    /// The configuration switches it on.
    pub config_enabled: bool,
    /// Its configuration with an empty settings file.
    pub default_enabled: bool,
    /// `code_default` or `setting:<key>`.
    pub config_source: String,
    /// The state.
    pub effective: Effective,
    /// Why it is off, when it is.
    pub off_class: Option<OffClass>,
    /// Its dry-run condition holds.
    pub dry_run: bool,
    /// The closed per-guard field list of §11.3.
    pub runtime: Map<String, Value>,
    /// What went wrong, for an errored row.
    pub error: Option<String>,
    /// One human line.
    pub detail: String,
    /// The row's one attention line, if it needs attention.
    pub attention: Option<String>,
}

impl Row {
    #[allow(clippy::too_many_arguments, reason = "one constructor for the six builders")]
    fn new(
        key: &'static str,
        name: &'static str,
        config_source: String,
        inputs: StateInputs,
        runtime: Map<String, Value>,
        error: Option<String>,
        detail: String,
        attention_text: String,
    ) -> Row {
        let (effective, off_class) = derive_state(inputs);
        let needs = matches!(effective, Effective::Errored | Effective::OffRuntimeDivergent)
            || off_class == Some(OffClass::DivergedFromDefault);
        Row {
            key,
            name,
            config_enabled: inputs.config_on,
            default_enabled: inputs.default_on,
            config_source,
            effective,
            off_class,
            dry_run: inputs.dry_run,
            runtime,
            error,
            detail,
            attention: needs.then(|| format!("{name}: {attention_text}")),
        }
    }

    /// The JSON row of §11.3.
    pub fn to_json(&self) -> Value {
        json!({
            "key": self.key,
            "name": self.name,
            "config_enabled": self.config_enabled,
            "default_enabled": self.default_enabled,
            "config_source": self.config_source,
            "effective": self.effective.as_str(),
            "off_class": self.off_class.map(OffClass::as_str),
            "dry_run": self.dry_run,
            "runtime": self.runtime,
            "error": self.error,
            "detail": self.detail,
            "attention": self.attention,
        })
    }
}

fn on(config_on: bool, runtime_enabled: bool) -> StateInputs {
    StateInputs { errored: false, config_on, default_on: true, runtime_enabled, verified: true, dry_run: false }
}

fn runtime(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()
}

/// Facts of the host-lock row.
#[derive(Clone, Debug)]
pub struct HostLockFacts {
    /// The data directory.
    pub data_dir: String,
    /// This host's name.
    pub this_hostname: String,
    /// This machine id.
    pub this_machine_id: Option<String>,
    /// The filesystem type name (§3), if known.
    pub fs_type: Option<String>,
    /// The data dir is refused by §3.
    pub remote: bool,
    /// The lock as observed (reading mode: nothing written).
    pub state: LockState,
    /// Setting `host_lock_auto_heal`.
    pub auto_heal: bool,
    /// Setting `host_lock_dry_run`.
    pub dry_run: bool,
}

/// The `host_lock` row (§11.1–§11.3).
pub fn host_lock_row(f: &HostLockFacts) -> Row {
    let dry = f.auto_heal && f.dry_run;
    let lock_state;
    let mut lock_hostname = Value::Null;
    let mut age = None;
    let mut decision = Value::Null;
    let mut reason = Value::Null;
    let mut mismatch = false;
    let mut error = None;
    let mut enabled = !f.remote;
    let (detail, attention);
    match &f.state {
        LockState::Owned { outcome, record, heartbeat_age_ms } => {
            age = *heartbeat_age_ms;
            if let Some(r) = record {
                lock_hostname = json!(r.hostname);
                mismatch = matches!((&r.machine_id, &f.this_machine_id), (Some(a), Some(b)) if a != b);
            }
            lock_state = match outcome {
                Proceed::Corrupt | Proceed::ReplacedCorrupt => "corrupt",
                Proceed::Absent | Proceed::Created => "absent",
                _ => "same_host",
            };
            detail = match lock_state {
                "corrupt" => "host.lock is corrupt; the next write replaces it".to_string(),
                "absent" => "no host.lock yet; the next write creates it".to_string(),
                _ => format!("owned by this host ({}); heartbeat {}", f.this_hostname, age_phrase(age)),
            };
            attention = if mismatch {
                format!(
                    "host.lock names this host {} but another machine id ({}); two machines may share this host \
                     name and this directory",
                    f.this_hostname,
                    record.as_ref().and_then(|r| r.machine_id.clone()).unwrap_or_default()
                )
            } else {
                String::new()
            };
        }
        LockState::Foreign(fr) => {
            lock_state = "foreign";
            lock_hostname = json!(fr.record.hostname);
            age = fr.heartbeat_age_ms;
            decision = json!(fr.decided.decision.as_str());
            reason = json!(fr.decided.reason);
            let heals = fr.decided.decision.heals();
            enabled = enabled && heals;
            detail = if heals {
                "will be healed by the next write".to_string()
            } else {
                format!(
                    "owned by {}; heartbeat {}; auto-heal declined ({})",
                    fr.record.hostname,
                    age_phrase(age),
                    fr.decided.reason
                )
            };
            let remedy = if fr.decided.decision == Decision::WouldHeal {
                "verify that no other machine uses it, then run `tt guards heal-lock --force` or set \
                 `host_lock_dry_run` to false"
            } else {
                "verify that no other machine uses it, then run `tt guards heal-lock --force`"
            };
            attention = format!(
                "the data directory belongs to host {}, not this host {} (heartbeat {}, {}); {remedy}",
                fr.record.hostname,
                f.this_hostname,
                age_phrase(age),
                fr.decided.reason
            );
        }
        LockState::Unreadable(why) => {
            // §11.1: enabled only for an absent, same-host, corrupt or healable lock.
            enabled = false;
            lock_state = "unreadable";
            error = Some(format!("cannot read host.lock: {why}"));
            detail = format!("cannot read host.lock ({why})");
            attention = format!("cannot read {}/host.lock ({why}); check its permissions", f.data_dir);
        }
    }
    let (detail, attention) = if f.remote {
        let fs = f.fs_type.clone().unwrap_or_default();
        reason = json!("remote_filesystem");
        (
            format!("refused: the data directory is on a network filesystem ({fs})"),
            format!(
                "the data directory {} is on a network filesystem ({fs}); move it to a local disk and point \
                 TT_DATA_DIR at it",
                f.data_dir
            ),
        )
    } else {
        (detail, attention)
    };
    let inputs = StateInputs {
        errored: error.is_some(),
        config_on: true,
        default_on: true,
        runtime_enabled: enabled,
        verified: true,
        dry_run: dry,
    };
    let rt = runtime(&[
        ("enabled", json!(enabled)),
        ("lock_state", json!(lock_state)),
        ("lock_hostname", lock_hostname),
        ("heartbeat_age_ms", json!(age)),
        ("decision", decision),
        ("reason", reason),
        ("auto_heal", json!(f.auto_heal)),
        ("fs_type", json!(f.fs_type)),
        ("remote_filesystem", json!(f.remote)),
        ("machine_id_mismatch", json!(mismatch)),
    ]);
    let mismatch_line = mismatch.then(|| format!("host-lock: {attention}"));
    let mut row = Row::new("host_lock", "host-lock", "code_default".into(), inputs, rt, error, detail, attention);
    // A machine-id mismatch needs attention even on a working lock; still one line per row.
    if row.attention.is_none() {
        row.attention = mismatch_line;
    }
    row
}

/// The `supersession` row: protocol.md has no supersession switch, so it is always on;
/// working when the `supersession` policy slot is usable.
pub fn supersession_row(slot_usable: bool) -> Row {
    let detail = if slot_usable {
        "the supersession policy slot is usable".to_string()
    } else {
        "the supersession policy slot is not usable; sessions are never superseded".to_string()
    };
    Row::new(
        "supersession",
        "supersession",
        "code_default".into(),
        on(true, slot_usable),
        runtime(&[("enabled", json!(slot_usable))]),
        None,
        detail.clone(),
        format!("{detail}; run `tt policy show`"),
    )
}

// ----- ACTION-CLAIM SENTINEL ---------------------------------------------------------------
// The row is derived from the settings, the `claims` policy slot and the Stop-hook
// registration only: host-lock.md §11.3 lists exactly `enabled`, `hook_installed`, `cap`
// and `expiry_ms` as its runtime facts, and `tt guards` opens no database, so the
// commitments themselves are not read here (`tt commitments` and `tt health` show them).

/// The `action_claim_sentinel` row (§11.1): on when `action_claim_enabled`; working when
/// the `claims` slot is usable; verified when a Claude Code Stop hook runs
/// `tt claim observe --hook` (see [`stop_hook_installed`]).
pub fn action_claim_sentinel_row(settings: &Settings, claims_usable: bool, hook_installed: bool) -> Row {
    let config_on = settings.action_claim_enabled;
    let inputs = StateInputs {
        errored: false,
        config_on,
        default_on: true,
        runtime_enabled: claims_usable,
        verified: hook_installed,
        dry_run: false,
    };
    let detail = if !config_on {
        "switched off (action_claim_enabled = 0)".to_string()
    } else if !claims_usable {
        "the claims policy slot is not usable; no claim is recorded".to_string()
    } else if hook_installed {
        "the Stop hook runs `tt claim observe --hook`".to_string()
    } else {
        "no Claude Code Stop hook runs `tt claim observe --hook` for this workspace".to_string()
    };
    let attention = if config_on {
        format!("{detail}; run `tt policy show`")
    } else {
        "switched off by `action_claim_enabled`; claims in agent messages are not tracked".to_string()
    };
    Row::new(
        "action_claim_sentinel",
        "action-claim-sentinel",
        settings.source_of("action_claim_enabled"),
        inputs,
        runtime(&[
            // §11.1: "true when the `claims` policy slot is usable", whatever the switch.
            ("enabled", json!(claims_usable)),
            ("hook_installed", json!(hook_installed)),
            ("cap", json!(settings.action_claim_cap)),
            ("expiry_ms", json!(settings.action_claim_expiry_ms)),
        ]),
        None,
        detail,
        attention,
    )
}

/// Whether a Claude Code Stop hook whose command contains `tt claim observe` and
/// `--hook` is registered in `<workspace>/.claude/settings.json`,
/// `<workspace>/.claude/settings.local.json` or `~/.claude/settings.json` (§11.1).
/// Unreadable or malformed files count as no hook.
pub fn stop_hook_installed(workspace: &Path, home: Option<&Path>) -> bool {
    let mut files = vec![workspace.join(".claude/settings.json"), workspace.join(".claude/settings.local.json")];
    if let Some(h) = home {
        files.push(h.join(".claude/settings.json"));
    }
    files.iter().any(|f| {
        let Ok(text) = std::fs::read_to_string(f) else { return false };
        let Ok(v) = serde_json::from_str::<Value>(&text) else { return false };
        let entries = v.pointer("/hooks/Stop").and_then(Value::as_array).cloned().unwrap_or_default();
        entries.iter().any(|e| {
            let hooks = e.get("hooks").and_then(Value::as_array).cloned().unwrap_or_default();
            hooks.iter().any(|h| {
                h.get("command")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.contains("tt claim observe") && c.contains("--hook"))
            })
        })
    })
}
// ----- end of the action-claim sentinel ----------------------------------------------------

/// The `idle_room_purge` row: on when `idle_room_ttl_ms` > 0.
pub fn idle_room_purge_row(settings: &Settings) -> Row {
    let ttl = settings.idle_room_ttl_ms;
    let on_now = ttl > 0;
    let detail = if on_now {
        format!("rooms idle for {} are purged", duration_words(ttl))
    } else {
        "purging is off (idle_room_ttl_ms = 0)".to_string()
    };
    Row::new(
        "idle_room_purge",
        "idle-room-purge",
        settings.source_of("idle_room_ttl_ms"),
        on(on_now, on_now),
        runtime(&[("enabled", json!(on_now))]),
        None,
        detail,
        "switched off by `idle_room_ttl_ms = 0`; abandoned rooms are never purged".to_string(),
    )
}

/// The `claim_timeout_takeover` row: on when `claim_ttl_ms` > 0.
pub fn claim_timeout_takeover_row(settings: &Settings) -> Row {
    let ttl = settings.claim_ttl_ms;
    let on_now = ttl > 0;
    let detail = if on_now {
        format!("a reservation unclaimed for {} can be taken over", duration_words(ttl))
    } else {
        "claim-timeout takeover is off (claim_ttl_ms = 0)".to_string()
    };
    Row::new(
        "claim_timeout_takeover",
        "claim-timeout-takeover",
        settings.source_of("claim_ttl_ms"),
        on(on_now, on_now),
        runtime(&[("enabled", json!(on_now))]),
        None,
        detail,
        "switched off by `claim_ttl_ms = 0`; a reserved recipient that never claims blocks the room".to_string(),
    )
}

/// Facts of the policy-module row.
#[derive(Clone, Debug, Default)]
pub struct PolicyFacts {
    /// Every slot loads from the module configured for it.
    pub enabled: bool,
    /// Faults in the last 24 hours (the fault log plus this evaluation's own).
    pub faults_24h: u64,
    /// `meta.describe` name of the described module.
    pub name: Option<String>,
    /// Its version.
    pub version: Option<String>,
    /// Its SHA-256 (64 hex).
    pub sha256: Option<String>,
    /// A path, or `embedded`.
    pub source: String,
    /// The embedded module fills every slot.
    pub embedded_default: bool,
    /// `{slot, source, sha256}` per slot, when different modules fill different slots.
    pub slots: Option<Vec<Value>>,
    /// Slots that are degraded (faults in the last 24 hours or not filled as configured).
    pub degraded: Vec<String>,
    /// Problems of configured modules that could not be used.
    pub problems: Vec<String>,
}

/// The `policy_module` row.
pub fn policy_module_row(f: &PolicyFacts) -> Row {
    let errored = f.faults_24h >= 1;
    let mut pairs = vec![
        ("enabled", json!(f.enabled)),
        ("name", json!(f.name)),
        ("version", json!(f.version)),
        ("sha256", json!(f.sha256)),
        ("embedded_default", json!(f.embedded_default)),
        ("source", json!(f.source)),
        ("faults_24h", json!(f.faults_24h)),
    ];
    if let Some(slots) = &f.slots {
        pairs.push(("slots", json!(slots)));
    }
    let module = match (&f.name, &f.version) {
        (Some(n), Some(v)) => format!("{n} {v}"),
        _ => "a module without meta".to_string(),
    };
    let source = if f.source == "embedded" { "embedded default".to_string() } else { f.source.clone() };
    let degraded =
        if f.degraded.is_empty() { String::new() } else { format!("; degraded slots: {}", f.degraded.join(", ")) };
    let detail = if let Some(p) = f.problems.first() {
        format!("a configured module is not usable: {p}{degraded}")
    } else {
        format!("{module} ({source}); {} fault(s) in 24h{degraded}", f.faults_24h)
    };
    let attention = if errored {
        format!("{} policy fault(s) in the last 24 hours{degraded}; see logs/policy-faults.jsonl", f.faults_24h)
    } else {
        format!("{detail}; run `tt policy show`")
    };
    Row::new(
        "policy_module",
        "policy-module",
        if f.source == "embedded" { "code_default".to_string() } else { "setting:policy_modules".to_string() },
        StateInputs {
            errored,
            config_on: true,
            default_on: true,
            runtime_enabled: f.enabled,
            verified: true,
            dry_run: false,
        },
        runtime(&pairs.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()),
        errored.then(|| format!("{} policy fault(s) in the last 24 hours", f.faults_24h)),
        detail,
        attention,
    )
}

/// The summary counts of §11.3.
pub fn summary(rows: &[Row]) -> Value {
    let count = |e: Effective| rows.iter().filter(|r| r.effective == e).count();
    let off_class = |c: OffClass| rows.iter().filter(|r| r.off_class == Some(c)).count();
    json!({
        "on_confirmed": count(Effective::OnConfirmed),
        "on_unverified": count(Effective::OnUnverified),
        "on_dry_run": count(Effective::OnDryRun),
        "off": count(Effective::Off),
        "off_dark_default": off_class(OffClass::DarkDefault),
        "off_diverged_from_default": off_class(OffClass::DivergedFromDefault),
        "off_runtime_divergent": count(Effective::OffRuntimeDivergent),
        "errored": count(Effective::Errored),
        "attention": attention_lines(rows).len(),
    })
}

/// The attention lines, one per row at most (§11.3).
pub fn attention_lines(rows: &[Row]) -> Vec<String> {
    rows.iter().filter_map(|r| r.attention.clone()).collect()
}

/// The summary line of `tt health` without its `Guards: ` prefix (§11.4): the non-zero
/// counts in the order on-confirmed, on-unverified, on-dry-run, off,
/// off-runtime-divergent, errored; then `attention: <names> (run tt guards)` or
/// `attention: none`.
pub fn summary_line(rows: &[Row]) -> String {
    let counts: Vec<String> = Effective::SUMMARY_ORDER
        .iter()
        .filter_map(|e| {
            let n = rows.iter().filter(|r| r.effective == *e).count();
            (n > 0).then(|| format!("{n} {}", e.as_str()))
        })
        .collect();
    let names: Vec<&str> = rows.iter().filter(|r| r.attention.is_some()).map(|r| r.name).collect();
    let attention = if names.is_empty() {
        "attention: none".to_string()
    } else {
        format!("attention: {} (run tt guards)", names.join(", "))
    };
    format!("{}; {attention}", counts.join(", "))
}

/// The text output of `tt guards` (§11.3): aligned `name effective detail` rows, then
/// `Attention:` and the lines, or `No attention needed.`.
pub fn render_text(rows: &[Row]) -> String {
    let w_name = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let w_state = rows.iter().map(|r| r.effective.as_str().len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in rows {
        out.push_str(&format!("{:<w_name$}  {:<w_state$}  {}\n", r.name, r.effective.as_str(), r.detail));
    }
    let lines = attention_lines(rows);
    if lines.is_empty() {
        out.push_str("No attention needed.\n");
    } else {
        out.push_str("Attention:\n");
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn inputs(
        errored: bool,
        config_on: bool,
        default_on: bool,
        enabled: bool,
        verified: bool,
        dry: bool,
    ) -> StateInputs {
        StateInputs { errored, config_on, default_on, runtime_enabled: enabled, verified, dry_run: dry }
    }

    #[test]
    fn guards_first_match_wins() {
        use Effective as E;
        // errored beats everything.
        assert_eq!(derive_state(inputs(true, true, true, false, false, true)).0, E::Errored);
        // Rule 2 precedes rule 4: a dry run that is not working is divergent.
        assert_eq!(derive_state(inputs(false, true, true, false, true, true)).0, E::OffRuntimeDivergent);
        assert_eq!(
            derive_state(inputs(false, false, true, false, true, false)),
            (E::Off, Some(OffClass::DivergedFromDefault))
        );
        assert_eq!(
            derive_state(inputs(false, false, false, false, true, false)),
            (E::Off, Some(OffClass::DarkDefault))
        );
        assert_eq!(derive_state(inputs(false, true, true, true, true, true)).0, E::OnDryRun);
        assert_eq!(derive_state(inputs(false, true, true, true, true, false)).0, E::OnConfirmed);
        assert_eq!(derive_state(inputs(false, true, true, true, false, false)).0, E::OnUnverified);
    }

    #[test]
    fn guards_summary_line_order_and_zeroes() {
        let s = Settings::default();
        let rows = vec![
            supersession_row(true),
            action_claim_sentinel_row(&s, true, false),
            idle_room_purge_row(&s),
            supersession_row(false),
        ];
        assert_eq!(
            summary_line(&rows),
            "2 on-confirmed, 1 on-unverified, 1 off-runtime-divergent; attention: supersession (run tt guards)"
        );
        let rows = vec![supersession_row(true), action_claim_sentinel_row(&s, true, false)];
        assert_eq!(summary_line(&rows), "1 on-confirmed, 1 on-unverified; attention: none");
        assert!(render_text(&rows).ends_with("No attention needed.\n"));
    }

    #[test]
    fn guards_stop_hook_detection() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path();
        assert!(!stop_hook_installed(ws, None));
        std::fs::create_dir_all(ws.join(".claude")).unwrap();
        let hook = |cmd: &str| {
            json!({"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": cmd}]}]}}).to_string()
        };
        std::fs::write(ws.join(".claude/settings.json"), hook("tt claim observe")).unwrap();
        assert!(!stop_hook_installed(ws, None), "without --hook it is not the sentinel");
        std::fs::write(ws.join(".claude/settings.local.json"), hook("tt claim observe --hook")).unwrap();
        assert!(stop_hook_installed(ws, None));
    }
}
