//! `tt guard` (internal, cli.md §4.19): the guardian process of protocol.md §16.3. It
//! renews the lease every `heartbeat_interval_ms` and relinquishes it when the owner's
//! harness is persistently gone; it never creates the data directory and never purges.

use super::{Context, caller};
use crate::error::{ErrorCode, TtError};
use crate::identity::{self, HarnessArgs};
use crate::liveness::{ProcessRef, Verdict};
use crate::store::Store;
use std::io::Write;
use std::time::Duration;

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
    let interval = Duration::from_millis(ctx.settings.heartbeat_interval_ms.max(1));
    loop {
        std::thread::sleep(interval);
        if !Store::path_in(&ctx.data_dir).is_file() {
            return Ok(());
        }
        let verdict = match svc.liveness.file_verdict(&args.agent) {
            Some(v) => Some(v),
            None => harness.as_ref().map(|h| svc.liveness.process_verdict(h)),
        };
        if verdict == Some(Verdict::Gone) {
            match svc.relinquish(&args.room_id, &args.agent, &args.lease_id, args.turn_id) {
                Ok("retained") => {}
                Ok(_) => return Ok(()),
                Err(e) if e.code == ErrorCode::DatabaseBusy => continue,
                Err(e) => return Err(e),
            }
        }
        match svc.heartbeat(&args.room_id, &args.agent, &args.lease_id, args.turn_id) {
            Ok(_) => {}
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

/// Point stdout and stderr at `/dev/null` after `READY` (§16.3 step 3), so the parent
/// can close its pipe ends.
fn silence_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}
