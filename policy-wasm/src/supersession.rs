//! Session supersession predicates (protocol.md §14.2, §14.4).

use crate::types::HarnessInstance;
use alloc::string::String;

fn non_blank(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|v| !v.trim().is_empty())
}

/// A record that names a harness process and session completely (protocol.md §14.2).
fn complete(x: &HarnessInstance) -> bool {
    non_blank(&x.harness_name)
        && non_blank(&x.harness_session_id)
        && x.harness_pid.is_some()
        && x.harness_process_started_at.is_some()
}

/// Same harness process: name, host id (none equals none), pid and start time.
fn same_process(a: &HarnessInstance, b: &HarnessInstance) -> bool {
    a.harness_name == b.harness_name
        && a.harness_host_id == b.harness_host_id
        && a.harness_pid == b.harness_pid
        && a.harness_process_started_at == b.harness_process_started_at
}

/// True when a session id is provisional: it starts with `pid:`, `term:` or `userhost:`
/// (protocol.md §7.4, §14.2).
pub fn is_provisional_session_id(id: &str) -> bool {
    ["pid:", "term:", "userhost:"].iter().any(|p| id.starts_with(p))
}

/// True when a session id is verified: it starts with `harness:` (protocol.md §14.2).
pub fn is_verified_session_id(id: &str) -> bool {
    id.starts_with("harness:")
}

/// The classic predicate (protocol.md §14.2): both records complete, the same harness
/// process (name, host id, pid, start time), and a different session id.
pub fn is_superseded_classic(existing: &HarnessInstance, incoming: &HarnessInstance) -> bool {
    complete(existing)
        && complete(incoming)
        && same_process(existing, incoming)
        && existing.harness_session_id != incoming.harness_session_id
}

/// The verified-only predicate (protocol.md §14.4): the classic equalities, and the
/// existing session id is provisional while the incoming one is verified.
pub fn is_superseded_verified_only(existing: &HarnessInstance, incoming: &HarnessInstance) -> bool {
    is_superseded_classic(existing, incoming)
        && existing.harness_session_id.as_deref().is_some_and(is_provisional_session_id)
        && incoming.harness_session_id.as_deref().is_some_and(is_verified_session_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, session: &str, host: Option<&str>, pid: u32, started: u64) -> HarnessInstance {
        HarnessInstance {
            harness_name: Some(name.into()),
            harness_session_id: Some(session.into()),
            harness_host_id: host.map(Into::into),
            harness_pid: Some(pid),
            harness_process_started_at: Some(started),
        }
    }

    #[test]
    fn classic_evicts_a_new_session_of_the_same_process() {
        let old = inst("claude", "harness:a", Some("h"), 10, 100);
        let new = inst("claude", "harness:b", Some("h"), 10, 100);
        assert!(is_superseded_classic(&old, &new));
        assert!(!is_superseded_verified_only(&old, &new));
        let provisional = inst("claude", "pid:10", Some("h"), 10, 100);
        assert!(is_superseded_verified_only(&provisional, &new));
    }

    #[test]
    fn null_host_ids_are_equal_but_blank_names_are_incomplete() {
        let old = inst("codex", "s1", None, 10, 100);
        let new = inst("codex", "s2", None, 10, 100);
        assert!(is_superseded_classic(&old, &new));
        let blank = inst(" ", "s1", None, 10, 100);
        assert!(!is_superseded_classic(&blank, &new));
    }
}
