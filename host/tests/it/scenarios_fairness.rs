//! Acceptance scenarios S9–S15 (protocol.md §24.2): fair next-holder selection, idle-claim
//! deferral, the take-back cooldown, stale peers.

use super::proto::*;
use serde_json::json;

/// `tt@X release H` (handoff `{"status":"S","next_action":"N"}`).
fn release(p: &Proto, agent: &str) -> serde_json::Value {
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("S", "N"));
    ok(&p.tt(agent, &args))
}

/// `tt@X pass <to> --status <st> --next-action <nx>`.
fn pass(p: &Proto, agent: &str, to: &str, st: &str, nx: &str) -> serde_json::Value {
    let mut args = vec!["pass".to_owned(), to.to_owned()];
    args.extend(h_args(st, nx));
    let r = ok(&p.tt(agent, &args));
    fields(&r, json!({"status": "passed", "reserved_for": to}));
    r
}

#[track_caller]
fn try_status(p: &Proto, agent: &str, status: &str) -> serde_json::Value {
    let r = ok(&p.tt(agent, &["try"]));
    fields(&r, json!({"status": status}));
    r
}

#[test]
fn s09_never_held_beats_round_robin() {
    const ONE: &str = "agent:one";
    const THREE: &str = "agent:three";
    const TWO: &str = "agent:two";
    let p = Proto::new(&[ONE, THREE, TWO]);
    p.join(&[ONE, THREE, TWO]);
    // 1.
    fields(&try_status(&p, ONE, "your_turn"), json!({"reason": "open_claim"}));
    pass(&p, ONE, TWO, "S", "N");
    fields(&try_status(&p, TWO, "your_turn"), json!({"reason": "direct_pass"}));
    // 2.
    try_status(&p, ONE, "not_yet");
    try_status(&p, THREE, "not_yet");
    // 3.
    fields(&release(&p, TWO), json!({"status": "released", "reserved_for": THREE}));
}

#[test]
fn s10_longest_without_the_stick() {
    let p = Proto::new(&[A, B, C, D]);
    p.join(&[A, B, C, D]);
    // 1.
    try_status(&p, A, "your_turn");
    p.adv(1000);
    pass(&p, A, C, "S", "N");
    try_status(&p, C, "your_turn");
    p.adv(1000);
    pass(&p, C, B, "S", "N");
    try_status(&p, B, "your_turn");
    p.adv(1000);
    pass(&p, B, A, "S", "N");
    try_status(&p, A, "your_turn");
    // 2.
    for agent in [B, C, D] {
        try_status(&p, agent, "not_yet");
    }
    fields(&release(&p, A), json!({"reserved_for": D}));
    // 3.
    p.adv(1000);
    fields(&try_status(&p, D, "your_turn"), json!({"reason": "sequence"}));
    for agent in [A, B, C] {
        try_status(&p, agent, "not_yet");
    }
    fields(&release(&p, D), json!({"reserved_for": C}));
}

#[test]
fn s11_fairness_by_rank_after_churn() {
    let ids: Vec<String> = (0..=7).map(|i| format!("agent:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let p = Proto::new(&refs);
    p.join(&refs);
    for i in [1, 2, 3, 4, 6] {
        let r = ok(&p.tt(refs[i], &["leave"]));
        fields(&r, json!({"status": "left"}));
    }
    // 1.
    fields(&try_status(&p, "agent:0", "your_turn"), json!({"reason": "open_claim"}));
    try_status(&p, "agent:5", "not_yet");
    try_status(&p, "agent:7", "not_yet");
    // 2.
    fields(&release(&p, "agent:0"), json!({"status": "released", "reserved_for": "agent:5"}));
}

#[test]
fn s12_fairest_member_not_waiting_reserves_nobody() {
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    try_status(&p, A, "your_turn");
    // 1.
    p.adv(11_000);
    let r = release(&p, A);
    fields(&r, json!({"reserved_for": null}));
    let room = p.state(A)["room"].clone();
    fields(&room, json!({"state": "idle", "pending_handoff_event_seq": n(&r, "event_seq")}));
    // 2.
    let r = try_status(&p, B, "your_turn");
    fields(&r, json!({"reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": A}));
}

#[test]
fn s13_no_immediate_take_backs_cooldown() {
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    try_status(&p, A, "your_turn");
    fields(&ok(&p.tt(B, &["try", "--park"])), json!({"status": "not_yet"}));
    // 1.
    p.adv(11_000);
    fields(&release(&p, A), json!({"reserved_for": null}));
    // 2.
    let r = try_status(&p, A, "not_yet");
    absent(&r, &["reason"]);
    p.adv(58_000);
    try_status(&p, A, "not_yet");
    // 3.
    p.adv(3_000);
    let r = try_status(&p, A, "your_turn");
    fields(&r, json!({"reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": A}));
}

/// S14 steps 1–2.
fn s14_setup(p: &Proto) {
    p.join(&[A, B, C]);
    // 1.
    fields(&try_status(p, C, "your_turn"), json!({"reason": "open_claim"}));
    p.adv(1000);
    pass(p, C, A, "S0", "N0");
    fields(&try_status(p, A, "your_turn"), json!({"reason": "direct_pass"}));
    // 2.
    fields(&ok(&p.tt(B, &["try", "--park"])), json!({"status": "not_yet"}));
    fields(&ok(&p.tt(C, &["try", "--park"])), json!({"status": "not_yet"}));
    p.adv(11_000);
    fields(&release(p, A), json!({"reserved_for": null}));
}

#[test]
fn s14_grace_window_for_the_fairest_member() {
    let p = Proto::new(&[A, B, C]);
    s14_setup(&p);
    // 3.
    let r = try_status(&p, C, "not_yet");
    absent(&r, &["reason"]);
    let r = try_status(&p, B, "your_turn");
    fields(&r, json!({"reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": A}));

    // 4. Variant (fresh fixture, steps 1–2 repeated).
    let p = Proto::new(&[A, B, C]);
    s14_setup(&p);
    p.adv(10_500);
    fields(&try_status(&p, C, "your_turn"), json!({"reason": "sequence"}));
}

#[test]
fn s15_stale_peer_does_not_block_and_target_any_does_not_refresh() {
    let settings = r#"{"presence_ttl_ms":1000}"#;
    let p = Proto::new(&[A, B]).with_settings(settings);
    p.join(&[A, B]);
    try_status(&p, A, "your_turn");
    p.adv(2000);
    // 1.
    let out = p.tt(B, &["events", "--wait", "--target", "any", "--timeout", "0"]);
    assert_eq!(out.code, 0, "{out:?}");
    // 2.
    fields(&release(&p, A), json!({"reserved_for": null}));
    fields(&try_status(&p, A, "your_turn"), json!({"reason": "sequence"}));

    // 3. Contrast (fresh fixture): a self-targeted stream refreshes B's presence.
    let p = Proto::new(&[A, B]).with_settings(settings);
    p.join(&[A, B]);
    try_status(&p, A, "your_turn");
    p.adv(2000);
    let out = p.tt(B, &["events", "--wait", "--timeout", "0"]);
    assert_eq!(out.code, 0, "{out:?}");
    fields(&release(&p, A), json!({"reserved_for": B}));
}
