//! The bad-input table (docs/RELIABILITY.md, "Bad input"): one table of malformed inputs
//! across the CLI (flags, integers, durations, paths), handoff JSON, message and note
//! sizes, `claim observe` texts, Stop-hook payloads and transcripts, settings, policy
//! modules and host.lock files, each run against the real `tt` on a data directory that
//! holds a room with an owner, a lease, members, events, a note and a commitment.
//!
//! Every row gets its documented error code and exit code (protocol.md §21–§22, cli.md
//! §2.3 and §2.9, follow-through.md §7, policy-core.md §5, host-lock.md §8), and leaves
//! the data directory unchanged. "Unchanged" is strict:
//!
//! * the database, logically: a dump of every table (rows sorted) plus `user_version`
//!   and `application_id`, read from a *copy* of `rooms.sqlite` and `rooms.sqlite-wal`
//!   (opening the originals would itself write the `-shm` index and could checkpoint),
//!   and `PRAGMA integrity_check` = `ok` on that copy;
//! * the database, physically: the bytes and mtime of `rooms.sqlite` and of
//!   `rooms.sqlite-wal`. With WAL a committed transaction appends frames to the `-wal`
//!   file and a checkpoint rewrites the main file, so a write, even one that leaves the
//!   same rows, or a checkpoint shows up here. Only `rooms.sqlite-shm` is left out: it
//!   is the shared-memory WAL index, which every reader writes (read marks) and SQLite
//!   rebuilds from the WAL; it holds no state of its own;
//! * every other file and directory under the data directory (`cli-sessions.json`,
//!   `host.lock`, `settings.toml`, logs, the policy cache): same set of paths, same bytes,
//!   same mtimes.
//!
//! The host.lock heartbeat is set to `T0` so that no writing command is due to touch it
//! (host-lock.md §4.3): a touch is a legitimate write of a command that gets past the
//! lock check, and would otherwise hide the rows that must not write the lock.

use super::proto::*;
use super::support::{Output, repo_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HX: &str = "agent:a";

/// What a row must produce.
#[derive(Clone, Debug)]
enum Want {
    /// Exit code, stdout empty, stderr's last line `{"error": code, …details}`.
    Error { code: &'static str, exit: i32, details: Value, message: Option<&'static str> },
    /// Hook mode (follow-through.md §7.2): exit 0 and `{"reason": …}` on stdout.
    Hook(&'static str),
    /// A reading command under a foreign lock: exit 0, read-only (host-lock.md §8.2).
    ReadOnly,
}

fn error(code: &'static str, exit: i32) -> Want {
    Want::Error { code, exit, details: json!({}), message: None }
}

fn usage() -> Want {
    error("cli_error", 2)
}

fn usage_msg(message: &'static str) -> Want {
    Want::Error { code: "cli_error", exit: 2, details: json!({}), message: Some(message) }
}

fn settings() -> Want {
    error("invalid_settings", 2)
}

fn with(code: &'static str, details: Value) -> Want {
    Want::Error { code, exit: 1, details, message: None }
}

/// A file put into the data directory for one row (and taken out afterwards).
#[derive(Clone, Debug)]
enum Prep {
    None,
    /// `settings.toml` with this content.
    SettingsToml(String),
    /// `host.lock` with this content and an mtime `age_s` seconds before `T0`.
    HostLock(Vec<u8>, u64),
}

/// The writes a row may make outside the database, each documented by a spec; the
/// database itself may never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Allow {
    Nothing,
    /// One line appended to `logs/host-lock.jsonl` with this `event` (host-lock.md §10:
    /// the audit log is appended even in a directory another host owns).
    Audit(&'static str),
    /// A corrupt host.lock replaced by a writing command that got past the lock check
    /// (host-lock.md §5.2 step 1), with its audit line `host_lock_corrupt_replaced`.
    LockReplaced,
    /// Artifacts under `cache/policy/` (policy-core.md §4.2): a module that is a valid
    /// component is compiled, and cached, before its interfaces are checked.
    Cache,
}

struct Row {
    category: &'static str,
    name: String,
    inv: Inv,
    prep: Prep,
    want: Want,
    allow: Allow,
}

fn row(category: &'static str, name: &str, inv: Inv, want: Want) -> Row {
    Row { category, name: name.to_owned(), inv, prep: Prep::None, want, allow: Allow::Nothing }
}

impl Row {
    fn prep(mut self, prep: Prep) -> Row {
        self.prep = prep;
        self
    }
    fn allow(mut self, allow: Allow) -> Row {
        self.allow = allow;
        self
    }
}

fn a<S: AsRef<str>>(args: &[S]) -> Inv {
    Inv::agent(A, args)
}

/// `tt claim observe --hook --json` as the harness identity `HX`.
fn hook(stdin: impl Into<Vec<u8>>, extra: &[&str]) -> Inv {
    let mut args = vec!["claim", "observe", "--hook", "--json"];
    args.extend_from_slice(extra);
    Inv::new(&args).env("TT_HARNESS_AGENT_ID", HX).stdin(stdin.into())
}

fn payload(transcript: &str, message: Option<&str>) -> Vec<u8> {
    let mut v = json!({"session_id": "s1", "transcript_path": transcript, "stop_hook_active": false});
    if let Some(m) = message {
        v["last_assistant_message"] = json!(m);
    }
    v.to_string().into_bytes()
}

// ---------------------------------------------------------------------------------------------
// The data directory, before and after

/// Everything that must not change.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    /// Relative path → (bytes digest or `dir`, mtime in ns).
    files: BTreeMap<String, (String, u128)>,
    /// Digest of the logical dump of the database.
    dump: String,
    /// `logs/host-lock.jsonl` (empty when absent).
    audit: String,
}

fn hex(bytes: &[u8]) -> String {
    sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified().unwrap().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (String, u128)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if rel == "rooms.sqlite-shm" {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.insert(rel, ("dir".into(), mtime_ns(&meta)));
            walk(root, &path, out);
        } else if meta.is_file() {
            out.insert(rel, (hex(&std::fs::read(&path).unwrap()), mtime_ns(&meta)));
        } else {
            out.insert(rel, ("special".into(), mtime_ns(&meta)));
        }
    }
}

/// The logical content of the database, read from a copy (see the module docs); asserts
/// `PRAGMA integrity_check` = `ok`.
fn logical_dump(data: &Path) -> String {
    let copy = tempfile::tempdir().unwrap();
    for f in ["rooms.sqlite", "rooms.sqlite-wal"] {
        if data.join(f).exists() {
            std::fs::copy(data.join(f), copy.path().join(f)).unwrap();
        }
    }
    let c = rusqlite::Connection::open(copy.path().join("rooms.sqlite")).unwrap();
    let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let mut out = String::new();
    for pragma in ["user_version", "application_id"] {
        let v: i64 = c.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0)).unwrap();
        out.push_str(&format!("{pragma}={v}\n"));
    }
    let mut schema = c.prepare("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name").unwrap();
    let objects: Vec<(String, String, String, Option<String>)> = schema
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (kind, name, table, sql) in &objects {
        out.push_str(&format!("{kind} {name} {table} {sql:?}\n"));
        if kind != "table" {
            continue;
        }
        let mut q = c.prepare(&format!("SELECT * FROM \"{}\"", name.replace('"', "\"\""))).unwrap();
        let width = q.column_count();
        let mut rows: Vec<String> = q
            .query_map([], |r| {
                let cells: Vec<rusqlite::types::Value> = (0..width).map(|i| r.get(i)).collect::<Result<_, _>>()?;
                Ok(format!("{cells:?}"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        for r in rows {
            out.push_str(&r);
            out.push('\n');
        }
    }
    hex(out.as_bytes())
}

fn snapshot(data: &Path) -> Snapshot {
    let mut files = BTreeMap::new();
    walk(data, data, &mut files);
    let audit = std::fs::read_to_string(data.join("logs/host-lock.jsonl")).unwrap_or_default();
    Snapshot { files, dump: logical_dump(data), audit }
}

/// The differences between two snapshots that `allow` does not cover, one line each.
fn diff(before: &Snapshot, after: &Snapshot, allow: Allow) -> Vec<String> {
    let mut lines = Vec::new();
    if before.dump != after.dump {
        lines.push("the logical content of the database changed".to_owned());
    }
    let audit = "logs/host-lock.jsonl";
    let allowed = |path: &str| match allow {
        Allow::Nothing => false,
        Allow::Audit(_) => path == audit || path == "logs",
        Allow::LockReplaced => path == audit || path == "logs" || path == "host.lock",
        Allow::Cache => path.starts_with("cache"),
    };
    for (path, b) in before.files.iter().filter(|(p, _)| !allowed(p)) {
        match after.files.get(path) {
            None => lines.push(format!("{path}: removed")),
            Some(a) if a.0 != b.0 => lines.push(format!("{path}: content changed")),
            Some(a) if a.1 != b.1 => lines.push(format!("{path}: mtime changed")),
            Some(_) => {}
        }
    }
    for path in after.files.keys().filter(|p| !before.files.contains_key(*p) && !allowed(p)) {
        lines.push(format!("{path}: created"));
    }
    let event = match allow {
        Allow::Audit(event) => Some(event),
        Allow::LockReplaced => Some("host_lock_corrupt_replaced"),
        Allow::Nothing | Allow::Cache => None,
    };
    if let Some(event) = event {
        let added = after.audit.strip_prefix(before.audit.as_str()).map(|rest| rest.lines().collect::<Vec<_>>());
        let ok = added
            .as_ref()
            .is_some_and(|l| l.len() == 1 && serde_json::from_str::<Value>(l[0]).is_ok_and(|v| v["event"] == event));
        if !ok {
            lines.push(format!("{audit}: not exactly one appended `{event}` line: {added:?}"));
        }
    }
    lines
}

fn set_mtime(path: &Path, at: SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(at).unwrap();
}

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0)
}

/// Applies `prep`; returns what undoes it.
/// A file a row replaced or created, and what it held before (bytes, mtime).
type Undo = Option<(PathBuf, Option<(Vec<u8>, SystemTime)>)>;

fn apply(data: &Path, prep: &Prep) -> Undo {
    let (path, content, at) = match prep {
        Prep::None => return None,
        Prep::SettingsToml(text) => (data.join("settings.toml"), text.as_bytes().to_vec(), t0()),
        Prep::HostLock(bytes, age_s) => (data.join("host.lock"), bytes.clone(), t0() - Duration::from_secs(*age_s)),
    };
    let saved = std::fs::read(&path).ok().map(|b| (b, std::fs::metadata(&path).unwrap().modified().unwrap()));
    std::fs::write(&path, content).unwrap();
    set_mtime(&path, at);
    Some((path, saved))
}

fn undo(undo: Undo) {
    let Some((path, saved)) = undo else { return };
    match saved {
        Some((bytes, at)) => {
            std::fs::write(&path, bytes).unwrap();
            set_mtime(&path, at);
        }
        None => std::fs::remove_file(&path).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------------
// The table

/// The fixture: A owns turn 1 (its guardian stopped, so nothing writes in the
/// background) with a lease recorded in cli-sessions.json; B is a member; the room has
/// events (joins, a claim, a message), a note and an open commitment CMT-001.
fn fixture() -> Proto {
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let r = ok(&p.tt(A, &["try"]));
    assert_eq!(r["status"], "your_turn", "{r:#}");
    let g = live_guardian(&r);
    kill(g, "KILL");
    assert!(wait_gone(g, GUARDIAN_EXIT), "guardian {g} still running");
    ok(&p.tt(B, &["msg", "send", "room", "hello"]));
    ok(&p.tt(A, &["notes", "add", "a note"]));
    let c = ok(&p.tt(A, &["claim", "observe", "--text", "I'll restart the server now."]));
    assert_eq!(c["commitment_id"], "CMT-001", "{c:#}");
    set_mtime(&p.data.join("host.lock"), t0());
    p
}

fn table(p: &Proto, inputs: &Path) -> Vec<Row> {
    let file = |name: &str| inputs.join(name).to_string_lossy().into_owned();
    let module = |name: &str| repo_root().join("tests/fixtures/modules").join(name).to_string_lossy().into_owned();
    let long = |n: usize| "r".repeat(n);
    let claim = "I'll restart the worker now, then report back.";
    let foreign = br#"{"hostname":"old-host","machine_id":"2222","boot_id":null,"pid":99999,"created_at":"2026-04-01T00:00:00.000Z"}"#;
    let ok_handoff = r#"{"status":"s","next_action":"n"}"#;
    let mut over_mib = payload("", Some(claim));
    over_mib.truncate(over_mib.len() - 1);
    over_mib.extend_from_slice(format!(",\"padding\":\"{}\"}}", "z".repeat(1 << 20)).as_bytes());
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);

    vec![
        // ----- CLI: commands, options, flags (cli.md §2.3) -----
        row("cli", "unknown command", a(&["frobnicate"]), usage_msg("Unknown command: frobnicate")),
        row("cli", "unknown subcommand", a(&["notes", "resolve"]), usage_msg("Unknown notes subcommand: resolve")),
        row("cli", "unknown option", a(&["state", "--bogus"]), usage_msg("Unknown option --bogus for tt state.")),
        row("cli", "a value given to a boolean flag", a(&["join", "--force-new=yes"]), usage()),
        row(
            "cli",
            "a value option at the end",
            a(&["take", "--reason"]),
            usage_msg("Option --reason requires a value."),
        ),
        row(
            "cli",
            "a value option followed by a flag",
            a(&["take", "--reason", "--force"]),
            usage_msg("Option --reason requires a value."),
        ),
        row(
            "cli",
            "a value option given twice",
            a(&["kick", "agent:b", "--reason", "x", "--reason", "y", "--force"]),
            usage(),
        ),
        row("cli", "too many positionals", a(&["leave", ".", "extra"]), usage()),
        row("cli", "--park with --claim", a(&["wait", "--park", "--claim"]), usage()),
        row(
            "cli",
            "wait --target any",
            a(&["wait", "--target", "any"]),
            usage_msg("tt wait manages the self cursor only. Use `tt events --target …` for audit/debug reads."),
        ),
        row("cli", "events --wait with --follow", a(&["events", "--wait", "--follow"]), usage()),
        row("cli", "events --all with --follow", a(&["events", "--all", "--follow"]), usage()),
        row("cli", "events --timeout without a stream", a(&["events", "--timeout", "5"]), usage()),
        row(
            "cli",
            "release --path",
            a(&["release", "--path", "."]),
            usage_msg("tt release takes its workspace path positionally."),
        ),
        row("cli", "pass with too many positionals", a(&["pass", "agent:b", ".", "extra"]), usage()),
        row("cli", "heartbeat --lease-id without --turn-id", a(&["heartbeat", "--lease-id", "x"]), usage()),
        row(
            "cli",
            "release --stdin with --status",
            a(&["release", "--stdin", "--status", "s"]).stdin(ok_handoff),
            usage(),
        ),
        row(
            "cli",
            "claim observe with --text and --stdin",
            a(&["claim", "observe", "--text", "x", "--stdin"]).stdin("x"),
            usage(),
        ),
        row("cli", "claim observe without a text", a(&["claim", "observe"]), usage()),
        row("cli", "commitments done with --all", a(&["commitments", "done", "CMT-001", "--all"]), usage()),
        row(
            "cli",
            "instructions reset without a layer",
            a(&["instructions", "reset"]),
            usage_msg("Pass --user or --project to choose which instructions to reset."),
        ),
        row("cli", "instructions show --scope nope", a(&["instructions", "show", "--scope", "nope"]), usage()),
        row("cli", "msg send without a recipient", a(&["msg", "send"]), usage()),
        // ----- integers and durations (cli.md §2.3 rules 4–5) -----
        row("integer", "--after 100ms", a(&["events", "--after", "100ms"]), usage_msg("--after must be an integer.")),
        row("integer", "--after -1", a(&["try", "--after", "-1"]), usage_msg("--after must be an integer.")),
        row(
            "integer",
            "--limit beyond i64",
            a(&["events", "--limit", "99999999999999999999"]),
            usage_msg("--limit must be an integer."),
        ),
        row("integer", "--turn -1", a(&["notes", "add", "x", "--turn", "-1"]), usage_msg("--turn must be an integer.")),
        row(
            "integer",
            "--turn-id 1e3",
            a(&["heartbeat", "--lease-id", "l", "--turn-id", "1e3"]),
            usage_msg("--turn-id must be an integer."),
        ),
        row(
            "integer",
            "--after with a full-width digit",
            a(&["try", "--after", "\u{ff19}"]),
            usage_msg("--after must be an integer."),
        ),
        row("integer", "--limit empty", a(&["events", "--limit="]), usage_msg("--limit must be an integer.")),
        row(
            "duration",
            "--timeout 5x",
            a(&["wait", "--timeout", "5x"]),
            usage_msg("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h."),
        ),
        row(
            "duration",
            "--timeout 1.5s",
            a(&["wait", "--timeout", "1.5s"]),
            usage_msg("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h."),
        ),
        row(
            "duration",
            "--timeout -1",
            a(&["wait", "--timeout", "-1"]),
            usage_msg("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h."),
        ),
        row(
            "duration",
            "--timeout overflowing u64 ms",
            a(&["wait", "--timeout", "99999999999999999999h"]),
            usage_msg("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h."),
        ),
        row(
            "duration",
            "--timeout with a space",
            a(&["wait", "--timeout", "5 s"]),
            usage_msg("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h."),
        ),
        // ----- paths -----
        row(
            "path",
            "state of a path without a room",
            a(&["state", "/nonexistent/bad-input"]),
            error("room_not_found", 1),
        ),
        row(
            "path",
            "msg send --path without a room",
            a(&["msg", "send", "room", "hi", "--path", "/nonexistent/bad-input"]),
            error("room_not_found", 1),
        ),
        row("path", "commitments of a path without a room", a(&["commitments", "/"]), error("room_not_found", 1)),
        row(
            "path",
            "a data directory below a file",
            a(&["join"]).env("TT_DATA_DIR", format!("{}/rooms.sqlite/sub", p.data.display())),
            settings(),
        ),
        // ----- handoff JSON (protocol.md §10.3) -----
        row(
            "handoff",
            "not JSON",
            a(&["release", "--stdin"]).stdin("not json"),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "a JSON array",
            a(&["release", "--stdin"]).stdin("[1,2]"),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "a JSON string",
            a(&["release", "--stdin"]).stdin("\"text\""),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "JSON null to assign",
            a(&["assign", "agent:b", "--stdin"]).stdin("null"),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "trailing garbage",
            a(&["release", "--stdin"]).stdin(format!("{ok_handoff} x")),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "nested 100 000 deep",
            a(&["release", "--stdin"]).stdin(deep.clone()),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row(
            "handoff",
            "a blank status",
            a(&["release", "--stdin"]).stdin(r#"{"status":"  ","next_action":"x"}"#),
            with("invalid_handoff", json!({"field": "status"})),
        ),
        row(
            "handoff",
            "a numeric status",
            a(&["release", "--stdin"]).stdin(r#"{"status":7,"next_action":"n"}"#),
            with("invalid_handoff", json!({"field": "status"})),
        ),
        row(
            "handoff",
            "no next_action",
            a(&["release", "--stdin"]).stdin(r#"{"status":"s"}"#),
            with("invalid_handoff", json!({"field": "next_action"})),
        ),
        row(
            "handoff",
            "an empty next_action to pass",
            a(&["pass", "agent:b", "--stdin"]).stdin(r#"{"status":"s","next_action":""}"#),
            with("invalid_handoff", json!({"field": "next_action"})),
        ),
        row(
            "handoff",
            "artifacts as an object",
            a(&["release", "--stdin"]).stdin(r#"{"status":"s","next_action":"n","artifacts":{}}"#),
            with("invalid_handoff", json!({"field": "artifacts"})),
        ),
        row(
            "handoff",
            "65 537 bytes serialised",
            a(&["release", "--stdin"])
                .stdin(format!(r#"{{"status":"s","next_action":"n","pad":"{}"}}"#, "x".repeat(65_536 - 40))),
            with("invalid_handoff", json!({"field": "handoff"})),
        ),
        row("handoff", "stdin not UTF-8", a(&["release", "--stdin"]).stdin(vec![0xff, 0xfe, b'{']), usage()),
        row(
            "handoff",
            "a non-member releases",
            Inv::agent(Z, &["release", "--stdin"]).stdin(ok_handoff),
            error("no_active_lease", 1),
        ),
        // ----- messages and notes (protocol.md §18) -----
        row(
            "message",
            "4 097 bytes",
            a(&["msg", "send", "room", "--stdin"]).stdin("x".repeat(4097)),
            with("message_too_large", json!({"supplied": 4097, "max": 4096})),
        ),
        row(
            "message",
            "4 098 bytes in 2 049 characters",
            a(&["msg", "send", "room", "--stdin"]).stdin("é".repeat(2049)),
            with("message_too_large", json!({"supplied": 4098, "max": 4096})),
        ),
        row(
            "message",
            "an empty positional body",
            a(&["msg", "send", "room", ""]),
            usage_msg("Message body is required (pass as a positional or use --stdin to read from stdin)."),
        ),
        row(
            "message",
            "empty stdin",
            a(&["msg", "send", "room", "--stdin"]).stdin(""),
            usage_msg("Message body is required (pass as a positional or use --stdin to read from stdin)."),
        ),
        row("message", "stdin not UTF-8", a(&["msg", "send", "room", "--stdin"]).stdin(vec![b'a', 0xff]), usage()),
        row(
            "message",
            "an unknown recipient",
            a(&["msg", "send", "agent:nobody", "hi"]),
            with("unknown_recipient", json!({"recipient": "agent:nobody"})),
        ),
        row(
            "message",
            "a non-member sender",
            Inv::agent(Z, &["msg", "send", "room", "hi"]),
            with("unknown_member", json!({"agent_id": Z})),
        ),
        row(
            "note",
            "16 385 bytes",
            a(&["notes", "add", "--stdin"]).stdin("n".repeat(16_385)),
            with("body_too_large", json!({"supplied": 16_385, "max": 16_384})),
        ),
        row(
            "note",
            "a blank body",
            a(&["notes", "add", "   "]),
            usage_msg("Note body is required (pass as a positional or use --stdin to read from stdin)."),
        ),
        row(
            "note",
            "a turn after the current one",
            a(&["notes", "add", "x", "--turn", "5"]),
            with("invalid_turn_id", json!({"supplied": 5, "current_turn_id": 1})),
        ),
        row(
            "note",
            "a cursor that is no note",
            a(&["notes", "list", "--after", "no-such-note"]),
            error("invalid_cursor", 1),
        ),
        row(
            "events",
            "an unknown event type",
            a(&["events", "--event", "bogus"]),
            error("invalid_event_type_filter", 1),
        ),
        row(
            "events",
            "an empty event type",
            a(&["events", "--event", "claim,"]),
            error("invalid_event_type_filter", 1),
        ),
        row(
            "reason",
            "a takeover reason over 1 024 bytes",
            a(&["take", "--reason", &long(1025)]),
            with("invalid_input", json!({"field": "reason"})),
        ),
        row(
            "reason",
            "a kick reason over 1 024 bytes",
            a(&["kick", "agent:b", "--force", "--reason", &long(1025)]),
            with("invalid_input", json!({"field": "reason"})),
        ),
        // ----- claim observe and commitments (follow-through.md §7) -----
        row(
            "claim",
            "--stdin not UTF-8",
            a(&["claim", "observe", "--stdin"]).stdin(b"I'll push \xff now".to_vec()),
            with("invalid_input", json!({"field": "text"})),
        ),
        row(
            "claim",
            "--stdin over 1 MiB",
            a(&["claim", "observe", "--stdin"]).stdin(format!("{claim} {}", "y".repeat(1 << 20))),
            with("invalid_input", json!({"field": "text"})),
        ),
        row(
            "claim",
            "a blank topic",
            a(&["claim", "observe", "--text", claim, "--topic", "  "]),
            with("invalid_input", json!({"field": "topic"})),
        ),
        row(
            "claim",
            "a topic of 201 characters",
            a(&["claim", "observe", "--text", claim, "--topic", &"t".repeat(201)]),
            with("invalid_input", json!({"field": "topic"})),
        ),
        row(
            "claim",
            "a topic with a control character",
            a(&["claim", "observe", "--text", claim, "--topic", "a\u{7}b"]),
            with("invalid_input", json!({"field": "topic"})),
        ),
        row("claim", "a malformed commitment id", a(&["commitments", "done", "CMT-x"]), error("invalid_input", 1)),
        row(
            "claim",
            "an unknown commitment id",
            a(&["commitments", "done", "CMT-999"]),
            with("commitment_not_found", json!({"commitment_id": "CMT-999"})),
        ),
        row(
            "claim",
            "a withdraw reason over 500 characters",
            a(&["commitments", "withdraw", "1", "--reason", &long(501)]),
            with("invalid_input", json!({"field": "reason"})),
        ),
        row(
            "claim",
            "closing another member's commitment",
            Inv::agent(B, &["commitments", "done", "CMT-001"]),
            with("not_commitment_owner", json!({"commitment_id": "CMT-001", "agent_id": A})),
        ),
        // ----- Stop-hook payloads and transcripts (follow-through.md §7.2): always exit 0 -----
        row("hook", "payload not JSON", hook("not json", &[]), Want::Hook("invalid_payload")),
        row("hook", "payload a JSON array", hook("[1]", &[]), Want::Hook("invalid_payload")),
        row("hook", "payload over 1 MiB", hook(over_mib, &[]), Want::Hook("invalid_payload")),
        row(
            "hook",
            "payload binary garbage",
            hook((0..2048u32).map(|i| (i * 37 % 256) as u8).collect::<Vec<u8>>(), &[]),
            Want::Hook("invalid_payload"),
        ),
        row("hook", "an empty object", hook("{}", &[]), Want::Hook("no_assistant_message")),
        row(
            "hook",
            "fields of the wrong type",
            hook(json!({"session_id": 1, "transcript_path": [], "last_assistant_message": 5}).to_string(), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a missing transcript",
            hook(payload(&file("missing.jsonl"), None), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a transcript that is a directory",
            hook(payload(&file("dir.jsonl"), None), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a binary garbage transcript",
            hook(payload(&file("garbage.jsonl"), None), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a transcript ending with a prompt",
            hook(payload(&file("prompt-last.jsonl"), None), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a transcript of truncated lines",
            hook(payload(&file("truncated.jsonl"), None), &[]),
            Want::Hook("no_assistant_message"),
        ),
        row(
            "hook",
            "a message of 19 characters",
            hook(payload("", Some("I'll push it now ok")), &[]),
            Want::Hook("too_short"),
        ),
        row("hook", "--hook with --stdin", hook(payload("", Some(claim)), &["--stdin"]), Want::Hook("error")),
        row("hook", "--hook with a bad --topic", hook(payload("", Some(claim)), &["--topic", ""]), Want::Hook("error")),
        row(
            "hook",
            "--hook with invalid TT_SETTINGS",
            hook(payload("", Some(claim)), &[]).env("TT_SETTINGS", "{\"bogus\":1}"),
            Want::Hook("error"),
        ),
        // ----- settings (protocol.md §4.2–§4.3 and the companion keys) -----
        row("settings", "TT_SETTINGS unknown key", a(&["join"]).env("TT_SETTINGS", r#"{"bogus_ms":1}"#), settings()),
        row("settings", "TT_SETTINGS negative", a(&["join"]).env("TT_SETTINGS", r#"{"claim_ttl_ms":-1}"#), settings()),
        row("settings", "TT_SETTINGS not JSON", a(&["join"]).env("TT_SETTINGS", "not json"), settings()),
        row("settings", "TT_SETTINGS an array", a(&["join"]).env("TT_SETTINGS", "[]"), settings()),
        row(
            "settings",
            "TT_SETTINGS above 2^53 - 1",
            a(&["join"]).env("TT_SETTINGS", r#"{"claim_ttl_ms":9007199254740992}"#),
            settings(),
        ),
        row("settings", "TT_SETTINGS a float", a(&["join"]).env("TT_SETTINGS", r#"{"claim_ttl_ms":1.5}"#), settings()),
        row(
            "settings",
            "TT_SETTINGS below a minimum",
            a(&["join"]).env("TT_SETTINGS", r#"{"heartbeat_interval_ms":0}"#),
            settings(),
        ),
        row(
            "settings",
            "TT_SETTINGS action_claim_cap 0",
            a(&["claim", "observe", "--text", claim]).env("TT_SETTINGS", r#"{"action_claim_cap":0}"#),
            settings(),
        ),
        row(
            "settings",
            "TT_SETTINGS action_claim_enabled 2",
            a(&["join"]).env("TT_SETTINGS", r#"{"action_claim_enabled":2}"#),
            settings(),
        ),
        row(
            "settings",
            "TT_SETTINGS policy_fuel 999",
            a(&["join"]).env("TT_SETTINGS", r#"{"policy_fuel":999}"#),
            settings(),
        ),
        row(
            "settings",
            "TT_SETTINGS policy_modules [\"\"]",
            a(&["join"]).env("TT_SETTINGS", r#"{"policy_modules":[""]}"#),
            settings(),
        ),
        row("settings", "settings.toml unparsable", a(&["join"]), settings())
            .prep(Prep::SettingsToml("claim_ttl_ms = \n".into())),
        row("settings", "settings.toml unknown key", a(&["join"]), settings())
            .prep(Prep::SettingsToml("bogus = 1\n".into())),
        row("settings", "settings.toml a string value", a(&["join"]), settings())
            .prep(Prep::SettingsToml("claim_ttl_ms = \"5000\"\n".into())),
        row(
            "settings",
            "settings.toml host_lock_auto_heal 3",
            a(&["release", "--stdin"]).stdin(ok_handoff),
            settings(),
        )
        .prep(Prep::SettingsToml("host_lock_auto_heal = 3\n".into())),
        row(
            "settings",
            "TT_LIVENESS_FILE with a bad verdict",
            a(&["join"]).env("TT_LIVENESS_FILE", file("liveness-bad.json")),
            settings(),
        ),
        row(
            "settings",
            "TT_NOW_MS not a number",
            a(&["join"]).env("TT_NOW_MS", "abc"),
            usage_msg("TT_NOW_MS must be an integer number of epoch milliseconds."),
        ),
        row(
            "settings",
            "TT_NOW_MS negative",
            a(&["release", "--stdin"]).stdin(ok_handoff).env("TT_NOW_MS", "-5"),
            usage_msg("TT_NOW_MS must be an integer number of epoch milliseconds."),
        ),
        // ----- policy modules (policy-core.md §5) -----
        row(
            "policy",
            "check: garbage bytes",
            a(&["policy", "check", &module("garbage.wasm")]),
            error("policy_module_invalid", 1),
        ),
        row(
            "policy",
            "check: a core module",
            a(&["policy", "check", &module("core-module.wasm")]),
            error("policy_module_invalid", 1),
        ),
        row(
            "policy",
            "check: a wrong interface version",
            a(&["policy", "check", &module("wrong-version.wasm")]),
            error("policy_module_invalid", 1),
        )
        .allow(Allow::Cache),
        row(
            "policy",
            "check: a changed signature",
            a(&["policy", "check", &module("changed-signature.wasm")]),
            error("policy_module_invalid", 1),
        )
        .allow(Allow::Cache),
        row(
            "policy",
            "check: an extra import",
            a(&["policy", "check", &module("extra-import.wasm")]),
            error("policy_module_invalid", 1),
        )
        .allow(Allow::Cache),
        row(
            "policy",
            "check: a missing file",
            a(&["policy", "check", &file("missing.wasm")]),
            error("policy_module_invalid", 1),
        ),
        row(
            "policy",
            "use: garbage bytes",
            a(&["policy", "use", &module("garbage.wasm")]),
            error("policy_module_invalid", 1),
        ),
        row(
            "policy",
            "test: a core module",
            a(&["policy", "test", &module("core-module.wasm")]),
            error("policy_module_invalid", 1),
        ),
        // ----- host.lock files (host-lock.md §4.1, §8) -----
        row(
            "host.lock",
            "foreign: a join",
            a(&["join"]),
            with("host_lock_conflict", json!({"lock_hostname": "old-host", "this_hostname": "test-host"})),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(foreign.to_vec(), 10)),
        row(
            "host.lock",
            "foreign: a release",
            a(&["release", "--stdin"]).stdin(ok_handoff),
            error("host_lock_conflict", 1),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(foreign.to_vec(), 10)),
        row(
            "host.lock",
            "foreign, stale: a message",
            a(&["msg", "send", "room", "hi"]),
            with("host_lock_conflict", json!({"heartbeat_stale": true})),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(foreign.to_vec(), 3_600)),
        row(
            "host.lock",
            "foreign, pid not an integer",
            a(&["notes", "add", "x"]),
            with("host_lock_conflict", json!({"lock_pid": null})),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(br#"{"hostname":"old-host","pid":"abc"}"#.to_vec(), 10)),
        row(
            "host.lock",
            "foreign, pid out of range, extra fields",
            a(&["take", "--reason", "r"]),
            with("host_lock_conflict", json!({"lock_pid": null})),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(br#"{"hostname":"old-host","pid":4294967296,"x":[1,{"y":2}]}"#.to_vec(), 10)),
        row(
            "host.lock",
            "foreign: commitments done",
            a(&["commitments", "done", "CMT-001"]),
            error("host_lock_conflict", 1),
        )
        .allow(Allow::Audit("host_lock_foreign"))
        .prep(Prep::HostLock(foreign.to_vec(), 10)),
        row("host.lock", "foreign: a Stop hook", hook(payload("", Some(claim)), &[]), Want::Hook("host_lock_conflict"))
            .allow(Allow::Audit("host_lock_foreign"))
            .prep(Prep::HostLock(foreign.to_vec(), 10)),
        row("host.lock", "foreign: a reading command runs read-only", a(&["state"]), Want::ReadOnly)
            .prep(Prep::HostLock(foreign.to_vec(), 10)),
        row("host.lock", "corrupt, with a usage error", a(&["join", "--bogus"]), usage())
            .prep(Prep::HostLock(b"not json".to_vec(), 10)),
        row("host.lock", "corrupt, with invalid settings", a(&["join"]).env("TT_SETTINGS", "[]"), settings())
            .prep(Prep::HostLock(b"{\"hostname\":\"   \"}".to_vec(), 10)),
        row(
            "host.lock",
            "empty, with a bad handoff",
            a(&["release", "--stdin"]).stdin("[]"),
            with("invalid_handoff", json!({"field": "handoff"})),
        )
        .allow(Allow::LockReplaced)
        .prep(Prep::HostLock(Vec::new(), 10)),
    ]
}

fn inputs(dir: &Path) {
    std::fs::create_dir(dir).unwrap();
    std::fs::create_dir(dir.join("dir.jsonl")).unwrap();
    std::fs::write(dir.join("garbage.jsonl"), (0..100_000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>())
        .unwrap();
    std::fs::write(
        dir.join("prompt-last.jsonl"),
        format!(
            "{}\n{}\n",
            json!({"type": "assistant", "message": {"id": "m0", "content": [{"type": "text", "text": "I'll deploy it now, right away."}]}}),
            json!({"type": "user", "message": {"content": [{"type": "text", "text": "Wait, stop."}]}})
        ),
    )
    .unwrap();
    let line = json!({"type": "assistant", "message": {"id": "m1", "content": [{"type": "text", "text": "I'll push the branch now, then report."}]}}).to_string();
    let cut = &line[..line.len() / 2];
    std::fs::write(dir.join("truncated.jsonl"), format!("{cut}\n{cut}\n{cut}")).unwrap();
    std::fs::write(dir.join("liveness-bad.json"), r#"{"agent:a":"dead"}"#).unwrap();
}

fn check(r: &Row, out: &Output) -> Result<(), String> {
    let fail = |why: String| Err(format!("{why}\n  output: {out:?}"));
    match &r.want {
        Want::Error { code, exit, details, message } => {
            if out.code != *exit {
                return fail(format!("exit {} instead of {exit}", out.code));
            }
            if !out.stdout.is_empty() {
                return fail("stdout is not empty".into());
            }
            let Ok(e) = serde_json::from_str::<Value>(out.stderr.lines().last().unwrap_or_default()) else {
                return fail("stderr's last line is not JSON".into());
            };
            if e["error"] != *code {
                return fail(format!("error {} instead of {code}", e["error"]));
            }
            if let Some(m) = message
                && e["message"] != *m
            {
                return fail(format!("message {} instead of {m:?}", e["message"]));
            }
            for (k, v) in details.as_object().unwrap() {
                if e.get(k) != Some(v) {
                    return fail(format!("detail `{k}` is {:?}, not {v}", e.get(k)));
                }
            }
        }
        Want::Hook(reason) => {
            if out.code != 0 {
                return fail(format!("hook mode exited {}", out.code));
            }
            let Ok(v) = serde_json::from_str::<Value>(&out.stdout) else { return fail("stdout is not JSON".into()) };
            if v["reason"] != *reason || v["registered"] != json!(false) {
                return fail(format!("reason {} instead of {reason}", v["reason"]));
            }
            let error_lines = out.stderr.lines().filter(|l| l.starts_with("tt claim observe:")).count();
            if (*reason == "error") != (error_lines == 1) {
                return fail("an error prints exactly one `tt claim observe:` line, a skip none".into());
            }
        }
        Want::ReadOnly => {
            if out.code != 0 {
                return fail(format!("exit {}", out.code));
            }
            let Ok(v) = serde_json::from_str::<Value>(&out.stdout) else { return fail("stdout is not JSON".into()) };
            if v["host_lock"]["read_only"] != json!(true) || v["host_lock"]["state"] != "foreign" {
                return fail("no read-only host_lock field".into());
            }
        }
    }
    Ok(())
}

#[test]
fn bad_input_table() {
    let p = fixture();
    let dir = p.root.join("inputs");
    inputs(&dir);
    let rows = table(&p, &dir);
    assert!(rows.len() >= 50, "{} rows", rows.len());
    let mut failures = Vec::new();
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rows {
        *per_category.entry(r.category).or_default() += 1;
        let undo_prep = apply(&p.data, &r.prep);
        let before = snapshot(&p.data);
        let out = p.run(r.inv.clone());
        let after = snapshot(&p.data);
        if let Err(why) = check(r, &out) {
            failures.push(format!("[{}] {}: {why}", r.category, r.name));
        }
        let mut changed = diff(&before, &after, r.allow);
        if r.allow == Allow::LockReplaced {
            let lock: Value = serde_json::from_slice(&std::fs::read(p.data.join("host.lock")).unwrap()).unwrap();
            if lock["hostname"] != "test-host" {
                changed.push(format!("host.lock was not replaced by this host's: {lock}"));
            }
        }
        undo(undo_prep);
        if !changed.is_empty() {
            failures.push(format!("[{}] {}: the data directory changed: {}", r.category, r.name, changed.join("; ")));
        }
    }
    eprintln!("bad-input table: {} rows {per_category:?}", rows.len());
    assert!(failures.is_empty(), "{} of {} rows failed:\n{}", failures.len(), rows.len(), failures.join("\n"));
}

/// Found by the `cli_args` fuzz target: messages echo user input, and a newline in it
/// (`tt commitments done ' \n '`) split the text-mode `Error:` line in two. Control
/// characters are now escaped, so an error is one line (two with a hint) in text mode
/// and one JSON line in JSON mode (cli.md §2.9).
#[test]
fn an_error_echoing_a_newline_prints_on_one_line() {
    let p = Proto::new(&[A]);
    let text = p.raw(&["--text", "fro\nb"]);
    assert_eq!((text.code, text.stderr.as_str()), (2, "Error: Unknown command: fro\\nb\n"), "{text:?}");
    let text = p.raw(&["--text", "--agent", A, "commitments", "done", " \n\u{7}"]);
    assert_eq!(text.code, 1, "{text:?}");
    assert_eq!(text.stderr.lines().count(), 1, "{text:?}");
    assert!(text.stderr.starts_with("Error: ` \\n\\u{7}` is not a commitment id"), "{text:?}");
    let json = p.raw(&["--json", "fro\nb"]);
    assert_eq!(json.stderr.lines().count(), 1, "{json:?}");
    assert_eq!(json.err_json()["message"], "Unknown command: fro\nb");
}
