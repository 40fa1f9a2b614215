#!/usr/bin/env bash
#   38-sim-long-outage: a site cut off from the coordinator for 24 hours
#   among 48 devices on a 5-minute heartbeat, with a twin change every
#   hour (sim/scenarios/day-outage.scn). Every device converges on the
#   last change once the site is back, with every invariant on, and
#   nothing piles up while it is cut off: no heartbeat or report sealed
#   anew is queued with no route, and no outbox entry toward the
#   coordinator is looked at every few seconds. Before that the run took
#   571,355 events and grew by 7 KB per node per simulated hour; now
#   about 160,000 and 2 KB (the coordinator's registry and audit pages).
source "$(dirname "$0")/sim-lib.sh"
"$SIM" "$SCENARIOS/day-outage.scn" --dir "$T" -q --json "$T/out.json" 2> "$T/err" \
    || fail "weft-sim reported a violation: $(head -3 "$T/err")"
#   Under AddressSanitizer freed memory waits in its quarantine before
#   reuse, so RSS growth is not compared there (SANITIZED below)
python3 - "$T/out.json" "${WEFT_SANITIZED:-}" <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
sanitized = len(sys.argv) > 2 and sys.argv[2] != ""
d, m = s["delivery"], s["memory"]
assert s["result"] == "ok" and s["nodes"] == 48, s["result"]
assert s["converged"] == 48 and d["ratio"] == 1.0, d
assert s["virtual_s"] > 24 * 3600, s["virtual_s"]
assert s["twin_failed"] == 0, s
# The cut-off site's 12 nodes cost events only for what happens to them
assert s["events"] < 250000, "%d events: something ticks while the site is cut off" % s["events"]
assert m["peak_events_queued"] < 2000, m
assert sanitized or m["growth_per_node_per_h"] < 4000, m
print("events %d, peak RSS per node %.0f B, growth %.0f B per node per hour, t100 %.0f ms"
      % (s["events"], m["per_node_bytes"], m["growth_per_node_per_h"], d["t100_ms"]))
PY
[[ -z "$(ls "$T" | grep weft-sim)" ]] || fail "store directory left behind"
echo "ok"
