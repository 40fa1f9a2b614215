#!/usr/bin/env bash
#   12-auth - who may connect and what they may do: ZAP refuses unknown
#   CURVE keys on the mesh and RPC ports, a viewer may read but not
#   write, and a tenant-scoped operator cannot see other tenants.
source "$(dirname "$0")/lib.sh"

start_coord
start_node n1 --token-file "$(new_token_file)"
start_node a1 --token-file "$(new_token_file --tenant acme)"
wait_for '[[ "$(online_count)" == 2 ]]' 20 || fail "nodes did not come online"
server_key=$(keyfile_value "$WEFT_IDENTITY" coord_curve)
[[ ${#server_key} == 64 ]] || fail "admin.op has no coord_curve"

say "ZAP: unknown keys are refused on mesh and rpc, admitted on enrol"
"$PROBE" handshake "$MESH_EP" "$server_key"; rc=$?
(( rc == 1 )) || fail "unknown key on the mesh port: expected refused (1), got $rc"
"$PROBE" handshake "$RPC_EP" "$server_key"; rc=$?
(( rc == 1 )) || fail "unknown key on the rpc port: expected refused (1), got $rc"
"$PROBE" handshake "$ENROL_EP" "$server_key"; rc=$?
(( rc == 0 )) || fail "any key may knock on the enrol port: expected admitted (0), got $rc"

say "ZAP: an enrolled node's key is admitted on mesh, not on rpc"
"$PROBE" handshake "$MESH_EP" "$server_key" --keyfile "$T/n1/node.key"; rc=$?
(( rc == 0 )) || fail "n1's key on the mesh port: expected admitted (0), got $rc"
"$PROBE" handshake "$RPC_EP" "$server_key" --keyfile "$T/n1/node.key"; rc=$?
(( rc == 1 )) || fail "a node key on the rpc port: expected refused (1), got $rc"
"$PROBE" handshake "$RPC_EP" "$server_key" --keyfile "$WEFT_IDENTITY"; rc=$?
(( rc == 0 )) || fail "admin key on the rpc port: expected admitted (0), got $rc"

say "weftctl with a key that is not an operator's is refused at once"
sed -e "s/^curve_public=.*/curve_public=$(keyfile_value "$T/n1/node.key" curve_public)/" \
    -e "s/^curve_secret=.*/curve_secret=$(keyfile_value "$T/n1/node.key" curve_secret)/" \
    "$WEFT_IDENTITY" > "$T/stranger.op"
chmod 600 "$T/stranger.op"
out=$(WEFT_IDENTITY="$T/stranger.op" "$CTL" --timeout 5 device list 2>&1); rc=$?
(( rc == 1 )) || fail "a non-operator key: expected exit 1, got $rc ($out)"
echo "$out" | grep -q "refused the key" || fail "a non-operator key: message '$out'"

say "a viewer reads but may not write"
ctl operator add vera --role viewer --out "$T/vera.op" || fail "operator add viewer"
[[ "$(stat -c %a "$T/vera.op")" == 600 ]] || fail "vera.op is not mode 0600"
out=$(ctl operator add vera2 --role viewer --out "$T/vera.op" 2>&1) \
    && fail "operator add overwrote an existing identity file"
echo "$out" | grep -q "already exists" || fail "operator add onto an existing file: '$out'"
VIEW="env WEFT_IDENTITY=$T/vera.op $CTL --timeout 5"
$VIEW device list | grep -q '^n1 ' || fail "viewer cannot list devices"
$VIEW twin get n1 > /dev/null || fail "viewer cannot read a twin"
out=$($VIEW twin set n1 '{"sampling_ms": 1}' 2>&1); rc=$?
(( rc == 1 )) || fail "viewer twin set: expected exit 1, got $rc ($out)"
echo "$out" | grep -Eqi "not (allowed|authori[sz]ed)|may not|forbidden|denied" \
    || fail "viewer twin set: no clear refusal: $out"
out=$($VIEW token create 2>&1); rc=$?
(( rc == 1 )) || fail "viewer token create: expected exit 1, got $rc ($out)"
echo "$out" | grep -Eqi "not (allowed|authori[sz]ed)|may not|forbidden|denied" \
    || fail "viewer token create: no clear refusal: $out"
echo "refused as expected: $out"

say "a tenant-scoped operator sees only its tenant"
ctl operator add olga --role operator --tenant acme --out "$T/olga.op" || fail "operator add olga"
SCOPED="env WEFT_IDENTITY=$T/olga.op $CTL --timeout 5"
ids=$($SCOPED --json device list | jget 'devices.*.id')
[[ "$ids" == a1 ]] || fail "acme operator sees '$ids', expected only a1"
missing=$($SCOPED device show no-such-device 2>&1); rc_missing=$?
hidden=$($SCOPED device show n1 2>&1); rc_hidden=$?
(( rc_missing == 1 && rc_hidden == 1 )) || fail "device show exit codes: missing $rc_missing, hidden $rc_hidden"
[[ "${hidden//n1/X}" == "${missing//no-such-device/X}" ]] \
    || fail "another tenant's device answers differently from a missing one: '$hidden' vs '$missing'"
out=$($SCOPED twin set n1 '{"a": 1}' 2>&1) && fail "acme operator changed n1's twin"
[[ "${out//n1/X}" == "${missing//no-such-device/X}" ]] || fail "twin set on a hidden device: '$out'"
$SCOPED twin set a1 '{"a": 1}' > /dev/null || fail "acme operator cannot set its own device's twin"
wait_for "twin_synced a1 a 1" 20 || fail "a1 did not report a=1"
say "ok"
