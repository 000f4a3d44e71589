"""load_mnist checks headers and declared counts before decompressing, reads in bounded
chunks, and verifies every byte of an npz member (issue 15)."""
import gzip
import io
import os
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from braininabox.data.mnist import load_mnist

NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def small_arrays(n=5):
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, n).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, n).astype(np.uint8)}


def idx_bytes(a):
    magic = 0x803 if a.ndim == 3 else 0x801
    return struct.pack(">I", magic) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def write_idx_folder(folder, arrays, gz=True):
    folder.mkdir(exist_ok=True)
    for key, name in NAMES.items():
        data = idx_bytes(arrays[key])
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data, 1))
        else:
            (folder / name).write_bytes(data)
    return folder


def peak(call):
    tracemalloc.start()
    try:
        call()
    finally:
        high = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return high


def gzip_stream(path, head, zeros):
    """A .gz holding `head` followed by `zeros` zero bytes, written in chunks."""
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(head)
        block = b"\0" * (1 << 20)
        for _ in range(zeros >> 20):
            f.write(block)


def test_gz_with_a_bad_magic_is_refused_before_decompressing(tmp_path):
    folder = write_idx_folder(tmp_path / "d", small_arrays())
    gzip_stream(folder / "train-images-idx3-ubyte.gz", b"\x00\x00\x08\x01", 64 << 20)
    assert (folder / "train-images-idx3-ubyte.gz").stat().st_size < 1e6
    assert peak(lambda: _expect(folder, "bad magic number")) < 20e6


def _expect(path, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_mnist(path)


def test_gz_declaring_more_than_it_can_hold_is_refused(tmp_path):
    folder = write_idx_folder(tmp_path / "d", small_arrays())
    # 3 million images declared: refused from the header alone
    head = struct.pack(">IIII", 0x803, 3_000_000, 28, 28)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + b"\0" * 784))
    _expect(folder, "declares dims")
    # 200,000 images of zeros (157 MB) in a few hundred KB: a bomb, refused from the ratio
    gzip_stream(folder / "train-images-idx3-ubyte.gz",
                struct.pack(">IIII", 0x803, 200_000, 28, 28), 157 << 20)
    assert peak(lambda: _expect(folder, "compressed bytes")) < 20e6


def test_gz_stream_longer_than_its_header_is_not_read_past(tmp_path):
    arrays = small_arrays()
    folder = write_idx_folder(tmp_path / "d", arrays)
    gzip_stream(folder / "train-images-idx3-ubyte.gz", idx_bytes(arrays["x_train"]), 50 << 20)
    assert peak(lambda: _expect(folder, "has trailing bytes")) < 20e6


def test_idx_files_still_load(tmp_path):
    arrays = small_arrays()
    for gz in (True, False):
        (x, y), (xt, yt) = load_mnist(write_idx_folder(tmp_path / f"d{gz}", arrays, gz), raw=True)
        np.testing.assert_array_equal(x, arrays["x_train"])
        np.testing.assert_array_equal(yt, arrays["y_test"])


def write_npz(path, arrays, compressed=True):
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


def test_npz_deflate_bomb_is_refused(tmp_path):
    arrays = small_arrays()
    arrays["x_train"] = np.zeros((200_000, 28, 28), np.uint8)
    arrays["y_train"] = np.zeros(200_000, np.uint8)
    path = write_npz(tmp_path / "mnist.npz", arrays)
    assert path.stat().st_size < 400_000
    assert peak(lambda: _expect(path, "compressed bytes")) < 20e6


def test_npz_flip_of_a_header_length_byte_is_refused(tmp_path):
    """The flip that made numpy read 2 bytes early and stop short of the CRC check."""
    arrays = small_arrays(20)
    path = write_npz(tmp_path / "mnist.npz", arrays, compressed=False)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("x_train.npy")
    # local header: 30 bytes + name + extra, then the npy magic (6) + version (2) + length (2)
    name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
    npy = info.header_offset + 30 + name_len + extra_len
    assert raw[npy:npy + 6] == b"\x93NUMPY"
    raw[npy + 8] ^= 0x02
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    _expect(bad, "not a readable .npz")
    # and the unflipped file loads
    (x, _), _ = load_mnist(path, raw=True)
    np.testing.assert_array_equal(x, arrays["x_train"])


def test_npz_bit_flips_never_load_different_pixels(tmp_path):
    arrays = small_arrays(8)
    path = write_npz(tmp_path / "mnist.npz", arrays, compressed=False)
    raw = path.read_bytes()
    bad = tmp_path / "flip.npz"
    positions = np.random.default_rng(0).choice(len(raw), 300, replace=False)
    for i in positions:
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        bad.unlink(missing_ok=True)
        bad.write_bytes(bytes(flipped))
        try:
            (x, y), (xt, yt) = load_mnist(bad, raw=True)
        except ValueError:
            continue
        # a flip in zip metadata that does not touch the data (timestamps) may load: the
        # arrays must then be exactly the saved ones
        for got, key in ((x, "x_train"), (y, "y_train"), (xt, "x_test"), (yt, "y_test")):
            np.testing.assert_array_equal(got, arrays[key])
    assert os.path.exists(path)
