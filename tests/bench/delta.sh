#!/usr/bin/env bash
#   delta.sh - bytes an update costs: a real binary pair, weft-node built
#   from an older commit (DELTA_BASE, default 20 commits back) and from
#   this tree, and a synthetic pair (a 20 MB image with ~5% of it
#   changed in 40 places). For each pair:
#     weft   = the chunks v2 adds that v1 does not hold, each packed or
#              as a zstd delta against v1's chunk at the same offset,
#              whichever is smaller (weft-artifact build --delta-from),
#              plus v2's manifest: what a site's uplink carries once,
#              whatever the number of devices
#     bsdiff = bsdiff's patch (Debian's bsdiff)
#     zstd   = zstd -19 --patch-from=v1 (the zstd CLI)
#   ratio = weft / the smaller of bsdiff and zstd (goal <= 1.2, issue 14).
#   Also: weft-artifact build's throughput against raw zlib compression
#   of the same bytes (gzip -6 through the same pipe).
#   Usage: tests/bench/delta.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ART="$BUILD/weft-artifact"
T=$(mktemp -d /tmp/weft-bench-delta.XXXXXX)
cleanup () {
    [[ -d "$T/old" ]] && git -C "$ROOT" worktree remove --force "$T/old" > /dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT INT TERM
for tool in bsdiff zstd; do
    command -v $tool > /dev/null || { echo "BENCH delta skipped: $tool is missing (make deps)"; exit 0; }
done

#   weft_bytes V1 V2 : what v2 costs over v1 in chunks and manifest
weft_bytes () {
    local repo="$T/repo-$RANDOM"
    "$ART" build --repo "$repo" --name pair --version 1 "$1" > /dev/null
    local out
    out=$("$ART" build --repo "$repo" --name pair --version 2 --delta-from 1 "$2")
    rm -rf "$repo"
    sed -n 's/.* \([0-9]*\) bytes to send.*/\1/p' <<<"$out"
}

#   compare NAME V1 V2
compare () {
    local name=$1 v1=$2 v2=$3 weft bs zs best
    weft=$(weft_bytes "$v1" "$v2")
    bsdiff "$v1" "$v2" "$T/patch.bsdiff"
    bs=$(stat -c %s "$T/patch.bsdiff")
    zstd -q -19 --patch-from="$v1" "$v2" -o "$T/patch.zst" -f
    zs=$(stat -c %s "$T/patch.zst")
    best=$(( bs < zs ? bs : zs ))
    awk -v n="$name" -v w="$weft" -v b="$bs" -v z="$zs" -v best="$best" -v size="$(stat -c %s "$v2")" 'BEGIN {
        r = w / best
        printf "BENCH delta_%s %d bytes ratio=%.2f vs the best single-device delta (bsdiff %d, zstd --patch-from %d; v2 is %d bytes) goal=1.2 %s\n",
               n, w, r, b, z, size, (r <= 1.2? "met": "MISSED") }'
}

#   A real pair: weft-node of an older commit and of this tree
base=${DELTA_BASE:-HEAD~20}
if git -C "$ROOT" rev-parse --verify -q "$base" > /dev/null \
&& git -C "$ROOT" worktree add -q --detach "$T/old" "$base" > /dev/null 2>&1 \
&& make -C "$T/old" -s -j"$(nproc)" build/weft-node > /dev/null 2>&1; then
    compare weft_node "$T/old/build/weft-node" "$BUILD/weft-node"
else
    echo "BENCH delta_weft_node skipped: cannot build $base (not a git checkout?)"
fi

#   A synthetic image: 20 MB of mixed content (text, zeros, random),
#   then 40 edits of ~25 KB (5%)
python3 - "$T/img1" "$T/img2" <<'EOF'
import random, sys
rng = random.Random(7)
parts = []
while sum(map(len, parts)) < 20 * 1024 * 1024:
    kind = rng.random()
    n = rng.randint(4096, 262144)
    if kind < 0.4:
        parts.append(bytes(rng.getrandbits(8) for _ in range(n // 16)) * 16)
    elif kind < 0.6:
        parts.append(b"\0" * n)
    else:
        parts.append(rng.randbytes(n))
v1 = bytearray(b"".join(parts))
open(sys.argv[1], "wb").write(v1)
v2 = bytearray(v1)
for _ in range(40):
    at = rng.randrange(len(v2) - 30000)
    v2[at:at + 25000] = rng.randbytes(25000)
open(sys.argv[2], "wb").write(v2)
EOF
compare image_5pct "$T/img1" "$T/img2"

#   Throughput of build (chunk, hash, pack, store) against zlib alone
start=$(date +%s.%N)
"$ART" build --repo "$T/tp" --name tp --version 1 "$T/img2" > /dev/null
mid=$(date +%s.%N)
gzip -6 -c "$T/img2" > /dev/null
end=$(date +%s.%N)
awk -v a="$start" -v b="$mid" -v c="$end" -v size="$(stat -c %s "$T/img2")" 'BEGIN {
    w = size / (b - a) / 1e6; z = size / (c - b) / 1e6
    printf "BENCH artifact_build %.1f MB/s ratio=%.2f vs gzip -6 of the same bytes (%.1f MB/s)\n", w, w / z, z }'
