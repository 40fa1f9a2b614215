/*  mergepatch - JSON merge patch (RFC 7386) over jansson values
    Used to apply an operator's twin.set patch to a desired document.
    Works on copies: the target passed in is never modified.  */

#ifndef WEFT_MERGEPATCH_H_INCLUDED
#define WEFT_MERGEPATCH_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MERGEPATCH_DEPTH_MAX    32      //  Deepest document accepted

//  Apply patch to target (either may be any JSON value; target may be
//  NULL for "absent"). Returns a new reference the caller json_decref's.
json_t *
    mergepatch_apply (const json_t *target, const json_t *patch);

//  Nesting depth of a JSON value (a scalar is 0, {} or [] is 1).
//  Stops counting past limit and returns limit + 1.
size_t
    mergepatch_depth (const json_t *json, size_t limit);

void
    mergepatch_test (bool verbose);

#endif
