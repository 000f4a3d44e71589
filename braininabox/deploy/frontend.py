"""The audio front end as the first op of an int8 model: PCM in, label out.

    mfcc = bb.audio.MFCC(float_scale=1 / 64)            # how the network reads the features
    model.fit(mfcc.to_float(mfcc.batch(train_pcm)), y)   # trained on the front end's features
    q = bb.quantize(model, calibration_pcm, frontend=mfcc)
    q.predict_int8(pcm)                                  # int16 recordings: their first 1 s
    bb.embedded.run(q, pcm, target="mps2-an386")         # the same bytes on the board
    mfcc.int8_model()                                    # the front end alone: PCM -> features

The front end (csrc/bb_audio.c) is integer from PCM to its int8 features, whose meaning
is fixed: q stands for float_scale * (q - zero_point), exactly what MFCC.to_float gives
the float network in training. quantize therefore gives the network's input that
quantization instead of calibrating one, and the features reach the first layer's kernel
as they are: no requantization step, nothing to round twice.

The runtime's arena holds bytes, so the op's input is the PCM's 2 * samples bytes
(little-endian, as every target we build for); the model's input is always one full
window (sample_rate samples, 1 s), so host and board take the same fixed-size input:
pcm_bytes takes each recording's first second and pads a shorter one with zeros, as
bb.audio.MFCC does (the same features, so the same outputs).
"""
import numpy as np

# The front-end classes by name, for a saved int8 model to rebuild its front end:
# bb.audio registers MFCC (it builds on deploy/, so deploy/ does not import it).
FRONTENDS = {}


def check_frontend(frontend, model):
    """frontend, or TypeError when it is not a bb.audio.MFCC, or ValueError when the
    model was built for inputs of another shape than its features (1, 49, 10)."""
    # What the MFCC op reads of it (checked by attribute: bb.audio builds on deploy/, not
    # the other way round).
    needed = ("sample_rate", "window_samples", "shape", "float_scale", "zero_point", "batch")
    if any(not hasattr(frontend, name) for name in needed):
        raise TypeError(f"quantize: frontend must be a bb.audio.MFCC, got {type(frontend).__name__}")
    features = (1,) + tuple(frontend.shape)
    built = getattr(model, "input_shape", None)
    if built is not None and tuple(built) != features:
        raise ValueError(f"quantize: the model was built for inputs of shape {tuple(built)}; the "
                         f"front end gives {features} per recording")
    return frontend


def features_quantization(frontend):
    """(scale, zero point) of the front end's int8 features as the network reads them."""
    return float(frontend.float_scale), int(frontend.zero_point)


def calibration_features(frontend, pcm):
    """The float network inputs (N, 1, 49, 10) of calibration PCM: a sequence of 1-D int16
    recordings (lengths may differ) or an int16 array (N, samples)."""
    if isinstance(pcm, np.ndarray) and pcm.ndim == 1:
        raise ValueError(f"quantize: calibration_data with a front end is int16 PCM recordings, "
                         f"a list of 1-D arrays or an array (N, samples); got one 1-D array of "
                         f"{len(pcm)} samples (pass [pcm] for a single recording)")
    if isinstance(pcm, np.ndarray) and pcm.dtype != np.int16:
        raise TypeError(f"quantize: calibration_data with a front end is int16 PCM, got dtype "
                        f"{pcm.dtype} (features? quantize the network without frontend=)")
    features = frontend.batch(pcm)
    return frontend.to_float(features)


def pcm_dtype_hint(dtype):
    """How to get int16 PCM from samples of another dtype, for error messages."""
    if dtype.kind == "i" and dtype.itemsize == 2:  # int16, but not in this machine's byte order
        return (f"(int16 of the other byte order, {dtype.str}: pcm.astype(np.int16) swaps the "
                f"bytes to native order)")
    return "(float audio in [-1, 1]: (x * 32767).astype(np.int16))"


def pcm_bytes(frontend, pcm, what="quantized model", sample_rate=None):
    """int8 (N, 2 * window) bytes of PCM for a model whose first op is the front end.

    pcm: int16 (N, samples) or a sequence of 1-D int16 arrays (lengths may differ). As
    bb.audio.MFCC does, each recording's first second (the front end's window) is used and
    a shorter one is padded with zeros, so the model gives MFCC()(pcm)'s features to its
    network. sample_rate, when given, must be the front end's."""
    rate, window = frontend.sample_rate, frontend.window_samples
    if sample_rate is not None and sample_rate != rate:
        raise ValueError(f"{what}: its front end takes {rate} Hz PCM, got {sample_rate} Hz "
                         f"audio (resample it to {rate} Hz, or quantize with "
                         f"bb.audio.MFCC(sample_rate={sample_rate}))")
    rows = list(pcm) if not isinstance(pcm, np.ndarray) or pcm.ndim != 2 else pcm
    if isinstance(pcm, np.ndarray) and pcm.ndim != 2:
        raise ValueError(f"{what}: expected int16 PCM of shape (N, {window}) (N recordings of "
                         f"1 s at {rate} Hz), got an array of shape {pcm.shape}"
                         + (" (one recording? pass pcm[None])" if pcm.ndim == 1 else ""))
    if len(rows) == 0:
        raise ValueError(f"{what}: X is empty (no recordings)")
    out = np.empty((len(rows), 2 * window), dtype=np.int8)
    for i, row in enumerate(rows):
        row = np.asarray(row)
        if row.dtype != np.int16:
            raise TypeError(f"{what}: its input is int16 PCM (its first op is the MFCC front end "
                            f"at {rate} Hz), got dtype {row.dtype} in recording {i} "
                            f"{pcm_dtype_hint(row.dtype)}")
        if row.ndim != 1 or len(row) == 0:
            raise ValueError(f"{what}: expected a 1-D recording of int16 samples at {rate} Hz, "
                             f"got shape {row.shape} in recording {i}")
        samples = np.zeros(window, dtype="<i2")
        samples[:min(len(row), window)] = row[:window]
        out[i] = samples.view(np.int8)
    return out
