"""Credit-card fraud detection: an MLP on imbalanced data, judged honestly.

    python examples/train_fraud.py                        # creditcard_sample.csv
    python examples/train_fraud.py --imbalance 0.02       # frauds subsampled to 2 % of rows
    python examples/train_fraud.py --predict 0            # classify row 0 of the data file
    python examples/train_fraud.py --data creditcard.csv --save fraud.bb

What it teaches:

* why accuracy lies on imbalanced data: a "model" that always answers
  "legit" is printed first, with its high accuracy and its recall of 0;
* preparing tabular data without leaks: duplicate rows are removed BEFORE
  the split (else the same transaction can be in training and test), the
  split train / validation / test (60/20/20) is stratified (each part keeps
  the fraud rate) and seeded, Amount goes through log1p (its range spans
  five orders of magnitude), every feature is standardized with the mean
  and standard deviation of the train + validation rows (never the test
  rows), then passed through arcsinh (about linear within +-1 std,
  logarithmic beyond: frauds reach 20-40 std on some V columns);
* cross-validation instead of one small validation set (--folds, default
  5): the train + validation rows (80 %) are cut into 5 stratified folds and
  5 MLPs of the same shape are trained, each on 4 folds; every one of those
  rows then has an out-of-fold probability from the model that did not see
  it, so the threshold is chosen on 1,362 rows instead of 340, and the test
  rows are scored by the mean probability of the 5 MLPs (an ensemble);
  --folds 1 trains a single MLP on the 60 % and validates on the 20 %;
* handling the imbalance (--balance): class weights, the default, passed
  as fit(class_weight={0: w0, 1: w1}) with w_c = n / (2 n_c), so both classes
  weigh the same in the loss; or BinaryCrossEntropy(pos_weight=n0/n1); or
  resampling (the training frauds repeated until the classes are even);
  the program says which it uses;
* an MLP 30 -> 16 -> 16 -> 1 with ReLU, one logit out, trained with
  braininabox's Sequential and binary cross-entropy from logits;
* the metrics that matter, printed for every epoch on the out-of-fold
  predictions (recorded by a callback): accuracy, precision, recall, F1, PR-AUC (average
  precision, computed here in numpy: the area under the precision-recall
  curve, which does not depend on a threshold) and the confusion matrix;
* choosing the decision threshold on validation data, never on the test
  rows: by default the lowest threshold whose precision is >= 0.90 (that is,
  the best recall at that precision); --threshold-rule f1 takes the maximum
  F1 instead. The held-out test rows are then scored once, at that threshold.

Data: the Kaggle / ULB credit-card format (Time, V1..V28, Amount, Class; a
leading unnamed index column is tolerated). --data defaults to
creditcard_sample.csv found by braininabox.datasets.find_data_file
($BB_DATA_DIR, then ~/.cache/braininabox/data/).

Figures (defaults, seed 0; 1,703 distinct rows after removing 19 duplicates;
test = 20 % held out, threshold chosen on the out-of-fold 80 %; about 4 s):

  sample (27.8 % fraud), test 341 rows (95 frauds): precision 0.892,
      recall 0.874, F1 0.883, PR-AUC 0.954, threshold 0.455
  --imbalance 0.02 (25 frauds in 1,255 rows), test 251 rows (5 frauds):
      precision 1.000, recall 0.800, F1 0.889, PR-AUC 0.863, threshold 0.431

The goal "recall >= 0.90 at precision >= 0.90" is at the edge of what this
sample allows and is NOT met reliably: over seeds 0-9 the sample run
averages precision 0.934 (min 0.892), recall 0.899 (min 0.874), PR-AUC 0.970,
and meets it for 4 seeds of 10 (4, 7, 8, 9); seeds 10-19 average 0.941 /
0.923 and meet it for 8 of 10 (12 of 20 in all); --folds 1 (the former
single MLP, now with arcsinh) averages 0.903 / 0.903, also 4 of 10. Even the
best threshold read off the TEST rows (cheating) leaves recall below 0.90 at
precision 0.90 for 2 seeds of 10 (seed 0: 0.874, seed 1: 0.895): some frauds
score like legit rows. Logistic regression, gradient-boosted trees, an RBF
SVM and random forests on the same splits do no better (their out-of-fold
recall at precision 0.90 is 0.92 too, and they mostly miss the same frauds), and
neither did longer or shorter training, weight decay, lr 0.001, batch 64,
Time as hour-of-day, no class weights, 3x repeated CV or a precision =
recall threshold rule: at an operating point of about 0.92 / 0.92, 95 test
frauds and 246 legit test rows, sampling noise alone fails 0.90 / 0.90 on
about 4 splits of 10. One test fraud is 1 % of recall there, and 20 % in
the 2 % run (mean precision 0.942, recall 0.840 over seeds 0-9): its
figures are that noisy.
"""
import argparse
import csv
import json
import os
import sys

import numpy as np

import braininabox as bb
from braininabox.data.datasets import DatasetNotFoundError, find_data_file

PROG = "train_fraud.py"
DATA_FILE = "creditcard_sample.csv"
FEATURES = ["Time"] + [f"V{i}" for i in range(1, 29)] + ["Amount"]
LABEL = "Class"
AMOUNT = FEATURES.index("Amount")


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ------------------------------------------------------------------ metrics

def sigmoid(z):
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -z))


def confusion(y, predicted):
    """[[TN, FP], [FN, TP]]: rows are the true class, columns the predicted one."""
    y, predicted = np.asarray(y, dtype=int), np.asarray(predicted, dtype=int)
    return np.array([[np.sum((y == 0) & (predicted == 0)), np.sum((y == 0) & (predicted == 1))],
                     [np.sum((y == 1) & (predicted == 0)), np.sum((y == 1) & (predicted == 1))]])


def scores_from_confusion(cm):
    """accuracy, precision, recall, F1 of the positive class (0 where undefined)."""
    (tn, fp), (fn, tp) = cm
    total = tn + fp + fn + tp
    accuracy = (tp + tn) / total if total else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(accuracy), float(precision), float(recall), float(f1)


def precision_recall_curve(y, scores):
    """Precision and recall at every distinct threshold, from the highest score down.

    Returns (thresholds, precision, recall): predicting "fraud" when score >=
    thresholds[i] gives precision[i] and recall[i]. Tied scores move together.
    """
    y = np.asarray(y, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    scores, y = scores[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # end of each tie group
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    positives = y.sum()
    precision = tp / (tp + fp)
    recall = tp / positives if positives else np.zeros_like(tp, dtype=np.float64)
    return scores[last], precision, recall


def average_precision(y, scores):
    """PR-AUC as average precision: sum over thresholds of (R_k - R_{k-1}) * P_k.

    The same step-wise area as scikit-learn's average_precision_score (no
    interpolation). NaN when y has no positives.
    """
    y = np.asarray(y)
    if len(y) == 0 or not np.any(y == 1):
        return float("nan")
    _, precision, recall = precision_recall_curve(y, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def choose_threshold(y, probs, rule="precision", min_precision=0.90):
    """The decision threshold from validation data (predict fraud when p >= threshold).

    rule "precision": the lowest threshold whose precision is >= min_precision
    (the best recall at that precision); when none reaches it, the maximum-F1
    threshold. rule "f1": the threshold with the highest F1.
    Returns (threshold, how it was chosen).
    """
    thresholds, precision, recall = precision_recall_curve(y, probs)
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros_like(precision), where=precision + recall > 0)
    if rule == "precision":
        ok = np.flatnonzero(precision >= min_precision)
        if len(ok):
            i = ok[-1]  # thresholds run from high to low: the last one is the lowest
            note = f"lowest threshold with validation precision >= {min_precision:.2f}"
        else:
            i = int(np.argmax(f1))
            note = f"no threshold reaches precision {min_precision:.2f}: took the max-F1 one"
    else:
        i, note = int(np.argmax(f1)), "maximum validation F1"
    # Halfway down to the next lower validation score: the same validation predictions,
    # with a margin instead of sitting exactly on the last fraud caught.
    below = thresholds[i + 1] if i + 1 < len(thresholds) else 0.0
    return float((thresholds[i] + below) / 2), note


def format_confusion(cm, indent="    "):
    (tn, fp), (fn, tp) = cm
    width = max(len(str(v)) for v in (tn, fp, fn, tp)) + 1
    return (f"{indent}{'':13}{'pred legit':>{max(width, 10)}} {'pred fraud':>{max(width, 10)}}\n"
            f"{indent}{'true legit':13}{tn:>{max(width, 10)}} {fp:>{max(width, 10)}}\n"
            f"{indent}{'true fraud':13}{fn:>{max(width, 10)}} {tp:>{max(width, 10)}}")


# --------------------------------------------------------------------- data

def load_transactions(path):
    """Read a Kaggle-format CSV: returns (X (n, 30) float64 raw features, y (n,) int)."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise UsageError(f"{path} is empty") from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise UsageError(f"{path} is not a readable CSV file ({e})") from None
        names = [h.strip().strip('"') for h in header]
        missing = [c for c in FEATURES + [LABEL] if c not in names]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise UsageError(f"{path}: wrong columns: missing {shown} (expected the Kaggle credit-card "
                             f"format: Time, V1..V28, Amount, Class)")
        extra = [n for n in names if n not in FEATURES + [LABEL]]
        if [n for n in extra if n not in ("", "Unnamed: 0", "index", "id")] or len(extra) > 1 \
                or (extra and names.index(extra[0]) != 0):
            raise UsageError(f"{path}: unexpected columns {extra}: only a leading index column may "
                             f"come besides Time, V1..V28, Amount, Class")
        columns = [names.index(c) for c in FEATURES + [LABEL]]
        rows = []
        try:
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(names):
                    raise UsageError(f"{path}, line {line}: {len(row)} fields, the header has {len(names)}")
                try:
                    rows.append([float(row[c]) for c in columns])
                except ValueError:
                    bad = next(row[c] for c in columns if not _is_number(row[c]))
                    raise UsageError(f"{path}, line {line}: {bad!r} is not a number") from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise UsageError(f"{path} is not a readable CSV file ({e})") from None
    if not rows:
        raise UsageError(f"{path} has a header but no rows")
    data = np.array(rows, dtype=np.float64)
    if not np.all(np.isfinite(data)):
        line = int(np.argwhere(~np.isfinite(data))[0][0]) + 2
        raise UsageError(f"{path}: a NaN or infinite value near line {line}")
    labels = data[:, -1]
    if not np.all((labels == 0) | (labels == 1)):
        raise UsageError(f"{path}: Class must be 0 (legit) or 1 (fraud), found "
                         f"{sorted(set(labels[(labels != 0) & (labels != 1)].tolist()))[:3]}")
    return data[:, :-1], labels.astype(np.int64)


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def deduplicate(X, y):
    """Keep the first of identical transactions (same 30 values); returns kept row indices."""
    _, first = np.unique(X, axis=0, return_index=True)
    keep = np.sort(first)
    return keep


def subsample_frauds(y, fraction, rng):
    """Row indices keeping every legit row and enough frauds to make `fraction` of the rows."""
    legit, fraud = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    wanted = int(round(fraction * len(legit) / (1 - fraction)))
    if wanted < 3:
        raise UsageError(f"--imbalance {fraction:g} leaves {wanted} frauds among {len(legit)} legit "
                         f"rows: too few to split into train, validation and test")
    if wanted > len(fraud):
        raise UsageError(f"--imbalance {fraction:g} needs {wanted} frauds, the data has "
                         f"{len(fraud)} (its fraud rate is already {len(fraud) / len(y):.1%})")
    chosen = rng.choice(fraud, size=wanted, replace=False)
    return np.sort(np.r_[legit, chosen])


def stratified_split(y, fractions, rng):
    """Index arrays (one per fraction), each with about the same share of every class."""
    parts = [[] for _ in fractions]
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        cuts = np.round(np.cumsum(fractions)[:-1] * len(idx)).astype(int)
        for part, chunk in zip(parts, np.split(idx, cuts)):
            part.extend(chunk.tolist())
    return [np.sort(np.array(p, dtype=np.int64)) for p in parts]


class Scaler:
    """log1p on Amount, (x - mean) / std with the fitting rows' statistics, then arcsinh.

    arcsinh is about linear within +-1 std and logarithmic beyond: V1..V28 have very heavy
    tails (frauds reach 20-40 std), which otherwise dominate the first layer's inputs.
    """

    def fit(self, X):
        Z = self._log(X)
        self.mean = Z.mean(axis=0)
        self.std = Z.std(axis=0)
        self.std[self.std == 0] = 1.0
        return self

    @staticmethod
    def _log(X):
        Z = np.array(X, dtype=np.float64)
        Z[:, AMOUNT] = np.log1p(np.maximum(Z[:, AMOUNT], 0.0))
        return Z

    def transform(self, X):
        return np.arcsinh((self._log(X) - self.mean) / self.std).astype(np.float32)


# ---------------------------------------------------------------- training

def build_model():
    return bb.Sequential([bb.layers.Linear(16), bb.layers.ReLU(),
                          bb.layers.Linear(16), bb.layers.ReLU(),
                          bb.layers.Linear(1)])


def predict_proba(models, X):
    """Probability of fraud: the mean of the models' sigmoid outputs (one model or a list)."""
    models = models if isinstance(models, (list, tuple)) else [models]
    return np.mean([sigmoid(m.predict(X)[:, 0]) for m in models], axis=0)


class FoldPredictions(bb.callbacks.Callback):
    """Keeps, after every epoch, the model's probabilities on its held-out rows and the loss."""

    def __init__(self, X):
        self.X, self.probs, self.losses = X, [], []

    def on_epoch_end(self, epoch, logs=None):
        self.probs.append(predict_proba(self.model, self.X))
        self.losses.append(logs["loss"])


def make_folds(y, k, rng):
    """k stratified folds of the rows of y: a list of (train indices, held-out indices)."""
    parts = stratified_split(y, [1.0 / k] * k, rng)
    everything = np.arange(len(y))
    return [(np.setdiff1d(everything, part), part) for part in parts]


def train(X, y, folds, args):
    """One MLP per fold, each trained on the other rows and scored on its held-out fold.

    Returns (models, p_oof): p_oof[i] is the probability given to row i by the model that
    did not see it (rows held out by no fold stay NaN). Prints, per epoch, the metrics
    of those out-of-fold predictions at p >= 0.5.
    """
    bb.seed(args.seed)
    models, records, how = [], [], None
    for j, (fit_rows, _) in enumerate(folds):
        y_fit = y[fit_rows]
        n, n1 = len(y_fit), int(y_fit.sum())
        n0 = n - n1
        X_fit = X[fit_rows]
        class_weight, pos_weight = None, None
        if args.balance == "weights":
            class_weight = {0: n / (2 * n0), 1: n / (2 * n1)}
            how = (f"class weights in the loss: fit(class_weight={{0: {class_weight[0]:.3f}, "
                   f"1: {class_weight[1]:.3f}}}) (n / (2 * n_class))")
        elif args.balance == "pos_weight":
            pos_weight = n0 / n1
            how = f"BinaryCrossEntropy(pos_weight={pos_weight:.3f}) (legit / fraud count)"
        elif args.balance == "resample":
            rng = np.random.default_rng(args.seed * 1000 + j)
            frauds = np.flatnonzero(y_fit == 1)
            extra = rng.choice(frauds, size=n0 - n1, replace=True) if n0 > n1 else np.array([], int)
            order = np.r_[np.arange(n), extra]
            X_fit, y_fit = X_fit[order], y_fit[order]
            how = (f"resampling: the {n1} training frauds drawn with replacement up to {n0}, "
                   f"as many as the legit rows ({len(y_fit)} training rows)")
        else:
            how = "nothing (--balance none): the loss sees the classes as they come"
        if j == 0:
            print(f"Imbalance handling{' (first model; the others alike)' if len(folds) > 1 else ''}"
                  f": {how}")
            print(f"Model: {'an ensemble of ' + str(len(folds)) + ' MLPs' if len(folds) > 1 else 'an MLP'}"
                  f" 30 -> 16 -> 16 -> 1 (ReLU), each with its own random initialization; "
                  f"Adam lr={args.lr:g}, batch {args.batch_size}, {args.epochs} epochs")
        model = build_model()
        model.compile(optimizer=bb.optimizers.Adam(lr=args.lr, weight_decay=args.weight_decay),
                      loss=bb.loss.BinaryCrossEntropy(from_logits=True, pos_weight=pos_weight))
        record = FoldPredictions(X[folds[j][1]])
        model.fit(X_fit, y_fit.astype(np.float32), epochs=args.epochs, batch_size=args.batch_size,
                  class_weight=class_weight, callbacks=[record], verbose=0,
                  seed=args.seed * 1000 + j)
        models.append(model)
        records.append(record)

    held = np.concatenate([part for _, part in folds])
    what = ("out-of-fold (each row scored by the model that did not train on it)"
            if len(folds) > 1 else "validation")
    print(f"Per epoch, {what} metrics on {len(held)} rows at p >= 0.5:")
    for epoch in range(args.epochs):
        probs = np.concatenate([r.probs[epoch] for r in records])
        loss = float(np.mean([r.losses[epoch] for r in records]))
        cm = confusion(y[held], probs >= 0.5)
        acc, prec, rec, f1 = scores_from_confusion(cm)
        ap = average_precision(y[held], probs)
        (tn, fp), (fn, tp) = cm
        print(f"epoch {epoch + 1:>3}/{args.epochs}  loss {loss:.4f}  "
              f"val accuracy {acc:.3f} precision {prec:.3f} recall {rec:.3f} F1 {f1:.3f} "
              f"PR-AUC {ap:.3f}  confusion [[TN {tn} FP {fp}] [FN {fn} TP {tp}]]")
    p_oof = np.full(len(y), np.nan)
    p_oof[held] = np.concatenate([r.probs[-1] for r in records])
    return models, p_oof


# ------------------------------------------------------------------- main

def parse_predict(text, n_rows):
    """--predict: a row index into the data file, or 30 comma-separated values."""
    text = text.strip()
    if "," not in text:
        try:
            row = int(text)
        except ValueError:
            raise UsageError(f"--predict takes a row index or {len(FEATURES)} comma-separated "
                             f"values, got {text!r}") from None
        if not 0 <= row < n_rows:
            raise UsageError(f"--predict row {row} is outside the data file (rows 0..{n_rows - 1})")
        return row, None
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(FEATURES):
        raise UsageError(f"--predict needs {len(FEATURES)} values (Time, V1..V28, Amount), "
                         f"got {len(parts)}")
    try:
        values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise UsageError(f"--predict: {bad!r} is not a number") from None
    if not np.all(np.isfinite(values)):
        raise UsageError("--predict values must be finite")
    return None, values


def join_values(argv):
    """`--predict -1.5,...` becomes `--predict=-1.5,...` (argparse would take it for an option)."""
    argv, out, i = list(argv), [], 0
    while i < len(argv):
        if argv[i] == "--predict" and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"--predict={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def load_saved(path):
    """The models and preprocessing written by --save: PATH (or PATH.json) -> (models,
    scaler, threshold, the model files). Every field is checked; one UsageError otherwise."""
    side = path if path.endswith(".json") else path + ".json"
    if not os.path.isfile(side):
        raise UsageError(f"--model {path}: no {side} next to it (the means, stds, threshold and "
                         f"model files that --save writes); train with --save {path}")
    try:
        with open(side, encoding="utf-8") as f:
            saved = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"{side} is not a train_fraud.py model description ({e})") from None

    def bad(what):
        return UsageError(f"{side} is not a valid train_fraud.py model description: {what}")

    if not isinstance(saved, dict) or saved.get("features") != FEATURES:
        raise bad(f"its features are not the {len(FEATURES)} columns Time, V1..V28, Amount")
    stats = []
    for key in ("mean", "std"):
        v = saved.get(key)
        if not (isinstance(v, list) and len(v) == len(FEATURES)
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                and np.all(np.isfinite(v))):
            raise bad(f"'{key}' is not a list of {len(FEATURES)} finite numbers")
        stats.append(np.array(v, dtype=np.float64))
    if np.any(stats[1] <= 0):
        raise bad("a 'std' is not positive")
    threshold = saved.get("threshold")
    if not (isinstance(threshold, (int, float)) and 0 < threshold < 1):
        raise bad("'threshold' is not a number between 0 and 1")
    names = saved.get("models")
    if not (isinstance(names, list) and names and all(
            isinstance(n, str) and n and os.path.basename(n) == n for n in names)):
        raise bad("'models' is not a list of file names")
    folder = os.path.dirname(os.path.abspath(side))
    models = []
    for name in names:
        file = os.path.join(folder, name)
        if not os.path.isfile(file):
            raise UsageError(f"{side} lists the model {name}, but {file} does not exist")
        try:
            model = bb.load(file)
        except Exception as e:     # bb.load's message names the problem
            reason = "it holds pickled objects" if "pickle" in str(e) else str(e)
            raise UsageError(f"{file} is not a readable braininabox model ({reason})") from None
        if tuple(model.input_shape or ()) != (len(FEATURES),):
            raise UsageError(f"{file} takes inputs of shape {model.input_shape}, not the "
                             f"{len(FEATURES)} transaction values")
        models.append(model)
    scaler = Scaler()
    scaler.mean, scaler.std = stats
    return models, scaler, float(threshold), [os.path.join(folder, n) for n in names]


def score_saved(args):
    """--model: score one transaction with the saved models, no training."""
    if args.predict is None:
        raise UsageError("--model scores a transaction: give --predict ROW or the 30 values "
                         "Time,V1..V28,Amount")
    if args.save:
        raise UsageError("--model uses a saved model and --save writes a new one; give one")
    models, scaler, threshold, files = load_saved(args.model)
    if "," in args.predict:
        _, values = parse_predict(args.predict, 0)
        label = "the given transaction"
    else:
        if args.data is None:
            path = find_data_file(DATA_FILE, hint="--predict ROW reads that row of the data "
                                                  "file; pass --data PATH or the 30 values.")
        else:
            path = find_data_file(os.path.basename(args.data) or DATA_FILE, args.data)
        X_raw, y_raw = load_transactions(path)
        row, _ = parse_predict(args.predict, len(y_raw))
        values = X_raw[row]
        label = f"row {row} of {path} (true class: {'fraud' if y_raw[row] else 'legit'})"
    p = float(predict_proba(models, scaler.transform(values[None, :]))[0])
    verdict = "FRAUD" if p >= threshold else "LEGIT"
    what = (f"the mean of {len(models)} saved MLPs" if len(models) > 1 else "the saved MLP")
    print(f"Model: {', '.join(files)} ({what}; preprocessing and threshold from "
          f"{args.model if args.model.endswith('.json') else args.model + '.json'})")
    print(f"Transaction {label}: Time {values[0]:g}, Amount {values[AMOUNT]:.2f}")
    print(f"Probability of fraud: {p:.4f} ({verdict} at threshold {threshold:.4f})")
    return 0


def run(args):
    if args.model is not None:
        return score_saved(args)
    if args.data is None:
        path = find_data_file(DATA_FILE, hint="It is the Kaggle/ULB credit-card data (or a sample "
                                             "of it); pass --data PATH.")
    else:
        path = find_data_file(os.path.basename(args.data) or DATA_FILE, args.data)
    X_raw, y_raw = load_transactions(path)
    predict_row, predict_values = (parse_predict(args.predict, len(y_raw))
                                   if args.predict is not None else (None, None))
    print(f"Data: {path}: {len(y_raw):,} rows, {int(y_raw.sum()):,} frauds "
          f"({y_raw.mean():.1%})")

    rng = np.random.default_rng(args.seed)
    keep = deduplicate(X_raw, y_raw)
    print(f"Removed {len(y_raw) - len(keep)} duplicate rows before splitting "
          f"(so no transaction is in both training and test): {len(keep):,} left")
    if args.imbalance is not None:
        sub = subsample_frauds(y_raw[keep], args.imbalance, rng)
        keep = keep[sub]
        print(f"--imbalance {args.imbalance:g}: kept every legit row and "
              f"{int(y_raw[keep].sum())} frauds chosen at random: {len(keep):,} rows, "
              f"{y_raw[keep].mean():.1%} fraud")
    X, y = X_raw[keep], y_raw[keep]
    if y.sum() < 3 or (y == 0).sum() < 3:
        raise UsageError("the data needs at least 3 frauds and 3 legit rows to split")
    tr, va, te = stratified_split(y, (0.6, 0.2, 0.2), rng)
    print(f"Stratified split (seed {args.seed}): train {len(tr)} ({int(y[tr].sum())} frauds), "
          f"validation {len(va)} ({int(y[va].sum())}), test {len(te)} ({int(y[te].sum())})")
    dev = np.sort(np.r_[tr, va])  # every row but the test ones
    k = min(args.folds, int(y[dev].sum()), int((y[dev] == 0).sum()))
    if k >= 2:
        folds = make_folds(y[dev], k, rng)
        print(f"Cross-validation: the {len(dev)} train + validation rows split into {k} "
              f"stratified folds; {k} MLPs, each trained on {k - 1} folds and scored on the "
              f"one it did not see" + (f" (--folds {args.folds} lowered to {k}: only "
                                       f"{int(y[dev].sum())} frauds)" if k < args.folds else ""))
    else:
        folds = [(np.searchsorted(dev, tr), np.searchsorted(dev, va))]
        print("One MLP trained on the train rows, scored on the validation rows (--folds 1)")
    scaler = Scaler().fit(X[dev])
    Xdev, Xte = scaler.transform(X[dev]), scaler.transform(X[te])
    print("Features: log1p(Amount), standardized with the mean and std of the train + validation "
          "rows (never the test rows), then arcsinh to tame the heavy tails")

    baseline = confusion(y[te], np.zeros(len(te)))
    b_acc, _, b_rec, _ = scores_from_confusion(baseline)
    print(f"\nBaseline that always says \"legit\" (test rows): accuracy {b_acc:.3f}, "
          f"recall {b_rec:.3f}: it catches no fraud at all; accuracy alone lies on "
          f"imbalanced data\n")

    models, p_oof = train(Xdev, y[dev], folds, args)

    scored = ~np.isnan(p_oof)
    y_val, p_val = y[dev][scored], p_oof[scored]
    threshold, how = choose_threshold(y_val, p_val, args.threshold_rule, args.min_precision)
    _, v_prec, v_rec, v_f1 = scores_from_confusion(confusion(y_val, p_val >= threshold))
    source = f"{len(y_val)} out-of-fold rows" if len(models) > 1 else f"{len(y_val)} rows"
    print(f"\nThreshold chosen on validation ({source}): {threshold:.4f} ({how}): validation "
          f"precision {v_prec:.3f}, recall {v_rec:.3f}, F1 {v_f1:.3f}")

    p_test = predict_proba(models, Xte)
    cm = confusion(y[te], p_test >= threshold)
    acc, prec, rec, f1 = scores_from_confusion(cm)
    ap = average_precision(y[te], p_test)
    scorer = (f"the mean probability of the ensemble of {len(models)} MLPs 30 -> 16 -> 16 -> 1"
              if len(models) > 1 else "the MLP")
    print(f"\nHeld-out test ({len(te)} rows, {int(y[te].sum())} frauds) at threshold {threshold:.4f}, "
          f"scored by {scorer}:")
    print(f"  accuracy {acc:.3f}  precision {prec:.3f}  recall {rec:.3f}  F1 {f1:.3f}  PR-AUC {ap:.3f}")
    print("  confusion matrix:")
    print(format_confusion(cm))
    goal = rec >= 0.90 and prec >= 0.90
    print(f"  target recall >= 0.90 at precision >= 0.90: {'met' if goal else 'not met'}")

    if args.save:
        root, ext = os.path.splitext(args.save)
        paths = [args.save] + [f"{root}-{j + 1}{ext}" for j in range(1, len(models))]
        for model, path in zip(models, paths):
            model.save(path)
        side = args.save + ".json"
        with open(side, "w", encoding="utf-8") as f:
            json.dump({"features": FEATURES, "log1p": ["Amount"], "mean": scaler.mean.tolist(),
                       "std": scaler.std.tolist(), "then": "arcsinh",
                       "models": [os.path.basename(q) for q in paths],
                       "probability": "mean of sigmoid(model output) over the models",
                       "threshold": threshold}, f, indent=1)
        print(f"\nSaved the model{'s' if len(paths) > 1 else ''} to {', '.join(paths)} (bb.load reads "
              f"each) and the preprocessing (means, stds, arcsinh, threshold) to {side}")

    if args.predict is not None:
        if predict_row is not None:
            values, truth = X_raw[predict_row], int(y_raw[predict_row])
            where = "not used (a duplicate or left out)"
            pos = np.flatnonzero(keep == predict_row)
            if len(pos):
                i = pos[0]
                where = ("test" if i in set(te.tolist()) else
                         "train + validation" if len(models) > 1 else
                         "training" if i in set(tr.tolist()) else "validation")
                where = f"in the {where} rows"
            label = f"row {predict_row} (true class: {'fraud' if truth else 'legit'}; {where})"
        else:
            values, label = predict_values, "the given transaction"
        p = float(predict_proba(models, scaler.transform(values[None, :]))[0])
        verdict = "FRAUD" if p >= threshold else "LEGIT"
        print(f"\nTransaction {label}: Time {values[0]:g}, Amount {values[AMOUNT]:.2f}")
        print(f"Probability of fraud: {p:.4f} ({verdict} at threshold {threshold:.4f})")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train MLPs (30 -> 16 -> 16 -> 1, ReLU; a 5-fold ensemble by default) to detect credit-card fraud in the "
                    "Kaggle/ULB format (Time, V1..V28, Amount, Class; a leading index column is "
                    "fine), showing why accuracy misleads on imbalanced data, handling the "
                    "imbalance, and choosing the decision threshold on validation data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""figures (seed 0, defaults, creditcard_sample.csv: 1,703 distinct rows):
  sample, 27.8%% fraud:   test precision 0.892, recall 0.874, F1 0.883,
                         PR-AUC 0.954, threshold 0.455
  --imbalance 0.02:      test precision 1.000, recall 0.800, F1 0.889,
                         PR-AUC 0.863, threshold 0.431  (5 test frauds: noisy)
  seeds 0-9, sample:     mean precision 0.934, recall 0.899; recall and
                         precision both >= 0.90 for 4 of the 10 seeds

examples:
  python examples/%(prog)s --predict 0
  python examples/%(prog)s --imbalance 0.02 --balance resample
  python examples/%(prog)s --predict=-1000,-1.2,0.3,...,25.0   (30 values)
  python examples/%(prog)s --save fraud.bb        then
  python examples/%(prog)s --model fraud.bb --predict 0     (no training)

exit codes: 0 done; 2 bad command line or data.""")
    parser.add_argument("--data", metavar="CSV",
                        help=f"the transactions (default: {DATA_FILE} in $BB_DATA_DIR or "
                             f"~/.cache/braininabox/data/)")
    parser.add_argument("--predict", metavar="ROW|V,V,...",
                        help="after training (or with --model, instead of it), classify a "
                             "transaction: a row index into the data file (0 = first data row), "
                             "or 30 comma-separated values Time,V1..V28,Amount")
    parser.add_argument("--imbalance", type=float, metavar="F",
                        help="keep all legit rows and subsample the frauds so they are this "
                             "fraction of the rows (e.g. 0.02)")
    parser.add_argument("--balance", choices=("weights", "pos_weight", "resample", "none"),
                        default="weights",
                        help="how to handle the imbalance: class weights in fit (default), "
                             "pos_weight in the loss, oversampling the frauds, or nothing")
    parser.add_argument("--threshold-rule", choices=("precision", "f1"), default="precision",
                        help="precision (default): lowest validation threshold with precision >= "
                             "--min-precision; f1: maximum validation F1")
    parser.add_argument("--min-precision", type=float, default=0.90, metavar="P",
                        help="for --threshold-rule precision (default 0.90)")
    parser.add_argument("--folds", type=int, default=5, metavar="K",
                        help="K-fold cross-validation over the train + validation rows (default "
                             "5): K MLPs, the threshold chosen on their out-of-fold predictions, "
                             "the test rows scored by their mean; 1: one MLP, 60/20 split")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    parser.add_argument("--lr", type=float, default=0.003, help="Adam learning rate (default 0.003)")
    parser.add_argument("--weight-decay", type=float, default=0.0, metavar="L2",
                        help="Adam's L2 weight decay (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="split and training seed (default 0)")
    parser.add_argument("--save", metavar="PATH",
                        help="save the trained model there with model.save (and PATH.json: the "
                             "feature means, stds and the threshold)")
    parser.add_argument("--model", metavar="PATH",
                        help="score --predict with the models saved by --save PATH (reads "
                             "PATH.json and the model files it lists), without training")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(join_values(sys.argv[1:] if argv is None else argv))
    if args.imbalance is not None and not 0 < args.imbalance < 1:
        parser.error(f"--imbalance must be a fraction between 0 and 1, got {args.imbalance:g}")
    if not 0 < args.min_precision <= 1:
        parser.error(f"--min-precision must be in (0, 1], got {args.min_precision:g}")
    if args.epochs < 1 or args.batch_size < 1 or args.folds < 1:
        parser.error("--epochs, --batch-size and --folds must be at least 1")
    if not (args.lr > 0 and np.isfinite(args.lr)):
        parser.error(f"--lr must be a positive number, got {args.lr:g}")
    try:
        return run(args)
    except DatasetNotFoundError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
    except (UsageError, ValueError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
