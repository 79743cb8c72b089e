//! `stick`: the native host of `tt`, the turn-taking CLI for AI coding agents.
//!
//! Data flows one way: CLI → command → service → store, with the service asking the
//! [`policy`] module for decisions on facts it gathered. See `docs/ARCHITECTURE.md`.
//!
//! The library never prints and never reads environment variables: the binary
//! snapshots the environment into an [`env::Env`] and passes it in.

pub mod argv;
pub mod clock;
pub mod commands;
pub mod env;
pub mod error;
pub mod fscheck;
pub mod git;
pub mod guards;
pub mod identity;
pub mod instructions;
pub mod liveness;
pub mod lock;
pub mod paths;
pub mod policy;
pub mod service;
pub mod sessions;
pub mod settings;
pub mod store;
pub mod transcript;
pub mod wake;
pub mod workspace;

pub use error::{ErrorCode, TtError};
