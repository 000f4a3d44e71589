/* bb_runtime.c: validate a model once, then run its ops in the arena.
 *
 * init checks everything invoke relies on before any kernel touches memory: the model's
 * two pointers against their lengths, every tensor and scratch region against the
 * arena, every data slot against the data, that each op reads tensors that exist when
 * it runs (the model input or an earlier op's output), each kind's own checks (bb_ops.c),
 * and finally the checksum. The kernels still check their own arguments; invoke passes
 * their status on. */
#include <string.h>
#include "bb_runtime.h"
#include "bb_ops.h"

/* [at, at + size) lies inside [0, limit); written so that it cannot overflow. */
static int inside(uint32_t at, uint32_t size, uint32_t limit)
{
    return at <= limit && size <= limit - at;
}

static int disjoint(uint32_t a, uint32_t a_size, uint32_t b, uint32_t b_size)
{
    return a + a_size <= b || b + b_size <= a; /* both ranges are inside the arena */
}

static int same_buffer(const bb_tensor *a, const bb_tensor *b)
{
    return a->at == b->at && bb_tensor_bytes(a) == bb_tensor_bytes(b);
}

/* A tensor of positive shape inside the arena. */
static bb_status check_tensor(const bb_tensor *t, uint32_t arena_bytes)
{
    const uint32_t n = bb_tensor_bytes(t);
    if (n == 0)
        return BB_ERR_SHAPE;
    return inside(t->at, n, arena_bytes) ? BB_OK : BB_ERR_ARENA;
}

/* Input i of op `index` is the model input or the output of an earlier op (the same
 * bytes: a linear op reads a (c, h, w) output as c * h * w features). */
static int produced_before(const bb_model *m, uint32_t index, const bb_tensor *t)
{
    if (same_buffer(t, &m->input))
        return 1;
    for (uint32_t j = 0; j < index; j++) {
        if (same_buffer(t, &m->ops[j].output))
            return 1;
    }
    return 0;
}

/* Unused input slots, data slots and params words are zero, so that no field of an op
 * is ignored: a corrupted one is refused, whichever it is. */
static int unused_fields_zero(const bb_op *op, const bb_op_type *type)
{
    for (uint32_t i = op->input_count; i < BB_OP_MAX_INPUTS; i++) {
        const bb_tensor *t = &op->inputs[i];
        if (t->at != 0 || t->c != 0 || t->h != 0 || t->w != 0)
            return 0;
    }
    for (uint32_t k = op->data_count; k < BB_OP_MAX_DATA; k++) {
        if (op->data[k].at != 0 || op->data[k].bytes != 0)
            return 0;
    }
    const int32_t *words = (const int32_t *)&op->params;
    for (uint32_t k = type->params_words; k < sizeof op->params / sizeof(int32_t); k++) {
        if (words[k] != 0)
            return 0;
    }
    return 1;
}

/* What every op must satisfy whatever its kind, then the kind's own check. */
static bb_status check_op(const bb_model *m, uint32_t index)
{
    const bb_op *op = &m->ops[index];
    const bb_op_type *type = bb_op_type_of(op->kind);
    if (type == NULL)
        return BB_ERR_ARGUMENT; /* a kind this runtime does not know */
    if (op->input_count < type->input_count || op->input_count > type->max_inputs ||
        op->data_count > BB_OP_MAX_DATA)
        return BB_ERR_SHAPE;
    if (!unused_fields_zero(op, type))
        return BB_ERR_ARGUMENT;
    bb_status s = check_tensor(&op->output, m->arena_bytes);
    if (s != BB_OK)
        return s;
    const uint32_t out_bytes = bb_tensor_bytes(&op->output);
    for (uint32_t i = 0; i < op->input_count; i++) {
        const bb_tensor *in = &op->inputs[i];
        if ((s = check_tensor(in, m->arena_bytes)) != BB_OK)
            return s;
        if (!produced_before(m, index, in))
            return BB_ERR_ARGUMENT;
        const int in_place = type->in_place && i == 0 && same_buffer(in, &op->output);
        if (!in_place && !disjoint(in->at, bb_tensor_bytes(in), op->output.at, out_bytes))
            return BB_ERR_ARGUMENT;
    }
    for (uint32_t k = 0; k < op->data_count; k++) {
        const bb_data_ref *d = &op->data[k];
        if (d->at % 4 != 0 || !inside(d->at, d->bytes, m->data_bytes))
            return BB_ERR_ARGUMENT;
    }
    if (op->scratch_bytes > 0) {
        if (!inside(op->scratch_at, op->scratch_bytes, m->arena_bytes))
            return BB_ERR_ARENA;
        if (!disjoint(op->scratch_at, op->scratch_bytes, op->output.at, out_bytes))
            return BB_ERR_ARGUMENT;
        for (uint32_t i = 0; i < op->input_count; i++) {
            if (!disjoint(op->scratch_at, op->scratch_bytes, op->inputs[i].at,
                          bb_tensor_bytes(&op->inputs[i])))
                return BB_ERR_ARGUMENT;
        }
    }
    uint32_t scratch_needed = 0;
    if ((s = type->check(op, (const uint8_t *)m->data, &scratch_needed)) != BB_OK)
        return s;
    return op->scratch_bytes >= scratch_needed ? BB_OK : BB_ERR_SCRATCH;
}

bb_status bb_model_validate(const bb_model *m, uint32_t *failed_op)
{
    uint32_t where = 0;
    if (failed_op == NULL)
        failed_op = &where;
    *failed_op = 0;
    if (m == NULL)
        return BB_ERR_NULL;
    *failed_op = m->op_count;
    if (m->format_version != BB_MODEL_FORMAT_VERSION)
        return BB_ERR_VERSION;
    const uint32_t one = 1;
    if (*(const uint8_t *)&one != 1)
        return BB_ERR_ARGUMENT; /* the data is little-endian: a big-endian target would misread it */
    if (m->ops == NULL || (m->data == NULL && m->data_bytes != 0))
        return BB_ERR_NULL;
    if (m->op_count == 0 || m->op_count > UINT32_MAX / sizeof(bb_op) ||
        m->ops_bytes != m->op_count * sizeof(bb_op) || m->data_bytes % 4 != 0)
        return BB_ERR_SHAPE;
    bb_status s = check_tensor(&m->input, m->arena_bytes);
    if (s == BB_OK)
        s = check_tensor(&m->output, m->arena_bytes);
    if (s != BB_OK)
        return s;
    if (bb_tensor_bytes(&m->input) != m->input_size || bb_tensor_bytes(&m->output) != m->output_size)
        return BB_ERR_SHAPE;
    for (uint32_t i = 0; i < m->op_count; i++) {
        if ((s = check_op(m, i)) != BB_OK) {
            *failed_op = i;
            return s;
        }
    }
    if (!same_buffer(&m->output, &m->ops[m->op_count - 1].output))
        return BB_ERR_ARGUMENT; /* the model's output is what its last op wrote */
    return BB_OK;
}

/* ---- checksum: FNV-1a, 32 bits ----------------------------------------------------- */

static uint32_t mix_bytes(uint32_t h, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A number by its value (little-endian bytes whatever the host), not its memory. */
static uint32_t mix_u32(uint32_t h, uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return mix_bytes(h, b, 4);
}

static uint32_t mix_tensor(uint32_t h, const bb_tensor *t)
{
    h = mix_u32(h, t->at);
    h = mix_u32(h, (uint32_t)t->c);
    h = mix_u32(h, (uint32_t)t->h);
    return mix_u32(h, (uint32_t)t->w);
}

static uint32_t mix_float(uint32_t h, float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return mix_u32(h, bits);
}

uint32_t bb_model_checksum(const bb_model *m)
{
    uint32_t h = 2166136261u;
    h = mix_u32(h, m->format_version);
    h = mix_u32(h, m->op_count);
    h = mix_u32(h, m->ops_bytes);
    h = mix_u32(h, m->data_bytes);
    h = mix_u32(h, m->arena_bytes);
    h = mix_tensor(h, &m->input);
    h = mix_tensor(h, &m->output);
    h = mix_u32(h, m->input_size);
    h = mix_u32(h, m->output_size);
    h = mix_float(h, m->input_scale);
    h = mix_u32(h, (uint32_t)m->input_zero_point);
    h = mix_float(h, m->output_scale);
    h = mix_u32(h, (uint32_t)m->output_zero_point);
    for (uint32_t i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        const bb_op_type *type = bb_op_type_of(op->kind);
        h = mix_u32(h, (uint32_t)op->kind);
        h = mix_u32(h, op->input_count);
        for (uint32_t k = 0; k < op->input_count && k < BB_OP_MAX_INPUTS; k++)
            h = mix_tensor(h, &op->inputs[k]);
        h = mix_tensor(h, &op->output);
        h = mix_u32(h, op->scratch_at);
        h = mix_u32(h, op->scratch_bytes);
        const int32_t *words = (const int32_t *)&op->params;
        for (uint32_t k = 0; type != NULL && k < type->params_words; k++)
            h = mix_u32(h, (uint32_t)words[k]);
        h = mix_u32(h, op->data_count);
        /* The bytes each slot names, not the whole of `data`: then no single corrupted
         * field (data_bytes raised, say) makes the checksum itself read past the data. */
        for (uint32_t k = 0; k < op->data_count && k < BB_OP_MAX_DATA; k++) {
            const bb_data_ref *d = &op->data[k];
            h = mix_u32(h, d->at);
            h = mix_u32(h, d->bytes);
            if (d->bytes > 0)
                h = mix_bytes(h, (const uint8_t *)m->data + d->at, d->bytes);
        }
    }
    return h;
}

/* ---- init and invoke --------------------------------------------------------------- */

bb_status bb_runtime_init(bb_runtime *rt, const bb_model *model, void *arena, size_t arena_bytes)
{
    if (rt == NULL)
        return BB_ERR_NULL;
    rt->model = NULL; /* a failed init leaves a runtime that invoke refuses */
    rt->arena = NULL;
    rt->arena_bytes = 0;
    bb_status s = bb_model_validate(model, &rt->failed_op);
    if (s != BB_OK)
        return s;
    rt->failed_op = model->op_count;
    if (bb_model_checksum(model) != model->checksum)
        return BB_ERR_CORRUPT;
    if (arena == NULL || arena_bytes < model->arena_bytes)
        return BB_ERR_ARENA;
    /* Scratch offsets are multiples of 4 from the arena's start and the kernels refuse
     * misaligned scratch: a misaligned arena would fail every invoke, so refuse it here. */
    if ((uintptr_t)arena % 4 != 0)
        return BB_ERR_ALIGN;
    rt->model = model;
    rt->arena = (int8_t *)arena;
    rt->arena_bytes = arena_bytes;
    return BB_OK;
}

bb_status bb_runtime_invoke(bb_runtime *rt, const int8_t *input, int8_t *output)
{
    if (rt == NULL || rt->model == NULL || rt->arena == NULL || input == NULL || output == NULL)
        return BB_ERR_NULL;
    const bb_model *m = rt->model;
    const uint8_t *data = (const uint8_t *)m->data;
    memcpy(rt->arena + m->input.at, input, m->input_size);
    for (uint32_t i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        const int8_t *inputs[BB_OP_MAX_INPUTS];
        for (uint32_t k = 0; k < op->input_count; k++)
            inputs[k] = rt->arena + op->inputs[k].at;
        int8_t *scratch = op->scratch_bytes > 0 ? rt->arena + op->scratch_at : NULL;
        bb_status s = bb_op_type_of(op->kind)->run(op, data, inputs, rt->arena + op->output.at, scratch);
        if (s != BB_OK) {
            rt->failed_op = i;
            return s;
        }
    }
    memcpy(output, rt->arena + m->output.at, m->output_size);
    return BB_OK;
}

bb_status bb_runtime_invoke_profiled(bb_runtime *rt, const int8_t *input, int8_t *output,
                                     uint64_t (*clock)(void), uint32_t *op_ticks)
{
    if (rt == NULL || rt->model == NULL || rt->arena == NULL || input == NULL || output == NULL ||
        clock == NULL || op_ticks == NULL)
        return BB_ERR_NULL;
    const bb_model *m = rt->model;
    const uint8_t *data = (const uint8_t *)m->data;
    memcpy(rt->arena + m->input.at, input, m->input_size);
    uint64_t before = clock();
    for (uint32_t i = 0; i < m->op_count; i++) {
        const bb_op *op = &m->ops[i];
        const int8_t *inputs[BB_OP_MAX_INPUTS];
        for (uint32_t k = 0; k < op->input_count; k++)
            inputs[k] = rt->arena + op->inputs[k].at;
        int8_t *scratch = op->scratch_bytes > 0 ? rt->arena + op->scratch_at : NULL;
        bb_status s = bb_op_type_of(op->kind)->run(op, data, inputs, rt->arena + op->output.at, scratch);
        const uint64_t after = clock();
        op_ticks[i] = (uint32_t)(after - before);
        before = after;
        if (s != BB_OK) {
            rt->failed_op = i;
            return s;
        }
    }
    memcpy(output, rt->arena + m->output.at, m->output_size);
    return BB_OK;
}

bb_status bb_runtime_invoke_batch(bb_runtime *rt, size_t count, const int8_t *input, int8_t *output)
{
    if (rt == NULL || rt->model == NULL || (count > 0 && (input == NULL || output == NULL)))
        return BB_ERR_NULL;
    const size_t in_size = rt->model->input_size, out_size = rt->model->output_size;
    for (size_t n = 0; n < count; n++) {
        bb_status s = bb_runtime_invoke(rt, input + n * in_size, output + n * out_size);
        if (s != BB_OK)
            return s;
    }
    return BB_OK;
}
