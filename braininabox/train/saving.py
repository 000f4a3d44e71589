"""bb.load: read a model file written by Sequential.save or Model.save.

The file is an npz archive: a JSON header (format, version, architecture) and the
parameter and buffer arrays. The header's format says which kind of model to rebuild,
so bb.load returns whichever kind was saved.
"""
import io
import json
import os
import zipfile

import numpy as np

from ..nn.layer import LAYERS
from . import graph, model

_KINDS = {model.FORMAT: (model.Sequential, model.FORMAT_VERSION),
          graph.FORMAT: (graph.Model, graph.FORMAT_VERSION)}


def _read_archive(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
        archive = np.load(io.BytesIO(raw), allow_pickle=False)
        if isinstance(archive, np.ndarray):  # a lone .npy array, not an npz archive
            raise ValueError("it holds a single numpy array, not an npz archive")
        with archive:
            header = json.loads(str(archive["__header__"]))
            arrays = {k: archive[k] for k in archive.files if k != "__header__"}
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable braininabox model file "
                         f"(corrupted or another format): {exc}") from None
    return header, arrays


def load(path):
    """Read a model written by save(); refuses corrupted or foreign files."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path}")
    header, arrays = _read_archive(path)
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a braininabox model file (its header is not a JSON object)")
    if header.get("format") not in _KINDS:
        raise ValueError(f"{path} is not a braininabox model file (format {header.get('format')!r})")
    kind, version = _KINDS[header["format"]]
    if header.get("version") != version:
        raise ValueError(f"{path} has model format version {header.get('version')}, this "
                         f"braininabox reads version {version}")

    def make_layer(spec):
        if spec["class"] not in LAYERS:
            raise ValueError(f"{path} uses unknown layer {spec['class']!r}")
        return LAYERS[spec["class"]](**spec["config"])

    try:
        built = kind.from_saved(path, header, make_layer)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{path}: its architecture is malformed ({type(exc).__name__}: {exc})") \
            from None
    return built._restore(path, arrays)
