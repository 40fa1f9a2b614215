#!/usr/bin/env bash
#   80-artifact-repo - weft-artifact as a publisher uses it: release keys
#   made apart, two builds of a 4 MB artifact where v2 differs in a few
#   places (v2 stores only the changed chunks), roles signed by each key
#   holder alone and merged, the repository verified as a device walks
#   it, a root rotated by the old threshold; and every refusal: a root
#   short of its threshold, targets signed by one key of two or by a
#   stranger, a rotation signed by new keys only, mixed metadata of two
#   publications, a damaged chunk, a swapped manifest, bad arguments.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/artifact-lib.sh"
cd "$T"

say "keys, each made apart"
make_keys r1 r2 r3 t1 t2 s ts rogue
for k in r1 r2 r3 t1 t2 s ts rogue; do
    [[ "$(stat -c %a $k.key)" == 600 ]] || fail "$k.key is not mode 600"
    [[ "$(cat $k.pub)" =~ ^[0-9a-f]{64}$ ]] || fail "keygen printed '$(cat $k.pub)'"
done

say "two builds: v2 changes 3 places of 4 MB and stores only their chunks"
head -c 4000000 /dev/urandom > v1.bin
cp v1.bin v2.bin
for at in 100000 2000000 3900000; do
    printf 'PATCHED-%s' $at | dd of=v2.bin bs=1 seek=$at conv=notrunc 2>/dev/null
done
art build --repo repo --name plc --version 1.0 --types gateway v1.bin > b1.out || fail "build 1"
art build --repo repo --name plc --version 2.0 --types gateway,server --anti-rollback 2 \
    --delta-from 1.0 v2.bin > b2.out || fail "build 2"
total=$(sed -n 's/.* in \([0-9]*\) chunks.*/\1/p' b2.out)
new=$(sed -n 's/.*(\([0-9]*\) new.*/\1/p' b2.out)
(( total > 150 && new >= 1 && new <= 9 )) || fail "v2: $new new of $total chunks: $(cat b2.out)"
(( $(ls repo/chunks | wc -l) == $(sed -n 's/.* in \([0-9]*\) chunks.*/\1/p' b1.out) + new )) \
    || fail "the repository holds $(ls repo/chunks | wc -l) chunks"
#   Each changed chunk also as a delta against 1.0's chunks around it:
#   a few KB to send instead of the packed chunks
deltas=$(sed -n 's/.*, \([0-9]*\) as deltas.*/\1/p' b2.out)
packed=$(sed -n 's/.*new, \([0-9]*\) bytes packed.*/\1/p' b2.out)
send=$(sed -n 's/.* \([0-9]*\) bytes to send.*/\1/p' b2.out)
(( deltas == new && send < packed / 4 )) || fail "deltas: $(cat b2.out)"
(( $(ls repo/deltas | wc -l) == deltas )) || fail "repo/deltas holds $(ls repo/deltas | wc -l)"

say "root: written unsigned, short of its threshold with one signature"
new_root repo r1 r2 r3
art sign --key r1.key repo/root.1 || fail "sign root r1"
refused "root.1 refused: not signed by a threshold" art verify --repo repo

say "the second root key holder signs a copy on their machine; merged"
cp repo/root.1 root-r3
art sign --key r3.key root-r3 || fail "sign root r3"
art merge --out repo/root.1 repo/root.1 root-r3 || fail "merge"
[[ "$(art inspect repo/root.1 | "$PROBE" json signed_by | tr -cd , | wc -c)" == 1 ]] \
    || fail "the merged root does not carry two signatures: $(art inspect repo/root.1)"

say "targets, snapshot, timestamp; targets signed by one key of two are refused"
art targets --repo repo --expires 30d plc=1.0 plc=2.0 > /dev/null || fail "targets"
art sign --key t1.key repo/targets || fail "sign targets"
name_targets repo 1
refused "targets refused: not signed by a threshold" art verify --repo repo
#   A stranger's signature does not count for the missing key
cp repo/targets targets-t1
art sign --key rogue.key repo/targets || fail "sign rogue"
name_targets repo 1
refused "targets refused: not signed by a threshold" art verify --repo repo
cp targets-t1 repo/targets
art sign --key t2.key repo/targets || fail "sign targets t2"
name_targets repo 1
art verify --repo repo > verify.out || fail "verify: $(cat verify.out)"
grep -q "trusted: root 1, timestamp 1, snapshot 1, targets 1 of tenant acme" verify.out \
    || fail "verify said: $(cat verify.out)"
grep -q "plc 2.0: .* anti-rollback 2, types gateway,server: OK" verify.out \
    || fail "verify said: $(cat verify.out)"
[[ "$(art inspect repo/targets | "$PROBE" json targets.1.version)" == 2.0 ]] \
    || fail "inspect: $(art inspect repo/targets)"

grep -q "^$deltas deltas: OK" verify.out || fail "verify said: $(cat verify.out)"
delta=$(ls repo/deltas | head -1)
cp "repo/deltas/$delta" delta.saved
flip_byte "repo/deltas/$delta" $(( $(stat -c %s delta.saved) - 3 ))
refused "$delta: damaged" art verify --repo repo
cp delta.saved "repo/deltas/$delta"

say "mix and match: a second publication's timestamp with the first's snapshot"
cp repo/snapshot snapshot-1
publish repo plc=2.0
art verify --repo repo > /dev/null || fail "second publication does not verify"
cp repo/snapshot snapshot-2
cp snapshot-1 repo/snapshot
refused "snapshot refused: .*mix and match" art verify --repo repo
cp snapshot-2 repo/snapshot

say "a damaged chunk and a swapped manifest are named"
chunk=$(ls repo/chunks | head -1)
cp "repo/chunks/$chunk" chunk.saved
flip_byte "repo/chunks/$chunk" 20
out=$(art verify --repo repo 2>&1)
if grep -q "$chunk" <<<"$out"; then :; else
    #   The damaged chunk may belong to 1.0 only, which the second
    #   publication no longer offers
    cp chunk.saved "repo/chunks/$chunk"
    chunk=$(ls repo/chunks | tail -1)
    cp "repo/chunks/$chunk" chunk.saved
    flip_byte "repo/chunks/$chunk" 20
fi
refused "$chunk: damaged" art verify --repo repo
cp chunk.saved "repo/chunks/$chunk"
cp repo/manifests/plc_2.0 manifest.saved
cp repo/manifests/plc_1.0 repo/manifests/plc_2.0
refused "plc 2.0: the manifest is not the one the targets name" art verify --repo repo
cp manifest.saved repo/manifests/plc_2.0
art verify --repo repo > /dev/null || fail "the repository does not verify once repaired"

say "root rotation: new root keys, signed by the old threshold and the new"
make_keys n1 n2 n3
new_root repo n1 n2 n3
[[ -f repo/root.2 ]] || fail "root.2 was not written"
cp repo/root.2 root2-unsigned
art sign --key n1.key repo/root.2 && art sign --key n2.key repo/root.2 || fail "sign root 2"
refused "root.2 refused: not signed by a threshold" art verify --repo repo
art sign --key r2.key repo/root.2 && art sign --key r3.key repo/root.2 || fail "old keys sign"
art verify --repo repo > verify.out || fail "after rotation: $(cat verify.out)"
grep -q "trusted: root 2," verify.out || fail "verify said: $(cat verify.out)"

say "bad arguments are usage errors"
for args in "build --repo repo --name ../x --version 1 v1.bin" "root --repo repo --expires 99y" \
            "targets --repo repo --expires 1d plc" "sign repo/targets" "merge --out x a"; do
    art $args > /dev/null 2>&1
    rc=$?
    (( rc == 2 )) || fail "'weft-artifact $args' exited $rc, not 2"
done
head -c 100 v1.bin > small.bin
refused "is not a release role" art sign --key t1.key small.bin
refused "neither a release role nor a manifest" art inspect small.bin
refused "larger than" art inspect v1.bin
say "ok"
