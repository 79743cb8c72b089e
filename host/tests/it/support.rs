//! `TestEnv`: a temp data dir, a clean environment and the real `tt` binary
//! (design.md habit 12).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (so `policies/` and `tests/fixtures/` resolve).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The output of one `tt` run.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
    pub fn err_json(&self) -> Value {
        let last = self.stderr.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {self:?}"))
    }
}

/// A fresh data dir and environment for running `tt`.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub cwd: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        TestEnv { dir, cwd: repo_root(), vars: vec![("TT_NOW_MS".into(), "1776859200000".into())] }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.into(), value.into()));
        self
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tt"));
        cmd.args(args).current_dir(&self.cwd).env_clear();
        for key in ["PATH", "HOME", "USER"] {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        cmd.env("TT_DATA_DIR", self.data_dir());
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}
