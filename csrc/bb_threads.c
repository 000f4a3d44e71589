#include "bb_threads.h"

#ifdef _OPENMP
#include <omp.h>

int bb_set_num_threads(int n)
{
    if (n >= 1)
        omp_set_num_threads(n);
    return omp_get_max_threads();
}

int bb_get_num_threads(void) { return omp_get_max_threads(); }
#else
int bb_set_num_threads(int n)
{
    (void)n;
    return 1;
}

int bb_get_num_threads(void) { return 1; }
#endif
