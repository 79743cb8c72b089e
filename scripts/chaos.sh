#!/usr/bin/env bash
# Reliability evidence with real processes (design.md habit 15), on the embedded default policy.
#
# Builds tt and the chaos example (release), then runs the example with this script's arguments:
#   scripts/chaos.sh [--smoke | --long] [--agents 2,4,8,16] [--acquisitions N] [--duration SECS]
#                    [--seed S] [--keep]                       the lock-set chaos run
#   scripts/chaos.sh --crash [--smoke | --long] [--kills N] [--seed S] [--keep]
#                                                              the crash-consistency run
# host/examples/chaos/ starts N agent processes looping `tt wait` → critical section → fenced write →
# `tt release` while a nemesis SIGKILLs holders and waiters and SIGSTOPs holders past their lease,
# then checks the event table, the register journal and the agents' logs; --crash SIGKILLs tt write
# commands at random points and checks integrity, acknowledged events, turn ids, cli-sessions.json and
# guardians. Exit 0 every check passed, 1 a check failed, 2 bad usage or set-up. docs/RELIABILITY.md
# describes both and records the figures of the last long runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: missing prerequisite: cargo (not found on PATH)" >&2
  echo "hint: install the Rust toolchain pinned in rust-toolchain.toml (rustup installs it)" >&2
  exit 2
fi
(cd "$root" && cargo build --locked --release -p stick --quiet --bin tt --example chaos)
# .cargo/config.toml builds for the host's triple, named explicitly: target/<triple>/release.
triple=$(rustc -vV | sed -n 's/^host: //p')
bin="$root/target/$triple/release"
exec "$bin/examples/chaos" --tt "$bin/tt" "$@"
