"""bb.audio.MFCC: the integer front end through cffi, against the float64 reference in
mfcc_reference.py.

Tolerance (the integer pipeline against exact arithmetic): every int8 feature within
0.75 of the reference's unrounded value (clamped to int8), at least 99.5 % of them equal
to the reference rounded, and a correlation above 0.9999. Measured on the 300 FSDD test
recordings: largest difference 0.503 steps, 99.98 % equal, correlation 0.99995 (all
3,000 recordings: 0.504, 99.97 %); on synthetic signals (full-scale square wave and
noise, quiet and loud tones, a click) at 8 and 16 kHz at most 0.55 steps."""

import re

import numpy as np
import pytest

import braininabox as bb
from mfcc_reference import mfcc_reference

MAX_STEPS = 0.75


def compare(q, reference):
    """(largest difference in int8 steps, fraction equal to the rounded reference, correlation)."""
    q = np.asarray(q, dtype=np.float64)
    want = np.clip(reference, -128, 127)
    rounded = np.clip(np.floor(reference + 0.5), -128, 127)
    corr = np.corrcoef(q.ravel(), want.ravel())[0, 1] if want.std() > 0 else 1.0
    return np.abs(q - want).max(), np.mean(q == rounded), corr


def tones(n, rate, amplitude, seed=0):
    t = np.arange(n) / rate
    noise = np.random.default_rng(seed).integers(-1, 2, n)
    x = amplitude * (np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1870 * t)) + noise
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def test_parameters_and_repr():
    m = bb.audio.MFCC()
    assert (m.sample_rate, m.frames, m.coefficients, m.mel_bands) == (8000, 49, 10, 40)
    assert (m.frame_samples, m.stride_samples, m.fft_size, m.window_samples) == (240, 160, 256, 8000)
    assert (m.scale, m.zero_point, m.log2_floor) == (0.5, -64, -6)
    assert (m.low_hz, m.high_hz) == (20, 4000)
    m16 = bb.audio.MFCC(sample_rate=16000)
    assert (m16.frame_samples, m16.stride_samples, m16.fft_size) == (480, 320, 512)
    assert "scale 0.5, zero point -64" in repr(m)


@pytest.mark.parametrize("rate", [44100, 0, 8000.5, True, "8000"])
def test_refuses_other_sample_rates(rate):
    with pytest.raises(ValueError, match="sample_rate must be 8000 or 16000 Hz"):
        bb.audio.MFCC(sample_rate=rate)


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("signal", ["silence", "square", "noise", "quiet", "loud", "click"])
def test_matches_float_reference(rate, signal):
    n = rate + 1234
    rng = np.random.default_rng(7)
    pcm = {
        "silence": np.zeros(n, np.int16),
        "square": np.where((np.arange(n) // (rate // 1000)) % 2, -32768, 32767).astype(np.int16),
        "noise": rng.integers(-32768, 32768, n).astype(np.int16),
        "quiet": tones(n, rate, 2.0),
        "loud": tones(n, rate, 20000.0),
        "click": np.zeros(n, np.int16),
    }[signal]
    if signal == "click":
        pcm[rate // 3] = -32768
    q = bb.audio.MFCC(rate)(pcm)
    worst, _, _ = compare(q, mfcc_reference(pcm, rate))
    # (no share-equal check here: a periodic signal repeats one borderline value per frame)
    assert worst <= MAX_STEPS, worst


def test_silence_is_the_floor():
    for rate in (8000, 16000):
        q = bb.audio.MFCC(rate)(np.zeros(5, np.int16))
        expected = np.full((49, 10), -64, np.int8)
        expected[:, 0] = -117  # round(sqrt(40) * ln(2^-6) / 0.5) - 64
        np.testing.assert_array_equal(q, expected)


def test_full_scale_noise_stays_inside_int8():
    pcm = np.random.default_rng(3).integers(-32768, 32768, 8000).astype(np.int16)
    q = bb.audio.MFCC()(pcm).astype(int)
    assert 100 <= q[:, 0].min() and q.max() < 127


def test_same_tone_at_both_rates_gives_nearly_the_same_features():
    """The bins are 31.25 Hz apart at both rates and X is scaled by 1/N, so a tone's
    band energies agree; only the noise floor differs a little."""
    a = bb.audio.MFCC(8000)(tones(8000, 8000, 5000.0)).astype(int)
    b = bb.audio.MFCC(16000)(tones(16000, 16000, 5000.0)).astype(int)
    assert np.abs(a[:, :3] - b[:, :3]).max() <= 3


def test_padding_and_trimming():
    m = bb.audio.MFCC()
    pcm = tones(9000, 8000, 3000.0)
    np.testing.assert_array_equal(m(pcm), m(pcm[:8000]))
    padded = np.zeros(8000, np.int16)
    padded[:2500] = pcm[:2500]
    np.testing.assert_array_equal(m(pcm[:2500]), m(padded))


def test_batch_matches_single_calls():
    m = bb.audio.MFCC()
    recordings = [tones(n, 8000, a, seed=n) for n, a in ((3000, 100.0), (8000, 9000.0), (12000, 5.0))]
    batch = m.batch(recordings)
    assert batch.shape == (3, 1, 49, 10) and batch.dtype == np.int8
    for i, pcm in enumerate(recordings):
        np.testing.assert_array_equal(batch[i, 0], m(pcm))
    square = np.stack([r[:3000] for r in recordings])
    np.testing.assert_array_equal(m.batch(square)[:, 0], [m(r[:3000]) for r in recordings])
    assert m.batch([]).shape == (0, 1, 49, 10)


def test_to_float():
    m = bb.audio.MFCC()
    q = np.array([[-128, -64, 0, 127]], np.int8)
    x = m.to_float(q)
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, [[-32.0, 0.0, 32.0, 95.5]])
    with pytest.raises(TypeError, match="expected int8 features, got float32"):
        m.to_float(x)


def test_refuses_bad_input_by_name():
    m = bb.audio.MFCC()
    with pytest.raises(TypeError, match="expected int16 PCM samples, got dtype float64"):
        m(np.zeros(100))
    with pytest.raises(TypeError, match="got dtype int32"):
        m(np.zeros(100, np.int32))
    swapped = np.dtype(np.int16).newbyteorder()  # big-endian on a little-endian host
    hint = (rf"\(int16 of the other byte order, {re.escape(swapped.str)}: pcm.astype\(np.int16\) "
            rf"swaps the bytes to native order\)$")
    with pytest.raises(TypeError, match=rf"MFCC: expected int16 PCM samples, got dtype {swapped} {hint}"):
        m(np.zeros(100, swapped))
    with pytest.raises(TypeError, match=rf"got dtype {swapped} in recording 0 {hint}"):
        m.int8_model().predict_int8(np.zeros((1, 8000), swapped))
    with pytest.raises(ValueError, match=r"expected mono samples .* shape \(100, 2\)"):
        m(np.zeros((100, 2), np.int16))
    with pytest.raises(ValueError, match="MFCC: no samples"):
        m(np.zeros(0, np.int16))
    with pytest.raises(ValueError, match="MFCC.batch: recording 1: no samples"):
        m.batch([np.zeros(10, np.int16), np.zeros(0, np.int16)])
    with pytest.raises(TypeError, match="MFCC.batch: recording 0: expected int16"):
        m.batch([np.zeros(10, np.float32)])
    with pytest.raises(ValueError, match=r"expected a 2-D array .* shape \(10,\)"):
        m.batch(np.zeros(10, np.int16))


def test_non_contiguous_input():
    m = bb.audio.MFCC()
    pcm = tones(16000, 8000, 4000.0)
    np.testing.assert_array_equal(m(pcm[::2]), m(pcm[::2].copy()))


@pytest.fixture(scope="module")
def fsdd_test_split():
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("BB_OFFLINE", "1")
            return bb.datasets.load_fsdd(split="test")
    except bb.datasets.DatasetNotFoundError as exc:
        pytest.skip(f"FSDD is not available (set BB_DATA_DIR): {str(exc).splitlines()[0]}")


def test_real_recordings_match_the_float_reference(fsdd_test_split):
    pcm = fsdd_test_split.pcm
    q = bb.audio.MFCC().batch(pcm)[:, 0]
    reference = np.stack([mfcc_reference(p) for p in pcm])
    worst, equal, corr = compare(q, reference)
    assert worst <= MAX_STEPS, worst
    assert equal >= 0.995, equal
    assert corr >= 0.9999, corr
    assert q.min() > -128 and q.max() < 127  # speech is inside the int8 range


def test_read_wav(tmp_path):
    import wave
    file = str(tmp_path / "a.wav")
    with wave.open(file, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.array([1, -2, 32767, -32768], "<i2").tobytes())
    np.testing.assert_array_equal(bb.audio.read_wav(file), [1, -2, 32767, -32768])
    assert bb.audio.read_wav(file).dtype == np.int16
    with pytest.raises(ValueError, match="a.wav: sampled at 16000 Hz; expected 8000 Hz"):
        bb.audio.read_wav(file, sample_rate=8000)
