#!/usr/bin/env bash
#   30-sim-twin-10k: a twin change reaches all of 10,000 simulated
#   devices (real agent, mesh and coordinator cores; site servers relay
#   for their gateways) in the oracle's two rounds, every invariant
#   holds, and the outputs (JSON, CSV, SVG) are written.
source "$(dirname "$0")/sim-lib.sh"
"$SIM" "$SCENARIOS/twin-all.scn" --nodes 10000 --dir "$T" --json "$T/out.json" \
    --csv "$T/curve.csv" --plot "$T/curve.svg" || fail "weft-sim reported a violation"
[[ "$(json "$T/out.json" result)" == ok ]] || fail "result not ok"
python3 - "$T/out.json" <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["nodes"] == 10000 and s["converged"] == 10000, s
d = s["delivery"]
assert d["ratio"] == 1.0 and d["t100_ms"] > 0, d
#   No loss: every gateway gets it in exactly two hops, through its site
#   server (the oracle BFS over the same overlay says the same)
assert d["oracle_rounds"] == 2 and d["rounds50"] == 2 and d["rounds100"] == 2, d
assert s["twin_calls"] == 10000 and s["twin_failed"] == 0, s
assert s["memory"]["per_node_bytes"] > 0 and s["events_per_s"] > 0, s
PY
head -1 "$T/curve.csv" | grep -q '^time_s,delivered,converged' || fail "csv header"
(( $(wc -l < "$T/curve.csv") > 10 )) || fail "csv too short"
grep -q '<polyline' "$T/curve.svg" || fail "svg has no curve"
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
#   Six-digit names (n000000..n999999) name a million nodes, no more
rc=0; "$SIM" "$SCENARIOS/twin-all.scn" --nodes 1000001 --dir "$T" 2> "$T/err" || rc=$?
(( rc == 2 )) && grep -q "bad value for --nodes" "$T/err" || fail "1,000,001 nodes accepted"
echo "ok"
