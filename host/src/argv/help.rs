//! Help output (cli.md §2.6): `Usage: tt <command> <synopsis>`, a blank line, one
//! paragraph, a blank line, the options, ending with the common options. Rendering
//! reads only clap's static definitions: no paths, settings, files or processes.

use super::args::Cli;
use crate::TtError;
use clap::CommandFactory;

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

/// Synopsis and description of each protocol command (cli.md §4); other commands use
/// clap's `about` and a synopsis derived from their arguments.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "whoami",
        "[--explain]",
        "Show the caller's identity: the agent id tt derives from --agent, TT_HARNESS_AGENT_ID, the harness environment or the user name, with the process metadata it records. Never opens the data directory.",
    ),
    (
        "list",
        "[path] [--all]",
        "List rooms (at most 200 without --all) with a cheap state projection; with a path, only the rooms at that path and its ancestors.",
    ),
    (
        "join",
        "[path] [--force-new]",
        "Join (or create) the room for a path. The room is the deepest existing room among the path and its ancestors, else a new room at the workspace root; --force-new creates a nested room at the path itself.",
    ),
    (
        "leave",
        "[path]",
        "Leave the room. A held stick is given up without a handoff; the room is deleted when no active member remains.",
    ),
    (
        "kick",
        "<agent_id> [path] [--reason TEXT] [--force]",
        "Remove another member. Without --force only a member that is persistently gone or whose presence is stale can be kicked.",
    ),
    (
        "wait",
        "[path] [--timeout D] [--park] [--after N] [--target self]",
        "Wait for the turn and for events addressed to you. Returns your_turn (with a guardian holding the lease), not_yet, takeover_available or closed, plus the events since your cursor. Without --timeout it waits until something happens. Act only on your_turn.",
    ),
    ("try", "[path] [--park] [--after N]", "One non-blocking wait attempt: exactly one poll and one event query."),
    (
        "take",
        "[path] [--reason TEXT] [--operator-requested] [--force]",
        "Take the stick over when the holder or the reserved recipient is unresponsive (or as an operator). Harness callers must give --reason unless --operator-requested is set. Alias: takeover.",
    ),
    (
        "heartbeat",
        "[path] [--lease-id L --turn-id N]",
        "Renew the lease by hand with the recorded tokens (or the given ones). The guardian does this for you; this command is for operators and tests.",
    ),
    (
        "release",
        "[path] (--status TEXT --next-action TEXT | --stdin)",
        "End your turn with a structured handoff. The fairest recent waiter gets the reservation; otherwise the handoff waits in the idle room for the next claimant. The path is positional only.",
    ),
    (
        "pass",
        "[agent:id] [path] (--status TEXT --next-action TEXT | --stdin)",
        "End your turn. Without a target it is release; with a first argument containing `:` it passes the stick to that member (as tt assign).",
    ),
    (
        "assign",
        "<target|next> [path] (--status TEXT --next-action TEXT | --stdin) [--operator-requested]",
        "Pass the stick to a member: an exact agent id, a display name or id prefix, or `next` (the fairest active member).",
    ),
    (
        "health",
        "[path] [--verbose] [--all]",
        "One-screen room summary: state, owner, lease, your guardian, git status, whether a takeover is available and what to do next. Alias: status.",
    ),
    ("state", "[path] [--all]", "Room and member details with the derived room state and each member's activity."),
    (
        "events",
        "[path] [--after N] [--limit N] [--all] [--wait|--follow] [--event T[,T…]] [--target self|any|ID] [--from ID] [--timeout D]",
        "Read the room's event log (newest 50 by default, or a page after --after), or stream it with --wait (one long-poll) or --follow (until a signal).",
    ),
    ("msg", "<send|recv> …", "Send and read messages. Messages never grant the stick."),
    (
        "msg send",
        "<recipient|room> <body…> [--interrupt] [--stdin] [--room] [--path DIR]",
        "Send a message to a member (agent id or display name) or to the whole room. The body is the remaining arguments or stdin (at most 4096 bytes).",
    ),
    (
        "msg recv",
        "[--wait|--follow] [--from ID] [--after N] [--limit N] [--all] [--target T] [--timeout D] [--path DIR]",
        "Read or stream the messages addressed to you (as tt events restricted to message_sent).",
    ),
    ("notes", "<add|list> …", "Durable, room-scoped notes outside the event stream."),
    (
        "notes add",
        "<body…> [--turn N] [--stdin] [--path DIR]",
        "Add a note (at most 16384 bytes), optionally tied to a turn.",
    ),
    (
        "notes list",
        "[--all] [--after NOTE_ID] [--limit N] [--path DIR]",
        "List notes, oldest first (today's newest 50 by default).",
    ),
    (
        "instructions",
        "<show|edit|reset> [path] [options]",
        "The collaboration instructions agents read: bundled, user (data directory) and project (.talking-stick/instructions.md) layers.",
    ),
    (
        "instructions show",
        "[path] [--harness H] [--scope effective|bundled|user|project]",
        "Print the instructions for a harness (default: the caller's).",
    ),
    (
        "instructions edit",
        "[path] [--user|--project]",
        "Create (from a template) and open a layer in $VISUAL or $EDITOR.",
    ),
    ("instructions reset", "[path] (--user|--project)", "Delete a layer's file."),
    (
        "guards",
        "[path] [--json]",
        "Show the guard posture: one row per safety guard (host-lock, supersession, action-claim-sentinel, idle-room-purge, claim-timeout-takeover, policy-module) with its state (on-confirmed, on-unverified, on-dry-run, off, off-runtime-divergent, errored) and one attention line per guard that is switched on but not working, switched off against its default, or errored. The host lock is observed, never written; no database is opened. [path] (default: the current directory) locates the workspace whose Claude Code Stop hook is checked. Exits 0 whatever the states are.",
    ),
    (
        "guards heal-lock",
        "[--force] [--json]",
        "Make host.lock name this host. Without --force it runs the lock check of every writing command (creates an absent lock, replaces a corrupt one, heals a renamed host or, with host_lock_auto_heal, a stale lock on a provably local disk) and fails with host_lock_conflict if the lock stays foreign. With --force a foreign or corrupt lock is taken over at once, without probes or policy: use it only after verifying that no other machine uses the data directory. A data directory on NFS or SMB is refused either way.",
    ),
    (
        "claim",
        "<observe> …",
        "Record action claims (\"I'll restart the server\", \"Pushing it now\") as follow-through commitments that are shown back until closed and handed to the next holder when a turn ends without a release.",
    ),
    (
        "claim observe",
        "[path] [--topic T] (--text TEXT | --stdin | --hook)",
        "Classify a text and record a commitment when it holds a concrete first-person claim to relaunch, restart, redeploy, deploy, push, merge, revert, rebase, rerun or fix. Restating an open claim never duplicates it; a commitment expires after 6 hours unless closed. --text here is this option, not the output flag. --hook is the Claude Code Stop hook: it reads the hook payload on stdin (or the transcript it names), never blocks, prints nothing without --json and always exits 0.",
    ),
    (
        "commitments",
        "[path] [--all] | done <id> [--force] | withdraw <id> [--reason TEXT] [--force]",
        "List your open commitments and the room-held ones awaiting the next holder (--all: every commitment of the room, any status). A directory named done or withdraw is written ./done.",
    ),
    (
        "commitments done",
        "<id> [--force]",
        "Close a commitment you owe (or a room-held one) as done. With --force any member may close any commitment of the room.",
    ),
    (
        "commitments withdraw",
        "<id> [--reason TEXT] [--force]",
        "Withdraw a commitment you owe (or a room-held one), with an optional reason of at most 500 characters.",
    ),
    (
        "guard",
        "--agent A --context-path P --room-id R --lease-id L --turn-id N [--harness-…]",
        "Internal: the lease guardian spawned after a grant. Prints READY, renews the lease every heartbeat interval and relinquishes it when the owner's harness is persistently gone.",
    ),
];

/// Render help for `path` (empty: the general help).
///
/// Errors: `cli_error` "Unknown command: <name>" for an unknown command, and
/// "Unknown <command> subcommand: <name>" for an unknown subcommand.
pub fn render(path: &[String]) -> Result<String, TtError> {
    // The subcommands' arguments are deferred (args.rs): build the whole tree to read it.
    let mut root = Cli::command();
    root.build();
    let mut cmd = &root;
    let mut names: Vec<String> = Vec::new();
    for word in path {
        match cmd.find_subcommand(word) {
            Some(sub) => {
                names.push(word.clone());
                cmd = sub;
            }
            None if names.is_empty() => return Err(TtError::usage(format!("Unknown command: {word}"))),
            // A command whose subcommand is optional takes this word as its positional.
            None if cmd.has_subcommands() && cmd.get_positionals().next().is_none() => {
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
    for arg in cmd.get_arguments().filter(|a| !a.is_global_set() && !a.is_hide_set()) {
        let value = arg.get_value_names().and_then(|v| v.first()).map(|v| v.to_string()).unwrap_or_default();
        let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
        match arg.get_long().map(super::parse::shown) {
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
    let key = names.join(" ");
    let (synopsis, about) = match PAGES.iter().find(|(k, _, _)| *k == key) {
        Some((_, syn, text)) => ((*syn).to_string(), (*text).to_string()),
        None => (synopsis.join(" "), about),
    };
    let mut out = format!("Usage: tt {key} {synopsis}\n\n{about}\n\n");
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
