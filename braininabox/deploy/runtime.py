"""The bridge to the one int8 executor: a QuantizedModel as the C runtime's bb_model.

`c_model(q)` lays out the model exactly as embedded/bb_model.h defines it: each op's
fields from its op class (ops.py), its arena offsets from the memory plan, all constant
arrays in one data array addressed by offset and length, and the checksum the C side
computes. The host runs it through embedded/bb_runtime.c (compiled into the extension)
and export.py writes the same fields into a header, so the host and the boards run one
struct through one executor.
"""
import numpy as np

from .._core import ffi, lib
from .memory_plan import plan_memory
from .ops import chw

DATA_ALIGN = 4


def status_name(status):
    """The bb_status enum name of a code, read from the C header through cffi (no copy to drift)."""
    names = {getattr(lib, n): n for n in dir(lib) if n == "BB_OK" or n.startswith("BB_ERR_")}
    return names.get(status, "unknown status")


def _status_text(status):
    return f"{status_name(status)} {status}: {ffi.string(lib.bb_status_message(status)).decode()}"


def _tensor(at, shape):
    c, h, w = chw(shape)
    return {"at": int(at), "c": c, "h": h, "w": w}


def _checked_array(op, field, values, dtype):
    """values as a contiguous array of exactly dtype (never silently converted)."""
    if not isinstance(values, np.ndarray) or values.dtype != dtype:
        got = type(values).__name__ if not isinstance(values, np.ndarray) else values.dtype
        raise ValueError(f"int8 {op.name}: {field} must be a numpy {np.dtype(dtype).name} array, "
                         f"got {got}")
    return np.ascontiguousarray(values)


class DataLayout:
    """All constant arrays of a model, one after another at 4-byte boundaries."""

    def __init__(self):
        self.chunks = []
        self.size = 0
        self.slots = []  # (op index, field, at, bytes) for the header's comments

    def add(self, op_index, field, array):
        if array is None:
            return {"at": 0, "bytes": 0}
        raw = array.tobytes()  # little-endian on every host we build for (checked in C)
        ref = {"at": self.size, "bytes": len(raw)}
        self.slots.append((op_index, field, self.size, len(raw)))
        padded = len(raw) + (-len(raw)) % DATA_ALIGN
        self.chunks.append(raw + b"\0" * (padded - len(raw)))
        self.size += padded
        return ref

    def words(self):
        return np.frombuffer(b"".join(self.chunks), dtype="<u4").copy()


class CModel:
    """q as a bb_model in memory, with the Python objects its pointers use kept alive.

    .op_fields / .model_fields: the initializers (dicts) of every bb_op and of the
    bb_model (pointers aside), which export.py renders as C; .data: the data words;
    .checksum; .plan: the memory plan the offsets come from."""

    def __init__(self, q, plan=None):
        self.q = q
        self.plan = plan if plan is not None else plan_memory(q)
        layout = DataLayout()
        self.op_fields = []
        for i, op in enumerate(q.ops):
            _, out_at = self.plan.op_io[i]
            # input 0 with the op's own view of it (a linear op reads (C, H, W) as (F,)),
            # the others with their producers' shapes
            in_shapes = [op.in_shape] + [q.runtime_input_shape if v < 0 else q.ops[v].out_shape
                                         for v in q.reads[i][1:]]
            scratch_at = self.plan.op_scratch[i]
            data = [layout.add(i, field, None if values is None else
                               _checked_array(op, field, values, dtype))
                    for field, values, dtype in op.data_arrays()]
            fields = {"kind": op.c_kind, "input_count": len(in_shapes),
                      "inputs": [_tensor(at, shape) for at, shape in
                                 zip(self.plan.op_inputs[i], in_shapes)],
                      "output": _tensor(out_at, op.out_shape),
                      "scratch_at": scratch_at if scratch_at is not None else 0,
                      "scratch_bytes": op.scratch_bytes() if scratch_at is not None else 0}
            params = op.c_params()
            if params is not None:
                fields["params"] = {op.params_member: params}
            # after params: the header's initializers follow bb_op's declaration order (C++)
            fields.update(data_count=len(data), data=data)
            self.op_fields.append(fields)
        self.layout = layout
        self.data = layout.words()
        self.ops = ffi.new("bb_op[]", self.op_fields)
        self.name = ffi.new("char[]", b"model")
        first_in, last_out = self.plan.input_at, self.plan.op_io[-1][1]
        self.model_fields = {
            "format_version": lib.BB_MODEL_FORMAT_VERSION,
            "op_count": len(q.ops),
            "ops_bytes": len(q.ops) * ffi.sizeof("bb_op"),
            "data_bytes": int(self.data.nbytes),
            "arena_bytes": self.plan.arena_bytes,
            "input": _tensor(first_in, q.runtime_input_shape),
            "output": _tensor(last_out, q.output_shape),
            "input_size": q.input_size,
            "output_size": q.output_size,
            "input_scale": float(q.input_q[0]), "input_zero_point": int(q.input_q[1]),
            "output_scale": float(q.output_q[0]), "output_zero_point": int(q.output_q[1]),
        }
        self.model = ffi.new("bb_model *", self.model_fields)
        self.model.name = self.name
        self.model.ops = self.ops
        self.model.data = ffi.from_buffer("uint32_t[]", self.data) if self.data.size else ffi.NULL
        failed = ffi.new("uint32_t *")
        status = lib.bb_model_validate(self.model, failed)
        if status != lib.BB_OK:
            raise ValueError(self._refusal("the int8 runtime refuses the model", status, failed[0]))
        self.checksum = lib.bb_model_checksum(self.model)
        self.model.checksum = self.checksum

    def _refusal(self, what, status, op_index):
        where = (f"op {op_index} ({self.q.ops[op_index].name})" if op_index < len(self.q.ops)
                 else "the model's input or output")
        return f"{what} at {where}: {_status_text(status)}"

    def run(self, inputs):
        """int8 (N, input_size) -> int8 (N, output_size) through bb_runtime_invoke_batch."""
        inputs = np.ascontiguousarray(inputs, dtype=np.int8)
        size = self.q.input_size
        if inputs.ndim != 2 or inputs.shape[1] != size:
            raise ValueError(f"int8 inputs must have shape (N, {size}), got {inputs.shape}")
        outputs = np.empty((len(inputs), self.q.output_size), dtype=np.int8)
        arena = np.zeros(max(self.plan.arena_bytes, 1), dtype=np.uint8)
        rt = ffi.new("bb_runtime *")
        status = lib.bb_runtime_init(rt, self.model, ffi.from_buffer(arena), arena.nbytes)
        if status != lib.BB_OK:
            raise ValueError(self._refusal("bb_runtime_init refused the model", status, rt.failed_op))
        if len(inputs):
            status = lib.bb_runtime_invoke_batch(rt, len(inputs), ffi.from_buffer("int8_t[]", inputs),
                                                 ffi.from_buffer("int8_t[]", outputs))
            if status != lib.BB_OK:
                raise RuntimeError(self._refusal("bb_runtime_invoke failed", status, rt.failed_op))
        return outputs
