"""Every Python snippet in README.md runs, exactly as written, in the order shown.

The snippets share one namespace, as a reader's session would. They use the names the
README introduces around them (X_train, y_train, X_test: MNIST as load_mnist returns
it); the test provides a small slice of those, so the snippets run in seconds.
"""
import re
import pathlib
import shutil

import numpy as np
import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def snippets():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets():
    assert len(snippets()) >= 3


def test_readme_snippets_run_as_written(mnist, tmp_path, monkeypatch):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None:
        pytest.skip("the int8 snippet runs on the QEMU board: needs arm-none-eabi-gcc and "
                    "qemu-system-arm (make system)")
    (X_train, y_train), (X_test, y_test) = mnist
    monkeypatch.chdir(tmp_path)  # snippets write files (mnist_cnn.h) where they run
    # the keyword-spotting snippet's 1 s int16 recordings (noise: it only has to run)
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((80, 8000)) * 1000).astype(np.int16)
    namespace = {"X_train": X_train[:512], "y_train": y_train[:512],
                 "X_test": X_test[:64], "y_test": y_test[:64],
                 "train_pcm": pcm[:64], "train_digits": rng.integers(0, 10, 64), "test_pcm": pcm[64:]}
    for i, code in enumerate(snippets()):
        try:
            exec(compile(code, f"README.md snippet {i + 1}", "exec"), namespace)
        except Exception as exc:  # name the snippet: the traceback alone says "<string>"
            raise AssertionError(f"README.md snippet {i + 1} failed: {exc!r}\n{code}") from exc
    r = namespace["r"]
    assert np.array_equal(r.outputs_int8, namespace["q"].predict_int8(X_test[:10]))
    assert (tmp_path / "mnist_cnn.h").is_file()
