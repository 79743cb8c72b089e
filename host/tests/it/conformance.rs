//! Conformance checks of `cli.md` and `protocol.md` beyond the acceptance scenarios S1–S41:
//! exact field sets, documented text lines, hints and compact elision, verbatim usage errors,
//! help, output mode, identity, paths, settings, storage and the session side file.
//!
//! Every test names the spec sections it checks ("C§" = cli.md, "P§" = protocol.md). The fixture
//! is `proto::Proto` (protocol.md §24.1): `TT_NOW_MS` clock, guardians killed on drop (recorded
//! from JSON outputs, and found in `/proc` by their `--context-path` under the fixture's temp dir,
//! which covers guardians started by text-mode invocations too).

use super::proto::*;
use super::support::Output;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, Read};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers

/// `tt --agent X --text <args>`.
fn text_inv(agent: &str, args: &[&str]) -> Inv {
    let mut all = vec!["--agent", agent, "--text"];
    all.extend_from_slice(args);
    Inv::new(&all)
}

/// Runs `tt --agent X --text <args>` and returns its output.
fn tx(p: &Proto, agent: &str, args: &[&str]) -> Output {
    p.run(text_inv(agent, args))
}

/// `tt --agent X --text <args>` → exit 0; returns stdout lines.
#[track_caller]
fn tx_ok(p: &Proto, agent: &str, args: &[&str]) -> Vec<String> {
    let out = tx(p, agent, args);
    assert_eq!(out.code, 0, "expected exit 0: {out:?}");
    out.stdout.lines().map(str::to_owned).collect()
}

fn keyset(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v:#}")).keys().cloned().collect()
}

/// `core ⊆ keys(v) ⊆ core ∪ optional` (optional: fields companion specifications add).
#[track_caller]
fn keys_within(v: &Value, core: &[&str], optional: &[&str]) {
    let got = keyset(v);
    for k in core {
        assert!(got.contains(*k), "missing key `{k}` in {v:#}");
    }
    for k in &got {
        assert!(core.contains(&k.as_str()) || optional.contains(&k.as_str()), "unexpected key `{k}` in {v:#}");
    }
}

/// P§3.1: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[track_caller]
fn assert_iso(v: &Value, key: &str) {
    let t = v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {v:#}"));
    assert!(is_iso(t), "`{key}` = {t:?} is not an ISO-8601 UTC timestamp with milliseconds");
}

fn pstr(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// The usage error's message.
#[track_caller]
fn usage_msg(out: &Output) -> String {
    s(&usage(out), "message")
}

/// `A` owns turn 1 of a room where `others` are members too: `tt@A try` after everybody joined.
fn owned_room(agents: &[&str]) -> (Proto, Value) {
    let p = Proto::new(agents);
    p.join(agents);
    let r = ok(&p.tt(agents[0], &["try"]));
    assert_eq!(r["status"], "your_turn", "{r:#}");
    (p, r)
}

const CORE_EVENT_KEYS: [&str; 11] = [
    "event_seq",
    "event_id",
    "room_id",
    "turn_id",
    "event_type",
    "from_agent_id",
    "to_agent_id",
    "handoff",
    "reason",
    "created_at",
    "payload",
];

const PATH_ROOM_KEYS: [&str; 9] = [
    "room_id",
    "canonical_path",
    "state",
    "turn_id",
    "owner",
    "reserved_for",
    "lease_expires_at",
    "claim_expires_at",
    "pending_handoff_event_seq",
];

const MEMBER_KEYS: [&str; 4] = ["agent_id", "display_name", "status", "last_seen_at"];

const MEMBER_VERBOSE_EXTRA: [&str; 16] = [
    "ordinal",
    "joined_at",
    "last_wait_at",
    "session_kind",
    "liveness",
    "host_id",
    "boot_id",
    "pid",
    "process_started_at",
    "harness_name",
    "harness_session_id",
    "harness_host_id",
    "harness_boot_id",
    "harness_pid",
    "harness_process_started_at",
    "last_park_hint_event_seq",
];

const HIDDEN_KEYS: [&str; 5] = ["older_count", "shown_count", "total_count", "latest_activity_at", "horizon_start_at"];

/// A process this test started, with its output collected by threads; killed (by its own pid)
/// on drop if it is still running.
struct Running {
    child: Child,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
}

fn collect(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

impl Running {
    /// Starts `inv` in the background; with `close_stdout` the read end of its stdout is closed
    /// at once (a broken pipe for the child).
    fn start(p: &Proto, inv: &Inv, close_stdout: bool) -> Running {
        let mut child = p.command(inv).spawn().unwrap();
        let so = child.stdout.take().unwrap();
        let out = if close_stdout {
            drop(so);
            None
        } else {
            Some(collect(so))
        };
        let err = Some(collect(child.stderr.take().unwrap()));
        Running { child, out, err }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits at most `within`; returns the output and the terminating signal, if any.
    fn finish(mut self, within: Duration) -> (Output, Option<i32>) {
        let until = Instant::now() + within;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(Instant::now() < until, "process {} still running after {within:?}", self.child.id());
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = self.out.take().map(|h| h.join().unwrap()).unwrap_or_default();
        let stderr = self.err.take().map(|h| h.join().unwrap()).unwrap_or_default();
        let out = Output {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        (out, status.signal())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sets the modification time of `path` to `secs` (epoch seconds) with `touch`.
fn set_mtime(path: &Path, secs: u64) {
    let st = Command::new("touch").arg("-m").arg("-d").arg(format!("@{secs}")).arg(path).status().unwrap();
    assert!(st.success());
}

fn wall_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The first event of `evs` of type `ty`.
#[track_caller]
fn first_of(evs: &[Value], ty: &str) -> Value {
    evs.iter().find(|e| e["event_type"] == ty).unwrap_or_else(|| panic!("no `{ty}` event in {evs:#?}")).clone()
}

// =============================================================================================
// C§2.3 Option parsing rules

#[test]
fn parse_boolean_flag_with_value_is_usage() {
    // C§2.3 rule 2: `--flag=value` for a boolean is a usage error; C§2.3 rule 11: nothing written.
    let p = Proto::new(&[A]);
    usage(&p.tt(A, &["join", "--force-new=1"]));
    usage(&p.tt(A, &["state", "--all=true"]));
    usage(&p.raw(&["--json", "--verbose=1", "whoami"]));
    assert_eq!(p.raw(&["--json=1", "whoami"]).code, 2);
    usage(&p.tt(A, &["wait", "--park=yes", "--timeout", "0"]));
    assert!(!p.data.exists(), "a usage error created the data directory");
}

#[test]
fn parse_boolean_never_consumes_the_next_token() {
    // C§2.3 rule 2: `tt join --force-new /repo` joins /repo.
    let p = Proto::new(&[A]);
    let sub = p.project.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let r = ok(&p.tt(A, &["join", "--force-new", &pstr(&sub)]));
    assert_eq!(r["canonical_path"], pstr(&sub), "{r:#}");
}

#[test]
fn parse_value_option_requires_value() {
    // C§2.3 rule 3: "Option --<name> requires a value." (no next token, or the next begins with --).
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let cases: [(&[&str], &str); 5] = [
        (&["events", "--limit"], "limit"),
        (&["events", "--limit", "--all"], "limit"),
        (&["events", "--after", "--json"], "after"),
        (&["kick", B, "--reason"], "reason"),
        (&["msg", "send", "room", "hi", "--path"], "path"),
    ];
    for (args, name) in cases {
        assert_eq!(usage_msg(&p.tt(A, args)), format!("Option --{name} requires a value."), "{args:?}");
    }
    assert_eq!(usage_msg(&p.raw(&["--json", "whoami", "--agent"])), "Option --agent requires a value.");
}

#[test]
fn parse_single_dash_tokens_are_ordinary_values() {
    // C§2.3 rule 1: `-1`, `-x`, `-` are ordinary tokens (option values or positionals).
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let r = ok(&p.tt(A, &["kick", B, "--reason", "-x", "--force"]));
    assert_eq!(r["status"], "kicked", "{r:#}");
    let kick = p.newest_event(A);
    fields(&kick, json!({"event_type": "kick", "reason": "-x"}));
    let e = usage(&p.tt(A, &["events", "--after", "-1"]));
    assert_eq!(e["message"], "--after must be an integer.", "{e:#}");
    for body in ["-1", "-x", "-"] {
        ok(&p.tt(A, &["msg", "send", "room", body]));
        assert_eq!(p.newest_event(A)["payload"]["body"], body);
    }
    // A positional path `-x` (nonexistent, normalised lexically inside P) finds the room at P.
    let st = ok(&p.tt(A, &["state", "-x"]));
    assert_eq!(st["room"]["canonical_path"], pstr(&p.project), "{st:#}");
}

#[test]
fn parse_equals_form_of_value_options() {
    // C§2.3 rule 1: `--name=value`.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    ok(&p.tt(A, &["msg", "send", "room", "one"]));
    ok(&p.tt(A, &["msg", "send", "room", "two"]));
    let r = ok(&p.tt(A, &["events", "--after=0", "--limit=1", "--event=message_sent"]));
    assert_eq!(events(&r).len(), 1, "{r:#}");
    assert_eq!(events(&r)[0]["payload"]["body"], "one", "{r:#}");
    fields(&r, json!({"has_more": true}));
    let w = ok(&p.raw(&["--agent=agent:q", "--json", "whoami"]));
    assert_eq!(w["agent_id"], "agent:q", "{w:#}");
}

#[test]
fn parse_integer_options() {
    // C§2.3 rule 4: `^\d+$` fitting in i64, else "--<name> must be an integer.".
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let cases: [(&[&str], &str); 12] = [
        (&["events", "--limit", "abc"], "limit"),
        (&["events", "--after", "+1"], "after"),
        (&["events", "--after", "1.0"], "after"),
        (&["events", "--after", "9223372036854775808"], "after"),
        (&["wait", "--after", "-1", "--timeout", "0"], "after"),
        (&["try", "--after", "x"], "after"),
        (&["msg", "recv", "--after", "x"], "after"),
        (&["msg", "recv", "--limit", "1e3"], "limit"),
        (&["notes", "list", "--limit", "ten"], "limit"),
        (&["notes", "add", "x", "--turn", "1.5"], "turn"),
        (&["heartbeat", "--lease-id", "L", "--turn-id", "one"], "turn-id"),
        (&["events", "--wait", "--after", " 1", "--timeout", "0"], "after"),
    ];
    for (args, name) in cases {
        assert_eq!(usage_msg(&p.tt(A, args)), format!("--{name} must be an integer."), "{args:?}");
    }
    // The largest i64 is accepted.
    let r = ok(&p.tt(A, &["events", "--after", "9223372036854775807"]));
    assert_eq!(r["cursor_event_seq"], json!(9_223_372_036_854_775_807_u64), "{r:#}");
    assert_eq!(events(&r), Vec::<Value>::new());
}

#[test]
fn parse_durations() {
    // C§2.3 rule 5: bare seconds or ^(\d+)(ms|s|m|h)$, else the verbatim message.
    let (p, _) = owned_room(&[A, B]);
    const MSG: &str = "--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h.";
    for bad in ["5x", "1.5", "5d", "ms", "-1", "1 s", "5S", ""] {
        assert_eq!(usage_msg(&p.tt(B, &["wait", "--timeout", bad])), MSG, "--timeout {bad:?}");
        assert_eq!(usage_msg(&p.tt(B, &["events", "--wait", "--timeout", bad])), MSG, "--timeout {bad:?}");
    }
    for good in ["0", "0ms", "0s", "0m", "0h", "200ms"] {
        let out = p.tt(B, &["events", "--wait", "--timeout", good]);
        assert_eq!(out.code, 0, "--timeout {good}: {out:?}");
    }
    let r = ok(&p.tt(B, &["wait", "--timeout", "300ms"]));
    fields(&r, json!({"status": "not_yet", "wake_reason": "timeout"}));
}

#[test]
fn parse_unknown_option_command_and_subcommand() {
    // C§2.3 rule 6: verbatim messages.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let cases: [(&[&str], &str); 9] = [
        (&["state", "--bogus"], "Unknown option --bogus for tt state."),
        (&["state", "--bogus=1"], "Unknown option --bogus for tt state."),
        (&["whoami", "--all"], "Unknown option --all for tt whoami."),
        (&["list", "--force"], "Unknown option --force for tt list."),
        (&["heartbeat", "--park"], "Unknown option --park for tt heartbeat."),
        (&["notes", "resolve"], "Unknown notes subcommand: resolve"),
        (&["msg", "frob"], "Unknown msg subcommand: frob"),
        (&["instructions", "frob"], "Unknown instructions subcommand: frob"),
        (&["frobnicate"], "Unknown command: frobnicate"),
    ];
    for (args, msg) in cases {
        assert_eq!(usage_msg(&p.tt(A, args)), msg, "{args:?}");
    }
    // P§23: commands that exist only for out-of-scope upstream features are unknown.
    for cmd in ["standby", "chat", "ack", "up"] {
        assert_eq!(usage_msg(&p.tt(A, &[cmd])), format!("Unknown command: {cmd}"));
    }
    let m = usage_msg(&p.tt(A, &["msg", "send", "room", "hi", "--bogus"]));
    assert!(m.starts_with("Unknown option --bogus for tt msg"), "{m}");
}

#[test]

fn parse_unknown_option_message_names_the_command_only() {
    // C§2.3 rule 6: "Unknown option --<name> for tt <command>." — positionals (or a value that
    // follows the unknown option) are not part of <command>.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let cases: [(&[&str], &str); 4] = [
        (&["join", "--reason", "x"], "Unknown option --reason for tt join."),
        (&["state", "--bogus", "foo"], "Unknown option --bogus for tt state."),
        (&["state", "foo", "--bogus"], "Unknown option --bogus for tt state."),
        (&["list", ".", "--force"], "Unknown option --force for tt list."),
    ];
    for (args, msg) in cases {
        assert_eq!(usage_msg(&p.tt(A, args)), msg, "{args:?}");
    }
}

#[test]
fn parse_repeated_options() {
    // C§2.3 rule 7: a value option twice is a usage error; repeating a boolean is allowed.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    usage(&p.tt(A, &["events", "--limit", "1", "--limit", "2"]));
    usage(&p.tt(A, &["kick", B, "--reason", "a", "--reason", "b", "--force"]));
    usage(&p.raw(&["--agent", A, "--agent", B, "--json", "whoami"]));
    usage(&p.tt(A, &["msg", "send", "room", "x", "--path", ".", "--path", "."]));
    assert!(p.member_ids(A).contains(&B.to_owned()), "a usage error kicked B");
    ok(&p.tt(A, &["state", "--all", "--all", "--json"]));
    let r = ok(&p.tt(A, &["state", "--verbose", "--verbose"]));
    assert!(r["room"].get("sequence_index").is_some(), "{r:#}");
}

#[test]
fn parse_too_many_positionals() {
    // C§2.3 rule 8.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let cases: [&[&str]; 14] = [
        &["whoami", "x"],
        &["list", ".", "."],
        &["join", ".", "."],
        &["leave", ".", "."],
        &["kick", B, ".", "."],
        &["wait", ".", ".", "--timeout", "0"],
        &["try", ".", "."],
        &["take", ".", "."],
        &["heartbeat", ".", "."],
        &["release", ".", "."],
        &["health", ".", "."],
        &["state", ".", "."],
        &["events", ".", "."],
        &["notes", "list", "x"],
    ];
    for args in cases {
        usage(&p.tt(A, args));
    }
    usage(&p.tt(A, &["msg", "recv", "x"]));
    usage(&p.tt(A, &["instructions", "show", ".", "."]));
    assert_eq!(p.member_ids(A), vec![A.to_owned(), B.to_owned()]);
}

#[test]
fn parse_double_dash_ends_option_parsing() {
    // C§2.1: after `--` every token is positional (a body such as `--help`); C§2.6: `-h` only
    // before `--`.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    ok(&p.tt(A, &["msg", "send", "room", "--", "--help"]));
    assert_eq!(p.newest_event(A)["payload"]["body"], "--help");
    ok(&p.tt(A, &["msg", "send", "room", "--", "-h", "--json"]));
    assert_eq!(p.newest_event(A)["payload"]["body"], "-h --json");
    ok(&p.tt(A, &["msg", "send", "--room", "--", "a", "b"]));
    assert_eq!(p.newest_event(A)["payload"]["body"], "a b");
    let note = ok(&p.tt(A, &["notes", "add", "--", "--turn", "5"]));
    assert_eq!(note["turn_id"], Value::Null, "{note:#}");
    let notes = ok(&p.tt(A, &["notes", "list"]))["notes"].clone();
    assert_eq!(notes[0]["body"], "--turn 5", "{notes:#}");
}

#[test]
fn parse_global_options_anywhere() {
    // C§2.1, C§2.2: global options before or after the command.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let w = ok(&p.raw(&["whoami", "--json", "--agent", "agent:q"]));
    assert_eq!(w["agent_id"], "agent:q", "{w:#}");
    let st = ok(&p.raw(&["state", "--agent", A, "--json"]));
    assert_eq!(st["room"]["canonical_path"], pstr(&p.project), "{st:#}");
    let st = ok(&p.raw(&["--json", "--agent", A, "--verbose", "state"]));
    assert!(st["room"].get("created_at").is_some(), "{st:#}");
}

#[test]
fn parse_mutually_exclusive_options() {
    // C§2.3 rule 10, C§2.12, C§4.9, C§4.14, C§4.16, C§4.18.
    let (p, _) = owned_room(&[A, B]);
    let cases: [&[&str]; 9] = [
        &["events", "--wait", "--follow"],
        &["events", "--all", "--wait", "--timeout", "0"],
        &["events", "--limit", "5", "--follow", "--timeout", "0"],
        &["msg", "recv", "--wait", "--follow"],
        &["msg", "recv", "--all", "--wait", "--timeout", "0"],
        &["heartbeat", "--lease-id", "L"],
        &["heartbeat", "--turn-id", "1"],
        &["wait", "--park", "--claim", "--timeout", "0"],
        &["instructions", "edit", "--user", "--project"],
    ];
    for args in cases {
        usage(&p.tt(B, args));
    }
    let stdin_cases: [&[&str]; 4] = [
        &["release", "--stdin", "--status", "s"],
        &["release", "--stdin", "--next-action", "n"],
        &["msg", "send", "room", "hi", "--stdin"],
        &["notes", "add", "x", "--stdin"],
    ];
    for args in stdin_cases {
        usage(&p.run(Inv::agent(A, args).stdin(r#"{"status":"s","next_action":"n"}"#)));
    }
    // Nothing happened: A still owns turn 1, no message, no note.
    let st = p.state(A);
    fields(&st["room"], json!({"owner": A, "turn_id": 1}));
    assert!(p.all_events(A).iter().all(|e| e["event_type"] != "message_sent"));
    assert_eq!(ok(&p.tt(A, &["notes", "list"]))["notes"], json!([]));
}

#[test]
fn parse_validation_happens_before_anything_is_written() {
    // C§2.3 rule 11, P§22 (exit 2: nothing was read or written), P§4.2.
    let p = Proto::new(&[A]);
    let bad_liveness = p.root.join("bad-liveness.json");
    std::fs::write(&bad_liveness, r#"{"agent:a":"dead"}"#).unwrap();
    usage(&p.tt(A, &["join", "--bogus"]));
    usage(&p.tt(A, &["wait", "--timeout", "5x"]));
    usage(&p.tt(A, &["msg", "send", "room"]));
    usage(&p.tt(A, &["notes", "add", "  "]));
    usage(&p.tth(A, &["take"]));
    let e = usage(&p.run(Inv::agent(A, &["join"]).env("TT_NOW_MS", "1.5")));
    assert_eq!(e["message"], "TT_NOW_MS must be an integer number of epoch milliseconds.", "{e:#}");
    usage(&p.run(Inv::agent(A, &["join"]).env("TT_NOW_MS", "-5")));
    usage_code(&p.run(Inv::agent(A, &["join"]).env("TT_SETTINGS", r#"{"bogus_ms":1}"#)), "invalid_settings");
    usage_code(&p.run(Inv::agent(A, &["join"]).env("TT_LIVENESS_FILE", &bad_liveness)), "invalid_settings");
    assert!(!p.data.exists(), "a usage error created the data directory");
    // settings.toml is validated before the database is created.
    std::fs::create_dir_all(&p.data).unwrap();
    std::fs::write(p.data.join("settings.toml"), "bogus_ms = 1\n").unwrap();
    usage_code(&p.tt(A, &["join"]), "invalid_settings");
    assert!(!p.data.join("rooms.sqlite").exists(), "invalid settings.toml, yet the database was created");
}

#[test]
fn parse_usage_error_in_an_existing_room_changes_nothing() {
    // C§2.3 rule 11: a usage error by a non-member does not join it.
    let p = Proto::new(&[A, B]);
    p.join(&[A]);
    usage(&p.tt(B, &["wait", "--timeout", "5x"]));
    usage(&p.tt(B, &["try", "--bogus"]));
    usage(&p.tth(B, &["take"]));
    assert_eq!(p.member_ids(A), vec![A.to_owned()]);
    assert!(p.sessions().iter().all(|r| r["agent_id"] != B), "{:#?}", p.sessions());
}

#[test]
fn paths_release_pass_assign_take_the_path_positionally_only() {
    // C§2.11: `--path` with release/pass/assign → "tt <command> takes its workspace path positionally.".
    let (p, _) = owned_room(&[A, B]);
    let dir = pstr(&p.project);
    for cmd in ["release", "pass"] {
        let m = usage_msg(&p.tt(A, &[cmd, "--path", &dir, "--status", "s", "--next-action", "n"]));
        assert_eq!(m, format!("tt {cmd} takes its workspace path positionally."));
    }
    let m = usage_msg(&p.tt(A, &["assign", B, "--path", &dir, "--status", "s", "--next-action", "n"]));
    assert_eq!(m, "tt assign takes its workspace path positionally.");
    // Positionally it works.
    let r = ok(&p.tt(A, &["release", &dir, "--status", "s", "--next-action", "n"]));
    assert_eq!(r["status"], "released", "{r:#}");
}

#[test]
fn paths_msg_and_notes_take_path_option() {
    // C§2.11: `msg` and `notes` take the room path as `--path DIR`.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let sub = p.project.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let nested = ok(&p.tt(A, &["join", &pstr(&sub), "--force-new"]));
    let sub_room = s(&nested, "room_id");
    let m = ok(&p.tt(A, &["msg", "send", "room", "in-sub", "--path", &pstr(&sub)]));
    let evs = events(&ok(&p.tt(A, &["events", &pstr(&sub), "--after", "0"])));
    let sent = evs.iter().find(|e| e["event_seq"] == m["event_seq"]).expect("message not in the nested room");
    assert_eq!(sent["room_id"], sub_room.as_str());
    let note = ok(&p.tt(A, &["notes", "add", "sub-note", "--path", &pstr(&sub)]));
    assert_eq!(note["room_id"], sub_room.as_str(), "{note:#}");
    let listed = ok(&p.tt(A, &["notes", "list", "--path", &pstr(&sub)]));
    assert_eq!(listed["notes"].as_array().unwrap().len(), 1, "{listed:#}");
    let recv = ok(&p.tt(A, &["msg", "recv", "--target", "any", "--path", &pstr(&sub)]));
    assert_eq!(events(&recv).len(), 1, "{recv:#}");
}

// =============================================================================================
// C§2.6 Help

/// An environment in which anything but help would fail: a data dir that does not exist, a
/// malformed clock, settings and liveness file.
fn hostile_help_env(p: &Proto, inv: Inv) -> Inv {
    let bad = p.root.join("bad-liveness.json");
    std::fs::write(&bad, "not json").unwrap();
    inv.env("TT_DATA_DIR", p.root.join("no-such-data-dir"))
        .env("TT_NOW_MS", "soon")
        .env("TT_SETTINGS", "not json")
        .env("TT_LIVENESS_FILE", &bad)
}

#[track_caller]
fn assert_general_help(out: &Output, what: &str) {
    assert_eq!(out.code, 0, "{what}: {out:?}");
    assert!(!out.stdout.trim_start().starts_with('{'), "{what}: help must be text: {out:?}");
    assert!(out.stdout.contains("wait"), "{what}: {out:?}");
    for line in out.stdout.lines() {
        assert_ne!(line.split_whitespace().next(), Some("guard"), "{what}: general help lists `guard`: {line:?}");
    }
}

#[test]
fn help_general_forms() {
    // C§2.6: `tt --help`, `tt -h`, `tt help`, `tt` print the general help (without `guard`),
    // side-effect free, text even with --json.
    let p = Proto::new(&[A]);
    let forms: [&[&str]; 5] = [&["--help"], &["-h"], &["help"], &[], &["--json", "--help"]];
    for args in forms {
        let out = p.run(hostile_help_env(&p, Inv::new(args)));
        assert_general_help(&out, &format!("{args:?}"));
    }
    assert!(!p.root.join("no-such-data-dir").exists(), "help created the data directory");
}

/// The commands of C§1 (and their aliases) with their help usage prefix.
const HELP_COMMANDS: [&[&str]; 25] = [
    &["whoami"],
    &["list"],
    &["join"],
    &["leave"],
    &["kick"],
    &["wait"],
    &["try"],
    &["take"],
    &["takeover"],
    &["heartbeat"],
    &["release"],
    &["pass"],
    &["assign"],
    &["health"],
    &["status"],
    &["state"],
    &["events"],
    &["msg", "send"],
    &["msg", "recv"],
    &["notes", "add"],
    &["notes", "list"],
    &["instructions", "show"],
    &["instructions", "edit"],
    &["instructions", "reset"],
    &["guard"],
];

#[track_caller]
fn assert_command_help(out: &Output, cmd: &[&str], what: &str) {
    assert_eq!(out.code, 0, "{what}: {out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let prefix = format!("Usage: tt {}", cmd.join(" "));
    let first = lines.first().copied().unwrap_or_default();
    assert!(
        first == prefix || first.starts_with(&format!("{prefix} ")),
        "{what}: first line must be `{prefix} <synopsis>`: {:?}",
        out.stdout
    );
    assert_eq!(lines.get(1).copied(), Some(""), "{what}: a blank line after Usage: {:?}", out.stdout);
    assert!(!lines.get(2).copied().unwrap_or_default().is_empty(), "{what}: a description paragraph: {:?}", out.stdout);
    let blank_after = lines.iter().skip(2).position(|l| l.is_empty());
    assert!(blank_after.is_some(), "{what}: a blank line after the description: {:?}", out.stdout);
    assert!(lines.iter().any(|l| l.contains("--help, -h")), "{what}: {:?}", out.stdout);
}

#[test]
fn help_per_command_structure_and_forms() {
    // C§2.6: `tt <cmd> --help`, `-h` and `tt help <cmd>`: `Usage: tt <command> <synopsis>`, blank,
    // description, blank, options ending with the common options (`--help, -h`); no side effects.
    let p = Proto::new(&[A]);
    for cmd in HELP_COMMANDS {
        let mut a: Vec<&str> = cmd.to_vec();
        a.push("--help");
        assert_command_help(&p.run(hostile_help_env(&p, Inv::new(&a))), cmd, &format!("{a:?}"));
        let mut a: Vec<&str> = cmd.to_vec();
        a.push("-h");
        assert_command_help(&p.run(hostile_help_env(&p, Inv::new(&a))), cmd, &format!("{a:?}"));
        let mut a = vec!["help"];
        a.extend_from_slice(cmd);
        assert_command_help(&p.run(hostile_help_env(&p, Inv::new(&a))), cmd, &format!("{a:?}"));
    }
    assert!(!p.root.join("no-such-data-dir").exists(), "help created the data directory");
    assert_eq!(p.running_guardians(), Vec::<u32>::new());
}

#[test]
fn help_ignores_other_arguments_and_output_mode() {
    // C§2.6: a known command's help does not validate the other arguments; help ignores --json.
    let p = Proto::new(&[A]);
    let forms: [&[&str]; 6] = [
        &["wait", "--timeout", "5x", "--help"],
        &["wait", "--bogus", "-h"],
        &["state", "a", "b", "c", "--help"],
        &["--json", "help", "wait"],
        &["--agent", "bad agent id", "wait", "--help"],
        &["msg", "send", "room", "hi", "--help"],
    ];
    for args in forms {
        let out = p.run(hostile_help_env(&p, Inv::new(args)));
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.starts_with("Usage: tt "), "{args:?}: {out:?}");
        assert!(!out.stdout.trim_start().starts_with('{'), "{args:?}: {out:?}");
    }
    assert!(!p.root.join("no-such-data-dir").exists());
    // The message was not sent (help, not a send).
    assert!(!p.data.exists());
}

#[test]
fn help_unknown_command_is_usage() {
    // C§2.6: `tt help <unknown>` and `tt <unknown> --help` → usage "Unknown command: <name>".
    let p = Proto::new(&[A]);
    for args in [["help", "frobnicate"], ["frobnicate", "--help"]] {
        let mut a = vec!["--json"];
        a.extend_from_slice(&args);
        let out = p.raw(&a);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(out.err_json(), json!({"error": "cli_error", "message": "Unknown command: frobnicate"}));
    }
}

// =============================================================================================
// C§2.7 Output mode

#[test]
fn output_mode_selection() {
    // C§2.7: --json wins over --text; harness environments default to JSON.
    let p = Proto::new(&[]);
    let is_json = |inv: Inv| -> bool {
        let out = p.run(inv);
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout.trim_start().starts_with('{')
    };
    assert!(!is_json(Inv::new(&["whoami"])), "default is text");
    for v in ["1", "true", "TRUE", "True"] {
        assert!(is_json(Inv::new(&["whoami"]).env("TT_HARNESS_EXPORT", v)), "TT_HARNESS_EXPORT={v}");
    }
    for v in ["0", "false", "no", "off", "", "  ", "yes"] {
        assert!(!is_json(Inv::new(&["whoami"]).env("TT_HARNESS_EXPORT", v)), "TT_HARNESS_EXPORT={v:?}");
    }
    assert!(is_json(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "codex:abc")));
    assert!(!is_json(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "   ")), "blank TT_HARNESS_AGENT_ID");
    assert!(is_json(Inv::new(&["whoami"]).env("GEMINI_CLI", "1")));
    assert!(is_json(Inv::new(&["whoami"]).env("CLAUDECODE", "1")));
    assert!(!is_json(Inv::new(&["whoami"]).env("CLAUDE_CODE_SESSION_ID", "s")));
    assert!(!is_json(Inv::new(&["whoami", "--text"]).env("TT_HARNESS_AGENT_ID", "codex:abc")));
    assert!(is_json(Inv::new(&["--json", "--text", "whoami"])));
    assert!(is_json(Inv::new(&["--text", "whoami", "--json"])));
}

#[test]
fn output_json_is_pretty_printed_with_two_spaces() {
    // C§2.8: one JSON object, pretty-printed with 2-space indentation, followed by a newline.
    let p = Proto::new(&[A]);
    let out = p.tt(A, &["join"]);
    let v = ok(&out);
    assert!(out.stdout.ends_with("}\n"), "{:?}", out.stdout);
    assert!(v.is_object());
    assert!(out.stdout.lines().all(|l| (l.len() - l.trim_start().len()) % 2 == 0), "{:?}", out.stdout);
    let second = out.stdout.lines().nth(1).unwrap();
    assert!(second.starts_with("  \"") && !second.starts_with("   "), "{:?}", out.stdout);
}

// =============================================================================================
// C§2.8 Compact and verbose JSON, hints, event elision

#[test]
fn compact_results_omit_coordination_prompt_and_next() {
    // C§2.8 compact rule 1 (and rule 2: join omits policy).
    let p = Proto::new(&[A, B]);
    let mut results = vec![ok(&p.tt(A, &["join"])), ok(&p.tt(B, &["join"]))];
    results.push(ok(&p.tt(A, &["try"])));
    results.push(ok(&p.tt(B, &["try"])));
    results.push(ok(&p.tt(B, &["wait", "--timeout", "0"])));
    results.push(ok(&p.tt(A, &["heartbeat"])));
    results.push(ok(&p.tt(A, &["state"])));
    results.push(ok(&p.tt(A, &["health"])));
    results.push(ok(&p.tt(A, &["events"])));
    results.push(ok(&p.tt(A, &["msg", "send", "room", "x"])));
    results.push(ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"])));
    results.push(ok(&p.tt(B, &["try"])));
    results.push(ok(&p.tt(A, &["take", "--reason", "r"])));
    results.push(ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"])));
    for r in &results {
        absent(r, &["coordination_prompt", "next", "policy"]);
    }
}

#[test]

fn verbose_results_include_coordination_prompt_and_next() {
    // C§2.8 verbose: join, state, health, events, wait, try, take, heartbeat, release, pass,
    // assign and msg send include `coordination_prompt` and `next`; join includes `policy`;
    // msg send still has no hint.
    let p = Proto::new(&[A, B, C]);
    let mut results = vec![("join", ok(&p.tt(A, &["join", "--verbose"])))];
    p.join(&[B, C]);
    results.push(("try", ok(&p.tt(A, &["try", "--verbose"]))));
    results.push(("wait", ok(&p.tt(B, &["wait", "--timeout", "0", "--verbose"]))));
    results.push(("heartbeat", ok(&p.tt(A, &["heartbeat", "--verbose"]))));
    results.push(("state", ok(&p.tt(A, &["state", "--verbose"]))));
    results.push(("health", ok(&p.tt(A, &["health", "--verbose"]))));
    results.push(("events", ok(&p.tt(A, &["events", "--verbose"]))));
    let sent = ok(&p.tt(A, &["msg", "send", "room", "x", "--verbose"]));
    absent(&sent, &["hint"]);
    results.push(("msg send", sent));
    results.push(("pass", ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n", "--verbose"]))));
    ok(&p.tt(B, &["try"]));
    results.push(("assign", ok(&p.tt(B, &["assign", C, "--status", "s", "--next-action", "n", "--verbose"]))));
    ok(&p.tt(C, &["try"]));
    results.push(("release", ok(&p.tt(C, &["release", "--status", "s", "--next-action", "n", "--verbose"]))));
    results.push(("take", ok(&p.tt(A, &["take", "--reason", "r", "--verbose"]))));
    let missing: Vec<&str> = results
        .iter()
        .filter(|(_, r)| !r["coordination_prompt"].is_string() || !r["next"].is_string())
        .map(|(what, _)| *what)
        .collect();
    assert!(missing.is_empty(), "no coordination_prompt/next in verbose {missing:?}: {results:#?}");
    assert!(results[0].1["policy"].is_object(), "{:#}", results[0].1);
}

#[test]
fn hints_only_on_documented_transitions() {
    // C§2.8 compact rule 5.
    let p = Proto::new(&[A, B, C]);
    let j = ok(&p.tt(A, &["join"]));
    assert!(s(&j, "hint").contains("expected peers are listed in members"), "{j:#}");
    p.join(&[B]);
    // your_turn with a guardian_pid (grant and already_owner).
    for _ in 0..2 {
        let r = ok(&p.tt(A, &["try"]));
        assert!(r["guardian_pid"].is_u64(), "{r:#}");
        assert!(s(&r, "hint").contains("release or pass before stopping"), "{r:#}");
    }
    // not_yet without events: no hint.
    let r = ok(&p.tt(B, &["try"]));
    fields(&r, json!({"status": "not_yet", "events": []}));
    absent(&r, &["hint"]);
    // not_yet with events and no service hint: the exact text.
    p.join(&[C]);
    let r = ok(&p.tt(B, &["try"]));
    fields(&r, json!({"status": "not_yet", "wake_reason": "event"}));
    assert_eq!(r["hint"], "Wait exited: process events; if work remains, start one successor.", "{r:#}");
    // No hints on these.
    let none: Vec<Value> = vec![
        ok(&p.tt(A, &["heartbeat"])),
        ok(&p.tt(A, &["state"])),
        ok(&p.tt(A, &["health"])),
        ok(&p.tt(A, &["events"])),
        ok(&p.tt(A, &["msg", "send", "room", "x"])),
        ok(&p.tt(A, &["notes", "add", "x"])),
        ok(&p.tt(A, &["notes", "list"])),
        ok(&p.raw(&["list", "--json"])),
        ok(&p.raw(&["--agent", A, "whoami", "--json"])),
    ];
    for r in &none {
        absent(r, &["hint"]);
    }
    // release / pass / assign: "Work remains".
    let r = ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    assert!(s(&r, "hint").contains("Work remains"), "{r:#}");
    ok(&p.tt(B, &["try"]));
    let r = ok(&p.tt(B, &["assign", C, "--status", "s", "--next-action", "n"]));
    assert!(s(&r, "hint").contains("Work remains"), "{r:#}");
    ok(&p.tt(C, &["try"]));
    let r = ok(&p.tt(C, &["release", "--status", "s", "--next-action", "n"]));
    assert!(s(&r, "hint").contains("Work remains"), "{r:#}");
    // take (your_turn with guardian).
    let r = ok(&p.tt(A, &["take", "--reason", "r"]));
    assert!(s(&r, "hint").contains("release or pass before stopping"), "{r:#}");
    // leave and kick: no hint.
    let r = ok(&p.tt(A, &["kick", C, "--force"]));
    absent(&r, &["hint"]);
    let r = ok(&p.tt(B, &["leave"]));
    absent(&r, &["hint"]);
}

#[test]
fn takeover_available_has_no_hint() {
    // C§2.8 rule 5 / C§4.6 example: exactly the listed keys.
    let (p, _) = owned_room(&[A, B]);
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
}

#[test]
fn compact_elides_envelope_fields_in_wait_events() {
    // C§2.8 compact rule 3: inside a result with its own room_id/turn_id/handoff, events omit
    // equal room_id, turn_id and (non-null, deep-equal) handoff.
    let (p, _) = owned_room(&[A, B]);
    ok(&p.tt(A, &["pass", B, "--status", "S", "--next-action", "N"]));
    let r = ok(&p.tt(B, &["try"]));
    fields(&r, json!({"status": "your_turn", "reason": "direct_pass", "turn_id": 2, "handoff": handoff("S", "N")}));
    let evs = events(&r);
    let pass = first_of(&evs, "pass");
    let claim = first_of(&evs, "claim");
    absent(&pass, &["room_id", "handoff"]);
    assert_eq!(pass["turn_id"], 1, "{pass:#}");
    absent(&claim, &["room_id", "turn_id"]);
    assert_eq!(claim["handoff"], Value::Null, "{claim:#}");
    // Verbose: no elision.
    let r = ok(&p.tt(B, &["try", "--after", "0", "--verbose"]));
    for e in events(&r) {
        exact_keys(&e, &CORE_EVENT_KEYS);
    }
    // `tt events` results are never elided.
    for e in events(&ok(&p.tt(B, &["events"]))) {
        exact_keys(&e, &CORE_EVENT_KEYS);
    }
}

#[test]
fn stream_lines_are_compact_single_line_and_never_elided() {
    // C§2.8: streams print one compact single-line JSON object per event, never elided;
    // C§4.14: `cursor_event_seq=<n>` on stderr at exit.
    let (p, _) = owned_room(&[A, B]);
    ok(&p.tt(A, &["msg", "send", B, "one"]));
    ok(&p.tt(A, &["msg", "send", "room", "two"]));
    let out = p.tt(B, &["events", "--wait", "--after", "0", "--timeout", "2"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 2, "{out:?}");
    let mut last = 0;
    for line in &lines {
        assert!(!line.starts_with(' ') && line.starts_with('{'), "{line:?}");
        let v: Value = serde_json::from_str(line).unwrap();
        exact_keys(&v, &CORE_EVENT_KEYS);
        last = n(&v, "event_seq");
    }
    assert!(out.stderr.contains(&format!("cursor_event_seq={last}")), "{out:?}");
}

// =============================================================================================
// C§2.9 Errors and exit codes

#[test]
fn errors_json_single_line_on_stderr() {
    // C§2.9: stdout empty, stderr exactly one JSON line {error, message, …details};
    // P§9.6: the room_not_found message.
    let p = Proto::new(&[A]);
    for args in [&["state"][..], &["events"], &["health"], &["leave"], &["notes", "list"], &["msg", "recv"]] {
        let out = p.tt(A, args);
        let e = err(&out, "room_not_found");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:?}");
        assert_eq!(e["message"], "No room found for this path. Run `tt join` first.", "{args:?}");
    }
}

#[test]
fn errors_in_text_mode() {
    // C§2.9: in text mode stderr carries `Error: <message>`.
    let p = Proto::new(&[A]);
    let out = tx(&p, A, &["state"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().next(), Some("Error: No room found for this path. Run `tt join` first."), "{out:?}");
    let out = p.raw(&["--text", "frobnicate"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().next(), Some("Error: Unknown command: frobnicate"), "{out:?}");
}

#[test]
fn errors_carry_flattened_details() {
    // P§21 details: unknown_member (agent_id), unknown_target / target_active (target_agent_id),
    // cannot_kick_self; C§4.4, C§4.5.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let e = err(&p.tt(Z, &["leave"]), "unknown_member");
    assert_eq!(e["agent_id"], Z, "{e:#}");
    let e = err(&p.tt(A, &["kick", "agent:nobody"]), "unknown_target");
    assert_eq!(e["target_agent_id"], "agent:nobody", "{e:#}");
    let e = err(&p.tt(A, &["kick", B]), "target_active");
    assert_eq!(e["target_agent_id"], B, "{e:#}");
    err(&p.tt(A, &["kick", A]), "cannot_kick_self");
    let e = err(&p.tt(Z, &["kick", B]), "unknown_member");
    assert_eq!(e["agent_id"], Z, "{e:#}");
}

/// Holds the SQLite write lock of `db` (python3: `BEGIN IMMEDIATE`) until dropped.
struct WriteLock(Child);

impl WriteLock {
    fn hold(db: &Path) -> WriteLock {
        const PY: &str = "import sqlite3, sys, time\n\
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n\
            c.execute('BEGIN IMMEDIATE')\n\
            print('locked', flush=True)\n\
            time.sleep(60)\n";
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(PY)
            .arg(db)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "locked");
        WriteLock(child)
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn database_busy_is_an_error_never_a_success() {
    // P§20.1: a write that finds the database locked after busy_timeout_ms fails with
    // database_busy (exit 1, retryable: true); never reported as success. P§21.
    let p = Proto::new(&[A, B]).with_settings(r#"{"busy_timeout_ms":300}"#);
    p.join(&[A, B]);
    let lock = WriteLock::hold(&p.data.join("rooms.sqlite"));
    let cases: [(&str, &[&str]); 4] =
        [(C, &["join"]), (A, &["try"]), (B, &["msg", "send", "room", "x"]), (A, &["notes", "add", "n"])];
    for (agent, args) in cases {
        let out = p.tt(agent, args);
        let e = err(&out, "database_busy");
        assert_eq!(e["retryable"], true, "{args:?}: {e:#}");
    }
    drop(lock);
    // Nothing was committed.
    assert_eq!(p.member_ids(A), vec![A.to_owned(), B.to_owned()]);
    assert_eq!(p.state(A)["room"]["turn_id"], 0);
    assert!(p.all_events(A).iter().all(|e| e["event_type"] != "message_sent"));
}

#[test]
fn broken_pipe_exits_zero() {
    // C§2.9 / P§22: a broken pipe on stdout ends the command with exit 0.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    for i in 0..30 {
        ok(&p.tt(A, &["msg", "send", "room", &format!("message number {i} {}", "x".repeat(200))]));
    }
    let invs = [
        Inv::agent(A, &["events", "--after", "0", "--limit", "500"]),
        Inv::agent(A, &["whoami"]),
        Inv::new(&["help"]),
        Inv::new(&["--agent", A, "--text", "events", "--after", "0"]),
    ];
    for inv in &invs {
        let (out, sig) = Running::start(&p, inv, true).finish(Duration::from_secs(20));
        assert_eq!((out.code, sig), (0, None), "{inv:?}: {out:?}");
    }
}

#[test]
fn broken_pipe_ends_a_follow_stream_with_exit_zero() {
    // C§2.9: a broken pipe on stdout ends the command (here a `--follow` stream) with exit 0.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let follow = Running::start(&p, &Inv::agent(B, &["events", "--follow", "--timeout", "20"]), true);
    std::thread::sleep(Duration::from_millis(700));
    ok(&p.tt(A, &["msg", "send", B, "one"]));
    std::thread::sleep(Duration::from_millis(300));
    ok(&p.tt(A, &["msg", "send", B, "two"]));
    let (out, sig) = follow.finish(Duration::from_secs(10));
    assert_eq!((out.code, sig), (0, None), "{out:?}");
}

#[test]
fn wait_killed_by_a_signal_prints_nothing_and_keeps_the_cursor() {
    // C§2.9 / P§22: `tt wait` terminated by signal n before a result: exit 128+n, nothing printed,
    // stored cursor unchanged.
    let (p, _) = owned_room(&[A, B]);
    ok(&p.tt(B, &["try"]));
    let cursor = |p: &Proto| -> Value {
        p.sessions().into_iter().find(|r| r["agent_id"] == B).unwrap()["event_cursor_seq"].clone()
    };
    let before = cursor(&p);
    let wait = Running::start(&p, &Inv::agent(B, &["wait"]), false);
    std::thread::sleep(Duration::from_millis(700));
    kill(wait.pid(), "TERM");
    let (out, sig) = wait.finish(Duration::from_secs(10));
    assert!(out.code == 143 || sig == Some(15), "expected 128+15: {out:?} signal {sig:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    assert_eq!(cursor(&p), before);
}

// =============================================================================================
// Text output (C§2.10 and the per-command text lines of C§4)

/// The guardian pid printed in `… Guardian <pid> …`.
fn guardian_in(line: &str) -> u32 {
    let rest = line.split("Guardian ").nth(1).unwrap_or_else(|| panic!("no guardian in {line:?}"));
    rest.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

#[test]
fn text_wait_and_try_result_lines() {
    // C§4.6 text (grant, already_owner, repair, not_yet owner/reserved/idle, takeover_available),
    // C§4.7 (try: no final `next:` line).
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    let lines = tx_ok(&p, A, &["try"]);
    assert!(
        lines[0].starts_with("Your turn (turn 1, open_claim). Guardian ")
            && lines[0].ends_with(" is holding the lease."),
        "{lines:#?}"
    );
    let g1 = guardian_in(&lines[0]);
    assert!(alive(g1));
    assert!(lines.iter().all(|l| !l.starts_with("next:")), "try prints no next line: {lines:#?}");
    let lines = tx_ok(&p, A, &["try"]);
    assert_eq!(lines[0], format!("Already holding the stick (turn 1). Guardian {g1} (still active)."), "{lines:#?}");
    kill(g1, "TERM");
    assert!(wait_gone(g1, GUARDIAN_EXIT));
    let lines = tx_ok(&p, A, &["try"]);
    assert!(
        lines[0].starts_with("Already holding the stick (turn 1). Guardian ")
            && lines[0].ends_with(" (prior guardian was gone; spawned replacement)."),
        "{lines:#?}"
    );
    p.adv(1000);
    let lines = tx_ok(&p, B, &["try"]);
    assert_eq!(lines[0], "Not your turn — agent:a holds turn 1 (lease expires in 44m).", "{lines:#?}");
    // A releases with a handoff; B (recent waiter) is reserved.
    let r = ok(&p.tt(A, &["release", "--status", "S1", "--next-action", "N1"]));
    assert_eq!(r["reserved_for"], B, "{r:#}");
    p.adv(1000);
    let lines = tx_ok(&p, C, &["try"]);
    assert_eq!(lines[0], "Not your turn — turn 1 is reserved for agent:b (claim expires in 19m).", "{lines:#?}");
    p.adv(1_201_000);
    let lines = tx_ok(&p, C, &["try"]);
    assert_eq!(lines[0], "Takeover available: claim_timeout (agent:b).", "{lines:#?}");
    let lines = tx_ok(&p, B, &["try"]);
    assert!(
        lines[0].starts_with("Your turn (turn 2, sequence). Guardian ") && lines[0].ends_with(" is holding the lease."),
        "{lines:#?}"
    );
    assert_eq!(lines[1..4], ["From agent:a:".to_owned(), "  Status: S1".to_owned(), "  Next: N1".to_owned()]);
}

#[test]
fn text_not_yet_idle_and_closed() {
    // C§4.6 text: `Not your turn — the room is <room_state>.`, `The room is closed.`
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let lines = tx_ok(&p, A, &["try", "--park"]);
    assert_eq!(lines[0], "Not your turn — the room is idle.", "{lines:#?}");
    p.sql("UPDATE path_rooms SET state='closed'");
    let lines = tx_ok(&p, A, &["try"]);
    assert_eq!(lines[0], "The room is closed.", "{lines:#?}");
}

#[test]
fn text_wait_event_lines_and_stable_next_line() {
    // C§2.10 event and message lines; C§4.6 the stable final line of `tt wait`.
    let (p, _) = owned_room(&[A, B, C]);
    ok(&p.tt(B, &["try"]));
    ok(&p.tt(A, &["kick", C, "--force", "--reason", "idle"]));
    ok(&p.tt(A, &["msg", "send", "room", "hello"]));
    ok(&p.tt(A, &["msg", "send", B, "psst", "--interrupt"]));
    let all = p.all_events(A);
    let sends: Vec<&Value> = all.iter().filter(|e| e["event_type"] == "message_sent").collect();
    p.adv(1000);
    let lines = tx_ok(&p, B, &["wait", "--timeout", "0"]);
    assert_eq!(lines[0], "Not your turn — agent:a holds turn 1 (lease expires in 44m).", "{lines:#?}");
    let room_line = format!("[{}] agent:a -> room: hello", s(sends[0], "created_at"));
    let direct_line = format!("[{}] agent:a -> agent:b [interrupt]: psst", s(sends[1], "created_at"));
    assert!(lines.contains(&room_line), "{room_line:?} not in {lines:#?}");
    assert!(lines.contains(&direct_line), "{direct_line:?} not in {lines:#?}");
    assert_eq!(lines.last().unwrap(), "next: Keep one `tt wait` running for this room.", "{lines:#?}");
    // An event line with a reason (A's own kick of a fresh member D).
    p.join(&[D]);
    ok(&p.tt(D, &["try"]));
    ok(&p.tt(A, &["kick", D, "--force", "--reason", "bye"]));
    let kick = p.newest_event(A);
    let lines = tx_ok(&p, A, &["wait", "--timeout", "0"]);
    let kick_line = format!("[{}] kick agent:a -> agent:d (bye)", s(&kick, "created_at"));
    assert!(lines.contains(&kick_line), "{kick_line:?} not in {lines:#?}");
    assert_eq!(lines.last().unwrap(), "next: Keep one `tt wait` running for this room.", "{lines:#?}");
}

#[test]
fn text_lost_turn_line() {
    // C§4.6 text: `Lost the turn — <owner> now holds turn <n>.`
    let (p, _) = owned_room(&[A, B]);
    let wait = Running::start(&p, &text_inv(A, &["wait", "--timeout", "10"]), false);
    std::thread::sleep(Duration::from_millis(700));
    ok(&p.tt(B, &["take", "--operator-requested", "--reason", "r"]));
    let (out, _) = wait.finish(Duration::from_secs(20));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().next(), Some("Lost the turn — agent:b now holds turn 2."), "{out:?}");
}

#[test]
fn text_take_heartbeat_release_pass_lines() {
    // C§4.8, C§4.9, C§4.10, C§4.11 text lines.
    let (p, _) = owned_room(&[A, B, C]);
    let lines = tx_ok(&p, B, &["take", "--reason", "r"]);
    assert!(
        lines[0].starts_with("Took the stick (operator_override). Guardian ")
            && lines[0].ends_with(" is holding the lease."),
        "{lines:#?}"
    );
    let lines = tx_ok(&p, B, &["heartbeat"]);
    let until = lines[0].strip_prefix("Lease renewed until ").unwrap_or_else(|| panic!("{lines:#?}"));
    let (ts, rest) = until.split_at(24);
    assert!(is_iso(ts), "{lines:#?}");
    assert_eq!(rest, " (turn 2).", "{lines:#?}");
    let lines = tx_ok(&p, B, &["pass", A, "--status", "s", "--next-action", "n"]);
    assert_eq!(lines[0], "Passed to agent:a.", "{lines:#?}");
    ok(&p.tt(A, &["try"]));
    // C polled within the grace window: the release reserves it.
    ok(&p.tt(C, &["try"]));
    let lines = tx_ok(&p, A, &["release", "--status", "s", "--next-action", "n"]);
    assert_eq!(lines[0], "Released to agent:c.", "{lines:#?}");
    ok(&p.tt(C, &["try"]));
    p.adv(11_000);
    let lines = tx_ok(&p, C, &["release", "--status", "s", "--next-action", "n"]);
    assert_eq!(lines[0], "Released; nobody was reserved (the handoff waits for the next claimant).", "{lines:#?}");
}

#[test]
fn text_join_leave_kick_lines() {
    // C§4.3, C§4.4, C§4.5 text lines.
    let p = Proto::new(&[A, B, C]);
    let dir = pstr(&p.project);
    assert_eq!(tx_ok(&p, A, &["join"])[0], format!("Joined {dir} as agent:a"));
    let lines = tx_ok(&p, A, &["join", "--force-new"]);
    assert_eq!(lines[0], format!("Joined {dir} as agent:a"));
    assert!(lines[1].starts_with("Warning: force_new had no effect: a room already exists at "), "{lines:#?}");
    p.join(&[B, C]);
    assert_eq!(tx_ok(&p, A, &["kick", B, "--force"])[0], format!("Kicked agent:b from {dir}."));
    assert_eq!(tx_ok(&p, C, &["leave"])[0], format!("Left {dir}; 1 member(s) remain."));
    p.join(&[C]);
    // A's process is gone: C kicking A leaves nobody active except C... make C gone too, so the
    // kick deletes the room.
    p.gone(C);
    assert_eq!(tx_ok(&p, C, &["kick", A, "--force"])[0], format!("Kicked agent:a from {dir}; room deleted."));
    p.join(&[A]);
    assert_eq!(tx_ok(&p, A, &["leave"])[0], format!("Left {dir}; room deleted."));
}

#[test]
fn text_whoami_explain() {
    // C§4.1 text (stable): the agent_id, then with --explain `source:`, `session_kind:`, `detail:`.
    let p = Proto::new(&[]);
    let lines = tx_ok(&p, "agent:q", &["whoami"]);
    assert_eq!(lines, vec!["agent:q".to_owned()]);
    let lines = tx_ok(&p, "agent:q", &["whoami", "--explain"]);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(lines[0], "agent:q");
    assert_eq!(lines[1], "source: agent_override");
    assert_eq!(lines[2], "session_kind: human_cli");
    assert!(lines[3].starts_with("detail: ") && lines[3].len() > "detail: ".len(), "{lines:#?}");
}

#[test]
fn text_msg_send_and_notes_add_lines() {
    // C§4.15, C§4.17 text lines.
    let (p, _) = owned_room(&[A, B]);
    ok(&p.tt(A, &["msg", "send", B, "one"]));
    let lines = tx_ok(&p, A, &["msg", "send", B, "two"]);
    let id = s(&p.newest_event(A), "event_id");
    assert_eq!(lines[0], format!("Sent message {} to agent:b.", &id[..8]), "{lines:#?}");
    let lines = tx_ok(&p, A, &["msg", "send", "room", "three", "--interrupt"]);
    let id = s(&p.newest_event(A), "event_id");
    assert_eq!(lines[0], format!("Sent interrupt message {} to room.", &id[..8]), "{lines:#?}");
    let lines = tx_ok(&p, A, &["notes", "add", "room scoped"]);
    let notes = ok(&p.tt(A, &["notes", "list"]))["notes"].clone();
    let id = s(&notes[0], "note_id");
    assert_eq!(lines[0], format!("Added note {} (turn=-).", &id[..8]), "{lines:#?}");
    p.adv(1000);
    let lines = tx_ok(&p, A, &["notes", "add", "turn scoped", "--turn", "1"]);
    let notes = ok(&p.tt(A, &["notes", "list"]))["notes"].clone();
    let id = s(&notes[1], "note_id");
    assert_eq!(lines[0], format!("Added note {} (turn=1).", &id[..8]), "{lines:#?}");
}

#[test]
fn text_notes_list() {
    // C§4.17: `<n> note(s) in this room:`, `- <8-char id> <author> · <relative> · turn <n>|room-scoped`,
    // the indented first line of the body cut to 77 characters plus `...` when longer than 80.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    assert_eq!(tx_ok(&p, A, &["notes", "list"]), vec!["No notes.".to_owned()]);
    let long = "L".repeat(100);
    ok(&p.tt(A, &["notes", "add", &format!("{long}\nsecond line")]));
    let eighty = "e".repeat(80);
    p.adv(1000);
    ok(&p.tt(A, &["notes", "add", &eighty, "--turn", "0"]));
    let notes = ok(&p.tt(A, &["notes", "list"]))["notes"].clone();
    let id0 = s(&notes[0], "note_id")[..8].to_owned();
    let id1 = s(&notes[1], "note_id")[..8].to_owned();
    p.adv(5000);
    let lines = tx_ok(&p, A, &["notes", "list"]);
    assert_eq!(lines[0], "2 note(s) in this room:", "{lines:#?}");
    assert!(
        lines[1].starts_with(&format!("- {id0} agent:a · ")) && lines[1].ends_with(" ago · room-scoped"),
        "{lines:#?}"
    );
    assert_eq!(lines[2].trim_start(), format!("{}...", "L".repeat(77)), "{lines:#?}");
    assert!(lines[2].starts_with(' '), "{lines:#?}");
    let note_line = &lines[3];
    assert!(
        note_line.starts_with(&format!("- {id1} agent:a · ")) && note_line.ends_with(" ago · turn 0"),
        "{lines:#?}"
    );
    assert_eq!(lines[4].trim_start(), eighty, "{lines:#?}");
    assert_eq!(lines.len(), 5, "only the first line of a body is shown: {lines:#?}");
}

#[test]
fn text_list_lines() {
    // C§4.2 text: `No rooms found.` or `<state> <canonical_path>[ owner=<id>][ reserved_for=<id>]`.
    let p = Proto::new(&[A, B]);
    assert_eq!(tx_ok(&p, A, &["list"]), vec!["No rooms found.".to_owned()]);
    p.join(&[A, B]);
    let dir = pstr(&p.project);
    assert_eq!(tx_ok(&p, A, &["list"]), vec![format!("idle {dir}")]);
    ok(&p.tt(A, &["try"]));
    assert_eq!(tx_ok(&p, A, &["list"]), vec![format!("owned {dir} owner=agent:a")]);
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    assert_eq!(tx_ok(&p, A, &["list"]), vec![format!("reserved {dir} reserved_for=agent:b")]);
}

#[test]
fn text_state_lines() {
    // C§4.13 text.
    let p = Proto::new(&[A, B, C]).with_settings(r#"{"presence_ttl_ms":600000}"#);
    p.join(&[A, B]);
    let dir = pstr(&p.project);
    let lines = tx_ok(&p, A, &["state"]);
    assert_eq!(lines[0], format!("Room: {dir} (idle)"), "{lines:#?}");
    assert_eq!(lines[1].trim_start(), "Owner:    — (turn 0)", "{lines:#?}");
    assert_eq!(lines[2].trim_start(), "Members:  2 active", "{lines:#?}");
    let me = lines.iter().find(|l| l.contains("agent:a ")).unwrap();
    let want = format!("• {:<24} {:<8} last seen ", A, "active");
    assert!(me.trim_start().starts_with(&want), "{me:?} vs {want:?}");
    assert!(me.ends_with("  ← you"), "{me:?}");
    let other = lines.iter().find(|l| l.contains("agent:b ")).unwrap();
    assert!(other.trim_start().starts_with(&format!("• {:<24} {:<8} last seen ", B, "active")), "{other:?}");
    assert!(other.ends_with(" ago"), "{other:?}");
    ok(&p.tt(A, &["try"]));
    p.adv(1000);
    let lines = tx_ok(&p, A, &["state"]);
    assert_eq!(lines[0], format!("Room: {dir} (owned)"), "{lines:#?}");
    assert_eq!(lines[1].trim_start(), "Owner:    agent:a (turn 1, lease expires in 44m)", "{lines:#?}");
    ok(&p.tt(B, &["try"]));
    ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    p.adv(1000);
    let lines = tx_ok(&p, A, &["state"]);
    assert_eq!(lines[0], format!("Room: {dir} (reserved)"), "{lines:#?}");
    assert_eq!(lines[1].trim_start(), "Reserved: agent:b (turn 1, claim expires in 19m)", "{lines:#?}");
    // An inactive member (B's presence goes stale; A refreshes its own).
    p.join(&[C]);
    p.adv(700_000);
    ok(&p.tt(C, &["state"]));
    let lines = tx_ok(&p, A, &["state"]);
    assert_eq!(lines[2].trim_start(), "Members:  2 active, 1 inactive", "{lines:#?}");
}

#[test]
fn text_events_lines() {
    // C§4.14 text: grouped by turn `Turn <n> (<relative>)`, then `  <type padded to 8> <from> → <to>[ (<reason>)]`;
    // `No events.` when empty.
    let (p, _) = owned_room(&[A, B, C]);
    assert_eq!(tx_ok(&p, A, &["events", "--event", "leave"]), vec!["No events.".to_owned()]);
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    ok(&p.tt(B, &["try"]));
    ok(&p.tt(B, &["kick", C, "--force", "--reason", "stuck"]));
    p.adv(5000);
    let lines = tx_ok(&p, A, &["events", "--event", "pass,kick"]);
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(lines[0].starts_with("Turn 1 (") && lines[0].ends_with(" ago)"), "{lines:#?}");
    assert_eq!(lines[1], format!("  {:<8} {} → {}", "pass", A, B), "{lines:#?}");
    assert!(lines[2].starts_with("Turn 2 (") && lines[2].ends_with(" ago)"), "{lines:#?}");
    assert_eq!(lines[3], format!("  {:<8} {} → {} (stuck)", "kick", B, C), "{lines:#?}");
}

#[test]
fn text_health_lines() {
    // C§4.12 text lines; --verbose adds Local:, Workspace: and Members: sections.
    let (p, r) = owned_room(&[A, B]);
    let g = n(&r, "guardian_pid");
    let dir = pstr(&p.project);
    p.adv(1000);
    let lines = tx_ok(&p, A, &["health"]);
    let want = [
        format!("Room: {dir} (owned, turn 1)"),
        "Owner: agent:a (lease expires in 44m)".to_owned(),
        format!("Guardian: alive {g}"),
        "Listener: not tracked".to_owned(),
        "Git: not a git repository".to_owned(),
        "Next: You hold the stick: work, then `tt release` or `tt pass` with a handoff.".to_owned(),
    ];
    for w in &want {
        assert!(lines.contains(w), "{w:?} not in {lines:#?}");
    }
    let lines = tx_ok(&p, B, &["health"]);
    assert!(lines.contains(&"Guardian: not_recorded".to_owned()), "{lines:#?}");
    assert!(lines.contains(&"Next: Keep one `tt wait` running.".to_owned()), "{lines:#?}");
    let lines = tx_ok(&p, A, &["health", "--verbose"]);
    for prefix in ["Local:", "Workspace:", "Members:"] {
        assert!(lines.iter().any(|l| l.starts_with(prefix)), "{prefix} not in {lines:#?}");
    }
    ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    let lines = tx_ok(&p, B, &["status"]);
    assert!(lines.contains(&"Owner: —".to_owned()), "{lines:#?}");
}

// =============================================================================================
// C§4.1 whoami, P§7 identity

const PM_KEYS: [&str; 12] = [
    "session_kind",
    "display_name",
    "host_id",
    "boot_id",
    "pid",
    "process_started_at",
    "harness_name",
    "harness_session_id",
    "harness_host_id",
    "harness_boot_id",
    "harness_pid",
    "harness_process_started_at",
];

#[test]
fn whoami_agent_override_shape() {
    // C§4.1 JSON {agent_id, process_metadata(12 keys), source, detail}; P§7.1 display_name and
    // human-style metadata; P§4.1.3 whoami never creates the data directory.
    let p = Proto::new(&[]);
    for (id, display) in [("Foo:Bar", "Bar"), ("nocolon", "nocolon"), ("a:b:c", "b:c")] {
        let w = ok(&p.raw(&["--agent", id, "--json", "whoami"]));
        exact_keys(&w, &["agent_id", "process_metadata", "source", "detail"]);
        exact_keys(&w["process_metadata"], &PM_KEYS);
        fields(&w, json!({"agent_id": id, "source": "agent_override"}));
        assert!(!s(&w, "detail").is_empty(), "{w:#}");
        let pm = &w["process_metadata"];
        fields(pm, json!({"session_kind": "human_cli", "display_name": display}));
        for k in PM_KEYS.iter().skip(2) {
            assert_eq!(pm[*k], Value::Null, "{k} in {w:#}");
        }
    }
    assert!(!p.data.exists(), "whoami created the data directory");
}

#[test]
fn whoami_exported_agent_id() {
    // P§7.2: TT_HARNESS_AGENT_ID verbatim; harness_cli; display_name before the first colon (or
    // `harness`); row process = the caller's parent; no harness fields. P§6.1 TT_BOOT_ID.
    let p = Proto::new(&[]);
    let w = ok(&p.run(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "codex:abc")));
    fields(&w, json!({"agent_id": "codex:abc", "source": "harness_cli_exported_agent_id"}));
    let pm = &w["process_metadata"];
    exact_keys(pm, &PM_KEYS);
    fields(pm, json!({"session_kind": "harness_cli", "display_name": "codex", "host_id": "test-host"}));
    assert_eq!(pm["pid"], std::process::id(), "the row process is the caller's parent: {w:#}");
    assert!(pm["process_started_at"].is_u64(), "{w:#}");
    for k in ["harness_name", "harness_session_id", "harness_host_id", "harness_boot_id", "harness_pid"] {
        assert_eq!(pm[k], Value::Null, "{k}: {w:#}");
    }
    let w = ok(&p.run(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "plain")));
    assert_eq!(w["process_metadata"]["display_name"], "harness", "{w:#}");
    let w = ok(&p.run(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "codex:abc").env("TT_BOOT_ID", "boot-x")));
    assert_eq!(w["process_metadata"]["boot_id"], "boot-x", "{w:#}");
    let w = ok(&p.run(Inv::new(&["whoami"]).env("TT_HARNESS_AGENT_ID", "codex:abc").env("TT_BOOT_ID", "")));
    assert_eq!(w["process_metadata"]["boot_id"], Value::Null, "{w:#}");
}

#[test]
fn whoami_rejects_malformed_agent_ids() {
    // P§7.2: ids from --agent and TT_HARNESS_AGENT_ID are 1–256 bytes without control
    // characters or whitespace; otherwise exit 2.
    let p = Proto::new(&[]);
    let long = format!("a:{}", "x".repeat(255));
    for bad in ["a b", "a\tb", "a\u{7}b", long.as_str(), ""] {
        let out = p.raw(&["--agent", bad, "--json", "whoami"]);
        assert_eq!(out.code, 2, "--agent {bad:?}: {out:?}");
    }
    let out = p.run(Inv::new(&["--json", "whoami"]).env("TT_HARNESS_AGENT_ID", "x y"));
    assert_eq!(out.code, 2, "{out:?}");
    let ok256 = format!("a:{}", "x".repeat(254));
    assert_eq!(ok(&p.raw(&["--agent", &ok256, "--json", "whoami"]))["agent_id"], ok256.as_str());
}

#[track_caller]
fn whoami_env(p: &Proto, env: &[(&str, &str)]) -> Value {
    let mut inv = Inv::new(&["--json", "whoami"]);
    for (k, v) in env {
        inv = inv.env(k, v);
    }
    ok(&p.run(inv))
}

#[test]
fn whoami_harness_env_detection() {
    // P§7.3 signals and session ids; P§7.4 metadata; P§7.5 agent_id formula.
    let p = Proto::new(&[]);
    let user = login_name();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 6] = [
        (&[("OPENCODE", "1"), ("OPENCODE_RUN_ID", "run-7"), ("OPENCODE_PID", "99")], "opencode", "harness:run-7"),
        (&[("OPENCODE", "1"), ("OPENCODE_PID", "4242")], "opencode", "harness:4242"),
        (&[("ANTIGRAVITY_AGENT", "1"), ("ANTIGRAVITY_CONVERSATION_ID", "conv")], "antigravity", "harness:conv"),
        (&[("ANTIGRAVITY_TRAJECTORY_ID", "traj")], "antigravity", "harness:traj"),
        (&[("GROK_AGENT", "1"), ("GROK_SESSION_ID", " g1 ")], "grok", "harness:g1"),
        (&[("CLAUDECODE", "1"), ("CLAUDE_CODE_SESSION_ID", "s1"), ("CODEX_THREAD_ID", "t1")], "claude", "harness:s1"),
    ];
    for (env, harness, session) in cases {
        let w = whoami_env(&p, env);
        let want = harness_agent_id(harness, "test-host", session, &user);
        fields(&w, json!({"agent_id": want, "source": "harness_cli_env_detection"}));
        let pm = &w["process_metadata"];
        fields(
            pm,
            json!({"session_kind": "harness_cli", "display_name": harness, "harness_name": harness,
                   "harness_session_id": session, "host_id": "test-host"}),
        );
        assert_eq!(pm["pid"], std::process::id(), "{w:#}");
        assert_eq!(pm["harness_pid"], std::process::id(), "no harness root: the parent: {w:#}");
    }
    // Not signals.
    for env in [&[("GROK_SESSION_ID", "g1")][..], &[("CLAUDE_CODE_EXECPATH", "/x")], &[("CLAUDECODE", "0")]] {
        let w = whoami_env(&p, env);
        assert_eq!(w["source"], "human_cli_default", "{env:?}: {w:#}");
        assert_eq!(w["agent_id"], format!("human:{}", sanitize(&user)), "{w:#}");
    }
}

#[test]
fn whoami_provisional_session_ids() {
    // P§7.4 steps 3–4: terminal variables in order (blank ones skipped), else `pid:<ppid>@<start>`.
    let p = Proto::new(&[]);
    let user = login_name();
    let w = whoami_env(&p, &[("GEMINI_CLI", "1"), ("TMUX_PANE", " %5 "), ("STY", "s"), ("ITERM_SESSION_ID", " ")]);
    let session = "term:TMUX_PANE=%5";
    assert_eq!(w["process_metadata"]["harness_session_id"], session, "{w:#}");
    assert_eq!(w["agent_id"], harness_agent_id("gemini", "test-host", session, &user));
    let w = whoami_env(&p, &[("GEMINI_CLI", "1"), ("TMUX_PANE", "%5"), ("KITTY_WINDOW_ID", "3")]);
    assert_eq!(w["process_metadata"]["harness_session_id"], "term:KITTY_WINDOW_ID=3", "{w:#}");
    let w = whoami_env(&p, &[("GEMINI_CLI", "1")]);
    let pm = &w["process_metadata"];
    let session = format!("pid:{}@{}", std::process::id(), n(pm, "process_started_at"));
    assert_eq!(pm["harness_session_id"], session.as_str(), "{w:#}");
    assert_eq!(pm["harness_process_started_at"], pm["process_started_at"], "{w:#}");
    assert_eq!(w["agent_id"], harness_agent_id("gemini", "test-host", &session, &user));
}

// =============================================================================================
// C§4.2 list, P§5.3 cheap projection

#[test]
fn list_json_shapes() {
    // C§4.2 JSON {rooms: PathRoom[]}; C§5 PathRoom compact and verbose.
    let p = Proto::new(&[A]);
    let r = ok(&p.raw(&["list", "--json"]));
    exact_keys(&r, &["rooms"]);
    assert_eq!(r["rooms"], json!([]));
    let (p, _) = owned_room(&[A, B]);
    let r = ok(&p.raw(&["list", "--json"]));
    exact_keys(&r, &["rooms"]);
    let room = &r["rooms"][0];
    exact_keys(room, &PATH_ROOM_KEYS);
    fields(room, json!({"canonical_path": pstr(&p.project), "state": "owned", "turn_id": 1, "owner": A}));
    assert_iso(room, "lease_expires_at");
    let r = ok(&p.raw(&["list", "--json", "--verbose"]));
    let mut verbose: Vec<&str> = PATH_ROOM_KEYS.to_vec();
    verbose.extend(["sequence_index", "created_at", "updated_at"]);
    exact_keys(&r["rooms"][0], &verbose);
    assert_iso(&r["rooms"][0], "created_at");
}

#[test]
fn list_with_path_shows_ancestor_rooms_only() {
    // C§4.2: without a path every room ordered by canonical_path; with a path only rooms in
    // ancestor_paths of the resolved path.
    let p = Proto::new(&[A]);
    let sub = p.project.join("sub");
    let other = p.root.join("other");
    std::fs::create_dir(&sub).unwrap();
    std::fs::create_dir(&other).unwrap();
    p.join(&[A]);
    ok(&p.tt(A, &["join", &pstr(&sub), "--force-new"]));
    ok(&p.tt(A, &["join", &pstr(&other)]));
    let paths =
        |r: &Value| -> Vec<String> { r["rooms"].as_array().unwrap().iter().map(|x| s(x, "canonical_path")).collect() };
    let mut all = vec![pstr(&p.project), pstr(&sub), pstr(&other)];
    all.sort();
    assert_eq!(paths(&ok(&p.raw(&["list", "--json"]))), all);
    assert_eq!(paths(&ok(&p.raw(&["list", "--json", &pstr(&sub)]))), vec![pstr(&p.project), pstr(&sub)]);
    assert_eq!(paths(&ok(&p.raw(&["list", "--json", &pstr(&p.project)]))), vec![pstr(&p.project)]);
    assert_eq!(paths(&ok(&p.raw(&["list", "--json", &pstr(&p.root)]))), Vec::<String>::new());
}

#[test]
fn list_uses_the_cheap_projection() {
    // P§5.3: no process inspection in `tt list` (a gone owner still reads `owned`; a gone but
    // present member keeps the room `idle`), unlike the full derived state of P§5.2.
    let p = Proto::new(&[A, B]).with_settings(r#"{"gone_grace_ms":2000}"#);
    p.join(&[A, B]);
    ok(&p.tt(A, &["try"]));
    p.gone(A);
    p.adv(3000);
    ok(&p.tt(B, &["state"]));
    assert_eq!(p.state(B)["room"]["state"], "owner_gone");
    assert_eq!(ok(&p.raw(&["list", "--json"]))["rooms"][0]["state"], "owned");
    // Dormant vs idle.
    let q = Proto::new(&[A]);
    q.join(&[A]);
    q.gone(A);
    assert_eq!(ok(&q.tt(Z, &["state"]))["room"]["state"], "dormant");
    assert_eq!(ok(&q.raw(&["list", "--json"]))["rooms"][0]["state"], "idle");
}

#[test]
fn list_is_capped_at_200_rooms() {
    // C§4.2 / P§17.7: at most 200 rooms, `hidden.rooms` summary; `--all` lifts the cap.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    p.sql(&format!(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 201) \
         INSERT INTO path_rooms (room_id, canonical_path, state, turn_id, sequence_index, created_at, updated_at) \
         SELECT printf('00000000-0000-4000-8000-%012d', i), printf('/zz/room-%03d', i), 'idle', 0, 0, {T0}, {T0} FROM k"
    ));
    let r = ok(&p.raw(&["list", "--json"]));
    assert_eq!(r["rooms"].as_array().unwrap().len(), 200);
    let h = &r["hidden"]["rooms"];
    for k in HIDDEN_KEYS {
        assert!(h.get(k).is_some(), "hidden.rooms.{k} missing: {r:#}");
    }
    fields(h, json!({"older_count": 2, "shown_count": 200, "total_count": 202}));
    let r = ok(&p.raw(&["list", "--json", "--all"]));
    assert_eq!(r["rooms"].as_array().unwrap().len(), 202);
    absent(&r, &["hidden"]);
}

// =============================================================================================
// C§4.3 join, P§9.5 warnings

const JOIN_KEYS: [&str; 11] = [
    "agent_id",
    "room_id",
    "canonical_path",
    "requested_path",
    "workspace_root",
    "joined_existing_room",
    "cursor_event_seq",
    "members",
    "room_state",
    "handoff_template",
    "hint",
];

#[test]
fn join_compact_shape() {
    // C§4.3 JSON (compact), members {agent_id, status, last_seen_at}, handoff_template, PathRoom.
    let p = Proto::new(&[A, B]);
    let r = ok(&p.tt(A, &["join"]));
    exact_keys(&r, &JOIN_KEYS);
    let dir = pstr(&p.project);
    fields(
        &r,
        json!({"agent_id": A, "canonical_path": dir, "requested_path": dir, "workspace_root": dir,
               "joined_existing_room": false, "cursor_event_seq": 0}),
    );
    assert_eq!(
        r["handoff_template"],
        json!({
            "status": "What I did:\nWhat I learned:\nOpen risks:",
            "next_action": "What the next agent should do next."
        })
    );
    exact_keys(&r["room_state"], &PATH_ROOM_KEYS);
    fields(&r["room_state"], json!({"state": "idle", "turn_id": 0, "owner": null}));
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    exact_keys(&members[0], &["agent_id", "status", "last_seen_at"]);
    fields(&members[0], json!({"agent_id": A, "status": "active"}));
    assert_iso(&members[0], "last_seen_at");
    let r = ok(&p.tt(B, &["join"]));
    fields(&r, json!({"joined_existing_room": true}));
    let join_seq = n(&p.newest_event(A), "event_seq");
    assert_eq!(n(&r, "cursor_event_seq"), join_seq, "{r:#}");
    let ids: Vec<&str> = r["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![A, B]);
}

#[test]
fn join_verbose_policy_has_exactly_the_settings_table() {
    // P§4.3.5: `policy` keyed by the §4.3.3 names (derived values included, companion keys not).
    let p = Proto::new(&[A]);
    let r = ok(&p.tt(A, &["join", "--verbose"]));
    exact_keys(
        &r["policy"],
        &[
            "owner_lease_ttl_ms",
            "heartbeat_interval_ms",
            "gone_grace_ms",
            "claim_ttl_ms",
            "wait_for_turn_max_wait_ms",
            "wait_for_turn_poll_ms",
            "wait_for_events_max_wait_ms",
            "wait_for_events_poll_ms",
            "presence_ttl_ms",
            "waiter_grace_ms",
            "wait_touch_interval_ms",
            "prior_owner_release_cooldown_ms",
            "idle_room_ttl_ms",
            "liveness_cache_ms",
            "guard_ready_timeout_ms",
            "busy_timeout_ms",
        ],
    );
    fields(
        &r["policy"],
        json!({"owner_lease_ttl_ms": 2_700_000, "heartbeat_interval_ms": 300_000, "gone_grace_ms": 600_000,
               "claim_ttl_ms": 1_200_000, "wait_for_turn_max_wait_ms": 110_000, "wait_for_turn_poll_ms": 250,
               "wait_for_events_max_wait_ms": 110_000, "wait_for_events_poll_ms": 250,
               "presence_ttl_ms": 14_400_000, "waiter_grace_ms": 10_000, "wait_touch_interval_ms": 2500,
               "prior_owner_release_cooldown_ms": 60_000, "idle_room_ttl_ms": 604_800_000,
               "liveness_cache_ms": 1000, "guard_ready_timeout_ms": 10_000, "busy_timeout_ms": 5000}),
    );
    let mut verbose: Vec<&str> = PATH_ROOM_KEYS.to_vec();
    verbose.extend(["sequence_index", "created_at", "updated_at"]);
    exact_keys(&r["room_state"], &verbose);
}

#[test]
fn join_members_lists_active_members_only() {
    // C§4.3: `members` = active members only (P§6.7), including the caller.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B]);
    p.gone(B);
    let r = ok(&p.tt(C, &["join"]));
    let ids: Vec<&str> = r["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![A, C]);
}

#[test]
fn join_force_new_warnings_and_nested_rooms() {
    // P§9.5: force_new warnings (verbatim) and nested room creation at the context path.
    let p = Proto::new(&[A]);
    let dir = pstr(&p.project);
    let sub = p.project.join("sub");
    std::fs::create_dir(&sub).unwrap();
    // No ancestor room: created at c (not at the workspace root), no warning.
    let r = ok(&p.tt(A, &["join", &pstr(&sub), "--force-new"]));
    fields(&r, json!({"canonical_path": pstr(&sub), "workspace_root": dir, "joined_existing_room": false}));
    absent(&r, &["warning"]);
    // A room exists exactly at c.
    let r = ok(&p.tt(A, &["join", &pstr(&sub), "--force-new"]));
    assert_eq!(
        r["warning"],
        format!(
            "force_new had no effect: a room already exists at {}. force_new only creates a nested room when an \
             ancestor room exists; same-path duplicates are not supported. To get a fresh room for a separate topic, \
             join a distinct subpath.",
            pstr(&sub)
        ),
        "{r:#}"
    );
    // Nested room under an ancestor room.
    ok(&p.tt(A, &["join", &dir]));
    let deeper = sub.join("deeper");
    std::fs::create_dir(&deeper).unwrap();
    let r = ok(&p.tt(A, &["join", &pstr(&deeper), "--force-new"]));
    fields(&r, json!({"canonical_path": pstr(&deeper)}));
    assert_eq!(r["warning"], format!("Created nested room inside {}", pstr(&sub)), "{r:#}");
}

#[test]
fn join_ancestor_room_above_the_workspace_root_warns() {
    // P§9.5: "Joined ancestor room <path> above this workspace root (<r>)."
    let p = Proto::new(&[A, B]);
    let root = pstr(&p.root);
    let r = ok(&p.tt(A, &["join", &root]));
    assert_eq!(r["canonical_path"], root.as_str(), "{r:#}");
    let r = ok(&p.tt(B, &["join"]));
    fields(&r, json!({"canonical_path": root, "joined_existing_room": true, "workspace_root": pstr(&p.project)}));
    assert_eq!(
        r["warning"],
        format!("Joined ancestor room {root} above this workspace root ({}).", pstr(&p.project)),
        "{r:#}"
    );
    // `tt wait` carries the join warning (C§4.6 step 1).
    let w = ok(&p.tt(B, &["wait", "--timeout", "0"]));
    assert_eq!(w["warning"], r["warning"], "{w:#}");
}

// =============================================================================================
// C§4.4 leave, C§4.5 kick

#[test]
fn leave_and_kick_shapes() {
    // C§4.4 {status, room_id, canonical_path, remaining_members}; C§4.5 kick result keys.
    let (p, r) = owned_room(&[A, B, C]);
    let room = s(&r, "room_id");
    let dir = pstr(&p.project);
    let k = ok(&p.tt(B, &["kick", A, "--force", "--reason", "stuck"]));
    exact_keys(
        &k,
        &[
            "status",
            "room_id",
            "canonical_path",
            "kicked_agent_id",
            "remaining_members",
            "target_was_owner",
            "target_was_reserved_for",
        ],
    );
    fields(
        &k,
        json!({"status": "kicked", "room_id": room, "canonical_path": dir, "kicked_agent_id": A,
               "remaining_members": 2, "target_was_owner": true, "target_was_reserved_for": false}),
    );
    let l = ok(&p.tt(C, &["leave"]));
    exact_keys(&l, &["status", "room_id", "canonical_path", "remaining_members"]);
    fields(&l, json!({"status": "left", "room_id": room, "canonical_path": dir, "remaining_members": 1}));
    let l = ok(&p.tt(B, &["leave"]));
    fields(&l, json!({"status": "room_deleted", "room_id": room, "canonical_path": dir, "remaining_members": 0}));
    err(&p.tt(B, &["state"]), "room_not_found");
}

#[test]
fn kick_that_deletes_the_room_removes_its_session_rows() {
    // P§10.11 (leave steps 3–4 after a kick); C§3.3 "remove room rows".
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    p.gone(A);
    let k = ok(&p.tt(A, &["kick", B, "--force"]));
    fields(&k, json!({"status": "room_deleted", "kicked_agent_id": B}));
    assert!(p.sessions().is_empty(), "{:#?}", p.sessions());
    err(&p.tt(A, &["state"]), "room_not_found");
}

#[test]
fn kick_reason_is_recorded() {
    // P§17.1: the kick event carries the reason (or null).
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    ok(&p.tt(A, &["kick", B, "--force"]));
    fields(&p.newest_event(A), json!({"event_type": "kick", "from_agent_id": A, "to_agent_id": B, "reason": null}));
    ok(&p.tt(A, &["kick", C, "--force", "--reason", "gone fishing"]));
    fields(&p.newest_event(A), json!({"event_type": "kick", "to_agent_id": C, "reason": "gone fishing"}));
}

// =============================================================================================
// C§4.6 wait, C§4.7 try: options and result shapes (P§10.1)

#[test]
fn wait_target_claim_and_events_options() {
    // C§4.6: `--target self` only (verbatim message otherwise); `--claim` and `--events` accepted
    // and ignored; `--park` with `--claim` is a usage error.
    let (p, _) = owned_room(&[A, B]);
    fields(&ok(&p.tt(B, &["wait", "--target", "self", "--timeout", "0"])), json!({"status": "not_yet"}));
    for t in ["any", A] {
        let m = usage_msg(&p.tt(B, &["wait", "--target", t, "--timeout", "0"]));
        assert_eq!(m, "tt wait manages the self cursor only. Use `tt events --target …` for audit/debug reads.");
    }
    fields(&ok(&p.tt(B, &["wait", "--claim", "--events", "--timeout", "0"])), json!({"status": "not_yet"}));
    fields(&ok(&p.tt(B, &["try", "--claim", "--events"])), json!({"status": "not_yet"}));
    usage(&p.tt(B, &["wait", "--park", "--claim", "--timeout", "0"]));
}

#[test]
fn try_result_shapes() {
    // P§10.1 result objects + C§4.6 CLI fields (events, cursor_event_seq, wake_reason,
    // guardian_pid, hint): exact keys for grant, already_owner, not_yet (owner / reserved) and closed.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    let grant = ok(&p.tt(A, &["try"]));
    let your_turn = [
        "status",
        "room_id",
        "turn_id",
        "lease_id",
        "handoff",
        "from_agent_id",
        "reason",
        "events",
        "cursor_event_seq",
        "wake_reason",
        "guardian_pid",
        "hint",
    ];
    exact_keys(&grant, &your_turn);
    fields(&grant, json!({"status": "your_turn", "reason": "open_claim", "handoff": null, "from_agent_id": null}));
    let again = ok(&p.tt(A, &["try"]));
    exact_keys(&again, &your_turn);
    fields(&again, json!({"reason": "already_owner", "events": [], "wake_reason": "timeout"}));
    ok(&p.tt(B, &["try"])); // consumes C's join event
    let ny = ok(&p.tt(B, &["try"]));
    exact_keys(
        &ny,
        &[
            "status",
            "room_state",
            "turn_id",
            "current_owner",
            "lease_expires_at",
            "events",
            "cursor_event_seq",
            "wake_reason",
        ],
    );
    assert_iso(&ny, "lease_expires_at");
    ok(&p.tt(C, &["try"]));
    let r = ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], B, "{r:#}");
    let ny = ok(&p.tt(C, &["try"]));
    exact_keys(
        &ny,
        &[
            "status",
            "room_state",
            "turn_id",
            "reserved_for",
            "claim_expires_at",
            "events",
            "cursor_event_seq",
            "wake_reason",
        ],
    );
    fields(&ny, json!({"room_state": "reserved", "reserved_for": B}));
    p.sql("UPDATE path_rooms SET state='closed'");
    let closed = ok(&p.tt(C, &["try"]));
    exact_keys(&closed, &["status", "room_id", "events", "cursor_event_seq", "wake_reason"]);
    fields(&closed, json!({"status": "closed", "wake_reason": "closed"}));
}

#[test]
fn wait_timeout_zero_is_one_cycle() {
    // C§4.6 / P§10.6.3: with --timeout D the wait returns the timeout result after D (0 → at once).
    let (p, _) = owned_room(&[A, B]);
    let started = Instant::now();
    let r = ok(&p.tt(B, &["wait", "--timeout", "0"]));
    fields(&r, json!({"status": "not_yet", "wake_reason": "timeout", "events": []}));
    assert!(started.elapsed() < Duration::from_secs(5));
}

// =============================================================================================
// C§4.8 take, P§12

#[test]
fn take_result_shapes() {
    // C§4.8: the takeover result keys, or the poll's your_turn plus guardian_pid and hint (no
    // events, cursor_event_seq or wake_reason); alias `takeover`.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let r = ok(&p.tt(A, &["take"]));
    exact_keys(
        &r,
        &["status", "room_id", "turn_id", "lease_id", "handoff", "from_agent_id", "reason", "guardian_pid", "hint"],
    );
    fields(&r, json!({"status": "your_turn", "reason": "open_claim", "turn_id": 1}));
    live_guardian(&r);
    let r = ok(&p.tt(B, &["takeover", "--reason", "need it"]));
    exact_keys(&r, &["status", "room_id", "turn_id", "lease_id", "revoked_agent_id", "reason", "guardian_pid", "hint"]);
    fields(&r, json!({"status": "your_turn", "reason": "operator_override", "revoked_agent_id": A, "turn_id": 2}));
    live_guardian(&r);
    fields(
        &p.newest_event(A),
        json!({"event_type": "takeover", "reason": "need it", "from_agent_id": A, "to_agent_id": B}),
    );
}

#[test]
fn take_reason_rules() {
    // P§12.5: harness callers need --reason (verbatim usage message); --operator-requested gives
    // "operator requested takeover"; P§12.6 step 3: a reason over 1 024 bytes → invalid_input.
    let (p, _) = owned_room(&[A, B, C]);
    let m = usage_msg(&p.tth(B, &["take"]));
    assert_eq!(
        m,
        "Missing required option --reason. Harness CLI takeovers must explain why, unless --operator-requested is set."
    );
    let e = err(&p.tt(C, &["take", "--reason", &"r".repeat(1025)]), "invalid_input");
    assert_eq!(e["field"], "reason", "{e:#}");
    assert_eq!(p.state(A)["room"]["turn_id"], 1);
    let r = ok(&p.tth(B, &["take", "--operator-requested"]));
    fields(&r, json!({"reason": "operator_override", "revoked_agent_id": A}));
    fields(&p.newest_event(A), json!({"event_type": "takeover", "reason": "operator requested takeover"}));
    let r = ok(&p.tt(C, &["take", "--reason", &"r".repeat(1024)]));
    fields(&r, json!({"reason": "operator_override", "revoked_agent_id": B, "turn_id": 3}));
}

#[test]
fn take_error_messages() {
    // P§12.2: "An agent cannot take over its own stale lease."; P§12.5: "Takeover is not
    // available: room is closed." and "Takeover is not available: <summary>".
    let (p, _) = owned_room(&[A, B]);
    let e = err(&p.tth(B, &["take", "--reason", "r"]), "takeover_not_available");
    assert!(s(&e, "message").starts_with("Takeover is not available: "), "{e:#}");
    p.adv(2_701_000);
    let e = err(&p.tt(A, &["take", "--reason", "mine"]), "takeover_ineligible");
    assert_eq!(e["message"], "An agent cannot take over its own stale lease.", "{e:#}");
    p.sql("UPDATE path_rooms SET state='closed'");
    let e = err(&p.tt(B, &["take", "--reason", "r"]), "takeover_not_available");
    assert_eq!(e["message"], "Takeover is not available: room is closed.", "{e:#}");
}

// =============================================================================================
// C§4.9 heartbeat, P§10.7

#[test]
fn heartbeat_shape_and_options() {
    // C§4.9 JSON {status, room_id, turn_id, lease_id, lease_expires_at}; explicit tokens.
    let (p, g) = owned_room(&[A, B]);
    p.adv(60_000);
    let r = ok(&p.tt(A, &["heartbeat"]));
    exact_keys(&r, &["status", "room_id", "turn_id", "lease_id", "lease_expires_at"]);
    fields(&r, json!({"status": "ok", "turn_id": 1, "lease_id": g["lease_id"], "room_id": g["room_id"]}));
    let exp = iso_ms(&s(&r, "lease_expires_at"));
    assert!(exp >= p.now() + 2_700_000 && exp < p.now() + 2_710_000, "{r:#}");
    let lease = s(&g, "lease_id");
    let r = ok(&p.tt(A, &["heartbeat", "--lease-id", &lease, "--turn-id", "1"]));
    fields(&r, json!({"status": "ok"}));
    // B has no recorded lease.
    let e = err(&p.tt(B, &["heartbeat"]), "no_active_lease");
    assert_eq!(e["message"], "No active lease for this path. Run `tt wait` or `tt take` first.", "{e:#}");
    // B with A's tokens: fencing.
    err(&p.tt(B, &["heartbeat", "--lease-id", &lease, "--turn-id", "1"]), "stale_lease");
    err(&p.tt(A, &["heartbeat", "--lease-id", &lease, "--turn-id", "7"]), "turn_mismatch");
}

#[test]
fn heartbeat_never_refreshes_presence() {
    // P§8.1 / P§10.7 (#29): heartbeats never touch last_seen_at.
    let (p, _) = owned_room(&[A, B]);
    std::thread::sleep(Duration::from_millis(300));
    p.adv(5000);
    ok(&p.tt(A, &["heartbeat"]));
    let st = ok(&p.tt(B, &["state"]));
    let a = st["members"].as_array().unwrap().iter().find(|m| m["agent_id"] == A).unwrap().clone();
    assert!(iso_ms(&s(&a, "last_seen_at")) < p.now(), "heartbeat refreshed presence: {a:#}");
}

#[test]
fn failed_heartbeat_leaves_the_session_row_unchanged() {
    // C§4.9 / C§3.3: a failed heartbeat changes nothing, not even the session row.
    let (p, _) = owned_room(&[A, B]);
    let row = |p: &Proto| p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap();
    ok(&p.tt(B, &["take", "--reason", "r"]));
    let before = row(&p);
    assert!(before["lease_id"].is_string(), "{before:#}");
    err(&p.tt(A, &["heartbeat"]), "turn_mismatch");
    assert_eq!(row(&p), before);
}

// =============================================================================================
// C§4.10 release, C§4.11 pass and assign

#[test]
fn release_shape_and_default_handoff() {
    // C§4.10 JSON {status, room_id, reserved_for, event_seq, hint}; default status/next_action.
    let (p, g) = owned_room(&[A]);
    let r = ok(&p.tt(A, &["release"]));
    exact_keys(&r, &["status", "room_id", "reserved_for", "event_seq", "hint"]);
    fields(&r, json!({"status": "released", "room_id": g["room_id"], "reserved_for": null}));
    let ev = p.newest_event(A);
    fields(&ev, json!({"event_type": "release", "event_seq": r["event_seq"]}));
    assert_eq!(
        ev["handoff"],
        json!({"status": "(human handoff — no structured status provided)",
               "next_action": "(no explicit guidance — proceed as previously established)"})
    );
    ok(&p.tt(A, &["try"]));
    ok(&p.tt(A, &["release", "--status", "only status"]));
    assert_eq!(
        p.newest_event(A)["handoff"],
        json!({"status": "only status", "next_action": "(no explicit guidance — proceed as previously established)"})
    );
    let e = err(&p.tt(A, &["release"]), "no_active_lease");
    assert_eq!(e["message"], "No active lease for this path. Run `tt wait` or `tt take` first.", "{e:#}");
}

#[test]
fn release_stdin_handoff_validation() {
    // C§2.12: --stdin is a JSON handoff (invalid UTF-8 → usage); P§10.3 invalid_handoff fields.
    let (p, _) = owned_room(&[A]);
    usage(&p.run(Inv::agent(A, &["release", "--stdin"]).stdin(vec![0xff, 0xfe, b'{'])));
    let cases: [(Vec<u8>, &str); 5] = [
        (b"[1,2]".to_vec(), "handoff"),
        (b"\"text\"".to_vec(), "handoff"),
        (br#"{"status":"s"}"#.to_vec(), "next_action"),
        (br#"{"status":7,"next_action":"n"}"#.to_vec(), "status"),
        (format!(r#"{{"status":"s","next_action":"n","pad":"{}"}}"#, "x".repeat(65_536)).into_bytes(), "handoff"),
    ];
    for (input, field) in cases {
        let e = err(&p.run(Inv::agent(A, &["release", "--stdin"]).stdin(input)), "invalid_handoff");
        assert_eq!(e["field"], field, "{e:#}");
    }
    fields(&p.state(A)["room"], json!({"owner": A, "turn_id": 1}));
    let h = json!({
        "status": "s — ünïcode\n`x` $(rm -rf /)",
        "next_action": "n",
        "artifacts": [{"path": "a", "role": "edit"}]
    });
    ok(&p.run(Inv::agent(A, &["release", "--stdin"]).stdin(h.to_string())));
    assert_eq!(p.newest_event(A)["handoff"], h);
}

#[test]
fn pass_without_target_is_release_and_with_a_colon_is_assign() {
    // C§4.11: `tt pass` without a target is release (status "released"); a first positional with
    // `:` makes it `tt assign <that> [path]`.
    let (p, _) = owned_room(&[A]);
    let r = ok(&p.tt(A, &["pass", "--status", "s", "--next-action", "n"]));
    fields(&r, json!({"status": "released", "reserved_for": null}));
    fields(&p.newest_event(A), json!({"event_type": "release", "to_agent_id": null}));
    fields(&ok(&p.tt(A, &["try"])), json!({"status": "your_turn", "reason": "sequence"}));
    p.set_live(B, "alive");
    p.join(&[B]);
    let dir = pstr(&p.project);
    let r = ok(&p.tt(A, &["pass", B, &dir, "--status", "s", "--next-action", "n"]));
    exact_keys(&r, &["status", "room_id", "reserved_for", "event_seq", "hint"]);
    fields(&r, json!({"status": "passed", "reserved_for": B}));
    fields(&p.newest_event(A), json!({"event_type": "pass", "from_agent_id": A, "to_agent_id": B}));
}

#[test]
fn assign_selector_resolution() {
    // C§4.11 target resolution: `:` verbatim; display name / agent-id prefix, case-insensitive;
    // no candidate → unknown_member "No active room member matches '<selector>'." {selector};
    // self → invalid_input; an inactive member is no candidate.
    let (p, _) = owned_room(&[A, B, C]);
    let e = err(&p.tt(A, &["assign", "zed", "--status", "s", "--next-action", "n"]), "unknown_member");
    assert_eq!(e["message"], "No active room member matches 'zed'.", "{e:#}");
    assert_eq!(e["selector"], "zed", "{e:#}");
    let e = err(&p.tt(A, &["assign", A, "--status", "s", "--next-action", "n"]), "invalid_input");
    fields(&e, json!({"field": "to_agent_id", "message": "Cannot pass the stick to yourself; use release."}));
    let e = err(&p.tt(A, &["assign", "AGENT:B", "--status", "s", "--next-action", "n"]), "unknown_member");
    fields(&e, json!({"to_agent_id": "AGENT:B", "message": "pass target must be an active, turn-taking room member."}));
    // `a` is the caller's own display name: no other candidate.
    err(&p.tt(A, &["assign", "a", "--status", "s", "--next-action", "n"]), "unknown_member");
    p.gone(C);
    err(&p.tt(A, &["assign", "c", "--status", "s", "--next-action", "n"]), "unknown_member");
    fields(&p.state(A)["room"], json!({"owner": A, "turn_id": 1}));
    let r = ok(&p.tt(A, &["assign", "B", "--status", "s", "--next-action", "n"]));
    fields(&r, json!({"status": "passed", "reserved_for": B}));
    ok(&p.tt(B, &["try"]));
    let r = ok(&p.tt(B, &["assign", "agent", "--status", "s", "--next-action", "n"]));
    fields(&r, json!({"status": "passed", "reserved_for": A}));
}

#[test]
fn assign_next_policy_order() {
    // C§4.11 / P§11.5: never held first, then the oldest last claim or takeover, then ordinal.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    ok(&p.tt(A, &["try"]));
    let r = ok(&p.tt(A, &["assign", "next", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], B, "never held, lowest ordinal: {r:#}");
    p.adv(1000);
    ok(&p.tt(B, &["try"]));
    let r = ok(&p.tt(B, &["assign", "next", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], C, "never held beats held: {r:#}");
    p.adv(1000);
    ok(&p.tt(C, &["try"]));
    let r = ok(&p.tt(C, &["assign", "next", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], A, "oldest last claim: {r:#}");
}

#[test]
fn pass_and_assign_stop_the_guardian_and_clear_the_lease() {
    // C§4.11: the same guardian/session handling as release (C§3.3 clear lease, P§16.4).
    let (p, g) = owned_room(&[A, B]);
    let pid = live_guardian(&g);
    ok(&p.tt(A, &["assign", "b", "--status", "s", "--next-action", "n"]));
    assert!(wait_gone(pid, GUARDIAN_EXIT), "guardian {pid} still running");
    let row = p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap();
    for k in ["lease_id", "turn_id", "guardian_pid", "guardian_process_started_at"] {
        assert!(row.get(k).is_none(), "{k} left in {row:#}");
    }
}

// =============================================================================================
// C§4.12 health

const HEALTH_CORE: [&str; 11] = [
    "room",
    "owner",
    "reserved_for",
    "you_own",
    "lease",
    "guardian",
    "listener",
    "git",
    "takeover",
    "next_action",
    "hidden",
];
/// Fields companion specifications add (C§2.8).
const HEALTH_COMPANION: [&str; 3] = ["guards", "commitments", "host_lock"];

#[test]
fn health_compact_shape_for_the_owner() {
    // C§4.12 JSON (compact).
    let (p, g) = owned_room(&[A, B]);
    let r = ok(&p.tt(A, &["health"]));
    keys_within(&r, &HEALTH_CORE, &HEALTH_COMPANION);
    exact_keys(&r["room"], &["room_id", "canonical_path", "state", "turn_id"]);
    fields(
        &r["room"],
        json!({"room_id": g["room_id"], "canonical_path": pstr(&p.project), "state": "owned", "turn_id": 1}),
    );
    fields(&r, json!({"owner": A, "reserved_for": null, "you_own": true}));
    exact_keys(&r["lease"], &["expires_at", "renewing"]);
    assert_eq!(r["lease"]["renewing"], true, "{r:#}");
    assert_eq!(r["lease"]["expires_at"], p.state(B)["room"]["lease_expires_at"]);
    exact_keys(&r["guardian"], &["status", "pid"]);
    assert_eq!(r["guardian"], json!({"status": "alive", "pid": g["guardian_pid"]}));
    assert_eq!(r["listener"], json!({"status": "not_tracked"}));
    assert_eq!(r["git"], json!({"dirty": null, "summary": "not a git repository"}));
    assert_eq!(r["takeover"], json!({"available": false}));
    assert_eq!(r["next_action"], "You hold the stick: work, then `tt release` or `tt pass` with a handoff.");
    exact_keys(&r["hidden"], &["members_omitted"]);
    assert!(r["hidden"]["members_omitted"].is_u64(), "{r:#}");
}

#[test]
fn health_next_actions() {
    // C§4.12 next_action sentences and guardian / takeover fields.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B]);
    let r = ok(&p.tt(Z, &["health"]));
    assert_eq!(r["next_action"], "Run `tt wait` to join this room and wait for the turn.", "{r:#}");
    assert_eq!(r["guardian"], json!({"status": "not_recorded", "pid": null}));
    assert_eq!(p.member_ids(A), vec![A.to_owned(), B.to_owned()], "health must not join");
    let g = ok(&p.tt(A, &["try"]));
    let r = ok(&p.tt(B, &["health"]));
    assert_eq!(r["next_action"], "Keep one `tt wait` running.", "{r:#}");
    fields(&r, json!({"you_own": false}));
    assert_eq!(r["lease"]["renewing"], false, "{r:#}");
    // The owner without a live guardian.
    let pid = live_guardian(&g);
    kill(pid, "TERM");
    assert!(wait_gone(pid, GUARDIAN_EXIT));
    let r = ok(&p.tt(A, &["health"]));
    assert_eq!(r["guardian"], json!({"status": "gone", "pid": pid}));
    assert_eq!(r["lease"]["renewing"], false, "{r:#}");
    assert_eq!(
        r["next_action"],
        "You hold the stick but nothing renews the lease: run `tt wait` to repair the guardian."
    );
    // Takeover available for B.
    p.adv(2_701_000);
    let r = ok(&p.tt(B, &["health"]));
    assert_eq!(r["takeover"], json!({"available": true, "reason": "owner_timeout"}));
    assert_eq!(
        r["next_action"],
        "Takeover available (owner_timeout): run `tt take --reason …` if the holder is really unresponsive."
    );
    // The reserved recipient.
    ok(&p.tt(A, &["heartbeat"]));
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    let r = ok(&p.tt(B, &["health"]));
    fields(&r, json!({"reserved_for": B, "owner": null}));
    assert_eq!(r["next_action"], "The stick is reserved for you: run `tt wait` to claim it.", "{r:#}");
}

#[test]
fn health_verbose_shape() {
    // C§4.12 verbose: members, pending_handoff, cursor_event_seq, local, workspace,
    // coordination_prompt, next.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    ok(&p.tt(A, &["try"]));
    p.adv(11_000);
    let rel = ok(&p.tt(A, &["release", "--status", "S", "--next-action", "N"]));
    assert_eq!(rel["reserved_for"], Value::Null, "{rel:#}");
    let r = ok(&p.tt(A, &["health", "--verbose"]));
    let mut core: Vec<&str> = HEALTH_CORE.to_vec();
    core.extend([
        "members",
        "pending_handoff",
        "cursor_event_seq",
        "local",
        "workspace",
        "coordination_prompt",
        "next",
    ]);
    keys_within(&r, &core, &HEALTH_COMPANION);
    exact_keys(&r["pending_handoff"], &CORE_EVENT_KEYS);
    fields(
        &r["pending_handoff"],
        json!({"event_type": "release", "event_seq": rel["event_seq"], "handoff": handoff("S", "N")}),
    );
    assert_eq!(r["cursor_event_seq"], rel["event_seq"], "{r:#}");
    assert_eq!(r["local"], json!({"agent_id": A, "session_kind": "human_cli", "data_dir": pstr(&p.data)}), "{r:#}");
    assert_eq!(
        r["workspace"],
        json!({"requested_path": pstr(&p.project), "workspace_root": pstr(&p.project)}),
        "{r:#}"
    );
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{r:#}");
    let mut full: Vec<&str> = MEMBER_KEYS.to_vec();
    full.extend(MEMBER_VERBOSE_EXTRA);
    for m in members {
        exact_keys(m, &full);
    }
}

#[test]
fn health_is_read_only_and_refreshes_member_presence() {
    // C§4.12: no room, event, note, lease or session-file change; presence of a member refreshed
    // (P§8.1); `tt status` is an alias.
    let (p, _) = owned_room(&[A, B]);
    let sessions = std::fs::read(p.data.join("cli-sessions.json")).unwrap();
    let events_before = p.all_events(A).len();
    p.adv(5000);
    ok(&p.tt(B, &["health"]));
    ok(&p.tt(B, &["status"]));
    ok(&p.tt(A, &["health", "--verbose"]));
    assert_eq!(std::fs::read(p.data.join("cli-sessions.json")).unwrap(), sessions);
    assert_eq!(p.all_events(A).len(), events_before);
    let st = ok(&p.tt(A, &["state"]));
    let b = st["members"].as_array().unwrap().iter().find(|m| m["agent_id"] == B).unwrap().clone();
    assert!(iso_ms(&s(&b, "last_seen_at")) >= p.now(), "health did not refresh B's presence: {b:#}");
    let r = ok(&p.tt(B, &["status"]));
    keys_within(&r, &HEALTH_CORE, &HEALTH_COMPANION);
}

#[test]
fn health_git_summary() {
    // C§4.12 git: `git status --porcelain` of the workspace root: dirty/clean summaries.
    let p = Proto::new(&[A]);
    let repo = p.root.join("repo");
    std::fs::create_dir(&repo).unwrap();
    let init = Command::new("git").arg("init").arg("-q").arg(&repo).status();
    if !init.is_ok_and(|s| s.success()) {
        return; // no git: `git unavailable` cannot be told apart from a test problem here
    }
    ok(&p.tt(A, &["join", &pstr(&repo)]));
    let r = ok(&p.tt(A, &["health", &pstr(&repo)]));
    assert_eq!(r["git"], json!({"dirty": false, "summary": "clean"}), "{r:#}");
    std::fs::write(repo.join("a.txt"), "a").unwrap();
    std::fs::write(repo.join("b.txt"), "b").unwrap();
    let r = ok(&p.tt(A, &["health", &pstr(&repo)]));
    assert_eq!(r["git"], json!({"dirty": true, "summary": "2 changed path(s)"}), "{r:#}");
}

// =============================================================================================
// C§4.13 state, P§17.7 members horizon

#[test]
fn state_compact_and_verbose_shapes() {
    // C§4.13 {room: PathRoom, members: RoomMember[], cursor_event_seq}; C§5 compact and verbose.
    let (p, _) = owned_room(&[A, B]);
    let st = ok(&p.tt(B, &["state"]));
    keys_within(&st, &["room", "members", "cursor_event_seq"], &["commitments", "host_lock"]);
    exact_keys(&st["room"], &PATH_ROOM_KEYS);
    for m in st["members"].as_array().unwrap() {
        exact_keys(m, &MEMBER_KEYS);
        assert_iso(m, "last_seen_at");
    }
    assert_eq!(st["members"][1]["display_name"], "b");
    assert_eq!(n(&st, "cursor_event_seq"), n(&p.newest_event(A), "event_seq"));
    let st = ok(&p.tt(B, &["state", "--verbose"]));
    let mut room: Vec<&str> = PATH_ROOM_KEYS.to_vec();
    room.extend(["sequence_index", "created_at", "updated_at"]);
    exact_keys(&st["room"], &room);
    let mut full: Vec<&str> = MEMBER_KEYS.to_vec();
    full.extend(MEMBER_VERBOSE_EXTRA);
    for m in st["members"].as_array().unwrap() {
        exact_keys(m, &full);
        assert_iso(m, "joined_at");
    }
    let b = st["members"].as_array().unwrap().iter().find(|m| m["agent_id"] == B).unwrap();
    fields(b, json!({"ordinal": 1, "session_kind": "human_cli", "liveness": "alive", "pid": null}));
}

#[test]
fn state_members_horizon_view() {
    // P§17.7: members view = owner, recipient, caller and members seen since the horizon start;
    // hidden.members summary; `--all` disables it.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    p.adv(2 * 86_400_000);
    let st = ok(&p.tt(A, &["state"]));
    let ids: Vec<&str> = st["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![A]);
    let h = &st["hidden"]["members"];
    exact_keys(h, &HIDDEN_KEYS);
    fields(
        h,
        json!({"older_count": 2, "shown_count": 1, "total_count": 3, "horizon_start_at": "2026-04-24T00:00:00.000Z"}),
    );
    let latest = iso_ms(&s(h, "latest_activity_at"));
    assert!(latest >= p.now() && latest < p.now() + 60_000, "{st:#}");
    let st = ok(&p.tt(A, &["state", "--all"]));
    assert_eq!(st["members"].as_array().unwrap().len(), 3);
    absent(&st, &["hidden"]);
}

#[test]
fn state_derived_states() {
    // P§5.2: dormant when no member is active; owner_gone / stale_owner / recipient_gone.
    let p = Proto::new(&[A]).with_settings(r#"{"presence_ttl_ms":1000}"#);
    p.join(&[A]);
    p.adv(2000);
    assert_eq!(ok(&p.tt(Z, &["state"]))["room"]["state"], "dormant");
    assert_eq!(ok(&p.raw(&["list", "--json"]))["rooms"][0]["state"], "dormant");
    let (q, _) = owned_room(&[A, B]);
    q.adv(2_701_000);
    assert_eq!(q.state(B)["room"]["state"], "stale_owner");
    assert_eq!(ok(&q.raw(&["list", "--json"]))["rooms"][0]["state"], "stale_owner");
}

// =============================================================================================
// C§4.14 events, P§17

const KNOWN_TYPES: &str = "join,leave,claim,release,pass,takeover,kick,session_superseded,message_sent,\
                           commitments_inherited,close,reservation_expired";

#[test]
fn events_type_filter_validation() {
    // P§17.3 / C§4.14: unknown or empty types → invalid_event_type_filter (exit 1) with
    // `supplied`; the twelve known types are accepted.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    for bad in ["bogus", "claim,bogus", "", "claim,"] {
        let out = p.tt(A, &["events", "--event", bad]);
        let e = err(&out, "invalid_event_type_filter");
        assert!(e.get("supplied").is_some(), "--event {bad:?}: {e:#}");
    }
    let e = err(&p.tt(A, &["events", "--event", "bogus"]), "invalid_event_type_filter");
    assert!(e["supplied"].to_string().contains("bogus"), "{e:#}");
    err(&p.tt(A, &["events", "--wait", "--event", "bogus", "--timeout", "0"]), "invalid_event_type_filter");
    let r = ok(&p.tt(A, &["events", "--event", KNOWN_TYPES]));
    assert!(r["events"].is_array(), "{r:#}");
}

#[test]
fn events_sender_and_target_filters() {
    // P§17.3: `--from`; `--target <agent_id>` is strictly to_agent_id (broadcasts excluded);
    // `--target self` is the self filter; the default non-stream target is `any`.
    let (p, _) = owned_room(&[A, B, C]);
    ok(&p.tt(B, &["msg", "send", C, "b to c"]));
    ok(&p.tt(B, &["msg", "send", "room", "b to room"]));
    ok(&p.tt(C, &["msg", "send", B, "c to b"]));
    ok(&p.tt(C, &["msg", "send", "room", "c to room"]));
    let bodies = |r: &Value| -> Vec<String> {
        events(r).iter().filter_map(|e| e["payload"]["body"].as_str().map(str::to_owned)).collect()
    };
    let r = ok(&p.tt(A, &["events", "--from", B]));
    assert!(events(&r).iter().all(|e| e["from_agent_id"] == B), "{r:#}");
    assert_eq!(bodies(&r), vec!["b to c", "b to room"]);
    let r = ok(&p.tt(A, &["events", "--target", B]));
    assert!(events(&r).iter().all(|e| e["to_agent_id"] == B), "{r:#}");
    assert_eq!(bodies(&r), vec!["c to b"]);
    let r = ok(&p.tt(B, &["events", "--target", "self", "--event", "message_sent"]));
    assert_eq!(bodies(&r), vec!["c to b", "c to room"], "own broadcast excluded, others' included");
    let r = ok(&p.tt(B, &["events", "--event", "message_sent"]));
    assert_eq!(bodies(&r).len(), 4, "default target any: {r:#}");
    let r = ok(&p.tt(A, &["events", "--from", C, "--target", B]));
    assert_eq!(bodies(&r), vec!["c to b"]);
}

#[test]
fn events_result_shapes_and_cursor() {
    // C§4.14: explicit mode {events, cursor_event_seq, has_more}; default view {events,
    // cursor_event_seq, hidden?}; cursor = last returned seq, else --after, else the largest seq;
    // limit clamped to [1, 500].
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let mut seqs = Vec::new();
    for i in 0..3 {
        seqs.push(n(&ok(&p.tt(A, &["msg", "send", "room", &format!("m{i}")])), "event_seq"));
    }
    let r = ok(&p.tt(A, &["events"]));
    exact_keys(&r, &["events", "cursor_event_seq"]);
    assert_eq!(r["cursor_event_seq"], seqs[2]);
    let r = ok(&p.tt(A, &["events", "--event", "kick"]));
    exact_keys(&r, &["events", "cursor_event_seq"]);
    assert_eq!(r["cursor_event_seq"], seqs[2], "no events: the room's largest seq");
    let r = ok(&p.tt(A, &["events", "--after", "0", "--limit", "0"]));
    exact_keys(&r, &["events", "cursor_event_seq", "has_more"]);
    fields(&r, json!({"has_more": true, "cursor_event_seq": seqs[0]}));
    assert_eq!(events(&r).len(), 1);
    let r = ok(&p.tt(A, &["events", "--after", &seqs[0].to_string(), "--event", "kick"]));
    fields(&r, json!({"events": [], "has_more": false, "cursor_event_seq": seqs[0]}));
    let r = ok(&p.tt(A, &["events", "--all"]));
    exact_keys(&r, &["events", "cursor_event_seq", "has_more"]);
    fields(&r, json!({"has_more": false}));
    for e in events(&r) {
        exact_keys(&e, &CORE_EVENT_KEYS);
        assert_iso(&e, "created_at");
    }
    // P§17.2: payload only for message_sent.
    ok(&p.tt(A, &["try"]));
    let claim = p.newest_event(A);
    fields(&claim, json!({"event_type": "claim", "payload": null, "handoff": null, "reason": null}));
}

#[test]
fn events_horizon_view() {
    // P§17.7: events view = events since the horizon start (newest 50), hidden.events summary;
    // `--all` disables the horizon.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    ok(&p.tt(A, &["msg", "send", "room", "old"]));
    p.adv(2 * 86_400_000);
    ok(&p.tt(A, &["msg", "send", "room", "new"]));
    let r = ok(&p.tt(A, &["events"]));
    assert_eq!(events(&r).len(), 1, "{r:#}");
    assert_eq!(events(&r)[0]["payload"]["body"], "new");
    let h = &r["hidden"]["events"];
    exact_keys(h, &HIDDEN_KEYS);
    fields(
        h,
        json!({"older_count": 1, "shown_count": 1, "total_count": 2, "horizon_start_at": "2026-04-24T00:00:00.000Z"}),
    );
    let r = ok(&p.tt(A, &["events", "--all"]));
    assert_eq!(events(&r).len(), 2, "{r:#}");
    absent(&r, &["hidden"]);
}

#[test]
fn events_follow_ends_at_timeout_and_on_sigterm() {
    // C§4.14 / P§17.6: `--follow` repeats until a signal or the end of --timeout; exit 0 and
    // `cursor_event_seq=<n>` on stderr; streams start at the tail (no replay).
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    ok(&p.tt(A, &["msg", "send", B, "old"]));
    let tail = n(&p.newest_event(A), "event_seq");
    let out = p.tt(B, &["events", "--follow", "--timeout", "1"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "", "no replay at launch: {out:?}");
    assert!(out.stderr.contains(&format!("cursor_event_seq={tail}")), "{out:?}");
    let follow = Running::start(&p, &Inv::agent(B, &["events", "--follow"]), false);
    std::thread::sleep(Duration::from_millis(700));
    ok(&p.tt(A, &["msg", "send", B, "new"]));
    let seq = n(&p.newest_event(A), "event_seq");
    std::thread::sleep(Duration::from_millis(700));
    kill(follow.pid(), "TERM");
    let (out, sig) = follow.finish(Duration::from_secs(10));
    assert_eq!((out.code, sig), (0, None), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    assert!(out.stderr.contains(&format!("cursor_event_seq={seq}")), "{out:?}");
}

// =============================================================================================
// C§4.15 msg send, P§18.1

#[test]
fn msg_send_shape_and_recipients() {
    // C§4.15: JSON {event_seq, event_id, created_at}; `room` / `--room` broadcasts; exact agent id
    // of any member; display name among active members; interrupt hint.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    let r = ok(&p.tt(A, &["msg", "send", "room", "hello", "world"]));
    exact_keys(&r, &["event_seq", "event_id", "created_at"]);
    assert_iso(&r, "created_at");
    let ev = p.newest_event(A);
    fields(
        &ev,
        json!({"event_type": "message_sent", "event_seq": r["event_seq"], "event_id": r["event_id"],
               "from_agent_id": A, "to_agent_id": null, "payload": {"body": "hello world", "delivery_hint": "normal"}}),
    );
    ok(&p.tt(A, &["msg", "send", "--room", "all", "of", "it"]));
    fields(
        &p.newest_event(A),
        json!({"to_agent_id": null, "payload": {"body": "all of it", "delivery_hint": "normal"}}),
    );
    ok(&p.tt(A, &["msg", "send", "b", "by", "name", "--interrupt"]));
    fields(&p.newest_event(A), json!({"to_agent_id": B, "payload": {"body": "by name", "delivery_hint": "interrupt"}}));
    // An inactive member: its exact id works, its display name does not.
    p.gone(C);
    ok(&p.tt(A, &["msg", "send", C, "exact id"]));
    fields(&p.newest_event(A), json!({"to_agent_id": C}));
    let e = err(&p.tt(A, &["msg", "send", "c", "by name"]), "unknown_recipient");
    fields(&e, json!({"recipient": "c", "message": "No active room member matches 'c'."}));
}

#[test]
fn msg_send_body_rules() {
    // C§4.15 / C§2.12 / P§18.1: body verbatim (not trimmed, unicode, newlines, backticks, `$(…)`),
    // stdin read whole; empty → the verbatim usage message; invalid UTF-8 → usage.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let body = "  héllo\n`x` $(rm -rf /) \u{1F600}  ";
    ok(&p.tt(A, &["msg", "send", "room", body]));
    assert_eq!(p.newest_event(A)["payload"]["body"], body);
    ok(&p.run(Inv::agent(A, &["msg", "send", "room", "--stdin"]).stdin("line one\nline two\n")));
    assert_eq!(p.newest_event(A)["payload"]["body"], "line one\nline two\n");
    ok(&p.run(Inv::agent(A, &["msg", "send", "--room", "--stdin"]).stdin("via room flag")));
    assert_eq!(p.newest_event(A)["payload"]["body"], "via room flag");
    const MSG: &str = "Message body is required (pass as a positional or use --stdin to read from stdin).";
    assert_eq!(usage_msg(&p.tt(A, &["msg", "send", "room"])), MSG);
    assert_eq!(usage_msg(&p.tt(A, &["msg", "send", "--room"])), MSG);
    assert_eq!(usage_msg(&p.run(Inv::agent(A, &["msg", "send", "room", "--stdin"]).stdin(""))), MSG);
    usage(&p.run(Inv::agent(A, &["msg", "send", "room", "--stdin"]).stdin(vec![b'a', 0xff])));
    usage(&p.tt(A, &["msg", "send"]));
}

#[test]
fn msg_send_by_a_non_member_writes_nothing() {
    // P§18.1 step 5 / C§3.3: unknown_member with the sender's agent_id; no row, no event.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let before = p.all_events(A).len();
    let e = err(&p.tt(Z, &["msg", "send", A, "hi"]), "unknown_member");
    assert_eq!(e["agent_id"], Z, "{e:#}");
    assert_eq!(p.all_events(A).len(), before);
    assert!(p.sessions().iter().all(|r| r["agent_id"] != Z));
}

// =============================================================================================
// C§4.16 msg recv

#[test]
fn msg_recv_non_stream() {
    // C§4.16: `tt events` restricted to message_sent with default target self; `--from`,
    // `--target any`, explicit mode.
    let (p, _) = owned_room(&[A, B, C]);
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    ok(&p.tt(A, &["msg", "send", B, "a to b"]));
    ok(&p.tt(B, &["msg", "send", "room", "b to room"]));
    ok(&p.tt(C, &["msg", "send", "room", "c to room"]));
    ok(&p.tt(C, &["msg", "send", A, "c to a"]));
    let bodies = |r: &Value| -> Vec<String> {
        events(r).iter().map(|e| e["payload"]["body"].as_str().unwrap_or("<not a message>").to_owned()).collect()
    };
    let r = ok(&p.tt(B, &["msg", "recv"]));
    assert!(r.get("has_more").is_none(), "{r:#}");
    assert_eq!(bodies(&r), vec!["a to b", "c to room"]);
    let r = ok(&p.tt(B, &["msg", "recv", "--from", C]));
    assert_eq!(bodies(&r), vec!["c to room"]);
    let r = ok(&p.tt(B, &["msg", "recv", "--target", "any"]));
    assert_eq!(bodies(&r), vec!["a to b", "b to room", "c to room", "c to a"]);
    let r = ok(&p.tt(B, &["msg", "recv", "--after", "0", "--limit", "1"]));
    fields(&r, json!({"has_more": true}));
    assert_eq!(bodies(&r), vec!["a to b"]);
}

#[test]
fn msg_recv_stream_ignores_other_events() {
    // C§4.16: a pass (or any other event) never appears in or wakes `msg recv --wait`; streams
    // start at the tail.
    let (p, _) = owned_room(&[A, B]);
    ok(&p.tt(A, &["msg", "send", B, "before"]));
    let recv = Running::start(&p, &Inv::agent(B, &["msg", "recv", "--wait", "--timeout", "8"]), false);
    std::thread::sleep(Duration::from_millis(700));
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    std::thread::sleep(Duration::from_millis(500));
    ok(&p.tt(A, &["msg", "send", B, "after"]));
    let (out, _) = recv.finish(Duration::from_secs(15));
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<Value> = out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{out:?}");
    fields(&lines[0], json!({"event_type": "message_sent", "payload": {"body": "after", "delivery_hint": "normal"}}));
}

// =============================================================================================
// C§4.17 notes, P§18.2

#[test]
fn notes_add_and_list_shapes() {
    // C§4.17 add {note_id, room_id, turn_id, author_agent_id, created_at}; list {notes: Note[]};
    // C§5 Note; body trimmed; --turn in [0, turn].
    let (p, g) = owned_room(&[A, B]);
    let r = ok(&p.tt(B, &["notes", "add", "  padded body \n"]));
    exact_keys(&r, &["note_id", "room_id", "turn_id", "author_agent_id", "created_at"]);
    fields(&r, json!({"room_id": g["room_id"], "turn_id": null, "author_agent_id": B}));
    assert_iso(&r, "created_at");
    p.adv(1000);
    let r2 = ok(&p.tt(A, &["notes", "add", "turn zero", "--turn", "0"]));
    assert_eq!(r2["turn_id"], 0);
    let e = err(&p.tt(A, &["notes", "add", "x", "--turn", "2"]), "invalid_turn_id");
    fields(&e, json!({"supplied": 2, "current_turn_id": 1}));
    let l = ok(&p.tt(A, &["notes", "list"]));
    exact_keys(&l, &["notes"]);
    let notes = l["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    for note in notes {
        exact_keys(
            note,
            &[
                "note_id",
                "room_id",
                "turn_id",
                "author_agent_id",
                "body",
                "created_at",
                "resolved_at",
                "resolved_by_agent_id",
            ],
        );
        fields(note, json!({"resolved_at": null, "resolved_by_agent_id": null}));
    }
    fields(&notes[0], json!({"note_id": r["note_id"], "body": "padded body", "author_agent_id": B}));
    fields(&notes[1], json!({"note_id": r2["note_id"], "body": "turn zero", "turn_id": 0}));
    // No event is written by notes.
    assert!(p.all_events(A).iter().all(|e| e["event_type"] != "note"));
    err(&p.tt(Z, &["notes", "add", "x"]), "unknown_member");
    // A non-member reads without side effects.
    ok(&p.tt(Z, &["notes", "list"]));
    assert!(!p.member_ids(A).contains(&Z.to_owned()));
}

#[test]
fn notes_pagination_and_invalid_cursor() {
    // P§18.2 / C§4.17: `--after NOTE_ID` strictly after; `--limit` clamped to [1, 200];
    // an unknown or foreign note id → invalid_cursor (exit 1).
    let p = Proto::new(&[A]);
    p.join(&[A]);
    // Each add one second after the previous one: notes are ordered by (created_at, note_id).
    let ids: Vec<String> = (0..4)
        .map(|i| {
            p.adv(1000);
            s(&ok(&p.tt(A, &["notes", "add", &format!("n{i}")])), "note_id")
        })
        .collect();
    let page = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["notes", "list"];
        a.extend_from_slice(args);
        ok(&p.tt(A, &a))["notes"].as_array().unwrap().iter().map(|x| s(x, "note_id")).collect()
    };
    assert_eq!(page(&[]), ids);
    assert_eq!(page(&["--limit", "2"]), ids[..2].to_vec());
    assert_eq!(page(&["--after", &ids[1]]), ids[2..].to_vec());
    assert_eq!(page(&["--after", &ids[1], "--limit", "1"]), ids[2..3].to_vec());
    assert_eq!(page(&["--limit", "0"]), ids[..1].to_vec());
    assert_eq!(page(&["--limit", "9999"]), ids);
    assert_eq!(page(&["--after", &ids[3]]), Vec::<String>::new());
    err(&p.tt(A, &["notes", "list", "--after", "bogus"]), "invalid_cursor");
    // A note of another room.
    let other = p.root.join("other");
    std::fs::create_dir(&other).unwrap();
    ok(&p.tt(A, &["join", &pstr(&other)]));
    let foreign = s(&ok(&p.tt(A, &["notes", "add", "elsewhere", "--path", &pstr(&other)])), "note_id");
    err(&p.tt(A, &["notes", "list", "--after", &foreign]), "invalid_cursor");
}

#[test]
fn notes_horizon_view() {
    // P§17.7 notes view: since the horizon start, hidden.notes; --all / --limit lift it.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    ok(&p.tt(A, &["notes", "add", "old"]));
    p.adv(2 * 86_400_000);
    ok(&p.tt(A, &["notes", "add", "new"]));
    let r = ok(&p.tt(A, &["notes", "list"]));
    let notes = r["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{r:#}");
    assert_eq!(notes[0]["body"], "new");
    let h = &r["hidden"]["notes"];
    exact_keys(h, &HIDDEN_KEYS);
    fields(
        h,
        json!({"older_count": 1, "shown_count": 1, "total_count": 2, "horizon_start_at": "2026-04-24T00:00:00.000Z"}),
    );
    for args in [&["notes", "list", "--all"][..], &["notes", "list", "--limit", "50"]] {
        let r = ok(&p.tt(A, args));
        assert_eq!(r["notes"].as_array().unwrap().len(), 2, "{args:?}: {r:#}");
        absent(&r, &["hidden"]);
    }
}

#[test]
fn notes_body_rules() {
    // C§4.17: empty after trimming → the verbatim usage message; stdin body.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    const MSG: &str = "Note body is required (pass as a positional or use --stdin to read from stdin).";
    assert_eq!(usage_msg(&p.tt(A, &["notes", "add"])), MSG);
    assert_eq!(usage_msg(&p.tt(A, &["notes", "add", " \n "])), MSG);
    assert_eq!(usage_msg(&p.run(Inv::agent(A, &["notes", "add", "--stdin"]).stdin("   "))), MSG);
    ok(&p.run(Inv::agent(A, &["notes", "add", "--stdin"]).stdin("  from stdin\nsecond\n")));
    let notes = ok(&p.tt(A, &["notes", "list"]))["notes"].clone();
    assert_eq!(notes[0]["body"], "from stdin\nsecond");
}

// =============================================================================================
// C§4.18 instructions, P§19

#[test]
fn instructions_show_shape_and_validation() {
    // C§4.18 show JSON {harness, scope, text, sources, paths}; verbatim usage messages;
    // P§4.1.3: show never creates the data directory; P§19.4 harness selection.
    let p = Proto::new(&[A]);
    let r = ok(&p.tt(A, &["instructions", "show"]));
    exact_keys(&r, &["harness", "scope", "text", "sources", "paths"]);
    fields(&r, json!({"harness": "all", "scope": "effective", "sources": [{"scope": "bundled", "path": null}]}));
    assert_eq!(
        r["paths"],
        json!({"user": pstr(&p.data.join("instructions.md")),
               "project": pstr(&p.project.join(".talking-stick").join("instructions.md"))})
    );
    let text = s(&r, "text");
    assert!(text.contains("## Claude") && text.contains("## Codex") && text.contains("tt wait"), "{text}");
    assert!(!p.data.exists(), "instructions show created the data directory");
    assert_eq!(
        usage_msg(&p.tt(A, &["instructions", "show", "--scope", "x"])),
        "--scope must be one of effective, bundled, user, project (got x)."
    );
    assert_eq!(
        usage_msg(&p.tt(A, &["instructions", "show", "--harness", "x"])),
        "--harness must be one of claude, codex, antigravity, gemini, grok, opencode, all (got x)."
    );
    let r = ok(&p.raw(&["--agent", "codex:xyz", "--json", "instructions", "show"]));
    assert_eq!(r["harness"], "codex", "{r:#}");
    let r = ok(&p.tt(A, &["instructions", "show", "--harness", "claude", "--scope", "bundled"]));
    let text = s(&r, "text");
    assert!(text.contains("## Claude") && !text.contains("## Codex"), "{text}");
}

#[test]
fn instructions_layers_and_harness_sections() {
    // P§19.1–19.3: bundled, user, project layers; harness extraction; "\n\n" joining; sources.
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    let user = p.data.join("instructions.md");
    std::fs::write(&user, "Shared U\n## Claude\nClaude U\n## Codex\nCodex U\n## Notes\nhidden\n").unwrap();
    let proj_dir = p.project.join(".talking-stick");
    std::fs::create_dir(&proj_dir).unwrap();
    let project = proj_dir.join("instructions.md");
    std::fs::write(&project, "\n\nProject P\n\n").unwrap();
    let r = ok(&p.tt(A, &["instructions", "show", "--harness", "codex", "--scope", "user"]));
    let text = s(&r, "text");
    assert!(text.starts_with("Shared U") && text.contains("## Codex\nCodex U"), "{text:?}");
    assert!(!text.contains("Claude U") && !text.contains("hidden"), "{text:?}");
    let r = ok(&p.tt(A, &["instructions", "show", "--harness", "codex"]));
    let text = s(&r, "text");
    assert!(text.ends_with("\n\nShared U\n## Codex\nCodex U\n\nProject P"), "{text:?}");
    assert_eq!(
        r["sources"],
        json!([{"scope": "bundled", "path": null}, {"scope": "user", "path": pstr(&user)},
               {"scope": "project", "path": pstr(&project)}])
    );
    let r = ok(&p.tt(A, &["instructions", "show", "--harness", "all", "--scope", "user"]));
    assert!(s(&r, "text").contains("Claude U") && s(&r, "text").contains("hidden"), "{r:#}");
    let r = ok(&p.tt(A, &["instructions", "show", "--scope", "project"]));
    assert_eq!(r["text"], "Project P", "{r:#}");
}

#[test]
fn instructions_too_large() {
    // P§19.1: "<scope> instructions file is too large (<n> bytes, max 262144): <path>".
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    let user = p.data.join("instructions.md");
    std::fs::write(&user, "x".repeat(262_145)).unwrap();
    let e = err(&p.tt(A, &["instructions", "show"]), "instructions_too_large");
    fields(
        &e,
        json!({"path": pstr(&user), "size": 262_145, "max": 262_144,
               "message": format!("user instructions file is too large (262145 bytes, max 262144): {}", pstr(&user))}),
    );
    std::fs::write(&user, "x".repeat(262_144)).unwrap();
    ok(&p.tt(A, &["instructions", "show"]));
}

#[test]
fn instructions_edit_and_reset() {
    // C§4.18 edit {scope, path, created, opened, editor|null} and text; reset {scope, path, removed}
    // and its verbatim usage messages.
    let p = Proto::new(&[A]);
    let user = p.data.join("instructions.md");
    let r = ok(&p.tt(A, &["instructions", "edit"]));
    exact_keys(&r, &["scope", "path", "created", "opened", "editor"]);
    fields(&r, json!({"scope": "user", "path": pstr(&user), "created": true, "opened": false, "editor": null}));
    assert!(user.is_file());
    assert_eq!(mode(&p.data), 0o700, "data dir mode");
    let lines = tx_ok(&p, A, &["instructions", "edit"]);
    assert_eq!(lines, vec![format!("Set $VISUAL or $EDITOR to edit {}.", pstr(&user))]);
    let r = ok(&p.run(Inv::agent(A, &["instructions", "edit", "--project"]).env("EDITOR", "true")));
    let project = p.project.join(".talking-stick").join("instructions.md");
    fields(&r, json!({"scope": "project", "path": pstr(&project), "created": true, "opened": true, "editor": "true"}));
    assert!(project.is_file());
    let r = ok(&p.run(Inv::agent(A, &["instructions", "edit"]).env("VISUAL", "true").env("EDITOR", "false")));
    fields(&r, json!({"created": false, "opened": true, "editor": "true"}));
    assert_eq!(
        usage_msg(&p.tt(A, &["instructions", "reset"])),
        "Pass --user or --project to choose which instructions to reset."
    );
    assert_eq!(
        usage_msg(&p.tt(A, &["instructions", "reset", "--user", "--project"])),
        "Pass only one of --user or --project."
    );
    let r = ok(&p.tt(A, &["instructions", "reset", "--user"]));
    exact_keys(&r, &["scope", "path", "removed"]);
    fields(&r, json!({"scope": "user", "path": pstr(&user), "removed": true}));
    assert!(!user.exists());
    fields(&ok(&p.tt(A, &["instructions", "reset", "--user"])), json!({"removed": false}));
    fields(&ok(&p.tt(A, &["instructions", "reset", "--project"])), json!({"scope": "project", "removed": true}));
}

// =============================================================================================
// P§4.1 data directory, P§20 storage

#[test]
fn storage_file_modes() {
    // P§4.1.3: data dir 0700, database and side files 0600 (C§3.5 cli-sessions.json).
    let (p, _) = owned_room(&[A]);
    assert_eq!(mode(&p.data), 0o700, "data dir");
    for f in ["rooms.sqlite", "rooms.sqlite-wal", "rooms.sqlite-shm", "cli-sessions.json"] {
        let path = p.data.join(f);
        if (f.ends_with("-wal") || f.ends_with("-shm")) && !path.exists() {
            continue;
        }
        assert_eq!(mode(&path), 0o600, "{f}");
    }
}

#[test]
fn storage_application_id_and_migrations() {
    // P§20.1 application_id 1414812465, WAL; P§20.2 migration `1 initial`.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    assert_eq!(p.sql("PRAGMA application_id").trim(), "1414812465");
    assert_eq!(p.sql("PRAGMA journal_mode").trim(), "wal");
    let rows = p.sql("SELECT id, name FROM schema_migrations ORDER BY id");
    assert_eq!(rows.lines().next(), Some("1|initial"), "{rows}");
}

#[test]
fn storage_incompatible_database() {
    // P§20.1: a foreign non-empty database → incompatible_database (verbatim message, `path`),
    // nothing modified; reading commands too.
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    p.sql("CREATE TABLE upstream_rooms (id TEXT)");
    let db = p.data.join("rooms.sqlite");
    // (Byte-identity of the foreign file is checked in storage_incompatible_database_is_not_modified.)
    let e = err(&p.tt(A, &["join"]), "incompatible_database");
    let msg = s(&e, "message");
    assert!(
        msg.starts_with("rooms.sqlite at ")
            && msg.ends_with(" was not created by this tt; move it aside or set TT_DATA_DIR."),
        "{msg}"
    );
    assert!(msg.contains(&pstr(&p.data)), "{msg}");
    assert!(s(&e, "path").contains(&pstr(&p.data)), "{e:#}");
    err(&p.raw(&["--json", "list"]), "incompatible_database");
    err(&p.tt(A, &["state"]), "incompatible_database");
    assert!(db.is_file());
}

#[test]

fn storage_incompatible_database_is_not_modified() {
    // P§20.1: "Nothing is modified in that case."
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    p.sql("CREATE TABLE upstream_rooms (id TEXT)");
    let db = p.data.join("rooms.sqlite");
    let before = std::fs::read(&db).unwrap();
    err(&p.tt(A, &["join"]), "incompatible_database");
    let after = std::fs::read(&db).unwrap();
    assert_eq!(
        (after.get(18..20), after.get(24..28)),
        (before.get(18..20), before.get(24..28)),
        "header changed: bytes 18–19 = file format write/read version (2 = WAL), 24–27 = change counter"
    );
    assert_eq!(after, before, "the foreign database was modified");
    assert!(!p.data.join("rooms.sqlite-wal").exists(), "a WAL file was created next to the foreign database");
}

#[test]
fn storage_empty_database_file_is_initialised() {
    // P§20.1: a new or empty file is initialised.
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    std::fs::write(p.data.join("rooms.sqlite"), b"").unwrap();
    ok(&p.tt(A, &["join"]));
    assert_eq!(p.sql("PRAGMA application_id").trim(), "1414812465");
}

#[test]
fn storage_remote_filesystem_is_refused() {
    // P§4.1.4 / host-lock.md §3 (TT_FS_TYPE): nfs*, smbfs, cifs, smb2 refused for reading and
    // writing commands, nothing written; whoami never opens the data directory.
    let p = Proto::new(&[A]);
    for fs in ["nfs", "nfs4", "smbfs", "cifs", "smb2"] {
        for args in [&["join"][..], &["state"], &["events"]] {
            let e = err(&p.run(Inv::agent(A, args).env("TT_FS_TYPE", fs)), "remote_filesystem");
            assert_eq!(e["fs_type"], fs, "{e:#}");
            assert!(e["path"].is_string(), "{e:#}");
            let msg = s(&e, "message");
            assert!(
                msg.starts_with(&format!("tt requires a local filesystem for SQLite state. Detected {fs} at "))
                    && msg.ends_with(". Set TT_DATA_DIR to a local path."),
                "{msg}"
            );
        }
        err(&p.run(Inv::new(&["--json", "list"]).env("TT_FS_TYPE", fs)), "remote_filesystem");
        assert!(!p.data.exists(), "{fs}: the refusal wrote the data directory");
    }
    ok(&p.run(Inv::agent(A, &["whoami"]).env("TT_FS_TYPE", "nfs")));
    for fs in ["ext4", "tmpfs", "overlay", "zfs"] {
        ok(&p.run(Inv::agent(A, &["join"]).env("TT_FS_TYPE", fs)));
    }
    // With an existing database: still refused, nothing changed.
    let before = p.all_events(A).len();
    err(&p.run(Inv::agent(A, &["msg", "send", "room", "x"]).env("TT_FS_TYPE", "nfs")), "remote_filesystem");
    assert_eq!(p.all_events(A).len(), before);
}

#[test]
fn data_directory_resolution() {
    // P§4.1.1: TT_DATA_DIR (relative → against the cwd), TALKING_STICK_DATA_DIR, XDG_DATA_HOME
    // (absolute only), $HOME/.local/share/talking-stick; blank values are skipped.
    let p = Proto::new(&[A]);
    ok(&p.run(Inv::agent(A, &["join"]).env("TT_DATA_DIR", "rel-data")));
    assert!(p.project.join("rel-data").join("rooms.sqlite").is_file());
    let home = p.root.join("home");
    std::fs::create_dir(&home).unwrap();
    let xdg = p.root.join("xdg");
    ok(&p.run(
        Inv::agent(A, &["join"])
            .env("TT_DATA_DIR", " ")
            .env("TALKING_STICK_DATA_DIR", "")
            .env("XDG_DATA_HOME", &xdg)
            .env("HOME", &home),
    ));
    let d = xdg.join("talking-stick");
    assert!(d.join("rooms.sqlite").is_file(), "XDG_DATA_HOME was not used");
    assert_eq!(mode(&d), 0o700);
    ok(&p.run(Inv::agent(A, &["join"]).unset("TT_DATA_DIR").env("XDG_DATA_HOME", "relative/xdg").env("HOME", &home)));
    assert!(home.join(".local/share/talking-stick/rooms.sqlite").is_file(), "HOME fallback was not used");
    assert!(!p.project.join("relative").exists());
}

// =============================================================================================
// C§3 cli-sessions.json

#[test]
fn sessions_row_fields() {
    // C§3.2 row format; C§3.3 record lease / clear lease (cursor kept).
    let (p, g) = owned_room(&[A]);
    let rows = p.sessions();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = &rows[0];
    exact_keys(
        row,
        &[
            "agent_id",
            "room_id",
            "canonical_path",
            "workspace_root",
            "lease_id",
            "turn_id",
            "guardian_pid",
            "guardian_process_started_at",
            "event_cursor_seq",
            "updated_at",
        ],
    );
    let dir = pstr(&p.project);
    fields(
        row,
        json!({"agent_id": A, "room_id": g["room_id"], "canonical_path": dir, "workspace_root": dir,
               "lease_id": g["lease_id"], "turn_id": 1, "guardian_pid": g["guardian_pid"],
               "event_cursor_seq": g["cursor_event_seq"]}),
    );
    assert!(row["guardian_process_started_at"].is_u64(), "{row:#}");
    assert_iso(row, "updated_at");
    ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    let row = &p.sessions()[0];
    exact_keys(row, &["agent_id", "room_id", "canonical_path", "workspace_root", "event_cursor_seq", "updated_at"]);
}

#[test]
fn sessions_explicit_join_seeds_the_cursor_only_once() {
    // C§3.3 join refresh / P§17.5: an explicit join seeds event_cursor_seq only when the row has
    // none; an existing cursor is left unchanged.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A]);
    let cursor = |p: &Proto| p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap()["event_cursor_seq"].clone();
    assert_eq!(cursor(&p), 0);
    p.join(&[B, C]);
    ok(&p.tt(A, &["join"]));
    assert_eq!(cursor(&p), 0, "an existing cursor is not moved by join");
    let r = ok(&p.tt(A, &["try"]));
    assert_eq!(cursor(&p), r["cursor_event_seq"]);
}

#[test]
fn sessions_corrupt_file_is_renamed() {
    // C§3.6: an unparsable file is renamed to cli-sessions.json.corrupt-<epoch ms>, treated as empty.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    std::fs::write(p.data.join("cli-sessions.json"), "not json").unwrap();
    ok(&p.tt(A, &["join"]));
    let corrupt: Vec<PathBuf> = std::fs::read_dir(&p.data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with("cli-sessions.json.corrupt-"))
        .collect();
    assert_eq!(corrupt.len(), 1, "{corrupt:?}");
    let suffix = corrupt[0].file_name().unwrap().to_string_lossy().replace("cli-sessions.json.corrupt-", "");
    assert!(!suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_digit()), "{suffix}");
    assert_eq!(std::fs::read_to_string(&corrupt[0]).unwrap(), "not json");
    let rows = p.sessions();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["agent_id"], A);
}

#[test]
fn sessions_robustness_rules() {
    // C§3.6: rows without string agent_id/room_id/canonical_path are dropped; an optional field
    // of the wrong type is removed (a textual guardian_process_started_at removes both guardian
    // fields); rows of deleted rooms are dropped at the next write.
    let p = Proto::new(&[A]);
    let j = ok(&p.tt(A, &["join"]));
    let room = s(&j, "room_id");
    let dir = pstr(&p.project);
    let rows = json!([
        {"agent_id": A, "room_id": room, "canonical_path": dir, "workspace_root": dir, "guardian_pid": 123,
         "guardian_process_started_at": "yesterday", "event_cursor_seq": 0, "updated_at": "2026-04-22T12:00:00.000Z"},
        {"room_id": room, "canonical_path": dir, "workspace_root": dir, "updated_at": "2026-04-22T12:00:00.000Z"},
        {"agent_id": B, "room_id": "00000000-0000-4000-8000-000000000000", "canonical_path": "/nowhere",
         "workspace_root": "/nowhere", "updated_at": "2026-04-22T12:00:00.000Z"}
    ]);
    std::fs::write(p.data.join("cli-sessions.json"), rows.to_string()).unwrap();
    ok(&p.tt(A, &["join"]));
    let rows = p.sessions();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["agent_id"], A);
    absent(&rows[0], &["guardian_pid", "guardian_process_started_at"]);
    assert_eq!(rows[0]["event_cursor_seq"], 0);
}

#[test]
fn sessions_stale_lock_is_removed() {
    // C§3.5: a lock directory more than 30 s old is stale and removed.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let lock = p.data.join("cli-sessions.json.lock");
    std::fs::create_dir(&lock).unwrap();
    set_mtime(&lock, wall_ms().min(T0) / 1000 - 3600);
    ok(&p.tt(A, &["join"]));
    assert!(!lock.exists(), "the stale lock was not removed");
}

#[test]
fn sessions_lock_timeout_is_a_storage_error() {
    // C§3.5: retry for up to 5 s, then fail with storage_error.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let lock = p.data.join("cli-sessions.json.lock");
    std::fs::create_dir(&lock).unwrap();
    set_mtime(&lock, wall_ms().max(T0) / 1000);
    let started = Instant::now();
    err(&p.tt(A, &["join"]), "storage_error");
    assert!(started.elapsed() >= Duration::from_secs(4), "gave up after {:?}", started.elapsed());
    assert!(lock.exists(), "a fresh lock must not be removed");
}

// =============================================================================================
// P§9 paths and room resolution, C§3.4 / P§9.6 lookup

#[test]
fn paths_files_symlinks_and_missing_directories() {
    // P§9.1: a file means its directory; symlinks resolved; a missing path normalised lexically.
    let p = Proto::new(&[A]);
    let dir = pstr(&p.project);
    let r = ok(&p.tt(A, &["join", &pstr(&p.project.join("package.json"))]));
    assert_eq!(r["canonical_path"], dir.as_str(), "{r:#}");
    let link = p.root.join("link");
    std::os::unix::fs::symlink(&p.project, &link).unwrap();
    let r = ok(&p.tt(A, &["join", &pstr(&link)]));
    fields(&r, json!({"canonical_path": dir, "joined_existing_room": true}));
    let missing = format!("{dir}/nope/../x/./y");
    let r = ok(&p.tt(A, &["join", &missing]));
    fields(&r, json!({"canonical_path": dir, "requested_path": format!("{dir}/x/y"), "workspace_root": dir}));
    let r = ok(&p.tt(A, &["join", "sub"]));
    fields(&r, json!({"canonical_path": dir, "requested_path": format!("{dir}/sub")}));
}

#[test]
fn paths_git_roots() {
    // P§9.2: a `.git` directory marks the root (before markers); a `.git` file without
    // `commondir` (submodule) marks its own directory.
    let p = Proto::new(&[A]);
    let g = p.root.join("g");
    std::fs::create_dir_all(g.join(".git")).unwrap();
    std::fs::create_dir_all(g.join("a").join("b")).unwrap();
    std::fs::write(g.join("a").join("package.json"), "").unwrap();
    let r = ok(&p.tt(A, &["join", &pstr(&g.join("a").join("b"))]));
    fields(&r, json!({"canonical_path": pstr(&g), "workspace_root": pstr(&g)}));
    let sup = p.root.join("sup");
    std::fs::create_dir_all(sup.join("inner")).unwrap();
    std::fs::write(sup.join(".git"), format!("gitdir: {}\n", pstr(&p.root.join("nowhere").join(".git")))).unwrap();
    let r = ok(&p.tt(A, &["join", &pstr(&sup.join("inner"))]));
    fields(&r, json!({"canonical_path": pstr(&sup), "workspace_root": pstr(&sup)}));
}

#[test]
fn paths_linked_worktree_shares_the_main_checkout_room() {
    // P§9.2 / P§9.3: a linked worktree maps to its main checkout; results report the original
    // path as requested_path.
    let p = Proto::new(&[A]);
    let main = p.root.join("main");
    let wt_git = main.join(".git").join("worktrees").join("wt");
    std::fs::create_dir_all(&wt_git).unwrap();
    std::fs::write(wt_git.join("commondir"), "../..\n").unwrap();
    let wt = p.root.join("wt");
    std::fs::create_dir_all(wt.join("sub")).unwrap();
    std::fs::write(wt.join(".git"), format!("gitdir: {}\n", pstr(&wt_git))).unwrap();
    let r = ok(&p.tt(A, &["join", &pstr(&wt.join("sub"))]));
    fields(
        &r,
        json!({"canonical_path": pstr(&main), "workspace_root": pstr(&main), "requested_path": pstr(&wt.join("sub"))}),
    );
    let r2 = ok(&p.tt(A, &["join", &pstr(&main)]));
    assert_eq!(r2["room_id"], r["room_id"]);
}

#[test]
fn paths_home_is_never_inherited() {
    // P§9.2: a git root equal to $HOME is ignored below $HOME, markers in $HOME are ignored;
    // P§9.4: ancestor_paths stop before $HOME.
    let p = Proto::new(&[A, B]);
    let home = pstr(&p.root);
    std::fs::create_dir(p.root.join(".git")).unwrap();
    std::fs::write(p.root.join("package.json"), "").unwrap();
    let plain = p.root.join("plain").join("sub");
    std::fs::create_dir_all(&plain).unwrap();
    let r = ok(&p.run(Inv::agent(A, &["join", &pstr(&plain)]).env("HOME", &home)));
    fields(&r, json!({"canonical_path": pstr(&plain), "workspace_root": pstr(&plain)}));
    // A room at $HOME itself is not joined from below.
    let r = ok(&p.run(Inv::agent(A, &["join", &home]).env("HOME", &home)));
    assert_eq!(r["canonical_path"], home.as_str(), "{r:#}");
    let r = ok(&p.run(Inv::agent(B, &["join"]).env("HOME", &home)));
    fields(&r, json!({"canonical_path": pstr(&p.project), "joined_existing_room": false}));
    absent(&r, &["warning"]);
}

#[test]
fn room_lookup_prefers_the_callers_session_rows() {
    // P§9.6 / C§3.4: the caller's rows in ancestor_paths win (deepest, then newest); without rows
    // the deepest existing room.
    let p = Proto::new(&[A, B]);
    let sub = p.project.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let top = ok(&p.tt(A, &["join"]));
    let nested = ok(&p.tt(A, &["join", &pstr(&sub), "--force-new"]));
    assert_ne!(top["room_id"], nested["room_id"]);
    assert_eq!(ok(&p.tt(A, &["state"]))["room"]["room_id"], top["room_id"]);
    assert_eq!(ok(&p.tt(A, &["state", &pstr(&sub)]))["room"]["room_id"], nested["room_id"]);
    // B only has a row for the top room: it wins over the deeper room for P/sub.
    p.join(&[B]);
    assert_eq!(ok(&p.tt(B, &["state", &pstr(&sub)]))["room"]["room_id"], top["room_id"]);
    assert_eq!(ok(&p.tt(B, &["health", &pstr(&sub)]))["room"]["room_id"], top["room_id"]);
    // Z has no rows: the deepest existing room.
    assert_eq!(ok(&p.tt(Z, &["state", &pstr(&sub)]))["room"]["room_id"], nested["room_id"]);
    // msg uses the same lookup.
    let m = ok(&p.tt(B, &["msg", "send", "room", "hi", "--path", &pstr(&sub)]));
    let ev = p.newest_event(B);
    assert_eq!(ev["event_seq"], m["event_seq"]);
    assert_eq!(ev["room_id"], top["room_id"]);
}

// =============================================================================================
// P§4.2 test hooks, P§4.3 settings

#[test]
fn settings_derived_defaults() {
    // P§4.3.1 / P§4.3.3: derived defaults from the final values, unless set explicitly.
    let p = Proto::new(&[A]);
    let policy = |settings: &str| -> Value {
        ok(&p.run(Inv::agent(A, &["join", "--verbose"]).env("TT_SETTINGS", settings)))["policy"].clone()
    };
    let r = policy(r#"{"waiter_grace_ms":20000}"#);
    fields(&r, json!({"wait_touch_interval_ms": 5000, "prior_owner_release_cooldown_ms": 120_000}));
    let r = policy(r#"{"waiter_grace_ms":2}"#);
    fields(&r, json!({"wait_touch_interval_ms": 1, "prior_owner_release_cooldown_ms": 60_000}));
    let r = policy(r#"{"waiter_grace_ms":20000,"wait_touch_interval_ms":7,"prior_owner_release_cooldown_ms":9}"#);
    fields(&r, json!({"wait_touch_interval_ms": 7, "prior_owner_release_cooldown_ms": 9}));
    let r = policy(r#"{"heartbeat_interval_ms":1,"gone_grace_ms":5}"#);
    fields(&r, json!({"gone_grace_ms": 5}));
    std::fs::write(p.data.join("settings.toml"), "waiter_grace_ms = 40000\n").unwrap();
    let r = policy(r#"{"claim_ttl_ms":1}"#);
    fields(
        &r,
        json!({
            "waiter_grace_ms": 40_000,
            "wait_touch_interval_ms": 10_000,
            "prior_owner_release_cooldown_ms": 240_000
        }),
    );
}

#[test]
fn settings_validation() {
    // P§4.2 / P§4.3: invalid TT_SETTINGS and settings.toml → exit 2 invalid_settings naming the
    // source and key; ranges (minimum, 2^53 − 1).
    let p = Proto::new(&[A]);
    let bad = |settings: &str| -> Value {
        usage_code(&p.run(Inv::agent(A, &["join"]).env("TT_SETTINGS", settings)), "invalid_settings")
    };
    let e = bad(r#"{"bogus_ms":1}"#);
    assert_eq!(e["key"], "bogus_ms", "{e:#}");
    assert!(e.get("source").is_some(), "{e:#}");
    for s in [
        "[1]",
        r#"{"heartbeat_interval_ms":0}"#,
        r#"{"wait_for_turn_poll_ms":0}"#,
        r#"{"guard_ready_timeout_ms":0}"#,
        r#"{"claim_ttl_ms":1.5}"#,
        r#"{"claim_ttl_ms":"100"}"#,
        r#"{"claim_ttl_ms":9007199254740992}"#,
    ] {
        bad(s);
    }
    ok(&p.run(Inv::agent(A, &["join"]).env("TT_SETTINGS", r#"{"claim_ttl_ms":9007199254740991,"busy_timeout_ms":0}"#)));
    let toml = p.data.join("settings.toml");
    std::fs::write(&toml, "bogus_key = 1\n").unwrap();
    let e = usage_code(&p.tt(A, &["join"]), "invalid_settings");
    assert_eq!(e["key"], "bogus_key", "{e:#}");
    assert!(s(&e, "message").contains("settings.toml") && s(&e, "message").contains("bogus_key"), "{e:#}");
    std::fs::write(&toml, "claim_ttl_ms = [\n").unwrap();
    let e = usage_code(&p.tt(A, &["join"]), "invalid_settings");
    assert!(s(&e, "message").contains("settings.toml"), "{e:#}");
    std::fs::write(&toml, "claim_ttl_ms = -5\n").unwrap();
    usage_code(&p.tt(A, &["join"]), "invalid_settings");
}

#[test]
fn liveness_file_validation() {
    // P§4.2: TT_LIVENESS_FILE not a JSON object of "alive"/"gone"/"unknown" → invalid_settings;
    // a missing file is an empty mapping.
    let p = Proto::new(&[A]);
    let f = p.root.join("l2.json");
    for content in ["[]", "not json", r#"{"agent:a":"dead"}"#, r#"{"agent:a":1}"#] {
        std::fs::write(&f, content).unwrap();
        usage_code(&p.run(Inv::agent(A, &["join"]).env("TT_LIVENESS_FILE", &f)), "invalid_settings");
    }
    ok(&p.run(Inv::agent(A, &["join"]).env("TT_LIVENESS_FILE", p.root.join("missing.json"))));
}

#[test]
fn now_ms_validation() {
    // P§4.2: TT_NOW_MS must match ^\d+$ (verbatim message, exit 2 cli_error).
    let p = Proto::new(&[A]);
    for v in ["abc", "-1", "1.5", "1e12", " 1"] {
        let e = usage(&p.run(Inv::agent(A, &["list"]).env("TT_NOW_MS", v)));
        assert_eq!(e["message"], "TT_NOW_MS must be an integer number of epoch milliseconds.", "{v:?}");
    }
}

// =============================================================================================
// P§8 presence

#[track_caller]
fn last_seen(p: &Proto, reader: &str, agent: &str) -> u64 {
    let st = ok(&p.tt(reader, &["state", "--all"]));
    let m = st["members"].as_array().unwrap().iter().find(|m| m["agent_id"] == agent).unwrap().clone();
    iso_ms(&s(&m, "last_seen_at"))
}

#[test]
fn presence_failed_operations_leave_no_refresh() {
    // P§8.1: a failed operation must not leave a presence refresh behind.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    p.adv(5000);
    err(&p.tt(B, &["msg", "send", "agent:nobody", "hi"]), "unknown_recipient");
    err(&p.tt(B, &["notes", "add", "x", "--turn", "9"]), "invalid_turn_id");
    err(&p.tt(B, &["kick", "agent:nobody"]), "unknown_target");
    assert!(last_seen(&p, A, B) < p.now(), "a failed operation refreshed presence");
    ok(&p.tt(B, &["msg", "send", "room", "hi"]));
    assert!(last_seen(&p, A, B) >= p.now());
}

#[test]
fn presence_reads_refresh_members_only() {
    // P§8.1: state/events/notes list/msg recv/health refresh a member's presence; list, whoami
    // and instructions do not; non-members never get a row.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    // (`tt events` with its default target `any` is left out: P§17.3 says target `any` never
    // refreshes presence, while the P§8.1 table lists non-stream events as refreshing.)
    let mut stale = Vec::new();
    for args in [&["events", "--target", "self"][..], &["notes", "list"], &["msg", "recv"], &["health"], &["state"]] {
        p.adv(5000);
        ok(&p.tt(B, args));
        if last_seen(&p, A, B) < p.now() {
            stale.push(args);
        }
    }
    assert!(stale.is_empty(), "these reads did not refresh the member's presence: {stale:?}");
    for args in [&["list"][..], &["whoami"], &["instructions", "show"]] {
        p.adv(5000);
        ok(&p.tt(B, args));
        assert!(last_seen(&p, A, B) < p.now(), "{args:?} refreshed B");
    }
    for args in [&["events"][..], &["notes", "list"], &["msg", "recv"], &["health"], &["state"]] {
        ok(&p.tt(Z, args));
    }
    assert_eq!(p.member_ids(A), vec![A.to_owned(), B.to_owned()]);
    assert!(p.sessions().iter().all(|r| r["agent_id"] != Z));
}

// =============================================================================================
// P§4.2 / P§16.1 the guardian's clock

#[test]
fn guardian_inherits_the_parents_protocol_clock() {
    // P§4.2 / P§16.1: a guardian receives TT_NOW_MS = the parent's now() at spawn time.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    p.adv(100_000);
    let g = ok(&p.tt(A, &["try"]));
    let pid = live_guardian(&g);
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    if !environ.is_empty() {
        let vars: Vec<String> = environ.split(|b| *b == 0).map(|v| String::from_utf8_lossy(v).into_owned()).collect();
        let now = vars.iter().find_map(|v| v.strip_prefix("TT_NOW_MS=")).expect("guardian has no TT_NOW_MS");
        let now: u64 = now.parse().unwrap();
        assert!(now >= p.now() && now < p.now() + 10_000, "guardian TT_NOW_MS {now} vs T {}", p.now());
    }
    // The guardian's join stamps presence with that clock (not the wall clock).
    let seen = last_seen(&p, B, A);
    assert!(seen >= p.now() && seen < p.now() + 10_000, "A's last_seen_at {seen} vs T {}", p.now());
}

// =============================================================================================
// Further bounds, streams and guardian/session handling

/// 52 members `agent:m00` … `agent:m51` joined in order; returns the ids.
fn crowded_room(p: &Proto) -> Vec<String> {
    let ids: Vec<String> = (0..52).map(|i| format!("agent:m{i:02}")).collect();
    for id in &ids {
        ok(&p.tt(id, &["join"]));
    }
    ids
}

#[test]

fn join_members_are_capped_at_50_including_the_caller() {
    // C§4.3 join members: active only, at most 50, including the caller.
    let p = Proto::new(&[]);
    let ids = crowded_room(&p);
    let last = &ids[51];
    let j = ok(&p.tt(last, &["join"]));
    let members: Vec<&str> = j["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert_eq!(members.len(), 50, "{j:#}");
    assert!(members.contains(&last.as_str()), "the caller {last} is not listed: {members:?}");
}

#[test]
fn state_members_are_capped_at_50() {
    // P§17.7 state members horizon view capped at 50 (the caller never dropped),
    // hidden.members; --all lists all.
    let p = Proto::new(&[]);
    let ids = crowded_room(&p);
    let last = &ids[51];
    let st = ok(&p.tt(last, &["state"]));
    let shown: Vec<&str> = st["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap()).collect();
    assert_eq!(shown.len(), 50, "{st:#}");
    assert!(shown.contains(&last.as_str()), "{shown:?}");
    fields(&st["hidden"]["members"], json!({"older_count": 2, "shown_count": 50, "total_count": 52}));
    let st = ok(&p.tt(last, &["state", "--all"]));
    assert_eq!(st["members"].as_array().unwrap().len(), 52);
    absent(&st, &["hidden"]);
}

/// Inserts `count` broadcast messages from `from` into the room of `p.project` (SQL).
fn insert_messages(p: &Proto, from: &str, count: u32) {
    p.sql(&format!(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {count}) \
         INSERT INTO room_events (event_id, room_id, turn_id, event_type, from_agent_id, to_agent_id, \
           handoff_json, reason, payload_json, created_at) \
         SELECT printf('10000000-0000-4000-8000-%012d', i), (SELECT room_id FROM path_rooms LIMIT 1), 0, \
           'message_sent', '{from}', NULL, NULL, NULL, \
           '{{\"body\":\"m' || i || '\",\"delivery_hint\":\"normal\"}}', {T0} FROM k"
    ));
}

#[test]
fn event_reads_are_bounded() {
    // P§4.3.4 / P§17.7: event query hard maximum 500; at most 100 events per wait wake.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    insert_messages(&p, B, 600);
    let r = ok(&p.tt(A, &["events", "--after", "0", "--limit", "1000"]));
    assert_eq!(events(&r).len(), 500);
    fields(&r, json!({"has_more": true}));
    let r = ok(&p.tt(A, &["try", "--after", "0"]));
    let evs = events(&r);
    assert_eq!(evs.len(), 100, "{:#}", r["cursor_event_seq"]);
    assert_eq!(r["cursor_event_seq"], evs[99]["event_seq"]);
}

#[test]
fn event_long_poll_default_and_clamp() {
    // C§4.14 / P§17.6: `--wait` runs one long-poll up to --timeout, default and maximum
    // wait_for_events_max_wait_ms; exit 0 with the cursor on stderr.
    let p = Proto::new(&[A, B]).with_settings(r#"{"wait_for_events_max_wait_ms":500}"#);
    p.join(&[A, B]);
    for args in [&["events", "--wait"][..], &["events", "--wait", "--timeout", "1h"], &["msg", "recv", "--wait"]] {
        let started = Instant::now();
        let (out, _) = Running::start(&p, &Inv::agent(B, args), false).finish(Duration::from_secs(20));
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stderr.contains("cursor_event_seq="), "{args:?}: {out:?}");
        assert!(started.elapsed() < Duration::from_secs(15), "{args:?} was not clamped");
    }
}

#[test]
fn wait_without_timeout_re_enters_silently() {
    // P§10.6.3: without --timeout `tt wait` re-enters after every timeout cycle (silence never
    // makes it exit) and returns on an event.
    let (p, _) = owned_room(&[A, B]);
    p.set_settings(Some(r#"{"wait_for_turn_max_wait_ms":200}"#));
    ok(&p.tt(B, &["try"]));
    let wait = Running::start(&p, &Inv::agent(B, &["wait"]), false);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(wait.pid()), "tt wait exited during silence");
    ok(&p.tt(A, &["msg", "send", B, "wake up"]));
    let (out, _) = wait.finish(Duration::from_secs(10));
    let r = ok(&out);
    fields(&r, json!({"status": "not_yet", "wake_reason": "event"}));
    assert_eq!(events(&r)[0]["payload"]["body"], "wake up");
}

#[test]
fn event_long_poll_on_a_deleted_room_fails() {
    // P§17.6: a deleted room yields room_not_found; a closed room yields the empty timeout shape.
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let stream = Running::start(&p, &Inv::agent(B, &["events", "--wait", "--timeout", "8"]), false);
    std::thread::sleep(Duration::from_millis(700));
    p.gone(A);
    p.gone(B);
    fields(&ok(&p.tt(A, &["kick", B, "--force"])), json!({"status": "room_deleted"}));
    let (out, _) = stream.finish(Duration::from_secs(15));
    err(&out, "room_not_found");
    let q = Proto::new(&[A]);
    q.join(&[A]);
    q.sql("UPDATE path_rooms SET state='closed'");
    let out = q.tt(A, &["events", "--wait", "--timeout", "300ms"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:?}");
}

#[test]
fn text_stream_lines() {
    // C§2.10 event and message lines in streams (text mode).
    let (p, _) = owned_room(&[A, B, C]);
    ok(&p.tt(A, &["msg", "send", "room", "hello"]));
    ok(&p.tt(A, &["pass", B, "--status", "s", "--next-action", "n"]));
    ok(&p.tt(C, &["msg", "send", B, "urgent", "--interrupt"]));
    let all = p.all_events(A);
    let out = tx(&p, B, &["events", "--wait", "--after", "0", "--timeout", "2"]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let at = |ty: &str, body: Option<&str>| -> String {
        let e = all
            .iter()
            .find(|e| e["event_type"] == ty && body.is_none_or(|b| e["payload"]["body"] == b))
            .unwrap_or_else(|| panic!("no {ty}"));
        s(e, "created_at")
    };
    let want = [
        format!("[{}] agent:a -> room: hello", at("message_sent", Some("hello"))),
        format!("[{}] pass agent:a -> agent:b", at("pass", None)),
        format!("[{}] agent:c -> agent:b [interrupt]: urgent", at("message_sent", Some("urgent"))),
    ];
    for w in &want {
        assert!(lines.contains(&w.as_str()), "{w:?} not in {lines:#?}");
    }
    assert!(out.stderr.contains("cursor_event_seq="), "{out:?}");
}

#[test]
fn validation_order_of_messages_and_notes() {
    // P§18.1: size before membership (message_too_large for a non-member); P§18.2: turn before
    // membership (invalid_turn_id for a non-member).
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let e =
        err(&p.run(Inv::agent(Z, &["msg", "send", "room", "--stdin"]).stdin("x".repeat(4097))), "message_too_large");
    fields(&e, json!({"supplied": 4097, "max": 4096}));
    let e = err(&p.tt(Z, &["notes", "add", "x", "--turn", "9"]), "invalid_turn_id");
    fields(&e, json!({"supplied": 9, "current_turn_id": 0}));
    let e = err(&p.run(Inv::agent(A, &["notes", "add", "--stdin"]).stdin("n".repeat(16_385))), "body_too_large");
    fields(&e, json!({"supplied": 16_385, "max": 16_384}));
}

#[test]
fn failed_release_stops_the_guardian_and_clears_the_lease() {
    // C§4.10 / C§3.3 / P§16.4: on stale_lease/turn_mismatch, release also stops the guardian and
    // clears the lease, then reports the error.
    let (p, g) = owned_room(&[A, B]);
    let pid = live_guardian(&g);
    ok(&p.tt(B, &["take", "--reason", "r"]));
    err(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]), "turn_mismatch");
    assert!(wait_gone(pid, GUARDIAN_EXIT), "guardian {pid} still running");
    let row = p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap();
    absent(&row, &["lease_id", "turn_id", "guardian_pid", "guardian_process_started_at"]);
    err(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]), "no_active_lease");
}

#[test]
fn lost_turn_stops_the_guardian_and_clears_the_lease() {
    // C§4.6 step 4: `not_yet` with `lost_turn` stops the recorded guardian and clears the lease.
    let (p, g) = owned_room(&[A, B]);
    let pid = live_guardian(&g);
    let wait = Running::start(&p, &Inv::agent(A, &["wait", "--timeout", "10"]), false);
    std::thread::sleep(Duration::from_millis(700));
    ok(&p.tt(B, &["take", "--operator-requested", "--reason", "r"]));
    let (out, _) = wait.finish(Duration::from_secs(20));
    fields(&ok(&out), json!({"status": "not_yet", "reason": "lost_turn"}));
    assert!(wait_gone(pid, GUARDIAN_EXIT), "guardian {pid} still running");
    let row = p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap();
    absent(&row, &["lease_id", "turn_id", "guardian_pid", "guardian_process_started_at"]);
}

#[test]
fn already_owner_without_a_recorded_guardian_spawns_one() {
    // P§16.5 / C§4.6 text: "(no guardian was recorded; spawned replacement)."
    let (p, g) = owned_room(&[A]);
    let old = live_guardian(&g);
    kill(old, "TERM");
    assert!(wait_gone(old, GUARDIAN_EXIT));
    let mut rows = p.sessions();
    for row in &mut rows {
        let obj = row.as_object_mut().unwrap();
        obj.remove("guardian_pid");
        obj.remove("guardian_process_started_at");
    }
    std::fs::write(p.data.join("cli-sessions.json"), Value::Array(rows).to_string()).unwrap();
    let lines = tx_ok(&p, A, &["try"]);
    assert!(
        lines[0].starts_with("Already holding the stick (turn 1). Guardian ")
            && lines[0].ends_with(" (no guardian was recorded; spawned replacement)."),
        "{lines:#?}"
    );
    let pid = guardian_in(&lines[0]);
    assert!(alive(pid));
    assert_eq!(p.sessions()[0]["guardian_pid"], pid);
}

#[test]
fn closed_room_joins_succeed_but_nothing_is_granted() {
    // P§5.1: closed rooms: joins succeed, wait returns closed, takeover unavailable.
    let p = Proto::new(&[A, B]);
    p.join(&[A]);
    p.sql("UPDATE path_rooms SET state='closed'");
    let j = ok(&p.tt(B, &["join"]));
    assert_eq!(j["room_state"]["state"], "closed", "{j:#}");
    fields(&ok(&p.tt(B, &["try"])), json!({"status": "closed"}));
    fields(&ok(&p.tt(B, &["wait", "--timeout", "0"])), json!({"status": "closed", "wake_reason": "closed"}));
    ok(&p.tt(B, &["notes", "list"]));
}

#[test]
fn msg_send_room_keyword_rules() {
    // C§4.15: with --room every positional is body; a first positional exactly `room` is a
    // broadcast even if a member's display name is `room`.
    let p = Proto::new(&[A, "x:room"]);
    p.join(&[A, "x:room"]);
    ok(&p.tt(A, &["msg", "send", "--room", "room", "hi"]));
    fields(&p.newest_event(A), json!({"to_agent_id": null, "payload": {"body": "room hi", "delivery_hint": "normal"}}));
    ok(&p.tt(A, &["msg", "send", "room", "hey"]));
    fields(&p.newest_event(A), json!({"to_agent_id": null, "payload": {"body": "hey", "delivery_hint": "normal"}}));
    ok(&p.tt(A, &["msg", "send", "x:room", "direct"]));
    fields(&p.newest_event(A), json!({"to_agent_id": "x:room"}));
}

#[test]
fn notes_list_all_includes_resolved_notes() {
    // C§4.17 / P§18.2: resolved notes are filtered out unless --all.
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let n1 = s(&ok(&p.tt(A, &["notes", "add", "one"])), "note_id");
    p.adv(1000);
    ok(&p.tt(A, &["notes", "add", "two"]));
    p.sql(&format!("UPDATE notes SET resolved_at = {T0}, resolved_by_agent_id = 'agent:a' WHERE note_id = '{n1}'"));
    let r = ok(&p.tt(A, &["notes", "list"]));
    let bodies: Vec<&str> = r["notes"].as_array().unwrap().iter().map(|x| x["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, vec!["two"]);
    let r = ok(&p.tt(A, &["notes", "list", "--all"]));
    let notes = r["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{r:#}");
    fields(&notes[0], json!({"body": "one", "resolved_by_agent_id": A}));
    assert_iso(&notes[0], "resolved_at");
}

#[test]
fn instructions_harness_section_extraction() {
    // P§19.2: shared text (with non-harness `##` headings) before the first harness heading;
    // harness headings match by prefix (`codex …`, `agy`); an unrecognised heading after the
    // first harness heading ends the section and is excluded (#38).
    let p = Proto::new(&[A]);
    std::fs::create_dir_all(&p.data).unwrap();
    std::fs::write(
        p.data.join("instructions.md"),
        "Intro\n## Setup\nsetup text\n## Codex CLI\ncodex text\n## Agy\nagy text\n## Other\nother text\n\
         ## codex again\ncodex2\n",
    )
    .unwrap();
    let text = |h: &str| -> String {
        s(&ok(&p.tt(A, &["instructions", "show", "--scope", "user", "--harness", h])), "text").trim().to_owned()
    };
    assert_eq!(text("codex"), "Intro\n## Setup\nsetup text\n## Codex CLI\ncodex text\n## codex again\ncodex2");
    assert_eq!(text("antigravity"), "Intro\n## Setup\nsetup text\n## Agy\nagy text");
    assert_eq!(text("gemini"), "Intro\n## Setup\nsetup text");
}

#[test]
fn whoami_and_instructions_do_not_purge() {
    // P§15.1: the purge never runs for help, whoami or instructions; it runs for list.
    let p = Proto::new(&[]).with_settings(r#"{"idle_room_ttl_ms":1000,"presence_ttl_ms":500}"#);
    p.join(&[A]);
    p.adv(1500);
    ok(&p.tt(A, &["whoami"]));
    ok(&p.tt(A, &["instructions", "show"]));
    assert_eq!(p.raw(&["help"]).code, 0);
    assert_eq!(p.sql("SELECT count(*) FROM path_rooms").trim(), "1");
    assert_eq!(ok(&p.raw(&["list", "--json"]))["rooms"], json!([]));
    assert_eq!(p.sql("SELECT count(*) FROM path_rooms").trim(), "0");
}

#[test]
fn metadata_merge_keeps_the_guardian_while_holding() {
    // P§8.3: a one-shot human command by the owner never displaces the guardian's pid;
    // P§10.8: after release the row no longer points at the guardian.
    let (p, g) = owned_room(&[A, B]);
    let pid = n(&g, "guardian_pid");
    ok(&p.tt(A, &["state"]));
    ok(&p.tt(A, &["msg", "send", "room", "x"]));
    let member = |p: &Proto| -> Value {
        let st = ok(&p.tt(B, &["state", "--verbose"]));
        st["members"].as_array().unwrap().iter().find(|m| m["agent_id"] == A).unwrap().clone()
    };
    fields(&member(&p), json!({"session_kind": "human_guardian", "pid": pid}));
    ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    fields(&member(&p), json!({"session_kind": "human_cli", "pid": null, "host_id": null, "process_started_at": null}));
}

#[test]
fn take_force_is_an_operator_override_for_harness_callers() {
    // P§12.5: operator_override with --operator-requested or --force.
    let (p, _) = owned_room(&[A, B]);
    let r = ok(&p.tth(B, &["take", "--force", "--reason", "forced"]));
    fields(&r, json!({"reason": "operator_override", "revoked_agent_id": A, "turn_id": 2}));
}

#[test]
fn park_hint_is_never_replaced() {
    // C§2.8 rule 5: the service-provided park hint is kept even when events are returned.
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B]);
    ok(&p.tt(A, &["try"]));
    ok(&p.tt(B, &["try", "--park"]));
    p.adv(11_000);
    let r = ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], Value::Null, "{r:#}");
    p.join(&[C]);
    let r = ok(&p.tt(B, &["try", "--park"]));
    fields(&r, json!({"status": "not_yet", "reason": "auto_claim_disabled"}));
    assert!(!events(&r).is_empty(), "{r:#}");
    let hint = s(&r, "hint");
    assert!(hint.contains("pending handoff") && hint.contains("park mode does not auto-claim"), "{r:#}");
}

#[test]
fn kick_of_a_stale_member_needs_no_force() {
    // P§10.11 step 4: a target that is not presence_recent is kickable without --force.
    let p = Proto::new(&[A, B]).with_settings(r#"{"presence_ttl_ms":1000}"#);
    p.join(&[A, B]);
    p.adv(2000);
    ok(&p.tt(A, &["state"]));
    fields(&ok(&p.tt(A, &["kick", B])), json!({"status": "kicked", "kicked_agent_id": B}));
}

#[test]
fn assign_next_without_candidates() {
    // C§4.11 step 3: no candidate → unknown_member "No active room member matches 'next'.".
    let (p, _) = owned_room(&[A]);
    let e = err(&p.tt(A, &["assign", "next", "--status", "s", "--next-action", "n"]), "unknown_member");
    fields(&e, json!({"selector": "next", "message": "No active room member matches 'next'."}));
    fields(&p.state(A)["room"], json!({"owner": A}));
}

#[test]
fn help_for_commands_with_subcommands() {
    // C§2.6: `tt help <command>` for msg / notes / instructions prints that command's help.
    let p = Proto::new(&[]);
    for cmd in ["msg", "notes", "instructions"] {
        for args in [vec!["help", cmd], vec![cmd, "--help"]] {
            let out = p.raw(&args);
            assert_eq!(out.code, 0, "{args:?}: {out:?}");
            assert!(out.stdout.starts_with(&format!("Usage: tt {cmd}")), "{args:?}: {out:?}");
            assert!(out.stdout.contains("--help, -h"), "{args:?}: {out:?}");
        }
    }
}

#[test]
fn sessions_file_is_written_only_by_the_listed_commands() {
    // C§3.3: only join/wait/try/take/release/pass/assign/leave/kick(deleting) write the file;
    // C§3.5: no temporary file or lock directory is left behind.
    let (p, _) = owned_room(&[A, B, C]);
    let file = p.data.join("cli-sessions.json");
    let before = std::fs::read(&file).unwrap();
    p.adv(1000);
    let cmds: [(&str, &[&str]); 10] = [
        (A, &["heartbeat"]),
        (A, &["state"]),
        (A, &["health"]),
        (A, &["events"]),
        (B, &["msg", "send", "room", "x"]),
        (B, &["msg", "recv"]),
        (B, &["notes", "add", "n"]),
        (B, &["notes", "list"]),
        (B, &["kick", C, "--force"]),
        (A, &["list"]),
    ];
    for (agent, args) in cmds {
        ok(&p.tt(agent, args));
        assert_eq!(std::fs::read(&file).unwrap(), before, "{args:?} rewrote cli-sessions.json");
    }
    let leftovers: Vec<String> = std::fs::read_dir(&p.data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".cli-sessions.json.") || name == "cli-sessions.json.lock")
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
}

#[test]
fn guardian_readiness_timeout_is_guardian_failed() {
    // P§16.2: no READY within guard_ready_timeout_ms → guardian_failed (exit 1, details room_id,
    // turn_id, lease_id); the grant is committed and the lease recorded without a guardian; the
    // next wait repairs it.
    let p = Proto::new(&[A]).with_settings(r#"{"guard_ready_timeout_ms":1}"#);
    p.join(&[A]);
    let out = p.tt(A, &["try"]);
    let e = err(&out, "guardian_failed");
    assert_eq!(e["message"], "Guardian did not signal readiness in time.", "{e:#}");
    assert_eq!(e["turn_id"], 1, "{e:#}");
    assert!(e["room_id"].is_string() && e["lease_id"].is_string(), "{e:#}");
    fields(&p.state(A)["room"], json!({"owner": A, "turn_id": 1}));
    let row = p.sessions().into_iter().find(|r| r["agent_id"] == A).unwrap();
    assert_eq!(row["lease_id"], e["lease_id"], "{row:#}");
    absent(&row, &["guardian_pid", "guardian_process_started_at"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(p.running_guardians(), Vec::<u32>::new(), "the unready guardian was not killed");
    p.set_settings(None);
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "your_turn", "reason": "already_owner", "lease_id": e["lease_id"]}));
    live_guardian(&r);
}

#[test]
fn guard_exits_quietly_without_data_dir_or_room() {
    // P§16.3 step 1–2: no data directory (never created) or no room → exit 0.
    let p = Proto::new(&[A]);
    let ctx = pstr(&p.project);
    let args = ["guard", "--agent", A, "--context-path", &ctx, "--room-id", "r", "--lease-id", "l", "--turn-id", "1"];
    let (out, _) = Running::start(&p, &Inv::new(&args), false).finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!p.data.exists(), "the guardian created the data directory");
    p.join(&[A]);
    let (out, _) = Running::start(&p, &Inv::new(&args), false).finish(Duration::from_secs(10));
    assert_eq!(out.code, 0, "{out:?}");
    usage(&p.raw(&["--json", "guard", "--agent", A]));
}

fn is_uuid_v4(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

#[test]
fn identifiers_are_lowercase_uuid_v4_and_event_seq_is_global() {
    // P§3.4: room_id, lease_id, event_id, note_id are lowercase v4 UUIDs; event_seq is globally
    // strictly increasing across rooms.
    let (p, g) = owned_room(&[A, B]);
    let other = p.root.join("other");
    std::fs::create_dir(&other).unwrap();
    ok(&p.tt(A, &["join", &pstr(&other)]));
    ok(&p.tt(B, &["join", &pstr(&other)]));
    let m1 = ok(&p.tt(A, &["msg", "send", "room", "here"]));
    let m2 = ok(&p.tt(A, &["msg", "send", "room", "there", "--path", &pstr(&other)]));
    assert!(n(&m2, "event_seq") > n(&m1, "event_seq"));
    let note = ok(&p.tt(A, &["notes", "add", "x"]));
    for id in [s(&g, "room_id"), s(&g, "lease_id"), s(&m1, "event_id"), s(&note, "note_id")] {
        assert!(is_uuid_v4(&id), "{id} is not a lowercase v4 UUID");
    }
    let here: BTreeSet<u64> = p.all_events(A).iter().map(|e| n(e, "event_seq")).collect();
    let there = events(&ok(&p.tt(A, &["events", &pstr(&other), "--after", "0"])));
    for e in &there {
        assert!(!here.contains(&n(e, "event_seq")), "event_seq reused across rooms: {e:#}");
    }
}

#[test]

fn text_not_yet_prints_the_events_hint_on_the_next_line() {
    // C§4.6 text: for not_yet "a hint is printed on the next line" (here: a result whose JSON
    // carries the events hint of C§2.8).
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B]);
    ok(&p.tt(A, &["try"]));
    ok(&p.tt(B, &["try"]));
    p.join(&[C]);
    let lines = tx_ok(&p, B, &["try"]);
    assert!(lines[0].starts_with("Not your turn — agent:a holds turn 1"), "{lines:#?}");
    assert!(
        lines.get(1).is_some_and(|l| l.contains("Wait exited: process events; if work remains, start one successor.")),
        "{lines:#?}"
    );
}

#[test]
fn text_not_yet_prints_the_park_hint_on_the_next_line() {
    // C§4.6 text: "a hint is printed on the next line" — the park hint (P§13).
    let p = Proto::new(&[A, B, C]);
    p.join(&[A, B, C]);
    ok(&p.tt(A, &["try"]));
    p.adv(11_000);
    let r = ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    assert_eq!(r["reserved_for"], Value::Null, "{r:#}");
    let lines = tx_ok(&p, C, &["try", "--park"]);
    assert_eq!(lines[0], "Not your turn — the room is idle.", "{lines:#?}");
    assert!(lines.get(1).is_some_and(|l| l.contains("park mode does not auto-claim")), "{lines:#?}");
}

#[test]
fn take_with_a_blank_reason_is_invalid_input() {
    // P§12.6 step 3: the reason must be non-empty after trimming (invalid_input, field reason).
    let (p, _) = owned_room(&[A, B]);
    let e = err(&p.tt(B, &["take", "--reason", "   "]), "invalid_input");
    assert_eq!(e["field"], "reason", "{e:#}");
    fields(&p.state(A)["room"], json!({"owner": A, "turn_id": 1}));
}

#[test]
fn notes_order_ties_and_default_cap() {
    // P§18.2: ordered by (created_at, note_id); `--after` uses that order; P§17.7: the default
    // notes view is the newest 50, oldest first, with hidden.notes.
    let p = Proto::new(&[A]);
    let j = ok(&p.tt(A, &["join"]));
    let room = s(&j, "room_id");
    p.sql(&format!(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 55) \
         INSERT INTO notes (note_id, room_id, turn_id, author_agent_id, body, created_at) \
         SELECT printf('20000000-0000-4000-8000-%012d', 56 - i), '{room}', NULL, 'agent:a', 'n' || (56 - i), {T0} \
         FROM k"
    ));
    let id = |i: u32| format!("20000000-0000-4000-8000-{i:012}");
    let r = ok(&p.tt(A, &["notes", "list"]));
    let ids: Vec<String> = r["notes"].as_array().unwrap().iter().map(|x| s(x, "note_id")).collect();
    assert_eq!(ids, (6..=55).map(id).collect::<Vec<_>>(), "newest 50 by (created_at, note_id), oldest first");
    fields(&r["hidden"]["notes"], json!({"older_count": 5, "shown_count": 50, "total_count": 55}));
    let r = ok(&p.tt(A, &["notes", "list", "--after", &id(2), "--limit", "2"]));
    let ids: Vec<String> = r["notes"].as_array().unwrap().iter().map(|x| s(x, "note_id")).collect();
    assert_eq!(ids, vec![id(3), id(4)]);
}
