"""Random small graphs drawn from the op registry itself.

A ``GraphSpec`` is plain data: inputs (placeholders, some with ``None`` dims, and Variables), nodes
(a registry op, the value ids it reads, its attributes), the values fetched, the values summed into
the loss with fixed weights, and the gradient targets. The numpy reference (``reference.py``) and
the tgc builders (``checks.py``) both read it, so one drawing serves every check.

Every choice goes through a ``Chooser``: hypothesis's ``draw`` in pytest (so a failure shrinks to a
small graph) or a numpy Generator in the campaign (so a seed names a graph). The ops come from
``load_all_ops()`` — every runnable op that declares samples — filtered only by what the samples say
(operand dtypes, value ranges, attributes); the few exclusions are named in ``EXCLUDED_OPS``.

While a node is drawn, its numpy value is computed on the graph's actual inputs, and the candidate
is dropped when that value is not finite, too large, or not stable under a 1e-3 perturbation of its
operands (a comparison of near-equal values, ``floor`` next to an integer): float32 rounding in tgc
must not be able to flip such a result, or a right answer would read as a wrong one.

With ``control_flow`` (a percentage) the generator also draws control flow (``draw_control``):
``tf.while_loop`` nodes (loop variables from the graph so far, a counter bounded by a drawn trip
count, sometimes ``maximum_iterations``, sometimes a shape invariant with a ``None`` dim, a body
drawn from differentiable registry ops over the loop variables and captured outer tensors, nested
loops and conds), ``tf.cond`` and ``tf.case`` nodes (predicates from a drawn scalar compared with a
threshold well away from it, or a fed bool placeholder; branches drawn over captured outer tensors
with the same output structure, dims that differ between branches unknown in the result). A
control-flow node is checked as a whole like any node (finite, not too large, stable under the
perturbation), and its results feed later nodes, the loss and the gradient targets.
"""

from __future__ import annotations

import abc
import os
import sys
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from tgc.dialect.registry import REGISTRY, ShapeError, load_all_ops
from tgc.dialect.shapes import FLOAT_DTYPES
from tgc.dialect.types import TensorSpec

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "unit")
)
from registry_harness import skip_reason  # noqa: E402  (the registry-wide tests' notion of runnable)

from conformance.reference import CONTROL_OPS, evaluate_op  # noqa: E402

FLOAT = "float"  # an operand slot that takes the graph's float dtype (float32 or float64)
DEFAULT_RANGE = (-2.0, 2.0)  # Sample's default low/high: a sample that keeps it declares no domain
MAX_MAGNITUDE = (
    1e4  # values beyond this make float32 comparisons meaningless; such nodes are redrawn
)
STABILITY_STEP = (
    1e-3  # relative perturbation a node's result must survive (see the module docstring)
)

# Runnable ops the generator never draws, and why. Anything else in the
# registry with samples is drawn.
EXCLUDED_OPS = {
    "constant": "no operands; constants enter graphs as loss weights and domain adapters",
    "fill": (
        "no operands (a shape attribute only); fill_like covers the same lowering on drawn values"
    ),
    "no_op": "no result to check",
    "conv2d": "needs an NHWC input and an HWIO filter of matching channels: graphs of broadcasting "
    "shapes never hold such a pair (covered by the registry samples and test_conv_ops.py)",
    "conv2d_backprop_input": "as conv2d: needs a filter and an output-gradient of matching shapes",
    "conv2d_backprop_filter": "as conv2d: needs an input and an output-gradient of matching shapes",
}

# Ops with these registry traits are never drawn, and why.
EXCLUDED_TRAITS = {
    "value_shaped": "its result's size is decided by its operands' values (tf.range of run-time "
    "bounds, a reshape to a run-time shape vector): drawn values would make sizes arbitrary "
    "(covered by the registry samples and tests/e2e/test_run_time_dims.py)",
}

# Known bugs another change is fixing. The generator avoids each situation while its name is in
# ``avoid`` (the default, so that the suite is green); the campaign's --include-known-bugs draws
# them too. Remove an entry, and the lines that test for it, once its fix lands. Issue 12's #1-#4
# (fan-out with several targets, run-time broadcasting of None dims fed 1, reductions over no axes,
# the gradient of a reshape with unknown dims), finding F2 (a 0-d Variable in an artifact) and F4 (a
# pool of a tensor with 0 channels) and "dynamic-control-results" (a loop's or cond's result of
# unknown shape read by an op on a target that compiles static shapes only: placement now keeps such
# an op on the CPU) were entries here until their fixes landed; the generator draws them all
# (test_random_graphs.py checks that it does).
KNOWN_BUGS: dict = {}


# ---- choices -------------------------------------------------------------------------------------


class Chooser(abc.ABC):
    """The choices a drawing makes; subclasses take them from hypothesis or from a seed."""

    @abc.abstractmethod
    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high], both included."""

    def chance(self, percent: int) -> bool:
        return self.integer(0, 99) < percent

    def choice(self, items):
        items = list(items)
        return items[self.integer(0, len(items) - 1)]


class RandomChooser(Chooser):
    """Choices from a numpy Generator: the campaign's seed names the graph."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def integer(self, low, high):
        return int(self.rng.integers(low, high + 1))


class HypothesisChooser(Chooser):
    """Choices from hypothesis's ``draw``, so that a failing graph shrinks."""

    def __init__(self, draw):
        from hypothesis import strategies as st

        self.draw = draw
        self.st = st

    def integer(self, low, high):
        return self.draw(self.st.integers(low, high))


# ---- the drawn graph -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    name: str
    kind: str  # "placeholder" or "variable"
    shape: tuple  # the shape fed (or the Variable's shape)
    static: tuple  # the placeholder's declared shape: None for unknown dims
    low: float
    high: float
    dtype: str | None = None  # None: the graph's float dtype; "bool": a predicate's placeholder


@dataclass(frozen=True)
class Body:
    """A loop's body or a branch: local value ids 0..params-1 are its parameters (a loop's
    variables, then the outer tensors it captures; a branch's captured tensors), then its nodes'
    results; it returns ``outputs``."""

    params: int
    nodes: tuple
    outputs: tuple


@dataclass(frozen=True)
class Node:
    op: str
    args: tuple  # value ids
    attrs: dict
    results: int  # how many value ids the node adds
    device: int = 0  # /cpu:N in the two-device variant


@dataclass
class GraphSpec:
    """A drawn graph. Value ids: the inputs first, then each node's results in order."""

    seed: int
    dtype: str  # "float32" or "float64"
    inputs: list
    nodes: list
    fetches: tuple = ()  # value ids compared forward
    loss: tuple = ()  # (value id, weight array) pairs: loss = sum(sum(value * weight))
    targets: tuple = ()  # value ids to differentiate the loss by
    variant: str = "session"
    api: bool | None = (
        None  # build ops by TF1 API calls (True), make_op (False), or a mix by node (None)
    )
    arrays: list = field(default_factory=list)  # the input values, in the graph's dtype
    values: list = field(
        default_factory=list
    )  # float64 reference of every value id (while drawing)
    static: list = field(
        default_factory=list
    )  # TensorSpec of every value id as the graph declares it

    @property
    def num_values(self) -> int:
        return len(self.inputs) + sum(n.results for n in self.nodes)

    def producers(self) -> list:
        """For each value id: (node index, result index), or None for an input."""
        out = [None] * len(self.inputs)
        for i, node in enumerate(self.nodes):
            out.extend((i, k) for k in range(node.results))
        return out

    def uses(self) -> list:
        """How many operand slots (and loss terms) read each value id."""
        counts = [0] * self.num_values
        for node in self.nodes:
            for a in node.args:
                counts[a] += 1
        for v, _ in self.loss:
            counts[v] += 1
        return counts

    def ops(self) -> list:
        return [n.op for n in self.nodes]

    def describe(self) -> str:
        """A short text of the graph for logs and failure messages."""
        lines = [f"seed {self.seed} {self.dtype} variant={self.variant}"]
        for i, inp in enumerate(self.inputs):
            kind = inp.kind if inp.dtype is None else f"{inp.kind} {inp.dtype}"
            lines.append(
                f"  v{i} = {kind} static={list(inp.static)} fed={list(inp.shape)} "
                f"range=[{inp.low}, {inp.high}]"
            )
        lines.extend(_describe_nodes(self.nodes, len(self.inputs), "v", "  "))
        lines.append(
            f"  fetch {['v%d' % f for f in self.fetches]} loss {['v%d' % v for v, _ in self.loss]} "
            f"targets {['v%d' % t for t in self.targets]}"
        )
        return "\n".join(lines)


def _describe_nodes(nodes, first: int, prefix: str, indent: str) -> list:
    lines, value = [], first
    for node in nodes:
        names = ", ".join(f"{prefix}{value + k}" for k in range(node.results))
        args = ", ".join(f"{prefix}{a}" for a in node.args)
        if node.op in CONTROL_OPS:
            lines.extend(_describe_control(node, names, args, indent))
        else:
            attrs = {
                k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in node.attrs.items()
            }
            lines.append(f"{indent}{names} = {node.op}({args}) {attrs} on cpu:{node.device}")
        value += node.results
    return lines


def _describe_control(node, names: str, args: str, indent: str) -> list:
    a = node.attrs
    if node.op == "while_loop":
        head = (
            f"{indent}{names} = while_loop({args}) vars={a['vars']} trips={a['trips']} "
            f"maximum_iterations={a['maximum_iterations']} invariants={a['invariants']} "
            f"on cpu:{node.device}"
        )
        bodies = [("body", a["body"])]
    else:
        head = f"{indent}{names} = {node.op}({args}) on cpu:{node.device}"
        bodies = [(f"branch {i}", b) for i, b in enumerate(a["branches"])]
    lines = [head]
    depth = indent.count("  ")
    for title, body in bodies:
        prefix = f"l{depth}_"
        lines.append(f"{indent}  {title}({', '.join(f'{prefix}{i}' for i in range(body.params))}):")
        lines.extend(_describe_nodes(body.nodes, body.params, prefix, indent + "    "))
        lines.append(f"{indent}    return {', '.join(f'{prefix}{o}' for o in body.outputs)}")
    return lines


# ---- the op catalogue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpEntry:
    """What the generator needs of one registry op, read from its samples."""

    name: str
    signatures: tuple  # per usable sample: operand dtype classes (FLOAT, "bool", "int32", ...)
    templates: tuple  # per usable sample: its attributes (defaults filled)
    domain: tuple | None  # (low, high) the float operands must lie in, where the samples say so
    int_high: int  # integer operands lie in [0, int_high)


def _dtype_class(dtype: str) -> str:
    return FLOAT if dtype in FLOAT_DTYPES else dtype


def _entry(opdef) -> OpEntry | None:
    signatures, templates, ranges, int_high = [], [], [], 1
    for sample in opdef.samples:
        dtypes = sample.operand_dtypes()
        if len(dtypes) != len(opdef.operands) or sample.values:
            # fixed operand values (indices in range, special points): not drawable at random
            continue
        if "float16" in dtypes or "bfloat16" in dtypes:
            continue
        signatures.append(tuple(_dtype_class(d) for d in dtypes))
        templates.append(opdef.complete_attrs(dict(sample.attrs)))
        if FLOAT in signatures[-1]:
            ranges.append((sample.low, sample.high))
        int_high = max(int_high, sample.int_high)
    if not signatures:
        return None
    declared = [r for r in ranges if r != DEFAULT_RANGE]
    domain = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if declared else None
    return OpEntry(opdef.name, tuple(signatures), tuple(templates), domain, int_high)


def catalogue() -> dict:
    """name -> OpEntry for every runnable registry op with a drawable sample, less EXCLUDED_OPS."""
    out = {}
    for name, opdef in sorted(load_all_ops().items()):
        if skip_reason(opdef) is not None or name in EXCLUDED_OPS or not opdef.samples:
            continue
        if set(getattr(opdef, "traits", ())) & set(EXCLUDED_TRAITS):
            continue
        entry = _entry(opdef)
        if entry is not None:
            out[name] = entry
    return out


# ---- attributes ----------------------------------------------------------------------------------


def _subset(ch: Chooser, items: list) -> list:
    return [i for i in items if ch.chance(50)]


def _draw_reshape(ch: Chooser, shape: tuple) -> list:
    """A new shape of the same size: dims merged, split or padded with 1s, maybe one -1."""
    dims = list(shape)
    for _ in range(ch.integer(0, 2)):
        move = ch.integer(0, 2)
        if move == 0 and len(dims) >= 2:  # merge two neighbours
            i = ch.integer(0, len(dims) - 2)
            dims[i : i + 2] = [dims[i] * dims[i + 1]]
        elif move == 1 and dims:  # split a dim into two factors
            i = ch.integer(0, len(dims) - 1)
            factors = [f for f in range(2, dims[i]) if dims[i] % f == 0]
            if factors:
                f = ch.choice(factors)
                dims[i : i + 1] = [f, dims[i] // f]
        elif len(dims) < 4:  # a size-1 axis
            dims.insert(ch.integer(0, len(dims)), 1)
    if dims and ch.chance(50):
        dims[ch.integer(0, len(dims) - 1)] = -1
    return dims


def _draw_slice(ch: Chooser, shape: tuple) -> dict:
    begin = [ch.integer(0, max(d - 1, 0)) for d in shape]
    size = [-1 if ch.chance(30) else ch.integer(0, d - b) for d, b in zip(shape, begin)]
    return {"begin": begin, "size": size}


def _draw_strided_slice(ch: Chooser, shape: tuple) -> dict:
    def bits():
        return sum(1 << i for i in range(len(shape)) if ch.chance(25))

    return {
        "begin": [ch.integer(-d, d) if d else 0 for d in shape],
        "end": [ch.integer(-d, d) if d else 0 for d in shape],
        "strides": [ch.integer(1, 2) for _ in shape],
        "begin_mask": bits(),
        "end_mask": bits(),
    }


def draw_attrs(ch: Chooser, entry: OpEntry, template: dict, shapes: list) -> dict:
    """Attributes for ``entry`` on operands of concrete ``shapes``: the sample's, with those whose
    meaning is shape-generic (axes, perm, shape, ...) redrawn for these operands. The result rule
    then judges them (a ShapeError drops the candidate)."""
    attrs = dict(template)
    rank = len(shapes[0]) if shapes else 0
    first = shapes[0] if shapes else ()
    redraw = {
        "axes": lambda: _subset(ch, list(range(rank))),
        "keepdims": lambda: ch.chance(50),
        "axis": lambda: ch.integer(-rank - 1, rank),
        "perm": lambda: _permutation(ch, rank),
        "shape": lambda: _draw_reshape(ch, first),
        "multiples": lambda: [ch.integer(1, 2) for _ in range(rank)],
        "num_split": lambda: ch.integer(1, 3),
        "transpose_a": lambda: ch.chance(50),
        "transpose_b": lambda: ch.chance(50),
    }
    for key in attrs:
        if key in redraw and ch.chance(80):
            attrs[key] = redraw[key]()
    if {"begin", "size"} <= set(attrs) and ch.chance(80):
        attrs.update(_draw_slice(ch, first))
    if {"begin", "end", "strides"} <= set(attrs) and ch.chance(80):
        attrs.update(_draw_strided_slice(ch, first))
    return attrs


def _permutation(ch: Chooser, n: int) -> list:
    rest, out = list(range(n)), []
    while rest:
        out.append(rest.pop(ch.integer(0, len(rest) - 1)))
    return out


def with_float(attrs: dict, dtype: str) -> dict:
    """A dtype-valued attribute naming a float takes the graph's float dtype."""
    return {k: (dtype if isinstance(v, str) and v in FLOAT_DTYPES else v) for k, v in attrs.items()}


# ---- drawing a graph -----------------------------------------------------------------------------


class Reject(Exception):
    """The candidate node does not fit (shape rule, reference error, unstable or huge values)."""


def _draw_inputs(ch: Chooser, spec: GraphSpec, avoid: set) -> None:
    rank = ch.choice([0, 1, 1, 2, 2, 2, 3, 3, 4, 4])  # rank 4: NHWC for the pooling ops
    base = [ch.integer(1, 4) for _ in range(rank)]
    zero_axis = ch.integer(0, rank - 1) if rank and ch.chance(8) else None
    unknown = ch.chance(50)  # this graph's placeholders may declare None dims
    count = ch.integer(2, 4)
    for i in range(count):
        kind = "variable" if ch.chance(30) else "placeholder"
        k = ch.integer(0, rank)  # trailing axes of the base shape this input has
        axes = list(range(rank - k, rank))
        shape, static = [], []
        for axis in axes:
            dim = base[axis]
            if dim > 1 and ch.chance(25):
                dim = 1  # broadcast against the others
            if axis == zero_axis and (dim > 1 or ch.chance(50)):
                dim = 0
            none = kind == "placeholder" and unknown and ch.chance(40)
            if none and dim == base[axis] and dim > 1 and ch.chance(20):
                dim = 1  # declared None, fed 1: broadcast at run time
            if kind == "variable" and dim == 0:
                dim = 1  # a Variable's shape is static: it broadcasts over the empty axis
            shape.append(dim)
            static.append(None if none else dim)
        low, high = ch.choice([DEFAULT_RANGE, DEFAULT_RANGE, (0.5, 2.0), (-0.9, 0.9)])
        spec.inputs.append(Input(f"in{i}", kind, tuple(shape), tuple(static), low, high))
    rng = np.random.default_rng(ch.integer(0, 2**31 - 1))
    np_dtype = np.dtype(spec.dtype)
    for inp in spec.inputs:
        array = rng.uniform(inp.low, inp.high, size=inp.shape).astype(np_dtype)
        spec.arrays.append(array)
        spec.values.append(array.astype(np.float64))
        spec.static.append(TensorSpec(inp.static, spec.dtype))


def _pick_operand(ch: Chooser, spec: GraphSpec, pool: list) -> int:
    """A value id from ``pool``, favouring recent values (chains) and inputs (fan-out)."""
    if ch.chance(35):
        inputs = [v for v in pool if v < len(spec.inputs)]
        if inputs:
            return ch.choice(inputs)
    if ch.chance(50):
        return pool[-1]
    return ch.choice(pool)


def _value_dtype(spec: GraphSpec, v: int) -> str:
    return spec.static[v].dtype


def _pool(spec: GraphSpec, cls: str) -> list:
    """Value ids of dtype class ``cls``; the constants of domain adapters are not reused."""
    want = spec.dtype if cls == FLOAT else cls
    constants = _constant_ids(spec)
    return [
        v for v in range(len(spec.values)) if _value_dtype(spec, v) == want and v not in constants
    ]


def _constant_ids(spec: GraphSpec) -> set:
    return {
        v
        for v, where in enumerate(spec.producers())
        if where and spec.nodes[where[0]].op == "constant"
    }


def _adapt(ch, spec: GraphSpec, v: int, domain, pending: list) -> int:
    """``v`` mapped into the op's declared domain by low + (high - low) * sigmoid(v) (registry ops
    too), where its values leave the domain; the new nodes go to ``pending``."""
    low, high = domain
    if _inside(spec.values[v], domain):
        return v
    sig = _commit(spec, Node("sigmoid", (v,), {}, 1), pending)
    scale = _add_const(spec, (high - low), pending)
    scaled = _commit(spec, Node("multiply", (sig, scale), {}, 1), pending)
    offset = _add_const(spec, low, pending)
    return _commit(spec, Node("add", (scaled, offset), {}, 1), pending)


def _add_const(spec: GraphSpec, value: float, pending: list) -> int:
    return _commit(spec, Node("constant", (), {"value": np.array(value, spec.dtype)}, 1), pending)


def _eval_node(spec: GraphSpec, node: Node, args: list) -> list:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # mean of an empty slice: judged by finiteness
        try:
            outs = evaluate_op(node.op, args, node.attrs, spec.dtype, None)
        except (ValueError, IndexError, TypeError, ZeroDivisionError, OverflowError) as exc:
            raise Reject(f"reference: {exc}") from None
    return [np.asarray(o) for o in outs]


def _result_specs(node: Node, specs: list) -> list:
    if node.op in CONTROL_OPS:  # what the drawing decided (shape invariants, joined branches)
        return list(node.attrs["specs"])
    try:
        return REGISTRY[node.op].result_specs(specs, dict(node.attrs))
    except (ShapeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise Reject(f"shape rule: {exc}") from None


def _commit(spec: GraphSpec, node: Node, pending: list) -> int:
    """Adds ``node``'s reference values and specs; checks them; returns its first value id."""
    args = [spec.values[a].astype(spec.values[a].dtype) for a in node.args]
    static = _result_specs(node, [spec.static[a] for a in node.args])
    if node.op in CONTROL_OPS:
        outs = _eval_node(spec, node, args)
        concrete = [TensorSpec(o.shape, s.dtype) for o, s in zip(outs, static)]
    else:
        concrete = _result_specs(
            node, [TensorSpec(spec.values[a].shape, spec.static[a].dtype) for a in node.args]
        )
        outs = _eval_node(spec, node, args)
    if len(outs) != len(concrete):
        raise Reject("result count")
    for out, c in zip(outs, concrete):
        if tuple(out.shape) != tuple(c.shape):
            raise Reject(f"reference shape {out.shape} differs from the result rule's {c.shape}")
        if (
            c.dtype in FLOAT_DTYPES
            and out.size
            and (not np.all(np.isfinite(out)) or np.abs(out).max() > MAX_MAGNITUDE)
        ):
            raise Reject("values not finite or too large")
    if node.op != "constant":
        _check_stable(spec, node, args, outs)
    first = len(spec.values)
    node = replace(node, results=len(outs))
    for out, s in zip(outs, static):
        spec.values.append(out.astype(np.float64) if s.dtype in FLOAT_DTYPES else out)
        spec.static.append(TensorSpec(s.shape, s.dtype))
    spec.nodes.append(node)
    pending.append(node)
    return first


def _check_stable(spec: GraphSpec, node: Node, args: list, outs: list) -> None:
    """The node's results change smoothly when its float operands move by STABILITY_STEP."""
    floats = [i for i, a in enumerate(args) if a.dtype.kind == "f"]
    if not floats:
        return
    rng = np.random.default_rng(len(spec.values))
    for _ in range(2):
        moved = [a.copy() for a in args]
        for i in floats:
            step = STABILITY_STEP * (1.0 + np.abs(moved[i]))
            moved[i] = moved[i] + step * rng.choice([-1.0, 1.0], size=moved[i].shape)
        again = _eval_node(spec, node, moved)
        for before, after in zip(outs, again):
            if before.dtype.kind != "f":
                if not np.array_equal(before, after):
                    raise Reject("a non-float result flips under a small perturbation")
            elif before.size and np.abs(after - before).max() > 0.5:
                raise Reject("a float result jumps under a small perturbation")


# Ops whose integer operand indexes the rows of another: op -> (the index operand, the operand
# whose first dim they index). gather_grad is TF's UnsortedSegmentSum (segment ids into
# num_segments rows): TF fails on an id past the rows ("segment_ids[0] = 1 is out of range
# [0, 1)"; its gradient's GatherV2 too), while the registry op drops it, as tgc's internal
# scatter-adds need (boolean_mask sends its false entries past the end), and its gradient, a
# gather, refuses it as TF's does. So a graph must not give it one (random-graph campaign seed
# 304738); its sample's int_high does not know the rows. (gather's reference raises itself.)
ROW_INDEX_OPERANDS = {"gather_grad": (1, 2)}


def _row_indices_ok(op: str, args: list, values: list) -> bool:
    """Whether ``op``'s row indices (ROW_INDEX_OPERANDS) lie in [0, rows) of the operand they
    index; ``args`` are value ids into ``values``."""
    if op not in ROW_INDEX_OPERANDS:
        return True
    index, indexed = ROW_INDEX_OPERANDS[op]
    ids, target = values[args[index]], values[args[indexed]]
    if target.ndim == 0:
        return True  # no rows at all: the op's shape rule refuses it
    return ids.size == 0 or (ids.min() >= 0 and ids.max() < target.shape[0])


def _operand_ok(spec: GraphSpec, cls: str, v: int, entry: OpEntry) -> bool:
    values = spec.values[v]
    if (
        cls in ("int32", "int64")
        and values.size
        and (values.min() < 0 or values.max() >= entry.int_high)
    ):
        return False  # indices and labels: the sample's declared range [0, int_high)
    return True


def _draw_node(
    ch: Chooser, spec: GraphSpec, entries: list, avoid: set, favoured: list = ()
) -> bool:
    """Adds one random node (and any domain adapter it needs); False when no candidate fitted.

    An op is chosen first and given several operand and attribute drawings, so that ops whose
    shape rules accept few operands (matmul, concat) are not crowded out by elementwise ones.
    ``favoured`` entries get FAVOURED_PERCENT of the choices (the ops a target under test runs)."""
    for _ in range(12):
        if favoured and ch.chance(FAVOURED_PERCENT):
            entry = ch.choice(favoured)
        else:
            entry = ch.choice(entries)
        for _ in range(6):
            if _try_node(ch, spec, entry, avoid):
                return True
    return False


def _try_node(ch: Chooser, spec: GraphSpec, entry: OpEntry, avoid: set) -> bool:
    which = ch.integer(0, len(entry.signatures) - 1)
    signature, template = entry.signatures[which], entry.templates[which]
    pending: list = []
    saved = (len(spec.nodes), len(spec.values))
    try:
        args = []
        for cls in signature:
            pool = _pool(spec, cls)
            if cls == FLOAT and entry.domain is not None and ch.chance(75):
                pool = [v for v in pool if _inside(spec.values[v], entry.domain)] or pool
            if not pool:
                raise Reject(f"no {cls} value")
            v = _pick_operand(ch, spec, pool)
            if not _operand_ok(spec, cls, v, entry):
                raise Reject("operand out of the sample's range")
            if cls == FLOAT and entry.domain is not None:
                v = _adapt(ch, spec, v, entry.domain, pending)
            args.append(v)
        if not _row_indices_ok(entry.name, args, spec.values):
            raise Reject("indices past the rows they index")
        shapes = [spec.values[a].shape for a in args]
        attrs = with_float(draw_attrs(ch, entry, template, shapes), spec.dtype)
        _commit(spec, Node(entry.name, tuple(args), attrs, 1, device=ch.integer(0, 1)), pending)
        return True
    except Reject:
        del spec.nodes[saved[0] :]
        del spec.values[saved[1] :]
        del spec.static[saved[1] :]
        return False


# ---- control flow --------------------------------------------------------------------------------

MAX_CONTROL_DEPTH = 2  # a loop or cond inside a body or branch, no deeper
NESTED_PERCENT = 10  # of a body's node draws: a nested loop or cond
LOOP_TRIPS = (0, 1, 2, 2, 3, 3)  # a drawn loop's counter bound (0: the body never runs)
PREDICATE_MARGIN = (0.25, 1.0)  # a drawn predicate's threshold lies this far from its scalar


def _body_entries(entries: list) -> list:
    """Ops a body or branch draws: the differentiable ones, so that finite differences through a
    loop need nothing frozen inside it (reference.py)."""
    return [e for e in entries if REGISTRY[e.name].differentiable]


def _sub_spec(spec: GraphSpec, params: list, statics: list | None = None) -> GraphSpec:
    """A GraphSpec over ``params`` (outer value ids) as its inputs, to draw a body's nodes in; a
    loop's variables take their shape invariants' static shapes (``statics``)."""
    sub = GraphSpec(seed=spec.seed, dtype=spec.dtype, inputs=[], nodes=[], api=spec.api)
    for i, v in enumerate(params):
        shape = tuple(spec.values[v].shape)
        static = spec.static[v]
        if statics is not None and i < len(statics):
            static = TensorSpec(statics[i], static.dtype)
        sub.inputs.append(Input(f"p{i}", "param", shape, tuple(static.shape), 0.0, 0.0))
        sub.values.append(spec.values[v])
        sub.static.append(static)
    return sub


def _distinct(ch: Chooser, spec: GraphSpec, pool: list, count: int, taken=()) -> list:
    out = []
    for _ in range(count):
        rest = [v for v in pool if v not in out and v not in taken]
        if not rest:
            break
        out.append(_pick_operand(ch, spec, rest))
    return out


def _scalar_bools(spec: GraphSpec) -> list:
    return [v for v in _pool(spec, "bool") if spec.static[v].shape == ()]


def _draw_body_nodes(ch, sub: GraphSpec, entries: list, avoid: set, depth: int, count: int):
    body_entries = _body_entries(entries)
    for _ in range(count):
        if depth + 1 < MAX_CONTROL_DEPTH and ch.chance(NESTED_PERCENT):
            draw_control(ch, sub, entries, avoid, depth + 1)
        else:
            _draw_node(ch, sub, body_entries, avoid)


def _pick_output(ch: Chooser, sub: GraphSpec, fits) -> int | None:
    """A local value id of the graph's float dtype that ``fits``, a computed one most often."""
    ok = [v for v in range(len(sub.values)) if _value_dtype(sub, v) == sub.dtype and fits(v)]
    computed = [v for v in ok if v >= len(sub.inputs)]
    if computed and ch.chance(85):
        return ch.choice(computed)
    return ch.choice(ok) if ok else None


def _draw_loop(ch, spec: GraphSpec, entries: list, avoid: set, depth: int, pending: list) -> None:
    floats = _pool(spec, FLOAT)
    loop_vars = _distinct(ch, spec, floats, ch.integer(1, 2))
    if not loop_vars:
        raise Reject("no float value to loop over")
    if ch.chance(10):
        loop_vars.append(loop_vars[0])  # one tensor entering as two loop variables
    floats = _pool(spec, FLOAT)
    captured = _distinct(ch, spec, floats, ch.integer(1, 2), loop_vars) if ch.chance(50) else []
    if ch.chance(15):
        captured.append(loop_vars[-1])  # a loop variable's initial value also read in the body
    bools = _scalar_bools(spec)
    if bools and ch.chance(40):  # a predicate for a cond in the body
        captured.append(ch.choice(bools))
    statics = [spec.static[v].shape for v in loop_vars]
    invariants = None
    if ch.chance(30):  # a None dim in a shape invariant (it could vary)
        invariants = [tuple(s) for s in statics]
        j = ch.integer(0, len(loop_vars) - 1)
        if invariants[j]:
            dims = list(invariants[j])
            dims[ch.integer(0, len(dims) - 1)] = None
            invariants[j] = tuple(dims)
        statics = invariants
    sub = _sub_spec(spec, loop_vars + captured, statics)
    _draw_body_nodes(ch, sub, entries, avoid, depth, ch.integer(1, 4))
    outputs = []
    for j, shape in enumerate(statics):

        def fits(v, j=j, shape=shape):
            # an unknown dim where the invariant has a size: TF refuses it, tgc takes the size
            # as the variable's (README); drawn, as it found a gradient bug (fixed at 3b71981)
            static = sub.static[v].shape
            return (
                sub.values[v].shape == sub.values[j].shape
                and static is not None
                and len(static) == len(shape)
                and all(d is None or s in (None, d) for s, d in zip(static, shape))
            )

        outputs.append(_pick_output(ch, sub, fits))
    limit = ch.choice(LOOP_TRIPS) if ch.chance(30) else None
    attrs = {
        "vars": len(loop_vars),
        "trips": ch.choice(LOOP_TRIPS),
        "maximum_iterations": limit,
        "invariants": None if invariants is None else tuple(invariants),
        "body": Body(len(sub.inputs), tuple(sub.nodes), tuple(outputs)),
        "specs": tuple(TensorSpec(tuple(s), spec.dtype) for s in statics),
    }
    args = tuple(loop_vars + captured)
    _commit(spec, Node("while_loop", args, attrs, len(loop_vars), ch.integer(0, 1)), pending)


def _draw_predicate(ch, spec: GraphSpec, pending: list) -> int:
    """A scalar bool: one the graph has (a comparison, a fed placeholder), or a drawn float scalar
    compared with a threshold well away from it (so float32 rounding cannot flip it)."""
    bools = _scalar_bools(spec)
    if bools and ch.chance(50):
        return ch.choice(bools)
    floats = _pool(spec, FLOAT)
    if not floats:
        raise Reject("no float value for a predicate")
    v = _pick_operand(ch, spec, floats)
    rank = len(spec.values[v].shape)
    if rank or ch.chance(30):
        op = ch.choice(["reduce_sum", "reduce_mean", "reduce_max"])
        if op == "reduce_max" and spec.values[v].size == 0:
            op = "reduce_sum"
        attrs = {"axes": list(range(rank)), "keepdims": False}
        v = _commit(spec, Node(op, (v,), attrs, 1, ch.integer(0, 1)), pending)
    low, high = PREDICATE_MARGIN
    margin = low + (high - low) * ch.integer(0, 100) / 100
    threshold = float(spec.values[v]) + (margin if ch.chance(50) else -margin)
    const = _add_const(spec, threshold, pending)
    op = ch.choice(["greater", "less"])
    return _commit(spec, Node(op, (v, const), {}, 1, ch.integer(0, 1)), pending)


def _draw_branching(
    ch, spec: GraphSpec, entries: list, avoid: set, depth: int, pending: list, kind: str
) -> None:
    preds = [
        _draw_predicate(ch, spec, pending) for _ in range(1 if kind == "cond" else ch.integer(1, 2))
    ]
    floats = _pool(spec, FLOAT)
    captured = _distinct(ch, spec, floats, ch.integer(1, 3))
    if not captured:
        raise Reject("no float value for a branch")
    bools = _scalar_bools(spec)
    if bools and depth + 1 < MAX_CONTROL_DEPTH and ch.chance(30):
        captured.append(ch.choice(bools))  # a predicate for a nested cond
    results = ch.integer(1, 2)
    branches, outputs_of = [], []
    for b in range(len(preds) + 1):
        sub = _sub_spec(spec, captured)
        _draw_body_nodes(ch, sub, entries, avoid, depth, ch.integer(0, 3))
        outputs = []
        for k in range(results):
            if b == 0:
                out = _pick_output(ch, sub, lambda v: True)
            else:  # the first branch's structure: same dtype and rank, the same shape most often
                first = branches[0], outputs_of[0][k]
                want = first[0].values[first[1]].shape
                same = ch.chance(80)

                def fits(v, want=want, same=same):
                    shape = sub.values[v].shape
                    return len(shape) == len(want) and (shape == want or not same)

                out = _pick_output(ch, sub, fits)
            if out is None:
                raise Reject("no branch output of the first branch's rank")
            outputs.append(out)
        branches.append(sub)
        outputs_of.append(outputs)
    specs = []
    for k in range(results):
        shapes = [sub.static[outs[k]].shape for sub, outs in zip(branches, outputs_of)]
        joined = tuple(
            dims[0] if None not in dims and len(set(dims)) == 1 else None for dims in zip(*shapes)
        )
        specs.append(TensorSpec(joined, spec.dtype))
    attrs = {
        "branches": tuple(
            Body(len(sub.inputs), tuple(sub.nodes), tuple(outs))
            for sub, outs in zip(branches, outputs_of)
        ),
        "specs": tuple(specs),
    }
    if kind == "case":
        attrs["preds"] = len(preds)
    args = tuple(preds + captured)
    _commit(spec, Node(kind, args, attrs, results, ch.integer(0, 1)), pending)


def draw_control(ch: Chooser, spec: GraphSpec, entries: list, avoid: set, depth: int = 0) -> bool:
    """Adds a drawn loop, cond or case (and the predicates it needs); False when none fitted."""
    for _ in range(4):
        kind = ch.choice(["while_loop", "while_loop", "while_loop", "cond", "cond", "case"])
        pending: list = []
        saved = (len(spec.nodes), len(spec.values))
        try:
            if kind == "while_loop":
                _draw_loop(ch, spec, entries, avoid, depth, pending)
            else:
                _draw_branching(ch, spec, entries, avoid, depth, pending, kind)
            return True
        except Reject:
            del spec.nodes[saved[0] :]
            del spec.values[saved[1] :]
            del spec.static[saved[1] :]
    return False


def _add_predicate_input(ch: Chooser, spec: GraphSpec) -> None:
    """A fed scalar bool placeholder, for conds and cases to branch on."""
    value = np.array(ch.chance(50))
    spec.inputs.append(Input("flag", "placeholder", (), (), 0.0, 1.0, dtype="bool"))
    spec.arrays.append(value)
    spec.values.append(value)
    spec.static.append(TensorSpec((), "bool"))


def control_nodes(nodes) -> list:
    """Every control-flow node among ``nodes``, those in bodies and branches too."""
    out = []
    for node in nodes:
        if node.op in CONTROL_OPS:
            out.append(node)
            bodies = [node.attrs["body"]] if node.op == "while_loop" else node.attrs["branches"]
            for body in bodies:
                out.extend(control_nodes(body.nodes))
    return out


def _inside(values: np.ndarray, domain: tuple) -> bool:
    return values.size == 0 or (values.min() >= domain[0] and values.max() <= domain[1])


def _reaches(spec: GraphSpec, sinks: set) -> set:
    """Value ids from which some value in ``sinks`` is computed (sinks included)."""
    producers = spec.producers()
    seen, stack = set(), list(sinks)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        where = producers[v]
        if where is not None:
            stack.extend(spec.nodes[where[0]].args)
    return seen


def _choose_outputs(ch: Chooser, spec: GraphSpec, avoid: set) -> None:
    consumers = [0] * spec.num_values
    for node in spec.nodes:
        for a in node.args:
            consumers[a] += 1

    def is_float(v):
        return spec.static[v].dtype == spec.dtype

    first_node_value = len(spec.inputs)
    computed = list(range(first_node_value, spec.num_values))
    constants = _constant_ids(spec)
    computed = [v for v in computed if v not in constants]
    sinks = [v for v in computed if consumers[v] == 0]
    spec.fetches = tuple(v for v in computed if v in sinks or ch.chance(30))
    terms = [v for v in sinks if is_float(v)] or [v for v in computed if is_float(v)][-1:] or [0]
    rng = np.random.default_rng(ch.integer(0, 2**31 - 1))
    spec.loss = tuple(
        (v, rng.standard_normal(spec.values[v].shape).astype(spec.dtype).astype(np.float64))
        for v in terms
    )  # weights exact in the graph's dtype
    reach = _reaches(spec, set(terms)) - constants
    candidates = [v for v in sorted(reach) if is_float(v)]
    targets = [v for v in candidates if ch.chance(40)] or candidates[:1]
    uses = spec.uses()
    fan_out = [v for v in candidates if v < len(spec.inputs) and uses[v] >= 2]
    if fan_out and fan_out[0] not in targets and ch.chance(60):
        targets.append(fan_out[0])  # several targets with an input used twice: issue 12 #1's shape
    spec.targets = tuple(_ordered(ch, targets)[:4])


def _ordered(ch: Chooser, items: list) -> list:
    items = list(items)
    return [items.pop(ch.integer(0, len(items) - 1)) for _ in range(len(items))]


VARIANTS = ("artifact", "tgc_grad", "two_devices", "opt_l0", "jit")
FAVOURED_PERCENT = 40


def draw_graph(
    ch: Chooser,
    seed: int = 0,
    avoid=frozenset(KNOWN_BUGS),
    entries=None,
    variant: str | None = None,
    favour=(),
    control_flow: int = 0,
    control_on_pinned_devices: bool = True,
) -> GraphSpec:
    """A random graph: 2-4 inputs, 3-12 drawn ops (domain adapters come on top), its reference
    values, fetches, loss and gradient targets. ``avoid`` names KNOWN_BUGS
    situations not to draw; ops named in ``favour`` are drawn more often (an accelerator's).
    ``control_flow``: the percentage of draws that are a loop, cond or case (at least one is
    drawn when it is not 0), and a fed bool placeholder sometimes; 0 draws the graphs of old.
    ``control_on_pinned_devices=False``: none in the two_devices variant, which pins every op
    to a device of the target without soft placement (for a target that cannot run them)."""
    entries = list((entries or catalogue()).values())
    favoured = [e for e in entries if e.name in favour]
    avoid = set(avoid)
    dtype = "float64" if ch.chance(60) else "float32"
    spec = GraphSpec(seed=seed, dtype=dtype, inputs=[], nodes=[])
    spec.variant = variant or ch.choice(VARIANTS)
    _draw_inputs(ch, spec, avoid)
    if spec.variant == "two_devices" and not control_on_pinned_devices:
        control_flow = 0
    wanted = ch.integer(3, 12)
    forced = None
    if control_flow:
        if ch.chance(40):
            _add_predicate_input(ch, spec)
        forced = ch.integer(0, min(wanted - 1, 4))  # one control-flow node, early enough to be used
    drawn = 0
    while drawn < wanted:
        if control_flow and (drawn == forced or ch.chance(control_flow)):
            if draw_control(ch, spec, entries, avoid):
                drawn += 1
                continue
        if not _draw_node(ch, spec, entries, avoid, favoured):
            break
        drawn += 1
    _choose_outputs(ch, spec, avoid)
    return spec
