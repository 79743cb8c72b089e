//! Remote filesystem refusal (protocol.md §4.1.4, host-lock.md §3): SQLite's locking is
//! unreliable on network filesystems, so `tt` refuses a data dir on NFS or SMB/SMB2/CIFS
//! before opening the database.
//!
//! The type is read with `statfs(2)` on the data dir or its nearest existing ancestor:
//! on Linux from the magic number `f_type`, on macOS from `f_fstypename`; elsewhere it
//! is undeterminable and the check is skipped. The test hook `TT_FS_TYPE` replaces the
//! probe's answer (host-lock.md §12).
//!
//! The module also owns the `df` mount probe of host-lock.md §6.4 ([`mount_source`]),
//! which the host lock runs only when the foreign-lock decision asks for locality.

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::env::Env;
use crate::error::{ErrorCode, TtError};

/// The test hook replacing the probed type name (host-lock.md §3, §12). Judgment call:
/// set to the empty (or blank) string it means "undeterminable", as the empty
/// `TT_MACHINE_ID` means unknown.
pub const FS_TYPE_HOOK: &str = "TT_FS_TYPE";

/// The guidance line of a `remote_filesystem` error.
pub const REMOTE_HINT: &str = "move the state to a local disk and point TT_DATA_DIR at it; \
`tt guards heal-lock --force` cannot override this check";

/// Fail with `remote_filesystem` (exit 1, protocol.md §4.1.4) when `data_dir` (or its
/// nearest existing ancestor) is on a remote filesystem per [`is_remote`]; the type comes
/// from [`probe_fs_type`] (so `TT_FS_TYPE` applies). Details: `path` (= `data_dir` as
/// given, the path the user configures), `fs_type` (the type name) and `hint`. An
/// undeterminable type is `Ok(None)` (the check is skipped). Writes nothing.
///
/// Returns the type name, which is also the `fs_type` fact of `classify-mount-source`
/// (host-lock.md §6.1), so that the data dir is `statfs`ed once per command.
pub fn check_local(data_dir: &Path, env: &Env) -> Result<Option<String>, TtError> {
    let fs_type = probe_fs_type(data_dir, env);
    match refusal(data_dir, fs_type.as_deref()) {
        Some(e) => Err(e),
        None => Ok(fs_type),
    }
}

/// The `remote_filesystem` error for `data_dir` when `fs_type` is refused (host-lock.md
/// §3), else `None`. `tt guards` reports it instead of failing (§11).
pub fn refusal(data_dir: &Path, fs_type: Option<&str>) -> Option<TtError> {
    let fs_type = fs_type.filter(|t| is_remote(t))?;
    let path = data_dir.display().to_string();
    Some(
        TtError::new(
            ErrorCode::RemoteFilesystem,
            format!(
                "tt requires a local filesystem for SQLite state. Detected {fs_type} at {path}. Set TT_DATA_DIR to a local path."
            ),
        )
        .with("path", path)
        .with("fs_type", fs_type)
        .with("hint", REMOTE_HINT)
        .hint(REMOTE_HINT),
    )
}

/// How long the `df` mount probe may run (host-lock.md §6.4, §10).
pub const DF_TIMEOUT: Duration = Duration::from_millis(3_000);

/// The real mount probe of host-lock.md §6.4 (no test hook): `df -P -- <dir>` with
/// `LC_ALL=C`, killed after [`DF_TIMEOUT`]. The source is the first whitespace-separated
/// token of the second output line; `None` when `df` cannot be run, fails, times out or
/// prints fewer than two lines. Called only when the foreign-lock decision asks for
/// locality (rule 3 of §6.2), never on the normal path.
pub fn mount_source(dir: &Path) -> Option<String> {
    let mut child = Command::new("df")
        .arg("-P")
        .arg("--")
        .arg(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + DF_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    source_of_df_output(&String::from_utf8_lossy(&out.stdout))
}

/// The source column of `df -P` output: the first token of the second line, trimmed.
pub fn source_of_df_output(text: &str) -> Option<String> {
    let line = text.lines().nth(1)?;
    Some(line.split_whitespace().next().unwrap_or("").trim().to_string())
}

/// The filesystem type name of `path` (host-lock.md §3), honouring the `TT_FS_TYPE` hook:
/// the hook's value (trimmed) when set and not blank, `None` when set but blank, else
/// [`fs_type`]. This is also the `fs_type` input of `classify-mount-source`
/// (host-lock.md §6.1).
pub fn probe_fs_type(path: &Path, env: &Env) -> Option<String> {
    match env.get(FS_TYPE_HOOK) {
        Some(hook) => Some(hook.trim().to_string()).filter(|t| !t.is_empty()),
        None => fs_type(path),
    }
}

/// The real probe (no test hook): the filesystem type name of `path`, or of its nearest
/// existing ancestor when `path` does not exist yet. Names per host-lock.md §3: `nfs`,
/// `smbfs`, `smb2`, `cifs` for the four remote magic numbers, the usual Linux name for
/// common local and network types (`ext4`, `xfs`, `btrfs`, `tmpfs`, `overlay`, `9p`,
/// `ceph`, …), `0x<hex>` for an unknown Linux magic number, macOS's `f_fstypename`
/// verbatim. `None` when `statfs` fails for another reason or on other systems.
pub fn fs_type(path: &Path) -> Option<String> {
    for candidate in path.ancestors() {
        let candidate = if candidate.as_os_str().is_empty() { Path::new(".") } else { candidate };
        match statfs_name(candidate) {
            Ok(name) => return name,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Whether a type name is refused (host-lock.md §3): lowercased, it starts with `nfs` or
/// equals `smbfs`, `cifs` or `smb2`.
pub fn is_remote(fs_type: &str) -> bool {
    let t = fs_type.trim().to_ascii_lowercase();
    t.starts_with("nfs") || matches!(t.as_str(), "smbfs" | "cifs" | "smb2")
}

/// The name of a Linux `statfs.f_type` magic number (`linux/magic.h`); `0x<hex>` when
/// unknown.
pub fn linux_magic_name(magic: u32) -> String {
    let name = match magic {
        0x6969 => "nfs",
        0x517B => "smbfs",
        0xFE53_4D42 => "smb2",
        0xFF53_4D42 => "cifs",
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x2FC1_2FC1 => "zfs",
        0xF2F5_2010 => "f2fs",
        0xCA45_1A4E => "bcachefs",
        0x0102_1994 => "tmpfs",
        0x8584_58F6 => "ramfs",
        0x794C_7630 => "overlay",
        0x6573_5546 => "fuse",
        0x7371_7368 => "squashfs",
        0x4D44 => "vfat",
        0x2011_BAB0 => "exfat",
        0x5346_544E => "ntfs",
        0x3153_464A => "jfs",
        0x5265_4973 => "reiserfs",
        0x9660 => "iso9660",
        0xF15F => "ecryptfs",
        0x0102_1997 => "9p",
        0x00C3_6400 => "ceph",
        0x5346_414F | 0x6B41_4653 => "afs",
        0x0BD0_0BD0 => "lustre",
        0x0027_E0EB => "cgroup",
        0x6367_7270 => "cgroup2",
        0x9FA0 => "proc",
        0x6265_6572 => "sysfs",
        0x1373 => "devfs",
        _ => return format!("0x{magic:x}"),
    };
    name.to_string()
}

/// `Ok(Some(name))` on success, `Ok(None)` when the platform gives no usable type.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn statfs_name(path: &Path) -> io::Result<Option<String>> {
    let st = rustix::fs::statfs(path)?;
    // `f_type` is signed on some targets; the magic numbers are 32-bit.
    #[allow(clippy::unnecessary_cast, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let magic = st.f_type as u64 as u32;
    Ok(Some(linux_magic_name(magic)))
}

/// `Ok(Some(name))` on success, `Ok(None)` when the platform gives no usable type.
#[cfg(target_os = "macos")]
fn statfs_name(path: &Path) -> io::Result<Option<String>> {
    let st = rustix::fs::statfs(path)?;
    #[allow(clippy::cast_sign_loss, clippy::unnecessary_cast)]
    let bytes: Vec<u8> = st.f_fstypename.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()).filter(|n| !n.is_empty()))
}

/// `Ok(Some(name))` on success, `Ok(None)` when the platform gives no usable type.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn statfs_name(_path: &Path) -> io::Result<Option<String>> {
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn fscheck_remote_names() {
        for t in ["nfs", "nfs4", "NFS", "nfsd", "smbfs", "cifs", "smb2", "CIFS", " nfs4 "] {
            assert!(is_remote(t), "{t}");
        }
        for t in ["ext4", "xfs", "btrfs", "tmpfs", "apfs", "smb3", "overlay", "fuse", "", "mynfs"] {
            assert!(!is_remote(t), "{t}");
        }
    }

    #[test]
    fn fscheck_magic_names() {
        assert_eq!(linux_magic_name(0x6969), "nfs");
        assert_eq!(linux_magic_name(0x517B), "smbfs");
        assert_eq!(linux_magic_name(0xFE53_4D42), "smb2");
        assert_eq!(linux_magic_name(0xFF53_4D42), "cifs");
        assert_eq!(linux_magic_name(0xEF53), "ext4");
        assert_eq!(linux_magic_name(0x1234_5678), "0x12345678");
        for m in [0x6969, 0x517B, 0xFE53_4D42, 0xFF53_4D42] {
            assert!(is_remote(&linux_magic_name(m)));
        }
    }

    #[test]
    fn fscheck_hook_nfs4_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let err = check_local(&dir, &env(&[("TT_FS_TYPE", "nfs4")])).unwrap_err();
        assert_eq!(err.code, ErrorCode::RemoteFilesystem);
        let path = dir.display().to_string();
        assert_eq!(
            err.message,
            format!(
                "tt requires a local filesystem for SQLite state. Detected nfs4 at {path}. Set TT_DATA_DIR to a local path."
            )
        );
        let json = err.to_json();
        assert_eq!(json["error"], "remote_filesystem");
        assert_eq!(json["path"], path.as_str());
        assert_eq!(json["fs_type"], "nfs4");
        assert_eq!(err.hint.as_deref(), Some(REMOTE_HINT));
        assert!(!dir.exists(), "the check writes nothing");
    }

    #[test]
    fn fscheck_hook_other_remote_names_and_local_names() {
        let tmp = tempfile::tempdir().unwrap();
        for t in ["nfs", "smbfs", "cifs", "smb2"] {
            let err = check_local(tmp.path(), &env(&[("TT_FS_TYPE", t)])).unwrap_err();
            assert_eq!(err.details["fs_type"], t);
        }
        for t in ["ext4", "apfs", "tmpfs", "overlay", "zfs", "", "   "] {
            assert!(check_local(tmp.path(), &env(&[("TT_FS_TYPE", t)])).is_ok(), "{t:?}");
        }
        assert_eq!(check_local(tmp.path(), &env(&[("TT_FS_TYPE", "ext4")])).unwrap().as_deref(), Some("ext4"));
    }

    #[test]
    fn fscheck_hook_replaces_the_probe() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(probe_fs_type(tmp.path(), &env(&[("TT_FS_TYPE", " ext4 ")])).as_deref(), Some("ext4"));
        assert_eq!(probe_fs_type(tmp.path(), &env(&[("TT_FS_TYPE", "")])), None);
        assert_eq!(probe_fs_type(tmp.path(), &env(&[])), fs_type(tmp.path()));
    }

    #[test]
    fn fscheck_real_local_dir_passes() {
        let tmp = tempfile::tempdir().unwrap();
        let found = fs_type(tmp.path());
        if cfg!(any(target_os = "linux", target_os = "macos")) {
            assert!(found.is_some());
        }
        // The test temp dir is assumed local; a CI box with /tmp on NFS would fail here.
        if let Some(t) = &found {
            assert!(!is_remote(t), "temp dir on {t}");
        }
        assert!(check_local(tmp.path(), &env(&[])).is_ok());
    }

    #[test]
    fn fscheck_df_source_column() {
        let out = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 1 2 3 4% /\n";
        assert_eq!(source_of_df_output(out).as_deref(), Some("/dev/vda"));
        assert_eq!(source_of_df_output("Filesystem\n").as_deref(), None);
        assert_eq!(source_of_df_output("").as_deref(), None);
        let tmp = tempfile::tempdir().unwrap();
        // A real probe of a real directory yields some source (df is part of coreutils).
        if std::path::Path::new("/bin/df").exists() || std::path::Path::new("/usr/bin/df").exists() {
            assert!(mount_source(tmp.path()).is_some());
        }
        assert_eq!(mount_source(&tmp.path().join("missing/dir")), None);
    }

    #[test]
    fn fscheck_missing_dir_uses_nearest_existing_ancestor() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("a/b/c");
        assert_eq!(fs_type(&missing), fs_type(tmp.path()));
        // A regular file in the way (ENOTDIR) also falls back to an ancestor.
        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        assert_eq!(fs_type(&tmp.path().join("file/x")), fs_type(tmp.path()));
        assert!(check_local(&missing, &env(&[])).is_ok());
        assert!(!tmp.path().join("a").exists());
    }
}
