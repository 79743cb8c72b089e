//! Helpers shared by the chaos coordinator, its agents, the checker and the crash mode: a seeded
//! PRNG, wall-clock time, running `tt`, reading the database read-only, signals and `/proc`.

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// splitmix64: small, seedable, good enough to pick delays and victims reproducibly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.below(hi - lo + 1) }
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A derived seed for a sub-stream (an agent, a phase).
    pub fn fork(&mut self) -> u64 {
        self.next_u64()
    }
}

/// A seed from the clock and the pid, when none was given.
pub fn fresh_seed() -> u64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    Rng::new(t ^ u64::from(std::process::id()).rotate_left(32)).next_u64() % 1_000_000_000
}

/// Wall-clock microseconds since the epoch (the event table's `created_at` is wall-clock ms).
pub fn wall_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

pub fn sleep_ms(ms: u64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// `p50 … ms, p90 …, p99 …, max … (n = …)`.
pub fn latency_line(values: &[i64]) -> String {
    if values.is_empty() {
        return "n = 0".to_owned();
    }
    let mut v = values.to_vec();
    v.sort_unstable();
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms (n = {})",
        percentile(&v, 50),
        percentile(&v, 90),
        percentile(&v, 99),
        v.last().copied().unwrap_or(0),
        v.len()
    )
}

/// Removes every inherited variable that could change `tt`'s identity, clock, settings or policy.
pub fn scrub_env(cmd: &mut Command) {
    const PREFIXES: [&str; 8] =
        ["TT_", "TALKING_STICK_", "CLAUDE", "CODEX_", "OPENCODE", "ANTIGRAVITY_", "GEMINI_CLI", "GROK_"];
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| PREFIXES.iter().any(|p| k.starts_with(p))) {
            cmd.env_remove(&key);
        }
    }
}

/// The outcome of one `tt` run.
#[derive(Clone, Debug)]
pub struct TtOut {
    /// The exit code, `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl TtOut {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.stdout).ok()
    }

    /// The `error` code of the JSON error line on stderr, or a description of what happened.
    pub fn error_code(&self) -> String {
        let last = self.stderr.lines().rev().find(|l| l.trim_start().starts_with('{'));
        match last.and_then(|l| serde_json::from_str::<Value>(l).ok()) {
            Some(v) => v.get("error").and_then(Value::as_str).unwrap_or("unknown").to_owned(),
            None => match self.code {
                None => "killed".to_owned(),
                Some(c) => format!("exit {c} without a JSON error"),
            },
        }
    }

    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

pub fn run_tt(mut cmd: Command) -> TtOut {
    match cmd.stdin(Stdio::null()).output() {
        Ok(out) => TtOut {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => TtOut { code: Some(-1), stdout: String::new(), stderr: format!("cannot run tt: {e}") },
    }
}

pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

pub fn i64_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// Reads a JSON-lines file, skipping lines that do not parse (a killed writer can leave a torn
/// last line; every writer here appends whole lines with one `write`).
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    fs::read_to_string(path).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

pub fn signal_pid(pid: i32, sig: rustix::process::Signal) -> bool {
    rustix::process::Pid::from_raw(pid).is_some_and(|p| rustix::process::kill_process(p, sig).is_ok())
}

pub fn signal_group(pgid: i32, sig: rustix::process::Signal) -> bool {
    rustix::process::Pid::from_raw(pgid).is_some_and(|p| rustix::process::kill_process_group(p, sig).is_ok())
}

/// `/proc/<pid>/cmdline` as arguments, or empty when the process is gone or a zombie.
pub fn cmdline(pid: i32) -> Vec<String> {
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()))
        .is_none_or(|state| matches!(state, 'Z' | 'X'));
    if zombie {
        return Vec::new();
    }
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|raw| {
            raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect()
        })
        .unwrap_or_default()
}

/// A guardian (`tt guard …`) as found in `/proc`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Guardian {
    pub pid: i32,
    pub agent: String,
    pub lease_id: String,
    pub turn_id: i64,
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// Every running guardian whose `--context-path` is `project`.
pub fn guardians_of(project: &Path) -> Vec<Guardian> {
    let project = project.to_string_lossy();
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut found: Vec<Guardian> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let args = cmdline(pid);
            let is_guard = args.iter().any(|a| a == "guard");
            if !is_guard || flag(&args, "--context-path").as_deref() != Some(&*project) {
                return None;
            }
            Some(Guardian {
                pid,
                agent: flag(&args, "--agent").unwrap_or_default(),
                lease_id: flag(&args, "--lease-id").unwrap_or_default(),
                turn_id: flag(&args, "--turn-id").and_then(|t| t.parse().ok()).unwrap_or(-1),
            })
        })
        .collect();
    found.sort();
    found
}

/// Waits up to `within` for every guardian of `project` to exit, then stops the rest (SIGTERM, then
/// SIGKILL). Returns the guardians that were still running after `within`.
pub fn settle_guardians(project: &Path, within: Duration) -> Vec<Guardian> {
    let until = Instant::now() + within;
    while !guardians_of(project).is_empty() && Instant::now() < until {
        sleep_ms(50);
    }
    let left = guardians_of(project);
    for g in &left {
        signal_pid(g.pid, rustix::process::Signal::TERM);
    }
    let until = Instant::now() + Duration::from_secs(1);
    while !guardians_of(project).is_empty() && Instant::now() < until {
        sleep_ms(20);
    }
    for g in guardians_of(project) {
        signal_pid(g.pid, rustix::process::Signal::KILL);
    }
    left
}

/// A read-only connection to `<data>/rooms.sqlite` (the checker never writes the database).
pub fn open_db(data: &Path) -> Result<Connection, String> {
    let path = data.join("rooms.sqlite");
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open {} read-only: {e}", path.display()))?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// The room row's fencing state: `(turn_id, owner, lease_id, state)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoomRow {
    pub room_id: String,
    pub turn_id: i64,
    pub owner: Option<String>,
    pub lease_id: Option<String>,
    pub lease_expires_at: Option<i64>,
    pub reserved_for: Option<String>,
    pub claim_expires_at: Option<i64>,
    pub pending: Option<i64>,
    pub state: String,
}

/// The one room of a run's data directory (None before the first join).
pub fn room_row(conn: &Connection) -> Result<Option<RoomRow>, String> {
    let mut stmt = conn
        .prepare(
            "SELECT room_id, turn_id, owner, lease_id, lease_expires_at, reserved_for, claim_expires_at, \
             pending_handoff_event_seq, state FROM path_rooms",
        )
        .map_err(|e| e.to_string())?;
    let mut rows = stmt
        .query_map([], |r| {
            Ok(RoomRow {
                room_id: r.get(0)?,
                turn_id: r.get(1)?,
                owner: r.get(2)?,
                lease_id: r.get(3)?,
                lease_expires_at: r.get(4)?,
                reserved_for: r.get(5)?,
                claim_expires_at: r.get(6)?,
                pending: r.get(7)?,
                state: r.get(8)?,
            })
        })
        .map_err(|e| e.to_string())?;
    match rows.next() {
        None => Ok(None),
        Some(r) => r.map(Some).map_err(|e| e.to_string()),
    }
}

/// One row of `room_events`.
#[derive(Clone, Debug)]
pub struct Event {
    pub seq: i64,
    pub turn_id: i64,
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: Option<String>,
    pub handoff: Option<String>,
    pub payload: Option<String>,
    pub created_at: i64,
}

pub fn all_events(conn: &Connection) -> Result<Vec<Event>, String> {
    let mut stmt = conn
        .prepare(
            "SELECT event_seq, turn_id, event_type, from_agent_id, to_agent_id, reason, handoff_json, \
             payload_json, created_at FROM room_events ORDER BY event_seq",
        )
        .map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Event {
                seq: r.get(0)?,
                turn_id: r.get(1)?,
                kind: r.get(2)?,
                from: r.get(3)?,
                to: r.get(4)?,
                reason: r.get(5)?,
                handoff: r.get(6)?,
                payload: r.get(7)?,
                created_at: r.get(8)?,
            })
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
}

/// `PRAGMA integrity_check` and `PRAGMA foreign_key_check`: `Ok(())` or the problems found.
pub fn integrity(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(|e| e.to_string())?;
    let lines: Vec<String> =
        stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?.filter_map(Result::ok).collect();
    if lines != ["ok"] {
        return Err(format!("integrity_check: {}", lines.join("; ")));
    }
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").map_err(|e| e.to_string())?;
    let n = stmt.query_map([], |_| Ok(())).map_err(|e| e.to_string())?.count();
    if n > 0 {
        return Err(format!("foreign_key_check: {n} violation(s)"));
    }
    Ok(())
}

/// The `tt` binary: `--tt PATH`, else the `tt` next to this example (`target/<triple>/release/tt`).
pub fn locate_tt(given: Option<&Path>) -> Result<PathBuf, String> {
    let tt = match given {
        Some(p) => p.to_path_buf(),
        None => {
            let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            exe.parent().and_then(Path::parent).map(|d| d.join("tt")).unwrap_or_else(|| PathBuf::from("tt"))
        }
    };
    let tt = std::path::absolute(&tt).map_err(|e| format!("cannot resolve the tt path: {e}"))?;
    if !tt.is_file() {
        return Err(format!(
            "the tt binary was not found at {} (build it with `cargo build --release -p stick`, or pass --tt PATH)",
            tt.display()
        ));
    }
    Ok(tt)
}

/// A project directory (a `package.json` marks the workspace root, protocol.md §9.2).
pub fn make_project(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    fs::write(dir.join("package.json"), "{}\n").map_err(|e| format!("package.json: {e}"))
}
