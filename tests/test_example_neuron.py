"""Tests for examples/manual_neuron.py: a pure-Python perceptron learning logic gates."""
import ast
import re
import sys
from pathlib import Path

import pytest
from example_support import call_main, load_example, run_example

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "manual_neuron.py"
TRUTH = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "NOR": [1, 0, 0, 0],
         "XOR": [0, 1, 1, 0]}
ROWS = [(0, 0), (0, 1), (1, 0), (1, 1)]
UPDATE = re.compile(r"^Epoch (\d+): Input=\[([01]),([01])\] Target=([01]) Predicted=([01]) "
                    r"Error=(-?1) -> UPDATING weights$")
WEIGHTS = re.compile(r"w1=([-+]\d+\.\d+), w2=([-+]\d+\.\d+), bias=([-+]\d+\.\d+)")


neuron = load_example("manual_neuron")


def run_main(capsys, *args):
    return call_main(neuron, capsys, args)


def run_script(*args):
    return run_example("manual_neuron", *args)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_separable_gates_are_solved(capsys, gate, seed):
    code, out, err = run_main(capsys, "--gate", gate, "--seed", str(seed))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert any(line.startswith("Starting weights (random): ") for line in lines)
    solved = [line for line in lines if re.fullmatch(r"Epoch \d+: Solved!", line)]
    assert len(solved) == 1
    table = [line for line in lines if re.fullmatch(r"\[[01], [01]\] -> [01] \(.*\)", line)]
    assert table == [f"[{a}, {b}] -> {t} (Correct)" for (a, b), t in zip(ROWS, TRUTH[gate])]

    # every printed update is a real mistake on the gate's truth table
    updates = [UPDATE.match(line) for line in lines if "UPDATING" in line]
    assert all(updates)
    for m in updates:
        a, b, target, predicted, error = (int(g) for g in m.groups()[1:])
        assert target == TRUTH[gate][ROWS.index((a, b))]
        assert predicted != target and error == target - predicted
    epochs = [int(m.group(1)) for m in updates]
    assert epochs == sorted(epochs)
    assert int(solved[0].split()[1].rstrip(":")) == (max(epochs) + 1 if epochs else 1)

    # the printed final weights really implement the gate
    final = next(line for line in lines if line.startswith("Final weights:"))
    w1, w2, bias = (float(v) for v in WEIGHTS.search(final).groups())
    for (a, b), target in zip(ROWS, TRUTH[gate]):
        assert (1 if w1 * a + w2 * b + bias > 0 else 0) == target


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_every_start_shows_learning(capsys, gate):
    """A random start that already computes the gate is drawn again: the run always
    shows at least one update (OR with the default seed used to be solved at epoch 1)."""
    for seed in [None, *range(20)]:
        args = ["--gate", gate] + ([] if seed is None else ["--seed", str(seed)])
        code, out, _ = run_main(capsys, *args)
        assert code == 0
        assert "UPDATING" in out, (gate, seed)
        assert "Epoch 1: Solved!" not in out


def test_updates_follow_the_perceptron_rule(capsys):
    code, out, _ = run_main(capsys, "--gate", "NAND", "--seed", "0", "--lr", "0.25")
    assert code == 0
    lines = out.splitlines()
    w = [float(v) for v in WEIGHTS.search(lines[1]).groups()]
    for i, line in enumerate(lines):
        m = UPDATE.match(line)
        if not m:
            continue
        a, b, error = int(m.group(2)), int(m.group(3)), int(m.group(6))
        expected = [w[0] + 0.25 * error * a, w[1] + 0.25 * error * b, w[2] + 0.25 * error]
        w = [float(v) for v in WEIGHTS.search(lines[i + 1]).groups()]
        assert w == pytest.approx(expected, abs=1e-4)


def test_xor_gives_up_and_explains(capsys):
    code, out, err = run_main(capsys, "--gate", "xor", "--seed", "3", "--max-epochs", "25")
    assert code == 1 and err == ""
    assert "Solved!" not in out
    assert "Gave up after 25 epochs" in out
    assert "not linearly separable" in out
    assert "hidden layer" in out
    assert max(int(m.group(1)) for m in map(UPDATE.match, out.splitlines()) if m) == 25
    assert "(Wrong, should be" in out  # the truth table shows the failure


def test_xor_default_bound_is_100_epochs(capsys):
    code, out, _ = run_main(capsys, "--gate", "XOR")
    assert code == 1 and "Gave up after 100 epochs" in out


def test_same_seed_same_run(capsys):
    first = run_main(capsys, "--gate", "OR", "--seed", "5")
    assert run_main(capsys, "--gate", "OR", "--seed", "5") == first
    assert run_main(capsys, "--gate", "OR", "--seed", "6")[1] != first[1]


def test_uses_the_standard_library_only():
    tree = ast.parse(SCRIPT.read_text())
    modules = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    modules |= {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom)}
    assert not modules & {"numpy", "braininabox"}
    if hasattr(sys, "stdlib_module_names"):  # Python 3.10+
        assert modules <= set(sys.stdlib_module_names)
    assert ast.get_docstring(tree) and "teaches" in ast.get_docstring(tree)


def test_script_end_to_end_and_help():
    result = run_script("--gate", "AND")
    assert result.returncode == 0, result.stderr
    assert "Solved!" in result.stdout and result.stdout.count("(Correct)") == 4
    help_ = run_script("--help")
    assert help_.returncode == 0
    assert "--gate" in help_.stdout and "XOR" in help_.stdout and "Exit codes" in help_.stdout


@pytest.mark.parametrize("args, message", [
    (["--gate", "XAND"], "invalid choice"),
    ([], "--gate"),
    (["--gate", "AND", "--lr", "0"], "--lr must be a positive number"),
    (["--gate", "AND", "--lr", "abc"], "invalid float"),
    (["--gate", "AND", "--max-epochs", "0"], "--max-epochs"),
])
def test_bad_command_lines_are_one_line_errors(capsys, args, message):
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_bad_command_line_through_the_script():
    result = run_script("--gate", "MAYBE")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
