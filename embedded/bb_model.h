/* bb_model.h: the format of an exported int8 model, shared by the exporter
 * (braininabox/export.py writes headers of these structs), the host library (which
 * builds the same structs in memory through cffi) and the runtime.
 *
 * A model is a table of ops run in order: a graph in topological order. Every
 * activation lives in one caller-owned arena; an op names each of its inputs and its
 * output by byte offset and shape there (the exporter's memory plan lets buffers that
 * are never alive together share bytes), and may have a scratch region in the arena
 * for its kernel's working memory. Tensors are NCHW int8; a flat vector of F features
 * is (F, 1, 1). An op's hyper-parameters are a small per-kind struct (`params`, below);
 * its constant arrays (weights, biases, requantization parameters, tables) live in the
 * model's one `data` array and the op names each by offset and length. All of it is
 * `static const` data (flash on a microcontroller).
 *
 * The only pointers are `ops` and `data`, each with its length; everything else is a
 * number. bb_runtime_init checks every field before anything runs: each length against
 * what the shapes imply, each offset against the arena or the data, and `checksum`
 * against all the numbers and bytes of the model, so a corrupted model is refused.
 *
 * Change BB_MODEL_FORMAT_VERSION whenever these structs or their meaning change:
 * the runtime refuses a model written for another version. */
#ifndef BB_MODEL_H
#define BB_MODEL_H

#include <stdint.h>
#include "bb_int8.h"
#include "bb_int8_graph.h" /* bb_add_s8_params, bb_rescale_s8 */
#include "bb_band_chain_s8.h" /* bb_chain_stage */

#ifdef __cplusplus
extern "C" {
#endif

#define BB_MODEL_FORMAT_VERSION 4
#define BB_OP_MAX_INPUTS 4
#define BB_OP_MAX_DATA 8 /* a band chain: 4 slots per stage (4 * BB_CHAIN_MAX_STAGES) */

/* The op kinds; each has one row in the runtime's op table (embedded/bb_ops.c). */
typedef enum bb_op_kind {
    BB_OP_CONV2D = 1,      /* bb_conv_params; data: weights, bias, multiplier, shift */
    BB_OP_LINEAR = 2,      /* bb_linear_params; data: weights (out, in), bias, multiplier, shift */
    BB_OP_MAX_POOL2D = 3,  /* bb_pool_params */
    BB_OP_AVG_POOL2D = 4,  /* bb_pool_params */
    BB_OP_CLAMP = 5,       /* bb_clamp_params: a ReLU not fused into a layer; may run in place */
    BB_OP_SOFTMAX = 6,     /* no params; data: exp_table (256 int32); over the channels */
    BB_OP_CONV2D_POOL = 7, /* bb_conv_pool_params: a conv, its clamp, then max pooling (the
                              conv output is never stored); data as BB_OP_CONV2D */
    BB_OP_DEPTHWISE_CONV2D = 8, /* bb_depthwise_params; data as BB_OP_CONV2D, weights
                                   (C * multiplier, 1, kh, kw); may run in place (multiplier 1,
                                   same height and width) */
    BB_OP_POINTWISE_CONV2D = 9, /* bb_linear_params: a 1x1 conv, stride 1, no padding; data as
                                   BB_OP_CONV2D, weights (out, in) */
    BB_OP_ADD = 10,             /* bb_add_s8_params (TFLite's int8 add); two inputs; may run in
                                   place over its first input */
    BB_OP_GLOBAL_AVG_POOL = 11, /* bb_global_avg_pool_params: (C, H, W) -> (C, 1, 1) */
    BB_OP_CONCAT = 12,          /* bb_concat_params: 2 to BB_OP_MAX_INPUTS inputs along channels */
    BB_OP_CONV2D_GEMM = 13,     /* bb_conv_params; data as BB_OP_CONV2D: the same integers,
                                   computed as bands of im2col columns times the 1x1 kernel
                                   (csrc/bb_conv2d_gemm_s8.c), with scratch */
    BB_OP_BAND_CHAIN = 14,      /* bb_band_chain_params: 1 to BB_CHAIN_MAX_STAGES convolutions
                                   computed in bands of output rows (csrc/bb_band_chain_s8.h);
                                   data: each stage's weights, bias, multiplier, shift (slots
                                   4 s to 4 s + 3); may run in place when every stage keeps
                                   the shape; scratch bb_band_chain_s8_scratch_size */
    BB_OP_LEAKY_RELU = 15,      /* bb_leaky_relu_s8_params (TFLite's int8 LeakyRelu); may run
                                   in place */
    /* Front ends from 16 on: they turn raw samples into a network's int8 input. */
    BB_OP_MFCC = 16,            /* bb_mfcc_params: the audio front end (csrc/bb_audio.h). Its
                                   input holds int16 PCM as bytes (little-endian, at an even
                                   offset, 2 * samples bytes, 1 <= samples <= sample_rate); its
                                   output the (1, 49, 10) int8 MFCC map; scratch
                                   bb_mfcc_s8_scratch_size */
    BB_OP_KIND_END              /* one past the last kind */
} bb_op_kind;

/* The data slots of the weighted ops (conv2d, conv2d_pool, linear); softmax's table is slot 0. */
enum { BB_DATA_WEIGHTS = 0, BB_DATA_BIAS = 1, BB_DATA_MULTIPLIER = 2, BB_DATA_SHIFT = 3 };

/* A tensor in the arena: its byte offset and shape. */
typedef struct bb_tensor {
    uint32_t at;
    int32_t c, h, w;
} bb_tensor;

/* A constant array inside the model's data: byte offset (a multiple of 4) and length
 * ({0, 0} when absent, e.g. no bias). Offsets rather than pointers, so init can check
 * every one against the one data pointer's length. */
typedef struct bb_data_ref {
    uint32_t at;
    uint32_t bytes;
} bb_data_ref;

/* Per-kind parameters: what the kernel needs beyond the shapes of its tensors. */
typedef struct bb_conv_params {
    bb_quant_out quant;
    bb_s8_window conv;
} bb_conv_params;

typedef struct bb_conv_pool_params {
    bb_quant_out quant;
    bb_s8_window conv;
    bb_s8_window pool; /* max pooling over the conv output, no padding */
} bb_conv_pool_params;

typedef struct bb_linear_params {
    bb_quant_out quant;
} bb_linear_params;

typedef struct bb_pool_params {
    bb_s8_window pool; /* no padding */
} bb_pool_params;

typedef struct bb_clamp_params {
    int32_t activation_min, activation_max;
} bb_clamp_params;

typedef struct bb_depthwise_params {
    bb_quant_out quant;
    bb_s8_window conv; /* any of its four paddings (TensorFlow's "same" pads bottom / right more) */
    int32_t depth_multiplier;
} bb_depthwise_params;

typedef struct bb_global_avg_pool_params {
    bb_quant_out quant;
    int32_t multiplier, shift; /* input scale / output scale */
} bb_global_avg_pool_params;

typedef struct bb_concat_params {
    int32_t output_offset;
    bb_rescale_s8 inputs[BB_OP_MAX_INPUTS]; /* the first input_count are used, the rest zero */
} bb_concat_params;

typedef struct bb_band_chain_params {
    int32_t stage_count; /* 1 to BB_CHAIN_MAX_STAGES */
    int32_t band_rows;   /* output rows per band, in [1, output height] */
    bb_chain_stage stages[BB_CHAIN_MAX_STAGES]; /* the first stage_count are used, the rest zero */
} bb_band_chain_params;

typedef struct bb_mfcc_params {
    int32_t sample_rate; /* 8000 or 16000 Hz */
} bb_mfcc_params;

/* Every member is int32 words only (the checksum reads them as such). */
typedef union bb_op_params {
    bb_conv_params conv;           /* BB_OP_CONV2D, BB_OP_CONV2D_GEMM */
    bb_conv_pool_params conv_pool; /* BB_OP_CONV2D_POOL */
    bb_linear_params linear;       /* BB_OP_LINEAR */
    bb_pool_params pool;           /* BB_OP_MAX_POOL2D, BB_OP_AVG_POOL2D */
    bb_clamp_params clamp;         /* BB_OP_CLAMP */
    bb_depthwise_params depthwise; /* BB_OP_DEPTHWISE_CONV2D */
    bb_linear_params pointwise;    /* BB_OP_POINTWISE_CONV2D */
    bb_add_s8_params add;          /* BB_OP_ADD */
    bb_global_avg_pool_params global_avg_pool; /* BB_OP_GLOBAL_AVG_POOL */
    bb_concat_params concat;       /* BB_OP_CONCAT */
    bb_leaky_relu_s8_params leaky_relu; /* BB_OP_LEAKY_RELU */
    bb_mfcc_params mfcc;           /* BB_OP_MFCC */
    bb_band_chain_params band_chain; /* BB_OP_BAND_CHAIN */
} bb_op_params;

typedef struct bb_op {
    int32_t kind; /* a bb_op_kind */
    uint32_t input_count;
    bb_tensor inputs[BB_OP_MAX_INPUTS]; /* the first input_count are used */
    bb_tensor output;
    uint32_t scratch_at;    /* the kernel's working memory in the arena (bytes 0: none) */
    uint32_t scratch_bytes;
    bb_op_params params;    /* the member of this kind (none for softmax) */
    uint32_t data_count;
    bb_data_ref data[BB_OP_MAX_DATA]; /* the first data_count are used */
} bb_op;

typedef struct bb_model {
    uint32_t format_version; /* BB_MODEL_FORMAT_VERSION of the exporter */
    const char *name;        /* for the application; the runtime never reads it */
    uint32_t op_count;
    const bb_op *ops;
    uint32_t ops_bytes;      /* op_count * sizeof(bb_op): the length of `ops` */
    const uint32_t *data;    /* all constant arrays, little-endian, 4-byte aligned slots */
    uint32_t data_bytes;     /* the length of `data` */
    uint32_t arena_bytes;    /* the exact arena the memory plan needs, scratch included */
    bb_tensor input;         /* where invoke puts the input */
    bb_tensor output;        /* where invoke takes the output from */
    uint32_t input_size;     /* int8 values per sample: input.c * input.h * input.w */
    uint32_t output_size;
    /* For the application to (de)quantize; the int8 path never reads them. */
    float input_scale;
    int32_t input_zero_point;
    float output_scale;
    int32_t output_zero_point;
    uint32_t checksum; /* bb_model_checksum: every number above (not the pointers) and all data */
} bb_model;

#ifdef __cplusplus
}
#endif

#endif /* BB_MODEL_H */
