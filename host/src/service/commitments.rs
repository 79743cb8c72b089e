//! Follow-through commitments (follow-through.md §5, §7–§10): `record()` with its
//! idempotent external key, per-topic cap and expiry; closing; the move to the room when
//! a turn ends without the holder's own release, and the attachment at the next grant;
//! the reads that surface open commitments.
//!
//! Classification is not done here: the caller asks the policy's `claims` slot before
//! the write transaction (design rule: slow work outside the transaction) and passes the
//! claim in. Every function that writes commitments of a room first runs the expiry
//! sweep (§5.5), which keeps the partial unique index on open keys satisfiable.

use super::{Deps, Service, need_room, not_a_member};
use crate::error::{ErrorCode, TtError};
use crate::store::{Commitment, NewCommitment, NewEvent, Room, Tx};
use serde_json::json;
use stick_policy::types as n;

/// The kind prefix of an action claim's external key (§5.3); the cap counts only keys
/// with it.
pub const KEY_PREFIX: &str = "actionclaim:";
/// Open commitments listed in a result (`open_commitments`, `inherited_commitments`,
/// health, state); the totals count all (§9, §10.3).
pub const SURFACE_MAX: usize = 10;
/// Characters of the classified text kept as `excerpt` (§5.4 step 4).
pub const EXCERPT_CHARS: usize = 500;
/// Rows of `tt commitments --all`: the newest 500 (§7.3).
pub const LIST_MAX: usize = 500;
/// Longest explicit topic, in characters (§5.3).
pub const TOPIC_MAX_CHARS: usize = 200;
/// Longest withdraw reason, in characters (§7.4).
pub const REASON_MAX_CHARS: usize = 500;

/// `CMT-` followed by `seq` with at least three digits (§5.1): `CMT-007`, `CMT-1234`.
pub fn commitment_id(seq: i64) -> String {
    format!("CMT-{seq:03}")
}

fn invalid(field: &str, message: String) -> TtError {
    TtError::new(ErrorCode::InvalidInput, message).with("field", field)
}

/// Parse a commitment id as commands accept it (§5.1): `CMT-7`, `CMT-007`, `cmt-7` or `7`.
/// Errors: `invalid_input` with `field: "commitment_id"`.
pub fn parse_commitment_id(text: &str) -> Result<i64, TtError> {
    let lower = text.to_ascii_lowercase();
    let digits = lower.strip_prefix("cmt-").unwrap_or(&lower);
    let parsed = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<i64>().ok())
        .flatten();
    parsed.ok_or_else(|| {
        invalid("commitment_id", format!("`{text}` is not a commitment id; write it as CMT-<number>, e.g. CMT-001"))
    })
}

/// An explicit `--topic` (§5.3): trimmed, 1–200 characters, no control characters.
/// Errors: `invalid_input` with `field: "topic"`.
pub fn validate_topic(raw: &str) -> Result<String, TtError> {
    let t = raw.trim();
    let chars = t.chars().count();
    if chars == 0 || chars > TOPIC_MAX_CHARS || t.chars().any(char::is_control) {
        return Err(invalid(
            "topic",
            format!("the topic `{t}` must be 1 to {TOPIC_MAX_CHARS} characters without control characters"),
        ));
    }
    Ok(t.to_string())
}

/// A withdraw `--reason` (§7.4): trimmed; empty counts as none; more than 500 characters
/// is `invalid_input` with `field: "reason"`.
pub fn validate_reason(raw: Option<&str>) -> Result<Option<String>, TtError> {
    let Some(r) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    if r.chars().count() > REASON_MAX_CHARS {
        return Err(invalid("reason", format!("the reason is longer than {REASON_MAX_CHARS} characters")));
    }
    Ok(Some(r.to_string()))
}

/// The default topic of a claim (§5.3): `<room_id>/<agent_id>`.
pub fn default_topic(room_id: &str, agent_id: &str) -> String {
    format!("{room_id}/{agent_id}")
}

/// The external key (§5.3): `actionclaim:<topic>:<verb>`.
pub fn external_key(topic: &str, verb: &str) -> String {
    format!("{KEY_PREFIX}{topic}:{verb}")
}

/// Where a claim was observed (the `source` column, §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `tt claim observe --text|--stdin`.
    Observe,
    /// `tt claim observe --hook`.
    Hook,
    /// A release or pass handoff (§8).
    Handoff,
}

impl Source {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Observe => "observe",
            Source::Hook => "hook",
            Source::Handoff => "handoff",
        }
    }
}

/// What `record()` did (§5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A new commitment (`deduplicated: false`) or the open one carrying the same key,
    /// unchanged (`deduplicated: true`).
    Registered {
        /// The commitment.
        commitment: Box<Commitment>,
        /// Whether it already existed.
        deduplicated: bool,
    },
    /// Refused: the topic already has `cap` open action claims; nothing was written.
    Capped {
        /// The `action_claim_cap` in force.
        cap: u64,
    },
}

/// One claim to record.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// The claimant.
    pub agent_id: &'a str,
    /// The topic (default or explicit).
    pub topic: &'a str,
    /// The classifier's answer.
    pub claim: &'a n::Claim,
    /// The classified text (its first 500 characters become the excerpt).
    pub text: &'a str,
    /// Where it was observed.
    pub source: Source,
    /// `status` or `next_action` for a handoff.
    pub source_field: Option<&'a str>,
    /// The handoff's `release`/`pass` event.
    pub handoff_event_seq: Option<i64>,
}

/// `record()` of follow-through.md §5.4, inside the caller's transaction: sweep,
/// deduplicate on the external key (return the open row unchanged), refuse at the cap,
/// else insert. Writes no event.
pub fn record(tx: &Tx<'_>, d: &Deps<'_>, room: &Room, rec: &Record<'_>) -> Result<Recorded, TtError> {
    tx.sweep_commitments(&room.room_id, d.now)?;
    let verb = rec.claim.verb.as_str();
    let key = external_key(rec.topic, verb);
    if let Some(commitment) = tx.open_commitment_by_key(&room.room_id, d.now, &key)? {
        return Ok(Recorded::Registered { commitment: Box::new(commitment), deduplicated: true });
    }
    let cap = d.settings.action_claim_cap;
    let open = tx.count_open_by_topic(&room.room_id, d.now, rec.topic, KEY_PREFIX)?;
    if u64::try_from(open).unwrap_or(u64::MAX) >= cap {
        return Ok(Recorded::Capped { cap });
    }
    let excerpt: String = rec.text.chars().take(EXCERPT_CHARS).collect();
    let commitment = tx.insert_commitment(&NewCommitment {
        room_id: &room.room_id,
        agent_id: rec.agent_id,
        topic: rec.topic,
        external_key: &key,
        verb,
        matched: &rec.claim.matched,
        excerpt: &excerpt,
        source: rec.source.as_str(),
        source_field: rec.source_field,
        handoff_event_seq: rec.handoff_event_seq,
        created_turn_id: room.turn_id,
        created_at: d.now,
        expires_at: d.now.saturating_add(super::ms(d.settings.action_claim_expiry_ms)),
    })?;
    Ok(Recorded::Registered { commitment: Box::new(commitment), deduplicated: false })
}

/// Where moved commitments go (follow-through.md §10.2 step 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach<'a> {
    /// A takeover: the rows stay room-held; the takeover's own grant attaches them to
    /// this taker next, in the same transaction.
    Taker(&'a str),
    /// Any other trigger: to the room's current owner, if there is one, now.
    Owner,
}

/// The move to the room of §10.2, inside the trigger's transaction after its own effects
/// and events: sweep, move `departing`'s open commitments to the room, attach them as
/// `attach` says, and append one `commitments_inherited` event (§10.4). Returns the moved
/// rows as they are after the move (none: nothing written, no event).
pub fn inherit(
    tx: &Tx<'_>,
    d: &Deps<'_>,
    room: &Room,
    departing: &str,
    reason: &str,
    attach: Attach<'_>,
) -> Result<Vec<Commitment>, TtError> {
    tx.sweep_commitments(&room.room_id, d.now)?;
    let mut moved = tx.move_commitments_to_room(&room.room_id, d.now, departing, reason)?;
    if moved.is_empty() {
        return Ok(moved);
    }
    let to = match attach {
        Attach::Taker(taker) => Some(taker.to_string()),
        Attach::Owner => room.owner.clone(),
    };
    if let (Attach::Owner, Some(owner)) = (attach, &room.owner) {
        let seqs: Vec<i64> = moved.iter().map(|c| c.seq).collect();
        moved = tx.attach_room_held(&room.room_id, d.now, owner, room.turn_id, Some(&seqs))?;
    }
    let payload = json!({
        "commitment_ids": moved.iter().map(|c| commitment_id(c.seq)).collect::<Vec<_>>(),
        "verbs": moved.iter().map(|c| c.verb.clone()).collect::<Vec<_>>(),
    });
    tx.append_event(&NewEvent {
        room_id: &room.room_id,
        turn_id: room.turn_id,
        event_type: "commitments_inherited",
        from: Some(departing),
        to: to.as_deref(),
        handoff: None,
        reason: Some(reason),
        payload: Some(&payload),
        created_at: d.now,
    })?;
    Ok(moved)
}

/// The attachment at a grant (§10.3): sweep, then give every room-held open commitment
/// to `grantee` in the room's (new) turn. Returns them, ascending `seq`.
pub fn attach_at_grant(tx: &Tx<'_>, d: &Deps<'_>, room: &Room, grantee: &str) -> Result<Vec<Commitment>, TtError> {
    tx.sweep_commitments(&room.room_id, d.now)?;
    tx.attach_room_held(&room.room_id, d.now, grantee, room.turn_id, None)
}

/// Whether `c` is open at `now` (§5.2): pending and `now <= expires_at`.
pub fn is_open(c: &Commitment, now: i64) -> bool {
    c.status == "pending" && now <= c.expires_at
}

/// `c` as reads report it at `now` (§5.5): a lapsed pending row reads as `expired` with
/// `resolved_at = expires_at` and `resolution = "expired"`, without writing.
pub fn derived(c: &Commitment, now: i64) -> Commitment {
    let mut c = c.clone();
    if c.status == "pending" && now > c.expires_at {
        c.status = "expired".into();
        c.resolved_at = Some(c.expires_at);
        c.resolution = Some("expired".into());
    }
    c
}

/// Open commitments as the reads of §9 show them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Surfaced {
    /// The caller's open commitments, ascending `seq`, at most 10.
    pub open: Vec<Commitment>,
    /// How many open commitments the caller has.
    pub open_total: usize,
    /// How many room-held open commitments the room has.
    pub room_held_total: usize,
    /// Every assignee with at least one open commitment, by agent id (state only).
    pub by_agent: Vec<(String, usize)>,
}

/// A commitment list (`tt commitments`, §7.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The rows, derived at `now`.
    pub commitments: Vec<Commitment>,
    /// The caller's open commitments.
    pub open_total: usize,
    /// Room-held open commitments.
    pub room_held_total: usize,
}

/// How `tt commitments done|withdraw` closes (§7.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Close {
    /// `done`.
    Done,
    /// `withdraw`, with the validated reason.
    Withdraw(Option<String>),
}

impl Close {
    /// The status it sets.
    pub fn status(&self) -> &'static str {
        match self {
            Close::Done => "done",
            Close::Withdraw(_) => "withdrawn",
        }
    }

    fn resolution(&self) -> String {
        match self {
            Close::Done => "done".into(),
            Close::Withdraw(Some(r)) => format!("withdrawn: {r}"),
            Close::Withdraw(None) => "withdrawn".into(),
        }
    }
}

/// The hook's stale-read guard for one observation (§7.2 step 8).
#[derive(Clone, Copy, Debug)]
pub struct Guard<'a> {
    /// SHA-256 (lowercase hex) of the message. It is stored whatever the classifier
    /// said, a fault included: a fault is the safe fallback "no claim" (§3.8), and step 8
    /// stores the hash "alone when there is no claim" (§7.2).
    pub sha256: &'a str,
}

/// One observation to record (`tt claim observe`, §7.1–§7.2), classified already.
#[derive(Clone, Debug)]
pub struct Observation<'a> {
    /// The room.
    pub room_id: &'a str,
    /// The caller, who must be a member.
    pub agent_id: &'a str,
    /// An explicit, validated topic; None = the default topic.
    pub topic: Option<&'a str>,
    /// The classified text.
    pub text: &'a str,
    /// The classifier's answer.
    pub claim: Option<&'a n::Claim>,
    /// `observe` or `hook`.
    pub source: Source,
    /// Hook mode's stale-read guard.
    pub guard: Option<Guard<'a>>,
}

/// What an observation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// The caller is not a member of the room (nothing written).
    NotMember,
    /// The guard's hash was already stored for this member (nothing written).
    AlreadyObserved,
    /// No claim to record (the guard's hash, if any, was stored).
    NoClaim,
    /// `record()` ran.
    Recorded {
        /// Its answer.
        recorded: Recorded,
        /// The topic used.
        topic: String,
    },
}

/// The result of closing a commitment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    /// Whether this call changed it.
    pub changed: bool,
    /// The commitment afterwards, derived at `now`.
    pub commitment: Commitment,
    /// `now` of the transaction (ms).
    pub now: i64,
}

/// [`Surfaced`] inside an open transaction.
pub fn surfaced_in(tx: &Tx<'_>, now: i64, room_id: &str, agent: &str, by_agent: bool) -> Result<Surfaced, TtError> {
    // One counting statement serves all three counts; the list is read only when the
    // agent holds something (the common case holds nothing: a process parses fewer
    // statements, docs/PERFORMANCE.md).
    let counts = tx.open_counts_by_holder(room_id, now)?;
    let held_by = |who: Option<&str>| counts.iter().find(|(a, _)| a.as_deref() == who).map_or(0, |(_, n)| *n);
    let open_total = held_by(Some(agent));
    let room_held_total = held_by(None);
    Ok(Surfaced {
        open: if open_total > 0 { tx.open_commitments(room_id, now, Some(agent), SURFACE_MAX)? } else { Vec::new() },
        open_total,
        room_held_total,
        by_agent: if by_agent { counts.into_iter().filter_map(|(a, n)| Some((a?, n))).collect() } else { Vec::new() },
    })
}

impl Service {
    /// Whether `agent` is a member of the room (a read). Errors: `room_not_found`.
    pub fn is_member(&mut self, room_id: &str, agent: &str) -> Result<bool, TtError> {
        self.read(|tx, _| {
            need_room(tx, room_id)?;
            Ok(tx.member(room_id, agent)?.is_some())
        })
    }

    /// The hash the hook last stored for this member (§7.2 step 8; a read).
    pub fn observation(&mut self, room_id: &str, agent: &str) -> Result<Option<String>, TtError> {
        self.read(|tx, _| tx.observation(room_id, agent))
    }

    /// Record one classified observation (§7.1 steps 5–7, §7.2 steps 7–10) in one
    /// `BEGIN IMMEDIATE` transaction: re-check the room and membership, apply the hook's
    /// stale-read guard, then `record()`. Does not refresh presence. Errors:
    /// `room_not_found`, `storage_error`, `database_busy`.
    pub fn observe(&mut self, o: &Observation<'_>) -> Result<Observed, TtError> {
        self.write(|tx, d| {
            let room = need_room(tx, o.room_id)?;
            if tx.member(o.room_id, o.agent_id)?.is_none() {
                return Ok(Observed::NotMember);
            }
            if let Some(g) = o.guard {
                if tx.observation(o.room_id, o.agent_id)?.as_deref() == Some(g.sha256) {
                    return Ok(Observed::AlreadyObserved);
                }
                tx.put_observation(o.room_id, o.agent_id, g.sha256, d.now)?;
            }
            let Some(claim) = o.claim else { return Ok(Observed::NoClaim) };
            let topic = o.topic.map_or_else(|| default_topic(o.room_id, o.agent_id), str::to_string);
            let rec = Record {
                agent_id: o.agent_id,
                topic: &topic,
                claim,
                text: o.text,
                source: o.source,
                source_field: None,
                handoff_event_seq: None,
            };
            let recorded = record(tx, d, &room, &rec)?;
            Ok(Observed::Recorded { recorded, topic })
        })
    }

    /// The caller's open commitments and the room-held count (§9; a read, nothing
    /// written). `by_agent` adds `tt state`'s per-assignee counts. Errors:
    /// `room_not_found`.
    pub fn surfaced_commitments(&mut self, room_id: &str, agent: &str, by_agent: bool) -> Result<Surfaced, TtError> {
        self.read(|tx, d| {
            need_room(tx, room_id)?;
            surfaced_in(tx, d.now, room_id, agent, by_agent)
        })
    }

    /// `tt commitments` (§7.3; a read): the caller's open commitments then the room-held
    /// ones (default), or the newest 500 of any status (`all`), ascending `seq`.
    /// Membership is not required. Errors: `room_not_found`.
    pub fn list_commitments(&mut self, room_id: &str, agent: &str, all: bool) -> Result<Listing, TtError> {
        self.read(|tx, d| {
            need_room(tx, room_id)?;
            let rows = if all {
                tx.recent_commitments(room_id, LIST_MAX)?
            } else {
                let mut rows = tx.open_commitments(room_id, d.now, Some(agent), usize::MAX)?;
                rows.extend(tx.open_commitments(room_id, d.now, None, usize::MAX)?);
                rows
            };
            Ok(Listing {
                commitments: rows.iter().map(|c| derived(c, d.now)).collect(),
                open_total: tx.count_open_commitments(room_id, d.now, Some(agent))?,
                room_held_total: tx.count_open_commitments(room_id, d.now, None)?,
            })
        })
    }

    /// `tt commitments done|withdraw` (§7.4) in one transaction. Checks, in order:
    /// existence (`commitment_not_found`), membership of the commitment's room
    /// (`unknown_member`), permission on the current assignee unless `force`
    /// (`not_commitment_owner`), state after the sweep (`commitment_not_open` for another
    /// terminal state; the requested state again is `changed: false`). Writes no event
    /// and does not refresh presence.
    pub fn close_commitment(&mut self, seq: i64, agent: &str, how: &Close, force: bool) -> Result<Closed, TtError> {
        let id = commitment_id(seq);
        self.write(|tx, d| {
            let Some(row) = tx.commitment(seq)? else {
                return Err(TtError::new(ErrorCode::CommitmentNotFound, format!("no commitment `{id}` exists"))
                    .with("commitment_id", id.as_str()));
            };
            if tx.member(&row.room_id, agent)?.is_none() {
                return Err(not_a_member(agent, &format!("the caller is not a member of the room of `{id}`"))
                    .with("room_id", row.room_id.as_str()));
            }
            if let Some(assignee) = row.agent_id.as_deref()
                && assignee != agent
                && !force
            {
                return Err(TtError::new(
                    ErrorCode::NotCommitmentOwner,
                    format!("`{id}` is owed by `{assignee}`; pass --force to close it anyway"),
                )
                .with("commitment_id", id.as_str())
                .with("agent_id", assignee));
            }
            tx.sweep_commitments(&row.room_id, d.now)?;
            let row = tx.commitment(seq)?.ok_or_else(|| TtError::storage("the commitment vanished"))?;
            let changed = if is_open(&row, d.now) {
                tx.close_commitment(seq, how.status(), d.now, agent, &how.resolution())?;
                true
            } else if row.status == how.status() {
                false
            } else {
                return Err(TtError::new(
                    ErrorCode::CommitmentNotOpen,
                    format!("`{id}` is already {} and cannot be {}", row.status, how.status()),
                )
                .with("commitment_id", id.as_str())
                .with("status", row.status.as_str()));
            };
            let row = tx.commitment(seq)?.ok_or_else(|| TtError::storage("the commitment vanished"))?;
            Ok(Closed { changed, commitment: derived(&row, d.now), now: d.now })
        })
    }
}
