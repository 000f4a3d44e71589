"""MNIST and Fashion-MNIST.

    (X_train, y_train), (X_test, y_test) = load_mnist()

X comes back as float32 of shape (N, 1, 28, 28) scaled to [0, 1] (NCHW,
ready for Conv2D) and y as int64 of shape (N,). ``raw=True`` gives X as the
stored uint8 (N, 28, 28) instead.

Where the data is looked for, in order (the first usable place wins):

1. ``path``, when given: a ``.npz`` file, or a folder (see below). Nothing
   else is tried: a ``path`` that is missing or unusable is an error.
2. the folder named by the environment variable ``BB_DATA_DIR``;
3. the cache folder ``$XDG_CACHE_HOME/braininabox/<kind>`` (by default
   ``~/.cache/braininabox/<kind>``), where downloads go;
4. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist`` (the Debian
   package ``dataset-fashion-mnist``);
5. a download into the cache folder, unless ``BB_OFFLINE=1``.

A folder is usable when it, or its ``<kind>/`` subfolder (``mnist/`` or
``fashion-mnist/``, tried first), holds either ``<kind>.npz`` (Keras format:
arrays x_train, y_train, x_test, y_test) or all four IDX files
(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
t10k-labels-idx1-ubyte, each plain or ``.gz``). The npz wins over IDX files;
a folder with only some of the IDX files is skipped.
"""
import gzip
import io
import os
import struct
import zipfile
import zlib

import numpy as np

from .download import (NETWORK_ERRORS, DatasetNotFoundError, cache_dir, download, offline,
                       search_folders)

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# What to download for each kind: file name -> (url, hash algorithm, digest).
_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DOWNLOADS = {
    "mnist": {
        "mnist.npz": (_KERAS_URL + "mnist.npz", "sha256",
                      "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"),
    },
    # md5 sums from the Fashion-MNIST README.
    "fashion-mnist": {
        "train-labels-idx1-ubyte.gz": (_KERAS_URL + "train-labels-idx1-ubyte.gz",
                                       "md5", "25c81989df183df01b3e8a0aad5dffbe"),
        "train-images-idx3-ubyte.gz": (_KERAS_URL + "train-images-idx3-ubyte.gz",
                                       "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "t10k-labels-idx1-ubyte.gz": (_KERAS_URL + "t10k-labels-idx1-ubyte.gz",
                                      "md5", "bb300cfdad3c16e7a12a480ee83cd310"),
        "t10k-images-idx3-ubyte.gz": (_KERAS_URL + "t10k-images-idx3-ubyte.gz",
                                      "md5", "bef4ecab320f06d8554ea6380940ec79"),
    },
}

_SYSTEM_DIRS = {"mnist": (), "fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}
_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}

# npz key -> IDX base name (without .gz)
_IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IDX_IMAGES_MAGIC = 0x00000803   # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 0x00000801   # unsigned bytes, 1 dimension


# ---------------------------------------------------------------- public API

def load_mnist(path=None, *, kind="mnist", raw=False):
    """Load MNIST (or, with ``kind="fashion-mnist"``, Fashion-MNIST).

    Returns ``(X_train, y_train), (X_test, y_test)``: X float32
    (N, 1, 28, 28) in [0, 1], or with ``raw=True`` uint8 (N, 28, 28) as
    stored; y int64 (N,) in 0..9. See the module docstring for where the
    data is looked for.

    Raises DatasetNotFoundError when the data cannot be found or downloaded,
    ValueError when a file found is corrupted, ChecksumError when a
    download does not match its published hash.
    """
    if kind not in DOWNLOADS:
        raise ValueError(f"unknown kind {kind!r}; expected one of "
                         f"{sorted(DOWNLOADS)}")
    source = _locate(path, kind)
    if source[0] == "npz":
        arrays = _read_npz(source[1])
    else:
        arrays = {key: _read_idx(file, _IDX_IMAGES_MAGIC if key[0] == "x"
                                 else _IDX_LABELS_MAGIC)
                  for key, file in source[1].items()}
    out = []
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        _check_split(x, y, f"{split} split of {_describe(source)}")
        if not raw:
            x = x.astype(np.float32).reshape(len(x), 1, 28, 28)
            x /= 255
        out.append((x, y.astype(np.int64)))
    return tuple(out)


def load_fashion_mnist(path=None, *, raw=False):
    """Load Fashion-MNIST; same conventions as :func:`load_mnist`.
    Class names are in ``FASHION_MNIST_CLASSES``."""
    return load_mnist(path, kind="fashion-mnist", raw=raw)


def _scan_folder(folder, kind, subfolder=True):
    """Look for the data in ``folder/<kind>`` (if ``subfolder``) then ``folder``.

    Returns ``(source, notes)``: source is ``("npz", file)``,
    ``("idx", {key: file})`` or None; notes says, per folder, why it was
    not usable (for error messages).
    """
    notes, extra = [], ""
    for d in ([os.path.join(folder, kind)] if subfolder else []) + [folder]:
        if not os.path.isdir(d):
            if d == folder:
                notes.append(f"{d} (does not exist)")
            else:
                extra = f"; no {kind}/ subfolder"
            continue
        npz = os.path.join(d, kind + ".npz")
        if os.path.isfile(npz):
            return ("npz", npz), notes
        found, missing = {}, []
        for key, name in _IDX_NAMES.items():
            for file in (os.path.join(d, name), os.path.join(d, name + ".gz")):
                if os.path.isfile(file):
                    found[key] = file
                    break
            else:
                missing.append(name + "[.gz]")
        if not missing:
            return ("idx", found), notes
        if d != folder:
            extra = ""
        if found:
            notes.append(f"{d} (no {kind}.npz and only some IDX files: "
                         f"missing {', '.join(missing)}{extra})")
        else:
            notes.append(f"{d} (no {kind}.npz nor IDX files{extra})")
    return None, notes


def _locate(path, kind):
    """Return the source of the data (see _scan_folder), downloading it into
    the cache when no local copy exists."""
    title = _TITLES[kind]
    if path is not None:
        path = os.fspath(path)
        if os.path.isfile(path):
            if not path.endswith(".npz"):
                raise ValueError(f"{path}: expected a .npz file or a folder")
            return ("npz", path)
        if not os.path.isdir(path):
            raise DatasetNotFoundError(f"{title}: the given path {path} "
                                       "does not exist")
        source, notes = _scan_folder(path, kind)
        if source is None:
            raise DatasetNotFoundError(
                f"{title}: nothing usable in the given path {path}: "
                + "; ".join(notes) + f". Expected {kind}.npz or the four IDX "
                "files, there or in a " + kind + "/ subfolder.")
        return source

    cache = cache_dir(kind)
    folders, looked = search_folders(cache)
    for folder in folders + list(_SYSTEM_DIRS[kind]):
        # the cache folder is already kind-specific: no subfolder there
        source, notes = _scan_folder(folder, kind, subfolder=folder != cache)
        if source is not None:
            return source
        looked.extend(notes)

    skipped = offline()
    if skipped is not None:
        looked.append(f"download skipped: BB_OFFLINE={skipped}")
    else:
        try:
            _download_all(kind, cache)
        except NETWORK_ERRORS as e:
            looked.append(f"download failed: {e}")
        else:
            source, notes = _scan_folder(cache, kind, subfolder=False)
            if source is not None:
                return source
            looked.append(f"{cache} (still incomplete after download)")

    raise DatasetNotFoundError(
        f"{title} data not found. Looked in:\n  - " + "\n  - ".join(looked)
        + f"\nTo provide it: pass path= to a {kind}.npz file or a folder "
        f"holding it (or the four IDX files, possibly in a {kind}/ subfolder); "
        "or set BB_DATA_DIR to such a folder; or go online (and unset "
        f"BB_OFFLINE) so it is downloaded into {cache}.")


def _describe(source):
    if source[0] == "npz":
        return source[1]
    return "IDX files in " + os.path.dirname(source[1]["x_train"])


# ---------------------------------------------------------------- download

def _download_all(kind, cache):
    """Download into ``cache`` every file of ``kind`` not already there."""
    for name, (url, algo, digest) in DOWNLOADS[kind].items():
        dest = os.path.join(cache, name)
        if not os.path.exists(dest):
            download(url, dest, algo, digest)


# ----------------------------------------------------------------- parsing

# Bounds checked before anything large is read or allocated: no MNIST-like set holds more
# than a million images, and real image data compresses about 5:1 (mnist.npz 11 MB for
# 55 MB of pixels), far from the 1000:1 of a deflate bomb.
MAX_SAMPLES = 1_000_000
MAX_COMPRESSION_RATIO = 100
_CHUNK = 1 << 20


def _read_exactly(f, n, file):
    """n bytes from f read in bounded chunks into one preallocated buffer."""
    out = bytearray(n)
    view, done = memoryview(out), 0
    while done < n:
        got = f.readinto(view[done:done + _CHUNK])
        if not got:
            break
        done += got
    return out, done


def _read_idx(file, magic):
    """Read one IDX file of unsigned bytes (plain or gzipped) into an array: the header
    (magic number, dimensions) is checked first, then exactly the bytes it declares are
    read in chunks, and one more byte must not exist (for .gz: the CRC is checked there)."""
    what = "images" if magic == _IDX_IMAGES_MAGIC else "labels"
    gzipped = file.endswith(".gz")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    try:
        with (gzip.open if gzipped else open)(file, "rb") as f:
            head = f.read(header)
            if len(head) < 4:
                raise ValueError(f"{file}: only {len(head)} bytes, too short for an "
                                 "IDX header (file truncated?)")
            found = int.from_bytes(head[:4], "big")
            if found != magic:
                raise ValueError(f"{file}: bad magic number 0x{found:08x}, expected "
                                 f"0x{magic:08x} (IDX {what}); not an IDX {what} file "
                                 "or corrupted")
            if len(head) < header:
                raise ValueError(f"{file}: truncated IDX header ({len(head)} bytes, "
                                 f"need {header})")
            dims = struct.unpack(f">{ndim}I", head[4:header])
            if dims[0] > MAX_SAMPLES or int(np.prod(dims[1:])) > 28 * 28:
                raise ValueError(f"{file}: the header declares dims {dims}; expected at most "
                                 f"{MAX_SAMPLES} samples" + (" of 28x28" if ndim == 3 else ""))
            count = int(np.prod(dims))
            on_disk = os.path.getsize(file)
            if gzipped and count > MAX_COMPRESSION_RATIO * on_disk:
                raise ValueError(f"{file}: the header declares {count} bytes of {what} in "
                                 f"{on_disk} compressed bytes (not MNIST data)")
            data, got = _read_exactly(f, count, file)
            extra = f.read(1) if got == count else b""
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{file}: corrupted gzip data ({e})") from e
    if got != count or extra:
        problem = "truncated" if got < count else "has trailing bytes"
        size = header + got + len(extra)
        raise ValueError(f"{file}: {problem}: {size}{'+' if extra else ''} bytes but the "
                         f"header (dims {dims}) implies {header + count}")
    return np.frombuffer(data, np.uint8).reshape(dims)


def _npy_member(archive, info, file, key):
    """One array of an npz, after checking its declared size: the member is read whole
    (so zipfile verifies its CRC), never more than its header declares."""
    per_sample = 784 if key[0] == "x" else 8
    if info.file_size > MAX_SAMPLES * per_sample + 4096:
        raise ValueError(f"{key} declares {info.file_size} bytes (more than {MAX_SAMPLES} "
                         f"samples)")
    if info.compress_type != zipfile.ZIP_STORED and \
            info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise ValueError(f"{key} declares {info.file_size} bytes in {info.compress_size} "
                         f"compressed bytes (not MNIST data)")
    with archive.open(info) as member:
        raw, got = _read_exactly(member, info.file_size, file)
        if got != info.file_size or member.read(1):
            raise ValueError(f"{key} does not hold the {info.file_size} bytes it declares")
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    shape, fortran, dtype = read_header(stream)
    if dtype.hasobject or fortran:
        raise ValueError(f"{key} has dtype {dtype} (fortran order {fortran})")
    count = int(np.prod(shape))
    if stream.tell() + count * dtype.itemsize != len(raw):
        raise ValueError(f"{key} declares shape {shape} of {dtype} but holds "
                         f"{len(raw) - stream.tell()} bytes")
    return np.frombuffer(raw, dtype, count=count, offset=stream.tell()).reshape(shape)


def _read_npz(file):
    """Read a Keras-format npz (x_train, y_train, x_test, y_test)."""
    try:
        with zipfile.ZipFile(file) as z:
            members = {i.filename[:-4] if i.filename.endswith(".npy") else i.filename: i
                       for i in z.infolist()}
            names = list(members)
            arrays = {k: _npy_member(z, members[k], file, k) for k in _IDX_NAMES if k in members}
    except (ValueError, EOFError, zlib.error, zipfile.BadZipFile, OSError, RuntimeError,
            NotImplementedError, SyntaxError, TypeError, OverflowError, MemoryError) as e:
        raise ValueError(f"{file}: not a readable .npz file ({type(e).__name__}: {e})") from None
    missing = [k for k in _IDX_NAMES if k not in arrays]
    if missing:
        raise ValueError(f"{file}: missing arrays {missing} (has {names}; "
                         "expected x_train, y_train, x_test, y_test)")
    for key, a in arrays.items():
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{file}: {key} has dtype {a.dtype}, expected "
                             "integers (uint8)")
        if key[0] == "x":
            if a.size and (a.min() < 0 or a.max() > 255):
                raise ValueError(f"{file}: {key} has values outside 0..255")
            arrays[key] = a.astype(np.uint8, copy=False)
    return arrays


def _check_split(x, y, where):
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: images have shape {x.shape}, expected "
                         "(N, 28, 28)")
    if y.ndim != 1:
        raise ValueError(f"{where}: labels have shape {y.shape}, expected (N,)")
    if len(x) != len(y):
        raise ValueError(f"{where}: {len(x)} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{where}: labels outside 0..9 (min {y.min()}, "
                         f"max {y.max()})")
