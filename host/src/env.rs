//! A snapshot of the process environment, taken once by the binary (design.md §2:
//! the library never reads environment variables directly).

use std::collections::BTreeMap;

/// The environment variables of one invocation (lossily decoded as UTF-8).
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Snapshot the current process environment.
    pub fn from_process() -> Self {
        Self::from_pairs(
            std::env::vars_os().map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned())),
        )
    }

    /// Build from explicit pairs (tests).
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Env { vars: pairs.into_iter().collect() }
    }

    /// A copy with `name` set to `value` (the hook's second identity candidate,
    /// follow-through.md §7.2 step 7).
    pub fn with(&self, name: &str, value: &str) -> Env {
        let mut vars = self.vars.clone();
        vars.insert(name.to_string(), value.to_string());
        Env { vars }
    }

    /// The value of `name`, if set (possibly blank).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of `name`, if set and not blank after trimming.
    pub fn non_blank(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// Whether `name` is set to `1` or `true` (case-insensitive), as `TT_HARNESS_EXPORT`
    /// is read (cli.md §2.7).
    pub fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| {
            let v = v.trim();
            v == "1" || v.eq_ignore_ascii_case("true")
        })
    }

    /// Whether a harness environment marker is present (protocol.md §7.3).
    pub fn has_harness_marker(&self) -> bool {
        let is_one = |k: &str| self.get(k).is_some_and(|v| v == "1");
        let non_empty = |k: &str| self.get(k).is_some_and(|v| !v.is_empty());
        is_one("CLAUDECODE")
            || is_one("CODEX_MANAGED_BY_NPM")
            || non_empty("CODEX_THREAD_ID")
            || is_one("ANTIGRAVITY_AGENT")
            || non_empty("ANTIGRAVITY_CONVERSATION_ID")
            || non_empty("ANTIGRAVITY_TRAJECTORY_ID")
            || is_one("GEMINI_CLI")
            || is_one("OPENCODE")
            || is_one("GROK_AGENT")
    }
}
