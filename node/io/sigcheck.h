/*  sigcheck - a poll burst of mesh frames whose signatures are checked
    on several threads, then handed to the mesh in arrival order
    Profiling the relay (docs/mesh.md, Throughput) showed the first-hop
    Ed25519 check is most of its work: one core verifies 5,000-7,000
    envelopes a second. The I/O layer reads a burst of frames, asks the
    mesh which key each custody frame would be checked with
    (mesh_custody_key), checks them on its worker threads and the
    calling thread at once, and only then feeds the mesh, in order,
    with mesh_on_checked_frame (a frame that failed, or whose key is
    not the one the mesh would use by then, is checked again by the
    mesh itself). Nothing changes in what is checked or when custody
    is acknowledged: the mesh still commits the burst before its ACKs.
    A neighbour's own envelopes to the coordinator are not checked at
    the first hop at all (docs/mesh.md, Signatures): what comes here is
    relayed traffic of origins whose certificate the node holds, traffic
    for devices and evidence.

    With 0 threads, or fewer than two frames to check, the frames go
    to the mesh directly and it checks them itself.  */

#ifndef WEFT_SIGCHECK_H_INCLUDED
#define WEFT_SIGCHECK_H_INCLUDED

#include <czmq.h>
#include "node/core/mesh.h"

#define SIGCHECK_BURST          256                 //  Frames held at most
#define SIGCHECK_BYTES_MAX      (4 * 1024 * 1024)   //  Bytes held at most
#define SIGCHECK_THREADS_MAX    8

typedef struct {
    uint64_t frames;                //  Frames fed to the mesh
    uint64_t checked;               //  Signatures checked here (not by the mesh)
    uint64_t failed;                //  Of those, bad (the mesh checks and counts them)
} sigcheck_stats_t;

typedef struct _sigcheck_t sigcheck_t;

//  threads: workers besides the calling thread (0 = none).
sigcheck_t *
    sigcheck_new (mesh_t *mesh, size_t threads);

void
    sigcheck_destroy (sigcheck_t **self_p);

//  Workers a machine should use: one less than its online CPUs, at most 3.
size_t
    sigcheck_default_threads (void);

//  Hold one message from link (dest NULL for a link-local one); frame
//  is a frame of *msg_p, whose ownership passes here. Feeds first if
//  the burst is full.
void
    sigcheck_add (sigcheck_t *self, const char *link, const char *dest,
                  zmsg_t **msg_p, zframe_t *frame, uint64_t now_ms);

//  Check what is held and hand it to the mesh in order.
void
    sigcheck_feed (sigcheck_t *self, uint64_t now_ms);

const sigcheck_stats_t *
    sigcheck_stats (sigcheck_t *self);

void
    sigcheck_test (bool verbose);

#endif
