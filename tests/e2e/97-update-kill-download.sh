#!/usr/bin/env bash
#   97-update-kill-download - weft-node killed with SIGKILL at random
#   moments of a download, and a few times while it stages: gw-1 (plc
#   1.0 installed) is assigned plc 2.0 by the coordinator, fetches it
#   from its coordinator link slowly (--chunk-rate), and is killed KILLS
#   times (15 in make test, 30 in make soak), each a random delay after
#   it started again on the same data directory (seeded: SEED=N replays
#   a run). After each kill the artifact is plc 1.0 or 2.0, whole;
#   reported.software never shows a wrong state (failed, rolled back,
#   another release, or 2.0 installed before it was committed); the
#   chunk store agrees with itself and with the releases wanted
#   (chunkstore-check.py). Then kills during staging (strace kills it at
#   a random write of the staged file). At the end 2.0 is committed and
#   installed, 2.0 alone is wanted (1.0's chunks let go), and the
#   coordinator served at most the release's chunks plus the window (8)
#   for each kill: a chunk the node stored is never fetched again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
E2E_DIR=$(cd "$(dirname "$0")" && pwd)
command -v mdb_dump > /dev/null || fail "mdb_dump missing (make deps installs lmdb-utils)"
cd "$T"
KILLS=${KILLS:-15}                  #   make soak: 30
STAGE_KILLS=${STAGE_KILLS:-3}
DELAY_MIN=${DELAY_MIN:-200}         #   ms from a start to its kill, at random
DELAY_MAX=${DELAY_MAX:-2000}
SEED=${SEED:-$(( $(date +%s%N) % 32768 ))}
RANDOM=$SEED
INST="$T/gw-1/install"
#   KiB/s asked of the coordinator: the download outlasts the kills
RATE=${RATE:-$(( 2000 / KILLS ))}
say "seed $SEED (SEED=$SEED KILLS=$KILLS replays this run)"

say "plc 1.0 (small) and 2.0 (4 MB) for gateways, published and bundled"
make_keys r1 r2 r3 t1 t2 s ts
head -c 100000 /dev/urandom > v1.bin
head -c 4000000 /dev/urandom > v2.bin
for v in 1 2; do
    art build --repo repo --name plc --version $v.0 --types gateway --handler file v$v.bin \
        > /dev/null || fail "build $v"
done
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
publish repo plc=1.0 plc=2.0
art bundle --repo repo --out site.wbd > /dev/null || fail "bundle"
plc_coord
chunks=$(as_op olga --json artifact show plc 2.0 | jget chunks)
(( chunks > 100 )) || fail "plc 2.0 has $chunks chunks"

gw_start () { start_node gw-1 --chunk-rate "$RATE" "$@"; }
software () { ctl --json twin get gw-1 | jget "reported.software.$1"; }

say "gw-1 enrols in acme and installs plc 1.0"
gw_start --token-file "$(new_token_file --tenant acme --type gateway)"
wait_for 'is_online gw-1' 20 || fail "gw-1 did not come online"
as_op otto update assign gw-1 plc 1.0 > /dev/null || fail "assign 1.0"
wait_for '[[ "$(software installed)" == 1.0 && "$(software state)" == committed ]]' 30 \
    || fail "1.0 not committed: $(ctl --json twin get gw-1)"
cmp -s v1.bin "$INST/plc" || fail "1.0 not installed"

#   chunkstore : gw-1's chunk store agrees with itself and with the
#   releases wanted ("wanted N held M"); gw-1 stopped
chunkstore () { python3 "$E2E_DIR/chunkstore-check.py" "$T/gw-1/db"; }

#   checked : after a kill, the artifact is 1.0 or 2.0 whole, and the
#   twin's reported.software is a state of 2.0's install, 1.0 installed
#   until 2.0 is committed
checked () {
    cmp -s v1.bin "$INST/plc" || cmp -s v2.bin "$INST/plc" \
        || fail "after kill $1 the artifact is neither 1.0 nor 2.0"
    local sw state version installed
    sw=$(ctl --json twin get gw-1 | jget reported.software) || fail "no twin"
    state=$(jget state <<<"$sw"); version=$(jget version <<<"$sw")
    installed=$(jget installed <<<"$sw")
    [[ "$version" == 2.0 ]] || fail "after kill $1 the twin reports release $version: $sw"
    case "$state" in
        assigned|downloading|verified|staged|installing|health) ;;
        committed) [[ "$installed" == 2.0 ]] || fail "committed, installed $installed: $sw" ;;
        *) fail "after kill $1 the twin reports $state: $sw" ;;
    esac
    [[ "$installed" == 1.0 || "$state" == committed ]] \
        || fail "after kill $1: installed $installed while $state: $sw"
    store=$(chunkstore) || fail "after kill $1 the chunk store disagrees: $store"
    [[ "$store" == "wanted 2 "* ]] || fail "after kill $1: $store (1.0 and 2.0 wanted)"
}

say "plc 2.0 assigned; gw-1 killed $KILLS times while it downloads"
served0=$(counter chunks_served)
as_op otto update assign gw-1 plc 2.0 > /dev/null || fail "assign 2.0"
wait_for "grep -q 'update: plc 2.0 downloading' gw-1.log" 20 || fail "no download: $(tail -5 gw-1.log)"
kills=0
for k in $(seq 1 "$KILLS"); do
    grep -q 'update: plc 2.0 verified' gw-1.log && fail "downloaded before kill $k (lower RATE)"
    delay=$(( DELAY_MIN + RANDOM % (DELAY_MAX - DELAY_MIN) ))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    stop_proc gw-1 KILL
    kills=$((kills + 1))
    grep -q 'update: plc 2.0 verified' gw-1.log && fail "kill $k came after the download ended"
    checked "$k"
    echo "kill $k after ${delay} ms: $(( $(counter chunks_served) - served0 )) of $chunks" \
        "chunks served; store: $store"
    (( k < KILLS )) && gw_start
done

say "the download completes (no rate limit); $STAGE_KILLS kills while it stages"
#   strace kills gw-1 at a random write of the staged file: the first
#   run downloads the rest first, the others stage again from verified
writes=$(( $(stat -c %s v2.bin) / 65536 ))      #   a write per chunk at least
for k in $(seq 1 "$STAGE_KILLS"); do
    n=$(( 1 + RANDOM % writes ))
    # shellcheck disable=SC2046
    strace -f -qq -o /dev/null -e trace=write -P "$INST/.plc.weft-new.part" \
        -e inject=write:signal=KILL:when=$n "$NODE" $(node_args gw-1) >> gw-1.log 2>&1 &
    PID_OF[gw-1]=$!
    { wait_for "! kill -0 ${PID_OF[gw-1]}" 60; } 2>/dev/null \
        || fail "not killed at write $n of the staged file"
    stop_proc gw-1
    [[ -e "$INST/.plc.weft-new.part" ]] || fail "no staged file left by stage kill $k"
    echo "stage kill $k at write $n of the staged file"
    grep -q 'update: plc 2.0 verified' gw-1.log || fail "killed before the download ended"
    grep -q 'update: plc 2.0 staged' gw-1.log && fail "staged before stage kill $k"
    checked "stage $k"
done
gw_start
wait_for '[[ "$(software installed)" == 2.0 && "$(software state)" == committed ]]' 40 \
    || fail "2.0 not committed: $(ctl --json twin get gw-1)"
cmp -s v2.bin "$INST/plc" || fail "2.0 not installed"
[[ -z "$(ls -A "$INST" | grep -v '^plc$')" ]] || fail "left over: $(ls -A "$INST")"
stop_proc gw-1
store=$(chunkstore) || fail "the chunk store disagrees: $store"
[[ "$store" == "wanted 1 "* ]] || fail "after the commit: $store (2.0 alone wanted)"

served=$(( $(counter chunks_served) - served0 ))
say "plc 2.0: $chunks chunks; the coordinator served $served over $kills kills" \
    "($(( served - chunks )) asked again, at most $(( 8 * kills )))"
(( served >= chunks )) || fail "served $served of $chunks chunks"
(( served <= chunks + 8 * kills )) || fail "served $served chunks: more than the window per kill"
say "ok"
