//! Settings: built-in defaults, `<data_dir>/settings.toml`, then `TT_SETTINGS`
//! (protocol.md §4.3). One validated struct; every key of the registry, including the
//! companion specifications' (policy-core.md §4.1, host-lock.md §10, follow-through.md §6).

use crate::error::{ErrorCode, TtError};
use serde_json::{Map, Value};
use std::path::Path;

/// The largest integer a setting may hold: 2^53 − 1.
pub const MAX_SETTING: u64 = (1 << 53) - 1;

/// The effective settings. Durations are milliseconds; sizes are bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Lease length set by a grant, a takeover and every heartbeat (ms).
    pub owner_lease_ttl_ms: u64,
    /// Guardian renewal cadence (ms).
    pub heartbeat_interval_ms: u64,
    /// Silence before `gone` becomes persistently gone (ms); derived 2 × heartbeat.
    pub gone_grace_ms: u64,
    /// Exclusive window of a reserved recipient (ms).
    pub claim_ttl_ms: u64,
    /// Budget of one service-level wait cycle (ms).
    pub wait_for_turn_max_wait_ms: u64,
    /// Fallback poll interval of a turn wait (ms).
    pub wait_for_turn_poll_ms: u64,
    /// Upper clamp of one event long-poll (ms).
    pub wait_for_events_max_wait_ms: u64,
    /// Fallback poll interval of an event long-poll (ms).
    pub wait_for_events_poll_ms: u64,
    /// How long `last_seen_at` keeps a member present (ms).
    pub presence_ttl_ms: u64,
    /// Recent-waiter window and idle-claim grace window (ms).
    pub waiter_grace_ms: u64,
    /// How often a running wait refreshes presence (ms); derived max(1, grace / 4).
    pub wait_touch_interval_ms: u64,
    /// "No immediate take-backs" window (ms); derived max(6 × grace, 60 000).
    pub prior_owner_release_cooldown_ms: u64,
    /// Inactivity after which a room is purged (ms); 0 disables purging.
    pub idle_room_ttl_ms: u64,
    /// Lifetime of a cached process inspection (ms).
    pub liveness_cache_ms: u64,
    /// How long the parent waits for the guardian's `READY` (ms).
    pub guard_ready_timeout_ms: u64,
    /// SQLite busy timeout (ms).
    pub busy_timeout_ms: u64,
    /// Policy modules as configured (policy-core.md §4.3); relative to the data dir.
    pub policy_modules: Vec<String>,
    /// Fuel units per policy call (policy-core.md §4.1).
    pub policy_fuel: u64,
    /// Memory cap of a policy instance (bytes).
    pub policy_memory_bytes: u64,
    /// Allow the stale heal of a foreign host lock (host-lock.md §10).
    pub host_lock_auto_heal: bool,
    /// With auto-heal on, only log what would be healed (host-lock.md §10).
    pub host_lock_dry_run: bool,
    /// Classify and record new action claims (follow-through.md §6).
    pub action_claim_enabled: bool,
    /// Maximum open action-claim commitments per (room, topic).
    pub action_claim_cap: u64,
    /// Lifetime of a new commitment (ms).
    pub action_claim_expiry_ms: u64,
    /// The keys set explicitly in `settings.toml` or `TT_SETTINGS` (for `tt guards`'
    /// `config_source`, host-lock.md §11.3).
    pub explicit: std::collections::BTreeSet<String>,
}

impl Default for Settings {
    fn default() -> Self {
        let waiter_grace_ms = 10_000;
        let heartbeat_interval_ms = 300_000;
        Settings {
            owner_lease_ttl_ms: 2_700_000,
            heartbeat_interval_ms,
            gone_grace_ms: 2 * heartbeat_interval_ms,
            claim_ttl_ms: 1_200_000,
            wait_for_turn_max_wait_ms: 110_000,
            wait_for_turn_poll_ms: 250,
            wait_for_events_max_wait_ms: 110_000,
            wait_for_events_poll_ms: 250,
            presence_ttl_ms: 14_400_000,
            waiter_grace_ms,
            wait_touch_interval_ms: (waiter_grace_ms / 4).max(1),
            prior_owner_release_cooldown_ms: (6 * waiter_grace_ms).max(60_000),
            idle_room_ttl_ms: 604_800_000,
            liveness_cache_ms: 1_000,
            guard_ready_timeout_ms: 10_000,
            busy_timeout_ms: 5_000,
            policy_modules: Vec::new(),
            policy_fuel: 10_000_000,
            policy_memory_bytes: 16_777_216,
            host_lock_auto_heal: false,
            host_lock_dry_run: false,
            action_claim_enabled: true,
            action_claim_cap: 5,
            action_claim_expiry_ms: 21_600_000,
            explicit: std::collections::BTreeSet::new(),
        }
    }
}

/// The type and range of one registry key.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// An integer in `min..=max`.
    Int(u64, u64),
    /// `1`/`0`, `true`/`false`.
    Switch,
    /// An array of non-empty strings.
    Paths,
}

/// The settings registry (protocol.md §4.3.2): every key and its kind.
const REGISTRY: &[(&str, Kind)] = &[
    ("owner_lease_ttl_ms", Kind::Int(0, MAX_SETTING)),
    ("heartbeat_interval_ms", Kind::Int(1, MAX_SETTING)),
    ("gone_grace_ms", Kind::Int(0, MAX_SETTING)),
    ("claim_ttl_ms", Kind::Int(0, MAX_SETTING)),
    ("wait_for_turn_max_wait_ms", Kind::Int(0, MAX_SETTING)),
    ("wait_for_turn_poll_ms", Kind::Int(1, MAX_SETTING)),
    ("wait_for_events_max_wait_ms", Kind::Int(0, MAX_SETTING)),
    ("wait_for_events_poll_ms", Kind::Int(1, MAX_SETTING)),
    ("presence_ttl_ms", Kind::Int(0, MAX_SETTING)),
    ("waiter_grace_ms", Kind::Int(0, MAX_SETTING)),
    ("wait_touch_interval_ms", Kind::Int(1, MAX_SETTING)),
    ("prior_owner_release_cooldown_ms", Kind::Int(0, MAX_SETTING)),
    ("idle_room_ttl_ms", Kind::Int(0, MAX_SETTING)),
    ("liveness_cache_ms", Kind::Int(0, MAX_SETTING)),
    ("guard_ready_timeout_ms", Kind::Int(1, MAX_SETTING)),
    ("busy_timeout_ms", Kind::Int(0, MAX_SETTING)),
    ("policy_modules", Kind::Paths),
    ("policy_fuel", Kind::Int(1_000, MAX_SETTING)),
    ("policy_memory_bytes", Kind::Int(1_048_576, MAX_SETTING)),
    ("host_lock_auto_heal", Kind::Switch),
    ("host_lock_dry_run", Kind::Switch),
    ("action_claim_enabled", Kind::Switch),
    ("action_claim_cap", Kind::Int(1, 100)),
    ("action_claim_expiry_ms", Kind::Int(60_000, 604_800_000)),
];

/// The first this many `REGISTRY` entries are protocol.md §4.3.3's table, in order.
const PROTOCOL_KEY_COUNT: usize = 16;

/// A validated value.
#[derive(Clone, Debug)]
enum Setting {
    Int(u64),
    Switch(bool),
    Paths(Vec<String>),
}

fn invalid(source: &str, key: &str, why: &str) -> TtError {
    let message = if key.is_empty() {
        format!("invalid settings in {source}: {why}")
    } else {
        format!("invalid setting `{key}` in {source}: {why}")
    };
    TtError::new(ErrorCode::InvalidSettings, message)
        .with("source", source)
        .with("key", if key.is_empty() { Value::Null } else { Value::from(key) })
}

/// Validate one JSON-shaped value for `key` (TOML values are converted first).
fn validate(source: &str, key: &str, value: &Value) -> Result<Setting, TtError> {
    let Some((_, kind)) = REGISTRY.iter().find(|(k, _)| *k == key) else {
        return Err(invalid(source, key, "not a known setting"));
    };
    match *kind {
        Kind::Int(min, max) => match value.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(Setting::Int(v)),
            _ => Err(invalid(source, key, &format!("must be an integer from {min} to {max}"))),
        },
        Kind::Switch => match value {
            Value::Bool(b) => Ok(Setting::Switch(*b)),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(Setting::Switch(true)),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(Setting::Switch(false)),
            _ => Err(invalid(source, key, "must be 1 or 0 (true or false)")),
        },
        Kind::Paths => match value.as_array() {
            Some(items) => items
                .iter()
                .map(|i| i.as_str().filter(|s| !s.is_empty()).map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Setting::Paths)
                .ok_or_else(|| invalid(source, key, "must be an array of non-empty path strings")),
            None => Err(invalid(source, key, "must be an array of non-empty path strings")),
        },
    }
}

/// Convert a TOML value to the JSON shape `validate` reads (integers, booleans, arrays
/// of strings; anything else is kept as a type name so validation rejects it).
fn toml_to_json(item: &toml_edit::Item) -> Value {
    use toml_edit::Value as T;
    match item.as_value() {
        Some(T::Integer(i)) => u64::try_from(*i.value()).map(Value::from).unwrap_or(Value::from(-1)),
        Some(T::Boolean(b)) => Value::Bool(*b.value()),
        Some(T::Array(a)) => {
            Value::Array(a.iter().map(|v| v.as_str().map(Value::from).unwrap_or(Value::Null)).collect())
        }
        Some(T::String(s)) => Value::String(s.value().clone()),
        _ => Value::from("<unsupported TOML value>"),
    }
}

/// Parse `settings.toml` text into (key, value) pairs, validated.
fn parse_toml(source: &str, text: &str) -> Result<Vec<(String, Setting)>, TtError> {
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(source, "", &format!("not valid TOML: {}", e.message())))?;
    doc.iter().map(|(k, item)| validate(source, k, &toml_to_json(item)).map(|v| (k.to_string(), v))).collect()
}

/// Parse the `TT_SETTINGS` JSON object, validated.
fn parse_json(source: &str, text: &str) -> Result<Vec<(String, Setting)>, TtError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => obj.iter().map(|(k, v)| validate(source, k, v).map(|s| (k.clone(), s))).collect(),
        _ => Err(invalid(source, "", "must be a JSON object of settings")),
    }
}

impl Settings {
    /// Load the effective settings: defaults, then `<data_dir>/settings.toml` (if it
    /// exists), then `TT_SETTINGS` (`tt_settings`, blank counts as unset). Derived keys
    /// are computed from the final values unless set explicitly (protocol.md §4.3.1).
    ///
    /// Errors: `invalid_settings` (exit 2) naming the source and key, for unknown keys,
    /// wrong types, out-of-range values, unparsable TOML or JSON, or an unreadable file.
    pub fn load(settings_toml: &Path, tt_settings: Option<&str>) -> Result<Settings, TtError> {
        let mut pairs = Vec::new();
        match std::fs::read_to_string(settings_toml) {
            Ok(text) => pairs.extend(parse_toml(&settings_toml.display().to_string(), &text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(invalid(&settings_toml.display().to_string(), "", &format!("cannot be read: {e}"))),
        }
        if let Some(json) = tt_settings.filter(|s| !s.trim().is_empty()) {
            pairs.extend(parse_json("TT_SETTINGS", json)?);
        }
        Ok(Self::from_pairs(pairs))
    }

    fn from_pairs(pairs: Vec<(String, Setting)>) -> Settings {
        let mut s = Settings::default();
        let mut explicit = std::collections::BTreeSet::new();
        for (key, value) in pairs {
            explicit.insert(key.clone());
            s.set(&key, value);
        }
        if !explicit.contains("gone_grace_ms") {
            s.gone_grace_ms = s.heartbeat_interval_ms.saturating_mul(2);
        }
        if !explicit.contains("wait_touch_interval_ms") {
            s.wait_touch_interval_ms = (s.waiter_grace_ms / 4).max(1);
        }
        if !explicit.contains("prior_owner_release_cooldown_ms") {
            s.prior_owner_release_cooldown_ms = s.waiter_grace_ms.saturating_mul(6).max(60_000);
        }
        s.explicit = explicit;
        s
    }

    fn set(&mut self, key: &str, value: Setting) {
        match value {
            Setting::Paths(p) => self.policy_modules = p,
            Setting::Switch(b) => match key {
                "host_lock_auto_heal" => self.host_lock_auto_heal = b,
                "host_lock_dry_run" => self.host_lock_dry_run = b,
                _ => self.action_claim_enabled = b,
            },
            Setting::Int(v) => {
                if let Some(slot) = self.int_mut(key) {
                    *slot = v;
                }
            }
        }
    }

    fn int_mut(&mut self, key: &str) -> Option<&mut u64> {
        Some(match key {
            "owner_lease_ttl_ms" => &mut self.owner_lease_ttl_ms,
            "heartbeat_interval_ms" => &mut self.heartbeat_interval_ms,
            "gone_grace_ms" => &mut self.gone_grace_ms,
            "claim_ttl_ms" => &mut self.claim_ttl_ms,
            "wait_for_turn_max_wait_ms" => &mut self.wait_for_turn_max_wait_ms,
            "wait_for_turn_poll_ms" => &mut self.wait_for_turn_poll_ms,
            "wait_for_events_max_wait_ms" => &mut self.wait_for_events_max_wait_ms,
            "wait_for_events_poll_ms" => &mut self.wait_for_events_poll_ms,
            "presence_ttl_ms" => &mut self.presence_ttl_ms,
            "waiter_grace_ms" => &mut self.waiter_grace_ms,
            "wait_touch_interval_ms" => &mut self.wait_touch_interval_ms,
            "prior_owner_release_cooldown_ms" => &mut self.prior_owner_release_cooldown_ms,
            "idle_room_ttl_ms" => &mut self.idle_room_ttl_ms,
            "liveness_cache_ms" => &mut self.liveness_cache_ms,
            "guard_ready_timeout_ms" => &mut self.guard_ready_timeout_ms,
            "busy_timeout_ms" => &mut self.busy_timeout_ms,
            "policy_fuel" => &mut self.policy_fuel,
            "policy_memory_bytes" => &mut self.policy_memory_bytes,
            "action_claim_cap" => &mut self.action_claim_cap,
            "action_claim_expiry_ms" => &mut self.action_claim_expiry_ms,
            _ => return None,
        })
    }

    /// Where a key's value comes from (host-lock.md §11.3 `config_source`):
    /// `setting:<key>` when set in `settings.toml` or `TT_SETTINGS`, else `code_default`.
    pub fn source_of(&self, key: &str) -> String {
        if self.explicit.contains(key) { format!("setting:{key}") } else { "code_default".into() }
    }

    /// The protocol settings as reported in the verbose `tt join` result, keyed by the
    /// snake_case names of protocol.md §4.3.3 (derived values included; §4.3.5).
    pub fn protocol_map(&self) -> Map<String, Value> {
        let mut clone = self.clone();
        REGISTRY
            .iter()
            .take(PROTOCOL_KEY_COUNT)
            .filter_map(|(k, _)| clone.int_mut(k).map(|v| ((*k).to_string(), Value::from(*v))))
            .collect()
    }
}

/// Record `policy_modules = [paths]` in `settings.toml` (or remove the key with `None`),
/// keeping every other key and its formatting; written atomically with mode 0600
/// (policy-core.md §5, `tt policy use`).
///
/// Errors: `invalid_settings` when the existing file is not valid TOML;
/// `storage_error` when it cannot be read or written.
pub fn write_policy_modules(settings_toml: &Path, paths: Option<&[String]>) -> Result<(), TtError> {
    let source = settings_toml.display().to_string();
    let text = match std::fs::read_to_string(settings_toml) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(TtError::storage(format!("cannot read `{source}`: {e}"))),
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| invalid(&source, "", &format!("not valid TOML: {}", e.message())))?;
    match paths {
        Some(list) => {
            let array: toml_edit::Array = list.iter().map(String::as_str).collect();
            doc.insert("policy_modules", toml_edit::value(array));
        }
        None => {
            doc.remove("policy_modules");
        }
    }
    crate::paths::write_atomic(settings_toml, doc.to_string().as_bytes())
        .map_err(|e| TtError::storage(format!("cannot write `{source}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Result<Settings, TtError> {
        Ok(Settings::from_pairs(parse_json("TT_SETTINGS", text)?))
    }

    #[test]
    fn derived_defaults_follow_their_inputs() {
        let s = json(r#"{"heartbeat_interval_ms":1000,"presence_ttl_ms":500}"#).unwrap_or_default();
        assert_eq!(s.gone_grace_ms, 2000);
        assert_eq!(s.prior_owner_release_cooldown_ms, 60_000);
        let s = json(r#"{"waiter_grace_ms":20000}"#).unwrap_or_default();
        assert_eq!(s.prior_owner_release_cooldown_ms, 120_000);
        assert_eq!(s.wait_touch_interval_ms, 5000);
        let s = json(r#"{"waiter_grace_ms":20000,"prior_owner_release_cooldown_ms":7}"#).unwrap_or_default();
        assert_eq!(s.prior_owner_release_cooldown_ms, 7);
    }

    #[test]
    fn protocol_map_reports_the_sixteen_protocol_keys() {
        let s = json(r#"{"heartbeat_interval_ms":1000,"presence_ttl_ms":500}"#).unwrap_or_default();
        let map = s.protocol_map();
        assert_eq!(map.len(), 16);
        assert_eq!(map.get("gone_grace_ms"), Some(&Value::from(2000)));
        assert_eq!(map.get("owner_lease_ttl_ms"), Some(&Value::from(2_700_000)));
        assert_eq!(map.get("busy_timeout_ms"), Some(&Value::from(5000)));
        assert!(map.get("policy_fuel").is_none() && map.get("action_claim_cap").is_none());
    }

    #[test]
    fn rejects_unknown_keys_types_and_ranges() {
        for bad in [
            r#"{"bogus_ms":1}"#,
            r#"{"claim_ttl_ms":-1}"#,
            "not json",
            "[1]",
            r#"{"heartbeat_interval_ms":0}"#,
            r#"{"policy_fuel":999}"#,
            r#"{"policy_memory_bytes":1048575}"#,
            r#"{"policy_modules":[""]}"#,
            r#"{"policy_modules":"a.wasm"}"#,
            r#"{"host_lock_auto_heal":2}"#,
            r#"{"action_claim_cap":101}"#,
            r#"{"claim_ttl_ms":9007199254740992}"#,
            r#"{"claim_ttl_ms":1.5}"#,
        ] {
            let err = json(bad).err().map(|e| e.code);
            assert_eq!(err, Some(ErrorCode::InvalidSettings), "{bad}");
        }
    }

    #[test]
    fn switches_accept_numbers_and_booleans() {
        let s = json(r#"{"host_lock_auto_heal":1,"host_lock_dry_run":true,"action_claim_enabled":false}"#)
            .unwrap_or_default();
        assert!(s.host_lock_auto_heal && s.host_lock_dry_run && !s.action_claim_enabled);
    }

    #[test]
    fn toml_file_then_env_override() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, "claim_ttl_ms = 5000\npolicy_modules = [\"a.wasm\"]\n").unwrap_or(());
        let s = Settings::load(&path, None).unwrap_or_default();
        assert_eq!((s.claim_ttl_ms, s.policy_modules.clone()), (5000, vec!["a.wasm".to_string()]));
        let s = Settings::load(&path, Some(r#"{"claim_ttl_ms":7000}"#)).unwrap_or_default();
        assert_eq!(s.claim_ttl_ms, 7000);
        std::fs::write(&path, "claim_ttl_ms = \"x\"\n").unwrap_or(());
        assert!(Settings::load(&path, None).is_err());
    }

    #[test]
    fn policy_use_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| std::process::abort());
        let path = dir.path().join("settings.toml");
        std::fs::write(&path, "# mine\nclaim_ttl_ms = 5000\n").unwrap_or(());
        write_policy_modules(&path, Some(&["/x/a.wasm".to_string()])).unwrap_or(());
        let s = Settings::load(&path, None).unwrap_or_default();
        assert_eq!((s.claim_ttl_ms, s.policy_modules.clone()), (5000, vec!["/x/a.wasm".to_string()]));
        write_policy_modules(&path, None).unwrap_or(());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.contains("# mine") && !text.contains("policy_modules"), "{text}");
    }
}
