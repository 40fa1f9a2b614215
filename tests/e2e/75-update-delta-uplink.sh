#!/usr/bin/env bash
#   75-update-delta-uplink - a site's uplink carries a release's changes
#   as deltas: plc 1.0 is installed at a site server's 2 gateways; plc
#   2.0, with scattered edits (about 5% of its chunks), is built with --delta-from 1.0 and
#   uploaded with the repository's deltas (bundle --deltas yes). The
#   site server, holding 1.0 in full, names it in its CHUNK_WANTs, and
#   the coordinator answers the changed chunks with deltas against 1.0's
#   chunks: every gateway installs 2.0, and the coordinator's
#   chunk_bytes_served for 2.0 stays well below the packed changed
#   chunks. A gateway with its own coordinator link that never held 1.0
#   then gets 2.0 as whole chunks.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
GATEWAYS=2
MB=${MB:-20}
EDITS=${EDITS:-$((MB * 3))}
#   The bytes 2.0 may cost the uplink, in % of its changed chunks packed:
#   a 64-byte edit in an incompressible chunk makes a delta of about 120
#   bytes against a 20 KiB packed chunk (measured: under 1%); 10% leaves
#   room and fails by far if the chunks go whole
BOUND=${BOUND:-10}

say "acme's publisher: plc 1.0 ($MB MB)"
site_release "$MB" v1.wbd

say "a site server and $GATEWAYS gateways behind it; 1.0 installed at each"
curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
start_node srv --token-file "$(new_token_file --tenant acme --type server)" \
    --type server --listen "tcp://127.0.0.1:$LISTEN"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
for i in $(seq 1 $GATEWAYS); do
    start_node "gw$i" --no-coordinator --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN" \
        --token-file "$(new_token_file --tenant acme --type gateway)"
done
online () { for i in $(seq 1 $GATEWAYS); do is_online "gw$i" || return 1; done; }
wait_for online 40 || fail "the gateways did not come online through srv"
as_op otto update assign --query type=gateway plc 1.0 > /dev/null || fail "assign 1.0"
state () { ctl --json twin get "$1" | jget reported.software.state; }
version () { ctl --json twin get "$1" | jget reported.software.version; }
on () {
    local v=$1 file=$2; shift 2
    for gw in "$@"; do
        cmp -s "$file" "$T/$gw/install/plc" && [[ "$(state "$gw")" == committed ]] \
            && [[ "$(version "$gw")" == "$v" ]] || return 1
    done
}
gateways=$(seq -f "gw%g" -s " " 1 $GATEWAYS)
wait_for "on 1.0 v1.bin $gateways" 90 || fail "1.0 not committed everywhere"
grep -q "fetch: srv: release .* every chunk held" srv.log || fail "srv does not hold 1.0"
served1=$(counter chunk_bytes_served)
(( $(counter chunk_deltas_served) == 0 )) || fail "deltas served for 1.0, which has none"

say "plc 2.0: $EDITS edits of 64 bytes (about 5% of its chunks), built with --delta-from 1.0, uploaded with its deltas"
cp v1.bin v2.bin
for k in $(seq 1 $EDITS); do
    head -c 64 /dev/urandom \
        | dd of=v2.bin bs=1 seek=$((k * MB * 1000000 / (EDITS + 1))) conv=notrunc 2>/dev/null
done
art build --repo repo --name plc --version 2.0 --types gateway --handler file \
    --delta-from 1.0 v2.bin > build2.out || fail "build 2.0: $(cat build2.out)"
#   "plc 2.0: N bytes in C chunks (K new, P bytes packed, D as deltas, S bytes to send)"
read -r new packed deltas < <(sed -n 's/.*(\([0-9]*\) new, \([0-9]*\) bytes packed, \([0-9]*\) as deltas.*/\1 \2 \3/p' build2.out)
(( new > 0 && deltas > 0 )) || fail "build 2.0 made no deltas: $(cat build2.out)"
publish repo plc=1.0 plc=2.0
art bundle --repo repo --out v2.wbd --deltas yes > /dev/null || fail "bundle 2.0"
out=$(art verify --bundle v2.wbd --root repo/root.1) \
    || fail "a bundle with deltas does not check as a node checks it: $out"
added=$(as_op olga --json artifact add v2.wbd) || fail "artifact add 2.0: $added"
kept=$(jget deltas <<<"$added")
[[ "$kept" == "$deltas" ]] || fail "the coordinator kept $kept of the upload's $deltas deltas: $added"

say "2.0 assigned to the site: the uplink carries the deltas"
as_op otto update assign --query type=gateway plc 2.0 > /dev/null || fail "assign 2.0"
wait_for "on 2.0 v2.bin $gateways" 90 || fail "2.0 not committed everywhere"
sent=$(( $(counter chunk_bytes_served) - served1 ))
chunks2=$(as_op olga --json artifact show plc 2.0 | jget chunks)
served_deltas=$(counter chunk_deltas_served)
say "2.0: $new of $chunks2 chunks changed, $packed bytes packed; the uplink carried $sent bytes" \
    "($served_deltas chunks as deltas) for $GATEWAYS gateways"
(( served_deltas == deltas )) || fail "the coordinator sent $served_deltas deltas of $deltas"
(( sent * 100 < packed * BOUND )) || fail "the uplink carried $sent bytes for $packed packed"
grep -q "fetch: srv: release .* every chunk held" srv.log || fail "srv did not take 2.0"

say "a gateway with its own uplink and no 1.0 gets 2.0 whole"
start_node gwd --token-file "$(new_token_file --tenant acme --type gateway)"
wait_for "is_online gwd" 30 || fail "gwd did not come online"
bytes_before=$(counter chunk_bytes_served)
chunks_before=$(counter chunks_served)
as_op otto update assign gwd plc 2.0 > /dev/null || fail "assign 2.0 to gwd"
wait_for "on 2.0 v2.bin gwd" 90 || fail "2.0 not committed at gwd"
(( $(counter chunk_deltas_served) == served_deltas )) || fail "gwd was sent deltas"
(( $(counter chunks_served) - chunks_before == chunks2 )) \
    || fail "gwd got $(( $(counter chunks_served) - chunks_before )) of $chunks2 chunks"
(( $(counter chunk_bytes_served) - bytes_before > packed )) || fail "gwd's chunks not whole"
say "ok"
