#!/usr/bin/env bash
#   sim-campaign.sh - weft-sim rolling one software release (64 kB) out
#   to 9,900 gateways in 100 sites by a campaign (a canary, 1%, 10%, the
#   rest; sim/scenarios/campaign-10k.scn): the real coordinator core
#   offers each wave and follows the gateways' reports, the real node
#   cores fetch and install. Prints the wall time, memory per node and
#   the virtual time from the start of the campaign to its end. Then the
#   same fleet by a campaign run at the sites (campaign-sites-10k.scn:
#   1% failing, 5 sites cut off for 10 minutes): the site servers' own
#   sitecamp runs each site's waves; BENCH sim_campaign_sites_* lines,
#   the virtual time up to the coordinator counting every outcome.
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
status=0
python3 - "$T/run.json" "$rc" <<'PY' || status=1
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

rc=0
nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/campaign-sites-10k.scn" --nodes "$NODES" \
    --sites $(( NODES / 100 )) --dir "$T" -q --json "$T/sites.json" || rc=$?
python3 - "$T/sites.json" "$rc" <<'PY' || status=1
import json, sys
s = json.load(open(sys.argv[1]))
r, c, m = s["release"], s["campaign"], s["memory"]
print("BENCH sim_campaign_sites_wall %.1f s for %d devices in %d sites (campaign %s, %d "
      "succeeded, %d failed of %d, %d sites halted, result %s)"
      % (s["wall_s"], s["nodes"], s["sites"], c["state"], c["succeeded"], c["failed"],
         r["assigned"], c["sites_halted"], s["result"]))
print("BENCH sim_campaign_sites_mem_per_node %d bytes (peak rss %d MB)"
      % (m["per_node_bytes"], m["peak_rss_bytes"] >> 20))
print("BENCH sim_campaign_sites_complete %.1f s virtual (last install %.1f s; 5 sites cut "
      "off for 600 s)" % (c["complete_s"], r["spread_s"]))
sys.exit(1 if sys.argv[2] != "0" else 0)
PY
exit $status
