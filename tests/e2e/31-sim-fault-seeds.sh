#!/usr/bin/env bash
#   31-sim-fault-seeds: 100 seeds of random crashes, uplink outages and
#   LAN partitions under loss and drops, and two coordinator crashes,
#   with twin changes, on the mesh (gateways relayed by their site
#   servers); every invariant must hold for every seed (two runs at a
#   time, about a second of CPU each).
source "$(dirname "$0")/sim-lib.sh"
seq 1 100 | xargs -P 2 -I{} sh -c \
    '"$0" "$1" --seed {} --dir "$2" --json "$2/seed-{}.json" -q 2> "$2/seed-{}.err" \
        || echo {} >> "$2/failed"' "$SIM" "$SCENARIOS/random-faults.scn" "$T"
if [[ -s "$T/failed" ]]; then
    for seed in $(sort -n "$T/failed" | head -3); do
        echo "--- seed $seed"; head -n 12 "$T/seed-$seed.err"
    done
    fail "invariants broken for seeds: $(sort -n "$T/failed" | tr '\n' ' ')"
fi
(( $(ls "$T"/seed-*.json | wc -l) == 100 )) || fail "missing summaries"
python3 - "$T" <<'PY' || fail "the coordinator did not crash in every run"
import json, sys
for seed in range(1, 101):
    s = json.load(open("%s/seed-%d.json" % (sys.argv[1], seed)))
    assert s["faults"]["coordinator_crashes"] == 2, (seed, s["faults"])
PY
echo "ok: 100 seeds"
