//! Fair next-holder selection and idle-claim deferral (protocol.md §11).
//!
//! All times are epoch milliseconds; an age that would be negative counts as 0
//! (protocol.md §3.3).

use crate::types::{AgentRef, Candidate, DeferralInput, Liveness, PolicyError, Purpose, SelectionInput};
use alloc::string::String;
use alloc::vec::Vec;

/// `now - t`, with a negative age counted as 0 (protocol.md §3.3).
fn age(now_ms: u64, t: u64) -> u64 {
    now_ms.saturating_sub(t)
}

/// `plausible(c)`: presence is recent (protocol.md §11.2; recent at equality).
pub fn plausible(c: &Candidate, now_ms: u64, presence_ttl_ms: u64) -> bool {
    age(now_ms, c.last_seen_at_ms) <= presence_ttl_ms
}

/// `recent_waiter(c)`: polled or joined within `waiter_grace_ms` and plausible (protocol.md §11.2).
pub fn recent_waiter(c: &Candidate, now_ms: u64, presence_ttl_ms: u64, waiter_grace_ms: u64) -> bool {
    c.last_wait_at_ms.is_some_and(|w| age(now_ms, w) <= waiter_grace_ms) && plausible(c, now_ms, presence_ttl_ms)
}

/// Round-robin distance on rank, never raw ordinals (protocol.md §11.2, upstream #32):
/// `(r - ref + N) mod N`, with 0 read as `N`; `r` itself when there is no reference.
pub fn distance(rank: u32, ref_rank: Option<u32>, member_count: u32) -> u64 {
    match ref_rank {
        Some(reference) if member_count > 0 => {
            let n = i64::from(member_count);
            let d = (i64::from(rank) - i64::from(reference)).rem_euclid(n);
            if d == 0 { n.unsigned_abs() } else { d.unsigned_abs() }
        }
        _ => u64::from(rank),
    }
}

/// `fair_before(a, b)`: true when `a` is fairer than `b` (protocol.md §11.2): never held
/// first, then the oldest last ownership, then rank distance after the reference, then ordinal.
pub fn fair_before(a: &Candidate, b: &Candidate, ref_rank: Option<u32>, member_count: u32) -> bool {
    match (a.last_held_at_ms, b.last_held_at_ms) {
        (None, Some(_)) => return true,
        (Some(_), None) => return false,
        (Some(x), Some(y)) if x != y => return x < y,
        _ => {}
    }
    let (da, db) = (distance(a.rank, ref_rank, member_count), distance(b.rank, ref_rank, member_count));
    if da != db {
        return da < db;
    }
    a.ordinal < b.ordinal
}

/// `best_fair`: the fairest plausible candidate other than `after` (protocol.md §11.2).
pub fn best_fair<'a>(
    candidates: &'a [Candidate],
    after: Option<&str>,
    ref_rank: Option<u32>,
    member_count: u32,
    now_ms: u64,
    presence_ttl_ms: u64,
) -> Option<&'a Candidate> {
    candidates.iter().filter(|c| Some(c.agent_id.as_str()) != after && plausible(c, now_ms, presence_ttl_ms)).fold(
        None,
        |best: Option<&Candidate>, c| match best {
            Some(b) if !fair_before(c, b, ref_rank, member_count) => Some(b),
            _ => Some(c),
        },
    )
}

fn check_unique(candidates: &[Candidate]) -> Result<(), PolicyError> {
    let mut ids: Vec<&str> = candidates.iter().map(|c| c.agent_id.as_str()).collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(PolicyError::InvalidInput("candidates: duplicate agent_id".into()));
    }
    Ok(())
}

/// `select_next_holder` (protocol.md §11.3 for `release`, §11.5 for `assign`).
///
/// Release: the fairest plausible member other than the releaser, but only if it is a
/// recent waiter; otherwise nobody (the room goes idle with the pending handoff).
/// Assign: never held first, then the oldest last ownership, then ordinal; the host
/// has already filtered the candidates.
///
/// Errors: `InvalidInput` for purpose `unknown` or duplicate candidate ids.
pub fn select_next_holder(input: &SelectionInput) -> Result<Option<String>, PolicyError> {
    check_unique(&input.candidates)?;
    match input.purpose {
        Purpose::Release => {
            let after = input.after.as_ref();
            let best = best_fair(
                &input.candidates,
                after.map(|a| a.agent_id.as_str()),
                after.and_then(|a| a.rank),
                input.member_count,
                input.now_ms,
                input.presence_ttl_ms,
            );
            Ok(best
                .filter(|b| recent_waiter(b, input.now_ms, input.presence_ttl_ms, input.waiter_grace_ms))
                .map(|b| b.agent_id.clone()))
        }
        Purpose::Assign => Ok(input
            .candidates
            .iter()
            .min_by_key(|c| (c.last_held_at_ms.is_some(), c.last_held_at_ms, c.ordinal))
            .map(|c| c.agent_id.clone())),
        Purpose::Unknown => Err(PolicyError::InvalidInput("purpose: unknown".into())),
    }
}

/// `should_defer_idle_claim` (protocol.md §11.4): true means the polling caller is
/// deferred (`not_yet`).
///
/// No take-backs: a prior owner with another active member waits out
/// `prior_owner_release_cooldown_ms`; otherwise, within `waiter_grace_ms` of the release
/// only the fairest plausible member may claim. Claimable at equality (§3.3).
///
/// Errors: `InvalidInput` for duplicate candidate ids.
pub fn should_defer_idle_claim(input: &DeferralInput) -> Result<bool, PolicyError> {
    check_unique(&input.candidates)?;
    let prior: Option<&AgentRef> = input.prior_owner.as_ref();
    let other_active = input.candidates.iter().any(|c| {
        c.agent_id != input.caller && c.liveness != Liveness::Gone && plausible(c, input.now_ms, input.presence_ttl_ms)
    });
    if prior.is_some_and(|p| p.agent_id == input.caller) && other_active {
        return Ok(input.handoff_age_ms < input.prior_owner_release_cooldown_ms);
    }
    if input.handoff_age_ms >= input.waiter_grace_ms {
        return Ok(false);
    }
    let best = best_fair(
        &input.candidates,
        prior.map(|p| p.agent_id.as_str()),
        prior.and_then(|p| p.rank),
        input.member_count,
        input.now_ms,
        input.presence_ttl_ms,
    );
    Ok(best.is_some_and(|b| b.agent_id != input.caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_uses_rank_not_ordinal() {
        // Remaining ordinals [0, 5, 7] have ranks [0, 1, 2]; reference rank 0.
        assert_eq!(distance(1, Some(0), 3), 1);
        assert_eq!(distance(2, Some(0), 3), 2);
        assert_eq!(distance(0, Some(0), 3), 3);
        assert_eq!(distance(2, None, 3), 2);
        assert_eq!(distance(0, Some(2), 3), 1);
    }
}
