//! The turn commands (cli.md §4.6–§4.11): `wait`, `try`, `take`, `heartbeat`, `release`,
//! `pass`, `assign`, with the session file (cli.md §3), the event cursor (protocol.md
//! §17.5) and the guardian lifecycle (§16).

use super::room::{self, elide_events, event_line, lookup_room, relative};
use super::{Context, Outcome, caller};
use crate::error::{ErrorCode, TtError};
use crate::identity::{HarnessArgs, Identity};
use crate::liveness::Verdict;
use crate::service::commitments::{Recorded, commitment_id};
use crate::service::turn::{GrantReason, HandoffClaim, Mode, PollResult, PollState};
use crate::service::{Caller, Service};
use crate::sessions::{self, SessionRow};
use crate::store::{Event, EventFilter, Target};
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Hint on a `your_turn` with a guardian (cli.md §2.8).
pub const HINT_YOUR_TURN: &str =
    "You hold the stick: work, then release or pass before stopping (`tt release --status … --next-action …`).";
/// Hint on a `not_yet` with events (cli.md §2.8, exact).
pub const HINT_EVENTS: &str = "Wait exited: process events; if work remains, start one successor.";
/// Hint after a release, pass or assign (cli.md §2.8).
pub const HINT_RELEASED: &str =
    "Work remains? Keep one `tt wait` running to get the stick back; the handoff waits for the next holder.";

/// Options of `tt wait` and `tt try`.
#[derive(Clone, Debug, Default)]
pub struct WaitArgs {
    /// `[path]`.
    pub path: Option<String>,
    /// `--timeout` (None = forever; `tt try` uses zero).
    pub timeout: Option<Duration>,
    /// `--park`.
    pub park: bool,
    /// `--after N`.
    pub after: Option<i64>,
    /// `tt try`: exactly one cycle with `max_wait_ms = 0`.
    pub single: bool,
}

/// The result of one event-mode wait cycle (protocol.md §10.6.2).
struct CycleResult {
    result: PollResult,
    events: Vec<Event>,
    cursor: i64,
    wake_reason: &'static str,
}

fn turn_wake(r: &PollResult, started_as_owner: bool) -> bool {
    match r {
        PollResult::YourTurn { reason: GrantReason::AlreadyOwner, .. } => !started_as_owner,
        PollResult::YourTurn { .. } | PollResult::TookOver { .. } | PollResult::TakeoverAvailable { .. } => true,
        PollResult::NotYet { reason, .. } => matches!(reason, Some("auto_claim_disabled" | "lost_turn")),
        PollResult::Closed { .. } => false,
    }
}

/// One WAIT_CYCLE in event mode (§10.6.2).
#[allow(clippy::too_many_arguments, reason = "the inputs of §10.6.2")]
fn cycle(
    svc: &mut Service,
    waiter: Option<&crate::wake::Waiter>,
    room_id: &str,
    who: &Caller,
    mode: Mode,
    max_wait: Duration,
    after: i64,
    state: &mut PollState,
    stop: &dyn Fn() -> bool,
) -> Result<CycleResult, TtError> {
    let deadline = Instant::now() + max_wait;
    let started_as_owner = svc.holds_live_lease(room_id, &who.agent_id)?;
    let mut filter = EventFilter::room(room_id, after);
    filter.target = Target::SelfOf(who.agent_id.clone());
    let poll_ms = svc.settings.wait_for_turn_poll_ms.max(1);
    loop {
        let polled = svc.poll_with_events(
            room_id,
            who,
            mode,
            started_as_owner,
            state,
            Some((&filter, crate::service::limits::WAKE_EVENTS)),
        );
        let (r, events) = match polled {
            Ok(found) => found,
            // A blocking wait outlives a busy writer: the lock holder commits, the next
            // iteration re-reads (the error is `retryable`). `tt try` reports it.
            Err(e) if e.code == ErrorCode::DatabaseBusy && !max_wait.is_zero() && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(poll_ms).min(deadline - Instant::now()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let cursor = events.last().map_or(after, |e| e.event_seq);
        if matches!(r, PollResult::Closed { .. }) {
            return Ok(CycleResult { result: r, events, cursor, wake_reason: "closed" });
        }
        if turn_wake(&r, started_as_owner) {
            return Ok(CycleResult { result: r, events, cursor, wake_reason: "turn" });
        }
        if !events.is_empty() {
            return Ok(CycleResult { result: r, events, cursor, wake_reason: "event" });
        }
        let now = Instant::now();
        if now >= deadline || stop() {
            return Ok(CycleResult { result: r, events: Vec::new(), cursor: after, wake_reason: "timeout" });
        }
        let nap = Duration::from_millis(poll_ms).min(deadline - now);
        match waiter {
            Some(w) => {
                let _ = w.wait(nap);
            }
            None => std::thread::sleep(nap),
        }
    }
}

/// What a turn result does to the lease fields of the session row (cli.md §3.3).
enum LeaseChange {
    /// Record the lease and its guardian `(pid, start time s)`; None when the guardian
    /// could not be started (§16.2).
    Record { lease_id: String, turn_id: i64, guardian: Option<(i64, i64)> },
    /// Clear the lease (the recorded guardian was stopped).
    Clear,
    /// Leave the lease fields alone.
    Keep,
}

/// One session-row write after a wait/try/take (cli.md §3.3): the join refresh, the
/// cursor and the lease change together, so a grant costs one locked rewrite of
/// `cli-sessions.json`, not three.
fn write_row(
    ctx: &Context,
    svc: &mut Service,
    agent: &str,
    room_id: &str,
    join: (&str, &str),
    cursor: Option<i64>,
    lease: &LeaseChange,
) -> Result<(), TtError> {
    let live = svc.read(|tx, _| tx.room_ids())?;
    let sessions = ctx.sessions();
    let now = sessions.now_iso();
    sessions.update(&live, |rows| {
        sessions::join_refresh(rows, agent, room_id, join.0, join.1, None, &now);
        if let Some(c) = cursor {
            sessions::record_cursor(rows, agent, room_id, c, &now);
        }
        match lease {
            LeaseChange::Record { lease_id, turn_id, guardian } => {
                sessions::record_lease(rows, agent, room_id, lease_id, *turn_id, *guardian, &now);
            }
            LeaseChange::Clear => {
                sessions::clear_lease(rows, agent, room_id, &now);
            }
            LeaseChange::Keep => {}
        }
    })
}

/// Guardian handling after a turn result (protocol.md §16): spawn after a grant or a
/// takeover, repair or reuse on `already_owner`, stop on `lost_turn`. Returns the
/// `guardian_pid`, the repair note for the text output and the session-row change; the
/// caller writes the row. `join` = the room's `(canonical_path, workspace_root)`.
fn settle_guardian(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    room_id: &str,
    join: (&str, &str),
    result: &PollResult,
) -> Result<(Option<i64>, Option<&'static str>, LeaseChange), TtError> {
    let agent = &identity.agent_id;
    let sessions = ctx.sessions();
    match result {
        PollResult::YourTurn { reason: GrantReason::AlreadyOwner, turn_id, lease_id, .. } => {
            let row = sessions::find(&sessions.read(), agent, room_id).cloned();
            let recorded = row
                .as_ref()
                .filter(|r| r.lease_id.as_deref() == Some(lease_id.as_str()))
                .and_then(SessionRow::guardian);
            let verdict = recorded.map(|(pid, started)| svc.liveness.local_process_verdict(pid, started));
            let (guardian, note) = match (recorded, verdict) {
                (Some((pid, started)), Some(Verdict::Alive | Verdict::Unknown)) => (Some((pid, started)), None),
                (Some(_), _) => (None, Some("prior guardian was gone; spawned replacement")),
                (None, _) => (None, Some("no guardian was recorded; spawned replacement")),
            };
            let guardian = match guardian {
                Some(g) => g,
                None => spawn_or_fail(ctx, svc, identity, room_id, join, lease_id, *turn_id)?,
            };
            let change =
                LeaseChange::Record { lease_id: lease_id.clone(), turn_id: *turn_id, guardian: Some(guardian) };
            Ok((Some(guardian.0), note, change))
        }
        PollResult::YourTurn { turn_id, lease_id, .. } | PollResult::TookOver { turn_id, lease_id, .. } => {
            let g = spawn_or_fail(ctx, svc, identity, room_id, join, lease_id, *turn_id)?;
            Ok((
                Some(g.0),
                None,
                LeaseChange::Record { lease_id: lease_id.clone(), turn_id: *turn_id, guardian: Some(g) },
            ))
        }
        PollResult::NotYet { reason: Some("lost_turn"), .. } => {
            if let Some((pid, started)) =
                sessions::find(&sessions.read(), agent, room_id).and_then(SessionRow::guardian)
            {
                let _ = svc.liveness.terminate_known_process(pid, started);
            }
            Ok((None, None, LeaseChange::Clear))
        }
        _ => Ok((None, None, LeaseChange::Keep)),
    }
}

/// Spawn the guardian; on failure record the lease without a guardian and fail with
/// `guardian_failed` (§16.2).
fn spawn_or_fail(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    room_id: &str,
    join: (&str, &str),
    lease_id: &str,
    turn_id: i64,
) -> Result<(i64, i64), TtError> {
    match spawn_guardian(ctx, svc, identity, room_id, join.0, lease_id, turn_id) {
        Ok(g) => Ok(g),
        Err(message) => {
            let unguarded = LeaseChange::Record { lease_id: lease_id.to_string(), turn_id, guardian: None };
            write_row(ctx, svc, &identity.agent_id, room_id, join, None, &unguarded)?;
            Err(TtError::new(ErrorCode::GuardianFailed, message)
                .with("room_id", room_id)
                .with("turn_id", turn_id)
                .with("lease_id", lease_id)
                .hint(
                    "do not touch the workspace; run `tt wait` to repair the guardian or `tt release` to end the turn",
                ))
        }
    }
}

/// Stop the recorded guardian of `(agent, room)` and clear the lease (§16.4).
pub fn stop_guardian(ctx: &Context, svc: &mut Service, agent: &str, room_id: &str) -> Result<(), TtError> {
    let sessions = ctx.sessions();
    if let Some((pid, started)) = sessions::find(&sessions.read(), agent, room_id).and_then(SessionRow::guardian) {
        let _ = svc.liveness.terminate_known_process(pid, started);
    }
    let live = svc.read(|tx, _| tx.room_ids())?;
    let now = sessions.now_iso();
    sessions.update(&live, |rows| {
        sessions::clear_lease(rows, agent, room_id, &now);
    })
}

/// Start `tt guard …` detached and wait for its `READY` line (§16.1–§16.2). Returns the
/// guardian's `(pid, start time s)`, or the `guardian_failed` message.
fn spawn_guardian(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    room_id: &str,
    canonical_path: &str,
    lease_id: &str,
    turn_id: i64,
) -> Result<(i64, i64), String> {
    // `/proc/self/exe` still runs this very binary after an upgrade replaced `tt` on disk
    // (current_exe() would name the new file, or a deleted one); elsewhere current_exe().
    let proc_self = std::path::Path::new("/proc/self/exe");
    let exe = if proc_self.exists() {
        proc_self.to_path_buf()
    } else {
        std::env::current_exe().map_err(|e| format!("cannot locate the tt executable: {e}"))?
    };
    let mut cmd = Command::new(&exe);
    // argv[0] names the installed binary, so `ps` shows `…/tt guard …`.
    if let Ok(named) = std::env::current_exe() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, named);
    }
    cmd.args(["guard", "--agent", &identity.agent_id, "--context-path", canonical_path, "--room-id", room_id]);
    cmd.args(["--lease-id", lease_id, "--turn-id", &turn_id.to_string()]);
    let h = HarnessArgs::from_metadata(&identity.metadata);
    let pairs: [(&str, Option<String>); 6] = [
        ("--harness-name", h.name),
        ("--harness-session-id", h.session_id),
        ("--harness-host-id", h.host_id),
        ("--harness-boot-id", h.boot_id),
        ("--harness-pid", h.pid.map(|p| p.to_string())),
        ("--harness-process-started-at", h.started_at.map(|p| p.to_string())),
    ];
    for (flag, value) in pairs {
        if let Some(v) = value {
            cmd.args([flag, &v]);
        }
    }
    if ctx.env.get("TT_NOW_MS").is_some() {
        cmd.env("TT_NOW_MS", ctx.clock.now_ms().to_string());
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // The readiness window runs from the spawn (§16.2), not from when this process gets
    // round to waiting: the reader stamps the moment the line arrived, so a parent that
    // was descheduled after the spawn still judges a late READY as late.
    let deadline = Instant::now() + Duration::from_millis(ctx.settings.guard_ready_timeout_ms);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start the guardian: {e}"))?;
    let pid = i64::from(child.id());
    let (tx_line, rx_line) = mpsc::channel::<(Option<String>, Instant)>();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut line = String::new();
            let got = BufReader::new(out).read_line(&mut line).ok().filter(|n| *n > 0).map(|_| line);
            let _ = tx_line.send((got, Instant::now()));
        });
    }
    let (tx_err, rx_err) = mpsc::channel::<String>();
    if let Some(mut err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            let _ = tx_err.send(text);
        });
    }
    let received = rx_line.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    match received {
        Ok((Some(line), at)) if line.trim_end() == "READY" && at <= deadline => {
            let started = svc
                .liveness
                .current_process(pid)
                .and_then(|r| r.started_at)
                .ok_or_else(|| "the guardian exited right after readiness".to_string())?;
            Ok((pid, started))
        }
        // End of output (or another line) within the window: the guardian gave up.
        Ok((_, at)) if at <= deadline => {
            let status = child.wait().ok().and_then(|s| s.code()).map_or("signal".to_string(), |c| c.to_string());
            let stderr = rx_err.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
            Err(format!("Guardian exited before readiness (code {status}): {last}"))
        }
        // Nothing within the window (or a READY stamped after it).
        _ => {
            let _ = svc.liveness.signal_child(pid, false);
            let until = Instant::now() + Duration::from_secs(1);
            while Instant::now() < until {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
            }
            let _ = child.wait();
            Err("Guardian did not signal readiness in time.".to_string())
        }
    }
}

/// The JSON of a wait/try result: §10.1 plus `events`, `cursor_event_seq`,
/// `wake_reason`, `guardian_pid`, `warning`, `hint` (cli.md §4.6).
fn wait_json(c: &CycleResult, guardian: Option<i64>, warning: Option<&str>, verbose: bool) -> Map<String, Value> {
    let mut m = c.result.to_json();
    let events: Vec<Value> = c.events.iter().map(crate::service::shape::event).collect();
    let events = if verbose { events } else { elide_events(&m, events) };
    let has_events = !events.is_empty();
    m.insert("events".into(), Value::Array(events));
    m.insert("cursor_event_seq".into(), json!(c.cursor));
    m.insert("wake_reason".into(), json!(c.wake_reason));
    if let Some(pid) = guardian {
        m.insert("guardian_pid".into(), json!(pid));
    }
    if let Some(w) = warning {
        m.insert("warning".into(), json!(w));
    }
    add_turn_hint(&mut m, guardian.is_some(), has_events);
    if verbose {
        room::add_guidance(&mut m, &c.result);
    }
    m
}

fn add_turn_hint(m: &mut Map<String, Value>, has_guardian: bool, has_events: bool) {
    if m.contains_key("hint") {
        return;
    }
    let status = m.get("status").and_then(Value::as_str).unwrap_or_default();
    if status == "your_turn" && has_guardian {
        m.insert("hint".into(), json!(HINT_YOUR_TURN));
    } else if status == "not_yet" && has_events {
        m.insert("hint".into(), json!(HINT_EVENTS));
    }
}

/// Add `open_commitments` (at most 10 summaries) and `open_commitments_total` to a
/// wait/try/take result when the caller has any (follow-through.md §9; a read, after any
/// grant committed, so inherited ones are included). Returns the text lines: the
/// inherited commitments of a grant, then the open ones.
fn surface_commitments(
    svc: &mut Service,
    room_id: &str,
    agent: &str,
    result: &PollResult,
    m: &mut Map<String, Value>,
) -> Result<String, TtError> {
    // A room deleted since the poll (its last member left) owes nothing any more.
    let s = match svc.surfaced_commitments(room_id, agent, false) {
        Err(e) if e.code == ErrorCode::RoomNotFound => Default::default(),
        other => other?,
    };
    let mut text = String::new();
    if let PollResult::YourTurn { inherited, .. } | PollResult::TookOver { inherited, .. } = result
        && !inherited.is_empty()
    {
        text.push_str(&super::claims::inherited_lines(inherited));
    }
    if s.open_total > 0 {
        let list: Vec<Value> = s.open.iter().map(crate::service::shape::commitment_summary).collect();
        m.insert("open_commitments".into(), Value::Array(list));
        m.insert("open_commitments_total".into(), json!(s.open_total));
        text.push_str(&super::claims::open_line(&s.open, s.open_total));
    }
    Ok(text)
}

/// Classify the handoff's `status` and `next_action` texts, two calls, before the release
/// transaction (follow-through.md §8 step 1). Returns the claims found and, when a call
/// faulted, the `commitment_warning` line. Nothing is classified when
/// `action_claim_enabled` is off.
fn classify_handoff(svc: &mut Service, handoff: &Value) -> (Vec<HandoffClaim>, Option<String>) {
    let mut claims = Vec::new();
    let mut warning = None;
    if !svc.settings.action_claim_enabled {
        return (claims, warning);
    }
    for field in ["status", "next_action"] {
        let Some(text) = handoff.get(field).and_then(Value::as_str) else { continue };
        let (claim, fault) = super::claims::classify(svc, text);
        if let Some(f) = fault {
            warning.get_or_insert(format!("{f}; no commitment was recorded from the handoff's `{field}`"));
        }
        if let Some(claim) = claim {
            claims.push(HandoffClaim { field, claim, text: text.to_string() });
        }
    }
    (claims, warning)
}

/// One-line text summary of a poll result (cli.md §4.6).
fn result_text(r: &PollResult, guardian: Option<i64>, note: Option<&str>, now: i64) -> String {
    let g = guardian.map_or("-".to_string(), |p| p.to_string());
    match r {
        PollResult::YourTurn { reason: GrantReason::AlreadyOwner, turn_id, .. } => {
            let tail = note.unwrap_or("still active");
            format!("Already holding the stick (turn {turn_id}). Guardian {g} ({tail}).\n")
        }
        PollResult::YourTurn { turn_id, reason, handoff, from_agent_id, .. } => {
            let mut s =
                format!("Your turn (turn {turn_id}, {}). Guardian {g} is holding the lease.\n", reason.as_str());
            if let Some(h) = handoff {
                s.push_str(&format!("From {}:\n", from_agent_id.as_deref().unwrap_or("-")));
                s.push_str(&format!("  Status: {}\n", h.get("status").and_then(Value::as_str).unwrap_or("")));
                s.push_str(&format!("  Next: {}\n", h.get("next_action").and_then(Value::as_str).unwrap_or("")));
            }
            s
        }
        PollResult::TookOver { turn_id, reason, .. } => {
            format!("Your turn (turn {turn_id}, {reason}). Guardian {g} is holding the lease.\n")
        }
        PollResult::NotYet { room_state, turn_id, current_owner, reserved_for, reason, .. } => {
            if *reason == Some("lost_turn") {
                format!("Lost the turn — {} now holds turn {turn_id}.\n", current_owner.as_ref().map_or("-", |o| &o.0))
            } else if let Some((o, lease)) = current_owner {
                let exp = lease.map_or(String::new(), |t| format!(" (lease expires {})", relative(t, now)));
                format!("Not your turn — {o} holds turn {turn_id}{exp}.\n")
            } else if let Some((r, claim)) = reserved_for {
                let exp = claim.map_or(String::new(), |t| format!(" (claim expires {})", relative(t, now)));
                format!("Not your turn — turn {turn_id} is reserved for {r}{exp}.\n")
            } else {
                format!("Not your turn — the room is {}.\n", room_state.as_str())
            }
        }
        PollResult::TakeoverAvailable { reason, current_owner, reserved_for, .. } => {
            let who = current_owner.as_deref().or(reserved_for.as_deref()).unwrap_or("-");
            format!("Takeover available: {reason} ({who}).\n")
        }
        PollResult::Closed { .. } => "The room is closed.\n".to_string(),
    }
}

/// `tt wait` / `tt try` (cli.md §4.6, §4.7). `stop` reports a received SIGTERM, SIGINT
/// or SIGHUP; then the result is None (nothing printed, exit 128+n, §22).
pub fn wait(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    args: &WaitArgs,
    verbose: bool,
    stop: &dyn Fn() -> bool,
) -> Result<Option<Outcome>, TtError> {
    let who = caller(identity);
    let resolved = crate::workspace::resolve(args.path.as_deref(), &ctx.cwd, ctx.home().as_deref());
    svc.purge()?;
    let joined = svc.join(&who, &resolved, false)?;
    let room_id = joined.room.room_id.clone();
    let canonical_path = joined.room.canonical_path.clone();
    let sessions = ctx.sessions();
    let root = resolved.workspace_root.to_string_lossy().into_owned();
    let row = sessions::find(&sessions.read(), &who.agent_id, &room_id).cloned();
    let stored_cursor = row.as_ref().and_then(|r| r.event_cursor_seq);
    if row.as_ref().is_none_or(|r| r.canonical_path != canonical_path || r.workspace_root != root) {
        // First wait here: record the row now; later the refresh rides on the final write.
        let live = svc.read(|tx, _| tx.room_ids())?;
        let now_iso = sessions.now_iso();
        sessions.update(&live, |rows| {
            sessions::join_refresh(rows, &who.agent_id, &room_id, &canonical_path, &root, None, &now_iso);
        })?;
    }
    let start = args.after.or(stored_cursor).unwrap_or(joined.cursor_event_seq);
    if start < 0 {
        return Err(TtError::new(ErrorCode::InvalidCursor, "the event cursor must be an integer ≥ 0"));
    }
    let waiter = if args.single { None } else { ctx.waiter(&room_id) };
    let mode = if args.park { Mode::Parked } else { Mode::Active };
    let mut state = PollState::default();
    let cycle_max = Duration::from_millis(svc.settings.wait_for_turn_max_wait_ms);
    let began = Instant::now();
    let c = loop {
        let max_wait = if args.single {
            Duration::ZERO
        } else {
            match args.timeout {
                Some(t) => t.saturating_sub(began.elapsed()).min(cycle_max),
                None => cycle_max,
            }
        };
        let c = cycle(svc, waiter.as_ref(), &room_id, &who, mode, max_wait, start, &mut state, stop)?;
        let done =
            args.single || c.wake_reason != "timeout" || stop() || args.timeout.is_some_and(|t| began.elapsed() >= t);
        if done {
            break c;
        }
    };
    if stop() {
        // Killed by a signal before a result: print nothing, keep the cursor (§22).
        return Ok(None);
    }
    drop(waiter);
    let join = (canonical_path.as_str(), root.as_str());
    let settled = settle_guardian(ctx, svc, identity, &room_id, join, &c.result);
    let cursor = args.after.is_none().then_some(c.cursor);
    let (guardian, note, change) = match settled {
        Ok(s) => s,
        Err(e) => {
            // guardian_failed: the lease is recorded; still persist the cursor.
            write_row(ctx, svc, &who.agent_id, &room_id, join, cursor, &LeaseChange::Keep)?;
            return Err(e);
        }
    };
    write_row(ctx, svc, &who.agent_id, &room_id, join, cursor, &change)?;
    let warning = (!joined.warnings.is_empty()).then(|| joined.warnings.join(" "));
    let mut json = wait_json(&c, guardian, warning.as_deref(), verbose);
    let commitments_text = surface_commitments(svc, &room_id, &who.agent_id, &c.result, &mut json)?;
    let now = svc.now();
    let mut text = String::new();
    if let Some(w) = &warning {
        text.push_str(&format!("Warning: {w}\n"));
    }
    text.push_str(&result_text(&c.result, guardian, note, now));
    text.push_str(&commitments_text);
    if c.result.status() == "not_yet"
        && let Some(h) = json.get("hint").and_then(Value::as_str)
    {
        text.push_str(h);
        text.push('\n');
    }
    for e in &c.events {
        text.push_str(&event_line(e));
        text.push('\n');
    }
    if !args.single {
        text.push_str("next: Keep one `tt wait` running for this room.\n");
    }
    Ok(Some(Outcome { json: Value::Object(json), text, warnings: svc.policies.take_warnings() }))
}

/// Options of `tt take`.
#[derive(Clone, Debug, Default)]
pub struct TakeArgs {
    /// `[path]`.
    pub path: Option<String>,
    /// `--reason`.
    pub reason: Option<String>,
    /// `--operator-requested`.
    pub operator_requested: bool,
    /// `--force`.
    pub force: bool,
}

/// The reason of a takeover (§12.5), checked before any state change.
pub fn take_reason(identity: &Identity, args: &TakeArgs) -> Result<String, TtError> {
    match (&args.reason, args.operator_requested, identity.harness_env) {
        (Some(r), _, _) => Ok(r.clone()),
        (None, true, _) => Ok("operator requested takeover".into()),
        (None, false, true) => Err(TtError::usage(
            "Missing required option --reason. Harness CLI takeovers must explain why, unless --operator-requested is set.",
        )),
        (None, false, false) => Ok("operator takeover".into()),
    }
}

/// `tt take` (cli.md §4.8, protocol.md §12.5).
pub fn take(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    args: &TakeArgs,
    verbose: bool,
) -> Result<Outcome, TtError> {
    let reason = take_reason(identity, args)?;
    let operator_override = !identity.harness_env || args.operator_requested || args.force;
    let who = caller(identity);
    let resolved = crate::workspace::resolve(args.path.as_deref(), &ctx.cwd, ctx.home().as_deref());
    svc.purge()?;
    let joined = svc.join(&who, &resolved, false)?;
    let room_id = joined.room.room_id.clone();
    let canonical_path = joined.room.canonical_path.clone();
    let root = resolved.workspace_root.to_string_lossy().into_owned();
    let join = (canonical_path.as_str(), root.as_str());
    let mut state = PollState::default();
    let polled = svc.poll(&room_id, &who, Mode::Active, false, &mut state)?;
    let result = match &polled {
        PollResult::YourTurn { .. } => polled.clone(),
        PollResult::Closed { .. } => {
            return Err(TtError::new(ErrorCode::TakeoverNotAvailable, "Takeover is not available: room is closed."));
        }
        PollResult::TakeoverAvailable { turn_id, .. } => {
            svc.takeover(&room_id, &who, *turn_id, &reason, operator_override)?
        }
        PollResult::NotYet { turn_id, .. } | PollResult::TookOver { turn_id, .. } => {
            if !operator_override {
                let summary = poll_summary(&polled);
                return Err(TtError::new(
                    ErrorCode::TakeoverNotAvailable,
                    format!("Takeover is not available: {summary}"),
                ));
            }
            svc.takeover(&room_id, &who, *turn_id, &reason, operator_override)?
        }
    };
    let (guardian, _, change) = settle_guardian(ctx, svc, identity, &room_id, join, &result)?;
    write_row(ctx, svc, &who.agent_id, &room_id, join, None, &change)?;
    let mut m = result.to_json();
    if let Some(pid) = guardian {
        m.insert("guardian_pid".into(), json!(pid));
    }
    add_turn_hint(&mut m, guardian.is_some(), false);
    if verbose {
        room::add_guidance(&mut m, &result);
    }
    let commitments_text = surface_commitments(svc, &room_id, &who.agent_id, &result, &mut m)?;
    let g = guardian.map_or("-".to_string(), |p| p.to_string());
    let mut text = format!("Took the stick ({}). Guardian {g} is holding the lease.\n", result.reason().unwrap_or("-"));
    text.push_str(&commitments_text);
    Ok(Outcome { json: Value::Object(m), text, warnings: svc.policies.take_warnings() })
}

fn poll_summary(r: &PollResult) -> String {
    match r {
        PollResult::NotYet { room_state, turn_id, current_owner, reserved_for, .. } => {
            match (current_owner, reserved_for) {
                (Some((o, _)), _) => format!("{o} holds turn {turn_id} and the room is {}.", room_state.as_str()),
                (None, Some((r, _))) => format!("turn {turn_id} is reserved for {r}."),
                _ => format!("the room is {}.", room_state.as_str()),
            }
        }
        other => format!("the poll returned {}.", other.status()),
    }
}

/// `tt heartbeat` (cli.md §4.9). `tokens` = explicit `(--lease-id, --turn-id)`.
pub fn heartbeat(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    tokens: Option<(String, i64)>,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let (room_id, row) = lookup_room(ctx, svc, &identity.agent_id, path)?;
    let (lease, turn) = match tokens {
        Some(t) => t,
        None => match row.as_ref().and_then(|r| Some((r.lease_id.clone()?, r.turn_id?))) {
            Some(t) => t,
            None => return Err(no_active_lease()),
        },
    };
    let json = svc.heartbeat(&room_id, &identity.agent_id, &lease, turn)?;
    let until = json.get("lease_expires_at").and_then(Value::as_str).unwrap_or("-").to_string();
    let text = format!("Lease renewed until {until} (turn {turn}).\n");
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `no_active_lease` (protocol.md §21).
pub fn no_active_lease() -> TtError {
    TtError::new(ErrorCode::NoActiveLease, "No active lease for this path. Run `tt wait` or `tt take` first.")
}

/// What `release`, `pass` and `assign` hand over.
#[derive(Clone, Debug)]
pub enum Handover {
    /// Release to the fair successor (or nobody).
    Release,
    /// Pass to an exact agent id.
    Pass(String),
    /// Assign by selector (`next`, a display name, an id prefix).
    Assign(String),
}

/// `tt release`, `tt pass`, `tt assign` (cli.md §4.10–§4.11).
pub fn hand_over(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    how: &Handover,
    handoff: &Value,
    verbose: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, row) = lookup_room(ctx, svc, &identity.agent_id, path)?;
    let Some((lease, turn)) = row.as_ref().and_then(|r| Some((r.lease_id.clone()?, r.turn_id?))) else {
        return Err(no_active_lease());
    };
    let target = match how {
        Handover::Release => None,
        Handover::Pass(t) => Some(t.clone()),
        Handover::Assign(sel) => Some(resolve_assign(svc, &room_id, &who.agent_id, sel)?),
    };
    let (claims, commitment_warning) = classify_handoff(svc, handoff);
    let outcome = match &target {
        None => svc.release(&room_id, &who, &lease, turn, handoff, &claims).map(|r| (r, "released")),
        Some(t) => svc.pass(&room_id, &who, &lease, turn, t, handoff, &claims).map(|r| (r, "passed")),
    };
    match outcome {
        Ok((ended, status)) => {
            stop_guardian(ctx, svc, &who.agent_id, &room_id)?;
            let reserved_for = ended.reserved_for.clone();
            let mut m = Map::new();
            m.insert("status".into(), json!(status));
            m.insert("room_id".into(), json!(room_id));
            m.insert("reserved_for".into(), json!(reserved_for));
            m.insert("event_seq".into(), json!(ended.event.event_seq));
            m.insert("hint".into(), json!(HINT_RELEASED));
            let mut recorded_text = String::new();
            if !ended.handoff_commitments.is_empty() {
                let mut list = Vec::new();
                for (field, claim, recorded) in &ended.handoff_commitments {
                    let mut h = Map::new();
                    h.insert("field".into(), json!(field));
                    h.insert("verb".into(), json!(claim.verb.as_str()));
                    h.insert("matched".into(), json!(claim.matched));
                    match recorded {
                        Recorded::Registered { commitment, deduplicated } => {
                            h.insert("registered".into(), json!(true));
                            h.insert("deduplicated".into(), json!(deduplicated));
                            h.insert("commitment_id".into(), json!(commitment_id(commitment.seq)));
                            if !deduplicated {
                                recorded_text.push_str(&format!(
                                    "Recorded commitment {} ({}) from the handoff.\n",
                                    commitment_id(commitment.seq),
                                    commitment.verb
                                ));
                            }
                        }
                        Recorded::Capped { .. } => {
                            h.insert("registered".into(), json!(false));
                            h.insert("reason".into(), json!("per_topic_cap"));
                        }
                    }
                    list.push(Value::Object(h));
                }
                m.insert("handoff_commitments".into(), Value::Array(list));
            }
            if let Some(w) = &commitment_warning {
                m.insert("commitment_warning".into(), json!(w));
            }
            if verbose {
                m.insert(
                    "coordination_prompt".into(),
                    json!(
                        "Your turn is over. Do not touch the shared workspace until `tt wait` returns your_turn again."
                    ),
                );
                m.insert("next".into(), json!("tt wait"));
            }
            let mut text = match (status, &reserved_for) {
                ("passed", Some(r)) => format!("Passed to {r}.\n"),
                (_, Some(r)) => format!("Released to {r}.\n"),
                _ => "Released; nobody was reserved (the handoff waits for the next claimant).\n".to_string(),
            };
            text.push_str(&recorded_text);
            Ok(Outcome { json: Value::Object(m), text, warnings: svc.policies.take_warnings() })
        }
        Err(e) if matches!(e.code, ErrorCode::StaleLease | ErrorCode::TurnMismatch) => {
            stop_guardian(ctx, svc, &who.agent_id, &room_id)?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Target resolution of `tt assign` (cli.md §4.11).
fn resolve_assign(svc: &mut Service, room_id: &str, caller: &str, selector: &str) -> Result<String, TtError> {
    if selector.contains(':') {
        return Ok(selector.to_string());
    }
    let sel = selector.to_lowercase();
    svc.assign_target(room_id, caller, selector, |m| {
        let id = m.agent_id.to_lowercase();
        sel == "next"
            || id == sel
            || id.starts_with(&format!("{sel}:"))
            || m.display_name.as_deref().is_some_and(|d| d.to_lowercase() == sel)
    })
}

/// Parse a `--stdin` handoff: invalid JSON → `invalid_handoff` with field `handoff`.
pub fn parse_handoff(text: &str) -> Result<Value, TtError> {
    serde_json::from_str(text).map_err(|e| {
        TtError::new(ErrorCode::InvalidHandoff, format!("the handoff on stdin is not JSON: {e}"))
            .with("field", "handoff")
    })
}

/// The handoff of `--status`/`--next-action` with the defaults of cli.md §4.10.
pub fn text_handoff(status: Option<&str>, next_action: Option<&str>) -> Value {
    json!({
        "status": status.unwrap_or("(human handoff — no structured status provided)"),
        "next_action": next_action.unwrap_or("(no explicit guidance — proceed as previously established)"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Found by the `handoff` fuzz target: without serde_json's `float_roundtrip`, the
    /// 84-digit integer below parsed to one f64, was stored as the shortest text of that
    /// f64, and read back as its neighbour, so the next holder got a handoff that
    /// differed from the stored one (protocol.md §10.3: stored exactly as supplied).
    #[test]
    fn a_handoff_reads_back_from_its_stored_text_unchanged() {
        let digits = "5".repeat(83) + "0";
        for number in [digits.as_str(), "5.555555555555555e+83", "0.1", "-2.2250738585072014e-308", "1e300"] {
            let text =
                format!(r#"{{"status":"s","next_action":"n","artifacts":[{{"path":"a","lines":[{number},9]}}]}}"#);
            let supplied = parse_handoff(&text).unwrap();
            let stored = supplied.to_string();
            assert_eq!(parse_handoff(&stored).unwrap(), supplied, "{number}: {stored}");
        }
    }
}
