//! The acceptance fixture of protocol.md §24.1, built on `support::Output`.
//!
//! * `T0 = 1776859200000`; `adv(n)` moves the fixture clock `T`, which every invocation receives as
//!   `TT_NOW_MS`.
//! * `D` (data dir, created by `tt` on first use), `P` (project dir with an empty `package.json`,
//!   canonicalized) and `L` (liveness file) live side by side in one fresh temp dir, outside any git
//!   work tree and outside `$HOME`.
//! * Every invocation runs in `P` with a clean environment: `PATH`, `HOME`, `USER` of the test
//!   process plus `TT_DATA_DIR`, `TT_HOST_ID=test-host`, `TT_LIVENESS_FILE`, `TT_NOW_MS` and
//!   `TT_SETTINGS` when the scenario gives settings.
//! * Every `guardian_pid` seen in an output is recorded; on drop every guardian still running for
//!   this fixture (recorded, or found in `/proc` by its `--context-path` under the fixture's temp
//!   dir) gets `SIGKILL`.

use super::support::Output;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `T0` of §24.1: 2026-04-22T12:00:00.000Z.
pub const T0: u64 = 1_776_859_200_000;

pub const A: &str = "agent:a";
pub const B: &str = "agent:b";
pub const C: &str = "agent:c";
pub const D: &str = "agent:d";
pub const PP: &str = "agent:p";
pub const R: &str = "agent:r";
pub const X: &str = "agent:x";
pub const Y: &str = "agent:y";
pub const Z: &str = "agent:z";

/// How long a "G exits within 2 s" check polls. Generous on purpose: the tests run in parallel on
/// small machines; a guardian that never exits still fails.
pub const GUARDIAN_EXIT: Duration = Duration::from_secs(5);

/// Added to the latencies the scenarios state ("returns within 1 s") to tolerate a loaded,
/// parallel test run. The tight latency bounds are S41's business (ignored by default).
pub const LATENCY_SLACK: Duration = Duration::from_millis(500);

/// `--status S1 --next-action N1` and the like.
pub fn h_args(status: &str, next: &str) -> [String; 4] {
    ["--status".into(), status.into(), "--next-action".into(), next.into()]
}

/// The handoff object of `h_args(status, next)`.
pub fn handoff(status: &str, next: &str) -> Value {
    json!({"status": status, "next_action": next})
}

/// One `tt` invocation: arguments, extra environment, stdin.
#[derive(Clone, Debug, Default)]
pub struct Inv {
    args: Vec<String>,
    env: Vec<(String, String)>,
    unset: Vec<String>,
    stdin: Option<Vec<u8>>,
    shell: bool,
}

impl Inv {
    /// `tt <args>`.
    pub fn new<S: AsRef<str>>(args: &[S]) -> Inv {
        Inv { args: args.iter().map(|a| a.as_ref().to_owned()).collect(), ..Inv::default() }
    }

    /// `tt@X <args>` = `tt --agent X --json <args>`.
    pub fn agent<S: AsRef<str>>(agent: &str, args: &[S]) -> Inv {
        let mut all = vec!["--agent".to_owned(), agent.to_owned(), "--json".to_owned()];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Inv { args: all, ..Inv::default() }
    }

    /// `tth@X <args>` = `TT_HARNESS_AGENT_ID=X tt --json <args>`.
    pub fn harness<S: AsRef<str>>(agent: &str, args: &[S]) -> Inv {
        let mut all = vec!["--json".to_owned()];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        Inv { args: all, ..Inv::default() }.env("TT_HARNESS_AGENT_ID", agent)
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Inv {
        self.env.push((key.to_owned(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    pub fn unset(mut self, key: &str) -> Inv {
        self.unset.push(key.to_owned());
        self
    }

    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Inv {
        self.stdin = Some(data.into());
        self
    }

    /// Run through an intermediate shell that stays the parent: `sh -c '"$0" "$@"; exit $?' tt …`.
    pub fn shell(mut self) -> Inv {
        self.shell = true;
        self
    }
}

/// The §24.1 fixture.
pub struct Proto {
    _dir: tempfile::TempDir,
    /// The canonical temp dir holding `D`, `P`, `L`.
    pub root: PathBuf,
    /// `D`.
    pub data: PathBuf,
    /// `P` (canonical).
    pub project: PathBuf,
    /// `L`.
    pub liveness: PathBuf,
    now: AtomicU64,
    settings: Mutex<Option<String>>,
    live: Mutex<BTreeMap<String, String>>,
    guardians: Mutex<BTreeSet<u32>>,
}

impl Proto {
    /// A fresh fixture whose liveness file maps every agent in `agents` to `"alive"`.
    pub fn new(agents: &[&str]) -> Proto {
        let dir = tempfile::Builder::new().prefix("tt-proto-").tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let project = root.join("project");
        std::fs::create_dir(&project).unwrap();
        std::fs::write(project.join("package.json"), "").unwrap();
        for anc in project.ancestors() {
            assert!(!anc.join(".git").exists(), "fixture project dir {} is inside a git work tree", project.display());
        }
        if let Some(home) = std::env::var_os("HOME").and_then(|h| PathBuf::from(h).canonicalize().ok()) {
            assert!(!project.starts_with(&home) || home == Path::new("/"), "fixture project dir is inside $HOME");
        }
        let p = Proto {
            data: root.join("data"),
            liveness: root.join("liveness.json"),
            project,
            root,
            _dir: dir,
            now: AtomicU64::new(T0),
            settings: Mutex::new(None),
            live: Mutex::new(agents.iter().map(|a| ((*a).to_owned(), "alive".to_owned())).collect()),
            guardians: Mutex::new(BTreeSet::new()),
        };
        p.write_liveness();
        p
    }

    /// Sets `TT_SETTINGS` for every later invocation.
    pub fn with_settings(self, settings: &str) -> Proto {
        self.set_settings(Some(settings));
        self
    }

    pub fn set_settings(&self, settings: Option<&str>) {
        *self.settings.lock().unwrap() = settings.map(str::to_owned);
    }

    /// `T`.
    pub fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    /// `adv(n)`: `T ← T + n`.
    pub fn adv(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    /// `gone(X)`.
    pub fn gone(&self, agent: &str) {
        self.set_live(agent, "gone");
    }

    /// Maps `agent` to `verdict` in `L` (atomic rewrite).
    pub fn set_live(&self, agent: &str, verdict: &str) {
        self.live.lock().unwrap().insert(agent.to_owned(), verdict.to_owned());
        self.write_liveness();
    }

    fn write_liveness(&self) {
        let map = self.live.lock().unwrap().clone();
        let tmp = self.root.join(format!(".liveness.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec(&map).unwrap()).unwrap();
        std::fs::rename(&tmp, &self.liveness).unwrap();
    }

    /// The configured `Command` for one invocation (not started).
    pub fn command(&self, inv: &Inv) -> Command {
        let bin = env!("CARGO_BIN_EXE_tt");
        let mut cmd = if inv.shell {
            let mut c = Command::new("sh");
            c.arg("-c").arg("\"$0\" \"$@\"; exit $?").arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(&inv.args).current_dir(&self.project).env_clear();
        for key in ["PATH", "HOME", "USER"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        cmd.env("TT_DATA_DIR", &self.data)
            .env("TT_HOST_ID", "test-host")
            .env("TT_LIVENESS_FILE", &self.liveness)
            .env("TT_NOW_MS", self.now().to_string());
        if let Some(s) = self.settings.lock().unwrap().as_deref() {
            cmd.env("TT_SETTINGS", s);
        }
        for (k, v) in &inv.env {
            cmd.env(k, v);
        }
        for k in &inv.unset {
            cmd.env_remove(k);
        }
        cmd.stdin(if inv.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Runs one invocation to completion.
    pub fn run(&self, inv: Inv) -> Output {
        let mut child = self.command(&inv).spawn().unwrap();
        if let Some(data) = inv.stdin {
            let mut stdin = child.stdin.take().unwrap();
            // A child that exits without reading its input closes the pipe: not our concern here.
            let _ = stdin.write_all(&data);
        }
        let out = child.wait_with_output().unwrap();
        let out = Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.note_guardian(&out);
        out
    }

    /// `tt@X …`.
    pub fn tt<S: AsRef<str>>(&self, agent: &str, args: &[S]) -> Output {
        self.run(Inv::agent(agent, args))
    }

    /// `tth@X …`.
    pub fn tth<S: AsRef<str>>(&self, agent: &str, args: &[S]) -> Output {
        self.run(Inv::harness(agent, args))
    }

    /// `tt …` with the fixture environment only.
    pub fn raw<S: AsRef<str>>(&self, args: &[S]) -> Output {
        self.run(Inv::new(args))
    }

    /// "X, Y, … join": `tt@X join` in order, each ok.
    pub fn join(&self, agents: &[&str]) {
        for agent in agents {
            ok(&self.tt(agent, &["join"]));
        }
    }

    /// `tt@X state` → the ok JSON.
    pub fn state(&self, agent: &str) -> Value {
        ok(&self.tt(agent, &["state"]))
    }

    /// `tt@X state --all` → the member agent ids.
    pub fn member_ids(&self, agent: &str) -> Vec<String> {
        let st = ok(&self.tt(agent, &["state", "--all"]));
        st["members"].as_array().unwrap().iter().map(|m| m["agent_id"].as_str().unwrap().to_owned()).collect()
    }

    /// Every event of the room, read as `tt@X events --after N --limit 500` pages; asserts that
    /// `event_seq` is strictly increasing within and across pages.
    pub fn all_events(&self, agent: &str) -> Vec<Value> {
        let mut all: Vec<Value> = Vec::new();
        let mut after = 0u64;
        loop {
            let page = ok(&self.tt(agent, &["events", "--after", &after.to_string(), "--limit", "500"]));
            for e in page["events"].as_array().unwrap() {
                let seq = e["event_seq"].as_u64().unwrap();
                assert!(seq > after, "event_seq not strictly increasing: {seq} after {after}");
                after = seq;
                all.push(e.clone());
            }
            if page["has_more"] != json!(true) {
                return all;
            }
        }
    }

    /// The newest event of the room.
    pub fn newest_event(&self, agent: &str) -> Value {
        self.all_events(agent).pop().expect("the room has no events")
    }

    /// The rows of `D/cli-sessions.json` (empty when the file does not exist).
    pub fn sessions(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.data.join("cli-sessions.json")) {
            Ok(text) => serde_json::from_str::<Vec<Value>>(&text).unwrap(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("cannot read cli-sessions.json: {e}"),
        }
    }

    /// Starts an invocation in the background.
    pub fn spawn(&self, inv: Inv) -> Bg {
        assert!(inv.stdin.is_none(), "background invocations read no stdin");
        let mut child = self.command(&inv).spawn().unwrap();
        let pid = child.id();
        let mut so = child.stdout.take().unwrap();
        let mut se = child.stderr.take().unwrap();
        let handle = std::thread::spawn(move || {
            let out_t = std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = so.read_to_end(&mut s);
                s
            });
            let err_t = std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = se.read_to_end(&mut s);
                s
            });
            let status = child.wait().unwrap();
            let exited = Instant::now();
            let stdout = out_t.join().unwrap();
            let stderr = err_t.join().unwrap();
            let out = Output {
                code: status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            };
            (out, exited)
        });
        Bg { pid, handle: Some(handle) }
    }

    /// Waits (at most `deadline`) for a background invocation; returns its output and the instant
    /// it exited.
    pub fn finish(&self, mut bg: Bg, deadline: Duration) -> (Output, Instant) {
        let handle = bg.handle.take().unwrap();
        let until = Instant::now() + deadline;
        while !handle.is_finished() {
            if Instant::now() > until {
                kill(bg.pid, "KILL");
                panic!("background tt (pid {}) still running after {deadline:?}", bg.pid);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (out, exited) = handle.join().unwrap();
        self.note_guardian(&out);
        (out, exited)
    }

    fn note_guardian(&self, out: &Output) {
        if let Ok(v) = serde_json::from_str::<Value>(&out.stdout)
            && let Some(pid) = v.get("guardian_pid").and_then(Value::as_u64)
        {
            self.guardians.lock().unwrap().insert(u32::try_from(pid).unwrap());
        }
    }

    /// Pids of running `tt guard` processes whose command line names a path under this fixture.
    pub fn running_guardians(&self) -> Vec<u32> {
        let root = self.root.to_string_lossy().into_owned();
        let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| is_our_guardian(*pid, &root))
            .collect()
    }

    /// Runs one SQL statement on `D/rooms.sqlite` with python3's sqlite3 module, or the `sqlite3`
    /// CLI; returns the rows, one per line, columns joined by `|`.
    pub fn sql(&self, stmt: &str) -> String {
        let db = self.data.join("rooms.sqlite");
        const PY: &str = "import sqlite3, sys\n\
            c = sqlite3.connect(sys.argv[1], timeout=10)\n\
            rows = c.execute(sys.argv[2]).fetchall()\n\
            c.commit()\n\
            c.close()\n\
            for r in rows: print(*r, sep='|')\n";
        let mut python = Command::new("python3");
        python.arg("-c").arg(PY).arg(&db).arg(stmt);
        let mut cli = Command::new("sqlite3");
        cli.arg("-cmd").arg(".timeout 10000").arg(&db).arg(stmt);
        for mut client in [python, cli] {
            // A client that cannot be started is skipped; one that ran must have succeeded.
            if let Ok(out) = client.output() {
                assert!(out.status.success(), "sql `{stmt}` failed: {}", String::from_utf8_lossy(&out.stderr));
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
        }
        panic!("needs an sqlite client: neither python3 nor sqlite3 could be run");
    }
}

impl Drop for Proto {
    fn drop(&mut self) {
        let root = self.root.to_string_lossy().into_owned();
        let have_proc = Path::new("/proc/self/cmdline").exists();
        let mut pids: BTreeSet<u32> = self.guardians.lock().map(|g| g.clone()).unwrap_or_default();
        pids.extend(self.running_guardians());
        for pid in pids {
            // Never signal a reused pid: on Linux only processes that are this fixture's guardians.
            if !have_proc || is_our_guardian(pid, &root) {
                kill(pid, "KILL");
            }
        }
    }
}

fn is_our_guardian(pid: u32, root: &str) -> bool {
    let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<String> = raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    args.iter().any(|a| a == "guard") && args.iter().any(|a| a.starts_with(root))
}

/// A `tt` process running in the background. Killed on drop if still running.
pub struct Bg {
    pid: u32,
    handle: Option<JoinHandle<(Output, Instant)>>,
}

impl Bg {
    /// The process id of the background `tt`.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(h) = &self.handle
            && !h.is_finished()
        {
            kill(self.pid, "KILL");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outcome assertions (§24.1 notation)

/// `→ ok{…}`: exit 0 and JSON on stdout; returns it.
#[track_caller]
pub fn ok(out: &Output) -> Value {
    assert_eq!(out.code, 0, "expected exit 0: {out:?}");
    out.json()
}

/// `→ err(code)`: exit 1, empty stdout, stderr a JSON object with that `error`; returns it.
#[track_caller]
pub fn err(out: &Output, code: &str) -> Value {
    assert_eq!(out.code, 1, "expected exit 1 ({code}): {out:?}");
    assert_eq!(out.stdout, "", "stdout must be empty on error: {out:?}");
    let e = out.err_json();
    assert!(e.is_object(), "{out:?}");
    assert_eq!(e["error"], code, "{out:?}");
    e
}

/// `→ usage`: exit 2, empty stdout, stderr JSON with `error` `cli_error`; returns it.
#[track_caller]
pub fn usage(out: &Output) -> Value {
    usage_code(out, "cli_error")
}

/// A usage-class error with another code (`invalid_settings`).
#[track_caller]
pub fn usage_code(out: &Output, code: &str) -> Value {
    assert_eq!(out.code, 2, "expected exit 2 ({code}): {out:?}");
    assert_eq!(out.stdout, "", "stdout must be empty on error: {out:?}");
    let e = out.err_json();
    assert_eq!(e["error"], code, "{out:?}");
    e
}

/// Each key of `expected` (an object) is present in `v` with exactly that value (`null` included).
#[track_caller]
pub fn fields(v: &Value, expected: Value) {
    for (k, want) in expected.as_object().unwrap() {
        let got = v.get(k).unwrap_or_else(|| panic!("missing key `{k}` in {v:#}"));
        assert_eq!(got, want, "key `{k}` in {v:#}");
    }
}

/// None of `keys` is present in `v`.
#[track_caller]
pub fn absent(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(v.get(k).is_none(), "unexpected key `{k}` in {v:#}");
    }
}

/// "exact keys": `v` has precisely `keys`.
#[track_caller]
pub fn exact_keys(v: &Value, keys: &[&str]) {
    let got: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = keys.iter().copied().collect();
    assert_eq!(got, want, "{v:#}");
}

/// `v[key]` as a string.
#[track_caller]
pub fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {v:#}")).to_owned()
}

/// `v[key]` as an integer.
#[track_caller]
pub fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("`{key}` is not an integer in {v:#}"))
}

/// `v["events"]`.
#[track_caller]
pub fn events(v: &Value) -> Vec<Value> {
    v["events"].as_array().unwrap_or_else(|| panic!("no `events` array in {v:#}")).clone()
}

/// The `event_type`s of `evs`.
pub fn types(evs: &[Value]) -> Vec<String> {
    evs.iter().map(|e| e["event_type"].as_str().unwrap_or_default().to_owned()).collect()
}

/// The `guardian_pid` of a `your_turn` result, asserted to be a live process.
#[track_caller]
pub fn live_guardian(v: &Value) -> u32 {
    let pid = u32::try_from(n(v, "guardian_pid")).unwrap();
    assert!(alive(pid), "guardian {pid} is not running: {v:#}");
    pid
}

// ---------------------------------------------------------------------------------------------
// Processes

/// `kill -0 pid` succeeds and the process is not a zombie.
pub fn alive(pid: u32) -> bool {
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3, after the parenthesised command name.
        let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
        if matches!(state, Some('Z' | 'X')) {
            return false;
        }
    }
    Command::new("kill")
        .arg("-0")
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Polls until `pid` is no longer running; false if it still runs after `within`.
pub fn wait_gone(pid: u32, within: Duration) -> bool {
    let until = Instant::now() + within;
    while alive(pid) {
        if Instant::now() > until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// `kill -<sig> pid` (errors ignored).
pub fn kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------------------
// Time

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` (P§3.1) into epoch milliseconds.
#[track_caller]
pub fn iso_ms(text: &str) -> u64 {
    let b = text.as_bytes();
    assert!(b.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z', "not an ISO timestamp: {text}");
    let num = |r: std::ops::Range<usize>| -> i64 { text[r].parse().unwrap() };
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = ((days * 24 + num(11..13)) * 60 + num(14..16)) * 60_000 + num(17..19) * 1000 + num(20..23);
    u64::try_from(ms).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Identity (P§7.5)

/// `sanitize(s)` of P§7.5.
pub fn sanitize(s: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for ch in s.to_lowercase().chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(ch);
        } else {
            dash = true;
        }
    }
    if out.is_empty() { "anon".to_owned() } else { out }
}

/// The login name of the effective user (system user database via `id -un`), else `$USER`, else
/// `$LOGNAME`, else `user`.
pub fn login_name() -> String {
    let from_db = Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty());
    from_db
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "user".to_owned())
}

/// `H:` + the first 8 hex digits of SHA-256(`H\0host\0session\0sanitize(user)`).
pub fn harness_agent_id(harness: &str, host: &str, session: &str, user: &str) -> String {
    let input = format!("{harness}\0{host}\0{session}\0{}", sanitize(user));
    let digest = sha256(input.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{harness}:{hex}")
}

/// SHA-256 (FIPS 180-4); `sha2` is not a dev-dependency.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut msg = data.to_vec();
    let bits = u64::try_from(data.len()).unwrap().wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (slot, word) in w.iter_mut().zip(block.chunks(4)) {
            *slot = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for t in 16..64 {
            let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
            let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16].wrapping_add(s0).wrapping_add(w[t - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wt) in K.iter().zip(w.iter()) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(*k).wrapping_add(*wt);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *slot = slot.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, v) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&v.to_be_bytes());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Invariants (S8, contention)

/// The S8 invariants: the `turn_id`s of the non-`already_owner` grants are pairwise distinct;
/// `room.turn_id` = number of `claim` + `takeover` events; `event_seq` strictly increases across
/// `events --after N --limit 500` pages; no two `claim` events share a `turn_id`.
#[track_caller]
pub fn check_turn_invariants(p: &Proto, reader: &str, granted_turns: &[u64]) {
    let distinct: BTreeSet<u64> = granted_turns.iter().copied().collect();
    assert_eq!(distinct.len(), granted_turns.len(), "a turn_id was granted twice: {granted_turns:?}");
    let evs = p.all_events(reader); // asserts strictly increasing event_seq
    let holds = evs.iter().filter(|e| e["event_type"] == "claim" || e["event_type"] == "takeover").count();
    let room_turn = n(&p.state(reader)["room"], "turn_id");
    assert_eq!(room_turn, u64::try_from(holds).unwrap(), "room.turn_id vs claim+takeover events");
    let claim_turns: Vec<u64> = evs.iter().filter(|e| e["event_type"] == "claim").map(|e| n(e, "turn_id")).collect();
    let distinct: BTreeSet<u64> = claim_turns.iter().copied().collect();
    assert_eq!(distinct.len(), claim_turns.len(), "two claims share a turn_id: {claim_turns:?}");
}

#[test]
fn fixture_agent_id_formula_matches_the_worked_examples() {
    // P§7.5 worked examples (username alice), which pin both sha256 and the formula.
    assert_eq!(harness_agent_id("codex", "test-host", "harness:thread-1", "alice"), "codex:ba4f8daf");
    assert_eq!(harness_agent_id("codex", "test-host", "harness:thread-2", "alice"), "codex:ae035a24");
    assert_eq!(harness_agent_id("claude", "test-host", "harness:thread-1", "alice"), "claude:62293d04");
    assert_eq!(sanitize("Al_ice  Smith!"), "al-ice-smith");
    assert_eq!(sanitize("__"), "anon");
    assert_eq!(iso_ms("2026-04-22T12:00:00.000Z"), T0);
    assert_eq!(iso_ms("2026-04-22T12:45:00.123Z"), T0 + 2_700_123);
}
