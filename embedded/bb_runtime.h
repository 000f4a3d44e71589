/* bb_runtime.h: run an exported int8 model inside a caller-owned arena.
 *
 *   static uint8_t arena[MODEL_ARENA_BYTES];
 *   bb_runtime rt;
 *   if (bb_runtime_init(&rt, &model, arena, sizeof arena) != BB_OK) ...;
 *   bb_runtime_invoke(&rt, input, output);   // input_size int8 in, output_size int8 out
 *
 * No malloc and no floats. init validates the whole model once (format version,
 * arena size, every op's shapes and buffer offsets against the arena); invoke then
 * only runs the kernels. */
#ifndef BB_RUNTIME_H
#define BB_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "bb_model.h"
#include "bb_status.h"

typedef struct bb_runtime {
    const bb_model *model;
    int8_t *arena;
    size_t arena_bytes;
} bb_runtime;

/* BB_ERR_NULL, BB_ERR_VERSION (model from another format version), BB_ERR_ARENA (arena
 * smaller than model->arena_bytes), BB_ERR_SHAPE / BB_ERR_ARGUMENT (an inconsistent op). */
bb_status bb_runtime_init(bb_runtime *rt, const bb_model *model, void *arena, size_t arena_bytes);

/* One sample: input (model->input_size values) to output (model->output_size values). */
bb_status bb_runtime_invoke(const bb_runtime *rt, const int8_t *input, int8_t *output);

#endif /* BB_RUNTIME_H */
