"""Gradient descent on a function you type, with the gradient from braininabox's autograd.

    python examples/descent.py --func "x^2 + y^2" --lr 0.1
    python examples/descent.py --func "(1-x)^2 + 100*(y-x^2)^2" --lr 0.001 --momentum 0.9 \\
        --start=-1.2,1 --steps 5000 --ascii
    python examples/descent.py --func "(x^2+y-11)^2 + (x+y^2-7)^2" --lr 0.01 --start=-1,1

What it teaches:

* Gradient descent: stand at (x, y), ask which way is downhill (minus the gradient) and
  take a step of size lr * gradient. Repeat until the gradient is ~0.
* Autograd: the program never differentiates by hand. It evaluates your function on two
  braininabox Tensors with requires_grad=True; backward() fills x.grad and y.grad.
* The learning rate matters: too small crawls, too large overshoots and diverges (the
  program notices and says so). Momentum (--momentum 0.9) lets the steps build up speed
  along long narrow valleys like Rosenbrock's, where plain descent crawls.
* Parsing user input safely: the formula is read by a small tokenizer and a
  recursive-descent parser into a tree of numbers, variables, operators and functions.
  Nothing is ever run as Python code (no eval/exec), so "__import__('os')" is just refused.

Grammar (precedence low to high; ^ is right-associative and binds tighter than unary
minus, so -x^2 = -(x^2) and 2^3^2 = 2^9):

    expr  := term (('+' | '-') term)*
    term  := unary (('*' | '/') unary)*
    unary := ('-' | '+') unary | power
    power := atom ('^' unary)?
    atom  := number | x | y | func '(' expr ')' | '(' expr ')'
    func  := sin | cos | exp | log | sqrt | abs

Numbers are like 3, 0.5, .5, 1e-3. Python's ** is not part of the grammar (write ^), nor
is implicit multiplication (write 2*x, not 2x).

The update, with momentum b (b = 0 is plain gradient descent):

    v <- b * v + grad f(x, y);    (x, y) <- (x, y) - lr * v

Settings that work:

* bowl  "x^2 + y^2": --lr 0.1 from the default start (3, 4) reaches (0, 0) in ~80 steps;
  --lr 1.5 diverges, --lr 1.0 bounces between (3, 4) and (-3, -4) forever.
* Rosenbrock "(1-x)^2 + 100*(y-x^2)^2" (minimum at (1, 1) at the end of a curved, flat
  valley): --lr 0.001 --momentum 0.9 --start=-1.2,1 --steps 5000 ends within 0.001 of
  (1, 1). Without momentum it needs about ten times as many steps; --lr 0.01 diverges.
* Himmelblau "(x^2+y-11)^2 + (x+y^2-7)^2" (four minima, all with f = 0: (3, 2),
  (-2.805, 3.131), (-3.779, -3.283), (3.584, -1.848)): --lr 0.01 finds the one whose
  basin you start in, e.g. --start=1,1 -> (3, 2), --start=-1,1 -> (-2.805, 3.131),
  --start=-1,-1 -> (-3.779, -3.283), --start=1,-1 -> (3.584, -1.848).

Give negative start points with '=' or after --start as usual: --start=-1.2,1 and
--start -1.2,1 both work.

The graph (a contour map of f with the path; needs matplotlib) opens in a window when a
display exists, else it is saved to ./descent.png and the program says where; --plot
PATH.png saves it there (checked before the run), --no-plot skips it, --ascii draws it in
the terminal.

Exit codes: 0 found a minimum; 1 the descent failed (diverged, domain error, stalled, or
used up --steps before converging) and the message says which; 2 bad command line or a
formula the parser refuses (one line on stderr).
"""
import argparse
import math
import os
import re
import sys

import numpy as np

import braininabox as bb

FUNCTIONS = ("sin", "cos", "exp", "log", "sqrt", "abs")
VARIABLES = ("x", "y")
MAX_FORMULA_LENGTH = 1000
MAX_NESTING = 100
DIVERGENCE_BOUND = 1e6       # |x| or |y| beyond this counts as diverged
NO_PROGRESS_STEPS = 200      # best loss unchanged this long (not converged) = stalled


# =============================================================== tokenizer + parser
class FormulaError(ValueError):
    """A formula the grammar refuses; the message names the token and its position."""


_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<power>\*\*)
  | (?P<op>[-+*/^()])
""", re.VERBOSE)


def tokenize(text):
    """Yield (kind, text, position) with 1-based positions; kind is number|name|op|bad|end."""
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            yield ("bad", text[pos], pos + 1)
            return
        kind = match.lastgroup
        if kind == "power":
            yield ("bad", "**", pos + 1)
            return
        if kind != "space":
            yield (kind, match.group(), pos + 1)
        pos = match.end()
    yield ("end", "", len(text) + 1)


class Parser:
    """Recursive descent over the grammar in the module docstring; builds a tuple AST:
    ("num", value) | ("var", "x") | ("neg", a) | ("bin", op, a, b) | ("call", name, a)."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.depth = 0
        self.advance()

    def advance(self):
        self.kind, self.value, self.pos = next(self.tokens)
        if self.kind == "bad":
            self.fail_here()

    def fail_here(self, expected=None):
        if self.kind == "bad" and self.value == "**":
            raise FormulaError(f"'**' at position {self.pos} is not part of the grammar: "
                               f"write powers with '^', e.g. x^2")
        if self.kind == "bad":
            raise FormulaError(f"unexpected character {self.value!r} at position {self.pos}: "
                               f"only numbers, x, y, + - * / ^ ( ) and "
                               f"{', '.join(FUNCTIONS)} are allowed")
        if self.kind == "end":
            raise FormulaError(f"formula ends too early at position {self.pos}: "
                               f"expected {expected or 'more'}")
        what = f"unexpected {self.value!r} at position {self.pos}"
        if self.kind in ("number", "name") and expected == "an operator or the end":
            what += " (no implicit multiplication: write 2*x, not 2x)"
        raise FormulaError(f"{what}: expected {expected}")

    def parse(self):
        if len(self.text) > MAX_FORMULA_LENGTH:
            raise FormulaError(f"formula is {len(self.text)} characters long; "
                               f"the limit is {MAX_FORMULA_LENGTH}")
        tree = self.expr()
        if self.kind != "end":
            self.fail_here("an operator or the end")
        return tree

    def expr(self):
        tree = self.term()
        while self.kind == "op" and self.value in "+-":
            op = self.value
            self.advance()
            tree = ("bin", op, tree, self.term())
        return tree

    def term(self):
        tree = self.unary()
        while self.kind == "op" and self.value in "*/":
            op = self.value
            self.advance()
            tree = ("bin", op, tree, self.unary())
        return tree

    def unary(self):
        if self.kind == "op" and self.value in "+-":
            op = self.value
            self.enter()
            self.advance()
            operand = self.unary()
            self.depth -= 1
            return ("neg", operand) if op == "-" else operand
        return self.power()

    def power(self):
        base = self.atom()
        if self.kind == "op" and self.value == "^":
            self.enter()
            self.advance()
            exponent = self.unary()  # right-associative: x^y^z = x^(y^z); x^-2 allowed
            self.depth -= 1
            return ("bin", "^", base, exponent)
        return base

    def atom(self):
        kind, value, pos = self.kind, self.value, self.pos
        if kind == "number":
            self.advance()
            number = float(value)
            if not math.isfinite(number):
                raise FormulaError(f"number {value!r} at position {pos} is too large")
            return ("num", number)
        if kind == "name":
            if value in VARIABLES:
                self.advance()
                return ("var", value)
            if value in FUNCTIONS:
                self.advance()
                if not (self.kind == "op" and self.value == "("):
                    self.fail_here(f"'(' after {value}")
                return ("call", value, self.parenthesised())
            raise FormulaError(f"unknown name {value!r} at position {pos}: the variables are "
                               f"x and y, the functions {', '.join(FUNCTIONS)}")
        if kind == "op" and value == "(":
            return self.parenthesised()
        self.fail_here("a number, x, y, a function or '('")

    def parenthesised(self):
        open_pos = self.pos
        self.enter()
        self.advance()  # the '('
        tree = self.expr()
        if not (self.kind == "op" and self.value == ")"):
            if self.kind == "end":
                raise FormulaError(f"'(' at position {open_pos} is never closed")
            self.fail_here("')' or an operator")
        self.advance()
        self.depth -= 1
        return tree

    def enter(self):
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise FormulaError(f"formula nests deeper than {MAX_NESTING} levels "
                               f"(at position {self.pos})")


def parse(text):
    """Formula text -> AST tuple; raises FormulaError with a one-line message."""
    return Parser(text).parse()


def uses(tree, name):
    """Does the variable `name` occur in the tree? (explicit stack, no recursion)"""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node == ("var", name):
            return True
        stack.extend(child for child in node[1:] if isinstance(child, tuple))
    return False


def is_constant(tree):
    return not (uses(tree, "x") or uses(tree, "y"))


# ======================================================================= evaluation
def evaluate(tree, x, y):
    """Evaluate on braininabox Tensors (autograd) or on float numpy arrays (the plots).

    Iterative post-order walk, so no Python recursion limit applies to evaluation.
    """
    tensor_mode = isinstance(x, bb.Tensor)
    results = {}
    stack = [(tree, False)]
    while stack:
        node, children_done = stack.pop()
        kind = node[0]
        if not children_done:
            stack.append((node, True))
            for child in node[1:]:
                if isinstance(child, tuple):
                    stack.append((child, False))
            continue
        if kind == "num":
            value = node[1]
            value = bb.Tensor(value, dtype=np.float64) if tensor_mode else np.float64(value)
        elif kind == "var":
            value = x if node[1] == "x" else y
        elif kind == "neg":
            value = -results[id(node[1])]
        elif kind == "call":
            arg = results[id(node[2])]
            value = getattr(arg, node[1])() if tensor_mode else getattr(np, node[1])(arg)
        else:
            op, a, b = node[1], results[id(node[2])], results[id(node[3])]
            if op == "+":
                value = a + b
            elif op == "-":
                value = a - b
            elif op == "*":
                value = a * b
            elif op == "/":
                value = a / b
            elif tensor_mode and is_constant(node[3]):
                # A constant exponent: x ** 2.0 is defined for negative x too. (Tensor **
                # Tensor goes through exp(b*log a), which needs a > 0.)
                value = a ** float(b.data)
            else:
                value = a ** b
        results[id(node)] = value
    return results[id(tree)]


def loss_and_grad(tree, px, py):
    """f(px, py) and its gradient, by braininabox autograd (float64)."""
    x = bb.Tensor(px, requires_grad=True, dtype=np.float64)
    y = bb.Tensor(py, requires_grad=True, dtype=np.float64)
    with np.errstate(all="ignore"):
        out = evaluate(tree, x, y)
        loss = float(out.data)
        if out.requires_grad:
            out.backward()
    gx = float(x.grad) if x.grad is not None else 0.0
    gy = float(y.grad) if y.grad is not None else 0.0
    return loss, gx, gy


def value_at(tree, px, py):
    with np.errstate(all="ignore"):
        return float(evaluate(tree, np.float64(px), np.float64(py)))


# ========================================================================= descent
def fmt(v, digits=4):
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def should_print(step, steps, every):
    return step <= 10 or step % every == 0 or step == steps


def probe_lower(tree, px, py, loss):
    """Is there a clearly lower point right next to (px, py)? (saddle / flat spot check)"""
    for h in (1e-3, 1e-2):
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)):
            other = value_at(tree, px + h * dx, py + h * dy)
            if math.isfinite(other) and other < loss - 1e-9 * abs(loss) - 1e-15:
                return px + h * dx, py + h * dy, other
    return None


def descend(tree, start, lr, steps, momentum=0.0, tol=1e-6, print_every=None, out=print):
    """Run gradient descent. Returns (status, path, loss); status is one of
    'converged', 'diverged', 'domain', 'stalled', 'budget'. Messages go to `out`."""
    px, py = start
    path = [(px, py)]
    vx = vy = 0.0
    every = print_every or max(1, steps // 20)
    best, best_step = math.inf, 0
    unprinted = []  # the latest step line when throttling skipped it: shown when we stop

    def stop(status, *messages):
        for line in unprinted + list(messages):
            out(line)
        return status, path, loss

    for step in range(steps + 1):
        loss, gx, gy = loss_and_grad(tree, px, py)
        where = f"x={fmt(px)}, y={fmt(py)}"
        finite_grad = math.isfinite(gx) and math.isfinite(gy)
        ran_off = not (abs(px) <= DIVERGENCE_BOUND and abs(py) <= DIVERGENCE_BOUND)
        # A step so large that f or its slope overflowed counts as running off too.
        ran_off = ran_off or step > 0 and (math.isinf(loss) or not finite_grad and abs(loss) > 1e12)
        if ran_off:
            if loss < best:  # still going downhill: nothing to overshoot
                return stop("diverged", f"Diverged at step {step}: {where} (Loss: {loss:.6g}). "
                            f"The loss kept going down while x, y ran off: this function has no "
                            f"minimum in that direction (it is unbounded below), so there is "
                            f"nothing to find.")
            return stop("diverged", f"Diverged at step {step}: {where} (Loss: {loss:.6g}). The "
                        f"learning rate {lr:g} is too high: every step overshoots the valley and "
                        f"lands higher up the other side. Try a smaller one, e.g. "
                        f"--lr {lr / 10:g}.")
        if not math.isfinite(loss):
            why = ("is infinite there (a division by 0, or a value too large for a float)"
                   if math.isinf(loss) else "is not a number (NaN): the function is undefined "
                   "there (log or sqrt of a negative number, 0/0, a negative number to a "
                   "fractional power, ...)")
            return stop("domain", f"Domain error at step {step}: f({where}) {why}. Start "
                        f"somewhere it is defined"
                        + (" or use a smaller --lr so the steps stay inside." if step else "."))
        if not finite_grad:
            return stop("domain", f"Domain error at step {step}: the gradient at {where} is not "
                        f"finite (Grad=[{gx:.4g}, {gy:.4g}]); the function has no slope there "
                        f"(e.g. sqrt or log at 0). Start elsewhere.")
        grad_norm = math.hypot(gx, gy)
        if grad_norm < tol:
            lower = probe_lower(tree, px, py, loss)
            if lower is not None:
                return stop("stalled", f"Stalled at step {step}: the gradient is almost zero "
                            f"(|grad| = {grad_norm:.3g}) at {where}, but f is lower nearby "
                            f"(f({fmt(lower[0])}, {fmt(lower[1])}) = {lower[2]:.6g} < "
                            f"{loss:.6g}): a saddle point or a flat plateau, not a minimum. "
                            f"Try another --start.")
            return stop("converged",
                        f"Converged after {step} steps: |grad| = {grad_norm:.3g} < {tol:g}.",
                        f"Found minimum at {where} (Loss: {loss:.6g})")
        if best == math.inf or loss < best - 1e-12 * abs(best):
            best, best_step = loss, step
        elif step - best_step >= NO_PROGRESS_STEPS:
            # Crawling (steps too small to change the loss) moves steadily one way: the
            # distance covered is about the length of the path walked. Bouncing across a
            # valley walks far and ends up where it was.
            walked = sum(math.dist(a, b) for a, b in zip(path[best_step:], path[best_step + 1:]))
            crawling = walked > 0 and math.dist(path[best_step], path[-1]) > 0.5 * walked
            if crawling:
                return stop("stalled", f"Stalled at step {step}: the loss has not improved for "
                            f"{NO_PROGRESS_STEPS} steps (best {best:.6g} at step {best_step}) "
                            f"although |grad| = {grad_norm:.3g} is above --tol {tol:g}: the "
                            f"steps are too small to change the loss (they crawl downhill). "
                            f"Try a larger --lr, e.g. --lr {lr * 10:g}.")
            return stop("stalled", f"Stalled at step {step}: the loss has not improved for "
                        f"{NO_PROGRESS_STEPS} steps (best {best:.6g} at step {best_step}) "
                        f"although |grad| = {grad_norm:.3g} is above --tol {tol:g}: the steps "
                        f"bounce back and forth across the valley instead of going down it. "
                        f"Try a smaller --lr, e.g. --lr {lr / 2:g}.")
        if step == steps:
            return stop("budget", f"Used up the {steps} steps before converging: at {where} "
                        f"(Loss: {loss:.6g}), |grad| = {grad_norm:.3g} is still above {tol:g}. "
                        f"Try more --steps{', or --momentum 0.9' if not momentum else ''}.")
        vx, vy = momentum * vx + gx, momentum * vy + gy
        px, py = px - lr * vx, py - lr * vy
        path.append((px, py))
        line = f"Step {step + 1}: Grad=[{fmt(gx)}, {fmt(gy)}] -> Move to x={fmt(px)}, y={fmt(py)}"
        unprinted = [] if should_print(step + 1, steps, every) else [line]
        if not unprinted:
            out(line)
    raise AssertionError("unreachable")


# =========================================================================== plots
def plot_window(path):
    """A box around the (finite) path, padded, at least 2 wide in each direction. A
    diverged run keeps its last step, the one that ran off: the plot shows how far."""
    pts = [(x, y) for x, y in path if math.isfinite(x) and math.isfinite(y)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    boxes = []
    for lo, hi in ((min(xs), max(xs)), (min(ys), max(ys))):
        centre, half = (lo + hi) / 2, max((hi - lo) / 2 * 1.25, 1.0)
        boxes.append((centre - half, centre + half))
    return boxes, pts


LEVEL_CHARS = " .:-=+oO#@"  # low -> high; never '*', 'S' or 'E' (the path markers)


def ascii_plot(tree, path, width=64, height=24):
    """The function as character bands (quantiles of f on the grid) with the path on top."""
    (x0, x1), (y0, y1) = plot_window(path)[0]
    pts = plot_window(path)[1]
    xs = np.linspace(x0, x1, width)
    ys = np.linspace(y1, y0, height)  # top row = largest y
    with np.errstate(all="ignore"):
        grid = np.broadcast_to(evaluate(tree, xs[None, :], ys[:, None]), (height, width))
    finite = grid[np.isfinite(grid)]
    rows = [["~"] * width for _ in range(height)]
    if finite.size:
        edges = np.quantile(finite, np.linspace(0, 1, len(LEVEL_CHARS) + 1)[1:-1])
        for r in range(height):
            for c in range(width):
                if np.isfinite(grid[r, c]):
                    rows[r][c] = LEVEL_CHARS[int(np.searchsorted(edges, grid[r, c], side="right"))]

    def cell(x, y):
        c = round((x - x0) / (x1 - x0) * (width - 1))
        r = round((y1 - y) / (y1 - y0) * (height - 1))
        return r, c

    for x, y in pts:
        r, c = cell(x, y)
        rows[r][c] = "*"
    if pts:
        r, c = cell(*pts[0])
        rows[r][c] = "S"
        r, c = cell(*pts[-1])
        rows[r][c] = "E"
    lines = [(f"f(x, y) for x in [{x0:.3g}, {x1:.3g}] (left to right), "
              f"y in [{y0:.3g}, {y1:.3g}] (bottom to top)")]
    lines += ["|" + "".join(row) + "|" for row in rows]
    lines.append(f"levels low -> high: '{LEVEL_CHARS}' (equal shares of the area), "
                 f"'~' undefined; path '*', start 'S', end 'E'")
    return "\n".join(lines)


def draw_plot(tree, path, title):
    """The contour map with the path on a new matplotlib figure; returns (fig, ax)."""
    import matplotlib.pyplot as plt

    (x0, x1), (y0, y1) = plot_window(path)[0]
    pts = plot_window(path)[1]
    xs, ys = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    with np.errstate(all="ignore"):
        z = np.broadcast_to(evaluate(tree, xs, ys), xs.shape).astype(float)
    finite = z[np.isfinite(z)]
    fig, ax = plt.subplots(figsize=(7, 6.5), layout="constrained")
    if finite.size and finite.max() > finite.min():
        levels = np.unique(np.quantile(finite, np.linspace(0, 1, 30)))
        cs = ax.contourf(xs, ys, np.ma.masked_invalid(z), levels=levels, cmap="viridis")
        ax.contour(xs, ys, np.ma.masked_invalid(z), levels=levels, colors="k",
                   linewidths=0.3, alpha=0.5)
        fig.colorbar(cs, ax=ax, label="f(x, y)")
    px, py = [p[0] for p in pts], [p[1] for p in pts]
    ax.plot(px, py, "r.-", linewidth=1, markersize=3, label="path")
    ax.plot(px[:1], py[:1], "wo", markeredgecolor="k", markersize=8, label="start")
    ax.plot(px[-1:], py[-1:], "r*", markeredgecolor="k", markersize=14, label="end")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    # below the axes, never over them: inside, it hid the start in a corner
    fig.legend(loc="outside lower center", ncol=3)
    return fig, ax


def save_plot(tree, path, filename, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = draw_plot(tree, path, title)
    fig.savefig(filename, dpi=100)
    plt.close(fig)


def has_display():
    """Whether a window can be opened: a desktop session (X11 or Wayland on Linux)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def show_window(fig):
    """Show the figure in a window; returns False when matplotlib has no window toolkit."""
    import matplotlib
    import matplotlib.pyplot as plt

    if matplotlib.get_backend().lower() in ("agg", "pdf", "ps", "svg", "cairo", "pgf",
                                            "template"):
        return False
    print("Showing the contour map with the path in a window (close it to finish).")
    plt.show()
    return True


def check_plot_file(filename):
    """Refuse before the run a --plot file that cannot be written: an unknown image
    type, a folder, a missing folder, no permission. Returns an error message or None."""
    from matplotlib.backend_bases import FigureCanvasBase

    if os.path.isdir(filename):
        return f"--plot {filename} is a folder; give a file name such as path.png"
    kinds = FigureCanvasBase.get_supported_filetypes()
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    if ext not in kinds:
        return (f"--plot {filename}: unknown image type {'.' + ext if ext else '(no extension)'}; "
                f"use .png (or {', '.join('.' + k for k in sorted(kinds) if k != 'png')})")
    existed = os.path.exists(filename)
    try:
        with open(filename, "ab"):      # appending changes nothing in an existing file
            pass
    except OSError as exc:
        return f"cannot write --plot {filename}: {exc.strerror or exc}"
    if not existed:
        os.remove(filename)
    return None


DEFAULT_PLOT = "descent.png"


# ============================================================================ CLI
class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def parse_start(text):
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        point = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers like 3,4 (or =-1.2,1), got {text!r}") from None
    if not all(math.isfinite(v) for v in point):
        raise argparse.ArgumentTypeError(f"the start point must be finite, got {text!r}")
    return point


def join_values(argv):
    """Let values that start with '-' follow --func/--start (argparse would take them for
    options): `--start -1.2,1` becomes `--start=-1.2,1`."""
    argv, out, i = list(argv), [], 0
    while i < len(argv):
        if argv[i] in ("--func", "--start") and i + 1 < len(argv) and argv[i + 1].startswith("-") \
                and not argv[i + 1].startswith("--"):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def build_parser():
    parser = OneLineErrorParser(
        prog="descent.py",
        description="""Gradient descent on a formula in x and y; the gradient comes from
braininabox autograd. Formulas use numbers (3, 0.5, 1e-3), x, y, + - * / ^ ( )
and sin cos exp log sqrt abs. ^ is the power: right-associative and tighter
than unary minus (-x^2 = -(x^2)). Python's ** and implicit products (2x) are
refused; the formula is parsed, never run as code.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples that work:
  python examples/%(prog)s --func "x^2 + y^2" --lr 0.1
  python examples/%(prog)s --func "(1-x)^2 + 100*(y-x^2)^2" \\
      --lr 0.001 --momentum 0.9 --start=-1.2,1 --steps 5000
  python examples/%(prog)s --func "(x^2+y-11)^2 + (x+y^2-7)^2" --lr 0.01 \\
      --start=-1,1 --ascii      (Himmelblau: the start picks which of 4 minima)

exit codes: 0 found a minimum; 1 diverged / domain error / stalled / out of steps;
2 bad command line or formula.""")
    parser.add_argument("--func", required=True, metavar="FORMULA",
                        help='the function to minimise, e.g. "x^2 + y^2" (quote it)')
    parser.add_argument("--lr", type=float, required=True, help="learning rate (step size), e.g. 0.1")
    parser.add_argument("--start", type=parse_start, default=(3.0, 4.0), metavar="X,Y",
                        help="starting point (default 3,4); negative: --start=-1.2,1")
    parser.add_argument("--steps", type=int, default=1000,
                        help="maximum number of steps (default 1000)")
    parser.add_argument("--momentum", type=float, default=0.0, metavar="B",
                        help="momentum 0 <= B < 1 (default 0: plain gradient descent; 0.9 for "
                             "narrow valleys)")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="stop when the gradient norm is below this (default 1e-6)")
    parser.add_argument("--print-every", type=int, default=None, metavar="N",
                        help="after the first 10 steps print every Nth (default: steps/20) "
                             "and the last")
    parser.add_argument("--plot", metavar="PATH.png",
                        help="save the contour map with the path to this file (needs "
                             "matplotlib). Without it the map is shown in a window when a "
                             f"display exists, else saved to ./{DEFAULT_PLOT}")
    parser.add_argument("--no-plot", action="store_true",
                        help="neither show nor save the contour map")
    parser.add_argument("--ascii", action="store_true",
                        help="draw the function and the path in the terminal")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(join_values(sys.argv[1:] if argv is None else argv))
    if not (args.lr > 0 and math.isfinite(args.lr)):
        parser.error(f"--lr must be a positive number, got {args.lr:g}")
    if not 1 <= args.steps <= 10_000_000:
        parser.error(f"--steps must be between 1 and 10000000, got {args.steps}")
    if not 0 <= args.momentum < 1:
        parser.error(f"--momentum must be in [0, 1), got {args.momentum:g}")
    if not (args.tol > 0 and math.isfinite(args.tol)):
        parser.error(f"--tol must be a positive number, got {args.tol:g}")
    if args.print_every is not None and args.print_every < 1:
        parser.error(f"--print-every must be at least 1, got {args.print_every}")
    try:
        tree = parse(args.func)
    except FormulaError as exc:
        parser.exit(2, f"{parser.prog}: error: bad --func {args.func!r}: {exc}\n")
    if args.plot and args.no_plot:
        parser.error("--plot and --no-plot contradict each other; give one")
    try:
        import matplotlib  # noqa: F401
        have_matplotlib = True
    except ImportError:
        have_matplotlib = False
    if args.plot:
        if not have_matplotlib:
            parser.exit(2, f"{parser.prog}: error: --plot needs matplotlib: pip install matplotlib\n")
        problem = check_plot_file(args.plot)     # before the run, not after it
        if problem:
            parser.exit(2, f"{parser.prog}: error: {problem}\n")

    x0, y0 = args.start
    print(f"Minimising f(x, y) = {args.func} from x={fmt(x0)}, y={fmt(y0)} with lr={args.lr:g}"
          + (f", momentum={args.momentum:g}" if args.momentum else ""))
    status, path, _ = descend(tree, args.start, args.lr, args.steps, args.momentum, args.tol,
                              args.print_every)
    if args.ascii:
        print(ascii_plot(tree, path))
    title = f"f(x, y) = {args.func}"
    if args.plot:
        try:
            save_plot(tree, path, args.plot, title)
        except (OSError, ValueError) as exc:
            parser.exit(2, f"{parser.prog}: error: could not save {args.plot}: {exc}\n")
        print(f"Saved the contour map with the path to {args.plot}")
    elif not args.no_plot:
        graph(tree, path, title, have_matplotlib)
    return 0 if status == "converged" else 1


def graph(tree, path, title, have_matplotlib):
    """The default graph: a window when there is a display, else a PNG (said where)."""
    if not have_matplotlib:
        print("(No graph: matplotlib is not installed; pip install matplotlib, or use --ascii.)")
        return
    if has_display():
        import matplotlib.pyplot as plt
        fig, _ = draw_plot(tree, path, title)
        if show_window(fig):
            return
        plt.close(fig)
        reason = "matplotlib has no window toolkit here"
    else:
        reason = "no display"
    target = os.path.abspath(DEFAULT_PLOT)
    try:
        save_plot(tree, path, target, title)
    except (OSError, ValueError) as exc:
        print(f"(No graph: {reason}, and {target} could not be written: {exc}; "
              f"use --plot PATH.png.)")
        return
    print(f"Saved the contour map with the path to {target} ({reason} for a window; "
          f"--plot PATH.png to choose the file, --no-plot to skip it)")


if __name__ == "__main__":
    sys.exit(main())
