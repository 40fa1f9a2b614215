#!/usr/bin/env bash
#   sim-campaign.sh - weft-sim rolling one software release (64 kB) out
#   to 9,900 gateways in 100 sites by a campaign (a canary, 1%, 10%, the
#   rest; sim/scenarios/campaign-10k.scn): the real coordinator core
#   offers each wave and follows the gateways' reports, the real node
#   cores fetch and install. Prints the wall time, memory per node and
#   the virtual time from the start of the campaign to its end.
#   Usage: tests/bench/sim-campaign.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-10000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-simcamp.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
rc=0
nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/campaign-10k.scn" --nodes "$NODES" \
    --sites $(( NODES / 100 )) --dir "$T" -q --json "$T/run.json" || rc=$?
python3 - "$T/run.json" "$rc" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r, c, m = s["release"], s["campaign"], s["memory"]
print("BENCH sim_campaign_wall %.1f s for %d devices (campaign %s, %d succeeded of %d, result %s)"
      % (s["wall_s"], s["nodes"], c["state"], c["succeeded"], r["assigned"], s["result"]))
print("BENCH sim_campaign_mem_per_node %d bytes (peak rss %d MB)"
      % (m["per_node_bytes"], m["peak_rss_bytes"] >> 20))
print("BENCH sim_campaign_spread %.1f s virtual for %d waves" % (r["spread_s"], c["waves"]))
sys.exit(1 if sys.argv[2] != "0" else 0)
PY
