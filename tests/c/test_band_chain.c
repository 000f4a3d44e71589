/* test_band_chain.c: bb_band_chain_s8 against its stages run one after another on whole
 * tensors by the reference kernels, on random chains (depthwise, pointwise, a first conv;
 * odd heights, stride 2, asymmetric padding, bands taller than the image, zero points at
 * the extremes), in place where allowed, and its refusals. Run under ASan/UBSan by
 * tests/c/run.sh. */
#include <stdio.h>
#include <string.h>
#include "bb_band_chain_s8.h"
#include "bb_int8_graph.h"
#include "bb_window.h"

static unsigned passed, failed;

static void check(int ok, const char *what, int index)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL: %s #%d\n", what, index);
}

static uint32_t state = 2463534242u;

static uint32_t next_u32(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static int32_t uniform(int32_t lo, int32_t hi) { return lo + (int32_t)(next_u32() % (uint32_t)(hi - lo + 1)); }

#define MAX_T 6000
#define MAX_W 2048
#define MAX_C 16

static int8_t x[MAX_T], mid[MAX_T], want[MAX_T], got[MAX_T + 16], inplace[MAX_T];
static int8_t weights[2][MAX_W];
static int32_t bias[2][MAX_C], mult[2][MAX_C], shift_[2][MAX_C];
static union {
    int8_t bytes[1 << 16];
    uint32_t align;
} scratch;

static bb_quant_out random_quant(int extreme)
{
    bb_quant_out q;
    q.input_offset = extreme ? ((next_u32() & 1u) ? 128 : -127) : uniform(-127, 128);
    q.output_offset = extreme ? ((next_u32() & 1u) ? 127 : -128) : uniform(-128, 127);
    q.activation_min = (next_u32() & 3u) == 0 ? q.output_offset : -128;
    q.activation_max = 127;
    return q;
}

/* A random stage over `in` channels: kind, window, weights and requantization; `keep`:
 * one that keeps the shape (a depthwise of stride 1 with "same" padding, maybe
 * asymmetric, or a pointwise to as many channels), so that the chain may run in place. */
static bb_chain_stage random_stage(int index, int32_t in_c, int extreme, int keep)
{
    bb_chain_stage st;
    memset(&st, 0, sizeof st);
    const uint32_t r = next_u32() % 3u;
    st.type = index == 0 && r == 0 ? BB_STAGE_CONV : (r == 1 ? BB_STAGE_POINTWISE : BB_STAGE_DEPTHWISE);
    if (index > 0 && st.type == BB_STAGE_CONV)
        st.type = BB_STAGE_DEPTHWISE;
    st.quant = random_quant(extreme);
    bb_s8_window *c = &st.conv;
    if (st.type == BB_STAGE_POINTWISE) {
        c->kernel_height = c->kernel_width = c->stride_height = c->stride_width = 1;
        st.out_channels = uniform(1, MAX_C);
    } else {
        c->kernel_height = uniform(1, 4);
        c->kernel_width = uniform(1, 3);
        c->stride_height = uniform(1, 2);
        c->stride_width = uniform(1, 2);
        c->pad_top = uniform(0, c->kernel_height - 1);
        c->pad_bottom = uniform(0, c->kernel_height - 1); /* asymmetric now and then */
        c->pad_left = uniform(0, c->kernel_width - 1);
        c->pad_right = uniform(0, c->kernel_width - 1);
        st.out_channels = st.type == BB_STAGE_DEPTHWISE ? in_c : uniform(1, 8);
    }
    if (keep) {
        st.type = r == 1 ? BB_STAGE_POINTWISE : BB_STAGE_DEPTHWISE;
        st.out_channels = in_c;
        if (st.type == BB_STAGE_DEPTHWISE) {
            c->stride_height = c->stride_width = 1;
            c->pad_top = uniform(0, c->kernel_height - 1);
            c->pad_bottom = c->kernel_height - 1 - c->pad_top;
            c->pad_left = uniform(0, c->kernel_width - 1);
            c->pad_right = c->kernel_width - 1 - c->pad_left;
        }
    }
    return st;
}

static int32_t taps_of(const bb_chain_stage *st, int32_t in_c)
{
    const int32_t window = st->conv.kernel_height * st->conv.kernel_width;
    return st->type == BB_STAGE_DEPTHWISE ? window : (st->type == BB_STAGE_POINTWISE ? in_c : in_c * window);
}

/* Stage s whole, by the reference kernels. */
static bb_status run_whole(const bb_chain_stage *st, int s, const bb_s8_dims *in, const int8_t *src, int8_t *dst)
{
    const bb_chain_weights w = {weights[s], bias[s], mult[s], shift_[s]};
    if (st->type == BB_STAGE_DEPTHWISE)
        return bb_depthwise_conv2d_s8_reference(in, 1, &st->conv, &st->quant, w.multiplier, w.shift, src, w.w, w.bias,
                                                dst);
    if (st->type == BB_STAGE_POINTWISE)
        return bb_pointwise_conv2d_s8_reference(in, st->out_channels, &st->quant, w.multiplier, w.shift, src, w.w,
                                                w.bias, dst);
    return bb_conv2d_s8(in, st->out_channels, &st->conv, &st->quant, w.multiplier, w.shift, src, w.w, w.bias, dst);
}

static unsigned in_place_cases;

static void test_random(int cases)
{
    for (int t = 0; t < cases; t++) {
        const int extreme = t % 5 == 0;
        const bb_s8_dims in = {1, uniform(1, 8), uniform(1, 19), uniform(1, 13)};
        const int32_t count = uniform(1, BB_CHAIN_MAX_STAGES);
        bb_chain_stage st[BB_CHAIN_MAX_STAGES];
        bb_s8_dims d[BB_CHAIN_MAX_STAGES + 1];
        d[0] = in;
        int ok = 1;
        for (int32_t s = 0; s < count && ok; s++) {
            st[s] = random_stage(s, d[s].channels, extreme, t % 3 == 1);
            int32_t oh, ow;
            ok = bb_window_count(d[s].height, st[s].conv.kernel_height, st[s].conv.stride_height, st[s].conv.pad_top,
                                 st[s].conv.pad_bottom, &oh) == BB_OK &&
                 bb_window_count(d[s].width, st[s].conv.kernel_width, st[s].conv.stride_width, st[s].conv.pad_left,
                                 st[s].conv.pad_right, &ow) == BB_OK;
            if (!ok)
                break;
            d[s + 1] = (bb_s8_dims){1, st[s].out_channels, oh, ow};
            const int32_t taps = taps_of(&st[s], d[s].channels);
            for (int32_t i = 0; i < st[s].out_channels * taps; i++)
                weights[s][i] = (int8_t)(extreme ? ((next_u32() & 1u) ? 127 : -127) : uniform(-127, 127));
            for (int32_t c = 0; c < st[s].out_channels; c++) {
                bias[s][c] = uniform(-20000, 20000);
                mult[s][c] = (int32_t)((1u << 30) + (next_u32() >> 2));
                shift_[s][c] = uniform(-12, -6);
            }
        }
        if (!ok) {
            t--;
            continue; /* a window larger than its padded input: draw again */
        }
        const size_t nx = (size_t)in.channels * (size_t)in.height * (size_t)in.width;
        const bb_s8_dims *o = &d[count];
        const size_t ny = (size_t)o->channels * (size_t)o->height * (size_t)o->width;
        for (size_t i = 0; i < nx; i++)
            x[i] = (int8_t)(extreme ? ((next_u32() & 1u) ? 127 : -128) : uniform(-128, 127));
        /* the stages whole */
        const int8_t *src = x;
        for (int32_t s = 0; s < count; s++) {
            int8_t *dst = s == count - 1 ? want : mid;
            if (s == 1)
                memcpy(inplace, mid, (size_t)d[1].channels * (size_t)d[1].height * (size_t)d[1].width), src = inplace;
            check(run_whole(&st[s], s, &d[s], src, dst) == BB_OK, "reference stage", t);
            src = dst;
        }
        const bb_chain_weights w[2] = {{weights[0], bias[0], mult[0], shift_[0]},
                                       {weights[1], bias[1], mult[1], shift_[1]}};
        const int32_t band = uniform(1, o->height);
        const size_t need = bb_band_chain_s8_scratch_size(&in, count, st, band);
        check(need > 0 && need <= sizeof scratch.bytes, "scratch size", t);
        if (need == 0 || need > sizeof scratch.bytes)
            continue;
        memset(got, 0x55, sizeof got);
        bb_status s = bb_band_chain_s8(&in, count, st, w, band, x, got, scratch.bytes, need);
        check(s == BB_OK, "chain status", t);
        check(memcmp(got, want, ny) == 0, "chain == stages whole", t);
        check(got[ny] == 0x55, "chain writes nothing past y", t);
        s = bb_band_chain_s8(&in, count, st, w, band, x, got, scratch.bytes, need - 1);
        check(s == BB_ERR_SCRATCH, "one byte less scratch is refused", t);
        if (bb_band_chain_s8_in_place_ok(&in, count, st)) {
            memcpy(inplace, x, nx);
            s = bb_band_chain_s8(&in, count, st, w, band, inplace, inplace, scratch.bytes, need);
            check(s == BB_OK && memcmp(inplace, want, ny) == 0, "chain in place", t);
            in_place_cases++;
        } else {
            check(bb_band_chain_s8(&in, count, st, w, band, x, (int8_t *)x, scratch.bytes, need) == BB_ERR_ARGUMENT,
                  "in place refused where the shape changes", t);
        }
    }
}

static void test_refusals(void)
{
    const bb_s8_dims in = {1, 4, 6, 5};
    bb_chain_stage st[2];
    memset(st, 0, sizeof st);
    st[0].type = BB_STAGE_DEPTHWISE;
    st[0].out_channels = 4;
    st[0].quant = (bb_quant_out){0, 0, -128, 127};
    st[0].conv = (bb_s8_window){3, 3, 1, 1, 1, 1, 1, 1};
    st[1].type = BB_STAGE_POINTWISE;
    st[1].out_channels = 3;
    st[1].quant = st[0].quant;
    st[1].conv = (bb_s8_window){1, 1, 1, 1, 0, 0, 0, 0};
    bb_s8_dims out;
    check(bb_band_chain_s8_output(&in, 2, st, 2, &out) == BB_OK && out.channels == 3 && out.height == 6,
          "a valid chain", 0);
    check(bb_band_chain_s8_output(&in, 2, st, 0, &out) == BB_ERR_ARGUMENT, "band of 0 rows", 0);
    check(bb_band_chain_s8_output(&in, 2, st, 7, &out) == BB_ERR_ARGUMENT, "band taller than the output", 0);
    check(bb_band_chain_s8_output(&in, 3, st, 1, &out) == BB_ERR_ARGUMENT, "too many stages", 0);
    check(bb_band_chain_s8_output(&in, 0, st, 1, &out) == BB_ERR_ARGUMENT, "no stage", 0);
    bb_chain_stage bad[2];
    memcpy(bad, st, sizeof st);
    bad[1].type = BB_STAGE_CONV;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_ARGUMENT, "a conv after the first stage", 0);
    memcpy(bad, st, sizeof st);
    bad[0].out_channels = 5;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_SHAPE, "depthwise changing channels", 0);
    memcpy(bad, st, sizeof st);
    bad[1].conv.pad_top = 1;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_ARGUMENT, "padded pointwise", 0);
    memcpy(bad, st, sizeof st);
    bad[0].conv.pad_bottom = 3;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_ARGUMENT, "padding as tall as the kernel", 0);
    memcpy(bad, st, sizeof st);
    bad[0].type = 7;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_ARGUMENT, "unknown stage type", 0);
    memcpy(bad, st, sizeof st);
    bad[0].quant.input_offset = 129;
    check(bb_band_chain_s8_output(&in, 2, bad, 1, &out) == BB_ERR_ARGUMENT, "input offset out of range", 0);
    check(bb_band_chain_s8_scratch_size(&in, 2, bad, 1) == 0, "no scratch size for an invalid chain", 0);
    check(!bb_band_chain_s8_in_place_ok(&in, 2, st), "channels 4 -> 3: not in place", 0);
}

int main(void)
{
    test_refusals();
    test_random(1500);
    check(in_place_cases > 300, "enough chains ran in place", (int)in_place_cases);
    printf("band chain: %u passed, %u failed (%u chains in place)\n", passed, failed, in_place_cases);
    return failed == 0 ? 0 : 1;
}
