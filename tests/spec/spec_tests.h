/*  spec_tests - selftests that read docs/protocol.md and hold it equal
    to the code: they open a file, so they live here, outside the cores
    (docs/architecture.md).  */

#ifndef WEFT_SPEC_TESTS_H_INCLUDED
#define WEFT_SPEC_TESTS_H_INCLUDED

#include <stdbool.h>

//  The roles, the method table and the coord.stats counters are the
//  code's (coordinator/core/rpc.h, proto/opcred.h)
void
    rpc_spec_test (bool verbose);

//  The message table is wire_doc_row's for every type (proto/wire.h)
void
    wire_spec_test (bool verbose);

//  The result codes of section 8.2 are proto_rcs's (proto/proto.h)
void
    errors_spec_test (bool verbose);

//  Is the table after marker_text in docs/protocol.md expected (what
//  names it in messages, test is the selftest that writes it with
//  WEFT_DOCS_WRITE=1)? Prints each line that differs.
bool
    spec_doc_table (const char *marker_text, const char *expected, const char *what,
                    const char *test, bool verbose);

#endif
