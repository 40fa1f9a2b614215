#!/usr/bin/env bash
#   core-no-io - the cores (node/core, coordinator/core) and proto/ do no
#   I/O: no clock, socket, file, process, thread or TPM call outside their
#   selftests, and keep no module-level mutable state, so weft-sim can
#   run the same code on its virtual clock and network (ARCHITECTURE.md, "Sans-IO cores"). What they may use:
#   CZMQ's containers (zhashx, zlistx, zchunk), zmalloc and zsys logging,
#   included only through proto/corelib.h;
#   the store interface (proto/store.h) the daemon and the simulator
#   both bind to LMDB; libsodium's random source, which weft-sim replaces
#   with a seeded one (randombytes_set_implementation); tss2_mu, which
#   only marshals TPM structures in memory.
#   Each file is read up to its selftest section (a "//  Selftest" line);
#   *_test.c files are selftests whole.
cd "$(dirname "$0")/../.."
FORBIDDEN='(^|[^.>A-Za-z0-9_])((zsock|zclock|zfile|zdir|zpoller|zactor|zloop|zstr|zproc|zbeacon|zsys_udp|zsys_socket|zmq|pthread|mdb)_[a-z_]*|Esys_[A-Za-z_]+|Tss2_Tcti_[A-Za-z_]+|fopen|fdopen|freopen|opendir|mkdtemp|mkstemp|unlink|rename|open|read|write|close|socket|connect|bind|time|clock_gettime|gettimeofday|getenv|setenv|system|popen|fork|exec[lv]p?|sleep|usleep|nanosleep)[[:space:]]*\('
#   Of zsys, only logging and formatting
ZSYS='(^|[^A-Za-z0-9_])zsys_[a-z_]+[[:space:]]*\('
ZSYS_LOGGING='zsys_(debug|info|notice|warning|error|sprintf|vprintf)[[:space:]]*\('
#   Nor module-level mutable state (a cache, a counter): each core's
#   state lives in its object, so two cores in one process (weft-sim)
#   share nothing. A constant table is fine.
STATIC=': static [^(]*(;|=|\{)[[:space:]]*$'
STATIC_CONST=': static const '
bad=0
#   CZMQ comes in through proto/corelib.h, which says what of it a core may use
direct=$(grep -ln '^#include <czmq.h>' node/core/*.[ch] coordinator/core/*.[ch] proto/*.[ch] \
         | grep -v '^proto/corelib.h$')
if [[ -n "$direct" ]]; then
    echo "$direct" | sed 's/$/: includes <czmq.h>; include "proto\/corelib.h"/'
    bad=1
fi
for f in node/core/*.c coordinator/core/*.c proto/*.c; do
    [[ "$f" == *_test.c ]] && continue
    #   Code lines only: block comments, // comments and strings dropped
    code=$(awk '
        /^\/\/  (-+ )?[Ss]elf ?test/ { exit }
        {
            line = $0
            if (in_block) { if (line !~ /\*\//) next; sub(/^.*\*\//, "", line); in_block = 0 }
            gsub(/\/\*.*\*\//, "", line)
            if (line ~ /\/\*/) { sub(/\/\*.*$/, "", line); in_block = 1 }
            sub(/\/\/.*$/, "", line)
            gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
            print FILENAME ":" FNR ": " line
        }' "$f")
    hits=$( { echo "$code" | grep -E "$FORBIDDEN"
              echo "$code" | sed -E "s/$ZSYS_LOGGING//g" | grep -E "$ZSYS"
              echo "$code" | grep -E "$STATIC" | grep -vE "$STATIC_CONST" \
                           | sed 's/$/  <- module-level state: keep it in its owner object/'; } )
    if [[ -n "$hits" ]]; then
        echo "$hits"
        bad=1
    fi
done
(( bad == 0 )) || { echo "FAIL: I/O or module-level state in a core module (see above)"; exit 1; }
echo "ok: no I/O nor module-level state in node/core, coordinator/core and proto outside selftests"
