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
