#!/usr/bin/env bash
#   error-codes - node/, coordinator/ and proto/ return named result
#   codes (proto_rc_t in proto/proto.h, with a name and a text each), not
#   bare negative numbers whose meaning differs from function to function.
#   Refused here, in code (comments and strings dropped): returning or
#   comparing with a literal below -1 ("return -2;", "rc? -2: 0",
#   "rc == -3"). -1 ("did not happen"), 0 and 1 stay allowed; a number
#   that is no result code (a rank, an index) gets a named constant. The
#   check then tries itself on a copy of the tree with a violation
#   planted in each kind of file, and fails if it lets one through.
#   Usage: error-codes.sh [ROOT]  (ROOT given: check that tree only)
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
BARE='(return[[:space:]]+|[?][[:space:]]*|[?][^:;]*:[[:space:]]*|[=!]=[[:space:]]*)-([2-9]|[1-9][0-9]+)([^0-9.eExX]|$)'

#   check DIR: prints each bare code; 1 if any. One awk over the tree
#   (code lines only: block comments, // comments, strings and character
#   constants dropped) and one grep, as it runs nine times.
s_check () {
    (cd "$1" && find proto node coordinator -name '*.c' -print0 | sort -z \
        | xargs -0 awk '
            FNR == 1 { in_block = 0 }
            {
                line = $0
                if (in_block) { if (line !~ /\*\//) next; sub(/^.*\*\//, "", line); in_block = 0 }
                gsub(/\/\*.*\*\//, "", line)
                if (line ~ /\/\*/) { sub(/\/\*.*$/, "", line); in_block = 1 }
                gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
                gsub(/'"'"'([^'"'"'\\]|\\.)*'"'"'/, "0", line)
                sub(/\/\/.*$/, "", line)
                print FILENAME ":" FNR ": " line
            }') | grep -E "$BARE" && return 1
    return 0
}

if ! s_check "$ROOT"; then
    echo "FAIL: bare negative result codes (see above): return a proto_rc_t name"
    echo "      (proto/proto.h; add one, with its text, if none fits)"
    exit 1
fi
(( $# > 0 )) && { echo "ok: no bare negative result codes"; exit 0; }

#   The check must catch each form, in each kind of file
T=$(mktemp -d /tmp/weft-errcodes.XXXXXX)
trap 'rm -rf "$T"' EXIT
planted=(
    'node/core/agent.c:int s_planted (void) { return -2; }'
    'node/io/listener.c:int s_planted (int rc) { return rc? -3: 0; }'
    'coordinator/core/coord.c:int s_planted (int rc) { return rc == -2; }'
    'coordinator/io/server.c:int s_planted (int rc) { return rc != -14; }'
    'proto/envelope.c:int s_planted (int rc) { return rc? 0 : -2 ; }'
    'proto/io/zap.c:int s_planted (void) {'$'\n''    return  -2;'$'\n''}'
    'node/core/node_test.c:static int s_planted (void) { return -2; }'
)
source "$(dirname "$0")/planted.bash"
for case in "${planted[@]}"; do
    file=${case%%:*}
    line=${case#*:}
    if ! s_refuses_planted s_check "$ROOT" "$T" "$file" "$line"; then
        echo "FAIL: the check let \"$line\" into $file through"
        exit 1
    fi
done
#   ... and let these through: -1, a comment, a string, a named constant
s_copy_tree "$ROOT" "$T"
cat >> "$T/tree/node/core/agent.c" <<'EOF'
//  Returns -2 in the old days: return -2;
static int s_allowed (int rc) { return rc == -1? -1: rc? PROTO_ERR_DROPPED: 0; }
static const char *s_allowed_text = "return -2;";
/*  return -3;
    return -4; */
static double s_allowed_number (void) { return -2.5e-3; }
EOF
if ! s_check "$T/tree"; then
    echo "FAIL: the check refused allowed code (see above)"
    exit 1
fi
echo "ok: no bare negative result codes, and the check refuses ${#planted[@]} planted ones"
