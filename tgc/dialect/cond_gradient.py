"""The gradient of a ``tgc.if``: another ``tgc.if`` on the same predicate, whose branches are the
vector-Jacobian products of the forward branches.

    then_grad(inputs, douts) = VJP of then_branch at inputs applied to douts
    else_grad(inputs, douts) = VJP of else_branch at inputs applied to douts

Only the taken branch's VJP runs, so the untaken branch contributes nothing (not even a NaN times
zero, which a select-based cond gives for tf.cond(x > 0, lambda: tf.sqrt(x), lambda: -x) at
x = -1). Each gradient branch copies its forward branch (the forward values it needs are
recomputed inside it, as TF's If gradient does when it does not keep intermediates) and runs
tgc-autodiff's reverse sweep over the copy. Only floating-point inputs and outputs carry
gradients, as in TF.

Names (tgc/dialect/gradient_names.py), for cond ``cond`` under scope ``gradients``: the backward
ops of branch op ``cond/true/Sqrt`` are ``gradients/cond/true/Sqrt_grad/...``, the gradient's if
and its branches' own ops ``gradients/cond_grad/If``, ``gradients/cond_grad/true/...``, and the
branch ops copied to recompute the forward values ``gradients/cond_grad/recompute/cond/true/Sqrt``.
"""

from __future__ import annotations

from mlir import ir

from tgc.dialect.builder import IRBuilder, Val
from tgc.dialect.loop_functions import (
    copy_function_into,
    create_if,
    loops_module_of,
    unique_function_name,
)
from tgc.dialect.loop_gradient import _FLOATS, _finish, _function, _loop_name, _rename, _under


def cond_gradient(builder: IRBuilder, info, douts: list, sweep) -> list:
    """Gradients of the op's operands (None for the predicate and for non-float inputs) given
    its results' adjoints ``douts``. ``sweep`` is tgc-autodiff's reverse sweep (see
    loop_gradient.py)."""
    op = info.operation
    pred, inputs = info.inputs[0], info.inputs[1:]
    float_inputs = [i for i, v in enumerate(inputs) if v.dtype in _FLOATS]
    float_outputs = [i for i, v in enumerate(info.outputs) if v.dtype in _FLOATS]
    if not float_inputs or not float_outputs:
        return [None] * len(info.inputs)
    loops = loops_module_of(op)
    base = _loop_name(op) if str(op.location).startswith('loc("') else "cond"
    douts = [douts[i] for i in float_outputs]
    namer = builder.namer  # <scope>/<cond>_grad/... (None: ops keep the builder's location)
    names = [
        _branch_gradient(
            loops, f"{base}/grad/{part}", info.attrs[attr], inputs, douts, sweep, namer, part
        )
        for part, attr in (("true", "then_branch"), ("false", "else_branch"))
    ]
    specs = [inputs[i].spec for i in float_inputs]
    loc = op.location if namer is None else namer("If")
    results = create_if(builder.ip, loc, pred, [*inputs, *douts], *names, specs)
    grads = [None] * len(info.inputs)
    for slot, i in enumerate(float_inputs):
        grads[1 + i] = results[slot]
    return grads


def _branch_gradient(
    loops, base: str, branch: str, inputs: list, douts: list, sweep, namer, part: str
) -> str:
    """A function of (inputs, douts) returning the float inputs' adjoints through ``branch``
    (zeros where none flows); its name. Its own ops are named by ``namer`` under ``part``."""
    name = unique_function_name(loops, base)
    fn, entry, b, args = _function(loops, name, [*inputs, *douts], _under(namer, part))
    b.reverse_sweep = sweep  # a loop or cond nested in the branch differentiates through it too
    xs_all, dys = args[: len(inputs)], args[len(inputs) :]
    first = len(entry.operations)
    outs = copy_function_into(loops, branch, entry, [a.value for a in xs_all])
    branch_ops = [o.operation for o in list(entry.operations)[first:]]
    b.ip = ir.InsertionPoint(entry)
    floats = [i for i, v in enumerate(inputs) if v.dtype in _FLOATS]
    float_outs = [i for i, v in enumerate(outs) if Val(v).spec.dtype in _FLOATS]
    xs = [xs_all[i].value for i in floats]
    # A branch whose result cannot have the shape its adjoint has statically (the other branch's
    # size, known after the cond) cannot have run in a step that reached its gradient: the shape
    # checks of the result's consumers would have failed first. It passes no adjoint on.
    seeds = [
        (outs[i], dys[slot].value)
        for slot, i in enumerate(float_outs)
        if _compatible(_known_shape(outs[i]), dys[slot].spec.shape)
    ]
    adjoints = sweep(branch_ops, seeds, xs, b)
    grads = {x: g for x in xs if (g := adjoints.get(x)) is not None}
    _rename(branch_ops, _under(namer, "recompute"))  # after the sweep named its ops after them
    results = []
    for i in floats:
        x = xs_all[i]
        g = grads.get(x.value)
        if g is None:
            g = b.zeros_like(x)
        elif g.value.type != x.value.type:
            g = b.reshape_like(g, x)
        results.append(g)
    return _finish(fn, entry, results)


def _known_shape(value: ir.Value):
    """The static shape of ``value`` as its branch computes it: a branch result of the cond's
    less static type is a ``relax_shape`` of it."""
    while not isinstance(value.owner, ir.Block) and value.owner.name == "tgc.relax_shape":
        value = value.owner.operands[0]
    return Val(value).spec.shape


def _compatible(shape, other) -> bool:
    """Whether tensors of static shapes ``shape`` and ``other`` (None: unknown rank; a None dim:
    unknown size) could have the same shape at run time."""
    if shape is None or other is None:
        return True
    return len(shape) == len(other) and all(
        a is None or b is None or a == b for a, b in zip(shape, other)
    )
