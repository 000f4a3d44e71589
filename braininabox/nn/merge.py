"""Layers that join several inputs into one: Add (residual connections) and Concatenate.

Both take a list, eagerly on Tensors or symbolically while a functional model is written:

    z = Add()([shortcut, y])
    z = Concatenate(axis=1)([a, b])      # along the channels of NCHW inputs

Shapes are checked before anything is computed; a mismatch names the inputs (the layers
that produced them, in a functional model).
"""
import numpy as np

from .layer import Layer
from .symbolic import SymbolicTensor, call_symbolic, describe, is_symbolic
from .tensor import Tensor, concat


class _Merge(Layer):
    def __call__(self, inputs):
        kind = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise TypeError(f"{kind} {self.name!r} takes a list of at least two inputs, got "
                            f"{type(inputs).__name__}")
        if is_symbolic(inputs):
            if all(isinstance(t, SymbolicTensor) for t in inputs):  # the message names layers
                self.check_shapes([(None,) + t.shape for t in inputs], describe(inputs))
            return call_symbolic(self, inputs)
        tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in inputs]
        self.check_shapes([t.shape for t in tensors],
                          " and ".join(f"input {i} {t.shape}" for i, t in enumerate(tensors)))
        self.built = True
        return self.forward(tensors)

    def check_shapes(self, shapes, described):
        raise NotImplementedError


class Add(_Merge):
    """The elementwise sum of inputs of one shape (no broadcasting, as in Keras)."""

    def check_shapes(self, shapes, described):
        if any(s != shapes[0] for s in shapes):
            raise ValueError(f"Add {self.name!r}: inputs must have one shape, got {described}")

    def forward(self, tensors):
        total = tensors[0].data.copy()
        for t in tensors[1:]:
            total += t.data
        # one graph node: the gradient of a sum reaches every input unchanged
        return Tensor._result(total, tuple(tensors), lambda g: tuple(g for _ in tensors), "add")


class Concatenate(_Merge):
    """Join inputs along `axis` (counted with the batch axis: 1 is NCHW's channels)."""

    def __init__(self, axis=1):
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: axis must be an int, got {axis!r}")
        if axis == 0:
            raise ValueError("Concatenate: axis 0 is the batch axis; join features along axis "
                             "1 (channels) or later")
        self.axis = int(axis)

    def check_shapes(self, shapes, described):
        ndim = len(shapes[0])
        if any(len(s) != ndim for s in shapes):
            raise ValueError(f"Concatenate {self.name!r}: inputs must have the same number of "
                             f"dimensions, got {described}")
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 1 <= axis < ndim:
            raise ValueError(f"Concatenate {self.name!r}: axis {self.axis} is out of range for "
                             f"inputs of {ndim} dimensions (axis 0 is the batch)")
        for s in shapes:
            rest = [d for i, d in enumerate(s) if i != axis]
            first = [d for i, d in enumerate(shapes[0]) if i != axis]
            if any(a is not None and b is not None and a != b for a, b in zip(rest, first)):
                raise ValueError(f"Concatenate {self.name!r}: inputs must agree on every axis "
                                 f"but {self.axis}, got {described}")

    def forward(self, tensors):
        return concat(tensors, axis=self.axis)

    def get_config(self):
        return {"axis": self.axis}
