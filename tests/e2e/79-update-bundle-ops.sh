#!/usr/bin/env bash
#   79-update-bundle-ops - a release brought to a cut-off site on a stick
#   is imported through the site server's operator port, with no restart:
#   weftctl bundle import sends it in parts, authorised by the operator's
#   credential alone; the server checks it whole, stores its chunks a
#   slice at a time and offers each gateway its assignment. Both gateways
#   install; the server kept running (same process) and kept answering
#   while it imported. A viewer, and an admin of another tenant, are
#   refused; an altered bundle is refused with nothing stored. When the
#   uplink comes back the coordinator sees both gateways committed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
GATEWAYS=2

say "acme's release root at the coordinator; a server with an operator port and $GATEWAYS gateways"
make_keys r1 r2 r3 t1 t2 s ts
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
start_coord
import_tree acme acme/plant-1 globex
add_op olga --role admin --tenant acme
as_op olga release root set repo/root.1 > /dev/null || fail "set root"
add_op otto --role operator --path acme/plant-1
add_op vera --role viewer --path acme/plant-1
add_op gus --role admin --tenant globex
for n in otto vera gus; do as_op "$n" operator credential > /dev/null || fail "credential $n"; done
curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
OPS=$(free_port)
start_node srv --type server --listen "tcp://127.0.0.1:$LISTEN" --fault-file "$T/uplink-cut" \
    --ops-listen "tcp://127.0.0.1:$OPS" \
    --token-file "$(new_token_file --tenant acme --type server --path acme/plant-1)"
wait_for "grep -q 'operator port on' '$T/srv.log'" 20 || fail "srv has no operator port"
for i in $(seq 1 $GATEWAYS); do
    start_node "gw$i" --token-file "$(new_token_file --tenant acme --type gateway)" \
        --no-coordinator --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN"
done
online () { for i in $(seq 1 $GATEWAYS); do is_online "gw$i" || return 1; done; }
wait_for online 40 || fail "the gateways did not come online through srv"
SRV_PID=${PID_OF[srv]}
ops () { local who=$1; shift; as_op "$who" --timeout 10 "$@" --node "tcp://127.0.0.1:$OPS" \
             --node-key "$(curve srv)"; }

say "the uplink goes down"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/srv.log"' 10 || fail "the fault switch did not cut"

say "at the centre: plc 1.0 (3 MB) assigned to each gateway, bundled for the stick"
head -c 3000000 /dev/urandom > v1.bin
art build --repo repo --name plc --version 1.0 --types gateway --handler file v1.bin > /dev/null \
    || fail "build"
publish repo plc=1.0
names=()
for i in $(seq 1 $GATEWAYS); do
    "$PROBE" assign "$COORD_DIR/coord.key" "gw$i" acme repo/manifests/plc_1.0 3600 "a-gw$i" \
        || fail "assign gw$i"
    names+=("a-gw$i")
done
art bundle --repo repo --out stick.wbd "${names[@]}" > /dev/null || fail "bundle"

say "refused: a viewer, another tenant's admin, an altered bundle (nothing stored)"
out=$(ops vera bundle import stick.wbd 2>&1) && fail "a viewer imported: $out"
grep -q "vera holds no grant of operator on acme/plant-1" <<<"$out" || fail "vera: $out"
out=$(ops gus bundle import stick.wbd 2>&1) && fail "globex's admin imported: $out"
grep -q "gus holds no grant of operator on acme/plant-1" <<<"$out" || fail "gus: $out"
cp stick.wbd bad.wbd
flip_byte bad.wbd $(( $(stat -c %s stick.wbd) / 2 ))
out=$(ops otto bundle import bad.wbd 2>&1) && fail "an altered bundle imported: $out"
grep -q "refused, nothing stored" <<<"$out" || fail "altered: $out"
grep -q "chunks stored" srv.log && fail "srv stored chunks of the altered bundle"

say "on site: otto imports the stick through the operator port, the uplink still down"
out=$(ops otto bundle import stick.wbd) || fail "import: $out"
grep -Eq "^upload [0-9a-f]{16} imported: [0-9]+ chunks stored, $GATEWAYS offers$" <<<"$out" \
    || fail "import said: $out"
installed () { for i in $(seq 1 $GATEWAYS); do cmp -s v1.bin "$T/gw$i/install/plc" || return 1; done; }
wait_for installed 60 || fail "not installed: $(grep -h 'update:\|fetch:' gw*.log | tail -8)"
[[ "${PID_OF[srv]}" == "$SRV_PID" ]] && kill -0 "$SRV_PID" || fail "srv restarted"
ops otto node stats > /dev/null || fail "srv does not answer after the import"
ls "$T/srv/uploads/"*.wbd 2>/dev/null && fail "the upload was kept after its import"
[[ "$(counter chunks_served)" == 0 ]] || fail "chunks crossed the uplink: $(counter chunks_served)"

say "the uplink comes back: the coordinator sees every gateway committed"
rm -f "$T/uplink-cut"
state () { ctl --json twin get "$1" | jget reported.software.state; }
committed () { for i in $(seq 1 $GATEWAYS); do [[ "$(state "gw$i")" == committed ]] || return 1; done; }
wait_for committed 40 || fail "twins: $(for i in $(seq 1 $GATEWAYS); do echo "gw$i $(state "gw$i")"; done)"
say "ok"
