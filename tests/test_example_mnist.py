"""Tests for the MNIST learning programs: examples/mnist_train.py (dense network),
examples/train_cnn.py (CNN and the shifted-digit table) and examples/predict_digit.py
(reading a drawing the way MNIST was made, then predicting it).

The training scripts are run tiny (2,000 training images, 1 epoch): the tests check
their output format and that the saved models load and predict, not their accuracy
(the full runs and their figures are in examples/README.md). The preprocessing tests
use synthetic drawings and need no data. MNIST comes from $BB_DATA_DIR or the cache;
nothing is downloaded (BB_OFFLINE=1), and the tests that need it are skipped, saying
why, when it is not there.
"""
import contextlib
import io
import os
import re
import sys
import types

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import braininabox as bb

Image = pytest.importorskip("PIL.Image", reason="predict_digit.py needs Pillow: pip install Pillow")
from example_support import load_example
from PIL import ImageDraw

mt = load_example("mnist_train")
tc = load_example("train_cnn")
pd = load_example("predict_digit")

TINY = ["--subset", "2000", "--epochs", "1", "--test-subset", "1000"]


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("BB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)


def run_script(module, argv):
    """main(argv) with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv("BB_OFFLINE", "1")
        code = module.main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def dense_run(mnist, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("dense") / "mnist_dense.bb")
    return run_script(mt, TINY + ["--save", path]) + (path,)


@pytest.fixture(scope="module")
def cnn_run(mnist, dense_run, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cnn") / "mnist_cnn.bb")
    return run_script(tc, TINY[:-1] + ["300", "--save", path,
                                  "--dense-model", dense_run[3]]) + (path,)


# ------------------------------------------------------------ mnist_train.py

def test_mnist_train_tiny_run_prints_epochs_and_saves_a_model_that_predicts(mnist, dense_run):
    code, out, err, path = dense_run
    assert code == 0, err
    assert "integer labels, shape (2000,)" in out
    for layer in ("Flatten", "Linear", "ReLU", "Dropout", "Total params: 235,146"):
        assert layer in out, out
    assert re.search(r"^Epoch 1/1: loss [\d.]+, train accuracy [\d.]+%, test accuracy [\d.]+%", out, re.MULTILINE), out
    final = re.search(r"^Final test accuracy: ([\d.]+)% \(([\d,]+) of 1,000 test images\)", out, re.MULTILINE)
    assert final, out
    model = bb.load(path)
    assert tuple(model.input_shape) == (1, 28, 28)
    _, (X_test, y_test) = mnist
    predicted = model.predict(X_test[:1000]).argmax(axis=1)
    assert np.mean(predicted == y_test[:1000]) > 0.7      # 2,000 images, 1 epoch: about 0.85
    assert float(final.group(1)) > 70


def test_mnist_train_one_hot_targets(mnist, tmp_path):
    path = str(tmp_path / "onehot.bb")
    code, out, err = run_script(mt, TINY + ["--one-hot", "--save", path])
    assert code == 0, err
    assert "one-hot rows, shape (2000, 10)" in out
    assert "label 5 -> [0, 0, 0, 0, 0, 1, 0, 0, 0, 0]" in out
    accuracy = float(re.search(r"^Final test accuracy: ([\d.]+)%", out, re.MULTILINE).group(1))
    assert accuracy > 70
    assert bb.load(path).predict(mnist[1][0][:5]).shape == (5, 10)


def test_one_hot_and_integer_labels_give_the_same_loss():
    rng = np.random.default_rng(0)
    logits = bb.Tensor(rng.normal(size=(8, 10)).astype(np.float32))
    labels = rng.integers(0, 10, size=8)
    loss = bb.loss.CrossEntropy()
    assert float(loss(logits, labels).data) == pytest.approx(float(loss(logits, mt.one_hot(labels)).data), rel=1e-5)


def test_mnist_train_bad_options_are_one_line_errors(tmp_path):
    code, _, err = run_script(mt, ["--epochs", "0"])
    assert code == 2 and err.count("\n") == 1 and "--epochs must be >= 1" in err
    code, _, err = run_script(mt, ["--save", str(tmp_path / "no" / "such" / "m.bb")])
    assert code == 2 and "does not exist" in err


def test_mnist_train_missing_data_is_a_one_line_error(tmp_path):
    code, _, err = run_script(mt, ["--data", str(tmp_path / "nothing")])
    assert code == 2 and err.startswith("mnist_train.py: error: ") and err.count("\n") == 1, err


# -------------------------------------------------------------- train_cnn.py

def test_train_cnn_tiny_run_prints_layers_epochs_and_shift_table(mnist, cnn_run):
    code, out, err, path = cnn_run
    assert code == 0, err
    for text in ("Conv2D", "MaxPool", "Flatten", "Dropout", "(None, 64, 5, 5)", "Total params: 225,034"):
        assert text in out, out
    assert re.search(r"^CNN epoch 1/1: loss [\d.]+, train accuracy [\d.]+%, test accuracy [\d.]+% "
                     r"\(lr 0.001000, [\d.]+ s\)", out, re.MULTILINE), out
    assert re.search(r"^CNN: 1 epoch, [\d.]+ s per epoch", out, re.MULTILINE), out
    assert "Dense network for the comparison: loaded from" in out
    table = out[out.index("Test accuracy on shifted digits"):].splitlines()
    assert "CNN" in table[1] and "dense" in table[1]
    rows = {}
    for line in table[2:]:
        m = re.match(r"^\s+(\S.*?)\s+([\d.]+)%\s+([\d.]+)%$", line)
        assert m, line
        rows[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    assert list(rows) == [label for label, _, _ in tc.SHIFTS]
    for cnn, dense in rows.values():
        assert 0 <= cnn <= 100 and 0 <= dense <= 100

    model = bb.load(path)
    assert tuple(model.input_shape) == (1, 28, 28)
    _, (X_test, y_test) = mnist
    predicted = model.predict(X_test[:300]).argmax(axis=1)
    assert np.mean(predicted == y_test[:300]) == pytest.approx(rows["none"][0] / 100, abs=0.001)


def test_train_cnn_trains_a_dense_model_when_none_is_given(mnist):
    (X, y), (X_test, y_test) = mnist
    args = types.SimpleNamespace(dense_model="no_such_file.bb", dense_epochs=1, batch_size=64, seed=0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model = tc.dense_for_comparison(args, X[:1000], y[:1000], X_test[:200], y_test[:200])
    assert "no_such_file.bb not found, training a 784-256-128-10 for 1 epoch " in out.getvalue()
    assert re.search(r"^dense epoch 1/1: .* test accuracy [\d.]+%", out.getvalue(), re.MULTILINE)
    assert model.predict(X_test[:3]).shape == (3, 10)


def test_shift_moves_pixels_and_fills_with_zeros():
    X = np.arange(1, 26, dtype=np.float32).reshape(1, 1, 5, 5)
    np.testing.assert_array_equal(tc.shift(X, 0, 0), X)
    right = tc.shift(X, 0, 2)
    np.testing.assert_array_equal(right[0, 0, :, :2], 0)          # zeros came in: no wrap-around
    np.testing.assert_array_equal(right[0, 0, :, 2:], X[0, 0, :, :3])
    up_left = tc.shift(X, -1, -3)
    np.testing.assert_array_equal(up_left[0, 0, :4, :2], X[0, 0, 1:, 3:])
    assert up_left[0, 0, 4].sum() == 0 and up_left[0, 0, :, 2:].sum() == 0
    assert tc.shift(X, 5, 0).sum() == 0


# ----------------------------------------------------------- predict_digit.py

def draw_digit(size=(600, 800), ink=0, paper=255, mode="L", width=45):
    """A '4'-like figure drawn with PIL on a large canvas (dark on light by default)."""
    image = Image.new(mode, size, paper)
    d = ImageDraw.Draw(image)
    w, h = size
    d.line([(0.55 * w, 0.15 * h), (0.25 * w, 0.6 * h), (0.75 * w, 0.6 * h)], fill=ink, width=width)
    d.line([(0.6 * w, 0.35 * h), (0.6 * w, 0.85 * h)], fill=ink, width=width)
    return image


def rgba_transparent(ink):
    image = Image.new("RGBA", (500, 500), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    d.ellipse([150, 60, 350, 440], outline=ink, width=40)
    return image


def save_jpeg(tmp_path):
    path = tmp_path / "photo.jpg"
    draw_digit(size=(900, 700), mode="RGB", ink=(40, 40, 60), paper=(235, 230, 215)).save(path, quality=60)
    return path


DRAWINGS = {
    "black on white": lambda tmp: draw_digit(),
    "white on black": lambda tmp: draw_digit(ink=255, paper=0),
    "colour RGB": lambda tmp: draw_digit(size=(1000, 700), mode="RGB", ink=(20, 40, 200), paper=(250, 240, 120)),
    "light ink on dark colour": lambda tmp: draw_digit(mode="RGB", ink=(255, 230, 90), paper=(20, 60, 30)),
    "RGBA, transparent background": lambda tmp: rgba_transparent((0, 0, 0, 255)),
    "RGBA, white ink on transparent": lambda tmp: rgba_transparent((255, 255, 255, 255)),
    "JPEG": lambda tmp: str(save_jpeg(tmp)),
    "small grey paper": lambda tmp: draw_digit(size=(60, 80), ink=90, paper=170, width=5),
}


def centre_of_mass(image):
    total = image.sum()
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return (image.sum(axis=1) @ rows) / total, (image.sum(axis=0) @ cols) / total


def bounding_box(image, level=0.0):
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("kind", list(DRAWINGS))
def test_preprocess_gives_an_mnist_style_image(kind, tmp_path):
    image = pd.preprocess(DRAWINGS[kind](tmp_path))
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)
    # light ink on a dark background: the corners are black and most of the image is dark
    assert image[[0, 0, -1, -1], [0, -1, 0, -1]].max() == 0.0
    assert np.mean(image > 0.5) < 0.35
    cy, cx = centre_of_mass(image)
    assert abs(cy - 14) <= 1.0 and abs(cx - 14) <= 1.0, (cy, cx)
    height, width = bounding_box(image)
    assert height <= 20 and width <= 20
    assert max(height, width) >= 18          # the longer side fills the 20-pixel box


def test_preprocess_keeps_the_aspect_ratio():
    image = Image.new("L", (800, 800), 255)
    ImageDraw.Draw(image).rectangle([100, 380, 700, 430], fill=0)    # a wide bar, 12:1
    height, width = bounding_box(pd.preprocess(image), level=0.2)
    assert width == 20 and height <= 3


def test_preprocess_matches_a_real_mnist_digit(mnist):
    """An MNIST digit upscaled and inverted comes back close to the original."""
    _, (X_test, _) = mnist
    original = X_test[0, 0]
    big = Image.fromarray(np.uint8(255 - 255 * original)).resize((200, 200), Image.BICUBIC)
    again = pd.preprocess(big)
    assert np.abs(again - original).mean() < 0.08
    assert np.corrcoef(again.ravel(), original.ravel())[0, 1] > 0.85


def test_show_prints_ascii_art(tmp_path, dense_run):
    draw_digit().save(tmp_path / "four.png")
    code, out, err = run_script(pd, ["--image", str(tmp_path / "four.png"), "--model", dense_run[3], "--show"])
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 29 and all(len(line) == 56 for line in lines[:28])
    assert "@" in out and lines[0].strip() == ""
    assert re.fullmatch(r"Prediction: \d \(Confidence: \d{1,3}\.\d%\)", lines[28])


def test_real_mnist_digits_drawn_dark_on_light_are_predicted(mnist, dense_run, tmp_path):
    """MNIST test digits, upscaled to 200x200 and inverted (dark on light, as a person
    draws), saved as PNG: predict_digit.py names them as their labels. The model is the
    tiny run's (about 85 % accurate), so the digits used are those it recognises
    confidently in their original 28x28 form: the test is about the preprocessing."""
    _, (X_test, y_test) = mnist
    model = bb.load(dense_run[3])
    probs = np.array([pd.softmax(z) for z in model.predict(X_test[:40])])
    chosen = [i for i in range(40) if probs[i].argmax() == y_test[i] and probs[i].max() > 0.9][:6]
    assert len(chosen) >= 4, probs.max(axis=1)
    correct = []
    for i in chosen:
        big = Image.fromarray(np.uint8(255 - 255 * X_test[i, 0])).resize((200, 200), Image.BICUBIC)
        png = tmp_path / f"digit{i}.png"
        big.convert("RGB").save(png)
        code, out, err = run_script(pd, ["--image", str(png), "--model", dense_run[3]])
        assert code == 0, err
        m = re.fullmatch(r"Prediction: (\d) \(Confidence: ([\d.]+)%\)\n", out)
        assert m, out
        assert 10 <= float(m.group(2)) <= 100
        correct.append(int(m.group(1)) == y_test[i])
    assert all(correct), list(zip(chosen, y_test[chosen], correct))


def test_both_models_load_and_take_one_28x28_image(dense_run, cnn_run):
    image = pd.preprocess(draw_digit())
    for path, input_shape in ((dense_run[3], (1, 1, 28, 28)), (cnn_run[3], (1, 1, 28, 28))):
        model = pd.load_model(path)
        assert pd.model_input(model, image).shape == input_shape
        digit, confidence, probs = pd.predict(model, image)
        assert 0 <= digit <= 9 and 0.1 <= confidence <= 1.0
        assert probs.sum() == pytest.approx(1.0) and probs.argmax() == digit
        code, out, err = run_script(pd, ["--image", _save(draw_digit(), path + ".png"), "--model", path])
        assert code == 0 and out.startswith("Prediction: "), err


def _save(image, path):
    image.save(path)
    return path


def one_line_error(argv):
    code, out, err = run_script(pd, argv)
    assert code == 2 and out == "", (code, out, err)
    assert err.startswith("predict_digit.py: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def tiny_model(tmp_path):
    bb.seed(0)
    model = mt.dense_model().build((1, 28, 28))
    return str(model.save(tmp_path / "tiny.bb"))


def test_blank_image_is_an_error(tmp_path, tiny_model):
    Image.new("RGB", (300, 300), "white").save(tmp_path / "blank.png")
    assert "no ink" in one_line_error(["--image", str(tmp_path / "blank.png"), "--model", tiny_model])
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert "no ink" in one_line_error(["--image", str(tmp_path / "clear.png"), "--model", tiny_model])


def test_missing_model_says_how_to_train_one(tmp_path):
    draw_digit().save(tmp_path / "four.png")
    err = one_line_error(["--image", str(tmp_path / "four.png"), "--model", str(tmp_path / "none.bb")])
    assert "no model file" in err and "examples/mnist_train.py" in err and "examples/train_cnn.py" in err


def test_missing_or_unreadable_image_is_an_error(tmp_path, tiny_model):
    assert "no image file" in one_line_error(["--image", str(tmp_path / "nope.png"), "--model", tiny_model])
    (tmp_path / "junk.png").write_text("this is not a PNG")
    assert "not an image" in one_line_error(["--image", str(tmp_path / "junk.png"), "--model", tiny_model])


def test_a_file_that_is_not_a_model_is_an_error(tmp_path):
    draw_digit().save(tmp_path / "four.png")
    (tmp_path / "bad.bb").write_bytes(b"garbage")
    err = one_line_error(["--image", str(tmp_path / "four.png"), "--model", str(tmp_path / "bad.bb")])
    assert "cannot use the model" in err


def test_a_corrupt_model_never_suggests_pickle(tmp_path, tiny_model):
    """Text, a pickled array, a pickle inside an npz, a truncated model: each is 'not a
    braininabox model', and numpy's advice to load it with allow_pickle never shows."""
    draw_digit().save(tmp_path / "four.png")
    good = open(tiny_model, "rb").read()
    (tmp_path / "text.bb").write_bytes(b"not a zip")
    (tmp_path / "cut.bb").write_bytes(good[:len(good) // 2])
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(tmp_path / "object.bb", "wb") as f:
        np.savez(f, header=np.array([{"a": 1}], dtype=object))
    for name in ("text.bb", "cut.bb", "pickled.npy", "object.bb"):
        err = one_line_error(["--image", str(tmp_path / "four.png"),
                              "--model", str(tmp_path / name)])
        assert "is not a" in err and "braininabox model file" in err, err
        assert "allow_pickle" not in err and "pickle.load" not in err, err
