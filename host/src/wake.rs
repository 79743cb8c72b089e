//! Daemon-free wake notification (protocol.md §17.8, mechanism B): per-waiter Unix
//! datagram sockets under `<data_dir>/wake/<room_id>/`. Hints only; the database stays
//! the authority.
//!
//! STUB: the signatures below are the contract the service codes against.

use std::path::Path;
use std::time::Duration;

/// A bound waiter socket; removed on drop.
#[derive(Debug)]
pub struct Waiter {}

impl Waiter {
    /// Bind a socket for `room_id`; None when that is impossible (the caller polls).
    pub fn bind(_data_dir: &Path, _room_id: &str) -> Option<Waiter> {
        None
    }

    /// Block until a notification arrives or `timeout` elapses; drains every pending
    /// datagram (coalescing, W5). Returns whether a notification arrived.
    pub fn wait(&self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }
}

/// After COMMIT: wake every waiter of `room_id` (non-blocking, errors ignored).
pub fn notify(_data_dir: &Path, _room_id: &str) {}
