"""Tests for examples/descent.py: the formula parser, autograd gradients, and the descent
outcomes (minimum found, diverged, stalled, domain error) on a bowl, Rosenbrock and
Himmelblau."""
import ast
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from example_support import call_main, load_example, run_example

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "examples" / "descent.py"
FOUND = re.compile(r"^Found minimum at x=(-?\d+\.\d+), y=(-?\d+\.\d+) \(Loss: (\S+)\)$",
                   re.MULTILINE)
STEP = re.compile(r"^Step (\d+): Grad=\[(-?\d+\.\d+), (-?\d+\.\d+)\] -> Move to "
                  r"x=(-?\d+\.\d+), y=(-?\d+\.\d+)$")
BOWL = "x^2 + y^2"
ROSENBROCK = "(1-x)^2 + 100*(y-x^2)^2"
ROSENBROCK_SETTINGS = ["--lr", "0.001", "--momentum", "0.9", "--start=-1.2,1", "--steps", "5000"]
HIMMELBLAU = "(x^2+y-11)^2 + (x+y^2-7)^2"
HIMMELBLAU_MINIMA = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                     (3.584428, -1.848126)]


descent = load_example("descent")


@pytest.fixture(autouse=True)
def no_display_and_a_scratch_folder(monkeypatch, tmp_path):
    """Runs without --plot save ./descent.png when there is no display: keep it in tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(descent.sys, "platform", "linux")


def run_main(capsys, *args):
    return call_main(descent, capsys, args)


def run_script(*args):
    return run_example("descent", *args)


def found(out):
    m = FOUND.search(out)
    assert m, out[-2000:]
    return float(m.group(1)), float(m.group(2))


def value(formula, x, y):
    return float(descent.evaluate(descent.parse(formula), np.float64(x), np.float64(y)))


# ------------------------------------------------------------------------- parser
@pytest.mark.parametrize("formula, x, y, expected", [
    ("x^2 + y^2", 3, 4, 25),
    ("-x^2", 3, 0, -9),              # ^ binds tighter than unary minus
    ("(-x)^2", 3, 0, 9),
    ("2^3^2", 0, 0, 512),            # right-associative
    ("x^-2", 2, 0, 0.25),
    ("2^-x^2", 1, 0, 0.5),
    ("1 - 2 - 3", 0, 0, -4),         # left-associative
    ("8 / 4 / 2", 0, 0, 1),
    ("2 + 3 * 4", 0, 0, 14),
    ("-2 * -3", 0, 0, 6),
    ("--x", 5, 0, 5),
    ("+x", 5, 0, 5),
    ("1e-3 * x + .5 + 2.", 1000, 0, 3.5),
    ("1E+2", 0, 0, 100),
    ("sin(x)^2 + cos(x)^2", 0.7, 0, 1),
    ("exp(log(x)) * sqrt(y) + abs(-y)", 2.5, 9, 2.5 * 3 + 9),
    ("  x*y ", 3, 4, 12),
    ("(1-x)^2 + 100*(y-x^2)^2", 1, 1, 0),
    ("(x^2+y-11)^2 + (x+y^2-7)^2", 3, 2, 0),
])
def test_grammar_and_precedence(formula, x, y, expected):
    assert value(formula, x, y) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_ast_shape():
    assert descent.parse("-x^2") == ("neg", ("bin", "^", ("var", "x"), ("num", 2.0)))
    assert descent.parse("2^3^4") == ("bin", "^", ("num", 2.0),
                                      ("bin", "^", ("num", 3.0), ("num", 4.0)))


@pytest.mark.parametrize("formula, fragments", [
    ("__import__('os')", ["unknown name '__import__'", "position 1"]),
    ("x; y", ["';'", "position 2"]),
    ("2**3", ["'**'", "position 2", "not part of the grammar", "'^'"]),
    ("foo(x)", ["unknown name 'foo'", "position 1"]),
    ("x + tan(y)", ["unknown name 'tan'", "position 5"]),
    ("2x", ["'x'", "position 2", "2*x"]),
    ("x +", ["ends too early", "position 4"]),
    ("(x + y", ["'(' at position 1 is never closed"]),
    ("x)", ["')'", "position 2"]),
    ("", ["ends too early"]),
    ("sin x", ["'(' after sin", "position 5"]),
    ("x ^ ^ 2", ["'^'", "position 5"]),
    ("x.y", ["'.'", "position 2"]),
    ("x = 1", ["'='", "position 3"]),
    ("1e999", ["too large"]),
    pytest.param("(" * 300 + "x" + ")" * 300, ["nests deeper"], id="deep-nesting"),
    pytest.param("x+" * 600 + "x", ["1201 characters long", "limit is 1000"], id="too-long"),
])
def test_refusals_are_one_line_naming_token_and_position(capsys, formula, fragments):
    with pytest.raises(descent.FormulaError) as info:
        descent.parse(formula)
    for fragment in fragments:
        assert fragment in str(info.value)
    code, out, err = run_main(capsys, "--func", formula, "--lr", "0.1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("descent.py: error: bad --func")
    for fragment in fragments:
        assert fragment in err


def test_refusal_through_the_script_has_no_traceback():
    result = run_script("--func", "__import__('os').system('echo hacked')", "--lr", "0.1")
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "unknown name '__import__' at position 1" in result.stderr


def test_nothing_is_executed_as_code():
    tree = ast.parse(SCRIPT.read_text())
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}


# ----------------------------------------------------------------- autograd gradient
@pytest.mark.parametrize("formula, grad", [
    ("x^2 + y^2", lambda x, y: (2 * x, 2 * y)),
    ("x*y + sin(x) - exp(y)/3", lambda x, y: (y + math.cos(x), x - math.exp(y) / 3)),
    ("(1-x)^2 + 100*(y-x^2)^2",
     lambda x, y: (-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x))),
    ("x^y", lambda x, y: (y * x ** (y - 1), x ** y * math.log(x))),
    ("log(x) * sqrt(y) + abs(x - y)", lambda x, y: (math.sqrt(y) / x + 1, math.log(x) / (2 * math.sqrt(y)) - 1)),
    ("7", lambda x, y: (0.0, 0.0)),
    ("x^3", lambda x, y: (3 * x * x, 0.0)),
])
def test_gradients_come_from_autograd(formula, grad):
    loss, gx, gy = descent.loss_and_grad(descent.parse(formula), 1.7, 0.6)
    assert loss == pytest.approx(value(formula, 1.7, 0.6), rel=1e-12)
    assert (gx, gy) == pytest.approx(grad(1.7, 0.6), rel=1e-9)


def test_constant_exponent_allows_negative_base():
    loss, gx, _ = descent.loss_and_grad(descent.parse("x^3"), -2.0, 0.0)
    assert loss == -8 and gx == pytest.approx(12)


# ------------------------------------------------------------------------ descents
def test_bowl_finds_the_origin(capsys):
    code, out, err = run_main(capsys, "--func", BOWL, "--lr", "0.1")
    assert code == 0 and err == ""
    assert found(out) == (0.0, 0.0)
    steps = [STEP.match(line) for line in out.splitlines() if line.startswith("Step ")]
    assert all(steps)
    numbers = [int(m.group(1)) for m in steps]
    assert numbers[:10] == list(range(1, 11))
    assert len(numbers) < 20  # throttled
    first = steps[0]
    assert [float(v) for v in first.groups()[1:]] == [6.0, 8.0, 2.4, 3.2]
    assert "Converged after" in out


def test_printing_is_throttled_first_ten_every_nth_and_last(capsys):
    code, out, _ = run_main(capsys, "--func", "x", "--lr", "0.01", "--steps", "95",
                            "--print-every", "20")
    assert code == 1 and "Used up the 95 steps" in out
    numbers = [int(m.group(1)) for m in map(STEP.match, out.splitlines()) if m]
    assert numbers == list(range(1, 11)) + [20, 40, 60, 80, 95]


def test_rosenbrock_with_the_documented_settings(capsys):
    code, out, _ = run_main(capsys, "--func", ROSENBROCK, *ROSENBROCK_SETTINGS)
    assert code == 0
    x, y = found(out)
    assert math.hypot(x - 1, y - 1) < 0.05


def test_rosenbrock_settings_are_documented():
    text = SCRIPT.read_text()
    assert "--lr 0.001 --momentum 0.9 --start=-1.2,1 --steps 5000" in text
    readme = REPO / "examples" / "README.md"
    assert "--lr 0.001 --momentum 0.9 --start=-1.2,1 --steps 5000" in readme.read_text()


@pytest.mark.parametrize("start, expected", [
    ("1,1", (3.0, 2.0)),
    ("-1,1", (-2.805118, 3.131312)),
    ("-1,-1", (-3.779310, -3.283186)),
    ("1,-1", (3.584428, -1.848126)),
])
def test_himmelblau_reaches_the_minimum_of_its_basin(capsys, start, expected):
    code, out, _ = run_main(capsys, "--func", HIMMELBLAU, "--lr", "0.01", f"--start={start}")
    assert code == 0
    x, y = found(out)
    nearest = min(HIMMELBLAU_MINIMA, key=lambda m: math.hypot(x - m[0], y - m[1]))
    assert math.hypot(x - nearest[0], y - nearest[1]) < 1e-3
    assert nearest == expected


def test_divergence_says_the_learning_rate_is_too_high(capsys):
    code, out, err = run_main(capsys, "--func", BOWL, "--lr", "1.5")
    assert code == 1 and err == ""
    assert "Diverged at step" in out and "too high" in out and "--lr 0.15" in out
    assert not FOUND.search(out)


def test_unbounded_function_is_not_blamed_on_the_learning_rate(capsys):
    code, out, _ = run_main(capsys, "--func", "-x^2 - y^2", "--lr", "0.1")
    assert code == 1 and "Diverged" in out and "unbounded below" in out


def test_bouncing_is_a_stall(capsys):
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "1.0")
    assert code == 1 and "Stalled" in out and "has not improved" in out


def test_stall_hint_matches_the_cause(capsys):
    """Bouncing across the valley wants a smaller --lr; crawling (steps too small to change
    the loss) wants a larger one, and says so."""
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "1.0", "--no-plot")
    assert code == 1 and "bounce back and forth" in out and "smaller --lr, e.g. --lr 0.5" in out
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "1e-15", "--no-plot")
    assert code == 1 and "Stalled at step 200" in out
    assert "too small to change the loss" in out and "larger --lr, e.g. --lr 1e-14" in out
    assert "smaller --lr" not in out


def test_saddle_point_is_a_stall_not_a_minimum(capsys):
    code, out, _ = run_main(capsys, "--func", "x^2 - y^2", "--lr", "0.1", "--start", "1,0")
    assert code == 1 and "Stalled" in out and "saddle" in out and not FOUND.search(out)


def test_flat_plateau_is_a_stall(capsys):
    code, out, _ = run_main(capsys, "--func", "-exp(-(x^2+y^2))", "--lr", "0.1")
    assert code == 1 and "Stalled at step 0" in out and "plateau" in out


def test_domain_error_at_the_start_and_on_the_way(capsys):
    code, out, _ = run_main(capsys, "--func", "log(x) + y^2", "--lr", "0.1", "--start=-1,0")
    assert code == 1 and "Domain error at step 0" in out and "log" in out
    code, out, _ = run_main(capsys, "--func", "log(x) + y^2", "--lr", "0.1", "--start=1,0")
    assert code == 1 and re.search(r"Domain error at step [1-9]", out) and "smaller --lr" in out
    code, out, _ = run_main(capsys, "--func", "sqrt(x^2 + y^2)", "--lr", "0.1", "--start=0,0")
    assert code == 1 and "Domain error" in out and "not finite" in out


def test_step_budget(capsys):
    code, out, _ = run_main(capsys, "--func", ROSENBROCK, "--lr", "0.001", "--start=-1.2,1",
                            "--steps", "300")
    assert code == 1 and "Used up the 300 steps" in out and "--momentum 0.9" in out


def test_ascii_plot_has_the_path_markers(capsys):
    code, out, _ = run_main(capsys, "--func", HIMMELBLAU, "--lr", "0.01", "--start=-1,1",
                            "--ascii")
    assert code == 0
    grid = [line for line in out.splitlines() if line.startswith("|") and line.endswith("|")]
    assert len(grid) == 24 and len({len(line) for line in grid}) == 1
    body = "".join(grid)
    assert body.count("S") == 1 and body.count("E") == 1 and "*" in body
    assert "path '*', start 'S', end 'E'" in out
    # the start is drawn at (-1, 1) and the end at the minimum (-2.805, 3.131): E is left of
    # and above S
    row_s = next(i for i, line in enumerate(grid) if "S" in line)
    row_e = next(i for i, line in enumerate(grid) if "E" in line)
    assert row_e < row_s and grid[row_e].index("E") < grid[row_s].index("S")


def test_ascii_marks_undefined_regions(capsys):
    code, out, _ = run_main(capsys, "--func", "log(x) + y^2", "--lr", "0.1", "--start=1,0",
                            "--ascii")
    assert code == 1 and "~" in out and "E" in out


def test_plot_saves_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "path.png"
    code, out, err = run_main(capsys, "--func", BOWL, "--lr", "0.1", "--plot", str(target))
    assert code == 0, err
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Saved the contour map with the path to {target}" in out


def test_plot_without_matplotlib_says_how_to_install(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    code, out, err = run_main(capsys, "--func", BOWL, "--lr", "0.1", "--plot",
                              str(tmp_path / "p.png"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "pip install matplotlib" in err


def test_negative_start_without_equals_sign(capsys):
    code, out, _ = run_main(capsys, "--func", HIMMELBLAU, "--lr", "0.01", "--start", "-1,-1")
    assert code == 0 and "from x=-1.0000, y=-1.0000" in out


@pytest.mark.parametrize("args, message", [
    (["--func", BOWL], "--lr"),
    (["--lr", "0.1"], "--func"),
    (["--func", BOWL, "--lr", "-0.1"], "--lr must be a positive number"),
    (["--func", BOWL, "--lr", "nan"], "--lr must be a positive number"),
    (["--func", BOWL, "--lr", "0.1", "--start", "1"], "two numbers"),
    (["--func", BOWL, "--lr", "0.1", "--start", "a,b"], "two numbers"),
    (["--func", BOWL, "--lr", "0.1", "--start", "inf,0"], "finite"),
    (["--func", BOWL, "--lr", "0.1", "--momentum", "1"], "--momentum"),
    (["--func", BOWL, "--lr", "0.1", "--steps", "0"], "--steps"),
])
def test_bad_command_lines_are_one_line_errors(capsys, args, message):
    code, out, err = run_main(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_help_and_docstring():
    result = run_script("--help")
    assert result.returncode == 0
    for word in ("--func", "--lr", "--start", "--steps", "--momentum", "--plot", "--ascii",
                 "sin cos exp log sqrt abs", "exit codes"):
        assert word in result.stdout
    doc = ast.get_docstring(ast.parse(SCRIPT.read_text()))
    assert "What it teaches" in doc and "Grammar" in doc


# ------------------------------------------------------------------ the graph
def needs_matplotlib():
    return pytest.importorskip("matplotlib")


def test_without_a_display_the_graph_is_saved_and_the_place_is_said(capsys, tmp_path):
    needs_matplotlib()
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "0.1")
    assert code == 0
    target = tmp_path / "descent.png"
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Saved the contour map with the path to {target} (no display" in out
    assert "--no-plot" in out


def test_with_a_display_the_graph_is_shown_in_a_window(capsys, tmp_path, monkeypatch):
    needs_matplotlib()
    shown = []
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(descent, "show_window", lambda fig: shown.append(fig) or True)
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "0.1")
    assert code == 0 and len(shown) == 1
    assert not (tmp_path / "descent.png").exists() and "Saved" not in out
    # a display but no window toolkit (matplotlib on Agg): saved instead, and said why
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISPLAY", ":0")
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "0.1")
    assert code == 0 and "no window toolkit" in out and (tmp_path / "descent.png").exists()


def test_no_plot_neither_shows_nor_saves(capsys, tmp_path):
    needs_matplotlib()
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "0.1", "--no-plot")
    assert code == 0 and "Saved" not in out and list(tmp_path.iterdir()) == []


def test_legend_does_not_hide_the_start():
    """From (3, 4) the start sits in the upper right corner, where the legend used to be."""
    needs_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tree = descent.parse(BOWL)
    _, path, _ = descent.descend(tree, (3.0, 4.0), 0.1, 1000, out=lambda line: None)
    fig, ax = descent.draw_plot(tree, path, "bowl")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = fig.legends[0].get_window_extent(renderer)
    axes = ax.get_window_extent(renderer)
    assert not legend.overlaps(axes)
    for point in (path[0], path[-1]):
        sx, sy = ax.transData.transform(point)
        assert not legend.contains(sx, sy)
    plt.close(fig)


def test_a_diverged_plot_ends_at_the_last_step(capsys):
    needs_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tree = descent.parse(BOWL)
    status, path, _ = descent.descend(tree, (3.0, 4.0), 1.5, 1000, out=lambda line: None)
    assert status == "diverged" and max(abs(v) for v in path[-1]) > descent.DIVERGENCE_BOUND
    fig, ax = descent.draw_plot(tree, path, "bowl")
    line, _, end = ax.lines[:3]
    assert len(line.get_xdata()) == len(path)
    assert (line.get_xdata()[-1], line.get_ydata()[-1]) == path[-1]
    assert (end.get_xdata()[0], end.get_ydata()[0]) == path[-1]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 <= path[-1][0] <= x1 and y0 <= path[-1][1] <= y1
    plt.close(fig)
    # the ascii map ends at the same point, (786432, 1048576): E far up and right of S
    code, out, _ = run_main(capsys, "--func", BOWL, "--lr", "1.5", "--ascii", "--no-plot")
    grid = [line for line in out.splitlines() if line.startswith("|") and line.endswith("|")]
    row_s = next(i for i, line in enumerate(grid) if "S" in line)
    row_e = next(i for i, line in enumerate(grid) if "E" in line)
    assert row_e < 4 < row_s and grid[row_e].index("E") > grid[row_s].index("S") + 20


@pytest.mark.parametrize("where, message", [
    ("missing-folder/p.png", "cannot write --plot"),
    (".", "is a folder"),
    ("p.xyz", "unknown image type .xyz"),
])
def test_an_unwritable_plot_fails_before_the_run(capsys, where, message):
    needs_matplotlib()
    code, out, err = run_main(capsys, "--func", BOWL, "--lr", "0.1", "--plot", where)
    assert code == 2 and out == ""                   # refused before any step
    assert err.count("\n") == 1 and message in err, err


def test_checking_the_plot_file_leaves_nothing_behind(tmp_path):
    needs_matplotlib()
    assert descent.check_plot_file(str(tmp_path / "new.png")) is None
    assert not (tmp_path / "new.png").exists()
    (tmp_path / "old.png").write_bytes(b"keep")
    assert descent.check_plot_file(str(tmp_path / "old.png")) is None
    assert (tmp_path / "old.png").read_bytes() == b"keep"
