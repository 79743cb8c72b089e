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

echo "== changelog: an Unreleased section for the release flow (README \"Changes and releases\")"
if ! grep -q '^## \[Unreleased\]$' CHANGELOG.md || ! grep -q '^<!-- next-header -->$' CHANGELOG.md; then
  echo "error: CHANGELOG.md needs its '<!-- next-header -->' marker and a '## [Unreleased]' section" >&2
  exit 1
fi
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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --release 2>&1 | tee "$log"
echo "== policy conformance through tt"
cargo run --locked --release --quiet -p stick --bin tt -- policy test policies/default.wasm | tail -n 1 | tee -a "$log"
echo "== main job: 3 agents x 20 rounds, verified from the event log and git history"
scripts/main-job.sh --rounds 20 | tail -n 4
echo "== chaos smoke: N = 2, 4, 8 agents under SIGKILL and SIGSTOP, then calm (bypass bound); 40 SIGKILLs of write commands (docs/RELIABILITY.md)"
scripts/chaos.sh --smoke | tail -n 2
scripts/chaos.sh --crash --smoke | tail -n 2
# One closing line for the whole run: the sum over every test binary.
awk '/^test result:/ { p += $4; f += $6 } / passed, [0-9]+ failed$/ && !/^test result:/ { p += $1; f += $3 }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
