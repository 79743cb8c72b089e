//! The shared JSON objects of cli.md §5: PathRoom, RoomMember, RoomEvent, Note and the
//! hidden summary, in their compact and verbose shapes, and the Commitment object and
//! its summary (follow-through.md §7.5). Timestamps render as ISO-8601 UTC with
//! milliseconds (protocol.md §3.1).

use super::View;
use super::commitments::{commitment_id, derived, is_open};
use crate::clock::iso8601;
use crate::liveness::Verdict;
use crate::store::{Commitment, Event, Member, Note, Room};
use serde_json::{Map, Value, json};

/// An epoch-ms timestamp as ISO-8601, or null.
pub fn ts(t: Option<i64>) -> Value {
    match t {
        Some(t) => Value::from(iso8601(u64::try_from(t).unwrap_or(0))),
        None => Value::Null,
    }
}

/// PathRoom (cli.md §5) with the given state.
pub fn room(r: &Room, state: View, verbose: bool) -> Value {
    let mut m = Map::new();
    m.insert("room_id".into(), json!(r.room_id));
    m.insert("canonical_path".into(), json!(r.canonical_path));
    m.insert("state".into(), json!(state.as_str()));
    m.insert("turn_id".into(), json!(r.turn_id));
    m.insert("owner".into(), json!(r.owner));
    m.insert("reserved_for".into(), json!(r.reserved_for));
    m.insert("lease_expires_at".into(), ts(r.lease_expires_at));
    m.insert("claim_expires_at".into(), ts(r.claim_expires_at));
    m.insert("pending_handoff_event_seq".into(), json!(r.pending_handoff_event_seq));
    if verbose {
        m.insert("sequence_index".into(), json!(r.sequence_index));
        m.insert("created_at".into(), ts(Some(r.created_at)));
        m.insert("updated_at".into(), ts(Some(r.updated_at)));
    }
    Value::Object(m)
}

/// RoomMember (cli.md §5); `active` is `member_active`, `verdict` its liveness.
pub fn member(m: &Member, active: bool, verdict: Verdict, verbose: bool) -> Value {
    let mut o = Map::new();
    o.insert("agent_id".into(), json!(m.agent_id));
    o.insert("display_name".into(), json!(m.display_name));
    o.insert("status".into(), json!(if active { "active" } else { "inactive" }));
    o.insert("last_seen_at".into(), ts(Some(m.last_seen_at)));
    if verbose {
        o.insert("ordinal".into(), json!(m.ordinal));
        o.insert("joined_at".into(), ts(Some(m.joined_at)));
        o.insert("last_wait_at".into(), ts(m.last_wait_at));
        o.insert("session_kind".into(), json!(m.session_kind));
        o.insert("liveness".into(), json!(verdict.as_str()));
        o.insert("host_id".into(), json!(m.host_id));
        o.insert("boot_id".into(), json!(m.boot_id));
        o.insert("pid".into(), json!(m.pid));
        o.insert("process_started_at".into(), json!(m.process_started_at));
        o.insert("harness_name".into(), json!(m.harness_name));
        o.insert("harness_session_id".into(), json!(m.harness_session_id));
        o.insert("harness_host_id".into(), json!(m.harness_host_id));
        o.insert("harness_boot_id".into(), json!(m.harness_boot_id));
        o.insert("harness_pid".into(), json!(m.harness_pid));
        o.insert("harness_process_started_at".into(), json!(m.harness_process_started_at));
        o.insert("last_park_hint_event_seq".into(), json!(m.last_park_hint_event_seq));
    }
    Value::Object(o)
}

/// RoomEvent (protocol.md §17.2), full shape.
pub fn event(e: &Event) -> Value {
    json!({
        "event_seq": e.event_seq,
        "event_id": e.event_id,
        "room_id": e.room_id,
        "turn_id": e.turn_id,
        "event_type": e.event_type,
        "from_agent_id": e.from_agent_id,
        "to_agent_id": e.to_agent_id,
        "handoff": e.handoff,
        "reason": e.reason,
        "created_at": ts(Some(e.created_at)),
        "payload": e.payload,
    })
}

/// Note (cli.md §5).
pub fn note(n: &Note) -> Value {
    json!({
        "note_id": n.note_id,
        "room_id": n.room_id,
        "turn_id": n.turn_id,
        "author_agent_id": n.author_agent_id,
        "body": n.body,
        "created_at": ts(Some(n.created_at)),
        "resolved_at": ts(n.resolved_at),
        "resolved_by_agent_id": n.resolved_by_agent_id,
    })
}

/// The Commitment object (follow-through.md §7.5) as read at `now`: `status` and `open`
/// derived (§5.5), `holder` `agent` or `room`.
pub fn commitment(c: &Commitment, now: i64) -> Value {
    let d = derived(c, now);
    json!({
        "commitment_id": commitment_id(d.seq),
        "room_id": d.room_id,
        "kind": d.kind,
        "status": d.status,
        "open": is_open(c, now),
        "holder": if d.agent_id.is_some() { "agent" } else { "room" },
        "agent_id": d.agent_id,
        "origin_agent_id": d.origin_agent_id,
        "topic": d.topic,
        "external_key": d.external_key,
        "verb": d.verb,
        "matched": d.matched,
        "excerpt": d.excerpt,
        "source": d.source,
        "source_field": d.source_field,
        "handoff_event_seq": d.handoff_event_seq,
        "created_turn_id": d.created_turn_id,
        "created_at": ts(Some(d.created_at)),
        "expires_at": ts(Some(d.expires_at)),
        "inherited_from_agent_id": d.inherited_from_agent_id,
        "inherited_at": ts(d.inherited_at),
        "inherit_reason": d.inherit_reason,
        "attached_turn_id": d.attached_turn_id,
        "attached_at": ts(d.attached_at),
        "resolved_at": ts(d.resolved_at),
        "resolved_by_agent_id": d.resolved_by_agent_id,
        "resolution": d.resolution,
    })
}

/// The commitment summary of lists embedded in other results (follow-through.md §7.5).
pub fn commitment_summary(c: &Commitment) -> Value {
    json!({
        "commitment_id": commitment_id(c.seq),
        "verb": c.verb,
        "matched": c.matched,
        "topic": c.topic,
        "source": c.source,
        "created_at": ts(Some(c.created_at)),
        "expires_at": ts(Some(c.expires_at)),
        "inherited_from_agent_id": c.inherited_from_agent_id,
        "inherit_reason": c.inherit_reason,
    })
}

/// A summary in `inherited_commitments` (follow-through.md §10.3): plus `from_agent_id`.
pub fn inherited_summary(c: &Commitment) -> Value {
    let mut v = commitment_summary(c);
    if let Value::Object(m) = &mut v {
        m.insert("from_agent_id".into(), json!(c.inherited_from_agent_id));
    }
    v
}

/// The hidden summary of protocol.md §17.7.
pub fn hidden(shown: usize, total: usize, latest_activity_at: i64, horizon_start_at: i64) -> Value {
    json!({
        "older_count": total.saturating_sub(shown),
        "shown_count": shown,
        "total_count": total,
        "latest_activity_at": ts(Some(latest_activity_at)),
        "horizon_start_at": ts(Some(horizon_start_at)),
    })
}

/// 00:00:00.000 UTC of the day containing `t` (ms).
pub fn day_start(t: i64) -> i64 {
    t - t.rem_euclid(86_400_000)
}
