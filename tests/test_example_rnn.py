"""Tests for examples/train_rnn.py: a tiny run on a synthetic text (output format,
validation loss going down, samples), sampling with a temperature, save/load of the
character model, and one-line errors with exit code 2."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from example_support import load_example

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "train_rnn.py")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
tr = load_example("train_rnn")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("BB_DATA_DIR", raising=False)
    monkeypatch.setenv("BB_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def play_text(path, lines=400, seed=0):
    """A small play: speaker names in capitals, a colon, a line of words, a blank line."""
    rng = np.random.default_rng(seed)
    speakers = ["ROMEO", "JULIET", "NURSE"]
    words = ["love", "night", "the", "sweet", "my", "lord", "and", "is", "fair"]
    parts = []
    for _ in range(lines):
        line = " ".join(rng.choice(words, size=rng.integers(3, 7)))
        parts.append(f"{rng.choice(speakers)}:\n{line.capitalize()}.\n\n")
    path.write_text("".join(parts), encoding="utf-8")
    return str(path)


TINY = ["--hidden", "32", "--embed", "8", "--batch", "8", "--seq-len", "24", "--lr", "0.01",
        "--steps", "60", "--eval-every", "20", "--sample-every", "30", "--sample-len", "60"]


def test_tiny_run_prints_decreasing_validation_loss_and_samples(tmp_path, capsys):
    text = play_text(tmp_path / "play.txt")
    assert tr.main(["--text", text] + TINY) == 0
    out = capsys.readouterr().out
    assert re.search(r"Text: .*play\.txt: [\d,]+ characters, \d+ symbols", out)
    assert "LSTM(32)" in out
    before = float(re.search(r"Validation loss before training: ([\d.]+) nats/char", out).group(1))
    during = [float(v) for v in re.findall(r"^step +\d+ .*validation loss ([\d.]+) nats/char$",
                                           out, re.MULTILINE)]
    final = float(re.search(r"Final validation loss: ([\d.]+) nats/char", out).group(1))
    assert len(during) == 3
    assert before > during[0] > during[-1] - 0.05 and final < before - 1.0
    assert out.count("--- sample at step") == 2 and "--- final sample (temperature 0.8) ---" in out
    final_sample = out.split("--- final sample (temperature 0.8) ---\n")[1].split("\n---")[0]
    assert len(final_sample) == 60


@pytest.mark.parametrize("model", ["rnn", "gru"])
def test_other_cells_train(tmp_path, capsys, model):
    text = play_text(tmp_path / "play.txt")
    assert tr.main(["--text", text, "--model", model, "--sample-every", "0"] + TINY[:-6]
                   + ["--eval-every", "60", "--sample-len", "20"]) == 0
    out = capsys.readouterr().out
    assert f"{model.upper()}(32)" in out and "--- sample at step" not in out
    assert float(re.search(r"Final validation loss: ([\d.]+)", out).group(1)) < 2.5


def test_sampling_with_temperature(tmp_path):
    text = play_text(tmp_path / "play.txt")
    args = tr.build_parser().parse_args(["--text", text, "--sample-every", "0"] + TINY[:-6]
                                        + ["--eval-every", "60", "--steps", "150"])
    model, vocab, _ = tr.train(args, log=lambda *a: None)
    greedy = tr.sample(model, vocab, 80, temperature=0)
    assert greedy == tr.sample(model, vocab, 80, temperature=0)  # deterministic
    cool = tr.sample(model, vocab, 200, 0.5, rng=np.random.default_rng(1))
    assert cool == tr.sample(model, vocab, 200, 0.5, rng=np.random.default_rng(1))
    assert len(cool) == 200 and set(cool) <= set(vocab.chars)
    assert re.search(r"(ROMEO|JULIET|NURSE):\n", cool)  # it learned the layout
    hot = tr.sample(model, vocab, 200, 5.0, rng=np.random.default_rng(1))
    assert len(set(hot)) > len(set(cool))  # a high temperature flattens the distribution
    with pytest.raises(tr.UsageError, match="temperature must be >= 0"):
        tr.sample(model, vocab, 10, -1)


def test_save_and_load_character_model(tmp_path, capsys):
    text = play_text(tmp_path / "play.txt")
    path = tmp_path / "char.npz"
    assert tr.main(["--text", text, "--save", str(path), "--steps", "5", "--sample-every", "0",
                    "--hidden", "16", "--batch", "4", "--seq-len", "10"]) == 0
    assert f"Saved the model to {path}" in capsys.readouterr().out
    model, vocab = tr.CharModel.load(path)
    assert model.config["hidden"] == 16 and len(vocab) == len(set((tmp_path / "play.txt").read_text()))
    ids = vocab.encode("ROMEO:\nlove")[None]
    logits, _ = model(ids)
    again, _ = tr.CharModel.load(path)[0](ids)
    np.testing.assert_array_equal(logits.data, again.data)
    assert logits.shape == (1, 11, len(vocab))


def run_error(capsys, argv):
    code = tr.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_file_is_one_line_error(tmp_path, capsys):
    line = run_error(capsys, ["--text", str(tmp_path / "nope.txt")])
    assert line.startswith("train_rnn.py: error:") and "nope.txt" in line


def test_default_file_not_found_is_one_line_error(capsys):
    line = run_error(capsys, ["--steps", "1"])
    assert "tinyshakespeare.txt" in line and "--text" in line


def test_binary_and_too_short_files_are_refused(tmp_path, capsys):
    binary = tmp_path / "b.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    assert "not a UTF-8 text file" in run_error(capsys, ["--text", str(binary)])
    nul = tmp_path / "n.txt"
    nul.write_bytes(b"abc\x00def" * 100)
    assert "binary file" in run_error(capsys, ["--text", str(nul)])
    short = tmp_path / "s.txt"
    short.write_text("hello world\n")
    assert "too short" in run_error(capsys, ["--text", str(short)])


def test_bad_options_exit_2():
    for argv in (["--hidden", "0"], ["--model", "transformer"], ["--temperature", "-1"]):
        proc = subprocess.run([sys.executable, SCRIPT] + argv, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": ROOT}, timeout=60, check=False)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert "error" in proc.stderr


@pytest.fixture
def saved_model(tmp_path, capsys):
    text = play_text(tmp_path / "play.txt")
    path = tmp_path / "char.npz"
    assert tr.main(["--text", text, "--save", str(path), "--steps", "30", "--sample-every", "0",
                    "--hidden", "16", "--batch", "4", "--seq-len", "10", "--lr", "0.01"]) == 0
    capsys.readouterr()
    return text, path


def test_sample_from_a_saved_model_on_the_command_line(saved_model, capsys):
    text, path = saved_model
    argv = ["--load", str(path), "--sample", "--sample-len", "80", "--seed", "3"]
    assert tr.main(argv) == 0
    out = capsys.readouterr().out
    assert f"Model: {path}: Embedding(" in out and "LSTM(16)" in out
    assert "Text:" not in out and "step " not in out                 # no training
    body = out.split("---\n")[1]
    assert len(body) == 80 + 1                      # 80 characters, then the line's end
    assert set(body) <= set(open(text).read())
    assert tr.main(argv) == 0 and capsys.readouterr().out == out      # seeded
    # temperature 0 and a prime: exactly what sample() gives with the loaded model
    assert tr.main(["--load", str(path), "--sample", "--temperature", "0", "--prime", "ROMEO:",
                    "--sample-len", "40"]) == 0
    out = capsys.readouterr().out
    model, vocab = tr.CharModel.load(path)
    assert "ROMEO:" + tr.sample(model, vocab, 40, 0.0, prime="ROMEO:") in out


def test_load_without_sample_trains_on_from_the_saved_weights(saved_model, capsys):
    text, path = saved_model
    model, vocab = tr.CharModel.load(path)
    val = tr.evaluate(model, tr.split_text(vocab.encode(open(text).read()))[1])
    assert tr.main(["--text", text, "--load", str(path), "--steps", "2", "--sample-every", "0",
                    "--batch", "4", "--seq-len", "10", "--sample-len", "5"]) == 0
    out = capsys.readouterr().out
    assert f"(loaded from {path}; training goes on from its weights)" in out
    assert f"Validation loss before training: {val:.4f}" in out


def test_load_and_sample_errors(saved_model, tmp_path, capsys):
    text, path = saved_model
    assert "--sample writes with a saved model: give --load" in run_error(capsys, ["--sample"])
    assert "no such file" in run_error(capsys, ["--load", str(tmp_path / "no.npz"), "--sample"])
    for content in (b"garbage", path.read_bytes()[:200]):
        bad = tmp_path / "bad.npz"
        bad.write_bytes(content)
        line = run_error(capsys, ["--load", str(bad), "--sample"])
        assert "is not a train_rnn.py model" in line and "allow_pickle" not in line
    np.savez(tmp_path / "obj.npz", __header__=np.array([{"a": 1}], dtype=object))
    line = run_error(capsys, ["--load", str(tmp_path / "obj.npz"), "--sample"])
    assert "is not a train_rnn.py model" in line and "allow_pickle" not in line
    assert "not in the vocabulary" in run_error(
        capsys, ["--load", str(path), "--sample", "--prime", "\u00e9"])
    other = tmp_path / "other.txt"
    other.write_text("xyz 0123 " * 2000)
    assert "does not know" in run_error(capsys, ["--load", str(path), "--text", str(other)])


def test_help_says_10_percent_once():
    proc = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT}, timeout=60, check=False)
    assert proc.returncode == 0
    assert "%%" not in proc.stdout and "10%" in proc.stdout
    for option in ("--load", "--sample", "--prime"):
        assert option in proc.stdout


def test_split_and_streams():
    ids = np.arange(100)
    train, val = tr.split_text(ids)
    assert len(train) == 90 and val[0] == 90
    rows = tr.streams(np.arange(10), 3)
    np.testing.assert_array_equal(rows, [[0, 1, 2], [3, 4, 5], [6, 7, 8]])
