//! Reliability evidence for `tt` with real processes (design.md habit 15): a Jepsen-style lock-set
//! chaos run, and a crash-consistency run. See `docs/RELIABILITY.md` for what is checked and the
//! figures of the last long runs.
//!
//! Run it through `scripts/chaos.sh` (which builds `tt` and this example first), or directly:
//!
//! ```text
//! cargo build --release -p stick --bin tt --example chaos
//! target/<triple>/release/examples/chaos [--smoke | --long] [options]          # chaos
//! target/<triple>/release/examples/chaos --crash [--smoke | --long] [options]  # crash consistency
//! ```
//!
//! **Chaos.** For each agent count N, a fresh data directory and project, N agent processes (this
//! binary with `--agent-loop`, each with a harness identity) loop `tt wait` → critical section →
//! fenced register write → `tt release`, taking over with `tt take` only when `tt wait` offers
//! `takeover_available`. A nemesis SIGKILLs random holders and waiters (and restarts them with the
//! same identity) and SIGSTOPs a holder together with its guardian until its short lease has expired
//! and another agent has taken over, then resumes it: its write then carries a stale token. The
//! register accepts a write only when `tt heartbeat --lease-id L --turn-id T` confirms the token
//! (protocol.md §10.2), atomically with the write. Calm phases (no nemesis) follow, in which the
//! bypass bound N−1 is checked over every grant. `check.rs` verifies the run.
//!
//! **Crash.** `crash.rs`: SIGKILL `tt release|pass|msg send|claim observe|try` at random points, then
//! integrity, acknowledged events, turn ids, the room row, `cli-sessions.json` and guardians.
//!
//! Exit codes: 0 every check passed, 1 a check failed, 2 bad usage or set-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    missing_docs,
    reason = "a verification program, not library code: a broken invariant should fail loudly"
)]

mod agent;
mod chaos;
mod check;
mod common;
mod crash;

use chaos::{CalmOpts, ChaosOpts, NemesisOpts, TtSettings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const USAGE: &str = "\
Usage: chaos [--smoke | --long] [options]           the lock-set chaos run
       chaos --crash [--smoke | --long] [options]   the crash-consistency run

Chaos: N real agent processes loop `tt wait` → critical section → fenced write → `tt release` while
a nemesis SIGKILLs holders and waiters and SIGSTOPs holders past their lease; then the event table,
the register journal and the agents' logs are checked (overlaps in fenced state, stale-token writes
accepted, takeovers of a live holder, recovery latency, grants per agent, bypass).
Crash: SIGKILL `tt` write commands at random points; then integrity, acknowledged events, turn ids,
the room row, cli-sessions.json and guardians are checked.

  --smoke             CI size (the default): chaos N = 2, 4, 8 for 25 s each; crash 40 kills
  --long              chaos N = 2, 4, 8, 16 until 2 600 acquisitions each; crash 300 kills
  --agents LIST       chaos: agent counts, comma-separated (e.g. 2,4,8,16)
  --acquisitions N    chaos: end a phase after N acquisitions (grants and takeovers)
  --duration SECS     chaos: end a phase after SECS at the latest
  --calm N            chaos: after the faulty phases, one calm phase (no nemesis) per agent count
                      until N acquisitions, checking the bypass bound over every grant; 0 = none
                      (default: smoke 10 s each, long 500 acquisitions each)
  --kills N           crash: SIGKILLs to deliver
  --seed S            the run's seed (printed; the same seed picks the same faults and delays)
  --keep              keep the run directory (data dirs, journals, logs) and print its path
  --tt PATH           the tt binary (default: target/<triple>/release/tt next to this example)
  --recheck DIR       run the chaos checker again on a kept run directory (its n<N>/ phases)
  --help, -h          this help
";

struct Opts {
    crash: bool,
    long: bool,
    agents: Option<Vec<usize>>,
    acquisitions: Option<u64>,
    duration: Option<u64>,
    calm: Option<u64>,
    kills: Option<u64>,
    seed: Option<u64>,
    keep: bool,
    tt: Option<PathBuf>,
    recheck: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        crash: false,
        long: false,
        agents: None,
        acquisitions: None,
        duration: None,
        calm: None,
        kills: None,
        seed: None,
        keep: false,
        tt: None,
        recheck: None,
    };
    let mut it = args.iter();
    let num = |v: Option<&String>, name: &str| -> Result<u64, String> {
        v.ok_or_else(|| format!("{name} requires a value"))?
            .parse::<u64>()
            .map_err(|_| format!("{name} must be an integer"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--crash" => o.crash = true,
            "--smoke" => o.long = false,
            "--long" => o.long = true,
            "--keep" => o.keep = true,
            "--agents" => {
                let v = it.next().ok_or("--agents requires a value")?;
                let list: Result<Vec<usize>, _> = v.split(',').map(|x| x.trim().parse::<usize>()).collect();
                let list = list.map_err(|_| "--agents must be a comma-separated list of integers".to_owned())?;
                if list.is_empty() || list.iter().any(|n| !(1..=32).contains(n)) {
                    return Err("--agents: each count must be from 1 to 32".to_owned());
                }
                o.agents = Some(list);
            }
            "--acquisitions" => o.acquisitions = Some(num(it.next(), "--acquisitions")?),
            "--duration" => o.duration = Some(num(it.next(), "--duration")?),
            "--calm" => o.calm = Some(num(it.next(), "--calm")?),
            "--kills" => o.kills = Some(num(it.next(), "--kills")?.max(1)),
            "--seed" => o.seed = Some(num(it.next(), "--seed")?),
            "--tt" => o.tt = Some(PathBuf::from(it.next().ok_or("--tt requires a value")?)),
            "--recheck" => o.recheck = Some(PathBuf::from(it.next().ok_or("--recheck requires a value")?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--agent-loop") {
        return agent::main(&args);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &o.recheck {
        return recheck(dir);
    }
    let tt = match common::locate_tt(o.tt.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let seed = o.seed.unwrap_or_else(common::fresh_seed);
    let tmp = match tempfile::Builder::new().prefix(if o.crash { "tt-crash-" } else { "tt-chaos-" }).tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot create a temp dir: {e}");
            return ExitCode::from(2);
        }
    };
    let root = std::fs::canonicalize(tmp.path()).expect("canonicalize the temp dir");
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted)).expect("register a signal handler");
    }
    let started = Instant::now();
    let mode = if o.long { "long" } else { "smoke" };
    let (ok, verdict) = if o.crash {
        let kills = o.kills.unwrap_or(if o.long { 300 } else { 40 });
        println!("crash ({mode}): {kills} SIGKILLs of tt write commands, seed {seed}, tt {}", tt.display());
        let r = crash::run(&crash::CrashOpts { kills, kill_p: 0.6, check_every: 20, seed, tt }, &root);
        r.print();
        let verdict = if r.ok() {
            format!(
                "crash: OK ({} kills, {} acknowledged commands, every check green; seed {seed}; {:.0} s)",
                r.total_kills(),
                r.acked,
                started.elapsed().as_secs_f64()
            )
        } else {
            format!("crash: FAILED ({} problem(s); seed {seed})", r.problems.len())
        };
        (r.ok(), verdict)
    } else {
        let agents = o.agents.clone().unwrap_or(if o.long { vec![2, 4, 8, 16] } else { vec![2, 4, 8] });
        let acquisitions = o.acquisitions.unwrap_or(if o.long { 2600 } else { u64::MAX });
        let duration = Duration::from_secs(o.duration.unwrap_or(if o.long { 3600 } else { 25 }));
        let opts = ChaosOpts {
            agents: agents.clone(),
            acquisitions,
            duration,
            seed,
            tt,
            work_ms: (5, 40),
            settings: TtSettings {
                lease_ttl_ms: 2000,
                heartbeat_ms: 250,
                claim_ttl_ms: 2000,
                waiter_grace_ms: 2000,
                presence_ttl_ms: 6000,
            },
            nemesis: NemesisOpts {
                gap_ms: if o.long { (700, 2100) } else { (300, 900) },
                weights: [3, 3, 4],
                restart_ms: (200, 2500),
            },
            // Smoke: 10 s per calm phase; long or `--calm N`: until 500 (or N) acquisitions.
            calm: (o.calm != Some(0)).then(|| CalmOpts {
                acquisitions: o.calm.unwrap_or(if o.long { 500 } else { u64::MAX }),
                duration: Duration::from_secs(if o.long || o.calm.is_some() { 1800 } else { 10 }),
                lease_ttl_ms: 10_000,
            }),
        };
        println!(
            "chaos ({mode}): N = {agents:?}, seed {seed}, settings {}, tt {}",
            opts.settings.json(),
            opts.tt.display()
        );
        let reports = chaos::run(&opts, &root, &interrupted);
        let total = |f: &dyn Fn(&check::PhaseReport) -> u64| reports.iter().map(f).sum::<u64>();
        let acq = total(&|r| r.acquisitions);
        let stale = total(&|r| r.stale_attempts);
        let stale_rej = total(&|r| r.stale_rejected);
        let overlaps = total(&|r| r.fenced_overlaps + r.event_overlaps);
        let live = total(&|r| r.live_takeovers);
        let phases = agents.len() * if opts.calm.is_some() { 2 } else { 1 };
        let all_ok = reports.iter().all(check::PhaseReport::ok) && reports.len() == phases;
        let bypass: Vec<String> = reports
            .iter()
            .map(|r| if r.calm { format!("{}c", r.max_bypass) } else { r.max_bypass_fair.to_string() })
            .collect();
        let verdict = format!(
            "chaos: {} ({acq} acquisitions over N = {agents:?}; {stale} stale-token writes attempted, {stale_rej} rejected; {overlaps} overlaps in fenced state or the event table; {live} takeovers of a live holder; max bypass {} (fair grants; c = every grant of a calm phase); seed {seed}; {:.0} s)",
            if all_ok { "OK" } else { "FAILED" },
            bypass.join("/"),
            started.elapsed().as_secs_f64()
        );
        (all_ok, verdict)
    };
    if o.keep || !ok {
        let kept = tmp.keep();
        println!("kept: {}", kept.display());
    }
    // The verdict is the last line (scripts/check.sh shows it).
    println!("{verdict}");
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// `--recheck DIR`: the checker on every `n<N>/` phase of a kept chaos run.
fn recheck(dir: &std::path::Path) -> ExitCode {
    let mut phases: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_str()?.to_owned();
                    let rest = name.strip_prefix('n')?;
                    let n = rest.strip_suffix("-calm").unwrap_or(rest).parse::<usize>().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    phases.sort();
    if phases.is_empty() {
        eprintln!("error: no n<N>/ phase directories in {}", dir.display());
        return ExitCode::from(2);
    }
    let mut ok = true;
    for (n, path) in phases {
        match check::check_phase(n, &path.join("data"), &path.join("run")) {
            Ok(mut r) => {
                r.dir = path;
                r.print();
                ok &= r.ok();
            }
            Err(e) => {
                println!("N={n}: cannot check {}: {e}", path.display());
                ok = false;
            }
        }
    }
    println!("recheck: {}", if ok { "OK" } else { "FAILED" });
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
