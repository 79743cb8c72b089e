//! Follow-through acceptance scenarios 13–23 (follow-through.md §12): resume on reap.
//! Commitments move to the room when a turn ends without the holder's own release
//! (takeover of a dead or timed-out owner, relinquishment, supersession, kick, leave),
//! are attached to the next grant, and are closed under the permission rules of §7.4.

use super::followthrough_record::{commitments, find, fixture, observe, rows, s1, stored};
use super::proto::*;
use serde_json::{Value, json};
use std::time::Duration;

/// The harness identity of scenarios 14 and 24–27.
pub const HX: &str = "claude:aaaa1111";

/// The events of the room as `agent` reads them with `tt events --all`.
fn all_events(p: &Proto, agent: &str) -> Vec<Value> {
    events(&ok(&p.tt(agent, &["events", "--all"])))
}

/// The last `n` events of the room.
#[track_caller]
fn last(p: &Proto, agent: &str, n: usize) -> Vec<Value> {
    let evs = all_events(p, agent);
    assert!(evs.len() >= n, "{evs:#?}");
    evs[evs.len() - n..].to_vec()
}

fn inherited_events(p: &Proto) -> Vec<Value> {
    all_events(p, A).into_iter().filter(|e| e["event_type"] == "commitments_inherited").collect()
}

#[test]
fn ft13_inherit_on_owner_timeout_takeover() {
    let p = fixture(&[A, B]);
    s1(&p);
    fields(&observe(&p, A, "I'll restart the server.", &[]), json!({"commitment_id": "CMT-001"}));
    p.adv(2_701_000);
    let t = ok(&p.tt(B, &["take"]));
    fields(
        &t,
        json!({"status": "your_turn", "turn_id": 2, "revoked_agent_id": A, "reason": "owner_timeout",
               "inherited_commitments_total": 1, "open_commitments_total": 1}),
    );
    let inh = t["inherited_commitments"].as_array().unwrap();
    assert_eq!(inh.len(), 1, "{t:#}");
    fields(
        &inh[0],
        json!({"commitment_id": "CMT-001", "from_agent_id": A, "inherit_reason": "owner_timeout", "verb": "restart",
               "matched": "I'll restart", "inherited_from_agent_id": A, "source": "observe"}),
    );
    assert_eq!(t["open_commitments"][0]["commitment_id"], "CMT-001");
    absent(&t["open_commitments"][0], &["from_agent_id"]);
    let evs = last(&p, B, 2);
    fields(&evs[0], json!({"event_type": "takeover", "to_agent_id": B, "turn_id": 2}));
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": A, "to_agent_id": B, "turn_id": 2,
               "reason": "owner_timeout", "handoff": null,
               "payload": {"commitment_ids": ["CMT-001"], "verbs": ["restart"]}}),
    );
    let c = find(&commitments(&p, B, true), "CMT-001");
    fields(
        &c,
        json!({"agent_id": B, "origin_agent_id": A, "attached_turn_id": 2, "holder": "agent",
               "inherited_from_agent_id": A, "inherit_reason": "owner_timeout", "status": "pending"}),
    );
}

#[test]
fn ft14_inherit_on_owner_gone_takeover() {
    let p = fixture(&[HX, B]);
    ok(&p.tth(HX, &["join"]));
    ok(&p.tt(B, &["join"]));
    fields(&ok(&p.tth(HX, &["try"])), json!({"status": "your_turn", "turn_id": 1}));
    let w = p.project.to_string_lossy().into_owned();
    fields(
        &ok(&p.tth(HX, &["claim", "observe", &w, "--text", "I'll restart the server."])),
        json!({"commitment_id": "CMT-001", "agent_id": HX}),
    );
    p.gone(HX);
    p.adv(601_000);
    let t = ok(&p.tt(B, &["take"]));
    fields(&t, json!({"status": "your_turn", "turn_id": 2, "reason": "owner_gone", "revoked_agent_id": HX}));
    fields(
        &t["inherited_commitments"][0],
        json!({"commitment_id": "CMT-001", "from_agent_id": HX, "inherit_reason": "owner_gone"}),
    );
}

#[test]
fn ft15_no_inheritance_on_an_operator_override() {
    let p = fixture(&[A, B]);
    s1(&p);
    observe(&p, A, "I'll restart the server.", &[]);
    p.adv(60_000);
    let t = ok(&p.tt(B, &["take"]));
    fields(&t, json!({"status": "your_turn", "reason": "operator_override", "turn_id": 2}));
    absent(&t, &["inherited_commitments", "inherited_commitments_total", "open_commitments"]);
    assert!(inherited_events(&p).is_empty());
    fields(&find(&commitments(&p, A, true), "CMT-001"), json!({"agent_id": A, "holder": "agent"}));
    let a = ok(&p.tt(A, &["try"]));
    fields(&a, json!({"status": "not_yet", "open_commitments_total": 1}));
    assert_eq!(a["open_commitments"][0]["commitment_id"], "CMT-001");
}

/// Scenario 16 up to B's grant; returns `p`.
fn kicked_owner() -> Proto {
    let p = fixture(&[A, B, C]);
    s1(&p);
    p.join(&[C]);
    observe(&p, A, "I'll rebase on main.", &[]);
    let w = p.project.to_string_lossy().into_owned();
    let k = ok(&p.tt(C, &["kick", A, &w, "--force", "--reason", "stuck"]));
    fields(&k, json!({"status": "kicked", "target_was_owner": true}));
    let evs = last(&p, C, 2);
    fields(&evs[0], json!({"event_type": "kick", "from_agent_id": C, "to_agent_id": A, "reason": "stuck"}));
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": A, "to_agent_id": null, "reason": "kicked",
               "turn_id": 1, "payload": {"commitment_ids": ["CMT-001"], "verbs": ["rebase"]}}),
    );
    let list = commitments(&p, C, false);
    fields(&list, json!({"total": 1, "open_total": 0, "room_held_total": 1}));
    fields(
        &rows(&list)[0],
        json!({"commitment_id": "CMT-001", "holder": "room", "agent_id": null, "inherited_from_agent_id": A,
               "inherit_reason": "kicked", "open": true}),
    );
    fields(&ok(&p.tt(C, &["health"]))["commitments"], json!({"room_held_total": 1, "open_total": 0}));
    fields(&p.state(C)["commitments"], json!({"room_held_total": 1, "by_agent": []}));
    let t = ok(&p.tt(B, &["try"]));
    fields(&t, json!({"status": "your_turn", "turn_id": 2, "inherited_commitments_total": 1}));
    fields(
        &t["inherited_commitments"][0],
        json!({"commitment_id": "CMT-001", "from_agent_id": A, "inherit_reason": "kicked"}),
    );
    p
}

#[test]
fn ft16_kick_of_the_owner() {
    let p = kicked_owner();
    let c = find(&commitments(&p, B, true), "CMT-001");
    fields(&c, json!({"agent_id": B, "attached_turn_id": 2, "origin_agent_id": A, "holder": "agent"}));
    fields(&ok(&p.tt(C, &["health"]))["commitments"], json!({"room_held_total": 0}));
}

#[test]
fn ft17_leave_of_the_owner() {
    let p = fixture(&[A, B, C]);
    s1(&p);
    p.join(&[C]);
    observe(&p, A, "I'll merge the PR.", &[]);
    fields(&ok(&p.tt(A, &["leave"])), json!({"status": "left"}));
    let evs = last(&p, B, 2);
    fields(&evs[0], json!({"event_type": "leave", "from_agent_id": A}));
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": A, "to_agent_id": null, "reason": "left"}),
    );
    let t = ok(&p.tt(B, &["try"]));
    fields(&t, json!({"status": "your_turn", "turn_id": 2}));
    fields(&t["inherited_commitments"][0], json!({"commitment_id": "CMT-001", "inherit_reason": "left"}));
    let c = ok(&p.tt(C, &["try"]));
    fields(&c, json!({"status": "not_yet"}));
    absent(&c, &["open_commitments", "open_commitments_total"]);
}

#[test]
fn ft18_leave_of_a_non_holder_while_someone_holds_the_turn() {
    let p = fixture(&[A, B, C]);
    s1(&p);
    p.join(&[C]);
    fields(&observe(&p, C, "I'll revert the config change.", &[]), json!({"commitment_id": "CMT-001"}));
    fields(&ok(&p.tt(C, &["leave"])), json!({"status": "left"}));
    let evs = last(&p, A, 2);
    fields(&evs[0], json!({"event_type": "leave", "from_agent_id": C}));
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": C, "to_agent_id": A, "reason": "left",
               "turn_id": 1}),
    );
    let c = find(&commitments(&p, A, true), "CMT-001");
    fields(&c, json!({"agent_id": A, "attached_turn_id": 1, "origin_agent_id": C, "inherited_from_agent_id": C}));
    let t = ok(&p.tt(A, &["try"]));
    fields(&t, json!({"status": "your_turn", "reason": "already_owner", "open_commitments_total": 1}));
    fields(&t["open_commitments"][0], json!({"commitment_id": "CMT-001", "inherited_from_agent_id": C}));
    absent(&t, &["inherited_commitments", "inherited_commitments_total"]);
}

#[test]
fn ft19_relinquish() {
    // The real guardian relinquishes once A is persistently gone (heartbeat 500 ms, grace
    // 1 s); the retained case at 1 500 ms of silence is pinned at service level
    // (followthrough_service.rs), where the clock is frozen.
    let p = fixture(&[A, B]).with_settings(r#"{"heartbeat_interval_ms":500,"gone_grace_ms":1000}"#);
    p.join(&[A, B]);
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "your_turn", "turn_id": 1}));
    let g = live_guardian(&r);
    observe(&p, A, "I'll restart the server.", &[]);
    observe(&p, A, "I'll push the fix.", &[]);
    p.gone(A);
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while inherited_events(&p).is_empty() {
        if std::time::Instant::now() >= until {
            panic!(
                "the guardian did not relinquish; guardian {g} alive: {}; state: {:#}; events: {:#?}",
                alive(g),
                p.state(B),
                all_events(&p, B)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let evs = last(&p, B, 2);
    fields(
        &evs[0],
        json!({"event_type": "release", "from_agent_id": A, "to_agent_id": null, "reason": "harness_gone", "handoff": null}),
    );
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": A, "to_agent_id": null, "reason": "harness_gone",
               "payload": {"commitment_ids": ["CMT-001", "CMT-002"], "verbs": ["restart", "push"]}}),
    );
    assert!(wait_gone(g, GUARDIAN_EXIT), "guardian {g} is still running");
    let t = ok(&p.tt(B, &["try"]));
    fields(
        &t,
        json!({"status": "your_turn", "reason": "open_claim", "from_agent_id": null, "inherited_commitments_total": 2}),
    );
    let inh = t["inherited_commitments"].as_array().unwrap();
    assert_eq!(
        inh.iter().map(|c| c["commitment_id"].clone()).collect::<Vec<_>>(),
        vec![json!("CMT-001"), json!("CMT-002")]
    );
    assert!(inh.iter().all(|c| c["from_agent_id"] == A && c["inherit_reason"] == "harness_gone"), "{t:#}");
}

#[test]
fn ft20_supersession() {
    // The old and the new session share one harness process (the test process), as in
    // protocol.md's supersession scenarios.
    let p = fixture(&[PP]);
    let old = |args: &[&str]| Inv::new(args).env("CODEX_THREAD_ID", "thread-1");
    let new = |args: &[&str]| Inv::new(args).env("CODEX_THREAD_ID", "thread-2");
    let oid = s(&ok(&p.run(old(&["whoami"]))), "agent_id");
    let nid = s(&ok(&p.run(new(&["whoami"]))), "agent_id");
    p.set_live(&oid, "alive");
    p.set_live(&nid, "alive");
    fields(&ok(&p.run(old(&["try"]))), json!({"status": "your_turn", "turn_id": 1}));
    ok(&p.tt(PP, &["join"]));
    let w = p.project.to_string_lossy().into_owned();
    fields(
        &ok(&p.run(old(&["claim", "observe", &w, "--text", "I'll restart the server."]))),
        json!({"commitment_id": "CMT-001", "agent_id": oid}),
    );
    let j = ok(&p.run(new(&["join"])));
    assert!(j["warning"].as_str().unwrap().contains(&oid), "{j:#}");
    let evs = last(&p, PP, 3);
    fields(&evs[0], json!({"event_type": "session_superseded", "from_agent_id": nid, "to_agent_id": oid}));
    fields(
        &evs[1],
        json!({"event_type": "commitments_inherited", "from_agent_id": oid, "to_agent_id": null,
               "reason": "session_superseded", "payload": {"commitment_ids": ["CMT-001"], "verbs": ["restart"]}}),
    );
    fields(&evs[2], json!({"event_type": "join", "from_agent_id": nid}));
    let t = ok(&p.run(new(&["try"])));
    fields(&t, json!({"status": "your_turn", "turn_id": 2, "inherited_commitments_total": 1}));
    fields(
        &t["inherited_commitments"][0],
        json!({"commitment_id": "CMT-001", "from_agent_id": oid, "inherit_reason": "session_superseded"}),
    );
}

#[test]
fn ft21_expired_commitments_are_not_inherited() {
    let p = fixture(&[A, B]);
    s1(&p);
    observe(&p, A, "I'll restart the server.", &[]);
    p.adv(21_601_000);
    let t = ok(&p.tt(B, &["take"]));
    fields(&t, json!({"status": "your_turn", "reason": "owner_timeout", "turn_id": 2}));
    absent(&t, &["inherited_commitments", "inherited_commitments_total", "open_commitments"]);
    assert!(inherited_events(&p).is_empty());
    fields(
        &find(&commitments(&p, B, true), "CMT-001"),
        json!({"status": "expired", "open": false, "agent_id": A, "resolution": "expired"}),
    );
    assert_eq!(p.sql("SELECT status FROM commitments WHERE seq = 1").trim(), "expired");
}

#[test]
fn ft22_room_deletion_removes_commitments() {
    let p = fixture(&[A, B]);
    s1(&p);
    observe(&p, A, "I'll restart the server.", &[]);
    ok(&p.tt(B, &["leave"]));
    fields(&ok(&p.tt(A, &["leave"])), json!({"status": "room_deleted"}));
    assert_eq!(stored(&p), 0);
    ok(&p.tt(A, &["join"]));
    fields(&commitments(&p, A, true), json!({"total": 0}));
    fields(&observe(&p, A, "I'll restart the server.", &[]), json!({"commitment_id": "CMT-002"}));
}

#[test]
fn ft23_close_permissions() {
    let p = kicked_owner();
    let e = err(&p.tt(C, &["commitments", "done", "CMT-001"]), "not_commitment_owner");
    fields(&e, json!({"agent_id": B, "commitment_id": "CMT-001"}));
    fields(&ok(&p.tt(C, &["commitments", "done", "CMT-001", "--force"])), json!({"status": "done", "changed": true}));
    let e = err(&p.tt(A, &["commitments", "done", "CMT-001"]), "unknown_member");
    fields(&e, json!({"agent_id": A}));
    let e = err(&p.tt(B, &["commitments", "withdraw", "CMT-001", "--reason", "x"]), "commitment_not_open");
    fields(&e, json!({"status": "done", "commitment_id": "CMT-001"}));
    let d = ok(&p.tt(B, &["commitments", "done", "CMT-001"]));
    fields(&d, json!({"status": "done", "changed": false}));
    fields(&d["commitment"], json!({"resolved_by_agent_id": C, "resolution": "done", "agent_id": B}));
    let e = err(&p.tt(B, &["commitments", "done", "CMT-999"]), "commitment_not_found");
    fields(&e, json!({"commitment_id": "CMT-999"}));
    let e = err(&p.tt(B, &["commitments", "done", "nonsense"]), "invalid_input");
    fields(&e, json!({"field": "commitment_id"}));
    // Other accepted spellings, and a withdraw with a reason.
    observe(&p, B, "I'll push the rebased branch.", &[]);
    for id in ["cmt-2", "2", "CMT-0002"] {
        fields(&ok(&p.tt(B, &["commitments", "done", id])), json!({"status": "done"}));
    }
    observe(&p, B, "I'll deploy it now.", &[]);
    let w = ok(&p.tt(B, &["commitments", "withdraw", "CMT-003", "--reason", "  no longer needed  "]));
    fields(&w, json!({"status": "withdrawn", "changed": true}));
    fields(&w["commitment"], json!({"status": "withdrawn", "resolution": "withdrawn: no longer needed"}));
    let long = "x".repeat(501);
    let e = err(&p.tt(B, &["commitments", "withdraw", "CMT-003", "--reason", &long]), "invalid_input");
    fields(&e, json!({"field": "reason"}));
    assert_eq!(stored(&p), 3);
}
