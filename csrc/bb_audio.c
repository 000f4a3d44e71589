/* bb_audio.c: the integer MFCC front end (the pipeline is described in bb_audio.h).
 *
 * Integer arithmetic only, bounded so that nothing can overflow for any int16 input
 * (the bounds are worked out next to each step). Right shifts of negative values are
 * arithmetic, as on every target we build for (gcc documents it); left shifts of
 * negative values are written as multiplications. */
#include <string.h>

#include "bb_audio.h"
#include "bb_audio_tables.h"

#define SILENT_FRAME 99 /* load_frame's answer for a frame of zeros (no exponent) */

/* The sizes for one sample rate. */
typedef struct rate_plan {
    int window;     /* samples in the 1 s window */
    int frame;      /* samples per frame (30 ms) */
    int stride;     /* samples between frame starts (20 ms) */
    int log2_fft;   /* FFT of 2^log2_fft points */
    int table_step; /* stride through the 480-point window and the 512-point twiddles */
} rate_plan;

static int plan_for(int sample_rate, rate_plan *p)
{
    if (sample_rate != 8000 && sample_rate != 16000)
        return 0;
    p->window = sample_rate;
    p->frame = sample_rate / 1000 * BB_MFCC_FRAME_MS;
    p->stride = sample_rate / 1000 * BB_MFCC_STRIDE_MS;
    p->log2_fft = sample_rate == 8000 ? 8 : 9;
    p->table_step = 16000 / sample_rate;
    return 1;
}

size_t bb_mfcc_s8_scratch_size(int sample_rate)
{
    rate_plan p;
    if (!plan_for(sample_rate, &p))
        return 0;
    return (size_t)2 * ((size_t)1 << p.log2_fft) * sizeof(int32_t); /* re, im */
}

/* The Hann window at sample n of a frame, Q15 in [0, 32768]. */
static int32_t hann(int n, int step)
{
    int m = n * step;
    return bb_audio_hann[m <= 240 ? m : 480 - m];
}

/* Fixed-point formats: the window and the mel weights are Q15; the frame enters the
 * FFT scaled so that its largest sample has FRAME_BITS bits, which leaves room for the
 * FFT's growth (at most 480 non-zero samples: 480 * 2^21 < 2^30) while keeping its
 * rounding noise about 120 dB below the frame's peak; powers drop POWER_SHIFT bits
 * before the mel sums so that those fit 64 bits. */
#define WINDOW_BITS 15
#define WEIGHT_BITS 15
#define FRAME_BITS 21
#define POWER_SHIFT 16

/* Sample i of PCM held as bytes (native int16 object representations). Copying them
 * into an int16_t reads bytes that may live in any object, e.g. a runtime's int8 arena,
 * without an int16_t lvalue over memory stored as something else (which C forbids);
 * compilers make it one halfword load. */
static int32_t sample_at(const unsigned char *pcm, int i)
{
    int16_t v;
    memcpy(&v, pcm + (size_t)i * sizeof v, sizeof v);
    return v;
}

/* Loads the frame starting at `start` times the window into re (zeros up to the FFT
 * size) and zeros im. The products v = x * w (|v| <= 2^30) are scaled to u = v * 2^-r
 * (rounded) with r chosen so that max |u| is in [2^20, 2^21]: returns r, in [-20, 10],
 * or SILENT_FRAME when every product is 0. */
static int load_frame(const rate_plan *p, const unsigned char *pcm, int count, int start,
                      int32_t *re, int32_t *im)
{
    int fft_n = 1 << p->log2_fft;
    uint32_t peak = 0;
    for (int i = 0; i < p->frame; i++) {
        int at = start + i;
        int32_t v = (at < count ? sample_at(pcm, at) : 0) * hann(i, p->table_step);
        uint32_t magnitude = v < 0 ? (uint32_t)-v : (uint32_t)v;
        if (magnitude > peak)
            peak = magnitude;
        re[i] = v;
    }
    for (int i = 0; i < fft_n; i++)
        im[i] = 0;
    for (int i = p->frame; i < fft_n; i++)
        re[i] = 0;
    if (peak == 0)
        return SILENT_FRAME;
    int bits = 0;
    while (bits < 32 && (peak >> bits) != 0)
        bits++;
    int r = bits - FRAME_BITS;
    for (int i = 0; i < p->frame; i++)
        re[i] = r > 0 ? (re[i] + ((int32_t)1 << (r - 1))) >> r : re[i] * ((int32_t)1 << -r);
    return r;
}

/* The twiddle e^(-2 pi i t / 512) = c - i s for t in [0, 256), Q30. */
static void twiddle(int t, int32_t *c, int32_t *s)
{
    if (t <= 128) {
        *c = bb_audio_cos[t];
        *s = bb_audio_cos[128 - t];
    } else {
        *c = -bb_audio_cos[256 - t];
        *s = bb_audio_cos[t - 128];
    }
}

/* In-place radix-2 decimation-in-time FFT of 2^log2_n points, unscaled. With
 * |u| <= 2^21 and at most 480 non-zero inputs, every value stays below 480 * 2^21 +
 * (rounding) < 2^30 in magnitude, so int32 never overflows, and each product with a
 * Q30 twiddle (|c|, |s| <= 2^30, c^2 + s^2 ~ 2^60) sums to below 2^61 in int64. */
static void fft(int32_t *re, int32_t *im, int log2_n)
{
    int n = 1 << log2_n;
    for (int i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            int32_t t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int half = 1; half < n; half *= 2) {
        int step = 256 / half; /* twiddle index step on the 512-point circle */
        for (int j = 0; j < half; j++) {
            int32_t c, s;
            twiddle(j * step, &c, &s);
            for (int a = j; a < n; a += 2 * half) {
                int b = a + half;
                /* (re + i im)(c - i s), rounded back from Q30 */
                int64_t half_lsb = (int64_t)1 << 29;
                int32_t tr = (int32_t)(((int64_t)re[b] * c + (int64_t)im[b] * s + half_lsb) >> 30);
                int32_t ti = (int32_t)(((int64_t)im[b] * c - (int64_t)re[b] * s + half_lsb) >> 30);
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
        }
    }
}

/* log2(e) in Q16 for e > 0: the position of the leading one plus log2 of the next 16
 * bits as a fraction in [1, 2), by linear interpolation in a 32-segment table
 * (error below 2e-4). */
static int32_t log2_q16(uint64_t e)
{
    int msb = 63;
    while ((e >> msb) == 0)
        msb--;
    uint32_t frac = msb >= 16 ? (uint32_t)(e >> (msb - 16)) & 0xFFFFu
                              : (uint32_t)(e << (16 - msb)) & 0xFFFFu;
    int segment = (int)(frac >> 11);
    int32_t rest = (int32_t)(frac & 0x7FFu);
    int32_t lo = bb_audio_log2[segment], hi = bb_audio_log2[segment + 1];
    return (int32_t)msb * 65536 + lo + (((hi - lo) * rest + 1024) >> 11);
}

/* One frame: window, FFT, mel energies, log, DCT, int8. */
static void frame_features(const rate_plan *p, const unsigned char *pcm, int count, int start,
                           int32_t *re, int32_t *im, int8_t *out)
{
    const int32_t floor_q16 = (int32_t)BB_MFCC_LOG2_FLOOR * 65536;
    int32_t log_energy[BB_MFCC_MEL_BANDS]; /* log2 of each band energy, Q16 */
    int r = load_frame(p, pcm, count, start, re, im);
    if (r == SILENT_FRAME) {
        for (int b = 0; b < BB_MFCC_MEL_BANDS; b++)
            log_energy[b] = floor_q16;
    } else {
        fft(re, im, p->log2_fft);
        /* Mel energies of the scaled frame. |X_k| < 2^30 and, by Parseval, the powers of
         * all bins sum to below N * 480 * 2^42 < 2^61; 2^-16 of that, then at most Q15
         * weight 1 per bin, keeps every band below 2^60. */
        uint64_t energy[BB_MFCC_MEL_BANDS] = {0};
        for (int i = 0; i < BB_AUDIO_BINS; i++) {
            int k = BB_AUDIO_FIRST_BIN + i;
            uint64_t power = (uint64_t)((int64_t)re[k] * re[k] + (int64_t)im[k] * im[k]);
            uint64_t reduced = (power + ((uint64_t)1 << (POWER_SHIFT - 1))) >> POWER_SHIFT;
            int band = bb_audio_mel_segment[i];
            uint64_t rising = bb_audio_mel_weight[i];
            if (band < BB_MFCC_MEL_BANDS)
                energy[band] += reduced * rising;
            if (band > 0)
                energy[band - 1] += reduced * ((1u << WEIGHT_BITS) - rising);
        }
        /* u = x * w_hann * 2^(WINDOW_BITS - r), so energy = 2^(WEIGHT_BITS - POWER_SHIFT)
         * * 2^(2 WINDOW_BITS - 2r) * (the band energy of the int16 samples' |FFT|^2), and
         * with X = FFT / N the band energy is energy * 2^-offset: */
        int32_t offset_q16 = (int32_t)(WEIGHT_BITS - POWER_SHIFT + 2 * WINDOW_BITS +
                                       2 * p->log2_fft - 2 * r) * 65536;
        for (int b = 0; b < BB_MFCC_MEL_BANDS; b++) {
            int32_t l = energy[b] ? log2_q16(energy[b]) - offset_q16 : floor_q16;
            log_energy[b] = l > floor_q16 ? l : floor_q16;
        }
    }
    /* c_i = ln 2 * sum_b dct[i][b] * log2 E_b (Q15 * Q16 = Q31; |sum| < 2^41), then
     * q = round(c * INV_SCALE) + zero point: times round(ln 2 * INV_SCALE * 2^16), Q47. */
    const int64_t ln2_q16 = 45426; /* round(ln(2) * 2^16) */
    for (int i = 0; i < BB_MFCC_COEFFICIENTS; i++) {
        int64_t acc = 0;
        for (int b = 0; b < BB_MFCC_MEL_BANDS; b++)
            acc += (int64_t)bb_audio_dct[i * BB_MFCC_MEL_BANDS + b] * log_energy[b];
        int64_t scaled = acc * (ln2_q16 * BB_MFCC_INV_SCALE);
        int64_t q = ((scaled + ((int64_t)1 << 46)) >> 47) + BB_MFCC_ZERO_POINT;
        out[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
    }
}

bb_status bb_mfcc_s8(int sample_rate, const int16_t *pcm, int count, int8_t *features,
                     void *scratch, size_t scratch_bytes)
{
    return bb_mfcc_s8_from_bytes(sample_rate, pcm, count, features, scratch, scratch_bytes);
}

bb_status bb_mfcc_s8_from_bytes(int sample_rate, const void *pcm, int count, int8_t *features,
                                void *scratch, size_t scratch_bytes)
{
    rate_plan p;
    if (pcm == NULL || features == NULL || scratch == NULL)
        return BB_ERR_NULL;
    if (!plan_for(sample_rate, &p))
        return BB_ERR_ARGUMENT;
    if (count < 1)
        return BB_ERR_SHAPE;
    if (scratch_bytes < bb_mfcc_s8_scratch_size(sample_rate) ||
        (uintptr_t)scratch % sizeof(int32_t) != 0)
        return BB_ERR_SCRATCH;
    int32_t *re = scratch;
    int32_t *im = re + ((size_t)1 << p.log2_fft);
    int used = count < p.window ? count : p.window;
    for (int f = 0; f < BB_MFCC_FRAMES; f++)
        frame_features(&p, (const unsigned char *)pcm, used, f * p.stride, re, im,
                       features + f * BB_MFCC_COEFFICIENTS);
    return BB_OK;
}
