#!/usr/bin/env bash
#   sim-week.sh - weft-sim over a week of virtual time
#   (sim/scenarios/week-outage.scn): 200 devices in 4 sites on a
#   5-minute heartbeat, a twin change every hour, site 1 cut off from
#   the coordinator for 7 days. It must finish, converge after the
#   outage with every invariant on, and keep memory per node flat over
#   virtual time. Goals: <= 5 min wall, growth ~0 B per node per hour.
#   Optional second argument: the node count (10000 for the goal of
#   10,000 nodes through the same week in <= 30 min; sites grow to keep
#   50 nodes a site).
#   Usage: tests/bench/long/sim-week.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-200}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-week.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
rc=0
/usr/bin/time -f "%U %S" -o "$T/cpu" nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/week-outage.scn" \
    --nodes "$NODES" --sites $(( NODES / 50 > 4 ? NODES / 50 : 4 )) \
    --dir "$T" -q --json "$T/week.json" || rc=$?
python3 - "$T/week.json" "$T/cpu" "$rc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
user, system = (float(x) for x in open(sys.argv[2]).read().split()[-2:])
d, m = s["delivery"], s["memory"]
goal = 300 if s["nodes"] <= 200 else 1800
print("BENCH sim_week_wall %.1f s goal<=%d (cpu %.1f s)" % (s["wall_s"], goal, user + system))
print("BENCH sim_week_events_per_s %.0f events/s" % s["events_per_s"])
print("BENCH sim_week_mem_per_node %.0f B" % m["per_node_bytes"])
print("BENCH sim_week_growth %.1f B/node/h goal~0 (rss %.1f MB at half time, %.1f MB at the end)"
      % (m["growth_per_node_per_h"], m["rss_half_bytes"] / 1e6, m["rss_end_bytes"] / 1e6))
print("BENCH sim_week_rounds_100 %d rounds ratio=%.2f vs oracle BFS"
      % (d["rounds100"], d["rounds_vs_oracle"]))
print("# sim week: %d nodes, result %s, %.1f h virtual, %d events, converged %d, t100 %.0f ms"
      % (s["nodes"], s["result"], s["virtual_s"] / 3600, s["events"], s["converged"], d["t100_ms"]))
sys.exit(int(sys.argv[3]))
PY
