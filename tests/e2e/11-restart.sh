#!/usr/bin/env bash
#   11-restart - state survives SIGKILL: the coordinator's registry and
#   twins, and a node's identity (it neither re-enrols nor needs a token).
source "$(dirname "$0")/lib.sh"

start_coord
for n in n1 n2; do
    start_node "$n" --token-file "$(new_token_file)"
done
wait_for '[[ "$(online_count)" == 2 ]]' 20 || fail "2 nodes did not come online"
ctl twin set n1 '{"sampling_ms": 100}' > /dev/null || fail "twin set n1"
wait_for "twin_synced n1 sampling_ms 100" 20 || fail "n1 did not report sampling_ms=100"
before_list=$(ctl --json device list | jget 'devices.*.id' | sort)
before_twin=$(ctl --json twin get n1 | jget desired)
before_version=$(ctl --json twin get n1 | jget desired_version)

say "kill -9 the coordinator and start it again"
stop_proc coord KILL
start_coord
after_list=$(ctl --json device list | jget 'devices.*.id' | sort)
[[ "$after_list" == "$before_list" ]] || fail "registry changed: '$before_list' -> '$after_list'"
[[ "$(ctl --json twin get n1 | jget desired)" == "$before_twin" ]] || fail "desired twin of n1 changed"
[[ "$(ctl --json twin get n1 | jget desired_version)" == "$before_version" ]] \
    || fail "desired version of n1 changed"
[[ "$(ctl --json twin get n1 | jget reported.sampling_ms)" == 100 ]] \
    || fail "reported twin of n1 lost"

say "nodes reconnect; a new twin set still round-trips"
ctl twin set n1 '{"sampling_ms": 200}' > /dev/null || fail "twin set n1 after restart"
wait_for "twin_synced n1 sampling_ms 200" 30 || fail "n1 did not report sampling_ms=200 after restart"
wait_for '[[ "$(online_count)" == 2 ]]' 20 || fail "nodes are not online after the restart"

say "kill -9 node n2 and start it again, without a token"
cp "$T/n2/node.key" "$T/n2.key.before"
serial=$(ctl --json device show n2 | jget cert_serial)
enrolments=$(counter enrolments)
enrol_lines=$(grep -c "node: enrolling as" "$T/n2.log")
stop_proc n2 KILL
start_node n2
ctl twin set n2 '{"sampling_ms": 300}' > /dev/null || fail "twin set n2"
wait_for "twin_synced n2 sampling_ms 300" 30 || fail "restarted n2 did not report sampling_ms=300"
cmp -s "$T/n2/node.key" "$T/n2.key.before" || fail "n2's node.key changed across a restart"
[[ "$(ctl --json device show n2 | jget cert_serial)" == "$serial" ]] || fail "n2's cert serial changed"
[[ "$(counter enrolments)" == "$enrolments" ]] || fail "n2 enrolled again"
[[ "$(grep -c "node: enrolling as" "$T/n2.log")" == "$enrol_lines" ]] \
    || fail "n2 enrolled again: $(grep "node: enrol" "$T/n2.log")"
ctl device list
say "ok"
