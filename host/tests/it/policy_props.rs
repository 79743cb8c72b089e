//! Differential properties: the embedded component and the native crate agree on
//! generated inputs, at least 1 000 per function (policy-core.md §6); and the
//! foreign-lock decision keeps properties P1–P4 of host-lock.md §6.2 on 10 000 inputs.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::RefCell;
use stick::policy::module::LoadedModule;
use stick::policy::{DEFAULT_MODULE, Limits, engine};
use stick_policy::types as n;

fn component() -> LoadedModule {
    let engine = engine::new_engine().unwrap();
    let limits = Limits { fuel: 10_000_000, memory_bytes: 16 << 20 };
    LoadedModule::load(&engine, None, DEFAULT_MODULE, None, None, limits)
        .map(|(m, _)| m)
        .map_err(|u| u.problems)
        .unwrap()
}

fn run<T: std::fmt::Debug>(
    cases: u32,
    strategy: impl Strategy<Value = T>,
    check: impl Fn(T) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner.run(&strategy, check).unwrap();
}

const WORDS: &[&str] = &[
    "I'll",
    "I’ll",
    "I‘ll",
    "Ill",
    "I will",
    "I'm",
    "Im",
    "I am",
    "going to",
    "about to",
    "Going to",
    "About to",
    "let me",
    "Let me",
    "not",
    "never",
    "restart",
    "restarting",
    "restarted",
    "relaunch",
    "Relaunching",
    "redeploy",
    "deploying",
    "push",
    "pushing",
    "pushed",
    "merg",
    "merge",
    "Merging",
    "revert",
    "rebas",
    "Rebasing",
    "rerun",
    "re-run",
    "Re-running",
    "fix",
    "fixing",
    "fixed",
    "fixture",
    "it",
    "its",
    "this",
    "that",
    "now",
    "the",
    "fixed build",
    "server",
    ".",
    "!",
    "?",
    ",",
    "\n",
    "\r\n",
    "- ",
    "* ",
    "-",
    "•",
    "\"",
    "'",
    "“",
    "”",
    "`",
    " ",
    "  ",
    "\t",
    "\u{a0}",
    "é",
    "日本",
    "a",
    "italics",
];

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..24).prop_map(|w| {
        let mut s = String::new();
        for (i, word) in w.iter().enumerate() {
            if i > 0 && i % 2 == 0 {
                s.push(' ');
            }
            s.push_str(word);
        }
        s
    })
}

#[test]
fn claims_native_equals_component() {
    let m = RefCell::new(component());
    run(3000, prop_oneof![text(), any::<String>()], |t| {
        let native = stick_policy::claims::classify_action_claim(&t);
        let wasm = m.borrow_mut().classify_action_claim(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(native, wasm, "text {:?}", t);
        Ok(())
    });
}

const NOW: u64 = 1_776_859_200_000;

fn opt_time() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![Just(None), (0u64..40_000).prop_map(|d| Some(NOW - d)), (0u64..2_000).prop_map(|d| Some(NOW + d))]
}

fn liveness() -> impl Strategy<Value = n::Liveness> {
    prop::sample::select(vec![n::Liveness::Alive, n::Liveness::Gone, n::Liveness::Unknown, n::Liveness::Unprobed])
}

fn candidates() -> impl Strategy<Value = Vec<n::Candidate>> {
    prop::collection::vec((0u64..12, 0u64..30_000, opt_time(), opt_time(), liveness()), 0..8).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (gap, seen, wait, held, liveness))| n::Candidate {
                agent_id: format!("agent:{i}"),
                ordinal: (i as u64) * 3 + gap % 3,
                rank: i as u32,
                last_seen_at_ms: NOW - seen,
                last_wait_at_ms: wait,
                last_held_at_ms: held,
                liveness,
                session_kind: "agent".into(),
            })
            .collect()
    })
}

fn after(n: usize, pick: usize, present: bool) -> Option<n::AgentRef> {
    (n > 0).then(|| n::AgentRef { agent_id: format!("agent:{}", pick % n), rank: present.then_some((pick % n) as u32) })
}

#[test]
fn select_next_holder_native_equals_component() {
    let m = RefCell::new(component());
    let strategy = (candidates(), 0usize..8, any::<bool>(), any::<bool>(), 0u64..20_000, 0u64..30_000, 0u32..3);
    run(2000, strategy, |(cands, pick, present, assign, grace, ttl, extra)| {
        let input = n::SelectionInput {
            purpose: if assign { n::Purpose::Assign } else { n::Purpose::Release },
            now_ms: NOW,
            after: after(cands.len(), pick, present),
            member_count: cands.len() as u32 + extra,
            candidates: cands,
            presence_ttl_ms: ttl,
            waiter_grace_ms: grace,
        };
        let native = stick_policy::fairness::select_next_holder(&input).map_err(|e| e.to_string());
        let wasm = m.borrow_mut().select_next_holder(&input).map_err(|e| e.to_string());
        prop_assert_eq!(native.ok(), wasm.ok(), "input {:?}", input);
        Ok(())
    });
}

#[test]
fn should_defer_idle_claim_native_equals_component() {
    let m = RefCell::new(component());
    let strategy =
        (candidates(), 0usize..8, 0usize..8, any::<bool>(), 0u64..80_000, 0u64..20_000, 0u64..90_000, 0u64..30_000);
    run(2000, strategy, |(cands, caller, prior, present, age, grace, cooldown, ttl)| {
        let input = n::DeferralInput {
            now_ms: NOW,
            caller: format!("agent:{}", caller % cands.len().max(1)),
            handoff_age_ms: age,
            prior_owner: after(cands.len(), prior, present),
            member_count: cands.len() as u32,
            candidates: cands,
            waiter_grace_ms: grace,
            prior_owner_release_cooldown_ms: cooldown,
            presence_ttl_ms: ttl,
        };
        let native = stick_policy::fairness::should_defer_idle_claim(&input).ok();
        let wasm = m.borrow_mut().should_defer_idle_claim(&input).ok();
        prop_assert_eq!(native, wasm, "input {:?}", input);
        Ok(())
    });
}

fn harness() -> impl Strategy<Value = n::HarnessInstance> {
    let name =
        prop::option::weighted(0.9, prop::sample::select(vec!["codex".to_string(), "claude".into(), " ".into()]));
    let sid = prop::option::weighted(
        0.9,
        prop::sample::select(vec![
            "harness:a".to_string(),
            "harness:b".into(),
            "pid:1".into(),
            "term:x".into(),
            "userhost:u@h".into(),
            "".into(),
        ]),
    );
    let host = prop::option::of(prop::sample::select(vec!["h1".to_string(), "h2".into()]));
    (name, sid, host, prop::option::weighted(0.9, 1u32..3), prop::option::weighted(0.9, 10u64..12)).prop_map(
        |(harness_name, harness_session_id, harness_host_id, harness_pid, harness_process_started_at)| {
            n::HarnessInstance {
                harness_name,
                harness_session_id,
                harness_host_id,
                harness_pid,
                harness_process_started_at,
            }
        },
    )
}

#[test]
fn is_superseded_native_equals_component() {
    let m = RefCell::new(component());
    run(2000, (harness(), harness()), |(e, i)| {
        let native = stick_policy::supersession::is_superseded_classic(&e, &i);
        let wasm = m.borrow_mut().is_superseded(&e, &i).map_err(|x| TestCaseError::fail(x.to_string()))?;
        prop_assert_eq!(native, wasm, "{:?} {:?}", e, i);
        Ok(())
    });
}

#[test]
fn classify_mount_source_native_equals_component() {
    let m = RefCell::new(component());
    let source = prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "/dev/sda1".to_string(),
            "//srv/share".into(),
            "nas:/x".into(),
            "tmpfs".into(),
            "".into(),
            "/dev".into(),
            "C:".into(),
            "[fe80::1]:/v".into(),
            "/home/x".into(),
            "overlay".into(),
        ]),
        any::<String>(),
    ]);
    let fs = prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "ext4".to_string(),
            "nfs4".into(),
            "NFS".into(),
            "cifs".into(),
            "fuse.sshfs".into(),
            "tmpfs".into()
        ]),
        any::<String>(),
    ]);
    run(2000, (source, fs), |(source, fs_type)| {
        let facts = n::MountFacts { source, fs_type };
        let native = stick_policy::host_lock::classify_mount_source(&facts);
        let wasm = m.borrow_mut().classify_mount_source(&facts).map_err(|x| TestCaseError::fail(x.to_string()))?;
        prop_assert_eq!(native, wasm, "{:?}", facts);
        Ok(())
    });
}

fn lock_facts() -> impl Strategy<Value = n::ForeignLockFacts> {
    let id = prop::option::of(prop::sample::select(vec!["aaaa".to_string(), "bbbb".into(), "".into()]));
    let locality = prop::sample::select(vec![
        n::GatheredLocality::NotGathered,
        n::GatheredLocality::Local,
        n::GatheredLocality::Network,
        n::GatheredLocality::Unknown,
    ]);
    let pid = prop::sample::select(vec![
        n::PidState::NotGathered,
        n::PidState::Alive,
        n::PidState::Dead,
        n::PidState::NoPid,
        n::PidState::Unknown,
    ]);
    let age = prop::option::of(prop_oneof![0u64..600_000, Just(299_999u64), Just(300_000u64)]);
    (id.clone(), id, any::<bool>(), any::<bool>(), age, locality, pid).prop_map(
        |(lm, tm, auto_heal, dry_run, age, locality, pid_state)| n::ForeignLockFacts {
            lock_hostname: "old-host".into(),
            this_hostname: "current-host".into(),
            lock_machine_id: lm,
            this_machine_id: tm,
            auto_heal,
            dry_run,
            heartbeat_age_ms: age,
            locality,
            pid_state,
        },
    )
}

/// host-lock.md §6.2 properties P1–P4.
fn lock_properties(f: &n::ForeignLockFacts, d: &n::LockDecision) -> Result<(), TestCaseError> {
    use n::LockDecisionKind as K;
    let known_equal = matches!((f.lock_machine_id.as_deref(), f.this_machine_id.as_deref()), (Some(a), Some(b)) if a == b && !a.is_empty());
    if d.decision == K::NeedPidProbe {
        prop_assert_eq!(f.locality, n::GatheredLocality::Local, "P1");
    }
    if !f.auto_heal {
        prop_assert!(matches!(d.decision, K::HealRename | K::Conflict), "P2: {:?}", d);
    }
    if d.decision == K::HealStale {
        prop_assert!(f.auto_heal && !f.dry_run && f.locality == n::GatheredLocality::Local, "P3: {:?}", f);
        prop_assert!(matches!(f.pid_state, n::PidState::Dead | n::PidState::NoPid), "P3 pid: {:?}", f);
        prop_assert!(f.heartbeat_age_ms.is_none_or(|a| a >= 300_000), "P3 age: {:?}", f);
    }
    if d.decision == K::HealRename {
        prop_assert!(known_equal, "P4: {:?}", f);
    }
    Ok(())
}

#[test]
fn decide_foreign_lock_native_equals_component_and_keeps_p1_to_p4() {
    let m = RefCell::new(component());
    run(10_000, lock_facts(), |f| {
        let native = stick_policy::host_lock::decide_foreign_lock(&f);
        let wasm = m.borrow_mut().decide_foreign_lock(&f).map_err(|x| TestCaseError::fail(x.to_string()))?;
        lock_properties(&f, &native)?;
        prop_assert_eq!(native, wasm, "{:?}", f);
        Ok(())
    });
}
