#!/usr/bin/env bash
#   89-update-offer-others - a bundle imported at gw-1 carries
#   assignments for gw-1 and for its neighbour gw-2: gw-1 installs its
#   own and sends gw-2 its offer by custody (origin gw-1); gw-2 checks the
#   chain and the coordinator's signature itself and takes it, fetches
#   the release's chunks from gw-1 (its neighbour, which holds them as
#   its own installed release) and installs it. An assignment of
#   a release for servers is refused by gw-2 with its reason, which ends
#   gw-1's custody; gw-2's state stays as it was. A device of another
#   tenant (gw-b of beta, trusting beta's release root) refuses an offer
#   of acme's release even under an assignment naming it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
source "$(dirname "$0")/update-lib.sh"
cd "$T"

say "gw-1 and gw-2 enrolled in acme, the release root pinned at both"
gw_setup
start_node gw-2 --token-file "$(new_token_file --tenant acme)"
wait_for 'is_online gw-2' 20 || fail "gw-2 did not come online"
stop_proc gw-2
cp repo/root.1 "$T/gw-2/release-root"
head -c 1000000 /dev/urandom > v1.bin
head -c 300000 /dev/urandom > srv.bin
art build --repo repo --name plc --version 1.0 --types gateway --handler file \
    --anti-rollback 1 v1.bin > /dev/null || fail "build 1.0"
art build --repo repo --name plc --version 1.5 --types server --handler file \
    --anti-rollback 2 srv.bin > /dev/null || fail "build 1.5"
publish repo plc=1.0 plc=1.5
assign () {
    "$PROBE" assign "$COORD_DIR/coord.key" "$1" acme "repo/manifests/plc_$2" 3600 "$3" \
        || fail "assign $2 to $1"
}
assign gw-1 1.0 a-gw1
assign gw-2 1.0 a-gw2
assign gw-2 1.5 a-gw2-srv
art bundle --repo repo --out both.wbd a-gw1 a-gw2 > /dev/null || fail "bundle"
art bundle --repo repo --out srv.wbd a-gw2-srv > /dev/null || fail "bundle srv"

curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
gw2_software () { ctl --json twin get gw-2 | jget "reported.software.$1"; }

say "gw-1 imports both assignments: installs its own, offers gw-2 its own by custody"
gw_run --listen "tcp://127.0.0.1:$LISTEN" --import both.wbd
start_node gw-2 --install-dir "$T/inst2" --no-coordinator \
    --neighbour "$(curve gw-1)@tcp://127.0.0.1:$LISTEN"
wait_for "cmp -s v1.bin '$INST/plc'" 20 || fail "gw-1 did not install: $(tail -5 gw-1.log)"
grep -q "import: offer of plc 1.0 sent to gw-2" gw-1.log || fail "no offer sent to gw-2"
wait_for "grep -q 'update: plc 1.0 assigned' gw-2.log" 20 \
    || fail "gw-2 did not take its offer: $(grep update gw-2.log)"
wait_for "cmp -s v1.bin '$T/inst2/plc'" 30 \
    || fail "gw-2 did not install from gw-1's chunks: $(grep 'update\|fetch' gw-2.log | tail -5)"
grep -q "fetch: gw-2: release .*: every chunk held" gw-2.log || fail "gw-2 fetched nothing"
wait_for '[[ "$(gw2_software state)" == committed && "$(gw2_software version)" == 1.0 ]]' 20 \
    || fail "gw-2 twin: $(ctl --json twin get gw-2)"
stop_proc gw-1

say "an assignment to gw-2 of a release for servers: gw-2 refuses it, gw-1's custody ends"
gw_run --listen "tcp://127.0.0.1:$LISTEN" --import srv.wbd
wait_for "grep -q 'update: offer refused: release not for this device type' gw-2.log" 20 \
    || fail "gw-2 did not refuse: $(grep update gw-2.log)"
wait_for "grep -q 'mesh: gw-2 refused 1 envelope we held.*update refused: release not for this device type' gw-1.log" 20 \
    || fail "gw-1's custody not ended: $(grep -i refused gw-1.log)"
[[ "$(gw2_software version)" == 1.0 && "$(gw2_software state)" == committed ]] \
    || fail "gw-2 twin changed: $(ctl --json twin get gw-2)"

say "another tenant's device refuses acme's release, even assigned to it"
import_tree beta
start_node gw-b --token-file "$(new_token_file --tenant beta)"
wait_for 'is_online gw-b' 20 || fail "gw-b did not come online"
stop_proc gw-b
make_keys br1 br2 br3
art root --repo brepo --tenant beta --expires 365d \
    --root-keys "$(pub br1),$(pub br2),$(pub br3)" --root-threshold 2 \
    --targets-keys "$(pub br1)" --targets-threshold 1 --snapshot-keys "$(pub br1)" \
    --timestamp-keys "$(pub br1)" > /dev/null || fail "beta root"
art sign --key br1.key brepo/root.1 && art sign --key br2.key brepo/root.1 || fail "sign"
cp brepo/root.1 "$T/gw-b/release-root"
start_node gw-b --install-dir "$T/instb" --no-coordinator \
    --neighbour "$(curve gw-1)@tcp://127.0.0.1:$LISTEN"
assign gw-b 1.0 a-gwb
art bundle --repo repo --out beta.wbd a-gwb > /dev/null || fail "bundle beta"
stop_proc gw-1
gw_run --listen "tcp://127.0.0.1:$LISTEN" --import beta.wbd
wait_for "grep -q 'update: offer refused: release metadata of another tenant' gw-b.log" 20 \
    || fail "gw-b did not refuse: $(grep -i 'update\|refused' gw-b.log | tail -5)"
wait_for "grep -q 'mesh: gw-b refused 1 envelope we held.*update refused' gw-1.log" 20 \
    || fail "gw-1's custody not ended: $(grep -i refused gw-1.log)"
[[ ! -e "$T/instb/plc" ]] || fail "gw-b installed acme's release"
