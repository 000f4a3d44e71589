"""Atomic file writes: the one place braininabox writes a file that must never be half there.

    with atomic_write(path, "wb") as f:
        f.write(data)

The bytes go to a temporary file beside `path`, which replaces `path` (os.replace) only
when the block ends without an exception; otherwise it is removed. A process killed in
the middle leaves its temporary behind: its name carries the writer's pid, so the next
write to the same path removes temporaries whose writer is gone.
"""
import contextlib
import glob
import os
import tempfile


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


@contextlib.contextmanager
def atomic_write(path, mode="wb", fsync=True):
    """Open a temporary file for writing that replaces `path` when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}-", dir=directory)
    os.close(fd)  # reopened by name, so f.name is the temporary's path
    try:
        with open(tmp, mode) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
