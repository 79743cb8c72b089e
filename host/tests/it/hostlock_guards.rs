//! host-lock.md §14 scenarios 13–17, 19 and 21: the guard posture, the `tt health`
//! summary line, policy faults, the guardian's lock tick (a component test with an
//! injected clock) and the policy case tables; plus the locality of real tmpfs and
//! overlay mounts.

use super::hostlock_fixture::*;
use super::proto::{err, ok};
use super::support::repo_root;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

const KEYS: [&str; 6] = [
    "host_lock",
    "supersession",
    "action_claim_sentinel",
    "idle_room_purge",
    "claim_timeout_takeover",
    "policy_module",
];

fn runtime_keys(row: &Value) -> Vec<String> {
    let mut k: Vec<String> = row["runtime"].as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn sorted(keys: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = keys.iter().map(|s| (*s).to_owned()).collect();
    k.sort();
    k
}

#[test]
fn s13_guard_rows_on_a_healthy_data_dir() {
    let hl = Hl::new();
    let g = hl.guards(&[]);
    let rows = g["guards"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["key"].as_str().unwrap()).collect::<Vec<_>>(), KEYS);
    let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "host-lock",
            "supersession",
            "action-claim-sentinel",
            "idle-room-purge",
            "claim-timeout-takeover",
            "policy-module"
        ]
    );
    let effective: Vec<&str> = rows.iter().map(|r| r["effective"].as_str().unwrap()).collect();
    assert_eq!(
        effective,
        ["on-confirmed", "on-confirmed", "on-unverified", "on-confirmed", "on-confirmed", "on-confirmed"]
    );
    for r in rows {
        for k in [
            "key",
            "name",
            "config_enabled",
            "default_enabled",
            "config_source",
            "effective",
            "off_class",
            "dry_run",
            "runtime",
            "error",
            "detail",
            "attention",
        ] {
            assert!(r.get(k).is_some(), "row {} lacks {k}", r["key"]);
        }
        assert_eq!((r["default_enabled"].as_bool(), r["config_source"].as_str()), (Some(true), Some("code_default")));
    }
    let host = Hl::row(&g, "host_lock");
    assert_eq!(
        runtime_keys(&host),
        sorted(&[
            "enabled",
            "lock_state",
            "lock_hostname",
            "heartbeat_age_ms",
            "decision",
            "reason",
            "auto_heal",
            "fs_type",
            "remote_filesystem",
            "machine_id_mismatch"
        ])
    );
    assert_eq!(host["runtime"]["lock_state"], "same_host");
    assert_eq!(host["runtime"]["fs_type"], "ext4");
    let sentinel = Hl::row(&g, "action_claim_sentinel");
    assert_eq!(runtime_keys(&sentinel), sorted(&["enabled", "hook_installed", "cap", "expiry_ms"]));
    assert_eq!(sentinel["runtime"]["hook_installed"], false);
    for k in ["supersession", "idle_room_purge", "claim_timeout_takeover"] {
        assert_eq!(runtime_keys(&Hl::row(&g, k)), sorted(&["enabled"]), "{k}");
    }
    let policy = Hl::row(&g, "policy_module");
    assert_eq!(
        runtime_keys(&policy),
        sorted(&["enabled", "name", "version", "sha256", "embedded_default", "source", "faults_24h"])
    );
    assert_eq!(policy["runtime"]["embedded_default"], true);
    assert_eq!(policy["runtime"]["source"], "embedded");
    let sha = policy["runtime"]["sha256"].as_str().unwrap();
    assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{sha}");
    assert_eq!(g["summary"]["attention"], 0);
    assert_eq!(g["summary"]["on_confirmed"], 5);
    assert_eq!(g["summary"]["on_unverified"], 1);
    assert_eq!(g["attention"], json!([]));
    let hooks: Vec<&str> = g["test_hooks_active"].as_array().unwrap().iter().map(|h| h.as_str().unwrap()).collect();
    assert!(hooks.contains(&"TT_HOST_ID") && hooks.contains(&"TT_MACHINE_ID"), "{hooks:?}");
    assert_eq!((g["hostname"].as_str(), g["machine_id"].as_str()), (Some("current-host"), Some(MID)));
    assert_eq!(g["boot_id"], BOOT);
    assert_eq!(g["data_dir"], hl.d.display().to_string());
    // Text: one aligned line per row, then the attention verdict.
    let text = hl.run(&["guards", &hl.w.to_string_lossy(), "--text"], &[]);
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 7, "{text:?}");
    assert!(lines[0].starts_with("host-lock ") && lines[0].contains("on-confirmed"), "{text:?}");
    assert_eq!(lines[6], "No attention needed.");
}

#[test]
fn s14_sentinel_verified() {
    let hl = Hl::new();
    std::fs::create_dir_all(hl.w.join(".claude")).unwrap();
    let hook = json!({"hooks": {"Stop": [{"matcher": "", "hooks": [{"type": "command", "command": "tt claim observe --hook", "timeout": 10}]}]}});
    std::fs::write(hl.w.join(".claude/settings.json"), hook.to_string()).unwrap();
    let g = hl.guards(&[]);
    let row = Hl::row(&g, "action_claim_sentinel");
    assert_eq!(
        (row["effective"].as_str(), row["runtime"]["hook_installed"].as_bool()),
        (Some("on-confirmed"), Some(true))
    );
    let g = hl.guards(&[("TT_SETTINGS", r#"{"action_claim_enabled":0}"#)]);
    let row = Hl::row(&g, "action_claim_sentinel");
    assert_eq!(row["effective"], "off", "{row:#}");
    assert_eq!(row["off_class"], "diverged-from-default");
    assert_eq!(row["config_source"], "setting:action_claim_enabled");
    // §11.1: runtime `enabled` says whether the claims slot is usable, whatever the switch.
    assert_eq!(row["runtime"]["enabled"], true, "{row:#}");
    let lines: Vec<&str> = g["attention"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("action-claim-sentinel:"), "{lines:?}");
    // The home-level settings file counts too.
    std::fs::remove_file(hl.w.join(".claude/settings.json")).unwrap();
    std::fs::create_dir_all(hl.h.join(".claude")).unwrap();
    std::fs::write(hl.h.join(".claude/settings.json"), hook.to_string()).unwrap();
    assert_eq!(Hl::row(&hl.guards(&[]), "action_claim_sentinel")["runtime"]["hook_installed"], true);
}

#[test]
fn s15_foreign_lock_in_the_posture() {
    let hl = Hl::new();
    hl.foreign(AGE_360S);
    let g = hl.guards(&[]);
    let row = Hl::row(&g, "host_lock");
    assert_eq!(row["effective"], "off-runtime-divergent");
    assert_eq!(
        (row["runtime"]["enabled"].as_bool(), row["runtime"]["lock_state"].as_str()),
        (Some(false), Some("foreign"))
    );
    assert_eq!(row["runtime"]["lock_hostname"], "old-host");
    assert_eq!(
        (row["runtime"]["decision"].as_str(), row["runtime"]["reason"].as_str()),
        (Some("conflict"), Some("auto_heal_off"))
    );
    let lines: Vec<&str> = g["attention"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    for needle in ["old-host", "current-host", "tt guards heal-lock --force"] {
        assert!(lines[0].contains(needle), "{needle}: {lines:?}");
    }
    assert_eq!(g["summary"]["off_runtime_divergent"], 1);
    let w = hl.w.to_string_lossy().into_owned();
    let h = ok(&hl.run(&["health", &w, "--agent", "agent:a", "--json"], &[]));
    assert_eq!(h["guards"]["attention"], 1, "{h:#}");
    assert!(h["guards"]["summary"].as_str().unwrap().contains("off-runtime-divergent"), "{h:#}");
    let text = hl.run(&["health", &w, "--agent", "agent:a", "--text"], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    let guards_lines: Vec<&str> = text.stdout.lines().filter(|l| l.starts_with("Guards:")).collect();
    assert_eq!(guards_lines.len(), 1, "{text:?}");
    assert!(guards_lines[0].contains("attention: host-lock (run tt guards)"), "{text:?}");
    // Auto-heal and dry run under the conditions of 7i: still divergent, with dry_run.
    hl.foreign(AGE_300S);
    let g = hl.guards(&[("TT_SETTINGS", DRY_RUN)]);
    let row = Hl::row(&g, "host_lock");
    assert_eq!((row["effective"].as_str(), row["dry_run"].as_bool()), (Some("off-runtime-divergent"), Some(true)));
    assert_eq!(row["runtime"]["decision"], "would_heal");
}

#[test]
fn s16_dry_run_on_a_healthy_lock() {
    let hl = Hl::new();
    let g = hl.guards(&[("TT_SETTINGS", DRY_RUN)]);
    assert_eq!(Hl::row(&g, "host_lock")["effective"], "on-dry-run");
    // Would heal, dry run off: on-confirmed, the lock unchanged.
    hl.foreign(AGE_300S);
    let before = hl.lock_bytes();
    let g = hl.guards(&[("TT_SETTINGS", AUTO_HEAL)]);
    let row = Hl::row(&g, "host_lock");
    assert_eq!(row["effective"], "on-confirmed", "{row:#}");
    assert_eq!(row["detail"], "will be healed by the next write");
    assert_eq!(hl.lock_bytes(), before);
    assert_eq!(g["attention"], json!([]));
}

#[test]
fn s17_policy_fault_fails_closed() {
    let hl = Hl::new();
    hl.foreign(AGE_300S);
    let before = hl.lock_bytes();
    let fault = [("TT_SETTINGS", AUTO_HEAL), ("TT_TEST_POLICY_FAULT", "decide-foreign-lock")];
    let out = hl.write(&fault);
    let e = err(&out, "host_lock_conflict");
    assert_eq!(e["reason"], "policy_fault");
    let warnings: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{out:?}");
    assert_eq!(hl.lock_bytes(), before);
    assert!(hl.probes().iter().all(|l| !l.starts_with("pid-probe")), "{:?}", hl.probes());
    let g = hl.guards(&[("TT_SETTINGS", AUTO_HEAL)]);
    let row = Hl::row(&g, "policy_module");
    assert_eq!(row["effective"], "errored", "{row:#}");
    assert!(row["runtime"]["faults_24h"].as_u64().unwrap() >= 1);
    // A classifier fault falls back to `unknown`: not provably local.
    hl.clear_probes();
    let out = hl.write(&[("TT_SETTINGS", AUTO_HEAL), ("TT_TEST_POLICY_FAULT", "classify-mount-source")]);
    assert_eq!(err(&out, "host_lock_conflict")["reason"], "mount_not_provably_local");
    assert!(hl.probes().iter().all(|l| !l.starts_with("pid-probe")), "{:?}", hl.probes());
    assert_eq!(hl.lock_bytes(), before);
}

/// Scenario 19, a component test with an injected clock: the guardian's schedule and its
/// 60 s lock tick keep the heartbeat of a live holder younger than 60 000 ms for 10
/// simulated minutes, so a foreign evaluator under auto-heal always gets
/// `heartbeat_fresh`; once the guardian stops, the heartbeat is stale after 5 minutes.
#[test]
fn s19_guardian_lock_tick() {
    use stick::commands::guard::Schedule;
    use stick::lock::{self, Access, LockConfig, LockHooks, LockState, ThisHost};
    use stick::policy::{Limits, Policies, PolicyConfig};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let holder = LockConfig {
        data_dir: dir.clone(),
        this: ThisHost::new("current-host".into(), Some(MID.into()), Some(BOOT.into()), 4242),
        auto_heal: false,
        dry_run: false,
        fs_type: Some("ext4".into()),
        hooks: LockHooks::default(),
    };
    let evaluator = LockConfig {
        this: ThisHost::new("other-host".into(), Some("99".into()), None, 4343),
        auto_heal: true,
        hooks: LockHooks {
            mount_source: Some("/dev/sda1".into()),
            pids_alive: Some(Vec::new()),
            ..LockHooks::default()
        },
        ..holder.clone()
    };
    let mut policies = Policies::new(PolicyConfig {
        modules: Vec::new(),
        cache_dir: None,
        limits: Limits { fuel: 10_000_000, memory_bytes: 16 << 20 },
        forced_faults: Vec::new(),
        fault_log: None,
        clock: stick::clock::Clock::from_origin(T0),
    });
    let mut judge = |now: u64| match lock::check(&evaluator, Access::Read, &mut policies, now).unwrap() {
        LockState::Foreign(f) => f.decided,
        other => panic!("{other:?}"),
    };
    // The grant's writing command creates the lock at T0; the guardian starts then.
    let mut sink = Policies::new(PolicyConfig {
        modules: Vec::new(),
        cache_dir: None,
        limits: Limits { fuel: 10_000_000, memory_bytes: 16 << 20 },
        forced_faults: Vec::new(),
        fault_log: None,
        clock: stick::clock::Clock::from_origin(T0),
    });
    lock::check(&holder, Access::Write, &mut sink, T0).unwrap();
    let mut schedule = Schedule::new(300_000);
    let mut elapsed = 0u64;
    let mut ticks = 0;
    let mut max_age = 0;
    while elapsed < 600_000 {
        // Sleep in 7 s steps at most, so the age is sampled between duties as well.
        let step = schedule.until_next(elapsed).clamp(1, 7_000);
        elapsed += step;
        let now = T0 + elapsed;
        let age = now - mtime_ms(&holder.lock_path());
        max_age = max_age.max(age);
        assert!(age <= 60_000, "age {age} ms at +{elapsed} ms");
        let d = judge(now);
        assert_eq!((d.decision, d.reason.as_str()), (lock::Decision::Conflict, "heartbeat_fresh"), "+{elapsed} ms");
        let duties = schedule.due(elapsed);
        if duties.tick {
            ticks += 1;
            lock::tick(&holder, now);
        }
        if duties.heartbeat {
            lock::check(&holder, Access::Write, &mut sink, now).unwrap();
        }
    }
    assert!(ticks >= 9, "a tick a minute: {ticks}");
    assert_eq!(max_age, 60_000, "the tick fires exactly when the heartbeat turns 60 s old");
    // The guardian stops: nothing touches the lock any more.
    let stopped = T0 + elapsed;
    let last = mtime_ms(&holder.lock_path());
    let fresh = judge(last + 299_999);
    assert_eq!(fresh.reason, "heartbeat_fresh");
    assert!(stopped <= last + 300_000);
    let stale = judge(last + 300_000);
    assert_eq!((stale.decision, stale.reason.as_str()), (lock::Decision::HealStale, "stale_dead_local"));
    // A foreign lock is never touched by the tick.
    std::fs::write(holder.lock_path(), FOREIGN).unwrap();
    set_mtime(&holder.lock_path(), AGE_360S);
    assert!(!lock::tick(&holder, T0));
    assert_eq!(mtime_ms(&holder.lock_path()), AGE_360S * 1000);
}

#[test]
fn s21_policy_case_tables() {
    let hl = Hl::bare();
    let out = hl.run(
        &[
            "policy",
            "test",
            &repo_root().join("policies/default.wasm").to_string_lossy(),
            &repo_root().join("policies/cases/host-lock.jsonl").to_string_lossy(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let last = out.stdout.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
    let passed: usize = last.split_whitespace().next().unwrap().parse().unwrap();
    let table = std::fs::read_to_string(repo_root().join("policies/cases/host-lock.jsonl")).unwrap();
    assert_eq!(passed, table.lines().filter(|l| !l.trim().is_empty()).count());
    let cases: Vec<Value> =
        table.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    let has = |f: &str, input: Value| cases.iter().any(|c| c["function"] == f && c["input"] == input);
    // The 26 rows of §6.1.
    let local = ["/dev/sda1", "/dev/disk3s5", "/dev/mapper/vg-root", "/dev/nvme0n1p2", "/dev/foo:bar"];
    let network =
        ["//fileserver/share", "nas:/exports/data", "10.0.0.5:/vol", "user@host:/home", "[fe80::1]:/vol", "C:"];
    let unknown = [
        "devfs",
        "zroot/ROOT/default",
        "rootfs",
        "/dev",
        "/home/x.img",
        "",
        "map",
        "tmpfs",
        "overlay",
        "none",
        "fuse.sshfs",
        "/devices/x",
    ];
    let mut rows = 0;
    for s in local.iter().chain(&network).chain(&unknown) {
        assert!(has("classify-mount-source", json!({"source": s, "fs_type": "ext4"})), "{s}");
        rows += 1;
    }
    assert!(has("classify-mount-source", json!({"source": null, "fs_type": "ext4"})));
    assert!(has("classify-mount-source", json!({"source": "/dev/sda1", "fs_type": "nfs4"})));
    assert!(has("classify-mount-source", json!({"source": "/dev/sdb1", "fs_type": "fuse.sshfs"})));
    assert_eq!(rows + 3, 26);
    // The exact boundary pair.
    let at = |age: u64| {
        json!({"lock_hostname": "old-host", "this_hostname": "current-host", "lock_machine_id": "1111", "this_machine_id": "2222",
               "auto_heal": true, "dry_run": false, "heartbeat_age_ms": age, "locality": "local", "pid_state": "dead"})
    };
    assert!(has("decide-foreign-lock", at(299_999)));
    assert!(has("decide-foreign-lock", at(300_000)));
    // Every row of scenario 7 as facts, and one row per line of the §6.2 table.
    for id in ["7a", "7b", "7c", "7d", "7e", "7f", "7g", "7h", "7i", "7j"] {
        assert!(cases.iter().any(|c| c["note"].as_str().unwrap().contains(&format!("scenario {id}"))), "{id}");
    }
    for rule in 1..=10 {
        assert!(
            cases.iter().any(|c| c["note"].as_str().unwrap().starts_with(&format!("§6.2 rule {rule}:"))),
            "rule {rule}"
        );
    }
}

/// How this test process may create a mount: as root with a private mount namespace, or
/// in a user namespace; `None` when neither works here.
fn mount_namespace() -> Option<Vec<&'static str>> {
    [vec!["-m"], vec!["-r", "-m"]]
        .into_iter()
        .find(|flags| Command::new("unshare").args(flags).arg("true").output().is_ok_and(|o| o.status.success()))
}

/// Run a foreign-lock write with auto-heal and the real `df` probe (no mount or fs-type
/// hook) in a data dir that is the mount point of `mount` (a shell command run inside a
/// private mount namespace), then `tt guards`. Returns the write's and guards' output
/// and the mount's `/proc/self/mountinfo` line as seen inside.
fn real_mount_case(hl: &Hl, ns: &[&str], mount: &str, mnt: &Path) -> (super::support::Output, Value, String) {
    let out_dir = hl.p.root.join(format!("ns-out-{}", mnt.file_name().unwrap().to_string_lossy()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let script = format!(
        r#"set -e
{mount}
awk -v m="$MNT" '$5 == m' /proc/self/mountinfo > "$OUT/mountinfo"
printf '%s' "$LOCK" > "$MNT/host.lock"
touch -m -d @1789999640 "$MNT/host.lock"
set +e
"$TT" join "$W" --agent agent:a --json > "$OUT/join.out" 2> "$OUT/join.err"
echo $? > "$OUT/join.rc"
"$TT" guards "$W" --json > "$OUT/guards.out" 2> "$OUT/guards.err"
"#
    );
    let mut inv = hl
        .inv(&["unused"], &[("TT_SETTINGS", AUTO_HEAL), ("TT_PIDS_ALIVE", "")])
        .unset("TT_MOUNT_SOURCE")
        .unset("TT_FS_TYPE")
        .env("TT_DATA_DIR", mnt)
        .env("TT_PROBE_LOG", out_dir.join("probes.log"));
    inv = inv
        .env("MNT", mnt)
        .env("OUT", &out_dir)
        .env("LOCK", FOREIGN)
        .env("W", &hl.w)
        .env("TT", env!("CARGO_BIN_EXE_tt"));
    let cmd = hl.p.command(&inv);
    // Keep the fixture's environment; run a shell in a new mount namespace instead of tt.
    let mut sh = Command::new("unshare");
    sh.args(ns).arg("sh").arg("-c").arg(&script);
    sh.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh.current_dir(cmd.get_current_dir().unwrap());
    let status = sh.status().unwrap();
    assert!(status.success(), "namespace script failed: {status}");
    let read = |f: &str| std::fs::read_to_string(out_dir.join(f)).unwrap_or_default();
    let join = super::support::Output {
        code: read("join.rc").trim().parse().unwrap(),
        stdout: read("join.out"),
        stderr: read("join.err"),
    };
    let guards: Value = serde_json::from_str(&read("guards.out")).unwrap();
    let mountinfo = read("mountinfo");
    let probes = read("probes.log");
    assert_eq!(
        probes.lines().collect::<Vec<_>>(),
        [format!("mount-probe {}", mnt.display()), format!("mount-probe {}", mnt.display())],
        "the write and tt guards each ran the real df probe once, and never a pid probe"
    );
    (join, guards, mountinfo)
}

#[test]
fn real_tmpfs_and_overlay_are_not_provably_local() {
    let hl = Hl::new();
    let Some(ns) = mount_namespace() else {
        // No namespace: a real tmpfs the machine already has (per /proc/self/mountinfo),
        // overlay through the mount-source hook.
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let tmpfs = info.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let sep = f.iter().position(|x| *x == "-")?;
            (f.get(sep + 1) == Some(&"tmpfs") && f.get(5).is_some_and(|o| o.starts_with("rw"))).then(|| f[4].to_owned())
        });
        if let Some(mnt) = tmpfs.filter(|m| Path::new(m).is_dir()) {
            let d = tempfile::tempdir_in(&mnt).unwrap();
            assert_eq!(stick::fscheck::mount_source(d.path()).as_deref(), Some("tmpfs"));
        }
        hl.foreign(AGE_360S);
        let e = err(&hl.write(&[("TT_SETTINGS", AUTO_HEAL), ("TT_MOUNT_SOURCE", "overlay")]), "host_lock_conflict");
        assert_eq!(e["reason"], "mount_not_provably_local");
        return;
    };
    for (fs, mount) in [
        ("tmpfs", r#"mount -t tmpfs tmpfs "$MNT""#),
        (
            "overlay",
            r#"mkdir -p "$MNT.l" "$MNT.u" "$MNT.w" && mount -t overlay overlay -o "lowerdir=$MNT.l,upperdir=$MNT.u,workdir=$MNT.w" "$MNT""#,
        ),
    ] {
        let mnt = hl.p.root.join(format!("mnt-{fs}"));
        std::fs::create_dir_all(&mnt).unwrap();
        let (join, guards, mountinfo) = real_mount_case(&hl, &ns, mount, &mnt);
        // The real facts: the namespace's mountinfo names the filesystem and its source.
        let fields: Vec<&str> = mountinfo.split_whitespace().collect();
        let sep = fields.iter().position(|f| *f == "-").unwrap();
        assert_eq!((fields[sep + 1], fields[sep + 2]), (fs, fs), "{mountinfo}");
        let e = err(&join, "host_lock_conflict");
        assert_eq!(
            (e["reason"].as_str(), e["fs_local"].as_bool()),
            (Some("mount_not_provably_local"), Some(false)),
            "{fs}"
        );
        assert_eq!(e["pid_dead"], Value::Null, "{fs}: no pid probe");
        let row = Hl::row(&guards, "host_lock");
        assert_eq!(row["runtime"]["reason"], "mount_not_provably_local", "{fs}");
        assert_eq!(row["runtime"]["fs_type"], fs, "{fs}: the statfs name");
        assert_eq!(row["effective"], "off-runtime-divergent");
    }
}
