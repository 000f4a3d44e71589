"""The Free Spoken Digit Dataset (FSDD, Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0).

3,000 recordings of the digits 0-9, 6 speakers x 10 digits x 50 takes, mono 16-bit
PCM WAV at 8 kHz, 0.14-2.3 s long, named ``{digit}_{speaker}_{take}.wav``.

    fsdd = bb.datasets.load_fsdd(split="train")
    pcm, labels, speakers, takes = fsdd

The official split: test = takes 0-4 of every speaker and digit (300 recordings),
train = takes 5-49 (2,700); ``split="all"`` gives both.

Where the recordings are looked for, in order (the first folder holding them wins):

1. ``path``, when given: a folder holding the WAV files or a ``recordings/`` subfolder
   with them (FSDD's own layout). Nothing else is tried when it is given.
2. ``$BB_DATA_DIR/fsdd`` (again the files or a ``recordings/`` subfolder);
3. the cache folder ``$XDG_CACHE_HOME/braininabox/fsdd/recordings`` (by default under
   ``~/.cache``), where downloads go;
4. a download of the v1.0.10 release archive (checksum-verified) into the cache,
   unless ``BB_OFFLINE=1``.

In a folder, files not ending in ``.wav`` are ignored (FSDD's README, metadata.py); a
``.wav`` file whose name is not ``{digit}_{speaker}_{take}.wav``, or that is not
16-bit mono PCM at 8 kHz, is refused by name (ValueError).
"""
import os
import re
import shutil
import tempfile
import zipfile
from typing import List, NamedTuple

import numpy as np

from .download import (NETWORK_ERRORS, ChecksumError, DatasetNotFoundError, cache_dir, download,
                       offline, search_folders)
from .wav import read_wav

__all__ = ["load_fsdd", "FSDD", "FSDD_SAMPLE_RATE", "FSDD_TEST_TAKES"]

FSDD_SAMPLE_RATE = 8000
FSDD_TEST_TAKES = 5  # takes 0..4 of every speaker and digit are the test split

# The release archive: GitHub's zip of tag v1.0.10 (commit d6938f9b), 16,419,872 bytes.
FSDD_URL = ("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/"
            "v1.0.10.zip")
FSDD_SHA256 = "c680098f5d2355ba7cc4bd8b0ca9e0a24c00ebe3b4c552208889a4d28d4fbc2b"
FSDD_ARCHIVE = "free-spoken-digit-dataset-1.0.10.zip"

_NAME = re.compile(r"^([0-9])_([A-Za-z]+)_([0-9]+)\.wav$")
_SPLITS = ("train", "test", "all")


class FSDD(NamedTuple):
    """What load_fsdd returns, in the order (speaker, digit, take):

    pcm: list of 1-D int16 numpy arrays, one per recording (their lengths differ);
    labels: int64 array (N,), the spoken digit;
    speakers: str array (N,), the speaker's name;
    takes: int64 array (N,), the take index (0-49) from the file name.
    """
    pcm: List[np.ndarray]
    labels: np.ndarray
    speakers: np.ndarray
    takes: np.ndarray


def load_fsdd(path=None, split="train"):
    """Load the Free Spoken Digit Dataset's ``split`` ("train", "test" or "all") as an
    :class:`FSDD` tuple ``(pcm, labels, speakers, takes)``; see the module docstring for
    where it is looked for.

    Raises DatasetNotFoundError when no folder holds the recordings and none could be
    downloaded, ValueError naming a file that is not an FSDD recording (name, format or
    sample rate), ChecksumError when a download does not match its published hash.
    """
    if split not in _SPLITS:
        raise ValueError(f"load_fsdd: split must be one of {_SPLITS}, got {split!r}")
    folder = _locate(path)
    recordings = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(".wav"):
            continue
        match = _NAME.match(name)
        if match is None:
            raise ValueError(f"{os.path.join(folder, name)}: not an FSDD file name; expected "
                             "{digit}_{speaker}_{take}.wav, e.g. 7_jackson_32.wav")
        digit, speaker, take = int(match[1]), match[2], int(match[3])
        if split == "all" or (take < FSDD_TEST_TAKES) == (split == "test"):
            recordings.append((speaker, digit, take, name))
    recordings.sort()
    pcm = [read_wav(os.path.join(folder, name), FSDD_SAMPLE_RATE)
           for _, _, _, name in recordings]
    return FSDD(pcm,
                np.array([r[1] for r in recordings], dtype=np.int64),
                np.array([r[0] for r in recordings], dtype=str),
                np.array([r[2] for r in recordings], dtype=np.int64))


# ------------------------------------------------------------------ finding the folder

def _recordings_in(folder):
    """The folder holding the WAV files: ``folder/recordings`` or ``folder``, or None."""
    for candidate in (os.path.join(folder, "recordings"), folder):
        if os.path.isdir(candidate) and any(n.lower().endswith(".wav")
                                            for n in os.listdir(candidate)):
            return candidate
    return None


def _locate(path):
    if path is not None:
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise DatasetNotFoundError(f"FSDD: the given path {path} is not a folder")
        found = _recordings_in(path)
        if found is None:
            raise DatasetNotFoundError(f"FSDD: no .wav files in the given folder {path} "
                                       "nor in its recordings/ subfolder")
        return found

    cache = cache_dir("fsdd")
    folders, looked = search_folders(cache)
    for folder in folders:
        candidate = folder if folder == cache else os.path.join(folder, "fsdd")
        found = _recordings_in(candidate)
        if found is not None:
            return found
        looked.append(f"{candidate} (no .wav files there or in recordings/)")

    skipped = offline()
    if skipped is not None:
        looked.append(f"download skipped: BB_OFFLINE={skipped}")
    else:
        try:
            return _download(cache)
        except NETWORK_ERRORS as e:
            looked.append(f"download of {FSDD_URL} failed: {e}")
    raise DatasetNotFoundError(
        "FSDD recordings not found. Looked in:\n  - " + "\n  - ".join(looked)
        + "\nTo provide them: pass path= to FSDD's recordings/ folder (or the folder holding "
        "it), or set BB_DATA_DIR to a folder with an fsdd/ subfolder holding them; or go "
        f"online (and unset BB_OFFLINE) so they are downloaded into {cache}.")


def _download(cache):
    """Fetch the release archive (sha256-checked), unpack its recordings into
    ``cache/recordings`` (renamed into place only when complete), delete the archive."""
    archive = os.path.join(cache, FSDD_ARCHIVE)
    download(FSDD_URL, archive, "sha256", FSDD_SHA256)
    unpacked = tempfile.mkdtemp(dir=cache, prefix=".recordings-")
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.namelist()
                       if m.split("/")[-2:-1] == ["recordings"] and _NAME.match(m.split("/")[-1])]
            if not members:
                raise ChecksumError(f"{FSDD_URL}: the archive holds no recordings/*.wav")
            for member in members:
                with z.open(member) as src, \
                        open(os.path.join(unpacked, member.split("/")[-1]), "wb") as dst:
                    shutil.copyfileobj(src, dst)
        target = os.path.join(cache, "recordings")
        if os.path.isdir(target):  # an earlier, incomplete folder without .wav files
            shutil.rmtree(target)
        os.replace(unpacked, target)
    except BaseException:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise
    os.remove(archive)
    return target
