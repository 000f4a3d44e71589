"""An int8 model in a file: QuantizedModel.save(path), read back by bb.load(path).

The container is the float models' one (train/model_file.py: an uncompressed npz, a
JSON header, a SHA-256 of every byte, bounded reading). The header (format
"braininabox.QuantizedModel", version 1) holds the model's input and output shapes and
quantization, which op reads which (reads), the front end (a bb.audio.MFCC's sample rate
and float_scale, or none), and for every op its kind (a key of ops.OPS) and its fields;
each array field (int8 weights, int32 biases and requantization multipliers, ...) is the
member op_<op index>_<field>. Loading rebuilds the same op objects, so the model predicts
and exports byte for byte what was saved.

Nothing in the file is trusted: the kinds and fields must be the op classes' own, the
shapes are bounded before anything is sized by them, each array must have its field's
dtype, and the C runtime validates the rebuilt model (bb_model_validate) as it does any
model; the caller (train/saving.py) turns every failure into a ModelFileError naming
the file.
"""
import dataclasses
import math

import numpy as np

from ..train import model_file
from .frontend import FRONTENDS, features_quantization
from .ops import OPS, Int8Op, MFCCOp

FORMAT = model_file.QUANTIZED_FORMAT
FORMAT_VERSION = 1
MAX_OPS = 4096
MAX_VALUES = 1 << 24    # per-sample values of any one tensor (the float models' bound)
_NUMPY = "__numpy__"    # a numpy scalar in the header: {"__numpy__": dtype, "value": v}


def _encode_value(value, where):
    """A field value as JSON (tuples as lists; numpy scalars tagged with their dtype, so
    that arithmetic on them is the same after loading)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_encode_value(v, where) for v in value]
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return {_NUMPY: value.dtype.name, "value": value.item()}
    raise TypeError(f"QuantizedModel.save: {where} holds a {type(value).__name__}, which a "
                    f"model file cannot store")


def _decode_value(value):
    if isinstance(value, list):
        return tuple(_decode_value(v) for v in value)
    if isinstance(value, dict):
        if set(value) != {_NUMPY, "value"} or value[_NUMPY] not in (
                "bool", "int8", "int16", "int32", "int64", "uint8", "float32", "float64"):
            raise ValueError(f"an op field holds an unknown object {str(value)[:80]}")
        return np.dtype(value[_NUMPY]).type(value["value"])
    return value


def _encode_op(op, prefix, arrays, where):
    """The header entry of one op; its arrays go into `arrays` as <prefix>_<field>. A
    field holding ops (a band chain's stages) is a list of such entries, its ops' arrays
    named <prefix>_<field>_<j>_<their field>."""
    fields, stored, nested = {}, [], {}
    for f in dataclasses.fields(op):
        value = getattr(op, f.name)
        if isinstance(value, np.ndarray):
            arrays[f"{prefix}_{f.name}"] = value
            stored.append(f.name)
        elif isinstance(value, tuple) and value and all(isinstance(v, Int8Op) for v in value):
            nested[f.name] = [_encode_op(v, f"{prefix}_{f.name}_{j}", arrays,
                                         f"{where} {f.name}[{j}]") for j, v in enumerate(value)]
        else:
            fields[f.name] = _encode_value(value, f"{where} ({op.name}) field {f.name}")
    entry = {"kind": op.kind, "fields": fields, "arrays": stored}
    if nested:
        entry["ops"] = nested
    return entry


def encode(q):
    """The bytes of q's model file."""
    arrays = {}
    ops = [_encode_op(op, f"op_{i}", arrays, f"op {i}") for i, op in enumerate(q.ops)]
    frontend = None
    if q.frontend is not None:
        frontend = {"sample_rate": int(q.frontend.sample_rate),
                    "float_scale": float(q.frontend.float_scale)}
    header = {"format": FORMAT, "version": FORMAT_VERSION,
              "input_shape": list(q.input_shape),
              "input_q": _encode_value(tuple(q.input_q), "input_q"),
              "output_shape": list(q.output_shape), "reads": q.reads,
              "frontend": frontend, "ops": ops}
    return model_file.encode(header, arrays)


def _shape(value, what):
    if (not isinstance(value, list) or not value
            or not all(type(d) is int and d >= 1 for d in value)):
        raise ValueError(f"{what} {value!r} is not a shape (positive integers)")
    if math.prod(value) > MAX_VALUES:
        raise ValueError(f"{what} {value} declares more than {MAX_VALUES} values per sample")
    return tuple(value)


def _decode_op(spec, prefix, where, arrays, used, depth):
    """The op of a header entry (see _encode_op), its arrays read from `arrays` (the
    members it takes are added to `used`)."""
    if not (isinstance(spec, dict) and spec.get("kind") in OPS
            and isinstance(spec.get("fields"), dict) and isinstance(spec.get("arrays"), list)
            and set(spec) <= {"kind", "fields", "arrays", "ops"}):
        raise ValueError(f"{where} is not a {{kind, fields, arrays}} object of a known kind: "
                         f"{str(spec)[:80]}")
    cls = OPS[spec["kind"]]
    known = {f.name for f in dataclasses.fields(cls)}
    nested = spec.get("ops", {})
    if not isinstance(nested, dict) or (nested and depth > 0):
        raise ValueError(f"{where}: ops nested in ops go one level deep (a band chain's stages)")
    names = list(spec["fields"]) + list(spec["arrays"]) + list(nested)
    if len(set(names)) != len(names) or not set(names) <= known:
        raise ValueError(f"{where} ({spec['kind']}) has fields {sorted(map(str, names))[:12]}; "
                         f"a {spec['kind']} op has {sorted(known)}")
    fields = {name: _decode_value(value) for name, value in spec["fields"].items()}
    for name in ("in_shape", "out_shape"):
        _shape(list(fields.get(name, ())), f"{where} {name}")
    for name in spec["arrays"]:
        member = f"{prefix}_{name}"
        if member not in arrays:
            raise ValueError(f"{where} has no array {member}")
        _, shape, read = arrays[member]
        if math.prod(shape) > MAX_VALUES:
            raise ValueError(f"array {member} has {math.prod(shape)} values")
        fields[name] = np.array(read())    # a writable copy; at most the file's bytes
        used.add(member)
    for name, entries in nested.items():
        if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_OPS:
            raise ValueError(f"{where} field {name} is not a list of ops")
        fields[name] = tuple(_decode_op(e, f"{prefix}_{name}_{j}", f"{where} {name}[{j}]", arrays,
                                        used, depth + 1) for j, e in enumerate(entries))
    op = cls(**fields)
    for name, values, dtype in op.data_arrays():   # the dtypes the runtime needs
        if values is not None and values.dtype != dtype:
            raise ValueError(f"{where} ({op.name}): {name} has dtype {values.dtype}, "
                             f"expected {np.dtype(dtype).name}")
    return op


def from_saved(header, arrays, QuantizedModel):
    """The QuantizedModel (the class is passed by quantized.py, which imports this module)
    of a file's header and arrays ({name: (dtype, shape, read)}, as model_file.read gives
    them); ValueError (or another exception) for anything wrong."""
    if header.get("version") != FORMAT_VERSION:
        raise ValueError(f"int8 model format version {header.get('version')!r}, this "
                         f"braininabox reads version {FORMAT_VERSION}")
    specs = header.get("ops")
    if not isinstance(specs, list) or not 1 <= len(specs) <= MAX_OPS:
        raise ValueError(f"the header has no list of 1 to {MAX_OPS} ops")
    used = set()
    ops = [_decode_op(spec, f"op_{i}", f"op {i}", arrays, used, depth=0)
           for i, spec in enumerate(specs)]
    if used != set(arrays):
        raise ValueError(f"arrays no op uses: {sorted(set(arrays) - used)[:8]}")

    frontend = header.get("frontend")
    if frontend is not None:
        if not isinstance(frontend, dict) or set(frontend) != {"sample_rate", "float_scale"}:
            raise ValueError(f"frontend {str(frontend)[:80]} is not {{sample_rate, float_scale}}")
        frontend = FRONTENDS["MFCC"](frontend["sample_rate"], float_scale=frontend["float_scale"])
        first = ops[0]
        if (not isinstance(first, MFCCOp) or first.sample_rate != frontend.sample_rate
                or tuple(first.out_q) != features_quantization(frontend)):
            raise ValueError("its front end does not match its first op")
    if any(isinstance(op, MFCCOp) for op in ops[1 if frontend is not None else 0:]):
        raise ValueError("an MFCC op is allowed only as the first op of a model with a front end")
    input_q = _decode_value(header.get("input_q"))
    if not (isinstance(input_q, tuple) and len(input_q) == 2):
        raise ValueError(f"input_q {header.get('input_q')!r} is not (scale, zero point)")
    reads = header.get("reads")
    if (not isinstance(reads, list) or len(reads) != len(ops)
            or not all(isinstance(r, list) and all(type(v) is int for v in r) for r in reads)):
        raise ValueError("reads is not one list of op indices per op")
    q = QuantizedModel(ops, _shape(header.get("input_shape"), "input_shape"), input_q,
                       _shape(header.get("output_shape"), "output_shape"), reads=reads,
                       frontend=frontend)
    q.c_model()   # the runtime's own validation of every op (shapes, lengths, ranges)
    return q
