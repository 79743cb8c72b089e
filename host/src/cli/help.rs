//! Help output (cli.md §2.6): `Usage: tt <command> <synopsis>`, a blank line, one
//! paragraph, a blank line, the options, ending with the common options. Rendering
//! reads only clap's static definitions: no paths, settings, files or processes.

use super::args::Cli;
use clap::CommandFactory;
use stick::TtError;

const COMMON: &[(&str, &str)] = &[
    ("--json", "force JSON output"),
    ("--text", "force text output (--json wins)"),
    ("--verbose", "full JSON objects; extra text detail"),
    ("--agent ID", "identity override"),
    ("--policy PATH", "policy module to use (repeatable)"),
    ("--help, -h", "print help"),
];

fn options_block(title: &str, rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0).max(16);
    let mut out = format!("{title}:\n");
    for (a, b) in rows {
        out.push_str(&format!("  {a:<width$}  {b}\n"));
    }
    out
}

/// One (name, description) row per subcommand of `cmd`.
fn subcommand_rows(cmd: &clap::Command) -> Vec<(String, String)> {
    cmd.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| (s.get_name().to_string(), s.get_about().map(|a| a.to_string()).unwrap_or_default()))
        .collect()
}

/// Render help for `path` (empty: the general help).
///
/// Errors: `cli_error` "Unknown command: <name>" for an unknown command, and
/// "Unknown <command> subcommand: <name>" for an unknown subcommand.
pub fn render(path: &[String]) -> Result<String, TtError> {
    let root = Cli::command();
    let mut cmd = &root;
    let mut names: Vec<String> = Vec::new();
    for word in path {
        match cmd.find_subcommand(word) {
            Some(sub) => {
                names.push(word.clone());
                cmd = sub;
            }
            None if names.is_empty() => return Err(TtError::usage(format!("Unknown command: {word}"))),
            None if cmd.has_subcommands() => {
                return Err(TtError::usage(format!("Unknown {} subcommand: {word}", names.join(" "))));
            }
            None => break,
        }
    }
    let common: Vec<(String, String)> = COMMON.iter().map(|(a, b)| ((*a).to_string(), (*b).to_string())).collect();
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    if names.is_empty() {
        let mut out = String::from("Usage: tt <command> [options]\n\n");
        out.push_str(&about);
        out.push_str("\n\n");
        out.push_str(&options_block("Commands", &subcommand_rows(cmd)));
        out.push('\n');
        out.push_str(&options_block("Options", &[("--version".into(), "print the version".into())]));
        out.push('\n');
        out.push_str(&options_block("Common options", &common));
        return Ok(out);
    }
    let mut synopsis: Vec<String> = Vec::new();
    if cmd.has_subcommands() {
        let subs: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
        synopsis.push(format!("<{}>", subs.join("|")));
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_global_set()) {
        let value = arg.get_value_names().and_then(|v| v.first()).map(|v| v.to_string()).unwrap_or_default();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        match arg.get_long() {
            Some(long) if arg.get_action().takes_values() => rows.push((format!("--{long} {value}"), help)),
            Some(long) => rows.push((format!("--{long}"), help)),
            None => {
                let many = matches!(arg.get_action(), clap::ArgAction::Append)
                    || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
                let shown = match (arg.is_required_set(), many) {
                    (true, _) => format!("<{value}>"),
                    (false, true) => format!("[{value}…]"),
                    (false, false) => format!("[{value}]"),
                };
                synopsis.push(shown);
            }
        }
    }
    synopsis.push("[options]".into());
    let mut out = format!("Usage: tt {} {}\n\n{about}\n\n", names.join(" "), synopsis.join(" "));
    if cmd.has_subcommands() {
        out.push_str(&options_block("Subcommands", &subcommand_rows(cmd)));
        out.push('\n');
    }
    if !rows.is_empty() {
        out.push_str(&options_block("Options", &rows));
        out.push('\n');
    }
    out.push_str(&options_block("Common options", &common));
    Ok(out)
}
