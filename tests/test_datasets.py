"""Tests for braininabox.datasets on tiny synthetic files (plus one test on
the real MNIST when $BB_DATA_DIR holds it)."""

import gzip
import hashlib
import io
import os
import socket
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

import braininabox.data.datasets as datasets
from braininabox.data import download, mnist

REAL_DATA_DIR = os.environ.get("BB_DATA_DIR")  # read before fixtures clear it
KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
       "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


# ------------------------------------------------------------------ helpers

def make_arrays(n_train=5, n_test=3, label_offset=0, seed=0):
    """Tiny data set; label_offset tells apart sets written in different places."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": ((np.arange(n_train) + label_offset) % 10).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": ((np.arange(n_test) + label_offset) % 10).astype(np.uint8),
    }


def idx_bytes(array, magic=None):
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_set(folder, arrays, gz=False, skip=()):
    os.makedirs(folder, exist_ok=True)
    for key, name in IDX.items():
        if key in skip:
            continue
        data = idx_bytes(arrays[key])
        if gz:
            data = gzip.compress(data)
            name += ".gz"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    return folder


def write_npz(file, arrays):
    os.makedirs(os.path.dirname(file), exist_ok=True)
    np.savez(file, **arrays)
    return file


def npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


class FakeResponse(io.BytesIO):
    """What urlopen returns: a readable context manager."""


def serve(monkeypatch, files):
    """Make urlopen serve ``files`` (url -> bytes); return the list of calls."""
    calls = []

    def fake_urlopen(url, timeout=None):
        calls.append((url, timeout))
        if url not in files:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return FakeResponse(files[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return calls


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No BB_DATA_DIR, a private cache, no system folder, no network."""
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.delenv("BB_OFFLINE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setitem(mnist._SYSTEM_DIRS, "fashion-mnist",
                        (str(tmp_path / "system" / "fashion-mnist"),))

    def no_network(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def cache_dir(tmp_path, kind="mnist"):
    return tmp_path / "cache" / "braininabox" / kind


def check_loaded(result, arrays):
    (X_train, y_train), (X_test, y_test) = result
    for X, y, split in ((X_train, y_train, "train"), (X_test, y_test, "test")):
        x_ref = arrays["x_" + split]
        assert X.dtype == np.float32
        assert X.shape == (len(x_ref), 1, 28, 28)
        assert 0.0 <= X.min() and X.max() <= 1.0
        np.testing.assert_allclose(X[:, 0], x_ref / 255.0, rtol=1e-6)
        assert y.dtype == np.int64 and y.shape == (len(x_ref),)
        np.testing.assert_array_equal(y, arrays["y_" + split])


# ---------------------------------------------------------- formats, shapes

def test_npz_file_scaled_nchw(tmp_path):
    arrays = make_arrays()
    file = write_npz(str(tmp_path / "d" / "mnist.npz"), arrays)
    check_loaded(datasets.load_mnist(file), arrays)


def test_raw_returns_stored_uint8(tmp_path):
    arrays = make_arrays()
    file = write_npz(str(tmp_path / "mnist.npz"), arrays)
    (X_train, y_train), (X_test, y_test) = datasets.load_mnist(file, raw=True)
    assert X_train.dtype == np.uint8 and X_train.shape == (5, 28, 28)
    np.testing.assert_array_equal(X_train, arrays["x_train"])
    np.testing.assert_array_equal(X_test, arrays["x_test"])
    assert y_train.dtype == np.int64


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder(tmp_path, gz):
    arrays = make_arrays()
    folder = write_idx_set(str(tmp_path / "d"), arrays, gz=gz)
    check_loaded(datasets.load_mnist(folder), arrays)
    (Xr, _), _ = datasets.load_mnist(folder, raw=True)
    np.testing.assert_array_equal(Xr, arrays["x_train"])


def test_mixed_gz_and_plain_idx(tmp_path):
    arrays = make_arrays()
    folder = str(tmp_path / "d")
    write_idx_set(folder, arrays, gz=True, skip=("y_test",))
    write_idx_set(folder, arrays, gz=False, skip=("x_train", "y_train", "x_test"))
    check_loaded(datasets.load_mnist(folder), arrays)


def test_kind_subfolder(tmp_path):
    digits, fashion = make_arrays(label_offset=1), make_arrays(label_offset=2)
    write_npz(str(tmp_path / "mnist" / "mnist.npz"), digits)
    write_idx_set(str(tmp_path / "fashion-mnist"), fashion, gz=True)
    check_loaded(datasets.load_mnist(str(tmp_path)), digits)
    check_loaded(datasets.load_fashion_mnist(str(tmp_path)), fashion)
    check_loaded(datasets.load_mnist(tmp_path, kind="fashion-mnist"), fashion)


def test_npz_wins_over_partial_idx(tmp_path):
    """The real data folder: mnist.npz plus three of the four IDX files."""
    from_npz, from_idx = make_arrays(label_offset=1), make_arrays(label_offset=5)
    folder = str(tmp_path / "mnist")
    write_npz(os.path.join(folder, "mnist.npz"), from_npz)
    write_idx_set(folder, from_idx, gz=True, skip=("x_train",))
    check_loaded(datasets.load_mnist(folder), from_npz)
    check_loaded(datasets.load_mnist(str(tmp_path)), from_npz)


def test_npz_wins_over_complete_idx(tmp_path):
    from_npz, from_idx = make_arrays(label_offset=1), make_arrays(label_offset=5)
    write_npz(str(tmp_path / "mnist.npz"), from_npz)
    write_idx_set(str(tmp_path), from_idx)
    check_loaded(datasets.load_mnist(str(tmp_path)), from_npz)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind 'cifar'"):
        datasets.load_mnist(kind="cifar")


# ---------------------------------------------------------- order of search

def test_path_wins_over_env(tmp_path, monkeypatch):
    given, env = make_arrays(label_offset=1), make_arrays(label_offset=2)
    monkeypatch.setenv("BB_DATA_DIR", write_idx_set(str(tmp_path / "env"), env))
    check_loaded(datasets.load_mnist(write_idx_set(str(tmp_path / "given"), given)),
                 given)


def test_env_wins_over_cache(tmp_path, monkeypatch):
    env, cached = make_arrays(label_offset=2), make_arrays(label_offset=3)
    write_npz(str(cache_dir(tmp_path) / "mnist.npz"), cached)
    check_loaded(datasets.load_mnist(), cached)
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path / "env"))
    write_npz(str(tmp_path / "env" / "mnist" / "mnist.npz"), env)
    check_loaded(datasets.load_mnist(), env)


def test_partial_env_folder_skipped_for_cache(tmp_path, monkeypatch):
    env, cached = make_arrays(label_offset=2), make_arrays(label_offset=3)
    monkeypatch.setenv("BB_DATA_DIR", write_idx_set(
        str(tmp_path / "env"), env, skip=("x_train",)))
    write_idx_set(str(cache_dir(tmp_path)), cached, gz=True)
    check_loaded(datasets.load_mnist(), cached)


def test_env_without_this_kind_falls_through(tmp_path, monkeypatch):
    """BB_DATA_DIR holds mnist/ only: Fashion-MNIST is looked for further on."""
    write_npz(str(tmp_path / "env" / "mnist" / "mnist.npz"), make_arrays())
    monkeypatch.setenv("BB_DATA_DIR", str(tmp_path / "env"))
    fashion = make_arrays(label_offset=7)
    write_idx_set(str(tmp_path / "system" / "fashion-mnist"), fashion, gz=True)
    check_loaded(datasets.load_fashion_mnist(), fashion)


def test_cache_wins_over_system_dir(tmp_path):
    system, cached = make_arrays(label_offset=1), make_arrays(label_offset=4)
    write_idx_set(str(tmp_path / "system" / "fashion-mnist"), system, gz=True)
    check_loaded(datasets.load_fashion_mnist(), system)
    write_idx_set(str(cache_dir(tmp_path, "fashion-mnist")), cached, gz=True)
    check_loaded(datasets.load_fashion_mnist(), cached)


def test_system_dir_only_for_fashion(tmp_path, monkeypatch):
    write_idx_set(str(tmp_path / "system" / "fashion-mnist"), make_arrays(), gz=True)
    monkeypatch.setenv("BB_OFFLINE", "1")
    with pytest.raises(datasets.DatasetNotFoundError):
        datasets.load_mnist()


# ------------------------------------------------------- given path errors

def test_given_path_missing_is_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", write_idx_set(str(tmp_path / "env"),
                                                    make_arrays()))
    missing = str(tmp_path / "nope")
    with pytest.raises(datasets.DatasetNotFoundError, match="nope") as e:
        datasets.load_mnist(missing)
    assert missing in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def test_given_folder_without_data_is_error(tmp_path, monkeypatch):
    write_npz(str(cache_dir(tmp_path) / "mnist.npz"), make_arrays())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load_mnist(empty)
    assert str(empty) in str(e.value)


def test_given_partial_idx_folder_names_missing_file(tmp_path):
    folder = write_idx_set(str(tmp_path / "d"), make_arrays(), skip=("x_train",))
    with pytest.raises(datasets.DatasetNotFoundError,
                       match="missing train-images-idx3-ubyte"):
        datasets.load_mnist(folder)


def test_given_file_not_npz(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("hello")
    with pytest.raises(ValueError, match="expected a .npz file"):
        datasets.load_mnist(str(f))


# ------------------------------------------------------- corrupted files

def _corrupt(tmp_path, key, data, gz=False):
    folder = write_idx_set(str(tmp_path / "d"), make_arrays(), gz=gz)
    name = IDX[key] + (".gz" if gz else "")
    with open(os.path.join(folder, name), "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return folder, name


@pytest.mark.parametrize("gz", [False, True])
def test_bad_magic(tmp_path, gz):
    data = idx_bytes(make_arrays()["x_train"], magic=0x00000801)
    folder, name = _corrupt(tmp_path, "x_train", data, gz)
    with pytest.raises(ValueError, match=r"bad magic number 0x00000801, "
                       r"expected 0x00000803") as e:
        datasets.load_mnist(folder)
    assert name in str(e.value)


def test_bad_labels_magic(tmp_path):
    folder, name = _corrupt(tmp_path, "y_test", b"\x00\x00\x08\x03" + bytes(20))
    with pytest.raises(ValueError, match=f"{name}: bad magic number 0x00000803"):
        datasets.load_mnist(folder)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_idx(tmp_path, gz):
    data = idx_bytes(make_arrays()["x_train"])[:-100]
    folder, name = _corrupt(tmp_path, "x_train", data, gz)
    with pytest.raises(ValueError, match=f"{name}: truncated"):
        datasets.load_mnist(folder)


def test_trailing_bytes(tmp_path):
    folder, name = _corrupt(tmp_path, "y_train",
                            idx_bytes(make_arrays()["y_train"]) + b"xx")
    with pytest.raises(ValueError, match=f"{name}: has trailing bytes"):
        datasets.load_mnist(folder)


def test_truncated_gzip_stream(tmp_path):
    folder = write_idx_set(str(tmp_path / "d"), make_arrays(), gz=True)
    file = os.path.join(folder, IDX["x_test"] + ".gz")
    with open(file, "rb") as f:
        data = f.read()
    with open(file, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: corrupted gzip"):
        datasets.load_mnist(folder)


def test_tiny_file(tmp_path):
    folder, name = _corrupt(tmp_path, "y_train", b"\x00\x00")
    with pytest.raises(ValueError, match=f"{name}: only 2 bytes"):
        datasets.load_mnist(folder)


def test_count_mismatch(tmp_path):
    arrays = make_arrays()
    arrays["y_train"] = arrays["y_train"][:4]
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        datasets.load_mnist(write_idx_set(str(tmp_path / "d"), arrays))


def test_label_out_of_range(tmp_path):
    arrays = make_arrays()
    arrays["y_test"][1] = 10
    with pytest.raises(ValueError, match="labels outside 0..9"):
        datasets.load_mnist(write_npz(str(tmp_path / "mnist.npz"), arrays))


def test_wrong_image_shape(tmp_path):
    arrays = make_arrays()
    arrays["x_train"] = arrays["x_train"][:, :27]
    with pytest.raises(ValueError, match=r"\(5, 27, 28\), expected \(N, 28, 28\)"):
        datasets.load_mnist(write_idx_set(str(tmp_path / "d"), arrays))


def test_npz_missing_key(tmp_path):
    arrays = make_arrays()
    del arrays["y_test"]
    with pytest.raises(ValueError, match=r"mnist.npz: missing arrays \['y_test'\]"):
        datasets.load_mnist(write_npz(str(tmp_path / "mnist.npz"), arrays))


def test_npz_garbage(tmp_path):
    f = tmp_path / "mnist.npz"
    f.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(ValueError, match="mnist.npz: not a readable .npz"):
        datasets.load_mnist(str(f))


# ----------------------------------------------------------------- download

MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


def test_download_table():
    assert mnist.DOWNLOADS["mnist"]["mnist.npz"] == (
        MNIST_URL, "sha256",
        "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    fashion = mnist.DOWNLOADS["fashion-mnist"]
    assert sorted(fashion) == sorted(name + ".gz" for name in IDX.values())
    for name, (url, algo, digest) in fashion.items():
        assert url == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/" + name
        assert algo == "md5" and len(digest) == 32


def test_download_mnist_verified_and_cached(tmp_path, monkeypatch):
    arrays = make_arrays()
    payload = npz_bytes(arrays)
    monkeypatch.setitem(mnist.DOWNLOADS, "mnist", {"mnist.npz": (
        MNIST_URL, "sha256", hashlib.sha256(payload).hexdigest())})
    calls = serve(monkeypatch, {MNIST_URL: payload})
    check_loaded(datasets.load_mnist(), arrays)
    assert calls == [(MNIST_URL, download.TIMEOUT)]
    assert os.listdir(cache_dir(tmp_path)) == ["mnist.npz"]   # no temp left
    assert (cache_dir(tmp_path) / "mnist.npz").read_bytes() == payload
    check_loaded(datasets.load_mnist(), arrays)   # second time from the cache
    assert len(calls) == 1


def test_download_wrong_hash_rejected(tmp_path, monkeypatch):
    payload = npz_bytes(make_arrays())
    expected = mnist.DOWNLOADS["mnist"]["mnist.npz"][2]
    serve(monkeypatch, {MNIST_URL: payload})
    with pytest.raises(datasets.ChecksumError) as e:
        datasets.load_mnist()
    message = str(e.value)
    assert MNIST_URL in message and expected in message
    assert hashlib.sha256(payload).hexdigest() in message
    assert isinstance(e.value, ValueError)
    assert not cache_dir(tmp_path).exists() or os.listdir(cache_dir(tmp_path)) == []


def test_download_fashion_idx(tmp_path, monkeypatch):
    arrays = make_arrays(label_offset=3)
    files, table = {}, {}
    for key, name in IDX.items():
        url = "https://example.invalid/" + name + ".gz"
        files[url] = gzip.compress(idx_bytes(arrays[key]))
        table[name + ".gz"] = (url, "md5", hashlib.md5(files[url]).hexdigest())
    monkeypatch.setitem(mnist.DOWNLOADS, "fashion-mnist", table)
    calls = serve(monkeypatch, files)
    check_loaded(datasets.load_fashion_mnist(), arrays)
    assert len(calls) == 4
    assert sorted(os.listdir(cache_dir(tmp_path, "fashion-mnist"))) == sorted(table)


def test_download_resumes_missing_files_only(tmp_path, monkeypatch):
    arrays = make_arrays()
    files, table = {}, {}
    for key, name in IDX.items():
        url = "https://example.invalid/" + name + ".gz"
        files[url] = gzip.compress(idx_bytes(arrays[key]))
        table[name + ".gz"] = (url, "md5", hashlib.md5(files[url]).hexdigest())
    monkeypatch.setitem(mnist.DOWNLOADS, "fashion-mnist", table)
    write_idx_set(str(cache_dir(tmp_path, "fashion-mnist")), arrays, gz=True,
                  skip=("x_train",))
    calls = serve(monkeypatch, files)
    check_loaded(datasets.load_fashion_mnist(), arrays)
    assert [url for url, _ in calls] == [
        "https://example.invalid/train-images-idx3-ubyte.gz"]


@pytest.mark.parametrize("error", [urllib.error.URLError("no route"),
                                   socket.timeout("timed out")])
def test_offline_lists_places(tmp_path, monkeypatch, error):
    env = tmp_path / "env"
    write_idx_set(str(env / "mnist"), make_arrays(), skip=("x_test",))
    monkeypatch.setenv("BB_DATA_DIR", str(env))

    def failing(url, timeout=None):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", failing)
    with pytest.raises(datasets.DatasetNotFoundError) as e:
        datasets.load_mnist()
    message = str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    assert str(env / "mnist") in message and "missing t10k-images" in message
    assert str(cache_dir(tmp_path)) in message
    assert "download failed" in message
    assert "BB_DATA_DIR" in message and "path=" in message and "online" in message
    assert not any(cache_dir(tmp_path).glob("*")) if cache_dir(tmp_path).exists() else True


def test_bb_offline_disables_download(tmp_path, monkeypatch):
    monkeypatch.setenv("BB_OFFLINE", "1")
    calls = serve(monkeypatch, {})
    with pytest.raises(datasets.DatasetNotFoundError,
                       match="download skipped: BB_OFFLINE=1") as e:
        datasets.load_fashion_mnist()
    assert calls == []
    assert "$BB_DATA_DIR (not set)" in str(e.value)
    assert str(tmp_path / "system" / "fashion-mnist") in str(e.value)


# ---------------------------------------------------------------- real data

def _real_mnist_folder():
    if not REAL_DATA_DIR:
        return None
    for folder in (os.path.join(REAL_DATA_DIR, "mnist"), REAL_DATA_DIR):
        if os.path.isfile(os.path.join(folder, "mnist.npz")):
            return folder
    return None


@pytest.mark.skipif(_real_mnist_folder() is None,
                    reason="BB_DATA_DIR is not set or holds no mnist.npz")
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", REAL_DATA_DIR)
    monkeypatch.setenv("BB_OFFLINE", "1")
    (X_train, y_train), (X_test, y_test) = datasets.load_mnist()
    assert X_train.shape == (60000, 1, 28, 28) and X_train.dtype == np.float32
    assert X_test.shape == (10000, 1, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert 0.0 <= X_train.min() and X_train.max() <= 1.0
    assert set(np.unique(y_train)) == set(range(10))
    folder = _real_mnist_folder()
    for name, loaded, magic in (
            ("t10k-labels-idx1-ubyte", y_test, mnist._IDX_LABELS_MAGIC),
            ("t10k-images-idx3-ubyte", X_test, mnist._IDX_IMAGES_MAGIC)):
        for file in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
            if os.path.isfile(file):
                from_idx = mnist._read_idx(file, magic)
                if from_idx.ndim == 1:
                    np.testing.assert_array_equal(loaded, from_idx)
                else:
                    np.testing.assert_array_equal(
                        np.rint(loaded[:, 0] * 255).astype(np.uint8), from_idx)
                break
        else:
            assert name.startswith("t10k-images"), f"{name} not in {folder}"
