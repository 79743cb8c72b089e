//! Regressions for the bugs the chaos and crash-consistency harness found
//! (`host/examples/chaos`, docs/RELIABILITY.md), with real `tt` processes (design.md habit 15).

use super::proto::*;
use std::time::Duration;

fn wall_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

/// Found by the chaos run: `created_at` went backwards along `event_seq` (up to a few ms with 16
/// contending agents), because every write transaction read the clock *before* `BEGIN IMMEDIATE`
/// and so dated its events, leases and presence with the time it started waiting for the write
/// lock. A grant that waited out a busy writer got a lease shorter than `owner_lease_ttl_ms`.
/// Here the test holds the write lock for 800 ms while a message and a grant wait for it.
#[test]
fn a_write_that_waited_for_the_lock_is_dated_when_it_ran() {
    let p = Proto::new(&[A]).with_settings(r#"{"owner_lease_ttl_ms":60000}"#);
    let real = |args: &[&str]| Inv::agent(A, args).unset("TT_NOW_MS");
    ok(&p.run(real(&["join"])));
    let db = rusqlite::Connection::open(p.data.join("rooms.sqlite")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let msg = p.spawn(real(&["msg", "send", "room", "late"]));
    let grant = p.spawn(real(&["try"]));
    std::thread::sleep(Duration::from_millis(800));
    let released = wall_ms();
    db.execute_batch("COMMIT").unwrap();
    let (m, _) = p.finish(msg, Duration::from_secs(30));
    let (g, _) = p.finish(grant, Duration::from_secs(30));
    let created = iso_ms(&s(&ok(&m), "created_at"));
    assert!(created >= released, "the message is dated {created}, before the lock was free at {released}");
    fields(&ok(&g), serde_json::json!({"status": "your_turn", "turn_id": 1}));
    let room = p.state(A)["room"].clone();
    let expires = iso_ms(room["lease_expires_at"].as_str().unwrap());
    assert!(expires >= released + 60_000, "lease expires at {expires}, less than 60 s after {released}");
    let evs = p.all_events(A);
    for pair in evs.windows(2) {
        assert!(iso_ms(&s(&pair[0], "created_at")) <= iso_ms(&s(&pair[1], "created_at")), "{evs:#?}");
    }
}

/// Found by the crash run: about half of the random SIGKILLs of `tt release`, `tt pass` and
/// `tt try` landed while the process held `cli-sessions.json.lock`, and the empty lock directory
/// it left blocked every writer for 30 s (cli.md §3.5): each waited 5 s and failed with
/// `storage_error`, after committing its grant or release. A holder now marks the lock with its pid
/// and start time, and a lock whose holder is provably gone is broken at once. This test leaves
/// exactly what a killed holder leaves.
#[test]
fn a_session_lock_left_by_a_killed_tt_does_not_block_the_next_writer() {
    let p = Proto::new(&[A, B]);
    p.join(&[A]);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let lock = p.data.join("cli-sessions.json.lock");
    std::fs::create_dir(&lock).unwrap();
    std::fs::write(lock.join(format!("owner-{dead}-1776859200")), "").unwrap();
    ok(&p.tt(B, &["join"]));
    let r = ok(&p.tt(A, &["try"]));
    assert_eq!(r["status"], "your_turn", "{r:#}");
    ok(&p.tt(A, &["release", "--status", "s", "--next-action", "n"]));
    assert!(!lock.exists(), "the dead holder's lock is still there");
    let rows = p.sessions();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(rows.iter().all(|r| r.get("lease_id").is_none()), "{rows:#?}");
}
