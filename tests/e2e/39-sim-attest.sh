#!/usr/bin/env bash
#   39-sim-attest: boot attestation and delegated verification in
#   weft-sim (sim/scenarios/attest.scn at 200 nodes in 5 sites, two
#   tenants): every node's simulated TPM (an RSA AK from the seed)
#   answers the coordinator core's challenges; site 1 is cut off while
#   its gateways fall due, so its server challenges and judges its own
#   tenant's gateways (not the guest of the other tenant) and its
#   verdicts reach the coordinator, which checks them again, when the
#   uplink is back. Every honest node ends passed, each of the 3 bad
#   actors failed and quarantined, at the coordinator and at its site
#   server (invariant 7). Two runs with the same seed give the same
#   figures and hashes. Under 20 random faults (crashes lose a quote in
#   progress, outages and partitions cut sites off) the same holds. With
#   the test-only bug "tpm-tampered" (an honest node's TPM quotes a bad
#   boot) the checker names the node.
source "$(dirname "$0")/sim-lib.sh"
for run in a b; do
    "$SIM" "$SCENARIOS/attest.scn" --nodes 200 --sites 5 --dir "$T" -q \
        --json "$T/$run.json" 2> "$T/err" \
        || fail "weft-sim reported a violation: $(head -3 "$T/err")"
done
python3 - "$T/a.json" "$T/b.json" <<'PY' || fail "summary"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["result"] == "ok" and a["nodes"] == 200, a["result"]
t = a["attestation"]
assert t["bad_actors"] == 3 and t["unsettled"] == 0, t
assert t["passed"] == 197 and t["failed"] == 3, t
assert t["quarantined"] == 3 and t["quarantined_at_site"] == 3, t
assert t["quotes_asked"] == t["quotes_answered"] >= 200 and t["quotes_failed"] == 0, t
# Site 1: nodes 40..79, its server 40, 39 gateways of which one (41)
# is a guest of the other tenant: 38 judged at the site, one of them
# the bad actor (79)
assert t["verified_by_delegates"] == 38, t
assert t["delegated_passed"] == 37 and t["delegated_failed"] == 1, t
assert t["verified_by_coordinator"] >= 200, t
strip = lambda s: {k: v for k, v in s.items() if k not in ("wall_s", "events_per_s", "memory")}
for s in (a, b):
    s["attestation"].pop("quotes_per_s")
assert strip(a) == strip(b), "two runs with the same seed differ"
print("attestation: %d quotes, %d verified by the coordinator, %d by the site server, "
      "settled at %.0f ms; trace %s" % (t["quotes_answered"], t["verified_by_coordinator"],
      t["verified_by_delegates"], t["settled_ms"], a["trace_hash"]))
PY
"$SIM" "$SCENARIOS/attest.scn" --nodes 200 --sites 5 --faults 20 --seed 2 --dir "$T" -q \
    --json "$T/faults.json" 2> "$T/err" || fail "under faults: $(head -3 "$T/err")"
python3 - "$T/faults.json" <<'PY' || fail "summary under faults"
import json, sys
s = json.load(open(sys.argv[1]))
t = s["attestation"]
assert s["result"] == "ok" and s["faults"]["crashes"] > 0, s["faults"]
assert t["unsettled"] == 0 and t["passed"] == 197 and t["quarantined"] == 3, t
assert t["verified_by_delegates"] > 38, t
PY
"$SIM" "$SCENARIOS/attest.scn" --nodes 60 --sites 3 --bug tpm-tampered \
    --dir "$T" -q --json "$T/bug.json" 2> "$T/err" && fail "a tampered boot of an honest node went unnoticed"
grep -q 'e.g. node 1: honest, verdict failed' "$T/err" || fail "not the attestation invariant: $(head -3 "$T/err")"
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
