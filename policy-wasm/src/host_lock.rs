//! The mount-source classifier and the foreign-lock decision (host-lock.md §6).

use crate::types::{
    ForeignLockFacts, GatheredLocality, Locality, LockDecision, LockDecisionKind, MountFacts, MountVerdict, PidState,
};
use alloc::string::{String, ToString};

/// A heartbeat at least this old (ms) is stale (host-lock.md §2; exactly 300 000 is stale).
pub const STALE_AFTER_MS: u64 = 300_000;

/// Filesystem types that are never local (host-lock.md §6.1 rule 2; `nfs*` by prefix).
const NETWORK_FS_TYPES: &[&str] = &[
    "smbfs",
    "cifs",
    "smb2",
    "smb3",
    "afpfs",
    "webdav",
    "davfs",
    "9p",
    "ceph",
    "glusterfs",
    "lustre",
    "afs",
    "sshfs",
    "fuse.sshfs",
];

fn verdict(locality: Locality, reason: &str) -> MountVerdict {
    MountVerdict { locality, reason: reason.to_string() }
}

/// `classify-mount-source` (host-lock.md §6.1): rules 1–7, first match wins. `unknown`
/// means "not provably local"; the filesystem type can only make a source non-local.
pub fn classify_mount_source(facts: &MountFacts) -> MountVerdict {
    let Some(source) = facts.source.as_deref() else {
        return verdict(Locality::Unknown, "probe_failed");
    };
    if let Some(fs) = facts.fs_type.as_deref() {
        let fs = fs.to_ascii_lowercase();
        if fs.starts_with("nfs") || NETWORK_FS_TYPES.contains(&fs.as_str()) {
            return verdict(Locality::Network, "network_fs_type");
        }
    }
    if source.is_empty() {
        return verdict(Locality::Unknown, "empty_source");
    }
    if source.starts_with("//") {
        return verdict(Locality::Network, "smb_share");
    }
    if !source.starts_with('/') && source.contains(':') {
        return verdict(Locality::Network, "host_path");
    }
    if source.starts_with("/dev/") {
        return verdict(Locality::Local, "block_device");
    }
    verdict(Locality::Unknown, "unrecognized_source")
}

fn known(id: &Option<String>) -> Option<&str> {
    id.as_deref().filter(|s| !s.trim().is_empty())
}

fn decision(decision: LockDecisionKind, reason: &str) -> LockDecision {
    LockDecision { decision, reason: reason.to_string() }
}

/// `decide-foreign-lock` (host-lock.md §6.2): the staged, fail-closed decision table,
/// first match wins. It asks for a pid probe only once locality is `local` (the hard
/// invariant) and, with auto-heal off, asks for nothing at all.
pub fn decide_foreign_lock(f: &ForeignLockFacts) -> LockDecision {
    use LockDecisionKind as D;
    if let (Some(a), Some(b)) = (known(&f.lock_machine_id), known(&f.this_machine_id))
        && a == b
    {
        return decision(D::HealRename, "same_machine_id");
    }
    if !f.auto_heal {
        return decision(D::Conflict, "auto_heal_off");
    }
    match f.locality {
        GatheredLocality::NotGathered => return decision(D::NeedLocality, "locality_required"),
        GatheredLocality::Network => return decision(D::Conflict, "network_mount"),
        GatheredLocality::Unknown => return decision(D::Conflict, "mount_not_provably_local"),
        GatheredLocality::Local => {}
    }
    match f.pid_state {
        PidState::NotGathered => return decision(D::NeedPidProbe, "pid_probe_required"),
        PidState::Alive => return decision(D::Conflict, "pid_alive"),
        PidState::Unknown => return decision(D::Conflict, "pid_state_unknown"),
        PidState::Dead | PidState::NoPid => {}
    }
    if f.heartbeat_age_ms.is_some_and(|a| a < STALE_AFTER_MS) {
        return decision(D::Conflict, "heartbeat_fresh");
    }
    if f.dry_run {
        return decision(D::WouldHeal, "dry_run");
    }
    decision(D::HealStale, "stale_dead_local")
}
