"""A spam filter: logistic regression written by hand in numpy over a bag of words.

    python examples/spam_filter.py --train                  # SMS Spam Collection
    python examples/spam_filter.py "WINNER!! Claim your £1000 prize now"
    python examples/spam_filter.py --train my_corpus.tsv --model my_model.npz

What it teaches:

* turning text into numbers: a tokenizer (lowercase; words and numbers;
  '£', '$', '€' and '!' kept as tokens; every URL becomes the token <url>,
  every number of 5 or more digits, such as a phone number, <longnum>), a
  vocabulary of the tokens seen at least --min-count times in the TRAINING
  messages, and one feature per vocabulary word: present or not (binary,
  the default), how often (count), or tf-idf;
* logistic regression: p = sigmoid(x . w + b), the probability of spam;
  its loss, binary cross-entropy  L = -mean(y log p + (1-y) log(1-p))
  (+ l2/2 |w|^2), computed stably as mean(log(1 + e^z) - y z); and its
  gradient  dL/dw = X^T (p - y) / n + l2 w,  dL/db = mean(p - y);
* mini-batch gradient descent (shuffled batches, one vectorized step each);
* honest evaluation: a stratified 80/20 split with a seed; the decision
  threshold is chosen on a validation slice of the training 80 % (the
  one with the best F0.5 there: precision counts more than recall, as
  losing a real message is worse than missing a spam), never on the held-out 20 %, and the
  held-out precision, recall and F1 of the spam class are printed;
* saving a model without pickle: np.savez with the vocabulary as a string
  array, written to a temporary file and renamed into place (atomic).

The corpus (5,574 SMS, 747 spam; UCI, CC BY 4.0) is found by
braininabox.datasets.load_sms_spam: $BB_DATA_DIR, ~/.cache/braininabox/data,
else downloaded from UCI (content-verified). The model goes to
$XDG_CACHE_HOME/braininabox/spam_filter.npz (~/.cache/... by default) or
--model PATH. Classifying a message when no model exists trains one first
(a couple of seconds) if the corpus can be found, and says so.
"""
import argparse
import os
import re
import sys
import tempfile

import numpy as np

from braininabox.data.datasets import DatasetNotFoundError, load_sms_spam

PROG = "spam_filter.py"
FORMAT_VERSION = 1
WEIGHTINGS = ("binary", "count", "tfidf")


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ----------------------------------------------------------------- tokenizer

_TOKEN = re.compile(r"(?:https?://|www\.)\S+"    # a URL
                    r"|\d+(?:[.,]\d+)*"          # a number (1,000 / 2.50)
                    r"|[a-z]+(?:'[a-z]+)*"       # a word (don't, i'll)
                    r"|[£$€!]")                  # money and exclamation marks


def tokenize(text):
    """Lowercase ``text`` and split it into tokens (see the module docstring)."""
    tokens = []
    for token in _TOKEN.findall(text.lower()):
        if token.startswith(("http", "www.")):
            token = "<url>"
        elif token[0].isdigit():
            token = token.replace(",", "")
            if sum(c.isdigit() for c in token) >= 5:
                token = "<longnum>"
        tokens.append(token)
    return tokens


def build_vocabulary(token_lists, min_count):
    """Tokens occurring at least ``min_count`` times, sorted."""
    counts = {}
    for tokens in token_lists:
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
    return sorted(t for t, c in counts.items() if c >= min_count)


def vectorize(token_lists, index, weighting, idf):
    """Bag-of-words matrix (n_messages, len(vocabulary)), float32."""
    X = np.zeros((len(token_lists), len(index)), dtype=np.float32)
    rows, cols = [], []
    for i, tokens in enumerate(token_lists):
        for t in tokens:
            j = index.get(t)
            if j is not None:
                rows.append(i)
                cols.append(j)
    np.add.at(X, (np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)), 1)
    if weighting == "binary":
        np.minimum(X, 1, out=X)
    elif weighting == "tfidf":
        X *= idf
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X /= np.where(norms > 0, norms, 1)
    return X


# ------------------------------------------------------- logistic regression

def sigmoid(z):
    """1 / (1 + e^-z), without overflow for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def bce_loss_and_grad(w, b, X, y, l2=0.0):
    """Binary cross-entropy of sigmoid(X w + b) against y in {0, 1}, plus
    l2/2 |w|^2, and its gradient: returns (loss, grad_w, grad_b)."""
    z = X @ w + b
    # -[y log p + (1-y) log(1-p)] = log(1 + e^z) - y z
    loss = np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * l2 * np.dot(w, w)
    error = (sigmoid(z) - y).astype(X.dtype, copy=False)  # keep X's dtype: BLAS
    grad_w = X.T @ error / len(y) + l2 * w
    grad_b = np.mean(error)
    return float(loss), grad_w, float(grad_b)


def train_logistic(X, y, epochs=30, lr=1.0, batch_size=64, l2=1e-4, seed=0,
                   log=None):
    """Mini-batch gradient descent from w = 0, b = 0; returns (w, b)."""
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1], dtype=X.dtype)
    b = 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            batch = order[start:start + batch_size]
            _, grad_w, grad_b = bce_loss_and_grad(w, b, X[batch], y[batch], l2)
            w -= lr * grad_w.astype(w.dtype)
            b -= lr * grad_b
        if log is not None and (epoch <= 3 or epoch % 10 == 0 or epoch == epochs):
            loss, _, _ = bce_loss_and_grad(w, b, X, y, l2)
            log(f"epoch {epoch:3d}  training loss (BCE) {loss:.4f}")
    return w, b


def precision_recall_f1(y_true, y_pred):
    """For the positive class (spam = 1)."""
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    fp = int(np.sum((y_pred == 1) & (y_true == 0)))
    fn = int(np.sum((y_pred == 0) & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def f_beta(precision, recall, beta):
    """F-beta: beta < 1 weighs precision more, beta = 1 is F1."""
    if precision + recall == 0:
        return 0.0
    return (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)


def best_threshold(y_true, probs, beta=0.5):
    """The threshold among 0.05, 0.06, ..., 0.95 with the best F-beta on
    (y_true, probs); ties go to the one nearest 0.5.

    beta = 0.5 favours precision: for a spam filter, losing a real message
    (a false positive) is worse than letting a spam through."""
    best_key, best_t = None, 0.5
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        p, r, _ = precision_recall_f1(y_true, (probs >= t).astype(int))
        key = (round(f_beta(p, r, beta), 12), -abs(t - 0.5))
        if best_key is None or key > best_key:
            best_key, best_t = key, float(t)
    return best_t


def stratified_split(y, fraction, rng):
    """Indices (rest, part), ``part`` being ``fraction`` of each class."""
    part = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        part.append(members[:int(round(len(members) * fraction))])
    part = np.sort(np.concatenate(part))
    rest = np.setdiff1d(np.arange(len(y)), part)
    return rest, part


# ---------------------------------------------------------------- the model

class SpamModel:
    def __init__(self, vocabulary, weighting, idf, w, b, threshold, metrics=None):
        self.vocabulary = list(vocabulary)
        self.index = {t: j for j, t in enumerate(self.vocabulary)}
        self.weighting = weighting
        self.idf = np.asarray(idf, dtype=np.float32)
        self.w = np.asarray(w, dtype=np.float32)
        self.b = float(b)
        self.threshold = float(threshold)
        self.metrics = metrics      # held-out (precision, recall, f1) or None

    def probabilities(self, texts):
        X = vectorize([tokenize(t) for t in texts], self.index, self.weighting,
                      self.idf)
        return sigmoid(X.astype(np.float64) @ self.w + self.b)

    def save(self, path):
        """np.savez (no pickle) into a temporary file, renamed into place."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".spam_filter", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, format_version=np.int64(FORMAT_VERSION),
                         vocabulary=np.array(self.vocabulary, dtype=str),
                         weighting=np.array(self.weighting), idf=self.idf,
                         w=self.w, b=np.float64(self.b),
                         threshold=np.float64(self.threshold),
                         metrics=np.array(self.metrics if self.metrics
                                          else [np.nan] * 3, dtype=np.float64))
            os.replace(tmp, path)
        except BaseException:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path):
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format_version"]) != FORMAT_VERSION:
                    raise ValueError(f"format version {int(z['format_version'])}, "
                                     f"expected {FORMAT_VERSION}")
                vocabulary = [str(t) for t in z["vocabulary"]]
                weighting = str(z["weighting"])
                idf, w = z["idf"], z["w"]
                b, threshold = float(z["b"]), float(z["threshold"])
                metrics = z["metrics"]
        except Exception as e:      # zip, key, pickle and format errors alike
            raise UsageError(f"{path}: not a spam_filter model ({e}); "
                             "retrain with --train") from None
        if weighting not in WEIGHTINGS or w.shape != (len(vocabulary),) \
                or idf.shape != w.shape:
            raise UsageError(f"{path}: inconsistent model file; retrain with --train")
        metrics = None if np.isnan(metrics).any() else tuple(metrics)
        return cls(vocabulary, weighting, idf, w, b, threshold, metrics)


def default_model_path():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "braininabox", "spam_filter.npz")


def train(labels, texts, *, min_count=2, weighting="binary", epochs=30, lr=1.0,
          batch_size=64, l2=1e-4, seed=0, threshold=None, log=print):
    """Split, build the vocabulary, train, pick the threshold, evaluate.

    Returns (model, (precision, recall, f1) on the held-out 20 %).
    """
    y = np.array([1 if label == "spam" else 0 for label in labels])
    if y.sum() < 5 or (1 - y).sum() < 5:
        raise UsageError(f"the corpus needs at least 5 spam and 5 ham messages "
                         f"(has {int(y.sum())} spam, {int((1 - y).sum())} ham)")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = stratified_split(y, 0.2, rng)
    fit_rest, val_part = stratified_split(y[train_idx], 0.2, rng)
    fit_idx, val_idx = train_idx[fit_rest], train_idx[val_part]
    tokens = [tokenize(t) for t in texts]

    def fit(indices):
        vocabulary = build_vocabulary([tokens[i] for i in indices], min_count)
        if not vocabulary:
            raise UsageError(f"empty vocabulary: no token occurs {min_count} "
                             "times in the training messages (lower --min-count)")
        index = {t: j for j, t in enumerate(vocabulary)}
        idf = np.ones(len(vocabulary), dtype=np.float32)
        if weighting == "tfidf":
            df = vectorize([tokens[i] for i in indices], index, "binary", idf).sum(0)
            idf = (np.log((1 + len(indices)) / (1 + df)) + 1).astype(np.float32)
        X = vectorize([tokens[i] for i in indices], index, weighting, idf)
        w, b = train_logistic(X, y[indices], epochs=epochs, lr=lr,
                              batch_size=batch_size, l2=l2, seed=seed,
                              log=log if len(indices) == len(train_idx) else None)
        return SpamModel(vocabulary, weighting, idf, w, b, 0.5)

    log(f"{len(y)} messages ({int(y.sum())} spam): {len(train_idx)} for training "
        f"(of which {len(val_idx)} for choosing the threshold), {len(test_idx)} "
        f"held out (stratified, seed {seed})")
    if threshold is None:
        # choose the threshold on a validation slice of the TRAINING side only
        probe = fit(fit_idx)
        threshold = best_threshold(y[val_idx],
                                   probe.probabilities([texts[i] for i in val_idx]))
        log(f"decision threshold {threshold:.3f} (best F0.5 on the validation slice, "
            f"model trained on the other {len(fit_idx)} training messages)")
    model = fit(train_idx)       # the final model sees all the training 80 %
    model.threshold = threshold
    log(f"vocabulary: {len(model.vocabulary)} tokens seen >= {min_count} times; "
        f"features: {weighting}")
    probs = model.probabilities([texts[i] for i in test_idx])
    metrics = precision_recall_f1(y[test_idx], (probs >= threshold).astype(int))
    model.metrics = metrics
    return model, metrics


def show_prediction(model, message):
    tokens = tokenize(message)
    marked = [t if t in model.index else f"({t})" for t in tokens]
    print("Tokens:", " ".join(marked) if marked else "(none)")
    print("        (in parentheses: not in the vocabulary, ignored)")
    p = float(model.probabilities([message])[0])
    label = "SPAM" if p >= model.threshold else "HAM"
    known = sorted({t for t in tokens if t in model.index},
                   key=lambda t: -abs(model.w[model.index[t]]))[:5]
    if known:
        print("Strongest words:", ", ".join(
            f"{t} {model.w[model.index[t]]:+.2f}" for t in known))
    print(f"Probability: {p:.3f} ({label})")
    if model.threshold != 0.5:
        print(f"(spam when the probability is >= {model.threshold:.3f}, the "
              "threshold chosen in training)")
    return p, label


# --------------------------------------------------------------- the program

_DEFAULT_CORPUS = object()


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify SMS messages as spam or ham with a logistic "
                    "regression written in numpy over a bag of words.",
        epilog="Examples: %(prog)s --train   then   %(prog)s \"Free entry! "
               "Text WIN to 80086\". The corpus is a tab-separated file "
               "label<TAB>text (labels ham/spam), like the SMS Spam Collection. "
               "Errors give one line and exit code 2.")
    parser.add_argument("messages", nargs="*", metavar="MESSAGE",
                        help="message(s) to classify (quote each one)")
    parser.add_argument("--train", nargs="?", const=_DEFAULT_CORPUS,
                        metavar="CORPUS",
                        help="train (and save) the model; CORPUS defaults to the "
                             "SMS Spam Collection from $BB_DATA_DIR, the cache, "
                             "or a download from UCI")
    parser.add_argument("--model", metavar="PATH", default=None,
                        help="model file (default: $XDG_CACHE_HOME/braininabox/"
                             "spam_filter.npz, i.e. ~/.cache/... when unset)")
    parser.add_argument("--weighting", choices=WEIGHTINGS, default="binary",
                        help="feature values: word present (binary, default), "
                             "its count, or tf-idf")
    parser.add_argument("--min-count", type=int, default=2,
                        help="keep tokens seen at least this often in training "
                             "(default 2)")
    parser.add_argument("--epochs", type=int, default=30, help="default 30")
    parser.add_argument("--lr", type=float, default=1.0,
                        help="learning rate (default 1.0)")
    parser.add_argument("--batch-size", type=int, default=64, help="default 64")
    parser.add_argument("--l2", type=float, default=1e-4,
                        help="L2 penalty l2/2 |w|^2 (default 1e-4; 0 turns it off)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="decision threshold (default: the best F1 on a "
                             "validation slice of the training 80 %%: best F0.5)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the splits and the shuffling (default 0)")
    return parser


def _check_args(args):
    if args.min_count < 1:
        raise UsageError(f"--min-count must be at least 1, got {args.min_count}")
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if not args.lr > 0:
        raise UsageError(f"--lr must be positive, got {args.lr:g}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if not args.l2 >= 0:
        raise UsageError(f"--l2 must be >= 0, got {args.l2:g}")
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold:g}")
    for m in args.messages:
        if not m.strip():
            raise UsageError("empty message: give the text to classify")
    if args.model is not None and os.path.isdir(args.model):
        raise UsageError(f"--model {args.model} is a folder; give a file path")


def train_and_save(args, corpus, model_path):
    labels, texts = load_sms_spam(corpus)
    model, (precision, recall, f1) = train(
        labels, texts, min_count=args.min_count, weighting=args.weighting,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, l2=args.l2,
        seed=args.seed, threshold=args.threshold)
    print(f"held-out spam: precision {precision:.3f}  recall {recall:.3f}  "
          f"F1 {f1:.3f}  (threshold {model.threshold:.3f})")
    model.save(model_path)
    print(f"model saved to {model_path}")
    return model


def run(args):
    _check_args(args)
    model_path = args.model or default_model_path()
    if args.train is None and not args.messages:
        raise UsageError("give a message to classify, or --train (see --help)")
    model = None
    if args.train is not None:
        corpus = None if args.train is _DEFAULT_CORPUS else args.train
        model = train_and_save(args, corpus, model_path)
    if not args.messages:
        return 0
    if model is None:
        if os.path.exists(model_path):
            model = SpamModel.load(model_path)
        else:
            print(f"no model at {model_path} yet: training one on the SMS Spam "
                  "Collection first (or run with --train [CORPUS])")
            try:
                model = train_and_save(args, None, model_path)
            except DatasetNotFoundError as e:
                raise UsageError(
                    f"no model at {model_path} and the SMS Spam Collection was "
                    f"not found ({str(e).splitlines()[0]}); train one with "
                    f"{PROG} --train CORPUS [--model {model_path}]") from None
            print()
    for message in args.messages:
        show_prediction(model, message)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DatasetNotFoundError as e:
        # the message lists the places looked in, one a line
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except (UsageError, ValueError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
