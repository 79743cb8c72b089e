//! host-lock.md §14 scenarios 1–12, 18 and 20: the lock file, the check of every writing and
//! reading command, the decision table, the hard invariant, the `O_EXCL` race, the
//! remote-filesystem refusal, corrupt locks and the manual heal. Each test drives the real
//! `tt` binary and is named after its scenario.

use super::hostlock_fixture::*;
use super::proto::{err, ok};
use super::support::Output;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// The `host_lock_conflict` JSON of a refused write.
#[track_caller]
fn conflict(out: &Output) -> Value {
    err(out, "host_lock_conflict")
}

#[test]
fn s01_creation() {
    let hl = Hl::bare();
    let out = hl.write(&[]);
    ok(&out);
    let mode = std::fs::metadata(hl.lock_path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let lock = hl.lock_json();
    assert_eq!(
        lock.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["boot_id", "created_at", "hostname", "machine_id", "pid"]
    );
    assert_eq!(lock["hostname"], "current-host");
    assert_eq!(lock["machine_id"], MID);
    assert_eq!(lock["boot_id"], BOOT);
    assert!(lock["pid"].as_u64().unwrap() > 0);
    let created = humantime::parse_rfc3339(lock["created_at"].as_str().unwrap()).unwrap();
    near_t0(u64::try_from(created.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap());
    near_t0(hl.mtime_ms());
    assert!(hl.lock_bytes().iter().filter(|b| **b == b'\n').count() <= 1, "one line");
    assert_eq!(hl.audit_events(), ["host_lock_created"]);
    let a = &hl.audit()[0];
    assert_eq!(a["this_hostname"], "current-host");
    assert_eq!(a["pid"], lock["pid"], "the writer's pid");
}

#[test]
fn s02_same_host_throttled_heartbeat() {
    let hl = Hl::new();
    let content = hl.lock_bytes();
    set_mtime(&hl.lock_path(), 1_789_999_941); // 59 000 ms old
    ok(&hl.write(&[]));
    assert_eq!(hl.mtime_ms(), 1_789_999_941_000, "not due: unchanged");
    set_mtime(&hl.lock_path(), 1_789_999_939); // 61 000 ms old
    ok(&hl.read(&[]));
    assert_eq!(hl.mtime_ms(), 1_789_999_939_000, "a read never touches");
    ok(&hl.write(&[]));
    near_t0(hl.mtime_ms());
    assert_eq!(hl.lock_bytes(), content, "a heartbeat never changes the content");
}

#[test]
fn s03_upgrade() {
    let hl = Hl::new();
    std::fs::write(hl.lock_path(), r#"{"pid":1,"hostname":"current-host"}"#).unwrap();
    ok(&hl.write(&[]));
    let lock = hl.lock_json();
    assert_eq!((lock["hostname"].as_str(), lock["machine_id"].as_str()), (Some("current-host"), Some(MID)));
    assert_eq!(hl.audit_events().last().unwrap(), "host_lock_upgraded");
}

#[test]
fn s04_foreign_auto_heal_off() {
    let hl = Hl::new();
    hl.foreign(AGE_360S);
    let before = hl.lock_bytes();
    let e = conflict(&hl.write(&[]));
    let dir = hl.d.display().to_string();
    assert_eq!(
        e["message"],
        format!("the data directory `{dir}` belongs to host `old-host`, not to this host `current-host`")
    );
    assert_eq!(e["data_dir"], dir.as_str());
    assert_eq!(e["lock_path"], hl.lock_path().display().to_string());
    for (k, v) in [
        ("lock_hostname", json!("old-host")),
        ("this_hostname", json!("current-host")),
        ("lock_machine_id", json!("22222222222222222222222222222222")),
        ("this_machine_id", json!(MID)),
        ("lock_boot_id", Value::Null),
        ("lock_pid", json!(99999)),
        ("lock_created_at", json!("2026-09-01T00:00:00.000Z")),
        ("heartbeat_stale", json!(true)),
        ("decision", json!("conflict")),
        ("reason", json!("auto_heal_off")),
        ("fs_local", Value::Null),
        ("pid_dead", Value::Null),
        ("hint", json!("verify that no other machine uses this directory, then run `tt guards heal-lock --force`")),
    ] {
        assert_eq!(e[k], v, "{k}: {e:#}");
    }
    let age = e["heartbeat_age_ms"].as_u64().unwrap();
    assert!((360_000..361_000).contains(&age), "{age}");
    assert!(hl.probes().is_empty(), "no df, no pid probe: {:?}", hl.probes());
    assert_eq!(hl.lock_bytes(), before);
    assert_eq!(hl.audit_events().last().unwrap(), "host_lock_foreign");
    // Text mode: the message, then the hint on its own line.
    let text = hl.run(&["join", &hl.w.to_string_lossy(), "--agent", "agent:a", "--text"], &[]);
    assert_eq!(text.code, 1);
    let lines: Vec<&str> = text.stderr.lines().collect();
    assert!(lines[0].starts_with("Error: the data directory"), "{text:?}");
    assert_eq!(
        lines[1],
        "hint: verify that no other machine uses this directory, then run `tt guards heal-lock --force`"
    );

    // A read runs read-only: exit 0, the host_lock field, nothing written.
    let dump = hl.dump();
    for now in [T0.to_string(), "1790000100000".to_string()] {
        let st = ok(&hl.read(&[("TT_NOW_MS", &now)]));
        let h = &st["host_lock"];
        assert_eq!((h["state"].as_str(), h["read_only"].as_bool()), (Some("foreign"), Some(true)), "{st:#}");
        assert_eq!(h["reason"], "auto_heal_off");
        assert_eq!(h["lock_hostname"], "old-host");
        assert_eq!(h["this_hostname"], "current-host");
        assert_eq!(h["decision"], "conflict");
        assert!(h["heartbeat_age_ms"].as_u64().unwrap() >= 360_000);
        assert_eq!(hl.dump(), dump, "no presence refresh, no purge");
        assert!(hl.probes().is_empty());
    }
    // Text mode: one `warning:` line on stderr, exit code unchanged.
    let text = hl.run(&["state", &hl.w.to_string_lossy(), "--agent", "agent:a", "--text"], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    let warnings: Vec<&str> = text.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{text:?}");
    assert!(warnings[0].contains("old-host") && warnings[0].contains("read-only"), "{text:?}");
    // Every other reading command runs too, and writes nothing.
    let w = hl.w.to_string_lossy().into_owned();
    for args in [
        vec!["list", "--json"],
        vec!["events", &w, "--agent", "agent:a", "--json"],
        vec!["msg", "recv", "--path", &w, "--agent", "agent:a", "--json"],
        vec!["notes", "list", "--path", &w, "--agent", "agent:a", "--json"],
        vec!["health", &w, "--agent", "agent:a", "--json"],
    ] {
        let out = ok(&hl.run(&args, &[("TT_NOW_MS", "1790000100000")]));
        assert_eq!(out["host_lock"]["state"], "foreign", "{args:?}: {out:#}");
    }
    assert_eq!(hl.dump(), dump);
    assert_eq!(hl.lock_bytes(), before);
    // Every writing command is refused.
    for args in [
        vec!["leave", &w, "--agent", "agent:a", "--json"],
        vec!["try", &w, "--agent", "agent:a", "--json"],
        vec!["msg", "send", "room", "hi", "--path", &w, "--agent", "agent:a", "--json"],
        vec!["notes", "add", "n", "--path", &w, "--agent", "agent:a", "--json"],
        vec!["release", &w, "--agent", "agent:a", "--json"],
        vec!["heartbeat", &w, "--agent", "agent:a", "--json"],
        vec!["guards", "heal-lock", "--json"],
    ] {
        conflict(&hl.run(&args, &[]));
    }
    assert_eq!(hl.dump(), dump);
    assert!(hl.probes().is_empty());
}

#[test]
fn s05_rename_heal_by_machine_id() {
    let renamed = FOREIGN.replace("22222222222222222222222222222222", MID);
    for settings in [None, Some(DRY_RUN)] {
        let hl = Hl::new();
        hl.put_lock(&renamed, 1_789_999_990); // 10 000 ms old: fresh
        let changes: Vec<(&str, &str)> = settings.map(|s| vec![("TT_SETTINGS", s)]).unwrap_or_default();
        let out = hl.write(&changes);
        ok(&out);
        let lock = hl.lock_json();
        assert_eq!(lock["hostname"], "current-host");
        assert_ne!(lock["pid"], 99999, "the writer's pid");
        assert!(hl.probes().is_empty(), "a rename probes nothing: {:?}", hl.probes());
        assert_eq!(hl.audit_events().last().unwrap(), "host_lock_rename_healed");
        let a = hl.audit().last().unwrap().clone();
        assert_eq!((a["lock_hostname"].as_str(), a["decision"].as_str()), (Some("old-host"), Some("heal_rename")));
        assert_eq!(a["pid"], lock["pid"]);
    }
}

#[test]
fn s06_machine_id_known_on_one_side_only() {
    let hl = Hl::new();
    // (a) the lock's machine id is null.
    hl.put_lock(&FOREIGN.replace("\"22222222222222222222222222222222\"", "null"), AGE_360S);
    assert_eq!(conflict(&hl.write(&[]))["reason"], "auto_heal_off");
    // (b) the lock of scenario 5, but this machine id unknown.
    hl.put_lock(&FOREIGN.replace("22222222222222222222222222222222", MID), 1_789_999_990);
    let e = conflict(&hl.write(&[("TT_MACHINE_ID", "")]));
    assert_eq!((e["reason"].as_str(), e["this_machine_id"].clone()), (Some("auto_heal_off"), Value::Null));
    // (c) two different ids.
    hl.foreign(AGE_360S);
    assert_eq!(conflict(&hl.write(&[]))["reason"], "auto_heal_off");
    assert!(hl.probes().is_empty());
}

/// One row of the scenario 7 table.
struct Row {
    id: &'static str,
    changes: Vec<(&'static str, &'static str)>,
    mtime_s: u64,
    lock: Option<&'static str>,
    healed: bool,
    decision: &'static str,
    reason: &'static str,
    pid_probed: bool,
}

fn table() -> Vec<Row> {
    let row = |id, changes: Vec<(&'static str, &'static str)>, decision, reason, pid_probed| Row {
        id,
        changes,
        mtime_s: AGE_360S,
        lock: None,
        healed: false,
        decision,
        reason,
        pid_probed,
    };
    let no_pid = r#"{"hostname":"old-host","machine_id":"22222222222222222222222222222222","boot_id":null,"created_at":"2026-09-01T00:00:00.000Z"}"#;
    vec![
        row("a", vec![("TT_MOUNT_SOURCE", "nas:/exports/data")], "conflict", "network_mount", false),
        row("b", vec![("TT_MOUNT_SOURCE", "//fileserver/share")], "conflict", "network_mount", false),
        row("c", vec![("TT_MOUNT_SOURCE", "overlay")], "conflict", "mount_not_provably_local", false),
        row("d", vec![("TT_MOUNT_SOURCE", "!df-failed")], "conflict", "mount_not_provably_local", false),
        row("e", vec![("TT_FS_TYPE", "fuse.sshfs")], "conflict", "network_mount", false),
        row("f", vec![("TT_PIDS_ALIVE", "99999")], "conflict", "pid_alive", true),
        Row { mtime_s: AGE_299S, ..row("g", vec![], "conflict", "heartbeat_fresh", true) },
        Row { mtime_s: AGE_300S, healed: true, ..row("h", vec![], "heal_stale", "stale_dead_local", true) },
        Row { mtime_s: AGE_300S, ..row("i", vec![("TT_SETTINGS", DRY_RUN)], "would_heal", "dry_run", true) },
        Row {
            mtime_s: AGE_300S,
            lock: Some(no_pid),
            healed: true,
            ..row("j", vec![], "heal_stale", "stale_dead_local", false)
        },
    ]
}

#[test]
fn s07_auto_heal_decision_table() {
    for r in table() {
        let hl = Hl::new();
        hl.put_lock(r.lock.unwrap_or(FOREIGN), r.mtime_s);
        let before = hl.lock_bytes();
        let mut changes = vec![("TT_SETTINGS", AUTO_HEAL)];
        changes.extend(r.changes.iter().copied());
        let out = hl.write(&changes);
        let mut want_probes = vec![hl.mount_line()];
        if r.pid_probed {
            want_probes.push("pid-probe 99999".into());
        }
        assert_eq!(hl.probes(), want_probes, "row {}", r.id);
        if r.healed {
            ok(&out);
            assert_eq!(hl.lock_json()["hostname"], "current-host", "row {}", r.id);
            assert_eq!(hl.audit_events().last().unwrap(), "host_lock_auto_healed", "row {}", r.id);
            let a = hl.audit().last().unwrap().clone();
            assert_eq!((a["decision"].as_str(), a["reason"].as_str()), (Some(r.decision), Some(r.reason)));
            continue;
        }
        let e = conflict(&out);
        assert_eq!((e["decision"].as_str(), e["reason"].as_str()), (Some(r.decision), Some(r.reason)), "row {}", r.id);
        assert_eq!(hl.lock_bytes(), before, "row {}: unchanged", r.id);
        match r.id {
            "f" => assert_eq!((e["fs_local"].clone(), e["pid_dead"].clone()), (json!(true), json!(false))),
            "g" => {
                assert_eq!((e["pid_dead"].clone(), e["heartbeat_stale"].clone()), (json!(true), json!(false)));
            }
            "i" => {
                assert!(e["message"].as_str().unwrap().ends_with("(dry run: it would have been healed)"), "{e}");
                assert!(e["hint"].as_str().unwrap().ends_with("or set `host_lock_dry_run` to false"), "{e}");
                assert_eq!(hl.audit_events().last().unwrap(), "host_lock_would_auto_heal");
            }
            "a" | "b" | "e" => assert_eq!((e["fs_local"].clone(), e["pid_dead"].clone()), (json!(false), Value::Null)),
            _ => {}
        }
    }
}

#[test]
fn s08_hard_invariant_never_probes_a_foreign_pid_without_locality() {
    let no_pid_rows = ["a", "b", "c", "d", "e"];
    // Scenario 4 (auto-heal off): no probe at all, for a write, a read and tt guards.
    let hl = Hl::new();
    hl.foreign(AGE_360S);
    let before = hl.lock_bytes();
    conflict(&hl.write(&[]));
    ok(&hl.read(&[]));
    hl.guards(&[]);
    assert!(hl.probes().is_empty(), "{:?}", hl.probes());
    assert_eq!(hl.lock_bytes(), before);
    // Rows 7a–7e: the mount probe runs, never a pid probe; tt guards leaves every row's lock
    // byte-identical, 7h included.
    for r in table() {
        let hl = Hl::new();
        hl.put_lock(r.lock.unwrap_or(FOREIGN), r.mtime_s);
        let before = hl.lock_bytes();
        let mut changes = vec![("TT_SETTINGS", AUTO_HEAL)];
        changes.extend(r.changes.iter().copied());
        let g = hl.guards(&changes);
        assert_eq!(hl.lock_bytes(), before, "tt guards changed the lock in row {}", r.id);
        let row = Hl::row(&g, "host_lock");
        assert_eq!(row["runtime"]["decision"], r.decision, "row {}: {row:#}", r.id);
        if no_pid_rows.contains(&r.id) {
            ok(&hl.read(&changes));
            let _ = hl.write(&changes);
            let pid_lines: Vec<String> = hl.probes().into_iter().filter(|l| l.starts_with("pid-probe")).collect();
            assert!(pid_lines.is_empty(), "row {}: {pid_lines:?}", r.id);
            assert!(hl.probes().iter().all(|l| *l == hl.mount_line()), "row {}", r.id);
        }
    }
}

#[test]
fn s09_o_excl_race_exactly_one_winner() {
    let hl = Hl::new();
    let barrier = hl.d.join("barrier");
    for round in 0..20 {
        hl.put_lock(FOREIGN, AGE_300S);
        let _ = std::fs::remove_file(hl.d.join("logs").join("host-lock.jsonl"));
        for e in std::fs::read_dir(&hl.d).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.starts_with("barrier") {
                std::fs::remove_file(hl.d.join(name)).unwrap();
            }
        }
        let changes = [("TT_SETTINGS", AUTO_HEAL), ("TT_TEST_HEAL_BARRIER", barrier.to_str().unwrap())];
        let first = hl.p.spawn(hl.write_inv(&changes));
        let second = hl.p.spawn(hl.write_inv(&changes));
        let pids = [first.pid(), second.pid()];
        let until = Instant::now() + Duration::from_secs(20);
        let arrived = loop {
            let arrived: Vec<String> = std::fs::read_dir(&hl.d)
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix("barrier.arrived.").map(str::to_owned))
                .collect();
            if arrived.len() == 2 {
                break arrived;
            }
            assert!(Instant::now() < until, "round {round}: arrivals {arrived:?}, audit {:?}", hl.audit());
            std::thread::sleep(Duration::from_millis(5));
        };
        std::fs::write(&barrier, "").unwrap();
        let (a, _) = hl.p.finish(first, Duration::from_secs(30));
        let (b, _) = hl.p.finish(second, Duration::from_secs(30));
        let outs = [(pids[0], a), (pids[1], b)];
        let winners: Vec<&(u32, Output)> = outs.iter().filter(|(_, o)| o.code == 0).collect();
        assert_eq!(winners.len(), 1, "round {round}: never two winners: {outs:?}");
        let (winner, _) = winners[0];
        let (_, loser) = outs.iter().find(|(_, o)| o.code != 0).unwrap();
        assert_eq!(conflict(loser)["reason"], "lost_takeover_race", "round {round}");
        let mut arrived_pids: Vec<u32> = arrived.iter().map(|p| p.parse().unwrap()).collect();
        arrived_pids.sort_unstable();
        let mut spawned: Vec<u32> = outs.iter().map(|(pid, _)| *pid).collect();
        spawned.sort_unstable();
        assert_eq!(arrived_pids, spawned, "round {round}: arrival files name the two writers");
        let lock = hl.lock_json();
        assert_eq!((lock["hostname"].as_str(), lock["pid"].as_u64()), (Some("current-host"), Some(u64::from(*winner))));
        assert_eq!(hl.audit_count("host_lock_auto_healed"), 1, "round {round}");
        assert_eq!(hl.audit_count("host_lock_takeover_lost"), 1, "round {round}");
        ok(&hl.write(&[]));
    }
}

#[test]
fn s10_remote_filesystem() {
    let hl = Hl::bare();
    let nfs = [("TT_FS_TYPE", "nfs4")];
    for out in [hl.write(&nfs), hl.read(&nfs)] {
        let e = err(&out, "remote_filesystem");
        assert_eq!(e["fs_type"], "nfs4");
        assert!(e["hint"].as_str().unwrap().contains("TT_DATA_DIR"), "{e}");
    }
    let e = err(&hl.run(&["guards", "heal-lock", "--force", "--json"], &nfs), "remote_filesystem");
    assert_eq!(e["fs_type"], "nfs4");
    let g = hl.guards(&nfs);
    let row = Hl::row(&g, "host_lock");
    assert_eq!(row["effective"], "off-runtime-divergent", "{row:#}");
    assert_eq!(row["runtime"]["remote_filesystem"], true);
    assert_eq!(row["runtime"]["enabled"], false);
    let lines = g["attention"].as_array().unwrap();
    assert_eq!(lines.iter().filter(|l| l.as_str().unwrap().starts_with("host-lock:")).count(), 1, "{g:#}");
    for name in ["host.lock", "rooms.sqlite"] {
        assert!(!hl.d.join(name).exists(), "{name} was written");
    }
    for fs in ["smbfs", "cifs", "smb2"] {
        assert_eq!(err(&hl.write(&[("TT_FS_TYPE", fs)]), "remote_filesystem")["fs_type"], fs);
    }
    assert!(!hl.d.join("host.lock").exists());
    for fs in ["ext4", "tmpfs", "overlay", "zfs"] {
        ok(&hl.write(&[("TT_FS_TYPE", fs)]));
    }
}

#[test]
fn s11_corrupt_lock() {
    let hl = Hl::new();
    hl.put_lock("not json", 1_789_999_990); // 10 s old
    ok(&hl.write(&[]));
    assert_eq!(hl.lock_json()["hostname"], "current-host");
    assert_eq!(hl.audit_events().last().unwrap(), "host_lock_corrupt_replaced");
    // An empty lock with an mtime ≈ T0 is re-read 5 times (20 ms apart), then replaced.
    hl.put_lock("", 1_790_000_000);
    let began = Instant::now();
    ok(&hl.write(&[]));
    assert!(began.elapsed() >= Duration::from_millis(100), "five re-reads 20 ms apart");
    assert_eq!(hl.lock_json()["hostname"], "current-host");
    assert_eq!(hl.audit_count("host_lock_corrupt_replaced"), 2);
    // A corrupt lock is left alone by a read, which runs normally.
    hl.put_lock("{\"hostname\": \"\"}", 1_789_999_990);
    let st = ok(&hl.read(&[]));
    assert!(st.get("host_lock").is_none(), "{st:#}");
    assert_eq!(hl.lock_bytes(), b"{\"hostname\": \"\"}");
}

#[test]
fn s12_manual_heal() {
    let hl = Hl::new();
    hl.foreign(AGE_360S);
    conflict(&hl.run(&["guards", "heal-lock", "--json"], &[]));
    let out = ok(&hl.run(&["guards", "heal-lock", "--force", "--json"], &[]));
    assert_eq!((out["status"].as_str(), out["outcome"].as_str()), (Some("owned"), Some("forced")), "{out:#}");
    assert_eq!(out["previous"]["hostname"], "old-host");
    assert_eq!(out["lock"]["hostname"], "current-host");
    assert!(hl.probes().is_empty(), "{:?}", hl.probes());
    assert_eq!(hl.audit_events().last().unwrap(), "host_lock_force_healed");
    ok(&hl.write(&[]));
    // On a same-host lock --force changes nothing.
    let before = hl.lock_bytes();
    let out = ok(&hl.run(&["guards", "heal-lock", "--force", "--json"], &[]));
    assert_eq!(out["outcome"], "same_host");
    assert_eq!(hl.lock_bytes(), before);
    // Text output of a forced heal.
    hl.foreign(AGE_360S);
    let text = hl.run(&["guards", "heal-lock", "--force", "--text"], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    assert_eq!(text.stdout, "host.lock now names this host (current-host); previous owner: old-host\n");
}

#[test]
fn s18_hook_mode_under_a_foreign_lock() {
    let hl = Hl::new();
    hl.foreign(AGE_360S);
    let w = hl.w.to_string_lossy().into_owned();
    let payload = json!({
        "session_id": "s18",
        "transcript_path": "",
        "cwd": w,
        "hook_event_name": "Stop",
        "stop_hook_active": false,
        "last_assistant_message": "I'll restart the server now.",
    })
    .to_string();
    let hook = |extra: &[&str]| {
        let mut args = vec!["claim", "observe", w.as_str(), "--hook", "--agent", "agent:a"];
        args.extend_from_slice(extra);
        hl.p.run(hl.inv(&args, &[]).stdin(payload.clone()))
    };
    let plain = hook(&[]);
    assert_eq!((plain.code, plain.stdout.as_str()), (0, ""), "{plain:?}");
    let json_out = hook(&["--json"]);
    assert_eq!(json_out.code, 0, "{json_out:?}");
    let v: Value = serde_json::from_str(&json_out.stdout).unwrap();
    assert_eq!((v["registered"].clone(), v["reason"].clone()), (json!(false), json!("host_lock_conflict")), "{v:#}");
    assert!(hl.probes().is_empty(), "{:?}", hl.probes());
    // After a forced heal: no commitment was created under the foreign lock, and the same
    // payload is a claim once the lock names this host.
    ok(&hl.run(&["guards", "heal-lock", "--force", "--json"], &[]));
    let listed = ok(&hl.run(&["commitments", &w, "--all", "--agent", "agent:a", "--json"], &[]));
    assert_eq!(listed["total"], 0, "{listed:#}");
    let v: Value = serde_json::from_str(&hook(&["--json"]).stdout).unwrap();
    assert_eq!((v["registered"].clone(), v["verb"].clone()), (json!(true), json!("restart")), "{v:#}");
}

/// follow-through.md §7.2 steps 5–6: with a foreign lock and no database yet, the hook
/// skips `host_lock_conflict` (not `no_room`) and creates nothing.
#[test]
fn hook_with_a_foreign_lock_and_no_database() {
    let hl = Hl::bare();
    std::fs::create_dir_all(&hl.d).unwrap();
    hl.foreign(AGE_360S);
    let before = hl.lock_bytes();
    let w = hl.w.to_string_lossy().into_owned();
    let payload = json!({"session_id": "s", "cwd": w, "stop_hook_active": false,
        "last_assistant_message": "I'll restart the server now."})
    .to_string();
    let out = hl.p.run(hl.inv(&["claim", "observe", &w, "--hook", "--json"], &[]).stdin(payload));
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["reason"], "host_lock_conflict", "{v:#}");
    assert!(!hl.d.join("rooms.sqlite").exists());
    assert_eq!(hl.lock_bytes(), before);
}

/// follow-through.md §7: `claim observe`, `commitments done` and `withdraw` are writing
/// commands (refused under a foreign lock), `tt commitments` is a reading one (it runs
/// and carries the `host_lock` warning).
#[test]
fn commitments_commands_under_a_foreign_lock() {
    let hl = Hl::new();
    let w = hl.w.to_string_lossy().into_owned();
    let a = ["--agent", "agent:a", "--json"];
    let observe = |text: &str| {
        let mut args = vec!["claim", "observe", w.as_str(), "--text", text];
        args.extend_from_slice(&a);
        hl.run(&args, &[])
    };
    assert_eq!(ok(&observe("I'll push the fix now."))["registered"], true);
    hl.foreign(AGE_360S);
    conflict(&observe("I'll restart the server now."));
    conflict(&hl.run(&["commitments", "done", "CMT-001", "--agent", "agent:a", "--json"], &[]));
    conflict(&hl.run(&["commitments", "withdraw", "CMT-001", "--agent", "agent:a", "--json"], &[]));
    let listed = ok(&hl.run(&["commitments", &w, "--agent", "agent:a", "--json"], &[]));
    assert_eq!(listed["open_total"], 1, "{listed:#}");
    assert_eq!(listed["host_lock"]["state"], "foreign", "{listed:#}");
    assert!(hl.probes().is_empty(), "{:?}", hl.probes());
}

#[test]
fn s20_same_host_name_different_machine_id() {
    let hl = Hl::new();
    let lock = r#"{"hostname":"current-host","machine_id":"33333333333333333333333333333333","boot_id":null,"pid":4242,"created_at":"2026-09-01T00:00:00.000Z"}"#;
    hl.put_lock(lock, 1_789_999_990);
    ok(&hl.write(&[]));
    assert_eq!(hl.lock_bytes(), lock.as_bytes(), "same host: not rewritten");
    let g = hl.guards(&[]);
    let row = Hl::row(&g, "host_lock");
    assert_eq!(row["effective"], "on-confirmed", "{row:#}");
    assert_eq!(row["runtime"]["machine_id_mismatch"], true);
    let lines: Vec<&str> = g["attention"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("host-lock:") && lines[0].contains("3333"), "{lines:?}");
}
