"""Convolution on a real photo: what a 3x3 kernel does to an image.

    python examples/convolve.py --kernel sobel_x --out edges.png     # images/brick.png
    python examples/convolve.py --image photo.png --kernel blur --padding same --out b.png
    python examples/convolve.py --kernel "[[0,1,0],[1,-4,1],[0,1,0]]" --stride 2 --out l.png

What it teaches:

* a convolution slides a small grid of weights (the kernel) over the image and
  writes, at every position, the weighted sum of the pixels under it. This
  is the operation a Conv2D layer learns; here the kernel is chosen by hand,
  and the work is done by braininabox.functional.conv2d, the library's C
  kernel (im2col + SGEMM), on a (1, 1, H, W) batch;
* like every deep-learning library, conv2d computes a cross-correlation: the
  kernel is NOT flipped (out[i, j] = sum k[a, b] * img[i*s + a, j*s + b]).
  For symmetric kernels that changes nothing; for sobel_x it flips the sign;
* what the classic kernels find: sobel_x responds to VERTICAL edges
  (brightness changing from left to right), sobel_y to horizontal ones,
  edge_detect (a Laplacian) to edges in every direction; blur and gaussian
  average (their weights sum to 1); sharpen adds the Laplacian back;
  emboss shades the image as if lit from one corner;
* output size: 'valid' (no padding) gives (H - kh) // S + 1 rows, and
  likewise for columns; 'same' pads (k - 1) / 2 zeros on each side so
  that, at stride 1, the output has the input's size (at stride S: ceil(H / S)).
  'same' needs odd kernel sizes: an even kernel has no centre pixel, so it
  cannot be padded equally on both sides;
* making a response visible. The response has negative values and no fixed
  range, so it is rescaled to 0..255 (--rescale, printed in the output):
  "abs" (the default for kernels whose weights sum to 0, the edge
  detectors): |response|, scaled so the largest is 255, since an edge is an
  edge whichever way the brightness changes; "minmax" (the default for the
  others): the lowest value becomes 0 and the highest 255; "clip": values
  kept as they are and clipped to 0..255.

Color images are converted to grayscale (ITU-R 601: L = 0.299 R + 0.587 G +
0.114 B, as Pillow does), or with --per-channel each of R, G and B is
filtered separately (one batch of 3 single-channel images) and the result is
an RGB image, the three channels rescaled together by one mapping (each
stretched on its own would lose the colour balance); the output says which.

Kernels: a built-in name (edge_detect, sobel_x, sobel_y, blur, gaussian,
sharpen, emboss) or a JSON-like list of rows, e.g. "[[1,0,-1],[2,0,-2],[1,0,-1]]":
rectangular, numbers only, any size up to the image's. --image defaults to
images/brick.png found by braininabox.datasets.find_data_file ($BB_DATA_DIR,
then ~/.cache/braininabox/data/).

On brick.png (a wall of tall bricks), sobel_x keeps the long vertical
joints between the bricks and drops the short horizontal ones; sobel_y does
the opposite. tests/test_example_convolve.py measures it.
"""
import argparse
import json
import math
import os
import sys

import numpy as np

from braininabox.data.datasets import DatasetNotFoundError, find_data_file

PROG = "convolve.py"
DEFAULT_IMAGE = "images/brick.png"

KERNELS = {
    "edge_detect": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
    "sobel_x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
    "sobel_y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
    "blur": [[1 / 9] * 3] * 3,
    "gaussian": [[1 / 16, 2 / 16, 1 / 16], [2 / 16, 4 / 16, 2 / 16], [1 / 16, 2 / 16, 1 / 16]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}
KERNEL_NOTES = {
    "edge_detect": "Laplacian-like: edges in every direction",
    "sobel_x": "vertical edges (left-right brightness change)",
    "sobel_y": "horizontal edges (top-bottom brightness change)",
    "blur": "box blur: the mean of the 3x3 neighbourhood",
    "gaussian": "Gaussian blur: the centre weighs most",
    "sharpen": "the pixel plus its difference from its neighbours",
    "emboss": "relief, as if lit from the bottom right",
}
MAX_KERNEL_VALUES = 1_000_000


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ------------------------------------------------------------------ kernels

def parse_kernel(text):
    """A built-in name or a JSON-like list of rows -> (name, float32 array (kh, kw))."""
    text = text.strip()
    if text in KERNELS:
        return text, np.array(KERNELS[text], dtype=np.float32)
    if not text.startswith("["):
        raise UsageError(f"unknown kernel {text!r}: use one of {', '.join(KERNELS)}, "
                         f"or rows like \"[[1,0,-1],[2,0,-2],[1,0,-1]]\"")
    if len(text) > 20 * MAX_KERNEL_VALUES:
        raise UsageError("the kernel is too large")

    def refuse_constant(name):
        raise UsageError(f"bad kernel: {name} is not allowed, the values must be finite numbers")

    try:
        rows = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as e:
        raise UsageError(f"bad kernel {_short(text)}: not a list of rows of numbers "
                         f"({e.msg} at character {e.pos + 1})") from None
    except RecursionError:
        raise UsageError("bad kernel: nested too deeply") from None
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"bad kernel {_short(text)}: empty; give at least one row like [[1]]")
    if not all(isinstance(r, list) for r in rows):
        raise UsageError(f"bad kernel {_short(text)}: it must be a list of rows, e.g. [[1,2],[3,4]]")
    if any(len(r) == 0 for r in rows):
        raise UsageError(f"bad kernel {_short(text)}: a row is empty")
    widths = sorted({len(r) for r in rows})
    if len(widths) > 1:
        raise UsageError(f"bad kernel {_short(text)}: ragged rows (lengths "
                         f"{[len(r) for r in rows]}); every row needs the same number of values")
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise UsageError(f"bad kernel: row {i + 1}, value {j + 1} is {json.dumps(v)}, "
                                 f"not a number")
            if not math.isfinite(v) or abs(v) > 3.4e38:
                raise UsageError(f"bad kernel: row {i + 1}, value {j + 1} is not a finite float32")
    return "custom", np.array(rows, dtype=np.float32)


def _short(text, limit=40):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def format_kernel(kernel, limit=15):
    if max(kernel.shape) > limit:
        return (f"  ({kernel.shape[0]}x{kernel.shape[1]} values, too many to print: min "
                f"{kernel.min():g}, max {kernel.max():g})")
    cells = [[f"{v:g}" if float(v).is_integer() else f"{v:.4f}" for v in row] for row in kernel]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("  [ " + "  ".join(c.rjust(width) for c in row) + " ]" for row in cells)


# ------------------------------------------------------------------- images

def load_image(path, per_channel):
    """Read an image -> (float32 array (C, H, W) in 0..255, description of the mode)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise UsageError("reading images needs Pillow: pip install Pillow") from None
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder, not an image file")
    try:
        with Image.open(path) as im:
            im.load()
            bands = im.getbands()
            gray = bands in (("L",), ("1",), ("I",), ("F",), ("L", "A"), ("I", "A"))
            if gray:
                mode = "grayscale image"
                arr = np.asarray(im.convert("F") if bands[0] in ("I", "F") else im.convert("L"),
                                 dtype=np.float32)
                if bands[0] in ("I", "F") and arr.size and arr.max() > 255:
                    arr = arr * (255.0 / arr.max())
                arr = arr[None]
            elif per_channel:
                mode = "color image, filtered per channel (R, G, B separately)"
                arr = np.asarray(im.convert("RGB"), dtype=np.float32).transpose(2, 0, 1)
            else:
                mode = "color image, converted to grayscale (L = 0.299 R + 0.587 G + 0.114 B)"
                arr = np.asarray(im.convert("RGB").convert("L"), dtype=np.float32)[None]
    except FileNotFoundError:
        raise UsageError(f"no such image file: {path}") from None
    except UnidentifiedImageError:
        raise UsageError(f"{path} is not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"cannot read image {path}: {e}") from None
    except Image.DecompressionBombError as e:
        raise UsageError(f"{path}: {e}") from None
    if gray and per_channel:
        mode += " (--per-channel: one channel)"
    return np.ascontiguousarray(arr), mode


def convolve(image, kernel, stride=1, padding="valid"):
    """Cross-correlate every channel of image (C, H, W) with kernel (kh, kw) using the
    library's C conv2d. Returns float32 (C, H_out, W_out)."""
    import braininabox.nn.functional as F

    kh, kw = kernel.shape
    if padding == "same":
        if kh % 2 == 0 or kw % 2 == 0:
            raise UsageError(f"--padding same needs odd kernel sizes, this kernel is {kh}x{kw}: "
                             f"an even size has no centre to pad around; use --padding valid")
        pad = ((kh - 1) // 2, (kw - 1) // 2)
    else:
        pad = (0, 0)
    _, h, w = image.shape
    if kh > h or kw > w:
        raise UsageError(f"the kernel ({kh}x{kw}) is larger than the image ({h}x{w} pixels)")
    x = image[:, None, :, :]                      # the channels as a batch of 1-channel images
    weight = kernel[None, None, :, :]             # (out=1, in=1, kh, kw)
    out = F.conv2d(x, weight, stride=stride, padding=pad)
    return out.data[:, 0]


def rescale(response, how):
    """Map a response to uint8 0..255. Returns (image, description)."""
    r = response.astype(np.float64)
    if how == "abs":
        a = np.abs(r)
        top = a.max()
        img = a * (255.0 / top) if top > 0 else a
        desc = f"absolute value, scaled so the largest |response| ({top:.4g}) is 255"
    elif how == "minmax":
        lo, hi = r.min(), r.max()
        img = (r - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(r)
        desc = f"min-max: {lo:.4g} -> 0, {hi:.4g} -> 255"
    else:
        img = r
        desc = f"clipped to 0..255 (the response spans {r.min():.4g} .. {r.max():.4g})"
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), desc


def save_image(path, channels):
    from PIL import Image
    arr = channels[0] if len(channels) == 1 else np.ascontiguousarray(channels.transpose(1, 2, 0))
    try:
        Image.fromarray(arr).save(path)
    except (ValueError, KeyError) as e:  # unknown extension: "unknown file extension: .xyz"
        raise UsageError(f"cannot write {path}: {e} (use a .png name)") from None
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


# ------------------------------------------------------------------- main

def run(args):
    name, kernel = parse_kernel(args.kernel)
    if args.image is None:
        path = find_data_file(DEFAULT_IMAGE, hint="Pass --image PATH.")
    else:
        path = args.image
    image, mode = load_image(str(path), args.per_channel)
    kh, kw = kernel.shape
    if kh > image.shape[1] or kw > image.shape[2]:
        raise UsageError(f"the kernel ({kh}x{kw}) is larger than the image "
                         f"({image.shape[1]}x{image.shape[2]} pixels)")
    if args.padding == "same" and (kh % 2 == 0 or kw % 2 == 0):
        raise UsageError(f"--padding same needs odd kernel sizes, this kernel is {kh}x{kw}: "
                         f"an even size has no centre to pad around; use --padding valid")
    total = float(kernel.sum())
    print(f"Image: {path}: {image.shape[2]}x{image.shape[1]} pixels (width x height), {mode}")
    note = f": {KERNEL_NOTES[name]}" if name in KERNEL_NOTES else ""
    print(f"Kernel {name} ({kh}x{kw}, weights sum to {total:.4g}){note}:")
    print(format_kernel(kernel))
    out = convolve(image, kernel, args.stride, args.padding)
    how = args.rescale
    if how == "auto":
        how = "abs" if abs(total) < 1e-6 * max(1.0, float(np.abs(kernel).sum())) else "minmax"
    # one mapping for all channels: stretching R, G and B each on its own would
    # give every channel the full 0..255 range and wash the colours out to grey
    pictures, desc = rescale(out, how)
    print(f"conv2d (braininabox C kernel, cross-correlation), stride {args.stride}, padding "
          f"{args.padding}: output {out.shape[2]}x{out.shape[1]} pixels")
    if len(out) == 1:
        print(f"Rescaled to 0..255 by {desc}")
    else:
        print(f"Rescaled R, G and B together (one mapping, so the colours keep their "
              f"balance) to 0..255 by {desc}")
    save_image(args.out, pictures)
    print(f"Wrote {args.out}")
    return 0


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Apply a convolution kernel to an image with braininabox's C conv2d, print "
                    "the kernel, and save the response rescaled to a visible 0..255 image.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"""built-in kernels: {', '.join(KERNELS)}
custom kernels: rows of numbers, e.g. "[[0,1,0],[1,-4,1],[0,1,0]]" (any rectangular
  size up to the image's; --padding same only for odd sizes)
rescaling (--rescale auto): abs for kernels whose weights sum to 0 (edge detectors),
  minmax for the others; color images are converted to grayscale unless --per-channel

examples:
  python examples/%(prog)s --kernel sobel_x --out vertical_edges.png
  python examples/%(prog)s --image camera.png --kernel gaussian --padding same --out g.png
  python examples/%(prog)s --kernel "[[1,-1]]" --stride 2 --out d.png

exit codes: 0 written; 2 bad command line, kernel or image.""")
    parser.add_argument("--image", metavar="PATH",
                        help=f"the image (PNG, JPEG, ...; default {DEFAULT_IMAGE} in $BB_DATA_DIR "
                             f"or ~/.cache/braininabox/data/)")
    parser.add_argument("--kernel", required=True, metavar='NAME|"[[..],[..]]"',
                        help="a built-in kernel name or a list of rows (quote it)")
    parser.add_argument("--stride", type=positive_int, default=1, metavar="S",
                        help="step between kernel positions (default 1)")
    parser.add_argument("--padding", choices=("valid", "same"), default="valid",
                        help="valid: no padding, the output shrinks (default); same: zero padding "
                             "so stride 1 keeps the size (odd kernels only)")
    parser.add_argument("--per-channel", action="store_true",
                        help="filter R, G, B separately instead of converting to grayscale")
    parser.add_argument("--rescale", choices=("auto", "abs", "minmax", "clip"), default="auto",
                        help="how the response becomes 0..255 (default auto, see below)")
    parser.add_argument("--out", required=True, metavar="PATH.png", help="where to write the result")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except DatasetNotFoundError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
