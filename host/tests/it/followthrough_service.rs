//! Follow-through scenarios at service level with a frozen injected clock
//! (follow-through.md §11): the exact expiry boundary of scenario 7, the retained and
//! relinquished cases of scenario 19, and the supersession of scenario 20. The CLI
//! versions of these scenarios drive the real `tt` binary in `followthrough_inherit.rs`
//! and `followthrough_record.rs`.

use serde_json::json;
use std::path::Path;
use stick::clock::Clock;
use stick::env::Env;
use stick::identity::ProcessMetadata;
use stick::liveness::{Liveness, Machine};
use stick::lock::{LockState, Proceed};
use stick::policy::{Limits, Policies, PolicyConfig};
use stick::service::commitments::{Observation, Observed, Recorded, Source};
use stick::service::turn::{GrantReason, Mode, PollResult, PollState};
use stick::service::{Caller, Service};
use stick::settings::Settings;
use stick::store::{Commitment, EventFilter, Store};
use stick::workspace::Resolved;
use stick_policy::types::{ActionVerb, Claim};

const T: u64 = 1_790_000_000_000;

/// `(event_type, from_agent_id, to_agent_id, reason)` of one event.
type Ev = (String, Option<String>, Option<String>, Option<String>);

struct Fx {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    project: std::path::PathBuf,
    liveness: std::path::PathBuf,
    svc: Service,
}

impl Fx {
    fn new(settings: &str, live: &[(&str, &str)]) -> Fx {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        let liveness = dir.path().join("liveness.json");
        let map: serde_json::Map<String, serde_json::Value> =
            live.iter().map(|(a, v)| ((*a).to_owned(), json!(v))).collect();
        std::fs::write(&liveness, serde_json::to_vec(&map).unwrap()).unwrap();
        let settings = Settings::load(Path::new("/nonexistent/settings.toml"), Some(settings)).unwrap();
        let svc = service(&data, &liveness, settings);
        Fx { _dir: dir, data, project, liveness, svc }
    }

    fn at(&mut self, t: u64) -> &mut Service {
        self.svc.clock = Clock::frozen(t);
        &mut self.svc
    }

    fn set_live(&mut self, live: &[(&str, &str)]) {
        let map: serde_json::Map<String, serde_json::Value> =
            live.iter().map(|(a, v)| ((*a).to_owned(), json!(v))).collect();
        std::fs::write(&self.liveness, serde_json::to_vec(&map).unwrap()).unwrap();
        // A fresh liveness cache reads the file again.
        let settings = self.svc.settings.clone();
        let clock = self.svc.clock.clone();
        self.svc = service(&self.data, &self.liveness, settings);
        self.svc.clock = clock;
    }

    fn resolved(&self) -> Resolved {
        Resolved {
            requested_path: self.project.clone(),
            context_path: self.project.clone(),
            workspace_root: self.project.clone(),
        }
    }

    fn join(&mut self, t: u64, who: &Caller) -> String {
        let r = self.resolved();
        self.at(t).join(who, &r, false).unwrap().room.room_id
    }

    fn poll(&mut self, t: u64, room: &str, who: &Caller) -> PollResult {
        self.at(t).poll(room, who, Mode::Active, false, &mut PollState::default()).unwrap()
    }

    fn observe(&mut self, t: u64, room: &str, who: &Caller, verb: ActionVerb, matched: &str) -> Observed {
        let claim = Claim { verb, matched: matched.to_owned() };
        self.at(t)
            .observe(&Observation {
                room_id: room,
                agent_id: &who.agent_id,
                topic: None,
                text: matched,
                claim: Some(&claim),
                source: Source::Observe,
                guard: None,
            })
            .unwrap()
    }

    fn all(&mut self, t: u64, room: &str) -> Vec<Commitment> {
        self.at(t).list_commitments(room, "nobody", true).unwrap().commitments
    }

    fn event_types(&mut self, room: &str) -> Vec<Ev> {
        self.svc
            .read(|tx, _| tx.events_after(&EventFilter::room(room, 0), 500))
            .unwrap()
            .into_iter()
            .map(|e| (e.event_type, e.from_agent_id, e.to_agent_id, e.reason))
            .collect()
    }
}

fn service(data: &Path, liveness: &Path, settings: Settings) -> Service {
    let env = Env::from_pairs([("TT_HOST_ID".to_owned(), "test-host".to_owned())]);
    let clock = Clock::frozen(T);
    Service {
        store: Store::open(data, 5_000).unwrap(),
        liveness: Liveness::new(Machine::detect(&env), Some(liveness.to_path_buf()), 0).unwrap(),
        policies: Policies::new(PolicyConfig {
            modules: Vec::new(),
            cache_dir: Some(data.join("cache").join("policy")),
            limits: Limits { fuel: settings.policy_fuel, memory_bytes: settings.policy_memory_bytes },
            forced_faults: Vec::new(),
            fault_log: None,
            clock: clock.clone(),
        }),
        settings,
        clock,
        data_dir: data.to_path_buf(),
        home: None,
        host_lock: LockState::Owned { outcome: Proceed::Absent, record: None, heartbeat_age_ms: None },
        read_only: false,
    }
}

fn human(id: &str) -> Caller {
    Caller {
        agent_id: id.to_owned(),
        metadata: ProcessMetadata { session_kind: "human_cli".into(), ..Default::default() },
    }
}

fn registered(o: &Observed) -> (Commitment, bool) {
    match o {
        Observed::Recorded { recorded: Recorded::Registered { commitment, deduplicated }, .. } => {
            ((**commitment).clone(), *deduplicated)
        }
        other => panic!("not registered: {other:?}"),
    }
}

#[test]
fn ft07_expiry_boundary_at_service_level() {
    let mut fx = Fx::new("{}", &[("agent:a", "alive")]);
    let a = human("agent:a");
    let room = fx.join(T, &a);
    let (first, dedup) = registered(&fx.observe(T, &room, &a, ActionVerb::Restart, "I'll restart"));
    assert!(!dedup);
    let e = u64::try_from(first.expires_at).unwrap();
    assert_eq!(e, T + 21_600_000);
    // At exactly expires_at the commitment is still open: the same one comes back.
    let (same, dedup) = registered(&fx.observe(e, &room, &a, ActionVerb::Restart, "Restarting it"));
    assert!(dedup);
    assert_eq!(same, first, "a restatement changes nothing");
    // One millisecond later a read already derives `expired`, without writing.
    let read = fx.all(e + 1, &room);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].status, "expired");
    assert_eq!(read[0].resolved_at, Some(first.expires_at));
    let stored = fx.svc.read(|tx, _| tx.commitment(first.seq)).unwrap().unwrap();
    assert_eq!(stored.status, "pending", "reads never write");
    // A record at expires_at + 1 sweeps the old row and creates a new one.
    let (new, dedup) = registered(&fx.observe(e + 1, &room, &a, ActionVerb::Restart, "I'll restart"));
    assert!(!dedup);
    assert_eq!(new.seq, first.seq + 1);
    assert_eq!(new.external_key, first.external_key);
    let old = fx.svc.read(|tx, _| tx.commitment(first.seq)).unwrap().unwrap();
    assert_eq!(
        (old.status.as_str(), old.resolved_at, old.resolution.as_deref()),
        ("expired", Some(first.expires_at), Some("expired"))
    );
}

#[test]
fn ft19_relinquish_at_service_level() {
    let mut fx = Fx::new(
        r#"{"heartbeat_interval_ms":1000,"gone_grace_ms":2000}"#,
        &[("agent:a", "alive"), ("agent:b", "alive")],
    );
    let (a, b) = (human("agent:a"), human("agent:b"));
    let room = fx.join(T, &a);
    fx.join(T, &b);
    let PollResult::YourTurn { turn_id, lease_id, .. } = fx.poll(T, &room, &a) else { panic!("no grant") };
    assert_eq!(turn_id, 1);
    let (c1, _) = registered(&fx.observe(T, &room, &a, ActionVerb::Restart, "I'll restart"));
    let (c2, _) = registered(&fx.observe(T, &room, &a, ActionVerb::Push, "I'll push"));
    fx.set_live(&[("agent:a", "gone"), ("agent:b", "alive")]);
    // 1 500 ms of silence: within the grace, retained; nothing moves.
    assert_eq!(fx.at(T + 1_500).relinquish(&room, "agent:a", &lease_id, turn_id).unwrap(), "retained");
    assert!(fx.all(T + 1_500, &room).iter().all(|c| c.agent_id.as_deref() == Some("agent:a")));
    assert!(!fx.event_types(&room).iter().any(|e| e.0 == "commitments_inherited"));
    // Past the grace: relinquished, then the move to the room.
    assert_eq!(fx.at(T + 2_001).relinquish(&room, "agent:a", &lease_id, turn_id).unwrap(), "relinquished");
    let evs = fx.event_types(&room);
    let tail = &evs[evs.len() - 2..];
    assert_eq!(tail[0], ("release".into(), Some("agent:a".into()), None, Some("harness_gone".into())));
    assert_eq!(tail[1], ("commitments_inherited".into(), Some("agent:a".into()), None, Some("harness_gone".into())));
    assert!(fx.all(T + 2_001, &room).iter().all(|c| c.agent_id.is_none()));
    // B's poll is granted the turn with both commitments.
    match fx.poll(T + 2_002, &room, &b) {
        PollResult::YourTurn { reason: GrantReason::OpenClaim, turn_id: 2, inherited, from_agent_id: None, .. } => {
            assert_eq!(inherited.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![c1.seq, c2.seq]);
            assert!(inherited.iter().all(|c| c.inherited_from_agent_id.as_deref() == Some("agent:a")
                && c.agent_id.as_deref() == Some("agent:b")
                && c.attached_turn_id == Some(2)));
        }
        other => panic!("B was not granted: {other:?}"),
    }
}

fn codex(session: &str) -> Caller {
    let id = if session.starts_with("pid:") { "codex:old00000" } else { "codex:new00000" };
    Caller {
        agent_id: id.to_owned(),
        metadata: ProcessMetadata {
            session_kind: "harness_cli".into(),
            display_name: Some("codex".into()),
            harness_name: Some("codex".into()),
            harness_session_id: Some(session.to_owned()),
            harness_host_id: Some("test-host".into()),
            harness_pid: Some(4242),
            harness_process_started_at: Some(1_789_999_000),
            ..Default::default()
        },
    }
}

#[test]
fn ft20_supersession_at_service_level() {
    let mut fx = Fx::new("{}", &[("codex:old00000", "alive"), ("codex:new00000", "alive")]);
    let old = codex("pid:4242@1789999000");
    let new = codex("harness:thread-9");
    let room = fx.join(T, &old);
    assert!(matches!(fx.poll(T, &room, &old), PollResult::YourTurn { turn_id: 1, .. }));
    let (c1, _) = registered(&fx.observe(T, &room, &old, ActionVerb::Restart, "I'll restart"));
    fx.join(T + 10, &new);
    let evs = fx.event_types(&room);
    let kinds: Vec<&str> = evs.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(kinds[kinds.len() - 2..], ["session_superseded", "commitments_inherited"], "{evs:?}");
    assert_eq!(evs.last().unwrap().3.as_deref(), Some("session_superseded"));
    match fx.poll(T + 20, &room, &new) {
        PollResult::YourTurn { turn_id: 2, inherited, .. } => {
            assert_eq!(inherited.len(), 1);
            assert_eq!(inherited[0].seq, c1.seq);
            assert_eq!(inherited[0].inherited_from_agent_id.as_deref(), Some("codex:old00000"));
            assert_eq!(inherited[0].inherit_reason.as_deref(), Some("session_superseded"));
        }
        other => panic!("the new session was not granted: {other:?}"),
    }
}
