"""Streaming of op chains: the memory planner's choice of band chains (issue #13).

A run of consecutive convolutions (a depthwise, a pointwise, a first conv; up to
BB_CHAIN_MAX_STAGES of them, each intermediate read by the next stage only) can run as
one BandChainOp (ops.py, csrc/bb_band_chain_s8.h): its output computed a band of rows at
a time, its intermediates kept only as the rows still needed, in place over its input
when every stage keeps the shape. Same bytes, less memory, some copying.

`stream(q)` picks chains greedily: while the plan's peak op can be covered by a chain that
lowers the arena, it takes the chain and band height that give the smallest arena, the
tallest band among equals (fewer kernel calls, less copying). A chain is taken only when
it lowers the arena, so a model whose peak no chain can lower is returned unchanged, and
with an arena budget a model that already fits it is returned unchanged too. The
plan (memory_plan.plan_memory) counts each chain's scratch, rows buffers included, as its
live bytes: the arena it reports is exact.
"""
from .._core import lib
from .memory_plan import plan_memory
from .ops import BandChainOp, Conv2DOp, Conv2DPoolOp, DepthwiseConv2DOp, PointwiseConv2DOp

MAX_STAGES = int(lib.BB_CHAIN_MAX_STAGES)


def _stage_ok(op, first):
    if isinstance(op, DepthwiseConv2DOp):
        return op.depth_multiplier == 1
    if isinstance(op, PointwiseConv2DOp):
        return True
    # a conv's rows are copied again from the chain's input: the first stage only
    return first and isinstance(op, Conv2DOp) and not isinstance(op, Conv2DPoolOp)


def fuse(q, start, count, band_rows):
    """q with ops [start, start + count) as one BandChainOp of band_rows rows per band.
    Each op after the first must read only the one before it, which nothing else reads."""
    ops, reads = q.ops, q.reads
    for k in range(start + 1, start + count):
        readers = [t for t, values in enumerate(reads) if k - 1 in values]
        if reads[k] != [k - 1] or readers != [k]:
            raise ValueError(f"band chain: op {k} ({ops[k].name}) does not read only op {k - 1}, "
                             f"or op {k - 1} has other readers")
    chain = BandChainOp.of(ops[start:start + count], band_rows)

    def moved(v):  # a value index after the fusion
        return v if v < start else (start if v < start + count else v - count + 1)

    new_ops = ops[:start] + [chain] + ops[start + count:]
    new_reads = (reads[:start] + [reads[start]]
                 + [[moved(v) for v in values] for values in reads[start + count:]])
    # type(q), not an import of quantized.py: export.py asks this planner for its advice
    return type(q)(new_ops, q.input_shape, q.input_q, q.output_shape, reads=new_reads,
                          frontend=q.frontend)


def candidates(q, t):
    """(start, count) of the chains that could cover op t."""
    ops, reads = q.ops, q.reads
    found = []
    for start in range(max(0, t - MAX_STAGES + 1), t + 1):
        for count in range(1, MAX_STAGES + 1):
            end = start + count
            if end <= t or end > len(ops):
                continue
            if not all(_stage_ok(ops[k], k == start) for k in range(start, end)):
                continue
            if any(reads[k] != [k - 1] or sum(k - 1 in v for v in reads) != 1
                   for k in range(start + 1, end)):
                continue
            found.append((start, count))
    return found


def _band_heights(op):
    """Band heights worth trying: every divisor-like height that changes the band count."""
    height = op.out_shape[1] if len(op.out_shape) == 3 else 1
    heights, seen = [], set()
    for rows in range(1, height + 1):
        bands = -(-height // rows)
        if bands not in seen:
            seen.add(bands)
            heights.append(-(-height // bands))  # the smallest band for that count
    return heights


def _key(plan):
    """Smaller is better: the arena, then the live bytes of every op from the largest down
    (so that lowering one of several equal peaks counts as progress)."""
    return (plan.arena_bytes, sorted(plan.op_live_bytes, reverse=True))


def _with_rows(q, index, rows):
    """q with op `index` (a chain) at `rows` rows per band."""
    chain = q.ops[index]
    ops = list(q.ops)
    ops[index] = BandChainOp.of(chain.stages, rows)
    return type(q)(ops, q.input_shape, q.input_q, q.output_shape, reads=q.reads,
                          frontend=q.frontend)


def stream(q, arena_limit=None, max_rounds=64):
    """q with band chains wherever they lower the arena (q itself when none does).

    Two passes: chains are taken one at a time around the plan's peak op while they make
    it smaller (each at the band height that keeps its live bytes lowest); then each
    chain's band is made as tall as the arena allows (fewer kernel calls and copies):
    the smallest arena reached, or arena_limit bytes when that is larger (trading RAM
    back for ticks). When q's own arena fits arena_limit, q comes back unstreamed: whole
    ops are the fastest. The result's arena is never larger than q's."""
    best_q, best = q, plan_memory(q)
    if arena_limit is not None and best.arena_bytes <= arena_limit:
        return q
    for _ in range(max_rounds):
        found = None
        for start, count in candidates(best_q, best.peak_op):
            stages = best_q.ops[start:start + count]
            if count == 1 and isinstance(stages[0], DepthwiseConv2DOp) and stages[0].runs_in_place():
                continue  # already in place with a ring of rows: a chain cannot do better
            for rows in _band_heights(BandChainOp.of(stages, 1)):
                try:
                    trial = fuse(best_q, start, count, rows)
                    plan = plan_memory(trial)
                except ValueError:
                    continue
                key = (_key(plan), -rows)
                if _key(plan) < _key(best) and (found is None or key < found[0]):
                    found = (key, trial, plan)
        if found is None:
            break
        _, best_q, best = found
    arena = max(best.arena_bytes, arena_limit or 0)
    for index, op in enumerate(best_q.ops):
        if op.kind != BandChainOp.kind:
            continue
        for rows in reversed(_band_heights(op)):
            if rows <= op.band_rows:
                break
            try:
                trial = _with_rows(best_q, index, rows)
                if plan_memory(trial).arena_bytes <= arena:
                    best_q = trial
                    break
            except ValueError:
                continue
    return best_q
