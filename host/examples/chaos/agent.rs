//! One chaos agent (`--agent-loop`, started and restarted by the coordinator): a real process with
//! a harness identity (`CODEX_THREAD_ID`, the same for every incarnation of a slot) that loops
//!
//! `tt wait` → [`tt take` when a takeover is available] → critical section: `enter` record, read the
//! register, write the register with the fencing token → `exit` record → `tt release`.
//!
//! It reports its phase to the coordinator over the register socket (so the nemesis can aim), and
//! records everything it does in `agent-<slot>.jsonl`; the critical section's `enter`/`exit` records go
//! to the shared `cs.log`, opened with `O_APPEND`.

use crate::common::{Rng, TtOut, i64_of, run_tt, sleep_ms, str_of, wall_us};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// How long one `tt wait` blocks before the agent looks at the stop marker again.
const WAIT_SLICE: &str = "2s";

struct Opts {
    slot: usize,
    inc: u64,
    tt: PathBuf,
    run: PathBuf,
    socket: PathBuf,
    seed: u64,
    coordinator: u32,
    work: (u64, u64),
}

/// The connection to the coordinator: phase reports (no answer) and register calls (one answer line).
struct Link {
    out: UnixStream,
    input: BufReader<UnixStream>,
}

impl Link {
    fn send(&mut self, v: &Value) -> Result<(), String> {
        let mut line = v.to_string();
        line.push('\n');
        self.out.write_all(line.as_bytes()).map_err(|e| format!("the coordinator went away: {e}"))
    }

    fn call(&mut self, v: &Value) -> Result<Value, String> {
        self.send(v)?;
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) | Err(_) => Err("the coordinator went away".to_owned()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("bad answer from the coordinator: {e}")),
        }
    }
}

struct Agent {
    o: Opts,
    link: Link,
    records: File,
    cs: File,
    rng: Rng,
    me: String,
}

pub fn main(args: &[String]) -> ExitCode {
    let mut map = BTreeMap::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg != "--agent-loop" {
            map.insert(arg.clone(), it.next().cloned().unwrap_or_default());
        }
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    let work = get("--work-ms");
    let (lo, hi) = work.split_once(':').unwrap_or(("5", "40"));
    let o = Opts {
        slot: get("--slot").parse().expect("--slot"),
        inc: get("--inc").parse().expect("--inc"),
        tt: PathBuf::from(get("--tt")),
        run: PathBuf::from(get("--run-dir")),
        socket: PathBuf::from(get("--socket")),
        seed: get("--seed").parse().expect("--seed"),
        coordinator: get("--coordinator").parse().expect("--coordinator"),
        work: (lo.parse().expect("--work-ms"), hi.parse().expect("--work-ms")),
    };
    let records = OpenOptions::new()
        .create(true)
        .append(true)
        .open(o.run.join(format!("agent-{}.jsonl", o.slot)))
        .expect("open the agent records");
    let cs = OpenOptions::new().create(true).append(true).open(o.run.join("cs.log")).expect("open cs.log");
    let stream = match UnixStream::connect(&o.socket) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("agent {}: cannot reach the coordinator: {e}", o.slot);
            return ExitCode::FAILURE;
        }
    };
    let input = BufReader::new(stream.try_clone().expect("clone the socket"));
    let rng = Rng::new(o.seed);
    let mut agent = Agent { o, link: Link { out: stream, input }, records, cs, rng, me: String::new() };
    match agent.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            agent.record(json!({"kind": "error", "message": msg}));
            eprintln!("agent {}: {msg}", agent.o.slot);
            ExitCode::FAILURE
        }
    }
}

impl Agent {
    fn record(&mut self, mut v: Value) {
        v["slot"] = json!(self.o.slot);
        v["inc"] = json!(self.o.inc);
        v["pid"] = json!(std::process::id());
        if v.get("t_us").is_none() {
            v["t_us"] = json!(wall_us());
        }
        let mut line = v.to_string();
        line.push('\n');
        // One write per record: O_APPEND keeps records whole even with several incarnations.
        let _ = self.records.write_all(line.as_bytes());
    }

    fn cs_line(&mut self, ev: &str, turn: i64, lease: &str, extra: Value) {
        let mut v = json!({"ev": ev, "slot": self.o.slot, "inc": self.o.inc, "pid": std::process::id(),
                           "agent": self.me, "turn": turn, "lease": lease, "t_us": wall_us()});
        if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
            m.extend(e);
        }
        let mut line = v.to_string();
        line.push('\n');
        let _ = self.cs.write_all(line.as_bytes());
    }

    fn tt(&self, args: &[&str]) -> TtOut {
        let mut cmd = Command::new(&self.o.tt);
        cmd.args(args);
        run_tt(cmd)
    }

    fn phase(&mut self, phase: &str, holding: Option<(i64, &str, i64)>) -> Result<(), String> {
        let mut v = json!({"op": "phase", "phase": phase});
        if let Some((turn, lease, guardian)) = holding {
            v["turn"] = json!(turn);
            v["lease"] = json!(lease);
            v["guardian"] = json!(guardian);
        }
        self.link.send(&v)
    }

    fn stopping(&self) -> bool {
        self.o.run.join("stop").exists() || std::os::unix::process::parent_id() != self.o.coordinator
    }

    fn run(&mut self) -> Result<(), String> {
        let who = self.tt(&["--json", "whoami"]);
        self.me = who.json().map(|v| str_of(&v, "agent_id").to_owned()).unwrap_or_default();
        if self.me.is_empty() {
            return Err(format!("`tt whoami` failed: {}", who.stderr.trim()));
        }
        self.link.send(&json!({"op": "hello", "slot": self.o.slot, "inc": self.o.inc,
                               "pid": std::process::id(), "agent": self.me}))?;
        self.record(json!({"kind": "start", "agent_id": self.me}));
        let mut episode_start = wall_us();
        // A restarted incarnation first asks with `tt try`: if the killed one held the stick and no
        // one has taken it over, this answers `already_owner` at once, whereas a `tt wait` started as
        // the owner returns only on an event or at its timeout (protocol.md §17.5).
        let mut first = true;
        let mut joined = false;
        while !self.stopping() {
            self.phase("wait", None)?;
            let out = if std::mem::take(&mut first) {
                self.tt(&["--json", "try"])
            } else {
                self.tt(&["--json", "wait", "--timeout", WAIT_SLICE])
            };
            let Some(v) = out.json().filter(|_| out.ok()) else {
                self.record(json!({"kind": "tt_error", "cmd": "wait", "error": out.error_code()}));
                sleep_ms(20);
                continue;
            };
            if !std::mem::replace(&mut joined, true) {
                // From now on the member row names this process (the poll's join committed).
                self.record(json!({"kind": "joined"}));
            }
            let grant = match str_of(&v, "status") {
                "your_turn" => Some((v, "wait")),
                "takeover_available" => self.take(&v)?.map(|t| (t, "take")),
                "not_yet" => None,
                other => return Err(format!("unexpected `tt wait` status {other}: {v}")),
            };
            if let Some((g, via)) = grant {
                self.hold(&g, via, episode_start)?;
                episode_start = wall_us();
            }
        }
        self.record(json!({"kind": "stop"}));
        Ok(())
    }

    /// `tt take` after a `takeover_available`: the explicit, reasoned takeover of protocol.md §12.
    fn take(&mut self, offer: &Value) -> Result<Option<Value>, String> {
        self.phase("take", None)?;
        let kind = str_of(offer, "reason").to_owned();
        let whom = offer.get("current_owner").or_else(|| offer.get("reserved_for")).and_then(Value::as_str);
        let reason = format!("chaos: {kind} offered ({} turn {})", whom.unwrap_or("-"), i64_of(offer, "turn_id"));
        let out = self.tt(&["--json", "take", "--reason", &reason]);
        match out.json().filter(|_| out.ok()) {
            Some(v) if str_of(&v, "status") == "your_turn" => Ok(Some(v)),
            _ => {
                self.record(json!({"kind": "take_failed", "offered": kind, "error": out.error_code()}));
                Ok(None)
            }
        }
    }

    /// One turn: the critical section, the fenced write and the release.
    fn hold(&mut self, g: &Value, via: &str, episode_start: i64) -> Result<(), String> {
        let got_us = wall_us();
        let turn = i64_of(g, "turn_id");
        let lease = str_of(g, "lease_id").to_owned();
        let guardian = i64_of(g, "guardian_pid");
        self.record(json!({"kind": "grant", "turn": turn, "lease": lease, "reason": str_of(g, "reason"),
                           "via": via, "guardian": guardian, "got_us": got_us, "episode_us": episode_start,
                           "revoked": g.get("revoked_agent_id")}));
        self.phase("work", Some((turn, &lease, guardian)))?;
        self.cs_line("enter", turn, &lease, json!({}));
        let (lo, hi) = self.o.work;
        sleep_ms(self.rng.range(lo, hi));
        let read = self.link.call(&json!({"op": "read", "turn": turn}))?;
        let value = read.get("value").and_then(Value::as_u64).unwrap_or(0);
        sleep_ms(self.rng.range(lo, hi));
        self.phase("write", Some((turn, &lease, guardian)))?;
        let w = self.link.call(&json!({"op": "write", "agent": self.me, "turn": turn, "lease": lease,
                                       "read": value, "value": value + 1}))?;
        let accepted = w.get("accepted").and_then(Value::as_bool).unwrap_or(false);
        self.cs_line("exit", turn, &lease, json!({"accepted": accepted, "error": w.get("error")}));
        self.phase("release", Some((turn, &lease, guardian)))?;
        let rel_start = wall_us();
        let status = format!("turn {turn} by {} (slot {} inc {})", self.me, self.o.slot, self.o.inc);
        let out = self.tt(&["--json", "release", "--status", &status, "--next-action", "chaos: keep going"]);
        let rel_end = wall_us();
        let release = match out.json().filter(|_| out.ok()) {
            Some(r) => json!({"ok": true, "event_seq": r.get("event_seq"), "reserved_for": r.get("reserved_for")}),
            None => json!({"ok": false, "error": out.error_code()}),
        };
        self.record(json!({"kind": "turn_end", "turn": turn, "lease": lease, "accepted": accepted,
                           "write_error": w.get("error"), "release": release,
                           "rel_start_us": rel_start, "rel_end_us": rel_end}));
        Ok(())
    }
}
