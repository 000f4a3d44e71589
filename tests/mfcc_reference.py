"""The float64 numpy reference of the integer MFCC front end (csrc/bb_audio.c, bb.audio),
written from the definition in csrc/bb_audio.h with no shared table: the window from
cos, the mel edges from log10, the DFT by numpy's rfft, the log by np.log, the DCT from
cos. It returns the int8 values before rounding and clamping, so a test can say how
far the integer version is from exact arithmetic."""
import numpy as np

FRAMES, COEFFICIENTS, MEL_BANDS = 49, 10, 40
LOW_HZ, HIGH_HZ = 20.0, 4000.0
LOG_FLOOR = np.log(2.0 ** -6)
SCALE, ZERO_POINT = 0.5, -64


def _mel(hz):
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_weights(sample_rate, n_fft):
    """(40, n_fft / 2 + 1) triangular weights, peak 1, edges equally spaced in HTK mel."""
    edges = _hz(np.linspace(_mel(LOW_HZ), _mel(HIGH_HZ), MEL_BANDS + 2))
    f = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.clip(np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)), 0.0, None)


def dct_matrix():
    """(10, 40) orthonormal DCT-II rows."""
    i = np.arange(COEFFICIENTS)[:, None]
    m = np.arange(MEL_BANDS)[None, :]
    return np.sqrt(np.where(i == 0, 1.0, 2.0) / MEL_BANDS) * np.cos(np.pi * i * (m + 0.5) / MEL_BANDS)


def mfcc_reference(pcm, sample_rate=8000):
    """(49, 10) float64: the MFCC coefficients divided by the int8 scale plus the zero
    point, i.e. what the int8 features are before round() and clamp(-128, 127)."""
    frame = sample_rate * 30 // 1000
    stride = sample_rate * 20 // 1000
    n_fft = 256 if sample_rate == 8000 else 512
    x = np.zeros(sample_rate)
    pcm = np.asarray(pcm, dtype=np.float64)[:sample_rate]
    x[:len(pcm)] = pcm
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    frames = np.stack([x[f * stride:f * stride + frame] * window for f in range(FRAMES)])
    power = np.abs(np.fft.rfft(frames, n_fft) / n_fft) ** 2
    energy = power @ mel_weights(sample_rate, n_fft).T
    log_energy = np.log(np.maximum(energy, np.exp(LOG_FLOOR)))
    return log_energy @ dct_matrix().T / SCALE + ZERO_POINT
