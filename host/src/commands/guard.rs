//! `tt guard` (internal, cli.md §4.19): the guardian process of protocol.md §16.3. It
//! renews the lease every `heartbeat_interval_ms` and relinquishes it when the owner's
//! harness is persistently gone; it never creates the data directory and never purges.
//! host-lock.md adds two duties (§4.3, §8.3): every lease heartbeat runs the writing
//! host-lock check (and is skipped, not fatal, under a foreign lock), and a 60 s lock
//! tick keeps the heartbeat of `host.lock` fresh while the guardian lives.

use super::{Context, caller};
use crate::error::{ErrorCode, TtError};
use crate::identity::{self, HarnessArgs};
use crate::liveness::{ProcessRef, Verdict};
use crate::lock::{self, Access};
use crate::store::Store;
use std::io::Write;
use std::time::{Duration, Instant};

/// The command line of `tt guard`.
#[derive(Clone, Debug, Default)]
pub struct GuardArgs {
    /// `--agent`.
    pub agent: String,
    /// `--context-path` (informational).
    pub context_path: String,
    /// `--room-id`.
    pub room_id: String,
    /// `--lease-id`.
    pub lease_id: String,
    /// `--turn-id`.
    pub turn_id: i64,
    /// The harness fields.
    pub harness: HarnessArgs,
}

/// Run the guardian; returns the exit code (0 on every orderly end, 1 on an unexpected
/// error).
pub fn run(ctx: &Context, args: &GuardArgs) -> i32 {
    // Detach into a new session so the agent's terminal and process group signals do
    // not reach it (§16.1). Fails only if already a group leader; then stay as is.
    let _ = rustix::process::setsid();
    match guard(ctx, args) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn guard(ctx: &Context, args: &GuardArgs) -> Result<(), TtError> {
    if !Store::path_in(&ctx.data_dir).is_file() {
        return Ok(());
    }
    let mut liveness = ctx.liveness()?;
    let identity = identity::guardian(&args.agent, &args.harness, &mut liveness);
    let mut svc = ctx.service(liveness)?;
    let who = caller(&identity);
    if svc.rejoin(&who, &args.room_id)?.is_none() {
        return Ok(());
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(b"READY\n");
        let _ = out.flush();
    }
    silence_stdio();
    let harness = match (args.harness.pid, args.harness.started_at) {
        (Some(pid), Some(started)) => Some(ProcessRef {
            host_id: args.harness.host_id.clone(),
            boot_id: args.harness.boot_id.clone(),
            pid: Some(pid),
            started_at: Some(started),
        }),
        _ => None,
    };
    let mut schedule = Schedule::new(ctx.settings.heartbeat_interval_ms.max(1));
    let lock = ctx.lock_config(svc.liveness.machine(), crate::fscheck::probe_fs_type(&ctx.data_dir, &ctx.env));
    let started = Instant::now();
    let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    loop {
        std::thread::sleep(Duration::from_millis(schedule.until_next(elapsed())));
        let duties = schedule.due(elapsed());
        if duties.tick {
            // host-lock.md §4.3: the 60 s lock tick keeps a live holder's heartbeat fresh;
            // it touches nothing while the lock is foreign.
            lock::tick(&lock, ctx.clock.now_ms());
        }
        if !duties.heartbeat {
            continue;
        }
        if !Store::path_in(&ctx.data_dir).is_file() {
            return Ok(());
        }
        // Every lease heartbeat is a writing command: run the lock check (which also
        // touches the lock when due). Under a foreign lock skip this heartbeat and try
        // again at the next interval; never exit over it (host-lock.md §8.3).
        if lock::check(&lock, Access::Write, &mut svc.policies, ctx.clock.now_ms()).is_err() {
            let _ = svc.policies.take_warnings();
            continue;
        }
        if harness_gone(&mut svc, args, harness.as_ref()) {
            match relinquish(&mut svc, args)? {
                Relinquish::Ended => return Ok(()),
                Relinquish::Retained => {}
                Relinquish::Busy => continue,
            }
        }
        match svc.heartbeat(&args.room_id, &args.agent, &args.lease_id, args.turn_id) {
            Ok(_) => {}
            // The fencing saw the owner persistently gone (protocol.md §10.2) although the
            // harness check just before did not relinquish: the verdict or the gone grace
            // changed between the two transactions (a liveness-file re-read, or the grace
            // running out; found by `ft19_relinquish` under load). Run the harness check
            // again and relinquish if it now says gone, rather than exit and leave a dead
            // owner's turn to a takeover; otherwise exit as §16.3 step 4b says.
            Err(e)
                if e.code == ErrorCode::StaleLease
                    && e.details.get("room_state").and_then(serde_json::Value::as_str) == Some("owner_gone")
                    && harness_gone(&mut svc, args, harness.as_ref()) =>
            {
                match relinquish(&mut svc, args)? {
                    Relinquish::Busy => {}
                    Relinquish::Ended | Relinquish::Retained => return Ok(()),
                }
            }
            Err(e) if matches!(e.code, ErrorCode::StaleLease | ErrorCode::TurnMismatch | ErrorCode::RoomNotFound) => {
                return Ok(());
            }
            Err(e) if e.code == ErrorCode::DatabaseBusy => {}
            Err(e) => return Err(e),
        }
        if !Store::path_in(&ctx.data_dir).is_file() {
            return Ok(());
        }
    }
}

/// The harness check of §16.3 step 4a: `TT_LIVENESS_FILE[agent_id]` if listed, else §6.3
/// steps 1–8 on the harness reference (none → the check is skipped: not gone).
fn harness_gone(svc: &mut crate::service::Service, args: &GuardArgs, harness: Option<&ProcessRef>) -> bool {
    let verdict = match svc.liveness.file_verdict(&args.agent) {
        Some(v) => Some(v),
        None => harness.map(|h| svc.liveness.process_verdict(h)),
    };
    verdict == Some(Verdict::Gone)
}

/// The outcome of one relinquish call (protocol.md §10.9) for the guardian loop.
enum Relinquish {
    /// `relinquished` or `noop`: the guardian's work is over (§16.3 step 4a).
    Ended,
    /// `retained`: the owner is not persistently gone yet.
    Retained,
    /// `database_busy`: try again at the next interval.
    Busy,
}

/// Relinquish the guarded turn. Errors: any error of §10.9 but `database_busy`.
fn relinquish(svc: &mut crate::service::Service, args: &GuardArgs) -> Result<Relinquish, TtError> {
    match svc.relinquish(&args.room_id, &args.agent, &args.lease_id, args.turn_id) {
        Ok("retained") => Ok(Relinquish::Retained),
        Ok(_) => Ok(Relinquish::Ended),
        Err(e) if e.code == ErrorCode::DatabaseBusy => Ok(Relinquish::Busy),
        Err(e) => Err(e),
    }
}

/// What falls due in one wake-up of the guardian loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Duties {
    /// The lease heartbeat (protocol.md §16.3 step 4).
    pub heartbeat: bool,
    /// The lock tick (host-lock.md §4.3).
    pub tick: bool,
}

/// When a guardian acts: the lease heartbeat every `heartbeat_interval_ms` (the first
/// after one full interval, protocol.md §16.3) and the lock tick every
/// [`lock::TICK_EVERY_MS`] (host-lock.md §4.3). Times are ms since the guardian started,
/// so the schedule is testable with a simulated clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    heartbeat_every: u64,
    next_heartbeat: u64,
    next_tick: u64,
}

impl Schedule {
    /// A schedule for a heartbeat interval of `heartbeat_every_ms` (≥ 1).
    pub fn new(heartbeat_every_ms: u64) -> Schedule {
        let every = heartbeat_every_ms.max(1);
        Schedule { heartbeat_every: every, next_heartbeat: every, next_tick: lock::TICK_EVERY_MS }
    }

    /// How long to sleep (ms) from `elapsed` until the next duty.
    pub fn until_next(&self, elapsed: u64) -> u64 {
        self.next_heartbeat.min(self.next_tick).saturating_sub(elapsed)
    }

    /// The duties due at `elapsed`; their next deadlines move past `elapsed`.
    pub fn due(&mut self, elapsed: u64) -> Duties {
        let mut d = Duties::default();
        if elapsed >= self.next_heartbeat {
            d.heartbeat = true;
            while self.next_heartbeat <= elapsed {
                self.next_heartbeat = self.next_heartbeat.saturating_add(self.heartbeat_every);
            }
        }
        if elapsed >= self.next_tick {
            d.tick = true;
            while self.next_tick <= elapsed {
                self.next_tick = self.next_tick.saturating_add(lock::TICK_EVERY_MS);
            }
        }
        d
    }
}

/// Point stdout and stderr at `/dev/null` after `READY` (§16.3 step 3), so the parent
/// can close its pipe ends.
fn silence_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}
