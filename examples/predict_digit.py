"""Read a digit you drew (PNG or JPEG, any size) and let a trained MNIST model name it.

    python examples/predict_digit.py --image my_drawing.png                  # mnist_dense.bb
    python examples/predict_digit.py --image photo.jpg --model mnist_cnn.bb --show

prints `Prediction: 7 (Confidence: 99.2%)`; --show also prints the 28x28 image the
model actually sees, as ASCII art.

What it teaches: a model only works on inputs that look like its training data. MNIST
digits are white (1.0) on black (0.0), 28x28, the digit scaled into a 20x20 box keeping
its proportions and centred by its centre of mass. A phone photo or a paint-program
drawing is none of that, so it is brought there the way MNIST itself was made:

1. grayscale; a transparent background (alpha) is first laid over a plain one that
   contrasts with the ink (white under dark ink, black under light ink);
2. the background's brightness is read from the border pixels (the median of a thin
   frame): when it is light, the image is inverted, so ink is always bright; the
   background level is then subtracted and the ink stretched to reach 1.0 (paper that
   is grey in a photo becomes black);
3. crop to the ink: the bounding box of the pixels above a threshold (--threshold,
   default 0.3 of the ink's brightest value);
4. scale the crop so its longer side is 20 pixels, keeping the aspect ratio, with
   Pillow's antialiasing (Lanczos) resize: a 1000-pixel drawing becomes soft grey edges,
   as in MNIST;
5. paste it into a black 28x28 image so that its centre of mass falls on pixel
   (14, 14) (where MNIST's is, on average).

Draw with a thick pen (roughly a tenth of the digit's height): after shrinking to 20
pixels a hairline becomes faint. The model is any file saved by Sequential.save whose
input is one 28x28 image: examples/mnist_train.py's dense network (it starts with
Flatten) and examples/train_cnn.py's CNN both take (1, 28, 28). The confidence is the
softmax of the model's 10 outputs (logits) at the predicted digit.

Errors (missing or unreadable image, no ink, missing model) are one line, exit code 2.
"""
import argparse
import os
import sys
import zipfile

import numpy as np

PROG = "predict_digit.py"
SIZE = 28          # MNIST image side
BOX = 20           # the digit's longer side inside it
CENTRE = 14.0      # where MNIST puts the centre of mass (row and column)
MIN_CONTRAST = 0.1  # ink must differ from the background by 10 % of full scale
TRAIN_HINT = ("train one with: python examples/mnist_train.py (writes mnist_dense.bb) "
              "or python examples/train_cnn.py (writes mnist_cnn.bb)")
ASCII_RAMP = " .:-=+*#%@"


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


def _lanczos():
    from PIL import Image
    return getattr(Image, "Resampling", Image).LANCZOS


def open_image(path):
    """Open an image file with Pillow; UsageError when missing or unreadable."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    if not os.path.exists(path):
        raise UsageError(f"no image file at {path}")
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder, not an image file")
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError:
        raise UsageError(f"{path} is not an image Pillow can read (use PNG or JPEG)") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise UsageError(f"cannot read {path}: {e}") from None
    return ImageOps.exif_transpose(image)   # photos: honour the camera's rotation flag


def to_gray(image):
    """A Pillow image of any mode -> float32 array in [0, 1] (0 black, 1 white).

    With transparency, the pixels are laid over white when the visible ink is dark,
    over black when it is light, so the background never decides the ink's colour."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):    # 16-bit or float grayscale
        values = np.asarray(image, dtype=np.float32)
        return values / (65535.0 if values.max() > 255 else 255.0)
    if not has_alpha:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    rgba = image.convert("RGBA")
    gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255.0
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
    if alpha.min() > 0.99:            # an alpha channel, but everything opaque
        return gray
    visible = alpha > 0.5
    ink = float(np.average(gray[visible])) if visible.any() else 0.0
    backdrop = 1.0 if ink < 0.5 else 0.0
    return gray * alpha + backdrop * (1.0 - alpha)


def preprocess(image, threshold=0.3):
    """A drawing (path, Pillow image or 2-D array in [0, 1]) -> MNIST-style (28, 28)
    float32 in [0, 1]: light ink on black, digit in a 20x20 box, centred by mass."""
    from PIL import Image
    if isinstance(image, (str, os.PathLike)):
        image = open_image(os.fspath(image))
    gray = to_gray(image) if isinstance(image, Image.Image) else np.asarray(image, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise UsageError(f"expected a 2-D grayscale image, got shape {gray.shape}")

    # 2. background from the border; make the ink bright and the background 0
    h, w = gray.shape
    frame = max(1, min(h, w) // 50)
    border = np.concatenate([gray[:frame].ravel(), gray[-frame:].ravel(),
                             gray[:, :frame].ravel(), gray[:, -frame:].ravel()])
    if np.median(border) > 0.5:
        gray, border = 1.0 - gray, 1.0 - border
    background = float(np.median(border))
    ink = gray - background
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise UsageError("no ink found: the image is blank (or the digit has almost the "
                         "same brightness as the background)")
    ink = np.clip(ink / peak, 0.0, 1.0)

    # 3. crop to the ink
    rows = np.flatnonzero((ink > threshold).any(axis=1))
    cols = np.flatnonzero((ink > threshold).any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]

    # 4. longer side to 20 pixels, keeping the aspect ratio (antialiased resize)
    ch, cw = ink.shape
    scale = BOX / max(ch, cw)
    new_h, new_w = max(1, round(ch * scale)), max(1, round(cw * scale))
    crop = Image.fromarray(np.round(ink * 255).astype(np.uint8), mode="L")
    small = np.asarray(crop.resize((new_w, new_h), _lanczos()), dtype=np.float32) / 255.0
    if small.max() <= 0:
        raise UsageError("no ink left after scaling the digit to 20x20 pixels")
    small /= small.max()

    # 5. paste into 28x28 with the centre of mass at (14, 14)
    total = small.sum()
    cy = float((small.sum(axis=1) * np.arange(new_h)).sum() / total)
    cx = float((small.sum(axis=0) * np.arange(new_w)).sum() / total)
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - new_h))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - new_w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = small
    return out


def ascii_art(image):
    """28 lines of text: each pixel as two characters from ' ' (0) to '@' (1)."""
    last = len(ASCII_RAMP) - 1
    return "\n".join("".join(ASCII_RAMP[round(float(v) * last)] * 2 for v in row)
                     for row in np.clip(image, 0, 1))


def load_model(path):
    """bb.load with the errors a user can act on."""
    import braininabox as bb
    if not os.path.isfile(path):
        raise UsageError(f"no model file at {path}; {TRAIN_HINT}")
    with open(path, "rb") as f:
        start = f.read(4)
    if start not in (b"PK\x03\x04", b"PK\x05\x06"):     # a .bb model is a zip (npz) archive
        raise UsageError(f"cannot use the model: {path} is not a braininabox model file "
                         f"(not a zip archive); {TRAIN_HINT}")
    try:
        model = bb.load(path)
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        reason = str(e)
        if "pickle" in reason:      # numpy's advice to enable pickle: never for a model
            reason = f"{path} holds pickled objects, which no model file does"
        raise UsageError(f"cannot use the model: {path} is not a valid braininabox model "
                         f"file ({reason}); {TRAIN_HINT}") from None
    return model


def model_input(model, image):
    """Shape a (28, 28) image as the model's input batch of one: (1,) + input_shape."""
    shape = tuple(model.input_shape)
    if int(np.prod(shape)) != image.size:
        raise UsageError(f"the model takes inputs of shape {shape}, not a 28x28 digit "
                         f"(is it an MNIST model?)")
    return image.reshape((1,) + shape)


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


def predict(model, image):
    """(digit, confidence in [0, 1], the 10 probabilities) for a preprocessed image."""
    import braininabox as bb
    outputs = model.predict(model_input(model, image))[0]
    if outputs.shape != (10,):
        raise UsageError(f"the model has {outputs.size} outputs, an MNIST model has 10")
    ends_in_softmax = isinstance(model.layers[-1], bb.layers.Softmax) if model.layers else False
    probs = outputs.astype(np.float64) if ends_in_softmax else softmax(outputs)
    digit = int(np.argmax(probs))
    return digit, float(probs[digit]), probs


def build_parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Predict the digit in a drawing (PNG or JPEG) with a trained MNIST model.",
        epilog="Errors give one line and exit code 2.")
    p.add_argument("--image", required=True, help="the drawing: PNG or JPEG, any size and colours")
    p.add_argument("--model", default="mnist_dense.bb",
                   help="a model saved by examples/mnist_train.py or train_cnn.py (default mnist_dense.bb)")
    p.add_argument("--show", action="store_true", help="print the preprocessed 28x28 image as ASCII art")
    p.add_argument("--threshold", type=float, default=0.3,
                   help="ink threshold for cropping, as a fraction of the ink's peak (default 0.3)")
    return p


def run(args):
    if not 0 < args.threshold < 1:
        raise UsageError(f"--threshold must be between 0 and 1, got {args.threshold}")
    model = load_model(args.model)
    image = preprocess(args.image, args.threshold)
    if args.show:
        print(ascii_art(image))
    digit, confidence, _ = predict(model, image)
    print(f"Prediction: {digit} (Confidence: {100 * confidence:.1f}%)")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ImportError as e:
        print(f"{PROG}: error: {e}; install Pillow: pip install Pillow", file=sys.stderr)
    except (UsageError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
