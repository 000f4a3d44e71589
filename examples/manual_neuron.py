"""One artificial neuron learning a logic gate, in plain Python (no numpy, no braininabox).

    python examples/manual_neuron.py --gate AND [--lr 0.1] [--seed 0] [--max-epochs 100]

What it teaches: a perceptron is nothing but a weighted sum and a threshold,

    predicted = 1 if w1*a + w2*b + bias > 0 else 0

and "learning" is the perceptron rule: whenever the prediction is wrong, nudge each
weight by  lr * error * input  (error = target - predicted, so +1 or -1) and the bias by
lr * error. Inputs that were 0 did not contribute to the mistake, so their weight stays.

The program starts from random weights, shows every update it makes, stops at the
first epoch (one pass over the four rows of the truth table) without a mistake, and
checks the truth table with the final weights.

AND, OR, NAND and NOR are linearly separable: one straight line splits the 1s from the
0s, and the perceptron convergence theorem guarantees the rule finds such a line. XOR is
not: no line puts (0,1) and (1,0) on one side and (0,0) and (1,1) on the other, so the
neuron keeps cycling until --max-epochs and then gives up and says why. A hidden layer
solves it (e.g. XOR = AND(OR(a, b), NAND(a, b)): three neurons in two layers).

Exit codes: 0 solved; 1 gave up (always for XOR; for other gates only if --max-epochs is
too small for the chosen --lr); 2 bad command line.
"""
import argparse
import random
import sys

GATES = {
    "AND": lambda a, b: a & b,
    "OR": lambda a, b: a | b,
    "NAND": lambda a, b: 1 - (a & b),
    "NOR": lambda a, b: 1 - (a | b),
    "XOR": lambda a, b: a ^ b,
}
INPUTS = [(0, 0), (0, 1), (1, 0), (1, 1)]


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def predict(weights, bias, inputs):
    total = sum(w * x for w, x in zip(weights, inputs)) + bias
    return 1 if total > 0 else 0


def show(weights, bias):
    return f"w1={weights[0]:+.4f}, w2={weights[1]:+.4f}, bias={bias:+.4f}"


def train(gate, lr, max_epochs, rng, out=print):
    """Run the perceptron rule; returns (weights, bias, solved_at_epoch or None)."""
    target_of = GATES[gate]
    out(f"Learning {gate} with one neuron: predicted = 1 if w1*a + w2*b + bias > 0 else 0")
    while True:
        weights = [rng.uniform(-1, 1), rng.uniform(-1, 1)]
        bias = rng.uniform(-1, 1)
        if not all(predict(weights, bias, x) == target_of(*x) for x in INPUTS):
            break
        # a start that already computes the gate would show no learning at all
        out(f"(random start {show(weights, bias)} already computes {gate}: drawing again)")
    out(f"Starting weights (random): {show(weights, bias)}")
    for epoch in range(1, max_epochs + 1):
        mistakes = 0
        for inputs in INPUTS:
            target = target_of(*inputs)
            predicted = predict(weights, bias, inputs)
            error = target - predicted
            if error == 0:
                continue
            mistakes += 1
            out(f"Epoch {epoch}: Input=[{inputs[0]},{inputs[1]}] Target={target} "
                f"Predicted={predicted} Error={error} -> UPDATING weights")
            weights = [w + lr * error * x for w, x in zip(weights, inputs)]
            bias += lr * error
            out(f"    now {show(weights, bias)}")
        if mistakes == 0:
            out(f"Epoch {epoch}: Solved!")
            return weights, bias, epoch
    return weights, bias, None


def truth_table(gate, weights, bias, out=print):
    """Print each row with the neuron's answer; returns how many rows are right."""
    right = 0
    for inputs in INPUTS:
        target = GATES[gate](*inputs)
        predicted = predict(weights, bias, inputs)
        ok = predicted == target
        right += ok
        verdict = "Correct" if ok else f"Wrong, should be {target}"
        out(f"[{inputs[0]}, {inputs[1]}] -> {predicted} ({verdict})")
    return right


def main(argv=None):
    parser = OneLineErrorParser(
        prog="manual_neuron.py",
        description="Train one perceptron (pure Python) on a two-input logic gate and "
                    "print every weight update.",
        epilog="Exit codes: 0 solved, 1 gave up (XOR always: it is not linearly separable), "
               "2 bad command line. Example: python examples/manual_neuron.py --gate NAND --seed 3")
    parser.add_argument("--gate", required=True, type=str.upper, choices=sorted(GATES),
                        metavar="{AND,OR,NAND,NOR,XOR}", help="the truth table to learn")
    parser.add_argument("--lr", type=float, default=0.1,
                        help="learning rate: how far one mistake moves the weights (default 0.1)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the random starting weights (default 0)")
    parser.add_argument("--max-epochs", type=int, default=100,
                        help="give up after this many passes over the truth table (default 100)")
    args = parser.parse_args(argv)
    if not args.lr > 0 or args.lr == float("inf"):
        parser.error(f"--lr must be a positive number, got {args.lr}")
    if args.max_epochs < 1:
        parser.error(f"--max-epochs must be at least 1, got {args.max_epochs}")

    weights, bias, solved_at = train(args.gate, args.lr, args.max_epochs, random.Random(args.seed))
    if solved_at is None:
        print(f"Gave up after {args.max_epochs} epochs without getting all four rows right.")
    print(f"Final weights: {show(weights, bias)}")
    print(f"Truth table for {args.gate}:")
    right = truth_table(args.gate, weights, bias)
    if solved_at is not None:
        print(f"{right}/4 correct: the line w1*a + w2*b + bias = 0 separates the 1s from the 0s.")
        return 0
    if args.gate == "XOR":
        print("Why: XOR is not linearly separable. One neuron can only draw one straight line "
              "through the input square, and no line puts [0, 1] and [1, 0] on one side and "
              "[0, 0] and [1, 1] on the other, so every fix breaks another row and the weights "
              "cycle forever.")
        print("What solves it: a hidden layer. Two neurons compute OR(a, b) and NAND(a, b) and a "
              "third ANDs them: XOR = AND(OR, NAND), a two-layer network (see examples/my_engine.py "
              "for training one).")
    else:
        print(f"{args.gate} is linearly separable, so the perceptron rule does get there: "
              f"try a larger --max-epochs.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
