//! The protocol clock (protocol.md §3.2) and timestamp rendering (§3.1).

use crate::error::TtError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `now()` in epoch milliseconds: the wall clock, or with `TT_NOW_MS` the given origin
/// plus the monotonic time elapsed since this process started (protocol.md §3.2).
#[derive(Clone, Debug)]
pub struct Clock {
    origin_ms: Option<u64>,
    started: Instant,
    frozen: bool,
}

impl Clock {
    /// The system wall clock.
    pub fn system() -> Self {
        Clock { origin_ms: None, started: Instant::now(), frozen: false }
    }

    /// A clock that starts at `origin_ms` and advances with real time (`TT_NOW_MS`).
    pub fn from_origin(origin_ms: u64) -> Self {
        Clock { origin_ms: Some(origin_ms), started: Instant::now(), frozen: false }
    }

    /// A clock that always reads `ms`: the frozen injected clock with which exact time
    /// boundaries are tested at service level (follow-through.md §11).
    pub fn frozen(ms: u64) -> Self {
        Clock { origin_ms: Some(ms), started: Instant::now(), frozen: true }
    }

    /// Build from the raw `TT_NOW_MS` value, if set.
    ///
    /// Errors: `cli_error` (exit 2) with protocol.md §4.2's message when the value is not
    /// a decimal integer.
    pub fn from_tt_now_ms(value: Option<&str>) -> Result<Self, TtError> {
        match value {
            None => Ok(Self::system()),
            Some(v) => {
                let parsed =
                    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).then(|| v.parse::<u64>().ok()).flatten();
                match parsed {
                    Some(ms) => Ok(Self::from_origin(ms)),
                    None => Err(TtError::usage("TT_NOW_MS must be an integer number of epoch milliseconds.")),
                }
            }
        }
    }

    /// The current protocol time in epoch milliseconds.
    pub fn now_ms(&self) -> u64 {
        match self.origin_ms {
            Some(origin) if self.frozen => origin,
            Some(origin) => origin.saturating_add(duration_ms(self.started.elapsed())),
            None => SystemTime::now().duration_since(UNIX_EPOCH).map(duration_ms).unwrap_or(0),
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Render epoch milliseconds as ISO-8601 UTC with exactly three fractional digits and a
/// `Z` suffix, e.g. `2026-04-22T12:00:00.000Z` (protocol.md §3.1).
pub fn iso8601(ms: u64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms);
    humantime::format_rfc3339_millis(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_milliseconds_and_z() {
        assert_eq!(iso8601(1_776_859_200_000), "2026-04-22T12:00:00.000Z");
        assert_eq!(iso8601(1_776_859_200_007), "2026-04-22T12:00:00.007Z");
    }

    #[test]
    fn tt_now_ms_must_be_digits() {
        for bad in ["abc", "-1", "1.5", "", " 1"] {
            assert!(Clock::from_tt_now_ms(Some(bad)).is_err(), "{bad}");
        }
        let c = Clock::from_tt_now_ms(Some("1776859200000")).map(|c| c.now_ms()).unwrap_or(0);
        assert!(c >= 1_776_859_200_000);
    }
}
