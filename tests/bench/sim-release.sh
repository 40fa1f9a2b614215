#!/usr/bin/env bash
#   sim-release.sh - weft-sim spreading one software release (64 kB) to
#   9,900 gateways in 100 sites (sim/scenarios/release-10k.scn): the
#   real node cores fetch it from their site server, the servers from
#   the coordinator. Prints the wall time, memory per node, the virtual
#   time of the spread and the copies of the release the busiest site
#   uplink carried (goal: 1.00, one copy per site).
#   Usage: tests/bench/sim-release.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-10000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-simrel.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
rc=0
nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/release-10k.scn" --nodes "$NODES" \
    --sites $(( NODES / 100 )) --dir "$T" -q --json "$T/run.json" || rc=$?
python3 - "$T/run.json" "$rc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r, m = s["release"], s["memory"]
print("BENCH sim_release_wall %.1f s for %d devices (%d committed of %d, result %s)"
      % (s["wall_s"], s["nodes"], r["committed"], r["assigned"], s["result"]))
print("BENCH sim_release_mem_per_node %d bytes (peak rss %d MB)"
      % (m["per_node_bytes"], m["peak_rss_bytes"] >> 20))
print("BENCH sim_release_spread %.1f s virtual, copies per site uplink max %.2f goal=1.00"
      % (r["spread_s"], r["copies_per_site_max"]))
up = r["uplink_chunk_bytes_per_site"]
print("BENCH sim_release_uplink_bytes_per_site min %d max %d, one copy %d bytes (%d chunks)"
      % (up["min"], up["max"], r["copy_bytes"], r["chunks"]))
sys.exit(1 if sys.argv[2] != "0" else 0)
PY
