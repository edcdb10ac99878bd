"""`tf.foldl`, `tf.foldr`, `tf.scan` and `tf.map_fn` on top of the compiled `tf.while_loop`.

Each is one loop over the elements' first dimension (its length known at run time): element i is
``tf.gather(elems, i)``, and the outputs of `scan` and `map_fn` are buffers of one row per element
(``tgc.zero_rows``) that the loop writes row i of each iteration (``tgc.write_row``, in place once
compiled: O(N) element copies for N elements; the loop gradient reads the final buffer instead of
saving it per iteration). `map_fn` learns the shape of
``fn``'s results by calling it once on the first element outside the loop (ops that never run: no
fetch needs them), so ``fn`` must not create Variables. Gradients flow through all four, as through
`tf.while_loop`.
"""

from __future__ import annotations

from tgc.frontend import build
from tgc.frontend.array_ops import shape, zeros
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import _flatten, _pack, while_loop
from tgc.frontend.gather_ops import gather
from tgc.graph.graph import TensorShape, get_default_graph


def _flat_elems(elems, what: str) -> list:
    flat = [convert_to_tensor(e) for e in _flatten(elems)]
    if not flat or any(e.spec.shape is None or not e.spec.shape for e in flat):
        raise ValueError(f"{what}: every tensor of elems needs a first dimension to iterate over")
    return flat


def _element(elems, flat: list, i):
    return _pack(elems, [gather(e, i) for e in flat])


def _fold(fn, elems, initializer, reverse: bool, name: str):
    flat = _flat_elems(elems, f"tf.{name}")
    graph = get_default_graph()
    with graph.name_scope(name):
        n = shape(flat[0])[0]
        one = build.constant(1)
        if initializer is None:  # the first (last) element starts the fold
            first = build.make_op("subtract", [n, one]) if reverse else build.constant(0)
            acc = _element(elems, flat, first)
            start = build.make_op("subtract", [n, build.constant(2)]) if reverse else one
        else:
            acc = initializer
            start = build.make_op("subtract", [n, one]) if reverse else build.constant(0)

        def cond(i, a):
            if reverse:
                return build.make_op("greater_equal", [i, build.constant(0)])
            return build.make_op("less", [i, n])

        def body(i, a):
            step = build.make_op("subtract" if reverse else "add", [i, build.constant(1)])
            return [step, fn(a, _element(elems, flat, i))]

        _, result = while_loop(cond, body, [start, acc], name="while")
    return result


def foldl(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
):
    """fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[n-1]) (`tf.foldl`); without an
    initializer elems[0] starts."""
    return _fold(fn, elems, initializer, reverse=False, name=name or "foldl")


def foldr(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
):
    """foldl from the last element to the first (`tf.foldr`)."""
    return _fold(fn, elems, initializer, reverse=True, name=name or "foldr")


def _empty_stack(like, n) -> object:
    """A [n, *like.shape] buffer of zeros of like's dtype, which the loop fills row by row."""
    if like.spec.shape is None or any(d is None for d in like.spec.shape):
        raise ValueError(
            f"'{like.name}': tgc's scan and map_fn stack results of a static shape, not "
            f"{like.spec.shape}"
        )
    row = zeros(list(like.spec.shape), dtype=like.spec.dtype)  # its shape only: like never runs
    return build.make_op("zero_rows", [n, row])


def _stacked_loop(step, elems, flat, stacks: list, initial_state, start):
    """Runs ``step(state, element) -> (state, outputs)`` over the elements from index ``start`` on,
    appending the (flat) outputs to ``stacks``; returns the stacks."""
    n = shape(flat[0])[0]

    def cond(i, state, stacked):
        return build.make_op("less", [i, n])

    def body(i, state, stacked):
        state, outputs = step(state, _element(elems, flat, i))
        grown = [
            build.make_op("write_row", [s, i, convert_to_tensor(o)])
            for s, o in zip(stacked, _flatten(outputs))
        ]
        return [build.make_op("add", [i, build.constant(1)]), state, grown]

    state_shapes = [TensorShape(list(t.spec.shape)) for t in _flatten(initial_state)]
    _, _, stacks = while_loop(
        cond,
        body,
        [start, initial_state, stacks],
        shape_invariants=[
            TensorShape([]),
            _pack(initial_state, state_shapes),
            [TensorShape([None, *t.spec.shape[1:]]) for t in stacks],
        ],
        name="while",
    )
    return stacks


def scan(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    reverse=False,
    name=None,
):
    """The successive values of foldl's accumulator, stacked (`tf.scan`)."""
    if reverse:
        raise ValueError("tgc's tf.scan does not support reverse=True yet (tf.foldr does)")
    flat = _flat_elems(elems, "tf.scan")
    graph = get_default_graph()
    with graph.name_scope(name or "scan"):
        n = shape(flat[0])[0]
        if initializer is None:  # elems[0] starts, and is the first output
            first = build.constant(0)
            init = _element(elems, flat, first)
            stacks = [
                build.make_op("write_row", [_empty_stack(t, n), first, t]) for t in _flatten(init)
            ]
            start = build.constant(1)
        else:
            init = _pack(initializer, [convert_to_tensor(t) for t in _flatten(initializer)])
            stacks = [_empty_stack(t, n) for t in _flatten(init)]
            start = build.constant(0)

        def step(acc, x):
            out = fn(acc, x)
            return out, out

        stacks = _stacked_loop(step, elems, flat, stacks, init, start)
    return _pack(init, stacks)


def map_fn(
    fn,
    elems,
    dtype=None,
    parallel_iterations=None,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    name=None,
    fn_output_signature=None,
):
    """fn applied to each element, the results stacked (`tf.map_fn`)."""
    flat = _flat_elems(elems, "tf.map_fn")
    graph = get_default_graph()
    with graph.name_scope(name or "map"):
        probe = fn(_element(elems, flat, build.constant(0)))  # its types only: never run
        first = [convert_to_tensor(t) for t in _flatten(probe)]

        def step(state, x):
            return state, fn(x)

        n = shape(flat[0])[0]
        stacks = [_empty_stack(t, n) for t in first]
        stacks = _stacked_loop(step, elems, flat, stacks, build.constant(0), build.constant(0))
    return _pack(probe, stacks)
