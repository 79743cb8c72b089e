//! Acceptance scenarios S25–S27 (session supersession) and S35 (identity derivation),
//! protocol.md §24.2. These run `tt` without `--agent`, directly under the test process (or under
//! an intermediate shell), with harness environment variables.

use super::proto::*;
use serde_json::{Value, json};

/// The O identity: `CODEX_THREAD_ID=thread-1`.
fn o<S: AsRef<str>>(args: &[S]) -> Inv {
    Inv::new(args).env("CODEX_THREAD_ID", "thread-1")
}

/// The N identity: `CODEX_THREAD_ID=thread-2`.
fn nn<S: AsRef<str>>(args: &[S]) -> Inv {
    Inv::new(args).env("CODEX_THREAD_ID", "thread-2")
}

/// A fixture whose `L` also maps `o` and `n` (read with `tt whoami`) to alive; returns `(p, o, n)`.
fn codex_fixture(agents: &[&str]) -> (Proto, String, String) {
    let p = Proto::new(agents);
    let oid = s(&ok(&p.run(o(&["whoami"]))), "agent_id");
    let nid = s(&ok(&p.run(nn(&["whoami"]))), "agent_id");
    assert_ne!(oid, nid);
    p.set_live(&oid, "alive");
    p.set_live(&nid, "alive");
    (p, oid, nid)
}

fn superseded_warning(id: &str) -> String {
    format!("Superseded previous harness session(s): {id}.")
}

#[test]
fn s25_supersession_of_the_owner() {
    let (p, oid, nid) = codex_fixture(&[PP]);
    // 1.
    let r = ok(&p.run(o(&["try"])));
    fields(&r, json!({"status": "your_turn", "reason": "open_claim", "turn_id": 1}));
    ok(&p.tt(PP, &["join"]));
    // 2.
    let j = ok(&p.run(nn(&["join"])));
    fields(&j, json!({"warning": superseded_warning(&oid)}));
    fields(&j["room_state"], json!({"owner": null, "state": "idle", "turn_id": 1}));
    // 3.
    let evs = events(&ok(&p.tt(PP, &["events", "--after", "0"])));
    assert!(evs.len() >= 2, "{evs:#?}");
    let last_two = &evs[evs.len() - 2..];
    fields(
        &last_two[0],
        json!({"event_type": "session_superseded", "from_agent_id": nid, "to_agent_id": oid, "turn_id": 1,
               "reason": "superseded by newer codex session"}),
    );
    fields(&last_two[1], json!({"event_type": "join", "from_agent_id": nid}));
    assert!(!p.member_ids(PP).contains(&oid), "{oid} is still a member");
    // 4.
    err(&p.run(o(&["heartbeat"])), "stale_lease");
    let r = ok(&p.run(nn(&["try"])));
    fields(&r, json!({"status": "your_turn", "reason": "open_claim", "turn_id": 2}));
}

#[test]
fn s26_supersession_of_the_reserved_recipient_keeps_the_handoff() {
    let (p, oid, _nid) = codex_fixture(&[R]);
    p.join(&[R]);
    ok(&p.run(o(&["join"])));
    fields(&ok(&p.tt(R, &["try"])), json!({"status": "your_turn"}));
    let mut args = vec!["release".to_owned()];
    args.extend(h_args("S", "N"));
    let rel = ok(&p.tt(R, &args));
    fields(&rel, json!({"reserved_for": oid}));
    // 1.
    let j = ok(&p.run(nn(&["join"])));
    fields(&j, json!({"warning": superseded_warning(&oid)}));
    fields(
        &j["room_state"],
        json!({"reserved_for": null, "state": "idle", "pending_handoff_event_seq": n(&rel, "event_seq")}),
    );
    // 2.
    let r = ok(&p.run(nn(&["try"])));
    fields(
        &r,
        json!({"status": "your_turn", "reason": "sequence", "handoff": handoff("S", "N"), "from_agent_id": R,
               "turn_id": 2}),
    );
}

#[test]
fn s27_supersession_non_cases() {
    // 1. A different harness process: N runs under an intermediate shell that stays its parent.
    let (p, oid, _nid) = codex_fixture(&[]);
    fields(&ok(&p.run(o(&["try"]))), json!({"status": "your_turn"}));
    let j = ok(&p.run(nn(&["--json", "join"]).shell()));
    absent(&j, &["warning"]);
    let r = ok(&p.run(nn(&["--json", "try"]).shell()));
    fields(&r, json!({"status": "not_yet", "current_owner": oid}));

    // 2. Non-holder (fresh fixture).
    let (p, oid, nid) = codex_fixture(&[PP]);
    ok(&p.run(o(&["join"])));
    fields(&ok(&p.tt(PP, &["try"])), json!({"status": "your_turn"}));
    let j = ok(&p.run(nn(&["join"])));
    absent(&j, &["warning"]);
    let members = p.member_ids(PP);
    assert!(members.contains(&oid) && members.contains(&nid), "{members:?}");

    // 3. Incomplete harness fields (fresh fixture).
    let (p, _oid, _nid) = codex_fixture(&["codex:old"]);
    fields(&ok(&p.tt("codex:old", &["try"])), json!({"status": "your_turn"}));
    let j = ok(&p.run(nn(&["join"])));
    absent(&j, &["warning"]);
    fields(&j["room_state"], json!({"owner": "codex:old"}));
    fields(&p.state("codex:old")["room"], json!({"owner": "codex:old"}));
}

#[track_caller]
fn whoami(p: &Proto, inv: Inv) -> Value {
    let out = p.run(inv);
    assert_eq!(out.code, 0, "{out:?}");
    // Parsing stdout as JSON is the check that JSON was printed without `--json`.
    out.json()
}

#[test]
fn s35_identity_derivation() {
    let p = Proto::new(&[]);
    let u = sanitize(&login_name());
    let human = format!("human:{u}");
    // 1.
    let r = whoami(&p, Inv::new(&["whoami", "--json"]));
    fields(&r, json!({"agent_id": human, "source": "human_cli_default"}));
    assert_eq!(r["process_metadata"]["pid"], Value::Null, "{r:#}");
    // 2.
    let r = whoami(&p, Inv::new(&["--agent", "Foo:Bar", "whoami", "--json"]));
    fields(&r, json!({"agent_id": "Foo:Bar", "source": "agent_override"}));
    assert_eq!(r["process_metadata"]["display_name"], "Bar", "{r:#}");
    // 3.
    let r = whoami(&p, Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "codex:abc"));
    fields(&r, json!({"source": "harness_cli_exported_agent_id"}));
    // 4.
    let codex = harness_agent_id("codex", "test-host", "harness:thread-1", &u);
    if u == "alice" {
        assert_eq!(codex, "codex:ba4f8daf");
    }
    let r = whoami(&p, o(&["whoami"]));
    fields(&r, json!({"agent_id": codex, "source": "harness_cli_env_detection"}));
    assert_eq!(r["process_metadata"]["harness_session_id"], "harness:thread-1", "{r:#}");
    let r = whoami(&p, o(&["whoami"]).shell());
    fields(&r, json!({"agent_id": codex}));
    // 5.
    let claude = harness_agent_id("claude", "test-host", "harness:thread-1", &u);
    if u == "alice" {
        assert_eq!(claude, "claude:62293d04");
    }
    let r = whoami(&p, Inv::new(&["whoami"]).env("CLAUDECODE", "1").env("CLAUDE_CODE_SESSION_ID", "thread-1"));
    let id = s(&r, "agent_id");
    assert!(id.starts_with("claude:") && id != codex, "{id}");
    assert_eq!(id, claude);
    let r = whoami(&p, Inv::new(&["whoami", "--json"]).env("CLAUDE_CODE_SESSION_ID", "thread-1"));
    fields(&r, json!({"agent_id": human}));
    // 6.
    let out = p.run(o(&["whoami", "--text"]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("{codex}\n"));
    let out = p.run(Inv::new(&["whoami"]).env("TT_HARNESS_EXPORT", "off"));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("{human}\n"), "expected text output");
    // whoami never creates the data directory (P§4.1.3).
    assert!(!p.data.exists());
}
