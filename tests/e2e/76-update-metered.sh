#!/usr/bin/env bash
#   76-update-metered - a metered uplink: a gateway whose twin marks its
#   link metered, with a transfer window closed now, downloads nothing
#   of an assigned release and says why (the twin and control traffic
#   still flow: the link is changed remotely while it waits); it is
#   listed by `device list --query link=metered`. With the window gone
#   and a daily budget smaller than the release, it stops at the budget
#   and says so; restarted, it still holds (the day's count is stored);
#   restarted with a local time 20 s before midnight, it resumes at
#   midnight, completes and installs. Local time is set through TZ (as
#   in 95-update-window): no long sleeps. Real coordinator and node.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

#   tz_of SECONDS_EAST : a POSIX TZ for that offset from UTC
tz_of () {
    local offset=$1 sign=-
    (( offset < 0 )) && { sign=+; offset=$(( -offset )); }
    printf 'XXX%s%d:%02d:%02d' "$sign" $(( offset / 3600 )) $(( offset % 3600 / 60 )) \
        $(( offset % 60 ))
}

say "acme's plc 1.0 (1 MB, about 60 chunks); g1's local time is about 20:00"
plc_release 1000000
plc_coord
now=$(date +%s)
offset=$(( (20 * 3600 - now % 86400 + 86400) % 86400 ))
(( offset > 43200 )) && offset=$(( offset - 86400 ))
export TZ=$(tz_of "$offset")
start_node g1 --token-file "$(new_token_file --tenant acme --type gateway)"
wait_for 'is_online g1' 30 || fail "g1 did not come online"
software () { ctl --json twin get g1 | jget "reported.software.$1"; }
chunks=$(as_op otto --json artifact show plc 1.0 | jget chunks)
(( chunks > 30 )) || fail "plc 1.0 has $chunks chunks"

say "metered, with a transfer window closed now: nothing is downloaded, and g1 says why"
as_op otto twin set g1 '{"link": {"metered": true, "window": ["* 02:00-03:00"]}}' > /dev/null \
    || fail "twin set"
wait_for 'grep -q "uplink metered" "$T/g1.log"' 20 || fail "g1 did not take the link"
as_op otto update assign g1 plc 1.0 > /dev/null || fail "assign"
wait_for '[[ "$(software waiting)" == "metered link: outside transfer window, next opens "*" 02:00 (in "* ]]' 30 \
    || fail "g1 does not wait for its window: $(ctl --json twin get g1 | jget reported.software)"
[[ "$(software state)" == downloading && "$(software held)" == 0 ]] \
    || fail "g1 fetched outside its window: $(ctl --json twin get g1 | jget reported.software)"
[[ -n "$(software resumes_ms)" ]] || fail "no resumes_ms"
[[ "$(ctl --json twin get g1 | jget reported.weft.link)" == metered ]] || fail "weft.link"
wait_for '[[ "$(as_op otto --json device list --query link=metered | jget devices.*.id)" == g1 ]]' 20 \
    || fail "link=metered: $(as_op otto device list --query link=metered)"

say "a budget of 600000 bytes a day, no window: g1 stops at the budget and says so"
budget=600000
as_op otto twin set g1 "{\"link\": {\"window\": null, \"budget_bytes_per_day\": $budget}}" \
    > /dev/null || fail "twin set budget"
wait_for '[[ "$(software waiting)" == "metered link: budget spent ("* ]]' 60 \
    || fail "g1 does not stop at its budget: $(ctl --json twin get g1 | jget reported.software)"
waiting=$(software waiting)
spent=$(grep -Eo '\(([0-9]+) of' <<<"$waiting" | grep -Eo '[0-9]+')
[[ "$waiting" == "metered link: budget spent ($spent of $budget bytes today), resumes in "* ]] \
    || fail "waiting: '$waiting'"
(( spent > budget / 2 && spent <= budget )) || fail "spent $spent of $budget"
held=$(software held)
(( held > 0 && held < chunks )) || fail "held $held of $chunks"

#   A report is made when the reason changes: chunks in flight when the
#   budget stopped asking land after it. A restart reports afresh (held
#   from the chunk store, spent from the stored count): were the count
#   lost, the rest of the release (less than a budget) would come
say "restarted the same day, g1 remembers what it spent: still held"
stop_proc g1
start_node g1
wait_for 'is_online g1' 30 || fail "g1 did not come back"
wait_for '[[ "$(software waiting)" == "metered link: budget spent ("* ]]' 20 \
    || fail "after a restart: $(ctl --json twin get g1 | jget reported.software)"
waiting=$(software waiting)
spent=$(grep -Eo '\(([0-9]+) of' <<<"$waiting" | grep -Eo '[0-9]+')
held=$(software held)
(( spent <= budget && held < chunks )) || fail "after a restart: $waiting, held $held"
sleep 2

say "restarted 20 s before its local midnight: resumes at midnight and installs"
stop_proc g1
now=$(date +%s)
to_midnight=$(( 86400 - (now + offset) % 86400 ))
export TZ=$(tz_of $(( offset + to_midnight - 20 )))
midnight=$(( now + 20 ))
start_node g1
wait_for '[[ "$(software waiting)" == "metered link: budget spent ("*" of $budget bytes today), resumes in 1 min" ]]' 15 \
    || fail "before midnight: $(ctl --json twin get g1 | jget reported.software)"
#   What is left of the budget may still take a small chunk, never more
waiting=$(software waiting)
spent=$(grep -Eo '\(([0-9]+) of' <<<"$waiting" | grep -Eo '[0-9]+')
(( spent <= budget && $(software held) < chunks )) \
    || fail "g1 fetched past its budget after a restart: $waiting"
(( $(date +%s) < midnight - 2 )) || fail "too slow: midnight passed before the check"
wait_for '[[ "$(software state)" == committed ]]' 60 \
    || fail "not resumed at midnight: $(ctl --json twin get g1 | jget reported.software)"
(( $(date +%s) >= midnight )) || fail "completed before midnight"
cmp -s v1.bin "$T/g1/install/plc" || fail "the installed file is not plc 1.0"
[[ -z "$(software waiting)" ]] || fail "still says waiting"

say "no longer metered: reported unmetered, not listed"
as_op otto twin set g1 '{"link": {"metered": false}}' > /dev/null || fail "twin set unmetered"
wait_for '[[ "$(ctl --json twin get g1 | jget reported.weft.link)" == unmetered ]]' 20 \
    || fail "weft.link: $(ctl --json twin get g1 | jget reported.weft)"
wait_for '[[ -z "$(as_op otto --json device list --query link=metered | jget devices.*.id)" ]]' 20 \
    || fail "still listed"
say "ok"
