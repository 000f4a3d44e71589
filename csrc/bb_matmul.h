/* bb_matmul.h: single-precision matrix multiply (row-major).
 *
 *   C = alpha * op(A) @ op(B) + beta * C
 *
 * op(A) is (m, k): with trans_a == 0, A is stored (m, k) with row stride lda >= k;
 * with trans_a != 0, A is stored (k, m) with row stride lda >= m. Likewise op(B) is
 * (k, n): stored (k, n) with ldb >= n, or (n, k) with ldb >= k when trans_b != 0.
 * C is (m, n) with ldc >= n. When beta == 0, C is not read (it may hold NaN).
 *
 * The kernel packs panels of A and B into the caller's scratch buffer (no malloc);
 * bb_sgemm_scratch_size() gives the bytes it needs: none for m < 4, where rows are
 * computed directly without packing. m, n or k may be 0. */
#ifndef BB_MATMUL_H
#define BB_MATMUL_H

#include <stddef.h>
#include "bb_status.h"

size_t bb_sgemm_scratch_size(int m, int n, int k);

bb_status bb_sgemm(int trans_a, int trans_b, int m, int n, int k,
                   float alpha, const float *a, int lda,
                   const float *b, int ldb,
                   float beta, float *c, int ldc,
                   void *scratch, size_t scratch_bytes);

/* The same product with op(A) packed once, for many products with one A (a
 * convolution's weights, reused for every image of a batch):
 *   bb_sgemm_pack_a writes op(A) (m x k; trans_a and lda as above) into `packed`, which
 *   holds bb_sgemm_packed_a_size(m, k) bytes;
 *   bb_sgemm_packed then computes C = alpha * op(A) @ op(B) + beta * C from it, with
 *   bb_sgemm_packed_scratch_size(m, n, k) bytes of scratch for B's packing (any m >= 1).
 * The results equal bb_sgemm's up to rounding (bb_sgemm skips packing for m < 4). */
size_t bb_sgemm_packed_a_size(int m, int k);
bb_status bb_sgemm_pack_a(int trans_a, int m, int k, const float *a, int lda, float *packed);
size_t bb_sgemm_packed_scratch_size(int m, int n, int k);
bb_status bb_sgemm_packed(const float *packed_a, int m, int n, int k, float alpha, int trans_b,
                          const float *b, int ldb, float beta, float *c, int ldc,
                          void *scratch, size_t scratch_bytes);

#endif /* BB_MATMUL_H */
