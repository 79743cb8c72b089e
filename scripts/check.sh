#!/usr/bin/env bash
# The one check command (design.md habit 20): format, lints, every test, and the
# freshness of the checked-in policy modules. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  if ! "$@" >/dev/null 2>&1; then
    echo "error: missing prerequisite: $*" >&2
    echo "hint: run \`rustup target add wasm32-wasip2 && rustup component add rustfmt clippy\`" >&2
    exit 1
  fi
}
need cargo fmt --version
need cargo clippy --version
rustup target list --installed | grep -qx wasm32-wasip2 || need false

echo "== format"
cargo fmt --all --check
echo "== clippy"
cargo clippy --locked --workspace --all-targets --release -- -D warnings
echo "== clippy (wasm32 guests)"
cargo clippy --locked -p stick-policy --target wasm32-wasip2 --profile wasm -- -D warnings
echo "== policy modules and fixtures are fresh"
scripts/build-policies.sh --check
scripts/build-fixtures.sh --check
echo "== tests"
cargo test --locked --workspace --release
