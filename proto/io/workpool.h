/*  workpool - a fork-join pool: one batch of independent jobs run on
    worker threads and the calling thread at once
    The verifiers of a daemon (node/io/sigcheck's envelope signatures,
    the coordinator's quotes) check a burst on every core, then go on
    with the results in the burst's order on the calling thread: the
    pool never reorders anything, it only returns once every job of
    the batch is done. Jobs are handed out one at a time under a mutex
    and belong to one generation, so a worker that wakes late never
    touches the next batch before the current one is finished.
    A job must not touch anything another job of the batch touches.  */

#ifndef WEFT_WORKPOOL_H_INCLUDED
#define WEFT_WORKPOOL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define WORKPOOL_THREADS_MAX    8

typedef struct _workpool_t workpool_t;

//  Run one job: job points at the job's bytes, arg is workpool_run's
typedef void (workpool_fn) (void *job, void *arg);

//  threads: workers besides the calling thread (0 = every job runs on
//  the caller), at most WORKPOOL_THREADS_MAX.
workpool_t *
    workpool_new (size_t threads);

//  Stop and join the workers; safe to call twice.
void
    workpool_destroy (workpool_t **self_p);

//  Workers a machine should use: one less than its online CPUs, at most 3.
size_t
    workpool_default_threads (void);

//  Workers that started.
size_t
    workpool_threads (workpool_t *self);

//  Run fn (job, arg) on count jobs of job_size bytes each at jobs, on
//  the workers and the caller; returns when all are done.
void
    workpool_run (workpool_t *self, workpool_fn *fn, void *arg, void *jobs, size_t count,
                  size_t job_size);

void
    workpool_test (bool verbose);

#endif
