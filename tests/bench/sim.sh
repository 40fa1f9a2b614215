#!/usr/bin/env bash
#   sim.sh - weft-sim at 100,000 devices: a twin change to all of them
#   under 1% random loss on every link. Prints memory per node, events
#   per second, and delivery rounds against the oracle (a breadth-first
#   search over the same overlay, computed in the same run).
#   Usage: tests/bench/sim.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-100000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-sim.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
"$BUILD/weft-sim" "$ROOT/sim/scenarios/twin-all.scn" --nodes "$NODES" --sites 100 \
    --loss 0.01 --dir "$T" --json "$T/out.json" --csv "$T/curve.csv" || rc=$?
python3 - "$T/out.json" "${rc:-0}" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d, m = s["delivery"], s["memory"]
print("BENCH sim nodes=%d result=%s virtual_s=%.1f wall_s=%.1f events=%d events_per_s=%.0f"
      % (s["nodes"], s["result"], s["virtual_s"], s["wall_s"], s["events"], s["events_per_s"]))
print("BENCH sim memory_per_node_bytes=%.0f peak_rss_mb=%.0f peak_events_queued=%d"
      % (m["per_node_bytes"], m["peak_rss_bytes"] / 1e6, m["peak_events_queued"]))
print("BENCH sim delivery ratio=%.4f t50_ms=%.0f t99_ms=%.0f t100_ms=%.0f"
      % (d["ratio"], d["t50_ms"], d["t99_ms"], d["t100_ms"]))
ratio = d["rounds_vs_oracle"]
print("BENCH sim rounds50=%d rounds99=%d rounds100=%d oracle_bfs_rounds=%d ratio=%.2f (target <= 1.5: %s)"
      % (d["rounds50"], d["rounds99"], d["rounds100"], d["oracle_rounds"], ratio,
         "met" if 0 < ratio <= 1.5 else "not met"))
print("BENCH sim messages_per_node=%.2f bytes_per_node=%.0f uplink_bytes_per_site_mean=%.0f"
      % (s["messages_per_node"]["sent"] + s["messages_per_node"]["received"],
         s["bytes_per_node"]["sent"] + s["bytes_per_node"]["received"],
         s["uplink_bytes_per_site"]["mean"]))
sys.exit(int(sys.argv[2]))
PY
