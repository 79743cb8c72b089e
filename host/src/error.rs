//! Stable error codes and the error value every command returns (protocol.md §21,
//! cli.md §2.9). Exit codes are part of the protocol (protocol.md §22).

use serde_json::{Map, Value};

/// Every error code of protocol.md §21 and the companion specifications, with its
/// JSON spelling. Exit code 2 for the two usage codes, 1 for every other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `cli_error`: Usage error: unknown command or option, malformed argument, missing body (exit 2).
    CliError,
    /// `invalid_settings`: Malformed `TT_SETTINGS`, `settings.toml` or `TT_LIVENESS_FILE` (exit 2).
    InvalidSettings,
    /// `invalid_input`: Empty or oversized reason, pass to oneself, unreadable case tables.
    InvalidInput,
    /// `policy_module_invalid`: A policy module that is not usable (policy-core.md §5).
    PolicyModuleInvalid,
    /// `storage_error`: Any other SQLite or file-system failure, including a session-file lock timeout.
    StorageError,
    /// `room_not_found`: The room does not exist (deleted, purged, or never joined for this path).
    RoomNotFound,
    /// `unknown_member`: The caller is not a member; a pass target is not active; an assign selector matches nobody.
    UnknownMember,
    /// `unknown_target`: A kick target is not a member.
    UnknownTarget,
    /// `target_active`: A kick target is not kickable and `--force` was not given.
    TargetActive,
    /// `cannot_kick_self`: A kick target is the caller.
    CannotKickSelf,
    /// `invalid_handoff`: The handoff fails protocol.md §10.3 (details `field`).
    InvalidHandoff,
    /// `turn_mismatch`: Fencing step 1: the expected turn is not the room's turn (protocol.md §10.2).
    TurnMismatch,
    /// `stale_lease`: Fencing step 2: the caller no longer holds that lease (protocol.md §10.2).
    StaleLease,
    /// `takeover_not_available`: No takeover kind applies and there is no override (protocol.md §12).
    TakeoverNotAvailable,
    /// `takeover_ineligible`: A takeover kind applies but the caller may not use it (protocol.md §12.2).
    TakeoverIneligible,
    /// `invalid_body`: An empty message body; a note body empty after trimming.
    InvalidBody,
    /// `body_too_large`: A note body over 16 384 bytes.
    BodyTooLarge,
    /// `message_too_large`: A message body over 4 096 bytes.
    MessageTooLarge,
    /// `invalid_delivery_hint`: A delivery hint other than `normal` or `interrupt`.
    InvalidDeliveryHint,
    /// `unknown_recipient`: A message recipient matches no member.
    UnknownRecipient,
    /// `ambiguous_recipient`: A recipient display name matches several active members.
    AmbiguousRecipient,
    /// `agent_id_required`: Target `self` without a caller.
    AgentIdRequired,
    /// `invalid_event_type_filter`: An empty or unknown event type in a filter.
    InvalidEventTypeFilter,
    /// `room_closed`: A message or note in a `closed` room.
    RoomClosed,
    /// `invalid_turn_id`: A note `turn_id` outside [0, current turn].
    InvalidTurnId,
    /// `invalid_cursor`: A `--after` note id not in this room; a missing or negative event cursor.
    InvalidCursor,
    /// `no_active_lease`: Release, pass, assign or heartbeat without a recorded lease for this path.
    NoActiveLease,
    /// `guardian_failed`: The guardian did not become ready (protocol.md §16.2); the grant committed.
    GuardianFailed,
    /// `instructions_too_large`: An instructions file over 262 144 bytes (protocol.md §19.1).
    InstructionsTooLarge,
    /// `database_busy`: The write lock could not be obtained within `busy_timeout_ms` (retryable).
    DatabaseBusy,
    /// `incompatible_database`: `rooms.sqlite` was not created by this tt (protocol.md §20.1).
    IncompatibleDatabase,
    /// `remote_filesystem`: The data dir is on NFS or SMB (protocol.md §4.1.4).
    RemoteFilesystem,
    /// `host_lock_conflict`: The data dir belongs to another host (host-lock.md §8).
    HostLockConflict,
    /// `commitment_not_found`: No commitment with that id (follow-through.md §7.6).
    CommitmentNotFound,
    /// `commitment_not_open`: The commitment is no longer open (follow-through.md §7.6).
    CommitmentNotOpen,
    /// `not_commitment_owner`: The caller does not own the commitment (follow-through.md §7.6).
    NotCommitmentOwner,
}

impl ErrorCode {
    /// The code as written in JSON (`"cli_error"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::CliError => "cli_error",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::PolicyModuleInvalid => "policy_module_invalid",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::UnknownMember => "unknown_member",
            ErrorCode::UnknownTarget => "unknown_target",
            ErrorCode::TargetActive => "target_active",
            ErrorCode::CannotKickSelf => "cannot_kick_self",
            ErrorCode::InvalidHandoff => "invalid_handoff",
            ErrorCode::TurnMismatch => "turn_mismatch",
            ErrorCode::StaleLease => "stale_lease",
            ErrorCode::TakeoverNotAvailable => "takeover_not_available",
            ErrorCode::TakeoverIneligible => "takeover_ineligible",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::MessageTooLarge => "message_too_large",
            ErrorCode::InvalidDeliveryHint => "invalid_delivery_hint",
            ErrorCode::UnknownRecipient => "unknown_recipient",
            ErrorCode::AmbiguousRecipient => "ambiguous_recipient",
            ErrorCode::AgentIdRequired => "agent_id_required",
            ErrorCode::InvalidEventTypeFilter => "invalid_event_type_filter",
            ErrorCode::RoomClosed => "room_closed",
            ErrorCode::InvalidTurnId => "invalid_turn_id",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::NoActiveLease => "no_active_lease",
            ErrorCode::GuardianFailed => "guardian_failed",
            ErrorCode::InstructionsTooLarge => "instructions_too_large",
            ErrorCode::DatabaseBusy => "database_busy",
            ErrorCode::IncompatibleDatabase => "incompatible_database",
            ErrorCode::RemoteFilesystem => "remote_filesystem",
            ErrorCode::HostLockConflict => "host_lock_conflict",
            ErrorCode::CommitmentNotFound => "commitment_not_found",
            ErrorCode::CommitmentNotOpen => "commitment_not_open",
            ErrorCode::NotCommitmentOwner => "not_commitment_owner",
        }
    }

    /// The process exit code: 2 for usage errors, 1 otherwise (cli.md §2.9).
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::CliError | ErrorCode::InvalidSettings => 2,
            _ => 1,
        }
    }
}

/// An error with a stable code, a one-sentence message, an optional `hint:` line and
/// details that are flattened into the JSON error object on stderr.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct TtError {
    /// The stable code.
    pub code: ErrorCode,
    /// The message (binding verbatim where the spec states it).
    pub message: String,
    /// Guidance printed on a separate `hint:` line in text mode.
    pub hint: Option<String>,
    /// Details flattened into the JSON object (e.g. `field`, `path`).
    pub details: Map<String, Value>,
}

impl TtError {
    /// A new error with no hint and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        TtError { code, message: message.into(), hint: None, details: Map::new() }
    }

    /// A usage error (`cli_error`, exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CliError, message)
    }

    /// A `storage_error` naming what failed.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::StorageError, message)
    }

    /// Add a detail field.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// Add a hint line.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The JSON error object: `{"error", "message", …details}` (cli.md §2.9).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("error".into(), Value::from(self.code.as_str()));
        obj.insert("message".into(), Value::from(self.message.clone()));
        for (k, v) in &self.details {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    /// The text-mode rendering on stderr (cli.md §2.9): the line `Error: <message>`, then
    /// `hint: <hint>` when there is a hint, each ending with a newline. Messages echo user
    /// input (`Unknown command: <name>`), so control characters are escaped (`\n`,
    /// `\u{7}`): the error is always exactly one line, two with a hint.
    pub fn to_text(&self) -> String {
        match &self.hint {
            Some(h) => format!("Error: {}\nhint: {}\n", one_line(&self.message), one_line(h)),
            None => format!("Error: {}\n", one_line(&self.message)),
        }
    }
}

/// `text` with its control characters escaped as Rust escapes them (`\n`, `\t`, `\u{1b}`).
fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_errors_are_one_line_each() {
        let e = TtError::usage("Unknown command: a\nb\u{7}");
        assert_eq!(e.to_text(), "Error: Unknown command: a\\nb\\u{7}\n");
        let e = TtError::storage("x\r\ny").hint("do\tthis");
        assert_eq!(e.to_text(), "Error: x\\r\\ny\nhint: do\\tthis\n");
        assert_eq!(e.to_json().get("message").and_then(Value::as_str), Some("x\r\ny"));
    }
}
