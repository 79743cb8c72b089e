//! Row operations on `commitments` and `claim_observations` (follow-through.md §5). The
//! rules (deduplication, cap, inheritance) live in `service::commitments`; these methods
//! only read and write rows. "Open" is always `status = 'pending' AND expires_at >= now`
//! (§5.2: a commitment is still open at exactly `expires_at`).

use super::Tx;
use crate::error::TtError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, Row, params, params_from_iter};

/// A `commitments` row (follow-through.md §5.1). Times are epoch milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commitment {
    /// `AUTOINCREMENT` key; rendered `CMT-<seq, at least 3 digits>`.
    pub seq: i64,
    /// The room.
    pub room_id: String,
    /// `action_claim`.
    pub kind: String,
    /// Stored status: `pending`, `done`, `withdrawn` or `expired` (a lapsed `pending` row
    /// reads as `expired`, §5.5).
    pub status: String,
    /// The assignee; None = room-held.
    pub agent_id: Option<String>,
    /// Who made the claim; never changes.
    pub origin_agent_id: String,
    /// The deduplication and cap group.
    pub topic: String,
    /// `actionclaim:<topic>:<verb>`.
    pub external_key: String,
    /// The lemma (`restart`, …).
    pub verb: String,
    /// The classifier's matched span.
    pub matched: String,
    /// The first 500 characters of the classified text.
    pub excerpt: String,
    /// `observe`, `hook` or `handoff`.
    pub source: String,
    /// `status` or `next_action` for handoffs.
    pub source_field: Option<String>,
    /// The `release`/`pass` event of a handoff claim.
    pub handoff_event_seq: Option<i64>,
    /// The room's turn when the claim was recorded.
    pub created_turn_id: i64,
    /// Creation time (ms).
    pub created_at: i64,
    /// Expiry (ms); open up to and including this instant.
    pub expires_at: i64,
    /// The agent of the latest move to the room (§10.2).
    pub inherited_from_agent_id: Option<String>,
    /// Time of the latest move (ms).
    pub inherited_at: Option<i64>,
    /// Why it moved (`owner_timeout`, `left`, …).
    pub inherit_reason: Option<String>,
    /// The turn it was attached to the current assignee in.
    pub attached_turn_id: Option<i64>,
    /// Time of that attachment (ms).
    pub attached_at: Option<i64>,
    /// When it became terminal (ms).
    pub resolved_at: Option<i64>,
    /// Who closed it.
    pub resolved_by_agent_id: Option<String>,
    /// `done`, `withdrawn`, `withdrawn: <reason>` or `expired`.
    pub resolution: Option<String>,
}

/// A commitment to insert; the store assigns `seq` and sets `status = 'pending'`,
/// `agent_id = origin_agent_id` and no inheritance, attachment or resolution.
#[derive(Clone, Debug)]
pub struct NewCommitment<'a> {
    /// The room.
    pub room_id: &'a str,
    /// The claimant (assignee and origin).
    pub agent_id: &'a str,
    /// Topic.
    pub topic: &'a str,
    /// External key.
    pub external_key: &'a str,
    /// Verb lemma.
    pub verb: &'a str,
    /// Matched span.
    pub matched: &'a str,
    /// Excerpt (at most 500 characters).
    pub excerpt: &'a str,
    /// `observe`, `hook` or `handoff`.
    pub source: &'a str,
    /// Handoff field.
    pub source_field: Option<&'a str>,
    /// Handoff event.
    pub handoff_event_seq: Option<i64>,
    /// The room's current turn.
    pub created_turn_id: i64,
    /// Now (ms).
    pub created_at: i64,
    /// Now + `action_claim_expiry_ms` (ms).
    pub expires_at: i64,
}

const COLS: &str = "seq, room_id, kind, status, agent_id, origin_agent_id, topic, external_key, verb, matched, \
     excerpt, source, source_field, handoff_event_seq, created_turn_id, created_at, expires_at, \
     inherited_from_agent_id, inherited_at, inherit_reason, attached_turn_id, attached_at, resolved_at, \
     resolved_by_agent_id, resolution";

/// The open-row condition on top of a `room_id = ?1` filter, with `now` as `?2`.
const OPEN: &str = "status = 'pending' AND expires_at >= ?2";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Commitment> {
    Ok(Commitment {
        seq: r.get(0)?,
        room_id: r.get(1)?,
        kind: r.get(2)?,
        status: r.get(3)?,
        agent_id: r.get(4)?,
        origin_agent_id: r.get(5)?,
        topic: r.get(6)?,
        external_key: r.get(7)?,
        verb: r.get(8)?,
        matched: r.get(9)?,
        excerpt: r.get(10)?,
        source: r.get(11)?,
        source_field: r.get(12)?,
        handoff_event_seq: r.get(13)?,
        created_turn_id: r.get(14)?,
        created_at: r.get(15)?,
        expires_at: r.get(16)?,
        inherited_from_agent_id: r.get(17)?,
        inherited_at: r.get(18)?,
        inherit_reason: r.get(19)?,
        attached_turn_id: r.get(20)?,
        attached_at: r.get(21)?,
        resolved_at: r.get(22)?,
        resolved_by_agent_id: r.get(23)?,
        resolution: r.get(24)?,
    })
}

fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

impl Tx<'_> {
    /// The expiry sweep of follow-through.md §5.5: every pending row of the room whose
    /// `expires_at < now` becomes `expired` with `resolved_at = expires_at`. Returns how
    /// many rows changed.
    pub fn sweep_commitments(&self, room_id: &str, now: i64) -> Result<usize, TtError> {
        let n = self.tx.execute(
            "UPDATE commitments SET status = 'expired', resolved_at = expires_at, resolution = 'expired' \
             WHERE room_id = ?1 AND status = 'pending' AND expires_at < ?2",
            params![room_id, now],
        )?;
        Ok(n)
    }

    /// One commitment by `seq`.
    pub fn commitment(&self, seq: i64) -> Result<Option<Commitment>, TtError> {
        let sql = format!("SELECT {COLS} FROM commitments WHERE seq = ?1");
        Ok(self.tx.query_row(&sql, [seq], from_row).optional()?)
    }

    /// The open commitment of the room carrying `external_key`, if any (§5.4 step 2).
    pub fn open_commitment_by_key(&self, room_id: &str, now: i64, key: &str) -> Result<Option<Commitment>, TtError> {
        let sql = format!("SELECT {COLS} FROM commitments WHERE room_id = ?1 AND {OPEN} AND external_key = ?3");
        Ok(self.tx.query_row(&sql, params![room_id, now, key], from_row).optional()?)
    }

    /// How many open commitments of the room have this topic and an external key that
    /// starts with `prefix` (the cap of §5.4 step 3; a byte prefix, not a `LIKE` pattern).
    pub fn count_open_by_topic(&self, room_id: &str, now: i64, topic: &str, prefix: &str) -> Result<usize, TtError> {
        let n: i64 = self.tx.query_row(
            &format!(
                "SELECT count(*) FROM commitments WHERE room_id = ?1 AND {OPEN} AND topic = ?3 \
                 AND substr(external_key, 1, length(?4)) = ?4"
            ),
            params![room_id, now, topic, prefix],
            |r| r.get(0),
        )?;
        Ok(count(n))
    }

    /// Insert a new pending commitment (§5.4 step 4); returns it with its `seq`.
    /// Errors: `storage_error`, e.g. when an open row already carries the key (the caller
    /// deduplicates first).
    pub fn insert_commitment(&self, c: &NewCommitment<'_>) -> Result<Commitment, TtError> {
        self.tx.execute(
            "INSERT INTO commitments (room_id, kind, status, agent_id, origin_agent_id, topic, external_key, verb, \
             matched, excerpt, source, source_field, handoff_event_seq, created_turn_id, created_at, expires_at) \
             VALUES (?1, 'action_claim', 'pending', ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                c.room_id,
                c.agent_id,
                c.topic,
                c.external_key,
                c.verb,
                c.matched,
                c.excerpt,
                c.source,
                c.source_field,
                c.handoff_event_seq,
                c.created_turn_id,
                c.created_at,
                c.expires_at
            ],
        )?;
        let seq = self.tx.last_insert_rowid();
        self.commitment(seq)?.ok_or_else(|| TtError::storage("the new commitment could not be read back"))
    }

    /// The open commitments of the room held by `holder` (None = room-held), ascending
    /// `seq`, at most `limit`.
    pub fn open_commitments(
        &self,
        room_id: &str,
        now: i64,
        holder: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Commitment>, TtError> {
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {COLS} FROM commitments WHERE room_id = ?1 AND {OPEN} AND agent_id IS ?3 ORDER BY seq LIMIT ?4"
        );
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![room_id, now, holder, lim], from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// How many open commitments of the room `holder` has (None = room-held).
    pub fn count_open_commitments(&self, room_id: &str, now: i64, holder: Option<&str>) -> Result<usize, TtError> {
        let n: i64 = self.tx.query_row(
            &format!("SELECT count(*) FROM commitments WHERE room_id = ?1 AND {OPEN} AND agent_id IS ?3"),
            params![room_id, now, holder],
            |r| r.get(0),
        )?;
        Ok(count(n))
    }

    /// Open commitments of the room counted per holder in one statement: `(None, n)` is
    /// the room-held count, `(Some(agent), n)` an assignee's; holders without an open
    /// commitment are absent. Ordered room-held first, then by agent id.
    pub fn open_counts_by_holder(&self, room_id: &str, now: i64) -> Result<Vec<(Option<String>, usize)>, TtError> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT agent_id, count(*) FROM commitments WHERE room_id = ?1 AND {OPEN} \
             GROUP BY agent_id ORDER BY agent_id"
        ))?;
        let rows = stmt
            .query_map(params![room_id, now], |r| Ok((r.get::<_, Option<String>>(0)?, count(r.get::<_, i64>(1)?))))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The newest `limit` commitments of the room in any status, returned in ascending
    /// `seq` (`tt commitments --all`, §7.3).
    pub fn recent_commitments(&self, room_id: &str, limit: usize) -> Result<Vec<Commitment>, TtError> {
        let lim = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!("SELECT {COLS} FROM commitments WHERE room_id = ?1 ORDER BY seq DESC LIMIT ?2");
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let mut rows = stmt.query_map(params![room_id, lim], from_row)?.collect::<Result<Vec<_>, _>>()?;
        rows.reverse();
        Ok(rows)
    }

    /// Close a commitment (§7.4): `status` (`done` or `withdrawn`), `resolved_at`,
    /// `resolved_by_agent_id`, `resolution`.
    pub fn close_commitment(
        &self,
        seq: i64,
        status: &str,
        now: i64,
        by: &str,
        resolution: &str,
    ) -> Result<(), TtError> {
        self.tx.execute(
            "UPDATE commitments SET status = ?2, resolved_at = ?3, resolved_by_agent_id = ?4, resolution = ?5 \
             WHERE seq = ?1",
            params![seq, status, now, by, resolution],
        )?;
        Ok(())
    }

    /// Move `agent`'s open commitments of the room to the room (follow-through.md §10.2
    /// step 3): `agent_id = NULL`, the inheritance fields describe this move, no
    /// attachment. Returns the moved rows, ascending `seq`.
    pub fn move_commitments_to_room(
        &self,
        room_id: &str,
        now: i64,
        agent: &str,
        reason: &str,
    ) -> Result<Vec<Commitment>, TtError> {
        let rows = self.open_commitments(room_id, now, Some(agent), usize::MAX)?;
        if rows.is_empty() {
            return Ok(rows);
        }
        self.tx.execute(
            &format!(
                "UPDATE commitments SET agent_id = NULL, inherited_from_agent_id = ?3, inherited_at = ?2, \
                 inherit_reason = ?4, attached_turn_id = NULL, attached_at = NULL \
                 WHERE room_id = ?1 AND {OPEN} AND agent_id = ?3"
            ),
            params![room_id, now, agent, reason],
        )?;
        self.reread(rows.iter().map(|c| c.seq))
    }

    /// Attach the room's room-held open commitments to `agent` in turn `turn_id`
    /// (§10.2 step 4, §10.3 step 3); `only` restricts it to those `seq`s. Returns the
    /// attached rows, ascending `seq`.
    pub fn attach_room_held(
        &self,
        room_id: &str,
        now: i64,
        agent: &str,
        turn_id: i64,
        only: Option<&[i64]>,
    ) -> Result<Vec<Commitment>, TtError> {
        let held = self.open_commitments(room_id, now, None, usize::MAX)?;
        let chosen: Vec<i64> =
            held.iter().map(|c| c.seq).filter(|s| only.is_none_or(|only| only.contains(s))).collect();
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.tx.prepare_cached(
            "UPDATE commitments SET agent_id = ?2, attached_turn_id = ?3, attached_at = ?4 WHERE seq = ?1",
        )?;
        for seq in &chosen {
            stmt.execute(params![seq, agent, turn_id, now])?;
        }
        self.reread(chosen.into_iter())
    }

    fn reread(&self, seqs: impl Iterator<Item = i64>) -> Result<Vec<Commitment>, TtError> {
        let seqs: Vec<SqlValue> = seqs.map(SqlValue::Integer).collect();
        if seqs.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; seqs.len()].join(",");
        let sql = format!("SELECT {COLS} FROM commitments WHERE seq IN ({marks}) ORDER BY seq");
        let mut stmt = self.tx.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(seqs), from_row)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The SHA-256 (hex) of the message the hook last observed for this member
    /// (follow-through.md §7.2 step 8).
    pub fn observation(&self, room_id: &str, agent: &str) -> Result<Option<String>, TtError> {
        Ok(self
            .tx
            .query_row(
                "SELECT text_sha256 FROM claim_observations WHERE room_id = ?1 AND agent_id = ?2",
                [room_id, agent],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Store the hash of the message the hook observed for this member, replacing the
    /// previous one.
    pub fn put_observation(&self, room_id: &str, agent: &str, sha256: &str, now: i64) -> Result<(), TtError> {
        self.tx.execute(
            "INSERT OR REPLACE INTO claim_observations (room_id, agent_id, text_sha256, observed_at) \
             VALUES (?1, ?2, ?3, ?4)",
            params![room_id, agent, sha256, now],
        )?;
        Ok(())
    }
}
