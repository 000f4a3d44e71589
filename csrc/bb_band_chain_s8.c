/* bb_band_chain_s8.c: a chain of int8 convolutions in bands of output rows (see
 * bb_band_chain_s8.h). One walk over the bands serves both the scratch size (a dry run
 * that only measures) and the run, so the two cannot disagree. */
#include <string.h>
#include "bb_band_chain_s8.h"
#include "bb_int8_graph.h"
#include "bb_int8_checks.h"

enum { MAX = BB_CHAIN_MAX_STAGES };

static size_t aligned4(size_t n) { return (n + 3u) & ~(size_t)3u; }

static int32_t max32(int32_t a, int32_t b) { return a > b ? a : b; }
static int32_t min32(int32_t a, int32_t b) { return a < b ? a : b; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* A depthwise stage's input rows slide: the rows the next band still needs are kept.
 * Pointwise and conv stages get a dense band filled afresh. */
static int slides(const bb_chain_stage *st) { return st->type == BB_STAGE_DEPTHWISE; }

static bb_status check_stage(const bb_chain_stage *st, int32_t index, const bb_s8_dims *in, bb_s8_dims *out)
{
    const bb_s8_window *c = &st->conv;
    int32_t oh, ow;
    bb_status s = bb_check_dims_s8(in);
    if (s != BB_OK)
        return s;
    if ((s = bb_check_quant_out(&st->quant)) != BB_OK)
        return s;
    if (st->out_channels <= 0)
        return BB_ERR_SHAPE;
    switch (st->type) {
    case BB_STAGE_POINTWISE:
        if (c->kernel_height != 1 || c->kernel_width != 1 || c->stride_height != 1 || c->stride_width != 1 ||
            c->pad_top != 0 || c->pad_bottom != 0 || c->pad_left != 0 || c->pad_right != 0)
            return BB_ERR_ARGUMENT;
        break;
    case BB_STAGE_DEPTHWISE:
        if (st->out_channels != in->channels)
            return BB_ERR_SHAPE; /* multiplier 1 */
        break;
    case BB_STAGE_CONV:
        if (index != 0)
            return BB_ERR_ARGUMENT; /* its dense band is copied from the chain's input */
        break;
    default:
        return BB_ERR_ARGUMENT;
    }
    if ((s = bb_check_conv_s8(in, st->out_channels, c, &oh, &ow)) != BB_OK)
        return s;
    if (c->pad_top >= c->kernel_height || c->pad_bottom >= c->kernel_height)
        return BB_ERR_ARGUMENT; /* a band could lie all in the padding */
    out->batch = 1;
    out->channels = st->out_channels;
    out->height = oh;
    out->width = ow;
    return BB_OK;
}

/* d[0] = in, d[s + 1] = stage s's output. */
static bb_status chain_dims(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages, int32_t band_rows,
                            bb_s8_dims d[MAX + 1])
{
    if (in == NULL || stages == NULL)
        return BB_ERR_NULL;
    if (count < 1 || count > MAX || in->batch != 1)
        return BB_ERR_ARGUMENT;
    d[0] = *in;
    for (int32_t s = 0; s < count; s++) {
        bb_status status = check_stage(&stages[s], s, &d[s], &d[s + 1]);
        if (status != BB_OK)
            return status;
    }
    if (band_rows < 1 || band_rows > d[count].height)
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

bb_status bb_band_chain_s8_output(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                                  int32_t band_rows, bb_s8_dims *out)
{
    bb_s8_dims d[MAX + 1];
    if (out == NULL)
        return BB_ERR_NULL;
    bb_status s = chain_dims(in, count, stages, band_rows, d);
    if (s == BB_OK)
        *out = d[count];
    return s;
}

int bb_band_chain_s8_in_place_ok(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages)
{
    bb_s8_dims d[MAX + 1];
    if (chain_dims(in, count, stages, 1, d) != BB_OK)
        return 0;
    for (int32_t s = 0; s < count; s++) {
        /* same shape through every stage: with pad_top < kernel_height, a band's input
         * rows reach at least as far down as its output rows */
        if (stages[s].type == BB_STAGE_CONV || d[s + 1].channels != d[s].channels ||
            d[s + 1].height != d[s].height || d[s + 1].width != d[s].width)
            return 0;
    }
    return 1;
}

/* What a walk measures (dry run) or uses (run): the largest kernel scratch, each
 * stage's input buffer, the dense output band of a pointwise or conv stage. */
typedef struct sizes {
    size_t kernel;
    int32_t rows[MAX]; /* the most rows stage s's buffer holds */
    size_t temp;
} sizes;

static size_t buffer_bytes(const bb_s8_dims *d, int32_t rows)
{
    return (size_t)d->channels * (size_t)rows * (size_t)d->width;
}

/* The walk's state for one chain. */
typedef struct walk {
    bb_s8_dims d[MAX + 1];
    const bb_chain_stage *st;
    const bb_chain_weights *wt;
    int32_t count;
    int run; /* 0: a dry run that fills `z` */
    sizes z;
    int8_t *kernel, *buf[MAX], *temp;
    int32_t have_lo[MAX], have_hi[MAX]; /* rows of d[s] held in buf[s] */
    /* per band */
    int32_t need_lo[MAX], need_hi[MAX], new_lo[MAX], pad_top[MAX], pad_bottom[MAX], out_lo[MAX], out_hi[MAX];
} walk;

/* Channel stride of stage s's buffer this band. */
static size_t buf_stride(const walk *k, int32_t s)
{
    const int32_t rows = slides(&k->st[s]) ? k->z.rows[s] : k->need_hi[s] - k->need_lo[s];
    return (size_t)rows * (size_t)k->d[s].width;
}

/* Copy `rows` rows per channel from src (channel stride src_stride) to dst (dst_stride),
 * two regions that do not overlap. */
static void copy_rows(int32_t channels, int32_t rows, int32_t width, const int8_t *src, size_t src_stride,
                      int8_t *dst, size_t dst_stride)
{
    const size_t n = (size_t)rows * (size_t)width;
    for (int32_t c = 0; c < channels; c++)
        memcpy(dst + (size_t)c * dst_stride, src + (size_t)c * src_stride, n);
}

/* The kept rows of a sliding buffer to the front of each channel's rows (they may
 * overlap their new place). */
static void slide_rows(int32_t channels, int32_t rows, int32_t width, int8_t *buf, size_t from, size_t stride)
{
    const size_t n = (size_t)rows * (size_t)width;
    for (int32_t c = 0; c < channels; c++)
        memmove(buf + (size_t)c * stride, buf + (size_t)c * stride + from, n);
}

/* Stage s over its buffer, for its output rows [out_lo, out_hi), into dst (channel stride
 * dst_stride, at its first output row). */
static bb_status run_stage(walk *k, int32_t s, int8_t *dst, size_t dst_stride)
{
    const bb_chain_stage *st = &k->st[s];
    const bb_s8_dims *d = &k->d[s];
    const int32_t rows_in = k->need_hi[s] - k->need_lo[s], rows_out = k->out_hi[s] - k->out_lo[s];
    bb_s8_window win = st->conv;
    win.pad_top = k->pad_top[s];
    win.pad_bottom = k->pad_bottom[s];
    const int32_t out_w = k->d[s + 1].width, out_c = k->d[s + 1].channels;
    const size_t out_band = (size_t)rows_out * (size_t)out_w;
    const bb_chain_weights *wt = k->run ? &k->wt[s] : NULL;
    if (st->type == BB_STAGE_DEPTHWISE) {
        const bb_s8_dims plane = {1, 1, rows_in, d->width};
        const int32_t taps = win.kernel_height * win.kernel_width;
        const size_t stride = buf_stride(k, s);
        if (!k->run) {
            k->z.kernel = max_size(k->z.kernel, bb_depthwise_conv2d_s8_scratch_size(&plane, &win));
            return BB_OK;
        }
        for (int32_t c = 0; c < d->channels; c++) {
            bb_status status = bb_depthwise_conv2d_s8(
                &plane, 1, &win, &st->quant, wt->multiplier + c, wt->shift + c, k->buf[s] + (size_t)c * stride,
                wt->w + (size_t)c * (size_t)taps, wt->bias != NULL ? wt->bias + c : NULL,
                dst + (size_t)c * dst_stride, k->kernel, k->z.kernel);
            if (status != BB_OK)
                return status;
        }
        return BB_OK;
    }
    const bb_s8_dims band = {1, d->channels, rows_in, d->width};
    if (!k->run) {
        const size_t need = st->type == BB_STAGE_POINTWISE
                                ? bb_pointwise_conv2d_s8_scratch_size(&band, out_c)
                                : bb_conv2d_gemm_s8_scratch_size(&band, out_c, &win);
        k->z.kernel = max_size(k->z.kernel, need);
        k->z.temp = max_size(k->z.temp, (size_t)out_c * out_band);
        return BB_OK;
    }
    bb_status status =
        st->type == BB_STAGE_POINTWISE
            ? bb_pointwise_conv2d_s8(&band, out_c, &st->quant, wt->multiplier, wt->shift, k->buf[s], wt->w,
                                     wt->bias, k->temp, k->kernel, k->z.kernel)
            : bb_conv2d_gemm_s8(&band, out_c, &win, &st->quant, wt->multiplier, wt->shift, k->buf[s], wt->w,
                                wt->bias, k->temp, k->kernel, k->z.kernel);
    if (status != BB_OK)
        return status;
    copy_rows(out_c, rows_out, out_w, k->temp, out_band, dst, dst_stride);
    return BB_OK;
}

/* Output rows [a, b) of the chain. */
static bb_status band(walk *k, int32_t a, int32_t b, const int8_t *x, int8_t *y)
{
    /* Backward: the rows each stage needs, and the new ones its producer must compute. */
    int32_t lo = a, hi = b, top = 0, fresh_input = 1;
    for (int32_t s = k->count - 1; s >= 0; s--) {
        const bb_s8_window *c = &k->st[s].conv;
        const int32_t start = lo * c->stride_height - c->pad_top;
        const int32_t end = (hi - 1) * c->stride_height - c->pad_top + c->kernel_height;
        k->out_lo[s] = lo;
        k->out_hi[s] = hi;
        k->need_lo[s] = max32(0, start);
        k->need_hi[s] = min32(k->d[s].height, end);
        k->pad_top[s] = k->need_lo[s] - start;
        k->pad_bottom[s] = end - k->need_hi[s];
        k->new_lo[s] = slides(&k->st[s]) ? max32(k->have_hi[s], k->need_lo[s]) : k->need_lo[s];
        if (!k->run) {
            k->z.rows[s] = max32(k->z.rows[s], k->need_hi[s] - k->need_lo[s]);
        }
        if (k->new_lo[s] >= k->need_hi[s]) {
            top = s; /* buffer s already holds every row: the stages before s rest */
            fresh_input = 0;
            break;
        }
        lo = k->new_lo[s];
        hi = k->need_hi[s];
    }
    /* Forward: slide each buffer to its new rows (kept rows to the front), copy the
     * chain's new input rows, then run the stages in order, each writing its output rows
     * where the next stage's buffer (or y) expects them. */
    for (int32_t s = top; s < k->count; s++) {
        if (k->run && slides(&k->st[s])) {
            const int32_t from = max32(k->have_lo[s], k->need_lo[s]), kept = k->have_hi[s] - from;
            if (kept > 0 && from > k->have_lo[s]) {
                const size_t stride = buf_stride(k, s), width = (size_t)k->d[s].width;
                slide_rows(k->d[s].channels, kept, k->d[s].width, k->buf[s], (size_t)(from - k->have_lo[s]) * width,
                           stride);
            }
        }
        k->have_lo[s] = k->need_lo[s];
        k->have_hi[s] = k->need_hi[s];
    }
    if (fresh_input && k->run) {
        const bb_s8_dims *d = &k->d[0];
        const size_t plane = (size_t)d->height * (size_t)d->width, width = (size_t)d->width;
        copy_rows(d->channels, k->need_hi[0] - k->new_lo[0], d->width, x + (size_t)k->new_lo[0] * width, plane,
                  k->buf[0] + (size_t)(k->new_lo[0] - k->need_lo[0]) * width, buf_stride(k, 0));
    }
    for (int32_t s = top; s < k->count; s++) {
        int8_t *dst = NULL;
        size_t dst_stride = 0;
        if (k->run && s == k->count - 1) {
            const bb_s8_dims *o = &k->d[s + 1];
            dst_stride = (size_t)o->height * (size_t)o->width;
            dst = y + (size_t)a * (size_t)o->width;
        } else if (k->run) {
            dst_stride = buf_stride(k, s + 1);
            dst = k->buf[s + 1] + (size_t)(k->new_lo[s + 1] - k->need_lo[s + 1]) * (size_t)k->d[s + 1].width;
        }
        bb_status status = run_stage(k, s, dst, dst_stride);
        if (status != BB_OK)
            return status;
    }
    return BB_OK;
}

static bb_status walk_bands(walk *k, int32_t band_rows, const int8_t *x, int8_t *y)
{
    for (int32_t s = 0; s < k->count; s++)
        k->have_lo[s] = k->have_hi[s] = 0;
    const int32_t oh = k->d[k->count].height;
    for (int32_t a = 0; a < oh; a += band_rows) {
        bb_status s = band(k, a, min32(a + band_rows, oh), x, y);
        if (s != BB_OK)
            return s;
    }
    return BB_OK;
}

/* The dry run: the sizes of every region. */
static bb_status measure(walk *k, const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                         int32_t band_rows, size_t *total)
{
    memset(k, 0, sizeof *k);
    bb_status s = chain_dims(in, count, stages, band_rows, k->d);
    if (s != BB_OK)
        return s;
    k->st = stages;
    k->count = count;
    if ((s = walk_bands(k, band_rows, NULL, NULL)) != BB_OK)
        return s;
    uint64_t bytes = aligned4(k->z.kernel) + aligned4(k->z.temp);
    for (int32_t i = 0; i < count; i++)
        bytes += aligned4(buffer_bytes(&k->d[i], k->z.rows[i]));
    if (k->z.kernel == 0 || bytes > INT32_MAX)
        return BB_ERR_SHAPE; /* a kernel refuses its band */
    *total = (size_t)bytes;
    return BB_OK;
}

size_t bb_band_chain_s8_scratch_size(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                                     int32_t band_rows)
{
    walk k;
    size_t total = 0;
    return measure(&k, in, count, stages, band_rows, &total) == BB_OK ? total : 0;
}

bb_status bb_band_chain_s8(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                           const bb_chain_weights *weights, int32_t band_rows, const int8_t *x, int8_t *y,
                           int8_t *scratch, size_t scratch_bytes)
{
    walk k;
    size_t need = 0;
    bb_status s = measure(&k, in, count, stages, band_rows, &need);
    if (s != BB_OK)
        return s;
    if (weights == NULL || x == NULL || y == NULL)
        return BB_ERR_NULL;
    for (int32_t i = 0; i < count; i++) {
        if (weights[i].w == NULL || weights[i].multiplier == NULL || weights[i].shift == NULL)
            return BB_ERR_NULL;
        if ((s = bb_check_requant(stages[i].out_channels, weights[i].multiplier, weights[i].shift)) != BB_OK)
            return s;
    }
    if (x == y && !bb_band_chain_s8_in_place_ok(in, count, stages))
        return BB_ERR_ARGUMENT;
    if (scratch == NULL || scratch_bytes < need || ((uintptr_t)scratch & 3u) != 0)
        return BB_ERR_SCRATCH;
    /* the kernel's scratch first (4-byte aligned), then the buffers and the output band */
    int8_t *p = scratch;
    k.kernel = p;
    p += aligned4(k.z.kernel);
    for (int32_t i = 0; i < count; i++) {
        k.buf[i] = p;
        p += aligned4(buffer_bytes(&k.d[i], k.z.rows[i]));
    }
    k.temp = p;
    k.wt = weights;
    k.run = 1;
    return walk_bands(&k, band_rows, x, y);
}
