#!/usr/bin/env bash
#   95-update-window - maintenance windows: a gateway whose twin sets a
#   window closed now downloads and stages an assigned release at once
#   but does not install it; `weftctl update status` shows it staged and
#   waiting, with the next opening in the node's local time (its TZ is
#   UTC+3 here). A malformed window keeps it waiting, with the reason.
#   Restarted while cut off from the coordinator, it still waits. A
#   window that opens 25 s later (set for acme's whole place with batch
#   twin) installs it at its opening: the node's own deadline, with
#   the node's local time 3 hours and some seconds ahead of UTC; a
#   campaign's offer with a device timeout shorter than the wait waits
#   too (the campaign shows it waiting-window, with the node's text),
#   and succeeds (the wait does not count against its timeout).
#   Real coordinator and node, the release fetched from the coordinator.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
export TZ=XXX-3                         #   Local time is UTC+3 on this node

say "acme's publisher: plc 1.0 for gateways; the gateway g1, enrolled after the root was set"
plc_release 100000
plc_coord
start_node g1 --token-file "$(new_token_file --tenant acme --type gateway)"
wait_for 'is_online g1' 30 || fail "g1 did not come online"
software () { ctl --json twin get g1 | jget "reported.software.$1"; }

say "a window closed now: two to three hours from now, local time"
hour=$(( ($(date -u +%-H) + 3) % 24 ))
from=$(printf '%02d:00' $(( (hour + 2) % 24 )))
to=$(printf '%02d:00' $(( (hour + 3) % 24 )))
as_op otto twin set g1 "{\"maintenance\": {\"windows\": [\"* $from-$to\"]}}" > /dev/null \
    || fail "twin set"
wait_for 'grep -q "maintenance window set" "$T/g1.log"' 20 || fail "g1 did not take the window"

say "assigned: downloaded and staged, not installed; update status says why"
as_op otto update assign g1 plc 1.0 > /dev/null || fail "assign"
wait_for '[[ "$(software state)" == staged ]]' 30 \
    || fail "g1 not staged: $(ctl --json twin get g1)"
waiting=$(software waiting)
[[ "$waiting" == "maintenance window: next opens "*" $from (in "*")" ]] \
    || fail "waiting: '$waiting'"
status=$(as_op otto update status g1)
grep -Eq "^g1 +plc 1.0 +staged +plc 1.0 .*waiting: maintenance window: next opens .* $from" \
    <<<"$status" || fail "update status: $status"
[[ ! -e "$T/g1/install/plc" ]] || fail "installed outside the window"

say "cut off and restarted, g1 keeps its window (from its stored twin): still waiting"
stop_proc coord
stop_proc g1
start_node g1
wait_for '[[ $(grep -c "plc 1.0 waits: maintenance window: next opens" "$T/g1.log") == 2 ]]' 20 \
    || fail "g1 did not wait again after its restart: $(grep 'update:' "$T/g1.log")"
start_coord
wait_for 'is_online g1' 30 || fail "g1 did not come back online"
[[ "$(software state)" == staged && ! -e "$T/g1/install/plc" ]] || fail "installed"

say "a malformed window: still waiting, and the report says why"
as_op otto twin set g1 '{"maintenance": {"windows": ["Sun 2:00-04:00"]}}' > /dev/null \
    || fail "twin set malformed"
wait_for '[[ "$(software waiting)" == "maintenance window malformed: window 1 "* ]]' 20 \
    || fail "waiting: '$(software waiting)'"
[[ "$(software state)" == staged && ! -e "$T/g1/install/plc" ]] || fail "installed"

say "a window opening in 25 s (set for acme's place): installed at its opening, not before"
#   g1 restarts with a local time whose next minute starts in 25 s
#   (UTC+3 and some seconds), and the window is that minute
stop_proc g1
now=$(date +%s)
opens=$(( now + 25 ))
secs=$(( (35 - now % 60 + 60) % 60 ))
export TZ=XXX-3:00:$(printf %02d "$secs")
start_node g1
export TZ=XXX-3
offset=$(( 10800 + secs ))
from=$(date -u -d "@$(( opens + offset ))" +%H:%M)
to=$(date -u -d "@$(( opens + offset + 60 ))" +%H:%M)
as_op otto batch twin --query 'tenant=acme' \
    "{\"maintenance\": {\"windows\": [\"* $from-$to\"]}}" > /dev/null || fail "batch twin"
wait_for '[[ "$(software waiting)" == "maintenance window: next opens "*" $from (in 1 min)" ]]' 15 \
    || fail "g1 does not wait for $from: '$(software waiting)'"
#   A campaign's offer with a 10 s device timeout: it waits too, and the
#   wait does not count (the deadline moves to the opening)
as_op otto campaign create --query 'id=g1' plc 1.0 --waves 100% --device-timeout 10s \
    > /dev/null || fail "campaign create"
as_op otto campaign start campaign-1 > /dev/null || fail "campaign start"
row () { as_op otto --json campaign show campaign-1 | jget "device_rows.0.$1"; }
wait_for '[[ "$(row reason)" == "maintenance window: next opens "*" $from (in 1 min)" ]]' 15 \
    || fail "the campaign's row: $(as_op otto campaign show campaign-1)"
[[ "$(row state)" == waiting-window ]] \
    || fail "the campaign's row: $(as_op otto campaign show campaign-1)"
grep -Eq "^all +0 +0 +0 +1 +0 +0 +0 +0 +0" <<<"$(as_op otto campaign show campaign-1)" \
    || fail "counts: $(as_op otto campaign show campaign-1)"
(( $(date +%s) < opens - 3 )) || fail "too slow: the window opened before the check"
left=$(( opens - 3 - $(date +%s) ))
(( left <= 0 )) || sleep "$left"
state=$(software state)
#   A status query that ended after the opening (a loaded machine) proves
#   nothing here; the node's log below decides
if (( $(date +%s) < opens )); then
    [[ "$state" == staged && ! -e "$T/g1/install/plc" ]] || fail "installed before $from"
fi
wait_for '[[ "$(software state)" == committed ]]' 30 \
    || fail "not installed at the opening: $(ctl --json twin get g1 | jget reported.software)"
#   The node logs in its own local time: installing must not come before
#   the minute the window opens. Log stamps come from the kernel's coarse
#   clock, which may still show the second before: one second of slack.
installing=$(grep "update: plc 1.0 installing" "$T/g1.log" | tail -1 \
             | grep -Eo '[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}')
opening=$(date -u -d "@$(( opens + offset - 1 ))" '+%y-%m-%d %H:%M:%S')
[[ -n "$installing" ]] || fail "no installing line in g1's log"
[[ ! "$installing" < "$opening" ]] || fail "installing at $installing, before the opening $opening"
cmp -s v1.bin "$T/g1/install/plc" || fail "the installed file is not plc 1.0"
wait_for '[[ "$(row state)" == succeeded ]]' 15 \
    || fail "the campaign's device: $(as_op otto campaign show campaign-1)"
[[ "$(as_op otto --json campaign show campaign-1 | jget state)" == finished ]] \
    || fail "campaign: $(as_op otto campaign show campaign-1)"
[[ "$(software waiting)" == "" ]] || fail "still says waiting"
say "ok"
