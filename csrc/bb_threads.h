/* bb_threads.h: how many threads the float32 training kernels may use.
 *
 * Built with OpenMP (the host library), SGEMM splits its column panels and conv2d
 * splits the batch across threads; built without it (Cortex-M, or BB_OPENMP=0) every
 * kernel runs on the calling thread and these functions report 1. For a fixed thread
 * count, results are deterministic: work is split statically and partial sums are
 * reduced in a fixed order. */
#ifndef BB_THREADS_H
#define BB_THREADS_H

/* Use up to n >= 1 threads in every thread of the process (not only the caller);
 * returns the number now in effect (1 without OpenMP). */
int bb_set_num_threads(int n);

int bb_get_num_threads(void);

#endif /* BB_THREADS_H */
