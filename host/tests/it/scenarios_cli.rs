//! Acceptance scenarios S36–S41 (protocol.md §24.2): limits and validation, help and strict
//! parsing, bounded reads, settings and the data directory, the closed room, wake latency.

use super::proto::*;
use serde_json::{Value, json};
use std::io::BufRead;
use std::time::{Duration, Instant};

#[test]
fn s36_limits_and_validation() {
    let p = Proto::new(&[A, Z, "a:dup", "b:dup"]);
    p.join(&[A]);
    // 1.
    let body = "x".repeat(4096);
    ok(&p.run(Inv::agent(A, &["msg", "send", "room", "--stdin"]).stdin(body.as_str())));
    let e =
        err(&p.run(Inv::agent(A, &["msg", "send", "room", "--stdin"]).stdin("x".repeat(4097))), "message_too_large");
    assert_eq!(e["supplied"], 4097, "{e:#}");
    let msgs = events(&ok(&p.tt(A, &["events", "--event", "message_sent"])));
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    // 2.
    ok(&p.tt(A, &["msg", "send", "room", " "]));
    let e = usage(&p.tt(A, &["msg", "send", "room", ""]));
    assert!(s(&e, "message").contains("Message body is required"), "{e:#}");
    // 3.
    err(&p.tt(A, &["msg", "send", "agent:nobody", "hi"]), "unknown_recipient");
    let e = err(&p.tt(Z, &["msg", "send", "room", "hi"]), "unknown_member");
    assert_eq!(e["agent_id"], Z, "{e:#}");
    assert!(p.sessions().iter().all(|row| row["agent_id"] != Z), "{:#?}", p.sessions());
    // 4.
    p.join(&["a:dup", "b:dup"]);
    let e = err(&p.tt(A, &["msg", "send", "dup", "hi"]), "ambiguous_recipient");
    assert_eq!(e["candidates"], json!(["a:dup", "b:dup"]), "{e:#}");
    // 5.
    ok(&p.run(Inv::agent(A, &["notes", "add", "--stdin"]).stdin("n".repeat(16_384))));
    err(&p.run(Inv::agent(A, &["notes", "add", "--stdin"]).stdin("n".repeat(16_385))), "body_too_large");
    usage(&p.tt(A, &["notes", "add", "   "]));
    let e = err(&p.tt(A, &["notes", "add", "x", "--turn", "5"]), "invalid_turn_id");
    fields(&e, json!({"supplied": 5, "current_turn_id": 0}));
    usage(&p.tt(A, &["notes", "add", "x", "--turn", "-1"]));
}

#[test]
fn s37_help_is_side_effect_free_strict_parsing_exit_codes() {
    let p = Proto::new(&[A]);
    let e_dir = p.root.join("no-such-data-dir");
    // 1.
    let helps: [&[&str]; 5] = [
        &["wait", "--help"],
        &["wait", "-h"],
        &["--json", "wait", "--help"],
        &["wait", ".", "--help"],
        &["help", "wait"],
    ];
    for args in helps {
        let out = p.run(Inv::new(args).env("TT_DATA_DIR", &e_dir));
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.starts_with("Usage: tt wait"), "{args:?}: {out:?}");
        assert!(out.stdout.contains("--help, -h"), "{args:?}: {out:?}");
    }
    assert!(!e_dir.exists(), "help created the data directory");
    assert_eq!(p.running_guardians(), Vec::<u32>::new(), "help started a guardian");
    // 2.
    let out = p.raw(&["frobnicate", "--json"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(out.err_json(), json!({"error": "cli_error", "message": "Unknown command: frobnicate"}));
    // 3.
    let e = usage(&p.tt(A, &["events", "--after", "100ms"]));
    assert_eq!(e["message"], "--after must be an integer.", "{e:#}");
    let bad: [&[&str]; 5] = [
        &["wait", "--timeout", "5x"],
        &["release", "--path", "."],
        &["wait", "--park", "--claim"],
        &["wait", "--target", "any"],
        &["state", "--bogus"],
    ];
    for args in bad {
        usage(&p.tt(A, args));
    }
    // 4.
    let project = p.project.to_str().unwrap();
    let r = ok(&p.raw(&["--agent", A, "join", "--json", project]));
    assert_eq!(r["canonical_path"], project, "{r:#}");
    // 5.
    ok(&p.tt(A, &["msg", "send", "room", "help"]));
    let msgs = events(&ok(&p.tt(A, &["events", "--event", "message_sent"])));
    assert_eq!(msgs.last().unwrap()["payload"]["body"], "help", "{msgs:#?}");
}

#[test]
fn s38_bounded_reads_compact_and_verbose_json() {
    let p = Proto::new(&[A]);
    p.join(&[A]);
    let mut seqs = Vec::new();
    for i in 1..=120 {
        seqs.push(n(&ok(&p.tt(A, &["msg", "send", "room", &format!("m{i}")])), "event_seq"));
    }
    let bodies = |evs: &[Value]| -> Vec<String> {
        evs.iter().map(|e| e["payload"]["body"].as_str().unwrap().to_owned()).collect()
    };
    let expect = |range: std::ops::RangeInclusive<usize>| -> Vec<String> { range.map(|i| format!("m{i}")).collect() };
    // 1.
    let r = ok(&p.tt(A, &["events"]));
    assert_eq!(bodies(&events(&r)), expect(71..=120));
    fields(&r["hidden"]["events"], json!({"older_count": 70, "shown_count": 50, "total_count": 120}));
    // 2.
    let r = ok(&p.tt(A, &["events", "--after", "0"]));
    assert_eq!(bodies(&events(&r)), expect(1..=100));
    fields(&r, json!({"has_more": true, "cursor_event_seq": seqs[99]}));
    let r = ok(&p.tt(A, &["events", "--after", "0", "--limit", "1000"]));
    assert_eq!(events(&r).len(), 120);
    fields(&r, json!({"has_more": false}));
    // 3.
    let r = ok(&p.tt(A, &["join"]));
    absent(&r, &["policy", "coordination_prompt", "next"]);
    assert!(r["members"].is_array(), "{r:#}");
    assert!(s(&r, "hint").contains("expected peers are listed in members"), "{r:#}");
    // 4.
    let r = ok(&p.tt(A, &["join", "--verbose"]));
    fields(&r["policy"], json!({"heartbeat_interval_ms": 300_000, "gone_grace_ms": 600_000}));
    assert!(r.get("coordination_prompt").is_some(), "{r:#}");
}

#[test]
fn s39_settings_and_data_directory() {
    let p = Proto::new(&[A]);
    // 1.
    p.set_settings(Some(r#"{"heartbeat_interval_ms":1000,"presence_ttl_ms":500}"#));
    let r = ok(&p.tt(A, &["join", "--verbose"]));
    fields(
        &r["policy"],
        json!({"heartbeat_interval_ms": 1000, "presence_ttl_ms": 500, "gone_grace_ms": 2000,
               "owner_lease_ttl_ms": 2_700_000, "prior_owner_release_cooldown_ms": 60_000}),
    );
    p.set_settings(None);
    // 2.
    for bad in [r#"{"bogus_ms":1}"#, r#"{"claim_ttl_ms":-1}"#, "not json"] {
        usage_code(&p.run(Inv::agent(A, &["join"]).env("TT_SETTINGS", bad)), "invalid_settings");
    }
    // 3.
    std::fs::create_dir_all(&p.data).unwrap();
    std::fs::write(p.data.join("settings.toml"), "claim_ttl_ms = 5000\n").unwrap();
    let r = ok(&p.tt(A, &["join", "--verbose"]));
    assert_eq!(r["policy"]["claim_ttl_ms"], 5000, "{r:#}");
    let r = ok(&p.run(Inv::agent(A, &["join", "--verbose"]).env("TT_SETTINGS", r#"{"claim_ttl_ms":7000}"#)));
    assert_eq!(r["policy"]["claim_ttl_ms"], 7000, "{r:#}");
    std::fs::remove_file(p.data.join("settings.toml")).unwrap();
    // 4.
    let d2 = p.root.join("d2");
    ok(&p.run(Inv::agent(A, &["join"]).unset("TT_DATA_DIR").env("TALKING_STICK_DATA_DIR", &d2)));
    assert!(d2.join("rooms.sqlite").is_file(), "TALKING_STICK_DATA_DIR was not used");
    let e = usage(&p.run(Inv::agent(A, &["join"]).env("TT_NOW_MS", "abc")));
    assert_eq!(e["message"], "TT_NOW_MS must be an integer number of epoch milliseconds.", "{e:#}");
    // 5.
    assert_eq!(p.now(), T0);
    fields(&ok(&p.tt(A, &["try"])), json!({"status": "your_turn"}));
    let expires = s(&p.state(A)["room"], "lease_expires_at");
    assert!(expires.starts_with("2026-04-22T12:45:00."), "{expires}");
}

#[test]
fn s40_closed_room() {
    let p = Proto::new(&[A]);
    p.join(&[A]);
    p.sql("UPDATE path_rooms SET state='closed'");
    let r = ok(&p.tt(A, &["try"]));
    fields(&r, json!({"status": "closed", "wake_reason": "closed"}));
    assert!(r["room_id"].is_string(), "{r:#}");
    err(&p.tt(A, &["msg", "send", "room", "x"]), "room_closed");
    err(&p.tt(A, &["notes", "add", "x"]), "room_closed");
    err(&p.tt(A, &["take"]), "takeover_not_available");
    let rooms = ok(&p.raw(&["list", "--json"]))["rooms"].clone();
    assert_eq!(rooms.as_array().unwrap().len(), 1, "{rooms:#}");
    assert_eq!(rooms[0]["state"], "closed", "{rooms:#}");
}

/// Total CPU time (user + system) of `pid`, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = stat.rsplit_once(") ").unwrap().1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: field 3 is rest[0], so utime (14) and stime (15) are rest[11], rest[12].
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
        .unwrap_or(100);
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// Kills a background process if the test fails before stopping it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0, "KILL");
    }
}

#[test]
#[ignore = "performance scenario; run with --ignored"]
fn s41_wake_latency() {
    let p = Proto::new(&[A, B]);
    p.join(&[A, B]);
    let mut cmd = p.command(&Inv::agent(B, &["events", "--follow"]));
    let mut follower = cmd.spawn().unwrap();
    let pid = follower.id();
    let guard = KillOnDrop(pid);
    let stdout = follower.stdout.take().unwrap();
    let lines: std::sync::Arc<std::sync::Mutex<Vec<(Instant, String)>>> = Default::default();
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push((Instant::now(), line));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // Intervals of 300–700 ms from a small xorshift generator.
    let mut seed = u64::from(std::process::id()) | 1;
    let mut sent: Vec<(String, Instant)> = Vec::new();
    for i in 1..=60 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(300 + seed % 401));
        let body = format!("m{i}");
        ok(&p.tt(A, &["msg", "send", "room", &body]));
        sent.push((body, Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(500));
    let seen = lines.lock().unwrap().clone();
    let mut latencies = Vec::new();
    for (body, exited) in &sent {
        let hits: Vec<&Instant> = seen
            .iter()
            .filter(|(_, l)| serde_json::from_str::<Value>(l).is_ok_and(|v| v["payload"]["body"] == body.as_str()))
            .map(|(t, _)| t)
            .collect();
        assert_eq!(hits.len(), 1, "{body} printed {} times", hits.len());
        latencies.push(hits[0].saturating_duration_since(*exited));
    }
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    assert!(p50 <= Duration::from_millis(5), "p50 {p50:?} (all: {latencies:?})");
    assert!(p99 <= Duration::from_millis(50), "p99 {p99:?} (all: {latencies:?})");
    // Idle cost.
    let before = cpu_time(pid);
    std::thread::sleep(Duration::from_secs(10));
    let used = cpu_time(pid).saturating_sub(before);
    kill(pid, "TERM");
    let status = follower.wait().unwrap();
    std::mem::forget(guard);
    reader.join().unwrap();
    assert!(used <= Duration::from_millis(100), "idle follower used {used:?} of CPU in 10 s");
    assert_eq!(status.code(), Some(0), "a stream ended by SIGTERM exits 0");
}
