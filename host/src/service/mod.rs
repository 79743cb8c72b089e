//! The protocol operations (protocol.md §10–§18), one `BEGIN IMMEDIATE` transaction each.
//!
//! The service gathers facts from the [`store`](crate::store), [`liveness`](crate::liveness)
//! and the caller's [`identity`](crate::identity), asks the [`policy`](crate::policy)
//! slots for every fairness, idle-claim and supersession decision, and returns values:
//! expected negative outcomes (`not_yet`, `takeover_available`) are results, protocol
//! errors are [`TtError`]s with stable codes. It never prints and never reads the
//! environment.

pub mod commitments;
pub mod membership;
pub mod reads;
pub mod shape;
pub mod turn;

use crate::clock::Clock;
use crate::error::{ErrorCode, TtError};
use crate::identity::ProcessMetadata;
use crate::liveness::{Liveness, MemberProcesses, ProcessRef, Verdict};
use crate::policy::Policies;
use crate::settings::Settings;
use crate::store::{Member, Room, Store, StoredState, Tx};
use std::path::PathBuf;
use stick_policy::types as n;

/// Fixed limits of protocol.md §4.3.4.
pub mod limits {
    /// Events per wait wake.
    pub const WAKE_EVENTS: usize = 100;
    /// Hard maximum of one event query.
    pub const EVENT_QUERY_MAX: usize = 500;
    /// Default event view.
    pub const EVENT_VIEW: usize = 50;
    /// Default explicit event page.
    pub const EVENT_PAGE: usize = 100;
    /// Notes list default.
    pub const NOTES_DEFAULT: usize = 50;
    /// Notes list maximum.
    pub const NOTES_MAX: usize = 200;
    /// Members in the default state view and in join results.
    pub const MEMBER_VIEW: usize = 50;
    /// Rooms in `tt list` without `--all`.
    pub const ROOM_VIEW: usize = 200;
    /// Message body (UTF-8 bytes).
    pub const MESSAGE_BYTES: usize = 4096;
    /// Note body (UTF-8 bytes).
    pub const NOTE_BYTES: usize = 16_384;
    /// Serialised handoff (bytes).
    pub const HANDOFF_BYTES: usize = 65_536;
    /// Reasons (bytes).
    pub const REASON_BYTES: usize = 1024;
}

/// The caller of an operation: its agent id and the metadata it brings (§8.3).
#[derive(Clone, Debug)]
pub struct Caller {
    /// The agent id.
    pub agent_id: String,
    /// Row metadata supplied by this invocation.
    pub metadata: ProcessMetadata,
}

/// The derived room state (protocol.md §5.2), or the cheap projection of §5.3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Stored `closed`.
    Closed,
    /// The owner is persistently gone (or its row is missing).
    OwnerGone,
    /// The owner's lease has expired.
    StaleOwner,
    /// Owned.
    Owned,
    /// The reservation expired and the recipient is persistently gone.
    RecipientGone,
    /// Reserved.
    Reserved,
    /// No member is active.
    Dormant,
    /// Idle.
    Idle,
}

impl View {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            View::Closed => "closed",
            View::OwnerGone => "owner_gone",
            View::StaleOwner => "stale_owner",
            View::Owned => "owned",
            View::RecipientGone => "recipient_gone",
            View::Reserved => "reserved",
            View::Dormant => "dormant",
            View::Idle => "idle",
        }
    }
}

/// Everything an operation needs besides the store: settings, time, liveness, policy.
pub struct Deps<'a> {
    /// Effective settings.
    pub settings: &'a Settings,
    /// `now()` at the start of the operation (ms).
    pub now: i64,
    /// Liveness probes (cached).
    pub liveness: &'a mut Liveness,
    /// Policy slots.
    pub policies: &'a mut Policies,
}

/// Saturating conversion of a setting (ms) to the i64 the store uses.
pub fn ms(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Deps<'_> {
    /// `expired(t)`: set and `t <= now` (protocol.md §3.3).
    pub fn expired(&self, t: Option<i64>) -> bool {
        t.is_some_and(|t| t <= self.now)
    }

    /// The age of `t` (negative counts as 0).
    pub fn age(&self, t: i64) -> i64 {
        (self.now - t).max(0)
    }

    /// `presence_recent(m)`.
    pub fn presence_recent(&self, m: &Member) -> bool {
        self.age(m.last_seen_at) <= ms(self.settings.presence_ttl_ms)
    }

    /// `silent_beyond_grace(m)`: missing, or silent for more than `gone_grace_ms`.
    pub fn silent_beyond_grace(&self, m: Option<&Member>) -> bool {
        m.is_none_or(|m| self.age(m.last_seen_at) > ms(self.settings.gone_grace_ms))
    }

    /// `liveness(m)` (protocol.md §6.3).
    pub fn verdict(&mut self, m: &Member) -> Verdict {
        self.liveness.member_verdict(&m.agent_id, &processes(m))
    }

    /// `persistently_gone(m)` (§6.6); a missing row counts. Probes only when silent.
    pub fn persistently_gone(&mut self, m: Option<&Member>) -> bool {
        match m {
            None => true,
            Some(m) => self.silent_beyond_grace(Some(m)) && self.verdict(m) == Verdict::Gone,
        }
    }

    /// `member_active(m)` (§6.7).
    pub fn member_active(&mut self, m: &Member) -> bool {
        self.activity(m).0
    }

    /// `(member_active(m), liveness(m))`: the `status` and `liveness` a read reports.
    pub fn activity(&mut self, m: &Member) -> (bool, Verdict) {
        let verdict = self.verdict(m);
        (self.presence_recent(m) && verdict != Verdict::Gone, verdict)
    }

    /// The derived state (§5.2). `full` = full inspection (reads); inside a write
    /// transaction step 4 uses presence only.
    pub fn derive(&mut self, room: &Room, members: &[Member], full: bool) -> View {
        if room.state == StoredState::Closed {
            return View::Closed;
        }
        let find = |id: &str| members.iter().find(|m| m.agent_id == id);
        if let Some(owner) = &room.owner {
            if self.persistently_gone(find(owner)) {
                return View::OwnerGone;
            }
            if self.expired(room.lease_expires_at) {
                return View::StaleOwner;
            }
            return View::Owned;
        }
        if let Some(r) = &room.reserved_for {
            if self.expired(room.claim_expires_at) && self.persistently_gone(find(r)) {
                return View::RecipientGone;
            }
            return View::Reserved;
        }
        let any_active = if full {
            members.iter().any(|m| self.member_active(m))
        } else {
            members.iter().any(|m| self.presence_recent(m))
        };
        if any_active { View::Idle } else { View::Dormant }
    }

    /// The cheap projection of `tt list` (§5.3): no process inspection.
    pub fn cheap_view(&self, room: &Room, members: &[Member]) -> View {
        if room.state == StoredState::Closed {
            View::Closed
        } else if room.owner.is_some() {
            if self.expired(room.lease_expires_at) { View::StaleOwner } else { View::Owned }
        } else if room.reserved_for.is_some() {
            View::Reserved
        } else if members.iter().any(|m| self.presence_recent(m)) {
            View::Idle
        } else {
            View::Dormant
        }
    }

    /// Policy candidates (§11.1) for every member; `probe` gives each a real verdict,
    /// otherwise `unprobed`.
    pub fn candidates(
        &mut self,
        tx: &Tx<'_>,
        room: &Room,
        members: &[Member],
        probe: bool,
    ) -> Result<Vec<n::Candidate>, TtError> {
        let held = tx.last_held(&room.room_id, members.iter().map(|m| m.agent_id.as_str()))?;
        let mut out = Vec::with_capacity(members.len());
        for (rank, m) in members.iter().enumerate() {
            let liveness = if probe {
                match self.verdict(m) {
                    Verdict::Alive => n::Liveness::Alive,
                    Verdict::Gone => n::Liveness::Gone,
                    Verdict::Unknown => n::Liveness::Unknown,
                }
            } else {
                n::Liveness::Unprobed
            };
            out.push(n::Candidate {
                agent_id: m.agent_id.clone(),
                ordinal: u64::try_from(m.ordinal).unwrap_or(0),
                rank: u32::try_from(rank).unwrap_or(u32::MAX),
                last_seen_at_ms: u64::try_from(m.last_seen_at).unwrap_or(0),
                last_wait_at_ms: m.last_wait_at.map(|t| u64::try_from(t).unwrap_or(0)),
                last_held_at_ms: held.get(&m.agent_id).map(|t| u64::try_from(*t).unwrap_or(0)),
                liveness,
                session_kind: m.session_kind.clone(),
            });
        }
        Ok(out)
    }

    /// `now` for the policy (ms).
    pub fn now_u64(&self) -> u64 {
        u64::try_from(self.now).unwrap_or(0)
    }

    /// Touch the caller (§8.1): `last_seen_at = now` and the metadata merge of §8.3.
    pub fn touch(&mut self, room: &Room, m: &mut Member, incoming: &ProcessMetadata) {
        m.last_seen_at = self.now;
        self.merge_metadata(room, m, incoming);
    }

    /// The metadata merge of protocol.md §8.3.
    pub fn merge_metadata(&mut self, room: &Room, m: &mut Member, incoming: &ProcessMetadata) {
        let incoming_row = incoming.pid.is_some() && incoming.process_started_at.is_some();
        let incoming_harness = incoming.harness_pid.is_some() && incoming.harness_process_started_at.is_some();
        let is_owner = room.owner.as_deref() == Some(m.agent_id.as_str());
        let is_recipient = room.reserved_for.as_deref() == Some(m.agent_id.as_str());
        if !incoming_row && !incoming_harness {
            if m.session_kind == "human_guardian" && !is_owner {
                m.host_id = None;
                m.boot_id = None;
                m.pid = None;
                m.process_started_at = None;
                m.session_kind.clone_from(&incoming.session_kind);
            }
            return;
        }
        let stored_complete = m.pid.is_some() && m.process_started_at.is_some();
        if (is_owner || is_recipient)
            && stored_complete
            && kind_priority(&incoming.session_kind) < kind_priority(&m.session_kind)
            && self.verdict(m) != Verdict::Gone
        {
            return;
        }
        m.session_kind.clone_from(&incoming.session_kind);
        m.display_name.clone_from(&incoming.display_name);
        m.host_id.clone_from(&incoming.host_id);
        m.boot_id.clone_from(&incoming.boot_id);
        m.pid = incoming.pid;
        m.process_started_at = incoming.process_started_at;
        if incoming.harness_name.is_some() {
            m.harness_name.clone_from(&incoming.harness_name);
        }
        if incoming.harness_session_id.is_some() {
            m.harness_session_id.clone_from(&incoming.harness_session_id);
        }
        if incoming.harness_host_id.is_some() {
            m.harness_host_id.clone_from(&incoming.harness_host_id);
        }
        if incoming.harness_boot_id.is_some() {
            m.harness_boot_id.clone_from(&incoming.harness_boot_id);
        }
        if incoming.harness_pid.is_some() {
            m.harness_pid = incoming.harness_pid;
        }
        if incoming.harness_process_started_at.is_some() {
            m.harness_process_started_at = incoming.harness_process_started_at;
        }
    }
}

/// Priority of a session kind in the metadata merge (§8.3 rule 2).
fn kind_priority(kind: &str) -> u8 {
    match kind {
        "human_guardian" => 3,
        "harness_cli" => 2,
        _ => 1,
    }
}

/// The process references of a member row.
pub fn processes(m: &Member) -> MemberProcesses {
    MemberProcesses {
        row: ProcessRef {
            host_id: m.host_id.clone(),
            boot_id: m.boot_id.clone(),
            pid: m.pid,
            started_at: m.process_started_at,
        },
        harness: ProcessRef {
            host_id: m.harness_host_id.clone(),
            boot_id: m.harness_boot_id.clone(),
            pid: m.harness_pid,
            started_at: m.harness_process_started_at,
        },
    }
}

/// A new member row for `caller` with the caller's metadata.
pub fn new_member(room_id: &str, ordinal: i64, now: i64, caller: &Caller) -> Member {
    let md = &caller.metadata;
    Member {
        room_id: room_id.to_string(),
        agent_id: caller.agent_id.clone(),
        ordinal,
        joined_at: now,
        last_seen_at: now,
        last_wait_at: Some(now),
        session_kind: md.session_kind.clone(),
        display_name: md.display_name.clone(),
        host_id: md.host_id.clone(),
        boot_id: md.boot_id.clone(),
        pid: md.pid,
        process_started_at: md.process_started_at,
        harness_name: md.harness_name.clone(),
        harness_session_id: md.harness_session_id.clone(),
        harness_host_id: md.harness_host_id.clone(),
        harness_boot_id: md.harness_boot_id.clone(),
        harness_pid: md.harness_pid,
        harness_process_started_at: md.harness_process_started_at,
        last_park_hint_event_seq: None,
    }
}

/// The service of one `tt` invocation.
pub struct Service {
    /// The database.
    pub store: Store,
    /// Effective settings.
    pub settings: Settings,
    /// The protocol clock.
    pub clock: Clock,
    /// Liveness probes.
    pub liveness: Liveness,
    /// Policy slots.
    pub policies: Policies,
    /// The data directory (wake sockets live under it).
    pub data_dir: PathBuf,
    /// `$HOME`, for ancestor walks (§9.4).
    pub home: Option<PathBuf>,
    /// What the host-lock check of this command found (host-lock.md §5.2).
    pub host_lock: crate::lock::LockState,
    /// A reading command under a foreign host lock (host-lock.md §8.2): nothing is
    /// written, no presence refresh, no purge; [`Service::write`] refuses.
    pub read_only: bool,
}

/// Transactions run by this process, for benchmarks (idle-waiter cost, W2 of §17.8).
static TRANSACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many transactions ([`Service::read`] and [`Service::write`]) this process has run.
pub fn transactions() -> u64 {
    TRANSACTIONS.load(std::sync::atomic::Ordering::Relaxed)
}

impl Service {
    /// `now()` in ms.
    pub fn now(&self) -> i64 {
        ms(self.clock.now_ms())
    }

    /// Run `f` in one `BEGIN IMMEDIATE` transaction with fresh [`Deps`].
    ///
    /// `Deps::now` is read once the write lock is held, not before `BEGIN IMMEDIATE`: a
    /// transaction that waited for the lock (up to `busy_timeout_ms`) decides expiry,
    /// stamps leases and presence, and dates its events with the time it actually runs
    /// at. So events commit in `created_at` order along `event_seq`, and a grant made
    /// after a wait for the lock still gets a full `owner_lease_ttl_ms` (found by the
    /// chaos harness, `docs/RELIABILITY.md`).
    ///
    /// Errors: `host_lock_conflict` in a read-only service (host-lock.md §8.2; reading
    /// commands skip their presence refresh and purge there, so this is a last guard),
    /// or whatever the transaction returns.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx<'_>, &mut Deps<'_>) -> Result<T, TtError>) -> Result<T, TtError> {
        if self.read_only {
            return Err(TtError::new(
                ErrorCode::HostLockConflict,
                "this command runs read-only because the data directory belongs to another host",
            )
            .hint(crate::lock::CONFLICT_HINT));
        }
        let Service { store, settings, clock, liveness, policies, .. } = self;
        TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        store.write(|tx| {
            let now = ms(clock.now_ms());
            let mut deps = Deps { settings, now, liveness, policies };
            f(tx, &mut deps)
        })
    }

    /// Run `f` in one read transaction with fresh [`Deps`].
    pub fn read<T>(&mut self, f: impl FnOnce(&Tx<'_>, &mut Deps<'_>) -> Result<T, TtError>) -> Result<T, TtError> {
        let now = self.now();
        let Service { store, settings, liveness, policies, .. } = self;
        let mut deps = Deps { settings, now, liveness, policies };
        TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        store.read(|tx| f(tx, &mut deps))
    }

    /// Wake the waiters of `room_id` after a commit (§17.8).
    pub fn notify(&self, room_id: &str) {
        crate::wake::notify(&self.data_dir, room_id);
    }

    /// Warm the liveness cache for the given members outside any transaction (§20.5).
    pub fn warm(&mut self, members: &[Member]) {
        for m in members {
            let _ = self.liveness.member_verdict(&m.agent_id, &processes(m));
        }
    }

    /// Load the policy modules before a transaction that may consult them (§20.5).
    pub fn preload_policies(&mut self) {
        self.policies.preload();
    }
}

/// `room_not_found` with the message of cli.md §4.12.
pub fn room_not_found() -> TtError {
    TtError::new(ErrorCode::RoomNotFound, "No room found for this path. Run `tt join` first.")
}

/// The room, or `room_not_found`.
pub fn need_room(tx: &Tx<'_>, room_id: &str) -> Result<Room, TtError> {
    tx.room(room_id)?.ok_or_else(room_not_found)
}

/// `unknown_member` for the caller, with `details.agent_id`.
pub fn not_a_member(agent_id: &str, message: &str) -> TtError {
    TtError::new(ErrorCode::UnknownMember, message).with("agent_id", agent_id)
}
