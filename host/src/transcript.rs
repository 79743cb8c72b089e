//! The final assistant message of a Claude Code transcript (follow-through.md §7.2
//! step 3), for the Stop hook when the payload carries no `last_assistant_message`.
//!
//! A transcript is JSONL: one entry per line, each with a `type` (`user`, `assistant`,
//! `system`, …); an assistant entry's `message.content` is a list of blocks (`text`,
//! `tool_use`, `thinking`, …), and Claude Code writes one API message as several lines
//! sharing `message.id`. The file is read from its end only: a window of the last 64 KiB,
//! widened four-fold until the walk reaches a genuine user prompt or the start of the
//! file, never more than the last 4 MiB. The first line of a window that does not start
//! the file is partial and dropped; lines that do not parse are skipped. Nothing here
//! fails: an unreadable file or a transcript without such a message is `None`.

use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// At most this many bytes from the end of the transcript are read (§7.2 step 3).
pub const TAIL_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// The first window read from the end.
const FIRST_WINDOW: u64 = 64 * 1024;

/// The text of the transcript's final assistant message: the `text` blocks of every
/// assistant entry with the final message's `message.id` after the last genuine user
/// prompt, in file order, joined with `\n` and trimmed. `None` when the file cannot be
/// read or holds no such message (§7.2 step 3).
pub fn final_assistant_message(path: &Path) -> Option<String> {
    // Only a regular file is read; opening without blocking keeps a FIFO or a device
    // named by the payload from stalling the hook.
    std::fs::metadata(path).ok().filter(std::fs::Metadata::is_file)?;
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits()).unwrap_or(0);
    let mut file = std::fs::OpenOptions::new().read(true).custom_flags(nonblock).open(path).ok()?;
    let len = file.metadata().ok().filter(std::fs::Metadata::is_file)?.len();
    final_assistant_message_in(&mut file, len, FIRST_WINDOW)
}

/// [`final_assistant_message`] on any seekable transcript of `len` bytes, reading a
/// first window of `first_window` bytes from the end (the file reader uses 64 KiB),
/// widened four-fold as needed up to [`TAIL_MAX_BYTES`]. For a transcript of at most
/// [`TAIL_MAX_BYTES`], the answer does not depend on `first_window` (the fuzz target
/// `transcript` checks this). `None` on a read error or when there is no such message.
pub fn final_assistant_message_in<R: Read + Seek>(reader: &mut R, len: u64, first_window: u64) -> Option<String> {
    let mut window = first_window.clamp(1, TAIL_MAX_BYTES).min(len);
    loop {
        let start = len - window;
        reader.seek(SeekFrom::Start(start)).ok()?;
        let mut buf = Vec::new();
        reader.by_ref().take(window).read_to_end(&mut buf).ok()?;
        let whole = start == 0;
        let (message, conclusive) = scan(&buf, whole);
        if conclusive || whole || window >= TAIL_MAX_BYTES {
            return message;
        }
        window = (window.saturating_mul(4)).min(TAIL_MAX_BYTES).min(len);
    }
}

/// One assistant entry after the stopping point.
struct Assistant {
    id: Option<String>,
    texts: Vec<String>,
}

/// Walk the complete lines of `buf` from the end (§7.2 step 3). Returns the message and
/// whether the walk reached a genuine user prompt (so a wider window cannot change it).
fn scan(buf: &[u8], whole: bool) -> (Option<String>, bool) {
    let mut lines: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
    if !whole && !lines.is_empty() {
        lines.remove(0);
    }
    let mut after_stop: Vec<Assistant> = Vec::new();
    let mut stopped = false;
    for line in lines.iter().rev() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(entry) = serde_json::from_slice::<Value>(line) else { continue };
        if entry.get("isSidechain").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        match entry.get("type").and_then(Value::as_str) {
            Some("user") if is_prompt(&entry) => {
                stopped = true;
                break;
            }
            Some("assistant") => {
                let message = entry.get("message");
                let id = message.and_then(|m| m.get("id")).and_then(Value::as_str).map(str::to_string);
                let texts = message.and_then(|m| m.get("content")).map(text_blocks).unwrap_or_default();
                after_stop.push(Assistant { id, texts });
            }
            _ => {}
        }
    }
    // `after_stop` runs from the end of the file backwards.
    let Some(last) = after_stop.iter().find(|a| a.texts.iter().any(|t| !t.is_empty())) else {
        return (None, stopped);
    };
    let joined: Vec<&str> = match &last.id {
        Some(id) => after_stop
            .iter()
            .rev()
            .filter(|a| a.id.as_deref() == Some(id.as_str()))
            .flat_map(|a| a.texts.iter().map(String::as_str))
            .collect(),
        None => last.texts.iter().map(String::as_str).collect(),
    };
    let text = joined.join("\n").trim().to_string();
    ((!text.is_empty()).then_some(text), stopped)
}

/// A genuine user prompt: not `isMeta`, and `message.content` is a string or holds a
/// `text` block (an entry holding only `tool_result` blocks is not a prompt).
fn is_prompt(entry: &Value) -> bool {
    if entry.get("isMeta").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    match entry.get("message").and_then(|m| m.get("content")) {
        Some(Value::String(_)) => true,
        Some(Value::Array(blocks)) => blocks.iter().any(|b| b.get("type").and_then(Value::as_str) == Some("text")),
        _ => false,
    }
}

/// The non-empty `text` of every `text` block of an assistant `message.content` (a
/// string content counts as one block).
fn text_blocks(content: &Value) -> Vec<String> {
    match content {
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn user(text: &str) -> String {
        serde_json::json!({"type": "user", "message": {"role": "user", "content": text}}).to_string()
    }
    fn assistant(id: &str, blocks: Value) -> String {
        serde_json::json!({"type": "assistant", "message": {"id": id, "role": "assistant", "content": blocks}})
            .to_string()
    }
    fn text(t: &str) -> Value {
        serde_json::json!([{"type": "text", "text": t}])
    }
    fn file(lines: &[String], tail: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|_| std::process::abort());
        let _ = f.write_all(lines.join("\n").as_bytes());
        let _ = f.write_all(b"\n");
        let _ = f.write_all(tail.as_bytes());
        f
    }

    #[test]
    fn joins_the_final_message_lines_after_the_last_prompt() {
        let f = file(
            &[
                user("earlier"),
                assistant("m0", text("I'll restart it.")),
                user("please run the tests"),
                assistant("m1", serde_json::json!([{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}])),
                serde_json::json!({"type": "user", "message": {"content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}}).to_string(),
                assistant("m2", text("Tests pass.")),
                assistant("m2", text("I'll push the branch now.")),
            ],
            "{\"type\":\"assist",
        );
        let got = final_assistant_message(f.path());
        assert_eq!(got.as_deref(), Some("Tests pass.\nI'll push the branch now."));
    }

    #[test]
    fn stops_at_the_prompt_and_skips_meta_and_sidechains() {
        let f = file(
            &[
                assistant("m0", text("I'll restart it.")),
                user("next"),
                serde_json::json!({"type": "user", "isMeta": true, "message": {"content": "meta"}}).to_string(),
                serde_json::json!({"type": "assistant", "isSidechain": true, "message": {"id": "s", "content": [{"type": "text", "text": "side"}]}}).to_string(),
            ],
            "",
        );
        assert_eq!(final_assistant_message(f.path()), None);
    }

    #[test]
    fn nothing_for_garbage_missing_files_and_directories() {
        let f = file(&["\u{0}\u{1}not json".to_string()], "\u{fffd}");
        assert_eq!(final_assistant_message(f.path()), None);
        assert_eq!(final_assistant_message(Path::new("/nonexistent/transcript.jsonl")), None);
        assert_eq!(final_assistant_message(Path::new("/")), None);
    }

    #[test]
    fn the_first_window_does_not_change_the_answer() {
        let lines = [
            user("earlier"),
            assistant("m0", text("I'll restart it.")),
            user("go"),
            assistant("m1", text("Tests pass.")),
            "{\"type\":\"garbage".to_string(),
            assistant("m1", text("I'll push the branch now.")),
        ];
        let data = format!("{}\n{{\"type\":\"assist", lines.join("\n")).into_bytes();
        let len = data.len() as u64;
        let whole = final_assistant_message_in(&mut std::io::Cursor::new(&data), len, len);
        assert_eq!(whole.as_deref(), Some("Tests pass.\nI'll push the branch now."));
        for first_window in [0, 1, 7, 64, 100, len + 1, u64::MAX] {
            let got = final_assistant_message_in(&mut std::io::Cursor::new(&data), len, first_window);
            assert_eq!(got, whole, "first window {first_window}");
        }
    }

    #[test]
    fn widens_the_window_for_a_long_final_turn() {
        let filler = "x".repeat(100_000);
        let mut lines = vec![user("go"), assistant("m9", text("I'll deploy it now."))];
        for i in 0..5 {
            lines.push(serde_json::json!({"type": "system", "n": i, "filler": filler}).to_string());
        }
        let f = file(&lines, "");
        assert_eq!(final_assistant_message(f.path()).as_deref(), Some("I'll deploy it now."));
    }
}
