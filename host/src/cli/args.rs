//! The clap definitions of `tt`'s command line (cli.md §2). Help is rendered by
//! [`super::help`], not by clap, so that it stays side-effect free and in the format of
//! cli.md §2.6. Boolean flags count their occurrences: repeating one is allowed
//! (cli.md §2.3 rule 7), giving it a value is not.

use clap::{ArgAction, Parser, Subcommand};

/// The whole command line.
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
    #[arg(long, global = true, action = ArgAction::Count)]
    pub json: u8,
    /// Force text output (--json wins).
    #[arg(long, global = true, action = ArgAction::Count)]
    pub text: u8,
    /// Full JSON objects; extra text detail.
    #[arg(long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Identity override.
    #[arg(long, global = true, value_name = "ID")]
    pub agent: Option<String>,
    /// Policy module to use (repeatable; first module implementing a slot wins).
    #[arg(long, global = true, value_name = "PATH", action = ArgAction::Append)]
    pub policy: Vec<String>,
    /// Print the version.
    #[arg(long, action = ArgAction::Count)]
    pub version: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
