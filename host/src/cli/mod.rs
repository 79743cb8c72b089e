//! The command line: parse, resolve the context, dispatch, render, exit code
//! (cli.md §2).

mod render;

mod dispatch;
mod hook;

use serde_json::Value;
use std::io::Write;
use stick::argv::args::{Command, GuardsCommand, GuardsOpts, PolicyCommand};
use stick::argv::{self, Line, Parsed};
use stick::clock::Clock;
use stick::commands::{self, Context};
use stick::env::Env;
use stick::settings::Settings;
use stick::{ErrorCode, TtError};

/// Output mode (cli.md §2.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// JSON on stdout, JSON errors on stderr.
    Json,
    /// Human text.
    Text,
}

/// Run `tt` with `args` (without the program name); returns the exit code.
pub fn run(args: Vec<String>, env: Env) -> i32 {
    let line = Line::new(args);
    let fallback_mode = if line.json_flag || (!line.text_flag && harness_env(&env)) { Mode::Json } else { Mode::Text };
    // Help is side-effect free (cli.md §2.6) and hook mode answers every outcome itself
    // (follow-through.md §7.2): both are decided before anything is resolved.
    let cli = match argv::parse_line_once(&line) {
        Ok(Parsed::Help(text)) => return print_stdout(&text),
        Ok(Parsed::Hook) => return hook::run(&line.args, &env),
        Ok(Parsed::Command(cli)) => *cli,
        Err(e) => return report_error(&e, fallback_mode),
    };
    let mode = if cli.json > 0 {
        Mode::Json
    } else if cli.text > 0 {
        Mode::Text
    } else if harness_env(&env) {
        Mode::Json
    } else {
        Mode::Text
    };
    if cli.version > 0 {
        return print_stdout(&format!("tt {} (policy contract stick:policy@0.1.0)\n", env!("CARGO_PKG_VERSION")));
    }
    let Some(command) = cli.command else {
        return match argv::help::render(&[]) {
            Ok(text) => print_stdout(&text),
            Err(e) => report_error(&e, mode),
        };
    };
    let ctx = match context(&env, cli.policy.clone()) {
        Ok(ctx) => ctx,
        Err(e) => return report_error(&e, mode),
    };
    let outcome = match command {
        Command::Policy { command } => run_policy(&ctx, command, mode, cli.verbose > 0),
        Command::Guards(g) => Ok(run_guards(&ctx, g, mode)),
        other => Ok(dispatch::run(&ctx, other, cli.agent.as_deref(), mode, cli.verbose > 0)),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => report_error(&e, mode),
    }
}

/// Whether the caller runs inside an agent harness (cli.md §2.7 rule 2).
fn harness_env(env: &Env) -> bool {
    env.flag("TT_HARNESS_EXPORT") || env.non_blank("TT_HARNESS_AGENT_ID").is_some() || env.has_harness_marker()
}

/// Resolve and validate everything a command needs before it writes anything
/// (cli.md §2.3 rule 11): `TT_NOW_MS`, the data dir, settings, `TT_LIVENESS_FILE`.
pub(crate) fn context(env: &Env, policy_flags: Vec<String>) -> Result<Context, TtError> {
    let clock = Clock::from_tt_now_ms(env.get("TT_NOW_MS"))?;
    let cwd =
        std::env::current_dir().map_err(|e| TtError::storage(format!("cannot read the current directory: {e}")))?;
    let data_dir = stick::paths::data_dir(env, &cwd)?;
    let settings = Settings::load(&data_dir.join("settings.toml"), env.get("TT_SETTINGS"))?;
    validate_liveness_file(env.get("TT_LIVENESS_FILE"))?;
    Ok(Context { env: env.clone(), cwd, data_dir, settings, clock, policy_flags })
}

/// `TT_LIVENESS_FILE` must be a JSON object of `alive`/`gone`/`unknown` strings; a
/// missing file is an empty mapping (protocol.md §4.2).
fn validate_liveness_file(path: Option<&str>) -> Result<(), TtError> {
    let Some(path) = path.filter(|p| !p.trim().is_empty()) else { return Ok(()) };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(liveness_error(&format!("cannot be read: {e}"))),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) if map.values().all(|v| matches!(v.as_str(), Some("alive" | "gone" | "unknown"))) => {
            Ok(())
        }
        _ => Err(liveness_error("must be a JSON object mapping agent ids to \"alive\", \"gone\" or \"unknown\"")),
    }
}

fn liveness_error(why: &str) -> TtError {
    TtError::new(ErrorCode::InvalidSettings, format!("invalid TT_LIVENESS_FILE: {why}"))
        .with("source", "TT_LIVENESS_FILE")
        .with("key", Value::Null)
}

/// `tt guards [path]` and `tt guards heal-lock [--force]` (host-lock.md §9, §11).
fn run_guards(ctx: &Context, g: GuardsOpts, mode: Mode) -> i32 {
    match g.command {
        None => {
            let o = commands::guards::guards(ctx, g.path.as_deref());
            print_warnings(&o.warnings);
            output(mode, &o.json, || o.text.clone())
        }
        Some(GuardsCommand::HealLock { force }) => {
            let mut warnings = Vec::new();
            match commands::guards::heal_lock(ctx, force > 0, &mut warnings) {
                Ok(o) => {
                    print_warnings(&o.warnings);
                    output(mode, &o.json, || o.text.clone())
                }
                Err(e) => {
                    print_warnings(&warnings);
                    report_error(&e, mode)
                }
            }
        }
    }
}

fn run_policy(ctx: &Context, command: PolicyCommand, mode: Mode, verbose: bool) -> Result<i32, TtError> {
    match command {
        PolicyCommand::Show => {
            let result = commands::policy::show(ctx);
            print_warnings(&result.warnings);
            Ok(output(mode, &result, || render::policy_show(&result)))
        }
        PolicyCommand::Check { path } => {
            let result = commands::policy::check(ctx, &path)?;
            Ok(output(mode, &result, || render::policy_check(&result)))
        }
        PolicyCommand::Test { path, cases } => {
            let result = commands::policy::test(ctx, &path, &cases)?;
            let code = output(mode, &result, || render::policy_test(&result, verbose));
            Ok(if code == 0 && result.failed > 0 { 1 } else { code })
        }
        PolicyCommand::Use { path, reset: _ } => {
            let result = commands::policy::use_module(ctx, path.as_deref())?;
            Ok(output(mode, &result, || render::policy_use(&result)))
        }
        PolicyCommand::Compile { path } => {
            let result = commands::policy::compile(ctx, &path)?;
            Ok(output(mode, &result, || render::policy_compile(&result)))
        }
    }
}

/// Print a result: pretty JSON (2-space indent) or the text rendering.
pub(crate) fn output<T: serde::Serialize>(mode: Mode, value: &T, text: impl FnOnce() -> String) -> i32 {
    match mode {
        Mode::Json => match serde_json::to_string_pretty(value) {
            Ok(s) => print_stdout(&format!("{s}\n")),
            Err(e) => report_error(&TtError::storage(format!("cannot render the result: {e}")), mode),
        },
        Mode::Text => print_stdout(&text()),
    }
}

/// Write to stdout; a closed pipe ends the command with exit 0 (cli.md §2.9).
pub(crate) fn print_stdout(text: &str) -> i32 {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(_) => 1,
    }
}

pub(crate) fn print_warnings(lines: &[String]) {
    let mut err = std::io::stderr().lock();
    for line in lines {
        let _ignored = writeln!(err, "{line}");
    }
}

/// Print an error on stderr (JSON line or `Error:`/`hint:` text) and return its exit code.
pub(crate) fn report_error(e: &TtError, mode: Mode) -> i32 {
    let mut err = std::io::stderr().lock();
    let _ignored = match mode {
        Mode::Json => writeln!(err, "{}", e.to_json()),
        Mode::Text => write!(err, "{}", e.to_text()),
    };
    e.code.exit_code()
}
