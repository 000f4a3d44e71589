"""The activation arena of an int8 model, planned once at export time.

Every activation is a buffer with a lifetime: from the op that writes it to the last
op that reads it (op i runs at time i; the model input is read at time 0). Buffers
whose lifetimes overlap may not share bytes; all others may. Two placements are
tried and the smaller arena kept:
- greedy, largest buffer first, each at the lowest 4-byte-aligned offset that does not
  collide with a placed buffer alive at the same time (TFLite Micro's greedy planner);
  it handles any lifetimes, but can miss the optimum;
- ping-pong, for a chain (only consecutive buffers ever live together, as in a
  Sequential model): buffers alternate between the bottom and the top of an arena as
  large as the biggest consecutive pair, which is the lower bound.

An op whose class allows it (`runs_in_place()`: clamp, add, depthwise with multiplier 1
at the same height and width) runs in place when its first input dies at that op: its
output is its input's buffer. In a graph a value lives until its last reader (a
residual's input until its Add). A fused conv2d_pool op (Conv2D +
ReLU + MaxPool) has only its pooled output: the convolution output never exists; nor do
the intermediates of a band_chain op (streaming.py), whose rows buffers are its scratch.

Scratch: an op whose kernel needs working memory (`op.scratch_bytes()`, from the
kernel's bb_<op>_s8_scratch_size in C) gets a buffer alive only while it runs, placed in
the arena like the activations; the runtime hands it to the kernel.
"""
from dataclasses import dataclass

ALIGN = 4


@dataclass
class Buffer:
    name: str
    size: int
    first: int  # time of the op that writes it (0 for the model input)
    last: int  # time of the last op that reads it
    offset: int = -1

    def alive_with(self, other):
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    buffers: list  # Buffer, in creation order: the input, then op outputs
    op_io: list  # (input_offset, output_offset) per op, in bytes
    arena_bytes: int
    scratch_bytes: int  # the largest scratch any op needs (inside the arena)
    flash_bytes: int  # weights, biases, requantization parameters, tables
    peak_op: int  # the op at which the most activation bytes are alive
    peak_bytes: int
    op_names: list
    op_scratch: list = None  # per op: the scratch buffer's offset, or None when it needs none
    op_inputs: list = None  # per op: the offsets of all its inputs, in its order
    op_live_bytes: list = None  # per op: the bytes alive while it runs (activations and scratch)
    input_at: int = 0  # the model input's offset

    @property
    def activation_bytes(self):
        """All activation buffers laid end to end: what the arena would be without sharing."""
        return sum(b.size for b in self.buffers)

    @property
    def ram_bytes(self):
        return self.arena_bytes  # scratch is placed inside the arena

    def __str__(self):
        lines = [f"arena {self.arena_bytes:,} B (all activations unshared: "
                 f"{self.activation_bytes:,} B), scratch {self.scratch_bytes:,} B, "
                 f"weights {self.flash_bytes:,} B in flash",
                 f"peak at op {self.peak_op} ({self.op_names[self.peak_op]}): "
                 f"{self.peak_bytes:,} B alive"]
        for b in self.buffers:
            lines.append(f"  {b.name:<40} {b.size:>8,} B at {b.offset:>7,}  ops {b.first}..{b.last}")
        if self.op_live_bytes is not None:
            lines.append("live bytes per op (activations and scratch alive while it runs):")
            for t, (name, live) in enumerate(zip(self.op_names, self.op_live_bytes)):
                mark = "  <- peak" if t == self.peak_op else ""
                lines.append(f"  op {t:>3} {name:<40} {live:>8,} B{mark}")
        return "\n".join(lines)


def _aligned(n):
    return -(-n // ALIGN) * ALIGN


def _greedy(buffers):
    offsets, placed = {}, []
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first)):
        offset = 0
        for other in sorted((p for p in placed if p.alive_with(buf)), key=lambda p: offsets[id(p)]):
            if offset + buf.size <= offsets[id(other)]:
                break  # fits in the gap before `other`
            offset = max(offset, _aligned(offsets[id(other)] + other.size))
        offsets[id(buf)] = offset
        placed.append(buf)
    return [offsets[id(b)] for b in buffers]


def _ping_pong(buffers):
    """None unless buffers (in creation order) form a chain."""
    for i, a in enumerate(buffers):
        if any(a.alive_with(b) for b in buffers[i + 2:]):
            return None
    sizes = [_aligned(b.size) for b in buffers]
    arena = max([sizes[0]] + [x + y for x, y in zip(sizes, sizes[1:])])
    return [0 if i % 2 == 0 else arena - size for i, size in enumerate(sizes)]


def _place(buffers):
    candidates = [c for c in (_greedy(buffers), _ping_pong(buffers)) if c is not None]
    best = min(candidates, key=lambda offs: max(o + b.size for o, b in zip(offs, buffers)))
    for buf, offset in zip(buffers, best):
        buf.offset = offset


def chain_reads(count):
    """What each op of a chain reads: the previous op's output (-1: the model input)."""
    return [[i - 1] for i in range(count)]


def plan_memory(q):
    """The MemoryPlan of QuantizedModel q: its ops in topological order, op i reading the
    values q.reads[i] (-1 the model input, j the output of op j).

    A value lives from the op that writes it to its last reader (a residual's input stays
    alive until its Add). An op whose kind allows it (op.runs_in_place()) writes over its
    first input when that input dies at the op and no other input of it is the same value."""
    ops = q.ops
    reads = getattr(q, "reads", None) or chain_reads(len(ops))
    last_read = {}
    for t, values in enumerate(reads):
        for v in values:
            last_read[v] = t
    buffer_of = {-1: Buffer("input", q.input_size, 0, 0)}
    buffers, scratch = [buffer_of[-1]], []
    for t, op in enumerate(ops):
        need = op.scratch_bytes()
        scratch.append(Buffer(f"{op.name} scratch", need, t, t) if need > 0 else None)
        first = reads[t][0]
        source = buffer_of[first]
        if (op.runs_in_place() and last_read[first] == t and first not in reads[t][1:]
                and source.size == op.out_size):
            buffer_of[t] = source  # the same bytes go on living
        else:
            buffer_of[t] = Buffer(f"{op.name} output", op.out_size, t, t)
            buffers.append(buffer_of[t])
    for v, t in last_read.items():
        buffer_of[v].last = max(buffer_of[v].last, t)
    activations = list(buffers)
    buffers += [b for b in scratch if b is not None]
    _place(buffers)
    arena = max(b.offset + b.size for b in buffers)
    alive = [sum(b.size for b in buffers if b.first <= t <= b.last) for t in range(len(ops))]
    peak = max(range(len(ops)), key=lambda t: alive[t])
    return MemoryPlan(buffers=activations,
                      op_io=[(buffer_of[reads[t][0]].offset, buffer_of[t].offset) for t in range(len(ops))],
                      arena_bytes=-(-arena // ALIGN) * ALIGN,
                      scratch_bytes=max([b.size for b in scratch if b is not None], default=0),
                      flash_bytes=sum(op.flash_bytes() for op in ops), peak_op=peak,
                      peak_bytes=alive[peak], op_names=[op.name for op in ops],
                      op_scratch=[None if b is None else b.offset for b in scratch],
                      op_inputs=[[buffer_of[v].offset for v in values] for values in reads],
                      op_live_bytes=alive, input_at=buffer_of[-1].offset)
