//! The setup of host-lock.md §14 on top of the protocol fixture [`Proto`]:
//!
//! * `D` is the fixture's data dir, `W` its project dir (empty `package.json`), `H` a
//!   fresh `HOME` (so no real `~/.claude/settings.json` leaks in);
//! * every invocation runs with `TT_NOW_MS=1790000000000` (`T0`), `TT_HOST_ID=current-host`,
//!   `TT_MACHINE_ID=1111…`, `TT_BOOT_ID=b000…0001`, `TT_FS_TYPE=ext4`,
//!   `TT_MOUNT_SOURCE=/dev/sda1`, `TT_PIDS_ALIVE=` and `TT_PROBE_LOG=$D/probes.log`, plus
//!   per-call changes;
//! * the setup `tt join $W --agent agent:a --json` creates the room and the lock.

use super::proto::{A, Inv, Proto, T0 as PROTO_T0};
use super::support::Output;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `T0` of host-lock.md §14 (2026-09-21T14:13:20.000Z).
pub const T0: u64 = 1_790_000_000_000;
/// The machine id of this host.
pub const MID: &str = "11111111111111111111111111111111";
/// The boot id of this host.
pub const BOOT: &str = "b0000000-0000-4000-8000-000000000001";
/// The foreign lock of §14 (without a trailing newline, as `printf '%s'` writes it).
pub const FOREIGN: &str = r#"{"hostname":"old-host","machine_id":"22222222222222222222222222222222","boot_id":null,"pid":99999,"created_at":"2026-09-01T00:00:00.000Z"}"#;
/// Mtime seconds of a 360 000 ms old lock.
pub const AGE_360S: u64 = 1_789_999_640;
/// Mtime seconds of a 300 000 ms old lock (the boundary).
pub const AGE_300S: u64 = 1_789_999_700;
/// Mtime seconds of a 299 000 ms old lock.
pub const AGE_299S: u64 = 1_789_999_701;
/// Auto-heal on.
pub const AUTO_HEAL: &str = r#"{"host_lock_auto_heal":1}"#;
/// Auto-heal and dry run on.
pub const DRY_RUN: &str = r#"{"host_lock_auto_heal":1,"host_lock_dry_run":1}"#;

/// The §14 fixture.
pub struct Hl {
    pub p: Proto,
    /// `D`.
    pub d: PathBuf,
    /// `W`.
    pub w: PathBuf,
    /// `H`.
    pub h: PathBuf,
}

impl Hl {
    /// The setup of §14, including the setup `join` (checked: exit 0).
    pub fn new() -> Hl {
        let hl = Hl::bare();
        let out = hl.write(&[]);
        assert_eq!(out.code, 0, "setup join: {out:?}");
        hl
    }

    /// The environment of §14 without the setup `join`.
    pub fn bare() -> Hl {
        let p = Proto::new(&[A]);
        p.adv(T0 - PROTO_T0);
        let h = p.root.join("home");
        std::fs::create_dir_all(&h).unwrap();
        Hl { d: p.data.clone(), w: p.project.clone(), h, p }
    }

    /// One invocation with the §14 environment and `changes` (an empty value sets the
    /// variable to the empty string; use [`Hl::inv`] and `unset` to remove one).
    pub fn inv(&self, args: &[&str], changes: &[(&str, &str)]) -> Inv {
        let mut inv = Inv::new(args)
            .env("HOME", &self.h)
            .env("TT_HOST_ID", "current-host")
            .env("TT_MACHINE_ID", MID)
            .env("TT_BOOT_ID", BOOT)
            .env("TT_FS_TYPE", "ext4")
            .env("TT_MOUNT_SOURCE", "/dev/sda1")
            .env("TT_PIDS_ALIVE", "")
            .env("TT_PROBE_LOG", self.d.join("probes.log"));
        for (k, v) in changes {
            inv = inv.env(k, v);
        }
        inv
    }

    /// Run `tt <args>` with the §14 environment and `changes`.
    pub fn run(&self, args: &[&str], changes: &[(&str, &str)]) -> Output {
        self.p.run(self.inv(args, changes))
    }

    /// *Write*: `tt join $W --agent agent:a --json`.
    pub fn write(&self, changes: &[(&str, &str)]) -> Output {
        let w = self.w.to_string_lossy().into_owned();
        self.run(&["join", &w, "--agent", A, "--json"], changes)
    }

    /// The *write* invocation, for background runs.
    pub fn write_inv(&self, changes: &[(&str, &str)]) -> Inv {
        let w = self.w.to_string_lossy().into_owned();
        self.inv(&["join", &w, "--agent", A, "--json"], changes)
    }

    /// *Read*: `tt state $W --agent agent:a --json`.
    pub fn read(&self, changes: &[(&str, &str)]) -> Output {
        let w = self.w.to_string_lossy().into_owned();
        self.run(&["state", &w, "--agent", A, "--json"], changes)
    }

    /// `tt guards $W --json` → exit 0 and the JSON.
    pub fn guards(&self, changes: &[(&str, &str)]) -> Value {
        let w = self.w.to_string_lossy().into_owned();
        let out = self.run(&["guards", &w, "--json"], changes);
        assert_eq!(out.code, 0, "tt guards: {out:?}");
        out.json()
    }

    /// The row `key` of a `tt guards --json` result.
    pub fn row(guards: &Value, key: &str) -> Value {
        guards["guards"].as_array().unwrap().iter().find(|r| r["key"] == key).unwrap().clone()
    }

    /// `$D/host.lock`.
    pub fn lock_path(&self) -> PathBuf {
        self.d.join("host.lock")
    }

    /// The lock's bytes.
    pub fn lock_bytes(&self) -> Vec<u8> {
        std::fs::read(self.lock_path()).unwrap()
    }

    /// The lock as JSON.
    pub fn lock_json(&self) -> Value {
        serde_json::from_slice(&self.lock_bytes()).unwrap()
    }

    /// Write `content` as the lock, set its mtime to `mtime_s` and clear `probes.log`
    /// (the *foreign lock* recipe of §14).
    pub fn put_lock(&self, content: &str, mtime_s: u64) {
        std::fs::write(self.lock_path(), content).unwrap();
        set_mtime(&self.lock_path(), mtime_s);
        self.clear_probes();
    }

    /// *Foreign lock* with the given mtime (seconds).
    pub fn foreign(&self, mtime_s: u64) {
        self.put_lock(FOREIGN, mtime_s);
    }

    /// `: > $D/probes.log`.
    pub fn clear_probes(&self) {
        std::fs::write(self.d.join("probes.log"), "").unwrap();
    }

    /// The lines of `probes.log`.
    pub fn probes(&self) -> Vec<String> {
        std::fs::read_to_string(self.d.join("probes.log")).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// `mount-probe $D`.
    pub fn mount_line(&self) -> String {
        format!("mount-probe {}", self.d.display())
    }

    /// The events of the audit log, in order.
    pub fn audit_events(&self) -> Vec<String> {
        self.audit().iter().map(|v| v["event"].as_str().unwrap().to_owned()).collect()
    }

    /// The audit log's lines.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.d.join("logs").join("host-lock.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// How many audit lines have `event`.
    pub fn audit_count(&self, event: &str) -> usize {
        self.audit_events().iter().filter(|e| *e == event).count()
    }

    /// The lock's mtime in epoch ms.
    pub fn mtime_ms(&self) -> u64 {
        mtime_ms(&self.lock_path())
    }

    /// A full SQL dump of `D/rooms.sqlite` (python3's `iterdump`).
    pub fn dump(&self) -> String {
        let out = std::process::Command::new("python3")
            .arg("-c")
            .arg("import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\nprint('\\n'.join(c.iterdump()))")
            .arg(self.d.join("rooms.sqlite"))
            .output()
            .expect("python3 is needed for the database dump");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// `touch -m -d @<secs> <path>`.
pub fn set_mtime(path: &Path, secs: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs)).unwrap();
}

/// A file's mtime in epoch ms.
pub fn mtime_ms(path: &Path) -> u64 {
    let m = std::fs::metadata(path).unwrap().modified().unwrap();
    u64::try_from(m.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// "≈ T0": within 1 s after `T0`.
#[track_caller]
pub fn near_t0(ms: u64) {
    assert!((T0..T0 + 1000).contains(&ms), "{ms} is not within 1 s after T0");
}
