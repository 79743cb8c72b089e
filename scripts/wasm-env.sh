# Shared by build-policies.sh and build-fixtures.sh (sourced, not run): the checks and
# environment that make a wasm32-wasip2 component build reproducible.
#
# Usage: wasm_env ROOT TARGET_SUBDIR MODE CHECKED_IN_DIR
#   sets $out (where to write: CHECKED_IN_DIR, or a temp dir with --check) and exports
#   RUSTFLAGS (every local path remapped), CARGO_TARGET_DIR and SOURCE_DATE_EPOCH.
# Usage: wasm_compare CHECKED_IN_DIR FILE…   (with --check: fail if any file differs)

wasm_env() {
  local root=$1 subdir=$2 mode=$3 checked_in=$4
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo "error: the Rust target wasm32-wasip2 is not installed" >&2
    echo "hint: run \`rustup target add wasm32-wasip2\`" >&2
    exit 1
  fi
  out=$checked_in
  if [ "$mode" = "--check" ]; then
    out=$(mktemp -d)
    # shellcheck disable=SC2064 # expand now: $out is this run's temp dir
    trap "rm -rf '$out'" EXIT
  fi
  mkdir -p "$out"
  local cargo_home=${CARGO_HOME:-$HOME/.cargo}
  local rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
  export RUSTFLAGS="--remap-path-prefix=$root=/stick --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustup_home=/rustup"
  export CARGO_TARGET_DIR="$root/target/$subdir"
  export SOURCE_DATE_EPOCH=0
}

wasm_compare() {
  local checked_in=$1 status=0 f
  shift
  for f in "$@"; do
    if ! cmp -s "$out/$f" "$checked_in/$f"; then
      echo "error: $checked_in/$f is stale: it differs from a fresh build" >&2
      status=1
    fi
  done
  [ $status -eq 0 ] && echo "$checked_in/*.wasm are fresh"
  return $status
}
