/* bb_runtime.h: run an exported int8 model inside a caller-owned arena.
 *
 *   static model_arena arena;   // the exported header's union: MODEL_ARENA_BYTES, 4-byte aligned
 *   bb_runtime rt;
 *   if (bb_runtime_init(&rt, &model, arena.bytes, sizeof arena.bytes) != BB_OK) ...;
 *   bb_runtime_invoke(&rt, input, output);   // input_size int8 in, output_size int8 out
 *
 * No malloc and no floats. init validates the whole model once (format version, every
 * length, shape and offset against the arena and the data, the checksum); invoke then
 * only runs the kernels. The host library runs its int8 models through this same code
 * (compiled into the Python extension), so host and board agree by construction. */
#ifndef BB_RUNTIME_H
#define BB_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include "bb_model.h"
#include "bb_status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bb_runtime {
    const bb_model *model;
    int8_t *arena;
    size_t arena_bytes;
    uint32_t failed_op; /* after a failed init or invoke: the op at fault, or op_count
                           when a model-level field is (0 when the model itself is NULL) */
} bb_runtime;

/* Checks every field of model except the checksum (the arena is model->arena_bytes).
 * BB_ERR_NULL, BB_ERR_VERSION, BB_ERR_SHAPE, BB_ERR_ARGUMENT, BB_ERR_ARENA (a tensor or
 * scratch outside the arena); *failed_op (may be NULL) as bb_runtime.failed_op. */
bb_status bb_model_validate(const bb_model *model, uint32_t *failed_op);

/* FNV-1a (32 bits) over every number of the model (not `name`, `ops` or `data`, which are
 * pointers, nor `checksum`) and every byte of data its ops use. Defined only for a model
 * bb_model_validate accepts (it reads what the lengths say); the exporter stores it. */
uint32_t bb_model_checksum(const bb_model *model);

/* bb_model_validate, then BB_ERR_CORRUPT when the checksum differs, BB_ERR_ARENA when
 * the arena is NULL or smaller than model->arena_bytes, BB_ERR_ALIGN when it is not 4-byte
 * aligned (a plain int8_t/uint8_t array need not be: use the exported header's
 * <name>_arena union, or your own union with a uint32_t member). */
bb_status bb_runtime_init(bb_runtime *rt, const bb_model *model, void *arena, size_t arena_bytes);

/* One sample: input (model->input_size values) to output (model->output_size values). */
bb_status bb_runtime_invoke(bb_runtime *rt, const int8_t *input, int8_t *output);

/* As bb_runtime_invoke, reading clock() before the first op and after each one:
 * op_ticks[i] (model->op_count entries) gets op i's ticks. For per-op reports; the
 * plain invoke stays untimed. */
bb_status bb_runtime_invoke_profiled(bb_runtime *rt, const int8_t *input, int8_t *output,
                                     uint64_t (*clock)(void), uint32_t *op_ticks);

/* count samples, one after another: input (count, input_size), output (count, output_size). */
bb_status bb_runtime_invoke_batch(bb_runtime *rt, size_t count, const int8_t *input, int8_t *output);

#ifdef __cplusplus
}
#endif

#endif /* BB_RUNTIME_H */
