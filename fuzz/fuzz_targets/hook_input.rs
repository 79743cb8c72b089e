//! The input of `tt claim observe --hook` (follow-through.md §7.2): the Stop-hook payload
//! (`commands::claims::HookPayload::parse`) and the Claude Code transcript reader
//! (`transcript::final_assistant_message_in`), both on the same bytes.
//!
//! Checked: nothing panics; a payload is accepted exactly when it is a JSON object of at
//! most 1 MiB, and each field is read only with its documented type; the transcript's
//! final message is trimmed and non-empty, and does not depend on the size of the first
//! window read from the end (64 KiB in `tt`; here 1, 7, 64 bytes and the whole input),
//! so widening the window never changes the answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::io::Cursor;
use stick::commands::claims::{HookPayload, STDIN_MAX_BYTES};
use stick::transcript::final_assistant_message_in;

fuzz_target!(|data: &[u8]| {
    let parsed = HookPayload::parse(data);
    let object = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(o)) if data.len() <= STDIN_MAX_BYTES => Some(o),
        _ => None,
    };
    match (&parsed, &object) {
        (Some(p), Some(o)) => {
            let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
            assert_eq!(p.session_id, s("session_id"));
            assert_eq!(p.transcript_path, s("transcript_path"));
            assert_eq!(p.cwd, s("cwd"));
            assert_eq!(p.last_assistant_message, s("last_assistant_message"));
            assert_eq!(p.stop_hook_active, o.get("stop_hook_active").and_then(Value::as_bool));
        }
        (None, None) => {}
        _ => panic!("payload {parsed:?} vs object {object:?}"),
    }

    let len = data.len() as u64;
    let whole = final_assistant_message_in(&mut Cursor::new(data), len, len);
    if let Some(m) = &whole {
        assert!(!m.is_empty() && m.trim() == m, "{m:?}");
    }
    for first_window in [1, 7, 64] {
        let windowed = final_assistant_message_in(&mut Cursor::new(data), len, first_window);
        assert_eq!(windowed, whole, "first window {first_window}");
    }
});
