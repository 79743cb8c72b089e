//! The data directory (protocol.md §4.1) and owner-only file-system helpers.

use crate::env::Env;
use crate::error::TtError;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Resolve the data directory: `TT_DATA_DIR`, `TALKING_STICK_DATA_DIR`,
/// `$XDG_DATA_HOME/talking-stick` (absolute only), `$HOME/.local/share/talking-stick`
/// (protocol.md §4.1.1). Relative values resolve against `cwd`.
///
/// Errors: `storage_error` when none of them is usable (no `HOME`).
pub fn data_dir(env: &Env, cwd: &Path) -> Result<PathBuf, TtError> {
    for key in ["TT_DATA_DIR", "TALKING_STICK_DATA_DIR"] {
        if let Some(v) = env.non_blank(key) {
            return Ok(cwd.join(v));
        }
    }
    if let Some(xdg) = env.non_blank("XDG_DATA_HOME").map(Path::new).filter(|p| p.is_absolute()) {
        return Ok(xdg.join("talking-stick"));
    }
    match env.non_blank("HOME") {
        Some(home) => Ok(Path::new(home).join(".local/share/talking-stick")),
        None => Err(TtError::storage("cannot locate the data directory: set TT_DATA_DIR or HOME")),
    }
}

/// Create `dir` (and missing parents) with mode 0700 on the final component
/// (protocol.md §4.1.3). An existing directory is left as it is.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// Whether `dir` is a directory owned by this user and closed to group and others
/// (the trust condition of the AOT cache, policy-core.md §4.2).
pub fn is_private_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.mode() & 0o077 == 0 && m.uid() == rustix::process::geteuid().as_raw())
}

/// Write `bytes` to `path` atomically: a 0600 temp file in the same directory, fsync,
/// rename (upstream #34).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".tt-").suffix(".tmp").tempfile_in(dir)?;
    tmp.as_file().set_permissions(fs::Permissions::from_mode(0o600))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
