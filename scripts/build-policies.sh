#!/usr/bin/env bash
# Build the policy modules from policy-wasm/ (policy-core.md §3, §4.2).
#
#   scripts/build-policies.sh           rebuild policies/default.wasm and policies/verified-only.wasm
#   scripts/build-policies.sh --check   rebuild into a temp dir and fail if the checked-in files differ
#
# The build is reproducible: pinned toolchain (rust-toolchain.toml) and Cargo.lock, the
# `wasm` profile (no debug info, stripped), and every local path remapped, so the bytes
# do not depend on where the checkout lives.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mode=${1:-build}
# shellcheck source=scripts/wasm-env.sh
. scripts/wasm-env.sh
wasm_env "$root" policy-build "$mode" policies

build() { # build FEATURES OUTPUT
  cargo rustc --locked --quiet -p stick-policy --lib --crate-type cdylib --target wasm32-wasip2 --profile wasm $1
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/wasm/stick_policy.wasm" "$2"
}
build "" "$out/default.wasm"
build "--features verified-only" "$out/verified-only.wasm"

if [ "$mode" = "--check" ]; then
  wasm_compare policies default.wasm verified-only.wasm
  exit $?
fi
ls -l policies/*.wasm
