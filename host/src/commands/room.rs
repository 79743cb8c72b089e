//! Room commands (cli.md §4.1–§4.5, §4.12–§4.17): `whoami`, `list`, `join`, `leave`,
//! `kick`, `health`, `state`, `events`, `msg`, `notes`, and the helpers they share with
//! the turn commands: room lookup (protocol.md §9.6), event rendering and elision
//! (cli.md §2.8, §2.10), guidance fields.

use super::turn::stop_guardian;
use super::{Context, Outcome, caller};
use crate::error::TtError;
use crate::identity::Identity;
use crate::service::reads::{EventRead, validate_types};
use crate::service::turn::PollResult;
use crate::service::{Service, View, room_not_found, shape};
use crate::sessions::{self, SessionRow};
use crate::store::{Event, EventFilter, Target};
use crate::workspace::{ancestor_paths, resolve};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// Hint on a join (cli.md §2.8).
pub const HINT_JOIN: &str =
    "Joined: the expected peers are listed in members; run `tt wait` and act only on your_turn.";

/// The handoff template of cli.md §4.3.
pub fn handoff_template() -> Value {
    json!({"status": "What I did:\nWhat I learned:\nOpen risks:", "next_action": "What the next agent should do next."})
}

/// The room for a non-joining command (protocol.md §9.6): the caller's deepest session
/// row among the ancestor paths whose room exists, else the deepest existing room.
/// Returns the room id and that session row (if one was used). Errors:
/// `room_not_found`.
pub fn lookup_room(
    ctx: &Context,
    svc: &mut Service,
    agent: &str,
    path: Option<&str>,
) -> Result<(String, Option<SessionRow>), TtError> {
    let home = ctx.home();
    let resolved = resolve(path, &ctx.cwd, home.as_deref());
    let ancestors = ancestor_paths(&resolved.context_path, home.as_deref());
    let (ids, deepest) = svc.read(|tx, _| {
        let mut deepest = None;
        for a in &ancestors {
            if let Some(id) = tx.room_id_at(&a.to_string_lossy())? {
                deepest = Some(id);
                break;
            }
        }
        Ok((tx.room_ids()?, deepest))
    })?;
    let rows = ctx.sessions().read();
    if let Some(row) = sessions::find_for_path(&rows, agent, &ancestors, |id| ids.contains(id)) {
        return Ok((row.room_id.clone(), Some(row)));
    }
    match deepest {
        Some(id) => {
            let row = sessions::find(&rows, agent, &id).cloned();
            Ok((id, row))
        }
        None => Err(room_not_found()),
    }
}

/// Compact elision of events inside a result envelope (cli.md §2.8 rule 3).
pub fn elide_events(envelope: &Map<String, Value>, events: Vec<Value>) -> Vec<Value> {
    let room = envelope.get("room_id").cloned();
    let turn = envelope.get("turn_id").cloned();
    let handoff = envelope.get("handoff").filter(|h| !h.is_null()).cloned();
    events
        .into_iter()
        .map(|mut e| {
            if let Value::Object(o) = &mut e {
                if room.is_some() && o.get("room_id") == room.as_ref() {
                    o.remove("room_id");
                }
                if turn.is_some() && o.get("turn_id") == turn.as_ref() {
                    o.remove("turn_id");
                }
                if handoff.is_some() && o.get("handoff") == handoff.as_ref() {
                    o.remove("handoff");
                }
            }
            e
        })
        .collect()
}

/// One event line (cli.md §2.10).
pub fn event_line(e: &Event) -> String {
    let at = shape::ts(Some(e.created_at));
    let at = at.as_str().unwrap_or("-");
    if e.event_type == "message_sent" {
        let body = e.payload.as_ref().and_then(|p| p.get("body")).and_then(Value::as_str).unwrap_or("");
        let interrupt = e
            .payload
            .as_ref()
            .and_then(|p| p.get("delivery_hint"))
            .and_then(Value::as_str)
            .is_some_and(|h| h == "interrupt");
        return format!(
            "[{at}] {} -> {}{}: {body}",
            e.from_agent_id.as_deref().unwrap_or("-"),
            e.to_agent_id.as_deref().unwrap_or("room"),
            if interrupt { " [interrupt]" } else { "" }
        );
    }
    let mut s = format!(
        "[{at}] {} {} -> {}",
        e.event_type,
        e.from_agent_id.as_deref().unwrap_or("-"),
        e.to_agent_id.as_deref().unwrap_or("-")
    );
    if let Some(r) = &e.reason {
        s.push_str(&format!(" ({r})"));
    }
    s
}

/// A relative time (cli.md §2.10): `in 44m`, `3m ago`.
pub fn relative(t: i64, now: i64) -> String {
    let d = (t - now).abs() / 1000;
    let amount = if d < 60 {
        format!("{d}s")
    } else if d < 3600 {
        format!("{}m", d / 60)
    } else if d < 48 * 3600 {
        format!("{}h", d / 3600)
    } else {
        format!("{}d", d / 86_400)
    };
    // Within a second the direction is clock skew between processes, not news.
    if t - now >= 1000 { format!("in {amount}") } else { format!("{amount} ago") }
}

/// Verbose guidance fields (cli.md §2.8): `coordination_prompt` and `next`.
pub fn add_guidance(m: &mut Map<String, Value>, r: &PollResult) {
    let (prompt, next) = match r {
        PollResult::YourTurn { .. } | PollResult::TookOver { .. } => (
            "You hold the stick: you alone may change the shared workspace now. Work, then end the turn with a \
             structured handoff.",
            "tt release --status \"…\" --next-action \"…\"",
        ),
        PollResult::TakeoverAvailable { .. } => {
            ("The holder looks unresponsive. Take over only if you are sure, and say why.", "tt take --reason \"…\"")
        }
        PollResult::Closed { .. } => ("The room is closed; nothing can be granted.", "tt state"),
        PollResult::NotYet { .. } => (
            "Not your turn: do not change the shared workspace. Keep one `tt wait` running; act only on your_turn.",
            "tt wait",
        ),
    };
    m.insert("coordination_prompt".into(), json!(prompt));
    m.insert("next".into(), json!(next));
}

/// `tt whoami` (cli.md §4.1): never opens the data directory.
pub fn whoami(identity: &Identity, explain: bool) -> Outcome {
    let json = json!({
        "agent_id": identity.agent_id,
        "process_metadata": identity.metadata,
        "source": identity.source,
        "detail": identity.detail,
    });
    let mut text = format!("{}\n", identity.agent_id);
    if explain {
        text.push_str(&format!(
            "source: {}\nsession_kind: {}\ndetail: {}\n",
            identity.source.as_str(),
            identity.metadata.session_kind,
            identity.detail
        ));
    }
    Outcome { json, text, warnings: Vec::new() }
}

/// `tt list` (cli.md §4.2).
pub fn list(
    ctx: &Context,
    svc: &mut Service,
    path: Option<&str>,
    all: bool,
    verbose: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let home = ctx.home();
    let paths: Option<Vec<String>> = path.map(|p| {
        let resolved = resolve(Some(p), &ctx.cwd, home.as_deref());
        ancestor_paths(&resolved.context_path, home.as_deref())
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    });
    let json = svc.list(paths.as_deref(), all, verbose)?;
    let mut text = String::new();
    let rooms = json.get("rooms").and_then(Value::as_array).cloned().unwrap_or_default();
    if rooms.is_empty() {
        text.push_str("No rooms found.\n");
    }
    for r in rooms {
        let s = |k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
        text.push_str(&format!("{} {}", s("state").unwrap_or_default(), s("canonical_path").unwrap_or_default()));
        if let Some(o) = s("owner") {
            text.push_str(&format!(" owner={o}"));
        }
        if let Some(o) = s("reserved_for") {
            text.push_str(&format!(" reserved_for={o}"));
        }
        text.push('\n');
    }
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt join` (cli.md §4.3).
pub fn join(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    force_new: bool,
    verbose: bool,
) -> Result<Outcome, TtError> {
    let who = caller(identity);
    let resolved = resolve(path, &ctx.cwd, ctx.home().as_deref());
    svc.purge()?;
    let joined = svc.join(&who, &resolved, force_new)?;
    let room_id = joined.room.room_id.clone();
    let sessions = ctx.sessions();
    let live = svc.read(|tx, _| tx.room_ids())?;
    let now_iso = sessions.now_iso();
    let root = resolved.workspace_root.to_string_lossy().into_owned();
    sessions.update(&live, |rows| {
        sessions::join_refresh(
            rows,
            &who.agent_id,
            &room_id,
            &joined.room.canonical_path,
            &root,
            Some(joined.cursor_event_seq),
            &now_iso,
        );
    })?;
    let (room, members, view) = svc.snapshot(&room_id)?;
    // Active members only, at most 50, the caller always among them (cli.md §4.3).
    let mut active: Vec<(&crate::store::Member, crate::liveness::Verdict)> = members
        .iter()
        .filter(|(m, is_active, _)| *is_active || m.agent_id == who.agent_id)
        .map(|(m, _, verdict)| (m, *verdict))
        .collect();
    let cap = crate::service::limits::MEMBER_VIEW;
    while active.len() > cap {
        match active.iter().rposition(|(m, _)| m.agent_id != who.agent_id) {
            Some(i) => {
                active.remove(i);
            }
            None => break,
        }
    }
    let list: Vec<Value> = active
        .iter()
        .map(|(m, verdict)| {
            if verbose {
                shape::member(m, true, *verdict, true)
            } else {
                json!({"agent_id": m.agent_id, "status": "active", "last_seen_at": shape::ts(Some(m.last_seen_at))})
            }
        })
        .collect();
    let mut o = Map::new();
    o.insert("agent_id".into(), json!(who.agent_id));
    o.insert("room_id".into(), json!(room_id));
    o.insert("canonical_path".into(), json!(room.canonical_path));
    o.insert("requested_path".into(), json!(resolved.requested_path.to_string_lossy()));
    o.insert("workspace_root".into(), json!(root));
    o.insert("joined_existing_room".into(), json!(joined.joined_existing_room));
    o.insert("cursor_event_seq".into(), json!(joined.cursor_event_seq));
    let warning = (!joined.warnings.is_empty()).then(|| joined.warnings.join(" "));
    if let Some(w) = &warning {
        o.insert("warning".into(), json!(w));
    }
    o.insert("members".into(), Value::Array(list));
    o.insert("room_state".into(), shape::room(&room, view, verbose));
    o.insert("handoff_template".into(), handoff_template());
    o.insert("hint".into(), json!(HINT_JOIN));
    if verbose {
        o.insert("policy".into(), Value::Object(svc.settings.protocol_map()));
        o.insert(
            "coordination_prompt".into(),
            json!(
                "You joined a shared workspace. Keep one `tt wait` running; change files only after it returns \
                 your_turn with a live guardian_pid; end every turn with `tt release` or `tt pass` and a handoff."
            ),
        );
        o.insert("next".into(), json!("tt wait"));
    }
    let mut text = format!("Joined {} as {}\n", room.canonical_path, who.agent_id);
    if let Some(w) = &warning {
        text.push_str(&format!("Warning: {w}\n"));
    }
    Ok(Outcome { json: Value::Object(o), text, warnings: svc.policies.take_warnings() })
}

/// `tt leave` (cli.md §4.4).
pub fn leave(ctx: &Context, svc: &mut Service, identity: &Identity, path: Option<&str>) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let d = svc.leave(&room_id, &who)?;
    stop_guardian(ctx, svc, &who.agent_id, &room_id)?;
    let live = svc.read(|tx, _| tx.room_ids())?;
    ctx.sessions().update(&live, |rows| {
        if d.status == "room_deleted" {
            sessions::remove_room_rows(rows, &room_id);
        } else {
            sessions::remove_row(rows, &who.agent_id, &room_id);
        }
    })?;
    let json = json!({
        "status": d.status,
        "room_id": d.room_id,
        "canonical_path": d.canonical_path,
        "remaining_members": d.remaining_members,
    });
    let text = if d.status == "room_deleted" {
        format!("Left {}; room deleted.\n", d.canonical_path)
    } else {
        format!("Left {}; {} member(s) remain.\n", d.canonical_path, d.remaining_members)
    };
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt kick` (cli.md §4.5).
pub fn kick(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    target: &str,
    path: Option<&str>,
    reason: Option<&str>,
    force: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let d = svc.kick(&room_id, &who, target, reason, force)?;
    if d.status == "room_deleted" {
        let live = svc.read(|tx, _| tx.room_ids())?;
        ctx.sessions().update(&live, |rows| {
            sessions::remove_room_rows(rows, &room_id);
        })?;
    }
    let json = json!({
        "status": d.status,
        "room_id": d.room_id,
        "canonical_path": d.canonical_path,
        "kicked_agent_id": target,
        "remaining_members": d.remaining_members,
        "target_was_owner": d.target_was_owner,
        "target_was_reserved_for": d.target_was_reserved_for,
    });
    let tail = if d.status == "room_deleted" { "; room deleted" } else { "" };
    let text = format!("Kicked {target} from {}{tail}.\n", d.canonical_path);
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt state` (cli.md §4.13).
pub fn state(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    all: bool,
    verbose: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let json = svc.state(&room_id, &who, all, verbose)?;
    let now = svc.now();
    let text = state_text(&json, &who.agent_id, now);
    Ok(Outcome { json, text, warnings: Vec::new() })
}

fn parse_ts(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    let t = humantime::parse_rfc3339(s).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

fn state_text(json: &Value, me: &str, now: i64) -> String {
    let room = json.get("room").cloned().unwrap_or_default();
    let s = |k: &str| room.get(k).and_then(Value::as_str).map(str::to_string);
    let turn = room.get("turn_id").and_then(Value::as_i64).unwrap_or(0);
    let mut t = format!("Room: {} ({})\n", s("canonical_path").unwrap_or_default(), s("state").unwrap_or_default());
    if let Some(o) = s("owner") {
        let exp = parse_ts(room.get("lease_expires_at"))
            .map_or(String::new(), |x| format!(", lease expires {}", relative(x, now)));
        t.push_str(&format!("  Owner:    {o} (turn {turn}{exp})\n"));
    } else if let Some(r) = s("reserved_for") {
        let exp = parse_ts(room.get("claim_expires_at"))
            .map_or(String::new(), |x| format!(", claim expires {}", relative(x, now)));
        t.push_str(&format!("  Reserved: {r} (turn {turn}{exp})\n"));
    } else {
        t.push_str(&format!("  Owner:    — (turn {turn})\n"));
    }
    let members = json.get("members").and_then(Value::as_array).cloned().unwrap_or_default();
    let held = json.get("commitments").and_then(|c| c.get("room_held_total")).and_then(Value::as_u64).unwrap_or(0);
    let active = members.iter().filter(|m| m.get("status").and_then(Value::as_str) == Some("active")).count();
    let inactive = members.len() - active;
    if inactive > 0 {
        t.push_str(&format!("  Members:  {active} active, {inactive} inactive\n"));
    } else {
        t.push_str(&format!("  Members:  {active} active\n"));
    }
    for m in &members {
        let id = m.get("agent_id").and_then(Value::as_str).unwrap_or("");
        let status = m.get("status").and_then(Value::as_str).unwrap_or("");
        let seen = parse_ts(m.get("last_seen_at")).map_or("-".to_string(), |x| relative(x, now));
        let you = if id == me { "  ← you" } else { "" };
        t.push_str(&format!("            • {id:<24} {status:<8} last seen {seen}{you}\n"));
    }
    if held > 0 {
        t.push_str(&format!("Awaiting next holder: {held}\n"));
    }
    t
}

/// Options of `tt events` and `tt msg recv`.
#[derive(Clone, Debug, Default)]
pub struct EventsArgs {
    /// `[path]` or `--path`.
    pub path: Option<String>,
    /// `--after N`.
    pub after: Option<i64>,
    /// `--limit N`.
    pub limit: Option<i64>,
    /// `--all`.
    pub all: bool,
    /// `--wait`.
    pub wait: bool,
    /// `--follow`.
    pub follow: bool,
    /// `--event` types.
    pub types: Option<Vec<String>>,
    /// `--target`.
    pub target: Option<String>,
    /// `--from`.
    pub from: Option<String>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `tt msg recv`: only `message_sent`, default target `self`.
    pub messages_only: bool,
}

fn target_of(arg: Option<&str>, me: &str, default_self: bool) -> Target {
    match arg {
        Some("self") => Target::SelfOf(me.to_string()),
        Some("any") => Target::Any,
        Some(a) => Target::Agent(a.to_string()),
        None if default_self => Target::SelfOf(me.to_string()),
        None => Target::Any,
    }
}

/// `tt events` / `tt msg recv` without `--wait`/`--follow` (cli.md §4.14, §4.16).
pub fn events(ctx: &Context, svc: &mut Service, identity: &Identity, a: &EventsArgs) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, a.path.as_deref())?;
    let types = if a.messages_only { Some(vec!["message_sent".to_string()]) } else { a.types.clone() };
    let q = EventRead {
        after: a.after,
        limit: a.limit,
        all: a.all,
        types,
        from: a.from.clone(),
        target: target_of(a.target.as_deref(), &who.agent_id, a.messages_only),
    };
    let json = svc.events(&room_id, &who, &q)?;
    let now = svc.now();
    let text = events_text(&json, now);
    Ok(Outcome { json, text, warnings: Vec::new() })
}

fn events_text(json: &Value, now: i64) -> String {
    let events = json.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
    if events.is_empty() {
        return "No events.\n".to_string();
    }
    let mut t = String::new();
    let mut turn = None;
    for e in &events {
        let et = e.get("turn_id").and_then(Value::as_i64);
        if et != turn {
            turn = et;
            let at = parse_ts(e.get("created_at")).map_or("-".to_string(), |x| relative(x, now));
            t.push_str(&format!("Turn {} ({at})\n", et.unwrap_or(0)));
        }
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        let mut line = format!("  {:<8} {} → {}", s("event_type"), s("from_agent_id"), s("to_agent_id"));
        if let Some(r) = e.get("reason").and_then(Value::as_str) {
            line.push_str(&format!(" ({r})"));
        }
        t.push_str(&line);
        t.push('\n');
    }
    t
}

/// A stream (`--wait` / `--follow`, protocol.md §17.6). Each event is handed to `sink`
/// as `(json line, text line)`; `sink` returns false when stdout is closed. Returns the
/// final cursor, written by the caller as `cursor_event_seq=<n>` on stderr.
pub fn stream(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    a: &EventsArgs,
    stop: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(&Value, &str) -> bool,
) -> Result<i64, TtError> {
    let types = if a.messages_only { Some(vec!["message_sent".to_string()]) } else { a.types.clone() };
    if let Some(t) = &types {
        validate_types(t)?;
    }
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, a.path.as_deref())?;
    let target = target_of(a.target.as_deref(), &who.agent_id, true);
    let mut cursor = match a.after {
        Some(n) => n,
        None => svc.max_event_seq(&room_id)?,
    };
    let max = Duration::from_millis(svc.settings.wait_for_events_max_wait_ms);
    let poll = Duration::from_millis(svc.settings.wait_for_events_poll_ms.max(1));
    let total = a.timeout.map(|t| t.min(max));
    let began = Instant::now();
    let waiter = ctx.waiter(&room_id);
    loop {
        // One long-poll cycle.
        let budget = match (a.follow, a.timeout) {
            (true, Some(t)) => t.saturating_sub(began.elapsed()).min(max),
            (true, None) => max,
            (false, _) => total.unwrap_or(max),
        };
        let deadline = Instant::now() + budget;
        if matches!(target, Target::SelfOf(_)) {
            svc.touch_reader(&room_id, &who)?;
        }
        let mut filter = EventFilter::room(&room_id, cursor);
        filter.types.clone_from(&types);
        filter.from.clone_from(&a.from);
        filter.target = target.clone();
        let got = loop {
            let events = svc.events_since(&room_id, &filter, None, crate::service::limits::WAKE_EVENTS)?;
            if !events.is_empty() {
                break events;
            }
            let now = Instant::now();
            if now >= deadline || stop() {
                break Vec::new();
            }
            let nap = poll.min(deadline - now);
            match &waiter {
                Some(w) => {
                    let _ = w.wait(nap);
                }
                None => std::thread::sleep(nap),
            }
        };
        for e in &got {
            cursor = e.event_seq;
            if !sink(&shape::event(e), &event_line(e)) {
                return Ok(cursor);
            }
        }
        if !a.follow || stop() || a.timeout.is_some_and(|t| began.elapsed() >= t) {
            return Ok(cursor);
        }
    }
}

/// `tt msg send` (cli.md §4.15). `recipient` None = broadcast.
pub fn msg_send(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    recipient: Option<&str>,
    body: &str,
    interrupt: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let hint = if interrupt { "interrupt" } else { "normal" };
    let e = svc.send_message(&room_id, &who, recipient, body, hint)?;
    let json = json!({"event_seq": e.event_seq, "event_id": e.event_id, "created_at": shape::ts(Some(e.created_at))});
    let short: String = e.event_id.chars().take(8).collect();
    let text = format!(
        "Sent{} message {short} to {}.\n",
        if interrupt { " interrupt" } else { "" },
        e.to_agent_id.as_deref().unwrap_or("room")
    );
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt notes add` (cli.md §4.17).
pub fn notes_add(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    body: &str,
    turn: Option<i64>,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let n = svc.add_note(&room_id, &who, body, turn)?;
    let json = json!({
        "note_id": n.note_id,
        "room_id": n.room_id,
        "turn_id": n.turn_id,
        "author_agent_id": n.author_agent_id,
        "created_at": shape::ts(Some(n.created_at)),
    });
    let short: String = n.note_id.chars().take(8).collect();
    let turn = n.turn_id.map_or("-".to_string(), |t| t.to_string());
    Ok(Outcome { json, text: format!("Added note {short} (turn={turn}).\n"), warnings: Vec::new() })
}

/// `tt notes list` (cli.md §4.17).
pub fn notes_list(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    after: Option<&str>,
    all: bool,
    limit: Option<i64>,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let (room_id, _) = lookup_room(ctx, svc, &who.agent_id, path)?;
    let json = svc.list_notes(&room_id, &who, after, all, limit)?;
    let now = svc.now();
    let notes = json.get("notes").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut text =
        if notes.is_empty() { "No notes.\n".to_string() } else { format!("{} note(s) in this room:\n", notes.len()) };
    for n in &notes {
        let id: String = n.get("note_id").and_then(Value::as_str).unwrap_or("").chars().take(8).collect();
        let author = n.get("author_agent_id").and_then(Value::as_str).unwrap_or("");
        let at = parse_ts(n.get("created_at")).map_or("-".to_string(), |x| relative(x, now));
        let turn = n.get("turn_id").and_then(Value::as_i64).map_or("room-scoped".to_string(), |t| format!("turn {t}"));
        let first = n.get("body").and_then(Value::as_str).unwrap_or("").lines().next().unwrap_or("").to_string();
        let first = if first.chars().count() > 80 {
            format!("{}...", first.chars().take(77).collect::<String>())
        } else {
            first
        };
        text.push_str(&format!("- {id} {author} · {at} · {turn}\n    {first}\n"));
    }
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt health` (cli.md §4.12).
pub fn health(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    all: bool,
    verbose: bool,
) -> Result<Outcome, TtError> {
    svc.purge()?;
    let who = caller(identity);
    let home = ctx.home();
    let resolved = resolve(path, &ctx.cwd, home.as_deref());
    let (room_id, row) = lookup_room(ctx, svc, &who.agent_id, path)?;
    svc.touch_reader(&room_id, &who)?;
    let (room, members, view) = svc.snapshot(&room_id)?;
    let me = who.agent_id.as_str();
    let is_member = members.iter().any(|(m, _, _)| m.agent_id == me);
    let you_own = room.owner.as_deref() == Some(me);
    let guardian = row.as_ref().and_then(SessionRow::guardian);
    let (g_status, g_pid) = match guardian {
        Some((pid, started)) => {
            let v = svc.liveness.local_process_verdict(pid, started);
            (v.as_str(), Some(pid))
        }
        None => ("not_recorded", None),
    };
    let renewing = you_own && matches!(g_status, "alive" | "unknown");
    let offer = svc.takeover_offer(&room_id, me)?;
    let commitments = svc.surfaced_commitments(&room_id, me, false)?;
    let git = crate::git::status(&resolved.workspace_root);
    let next_action = if !is_member {
        "Run `tt wait` to join this room and wait for the turn.".to_string()
    } else if you_own && renewing {
        "You hold the stick: work, then `tt release` or `tt pass` with a handoff.".to_string()
    } else if you_own {
        "You hold the stick but nothing renews the lease: run `tt wait` to repair the guardian.".to_string()
    } else if room.reserved_for.as_deref() == Some(me) {
        "The stick is reserved for you: run `tt wait` to claim it.".to_string()
    } else if let Some(reason) = offer {
        format!("Takeover available ({reason}): run `tt take --reason …` if the holder is really unresponsive.")
    } else {
        "Keep one `tt wait` running.".to_string()
    };
    let mut takeover = Map::new();
    takeover.insert("available".into(), json!(offer.is_some()));
    if let Some(r) = offer {
        takeover.insert("reason".into(), json!(r));
    }
    let mut o = Map::new();
    o.insert(
        "room".into(),
        json!({"room_id": room.room_id, "canonical_path": room.canonical_path, "state": view.as_str(), "turn_id": room.turn_id}),
    );
    o.insert("owner".into(), json!(room.owner));
    o.insert("reserved_for".into(), json!(room.reserved_for));
    o.insert("you_own".into(), json!(you_own));
    o.insert("lease".into(), json!({"expires_at": shape::ts(room.lease_expires_at), "renewing": renewing}));
    o.insert("guardian".into(), json!({"status": g_status, "pid": g_pid}));
    o.insert("listener".into(), json!({"status": "not_tracked"}));
    o.insert("git".into(), json!({"dirty": git.dirty, "summary": git.summary}));
    o.insert("takeover".into(), Value::Object(takeover));
    o.insert(
        "commitments".into(),
        json!({
            "open_total": commitments.open_total,
            "open": commitments.open.iter().map(shape::commitment_summary).collect::<Vec<_>>(),
            "room_held_total": commitments.room_held_total,
        }),
    );
    o.insert("next_action".into(), json!(next_action));
    let machine = svc.liveness.machine().clone();
    let (guards, guards_line) = super::guards::health_summary(ctx, &svc.host_lock, &machine, &resolved.workspace_root);
    o.insert("guards".into(), guards);
    let omitted = if verbose { 0 } else { members.len() };
    if verbose {
        let state = svc.state_view(&room_id, me, all, true)?;
        let listed = state.get("members").cloned().unwrap_or(json!([]));
        let listed_n = listed.as_array().map_or(0, Vec::len);
        o.insert("members".into(), listed);
        o.insert("hidden".into(), json!({"members_omitted": members.len().saturating_sub(listed_n)}));
        let pending = match room.pending_handoff_event_seq {
            Some(seq) => svc.read(|tx, _| tx.event(seq))?.map(|e| shape::event(&e)).unwrap_or(Value::Null),
            None => Value::Null,
        };
        o.insert("pending_handoff".into(), pending);
        o.insert("cursor_event_seq".into(), state.get("cursor_event_seq").cloned().unwrap_or(json!(0)));
        o.insert(
            "local".into(),
            json!({"agent_id": me, "session_kind": who.metadata.session_kind, "data_dir": ctx.data_dir.to_string_lossy()}),
        );
        o.insert(
            "workspace".into(),
            json!({"requested_path": resolved.requested_path.to_string_lossy(), "workspace_root": resolved.workspace_root.to_string_lossy()}),
        );
        o.insert(
            "coordination_prompt".into(),
            json!("Act only on your_turn with a live guardian; keep one `tt wait` running otherwise."),
        );
        o.insert("next".into(), json!("tt wait"));
    } else {
        o.insert("hidden".into(), json!({"members_omitted": omitted}));
    }
    let now = svc.now();
    let mut text = format!("Room: {} ({}, turn {})\n", room.canonical_path, view.as_str(), room.turn_id);
    match &room.owner {
        Some(owner) => {
            let exp = room.lease_expires_at.map_or(String::new(), |t| format!(" (lease expires {})", relative(t, now)));
            text.push_str(&format!("Owner: {owner}{exp}\n"));
        }
        None => text.push_str("Owner: —\n"),
    }
    text.push_str(&format!("Guardian: {g_status}{}\n", g_pid.map_or(String::new(), |p| format!(" {p}"))));
    text.push_str("Listener: not tracked\n");
    text.push_str(&format!("Git: {}\n", git.summary));
    if commitments.open_total > 0 {
        text.push_str(&super::claims::open_line(&commitments.open, commitments.open_total));
    }
    if commitments.room_held_total > 0 {
        text.push_str(&format!("Awaiting next holder: {}\n", commitments.room_held_total));
    }
    text.push_str(&guards_line);
    text.push_str(&format!("Next: {next_action}\n"));
    if verbose {
        text.push_str(&format!("Local: {me} ({}) data dir {}\n", who.metadata.session_kind, ctx.data_dir.display()));
        text.push_str(&format!(
            "Workspace: {} (root {})\n",
            resolved.requested_path.display(),
            resolved.workspace_root.display()
        ));
        text.push_str("Members:\n");
        for (m, _, _) in &members {
            text.push_str(&format!("  • {}\n", m.agent_id));
        }
    }
    let _ = View::Idle;
    Ok(Outcome { json: Value::Object(o), text, warnings: Vec::new() })
}
