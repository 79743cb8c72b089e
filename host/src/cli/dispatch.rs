//! Dispatch of the protocol commands: validate the arguments (cli.md §2.3), derive the
//! identity, open the service, call one library function, render (cli.md §2.7–§2.9).

use super::{Mode, output, print_warnings, report_error};
use serde_json::Value;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use stick::argv::args::{
    ClaimCommand, Command, CommitmentsCommand, EventsOpts, GuardOpts, InstructionsCommand, MsgCommand, NotesCommand,
};
use stick::argv::parse::{duration, integer};
use stick::commands::claims::{self, ObserveArgs};
use stick::commands::guard::GuardArgs;
use stick::commands::room::{self, EventsArgs};
use stick::commands::turn::{self, Handover, TakeArgs, WaitArgs};
use stick::commands::{Context, Outcome};
use stick::identity::{self, HarnessArgs, Identity};
use stick::lock::Access;
use stick::service::Service;
use stick::service::commitments::{self as cm, Close};
use stick::{ErrorCode, TtError};

/// The signal that ended a wait or a stream (0 = none): SIGTERM, SIGINT, SIGHUP.
struct Signals(Arc<AtomicUsize>);

impl Signals {
    fn install() -> Signals {
        let flag = Arc::new(AtomicUsize::new(0));
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT, signal_hook::consts::SIGHUP] {
            let _ = signal_hook::flag::register_usize(sig, Arc::clone(&flag), usize::try_from(sig).unwrap_or(15));
        }
        Signals(flag)
    }

    fn received(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

fn flag(n: u8) -> bool {
    n > 0
}

fn conflict(a: &str, b: &str, command: &str) -> TtError {
    TtError::usage(format!("{a} and {b} cannot be used together with tt {command}."))
}

/// Read all of stdin as UTF-8 (cli.md §2.12). Invalid UTF-8 is a usage error.
fn read_stdin() -> Result<String, TtError> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| TtError::usage(format!("cannot read stdin: {e}")))?;
    String::from_utf8(bytes).map_err(|_| TtError::usage("stdin is not valid UTF-8."))
}

fn print(mode: Mode, o: &Outcome) -> i32 {
    print_warnings(&o.warnings);
    output(mode, &o.json, || o.text.clone())
}

/// Validated arguments of one command, ready to run.
enum Job {
    Whoami(bool),
    List(Option<String>, bool),
    Join(Option<String>, bool),
    Leave(Option<String>),
    Kick { target: String, path: Option<String>, reason: Option<String>, force: bool },
    Wait(WaitArgs),
    Take(TakeArgs),
    Heartbeat(Option<String>, Option<(String, i64)>),
    Hand { path: Option<String>, how: Handover, handoff: Value },
    Health(Option<String>, bool),
    State(Option<String>, bool),
    Events(EventsArgs),
    MsgSend { path: Option<String>, recipient: Option<String>, body: String, interrupt: bool },
    NotesAdd { path: Option<String>, body: String, turn: Option<i64> },
    NotesList { path: Option<String>, after: Option<String>, all: bool, limit: Option<i64> },
    Instructions(InstructionsCommand),
    Guard(GuardArgs),
    Observe { args: ObserveArgs, stdin: bool },
    Commitments { path: Option<String>, all: bool },
    CloseCommitment { seq: i64, how: Close, force: bool },
}

/// `--stdin` text of `tt claim observe` (follow-through.md §7.1): raw UTF-8, at most
/// 1 MiB; more, or invalid UTF-8, is `invalid_input` with `field: "text"`.
fn read_stdin_text() -> Result<String, TtError> {
    let bad = |m: &str| TtError::new(ErrorCode::InvalidInput, m).with("field", "text");
    let mut bytes = Vec::new();
    let limit = u64::try_from(claims::STDIN_MAX_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    std::io::stdin().lock().take(limit).read_to_end(&mut bytes).map_err(|e| bad(&format!("cannot read stdin: {e}")))?;
    if bytes.len() > claims::STDIN_MAX_BYTES {
        return Err(bad("the text on stdin is larger than 1 MiB (1048576 bytes)"));
    }
    String::from_utf8(bytes).map_err(|_| bad("the text on stdin is not valid UTF-8"))
}

fn handoff_from(stdin: bool, status: Option<&str>, next: Option<&str>, command: &str) -> Result<Value, TtError> {
    if stdin {
        if status.is_some() {
            return Err(conflict("--stdin", "--status", command));
        }
        if next.is_some() {
            return Err(conflict("--stdin", "--next-action", command));
        }
        return turn::parse_handoff(&read_stdin()?);
    }
    Ok(turn::text_handoff(status, next))
}

fn events_args(o: EventsOpts) -> Result<EventsArgs, TtError> {
    if flag(o.wait) && flag(o.follow) {
        return Err(conflict("--wait", "--follow", "events"));
    }
    let streaming = flag(o.wait) || flag(o.follow);
    if streaming && flag(o.all) {
        return Err(conflict("--all", if flag(o.wait) { "--wait" } else { "--follow" }, "events"));
    }
    if streaming && o.limit.is_some() {
        return Err(conflict("--limit", if flag(o.wait) { "--wait" } else { "--follow" }, "events"));
    }
    if !streaming && o.timeout.is_some() {
        return Err(TtError::usage("--timeout is only accepted with --wait or --follow for tt events."));
    }
    Ok(EventsArgs {
        path: o.path,
        after: integer("after", o.after.as_deref())?,
        limit: integer("limit", o.limit.as_deref())?,
        all: flag(o.all),
        wait: flag(o.wait),
        follow: flag(o.follow),
        types: o.event.map(|e| e.split(',').map(|t| t.trim().to_string()).collect()),
        target: o.target,
        from: o.from,
        timeout: duration(o.timeout.as_deref())?,
        messages_only: false,
    })
}

fn join_words(words: &[String]) -> String {
    words.join(" ")
}

/// Validate everything before any state is touched (cli.md §2.3 rule 11).
fn validate(command: Command) -> Result<Job, TtError> {
    Ok(match command {
        Command::Whoami { explain } => Job::Whoami(flag(explain)),
        Command::List { path, all } => Job::List(path, flag(all)),
        Command::Join { path, force_new } => Job::Join(path, flag(force_new)),
        Command::Leave { path } => Job::Leave(path),
        Command::Kick { agent_id, path, reason, force } => {
            Job::Kick { target: agent_id, path, reason, force: flag(force) }
        }
        Command::Wait(o) => {
            if flag(o.park) && flag(o.claim) {
                return Err(conflict("--park", "--claim", "wait"));
            }
            if let Some(t) = &o.target
                && t != "self"
            {
                return Err(TtError::usage(
                    "tt wait manages the self cursor only. Use `tt events --target …` for audit/debug reads.",
                ));
            }
            Job::Wait(WaitArgs {
                path: o.path,
                timeout: duration(o.timeout.as_deref())?,
                park: flag(o.park),
                after: integer("after", o.after.as_deref())?,
                single: false,
            })
        }
        Command::Try(o) => {
            if flag(o.park) && flag(o.claim) {
                return Err(conflict("--park", "--claim", "try"));
            }
            Job::Wait(WaitArgs {
                path: o.path,
                timeout: None,
                park: flag(o.park),
                after: integer("after", o.after.as_deref())?,
                single: true,
            })
        }
        Command::Take { path, reason, operator_requested, force } => {
            if reason.as_ref().is_some_and(|r| r.len() > 1024) {
                return Err(TtError::new(ErrorCode::InvalidInput, "the takeover reason is longer than 1024 bytes")
                    .with("field", "reason"));
            }
            Job::Take(TakeArgs { path, reason, operator_requested: flag(operator_requested), force: flag(force) })
        }
        Command::Heartbeat { path, lease_id, turn_id } => {
            let turn = integer("turn-id", turn_id.as_deref())?;
            let tokens = match (lease_id, turn) {
                (Some(l), Some(t)) => Some((l, t)),
                (None, None) => None,
                _ => return Err(TtError::usage("Pass both --lease-id and --turn-id, or neither.")),
            };
            Job::Heartbeat(path, tokens)
        }
        Command::Release(o) => {
            if o.path.is_some() {
                return Err(TtError::usage("tt release takes its workspace path positionally."));
            }
            if o.positionals.len() > 1 {
                return Err(TtError::usage("tt release takes at most one path."));
            }
            let handoff = handoff_from(flag(o.stdin), o.status.as_deref(), o.next_action.as_deref(), "release")?;
            Job::Hand { path: o.positionals.into_iter().next(), how: Handover::Release, handoff }
        }
        Command::Pass(o) => {
            if o.path.is_some() {
                return Err(TtError::usage("tt pass takes its workspace path positionally."));
            }
            let mut pos = o.positionals.into_iter();
            let first = pos.next();
            let (how, path) = match first {
                Some(t) if t.contains(':') => (Handover::Pass(t), pos.next()),
                other => (Handover::Release, other),
            };
            if pos.next().is_some() {
                return Err(TtError::usage("Too many arguments for tt pass."));
            }
            let handoff = handoff_from(flag(o.stdin), o.status.as_deref(), o.next_action.as_deref(), "pass")?;
            Job::Hand { path, how, handoff }
        }
        Command::Assign(o) => {
            if o.path_flag.is_some() {
                return Err(TtError::usage("tt assign takes its workspace path positionally."));
            }
            let handoff = handoff_from(flag(o.stdin), o.status.as_deref(), o.next_action.as_deref(), "assign")?;
            let how = if o.target.contains(':') { Handover::Pass(o.target) } else { Handover::Assign(o.target) };
            Job::Hand { path: o.path, how, handoff }
        }
        Command::Health { path, all } => Job::Health(path, flag(all)),
        Command::State { path, all } => Job::State(path, flag(all)),
        Command::Events(o) => Job::Events(events_args(o)?),
        Command::Msg { command: MsgCommand::Send { words, interrupt, stdin, room, path } } => {
            let (recipient, body_words) = if flag(room) {
                (None, words.as_slice())
            } else {
                match words.split_first() {
                    Some((first, rest)) if first == "room" => (None, rest),
                    Some((first, rest)) => (Some(first.clone()), rest),
                    None => return Err(TtError::usage("tt msg send needs a recipient (an agent id or `room`).")),
                }
            };
            let body = if flag(stdin) {
                if !body_words.is_empty() {
                    return Err(conflict("--stdin", "a positional body", "msg send"));
                }
                read_stdin()?
            } else {
                join_words(body_words)
            };
            if body.is_empty() {
                return Err(TtError::usage(
                    "Message body is required (pass as a positional or use --stdin to read from stdin).",
                ));
            }
            Job::MsgSend { path, recipient, body, interrupt: flag(interrupt) }
        }
        Command::Msg { command: MsgCommand::Recv { wait, follow, from, after, limit, all, target, timeout, path } } => {
            let mut a =
                events_args(EventsOpts { path, all, after, limit, wait, follow, event: None, target, from, timeout })?;
            a.messages_only = true;
            Job::Events(a)
        }
        Command::Notes { command: NotesCommand::Add { words, turn, stdin, path } } => {
            let body = if flag(stdin) {
                if !words.is_empty() {
                    return Err(conflict("--stdin", "a positional body", "notes add"));
                }
                read_stdin()?
            } else {
                join_words(&words)
            };
            if body.trim().is_empty() {
                return Err(TtError::usage(
                    "Note body is required (pass as a positional or use --stdin to read from stdin).",
                ));
            }
            Job::NotesAdd { path, body, turn: integer("turn", turn.as_deref())? }
        }
        Command::Notes { command: NotesCommand::List { all, after, limit, path } } => {
            if after.as_deref().is_some_and(str::is_empty) {
                return Err(TtError::usage("--after must be a note id."));
            }
            Job::NotesList { path, after, all: flag(all), limit: integer("limit", limit.as_deref())? }
        }
        Command::Instructions { command } => Job::Instructions(command),
        Command::Claim { command: ClaimCommand::Observe(o) } => {
            if flag(o.hook) {
                return Err(TtError::usage("--hook must be given as its own option of tt claim observe."));
            }
            let stdin = flag(o.stdin);
            match (&o.text, stdin) {
                (Some(_), true) => return Err(conflict("--text", "--stdin", "claim observe")),
                (None, false) => return Err(TtError::usage("tt claim observe needs --text TEXT, --stdin or --hook.")),
                _ => {}
            }
            // The topic is validated after the feature switch (§7.1 step 1: nothing else runs).
            Job::Observe { args: ObserveArgs { path: o.path, topic: o.topic, text: o.text.unwrap_or_default() }, stdin }
        }
        Command::Commitments(o) => match o.command {
            None => Job::Commitments { path: o.path, all: flag(o.all) },
            Some(sub) => {
                if o.path.is_some() || flag(o.all) {
                    return Err(TtError::usage("tt commitments done|withdraw takes a commitment id, not a path."));
                }
                match sub {
                    CommitmentsCommand::Done { id, force } => Job::CloseCommitment {
                        seq: cm::parse_commitment_id(&id)?,
                        how: Close::Done,
                        force: flag(force),
                    },
                    CommitmentsCommand::Withdraw { id, reason, force } => {
                        let seq = cm::parse_commitment_id(&id)?;
                        let reason = cm::validate_reason(reason.as_deref())?;
                        Job::CloseCommitment { seq, how: Close::Withdraw(reason), force: flag(force) }
                    }
                }
            }
        },
        Command::Guard(g) => Job::Guard(guard_args(g)?),
        Command::Policy { .. } | Command::Guards(_) => {
            return Err(TtError::usage("internal: policy and guards are dispatched elsewhere"));
        }
    })
}

/// Whether a command writes (host-lock.md §5.1). The reading commands are listed; every
/// other command, including any added later, is writing and runs the full lock check.
fn access(job: &Job) -> Access {
    match job {
        Job::List(..)
        | Job::State(..)
        | Job::Events(_)
        | Job::NotesList { .. }
        | Job::Health(..)
        | Job::Commitments { .. } => Access::Read,
        _ => Access::Write,
    }
}

fn guard_args(g: GuardOpts) -> Result<GuardArgs, TtError> {
    Ok(GuardArgs {
        agent: String::new(),
        context_path: g.context_path,
        room_id: g.room_id,
        lease_id: g.lease_id,
        turn_id: integer("turn-id", Some(&g.turn_id))?.unwrap_or(0),
        harness: HarnessArgs {
            name: g.harness_name,
            session_id: g.harness_session_id,
            host_id: g.harness_host_id,
            boot_id: g.harness_boot_id,
            pid: integer("harness-pid", g.harness_pid.as_deref())?,
            started_at: integer("harness-process-started-at", g.harness_process_started_at.as_deref())?,
        },
    })
}

/// Run a protocol command; returns the exit code.
pub fn run(ctx: &Context, command: Command, agent: Option<&str>, mode: Mode, verbose: bool) -> i32 {
    let mut job = match validate(command) {
        Ok(j) => j,
        Err(e) => return report_error(&e, mode),
    };
    if let Job::Observe { args, stdin } = &mut job {
        // follow-through.md §7.1 steps 1–2: the switch first, then the text.
        if !ctx.settings.action_claim_enabled {
            return print(mode, &claims::disabled());
        }
        if let Some(raw) = args.topic.take() {
            match cm::validate_topic(&raw) {
                Ok(t) => args.topic = Some(t),
                Err(e) => return report_error(&e, mode),
            }
        }
        if *stdin {
            match read_stdin_text() {
                Ok(t) => args.text = t,
                Err(e) => return report_error(&e, mode),
            }
        }
    }
    if let Job::Guard(mut g) = job {
        let Some(agent) = agent else {
            return report_error(&TtError::usage("tt guard needs --agent."), mode);
        };
        g.agent = agent.to_string();
        return stick::commands::guard::run(ctx, &g);
    }
    let mut liveness = match ctx.liveness() {
        Ok(l) => l,
        Err(e) => return report_error(&e, mode),
    };
    let identity = match identity::derive(&ctx.env, agent, &mut liveness) {
        Ok(i) => i,
        Err(e) => return report_error(&e, mode),
    };
    match job {
        Job::Whoami(explain) => return print(mode, &room::whoami(&identity, explain)),
        Job::Instructions(cmd) => return instructions(ctx, &identity, cmd, mode),
        Job::Take(ref t) => {
            // The reason rule is checked before any state change (§12.5).
            if let Err(e) = turn::take_reason(&identity, t) {
                return report_error(&e, mode);
            }
        }
        _ => {}
    }
    let access = access(&job);
    let mut refused = Vec::new();
    let mut svc = match ctx.open(liveness, access, &mut refused) {
        Ok(s) => s,
        Err(e) => {
            print_warnings(&refused);
            return report_error(&e, mode);
        }
    };
    // A reading command under a foreign host lock runs read-only and says so
    // (host-lock.md §8.2): a `host_lock` field in JSON, one `warning:` line in text (and
    // before a stream, which has no result object).
    let this_host = svc.liveness.machine().host_id.clone();
    let notice = svc.host_lock.notice(&this_host);
    let streaming = matches!(&job, Job::Events(a) if a.wait || a.follow);
    if let Some(line) = svc.host_lock.warning_line(&this_host)
        && (mode == Mode::Text || streaming)
    {
        print_warnings(&[line]);
    }
    let signals = Signals::install();
    let result = execute(ctx, &mut svc, &identity, job, mode, verbose, &signals);
    let warnings = svc.policies.take_warnings();
    print_warnings(&warnings);
    // The process exits next: leave the connection, its cached statements and the policy
    // instance to the kernel instead of finalizing them one by one (no `Drop` in the
    // service has an effect the exit does not have; every transaction has committed or
    // rolled back, and the connection skips the checkpoint on close anyway, protocol.md
    // §20.1). Saves ~0.15 M instructions per command (docs/PERFORMANCE.md).
    std::mem::forget(svc);
    match result {
        Ok(Some(mut o)) => {
            if let (Some(n), Value::Object(m)) = (notice, &mut o.json) {
                m.insert("host_lock".into(), n);
            }
            print(mode, &o)
        }
        Ok(None) => {
            let sig = signals.received();
            if sig > 0 { 128 + i32::try_from(sig).unwrap_or(15) } else { 0 }
        }
        Err(e) => report_error(&e, mode),
    }
}

fn execute(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    job: Job,
    mode: Mode,
    verbose: bool,
    signals: &Signals,
) -> Result<Option<Outcome>, TtError> {
    let stop = || signals.received() > 0;
    let o = match job {
        Job::List(path, all) => room::list(ctx, svc, path.as_deref(), all, verbose)?,
        Job::Join(path, force_new) => room::join(ctx, svc, identity, path.as_deref(), force_new, verbose)?,
        Job::Leave(path) => room::leave(ctx, svc, identity, path.as_deref())?,
        Job::Kick { target, path, reason, force } => {
            room::kick(ctx, svc, identity, &target, path.as_deref(), reason.as_deref(), force)?
        }
        Job::Wait(args) => return turn::wait(ctx, svc, identity, &args, verbose, &stop),
        Job::Take(args) => turn::take(ctx, svc, identity, &args, verbose)?,
        Job::Heartbeat(path, tokens) => with_guidance(
            turn::heartbeat(ctx, svc, identity, path.as_deref(), tokens)?,
            verbose,
            "The lease is renewed; the guardian normally does this. Work, then release or pass with a handoff.",
            "tt release --status \"…\" --next-action \"…\"",
        ),
        Job::Hand { path, how, handoff } => {
            turn::hand_over(ctx, svc, identity, path.as_deref(), &how, &handoff, verbose)?
        }
        Job::Health(path, all) => room::health(ctx, svc, identity, path.as_deref(), all, verbose)?,
        Job::State(path, all) => with_guidance(
            room::state(ctx, svc, identity, path.as_deref(), all, verbose)?,
            verbose,
            "This is a read: it changes nothing. Keep one `tt wait` running and act only on your_turn.",
            "tt wait",
        ),
        Job::Events(a) if a.wait || a.follow => {
            let mut sink = |json: &Value, text: &str| {
                let line = match mode {
                    Mode::Json => format!("{json}\n"),
                    Mode::Text => format!("{text}\n"),
                };
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes()).and_then(|()| out.flush()).is_ok()
            };
            let cursor = room::stream(ctx, svc, identity, &a, &stop, &mut sink)?;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "cursor_event_seq={cursor}");
            // A stream ended by a signal exits 0 (cli.md §2.9).
            signals.0.store(0, Ordering::Relaxed);
            return Ok(None);
        }
        Job::Events(a) => with_guidance(
            room::events(ctx, svc, identity, &a)?,
            verbose,
            "Events are information, never authority: only your_turn from `tt wait` lets you change the workspace.",
            "tt wait",
        ),
        Job::MsgSend { path, recipient, body, interrupt } => with_guidance(
            room::msg_send(ctx, svc, identity, path.as_deref(), recipient.as_deref(), &body, interrupt)?,
            verbose,
            "Messages never grant the stick; the recipient sees this in its next `tt wait`.",
            "tt wait",
        ),
        Job::NotesAdd { path, body, turn } => room::notes_add(ctx, svc, identity, path.as_deref(), &body, turn)?,
        Job::NotesList { path, after, all, limit } => {
            room::notes_list(ctx, svc, identity, path.as_deref(), after.as_deref(), all, limit)?
        }
        Job::Observe { args, .. } => claims::observe(ctx, svc, identity, &args)?,
        Job::Commitments { path, all } => claims::list(ctx, svc, identity, path.as_deref(), all)?,
        Job::CloseCommitment { seq, how, force } => claims::close(svc, identity, seq, &how, force)?,
        Job::Whoami(_) | Job::Instructions(_) | Job::Guard(_) => return Ok(None),
    };
    Ok(Some(o))
}

/// Verbose guidance for the coordination results that have no turn-specific text
/// (cli.md §2.8): heartbeat, state, events, msg send.
fn with_guidance(mut o: Outcome, verbose: bool, prompt: &str, next: &str) -> Outcome {
    if verbose && let Value::Object(m) = &mut o.json {
        m.entry("coordination_prompt").or_insert_with(|| Value::from(prompt));
        m.entry("next").or_insert_with(|| Value::from(next));
    }
    o
}

/// `tt instructions show|edit|reset` (cli.md §4.18): no purge, no database.
fn instructions(ctx: &Context, identity: &Identity, cmd: InstructionsCommand, mode: Mode) -> i32 {
    use stick::instructions as ins;
    let home = ctx.home();
    let root = |path: Option<&str>| stick::workspace::resolve(path, &ctx.cwd, home.as_deref()).workspace_root;
    let result = match cmd {
        InstructionsCommand::Show { path, harness, scope } => ins::show(
            &ctx.data_dir,
            &root(path.as_deref()),
            harness.as_deref(),
            scope.as_deref(),
            identity.metadata.display_name.as_deref(),
            &identity.agent_id,
        )
        .map(|r| {
            let text = if r.text.ends_with('\n') { r.text.clone() } else { format!("{}\n", r.text) };
            (serde_json::to_value(&r).unwrap_or_default(), text)
        }),
        InstructionsCommand::Edit { path, user, project } => ins::choose_layer(flag(user), flag(project), false)
            .and_then(|layer| ins::edit(&ctx.data_dir, &root(path.as_deref()), layer == ins::Layer::Project, &ctx.env))
            .map(|r| {
                let text = match &r.editor {
                    Some(_) => format!("Edited {}\n", r.path),
                    None => format!("Set $VISUAL or $EDITOR to edit {}.\n", r.path),
                };
                (serde_json::to_value(&r).unwrap_or_default(), text)
            }),
        InstructionsCommand::Reset { path, user, project } => {
            ins::reset(&ctx.data_dir, &root(path.as_deref()), flag(user), flag(project)).map(|r| {
                let text = if r.removed {
                    format!("Removed {}\n", r.path)
                } else {
                    format!("Nothing to remove at {}\n", r.path)
                };
                (serde_json::to_value(&r).unwrap_or_default(), text)
            })
        }
    };
    match result {
        Ok((json, text)) => output(mode, &json, || text),
        Err(e) => report_error(&e, mode),
    }
}
