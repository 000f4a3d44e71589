"""Callbacks hook into a model's fit (Sequential or Model): History, EarlyStopping,
ModelCheckpoint and LearningRateScheduler."""
import inspect
import math
import string


class Callback:
    model = None

    def check_logs(self, keys):
        """Called by fit before training with the keys fit itself logs every epoch (other
        callbacks may add more): raise here for a monitor or file name that could never be
        filled, instead of after the first epoch."""

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """Per-epoch lists of every logged value: history.history["val_loss"][epoch]."""

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _better(mode, monitor):
    if mode == "auto":
        mode = "max" if any(w in monitor for w in ("acc", "precision", "recall")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return (lambda new, best, delta: new < best - delta) if mode == "min" else \
        (lambda new, best, delta: new > best + delta)


def _never_logged(names, keys):
    """The validation values among names when fit has no validation data (other names may
    still come from other callbacks' logs, so only these are certain to be missing)."""
    if any(k.startswith("val_") for k in keys):
        return []
    return sorted(n for n in names if n.startswith("val_"))


def _check_monitor(monitor, keys, who):
    if _never_logged([monitor], keys):
        raise ValueError(f"{who} monitors {monitor!r}, but fit has no validation data (it "
                         f"logs {keys}): pass validation_data or validation_split to fit")


def _monitored(logs, monitor, who):
    if monitor not in (logs or {}):
        raise KeyError(f"{who} monitors {monitor!r}, but the logs only have {sorted(logs or {})}"
                       + (" (pass validation_data or validation_split to fit)"
                          if monitor.startswith("val_") else ""))
    return logs[monitor]


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by min_delta for `patience` epochs."""

    def __init__(self, monitor="val_loss", patience=0, min_delta=0.0, mode="auto",
                 restore_best_weights=False):
        self.monitor, self.patience, self.min_delta = monitor, patience, abs(min_delta)
        self.improved = _better(mode, monitor)
        self.restore_best_weights = restore_best_weights

    def check_logs(self, keys):
        _check_monitor(self.monitor, keys, "EarlyStopping")

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.best_weights, self.stopped_epoch = None, 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self.best is None or self.improved(value, self.best, self.min_delta):
            self.best, self.wait = value, 0
            if self.restore_best_weights:  # the weights and the BatchNorm statistics
                self.best_weights = self.model._snapshot()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.model.stop_training = True
            self.stopped_epoch = epoch

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model._put_back(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model after each epoch (or only when `monitor` improves) to filepath.

    filepath may contain {epoch} and any logged value, e.g. "ckpt-{epoch:02d}-{val_loss:.3f}.bb".
    """

    def __init__(self, filepath, monitor="val_loss", save_best_only=False, mode="auto"):
        self.filepath, self.monitor, self.save_best_only = str(filepath), monitor, save_best_only
        self.improved = _better(mode, monitor)
        self.best = None

    def check_logs(self, keys):
        if self.save_best_only:
            _check_monitor(self.monitor, keys, "ModelCheckpoint")
        fields = {name.split(".")[0].split("[")[0]
                  for _, name, _, _ in string.Formatter().parse(self.filepath) if name}
        missing = _never_logged(fields, keys)
        if missing:
            raise ValueError(f"ModelCheckpoint file name {self.filepath!r} uses {missing}, but "
                             f"fit has no validation data (it logs {keys}): pass "
                             f"validation_data or validation_split to fit")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not math.isfinite(value) or (self.best is not None
                                            and not self.improved(value, self.best, 0.0)):
                return
            self.best = value
        self.model.save(self.filepath.format(epoch=epoch + 1, **logs))



class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of every epoch to schedule(epoch)
    (0-based), or schedule(epoch, lr) when the function takes two arguments (Keras's form);
    e.g. bb.optimizers.schedules.CosineDecay(0.01, decay_steps=epochs). fit shows the rate
    in the progress line and records it in History as "lr"."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler needs a function of the epoch, got "
                            f"{type(schedule).__name__}")
        self.schedule, self.verbose = schedule, verbose
        self._takes_lr = _positional_count(schedule) >= 2

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise RuntimeError("LearningRateScheduler: the model has no optimizer (compile it first)")
        lr = self.schedule(epoch, optimizer.lr) if self._takes_lr else self.schedule(epoch)
        try:
            lr = float(lr)
        except (TypeError, ValueError):
            raise TypeError(f"LearningRateScheduler: the schedule returned {lr!r} for epoch "
                            f"{epoch}, not a number") from None
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr} for epoch {epoch}; "
                             f"a learning rate must be finite and >= 0")
        optimizer.lr = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")


def _positional_count(fn):
    """How many positional arguments fn accepts (2 for a vararg function)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
