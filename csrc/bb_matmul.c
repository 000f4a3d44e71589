/* bb_matmul.c: packed, register-blocked SGEMM in portable C99.
 *
 * The classic Goto/BLIS structure: B is packed in KC x NC panels, A in MC x KC
 * blocks, both laid out so that the micro-kernel streams them contiguously. The
 * micro-kernel keeps an MR x NR tile of C in registers (6 x 16 floats: 12 of the 16
 * AVX2 registers as accumulators). Edges are zero-padded when packing, so the
 * micro-kernel's inner loop never branches. When all of A's rows fit in L2 for a K
 * block (the common m = 64 of a batch or a convolution's filters), A is packed whole
 * and B a few panels at a time instead (a_fits_l2); an A packed whole can also be made
 * once by the caller and reused (bb_sgemm_pack_a, for a convolution's weights). */
#include <stdint.h>
#include <string.h>
#include "bb_matmul.h"
#include "bb_threads.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define MR 6
#define NR 16
#define MC 120  /* multiple of MR; an A block (MC x KC, at most 180 KB) stays in L2 */
#define KC 384  /* at most; a B sliver (KC x NR, 24 KB) stays in L1 */
#define NC 2048 /* multiple of NR; a B panel (KC x NC) stays in L3 */
#define NB 64    /* B columns packed at a time when all of A fits in L2 (see a_fits_l2) */
#define L2_A_BYTES (128 * 1024) /* all of op(A)'s rows in one K block, when they fit here */
#define ALIGN 64
#define FEW_ROWS 4 /* fewer rows than this skip packing (see few_rows) */

/* GCC/Clang vector extensions for the micro-kernel: the accumulators stay in 12 vector
 * registers. Plain loops over a float array do not (measured: 2.5-5 GFLOPS plain vs 95
 * with them on one AVX2 core). Other compilers and targets get the plain C below. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__aarch64__)) && !defined(BB_PLAIN_C)
#define BB_VECTORS 1
typedef float bb_v8f __attribute__((vector_size(32), may_alias)); /* may_alias: it reads float arrays */
typedef float bb_v8f_unaligned __attribute__((vector_size(32), aligned(4), may_alias));
#define LANES 8
#endif

static int min_int(int a, int b) { return a < b ? a : b; }
static int round_up(int x, int to) { return (x + to - 1) / to * to; }

/* Threads that split C's columns: 1 without OpenMP, inside a parallel region (conv2d
 * already splits its images), or for a product under ~8M multiply-adds (~0.15 ms on one
 * core), where the fork/join costs more than it saves, and much more on a busy machine
 * (an MLP layer's 64x784x128 GEMM took 1.9 ms on two threads of a loaded machine, 0.5 ms
 * on one). Each thread gets at least one NR-wide panel. */
static int worker_count(int m, int n, int k)
{
#ifdef _OPENMP
    if (omp_in_parallel() || (double)m * n * k < 8.0e6)
        return 1;
    int t = bb_get_num_threads(), panels = (n + NR - 1) / NR;
    return t < panels ? t : panels;
#else
    (void)m, (void)n, (void)k;
    return 1;
#endif
}

/* The depth of one K block: k split into equal blocks of at most KC, so that k = 400
 * runs as 200 + 200 rather than 384 + 16 (a thin block pays the C write-back for little
 * work). */
static int k_block(int k)
{
    int blocks = (k + KC - 1) / KC;
    return (k + blocks - 1) / blocks;
}

/* Whether every row of op(A) fits in L2 for one K block (m = 64 rows of a batch or
 * of a convolution's filters, k up to a few hundred). Then A is packed once per K block
 * and B NB columns at a time, just before the micro-kernels read them from L1/L2: with
 * few rows to reuse it, a whole packed B panel's round trip through L3 costs more than
 * it saves (64x7744x288: 45 GFLOPS panel-packed, 50-58 this way, same run). */
static int a_fits_l2(int m, int kc)
{
    return (size_t)round_up(m, MR) * (size_t)kc * sizeof(float) <= L2_A_BYTES;
}

/* One worker's packing buffers, for columns of width at most n: B's panels, and room
 * to pack A unless the caller packed it (a_packed). */
static size_t worker_bytes(int m, int n, int k, int a_packed)
{
    size_t kc = (size_t)k_block(k);
    if (a_fits_l2(m, (int)kc))
        return ((a_packed ? 0 : (size_t)round_up(m, MR) * kc) + kc * NB) * sizeof(float) + 2 * ALIGN;
    size_t mc = (size_t)min_int(round_up(m, MR), MC);
    size_t nc = (size_t)min_int(round_up(n, NR), NC);
    return ((a_packed ? 0 : mc * kc) + kc * nc) * sizeof(float) + 2 * ALIGN;
}

size_t bb_sgemm_scratch_size(int m, int n, int k)
{
    if (m < FEW_ROWS || n <= 0 || k <= 0)
        return 0;
    return (size_t)worker_count(m, n, k) * worker_bytes(m, n, k, 0);
}

static float *align_up(void *p)
{
    uintptr_t u = (uintptr_t)p;
    return (float *)((u + ALIGN - 1) / ALIGN * ALIGN);
}

/* Packs rows [i0, i0+mc) x cols [p0, p0+kc) of op(A) into MR-row panels, p-major.
 * The loops follow A's storage order so that the reads are contiguous. */
static void pack_a(int trans, const float *a, int lda, int i0, int p0, int mc, int kc,
                   float *restrict dst)
{
    for (int ir = 0; ir < mc; ir += MR) {
        int rows = min_int(MR, mc - ir);
        if (trans) {
            for (int p = 0; p < kc; p++) {
                const float *src = a + (size_t)(p0 + p) * lda + i0 + ir;
                for (int i = 0; i < rows; i++)
                    dst[p * MR + i] = src[i];
            }
        } else {
            for (int i = 0; i < rows; i++) {
                const float *src = a + (size_t)(i0 + ir + i) * lda + p0;
                for (int p = 0; p < kc; p++)
                    dst[p * MR + i] = src[p];
            }
        }
        for (int i = rows; i < MR; i++)
            for (int p = 0; p < kc; p++)
                dst[p * MR + i] = 0.0f;
        dst += (size_t)MR * kc;
    }
}

/* dst[q * dst_stride + j] = src[j * src_stride + q] for an 8 x 8 block: packing a
 * transposed B, where each packed row gathers one float from 16 rows of B. */
#if defined(BB_VECTORS) && (defined(__clang__) || __GNUC__ >= 12)
/* In registers: 24 shuffles instead of 64 scalar loads and stores (the unpack / shuffle /
 * 128-bit-lane steps of the classic AVX 8 x 8 transpose, in portable shufflevector form). */
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
static void transpose8(const float *src, size_t src_stride, float *dst, size_t dst_stride)
{
    bb_v8f r[8], t[8], u[8];
    for (int j = 0; j < 8; j++)
        r[j] = *(const bb_v8f_unaligned *)(src + (size_t)j * src_stride);
    for (int j = 0; j < 8; j += 2) {
        t[j] = SHUF(r[j], r[j + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[j + 1] = SHUF(r[j], r[j + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int j = 0; j < 8; j += 4) {
        u[j] = SHUF(t[j], t[j + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[j + 1] = SHUF(t[j], t[j + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[j + 2] = SHUF(t[j + 1], t[j + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[j + 3] = SHUF(t[j + 1], t[j + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int q = 0; q < 4; q++) {
        *(bb_v8f_unaligned *)(dst + (size_t)q * dst_stride) = SHUF(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        *(bb_v8f_unaligned *)(dst + (size_t)(q + 4) * dst_stride) =
            SHUF(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}
#undef SHUF
#else
static void transpose8(const float *src, size_t src_stride, float *dst, size_t dst_stride)
{
    for (int j = 0; j < 8; j++)
        for (int q = 0; q < 8; q++)
            dst[(size_t)q * dst_stride + j] = src[(size_t)j * src_stride + q];
}
#endif

/* Packs rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into NR-column panels, p-major,
 * again reading B in its storage order. */
static void pack_b(int trans, const float *b, int ldb, int p0, int j0, int kc, int nc,
                   float *restrict dst)
{
    for (int jr = 0; jr < nc; jr += NR) {
        int cols = min_int(NR, nc - jr);
        if (trans) {
            int p_done = 0;
            if (cols == NR) { /* 8 x 8 blocks, then the rest of kc one by one */
                for (; p_done + 8 <= kc; p_done += 8)
                    for (int j = 0; j < NR; j += 8)
                        transpose8(b + (size_t)(j0 + jr + j) * ldb + p0 + p_done, (size_t)ldb,
                                   dst + (size_t)p_done * NR + j, NR);
            }
            for (int j = 0; j < cols; j++) {
                const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
                for (int p = p_done; p < kc; p++)
                    dst[p * NR + j] = src[p];
            }
        } else {
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + jr;
                for (int j = 0; j < cols; j++)
                    dst[p * NR + j] = src[j];
            }
        }
        for (int j = cols; j < NR; j++)
            for (int p = 0; p < kc; p++)
                dst[p * NR + j] = 0.0f;
        dst += (size_t)NR * kc;
    }
}

/* C[0:rows, 0:cols] = alpha * tile + beta * C: the edge tiles' (and the plain build's)
 * write-back. When beta == 0, C is not read. */
static void store_tile(float tile[MR][NR], float alpha, float beta, float *restrict c,
                       int ldc, int rows, int cols)
{
    for (int i = 0; i < rows; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < cols; j++)
                ci[j] = alpha * tile[i][j];
        } else {
            for (int j = 0; j < cols; j++)
                ci[j] = alpha * tile[i][j] + beta * ci[j];
        }
    }
}

/* C[0:rows, 0:cols] = alpha * (Ap @ Bp) + beta * C for one MR x NR tile, over kc packed
 * steps. */
#ifdef BB_VECTORS

/* Fused multiply-adds in the micro-kernel: gcc -std=c99 keeps a * b + c as a multiply
 * and an add (no contraction), twice the instructions. Measured 1.03-1.3x faster with
 * FMA on this AVX2 core, same run. Only here: elsewhere (the optimizers, the softmax)
 * gcc keeps the rounding of each step as written. gcc's optimize attribute is the one
 * way to set this per function (gcc >= 4.6 knows fp-contract); clang takes a pragma. */
#if defined(__clang__)
#define FMA_CONTRACT
#define FMA_BODY _Pragma("clang fp contract(fast)")
#else
#define FMA_CONTRACT __attribute__((optimize("fp-contract=fast")))
#define FMA_BODY
#endif

/* The tile of the first R rows (R = 6, 4 or 2, a constant once inlined): a panel's last
 * rows (m = 64 leaves 4, m = 8 leaves 2) cost R rows of multiply-adds, not MR. */
FMA_CONTRACT
static inline __attribute__((always_inline)) void tile_rows(const int R, int kc,
                                                            const float *restrict ap,
                                                            const float *restrict bp, float alpha,
                                                            float beta, float *restrict c,
                                                            int ldc, int rows, int cols)
{
    FMA_BODY
    bb_v8f acc[MR][NR / LANES];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NR / LANES; v++)
            acc[i][v] = (bb_v8f){0};
    for (int p = 0; p < kc; p++) {
        /* Direct vector loads: a memcpy into this array made gcc -fopenmp bounce each B
         * row through the stack (two 16-byte stores, one 32-byte load: a store-forwarding
         * stall), 13 instead of 69 GFLOPS at n = 512. Packed panels are 64-byte aligned
         * and NR = 16 floats wide, so every load is aligned. */
        bb_v8f b[NR / LANES];
        for (int v = 0; v < NR / LANES; v++)
            b[v] = *(const bb_v8f *)(bp + v * LANES);
        for (int i = 0; i < R; i++)
            for (int v = 0; v < NR / LANES; v++)
                acc[i][v] += ap[i] * b[v];
        ap += MR; /* A stays packed MR rows wide */
        bp += NR;
    }
    if (rows == R && cols == NR) {
        /* A full tile goes straight from the registers to C: a round trip through a
         * stack array and scalar stores cost as much as ~40 steps of the loop above,
         * which matters when kc is small (a convolution's dx product has kc = 64). */
        for (int i = 0; i < R; i++) {
            for (int v = 0; v < NR / LANES; v++) {
                bb_v8f_unaligned *cv = (bb_v8f_unaligned *)(c + (size_t)i * ldc + v * LANES);
                *cv = beta == 0.0f ? alpha * acc[i][v] : alpha * acc[i][v] + beta * *cv;
            }
        }
        return;
    }
    /* Edge tiles: through a stack array. Element by element, not memcpy: taking acc's
     * address made gcc keep it in memory on the fast path too (kc = 64 products 12 %
     * slower). */
    float tile[MR][NR];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < NR / LANES; v++)
            for (int l = 0; l < LANES; l++)
                tile[i][v * LANES + l] = acc[i][v][l];
    store_tile(tile, alpha, beta, c, ldc, rows, cols);
}

FMA_CONTRACT
static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp,
                         float alpha, float beta, float *restrict c, int ldc, int rows, int cols)
{
    if (rows > 4)
        tile_rows(MR, kc, ap, bp, alpha, beta, c, ldc, rows, cols);
    else if (rows > 2)
        tile_rows(4, kc, ap, bp, alpha, beta, c, ldc, rows, cols);
    else
        tile_rows(2, kc, ap, bp, alpha, beta, c, ldc, rows, cols);
}
#else
static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp,
                         float alpha, float beta, float *restrict c, int ldc, int rows, int cols)
{
    float tile[MR][NR] = {{0.0f}};
    for (int p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            float ai = ap[i];
            for (int j = 0; j < NR; j++)
                tile[i][j] += ai * bp[j];
        }
        ap += MR;
        bp += NR;
    }
    store_tile(tile, alpha, beta, c, ldc, rows, cols);
}
#endif

static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++)
            ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
    }
}

/* C = alpha * op(A) @ op(B) + beta * C for a few rows (batch-1 inference, a small
 * batch's dense layer): packing all of B would cost more than the product itself
 * (measured 32 us per 1x784x128 call packed, against ~4 us here). Each row is either
 * dot products with B's rows (trans_b: both contiguous) or a sum of B's rows scaled by
 * A's entries (an axpy per k, contiguous in n). */
/* x . y over k values, x with stride x_step. Eight partial sums let the compiler keep
 * them in one vector register (a single running sum is a serial dependency chain). */
static float dot(int k, const float *x, size_t x_step, const float *y)
{
    float part[8] = {0.0f};
    int p = 0;
    if (x_step == 1) {
        for (; p + 8 <= k; p += 8)
            for (int q = 0; q < 8; q++)
                part[q] += x[p + q] * y[p + q];
    }
    float sum = 0.0f;
    for (; p < k; p++)
        sum += x[p * x_step] * y[p];
    for (int q = 0; q < 8; q++)
        sum += part[q];
    return sum;
}

static void few_rows(int trans_a, int trans_b, int m, int n, int k, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta,
                     float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        float *restrict ci = c + (size_t)i * ldc;
        const size_t a_step = trans_a ? (size_t)lda : 1; /* op(A)[i][p] = a[i*lda + p*a_step] */
        const float *ai = trans_a ? a + i : a + (size_t)i * lda;
        if (trans_b) {
            for (int j = 0; j < n; j++) {
                const float *bj = b + (size_t)j * ldb;
                ci[j] = alpha * dot(k, ai, a_step, bj) + (beta == 0.0f ? 0.0f : beta * ci[j]);
            }
        } else {
            for (int j = 0; j < n; j++)
                ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
            for (int p = 0; p < k; p++) {
                const float scale = alpha * ai[p * a_step];
                const float *restrict bp = b + (size_t)p * ldb;
                for (int j = 0; j < n; j++)
                    ci[j] += scale * bp[j];
            }
        }
    }
}

/* op(A) as the micro-kernels read it: packed on the fly from a (lda, trans), or taken
 * from a whole packing made once by bb_sgemm_pack_a (packed != NULL). */
typedef struct a_operand {
    int trans;
    const float *a;
    int lda;
    const float *packed;
} a_operand;

/* The packed panels of rows [ic, ic+mc) x K block [pc, pc+kc): from the whole packing,
 * where K block pc starts round_up(m, MR) * pc floats in and row ic at ic * kc within it,
 * or packed now into buffer. */
static const float *a_block(const a_operand *A, int m, int ic, int pc, int mc, int kc, float *buffer)
{
    if (A->packed != NULL)
        return A->packed + (size_t)round_up(m, MR) * pc + (size_t)ic * kc;
    pack_a(A->trans, A->a, A->lda, ic, pc, mc, kc, buffer);
    return buffer;
}

/* Columns [j0, j1) of C, packing into `scratch` (worker_bytes of it). */
static void gemm_columns(const a_operand *A, int trans_b, int m, int k, int j0, int j1, float alpha,
                         const float *b, int ldb, float beta, float *c, int ldc, void *scratch)
{
    int kc_max = k_block(k);
    if (a_fits_l2(m, kc_max)) {
        float *buffer_a = align_up(scratch); /* unused, and not reserved, when A is packed */
        float *packed_b = A->packed ? buffer_a : align_up(buffer_a + (size_t)round_up(m, MR) * kc_max);
        for (int pc = 0; pc < k; pc += kc_max) {
            int kc = min_int(kc_max, k - pc);
            float beta_block = pc == 0 ? beta : 1.0f; /* later K blocks accumulate */
            const float *packed_a = a_block(A, m, 0, pc, m, kc, buffer_a);
            for (int jc = j0; jc < j1; jc += NB) {
                int nc = min_int(NB, j1 - jc);
                pack_b(trans_b, b, ldb, pc, jc, kc, nc, packed_b);
                for (int jr = 0; jr < nc; jr += NR)
                    for (int ir = 0; ir < m; ir += MR)
                        micro_kernel(kc, packed_a + (size_t)ir * kc, packed_b + (size_t)jr * kc,
                                     alpha, beta_block, c + (size_t)ir * ldc + jc + jr, ldc,
                                     min_int(MR, m - ir), min_int(NR, nc - jr));
            }
        }
        return;
    }

    int mc_max = min_int(round_up(m, MR), MC);
    float *buffer_a = align_up(scratch);
    float *packed_b = A->packed ? buffer_a : align_up(buffer_a + (size_t)mc_max * kc_max);
    for (int jc = j0; jc < j1; jc += NC) {
        int nc = min_int(NC, j1 - jc);
        for (int pc = 0; pc < k; pc += kc_max) {
            int kc = min_int(kc_max, k - pc);
            float beta_block = pc == 0 ? beta : 1.0f; /* later K blocks accumulate */
            pack_b(trans_b, b, ldb, pc, jc, kc, nc, packed_b);
            for (int ic = 0; ic < m; ic += MC) {
                int mc = min_int(MC, m - ic);
                const float *packed_a = a_block(A, m, ic, pc, mc, kc, buffer_a);
                for (int jr = 0; jr < nc; jr += NR) {
                    for (int ir = 0; ir < mc; ir += MR) {
                        micro_kernel(kc, packed_a + (size_t)ir * kc, packed_b + (size_t)jr * kc,
                                     alpha, beta_block,
                                     c + (size_t)(ic + ir) * ldc + jc + jr, ldc,
                                     min_int(MR, mc - ir), min_int(NR, nc - jr));
                    }
                }
            }
        }
    }
}

/* Splits C's columns across the workers: disjoint column ranges (whole NR panels) with
 * their own packing buffers, so no synchronisation inside, and every column is computed
 * by the same serial code: the result does not depend on the thread count. */
static void gemm_parallel(const a_operand *A, int trans_b, int m, int n, int k, float alpha,
                          const float *b, int ldb, float beta, float *c, int ldc, void *scratch,
                          int workers, size_t per_worker)
{
#ifdef _OPENMP
#pragma omp parallel num_threads(workers) if (workers > 1)
#endif
    {
#ifdef _OPENMP
        const int t = omp_get_thread_num();
#else
        const int t = 0;
#endif
        const int panels = (n + NR - 1) / NR;
        const int first = min_int(n, panels * t / workers * NR);
        const int last = min_int(n, panels * (t + 1) / workers * NR);
        if (first < last)
            gemm_columns(A, trans_b, m, k, first, last, alpha, b, ldb, beta, c, ldc,
                         (char *)scratch + (size_t)t * per_worker);
    }
}

/* The checks and the dispatch both entry points share. A packed by the caller
 * (prepacked) has no leading dimension to check and always takes the packed path. */
static bb_status gemm(const a_operand *A, int prepacked, int trans_b, int m, int n, int k,
                      float alpha, const float *b, int ldb, float beta, float *c, int ldc,
                      void *scratch, size_t scratch_bytes)
{
    if (m < 0 || n < 0 || k < 0)
        return BB_ERR_SHAPE;
    if (m == 0 || n == 0)
        return BB_OK;
    if (c == NULL || (k > 0 && ((prepacked ? A->packed : A->a) == NULL || b == NULL)))
        return BB_ERR_NULL;
    if (ldc < n || ldb < (trans_b ? k : n) || ldb < 1 ||
        (!prepacked && (A->lda < (A->trans ? m : k) || A->lda < 1)))
        return BB_ERR_SHAPE;
    if (k == 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return BB_OK;
    }
    if (!prepacked && m < FEW_ROWS) {
        few_rows(A->trans, trans_b, m, n, k, alpha, A->a, A->lda, b, ldb, beta, c, ldc);
        return BB_OK;
    }
    const int workers = worker_count(m, n, k);
    const size_t per_worker = worker_bytes(m, n, k, prepacked);
    if (scratch == NULL || scratch_bytes < (size_t)workers * per_worker)
        return BB_ERR_SCRATCH;
    gemm_parallel(A, trans_b, m, n, k, alpha, b, ldb, beta, c, ldc, scratch, workers, per_worker);
    return BB_OK;
}

bb_status bb_sgemm(int trans_a, int trans_b, int m, int n, int k,
                   float alpha, const float *a, int lda,
                   const float *b, int ldb,
                   float beta, float *c, int ldc,
                   void *scratch, size_t scratch_bytes)
{
    const a_operand A = {trans_a, a, lda, NULL};
    return gemm(&A, 0, trans_b, m, n, k, alpha, b, ldb, beta, c, ldc, scratch, scratch_bytes);
}

size_t bb_sgemm_packed_a_size(int m, int k)
{
    if (m <= 0 || k <= 0)
        return 0;
    return (size_t)round_up(m, MR) * (size_t)k * sizeof(float);
}

bb_status bb_sgemm_pack_a(int trans_a, int m, int k, const float *a, int lda, float *packed)
{
    if (m <= 0 || k <= 0)
        return m < 0 || k < 0 ? BB_ERR_SHAPE : BB_OK;
    if (a == NULL || packed == NULL)
        return BB_ERR_NULL;
    if (lda < (trans_a ? m : k))
        return BB_ERR_SHAPE;
    /* K block by K block, each all of A's rows: the layout a_block reads. */
    const int kc_max = k_block(k);
    for (int pc = 0; pc < k; pc += kc_max) {
        const int kc = min_int(kc_max, k - pc);
        pack_a(trans_a, a, lda, 0, pc, m, kc, packed + (size_t)round_up(m, MR) * pc);
    }
    return BB_OK;
}

size_t bb_sgemm_packed_scratch_size(int m, int n, int k)
{
    if (m <= 0 || n <= 0 || k <= 0)
        return 0;
    return (size_t)worker_count(m, n, k) * worker_bytes(m, n, k, 1);
}

bb_status bb_sgemm_packed(const float *packed_a, int m, int n, int k, float alpha, int trans_b,
                          const float *b, int ldb, float beta, float *c, int ldc,
                          void *scratch, size_t scratch_bytes)
{
    const a_operand A = {0, NULL, 0, packed_a};
    return gemm(&A, 1, trans_b, m, n, k, alpha, b, ldb, beta, c, ldc, scratch, scratch_bytes);
}
