"""What every model shares, whatever its shape: compile / fit / evaluate / predict, the
parameter and MAC counts, the summary table and the model file.

Sequential (model.py, a list of layers) and Model (graph.py, a graph of layers built with
the functional API) both derive from BaseModel. A subclass provides the forward pass
(__call__), its layers in a fixed order (`layers_in_order`), build(input_shape), and the
rows of its summary and its architecture for the file.

Data is numpy in, numpy out: X (N, ...) features (NCHW for images), y (N,) integer
class labels, (N, classes) one-hot rows, or regression targets.
"""
import math
import sys

import numpy as np

from .. import _rng
from .._files import atomic_write
from ..data.loader import DataLoader, as_features
from ..nn.layer import _default_name
from ..nn.layers import BatchNorm
from ..nn.symbolic import SymbolicTensor
from ..nn.tensor import Tensor, no_grad
from . import loss as losses
from . import metrics as metric_lib
from . import model_file, optimizers
from .callbacks import Callback, History
from .progress import ProgressBar

_OPTIMIZERS = {"adam": optimizers.Adam, "adamw": optimizers.AdamW, "sgd": optimizers.SGD,
               "rmsprop": optimizers.RMSprop}
_LOSSES = {"cross_entropy": losses.CrossEntropy, "sparse_categorical_crossentropy": losses.CrossEntropy,
           "categorical_crossentropy": losses.CrossEntropy,  # one-hot rows: the same loss
           "mse": losses.MSE, "binary_cross_entropy": losses.BinaryCrossEntropy,
           "binary_crossentropy": losses.BinaryCrossEntropy}


def _unpack_loader(X, y, what):
    """(X, y): a DataLoader given as X gives its arrays (then y must be None); otherwise
    X and y as given, and a missing y is refused."""
    if isinstance(X, DataLoader):
        if y is not None or X.y is None:
            raise ValueError(f"{what}: with a DataLoader as X, the targets come from the "
                             f"loader: DataLoader(X, y, ...) and {what}(loader) without y")
        return X.X, X.y
    if y is None and X is not None:
        raise ValueError(f"{what}: y is None; pass the targets, {what}(X, y), or a "
                         f"bb.data.DataLoader(X, y) as X")
    return X, y


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


def table(rows):
    """Left-aligned columns, three spaces apart; returns (formatted rows, total width)."""
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(len(rows[0]))]
    return ["".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows], sum(widths)


class BaseModel:
    """The training loop and bookkeeping shared by Sequential and Model."""

    def __init__(self, name=None):
        self.name = _default_name(type(self)) if name is None else str(name)  # model, model_1, ...
        self.optimizer = self.loss = None
        self.metric_names = []
        self.stop_training = False

    # ------------------------------------------------- what a subclass provides
    def __call__(self, x):
        raise NotImplementedError

    def layers_in_order(self):
        """Each layer once, in the order its parameters and buffers are saved."""
        raise NotImplementedError

    def build(self, input_shape):
        raise NotImplementedError

    def _build_for(self, X):
        """Build for X's sample shape when needed; return one sample's output shape."""
        raise NotImplementedError

    def _record(self, x):
        """Record this model's layers on symbolic x (its sample shape already checked)."""
        raise NotImplementedError

    # ----------------------------------------------- a model used as a layer
    def _call_symbolic(self, x):
        """model(symbolic tensor), as Keras does for transfer learning: this model's layers
        are recorded into the graph being written (inlined, node by node), so the outer
        bb.Model is an ordinary flat graph. They are the same layer objects: their weights
        are shared with this model, and calling it twice shares them too."""
        kind = f"{type(self).__name__} {self.name!r}"
        if isinstance(x, (list, tuple)):
            raise TypeError(f"{kind} takes one input, got a list of {len(x)}")
        if not isinstance(x, SymbolicTensor):
            raise TypeError(f"{kind}: cannot mix symbolic inputs with {type(x).__name__} data")
        expected = self.input_shape
        if expected is None:  # an unbuilt Sequential: built for the symbolic input's shape
            try:
                self.build(x.shape)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"{kind} cannot be built for {x.name!r} {x.shape}: {exc}") from None
        elif tuple(expected) != x.shape:
            raise ValueError(f"{kind} expects input {(None,) + tuple(expected)}, got {x.name!r} "
                             f"of shape {(None,) + x.shape}")
        return self._record(x)

    # --------------------------------------------------------------- common
    def parameters(self):
        """The trainable Tensors, each once even when its layer is used twice."""
        seen, params = set(), []
        for layer in self.layers_in_order():
            for p in layer.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def train(self, mode=True):
        """Training mode (Dropout drops, BatchNorm uses and updates batch statistics), except
        in layers made untrainable, which stay in evaluation mode, as in Keras."""
        for layer in self.layers_in_order():
            layer.training = mode and getattr(layer, "trainable", True)
        return self

    @property
    def trainable(self):
        """False when no layer is trainable. Setting it sets every layer's trainable: a
        frozen base (base.trainable = False) keeps its weights and BatchNorm statistics in
        fit, and runs in evaluation mode there, as in Keras."""
        return any(getattr(layer, "trainable", True) for layer in self.layers_in_order())

    @trainable.setter
    def trainable(self, value):
        for layer in self.layers_in_order():
            layer.trainable = bool(value)

    def trainable_parameters(self):
        """The parameters fit trains: those of layers whose trainable is True."""
        frozen = {id(p) for layer in self.layers_in_order() if not getattr(layer, "trainable", True)
                  for p in layer.parameters()}
        return [p for p in self.parameters() if id(p) not in frozen]

    def eval(self):
        return self.train(False)

    def count_params(self):
        """The number of trainable values (shared layers counted once)."""
        return int(sum(p.size for p in self.parameters()))

    def macs(self):
        """Multiply-accumulates of one sample's forward pass (convolutions and linear layers)."""
        self._require_built("macs()")
        return int(sum(macs for _, _, macs in self._node_costs()))

    def _node_costs(self):
        """(layer, output shape, MACs) for every layer call of the forward pass, in order."""
        raise NotImplementedError

    def _require_built(self, what):
        raise NotImplementedError

    # ---------------------------------------------------------- training
    def compile(self, optimizer="adam", loss="cross_entropy", metrics=None):
        """Choose the optimizer, the loss and the metrics reported by fit and evaluate.

        fit trains model.parameters(), or the subset of them the optimizer was made with
        (params=: the others stay frozen). An optimizer bound to anything else (another
        model's parameters, or this model's before Sequential.add) is bound afresh to this
        model's, with fresh state (momentum, Adam moments), as Keras builds an optimizer for
        each model it trains."""
        self.optimizer = _lookup(optimizer, _OPTIMIZERS, "optimizer")
        self.loss = _lookup(loss, _LOSSES, "loss")
        if not isinstance(self.optimizer, optimizers.Optimizer):
            raise TypeError(f"optimizer must be a braininabox optimizer, got {type(optimizer).__name__}")
        if not isinstance(self.loss, losses.Loss):
            raise TypeError(f"loss must be a braininabox loss, got {type(loss).__name__}; for "
                            f"a loss of your own, subclass bb.loss.Loss and define "
                            f"__call__(self, outputs, targets, class_weight=None) returning a "
                            f"Tensor")
        self.metric_names = list(metrics or [])
        for name in self.metric_names:
            metric_lib.get(name, 2)  # an unknown name fails here, not after an epoch
        if self.metric_names:
            self.loss.predicted_classes(np.zeros((1, 2), dtype=np.float32))  # regression: refused
        return self

    def _require_compiled(self, what):
        if self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before {what}()")

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
        if isinstance(self.loss, losses.BinaryCrossEntropy):
            classes = 2  # each output is a yes/no prediction, however many outputs
        return [metric_lib.get(name, classes) for name in self.metric_names]

    def fit(self, X, y=None, epochs=1, batch_size=32, validation_data=None, validation_split=0.0,
            shuffle=True, class_weight=None, callbacks=None, verbose=1, seed=None, augment=None):
        """Train for `epochs` passes over (X, y); returns a History (history.history[key][epoch],
        with the learning rate of each epoch as "lr").

        X may also be a bb.data.DataLoader(X, y, ...) (then y is None): its batches are used,
        with its batch_size, shuffle, drop_last and augment.
        augment: an ImageAugment (bb.data.ImageAugment(shift=4, flip=True)) applied to each
        training batch (not to validation data); None (the default) trains on X as given."""
        self._require_compiled("fit")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be an integer >= 0 (0 trains nothing), got {epochs!r}")
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"fit: callbacks must be a list of Callback objects, e.g. "
                            f"callbacks=[EarlyStopping()], got {type(callbacks).__name__}")
        if validation_data is not None and not (isinstance(validation_data, (tuple, list))
                                                and len(validation_data) == 2):
            raise ValueError(f"fit: validation_data must be a pair (X_val, y_val), got "
                             f"{type(validation_data).__name__}" +
                             (f" of {len(validation_data)}" if isinstance(
                                 validation_data, (tuple, list)) else ""))
        loader = X if isinstance(X, DataLoader) else None
        X, y = _unpack_loader(X, y, "fit")
        if loader is not None and (validation_split or augment is not None):
            raise ValueError("fit: with a DataLoader, pass validation_data=(X_val, y_val) "
                             "instead of validation_split, and augment to the DataLoader")
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
            if Xv.shape[1:] != X.shape[1:]:
                raise ValueError(f"fit: validation_data has samples of shape {Xv.shape[1:]}, "
                                 f"the training X {X.shape[1:]}")
            yv = _as_targets(validation_data[1], len(Xv), "fit (validation_data)")
            self.loss.check_targets(yv, (len(Xv),) + tuple(out_shape))
        params = self.trainable_parameters()
        if not params:
            raise ValueError("fit: no layer is trainable (every layer's trainable is False)")
        bound = [id(p) for p in self.optimizer.params]
        chosen = (bound and not self.optimizer.bound_by_fit
                  and set(bound) <= {id(p) for p in params})  # the user's subset: the rest frozen
        if bound != [id(p) for p in params] and not chosen:
            self.optimizer.bind(params)  # fresh state: see compile()
            self.optimizer.bound_by_fit = True
        classes = out_shape[-1] if out_shape else 1
        weights = self._class_weight(class_weight, classes)

        history = History()
        callbacks = [history] + list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback objects, got {type(cb).__name__}")
            cb.model = self
        log_keys = {"loss", "lr", *self.metric_names}
        if validation_data is not None:
            log_keys |= {f"val_{k}" for k in log_keys}
        # A monitor or file name that can never be filled fails now, not after an epoch.
        # Callbacks of the user's own may add log keys: then the check waits for the logs.
        if all(type(cb).__module__ == Callback.__module__ for cb in callbacks):
            for cb in callbacks:
                cb.check_logs(sorted(log_keys))
        if loader is None:
            rng_seed = seed if seed is not None else int(_rng.generator().integers(2**63))
            loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, seed=rng_seed,
                                augment=augment)
        self._check_batch_norm_batches(loader)
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

    def _check_batch_norm_batches(self, loader):
        """A BatchNorm with one value per channel and sample (after a Linear) cannot train on
        a batch of one sample: refused now, not at the epoch's last batch after updates."""
        n, size = loader.num_samples, loader.batch_size
        if not (size == 1 or (n % size == 1 and not loader.drop_last)):
            return
        for i, (layer, shape, _) in enumerate(self._node_costs()):
            if isinstance(layer, BatchNorm) and math.prod(shape[1:]) == 1:
                raise ValueError(
                    f"BatchNorm (layer {i}) needs more than one value per channel in training, "
                    f"but with {n} samples and batch_size={size} a batch has one sample: choose "
                    f"another batch_size, or fit(bb.data.DataLoader(X, y, batch_size={size}, "
                    f"shuffle=True, drop_last=True))")

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
        start = self._snapshot()
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
                       if self._diverged(value, first_loss, outputs, yb) else None)
            if problem is None:
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if not all(np.isfinite(p.data).all() for p in params):
                    problem = "a weight became NaN or infinite"
            if problem:
                self._put_back(start)
                self.optimizer.state = {}
                raise FloatingPointError(
                    f"{problem} at epoch {epoch + 1}, batch {step}: training diverged (try a "
                    f"lower learning rate, or check the inputs are scaled); the weights are "
                    f"back to those at the start of epoch {epoch + 1}")
            total_loss += value * len(xb)
            seen += len(xb)
            if metrics:
                predicted = self.loss.predicted_classes(outputs.data)
                true = self.loss.true_classes(yb, outputs.data)
                for m in metrics:
                    m.update(true, predicted)
            logs = {"loss": total_loss / seen, **{m.name: m.result() for m in metrics},
                    "lr": float(self.optimizer.lr)}
            bar.update(step, seen, logs)
            for cb in callbacks:
                cb.on_batch_end(step - 1, logs)
        bar.finish(len(loader), seen, logs)
        return logs

    def _diverged(self, value, first_loss, outputs, targets):
        if abs(value) <= 1e6 * max(abs(first_loss), 1e-3):
            return False
        # A first batch fit almost exactly (loss ~0) is no reference: the loss of all-zero
        # outputs on this batch gives the scale of its data (mean y**2 for MSE, log(classes)).
        with no_grad():
            zero = float(self.loss(Tensor(np.zeros_like(outputs.data)), targets).data)
        return abs(value) > 1e6 * max(abs(first_loss), abs(zero), 1e-3)

    def evaluate(self, X, y=None, batch_size=256, verbose=0):
        """The loss and metrics on (X, y), as a dict {"loss": ..., "accuracy": ...}.
        X may be a bb.data.DataLoader(X, y): every sample of its arrays, in order, without
        its shuffling or augmentation."""
        self._require_compiled("evaluate")
        X, y = _unpack_loader(X, y, "evaluate")
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
                    true = self.loss.true_classes(yb, outputs.data)
                    for m in metrics:
                        m.update(true, predicted)
        results = {"loss": total / len(X), **{m.name: m.result() for m in metrics}}
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in results.items()))
        return results

    def predict(self, X, batch_size=256):
        """Model outputs for X as a numpy array, computed in batches in evaluation mode.
        X may be a bb.data.DataLoader: every sample of its X, in order."""
        if isinstance(X, DataLoader):
            X = X.X
        X = as_features(X, "predict")
        self._build_for(X)
        self.eval()
        with no_grad():
            return np.concatenate([self(Tensor(xb)).data
                                   for xb in DataLoader(X, batch_size=batch_size)])

    # ------------------------------------------------------------- display
    def _summary(self, header_line, columns, rows, print_fn):
        """The table every summary() prints: header line, columns, rows, then the totals."""
        lines, width = table([columns] + rows)
        total = self.count_params()
        trainable = int(sum(p.size for p in self.trainable_parameters()))
        text = "\n".join([header_line, "-" * width, lines[0], "=" * width] + lines[1:] +
                         ["-" * width,
                          f"Total params: {total:,} ({4 * total:,} bytes as float32)"] +
                         ([f"Trainable params: {trainable:,} (the rest frozen: trainable=False)"]
                          if trainable != total else []) +
                         [f"Total MACs: {self.macs():,} (multiply-accumulates per sample)"])
        print_fn(text)
        return text

    def _weight_arrays(self):
        """The model's own arrays, in get_weights order: every parameter (in parameters()
        order), then every layer's buffers (BatchNorm's running statistics), by name."""
        return ([p.data for p in self.parameters()] +
                [array for layer in self.layers_in_order()
                 for _, array in sorted(layer.buffers().items())])

    def get_weights(self):
        """Copies of the model's state as a list of numpy arrays (_weight_arrays' order);
        set_weights takes the same list, e.g. from a twin model."""
        self._require_built("get_weights")
        return [array.copy() for array in self._weight_arrays()]

    def set_weights(self, weights):
        """Put a list from get_weights (of this model or of one with the same layers) into
        the model, in place; refuses a wrong count, shape or non-finite value by position."""
        self._require_built("set_weights")
        own, count = self._weight_arrays(), len(self.parameters())
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"set_weights: the model has {len(own)} weight arrays "
                             f"({count} parameters and the rest buffers), got {len(weights)}")
        arrays = []
        for i, (new, old) in enumerate(zip(weights, own)):
            new = np.asarray(new)
            if new.shape != old.shape:
                raise ValueError(f"set_weights: array {i} has shape {new.shape}, the model's "
                                 f"{old.shape}")
            if new.dtype.kind not in "biuf" or not np.all(np.isfinite(new)):
                raise ValueError(f"set_weights: array {i} must hold finite real numbers")
            arrays.append(new.astype(np.float32))
        buffers, k = [], count
        for layer in self.layers_in_order():
            names = sorted(layer.buffers())
            buffers.append(dict(zip(names, arrays[k:k + len(names)])))
            k += len(names)
        self._put_back((arrays[:count], buffers))

    def _snapshot(self):
        """Copies of every parameter and every layer's buffers (BatchNorm's running
        statistics): the state _put_back restores."""
        return ([p.data.copy() for p in self.parameters()],
                [{name: array.copy() for name, array in layer.buffers().items()}
                 for layer in self.layers_in_order()])

    def _put_back(self, snapshot):
        params, buffers = snapshot
        for p, saved in zip(self.parameters(), params):
            if p.data.shape == saved.shape and p.data.flags.writeable:
                p.data[...] = saved  # in place: views of the weights stay valid
            else:
                p.data = saved.copy()
        for layer, saved in zip(self.layers_in_order(), buffers):
            for name, array in saved.items():
                getattr(layer, name)[...] = array

    # ---------------------------------------------------------------- saving
    def _write(self, path, header):
        """header (a JSON-able dict), every parameter ("param_<i>") and every layer's
        buffers ("buffer_<layer index>_<name>"), atomically, in one npz file."""
        arrays = {f"param_{i}": p.data for i, p in enumerate(self.parameters())}
        for i, layer in enumerate(self.layers_in_order()):
            for name, array in layer.buffers().items():
                arrays[f"buffer_{i}_{name}"] = array
        data = model_file.encode(header, arrays)  # with a SHA-256 of every byte
        with atomic_write(path, "wb") as f:
            f.write(data)
        return path

    def _restore(self, path, arrays):
        """Put the arrays of a model file into this freshly built model; refuses missing,
        extra or misshapen entries."""
        params = self.parameters()
        stored = [k for k in arrays if k.startswith("param_")]
        if len(stored) != len(params):
            raise ValueError(f"{path} holds {len(stored)} parameter arrays, its architecture "
                             f"needs {len(params)}")
        for i, p in enumerate(params):
            array = arrays[f"param_{i}"]
            if array.shape != p.shape:
                raise ValueError(f"{path}: parameter {i} has shape {array.shape}, expected {p.shape}")
            p.data = np.ascontiguousarray(array, dtype=np.float32)
        used = set(stored)
        for i, layer in enumerate(self.layers_in_order()):
            prefix = f"buffer_{i}_"
            mine = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            if mine or layer.buffers():
                layer.load_buffers(mine, f"{path}: layer {i}")
            used.update(prefix + name for name in mine)
        extra = sorted(set(arrays) - used)
        if extra:
            raise ValueError(f"{path} holds arrays {extra} that its architecture has no place for")
        return self
