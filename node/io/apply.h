/*  apply - carries a desired twin document into the device
    Three handlers: none (the document is only held and reported back),
    --apply-file PATH (written atomically: temporary file, fsync, rename,
    fsync of the directory) and --apply-command CMD (/bin/sh -c CMD with
    the document on stdin and WEFT_DESIRED_VERSION in the environment;
    exit 0 = applied; a JSON object on stdout becomes the reported
    document). Work runs in an actor of its own so the node's event loop
    never blocks; each request gets exactly one result.  */

#ifndef WEFT_APPLY_H_INCLUDED
#define WEFT_APPLY_H_INCLUDED

#include <czmq.h>

#define APPLY_OUTPUT_MAX    (64 * 1024)     //  Longest stdout kept as a report
#define APPLY_STDERR_MAX    4096            //  Stderr kept for the error text

typedef struct _apply_t apply_t;

//  Results from the handler.
typedef struct {
    uint64_t version;               //  Desired version applied
    bool ok;                        //  Applied?
    char *reported;                 //  JSON object to report, or NULL; owned
    size_t reported_size;
    char *error;                    //  Why it failed, or NULL; owned
} apply_result_t;

//  Start the handler actor. At most one of file and command may be set.
//  timeout_ms bounds a command's run; after it the command is killed.
apply_t *
    apply_new (const char *file, const char *command, int timeout_ms, bool verbose);

//  Stop the actor; a running command is killed.
void
    apply_destroy (apply_t **self_p);

//  Readable when a result is waiting, for a zpoller.
zsock_t *
    apply_sock (apply_t *self);

//  Ask for version's document (copied) to be applied. Returns 0 or -1.
int
    apply_request (apply_t *self, uint64_t version, const char *doc, size_t size);

//  Read one result (call when apply_sock is readable). Returns 0 or -1.
//  Free the result's strings with apply_result_clear.
int
    apply_result (apply_t *self, apply_result_t *result);

void
    apply_result_clear (apply_result_t *result);

void
    apply_test (bool verbose);

#endif
