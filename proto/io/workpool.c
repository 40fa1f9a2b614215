/*  workpool - a fork-join pool (see workpool.h)  */

#include <czmq.h>
#include <pthread.h>
#include <unistd.h>
#include "proto/io/workpool.h"

struct _workpool_t {
    size_t threads;                 //  Workers that started
    pthread_t workers [WORKPOOL_THREADS_MAX];
    pthread_mutex_t lock;
    pthread_cond_t start;           //  A batch is out, or stop
    pthread_cond_t done;            //  The batch's last job finished
    uint64_t generation;            //  Of the current batch
    workpool_fn *fn;                //  The batch: fn (jobs + i * job_size, arg)
    void *arg;
    char *jobs;
    size_t job_size;
    size_t next, total, finished;   //  Jobs handed out, in all, done
    bool stop;
};

//  Take and run jobs of generation gen until none is left
static void
s_work (workpool_t *self, uint64_t gen)
{
    while (true) {
        pthread_mutex_lock (&self->lock);
        if (self->generation != gen || self->next >= self->total) {
            pthread_mutex_unlock (&self->lock);
            return;
        }
        void *job = self->jobs + self->next++ * self->job_size;
        workpool_fn *fn = self->fn;
        void *arg = self->arg;
        pthread_mutex_unlock (&self->lock);
        fn (job, arg);
        pthread_mutex_lock (&self->lock);
        if (++self->finished == self->total)
            pthread_cond_signal (&self->done);
        pthread_mutex_unlock (&self->lock);
    }
}

static void *
s_worker (void *arg)
{
    workpool_t *self = (workpool_t *) arg;
    pthread_mutex_lock (&self->lock);
    //  From generation 0, the pool's first: a worker that starts while
    //  a batch is out joins it (reading the current generation here, a
    //  late start would sit out the batch that is waiting for it)
    uint64_t seen = 0;
    while (true) {
        while (!self->stop && self->generation == seen)
            pthread_cond_wait (&self->start, &self->lock);
        if (self->stop)
            break;
        seen = self->generation;
        pthread_mutex_unlock (&self->lock);
        s_work (self, seen);
        pthread_mutex_lock (&self->lock);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Create a pool and start its workers.

workpool_t *
workpool_new (size_t threads)
{
    workpool_t *self = (workpool_t *) zmalloc (sizeof (workpool_t));
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->start, NULL);
    pthread_cond_init (&self->done, NULL);
    if (threads > WORKPOOL_THREADS_MAX)
        threads = WORKPOOL_THREADS_MAX;
    for (size_t i = 0; i < threads; i++)
        if (pthread_create (&self->workers [self->threads], NULL, s_worker, self) == 0)
            self->threads++;
    return self;
}

//  --------------------------------------------------------------------------
//  Stop and join the workers.

void
workpool_destroy (workpool_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        workpool_t *self = *self_p;
        pthread_mutex_lock (&self->lock);
        self->stop = true;
        pthread_cond_broadcast (&self->start);
        pthread_mutex_unlock (&self->lock);
        for (size_t i = 0; i < self->threads; i++)
            pthread_join (self->workers [i], NULL);
        pthread_mutex_destroy (&self->lock);
        pthread_cond_destroy (&self->start);
        pthread_cond_destroy (&self->done);
        free (self);
        *self_p = NULL;
    }
}

size_t
workpool_default_threads (void)
{
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    return cpus <= 1? 0: cpus > 4? 3: (size_t) cpus - 1;
}

size_t
workpool_threads (workpool_t *self)
{
    assert (self);
    return self->threads;
}

//  --------------------------------------------------------------------------
//  Run one batch on every thread; returns when all of it is done.

void
workpool_run (workpool_t *self, workpool_fn *fn, void *arg, void *jobs, size_t count,
              size_t job_size)
{
    assert (self && fn && (jobs || count == 0));
    if (count == 0)
        return;
    //  One job, or no workers: waking a thread costs more than it saves
    if (count == 1 || self->threads == 0) {
        for (size_t i = 0; i < count; i++)
            fn ((char *) jobs + i * job_size, arg);
        return;
    }
    pthread_mutex_lock (&self->lock);
    self->fn = fn;
    self->arg = arg;
    self->jobs = (char *) jobs;
    self->job_size = job_size;
    self->total = count;
    self->next = self->finished = 0;
    uint64_t gen = ++self->generation;
    pthread_cond_broadcast (&self->start);
    pthread_mutex_unlock (&self->lock);
    s_work (self, gen);
    pthread_mutex_lock (&self->lock);
    while (self->finished < self->total)
        pthread_cond_wait (&self->done, &self->lock);
    pthread_mutex_unlock (&self->lock);
}

//  --------------------------------------------------------------------------
//  Selftest

#include <stdatomic.h>

typedef struct {
    size_t index;
    size_t result;
    pthread_t thread;
} s_test_job_t;

static void
s_test_square (void *job, void *arg)
{
    s_test_job_t *item = (s_test_job_t *) job;
    size_t *delay_us = (size_t *) arg;
    if (*delay_us)
        usleep ((useconds_t) *delay_us);
    item->result = item->index * item->index;
    item->thread = pthread_self ();
}

//  A job that waits until a second job has started (or 10 s passed)
static void
s_test_meet (void *job, void *arg)
{
    s_test_job_t *item = (s_test_job_t *) job;
    atomic_int *started = (atomic_int *) arg;
    item->thread = pthread_self ();
    atomic_fetch_add (started, 1);
    for (int waited = 0; atomic_load (started) < 2 && waited < 10000; waited++)
        usleep (1000);
}

void
workpool_test (bool verbose)
{
    (void) verbose;
    printf (" * workpool: ");
    //  @selftest
    s_test_job_t jobs [64];
    for (size_t threads = 0; threads <= 3; threads++) {
        workpool_t *pool = workpool_new (threads);
        assert (workpool_threads (pool) == threads);
        for (int batch = 0; batch < 20; batch++) {
            memset (jobs, 0, sizeof jobs);
            size_t count = (size_t) batch * 3 + 1;
            if (count > 64)
                count = 64;
            for (size_t i = 0; i < count; i++)
                jobs [i].index = i + (size_t) batch;
            size_t delay = batch == 0? 1000: 0;
            workpool_run (pool, s_test_square, &delay, jobs, count, sizeof jobs [0]);
            //  Every job done once, each result in its own slot
            for (size_t i = 0; i < count; i++)
                assert (jobs [i].result == jobs [i].index * jobs [i].index);
            for (size_t i = count; i < 64; i++)
                assert (jobs [i].result == 0);
        }
        //  With workers, more than the caller takes part: each job waits
        //  (up to 10 s, for a loaded machine) until two have started
        if (threads > 0) {
            memset (jobs, 0, sizeof jobs);
            atomic_int started = 0;
            workpool_run (pool, s_test_meet, &started, jobs, 16, sizeof jobs [0]);
            bool others = false;
            for (size_t i = 0; i < 16; i++)
                others |= !pthread_equal (jobs [i].thread, pthread_self ());
            assert (others);
        }
        workpool_run (pool, s_test_square, NULL, NULL, 0, sizeof jobs [0]);
        workpool_destroy (&pool);
        workpool_destroy (&pool);
        assert (pool == NULL);
    }
    //  @end
    printf ("OK\n");
}
