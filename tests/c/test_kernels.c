/* test_kernels.c: checks every braininabox C kernel against naive reference loops.
 *
 * The references are written the obvious way, in double, directly from the
 * definitions (no im2col, no packing), so they share no code with the kernels.
 * Every error status path is exercised too. Build and run with tests/c/run.sh. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "braininabox.h"

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list args;
    va_start(args, fmt);
    printf("FAIL: ");
    vprintf(fmt, args);
    printf("\n");
    va_end(args);
}

static void check_status(bb_status got, bb_status want, const char *name)
{
    check(got == want, "%s: status %d (%s), expected %d", name, (int)got,
          bb_status_message(got), (int)want);
}

/* ---- helpers ------------------------------------------------------------ */

static uint32_t rng = 12345u;

static float frand(void) /* uniform in [-1, 1) */
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

static float *rand_floats(size_t n)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = frand();
    return p;
}

static float *filled(size_t n, float value)
{
    float *p = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = value;
    return p;
}

static double *zeros_d(size_t n)
{
    double *p = xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        p[i] = 0.0;
    return p;
}

/* One check per array: |got - ref| <= atol + rtol * |ref| everywhere (NaN fails). */
static void check_close(const char *name, const float *got, const double *ref, size_t n,
                        double atol, double rtol)
{
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]);
        if (!(err <= atol + rtol * fabs(ref[i]))) {
            check(0, "%s: index %lu got %.9g expected %.9g", name, (unsigned long)i,
                  (double)got[i], ref[i]);
            return;
        }
    }
    check(1, "%s", name);
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return 0;
    }
    return 1;
}

/* ---- status messages ---------------------------------------------------- */

static void test_status(void)
{
    const bb_status all[] = {BB_OK, BB_ERR_NULL, BB_ERR_SHAPE, BB_ERR_ARGUMENT,
                             BB_ERR_SCRATCH, BB_ERR_LABEL, BB_ERR_VERSION};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        check(bb_status_message(all[i]) != NULL && bb_status_message(all[i])[0] != '\0',
              "bb_status_message(%d)", (int)all[i]);
}

/* ---- sgemm -------------------------------------------------------------- */

/* prepacked: A through bb_sgemm_pack_a + bb_sgemm_packed instead of bb_sgemm. */
static void test_sgemm_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad,
                            int prepacked)
{
    char name[160];
    snprintf(name, sizeof name, "sgemm%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d",
             prepacked ? " prepacked" : "", ta, tb, m, n, k, (double)alpha, (double)beta, pad);
    const int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    const size_t a_rows = (size_t)(ta ? k : m), b_rows = (size_t)(tb ? n : k);
    float *a = rand_floats(a_rows * (size_t)lda);
    float *b = rand_floats(b_rows * (size_t)ldb);
    float *c = rand_floats((size_t)m * (size_t)ldc);
    double *ref = zeros_d((size_t)m * (size_t)n);

    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double acc = 0.0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc += av * bv;
            }
            ref[(size_t)i * n + j] = alpha * acc + (beta != 0.0f ? beta * c[(size_t)i * ldc + j] : 0.0);
        }
    }
    /* beta == 0 must not read C: poison it. Padding columns of C must stay untouched. */
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            if (j >= n)
                c[(size_t)i * ldc + j] = 777.0f;
            else if (beta == 0.0f)
                c[(size_t)i * ldc + j] = NAN;
        }
    }
    if (prepacked) {
        size_t a_bytes = bb_sgemm_packed_a_size(m, k), bytes = bb_sgemm_packed_scratch_size(m, n, k);
        float *packed_a = xmalloc(a_bytes);
        unsigned char *scratch = xmalloc(bytes);
        check_status(bb_sgemm_pack_a(ta, m, k, a, lda, packed_a), BB_OK, name);
        check_status(bb_sgemm_packed(packed_a, m, n, k, alpha, tb, b, ldb, beta, c, ldc, scratch,
                                     bytes), BB_OK, name);
        check_status(bb_sgemm_packed(packed_a, m, n, k, alpha, tb, b, ldb, beta, c, ldc, scratch,
                                     bytes - 1), BB_ERR_SCRATCH, name);
        free(packed_a), free(scratch);
    } else {
        size_t bytes = bb_sgemm_scratch_size(m, n, k);
        unsigned char *scratch = xmalloc(bytes);
        check_status(bb_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, scratch, bytes),
                     BB_OK, name);
        free(scratch);
    }

    float *packed = xmalloc((size_t)m * (size_t)n * sizeof(float));
    int pad_ok = 1;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
            if (j < n)
                packed[(size_t)i * n + j] = c[(size_t)i * ldc + j];
            else if (c[(size_t)i * ldc + j] != 777.0f)
                pad_ok = 0;
        }
    }
    check_close(name, packed, ref, (size_t)m * (size_t)n, 1e-5 * (1.0 + k), 1e-5);
    check(pad_ok, "%s: C padding columns modified", name);
    free(a), free(b), free(c), free(ref), free(packed);
}

static void test_sgemm(void)
{
    static const int sizes[][3] = {
        {7, 33, 300}, {1, 1, 1}, {13, 17, 5}, {6, 16, 256}, {6, 16, 257},
        {125, 37, 520},  /* A over L2_A_BYTES: crosses the MC and KC blocking */
        {250, 2065, 140}, /* A over L2_A_BYTES: crosses the MC and NC blocking */
        {20, 40, 800},   /* A packed whole, three K blocks */
        {5, 2050, 3},    /* A packed whole, B in NB-column chunks */
        {33, 7, 1},
    };
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 2.0f}, {-1.5f, 1.0f}};
    int variant = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int ta = 0; ta < 2; ta++) {
            for (int tb = 0; tb < 2; tb++) {
                const float *v = ab[variant % 3];
                for (int prepacked = 0; prepacked < 2; prepacked++)
                    test_sgemm_case(ta, tb, sizes[s][0], sizes[s][1], sizes[s][2], v[0], v[1],
                                    (variant % 2) ? 3 : 0, prepacked);
                variant++;
            }
        }
    }

    /* alpha == 0 and k == 0 only scale C (no scratch needed); m == 0 is a no-op. */
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 2, 3, 4, 5, 6};
    float c[4] = {1, 2, 3, 4};
    check_status(bb_sgemm(0, 0, 2, 2, 3, 0.0f, a, 3, b, 2, 0.5f, c, 2, NULL, 0), BB_OK,
                 "sgemm alpha=0");
    check(c[0] == 0.5f && c[3] == 2.0f, "sgemm alpha=0 scales C by beta");
    check_status(bb_sgemm(0, 0, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.0f, c, 2, NULL, 0), BB_OK,
                 "sgemm k=0");
    check(c[0] == 0.0f && c[1] == 0.0f && c[2] == 0.0f && c[3] == 0.0f, "sgemm k=0 beta=0 zeroes C");
    check_status(bb_sgemm(0, 0, 0, 2, 3, 1.0f, NULL, 3, NULL, 2, 0.0f, NULL, 2, NULL, 0), BB_OK,
                 "sgemm m=0");

    /* Error paths. */
    unsigned char scratch[4096];
    size_t need = bb_sgemm_scratch_size(2, 2, 3);
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, NULL, 3, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_NULL, "sgemm a NULL");
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, NULL, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_NULL, "sgemm b NULL");
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, NULL, 2, scratch, need),
                 BB_ERR_NULL, "sgemm c NULL");
    check_status(bb_sgemm(0, 0, -1, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_SHAPE, "sgemm m<0");
    check_status(bb_sgemm(0, 0, 2, 2, -3, 1.0f, a, 3, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_SHAPE, "sgemm k<0");
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, a, 2, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_SHAPE, "sgemm lda too small");
    check_status(bb_sgemm(1, 0, 2, 2, 3, 1.0f, a, 1, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_SHAPE, "sgemm trans lda too small");
    check_status(bb_sgemm(0, 1, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2, scratch, need),
                 BB_ERR_SHAPE, "sgemm trans ldb too small");
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 1, scratch, need),
                 BB_ERR_SHAPE, "sgemm ldc too small");
    /* Fewer than 4 rows need no scratch (no packing); 4 or more do. */
    check(bb_sgemm_scratch_size(3, 2, 3) == 0, "sgemm 3 rows need no scratch");
    check_status(bb_sgemm(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2, NULL, 0), BB_OK,
                 "sgemm 2 rows without scratch");
    float a4[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, c4[8];
    size_t need4 = bb_sgemm_scratch_size(4, 2, 3);
    check(need4 > 0 && need4 <= sizeof scratch, "sgemm 4 rows scratch size sane");
    check_status(bb_sgemm(0, 0, 4, 2, 3, 1.0f, a4, 3, b, 2, 0.0f, c4, 2, NULL, need4),
                 BB_ERR_SCRATCH, "sgemm scratch NULL");
    check_status(bb_sgemm(0, 0, 4, 2, 3, 1.0f, a4, 3, b, 2, 0.0f, c4, 2, scratch, need4 - 1),
                 BB_ERR_SCRATCH, "sgemm scratch too small");
    float packed[64];
    check_status(bb_sgemm_pack_a(0, 2, 3, NULL, 3, packed), BB_ERR_NULL, "pack_a a NULL");
    check_status(bb_sgemm_pack_a(0, 2, 3, a, 2, packed), BB_ERR_SHAPE, "pack_a lda too small");
    check_status(bb_sgemm_pack_a(1, 2, 3, a, 1, packed), BB_ERR_SHAPE, "pack_a trans lda too small");
    check_status(bb_sgemm_packed(NULL, 2, 2, 3, 1.0f, 0, b, 2, 0.0f, c, 2, scratch, sizeof scratch),
                 BB_ERR_NULL, "sgemm_packed A NULL");
    check_status(bb_sgemm_packed(packed, 2, 2, 3, 1.0f, 0, b, 1, 0.0f, c, 2, scratch, sizeof scratch),
                 BB_ERR_SHAPE, "sgemm_packed ldb too small");
}

/* ---- linear ------------------------------------------------------------- */
static void test_linear_case(int m, int n, int k, int with_bias, int relu)
{
    char name[96];
    snprintf(name, sizeof name, "linear m=%d n=%d k=%d bias=%d relu=%d", m, n, k, with_bias, relu);
    float *x = rand_floats((size_t)m * k), *w = rand_floats((size_t)n * k), *b = rand_floats(n);
    float *y = filled((size_t)m * n, NAN);
    double *ref = zeros_d((size_t)m * n);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = with_bias ? b[j] : 0.0;
            for (int p = 0; p < k; p++)
                s += (double)x[(size_t)i * k + p] * w[(size_t)j * k + p];
            ref[(size_t)i * n + j] = relu && s < 0.0 ? 0.0 : s;
        }
    }
    size_t bytes = bb_linear_f32_scratch_size(m, n, k);
    void *scratch = xmalloc(bytes + 1);
    check_status(bb_linear_f32(m, n, k, x, w, with_bias ? b : NULL, relu, y, scratch, bytes), BB_OK,
                 name);
    check_close(name, y, ref, (size_t)m * n, 1e-5 * (1.0 + k), 1e-5);
    free(x), free(w), free(b), free(y), free(ref), free(scratch);
}

static void test_linear(void)
{
    test_linear_case(1, 10, 784, 1, 0); /* batch 1: the unpacked few-rows path */
    test_linear_case(3, 17, 5, 0, 1);
    test_linear_case(64, 33, 130, 1, 1); /* packed path, an edge panel */
    test_linear_case(7, 5, 400, 1, 1);   /* two K blocks */

    float x[3] = {1, -2, 3}, w[6] = {1, 1, 1, -1, -1, -1}, b[2] = {0.5f, NAN}, y[2];
    check_status(bb_linear_f32(1, 2, 3, x, w, b, 1, y, NULL, 0), BB_OK, "linear relu NaN");
    check(y[0] == 2.5f && isnan(y[1]), "linear relu keeps NaN (got %g %g)", y[0], y[1]);
    check_status(bb_linear_f32(1, 2, 0, NULL, NULL, b, 0, y, NULL, 0), BB_OK, "linear k=0");
    check(y[0] == 0.5f, "linear k=0 gives the bias");
    check_status(bb_linear_f32(1, 2, 3, NULL, w, b, 0, y, NULL, 0), BB_ERR_NULL, "linear x NULL");
    check_status(bb_linear_f32(1, 2, 3, x, w, b, 0, NULL, NULL, 0), BB_ERR_NULL, "linear y NULL");
    check_status(bb_linear_f32(-1, 2, 3, x, w, b, 0, y, NULL, 0), BB_ERR_SHAPE, "linear m<0");
    float x4[12] = {0}, y4[8];
    y4[0] = 42.0f;
    check_status(bb_linear_f32(4, 2, 3, x4, w, b, 0, y4, NULL, 0), BB_ERR_SCRATCH,
                 "linear 4 rows without scratch");
    check(y4[0] == 42.0f, "linear leaves y alone on a scratch error");
}

/* ---- conv2d ------------------------------------------------------------- */

#define X4(t, n, c, h, w, C, H, W) (t)[(((size_t)(n) * (C) + (c)) * (H) + (h)) * (W) + (w)]

static void conv_ref(const bb_conv2d_params *p, int oh, int ow, const float *x, const float *w,
                     const float *bias, const float *dy, double *y, double *dx, double *dw,
                     double *db)
{
    const int C = p->in_channels, H = p->in_height, W = p->in_width, OC = p->out_channels;
    const int KH = p->kernel_height, KW = p->kernel_width;
    for (int n = 0; n < p->batch; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double acc = bias ? bias[oc] : 0.0;
                    double g = X4(dy, n, oc, oy, ox, OC, oh, ow);
                    db[oc] += g;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < KH; i++)
                            for (int j = 0; j < KW; j++) {
                                int iy = oy * p->stride_height - p->pad_height + i;
                                int ix = ox * p->stride_width - p->pad_width + j;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                    continue;
                                double xv = X4(x, n, c, iy, ix, C, H, W);
                                double wv = X4(w, oc, c, i, j, C, KH, KW);
                                acc += xv * wv;
                                X4(dx, n, c, iy, ix, C, H, W) += wv * g;
                                X4(dw, oc, c, i, j, C, KH, KW) += xv * g;
                            }
                    X4(y, n, oc, oy, ox, OC, oh, ow) = acc;
                }
}

static void test_conv_case(const char *label, bb_conv2d_params p)
{
    char name[160];
    int oh = -1, ow = -1;
    snprintf(name, sizeof name, "conv %s output_hw", label);
    check_status(bb_conv2d_output_hw(&p, &oh, &ow), BB_OK, name);
    if (oh <= 0 || ow <= 0)
        return;
    const size_t xn = (size_t)p.batch * p.in_channels * p.in_height * p.in_width;
    const size_t wn = (size_t)p.out_channels * p.in_channels * p.kernel_height * p.kernel_width;
    const size_t yn = (size_t)p.batch * p.out_channels * oh * ow;
    const size_t bn = (size_t)p.out_channels;
    float *x = rand_floats(xn), *w = rand_floats(wn), *bias = rand_floats(bn), *dy = rand_floats(yn);
    double *ry = zeros_d(yn), *rdx = zeros_d(xn), *rdw = zeros_d(wn), *rdb = zeros_d(bn);
    double *ry_nobias = zeros_d(yn), *tmp_x = zeros_d(xn), *tmp_w = zeros_d(wn), *tmp_b = zeros_d(bn);
    conv_ref(&p, oh, ow, x, w, bias, dy, ry, rdx, rdw, rdb);
    conv_ref(&p, oh, ow, x, w, NULL, dy, ry_nobias, tmp_x, tmp_w, tmp_b);

    const int k = p.in_channels * p.kernel_height * p.kernel_width;
    const double tol_y = 1e-5 * (1.0 + k);
    const double tol_dw = 1e-5 * (1.0 + (double)p.batch * oh * ow);
    const double tol_dx = 1e-5 * (1.0 + p.out_channels * p.kernel_height * p.kernel_width);

    /* Forward, with scratch deliberately misaligned: the size includes alignment slack. */
    size_t fbytes = bb_conv2d_f32_scratch_size(&p);
    unsigned char *fbuf = xmalloc(fbytes + 1);
    float *y = filled(yn, NAN);
    snprintf(name, sizeof name, "conv %s forward", label);
    check_status(bb_conv2d_f32(&p, x, w, bias, y, fbuf + 1, fbytes), BB_OK, name);
    check_close(name, y, ry, yn, tol_y, 1e-5);
    snprintf(name, sizeof name, "conv %s forward no bias", label);
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, fbuf + 1, fbytes), BB_OK, name);
    check_close(name, y, ry_nobias, yn, tol_y, 1e-5);
    snprintf(name, sizeof name, "conv %s forward scratch too small", label);
    check_status(bb_conv2d_f32(&p, x, w, bias, y, fbuf + 1, fbytes - 1), BB_ERR_SCRATCH, name);

    /* Backward: outputs are poisoned to prove they are overwritten, not accumulated. */
    size_t bbytes = bb_conv2d_backward_f32_scratch_size(&p);
    unsigned char *bbuf = xmalloc(bbytes + 3);
    float *dx = filled(xn, NAN), *dw = filled(wn, NAN), *db = filled(bn, NAN);
    snprintf(name, sizeof name, "conv %s backward", label);
    check_status(bb_conv2d_backward_f32(&p, x, w, dy, dx, dw, db, bbuf + 3, bbytes), BB_OK, name);
    snprintf(name, sizeof name, "conv %s backward dx", label);
    check_close(name, dx, rdx, xn, tol_dx, 1e-5);
    snprintf(name, sizeof name, "conv %s backward dw", label);
    check_close(name, dw, rdw, wn, tol_dw, 1e-5);
    snprintf(name, sizeof name, "conv %s backward db", label);
    check_close(name, db, rdb, bn, tol_dw, 1e-6);

    /* Each gradient alone; inputs that are not needed may be NULL. */
    float *dx2 = filled(xn, NAN), *dw2 = filled(wn, NAN), *db2 = filled(bn, NAN);
    snprintf(name, sizeof name, "conv %s backward dx only", label);
    check_status(bb_conv2d_backward_f32(&p, NULL, w, dy, dx2, NULL, NULL, bbuf, bbytes), BB_OK, name);
    check_close(name, dx2, rdx, xn, tol_dx, 1e-5);
    snprintf(name, sizeof name, "conv %s backward dw only", label);
    check_status(bb_conv2d_backward_f32(&p, x, NULL, dy, NULL, dw2, NULL, bbuf, bbytes), BB_OK, name);
    check_close(name, dw2, rdw, wn, tol_dw, 1e-5);
    snprintf(name, sizeof name, "conv %s backward db only (no scratch)", label);
    check_status(bb_conv2d_backward_f32(&p, NULL, NULL, dy, NULL, NULL, db2, NULL, 0), BB_OK, name);
    check_close(name, db2, rdb, bn, tol_dw, 1e-6);
    snprintf(name, sizeof name, "conv %s backward scratch too small", label);
    check_status(bb_conv2d_backward_f32(&p, x, w, dy, dx, dw, db, bbuf, bbytes - 1), BB_ERR_SCRATCH,
                 name);
    snprintf(name, sizeof name, "conv %s backward scratch NULL", label);
    check_status(bb_conv2d_backward_f32(&p, x, w, dy, dx, dw, NULL, NULL, bbytes), BB_ERR_SCRATCH,
                 name);

    free(x), free(w), free(bias), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
    free(ry_nobias), free(tmp_x), free(tmp_w), free(tmp_b), free(fbuf), free(y), free(bbuf);
    free(dx), free(dw), free(db), free(dx2), free(dw2), free(db2);
}

static bb_conv2d_params conv_params(int n, int c, int h, int w, int oc, int kh, int kw, int sh,
                                    int sw, int ph, int pw)
{
    bb_conv2d_params p;
    p.batch = n, p.in_channels = c, p.in_height = h, p.in_width = w, p.out_channels = oc;
    p.kernel_height = kh, p.kernel_width = kw, p.stride_height = sh, p.stride_width = sw;
    p.pad_height = ph, p.pad_width = pw;
    p.extra_pad_bottom = 0, p.extra_pad_right = 0;
    return p;
}

/* TensorFlow's "same" with an odd total padding: one more row / column at the bottom / right. */
static bb_conv2d_params conv_params_extra(bb_conv2d_params p, int extra_bottom, int extra_right)
{
    p.extra_pad_bottom = extra_bottom, p.extra_pad_right = extra_right;
    return p;
}

static void test_conv(void)
{
    test_conv_case("3x3 s1 p1 c3", conv_params(2, 3, 7, 7, 4, 3, 3, 1, 1, 1, 1));
    test_conv_case("3x3 s2 p0 c1", conv_params(1, 1, 8, 9, 2, 3, 3, 2, 2, 0, 0));
    test_conv_case("2x4 s(2,1) p(2,1)", conv_params(2, 3, 10, 7, 5, 2, 4, 2, 1, 2, 1));
    test_conv_case("1x1 direct", conv_params(3, 3, 5, 6, 4, 1, 1, 1, 1, 0, 0));
    test_conv_case("1x1 s2", conv_params(1, 2, 5, 5, 3, 1, 1, 2, 2, 0, 0));
    test_conv_case("1x1 p1", conv_params(2, 1, 4, 3, 2, 1, 1, 1, 1, 1, 1));
    test_conv_case("5x5 s1 p2 c1", conv_params(2, 1, 12, 12, 8, 5, 5, 1, 1, 2, 2));
    test_conv_case("kernel > input", conv_params(1, 2, 2, 3, 3, 5, 5, 1, 1, 2, 2));
    test_conv_case("3x3 s3 p2", conv_params(2, 3, 9, 8, 2, 3, 3, 3, 3, 2, 2));
    test_conv_case("K=288", conv_params(2, 32, 6, 6, 7, 3, 3, 1, 1, 1, 1));
    test_conv_case("K=432 > KC", conv_params(2, 48, 5, 5, 3, 3, 3, 1, 1, 1, 1));
    /* W^T packed for dx (k x OC) takes more room than W for the forward (OC x k) when
     * round_up(k, 6) * OC > round_up(OC, 6) * k: the scratch must hold the larger. */
    test_conv_case("1x1 c8 oc32 (W^T > W packed)", conv_params(2, 8, 6, 6, 32, 1, 1, 1, 1, 0, 0));
    test_conv_case("3x3 c1 oc6 (W^T > W packed)", conv_params(2, 1, 7, 7, 6, 3, 3, 1, 1, 0, 0));
    test_conv_case("3x1 s(1,2) p(1,0)", conv_params(1, 3, 6, 7, 2, 3, 1, 1, 2, 1, 0));
    /* "same" at stride 2 on even sizes: pad 0 above / left, 1 below / right */
    test_conv_case("3x3 s2 same 8x6", conv_params_extra(conv_params(2, 3, 8, 6, 4, 3, 3, 2, 2, 0, 0), 1, 1));
    /* "same" with an even kernel: 4x2 at stride 1 pads (1, 2) rows and (0, 1) columns */
    test_conv_case("4x2 s1 same 7x5", conv_params_extra(conv_params(2, 2, 7, 5, 3, 4, 2, 1, 1, 1, 0), 1, 1));
    test_conv_case("1x1 extra only", conv_params_extra(conv_params(1, 2, 3, 3, 2, 1, 1, 1, 1, 0, 0), 2, 0));

    /* Error paths. */
    bb_conv2d_params good = conv_params(1, 1, 4, 4, 1, 3, 3, 1, 1, 0, 0), p;
    int oh, ow;
    float x[16] = {0}, w[9] = {0}, y[4], dy[4] = {0}, dx[16], dw[9], db[1];
    unsigned char scratch[8192];
    size_t fb = bb_conv2d_f32_scratch_size(&good), bb = bb_conv2d_backward_f32_scratch_size(&good);
    check(fb > 0 && fb <= sizeof scratch && bb > 0 && bb <= sizeof scratch, "conv small scratch sizes");
    check_status(bb_conv2d_output_hw(&good, &oh, &ow), BB_OK, "conv output_hw");
    check(oh == 2 && ow == 2, "conv output_hw values");
    check_status(bb_conv2d_output_hw(NULL, &oh, &ow), BB_ERR_NULL, "conv output_hw p NULL");
    check_status(bb_conv2d_output_hw(&good, NULL, &ow), BB_ERR_NULL, "conv output_hw out NULL");
    check(bb_conv2d_f32_scratch_size(NULL) == 0, "conv scratch size of NULL params is 0");

    p = good, p.batch = 0;
    check_status(bb_conv2d_output_hw(&p, &oh, &ow), BB_ERR_SHAPE, "conv batch 0");
    check(bb_conv2d_f32_scratch_size(&p) == 0 && bb_conv2d_backward_f32_scratch_size(&p) == 0,
          "conv scratch size of invalid params is 0");
    p = good, p.in_channels = -1;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_SHAPE, "conv channels<0");
    p = good, p.kernel_width = 0;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_SHAPE, "conv kernel 0");
    p = good, p.kernel_height = 5;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_SHAPE, "conv kernel > input");
    p = good, p.stride_width = 0;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_ARGUMENT, "conv stride 0");
    p = good, p.pad_height = -1;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_ARGUMENT, "conv pad<0");
    p = good, p.extra_pad_right = -1;
    check_status(bb_conv2d_f32(&p, x, w, NULL, y, scratch, fb), BB_ERR_ARGUMENT, "conv extra pad<0");
    p = good, p.extra_pad_bottom = 2;
    check_status(bb_conv2d_output_hw(&p, &oh, &ow), BB_OK, "conv output_hw extra bottom");
    check(oh == 4 && ow == 2, "conv output_hw counts the extra bottom padding");
    p = good, p.in_height = 2000000000, p.pad_height = 2000000000;
    check_status(bb_conv2d_output_hw(&p, &oh, &ow), BB_ERR_SHAPE, "conv padded height overflows int");
    check_status(bb_conv2d_f32(NULL, x, w, NULL, y, scratch, fb), BB_ERR_NULL, "conv p NULL");
    check_status(bb_conv2d_f32(&good, NULL, w, NULL, y, scratch, fb), BB_ERR_NULL, "conv x NULL");
    check_status(bb_conv2d_f32(&good, x, NULL, NULL, y, scratch, fb), BB_ERR_NULL, "conv w NULL");
    check_status(bb_conv2d_f32(&good, x, w, NULL, NULL, scratch, fb), BB_ERR_NULL, "conv y NULL");
    check_status(bb_conv2d_f32(&good, x, w, NULL, y, NULL, fb), BB_ERR_SCRATCH, "conv scratch NULL");
    check_status(bb_conv2d_f32(&good, x, w, NULL, y, scratch, fb - 1), BB_ERR_SCRATCH,
                 "conv scratch short");
    check_status(bb_conv2d_backward_f32(&good, x, w, NULL, dx, dw, db, scratch, bb), BB_ERR_NULL,
                 "conv backward dy NULL");
    check_status(bb_conv2d_backward_f32(&good, x, NULL, dy, dx, NULL, NULL, scratch, bb), BB_ERR_NULL,
                 "conv backward dx needs w");
    check_status(bb_conv2d_backward_f32(&good, NULL, w, dy, NULL, dw, NULL, scratch, bb), BB_ERR_NULL,
                 "conv backward dw needs x");
    check_status(bb_conv2d_backward_f32(NULL, x, w, dy, dx, dw, db, scratch, bb), BB_ERR_NULL,
                 "conv backward p NULL");
    p = good, p.stride_height = -2;
    check_status(bb_conv2d_backward_f32(&p, x, w, dy, dx, dw, db, scratch, bb), BB_ERR_ARGUMENT,
                 "conv backward stride<0");
    check_status(bb_conv2d_backward_f32(&good, x, w, dy, dx, dw, db, NULL, 0), BB_ERR_SCRATCH,
                 "conv backward scratch NULL");
    check_status(bb_conv2d_backward_f32(&good, x, w, dy, NULL, NULL, NULL, NULL, 0), BB_OK,
                 "conv backward nothing requested");
}

/* ---- pool2d ------------------------------------------------------------- */

static bb_pool2d_params pool_params(int n, int c, int h, int w, int kh, int kw, int sh, int sw)
{
    bb_pool2d_params p;
    p.batch = n, p.channels = c, p.in_height = h, p.in_width = w;
    p.kernel_height = kh, p.kernel_width = kw, p.stride_height = sh, p.stride_width = sw;
    return p;
}

/* Naive max pool: row-major scan, strict '>' (first maximum wins), NaN beats numbers. */
static void max_pool_ref(const bb_pool2d_params *p, int oh, int ow, const float *x, float *y,
                         int32_t *arg)
{
    const size_t planes = (size_t)p->batch * p->channels;
    for (size_t pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                int best_i = -1;
                float best = 0.0f;
                for (int ky = 0; ky < p->kernel_height; ky++)
                    for (int kx = 0; kx < p->kernel_width; kx++) {
                        int iy = oy * p->stride_height + ky, ix = ox * p->stride_width + kx;
                        float v = x[pl * p->in_height * p->in_width + (size_t)iy * p->in_width + ix];
                        if (best_i < 0 || v > best || (isnan(v) && !isnan(best))) {
                            best = v;
                            best_i = iy * p->in_width + ix;
                        }
                    }
                y[(pl * oh + oy) * ow + ox] = best;
                arg[(pl * oh + oy) * ow + ox] = best_i;
            }
}

static void test_pool_case(const char *label, bb_pool2d_params p, int ties)
{
    char name[160];
    int oh, ow;
    snprintf(name, sizeof name, "pool %s output_hw", label);
    check_status(bb_pool2d_output_hw(&p, &oh, &ow), BB_OK, name);
    const size_t planes = (size_t)p.batch * p.channels;
    const size_t xn = planes * p.in_height * p.in_width, yn = planes * oh * ow;
    check(oh == (p.in_height - p.kernel_height) / p.stride_height + 1 &&
          ow == (p.in_width - p.kernel_width) / p.stride_width + 1, "pool %s output size", label);
    float *x = rand_floats(xn), *dy = rand_floats(yn);
    if (ties) { /* few distinct values: most windows have tied maxima */
        for (size_t i = 0; i < xn; i++)
            x[i] = (float)(int)(x[i] * 1.5f);
    }
    float *ry = xmalloc(yn * sizeof(float));
    int32_t *rarg = xmalloc(yn * sizeof(int32_t));
    max_pool_ref(&p, oh, ow, x, ry, rarg);

    float *y = filled(yn, NAN), *y2 = filled(yn, NAN);
    int32_t *arg = xmalloc(yn * sizeof(int32_t));
    snprintf(name, sizeof name, "max pool %s", label);
    check_status(bb_max_pool2d_f32(&p, x, y, arg), BB_OK, name);
    check(memcmp(y, ry, yn * sizeof(float)) == 0, "%s: values", name);
    check(memcmp(arg, rarg, yn * sizeof(int32_t)) == 0, "%s: argmax", name);
    check_status(bb_max_pool2d_f32(&p, x, y2, NULL), BB_OK, name);
    check(memcmp(y2, ry, yn * sizeof(float)) == 0, "%s: values without argmax", name);

    /* Backward: dy routed to the argmax, accumulating where windows overlap. */
    double *rdx = zeros_d(xn);
    for (size_t pl = 0; pl < planes; pl++)
        for (size_t i = 0; i < (size_t)oh * ow; i++)
            rdx[pl * p.in_height * p.in_width + (size_t)rarg[pl * oh * ow + i]] += dy[pl * oh * ow + i];
    float *dx = filled(xn, NAN);
    snprintf(name, sizeof name, "max pool backward %s", label);
    check_status(bb_max_pool2d_backward_f32(&p, dy, arg, dx), BB_OK, name);
    check_close(name, dx, rdx, xn, 1e-6, 1e-6);

    /* Average pooling. */
    double *ravg = zeros_d(yn), *rdavg = zeros_d(xn);
    const double count = (double)p.kernel_height * p.kernel_width;
    for (size_t pl = 0; pl < planes; pl++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                size_t o = (pl * oh + oy) * ow + ox;
                for (int ky = 0; ky < p.kernel_height; ky++)
                    for (int kx = 0; kx < p.kernel_width; kx++) {
                        size_t i = pl * p.in_height * p.in_width +
                                   (size_t)(oy * p.stride_height + ky) * p.in_width +
                                   (size_t)(ox * p.stride_width + kx);
                        ravg[o] += x[i] / count;
                        rdavg[i] += dy[o] / count;
                    }
            }
    snprintf(name, sizeof name, "avg pool %s", label);
    check_status(bb_avg_pool2d_f32(&p, x, y), BB_OK, name);
    check_close(name, y, ravg, yn, 1e-6, 1e-5);
    snprintf(name, sizeof name, "avg pool backward %s", label);
    check_status(bb_avg_pool2d_backward_f32(&p, dy, dx), BB_OK, name);
    check_close(name, dx, rdavg, xn, 1e-6, 1e-5);

    free(x), free(dy), free(ry), free(rarg), free(y), free(y2), free(arg), free(rdx), free(dx);
    free(ravg), free(rdavg);
}

static void test_pool(void)
{
    for (int ties = 0; ties < 2; ties++) {
        test_pool_case(ties ? "2x2 s2 ties" : "2x2 s2", pool_params(2, 3, 4, 4, 2, 2, 2, 2), ties);
        test_pool_case(ties ? "3x3 s2 overlap ties" : "3x3 s2 overlap",
                       pool_params(1, 2, 7, 7, 3, 3, 2, 2), ties);
        test_pool_case(ties ? "3x2 s(2,1) ties" : "3x2 s(2,1)", pool_params(2, 1, 6, 8, 3, 2, 2, 1), ties);
        test_pool_case(ties ? "2x2 s2 floor ties" : "2x2 s2 floor", pool_params(1, 1, 5, 5, 2, 2, 2, 2), ties);
        test_pool_case(ties ? "whole plane ties" : "whole plane", pool_params(1, 2, 3, 5, 3, 5, 1, 1), ties);
    }

    /* All-equal window: the first (top-left) element wins. */
    bb_pool2d_params p = pool_params(1, 1, 4, 4, 2, 2, 2, 2);
    float x[16], y[4], dx[16], dy[4] = {1, 2, 3, 4};
    int32_t arg[4];
    for (int i = 0; i < 16; i++)
        x[i] = 5.0f;
    check_status(bb_max_pool2d_f32(&p, x, y, arg), BB_OK, "max pool all equal");
    check(arg[0] == 0 && arg[1] == 2 && arg[2] == 8 && arg[3] == 10, "max pool tie -> first element");

    /* NaN propagates; the first NaN in row-major order is the argmax. */
    x[1] = NAN, x[4] = NAN;   /* window 0: positions 1 and 4 */
    x[2] = 9.0f, x[7] = NAN;  /* window 1: a larger number before the NaN */
    check_status(bb_max_pool2d_f32(&p, x, y, arg), BB_OK, "max pool NaN");
    check(isnan(y[0]) && arg[0] == 1, "max pool NaN propagates (window 0, first NaN)");
    check(isnan(y[1]) && arg[1] == 7, "max pool NaN beats larger number (window 1)");
    check(y[2] == 5.0f && y[3] == 5.0f, "max pool NaN-free windows unaffected");
    check_status(bb_max_pool2d_f32(&p, x, y, NULL), BB_OK, "max pool NaN no argmax");
    check(isnan(y[0]) && isnan(y[1]) && y[3] == 5.0f, "max pool NaN propagates without argmax");

    /* Error paths. */
    int oh, ow;
    bb_pool2d_params q;
    check_status(bb_pool2d_output_hw(NULL, &oh, &ow), BB_ERR_NULL, "pool output_hw p NULL");
    check_status(bb_pool2d_output_hw(&p, &oh, NULL), BB_ERR_NULL, "pool output_hw out NULL");
    q = p, q.channels = 0;
    check_status(bb_max_pool2d_f32(&q, x, y, arg), BB_ERR_SHAPE, "pool channels 0");
    q = p, q.kernel_height = 5;
    check_status(bb_max_pool2d_f32(&q, x, y, arg), BB_ERR_SHAPE, "pool kernel > input");
    q = p, q.kernel_width = 0;
    check_status(bb_avg_pool2d_f32(&q, x, y), BB_ERR_ARGUMENT, "pool kernel 0");
    q = p, q.stride_height = 0;
    check_status(bb_avg_pool2d_backward_f32(&q, dy, dx), BB_ERR_ARGUMENT, "pool stride 0");
    check_status(bb_max_pool2d_f32(&p, NULL, y, arg), BB_ERR_NULL, "max pool x NULL");
    check_status(bb_max_pool2d_f32(&p, x, NULL, arg), BB_ERR_NULL, "max pool y NULL");
    check_status(bb_max_pool2d_backward_f32(&p, dy, NULL, dx), BB_ERR_NULL, "max pool backward argmax NULL");
    check_status(bb_max_pool2d_backward_f32(&p, NULL, arg, dx), BB_ERR_NULL, "max pool backward dy NULL");
    check_status(bb_avg_pool2d_f32(&p, x, NULL), BB_ERR_NULL, "avg pool y NULL");
    check_status(bb_avg_pool2d_backward_f32(&p, dy, NULL), BB_ERR_NULL, "avg pool backward dx NULL");
    for (int i = 0; i < 16; i++)
        dx[i] = -1.0f;
    int32_t bad[4] = {0, 2, 16, 10};
    check_status(bb_max_pool2d_backward_f32(&p, dy, bad, dx), BB_ERR_ARGUMENT, "max pool backward argmax out of range");
    check(dx[0] == -1.0f && dx[15] == -1.0f, "max pool backward bad argmax writes nothing");
    bad[2] = -1;
    check_status(bb_max_pool2d_backward_f32(&p, dy, bad, dx), BB_ERR_ARGUMENT, "max pool backward argmax negative");
}

/* ---- softmax and cross-entropy ----------------------------------------- */

static void softmax_ref(int rows, int cols, const float *x, double *sm, double *lsm)
{
    for (int i = 0; i < rows; i++) {
        const float *xi = x + (size_t)i * cols;
        double max = xi[0], sum = 0.0;
        for (int j = 1; j < cols; j++)
            max = xi[j] > max ? xi[j] : max;
        for (int j = 0; j < cols; j++)
            sum += exp(xi[j] - max);
        for (int j = 0; j < cols; j++) {
            sm[(size_t)i * cols + j] = exp(xi[j] - max) / sum;
            lsm[(size_t)i * cols + j] = xi[j] - max - log(sum);
        }
    }
}

static void test_softmax_case(const char *label, int rows, int cols, float scale)
{
    char name[160];
    const size_t n = (size_t)rows * cols;
    float *x = rand_floats(n), *dy = rand_floats(n), *y = filled(n, NAN), *dx = filled(n, NAN);
    for (size_t i = 0; i < n; i++)
        x[i] *= scale;
    double *sm = zeros_d(n), *lsm = zeros_d(n), *rdx = zeros_d(n);
    softmax_ref(rows, cols, x, sm, lsm);

    snprintf(name, sizeof name, "softmax %s", label);
    check_status(bb_softmax_f32(rows, cols, x, y), BB_OK, name);
    check_close(name, y, sm, n, 1e-7, 1e-5);
    /* Backward from the kernel's own y, against the formula in double. */
    for (int i = 0; i < rows; i++) {
        double dot = 0.0;
        for (int j = 0; j < cols; j++)
            dot += (double)dy[(size_t)i * cols + j] * y[(size_t)i * cols + j];
        for (int j = 0; j < cols; j++)
            rdx[(size_t)i * cols + j] = y[(size_t)i * cols + j] * (dy[(size_t)i * cols + j] - dot);
    }
    snprintf(name, sizeof name, "softmax backward %s", label);
    check_status(bb_softmax_backward_f32(rows, cols, y, dy, dx), BB_OK, name);
    check_close(name, dx, rdx, n, 1e-6, 1e-5);

    snprintf(name, sizeof name, "log_softmax %s", label);
    check_status(bb_log_softmax_f32(rows, cols, x, y), BB_OK, name);
    check_close(name, y, lsm, n, 1e-5, 1e-6);
    for (int i = 0; i < rows; i++) {
        double sum = 0.0;
        for (int j = 0; j < cols; j++)
            sum += dy[(size_t)i * cols + j];
        for (int j = 0; j < cols; j++)
            rdx[(size_t)i * cols + j] = dy[(size_t)i * cols + j] - exp((double)y[(size_t)i * cols + j]) * sum;
    }
    snprintf(name, sizeof name, "log_softmax backward %s", label);
    check_status(bb_log_softmax_backward_f32(rows, cols, y, dy, dx), BB_OK, name);
    check_close(name, dx, rdx, n, 1e-5, 1e-5);
    free(x), free(dy), free(y), free(dx), free(sm), free(lsm), free(rdx);
}

static void cross_entropy_ref(int rows, int cols, const float *x, const int32_t *labels,
                              const float *weights, double *loss, double *grad)
{
    double *sm = zeros_d((size_t)rows * cols), *lsm = zeros_d((size_t)rows * cols);
    softmax_ref(rows, cols, x, sm, lsm);
    double total = 0.0, wsum = 0.0;
    for (int i = 0; i < rows; i++) {
        double w = weights ? weights[labels[i]] : 1.0;
        total += -w * lsm[(size_t)i * cols + labels[i]];
        wsum += w;
    }
    *loss = total / wsum;
    for (int i = 0; i < rows; i++) {
        double w = weights ? weights[labels[i]] : 1.0;
        for (int j = 0; j < cols; j++)
            grad[(size_t)i * cols + j] = (sm[(size_t)i * cols + j] - (j == labels[i])) * w / wsum;
    }
    free(sm), free(lsm);
}

static void test_cross_entropy_case(const char *label, int rows, int cols, int weighted)
{
    char name[160];
    const size_t n = (size_t)rows * cols;
    float *x = rand_floats(n), *g = filled(n, NAN), *w = NULL;
    int32_t *labels = xmalloc((size_t)rows * sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        x[i] *= 4.0f;
    for (int i = 0; i < rows; i++)
        labels[i] = (int32_t)((unsigned)(i * 7 + 3) % (unsigned)cols);
    if (weighted) {
        w = rand_floats((size_t)cols);
        for (int j = 0; j < cols; j++)
            w[j] = w[j] + 1.0f; /* [0, 2) */
    }
    double rloss, *rg = zeros_d(n);
    cross_entropy_ref(rows, cols, x, labels, w, &rloss, rg);
    float loss = NAN, loss2 = NAN;
    snprintf(name, sizeof name, "cross_entropy %s", label);
    check_status(bb_cross_entropy_f32(rows, cols, x, labels, w, &loss, g), BB_OK, name);
    check(fabs(loss - rloss) <= 1e-6 + 1e-6 * fabs(rloss), "%s: loss %.9g expected %.9g", name,
          (double)loss, rloss);
    check_close(name, g, rg, n, 1e-7, 1e-5);
    check_status(bb_cross_entropy_f32(rows, cols, x, labels, w, &loss2, NULL), BB_OK, name);
    check(loss2 == loss, "%s: same loss without dlogits", name);
    free(x), free(g), free(w), free(labels), free(rg);
}

static void test_softmax(void)
{
    test_softmax_case("5x10", 5, 10, 1.0f);
    test_softmax_case("1x1", 1, 1, 1.0f);
    test_softmax_case("3x1000 x10", 3, 1000, 10.0f);
    test_softmax_case("4x7 x50", 4, 7, 50.0f);

    /* Huge logits: exact results, no inf or NaN. */
    const float big[8] = {1e4f, -1e4f, 1e4f, 1e4f, -1e4f, 0.0f, 0.0f, -1e4f};
    float y[8], dx[8];
    check_status(bb_softmax_f32(4, 2, big, y), BB_OK, "softmax huge");
    check(all_finite(y, 8) && y[0] == 1.0f && y[1] == 0.0f && y[2] == 0.5f && y[3] == 0.5f &&
          y[4] == 0.0f && y[5] == 1.0f && y[6] == 1.0f && y[7] == 0.0f, "softmax huge exact");
    check_status(bb_log_softmax_f32(4, 2, big, y), BB_OK, "log_softmax huge");
    check(all_finite(y, 8) && y[0] == 0.0f && y[1] == -2e4f && y[2] == (float)-log(2.0) &&
          y[3] == (float)-log(2.0) && y[4] == -1e4f && y[5] == 0.0f && y[7] == -1e4f,
          "log_softmax huge exact");
    const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    check_status(bb_log_softmax_backward_f32(4, 2, y, ones, dx), BB_OK, "log_softmax backward huge");
    check(all_finite(dx, 8) && dx[0] == -1.0f && dx[1] == 1.0f, "log_softmax backward huge exact");

    test_cross_entropy_case("6x5", 6, 5, 0);
    test_cross_entropy_case("6x5 weighted", 6, 5, 1);
    test_cross_entropy_case("1x1", 1, 1, 0);
    test_cross_entropy_case("9x100 weighted", 9, 100, 1);

    const float opposed[4] = {1e4f, -1e4f, -1e4f, 1e4f};
    const int32_t lab[2] = {0, 0}; /* row losses 0 and 2e4 */
    float loss = 0.0f, g[4];
    check_status(bb_cross_entropy_f32(2, 2, opposed, lab, NULL, &loss, g), BB_OK, "cross_entropy huge");
    check(loss == 1e4f && g[0] == 0.0f && g[1] == 0.0f && g[2] == -0.5f && g[3] == 0.5f,
          "cross_entropy huge exact (loss %.9g)", (double)loss);
    const float cw[2] = {3.0f, 1.0f};
    const int32_t lab2[2] = {0, 1}; /* rows: [1e4,-1e4] label 0, [1e4,1e4] label 1 */
    check_status(bb_cross_entropy_f32(2, 2, big, lab2, cw, &loss, g), BB_OK, "cross_entropy huge weighted");
    check(loss == (float)(log(2.0) / 4.0) && g[0] == 0.0f && g[1] == 0.0f &&
          g[2] == 0.125f && g[3] == -0.125f, "cross_entropy huge weighted exact");

    /* Error paths: nothing is written on error. */
    const float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t bad[2] = {0, 3};
    float sentinel[6] = {7, 7, 7, 7, 7, 7};
    loss = 7.0f;
    check_status(bb_cross_entropy_f32(2, 3, x, bad, NULL, &loss, sentinel), BB_ERR_LABEL, "cross_entropy label == cols");
    bad[1] = -1;
    check_status(bb_cross_entropy_f32(2, 3, x, bad, NULL, &loss, sentinel), BB_ERR_LABEL, "cross_entropy label < 0");
    check(loss == 7.0f && sentinel[0] == 7.0f && sentinel[5] == 7.0f, "cross_entropy bad label writes nothing");
    const int32_t ok_lab[2] = {0, 2};
    const float neg_w[3] = {1.0f, -1.0f, 1.0f}, zero_w[3] = {0.0f, 1.0f, 0.0f}, nan_w[3] = {1.0f, NAN, 1.0f};
    check_status(bb_cross_entropy_f32(2, 3, x, ok_lab, neg_w, &loss, sentinel), BB_ERR_ARGUMENT, "cross_entropy negative weight");
    check_status(bb_cross_entropy_f32(2, 3, x, ok_lab, zero_w, &loss, sentinel), BB_ERR_ARGUMENT, "cross_entropy zero weight sum");
    check_status(bb_cross_entropy_f32(2, 3, x, ok_lab, nan_w, &loss, sentinel), BB_ERR_ARGUMENT, "cross_entropy NaN weight");
    check(loss == 7.0f && sentinel[0] == 7.0f, "cross_entropy bad weights write nothing");
    check_status(bb_cross_entropy_f32(2, 3, NULL, ok_lab, NULL, &loss, NULL), BB_ERR_NULL, "cross_entropy logits NULL");
    check_status(bb_cross_entropy_f32(2, 3, x, NULL, NULL, &loss, NULL), BB_ERR_NULL, "cross_entropy labels NULL");
    check_status(bb_cross_entropy_f32(2, 3, x, ok_lab, NULL, NULL, NULL), BB_ERR_NULL, "cross_entropy loss NULL");
    check_status(bb_cross_entropy_f32(0, 3, x, ok_lab, NULL, &loss, NULL), BB_ERR_SHAPE, "cross_entropy rows 0");
    check_status(bb_cross_entropy_f32(2, 0, x, ok_lab, NULL, &loss, NULL), BB_ERR_SHAPE, "cross_entropy cols 0");

    check_status(bb_softmax_f32(0, 3, x, y), BB_ERR_SHAPE, "softmax rows 0");
    check_status(bb_softmax_f32(2, -1, x, y), BB_ERR_SHAPE, "softmax cols<0");
    check_status(bb_softmax_f32(2, 3, NULL, y), BB_ERR_NULL, "softmax x NULL");
    check_status(bb_softmax_f32(2, 3, x, NULL), BB_ERR_NULL, "softmax y NULL");
    check_status(bb_log_softmax_f32(2, 0, x, y), BB_ERR_SHAPE, "log_softmax cols 0");
    check_status(bb_log_softmax_f32(2, 3, NULL, y), BB_ERR_NULL, "log_softmax x NULL");
    check_status(bb_softmax_backward_f32(2, 3, x, NULL, dx), BB_ERR_NULL, "softmax backward dy NULL");
    check_status(bb_softmax_backward_f32(0, 3, x, x, dx), BB_ERR_SHAPE, "softmax backward rows 0");
    check_status(bb_log_softmax_backward_f32(2, 3, NULL, x, dx), BB_ERR_NULL, "log_softmax backward y NULL");
    check_status(bb_log_softmax_backward_f32(2, 0, x, x, dx), BB_ERR_SHAPE, "log_softmax backward cols 0");
}

/* ---- optimizers --------------------------------------------------------- */

static void test_sgd_case(const char *label, float lr, float momentum, float wd, int nesterov)
{
    enum { N = 37, STEPS = 5 };
    float param[N], vel[N], grad[N];
    double rp[N], rv[N];
    for (int i = 0; i < N; i++) {
        param[i] = frand(), rp[i] = param[i];
        vel[i] = 0.0f, rv[i] = 0.0;
    }
    int ok = 1;
    for (int s = 0; s < STEPS; s++) {
        for (int i = 0; i < N; i++)
            grad[i] = frand();
        if (bb_sgd_step_f32(N, param, grad, momentum != 0.0f ? vel : NULL, lr, momentum, wd,
                            nesterov) != BB_OK)
            ok = 0;
        for (int i = 0; i < N; i++) {
            double g = grad[i] + (double)wd * rp[i];
            if (momentum != 0.0f) {
                rv[i] = momentum * rv[i] + g;
                g = nesterov ? g + momentum * rv[i] : rv[i];
            }
            rp[i] -= lr * g;
        }
    }
    check(ok, "sgd %s status", label);
    check_close(label, param, rp, N, 1e-6, 1e-5);
}

static void test_adam_case(const char *label, float lr, float beta1, float beta2, float eps, float wd)
{
    enum { N = 41, STEPS = 12 };
    float param[N], m[N], v[N], grad[N];
    double rp[N], rm[N], rv[N];
    for (int i = 0; i < N; i++) {
        param[i] = frand(), rp[i] = param[i];
        m[i] = v[i] = 0.0f, rm[i] = rv[i] = 0.0;
    }
    int ok = 1;
    for (int step = 1; step <= STEPS; step++) {
        for (int i = 0; i < N; i++)
            grad[i] = frand() * (i % 3 == 0 ? 1e-3f : 1.0f);
        if (bb_adam_step_f32(N, param, grad, m, v, lr, beta1, beta2, eps, wd, step) != BB_OK)
            ok = 0;
        double bc1 = 1.0 - pow(beta1, step), bc2 = 1.0 - pow(beta2, step);
        for (int i = 0; i < N; i++) {
            double g = grad[i] + (double)wd * rp[i];
            rm[i] = beta1 * rm[i] + (1.0 - beta1) * g;
            rv[i] = beta2 * rv[i] + (1.0 - beta2) * g * g;
            rp[i] -= (lr / bc1) * rm[i] / (sqrt(rv[i]) / sqrt(bc2) + eps);
        }
    }
    char name[160];
    check(ok, "adam %s status", label);
    snprintf(name, sizeof name, "adam %s param", label);
    check_close(name, param, rp, N, 1e-6, 1e-5);
    snprintf(name, sizeof name, "adam %s m", label);
    check_close(name, m, rm, N, 1e-7, 1e-5);
    snprintf(name, sizeof name, "adam %s v", label);
    check_close(name, v, rv, N, 1e-9, 1e-5);
}

static void test_optim(void)
{
    test_sgd_case("sgd plain", 0.1f, 0.0f, 0.0f, 0);
    test_sgd_case("sgd weight decay", 0.05f, 0.0f, 0.1f, 0);
    test_sgd_case("sgd momentum", 0.1f, 0.9f, 0.0f, 0);
    test_sgd_case("sgd nesterov + weight decay", 0.1f, 0.9f, 0.01f, 1);
    test_adam_case("defaults", 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f);
    test_adam_case("weight decay", 1e-2f, 0.9f, 0.99f, 1e-6f, 0.05f);
    test_adam_case("beta1 < 0.5", 1e-2f, 0.3f, 0.5f, 1e-8f, 0.0f);
    test_adam_case("beta1 = 0", 1e-2f, 0.0f, 0.9f, 1e-8f, 0.0f);

    float p[2] = {1, 2}, g[2] = {1, 1}, b[2] = {0, 0}, m[2] = {0, 0}, v[2] = {0, 0};
    check_status(bb_sgd_step_f32(0, NULL, NULL, NULL, 0.1f, 0.9f, 0.0f, 0), BB_OK, "sgd n=0");
    check_status(bb_sgd_step_f32(2, NULL, g, b, 0.1f, 0.9f, 0.0f, 0), BB_ERR_NULL, "sgd param NULL");
    check_status(bb_sgd_step_f32(2, p, NULL, b, 0.1f, 0.9f, 0.0f, 0), BB_ERR_NULL, "sgd grad NULL");
    check_status(bb_sgd_step_f32(2, p, g, NULL, 0.1f, 0.9f, 0.0f, 0), BB_ERR_NULL, "sgd velocity NULL with momentum");
    check_status(bb_sgd_step_f32(2, p, g, NULL, 0.1f, 0.0f, 0.0f, 0), BB_OK, "sgd velocity NULL without momentum");
    check_status(bb_sgd_step_f32(2, p, g, b, -0.1f, 0.9f, 0.0f, 0), BB_ERR_ARGUMENT, "sgd lr<0");
    check_status(bb_sgd_step_f32(2, p, g, b, NAN, 0.9f, 0.0f, 0), BB_ERR_ARGUMENT, "sgd lr NaN");
    check_status(bb_sgd_step_f32(2, p, g, b, 0.1f, -0.9f, 0.0f, 0), BB_ERR_ARGUMENT, "sgd momentum<0");
    check_status(bb_sgd_step_f32(2, p, g, b, 0.1f, 0.9f, -1.0f, 0), BB_ERR_ARGUMENT, "sgd weight_decay<0");
    check_status(bb_sgd_step_f32(2, p, g, b, 0.1f, 0.0f, 0.0f, 1), BB_ERR_ARGUMENT, "sgd nesterov without momentum");

    check_status(bb_adam_step_f32(0, NULL, NULL, NULL, NULL, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_OK, "adam n=0");
    check_status(bb_adam_step_f32(2, p, g, NULL, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_NULL, "adam m NULL");
    check_status(bb_adam_step_f32(2, p, g, m, NULL, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_NULL, "adam v NULL");
    check_status(bb_adam_step_f32(2, NULL, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_NULL, "adam param NULL");
    check_status(bb_adam_step_f32(2, p, NULL, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_NULL, "adam grad NULL");
    check_status(bb_adam_step_f32(2, p, g, m, v, -1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_ARGUMENT, "adam lr<0");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 1.0f, 0.999f, 1e-8f, 0.0f, 1), BB_ERR_ARGUMENT, "adam beta1=1");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 0.9f, -0.1f, 1e-8f, 0.0f, 1), BB_ERR_ARGUMENT, "adam beta2<0");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 0.9f, NAN, 1e-8f, 0.0f, 1), BB_ERR_ARGUMENT, "adam beta2 NaN");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 0.9f, 0.999f, -1e-8f, 0.0f, 1), BB_ERR_ARGUMENT, "adam eps<0");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, -0.1f, 1), BB_ERR_ARGUMENT, "adam weight_decay<0");
    check_status(bb_adam_step_f32(2, p, g, m, v, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 0), BB_ERR_ARGUMENT, "adam step 0");
    check(p[0] == 1.0f - 0.1f && m[0] == 0.0f && v[0] == 0.0f, "optimizer errors write nothing");
}

/* ---- int8 conv2d + clamp + max pool (fused) ----------------------------- */

static int8_t rand_s8(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (int8_t)(int32_t)((rng >> 16) % 256u - 128u);
}

/* An int8 conv case: input dims, output channels, conv window (asymmetric padding allowed). */
typedef struct conv_s8_case {
    bb_s8_dims in;
    int32_t out_channels;
    bb_s8_window conv;
} conv_s8_case;

static conv_s8_case conv_s8(int n, int c, int h, int w, int oc, int kh, int kw, int sh, int sw,
                            int top, int left, int bottom, int right)
{
    conv_s8_case k = {{n, c, h, w}, oc, {kh, kw, sh, sw, top, left, bottom, right}};
    return k;
}

/* The definition, unfused: every conv output (padding reads as real 0), requantized and
 * clamped, then the max of each pooling window. */
static void conv_pool_s8_ref(const conv_s8_case *k, const bb_s8_window *pool,
                             const bb_quant_out *q, const int32_t *mult, const int32_t *shift,
                             const int8_t *x, const int8_t *w, const int32_t *bias, int oh, int ow,
                             int ph, int pw, int8_t *conv, int8_t *y)
{
    const int c = k->in.channels, h = k->in.height, wd = k->in.width;
    const int kh = k->conv.kernel_height, kw = k->conv.kernel_width;
    for (int n = 0; n < k->in.batch; n++)
        for (int o = 0; o < k->out_channels; o++) {
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    int32_t acc = bias[o];
                    for (int ic = 0; ic < c; ic++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = oy * k->conv.stride_height - k->conv.pad_top + ky;
                                int ix = ox * k->conv.stride_width - k->conv.pad_left + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                    continue;
                                acc += (x[((n * c + ic) * h + iy) * wd + ix] + q->input_offset) *
                                       w[((o * c + ic) * kh + ky) * kw + kx];
                            }
                    int32_t v = bb_requantize(acc, mult[o], shift[o]) + q->output_offset;
                    v = v < q->activation_min ? q->activation_min : v;
                    conv[oy * ow + ox] = (int8_t)(v > q->activation_max ? q->activation_max : v);
                }
            for (int py = 0; py < ph; py++)
                for (int px = 0; px < pw; px++) {
                    int best = -128;
                    for (int ky = 0; ky < pool->kernel_height; ky++)
                        for (int kx = 0; kx < pool->kernel_width; kx++) {
                            int v = conv[(py * pool->stride_height + ky) * ow + px * pool->stride_width + kx];
                            best = v > best ? v : best;
                        }
                    y[((n * k->out_channels + o) * ph + py) * pw + px] = (int8_t)best;
                }
        }
}

static void test_conv_pool_s8_case(conv_s8_case k, bb_s8_window pool, int in_zp, int relu)
{
    const bb_s8_window *cw = &k.conv;
    const int oh = (k.in.height + cw->pad_top + cw->pad_bottom - cw->kernel_height) / cw->stride_height + 1;
    const int ow = (k.in.width + cw->pad_left + cw->pad_right - cw->kernel_width) / cw->stride_width + 1;
    const int ph = (oh - pool.kernel_height) / pool.stride_height + 1;
    const int pw = (ow - pool.kernel_width) / pool.stride_width + 1;
    const size_t nx = (size_t)k.in.batch * k.in.channels * k.in.height * k.in.width;
    const size_t nw = (size_t)k.out_channels * k.in.channels * cw->kernel_height * cw->kernel_width;
    const size_t ny = (size_t)k.in.batch * k.out_channels * ph * pw;
    /* Exact sizes, so AddressSanitizer sees any read past the input or the weights. */
    int8_t *x = xmalloc(nx), *w = xmalloc(nw), *y = xmalloc(ny), *ref = xmalloc(ny);
    int8_t *conv = xmalloc((size_t)oh * ow);
    int32_t *bias = xmalloc(k.out_channels * sizeof(int32_t));
    int32_t *mult = xmalloc(k.out_channels * sizeof(int32_t));
    int32_t *shift = xmalloc(k.out_channels * sizeof(int32_t));
    for (size_t i = 0; i < nx; i++)
        x[i] = rand_s8();
    for (size_t i = 0; i < nw; i++)
        w[i] = (int8_t)(rand_s8() | 1); /* never -128 */
    for (int o = 0; o < k.out_channels; o++) {
        bias[o] = (int32_t)(frand() * 3000.0f);
        mult[o] = (int32_t)(1073741824u + (rng & 0x3FFFFFFFu));
        shift[o] = -7 - o % 3;
    }
    const bb_quant_out q = {-in_zp, 5, relu ? 5 : -128, 127};
    conv_pool_s8_ref(&k, &pool, &q, mult, shift, x, w, bias, oh, ow, ph, pw, conv, ref);
    check_status(bb_conv2d_pool_s8(&k.in, k.out_channels, cw, &pool, &q, mult, shift, x, w, bias, y),
                 BB_OK, "conv_pool_s8");
    check(memcmp(y, ref, ny) == 0,
          "conv_pool_s8 %dx%dx%d k%dx%d s%d pad %d,%d,%d,%d pool %dx%d/%d: bytes differ",
          k.in.channels, k.in.height, k.in.width, cw->kernel_height, cw->kernel_width,
          cw->stride_height, cw->pad_top, cw->pad_left, cw->pad_bottom, cw->pad_right,
          pool.kernel_height, pool.kernel_width, pool.stride_height);
    free(x), free(w), free(y), free(ref), free(conv), free(bias), free(mult), free(shift);
}

static void test_conv_pool_s8(void)
{
    const bb_s8_window two = {2, 2, 2, 2, 0, 0, 0, 0}, overlap = {3, 3, 2, 2, 0, 0, 0, 0};
    const bb_s8_window one = {1, 1, 1, 1, 0, 0, 0, 0};
    for (int relu = 0; relu < 2; relu++) {
        for (int zp = -128; zp <= 127; zp += 85) {
            test_conv_pool_s8_case(conv_s8(1, 1, 8, 8, 4, 3, 3, 1, 1, 0, 0, 0, 0), two, zp, relu);
            test_conv_pool_s8_case(conv_s8(2, 3, 11, 9, 5, 3, 3, 1, 1, 0, 0, 0, 0), two, zp, relu);
            test_conv_pool_s8_case(conv_s8(1, 2, 9, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1), two, zp, relu);
            test_conv_pool_s8_case(conv_s8(2, 2, 9, 11, 3, 3, 5, 1, 1, 2, 2, 2, 2), overlap, zp, relu);
            test_conv_pool_s8_case(conv_s8(1, 3, 7, 6, 2, 2, 3, 2, 1, 1, 0, 1, 0), one, zp, relu);
            /* TensorFlow's "same" padding with an even kernel: one row / column more after. */
            test_conv_pool_s8_case(conv_s8(1, 2, 8, 7, 3, 2, 4, 1, 1, 0, 1, 1, 2), one, zp, relu);
            test_conv_pool_s8_case(conv_s8(2, 2, 10, 10, 2, 3, 3, 2, 2, 0, 0, 1, 1), two, zp, relu);
        }
    }
    const bb_s8_dims in = {1, 1, 5, 5};
    const bb_s8_window conv = {3, 3, 1, 1, 0, 0, 0, 0};
    const bb_s8_window too_big = {4, 4, 1, 1, 0, 0, 0, 0}, no_stride = {2, 2, 0, 1, 0, 0, 0, 0};
    const bb_s8_window padded_pool = {2, 2, 2, 2, 1, 0, 0, 0}, negative_pad = {3, 3, 1, 1, 0, 0, -1, 0};
    int8_t x[25] = {0}, w[18] = {0}, y[18];
    int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, 0};
    const bb_quant_out q = {0, 0, -128, 127};
    check_status(bb_conv2d_pool_s8(&in, 2, &conv, &too_big, &q, mult, shift, x, w, NULL, y), BB_ERR_SHAPE,
                 "conv_pool_s8 window larger than the conv output");
    check_status(bb_conv2d_pool_s8(&in, 2, &conv, &no_stride, &q, mult, shift, x, w, NULL, y),
                 BB_ERR_ARGUMENT, "conv_pool_s8 zero stride");
    check_status(bb_conv2d_pool_s8(&in, 2, &conv, NULL, &q, mult, shift, x, w, NULL, y), BB_ERR_NULL,
                 "conv_pool_s8 NULL window");
    check_status(bb_conv2d_pool_s8(&in, 2, &conv, &padded_pool, &q, mult, shift, x, w, NULL, y),
                 BB_ERR_ARGUMENT, "conv_pool_s8 padded pooling window");
    check_status(bb_conv2d_s8(&in, 2, &negative_pad, &q, mult, shift, x, w, NULL, y), BB_ERR_ARGUMENT,
                 "conv_s8 negative padding");
    check_status(bb_max_pool2d_s8(&in, &padded_pool, x, y), BB_ERR_ARGUMENT, "max_pool_s8 padding");
    check_status(bb_avg_pool2d_s8(&in, &too_big, x, y), BB_OK, "avg_pool_s8 4x4 window on 5x5");
}

/* bb_check_accumulator_s8: |bias| + 255 * sum|w| must stay below 2^31 per channel. */
static void test_accumulator_bound_s8(void)
{
    int8_t w[4] = {127, -127, 127, -127}; /* 255 * 508 = 129,540 */
    int32_t ok[1] = {INT32_MAX - 129540}, over[1] = {INT32_MAX - 129539}, low[1] = {-(INT32_MAX - 129540)};
    check_status(bb_check_accumulator_s8(1, 4, w, ok), BB_OK, "accumulator bound reached exactly");
    check_status(bb_check_accumulator_s8(1, 4, w, over), BB_ERR_ARGUMENT, "accumulator bound passed by 1");
    check_status(bb_check_accumulator_s8(1, 4, w, low), BB_OK, "accumulator bound, negative bias");
    check_status(bb_check_accumulator_s8(2, 2, w, NULL), BB_OK, "accumulator bound without bias");
    check_status(bb_check_accumulator_s8(1, 4, NULL, ok), BB_ERR_NULL, "accumulator bound NULL weights");
    check_status(bb_check_accumulator_s8(0, 4, w, ok), BB_ERR_SHAPE, "accumulator bound no channel");
}

/* Regression: a shift of 30 saturates the requantized value to INT32_MAX / INT32_MIN;
 * adding the output offset after it overflowed int32 (UB, caught here by UBSan) in
 * bb_linear_s8 and bb_conv2d_pool_s8. They now clamp before adding the offset. */
static void test_requantize_saturation_s8(void)
{
    const int32_t big = INT32_MAX - 255 * 127, multiplier[1] = {INT32_MAX}, shift[1] = {30};
    const int32_t bias_hi[1] = {big}, bias_lo[1] = {-big};
    const int8_t x[1] = {127}, w[1] = {127};
    const bb_quant_out q = {128, 100, -128, 127}, q_neg = {128, -100, -128, 127};
    int8_t y[1] = {0};
    check_status(bb_linear_s8(1, 1, 1, &q, multiplier, shift, x, w, bias_hi, y), BB_OK, "linear_s8 shift 30");
    check(y[0] == 127, "linear_s8 shift 30 saturates to 127, got %d", y[0]);
    const int8_t x_lo[1] = {-128};
    check_status(bb_linear_s8(1, 1, 1, &q_neg, multiplier, shift, x_lo, w, bias_lo, y), BB_OK,
                 "linear_s8 shift 30, negative");
    check(y[0] == -128, "linear_s8 shift 30 saturates to -128, got %d", y[0]);
    const bb_s8_dims d = {1, 1, 2, 2};
    const bb_s8_window conv = {1, 1, 1, 1, 0, 0, 0, 0}, pool = {2, 2, 2, 2, 0, 0, 0, 0};
    const int8_t img[4] = {127, 127, 127, 127};
    check_status(bb_conv2d_pool_s8(&d, 1, &conv, &pool, &q, multiplier, shift, img, w, bias_hi, y), BB_OK,
                 "conv2d_pool_s8 shift 30");
    check(y[0] == 127, "conv2d_pool_s8 shift 30 saturates to 127, got %d", y[0]);
}

/* ---- depthwise conv2d --------------------------------------------------- */

static bb_depthwise_conv2d_params dw_params(int n, int c, int h, int w, int mult, int kh, int kw,
                                            int sh, int sw, int pt, int pb, int pl, int pr)
{
    bb_depthwise_conv2d_params p;
    p.batch = n, p.channels = c, p.in_height = h, p.in_width = w, p.depth_multiplier = mult;
    p.kernel_height = kh, p.kernel_width = kw, p.stride_height = sh, p.stride_width = sw;
    p.pad_top = pt, p.pad_bottom = pb, p.pad_left = pl, p.pad_right = pr;
    return p;
}

/* Straight from the definition: output channel o = c * mult + m reads input channel c. */
static void depthwise_ref(const bb_depthwise_conv2d_params *p, int oh, int ow, const float *x,
                          const float *w, const float *bias, const float *dy, double *y,
                          double *dx, double *dw, double *db)
{
    const int C = p->channels, H = p->in_height, W = p->in_width, M = p->depth_multiplier;
    const int KH = p->kernel_height, KW = p->kernel_width, OC = C * M;
    for (int n = 0; n < p->batch; n++)
        for (int o = 0; o < OC; o++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    const int c = o / M;
                    double acc = bias ? bias[o] : 0.0;
                    double g = X4(dy, n, o, oy, ox, OC, oh, ow);
                    db[o] += g;
                    for (int i = 0; i < KH; i++)
                        for (int j = 0; j < KW; j++) {
                            int iy = oy * p->stride_height - p->pad_top + i;
                            int ix = ox * p->stride_width - p->pad_left + j;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                                continue;
                            double xv = X4(x, n, c, iy, ix, C, H, W);
                            double wv = w[((size_t)o * KH + i) * KW + j];
                            acc += xv * wv;
                            X4(dx, n, c, iy, ix, C, H, W) += wv * g;
                            dw[((size_t)o * KH + i) * KW + j] += xv * g;
                        }
                    X4(y, n, o, oy, ox, OC, oh, ow) = acc;
                }
}

static void test_depthwise_case(const char *label, bb_depthwise_conv2d_params p, int want_oh,
                                int want_ow)
{
    char name[160];
    int oh = -1, ow = -1;
    snprintf(name, sizeof name, "depthwise %s output_hw", label);
    check_status(bb_depthwise_conv2d_output_hw(&p, &oh, &ow), BB_OK, name);
    check(oh == want_oh && ow == want_ow, "depthwise %s output %dx%d, expected %dx%d", label, oh,
          ow, want_oh, want_ow);
    if (oh <= 0 || ow <= 0)
        return;
    const int OC = p.channels * p.depth_multiplier;
    const size_t xn = (size_t)p.batch * p.channels * p.in_height * p.in_width;
    const size_t wn = (size_t)OC * p.kernel_height * p.kernel_width;
    const size_t yn = (size_t)p.batch * OC * oh * ow, bn = (size_t)OC;
    /* Exact sizes, so AddressSanitizer sees any access past an array. */
    float *x = rand_floats(xn), *w = rand_floats(wn), *bias = rand_floats(bn), *dy = rand_floats(yn);
    double *ry = zeros_d(yn), *rdx = zeros_d(xn), *rdw = zeros_d(wn), *rdb = zeros_d(bn);
    depthwise_ref(&p, oh, ow, x, w, bias, dy, ry, rdx, rdw, rdb);
    const double taps = (double)p.kernel_height * p.kernel_width;
    const double tol_y = 1e-5 * (1.0 + taps), tol_dx = 1e-5 * (1.0 + p.depth_multiplier * taps);
    const double tol_dw = 1e-5 * (1.0 + (double)p.batch * oh * ow);

    float *y = filled(yn, NAN);
    snprintf(name, sizeof name, "depthwise %s forward", label);
    check_status(bb_depthwise_conv2d_f32(&p, x, w, bias, y), BB_OK, name);
    check_close(name, y, ry, yn, tol_y, 1e-5);
    snprintf(name, sizeof name, "depthwise %s forward no bias", label);
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_OK, name);
    for (size_t i = 0; i < yn; i++)
        ry[i] -= bias[(i / ((size_t)oh * ow)) % bn];
    check_close(name, y, ry, yn, tol_y, 1e-5);

    float *dx = filled(xn, NAN), *dw = filled(wn, NAN), *db = filled(bn, NAN);
    snprintf(name, sizeof name, "depthwise %s backward", label);
    check_status(bb_depthwise_conv2d_backward_f32(&p, x, w, dy, dx, dw, db), BB_OK, name);
    snprintf(name, sizeof name, "depthwise %s backward dx", label);
    check_close(name, dx, rdx, xn, tol_dx, 1e-5);
    snprintf(name, sizeof name, "depthwise %s backward dw", label);
    check_close(name, dw, rdw, wn, tol_dw, 1e-5);
    snprintf(name, sizeof name, "depthwise %s backward db", label);
    check_close(name, db, rdb, bn, tol_dw, 1e-6);
    float *dx2 = filled(xn, NAN), *dw2 = filled(wn, NAN);
    snprintf(name, sizeof name, "depthwise %s backward dx only", label);
    check_status(bb_depthwise_conv2d_backward_f32(&p, NULL, w, dy, dx2, NULL, NULL), BB_OK, name);
    check_close(name, dx2, rdx, xn, tol_dx, 1e-5);
    snprintf(name, sizeof name, "depthwise %s backward dw only", label);
    check_status(bb_depthwise_conv2d_backward_f32(&p, x, NULL, dy, NULL, dw2, NULL), BB_OK, name);
    check_close(name, dw2, rdw, wn, tol_dw, 1e-5);
    free(x), free(w), free(bias), free(dy), free(ry), free(rdx), free(rdw), free(rdb);
    free(y), free(dx), free(dw), free(db), free(dx2), free(dw2);
}

/* The same bits with one thread as with two (each sum is made by one thread, in order). */
static void depthwise_thread_count_invariance(void)
{
    bb_depthwise_conv2d_params p = dw_params(4, 8, 30, 29, 2, 3, 3, 2, 1, 1, 1, 1, 1);
    int oh, ow;
    check_status(bb_depthwise_conv2d_output_hw(&p, &oh, &ow), BB_OK, "depthwise threads shape");
    const size_t xn = (size_t)4 * 8 * 30 * 29, wn = 16 * 9, yn = (size_t)4 * 16 * oh * ow;
    float *x = rand_floats(xn), *w = rand_floats(wn), *dy = rand_floats(yn);
    float *out[2][4];
    const int previous = bb_get_num_threads();
    for (int r = 0; r < 2; r++) {
        bb_set_num_threads(r + 1);
        out[r][0] = filled(yn, NAN), out[r][1] = filled(xn, NAN);
        out[r][2] = filled(wn, NAN), out[r][3] = filled(16, NAN);
        check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, out[r][0]), BB_OK, "depthwise threads fwd");
        check_status(bb_depthwise_conv2d_backward_f32(&p, x, w, dy, out[r][1], out[r][2], out[r][3]),
                     BB_OK, "depthwise threads bwd");
    }
    bb_set_num_threads(previous);
    const size_t sizes[4] = {yn, xn, wn, 16};
    for (int k = 0; k < 4; k++) {
        check(memcmp(out[0][k], out[1][k], sizes[k] * sizeof(float)) == 0,
              "depthwise output %d: 1 and 2 threads differ", k);
        free(out[0][k]), free(out[1][k]);
    }
    free(x), free(w), free(dy);
}

static void test_depthwise(void)
{
    /* 3x3 fast paths: stride 1 and 2, symmetric and "same" (extra at bottom / right) */
    test_depthwise_case("3x3 s1 p1", dw_params(2, 3, 9, 11, 1, 3, 3, 1, 1, 1, 1, 1, 1), 9, 11);
    test_depthwise_case("3x3 s2 same even", dw_params(2, 3, 8, 10, 1, 3, 3, 2, 2, 0, 1, 0, 1), 4, 5);
    test_depthwise_case("3x3 s2 p1 odd", dw_params(1, 2, 9, 7, 1, 3, 3, 2, 2, 1, 1, 1, 1), 5, 4);
    test_depthwise_case("3x3 s1 valid mult 2", dw_params(2, 3, 6, 5, 2, 3, 3, 1, 1, 0, 0, 0, 0), 4, 3);
    test_depthwise_case("3x3 s2 p1 mult 3", dw_params(2, 2, 7, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1), 4, 4);
    test_depthwise_case("3x3 pad > kernel - 1", dw_params(1, 2, 4, 4, 2, 3, 3, 1, 1, 3, 0, 2, 4), 5, 8);
    test_depthwise_case("3x3 wide rows", dw_params(2, 2, 5, 37, 1, 3, 3, 1, 2, 1, 1, 1, 1), 5, 19);
    test_depthwise_case("3x3 s(2,1)", dw_params(1, 2, 6, 6, 1, 3, 3, 2, 1, 1, 1, 1, 1), 3, 6);
    /* the general loops */
    test_depthwise_case("5x5 s1 p2", dw_params(2, 2, 7, 6, 1, 5, 5, 1, 1, 2, 2, 2, 2), 7, 6);
    test_depthwise_case("3x3 s3", dw_params(2, 2, 10, 9, 2, 3, 3, 3, 3, 1, 0, 1, 0), 3, 3);
    test_depthwise_case("10x4 s2 same", dw_params(1, 2, 49, 10, 1, 10, 4, 2, 2, 4, 5, 1, 2), 25, 5);
    test_depthwise_case("1x1 mult 2", dw_params(2, 3, 4, 5, 2, 1, 1, 1, 1, 0, 0, 0, 0), 4, 5);
    test_depthwise_case("kernel > input", dw_params(1, 1, 2, 3, 1, 4, 5, 1, 1, 2, 1, 2, 2), 2, 3);
    test_depthwise_case("9x9 (more taps than a chunk)", dw_params(2, 1, 9, 10, 2, 9, 9, 1, 1, 4, 4, 4, 4), 9, 10);
    test_depthwise_case("1 row", dw_params(3, 2, 1, 12, 1, 1, 3, 1, 2, 0, 0, 1, 1), 1, 6);
    /* large enough for several OpenMP threads (the small cases stay on one) */
    test_depthwise_case("threaded s1", dw_params(4, 8, 30, 29, 2, 3, 3, 1, 1, 1, 1, 1, 1), 30, 29);
    test_depthwise_case("threaded s2 same", dw_params(4, 8, 30, 29, 2, 3, 3, 2, 2, 0, 1, 1, 1), 15, 15);
    depthwise_thread_count_invariance();

    bb_depthwise_conv2d_params good = dw_params(1, 1, 4, 4, 1, 3, 3, 1, 1, 0, 0, 0, 0), p;
    float x[16] = {0}, w[9] = {0}, y[4], dy[4] = {0}, dx[16], dw[9], db[1];
    int oh, ow;
    check_status(bb_depthwise_conv2d_output_hw(NULL, &oh, &ow), BB_ERR_NULL, "depthwise p NULL");
    check_status(bb_depthwise_conv2d_output_hw(&good, NULL, &ow), BB_ERR_NULL, "depthwise out NULL");
    p = good, p.depth_multiplier = 0;
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_ERR_ARGUMENT, "depthwise mult 0");
    p = good, p.channels = 0;
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_ERR_SHAPE, "depthwise channels 0");
    p = good, p.pad_right = -1;
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_ERR_ARGUMENT, "depthwise pad<0");
    p = good, p.stride_height = 0;
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_ERR_ARGUMENT, "depthwise stride 0");
    p = good, p.kernel_width = 5;
    check_status(bb_depthwise_conv2d_f32(&p, x, w, NULL, y), BB_ERR_SHAPE, "depthwise kernel > input");
    p = good, p.in_height = 2000000000, p.pad_top = 2000000000;
    check_status(bb_depthwise_conv2d_output_hw(&p, &oh, &ow), BB_ERR_SHAPE, "depthwise height overflows");
    check_status(bb_depthwise_conv2d_f32(&good, NULL, w, NULL, y), BB_ERR_NULL, "depthwise x NULL");
    check_status(bb_depthwise_conv2d_f32(&good, x, w, NULL, NULL), BB_ERR_NULL, "depthwise y NULL");
    check_status(bb_depthwise_conv2d_backward_f32(&good, x, w, NULL, dx, dw, db), BB_ERR_NULL,
                 "depthwise backward dy NULL");
    check_status(bb_depthwise_conv2d_backward_f32(&good, x, NULL, dy, dx, NULL, NULL), BB_ERR_NULL,
                 "depthwise backward dx needs w");
    check_status(bb_depthwise_conv2d_backward_f32(&good, NULL, w, dy, NULL, dw, NULL), BB_ERR_NULL,
                 "depthwise backward dw needs x");
    check_status(bb_depthwise_conv2d_backward_f32(&good, NULL, NULL, dy, NULL, NULL, db), BB_OK,
                 "depthwise backward db only");
}

/* ---- batch norm ----------------------------------------------------------- */

static void test_batch_norm_case(const char *label, int N, int C, int S, float momentum,
                                 float offset, float first_image_shift)
{
    char name[160];
    const size_t xn = (size_t)N * C * S;
    const float eps = 1e-5f;
    float *x = rand_floats(xn), *gamma = rand_floats(C), *beta = rand_floats(C), *dy = rand_floats(xn);
    for (size_t i = 0; i < xn; i++) /* an offset mean: the variance must not cancel */
        x[i] = offset + 2.0f * x[i] + (i < (size_t)C * S ? first_image_shift : 0.0f);
    float *rm = rand_floats(C), *rv = filled(C, 0.0f), *y = filled(xn, NAN);
    float *mean = filled(C, NAN), *invstd = filled(C, NAN);
    double *ry = zeros_d(xn), *rdx = zeros_d(xn), *rdg = zeros_d(C), *rdb = zeros_d(C);
    double *rrm = zeros_d(C), *rrv = zeros_d(C), *rinv = zeros_d(C);
    for (int c = 0; c < C; c++)
        rv[c] = 1.5f + 0.5f * frand();
    const double cnt = (double)N * S;
    for (int c = 0; c < C; c++) { /* the reference, two passes in double */
        double m = 0.0, v = 0.0, sdy = 0.0, sdyx = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++)
                m += x[((size_t)n * C + c) * S + s];
        m /= cnt;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double d = x[((size_t)n * C + c) * S + s] - m;
                v += d * d;
            }
        v /= cnt;
        const double inv = 1.0 / sqrt(v + eps);
        rinv[c] = inv;
        rrm[c] = (1.0 - momentum) * rm[c] + momentum * m;
        rrv[c] = (1.0 - momentum) * rv[c] + momentum * v * cnt / (cnt - 1.0);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                double xh = (x[i] - m) * inv;
                ry[i] = xh * gamma[c] + beta[c];
                sdy += dy[i];
                sdyx += dy[i] * xh;
            }
        rdg[c] = sdyx, rdb[c] = sdy;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                double xh = (x[i] - m) * inv;
                rdx[i] = gamma[c] * inv * (dy[i] - sdy / cnt - xh * sdyx / cnt);
            }
    }
    /* the float32 mean itself is off by up to half an ulp of the offset: y's floor */
    const double atol_y = 1e-5 + 1.2e-7 * offset;
    snprintf(name, sizeof name, "batch_norm %s training", label);
    check_status(bb_batch_norm_f32(N, C, S, x, gamma, beta, eps, 1, momentum, rm, rv, y, mean,
                                   invstd), BB_OK, name);
    check_close(name, y, ry, xn, atol_y, 1e-4);
    snprintf(name, sizeof name, "batch_norm %s invstd", label);
    check_close(name, invstd, rinv, C, 0, 1e-5);
    snprintf(name, sizeof name, "batch_norm %s running mean", label);
    check_close(name, rm, rrm, C, 1e-6, 1e-5);
    snprintf(name, sizeof name, "batch_norm %s running var", label);
    check_close(name, rv, rrv, C, 1e-6, 1e-5);

    float *dx = filled(xn, NAN), *dg = filled(C, NAN), *db = filled(C, NAN);
    snprintf(name, sizeof name, "batch_norm %s backward", label);
    check_status(bb_batch_norm_backward_f32(N, C, S, x, gamma, mean, invstd, 1, dy, dx, dg, db),
                 BB_OK, name);
    check_close(name, dx, rdx, xn, 1e-4 + atol_y, 1e-3);
    snprintf(name, sizeof name, "batch_norm %s dgamma", label);
    check_close(name, dg, rdg, C, 1e-4 * cnt, 1e-4);
    snprintf(name, sizeof name, "batch_norm %s dbeta", label);
    check_close(name, db, rdb, C, 1e-5 * cnt, 1e-5);

    /* evaluation: the running statistics just written, and dx = dy * gamma * invstd */
    for (int c = 0; c < C; c++) {
        const double inv = 1.0 / sqrt((double)rv[c] + eps);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                ry[i] = (x[i] - rm[c]) * inv * gamma[c] + beta[c];
                rdx[i] = dy[i] * gamma[c] * inv;
            }
    }
    snprintf(name, sizeof name, "batch_norm %s eval", label);
    check_status(bb_batch_norm_f32(N, C, S, x, gamma, beta, eps, 0, momentum, rm, rv, y, mean,
                                   invstd), BB_OK, name);
    check_close(name, y, ry, xn, atol_y, 1e-4);
    snprintf(name, sizeof name, "batch_norm %s eval backward", label);
    check_status(bb_batch_norm_backward_f32(N, C, S, x, gamma, mean, invstd, 0, dy, dx, NULL, NULL),
                 BB_OK, name);
    check_close(name, dx, rdx, xn, 1e-5, 1e-4);
    free(x), free(gamma), free(beta), free(dy), free(rm), free(rv), free(y), free(mean);
    free(invstd), free(ry), free(rdx), free(rdg), free(rdb), free(rrm), free(rrv), free(rinv);
    free(dx), free(dg), free(db);
}

static void test_batch_norm(void)
{
    test_batch_norm_case("(4,3,5x7)", 4, 3, 35, 0.1f, 3.0f, 0.0f);
    test_batch_norm_case("(16,5) features", 16, 5, 1, 0.3f, 3.0f, 0.0f);
    test_batch_norm_case("(2,4,1x1)", 2, 4, 1, 1.0f, 3.0f, 0.0f);
    test_batch_norm_case("(1,2,17) one image", 1, 2, 17, 0.0f, 3.0f, 0.0f);
    test_batch_norm_case("(16,6,20x20) threaded", 16, 6, 400, 0.1f, 3.0f, 0.0f);
    /* a mean far from zero, and a first image (the kernel's shift) far from the others */
    test_batch_norm_case("(8,3,6x6) mean 1000", 8, 3, 36, 0.1f, 1000.0f, 0.0f);
    test_batch_norm_case("(8,3,6x6) odd first image", 8, 3, 36, 0.1f, 3.0f, 40.0f);

    float x[4] = {1, 2, 3, 4}, y[4], m[2], s[2], rm[2] = {0, 0}, rv[2] = {1, 1};
    check_status(bb_batch_norm_f32(1, 2, 1, x, NULL, NULL, 1e-5f, 1, 0.1f, rm, rv, y, m, s),
                 BB_ERR_SHAPE, "batch_norm one value per channel in training");
    check_status(bb_batch_norm_f32(1, 2, 1, x, NULL, NULL, 1e-5f, 0, 0.1f, rm, rv, y, m, s), BB_OK,
                 "batch_norm one value per channel in eval");
    check(fabsf(y[1] - 2.0f / sqrtf(1.0f + 1e-5f)) < 1e-6f, "batch_norm eval without gamma/beta");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 1e-5f, 1, 0.1f, NULL, NULL, y, m, s), BB_OK,
                 "batch_norm training without running statistics");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 1e-5f, 1, 0.1f, rm, NULL, y, m, s),
                 BB_ERR_NULL, "batch_norm running_var missing");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 1e-5f, 0, 0.1f, NULL, NULL, y, m, s),
                 BB_ERR_NULL, "batch_norm eval needs running statistics");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 1e-5f, 1, 0.1f, rm, rv, y, NULL, s),
                 BB_ERR_NULL, "batch_norm training needs save_mean");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 0.0f, 1, 0.1f, rm, rv, y, m, s),
                 BB_ERR_ARGUMENT, "batch_norm eps 0");
    check_status(bb_batch_norm_f32(2, 2, 1, x, NULL, NULL, 1e-5f, 1, 1.5f, rm, rv, y, m, s),
                 BB_ERR_ARGUMENT, "batch_norm momentum > 1");
    check_status(bb_batch_norm_f32(2, 0, 1, x, NULL, NULL, 1e-5f, 1, 0.1f, rm, rv, y, m, s),
                 BB_ERR_SHAPE, "batch_norm channels 0");
    check_status(bb_batch_norm_backward_f32(2, 2, 1, NULL, NULL, m, s, 1, x, y, NULL, NULL),
                 BB_ERR_NULL, "batch_norm backward needs x in training");
    check_status(bb_batch_norm_backward_f32(2, 2, 1, x, NULL, NULL, s, 1, x, y, NULL, NULL),
                 BB_ERR_NULL, "batch_norm backward needs the saved mean");
}

/* ---- global average pooling ------------------------------------------------ */

static void test_global_avg_pool(void)
{
    const int N = 2, C = 3, H = 5, W = 7;
    const size_t xn = (size_t)N * C * H * W, yn = (size_t)N * C;
    float *x = rand_floats(xn), *y = filled(yn, NAN), *dy = rand_floats(yn), *dx = filled(xn, NAN);
    double *ry = zeros_d(yn), *rdx = zeros_d(xn);
    for (size_t i = 0; i < xn; i++) {
        ry[i / (H * W)] += x[i] / (double)(H * W);
        rdx[i] = dy[i / (H * W)] / (double)(H * W);
    }
    check_status(bb_global_avg_pool2d_f32(N, C, H, W, x, y), BB_OK, "global_avg_pool");
    check_close("global_avg_pool forward", y, ry, yn, 1e-6, 1e-6);
    check_status(bb_global_avg_pool2d_backward_f32(N, C, H, W, dy, dx), BB_OK, "global_avg_pool backward");
    check_close("global_avg_pool backward", dx, rdx, xn, 1e-7, 1e-6);
    check_status(bb_global_avg_pool2d_f32(N, C, 0, W, x, y), BB_ERR_SHAPE, "global_avg_pool height 0");
    check_status(bb_global_avg_pool2d_f32(N, C, H, W, NULL, y), BB_ERR_NULL, "global_avg_pool x NULL");
    check_status(bb_global_avg_pool2d_backward_f32(N, C, H, W, dy, NULL), BB_ERR_NULL,
                 "global_avg_pool backward dx NULL");
    free(x), free(y), free(dy), free(dx), free(ry), free(rdx);
}

int main(void)
{
    test_status();
    test_sgemm();
    test_linear();
    test_conv();
    test_pool();
    test_softmax();
    test_optim();
    test_conv_pool_s8();
    test_accumulator_bound_s8();
    test_requantize_saturation_s8();
    test_depthwise();
    test_batch_norm();
    test_global_avg_pool();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
