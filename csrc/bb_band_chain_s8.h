/* bb_band_chain_s8.h: a chain of int8 convolutions computed in bands of output rows, so
 * that no intermediate ever exists whole (the row bands of MCUNetV2's patch-based
 * inference; issue #13's "streaming of op chains").
 *
 * A chain is 1 to BB_CHAIN_MAX_STAGES stages, each one of the conv-like kernels of
 * bb_int8_graph.h: depthwise (multiplier 1), pointwise (1x1, stride 1, no padding) or a
 * convolution (bb_conv2d_gemm_s8; first stage only). Stage s reads stage s - 1's output.
 * The final output is computed `band_rows` rows at a time; for each band, each stage
 * needs a range of its input's rows (from its kernel, stride and padding), kept in a
 * small buffer in scratch:
 *   - before a depthwise stage, a sliding window of rows per channel: the rows still
 *     needed are kept across bands, only the new rows are computed (nothing is computed
 *     twice);
 *   - before a pointwise or conv stage, a dense (C, rows, W) band, filled afresh each band
 *     (a pointwise stage needs exactly its output rows; a conv stage reads the chain's
 *     input, whose overlapping rows are copied again from the whole input).
 * Each stage then runs its existing kernel on that sub-image, with the band's own top and
 * bottom padding (the window's paddings where the band touches the image's edge, none
 * inside): the same integers as the stages run one after another on whole tensors.
 *
 * In place (y == x) is allowed when every stage keeps channels, height and width
 * (stride 1, "same" padding) and no stage is a conv: every input row is copied into
 * scratch before the band that overwrites it is written. Otherwise y must not overlap x.
 * NCHW int8, batch 1. Scratch (4-byte aligned) from bb_band_chain_s8_scratch_size: the
 * largest kernel scratch, the stages' row buffers and a band of output. */
#ifndef BB_BAND_CHAIN_S8_H
#define BB_BAND_CHAIN_S8_H

#include <stddef.h>
#include <stdint.h>
#include "bb_status.h"
#include "bb_int8.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BB_CHAIN_MAX_STAGES 2

/* The stage kinds. */
enum { BB_STAGE_CONV = 1, BB_STAGE_DEPTHWISE = 2, BB_STAGE_POINTWISE = 3 };

/* A stage's hyper-parameters, int32 words only (a model's params hold them). */
typedef struct bb_chain_stage {
    int32_t type;         /* BB_STAGE_* (not `kind`: that names a bb_op_kind) */
    int32_t out_channels; /* a depthwise stage: its input's channels */
    bb_quant_out quant;
    bb_s8_window conv; /* a pointwise stage: 1x1, stride 1, no padding */
} bb_chain_stage;

/* A stage's constant arrays, as its kernel takes them (bias may be NULL). */
typedef struct bb_chain_weights {
    const int8_t *w;
    const int32_t *bias;
    const int32_t *multiplier;
    const int32_t *shift;
} bb_chain_weights;

/* The output dims of the chain over `in`, after checking the stages and band_rows (in
 * [1, output height]); BB_ERR_ARGUMENT or BB_ERR_SHAPE names what is wrong. */
bb_status bb_band_chain_s8_output(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                                  int32_t band_rows, bb_s8_dims *out);

/* 0 when the chain is invalid (see bb_band_chain_s8_output). */
size_t bb_band_chain_s8_scratch_size(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                                     int32_t band_rows);

/* Whether the chain may run with y == x (see above). */
int bb_band_chain_s8_in_place_ok(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages);

bb_status bb_band_chain_s8(const bb_s8_dims *in, int32_t count, const bb_chain_stage *stages,
                           const bb_chain_weights *weights, int32_t band_rows, const int8_t *x, int8_t *y,
                           int8_t *scratch, size_t scratch_bytes);

#ifdef __cplusplus
}
#endif

#endif /* BB_BAND_CHAIN_S8_H */
