//! The command line: parse, resolve the context, dispatch, render, exit code
//! (cli.md §2).

mod args;
mod help;
mod render;

mod dispatch;
mod hook;
mod parse;

use args::{Cli, Command, GuardsCommand, GuardsOpts, PolicyCommand};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use serde_json::Value;
use std::io::Write;
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

/// The command words (`policy`, `test`, …) of `args` before `--`, skipping option
/// values of the global value options.
fn command_words(args: &[String]) -> Vec<String> {
    let mut words = Vec::new();
    let mut skip_next = false;
    for a in args.iter().take_while(|a| *a != "--") {
        if skip_next {
            skip_next = false;
            continue;
        }
        if a.starts_with("--") {
            skip_next = parse::GLOBAL_VALUE_OPTIONS.contains(&a.as_str());
            continue;
        }
        if a == "-h" {
            continue;
        }
        words.push(a.clone());
    }
    words
}

fn wants_help(args: &[String]) -> bool {
    args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h")
}

/// Run `tt` with `args` (without the program name); returns the exit code.
pub fn run(args: Vec<String>, env: Env) -> i32 {
    let args = parse::claim_text(args);
    let words = command_words(&args);
    let before_dashes = || args.iter().take_while(|a| *a != "--");
    let json_flag = before_dashes().any(|a| a == "--json");
    let text_flag = before_dashes().any(|a| a == "--text");
    let fallback_mode = if json_flag || (!text_flag && harness_env(&env)) { Mode::Json } else { Mode::Text };
    // Help is side-effect free (cli.md §2.6): decided before anything is resolved.
    if args.is_empty() || wants_help(&args) || words.first().is_some_and(|w| w == "help") {
        let path: Vec<String> = if words.first().is_some_and(|w| w == "help") {
            words.iter().skip(1).take(2).cloned().collect()
        } else {
            words.iter().take(2).cloned().collect()
        };
        return match help::render(&path) {
            Ok(text) => print_stdout(&text),
            Err(e) => report_error(&e, fallback_mode),
        };
    }
    // Hook mode answers every outcome itself and always exits 0 (follow-through.md §7.2).
    if hook::requested(&args, &words) {
        return hook::run(&args, &env);
    }
    if let Err(e) = parse::prescan(&args) {
        return report_error(&e, fallback_mode);
    }
    let cli = match parse_cli(parse::normalize(&args)) {
        Ok(cli) => cli,
        Err(e) => return report_error(&clap_error(&e, &words), fallback_mode),
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
        return match help::render(&[]) {
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

/// `Cli::try_parse_from`, except that the command tree is not freed: `tt` runs once per
/// process and exits right after, and dropping the tree of every subcommand and argument
/// costs about a quarter of the parse (docs/PERFORMANCE.md: whole-process time is a
/// protocol target). One tree per call; the allocation lives until the process exits.
fn parse_cli(argv: Vec<String>) -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = std::mem::ManuallyDrop::new(Cli::command());
    let mut matches = command.try_get_matches_from_mut(argv)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command))
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
        Mode::Text => match &e.hint {
            Some(h) => writeln!(err, "Error: {}\nhint: {h}", e.message),
            None => writeln!(err, "Error: {}", e.message),
        },
    };
    e.code.exit_code()
}

/// The bare name of a clap argument display: `--agent <ID>` → `--agent`,
/// `--json...` → `--json`, `[PATH]` → `PATH`.
fn arg_name(display: &str) -> String {
    let first = display.split([' ', '=']).next().unwrap_or_default();
    let name = first.trim_end_matches("...").trim_matches(['[', ']', '<', '>']).trim_end_matches("...");
    match name.strip_prefix("--") {
        Some(long) => format!("--{}", parse::shown(long)),
        None => name.to_string(),
    }
}

/// Map a clap error to a `cli_error` with the messages of cli.md §2.3.
pub(crate) fn clap_error(e: &clap::Error, words: &[String]) -> TtError {
    let invalid_arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    let option_name = arg_name(&invalid_arg);
    // The command, and its subcommand for the commands that take one (cli.md §2.1).
    let with_sub =
        words.first().is_some_and(|w| parse::WITH_SUBCOMMAND.contains(&w.as_str())) || parse::has_subcommand(words);
    let command = words.iter().take(if with_sub { 2 } else { 1 }).cloned().collect::<Vec<_>>().join(" ");
    let message = match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let bad = match e.get(ContextKind::InvalidSubcommand) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => words.last().cloned().unwrap_or_default(),
            };
            match words.first() {
                Some(first) if *first != bad => format!("Unknown {first} subcommand: {bad}"),
                _ => format!("Unknown command: {bad}"),
            }
        }
        ErrorKind::UnknownArgument if invalid_arg.starts_with("--") => {
            format!("Unknown option {option_name} for tt {command}.")
        }
        ErrorKind::UnknownArgument => format!("Unexpected argument `{invalid_arg}` for tt {command}."),
        ErrorKind::InvalidValue | ErrorKind::NoEquals if invalid_arg.starts_with("--") => {
            format!("Option {option_name} requires a value.")
        }
        ErrorKind::TooManyValues if invalid_arg.starts_with("--") => {
            format!("Option {option_name} does not take a value.")
        }
        ErrorKind::ArgumentConflict => {
            let prior = match e.get(ContextKind::PriorArg) {
                Some(ContextValue::String(s)) => arg_name(s),
                _ => option_name.clone(),
            };
            if prior == option_name {
                format!("Option {option_name} may be given only once.")
            } else {
                format!("{prior} and {option_name} cannot be used together with tt {command}.")
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::Strings(v)) => v.join(", "),
                _ => invalid_arg.clone(),
            };
            format!("tt {command} needs {missing}.")
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            format!("tt {command} needs a subcommand; see `tt help {command}`.")
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments");
            first.trim_start_matches("error: ").to_string()
        }
    };
    TtError::usage(message)
}
