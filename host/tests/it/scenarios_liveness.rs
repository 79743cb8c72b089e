//! Acceptance scenarios S16–S24 (protocol.md §24.2): persistently gone owners and recipients,
//! unknown liveness, heartbeats and presence, the guardian, claim timeouts and take-backs.

use super::proto::*;
use serde_json::{Value, json};
use std::time::Duration;

const GRACE_2S: &str = r#"{"gone_grace_ms":2000}"#;

const TAKEOVER_KEYS: [&str; 9] = [
    "status",
    "room_id",
    "turn_id",
    "room_state",
    "reason",
    "current_owner",
    "events",
    "cursor_event_seq",
    "wake_reason",
];
const RESERVED_TAKEOVER_KEYS: [&str; 9] = [
    "status",
    "room_id",
    "turn_id",
    "room_state",
    "reason",
    "reserved_for",
    "events",
    "cursor_event_seq",
    "wake_reason",
];

#[track_caller]
fn try_ok(p: &Proto, agent: &str) -> Value {
    ok(&p.tt(agent, &["try"]))
}

fn release_h(p: &Proto, agent: &str) -> Value {
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("S", "N"));
    ok(&p.tt(agent, &args))
}

#[test]
fn s16_owner_gone_waits_for_the_gone_grace() {
    let p = Proto::new(&[A, B]).with_settings(GRACE_2S);
    p.join(&[A, B]);
    fields(&try_ok(&p, A), json!({"status": "your_turn"}));
    p.gone(A);
    // 1.
    fields(&try_ok(&p, B), json!({"status": "not_yet", "room_state": "owned"}));
    // 2.
    p.adv(3_000);
    let r = try_ok(&p, B);
    exact_keys(&r, &TAKEOVER_KEYS);
    fields(
        &r,
        json!({"status": "takeover_available", "turn_id": 1, "room_state": "owner_gone", "reason": "owner_gone",
               "current_owner": A}),
    );
    // 3.
    err(&p.tt(A, &["heartbeat"]), "stale_lease");
    // 4.
    let r = ok(&p.tt(B, &["take", "--reason", "dead"]));
    fields(&r, json!({"reason": "owner_gone", "revoked_agent_id": A, "turn_id": 2}));
}

#[test]
fn s17_reads_defer_owner_gone_non_member_reads_are_harmless() {
    let p = Proto::new(&[A, B, Z]).with_settings(GRACE_2S);
    p.join(&[A, B]);
    fields(&try_ok(&p, A), json!({"status": "your_turn"}));
    p.gone(A);
    // 1.
    p.adv(1500);
    p.state(A);
    p.adv(1500);
    p.state(A);
    fields(&try_ok(&p, B), json!({"status": "not_yet", "room_state": "owned"}));
    // 2.
    p.adv(1500);
    fields(&try_ok(&p, B), json!({"status": "not_yet", "room_state": "owned"}));
    p.adv(1000);
    fields(&try_ok(&p, B), json!({"status": "takeover_available", "reason": "owner_gone"}));
    // 3.
    let out = p.tt(Z, &["state"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!p.member_ids(B).iter().any(|m| m == Z), "a non-member read created agent:z");
}

#[test]
fn s18_unknown_is_never_gone() {
    let p = Proto::new(&[A, B]).with_settings(GRACE_2S);
    p.set_live(A, "unknown");
    p.join(&[A, B]);
    fields(&try_ok(&p, A), json!({"status": "your_turn"}));
    // 1.
    p.adv(1_800_000);
    fields(&try_ok(&p, B), json!({"status": "not_yet", "room_state": "owned"}));
    // 2.
    p.adv(901_000);
    fields(
        &try_ok(&p, B),
        json!({"status": "takeover_available", "room_state": "stale_owner", "reason": "owner_timeout"}),
    );
}

#[test]
fn s19_heartbeats_do_not_refresh_presence() {
    let p = Proto::new(&[A, B]).with_settings(GRACE_2S);
    p.join(&[A, B]);
    fields(&try_ok(&p, A), json!({"status": "your_turn"}));
    p.gone(A);
    // 1.
    p.adv(800);
    fields(&ok(&p.tt(A, &["heartbeat"])), json!({"status": "ok"}));
    p.adv(800);
    fields(&ok(&p.tt(A, &["heartbeat"])), json!({"status": "ok"}));
    // 2.
    p.adv(800);
    fields(&try_ok(&p, B), json!({"status": "takeover_available", "reason": "owner_gone"}));
    err(&p.tt(A, &["heartbeat"]), "stale_lease");
}

#[test]
fn s20_guardian_relinquishes_only_a_persistently_gone_owner() {
    let p = Proto::new(&[A, B]).with_settings(r#"{"heartbeat_interval_ms":500,"gone_grace_ms":1000}"#);
    p.join(&[A, B]);
    let r = try_ok(&p, A);
    fields(&r, json!({"status": "your_turn"}));
    let g = live_guardian(&r);
    p.gone(A);
    std::thread::sleep(Duration::from_secs(3));
    let releases = events(&ok(&p.tt(B, &["events", "--event", "release"])));
    assert_eq!(releases.len(), 1, "{releases:#?}");
    fields(&releases[0], json!({"from_agent_id": A, "to_agent_id": null, "handoff": null, "reason": "harness_gone"}));
    let room = p.state(B)["room"].clone();
    fields(&room, json!({"owner": null, "reserved_for": null, "pending_handoff_event_seq": null}));
    assert!(wait_gone(g, Duration::from_secs(2)), "guardian {g} is still running");
    let r = try_ok(&p, B);
    fields(&r, json!({"status": "your_turn", "reason": "open_claim", "from_agent_id": null}));
}

#[test]
fn s21_guardian_spawn_repair_and_stop() {
    let p = Proto::new(&[A]);
    p.join(&[A]);
    // 1.
    let r = try_ok(&p, A);
    fields(&r, json!({"status": "your_turn"}));
    let g1 = live_guardian(&r);
    // 2.
    kill(g1, "TERM");
    assert!(wait_gone(g1, GUARDIAN_EXIT), "guardian {g1} ignored SIGTERM");
    let r = try_ok(&p, A);
    fields(&r, json!({"status": "your_turn", "reason": "already_owner"}));
    let g2 = live_guardian(&r);
    assert_ne!(g2, g1);
    // 3.
    let r = release_h(&p, A);
    fields(&r, json!({"status": "released"}));
    assert!(wait_gone(g2, GUARDIAN_EXIT), "guardian {g2} still running after release");
    let rows: Vec<Value> = p.sessions().into_iter().filter(|row| row["agent_id"] == A).collect();
    assert!(!rows.is_empty(), "no cli-sessions.json row for agent:a");
    for row in &rows {
        absent(row, &["lease_id"]);
    }
    // 4.
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("S", "N"));
    err(&p.tt(A, &args), "no_active_lease");
}

/// S22 up to the release: R, X, Y join; R claims and releases H to X.
fn reserved_for_x(p: &Proto) {
    p.join(&[R, X, Y]);
    fields(&try_ok(p, R), json!({"status": "your_turn"}));
    fields(&release_h(p, R), json!({"status": "released", "reserved_for": X}));
}

#[test]
fn s22_a_late_recipient_still_wins() {
    let p = Proto::new(&[R, X, Y]);
    reserved_for_x(&p);
    // 1.
    p.adv(1_201_000);
    let r = try_ok(&p, X);
    fields(
        &r,
        json!({"status": "your_turn", "reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": R,
               "turn_id": 2}),
    );
}

#[test]
fn s23_claim_timeout_takeover_and_the_take_back_rule() {
    let p = Proto::new(&[R, X, Y]);
    reserved_for_x(&p);
    p.adv(1_201_000);
    // 1.
    let r = try_ok(&p, Y);
    exact_keys(&r, &RESERVED_TAKEOVER_KEYS);
    fields(
        &r,
        json!({"status": "takeover_available", "turn_id": 1, "room_state": "reserved", "reason": "claim_timeout",
               "reserved_for": X}),
    );
    // 2.
    fields(&try_ok(&p, R), json!({"status": "not_yet", "room_state": "reserved", "reserved_for": X}));
    err(&p.tth(R, &["take", "--reason", "take back"]), "takeover_not_available");
    // 3.
    let r = ok(&p.tth(Y, &["take", "--reason", "late"]));
    fields(&r, json!({"reason": "claim_timeout", "revoked_agent_id": X, "turn_id": 2}));
    fields(&try_ok(&p, X), json!({"status": "not_yet", "current_owner": Y}));

    // 4. Variant: every other member's presence is stale, so the prior owner may take back.
    let p = Proto::new(&[R, X, Y]).with_settings(r#"{"presence_ttl_ms":600000}"#);
    reserved_for_x(&p);
    p.adv(1_201_000);
    fields(&try_ok(&p, R), json!({"status": "takeover_available", "reason": "claim_timeout"}));
}

/// S24 up to `gone(X)`.
fn s24_setup(p: &Proto) {
    reserved_for_x(p);
    p.adv(1_199_000);
    p.state(X);
    p.gone(X);
}

#[test]
fn s24_gone_grace_for_the_reserved_recipient() {
    let p = Proto::new(&[R, X, Y]).with_settings(GRACE_2S);
    s24_setup(&p);
    p.adv(1_500);
    // 2.
    fields(&p.state(Y)["room"], json!({"state": "reserved"}));
    fields(
        &try_ok(&p, Y),
        json!({"status": "takeover_available", "room_state": "reserved", "reason": "claim_timeout"}),
    );
    // 3.
    fields(
        &try_ok(&p, X),
        json!({"status": "your_turn", "reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": R}),
    );

    // 4. Variant (fresh fixture): silent beyond the grace.
    let p = Proto::new(&[R, X, Y]).with_settings(GRACE_2S);
    s24_setup(&p);
    p.adv(3_000);
    let r = try_ok(&p, Y);
    exact_keys(&r, &RESERVED_TAKEOVER_KEYS);
    fields(
        &r,
        json!({"status": "takeover_available", "turn_id": 1, "room_state": "recipient_gone",
               "reason": "recipient_gone", "reserved_for": X}),
    );
}
