//! Stable error codes and the error value every command returns (protocol.md §21,
//! cli.md §2.9). Exit codes are part of the protocol (protocol.md §22).

use serde_json::{Map, Value};

/// Every error code of protocol.md §21 and the companion specifications.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Usage error: unknown command or option, malformed argument (exit 2).
    CliError,
    /// Malformed `TT_SETTINGS`, `settings.toml` or `TT_LIVENESS_FILE` (exit 2).
    InvalidSettings,
    /// Empty or oversized input, unreadable case tables (exit 1).
    InvalidInput,
    /// A policy module that is not usable (policy-core.md §5, exit 1).
    PolicyModuleInvalid,
    /// Any other SQLite or file-system failure (exit 1).
    StorageError,
    /// The room does not exist (exit 1).
    RoomNotFound,
    /// The caller or target is not a member (exit 1).
    UnknownMember,
    /// The write lock could not be obtained in time (exit 1).
    DatabaseBusy,
    /// The database was written by an incompatible version (exit 1).
    IncompatibleDatabase,
    /// The data dir is on NFS or SMB (exit 1).
    RemoteFilesystem,
    /// The data dir belongs to another host (host-lock.md §8, exit 1).
    HostLockConflict,
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
            ErrorCode::DatabaseBusy => "database_busy",
            ErrorCode::IncompatibleDatabase => "incompatible_database",
            ErrorCode::RemoteFilesystem => "remote_filesystem",
            ErrorCode::HostLockConflict => "host_lock_conflict",
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
}
