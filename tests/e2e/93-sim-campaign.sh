#!/usr/bin/env bash
#   93-sim-campaign: a campaign of one software release over the 294
#   gateways of 300 devices in 6 sites, run by the real coordinator and
#   node cores in weft-sim: a canary, then 10%, then the rest, at most 4
#   gateways of a site under way at once. With 2 gateways failing their
#   health check and a threshold of 3, the campaign finishes: 292
#   succeeded, 2 rolled back, the coordinator's counts those of the
#   gateways (invariant 9), one copy of the release per site uplink. With
#   a threshold of 2, and the failing gateways the second of their sites
#   (fail-at=2, so the sites' other gateways are not all under way by
#   then), it halts, and the gateways it never offered keep
#   their software. Bad campaign lines are refused, naming the line.
source "$(dirname "$0")/sim-lib.sh"
for line in 'at 1s campaign' 'at 1s campaign waves=1,x' 'at 1s campaign waves=1 rate=5%'; do
    printf 'nodes 10\nrelease size=1k\n%s\n' "$line" > "$T/bad.scn"
    "$SIM" "$T/bad.scn" --dir "$T" -q 2> "$T/err"; rc=$?
    [[ $rc == 2 ]] && grep -q "line 3" "$T/err" || fail "'$line': exit $rc, $(cat "$T/err")"
done
printf 'nodes 10\nat 1s campaign waves=100%%\n' > "$T/bad.scn"
"$SIM" "$T/bad.scn" --dir "$T" -q 2> "$T/err"; rc=$?
[[ $rc == 2 ]] && grep -q "line 2: campaign needs a release" "$T/err" \
    || fail "campaign without release: exit $rc, $(cat "$T/err")"
printf 'nodes 10\nrelease size=1k\nat 1s assign\nat 2s campaign waves=100%%\n' > "$T/bad.scn"
"$SIM" "$T/bad.scn" --dir "$T" -q 2> "$T/err"; rc=$?
[[ $rc == 2 ]] && grep -q "line 4: one assign or campaign" "$T/err" \
    || fail "assign and campaign: exit $rc, $(cat "$T/err")"

"$SIM" "$SCENARIOS/campaign.scn" --dir "$T" -q --json "$T/a.json" 2> "$T/err" \
    || fail "weft-sim reported a violation: $(head -3 "$T/err")"
sed 's/threshold=3/threshold=2/; s/fail=2$/fail=2 fail-at=2/' "$SCENARIOS/campaign.scn" \
    > "$T/halt.scn"
"$SIM" "$T/halt.scn" --dir "$T" -q --json "$T/b.json" 2> "$T/err" \
    || fail "weft-sim reported a violation (halting): $(head -3 "$T/err")"
python3 - "$T/a.json" "$T/b.json" <<'PY' || fail "campaign figures"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
c, r = a["campaign"], a["release"]
assert c["state"] == "finished" and c["waves"] == 3 and c["wave"] == 3, c
assert c["succeeded"] == 292 and c["failed"] == 2, c
assert r["committed"] == 292 and r["rolled_back"] == 2, r
up = r["uplink_chunk_bytes_per_site"]
assert up["min"] == up["max"] == r["copy_bytes"] and r["chunks_resent"] == 0, r
c, r = b["campaign"], b["release"]
assert c["state"] == "halted" and c["failed"] == 2, c
assert c["succeeded"] == r["committed"] and r["rolled_back"] == 2, (c, r)
assert r["committed"] < 292, r
print("campaign ok: finished with %d succeeded, %d failed in %.1f s virtual; halted after %d"
      % (a["campaign"]["succeeded"], a["campaign"]["failed"], a["release"]["spread_s"],
         c["succeeded"]))
PY
echo "ok"
