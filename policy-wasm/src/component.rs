//! The wasm32 glue: WIT bindings for the guest and conversions to the native types.
//! No logic lives here (policy-core.md §3).

#[cfg(not(feature = "verified-only"))]
wit_bindgen::generate!({ world: "policy", path: "../wit" });
#[cfg(feature = "verified-only")]
wit_bindgen::generate!({ world: "verified-only", path: "../wit" });

// `memcmp`, `memcpy` and friends: a `no_std` crate on wasm32-wasip2 gets them from the
// target's own wasi-libc (self-contained, already on the linker's search path), whose
// string functions import nothing.
#[link(name = "c", kind = "static")]
unsafe extern "C" {}

/// The canonical ABI's allocation entry point: the host calls it to place arguments
/// (strings, lists) in the guest's memory. `std` exports it on wasm32-wasip2, so
/// wit-bindgen only ships one for other targets; a `no_std` component exports its own,
/// with the contract of `wit_bindgen::rt::cabi_realloc`: `old_len == 0` allocates,
/// otherwise the block (`old_ptr`, `old_len`, `align`) is resized to `new_len` bytes; a
/// zero-sized request gets the dangling pointer `align`. Out of memory is a trap.
#[unsafe(export_name = "cabi_realloc")]
unsafe extern "C" fn cabi_realloc(old_ptr: *mut u8, old_len: usize, align: usize, new_len: usize) -> *mut u8 {
    use alloc::alloc::{Layout, alloc, realloc};
    if old_len == 0 && new_len == 0 {
        return align as *mut u8;
    }
    // SAFETY: the canonical ABI passes a power-of-two `align` and, when `old_len > 0`,
    // a block this allocator returned with that size and alignment.
    let ptr = unsafe {
        if old_len == 0 {
            alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            realloc(old_ptr, Layout::from_size_align_unchecked(old_len, align), new_len)
        }
    };
    if ptr.is_null() {
        core::arch::wasm32::unreachable()
    }
    ptr
}

use crate::types as n;
use exports::stick::policy::meta;
use exports::stick::policy::supersession as sup;

struct Policy;

impl meta::Guest for Policy {
    fn describe() -> meta::ModuleInfo {
        let info = crate::describe();
        meta::ModuleInfo { name: info.name, version: info.version, slots: info.slots }
    }
}

impl sup::Guest for Policy {
    fn is_superseded(existing: sup::HarnessInstance, incoming: sup::HarnessInstance) -> Result<bool, sup::PolicyError> {
        Ok(crate::is_superseded(&harness(existing), &harness(incoming)))
    }
}

fn harness(h: sup::HarnessInstance) -> n::HarnessInstance {
    n::HarnessInstance {
        harness_name: h.harness_name,
        harness_session_id: h.harness_session_id,
        harness_host_id: h.harness_host_id,
        harness_pid: h.harness_pid,
        harness_process_started_at: h.harness_process_started_at,
    }
}

#[cfg(not(feature = "verified-only"))]
mod all_slots {
    use super::Policy;
    use super::exports::stick::policy::{claims as c, fairness as f, host_lock as h};
    use crate::types as n;
    use alloc::string::String;

    impl c::Guest for Policy {
        fn classify_action_claim(text: String) -> Result<Option<c::Claim>, c::PolicyError> {
            Ok(crate::claims::classify_action_claim(&text)
                .map(|claim| c::Claim { verb: verb(claim.verb), matched: claim.matched }))
        }
    }

    fn verb(v: n::ActionVerb) -> c::ActionVerb {
        match v {
            n::ActionVerb::Relaunch => c::ActionVerb::Relaunch,
            n::ActionVerb::Restart => c::ActionVerb::Restart,
            n::ActionVerb::Redeploy => c::ActionVerb::Redeploy,
            n::ActionVerb::Deploy => c::ActionVerb::Deploy,
            n::ActionVerb::Push => c::ActionVerb::Push,
            n::ActionVerb::Merge => c::ActionVerb::Merge,
            n::ActionVerb::Revert => c::ActionVerb::Revert,
            n::ActionVerb::Rebase => c::ActionVerb::Rebase,
            n::ActionVerb::Rerun => c::ActionVerb::Rerun,
            n::ActionVerb::Fix => c::ActionVerb::Fix,
            n::ActionVerb::Unknown => c::ActionVerb::Unknown,
        }
    }

    fn fairness_error(e: n::PolicyError) -> f::PolicyError {
        match e {
            n::PolicyError::InvalidInput(s) => f::PolicyError::InvalidInput(s),
        }
    }

    fn agent_ref(a: f::AgentRef) -> n::AgentRef {
        n::AgentRef { agent_id: a.agent_id, rank: a.rank }
    }

    fn candidate(c: f::Candidate) -> n::Candidate {
        n::Candidate {
            agent_id: c.agent_id,
            ordinal: c.ordinal,
            rank: c.rank,
            last_seen_at_ms: c.last_seen_at_ms,
            last_wait_at_ms: c.last_wait_at_ms,
            last_held_at_ms: c.last_held_at_ms,
            liveness: match c.liveness {
                f::Liveness::Alive => n::Liveness::Alive,
                f::Liveness::Gone => n::Liveness::Gone,
                f::Liveness::Unknown => n::Liveness::Unknown,
                f::Liveness::Unprobed => n::Liveness::Unprobed,
            },
            session_kind: c.session_kind,
        }
    }

    impl f::Guest for Policy {
        fn select_next_holder(input: f::SelectionInput) -> Result<Option<String>, f::PolicyError> {
            let input = n::SelectionInput {
                purpose: match input.purpose {
                    f::Purpose::Release => n::Purpose::Release,
                    f::Purpose::Assign => n::Purpose::Assign,
                    f::Purpose::Unknown => n::Purpose::Unknown,
                },
                now_ms: input.now_ms,
                after: input.after.map(agent_ref),
                member_count: input.member_count,
                candidates: input.candidates.into_iter().map(candidate).collect(),
                presence_ttl_ms: input.presence_ttl_ms,
                waiter_grace_ms: input.waiter_grace_ms,
            };
            crate::fairness::select_next_holder(&input).map_err(fairness_error)
        }

        fn should_defer_idle_claim(input: f::DeferralInput) -> Result<bool, f::PolicyError> {
            let input = n::DeferralInput {
                now_ms: input.now_ms,
                caller: input.caller,
                handoff_age_ms: input.handoff_age_ms,
                prior_owner: input.prior_owner.map(agent_ref),
                member_count: input.member_count,
                candidates: input.candidates.into_iter().map(candidate).collect(),
                waiter_grace_ms: input.waiter_grace_ms,
                prior_owner_release_cooldown_ms: input.prior_owner_release_cooldown_ms,
                presence_ttl_ms: input.presence_ttl_ms,
            };
            crate::fairness::should_defer_idle_claim(&input).map_err(fairness_error)
        }
    }

    impl h::Guest for Policy {
        fn classify_mount_source(facts: h::MountFacts) -> Result<h::MountVerdict, h::PolicyError> {
            let v = crate::host_lock::classify_mount_source(&n::MountFacts {
                source: facts.source,
                fs_type: facts.fs_type,
            });
            Ok(h::MountVerdict {
                locality: match v.locality {
                    n::Locality::Local => h::Locality::Local,
                    n::Locality::Network => h::Locality::Network,
                    n::Locality::Unknown => h::Locality::Unknown,
                },
                reason: v.reason,
            })
        }

        fn decide_foreign_lock(f: h::ForeignLockFacts) -> Result<h::LockDecision, h::PolicyError> {
            let facts = n::ForeignLockFacts {
                lock_hostname: f.lock_hostname,
                this_hostname: f.this_hostname,
                lock_machine_id: f.lock_machine_id,
                this_machine_id: f.this_machine_id,
                auto_heal: f.auto_heal,
                dry_run: f.dry_run,
                heartbeat_age_ms: f.heartbeat_age_ms,
                locality: match f.locality {
                    h::GatheredLocality::NotGathered => n::GatheredLocality::NotGathered,
                    h::GatheredLocality::Local => n::GatheredLocality::Local,
                    h::GatheredLocality::Network => n::GatheredLocality::Network,
                    h::GatheredLocality::Unknown => n::GatheredLocality::Unknown,
                },
                pid_state: match f.pid_state {
                    h::PidState::NotGathered => n::PidState::NotGathered,
                    h::PidState::Alive => n::PidState::Alive,
                    h::PidState::Dead => n::PidState::Dead,
                    h::PidState::NoPid => n::PidState::NoPid,
                    h::PidState::Unknown => n::PidState::Unknown,
                },
            };
            let d = crate::host_lock::decide_foreign_lock(&facts);
            Ok(h::LockDecision {
                decision: match d.decision {
                    n::LockDecisionKind::HealRename => h::LockDecisionKind::HealRename,
                    n::LockDecisionKind::NeedLocality => h::LockDecisionKind::NeedLocality,
                    n::LockDecisionKind::NeedPidProbe => h::LockDecisionKind::NeedPidProbe,
                    n::LockDecisionKind::HealStale => h::LockDecisionKind::HealStale,
                    n::LockDecisionKind::WouldHeal => h::LockDecisionKind::WouldHeal,
                    n::LockDecisionKind::Conflict => h::LockDecisionKind::Conflict,
                    n::LockDecisionKind::Unknown => h::LockDecisionKind::Unknown,
                },
                reason: d.reason,
            })
        }
    }
}

export!(Policy);
