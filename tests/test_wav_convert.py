"""bb.audio.resample and read_wav(convert=True): recordings made elsewhere (a phone's
44.1 kHz stereo, a 24-bit interface, 8-bit telephony) heard as 16-bit mono at the
front end's rate."""
import wave

import numpy as np
import pytest

import braininabox as bb


def write_wav(path, samples, rate, width=2, channels=1):
    """samples: (frames,) or (frames, channels) integers already in the width's range."""
    s = np.asarray(samples, dtype=np.int64).reshape(-1)
    if width == 1:
        data = (s + 128).astype(np.uint8).tobytes()
    elif width == 3:
        u = s & 0xFFFFFF
        data = np.stack([u & 0xFF, (u >> 8) & 0xFF, (u >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        data = s.astype(f"<i{width}").tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return str(path)


def sine(hz, rate, seconds=1.0, amplitude=10000.0):
    return amplitude * np.sin(2 * np.pi * hz * np.arange(int(rate * seconds)) / rate)


@pytest.mark.parametrize("source, target", [(44100, 8000), (48000, 8000), (16000, 8000),
                                            (11025, 8000), (8000, 16000), (22050, 16000)])
def test_a_tone_keeps_its_shape(source, target):
    y = bb.audio.resample(sine(1000, source), source, target)
    assert y.dtype == np.int16 and len(y) == -(-source * target // source)
    expected = sine(1000, target, seconds=len(y) / target)
    middle = slice(100, -100)   # the ends see the zeros beyond the recording
    assert np.max(np.abs(y[middle] - expected[middle])) <= 2.0   # rounding, and a 0.05 rms filter


@pytest.mark.parametrize("source", [44100, 16000, 48000])
def test_what_the_new_rate_cannot_hold_is_removed_not_folded(source):
    """A 5 kHz tone does not exist at 8 kHz (Nyquist 4 kHz): plain decimation would fold
    it to 3 kHz at full strength; band-limited resampling removes it (75 dB down)."""
    y = bb.audio.resample(sine(5000, source), source, 8000)[100:-100].astype(np.float64)
    assert np.sqrt(np.mean(y ** 2)) < 10000 / np.sqrt(2) * 10 ** (-75 / 20) + 0.5
    folded = sine(5000, source)[::source // 8000] if source % 8000 == 0 else None
    if folded is not None:
        assert np.sqrt(np.mean(folded ** 2)) > 7000   # what naive decimation keeps


def test_same_rate_is_the_samples_and_bad_arguments_are_named():
    x = np.array([1, -2, 32767, -32768], np.int16)
    np.testing.assert_array_equal(bb.audio.resample(x, 8000, 8000), x)
    with pytest.raises(ValueError, match="to_rate must be a positive integer"):
        bb.audio.resample(x, 8000, 0)
    with pytest.raises(ValueError, match="from_rate must be a positive integer"):
        bb.audio.resample(x, 44100.0, 8000)
    with pytest.raises(ValueError, match=r"expected 1-D samples \(one channel\), got shape \(2, 2\)"):
        bb.audio.resample(x.reshape(2, 2), 16000, 8000)
    with pytest.raises(ValueError, match="NaN or infinity"):
        bb.audio.resample(np.array([0.0, np.nan]), 16000, 8000)
    loud = bb.audio.resample(np.full(4000, 40000.0), 16000, 8000)
    assert loud.max() == 32767   # clipped to int16, not wrapped


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_width_is_read_on_the_int16_scale(tmp_path, width):
    top = np.array([0, 100, -100, 127, -128], np.int64)   # 8-bit values, the top byte
    file = write_wav(tmp_path / "w.wav", top << (8 * (width - 1)), 8000, width)
    np.testing.assert_array_equal(bb.audio.read_wav(file, convert=True), top * 256)
    if width != 2:
        with pytest.raises(ValueError, match=f"w.wav: {8 * width}-bit samples; expected 16-bit PCM"):
            bb.audio.read_wav(file)


def test_channels_are_averaged_and_the_rate_converted(tmp_path):
    left, right = sine(440, 44100), sine(440, 44100, amplitude=2000.0)
    both = np.rint(np.stack([left, right], axis=1)).astype(np.int64)
    file = write_wav(tmp_path / "phone.wav", both, 44100, channels=2)
    assert bb.audio.wav_format(file) == (2, 16, 44100, 44100)
    y = bb.audio.read_wav(file, sample_rate=8000, convert=True)
    np.testing.assert_allclose(y[100:-100], sine(440, 8000, amplitude=6000.0)[100:-100], atol=2)
    with pytest.raises(ValueError, match="phone.wav: 2 channels; expected mono"):
        bb.audio.read_wav(file, sample_rate=8000)


def test_a_real_recording_survives_a_trip_through_another_format(tmp_path, monkeypatch):
    """A FSDD recording upsampled to 44.1 kHz stereo 24-bit and read back at 8 kHz: the
    same sound in the filter's pass band (up to 3.7 kHz), and the same features."""
    monkeypatch.setenv("BB_OFFLINE", "1")
    try:
        pcm = bb.datasets.load_fsdd(split="test").pcm[0]
    except bb.datasets.DatasetNotFoundError as e:
        pytest.skip(f"FSDD is not available (set BB_DATA_DIR): {str(e).splitlines()[0]}")
    up = bb.audio.resample(pcm, 8000, 44100).astype(np.int64)
    file = write_wav(tmp_path / "studio.wav", np.stack([up << 8, up << 8], axis=1), 44100, 3, 2)
    back = bb.audio.read_wav(file, sample_rate=8000, convert=True)
    assert len(back) - len(pcm) in (0, 1)   # each way rounds the length up
    back = back[:len(pcm)]
    hz = np.fft.rfftfreq(len(pcm), 1 / 8000)
    band = lambda x: np.fft.rfft(x.astype(np.float64))[hz < 3700]
    assert np.linalg.norm(band(back) - band(pcm)) < 0.005 * np.linalg.norm(band(pcm))
    mfcc = bb.audio.MFCC()
    steps = np.abs(mfcc(back).astype(np.int64) - mfcc(pcm))
    assert steps.max() <= 1 and steps.mean() < 0.15, (steps.max(), steps.mean())


def test_empty_and_truncated_files_are_refused_when_converting(tmp_path):
    empty = write_wav(tmp_path / "empty.wav", np.zeros(0), 44100, 3, 2)
    with pytest.raises(ValueError, match="empty.wav: no samples"):
        bb.audio.read_wav(empty, sample_rate=8000, convert=True)
    full = write_wav(tmp_path / "cut.wav", np.zeros((1000, 2)), 44100, 3, 2)
    data = open(full, "rb").read()
    with open(full, "wb") as f:
        f.write(data[:-100])
    with pytest.raises(ValueError, match="cut.wav: truncated"):
        bb.audio.read_wav(full, sample_rate=8000, convert=True)
    with open(tmp_path / "text.wav", "w") as f:
        f.write("not audio")
    with pytest.raises(ValueError, match="text.wav: not a readable PCM WAV file"):
        bb.audio.read_wav(tmp_path / "text.wav", convert=True)
