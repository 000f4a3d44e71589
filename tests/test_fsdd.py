"""bb.datasets.load_fsdd: finding the recordings, the official split, WAV checks, download."""
import hashlib
import io
import os
import urllib.error
import urllib.request
import wave
import zipfile

import numpy as np
import pytest

import braininabox as bb
from braininabox.data import fsdd

REAL_DATA_DIR = os.environ.get("BB_DATA_DIR")  # read before the fixture below clears it


def write_wav(file, samples, rate=8000, channels=1, width=2):
    os.makedirs(os.path.dirname(file), exist_ok=True)
    with wave.open(str(file), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype="<i2" if width == 2 else np.uint8).tobytes())


def samples_for(digit, speaker, take):
    """Distinct, recognisable samples per recording."""
    n = 50 + 10 * take
    return (np.arange(n) * (digit + 1) + len(speaker) * 100 - take).astype(np.int16)


def write_set(folder, speakers=("ann", "bob"), digits=(0, 3), takes=range(7)):
    for s in speakers:
        for d in digits:
            for t in takes:
                write_wav(os.path.join(folder, f"{d}_{s}_{t}.wav"), samples_for(d, s, t))
    return str(folder)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No BB_DATA_DIR, a private cache, no network."""
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.delenv("BB_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def test_official_split_order_and_types(tmp_path):
    folder = write_set(tmp_path / "rec")
    test = bb.datasets.load_fsdd(folder, split="test")
    train = bb.datasets.load_fsdd(folder, split="train")
    everything = bb.datasets.load_fsdd(folder, split="all")
    assert isinstance(test, bb.datasets.FSDD)
    assert len(test.pcm) == 2 * 2 * 5 and len(train.pcm) == 2 * 2 * 2
    assert len(everything.pcm) == 28
    assert set(test.takes) == {0, 1, 2, 3, 4} and set(train.takes) == {5, 6}
    # ordered by speaker, digit, then take as a number
    assert list(everything.speakers[:7]) == ["ann"] * 7
    assert list(everything.labels[:8]) == [0] * 7 + [3]
    assert list(everything.takes[:7]) == list(range(7))
    assert everything.labels.dtype == np.int64 and everything.takes.dtype == np.int64
    for p, d, s, t in zip(*everything):
        assert p.dtype == np.int16 and p.ndim == 1
        np.testing.assert_array_equal(p, samples_for(d, s, t))


def test_recordings_subfolder_and_other_files_ignored(tmp_path):
    write_set(tmp_path / "fsdd" / "recordings")
    (tmp_path / "fsdd" / "README.md").write_text("readme")
    (tmp_path / "fsdd" / "recordings" / "metadata.py").write_text("x = 1")
    assert len(bb.datasets.load_fsdd(tmp_path / "fsdd", split="all").pcm) == 28


def test_bb_data_dir_then_cache(tmp_path, monkeypatch):
    write_set(tmp_path / "cache" / "braininabox" / "fsdd" / "recordings", speakers=("cat",))
    assert set(bb.datasets.load_fsdd(split="all").speakers) == {"cat"}
    write_set(tmp_path / "env" / "fsdd" / "recordings", speakers=("dan",))
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path / "env"))
    assert set(bb.datasets.load_fsdd(split="all").speakers) == {"dan"}


def test_bad_split(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        bb.datasets.load_fsdd(write_set(tmp_path / "rec"), split="valid")


def test_given_path_missing_or_empty(tmp_path):
    with pytest.raises(bb.datasets.DatasetNotFoundError, match="is not a folder"):
        bb.datasets.load_fsdd(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(bb.datasets.DatasetNotFoundError, match="no .wav files in the given"):
        bb.datasets.load_fsdd(tmp_path / "empty")


@pytest.mark.parametrize("name", ["7_jackson.wav", "x_jackson_3.wav", "12_jackson_3.wav",
                                  "7_jackson_3.WAV.wav", "7-jackson-3.wav"])
def test_refuses_a_foreign_wav_name(tmp_path, name):
    folder = write_set(tmp_path / "rec")
    write_wav(os.path.join(folder, name), [1, 2, 3])
    with pytest.raises(ValueError, match=r"not an FSDD file name.*7_jackson_32\.wav"):
        bb.datasets.load_fsdd(folder, split="all")


@pytest.mark.parametrize("kwargs, message", [
    (dict(channels=2), "2 channels; expected mono"),
    (dict(rate=44100), "sampled at 44100 Hz; expected 8000 Hz"),
    (dict(width=1), "8-bit samples; expected 16-bit PCM"),
])
def test_refuses_a_wrong_format_by_file_name(tmp_path, kwargs, message):
    folder = write_set(tmp_path / "rec")
    write_wav(os.path.join(folder, "5_ann_0.wav"), [1, 2, 3, 4], **kwargs)
    with pytest.raises(ValueError, match="5_ann_0.wav: " + message):
        bb.datasets.load_fsdd(folder, split="test")


def test_refuses_corrupt_and_empty_files(tmp_path):
    folder = write_set(tmp_path / "rec")
    with open(os.path.join(folder, "0_ann_1.wav"), "wb") as f:
        f.write(b"RIFF\x00\x00")
    with pytest.raises(ValueError, match="0_ann_1.wav: not a readable PCM WAV file"):
        bb.datasets.load_fsdd(folder, split="test")
    write_wav(os.path.join(folder, "0_ann_1.wav"), [])
    with pytest.raises(ValueError, match="0_ann_1.wav: no samples"):
        bb.datasets.load_fsdd(folder, split="test")


def archive_bytes(folder_in_zip="free-spoken-digit-dataset-1.0.10"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{folder_in_zip}/README.md", "readme")
        for s, d, t in (("ann", 1, 0), ("ann", 1, 9), ("bob", 2, 3)):
            wav = io.BytesIO()
            with wave.open(wav, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(samples_for(d, s, t).tobytes())
            z.writestr(f"{folder_in_zip}/recordings/{d}_{s}_{t}.wav", wav.getvalue())
    return buf.getvalue()


def serve(monkeypatch, data, digest=None):
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append(url)
        assert url == fsdd.FSDD_URL
        return io.BytesIO(data)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(fsdd, "FSDD_SHA256", digest or hashlib.sha256(data).hexdigest())
    return calls


def test_download_verified_unpacked_into_the_cache(tmp_path, monkeypatch):
    calls = serve(monkeypatch, archive_bytes())
    data = bb.datasets.load_fsdd(split="all")
    assert len(calls) == 1
    assert list(data.speakers) == ["ann", "ann", "bob"] and list(data.takes) == [0, 9, 3]
    np.testing.assert_array_equal(data.pcm[2], samples_for(2, "bob", 3))
    cache = tmp_path / "cache" / "braininabox" / "fsdd"
    assert sorted(os.listdir(cache)) == ["recordings"]  # archive deleted, no temporaries
    assert len(bb.datasets.load_fsdd(split="test").pcm) == 2
    assert len(calls) == 1  # the second load reads the cache


def test_download_with_wrong_checksum_keeps_nothing(tmp_path, monkeypatch):
    serve(monkeypatch, archive_bytes(), digest="0" * 64)
    with pytest.raises(bb.datasets.ChecksumError, match="sha256 is .* expected 0000"):
        bb.datasets.load_fsdd()
    cache = tmp_path / "cache" / "braininabox" / "fsdd"
    assert not cache.exists() or os.listdir(cache) == []


def test_offline_or_no_network_says_where_it_looked(monkeypatch):
    with pytest.raises(bb.datasets.DatasetNotFoundError,
                       match="(?s)BB_DATA_DIR \\(not set\\).*download of .* failed"):
        bb.datasets.load_fsdd()
    monkeypatch.setenv("BB_OFFLINE", "1")
    with pytest.raises(bb.datasets.DatasetNotFoundError, match="download skipped: BB_OFFLINE=1"):
        bb.datasets.load_fsdd()


def test_real_fsdd_official_split():
    data_dir = REAL_DATA_DIR
    if not data_dir or not os.path.isdir(os.path.join(data_dir, "fsdd")):
        pytest.skip("the real FSDD is not available (set BB_DATA_DIR to a folder with fsdd/)")
    train = bb.datasets.load_fsdd(os.path.join(data_dir, "fsdd"), split="train")
    test = bb.datasets.load_fsdd(os.path.join(data_dir, "fsdd"), split="test")
    assert len(train.pcm) == 2700 and len(test.pcm) == 300
    assert sorted(set(test.speakers)) == ["george", "jackson", "lucas", "nicolas", "theo",
                                          "yweweler"]
    assert np.all(np.bincount(test.labels) == 30) and np.all(np.bincount(train.labels) == 270)
    assert test.takes.max() == 4 and train.takes.min() == 5
    assert min(len(p) for p in train.pcm + test.pcm) == 1148

