#!/usr/bin/env bash
#   81-artifact-bundle - a release in one file for a site with no
#   uplink: written from a repository, checked record by record from the
#   root the devices pinned (also across a root rotation the bundle
#   carries), with no round trip; refused when cut short anywhere,
#   altered anywhere, stale, or made from metadata the release keys did
#   not sign; a metadata-only bundle (a fresh timestamp) passes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "a repository with two releases and an assignment file"
make_keys r1 r2 r3 t1 t2 s ts n1 n2 n3
head -c 1500000 /dev/urandom > v1.bin
cp v1.bin v2.bin
printf 'PATCHED' | dd of=v2.bin bs=1 seek=700000 conv=notrunc 2>/dev/null
art build --repo repo --name plc --version 1.0 v1.bin > /dev/null || fail "build 1"
art build --repo repo --name plc --version 2.0 v2.bin > /dev/null || fail "build 2"
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 || fail "sign root"
cp repo/root.1 pinned-root
publish repo plc=1.0 plc=2.0
printf 'an assignment the coordinator signed' > assign-gw-1

say "bundled and checked from the pinned root"
art bundle --repo repo --out site.wbd assign-gw-1 > bundle.out || fail "bundle: $(cat bundle.out)"
art verify --bundle site.wbd --root pinned-root > verify.out || fail "verify: $(cat verify.out)"
chunks=$(ls repo/chunks | wc -l)
grep -q "whole and trusted: .* root 1, targets 1, 2 releases, $chunks chunks carried, 0 not carried" \
    verify.out || fail "verify said: $(cat verify.out) (repository: $chunks chunks)"
size=$(stat -c %s site.wbd)

say "cut short anywhere: refused"
for cut in 4 8 13 200 $((size / 3)) $((size / 2)) $((size - 40)) $((size - 1)); do
    head -c $cut site.wbd > cut.wbd
    out=$(art verify --bundle cut.wbd --root pinned-root 2>&1) && fail "a bundle cut at $cut passed"
    grep -q "cut short\|not a Weft bundle\|refused" <<<"$out" || fail "cut at $cut: $out"
done

say "altered anywhere: refused"
for at in 3 20 300 1200 $((size / 4)) $((size / 2)) $((size - 10)); do
    cp site.wbd bad.wbd
    flip_byte bad.wbd $at
    out=$(art verify --bundle bad.wbd --root pinned-root 2>&1) \
        && fail "a bundle altered at byte $at passed"
done

say "another pinned root (another publisher) refuses it"
mkdir other && ( cd other && T=$PWD && make_keys r1 r2 r3 t1 t2 s ts && new_root repo r1 r2 r3 \
    && art sign --key r1.key repo/root.1 && art sign --key r2.key repo/root.1 ) > /dev/null \
    || fail "other publisher"
refused "refused: not signed by a threshold" art verify --bundle site.wbd --root other/repo/root.1

say "a root rotation travels in the bundle: pinned to root 1, the site walks to root 2"
new_root repo n1 n2 n3
for k in r1 r3 n1 n2; do art sign --key $k.key repo/root.2 || fail "sign root 2 $k"; done
art bundle --repo repo --out rotated.wbd > /dev/null || fail "bundle after rotation"
art verify --bundle rotated.wbd --root pinned-root > verify.out || fail "$(cat verify.out)"
grep -q "root 2, targets 1" verify.out || fail "verify said: $(cat verify.out)"

say "metadata only: a fresh timestamp for a site cut off, no chunks"
art timestamp --repo repo --expires 1d > /dev/null && art sign --key ts.key repo/timestamp \
    || fail "timestamp"
art targets --repo repo --expires 30d plc=2.0 > /dev/null && art sign --key t1.key repo/targets \
    && art sign --key t2.key repo/targets || fail "targets"
name_targets repo
art verify --repo repo > /dev/null || fail "repository after a new publication"
art bundle --repo repo --out fresh.wbd > /dev/null || fail "bundle"
art verify --bundle fresh.wbd --root pinned-root > verify.out || fail "$(cat verify.out)"
grep -q "targets 2, 1 releases" verify.out || fail "verify said: $(cat verify.out)"

say "targets signed by one release key: the repository does not bundle"
art targets --repo repo --expires 30d plc=1.0 > /dev/null && art sign --key t1.key repo/targets \
    || fail "targets"
name_targets repo
refused "targets refused: not signed by a threshold" art bundle --repo repo --out nope.wbd
[[ ! -e nope.wbd && ! -e nope.wbd.tmp ]] || fail "a refused bundle left a file"

say "usage"
art verify --bundle site.wbd > /dev/null 2>&1; (( $? == 2 )) || fail "verify --bundle without --root"
art bundle --repo repo > /dev/null 2>&1; (( $? == 2 )) || fail "bundle without --out"
say "ok"
