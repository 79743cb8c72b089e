//! The command line of `tt`, parsed without side effects (cli.md §2.1–§2.6): the clap
//! definitions ([`args`]), the strict option rules clap does not enforce by itself
//! ([`parse`]), help rendering ([`help`]), and [`parse_line`], which decides what an
//! argument list asks for: help, hook mode, or a command that clap accepted.
//!
//! Everything here is pure: no environment, no files, no processes, no output. The `tt`
//! binary (`host/src/cli/`) validates the command's values, resolves the context and
//! runs it; the fuzz target `cli_args` (`fuzz/`) drives [`parse_line`] directly.

pub mod args;
pub mod help;
pub mod parse;

use crate::TtError;
use args::Cli;
use clap::error::{ContextKind, ContextValue, ErrorKind};

/// One argument list (without the program name) after the `--text` rename of `tt claim
/// observe` (cli.md §2.2, [`parse::claim_text`]), with the facts that decide the output
/// mode of an early error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The arguments, `--text` after `claim` renamed to `--observe-text`.
    pub args: Vec<String>,
    /// The command words (`policy`, `test`, …) before `--`, skipping the values of the
    /// global value options.
    pub words: Vec<String>,
    /// `--json` appears before `--`.
    pub json_flag: bool,
    /// `--text` (the global output flag) appears before `--`.
    pub text_flag: bool,
}

/// What an argument list asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Print this help text (cli.md §2.6): decided before anything else is resolved.
    Help(String),
    /// Hook mode of `tt claim observe` (follow-through.md §7.2), which reports every
    /// outcome itself, usage errors included, and always exits 0.
    Hook,
    /// A command line that clap accepted; its values are not validated yet (integers,
    /// durations, conflicts: the binary's `dispatch::validate`).
    Command(Box<Cli>),
}

impl Line {
    /// Split `args` (without the program name) into a [`Line`].
    pub fn new(args: Vec<String>) -> Line {
        let args = parse::claim_text(args);
        let words = command_words(&args);
        let before_dashes = || args.iter().take_while(|a| *a != "--");
        let json_flag = before_dashes().any(|a| a == "--json");
        let text_flag = before_dashes().any(|a| a == "--text");
        Line { args, words, json_flag, text_flag }
    }

    /// Whether help is asked for: no arguments, `--help`/`-h` before `--`, or the command
    /// `help` (cli.md §2.6).
    pub fn wants_help(&self) -> bool {
        self.args.is_empty()
            || self.args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "-h")
            || self.words.first().is_some_and(|w| w == "help")
    }

    /// Whether this is hook mode: the command `claim observe` with `--hook` before any
    /// `--` (follow-through.md §7.2).
    pub fn wants_hook(&self) -> bool {
        self.words.first().is_some_and(|w| w == "claim")
            && self.words.get(1).is_some_and(|w| w == "observe")
            && self.args.iter().take_while(|a| *a != "--").any(|a| a == "--hook" || a.starts_with("--hook="))
    }

    /// The command path whose help is asked for (empty: the general help).
    fn help_path(&self) -> Vec<String> {
        let skip = usize::from(self.words.first().is_some_and(|w| w == "help"));
        self.words.iter().skip(skip).take(2).cloned().collect()
    }
}

/// The command words of `args` before `--`, skipping option values of the global value
/// options (cli.md §2.1).
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

/// Decide what `line` asks for. The clap tree is built only when clap is needed, and
/// freed afterwards.
///
/// Errors: `cli_error` (exit 2) with the messages of cli.md §2.3 and §2.6 — an unknown
/// command, subcommand or option, a value option without a value, a repeated value
/// option, too many positionals, a value given to a boolean flag.
pub fn parse_line(line: &Line) -> Result<Parsed, TtError> {
    parse_line_impl(line, false)
}

/// [`parse_line`] for a process that exits right after: the clap tree is never freed.
/// `tt` parses once per process, and dropping the tree of every subcommand and argument
/// costs about a quarter of the parse (docs/PERFORMANCE.md: whole-process time is a
/// protocol target). Tests and fuzzing use [`parse_line`].
///
/// Errors: as [`parse_line`].
pub fn parse_line_once(line: &Line) -> Result<Parsed, TtError> {
    parse_line_impl(line, true)
}

fn parse_line_impl(line: &Line, keep_tree: bool) -> Result<Parsed, TtError> {
    if line.wants_help() {
        return help::render(&line.help_path()).map(Parsed::Help);
    }
    if line.wants_hook() {
        return Ok(Parsed::Hook);
    }
    parse::prescan(&line.args)?;
    let parsed = clap_parse_args(&line.args, keep_tree).map_err(|e| clap_error(&e, &line.words))?;
    Ok(Parsed::Command(Box::new(parsed)))
}

/// Parse `args` (after [`parse::prescan`]) with clap. The fast parse puts the global
/// options in front of the command word for the root command, which defines them
/// ([`parse::Globals::Front`]). A line it rejects is parsed again in its own order by a
/// tree whose global options are clap globals, and that parse's error is returned: it
/// names the first problem of the line as written (`tt bogus --json=1` is an unknown
/// command, not a flag given a value). Only failing lines pay for the copies. With
/// `keep_tree` the fast parse's tree is never freed ([`parse_line_once`]).
///
/// Errors: clap's, for [`clap_error`].
pub fn clap_parse_args(args: &[String], keep_tree: bool) -> Result<Cli, clap::Error> {
    let mut tree = std::mem::ManuallyDrop::new(Cli::command_tree());
    let fast = clap_parse(&mut tree, parse::normalize(args, parse::Globals::Front));
    if !keep_tree {
        drop(std::mem::ManuallyDrop::into_inner(tree));
    }
    fast.or_else(|_| clap_parse(&mut Cli::command_tree_with_globals(), parse::normalize(args, parse::Globals::InPlace)))
}

impl Cli {
    /// The clap command tree of `tt` (built on every call).
    pub fn command_tree() -> clap::Command {
        <Cli as clap::CommandFactory>::command()
    }

    /// [`Cli::command_tree`] with the global options (cli.md §2.2) marked as clap
    /// globals, so that every subcommand accepts them in place.
    pub fn command_tree_with_globals() -> clap::Command {
        parse::GLOBAL_FLAGS
            .iter()
            .chain(parse::GLOBAL_VALUE_OPTIONS)
            .map(|o| o.trim_start_matches("--"))
            .fold(Cli::command_tree(), |tree, id| tree.mut_arg(id, |a| a.global(true)))
    }
}

/// Parse normalised arguments (`<command> [<subcommand>] <options…> -- <positionals…>`,
/// [`parse::normalize`]) with clap. Errors: clap's, for [`clap_error`].
pub fn clap_parse(tree: &mut clap::Command, argv: Vec<String>) -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let mut matches = tree.try_get_matches_from_mut(argv)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(tree))
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

/// Map a clap error to a `cli_error` (exit 2) with the messages of cli.md §2.3; `words`
/// are the command words of the line (they name the command in the message).
pub fn clap_error(e: &clap::Error, words: &[String]) -> TtError {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, TtError> {
        parse_line(&Line::new(args.iter().map(|s| (*s).to_string()).collect()))
    }

    #[test]
    fn help_hook_command_and_errors() {
        for help in [&[][..], &["--help"], &["help", "wait"], &["wait", "--timeout", "5x", "-h"]] {
            assert!(matches!(parse(help), Ok(Parsed::Help(t)) if t.starts_with("Usage: tt ")), "{help:?}");
        }
        assert!(matches!(parse(&["claim", "observe", "--hook", "--bogus"]), Ok(Parsed::Hook)));
        assert!(matches!(parse(&["--json", "join", "/repo"]), Ok(Parsed::Command(_))));
        let e = parse(&["frobnicate"]).err().unwrap();
        assert_eq!((e.code, e.message.as_str()), (crate::ErrorCode::CliError, "Unknown command: frobnicate"));
        let e = parse(&["take", "--reason", "--force"]).err().unwrap();
        assert_eq!(e.message, "Option --reason requires a value.");
        let e = parse(&["claim", "observe", "--text"]).err().unwrap();
        assert_eq!(e.message, "Option --text requires a value.");
    }

    #[test]
    fn errors_name_the_first_problem_as_written() {
        // The global options are parsed in front of the command only on the fast path;
        // a rejected line is reported in its own order (cli.md §2.3).
        for (args, message) in [
            (&["bogus", "--json=1"][..], "Unknown command: bogus"),
            (&["release", "--bogus", "--json=1"], "Unknown option --bogus for tt release."),
            (&["release", "--json=1", "--bogus"], "Option --json does not take a value."),
            (&["msg", "--json=x", "bogus"], "Unknown msg subcommand: bogus"),
            (&["state", "--agent", "a", "--agent", "b"], "Option --agent may be given only once."),
        ] {
            assert_eq!(parse(args).err().unwrap().message, message, "{args:?}");
        }
        assert!(matches!(parse(&["release", "--status", "s", "--json", "--agent=x"]), Ok(Parsed::Command(_))));
    }

    #[test]
    fn the_kept_tree_parses_alike() {
        let line = Line::new(vec!["msg".into(), "send".into(), "room".into(), "--".into(), "--help".into()]);
        let once = format!("{:?}", parse_line_once(&line).unwrap());
        assert_eq!(once, format!("{:?}", parse_line(&line).unwrap()));
    }
}
