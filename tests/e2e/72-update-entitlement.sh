#!/usr/bin/env bash
#   72-update-entitlement - software governed by an entitlement runs only
#   while it is valid: gw-1 installs plc 1.0 (file handler), the
#   coordinator grants it plc for a few seconds (weftctl entitlement
#   grant, audited); when the grant ends by gw-1's clock the file is moved
#   aside (DIR/.plc.weft-off, bytes kept) and the twin says
#   "active": false, "reason": "entitlement expired"; a renewal puts it
#   back; a grant ending now (revocation) takes it away again, and a
#   restart of gw-1 keeps it so. A forged grant (signed by a node's key,
#   not the coordinator's) handed to gw-1 by a mesh neighbour is refused
#   on its custody ACK and changes nothing; the same order signed with the
#   coordinator's key, through the same neighbour, is taken. A grant for
#   a device of another tenant is refused and sends nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
source "$(dirname "$0")/mesh-lib.sh"
cd "$T"
LISTEN=$(free_port)

say "gw-1 enrols in acme and installs plc 1.0 from a bundle"
gw_setup
head -c 1000000 /dev/urandom > v1.bin
art build --repo repo --name plc --version 1.0 --types gateway --handler file \
    --anti-rollback 1 v1.bin > /dev/null || fail "build 1.0"
publish repo plc=1.0
bundle_for 1.0
enrol_nodes src
gw_run --import v1.0.wbd --listen "tcp://127.0.0.1:$LISTEN"
wait_for '[[ "$(software state)" == committed ]]' 20 || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v1.bin "$INST/plc" || fail "v1 not installed"
[[ -z "$(software active)" ]] || fail "not governed yet, but: $(ctl --json twin get gw-1)"

say "granted for 8 s: active, with its end in the twin"
out=$(ctl --json entitlement grant gw-1 plc --until 8s) || fail "grant: $out"
until_ms=$(jget until_ms <<<"$out")
[[ "$(jget 'devices.*' <<<"$out")" == gw-1 ]] || fail "grant said: $out"
wait_for '[[ "$(software active)" == true && "$(software entitled_until)" == '"$until_ms"' ]]' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
cmp -s v1.bin "$INST/plc" || fail "the file left while entitled"

say "the grant ends: the file is moved aside, the twin says why"
wait_for "[[ ! -e '$INST/plc' && -e '$INST/.plc.weft-off' ]]" 25 \
    || fail "not deactivated: $(ls -A "$INST"); $(grep -i entitle gw-1.log | tail -3)"
cmp -s v1.bin "$INST/.plc.weft-off" || fail "the bytes were not kept"
now_ms=$(( $(date +%s) * 1000 ))
(( now_ms >= until_ms )) || fail "deactivated before the end ($now_ms < $until_ms)"
wait_for '[[ "$(software active)" == false && "$(software reason)" == "entitlement expired" ]]' 20 \
    || fail "twin: $(ctl --json twin get gw-1)"
[[ "$(software state)" == committed && "$(software installed)" == 1.0 ]] \
    || fail "still installed: $(ctl --json twin get gw-1)"

say "renewed for a day: the file is back, active"
ctl entitlement grant gw-1 plc --until 1d > /dev/null || fail "renew"
wait_for "cmp -s v1.bin '$INST/plc'" 20 || fail "not reactivated: $(ls -A "$INST")"
[[ ! -e "$INST/.plc.weft-off" ]] || fail "the aside copy stayed"
wait_for '[[ "$(software active)" == true ]]' 20 || fail "twin: $(ctl --json twin get gw-1)"

say "revoked (a grant ending now): aside again"
ctl entitlement grant gw-1 plc --until now > /dev/null || fail "revoke"
wait_for "[[ ! -e '$INST/plc' && -e '$INST/.plc.weft-off' ]]" 20 || fail "not deactivated"

say "a forged grant from a neighbour: refused, nothing changes; a genuine one relayed: taken"
inject () {     #   inject FRAME: src hands it to gw-1 for custody, prints the answer
    "$PROBE" mesh-send "tcp://127.0.0.1:$LISTEN" --keyfile "$T/src/node.key" \
        --server-key "$(curve gw-1)" --dest gw-1 --timeout 15000 --frame "$1" 2>> probe.log
}
"$PROBE" order "$T/src/node.key" "$T/src/node.key" gw-1 acme plc 86400 forged.frame \
    || fail "probe order"
answer=$(inject forged.frame) || fail "no answer to the forged grant: $(tail -3 probe.log)"
[[ "$answer" == denied* ]] || fail "forged grant not refused: $answer"
grep -q "software order from src refused: not signed by the coordinator" gw-1.log \
    || fail "gw-1 log: $(grep -i order gw-1.log | tail -3)"
sleep 1
[[ ! -e "$INST/plc" && -e "$INST/.plc.weft-off" ]] || fail "a forged grant reactivated plc"
"$PROBE" order "$COORD_DIR/coord.key" "$T/src/node.key" gw-2 acme plc 86400 other.frame \
    || fail "probe order"
answer=$(inject other.frame) || fail "no answer to the grant for gw-2"
[[ "$answer" == denied* ]] || fail "a grant for another device taken: $answer"
grep -q "software order from src refused: for other devices" gw-1.log || fail "gw-1 log"
"$PROBE" order "$COORD_DIR/coord.key" "$T/src/node.key" gw-1 acme plc 5 genuine.frame \
    || fail "probe order"
answer=$(inject genuine.frame) || fail "no answer to the genuine grant"
[[ "$answer" == acked* ]] || fail "a genuine grant relayed by a neighbour refused: $answer"
wait_for "cmp -s v1.bin '$INST/plc'" 20 || fail "the genuine grant did not reactivate"
wait_for "[[ ! -e '$INST/plc' ]]" 20 || fail "its 5 s did not end"
say "a restart keeps it aside"
stop_proc gw-1
gw_run --listen "tcp://127.0.0.1:$LISTEN"
wait_for 'is_online gw-1' 20 || fail "gw-1 did not come back"
sleep 2
[[ ! -e "$INST/plc" && -e "$INST/.plc.weft-off" ]] || fail "a restart reactivated: $(ls -A "$INST")"
[[ "$(software active)" == false ]] || fail "twin: $(ctl --json twin get gw-1)"
grep -q "entitle: plc entitlement expired" gw-1.log || fail "no log of the expiry"

say "audited; refused for a device of another tenant or unknown, and without --until"
ctl audit list --limit 50 | grep -q "entitlement.grant" || fail "not audited: $(ctl audit list --limit 5)"
start_node x1 --token-file "$(new_token_file --tenant globex)"
wait_for 'is_online x1' 20 || fail "x1 did not come online"
out=$(ctl entitlement grant --query "id=gw-1 or id=x1" plc --until 1d 2>&1) \
    && fail "a grant over two tenants passed: $out"
grep -q "the query matches devices of tenants" <<<"$out" || fail "refusal: $out"
out=$(ctl entitlement grant nope-404 plc --until 1d 2>&1) && fail "unknown device: $out"
out=$(ctl entitlement grant gw-1 plc 2>&1) && fail "no --until passed: $out"
grep -q "needs --until" <<<"$out" || fail "refusal: $out"
stop_proc x1
stop_proc gw-1
