//! Crash consistency (`--crash`): SIGKILL real `tt` processes at random points of their write
//! commands, then check what must survive (protocol.md §20.7, cli.md §3, design.md habit 15).
//!
//! One room, three agents (`--agent crash:a|b|c`). A single driver runs one command at a time:
//! `tt release` or `tt pass` by the holder, `tt msg send` or `tt claim observe` by any member, and
//! `tt try` when nobody holds the stick. A command is killed with probability `--kill-p`, after a
//! delay drawn uniformly from `[0, 1.2 × its median unkilled duration]`, so kills land anywhere from
//! process start to exit: before the transaction, inside it, after the commit while the session file
//! is being rewritten, while printing.
//!
//! Checked after every acknowledged command (exit 0 with its JSON printed):
//! * A1: a release or pass left no lease on the caller's `cli-sessions.json` row; a grant recorded its
//!   lease and guardian there.
//!
//! Checked at every checkpoint (every `--check-every` kills, after the guardians' heartbeat settled) and
//! at the end:
//! * C1 `PRAGMA integrity_check` is `ok` and `PRAGMA foreign_key_check` is empty;
//! * C2 no acknowledged event is lost: every printed `event_seq` of a release, pass or message is in
//!   `room_events` with its type, sender and the command's unique marker; every printed grant's claim
//!   event is there; every printed commitment id is in `commitments` with its unique topic;
//! * C3 turn ids strictly increase: the claim/takeover events carry turns 1, 2, 3, … in `event_seq`
//!   order, the room's `turn_id` is the last of them, every release/pass ends the current turn once,
//!   by its holder, and `event_seq` has no gaps (no room is ever deleted here, and a rolled-back
//!   insert does not consume an AUTOINCREMENT value);
//! * C4 the room row satisfies protocol.md §5.1 (state ↔ owner, lease, reservation, pending handoff)
//!   and its owner and recipient are members;
//! * C5 `cli-sessions.json` is consistent (cli.md §3): it parses as a JSON array (no
//!   `cli-sessions.json.corrupt-*` was ever made, so no torn write was seen), one row per (agent,
//!   room), every cursor ≤ the largest `event_seq`, every recorded lease was granted to that agent for
//!   that turn (a claim/takeover event), and when the DB's owner has a row for the current turn it
//!   carries the DB's `lease_id`; leftover temp files belong to killed processes only;
//! * C6 guardians are consistent (protocol.md §16): every running guardian guards the current lease
//!   (owner, lease id, turn); a guardian whose lease ended exits at its next heartbeat.
//!
//! A leftover `cli-sessions.json.lock` (a writer killed inside the lock) is counted, then aged by 31 s
//! (its mtime set back) instead of waiting 30 s, so the next writer removes it as stale (cli.md §3.5).
//! At the end the owner (if any) repairs its guardian with `tt try` (`already_owner`) and releases;
//! then no guardian may be left and no row may hold a lease.

use crate::common::{
    Rng, all_events, guardians_of, i64_of, integrity, make_project, open_db, room_row, run_tt, scrub_env, signal_pid,
    sleep_ms, str_of,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

#[derive(Clone, Debug)]
pub struct CrashOpts {
    pub kills: u64,
    pub kill_p: f64,
    pub check_every: u64,
    pub seed: u64,
    pub tt: PathBuf,
}

const AGENTS: [&str; 3] = ["crash:a", "crash:b", "crash:c"];
const HEARTBEAT_MS: u64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Cmd {
    Release,
    Pass,
    Msg,
    Observe,
    Try,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Release => "release",
            Cmd::Pass => "pass",
            Cmd::Msg => "msg send",
            Cmd::Observe => "claim observe",
            Cmd::Try => "try",
        }
    }
}

/// What an acknowledged command promised to be durable.
#[derive(Clone, Debug)]
enum Ack {
    Event { seq: i64, kind: &'static str, from: String, marker: String },
    Grant { turn: i64, agent: String },
    Commitment { id: String, topic: String },
}

#[derive(Default, Debug)]
pub struct CrashReport {
    pub commands: BTreeMap<&'static str, u64>,
    pub kills: BTreeMap<&'static str, u64>,
    /// Per command: killed before its commit / after its commit / after it had already exited.
    pub outcomes: BTreeMap<(&'static str, &'static str), u64>,
    pub acked: u64,
    pub locks_left: u64,
    pub locks_unmarked: u64,
    pub slowest_ms: u64,
    pub tmp_left: u64,
    /// Side directories of the session lock (staged or released) at the last checkpoint.
    pub side_left: u64,
    pub stale_rows_seen: u64,
    pub stale_rows_cleared: u64,
    pub unguarded_owner: u64,
    pub repairs: u64,
    pub checkpoints: u64,
    pub elapsed: Duration,
    pub problems: Vec<String>,
}

impl CrashReport {
    fn problem(&mut self, p: String) {
        if self.problems.len() < 200 {
            self.problems.push(p);
        }
    }

    pub fn total_kills(&self) -> u64 {
        self.kills.values().sum()
    }

    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    pub fn print(&self) {
        let per =
            |m: &BTreeMap<&'static str, u64>| m.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
        println!(
            "crash: {} commands ({}), {} killed ({})",
            self.commands.values().sum::<u64>(),
            per(&self.commands),
            self.total_kills(),
            per(&self.kills)
        );
        let mut by_cmd: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for ((cmd, outcome), n) in &self.outcomes {
            by_cmd.entry(cmd).or_default().push(format!("{n} {outcome}"));
        }
        for (cmd, list) in by_cmd {
            println!("  outcomes       {cmd}: {}", list.join(", "));
        }
        println!(
            "  left behind    {} session locks of writers killed inside them (broken at once by the next writer; slowest command {} ms), {} unmarked (aged past 30 s), {} temp files and {} lock side directories of killed writers; stale lease rows: {} seen at checkpoints, {} cleared at the end; {} grants left without a guardian; {} repairs by the owner's `tt try`",
            self.locks_left,
            self.slowest_ms,
            self.locks_unmarked,
            self.tmp_left,
            self.side_left,
            self.stale_rows_seen,
            self.stale_rows_cleared,
            self.unguarded_owner,
            self.repairs
        );
        println!(
            "  checks         {} acknowledged commands verified at {} checkpoints: integrity, no acknowledged event lost, turn ids strictly increasing, room invariants, cli-sessions.json, guardians",
            self.acked, self.checkpoints
        );
        for p in &self.problems {
            println!("  PROBLEM: {p}");
        }
        println!("  total time {:.1} s", self.elapsed.as_secs_f64());
    }
}

struct Driver {
    o: CrashOpts,
    data: PathBuf,
    project: PathBuf,
    rng: Rng,
    acks: Vec<Ack>,
    durations: BTreeMap<Cmd, Vec<u64>>,
    killed_pids: BTreeSet<i32>,
    counter: u64,
    r: CrashReport,
    room_id: String,
}

pub fn run(o: &CrashOpts, root: &Path) -> CrashReport {
    let started = Instant::now();
    let data = root.join("crash").join("data");
    let project = root.join("crash").join("project");
    let mut d = Driver {
        o: o.clone(),
        data,
        project,
        rng: Rng::new(o.seed),
        acks: Vec::new(),
        durations: BTreeMap::new(),
        killed_pids: BTreeSet::new(),
        counter: 0,
        r: CrashReport::default(),
        room_id: String::new(),
    };
    if let Err(e) = d.drive() {
        d.r.problem(e);
    }
    let left = crate::common::settle_guardians(&d.project, Duration::from_secs(3));
    if !left.is_empty() {
        d.r.problem(format!("{} guardian(s) still ran after the final release: {left:?}", left.len()));
    }
    d.r.elapsed = started.elapsed();
    d.r
}

impl Driver {
    fn cmd(&self, agent: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.o.tt);
        scrub_env(&mut cmd);
        cmd.env("TT_DATA_DIR", &self.data)
            .env("TT_SETTINGS", settings())
            .current_dir(&self.project)
            .args(["--agent", agent, "--json"])
            .args(args);
        cmd
    }

    fn tt(&self, agent: &str, args: &[&str]) -> crate::common::TtOut {
        run_tt(self.cmd(agent, args))
    }

    fn drive(&mut self) -> Result<(), String> {
        fs::create_dir_all(&self.data).map_err(|e| e.to_string())?;
        make_project(&self.project)?;
        self.project = fs::canonicalize(&self.project).map_err(|e| e.to_string())?;
        for a in AGENTS {
            let out = self.tt(a, &["join"]);
            let v = out
                .json()
                .filter(|_| out.ok())
                .ok_or_else(|| format!("`tt join` as {a} failed: {}", out.stderr.trim()))?;
            self.room_id = str_of(&v, "room_id").to_owned();
        }
        let mut next_check = self.o.check_every;
        while self.r.total_kills() < self.o.kills {
            self.step()?;
            if self.r.total_kills() >= next_check {
                next_check += self.o.check_every;
                self.checkpoint();
            }
        }
        self.finish();
        self.checkpoint();
        Ok(())
    }

    fn room(&self) -> Result<crate::common::RoomRow, String> {
        let conn = open_db(&self.data)?;
        room_row(&conn)?.ok_or_else(|| "the room is gone".to_owned())
    }

    /// One command, maybe killed.
    fn step(&mut self) -> Result<(), String> {
        let room = self.room()?;
        let other = |rng: &mut Rng, not: &str| {
            let others: Vec<&str> = AGENTS.iter().copied().filter(|a| *a != not).collect();
            others[rng.below(others.len() as u64) as usize].to_owned()
        };
        let anyone = AGENTS[self.rng.below(3) as usize].to_owned();
        self.counter += 1;
        let marker = format!("crash-{}-{}", self.o.seed, self.counter);
        let (cmd, agent, args): (Cmd, String, Vec<String>) = match &room.owner {
            None => {
                let who = room.reserved_for.clone().unwrap_or(anyone);
                (Cmd::Try, who, vec!["try".into()])
            }
            Some(owner) => match self.rng.below(10) {
                0..=2 => (
                    Cmd::Release,
                    owner.clone(),
                    vec![
                        "release".into(),
                        "--status".into(),
                        marker.clone(),
                        "--next-action".into(),
                        "crash test: carry on".into(),
                    ],
                ),
                3..=5 => {
                    let to = other(&mut self.rng, owner);
                    (
                        Cmd::Pass,
                        owner.clone(),
                        vec![
                            "pass".into(),
                            to,
                            "--status".into(),
                            marker.clone(),
                            "--next-action".into(),
                            "crash test: carry on".into(),
                        ],
                    )
                }
                6..=7 => (Cmd::Msg, anyone, vec!["msg".into(), "send".into(), "room".into(), marker.clone()]),
                _ => (
                    Cmd::Observe,
                    anyone,
                    vec![
                        "claim".into(),
                        "observe".into(),
                        "--topic".into(),
                        marker.clone(),
                        "--text".into(),
                        "I'll restart the server now.".into(),
                    ],
                ),
            },
        };
        *self.r.commands.entry(cmd.name()).or_default() += 1;
        let row_before_stale = {
            let rows = self.session_rows();
            let row = rows.iter().find(|r| str_of(r, "agent_id") == agent && str_of(r, "room_id") == self.room_id);
            row.is_some_and(|r| {
                r.get("lease_id").and_then(Value::as_str) != room.lease_id.as_deref()
                    || r.get("turn_id").and_then(Value::as_i64) != Some(room.turn_id)
            })
        };
        let kill = self.rng.chance(self.o.kill_p);
        let typical = self.typical(cmd);
        let delay = self.rng.range(0, typical * 12 / 10);
        let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = self
            .cmd(&agent, &args_ref)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run tt: {e}"))?;
        let pid = i32::try_from(child.id()).unwrap_or(0);
        let began = Instant::now();
        if kill {
            sleep_until(began + Duration::from_millis(delay));
            // The child is not reaped before this point, so its pid cannot have been reused.
            if matches!(child.try_wait(), Ok(None)) {
                signal_pid(pid, rustix::process::Signal::KILL);
            }
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let took = u64::try_from(began.elapsed().as_millis()).unwrap_or(0);
        let code = out.status.code();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // A kill counts when the process died of it (not when it had exited just before).
        let killed = out.status.signal() == Some(9);
        if killed {
            *self.r.kills.entry(cmd.name()).or_default() += 1;
            self.killed_pids.insert(pid);
        } else if kill {
            *self.r.outcomes.entry((cmd.name(), "exited before the kill")).or_default() += 1;
        }
        if code.is_some() && !kill {
            self.durations.entry(cmd).or_default().push(took);
            self.r.slowest_ms = self.r.slowest_ms.max(took);
        }
        let json: Option<Value> = if code == Some(0) { serde_json::from_str(&stdout).ok() } else { None };
        match (&json, code) {
            (Some(v), Some(0)) => self.acknowledge(cmd, &agent, &marker, v, &room)?,
            (_, None) if killed => self.classify_kill(cmd, &agent, &marker, &room)?,
            (_, None) => self.r.problem(format!("`tt {}` as {agent} died of {:?}", args.join(" "), out.status)),
            (_, Some(c)) => {
                let err = serde_json::from_str::<Value>(stderr.lines().last().unwrap_or("")).ok();
                let code_text = err.as_ref().map(|e| str_of(e, "error").to_owned()).unwrap_or_default();
                let handover = matches!(cmd, Cmd::Release | Cmd::Pass) && room.owner.as_deref() == Some(agent.as_str());
                match code_text.as_str() {
                    // The owner's row holds no lease: its grant was killed before recording it, or a
                    // refused release cleared a stale one. The documented repair is the owner's next
                    // `tt try` (already_owner, protocol.md §16.5).
                    "no_active_lease" if handover => {
                        *self
                            .r
                            .outcomes
                            .entry((cmd.name(), "refused: no lease on the row (earlier kill)"))
                            .or_default() += 1;
                        self.repair(&agent);
                    }
                    // The row holds the lease of an earlier turn: the command that should have
                    // replaced or cleared it was killed. The refusal clears the row (cli.md §3.3).
                    "turn_mismatch" | "stale_lease" if handover && row_before_stale => {
                        *self
                            .r
                            .outcomes
                            .entry((cmd.name(), "refused: stale lease on the row (earlier kill)"))
                            .or_default() += 1;
                        self.repair(&agent);
                    }
                    _ => self.r.problem(format!("`tt {}` as {agent} exited {c}: {}", args.join(" "), stderr.trim())),
                }
            }
        }
        self.after_command(cmd);
        Ok(())
    }

    /// The owner's `tt try`: must answer `already_owner` and record the lease and a live guardian.
    fn repair(&mut self, agent: &str) {
        self.r.repairs += 1;
        let rep = self.tt(agent, &["try"]);
        let v = rep.json().filter(|_| rep.ok());
        if v.as_ref().map(|v| str_of(v, "reason")) != Some("already_owner") {
            self.r.problem(format!(
                "repair `tt try` by the owner {agent} did not answer already_owner: {} {}",
                rep.stdout.trim(),
                rep.stderr.trim()
            ));
        }
    }

    fn typical(&self, cmd: Cmd) -> u64 {
        let Some(v) = self.durations.get(&cmd).filter(|v| v.len() >= 3) else { return 40 };
        let mut v = v.clone();
        v.sort_unstable();
        v[v.len() / 2].max(5)
    }

    /// A session lock left by a killed writer: with its owner marker (the writer died inside
    /// the lock) the next writer must break it at once (a stall or a `storage_error` would show as
    /// a problem); without one (killed between `mkdir` and the marker) only the 30 s rule of
    /// cli.md §3.5 applies, so the harness ages it by 31 s instead of waiting.
    fn after_command(&mut self, cmd: Cmd) {
        let lock = self.data.join("cli-sessions.json.lock");
        let Ok(entries) = fs::read_dir(&lock) else { return };
        let marked = entries.flatten().any(|e| e.file_name().to_string_lossy().starts_with("owner-"));
        if marked {
            self.r.locks_left += 1;
        } else {
            self.r.locks_unmarked += 1;
            *self.r.outcomes.entry((cmd.name(), "left an unmarked session lock")).or_default() += 1;
            let old = SystemTime::now() - Duration::from_secs(31);
            if let Err(e) = fs::File::open(&lock).and_then(|f| f.set_modified(old)) {
                self.r.problem(format!("cannot age the leftover session lock: {e}"));
            }
        }
    }

    fn acknowledge(
        &mut self,
        cmd: Cmd,
        agent: &str,
        marker: &str,
        v: &Value,
        before: &crate::common::RoomRow,
    ) -> Result<(), String> {
        self.r.acked += 1;
        let rows = self.session_rows();
        let row = rows.iter().find(|r| str_of(r, "agent_id") == agent && str_of(r, "room_id") == self.room_id);
        match cmd {
            Cmd::Release | Cmd::Pass => {
                let kind = if cmd == Cmd::Release { "release" } else { "pass" };
                self.acks.push(Ack::Event {
                    seq: i64_of(v, "event_seq"),
                    kind,
                    from: agent.to_owned(),
                    marker: marker.to_owned(),
                });
                if row.is_some_and(|r| r.get("lease_id").is_some()) {
                    self.r.problem(format!("A1: acknowledged {kind} by {agent} left a lease on its session row"));
                }
            }
            Cmd::Msg => self.acks.push(Ack::Event {
                seq: i64_of(v, "event_seq"),
                kind: "message_sent",
                from: agent.to_owned(),
                marker: marker.to_owned(),
            }),
            Cmd::Observe => {
                if v.get("registered").and_then(Value::as_bool) == Some(true) {
                    self.acks
                        .push(Ack::Commitment { id: str_of(v, "commitment_id").to_owned(), topic: marker.to_owned() });
                }
            }
            Cmd::Try => {
                if str_of(v, "status") == "your_turn" {
                    let turn = i64_of(v, "turn_id");
                    if str_of(v, "reason") != "already_owner" {
                        self.acks.push(Ack::Grant { turn, agent: agent.to_owned() });
                    }
                    let recorded = row.is_some_and(|r| {
                        str_of(r, "lease_id") == str_of(v, "lease_id")
                            && i64_of(r, "guardian_pid") == i64_of(v, "guardian_pid")
                    });
                    if !recorded {
                        self.r.problem(format!(
                            "A1: acknowledged grant of turn {turn} to {agent} is not recorded on its session row"
                        ));
                    }
                } else if before.reserved_for.as_deref() == Some(agent) {
                    self.r.problem(format!(
                        "`tt try` by the reserved recipient {agent} answered {}",
                        str_of(v, "status")
                    ));
                }
            }
        }
        Ok(())
    }

    /// Where a kill landed, judged from the database and the session file afterwards.
    fn classify_kill(
        &mut self,
        cmd: Cmd,
        agent: &str,
        marker: &str,
        before: &crate::common::RoomRow,
    ) -> Result<(), String> {
        let conn = open_db(&self.data)?;
        let committed = match cmd {
            Cmd::Release | Cmd::Pass | Cmd::Msg => {
                let events = all_events(&conn)?;
                events.iter().any(|e| {
                    e.handoff.as_deref().is_some_and(|h| h.contains(marker))
                        || e.payload.as_deref().is_some_and(|p| p.contains(marker))
                })
            }
            Cmd::Observe => {
                conn.query_row("SELECT COUNT(*) FROM commitments WHERE topic = ?1", [marker], |r| r.get::<_, i64>(0))
                    .map_err(|e| e.to_string())?
                    > 0
            }
            Cmd::Try => room_row(&conn)?.is_some_and(|r| r.turn_id > before.turn_id),
        };
        drop(conn);
        let outcome: &'static str = if !committed {
            "before the commit"
        } else {
            let rows = self.session_rows();
            let row = rows.iter().find(|r| str_of(r, "agent_id") == agent && str_of(r, "room_id") == self.room_id);
            match cmd {
                Cmd::Release | Cmd::Pass => {
                    if row.is_some_and(|r| r.get("lease_id").is_some()) {
                        "after the commit, lease row not yet cleared"
                    } else {
                        "after the commit and the session write"
                    }
                }
                Cmd::Try => {
                    let room = self.room()?;
                    let lease = room.lease_id.clone().unwrap_or_default();
                    let guarded = guardians_of(&self.project).iter().any(|g| g.lease_id == lease);
                    let recorded = row.is_some_and(|r| str_of(r, "lease_id") == lease);
                    match (guarded, recorded) {
                        (false, _) => {
                            self.r.unguarded_owner += 1;
                            "after the commit, before the guardian started"
                        }
                        (true, false) => "after the guardian started, before the session write",
                        (true, true) => "after the session write",
                    }
                }
                _ => "after the commit",
            }
        };
        *self.r.outcomes.entry((cmd.name(), outcome)).or_default() += 1;
        Ok(())
    }

    fn session_rows(&self) -> Vec<Value> {
        fs::read(self.data.join("cli-sessions.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// At the end: the owner repairs its guardian and releases; another agent takes a turn and
    /// releases. The system must be fully usable after every kill.
    fn finish(&mut self) {
        let Ok(room) = self.room() else { return };
        if let Some(owner) = room.owner.clone() {
            let t = self.tt(&owner, &["try"]);
            if t.json().filter(|_| t.ok()).is_none_or(|v| str_of(&v, "reason") != "already_owner") {
                self.r.problem(format!("final `tt try` by the owner {owner}: {} {}", t.stdout.trim(), t.stderr.trim()));
            }
            let rel = self.tt(&owner, &["release", "--status", "final", "--next-action", "none"]);
            if !rel.ok() {
                self.r.problem(format!("final release by {owner} failed: {}", rel.stderr.trim()));
            }
        }
        let Ok(room) = self.room() else { return };
        let next = room.reserved_for.clone().unwrap_or_else(|| AGENTS[0].to_owned());
        let t = self.tt(&next, &["try"]);
        if t.json().filter(|_| t.ok()).is_none_or(|v| str_of(&v, "status") != "your_turn") {
            self.r.problem(format!("`tt try` after the run: {} {}", t.stdout.trim(), t.stderr.trim()));
        }
        let rel = self.tt(&next, &["release", "--status", "done", "--next-action", "none"]);
        if !rel.ok() {
            self.r.problem(format!("release after the run failed: {}", rel.stderr.trim()));
        }
        let left = crate::common::settle_guardians(&self.project, Duration::from_millis(HEARTBEAT_MS * 10));
        if !left.is_empty() {
            self.r
                .problem(format!("C6: {} guardian(s) still ran after every lease was released: {left:?}", left.len()));
        }
        // Rows left holding the lease of an ended turn (their release or pass was killed after the
        // commit) grant nothing (protocol.md §20.6); the agent's next release-type command is refused
        // and clears them (cli.md §3.3).
        for row in self.session_rows() {
            if row.get("lease_id").is_none() {
                continue;
            }
            let agent = str_of(&row, "agent_id").to_owned();
            let out = self.tt(&agent, &["release", "--status", "stale", "--next-action", "none"]);
            let code = out.error_code();
            if out.ok() || !matches!(code.as_str(), "turn_mismatch" | "stale_lease") {
                self.r.problem(format!(
                    "C5: {agent}'s leftover lease row was not refused as stale: {} {}",
                    out.stdout.trim(),
                    out.stderr.trim()
                ));
            }
            self.r.stale_rows_cleared += 1;
        }
        for row in self.session_rows() {
            if row.get("lease_id").is_some() {
                self.r.problem(format!("C5: after the final releases a session row still holds a lease: {row}"));
            }
        }
    }

    fn checkpoint(&mut self) {
        self.r.checkpoints += 1;
        // Let superseded guardians reach their next heartbeat and exit (§16.3 4b).
        sleep_ms(HEARTBEAT_MS * 3);
        if let Err(e) = self.check() {
            self.r.problem(e);
        }
    }

    fn check(&mut self) -> Result<(), String> {
        let conn = open_db(&self.data)?;
        // C1
        if let Err(e) = integrity(&conn) {
            self.r.problem(format!("C1: {e}"));
        }
        let events = all_events(&conn)?;
        let room = room_row(&conn)?.ok_or("C4: the room is gone")?;
        let members: BTreeSet<String> = {
            let mut stmt = conn.prepare("SELECT agent_id FROM room_members").map_err(|e| e.to_string())?;
            stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| e.to_string())?.filter_map(Result::ok).collect()
        };
        let by_seq: BTreeMap<i64, &crate::common::Event> = events.iter().map(|e| (e.seq, e)).collect();
        // C2
        for ack in &self.acks {
            match ack {
                Ack::Event { seq, kind, from, marker } => {
                    let ok = by_seq.get(seq).is_some_and(|e| {
                        e.kind == *kind
                            && e.from.as_deref() == Some(from.as_str())
                            && (e.handoff.as_deref().is_some_and(|h| h.contains(marker.as_str()))
                                || e.payload.as_deref().is_some_and(|p| p.contains(marker.as_str())))
                    });
                    if !ok {
                        self.r
                            .problems
                            .push(format!("C2: acknowledged {kind} event {seq} by {from} ({marker}) is missing"));
                    }
                }
                Ack::Grant { turn, agent } => {
                    if !events.iter().any(|e| {
                        matches!(e.kind.as_str(), "claim" | "takeover")
                            && e.turn_id == *turn
                            && e.to.as_deref() == Some(agent.as_str())
                    }) {
                        self.r
                            .problems
                            .push(format!("C2: acknowledged grant of turn {turn} to {agent} has no claim event"));
                    }
                }
                Ack::Commitment { id, topic } => {
                    let seq: i64 = id.trim_start_matches("CMT-").parse().unwrap_or(-1);
                    let found: Option<String> =
                        conn.query_row("SELECT topic FROM commitments WHERE seq = ?1", [seq], |r| r.get(0)).ok();
                    if found.as_deref() != Some(topic.as_str()) {
                        self.r.problems.push(format!("C2: acknowledged commitment {id} ({topic}) is missing"));
                    }
                }
            }
        }
        // C3
        let mut turn = 0;
        let mut holder: Option<String> = None;
        let mut expected_seq = 1;
        for e in &events {
            if e.seq != expected_seq {
                self.r.problems.push(format!("C3: event_seq jumps from {} to {}", expected_seq - 1, e.seq));
            }
            expected_seq = e.seq + 1;
            match e.kind.as_str() {
                "claim" | "takeover" => {
                    if e.turn_id != turn + 1 {
                        self.r
                            .problems
                            .push(format!("C3: event {}: grant of turn {} after turn {turn}", e.seq, e.turn_id));
                    }
                    if e.kind == "claim" && holder.is_some() {
                        self.r.problems.push(format!("C3: event {}: claim while {holder:?} held turn {turn}", e.seq));
                    }
                    turn = e.turn_id;
                    holder = e.to.clone();
                }
                "release" | "pass" => {
                    if holder.is_none() || e.from != holder || e.turn_id != turn {
                        self.r.problems.push(format!(
                            "C3: event {}: {} of turn {} by {:?}, holder {holder:?} of turn {turn}",
                            e.seq, e.kind, e.turn_id, e.from
                        ));
                    }
                    holder = None;
                }
                _ => {}
            }
        }
        if room.turn_id != turn {
            self.r.problems.push(format!("C3: room turn_id {} but the last grant is turn {turn}", room.turn_id));
        }
        // C4 (protocol.md §5.1)
        let set = |o: &Option<String>| o.is_some();
        let ok = match room.state.as_str() {
            "owned" => {
                set(&room.owner)
                    && set(&room.lease_id)
                    && room.lease_expires_at.is_some()
                    && !set(&room.reserved_for)
                    && room.claim_expires_at.is_none()
                    && room.pending.is_none()
            }
            "reserved" => {
                !set(&room.owner)
                    && !set(&room.lease_id)
                    && room.lease_expires_at.is_none()
                    && set(&room.reserved_for)
                    && room.claim_expires_at.is_some()
                    && room.pending.is_some()
            }
            "idle" => {
                !set(&room.owner)
                    && !set(&room.lease_id)
                    && room.lease_expires_at.is_none()
                    && !set(&room.reserved_for)
                    && room.claim_expires_at.is_none()
            }
            _ => false,
        };
        if !ok {
            self.r.problems.push(format!("C4: room row breaks protocol.md §5.1: {room:?}"));
        }
        for who in [&room.owner, &room.reserved_for].into_iter().flatten() {
            if !members.contains(who) {
                self.r.problems.push(format!("C4: {who} is named by the room but is not a member"));
            }
        }
        if let Some(p) = room.pending
            && !by_seq.get(&p).is_some_and(|e| matches!(e.kind.as_str(), "release" | "pass"))
        {
            self.r.problems.push(format!("C4: pending_handoff_event_seq {p} is not a release or pass"));
        }
        // C5
        let max_seq = events.last().map_or(0, |e| e.seq);
        let text = fs::read(self.data.join("cli-sessions.json")).unwrap_or_default();
        match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Array(rows)) => {
                let mut keys = BTreeSet::new();
                for row in &rows {
                    let agent = str_of(row, "agent_id").to_owned();
                    if agent.is_empty() || str_of(row, "room_id").is_empty() || str_of(row, "canonical_path").is_empty()
                    {
                        self.r.problems.push(format!("C5: invalid row {row}"));
                    }
                    if !keys.insert((agent.clone(), str_of(row, "room_id").to_owned())) {
                        self.r.problems.push(format!("C5: two rows for {agent}"));
                    }
                    if row.get("event_cursor_seq").and_then(Value::as_i64).is_some_and(|c| c > max_seq) {
                        self.r.problems.push(format!("C5: cursor beyond the last event: {row}"));
                    }
                    if let (Some(lease), Some(t)) =
                        (row.get("lease_id").and_then(Value::as_str), row.get("turn_id").and_then(Value::as_i64))
                    {
                        let granted = events.iter().any(|e| {
                            matches!(e.kind.as_str(), "claim" | "takeover")
                                && e.turn_id == t
                                && e.to.as_deref() == Some(agent.as_str())
                        });
                        if !granted {
                            self.r
                                .problems
                                .push(format!("C5: {agent}'s row records turn {t}, which was never granted to it"));
                        }
                        let current = room.owner.as_deref() == Some(agent.as_str()) && room.turn_id == t;
                        if current && room.lease_id.as_deref() != Some(lease) {
                            self.r.problems.push(format!(
                                "C5: {agent}'s row records lease {lease} for the current turn, the room has {:?}",
                                room.lease_id
                            ));
                        }
                        if !current {
                            self.r.stale_rows_seen += 1;
                        }
                    }
                }
            }
            Ok(other) => self.r.problems.push(format!("C5: cli-sessions.json is not an array: {other}")),
            Err(e) if text.is_empty() => {
                let _ = e;
            }
            Err(e) => self.r.problems.push(format!("C5: cli-sessions.json does not parse: {e}")),
        }
        let (mut tmp, mut side) = (0, 0);
        for entry in fs::read_dir(&self.data).map_err(|e| e.to_string())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("cli-sessions.json.corrupt-") {
                self.r.problems.push(format!("C5: a torn session file was quarantined: {name}"));
            }
            // `.cli-sessions.json.<pid>.<random>.tmp` (a temp file of the side file) or
            // `.cli-sessions.json.lock.<pid>-<start>.<random>.tmp` (a session lock being
            // staged or released): only a killed writer leaves one behind.
            if let Some(rest) = name.strip_prefix(".cli-sessions.json.") {
                let (what, owner) = match rest.strip_prefix("lock.") {
                    Some(lock) => {
                        side += 1;
                        ("lock side directory", lock.split(['-', '.']).next())
                    }
                    None => {
                        tmp += 1;
                        ("temp file", rest.split('.').next())
                    }
                };
                let pid: i32 = owner.and_then(|p| p.parse().ok()).unwrap_or(0);
                if !self.killed_pids.contains(&pid) {
                    self.r.problems.push(format!("C5: {what} {name} of a process that was not killed"));
                }
            }
        }
        self.r.tmp_left = tmp;
        self.r.side_left = side;
        // C6
        for g in guardians_of(&self.project) {
            let current = room.owner.as_deref() == Some(g.agent.as_str())
                && room.lease_id.as_deref() == Some(g.lease_id.as_str())
                && room.turn_id == g.turn_id;
            if !current {
                self.r.problems.push(format!(
                    "C6: guardian {} of {} (turn {}) outlived its lease (room: owner {:?}, turn {})",
                    g.pid, g.agent, g.turn_id, room.owner, room.turn_id
                ));
            }
        }
        Ok(())
    }
}

fn settings() -> String {
    // No deferrals (any member may claim an idle room at once), no lease expiry during the run, and
    // guardians that notice a lost lease within 200 ms.
    format!(r#"{{"heartbeat_interval_ms":{HEARTBEAT_MS},"waiter_grace_ms":0,"prior_owner_release_cooldown_ms":0}}"#)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}
