"""Build your own autograd engine: scalar Values, backpropagation, and a small MLP on top.

    python examples/my_engine.py [--epochs 30] [--samples 50] [--seed 0]

What it teaches: braininabox's Tensor, PyTorch and every other deep-learning library
rest on one idea, reverse-mode automatic differentiation, and it fits in ~100 lines:

1. Every arithmetic operation on a `Value` returns a new Value that remembers its inputs
   (`_prev`) and a small closure (`_backward`) with the local derivative rule, e.g. for
   out = a * b:  a.grad += b * out.grad;  b.grad += a * out.grad  (the chain rule).
2. `backward()` lists every node that leads to the output in topological order (each node
   after its inputs), sets the output's grad to 1, and calls the closures in reverse.
   The sort is ITERATIVE (an explicit stack, no recursion), so a chain 5,000 or 500,000
   nodes deep works, and the order is deterministic (inputs in the order they were used).
3. Gradients ACCUMULATE (+=): a node used twice (like x in x*x) gets both contributions.

Running the file shows the engine on the classic example (x=2, y=-3, z=10:
f = x*y + z = 4, df/dx = y = -3, df/dy = x = 2, df/dz = 1), then trains a 2-8-8-1 tanh
MLP made only of Values on "two moons" (generated with the standard `random` module),
with the logistic loss and Adam, printing the loss going down and the final accuracy
(100% with the defaults, for seeds 0-9; about 3 s, every scalar is a Python object).

Uses only the standard library; tests/test_example_engine.py checks its gradients
against braininabox's Tensor.
"""
import argparse
import math
import random
import sys


class Value:
    """A scalar that remembers how it was computed, so it can be differentiated."""

    __slots__ = ("_backward", "_op", "_prev", "data", "grad")

    def __init__(self, data, _prev=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev
        self._backward = None
        self._op = _op

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    @staticmethod
    def lift(other):
        return other if isinstance(other, Value) else Value(other)

    # ----------------------------------------------------- the operations and their rules
    def __add__(self, other):
        other = Value.lift(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = Value.lift(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if isinstance(exponent, Value):  # a ** b = exp(b * log a), for a > 0
            return (exponent * self.log()).exp()
        p = float(exponent)
        if self.data < 0 and not p.is_integer():
            raise ValueError(f"{self.data:g} ** {p:g} is not a real number")
        out = Value(self.data ** p, (self,), f"**{p:g}")

        def _backward():
            self.grad += p * self.data ** (p - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log of a non-positive number ({self.data:g})")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value(self.data if self.data > 0 else 0.0, (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad
        out._backward = _backward
        return out

    # ------------------------------------------- everything else, built from the above
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-Value.lift(other))

    def __truediv__(self, other):
        other = Value.lift(other)
        if other.data == 0:     # else x ** -1 would report a negative power of 0
            raise ZeroDivisionError(f"division by zero ({self.data:g} / 0)")
        return self * other ** -1

    def __radd__(self, other):
        return Value.lift(other) + self

    def __rsub__(self, other):
        return Value.lift(other) - self

    def __rmul__(self, other):
        return Value.lift(other) * self

    def __rtruediv__(self, other):
        return Value.lift(other) / self

    def __rpow__(self, base):
        return Value.lift(base) ** self

    # ---------------------------------------------------------------- backpropagation
    def topological_order(self):
        """Every node leading to self, each after all of its inputs. Iterative DFS:
        a stack of (node, inputs_done) pairs replaces the recursion."""
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)  # all its inputs are already in `order`
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))  # come back once the inputs are done
            for child in reversed(node._prev):  # reversed: first input is visited first
                if id(child) not in visited:
                    stack.append((child, False))
        return order

    def backward(self):
        """Set .grad of every node leading here to d(self)/d(node). (Grads are reset
        first, so unlike PyTorch there is no need to zero them between steps.)"""
        order = self.topological_order()
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            if node._backward is not None:
                node._backward()


# ======================================================================== an MLP
class Neuron:
    def __init__(self, n_in, rng, activation=True):
        scale = 1 / math.sqrt(n_in)
        self.w = [Value(rng.uniform(-scale, scale)) for _ in range(n_in)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x):
        total = self.b
        for wi, xi in zip(self.w, x):
            total = total + wi * xi
        return total.tanh() if self.activation else total

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, n_in, n_out, rng, activation=True):
        self.neurons = [Neuron(n_in, rng, activation) for _ in range(n_out)]

    def __call__(self, x):
        return [n(x) for n in self.neurons]

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """Fully connected layers: tanh hidden neurons, a linear output, e.g. MLP([2, 8, 8, 1])."""

    def __init__(self, sizes, rng):
        last = len(sizes) - 2
        self.layers = [Layer(a, b, rng, activation=i < last)  # the output layer is linear
                       for i, (a, b) in enumerate(zip(sizes, sizes[1:]))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def make_moons(n, rng, noise=0.1):
    """Two interleaved half circles ("two moons"): labels +1 (upper) and -1 (lower)."""
    points = []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            x, y, label = math.cos(t), math.sin(t), 1
        else:
            x, y, label = 1 - math.cos(t), 0.5 - math.sin(t), -1
        points.append(((x + rng.gauss(0, noise) - 0.5) * 1.5, (y + rng.gauss(0, noise) - 0.25) * 1.5,
                       label))
    return points


def train(epochs=30, samples=50, seed=0, lr=0.05, batch_size=5, out=print):
    """Train MLP([2, 8, 8, 1]) (tanh hidden layers, linear output score s) with the
    logistic loss log(1 + exp(-label * s)) and Adam, on minibatches. Returns the final
    training accuracy (0..1)."""
    rng = random.Random(seed)
    data = make_moons(samples, rng)
    model = MLP([2, 8, 8, 1], rng)
    params = model.parameters()
    m, v, t = [0.0] * len(params), [0.0] * len(params), 0  # Adam's running moments
    out(f"Training an MLP 2-8-8-1 (tanh, {len(params)} Values as parameters) on "
        f"{samples} two-moons points, {epochs} epochs")
    accuracy = 0.0
    for epoch in range(1, epochs + 1):
        rng.shuffle(data)
        total = 0.0
        for start in range(0, len(data), batch_size):
            batch = data[start:start + batch_size]
            loss = sum((1 + (-label * model(x)).exp()).log() for *x, label in batch) / len(batch)
            loss.backward()  # fills p.grad for every parameter (and every other node)
            t += 1
            for i, p in enumerate(params):  # Adam: step by the normalised running gradient
                m[i] = 0.9 * m[i] + 0.1 * p.grad
                v[i] = 0.999 * v[i] + 0.001 * p.grad ** 2
                p.data -= lr * (m[i] / (1 - 0.9 ** t)) / (math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
            total += loss.data * len(batch)
        if epoch == 1 or epoch % 5 == 0 or epoch == epochs:
            correct = sum((model(x).data > 0) == (label > 0) for *x, label in data)
            accuracy = correct / len(data)
            out(f"epoch {epoch:3d}: loss {total / len(data):.4f}, accuracy {100 * accuracy:.1f}%")
    out(f"Final accuracy: {100 * accuracy:.1f}% ({round(accuracy * len(data))}/{len(data)})")
    return accuracy


class OneLineErrorParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None):
    parser = OneLineErrorParser(
        prog="my_engine.py",
        description="A scalar autograd engine (micrograd-style) in plain Python: shows "
                    "f = x*y + z and its gradients, then trains a 2-8-8-1 tanh MLP of Values "
                    "on two moons.",
        epilog="Exit code 0 when the MLP reaches 95% training accuracy, 1 otherwise, "
               "2 for a bad command line.")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--samples", type=int, default=50,
                        help="two-moons points to generate (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if not 2 <= args.samples <= 100_000:
        parser.error(f"--samples must be between 2 and 100000, got {args.samples}")

    x, y, z = Value(2.0), Value(-3.0), Value(10.0)
    f = x * y + z
    f.backward()
    print("x = 2.0, y = -3.0, z = 10.0")
    print(f"f = x*y + z = {f.data}")
    print(f"x.grad = {x.grad}   (df/dx = y)")
    print(f"y.grad = {y.grad}   (df/dy = x)")
    print(f"z.grad = {z.grad}   (df/dz = 1)")
    print()
    accuracy = train(epochs=args.epochs, samples=args.samples, seed=args.seed)
    return 0 if accuracy >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
