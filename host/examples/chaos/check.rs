//! The chaos checker: reads one phase's event table (read-only), the coordinator's journal (nemesis
//! actions and register requests in one total order), the agents' records and `cs.log`, and reports
//!
//! * overlaps in fenced state: accepted register writes whose read value is not the register's value
//!   at acceptance (a lost update: two holders inside the fenced read-modify-write), whose turn is
//!   older than an already accepted one, or whose token the event table never granted;
//! * stale-token writes: requests whose token was already superseded when the register checked it
//!   (the room row read just before the check says so), and those sent by a resumed paused holder
//!   after the nemesis saw its turn taken over; every one must be rejected;
//! * takeovers of a live holder: a takeover of the owner, or a relinquish, while the revoked holder
//!   was running (neither killed nor, for a lease-expiry takeover, stopped);
//! * the event table's own invariants (turn ids 1, 2, 3, …; no grant while held; no foreign release);
//! * recovery latency after a holder's death, takeover latency after a pause, grants per agent and
//!   the bypass (grants to others while an agent waited).

use crate::common::{Event, all_events, i64_of, integrity, latency_line, open_db, read_jsonl, room_row, str_of};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Default, Debug)]
pub struct PhaseReport {
    pub n: usize,
    pub seed: u64,
    pub dir: PathBuf,
    pub elapsed: Duration,
    pub acquisitions: u64,
    pub claims: u64,
    pub takeovers: BTreeMap<String, u64>,
    pub relinquishes: u64,
    pub resumed: u64,
    pub kills_holder: u64,
    pub kills_waiter: u64,
    pub pauses: u64,
    pub pauses_superseded: u64,
    pub writes: u64,
    pub accepted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub stale_attempts: u64,
    pub stale_rejected: u64,
    pub stale_after_pause: u64,
    pub stale_after_pause_rejected: u64,
    pub current_rejected: u64,
    pub fenced_overlaps: u64,
    pub event_overlaps: u64,
    pub cs_overlaps: u64,
    pub cs_overlaps_explained: u64,
    /// Overlaps whose older turn was granted to its agent only after the next turn began.
    pub cs_overlaps_late_grant: u64,
    pub live_takeovers: u64,
    pub live_recipient_takeovers: u64,
    pub recovery_takeover: Vec<i64>,
    pub recovery_resumed: Vec<i64>,
    pub recovery_paths: BTreeMap<String, u64>,
    pub pause_takeover: Vec<i64>,
    pub grants_per_agent: Vec<(usize, String, u64)>,
    pub max_bypass: u64,
    pub max_bypass_at: String,
    pub max_bypass_fair: u64,
    pub max_bypass_fair_at: String,
    pub fair_grants: u64,
    pub episodes: u64,
    pub errors: BTreeMap<String, u64>,
    pub time_inversions: u64,
    pub max_inversion_ms: i64,
    pub problems: Vec<String>,
    /// A calm phase (no nemesis): the bypass bound N−1 holds over every grant.
    pub calm: bool,
}

impl PhaseReport {
    pub fn failed(n: usize, msg: &str) -> PhaseReport {
        PhaseReport { n, problems: vec![msg.to_owned()], ..PhaseReport::default() }
    }

    pub fn problem(&mut self, msg: String) {
        if self.problems.len() < 200 {
            self.problems.push(msg);
        }
    }

    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn takeovers_total(&self) -> u64 {
        self.takeovers.values().sum()
    }

    pub fn print(&self) {
        let n = self.n;
        let kinds: Vec<String> = self.takeovers.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "N={n}{}: {} acquisitions in {:.0} s ({} claims, {} takeovers: {}; {} relinquished by a guardian, {} resumed after a restart)",
            if self.calm { " (calm)" } else { "" },
            self.acquisitions,
            self.elapsed.as_secs_f64(),
            self.claims,
            self.takeovers_total(),
            if kinds.is_empty() { "none".to_owned() } else { kinds.join(", ") },
            self.relinquishes,
            self.resumed
        );
        println!(
            "  nemesis        {} holders killed, {} waiters killed, {} holders stopped past their lease ({} taken over while stopped)",
            self.kills_holder, self.kills_waiter, self.pauses, self.pauses_superseded
        );
        let rej: Vec<String> = self.rejected.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!(
            "  fenced writes  {} requests: {} accepted, {} rejected ({})",
            self.writes,
            self.accepted,
            self.writes - self.accepted,
            if rej.is_empty() { "none".to_owned() } else { rej.join(", ") }
        );
        println!(
            "  stale tokens   {} stale-token writes attempted, {} rejected ({} by resumed stopped holders, {} rejected); {} current tokens rejected",
            self.stale_attempts,
            self.stale_rejected,
            self.stale_after_pause,
            self.stale_after_pause_rejected,
            self.current_rejected
        );
        println!(
            "  overlaps       fenced state {}, event table {}; critical sections by wall clock {} ({} explained by a stopped holder whose write was refused, {} by a grant that arrived after its turn was over)",
            self.fenced_overlaps,
            self.event_overlaps,
            self.cs_overlaps,
            self.cs_overlaps_explained,
            self.cs_overlaps_late_grant
        );
        println!(
            "  takeovers      {} of a live holder (bound 0); {} reservation takeovers of a live recipient (claim_timeout, by design)",
            self.live_takeovers, self.live_recipient_takeovers
        );
        let paths: Vec<String> = self.recovery_paths.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("  holder death → next grant: {} [{}]", latency_line(&self.recovery_takeover), paths.join(", "));
        println!("  holder death → resumed by its restart: {}", latency_line(&self.recovery_resumed));
        println!("  holder stopped → takeover: {}", latency_line(&self.pause_takeover));
        let per: Vec<String> = self.grants_per_agent.iter().map(|(s, _, c)| format!("{s}:{c}")).collect();
        let min = self.grants_per_agent.iter().map(|g| g.2).min().unwrap_or(0);
        let max = self.grants_per_agent.iter().map(|g| g.2).max().unwrap_or(0);
        println!("  grants/agent   min {min}, max {max} (slot:grants {})", per.join(" "));
        println!(
            "  bypass         max {} by fair grants (bound N−1 = {}; {} of {} grants were fair) over {} waits; max {} counting open grants too (at {}{})",
            self.max_bypass_fair,
            n.saturating_sub(1),
            self.fair_grants,
            self.acquisitions,
            self.episodes,
            self.max_bypass,
            self.max_bypass_at,
            if self.calm { "; bound N−1 in a calm phase" } else { "" }
        );
        let errs: Vec<String> = self.errors.iter().map(|(k, v)| format!("{v} {k}")).collect();
        println!("  refused calls  {}", if errs.is_empty() { "none".to_owned() } else { errs.join(", ") });
        if self.time_inversions > 0 {
            println!(
                "  event times    {} events carry an earlier created_at than their predecessor (max {} ms)",
                self.time_inversions, self.max_inversion_ms
            );
        }
        for p in &self.problems {
            println!("  PROBLEM: {p}");
        }
        println!("  {} N={n}", if self.ok() { "OK" } else { "FAILED" });
    }
}

/// A hold of the stick by one agent incarnation: from its `your_turn` to the end of its release (or
/// its death).
#[derive(Clone, Debug)]
struct Hold {
    agent: String,
    slot: usize,
    inc: u64,
    turn: i64,
    start_us: i64,
    end_us: i64,
}

#[derive(Clone, Debug)]
struct Pause {
    slot: usize,
    inc: u64,
    turn: i64,
    start_us: i64,
    end_us: i64,
    superseded_seq: Option<u64>,
}

pub fn check_phase(n: usize, data: &Path, run: &Path) -> Result<PhaseReport, String> {
    let mut r = PhaseReport { n, ..PhaseReport::default() };
    let conn = open_db(data)?;
    if let Err(e) = integrity(&conn) {
        r.problem(format!("database: {e}"));
    }
    let events = all_events(&conn)?;
    let room = room_row(&conn)?;
    drop(conn);
    let journal = read_jsonl(&run.join("journal.jsonl"));
    r.calm = journal
        .iter()
        .find(|j| str_of(j, "k") == "start")
        .and_then(|j| j.get("calm"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut records: Vec<Value> = Vec::new();
    for slot in 0..n {
        records.extend(read_jsonl(&run.join(format!("agent-{slot}.jsonl"))));
    }
    let cs = read_jsonl(&run.join("cs.log"));

    // Agent ids per slot (every incarnation of a slot has the same identity).
    let mut slot_of: BTreeMap<String, usize> = BTreeMap::new();
    for rec in records.iter().filter(|v| str_of(v, "kind") == "start") {
        slot_of.insert(str_of(rec, "agent_id").to_owned(), i64_of(rec, "slot") as usize);
    }

    // ---- The event table.
    let mut holder: Option<(String, i64)> = None;
    let mut last_turn = 0;
    let mut last_created = i64::MIN;
    let mut grants: Vec<&Event> = Vec::new();
    let mut grant_of_turn: BTreeMap<i64, &Event> = BTreeMap::new();
    for e in &events {
        if e.created_at < last_created {
            r.time_inversions += 1;
            r.max_inversion_ms = r.max_inversion_ms.max(last_created - e.created_at);
        }
        last_created = last_created.max(e.created_at);
        match e.kind.as_str() {
            "claim" | "takeover" => {
                let to = e.to.clone().unwrap_or_default();
                if e.turn_id != last_turn + 1 {
                    r.event_overlaps += 1;
                    r.problem(format!("event {}: {} of turn {} follows turn {last_turn}", e.seq, e.kind, e.turn_id));
                }
                if e.kind == "claim"
                    && let Some((h, ht)) = &holder
                {
                    r.event_overlaps += 1;
                    r.problem(format!("event {}: {to} claimed turn {} while {h} held turn {ht}", e.seq, e.turn_id));
                }
                if e.kind == "claim" {
                    r.claims += 1;
                } else {
                    let kind = takeover_kind(e);
                    if !e.reason.as_deref().unwrap_or("").starts_with("chaos: ") {
                        r.problem(format!("event {}: takeover with a reason no agent gave: {:?}", e.seq, e.reason));
                    }
                    *r.takeovers.entry(kind).or_default() += 1;
                }
                last_turn = e.turn_id;
                holder = Some((to, e.turn_id));
                grants.push(e);
                grant_of_turn.insert(e.turn_id, e);
            }
            "release" | "pass" => {
                let from = e.from.clone().unwrap_or_default();
                match &holder {
                    Some((h, ht)) if *h == from && *ht == e.turn_id => {}
                    other => {
                        r.event_overlaps += 1;
                        r.problem(format!(
                            "event {}: {from} ended turn {} while the holder was {other:?}",
                            e.seq, e.turn_id
                        ));
                    }
                }
                if e.reason.as_deref() == Some("harness_gone") {
                    r.relinquishes += 1;
                }
                holder = None;
            }
            "kick" | "leave" => {
                if holder.as_ref().is_some_and(|(h, _)| Some(h) == e.to.as_ref().or(e.from.as_ref())) {
                    holder = None;
                }
            }
            "join" | "message_sent" | "session_superseded" | "commitments_inherited" => {}
            other => r.problem(format!("event {}: unexpected event type {other}", e.seq)),
        }
    }
    if r.time_inversions > 0 {
        r.problem(format!(
            "{} event(s) carry an earlier created_at than the event before them (up to {} ms): a transaction dated itself before it held the write lock",
            r.time_inversions, r.max_inversion_ms
        ));
    }
    r.acquisitions = grants.len() as u64;
    if let Some(room) = &room
        && room.turn_id != last_turn
    {
        r.problem(format!("room turn_id {} but the last grant is turn {last_turn}", room.turn_id));
    }

    // ---- The journal: nemesis actions and register requests.
    let mut kills: Vec<&Value> = Vec::new();
    let mut kill_time: BTreeMap<(usize, u64), i64> = BTreeMap::new();
    let mut pauses: Vec<Pause> = Vec::new();
    let mut superseded: BTreeMap<(String, i64), u64> = BTreeMap::new();
    for j in &journal {
        let slot = i64_of(j, "slot") as usize;
        let inc = i64_of(j, "inc") as u64;
        let t = i64_of(j, "t_us");
        match str_of(j, "k") {
            "kill" => {
                if str_of(j, "role") == "holder" {
                    r.kills_holder += 1;
                } else {
                    r.kills_waiter += 1;
                }
                kill_time.insert((slot, inc), t);
                kills.push(j);
            }
            "pause" => {
                r.pauses += 1;
                pauses.push(Pause {
                    slot,
                    inc,
                    turn: i64_of(j, "turn"),
                    start_us: t,
                    end_us: i64::MAX,
                    superseded_seq: None,
                });
            }
            "superseded" => {
                r.pauses_superseded += 1;
                let seq = j.get("seq").and_then(Value::as_u64).unwrap_or(0);
                superseded.insert((str_of(j, "agent").to_owned(), i64_of(j, "turn")), seq);
                if let Some(p) = pauses.last_mut() {
                    p.superseded_seq = Some(seq);
                }
            }
            "resume" => {
                if let Some(p) = pauses.last_mut() {
                    p.end_us = t;
                }
            }
            "agent_exit" => r.problem(format!("agent slot {slot} exited on its own: {}", str_of(j, "status"))),
            _ => {}
        }
    }

    // ---- The fenced register.
    // The last accepted write of each hold, by its place in the journal (`recv`).
    let mut accepted_writes: BTreeMap<(usize, u64, i64), u64> = BTreeMap::new();
    for w in journal.iter().filter(|j| str_of(j, "k") == "write") {
        r.writes += 1;
        let agent = str_of(w, "agent").to_owned();
        let turn = i64_of(w, "turn");
        let lease = str_of(w, "lease");
        let accepted = w.get("accepted").and_then(Value::as_bool).unwrap_or(false);
        let recv = w.get("recv").and_then(Value::as_u64).unwrap_or(0);
        let db_turn = w.get("db_turn").and_then(Value::as_i64);
        let stale_db = db_turn.is_some_and(|t| t != turn)
            || w.get("db_owner").and_then(Value::as_str) != Some(agent.as_str())
            || w.get("db_lease").and_then(Value::as_str) != Some(lease);
        let stale_pause = superseded.get(&(agent.clone(), turn)).is_some_and(|s| recv > *s);
        if stale_db {
            r.stale_attempts += 1;
            if !accepted {
                r.stale_rejected += 1;
            }
        }
        if stale_pause {
            r.stale_after_pause += 1;
            if !accepted {
                r.stale_after_pause_rejected += 1;
            }
        }
        let slot = i64_of(w, "slot") as usize;
        let inc = i64_of(w, "inc") as u64;
        if accepted {
            accepted_writes.insert((slot, inc, turn), recv);
        }
        if !accepted {
            let code = w.get("error").and_then(Value::as_str).unwrap_or("?").to_owned();
            *r.rejected.entry(code.clone()).or_default() += 1;
            if !stale_db {
                r.current_rejected += 1;
            }
            continue;
        }
        r.accepted += 1;
        if stale_db || stale_pause {
            r.problem(format!("register seq {}: stale token of turn {turn} ({agent}) was accepted", i64_of(w, "seq")));
        }
        let read = i64_of(w, "read");
        let before = i64_of(w, "reg_before");
        if read != before {
            r.fenced_overlaps += 1;
            r.problem(format!(
                "register seq {}: {agent} (turn {turn}) wrote on a read of {read}, but the register held {before}: lost update",
                i64_of(w, "seq")
            ));
        }
        let turn_before = i64_of(w, "reg_turn_before");
        if turn < turn_before {
            r.fenced_overlaps += 1;
            r.problem(format!("register seq {}: turn {turn} accepted after turn {turn_before}", i64_of(w, "seq")));
        }
        match grant_of_turn.get(&turn) {
            Some(g) if g.to.as_deref() == Some(agent.as_str()) => {}
            other => {
                r.fenced_overlaps += 1;
                r.problem(format!(
                    "register seq {}: accepted a token of turn {turn} for {agent}, but the event table granted it to {:?}",
                    i64_of(w, "seq"),
                    other.and_then(|g| g.to.clone())
                ));
            }
        }
    }

    // ---- Holds (agent records) and tt errors.
    let mut holds: Vec<Hold> = Vec::new();
    let mut open: BTreeMap<(usize, u64, i64), usize> = BTreeMap::new();
    for rec in &records {
        let slot = i64_of(rec, "slot") as usize;
        let inc = i64_of(rec, "inc") as u64;
        match str_of(rec, "kind") {
            "grant" => {
                let turn = i64_of(rec, "turn");
                let agent = slot_agent(&slot_of, slot);
                if str_of(rec, "reason") == "already_owner" {
                    r.resumed += 1;
                }
                open.insert((slot, inc, turn), holds.len());
                holds.push(Hold {
                    agent,
                    slot,
                    inc,
                    turn,
                    start_us: i64_of(rec, "got_us"),
                    end_us: kill_time.get(&(slot, inc)).copied().unwrap_or(i64::MAX),
                });
            }
            "turn_end" => {
                if let Some(i) = open.remove(&(slot, inc, i64_of(rec, "turn"))) {
                    holds[i].end_us = i64_of(rec, "rel_end_us");
                }
            }
            "tt_error" => *r.errors.entry(format!("wait:{}", str_of(rec, "error"))).or_default() += 1,
            "take_failed" => *r.errors.entry(format!("take:{}", str_of(rec, "error"))).or_default() += 1,
            "error" => r.problem(format!("agent slot {slot} inc {inc}: {}", str_of(rec, "message"))),
            _ => {}
        }
    }
    for rec in records.iter().filter(|v| str_of(v, "kind") == "turn_end") {
        let rel = rec.get("release").cloned().unwrap_or(Value::Null);
        if rel.get("ok").and_then(Value::as_bool) == Some(false) {
            *r.errors.entry(format!("release:{}", str_of(&rel, "error"))).or_default() += 1;
        }
    }
    for p in &mut pauses {
        if p.end_us == i64::MAX {
            p.end_us = i64::MAX - 1;
        }
    }
    // A holder resumed after its lease expired stays takeable until its guardian's next
    // heartbeat renews the lease (at most one interval after the resume, protocol.md §10.2).
    let settings: Value = std::fs::read_to_string(run.join("settings.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let renew_us = i64_of(&settings, "heartbeat_interval_ms") * 1000;
    let paused_at = |slot: usize, inc: u64, turn: i64, t: i64| {
        pauses.iter().any(|p| {
            p.slot == slot
                && p.inc == inc
                && p.turn == turn
                && p.start_us <= t
                && t <= p.end_us.saturating_add(renew_us)
        })
    };
    // When each incarnation's first poll had returned: from then on the member row names its
    // process (the join of that poll committed before it returned).
    let joined: BTreeMap<(usize, u64), i64> = records
        .iter()
        .filter(|v| str_of(v, "kind") == "joined")
        .map(|v| ((i64_of(v, "slot") as usize, i64_of(v, "inc") as u64), i64_of(v, "t_us")))
        .collect();

    // ---- Takeovers and relinquishes of a live holder.
    for e in &events {
        let tau = e.created_at * 1000;
        let (revoked, turn, needs_dead) = match e.kind.as_str() {
            "takeover" => {
                let kind = takeover_kind(e);
                if kind == "claim_timeout" || kind == "recipient_gone" {
                    // A reservation takeover revokes a recipient, not a holder. The recipient was
                    // live when an incarnation of it had joined (so the member row named a running
                    // process) and was not killed yet; a restarted incarnation that has not polled
                    // yet leaves the row naming the dead one, and `recipient_gone` is then right.
                    let to = e.from.clone().unwrap_or_default();
                    let live = slot_of.get(&to).is_some_and(|&s| {
                        joined.iter().any(|(&(sl, inc), &at)| {
                            sl == s && at < tau && kill_time.get(&(sl, inc)).is_none_or(|&kt| kt > tau)
                        })
                    });
                    if live {
                        r.live_recipient_takeovers += 1;
                    }
                    if kind == "recipient_gone" && live {
                        r.live_takeovers += 1;
                        r.problem(format!("event {}: recipient_gone takeover of {to}, whose agent was running", e.seq));
                    }
                    continue;
                }
                (e.from.clone().unwrap_or_default(), e.turn_id - 1, kind == "owner_gone")
            }
            "release" if e.reason.as_deref() == Some("harness_gone") => {
                (e.from.clone().unwrap_or_default(), e.turn_id, true)
            }
            _ => continue,
        };
        for h in holds.iter().filter(|h| h.agent == revoked && h.turn == turn && h.start_us <= tau && tau <= h.end_us) {
            let paused = paused_at(h.slot, h.inc, turn, tau);
            if needs_dead || !paused {
                r.live_takeovers += 1;
                r.problem(format!(
                    "event {}: {} revoked {revoked} (turn {turn}) while its holder (slot {} inc {}) was {}",
                    e.seq,
                    if e.kind == "release" { "a relinquish" } else { "a takeover" },
                    h.slot,
                    h.inc,
                    if paused { "stopped (alive)" } else { "running" }
                ));
            }
        }
    }

    // ---- Recovery after a holder's death, takeover after a pause.
    for k in kills.iter().filter(|k| str_of(k, "role") == "holder") {
        let t = i64_of(k, "turn");
        let at = i64_of(k, "t_us");
        let slot = i64_of(k, "slot") as usize;
        let next = grants.iter().find(|g| g.turn_id > t);
        let resumed =
            holds.iter().filter(|h| h.slot == slot && h.turn == t && h.start_us > at).map(|h| h.start_us).min();
        let resumed_first = resumed.filter(|back| next.is_none_or(|g| g.created_at * 1000 > *back));
        match (next, resumed_first) {
            (_, Some(back)) => {
                r.recovery_resumed.push((back - at) / 1000);
                *r.recovery_paths.entry("resumed".into()).or_default() += 1;
            }
            (Some(g), None) => {
                r.recovery_takeover.push((g.created_at * 1000 - at) / 1000);
                let path = if g.kind == "takeover" {
                    format!("takeover {}", takeover_kind(g))
                } else if events
                    .iter()
                    .any(|e| e.kind == "release" && e.turn_id == t && e.reason.as_deref() == Some("harness_gone"))
                {
                    "relinquish + claim".to_owned()
                } else {
                    "claim".to_owned()
                };
                *r.recovery_paths.entry(path).or_default() += 1;
            }
            (None, None) => {
                *r.recovery_paths.entry("none before the end".into()).or_default() += 1;
            }
        }
    }
    for p in pauses.iter().filter(|p| p.superseded_seq.is_some()) {
        if let Some(g) = grants.iter().find(|g| g.turn_id == p.turn + 1) {
            r.pause_takeover.push((g.created_at * 1000 - p.start_us) / 1000);
        }
    }

    // ---- Critical sections by wall clock (cs.log).
    let mut intervals: Vec<(i64, i64, usize, u64, i64)> = Vec::new();
    let mut enters: BTreeMap<(usize, u64, i64), i64> = BTreeMap::new();
    for c in &cs {
        let key = (i64_of(c, "slot") as usize, i64_of(c, "inc") as u64, i64_of(c, "turn"));
        match str_of(c, "ev") {
            "enter" => {
                enters.insert(key, i64_of(c, "t_us"));
            }
            "exit" => {
                if let Some(start) = enters.remove(&key) {
                    intervals.push((start, i64_of(c, "t_us"), key.0, key.1, key.2));
                }
            }
            _ => {}
        }
    }
    for (key, start) in enters {
        let end = kill_time.get(&(key.0, key.1)).copied().unwrap_or(i64::MAX);
        intervals.push((start, end, key.0, key.1, key.2));
    }
    intervals.sort_unstable();
    for (i, a) in intervals.iter().enumerate() {
        for b in intervals.iter().skip(i + 1) {
            if b.0 >= a.1 {
                break;
            }
            if a.4 == b.4 {
                continue;
            }
            r.cs_overlaps += 1;
            // The older turn's holder must have been stopped during its turn (before its critical
            // section ended; possibly before it even began) until the turn was taken over, and no
            // write of it may have been accepted after that (a write accepted before the stop,
            // while its token was current, is fine).
            let older = if a.4 < b.4 { a } else { b };
            let refused_after = |seq: u64| accepted_writes.get(&(older.2, older.3, older.4)).is_none_or(|w| *w < seq);
            let stopped = pauses.iter().any(|p| {
                p.slot == older.2
                    && p.inc == older.3
                    && p.turn == older.4
                    && p.start_us < older.1
                    && p.superseded_seq.is_some_and(refused_after)
            });
            // Or the older turn's grant reached its agent only after the turn was already over:
            // under load the claim committed, but `tt wait` returned (guardian spawn and READY
            // included) after the lease had expired and the next turn's grant had committed.
            // The stale holder's critical section then runs beside the new one, and the fence
            // refuses its write.
            let next_turn = events.iter().find(|e| e.turn_id > older.4);
            let late = next_turn.is_some_and(|next| {
                refused_after(u64::try_from(next.seq).unwrap_or(0))
                    && holds.iter().any(|h| {
                        h.slot == older.2
                            && h.inc == older.3
                            && h.turn == older.4
                            && next.created_at * 1000 < h.start_us
                    })
            });
            if stopped {
                r.cs_overlaps_explained += 1;
            } else if late {
                r.cs_overlaps_late_grant += 1;
            } else {
                r.problem(format!(
                    "critical sections overlapped without a stopped holder: slot {} turn {} and slot {} turn {}",
                    a.2, a.4, b.2, b.4
                ));
            }
        }
    }

    // ---- Grants per agent and bypass.
    let mut per_agent: BTreeMap<String, u64> = BTreeMap::new();
    for g in &grants {
        *per_agent.entry(g.to.clone().unwrap_or_default()).or_default() += 1;
    }
    for (agent, slot) in &slot_of {
        r.grants_per_agent.push((*slot, agent.clone(), per_agent.get(agent).copied().unwrap_or(0)));
    }
    r.grants_per_agent.sort();
    // Bypass: grants to other agents while one agent waited, counted in event_seq order. A wait
    // starts at the agent's own release event (exactly), or — after a refused release, or for a new
    // incarnation — at the first event created after it began waiting; it ends at its grant.
    //
    // A *fair* grant is a claim of the reservation the fairness policy made at the preceding release
    // (the releaser's `tt release` printed `reserved_for` = the claimant). The policy never reserves
    // for Y over a waiting X unless Y has gone longer without the stick (protocol.md §11.2-§11.3), and
    // Y's grant makes Y newer than X, so fair grants bypass a waiter at most N−1 times. Every other
    // grant is open to whoever polls first: a takeover, or a claim of an idle room after a relinquish
    // or after a release that reserved nobody (§10.9, §11.3); faults cause them, and they are counted
    // separately.
    let mut reserved_at_release: BTreeMap<i64, String> = BTreeMap::new();
    for rec in records.iter().filter(|v| str_of(v, "kind") == "turn_end") {
        let rel = rec.get("release").cloned().unwrap_or(Value::Null);
        if rel.get("ok").and_then(Value::as_bool) == Some(true)
            && let Some(to) = rel.get("reserved_for").and_then(Value::as_str)
        {
            reserved_at_release.insert(i64_of(rec, "turn"), to.to_owned());
        }
    }
    let fair: BTreeMap<i64, bool> = grants
        .iter()
        .map(|g| {
            let is_fair =
                g.kind == "claim" && reserved_at_release.get(&(g.turn_id - 1)).map(String::as_str) == g.to.as_deref();
            (g.seq, is_fair)
        })
        .collect();
    let grant_kinds = ["claim", "takeover"];
    let seq_after_us = |t_us: i64| events.iter().find(|e| e.created_at * 1000 >= t_us).map_or(i64::MAX, |e| e.seq - 1);
    for slot in 0..n {
        let agent = slot_agent(&slot_of, slot);
        let mut mine: Vec<&Value> = records.iter().filter(|v| i64_of(v, "slot") as usize == slot).collect();
        mine.sort_by_key(|v| i64_of(v, "t_us"));
        let mut from_seq: Option<i64> = None;
        for rec in mine {
            match str_of(rec, "kind") {
                "start" => {
                    // A process that is not yet a member cannot be chosen (§11.3 picks among
                    // members): when it had to join, its wait starts at its join event, not
                    // at its start (a slow first `tt wait` — the policy module compiling
                    // into a fresh cache — is not a bypass). A join after a grant of its own
                    // belongs to a later membership.
                    let began = seq_after_us(i64_of(rec, "t_us"));
                    let joined = events
                        .iter()
                        .filter(|e| e.seq > began)
                        .take_while(|e| {
                            !(grant_kinds.contains(&e.kind.as_str()) && e.to.as_deref() == Some(agent.as_str()))
                        })
                        .find(|e| e.kind == "join" && e.from.as_deref() == Some(agent.as_str()))
                        .map(|e| e.seq);
                    from_seq = Some(joined.unwrap_or(began));
                }
                "turn_end" => {
                    let rel = rec.get("release").cloned().unwrap_or(Value::Null);
                    from_seq = match rel.get("event_seq").and_then(Value::as_i64) {
                        Some(seq) if rel.get("ok").and_then(Value::as_bool) == Some(true) => Some(seq),
                        _ => Some(seq_after_us(i64_of(rec, "rel_start_us"))),
                    };
                }
                "grant" if str_of(rec, "reason") != "already_owner" => {
                    let turn = i64_of(rec, "turn");
                    let Some(to_seq) =
                        grant_of_turn.get(&turn).filter(|g| g.to.as_deref() == Some(agent.as_str())).map(|g| g.seq)
                    else {
                        continue;
                    };
                    let Some(from) = from_seq.take() else { continue };
                    let others = grants
                        .iter()
                        .filter(|g| g.seq > from && g.seq < to_seq && g.to.as_deref() != Some(agent.as_str()));
                    let (mut all, mut fair_n) = (0u64, 0u64);
                    for g in others {
                        all += 1;
                        if fair.get(&g.seq) == Some(&true) {
                            fair_n += 1;
                        }
                    }
                    r.episodes += 1;
                    if fair_n > r.max_bypass_fair || r.max_bypass_fair_at.is_empty() {
                        r.max_bypass_fair = fair_n;
                        r.max_bypass_fair_at = format!("slot {slot}, turn {turn}");
                    }
                    if all > r.max_bypass || r.max_bypass_at.is_empty() {
                        r.max_bypass = all;
                        r.max_bypass_at = format!("slot {slot}, turn {turn}");
                    }
                }
                _ => {}
            }
        }
    }
    r.fair_grants = fair.values().filter(|f| **f).count() as u64;
    if r.calm && r.max_bypass > n.saturating_sub(1) as u64 {
        // No fault happened, so no grant is excused: every grant is the fairness policy's or
        // an open claim of a room nobody was reserved in.
        r.problem(format!(
            "max bypass {} (at {}) exceeds N−1 = {} in a calm phase",
            r.max_bypass,
            r.max_bypass_at,
            n - 1
        ));
    }
    if r.max_bypass_fair > n.saturating_sub(1) as u64 {
        r.problem(format!(
            "max bypass {} by fair grants (at {}) exceeds N−1 = {}",
            r.max_bypass_fair,
            r.max_bypass_fair_at,
            n - 1
        ));
    }

    if r.stale_rejected != r.stale_attempts || r.stale_after_pause_rejected != r.stale_after_pause {
        r.problem("a stale-token write was accepted".to_owned());
    }
    if r.live_takeovers > 0 {
        r.problem(format!("{} takeover(s) of a live holder", r.live_takeovers));
    }
    Ok(r)
}

/// The kind of a takeover event, from the reason text our agents give (`chaos: <kind> offered …`).
fn takeover_kind(e: &Event) -> String {
    e.reason
        .as_deref()
        .and_then(|r| r.strip_prefix("chaos: "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or("other")
        .to_owned()
}

fn slot_agent(slot_of: &BTreeMap<String, usize>, slot: usize) -> String {
    slot_of.iter().find(|(_, s)| **s == slot).map(|(a, _)| a.clone()).unwrap_or_default()
}
