"""Tests for examples/convolve.py: the C conv2d against a numpy reference,
output sizes for valid / same / stride 2, every built-in kernel, color images,
one-line errors (exit code 2), and, on the real brick.png when $BB_DATA_DIR
holds it, that sobel_x keeps the vertical joints."""

import os
import sys

import numpy as np
import pytest

PIL = pytest.importorskip("PIL", reason="convolve.py reads and writes images with Pillow")
from example_support import call_main, load_example
from PIL import Image  # noqa: E402  (after the importorskip)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "convolve.py")
REAL_DATA_DIR = os.environ.get("BB_DATA_DIR")  # read before the fixture clears it
BRICK = os.path.join(REAL_DATA_DIR or "", "images", "brick.png")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
cv = load_example("convolve")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def reference(image, kernel, stride=1, pad=(0, 0)):
    """Cross-correlation in plain numpy loops, zero padding."""
    x = np.pad(image.astype(np.float64), ((pad[0], pad[0]), (pad[1], pad[1])))
    kh, kw = kernel.shape
    rows = (x.shape[0] - kh) // stride + 1
    cols = (x.shape[1] - kw) // stride + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.sum(x[i * stride:i * stride + kh, j * stride:j * stride + kw] * kernel)
    return out


def gray_png(path, h=23, w=31, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(path)
    return str(path)


def run_main(capsys, argv):
    return call_main(cv, capsys, argv)


# ---------------------------------------------------------------- the maths

@pytest.mark.parametrize("kernel", [cv.KERNELS["sobel_x"], [[1, 2], [3, 4], [5, -6]],
                                    [[0.5, -1, 2, 0, 1]], [[2]]])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_conv_matches_numpy_reference(kernel, stride):
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 255, (13, 17)).astype(np.float32)
    k = np.array(kernel, dtype=np.float32)
    got = cv.convolve(image[None], k, stride, "valid")[0]
    assert np.allclose(got, reference(image, k, stride), rtol=1e-5, atol=1e-3)
    if k.shape[0] % 2 and k.shape[1] % 2:
        pad = ((k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2)
        got = cv.convolve(image[None], k, stride, "same")[0]
        assert np.allclose(got, reference(image, k, stride, pad), rtol=1e-5, atol=1e-3)


def test_cross_correlation_not_flipped():
    image = np.zeros((5, 5), np.float32)
    image[2, 2] = 1.0                        # an impulse
    k = np.arange(9, dtype=np.float32).reshape(3, 3)
    out = cv.convolve(image[None], k, 1, "same")[0]
    assert out[1:4, 1:4].tolist() == k[::-1, ::-1].tolist()   # the impulse response is flipped


def test_rescale_modes():
    r = np.array([[-10.0, 0.0, 5.0]])
    assert cv.rescale(r, "abs")[0].tolist() == [[255, 0, 128]]
    assert cv.rescale(r, "minmax")[0].tolist() == [[0, 170, 255]]
    assert cv.rescale(r, "clip")[0].tolist() == [[0, 0, 5]]
    assert cv.rescale(np.zeros((2, 2)), "minmax")[0].max() == 0


def test_parse_kernel():
    assert cv.parse_kernel("sobel_y")[1].tolist() == cv.KERNELS["sobel_y"]
    name, k = cv.parse_kernel(" [[1, -2.5e0], [3, 4]] ")
    assert name == "custom" and k.tolist() == [[1, -2.5], [3, 4]]


# ---------------------------------------------------------- the program

@pytest.mark.parametrize("padding, stride, size", [("valid", 1, (29, 21)), ("same", 1, (31, 23)),
                                                   ("valid", 2, (15, 11)), ("same", 2, (16, 12))])
def test_output_size(tmp_path, capsys, padding, stride, size):
    src, out = gray_png(tmp_path / "in.png"), str(tmp_path / "out.png")
    code, text, err = run_main(capsys, ["--image", src, "--kernel", "sobel_x", "--padding",
                                        padding, "--stride", str(stride), "--out", out])
    assert code == 0, err
    with Image.open(out) as im:
        assert im.size == size and im.mode == "L"      # (width, height)
    assert f"output {size[0]}x{size[1]} pixels" in text


@pytest.mark.parametrize("name", sorted(cv.KERNELS))
def test_every_builtin_kernel(tmp_path, capsys, name):
    src, out = gray_png(tmp_path / "in.png"), str(tmp_path / "out.png")
    code, text, err = run_main(capsys, ["--image", src, "--kernel", name, "--out", out])
    assert code == 0, err
    assert f"Kernel {name} (3x3" in text and text.count("  [ ") == 3     # the kernel is printed
    expected = "absolute value" if name in ("sobel_x", "sobel_y", "edge_detect") else "min-max"
    assert f"Rescaled to 0..255 by {expected}" in text
    with Image.open(out) as im:
        arr = np.asarray(im)
    assert arr.shape == (21, 29) and arr.max() == 255


def test_written_pixels_match_reference(tmp_path, capsys):
    src, out = gray_png(tmp_path / "in.png"), str(tmp_path / "out.png")
    k = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    assert run_main(capsys, ["--image", src, "--kernel", str(k), "--out", out])[0] == 0
    ref = np.abs(reference(np.asarray(Image.open(src), np.float64), np.array(k, float)))
    expected = np.clip(np.rint(ref * 255 / ref.max()), 0, 255)
    assert np.abs(np.asarray(Image.open(out), np.float64) - expected).max() <= 1


def test_color_image_gray_and_per_channel(tmp_path, capsys):
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)
    src = str(tmp_path / "c.png")
    Image.fromarray(rgb).save(src)
    code, text, _ = run_main(capsys, ["--image", src, "--kernel", "blur", "--out",
                                      str(tmp_path / "g.png")])
    assert code == 0 and "converted to grayscale" in text
    assert Image.open(tmp_path / "g.png").mode == "L"
    code, text, _ = run_main(capsys, ["--image", src, "--kernel", "blur", "--per-channel",
                                      "--out", str(tmp_path / "p.png")])
    assert code == 0 and "per channel" in text and "Rescaled R, G and B together" in text
    with Image.open(tmp_path / "p.png") as im:
        assert im.mode == "RGB" and im.size == (12, 10)
    k = np.full((3, 3), 1 / 9, np.float32)
    got = cv.convolve(rgb.transpose(2, 0, 1).astype(np.float32), k)
    for c in range(3):
        assert np.allclose(got[c], reference(rgb[:, :, c], k), atol=1e-3)


@pytest.mark.parametrize("kernel", ["sharpen", "blur", "gaussian"])
def test_per_channel_keeps_the_colours(tmp_path, capsys, kernel):
    """A warm photo (strong red, some green, little blue) stays warm: the channels share
    one rescaling, so their balance survives (each stretched on its own gave grey)."""
    yy, xx = np.mgrid[0:24, 0:30]
    base = 0.5 + 0.5 * np.sin(xx / 5.0) * np.cos(yy / 7.0)      # smooth, like a photo
    rgb = np.stack([150 + 100 * base, 60 + 40 * base, 10 + 10 * base], axis=-1)
    src = str(tmp_path / "warm.png")
    Image.fromarray(np.rint(rgb).astype(np.uint8)).save(src)
    code, _, err = run_main(capsys, ["--image", src, "--kernel", kernel, "--per-channel",
                                     "--out", str(tmp_path / "o.png")])
    assert code == 0, err
    with Image.open(tmp_path / "o.png") as im:
        out = np.asarray(im.convert("RGB"), dtype=np.float64)
    r, g, b = out[..., 0], out[..., 1], out[..., 2]
    assert r.mean() > g.mean() + 40 > b.mean() + 60        # still red > green > blue
    assert (r >= g).mean() > 0.99 and (g >= b).mean() > 0.99
    # the spreads keep the input's proportions (10 : 4 : 1), not 1 : 1 : 1
    assert r.std() > 2 * g.std() > 4 * b.std()


@pytest.mark.parametrize("kernel, message", [
    ("[[1,2],[3]]", "ragged rows"),
    ("[[1,'a']]", "not a list of rows of numbers"),
    ('[[1,"a"]]', 'value 2 is "a", not a number'),
    ("[]", "empty"),
    ("[[]]", "a row is empty"),
    ("[1,2]", "list of rows"),
    ("[[NaN]]", "finite"),
    ("nosuch", "unknown kernel 'nosuch'"),
    ("[[1]" + ",[1]" * 40 + "]", "larger than the image"),
])
def test_malformed_kernel(tmp_path, capsys, kernel, message):
    code, _, err = run_main(capsys, ["--image", gray_png(tmp_path / "in.png"), "--kernel", kernel,
                                     "--out", str(tmp_path / "o.png")])
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not os.path.exists(tmp_path / "o.png")


def test_same_padding_needs_odd_kernel(tmp_path, capsys):
    code, _, err = run_main(capsys, ["--image", gray_png(tmp_path / "in.png"), "--kernel",
                                     "[[1,-1],[1,-1]]", "--padding", "same",
                                     "--out", str(tmp_path / "o.png")])
    assert code == 2 and "needs odd kernel sizes" in err


@pytest.mark.parametrize("content, message", [(b"not an image at all", "not an image"),
                                              (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "image")])
def test_bad_image(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    code, _, err = run_main(capsys, ["--image", str(bad), "--kernel", "blur",
                                     "--out", str(tmp_path / "o.png")])
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_image_and_default_not_found(tmp_path, capsys):
    code, _, err = run_main(capsys, ["--image", str(tmp_path / "no.png"), "--kernel", "blur",
                                     "--out", str(tmp_path / "o.png")])
    assert code == 2 and "no such image file" in err
    code, _, err = run_main(capsys, ["--kernel", "blur", "--out", str(tmp_path / "o.png")])
    assert code == 2 and "brick.png not found" in err and len(err.strip().splitlines()) == 1


def test_bad_stride(capsys):
    with pytest.raises(SystemExit) as e:
        cv.main(["--kernel", "blur", "--stride", "0", "--out", "o.png"])
    assert e.value.code == 2 and "must be at least 1" in capsys.readouterr().err


# ---------------------------------------------------------------- real data

@pytest.mark.skipif(not os.path.isfile(BRICK),
                    reason="images/brick.png not found: set BB_DATA_DIR to the data folder")
def test_brick_sobel_x_keeps_vertical_joints(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BB_DATA_DIR", REAL_DATA_DIR)
    code, text, err = run_main(capsys, ["--kernel", "sobel_x", "--out", str(tmp_path / "x.png")])
    assert code == 0 and "brick.png: 512x512" in text and "output 510x510" in text

    image, _ = cv.load_image(BRICK, False)
    gx = np.abs(cv.convolve(image, np.array(cv.KERNELS["sobel_x"], np.float32))[0])
    gy = np.abs(cv.convolve(image, np.array(cv.KERNELS["sobel_y"], np.float32))[0])
    # The wall is made of tall bricks: long vertical joints, short horizontal ones.
    # 1. sobel_x (vertical edges) carries much more of the edge energy (measured 2.66x).
    assert gx.sum() > 2.0 * gy.sum()
    # 2. Its response is concentrated in columns: in every 64-row band the column-wise
    #    mean of |sobel_x| has sharp peaks at the joints (top 10 % of columns >= 8x the
    #    median column; measured 21-30x), while |sobel_y| is spread out (measured <= 2.2x).
    for r0 in range(0, 510 - 64, 64):
        for g, low, high in ((gx, 8.0, None), (gy, None, 4.0)):
            profile = g[r0:r0 + 64].mean(axis=0)
            peak = np.sort(profile)[-len(profile) // 10:].mean() / np.median(profile)
            assert (low is None or peak >= low) and (high is None or peak <= high), (r0, peak)
    # 3. At the strongest edges (top 5 % of gradient magnitude), the vertical-edge
    #    response dominates (measured at 91 % of those pixels).
    magnitude = np.hypot(gx, gy)
    strong = magnitude >= np.quantile(magnitude, 0.95)
    assert (gx[strong] > gy[strong]).mean() > 0.8


def test_help(capsys):
    with pytest.raises(SystemExit) as e:
        cv.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "sobel_x" in out and "--per-channel" in out and "odd" in out
