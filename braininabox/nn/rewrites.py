"""The one rewrite pass: which neighbouring layers run as one step.

A model (a Sequential is a chain) is a list of nodes, each reading earlier nodes. A node
and its only reader fuse when their layer types form a pair in the rule table and the
reader reads nothing else; the output node never starts a pair. Training runs:

- Linear then ReLU as one C call (`Linear.forward(x, relu=True)`);
- ReLU then MaxPool swapped: max(relu(y)) == relu(max(y)), gradients too, and the ReLU
  then sees a quarter of the values for 2x2 windows.

Both give the values and gradients of the unfused layers (tests check it exactly).
"""
from .layers import Linear, MaxPool, ReLU

TRAINING_PAIRS = frozenset({(Linear, ReLU), (ReLU, MaxPool)})


def fused_pairs(layers, reads, pairs=TRAINING_PAIRS):
    """{i: j} for the nodes i whose only reader j forms a fusable pair with it.

    layers[i] is node i's layer and reads[i] the indices of the nodes it reads (-1 is the
    model's input); node len(layers) - 1 is the output."""
    readers = {}
    for j, node_reads in enumerate(reads):
        for r in node_reads:
            readers.setdefault(r, []).append(j)
    fused = {}
    for i in range(len(layers) - 1):
        if len(readers.get(i, [])) != 1 or i in fused.values():
            continue
        j = readers[i][0]
        if (type(layers[i]), type(layers[j])) in pairs and len(reads[j]) == 1 \
                and _ready(layers[i]):
            fused[i] = j
    return fused


def _ready(layer):
    # Linear's fused call needs its weights: an unbuilt one runs alone once, building itself.
    return layer.built or not isinstance(layer, Linear)


def run_pair(first, second, x):
    """The value of second(first(x)) for a pair fused_pairs chose, in one step."""
    if isinstance(first, Linear):
        first.check_input(x)
        return first.forward(x, relu=True)
    return first(second(x))  # ReLU then MaxPool: pool first
