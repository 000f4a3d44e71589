/* bb_runtime.c: validate an exported model once, then run its ops in the arena.
 *
 * init checks everything invoke relies on (shapes, pointers, buffer offsets), so a
 * corrupt or mismatched model is refused before any kernel touches memory. The
 * kernels still check their own arguments; invoke passes their status on. */
#include <string.h>
#include "bb_runtime.h"
#include "bb_int8_checks.h"

/* c * h * w bytes, or 0 when a dimension is not positive or the product overflows. */
static uint32_t tensor_bytes(int32_t c, int32_t h, int32_t w)
{
    if (c <= 0 || h <= 0 || w <= 0)
        return 0;
    uint64_t n = (uint64_t)c * (uint64_t)h * (uint64_t)w;
    return n > UINT32_MAX ? 0 : (uint32_t)n;
}

static uint32_t in_bytes(const bb_op *op) { return tensor_bytes(op->in_c, op->in_h, op->in_w); }
static uint32_t out_bytes(const bb_op *op) { return tensor_bytes(op->out_c, op->out_h, op->out_w); }

/* [at, at + size) lies inside the arena; written so that it cannot overflow. */
static int in_arena(uint32_t at, uint32_t size, uint32_t arena_bytes)
{
    return at <= arena_bytes && size <= arena_bytes - at;
}

static int disjoint(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size)
{
    return a + a_size <= b || b + b_size <= a; /* both ranges are inside the arena */
}

/* (in + 2 * pad - kernel) / stride + 1, or -1 when the window does not fit (32-bit
 * arithmetic: a 64-bit division would link a libgcc routine of ~800 bytes). */
static int32_t window_count(int32_t in, int32_t kernel, int32_t stride, int32_t pad)
{
    int out;
    if (in <= 0 || kernel <= 0 || stride <= 0 || pad < 0 ||
        bb_window_count(in, kernel, stride, pad, &out) != BB_OK)
        return -1;
    return out;
}

static bb_status check_window(const bb_op *op, int32_t pad_h, int32_t pad_w)
{
    int32_t oh = window_count(op->in_h, op->kernel_h, op->stride_h, pad_h);
    int32_t ow = window_count(op->in_w, op->kernel_w, op->stride_w, pad_w);
    if (oh < 0 || ow < 0)
        return BB_ERR_ARGUMENT;
    return (oh == op->out_h && ow == op->out_w) ? BB_OK : BB_ERR_SHAPE;
}

/* The conv window over the input, then the pooling window over the conv output. */
static bb_status check_conv_pool(const bb_op *op)
{
    int32_t oh = window_count(op->in_h, op->kernel_h, op->stride_h, op->pad_h);
    int32_t ow = window_count(op->in_w, op->kernel_w, op->stride_w, op->pad_w);
    if (oh < 0 || ow < 0)
        return BB_ERR_ARGUMENT;
    oh = window_count(oh, op->pool.kernel_height, op->pool.stride_height, 0);
    ow = window_count(ow, op->pool.kernel_width, op->pool.stride_width, 0);
    if (oh < 0 || ow < 0)
        return BB_ERR_ARGUMENT;
    return (oh == op->out_h && ow == op->out_w) ? BB_OK : BB_ERR_SHAPE;
}

static int same_dims(const bb_op *op)
{
    return op->in_c == op->out_c && op->in_h == op->out_h && op->in_w == op->out_w;
}

/* Kind-specific checks: pointers, parameters and the output shape they imply. */
static bb_status check_kind(const bb_op *op)
{
    bb_status s;
    switch (op->kind) {
    case BB_OP_CONV2D:
    case BB_OP_CONV2D_POOL:
        if (op->weights == NULL)
            return BB_ERR_NULL;
        s = op->kind == BB_OP_CONV2D ? check_window(op, op->pad_h, op->pad_w) : check_conv_pool(op);
        if (s != BB_OK)
            return s;
        if ((s = bb_check_quant_out(&op->quant)) != BB_OK)
            return s;
        return bb_check_requant(op->out_c, op->multiplier, op->shift);
    case BB_OP_LINEAR:
        if (op->weights == NULL)
            return BB_ERR_NULL;
        if (op->out_h != 1 || op->out_w != 1 || in_bytes(op) > INT32_MAX)
            return BB_ERR_SHAPE; /* the kernel takes in_features as an int */
        if ((s = bb_check_quant_out(&op->quant)) != BB_OK)
            return s;
        return bb_check_requant(op->out_c, op->multiplier, op->shift);
    case BB_OP_MAX_POOL2D:
    case BB_OP_AVG_POOL2D:
        if (op->pad_h != 0 || op->pad_w != 0)
            return BB_ERR_ARGUMENT; /* the pooling kernels do not pad */
        if (op->out_c != op->in_c)
            return BB_ERR_SHAPE;
        return check_window(op, 0, 0);
    case BB_OP_CLAMP:
        if (!same_dims(op))
            return BB_ERR_SHAPE;
        if (op->quant.activation_min < -128 || op->quant.activation_max > 127 ||
            op->quant.activation_min > op->quant.activation_max)
            return BB_ERR_ARGUMENT;
        return BB_OK;
    case BB_OP_SOFTMAX:
        if (op->exp_table == NULL)
            return BB_ERR_NULL;
        /* One row of out_c values: the runtime runs it with rows = 1. */
        return (same_dims(op) && op->out_h == 1 && op->out_w == 1) ? BB_OK : BB_ERR_SHAPE;
    default:
        return BB_ERR_ARGUMENT; /* an op kind this runtime does not know */
    }
}

/* Elementwise ops may run in place; the others read their input while writing. */
static int may_alias(int32_t kind) { return kind == BB_OP_CLAMP || kind == BB_OP_SOFTMAX; }

static bb_status check_op(const bb_op *op, uint32_t arena_bytes)
{
    const uint32_t n_in = in_bytes(op), n_out = out_bytes(op);
    if (n_in == 0 || n_out == 0)
        return BB_ERR_SHAPE;
    if (!in_arena(op->input_at, n_in, arena_bytes) || !in_arena(op->output_at, n_out, arena_bytes))
        return BB_ERR_ARENA;
    bb_status s = check_kind(op);
    if (s != BB_OK)
        return s;
    if (may_alias(op->kind) && op->input_at == op->output_at)
        return BB_OK;
    return disjoint(op->input_at, n_in, op->output_at, n_out) ? BB_OK : BB_ERR_ARGUMENT;
}

static bb_status check_model(const bb_model *m)
{
    if (m->ops == NULL)
        return BB_ERR_NULL;
    if (m->op_count == 0)
        return BB_ERR_SHAPE;
    if (tensor_bytes(m->input_c, m->input_h, m->input_w) != m->input_size)
        return BB_ERR_SHAPE;
    for (uint32_t i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        bb_status s = check_op(op, m->arena_bytes);
        if (s != BB_OK)
            return s;
        /* A chain: each op reads what the one before it wrote (a linear op reads a
         * (c, h, w) output as c * h * w features). */
        if (i > 0) {
            const bb_op *prev = &m->ops[i - 1];
            if (in_bytes(op) != out_bytes(prev))
                return BB_ERR_SHAPE;
            if (op->input_at != prev->output_at)
                return BB_ERR_ARGUMENT;
        }
    }
    if (in_bytes(&m->ops[0]) != m->input_size || out_bytes(&m->ops[m->op_count - 1]) != m->output_size)
        return BB_ERR_SHAPE;
    return BB_OK;
}

bb_status bb_runtime_init(bb_runtime *rt, const bb_model *model, void *arena, size_t arena_bytes)
{
    if (rt == NULL)
        return BB_ERR_NULL;
    rt->model = NULL; /* a failed init leaves a runtime that invoke refuses */
    rt->arena = NULL;
    rt->arena_bytes = 0;
    if (model == NULL)
        return BB_ERR_NULL;
    if (model->format_version != BB_MODEL_FORMAT_VERSION)
        return BB_ERR_VERSION;
    if (arena == NULL || arena_bytes < model->arena_bytes)
        return BB_ERR_ARENA;
    bb_status s = check_model(model);
    if (s != BB_OK)
        return s;
    rt->model = model;
    rt->arena = (int8_t *)arena;
    rt->arena_bytes = arena_bytes;
    return BB_OK;
}

static bb_status run_op(const bb_op *op, const int8_t *x, int8_t *y)
{
    switch (op->kind) {
    case BB_OP_CONV2D:
    case BB_OP_CONV2D_POOL: {
        const bb_conv2d_params p = {1, op->in_c, op->in_h, op->in_w, op->out_c, op->kernel_h,
                                    op->kernel_w, op->stride_h, op->stride_w, op->pad_h, op->pad_w};
        if (op->kind == BB_OP_CONV2D_POOL)
            return bb_conv2d_pool_s8(&p, &op->pool, &op->quant, op->multiplier, op->shift, x,
                                     op->weights, op->bias, y);
        return bb_conv2d_s8(&p, &op->quant, op->multiplier, op->shift, x, op->weights, op->bias, y);
    }
    case BB_OP_LINEAR:
        return bb_linear_s8(1, (int)in_bytes(op), op->out_c, &op->quant, op->multiplier, op->shift,
                            x, op->weights, op->bias, y);
    case BB_OP_MAX_POOL2D:
    case BB_OP_AVG_POOL2D: {
        const bb_pool2d_params p = {1, op->in_c, op->in_h, op->in_w,
                                    op->kernel_h, op->kernel_w, op->stride_h, op->stride_w};
        return op->kind == BB_OP_MAX_POOL2D ? bb_max_pool2d_s8(&p, x, y) : bb_avg_pool2d_s8(&p, x, y);
    }
    case BB_OP_CLAMP:
        return bb_clamp_s8(in_bytes(op), op->quant.activation_min, op->quant.activation_max, x, y);
    case BB_OP_SOFTMAX:
        return bb_softmax_s8(1, op->out_c, op->exp_table, x, y);
    default:
        return BB_ERR_ARGUMENT; /* unreachable after init */
    }
}

bb_status bb_runtime_invoke(const bb_runtime *rt, const int8_t *input, int8_t *output)
{
    if (rt == NULL || rt->model == NULL || rt->arena == NULL || input == NULL || output == NULL)
        return BB_ERR_NULL;
    const bb_model *m = rt->model;
    memcpy(rt->arena + m->ops[0].input_at, input, m->input_size);
    for (uint32_t i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        bb_status s = run_op(op, rt->arena + op->input_at, rt->arena + op->output_at);
        if (s != BB_OK)
            return s;
    }
    memcpy(output, rt->arena + m->ops[m->op_count - 1].output_at, m->output_size);
    return BB_OK;
}
