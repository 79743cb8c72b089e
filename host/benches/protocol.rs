//! Protocol benchmarks: whole-process cost of `tt state` and `tt release` against an empty
//! Rust binary, handoff latency with and without the wake notification (protocol.md §17.8
//! W1), the idle waiter's query rate and CPU (W2), and the fair-selection bypass of a
//! saturated 8-agent room (§11.3). Not a test: it measures, prints a markdown table and,
//! with `BENCH_WRITE=1`, rewrites the protocol section of `docs/PERFORMANCE.md`.
//!
//! Run: `cargo bench -p stick --bench protocol` (or `BENCH_WRITE=1 cargo bench …`).
//!
//! Everything runs side by side in one run, against the release `tt` binary, with fresh
//! temp data dirs (`TT_DATA_DIR`), project dirs marked by a `package.json`, the real clock
//! (no `TT_NOW_MS`) and an environment scrubbed of `TT_*` hooks and harness markers.
//! The empty binary is `fn main() {}` compiled with `rustc -O` into the temp dir at start.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark"
)]

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use stick::clock::Clock;
use stick::commands::Context;
use stick::commands::turn::{self, WaitArgs};
use stick::env::Env;
use stick::settings::Settings;

/// Paired runs of `tt state`, the empty binary and `tt --version`.
const STATE_RUNS: usize = 200;
/// Runs of each command for the CPU-time comparison.
const CPU_RUNS: usize = 100;
/// Measured `tt release` runs (each after an unmeasured `tt try`).
const RELEASE_RUNS: usize = 100;
/// Handoff rounds per mode (wake notification, polling only).
const HANDOFF_ROUNDS: usize = 100;
/// The idle waiter's measurement window.
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// Agents and grants per agent of the saturated fairness run.
const FAIR_AGENTS: usize = 8;
const FAIR_GRANTS: usize = 10;
/// How long a fairness agent holds the stick.
const FAIR_HOLD: Duration = Duration::from_millis(20);

/// Variables that would change what `tt` does (test hooks, identity, harness markers).
const SCRUB: &[&str] = &[
    "TT_NOW_MS",
    "TT_SETTINGS",
    "TT_POLICY",
    "TT_LIVENESS_FILE",
    "TT_HOST_ID",
    "TT_BOOT_ID",
    "TT_FS_TYPE",
    "TT_WAKE",
    "TT_TEST_POLICY_FAULT",
    "TT_HARNESS_AGENT_ID",
    "TT_HARNESS_EXPORT",
    "TALKING_STICK_DATA_DIR",
    "CLAUDECODE",
    "CODEX_MANAGED_BY_NPM",
    "CODEX_THREAD_ID",
    "ANTIGRAVITY_AGENT",
    "ANTIGRAVITY_CONVERSATION_ID",
    "ANTIGRAVITY_TRAJECTORY_ID",
    "GEMINI_CLI",
    "OPENCODE",
    "GROK_AGENT",
];

/// Every guardian pid a grant reported; the leftovers are stopped at the end.
static GUARDIANS: Mutex<Vec<i64>> = Mutex::new(Vec::new());

fn note_guardian(v: &Value) {
    if let Some(pid) = v["guardian_pid"].as_i64() {
        GUARDIANS.lock().unwrap().push(pid);
    }
}

/// The `tt` under test: a private copy of the release binary (a concurrent `cargo build`
/// replacing `target/<triple>/release/tt` would otherwise break the guardian spawns, which
/// re-execute `/proc/self/exe`).
static TT_EXE: OnceLock<PathBuf> = OnceLock::new();

fn tt_exe() -> &'static Path {
    TT_EXE.get().unwrap()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The share of the last 60 s in which some task waited for I/O (`/proc/pressure/io`,
/// `some avg60`, %), or `?`. A release waits for an `fsync` of the session file, so its
/// wall time follows the disk's latency, which the load average does not show.
fn io_pressure() -> String {
    std::fs::read_to_string("/proc/pressure/io")
        .ok()
        .and_then(|s| {
            let some = s.lines().find(|l| l.starts_with("some"))?.to_string();
            some.split_whitespace().find_map(|f| f.strip_prefix("avg60=").map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}

/// One data dir and the project dirs (rooms) under the bench's temp root.
struct Tt {
    data: PathBuf,
}

impl Tt {
    fn new(root: &Path, name: &str) -> Tt {
        let data = root.join(name);
        std::fs::create_dir_all(&data).unwrap();
        Tt { data }
    }

    /// `tt` with `args`, nothing else added. No working directory is set: with one,
    /// `std::process::Command` on this static build falls back from `posix_spawn` to
    /// `fork` + `exec` (its weak `posix_spawn_file_actions_addchdir_np` lookup needs the
    /// dynamic loader), and the fork of the bench process added 0.15–0.3 ms to every
    /// `tt` run but not to the empty binary's (docs/PERFORMANCE.md). Every process of
    /// the bench is started the same way, by `posix_spawn`.
    fn raw(&self, args: &[&str]) -> Command {
        let mut c = Command::new(tt_exe());
        c.args(args).env("TT_DATA_DIR", &self.data).stdin(Stdio::null());
        for v in SCRUB {
            c.env_remove(v);
        }
        c
    }

    /// `tt --agent <agent> --json <args> <dir>`: the project dir is the command's
    /// `[path]` argument (every command the bench runs takes one last), not its working
    /// directory (see [`Tt::raw`]).
    fn cmd(&self, dir: &Path, agent: &str, args: &[&str]) -> Command {
        let mut c = self.raw(&["--agent", agent, "--json"]);
        c.args(args).arg(dir);
        c
    }

    /// Run to completion; the whole-process time and the JSON result.
    fn run(&self, dir: &Path, agent: &str, args: &[&str]) -> (Duration, Value) {
        timed_json(self.cmd(dir, agent, args), args)
    }
}

fn timed_json(mut c: Command, what: &[&str]) -> (Duration, Value) {
    let t = Instant::now();
    let out = c.output().unwrap();
    let d = t.elapsed();
    assert!(out.status.success(), "tt {what:?}: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("tt {what:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    (d, v)
}

fn timed(mut c: Command) -> Duration {
    let t = Instant::now();
    let out = c.output().unwrap();
    let d = t.elapsed();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
    d
}

/// A project dir `<root>/<name>` with a `package.json` (one workspace, one room).
fn project(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), "{}\n").unwrap();
    dir
}

fn status(v: &Value) -> &str {
    v["status"].as_str().unwrap_or("?")
}

/// `fn main() {}` compiled with `rustc -O` (`$RUSTC` if set) into `dir`.
fn build_empty(dir: &Path) -> PathBuf {
    let src = dir.join("empty.rs");
    std::fs::write(&src, "fn main() {}\n").unwrap();
    let exe = dir.join("empty");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let ok = Command::new(rustc)
        .args(["-O", "-o"])
        .arg(&exe)
        .arg(&src)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "rustc -O empty.rs failed");
    exe
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    let idx = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[idx]
}

fn percentile_f(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let idx = ((s.len() as f64 - 1.0) * p).round() as usize;
    s[idx]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mark(ok: bool) -> &'static str {
    if ok { "✓" } else { "✗" }
}

/// Signed `b − a` in ms.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if b >= a { ms(b - a) } else { -ms(a - b) }
}

/// A small xorshift generator for the release phase (no dependency needed).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        Rng(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every event of the room at `dir`, in pages of 500.
fn all_events(tt: &Tt, dir: &Path, agent: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0i64;
    loop {
        let a = after.to_string();
        let (_, v) = tt.run(dir, agent, &["events", "--after", &a, "--limit", "500", "--all"]);
        let page = v["events"].as_array().cloned().unwrap_or_default();
        if let Some(last) = page.last() {
            after = last["event_seq"].as_i64().unwrap();
        }
        let more = v["has_more"].as_bool().unwrap_or(false) && !page.is_empty();
        events.extend(page);
        if !more {
            return events;
        }
    }
}

fn created_ms(e: &Value) -> i64 {
    let t = humantime::parse_rfc3339(e["created_at"].as_str().unwrap()).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Total on-CPU time of every thread of `pid` (`/proc/<pid>/task/*/schedstat`, ns).
fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
            total += s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// User + system time of this process's reaped children (`/proc/self/stat` cutime and
/// cstime, in USER_HZ = 100 ticks per second).
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Mean CPU time of `n` runs of the command `make` builds.
fn cpu_per_run(n: usize, make: impl Fn() -> Command) -> Duration {
    let before = children_cpu();
    for _ in 0..n {
        timed(make());
    }
    (children_cpu() - before) / n as u32
}

/// SIGTERM through `kill(1)` (the bench forbids unsafe code and needs no libc).
fn sigterm(pid: u32) {
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
}

/// Stop the guardians still running for this bench's rooms (their command line names a
/// project dir under `root`).
fn stop_guardians(root: &Path) -> usize {
    let mut stopped = 0;
    let pids = std::mem::take(&mut *GUARDIANS.lock().unwrap());
    for pid in pids {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(" guard ") && cmdline.contains(&*root.to_string_lossy()) {
            sigterm(pid as u32);
            stopped += 1;
        }
    }
    stopped
}

type Row = (String, String, String, &'static str);

// ---------------------------------------------------------------------------------------
// 1. Whole-process cost of `tt state` and `tt release`.
// ---------------------------------------------------------------------------------------

fn bench_process(root: &Path, empty: &Path, rows: &mut Vec<Row>) {
    let tt = Tt::new(root, "data-process");
    let solo = project(root, "solo");
    tt.run(&solo, "agent:a", &["join"]);
    // Warm-up: the first use compiles the policy AOT cache; page cache, dynamic loader.
    for _ in 0..5 {
        tt.run(&solo, "agent:a", &["state"]);
        let (_, v) = tt.run(&solo, "agent:a", &["try"]);
        note_guardian(&v);
        tt.run(&solo, "agent:a", &["release", "--status", "s", "--next-action", "n"]);
        timed(Command::new(empty));
        timed(tt.raw(&["--version"]));
    }
    let wal = tt.data.join("rooms.sqlite-wal");
    let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let wal_before = wal_size();
    let (mut state, mut nothing, mut version) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..STATE_RUNS {
        nothing.push(timed(Command::new(empty)));
        state.push(tt.run(&solo, "agent:a", &["state"]).0);
        version.push(timed(tt.raw(&["--version"])));
    }
    let wal_after = wal_size();
    // CPU time per run (user + system of the reaped children), less sensitive than wall
    // time to other load on the machine.
    let cpu_state = cpu_per_run(CPU_RUNS, || tt.cmd(&solo, "agent:a", &["state"]));
    let cpu_empty = cpu_per_run(CPU_RUNS, || Command::new(empty));
    let cpu_version = cpu_per_run(CPU_RUNS, || tt.raw(&["--version"]));
    let (mut grant, mut release) = (Vec::new(), Vec::new());
    for _ in 0..RELEASE_RUNS {
        let (d, v) = tt.run(&solo, "agent:a", &["try"]);
        assert_eq!(status(&v), "your_turn", "{v}");
        note_guardian(&v);
        grant.push(d);
        let (d, v) = tt.run(&solo, "agent:a", &["release", "--status", "s", "--next-action", "n"]);
        assert_eq!(status(&v), "released", "{v}");
        release.push(d);
    }
    let (s50, e50) = (percentile(&state, 0.5), percentile(&nothing, 0.5));
    let ratio = ms(s50) / ms(e50);
    rows.push((
        "`tt state` whole process vs an empty Rust binary (`fn main(){}`, `rustc -O`)".into(),
        format!(
            "**{ratio:.1}×**: median {:.2} ms (p90 {:.2}) vs {:.2} ms (p90 {:.2}); {STATE_RUNS} paired runs",
            ms(s50),
            ms(percentile(&state, 0.9)),
            ms(e50),
            ms(percentile(&nothing, 0.9))
        ),
        "≤ 2× the empty binary".into(),
        mark(ratio <= 2.0),
    ));
    rows.push((
        "(reference) CPU time per run (user + system), runs in a row".into(),
        format!(
            "`tt state` {:.2} ms, empty binary {:.2} ms ({:.1}×), `tt --version` {:.2} ms; {CPU_RUNS} runs each; \
             the WAL went from {} KB to {} KB over the paired `tt state` runs",
            ms(cpu_state),
            ms(cpu_empty),
            ms(cpu_state) / ms(cpu_empty),
            ms(cpu_version),
            wal_before / 1024,
            wal_after / 1024
        ),
        "—".into(),
        "",
    ));
    rows.push((
        "(reference) `tt --version`: the same binary doing no work".into(),
        format!(
            "median {:.2} ms (p90 {:.2}), {:.1}× the empty binary",
            ms(percentile(&version, 0.5)),
            ms(percentile(&version, 0.9)),
            ms(percentile(&version, 0.5)) / ms(e50)
        ),
        "—".into(),
        "",
    ));
    let r50 = percentile(&release, 0.5);
    rows.push((
        "`tt release` whole process (held lease set up by an unmeasured `tt try`)".into(),
        format!(
            "**median {:.2} ms** (p90 {:.2}), {:.1}× the empty binary; {RELEASE_RUNS} runs",
            ms(r50),
            ms(percentile(&release, 0.9)),
            ms(r50) / ms(e50)
        ),
        "median ≤ 5 ms".into(),
        mark(ms(r50) <= 5.0),
    ));
    rows.push((
        "(reference) `tt try` granting the stick, including the guardian spawn and its `READY`".into(),
        format!("median {:.2} ms (p90 {:.2})", ms(percentile(&grant, 0.5)), ms(percentile(&grant, 0.9))),
        "—".into(),
        "",
    ));

    // P3 of the policy benchmark, re-measured with a real protocol command: `tt try` by
    // a non-holder (implicit join: policy preload + one `is_superseded` call on the
    // owner; poll → not_yet) against `tt state` (no policy), paired.
    let p3 = project(root, "p3");
    tt.run(&p3, "agent:a", &["join"]);
    tt.run(&p3, "agent:b", &["join"]);
    let (_, v) = tt.run(&p3, "agent:a", &["try"]);
    note_guardian(&v);
    let (mut tries, mut states, mut deltas) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..STATE_RUNS / 2 + 5 {
        let (a, v) = tt.run(&p3, "agent:b", &["try"]);
        assert_eq!(status(&v), "not_yet", "{v}");
        let (b, _) = tt.run(&p3, "agent:b", &["state"]);
        if i >= 5 {
            tries.push(a);
            states.push(b);
            deltas.push(a.saturating_sub(b));
        }
    }
    let d = percentile(&deltas, 0.5);
    rows.push((
        "P3 again (policy-core.md §7): `tt try` by a non-holder (policy load + one `is_superseded` call, one poll) \
         minus `tt state` (no policy)"
            .into(),
        format!(
            "+{:.2} ms (median {:.2} ms vs {:.2} ms); an upper bound: `try` also writes the join and the side file",
            ms(d),
            ms(percentile(&tries, 0.5)),
            ms(percentile(&states, 0.5))
        ),
        "≤ +2 ms".into(),
        mark(ms(d) <= 2.0),
    ));
}

// ---------------------------------------------------------------------------------------
// 2. Handoff latency, wake notification vs polling only.
// ---------------------------------------------------------------------------------------

struct Pair {
    dir: PathBuf,
    room_id: String,
    agents: [&'static str; 2],
    holder: usize,
    after: i64,
    /// `TT_WAKE=off` on the waiter.
    polling: bool,
    /// Release exit → the waiter's complete output, ms (signed).
    exit_to_output: Vec<f64>,
    /// Release start → the waiter's complete output, ms.
    start_to_output: Vec<f64>,
    /// Release process duration, ms.
    release: Vec<f64>,
    /// Per measured round: the release's and the claim's `event_seq`, the wall-clock
    /// time of the release's exit and of the waiter's complete output.
    marks: Vec<(i64, i64, SystemTime, SystemTime)>,
}

impl Pair {
    fn new(tt: &Tt, root: &Path, name: &str, polling: bool) -> Pair {
        let dir = project(root, name);
        let (_, j) = tt.run(&dir, "agent:a", &["join"]);
        tt.run(&dir, "agent:b", &["join"]);
        let (_, v) = tt.run(&dir, "agent:a", &["try"]);
        assert_eq!(status(&v), "your_turn", "{v}");
        note_guardian(&v);
        let (_, s) = tt.run(&dir, "agent:a", &["state"]);
        Pair {
            dir,
            room_id: j["room_id"].as_str().unwrap().to_string(),
            agents: ["agent:a", "agent:b"],
            holder: 0,
            after: s["cursor_event_seq"].as_i64().unwrap(),
            polling,
            exit_to_output: Vec::new(),
            start_to_output: Vec::new(),
            release: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn sockets(&self, tt: &Tt) -> usize {
        std::fs::read_dir(tt.data.join("wake").join(&self.room_id))
            .map(|rd| rd.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".sock")).count())
            .unwrap_or(0)
    }

    /// One handoff: the waiter blocks in `tt wait`, the holder releases (reserving it),
    /// the waiter prints `your_turn`; then the roles swap.
    fn round(&mut self, tt: &Tt, rng: &mut Rng) {
        let holder = self.agents[self.holder];
        let waiter = self.agents[1 - self.holder];
        let after = self.after.to_string();
        let mut c = tt.cmd(&self.dir, waiter, &["wait", "--timeout", "60s", "--after", &after]);
        if self.polling {
            c.env("TT_WAKE", "off");
        }
        c.stdout(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = thread::spawn(move || {
            let mut text = String::new();
            let mut done = None;
            for line in BufReader::new(stdout).lines() {
                let line = line.unwrap();
                if line == "}" && done.is_none() {
                    done = Some((Instant::now(), SystemTime::now()));
                }
                text.push_str(&line);
                text.push('\n');
            }
            (done, text)
        });
        // The waiter is blocked: its wake socket exists (or, polling only, it has had the
        // time to start). Then a random phase against the 250 ms fallback poll.
        if self.polling {
            thread::sleep(Duration::from_millis(60));
        } else {
            let until = Instant::now() + Duration::from_secs(5);
            while self.sockets(tt) == 0 && Instant::now() < until {
                thread::sleep(Duration::from_millis(1));
            }
        }
        thread::sleep(Duration::from_millis(rng.below(250)));
        let start = Instant::now();
        let out = tt.cmd(&self.dir, holder, &["release", "--status", "s", "--next-action", "n"]).output().unwrap();
        let (exit, exit_wall) = (Instant::now(), SystemTime::now());
        assert!(out.status.success(), "release: {}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["reserved_for"].as_str(), Some(waiter), "{r}");
        let (done, text) = reader.join().unwrap();
        assert!(child.wait().unwrap().success());
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(status(&v), "your_turn", "{v}");
        note_guardian(&v);
        let (done, done_wall) = done.unwrap();
        self.exit_to_output.push(signed_ms(exit, done));
        self.start_to_output.push(signed_ms(start, done));
        self.release.push(ms(exit - start));
        self.after = v["cursor_event_seq"].as_i64().unwrap();
        self.marks.push((r["event_seq"].as_i64().unwrap(), self.after, exit_wall, done_wall));
        self.holder = 1 - self.holder;
    }

    /// From the event log (`created_at`, 1 ms steps, the same clock as the wall-clock
    /// marks), per measured round: release commit → grant commit, release commit →
    /// release exit, grant commit → the waiter's output (ms).
    fn decompose(&self, tt: &Tt) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let created: HashMap<i64, i64> = all_events(tt, &self.dir, "agent:a")
            .iter()
            .map(|e| (e["event_seq"].as_i64().unwrap(), created_ms(e)))
            .collect();
        let wall = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1e3;
        let (mut grant, mut exit, mut output) = (Vec::new(), Vec::new(), Vec::new());
        for (release_seq, claim_seq, exit_at, output_at) in &self.marks {
            let (r, c) = (created[release_seq] as f64, created[claim_seq] as f64);
            grant.push(c - r);
            exit.push(wall(*exit_at) - r);
            output.push(wall(*output_at) - c);
        }
        (grant, exit, output)
    }
}

fn bench_handoff(root: &Path, rows: &mut Vec<Row>) {
    let tt = Tt::new(root, "data-handoff");
    let mut wake = Pair::new(&tt, root, "handoff-wake", false);
    let mut poll = Pair::new(&tt, root, "handoff-poll", true);
    let mut rng = Rng::new();
    // Two unmeasured warm-up rounds each, then the two modes interleaved round by round.
    for _ in 0..2 {
        wake.round(&tt, &mut rng);
        poll.round(&tt, &mut rng);
    }
    for p in [&mut wake, &mut poll] {
        p.exit_to_output.clear();
        p.start_to_output.clear();
        p.release.clear();
        p.marks.clear();
    }
    for _ in 0..HANDOFF_ROUNDS {
        wake.round(&tt, &mut rng);
        poll.round(&tt, &mut rng);
    }
    for p in [&wake, &poll] {
        let lat = &p.exit_to_output;
        let (p50, p99) = (percentile_f(lat, 0.5), percentile_f(lat, 0.99));
        let (commit, exit, output) = p.decompose(&tt);
        let commit = &commit[..];
        let (c50, c99) = (percentile_f(commit, 0.5), percentile_f(commit, 0.99));
        let (what, target, met, met_commit) = if p.polling {
            (
                "Handoff latency, **polling only** (`TT_WAKE=off` on the waiter: 250 ms fallback poll)",
                "— (comparison)",
                "",
                "",
            )
        } else {
            (
                "Handoff latency **with the wake notification**",
                "p50 ≤ 5 ms, p99 ≤ 50 ms",
                mark(p50 <= 5.0 && p99 <= 50.0),
                mark(c50 <= 5.0 && c99 <= 50.0),
            )
        };
        rows.push((
            format!("{what}: `tt release` exit → the blocked `tt wait` has printed `your_turn`"),
            format!(
                "**p50 {p50:.1} ms, p99 {p99:.1} ms** (max {:.1}); from the release's start: p50 {:.1} ms; {} rounds",
                percentile_f(lat, 1.0),
                percentile_f(&p.start_to_output, 0.5),
                lat.len()
            ),
            target.into(),
            met,
        ));
        rows.push((
            format!(
                "{what}, W1 proper: the release's commit → the waiter's grant commit (`created_at` of the `release` \
                 and `claim` events, 1 ms steps)"
            ),
            format!(
                "p50 {c50:.0} ms, p99 {c99:.0} ms (max {:.0}); meanwhile release commit → release exit p50 {:.1} ms \
                 (p90 {:.1}), grant commit → waiter's output p50 {:.1} ms (p90 {:.1})",
                percentile_f(commit, 1.0),
                percentile_f(&exit, 0.5),
                percentile_f(&exit, 0.9),
                percentile_f(&output, 0.5),
                percentile_f(&output, 0.9)
            ),
            target.into(),
            met_commit,
        ));
    }
    let rel: Vec<f64> = wake.release.iter().chain(&poll.release).copied().collect();
    rows.push((
        "(reference) `tt release` with a waiter to reserve and notify, same rounds".into(),
        format!("median {:.2} ms (p90 {:.2})", percentile_f(&rel, 0.5), percentile_f(&rel, 0.9)),
        "—".into(),
        "",
    ));
}

// ---------------------------------------------------------------------------------------
// 3. The idle waiter: transactions per second (in process) and CPU (real process).
// ---------------------------------------------------------------------------------------

fn bench_idle(root: &Path, rows: &mut Vec<Row>) {
    let tt = Tt::new(root, "data-idle");
    let lib_room = project(root, "idle-lib");
    let proc_room = project(root, "idle-proc");
    for dir in [&lib_room, &proc_room] {
        let (_, v) = tt.run(dir, "agent:holder", &["try"]);
        assert_eq!(status(&v), "your_turn", "{v}");
        note_guardian(&v);
    }
    let total = IDLE_WINDOW + Duration::from_secs(3);

    // (a) The real wait code in this process, through the library.
    let pairs: Vec<(String, String)> = ["HOME", "PATH"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .chain([("TT_DATA_DIR".to_string(), tt.data.to_string_lossy().into_owned())])
        .collect();
    let ctx = Context {
        env: Env::from_pairs(pairs),
        cwd: lib_room.clone(),
        data_dir: tt.data.clone(),
        settings: Settings::load(&tt.data.join("settings.toml"), None).unwrap(),
        clock: Clock::system(),
        policy_flags: Vec::new(),
    };
    let lib = thread::spawn(move || {
        let mut liveness = ctx.liveness().unwrap();
        let identity = stick::identity::derive(&ctx.env, Some("agent:idle-lib"), &mut liveness).unwrap();
        let mut svc = ctx.service(liveness).unwrap();
        let args = WaitArgs { timeout: Some(total), ..WaitArgs::default() };
        turn::wait(&ctx, &mut svc, &identity, &args, false, &|| false).unwrap().unwrap().json
    });

    // (b) A real `tt wait` process in another room, at the same time.
    let timeout = format!("{}s", total.as_secs());
    let mut c = tt.cmd(&proc_room, "agent:idle", &["wait", "--timeout", &timeout]);
    c.stdout(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id();

    thread::sleep(Duration::from_millis(1500));
    let (tx0, cpu0, t0) = (stick::service::transactions(), cpu_time(pid), Instant::now());
    thread::sleep(IDLE_WINDOW);
    let (tx1, cpu1, t1) = (stick::service::transactions(), cpu_time(pid), Instant::now());
    let window = (t1 - t0).as_secs_f64();
    let lib_result = lib.join().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let proc_result: Value = serde_json::from_slice(&out.stdout).unwrap();
    for v in [&lib_result, &proc_result] {
        assert_eq!((status(v), v["wake_reason"].as_str()), ("not_yet", Some("timeout")), "{v}");
    }
    let qps = (tx1 - tx0) as f64 / window;
    let cpu = (cpu1 - cpu0).as_secs_f64() / window * 100.0;
    rows.push((
        format!(
            "Idle waiter: transactions per second of `tt wait` (the library's `turn::wait`, \
             `stick::service::transactions()`) over {} s while another agent holds the stick",
            IDLE_WINDOW.as_secs()
        ),
        format!("**{qps:.2} queries/s** ({} transactions in {window:.1} s)", tx1 - tx0),
        "≤ 5 queries/s".into(),
        mark(qps <= 5.0),
    ));
    rows.push((
        "Idle waiter: CPU of a real `tt wait` process over the same window (`/proc/<pid>/task/*/schedstat`)".into(),
        format!("**{cpu:.3} % of one core** ({:.1} ms on CPU)", ms(cpu1 - cpu0)),
        "≤ 1 % of a core".into(),
        mark(cpu <= 1.0),
    ));
}

// ---------------------------------------------------------------------------------------
// 4. Fair selection: bypass over a saturated 8-agent run.
// ---------------------------------------------------------------------------------------

/// One `tt wait` by `agent`, SIGTERMed once `done` is set (then None).
fn fair_wait(tt: &Tt, dir: &Path, agent: &str, done: &AtomicBool) -> Option<Value> {
    let mut c = tt.cmd(dir, agent, &["wait", "--timeout", "60s"]);
    c.stdout(Stdio::piped());
    let mut child: Child = c.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let mut signalled = false;
    let ok = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.success();
        }
        if done.load(Ordering::SeqCst) && !signalled {
            // Still our unreaped child: the pid cannot have been reused.
            sigterm(child.id());
            signalled = true;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let text = reader.join().unwrap();
    if signalled && text.trim().is_empty() {
        return None;
    }
    assert!(ok, "tt wait by {agent} failed: {text}");
    Some(serde_json::from_str(&text).unwrap())
}

fn bench_fairness(root: &Path, rows: &mut Vec<Row>) {
    let tt = Tt::new(root, "data-fair");
    let dir = project(root, "fair");
    let agents: Vec<String> = (0..FAIR_AGENTS).map(|i| format!("agent:f{i}")).collect();
    for a in &agents {
        tt.run(&dir, a, &["join"]);
    }
    let (_, s) = tt.run(&dir, &agents[0], &["state"]);
    let start_seq = s["cursor_event_seq"].as_i64().unwrap();
    let grants: Mutex<Vec<usize>> = Mutex::new(vec![0; FAIR_AGENTS]);
    let done = AtomicBool::new(false);
    let began = Instant::now();
    // Every agent always waits; an agent that has had its FAIR_GRANTS keeps taking part
    // (wait → release) until all have, so nobody leaves a reservation unclaimed.
    thread::scope(|s| {
        for (i, agent) in agents.iter().enumerate() {
            let (tt, dir, grants, done) = (&tt, &dir, &grants, &done);
            s.spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let Some(v) = fair_wait(tt, dir, agent, done) else { break };
                    if status(&v) != "your_turn" {
                        continue; // an event woke the wait (another agent's claim of our handoff)
                    }
                    note_guardian(&v);
                    thread::sleep(FAIR_HOLD);
                    let (_, r) = tt.run(dir, agent, &["release", "--status", "s", "--next-action", "n"]);
                    assert_eq!(status(&r), "released", "{r}");
                    let mut g = grants.lock().unwrap();
                    g[i] += 1;
                    if g.iter().all(|n| *n >= FAIR_GRANTS) {
                        done.store(true, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    let elapsed = began.elapsed();
    let events = all_events(&tt, &dir, &agents[0]);
    // For each grant: the grants to others since the grantee's previous release (or the
    // start of the run, when every agent began waiting).
    let mut since: HashMap<String, usize> = agents.iter().map(|a| (a.clone(), 0)).collect();
    let (mut max_bypass, mut bypasses, mut open_claims, mut takeovers) = (0usize, Vec::new(), 0usize, 0usize);
    for e in events.iter().filter(|e| e["event_seq"].as_i64().unwrap() > start_seq) {
        match e["event_type"].as_str() {
            Some("claim") | Some("takeover") => {
                if e["event_type"] == "takeover" {
                    takeovers += 1;
                }
                let to = e["to_agent_id"].as_str().unwrap().to_string();
                if e["from_agent_id"].is_null() {
                    open_claims += 1;
                }
                let b = since.remove(&to).unwrap_or(0);
                max_bypass = max_bypass.max(b);
                bypasses.push(b as f64);
                for n in since.values_mut() {
                    *n += 1;
                }
            }
            Some("release") | Some("pass") => {
                since.insert(e["from_agent_id"].as_str().unwrap().to_string(), 0);
            }
            _ => {}
        }
    }
    let n = bypasses.len();
    let per_agent = grants.lock().unwrap().clone();
    let bound = FAIR_AGENTS - 1;
    rows.push((
        format!(
            "Fair selection: max bypass over a saturated {FAIR_AGENTS}-agent run (each agent: `tt wait` → hold {} ms \
             → `tt release`, always waiting; from `tt events`)",
            FAIR_HOLD.as_millis()
        ),
        format!(
            "**max {max_bypass}** (mean {:.1}) over {n} grants in {:.1} s; grants per agent {per_agent:?}; \
             {open_claims} open claim(s), {takeovers} takeover(s)",
            bypasses.iter().sum::<f64>() / n.max(1) as f64,
            elapsed.as_secs_f64()
        ),
        format!("≤ N−1 = {bound}"),
        mark(max_bypass <= bound),
    ));
}

fn main() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let empty = build_empty(&root);
    let exe = root.join("tt");
    std::fs::copy(env!("CARGO_BIN_EXE_tt"), &exe).unwrap();
    TT_EXE.set(exe).unwrap();
    let (load_before, io_before) = (load_average(), io_pressure());
    let mut rows: Vec<Row> = Vec::new();
    let step = |name: &str| eprintln!("[{:5.1} s] {name}", started.elapsed().as_secs_f64());
    step("whole-process times");
    bench_process(&root, &empty, &mut rows);
    step("handoff latency");
    bench_handoff(&root, &mut rows);
    step("idle waiter");
    bench_idle(&root, &mut rows);
    step("fair selection");
    bench_fairness(&root, &mut rows);
    let leftovers = stop_guardians(&root);
    step(&format!("done; stopped {leftovers} leftover guardian(s)"));

    let date = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut table = format!(
        "Measured {} in {:.0} s (`BENCH_WRITE=1 cargo bench -p stick --bench protocol`); load average \
         {load_before} before, {} after; I/O pressure (`/proc/pressure/io` some avg60) {io_before} % \
         before, {} % after.\n\n\
         | measured | result | target | met |\n|---|---|---|---|\n",
        date.get(..10).unwrap_or(&date),
        started.elapsed().as_secs_f64(),
        load_average(),
        io_pressure()
    );
    for (what, got, target, met) in &rows {
        table.push_str(&format!("| {what} | {got} | {target} | {met} |\n"));
    }
    println!("{table}");
    if std::env::var("BENCH_WRITE").is_ok_and(|v| v == "1") {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PERFORMANCE.md");
        let text = std::fs::read_to_string(&doc).unwrap();
        let (begin, end) = ("<!-- protocol-bench:begin -->", "<!-- protocol-bench:end -->");
        let (Some(a), Some(b)) = (text.find(begin), text.find(end)) else { panic!("markers missing in {doc:?}") };
        let updated = format!("{}{begin}\n{table}{}", &text[..a], &text[b..]);
        std::fs::write(&doc, updated).unwrap();
        println!("wrote {}", doc.display());
    }
}
