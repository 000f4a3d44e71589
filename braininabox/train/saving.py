"""bb.load: read a model file written by Sequential.save, Model.save or QuantizedModel.save.

The file (train/model_file.py) is an uncompressed npz archive, a JSON header (format,
version, architecture) and the parameter and buffer arrays, with a SHA-256 of every byte
in its zip comment. The header's format says which kind of model to rebuild, so bb.load
returns whichever kind was saved (an int8 model: deploy/quantized_file.py, registered
in READERS).

Every failure to load is a ModelFileError (a ValueError) naming the file and the
problem; a missing path is a FileNotFoundError. Nothing is allocated before it is
checked against the file: the architecture may create at most the parameters the file
holds, and each array is read only after its declared shape matched the architecture.
"""
import math
import os

import numpy as np

from .._files import remove_stale_temporaries
from ..nn.layer import LAYERS, ParameterBudgetExceeded, parameter_budget
from . import graph, model, model_file
from .model_file import ModelFileError

# format -> (model class, the versions this braininabox reads); version 2 and later carry
# the checksum, Sequential's version 1 files (without it) still load.
_KINDS = {model.FORMAT: (model.Sequential, (1, model.FORMAT_VERSION)),
          graph.FORMAT: (graph.Model, (graph.FORMAT_VERSION,))}

# Model kinds the layers above train/ add (deploy/ builds on train/, never the reverse):
# format -> read(header, {member: (dtype, shape, read function)}) giving the model.
# deploy/quantized_file.py registers the int8 model's.
READERS = {}


def register_reader(format_name, read):
    READERS[format_name] = read


# Per-sample input values a model file may declare (4x a 3x1024x1024 image): building the
# model at load time pushes one sample of it through the layers.
MAX_INPUT_VALUES = 1 << 24


def load(path):
    """Read a model written by save(): a Sequential, a Model or a QuantizedModel, as saved.

    Raises FileNotFoundError when there is no file at path, and ModelFileError naming the
    file and the problem for anything else: a corrupted or truncated file, a foreign file,
    an unknown layer or invalid layer settings, parameters that do not match the
    architecture or are not finite."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path}")
    remove_stale_temporaries(path)
    try:
        return _load(path)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - the one documented error type for any bad file
        message = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise ModelFileError(
            f"{path} is not a readable braininabox model file (corrupted or another format): "
            f"{type(exc).__name__}: {message}") from None


def _input_shape(header):
    return header.get("input_shape") if header.get("format") == model.FORMAT else \
        (header.get("input") or {}).get("shape")


def _load(path):
    header, params, extras, f, checksummed = model_file.read(path)
    with f:
        def fail(problem):
            raise ModelFileError(f"{path} is not a readable braininabox model file: {problem}")
        if header.get("format") in READERS:
            if not checksummed:
                fail("no checksum (corrupted)")
            try:
                return READERS[header["format"]](header, extras)
            except (TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
                fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if header.get("format") not in _KINDS:
            raise ModelFileError(
                f"{path} is not a braininabox model file (format {header.get('format')!r})")
        kind, versions = _KINDS[header["format"]]
        version = header.get("version")
        if type(version) is not int or version not in versions:  # true == 1 in Python
            fail(f"model format version {version!r}, this braininabox reads "
                 + (f"versions {' and '.join(map(str, versions))}" if len(versions) > 1
                    else f"version {versions[0]}"))
        if version >= 2 and not checksummed:
            fail(f"format version {version} without its checksum (corrupted)")
        input_shape = _input_shape(header)
        if (not isinstance(input_shape, list) or not input_shape
                or not all(type(d) is int and d >= 1 for d in input_shape)):
            fail(f"invalid input_shape {input_shape!r} (positive integers)")
        if math.prod(input_shape) > MAX_INPUT_VALUES:
            fail(f"input_shape {input_shape} declares more than {MAX_INPUT_VALUES} values per "
                 f"sample")
        if not isinstance(header.get("layers"), list):
            fail("the header has no list of layers")

        def make_layer(spec):
            if not (isinstance(spec, dict) and isinstance(spec.get("config"), dict)
                    and all(isinstance(k, str) for k in spec["config"])):
                fail(f"a layer is not a {{class, config}} object: {str(spec)[:80]}")
            if spec.get("class") not in LAYERS:
                fail(f"uses unknown layer {spec.get('class')!r}")
            try:
                return LAYERS[spec["class"]](**spec["config"])
            except (TypeError, ValueError) as exc:
                if isinstance(exc, ParameterBudgetExceeded):
                    raise
                fail(f"layer {spec['class']} has invalid settings: {exc}")

        # Layers with declared input sizes create their parameters in the constructor, the
        # others at build: both draw on what the file holds, so nothing larger is allocated.
        budget = sum(math.prod(shape) for _, shape, _ in params)
        with parameter_budget(budget), np.errstate(all="ignore"):
            try:
                built = kind.from_saved(path, header, make_layer)
            except ModelFileError:
                raise
            except ParameterBudgetExceeded as exc:
                fail(f"its architecture needs more parameters than the file holds ({budget} "
                     f"values): {exc}")
            except (TypeError, ValueError, IndexError) as exc:
                fail(f"its layers do not fit input shape {tuple(input_shape)}: {exc}")
            except KeyError as exc:
                fail(f"its architecture is malformed (no {exc} in the header)")
        expected = built.parameters()
        if len(params) != len(expected):
            fail(f"holds {len(params)} parameter arrays, its architecture needs {len(expected)}")
        arrays = {}
        for i, (p, (_, shape, read)) in enumerate(zip(expected, params)):
            if shape != p.shape:
                fail(f"parameter {i} has shape {shape}, expected {p.shape}")
            arrays[f"param_{i}"] = np.array(read())  # a writable copy; at most the file's bytes
        for name, (_, _, read) in extras.items():  # e.g. BatchNorm's running statistics
            arrays[name] = np.array(read())
        owners = [type(layer).__name__ for layer in built.layers_in_order()
                  for _ in layer.parameters()]
        for name, array in arrays.items():
            if not np.all(np.isfinite(array)):
                what = (f"parameter {name[6:]} ({owners[int(name[6:])]})"
                        if name.startswith("param_") else name)
                fail(f"{what} holds NaN or infinite values")
        try:
            return built._restore(path, arrays)
        except ValueError as exc:
            fail(str(exc))
