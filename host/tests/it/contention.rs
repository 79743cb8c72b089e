//! Real `tt` processes contending for one room (design.md habit 15; protocol.md §9.7, §10.5,
//! §20.4, S7, S8): every round has exactly one winner, nothing fails, nothing is busy, and the
//! S8 turn invariants hold afterwards, as does `PRAGMA integrity_check`.
//!
//! Why exactly one winner per round is the right expectation (§10.6.1, §11):
//! * Round 1 starts from a never-granted idle room: every poll takes the write lock in turn, the
//!   first grants (`open_claim`), every later poll sees an owned room (`not_yet`).
//! * Between rounds the winner releases. With the default `waiter_grace_ms` (10 s) and a frozen
//!   clock every racer would be a recent waiter, so the release would always reserve the fairest
//!   member and the next "race" would have a fixed winner. The fixture therefore sets
//!   `{"waiter_grace_ms":0}`: a release then (normally) reserves nobody and leaves the room idle
//!   with the pending handoff, and `should_defer_idle_claim` lets every non-prior member claim at
//!   once (`handoff_age_ms >= waiter_grace_ms`), while the prior owner is held back by the
//!   take-back cooldown (derived 60 s, other members are active). So the first non-prior poll to
//!   take the write lock wins with `sequence`, and all later polls see `owned`.
//! * Each process's clock is `T + its own elapsed time`, so a racer's `last_wait_at` can be a few ms
//!   ahead of the releaser's `now`, which makes it a "recent waiter" even with a zero grace. The
//!   release then reserves that member; it races too and is granted (`sequence`) while everyone
//!   else gets `not_yet`. Either way: exactly one `your_turn` per round, reason `sequence`.
//! * No lease or claim ever expires (`T` is fixed), so no `takeover_available` can appear.
//!
//! `busy_timeout_ms` stays at its default (5 000 ms); a `database_busy` would be a failure.

use super::proto::*;
use serde_json::{Value, json};
use std::time::Duration;

fn race(racers: usize, rounds: usize) {
    let ids: Vec<String> = (1..=racers).map(|i| format!("agent:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let p = Proto::new(&refs).with_settings(r#"{"waiter_grace_ms":0}"#);
    p.join(&refs);
    let mut granted = Vec::new();
    for round in 0..rounds {
        let bgs: Vec<Bg> = refs.iter().map(|a| p.spawn(Inv::agent(a, &["try"]))).collect();
        let outs: Vec<_> = bgs.into_iter().map(|bg| p.finish(bg, Duration::from_secs(60)).0).collect();
        for out in &outs {
            assert!(!out.stderr.contains("database_busy"), "round {round}: {out:?}");
            assert_eq!(out.code, 0, "round {round}: {out:?}");
        }
        let results: Vec<Value> = outs.iter().map(|o| o.json()).collect();
        let winners: Vec<usize> = (0..racers).filter(|i| results[*i]["status"] == "your_turn").collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:#?}");
        let w = winners[0];
        let reason = if round == 0 { "open_claim" } else { "sequence" };
        fields(&results[w], json!({"status": "your_turn", "reason": reason, "turn_id": round + 1}));
        for (i, r) in results.iter().enumerate() {
            if i != w {
                fields(r, json!({"status": "not_yet"}));
            }
        }
        granted.push(n(&results[w], "turn_id"));
        let rel = p.tt(refs[w], &["release", "--status", "s", "--next-action", "n"]);
        assert!(!rel.stderr.contains("database_busy"), "round {round}: {rel:?}");
        fields(&ok(&rel), json!({"status": "released"}));
    }
    check_turn_invariants(&p, refs[0], &granted);
    assert_eq!(p.sql("PRAGMA integrity_check").trim(), "ok");
}

#[test]
fn contention_5_racers_50_rounds() {
    race(5, 50);
}

#[test]
fn contention_16_racers_50_rounds() {
    race(16, 50);
}

/// Found by the chaos harness (docs/RELIABILITY.md): 16 agents starting at once on a fresh
/// data directory, one `tt wait` failed with `incompatible_database`. The opener's ownership
/// check read `application_id` and "has tables" in two snapshots, and a concurrent first
/// opener's schema commit landed between them (protocol.md §20.1). Every racer must create or
/// join the one room; none may call the database foreign or busy.
#[test]
fn first_openers_of_a_fresh_data_dir_race_without_errors() {
    let ids: Vec<String> = (1..=16).map(|i| format!("agent:{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    for round in 0..25 {
        let p = Proto::new(&refs);
        assert!(!p.data.join("rooms.sqlite").exists(), "round {round}: the data dir must start empty");
        let bgs: Vec<Bg> = refs.iter().map(|a| p.spawn(Inv::agent(a, &["join"]))).collect();
        for bg in bgs {
            let out = p.finish(bg, Duration::from_secs(60)).0;
            assert_eq!(out.code, 0, "round {round}: {out:?}");
        }
        assert_eq!(p.member_ids(refs[0]).len(), 16, "round {round}");
    }
}
