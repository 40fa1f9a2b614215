/*  wire_test - the selftest of the table-driven codec (proto/wire.c)  */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <assert.h>
#include "wire.h"

void
wire_test (bool verbose)
{
    printf (" * wire: ");
    //  @selftest
    size_t count;
    const wire_msg_t *rows = wire_msgs (&count);
    for (size_t type = 0; type < count; type++) {
        if (!rows [type].name)
            continue;
        assert (rows [type].type == (int) type);
        assert (wire_msg ((int) type) == &rows [type]);
        char row [2048];
        assert (wire_doc_row (&rows [type], row, sizeof row) == 0);
        if (verbose)
            printf ("\n%s", row);
    }
    assert (wire_msg (-1) == NULL && wire_msg (0) == NULL && wire_msg (17) == NULL);
    assert (wire_msg (WIRE_TYPE_LIMIT) == NULL);
    //  @end
    printf ("OK\n");
}
