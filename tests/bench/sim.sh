#!/usr/bin/env bash
#   sim.sh - weft-sim at 100,000 devices (100 sites: each site server
#   relays for its 999 gateways with the real mesh core): a twin change
#   to all of them under 1% random loss on every link, every invariant
#   on. Prints memory per node, events per second, and the rounds until
#   100% held the change against the oracle (a breadth-first search over
#   the same overlay, computed in the same run; rounds: docs/sim.md).
#   Usage: tests/bench/sim.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-100000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-sim.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/twin-all.scn" --nodes "$NODES" --sites 100 \
    --loss 0.01 --dir "$T" --json "$T/out.json" --csv "$T/curve.csv" || rc=$?
python3 - "$T/out.json" "${rc:-0}" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d, m = s["delivery"], s["memory"]
print("BENCH sim_mem_per_node %.0f B" % m["per_node_bytes"])
print("BENCH sim_peak_rss %.0f MB" % (m["peak_rss_bytes"] / 1e6))
print("BENCH sim_events_per_s %.0f events/s" % s["events_per_s"])
print("BENCH sim_wall %.1f s" % s["wall_s"])
print("BENCH sim_delivered %.4f fraction" % d["ratio"])
print("BENCH sim_t100 %.0f ms" % d["t100_ms"])
print("BENCH sim_rounds_100 %d rounds ratio=%.2f vs oracle BFS" % (d["rounds100"], d["rounds_vs_oracle"]))
print("BENCH sim_rounds_99 %d rounds ratio=%.2f vs oracle BFS"
      % (d["rounds99"], d["rounds99"] / d["oracle_rounds"] if d["oracle_rounds"] else -1))
print("# sim: %d nodes, result %s, %.1f s virtual, %d events, oracle BFS %d rounds, "
      "rounds50 %d, target ratio <= 1.5 %s"
      % (s["nodes"], s["result"], s["virtual_s"], s["events"], d["oracle_rounds"],
         d["rounds50"], "met" if 0 < d["rounds_vs_oracle"] <= 1.5 else "not met"))
sys.exit(int(sys.argv[2]))
PY
