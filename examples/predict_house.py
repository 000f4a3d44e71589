"""Predict house prices with linear regression trained by batch gradient descent.

    python examples/predict_house.py                        # King County data, then
                                                            # Enter sqft: / Enter bedrooms:
    python examples/predict_house.py --predict sqft_living=2500,bedrooms=3
    python examples/predict_house.py --train my.csv --target y --features a,b,c

What it teaches:

* linear regression  y_hat = X w + b  and its loss, the mean squared error
  L = mean((y_hat - y)^2), whose gradient is  dL/dw = 2/n X^T (y_hat - y),
  dL/db = 2 mean(y_hat - y);
* batch gradient descent written with whole-array numpy operations (one
  matrix-vector product per epoch, no Python loop over the samples);
* why features are standardized (each to mean 0, std 1): it makes the loss
  surface round enough for one learning rate to suit every weight. The mean
  and std come from the TRAINING split only, so nothing about the hold-out
  rows leaks into the model;
* stopping when the relative change of the loss falls below a tolerance;
* judging a model on rows it never saw (an 80/20 split with a seed): RMSE
  (typical error, in the target's units) and R^2 (share of the variance
  explained; 1 is perfect, 0 is no better than predicting the mean);
* that this particular problem has a closed-form answer (least squares,
  np.linalg.lstsq), which gradient descent should reach: both are printed
  side by side with their largest coefficient difference.

Data: --train defaults to kc_house_data.csv (King County, Seattle, house
sales 2014-2015, 21,613 rows), found by braininabox.datasets: $BB_DATA_DIR,
then ~/.cache/braininabox/data/. It cannot be downloaded without a Kaggle
login. The data has one known outlier (a house with 33 bedrooms); it is kept.

Default features (all numeric columns of that file that describe the house or
its place): sqft_living, bedrooms, bathrooms, floors, grade, view, condition,
yr_built, sqft_lot, waterfront, lat, long. Left out: id and date, zipcode (a
label, not a quantity), and sqft_above / sqft_basement / sqft_living15 /
sqft_lot15 / yr_renovated (near-duplicates of features already in).
A plain linear model on these explains about 69 % of the price variance
(hold-out R^2 0.686 with --seed 0, 0.68-0.71 over seeds 0-4; RMSE about
$207,000): prices are far from linear in reality (a log-price model, or
zipcode as categories, would do better).
"""
import argparse
import sys

import numpy as np

from braininabox.data.datasets import DatasetNotFoundError, load_house_sales

DEFAULT_FEATURES = ("sqft_living", "bedrooms", "bathrooms", "floors", "grade",
                    "view", "condition", "yr_built", "sqft_lot", "waterfront",
                    "lat", "long")
PROG = "predict_house.py"


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ------------------------------------------------------------------ the model

def standardize_fit(X):
    """Mean and std of each column (std 1 for a constant column)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def mse_and_grad(w, b, X, y):
    """MSE of  X w + b  against y, and its gradient with respect to w and b."""
    residual = X @ w + b - y
    loss = np.mean(residual ** 2)
    grad_w = (2.0 / len(y)) * (X.T @ residual)
    grad_b = 2.0 * residual.mean()
    return loss, grad_w, grad_b


def gradient_descent(X, y, lr=0.1, epochs=5000, tol=1e-9, log=print,
                     log_first=5, log_every=100):
    """Batch gradient descent on the MSE, from w = 0, b = 0.

    Stops after ``epochs`` epochs or as soon as the relative loss change
    |L_prev - L| / L_prev drops below ``tol``. Returns (w, b, history, converged_epoch
    or None). Raises UsageError when the loss blows up (learning rate too big).
    """
    w = np.zeros(X.shape[1])
    b = 0.0
    history = []
    converged = None
    for epoch in range(1, epochs + 1):
        loss, grad_w, grad_b = mse_and_grad(w, b, X, y)
        if not np.isfinite(loss) or (history and loss > 1e6 * history[0]):
            raise UsageError(f"gradient descent diverged at epoch {epoch} "
                             f"(loss {loss:.3g}); use a smaller --lr "
                             f"(now {lr:g})")
        history.append(loss)
        if epoch <= log_first or epoch % log_every == 0:
            log(f"epoch {epoch:5d}  loss (MSE) {loss:.6e}  RMSE {np.sqrt(loss):,.2f}")
        if epoch > 1:
            change = abs(history[-2] - loss) / max(history[-2], 1e-300)
            if change < tol:
                converged = epoch
                if not (epoch <= log_first or epoch % log_every == 0):
                    log(f"epoch {epoch:5d}  loss (MSE) {loss:.6e}  "
                        f"RMSE {np.sqrt(loss):,.2f}")
                break
        w -= lr * grad_w
        b -= lr * grad_b
    return w, b, history, converged


def least_squares(X, y):
    """The closed-form answer: minimise ||[X 1] [w; b] - y||^2 with lstsq."""
    A = np.hstack([X, np.ones((len(X), 1))])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef[:-1], coef[-1]


def rmse_r2(y_true, y_pred):
    rmse = float(np.sqrt(np.mean((y_true - y_pred) ** 2)))
    total = np.sum((y_true - y_true.mean()) ** 2)
    r2 = float(1 - np.sum((y_true - y_pred) ** 2) / total) if total > 0 else float("nan")
    return rmse, r2


def split(n, seed, test_fraction=0.2):
    """Shuffled indices (train, test) of an 80/20 split."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, int(round(n * test_fraction)))
    return order[n_test:], order[:n_test]


# ----------------------------------------------------------------- the program

def parse_assignments(text, features):
    """'a=1,b=2' -> {'a': 1.0, 'b': 2.0}; names must be features."""
    values = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq:
            raise UsageError(f"expected name=value, got {item!r}")
        if name not in features:
            raise UsageError(f"{name!r} is not a feature of this model "
                             f"(features: {', '.join(features)})")
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"{name}: {value.strip()!r} is not a number") from None
        if not np.isfinite(number):
            raise UsageError(f"{name}: {value.strip()!r} is not a finite number")
        values[name] = number
    if not values:
        raise UsageError("no feature values given (expected name=value,...)")
    return values


class TrainingRange:
    """What the training rows say about each feature: the share of houses a value is
    typical for, and whether it is ever negative."""

    def __init__(self, X, features, y):
        self.features = features
        self.low, self.high = np.percentile(X, [0.5, 99.5], axis=0)
        self.never_negative = X.min(axis=0) >= 0
        self.target_never_negative = bool(y.min() >= 0)

    def check(self, values):
        """Refuse a negative value of a quantity that is never negative (sqft, bedrooms);
        return warnings for values outside the range of 99 % of the training rows."""
        warnings = []
        for i, name in enumerate(self.features):
            if name not in values:
                continue
            v = values[name]
            if v < 0 and self.never_negative[i]:
                raise UsageError(f"{name} cannot be negative (got {v:g}): it is never below "
                                 "0 in the training data")
            if not self.low[i] <= v <= self.high[i]:
                warnings.append(f"warning: {name}={v:g} is outside the range of 99 % of the "
                                f"training rows ({self.low[i]:g} to {self.high[i]:g}): the "
                                "straight line was not fitted there, so the prediction is a guess")
        return warnings


def predict_one(values, features, mean, std, w, b, target, ranges=None):
    warnings = ranges.check(values) if ranges is not None else []
    row = np.array([values.get(f, mean[i]) for i, f in enumerate(features)])
    defaulted = [f for f in features if f not in values]
    y = float(((row - mean) / std) @ w + b)
    if defaulted:
        print(f"(not given, set to the training mean: {', '.join(defaulted)})")
    for line in warnings:
        print(line)
    if y < 0 and ranges is not None and ranges.target_never_negative:
        print(f"warning: a negative {target} is impossible; the linear model does not hold "
              "for these values")
    print(f"Predicted {target}: {y:,.2f}")
    return y


# The seed's dialogue asks for these two, one prompt each, with its own words.
PROMPTED = ("sqft_living", "bedrooms")
PROMPT_WORDS = {"sqft_living": "sqft"}


def parse_number(name, text):
    """A plain answer at a prompt: a number, thousands commas allowed (2,500)."""
    try:
        number = float(text.replace(",", "").strip())
    except ValueError:
        raise UsageError(f"{name}: {text.strip()!r} is not a number") from None
    if not np.isfinite(number):
        raise UsageError(f"{name}: {text.strip()!r} is not a finite number")
    return number


def ask(prompt):
    """input(), with Ctrl-D as None."""
    try:
        return input(prompt)
    except EOFError:
        print()
        return None


def dialogue(features, mean, std, w, b, target, ranges):
    """Ask for values until an empty first answer or Ctrl-D: one prompt per asked
    feature ("Enter sqft: 2500", "Enter bedrooms: 3"), or one line of name=value pairs."""
    asked = [f for f in PROMPTED if f in features] or features[:2]
    words = [PROMPT_WORDS.get(f, f) for f in asked]
    print(f"Enter {' and '.join(words)} at the prompts (a number each; an empty answer uses "
          f"the training mean), or a line of name=value pairs such as "
          f"{features[0]}={mean[0]:.4g} for any of the {len(features)} features. An empty "
          "first answer or Ctrl-D quits.")
    while True:
        first = ask(f"Enter {words[0]}: ")
        if first is None or not first.strip():
            return 0
        try:
            if "=" in first:
                values = parse_assignments(first, features)
            else:
                values = {asked[0]: parse_number(asked[0], first)}
                ranges.check(values)         # a refusal before the next question
                for name, word in zip(asked[1:], words[1:]):
                    answer = ask(f"Enter {word}: ")
                    if answer is None:
                        return 0
                    if answer.strip():
                        values[name] = parse_number(name, answer)
            predict_one(values, features, mean, std, w, b, target, ranges)
        except UsageError as e:
            print(f"error: {e}")


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Linear regression by batch gradient descent (numpy), "
                    "compared with the closed-form least-squares answer.",
        epilog="Without --predict, values are asked for at prompts (Enter sqft: / "
               "Enter bedrooms:, a number each), or as one line name=value,...; an "
               "empty answer or Ctrl-D ends. A value outside the range of 99% of the "
               "training rows gets a warning; a negative value of a quantity that is "
               "never negative (sqft, bedrooms) is refused. Errors (missing "
               "file, bad CSV, missing column, non-numeric value) give one line "
               "and exit code 2. Default features: " + ", ".join(DEFAULT_FEATURES)
               + ".")
    parser.add_argument("--train", metavar="CSV",
                        help="CSV with a header row (default: kc_house_data.csv "
                             "from $BB_DATA_DIR or ~/.cache/braininabox/data)")
    parser.add_argument("--target", default="price",
                        help="column to predict (default: price)")
    parser.add_argument("--features", metavar="A,B,...",
                        help="comma-separated feature columns (default: the "
                             "12 listed below)")
    parser.add_argument("--predict", metavar="NAME=VALUE,...",
                        help="predict for these feature values (others are set "
                             "to their training mean), e.g. sqft_living=2500,bedrooms=3")
    parser.add_argument("--lr", type=float, default=0.1,
                        help="learning rate (default 0.1)")
    parser.add_argument("--epochs", type=int, default=5000,
                        help="maximum number of epochs (default 5000)")
    parser.add_argument("--tol", type=float, default=1e-9,
                        help="stop when the relative loss change is below this "
                             "(default 1e-9)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the 80/20 train/hold-out split (default 0)")
    parser.add_argument("--log-every", type=int, default=100, metavar="N",
                        help="print the loss of the first 5 epochs, then every "
                             "N-th (default 100)")
    return parser


def run(args):
    if not args.lr > 0:
        raise UsageError(f"--lr must be positive, got {args.lr:g}")
    if args.epochs < 1:
        raise UsageError(f"--epochs must be at least 1, got {args.epochs}")
    if args.log_every < 1:
        raise UsageError(f"--log-every must be at least 1, got {args.log_every}")
    target = args.target.strip()
    if args.features is None:
        features = list(DEFAULT_FEATURES)
    else:
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        if not features:
            raise UsageError("--features is empty")
        if len(set(features)) != len(features):
            raise UsageError(f"--features repeats a column: {args.features}")
    if target in features:
        raise UsageError(f"the target {target!r} is also a feature")

    data = load_house_sales(args.train, columns=[target] + features)
    X = np.column_stack([data[f] for f in features])
    y = data[target]
    if len(y) < 5:
        raise UsageError(f"only {len(y)} data rows; need at least 5")
    train, test = split(len(y), args.seed)
    print(f"{len(y)} rows: {len(train)} for training, {len(test)} held out "
          f"(seed {args.seed}); target {target}; {len(features)} features: "
          + ", ".join(features))

    mean, std = standardize_fit(X[train])          # training split only
    Xs = (X - mean) / std
    w, b, history, converged = gradient_descent(
        Xs[train], y[train], lr=args.lr, epochs=args.epochs, tol=args.tol,
        log_every=args.log_every)
    if converged:
        print(f"converged at epoch {converged}: relative loss change below "
              f"{args.tol:g}")
    else:
        print(f"stopped after {args.epochs} epochs without converging "
              f"(relative loss change still >= {args.tol:g}); try more "
              "--epochs or a larger --lr")

    w_ls, b_ls = least_squares(Xs[train], y[train])
    gd_rmse, gd_r2 = rmse_r2(y[test], Xs[test] @ w + b)
    ls_rmse, ls_r2 = rmse_r2(y[test], Xs[test] @ w_ls + b_ls)
    print()
    print(f"hold-out ({len(test)} rows)     RMSE            R^2")
    print(f"  gradient descent   {gd_rmse:14,.2f}   {gd_r2:.4f}")
    print(f"  least squares      {ls_rmse:14,.2f}   {ls_r2:.4f}")
    print()
    print(f"coefficients (change of {target} per 1 std of the feature):")
    print(f"  {'feature':<16}{'grad. descent':>16}{'least squares':>16}")
    for name, a, c in zip(features + ["(intercept)"], list(w) + [b],
                          list(w_ls) + [b_ls]):
        print(f"  {name:<16}{a:16,.2f}{c:16,.2f}")
    diff = float(np.max(np.abs(np.append(w - w_ls, b - b_ls))))
    print(f"max coefficient difference (GD vs least squares): {diff:,.4g}")
    print()

    ranges = TrainingRange(X[train], features, y[train])
    if args.predict is not None:
        predict_one(parse_assignments(args.predict, features), features, mean,
                    std, w, b, target, ranges)
        return 0
    return dialogue(features, mean, std, w, b, target, ranges)


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
