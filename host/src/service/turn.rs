//! Turn operations: the wait poll and grant (protocol.md §10.4–§10.6), heartbeat
//! (§10.7), release and pass (§10.8), relinquish (§10.9), takeover (§12) and the handoff
//! validation of §10.3. Fencing (§10.2) is checked inside each transaction. Grants attach
//! room-held commitments, handoffs record their claims, and takeovers of a dead or timed
//! out owner and relinquishment move the owner's commitments to the room
//! (follow-through.md §8, §10).

use super::commitments::{self as cm, Attach, Recorded};
use super::{Caller, Deps, Service, View, ms, need_room, not_a_member, shape};
use crate::error::{ErrorCode, TtError};
use crate::store::{Commitment, Event, EventFilter, Member, NewEvent, Room, StoredState, Tx};
use serde_json::{Map, Value, json};
use stick_policy::types as n;

/// The park hint (protocol.md §10.6.1, §13).
pub const PARK_HINT: &str = "A pending handoff is waiting in this idle room; park mode does not auto-claim. Run `tt wait` \
     without --park to pick it up, or ask for an explicit assignment.";

/// Why a grant happened (§10.5) or `already_owner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantReason {
    /// The pending handoff was a pass.
    DirectPass,
    /// The pending handoff was a release.
    Sequence,
    /// No pending handoff.
    OpenClaim,
    /// The caller already holds a live lease.
    AlreadyOwner,
}

impl GrantReason {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantReason::DirectPass => "direct_pass",
            GrantReason::Sequence => "sequence",
            GrantReason::OpenClaim => "open_claim",
            GrantReason::AlreadyOwner => "already_owner",
        }
    }
}

/// A service-level wait/takeover result (protocol.md §10.1).
#[derive(Clone, Debug, PartialEq)]
pub enum PollResult {
    /// A grant or `already_owner`.
    YourTurn {
        /// Room.
        room_id: String,
        /// The (new) turn.
        turn_id: i64,
        /// The lease.
        lease_id: String,
        /// The pending handoff, if any.
        handoff: Option<Value>,
        /// Its author.
        from_agent_id: Option<String>,
        /// Why.
        reason: GrantReason,
        /// Room-held commitments this grant attached (follow-through.md §10.3).
        inherited: Vec<Commitment>,
    },
    /// A committed takeover (§12.6).
    TookOver {
        /// Room.
        room_id: String,
        /// The new turn.
        turn_id: i64,
        /// The new lease.
        lease_id: String,
        /// Who lost the stick or the reservation.
        revoked_agent_id: Option<String>,
        /// The takeover kind.
        reason: &'static str,
        /// Commitments this takeover attached (follow-through.md §10.3).
        inherited: Vec<Commitment>,
    },
    /// Not the caller's turn.
    NotYet {
        /// Derived state.
        room_state: View,
        /// Room turn.
        turn_id: i64,
        /// Owner, with its lease expiry.
        current_owner: Option<(String, Option<i64>)>,
        /// Reserved recipient, with its claim expiry.
        reserved_for: Option<(String, Option<i64>)>,
        /// `auto_claim_disabled` or `lost_turn`.
        reason: Option<&'static str>,
        /// The park hint.
        hint: Option<&'static str>,
    },
    /// A takeover is open to the caller.
    TakeoverAvailable {
        /// Room.
        room_id: String,
        /// Room turn.
        turn_id: i64,
        /// Derived state.
        room_state: View,
        /// The kind.
        reason: &'static str,
        /// Owner cases.
        current_owner: Option<String>,
        /// Reservation cases.
        reserved_for: Option<String>,
    },
    /// The room is closed.
    Closed {
        /// Room.
        room_id: String,
    },
}

impl PollResult {
    /// The `status` string.
    pub fn status(&self) -> &'static str {
        match self {
            PollResult::YourTurn { .. } | PollResult::TookOver { .. } => "your_turn",
            PollResult::NotYet { .. } => "not_yet",
            PollResult::TakeoverAvailable { .. } => "takeover_available",
            PollResult::Closed { .. } => "closed",
        }
    }

    /// The `reason` string, if any.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            PollResult::YourTurn { reason, .. } => Some(reason.as_str()),
            PollResult::TookOver { reason, .. } | PollResult::TakeoverAvailable { reason, .. } => Some(reason),
            PollResult::NotYet { reason, .. } => *reason,
            PollResult::Closed { .. } => None,
        }
    }

    /// `(turn_id, lease_id)` of a `your_turn`.
    pub fn lease(&self) -> Option<(i64, &str)> {
        match self {
            PollResult::YourTurn { turn_id, lease_id, .. } | PollResult::TookOver { turn_id, lease_id, .. } => {
                Some((*turn_id, lease_id.as_str()))
            }
            _ => None,
        }
    }

    /// The JSON object of §10.1 (absent optional fields omitted).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status()));
        match self {
            PollResult::YourTurn { room_id, turn_id, lease_id, handoff, from_agent_id, reason, inherited } => {
                m.insert("room_id".into(), json!(room_id));
                m.insert("turn_id".into(), json!(turn_id));
                m.insert("lease_id".into(), json!(lease_id));
                m.insert("handoff".into(), handoff.clone().unwrap_or(Value::Null));
                m.insert("from_agent_id".into(), json!(from_agent_id));
                m.insert("reason".into(), json!(reason.as_str()));
                insert_inherited(&mut m, inherited);
            }
            PollResult::TookOver { room_id, turn_id, lease_id, revoked_agent_id, reason, inherited } => {
                m.insert("room_id".into(), json!(room_id));
                m.insert("turn_id".into(), json!(turn_id));
                m.insert("lease_id".into(), json!(lease_id));
                m.insert("revoked_agent_id".into(), json!(revoked_agent_id));
                m.insert("reason".into(), json!(reason));
                insert_inherited(&mut m, inherited);
            }
            PollResult::NotYet { room_state, turn_id, current_owner, reserved_for, reason, hint } => {
                m.insert("room_state".into(), json!(room_state.as_str()));
                m.insert("turn_id".into(), json!(turn_id));
                if let Some((owner, lease)) = current_owner {
                    m.insert("current_owner".into(), json!(owner));
                    m.insert("lease_expires_at".into(), shape::ts(*lease));
                }
                if let Some((r, claim)) = reserved_for {
                    m.insert("reserved_for".into(), json!(r));
                    m.insert("claim_expires_at".into(), shape::ts(*claim));
                }
                if let Some(reason) = reason {
                    m.insert("reason".into(), json!(reason));
                }
                if let Some(hint) = hint {
                    m.insert("hint".into(), json!(hint));
                }
            }
            PollResult::TakeoverAvailable { room_id, turn_id, room_state, reason, current_owner, reserved_for } => {
                m.insert("room_id".into(), json!(room_id));
                m.insert("turn_id".into(), json!(turn_id));
                m.insert("room_state".into(), json!(room_state.as_str()));
                m.insert("reason".into(), json!(reason));
                if let Some(o) = current_owner {
                    m.insert("current_owner".into(), json!(o));
                }
                if let Some(r) = reserved_for {
                    m.insert("reserved_for".into(), json!(r));
                }
            }
            PollResult::Closed { room_id } => {
                m.insert("room_id".into(), json!(room_id));
            }
        }
        m
    }
}

/// `inherited_commitments` (at most 10 summaries with `from_agent_id`) and
/// `inherited_commitments_total`, both omitted when nothing was attached
/// (follow-through.md §10.3).
fn insert_inherited(m: &mut Map<String, Value>, inherited: &[Commitment]) {
    if inherited.is_empty() {
        return;
    }
    let list: Vec<Value> = inherited.iter().take(cm::SURFACE_MAX).map(shape::inherited_summary).collect();
    m.insert("inherited_commitments".into(), Value::Array(list));
    m.insert("inherited_commitments_total".into(), json!(inherited.len()));
}

/// Wait mode (§10.6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// May auto-claim an idle room.
    Active,
    /// Never auto-claims (§13).
    Parked,
}

/// Per-invocation poll state: whether the first poll's presence write happened.
#[derive(Clone, Copy, Debug, Default)]
pub struct PollState {
    /// The first poll of the invocation has committed its presence refresh.
    pub touched: bool,
}

/// The owner fencing check (§10.2). Returns the derived view on success.
fn fence(
    d: &mut Deps<'_>,
    room: &Room,
    members: &[Member],
    caller: &str,
    lease_id: &str,
    expected_turn: i64,
) -> Result<View, TtError> {
    let view = d.derive(room, members, false);
    let details = |e: TtError| {
        e.with("current_owner", json!(room.owner))
            .with("current_turn_id", room.turn_id)
            .with("room_state", view.as_str())
    };
    if expected_turn != room.turn_id {
        return Err(details(TtError::new(
            ErrorCode::TurnMismatch,
            format!("turn {expected_turn} is over; the room is at turn {}", room.turn_id),
        )));
    }
    if room.owner.as_deref() != Some(caller)
        || room.lease_id.as_deref() != Some(lease_id)
        || room.state != StoredState::Owned
        || !matches!(view, View::Owned | View::StaleOwner)
    {
        return Err(details(TtError::new(ErrorCode::StaleLease, "this lease no longer holds the stick")));
    }
    Ok(view)
}

/// Validate a handoff (§10.3). Errors: `invalid_handoff` with `details.field`.
pub fn validate_handoff(h: &Value) -> Result<(), TtError> {
    let bad = |field: &str, msg: &str| TtError::new(ErrorCode::InvalidHandoff, msg).with("field", field);
    let Value::Object(o) = h else { return Err(bad("handoff", "the handoff must be a JSON object")) };
    if h.to_string().len() > super::limits::HANDOFF_BYTES {
        return Err(bad("handoff", "the handoff is larger than 65536 bytes"));
    }
    let non_blank = |k: &str| o.get(k).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    if !non_blank("status") {
        return Err(bad("status", "the handoff needs a non-empty `status` string"));
    }
    if !non_blank("next_action") {
        return Err(bad("next_action", "the handoff needs a non-empty `next_action` string"));
    }
    if o.get("artifacts").is_some_and(|a| !a.is_array()) {
        return Err(bad("artifacts", "`artifacts` must be an array"));
    }
    Ok(())
}

/// The caller's member row or `unknown_member` with the wait-poll message (§10.4).
fn poll_member(tx: &Tx<'_>, room_id: &str, agent: &str) -> Result<Member, TtError> {
    tx.member(room_id, agent)?.ok_or_else(|| {
        not_a_member(agent, "Agent is no longer a member of this room. Run `tt join` before waiting again.")
    })
}

/// `claim_takeover_eligible(caller)` (§12.3).
fn claim_takeover_eligible(
    tx: &Tx<'_>,
    d: &Deps<'_>,
    room: &Room,
    members: &[Member],
    caller: &str,
) -> Result<bool, TtError> {
    if room.reserved_for.as_deref() == Some(caller) {
        return Ok(false);
    }
    let prior = match room.pending_handoff_event_seq {
        Some(seq) => tx.event(seq)?.and_then(|e| e.from_agent_id),
        None => None,
    };
    if prior.as_deref() == Some(caller) {
        let others_present = members.iter().any(|m| {
            m.agent_id != caller && Some(m.agent_id.as_str()) != room.reserved_for.as_deref() && d.presence_recent(m)
        });
        return Ok(!others_present);
    }
    Ok(true)
}

fn not_yet(room: &Room, view: View) -> PollResult {
    PollResult::NotYet {
        room_state: view,
        turn_id: room.turn_id,
        current_owner: room.owner.clone().map(|o| (o, room.lease_expires_at)),
        reserved_for: room.reserved_for.clone().map(|r| (r, room.claim_expires_at)),
        reason: None,
        hint: None,
    }
}

/// GRANT (§10.5), inside the poll's transaction after the membership check.
fn grant(tx: &Tx<'_>, d: &Deps<'_>, room: &mut Room, me: &Member) -> Result<PollResult, TtError> {
    let pending = match room.pending_handoff_event_seq {
        Some(seq) => tx.event(seq)?,
        None => None,
    };
    let reason = match pending.as_ref().map(|e| e.event_type.as_str()) {
        Some("pass") => GrantReason::DirectPass,
        Some(_) => GrantReason::Sequence,
        None => GrantReason::OpenClaim,
    };
    let lease = uuid::Uuid::new_v4().to_string();
    room.turn_id += 1;
    room.owner = Some(me.agent_id.clone());
    room.lease_id = Some(lease.clone());
    room.lease_expires_at = Some(d.now.saturating_add(ms(d.settings.owner_lease_ttl_ms)));
    room.reserved_for = None;
    room.claim_expires_at = None;
    room.pending_handoff_event_seq = None;
    room.state = StoredState::Owned;
    room.sequence_index = me.ordinal;
    room.updated_at = d.now;
    tx.update_room(room)?;
    let from = pending.as_ref().and_then(|e| e.from_agent_id.clone());
    tx.append_event(&NewEvent {
        room_id: &room.room_id,
        turn_id: room.turn_id,
        event_type: "claim",
        from: from.as_deref(),
        to: Some(&me.agent_id),
        handoff: None,
        reason: None,
        payload: None,
        created_at: d.now,
    })?;
    let inherited = cm::attach_at_grant(tx, d, room, &me.agent_id)?;
    Ok(PollResult::YourTurn {
        room_id: room.room_id.clone(),
        turn_id: room.turn_id,
        lease_id: lease,
        handoff: pending.and_then(|e| e.handoff),
        from_agent_id: from,
        reason,
        inherited,
    })
}

/// A claim found in one field of a handoff (follow-through.md §8 step 1), classified
/// before the release transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffClaim {
    /// `status` or `next_action`.
    pub field: &'static str,
    /// The classifier's answer.
    pub claim: n::Claim,
    /// The field's text.
    pub text: String,
}

/// What a release or pass did.
#[derive(Clone, Debug, PartialEq)]
pub struct EndTurn {
    /// The reserved recipient, if any.
    pub reserved_for: Option<String>,
    /// The `release` or `pass` event.
    pub event: Event,
    /// Per handoff claim: its field, the claim and what `record()` did (§8 step 4).
    pub handoff_commitments: Vec<(&'static str, n::Claim, Recorded)>,
}

/// Marker: the read-only evaluation found that a write is needed (§20.4); `policy`
/// tells whether the write phase may consult a policy slot (so it is loaded first,
/// outside the write lock).
struct NeedWrite {
    policy: bool,
}

/// One POLL (§10.6.1). With `writable = false` nothing is written; `Ok(Err(NeedWrite))`
/// asks the caller to repeat the whole decision inside `BEGIN IMMEDIATE`.
#[allow(clippy::too_many_arguments, reason = "the inputs of §10.6.1")]
fn poll_once(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    room_id: &str,
    caller: &Caller,
    mode: Mode,
    started_as_owner: bool,
    state: &PollState,
    writable: bool,
) -> Result<Result<PollResult, NeedWrite>, TtError> {
    let mut room = need_room(tx, room_id)?;
    let mut me = poll_member(tx, room_id, &caller.agent_id)?;
    let touch_due =
        !state.touched || me.last_wait_at.is_none_or(|t| d.now - t >= ms(d.settings.wait_touch_interval_ms));
    if touch_due {
        if !writable {
            let idle_with_handoff =
                room.owner.is_none() && room.reserved_for.is_none() && room.pending_handoff_event_seq.is_some();
            return Ok(Err(NeedWrite { policy: mode == Mode::Active && idle_with_handoff }));
        }
        me.last_seen_at = d.now;
        me.last_wait_at = Some(d.now);
        if !state.touched {
            d.merge_metadata(&room, &mut me, &caller.metadata);
        }
        tx.put_member(&me)?;
    }
    if room.state == StoredState::Closed {
        return Ok(Ok(PollResult::Closed { room_id: room.room_id }));
    }
    let holds_live_lease = room.owner.as_deref() == Some(caller.agent_id.as_str())
        && room.lease_id.is_some()
        && !d.expired(room.lease_expires_at);
    if started_as_owner {
        if holds_live_lease {
            return Ok(Ok(already_owner(&room)));
        }
        let members = tx.members(room_id)?;
        let view = d.derive(&room, &members, false);
        let mut r = not_yet(&room, view);
        if let PollResult::NotYet { reason, .. } = &mut r {
            *reason = Some("lost_turn");
        }
        return Ok(Ok(r));
    }
    if holds_live_lease {
        return Ok(Ok(already_owner(&room)));
    }
    let members = tx.members(room_id)?;
    if room.owner.is_none() && room.reserved_for.is_none() {
        if mode == Mode::Parked {
            let view = d.derive(&room, &members, false);
            if let Some(p) = room.pending_handoff_event_seq
                && me.last_park_hint_event_seq != Some(p)
            {
                if !writable {
                    return Ok(Err(NeedWrite { policy: false }));
                }
                me.last_park_hint_event_seq = Some(p);
                tx.put_member(&me)?;
                let mut r = not_yet(&room, view);
                if let PollResult::NotYet { reason, hint, .. } = &mut r {
                    *reason = Some("auto_claim_disabled");
                    *hint = Some(PARK_HINT);
                }
                return Ok(Ok(r));
            }
            return Ok(Ok(not_yet(&room, view)));
        }
        if let Some(seq) = room.pending_handoff_event_seq
            && should_defer(tx, d, &room, &members, &caller.agent_id, seq)?
        {
            let view = d.derive(&room, &members, false);
            return Ok(Ok(not_yet(&room, view)));
        }
        if !writable {
            return Ok(Err(NeedWrite { policy: room.pending_handoff_event_seq.is_some() }));
        }
        return Ok(Ok(grant(tx, d, &mut room, &me)?));
    }
    if room.reserved_for.as_deref() == Some(caller.agent_id.as_str()) {
        if !writable {
            return Ok(Err(NeedWrite { policy: false }));
        }
        return Ok(Ok(grant(tx, d, &mut room, &me)?));
    }
    let view = d.derive(&room, &members, false);
    if let Some((room_state, reason)) = offer(tx, d, &room, &members, view, &caller.agent_id)? {
        // A stored room has an owner or a recipient, never both (§5.1).
        return Ok(Ok(PollResult::TakeoverAvailable {
            room_id: room.room_id.clone(),
            turn_id: room.turn_id,
            room_state,
            reason,
            current_owner: room.owner.clone(),
            reserved_for: room.reserved_for.clone(),
        }));
    }
    Ok(Ok(not_yet(&room, view)))
}

/// The takeover open to `caller` on the derived `view` (§10.6.1, §12.2): the room state
/// to report and the kind, or None. Shared by the poll and `tt health`.
fn offer(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    room: &Room,
    members: &[Member],
    view: View,
    caller: &str,
) -> Result<Option<(View, &'static str)>, TtError> {
    match (&room.owner, &room.reserved_for) {
        (None, Some(r)) if r != caller => {
            if view == View::RecipientGone && claim_takeover_eligible(tx, d, room, members, caller)? {
                return Ok(Some((View::RecipientGone, "recipient_gone")));
            }
            if d.expired(room.claim_expires_at) && claim_takeover_eligible(tx, d, room, members, caller)? {
                return Ok(Some((View::Reserved, "claim_timeout")));
            }
            Ok(None)
        }
        (Some(o), _) if o != caller => Ok(match view {
            View::OwnerGone => Some((View::OwnerGone, "owner_gone")),
            View::StaleOwner => Some((View::StaleOwner, "owner_timeout")),
            _ => None,
        }),
        _ => Ok(None),
    }
}

/// The 0-based rank of `agent` among the room's members (§11.1).
fn rank_of(members: &[Member], agent: &str) -> Option<u32> {
    members.iter().position(|m| m.agent_id == agent).and_then(|r| u32::try_from(r).ok())
}

/// `select_next_holder` input (§11.3, §11.5) after `caller`.
fn selection_input(
    d: &Deps<'_>,
    purpose: n::Purpose,
    caller: &str,
    members: &[Member],
    candidates: Vec<n::Candidate>,
) -> n::SelectionInput {
    n::SelectionInput {
        purpose,
        now_ms: d.now_u64(),
        after: Some(n::AgentRef { agent_id: caller.to_string(), rank: rank_of(members, caller) }),
        member_count: u32::try_from(members.len()).unwrap_or(u32::MAX),
        candidates,
        presence_ttl_ms: d.settings.presence_ttl_ms,
        waiter_grace_ms: d.settings.waiter_grace_ms,
    }
}

fn already_owner(room: &Room) -> PollResult {
    PollResult::YourTurn {
        room_id: room.room_id.clone(),
        turn_id: room.turn_id,
        lease_id: room.lease_id.clone().unwrap_or_default(),
        handoff: None,
        from_agent_id: None,
        reason: GrantReason::AlreadyOwner,
        inherited: Vec::new(),
    }
}

/// Probe the owner's and the reserved recipient's liveness (filling the cache).
fn warm_holders_in(tx: &Tx<'_>, d: &mut Deps<'_>, room_id: &str) -> Result<(), TtError> {
    let Some(room) = tx.room(room_id)? else { return Ok(()) };
    for id in [room.owner, room.reserved_for].into_iter().flatten() {
        if let Some(m) = tx.member(room_id, &id)? {
            let _ = d.verdict(&m);
        }
    }
    Ok(())
}

/// The self events of a wait (§17.3) with the wait-only suppression, ascending.
fn wait_events(tx: &Tx<'_>, room_id: &str, base: &EventFilter, who: &str, limit: usize) -> Result<Vec<Event>, TtError> {
    let room = need_room(tx, room_id)?;
    let mut f = base.clone();
    let owned_turn = (room.owner.as_deref() == Some(who) && room.state == StoredState::Owned).then_some(room.turn_id);
    f.wait_suppression = Some(owned_turn);
    tx.events_after(&f, limit)
}

/// `should_defer_idle_claim` with the facts of §11.4.
fn should_defer(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    room: &Room,
    members: &[Member],
    caller: &str,
    pending_seq: i64,
) -> Result<bool, TtError> {
    let prior = tx.event(pending_seq)?.and_then(|e| e.from_agent_id);
    let prior_owner = prior.map(|id| n::AgentRef { rank: rank_of(members, &id), agent_id: id });
    let candidates = d.candidates(tx, room, members, true)?;
    let input = n::DeferralInput {
        now_ms: d.now_u64(),
        caller: caller.to_string(),
        handoff_age_ms: u64::try_from(d.age(room.updated_at)).unwrap_or(0),
        prior_owner,
        member_count: u32::try_from(members.len()).unwrap_or(u32::MAX),
        candidates,
        waiter_grace_ms: d.settings.waiter_grace_ms,
        prior_owner_release_cooldown_ms: d.settings.prior_owner_release_cooldown_ms,
        presence_ttl_ms: d.settings.presence_ttl_ms,
    };
    Ok(d.policies.should_defer_idle_claim(&input))
}

impl Service {
    /// One POLL (§10.6.1) and, when `events` is given, the event query of the same wait
    /// iteration (§10.6.2). Idle iterations are one read transaction holding both; when
    /// the poll must write (first poll, presence due, grant, park hint) the whole
    /// decision is repeated inside `BEGIN IMMEDIATE` (§20.4) and the events are read
    /// after it, so they include a claim that poll committed. The owner's and the
    /// recipient's liveness is probed during the read phase, so the write phase hits the
    /// cache. Errors: `room_not_found`, `unknown_member` (§10.4).
    pub fn poll_with_events(
        &mut self,
        room_id: &str,
        caller: &Caller,
        mode: Mode,
        started_as_owner: bool,
        state: &mut PollState,
        events: Option<(&EventFilter, usize)>,
    ) -> Result<(PollResult, Vec<Event>), TtError> {
        let st = *state;
        let suppress_for = caller.agent_id.as_str();
        let first = self.read(|tx, d| {
            warm_holders_in(tx, d, room_id)?;
            match poll_once(tx, d, room_id, caller, mode, started_as_owner, &st, false)? {
                Ok(r) => {
                    let evs = match events {
                        Some((f, limit)) => wait_events(tx, room_id, f, suppress_for, limit)?,
                        None => Vec::new(),
                    };
                    Ok(Ok((r, evs)))
                }
                Err(NeedWrite { policy }) => Ok(Err(policy)),
            }
        })?;
        let (result, evs) = match first {
            Ok(found) => found,
            Err(policy) => {
                if policy {
                    self.preload_policies();
                }
                let r = self.write(|tx, d| poll_once(tx, d, room_id, caller, mode, started_as_owner, &st, true))?;
                let r = match r {
                    Ok(r) => r,
                    Err(NeedWrite { .. }) => return Err(TtError::storage("the poll could not complete its write")),
                };
                let evs = match events {
                    Some((f, limit)) => self.read(|tx, _| wait_events(tx, room_id, f, suppress_for, limit))?,
                    None => Vec::new(),
                };
                (r, evs)
            }
        };
        state.touched = true;
        if matches!(
            result,
            PollResult::YourTurn {
                reason: GrantReason::DirectPass | GrantReason::Sequence | GrantReason::OpenClaim,
                ..
            }
        ) || matches!(result, PollResult::NotYet { reason: Some("auto_claim_disabled"), .. })
        {
            self.notify(room_id);
        }
        Ok((result, evs))
    }

    /// One POLL without an event query (`tt take`'s internal poll).
    pub fn poll(
        &mut self,
        room_id: &str,
        caller: &Caller,
        mode: Mode,
        started_as_owner: bool,
        state: &mut PollState,
    ) -> Result<PollResult, TtError> {
        self.poll_with_events(room_id, caller, mode, started_as_owner, state, None).map(|(r, _)| r)
    }

    /// Warm the liveness cache for the room's owner and reserved recipient (outside any
    /// transaction), so that in-transaction checks are cache hits (§20.5). The callers'
    /// transactions consult a holder's liveness only through `persistently_gone`
    /// (§5.2 steps 2–3, §6.6), which probes only a member silent beyond
    /// `gone_grace_ms`, so only those are probed here: a release by a present owner
    /// inspects no process. One that turns silent in between is probed in the
    /// transaction, as without warming.
    pub fn warm_holders(&mut self, room_id: &str) -> Result<(), TtError> {
        let holders = self.read(|tx, d| {
            let Some(room) = tx.room(room_id)? else { return Ok(Vec::new()) };
            // The room's member list, not one row per holder: the write transaction
            // that follows reads that list anyway, so no further statement is prepared.
            let holders = [room.owner, room.reserved_for];
            Ok(tx
                .members(room_id)?
                .into_iter()
                .filter(|m| holders.iter().flatten().any(|h| *h == m.agent_id) && d.silent_beyond_grace(Some(m)))
                .collect())
        })?;
        self.warm(&holders);
        Ok(())
    }

    /// Whether `caller` currently owns the room with a live lease (read once at the start
    /// of an event-mode wait cycle, §10.6.2).
    pub fn holds_live_lease(&mut self, room_id: &str, caller: &str) -> Result<bool, TtError> {
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            Ok(room.owner.as_deref() == Some(caller) && room.lease_id.is_some() && !d.expired(room.lease_expires_at))
        })
    }

    /// What `tt try` would report as `takeover_available` for `caller`, computed without
    /// writing (cli.md §4.12 `takeover`): the kind, or None.
    pub fn takeover_offer(&mut self, room_id: &str, caller: &str) -> Result<Option<&'static str>, TtError> {
        self.warm_holders(room_id)?;
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            if room.state == StoredState::Closed {
                return Ok(None);
            }
            let members = tx.members(room_id)?;
            let view = d.derive(&room, &members, false);
            Ok(offer(tx, d, &room, &members, view, caller)?.map(|(_, kind)| kind))
        })
    }

    /// Heartbeat (§10.7): fencing, then `lease_expires_at = now + owner_lease_ttl_ms`.
    /// Never refreshes presence (#29). Errors: `turn_mismatch`, `stale_lease`,
    /// `room_not_found`.
    pub fn heartbeat(&mut self, room_id: &str, agent: &str, lease_id: &str, turn_id: i64) -> Result<Value, TtError> {
        self.warm_holders(room_id)?;
        self.write(|tx, d| {
            let mut room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            fence(d, &room, &members, agent, lease_id, turn_id)?;
            room.lease_expires_at = Some(d.now.saturating_add(ms(d.settings.owner_lease_ttl_ms)));
            room.state = StoredState::Owned;
            room.updated_at = d.now;
            tx.update_room(&room)?;
            Ok(json!({
                "status": "ok",
                "room_id": room.room_id,
                "turn_id": room.turn_id,
                "lease_id": lease_id,
                "lease_expires_at": shape::ts(room.lease_expires_at),
            }))
        })
    }

    /// Release (§10.8) with the handoff's classified claims (follow-through.md §8).
    /// Errors: `invalid_handoff`, `turn_mismatch`, `stale_lease`, `room_not_found`.
    pub fn release(
        &mut self,
        room_id: &str,
        caller: &Caller,
        lease_id: &str,
        turn_id: i64,
        handoff: &Value,
        claims: &[HandoffClaim],
    ) -> Result<EndTurn, TtError> {
        self.end_turn(room_id, caller, (lease_id, turn_id), None, handoff, claims)
    }

    /// Pass (§10.8) with the handoff's classified claims. Errors: as release, plus
    /// `invalid_input` (pass to oneself) and `unknown_member` (target not an active
    /// member).
    #[allow(clippy::too_many_arguments, reason = "the inputs of §10.8 pass plus the handoff's claims")]
    pub fn pass(
        &mut self,
        room_id: &str,
        caller: &Caller,
        lease_id: &str,
        turn_id: i64,
        to: &str,
        handoff: &Value,
        claims: &[HandoffClaim],
    ) -> Result<EndTurn, TtError> {
        self.end_turn(room_id, caller, (lease_id, turn_id), Some(to), handoff, claims)
    }

    /// Release (`to` None: the fair successor, or nobody) or pass (`to`): one
    /// transaction doing §10.8 steps 1–4, recording the handoff's claims as commitments
    /// of the caller right after the event (follow-through.md §8 step 2).
    fn end_turn(
        &mut self,
        room_id: &str,
        caller: &Caller,
        (lease_id, turn_id): (&str, i64),
        to: Option<&str>,
        handoff: &Value,
        claims: &[HandoffClaim],
    ) -> Result<EndTurn, TtError> {
        validate_handoff(handoff)?;
        self.warm_holders(room_id)?;
        match to {
            Some(to) => {
                let target = self.read(|tx, _| tx.member(room_id, to))?;
                self.warm(target.as_slice());
            }
            None => self.preload_policies(),
        }
        let out = self.write(|tx, d| {
            let mut room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            fence(d, &room, &members, &caller.agent_id, lease_id, turn_id)?;
            let target = match to {
                Some(to) => Some(pass_target(d, &members, &caller.agent_id, to)?),
                None => None,
            };
            let mut me = members
                .iter()
                .find(|m| m.agent_id == caller.agent_id)
                .cloned()
                .ok_or_else(|| not_a_member(&caller.agent_id, "the caller is not a member of this room"))?;
            d.touch(&room, &mut me, &caller.metadata);
            tx.put_member(&me)?;
            let event = tx.append_event(&NewEvent {
                room_id,
                turn_id: room.turn_id,
                event_type: if to.is_some() { "pass" } else { "release" },
                from: Some(&caller.agent_id),
                to,
                handoff: Some(handoff),
                reason: None,
                payload: None,
                created_at: d.now,
            })?;
            let topic = cm::default_topic(room_id, &caller.agent_id);
            let mut recorded = Vec::with_capacity(claims.len());
            for c in claims {
                let rec = cm::Record {
                    agent_id: &caller.agent_id,
                    topic: &topic,
                    claim: &c.claim,
                    text: &c.text,
                    source: cm::Source::Handoff,
                    source_field: Some(c.field),
                    handoff_event_seq: Some(event.event_seq),
                };
                recorded.push((c.field, c.claim.clone(), cm::record(tx, d, &room, &rec)?));
            }
            let next = match target {
                Some(t) => Some(t),
                None => {
                    // The room's members as this transaction left them (the caller touched).
                    let mut members = members;
                    if let Some(slot) = members.iter_mut().find(|m| m.agent_id == me.agent_id) {
                        *slot = me.clone();
                    }
                    let candidates = d.candidates(tx, &room, &members, false)?;
                    let input = selection_input(d, n::Purpose::Release, &caller.agent_id, &members, candidates);
                    let chosen = d.policies.select_next_holder(&input);
                    chosen.and_then(|id| members.into_iter().find(|m| m.agent_id == id))
                }
            };
            room.owner = None;
            room.lease_id = None;
            room.lease_expires_at = None;
            room.reserved_for = next.as_ref().map(|m| m.agent_id.clone());
            room.claim_expires_at = next.as_ref().map(|_| d.now.saturating_add(ms(d.settings.claim_ttl_ms)));
            room.pending_handoff_event_seq = Some(event.event_seq);
            room.state = if next.is_some() { StoredState::Reserved } else { StoredState::Idle };
            if let Some(m) = &next {
                room.sequence_index = m.ordinal;
            }
            room.updated_at = d.now;
            tx.update_room(&room)?;
            remerge_guardian_row(tx, d, &room, caller, me)?;
            Ok(EndTurn { reserved_for: room.reserved_for.clone(), event, handoff_commitments: recorded })
        })?;
        self.notify(room_id);
        Ok(out)
    }

    /// The assign candidates of §11.5 and the policy's pick. `matches` decides which
    /// active members (other than the caller) match the selector. Errors:
    /// `unknown_member` ("No active room member matches '<selector>'.").
    pub fn assign_target(
        &mut self,
        room_id: &str,
        caller: &str,
        selector: &str,
        matches: impl Fn(&Member) -> bool,
    ) -> Result<String, TtError> {
        let members = self.read(|tx, _| tx.members(room_id))?;
        self.warm(&members);
        self.preload_policies();
        let none = || {
            TtError::new(ErrorCode::UnknownMember, format!("No active room member matches '{selector}'."))
                .with("selector", selector)
        };
        self.read(|tx, d| {
            let room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            let mut chosen = Vec::new();
            for m in &members {
                if m.agent_id != caller && matches(m) && d.member_active(m) {
                    chosen.push(m.clone());
                }
            }
            if chosen.is_empty() {
                return Err(none());
            }
            let all = d.candidates(tx, &room, &members, false)?;
            let candidates: Vec<n::Candidate> =
                all.into_iter().filter(|c| chosen.iter().any(|m| m.agent_id == c.agent_id)).collect();
            let input = selection_input(d, n::Purpose::Assign, caller, &members, candidates);
            d.policies.select_next_holder(&input).ok_or_else(none)
        })
    }

    /// Relinquish (§10.9, guardian only): `noop`, `retained` or `relinquished`.
    pub fn relinquish(
        &mut self,
        room_id: &str,
        agent: &str,
        lease_id: &str,
        turn_id: i64,
    ) -> Result<&'static str, TtError> {
        self.warm_holders(room_id)?;
        let status = self.write(|tx, d| {
            let Some(mut room) = tx.room(room_id)? else { return Ok("noop") };
            if room.owner.as_deref() != Some(agent)
                || room.lease_id.as_deref() != Some(lease_id)
                || room.turn_id != turn_id
            {
                return Ok("noop");
            }
            let me = tx.member(room_id, agent)?;
            if !d.persistently_gone(me.as_ref()) {
                return Ok("retained");
            }
            tx.append_event(&NewEvent {
                room_id,
                turn_id: room.turn_id,
                event_type: "release",
                from: Some(agent),
                to: None,
                handoff: None,
                reason: Some("harness_gone"),
                payload: None,
                created_at: d.now,
            })?;
            room.owner = None;
            room.lease_id = None;
            room.lease_expires_at = None;
            room.reserved_for = None;
            room.claim_expires_at = None;
            room.pending_handoff_event_seq = None;
            room.state = StoredState::Idle;
            room.updated_at = d.now;
            tx.update_room(&room)?;
            cm::inherit(tx, d, &room, agent, "harness_gone", Attach::Owner)?;
            Ok("relinquished")
        })?;
        if status == "relinquished" {
            self.notify(room_id);
        }
        Ok(status)
    }

    /// Takeover (§12.6). Errors: `turn_mismatch`, `unknown_member`, `invalid_input`
    /// (reason), `takeover_not_available`, `takeover_ineligible`.
    pub fn takeover(
        &mut self,
        room_id: &str,
        caller: &Caller,
        expected_turn: i64,
        reason: &str,
        operator_override: bool,
    ) -> Result<PollResult, TtError> {
        self.warm_holders(room_id)?;
        let out = self.write(|tx, d| {
            let mut room = need_room(tx, room_id)?;
            let members = tx.members(room_id)?;
            let view = d.derive(&room, &members, false);
            if expected_turn != room.turn_id {
                return Err(TtError::new(
                    ErrorCode::TurnMismatch,
                    format!("turn {expected_turn} is over; the room is at turn {}", room.turn_id),
                )
                .with("current_owner", json!(room.owner))
                .with("current_turn_id", room.turn_id)
                .with("room_state", view.as_str()));
            }
            let mut me = members.iter().find(|m| m.agent_id == caller.agent_id).cloned().ok_or_else(|| {
                not_a_member(&caller.agent_id, "the caller is not a member of this room; run `tt join` first")
            })?;
            let trimmed = reason.trim();
            if trimmed.is_empty() || reason.len() > super::limits::REASON_BYTES {
                return Err(TtError::new(ErrorCode::InvalidInput, "the takeover reason must be 1 to 1024 bytes")
                    .with("field", "reason"));
            }
            d.touch(&room, &mut me, &caller.metadata);
            tx.put_member(&me)?;
            let kind = match eligibility(tx, d, &room, &members, view, &caller.agent_id) {
                Ok(kind) => kind,
                Err(e) => {
                    let overridable = room.state != StoredState::Closed
                        && (room.owner.as_ref().is_some_and(|o| *o != caller.agent_id)
                            || (room.owner.is_none()
                                && room.reserved_for.as_ref().is_some_and(|r| *r != caller.agent_id)));
                    if operator_override && overridable {
                        "operator_override"
                    } else {
                        return Err(e);
                    }
                }
            };
            let revoked = match kind {
                "claim_timeout" | "recipient_gone" => room.reserved_for.clone(),
                "operator_override" => room.reserved_for.clone().or_else(|| room.owner.clone()),
                _ => room.owner.clone(),
            };
            let lease = uuid::Uuid::new_v4().to_string();
            room.turn_id += 1;
            room.owner = Some(caller.agent_id.clone());
            room.lease_id = Some(lease.clone());
            room.lease_expires_at = Some(d.now.saturating_add(ms(d.settings.owner_lease_ttl_ms)));
            room.reserved_for = None;
            room.claim_expires_at = None;
            room.pending_handoff_event_seq = None;
            room.state = StoredState::Owned;
            room.sequence_index = me.ordinal;
            room.updated_at = d.now;
            tx.update_room(&room)?;
            tx.append_event(&NewEvent {
                room_id,
                turn_id: room.turn_id,
                event_type: "takeover",
                from: revoked.as_deref(),
                to: Some(&caller.agent_id),
                handoff: None,
                reason: Some(reason),
                payload: None,
                created_at: d.now,
            })?;
            // A dead or timed-out owner's promises outlive its turn (follow-through.md §10.1);
            // an operator override, claim timeout or gone recipient moves nothing.
            if let (Some(gone), "owner_gone" | "owner_timeout") = (revoked.as_deref(), kind) {
                cm::inherit(tx, d, &room, gone, kind, Attach::Taker(&caller.agent_id))?;
            }
            let inherited = cm::attach_at_grant(tx, d, &room, &caller.agent_id)?;
            Ok(PollResult::TookOver {
                room_id: room.room_id.clone(),
                turn_id: room.turn_id,
                lease_id: lease,
                revoked_agent_id: revoked,
                reason: kind,
                inherited,
            })
        })?;
        self.notify(room_id);
        Ok(out)
    }
}

/// `assert_takeover_eligible(room, caller)` (§12.2) on the view computed before the
/// caller's touch. Returns the kind.
fn eligibility(
    tx: &Tx<'_>,
    d: &Deps<'_>,
    room: &Room,
    members: &[Member],
    view: View,
    caller: &str,
) -> Result<&'static str, TtError> {
    let ineligible = |msg: &str| TtError::new(ErrorCode::TakeoverIneligible, msg);
    if room.state != StoredState::Closed {
        if room.owner.is_none() && room.reserved_for.is_some() {
            if view == View::RecipientGone {
                return if claim_takeover_eligible(tx, d, room, members, caller)? {
                    Ok("recipient_gone")
                } else {
                    Err(ineligible("this member may not take over the reservation it created or holds"))
                };
            }
            if d.expired(room.claim_expires_at) {
                return if claim_takeover_eligible(tx, d, room, members, caller)? {
                    Ok("claim_timeout")
                } else {
                    Err(ineligible("this member may not take over the reservation it created or holds"))
                };
            }
        }
        if let Some(owner) = &room.owner {
            if view == View::OwnerGone {
                return if owner != caller {
                    Ok("owner_gone")
                } else {
                    Err(ineligible("An agent cannot take over its own dead lease."))
                };
            }
            if view == View::StaleOwner {
                return if owner != caller {
                    Ok("owner_timeout")
                } else {
                    Err(ineligible("An agent cannot take over its own stale lease."))
                };
            }
        }
    }
    Err(TtError::new(ErrorCode::TakeoverNotAvailable, "No takeover timeout is currently available for this room."))
}

/// The target of a pass (§10.8 pass step 1): not the caller (`invalid_input`), an active
/// member (`unknown_member`).
fn pass_target(d: &mut Deps<'_>, members: &[Member], caller: &str, to: &str) -> Result<Member, TtError> {
    if to == caller {
        return Err(TtError::new(ErrorCode::InvalidInput, "Cannot pass the stick to yourself; use release.")
            .with("field", "to_agent_id"));
    }
    match members.iter().find(|m| m.agent_id == to) {
        Some(t) if d.member_active(t) => Ok(t.clone()),
        _ => Err(TtError::new(ErrorCode::UnknownMember, "pass target must be an active, turn-taking room member.")
            .with("to_agent_id", to)),
    }
}

/// After a release or pass by a caller whose stored row is the guardian's
/// (`human_guardian`), merge the caller's metadata again as for a non-holder (§10.8).
/// `me` is the caller's row as this transaction stored it.
fn remerge_guardian_row(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    room: &Room,
    caller: &Caller,
    mut me: Member,
) -> Result<(), TtError> {
    if me.session_kind == "human_guardian" {
        d.merge_metadata(room, &mut me, &caller.metadata);
        tx.put_member(&me)?;
    }
    Ok(())
}
