"""Finding and fetching data files: the one download loop and the one data-folder search.

Single files are found by ``find_data_file(filename, path=None)``: ``path`` (a file, or a
folder holding ``filename``; nothing else is tried when it is given), then
``$BB_DATA_DIR/<filename>``, then the cache folder
``$XDG_CACHE_HOME/braininabox/data/<filename>`` (``~/.cache/...`` by default).
``download`` fetches a URL into a file atomically, checking a hash or the content.
"""
import hashlib
import http.client
import os
import pathlib
import socket
import sys
import urllib.error
import urllib.request

from .._files import atomic_write

TIMEOUT = 30  # seconds, per network operation
NETWORK_ERRORS = (urllib.error.URLError, socket.timeout, TimeoutError,
                   ConnectionError, http.client.HTTPException)



class DatasetNotFoundError(FileNotFoundError):
    """The data set is in none of the places looked in and could not be
    downloaded; the message lists the places and how to provide the data."""


class ChecksumError(ValueError):
    """A downloaded file does not have the published hash."""


def cache_dir(kind):
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "braininabox", kind)


def offline():
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

    cache = cache_dir("data")
    folders, looked = search_folders(cache)
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


def download(url, dest, algo=None, digest=None, check=None):
    """Fetch ``url`` into ``dest`` atomically, checking its ``algo`` hash ``digest``
    and/or calling ``check(path_of_the_downloaded_bytes)``, which raises ChecksumError
    to refuse them. Nothing is left at ``dest`` unless every check passed."""
    print(f"braininabox: downloading {url}", file=sys.stderr)
    h = hashlib.new(algo) if algo else None
    with atomic_write(dest, "wb", fsync=False) as f, \
            urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            if h is not None:
                h.update(chunk)
            f.write(chunk)
        if h is not None and h.hexdigest() != digest:
            raise ChecksumError(f"{url}: {algo} is {h.hexdigest()}, expected "
                                f"{digest}; the download was discarded")
        if check is not None:
            f.flush()
            check(f.name)


def download_member(url, dest, archive_name, extract, **checks):
    """Download an archive (``download``'s ``checks``) beside ``dest``, write the bytes
    ``extract(archive_path)`` returns to ``dest`` atomically, and remove the archive."""
    folder = os.path.dirname(os.path.abspath(dest))
    os.makedirs(folder, exist_ok=True)
    archive = os.path.join(folder, archive_name)
    download(url, archive, **checks)
    try:
        data = extract(archive)
        with atomic_write(dest, "wb") as f:
            f.write(data)
    finally:
        os.remove(archive)


def search_folders(cache):
    """The folders to look in before downloading: $BB_DATA_DIR when set, then ``cache``;
    and, for error messages, what was not looked in."""
    if os.environ.get("BB_DATA_DIR"):
        return [os.environ["BB_DATA_DIR"], cache], []
    return [cache], ["$BB_DATA_DIR (not set)"]
