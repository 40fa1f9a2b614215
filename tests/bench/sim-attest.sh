#!/usr/bin/env bash
#   sim-attest.sh - weft-sim's attestation scenario at 10,000 devices
#   (sim/scenarios/attest.scn, 200 sites of 50): every node's simulated
#   TPM quotes for the coordinator core's challenges (RSA 2048
#   signatures, verified by the real verifiers), one site verifies its
#   gateways delegated while cut off, 3 bad actors end quarantined, all
#   invariants on. The comparator, in the same run: the same scenario
#   without attestation, so the difference is what attestation costs.
#   Usage: tests/bench/sim-attest.sh BUILD_DIR [NODES]
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
NODES=${2:-10000}
SITES=$(( NODES / 50 > 5 ? NODES / 50 : 5 ))
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/weft-bench-simattest.XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
rc=0
grep -v '^attest ' "$ROOT/sim/scenarios/attest.scn" > "$T/plain.scn"
nice "$BUILD/weft-sim" "$ROOT/sim/scenarios/attest.scn" --nodes "$NODES" --sites "$SITES" \
    --dir "$T" -q --json "$T/attest.json" || rc=$?
nice "$BUILD/weft-sim" "$T/plain.scn" --nodes "$NODES" --sites "$SITES" \
    --dir "$T" -q --json "$T/plain.json" || rc=$?
python3 - "$T/attest.json" "$T/plain.json" "$rc" <<'PY'
import json, sys
s, p = (json.load(open(f)) for f in sys.argv[1:3])
a = s["attestation"]
print("BENCH sim_attest_wall %.1f s (without attestation %.1f s, same %.0f s virtual)"
      % (s["wall_s"], p["wall_s"], s["virtual_s"]))
print("BENCH sim_attest_quotes_per_s %.1f quotes/s (%d quotes made and verified)"
      % (a["quotes_answered"] / s["wall_s"] if s["wall_s"] else 0, a["quotes_answered"]))
print("BENCH sim_attest_events_per_s %.0f events/s (without attestation %.0f)"
      % (s["events_per_s"], p["events_per_s"]))
print("BENCH sim_attest_settled %.0f ms virtual until every verdict was the expected one"
      % a["settled_ms"])
print("# sim attest: %d nodes, result %s (without: %s), %d events, verified by the "
      "coordinator %d, by delegates %d (%d passed, %d failed), passed %d, failed %d, "
      "quarantined %d (at their site %d), mem/node %.0f B"
      % (s["nodes"], s["result"], p["result"], s["events"], a["verified_by_coordinator"],
         a["verified_by_delegates"], a["delegated_passed"], a["delegated_failed"],
         a["passed"], a["failed"], a["quarantined"], a["quarantined_at_site"],
         s["memory"]["per_node_bytes"]))
sys.exit(int(sys.argv[3]))
PY
