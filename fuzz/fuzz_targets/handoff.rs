//! Handoff JSON (protocol.md §10.3, cli.md §2.12): the `--stdin` text of `tt release`,
//! `tt pass` and `tt assign` through `commands::turn::parse_handoff` and
//! `service::turn::validate_handoff`.
//!
//! Checked: nothing panics; every failure is `invalid_handoff` (exit 1) naming the field
//! of the first check that fails, in the order of §10.3; an accepted handoff satisfies
//! every check; the stored form (serialised JSON) reads back as the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use stick::ErrorCode;
use stick::commands::turn::parse_handoff;
use stick::service::turn::validate_handoff;

/// The field of the first failing check of §10.3, or None when all pass.
fn expected_field(v: &Value) -> Option<&'static str> {
    let Value::Object(o) = v else { return Some("handoff") };
    if v.to_string().len() > 65_536 {
        return Some("handoff");
    }
    let non_blank = |k: &str| o.get(k).and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    if !non_blank("status") {
        return Some("status");
    }
    if !non_blank("next_action") {
        return Some("next_action");
    }
    if o.get("artifacts").is_some_and(|a| !a.is_array()) {
        return Some("artifacts");
    }
    None
}

fuzz_target!(|data: &[u8]| {
    // `--stdin` that is not UTF-8 is a usage error before any handoff parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let value = match parse_handoff(text) {
        Ok(v) => v,
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidHandoff);
            assert_eq!(e.code.exit_code(), 1);
            assert_eq!(e.details.get("field").and_then(Value::as_str), Some("handoff"));
            return;
        }
    };
    let want = expected_field(&value);
    match validate_handoff(&value) {
        Ok(()) => {
            assert_eq!(want, None, "{value}");
            // Stored exactly as supplied: the serialised handoff reads back unchanged.
            let stored = value.to_string();
            let back: Value = serde_json::from_str(&stored).expect("a stored handoff reads back");
            assert_eq!(back, value, "{stored}");
        }
        Err(e) => {
            assert_eq!(e.code, ErrorCode::InvalidHandoff);
            assert_eq!(e.details.get("field").and_then(Value::as_str), want, "{value}");
            assert_eq!(e.to_text().lines().count(), 1 + usize::from(e.hint.is_some()));
        }
    }
});
