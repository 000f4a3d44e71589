"""examples/train_resnet8_fashion.py, run tiny (300 images, 1 epoch): its output, and
that the saved file loads back as a Model. Fashion-MNIST comes from $BB_DATA_DIR, the
cache or the Debian package; nothing is downloaded (BB_OFFLINE=1) and the test is skipped,
saying why, when it is missing. The full run's accuracy is in examples/README.md."""
import re

import pytest

import braininabox as bb
from example_support import call_main, load_example

example = load_example("train_resnet8_fashion")


def test_tiny_run_prints_the_summary_and_accuracy_and_saves_a_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BB_OFFLINE", "1")
    try:
        bb.datasets.load_fashion_mnist()
    except bb.datasets.DatasetNotFoundError as exc:
        pytest.skip(f"Fashion-MNIST is not available: {str(exc).splitlines()[0]}")
    path = tmp_path / "r8.bb"
    code, out, _ = call_main(example, capsys, ["--epochs", "1", "--subset", "300",
                                               "--test-subset", "200", "--save", str(path)])
    assert code in (None, 0)
    assert "Total MACs: 9,345,920" in out             # ResNet-8 at 28x28
    accuracy = float(re.search(r"test accuracy after 1 epochs: ([0-9.]+)", out).group(1))
    assert 0.0 <= accuracy <= 1.0
    assert "bb.load gives a Model with the same predictions" in out
    assert type(bb.load(path)) is bb.Model
    int8 = float(re.search(r"int8 test accuracy: ([0-9.]+) \(\d+ int8 ops", out).group(1))
    assert abs(int8 - accuracy) <= 0.05  # 200 test images: within 10 of them
    code, out, _ = call_main(example, capsys, ["--subset", "300", "--test-subset", "200",
                                               "--load", str(path)])
    assert f"float test accuracy: {accuracy:.4f}" in out and f"int8 test accuracy: {int8:.4f}" in out
