#!/usr/bin/env bash
#   36-sim-mesh-rounds: under 2% loss on every link, 1,000 devices behind
#   10 site servers all get a twin change; half of them in the oracle's
#   two rounds (one hop to the server, one relayed by its mesh), and the
#   losses cost rounds: a relay's retransmission one more, a push lost
#   on the uplink a heartbeat's round trip. The same seed gives the same
#   rounds. (Rounds: docs/sim.md.)
source "$(dirname "$0")/sim-lib.sh"
for run in a b; do
    "$SIM" "$SCENARIOS/twin-all.scn" --nodes 1000 --sites 10 --loss 0.02 --seed 3 \
        --dir "$T" -q --json "$T/$run.json" 2> "$T/err" || fail "violation: $(head -3 "$T/err")"
done
python3 - "$T/a.json" "$T/b.json" <<'PY' || fail "rounds"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
d = a["delivery"]
assert a["result"] == "ok" and d["ratio"] == 1.0, d
assert a["frames"]["lost"] > 0, a["frames"]
assert d["oracle_rounds"] == 2 and d["rounds50"] == 2, d
assert d["rounds100"] >= 3 and d["rounds_vs_oracle"] == d["rounds100"] / 2, d
assert d["t100_ms"] > 1000, d       # a repair waits for a retransmit or a heartbeat
assert a["delivery"] == b["delivery"] and a["result_hash"] == b["result_hash"], (d, b["delivery"])
print("rounds50 %d rounds99 %d rounds100 %d oracle %d" % (d["rounds50"], d["rounds99"],
      d["rounds100"], d["oracle_rounds"]))
PY
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
