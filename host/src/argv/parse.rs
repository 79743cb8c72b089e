//! The strict option rules of cli.md §2.3 that clap does not enforce by itself: a value
//! option followed by a `--` token, integer options, durations.

use crate::TtError;
use std::time::Duration;

/// The long names of every value option of every command (cli.md §2.3 rule 2: every
/// option not in the boolean set takes a value). A constant, so that parsing builds the
/// clap command tree once; a unit test keeps it equal to the clap definitions. An
/// unknown `--name` is not a value option, so clap reports it as unknown.
const VALUE_OPTIONS: &[&str] = &[
    "after",
    "agent",
    "context-path",
    "event",
    "from",
    "harness",
    "harness-boot-id",
    "harness-host-id",
    "harness-name",
    "harness-pid",
    "harness-process-started-at",
    "harness-session-id",
    "lease-id",
    "limit",
    "next-action",
    "observe-text",
    "path",
    "policy",
    "reason",
    "room-id",
    "scope",
    "status",
    "target",
    "timeout",
    "topic",
    "turn",
    "turn-id",
];

fn takes_value(name: &str) -> bool {
    VALUE_OPTIONS.contains(&name)
}

/// The name a user typed for an internal option name: `observe-text` is `text`.
pub fn shown(name: &str) -> &str {
    if name == super::args::OBSERVE_TEXT { "text" } else { name }
}

/// Global value options: their next token is a value, not a command word.
pub const GLOBAL_VALUE_OPTIONS: &[&str] = &["--agent", "--policy"];

/// The index of the command word: the first token that is not an option or the value of
/// a global value option (cli.md §2.1).
fn command_index(args: &[String]) -> Option<usize> {
    let mut skip_next = false;
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            return None;
        }
        if skip_next {
            skip_next = false;
            continue;
        }
        if a.starts_with("--") {
            skip_next = GLOBAL_VALUE_OPTIONS.contains(&a.as_str());
            continue;
        }
        if a == "-h" {
            continue;
        }
        return Some(i);
    }
    None
}

/// cli.md §2.2's one exception: after the command `claim`, a `--text` token is the value
/// option `--text TEXT` of `tt claim observe` (follow-through.md §7.1), so it is renamed
/// to the internal `--observe-text` (also `--text=V`); before the command, and for every
/// other command, `--text` stays the global output flag.
pub fn claim_text(args: Vec<String>) -> Vec<String> {
    let Some(cmd) = command_index(&args) else { return args };
    if args.get(cmd).map(String::as_str) != Some("claim") {
        return args;
    }
    let mut after_dashes = false;
    args.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if a == "--" {
                after_dashes = true;
            }
            if after_dashes || i <= cmd {
                a
            } else if a == "--text" {
                format!("--{}", super::args::OBSERVE_TEXT)
            } else if let Some(v) = a.strip_prefix("--text=") {
                format!("--{}={v}", super::args::OBSERVE_TEXT)
            } else {
                a
            }
        })
        .collect()
}

/// Boolean flags (cli.md §2.4 plus the companion specs' `hook`, `reset`, and `version`).
#[cfg(test)]
const BOOLEANS: &[&str] = &[
    "all",
    "claim",
    "events",
    "explain",
    "follow",
    "force",
    "force-new",
    "help",
    "interrupt",
    "json",
    "operator-requested",
    "park",
    "project",
    "room",
    "stdin",
    "text",
    "user",
    "verbose",
    "wait",
    "hook",
    "reset",
    "version",
];

/// Rule 3: a value option whose next token is missing or begins with `--` is a usage
/// error "Option --<name> requires a value." (checked before clap, which would accept
/// `--reason --force` as a value with hyphen values allowed).
pub fn prescan(args: &[String]) -> Result<(), TtError> {
    let mut iter = args.iter().take_while(|a| *a != "--").peekable();
    while let Some(a) = iter.next() {
        let Some(name) = a.strip_prefix("--") else { continue };
        if name.is_empty() || name.contains('=') || !takes_value(name) {
            continue;
        }
        match iter.peek() {
            Some(next) if !next.starts_with("--") => {
                iter.next();
            }
            _ => return Err(TtError::usage(format!("Option --{} requires a value.", shown(name)))),
        }
    }
    Ok(())
}

/// Commands whose next non-option token is a subcommand (cli.md §2.1).
pub const WITH_SUBCOMMAND: &[&str] = &["msg", "notes", "instructions", "claim", "policy"];

/// Commands whose next non-option token is a subcommand only when it is one of the
/// listed words, and otherwise a positional (cli.md §2.1, follow-through.md §7.3,
/// host-lock.md §9: `commitments done` vs `commitments ./done`, `guards heal-lock` vs
/// `guards ./heal-lock`).
pub const OPTIONAL_SUBCOMMANDS: &[(&str, &[&str])] =
    &[("commitments", &["done", "withdraw"]), ("guards", &["heal-lock"])];

/// Whether `word` is the subcommand of `command` (the first command word).
pub fn is_subcommand(command: &str, word: &str) -> bool {
    WITH_SUBCOMMAND.contains(&command)
        || OPTIONAL_SUBCOMMANDS.iter().any(|(c, subs)| *c == command && subs.contains(&word))
}

/// Whether the command words `words` start with a command and its subcommand
/// (`msg send`, `commitments done`), for messages that name both.
pub fn has_subcommand(words: &[String]) -> bool {
    match words {
        [first, second, ..] => is_subcommand(first, second),
        _ => false,
    }
}

/// The global boolean flags (cli.md §2.2); the global value options are
/// [`GLOBAL_VALUE_OPTIONS`]. Both may stand before or after the command.
pub const GLOBAL_FLAGS: &[&str] = &["--json", "--text", "--verbose"];

/// Whether the option token `a` (`--name` or `--name=value`) is a global option.
fn is_global(a: &str) -> bool {
    let name = a.split_once('=').map_or(a, |(n, _)| n);
    GLOBAL_FLAGS.contains(&name) || GLOBAL_VALUE_OPTIONS.contains(&name)
}

/// Where [`normalize`] puts the global options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Globals {
    /// In front of the command word, for clap's root command, which defines them. clap
    /// `global` arguments are copied into every subcommand when the tree is built (5 × 23
    /// `Arg` clones for the top-level commands alone, about 100 KB of fresh heap per
    /// process), so the fast parse does without them.
    Front,
    /// Among the other options, in the order given: for a tree whose global options are
    /// clap globals, so that clap reports the first error of the line in its own order
    /// ([`super::clap_parse_args`]).
    InPlace,
}

/// Rebuild the argument list so that clap sees `[<global options…>] <command>
/// [<subcommand>] <options…> -- <positionals…>`: options and positionals may be
/// interleaved (§2.1), global options may stand anywhere before `--` (§2.2), any token
/// that begins with a single `-` is an ordinary token (§2.3 rule 1), and a `--` ends
/// option parsing. Value options keep their value (validated by [`prescan`]);
/// `--name=value` stays one token. `claim observe --text` must already be renamed
/// ([`claim_text`]).
pub fn normalize(args: &[String], globals_at: Globals) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut globals: Vec<String> = Vec::new();
    let mut opts: Vec<String> = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut iter = args.iter();
    let mut after_dashes = false;
    while let Some(a) = iter.next() {
        if after_dashes {
            positionals.push(a.clone());
        } else if a == "--" {
            after_dashes = true;
        } else if let Some(name) = a.strip_prefix("--") {
            let to = if globals_at == Globals::Front && is_global(a) { &mut globals } else { &mut opts };
            to.push(a.clone());
            if !name.contains('=')
                && takes_value(name)
                && let Some(v) = iter.next()
            {
                to.push(v.clone());
            }
        } else if words.is_empty() || (words.len() == 1 && words.first().is_some_and(|w| is_subcommand(w, a))) {
            words.push(a.clone());
        } else {
            positionals.push(a.clone());
        }
    }
    let mut out = globals;
    out.extend(words);
    out.extend(opts);
    if !positionals.is_empty() {
        out.push("--".to_string());
        out.extend(positionals);
    }
    out
}

/// Rule 4: `^\d+$` that fits in i64, else "--<name> must be an integer.".
pub fn integer(name: &str, value: Option<&str>) -> Result<Option<i64>, TtError> {
    let Some(v) = value else { return Ok(None) };
    let ok = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    match ok.then(|| v.parse::<i64>().ok()).flatten() {
        Some(n) => Ok(Some(n)),
        None => Err(TtError::usage(format!("--{name} must be an integer."))),
    }
}

/// Rule 5: a bare integer is seconds; otherwise `^(\d+)(ms|s|m|h)$`.
pub fn duration(value: Option<&str>) -> Result<Option<Duration>, TtError> {
    let Some(v) = value else { return Ok(None) };
    let bad = || TtError::usage("--timeout must be a duration such as 30, 500ms, 30s, 5m or 1h.");
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let unit = v.get(digits.len()..).unwrap_or_default();
    let ms = match unit {
        "" | "s" => n.checked_mul(1000),
        "ms" => Some(n),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    };
    ms.map(Duration::from_millis).map(Some).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn value_options_match_the_clap_definitions() {
        fn walk(cmd: &clap::Command, out: &mut std::collections::BTreeSet<String>) {
            for a in cmd.get_arguments() {
                if let Some(long) = a.get_long()
                    && a.get_action().takes_values()
                {
                    out.insert(long.to_string());
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, out);
            }
        }
        let mut derived = std::collections::BTreeSet::new();
        let mut tree = super::super::args::Cli::command();
        tree.build();
        walk(&tree, &mut derived);
        let listed: std::collections::BTreeSet<String> = VALUE_OPTIONS.iter().map(|s| s.to_string()).collect();
        assert_eq!(derived, listed);
        assert!(VALUE_OPTIONS.iter().all(|v| !BOOLEANS.contains(v)));
    }

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn value_options_never_swallow_flags() {
        assert!(prescan(&v(&["take", "--reason", "--force"])).is_err());
        assert!(prescan(&v(&["take", "--reason"])).is_err());
        assert!(prescan(&v(&["take", "--reason", "x", "--force"])).is_ok());
        assert!(prescan(&v(&["join", "--json", "/repo"])).is_ok());
        assert!(prescan(&v(&["msg", "send", "room", "--", "--reason"])).is_ok());
        assert!(prescan(&v(&["notes", "add", "x", "--turn", "-1"])).is_ok());
    }

    #[test]
    fn normalize_moves_positionals_behind_dashes() {
        assert_eq!(
            normalize(&v(&["msg", "send", "room", "--stdin", "-x", "--path", "/p"]), Globals::Front),
            v(&["msg", "send", "--stdin", "--path", "/p", "--", "room", "-x"])
        );
        assert_eq!(
            normalize(&v(&["--agent", "a:b", "pass", "agent:b", "--status", "s"]), Globals::Front),
            v(&["--agent", "a:b", "pass", "--status", "s", "--", "agent:b"])
        );
        // Global options move in front of the command, wherever they stand before `--`.
        assert_eq!(
            normalize(
                &v(&["release", "--status", "s", "--agent=x", "--json", "--policy", "p.wasm", "--", "--text"]),
                Globals::Front
            ),
            v(&["--agent=x", "--json", "--policy", "p.wasm", "release", "--status", "s", "--", "--text"])
        );
        assert_eq!(
            normalize(&v(&["msg", "--verbose", "send", "room", "--text"]), Globals::Front),
            v(&["--verbose", "--text", "msg", "send", "--", "room"])
        );
        assert_eq!(
            normalize(&v(&["msg", "send", "room", "--", "--help"]), Globals::Front),
            v(&["msg", "send", "--", "room", "--help"])
        );
        assert_eq!(normalize(&v(&["join", "--json", "/repo"]), Globals::Front), v(&["--json", "join", "--", "/repo"]));
        assert_eq!(
            normalize(&v(&["guards", "--json", "heal-lock", "--force"]), Globals::Front),
            v(&["--json", "guards", "heal-lock", "--force"])
        );
        assert_eq!(
            normalize(&v(&["guards", "./heal-lock", "--json"]), Globals::Front),
            v(&["--json", "guards", "--", "./heal-lock"])
        );
        assert_eq!(
            normalize(&v(&["commitments", "done", "CMT-1", "--force"]), Globals::Front),
            v(&["commitments", "done", "--force", "--", "CMT-1"])
        );
        assert_eq!(
            normalize(&v(&["commitments", "./done", "--all"]), Globals::Front),
            v(&["commitments", "--all", "--", "./done"])
        );
    }

    #[test]
    fn text_after_claim_is_the_observe_value_option() {
        assert_eq!(
            claim_text(v(&["--text", "claim", "observe", "--text", "I'll push", "--json"])),
            v(&["--text", "claim", "observe", "--observe-text", "I'll push", "--json"])
        );
        assert_eq!(claim_text(v(&["--agent", "claim", "wait", "--text"])), v(&["--agent", "claim", "wait", "--text"]));
        assert_eq!(claim_text(v(&["claim", "observe", "--text=x"])), v(&["claim", "observe", "--observe-text=x"]));
        assert_eq!(claim_text(v(&["claim", "observe", "--", "--text"])), v(&["claim", "observe", "--", "--text"]));
        assert!(prescan(&v(&["claim", "observe", "--observe-text"])).is_err_and(|e| e.message.contains("--text ")));
    }

    #[test]
    fn integers_and_durations_are_strict() {
        assert_eq!(integer("after", Some("12")).ok().flatten(), Some(12));
        for bad in ["100ms", "-1", "", "1.5", "99999999999999999999"] {
            assert!(integer("after", Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(duration(Some("30")).ok().flatten(), Some(Duration::from_secs(30)));
        assert_eq!(duration(Some("500ms")).ok().flatten(), Some(Duration::from_millis(500)));
        assert_eq!(duration(Some("5m")).ok().flatten(), Some(Duration::from_secs(300)));
        assert_eq!(duration(Some("1h")).ok().flatten(), Some(Duration::from_secs(3600)));
        for bad in ["5x", "", "m", "-1", "1.5s"] {
            assert!(duration(Some(bad)).is_err(), "{bad}");
        }
    }
}
