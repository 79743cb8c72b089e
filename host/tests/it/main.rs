//! Integration tests of the host: one test binary (design.md habit 11).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod bad_input;
mod conformance;
mod contention;
mod followthrough_hook;
mod followthrough_inherit;
mod followthrough_record;
mod followthrough_service;
mod hostlock_fixture;
mod hostlock_guards;
mod hostlock_lock;
mod policy_cli;
mod policy_fixtures;
mod policy_props;
mod policy_runtime;
mod proto;
mod reliability;
mod scenarios_cli;
mod scenarios_core;
mod scenarios_events;
mod scenarios_fairness;
mod scenarios_identity;
mod scenarios_liveness;
mod snapshots_cli;
mod support;
