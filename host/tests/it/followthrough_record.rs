//! Follow-through acceptance scenarios 1–12 and 29 (follow-through.md §12): recording,
//! restatement, the cap, expiry, the feature switch, membership, handoff claims, surfacing
//! and the classifier's conformance table through `tt policy test`. Each test drives the
//! real `tt` binary and is named after its scenario.

use super::proto::*;
use super::support::repo_root;
use serde_json::{Value, json};

/// `T0` of follow-through.md §12: 1790000000000 = 2026-09-21T14:13:20.000Z.
pub const FT0: u64 = 1_790_000_000_000;
/// `action_claim_expiry_ms` default.
pub const EXPIRY: u64 = 21_600_000;

/// A fixture at the scenarios' `T0` whose liveness file maps `agents` to alive.
pub fn fixture(agents: &[&str]) -> Proto {
    let p = Proto::new(agents);
    p.adv(FT0 - T0);
    p
}

/// S1: A and B join, A holds turn 1.
pub fn s1(p: &Proto) {
    p.join(&[A, B]);
    fields(&ok(&p.tt(A, &["try"])), json!({"status": "your_turn", "turn_id": 1}));
}

/// The room id of the fixture's project.
pub fn room_id(p: &Proto) -> String {
    s(&p.state(A)["room"], "room_id")
}

/// `tt claim observe $W --text TEXT` as `agent` (plus `extra` arguments) → ok JSON.
#[track_caller]
pub fn observe(p: &Proto, agent: &str, text: &str, extra: &[&str]) -> Value {
    let w = p.project.to_string_lossy().into_owned();
    let mut args = vec!["claim", "observe", w.as_str(), "--text", text];
    args.extend_from_slice(extra);
    ok(&p.tt(agent, &args))
}

/// `tt commitments $W [--all]` as `agent` → ok JSON.
#[track_caller]
pub fn commitments(p: &Proto, agent: &str, all: bool) -> Value {
    let w = p.project.to_string_lossy().into_owned();
    let mut args = vec!["commitments", w.as_str()];
    if all {
        args.push("--all");
    }
    ok(&p.tt(agent, &args))
}

/// The `commitments` array of a list result.
#[track_caller]
pub fn rows(v: &Value) -> Vec<Value> {
    v["commitments"].as_array().unwrap_or_else(|| panic!("no commitments array in {v:#}")).clone()
}

/// The number of stored commitment rows.
pub fn stored(p: &Proto) -> usize {
    p.sql("SELECT count(*) FROM commitments").trim().parse().unwrap()
}

/// `|a − b| ≤ 1000` for two ISO timestamps or an ISO timestamp and epoch ms.
#[track_caller]
pub fn about(iso: &Value, ms: u64) {
    let got = iso_ms(iso.as_str().unwrap_or_else(|| panic!("not a timestamp: {iso}")));
    assert!(got.abs_diff(ms) <= 1000, "{iso} is not within 1 s of {ms}");
}

/// The commitment with this id in a list result.
#[track_caller]
pub fn find(list: &Value, id: &str) -> Value {
    rows(list).into_iter().find(|c| c["commitment_id"] == id).unwrap_or_else(|| panic!("{id} not in {list:#}"))
}

#[test]
fn ft01_record() {
    let p = fixture(&[A, B]);
    s1(&p);
    let r = room_id(&p);
    let o = observe(&p, A, "I'll restart the server now to apply it.", &[]);
    fields(
        &o,
        json!({"observed": true, "registered": true, "deduplicated": false, "verb": "restart",
               "matched": "I'll restart", "commitment_id": "CMT-001", "topic": format!("{r}/agent:a"),
               "external_key": format!("actionclaim:{r}/agent:a:restart"), "room_id": r, "agent_id": A}),
    );
    about(&o["expires_at"], iso_ms("2026-09-21T20:13:20.000Z"));
    let times = p.sql("SELECT created_at, expires_at FROM commitments WHERE seq = 1");
    let (created, expires) = times.trim().split_once('|').unwrap();
    let (created, expires): (u64, u64) = (created.parse().unwrap(), expires.parse().unwrap());
    assert_eq!(expires - created, EXPIRY);
    assert_eq!(iso_ms(o["expires_at"].as_str().unwrap()), expires);
    let list = commitments(&p, A, false);
    assert_eq!(rows(&list).len(), 1, "{list:#}");
    fields(
        &rows(&list)[0],
        json!({"commitment_id": "CMT-001", "status": "pending", "open": true, "holder": "agent", "source": "observe",
               "created_turn_id": 1, "excerpt": "I'll restart the server now to apply it.", "agent_id": A,
               "origin_agent_id": A, "kind": "action_claim", "source_field": null, "handoff_event_seq": null}),
    );
    fields(&list, json!({"total": 1, "open_total": 1, "room_held_total": 0, "agent_id": A, "room_id": r}));
}

#[test]
fn ft02_restatement_is_idempotent() {
    let p = fixture(&[A, B]);
    s1(&p);
    let first = observe(&p, A, "I'll restart the server now to apply it.", &[]);
    p.adv(3_600_000);
    let again = observe(&p, A, "Restarting it now, one sec.", &[]);
    fields(&again, json!({"registered": true, "deduplicated": true, "commitment_id": "CMT-001"}));
    assert_eq!(again["expires_at"], first["expires_at"]);
    let all = commitments(&p, A, true);
    assert_eq!(rows(&all).len(), 1, "{all:#}");
    fields(&rows(&all)[0], json!({"excerpt": "I'll restart the server now to apply it.", "matched": "I'll restart"}));
}

#[test]
fn ft03_no_claim() {
    let p = fixture(&[A, B]);
    s1(&p);
    let o = observe(&p, A, "I'll take a look and let you know.", &[]);
    fields(&o, json!({"observed": true, "registered": false, "reason": "no_action_claim"}));
    assert_eq!(stored(&p), 0);
}

#[test]
fn ft04_cap_and_restatement_past_the_cap() {
    let p = fixture(&[A, B]).with_settings(r#"{"action_claim_cap":2}"#);
    s1(&p);
    fields(&observe(&p, A, "I'll restart it now.", &[]), json!({"commitment_id": "CMT-001"}));
    fields(&observe(&p, A, "I'll push the change now.", &[]), json!({"commitment_id": "CMT-002"}));
    let capped = observe(&p, A, "I'll deploy it now.", &[]);
    fields(&capped, json!({"registered": false, "reason": "per_topic_cap", "verb": "deploy", "cap": 2}));
    absent(&capped, &["commitment_id"]);
    fields(
        &observe(&p, A, "Restarting it now.", &[]),
        json!({"registered": true, "deduplicated": true, "commitment_id": "CMT-001"}),
    );
    let other = observe(&p, A, "I'll deploy it now.", &["--topic", "other"]);
    fields(&other, json!({"registered": true, "deduplicated": false, "commitment_id": "CMT-003", "topic": "other"}));
}

#[test]
fn ft05_cap_frees_up_when_a_commitment_closes() {
    let p = fixture(&[A, B]).with_settings(r#"{"action_claim_cap":2}"#);
    s1(&p);
    observe(&p, A, "I'll restart it now.", &[]);
    observe(&p, A, "I'll push the change now.", &[]);
    fields(&observe(&p, A, "I'll deploy it now.", &[]), json!({"reason": "per_topic_cap"}));
    observe(&p, A, "I'll deploy it now.", &["--topic", "other"]);
    let done = ok(&p.tt(A, &["commitments", "done", "CMT-001"]));
    fields(&done, json!({"status": "done", "changed": true}));
    fields(
        &done["commitment"],
        json!({"status": "done", "open": false, "resolution": "done", "resolved_by_agent_id": A}),
    );
    fields(
        &observe(&p, A, "I'll deploy it now.", &[]),
        json!({"registered": true, "deduplicated": false, "commitment_id": "CMT-004"}),
    );
}

#[test]
fn ft06_terminal_key_lets_a_new_commitment_be_created() {
    let p = fixture(&[A, B]);
    s1(&p);
    let first = observe(&p, A, "I'll restart it.", &[]);
    fields(&first, json!({"commitment_id": "CMT-001"}));
    fields(&ok(&p.tt(A, &["commitments", "done", "CMT-001"])), json!({"changed": true}));
    let second = observe(&p, A, "I'll restart it.", &[]);
    fields(&second, json!({"registered": true, "deduplicated": false, "commitment_id": "CMT-002"}));
    assert_eq!(second["external_key"], first["external_key"]);
}

#[test]
fn ft07_expiry_boundary() {
    let p = fixture(&[A, B]);
    s1(&p);
    let first = observe(&p, A, "I'll restart the server now to apply it.", &[]);
    p.adv(21_599_000);
    fields(&observe(&p, A, "I'll restart it.", &[]), json!({"deduplicated": true, "commitment_id": "CMT-001"}));
    p.adv(2_000);
    fields(&observe(&p, A, "I'll restart it.", &[]), json!({"deduplicated": false, "commitment_id": "CMT-002"}));
    let old = find(&commitments(&p, A, true), "CMT-001");
    fields(&old, json!({"status": "expired", "open": false, "resolution": "expired"}));
    assert_eq!(old["resolved_at"], first["expires_at"]);
    assert_eq!(old["resolved_at"], old["expires_at"]);
}

#[test]
fn ft08_feature_switch() {
    let p = fixture(&[A, B]);
    s1(&p);
    fields(&observe(&p, A, "I'll restart it now.", &[]), json!({"commitment_id": "CMT-001"}));
    p.set_settings(Some(r#"{"action_claim_enabled":0}"#));
    let off = observe(&p, A, "I'll push it now.", &[]);
    assert_eq!(off, json!({"observed": false, "registered": false, "reason": "feature_disabled"}));
    // §7.1 step 1: nothing else runs, not even the topic's validation.
    let off = observe(&p, A, "I'll push it now.", &["--topic", ""]);
    assert_eq!(off, json!({"observed": false, "registered": false, "reason": "feature_disabled"}));
    let t = ok(&p.tt(A, &["try"]));
    fields(&t, json!({"status": "your_turn", "reason": "already_owner", "open_commitments_total": 1}));
    assert_eq!(t["open_commitments"][0]["commitment_id"], "CMT-001");
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("Tests are green.", "I'll push after review."));
    let rel = ok(&p.tt(A, &args));
    fields(&rel, json!({"status": "released"}));
    absent(&rel, &["handoff_commitments", "commitment_warning"]);
    assert_eq!(stored(&p), 1);
}

#[test]
fn ft09_membership_and_rooms() {
    let p = fixture(&[A, B]);
    s1(&p);
    let w = p.project.to_string_lossy().into_owned();
    let e = err(&p.tt(Z, &["claim", "observe", &w, "--text", "I'll push it."]), "unknown_member");
    fields(&e, json!({"agent_id": Z}));
    let rooms_before = p.sql("SELECT count(*) FROM path_rooms");
    let elsewhere = p.root.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("package.json"), "").unwrap();
    let out = p.tt(A, &["claim", "observe", &elsewhere.to_string_lossy(), "--text", "I'll push it."]);
    let e = err(&out, "room_not_found");
    // §7.6: details `path`, the context path the room was looked up from.
    assert_eq!(e["path"], std::fs::canonicalize(&elsewhere).unwrap().to_string_lossy().as_ref(), "{e:#}");
    assert_eq!(p.sql("SELECT count(*) FROM path_rooms"), rooms_before);
    assert_eq!(stored(&p), 0);
}

#[test]
fn ft10_handoff_claim() {
    let p = fixture(&[A, B]);
    s1(&p);
    // A failing release (no lease) creates no row.
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("Tests are green.", "I'll push after review."));
    err(&p.tt(B, &args), "no_active_lease");
    assert_eq!(stored(&p), 0);
    let rel = ok(&p.tt(A, &args));
    fields(&rel, json!({"status": "released"}));
    assert_eq!(
        rel["handoff_commitments"],
        json!([{"field": "next_action", "verb": "push", "matched": "I'll push", "registered": true,
                "deduplicated": false, "commitment_id": "CMT-001"}])
    );
    let c = find(&commitments(&p, A, true), "CMT-001");
    fields(
        &c,
        json!({"source": "handoff", "source_field": "next_action", "handoff_event_seq": rel["event_seq"],
               "agent_id": A, "excerpt": "I'll push after review.", "created_turn_id": 1}),
    );
    let release = p.all_events(A).into_iter().rfind(|e| e["event_type"] == "release").unwrap();
    assert_eq!(release["event_seq"], rel["event_seq"]);
}

#[test]
fn ft11_handoff_commitments_stay_with_the_releaser() {
    let p = fixture(&[A, B]);
    s1(&p);
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("Tests are green.", "I'll push after review."));
    ok(&p.tt(A, &args));
    let b = ok(&p.tt(B, &["try"]));
    fields(&b, json!({"status": "your_turn"}));
    absent(&b, &["inherited_commitments", "inherited_commitments_total", "open_commitments"]);
    let a = ok(&p.tt(A, &["try"]));
    fields(&a, json!({"status": "not_yet", "open_commitments_total": 1}));
    let open = a["open_commitments"].as_array().unwrap();
    assert_eq!(open.len(), 1);
    fields(&open[0], json!({"commitment_id": "CMT-001", "verb": "push", "source": "handoff"}));
    exact_keys(
        &open[0],
        &[
            "commitment_id",
            "verb",
            "matched",
            "topic",
            "source",
            "created_at",
            "expires_at",
            "inherited_from_agent_id",
            "inherit_reason",
        ],
    );
}

#[test]
fn ft12_surfacing_is_bounded() {
    let p = fixture(&[A, B]).with_settings(r#"{"action_claim_cap":20}"#);
    s1(&p);
    for topic in ["t1", "t2"] {
        for verb in ["restart", "push", "deploy", "merge", "rebase", "revert"] {
            let o = observe(&p, A, &format!("I'll {verb} it now."), &["--topic", topic]);
            fields(&o, json!({"registered": true, "deduplicated": false, "verb": verb, "topic": topic}));
        }
    }
    assert_eq!(stored(&p), 12);
    let t = ok(&p.tt(A, &["try"]));
    fields(&t, json!({"status": "your_turn", "reason": "already_owner", "open_commitments_total": 12}));
    let ids: Vec<&str> =
        t["open_commitments"].as_array().unwrap().iter().map(|c| c["commitment_id"].as_str().unwrap()).collect();
    let want: Vec<String> = (1..=10).map(|i| format!("CMT-{i:03}")).collect();
    assert_eq!(ids, want);
    let h = ok(&p.tt(A, &["health"]));
    fields(&h["commitments"], json!({"open_total": 12, "room_held_total": 0}));
    assert_eq!(h["commitments"]["open"].as_array().unwrap().len(), 10);
    let st = p.state(A);
    fields(
        &st["commitments"],
        json!({"open_total": 12, "room_held_total": 0, "by_agent": [{"agent_id": A, "open_total": 12}]}),
    );
    // B owes nothing: its state still carries the (empty) commitments object.
    fields(&p.state(B)["commitments"], json!({"open_total": 0, "open": [], "room_held_total": 0}));
}

#[test]
fn ft29_classifier_conformance() {
    let p = fixture(&[]);
    let root = repo_root();
    let out = p.raw(&[
        "policy",
        "test",
        &root.join("policies/default.wasm").to_string_lossy(),
        &root.join("policies/cases/claims.jsonl").to_string_lossy(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let last = out.stdout.lines().last().unwrap();
    let (passed, failed) = last.split_once(" passed, ").unwrap();
    assert_eq!(failed, "0 failed", "{out:?}");
    assert!(passed.parse::<u32>().unwrap() >= 99, "{last}");
    // Every row of Tables A, B and C is in the case table.
    let cases = std::fs::read_to_string(root.join("policies/cases/claims.jsonl")).unwrap();
    let notes: Vec<String> =
        cases.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["note"].as_str().unwrap().to_owned()).collect();
    for (table, rows) in [("A", 32), ("B", 34), ("C", 33)] {
        for i in 1..=rows {
            let id = format!("{table}{i}");
            assert!(notes.iter().any(|n| n.split_whitespace().next() == Some(id.as_str())), "row {id} is missing");
        }
    }
}
