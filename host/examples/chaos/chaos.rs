//! The chaos coordinator: per agent count N, a fresh data directory and project, N agent processes,
//! the fenced register (a storage node that accepts a write only when `tt` confirms its fencing
//! token), and the nemesis (SIGKILL of holders and waiters, SIGSTOP of a holder and its guardian past
//! the lease). When the phase ends the checker reads the event table, the journal, the agents'
//! records and `cs.log`.

use crate::check::{self, PhaseReport};
use crate::common::{
    Rng, cmdline, make_project, open_db, room_row, run_tt, scrub_env, settle_guardians, signal_group, signal_pid,
    sleep_ms, wall_us,
};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The protocol settings of a chaos run (`TT_SETTINGS`): leases short enough that a stopped holder's
/// lease expires within seconds, and fast guardians so a killed holder is relinquished quickly.
#[derive(Clone, Debug)]
pub struct TtSettings {
    pub lease_ttl_ms: u64,
    pub heartbeat_ms: u64,
    pub claim_ttl_ms: u64,
    pub waiter_grace_ms: u64,
    pub presence_ttl_ms: u64,
}

impl TtSettings {
    pub fn json(&self) -> String {
        json!({
            "owner_lease_ttl_ms": self.lease_ttl_ms,
            "heartbeat_interval_ms": self.heartbeat_ms,
            "claim_ttl_ms": self.claim_ttl_ms,
            "waiter_grace_ms": self.waiter_grace_ms,
            "presence_ttl_ms": self.presence_ttl_ms,
        })
        .to_string()
    }
}

/// What the nemesis does and how often.
#[derive(Clone, Debug)]
pub struct NemesisOpts {
    /// Quiet time between two faults, ms (uniform).
    pub gap_ms: (u64, u64),
    /// Relative weights of kill-holder, kill-waiter and pause-holder.
    pub weights: [u64; 3],
    /// Delay before a killed agent is restarted, ms (uniform).
    pub restart_ms: (u64, u64),
}

/// The calm phases that follow the faulty ones: the same agents and loop with no nemesis, so
/// that every grant comes from the fairness policy (or the first open claim) and the bypass
/// bound N−1 is checked over all grants.
#[derive(Clone, Debug)]
pub struct CalmOpts {
    /// End a calm phase after this many acquisitions.
    pub acquisitions: u64,
    /// End a calm phase after this long at the latest.
    pub duration: Duration,
    /// `owner_lease_ttl_ms` of the calm phases: long enough that an overloaded machine (a
    /// guardian descheduled past the chaos phases' 2 s lease) does not expire a lease, since
    /// nothing here stops a holder on purpose.
    pub lease_ttl_ms: u64,
}

#[derive(Clone, Debug)]
pub struct ChaosOpts {
    pub agents: Vec<usize>,
    pub acquisitions: u64,
    pub duration: Duration,
    pub seed: u64,
    pub tt: PathBuf,
    pub work_ms: (u64, u64),
    pub settings: TtSettings,
    pub nemesis: NemesisOpts,
    /// Calm phases after the faulty ones (none when `None`).
    pub calm: Option<CalmOpts>,
}

/// One agent slot as the coordinator, the nemesis and the register see it.
#[derive(Clone, Debug)]
struct Slot {
    inc: u64,
    pid: i32,
    agent: String,
    phase: String,
    turn: i64,
    lease: String,
    guardian: i32,
    alive: bool,
    restart_at: Option<Instant>,
}

struct Register {
    value: u64,
    last_turn: i64,
}

struct Shared {
    journal: Mutex<File>,
    seq: AtomicU64,
    slots: Mutex<Vec<Slot>>,
    register: Mutex<Register>,
    stop: AtomicBool,
    tt: PathBuf,
    data: PathBuf,
    project: PathBuf,
    settings: String,
}

impl Shared {
    /// Appends one journal record with the next global sequence number (the coordinator's own total
    /// order of nemesis actions and register requests) and the wall time in µs.
    fn journal(&self, mut v: Value) -> u64 {
        let mut file = lock(&self.journal);
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        v["seq"] = json!(seq);
        v["t_us"] = json!(wall_us());
        let mut line = v.to_string();
        line.push('\n');
        let _ = file.write_all(line.as_bytes());
        seq
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Slot>> {
        lock(&self.slots)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs every phase; returns the reports (the caller prints the totals and decides the exit code).
pub fn run(o: &ChaosOpts, root: &Path, interrupted: &Arc<AtomicBool>) -> Vec<PhaseReport> {
    let mut rng = Rng::new(o.seed);
    let mut reports = Vec::new();
    let calm = o.calm.as_ref().map(|c| ChaosOpts {
        acquisitions: c.acquisitions,
        duration: c.duration,
        settings: TtSettings { lease_ttl_ms: c.lease_ttl_ms, ..o.settings.clone() },
        calm: None,
        ..o.clone()
    });
    let mut phases: Vec<(usize, &ChaosOpts, bool)> = o.agents.iter().map(|&n| (n, o, false)).collect();
    if let Some(c) = &calm {
        phases.extend(o.agents.iter().map(|&n| (n, c, true)));
    }
    for (n, po, is_calm) in phases {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        let seed = rng.fork();
        println!(
            "== chaos N={n}{}: target {} acquisitions or {} s (phase seed {seed})",
            if is_calm { " (calm: no nemesis)" } else { "" },
            po.acquisitions,
            po.duration.as_secs()
        );
        let dir = root.join(if is_calm { format!("n{n}-calm") } else { format!("n{n}") });
        let report = match phase(po, n, seed, &dir, is_calm, interrupted) {
            Ok(r) => r,
            Err(msg) => {
                let mut r = PhaseReport::failed(n, &msg);
                r.dir = dir.clone();
                r
            }
        };
        report.print();
        reports.push(report);
    }
    reports
}

/// One phase: N agents for `o.acquisitions` or `o.duration`; with `calm` no nemesis runs.
fn phase(
    o: &ChaosOpts,
    n: usize,
    seed: u64,
    dir: &Path,
    calm: bool,
    interrupted: &Arc<AtomicBool>,
) -> Result<PhaseReport, String> {
    let started = Instant::now();
    let data = dir.join("data");
    let project = dir.join("project");
    let run = dir.join("run");
    for d in [&data, &run] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    make_project(&project)?;
    let project = fs::canonicalize(&project).map_err(|e| e.to_string())?;
    let settings = o.settings.json();
    fs::write(run.join("settings.json"), &settings).map_err(|e| e.to_string())?;
    let journal = File::create(run.join("journal.jsonl")).map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared {
        journal: Mutex::new(journal),
        seq: AtomicU64::new(0),
        slots: Mutex::new(Vec::new()),
        register: Mutex::new(Register { value: 0, last_turn: 0 }),
        stop: AtomicBool::new(false),
        tt: o.tt.clone(),
        data: data.clone(),
        project: project.clone(),
        settings: settings.clone(),
    });
    shared.journal(json!({"k": "start", "n": n, "seed": seed, "settings": settings, "calm": calm}));

    let socket = run.join("reg.sock");
    let listener = UnixListener::bind(&socket).map_err(|e| format!("bind {}: {e}", socket.display()))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let server = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || serve(&shared, &listener))
    };

    let mut rng = Rng::new(seed);
    let mut children: Vec<Option<Child>> = Vec::new();
    {
        let mut slots = shared.slots();
        for _ in 0..n {
            slots.push(Slot {
                inc: 0,
                pid: 0,
                agent: String::new(),
                phase: "spawning".into(),
                turn: 0,
                lease: String::new(),
                guardian: 0,
                alive: false,
                restart_at: Some(Instant::now()),
            });
            children.push(None);
        }
    }
    let spawn = |slot: usize, inc: u64, rng: &mut Rng| -> Result<Child, String> {
        let stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.join(format!("agent-{slot}.stderr")))
            .map_err(|e| e.to_string())?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.arg("--agent-loop")
            .args(["--slot", &slot.to_string(), "--inc", &inc.to_string()])
            .arg("--tt")
            .arg(&o.tt)
            .arg("--run-dir")
            .arg(&run)
            .arg("--socket")
            .arg(&socket)
            .args(["--seed", &rng.fork().to_string()])
            .args(["--coordinator", &std::process::id().to_string()])
            .args(["--work-ms", &format!("{}:{}", o.work_ms.0, o.work_ms.1)]);
        scrub_env(&mut cmd);
        cmd.env("TT_DATA_DIR", &data)
            .env("TT_SETTINGS", &settings)
            .env("CODEX_THREAD_ID", format!("chaos-{slot}"))
            .current_dir(&project)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .process_group(0);
        cmd.spawn().map_err(|e| format!("cannot start agent {slot}: {e}"))
    };

    // A calm phase runs no nemesis (its seed is still drawn, so later draws do not shift).
    let nseed = rng.fork();
    let nemesis = (!calm).then(|| {
        let shared = Arc::clone(&shared);
        let nopts = o.nemesis.clone();
        let lease_ttl = o.settings.lease_ttl_ms;
        std::thread::spawn(move || nemesis(&shared, &nopts, lease_ttl, nseed))
    });

    let mut acquisitions = 0i64;
    let mut next_count = Instant::now();
    let mut next_progress = Instant::now() + Duration::from_secs(10);
    let mut db: Option<Connection> = None;
    let mut unexpected = 0u64;
    loop {
        // Reap and restart.
        for (slot, child) in children.iter_mut().enumerate() {
            if let Some(c) = child
                && let Ok(Some(status)) = c.try_wait()
            {
                let mut slots = shared.slots();
                let s = &mut slots[slot];
                if s.alive {
                    // Not killed by the nemesis: an agent failed on its own.
                    unexpected += 1;
                    s.alive = false;
                    s.restart_at = Some(Instant::now() + Duration::from_millis(o.nemesis.restart_ms.0));
                    drop(slots);
                    shared.journal(json!({"k": "agent_exit", "slot": slot, "status": status.to_string()}));
                }
                *child = None;
            }
            let due = {
                let slots = shared.slots();
                child.is_none() && slots[slot].restart_at.is_some_and(|t| Instant::now() >= t)
            };
            if due && !shared.stop.load(Ordering::Relaxed) {
                let inc = {
                    let slots = shared.slots();
                    if slots[slot].pid == 0 { 0 } else { slots[slot].inc + 1 }
                };
                let c = spawn(slot, inc, &mut rng)?;
                let pid = i32::try_from(c.id()).unwrap_or(0);
                {
                    let mut slots = shared.slots();
                    let s = &mut slots[slot];
                    s.inc = inc;
                    s.pid = pid;
                    s.alive = true;
                    s.phase = "spawned".into();
                    s.restart_at = None;
                    s.turn = 0;
                    s.lease.clear();
                    s.guardian = 0;
                }
                shared.journal(json!({"k": "spawn", "slot": slot, "inc": inc, "pid": pid}));
                *child = Some(c);
            }
        }
        if Instant::now() >= next_count {
            next_count = Instant::now() + Duration::from_millis(500);
            if db.is_none() && data.join("rooms.sqlite").exists() {
                db = open_db(&data).ok();
            }
            if let Some(conn) = &db
                && let Ok(Some(room)) = room_row(conn)
            {
                acquisitions = room.turn_id;
            }
        }
        if Instant::now() >= next_progress {
            next_progress = Instant::now() + Duration::from_secs(10);
            println!(
                "   {:>4.0} s: {acquisitions} acquisitions, {} journal records",
                started.elapsed().as_secs_f64(),
                shared.seq.load(Ordering::Relaxed)
            );
        }
        let done = u64::try_from(acquisitions).unwrap_or(0) >= o.acquisitions
            || started.elapsed() >= o.duration
            || interrupted.load(Ordering::Relaxed);
        if done {
            break;
        }
        sleep_ms(20);
    }

    // Stop: the nemesis resumes whatever it paused; agents finish their turn and exit.
    shared.stop.store(true, Ordering::SeqCst);
    if let Some(h) = nemesis {
        let _ = h.join();
    }
    fs::write(run.join("stop"), "").map_err(|e| e.to_string())?;
    shared.journal(json!({"k": "stop"}));
    let until = Instant::now() + Duration::from_secs(20);
    while children.iter().any(Option::is_some) && Instant::now() < until {
        for (slot, c) in children.iter_mut().enumerate() {
            if let Some(ch) = c
                && let Ok(Some(_)) = ch.try_wait()
            {
                shared.slots()[slot].alive = false;
                *c = None;
            }
        }
        sleep_ms(20);
    }
    let mut hung = 0;
    for (slot, c) in children.iter_mut().enumerate() {
        let Some(ch) = c else { continue };
        hung += 1;
        if let Ok(pid) = i32::try_from(ch.id()) {
            signal_group(pid, rustix::process::Signal::CONT);
            signal_group(pid, rustix::process::Signal::KILL);
        }
        let _ = ch.wait();
        shared.slots()[slot].alive = false;
    }
    // Every guardian must have exited on its own: released turns stop theirs, superseded ones exit at
    // their next heartbeat, a dead holder's relinquishes after the gone grace.
    let settle = Duration::from_millis((o.settings.heartbeat_ms * 4 + o.settings.lease_ttl_ms).max(3000));
    let left = settle_guardians(&project, settle);
    let _ = server.join();
    let elapsed = started.elapsed();
    drop(db);
    let mut report = check::check_phase(n, &data, &run)?;
    report.elapsed = elapsed;
    report.dir = dir.to_path_buf();
    report.seed = seed;
    if hung > 0 {
        report.problem(format!("{hung} agent(s) did not stop within 20 s of the stop marker"));
    }
    if unexpected > 0 {
        report.problem(format!("{unexpected} agent(s) exited without being killed (see run/agent-*.stderr)"));
    }
    if !left.is_empty() {
        report.problem(format!(
            "{} guardian(s) still ran {} ms after the agents stopped: {left:?}",
            left.len(),
            settle.as_millis()
        ));
    }
    let _ = fs::remove_file(&socket);
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// The register node

fn serve(shared: &Arc<Shared>, listener: &UnixListener) {
    let mut conns = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) || conns.iter().any(|h: &std::thread::JoinHandle<()>| !h.is_finished()) {
        match listener.accept() {
            Ok((stream, _)) => {
                let shared = Arc::clone(shared);
                conns.push(std::thread::spawn(move || connection(&shared, stream)));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => sleep_ms(5),
            Err(_) => sleep_ms(5),
        }
        if shared.stop.load(Ordering::Relaxed) && shared.slots().iter().all(|s| !s.alive || s.pid == 0) {
            break;
        }
        conns.retain(|h| !h.is_finished());
    }
}

fn connection(shared: &Arc<Shared>, stream: UnixStream) {
    let _ = stream.set_nonblocking(false);
    let Ok(read_half) = stream.try_clone() else { return };
    let mut input = BufReader::new(read_half);
    let mut out = stream;
    let mut me: Option<(usize, u64)> = None;
    let mut db: Option<Connection> = None;
    let mut line = String::new();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(req) = serde_json::from_str::<Value>(&line) else { continue };
        let op = req.get("op").and_then(Value::as_str).unwrap_or("");
        match op {
            "hello" => {
                let slot = req.get("slot").and_then(Value::as_u64).unwrap_or(0) as usize;
                let inc = req.get("inc").and_then(Value::as_u64).unwrap_or(0);
                let agent = req.get("agent").and_then(Value::as_str).unwrap_or("").to_owned();
                me = Some((slot, inc));
                let mut slots = shared.slots();
                if let Some(s) = slots.get_mut(slot).filter(|s| s.inc == inc) {
                    s.agent = agent.clone();
                    s.phase = "start".into();
                }
                drop(slots);
                shared.journal(json!({"k": "hello", "slot": slot, "inc": inc, "agent": agent}));
            }
            "phase" => {
                let Some((slot, inc)) = me else { continue };
                let mut slots = shared.slots();
                if let Some(s) = slots.get_mut(slot).filter(|s| s.inc == inc && s.alive) {
                    s.phase = req.get("phase").and_then(Value::as_str).unwrap_or("").to_owned();
                    s.turn = req.get("turn").and_then(Value::as_i64).unwrap_or(0);
                    s.lease = req.get("lease").and_then(Value::as_str).unwrap_or("").to_owned();
                    s.guardian =
                        req.get("guardian").and_then(Value::as_i64).and_then(|g| i32::try_from(g).ok()).unwrap_or(0);
                }
            }
            "read" => {
                let reg = lock(&shared.register);
                let answer = json!({"value": reg.value, "turn": reg.last_turn});
                drop(reg);
                if reply(&mut out, &answer).is_err() {
                    return;
                }
            }
            "write" => {
                let (slot, inc) = me.unwrap_or((usize::MAX, 0));
                let answer = fenced_write(shared, &req, slot, inc, &mut db);
                if reply(&mut out, &answer).is_err() {
                    return;
                }
            }
            _ => {}
        }
    }
}

fn reply(out: &mut UnixStream, v: &Value) -> std::io::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    out.write_all(line.as_bytes())
}

/// The storage node's write: serialised by the register lock, accepted only when `tt heartbeat` with
/// the request's `(lease_id, turn_id)` succeeds (protocol.md §10.2 fencing, inside `tt`'s own
/// transaction) — the check and the write are atomic with respect to every other write. Before the
/// check the node reads the room row (read-only), so the journal says whether the token was already
/// superseded when the request was checked.
fn fenced_write(shared: &Arc<Shared>, req: &Value, slot: usize, inc: u64, db: &mut Option<Connection>) -> Value {
    let agent = req.get("agent").and_then(Value::as_str).unwrap_or("").to_owned();
    let turn = req.get("turn").and_then(Value::as_i64).unwrap_or(-1);
    let lease = req.get("lease").and_then(Value::as_str).unwrap_or("").to_owned();
    let read = req.get("read").and_then(Value::as_u64).unwrap_or(0);
    let value = req.get("value").and_then(Value::as_u64).unwrap_or(0);
    let recv = shared.journal(json!({"k": "write_recv", "slot": slot, "inc": inc, "agent": agent, "turn": turn}));
    let mut reg = lock(&shared.register);
    if db.is_none() {
        *db = open_db(&shared.data).ok();
    }
    let before = db.as_ref().and_then(|c| room_row(c).ok().flatten());
    let mut cmd = Command::new(&shared.tt);
    scrub_env(&mut cmd);
    cmd.env("TT_DATA_DIR", &shared.data).env("TT_SETTINGS", &shared.settings).current_dir(&shared.project).args([
        "--agent",
        &agent,
        "--json",
        "heartbeat",
        "--lease-id",
        &lease,
        "--turn-id",
        &turn.to_string(),
    ]);
    let fence = run_tt(cmd);
    let accepted = fence.ok();
    let error = (!accepted).then(|| fence.error_code());
    let reg_before = reg.value;
    let reg_turn_before = reg.last_turn;
    if accepted {
        reg.value = value;
        reg.last_turn = turn;
    }
    shared.journal(json!({
        "k": "write", "recv": recv, "slot": slot, "inc": inc, "agent": agent, "turn": turn, "lease": lease,
        "read": read, "value": value, "accepted": accepted, "error": error,
        "reg_before": reg_before, "reg_turn_before": reg_turn_before,
        "db_turn": before.as_ref().map(|r| r.turn_id), "db_owner": before.as_ref().and_then(|r| r.owner.clone()),
        "db_lease": before.as_ref().and_then(|r| r.lease_id.clone()),
    }));
    drop(reg);
    json!({"accepted": accepted, "error": error})
}

// ---------------------------------------------------------------------------------------------
// The nemesis

#[derive(Clone, Copy, Debug)]
enum Fault {
    KillHolder,
    KillWaiter,
    PauseHolder,
}

fn nemesis(shared: &Arc<Shared>, o: &NemesisOpts, lease_ttl_ms: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    let total: u64 = o.weights.iter().sum();
    loop {
        let until = Instant::now() + Duration::from_millis(rng.range(o.gap_ms.0, o.gap_ms.1));
        while Instant::now() < until {
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            sleep_ms(20);
        }
        let mut pick = rng.below(total.max(1));
        let mut fault = Fault::PauseHolder;
        for (i, f) in [Fault::KillHolder, Fault::KillWaiter, Fault::PauseHolder].into_iter().enumerate() {
            if pick < o.weights[i] {
                fault = f;
                break;
            }
            pick -= o.weights[i];
        }
        let want: &[&str] = match fault {
            Fault::KillHolder => &["work", "write"],
            Fault::KillWaiter => &["wait"],
            Fault::PauseHolder => &["work"],
        };
        let Some(slot) = find_target(shared, want, &mut rng) else {
            shared.journal(json!({"k": "nemesis_idle", "fault": format!("{fault:?}")}));
            continue;
        };
        match fault {
            Fault::KillHolder | Fault::KillWaiter => kill(shared, slot, fault, o, &mut rng),
            Fault::PauseHolder => pause(shared, slot, lease_ttl_ms, &mut rng),
        }
    }
}

/// A live slot in one of the `phases`, chosen at random among those found; waits up to 3 s for one.
fn find_target(shared: &Arc<Shared>, phases: &[&str], rng: &mut Rng) -> Option<usize> {
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && !shared.stop.load(Ordering::Relaxed) {
        let found: Vec<usize> = shared
            .slots()
            .iter()
            .enumerate()
            .filter(|(_, s)| s.alive && s.pid > 0 && phases.contains(&s.phase.as_str()))
            .map(|(i, _)| i)
            .collect();
        if !found.is_empty() {
            return Some(found[rng.below(found.len() as u64) as usize]);
        }
        sleep_ms(3);
    }
    None
}

fn kill(shared: &Arc<Shared>, slot: usize, fault: Fault, o: &NemesisOpts, rng: &mut Rng) {
    let restart = Duration::from_millis(rng.range(o.restart_ms.0, o.restart_ms.1));
    let mut slots = shared.slots();
    let s = &mut slots[slot];
    if !s.alive {
        return;
    }
    // The agent leads its own process group: this kills it and the `tt` it is running (not its
    // guardian, which runs in a session of its own).
    signal_group(s.pid, rustix::process::Signal::KILL);
    s.alive = false;
    s.restart_at = Some(Instant::now() + restart);
    let record = json!({"k": "kill", "role": if matches!(fault, Fault::KillHolder) { "holder" } else { "waiter" },
                        "slot": slot, "inc": s.inc, "pid": s.pid, "agent": s.agent, "phase": s.phase,
                        "turn": s.turn, "lease": s.lease});
    s.phase = "dead".into();
    drop(slots);
    shared.journal(record);
}

/// SIGSTOP the holder (its process group) and its guardian, keep them stopped until another agent's
/// takeover has committed (or the lease has long expired with nobody taking over), then SIGCONT.
fn pause(shared: &Arc<Shared>, slot: usize, lease_ttl_ms: u64, rng: &mut Rng) {
    let (pid, inc, agent, turn, lease, guardian) = {
        let slots = shared.slots();
        let s = &slots[slot];
        (s.pid, s.inc, s.agent.clone(), s.turn, s.lease.clone(), s.guardian)
    };
    // Only the guardian of this very lease: a reused pid is never signalled.
    let args = cmdline(guardian);
    if guardian <= 0 || !args.iter().any(|a| a == "guard") || !args.contains(&lease) {
        shared.journal(json!({"k": "nemesis_idle", "fault": "PauseHolder", "why": "guardian not found", "slot": slot}));
        return;
    }
    signal_pid(guardian, rustix::process::Signal::STOP);
    signal_group(pid, rustix::process::Signal::STOP);
    {
        let mut slots = shared.slots();
        if slots[slot].inc == inc {
            slots[slot].phase = "paused".into();
        }
    }
    let paused = shared.journal(json!({"k": "pause", "slot": slot, "inc": inc, "pid": pid, "agent": agent,
                                       "turn": turn, "lease": lease, "guardian": guardian}));
    let db = open_db(&shared.data).ok();
    let limit = Instant::now() + Duration::from_millis(lease_ttl_ms * 2 + 3000);
    let mut outcome = "no_takeover";
    while Instant::now() < limit && !shared.stop.load(Ordering::Relaxed) {
        if let Some(room) = db.as_ref().and_then(|c| room_row(c).ok().flatten())
            && room.turn_id > turn
        {
            shared.journal(json!({"k": "superseded", "pause": paused, "slot": slot, "inc": inc, "agent": agent,
                                  "turn": turn, "new_turn": room.turn_id, "owner": room.owner}));
            outcome = "superseded";
            // Sometimes give the new holder time to write first, sometimes not.
            sleep_ms(rng.range(0, 300));
            break;
        }
        sleep_ms(25);
    }
    signal_group(pid, rustix::process::Signal::CONT);
    signal_pid(guardian, rustix::process::Signal::CONT);
    shared.journal(json!({"k": "resume", "pause": paused, "slot": slot, "inc": inc, "agent": agent, "turn": turn,
                          "outcome": outcome}));
}
