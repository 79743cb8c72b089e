#!/usr/bin/env bash
# The main job, on the embedded default policy.
#
# Today (foundation): build tt, show which module fills each policy slot, and run every
# decision the policy makes — fairness, idle-claim deferral, supersession, the claim
# classifier, the mount-source classifier and the foreign-lock decision — through the
# embedded WebAssembly module against the conformance tables in policies/cases/.
# The protocol work (three real agents taking turns through `tt wait` / `tt release`
# in a throwaway git repository) extends this script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo build --locked --release -p stick --quiet
tt="$root/target/release/tt"
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
export TT_DATA_DIR="$data"

echo "== policy slots (embedded default)"
"$tt" policy show
echo
echo "== every policy decision against the conformance tables"
"$tt" policy test policies/default.wasm
echo
echo "== swapping one slot without rebuilding: supersession from verified-only.wasm"
"$tt" --policy policies/verified-only.wasm policy show
