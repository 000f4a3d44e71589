"""Sequential: a stack of layers with Keras-style compile / fit / evaluate / predict.

Data is numpy in, numpy out: X (N, ...) features (NCHW for images), y (N,) integer
class labels, (N, classes) one-hot rows, or regression targets.
"""
import contextlib
import math
import os
import sys

import numpy as np

from .. import _rng
from .._files import atomic_write, remove_stale_temporaries
from ..data.loader import DataLoader, as_features
from ..nn.layer import LAYERS, Layer, ParameterBudgetExceeded, parameter_budget
from ..nn.layers import Linear, MaxPool, ReLU
from ..nn.tensor import Tensor, no_grad
from . import loss as losses
from . import metrics as metric_lib
from . import model_file, optimizers
from .model_file import ModelFileError  # noqa: F401 (bb.ModelFileError)
from .callbacks import Callback, History
from .progress import ProgressBar

FORMAT = "braininabox.Sequential"
FORMAT_VERSION = 2  # 2: a SHA-256 of every byte (train/model_file.py); 1 still loads

_OPTIMIZERS = {"adam": optimizers.Adam, "sgd": optimizers.SGD}
_LOSSES = {"cross_entropy": losses.CrossEntropy, "sparse_categorical_crossentropy": losses.CrossEntropy,
           "mse": losses.MSE, "binary_cross_entropy": losses.BinaryCrossEntropy,
           "binary_crossentropy": losses.BinaryCrossEntropy}


def _lookup(value, table, what):
    if not isinstance(value, str):
        return value
    if value.lower() not in table:
        raise ValueError(f"unknown {what} {value!r}; choose from {sorted(table)}")
    return table[value.lower()]()


def _as_targets(y, n, what):
    y = y.data if isinstance(y, Tensor) else np.asarray(y)
    if len(y) != n:
        raise ValueError(f"{what}: X has {n} samples but y has {len(y)}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{what}: y contains NaN or infinity")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{what}: y must be numeric, got dtype {y.dtype}")
    return y


def _linear_then_relu(layers, i):
    """Whether layers[i] is a built Linear directly followed by a ReLU (fused when called)."""
    return (type(layers[i]) is Linear and layers[i].built and i + 1 < len(layers)
            and type(layers[i + 1]) is ReLU)


def _relu_then_max_pool(layers, i):
    """Whether layers[i] is a ReLU directly followed by a MaxPool (swapped when called)."""
    return type(layers[i]) is ReLU and i + 1 < len(layers) and type(layers[i + 1]) is MaxPool


class Sequential:
    """Layers applied in order: Sequential([Conv2D(32, 3), ReLU(), ..., Linear(10)])."""

    def __init__(self, layers=None):
        self.layers = []
        for layer in layers or []:
            self.add(layer)
        self.optimizer = self.loss = None
        self.metric_names = []
        self.stop_training = False
        self.input_shape = None
        self._output_shapes = None

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes layers, got {type(layer).__name__}")
        self.layers.append(layer)

    # ----------------------------------------------------------- forward
    def __call__(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if all(layer.built for layer in self.layers) and self.input_shape is not None:
            return self._forward(x)
        with self._unbuilt_on_error():  # a bad first input leaves no layer built for it
            if self.input_shape is None:
                self.input_shape = tuple(x.shape[1:])
            return self._forward(x)

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
        layers, i = self.layers, 0
        while i < len(layers):
            layer = layers[i]
            if _linear_then_relu(layers, i):  # one C call for both (same values, same gradients)
                layer.check_input(x)
                x = layer.forward(x, relu=True)
                i += 2
            elif _relu_then_max_pool(layers, i):
                # max(relu(y)) == relu(max(y)), with the same gradients: pooling first leaves
                # the ReLU (forward and backward) fewer values, a quarter for 2x2 windows.
                relu, pool = layer, layers[i + 1]
                x = relu(pool(x))
                i += 2
            else:
                x = layer(x)
                i += 1
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def train(self, mode=True):
        for layer in self.layers:
            layer.training = mode
        return self

    def eval(self):
        return self.train(False)

    def build(self, input_shape):
        """Create every parameter for samples of input_shape (without the batch axis)."""
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
        if self._output_shapes is None or self.input_shape != tuple(X.shape[1:]):
            self.build(X.shape[1:])
        return self._output_shapes[-1] if self._output_shapes else self.input_shape

    # ---------------------------------------------------------- training
    def compile(self, optimizer="adam", loss="cross_entropy", metrics=None):
        """Choose the optimizer, the loss and the metrics reported by fit and evaluate."""
        self.optimizer = _lookup(optimizer, _OPTIMIZERS, "optimizer")
        self.loss = _lookup(loss, _LOSSES, "loss")
        if not isinstance(self.optimizer, optimizers.Optimizer):
            raise TypeError(f"optimizer must be a braininabox optimizer, got {type(optimizer).__name__}")
        if not isinstance(self.loss, losses.Loss):
            raise TypeError(f"loss must be a braininabox loss, got {type(loss).__name__}")
        self.metric_names = list(metrics or [])
        for name in self.metric_names:
            metric_lib.get(name, 2)  # an unknown name fails here, not after an epoch
        if self.metric_names:
            self.loss.predicted_classes(np.zeros((1, 2), dtype=np.float32))  # regression: refused
        self._bind_optimizer = not self.optimizer.params
        return self

    def _require_compiled(self, what):
        if self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}()")

    def _true_classes(self, y):
        if isinstance(self.loss, losses.BinaryCrossEntropy):
            return (y.reshape(len(y), -1)[:, 0] > 0.5).astype(np.int64)
        return y.argmax(axis=-1) if y.ndim > 1 else y.astype(np.int64)

    def _class_weight(self, class_weight, classes):
        if class_weight is None:
            return None
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class index: weight}}, got "
                            f"{type(class_weight).__name__}")
        binary = isinstance(self.loss, losses.BinaryCrossEntropy)
        if not binary and not isinstance(self.loss, losses.CrossEntropy):
            raise ValueError("class_weight needs a classification loss")
        n = 2 if binary else classes
        for cls, w in class_weight.items():
            if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)):
                raise ValueError(f"class_weight keys must be integer class indices, got {cls!r}")
            if not 0 <= cls < n:
                raise ValueError(f"class_weight names class {cls}, but " +
                                 ("binary classification has classes 0 and 1" if binary else
                                  f"the model has {classes} outputs"))
            if isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating)) \
                    or not (math.isfinite(w) and w >= 0):
                raise ValueError(f"class_weight for class {cls} must be a finite number >= 0, "
                                 f"got {w!r}")
        if binary:
            return {int(k): float(v) for k, v in class_weight.items()}
        weights = np.ones(classes, dtype=np.float32)
        for cls, w in class_weight.items():
            weights[int(cls)] = w
        return weights

    def _metrics(self, classes):
        return [metric_lib.get(name, classes) for name in self.metric_names]

    def fit(self, X, y, epochs=1, batch_size=32, validation_data=None, validation_split=0.0,
            shuffle=True, class_weight=None, callbacks=None, verbose=1, seed=None, augment=None):
        """Train for `epochs` passes over (X, y); returns a History (history.history[key][epoch],
        with the learning rate of each epoch as "lr").

        augment: an ImageAugment (bb.data.ImageAugment(shift=4, flip=True)) applied to each
        training batch (not to validation data); None (the default) trains on X as given."""
        self._require_compiled("fit")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0 (0 trains nothing), got {epochs!r}")
        X = as_features(X, "fit")
        y = _as_targets(y, len(X), "fit")
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if validation_split and validation_data is None:
            cut = len(X) - int(round(len(X) * validation_split))
            if cut <= 0 or cut == len(X):
                raise ValueError(f"validation_split={validation_split} leaves no training or no "
                                 f"validation samples out of {len(X)}")
            X, y, validation_data = X[:cut], y[:cut], (X[cut:], y[cut:])
        out_shape = self._build_for(X)
        self.loss.check_targets(y, (len(X),) + tuple(out_shape))
        if validation_data is not None:
            Xv = as_features(validation_data[0], "fit (validation_data)")
            yv = _as_targets(validation_data[1], len(Xv), "fit (validation_data)")
            self.loss.check_targets(yv, (len(Xv),) + tuple(out_shape))
        if self._bind_optimizer:
            self.optimizer.bind(self.parameters())
            self._bind_optimizer = False
        classes = out_shape[-1] if out_shape else 1
        weights = self._class_weight(class_weight, classes)

        history = History()
        callbacks = [history] + list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback objects, got {type(cb).__name__}")
            cb.model = self
        log_keys = {"loss", *self.metric_names}
        if validation_data is not None:
            log_keys |= {f"val_{k}" for k in log_keys}
        # A monitor or file name that can never be filled fails now, not after an epoch.
        # Callbacks of the user's own may add log keys: then the check waits for the logs.
        if all(type(cb).__module__ == Callback.__module__ for cb in callbacks):
            for cb in callbacks:
                cb.check_logs(sorted(log_keys))
        rng_seed = seed if seed is not None else int(_rng.generator().integers(2**63))
        loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=rng_seed,
                            augment=augment)
        metrics = self._metrics(classes)
        self.stop_training = False
        try:
            for cb in callbacks:
                cb.on_train_begin()
            for epoch in range(epochs):
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout, flush=True)
                for cb in callbacks:
                    cb.on_epoch_begin(epoch)
                logs = self._train_epoch(loader, epoch, weights, metrics, verbose, callbacks)
                if validation_data is not None:
                    val = self.evaluate(Xv, yv, batch_size=max(batch_size, 256))
                    logs.update({f"val_{k}": v for k, v in val.items()})
                    if verbose:
                        print("  " + " - ".join(f"val_{k}: {v:.4f}" for k, v in val.items()),
                              flush=True)
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            for cb in callbacks:
                cb.on_train_end()
        finally:
            self.eval()  # also after an error: the model is left ready for predict
        return history

    def _train_epoch(self, loader, epoch, weights, metrics, verbose, callbacks):
        self.train()
        for m in metrics:
            m.reset()
        bar = ProgressBar(len(loader), verbose)
        total_loss, seen = 0.0, 0
        logs = {}
        # The weights at the start of the epoch (finite: checked after every step), put
        # back if training diverges, so the model stays usable.
        params = self.parameters()
        start = [p.data.copy() for p in params]
        first_loss = None
        for step, (xb, yb) in enumerate(loader, start=1):
            outputs = self(Tensor(xb))
            loss = self.loss(outputs, yb, weights)
            value = float(loss.data)
            first_loss = value if first_loss is None else first_loss
            # A loss a million times the epoch's first (e.g. cross-entropy at 1e14 after
            # a learning rate of 1e6) is divergence even while it is still finite.
            problem = (f"loss became {value}" if not math.isfinite(value) else
                       f"loss grew from {first_loss:.4g} to {value:.4g}"
                       if abs(value) > 1e6 * max(abs(first_loss), 1e-3) else None)
            if problem is None:
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if not all(np.isfinite(p.data).all() for p in params):
                    problem = "a weight became NaN or infinite"
            if problem:
                for p, saved in zip(params, start):
                    p.data = saved
                self.optimizer.state = {}
                raise FloatingPointError(
                    f"{problem} at epoch {epoch + 1}, batch {step}: training diverged (try a "
                    f"lower learning rate, or check the inputs are scaled); the weights are "
                    f"back to those at the start of epoch {epoch + 1}")
            total_loss += value * len(xb)
            seen += len(xb)
            if metrics:
                predicted = self.loss.predicted_classes(outputs.data)
                true = self._true_classes(yb)
                for m in metrics:
                    m.update(true, predicted)
            logs = {"loss": total_loss / seen, **{m.name: m.result() for m in metrics},
                    "lr": float(self.optimizer.lr)}
            bar.update(step, seen, logs)
            for cb in callbacks:
                cb.on_batch_end(step - 1, logs)
        bar.finish(len(loader), seen, logs)
        return logs

    def evaluate(self, X, y, batch_size=256, verbose=0):
        """The loss and metrics on (X, y), as a dict {"loss": ..., "accuracy": ...}."""
        self._require_compiled("evaluate")
        X = as_features(X, "evaluate")
        y = _as_targets(y, len(X), "evaluate")
        out_shape = self._build_for(X)
        self.loss.check_targets(y, (len(X),) + tuple(out_shape))
        metrics = self._metrics(out_shape[-1] if out_shape else 1)
        total = 0.0
        self.eval()
        with no_grad():
            for xb, yb in DataLoader(X, y, batch_size=batch_size):
                outputs = self(Tensor(xb))
                total += float(self.loss(outputs, yb).data) * len(xb)
                if metrics:
                    predicted = self.loss.predicted_classes(outputs.data)
                    for m in metrics:
                        m.update(self._true_classes(yb), predicted)
        results = {"loss": total / len(X), **{m.name: m.result() for m in metrics}}
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        return results

    def predict(self, X, batch_size=256):
        """Model outputs for X as a numpy array, computed in batches in evaluation mode."""
        X = as_features(X, "predict")
        self._build_for(X)
        self.eval()
        with no_grad():
            return np.concatenate([self(Tensor(xb)).data
                                   for xb in DataLoader(X, batch_size=batch_size)])

    # ------------------------------------------------------------- display
    def summary(self, print_fn=print):
        """A table of layers, output shapes and parameter counts; also returned as a string."""
        if self._output_shapes is None:
            raise RuntimeError("the model is not built yet: call model.build(input_shape) "
                               "(e.g. (1, 28, 28)), or fit/predict, before summary()")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for layer, shape in zip(self.layers, self._output_shapes):
            count = sum(p.size for p in layer.parameters())
            rows.append((type(layer).__name__, str((None,) + shape), f"{count:,}"))
        widths = [max(len(r[i]) for r in rows) + 3 for i in range(3)]
        line = "-" * sum(widths)
        fmt = lambda r: "".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        total = sum(p.size for p in self.parameters())
        text = "\n".join([f"Input shape: {(None,) + self.input_shape}", line, fmt(rows[0]),
                          "=" * sum(widths)] + [fmt(r) for r in rows[1:]] +
                         [line, f"Total params: {total:,} ({4 * total:,} bytes as float32)"])
        print_fn(text)
        return text

    # ---------------------------------------------------------- save / load
    def save(self, path):
        """Architecture and weights in one file with a checksum of every byte, written
        atomically (temp file + rename; temporaries of killed writers are removed)."""
        if self._output_shapes is None:
            raise RuntimeError("save() needs a built model: train it or call build(input_shape)")
        header = {"format": FORMAT, "version": FORMAT_VERSION,
                  "input_shape": list(self.input_shape),
                  "layers": [{"class": type(l).__name__, "config": l.get_config()}
                             for l in self.layers]}
        arrays = {f"param_{i}": p.data for i, p in enumerate(self.parameters())}
        arrays.update(buffer_arrays(self.layers))
        data = model_file.encode(header, arrays)
        with atomic_write(path, "wb") as f:
            f.write(data)
        return path


def buffer_arrays(layers):
    """Every layer's buffers (e.g. BatchNorm's running statistics) as npz entries
    "buffer_<layer index>_<name>"."""
    return {f"buffer_{i}_{name}": array for i, layer in enumerate(layers)
            for name, array in layer.buffers().items()}


def load_buffer_arrays(layers, arrays, path):
    """Restore what buffer_arrays saved into freshly built layers; refuses missing or extra
    entries."""
    used = set()
    for i, layer in enumerate(layers):
        prefix = f"buffer_{i}_"
        mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
        if mine or layer.buffers():
            layer.load_buffers(mine, f"{path}: layer {i}")
        used.update(prefix + name for name in mine)
    extra = sorted(k for k in arrays if k.startswith("buffer_") and k not in used)
    if extra:
        raise ValueError(f"{path} holds buffers {extra} that no layer of its architecture has")


# Per-sample input values a model file may declare (4x a 3x1024x1024 image): the build at
# load time allocates one sample of it before any parameter is compared.
MAX_INPUT_VALUES = 1 << 24


def load(path):
    """Read a model written by Sequential.save.

    Raises FileNotFoundError when there is no file at path, and ModelFileError (a
    ValueError) naming the file and the problem for anything else: a corrupted or
    truncated file (every byte is covered by a checksum), a foreign file, an unknown
    layer or invalid layer settings, parameters that do not match the architecture or
    are not finite. Sizes are checked against the file before anything is allocated.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no model file at {path}")
    remove_stale_temporaries(path)
    try:
        return _load(path)
    except model_file.ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - the one documented error type for any bad file
        message = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise model_file.ModelFileError(
            f"{path} is not a readable braininabox model file (corrupted or another format): "
            f"{type(exc).__name__}: {message}") from None


def _load(path):
    header, params, extras, f, checksummed = model_file.read(path)
    with f:
        def fail(problem):
            raise model_file.ModelFileError(
                f"{path} is not a readable braininabox model file: {problem}")
        if header.get("format") != FORMAT:
            raise model_file.ModelFileError(
                f"{path} is not a braininabox model file (format {header.get('format')!r})")
        if header.get("version") not in (1, FORMAT_VERSION):
            fail(f"model format version {header.get('version')}, this braininabox reads "
                 f"versions 1 and {FORMAT_VERSION}")
        if header["version"] >= 2 and not checksummed:
            fail(f"format version {header['version']} without its checksum (corrupted)")
        input_shape, specs = header.get("input_shape"), header.get("layers")
        if (not isinstance(input_shape, list) or not input_shape
                or not all(type(d) is int and d >= 1 for d in input_shape)):
            fail(f"invalid input_shape {input_shape!r} (positive integers)")
        if math.prod(input_shape) > MAX_INPUT_VALUES:
            fail(f"input_shape {input_shape} declares more than {MAX_INPUT_VALUES} values per sample")
        if not isinstance(specs, list):
            fail("the header has no list of layers")
        # Layers with declared input sizes create their parameters in the constructor, the
        # others at build: both draw on what the file holds, so nothing larger is allocated.
        budget = sum(math.prod(shape) for _, shape, _ in params)
        with parameter_budget(budget), np.errstate(all="ignore"):
            layers = []
            for i, spec in enumerate(specs):
                if not (isinstance(spec, dict) and isinstance(spec.get("config"), dict)
                        and all(isinstance(k, str) for k in spec["config"])):
                    fail(f"layer {i} is not a {{class, config}} object")
                if spec.get("class") not in LAYERS:
                    fail(f"uses unknown layer {spec.get('class')!r}")
                try:
                    layers.append(LAYERS[spec["class"]](**spec["config"]))
                except ParameterBudgetExceeded as exc:
                    fail(f"layer {i} ({spec['class']}) needs more parameters than the file "
                         f"holds ({budget} values): {exc}")
                except (TypeError, ValueError) as exc:
                    fail(f"layer {i} ({spec['class']}) has invalid settings: {exc}")
            try:
                model = Sequential(layers).build(input_shape)
            except ParameterBudgetExceeded as exc:
                fail(f"its architecture needs more parameters than the file holds ({budget} "
                     f"values): {exc}")
            except (TypeError, ValueError, IndexError) as exc:
                fail(f"its layers do not fit input shape {tuple(input_shape)}: {exc}")
        buffers = {}
        for name, (_, shape, read) in extras.items():  # e.g. BatchNorm's running statistics
            buffers[name] = read()  # at most the bytes the file holds (members are stored)
            if not np.all(np.isfinite(buffers[name])):
                fail(f"{name} holds NaN or infinite values")
        try:
            load_buffer_arrays(model.layers, buffers, path)
        except ValueError as exc:
            fail(str(exc))
        expected = model.parameters()
        if len(params) != len(expected):
            fail(f"holds {len(params)} parameter arrays, its architecture needs {len(expected)}")
        for i, (p, (_, shape, read)) in enumerate(zip(expected, params)):
            if shape != p.shape:
                fail(f"parameter {i} has shape {shape}, expected {p.shape}")
            stored = read()
            if not np.all(np.isfinite(stored)):
                fail(f"parameter {i} ({type(model.layers[_layer_of(model, i)]).__name__}) holds "
                     f"NaN or infinite values")
            p.data = np.array(stored, dtype=np.float32)  # a writable copy, not the file buffer
    return model


def _layer_of(model, index):
    """The index of the layer owning parameter `index`."""
    for i, layer in enumerate(model.layers):
        index -= len(layer.parameters())
        if index < 0:
            return i
    return len(model.layers) - 1
