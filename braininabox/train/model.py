"""Sequential: a stack of layers, the simplest model (training loop: training.py).

Its input shape is learned at the first call (or build), and two neighbour pairs run
fused (nn/rewrites.py): Linear then ReLU in one C call, ReLU then MaxPool swapped.
"""
import contextlib

import numpy as np

from ..nn.layer import Layer
from ..nn.rewrites import fused_pairs, run_pair
from ..nn.symbolic import is_symbolic
from ..nn.tensor import Tensor, no_grad
from .training import BaseModel

FORMAT = "braininabox.Sequential"
FORMAT_VERSION = 2  # 2: a SHA-256 of every byte (train/model_file.py); 1 still loads


class Sequential(BaseModel):
    """Layers applied in order: Sequential([Conv2D(32, 3), ReLU(), ..., Linear(10)])."""

    def __init__(self, layers=None, name=None):
        super().__init__(name)
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.input_shape = None
        self._output_shapes = None

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes layers, got {type(layer).__name__}")
        self.layers.append(layer)
        self._output_shapes = None  # built again (the layers built so far keep their weights)

    # ----------------------------------------------------------- forward
    def __call__(self, x):
        if is_symbolic(x):  # used as a layer of a bb.Model: its layers are inlined
            return self._call_symbolic(x)
        x = x if isinstance(x, Tensor) else Tensor(x)
        if all(layer.built for layer in self.layers) and self.input_shape is not None:
            return self._forward(x)
        with self._unbuilt_on_error():  # a bad first input leaves no layer built for it
            if self.input_shape is None:
                self.input_shape = tuple(x.shape[1:])
            return self._forward(x)

    def _record(self, x):
        if self._output_shapes is None:  # layers added since the last build
            self.build(x.shape)
        for layer in self.layers:
            x = layer(x)
        return x

    @contextlib.contextmanager
    def _unbuilt_on_error(self):
        """Undo what a failed call did to layers it built (and to input_shape), so a first
        call with bad input does not make the model refuse good input afterwards."""
        unbuilt = [(layer, dict(vars(layer))) for layer in self.layers if not layer.built]
        shapes = self.input_shape, self._output_shapes
        try:
            yield
        except BaseException:
            for layer, state in unbuilt:
                vars(layer).clear()
                vars(layer).update(state)
            self.input_shape, self._output_shapes = shapes
            raise

    def _forward(self, x):
        layers = self.layers
        # which pairs fuse depends on the layers and on whether they are built: planned
        # once per such state, not on every call (batch-1 inference feels it)
        key = tuple((id(layer), layer.built) for layer in layers)
        if getattr(self, "_fused_for", (None,))[0] != key:
            self._fused_for = (key, fused_pairs(layers, [[i - 1] for i in range(len(layers))]))
        fused = self._fused_for[1]
        i = 0
        while i < len(layers):
            if i in fused:  # one step for both (same values, same gradients)
                x = run_pair(layers[i], layers[i + 1], x)
                i += 2
            else:
                x = layers[i](x)
                i += 1
        return x

    def layers_in_order(self):
        seen, layers = set(), []
        for layer in self.layers:  # a layer listed twice is one set of weights
            if id(layer) not in seen:
                seen.add(id(layer))
                layers.append(layer)
        return layers

    def build(self, input_shape):
        """Create every parameter for samples of input_shape (without the batch axis)."""
        if not self.layers:
            raise ValueError("the Sequential model has no layers: add some (model.add(layer)) "
                             "before build, fit or predict")
        if any(d is None for d in input_shape):
            raise ValueError(f"input_shape is one sample's shape, without the batch axis: "
                             f"build({tuple(d for d in input_shape if d is not None)}), not "
                             f"build({tuple(input_shape)})")
        input_shape = tuple(int(d) for d in input_shape)
        shapes = []
        x = Tensor(np.zeros((1,) + input_shape, dtype=np.float32))
        training = [layer.training for layer in self.layers]
        self.eval()
        try:
            with no_grad(), self._unbuilt_on_error():
                for layer in self.layers:
                    x = layer(x)
                    shapes.append(tuple(x.shape[1:]))
        finally:
            for layer, mode in zip(self.layers, training):
                layer.training = mode
        self.input_shape, self._output_shapes = input_shape, shapes
        return self

    def _build_for(self, X):
        if self.input_shape is not None and X.shape == self.input_shape:
            raise ValueError(f"the model takes a batch (N, {', '.join(map(str, X.shape))}); "
                             f"for one sample of shape {X.shape} pass X[None]")
        if self._output_shapes is None or self.input_shape != tuple(X.shape[1:]):
            self.build(X.shape[1:])
        return self._output_shapes[-1] if self._output_shapes else self.input_shape

    def _require_built(self, what):
        if self._output_shapes is None:
            raise RuntimeError(f"the model is not built yet: call model.build(input_shape) "
                               f"(e.g. (1, 28, 28)), or fit/predict, before {what}")

    def _node_costs(self):
        return [(layer, shape, layer.macs(shape))
                for layer, shape in zip(self.layers, self._output_shapes)]

    # ------------------------------------------------------------- display
    def summary(self, print_fn=print):
        """A table of layers, output shapes, MACs and parameter counts; also returned."""
        self._require_built("summary()")
        rows = [(type(layer).__name__, str((None,) + shape), f"{macs:,}",
                 f"{sum(p.size for p in layer.parameters()):,}")
                for layer, shape, macs in self._node_costs()]
        return self._summary(f"Input shape: {(None,) + self.input_shape}",
                             ("Layer (type)", "Output Shape", "MACs", "Param #"), rows, print_fn)

    # ---------------------------------------------------------- save / load
    def save(self, path):
        """Architecture, weights and buffers in one file, written atomically (temp file + rename)."""
        if self._output_shapes is None:
            raise RuntimeError("save() needs a built model: train it or call build(input_shape)")
        header = {"format": FORMAT, "version": FORMAT_VERSION,
                  "input_shape": list(self.input_shape),
                  "layers": [{"class": type(l).__name__, "config": l.get_config()}
                             for l in self.layers]}
        return self._write(path, header)

    @classmethod
    def from_saved(cls, path, header, make_layer):
        """The model a file's header describes, built, its weights not yet restored."""
        return cls([make_layer(spec) for spec in header["layers"]]).build(header["input_shape"])
