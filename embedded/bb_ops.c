/* bb_ops.c: each op kind's check and run, and the table that indexes them by kind.
 *
 * The runtime (bb_runtime.c) has already checked, before any check here runs, that
 * the op has its kind's number of inputs, that every tensor and the scratch lie inside
 * the arena, and that every data slot lies inside the model's data. Each check here
 * then makes the kind's kernel safe to run: data lengths against the shapes, the
 * output shape the kernel will write, parameter ranges, and for weighted ops that the
 * int32 accumulators cannot overflow (bb_check_accumulator_s8). */
#include <stddef.h>
#include "bb_ops.h"
#include "bb_int8_checks.h"
#include "bb_graph_checks.h"
#include "bb_audio.h"

uint32_t bb_tensor_bytes(const bb_tensor *t)
{
    if (t->c <= 0 || t->h <= 0 || t->w <= 0)
        return 0;
    uint64_t n = (uint64_t)t->c * (uint64_t)t->h * (uint64_t)t->w;
    return n > INT32_MAX ? 0 : (uint32_t)n;
}

static bb_s8_dims dims_of(const bb_tensor *t)
{
    const bb_s8_dims d = {1, t->c, t->h, t->w};
    return d;
}

static int same_shape(const bb_tensor *a, const bb_tensor *b)
{
    return a->c == b->c && a->h == b->h && a->w == b->w;
}

/* Slot `slot` holds exactly `bytes` bytes (the runtime checked it lies in the data). */
static int slot_is(const bb_op *op, uint32_t slot, uint64_t bytes)
{
    return slot < op->data_count && op->data[slot].bytes == bytes;
}

static const void *slot_ptr(const bb_op *op, const uint8_t *data, uint32_t slot)
{
    return op->data[slot].bytes == 0 ? NULL : data + op->data[slot].at;
}

/* ---- weighted ops: conv2d, conv2d_pool, linear ------------------------------------ */

/* Data of a layer with `channels` outputs of `taps` weights each in the four slots from
 * `base`: weights, an optional bias, per-channel requantization, and accumulators that
 * cannot overflow. */
static bb_status check_weighted_at(const bb_op *op, const uint8_t *data, uint32_t base, int32_t channels,
                                   int32_t taps, const bb_quant_out *q)
{
    const uint32_t per_channel = 4u * (uint32_t)channels;
    if (!slot_is(op, base + BB_DATA_WEIGHTS, (uint64_t)channels * (uint64_t)taps) ||
        !(slot_is(op, base + BB_DATA_BIAS, per_channel) || slot_is(op, base + BB_DATA_BIAS, 0)) ||
        !slot_is(op, base + BB_DATA_MULTIPLIER, per_channel) || !slot_is(op, base + BB_DATA_SHIFT, per_channel))
        return BB_ERR_SHAPE;
    bb_status s = bb_check_quant_out(q);
    if (s != BB_OK)
        return s;
    s = bb_check_requant(channels, slot_ptr(op, data, base + BB_DATA_MULTIPLIER),
                         slot_ptr(op, data, base + BB_DATA_SHIFT));
    if (s != BB_OK)
        return s;
    return bb_check_accumulator_s8(channels, taps, slot_ptr(op, data, base + BB_DATA_WEIGHTS),
                                   slot_ptr(op, data, base + BB_DATA_BIAS));
}

/* A layer's four slots, and no others. */
static bb_status check_weighted(const bb_op *op, const uint8_t *data, int32_t channels, int32_t taps,
                                const bb_quant_out *q)
{
    if (op->data_count != 4)
        return BB_ERR_SHAPE;
    return check_weighted_at(op, data, 0, channels, taps, q);
}

/* The conv's output shape, then the pool's over it (pool NULL: none). */
static bb_status check_conv_shapes(const bb_op *op, const bb_s8_window *conv, const bb_s8_window *pool,
                                   const bb_quant_out *q, const uint8_t *data)
{
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const bb_s8_dims d = dims_of(in);
    int32_t oh, ow;
    bb_status s = bb_check_conv_s8(&d, out->c, conv, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (pool != NULL) {
        const bb_s8_dims conv_out = {1, out->c, oh, ow};
        if ((s = bb_check_pool_s8(&conv_out, pool, &oh, &ow)) != BB_OK)
            return s;
    }
    if (oh != out->h || ow != out->w)
        return BB_ERR_SHAPE;
    return check_weighted(op, data, out->c, in->c * conv->kernel_height * conv->kernel_width, q);
}

static bb_status check_conv(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_conv_params *p = &op->params.conv;
    return check_conv_shapes(op, &p->conv, NULL, &p->quant, data);
}

static bb_status run_conv(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                          int8_t *scratch)
{
    (void)scratch;
    const bb_conv_params *p = &op->params.conv;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_conv2d_s8(&d, op->output.c, &p->conv, &p->quant, slot_ptr(op, data, BB_DATA_MULTIPLIER),
                        slot_ptr(op, data, BB_DATA_SHIFT), in[0], slot_ptr(op, data, BB_DATA_WEIGHTS),
                        slot_ptr(op, data, BB_DATA_BIAS), out);
}

static bb_status check_conv_pool(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_conv_pool_params *p = &op->params.conv_pool;
    return check_conv_shapes(op, &p->conv, &p->pool, &p->quant, data);
}

static bb_status run_conv_pool(const bb_op *op, const uint8_t *data, const int8_t *const *in,
                               int8_t *out, int8_t *scratch)
{
    (void)scratch;
    const bb_conv_pool_params *p = &op->params.conv_pool;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_conv2d_pool_s8(&d, op->output.c, &p->conv, &p->pool, &p->quant,
                             slot_ptr(op, data, BB_DATA_MULTIPLIER), slot_ptr(op, data, BB_DATA_SHIFT),
                             in[0], slot_ptr(op, data, BB_DATA_WEIGHTS), slot_ptr(op, data, BB_DATA_BIAS),
                             out);
}

/* A linear op reads its (c, h, w) input as c * h * w features. */
static bb_status check_linear(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_tensor *out = &op->output;
    if (out->h != 1 || out->w != 1)
        return BB_ERR_SHAPE;
    return check_weighted(op, data, out->c, (int32_t)bb_tensor_bytes(&op->inputs[0]),
                          &op->params.linear.quant);
}

static bb_status run_linear(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                            int8_t *scratch)
{
    (void)scratch;
    return bb_linear_s8(1, (int)bb_tensor_bytes(&op->inputs[0]), op->output.c, &op->params.linear.quant,
                        slot_ptr(op, data, BB_DATA_MULTIPLIER), slot_ptr(op, data, BB_DATA_SHIFT), in[0],
                        slot_ptr(op, data, BB_DATA_WEIGHTS), slot_ptr(op, data, BB_DATA_BIAS), out);
}

/* ---- pooling, clamp, softmax ------------------------------------------------------ */

static bb_status check_pool(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const bb_s8_dims d = dims_of(in);
    int32_t oh, ow;
    if (op->data_count != 0)
        return BB_ERR_SHAPE;
    bb_status s = bb_check_pool_s8(&d, &op->params.pool.pool, &oh, &ow);
    if (s != BB_OK)
        return s;
    return (out->c == in->c && out->h == oh && out->w == ow) ? BB_OK : BB_ERR_SHAPE;
}

static bb_status run_max_pool(const bb_op *op, const uint8_t *data, const int8_t *const *in,
                              int8_t *out, int8_t *scratch)
{
    (void)data, (void)scratch;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_max_pool2d_s8(&d, &op->params.pool.pool, in[0], out);
}

static bb_status run_avg_pool(const bb_op *op, const uint8_t *data, const int8_t *const *in,
                              int8_t *out, int8_t *scratch)
{
    (void)data, (void)scratch;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_avg_pool2d_s8(&d, &op->params.pool.pool, in[0], out);
}

static bb_status check_clamp(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_clamp_params *p = &op->params.clamp;
    if (op->data_count != 0 || !same_shape(&op->inputs[0], &op->output))
        return BB_ERR_SHAPE;
    if (p->activation_min < -128 || p->activation_max > 127 || p->activation_min > p->activation_max)
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

static bb_status run_clamp(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                           int8_t *scratch)
{
    (void)data, (void)scratch;
    return bb_clamp_s8(bb_tensor_bytes(&op->output), op->params.clamp.activation_min,
                       op->params.clamp.activation_max, in[0], out);
}

/* One row of c values (h = w = 1); slot 0 is the 256-entry exponential table. */
static bb_status check_softmax(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_tensor *out = &op->output;
    if (!same_shape(&op->inputs[0], out) || out->h != 1 || out->w != 1)
        return BB_ERR_SHAPE;
    if (op->data_count != 1 || !slot_is(op, 0, 256 * 4))
        return BB_ERR_SHAPE;
    const int32_t *table = slot_ptr(op, data, 0);
    for (int d = 0; d < 256; d++) {
        if (table[d] < 0 || table[d] > (1 << 20))
            return BB_ERR_ARGUMENT; /* as the kernel checks on every call */
    }
    return table[0] > 0 ? BB_OK : BB_ERR_ARGUMENT;
}

static bb_status run_softmax(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                             int8_t *scratch)
{
    (void)scratch;
    return bb_softmax_s8(1, op->output.c, slot_ptr(op, data, 0), in[0], out);
}

/* ---- graph ops: depthwise, pointwise, add, global average pool, concat ------------ */

/* An image may link only the kernels its model uses: built with BB_OP_KINDS, a bit mask
 * of bb_op_kind values (the exporter writes it as MODEL_OP_KINDS and the embedded
 * Makefile passes it on), the graph ops' rows it leaves out are absent from the table (a
 * model using them is refused at init, as an unknown kind) and their kernels are not
 * linked. The host library builds every row. Numbers, as #if cannot read enum values. */
#ifdef BB_OP_KINDS
#define BB_HAS_KIND(kind) (((BB_OP_KINDS) >> (kind)) & 1)
#else
#define BB_HAS_KIND(kind) 1
#endif


#if BB_HAS_KIND(8)
static bb_status check_depthwise(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_depthwise_params *p = &op->params.depthwise;
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const bb_s8_dims d = dims_of(in);
    const bb_s8_window conv = p->conv;
    int32_t oh, ow;
    if (p->depth_multiplier <= 0 || p->depth_multiplier > INT32_MAX / in->c)
        return BB_ERR_ARGUMENT;
    bb_status s = bb_window_output(in->h, in->w, &conv, &oh, &ow);
    if (s != BB_OK)
        return s;
    if (out->c != in->c * p->depth_multiplier || out->h != oh || out->w != ow)
        return BB_ERR_SHAPE;
    if (in->at == out->at && (p->depth_multiplier != 1 || oh != in->h || ow != in->w))
        return BB_ERR_ARGUMENT; /* in place only where the kernel's row ring allows it */
    const size_t need = bb_depthwise_conv2d_s8_scratch_size(&d, &conv);
    if (need == 0 || need > UINT32_MAX)
        return BB_ERR_SHAPE;
    *scratch = (uint32_t)need;
    return check_weighted(op, data, out->c, conv.kernel_height * conv.kernel_width, &p->quant);
}

static bb_status run_depthwise(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                               int8_t *scratch)
{
    const bb_depthwise_params *p = &op->params.depthwise;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_depthwise_conv2d_s8(&d, p->depth_multiplier, &p->conv, &p->quant,
                                  slot_ptr(op, data, BB_DATA_MULTIPLIER), slot_ptr(op, data, BB_DATA_SHIFT),
                                  in[0], slot_ptr(op, data, BB_DATA_WEIGHTS), slot_ptr(op, data, BB_DATA_BIAS),
                                  out, scratch, op->scratch_bytes);
}

#endif

#if BB_HAS_KIND(9)
static bb_status check_pointwise(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const bb_s8_dims d = dims_of(in);
    if (out->h != in->h || out->w != in->w)
        return BB_ERR_SHAPE;
    const size_t need = bb_pointwise_conv2d_s8_scratch_size(&d, out->c);
    if (need > UINT32_MAX)
        return BB_ERR_SHAPE;
    *scratch = (uint32_t)need;
    if (need > 0 && op->scratch_at % 4 != 0)
        return BB_ERR_SCRATCH; /* the kernel keeps int32 values there */
    return check_weighted(op, data, out->c, in->c, &op->params.pointwise.quant);
}

static bb_status run_pointwise(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                               int8_t *scratch)
{
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_pointwise_conv2d_s8(&d, op->output.c, &op->params.pointwise.quant,
                                  slot_ptr(op, data, BB_DATA_MULTIPLIER), slot_ptr(op, data, BB_DATA_SHIFT),
                                  in[0], slot_ptr(op, data, BB_DATA_WEIGHTS), slot_ptr(op, data, BB_DATA_BIAS),
                                  out, scratch, op->scratch_bytes);
}

#endif

#if BB_HAS_KIND(10) || BB_HAS_KIND(12) || BB_HAS_KIND(15)
static int offset_ok(int32_t offset)
{
    return offset >= -127 && offset <= 128;
}
#endif

#if BB_HAS_KIND(10)
static bb_status check_add(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_add_s8_params *p = &op->params.add;
    if (op->data_count != 0 || !same_shape(&op->inputs[0], &op->output) ||
        !same_shape(&op->inputs[1], &op->output))
        return BB_ERR_SHAPE;
    if (!offset_ok(p->input1_offset) || !offset_ok(p->input2_offset) || p->output_offset < -128 ||
        p->output_offset > 127 || p->activation_min < -128 || p->activation_max > 127 ||
        p->activation_min > p->activation_max || !bb_graph_requant_ok(p->input1_multiplier, p->input1_shift, -31, 0) ||
        !bb_graph_requant_ok(p->input2_multiplier, p->input2_shift, -31, 0) ||
        !bb_graph_requant_ok(p->output_multiplier, p->output_shift, -31, 30))
        return BB_ERR_ARGUMENT;
    *scratch = (uint32_t)bb_add_s8_scratch_size(bb_tensor_bytes(&op->output));
    if (*scratch > 0 && op->scratch_at % 4 != 0)
        return BB_ERR_SCRATCH; /* int32 tables */
    return BB_OK;
}

static bb_status run_add(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                         int8_t *scratch)
{
    (void)data;
    return bb_add_s8(&op->params.add, bb_tensor_bytes(&op->output), in[0], in[1], out, scratch,
                     op->scratch_bytes);
}

#endif

#if BB_HAS_KIND(11)
static bb_status check_global_avg_pool(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_global_avg_pool_params *p = &op->params.global_avg_pool;
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    if (op->data_count != 0 || out->c != in->c || out->h != 1 || out->w != 1 ||
        (int64_t)in->h * in->w > INT32_MAX / 255)
        return BB_ERR_SHAPE;
    bb_status s = bb_check_quant_out(&p->quant);
    if (s != BB_OK)
        return s;
    return bb_graph_requant_ok(p->multiplier, p->shift, -31, 30) ? BB_OK : BB_ERR_ARGUMENT;
}

static bb_status run_global_avg_pool(const bb_op *op, const uint8_t *data, const int8_t *const *in,
                                     int8_t *out, int8_t *scratch)
{
    (void)data, (void)scratch;
    const bb_global_avg_pool_params *p = &op->params.global_avg_pool;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_global_avg_pool_s8(&d, &p->quant, p->multiplier, p->shift, in[0], out);
}

#endif

#if BB_HAS_KIND(12)
static bb_status check_concat(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_concat_params *p = &op->params.concat;
    const bb_tensor *out = &op->output;
    int64_t channels = 0;
    if (op->data_count != 0 || p->output_offset < -128 || p->output_offset > 127)
        return BB_ERR_SHAPE;
    for (uint32_t i = 0; i < BB_OP_MAX_INPUTS; i++) {
        const bb_rescale_s8 *r = &p->inputs[i];
        if (i >= op->input_count) { /* unused: zero, so that no word is ignored */
            if (r->input_offset != 0 || r->multiplier != 0 || r->shift != 0)
                return BB_ERR_ARGUMENT;
            continue;
        }
        const bb_tensor *in = &op->inputs[i];
        if (in->h != out->h || in->w != out->w)
            return BB_ERR_SHAPE;
        if (!offset_ok(r->input_offset) || !bb_graph_requant_ok(r->multiplier, r->shift, -31, 30))
            return BB_ERR_ARGUMENT;
        channels += in->c;
    }
    return channels == out->c ? BB_OK : BB_ERR_SHAPE;
}

static bb_status run_concat(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                            int8_t *scratch)
{
    (void)data, (void)scratch;
    const bb_s8_dims d = dims_of(&op->output);
    int32_t channels[BB_OP_MAX_INPUTS];
    for (uint32_t i = 0; i < op->input_count; i++)
        channels[i] = op->inputs[i].c;
    return bb_concat_channels_s8(&d, (int32_t)op->input_count, channels, op->params.concat.inputs,
                                 op->params.concat.output_offset, in, out);
}

#endif

#if BB_HAS_KIND(13)
static bb_status check_conv_gemm(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    const bb_conv_params *p = &op->params.conv;
    bb_status s = check_conv_shapes(op, &p->conv, NULL, &p->quant, data);
    *scratch = 0;
    if (s != BB_OK)
        return s;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    const size_t need = bb_conv2d_gemm_s8_scratch_size(&d, op->output.c, &p->conv);
    if (need == 0 || need > UINT32_MAX)
        return BB_ERR_SHAPE;
    *scratch = (uint32_t)need;
    return op->scratch_at % 4 == 0 ? BB_OK : BB_ERR_SCRATCH; /* int32 bias terms there */
}

static bb_status run_conv_gemm(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                               int8_t *scratch)
{
    const bb_conv_params *p = &op->params.conv;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    return bb_conv2d_gemm_s8(&d, op->output.c, &p->conv, &p->quant, slot_ptr(op, data, BB_DATA_MULTIPLIER),
                             slot_ptr(op, data, BB_DATA_SHIFT), in[0], slot_ptr(op, data, BB_DATA_WEIGHTS),
                             slot_ptr(op, data, BB_DATA_BIAS), out, scratch, op->scratch_bytes);
}
#endif

#if BB_HAS_KIND(14)
/* BB_OP_MAX_DATA holds four slots per stage */
typedef char bb_chain_slots_fit[BB_OP_MAX_DATA >= 4 * BB_CHAIN_MAX_STAGES ? 1 : -1];

static bb_status check_band_chain(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    *scratch = 0;
    const bb_band_chain_params *p = &op->params.band_chain;
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const bb_s8_dims d = dims_of(in);
    bb_s8_dims o;
    if (p->stage_count < 1 || p->stage_count > BB_CHAIN_MAX_STAGES)
        return BB_ERR_ARGUMENT;
    for (int32_t s = p->stage_count; s < BB_CHAIN_MAX_STAGES; s++) { /* unused stages are zero */
        const int32_t *words = (const int32_t *)&p->stages[s];
        for (size_t k = 0; k < sizeof p->stages[s] / sizeof(int32_t); k++) {
            if (words[k] != 0)
                return BB_ERR_ARGUMENT;
        }
    }
    if (op->data_count != 4u * (uint32_t)p->stage_count)
        return BB_ERR_SHAPE;
    bb_status s = bb_band_chain_s8_output(&d, p->stage_count, p->stages, p->band_rows, &o);
    if (s != BB_OK)
        return s;
    if (o.channels != out->c || o.height != out->h || o.width != out->w)
        return BB_ERR_SHAPE;
    if (in->at == out->at && !bb_band_chain_s8_in_place_ok(&d, p->stage_count, p->stages))
        return BB_ERR_ARGUMENT; /* in place only where every stage keeps the shape */
    int32_t channels = in->c;
    for (int32_t k = 0; k < p->stage_count; k++) {
        const bb_chain_stage *st = &p->stages[k];
        const int32_t window = st->conv.kernel_height * st->conv.kernel_width;
        const int32_t taps = st->type == BB_STAGE_DEPTHWISE ? window
                             : st->type == BB_STAGE_POINTWISE ? channels : channels * window;
        if ((s = check_weighted_at(op, data, 4u * (uint32_t)k, st->out_channels, taps, &st->quant)) != BB_OK)
            return s;
        channels = st->out_channels;
    }
    const size_t need = bb_band_chain_s8_scratch_size(&d, p->stage_count, p->stages, p->band_rows);
    if (need == 0 || need > UINT32_MAX)
        return BB_ERR_SHAPE;
    *scratch = (uint32_t)need;
    return op->scratch_at % 4 == 0 ? BB_OK : BB_ERR_SCRATCH; /* int32 values there */
}

static bb_status run_band_chain(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                                int8_t *scratch)
{
    const bb_band_chain_params *p = &op->params.band_chain;
    const bb_s8_dims d = dims_of(&op->inputs[0]);
    bb_chain_weights w[BB_CHAIN_MAX_STAGES];
    for (int32_t k = 0; k < p->stage_count && k < BB_CHAIN_MAX_STAGES; k++) {
        const uint32_t base = 4u * (uint32_t)k;
        w[k].w = slot_ptr(op, data, base + BB_DATA_WEIGHTS);
        w[k].bias = slot_ptr(op, data, base + BB_DATA_BIAS);
        w[k].multiplier = slot_ptr(op, data, base + BB_DATA_MULTIPLIER);
        w[k].shift = slot_ptr(op, data, base + BB_DATA_SHIFT);
    }
    return bb_band_chain_s8(&d, p->stage_count, p->stages, w, p->band_rows, in[0], out, scratch,
                            op->scratch_bytes);
}
#endif

/* ---- the audio front end ---------------------------------------------------------- */
/* Like the graph ops, left out (with bb_audio.c's 3.7 KB of code and tables) from an
 * image whose model does not use it. */
#if BB_HAS_KIND(16)

/* int16 PCM (its bytes, at an even offset) to the (1, 49, 10) int8 MFCC map. */
static bb_status check_mfcc(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    const int32_t rate = op->params.mfcc.sample_rate;
    *scratch = (uint32_t)bb_mfcc_s8_scratch_size(rate);
    if (*scratch == 0)
        return BB_ERR_ARGUMENT; /* not 8000 or 16000 Hz */
    const bb_tensor *in = &op->inputs[0], *out = &op->output;
    const uint32_t in_bytes = bb_tensor_bytes(in);
    if (op->data_count != 0 || in_bytes % 2 != 0 || in_bytes / 2 > (uint32_t)rate)
        return BB_ERR_SHAPE;
    if (out->c != 1 || out->h != BB_MFCC_FRAMES || out->w != BB_MFCC_COEFFICIENTS)
        return BB_ERR_SHAPE;
    /* int16 samples at an even offset, the kernel's int32 scratch at a multiple of 4 */
    if (in->at % 2 != 0 || op->scratch_at % 4 != 0)
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

static bb_status run_mfcc(const bb_op *op, const uint8_t *data, const int8_t *const *in, int8_t *out,
                          int8_t *scratch)
{
    (void)data;
    /* invoke copied the PCM's bytes into the (int8) arena: read as bytes, never through
     * an int16_t pointer into it */
    return bb_mfcc_s8_from_bytes(op->params.mfcc.sample_rate, in[0],
                                 (int)(bb_tensor_bytes(&op->inputs[0]) / 2), out, scratch,
                                 op->scratch_bytes);
}
#endif /* BB_HAS_KIND(16) */

#if BB_HAS_KIND(15)
static bb_status check_leaky_relu(const bb_op *op, const uint8_t *data, uint32_t *scratch)
{
    (void)data;
    *scratch = 0;
    const bb_leaky_relu_s8_params *p = &op->params.leaky_relu;
    if (op->data_count != 0 || !same_shape(&op->inputs[0], &op->output))
        return BB_ERR_SHAPE;
    if (!offset_ok(p->input_offset) || p->output_offset < -128 || p->output_offset > 127 ||
        !bb_graph_requant_ok(p->identity_multiplier, p->identity_shift, -31, 30) ||
        !bb_graph_requant_ok(p->alpha_multiplier, p->alpha_shift, -31, 30))
        return BB_ERR_ARGUMENT;
    return BB_OK;
}

static bb_status run_leaky_relu(const bb_op *op, const uint8_t *data, const int8_t *const *in,
                                int8_t *out, int8_t *scratch)
{
    (void)data, (void)scratch;
    return bb_leaky_relu_s8(&op->params.leaky_relu, bb_tensor_bytes(&op->output), in[0], out);
}
#endif

/* ---- the table -------------------------------------------------------------------- */

#define WORDS(member) ((uint32_t)(sizeof(((bb_op_params *)0)->member) / sizeof(int32_t)))

static const bb_op_type op_types[BB_OP_KIND_END] = {
    [BB_OP_CONV2D] = {1, 1, 0, WORDS(conv), check_conv, run_conv},
    [BB_OP_LINEAR] = {1, 1, 0, WORDS(linear), check_linear, run_linear},
    [BB_OP_MAX_POOL2D] = {1, 1, 0, WORDS(pool), check_pool, run_max_pool},
    [BB_OP_AVG_POOL2D] = {1, 1, 0, WORDS(pool), check_pool, run_avg_pool},
    [BB_OP_CLAMP] = {1, 1, 1, WORDS(clamp), check_clamp, run_clamp},
    [BB_OP_SOFTMAX] = {1, 1, 1, 0, check_softmax, run_softmax},
    [BB_OP_CONV2D_POOL] = {1, 1, 0, WORDS(conv_pool), check_conv_pool, run_conv_pool},
#if BB_HAS_KIND(8)
    [BB_OP_DEPTHWISE_CONV2D] = {1, 1, 1, WORDS(depthwise), check_depthwise, run_depthwise},
#endif
#if BB_HAS_KIND(9)
    [BB_OP_POINTWISE_CONV2D] = {1, 1, 0, WORDS(pointwise), check_pointwise, run_pointwise},
#endif
#if BB_HAS_KIND(10)
    [BB_OP_ADD] = {2, 2, 1, WORDS(add), check_add, run_add},
#endif
#if BB_HAS_KIND(11)
    [BB_OP_GLOBAL_AVG_POOL] = {1, 1, 0, WORDS(global_avg_pool), check_global_avg_pool, run_global_avg_pool},
#endif
#if BB_HAS_KIND(13)
    [BB_OP_CONV2D_GEMM] = {1, 1, 0, WORDS(conv), check_conv_gemm, run_conv_gemm},
#endif
#if BB_HAS_KIND(14)
    [BB_OP_BAND_CHAIN] = {1, 1, 1, WORDS(band_chain), check_band_chain, run_band_chain},
#endif
#if BB_HAS_KIND(12)
    [BB_OP_CONCAT] = {2, BB_OP_MAX_INPUTS, 0, WORDS(concat), check_concat, run_concat},
#endif
#if BB_HAS_KIND(15)
    [BB_OP_LEAKY_RELU] = {1, 1, 1, WORDS(leaky_relu), check_leaky_relu, run_leaky_relu},
#endif
#if BB_HAS_KIND(16)
    [BB_OP_MFCC] = {1, 1, 0, WORDS(mfcc), check_mfcc, run_mfcc},
#endif
};

const bb_op_type *bb_op_type_of(int32_t kind)
{
    if (kind <= 0 || kind >= BB_OP_KIND_END || op_types[kind].check == NULL)
        return NULL;
    return &op_types[kind];
}
