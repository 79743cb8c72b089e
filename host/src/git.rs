//! The `git` part of `tt health` (cli.md §4.12): `git -C <workspace_root> status
//! --porcelain` with a 2 000 ms timeout. Runs after the read transaction, never inside
//! one (protocol.md §20.5).

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The timeout of the `git status` probe (cli.md §4.12): 2 000 ms.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(2_000);
/// How long the wait loop sleeps between `try_wait` calls: 5 ms.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The `git` object of `tt health` (cli.md §4.12): `{dirty: bool|null, summary}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GitStatus {
    /// Whether `git status --porcelain` printed anything; `None` when git could not
    /// answer (not a repository, git missing, timeout).
    pub dirty: Option<bool>,
    /// `clean`, `<n> changed path(s)`, `not a git repository` or `git unavailable`.
    pub summary: String,
}

impl GitStatus {
    fn unknown(summary: &str) -> Self {
        GitStatus { dirty: None, summary: summary.to_string() }
    }
}

/// Run `git -C <workspace_root> status --porcelain` (with `GIT_OPTIONAL_LOCKS=0`, so the
/// probe never takes the index lock) under the 2 000 ms [`STATUS_TIMEOUT`]. Exit 0 →
/// `dirty` = non-empty output and summary `clean` or `<n> changed path(s)` (n = non-empty
/// output lines); non-zero exit → `dirty: None`, `not a git repository`; spawn failure
/// or timeout (the child is killed) → `dirty: None`, `git unavailable`.
pub fn status(workspace_root: &Path) -> GitStatus {
    status_with_timeout(workspace_root, STATUS_TIMEOUT)
}

/// [`status`] with an explicit timeout.
pub fn status_with_timeout(workspace_root: &Path, timeout: Duration) -> GitStatus {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(workspace_root).args(["status", "--porcelain"]).env("GIT_OPTIONAL_LOCKS", "0");
    match run(cmd, timeout) {
        Outcome::Exited { success: true, stdout } => {
            let n = String::from_utf8_lossy(&stdout).lines().filter(|l| !l.trim().is_empty()).count();
            if n == 0 {
                GitStatus { dirty: Some(false), summary: "clean".to_string() }
            } else {
                GitStatus { dirty: Some(true), summary: format!("{n} changed path(s)") }
            }
        }
        Outcome::Exited { success: false, .. } => GitStatus::unknown("not a git repository"),
        Outcome::Unavailable => GitStatus::unknown("git unavailable"),
    }
}

/// How a bounded child run ended.
#[derive(Debug)]
enum Outcome {
    /// The child exited within the timeout with this status and stdout.
    Exited { success: bool, stdout: Vec<u8> },
    /// It could not be spawned, timed out (and was killed), or its output was lost.
    Unavailable,
}

/// Run `cmd` (stdin and stderr null, stdout captured by a reader thread so a full pipe
/// cannot stall the child) and wait at most `timeout`, polling `try_wait` every 5 ms.
fn run(mut cmd: Command, timeout: Duration) -> Outcome {
    let deadline = Instant::now().checked_add(timeout);
    let Ok(mut child) = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn() else {
        return Outcome::Unavailable;
    };
    let Some(mut pipe) = child.stdout.take() else {
        kill(&mut child);
        return Outcome::Unavailable;
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let res = pipe.read_to_end(&mut buf).map(|_| buf);
        let _ = tx.send(res);
    });
    let remaining = || deadline.map_or(timeout, |d| d.saturating_duration_since(Instant::now()));
    let success = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if !remaining().is_zero() => std::thread::sleep(POLL_INTERVAL.min(remaining())),
            _ => {
                kill(&mut child);
                return Outcome::Unavailable;
            }
        }
    };
    // The pipe closes when git exits, unless a grandchild inherited it; never wait past
    // the deadline (a stuck reader thread is abandoned).
    match rx.recv_timeout(remaining().max(POLL_INTERVAL)) {
        Ok(Ok(stdout)) => Outcome::Exited { success, stdout },
        _ => Outcome::Unavailable,
    }
}

/// Kill and reap `child` (errors ignored: it may have exited already).
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn git_available() -> bool {
        Command::new("git").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    }

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn git_clean_and_dirty_repo() {
        if !git_available() {
            eprintln!("git missing: skipped");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        git(tmp.path(), &["init", "-q"]);
        assert_eq!(status(tmp.path()), GitStatus { dirty: Some(false), summary: "clean".into() });
        std::fs::write(tmp.path().join("a.txt"), b"a").unwrap();
        assert_eq!(status(tmp.path()), GitStatus { dirty: Some(true), summary: "1 changed path(s)".into() });
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/b.txt"), b"b").unwrap();
        std::fs::write(tmp.path().join("c.txt"), b"c").unwrap();
        let s = status(tmp.path());
        assert_eq!(s.dirty, Some(true));
        assert_eq!(s.summary, "3 changed path(s)");
        // Status of a subdirectory reports the whole repository.
        assert_eq!(status(&tmp.path().join("sub")).summary, "3 changed path(s)");
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json, serde_json::json!({"dirty": true, "summary": "3 changed path(s)"}));
    }

    #[test]
    fn git_not_a_repository() {
        if !git_available() {
            eprintln!("git missing: skipped");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        // Skip if the temp dir happens to sit inside a repository.
        let inside = Command::new("git")
            .arg("-C")
            .arg(tmp.path())
            .args(["rev-parse", "--git-dir"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        if inside {
            eprintln!("temp dir inside a git repository: skipped");
            return;
        }
        let s = status(tmp.path());
        assert_eq!(s, GitStatus { dirty: None, summary: "not a git repository".into() });
        assert_eq!(serde_json::to_value(&s).unwrap(), serde_json::json!({"dirty": null, "summary": s.summary}));
        // A workspace root that does not exist: git exits non-zero.
        assert_eq!(status(&tmp.path().join("missing")).summary, "not a git repository");
    }

    #[test]
    fn git_spawn_failure_is_unavailable() {
        let cmd = Command::new("/nonexistent/definitely-not-git");
        assert!(matches!(run(cmd, Duration::from_secs(2)), Outcome::Unavailable));
    }

    #[test]
    fn git_timeout_kills_the_child() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exec sleep 10"]);
        let start = Instant::now();
        assert!(matches!(run(cmd, Duration::from_millis(100)), Outcome::Unavailable));
        assert!(start.elapsed() < Duration::from_secs(5), "returned long before the child's 10 s");
    }

    #[test]
    fn git_run_captures_large_output() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "i=0; while [ $i -lt 20000 ]; do echo \" M file$i\"; i=$((i+1)); done; exit 3"]);
        let out = run(cmd, Duration::from_secs(30));
        let lines = match &out {
            Outcome::Exited { success: false, stdout } => String::from_utf8_lossy(stdout).lines().count(),
            _ => 0,
        };
        assert_eq!(lines, 20000, "{out:?}");
    }
}
