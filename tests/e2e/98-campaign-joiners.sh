#!/usr/bin/env bash
#   98-campaign-joiners - late joiners: a dynamic campaign for acme's
#   gateways of line 7, its query run again every 2 s. g1 (line 7) is in
#   it from the start and installs; g2, on another line, is not. Then a
#   gateway that enrols later (g3, tagged line 7 once enrolled) and g2
#   moved to line 7 both join the current wave and install, while the campaign keeps running (a dynamic
#   campaign never finishes by itself) until it is aborted. A gateway of
#   another tenant on line 7 never joins. Then a deployment admin's
#   configuration campaign over both tenants, and globex's admin takes
#   globex out of it (its operator may not). Real coordinator and nodes,
#   real downloads and installs.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "acme's publisher: plc 1.0 for gateways; g1 on line 7, g2 on line 3"
plc_release 40000
plc_coord
for n in g1 g2; do
    start_node "$n" --token-file "$(new_token_file --tenant acme --type gateway)"
done
wait_for 'is_online g1 && is_online g2' 30 || fail "the gateways did not come online"
ctl device set g1 tag.line=7 > /dev/null || fail "tag g1"
ctl device set g2 tag.line=3 > /dev/null || fail "tag g2"
shown () { as_op otto campaign show campaign-1; }
state_of () { as_op otto --json campaign show campaign-1 | jget state; }
installed () { as_op otto --json update status "$1" | jget 'devices.*.software.installed'; }
row () { as_op otto --json campaign show campaign-1 \
             | python3 -c "import json,sys; d=json.load(sys.stdin)
print(next((r.get('state','') for r in d.get('device_rows',[]) if r.get('id')=='$1'),''))"; }

say "a dynamic campaign for line 7, its query run every 2 s: g1 installs, g2 is not in it"
as_op otto campaign create --query 'tenant=acme and type=gateway and tag.line=7' plc 1.0 \
    --waves 100% --dynamic --join-every 2s > /dev/null || fail "create"
out=$(shown)
grep -q "(dynamic: devices join)" <<<"$out" || fail "not shown as dynamic: $out"
grep -q "^joins      the query runs again every 2 s" <<<"$out" || fail "no join interval: $out"
as_op otto campaign start campaign-1 > /dev/null || fail "start"
wait_for '[[ "$(installed g1)" == 1.0 ]]' 60 || fail "g1 did not install: $(shown)"
[[ -z "$(row g2)" ]] || fail "g2 is in the campaign: $(shown)"
[[ "$(state_of)" == running ]] || fail "a dynamic campaign stopped: $(shown)"

say "g3 enrols later and g2 moves to line 7; x1 of globex on line 7: g2 and g3 join and install"
start_node g3 --token-file "$(new_token_file --tenant acme --type gateway)"
start_node x1 --token-file "$(new_token_file --tenant globex --type gateway)"
wait_for 'is_online g3 && is_online x1' 30 || fail "g3 and x1 did not come online"
ctl device set g3 tag.line=7 > /dev/null || fail "tag g3"
ctl device set x1 tag.line=7 > /dev/null || fail "tag x1"
ctl device set g2 tag.line=7 > /dev/null || fail "move g2"
wait_for '[[ "$(installed g2)" == 1.0 && "$(installed g3)" == 1.0 ]]' 60 \
    || fail "g2 and g3 did not install: $(shown)"
#   Installed is reported before the health check passes: the rows follow
wait_for '[[ "$(row g2)" == succeeded && "$(row g3)" == succeeded ]]' 30 || fail "rows: $(shown)"
[[ -z "$(row x1)" ]] || fail "a device of globex joined: $(shown)"
[[ "$(state_of)" == running ]] || fail "a dynamic campaign stopped: $(shown)"
grep -Eq "^all +0 +0 +0 +0 +0 +3 +0 +0 +0" <<<"$(shown)" || fail "counts: $(shown)"

say "aborted: it ends, and what was installed stays"
as_op otto campaign abort campaign-1 > /dev/null || fail "abort"
[[ "$(state_of)" == aborted ]] || fail "not aborted: $(shown)"
[[ "$(installed g2)" == 1.0 ]] || fail "g2 lost its install"

say "a deployment admin's configuration over acme and globex: globex's admin takes globex out"
add_op gina --role admin --tenant globex
ctl campaign create --query 'tag.line=7' --patch '{"fix": 1}' --waves 1,100% \
    > /dev/null || fail "create across tenants"
out=$(as_op gus campaign exclude campaign-2 --tenant globex 2>&1) \
    && fail "an operator of globex excluded it: $out"
#   Before the start, so that x1 is surely still pending
out=$(as_op gina campaign exclude campaign-2 --tenant globex) || fail "exclude: $out"
[[ "$out" == "campaign-2: globex excluded, 1 pending devices skipped, 0 under way go on; the campaign is created" ]] \
    || fail "exclude said: $out"
ctl campaign start campaign-2 > /dev/null || fail "start campaign-2"
[[ "$(ctl --json twin get x1 | jget desired.fix)" == "" ]] || fail "x1 was patched"
ctl audit list --tenant globex --query 'action=campaign.exclude' | grep -q "gina" \
    || fail "not audited in globex's chain: $(ctl audit list --tenant globex)"
ctl campaign abort campaign-2 > /dev/null || fail "abort campaign-2"
say "ok"
