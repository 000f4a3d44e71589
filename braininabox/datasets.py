"""Dataset loaders: MNIST and Fashion-MNIST; the SMS Spam Collection and the
King County house sales (single files, see the end of this docstring).

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

Single-file data sets are found by ``find_data_file(filename, path=None)``:
``path`` (a file, or a folder holding ``filename``; nothing else is tried when
it is given), then ``$BB_DATA_DIR/<filename>``, then the cache folder
``$XDG_CACHE_HOME/braininabox/data/<filename>``. Two loaders build on it:

- ``load_sms_spam(path=None)`` -> ``(labels, texts)``, the UCI SMS Spam
  Collection (5,574 messages, 747 spam); downloaded from UCI into the cache
  folder when not found (unless ``BB_OFFLINE=1``);
- ``load_house_sales(path=None, columns=None)`` -> ``{column: array}``, the
  King County house sales CSV (``kc_house_data.csv``, 21,613 sales); it has
  no public download (Kaggle needs a login), so it must be provided.
"""

import csv
import gzip
import hashlib
import http.client
import os
import pathlib
import pickle
import socket
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib

import numpy as np

__all__ = ["load_mnist", "load_fashion_mnist", "DatasetNotFoundError",
           "ChecksumError", "FASHION_MNIST_CLASSES", "find_data_file",
           "load_sms_spam", "load_house_sales"]

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

TIMEOUT = 30  # seconds, per network operation
_NETWORK_ERRORS = (urllib.error.URLError, socket.timeout, TimeoutError,
                   ConnectionError, http.client.HTTPException)


class DatasetNotFoundError(FileNotFoundError):
    """The data set is in none of the places looked in and could not be
    downloaded; the message lists the places and how to provide the data."""


class ChecksumError(ValueError):
    """A downloaded file does not have the published hash."""


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


# ------------------------------------------------------------ finding files

def _cache_dir(kind):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "braininabox", kind)


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

    looked = []
    folders = []
    if os.environ.get("BB_DATA_DIR"):
        folders.append(os.environ["BB_DATA_DIR"])
    else:
        looked.append("$BB_DATA_DIR (not set)")
    cache = _cache_dir(kind)
    for folder in folders + [cache, *_SYSTEM_DIRS[kind]]:
        # the cache folder is already kind-specific: no subfolder there
        source, notes = _scan_folder(folder, kind, subfolder=folder != cache)
        if source is not None:
            return source
        looked.extend(notes)

    offline = os.environ.get("BB_OFFLINE", "").strip().lower()
    if offline not in ("", "0", "false", "no"):
        looked.append(f"download skipped: BB_OFFLINE={os.environ['BB_OFFLINE']}")
    else:
        try:
            _download_all(kind, cache)
        except _NETWORK_ERRORS as e:
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


def download(url, dest, algo, digest):
    """Fetch ``url`` into ``dest`` atomically, checking its ``algo`` hash.

    The bytes go to a temporary file next to ``dest`` which is renamed into
    place only once the hash matches; on any failure it is deleted.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(dest),
                               suffix=".part")
    try:
        print(f"braininabox: downloading {url}", file=sys.stderr)
        h = hashlib.new(algo)
        with os.fdopen(fd, "wb") as f, \
                urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                f.write(chunk)
        if h.hexdigest() != digest:
            raise ChecksumError(f"{url}: {algo} is {h.hexdigest()}, expected "
                                f"{digest}; the download was discarded")
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.remove(tmp)
        except FileNotFoundError:
            pass
        raise


# ----------------------------------------------------------------- parsing

def _read_idx(file, magic):
    """Read one IDX file of unsigned bytes (plain or gzipped) into an array,
    checking the magic number and that the length matches the header."""
    what = "images" if magic == _IDX_IMAGES_MAGIC else "labels"
    opener = gzip.open if file.endswith(".gz") else open
    try:
        with opener(file, "rb") as f:
            data = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{file}: corrupted gzip data ({e})") from e
    if len(data) < 4:
        raise ValueError(f"{file}: only {len(data)} bytes, too short for an "
                         "IDX header (file truncated?)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{file}: bad magic number 0x{found:08x}, expected "
                         f"0x{magic:08x} (IDX {what}); not an IDX {what} file "
                         "or corrupted")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{file}: truncated IDX header ({len(data)} bytes, "
                         f"need {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(f"{file}: {problem}: {len(data)} bytes but the header "
                         f"(dims {dims}) implies {expected}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims).copy()


def _read_npz(file):
    """Read a Keras-format npz (x_train, y_train, x_test, y_test)."""
    try:
        z = np.load(file, allow_pickle=False)
        if not hasattr(z, "files"):
            raise ValueError("it holds a single array, not an npz archive")
        with z:
            names = list(z.files)
            arrays = {k: z[k] for k in _IDX_NAMES if k in names}
    except (ValueError, EOFError, zlib.error, zipfile.BadZipFile,
            pickle.UnpicklingError) as e:
        raise ValueError(f"{file}: not a readable .npz file ({e})") from e
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


# ------------------------------------------------------- single-file data sets

def _offline():
    """The value of BB_OFFLINE when it disables downloads, else None."""
    value = os.environ.get("BB_OFFLINE", "")
    return value if value.strip().lower() not in ("", "0", "false", "no") else None


def find_data_file(filename, path=None, *, hint=None):
    """Find the data file ``filename`` and return its ``pathlib.Path``.

    Looked for, in order: ``path`` when given (the file itself, or a folder
    holding ``filename``; nothing else is tried), ``$BB_DATA_DIR/<filename>``,
    then the cache folder ``$XDG_CACHE_HOME/braininabox/data/<filename>``
    (``~/.cache/...`` by default). Nothing is downloaded here.

    Raises DatasetNotFoundError listing where it looked and how to provide
    the file; ``hint`` (a sentence) is added to that message.
    """
    tail = f" {hint}" if hint else ""
    if path is not None:
        p = pathlib.Path(os.fspath(path))
        if p.is_file():
            return p
        if p.is_dir():
            if (p / filename).is_file():
                return p / filename
            raise DatasetNotFoundError(
                f"{filename}: the given folder {p} does not hold {filename}.{tail}")
        raise DatasetNotFoundError(
            f"{filename}: the given path {p} does not exist.{tail}")

    looked = []
    folders = []
    if os.environ.get("BB_DATA_DIR"):
        folders.append(os.environ["BB_DATA_DIR"])
    else:
        looked.append("$BB_DATA_DIR (not set)")
    cache = _cache_dir("data")
    folders.append(cache)
    for folder in folders:
        candidate = pathlib.Path(folder) / filename
        if candidate.is_file():
            return candidate
        looked.append(f"{candidate} ("
                      + ("no such file" if os.path.isdir(folder)
                         else "folder does not exist") + ")")
    raise DatasetNotFoundError(
        f"{filename} not found. Looked in:\n  - " + "\n  - ".join(looked)
        + f"\nTo provide it: pass its path (path=, or the program's option), "
        f"or put it in a folder named by BB_DATA_DIR, or in {cache}.{tail}")


# SMS Spam Collection (UCI ML repository, dataset 228; CC BY 4.0).
SMS_SPAM_URL = ("https://archive.ics.uci.edu/ml/machine-learning-databases/"
                "00228/smsspamcollection.zip")
SMS_SPAM_FILE = "SMSSpamCollection"
SMS_SPAM_COUNT = 5574           # messages in the published collection
SMS_SPAM_SPAM_COUNT = 747       # of which spam


def load_sms_spam(path=None):
    """Load the SMS Spam Collection: returns ``(labels, texts)``, two lists of
    str, each label ``'ham'`` or ``'spam'``.

    The file is tab-separated ``label<TAB>text``, one message a line, UTF-8,
    with no quoting (quotes inside messages are plain characters). It is
    found by :func:`find_data_file` (``path``, ``$BB_DATA_DIR``, the cache);
    when it is nowhere and ``path`` is not given, the UCI zip is downloaded
    and ``SMSSpamCollection`` extracted into the cache (unless BB_OFFLINE=1).

    Raises DatasetNotFoundError (not found, download impossible), ValueError
    naming the file and line of a malformed row, ChecksumError when a
    download does not hold the expected collection.
    """
    hint = (f"It is downloaded from {SMS_SPAM_URL} when online "
            "(unset BB_OFFLINE).")
    try:
        file = find_data_file(SMS_SPAM_FILE, path,
                              hint=hint if path is None else None)
    except DatasetNotFoundError as e:
        if path is not None:
            raise
        offline = _offline()
        if offline is not None:
            raise DatasetNotFoundError(
                f"{e}\n(download skipped: BB_OFFLINE={offline})") from None
        dest = os.path.join(_cache_dir("data"), SMS_SPAM_FILE)
        try:
            _download_sms_spam(dest)
        except _NETWORK_ERRORS as net:
            raise DatasetNotFoundError(
                f"{e}\n(download failed: {net})") from None
        file = pathlib.Path(dest)
    with open(file, "rb") as f:
        data = f.read()
    return _parse_sms_spam(data, str(file))


def _parse_sms_spam(data, source):
    """Parse the bytes of an SMS Spam Collection file (see load_sms_spam)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{source}, line {line}: not valid UTF-8 "
                         f"({e.reason})") from None
    labels, texts = [], []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue        # blank lines (e.g. the final newline) carry nothing
        label, tab, message = line.partition("\t")
        if not tab:
            raise ValueError(f"{source}, line {number}: no tab; expected "
                             f"'ham<TAB>text' or 'spam<TAB>text', got "
                             f"{line[:40]!r}")
        if label not in ("ham", "spam"):
            raise ValueError(f"{source}, line {number}: label {label[:20]!r} "
                             "is neither 'ham' nor 'spam'")
        labels.append(label)
        texts.append(message)
    if not labels:
        raise ValueError(f"{source}: no messages (empty file?)")
    return labels, texts


def _download_sms_spam(dest):
    """Download the UCI zip and extract SMSSpamCollection to ``dest``.

    UCI publishes no checksum for this zip, and none can be pinned offline,
    so the CONTENT is verified instead: the zip must hold SMSSpamCollection,
    valid UTF-8, with exactly 5,574 tab-separated lines labelled ham or spam
    (747 spam). Only then is the file renamed into place (atomically);
    otherwise ChecksumError and nothing is kept.
    """
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_zip = tempfile.mkstemp(dir=folder, prefix=".smsspam", suffix=".zip.part")
    tmp_out = None
    try:
        print(f"braininabox: downloading {SMS_SPAM_URL}", file=sys.stderr)
        with os.fdopen(fd, "wb") as f, \
                urllib.request.urlopen(SMS_SPAM_URL, timeout=TIMEOUT) as response:
            while True:
                chunk = response.read(1 << 20)
                if not chunk:
                    break
                f.write(chunk)
        try:
            with zipfile.ZipFile(tmp_zip) as z:
                names = [n for n in z.namelist()
                         if os.path.basename(n) == SMS_SPAM_FILE]
                if not names:
                    raise ChecksumError(
                        f"{SMS_SPAM_URL}: the zip holds no {SMS_SPAM_FILE} "
                        f"(has {z.namelist()}); the download was discarded")
                data = z.read(names[0])
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise ChecksumError(f"{SMS_SPAM_URL}: not a readable zip ({e}); "
                                "the download was discarded") from None
        try:
            labels, _ = _parse_sms_spam(data, f"{SMS_SPAM_URL}:{SMS_SPAM_FILE}")
        except ValueError as e:
            raise ChecksumError(f"{e}; the download was discarded") from None
        n_spam = labels.count("spam")
        if len(labels) != SMS_SPAM_COUNT or n_spam != SMS_SPAM_SPAM_COUNT:
            raise ChecksumError(
                f"{SMS_SPAM_URL}: {SMS_SPAM_FILE} has {len(labels)} messages "
                f"({n_spam} spam), expected {SMS_SPAM_COUNT} "
                f"({SMS_SPAM_SPAM_COUNT} spam); the download was discarded")
        fd, tmp_out = tempfile.mkstemp(dir=folder, prefix="." + SMS_SPAM_FILE,
                                       suffix=".part")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp_out, dest)
        tmp_out = None
    finally:
        for tmp in (tmp_zip, tmp_out):
            if tmp is not None:
                try:
                    os.remove(tmp)
                except FileNotFoundError:
                    pass


# King County (Seattle) house sales, May 2014 - May 2015 (Kaggle, CC0).
HOUSE_SALES_FILE = "kc_house_data.csv"
HOUSE_SALES_HINT = (
    "There is no public download without a login: get kc_house_data.csv "
    "from Kaggle (https://www.kaggle.com/datasets/harlfoxem/housesalesprediction, "
    "sign in, Download) and put it in one of those places.")


def load_house_sales(path=None, columns=None):
    """Load the King County house sales CSV (or any CSV with a header row).

    Returns a dict ``{column name: numpy array}`` in file order. Columns whose
    values are all finite numbers come back as float64, the others (such as
    ``date``) as str arrays. With ``columns`` (a list of names) only those
    are returned, and every one must exist and be numeric.

    The file is found by :func:`find_data_file` (``path``, ``$BB_DATA_DIR``,
    the cache); it is never downloaded (Kaggle needs a login).
    Raises DatasetNotFoundError, or ValueError naming the file (and line)
    of a malformed row, a missing column or a non-numeric value.
    """
    file = find_data_file(HOUSE_SALES_FILE, path, hint=HOUSE_SALES_HINT)
    source = str(file)
    try:
        with open(file, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header is None:
                raise ValueError(f"{source}: empty file (expected a header line)")
            header = [name.strip() for name in header]
            if any(not name for name in header):
                raise ValueError(f"{source}, line 1: empty column name in "
                                 "the header")
            dupes = sorted({n for n in header if header.count(n) > 1})
            if dupes:
                raise ValueError(f"{source}, line 1: duplicate column names "
                                 f"{dupes}")
            rows, lines = [], []
            for row in reader:
                if not row:
                    continue        # blank line
                if len(row) != len(header):
                    raise ValueError(
                        f"{source}, line {reader.line_num}: {len(row)} fields, "
                        f"expected {len(header)} (as in the header)")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError as e:
        raise ValueError(f"{source}: not UTF-8 text ({e.reason})") from None
    except csv.Error as e:
        raise ValueError(f"{source}, line {reader.line_num}: malformed CSV "
                         f"({e})") from None
    if not rows:
        raise ValueError(f"{source}: no data rows after the header")

    if columns is None:
        wanted, strict = header, False
    else:
        wanted, strict = list(columns), True
        missing = [c for c in wanted if c not in header]
        if missing:
            raise ValueError(
                f"{source}: no column {', '.join(map(repr, missing))} "
                f"(columns are: {', '.join(header)})")
    out = {}
    for name in wanted:
        j = header.index(name)
        values = [row[j].strip() for row in rows]
        try:
            array = np.array(values, dtype=np.float64)
            bad = ~np.isfinite(array)
        except ValueError:
            array, bad = None, None
        if array is not None and not bad.any():
            out[name] = array
            continue
        if not strict:
            out[name] = np.array(values, dtype=str)
            continue
        for i, v in enumerate(values):     # find the first bad value, to name it
            try:
                if np.isfinite(float(v)):
                    continue
            except ValueError:
                pass
            raise ValueError(f"{source}, line {lines[i]}: column {name!r} "
                             f"has the non-numeric value {v[:30]!r}")
    return out
