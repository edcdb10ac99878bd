"""``tgc.gradients``: puts gradient requests into the graph for the tgc-autodiff pass to expand.

For each x this adds one ``tgc.gradient(y, x, dy)`` per y that depends on x (TensorFlow sums over
ys) and returns None for an x that no y depends on, as TensorFlow does. The backward graph itself is
built later, in the IR, from the registry's gradient rules.

``stop_gradients`` (tensors held constant) are honoured by asking for the gradient of a copy of the
ys: the differentiable ops between the stop tensors and the ys are cloned with each stop tensor read
through ``stop_gradient``, so no gradient flows back through it, while the values (and every other
user of the original ops) stay as they are. The clones compute what the originals compute, and CSE
merges them once ``stop_gradient`` has lowered to its operand.
"""

from __future__ import annotations

import weakref

from tgc.dialect.registry import REGISTRY
from tgc.frontend.build import convert_to_tensor, make_op
from tgc.graph.graph import Tensor, get_default_graph

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _passes_gradient(op) -> bool:
    """Whether gradient flows through op: a registry op with a gradient rule, or a gradient request
    (tgc-autodiff expands the inner request first, so the outer one sees plain ops: second
    order)."""
    return op.opdef is not None and (op.opdef == "gradient" or REGISTRY[op.opdef].differentiable)


def _carries_gradient(op, index: int) -> bool:
    """Whether gradient flows into input ``index`` of op (not an operand read for its shape
    only, the target of a ``*_like`` op: TF's tf.shape(x) is not differentiable)."""
    return op.opdef == "gradient" or REGISTRY[op.opdef].carries_gradient(index)


def _inputs_reaching(t: Tensor) -> list:
    """The inputs of t's op through which gradient reaches t: those a registry op's gradient
    flows into; for a loop or a cond, only those t depends on through its body or branches. TF1's
    loops and conds are a Switch and Merge per tensor, so TF knows a result that does not depend
    on an input: its gradient by that input is None."""
    op = t.op
    loop = getattr(op, "loop", None) if op.opdef == "while" else None
    branches = getattr(op, "branches", None) if op.opdef == "if" else None
    if loop is not None:
        return _loop_inputs(op, loop, t.value_index)
    if branches is not None:
        return _cond_inputs(op, branches, t.value_index)
    return [i for k, i in enumerate(op.inputs) if _carries_gradient(op, k)]


def _function_sources(fn, t: Tensor) -> set:
    """The arguments of a traced loop body or branch, and the outer tensors it reads, that its
    tensor t depends on through differentiable ops."""
    made = {o for op in fn.ops for o in op.outputs}
    args = set(fn.args)
    seen, stack, found = set(), [t], set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if u in args or u not in made:
            found.add(u)
        elif _passes_gradient(u.op):
            stack.extend(i for i in _inputs_reaching(u) if i.spec.dtype in _FLOATS)
    return found


def _loop_inputs(op, loop, index: int) -> list:
    """A loop result's inputs: its variable's initial value, and those of the variables and the
    captured tensors its body's next values depend on, over any number of trips."""
    count = op.attrs["num_vars"]
    body = loop.body
    if len(body.args) != count or len(body.outputs) != count or index >= count:
        return list(op.inputs)  # a variable the loop threads itself (an assignment): all of them
    position = {a: k for k, a in enumerate(body.args)}
    sources = [_function_sources(body, out) for out in body.outputs]
    variables, captured, todo = {index}, set(), [index]
    while todo:
        for u in sources[todo.pop()]:
            if u in position and position[u] not in variables:
                variables.add(position[u])
                todo.append(position[u])
            elif u not in position:
                captured.add(u)
    return [op.inputs[k] for k in sorted(variables)] + [
        c for c in op.inputs[count:] if c in captured
    ]


def _cond_inputs(op, branches, index: int) -> list:
    """A cond result's inputs: those its value in either branch depends on."""
    fns = (branches.then_fn, branches.else_fn)
    if any(fn.args or index >= len(fn.outputs) for fn in fns):
        return list(op.inputs[1:])  # a Variable a branch assigns: all of them
    used = set().union(*(_function_sources(fn, fn.outputs[index]) for fn in fns))
    return [i for i in op.inputs[1:] if i in used]


def _differentiable_ancestors(y: Tensor) -> set:
    """Tensors that y depends on through differentiable ops."""
    seen, stack = set(), [y]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        if _passes_gradient(t.op):
            stack.extend(i for i in _inputs_reaching(t) if i.spec.dtype in _FLOATS)
    return seen


def _ancestor_ops(ys) -> set:
    seen, stack = set(), [y.op for y in ys]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(i.op for i in op.inputs)
    return seen


def _clone(op, inputs: list):
    """A copy of op reading ``inputs``: same type, attributes, device and control inputs."""
    graph = op.graph
    clone = graph.create_op(
        op.type,
        op.type,
        inputs,
        op.attrs,
        [t.spec for t in op.outputs],
        opdef=op.opdef,
        name=op.name.rsplit("/", 1)[-1],
    )
    clone.control_inputs = list(op.control_inputs)
    clone.device = op.device
    clone.variable = op.variable
    return clone


def _held_constant(ys, stops) -> dict:
    """Each tensor between the stop tensors and the ys (stops included) -> its copy that reads every
    stop tensor through ``stop_gradient``. Ops that pass no gradient keep their outputs: nothing
    flows back through them anyway, and a stateful one (an assignment) must not run twice."""
    replaced = {s: make_op("stop_gradient", [s], name="StopGradient") for s in stops}
    needed = _ancestor_ops(ys)
    for op in stops[0].graph.get_operations():
        if (
            op not in needed
            or not _passes_gradient(op)
            or not any(i in replaced for i in op.inputs)
        ):
            continue
        clone = _clone(op, [replaced.get(i, i) for i in op.inputs])
        replaced.update(zip(op.outputs, clone.outputs))
    return replaced


# A Variable's gradient -> the index tensors of the gathers it came back through, where TF's
# gradient would be an IndexedSlices (``gathered_rows``).
_GATHERED_ROWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def gathered_rows(grad):
    """The row indices of a Variable's gradient that TensorFlow would give as an IndexedSlices
    (every path from the Variable to the ys starts with a gather on axis 0), or None for a dense
    gradient. Optimizers update only these rows, as TF's sparse kernels do."""
    return _GATHERED_ROWS.get(grad)


def keep_gathered_rows(gradient, scaled):
    """``scaled`` is ``gradient`` times a scalar (tf.clip_by_global_norm, tf.clip_by_norm): as TF
    keeps an IndexedSlices one, it keeps the gradient's gathered rows."""
    rows = _GATHERED_ROWS.get(gradient) if isinstance(gradient, Tensor) else None
    if rows is not None:
        _GATHERED_ROWS[scaled] = rows
    return scaled


def _differentiated_sibling(x: Tensor, reach: set, xs: list) -> bool:
    """Whether TF's gradient of an x that y does not depend on is zeros rather than None: x's op
    has another output y depends on, and one of its inputs comes from another x (its op, or one
    after it). TF then differentiates x's op and fills its unused float outputs with zeros; an op
    whose inputs come from none of the xs is where tf.gradients starts, and is not differentiated
    (tests/e2e/test_gradient_none.py: ``split(x)[1]`` by itself is None, with x too it is zeros).
    The request for x then gives zeros (tgc-autodiff: an x that y does not depend on)."""
    op = x.op
    if x.spec.dtype not in _FLOATS or not _passes_gradient(op):
        return False
    if not any(o in reach for o in op.outputs if o is not x):
        return False
    starts = {other.op for other in xs if other is not x}
    return any(starts & _ancestor_ops([i]) for i in op.inputs)


def _consumers(graph) -> dict:
    """tensor -> the ops that read it."""
    readers: dict = {}
    for op in graph.get_operations():
        for t in op.inputs:
            readers.setdefault(t, []).append(op)
    return readers


def _gathered_rows(x, readers: dict, reach: list):
    """The index tensors of the gathers through which every path from x to the ys starts, or None
    where some path starts with another op. TensorFlow's gradient of such an x (a Variable read
    only by ``tf.gather`` / ``tf.nn.embedding_lookup`` on axis 0, maybe through identities) is an
    IndexedSlices, and its optimizers then update only those rows (train.py)."""
    found, stack = [], [x]
    while stack:
        t = stack.pop()
        for op in readers.get(t, ()):
            if not _passes_gradient(op) or not any(o in r for o in op.outputs for r in reach):
                continue  # no gradient comes back through this reader
            if not any(i is t and _carries_gradient(op, k) for k, i in enumerate(op.inputs)):
                continue  # it reads t's shape only
            if op.opdef == "identity":
                stack.append(op.outputs[0])
            elif op.opdef == "gather" and op.inputs[0] is t and op.inputs[1] is not t:
                found.append(op.inputs[1])
            else:
                return None
    return tuple(found) or None


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def gradients(ys, xs, grad_ys=None, name="gradients", stop_gradients=None, **_ignored):
    """d(sum of ys)/d(each x) (`tf.gradients`); grad_ys weight each y (ones by default); the tensors
    in ``stop_gradients`` are held constant."""
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs = [convert_to_tensor(x) for x in _as_list(xs)]
    grad_ys = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys)
    if len(grad_ys) != len(ys):
        raise ValueError(f"grad_ys has {len(grad_ys)} entries but ys has {len(ys)}")
    stops = (
        [convert_to_tensor(s) for s in _as_list(stop_gradients)]
        if stop_gradients is not None
        else []
    )
    graph = get_default_graph()
    results = []
    with graph.name_scope(name or "gradients"):
        seeds = []
        for y, g in zip(ys, grad_ys):
            if y.spec.dtype not in _FLOATS:
                raise TypeError(
                    f"cannot differentiate '{y.name}' of dtype {y.spec.dtype}; gradients need "
                    "floating-point ys"
                )
            seeds.append(
                make_op("fill_like", [y], name="grad_ys", value=1.0)
                if g is None
                else convert_to_tensor(g, dtype=y.dtype)
            )
        if stops:
            held = _held_constant(ys, stops)
            ys, xs = [held.get(y, y) for y in ys], [held.get(x, x) for x in xs]
        reach = [_differentiable_ancestors(y) for y in ys]
        readers = None
        for x in xs:
            parts = [
                make_op("gradient", [y, x, dy])
                for y, dy, r in zip(ys, seeds, reach)
                if x in r or _differentiated_sibling(x, r, xs)
            ]
            total = parts[0] if parts else None
            for p in parts[1:]:
                total = make_op("add", [total, p], name="AddN")
            if total is not None and x.op.opdef == "read_variable":
                readers = readers if readers is not None else _consumers(graph)
                rows = _gathered_rows(x, readers, reach)
                if rows is not None:
                    _GATHERED_ROWS[total] = rows
            results.append(total)
    return results
