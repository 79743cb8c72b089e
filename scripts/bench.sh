#!/usr/bin/env bash
# Every performance figure of docs/PERFORMANCE.md in one run, on one machine:
#
#   scripts/bench.sh            run every benchmark and rewrite its table in docs/PERFORMANCE.md
#   scripts/bench.sh --print    run them and only print the tables
#
# Each benchmark measures its comparisons side by side (tt against an empty binary, wake
# against polling, …) and writes its own table between its markers; this script adds the
# machine, the commit and the load to the "Run" section, so the document always says where
# and from what its numbers came. Run it on a quiet machine: other load moves wall-clock
# figures (each table records the load average around its own run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

write=1
case "${1:-}" in
  --print) write=0 ;;
  "") ;;
  *) echo "usage: scripts/bench.sh [--print]" >&2; exit 2 ;;
esac
export BENCH_WRITE=$write

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for bench in policy protocol claims; do
  echo "== bench: $bench"
  cargo bench --locked -p stick --bench "$bench"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
block=$(cat <<MD
<!-- machine:begin -->
| | |
|---|---|
| run | \`scripts/bench.sh\`, started $started |
| commit | \`$(git rev-parse --short HEAD)\`$(git diff --quiet HEAD -- host policy-wasm policies || echo ' (with uncommitted changes)') |
| machine | $(nproc) cores ($cpu), $mem, $(uname -sr) |
| toolchain | $(rustc --version) |
| load average | $load_before before, $load_after after |
<!-- machine:end -->
MD
)
if [ "$write" = 1 ]; then
  python3 - "$block" <<'PY'
import re, sys
path = "docs/PERFORMANCE.md"
text = open(path).read()
new = re.sub(r"<!-- machine:begin -->.*?<!-- machine:end -->", lambda _: sys.argv[1], text, flags=re.S)
if new == text and "<!-- machine:begin -->" not in text:
    sys.exit("docs/PERFORMANCE.md has no machine markers")
open(path, "w").write(new)
PY
  echo "docs/PERFORMANCE.md rewritten"
else
  echo "$block"
fi
