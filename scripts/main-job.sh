#!/usr/bin/env bash
# The main job, on the embedded default policy.
#
# Builds tt and the main_job example (release), then runs the example with this script's arguments:
#   scripts/main-job.sh [--rounds N] [--agents N] [--keep] [--data-dir DIR] [--timeout SECS]
# host/examples/main_job.rs creates a throwaway git repository and a fresh data dir, starts the
# agents (real processes with distinct harness identities looping `tt wait` → edit and commit →
# `tt release`), prints a summary and verifies from the event log and the git history that no two
# agents ever held the stick at once. Exit 0 verified, 1 failed, 2 bad usage or set-up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: missing prerequisite: cargo (not found on PATH)" >&2
  echo "hint: install the Rust toolchain pinned in rust-toolchain.toml (rustup installs it)" >&2
  exit 2
fi
# The example checks this too; checking here saves a build.
if ! command -v git >/dev/null 2>&1; then
  echo "error: git is required for the main job (not found on PATH)" >&2
  echo "hint: install git, or fix PATH" >&2
  exit 2
fi
# Build from the workspace (so rust-toolchain.toml applies); run from the caller's directory (so a
# relative --data-dir means what the caller meant).
(cd "$root" && cargo build --locked --release -p stick --quiet --bin tt --example main_job)
# .cargo/config.toml builds for the host's triple, named explicitly: target/<triple>/release.
triple=$(rustc -vV | sed -n 's/^host: //p')
bin="$root/target/$triple/release"
exec "$bin/examples/main_job" --tt "$bin/tt" "$@"
