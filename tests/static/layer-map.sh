#!/usr/bin/env bash
#   layer-map - every #include keeps to the layer map (docs/architecture.md):
#     proto/*         the shared vocabulary: includes proto/ only, never
#                     proto/io/ (it does no I/O, tests/static/core-no-io.sh)
#     proto/io/*      adapters both daemons share (LMDB store, key files,
#                     options, ZAP, TCP link timers): proto/ and proto/io/
#     node/core/*     proto/ and node/core/
#     node/io/*, node/main.c       proto/, proto/io/ and node/
#     coordinator/core/*           proto/ and coordinator/core/
#     coordinator/io/*, coordinator/main.c   proto/, proto/io/, coordinator/
#     tools/, sim/, tests/         anything
#   So the node never includes the coordinator nor the other way round,
#   and what both need lives in proto/. The check then tries itself on a
#   copy of the tree with a cross include planted in each kind of file,
#   and fails if it lets one through.
#   Usage: layer-map.sh [ROOT]  (ROOT given: check that tree only)
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}

#   check DIR: prints each include that leaves its layer; 1 if any.
#   One grep over the tree and one awk, as it runs ten times.
s_check () {
    (cd "$1" && grep -rHE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' \
                     --include='*.[ch]' proto node coordinator) | awk '
        {
            file = $0; sub(/:.*/, "", file)
            target = $0; sub(/^[^"]*"/, "", target); sub(/".*/, "", target)
            if      (file ~ /^proto\/io\//)          allowed = "^proto/"
            else if (file ~ /^proto\//)              allowed = "^proto/[^/]+$"
            else if (file ~ /^node\/core\//)         allowed = "^(proto/[^/]+|node/core/.*)$"
            else if (file ~ /^node\//)               allowed = "^(proto|node)/"
            else if (file ~ /^coordinator\/core\//)  allowed = "^(proto/[^/]+|coordinator/core/.*)$"
            else if (file ~ /^coordinator\//)        allowed = "^(proto|coordinator)/"
            else next
            if (target !~ allowed) {
                printf "%s: includes \"%s\", outside its layer\n", file, target
                bad = 1
            }
        }
        END { exit bad }'
}

if ! s_check "$ROOT"; then
    echo "FAIL: includes cross the layer map (see above and docs/architecture.md)"
    exit 1
fi
(( $# > 0 )) && { echo "ok: the layer map holds"; exit 0; }

#   The check must catch a cross include in every kind of file
T=$(mktemp -d /tmp/weft-layer.XXXXXX)
trap 'rm -rf "$T"' EXIT
planted=(
    'node/core/agent.c:coordinator/core/coord.h'
    'node/io/transport.c:coordinator/core/registry.h'
    'node/core/agent.c:node/io/transport.h'
    'coordinator/core/coord.c:node/core/agent.h'
    'coordinator/core/coord.c:proto/io/store_lmdb.h'
    'coordinator/io/server.c:node/io/tpm.h'
    'proto/envelope.c:node/core/agent.h'
    'proto/envelope.c:proto/io/keyfile.h'
    'proto/io/store.c:coordinator/core/registry.h'
)
source "$(dirname "$0")/planted.bash"
for case in "${planted[@]}"; do
    file=${case%%:*}
    target=${case#*:}
    if ! s_refuses_planted s_check "$ROOT" "$T" "$file" "#include \"$target\""; then
        echo "FAIL: the check let \"$target\" into $file through"
        exit 1
    fi
done
echo "ok: the layer map holds, and the check refuses ${#planted[@]} planted cross includes"
