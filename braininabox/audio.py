"""bb.audio: the keyword-spotting front end, int16 PCM in, an int8 MFCC feature map out.

    mfcc = bb.audio.MFCC()          # 8 kHz input; MFCC(sample_rate=16000) for 16 kHz
    q = mfcc(pcm)                   # int8 (49, 10): 49 frames x 10 coefficients
    X = mfcc.batch(recordings)      # int8 (N, 1, 49, 10), NCHW, ready for Conv2D
    x = mfcc.to_float(X)            # float32 mfcc.float_scale * (X - mfcc.zero_point), for training
    pcm = bb.audio.read_wav("seven.wav", sample_rate=8000)   # 16-bit mono WAV -> int16
    pcm = bb.audio.read_wav("phone.wav", sample_rate=8000, convert=True)   # any PCM WAV
    pcm = bb.audio.resample(pcm44k, 44100, 8000)             # band-limited, int16 out
    q = bb.quantize(model, calibration_pcm, frontend=mfcc)   # int8 model, PCM in
    mfcc.int8_model()               # the front end alone as an int8 model: PCM in, features out

The computation is the C function bb_mfcc_s8 (csrc/bb_audio.c), integer arithmetic
only, the same code the board runs: the first second of the recording (zero-padded),
49 Hann-windowed frames of 30 ms every 20 ms, a fixed-point FFT, 40 mel bands between
20 and 4000 Hz, a fixed-point log (floored at 2^-6, so silence has one fixed feature),
10 orthonormal DCT-II coefficients, then int8 with a fixed scale of 0.5 and zero point
-64 (csrc/bb_audio.h documents each step). tests/mfcc_reference.py holds the same
pipeline in float64 numpy; on real recordings the integer features are within one int8
step of it (tests/test_audio.py).

The int8 features mean scale * (q - zero_point) in the coefficients' own units (scale
0.5). A network may prefer smaller inputs: MFCC(float_scale=1/64) reads the same bytes
as (q + 64) / 64, about -1..3 on speech. to_float gives the values the network trains on,
and bb.quantize(model, pcm, frontend=mfcc) gives its int8 input the same (float_scale,
zero_point), so the board feeds the front end's bytes to the network unchanged.
"""
import math

import numpy as np

from ._core import check, ffi, lib, scratch
from .data.resample import resample
from .data.wav import read_wav, wav_format
from .deploy.frontend import FRONTENDS, pcm_dtype_hint

__all__ = ["MFCC", "read_wav", "resample", "wav_format"]


class MFCC:
    """The integer MFCC front end at one sample rate (8000 or 16000 Hz); its attributes
    are the pipeline's parameters."""

    frames = lib.BB_MFCC_FRAMES               # 49
    coefficients = lib.BB_MFCC_COEFFICIENTS   # 10
    mel_bands = lib.BB_MFCC_MEL_BANDS         # 40
    low_hz = lib.BB_MFCC_LOW_HZ               # 20
    high_hz = lib.BB_MFCC_HIGH_HZ             # 4000
    frame_ms = lib.BB_MFCC_FRAME_MS           # 30
    stride_ms = lib.BB_MFCC_STRIDE_MS         # 20
    log2_floor = lib.BB_MFCC_LOG2_FLOOR       # band energies below 2^-6 count as 2^-6
    scale = 1.0 / lib.BB_MFCC_INV_SCALE       # int8 q means scale * (q - zero_point)
    zero_point = lib.BB_MFCC_ZERO_POINT       # -64

    def __init__(self, sample_rate=8000, float_scale=None):
        if isinstance(sample_rate, bool) or sample_rate not in (8000, 16000):
            raise ValueError(f"MFCC: sample_rate must be 8000 or 16000 Hz, got {sample_rate!r} "
                             "(resample the audio first)")
        if float_scale is None:
            float_scale = self.scale
        if (isinstance(float_scale, bool) or not isinstance(float_scale, (int, float, np.number))
                or not math.isfinite(float_scale) or float_scale <= 0):
            raise ValueError(f"MFCC: float_scale must be a positive number, got {float_scale!r}")
        # float32, as to_float multiplies and as the int8 model stores its scales
        self.float_scale = float(np.float32(float_scale))
        self.sample_rate = int(sample_rate)
        self.window_samples = self.sample_rate                     # 1 s
        self.frame_samples = self.sample_rate * self.frame_ms // 1000
        self.stride_samples = self.sample_rate * self.stride_ms // 1000
        self.fft_size = 256 if self.sample_rate == 8000 else 512
        self.shape = (self.frames, self.coefficients)

    def __repr__(self):
        read = "" if self.float_scale == self.scale else f", read as float_scale {self.float_scale:g}"
        return (f"MFCC(sample_rate={self.sample_rate}): {self.frames}x{self.coefficients} int8, "
                f"scale {self.scale}, zero point {self.zero_point}{read}")

    def __call__(self, pcm):
        """The int8 (49, 10) feature map of one mono int16 recording (any length >= 1:
        the first second is used, shorter input is padded with zeros)."""
        pcm = self._checked(pcm, "MFCC")
        out = np.empty(self.shape, dtype=np.int8)
        self._compute(pcm, out)
        return out

    def batch(self, recordings):
        """int8 (N, 1, 49, 10) features of N recordings: a sequence of 1-D int16 arrays
        (lengths may differ) or a 2-D int16 array (N, samples)."""
        if isinstance(recordings, np.ndarray) and recordings.ndim != 2:
            raise ValueError(f"MFCC.batch: expected a 2-D array (recordings, samples) or a list "
                             f"of 1-D arrays, got an array of shape {recordings.shape}")
        checked = [self._checked(r, f"MFCC.batch: recording {i}") for i, r in enumerate(recordings)]
        out = np.empty((len(checked), 1) + self.shape, dtype=np.int8)
        for i, pcm in enumerate(checked):
            self._compute(pcm, out[i, 0])
        return out

    def to_float(self, features):
        """The values a network reads from int8 features: float32 float_scale * (q -
        zero_point) (the coefficients themselves with the default float_scale, 0.5)."""
        features = np.asarray(features)
        if features.dtype != np.int8:
            raise TypeError(f"MFCC.to_float: expected int8 features, got {features.dtype}")
        return ((features.astype(np.float32) - np.float32(self.zero_point))
                * np.float32(self.float_scale))

    def int8_model(self):
        """This front end alone as an int8 model (a QuantizedModel whose one op is it): int16
        PCM (N, window_samples) in, the int8 features (N, 490) out, on the host runtime
        (predict_int8) or a board (bb.embedded.run), to check them or time the front end."""
        from .deploy.quantized import with_frontend  # deploy/ builds on this module, not back
        return with_frontend(self)

    # ------------------------------------------------------------------ internals
    def _checked(self, pcm, what):
        if not isinstance(pcm, np.ndarray):
            pcm = np.asarray(pcm)
        if pcm.dtype != np.int16:
            raise TypeError(f"{what}: expected int16 PCM samples, got dtype {pcm.dtype} "
                            f"{pcm_dtype_hint(pcm.dtype)}")
        if pcm.ndim != 1:
            raise ValueError(f"{what}: expected mono samples (a 1-D array), got shape "
                             f"{pcm.shape} (mix stereo down to one channel first)")
        if len(pcm) == 0:
            raise ValueError(f"{what}: no samples")
        return np.ascontiguousarray(pcm[:self.window_samples])

    def _compute(self, pcm, out):
        buffer, size = scratch(lib.bb_mfcc_s8_scratch_size(self.sample_rate))
        check(lib.bb_mfcc_s8(self.sample_rate, ffi.from_buffer("int16_t[]", pcm), len(pcm),
                             ffi.from_buffer("int8_t[]", out), buffer, size), "MFCC")


FRONTENDS["MFCC"] = MFCC   # a saved int8 model's front end is rebuilt as this class
