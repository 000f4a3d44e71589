"""Changing a recording's sample rate: band-limited (windowed-sinc) interpolation.

    pcm8k = resample(pcm44k, 44100, 8000)    # int16 in, int16 out

Each output sample n sits at input time t = n * from_rate / to_rate and is
sum_k x[k] h(t - k), where h is a low-pass filter (a sinc cut at 96 % of the lower
Nyquist frequency, under a Kaiser window over ZERO_CROSSINGS lobes on each side): flat
to 92 % of it (3.7 kHz for 8 kHz out) and 80 dB down from 100 %, so nothing the new
rate cannot hold folds back into the band (aliasing), and the front end's top mel band
(up to 4 kHz) keeps most of its energy.
Float64 arithmetic.
Also available as bb.audio.resample.
"""
import numpy as np

__all__ = ["resample"]

ZERO_CROSSINGS = 64   # sinc lobes each side: the transition band is 8 % of the cut wide
KAISER_BETA = 7.86    # an 80 dB stop band
PASSBAND = 0.96       # the cut, as a fraction of the lower Nyquist frequency


def resample(pcm, from_rate, to_rate):
    """pcm (1-D int16, or float in int16 units) sampled at from_rate, as 1-D int16 at
    to_rate: ceil(len * to_rate / from_rate) samples, rounded and clipped to int16."""
    for name, rate in (("from_rate", from_rate), ("to_rate", to_rate)):
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < 1:
            raise ValueError(f"resample: {name} must be a positive integer (Hz), got {rate!r}")
    x = np.asarray(pcm)
    if x.ndim != 1:
        raise ValueError(f"resample: expected 1-D samples (one channel), got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"resample: expected integer or float samples, got dtype {x.dtype}")
    if from_rate == to_rate:
        return np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("resample: the samples contain NaN or infinity")
    n_out = -(-len(x) * int(to_rate) // int(from_rate))
    g = np.gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // g, int(from_rate) // g                # t = n * down / up
    cut = 0.5 * PASSBAND * min(1.0, up / down)                  # cycles per input sample
    half = int(np.ceil(ZERO_CROSSINGS / (2 * cut)))             # filter half-width, samples
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + down + 1)])
    # windows[b] holds the inputs in reach of any t in [b, b + 1): x[b - half + 1 .. b + half].
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half)[1:]
    offsets = np.arange(-half + 1, half + 1)
    out = np.empty(n_out)
    # Outputs n0, n0 + up, n0 + 2 up, ... sit at the same fraction of an input sample, so
    # they share one set of filter taps, and their windows are `down` samples apart.
    for n0 in range(min(up, n_out)):
        base, phase = divmod(n0 * down, up)
        d = phase / up - offsets                                # from t to each input in reach
        taps = 2 * cut * np.sinc(2 * cut * d) * kaiser(d / half)
        count = len(range(n0, n_out, up))
        out[n0::up] = windows[base::down][:count] @ taps
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def kaiser(u):
    """The Kaiser window at u in [-1, 1] (0 outside): I0(beta sqrt(1 - u^2)) / I0(beta)."""
    return bessel_i0(KAISER_BETA * np.sqrt(np.clip(1 - u * u, 0, 1))) / bessel_i0(KAISER_BETA)


def bessel_i0(x):
    """I0(x) = sum_k ((x/2)^k / k!)^2, for the window's 0 <= x <= beta (np.i0 is slow: it
    was most of the time); 30 terms are past float64 precision for x <= 10."""
    term = total = np.ones_like(np.asarray(x, dtype=np.float64))
    for k in range(1, 30):
        term = term * (x / (2 * k)) ** 2
        total = total + term
    return total
