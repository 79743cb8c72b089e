#!/usr/bin/env bash
# Build the hostile/odd policy fixtures from tests/fixtures/policy-fixtures/ into
# tests/fixtures/modules/ (see tests/fixtures/README.md).
#
#   scripts/build-fixtures.sh           rebuild every tests/fixtures/modules/*.wasm
#   scripts/build-fixtures.sh --check   rebuild into a temp dir and fail if the checked-in files differ
#
# Each fixture is one cargo feature of the crate `stick-policy-fixtures`, built alone
# with the `wasm` profile (panic = "abort"). Like scripts/build-policies.sh the build
# is reproducible: pinned toolchain and Cargo.lock, every local path remapped.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
  echo "error: the Rust target wasm32-wasip2 is not installed" >&2
  echo "hint: run \`rustup target add wasm32-wasip2\`" >&2
  exit 1
fi

mode=${1:-build}
out=tests/fixtures/modules
if [ "$mode" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
export RUSTFLAGS="--remap-path-prefix=$root=/stick --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustup_home=/rustup"
export CARGO_TARGET_DIR="$root/target/fixture-build"
export SOURCE_DATE_EPOCH=0

# The components, one cargo feature each; the feature name is the file name.
fixtures=(wrong-version changed-signature superset busy-loop panic memory-hog extra-import)
for f in "${fixtures[@]}"; do
  cargo build --locked --quiet -p stick-policy-fixtures --target wasm32-wasip2 --profile wasm \
    --no-default-features --features "$f"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/wasm/stick_policy_fixtures.wasm" "$out/$f.wasm"
done

# Not components at all: a bare core module (magic + version 1, no sections) and text.
printf '\x00\x61\x73\x6d\x01\x00\x00\x00' > "$out/core-module.wasm"
printf 'this is not a WebAssembly module\n' > "$out/garbage.wasm"

all=("${fixtures[@]}" core-module garbage)
if [ "$mode" = "--check" ]; then
  status=0
  for f in "${all[@]}"; do
    if ! cmp -s "$out/$f.wasm" "tests/fixtures/modules/$f.wasm"; then
      echo "error: tests/fixtures/modules/$f.wasm is stale: it differs from a fresh build" >&2
      status=1
    fi
  done
  [ $status -eq 0 ] && echo "tests/fixtures/modules/*.wasm are fresh"
  exit $status
fi
for f in "${all[@]}"; do ls -l "$out/$f.wasm"; done
