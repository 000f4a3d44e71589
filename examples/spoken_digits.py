"""Spoken digits: a keyword spotter from a WAV file to a label, on the integer front end.

    python examples/spoken_digits.py --train                  # train, test, save spoken_digits.bb
    python examples/spoken_digits.py --wav 7_jackson_0.wav    # Prediction: 7 (Confidence: 98.1%)
    python examples/spoken_digits.py --stream digits.wav      # each digit heard, with its time

What it teaches:

* the front end: a microcontroller cannot afford to learn from raw samples, so a keyword
  spotter first turns one second of 8 kHz audio into a small picture, 49 time frames x
  10 MFCC coefficients (bb.audio.MFCC, integer arithmetic, the same C code as on the
  board): a short-time spectrum, squeezed into 40 mel bands (finer at low frequencies,
  as the ear is), logged (loudness is heard logarithmically), then decorrelated by a DCT
  whose first coefficients keep the spectral envelope, which is what tells vowels apart;
* the network sees that picture like an image: here a plain Conv2D stack (the DS-CNN of
  MLPerf Tiny, depthwise-separable convolutions, comes when those layers exist);
* augmentation: the Free Spoken Digit Dataset has 6 speakers in one quiet setting, so a
  model memorises them easily. Each epoch every training recording is heard anew: moved
  up to 150 ms off the centre of the 1 s window, slightly faster or slower (+-10 %), louder or
  quieter (x0.7-1.3), with background noise at a random 15-40 dB below the speech;
* int8: bb.quantize turns the model into int8 arithmetic; the test accuracy is printed
  for both;
* --stream: an always-on spotter slides the 1 s window along the recording (every 100
  ms) and scores each position; a simple energy detector finds where sounds are, and
  each sound gets the scores of the windows whose centre is within 100 ms of its middle
  (training moved recordings by up to 150 ms), averaged: one detection per sound, none
  in the pauses.

Data: bb.datasets.load_fsdd, official split (test = takes 0-4, 300 recordings; train =
the other 2,700): from --data, $BB_DATA_DIR/fsdd, the cache, or downloaded when online.
Input WAV files must be 16-bit mono PCM at 8 kHz (FSDD's format).
"""
import argparse
import os
import sys
import time

import numpy as np

import braininabox as bb

PROG = "spoken_digits.py"
RATE = 8000
WINDOW = RATE                 # the front end's 1 s
FRAME = RATE * 30 // 1000     # 240 samples: shorter files are refused
FEATURE_DIVISOR = 32.0        # model input = mfcc.to_float(q) / 32: about -1..3
SPEECH_RMS = 50.0             # a 30 ms frame this loud (int16 RMS, -56 dBFS) counts as sound
STREAM_HOP = RATE // 10       # slide the window by 100 ms
MAX_SHIFT = RATE * 15 // 100  # augmentation: up to 150 ms off centre
MFCC = bb.audio.MFCC(RATE)


class InputError(ValueError):
    """A problem with the user's input: printed as one line, exit code 2."""


# ------------------------------------------------------------------------ features

def place(pcm):
    """A 1 s window holding the recording: centred when it is shorter, else its loudest
    second."""
    out = np.zeros(WINDOW, dtype=np.int16)
    if len(pcm) <= WINDOW:
        start = (WINDOW - len(pcm)) // 2
        out[start:start + len(pcm)] = pcm
        return out
    energy = np.cumsum(np.concatenate([[0.0], pcm.astype(np.float64) ** 2]))
    start = int(np.argmax(energy[WINDOW:] - energy[:-WINDOW]))
    return pcm[start:start + WINDOW].copy()


def features(windows):
    """Model inputs (N, 1, 49, 10) float32 of 1 s int16 windows."""
    return MFCC.to_float(MFCC.batch(windows)) / FEATURE_DIVISOR


def augment(pcm, rng):
    """One random hearing of a recording: faster or slower, louder or quieter, up to
    MAX_SHIFT off the centre of the window (a random second when it is longer), with
    background noise."""
    x = pcm.astype(np.float64)
    n = max(FRAME, int(round(len(x) / rng.uniform(0.9, 1.1))))
    x = np.interp(np.linspace(0, len(x) - 1, n), np.arange(len(x)), x) * rng.uniform(0.7, 1.3)
    rms = np.sqrt(np.mean(x ** 2))
    window = np.zeros(WINDOW)
    if len(x) >= WINDOW:
        start = int(rng.integers(0, len(x) - WINDOW + 1))
        window[:] = x[start:start + WINDOW]
    else:
        centred = (WINDOW - len(x)) // 2
        start = int(np.clip(centred + rng.integers(-MAX_SHIFT, MAX_SHIFT + 1), 0, WINDOW - len(x)))
        window[start:start + len(x)] = x
    if rng.random() < 0.8:
        window += rng.standard_normal(WINDOW) * rms * 10 ** (-rng.uniform(15, 40) / 20)
    return np.clip(np.rint(window), -32768, 32767).astype(np.int16)


# --------------------------------------------------------------------------- model

def conv_model():
    """Conv(32,3,same)-ReLU-MaxPool2-Conv(64,3,same)-ReLU-MaxPool2-Flatten-Dropout(0.25)-
    Linear(128)-ReLU-Linear(10): (1, 49, 10) -> (32, 24, 5) -> (64, 12, 2) -> 10 logits."""
    return bb.Sequential([
        bb.layers.Conv2D(32, kernel=3, padding="same"), bb.layers.ReLU(), bb.layers.MaxPool(2),
        bb.layers.Conv2D(64, kernel=3, padding="same"), bb.layers.ReLU(), bb.layers.MaxPool(2),
        bb.layers.Flatten(), bb.layers.Dropout(0.25),
        bb.layers.Linear(128), bb.layers.ReLU(), bb.layers.Linear(10)])


def softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(y, predicted):
    m = np.zeros((10, 10), dtype=np.int64)
    np.add.at(m, (y, predicted), 1)
    return m


def print_confusion(m):
    print("confusion matrix (rows: spoken digit, columns: predicted)")
    print("     " + "".join(f"{j:>5}" for j in range(10)))
    for i in range(10):
        print(f"{i:>5}" + "".join(f"{v:>5}" for v in m[i]))


def train(args):
    fsdd_train = bb.datasets.load_fsdd(args.data, split="train")
    fsdd_test = bb.datasets.load_fsdd(args.data, split="test")
    if args.subset:
        pick = np.random.default_rng(args.seed).permutation(len(fsdd_train.pcm))[:args.subset]
        fsdd_train = bb.datasets.FSDD([fsdd_train.pcm[i] for i in pick], fsdd_train.labels[pick],
                                      fsdd_train.speakers[pick], fsdd_train.takes[pick])
    y_train, y_test = fsdd_train.labels, fsdd_test.labels
    print(f"FSDD: {len(y_train):,} training and {len(y_test):,} test recordings "
          f"(speakers {', '.join(sorted(set(fsdd_test.speakers)))}); features "
          f"{MFCC.frames}x{MFCC.coefficients} int8, scale {MFCC.scale}, zero point {MFCC.zero_point}")
    X_test = features([place(p) for p in fsdd_test.pcm])

    bb.seed(args.seed)
    model = conv_model()
    model.compile(optimizer=bb.optimizers.Adam(lr=args.lr), loss=bb.loss.CrossEntropy(),
                  metrics=["accuracy"])
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        X = features([augment(p, rng) for p in fsdd_train.pcm])
        history = model.fit(X, y_train, epochs=1, batch_size=args.batch_size, verbose=0,
                            seed=args.seed * 1000 + epoch)
        test = float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))
        print(f"epoch {epoch}/{args.epochs}: loss {history.history['loss'][0]:.4f}, "
              f"train accuracy {100 * history.history['accuracy'][0]:.2f}% (augmented), "
              f"test accuracy {100 * test:.2f}% ({time.perf_counter() - start:.1f} s)", flush=True)
        model.optimizer.lr *= args.lr_decay

    predicted = model.predict(X_test).argmax(axis=1)
    float_accuracy = float(np.mean(predicted == y_test))
    calibration = features([place(p) for p in fsdd_train.pcm[:500]])
    q = bb.quantize(model, calibration)
    int8_accuracy = float(np.mean(q.predict(X_test).argmax(axis=1) == y_test))
    print(f"test accuracy: float {100 * float_accuracy:.2f}%, int8 {100 * int8_accuracy:.2f}% "
          f"({len(y_test)} recordings)")
    print_confusion(confusion_matrix(y_test, predicted))
    model.save(args.save)
    print(f"saved the model to {args.save}")
    return 0


# --------------------------------------------------------------------- prediction

def read_input(file):
    """The int16 samples of a user's WAV file, or InputError saying what is wrong."""
    if not os.path.isfile(file):
        raise InputError(f"{file}: no such file")
    try:
        pcm = bb.audio.read_wav(file, sample_rate=RATE)
    except ValueError as e:
        raise InputError(f"{e} (record or convert to 16-bit mono 8 kHz WAV, e.g. "
                         f"sox in.wav -r 8000 -c 1 -b 16 out.wav)") from None
    if len(pcm) < FRAME:
        raise InputError(f"{file}: {len(pcm)} samples ({len(pcm) / RATE:.3f} s) is shorter "
                         f"than one 30 ms frame ({FRAME} samples)")
    loudest = frame_rms(pcm).max()
    if loudest < SPEECH_RMS:
        level = 20 * np.log10(max(loudest, 1e-3) / 32768)
        raise InputError(f"{file}: no speech found (the loudest 30 ms is at {level:.0f} dBFS)")
    return pcm


def frame_rms(pcm):
    n = len(pcm) // FRAME
    x = pcm[:n * FRAME].astype(np.float64).reshape(n, FRAME)
    return np.sqrt(np.mean(x ** 2, axis=1))


def load_model(path):
    if not os.path.isfile(path):
        raise InputError(f"model {path} not found: train one first with --train "
                         f"(or give --model)")
    return bb.load(path)


def predict_wav(args):
    pcm = read_input(args.wav)
    model = load_model(args.model)
    p = softmax(model.predict(features([place(pcm)])))[0]
    digit = int(p.argmax())
    print(f"Prediction: {digit} (Confidence: {100 * p[digit]:.1f}%)")
    return 0


def speech_segments(pcm):
    """(start, end) sample ranges of sound: 30 ms frames louder than SPEECH_RMS, than 4x
    the background (the 10th percentile of the frames) and than 1/300 (-50 dB) of the
    loudest frame (speakers differ by 40 dB in FSDD), joined across gaps under 150 ms."""
    rms = frame_rms(pcm)
    loud = rms >= max(SPEECH_RMS, 4 * np.percentile(rms, 10), rms.max() / 300)
    segments = []
    for i in np.flatnonzero(loud):
        start, end = i * FRAME, (i + 1) * FRAME
        if segments and start - segments[-1][1] < RATE * 15 // 100:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    return [(a, b) for a, b in segments if b - a >= 2 * FRAME]


def stream(args):
    pcm = read_input(args.stream)
    model = load_model(args.model)
    # Every window start, 100 ms apart, with half a window of silence around the file so
    # that its first and last sounds can be centred too.
    padded = np.concatenate([np.zeros(WINDOW // 2, np.int16), pcm, np.zeros(WINDOW // 2, np.int16)])
    centres = np.arange(0, len(pcm) + 1, STREAM_HOP)   # window centres, in the file's samples
    probabilities = softmax(model.predict(features([padded[c:c + WINDOW] for c in centres])))
    heard = []
    for start, end in speech_segments(pcm):
        middle = (start + end) // 2
        near = np.abs(centres - middle) <= STREAM_HOP  # the 2-3 windows that hear it centred
        scores = probabilities[near].mean(axis=0)      # smoothed over those windows
        digit = int(scores.argmax())
        if scores[digit] >= args.threshold:
            heard.append(digit)
            print(f"{middle / RATE:6.2f} s: {digit} (Confidence: {100 * scores[digit]:.1f}%)")
    print(f"digits: {' '.join(map(str, heard)) if heard else 'none'}")
    return 0


# ---------------------------------------------------------------------- arguments

def build_parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="Train a spoken-digit spotter on FSDD, or run it on a WAV file.",
        epilog="Errors give one line and exit code 2.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train, test and save a model")
    mode.add_argument("--wav", metavar="FILE", help="predict the digit spoken in FILE")
    mode.add_argument("--stream", metavar="FILE", help="detect each digit in a longer FILE")
    p.add_argument("--model", default="spoken_digits.bb", help="model to use (default spoken_digits.bb)")
    p.add_argument("--save", default="spoken_digits.bb", help="where --train saves (default spoken_digits.bb)")
    p.add_argument("--epochs", type=int, default=40, help="passes over the training set (default 40)")
    p.add_argument("--batch-size", type=int, default=32, help="recordings per update (default 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    p.add_argument("--lr-decay", type=float, default=0.94,
                   help="multiply the learning rate by this after each epoch (default 0.94)")
    p.add_argument("--subset", type=int, default=None, help="train on N random training recordings")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="--stream: least smoothed confidence to report a digit (default 0.5)")
    p.add_argument("--data", default=None, help="FSDD recordings folder (default: $BB_DATA_DIR/fsdd, "
                                                "the cache, download)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return p


def check_args(args):
    for name in ("epochs", "batch_size", "subset"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if not (args.lr > 0 and 0 < args.lr_decay <= 1 and 0 <= args.threshold <= 1):
        raise InputError("--lr must be > 0, --lr-decay in (0, 1] and --threshold in [0, 1]")
    if args.train:
        folder = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(folder):
            raise InputError(f"--save {args.save}: folder {folder} does not exist")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        check_args(args)
        if args.train:
            return train(args)
        if args.wav:
            return predict_wav(args)
        return stream(args)
    except (InputError, bb.datasets.DatasetNotFoundError) as e:
        print(f"{PROG}: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
