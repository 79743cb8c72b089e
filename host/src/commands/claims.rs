//! Follow-through commands (follow-through.md §7): `tt claim observe` with `--text` or
//! `--stdin`, its Stop-hook mode (`--hook`), `tt commitments` and `tt commitments
//! done|withdraw`, plus the claim classification shared with the handoffs of `tt release`
//! and `tt pass` (§8). None of them runs the purge (protocol.md §15.1) or refreshes the
//! caller's presence: a commitment is bookkeeping, not harness activity.

use super::room::{lookup_room, relative};
use super::{Context, Outcome};
use crate::error::{ErrorCode, TtError};
use crate::identity::{self, Identity};
use crate::lock::Access;
use crate::service::commitments::{
    self as cm, Close, Guard, Listing, Observation, Observed, Recorded, Source, commitment_id,
};
use crate::service::{Service, shape};
use crate::store::{Commitment, Store};
use crate::workspace::{ancestor_paths, resolve};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use stick_policy::types as n;

/// The WIT name of the classifier (follow-through.md §3.1).
pub const CLASSIFY_FUNCTION: &str = "classify-action-claim";
/// Largest `--stdin` text and hook payload, in bytes (§7.1, §7.2).
pub const STDIN_MAX_BYTES: usize = 1024 * 1024;
/// A hook message shorter than this many characters is skipped (`too_short`, §7.2 step 4).
pub const HOOK_MIN_CHARS: usize = 20;
/// The SQLite busy timeout inside hook mode (ms, §7.2).
pub const HOOK_BUSY_TIMEOUT_MS: u64 = 2_000;
/// Hook mode gives up after this much wall time (ms, §7.2).
pub const HOOK_DEADLINE_MS: u64 = 5_000;

/// Classify `text` with the `claims` slot (§3, §3.8). Returns the claim and, when the
/// call faulted (the safe fallback "no claim" was applied, the warning queued), a
/// one-line description of the fault.
pub fn classify(svc: &mut Service, text: &str) -> (Option<n::Claim>, Option<String>) {
    let before = svc.policies.faults().len();
    let claim = svc.policies.classify_action_claim(text);
    let fault = svc
        .policies
        .faults()
        .get(before..)
        .and_then(|new| new.iter().rev().find(|f| f.function == CLASSIFY_FUNCTION))
        .map(|f| format!("the claim classifier failed ({}); the text was treated as no claim", f.reason));
    (claim, fault)
}

/// `expires in 6h 0m`-style duration: whole hours and minutes of `ms`.
pub fn hours_minutes(ms: i64) -> String {
    let ms = ms.max(0);
    format!("{}h {}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
}

/// The result of `tt claim observe` when `action_claim_enabled` is off (§7.1 step 1).
pub fn disabled() -> Outcome {
    Outcome {
        json: json!({"observed": false, "registered": false, "reason": "feature_disabled"}),
        text: "Not recorded: follow-through commitments are switched off (action_claim_enabled = 0)\n".into(),
        warnings: Vec::new(),
    }
}

/// Options of `tt claim observe` with `--text` or `--stdin` (§7.1).
#[derive(Clone, Debug, Default)]
pub struct ObserveArgs {
    /// `[path]`.
    pub path: Option<String>,
    /// `--topic`, validated.
    pub topic: Option<String>,
    /// The text (already read from stdin for `--stdin`).
    pub text: String,
}

fn unknown_member(agent: &str, room_id: &str) -> TtError {
    TtError::new(ErrorCode::UnknownMember, "the caller is not a member of this room; run `tt join` first")
        .with("agent_id", agent)
        .with("room_id", room_id)
}

/// The JSON and text of a recorded or refused claim (§7.1 results).
fn recorded_result(m: &mut Map<String, Value>, recorded: &Recorded, claim: &n::Claim, topic: &str) -> String {
    m.insert("observed".into(), json!(true));
    match recorded {
        Recorded::Registered { commitment: c, deduplicated } => {
            m.insert("registered".into(), json!(true));
            m.insert("deduplicated".into(), json!(deduplicated));
            m.insert("verb".into(), json!(claim.verb.as_str()));
            m.insert("matched".into(), json!(claim.matched));
            m.insert("commitment_id".into(), json!(commitment_id(c.seq)));
            m.insert("external_key".into(), json!(c.external_key));
            m.insert("topic".into(), json!(c.topic));
            m.insert("expires_at".into(), shape::ts(Some(c.expires_at)));
            if *deduplicated {
                format!("Already open: {} {}\n", commitment_id(c.seq), c.verb)
            } else {
                format!(
                    "Recorded commitment {}: {} (expires in {})\n",
                    commitment_id(c.seq),
                    c.verb,
                    hours_minutes(c.expires_at - c.created_at)
                )
            }
        }
        Recorded::Capped { cap } => {
            m.insert("registered".into(), json!(false));
            m.insert("reason".into(), json!("per_topic_cap"));
            m.insert("verb".into(), json!(claim.verb.as_str()));
            m.insert("matched".into(), json!(claim.matched));
            m.insert("cap".into(), json!(cap));
            m.insert("topic".into(), json!(topic));
            format!("Not recorded: the cap of {cap} open claims for topic {topic} is reached\n")
        }
    }
}

fn no_claim_result(m: &mut Map<String, Value>, fault: Option<&str>) -> String {
    m.insert("observed".into(), json!(true));
    m.insert("registered".into(), json!(false));
    m.insert("reason".into(), json!("no_action_claim"));
    if let Some(f) = fault {
        m.insert("policy_fault".into(), json!(f));
    }
    "No action claim found\n".into()
}

/// `room_not_found` with the `path` detail of follow-through.md §7.6: the resolved
/// context path the room was looked up from.
fn with_path(ctx: &Context, e: TtError, path: Option<&str>) -> TtError {
    if e.code != ErrorCode::RoomNotFound {
        return e;
    }
    let home = ctx.home();
    let resolved = resolve(path, &ctx.cwd, home.as_deref());
    e.with("path", resolved.context_path.display().to_string())
}

/// `tt claim observe [path] [--topic T] (--text TEXT | --stdin)` (§7.1 steps 3–7; the
/// feature switch and reading stdin are the caller's steps 1–2). Errors:
/// `room_not_found`, `unknown_member` (details `agent_id`, `room_id`), `storage_error`,
/// `database_busy`; a classifier fault is not an error (`policy_fault` in the result).
pub fn observe(ctx: &Context, svc: &mut Service, identity: &Identity, args: &ObserveArgs) -> Result<Outcome, TtError> {
    let agent = identity.agent_id.as_str();
    let (room_id, _) =
        lookup_room(ctx, svc, agent, args.path.as_deref()).map_err(|e| with_path(ctx, e, args.path.as_deref()))?;
    if !svc.is_member(&room_id, agent)? {
        return Err(unknown_member(agent, &room_id));
    }
    let (claim, fault) = classify(svc, &args.text);
    let mut m = Map::new();
    let text = match &claim {
        None => no_claim_result(&mut m, fault.as_deref()),
        Some(c) => {
            let observed = svc.observe(&Observation {
                room_id: &room_id,
                agent_id: agent,
                topic: args.topic.as_deref(),
                text: &args.text,
                claim: Some(c),
                source: Source::Observe,
                guard: None,
            })?;
            match observed {
                Observed::Recorded { recorded, topic } => recorded_result(&mut m, &recorded, c, &topic),
                Observed::NotMember => return Err(unknown_member(agent, &room_id)),
                Observed::NoClaim | Observed::AlreadyObserved => no_claim_result(&mut m, fault.as_deref()),
            }
        }
    };
    m.insert("room_id".into(), json!(room_id));
    m.insert("agent_id".into(), json!(agent));
    Ok(Outcome { json: Value::Object(m), text, warnings: svc.policies.take_warnings() })
}

// ----- hook mode -------------------------------------------------------------------------

/// The Stop-hook payload (§7.2 Input). A field that is missing or has another type is
/// absent; unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookPayload {
    /// `session_id`.
    pub session_id: Option<String>,
    /// `transcript_path`.
    pub transcript_path: Option<String>,
    /// `stop_hook_active` (echoed; changes nothing).
    pub stop_hook_active: Option<bool>,
    /// `cwd`.
    pub cwd: Option<String>,
    /// `last_assistant_message`.
    pub last_assistant_message: Option<String>,
}

impl HookPayload {
    /// Parse stdin (§7.2 step 1): None when it is larger than 1 MiB or not a JSON object
    /// (skip `invalid_payload`).
    pub fn parse(bytes: &[u8]) -> Option<HookPayload> {
        if bytes.len() > STDIN_MAX_BYTES {
            return None;
        }
        let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(bytes) else { return None };
        let string = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        Some(HookPayload {
            session_id: string("session_id"),
            transcript_path: string("transcript_path"),
            stop_hook_active: o.get("stop_hook_active").and_then(Value::as_bool),
            cwd: string("cwd"),
            last_assistant_message: string("last_assistant_message"),
        })
    }
}

/// The `hook` object of a hook result (§7.2 `--json` output).
pub fn hook_echo(payload: Option<&HookPayload>, message_source: Option<&str>) -> Value {
    json!({
        "session_id": payload.and_then(|p| p.session_id.clone()),
        "stop_hook_active": payload.and_then(|p| p.stop_hook_active),
        "message_source": message_source,
    })
}

/// A hook skip result: `{observed: false, registered: false, reason, hook}`.
pub fn hook_skip(reason: &str, hook: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("observed".into(), json!(false));
    m.insert("registered".into(), json!(false));
    m.insert("reason".into(), json!(reason));
    m.insert("hook".into(), hook);
    m
}

/// A hook error result: `{observed: false, registered: false, reason: "error", detail,
/// hook}`; `detail` is made one line.
pub fn hook_error(detail: &str, hook: Value) -> Map<String, Value> {
    let mut m = hook_skip("error", hook);
    m.insert("detail".into(), json!(one_line(detail)));
    m
}

/// `text` on one line: line breaks become spaces.
pub fn one_line(text: &str) -> String {
    text.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Options of hook mode.
#[derive(Clone, Debug, Default)]
pub struct HookArgs {
    /// `[path]`.
    pub path: Option<String>,
    /// `--topic`, validated.
    pub topic: Option<String>,
    /// `--agent`.
    pub agent: Option<String>,
}

/// What hook mode produced: the `--json` object, the error (for the one stderr line),
/// and warning lines (a classifier fault).
#[derive(Clone, Debug)]
pub struct HookReport {
    /// The result object, `hook` included.
    pub json: Map<String, Value>,
    /// The error of an `error` result.
    pub error: Option<String>,
    /// Warnings for stderr (not printed with an error).
    pub warnings: Vec<String>,
}

/// Hook mode (§7.2 steps 2–10) for a parsed payload. Never fails: errors become the
/// `error` result, skips the skip results.
pub fn hook(ctx: &Context, payload: &HookPayload, args: &HookArgs) -> HookReport {
    let mut source: Option<&'static str> = None;
    let mut warnings = Vec::new();
    match hook_steps(ctx, payload, args, &mut source, &mut warnings) {
        Ok(mut json) => {
            json.insert("hook".into(), hook_echo(Some(payload), source));
            HookReport { json, error: None, warnings }
        }
        Err(e) => HookReport {
            json: hook_error(&e.message, hook_echo(Some(payload), source)),
            error: Some(one_line(&e.message)),
            warnings: Vec::new(),
        },
    }
}

fn skip(reason: &str) -> Map<String, Value> {
    let mut m = hook_skip(reason, Value::Null);
    m.remove("hook");
    m
}

fn hook_steps(
    ctx: &Context,
    payload: &HookPayload,
    args: &HookArgs,
    source: &mut Option<&'static str>,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, TtError> {
    if !ctx.settings.action_claim_enabled {
        return Ok(skip("feature_disabled"));
    }
    // Step 3: the payload's message is race-free (anthropics/claude-code#74340); the
    // transcript is the fallback and is read from its end only.
    let message = match payload.last_assistant_message.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => {
            *source = Some("payload");
            Some(m.to_string())
        }
        None => {
            *source = Some("transcript");
            payload
                .transcript_path
                .as_deref()
                .filter(|p| !p.is_empty())
                .and_then(|p| crate::transcript::final_assistant_message(&ctx.cwd.join(p)))
        }
    };
    let Some(message) = message.map(|m| m.trim().to_string()).filter(|m| !m.is_empty()) else {
        return Ok(skip("no_assistant_message"));
    };
    if message.chars().count() < HOOK_MIN_CHARS {
        return Ok(skip("too_short"));
    }
    match crate::fscheck::check_local(&ctx.data_dir, &ctx.env) {
        Err(e) if e.code == ErrorCode::RemoteFilesystem => return Ok(skip("remote_filesystem")),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    // Step 5 before step 6: without a database there is no room, but a foreign lock is
    // still reported as such. Observe it read-only, so that a Stop hook never creates a
    // database or a lock.
    if !Store::path_in(&ctx.data_dir).is_file() {
        let machine = ctx.liveness()?.machine().clone();
        let lock = ctx.lock_config(&machine, None);
        let mut policies = crate::policy::Policies::new(ctx.policy_config());
        let state = crate::lock::check(&lock, Access::Read, &mut policies, ctx.clock.now_ms())?;
        warnings.extend(policies.take_warnings());
        return Ok(skip(if state.read_only() { "host_lock_conflict" } else { "no_room" }));
    }
    let mut liveness = ctx.liveness()?;
    let first = identity::derive(&ctx.env, args.agent.as_deref(), &mut liveness);
    let mut candidates: Vec<String> = Vec::new();
    let second = match payload.session_id.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(sid) if args.agent.is_none() && ctx.env.non_blank("TT_HARNESS_AGENT_ID").is_none() => {
            let env = ctx.env.with("CLAUDECODE", "1").with("CLAUDE_CODE_SESSION_ID", sid);
            identity::derive(&env, None, &mut liveness).ok().map(|i| i.agent_id)
        }
        _ => None,
    };
    // Step 5: the host lock of a writing command (host-lock.md §5; scenario 18).
    let mut svc = match ctx.open(liveness, Access::Write, warnings) {
        Err(e) if e.code == ErrorCode::HostLockConflict => return Ok(skip("host_lock_conflict")),
        Err(e) if e.code == ErrorCode::RemoteFilesystem => return Ok(skip("remote_filesystem")),
        other => other?,
    };
    let path = args.path.clone().or_else(|| payload.cwd.clone().filter(|c| !c.is_empty()));
    let Some(room_id) = deepest_room(ctx, &mut svc, path.as_deref())? else { return Ok(skip("no_room")) };
    candidates.push(first?.agent_id);
    candidates.extend(second);
    let mut agent = None;
    for c in &candidates {
        if svc.is_member(&room_id, c)? {
            agent = Some(c.clone());
            break;
        }
    }
    let Some(agent) = agent else { return Ok(skip("not_a_member")) };
    let sha: String = Sha256::digest(message.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    if svc.observation(&room_id, &agent)?.as_deref() == Some(sha.as_str()) {
        return Ok(skip("already_observed"));
    }
    let (claim, fault) = classify(&mut svc, &message);
    warnings.extend(svc.policies.take_warnings());
    let observed = svc.observe(&Observation {
        room_id: &room_id,
        agent_id: &agent,
        topic: args.topic.as_deref(),
        text: &message,
        claim: claim.as_ref(),
        source: Source::Hook,
        guard: Some(Guard { sha256: &sha }),
    })?;
    let mut m = Map::new();
    match (observed, &claim) {
        (Observed::NotMember, _) => return Ok(skip("not_a_member")),
        (Observed::AlreadyObserved, _) => return Ok(skip("already_observed")),
        (Observed::Recorded { recorded, topic }, Some(c)) => {
            recorded_result(&mut m, &recorded, c, &topic);
        }
        _ => {
            no_claim_result(&mut m, fault.as_deref());
        }
    }
    m.insert("room_id".into(), json!(room_id));
    m.insert("agent_id".into(), json!(agent));
    Ok(m)
}

/// The deepest existing room at or above `path` (default: the current directory), never
/// created (§7.2 step 6).
fn deepest_room(ctx: &Context, svc: &mut Service, path: Option<&str>) -> Result<Option<String>, TtError> {
    let home = ctx.home();
    let resolved = resolve(path, &ctx.cwd, home.as_deref());
    let ancestors: Vec<PathBuf> = ancestor_paths(&resolved.context_path, home.as_deref());
    svc.read(|tx, _| {
        for a in &ancestors {
            if let Some(id) = tx.room_id_at(&a.to_string_lossy())? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    })
}

// ----- tt commitments ----------------------------------------------------------------------

fn row_line(c: &Commitment, now: i64) -> String {
    let open = cm::is_open(c, now);
    let status = if open { "open" } else { c.status.as_str() };
    let holder = match (&c.agent_id, &c.inherited_from_agent_id) {
        (Some(a), _) => a.clone(),
        (None, Some(from)) => format!("room-held from {from}"),
        (None, None) => "room-held".into(),
    };
    let when = if open {
        format!("expires in {}", hours_minutes(c.expires_at - now))
    } else {
        format!("resolved {}", relative(c.resolved_at.unwrap_or(c.expires_at), now))
    };
    format!("{}  {:<8} {:<9} {:<9} {when}  \"{}\"\n", commitment_id(c.seq), c.verb, status, holder, c.matched)
}

/// `tt commitments [path] [--all]` (§7.3; reading). Errors: `room_not_found`.
pub fn list(
    ctx: &Context,
    svc: &mut Service,
    identity: &Identity,
    path: Option<&str>,
    all: bool,
) -> Result<Outcome, TtError> {
    let agent = identity.agent_id.as_str();
    let (room_id, _) = lookup_room(ctx, svc, agent, path).map_err(|e| with_path(ctx, e, path))?;
    let canonical_path = svc.read(|tx, _| Ok(tx.room(&room_id)?.map(|r| r.canonical_path)))?.unwrap_or_default();
    let Listing { commitments, open_total, room_held_total } = svc.list_commitments(&room_id, agent, all)?;
    let now = svc.now();
    let json = json!({
        "room_id": room_id,
        "canonical_path": canonical_path,
        "agent_id": agent,
        "commitments": commitments.iter().map(|c| shape::commitment(c, now)).collect::<Vec<_>>(),
        "total": commitments.len(),
        "open_total": open_total,
        "room_held_total": room_held_total,
    });
    let mut text = if commitments.is_empty() {
        "No open commitments.\n".to_string()
    } else {
        format!("{} commitment(s) in {canonical_path}:\n", commitments.len())
    };
    for c in &commitments {
        text.push_str(&row_line(c, now));
    }
    Ok(Outcome { json, text, warnings: Vec::new() })
}

/// `tt commitments done <id> [--force]` and `tt commitments withdraw <id> [--reason TEXT]
/// [--force]` (§7.4; writing). Errors: `commitment_not_found`, `unknown_member`,
/// `not_commitment_owner`, `commitment_not_open`.
pub fn close(svc: &mut Service, identity: &Identity, seq: i64, how: &Close, force: bool) -> Result<Outcome, TtError> {
    let closed = svc.close_commitment(seq, &identity.agent_id, how, force)?;
    let id = commitment_id(seq);
    let json = json!({
        "status": how.status(),
        "changed": closed.changed,
        "commitment": shape::commitment(&closed.commitment, closed.now),
    });
    let text = match (closed.changed, how) {
        (true, Close::Done) => format!("Closed {id} (done)\n"),
        (true, Close::Withdraw(_)) => format!("Withdrew {id}\n"),
        (false, _) => format!("{id} was already {}\n", how.status()),
    };
    Ok(Outcome { json, text, warnings: Vec::new() })
}

// ----- surfacing (§9, §10.3) ---------------------------------------------------------------

/// `Open commitments (2): CMT-001 restart, CMT-003 push` (at most 10 ids, then `, …`).
pub fn open_line(open: &[Commitment], total: usize) -> String {
    let mut ids: Vec<String> =
        open.iter().take(cm::SURFACE_MAX).map(|c| format!("{} {}", commitment_id(c.seq), c.verb)).collect();
    if total > ids.len() {
        ids.push("…".into());
    }
    format!("Open commitments ({total}): {}\n", ids.join(", "))
}

/// `Inherited 1 commitment from agent:a (owner_timeout): CMT-001 restart`, one line per
/// (from, reason) group in order.
pub fn inherited_lines(inherited: &[Commitment]) -> String {
    let mut groups: Vec<(Option<&str>, Option<&str>, Vec<&Commitment>)> = Vec::new();
    for c in inherited {
        let key = (c.inherited_from_agent_id.as_deref(), c.inherit_reason.as_deref());
        match groups.iter_mut().find(|(f, r, _)| (*f, *r) == key) {
            Some(g) => g.2.push(c),
            None => groups.push((key.0, key.1, vec![c])),
        }
    }
    let mut out = String::new();
    for (from, reason, list) in groups {
        let noun = if list.len() == 1 { "commitment" } else { "commitments" };
        let ids: Vec<String> = list.iter().map(|c| format!("{} {}", commitment_id(c.seq), c.verb)).collect();
        out.push_str(&format!(
            "Inherited {} {noun} from {} ({}): {}\n",
            list.len(),
            from.unwrap_or("-"),
            reason.unwrap_or("-"),
            ids.join(", ")
        ));
    }
    out
}
