//! The main job: several real agent processes share one throwaway git repository through `tt`.
//!
//! Run it through `scripts/main-job.sh` (which builds `tt` first), or directly:
//!
//! ```text
//! cargo build --release -p stick
//! cargo run --release -p stick --example main_job -- [--rounds N] [--agents N] [--keep]
//!                                                     [--data-dir DIR] [--timeout SECS] [--tt PATH]
//! ```
//!
//! The coordinator (this program without the hidden `--agent-loop` flag):
//! 1. checks the set-up: `git` on `PATH`, the `tt` binary, a writable data directory that `tt` accepts;
//! 2. creates a temp dir holding a fresh data dir and a git repository with one commit;
//! 3. starts N agents: this same binary re-executed with `--agent-loop`, each with its own harness identity
//!    in the environment (Codex, Claude Code, OpenCode, …; no `--agent`), `TT_DATA_DIR` set, the repository
//!    as current directory and the real clock (no `TT_NOW_MS`);
//! 4. waits for them, with an overall timeout that names a stuck agent;
//! 5. verifies the event log (`tt events`), the git history and the agents' own records, and prints a
//!    summary ending in `main job: OK (N agents × R rounds, 0 overlaps)`, or exits 1 naming what failed.
//!
//! An agent loops R times: `tt wait` → on `your_turn` create the `HOLDER` marker (it must be absent), set
//! `counter` to the turn id (it must hold the previous turn's id), append a line to `log.txt`, commit,
//! remove the marker → `tt release` with a handoff naming the turn. Each turn is one JSON line in
//! `run/agent-<i>.jsonl` (timestamps, turn id, commit, guardian pid). When done it runs `tt leave`, except
//! the last agent to finish: it keeps the room, and so its event log, until the coordinator has read it.
//!
//! Exit codes: 0 verified, 1 the run or a check failed, 2 bad usage or set-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "a demo and verification program, not library code: a broken invariant should fail loudly"
)]

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The identity the coordinator reads with (never a member: `tt events` needs no membership).
const AUDITOR: &str = "human:main-job-auditor";
const MAX_AGENTS: usize = 9;
/// How long one `tt wait` of an agent may block before the agent re-checks its coordinator.
const AGENT_WAIT: &str = "5s";

const USAGE: &str = "\
Usage: main_job [--rounds N] [--agents N] [--keep] [--data-dir DIR] [--timeout SECS] [--tt PATH]

The main job: N agent processes with distinct harness identities take turns through `tt wait` and
`tt release` in a throwaway git repository, each committing one change per turn, R turns each. Then
the event log, the git history and the agents' records are checked: no two agents ever held the stick
at once.

  --rounds N       turns per agent (default 20)
  --agents N       agent processes, 1 to 9 (default 3)
  --keep           keep the temp dir (repository, data dir, agent logs) and print its path
  --data-dir DIR   the tt data directory to use (default: a fresh one in the temp dir)
  --timeout SECS   give up after this long and name the stuck agent (default 120)
  --tt PATH        the tt binary (default: the `tt` next to this example, target/<triple>/release/tt)
  --help, -h       this help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--agent-loop") {
        return agent_main(&args);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match parse_opts(&args) {
        Ok(opts) => coordinator(&opts),
        Err(msg) => {
            eprintln!("error: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Options

struct Opts {
    rounds: u64,
    agents: usize,
    keep: bool,
    data_dir: Option<PathBuf>,
    timeout: Duration,
    tt: Option<PathBuf>,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o =
        Opts { rounds: 20, agents: 3, keep: false, data_dir: None, timeout: Duration::from_secs(120), tt: None };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().cloned().ok_or_else(|| format!("{name} requires a value"));
        match arg.as_str() {
            "--rounds" => o.rounds = parse_count(&value("--rounds")?, "--rounds", 1, 10_000)?,
            "--agents" => o.agents = parse_count(&value("--agents")?, "--agents", 1, MAX_AGENTS as u64)? as usize,
            "--timeout" => o.timeout = Duration::from_secs(parse_count(&value("--timeout")?, "--timeout", 1, 86_400)?),
            "--data-dir" => o.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--tt" => o.tt = Some(PathBuf::from(value("--tt")?)),
            "--keep" => o.keep = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn parse_count(text: &str, name: &str, min: u64, max: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("{name} must be an integer from {min} to {max}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the coordinator and the agents

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// The harness identity of agent `index` (0-based): Codex, Claude Code, OpenCode, then round again.
fn identity(index: usize) -> Vec<(&'static str, String)> {
    let session = format!("main-job-{}", index + 1);
    match index % 3 {
        0 => vec![("CODEX_THREAD_ID", session)],
        1 => vec![("CLAUDECODE", "1".to_owned()), ("CLAUDE_CODE_SESSION_ID", session)],
        _ => vec![("OPENCODE", "1".to_owned()), ("OPENCODE_RUN_ID", session)],
    }
}

fn identity_text(index: usize) -> String {
    identity(index).iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

/// Removes every inherited variable that could change identity, clock, settings, policy or git's
/// behaviour (a user running this from inside Claude Code has `CLAUDECODE=1`), and isolates git from
/// the user's and the system's configuration.
fn scrub_env(cmd: &mut Command) {
    const PREFIXES: [&str; 9] =
        ["TT_", "TALKING_STICK_", "CLAUDE", "CODEX_", "OPENCODE", "ANTIGRAVITY_", "GEMINI_CLI", "GROK_", "GIT_"];
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| PREFIXES.iter().any(|p| k.starts_with(p))) {
            cmd.env_remove(&key);
        }
    }
    cmd.env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_TERMINAL_PROMPT", "0");
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut cmd = Command::new("git");
    scrub_env(&mut cmd);
    let out = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `git {}`: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`git {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
}

/// Runs `tt` with `cmd`'s environment and parses its JSON result; an error names the command, its exit
/// code and its stderr (the JSON error object).
fn tt_json(mut cmd: Command, args: &[&str]) -> Result<Value, String> {
    let out =
        cmd.args(args).stdin(Stdio::null()).output().map_err(|e| format!("cannot run `tt {}`: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "`tt {}` exited with {}: {}",
            args.join(" "),
            out.status.code().map_or_else(|| out.status.to_string(), |c| c.to_string()),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!("`tt {}` printed no JSON ({e}): {}", args.join(" "), String::from_utf8_lossy(&out.stdout).trim())
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn i64_of(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn append_record(log: &mut File, record: &Value) {
    writeln!(log, "{record}").expect("write the agent log");
    log.flush().expect("flush the agent log");
}

fn read_records(run: &Path, index: usize) -> Vec<Value> {
    fs::read_to_string(run.join(format!("agent-{}.jsonl", index + 1)))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Parses `YYYY-MM-DDTHH:MM:SS.mmmZ` (protocol.md §3.1) into epoch milliseconds.
fn iso_ms(text: &str) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn latency_line(values: &[i64]) -> String {
    let mut v = values.to_vec();
    v.sort_unstable();
    format!(
        "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms",
        percentile(&v, 50),
        percentile(&v, 90),
        percentile(&v, 99),
        v.last().copied().unwrap_or(0)
    )
}

/// A running `tt guard` whose command line names `repo` (so a reused pid is never signalled).
fn is_our_guardian(pid: u32, repo: &str) -> bool {
    let Ok(raw) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<String> = raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()))
        .is_some_and(|state| matches!(state, 'Z' | 'X'));
    !zombie && args.iter().any(|a| a == "guard") && args.iter().any(|a| a == repo)
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Stops the given guardians of `repo` (SIGTERM, then SIGKILL after a second); returns how many were
/// still running.
fn stop_guardians(pids: &BTreeSet<u32>, repo: &str) -> usize {
    let running: Vec<u32> = pids.iter().copied().filter(|p| is_our_guardian(*p, repo)).collect();
    for pid in &running {
        signal(*pid, rustix::process::Signal::TERM);
    }
    let until = Instant::now() + Duration::from_secs(1);
    while running.iter().any(|p| is_our_guardian(*p, repo)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    for pid in &running {
        if is_our_guardian(*pid, repo) {
            signal(*pid, rustix::process::Signal::KILL);
        }
    }
    running.len()
}

/// Guardians of `repo` found in `/proc` (for those started after the last record was written).
fn guardians_in_proc(repo: &str) -> BTreeSet<u32> {
    let Ok(dir) = fs::read_dir("/proc") else { return BTreeSet::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| is_our_guardian(*p, repo))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Agent mode (`--agent-loop`, started by the coordinator)

struct AgentOpts {
    index: usize,
    rounds: u64,
    agents: usize,
    tt: PathBuf,
    run: PathBuf,
    coordinator: u32,
}

fn agent_main(args: &[String]) -> ExitCode {
    let mut map = BTreeMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg != "--agent-loop" {
            map.insert(arg.clone(), it.next().cloned().unwrap_or_default());
        }
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    let o = AgentOpts {
        index: get("--index").parse().expect("--index"),
        rounds: get("--rounds").parse().expect("--rounds"),
        agents: get("--agents").parse().expect("--agents"),
        tt: PathBuf::from(get("--tt")),
        run: PathBuf::from(get("--run-dir")),
        coordinator: get("--coordinator").parse().expect("--coordinator"),
    };
    let path = o.run.join(format!("agent-{}.jsonl", o.index + 1));
    let mut log = OpenOptions::new().create(true).append(true).open(&path).expect("open the agent log");
    match agent_loop(&o, &mut log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            append_record(&mut log, &json!({"kind": "error", "message": msg}));
            eprintln!("agent {}: {msg}", o.index + 1);
            ExitCode::FAILURE
        }
    }
}

fn orphaned(o: &AgentOpts) -> bool {
    std::os::unix::process::parent_id() != o.coordinator
}

/// `tt` as this agent: the environment the coordinator gave us (harness identity, `TT_DATA_DIR`), the
/// repository as the current directory.
fn agent_tt(o: &AgentOpts, args: &[&str]) -> Result<Value, String> {
    tt_json(Command::new(&o.tt), args)
}

fn agent_loop(o: &AgentOpts, log: &mut File) -> Result<(), String> {
    let repo = std::env::current_dir().map_err(|e| format!("no current directory: {e}"))?;
    let who = agent_tt(o, &["--json", "whoami"])?;
    let me = str_of(&who, "agent_id").to_owned();
    append_record(
        log,
        &json!({"kind": "start", "agent_id": me, "source": who["source"],
                "harness_name": who["process_metadata"]["harness_name"], "pid": std::process::id()}),
    );

    let mut done = 0;
    let mut wait_started: Option<i64> = None;
    let mut waits = 0u64;
    let mut reported_takeover = false;
    let mut not_yet: Vec<String> = Vec::new();
    while done < o.rounds {
        if orphaned(o) {
            let _ = agent_tt(o, &["--json", "leave"]);
            return Err("the coordinator went away; left the room".to_owned());
        }
        let started = *wait_started.get_or_insert_with(now_ms);
        waits += 1;
        let v = agent_tt(o, &["--json", "wait", "--timeout", AGENT_WAIT])?;
        match str_of(&v, "status") {
            "your_turn" => {}
            "not_yet" => {
                let kinds: Vec<&str> =
                    v["events"].as_array().into_iter().flatten().map(|e| str_of(e, "event_type")).collect();
                not_yet.push(format!("{}:{}", str_of(&v, "wake_reason"), kinds.join("+")));
                continue;
            }
            "takeover_available" => {
                // Every holder here is alive and releases within milliseconds: this is an anomaly.
                if !reported_takeover {
                    append_record(log, &json!({"kind": "anomaly", "result": v}));
                    reported_takeover = true;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            _ => return Err(format!("unexpected `tt wait` result: {v}")),
        }
        let got_ms = now_ms();
        let turn = v.get("turn_id").and_then(Value::as_u64).ok_or_else(|| format!("your_turn without turn_id: {v}"))?;
        if str_of(&v, "reason") == "already_owner" {
            return Err(format!("`tt wait` answered already_owner for turn {turn}, but this agent released it"));
        }

        // The marker: an incoming holder must never find it.
        let holder = repo.join("HOLDER");
        let holder_conflict = match OpenOptions::new().write(true).create_new(true).open(&holder) {
            Ok(mut f) => {
                writeln!(f, "{me} turn {turn}").map_err(|e| format!("write HOLDER: {e}"))?;
                None
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Some(fs::read_to_string(&holder).unwrap_or_default().trim().to_owned())
            }
            Err(e) => return Err(format!("create HOLDER: {e}")),
        };
        // The shared counter: a lost or concurrent update shows as a gap.
        let counter_before = fs::read_to_string(repo.join("counter")).ok().and_then(|s| s.trim().parse::<u64>().ok());
        fs::write(repo.join("counter"), format!("{turn}\n")).map_err(|e| format!("write counter: {e}"))?;
        let mut lines =
            OpenOptions::new().append(true).open(repo.join("log.txt")).map_err(|e| format!("log.txt: {e}"))?;
        writeln!(lines, "turn {turn} {me}").map_err(|e| format!("append to log.txt: {e}"))?;
        git(&repo, &["add", "counter", "log.txt"])?;
        git(&repo, &["commit", "-q", "-m", &format!("turn {turn} by {me}")])?;
        let commit = git(&repo, &["rev-parse", "HEAD"])?;
        let commit_ms = now_ms();
        if holder_conflict.is_none() {
            fs::remove_file(&holder).map_err(|e| format!("remove HOLDER: {e}"))?;
        }

        let short = commit.get(..10).unwrap_or(&commit);
        let status =
            format!("turn {turn} by {me}: appended line {turn} to log.txt, set counter to {turn}, committed {short}");
        let next = format!(
            "take turn {}: check that HOLDER is absent, append the next line to log.txt, bump counter, commit, release",
            turn + 1
        );
        let rel_start_ms = now_ms();
        let r = agent_tt(o, &["--json", "release", "--status", &status, "--next-action", &next])?;
        let rel_end_ms = now_ms();
        if str_of(&r, "status") != "released" {
            return Err(format!("unexpected `tt release` result: {r}"));
        }
        append_record(
            log,
            &json!({
                "kind": "turn", "agent_id": me, "turn_id": turn, "reason": v["reason"],
                "from_agent_id": v["from_agent_id"], "handoff_status": v["handoff"]["status"],
                "guardian_pid": v["guardian_pid"], "wait_started_ms": started, "got_ms": got_ms,
                "commit_ms": commit_ms, "rel_start_ms": rel_start_ms, "rel_end_ms": rel_end_ms,
                "reserved_for": r["reserved_for"], "release_event_seq": r["event_seq"], "commit": commit,
                "counter_before": counter_before, "holder_conflict": holder_conflict, "waits": waits, "not_yet": not_yet,
            }),
        );
        done += 1;
        wait_started = None;
        waits = 0;
        not_yet.clear();
        reported_takeover = false;
    }

    // Done. Every agent leaves at once (a member that stopped waiting would hold up a fair release),
    // except the last to finish: it keeps the room, and so its event log, for the coordinator.
    let done_dir = o.run.join("done");
    fs::write(done_dir.join(format!("{}", o.index + 1)), &me).map_err(|e| format!("write done marker: {e}"))?;
    let finished = fs::read_dir(&done_dir).map_err(|e| format!("read done markers: {e}"))?.count();
    if finished >= o.agents {
        append_record(log, &json!({"kind": "keeper"}));
        fs::write(o.run.join(format!("keeper-{}", o.index + 1)), &me).map_err(|e| format!("keeper marker: {e}"))?;
        let until = Instant::now() + Duration::from_secs(600);
        while !o.run.join("leave-now").exists() && !orphaned(o) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let left = agent_tt(o, &["--json", "leave"])?;
    append_record(
        log,
        &json!({"kind": "left", "status": left["status"], "remaining_members": left["remaining_members"]}),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Coordinator

struct Agent {
    index: usize,
    child: Child,
    status: Option<ExitStatus>,
}

fn setup_error(msg: &str, hint: &str) -> ExitCode {
    eprintln!("error: {msg}");
    if !hint.is_empty() {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(2)
}

/// The data directory must exist (created if missing) and accept a new file.
fn check_data_dir(dir: &Path) -> Result<(), String> {
    let fresh = !dir.exists();
    if let Err(e) = fs::create_dir_all(dir) {
        return Err(format!("the data dir {} is not writable: cannot create it: {e}", dir.display()));
    }
    if fresh {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    }
    let probe = dir.join(format!(".main-job-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(format!("the data dir {} is not writable: {e}", dir.display())),
    }
}

/// A `tt` command as the auditor: not a member, no harness identity.
fn auditor_cmd(tt: &Path, data: &Path, repo: &Path) -> Command {
    let mut cmd = Command::new(tt);
    scrub_env(&mut cmd);
    cmd.env("TT_DATA_DIR", data).current_dir(repo).args(["--json", "--agent", AUDITOR]);
    cmd
}

fn coordinator(opts: &Opts) -> ExitCode {
    let started = Instant::now();

    // Set-up checks.
    match Command::new("git").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return setup_error("git is required for the main job (not found on PATH)", "install git, or fix PATH");
        }
        Err(e) => return setup_error(&format!("git is required for the main job (cannot run it: {e})"), ""),
        Ok(s) if !s.success() => {
            return setup_error(&format!("git is required for the main job (`git --version` {s})"), "");
        }
        Ok(_) => {}
    }
    let tt = opts.tt.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("current_exe");
        exe.parent().and_then(Path::parent).map(|d| d.join("tt")).unwrap_or_else(|| PathBuf::from("tt"))
    });
    let Ok(tt) = std::path::absolute(&tt) else { return setup_error("cannot resolve the tt path", "") };
    if !tt.is_file() {
        return setup_error(
            &format!("the tt binary was not found at {}", tt.display()),
            "build it with `cargo build --release -p stick`, or pass --tt PATH",
        );
    }
    let tmp = match tempfile::Builder::new().prefix("tt-main-job-").tempdir() {
        Ok(t) => t,
        Err(e) => return setup_error(&format!("cannot create a temp dir: {e}"), "set TMPDIR to a writable directory"),
    };
    let root = fs::canonicalize(tmp.path()).expect("canonicalize the temp dir");
    let data = match &opts.data_dir {
        Some(d) => std::path::absolute(d).unwrap_or_else(|_| d.clone()),
        None => root.join("data"),
    };
    if let Err(msg) = check_data_dir(&data) {
        return setup_error(&msg, "pass --data-dir with a writable directory, or fix its permissions");
    }

    // The throwaway repository.
    let repo = root.join("repo");
    let run = root.join("run");
    if let Err(msg) = make_repo(&repo) {
        return setup_error(&format!("cannot create the throwaway git repository: {msg}"), "");
    }
    fs::create_dir_all(run.join("done")).expect("create the run dir");
    let repo_text = repo.to_string_lossy().into_owned();
    if let Err(msg) = tt_json(auditor_cmd(&tt, &data, &repo), &["list"]) {
        return setup_error(&format!("tt cannot use the data dir {}: {msg}", data.display()), "");
    }

    println!(
        "main job: {} agents × {} rounds in {} (data dir {})",
        opts.agents,
        opts.rounds,
        repo.display(),
        data.display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).expect("register a signal handler");
    }

    // The agents.
    let exe = std::env::current_exe().expect("current_exe");
    let mut agents = Vec::new();
    for index in 0..opts.agents {
        let stderr = File::create(run.join(format!("agent-{}.stderr", index + 1))).expect("agent stderr file");
        let mut cmd = Command::new(&exe);
        cmd.arg("--agent-loop")
            .args(["--index", &index.to_string(), "--rounds", &opts.rounds.to_string()])
            .args(["--agents", &opts.agents.to_string(), "--coordinator", &std::process::id().to_string()])
            .arg("--tt")
            .arg(&tt)
            .arg("--run-dir")
            .arg(&run);
        scrub_env(&mut cmd);
        cmd.env("TT_DATA_DIR", &data);
        for (k, v) in identity(index) {
            cmd.env(k, v);
        }
        cmd.current_dir(&repo).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr).process_group(0);
        match cmd.spawn() {
            Ok(child) => agents.push(Agent { index, child, status: None }),
            Err(e) => {
                eprintln!("error: cannot start agent {}: {e}", index + 1);
                abort_run(&mut agents, &run, &repo_text);
                return ExitCode::FAILURE;
            }
        }
    }

    // Wait until every agent has left, or kept the room as the last one done.
    let deadline = started + opts.timeout;
    loop {
        for a in &mut agents {
            if a.status.is_none() {
                a.status = a.child.try_wait().expect("try_wait");
            }
        }
        if let Some(a) = agents.iter().find(|a| a.status.is_some_and(|s| !s.success())) {
            let status = a.status.unwrap();
            let err = fs::read_to_string(run.join(format!("agent-{}.stderr", a.index + 1))).unwrap_or_default();
            eprintln!("error: agent {} failed ({status}): {}", a.index + 1, err.trim());
            abort_run(&mut agents, &run, &repo_text);
            keep_for_inspection(tmp);
            return ExitCode::FAILURE;
        }
        let keeper = |a: &Agent| run.join(format!("keeper-{}", a.index + 1)).exists();
        if agents.iter().all(|a| a.status.is_some() || keeper(a)) {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            eprintln!("main job: interrupted; stopping the agents");
            abort_run(&mut agents, &run, &repo_text);
            if opts.keep {
                keep_for_inspection(tmp);
            }
            return ExitCode::from(130);
        }
        if Instant::now() > deadline {
            let room = tt_json(auditor_cmd(&tt, &data, &repo), &["state", "--all"]).map(|s| s["room"].clone());
            let owner = room.as_ref().map(|r| str_of(r, "owner").to_owned()).unwrap_or_default();
            let reserved = room.as_ref().map(|r| str_of(r, "reserved_for").to_owned()).unwrap_or_default();
            eprintln!("error: the main job timed out after {} s (--timeout)", opts.timeout.as_secs());
            for a in agents.iter().filter(|a| a.status.is_none() && !keeper(a)) {
                let records = read_records(&run, a.index);
                let id =
                    records.iter().find(|r| str_of(r, "kind") == "start").map(|r| str_of(r, "agent_id").to_owned());
                let id = id.unwrap_or_else(|| "identity unknown".to_owned());
                let turns = records.iter().filter(|r| str_of(r, "kind") == "turn").count();
                let holds = if id == owner {
                    ", holds the stick"
                } else if id == reserved {
                    ", the stick is reserved for it"
                } else {
                    ""
                };
                eprintln!(
                    "  stuck: agent {} ({id}, pid {}): {turns} of {} turns done{holds}",
                    a.index + 1,
                    a.child.id(),
                    opts.rounds
                );
            }
            if let Ok(room) = room {
                eprintln!("  room: {room}");
            }
            abort_run(&mut agents, &run, &repo_text);
            keep_for_inspection(tmp);
            return ExitCode::FAILURE;
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    // Read the event log while the keeper still holds the room, then let it leave.
    let events = read_events(&tt, &data, &repo);
    if let Ok(list) = &events {
        let lines: String = list.iter().map(|e| format!("{e}\n")).collect();
        fs::write(run.join("events.jsonl"), lines).expect("write run/events.jsonl");
    }
    fs::write(run.join("leave-now"), "").expect("write leave-now");
    let until = Instant::now() + Duration::from_secs(15);
    while agents.iter().any(|a| a.status.is_none()) && Instant::now() < until {
        for a in &mut agents {
            if a.status.is_none() {
                a.status = a.child.try_wait().expect("try_wait");
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut check = Check::default();
    for a in &agents {
        match a.status {
            Some(s) if s.success() => {}
            Some(s) => check.fail(false, format!("agent {} exited with {s}", a.index + 1)),
            None => check.fail(false, format!("agent {} did not exit after being told to leave", a.index + 1)),
        }
    }
    abort_run(&mut agents, &run, &repo_text); // no-op unless an agent hung above

    let report = verify(opts, &tt, &data, &repo, &run, events, &mut check);
    let elapsed = started.elapsed();
    print_summary(opts, &report, &check, elapsed);
    if check.problems.is_empty() {
        println!("main job: OK ({} agents × {} rounds, 0 overlaps)", opts.agents, opts.rounds);
        if opts.keep {
            let kept = tmp.keep();
            println!("kept: {}", kept.display());
        }
        ExitCode::SUCCESS
    } else {
        for p in &check.problems {
            eprintln!("problem: {p}");
        }
        eprintln!(
            "main job: FAILED ({} problem(s), {} overlap(s); {} agents × {} rounds)",
            check.problems.len(),
            check.overlaps,
            opts.agents,
            opts.rounds
        );
        keep_for_inspection(tmp);
        ExitCode::FAILURE
    }
}

fn keep_for_inspection(tmp: tempfile::TempDir) {
    let kept = tmp.keep();
    eprintln!("kept for inspection: {} (repo/, data/, run/agent-*.jsonl)", kept.display());
}

fn make_repo(repo: &Path) -> Result<(), String> {
    fs::create_dir(repo).map_err(|e| e.to_string())?;
    git(repo, &["init", "-q"])?;
    for (k, v) in [
        ("user.name", "tt main job"),
        ("user.email", "main-job@tt.invalid"),
        ("commit.gpgsign", "false"),
        ("core.hooksPath", ".git/main-job-no-hooks"),
    ] {
        git(repo, &["config", k, v])?;
    }
    let files = [
        ("README.md", "A throwaway repository for tt's main job: agents take turns appending to log.txt.\n"),
        (".gitignore", "HOLDER\n"),
        ("counter", "0\n"),
        ("log.txt", ""),
    ];
    for (name, text) in files {
        fs::write(repo.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", "main job: initial commit"])?;
    Ok(())
}

/// Kills every agent still running (its whole process group, so its `tt wait` too) and every guardian
/// of this repository.
fn abort_run(agents: &mut [Agent], run: &Path, repo: &str) {
    for a in agents.iter_mut().filter(|a| a.status.is_none()) {
        if let Some(pgid) = i32::try_from(a.child.id()).ok().and_then(rustix::process::Pid::from_raw) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        a.status = a.child.wait().ok();
    }
    let mut pids = guardians_in_proc(repo);
    for a in agents.iter() {
        pids.extend(guardian_pids(&read_records(run, a.index)));
    }
    stop_guardians(&pids, repo);
}

fn guardian_pids(records: &[Value]) -> BTreeSet<u32> {
    records.iter().filter_map(|r| r.get("guardian_pid")?.as_u64()).filter_map(|p| u32::try_from(p).ok()).collect()
}

fn read_events(tt: &Path, data: &Path, repo: &Path) -> Result<Vec<Value>, String> {
    let repo_arg = repo.to_string_lossy().into_owned();
    let mut events = Vec::new();
    let mut after = 0u64;
    loop {
        let after_arg = after.to_string();
        let page = tt_json(
            auditor_cmd(tt, data, repo),
            &["events", &repo_arg, "--after", &after_arg, "--limit", "500", "--all"],
        )?;
        let batch = page.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
        let cursor = u64_of(&page, "cursor_event_seq");
        let more = page.get("has_more").and_then(Value::as_bool).unwrap_or(false);
        events.extend(batch);
        if !more {
            return Ok(events);
        }
        if cursor <= after {
            return Err(format!("`tt events --after {after}` reported has_more but did not advance the cursor"));
        }
        after = cursor;
    }
}

// ---------------------------------------------------------------------------------------------
// Verification

#[derive(Default)]
struct Check {
    problems: Vec<String>,
    overlaps: usize,
}

impl Check {
    fn fail(&mut self, overlap: bool, msg: String) {
        if overlap {
            self.overlaps += 1;
        }
        self.problems.push(msg);
    }
}

#[derive(Default)]
struct Report {
    agents: Vec<(String, usize)>,
    turns: u64,
    reasons: BTreeMap<String, usize>,
    waits: u64,
    events: usize,
    latency_exit: Vec<i64>,
    latency_log: Vec<i64>,
    max_bypass: u64,
    max_bypass_at: String,
    commits: usize,
    guardians: usize,
    guardians_left: usize,
    events_ok: bool,
    git_ok: bool,
    marker_ok: bool,
}

struct Claim {
    to: String,
    from: Option<String>,
    at: i64,
}

struct Release {
    from: String,
    seq: u64,
    at: i64,
    status: Option<String>,
}

fn verify(
    opts: &Opts,
    tt: &Path,
    data: &Path,
    repo: &Path,
    run: &Path,
    events: Result<Vec<Value>, String>,
    check: &mut Check,
) -> Report {
    let mut report = Report::default();
    let total = opts.rounds * opts.agents as u64;
    report.turns = total;

    // The agents' own records.
    let mut ids = Vec::new();
    let mut turns: BTreeMap<u64, Value> = BTreeMap::new();
    let mut guardians = BTreeSet::new();
    for index in 0..opts.agents {
        let records = read_records(run, index);
        let id = records.iter().find(|r| str_of(r, "kind") == "start").map(|r| str_of(r, "agent_id").to_owned());
        let id = id.unwrap_or_else(|| format!("agent-{}(no start record)", index + 1));
        let mine: Vec<&Value> = records.iter().filter(|r| str_of(r, "kind") == "turn").collect();
        if mine.len() as u64 != opts.rounds {
            check.fail(
                false,
                format!("agent {} ({id}) recorded {} turns, expected {}", index + 1, mine.len(), opts.rounds),
            );
        }
        for r in records.iter().filter(|r| matches!(str_of(r, "kind"), "anomaly" | "error")) {
            check.fail(false, format!("agent {} ({id}) recorded: {r}", index + 1));
        }
        if !records.iter().any(|r| str_of(r, "kind") == "left") {
            check.fail(false, format!("agent {} ({id}) never left the room", index + 1));
        }
        for r in mine {
            report.waits += u64_of(r, "waits");
            *report.reasons.entry(str_of(r, "reason").to_owned()).or_default() += 1;
            if let Some(previous) = turns.insert(u64_of(r, "turn_id"), r.clone()) {
                check.fail(
                    true,
                    format!(
                        "turn {} was held by both {} and {}",
                        u64_of(r, "turn_id"),
                        str_of(&previous, "agent_id"),
                        str_of(r, "agent_id")
                    ),
                );
            }
        }
        guardians.extend(guardian_pids(&records));
        report.agents.push((id.clone(), records.iter().filter(|r| str_of(r, "kind") == "turn").count()));
        ids.push(id);
    }
    if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
        check.fail(false, format!("the agents' identities are not distinct: {ids:?}"));
    }

    // (1) The event log.
    let problems_before = check.problems.len();
    let events = events.unwrap_or_else(|e| {
        check.fail(false, format!("cannot read the event log: {e}"));
        Vec::new()
    });
    report.events = events.len();
    let mut claims: BTreeMap<u64, Claim> = BTreeMap::new();
    let mut releases: BTreeMap<u64, Release> = BTreeMap::new();
    let mut holder: Option<(String, u64)> = None;
    let mut last_turn = 0u64;
    let mut last_seq = 0u64;
    // Bypass: claims granted to others since an agent started waiting (its join, or its last release).
    let mut claims_so_far = 0u64;
    let mut waiting_mark: BTreeMap<String, u64> = ids.iter().map(|id| (id.clone(), 0)).collect();
    for e in &events {
        let seq = u64_of(e, "event_seq");
        let turn = u64_of(e, "turn_id");
        let from = str_of(e, "from_agent_id").to_owned();
        let to = str_of(e, "to_agent_id").to_owned();
        let at = iso_ms(str_of(e, "created_at")).unwrap_or(0);
        if seq <= last_seq {
            check.fail(false, format!("event {seq} follows event {last_seq}: the log is not in order"));
        }
        last_seq = seq;
        match str_of(e, "event_type") {
            "claim" => {
                if let Some((h, ht)) = &holder {
                    check.fail(true, format!("event {seq}: {to} claimed turn {turn} while {h} still held turn {ht}"));
                }
                if turn != last_turn + 1 {
                    check.fail(false, format!("event {seq}: claim of turn {turn} follows turn {last_turn}"));
                }
                if !ids.contains(&to) {
                    check.fail(false, format!("event {seq}: claim by {to}, who is not one of the agents"));
                }
                let bypass = claims_so_far - waiting_mark.get(&to).copied().unwrap_or(0);
                if bypass > report.max_bypass || report.max_bypass_at.is_empty() {
                    report.max_bypass = bypass;
                    report.max_bypass_at = format!("turn {turn}, {to}");
                }
                claims_so_far += 1;
                last_turn = turn;
                holder = Some((to.clone(), turn));
                claims.insert(turn, Claim { to, from: opt_str(e, "from_agent_id"), at });
            }
            "release" => {
                match &holder {
                    None => check.fail(false, format!("event {seq}: {from} released turn {turn}, which nobody held")),
                    Some((h, ht)) if *h != from || *ht != turn => {
                        check.fail(true, format!("event {seq}: {from} released turn {turn} while {h} held turn {ht}"));
                    }
                    Some(_) => {}
                }
                let status = e.get("handoff").and_then(|h| opt_str(h, "status"));
                let names_turn = status.as_deref().is_some_and(|s| s.starts_with(&format!("turn {turn} by {from}:")));
                let has_next = e.get("handoff").is_some_and(|h| !str_of(h, "next_action").is_empty());
                if !names_turn || !has_next {
                    check
                        .fail(false, format!("event {seq}: the release of turn {turn} has no handoff naming the turn"));
                }
                holder = None;
                waiting_mark.insert(from.clone(), claims_so_far);
                releases.insert(turn, Release { from, seq, at, status });
            }
            "join" => {
                waiting_mark.insert(from, claims_so_far);
            }
            "leave" => {
                if holder.as_ref().is_some_and(|(h, _)| *h == from) {
                    check.fail(false, format!("event {seq}: {from} left while holding the stick"));
                }
            }
            other => check.fail(false, format!("event {seq}: unexpected {other} event ({from} → {to}, turn {turn})")),
        }
    }
    if let Some((h, ht)) = &holder {
        check.fail(false, format!("turn {ht} ({h}) was never released"));
    }
    if last_turn != total || claims.len() as u64 != total || releases.len() as u64 != total {
        check.fail(
            false,
            format!(
                "the event log has {} claims and {} releases up to turn {last_turn}; expected {total} of each",
                claims.len(),
                releases.len()
            ),
        );
    }
    for id in &ids {
        let n = claims.values().filter(|c| c.to == *id).count() as u64;
        if n != opts.rounds {
            check.fail(false, format!("{id} was granted {n} turns in the event log, expected {}", opts.rounds));
        }
    }
    if report.max_bypass > opts.agents as u64 - 1 {
        check.fail(
            false,
            format!(
                "max bypass {} (at {}) exceeds the bound N−1 = {}",
                report.max_bypass,
                report.max_bypass_at,
                opts.agents - 1
            ),
        );
    }
    for t in 2..=total {
        if let (Some(r), Some(c)) = (releases.get(&(t - 1)), claims.get(&t)) {
            report.latency_log.push(c.at - r.at);
        }
    }
    report.events_ok = check.problems.len() == problems_before;

    // The agents' records against the log, and against each other.
    let problems_before = check.problems.len();
    for (t, r) in &turns {
        let who = str_of(r, "agent_id");
        if let Some(c) = claims.get(t) {
            if c.to != who {
                check.fail(true, format!("turn {t}: {who} worked, but the log granted it to {}", c.to));
            }
            if c.from.as_deref() != opt_str(r, "from_agent_id").as_deref() {
                check.fail(
                    false,
                    format!("turn {t}: from_agent_id {:?} differs from the claim's {:?}", r["from_agent_id"], c.from),
                );
            }
        }
        if let Some(rel) = releases.get(t)
            && (u64_of(r, "release_event_seq") != rel.seq || rel.from != who)
        {
            check.fail(false, format!("turn {t}: {who}'s release is not event {} of the log", rel.seq));
        }
        if *t >= 2 && str_of(r, "reason") == "sequence" {
            let got = opt_str(r, "handoff_status");
            let sent = releases.get(&(t - 1)).and_then(|rel| rel.status.clone());
            if got.is_none() || got != sent {
                check
                    .fail(false, format!("turn {t}: {who} received handoff {got:?}, but turn {} left {sent:?}", t - 1));
            }
        }
        let commit_ms = i64_of(r, "commit_ms");
        if commit_ms < i64_of(r, "got_ms") || commit_ms > i64_of(r, "rel_start_ms") {
            check.fail(true, format!("turn {t}: {who} committed outside its turn"));
        }
        if r.get("guardian_pid").and_then(Value::as_u64).is_none() {
            check.fail(false, format!("turn {t}: {who}'s your_turn carried no guardian_pid"));
        }
        if let Some(found) = opt_str(r, "holder_conflict") {
            check.fail(true, format!("turn {t}: {who} found the HOLDER marker present ({found})"));
        }
        let counter = r.get("counter_before").and_then(Value::as_u64);
        if counter != Some(t - 1) {
            check.fail(true, format!("turn {t}: {who} found counter {counter:?}, expected {}", t - 1));
        }
        if let Some(next) = turns.get(&(t + 1)) {
            if i64_of(next, "got_ms") < i64_of(r, "rel_start_ms") {
                check.fail(
                    true,
                    format!(
                        "turn {} started ({} ms) before turn {t} ended ({} ms)",
                        t + 1,
                        i64_of(next, "got_ms"),
                        i64_of(r, "rel_start_ms")
                    ),
                );
            }
            report.latency_exit.push(i64_of(next, "got_ms") - i64_of(r, "rel_end_ms"));
        }
    }
    report.marker_ok = check.problems.len() == problems_before;

    // (2) The git history.
    let problems_before = check.problems.len();
    match git_history(repo) {
        Err(e) => check.fail(false, format!("cannot read the git history: {e}")),
        Ok(commits) => {
            report.commits = commits.len();
            if commits.len() as u64 != total + 1 {
                check.fail(
                    false,
                    format!("git has {} commits, expected {} (one per turn + the first)", commits.len(), total + 1),
                );
            }
            let mut previous: Option<&GitCommit> = None;
            for (k, c) in commits.iter().enumerate() {
                let linear = match previous {
                    None => c.parents.is_empty(),
                    Some(p) => c.parents == [p.hash.clone()],
                };
                if !linear {
                    check.fail(true, format!("commit {} ({}) is not on a linear history", c.hash, c.subject));
                }
                if let Some(p) = previous
                    && c.time < p.time
                {
                    check.fail(true, format!("commit {} is older than its parent", c.hash));
                }
                if k >= 1 {
                    let t = k as u64;
                    let owner = claims.get(&t).map_or("?", |c| c.to.as_str());
                    if c.subject != format!("turn {t} by {owner}") {
                        check.fail(true, format!("commit {k} is \"{}\", expected \"turn {t} by {owner}\"", c.subject));
                    }
                    if turns.get(&t).is_some_and(|r| str_of(r, "commit") != c.hash) {
                        check.fail(
                            true,
                            format!(
                                "turn {t}: the agent committed {}, git has {}",
                                str_of(&turns[&t], "commit"),
                                c.hash
                            ),
                        );
                    }
                }
                previous = Some(c);
            }
            let expected: Vec<String> =
                (1..=total).map(|t| format!("turn {t} {}", claims.get(&t).map_or("?", |c| c.to.as_str()))).collect();
            match git(repo, &["show", "HEAD:log.txt"]) {
                Ok(text) if text.lines().map(str::to_owned).collect::<Vec<_>>() == expected => {}
                Ok(text) => check.fail(true, format!("log.txt is not one line per turn in turn order:\n{text}")),
                Err(e) => check.fail(false, e),
            }
            match git(repo, &["show", "HEAD:counter"]) {
                Ok(text) if text.trim() == total.to_string() => {}
                Ok(text) => check.fail(true, format!("counter is {} after the run, expected {total}", text.trim())),
                Err(e) => check.fail(false, e),
            }
            match git(repo, &["status", "--porcelain"]) {
                Ok(text) if text.is_empty() => {}
                Ok(text) => check.fail(false, format!("the work tree is not clean after the run:\n{text}")),
                Err(e) => check.fail(false, e),
            }
            if repo.join("HOLDER").exists() {
                check.fail(true, "the HOLDER marker is still present after the run".to_owned());
            }
        }
    }
    report.git_ok = check.problems.len() == problems_before;

    // Guardians: every one was stopped by its release.
    let repo_text = repo.to_string_lossy().into_owned();
    report.guardians = turns.values().filter(|r| r.get("guardian_pid").and_then(Value::as_u64).is_some()).count();
    let until = Instant::now() + Duration::from_secs(3);
    while guardians.iter().any(|p| is_our_guardian(*p, &repo_text)) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    guardians.extend(guardians_in_proc(&repo_text));
    report.guardians_left = stop_guardians(&guardians, &repo_text);
    if report.guardians_left > 0 {
        check.fail(false, format!("{} guardian(s) still ran after their turns were released", report.guardians_left));
    }

    // The room was deleted by the last leave.
    match tt_json(auditor_cmd(tt, data, repo), &["list"]) {
        Ok(v) => {
            let rooms = v.get("rooms").and_then(Value::as_array).cloned().unwrap_or_default();
            if rooms.iter().any(|r| str_of(r, "canonical_path") == repo_text) {
                check.fail(false, "the room still exists after every agent left".to_owned());
            }
        }
        Err(e) => check.fail(false, e),
    }
    report
}

struct GitCommit {
    hash: String,
    parents: Vec<String>,
    time: i64,
    subject: String,
}

fn git_history(repo: &Path) -> Result<Vec<GitCommit>, String> {
    let text = git(repo, &["log", "--reverse", "--format=%H%x09%P%x09%ct%x09%s"])?;
    Ok(text
        .lines()
        .map(|line| {
            let mut parts = line.splitn(4, '\t');
            let hash = parts.next().unwrap_or("").to_owned();
            let parents = parts.next().unwrap_or("").split_whitespace().map(str::to_owned).collect();
            let time = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            GitCommit { hash, parents, time, subject: parts.next().unwrap_or("").to_owned() }
        })
        .collect())
}

fn print_summary(opts: &Opts, r: &Report, check: &Check, elapsed: Duration) {
    let ok = |b: bool| if b { "ok  " } else { "FAIL" };
    let width = r.agents.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    for (index, (id, turns)) in r.agents.iter().enumerate() {
        println!("  agent {}  {id:<width$}  {:<48}  {turns} turns", index + 1, identity_text(index));
    }
    let reasons: Vec<String> = r.reasons.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("turns           {} (grants: {}; {} tt wait calls)", r.turns, reasons.join(", "), r.waits);
    println!(
        "handoff latency release exit → next holder's your_turn: {} ({} handoffs)",
        latency_line(&r.latency_exit),
        r.latency_exit.len()
    );
    println!("                release event → claim event (event log): {}", latency_line(&r.latency_log));
    println!("max bypass      {} (bound N−1 = {}; at {})", r.max_bypass, opts.agents - 1, r.max_bypass_at);
    println!(
        "{} events     {} events: claims and releases alternate, turn ids 1..{} one by one, no claim while held",
        ok(r.events_ok),
        r.events,
        r.turns
    );
    println!(
        "{} git        {} commits, linear, one per turn in turn order, each inside its own turn; log.txt and counter agree",
        ok(r.git_ok),
        r.commits
    );
    println!("{} marker     HOLDER never found by an incoming holder; no lost counter update", ok(r.marker_ok));
    println!(
        "{} guardians  {} started, {} left running after release",
        ok(r.guardians_left == 0),
        r.guardians,
        r.guardians_left
    );
    println!("total time      {:.1} s; overlaps: {}", elapsed.as_secs_f64(), check.overlaps);
}
