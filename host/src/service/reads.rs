//! Reads and the message/note operations: list (§5.3), state (§10.12), events
//! (§17.3–§17.7), messages (§18.1), notes (§18.2), presence-only touches (§8.1) and the
//! recency horizon (§17.7).

use super::{Caller, Deps, Service, View, limits, need_room, not_a_member, shape};
use crate::error::{ErrorCode, TtError};
use crate::liveness::Verdict;
use crate::store::{Event, EventFilter, Member, NewEvent, Note, Room, StoredState, Target, Tx};
use serde_json::{Map, Value, json};

/// The known event types (protocol.md §17.1), for filter validation.
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "join",
    "leave",
    "claim",
    "release",
    "pass",
    "takeover",
    "kick",
    "session_superseded",
    "message_sent",
    "commitments_inherited",
    "close",
    "reservation_expired",
];

/// Validate an event-type filter. Errors: `invalid_event_type_filter` with `supplied`.
pub fn validate_types(types: &[String]) -> Result<(), TtError> {
    if types.is_empty() || types.iter().any(|t| !KNOWN_EVENT_TYPES.contains(&t.as_str())) {
        return Err(TtError::new(
            ErrorCode::InvalidEventTypeFilter,
            format!("unknown event type in `{}`; known types: {}", types.join(","), KNOWN_EVENT_TYPES.join(", ")),
        )
        .with("supplied", json!(types)));
    }
    Ok(())
}

/// `latest_activity_at` and `horizon_start_at` of a room (§17.7), ms.
fn horizon(tx: &Tx<'_>, d: &mut Deps<'_>, room: &Room, members: &[Member]) -> Result<(i64, i64), TtError> {
    let mut latest = room.updated_at;
    if let Some(t) = tx.newest_event_at(&room.room_id)? {
        latest = latest.max(t);
    }
    if let Some(t) = tx.newest_note_at(&room.room_id)? {
        latest = latest.max(t);
    }
    let active: Vec<&Member> = members.iter().filter(|m| d.member_active(m)).collect();
    let pool: Vec<&Member> = if active.is_empty() { members.iter().collect() } else { active };
    if let Some(t) = pool.iter().map(|m| m.last_seen_at).max() {
        latest = latest.max(t);
    }
    Ok((latest, shape::day_start(latest)))
}

/// Apply the presence-only touch of §8.1 for a read: `last_seen_at = now` and the
/// metadata merge, only if the caller is already a member.
fn touch_if_member(tx: &Tx<'_>, d: &mut Deps<'_>, room_id: &str, caller: &Caller) -> Result<(), TtError> {
    let Some(room) = tx.room(room_id)? else { return Ok(()) };
    if let Some(mut m) = tx.member(room_id, &caller.agent_id)? {
        d.touch(&room, &mut m, &caller.metadata);
        tx.put_member(&m)?;
    }
    Ok(())
}

/// The `tt state` projection inside the caller's transaction (see `Service::state_view`).
fn state_view_in(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    room: &Room,
    members: &[Member],
    me: &str,
    all: bool,
    verbose: bool,
) -> Result<Value, TtError> {
    let room_id = room.room_id.as_str();
    let view = d.derive(room, members, true);
    let (latest, start) = horizon(tx, d, room, members)?;
    let keep = |m: &Member| {
        Some(m.agent_id.as_str()) == room.owner.as_deref()
            || Some(m.agent_id.as_str()) == room.reserved_for.as_deref()
            || m.agent_id == me
    };
    let shown: Vec<&Member> = if all {
        members.iter().collect()
    } else {
        let mut v: Vec<&Member> = members.iter().filter(|m| keep(m) || m.last_seen_at >= start).collect();
        while v.len() > limits::MEMBER_VIEW {
            match v.iter().rposition(|m| !keep(m)) {
                Some(i) => {
                    v.remove(i);
                }
                None => break,
            }
        }
        v
    };
    let mut list = Vec::new();
    for m in &shown {
        let (active, verdict) = d.activity(m);
        list.push(shape::member(m, active, verdict, verbose));
    }
    let mut obj = Map::new();
    obj.insert("room".into(), shape::room(room, view, verbose));
    obj.insert("members".into(), Value::Array(list));
    obj.insert("cursor_event_seq".into(), json!(tx.max_event_seq(room_id)?));
    let c = super::commitments::surfaced_in(tx, d.now, room_id, me, true)?;
    let by_agent: Vec<Value> = c.by_agent.iter().map(|(a, n)| json!({"agent_id": a, "open_total": n})).collect();
    obj.insert(
        "commitments".into(),
        json!({
            "open_total": c.open_total,
            "open": c.open.iter().map(shape::commitment_summary).collect::<Vec<_>>(),
            "room_held_total": c.room_held_total,
            "by_agent": by_agent,
        }),
    );
    if shown.len() < members.len() {
        obj.insert("hidden".into(), json!({"members": shape::hidden(shown.len(), members.len(), latest, start)}));
    }
    Ok(Value::Object(obj))
}

/// `invalid_cursor` for a `notes list --after` that names no note of the room (§18.2).
fn not_a_note(id: &str) -> TtError {
    TtError::new(ErrorCode::InvalidCursor, format!("`{id}` is not a note of this room"))
}

/// Options of a non-stream event read (cli.md §4.14).
#[derive(Clone, Debug, Default)]
pub struct EventRead {
    /// `--after N`.
    pub after: Option<i64>,
    /// `--limit N`.
    pub limit: Option<i64>,
    /// `--all`.
    pub all: bool,
    /// `--event` types.
    pub types: Option<Vec<String>>,
    /// `--from`.
    pub from: Option<String>,
    /// The visibility target.
    pub target: Target,
}

impl Service {
    /// The refresh of §8.1 for reading commands (state, events, notes list, msg recv,
    /// health, self long-polls): a write only when the caller is a member.
    /// Skipped under a foreign host lock (read-only, host-lock.md §8.2).
    pub fn touch_reader(&mut self, room_id: &str, caller: &Caller) -> Result<(), TtError> {
        if self.read_only {
            return Ok(());
        }
        self.write(|tx, d| touch_if_member(tx, d, room_id, caller))
    }

    /// `tt list` (cli.md §4.2): rooms with the cheap projection; `paths` restricts to
    /// rooms at those paths. Returns `{rooms, hidden?}`.
    pub fn list(&mut self, paths: Option<&[String]>, all: bool, verbose: bool) -> Result<Value, TtError> {
        self.read(|tx, d| {
            let rooms = tx.rooms(None)?;
            let rooms: Vec<Room> = match paths {
                Some(p) => rooms.into_iter().filter(|r| p.contains(&r.canonical_path)).collect(),
                None => rooms,
            };
            let total = rooms.len();
            let shown: Vec<&Room> =
                if all { rooms.iter().collect() } else { rooms.iter().take(limits::ROOM_VIEW).collect() };
            let mut out = Vec::new();
            let mut latest = 0;
            for r in &rooms {
                latest = latest.max(r.updated_at);
            }
            for r in &shown {
                let members = tx.members(&r.room_id)?;
                out.push(shape::room(r, d.cheap_view(r, &members), verbose));
            }
            let mut obj = Map::new();
            let shown_count = out.len();
            obj.insert("rooms".into(), Value::Array(out));
            if shown_count < total {
                obj.insert(
                    "hidden".into(),
                    json!({"rooms": shape::hidden(shown_count, total, latest, shape::day_start(latest))}),
                );
            }
            Ok(Value::Object(obj))
        })
    }

    /// The room and its members, with the full-inspection derived state, after warming
    /// the liveness cache for every member (§5.2).
    /// Each member comes with `(member_active, liveness)`.
    #[allow(clippy::type_complexity, reason = "a one-use tuple of the read's three parts")]
    pub fn snapshot(&mut self, room_id: &str) -> Result<(Room, Vec<(Member, bool, Verdict)>, View), TtError> {
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            let view = d.derive(&room, &members, true);
            let rated = members
                .into_iter()
                .map(|m| {
                    let (active, verdict) = d.activity(&m);
                    (m, active, verdict)
                })
                .collect();
            Ok((room, rated, view))
        })
    }

    /// `tt state` (§10.12, cli.md §4.13): the presence touch of §8.1, then
    /// [`Service::state_view`].
    pub fn state(&mut self, room_id: &str, caller: &Caller, all: bool, verbose: bool) -> Result<Value, TtError> {
        if self.read_only {
            return self.state_view(room_id, &caller.agent_id, all, verbose);
        }
        // The touch and the projection share one transaction: the same result as a touch
        // followed by a read, with one transaction and one statement set less per process.
        self.write(|tx, d| {
            let room = need_room(tx, room_id)?;
            let mut members = tx.members(room_id)?;
            if let Some(m) = members.iter_mut().find(|m| m.agent_id == caller.agent_id) {
                d.touch(&room, m, &caller.metadata);
                tx.put_member(m)?;
            }
            state_view_in(tx, d, &room, &members, &caller.agent_id, all, verbose)
        })
    }

    /// The `tt state` object without any write: `{room, members, cursor_event_seq,
    /// commitments, hidden?}` (`commitments` of follow-through.md §9: the caller's open
    /// ones, the room-held count, `by_agent`); `me` is never dropped from the horizon
    /// view.
    pub fn state_view(&mut self, room_id: &str, me: &str, all: bool, verbose: bool) -> Result<Value, TtError> {
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            state_view_in(tx, d, &room, &members, me, all, verbose)
        })
    }

    /// A non-stream event read (cli.md §4.14). Returns `{events, cursor_event_seq,
    /// has_more}` (explicit mode) or `{events, cursor_event_seq, hidden?}` (horizon view).
    pub fn events(&mut self, room_id: &str, caller: &Caller, q: &EventRead) -> Result<Value, TtError> {
        if let Some(t) = &q.types {
            validate_types(t)?;
        }
        // Target `any` is an audit read and never refreshes presence (§17.3).
        if q.target != Target::Any {
            self.touch_reader(room_id, caller)?;
        }
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            let explicit = q.after.is_some() || q.limit.is_some() || q.all;
            let mut filter = EventFilter::room(room_id, q.after.unwrap_or(0).max(0));
            filter.types.clone_from(&q.types);
            filter.from.clone_from(&q.from);
            filter.target = q.target.clone();
            let mut obj = Map::new();
            if explicit {
                let limit = q.limit.unwrap_or(limits::EVENT_PAGE as i64).clamp(1, limits::EVENT_QUERY_MAX as i64);
                let limit = usize::try_from(limit).unwrap_or(limits::EVENT_PAGE);
                let mut events = tx.events_after(&filter, limit + 1)?;
                let has_more = events.len() > limit;
                events.truncate(limit);
                let cursor = events.last().map(|e| e.event_seq).or(q.after).unwrap_or(tx.max_event_seq(room_id)?);
                obj.insert("events".into(), Value::Array(events.iter().map(shape::event).collect()));
                obj.insert("cursor_event_seq".into(), json!(cursor));
                obj.insert("has_more".into(), json!(has_more));
            } else {
                let members = tx.members(room_id)?;
                let (latest, start) = horizon(tx, d, &room, &members)?;
                let total = tx.count_events(&filter)?;
                let mut hfilter = filter.clone();
                hfilter.since_created_at = Some(start);
                let events = tx.events_newest(&hfilter, limits::EVENT_VIEW)?;
                let cursor = events.last().map(|e| e.event_seq).unwrap_or(tx.max_event_seq(room_id)?);
                let shown = events.len();
                obj.insert("events".into(), Value::Array(events.iter().map(shape::event).collect()));
                obj.insert("cursor_event_seq".into(), json!(cursor));
                if shown < total {
                    obj.insert("hidden".into(), json!({"events": shape::hidden(shown, total, latest, start)}));
                }
            }
            Ok(Value::Object(obj))
        })
    }

    /// Events of a wait or stream (§17.3, §17.6): ascending after `after`, at most
    /// `limit`. `wait_suppression` applies the wait-only suppression for `self`.
    pub fn events_since(
        &mut self,
        room_id: &str,
        filter_base: &EventFilter,
        wait_suppression_for: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Event>, TtError> {
        self.read(|tx, _| {
            let room = need_room(tx, room_id)?;
            let mut f = filter_base.clone();
            if let Some(x) = wait_suppression_for {
                let owned_turn =
                    (room.owner.as_deref() == Some(x) && room.state == StoredState::Owned).then_some(room.turn_id);
                f.wait_suppression = Some(owned_turn);
            }
            tx.events_after(&f, limit)
        })
    }

    /// The room's largest `event_seq` (0 if none).
    pub fn max_event_seq(&mut self, room_id: &str) -> Result<i64, TtError> {
        self.read(|tx, _| {
            need_room(tx, room_id)?;
            tx.max_event_seq(room_id)
        })
    }

    /// Send a message (§18.1, cli.md §4.15). `recipient` None = broadcast; otherwise a
    /// selector resolved inside the transaction (exact agent id, else the active members'
    /// display name). Returns the `message_sent` event. Errors: `invalid_body`,
    /// `message_too_large`, `invalid_delivery_hint`, `room_not_found`, `room_closed`,
    /// `unknown_member`, `unknown_recipient`, `ambiguous_recipient`.
    pub fn send_message(
        &mut self,
        room_id: &str,
        caller: &Caller,
        recipient: Option<&str>,
        body: &str,
        delivery_hint: &str,
    ) -> Result<Event, TtError> {
        if body.is_empty() {
            return Err(TtError::new(ErrorCode::InvalidBody, "the message body is empty"));
        }
        if body.len() > limits::MESSAGE_BYTES {
            return Err(TtError::new(
                ErrorCode::MessageTooLarge,
                format!("the message body is {} bytes; the maximum is 4096", body.len()),
            )
            .with("supplied", body.len())
            .with("max", limits::MESSAGE_BYTES));
        }
        if !matches!(delivery_hint, "normal" | "interrupt") {
            return Err(TtError::new(ErrorCode::InvalidDeliveryHint, "the delivery hint must be normal or interrupt"));
        }
        // Recipient resolution probes members inside the write transaction: warm first.
        if recipient.is_some() {
            let members = self.read(|tx, _| tx.members(room_id))?;
            self.warm(&members);
        }
        let event = self.write(|tx, d| {
            let room = need_room(tx, room_id)?;
            if room.state == StoredState::Closed {
                return Err(TtError::new(ErrorCode::RoomClosed, "the room is closed"));
            }
            let mut me = tx.member(room_id, &caller.agent_id)?.ok_or_else(|| {
                not_a_member(&caller.agent_id, "the sender is not a member of this room; run `tt join` first")
            })?;
            let to = match recipient {
                None => None,
                Some(sel) => Some(resolve_recipient(tx, d, room_id, sel)?),
            };
            d.touch(&room, &mut me, &caller.metadata);
            tx.put_member(&me)?;
            let payload = json!({"body": body, "delivery_hint": delivery_hint});
            tx.append_event(&NewEvent {
                room_id,
                turn_id: room.turn_id,
                event_type: "message_sent",
                from: Some(&caller.agent_id),
                to: to.as_deref(),
                handoff: None,
                reason: None,
                payload: Some(&payload),
                created_at: d.now,
            })
        })?;
        self.notify(room_id);
        Ok(event)
    }

    /// Add a note (§18.2). Errors: `invalid_body`, `body_too_large`, `room_not_found`,
    /// `room_closed`, `invalid_turn_id`, `unknown_member`.
    pub fn add_note(&mut self, room_id: &str, caller: &Caller, body: &str, turn: Option<i64>) -> Result<Note, TtError> {
        let body = body.trim();
        if body.is_empty() {
            return Err(TtError::new(ErrorCode::InvalidBody, "the note body is empty"));
        }
        if body.len() > limits::NOTE_BYTES {
            return Err(TtError::new(
                ErrorCode::BodyTooLarge,
                format!("the note body is {} bytes; the maximum is 16384", body.len()),
            )
            .with("supplied", body.len())
            .with("max", limits::NOTE_BYTES));
        }
        let note = self.write(|tx, d| {
            let room = need_room(tx, room_id)?;
            if room.state == StoredState::Closed {
                return Err(TtError::new(ErrorCode::RoomClosed, "the room is closed"));
            }
            if let Some(t) = turn
                && !(0..=room.turn_id).contains(&t)
            {
                return Err(TtError::new(
                    ErrorCode::InvalidTurnId,
                    format!("turn {t} is outside [0, {}]", room.turn_id),
                )
                .with("supplied", t)
                .with("current_turn_id", room.turn_id));
            }
            let mut me = tx.member(room_id, &caller.agent_id)?.ok_or_else(|| {
                not_a_member(&caller.agent_id, "the author is not a member of this room; run `tt join` first")
            })?;
            d.touch(&room, &mut me, &caller.metadata);
            tx.put_member(&me)?;
            let note = Note {
                note_id: uuid::Uuid::new_v4().to_string(),
                room_id: room_id.to_string(),
                turn_id: turn,
                author_agent_id: caller.agent_id.clone(),
                body: body.to_string(),
                created_at: d.now,
                resolved_at: None,
                resolved_by_agent_id: None,
            };
            tx.insert_note(&note)?;
            Ok(note)
        })?;
        Ok(note)
    }

    /// List notes (§18.2, cli.md §4.17): `{notes, hidden?}`. Errors: `invalid_cursor`.
    pub fn list_notes(
        &mut self,
        room_id: &str,
        caller: &Caller,
        after: Option<&str>,
        all: bool,
        limit: Option<i64>,
    ) -> Result<Value, TtError> {
        // The cursor is checked before the presence touch: a failing read writes nothing
        // (docs/RELIABILITY.md, "Bad input").
        if let Some(id) = after {
            self.read(|tx, _| tx.note(room_id, id)?.map(|_| ()).ok_or_else(|| not_a_note(id)))?;
        }
        self.touch_reader(room_id, caller)?;
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            let notes: Vec<Note> = tx.notes(room_id)?.into_iter().filter(|n| all || n.resolved_at.is_none()).collect();
            let start_idx = match after {
                Some(id) => {
                    let Some(a) = tx.note(room_id, id)? else { return Err(not_a_note(id)) };
                    notes
                        .iter()
                        .position(|n| (n.created_at, n.note_id.as_str()) > (a.created_at, a.note_id.as_str()))
                        .unwrap_or(notes.len())
                }
                None => 0,
            };
            let rest = notes.get(start_idx..).unwrap_or_default();
            let mut obj = Map::new();
            if all || after.is_some() || limit.is_some() {
                let lim = limit.unwrap_or(limits::NOTES_DEFAULT as i64).clamp(1, limits::NOTES_MAX as i64);
                let lim = usize::try_from(lim).unwrap_or(limits::NOTES_DEFAULT);
                let page: Vec<Value> = rest.iter().take(lim).map(shape::note).collect();
                obj.insert("notes".into(), Value::Array(page));
            } else {
                let members = tx.members(room_id)?;
                let (latest, start) = horizon(tx, d, &room, &members)?;
                let recent: Vec<&Note> = rest.iter().filter(|n| n.created_at >= start).collect();
                let skip = recent.len().saturating_sub(limits::NOTES_DEFAULT);
                let shown: Vec<Value> = recent.iter().skip(skip).map(|n| shape::note(n)).collect();
                let count = shown.len();
                obj.insert("notes".into(), Value::Array(shown));
                if count < rest.len() {
                    obj.insert("hidden".into(), json!({"notes": shape::hidden(count, rest.len(), latest, start)}));
                }
            }
            Ok(Value::Object(obj))
        })
    }
}

/// Resolve a message recipient selector (cli.md §4.15): an exact agent id of any member;
/// else the active members whose display name equals it.
fn resolve_recipient(tx: &Tx<'_>, d: &mut Deps<'_>, room_id: &str, sel: &str) -> Result<String, TtError> {
    if tx.member(room_id, sel)?.is_some() {
        return Ok(sel.to_string());
    }
    let members = tx.members(room_id)?;
    let mut matches: Vec<String> = Vec::new();
    for m in &members {
        if m.display_name.as_deref() == Some(sel) && d.member_active(m) {
            matches.push(m.agent_id.clone());
        }
    }
    matches.sort();
    match matches.len() {
        0 => Err(TtError::new(ErrorCode::UnknownRecipient, format!("No active room member matches '{sel}'."))
            .with("recipient", sel)),
        1 => Ok(matches.remove(0)),
        _ => Err(TtError::new(
            ErrorCode::AmbiguousRecipient,
            format!("'{sel}' matches several active members: {}", matches.join(", ")),
        )
        .with("candidates", json!(matches))),
    }
}
