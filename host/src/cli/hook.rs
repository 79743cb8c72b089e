//! Hook mode of `tt claim observe` (follow-through.md §7.2), meant to be registered as a
//! Claude Code Stop hook. The contract is enforced here, around everything else:
//!
//! - the exit code is always 0: usage errors, unreadable input, invalid settings,
//!   host-lock conflicts, database errors, classifier faults and panics included;
//! - stdout stays empty unless `--json` is given explicitly (the automatic JSON output of
//!   cli.md §2.7 does not apply), and the printed object never carries a key that could
//!   block or alter the harness (`decision`, `continue`, …);
//! - an error (not an ordinary skip) prints exactly one stderr line starting
//!   `tt claim observe:`;
//! - after 5 000 ms of wall time the process gives up and exits 0 (an unfinished SQLite
//!   transaction is rolled back by the exit).

use super::context;
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;
use stick::argv::args::{ClaimCommand, Command};
use stick::argv::{clap_error, parse};
use stick::commands::claims::{self, HookArgs, HookPayload};
use stick::env::Env;
use stick::service::commitments::validate_topic;

/// Keys a Stop hook's JSON output could use to block or alter the harness; hook mode
/// never prints them (§7.2 Contract).
pub const FORBIDDEN_KEYS: &[&str] =
    &["decision", "continue", "stopReason", "suppressOutput", "systemMessage", "hookSpecificOutput"];

/// Set once the result is printed: the watchdog and the normal path print at most once.
static PRINTED: Mutex<bool> = Mutex::new(false);

/// What hook mode prints.
struct Report {
    json: Map<String, Value>,
    error: Option<String>,
    warnings: Vec<String>,
}

impl Report {
    fn error(detail: &str, hook: Value) -> Report {
        Report { json: claims::hook_error(detail, hook), error: Some(claims::one_line(detail)), warnings: Vec::new() }
    }

    fn skip(reason: &str, hook: Value) -> Report {
        Report { json: claims::hook_skip(reason, hook), error: None, warnings: Vec::new() }
    }
}

/// Run hook mode; always returns 0.
pub fn run(args: &[String], env: &Env) -> i32 {
    let json = args.iter().take_while(|a| *a != "--").any(|a| a == "--json");
    // A panic is reported as one diagnostic line, not as a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(claims::HOOK_DEADLINE_MS));
        let gave_up =
            Report::error(&format!("gave up after {} ms", claims::HOOK_DEADLINE_MS), claims::hook_echo(None, None));
        emit(json, &gave_up);
        std::process::exit(0);
    });
    let report = std::panic::catch_unwind(AssertUnwindSafe(|| observe(args, env)))
        .unwrap_or_else(|_| Report::error("internal error: tt panicked", claims::hook_echo(None, None)));
    emit(json, &report);
    0
}

fn observe(args: &[String], env: &Env) -> Report {
    let none = || claims::hook_echo(None, None);
    if let Err(e) = parse::prescan(args) {
        return Report::error(&e.message, none());
    }
    let cli = match stick::argv::clap_parse_args(args, false) {
        Ok(cli) => cli,
        Err(e) => {
            let words = [String::from("claim"), String::from("observe")];
            return Report::error(&clap_error(&e, &words).message, none());
        }
    };
    let Some(Command::Claim { command: ClaimCommand::Observe(o) }) = cli.command else {
        return Report::error("--hook belongs to tt claim observe", none());
    };
    if o.text.is_some() || o.stdin > 0 {
        return Report::error("--hook cannot be used together with --text or --stdin", none());
    }
    let topic = match o.topic.as_deref().map(validate_topic).transpose() {
        Ok(t) => t,
        Err(e) => return Report::error(&e.message, none()),
    };
    let mut bytes = Vec::new();
    let limit = u64::try_from(claims::STDIN_MAX_BYTES).unwrap_or(u64::MAX).saturating_add(1);
    if std::io::stdin().lock().take(limit).read_to_end(&mut bytes).is_err() {
        return Report::skip("invalid_payload", none());
    }
    let Some(payload) = HookPayload::parse(&bytes) else { return Report::skip("invalid_payload", none()) };
    let mut ctx = match context(env, cli.policy.clone()) {
        Ok(ctx) => ctx,
        Err(e) => return Report::error(&e.message, claims::hook_echo(Some(&payload), None)),
    };
    ctx.settings.busy_timeout_ms = claims::HOOK_BUSY_TIMEOUT_MS;
    let r = claims::hook(&ctx, &payload, &HookArgs { path: o.path, topic, agent: cli.agent });
    Report { json: r.json, error: r.error, warnings: r.warnings }
}

/// Print the report once: the stderr line (the error, else the warnings), then the JSON
/// object on stdout when `--json` was given. Write errors are ignored.
fn emit(json: bool, report: &Report) {
    let mut printed = PRINTED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if *printed {
        return;
    }
    *printed = true;
    let mut err = std::io::stderr().lock();
    match &report.error {
        Some(e) => {
            let _ = writeln!(err, "tt claim observe: {e}");
        }
        None => {
            for w in &report.warnings {
                let _ = writeln!(err, "tt claim observe: {}", claims::one_line(w));
            }
        }
    }
    if json {
        let mut obj = report.json.clone();
        for k in FORBIDDEN_KEYS {
            obj.remove(*k);
        }
        if let Ok(text) = serde_json::to_string_pretty(&Value::Object(obj)) {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(format!("{text}\n").as_bytes()).and_then(|()| out.flush());
        }
    }
}
