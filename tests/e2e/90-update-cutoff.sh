#!/usr/bin/env bash
#   90-update-cutoff - a release reaches a site that is cut off, on a USB
#   stick: the operator has the coordinator sign assignments for the
#   site's gateways (offline, as the director), bundles them with the
#   release, and the bundle is imported at the site server while its
#   uplink is down. The server does not install the gateways' release
#   itself, yet keeps it for the site: it offers each gateway its
#   assignment by custody and the gateways fetch the chunks from it.
#   Every gateway installs; nothing crossed the uplink; when the uplink
#   comes back the coordinator sees every gateway committed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
GATEWAYS=3

say "acme's release root set at the coordinator; a server and $GATEWAYS gateways enrol"
make_keys r1 r2 r3 t1 t2 s ts
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
start_coord
import_tree acme
add_op olga --role admin --tenant acme
as_op olga release root set repo/root.1 > /dev/null || fail "set root"
curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
srv_run () {
    start_node srv --type server --listen "tcp://127.0.0.1:$LISTEN" --fault-file "$T/uplink-cut" "$@"
}
srv_run --token-file "$(new_token_file --tenant acme --type server)"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
for i in $(seq 1 $GATEWAYS); do
    start_node "gw$i" --token-file "$(new_token_file --tenant acme --type gateway)" \
        --no-coordinator --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN"
done
online () { for i in $(seq 1 $GATEWAYS); do is_online "gw$i" || return 1; done; }
wait_for online 40 || fail "the gateways did not come online through srv"

say "the uplink goes down"
touch "$T/uplink-cut"
wait_for 'grep -q "coordinator link cut" "$T/srv.log"' 10 || fail "the fault switch did not cut"
wait_for '! is_online srv' 30 || fail "srv still online"

say "at the centre: plc 1.0 built, assigned to each gateway, bundled for the stick"
head -c 1500000 /dev/urandom > v1.bin
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

say "on site: the bundle imported at srv, its uplink still down"
stop_proc srv
srv_run --import stick.wbd
wait_for "grep -q 'fetch: srv: release .* wanted for the site' '$T/srv.log'" 20 \
    || fail "srv keeps nothing for the site: $(grep 'import\|fetch' srv.log | tail -5)"
installed () { for i in $(seq 1 $GATEWAYS); do cmp -s v1.bin "$T/gw$i/install/plc" || return 1; done; }
wait_for installed 60 || fail "not installed everywhere: $(grep -h 'update:\|fetch:' gw*.log | tail -8)"
[[ ! -e "$T/srv/install/plc" ]] || fail "srv installed the gateways' release"
[[ "$(counter chunks_served)" == 0 ]] || fail "chunks crossed the uplink: $(counter chunks_served)"

say "the uplink comes back: the coordinator sees every gateway committed"
rm -f "$T/uplink-cut"
state () { ctl --json twin get "$1" | jget reported.software.state; }
committed () { for i in $(seq 1 $GATEWAYS); do [[ "$(state "gw$i")" == committed ]] || return 1; done; }
wait_for committed 40 || fail "twins: $(for i in $(seq 1 $GATEWAYS); do echo "gw$i $(state "gw$i")"; done)"
say "ok"
