/* bb_ops.h: the runtime's op table, one row per bb_op_kind (internal to the runtime).
 *
 * A row says how many inputs the op takes, whether its output may be its first
 * input's bytes (in place), how many int32 words of bb_op_params it reads, and its
 * two functions:
 *   check: everything the kind needs of its params, data lengths and shapes (the
 *          runtime has already checked that every tensor, data slot and scratch lies
 *          inside the arena or the data), and the scratch bytes its kernel needs;
 *   run:   the kernel on one sample.
 * Adding an op kind: its kernel in csrc/, its enum value and params struct in
 * bb_model.h, and its two functions and row in bb_ops.c. */
#ifndef BB_OPS_H
#define BB_OPS_H

#include <stdint.h>
#include "bb_model.h"

typedef struct bb_op_type {
    uint32_t input_count;  /* the fewest inputs it takes */
    uint32_t max_inputs;   /* the most (concat: up to BB_OP_MAX_INPUTS) */
    int in_place;          /* the output may be exactly inputs[0] */
    uint32_t params_words; /* int32 words of the params union this kind uses */
    bb_status (*check)(const bb_op *op, const uint8_t *data, uint32_t *scratch_bytes);
    bb_status (*run)(const bb_op *op, const uint8_t *data, const int8_t *const *inputs,
                     int8_t *output, int8_t *scratch);
} bb_op_type;

/* The row of `kind`, or NULL for a kind this runtime does not know. */
const bb_op_type *bb_op_type_of(int32_t kind);

/* c * h * w bytes, or 0 when a dimension is not positive or the product passes INT32_MAX. */
uint32_t bb_tensor_bytes(const bb_tensor *t);

#endif /* BB_OPS_H */
