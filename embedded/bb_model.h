/* bb_model.h: the format of an exported int8 model, shared by the exporter
 * (braininabox/export.py writes headers of these structs) and the runtime.
 *
 * A model is a table of ops run in order. Every activation lives in one
 * caller-owned arena; the exporter's memory plan gives each op the byte offsets of
 * its input and output there (buffers never live together share bytes). Tensors
 * are NCHW int8; a flat vector of F features is (F, 1, 1). Weights, biases and
 * requantization parameters are `static const` data (flash on a microcontroller).
 *
 * Change BB_MODEL_FORMAT_VERSION whenever these structs or their meaning change:
 * the runtime refuses a model written for another version. */
#ifndef BB_MODEL_H
#define BB_MODEL_H

#include <stdint.h>
#include "bb_int8.h"

#define BB_MODEL_FORMAT_VERSION 2

typedef enum bb_op_kind {
    BB_OP_CONV2D = 1,     /* weights, bias, multiplier, shift; kernel, stride, pad */
    BB_OP_LINEAR = 2,     /* weights (out_c, in_c * in_h * in_w), bias, multiplier, shift */
    BB_OP_MAX_POOL2D = 3, /* kernel, stride */
    BB_OP_AVG_POOL2D = 4, /* kernel, stride */
    BB_OP_CLAMP = 5,      /* quant.activation_min / max: a ReLU not fused into a layer */
    BB_OP_SOFTMAX = 6,    /* exp_table; over the out_c values */
    BB_OP_CONV2D_POOL = 7 /* as BB_OP_CONV2D, then max pooling by `pool` (out_* are pooled);
                             the conv output is never stored (format version 2) */
} bb_op_kind;

typedef struct bb_op {
    int32_t kind; /* a bb_op_kind */
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
    int32_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
    bb_quant_out quant;
    bb_pool_window pool; /* BB_OP_CONV2D_POOL only */
    const int8_t *weights;
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
    const int32_t *exp_table;
    uint32_t input_at;  /* byte offset of the op's input in the arena */
    uint32_t output_at; /* byte offset of the op's output in the arena */
} bb_op;

typedef struct bb_model {
    uint32_t format_version; /* BB_MODEL_FORMAT_VERSION of the exporter */
    const char *name;
    uint32_t op_count;
    const bb_op *ops;
    uint32_t arena_bytes; /* the exact arena the memory plan needs */
    int32_t input_c, input_h, input_w;
    uint32_t input_size;  /* int8 values per sample */
    uint32_t output_size;
    /* For the application to (de)quantize; the int8 path never reads them. */
    float input_scale;
    int32_t input_zero_point;
    float output_scale;
    int32_t output_zero_point;
} bb_model;

#endif /* BB_MODEL_H */
