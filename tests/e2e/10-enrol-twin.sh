#!/usr/bin/env bash
#   10-enrol-twin - a coordinator and three nodes: token enrolment, the
#   three ways a token is refused, and a twin round trip on every node.
source "$(dirname "$0")/lib.sh"

say "coordinator on 127.0.0.1:$MESH_PORT/$ENROL_PORT/$RPC_PORT"
start_coord

say "enrol n1 n2 n3 with one token each"
declare -A TOKEN
for n in n1 n2 n3; do
    TOKEN[$n]=$(new_token_file) || fail "token create failed"
    [[ "$(cat "${TOKEN[$n]}")" == wt1.* ]] || fail "token looks wrong: $(cat "${TOKEN[$n]}")"
    start_node "$n" --token-file "${TOKEN[$n]}"
done
wait_for '[[ "$(online_count)" == 3 ]]' 20 || fail "3 nodes did not come online"
[[ "$(counter enrolments)" == 3 ]] || fail "expected 3 enrolments, stats say $(counter enrolments)"

say "a reused token is refused"
out=$(run_node r1 --token-file "${TOKEN[n1]}") && fail "node enrolled with a used token"
echo "$out" | grep -q "token already used" || fail "no 'token already used' message: $out"

say "an expired token is refused"
expired=$(new_token_file --ttl 1s) || fail "token create --ttl 1s failed"
sleep 2.2
out=$(run_node r2 --token-file "$expired") && fail "node enrolled with an expired token"
echo "$out" | grep -q "token expired" || fail "no 'token expired' message: $out"

say "an unknown token is refused"
coord_curve=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
unknown="wt1.0123456789abcdef.0123456789abcdef0123456789abcdef.$coord_curve"
out=$(run_node r3 --token-file "$(token_file "$unknown")") && fail "node enrolled with an unknown token"
echo "$out" | grep -q "unknown token" || fail "no 'unknown token' message: $out"

ctl --json device list | jget 'devices.*.id' | grep -q '^r[123]$' \
    && fail "a refused node appears in the registry"
(( $(counter enrol_refused) >= 3 )) || fail "enrol_refused is $(counter enrol_refused), expected >= 3"

say "twin set on every node, then wait for each to apply and report"
i=500
for n in n1 n2 n3; do
    i=$((i + 1))
    ctl twin set "$n" "{\"sampling_ms\": $i, \"mode\": \"fast\"}" > /dev/null \
        || fail "twin set $n failed"
done
i=500
for n in n1 n2 n3; do
    i=$((i + 1))
    wait_for "twin_synced $n sampling_ms $i" 20 \
        || fail "$n did not apply and report sampling_ms=$i: $(ctl --json twin get $n)"
    [[ "$(jget mode < "$T/$n.applied.json")" == fast ]] || fail "$n apply file lacks mode"
done
ctl twin get n2

say "device list"
table=$(ctl device list) || fail "device list failed"
echo "$table"
[[ "$(echo "$table" | grep -c ' online ')" == 3 ]] || fail "device list does not show 3 online"
echo "$table" | head -n 1 | grep -q "ID.*TENANT.*TYPE.*STATE.*LAST SEEN.*DESIRED.*REPORTED" \
    || fail "device list header is wrong"
say "ok"
