#!/usr/bin/env bash
#   sim-deep.sh - weft-sim on deep meshes: gateways that relay through
#   gateways (sim/scenarios/deep-{line,ring,grid}.scn: lanes of 8
#   gateways behind each site server; a ring closes every lane on its
#   server; a grid links neighbour lanes and adds diagonal cross links),
#   with 1% loss and 1% drops on every link, a LAN partition, a crash
#   and three twin changes, every invariant on. Prints the rounds until
#   every device held the last change against the oracle over the same
#   connections under the same drops (goal <= 1.5x). Topologies and
#   rounds: docs/sim.md.
#   Usage: tests/bench/sim-deep.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-simdeep.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
rc=0
for kind in line ring grid; do
    nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/deep-$kind.scn" --dir "$T" -q \
        --json "$T/$kind.json" || rc=$?
done
python3 - "$T" "$rc" <<'PY'
import json, sys
for kind in ("line", "ring", "grid"):
    s = json.load(open("%s/%s.json" % (sys.argv[1], kind)))
    d = s["delivery"]
    ratio = d["rounds_vs_oracle_drop"]
    print("BENCH sim_deep_%s_rounds_100 %d rounds ratio=%.2f vs oracle under drops goal=1.5 %s"
          % (kind, d["rounds100"], ratio, "met" if 0 < ratio <= 1.5 else "MISSED"))
    print("BENCH sim_deep_%s_rounds_99 %d rounds ratio=%.2f goal=1.5 %s"
          % (kind, d["rounds99"], d["rounds99"] / d["oracle_rounds_drop"],
             "met" if d["rounds99"] <= 1.5 * d["oracle_rounds_drop"] else "MISSED"))
    print("# sim deep-%s: %d nodes, result %s, oracle %d rounds (%d under drops), rounds50 %d, "
          "t100 %.0f ms, %.1f s wall, %d events"
          % (kind, s["nodes"], s["result"], d["oracle_rounds"], d["oracle_rounds_drop"],
             d["rounds50"], d["t100_ms"], s["wall_s"], s["events"]))
sys.exit(int(sys.argv[2]))
PY
