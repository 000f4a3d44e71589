/* test_audio.c: checks the integer MFCC front end (csrc/bb_audio.c) against a
 * double-precision reference written here from the definition in bb_audio.h (a plain
 * DFT, mel edges from log10 / pow, the window from cos: no table is shared), and its
 * error paths. Build and run with tests/c/run.sh (ASan and UBSan: any overflow in the
 * integer pipeline stops the run).
 *
 * Tolerance: every int8 feature within 0.75 step of the reference's unrounded value
 * (then clamped to [-128, 127]). */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "braininabox.h"

#define PI 3.14159265358979323846
#define FEATURES (BB_MFCC_FRAMES * BB_MFCC_COEFFICIENTS)

static int passed, failed;
static double worst_overall; /* the largest difference from the reference, in int8 steps */

static void check(int ok, const char *fmt, ...)
{
    if (ok) {
        passed++;
        return;
    }
    failed++;
    va_list args;
    va_start(args, fmt);
    printf("FAIL: ");
    vprintf(fmt, args);
    printf("\n");
    va_end(args);
}

static uint32_t rng = 2024u;

static uint32_t next_random(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* ---- the double-precision reference ---------------------------------------- */

static double mel(double hz) { return 2595.0 * log10(1.0 + hz / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* The unrounded int8 value of every feature (before clamping). */
static void reference(int rate, const int16_t *pcm, int count, double *q)
{
    int frame = rate / 1000 * 30, stride = rate / 1000 * 20, n_fft = rate == 8000 ? 256 : 512;
    double edges[BB_MFCC_MEL_BANDS + 2];
    for (int i = 0; i < BB_MFCC_MEL_BANDS + 2; i++)
        edges[i] = mel_to_hz(mel(20.0) + (mel(4000.0) - mel(20.0)) * i / (BB_MFCC_MEL_BANDS + 1));
    for (int f = 0; f < BB_MFCC_FRAMES; f++) {
        double energy[BB_MFCC_MEL_BANDS] = {0};
        for (int k = 1; k < n_fft / 2; k++) {
            double re = 0, im = 0, hz = (double)k * rate / n_fft;
            for (int n = 0; n < frame; n++) {
                int at = f * stride + n;
                double x = at < count && at < rate ? pcm[at] : 0.0;
                x *= 0.5 - 0.5 * cos(2 * PI * n / frame);
                re += x * cos(2 * PI * k * n / n_fft);
                im -= x * sin(2 * PI * k * n / n_fft);
            }
            double power = (re * re + im * im) / ((double)n_fft * n_fft);
            for (int b = 0; b < BB_MFCC_MEL_BANDS; b++) {
                double lo = edges[b], mid = edges[b + 1], hi = edges[b + 2];
                double w = hz <= lo || hz >= hi ? 0.0 : hz <= mid ? (hz - lo) / (mid - lo)
                                                               : (hi - hz) / (hi - mid);
                energy[b] += w * power;
            }
        }
        double floor_energy = pow(2.0, BB_MFCC_LOG2_FLOOR);
        for (int i = 0; i < BB_MFCC_COEFFICIENTS; i++) {
            double c = 0;
            for (int b = 0; b < BB_MFCC_MEL_BANDS; b++)
                c += sqrt((i ? 2.0 : 1.0) / BB_MFCC_MEL_BANDS) * cos(PI * i * (b + 0.5) / BB_MFCC_MEL_BANDS)
                     * log(energy[b] > floor_energy ? energy[b] : floor_energy);
            q[f * BB_MFCC_COEFFICIENTS + i] = c * BB_MFCC_INV_SCALE + BB_MFCC_ZERO_POINT;
        }
    }
}

/* ---- cases -------------------------------------------------------------------- */

static int32_t *scratch_for(int rate)
{
    return malloc(bb_mfcc_s8_scratch_size(rate));
}

/* Runs the front end, compares with the reference, returns the largest difference. */
static double compare(const char *name, int rate, const int16_t *pcm, int count)
{
    int8_t got[FEATURES];
    double want[FEATURES];
    int32_t *scratch = scratch_for(rate);
    memset(scratch, 0xA5, bb_mfcc_s8_scratch_size(rate)); /* stale scratch must not matter */
    bb_status s = bb_mfcc_s8(rate, pcm, count, got, scratch, bb_mfcc_s8_scratch_size(rate));
    check(s == BB_OK, "%s: status %d", name, (int)s);
    reference(rate, pcm, count, want);
    double worst = 0;
    int at = 0;
    for (int i = 0; i < FEATURES; i++) {
        double w = want[i] < -128 ? -128 : want[i] > 127 ? 127 : want[i];
        double d = fabs(got[i] - w);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    check(worst <= 0.75, "%s at %d Hz: feature %d (frame %d) is %d, reference %.3f", name, rate,
          at, at / BB_MFCC_COEFFICIENTS, got[at], want[at]);
    if (worst > worst_overall)
        worst_overall = worst;
    free(scratch);
    return worst;
}

static void test_signals(int rate)
{
    int count = rate + rate / 4; /* longer than the window: trimmed */
    int16_t *pcm = malloc(sizeof(int16_t) * (size_t)count);
    char name[80];

    memset(pcm, 0, sizeof(int16_t) * (size_t)count);
    compare("silence", rate, pcm, count);

    for (int i = 0; i < count; i++) /* full-scale square wave, 500 Hz */
        pcm[i] = (i / (rate / 1000)) % 2 ? -32768 : 32767;
    compare("full-scale square wave", rate, pcm, count);

    for (int i = 0; i < count; i++) /* full-scale white noise */
        pcm[i] = (int16_t)((int32_t)(next_random() & 0xFFFF) - 32768);
    compare("full-scale noise", rate, pcm, count);

    for (int amplitude = 1; amplitude <= 4096; amplitude *= 8) { /* quiet to loud tones + noise */
        for (int i = 0; i < count; i++) {
            double t = (double)i / rate;
            double x = amplitude * (sin(2 * PI * 440 * t) + 0.5 * sin(2 * PI * 1870 * t)) +
                       (double)(next_random() % 3) - 1.0;
            pcm[i] = (int16_t)lrint(x);
        }
        snprintf(name, sizeof name, "tones of amplitude %d", amplitude);
        compare(name, rate, pcm, count);
    }

    memset(pcm, 0, sizeof(int16_t) * (size_t)count); /* a click, then silence */
    pcm[rate / 2] = -32768;
    compare("one full-scale click", rate, pcm, count);

    /* A short recording (0.3 s of a chirp): the rest of the second is padding. */
    for (int i = 0; i < count; i++)
        pcm[i] = (int16_t)lrint(8000 * sin(2 * PI * (200 + 3 * i * 1000.0 / rate) * i / rate));
    compare("short chirp", rate, pcm, rate * 3 / 10);
    free(pcm);
}

static void test_padding_and_determinism(void)
{
    int16_t pcm[8000 + 100];
    int16_t padded[8000];
    int8_t a[FEATURES], b[FEATURES], c[FEATURES];
    int32_t *scratch = scratch_for(8000);
    size_t size = bb_mfcc_s8_scratch_size(8000);
    for (int i = 0; i < 8100; i++)
        pcm[i] = (int16_t)((int32_t)(next_random() % 20001) - 10000);
    memset(padded, 0, sizeof padded);
    memcpy(padded, pcm, 3000 * sizeof(int16_t));
    check(bb_mfcc_s8(8000, pcm, 3000, a, scratch, size) == BB_OK, "short input");
    check(bb_mfcc_s8(8000, padded, 8000, b, scratch, size) == BB_OK, "padded input");
    check(memcmp(a, b, sizeof a) == 0, "3000 samples give the features of them padded with zeros");
    check(bb_mfcc_s8(8000, pcm, 8100, a, scratch, size) == BB_OK, "long input");
    check(bb_mfcc_s8(8000, pcm, 8000, b, scratch, size) == BB_OK, "one second");
    check(memcmp(a, b, sizeof a) == 0, "input beyond 1 s is ignored");
    memset(scratch, 0x5A, size);
    check(bb_mfcc_s8(8000, pcm, 8000, c, scratch, size) == BB_OK, "rerun");
    check(memcmp(b, c, sizeof b) == 0, "the same input gives the same bytes");
    free(scratch);
}

/* The bytes of the samples, at an odd address inside an int8 buffer (as in a runtime's
 * arena), give the features of the int16 array itself. */
static void test_pcm_from_bytes(void)
{
    int16_t pcm[8000];
    int8_t arena[1 + sizeof pcm];
    int8_t a[FEATURES], b[FEATURES];
    int32_t *scratch = scratch_for(8000);
    size_t size = bb_mfcc_s8_scratch_size(8000);
    for (int i = 0; i < 8000; i++)
        pcm[i] = (int16_t)((int32_t)(next_random() % 60001) - 30000);
    memcpy(arena + 1, pcm, sizeof pcm);
    check(bb_mfcc_s8(8000, pcm, 8000, a, scratch, size) == BB_OK, "int16 samples");
    check(bb_mfcc_s8_from_bytes(8000, arena + 1, 8000, b, scratch, size) == BB_OK,
          "their bytes at an odd address");
    check(memcmp(a, b, sizeof a) == 0, "the samples' bytes give the samples' features");
    check(bb_mfcc_s8_from_bytes(8000, NULL, 10, b, scratch, size) == BB_ERR_NULL, "NULL bytes");
    free(scratch);
}

static void test_silence_value(void)
{
    /* Silence is log energy 2^-6 in every band: c0 = sqrt(40) * ln(2^-6) = -26.30, so
     * q0 = round(-52.61) - 64 = -117; the other coefficients are 0, q = -64. */
    int16_t pcm[100] = {0};
    int8_t got[FEATURES];
    int32_t *scratch = scratch_for(16000);
    check(bb_mfcc_s8(16000, pcm, 100, got, scratch, bb_mfcc_s8_scratch_size(16000)) == BB_OK,
          "silence at 16 kHz");
    int ok = 1;
    for (int f = 0; f < BB_MFCC_FRAMES; f++)
        for (int i = 0; i < BB_MFCC_COEFFICIENTS; i++)
            ok &= got[f * BB_MFCC_COEFFICIENTS + i] == (i ? -64 : -117);
    check(ok, "silence gives -117 then nine -64 in every frame (got %d %d)", got[0], got[1]);
    free(scratch);
}

static void test_errors(void)
{
    int16_t pcm[8000] = {0};
    int8_t out[FEATURES];
    size_t size = bb_mfcc_s8_scratch_size(8000);
    int32_t *scratch = scratch_for(8000);
    check(size == 2 * 256 * 4 && bb_mfcc_s8_scratch_size(16000) == 2 * 512 * 4,
          "scratch sizes %zu, %zu", size, bb_mfcc_s8_scratch_size(16000));
    check(bb_mfcc_s8_scratch_size(44100) == 0, "no scratch size for 44.1 kHz");
    memset(out, 7, sizeof out);
    check(bb_mfcc_s8(8000, NULL, 10, out, scratch, size) == BB_ERR_NULL, "NULL pcm");
    check(bb_mfcc_s8(8000, pcm, 10, NULL, scratch, size) == BB_ERR_NULL, "NULL features");
    check(bb_mfcc_s8(8000, pcm, 10, out, NULL, size) == BB_ERR_NULL, "NULL scratch");
    check(bb_mfcc_s8(44100, pcm, 10, out, scratch, size) == BB_ERR_ARGUMENT, "44.1 kHz refused");
    check(bb_mfcc_s8(0, pcm, 10, out, scratch, size) == BB_ERR_ARGUMENT, "rate 0 refused");
    check(bb_mfcc_s8(8000, pcm, 0, out, scratch, size) == BB_ERR_SHAPE, "no samples");
    check(bb_mfcc_s8(8000, pcm, -5, out, scratch, size) == BB_ERR_SHAPE, "negative count");
    check(bb_mfcc_s8(8000, pcm, 10, out, scratch, size - 1) == BB_ERR_SCRATCH, "scratch too small");
    check(bb_mfcc_s8(16000, pcm, 10, out, scratch, size) == BB_ERR_SCRATCH,
          "8 kHz scratch is too small at 16 kHz");
    check(bb_mfcc_s8(8000, pcm, 10, out, (char *)scratch + 1, size) == BB_ERR_SCRATCH,
          "misaligned scratch");
    int untouched = 1;
    for (int i = 0; i < FEATURES; i++)
        untouched &= out[i] == 7;
    check(untouched, "errors write no feature");
    free(scratch);
}

int main(void)
{
    test_errors();
    test_pcm_from_bytes();
    test_silence_value();
    test_padding_and_determinism();
    test_signals(8000);
    test_signals(16000);
    printf("bb_audio: %d checks passed, %d failed; largest difference from the double reference: "
           "%.3f int8 steps\n", passed, failed, worst_overall);
    return failed ? 1 : 0;
}
