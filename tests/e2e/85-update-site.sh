#!/usr/bin/env bash
#   85-update-site - a release crosses a site's uplink once: acme's admin
#   uploads plc 1.0 to the coordinator, an operator assigns it to the
#   site's 8 gateways, which reach the coordinator only through their
#   site server. The server relays each offer, fetches the release from
#   the coordinator while it does, and the gateways fetch its chunks from
#   the server; every gateway installs and reports committed, and the
#   coordinator served each chunk once (its coord.stats count). A
#   gateway restarted in the middle of its fetch resumes and installs.
#   Then v2, with about 5% of the artifact changed: the uplink carries
#   only the chunks the site lacks, once, whatever the number of gateways.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"
GATEWAYS=${GATEWAYS:-8}

MB=${MB:-20}
say "acme's publisher: plc 1.0 for gateways ($MB MB), bundled"
site_release "$MB" site.wbd
chunks=$(as_op olga --json artifact show plc 1.0 | jget chunks)
(( chunks > 8 )) || fail "the release has $chunks chunks"

say "a site server and $GATEWAYS gateways behind it (no coordinator link of their own)"
curve () { keyfile_value "$T/$1/node.key" curve_public; }
LISTEN=$(free_port)
start_node srv --token-file "$(new_token_file --tenant acme --type server)" \
    --type server --listen "tcp://127.0.0.1:$LISTEN"
wait_for "grep -q '^cert=' '$T/srv/node.key'" 20 || fail "srv did not enrol"
site_gw () { start_node "$1" --no-coordinator --neighbour "$(curve srv)@tcp://127.0.0.1:$LISTEN" "${@:2}"; }
for i in $(seq 1 $GATEWAYS); do
    site_gw "gw$i" --token-file "$(new_token_file --tenant acme --type gateway)"
done
online () { for i in $(seq 1 $GATEWAYS); do is_online "gw$i" || return 1; done; }
wait_for online 40 || fail "the gateways did not come online through srv"
for i in $(seq 1 $GATEWAYS); do
    [[ -s "$T/gw$i/release-root" ]] || fail "gw$i pinned no release root at enrolment"
done

say "otto assigns plc 1.0 to the site's gateways"
out=$(as_op otto update assign --query type=gateway plc 1.0) || fail "assign: $out"
[[ "$out" == "plc 1.0 of tenant acme offered to $GATEWAYS devices"* ]] || fail "assign said: $out"

say "gw1 is restarted while it fetches; every gateway installs"
wait_for "grep -q 'fetch: gw1: release .* wanted' '$T/gw1.log'" 30 || fail "gw1 wants nothing"
stop_proc gw1
site_gw gw1
installed () { for i in $(seq 1 $GATEWAYS); do cmp -s v1.bin "$T/gw$i/install/plc" || return 1; done; }
wait_for installed 90 || fail "not installed everywhere: $(ls -l "$T"/gw*/install/plc 2>&1)"
state () { ctl --json twin get "$1" | jget reported.software.state; }
committed () { for i in $(seq 1 $GATEWAYS); do [[ "$(state "gw$i")" == committed ]] || return 1; done; }
wait_for committed 30 || fail "twins: $(for i in $(seq 1 $GATEWAYS); do echo "gw$i $(state "gw$i")"; done)"
grep -q "fetch: srv: release .* wanted for the site" srv.log || fail "srv did not fetch for the site"

say "the uplink carried each chunk once"
served=$(counter chunks_served)
[[ "$served" == "$chunks" ]] || fail "the coordinator served $served chunks of a $chunks-chunk release: $(ctl --json stats)"
status=$(as_op otto update status --query type=gateway)
[[ "$(grep -c ' committed' <<<"$status")" == "$GATEWAYS" ]] || fail "update status: $status"

say "v2: five regions of the artifact changed (5%), published and assigned"
cp v1.bin v2.bin
for k in 1 3 5 7 9; do
    head -c $((MB * 10000)) /dev/urandom \
        | dd of=v2.bin bs=1 seek=$((k * MB * 100000 - MB * 5000)) conv=notrunc 2>/dev/null
done
art build --repo repo --name plc --version 2.0 --types gateway --handler file v2.bin > /dev/null \
    || fail "build 2.0"
publish repo plc=1.0 plc=2.0
art bundle --repo repo --out site2.wbd > /dev/null || fail "bundle 2"
as_op olga artifact add site2.wbd > /dev/null || fail "artifact add 2"
chunks2=$(as_op olga --json artifact show plc 2.0 | jget chunks)
as_op otto update assign --query type=gateway plc 2.0 > /dev/null || fail "assign 2.0"
installed2 () { for i in $(seq 1 $GATEWAYS); do cmp -s v2.bin "$T/gw$i/install/plc" || return 1; done; }
wait_for installed2 90 || fail "v2 not installed everywhere"
committed2 () {
    for i in $(seq 1 $GATEWAYS); do
        [[ "$(state "gw$i")" == committed && "$(ctl --json twin get "gw$i" | jget reported.software.version)" == 2.0 ]] \
            || return 1
    done
}
wait_for committed2 30 || fail "v2 twins: $(for i in $(seq 1 $GATEWAYS); do echo "gw$i $(state "gw$i")"; done)"
#   What the site lacked: the server says how many chunks of v2 it held
line=$(grep "fetch: srv: release .* wanted for the site: .* of $chunks2 chunks held" srv.log | tail -1)
[[ -n "$line" ]] || fail "srv did not fetch v2 for the site"
held=$(sed 's/.*for the site: \([0-9]*\) of.*/\1/' <<<"$line")
lacked=$((chunks2 - held))
served2=$(( $(counter chunks_served) - served ))
say "v2: $chunks2 chunks, the site lacked $lacked, the uplink carried $served2 for $GATEWAYS gateways"
[[ "$served2" == "$lacked" ]] || fail "the uplink carried $served2 chunks of v2; the site lacked $lacked"
(( lacked > 0 && lacked * 10 < chunks2 )) || fail "$lacked of $chunks2 chunks changed for 5% of the bytes"
say "ok"
