#!/usr/bin/env bash
# Run every fuzz target for SECONDS (default 600), two at a time (the machine has two
# cores), on the pinned stable toolchain with RUSTC_BOOTSTRAP=1 (cargo-fuzz passes
# nightly-only -Z flags). New corpus entries go to fuzz/work/<target>/ (ignored); the
# committed seeds in fuzz/corpus/<target>/ are only read. Logs: fuzz/logs/<target>.log,
# crashes: fuzz/artifacts/<target>/. See docs/RELIABILITY.md, "Fuzzing".
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
command -v cargo-fuzz >/dev/null || {
  echo "error: cargo-fuzz is not installed" >&2
  echo "hint: run \`cargo install cargo-fuzz --locked\`" >&2
  exit 1
}
export RUSTC_BOOTSTRAP=1
cargo fuzz build
mkdir -p fuzz/logs
run() {
  mkdir -p "fuzz/work/$1"
  cargo fuzz run "$1" "fuzz/work/$1" "fuzz/corpus/$1" -- -max_total_time="$secs" -print_final_stats=1 \
    >"fuzz/logs/$1.log" 2>&1 || echo "$1: FAILED (see fuzz/logs/$1.log)"
}
run cli_args & run handoff & wait
run hook_input & run claims & wait
for t in cli_args handoff hook_input claims; do
  echo "== $t"
  grep -E '^#[0-9]+.*(DONE|pulse)' "fuzz/logs/$t.log" | tail -n 1
  grep -E 'stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "fuzz/logs/$t.log" || true
done
