#include "bb_threads.h"

#ifdef _OPENMP
#include <omp.h>

/* One count for the whole process. omp_set_num_threads would set only the calling
 * thread's ICV: a Python thread other than the one that called bb_set_num_threads would
 * still use the default. 0 means "not set": the OpenMP default (OMP_NUM_THREADS, else
 * the number of cores), read once. Written by the setter, read by every kernel: an int
 * store is atomic on every platform this library builds for with OpenMP. */
static volatile int threads_setting = 0;

int bb_set_num_threads(int n)
{
    if (n >= 1)
        threads_setting = n;
    return bb_get_num_threads();
}

int bb_get_num_threads(void)
{
    int n = threads_setting;
    if (n < 1) {
        n = omp_get_max_threads();
        threads_setting = n;
    }
    return n;
}
#else
int bb_set_num_threads(int n)
{
    (void)n;
    return 1;
}

int bb_get_num_threads(void) { return 1; }
#endif
