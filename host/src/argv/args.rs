//! The clap definitions of `tt`'s command line (cli.md §2, §4). Help is rendered by
//! [`super::help`], not by clap, so that it stays side-effect free and in the format of
//! cli.md §2.6. Boolean flags count their occurrences: repeating one is allowed
//! (cli.md §2.3 rule 7), giving it a value is not. Integer and duration options are
//! taken as text and validated by [`super::parse`] so that the messages are exactly
//! those of cli.md §2.3.

use clap::{ArgAction, Args, Parser, Subcommand};

/// The whole command line. The global options (cli.md §2.2) are options of the root
/// command; [`super::parse::normalize`] moves them in front of the command word.
#[derive(Debug, Parser)]
#[command(
    name = "tt",
    no_binary_name = true,
    disable_help_flag = true,
    disable_version_flag = true,
    disable_help_subcommand = true,
    about = "Take turns holding the stick: a fenced lease for AI coding agents sharing one workspace."
)]
pub struct Cli {
    /// Force JSON output.
    #[arg(long, action = ArgAction::Count)]
    pub json: u8,
    /// Force text output (--json wins).
    #[arg(long, action = ArgAction::Count)]
    pub text: u8,
    /// Full JSON objects; extra text detail.
    #[arg(long, action = ArgAction::Count)]
    pub verbose: u8,
    /// Identity override.
    #[arg(long, value_name = "ID", allow_hyphen_values = true)]
    pub agent: Option<String>,
    /// Policy module to use (repeatable; first module implementing a slot wins).
    #[arg(long, value_name = "PATH", action = ArgAction::Append, allow_hyphen_values = true)]
    pub policy: Vec<String>,
    /// Print the version.
    #[arg(long, action = ArgAction::Count)]
    pub version: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Boolean flag helper: counted so repeats are allowed.
macro_rules! flag {
    () => {
        ArgAction::Count
    };
}

/// The commands. Each subcommand's arguments are built only when it is parsed
/// (`defer`): `tt` parses one command per process, and building all 30 argument lists
/// was most of the parse (docs/PERFORMANCE.md). Code that walks the whole tree calls
/// `clap::Command::build` first.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Show the caller's identity.
    Whoami {
        /// Add source, session kind and detail lines.
        #[arg(long, action = flag!())]
        explain: u8,
    },
    /// List rooms.
    List {
        /// Restrict to rooms at this path's ancestors.
        #[arg()]
        path: Option<String>,
        /// No 200-room cap.
        #[arg(long, action = flag!())]
        all: u8,
    },
    /// Join (or create) the room for a path.
    Join {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Create a nested room at this path.
        #[arg(long = "force-new", action = flag!())]
        force_new: u8,
    },
    /// Leave the room.
    Leave {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
    },
    /// Remove another member.
    Kick {
        /// The member to remove (exact agent id).
        #[arg()]
        agent_id: String,
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Why.
        #[arg(long, allow_hyphen_values = true)]
        reason: Option<String>,
        /// Kick even an active member.
        #[arg(long, action = flag!())]
        force: u8,
    },
    /// Wait for the turn and for events.
    Wait(WaitOpts),
    /// One non-blocking wait attempt.
    Try(TryOpts),
    /// Take the stick over.
    #[command(alias = "takeover")]
    Take {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Why (required for harness callers).
        #[arg(long, allow_hyphen_values = true)]
        reason: Option<String>,
        /// An operator asked for it.
        #[arg(long = "operator-requested", action = flag!())]
        operator_requested: u8,
        /// Override eligibility.
        #[arg(long, action = flag!())]
        force: u8,
    },
    /// Renew the lease by hand.
    Heartbeat {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Lease id (with --turn-id).
        #[arg(long = "lease-id", allow_hyphen_values = true)]
        lease_id: Option<String>,
        /// Turn id (with --lease-id).
        #[arg(long = "turn-id", allow_hyphen_values = true)]
        turn_id: Option<String>,
    },
    /// End the turn with a handoff.
    Release(HandoffOpts),
    /// End the turn (or pass to `<agent:id>`).
    Pass(HandoffOpts),
    /// Pass the stick to a member.
    Assign(AssignOpts),
    /// One-screen room summary.
    #[command(alias = "status")]
    Health {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Every member.
        #[arg(long, action = flag!())]
        all: u8,
    },
    /// Room and member details.
    State {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Every member.
        #[arg(long, action = flag!())]
        all: u8,
    },
    /// Read or stream events.
    Events(EventsOpts),
    /// Messages.
    Msg {
        /// The subcommand.
        #[command(subcommand)]
        command: MsgCommand,
    },
    /// Durable notes.
    Notes {
        /// The subcommand.
        #[command(subcommand)]
        command: NotesCommand,
    },
    /// Collaboration instructions.
    Instructions {
        /// The subcommand.
        #[command(subcommand)]
        command: InstructionsCommand,
    },
    /// Record action claims as commitments.
    Claim {
        /// The subcommand.
        #[command(subcommand)]
        command: ClaimCommand,
    },
    /// List, close or withdraw follow-through commitments.
    Commitments(CommitmentsOpts),
    /// Internal: the lease guardian.
    #[command(hide = true)]
    Guard(GuardOpts),
    /// The guard posture; `heal-lock` repairs the host lock.
    #[command(
        about = "Show one status row per safety guard (host lock, supersession, action-claim sentinel, idle-room purge, claim-timeout takeover, policy module) and what needs attention.",
        args_conflicts_with_subcommands = true,
        subcommand_value_name = "SUBCOMMAND"
    )]
    Guards(GuardsOpts),
    /// Inspect, test, compile and select policy modules.
    #[command(
        about = "Inspect, test, compile and select the WebAssembly policy modules that make tt's judgment calls.",
        subcommand_value_name = "SUBCOMMAND"
    )]
    Policy {
        /// The subcommand.
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

/// `tt wait` options (cli.md §4.6).
#[derive(Debug, Args)]
pub struct WaitOpts {
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// Duration.
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Never auto-claim.
    #[arg(long, action = flag!())]
    pub park: u8,
    /// Accepted, ignored.
    #[arg(long, action = flag!())]
    pub claim: u8,
    /// Accepted, ignored.
    #[arg(long, action = flag!())]
    pub events: u8,
    /// Start cursor.
    #[arg(long, allow_hyphen_values = true)]
    pub after: Option<String>,
    /// Only `self`.
    #[arg(long, allow_hyphen_values = true)]
    pub target: Option<String>,
}

/// `tt try` options (cli.md §4.7).
#[derive(Debug, Args)]
pub struct TryOpts {
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// Never auto-claim.
    #[arg(long, action = flag!())]
    pub park: u8,
    /// Accepted, ignored.
    #[arg(long, action = flag!())]
    pub claim: u8,
    /// Accepted, ignored.
    #[arg(long, action = flag!())]
    pub events: u8,
    /// Start cursor.
    #[arg(long, allow_hyphen_values = true)]
    pub after: Option<String>,
}

/// `tt release` / `tt pass` options (cli.md §4.10–§4.11).
#[derive(Debug, Args)]
pub struct HandoffOpts {
    /// Positionals: `[path]` (pass: `[agent:id] [path]`).
    #[arg()]
    pub positionals: Vec<String>,
    /// Handoff status.
    #[arg(long, allow_hyphen_values = true)]
    pub status: Option<String>,
    /// Handoff next action.
    #[arg(long = "next-action", allow_hyphen_values = true)]
    pub next_action: Option<String>,
    /// Read a JSON handoff object from stdin.
    #[arg(long, action = flag!())]
    pub stdin: u8,
    /// Not accepted: the path is positional.
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub path: Option<String>,
}

/// `tt assign` options (cli.md §4.11).
#[derive(Debug, Args)]
pub struct AssignOpts {
    /// `<target|next>`.
    #[arg()]
    pub target: String,
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// Handoff status.
    #[arg(long, allow_hyphen_values = true)]
    pub status: Option<String>,
    /// Handoff next action.
    #[arg(long = "next-action", allow_hyphen_values = true)]
    pub next_action: Option<String>,
    /// Read a JSON handoff object from stdin.
    #[arg(long, action = flag!())]
    pub stdin: u8,
    /// Accepted; no effect in v1.
    #[arg(long = "operator-requested", action = flag!())]
    pub operator_requested: u8,
    /// Not accepted: the path is positional.
    #[arg(long = "path", id = "path_flag", hide = true, allow_hyphen_values = true)]
    pub path_flag: Option<String>,
}

/// `tt events` options (cli.md §4.14).
#[derive(Debug, Args)]
pub struct EventsOpts {
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// No horizon.
    #[arg(long, action = flag!())]
    pub all: u8,
    /// Events after this seq.
    #[arg(long, allow_hyphen_values = true)]
    pub after: Option<String>,
    /// Page size.
    #[arg(long, allow_hyphen_values = true)]
    pub limit: Option<String>,
    /// One long-poll.
    #[arg(long, action = flag!())]
    pub wait: u8,
    /// Stream until a signal.
    #[arg(long, action = flag!())]
    pub follow: u8,
    /// Event types, comma separated.
    #[arg(long, allow_hyphen_values = true)]
    pub event: Option<String>,
    /// `self`, `any` or an agent id.
    #[arg(long, allow_hyphen_values = true)]
    pub target: Option<String>,
    /// Sender.
    #[arg(long, allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Stream duration.
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
}

/// `tt msg …`.
#[derive(Debug, Subcommand)]
pub enum MsgCommand {
    /// Send a message.
    Send {
        /// `<recipient|room> <body…>`.
        #[arg()]
        words: Vec<String>,
        /// Delivery hint `interrupt`.
        #[arg(long, action = flag!())]
        interrupt: u8,
        /// Body from stdin.
        #[arg(long, action = flag!())]
        stdin: u8,
        /// Broadcast.
        #[arg(long, action = flag!())]
        room: u8,
        /// The room path.
        #[arg(long, allow_hyphen_values = true)]
        path: Option<String>,
    },
    /// Read or stream messages.
    Recv {
        /// One long-poll.
        #[arg(long, action = flag!())]
        wait: u8,
        /// Stream until a signal.
        #[arg(long, action = flag!())]
        follow: u8,
        /// Sender.
        #[arg(long, allow_hyphen_values = true)]
        from: Option<String>,
        /// After this seq.
        #[arg(long, allow_hyphen_values = true)]
        after: Option<String>,
        /// Page size.
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<String>,
        /// No horizon.
        #[arg(long, action = flag!())]
        all: u8,
        /// `self`, `any` or an agent id.
        #[arg(long, allow_hyphen_values = true)]
        target: Option<String>,
        /// Stream duration.
        #[arg(long, allow_hyphen_values = true)]
        timeout: Option<String>,
        /// The room path.
        #[arg(long, allow_hyphen_values = true)]
        path: Option<String>,
    },
}

/// `tt notes …`.
#[derive(Debug, Subcommand)]
pub enum NotesCommand {
    /// Add a note.
    Add {
        /// The body.
        #[arg()]
        words: Vec<String>,
        /// Turn it belongs to.
        #[arg(long, allow_hyphen_values = true)]
        turn: Option<String>,
        /// Body from stdin.
        #[arg(long, action = flag!())]
        stdin: u8,
        /// The room path.
        #[arg(long, allow_hyphen_values = true)]
        path: Option<String>,
    },
    /// List notes.
    List {
        /// Include resolved notes, no horizon.
        #[arg(long, action = flag!())]
        all: u8,
        /// After this note id.
        #[arg(long, allow_hyphen_values = true)]
        after: Option<String>,
        /// Page size.
        #[arg(long, allow_hyphen_values = true)]
        limit: Option<String>,
        /// The room path.
        #[arg(long, allow_hyphen_values = true)]
        path: Option<String>,
    },
}

/// `tt claim …` (follow-through.md §7.1–§7.2).
#[derive(Debug, Subcommand)]
pub enum ClaimCommand {
    /// Classify a text and record a commitment when it holds an action claim.
    Observe(ObserveOpts),
}

/// The long name under which `tt claim observe`'s `--text TEXT` reaches clap: after the
/// command `claim`, `--text` is this value option, not the global output flag (cli.md
/// §2.2), so [`super::parse::claim_text`] renames it before parsing.
pub const OBSERVE_TEXT: &str = "observe-text";

/// `tt claim observe` options.
#[derive(Debug, Args)]
pub struct ObserveOpts {
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// The text to classify.
    #[arg(long = "observe-text", id = "observe_text", value_name = "TEXT", allow_hyphen_values = true)]
    pub text: Option<String>,
    /// Read the text (raw UTF-8, at most 1 MiB) from stdin.
    #[arg(long, action = flag!())]
    pub stdin: u8,
    /// Claude Code Stop-hook mode: read the hook payload on stdin; never blocks, always exits 0.
    #[arg(long, action = flag!())]
    pub hook: u8,
    /// Group commitments under this topic instead of `<room_id>/<agent_id>`.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    pub topic: Option<String>,
}

/// `tt commitments [path] [--all]` and its subcommands (follow-through.md §7.3–§7.4).
#[derive(Debug, Args)]
pub struct CommitmentsOpts {
    /// `done` or `withdraw`.
    #[command(subcommand)]
    pub command: Option<CommitmentsCommand>,
    /// The workspace path.
    #[arg()]
    pub path: Option<String>,
    /// Every commitment of the room, any status (the newest 500).
    #[arg(long, action = flag!())]
    pub all: u8,
}

/// `tt commitments done|withdraw`.
#[derive(Debug, Subcommand)]
pub enum CommitmentsCommand {
    /// Close a commitment as done.
    Done {
        /// `CMT-001` (also `CMT-1`, `cmt-1`, `1`).
        #[arg(value_name = "ID")]
        id: String,
        /// Close a commitment owed by another member.
        #[arg(long, action = flag!())]
        force: u8,
    },
    /// Withdraw a commitment.
    Withdraw {
        /// `CMT-001` (also `CMT-1`, `cmt-1`, `1`).
        #[arg(value_name = "ID")]
        id: String,
        /// Why (at most 500 characters).
        #[arg(long, allow_hyphen_values = true)]
        reason: Option<String>,
        /// Withdraw a commitment owed by another member.
        #[arg(long, action = flag!())]
        force: u8,
    },
}

/// `tt instructions …`.
#[derive(Debug, Subcommand)]
pub enum InstructionsCommand {
    /// Print the instructions.
    Show {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// Harness section.
        #[arg(long, allow_hyphen_values = true)]
        harness: Option<String>,
        /// Layer.
        #[arg(long, allow_hyphen_values = true)]
        scope: Option<String>,
    },
    /// Edit a layer.
    Edit {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// The user layer.
        #[arg(long, action = flag!())]
        user: u8,
        /// The project layer.
        #[arg(long, action = flag!())]
        project: u8,
    },
    /// Delete a layer.
    Reset {
        /// The workspace path.
        #[arg()]
        path: Option<String>,
        /// The user layer.
        #[arg(long, action = flag!())]
        user: u8,
        /// The project layer.
        #[arg(long, action = flag!())]
        project: u8,
    },
}

/// `tt guard` (internal, cli.md §4.19); `--agent` is the global option.
#[derive(Debug, Args)]
pub struct GuardOpts {
    /// The room's path.
    #[arg(long = "context-path", allow_hyphen_values = true)]
    pub context_path: String,
    /// The room.
    #[arg(long = "room-id", allow_hyphen_values = true)]
    pub room_id: String,
    /// The lease.
    #[arg(long = "lease-id", allow_hyphen_values = true)]
    pub lease_id: String,
    /// The turn.
    #[arg(long = "turn-id", allow_hyphen_values = true)]
    pub turn_id: String,
    /// Harness name.
    #[arg(long = "harness-name", allow_hyphen_values = true)]
    pub harness_name: Option<String>,
    /// Harness session id.
    #[arg(long = "harness-session-id", allow_hyphen_values = true)]
    pub harness_session_id: Option<String>,
    /// Harness host id.
    #[arg(long = "harness-host-id", allow_hyphen_values = true)]
    pub harness_host_id: Option<String>,
    /// Harness boot id.
    #[arg(long = "harness-boot-id", allow_hyphen_values = true)]
    pub harness_boot_id: Option<String>,
    /// Harness pid.
    #[arg(long = "harness-pid", allow_hyphen_values = true)]
    pub harness_pid: Option<String>,
    /// Harness start time (s).
    #[arg(long = "harness-process-started-at", allow_hyphen_values = true)]
    pub harness_process_started_at: Option<String>,
}

/// `tt guards [path]` (host-lock.md §11).
#[derive(Debug, Args)]
pub struct GuardsOpts {
    /// The workspace whose Stop hook is checked (default: the current directory).
    #[arg(value_name = "path")]
    pub path: Option<String>,
    /// `heal-lock`.
    #[command(subcommand)]
    pub command: Option<GuardsCommand>,
}

/// `tt guards heal-lock` (host-lock.md §9).
#[derive(Debug, Subcommand)]
pub enum GuardsCommand {
    /// Make host.lock name this host.
    #[command(
        name = "heal-lock",
        about = "Make host.lock name this host: run the writing lock check, or with --force take a foreign or corrupt lock over at once."
    )]
    HealLock {
        /// Take a foreign or corrupt lock over without probes or policy (you vouch that no other machine uses the directory).
        #[arg(long, action = flag!())]
        force: u8,
    },
}

/// `tt policy …` (policy-core.md §5).
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List each slot with the module that fills it.
    #[command(
        about = "List each policy slot with the module that fills it: source, name, version, sha256 and whether its compiled artifact is cached."
    )]
    Show,
    /// Load and check a module without using it.
    #[command(
        about = "Load and check a policy module without using it: interface versions, exported functions with signatures, imports and a verdict per slot. Exits 0 when the module is usable."
    )]
    Check {
        /// The module file.
        #[arg(value_name = "PATH")]
        path: String,
    },
    /// Run case tables against a module.
    #[command(
        about = "Run case tables against a policy module (default: every table in policies/cases/ whose slot the module implements). Prints one line per failure and ends with `N passed, M failed`; exits 1 when a case failed. --verbose adds one line per case with its fuel."
    )]
    Test {
        /// The module file.
        #[arg(value_name = "PATH")]
        path: String,
        /// Case tables (*.jsonl).
        #[arg(value_name = "CASES")]
        cases: Vec<String>,
    },
    /// Record a module in settings.toml.
    #[command(
        about = "Record a policy module in settings.toml after a successful check, so every later tt command uses it; --reset returns to the embedded default."
    )]
    Use {
        /// The module file.
        #[arg(value_name = "PATH", required_unless_present = "reset", conflicts_with = "reset")]
        path: Option<String>,
        /// Remove the recorded modules.
        #[arg(long, action = ArgAction::Count)]
        reset: u8,
    },
    /// Warm the AOT cache for a module.
    #[command(about = "Compile a policy module into the AOT cache and print the cached artifact's path.")]
    Compile {
        /// The module file.
        #[arg(value_name = "PATH")]
        path: String,
    },
}
