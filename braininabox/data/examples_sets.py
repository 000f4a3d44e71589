"""Data sets only the learning programs in examples/ use (single files, found by
``find_data_file``):

- ``load_sms_spam(path=None)`` -> ``(labels, texts)``, the UCI SMS Spam Collection
  (5,574 messages, 747 spam); downloaded from UCI into the cache folder when not found
  (unless ``BB_OFFLINE=1``);
- ``load_house_sales(path=None, columns=None)`` -> ``{column: array}``, the King County
  house sales CSV (``kc_house_data.csv``, 21,613 sales); it has no public download
  (Kaggle needs a login), so it must be provided.
"""
import csv
import os
import pathlib
import zipfile
import zlib

import numpy as np

from .._files import atomic_write
from .download import (NETWORK_ERRORS, ChecksumError, DatasetNotFoundError, cache_dir, download,
                       find_data_file, offline)

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
        skipped = offline()
        if skipped is not None:
            raise DatasetNotFoundError(
                f"{e}\n(download skipped: BB_OFFLINE={skipped})") from None
        dest = os.path.join(cache_dir("data"), SMS_SPAM_FILE)
        try:
            _download_sms_spam(dest)
        except NETWORK_ERRORS as net:
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
    """Download the UCI zip beside ``dest`` and extract SMSSpamCollection to ``dest``.

    UCI publishes no checksum for this zip, and none can be pinned offline,
    so the CONTENT is verified instead: the zip must hold SMSSpamCollection,
    valid UTF-8, with exactly 5,574 tab-separated lines labelled ham or spam
    (747 spam). Otherwise ChecksumError and nothing is kept.
    """
    archive = os.path.join(os.path.dirname(os.path.abspath(dest)), "smsspamcollection.zip")
    download(SMS_SPAM_URL, archive, check=_read_sms_zip)
    try:
        data = _read_sms_zip(archive)
        with atomic_write(dest, "wb") as f:
            f.write(data)
    finally:
        os.remove(archive)


def _read_sms_zip(archive):
    """The verified bytes of SMSSpamCollection inside the UCI zip (see _download_sms_spam)."""
    try:
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if os.path.basename(n) == SMS_SPAM_FILE]
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
    return data


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
