/* Tests of the embedded int8 runtime (embedded/bb_runtime.c, bb_ops.c), run by
 * tests/c/run.sh under AddressSanitizer and UBSan.
 *
 * A small model that uses every op kind is built in memory, with every buffer (ops,
 * data, arena, input, output) allocated at its exact size so that ASan sees any read or
 * write past one. Then a bounded fuzzer mutates every numeric field of the model and of
 * every op, and flips a bit of every data byte, one at a time:
 *   - with the stored checksum: init must refuse, unless the byte is alignment padding
 *     in the data that no op uses (then the outputs must equal the unmutated model's);
 *   - with the checksum recomputed (a self-consistent corruption): init may accept, and
 *     invoke must then stay in bounds (ASan/UBSan abort the test otherwise). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bb_runtime.h"

static int passed, failed;

#define check(cond, ...)                                                                      \
    do {                                                                                      \
        if (cond) {                                                                           \
            passed++;                                                                         \
        } else {                                                                              \
            failed++;                                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                       \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
        }                                                                                     \
    } while (0)

static uint32_t rng = 12345u;
static uint32_t next_random(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        printf("out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- the model ---------------------------------------------------------------------- */

enum { OPS = 7, ARENA = 56, DATA_WORDS = 320 };

typedef struct builder {
    uint8_t bytes[DATA_WORDS * 4];
    uint32_t used;
} builder;

/* n values of `size` bytes each, random in [lo, hi], at the next 4-byte boundary. */
static bb_data_ref add(builder *b, uint32_t n, uint32_t size, int32_t lo, int32_t hi)
{
    const bb_data_ref ref = {b->used, n * size};
    for (uint32_t i = 0; i < n; i++) {
        int32_t v = lo + (int32_t)(next_random() % (uint32_t)(hi - lo + 1));
        if (size == 1)
            b->bytes[b->used + i] = (uint8_t)(int8_t)v;
        else
            memcpy(b->bytes + b->used + 4 * i, &v, 4);
    }
    b->used += (n * size + 3) / 4 * 4;
    return ref;
}

static bb_tensor tensor(uint32_t at, int32_t c, int32_t h, int32_t w)
{
    const bb_tensor t = {at, c, h, w};
    return t;
}

static void weighted(builder *b, bb_op *op, uint32_t channels, uint32_t taps)
{
    op->data_count = 4;
    op->data[BB_DATA_WEIGHTS] = add(b, channels * taps, 1, -127, 127);
    op->data[BB_DATA_BIAS] = add(b, channels, 4, -3000, 3000);
    op->data[BB_DATA_MULTIPLIER] = add(b, channels, 4, 1 << 30, INT32_MAX);
    op->data[BB_DATA_SHIFT] = add(b, channels, 4, -9, -6);
}

/* input 1x6x6 at 0 -> conv+pool 2x3x3 at 36 -> conv 3x3x3 at 0 -> clamp in place ->
 * avg pool 3x2x2 at 28 -> max pool 3x1x1 at 0 -> linear 4 at 4 -> softmax 4 at 8. */
static void build(bb_model *m, bb_op *ops, uint32_t *data)
{
    builder b;
    memset(&b, 0, sizeof b);
    memset(ops, 0, OPS * sizeof(bb_op));
    const bb_quant_out q = {3, -5, -128, 127}, relu = {5, -20, -20, 127};
    const bb_s8_window conv3 = {3, 3, 1, 1, 1, 1, 1, 1}, pool2 = {2, 2, 2, 2, 0, 0, 0, 0};
    const bb_s8_window pool2s1 = {2, 2, 1, 1, 0, 0, 0, 0};

    bb_op *op = &ops[0];
    op->kind = BB_OP_CONV2D_POOL, op->input_count = 1;
    op->inputs[0] = tensor(0, 1, 6, 6), op->output = tensor(36, 2, 3, 3);
    op->params.conv_pool.quant = relu, op->params.conv_pool.conv = conv3, op->params.conv_pool.pool = pool2;
    weighted(&b, op, 2, 9);

    op = &ops[1];
    op->kind = BB_OP_CONV2D, op->input_count = 1;
    op->inputs[0] = ops[0].output, op->output = tensor(0, 3, 3, 3);
    op->params.conv.quant = q, op->params.conv.conv = conv3;
    weighted(&b, op, 3, 18);

    op = &ops[2];
    op->kind = BB_OP_CLAMP, op->input_count = 1;
    op->inputs[0] = ops[1].output, op->output = ops[1].output;
    op->params.clamp.activation_min = -10, op->params.clamp.activation_max = 100;

    op = &ops[3];
    op->kind = BB_OP_AVG_POOL2D, op->input_count = 1;
    op->inputs[0] = ops[2].output, op->output = tensor(28, 3, 2, 2);
    op->params.pool.pool = pool2s1;

    op = &ops[4];
    op->kind = BB_OP_MAX_POOL2D, op->input_count = 1;
    op->inputs[0] = ops[3].output, op->output = tensor(0, 3, 1, 1);
    op->params.pool.pool = pool2s1;

    op = &ops[5];
    op->kind = BB_OP_LINEAR, op->input_count = 1;
    op->inputs[0] = ops[4].output, op->output = tensor(4, 4, 1, 1);
    op->params.linear.quant = q;
    weighted(&b, op, 4, 3);

    op = &ops[6];
    op->kind = BB_OP_SOFTMAX, op->input_count = 1;
    op->inputs[0] = ops[5].output, op->output = tensor(8, 4, 1, 1);
    op->data_count = 1;
    op->data[0] = add(&b, 256, 4, 0, 1 << 20);
    memcpy(b.bytes + op->data[0].at, &(int32_t){1 << 20}, 4); /* exp(0) */

    memcpy(data, b.bytes, b.used);
    memset(m, 0, sizeof *m);
    m->format_version = BB_MODEL_FORMAT_VERSION;
    m->name = "fuzz";
    m->op_count = OPS;
    m->ops = ops;
    m->ops_bytes = OPS * sizeof(bb_op);
    m->data = data;
    m->data_bytes = b.used;
    m->arena_bytes = ARENA;
    m->input = ops[0].inputs[0];
    m->output = ops[OPS - 1].output;
    m->input_size = 36;
    m->output_size = 4;
    m->input_scale = 0.02f, m->input_zero_point = -3;
    m->output_scale = 1.0f / 256.0f, m->output_zero_point = -128;
    m->checksum = bb_model_checksum(m);
}

/* ---- running it --------------------------------------------------------------------- */

/* Exact-size copies of everything, so that ASan sees any access past one. */
typedef struct instance {
    bb_model model;
    bb_op *ops;
    uint32_t *data;
    int8_t *arena, *input, *output;
} instance;

static void run_all(const bb_model *m, const int8_t inputs[][36], int count, int8_t *outputs,
                    bb_status *init_status, bb_status *invoke_status)
{
    int8_t *arena = xmalloc(ARENA), *input = xmalloc(36), *output = xmalloc(4);
    bb_runtime rt;
    *init_status = bb_runtime_init(&rt, m, arena, ARENA);
    *invoke_status = BB_OK;
    for (int i = 0; *init_status == BB_OK && i < count; i++) {
        memcpy(input, inputs[i], 36);
        *invoke_status = bb_runtime_invoke(&rt, input, output);
        if (*invoke_status != BB_OK)
            break;
        memcpy(outputs + 4 * i, output, 4);
    }
    free(arena), free(input), free(output);
}

enum { SAMPLES = 3 };
static int8_t inputs[SAMPLES][36];
static int8_t expected[SAMPLES * 4];

static int fuzz_cases, refused_by_checksum, accepted_unused, accepted_recomputed;

/* Run the mutated model m twice: as is (stored checksum) and with the checksum recomputed. */
static void try_mutation(bb_model *m, const char *what, size_t index, uint32_t value)
{
    int8_t got[SAMPLES * 4];
    bb_status init, invoke;
    fuzz_cases++;
    run_all(m, inputs, SAMPLES, got, &init, &invoke);
    if (init == BB_OK) {
        accepted_unused++;
        check(strcmp(what, "data byte") == 0, "%s %zu = %u: accepted with the stored checksum", what,
              index, (unsigned)value);
        check(invoke == BB_OK && memcmp(got, expected, sizeof got) == 0,
              "%s %zu = %u: accepted with the stored checksum but the outputs changed", what, index,
              (unsigned)value);
    } else if (init == BB_ERR_CORRUPT) {
        refused_by_checksum++;
    }
    if (bb_model_validate(m, NULL) == BB_OK) {
        const uint32_t stored = m->checksum;
        m->checksum = bb_model_checksum(m);
        run_all(m, inputs, SAMPLES, got, &init, &invoke); /* ASan judges */
        accepted_recomputed += init == BB_OK;
        m->checksum = stored;
    }
}

static const uint32_t deltas[] = {1u, 0xFFFFFFFFu, 2u, 4u, 256u, 0x10000u, 0x80000000u};

/* Every 32-bit word of the ops, with several values each. */
static void fuzz_op_words(const bb_model *base)
{
    const size_t words = OPS * sizeof(bb_op) / 4;
    for (size_t wi = 0; wi < words; wi++) {
        for (size_t d = 0; d < sizeof deltas / sizeof deltas[0] + 2; d++) {
            instance in;
            in.model = *base;
            in.ops = xmalloc(OPS * sizeof(bb_op));
            memcpy(in.ops, base->ops, OPS * sizeof(bb_op));
            uint32_t *word = (uint32_t *)(void *)in.ops + wi, value;
            if (d < sizeof deltas / sizeof deltas[0])
                value = *word + deltas[d];
            else
                value = d == sizeof deltas / sizeof deltas[0] ? 0u : 0x7FFFFFFFu;
            if (value == *word)
                value ^= 1u;
            *word = value;
            in.model.ops = in.ops;
            try_mutation(&in.model, "op word", wi, value);
            free(in.ops);
        }
    }
}

/* The model's numeric fields (not its pointers). */
static void fuzz_model_fields(const bb_model *base)
{
    bb_model probe;
    uint32_t *fields[] = {
        &probe.format_version, &probe.op_count, &probe.ops_bytes, &probe.data_bytes, &probe.arena_bytes,
        &probe.input.at, (uint32_t *)&probe.input.c, (uint32_t *)&probe.input.h, (uint32_t *)&probe.input.w,
        &probe.output.at, (uint32_t *)&probe.output.c, (uint32_t *)&probe.output.h,
        (uint32_t *)&probe.output.w, &probe.input_size, &probe.output_size,
        (uint32_t *)&probe.input_scale, (uint32_t *)&probe.input_zero_point,
        (uint32_t *)&probe.output_scale, (uint32_t *)&probe.output_zero_point, &probe.checksum,
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        for (size_t d = 0; d < sizeof deltas / sizeof deltas[0]; d++) {
            probe = *base;
            *fields[f] += deltas[d];
            try_mutation(&probe, "model field", f, *fields[f]);
        }
    }
}

/* One bit of every data byte. */
static void fuzz_data(const bb_model *base)
{
    for (uint32_t i = 0; i < base->data_bytes; i++) {
        bb_model m = *base;
        uint32_t *data = xmalloc(base->data_bytes);
        memcpy(data, base->data, base->data_bytes);
        ((uint8_t *)data)[i] ^= (uint8_t)(1u << (i % 8));
        m.data = data;
        try_mutation(&m, "data byte", i, i % 8);
        free(data);
    }
}

int main(void)
{
    bb_op ops_storage[OPS];
    uint32_t data_storage[DATA_WORDS];
    bb_model base;
    build(&base, ops_storage, data_storage);
    /* Exact-size copies of the ops and the data. */
    bb_op *ops = xmalloc(sizeof ops_storage);
    memcpy(ops, ops_storage, sizeof ops_storage);
    uint32_t *data = xmalloc(base.data_bytes);
    memcpy(data, data_storage, base.data_bytes);
    base.ops = ops, base.data = data;

    uint32_t where = 99;
    check(bb_model_validate(&base, &where) == BB_OK, "the test model validates (op %u)", (unsigned)where);
    for (int i = 0; i < SAMPLES; i++)
        for (int j = 0; j < 36; j++)
            inputs[i][j] = (int8_t)(next_random() % 256u - 128u);
    bb_status init, invoke;
    run_all(&base, inputs, SAMPLES, expected, &init, &invoke);
    check(init == BB_OK && invoke == BB_OK, "the test model runs: init %d invoke %d", init, invoke);

    /* Refusals with the status and op named. */
    bb_runtime rt;
    static union {
        int8_t bytes[ARENA + 4];
        uint32_t align;
    } aligned;
    int8_t *arena = aligned.bytes;
    check(bb_runtime_init(&rt, &base, arena, ARENA - 1) == BB_ERR_ARENA, "arena one byte short");
    for (int offset = 1; offset < 4; offset++)
        check(bb_runtime_init(&rt, &base, arena + offset, ARENA) == BB_ERR_ALIGN && rt.model == NULL,
              "an arena %d bytes past 4-byte alignment is refused", offset);
    check(bb_runtime_init(&rt, NULL, arena, ARENA) == BB_ERR_NULL, "NULL model");
    bb_model m = base;
    m.checksum ^= 1u;
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_CORRUPT, "checksum off by one bit");
    check(bb_runtime_invoke(&rt, inputs[0], arena) == BB_ERR_NULL, "invoke after a failed init");
    m = base;
    m.format_version = 2;
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_VERSION, "format version 2");
    bb_op bad[OPS];
    memcpy(bad, ops, sizeof bad);
    bad[5].data[BB_DATA_MULTIPLIER].bytes += 4; /* out_c + 1 multipliers */
    m = base, m.ops = bad;
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_SHAPE && rt.failed_op == 5,
          "linear multiplier length: status and op %u", (unsigned)rt.failed_op);
    memcpy(bad, ops, sizeof bad);
    bad[1].scratch_bytes = 8, bad[1].scratch_at = 28; /* between its output and its input */
    m = base, m.ops = bad, m.checksum = bb_model_checksum(&m);
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_OK, "op with a scratch region in the arena");
    bad[1].scratch_at = 20; /* overlaps its output [0, 27) */
    m.checksum = bb_model_checksum(&m);
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_ARGUMENT, "scratch overlapping the output");
    bad[1].scratch_at = 52; /* past the arena */
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_ARENA && rt.failed_op == 1,
          "scratch past the arena");
    memcpy(bad, ops, sizeof bad);
    int8_t big_w[54];
    memset(big_w, 127, sizeof big_w);
    uint32_t *heavy = xmalloc(base.data_bytes);
    memcpy(heavy, data, base.data_bytes);
    int32_t big_bias = INT32_MAX - 1000;
    memcpy((uint8_t *)heavy + ops[1].data[BB_DATA_WEIGHTS].at, big_w, sizeof big_w);
    memcpy((uint8_t *)heavy + ops[1].data[BB_DATA_BIAS].at, &big_bias, 4);
    m = base, m.data = heavy, m.checksum = bb_model_checksum(&m);
    check(bb_runtime_init(&rt, &m, arena, ARENA) == BB_ERR_ARGUMENT && rt.failed_op == 1,
          "a bias that would overflow the int32 accumulator");
    free(heavy);
    int8_t batch_in[2 * 36], batch_out[2 * 4];
    memcpy(batch_in, inputs[0], 36), memcpy(batch_in + 36, inputs[1], 36);
    check(bb_runtime_init(&rt, &base, arena, ARENA) == BB_OK &&
              bb_runtime_invoke_batch(&rt, 2, batch_in, batch_out) == BB_OK &&
              memcmp(batch_out, expected, 8) == 0,
          "invoke_batch equals invoke");

    fuzz_op_words(&base);
    fuzz_model_fields(&base);
    fuzz_data(&base);
    printf("runtime fuzz: %d single-field corruptions; %d refused by the checksum, %d accepted "
           "(padding bytes, same outputs); %d self-consistent ones accepted and run in bounds\n",
           fuzz_cases, refused_by_checksum, accepted_unused, accepted_recomputed);
    free(ops), free(data);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
