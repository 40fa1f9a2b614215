/*  bench - helpers shared by the benchmarks
    Figures are medians or percentiles of several interleaved runs,
    because these machines are noisy.  */

#ifndef WEFT_BENCH_H_INCLUDED
#define WEFT_BENCH_H_INCLUDED

#include <czmq.h>

static inline int
bench_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return (x > y) - (x < y);
}

//  Value at percentile pct (0..100) of count values; sorts them.
static inline double
bench_percentile (double *values, int count, double pct)
{
    qsort (values, (size_t) count, sizeof (double), bench_cmp);
    return values [(int) (pct / 100.0 * (count - 1) + 0.5)];
}

static inline double
bench_median (double *values, int count)
{
    return bench_percentile (values, count, 50.0);
}

//  Remove a directory tree, if present.
static inline void
bench_clear (const char *dir)
{
    zdir_t *tree = zdir_new (dir, NULL);
    if (tree) {
        zdir_remove (tree, true);
        zdir_destroy (&tree);
    }
}

#endif
