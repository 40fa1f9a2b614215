#!/usr/bin/env bash
#   74-sim-campaign-sites: a campaign run at the sites (--at-sites) in
#   weft-sim, by the real coordinator core and the site servers' own
#   sitecamp module: 294 gateways of 300 devices in 6 sites, a canary,
#   10%, the rest per site, at most 4 under way per site, threshold 1.
#   Two gateways (sites 1 and 2, last wave) fail their health check;
#   site 3's uplink is cut just after its directive arrived and healed
#   5 minutes later. The first failure halts its site and the campaign,
#   which pauses the sites it reaches; site 3 runs all its waves cut off
#   and the coordinator counts each of its outcomes once when it is
#   back. weft-sim checks the invariants: no site server (outside the
#   target) offered anything, no halted site starts more gateways than
#   its concurrency, each gateway's final state at the coordinator the
#   gateway's own. Deterministic: run twice, the same figures. With a
#   threshold of 3 no site halts and the campaign finishes. With
#   --bug site-deaf (the servers never hear the failing gateways) a site
#   goes on past its threshold: caught.
source "$(dirname "$0")/sim-lib.sh"
printf 'nodes 10\nrelease size=1k\nat 1s campaign waves=100%% at-sites=1\n' > "$T/bad.scn"
"$SIM" "$T/bad.scn" --dir "$T" -q 2> "$T/err"; rc=$?
[[ $rc == 2 ]] && grep -q "line 3" "$T/err" || fail "'at-sites=1': exit $rc, $(cat "$T/err")"
printf 'nodes 10\nrelease size=1k fail=1 fail-at=0\n' > "$T/bad.scn"
"$SIM" "$T/bad.scn" --dir "$T" -q 2> "$T/err"; rc=$?
[[ $rc == 2 ]] && grep -q "line 2" "$T/err" || fail "'fail-at=0': exit $rc, $(cat "$T/err")"

"$SIM" "$SCENARIOS/campaign-sites.scn" --dir "$T" -q --bug site-deaf > /dev/null 2> "$T/err"; rc=$?
[[ $rc == 1 ]] && grep -q "gateways started after 1 failed (threshold 1, concurrency 4)" "$T/err" \
    || fail "--bug site-deaf: exit $rc, $(head -3 "$T/err")"

sim_twice campaign-sites.scn
sed 's/threshold=1 /threshold=3 /' "$SCENARIOS/campaign-sites.scn" > "$T/finish.scn"
"$SIM" "$T/finish.scn" --dir "$T" -q --json "$T/c.json" 2> "$T/err" \
    || fail "weft-sim reported a violation (threshold 3): $(head -3 "$T/err")"
python3 - "$T/a.json" "$T/b.json" "$T/c.json" <<'PY' || fail "campaign-sites figures"
import json, sys
a, b, c = (json.load(open(f)) for f in sys.argv[1:4])
for key in ("result_hash", "trace_hash", "campaign", "release"):
    assert a[key] == b[key], (key, a[key], b[key])
k, r = a["campaign"], a["release"]
assert k["state"] == "halted" and k["failed"] == 2, k
assert k["succeeded"] == r["committed"] and r["rolled_back"] == 2, (k, r)
assert 49 <= r["committed"] < 292, r            # site 3's 49 at least, the halted ones not
assert k["directive_frames"] >= 12, k           # a start and a pause per site
assert k["sites_halted"] >= 1 and 1 <= k["site_late_max"] <= 4, k
assert 3 in k["complete_sites"], k              # site 3, cut off, ran all its waves
assert k["complete_s"] > 300, k                 # learnt once site 3 was back
k, r = c["campaign"], c["release"]
assert k["state"] == "finished" and k["succeeded"] == 292 and k["failed"] == 2, k
assert k["sites_complete"] == 6 and k["sites_halted"] == 0 and k["complete_s"] > 300, k
print("campaign-sites ok: halted with %d succeeded, %d failed, %d sites halted, known at "
      "%.1f s virtual; finished %d/%d at %.1f s" % (a["campaign"]["succeeded"],
      a["campaign"]["failed"], a["campaign"]["sites_halted"], a["campaign"]["complete_s"],
      k["succeeded"], k["failed"], k["complete_s"]))
PY
echo "ok"
