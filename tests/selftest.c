/*  selftest - runs every module's selftest, or one with --test NAME
    The table is generated from the headers (see the Makefile), so a
    module is registered by declaring name_test (bool verbose).  */

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <czmq.h>
#include "selftest-headers.inc"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} selftest_t;

static selftest_t s_tests [] = {
#include "selftests.inc"
    { NULL, NULL }
};

int
main (int argc, char *argv [])
{
    bool verbose = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "-v") || streq (argv [i], "--verbose"))
            verbose = true;
        else
        if (streq (argv [i], "--test") && i + 1 < argc)
            only = argv [++i];
        else
        if (streq (argv [i], "--list")) {
            for (selftest_t *t = s_tests; t->name; t++)
                printf ("%s\n", t->name);
            return 0;
        }
        else {
            fprintf (stderr, "usage: weft-selftest [-v] [--list] [--test NAME]\n");
            return 2;
        }
    }
    if (sodium_init () < 0) {
        fprintf (stderr, "selftest: libsodium failed to initialise\n");
        return 1;
    }
    zsys_init ();
    int ran = 0;
    for (selftest_t *t = s_tests; t->name; t++) {
        if (only && !streq (only, t->name))
            continue;
        t->test (verbose);
        ran++;
    }
    if (only && ran == 0) {
        fprintf (stderr, "selftest: no test named '%s'\n", only);
        return 2;
    }
    return 0;
}
