//! Collaboration instructions (protocol.md §19, cli.md §4.18): the bundled, user and
//! project layers with harness sections.
//!
//! STUB: the contract is filled in by the instructions work.
