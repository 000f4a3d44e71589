"""Tests for examples/my_engine.py: the scalar autograd engine agrees with braininabox's
Tensor (float64) on many expressions, backprops through very deep graphs without
recursion, and its MLP learns two moons."""
import ast
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from example_support import load_example, run_example

from braininabox import Tensor

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "my_engine.py"




engine = load_example("my_engine")
Value = engine.Value


def run_script(*args):
    return run_example("my_engine", *args, timeout=120)


# Each expression takes three leaves and uses only what Value and Tensor share.
def reused(a, b, c):
    d = a * b           # d feeds four places: its gradient must accumulate
    return d * d + d.exp() - d / c + d.tanh()


EXPRESSIONS = {
    "classic": (lambda a, b, c: a * b + c, (2.0, -3.0, 10.0)),
    "division": (lambda a, b, c: (a / b) / (c - a) + 1 / c - a / 3, (1.3, -0.7, 2.1)),
    "powers": (lambda a, b, c: (a ** 3) * (c ** -1.5) + b ** 2 - (a * c) ** 0.5, (1.3, -0.7, 2.1)),
    "value_powers": (lambda a, b, c: a ** c + 2 ** b - c ** (a * b), (1.3, -0.7, 2.1)),
    "exp_log_tanh": (lambda a, b, c: ((a * b).exp() + c).log().tanh() * (c.log() - a.exp()),
                     (0.4, -1.2, 1.7)),
    "relu_chain": (lambda a, b, c: ((a * c + b).relu() * a - (b * 5).relu()).tanh() * c,
                   (1.1, -0.3, 0.9)),
    "relu_dead": (lambda a, b, c: (a - 5).relu() + (b + c).relu() * a, (1.0, 2.0, -0.5)),
    "reflected": (lambda a, b, c: 3 - a + 2 * b - (1 - c) / (4 + a) + 5 / b, (0.8, 1.9, -0.6)),
    "negation": (lambda a, b, c: -(-a * b) - (-c).exp(), (0.5, 1.5, -2.5)),
    "reused_node": (reused, (0.6, -0.9, 1.4)),
    "same_leaf_twice": (lambda a, b, c: a * a * a + a / a + b * b, (1.7, -2.0, 0.3)),
    "tanh_mlp_neuron": (lambda a, b, c: (a * 0.3 + b * -0.8 + c * 1.1 + 0.2).tanh() * 2
                        - ((a * -0.5 + c).tanh() - 1) ** 2, (0.2, -0.4, 0.9)),
    "logistic_loss": (lambda a, b, c: (1 + (-1 * (a * b + c)).exp()).log(), (0.3, 2.0, -1.0)),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_gradients_match_braininabox_tensor(name):
    f, inputs = EXPRESSIONS[name]
    values = [Value(v) for v in inputs]
    out = f(*values)
    out.backward()

    tensors = [Tensor(v, requires_grad=True, dtype=np.float64) for v in inputs]
    reference = f(*tensors)
    reference.backward()

    assert out.data == pytest.approx(float(reference.data), rel=1e-9, abs=1e-12)
    for value, tensor in zip(values, tensors):
        expected = 0.0 if tensor.grad is None else float(tensor.grad)
        assert value.grad == pytest.approx(expected, rel=1e-6, abs=1e-6), name


def test_classic_example():
    x, y, z = Value(2.0), Value(-3.0), Value(10.0)
    f = x * y + z
    f.backward()
    assert (f.data, x.grad, y.grad, z.grad) == (4.0, -3.0, 2.0, 1.0)


def test_deep_chain_backprops_without_recursion():
    depth = 5000
    assert sys.getrecursionlimit() < 2 * depth  # a recursive sort would blow up here
    x = Value(0.3)
    t = Tensor(0.3, requires_grad=True, dtype=np.float64)
    v, w = x, t
    for _ in range(depth):
        v = (v * 0.999 + 0.001).tanh() + v * 0.5
        w = (w * 0.999 + 0.001).tanh() + w * 0.5
    v.backward()
    w.backward()
    assert len(v.topological_order()) > 4 * depth
    assert x.grad == pytest.approx(float(t.grad), rel=1e-6, abs=1e-12)


def test_simple_deep_chain_gradient_is_exact():
    x = Value(1.0)
    v = x
    for _ in range(5000):
        v = v * 1.0001
    v.backward()
    assert x.grad == pytest.approx(1.0001 ** 5000, rel=1e-9)


def test_topological_order_is_deterministic_and_inputs_come_first():
    def build():
        a, b = Value(1.5), Value(-2.0)
        c = a * b + a
        return (c.tanh() * c + b.exp()) / (a + 3)

    first, second = build().topological_order(), build().topological_order()
    assert [n._op for n in first] == [n._op for n in second]
    assert [n.data for n in first] == [n.data for n in second]
    position = {id(n): i for i, n in enumerate(first)}
    assert len(position) == len(first)  # every node once
    for node in first:
        for parent in node._prev:
            assert position[id(parent)] < position[id(node)]


def test_backward_twice_gives_the_same_gradients():
    a, b = Value(0.7), Value(-1.1)
    out = (a * b).tanh() + a ** 2
    out.backward()
    first = (a.grad, b.grad)
    out.backward()
    assert (a.grad, b.grad) == first


def test_domain_errors_are_clear():
    with pytest.raises(ValueError, match="log of a non-positive"):
        Value(-1.0).log()
    with pytest.raises(ValueError, match="not a real number"):
        Value(-2.0) ** 0.5


def test_division_by_zero_says_so():
    for divide in (lambda: Value(2) / 0, lambda: 2 / Value(0), lambda: Value(2) / Value(0.0)):
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            divide()
    assert (Value(3) / Value(-2)).data == -1.5      # other divisions unchanged


def test_engine_uses_the_standard_library_only():
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    assert not modules & {"numpy", "braininabox", "torch"}
    doc = ast.get_docstring(tree)
    assert doc and "What it teaches" in doc


def test_running_the_file_prints_the_example_and_learns_two_moons():
    result = run_script()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "f = x*y + z = 4.0" in out
    assert re.search(r"^x\.grad = -3\.0\b", out, re.MULTILINE)
    assert re.search(r"^y\.grad = 2\.0\b", out, re.MULTILINE)
    assert re.search(r"^z\.grad = 1\.0\b", out, re.MULTILINE)
    losses = [float(v) for v in re.findall(r"^epoch +\d+: loss (\d+\.\d+)", out, re.MULTILINE)]
    assert len(losses) >= 3 and losses[-1] < losses[0] / 5
    accuracy = float(re.search(r"^Final accuracy: (\d+\.\d)%", out, re.MULTILINE).group(1))
    assert accuracy >= 95.0


def test_help_and_bad_arguments():
    result = run_script("--help")
    assert result.returncode == 0 and "--epochs" in result.stdout and "--seed" in result.stdout
    result = run_script("--epochs", "zero")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    result = run_script("--samples", "1")
    assert result.returncode == 2 and "--samples" in result.stderr
