//! Room resolution for paths (protocol.md §9): canonicalisation, workspace roots, linked
//! worktrees and ancestor paths. No subprocess, no database.
//!
//! STUB: the signatures below are the contract the service codes against.

use std::path::{Path, PathBuf};

/// A resolved `[path]` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// `canonicalize(p)` of the argument (reported as `requested_path`).
    pub requested_path: PathBuf,
    /// The effective context path (§9.3; equals `requested_path` outside linked worktrees).
    pub context_path: PathBuf,
    /// `workspace_root` of the effective context path (§9.2).
    pub workspace_root: PathBuf,
}

/// Resolve `path` (default: `cwd`) against `cwd`; `home` is `$HOME`.
pub fn resolve(path: Option<&str>, cwd: &Path, _home: Option<&Path>) -> Resolved {
    let p = path.map(|p| cwd.join(p)).unwrap_or_else(|| cwd.to_path_buf());
    Resolved { requested_path: p.clone(), context_path: p.clone(), workspace_root: p }
}

/// `ancestor_paths(c)` (§9.4): `c`, then each parent, deepest first, stopping before
/// `$HOME` and `/` (neither included unless `c` is that directory).
pub fn ancestor_paths(c: &Path, _home: Option<&Path>) -> Vec<PathBuf> {
    vec![c.to_path_buf()]
}
