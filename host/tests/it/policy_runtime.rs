//! The `Policies` facade: lazy loading, fail-closed fallbacks, one warning per
//! command, the fault log (policy-core.md §4.1, §4.3).

use super::support::repo_root;
use stick::clock::Clock;
use stick::policy::{Limits, ModuleSpec, Policies, PolicyConfig};
use stick_policy::types as n;

pub fn config(dir: &std::path::Path, modules: &[&str], forced: &[&str]) -> PolicyConfig {
    PolicyConfig {
        modules: modules
            .iter()
            .map(|m| ModuleSpec { configured: (*m).to_string(), path: repo_root().join(m) })
            .collect(),
        cache_dir: Some(dir.join("cache/policy")),
        limits: Limits { fuel: 10_000_000, memory_bytes: 16 << 20 },
        forced_faults: forced.iter().map(|s| (*s).to_string()).collect(),
        fault_log: Some(dir.join("logs/policy-faults.jsonl")),
        clock: Clock::from_origin(1_776_859_200_000),
    }
}

pub fn candidates() -> n::SelectionInput {
    let c = |id: &str, rank: u32| n::Candidate {
        agent_id: id.into(),
        ordinal: u64::from(rank),
        rank,
        last_seen_at_ms: 1_000,
        last_wait_at_ms: Some(1_000),
        last_held_at_ms: None,
        liveness: n::Liveness::Unprobed,
        session_kind: "agent".into(),
    };
    n::SelectionInput {
        purpose: n::Purpose::Release,
        now_ms: 1_000,
        after: Some(n::AgentRef { agent_id: "agent:a".into(), rank: Some(0) }),
        member_count: 2,
        candidates: vec![c("agent:a", 0), c("agent:b", 1)],
        presence_ttl_ms: 10_000,
        waiter_grace_ms: 10_000,
    }
}

#[test]
fn decisions_come_from_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Policies::new(config(dir.path(), &[], &[]));
    let claim = p.classify_action_claim("I'll restart the server.").unwrap();
    assert_eq!((claim.verb, claim.matched.as_str()), (n::ActionVerb::Restart, "I'll restart"));
    assert_eq!(p.select_next_holder(&candidates()).as_deref(), Some("agent:b"));
    assert!(p.take_warnings().is_empty());
    assert!(p.faults().is_empty());
}

#[test]
fn forced_faults_apply_the_fallback_warn_once_and_log_each() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let mut p =
        Policies::new(config(dir.path(), &[], &["classify-action-claim", "select-next-holder", "is-superseded"]));
    assert_eq!(p.classify_action_claim("I'll restart the server."), None);
    assert_eq!(p.classify_action_claim("I'll push it now."), None);
    assert_eq!(p.select_next_holder(&candidates()), None);
    assert!(!p.is_superseded(&n::HarnessInstance::default(), &n::HarnessInstance::default()));
    // Unforced slots still answer.
    assert_eq!(
        p.classify_mount_source(&n::MountFacts { source: Some("/dev/sda1".into()), fs_type: None }).locality,
        n::Locality::Local
    );
    let warnings = p.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("warning: policy `claims` classify-action-claim failed"), "{warnings:?}");
    let log = std::fs::read_to_string(dir.path().join("logs/policy-faults.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["slot"], "claims");
    assert_eq!(lines[0]["function"], "classify-action-claim");
    assert!(lines[0]["ts"].as_str().unwrap().starts_with("2026-04-22T12:00:0"), "{}", lines[0]);
    assert_eq!(lines[2]["function"], "select-next-holder");
    assert_eq!(lines[3]["slot"], "supersession");
}

#[test]
fn no_fault_log_without_a_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent");
    let mut cfg = config(&missing, &[], &["should-defer-idle-claim"]);
    cfg.cache_dir = None;
    let mut p = Policies::new(cfg);
    let input = n::DeferralInput {
        now_ms: 0,
        caller: "agent:a".into(),
        handoff_age_ms: 0,
        prior_owner: None,
        member_count: 0,
        candidates: vec![],
        waiter_grace_ms: 0,
        prior_owner_release_cooldown_ms: 0,
        presence_ttl_ms: 0,
    };
    assert!(!p.should_defer_idle_claim(&input), "fallback: do not defer");
    assert!(!missing.exists(), "nothing is created when the data dir does not exist");
}

#[test]
fn a_swapped_slot_is_served_by_its_module() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Policies::new(config(dir.path(), &["policies/verified-only.wasm"], &[]));
    let h = |sid: &str| n::HarnessInstance {
        harness_name: Some("codex".into()),
        harness_session_id: Some(sid.into()),
        harness_host_id: None,
        harness_pid: Some(1),
        harness_process_started_at: Some(2),
    };
    // Classic would evict a verified session; verified-only does not.
    assert!(!p.is_superseded(&h("harness:a"), &h("harness:b")));
    assert!(p.is_superseded(&h("pid:1"), &h("harness:b")));
    assert!(p.classify_action_claim("I'll push it").is_some(), "claims still from the embedded default");
    let infos = p.slot_infos();
    assert_eq!(infos[2].source, "policies/verified-only.wasm");
    assert_eq!(infos[0].source, "embedded");
}
