//! Snapshot tests of the CLI's output (design.md habit 13): one agent session through the real
//! `tt` binary on the §24.1 fixture (injected clock and liveness), pinned with insta. Each
//! snapshot holds the exit code, stdout and stderr of one invocation, in JSON mode and in text
//! mode, so a change to a field name, a message, a hint or an exit code shows up as a diff to
//! review (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`).
//!
//! Values that differ between runs are redacted before the comparison: the fixture's temp
//! directory (`[ROOT]`), UUIDs (room, lease, event, note ids → `[uuid]`), the guardian's pid
//! (`[pid]`), the milliseconds of timestamps (`.mmmZ`) and the amounts of relative times
//! (`Ns ago`, `in Nm`): `TT_NOW_MS` sets the clock's origin and each process adds the time it has
//! been running (protocol.md §3.2), a few milliseconds, more on a loaded machine. The
//! arithmetic of those times is pinned by the acceptance scenarios, their shape here.

use super::proto::{A, B, Inv, Proto};
use super::support::Output;

/// `exit: N`, then stdout and stderr, with the run-dependent values redacted.
fn render(p: &Proto, out: &Output) -> String {
    let text = format!("exit: {}\n--- stdout\n{}--- stderr\n{}", out.code, out.stdout, out.stderr);
    let text = redact_uuids(&text.replace(&p.root.display().to_string(), "[ROOT]"));
    redact_relative(&redact_millis(&redact_pids(&text)))
}

/// The amount of every relative time of cli.md §2.10 (`31s ago`, `in 44m`) → `N`.
fn redact_relative(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts_run = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        if starts_run {
            let end = (i..chars.len()).find(|&j| !chars[j].is_ascii_digit()).unwrap_or(chars.len());
            let unit = chars.get(end).is_some_and(|c| "smhd".contains(*c));
            let after: String = chars.iter().skip(end + 1).take(4).collect();
            let before: String = chars[i.saturating_sub(3)..i].iter().collect();
            if unit && (after == " ago" || before == "in ") {
                out.push('N');
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The milliseconds of every RFC 3339 timestamp (`12:00:01.502Z`) → `.mmmZ`.
fn redact_millis(text: &str) -> String {
    let mut out = text.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find('Z') {
        let z = from + at;
        let b = out.as_bytes();
        if z >= 4 && b[z - 4] == b'.' && b[z - 3..z].iter().all(u8::is_ascii_digit) {
            out.replace_range(z - 3..z, "mmm");
        }
        from = z + 1;
    }
    out
}

/// Every 8-4-4-4-12 hex UUID → `[uuid]`.
fn redact_uuids(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let is_uuid = |s: &[u8]| {
        let mut i = 0;
        for (n, len) in SHAPE.iter().enumerate() {
            if n > 0 {
                if s.get(i) != Some(&b'-') {
                    return false;
                }
                i += 1;
            }
            if !s.get(i..i + len).is_some_and(|g| g.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += len;
        }
        true
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i..i + 36).is_some_and(is_uuid) {
            out.push_str("[uuid]");
            i += 36;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The guardian's pid, in JSON (`"guardian_pid": 123`) and in text (`Guardian 123`) → `[pid]`.
fn redact_pids(text: &str) -> String {
    let mut out = text.to_string();
    for marker in ["\"guardian_pid\": ", "Guardian ", "Guardian: alive "] {
        let mut from = 0;
        while let Some(at) = out[from..].find(marker) {
            let start = from + at + marker.len();
            let end = start + out[start..].chars().take_while(char::is_ascii_digit).count();
            if end > start {
                out.replace_range(start..end, "[pid]");
            }
            from = start;
        }
    }
    out
}

/// How far the fixture clock moves between steps (ms): whole seconds, so the redacted
/// timestamps keep a stable second unless a process needs a full second to read its clock.
const STEP_MS: u64 = 1_000;

/// `tt --agent X <args>` in text mode.
fn text(agent: &str, args: &[&str]) -> Inv {
    let mut all = vec!["--agent", agent];
    all.extend_from_slice(args);
    Inv::new(&all)
}

#[test]
fn a_session_in_json_mode() {
    let p = Proto::new(&[A, B]);
    let snap = |name: &str, out: Output| insta::assert_snapshot!(format!("json_{name}"), render(&p, &out));
    snap("01_join_a", p.tt(A, &["join"]));
    snap("02_join_b", p.tt(B, &["join"]));
    snap("03_try_a_grant", p.tt(A, &["try"]));
    p.adv(STEP_MS);
    snap("04_try_b_not_yet", p.tt(B, &["try"]));
    p.adv(STEP_MS);
    snap(
        "05_release_a_to_b",
        p.tt(A, &["release", "--status", "Fixed the parser", "--next-action", "Review the tests"]),
    );
    p.adv(STEP_MS);
    snap("06_try_b_grant_with_handoff", p.tt(B, &["try"]));
    p.adv(STEP_MS);
    snap("07_state_b", p.tt(B, &["state"]));
    p.adv(STEP_MS);
    snap("08_msg_send_a", p.tt(A, &["msg", "send", B, "Tests are green on my side"]));
    snap("09_events_b", p.tt(B, &["events", "--after", "0", "--limit", "20"]));
    snap("09b_msg_recv_b", p.tt(B, &["msg", "recv"]));
    // Errors: exit codes, codes, messages, details and hints.
    snap("10_release_a_without_lease", p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    snap("11_release_b_bad_handoff", p.run(Inv::agent(B, &["release", "--stdin"]).stdin("not json")));
    snap("12_unknown_command", p.tt(A, &["frobnicate"]));
    snap("13_bad_duration", p.tt(A, &["wait", "--timeout", "5x"]));
}

#[test]
fn a_session_in_text_mode() {
    let p = Proto::new(&[A, B]);
    let snap = |name: &str, out: Output| insta::assert_snapshot!(format!("text_{name}"), render(&p, &out));
    snap("01_join_a", p.run(text(A, &["join"])));
    snap("02_join_b", p.run(text(B, &["join"])));
    snap("03_try_a_grant", p.run(text(A, &["try"])));
    p.adv(STEP_MS);
    snap("04_try_b_not_yet", p.run(text(B, &["try"])));
    p.adv(STEP_MS);
    snap(
        "05_release_a_to_b",
        p.run(text(A, &["release", "--status", "Fixed the parser", "--next-action", "Review the tests"])),
    );
    p.adv(STEP_MS);
    snap("06_try_b_grant_with_handoff", p.run(text(B, &["try"])));
    p.adv(STEP_MS);
    snap("07_state_b", p.run(text(B, &["state"])));
    snap("08_whoami_a", p.run(text(A, &["whoami"])));
    snap("09_release_a_without_lease", p.run(text(A, &["release", "--status", "s", "--next-action", "n"])));
    snap("10_unknown_command", p.run(text(A, &["frobnicate"])));
}
