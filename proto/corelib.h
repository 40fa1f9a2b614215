/*  corelib - what the sans-IO cores (proto/, node/core, coordinator/core)
    take from CZMQ, and the one place they include it from
    Containers (zhashx, zlistx, zchunk), zmalloc, and logging through
    zsys_debug/info/notice/warning/error (plus zsys_sprintf, which only
    formats). Nothing else: no zsock, zclock, zfile, zdir, zpoller,
    zactor, zloop or other zsys call, because the cores do no I/O and
    weft-sim runs them on its virtual clock and network
    (ARCHITECTURE.md, "Sans-IO cores"). CZMQ ships its classes only as
    one header, so the rule is kept by tests/static/core-no-io.sh, which
    refuses a direct <czmq.h> in a core file and any other CZMQ call
    outside the selftests.  */

#ifndef WEFT_CORELIB_H_INCLUDED
#define WEFT_CORELIB_H_INCLUDED

#include <czmq.h>

#endif
