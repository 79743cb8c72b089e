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

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "error: the Rust target wasm32-wasip2 is not installed" >&2
  echo "hint: run \`rustup target add wasm32-wasip2\`" >&2
  exit 1
fi

mode=${1:-build}
out=policies
if [ "$mode" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
export RUSTFLAGS="--remap-path-prefix=$root=/stick --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustup_home=/rustup"
export CARGO_TARGET_DIR="$root/target/policy-build"
export SOURCE_DATE_EPOCH=0

build() { # build FEATURES OUTPUT
  cargo build --locked --quiet -p stick-policy --target wasm32-wasip2 --profile wasm $1
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/wasm/stick_policy.wasm" "$2"
}
build "" "$out/default.wasm"
build "--features verified-only" "$out/verified-only.wasm"

if [ "$mode" = "--check" ]; then
  status=0
  for f in default.wasm verified-only.wasm; do
    if ! cmp -s "$out/$f" "policies/$f"; then
      echo "error: policies/$f is stale: it differs from a fresh build of policy-wasm/" >&2
      status=1
    fi
  done
  [ $status -eq 0 ] && echo "policies/*.wasm are fresh"
  exit $status
fi
ls -l policies/*.wasm
