/* test_graph_kernels.c: the int8 graph kernels' fast paths against their reference
 * paths, on random and extreme cases, on the host and on a QEMU Cortex-M board.
 *
 * Built three ways (tests/c/run.sh, tests/c/run_board.sh):
 *   host, portable C, under ASan and UBSan;
 *   host with -DBB_EMULATE_DSP: the Cortex-M4 path (bb_dsp.h) in portable C, where UBSan
 *     also proves its int32 accumulators never overflow;
 *   mps2-an385 (M3, portable path) and mps2-an386 (M4, real SMLAD), under QEMU; there it
 *     also reports QEMU icount ticks (= instructions) of a DS-CNN layer.
 * The numpy integer references of tests/test_int8_graph_kernels.py check the reference
 * paths against TFLite's arithmetic; this file checks that every fast path gives the
 * same bytes, including at the accumulator bound of bb_int8_graph.h:
 *     |bias| + 255 * sum|w| < 2^31,
 * which is the extreme case quantization can produce (bias at the limit, every weight
 * -128, every input 255 away from the zero point). No malloc, no stdio: the same file
 * runs bare metal through board.h. */
#include <stdint.h>
#include <string.h>
#include "board.h"
#include "bb_int8.h"
#include "bb_int8_graph.h"
#include "bb_requantize.h"
#include "bb_requantize_inline.h"
#include "bb_requant_fast.h"

static uint32_t passed, failed;

/* ---- output without stdio ---------------------------------------------------------- */

/* v /= 10, returning the remainder, in 32-bit steps over 16-bit chunks: a 64-bit
 * division would link libgcc's routine into the board image. */
static uint32_t divide10(uint64_t *v)
{
    uint64_t q = 0;
    uint32_t rest = 0;
    for (int bit = 48; bit >= 0; bit -= 16) {
        const uint32_t part = (rest << 16) | (uint32_t)((*v >> bit) & 0xFFFFu);
        q |= (uint64_t)(part / 10u) << bit;
        rest = part % 10u;
    }
    *v = q;
    return rest;
}

static void print_int(int64_t v)
{
    char buf[24];
    char *p = buf + sizeof buf - 1;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1u : (uint64_t)v;
    *p = '\0';
    do {
        *--p = (char)('0' + divide10(&u));
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    board_print(p);
}

static void check(int ok, const char *what, int32_t index)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    board_print("FAIL: ");
    board_print(what);
    board_print(" #");
    print_int(index);
    board_print("\n");
}

/* ---- random numbers ---------------------------------------------------------------- */

static uint32_t state = 2463534242u;

static uint32_t next_u32(void) /* xorshift32 */
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int32_t uniform(int32_t lo, int32_t hi) /* in [lo, hi] */
{
    return lo + (int32_t)(next_u32() % (uint32_t)(hi - lo + 1));
}

static void fill_i8(int8_t *p, size_t n, int extreme)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (int8_t)(extreme ? (next_u32() & 1u ? 127 : -128) : uniform(-128, 127));
}

/* Per channel: a multiplier and shift, now and then at the extremes. */
static void fill_requant(int32_t *m, int32_t *s, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        const uint32_t r = next_u32() % 12u;
        /* 2^30 exactly and shifts of 0 and -1..-3 sit at the edges of the kernels'
         * single-rounding requantization (bb_requant_fast.h) */
        m[i] = r == 0 ? INT32_MAX : (r == 1 ? 0 : (r == 8 ? 1 << 30 : (int32_t)((1u << 30) + (next_u32() >> 2))));
        s[i] = r == 2 ? 30 : (r == 3 ? -31 : (r == 9 ? 0 : (r == 10 ? uniform(-3, -1) : uniform(-11, -4))));
    }
}

/* Biases at the accumulator bound when `at_bound`, else small. */
static void fill_bias(int32_t *bias, const int8_t *w, int32_t channels, int32_t taps, int at_bound)
{
    for (int32_t c = 0; c < channels; c++) {
        int64_t sum_abs = 0;
        for (int32_t i = 0; i < taps; i++)
            sum_abs += w[(size_t)c * (size_t)taps + (size_t)i] < 0 ? -w[(size_t)c * (size_t)taps + (size_t)i]
                                                                   : w[(size_t)c * (size_t)taps + (size_t)i];
        const int64_t room = INT32_MAX - 255 * sum_abs; /* |bias| < room */
        bias[c] = at_bound ? (int32_t)((next_u32() & 1u) ? room - 1 : -(room - 1)) : uniform(-40000, 40000);
    }
}

static bb_quant_out random_quant(int extreme)
{
    bb_quant_out q;
    q.input_offset = extreme ? ((next_u32() & 1u) ? 128 : -127) : uniform(-127, 128);
    q.output_offset = extreme ? ((next_u32() & 1u) ? 127 : -128) : uniform(-128, 127);
    q.activation_min = (next_u32() & 3u) == 0 ? q.output_offset : -128; /* a fused ReLU now and then */
    q.activation_max = (next_u32() & 3u) == 0 ? 100 : 127;
    if (q.activation_min > q.activation_max)
        q.activation_min = q.activation_max;
    return q;
}

/* ---- buffers (static: the board has no heap) ---------------------------------------- */

#define MAX_X 8192
#define MAX_Y 8192
#define MAX_W 4096
#define MAX_C 64
static int8_t x[MAX_X], w[MAX_W], y_fast[MAX_Y + 16], y_ref[MAX_Y], y_inplace[MAX_X];
static int32_t bias[MAX_C * 4], mult[MAX_C * 4], shift_[MAX_C * 4];
static union {
    int8_t bytes[4096];
    uint32_t align;
} scratch;

/* ---- depthwise ---------------------------------------------------------------------- */

static void test_depthwise_random(int32_t cases)
{
    for (int32_t t = 0; t < cases; t++) {
        const int extreme = t % 4 == 3;
        bb_s8_dims in = {uniform(1, 2), uniform(1, 5), uniform(1, 11), uniform(1, 11)};
        const int32_t dm = uniform(1, 3);
        bb_s8_window win;
        const int three = t % 2 == 0;
        win.kernel_height = three ? 3 : uniform(1, 5);
        win.kernel_width = three ? 3 : uniform(1, 5);
        win.stride_height = uniform(1, 3);
        win.stride_width = three ? uniform(1, 2) : uniform(1, 3);
        win.pad_top = uniform(0, win.kernel_height - 1);
        win.pad_bottom = uniform(0, win.kernel_height - 1);
        win.pad_left = uniform(0, win.kernel_width - 1);
        win.pad_right = uniform(0, win.kernel_width - 1);
        if (in.height + win.pad_top + win.pad_bottom < win.kernel_height)
            in.height = win.kernel_height;
        if (in.width + win.pad_left + win.pad_right < win.kernel_width)
            in.width = win.kernel_width;
        const int32_t oc = in.channels * dm, taps = win.kernel_height * win.kernel_width;
        const size_t nx = (size_t)in.batch * (size_t)in.channels * (size_t)in.height * (size_t)in.width;
        fill_i8(x, nx, extreme);
        fill_i8(w, (size_t)oc * (size_t)taps, extreme);
        if (extreme) /* every weight -128: the largest sum|w| */
            memset(w, 0x80, (size_t)oc * (size_t)taps);
        fill_bias(bias, w, oc, taps, extreme);
        fill_requant(mult, shift_, oc);
        const bb_quant_out q = random_quant(extreme);
        const size_t need = bb_depthwise_conv2d_s8_scratch_size(&in, &win);
        memset(y_fast, 0x55, sizeof y_fast);
        bb_status a = bb_depthwise_conv2d_s8_reference(&in, dm, &win, &q, mult, shift_, x, w, bias, y_ref);
        bb_status b = bb_depthwise_conv2d_s8(&in, dm, &win, &q, mult, shift_, x, w, bias, y_fast,
                                             scratch.bytes, need);
        const int32_t oh = (in.height + win.pad_top + win.pad_bottom - win.kernel_height) / win.stride_height + 1;
        const int32_t ow = (in.width + win.pad_left + win.pad_right - win.kernel_width) / win.stride_width + 1;
        const size_t ny = (size_t)in.batch * (size_t)oc * (size_t)oh * (size_t)ow;
        check(a == BB_OK && b == BB_OK && need <= sizeof scratch.bytes, "depthwise status", t);
        check(memcmp(y_ref, y_fast, ny) == 0, "depthwise fast == reference", t);
        check(y_fast[ny] == 0x55, "depthwise writes nothing past y", t);
        /* In place, where the header allows it: depth multiplier 1, stride 1, same size. */
        if (dm == 1) {
            bb_s8_window same = win;
            same.stride_height = same.stride_width = 1;
            same.pad_top = (same.kernel_height - 1) / 2;
            same.pad_bottom = same.kernel_height - 1 - same.pad_top;
            same.pad_left = (same.kernel_width - 1) / 2;
            same.pad_right = same.kernel_width - 1 - same.pad_left;
            memcpy(y_inplace, x, nx);
            a = bb_depthwise_conv2d_s8_reference(&in, 1, &same, &q, mult, shift_, x, w, bias, y_ref);
            b = bb_depthwise_conv2d_s8(&in, 1, &same, &q, mult, shift_, y_inplace, w, bias, y_inplace,
                                       scratch.bytes, bb_depthwise_conv2d_s8_scratch_size(&in, &same));
            check(a == BB_OK && b == BB_OK && memcmp(y_ref, y_inplace, nx) == 0, "depthwise in place", t);
        }
    }
}

/* ---- 1x1 convolution ------------------------------------------------------------------ */

static void test_pointwise_random(int32_t cases)
{
    for (int32_t t = 0; t < cases; t++) {
        const int extreme = t % 4 == 3;
        /* every fifth case wide: the M4 path's two-group turns, many channel pairs */
        const int wide = t % 5 == 4;
        const bb_s8_dims in = {uniform(1, 2), uniform(1, wide ? 64 : 40), uniform(1, 6), uniform(1, 7)};
        const int32_t oc = uniform(1, wide ? 40 : 9);
        const size_t nx = (size_t)in.batch * (size_t)in.channels * (size_t)in.height * (size_t)in.width;
        fill_i8(x, nx, extreme);
        fill_i8(w, (size_t)oc * (size_t)in.channels, extreme);
        if (extreme)
            memset(w, 0x80, (size_t)oc * (size_t)in.channels);
        fill_bias(bias, w, oc, in.channels, extreme);
        fill_requant(mult, shift_, oc);
        const bb_quant_out q = random_quant(extreme);
        const size_t ny = nx / (size_t)in.channels * (size_t)oc;
        memset(y_fast, 0x55, sizeof y_fast);
        bb_status a = bb_pointwise_conv2d_s8_reference(&in, oc, &q, mult, shift_, x, w, bias, y_ref);
        bb_status b = bb_pointwise_conv2d_s8(&in, oc, &q, mult, shift_, x, w, bias, y_fast, scratch.bytes,
                                             bb_pointwise_conv2d_s8_scratch_size(&in, oc));
        check(a == BB_OK && b == BB_OK, "pointwise status", t);
        check(memcmp(y_ref, y_fast, ny) == 0, "pointwise fast == reference", t);
        check(y_fast[ny] == 0x55, "pointwise writes nothing past y", t);
    }
}

/* ---- fully connected: bb_linear_s8 against the 1x1 reference -----------------------
 * A batch of feature vectors is a 1x1 image per sample, so the 1x1 reference is the
 * oracle; in_features up to 70 covers the DSP path's words and every tail length. */

static void test_linear_random(int32_t cases)
{
    for (int32_t t = 0; t < cases; t++) {
        const int extreme = t % 4 == 3;
        const bb_s8_dims in = {uniform(1, 3), uniform(1, 70), 1, 1};
        const int32_t oc = uniform(1, 11);
        const size_t nx = (size_t)in.batch * (size_t)in.channels;
        fill_i8(x, nx, extreme);
        fill_i8(w, (size_t)oc * (size_t)in.channels, extreme);
        if (extreme)
            memset(w, 0x80, (size_t)oc * (size_t)in.channels);
        fill_bias(bias, w, oc, in.channels, extreme);
        fill_requant(mult, shift_, oc);
        const bb_quant_out q = random_quant(extreme);
        const size_t ny = (size_t)in.batch * (size_t)oc;
        memset(y_fast, 0x55, sizeof y_fast);
        bb_status a = bb_pointwise_conv2d_s8_reference(&in, oc, &q, mult, shift_, x, w, bias, y_ref);
        bb_status b = bb_linear_s8(in.batch, in.channels, oc, &q, mult, shift_, x, w, bias, y_fast);
        check(a == BB_OK && b == BB_OK, "linear status", t);
        check(memcmp(y_ref, y_fast, ny) == 0, "linear == 1x1 reference", t);
        check(y_fast[ny] == 0x55, "linear writes nothing past y", t);
    }
}

/* ---- convolution as bands of 1x1 products, against bb_conv2d_s8 ------------------------ */

static union {
    int8_t bytes[16384];
    uint32_t align;
} gemm_scratch;

/* Rows longer than the weight sum's chunk of 127 words (508 weights), all weights at
 * -128 or 127 or random: the bias terms' lane sums at their bounds. */
static void test_pointwise_long_rows(void)
{
    static const int32_t lengths[] = {507, 508, 509, 511, 512, 600, 1017, 1020};
    for (int32_t t = 0; t < 24; t++) {
        const bb_s8_dims in = {1, lengths[t % 8], 1, 5};
        const int32_t oc = 3, kind = t / 8;
        const size_t nx = (size_t)in.channels * 5u, nw = (size_t)oc * (size_t)in.channels;
        fill_i8(x, nx, 0);
        fill_i8(w, nw, 0);
        if (kind < 2)
            memset(w, kind == 0 ? 0x80 : 0x7F, nw);
        fill_bias(bias, w, oc, in.channels, 0);
        fill_requant(mult, shift_, oc);
        const bb_quant_out q = random_quant(t & 1);
        memset(y_fast, 0x55, sizeof y_fast);
        bb_status a = bb_pointwise_conv2d_s8_reference(&in, oc, &q, mult, shift_, x, w, bias, y_ref);
        bb_status b = bb_pointwise_conv2d_s8(&in, oc, &q, mult, shift_, x, w, bias, y_fast, gemm_scratch.bytes,
                                             bb_pointwise_conv2d_s8_scratch_size(&in, oc));
        check(bb_pointwise_conv2d_s8_scratch_size(&in, oc) <= sizeof gemm_scratch.bytes && a == BB_OK && b == BB_OK &&
                  memcmp(y_ref, y_fast, 15) == 0, "pointwise long rows", t);
    }
}

static void test_conv_gemm_random(int32_t cases)
{
    for (int32_t t = 0; t < cases; t++) {
        const int extreme = t % 4 == 3;
        bb_s8_dims in = {uniform(1, 2), uniform(1, 6), uniform(1, 12), uniform(1, 12)};
        bb_s8_window win;
        win.kernel_height = uniform(1, 5);
        win.kernel_width = uniform(1, 5);
        win.stride_height = uniform(1, 3);
        win.stride_width = uniform(1, 3);
        win.pad_top = uniform(0, win.kernel_height - 1);
        win.pad_bottom = uniform(0, win.kernel_height - 1);
        win.pad_left = uniform(0, win.kernel_width - 1);
        win.pad_right = uniform(0, win.kernel_width - 1);
        if (in.height + win.pad_top + win.pad_bottom < win.kernel_height)
            in.height = win.kernel_height;
        if (in.width + win.pad_left + win.pad_right < win.kernel_width)
            in.width = win.kernel_width;
        const int32_t oc = uniform(1, 9), taps = in.channels * win.kernel_height * win.kernel_width;
        const size_t nx = (size_t)in.batch * (size_t)in.channels * (size_t)in.height * (size_t)in.width;
        fill_i8(x, nx, extreme);
        fill_i8(w, (size_t)oc * (size_t)taps, extreme);
        if (extreme)
            memset(w, 0x80, (size_t)oc * (size_t)taps);
        fill_bias(bias, w, oc, taps, extreme);
        fill_requant(mult, shift_, oc);
        const bb_quant_out q = random_quant(extreme);
        const size_t need = bb_conv2d_gemm_s8_scratch_size(&in, oc, &win);
        const int32_t oh = (in.height + win.pad_top + win.pad_bottom - win.kernel_height) / win.stride_height + 1;
        const int32_t ow = (in.width + win.pad_left + win.pad_right - win.kernel_width) / win.stride_width + 1;
        const size_t ny = (size_t)in.batch * (size_t)oc * (size_t)oh * (size_t)ow;
        memset(y_fast, 0x55, sizeof y_fast);
        bb_status a = bb_conv2d_s8(&in, oc, &win, &q, mult, shift_, x, w, bias, y_ref);
        bb_status b = bb_conv2d_gemm_s8(&in, oc, &win, &q, mult, shift_, x, w, bias, y_fast,
                                        gemm_scratch.bytes, need);
        check(a == BB_OK && b == BB_OK && need > 0 && need <= sizeof gemm_scratch.bytes, "conv gemm status", t);
        check(memcmp(y_ref, y_fast, ny) == 0, "conv gemm == conv2d_s8", t);
        check(y_fast[ny] == 0x55, "conv gemm writes nothing past y", t);
        if (need > 4)
            check(bb_conv2d_gemm_s8(&in, oc, &win, &q, mult, shift_, x, w, bias, y_fast, gemm_scratch.bytes,
                                    need - 1) == BB_ERR_SCRATCH, "conv gemm short scratch", t);
    }
}

/* ---- add, global average pool, concat: extremes under UBSan, and known values -------- */

static void test_add(void)
{
    /* Every int8 pair (1024 pairs at a time: the table path), offsets and requantization
     * at their extremes, the fast path against the reference, then equal scales, where
     * the result is known. */
    static const bb_add_s8_params extremes[] = {
        {128, INT32_MAX, 0, -127, INT32_MAX, 0, 127, INT32_MAX, 30, -128, 127},
        {-127, INT32_MAX, 0, 128, INT32_MAX, 0, -128, INT32_MAX, 30, -128, 127},
        {128, 0, -31, 128, 1, -31, 0, INT32_MAX, -31, -128, 127},
        {-5, 1518500250, -1, 17, 2000000000, 0, -3, 1431655765, -19, -3, 90},
    };
    /* Input multipliers one half, output 2^-20 * 2: y = x1 + x2, saturated. */
    const bb_add_s8_params half = {0, 1 << 30, 0, 0, 1 << 30, 0, 0, 1 << 30, -18, -128, 127};
    static int8_t a[1024], b[1024], out[1024], ref[1024];
    const size_t need = bb_add_s8_scratch_size(sizeof a);
    int ok = need > 0 && need <= sizeof scratch.bytes;
    for (int32_t chunk = 0; chunk < 64; chunk++) {
        for (int32_t i = 0; i < 1024; i++) {
            a[i] = (int8_t)(i % 256 - 128);
            b[i] = (int8_t)(chunk * 4 + i / 256 - 128);
        }
        for (int32_t k = 0; k < 4; k++) {
            ok &= bb_add_s8(&extremes[k], sizeof a, a, b, out, scratch.bytes, need) == BB_OK;
            ok &= bb_add_s8_reference(&extremes[k], sizeof a, a, b, ref) == BB_OK;
            ok &= memcmp(out, ref, sizeof out) == 0;
        }
        ok &= bb_add_s8(&half, sizeof a, a, b, out, scratch.bytes, need) == BB_OK;
        for (int32_t i = 0; i < 1024; i++) {
            const int32_t sum = a[i] + b[i];
            ok &= out[i] == (sum < -128 ? -128 : (sum > 127 ? 127 : sum));
        }
    }
    check(ok, "add: every pair, tables == reference, equal scales as a saturating sum", 0);
    const bb_add_s8_params bad = {0, 1 << 30, 1, 0, 1 << 30, 0, 0, 1 << 30, 0, -128, 127};
    check(bb_add_s8(&bad, 1, a, b, out, NULL, 0) == BB_ERR_ARGUMENT, "add refuses an input shift above 0", 0);
    check(bb_add_s8(&half, sizeof a, a, b, out, scratch.bytes, need - 1) == BB_ERR_SCRATCH, "add scratch", 0);
    check(bb_add_s8(&half, 10, a, b, out, NULL, 0) == BB_OK, "add: no scratch below the threshold", 0);
}

static void test_leaky_relu(void)
{
    /* Every int8 value through the table path (n = 256) and one at a time (the direct
     * path), against the definition with bb_requantize, offsets and multipliers at their
     * extremes; then in place over more than one table's worth. */
    static const bb_leaky_relu_s8_params cases[] = {
        {128, -128, INT32_MAX, 30, INT32_MAX, 30},
        {-127, 127, INT32_MAX, -31, 0, 0},
        {3, -20, 1 << 30, 1, 1717986918, -3},
        {-100, 5, 1518500250, -2, INT32_MAX, 2},
    };
    static int8_t x[300], y[300], one;
    int ok = 1;
    for (int32_t k = 0; k < 4; k++) {
        const bb_leaky_relu_s8_params *p = &cases[k];
        for (int32_t i = 0; i < 256; i++)
            x[i] = (int8_t)(i - 128);
        ok &= bb_leaky_relu_s8(p, 256, x, y) == BB_OK;
        for (int32_t i = 0; i < 256; i++) {
            const int32_t v = x[i] + p->input_offset;
            int32_t r = v >= 0 ? bb_requantize(v, p->identity_multiplier, p->identity_shift)
                               : bb_requantize(v, p->alpha_multiplier, p->alpha_shift);
            r = r > 127 - p->output_offset ? 127 - p->output_offset
                                           : (r < -128 - p->output_offset ? -128 - p->output_offset : r);
            ok &= y[i] == (int8_t)(r + p->output_offset);
            ok &= bb_leaky_relu_s8(p, 1, &x[i], &one) == BB_OK && one == y[i];
        }
    }
    for (int32_t i = 0; i < 300; i++)
        x[i] = (int8_t)((i * 37) % 256 - 128);
    for (int32_t i = 0; i < 300; i++)
        ok &= bb_leaky_relu_s8(&cases[2], 1, &x[i], &y[i]) == BB_OK;
    ok &= bb_leaky_relu_s8(&cases[2], 300, x, x) == BB_OK && memcmp(x, y, 300) == 0;
    check(ok, "leaky relu: every value, table == direct == the definition, in place", 0);
    const bb_leaky_relu_s8_params bad = {129, 0, 1 << 30, 0, 1 << 30, 0};
    check(bb_leaky_relu_s8(&bad, 1, x, y) == BB_ERR_ARGUMENT, "leaky relu refuses input offset 129", 0);
    const bb_leaky_relu_s8_params negative = {0, 0, 1 << 30, 0, -1, 0};
    check(bb_leaky_relu_s8(&negative, 1, x, y) == BB_ERR_ARGUMENT, "leaky relu refuses a negative multiplier", 0);
    check(bb_leaky_relu_s8(&cases[0], 1, NULL, y) == BB_ERR_NULL, "leaky relu NULL input", 0);
}

static void test_global_avg_pool(void)
{
    const bb_s8_dims in = {1, 4, 64, 32}; /* 2048 values a channel */
    const bb_quant_out ext[2] = {{128, 127, -128, 127}, {-127, -128, -128, 127}};
    for (int32_t k = 0; k < 2; k++) {
        memset(x, k == 0 ? 127 : -128, 4 * 2048);
        check(bb_global_avg_pool_s8(&in, &ext[k], INT32_MAX, 30, x, y_fast) == BB_OK, "gap extreme", k);
        check(y_fast[0] == (k == 0 ? 127 : -128), "gap extreme saturates", k);
        check(bb_global_avg_pool_s8(&in, &ext[k], INT32_MAX, -31, x, y_fast) == BB_OK, "gap extreme", k);
    }
    /* Identity scale: the rounded mean. 1 and 2 over two values: 1.5 rounds to 2. */
    const bb_s8_dims two = {1, 2, 1, 2};
    const int8_t v[4] = {1, 2, -1, -2};
    const bb_quant_out id = {0, 0, -128, 127};
    bb_global_avg_pool_s8(&two, &id, 1 << 30, 1, v, y_fast);
    check(y_fast[0] == 2 && y_fast[1] == -2, "gap rounds half away from zero", 0);
}

static void test_concat(void)
{
    const bb_s8_dims out = {2, 3, 5, 7};
    const int32_t channels[2] = {1, 2};
    fill_i8(x, 2 * 35, 0);
    fill_i8(w, 2 * 70, 0);
    const int8_t *inputs[2] = {x, w};
    const bb_rescale_s8 r[2] = {{-4, 1 << 30, 1}, {128, INT32_MAX, 30}};
    check(bb_concat_channels_s8(&out, 2, channels, r, 4, inputs, y_fast) == BB_OK, "concat", 0);
    int ok = memcmp(y_fast, x, 35) == 0 && memcmp(y_fast + 105, x + 35, 35) == 0;
    for (int32_t i = 0; i < 70; i++) /* x + 128 > 0 is huge after a shift of 30, 0 stays 0 + 4 */
        ok &= y_fast[35 + i] == (w[i] == -128 ? 4 : 127) && y_fast[140 + i] == (w[70 + i] == -128 ? 4 : 127);
    check(ok, "concat copies and requantizes", 0);
}

/* ---- the prepared requantization equals bb_requantize ------------------------------------ */

static void test_requant_step(void)
{
    static const int32_t xs[] = {0, 1, -1, 2, -2, 3, 255, -255, 1 << 20, -(1 << 20), 123456789, -123456789,
                                 (1 << 30) - 1, -(1 << 30), INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1};
    static const int32_t ms[] = {0, 1, 2, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX - 1, INT32_MAX};
    int ok = 1, count = 0, fast = 0;
    for (int32_t shift = -40; shift <= 40; shift++) {
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            for (size_t j = 0; j < sizeof ms / sizeof ms[0]; j++) {
                const int32_t x = xs[i], m = ms[j];
                const bb_requant_step step = bb_requant_prepare(m, shift);
                const int32_t want = bb_requantize(x, m, shift);
                ok &= bb_requantize_step(x, &step) == want;
                if (step.left == 0)
                    ok &= bb_requantize_step_right(x, &step) == want;
                if (bb_requant_fast_ok(m, shift)) {
                    const bb_requant_fast f = bb_requant_fast_prepare(m, shift);
                    ok &= bb_requant_fast_apply(x, &f) == want;
                    fast++;
                }
                count++;
            }
        }
    }
    for (int32_t t = 0; t < 20000; t++) { /* random accumulators, multipliers and shifts */
        const int32_t x = (int32_t)next_u32(), m = (int32_t)(next_u32() >> 1), shift = uniform(-31, 30);
        const bb_requant_step step = bb_requant_prepare(m, shift);
        ok &= bb_requantize_step(x, &step) == bb_requantize(x, m, shift);
    }
    /* The single-rounding step on its domain: multipliers above 2^30, right shifts 1..31,
     * accumulators random, small (ties are common there) and at the extremes. */
    for (int32_t t = 0; t < 20000; t++) {
        const int32_t m = (int32_t)((1u << 30) + 1u + next_u32() % ((1u << 30) - 1u)), shift = uniform(-31, -1);
        const uint32_t kind = next_u32() % 4u;
        const int32_t x = kind == 0 ? uniform(-70000, 70000)
                                    : (kind == 1 ? (next_u32() & 1u ? INT32_MIN + uniform(0, 3) : INT32_MAX - uniform(0, 3))
                                                 : (int32_t)next_u32());
        const bb_requant_fast f = bb_requant_fast_prepare(m, shift);
        ok &= bb_requant_fast_apply(x, &f) == bb_requantize(x, m, shift);
        fast++;
    }
    check(ok && count > 0 && fast > 20000, "bb_requantize_step and bb_requant_fast == bb_requantize", 0);
}

/* ---- ticks on the board ------------------------------------------------------------------ */

/* Instructions per tick, measured: under `-icount shift=0` QEMU runs one instruction per
 * virtual nanosecond while SysTick counts the 25 MHz board clock, so a tick is 40
 * instructions; a loop of known length checks that here instead of assuming it. */
static uint32_t instructions_per_tick(void)
{
#if defined(__arm__)
    uint32_t n = 100000;
    const uint64_t t0 = board_ticks();
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc"); /* 2 instructions a turn */
    const uint64_t ticks = board_ticks() - t0;
    return ticks == 0 ? 1u : (uint32_t)((200000u + (uint32_t)ticks / 2u) / (uint32_t)ticks);
#else
    return 1;
#endif
}

static void report(const char *what, uint64_t ticks, int32_t macs, const char *unit)
{
    const uint64_t instructions = ticks * instructions_per_tick();
    board_print(what);
    board_print(": ");
    print_int((int64_t)ticks);
    board_print(" ticks = ");
    print_int((int64_t)instructions);
    board_print(" instructions, ");
    print_int((int64_t)macs);
    board_print(" ");
    board_print(unit);
    board_print("s, ");
    /* instructions * 100 / macs by shift-and-subtract (no 64-bit division routine) */
    uint64_t centi = 0, num = instructions * 100u + (uint64_t)macs / 2u;
    for (int bit = 40; bit >= 0; bit--) {
        if ((num >> bit) >= (uint64_t)macs) {
            num -= (uint64_t)macs << bit;
            centi |= (uint64_t)1 << bit;
        }
    }
    print_int((int64_t)(centi / 100u));
    board_print(".");
    print_int((int64_t)(centi % 100u / 10u));
    print_int((int64_t)(centi % 10u));
    board_print(" instructions per ");
    board_print(unit);
    board_print("\n");
}

/* A DS-CNN layer: 64 channels of 25x5, 3x3 depthwise with "same" padding, then the
 * 64 -> 64 pointwise convolution after it. */
static void bench_ds_cnn(void)
{
    const bb_s8_dims in = {1, 64, 25, 5};
    const bb_s8_window win = {3, 3, 1, 1, 1, 1, 1, 1};
    const bb_quant_out q = {-3, 5, 5, 127};
    fill_i8(x, 64 * 125, 0);
    fill_i8(w, 64 * 64, 0);
    for (int32_t c = 0; c < 64; c++) {
        bias[c] = uniform(-5000, 5000);
        mult[c] = (int32_t)((1u << 30) + (next_u32() >> 2));
        shift_[c] = -8;
    }
    const size_t need = bb_depthwise_conv2d_s8_scratch_size(&in, &win);
    for (int run = 0; run < 2; run++) { /* the first run warms up */
        uint64_t t0 = board_ticks();
        bb_status s = bb_depthwise_conv2d_s8(&in, 1, &win, &q, mult, shift_, x, w, bias, y_fast, scratch.bytes, need);
        uint64_t t1 = board_ticks();
        bb_status r = bb_depthwise_conv2d_s8_reference(&in, 1, &win, &q, mult, shift_, x, w, bias, y_ref);
        uint64_t t2 = board_ticks();
        check(s == BB_OK && r == BB_OK && memcmp(y_fast, y_ref, 64 * 125) == 0, "DS-CNN depthwise", run);
        if (run == 1 && board_has_ticks()) {
            report("depthwise 3x3 64x25x5 fast", t1 - t0, 64 * 125 * 9, "MAC");
            report("depthwise 3x3 64x25x5 reference", t2 - t1, 64 * 125 * 9, "MAC");
        }
    }
    const size_t need_pw = bb_pointwise_conv2d_s8_scratch_size(&in, 64);
    for (int run = 0; run < 2; run++) {
        uint64_t t0 = board_ticks();
        bb_status s = bb_pointwise_conv2d_s8(&in, 64, &q, mult, shift_, x, w, bias, y_fast, scratch.bytes, need_pw);
        uint64_t t1 = board_ticks();
        bb_status r = bb_pointwise_conv2d_s8_reference(&in, 64, &q, mult, shift_, x, w, bias, y_ref);
        uint64_t t2 = board_ticks();
        check(s == BB_OK && r == BB_OK && memcmp(y_fast, y_ref, 64 * 125) == 0, "DS-CNN pointwise", run);
        if (run == 1 && board_has_ticks()) {
            report("pointwise 64->64 25x5 fast", t1 - t0, 64 * 64 * 125, "MAC");
            report("pointwise 64->64 25x5 reference", t2 - t1, 64 * 64 * 125, "MAC");
        }
    }
}

/* MobileNet-like depthwise layers on a wide plane (the ring path): 8 channels of 32x32,
 * 3x3 "same", stride 1 and stride 2 (TF pads the stride-2 one only below and right). */
static void bench_mobilenet(void)
{
    const bb_s8_dims in = {1, 8, 32, 32};
    const bb_s8_window windows[2] = {{3, 3, 1, 1, 1, 1, 1, 1}, {3, 3, 2, 2, 0, 0, 1, 1}};
    const int32_t outputs[2] = {8 * 32 * 32, 8 * 16 * 16};
    const char *names[2] = {"depthwise 3x3 8x32x32 stride 1 fast", "depthwise 3x3 8x32x32 stride 2 fast"};
    const bb_quant_out q = {7, -2, -128, 127};
    fill_i8(x, 8192, 0);
    for (int k = 0; k < 2; k++) {
        const size_t need = bb_depthwise_conv2d_s8_scratch_size(&in, &windows[k]);
        uint64_t ticks = 0;
        for (int run = 0; run < 2; run++) {
            const uint64_t t0 = board_ticks();
            const bb_status s = bb_depthwise_conv2d_s8(&in, 1, &windows[k], &q, mult, shift_, x, w, bias, y_fast,
                                                       scratch.bytes, need);
            ticks = board_ticks() - t0;
            const bb_status r = bb_depthwise_conv2d_s8_reference(&in, 1, &windows[k], &q, mult, shift_, x, w, bias,
                                                                 y_ref);
            check(s == BB_OK && r == BB_OK && memcmp(y_fast, y_ref, (size_t)outputs[k]) == 0, "MobileNet layer", k);
        }
        if (board_has_ticks())
            report(names[k], ticks, outputs[k] * 9, "MAC");
    }
}

/* A residual add of 8192 elements (a 32 x 16 x 16 tensor), scales differing. */
static void bench_add(void)
{
    const bb_add_s8_params p = {-5, 1518500250, -1, 17, 2000000000, 0, -3, 1431655765, -19, -128, 127};
    fill_i8(x, 8192, 0);
    fill_i8(y_inplace, 8192, 0);
    const size_t need = bb_add_s8_scratch_size(8192);
    for (int run = 0; run < 2; run++) {
        const uint64_t t0 = board_ticks();
        const bb_status s = bb_add_s8(&p, 8192, x, y_inplace, y_fast, scratch.bytes, need);
        const uint64_t t1 = board_ticks();
        const bb_status r = bb_add_s8_reference(&p, 8192, x, y_inplace, y_ref);
        const uint64_t t2 = board_ticks();
        check(s == BB_OK && r == BB_OK && memcmp(y_fast, y_ref, 8192) == 0, "add 8192", run);
        if (run == 1 && board_has_ticks()) {
            report("add 8192 elements fast", t1 - t0, 8192, "element");
            report("add 8192 elements reference", t2 - t1, 8192, "element");
        }
    }
}

int main(void)
{
    board_init();
    test_requant_step();
    test_depthwise_random(600);
    test_pointwise_random(400);
    test_pointwise_long_rows();
    test_linear_random(400);
    test_conv_gemm_random(400);
    test_add();
    test_leaky_relu();
    test_global_avg_pool();
    test_concat();
    bench_ds_cnn();
    bench_mobilenet();
    bench_add();
    if (board_has_ticks()) {
        board_print("stack peak ");
        print_int(board_stack_peak());
        board_print(" bytes\n");
    }
    board_print(failed == 0 ? "graph kernels: all " : "graph kernels: FAILED ");
    print_int(failed == 0 ? passed : failed);
    board_print(failed == 0 ? " checks passed\n" : " checks\n");
    board_exit(failed == 0 ? 0 : 1);
    return 0;
}
