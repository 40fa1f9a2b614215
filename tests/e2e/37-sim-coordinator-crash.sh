#!/usr/bin/env bash
#   37-sim-coordinator-crash: the coordinator core crashes twice among
#   2,000 devices (sim/scenarios/coordinator-crash.scn): 50 ms after a
#   twin change, with pushes in flight and replies waiting for the group
#   commit, and again while a site server is down. What it had not
#   written is gone (coord_abandon), it starts again from its store, and
#   every device still converges on every change with all invariants
#   holding; the same seed gives the same run.
source "$(dirname "$0")/sim-lib.sh"
sim_twice coordinator-crash.scn
python3 - "$T/a.json" "$T/b.json" <<'PY' || fail "summary"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["result"] == "ok" and a["nodes"] == 2000, a["result"]
assert a["faults"]["coordinator_crashes"] == 2, a["faults"]
assert a["converged"] == 2000 and a["delivery"]["ratio"] == 1.0, a["delivery"]
assert a["twin_calls"] == 6000 and a["twin_failed"] == 0, a
assert a["frames"]["cut"] > 0, a["frames"]      # in flight when it crashed
assert a["result_hash"] == b["result_hash"] and a["trace_hash"] == b["trace_hash"]
print("t100 %.0f ms, rounds100 %d, frames cut %d" % (a["delivery"]["t100_ms"],
      a["delivery"]["rounds100"], a["frames"]["cut"]))
PY
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
