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

mode=${1:-build}
# shellcheck source=scripts/wasm-env.sh
. scripts/wasm-env.sh
wasm_env "$root" fixture-build "$mode" tests/fixtures/modules

# The components, one cargo feature each; the feature name is the file name.
fixtures=(wrong-version changed-signature superset busy-loop panic memory-hog extra-import)
for f in "${fixtures[@]}"; do
  cargo rustc --locked --quiet -p stick-policy-fixtures --lib --crate-type cdylib --target wasm32-wasip2 --profile wasm \
    --no-default-features --features "$f"
  cp "$CARGO_TARGET_DIR/wasm32-wasip2/wasm/stick_policy_fixtures.wasm" "$out/$f.wasm"
done

# Not components at all: a bare core module (magic + version 1, no sections) and text.
printf '\x00\x61\x73\x6d\x01\x00\x00\x00' > "$out/core-module.wasm"
printf 'this is not a WebAssembly module\n' > "$out/garbage.wasm"

all=("${fixtures[@]}" core-module garbage)
if [ "$mode" = "--check" ]; then
  wasm_compare tests/fixtures/modules $(printf '%s.wasm ' "${all[@]}")
  exit $?
fi
for f in "${all[@]}"; do ls -l "$out/$f.wasm"; done
