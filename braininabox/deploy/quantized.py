"""QuantizedModel: an int8 model, run by the same C runtime as the board.

predict_int8 builds the model's bb_model in memory (runtime.py) and runs it through
embedded/bb_runtime.c, compiled into the extension: these bytes are what the embedded
runtime produces on the host build and on the Cortex-M boards, by construction.

A model quantized with a front end (`bb.quantize(model, pcm, frontend=bb.audio.MFCC())`,
frontend.py) takes int16 PCM: its input_shape is (samples,) of one 1 s window, and its
first op computes the features on the runtime, as the board does.

q.save(path) writes it (int8 arrays, quantization, front end) and bb.load(path) reads it
back: a program can deploy or run it without the float model or calibration data.
"""
import numpy as np

from .._files import atomic_write
from ..train.saving import register_reader
from . import quantized_file
from .arithmetic import quantize_tensor
from .export import export_c
from .frontend import features_quantization, pcm_bytes
from .memory_plan import chain_reads, plan_memory
from .ops import Int8Op, MFCCOp, int8_op  # noqa: F401  (Int8Op, int8_op re-exported: the op classes live in ops.py)
from .runtime import CModel


class QuantizedModel:
    """An int8 model made by braininabox.quantize(model, calibration_data)."""

    def __init__(self, ops, input_shape, input_q, output_shape, reads=None, frontend=None):
        self.ops = list(ops)
        # what each op reads, in its input order: -1 the model input, j the output of op j
        # (a graph in topological order; None: a chain, each op reading the one before)
        self.reads = [list(r) for r in reads] if reads is not None else chain_reads(len(self.ops))
        for i, values in enumerate(self.reads):
            if not values or any(not -1 <= v < i for v in values):
                raise ValueError(f"int8 op {i} reads {values}: an op reads the model input (-1) "
                                 f"or earlier ops only")
        self.input_shape = tuple(input_shape)
        self.input_q = input_q
        self.output_shape = tuple(output_shape)
        self.frontend = frontend  # a bb.audio.MFCC (the first op; the input is PCM) or None

    @property
    def output_q(self):
        return self.ops[-1].out_q

    @property
    def input_dtype(self):
        return np.dtype(np.int16) if self.frontend is not None else np.dtype(np.int8)

    @property
    def input_size(self):
        """Bytes of one input in the runtime: int8 values, or 2 per int16 PCM sample."""
        return int(np.prod(self.input_shape)) * self.input_dtype.itemsize

    @property
    def runtime_input_shape(self):
        """The per-sample shape of the runtime's input tensor, in bytes."""
        return self.ops[0].in_shape if self.frontend is not None else self.input_shape

    @property
    def output_size(self):
        return int(np.prod(self.output_shape))

    def quantize_input(self, X, sample_rate=None):
        """float inputs (N, *input_shape) -> int8 (N, input_size) with the input's scale.
        With a front end: int16 PCM recordings -> the bytes of their first second (shorter
        ones zero-padded, as bb.audio.MFCC does), int8 (N, 2 * window samples);
        sample_rate (optional) is checked against the front end's."""
        if self.frontend is not None:
            return pcm_bytes(self.frontend, X, sample_rate=sample_rate)
        if sample_rate is not None:
            raise ValueError("quantized model: sample_rate applies to a model with a front end "
                             "(bb.quantize(..., frontend=bb.audio.MFCC())); this one takes features")
        if np.iscomplexobj(X):
            raise TypeError("quantized model: X is complex; the model takes real inputs")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim >= 1 and len(X) == 0:
            raise ValueError(f"quantized model: X is empty (shape {X.shape})")
        if X.shape[1:] != self.input_shape:
            raise ValueError(f"quantized model expects inputs of shape (N, "
                             f"{', '.join(map(str, self.input_shape))}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("inputs contain NaN or infinity")
        return quantize_tensor(X.reshape(len(X), -1), *self.input_q)

    def c_model(self):
        """This model as the C runtime's bb_model (built from the ops as they are now, so a
        changed op is validated again by bb_runtime_init)."""
        return CModel(self)

    def run_int8(self, inputs):
        """int8 inputs (N, input_size) -> int8 outputs (N, output_size), through the runtime.
        inputs must already be int8 (q.quantize_input's bytes): any other dtype is refused,
        never cast (int16 300 would wrap, float 0.7 become 0)."""
        if not isinstance(inputs, np.ndarray) or inputs.dtype != np.int8:
            got = inputs.dtype if isinstance(inputs, np.ndarray) else type(inputs).__name__
            raise TypeError(f"run_int8: inputs must be an int8 array (N, {self.input_size}), the "
                            f"quantized bytes (predict_int8 quantizes float inputs), got {got}")
        if inputs.ndim >= 1 and len(inputs) == 0:
            raise ValueError(f"run_int8: inputs are empty (shape {inputs.shape})")
        return self.c_model().run(inputs)

    def predict_int8(self, X, batch_size=256, sample_rate=None):
        """Raw int8 outputs (N, outputs): the bytes the board must reproduce. X: float
        inputs, or int16 PCM for a model with a front end ((N, samples) or a list of 1-D
        recordings; as bb.audio.MFCC, the first second of each, shorter ones zero-padded).

        batch_size is accepted for compatibility; the runtime runs one sample at a time."""
        if batch_size is None or int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        return self.run_int8(self.quantize_input(X, sample_rate=sample_rate))

    def predict(self, X, batch_size=256, sample_rate=None):
        """Dequantized float outputs (N, outputs)."""
        scale, zero_point = self.output_q
        return ((self.predict_int8(X, batch_size, sample_rate=sample_rate).astype(np.float32)
                 - zero_point) * np.float32(scale))

    def memory_plan(self):
        """Where every activation lives in the arena (see braininabox.deploy.memory_plan)."""
        return plan_memory(self)

    def export_c(self, path, name="model", ram_budget=128 * 1024):
        """Write a self-contained C header for the embedded runtime (see braininabox.deploy.export)."""
        return export_c(self, path, name=name, ram_budget=ram_budget)

    def save(self, path):
        """Write the model to path (atomically), for bb.load(path) to give it back: the same
        ops, front end and bytes (the float models' file format; deploy/quantized_file.py)."""
        data = quantized_file.encode(self)
        with atomic_write(path, "wb") as f:
            f.write(data)
        return path

    def summary(self, print_fn=print):
        if self.frontend is not None:
            lines = [f"int8 model: input {self.input_shape} int16 PCM at "
                     f"{self.frontend.sample_rate} Hz"]
        else:
            lines = [f"int8 model: input {self.input_shape} scale {self.input_q[0]:.6g} "
                     f"zero point {self.input_q[1]}"]
        for op in self.ops:
            lines.append(f"  {op.name:<36} {str(op.in_shape):>14} -> {str(op.out_shape):<14} "
                         f"scale {op.out_q[0]:.6g} zp {op.out_q[1]:>4}  {op.flash_bytes():>7,} B")
        text = "\n".join(lines)
        print_fn(text)
        return text

    def __repr__(self):
        return f"QuantizedModel({len(self.ops)} int8 ops, input {self.input_shape}, output {self.output_shape})"


# bb.load reads QuantizedModel.save's files through quantized_file.from_saved.
register_reader(quantized_file.FORMAT,
                lambda header, arrays: quantized_file.from_saved(header, arrays, QuantizedModel))


def with_frontend(frontend, network=None):
    """A QuantizedModel of the front end followed by `network` (a QuantizedModel whose
    input is the features, quantized as features_quantization says), or of the front end
    alone (network None: features out)."""
    first = MFCCOp.of(frontend, features_quantization(frontend))
    window = (frontend.window_samples,)
    if network is None:
        return QuantizedModel([first], window, first.in_q, first.out_shape, frontend=frontend)
    if network.input_size != first.out_size:
        raise ValueError(f"quantize: the network takes per-sample shape {network.input_shape}, "
                         f"the front end gives {first.out_shape}")
    if tuple(network.input_q) != tuple(first.out_q):
        raise ValueError(f"quantize: the network's input quantization {network.input_q} is not "
                         f"the front end's {first.out_q}")
    # The network's ops move one place on: what read the model input reads the front end.
    reads = [[-1]] + [[r + 1 for r in op_reads] for op_reads in network.reads]
    return QuantizedModel([first] + network.ops, window, first.in_q, network.output_shape,
                          reads=reads, frontend=frontend)
