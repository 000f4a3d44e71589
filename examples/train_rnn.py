"""Train a character-level recurrent network on a text, and let it write.

    python examples/train_rnn.py                             # tinyshakespeare.txt, LSTM, 20 minutes
    python examples/train_rnn.py --model gru --minutes 5 --temperature 0.6
    python examples/train_rnn.py --text my.txt --hidden 128 --seq-len 64 --minutes 2

What it teaches:

* a language model predicts the next character from the ones before it; its loss is
  the cross-entropy in nats per character (log(65) = 4.17 for a uniform guess over 65
  symbols; a good small model on Shakespeare gets below 1.6);
* the network: each character -> an Embedding vector -> a recurrent layer (RNN, LSTM
  or GRU) whose hidden state carries what it has read -> a linear layer to one score
  per symbol (logits);
* backpropagation through time, truncated: the text is cut into `--batch` long
  contiguous streams that are read side by side in chunks of `--seq-len` characters.
  The hidden state is carried from one chunk to the next (so the model sees long
  context) but gradients stop at the chunk boundary (so a step costs seq-len steps);
* gradient clipping (global norm) against the exploding gradients of recurrent nets,
  Adam, and a cosine learning-rate decay over the time budget;
* sampling with a temperature: probabilities softmax(logits / T); T < 1 is safer and
  more repetitive, T > 1 more adventurous; T = 0 always takes the most likely symbol;
* judging on text never trained on: the last 10 % of the file is held out.

Data: --text defaults to tinyshakespeare.txt (1,115,394 characters of Shakespeare's
plays, 65 symbols), looked for by braininabox.datasets.find_data_file in $BB_DATA_DIR,
then ~/.cache/braininabox/data/. Any UTF-8 text file works.
"""
import argparse
import json
import math
import os
import sys
import time

# One BLAS thread: the recurrence is a chain of small matrix products ((batch, hidden) @
# (hidden, 4 hidden)), which threads slow down (7x here on a busy 2-core machine) rather
# than speed up. Set OPENBLAS_NUM_THREADS yourself to override.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings, which numpy reads at import)

import braininabox as bb  # noqa: E402
from braininabox import functional as F  # noqa: E402
from braininabox.data.datasets import DatasetNotFoundError, find_data_file  # noqa: E402
from braininabox.nn.recurrent import GRU, LSTM, RNN, Embedding, clip_grad_norm  # noqa: E402

PROG = "train_rnn.py"
DEFAULT_TEXT = "tinyshakespeare.txt"
CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class UsageError(Exception):
    """Bad input: reported as one line, exit code 2."""


# ------------------------------------------------------------------ the data

def load_text(path):
    """The text of the file (UTF-8), or a UsageError saying why it cannot be used."""
    if path is None:
        path = find_data_file(DEFAULT_TEXT, hint="Pass --text FILE to train on another text.")
    if not os.path.isfile(path):
        raise UsageError(f"--text {path}: no such file")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise UsageError(f"--text {path}: not a UTF-8 text file ({e.reason} at byte {e.start})") from None
    if "\x00" in text:
        raise UsageError(f"--text {path}: holds NUL bytes; it looks like a binary file, not text")
    return str(path), text


class Vocabulary:
    """The distinct characters of a text, each given an integer id (sorted order)."""

    def __init__(self, chars):
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        try:
            return np.array([self.index[c] for c in text], dtype=np.int64)
        except KeyError as e:
            raise UsageError(f"character {e.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids):
        return "".join(self.chars[i] for i in ids)


def split_text(ids, val_fraction=0.1):
    """First 90 % to train on, the last 10 % held out."""
    cut = round(len(ids) * (1 - val_fraction))
    return ids[:cut], ids[cut:]


def streams(ids, batch):
    """ids cut into `batch` contiguous rows of equal length (the rest dropped)."""
    length = len(ids) // batch
    return ids[:batch * length].reshape(batch, length)


# ------------------------------------------------------------------ the model

class CharModel:
    """Embedding -> recurrent layer(s) -> linear to one logit per symbol, over (N, T)."""

    def __init__(self, vocab_size, model="lstm", hidden=256, layers=1, embed=64):
        if model not in CELLS:
            raise UsageError(f"--model must be one of {', '.join(CELLS)}, got {model!r}")
        self.config = {"vocab_size": vocab_size, "model": model, "hidden": hidden,
                       "layers": layers, "embed": embed}
        self.embedding = Embedding(vocab_size, embed)
        self.cells = []
        size = embed
        for _ in range(layers):
            self.cells.append(CELLS[model](hidden, input_size=size))
            size = hidden
        self.out = bb.layers.Linear(vocab_size, in_features=hidden)

    def parameters(self):
        return (self.embedding.parameters() + [p for c in self.cells for p in c.parameters()]
                + self.out.parameters())

    def __call__(self, ids, states=None):
        """Logits (N, T, vocab) for ids (N, T); states: one per layer (or None); returns
        logits and the final states (detached) to carry into the next chunk."""
        states = states or [None] * len(self.cells)
        h = self.embedding(ids)
        new_states = []
        for cell, state in zip(self.cells, states):
            h = cell(h, initial_state=state)
            new_states.append(cell.last_state)
        n, t, hidden = h.shape
        logits = F.linear(h.reshape(n * t, hidden), self.out.weight, self.out.bias)
        return logits.reshape(n, t, -1), new_states

    def save(self, path, vocab):
        header = {"config": self.config, "chars": vocab.chars}
        arrays = {f"param_{i}": p.data for i, p in enumerate(self.parameters())}
        with open(path, "wb") as f:
            np.savez(f, __header__=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path):
        """(model, vocabulary) from a file written by save(); a UsageError naming the file
        when it is missing, not such a model, or its arrays do not fit its configuration."""
        if not os.path.isfile(path):
            raise UsageError(f"--load {path}: no such file (write one with --save)")
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(str(archive["__header__"]))
                config, chars = header["config"], header["chars"]
                if not (isinstance(chars, list) and all(isinstance(c, str) and len(c) == 1
                                                        for c in chars)
                        and len(set(chars)) == len(chars) == config["vocab_size"]):
                    raise ValueError("its vocabulary does not match its configuration")
                model = cls(**config)
                for i, p in enumerate(model.parameters()):
                    stored = archive[f"param_{i}"]
                    if stored.shape != p.data.shape:
                        raise ValueError(f"parameter {i} has shape {stored.shape}, the "
                                         f"configuration needs {p.data.shape}")
                    p.data = np.ascontiguousarray(stored, dtype=np.float32)
                    if not np.all(np.isfinite(p.data)):
                        raise ValueError(f"parameter {i} holds NaN or infinity")
        except UsageError:
            raise
        except Exception as e:     # zip, npy, JSON, key and shape errors alike
            reason = "it holds pickled objects" if "pickle" in str(e) else str(e) or type(e).__name__
            raise UsageError(f"--load {path} is not a train_rnn.py model ({reason})") from None
        return model, Vocabulary(chars)

    def describe(self):
        c = self.config
        return (f"Embedding({c['vocab_size']}, {c['embed']}) -> {c['layers']} x "
                f"{c['model'].upper()}({c['hidden']}) -> Linear({c['vocab_size']})")


# ------------------------------------------------------------- loss and text

def evaluate(model, ids, batch=32, chunk=256):
    """Mean cross-entropy (nats per character) of predicting ids[1:] from what precedes,
    reading `batch` streams side by side with the state carried across chunks."""
    rows = streams(ids, min(batch, max(1, (len(ids) - 1) // 2)))
    inputs, targets = rows[:, :-1], rows[:, 1:]
    total, count, states = 0.0, 0, None
    with bb.no_grad():
        for start in range(0, inputs.shape[1], chunk):
            x, y = inputs[:, start:start + chunk], targets[:, start:start + chunk]
            logits, states = model(x, states)
            total += float(F.cross_entropy(logits, y).data) * y.size
            count += y.size
    return total / count


def sample(model, vocab, length=300, temperature=0.8, prime=None, rng=None):
    """Text the model writes after `prime` (default: a newline, or the first symbol of a
    vocabulary without one), one character at a time (state carried)."""
    if temperature < 0:
        raise UsageError(f"--temperature must be >= 0, got {temperature}")
    if prime is None:
        prime = "\n" if "\n" in vocab.index else vocab.chars[0]
    rng = rng or np.random.default_rng()
    ids = vocab.encode(prime) if prime else np.zeros(1, dtype=np.int64)
    out = []
    with bb.no_grad():
        logits, states = model(ids[None, :])
        for _ in range(length):
            z = logits.data[0, -1].astype(np.float64)
            if temperature == 0:
                nxt = int(np.argmax(z))
            else:
                z = z / temperature
                p = np.exp(z - z.max())
                nxt = int(rng.choice(len(p), p=p / p.sum()))
            out.append(nxt)
            logits, states = model(np.array([[nxt]]), states)
    return vocab.decode(out)


# ------------------------------------------------------------------ training

def sample_saved(args, log=print):
    """--load FILE --sample: write a sample with a saved model; no text, no training."""
    model, vocab = CharModel.load(args.load)
    prime = args.prime
    if prime is not None:
        try:
            vocab.encode(prime)
        except UsageError as e:
            raise UsageError(f"--prime: {e} of {args.load}") from None
    bb.seed(args.seed)
    log(f"Model: {args.load}: {model.describe()}, {len(vocab)} symbols")
    log(f"--- sample (temperature {args.temperature:g}, seed {args.seed}) ---")
    log((prime or "") + sample(model, vocab, args.sample_len, args.temperature, prime=prime,
                               rng=np.random.default_rng(args.seed)))
    log("---")


def train(args, log=print):
    path, text = load_text(args.text)
    if args.load:
        model, vocab = CharModel.load(args.load)
        unknown = sorted(set(text) - set(vocab.chars))
        if unknown:
            raise UsageError(f"--text {path} has {len(unknown)} characters the model in "
                             f"{args.load} does not know (e.g. {unknown[0]!r}); train a new "
                             "one on it instead")
    else:
        vocab = Vocabulary(sorted(set(text)))
    ids = vocab.encode(text)
    train_ids, val_ids = split_text(ids)
    need = args.batch * (args.seq_len + 1)
    if len(train_ids) < need or len(val_ids) < 2:
        raise UsageError(f"--text {path}: {len(text):,} characters is too short for --batch "
                         f"{args.batch} x --seq-len {args.seq_len} (needs over {need / 0.9:,.0f})")
    bb.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if not args.load:
        model = CharModel(len(vocab), args.model, args.hidden, args.layers, args.embed)
    params = model.parameters()
    optimizer = bb.optimizers.Adam(params, lr=args.lr)
    n_params = sum(p.size for p in params)
    log(f"Text: {path}: {len(text):,} characters, {len(vocab)} symbols; training on the "
        f"first {len(train_ids):,}, validating on the last {len(val_ids):,}")
    log(f"Model: {model.describe()}: {n_params:,} parameters"
        + (f" (loaded from {args.load}; training goes on from its weights)" if args.load else ""))
    log(f"Training: batch {args.batch} x seq-len {args.seq_len}, Adam lr {args.lr} "
        f"(cosine decay to {args.lr / 10:g}), clip {args.clip}, "
        + (f"{args.minutes:g} minutes" if args.steps is None else f"{args.steps} steps"))
    log(f"Validation loss before training: {evaluate(model, val_ids):.4f} nats/char "
        f"(uniform guess: {math.log(len(vocab)):.4f})")

    budget = args.minutes * 60.0
    start = time.time()
    step, epoch, position, states = 0, 0, None, None
    rows = None
    history = []
    smooth = None
    while True:
        elapsed = time.time() - start
        frac = step / args.steps if args.steps is not None else elapsed / budget
        if frac >= 1:
            break
        if rows is None or position + args.seq_len + 1 > rows.shape[1]:
            # A new pass: streams from a random offset, fresh (zero) state.
            offset = int(rng.integers(0, args.seq_len)) if epoch else 0
            rows = streams(train_ids[offset:], args.batch)
            epoch, position, states = epoch + 1, 0, None
        chunk = rows[:, position:position + args.seq_len + 1]
        position += args.seq_len
        optimizer.lr = args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        logits, states = model(chunk[:, :-1], states)
        loss = F.cross_entropy(logits, chunk[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(params, args.clip)
        optimizer.step()
        step += 1
        value = float(loss.data)
        smooth = value if smooth is None else 0.95 * smooth + 0.05 * value
        if step % args.eval_every == 0:
            val = evaluate(model, val_ids)
            history.append((step, time.time() - start, val))
            log(f"step {step:5d}  epoch {epoch}  {time.time() - start:6.0f} s  "
                f"train loss {smooth:.4f}  validation loss {val:.4f} nats/char")
        if args.sample_every and step % args.sample_every == 0:
            log(f"--- sample at step {step} (temperature {args.temperature:g}) ---")
            log(sample(model, vocab, args.sample_len, args.temperature, rng=rng))
            log("---")
    seconds = time.time() - start
    val = evaluate(model, val_ids)
    history.append((step, seconds, val))
    log(f"Done: {step} steps ({epoch} passes started, {step * args.batch * args.seq_len:,} "
        f"characters) in {seconds:.0f} s")
    log(f"Final validation loss: {val:.4f} nats/char ({val / math.log(2):.3f} bits/char)")
    log(f"--- final sample (temperature {args.temperature:g}) ---")
    log(sample(model, vocab, args.sample_len, args.temperature, rng=rng))
    log("---")
    if args.save:
        model.save(args.save, vocab)
        log(f"Saved the model to {args.save}")
    return model, vocab, history


def positive(kind):
    def parse(value):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
        return number
    return parse


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Character-level RNN / LSTM / GRU language model trained with truncated "
                    "backpropagation through time; prints samples and the validation loss "
                    "(the last 10% of the text) in nats per character.",
        epilog="To write with a saved model: --save FILE, then --load FILE --sample "
               "[--temperature T --sample-len N --prime TEXT --seed S]. A missing or unreadable "
               "--text or --load file gives one line and exit code 2.")
    parser.add_argument("--text", metavar="FILE",
                        help=f"UTF-8 text to learn (default: {DEFAULT_TEXT} from $BB_DATA_DIR "
                             f"or ~/.cache/braininabox/data)")
    parser.add_argument("--model", choices=sorted(CELLS), default="lstm",
                        help="recurrent cell (default lstm)")
    parser.add_argument("--hidden", type=positive(int), default=256, help="hidden units (default 256)")
    parser.add_argument("--layers", type=positive(int), default=1, help="stacked recurrent layers (default 1)")
    parser.add_argument("--embed", type=positive(int), default=64, help="embedding size (default 64)")
    parser.add_argument("--seq-len", type=positive(int), default=100,
                        help="characters per chunk: backpropagation through time stops there (default 100)")
    parser.add_argument("--batch", type=positive(int), default=32, help="streams read side by side (default 32)")
    parser.add_argument("--lr", type=positive(float), default=3e-3, help="Adam learning rate (default 0.003)")
    parser.add_argument("--clip", type=positive(float), default=5.0, help="global gradient-norm clip (default 5)")
    parser.add_argument("--minutes", type=positive(float), default=20.0, help="training time budget (default 20)")
    parser.add_argument("--steps", type=positive(int), default=None,
                        help="train for this many steps instead of --minutes")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="sampling temperature (default 0.8; 0 = always the most likely)")
    parser.add_argument("--sample-every", type=int, default=500, metavar="N",
                        help="print a sample every N steps (default 500; 0 = only at the end)")
    parser.add_argument("--sample-len", type=positive(int), default=400, help="characters per sample (default 400)")
    parser.add_argument("--eval-every", type=positive(int), default=200, metavar="N",
                        help="validation loss every N steps (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--save", metavar="FILE", help="write the trained model (npz) here")
    parser.add_argument("--load", metavar="FILE",
                        help="start from the model saved there with --save (its size and "
                             "vocabulary; --model/--hidden/--layers/--embed are not used); "
                             "with --sample only write a sample, otherwise train on from it")
    parser.add_argument("--sample", action="store_true",
                        help="with --load: print a sample of --sample-len characters at "
                             "--temperature and exit, no text and no training")
    parser.add_argument("--prime", default=None, metavar="TEXT",
                        help="with --sample: the text the sample starts from (default a newline)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.temperature < 0:
        print(f"{PROG}: error: --temperature must be >= 0, got {args.temperature:g}", file=sys.stderr)
        return 2
    if args.sample and not args.load:
        print(f"{PROG}: error: --sample writes with a saved model: give --load FILE "
              "(a model written with --save)", file=sys.stderr)
        return 2
    try:
        if args.sample:
            sample_saved(args)
        else:
            train(args)
        return 0
    except DatasetNotFoundError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
    except (UsageError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
