"""The one rewrite pass: which chains of neighbouring layers run as one step.

A model (a Sequential is a chain) is a list of nodes, each reading earlier nodes. A chain
is a node followed by its only reader, that reader's only reader, and so on, where each
reader reads nothing else. A rule table lists patterns of layer types; `fused_chains`
finds, from each node in order, the longest chain a pattern matches. Two tables use it:

TRAINING_CHAINS, what training runs as one step (`run_pair`):
- Linear then ReLU as one C call (`Linear.forward(x, relu=True)`);
- ReLU then MaxPool swapped: max(relu(y)) == relu(max(y)), gradients too, and the ReLU
  then sees a quarter of the values for 2x2 windows.
Both give the values and gradients of the unfused layers (tests check it exactly).

INT8_CHAINS, the layers one int8 op computes (deploy/stages.py): a convolution or Linear
with the BatchNorm after it folded into its weights, the ReLU / ReLU6 after it as the
clamp of its requantization, and, after a Conv2D, a MaxPool (the conv2d_pool op, which
never stores the convolution's output); an Add with its ReLU; two activations in a row
as one clamp.
"""
from .layers import BatchNorm, Conv1D, Conv2D, DepthwiseConv2D, Linear, MaxPool, ReLU, ReLU6
from .merge import Add

OPTIONAL = "optional"
ACTIVATIONS = (ReLU, ReLU6)

TRAINING_CHAINS = (
    ((Linear,), (ReLU,)),
    ((ReLU,), (MaxPool,)),
)

# A second activation right after the first is one clamp too (ReLU6 then ReLU is ReLU6).
INT8_CHAINS = (
    ((Conv2D,), (BatchNorm, OPTIONAL), (ACTIVATIONS, OPTIONAL), (ACTIVATIONS, OPTIONAL),
     (MaxPool, OPTIONAL)),
    ((Conv2D,), (BatchNorm, OPTIONAL), (MaxPool,), ACTIVATIONS, (ACTIVATIONS, OPTIONAL)),
    ((DepthwiseConv2D, Conv1D, Linear), (BatchNorm, OPTIONAL), (ACTIVATIONS, OPTIONAL),
     (ACTIVATIONS, OPTIONAL)),
    ((Add,), (ACTIVATIONS, OPTIONAL), (ACTIVATIONS, OPTIONAL)),
    (ACTIVATIONS, ACTIVATIONS),
)


def _element(element):
    """(types, optional) of a pattern element: a tuple of types, or that and OPTIONAL."""
    if len(element) == 2 and element[1] is OPTIONAL:
        types = element[0] if isinstance(element[0], tuple) else (element[0],)
        return types, True
    return tuple(element), False


def _match(pattern, start, layers, sole_reader):
    """The nodes of the longest chain from `start` that `pattern` matches, or None.

    Layer types match exactly: a subclass may compute something else."""
    types, _ = _element(pattern[0])
    if type(layers[start]) not in types:
        return None
    chain, node = [start], start
    for element in pattern[1:]:
        types, optional = _element(element)
        reader = sole_reader(node)
        if reader is not None and type(layers[reader]) in types:
            chain.append(reader)
            node = reader
        elif not optional:
            return None
    return chain


def fused_chains(layers, reads, patterns, ready=None):
    """{first node: chain} for the chains of two nodes or more that `patterns` match.

    layers[i] is node i's layer and reads[i] the indices of the nodes it reads (-1 is the
    model's input). From each node not yet in a chain, in order, the longest match of any
    pattern is taken. ready(layer), when given, must accept a chain's first layer."""
    readers = {}
    for j, node_reads in enumerate(reads):
        for r in node_reads:
            readers.setdefault(r, []).append(j)

    def sole_reader(i):
        mine = readers.get(i, [])
        return mine[0] if len(mine) == 1 and reads[mine[0]] == [i] else None

    chains, taken = {}, set()
    for start in range(len(layers)):
        if start in taken or (ready is not None and not ready(layers[start])):
            continue
        matches = [m for m in (_match(p, start, layers, sole_reader) for p in patterns) if m]
        best = max(matches, key=len, default=None)
        if best is not None and len(best) >= 2:
            chains[start] = best
            taken.update(best)
    return chains


def fused_pairs(layers, reads):
    """{i: j} for the nodes i that training runs together with their only reader j."""
    return {i: chain[1] for i, chain in fused_chains(layers, reads, TRAINING_CHAINS, _ready).items()}


def _ready(layer):
    # Linear's fused call needs its weights: an unbuilt one runs alone once, building itself.
    return layer.built or not isinstance(layer, Linear)


def run_pair(first, second, x):
    """The value of second(first(x)) for a pair fused_pairs chose, in one step."""
    if isinstance(first, Linear):
        first.check_input(x)
        return first.forward(x, relu=True)
    return first(second(x))  # ReLU then MaxPool: pool first
