"""Control ops of the TF1 API: ``no_op``, ``group``, ``tuple``, ``control_dependencies``,
``while_loop``, ``cond``, ``case`` and ``switch_case``.

Control dependencies order ops without passing data; the emitter follows them when it orders a
function's ops, so an op created under ``control_dependencies([a])`` runs after ``a``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tgc.frontend import build
from tgc.dialect.types import TensorSpec, numpy_dtype
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import Operation, Tensor, get_default_graph
from tgc.graph.prune import prune


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def no_op(name=None) -> Operation:
    return build.make_op("no_op", [], name=name or "NoOp")


def _as_op(x):
    if isinstance(x, Operation):
        return x
    if isinstance(x, Tensor):
        return x.op
    if hasattr(x, "_as_graph_element"):
        return x._as_graph_element().op
    raise TypeError(f"cannot group {x!r}: expected an op or a tensor")


def group(*inputs, name=None) -> Operation:
    """An op that runs all of ``inputs`` (`tf.group`)."""
    flat = []
    for item in inputs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    with control_dependencies([_as_op(x) for x in flat]):
        return no_op(name=name or "group_deps")


def tuple_(tensors, name=None, control_inputs=None):
    """Tensors that are available only after all of them are computed (`tf.tuple`)."""
    deps = [t.op for t in tensors if t is not None] + list(control_inputs or [])
    with control_dependencies(deps):
        return [None if t is None else build.make_op("identity", [t]) for t in tensors]


# ---- tf.while_loop ------------------------------------------------------------------------------


@dataclasses.dataclass
class LoopFunction:
    """cond or body of a loop, traced once: ``ops`` (in creation order, a topological one) compute
    ``outputs`` from ``args`` (one Placeholder per loop variable) and the loop's captures."""

    args: list
    ops: list
    outputs: list


@dataclasses.dataclass
class LoopFunctions:
    """What tgc/graph/emit.py needs to emit a ``tgc.while``: the While op's inputs are the loop
    variables' initial values then ``captures`` (tensors made outside the loop that cond or body
    use), which both functions take after the loop variables."""

    cond: LoopFunction
    body: LoopFunction
    captures: list


def while_loop(
    cond,
    body,
    loop_vars,
    shape_invariants=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
    maximum_iterations=None,
    return_same_structure=False,
):
    """Repeats ``body`` while ``cond`` holds (`tf.while_loop`), as one loop in the compiled code.

    cond and body are traced once, as TensorFlow's functional While does. Each loop variable keeps
    its shape and dtype; ``maximum_iterations`` adds a counter. ``parallel_iterations`` and
    ``swap_memory`` change nothing in a compiled loop. `tf.gradients` flows through the loop to
    its float loop variables and captured tensors (tgc/dialect/loop_gradient.py: the backward
    loop reads each iteration's state from stacks a record loop saves); with
    ``back_prop=False`` no gradient flows through it, as in TF."""
    if not callable(cond) or not callable(body):
        raise TypeError("cond and body of tf.while_loop must be callable")
    structure = loop_vars
    graph = get_default_graph()
    _allocate_tensor_arrays(graph, body, loop_vars)
    flat_init = [convert_to_tensor(v) for v in _flatten(loop_vars)]
    if not flat_init:
        raise ValueError("tf.while_loop needs at least one loop variable")
    specs = _variable_specs(shape_invariants, flat_init)
    graph = get_default_graph()
    with graph.name_scope(name or "while") as scope:
        if maximum_iterations is not None:
            cond, body, structure, flat_init = _with_counter(
                cond, body, structure, flat_init, maximum_iterations
            )
            specs = [flat_init[0].spec] + specs
        traced_cond = _trace(graph, cond, structure, flat_init, specs, "cond", _cond_outputs)
        traced_body = _trace(graph, body, structure, flat_init, specs, "body", _body_outputs)
        assigned = _thread_assigned_variables(graph, traced_cond, traced_body)
        num_results = len(flat_init)
        flat_init = flat_init + [convert_to_tensor(v) for v in assigned]
        specs = specs + [v._spec for v in assigned]
        iteration = _fold_iteration_into_random_ops(graph, scope, traced_cond, traced_body)
        if iteration is not None:  # a last loop variable, hidden from the caller
            flat_init.append(iteration)
            specs.append(iteration.spec)
        captures = _captures([traced_cond, traced_body])
        operation = graph.create_op(
            "While",
            "While",
            flat_init + captures,
            {"cond": "", "body": "", "num_vars": len(flat_init)},
            specs,
            opdef="while",
            name=scope[:-1] + "/",
        )
    for traced in (traced_cond, traced_body):
        operation.control_inputs.extend(
            c for c in traced.outer_controls if c not in operation.control_inputs
        )
    operation.loop = LoopFunctions(traced_cond.function, traced_body.function, captures)
    results = _after_assignments(
        operation.outputs[: num_results + len(assigned)], num_results, assigned
    )
    if not back_prop:
        results = [build.make_op("stop_gradient", [t]) for t in results]
    if maximum_iterations is not None:
        results = results[1:]  # the counter
        structure = structure[1]
    packed = _pack(structure, results)
    if not return_same_structure and len(results) == 1:
        return results[0]
    return packed


def _fold_iteration_into_random_ops(graph, scope: str, traced_cond, traced_body):
    """Makes the random ops of cond and body draw new numbers in each iteration, as TF's do.

    A random op reads the run's step (the graph's ``rng_step``, captured by the loop), the same in
    every iteration. When cond or body use it (a random op, or a nested loop or cond that captured
    it), both get a last loop variable, the iteration counter (0, 1, ...), and their uses read
    ``fold_step(step, counter)`` instead (tgc/dialect/ops/random.py). A nested loop's counter folds
    into its parent's folded step, so every nesting level counts. The counter being a loop
    variable, the loop's gradient reruns the body of iteration k on counter k: the backward pass
    sees the numbers (dropout masks) the forward pass drew. Returns the counter's initial value,
    or None when neither function draws (the loop stays as it was)."""
    step = graph._rng_step.outputs[0] if graph._rng_step is not None else None
    uses = {
        id(traced): [
            (op, i) for op in traced.function.ops for i, x in enumerate(op.inputs) if x is step
        ]
        for traced in (traced_cond, traced_body)
    }
    if step is None or not any(uses.values()):
        return None
    spec = TensorSpec((), "int64")
    for traced, part in ((traced_cond, "cond"), (traced_body, "body")):
        function = traced.function
        with graph.name_scope(f"{scope}{part}/"), graph.control_dependencies(None):
            counter = graph.create_op(
                "Placeholder",
                "Placeholder",
                [],
                {"dtype": "int64", "shape": ()},
                [spec],
                name=f"loop_var_{len(function.args)}",
            ).outputs[0]
            if uses[id(traced)]:
                folded = build.make_op("fold_step", [step, counter], name="fold_step")
                function.ops.insert(0, folded.op)
                for op, i in uses[id(traced)]:
                    _set_input(op, i, folded)
            if traced is traced_body:
                one = build.make_op("constant", [], value=np.ones((), np.int64))
                following = build.make_op("add", [counter, one], name="next_iteration")
                function.ops.extend([one.op, following.op])
                function.outputs.append(following)
        function.args.append(counter)
    with graph.control_dependencies(None):
        return build.make_op("constant", [], value=np.zeros((), np.int64), name="iteration")


def _thread_assigned_variables(graph, traced_cond, traced_body) -> list:
    """Variables the body assigns become loop variables too: inside the loop a read of one sees
    its value so far and an assignment computes the next (the assign op becomes that value); the
    Variables, in first-assignment order, are assigned the loop's final values after it."""
    for op in traced_cond.function.ops:
        if "assigns" in _traits(op):
            raise ValueError(
                f"'{op.name}' ({op.type}) assigns Variable '{op.attrs.get('var')}' in the cond of "
                "tf.while_loop: tgc's loops assign Variables in the body only"
            )
    assigned = []
    for op in traced_body.function.ops:
        if "assigns" in _traits(op) and op.variable not in assigned:
            assigned.append(op.variable)
    for variable in assigned:
        for traced in (traced_cond, traced_body):
            function = traced.function
            arg = graph.create_op(
                "Placeholder",
                "Placeholder",
                [],
                {"dtype": variable._spec.dtype, "shape": variable._spec.shape},
                [variable._spec],
                name=f"loop_var_{len(function.args)}",
            ).outputs[0]
            final = _carry_variable(graph, function, variable, arg)
            function.args.append(arg)
            if traced is traced_body:
                function.outputs.append(final)
    return assigned


def _carry_variable(graph, function, variable, arg, construct="tf.while_loop"):
    """Rewires ``function``'s ops (in order) so that reads of ``variable`` see ``arg`` or the last
    assignment before them, and each assignment of it becomes the value it computes; an output
    that is a read of it becomes the value when the read was made. Returns the final value."""
    ops = function.ops
    made = {op: i for i, op in enumerate(graph.get_operations())}
    current, history = arg, []  # (when an assignment was made, the value after it)
    for op in list(ops):
        for i, t in enumerate(op.inputs):
            if _reads_named(t.op, variable._name):
                _set_input(op, i, current)
        if "assigns" in _traits(op) and op.attrs.get("var") == variable._name:
            history.append((made[op], None))
            current = _as_value(graph, ops, op, current, construct)
            history[-1] = (history[-1][0], current)
    function.outputs = [
        _value_when_read(t, arg, history, made) if _reads_named(t.op, variable._name) else t
        for t in function.outputs
    ]
    return current


def _value_when_read(read, arg, history: list, made: dict):
    """The value a read of a carried Variable returned by a function sees: that of the last
    assignment made before it (``v.read_value()`` under a control dependency on an assign)."""
    value = arg
    for when, after in history:
        if when < made.get(read.op, -1):
            value = after
    return value


def _reads_named(op, name: str) -> bool:
    return "variable_read" in _traits(op) and op.attrs.get("var") == name


def _set_input(op, index: int, tensor) -> None:
    old = op.inputs[index]
    if op in old._consumers:
        old._consumers.remove(op)
    op.inputs[index] = tensor
    tensor._consumers.append(op)


_UPDATES = {"assign": None, "assign_add": "add", "assign_sub": "subtract"}


def _as_value(graph, ops: list, op, current, construct="tf.while_loop"):
    """The assign op ``op`` turned into an identity of the value it writes (computed from
    ``current`` for assign_add/assign_sub); returns that value."""
    update = _UPDATES.get(op.opdef)
    if op.opdef not in _UPDATES:
        raise ValueError(
            f"'{op.name}' ({op.type}) updates Variable '{op.attrs.get('var')}' inside "
            f"{construct} in a way tgc does not support there yet (assign, assign_add and "
            "assign_sub are supported)"
        )
    value = op.inputs[0]
    if update is not None:
        value = build.make_op(update, [current, value], name=f"{op.name}_value")
        ops.insert(ops.index(op), value.op)
    _set_input(op, 0, value)
    op.opdef, op.attrs, op.variable = "identity", {}, None
    return op.outputs[0]


def _after_assignments(outputs, num_results: int, assigned: list) -> list:
    """The loop's results, available once the Variables the body assigns hold their final
    values."""
    results = list(outputs[:num_results])
    if not assigned:
        return results
    writes = [v.assign(final) for v, final in zip(assigned, outputs[num_results:])]
    with control_dependencies(writes):
        return [build.make_op("identity", [t]) for t in results]


@dataclasses.dataclass
class _Traced:
    function: LoopFunction
    outer_controls: list  # ops outside the loop that ops of the function wait for


def _trace(graph, fn, structure, flat_init, specs, part, outputs_of, construct="tf.while_loop"):
    """Calls ``fn`` once on placeholders standing for the loop variables; the ops it makes are the
    function's."""
    start = len(graph.get_operations())
    # Ops of the loop's functions run inside the loop: they wait for nothing outside it (the While
    # op itself waits for what they were asked to).
    with graph.name_scope(part), graph.control_dependencies(None):
        args = [
            graph.create_op(
                "Placeholder",
                "Placeholder",
                [],
                {"dtype": var.dtype, "shape": var.shape},
                [var],
                name=f"loop_var_{i}",
            ).outputs[0]
            for i, var in enumerate(specs)
        ]
        packed = _pack(structure, args)
        value = fn(*packed) if isinstance(structure, (list, tuple)) else fn(packed)
        outputs = outputs_of(value, structure, flat_init, specs)
    made = graph.get_operations()[start:]
    for op in made:
        _refuse_inside_loop(op, construct)
    # No Variable is assigned inside the loop, so a read made in cond or body reads the value from
    # before the loop: it runs outside, and the loop captures it. So does a graph input made there
    # (the random ops' run counter, created on first use).
    arg_ops = {t.op for t in args}
    mine = {
        op for op in made if not _reads_variable(op) and (op.opdef is not None or op in arg_ops)
    }
    outer_controls = []
    for op in mine:
        outer_controls.extend(c for c in op.control_inputs if c not in mine)
        op.control_inputs = [c for c in op.control_inputs if c in mine]
    # What the outputs need, in a topological order: not the ops of a nested loop's functions
    # (its While op stands for them), nor what the function made and did not use.
    needed = [op for op in prune([t.op for t in outputs], set(args)) if op in mine]
    return _Traced(LoopFunction(args, needed, outputs), outer_controls)


def _traits(op) -> frozenset:
    from tgc.dialect.registry import REGISTRY

    opdef = REGISTRY.get(op.opdef) if op.opdef else None
    return opdef.traits if opdef is not None else frozenset()


def _reads_variable(op) -> bool:
    return "variable_read" in _traits(op) and not op.inputs


def _refuse_inside_loop(op, construct: str = "tf.while_loop") -> None:
    if op.host_fn is not None or op.opdef in ("gradient",):
        what = "loop" if construct == "tf.while_loop" else "branch"
        raise ValueError(
            f"'{op.name}' ({op.type}) cannot run inside {construct}: tgc compiles the {what} and "
            "this op runs outside compiled code"
        )


def _cond_outputs(value, structure, flat_init, specs) -> list:
    pred = convert_to_tensor(value)
    if pred.spec.dtype != "bool" or (pred.spec.shape is not None and pred.spec.shape != ()):
        shape = "<unknown>" if pred.spec.shape is None else list(pred.spec.shape)
        raise ValueError(
            f"the cond of tf.while_loop must return a scalar bool tensor, got '{pred.name}' of "
            f"dtype {pred.spec.dtype} and shape {shape}"
        )
    return [pred]


def _body_outputs(value, structure, flat_init, specs) -> list:
    if isinstance(structure, (list, tuple)) and not isinstance(value, (list, tuple)):
        value = [value]  # TF accepts a body returning one tensor for a one-variable list
    flat = [convert_to_tensor(v) for v in _flatten(value)]
    if len(flat) != len(flat_init):
        raise ValueError(
            f"the body of tf.while_loop returned {len(flat)} tensors but there are "
            f"{len(flat_init)} loop variables"
        )
    for init, var, out in zip(flat_init, specs, flat):
        if out.spec.dtype != init.spec.dtype:
            raise ValueError(
                f"Input tensor '{init.name}' enters the loop with dtype {init.spec.dtype}, but has "
                f"dtype {out.spec.dtype} after one iteration ('{out.name}')"
            )
        if not _same_shape(var.shape, out.spec.shape):
            raise ValueError(
                f"Input tensor '{init.name}' enters the loop with shape {_tf_shape(init.spec)}, "
                f"but has shape {_tf_shape(out.spec)} after one iteration ('{out.name}'). To allow "
                "the shape to vary across iterations, use the `shape_invariants` argument of "
                "tf.while_loop to specify a less-specific shape."
            )
    return flat


def _same_shape(a, b) -> bool:
    """Equal shapes; an unknown dim (or rank) of the body's output is taken as the variable's (its
    value is checked where the loop is emitted)."""
    if a is None or b is None:
        return True
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _tf_shape(spec) -> str:
    shape = spec.shape
    if shape is None:
        return "<unknown>"
    dims = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


def _variable_specs(invariants, flat_init) -> list:
    """Each loop variable's type in the loop: its initial value's, or its shape invariant's (whose
    None dims may vary across iterations)."""
    if invariants is None:
        return [t.spec for t in flat_init]
    flat = _flatten(invariants, leaf=_is_shape_leaf)
    if len(flat) != len(flat_init):
        raise ValueError(
            f"shape_invariants has {len(flat)} shapes but there are {len(flat_init)} loop variables"
        )
    specs = []
    for init, shape in zip(flat_init, flat):
        var = TensorSpec(_shape_tuple(shape), init.spec.dtype)
        if var.shape is None:
            raise ValueError(
                f"the shape invariant of loop variable '{init.name}' has unknown rank: tgc's "
                "tf.while_loop needs each loop variable's rank"
            )
        ranks_differ = init.spec.shape is not None and len(init.spec.shape) != len(var.shape)
        if ranks_differ or not _same_shape(var.shape, init.spec.shape):
            raise ValueError(
                f"The shape invariant specified for {init.name} is not compatible with the "
                "initial shape of the loop variable. It enters the loop with shape "
                f"{_tf_shape(init.spec)}, but the specified shape invariant is {_tf_shape(var)}."
            )
        specs.append(var)
    return specs


def _shape_tuple(shape):
    if shape is None:
        return None
    dims = shape.as_list() if hasattr(shape, "as_list") else shape
    return None if dims is None else tuple(getattr(d, "value", d) for d in dims)


def _is_shape_leaf(x) -> bool:
    if x is None or hasattr(x, "as_list"):
        return True
    return isinstance(x, (list, tuple)) and all(d is None or isinstance(d, int) for d in x)


def _with_counter(cond, body, structure, flat_init, maximum_iterations):
    """TF's maximum_iterations: a counter i runs alongside, and the loop also stops at i == max."""
    limit = convert_to_tensor(maximum_iterations, name="maximum_iterations")
    if limit.spec.dtype not in ("int32", "int64") or limit.spec.shape not in ((), None):
        raise ValueError(
            f"maximum_iterations must be a scalar integer, got dtype {limit.spec.dtype} and shape "
            f"{limit.spec.shape}"
        )
    counter = build.make_op("constant", [], value=np.zeros((), numpy_dtype(limit.spec.dtype)))
    unpack = isinstance(structure, (list, tuple))

    def counted_cond(i, inner):
        go = cond(*inner) if unpack else cond(inner)
        return build.make_op("logical_and", [build.make_op("less", [i, limit]), go])

    def counted_body(i, inner):
        out = body(*inner) if unpack else body(inner)
        if unpack and not isinstance(out, (list, tuple)):
            out = [out]
        one = build.make_op("constant", [], value=np.ones((), numpy_dtype(limit.spec.dtype)))
        return (build.make_op("add", [i, one]), out)

    return counted_cond, counted_body, (counter, structure), [counter] + flat_init


def _captures(traced: list) -> list:
    """Tensors made outside the loop that its functions use, each once, in first-use order."""
    seen, out = set(), []
    for t in traced:
        inside = set(t.function.ops)
        for op in t.function.ops:
            for x in op.inputs:
                if x.op not in inside and x not in t.function.args and x not in seen:
                    seen.add(x)
                    out.append(x)
        for x in t.function.outputs:
            if x.op not in inside and x not in t.function.args and x not in seen:
                seen.add(x)
                out.append(x)
    return out


def _flatten(structure, leaf=None) -> list:
    """The leaves of nested lists, tuples, namedtuples and dicts (keys sorted, as tf.nest)."""
    if leaf is not None and leaf(structure):
        return [structure]
    if hasattr(structure, "_tgc_flat"):  # a TensorArray: its buffer (and size)
        return structure._tgc_flat()
    if isinstance(structure, dict):
        return [x for k in sorted(structure) for x in _flatten(structure[k], leaf)]
    if isinstance(structure, (list, tuple)):
        return [x for item in structure for x in _flatten(item, leaf)]
    return [structure]


def _pack(structure, flat: list):
    """``flat``'s values in ``structure``'s nesting (the inverse of _flatten)."""
    items = iter(flat)

    def build_like(s):
        if isinstance(s, dict):
            built = {k: build_like(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s)
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*(build_like(x) for x in s))
        if isinstance(s, (list, tuple)):
            return type(s)(build_like(x) for x in s)
        if hasattr(s, "_tgc_rebuild"):  # a TensorArray over the next tensors
            return s._tgc_rebuild([next(items) for _ in range(s._tgc_width())])
        return next(items)

    return build_like(structure)


def _allocate_tensor_arrays(graph, body, loop_vars) -> None:
    """A TensorArray entering the loop without a buffer (its element shape unknown, nothing
    written yet) learns its element shape from a first call of ``body`` on the initial values,
    whose ops nothing uses (as map_fn's probe); then it gets its buffer."""
    leaves = _leaves(loop_vars)
    lazy = [x for x in leaves if hasattr(x, "_tgc_flat") and x._buffer is None]
    if not lazy:
        return
    with graph.name_scope("element_shapes"):
        out = body(*loop_vars) if isinstance(loop_vars, (list, tuple)) else body(loop_vars)
    if isinstance(loop_vars, (list, tuple)) and not isinstance(out, (list, tuple)):
        out = [out]
    for before, after in zip(leaves, _leaves(out)):
        if any(before is x for x in lazy):
            before._tgc_adopt(after)


def _leaves(structure) -> list:
    """The leaves of a loop's structure, TensorArrays kept whole."""
    return _flatten(structure, leaf=lambda x: hasattr(x, "_tgc_flat"))


# ---- tf.cond, tf.case, tf.switch_case ----------------------------------------------------------


@dataclasses.dataclass
class CondFunctions:
    """What tgc/graph/emit.py needs to emit a ``tgc.if``: the If op's inputs are the predicate,
    the current values of the Variables a branch assigns (``then_fn.args``, one per Variable)
    and ``captures``; both branches take all but the predicate."""

    then_fn: LoopFunction
    else_fn: LoopFunction
    captures: list


def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """`tf.cond`: runs ``true_fn`` when the scalar bool ``pred`` holds, else ``false_fn`` — only
    the taken branch, as one ``tgc.if`` (an ``scf.if`` in the compiled code).

    Both branches are traced once (as TensorFlow's functional If). They return the same structure
    of tensors with the same dtypes; a dim on which they disagree is unknown in the result. A
    branch may assign Variables: only the taken branch's assignments happen (the Variable holds
    the value once the cond's results are computed). `tf.gradients` flows through the branch
    taken (the untaken branch contributes nothing). ``strict`` only changes how a one-tensor
    list is returned, as in TF."""
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("cond needs callables true_fn and false_fn")
    pred = _predicate(pred)
    graph = get_default_graph()
    with graph.name_scope(name or "cond") as scope:
        outputs = [_BranchOutputs("true_fn"), _BranchOutputs("false_fn")]
        traced = [
            _trace(graph, fn, (), [], [], part, out, construct="tf.cond")
            for fn, part, out in ((true_fn, "true", outputs[0]), (false_fn, "false", outputs[1]))
        ]
        _check_branches([o.structure for o in outputs], [t.function.outputs for t in traced])
        specs = [
            _joined_spec(a, b)
            for a, b in zip(traced[0].function.outputs, traced[1].function.outputs)
        ]
        assigned = _thread_branch_assignments(graph, traced)
        inputs = [pred] + [convert_to_tensor(v) for v in assigned]
        captures = _captures(traced)
        operation = graph.create_op(
            "If",
            "If",
            inputs + captures,
            {"then_branch": "", "else_branch": "", "result_types": ""},
            specs + [v._spec for v in assigned],
            opdef="if",
            name=scope[:-1] + "/",
        )
    for t in traced:
        operation.control_inputs.extend(
            c for c in t.outer_controls if c not in operation.control_inputs
        )
    operation.branches = CondFunctions(traced[0].function, traced[1].function, captures)
    results = _after_assignments(operation.outputs, len(specs), assigned)
    packed = _pack(outputs[0].structure, results)
    if not strict and isinstance(packed, (list, tuple)) and len(packed) == 1:
        return packed[0]  # TF1's cond unpacks a one-element list unless strict
    return packed


def _check_branches(structures: list, flats: list) -> None:
    """TF's rules: the same nested structure, and the same dtype at each place."""
    if _shape_of_structure(structures[0]) != _shape_of_structure(structures[1]):
        raise ValueError(
            "The two structures don't have the same nested structure.\n\n"
            f"First structure: {structures[0]!r}\n\nSecond structure: {structures[1]!r}"
        )
    for a, b in zip(*flats):
        if a.spec.dtype != b.spec.dtype:
            raise ValueError(
                "Outputs of 'true_fn' and 'false_fn' must have the same type(s). Received "
                f"{a.spec.dtype} from 'true_fn' and {b.spec.dtype} from 'false_fn'."
            )


def _shape_of_structure(structure):
    """The nesting of ``structure`` with its leaves forgotten (sequence types and dict keys
    count, as in tf.nest.assert_same_structure)."""
    if isinstance(structure, dict):
        return (
            type(structure),
            tuple((k, _shape_of_structure(structure[k])) for k in sorted(structure)),
        )
    if isinstance(structure, (list, tuple)):
        return (type(structure), tuple(_shape_of_structure(x) for x in structure))
    return None


def _joined_spec(a, b) -> TensorSpec:
    """A result of tf.cond: a dim on which the branches disagree is unknown."""
    x, y = a.spec.shape, b.spec.shape
    if x is None or y is None:
        return TensorSpec(None, a.spec.dtype)
    if len(x) != len(y):
        raise ValueError(
            f"cond: the branches return '{a.name}' of shape {_tf_shape(a.spec)} and '{b.name}' of "
            f"shape {_tf_shape(b.spec)}: tgc needs them of the same rank"
        )
    return TensorSpec(tuple(p if p == q else None for p, q in zip(x, y)), a.spec.dtype)


def _thread_branch_assignments(graph, traced: list) -> list:
    """Variables a branch assigns are passed through the conditional: both branches take the
    current value (an argument) and return the value after their assignments (the untaken
    branch's is the current value), which the Variables are assigned after the cond."""
    assigned = []
    for t in traced:
        for op in t.function.ops:
            if "assigns" in _traits(op) and op.variable not in assigned:
                assigned.append(op.variable)
    for variable in assigned:
        for t in traced:
            function = t.function
            arg = graph.create_op(
                "Placeholder",
                "Placeholder",
                [],
                {"dtype": variable._spec.dtype, "shape": variable._spec.shape},
                [variable._spec],
                name=f"branch_var_{len(function.args)}",
            ).outputs[0]
            final = _carry_variable(graph, function, variable, arg, "tf.cond")
            function.outputs.append(final)
            function.args.append(arg)
    return assigned


def _predicate(pred, what: str = "cond"):
    """A scalar bool tensor, with TF's errors for anything else."""
    if isinstance(pred, bool):
        raise TypeError("'pred' must not be a Python bool.")
    pred = convert_to_tensor(pred)
    if pred.spec.dtype != "bool":
        if what == "case":
            raise TypeError(f"pred must be Tensor of type bool: {pred.name}")
        raise TypeError(
            f"Input 'pred' of 'Switch' Op has type {pred.spec.dtype} that does not match expected "
            "type of bool."
        )
    if pred.spec.shape is not None and pred.spec.shape != ():
        raise ValueError(
            f"cond: pred must be a scalar bool but '{pred.name}' is {pred.spec.dtype} of shape "
            f"{pred.shape}"
        )
    return pred


class _BranchOutputs:
    """outputs_of for a branch of tf.cond: the flat tensors it returns (remembering the
    structure). An op it returns stands for a bool tensor that is computed after the op, as TF1's
    cond's pivot: True from the true branch, False from the false one."""

    def __init__(self, which: str):
        self.which = which  # "true_fn" or "false_fn"
        self.structure = None

    def __call__(self, value, structure, flat_init, specs) -> list:
        if value is None:
            raise ValueError(f"'{self.which}' must have a return value.")
        self.structure = value
        return [self._tensor(v) for v in _flatten(value)]

    def _tensor(self, leaf):
        if not isinstance(leaf, Operation):
            return convert_to_tensor(leaf)
        with control_dependencies([leaf]):
            return build.constant(np.array(self.which == "true_fn"), name="pivot")


def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """`tf.case`: runs the fn of the first pred that holds, else ``default`` — only that one,
    as nested conditionals.

    Without ``default`` the last pair's fn is the default, and the run fails (as TF's does) when
    no pred holds; ``exclusive=True`` fails it when more than one does. Both checks are asserts
    the case's results wait for, with TF's texts."""
    pairs = _case_pairs(pred_fn_pairs)
    preds = [pred for pred, _ in pairs]
    no_default = default is None
    if no_default:
        if not pairs:
            raise ValueError("tf.case needs at least one (pred, fn) pair or a default")
        pairs, default = pairs[:-1], pairs[-1][1]
    elif not callable(default):
        raise TypeError(f"default must be callable, got {default!r}")

    graph = get_default_graph()
    with graph.name_scope(name or "case"):
        checks = _case_checks(preds, exclusive, no_default)
        result = _chained(pairs, default, strict)
        if not checks:
            return result
        with graph.control_dependencies(checks):
            flat = [
                build.make_op("identity", [t]) if isinstance(t, Tensor) else t
                for t in _flatten(result)
            ]
        return _pack(result, flat)


def _case_checks(preds: list, exclusive: bool, no_default: bool) -> list:
    """TF's run-time checks of a case's predicates: at most one true when ``exclusive``, at
    least one without a default."""
    if not preds or not (exclusive or no_default):
        return []
    stacked = build.make_op("expand_dims", [preds[0]], axis=0)
    for pred in preds[1:]:
        stacked = build.make_op(
            "concat", [stacked, build.make_op("expand_dims", [pred], axis=0)], axis=0
        )
    counted = build.make_op(
        "reduce_sum", [build.make_op("cast", [stacked], dtype="int32")], axes=[0], keepdims=False
    )
    checks = []
    if exclusive:
        names = ", ".join(p.name for p in preds)
        at_most_one = build.make_op("less_equal", [counted, build.constant(1)])
        text = f"Input error: exclusive=True: more than 1 conditions ({names}) evaluated as True:"
        checks.append(build.assert_op(at_most_one, [text, stacked], summarize=len(preds)))
    if no_default:
        some = build.make_op("greater", [counted, build.constant(0)])
        text = "Input error: None of conditions evaluated as True:"
        checks.append(build.assert_op(some, [text, stacked]))
    return checks


def _chained(pairs: list, default, strict: bool):
    """cond(p0, f0, lambda: cond(p1, f1, ... default)): only the first true pred's fn runs."""

    def chain(rest):
        if not rest:
            return default
        (pred, fn), later = rest[0], rest[1:]
        return lambda: cond(pred, fn, chain(later), strict=strict)

    return chain(pairs)()


def _case_pairs(pred_fn_pairs) -> list:
    items = pred_fn_pairs.items() if isinstance(pred_fn_pairs, dict) else pred_fn_pairs
    if not isinstance(items, (list, tuple)) and not isinstance(pred_fn_pairs, dict):
        raise TypeError("pred_fn_pairs must be a list, tuple, or dict")
    pairs = []
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise TypeError(f"Each entry in pred_fn_pairs must be a 2-tuple, got {item!r}")
        pred, fn = item
        if not callable(fn):
            raise TypeError(f"fn for pred {getattr(pred, 'name', pred)} must be callable.")
        pairs.append((_predicate(pred, "case"), fn))
    return pairs


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """`tf.switch_case`: runs ``branch_fns[branch_index]`` — only that one, as nested
    conditionals; an index out of range runs ``default`` (or the last branch, as in TF)."""
    fns = _indexed_branches(branch_fns)
    index = convert_to_tensor(branch_index)
    if index.spec.dtype not in ("int32", "int64"):
        raise TypeError(f"'branch_index' must be an integer Tensor, got {index.spec.dtype}")
    if index.spec.shape is not None and index.spec.shape != ():
        raise ValueError(
            f"'branch_index' must be a scalar, got '{index.name}' of shape {_tf_shape(index.spec)}"
        )
    if default is None:
        fns, default = fns[:-1], fns[-1]
    elif not callable(default):
        raise TypeError(f"default must be callable, got {default!r}")

    with get_default_graph().name_scope(name or "switch_case"):
        pairs = []
        for i, fn in enumerate(fns):
            value = np.array(i, numpy_dtype(index.spec.dtype))
            pairs.append((build.make_op("equal", [index, build.constant(value)]), fn))
        return _chained(pairs, default, strict=False)


def _indexed_branches(branch_fns) -> list:
    """The branches of switch_case in index order: a list of callables, or (index, callable)
    pairs / a dict whose indices are 0 .. N-1."""
    if isinstance(branch_fns, dict):
        items = list(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)) and all(
        isinstance(x, tuple) and len(x) == 2 for x in branch_fns
    ):
        items = list(branch_fns)
    elif isinstance(branch_fns, (list, tuple)):
        items = list(enumerate(branch_fns))
    else:
        raise TypeError("'branch_fns' must be a list, tuple, or dict")
    if not items:
        raise ValueError("Must provide at least one item in 'branch_fns'")
    keys = sorted(k for k, _ in items)
    if keys != list(range(len(items))):
        found = "{" + ",".join(str(k) for k in keys) + "}"
        raise ValueError(
            f"branch indices (keys) must form contiguous range of [0 to {len(items)}) but found "
            f"{found}"
        )
    fns = [fn for _, fn in sorted(items, key=lambda kv: kv[0])]
    for i, fn in enumerate(fns):
        if not callable(fn):
            raise TypeError(f"br_fn for index {i} must be callable.")
    return fns
