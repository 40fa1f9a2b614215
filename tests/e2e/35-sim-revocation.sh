#!/usr/bin/env bash
#   35-sim-revocation: a device revoked by the operator is refused by
#   every other node of a 10,000-node mesh under 1% loss and 1% of the
#   frames dropped unnoticed: the site
#   servers take the coordinator's signed list and pass it on to their
#   gateways (real mesh cores), anti-entropy repairs lost copies, and at
#   the end every node's mesh refuses the revoked key (invariant 6). The
#   summary gives the time and rounds until the last node held it. With
#   the test-only bug "revocation-not-relayed" (servers never pass the
#   list on) the checker reports the gateways that still admit it.
source "$(dirname "$0")/sim-lib.sh"
"$SIM" "$SCENARIOS/revocation-spread.scn" --dir "$T" -q --json "$T/out.json" 2> "$T/err" \
    || fail "weft-sim reported a violation: $(head -3 "$T/err")"
python3 - "$T/out.json" <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["result"] == "ok" and s["nodes"] == 10000, s["result"]
r = s["revocation"]
assert r["node"] == 4242 and r["version"] >= 1, r
assert r["holders"] == 9999 and r["ratio"] == 1.0 and r["refused_by"] == 9999, r
assert 0 < r["t50_ms"] <= r["t100_ms"] and 2 <= r["rounds50"] <= r["rounds100"], r
assert s["frames"]["dropped"] > 0 and s["frames"]["resent"] > 0, s["frames"]
print("revocation: t100 %.0f ms, rounds50 %d, rounds100 %d" % (r["t100_ms"], r["rounds50"], r["rounds100"]))
PY
sed 's/node=4242/node=42/' "$SCENARIOS/revocation-spread.scn" > "$T/small.scn"
"$SIM" "$T/small.scn" --nodes 400 --sites 4 --bug revocation-not-relayed \
    --dir "$T" -q --json "$T/bug.json" 2> "$T/err" && fail "a revocation that never left the servers went unnoticed"
grep -q 'do not refuse revoked node' "$T/err" || fail "not the revocation invariant: $(head -3 "$T/err")"
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
