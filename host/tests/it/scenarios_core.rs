//! Acceptance scenarios S1–S8 (protocol.md §24.2): grants, release and pass, handoff validation,
//! lease expiry, takeover and fencing, harness takeover rules, contention, soak.

use super::proto::*;
use serde_json::{Value, json};

fn release_args(status: &str, next: &str) -> Vec<String> {
    let mut v = vec!["release".to_owned()];
    v.extend(h_args(status, next));
    v
}

fn pass_args(to: &str, status: &str, next: &str) -> Vec<String> {
    let mut v = vec!["pass".to_owned(), to.to_owned()];
    v.extend(h_args(status, next));
    v
}

struct AfterS1 {
    lease: String,
    guardian: u32,
}

/// S1 with its assertions; A owns turn 1 afterwards.
fn s1(p: &Proto) -> AfterS1 {
    p.join(&[A]);
    // 1.
    let r = ok(&p.tt(A, &["try"]));
    fields(
        &r,
        json!({"status": "your_turn", "reason": "open_claim", "turn_id": 1, "handoff": null,
               "from_agent_id": null, "wake_reason": "turn"}),
    );
    let lease = s(&r, "lease_id");
    let g = live_guardian(&r);
    let evs = events(&r);
    assert_eq!(evs.len(), 1, "{r:#}");
    fields(&evs[0], json!({"event_type": "claim", "to_agent_id": A}));
    let expires = p.state(A)["room"]["lease_expires_at"].clone();
    assert!(expires.is_string(), "{expires}");
    // 2.
    for _ in 0..3 {
        let r = ok(&p.tt(A, &["try"]));
        fields(
            &r,
            json!({"status": "your_turn", "reason": "already_owner", "turn_id": 1, "lease_id": lease,
                   "handoff": null, "from_agent_id": null, "guardian_pid": g, "events": [],
                   "wake_reason": "timeout"}),
        );
    }
    assert_eq!(p.state(A)["room"]["lease_expires_at"], expires);
    // 3.
    let claims = ok(&p.tt(A, &["events", "--event", "claim"]));
    assert_eq!(events(&claims).len(), 1, "{claims:#}");
    AfterS1 { lease, guardian: g }
}

/// S2 (continues S1); B owns turn 3 afterwards.
fn s2(p: &Proto, s1: &AfterS1) {
    // 1.
    let r = ok(&p.tt(A, &release_args("S1", "N1")));
    fields(&r, json!({"status": "released", "reserved_for": null}));
    let e1 = n(&r, "event_seq");
    assert!(wait_gone(s1.guardian, GUARDIAN_EXIT), "guardian {} still running after release", s1.guardian);
    // 2.
    let room = p.state(A)["room"].clone();
    fields(&room, json!({"state": "idle", "turn_id": 1, "owner": null, "pending_handoff_event_seq": e1}));
    // 3.
    let r = ok(&p.tt(A, &["try"]));
    fields(
        &r,
        json!({"status": "your_turn", "reason": "sequence", "turn_id": 2, "handoff": handoff("S1", "N1"),
               "from_agent_id": A}),
    );
    assert_ne!(s(&r, "lease_id"), s1.lease);
    // 4.
    let j = ok(&p.tt(B, &["join"]));
    fields(&j, json!({"joined_existing_room": true}));
    let members: Vec<&str> = j["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert!(members.contains(&A) && members.contains(&B), "{j:#}");
    // 5.
    let r = ok(&p.tt(A, &pass_args(B, "S2", "N2")));
    fields(&r, json!({"status": "passed", "reserved_for": B}));
    let room = p.state(A)["room"].clone();
    fields(&room, json!({"state": "reserved", "turn_id": 2}));
    assert!(room["claim_expires_at"].is_string(), "{room:#}");
    // 6.
    let r = ok(&p.tt(B, &["try"]));
    fields(
        &r,
        json!({"status": "your_turn", "reason": "direct_pass", "turn_id": 3, "handoff": handoff("S2", "N2"),
               "from_agent_id": A}),
    );
    // 7.
    let evs = events(&ok(&p.tt(A, &["events", "--after", "0"])));
    assert_eq!(types(&evs), ["claim", "release", "claim", "join", "pass", "claim"]);
    let turns: Vec<u64> = evs.iter().map(|e| n(e, "turn_id")).collect();
    assert_eq!(turns, [1, 1, 2, 2, 2, 3]);
}

#[test]
fn s01_grant_accounting_and_idempotent_reentry() {
    let p = Proto::new(&[A]);
    s1(&p);
}

#[test]
fn s02_release_solo_reclaim_pass_event_order() {
    let p = Proto::new(&[A, B]);
    let after = s1(&p);
    s2(&p, &after);
}

#[test]
fn s03_handoff_validation() {
    let p = Proto::new(&[A, B]);
    let after = s1(&p);
    s2(&p, &after);
    let before = p.state(B)["cursor_event_seq"].clone();
    // 1.
    for (stdin, field) in [
        (r#"{"status":"  ","next_action":"x"}"#, "status"),
        (r#"{"status":"s","next_action":"n","artifacts":{}}"#, "artifacts"),
        ("not json", "handoff"),
    ] {
        let e = err(&p.run(Inv::agent(B, &["release", "--stdin"]).stdin(stdin)), "invalid_handoff");
        assert_eq!(e["field"], field, "{e:#}");
    }
    // 2.
    let st = p.state(B);
    fields(&st["room"], json!({"owner": B, "turn_id": 3}));
    assert_eq!(st["cursor_event_seq"], before, "an event was added");
    // 3.
    let obj = json!({"status": "s", "next_action": "n", "extra": [1, 2]});
    let r = ok(&p.run(Inv::agent(B, &["release", "--stdin"]).stdin(obj.to_string())));
    fields(&r, json!({"status": "released", "reserved_for": A}));
    let r = ok(&p.tt(A, &["try"]));
    assert_eq!(r["handoff"], obj, "{r:#}");
}

/// S4; returns L1.
fn s4(p: &Proto) -> String {
    p.join(&[A, B]);
    // 1.
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "your_turn", "turn_id": 1}));
    let l1 = s(&r, "lease_id");
    // 2.
    p.adv(2_701_000);
    let r = ok(&p.tt(B, &["try"]));
    exact_keys(
        &r,
        &[
            "status",
            "room_id",
            "turn_id",
            "room_state",
            "reason",
            "current_owner",
            "events",
            "cursor_event_seq",
            "wake_reason",
        ],
    );
    fields(
        &r,
        json!({"status": "takeover_available", "turn_id": 1, "room_state": "stale_owner", "reason": "owner_timeout",
               "current_owner": A, "wake_reason": "turn"}),
    );
    // 3.
    let r = ok(&p.tt(A, &["heartbeat"]));
    fields(&r, json!({"status": "ok", "turn_id": 1, "lease_id": l1}));
    let expires = iso_ms(&s(&r, "lease_expires_at"));
    let want = p.now() + 2_700_000;
    assert!(expires.abs_diff(want) <= 1000, "lease_expires_at {expires} not within 1 s of {want}");
    // 4.
    let r = ok(&p.tt(B, &["try"]));
    fields(&r, json!({"status": "not_yet", "room_state": "owned", "current_owner": A}));
    assert!(r.get("lease_expires_at").is_some(), "{r:#}");
    absent(&r, &["reserved_for", "claim_expires_at", "reason"]);
    // 5.
    p.adv(2_701_000);
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "not_yet", "room_state": "stale_owner"}));
    l1
}

#[test]
fn s04_lease_expiry_is_not_revocation() {
    let p = Proto::new(&[A, B]);
    s4(&p);
}

#[test]
fn s05_takeover_after_timeout_and_fencing_order() {
    let p = Proto::new(&[A, B]);
    let l1 = s4(&p);
    // 1.
    let r = ok(&p.tt(B, &["take", "--reason", "owner silent"]));
    fields(&r, json!({"status": "your_turn", "reason": "owner_timeout", "revoked_agent_id": A, "turn_id": 2}));
    let l2 = s(&r, "lease_id");
    assert_ne!(l2, l1);
    live_guardian(&r);
    let newest = p.newest_event(B);
    fields(
        &newest,
        json!({"event_type": "takeover", "from_agent_id": A, "to_agent_id": B, "turn_id": 2,
               "reason": "owner silent", "handoff": null}),
    );
    let newest_seq = n(&newest, "event_seq");
    // 2.
    let e = err(&p.tt(A, &["heartbeat"]), "turn_mismatch");
    fields(&e, json!({"current_owner": B, "current_turn_id": 2, "room_state": "owned"}));
    // 3.
    err(&p.tt(A, &["heartbeat", "--lease-id", &l1, "--turn-id", "2"]), "stale_lease");
    err(&p.tt(A, &["heartbeat", "--lease-id", &l2, "--turn-id", "2"]), "stale_lease");
    // 4.
    err(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]), "turn_mismatch");
    // 5.
    fields(&p.state(B)["room"], json!({"owner": B, "turn_id": 2}));
    assert_eq!(n(&p.newest_event(B), "event_seq"), newest_seq, "an event was added after the takeover");
}

#[test]
fn s06_harness_takeover_rules_and_operator_override() {
    let p = Proto::new(&[A, B, C]);
    p.join(&[A]);
    // 1.
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "your_turn", "turn_id": 1}));
    // 2.
    let e = usage(&p.tth(B, &["take"]));
    assert!(s(&e, "message").contains("--reason"), "{e:#}");
    assert!(!p.member_ids(A).iter().any(|m| m == B), "the usage error joined agent:b");
    // 3.
    err(&p.tth(B, &["take", "--reason", "need it"]), "takeover_not_available");
    fields(&p.state(A)["room"], json!({"owner": A}));
    // 4.
    let r = ok(&p.tth(B, &["take", "--reason", "need it", "--operator-requested"]));
    fields(&r, json!({"reason": "operator_override", "revoked_agent_id": A, "turn_id": 2}));
    // 5.
    let r = ok(&p.tt(C, &["take"]));
    fields(&r, json!({"reason": "operator_override", "revoked_agent_id": B, "turn_id": 3}));
    fields(&p.newest_event(C), json!({"reason": "operator takeover"}));
}

#[test]
fn s07_exactly_one_winner_under_contention() {
    let ids: Vec<String> = (1..=5).map(|i| format!("agent:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let p = Proto::new(&refs);
    p.join(&refs);
    let bgs: Vec<Bg> = refs.iter().map(|a| p.spawn(Inv::agent(a, &["try"]))).collect();
    let outs: Vec<_> = bgs.into_iter().map(|bg| p.finish(bg, std::time::Duration::from_secs(60)).0).collect();
    for out in &outs {
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.stderr.contains("database_busy"), "{out:?}");
    }
    let results: Vec<Value> = outs.iter().map(|o| o.json()).collect();
    let winners: Vec<&Value> = results.iter().filter(|r| r["status"] == "your_turn").collect();
    assert_eq!(winners.len(), 1, "{results:#?}");
    fields(winners[0], json!({"status": "your_turn", "reason": "open_claim", "turn_id": 1}));
    let winner = refs[results.iter().position(|r| r["status"] == "your_turn").unwrap()];
    for r in results.iter().filter(|r| r["status"] != "your_turn") {
        fields(r, json!({"status": "not_yet", "room_state": "owned", "current_owner": winner}));
    }
    let claims = ok(&p.raw(&["--json", "events", "--event", "claim"]));
    assert_eq!(events(&claims).len(), 1, "{claims:#}");
}

#[test]
fn s08_invariants_under_churn() {
    let ids: Vec<String> = (1..=4).map(|i| format!("agent:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let p = Proto::new(&refs);
    p.join(&refs);
    let granted: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = refs
            .iter()
            .map(|agent| {
                let p = &p;
                scope.spawn(move || {
                    let mut turns = Vec::new();
                    for _ in 0..25 {
                        let r = ok(&p.tt(agent, &["try"]));
                        if r["status"] == "your_turn" && r["reason"] != "already_owner" {
                            turns.push(n(&r, "turn_id"));
                            ok(&p.tt(agent, &["release", "--status", "s", "--next-action", "n"]));
                        }
                    }
                    turns
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    assert!(!granted.is_empty());
    check_turn_invariants(&p, refs[0], &granted);
}
