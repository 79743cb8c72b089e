//! Membership: join with room selection and supersession (protocol.md §9.5, §10.10,
//! §14), leave (§10.10), kick (§10.11) and the idle-room purge (§15). Supersession,
//! leave and kick move the departing member's open commitments to the room
//! (follow-through.md §10.1–§10.2).

use super::commitments::{self as cm, Attach};
use super::{Caller, Deps, Service, need_room, new_member, not_a_member};
use crate::error::{ErrorCode, TtError};
use crate::liveness::Verdict;
use crate::store::{Member, NewEvent, Room, StoredState, Tx};
use crate::workspace::{Resolved, ancestor_paths};
use std::path::Path;
use stick_policy::types as n;

/// What a join did (protocol.md §10.10).
#[derive(Clone, Debug)]
pub struct Joined {
    /// The room after the join.
    pub room: Room,
    /// The room existed before this join.
    pub joined_existing_room: bool,
    /// The caller's row was created by this join.
    pub new_member: bool,
    /// The room's largest event_seq after the join.
    pub cursor_event_seq: i64,
    /// Warnings of §9.5 and §14.3, in order.
    pub warnings: Vec<String>,
}

/// What a leave or kick did.
#[derive(Clone, Debug)]
pub struct Departure {
    /// `left`, `kicked` or `room_deleted`.
    pub status: &'static str,
    /// The room.
    pub room_id: String,
    /// Its path.
    pub canonical_path: String,
    /// Remaining member rows.
    pub remaining_members: usize,
    /// Kick only: the target was the owner.
    pub target_was_owner: bool,
    /// Kick only: the target was the reserved recipient.
    pub target_was_reserved_for: bool,
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Whether `ancestor` is a strict ancestor directory of `p`.
fn strictly_above(ancestor: &str, p: &str) -> bool {
    let a = ancestor.trim_end_matches('/');
    p.len() > a.len() && p.starts_with(a) && p.as_bytes().get(a.len()) == Some(&b'/')
}

fn harness_instance(m: &Member) -> n::HarnessInstance {
    n::HarnessInstance {
        harness_name: m.harness_name.clone(),
        harness_session_id: m.harness_session_id.clone(),
        harness_host_id: m.harness_host_id.clone(),
        harness_pid: m.harness_pid.and_then(|p| u32::try_from(p).ok()),
        harness_process_started_at: m.harness_process_started_at.and_then(|t| u64::try_from(t).ok()),
    }
}

fn is_provisional(id: Option<&str>) -> bool {
    id.is_some_and(|s| s.starts_with("pid:") || s.starts_with("term:") || s.starts_with("userhost:"))
}

/// Recompute the stored state after ownership fields changed (§10.10 step 4, §14.3).
fn restate(room: &mut Room) {
    if room.state == StoredState::Closed {
        return;
    }
    room.state = if room.owner.is_some() {
        StoredState::Owned
    } else if room.reserved_for.is_some() {
        StoredState::Reserved
    } else {
        StoredState::Idle
    };
}

/// The join transaction body (§10.10 steps 1–5).
fn join_tx(
    tx: &Tx<'_>,
    d: &mut Deps<'_>,
    caller: &Caller,
    resolved: &Resolved,
    ancestors: &[String],
    force_new: bool,
) -> Result<Joined, TtError> {
    let c = path_str(&resolved.context_path);
    let r = path_str(&resolved.workspace_root);
    let mut warnings = Vec::new();
    let mut existing = None;
    if force_new {
        if let Some(room) = tx.room_at(&c)? {
            warnings.push(format!(
                "force_new had no effect: a room already exists at {c}. force_new only creates a nested room when an \
                 ancestor room exists; same-path duplicates are not supported. To get a fresh room for a separate \
                 topic, join a distinct subpath."
            ));
            existing = Some(room);
        } else {
            for a in ancestors.iter().skip(1) {
                if tx.room_at(a)?.is_some() {
                    warnings.push(format!("Created nested room inside {a}"));
                    break;
                }
            }
        }
    } else {
        for a in ancestors {
            if let Some(room) = tx.room_at(a)? {
                if strictly_above(&room.canonical_path, &r) {
                    warnings
                        .push(format!("Joined ancestor room {} above this workspace root ({r}).", room.canonical_path));
                }
                existing = Some(room);
                break;
            }
        }
    }
    let joined_existing_room = existing.is_some();
    let mut room = match existing {
        Some(room) => room,
        None => {
            let room = Room {
                room_id: uuid::Uuid::new_v4().to_string(),
                canonical_path: if force_new { c.clone() } else { r.clone() },
                sequence_index: 0,
                owner: None,
                reserved_for: None,
                pending_handoff_event_seq: None,
                turn_id: 0,
                lease_id: None,
                lease_expires_at: None,
                claim_expires_at: None,
                state: StoredState::Idle,
                created_at: d.now,
                updated_at: d.now,
            };
            tx.insert_room(&room)?;
            room
        }
    };
    let room_id = room.room_id.clone();
    let (me, new_member) = match tx.member(&room_id, &caller.agent_id)? {
        Some(mut m) => {
            m.last_seen_at = d.now;
            m.last_wait_at = Some(d.now);
            d.merge_metadata(&room, &mut m, &caller.metadata);
            (m, false)
        }
        None => (new_member(&room_id, tx.next_ordinal(&room_id)?, d.now, caller), true),
    };
    tx.put_member(&me)?;
    let superseded = supersede(tx, d, &mut room, &me)?;
    if !superseded.is_empty() {
        warnings.push(format!("Superseded previous harness session(s): {}.", superseded.join(", ")));
    }
    if new_member && tx.members(&room_id)?.len() > 1 {
        tx.append_event(&NewEvent {
            room_id: &room_id,
            turn_id: room.turn_id,
            event_type: "join",
            from: Some(&caller.agent_id),
            to: None,
            handoff: None,
            reason: None,
            payload: None,
            created_at: d.now,
        })?;
    }
    let cursor_event_seq = tx.max_event_seq(&room_id)?;
    Ok(Joined { room, joined_existing_room, new_member, cursor_event_seq, warnings })
}

/// Supersession (§14.2–§14.3) for the owner and the reserved recipient.
fn supersede(tx: &Tx<'_>, d: &mut Deps<'_>, room: &mut Room, incoming: &Member) -> Result<Vec<String>, TtError> {
    let mut evicted = Vec::new();
    let candidates: Vec<String> = [room.owner.clone(), room.reserved_for.clone()]
        .into_iter()
        .flatten()
        .filter(|id| *id != incoming.agent_id)
        .collect();
    let incoming_instance = harness_instance(incoming);
    for id in candidates {
        if evicted.contains(&id) {
            continue;
        }
        let Some(existing) = tx.member(&room.room_id, &id)? else { continue };
        if !d.policies.is_superseded(&harness_instance(&existing), &incoming_instance) {
            continue;
        }
        let name = incoming.harness_name.clone().unwrap_or_default();
        let reason = if is_provisional(existing.harness_session_id.as_deref())
            && incoming.harness_session_id.as_deref().is_some_and(|s| s.starts_with("harness:"))
        {
            format!("superseded provisional {name} identity with a verified session from the same harness process")
        } else {
            format!("superseded by newer {name} session")
        };
        tx.delete_member(&room.room_id, &id)?;
        tx.append_event(&NewEvent {
            room_id: &room.room_id,
            turn_id: room.turn_id,
            event_type: "session_superseded",
            from: Some(&incoming.agent_id),
            to: Some(&id),
            handoff: None,
            reason: Some(&reason),
            payload: None,
            created_at: d.now,
        })?;
        if room.owner.as_deref() == Some(id.as_str()) {
            room.owner = None;
            room.lease_id = None;
            room.lease_expires_at = None;
            room.pending_handoff_event_seq = None;
        }
        if room.reserved_for.as_deref() == Some(id.as_str()) {
            room.reserved_for = None;
            room.claim_expires_at = None;
        }
        restate(room);
        room.updated_at = d.now;
        tx.update_room(room)?;
        cm::inherit(tx, d, room, &id, "session_superseded", Attach::Owner)?;
        evicted.push(id);
    }
    Ok(evicted)
}

/// Delete the caller's (or target's) row and apply leave steps 3–4 (§10.10, §10.11):
/// delete the room when no remaining member is active, otherwise clear what the
/// departed member held. Returns `(room_deleted, remaining)`.
fn depart(tx: &Tx<'_>, d: &mut Deps<'_>, room: &mut Room, agent: &str) -> Result<(bool, usize), TtError> {
    tx.delete_member(&room.room_id, agent)?;
    let remaining = tx.members(&room.room_id)?;
    if !remaining.iter().any(|m| d.member_active(m)) {
        tx.delete_room(&room.room_id)?;
        return Ok((true, 0));
    }
    let before = room.clone();
    if room.owner.as_deref() == Some(agent) {
        room.owner = None;
        room.lease_id = None;
        room.lease_expires_at = None;
        room.pending_handoff_event_seq = None;
    }
    if room.reserved_for.as_deref() == Some(agent) {
        room.reserved_for = None;
        room.claim_expires_at = None;
    }
    restate(room);
    if *room != before {
        room.updated_at = d.now;
        tx.update_room(room)?;
    }
    Ok((false, remaining.len()))
}

impl Service {
    /// Join (§10.10): room selection (§9.5) inside the transaction, member upsert,
    /// supersession (§14), the `join` event. Errors: `database_busy`, `storage_error`.
    pub fn join(&mut self, caller: &Caller, resolved: &Resolved, force_new: bool) -> Result<Joined, TtError> {
        let ancestors: Vec<String> =
            ancestor_paths(&resolved.context_path, self.home.as_deref()).iter().map(|p| path_str(p)).collect();
        // Supersession consults the policy only for another member's stick or reservation;
        // load the module before the write lock when such a candidate may exist (§20.5).
        let candidates = self.read(|tx, _| {
            for a in &ancestors {
                if let Some(room) = tx.room_at(a)? {
                    let held = [room.owner, room.reserved_for].into_iter().flatten();
                    if held.filter(|id| *id != caller.agent_id).count() > 0 {
                        return Ok(true);
                    }
                }
            }
            Ok(false)
        })?;
        if candidates {
            self.preload_policies();
        }
        let joined = self.write(|tx, d| join_tx(tx, d, caller, resolved, &ancestors, force_new))?;
        self.notify(&joined.room.room_id);
        Ok(joined)
    }

    /// Re-join a known room by id (the guardian, §16.3 step 2): presence, metadata merge
    /// and supersession without path resolution. None when the room no longer exists.
    pub fn rejoin(&mut self, caller: &Caller, room_id: &str) -> Result<Option<Joined>, TtError> {
        let candidates = self.read(|tx, _| {
            Ok(tx
                .room(room_id)?
                .is_some_and(|r| [r.owner, r.reserved_for].into_iter().flatten().any(|id| id != caller.agent_id)))
        })?;
        if candidates {
            self.preload_policies();
        }
        self.write(|tx, d| {
            let Some(room) = tx.room(room_id)? else { return Ok(None) };
            let path = room.canonical_path.clone();
            let resolved = Resolved {
                requested_path: path.clone().into(),
                context_path: path.clone().into(),
                workspace_root: path.clone().into(),
            };
            // The room at exactly its own path is selected, so no other room can be.
            join_tx(tx, d, caller, &resolved, &[path], false).map(Some)
        })
    }

    /// Leave (§10.10). Errors: `unknown_member`, `room_not_found`.
    pub fn leave(&mut self, room_id: &str, caller: &Caller) -> Result<Departure, TtError> {
        let members = self.read(|tx, _| tx.members(room_id))?;
        self.warm(&members);
        let out = self.write(|tx, d| {
            let mut room = need_room(tx, room_id)?;
            if tx.member(room_id, &caller.agent_id)?.is_none() {
                return Err(not_a_member(&caller.agent_id, "the caller is not a member of this room"));
            }
            let (deleted, remaining) = depart(tx, d, &mut room, &caller.agent_id)?;
            if !deleted {
                tx.append_event(&NewEvent {
                    room_id,
                    turn_id: room.turn_id,
                    event_type: "leave",
                    from: Some(&caller.agent_id),
                    to: None,
                    handoff: None,
                    reason: None,
                    payload: None,
                    created_at: d.now,
                })?;
                cm::inherit(tx, d, &room, &caller.agent_id, "left", Attach::Owner)?;
            }
            Ok(Departure {
                status: if deleted { "room_deleted" } else { "left" },
                room_id: room.room_id.clone(),
                canonical_path: room.canonical_path.clone(),
                remaining_members: remaining,
                target_was_owner: false,
                target_was_reserved_for: false,
            })
        })?;
        self.after_departure(&out);
        Ok(out)
    }

    /// Kick (§10.11). Errors: `unknown_member`, `cannot_kick_self`, `unknown_target`,
    /// `target_active`, `invalid_input` (reason over 1 024 bytes), `room_not_found`.
    pub fn kick(
        &mut self,
        room_id: &str,
        caller: &Caller,
        target: &str,
        reason: Option<&str>,
        force: bool,
    ) -> Result<Departure, TtError> {
        if reason.is_some_and(|r| r.len() > super::limits::REASON_BYTES) {
            return Err(TtError::new(ErrorCode::InvalidInput, "the kick reason is longer than 1024 bytes")
                .with("field", "reason"));
        }
        let members = self.read(|tx, _| tx.members(room_id))?;
        self.warm(&members);
        let out = self.write(|tx, d| {
            let mut room = need_room(tx, room_id)?;
            let mut me = tx
                .member(room_id, &caller.agent_id)?
                .ok_or_else(|| not_a_member(&caller.agent_id, "the caller is not a member of this room"))?;
            if target == caller.agent_id {
                return Err(TtError::new(ErrorCode::CannotKickSelf, "a member cannot kick itself; use `tt leave`"));
            }
            let Some(t) = tx.member(room_id, target)? else {
                return Err(TtError::new(ErrorCode::UnknownTarget, format!("`{target}` is not a member of this room"))
                    .with("target_agent_id", target));
            };
            let kickable = !d.presence_recent(&t) || d.persistently_gone(Some(&t));
            if !force && !kickable {
                return Err(TtError::new(
                    ErrorCode::TargetActive,
                    format!("`{target}` is still active; pass --force to kick it anyway"),
                )
                .with("target_agent_id", target));
            }
            d.touch(&room, &mut me, &caller.metadata);
            tx.put_member(&me)?;
            let was_owner = room.owner.as_deref() == Some(target);
            let was_reserved = room.reserved_for.as_deref() == Some(target);
            tx.append_event(&NewEvent {
                room_id,
                turn_id: room.turn_id,
                event_type: "kick",
                from: Some(&caller.agent_id),
                to: Some(target),
                handoff: None,
                reason,
                payload: None,
                created_at: d.now,
            })?;
            let (deleted, remaining) = depart(tx, d, &mut room, target)?;
            if !deleted {
                cm::inherit(tx, d, &room, target, "kicked", Attach::Owner)?;
            }
            Ok(Departure {
                status: if deleted { "room_deleted" } else { "kicked" },
                room_id: room.room_id.clone(),
                canonical_path: room.canonical_path.clone(),
                remaining_members: remaining,
                target_was_owner: was_owner,
                target_was_reserved_for: was_reserved,
            })
        })?;
        self.after_departure(&out);
        Ok(out)
    }

    fn after_departure(&self, d: &Departure) {
        self.notify(&d.room_id);
        if d.status == "room_deleted" {
            crate::wake::remove_room(&self.data_dir, &d.room_id);
        }
    }

    /// The opportunistic idle-room purge (§15): select candidates (no lock), probe their
    /// members outside any transaction, then delete each room in its own `BEGIN
    /// IMMEDIATE` unless anything changed since the probe or a member is retained.
    /// Errors other than `database_busy` are ignored. Skipped in a read-only service
    /// (a foreign host lock, host-lock.md §8.2).
    pub fn purge(&mut self) -> Result<(), TtError> {
        if self.settings.idle_room_ttl_ms == 0 || self.read_only {
            return Ok(());
        }
        match self.purge_inner() {
            Err(e) if e.code == ErrorCode::DatabaseBusy => Err(e),
            _ => Ok(()),
        }
    }

    fn purge_inner(&mut self) -> Result<(), TtError> {
        let cutoff = self.now().saturating_sub(super::ms(self.settings.idle_room_ttl_ms));
        let snapshots = self.read(|tx, _| {
            let mut out = Vec::new();
            for id in tx.purge_candidates(cutoff)? {
                if let Some(room) = tx.room(&id)? {
                    let members = tx.members(&id)?;
                    out.push((room, members));
                }
            }
            Ok(out)
        })?;
        for (room, members) in snapshots {
            let verdicts: Vec<Verdict> =
                members.iter().map(|m| self.liveness.member_verdict(&m.agent_id, &super::processes(m))).collect();
            let deleted = self.write(|tx, d| {
                let Some(now_room) = tx.room(&room.room_id)? else { return Ok(false) };
                let now_members = tx.members(&room.room_id)?;
                if now_room != room || now_members != members {
                    return Ok(false);
                }
                let retained = members.iter().zip(&verdicts).any(|(m, v)| match v {
                    Verdict::Alive => true,
                    Verdict::Gone => false,
                    Verdict::Unknown => d.presence_recent(m),
                });
                if retained {
                    return Ok(false);
                }
                tx.delete_room(&room.room_id)?;
                Ok(true)
            })?;
            if deleted {
                crate::wake::remove_room(&self.data_dir, &room.room_id);
            }
        }
        Ok(())
    }
}
