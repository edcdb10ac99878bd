"""The gradient of a ``tgc.while``: loops that run the body's gradient backwards, iteration by
iteration.

With v[k+1] = body(v[k], captures) for k < N (N the forward loop's trip count), the adjoints go
back from the results' (dv[N]):

    dv[k], dcaptures += body's vector-Jacobian product at (v[k], captures) applied to dv[k+1]

for k = N-1 down to 0. As TensorFlow keeps each v[k] on a stack in the forward loop, a "record"
loop runs the forward loop again and stacks the state each iteration starts from (a [N, *shape]
tensor per loop variable, grown by concat: O(N) body runs, O(N^2) element copies); the backward
loop gathers v[k] from the stacks. A loop variable whose shape varies cannot be stacked: such a
loop's backward iteration recomputes v[k] from v[0] by a loop of k body steps instead (O(N^2) body
runs). The loops built here (all ``tgc.while`` over functions of the ``@tgc.loops`` module, lowered
as any other):

    record:   (n = 0, v, stacks = []) while cond(v): (n + 1, body(v), stacks + [v])  -> N, stacks
    backward: (k = N - 1, dv, dc = 0) while k >= 0:
                  v_k = stacks[k]              (or: (j = 0, v) while j < k: (j + 1, body(v)))
                  (k - 1, VJP of body at v_k on dv, dc + its captures' part)

Only floating-point loop variables and captures carry gradients (others get none, as in TF).

Names (tgc/dialect/gradient_names.py), for the gradient of loop ``while`` under scope ``gradients``:
the backward ops of body op ``while/body/mul`` are ``gradients/while/body/mul_grad/Mul`` (TF's
``gradients/while/mul_grad/Mul``); the loops built here and their own ops are
``gradients/while_grad/{count,record,While,body,...}``; the body's ops rerun for the gradient keep
their forward name under the rerun's: ``gradients/while_grad/count/while/body/mul`` (the trip
count's run), ``.../record/...`` (the states' run), ``.../recompute/...`` (the backward step's
recomputation of the body's intermediates at v[k]), ``.../upto/...`` (v[k] recomputed from v[0]).
So a traced run counts the forward loop's executions under the forward names only.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import func

from tgc.dialect.builder import IRBuilder, Val
from tgc.dialect.loop_functions import (
    copy_function_into,
    create_while,
    find_loop_function,
    loops_module_of,
    unique_function_name,
)

_FLOATS = ("float16", "bfloat16", "float32", "float64")


def loop_gradient(builder: IRBuilder, info, douts: list, sweep) -> list:
    """Gradients of the loop's operands (initial values, then captures; None where none flows)
    given its results' adjoints ``douts``. ``sweep(ops, [(y, dy), ...], xs, builder)`` is
    tgc-autodiff's reverse sweep over ``ops``, returning adjoints whose ``get(x)`` is a Val or
    None."""
    op = info.operation
    num_vars = info.attrs["num_vars"]
    inits, captures = info.inputs[:num_vars], info.inputs[num_vars:]
    floats = [i for i, v in enumerate(inits) if v.dtype in _FLOATS]
    float_caps = [i for i, v in enumerate(captures) if v.dtype in _FLOATS]
    if not floats:
        return [None] * len(info.inputs)
    loops = loops_module_of(op)
    names = _Names(loops, _loop_name(op))
    cond, body = info.attrs["cond"], info.attrs["body"]
    # A buffer the body only writes rows of (a TensorArray's, a stack's) holds in its final value
    # every row that any iteration's state held (rows are written once): the backward loop reads
    # the final buffer instead of saving a copy per iteration.
    once = _write_once(loops, body, num_vars)
    finals = [Val(op.results[i]) if i in once else None for i in range(num_vars)]
    # Static loop variables: a forward loop saves each iteration's state (stacks); a variable whose
    # shape varies cannot be stacked, so its loop recomputes the k-th state from the first instead.
    saved = all(v.spec.is_static for i, v in enumerate(inits) if i not in once)
    namer = builder.namer  # <scope>/<loop>_grad/... (None: ops keep the builder's location)
    if saved:
        # The trip count first (a run of the loop with a counter), so that the record loop writes
        # its stacks in place: a stack grown inside the loop (a new buffer now and then) would be
        # copied whole each iteration by the loop's bufferization.
        trips = _count(builder, loops, names, cond, body, inits, captures)
        states = _record(builder, loops, names, cond, body, inits, captures, once, trips)
        states = [finals[i] if i in once else s for i, s in enumerate(states)]
    else:
        trips, states = _count(builder, loops, names, cond, body, inits, captures), inits
    one = builder.constant(1, dtype="int32")
    start = builder.op("subtract", trips, one)
    # An incoming adjoint may know dims that the loop variable's type leaves unknown (the result
    # reshaped to a static shape): the backward loop carries the variable's type.
    dvs = [_as_type_of(builder, douts[i], Val(op.results[i])) for i in floats]
    dcs = [builder.zeros_like(captures[i]) for i in float_caps]
    back_cond = _backward_cond(loops, names, start, dvs, dcs, states, captures, builder.namer)
    back_body = _backward_body(
        loops,
        names,
        body,
        sweep,
        (start, dvs, dcs, states, captures, inits),
        floats,
        float_caps,
        saved,
        builder.namer,
    )
    results = create_while(
        builder.ip,
        op.location if namer is None else namer("While"),
        [start, *dvs, *dcs, *states, *captures],
        back_cond,
        back_body,
        1 + len(dvs) + len(dcs),
    )
    grads = [None] * len(info.inputs)
    for slot, i in enumerate(floats):
        grads[i] = results[1 + slot]
    for slot, i in enumerate(float_caps):
        grads[num_vars + i] = results[1 + len(dvs) + slot]
    return grads


class _Names:
    def __init__(self, loops, base: str):
        self.loops, self.base = loops, base

    def __call__(self, part: str) -> str:
        return unique_function_name(self.loops, f"{self.base}/grad/{part}")


def _loop_name(op) -> str:
    loc = str(op.location)
    return loc[5:].split('"', 1)[0] if loc.startswith('loc("') else "while"


def _function(loops, name: str, values: list, namer=None):
    """A new private function of ``values``' types in the loops module: (function, entry block,
    a builder at its end naming its ops by ``namer``, its arguments as Vals)."""
    types = [v.value.type for v in values]
    with ir.InsertionPoint(loops.regions[0].blocks[0]), ir.Location.unknown():
        function = func.FuncOp(name, ir.FunctionType.get(types, []))
    function.attributes["sym_visibility"] = ir.StringAttr.get("private")
    entry = function.add_entry_block()
    builder = IRBuilder(ir.InsertionPoint(entry), ir.Location.unknown())
    builder.namer = namer
    return function, entry, builder, [Val(a, v.spec) for a, v in zip(entry.arguments, values)]


def _finish(function, entry, results: list) -> str:
    with ir.InsertionPoint(entry), ir.Location.unknown():
        func.ReturnOp([v.value for v in results])
    arg_types = [a.type for a in entry.arguments]
    function.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(arg_types, [v.value.type for v in results])
    )
    return ir.StringAttr(function.attributes["sym_name"]).value


def _vals(values) -> list:
    return [Val(v) for v in values]


def _part(builder, part: str):
    """The namer of one part of the gradient's ops (``<scope>/<loop>_grad/<part>/...``), or None
    when the builder names none."""
    return _under(builder.namer, part)


def _under(namer, part: str):
    return None if namer is None else namer.under(part)


def _loop_location(builder, part: str) -> ir.Location:
    """The location of the gradient's loop ``part`` (``<scope>/<loop>_grad/<part>``)."""
    return ir.Location.unknown() if builder.namer is None else builder.namer(part)


def _rename(operations, namer) -> None:
    """Gives copied forward ops their rerun's names (``namer.renamed``)."""
    if namer is None:
        return
    for operation in operations:
        operation.location = namer.renamed(operation.location)


def _count(builder, loops, names, cond, body, inits, captures) -> Val:
    """The forward loop's trip count, by a loop that runs it again with a counter. Only the loop
    variables the condition depends on (``_steering``) are computed: the others keep their
    initial value, and the body's ops that compute them are dead code (tgc-dce removes them), so
    a loop stopped by a counter (``i < n``, dynamic_rnn's ``time < T``) is counted without
    rerunning its body's work."""
    steering = _steering(loops, cond, body, len(inits))
    zero = builder.constant(0, dtype="int32")
    n = len(inits)
    namer = _part(builder, "count")
    values = [zero, *inits, *captures]
    fn, entry, b, args = _function(loops, names("count_cond"), values, namer)
    predicate = _replay(loops, cond, entry, [a.value for a in args[1:]], namer)
    count_cond = _finish(fn, entry, _vals(predicate))
    fn, entry, b, args = _function(loops, names("count_body"), values, namer)
    nexts = _replay(loops, body, entry, [a.value for a in args[1:]], namer)
    b.ip = ir.InsertionPoint(entry)
    step = b.op("add", args[0], b.constant(1, dtype="int32"))
    kept = [Val(v) if i in steering else args[1 + i] for i, v in enumerate(nexts[:n])]
    count_body = _finish(fn, entry, [step, *kept, *_vals(nexts[n:])])
    results = create_while(
        builder.ip, _loop_location(builder, "count"), values, count_cond, count_body, 1 + n
    )
    return results[0]


def _steering(loops, cond: str, body: str, num_vars: int) -> set:
    """The loop variables the condition depends on: those it reads, then those the body computes
    their next values from, to a fixed point."""
    steering = _arguments_feeding(find_loop_function(loops, cond), [0], num_vars)
    body_function = find_loop_function(loops, body)
    while True:
        more = _arguments_feeding(body_function, sorted(steering), num_vars) - steering
        if not more:
            return steering
        steering |= more


def _arguments_feeding(function, results: list, num_vars: int) -> set:
    """The loop variables (arguments below ``num_vars``) that the function's ``results`` depend
    on, through its ops' operands."""
    entry = function.regions[0].blocks[0]
    returned = list(entry.operations)[-1].operands
    stack, seen, found = [returned[i] for i in results], set(), set()
    while stack:
        value = stack.pop()
        if isinstance(value.owner, ir.Block):
            number = _arg_number(value)
            if number < num_vars:
                found.add(number)
            continue
        owner = value.owner.operation
        if owner in seen:
            continue
        seen.add(owner)
        stack.extend(owner.operands)
    return found


def _replay(loops, name: str, block, arguments: list, namer=None) -> list:
    """The ops of loop function ``name`` appended to ``block`` (copy_function_into) for one of the
    gradient's reruns of the loop, less what the forward loop already did for the user: prints
    (their value passes through) and assertions (which a backward step could also fail wrongly: it
    sees a write-once buffer's final value, where a TensorArray's written-mask says "written").
    The copies are named by ``namer`` (``renamed``) when given."""
    first = len(block.operations)
    outs = copy_function_into(loops, name, block, arguments)
    for operation in [op.operation for op in list(block.operations)[first:]]:
        if operation.name == "tgc.print":
            operation.results[0].replace_all_uses_with(operation.operands[0])
            outs = [operation.operands[0] if o == operation.results[0] else o for o in outs]
            operation.erase()
        elif operation.name == "tgc.assert":
            operation.erase()
    _rename([op.operation for op in list(block.operations)[first:]], namer)
    return outs


def _write_once(loops, body: str, num_vars: int) -> set:
    """The loop variables whose next value is the variable itself with rows written
    (``write_row``, through identities): TensorArray buffers and stacks, whose rows are each
    written once."""
    function = find_loop_function(loops, body)
    entry = function.regions[0].blocks[0]
    returned = list(list(entry.operations)[-1].operands)
    once = set()
    for i, value in enumerate(returned[:num_vars]):
        writes = 0
        while not isinstance(value.owner, ir.Block):
            owner = value.owner.operation
            if owner.name not in _PASS_THROUGH:
                break
            writes += owner.name == "tgc.write_row"
            value = owner.operands[0]
        if writes and isinstance(value.owner, ir.Block) and _arg_number(value) == i:
            once.add(i)
    return once


def _arg_number(value) -> int:
    return ir.BlockArgument(value).arg_number


_PASS_THROUGH = ("tgc.write_row", "tgc.identity", "tgc.relax_shape")


def _record(builder, loops, names, cond, body, inits, captures, once, trips) -> list:
    """The forward loop again, saving the state each iteration starts from: one stack
    [N, *shape] per loop variable (``trips`` = N rows, written one per iteration in place: O(N)
    row copies), None for those in ``once``."""
    zero = builder.constant(0, dtype="int32")
    # A write-once variable's slot carries a dummy scalar: nothing of it is saved.
    empties = [
        zero if i in once else builder.op("zero_rows", trips, v) for i, v in enumerate(inits)
    ]
    n = len(inits)
    values = [zero, *inits, *empties, *captures]
    namer = _part(builder, "record")
    fn, entry, b, args = _function(loops, names("record_cond"), values, namer)
    state = [a.value for a in args[1 : 1 + n]]
    caps = [a.value for a in args[1 + 2 * n :]]
    predicate = _replay(loops, cond, entry, state + caps, namer)
    record_cond = _finish(fn, entry, _vals(predicate))
    fn, entry, b, args = _function(loops, names("record_body"), values, namer)
    state = [a.value for a in args[1 : 1 + n]]
    caps = [a.value for a in args[1 + 2 * n :]]
    nexts = _replay(loops, body, entry, state + caps, namer)
    b.ip = ir.InsertionPoint(entry)
    step = b.op("add", args[0], b.constant(1, dtype="int32"))
    grown = [
        stack if i in once else b.op("write_row", stack, args[0], v)
        for i, (stack, v) in enumerate(zip(args[1 + n : 1 + 2 * n], args[1 : 1 + n]))
    ]
    record_body = _finish(fn, entry, [step, *_vals(nexts), *grown])
    results = create_while(
        builder.ip, _loop_location(builder, "record"), values, record_cond, record_body, 1 + 2 * n
    )
    return [None if i in once else s for i, s in enumerate(results[1 + n : 1 + 2 * n])]


def _backward_cond(loops, names, start, dvs, dcs, inits, captures, namer) -> str:
    values = [start, *dvs, *dcs, *inits, *captures]
    fn, entry, b, args = _function(loops, names("cond"), values, _under(namer, "cond"))
    going = b.op("greater_equal", args[0], b.constant(0, dtype="int32"))
    return _finish(fn, entry, [going])


def _backward_body(
    loops, names, body, sweep, values, floats, float_caps, saved: bool, namer
) -> str:
    """One step back: v[k] (from the stacks, or recomputed), then the body's vector-Jacobian
    product there. The body's ops are copied to recompute its intermediates at v[k]: named as
    reruns (``<loop>_grad/recompute/...``) once the sweep has named the backward ops after them."""
    start, dvs, dcs, inits, captures = values[:5]
    fn, entry, b, args = _function(
        loops, names("body"), [start, *dvs, *dcs, *inits, *captures], _under(namer, "body")
    )
    b.reverse_sweep = sweep  # a loop nested in the body differentiates through it too
    k = args[0]
    dv = args[1 : 1 + len(dvs)]
    dc = args[1 + len(dvs) : 1 + len(dvs) + len(dcs)]
    v0 = args[1 + len(dvs) + len(dcs) : 1 + len(dvs) + len(dcs) + len(inits)]
    caps = args[1 + len(dvs) + len(dcs) + len(inits) :]
    if saved:  # v0 are the stacks of states (or a write-once buffer's final value)
        v_k = [
            b.op("read_row", s, k) if s.spec.rank == len(v.spec.shape) + 1 else s
            for s, v in zip(v0, values[5])
        ]
    else:
        upto = _upto(loops, names, body, k, v0, caps, _under(namer, "upto"))
        v_k = create_while(
            ir.InsertionPoint(entry),
            ir.Location.unknown() if namer is None else namer("upto"),
            [b.constant(0, dtype="int32"), *v0, k, *caps],
            *upto,
            1 + len(v0),
        )[1:]
    first = len(entry.operations)
    outs = _replay(loops, body, entry, [v.value for v in v_k] + [c.value for c in caps])
    body_ops = [op.operation for op in list(entry.operations)[first:]]
    b.ip = ir.InsertionPoint(entry)
    xs = [v_k[i].value for i in floats] + [caps[i].value for i in float_caps]
    seeds = [(outs[i], dv[slot].value) for slot, i in enumerate(floats)]
    adjoints = sweep(body_ops, seeds, xs, b)
    grads = {x: g for x in xs if (g := adjoints.get(x)) is not None}
    _rename(body_ops, _under(namer, "recompute"))
    previous = [
        _summed_in_place(b, None, grads[v_k[i].value])
        if v_k[i].value in grads
        else b.zeros_like(v_k[i])
        for i in floats
    ]
    summed = [
        _summed_in_place(b, dc[slot], grads[caps[i].value]) if caps[i].value in grads else dc[slot]
        for slot, i in enumerate(float_caps)
    ]
    # A sum may know a dim that the loop variable's type leaves unknown (a [4] adjoint added to a
    # [?] one): the backward loop yields its variables' types.
    previous = [_as_type_of(b, p, d) for p, d in zip(previous, dv)]
    summed = [_as_type_of(b, s, d) for s, d in zip(summed, dc)]
    back = b.op("subtract", k, b.constant(1, dtype="int32"))
    return _finish(fn, entry, [back, *previous, *summed])


def _as_type_of(b, value, like):
    """``value`` with ``like``'s type: sizes it knows and ``like`` does not are forgotten; sizes
    ``like`` knows and it does not (a sum typed [?, ?] for a variable whose shape invariant is
    [1, None]) are taken from ``like`` by a reshape to its shape, the same at run time."""
    target = like.spec.shape
    if value.value.type == like.value.type or target is None:
        return value
    known = value.spec.shape
    if known is None or any(v is None and t is not None for v, t in zip(known, target)):
        value = b.reshape_like(value, like)
        if value.value.type == like.value.type:
            return value
    return b.op("relax_shape", value, shape=[-1 if d is None else d for d in target])


def _summed_in_place(b, acc, g):
    """acc + g (g when acc is None), where the terms of g that are one row's adjoint scattered into
    a tensor of zeros (``gather_grad`` of a scalar index: a read of row i in the body) are added to
    row i of the sum in place (``write_row`` accumulate): O(row) per iteration instead of the
    O(rows) of materializing and adding the scattered tensor."""
    terms = _terms(g)
    rows = [t for t in terms if _row_adjoint(t) is not None]
    rest = [t for t in terms if _row_adjoint(t) is None]
    if acc is None:
        if not rest:
            return g
        acc, rest = rest[0], rest[1:]
    for t in rest:
        acc = b.op("add", acc, t)
    for t in rows:
        row, index = _row_adjoint(t)
        acc = b.op("write_row", acc, index, row, accumulate=True)
    return acc


def _terms(g) -> list:
    """The summands of g through ``add``s of operands of g's own type."""
    owner = g.value.owner
    if not isinstance(owner, ir.Block) and owner.operation.name == "tgc.add":
        a, c = owner.operation.operands
        if a.type == g.value.type and c.type == g.value.type:
            return _terms(Val(a)) + _terms(Val(c))
    return [g]


def _row_adjoint(t):
    """(row, index) when t is gather_grad(row, scalar index, params), else None."""
    owner = t.value.owner
    if isinstance(owner, ir.Block) or owner.operation.name != "tgc.gather_grad":
        return None
    row, index, _ = owner.operation.operands
    if (
        ir.RankedTensorType(index.type).rank != 0
        or t.value.type != owner.operation.operands[2].type
    ):
        return None
    return Val(row), Val(index)


def _upto(loops, names, body, k, v0, caps, namer) -> tuple:
    """cond and body of the loop that runs ``body`` k times from v[0]: captures (k, captures)."""
    zero_like = [Val(k.value, k.spec)]  # the counter has k's type (int32 scalar)
    values = [*zero_like, *v0, k, *caps]
    fn, entry, b, args = _function(loops, names("upto_cond"), values, namer)
    below = b.op("less", args[0], args[1 + len(v0)])
    upto_cond = _finish(fn, entry, [below])
    fn, entry, b, args = _function(loops, names("upto_body"), values, namer)
    state = [a.value for a in args[1 : 1 + len(v0)]]
    nexts = _replay(loops, body, entry, state + [a.value for a in args[2 + len(v0) :]], namer)
    b.ip = ir.InsertionPoint(entry)
    step = b.op("add", args[0], b.constant(1, dtype="int32"))
    return upto_cond, _finish(fn, entry, [step, *_vals(nexts)])
