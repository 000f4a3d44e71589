"""Atomic file writes: the one place braininabox writes a file that must never be half there.

    with atomic_write(path, "wb") as f:
        f.write(data)

The bytes go to a temporary file beside `path`, which replaces `path` (os.replace) only
when the block ends without an exception; otherwise it is removed. Missing parent
directories are created. The file gets the mode open() would give it (0o666 less the
umask), and an error of the write itself names `path`, not the temporary. A process killed in
the middle leaves its temporary behind: its name carries the writer's pid, so the next
write to the same path removes temporaries whose writer is gone.
"""
import contextlib
import errno
import glob
import os
import secrets


def _temp_prefix(path):
    return "." + os.path.basename(path) + ".tmp-"


def _writer_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temporaries(path):
    """Delete temporaries of earlier writes to `path` whose writing process has died."""
    directory = os.path.dirname(os.path.abspath(path))
    pattern = os.path.join(glob.escape(directory), glob.escape(_temp_prefix(path)) + "*")
    for tmp in glob.glob(pattern):
        pid = os.path.basename(tmp)[len(_temp_prefix(path)):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _writer_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _create_temporary(path, directory):
    """A new empty file beside path, created as open() creates files (mode 0o666 less the
    umask; tempfile.mkstemp's would be 0o600, unreadable to other users)."""
    while True:
        tmp = os.path.join(directory, f"{_temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _about(path, error):
    """The same OSError about the user's path (it named our directory or temporary)."""
    if error.errno is None:
        return error  # no system error to restate
    return type(error)(error.errno, error.strerror, path)


@contextlib.contextmanager
def atomic_write(path, mode="wb", fsync=True):
    """Open a temporary file for writing that replaces `path` when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "Is a directory (a file path is needed)", path)
    try:
        os.makedirs(directory, exist_ok=True)
        remove_stale_temporaries(path)
        tmp = _create_temporary(path, directory)  # opened again by name: f.name is its path
    except OSError as error:
        raise _about(path, error) from None
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise _about(path, error) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
