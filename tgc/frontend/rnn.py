"""`tf.nn.dynamic_rnn`, `tf.nn.static_rnn`, `tf.nn.bidirectional_dynamic_rnn` and
`tf.nn.static_bidirectional_rnn`: a cell (tgc/frontend/rnn_cell.py) run over the time steps of a
sequence, as TensorFlow 2.21's compat.v1 functions run it.

`dynamic_rnn` is one compiled `tf.while_loop` over the time steps (the trip count is the inputs'
run-time length), not a Python unrolling: the cell is traced once, in the loop's body, under the
variable scope ``rnn`` (or ``scope``), so its variables are TF's ``rnn/basic_lstm_cell/kernel``...
Each step's outputs are written to a TensorArray. With ``sequence_length``, a sequence's outputs
past its length are zeros and its state is copied through unchanged, so the final state is the
state at its last step, as in TF. `static_rnn` stacks its Python list of steps and runs the same
loop (the numbers and variables of TF's unrolled graph; compile time independent of the number of
steps), unrolling only a list whose steps differ in shape or nesting.
"""

from __future__ import annotations

from tgc.dialect.types import as_dtype
from tgc.frontend import array_ops, math_ops
from tgc.frontend.build import assert_op, convert_to_tensor
from tgc.frontend.control import _flatten, _pack, while_loop
from tgc.frontend.gather_ops import gather
from tgc.frontend.tensor_array import TensorArray
from tgc.frontend.variables import VariableScope, variable_scope
from tgc.graph.graph import get_default_graph


def _swap_batch_time(x):
    """[a, b, ...] -> [b, a, ...] (batch-major <-> time-major)."""
    rank = x.spec.rank
    return array_ops.transpose(x, [1, 0, *range(2, rank)])


def _checked_inputs(inputs, time_major: bool) -> list:
    flat = [convert_to_tensor(x) for x in _flatten(inputs)]
    if not flat:
        raise ValueError("dynamic_rnn: inputs must not be empty")
    for x in flat:
        if x.spec.rank is None or x.spec.rank < 3:
            raise ValueError(
                f"dynamic_rnn: input '{x.name}' must have rank at least 3 "
                f"([{'time, batch' if time_major else 'batch, time'}, depth]), but has shape "
                f"{x.shape}"
            )
    return flat


def _static_dim(x, axis: int):
    return x.spec.shape[axis] if x.spec.shape is not None else None


def _batch_size(time_major_inputs: list):
    """The batch size: a Python int when some input knows it, else the run-time dim."""
    for x in time_major_inputs:
        if _static_dim(x, 1) is not None:
            return int(_static_dim(x, 1))
    return array_ops.shape(time_major_inputs[0])[1]


def _sequence_lengths(sequence_length):
    if sequence_length is None:
        return None
    lengths = convert_to_tensor(sequence_length)
    if lengths.spec.rank not in (None, 1):
        raise ValueError(
            f"sequence_length must be a vector of length batch_size, but saw shape: {lengths.shape}"
        )
    if lengths.dtype.name != "int32":
        lengths = math_ops.cast(lengths, "int32")
    return lengths


def _one_length_per_row(lengths, x, batch_axis: int, text: str):
    """``lengths`` after TF's run-time check that it holds one entry per row of x's ``batch_axis``,
    where either count is known only then (the graph checked known ones): a [1] of lengths would
    broadcast over the rows instead of failing as TF does."""
    count, batch = _static_dim(lengths, 0), _static_dim(x, batch_axis)
    if count is not None and batch is not None:
        return lengths
    have = array_ops.shape(lengths)[0]
    want = array_ops.shape(x)[batch_axis]
    check = assert_op(math_ops.equal(have, want), [text, have, want])
    with get_default_graph().control_dependencies([check]):
        return array_ops.identity(lengths)


def _initial_state(cell, initial_state, dtype, batch_size):
    if initial_state is not None:
        return _pack(initial_state, [convert_to_tensor(s) for s in _flatten(initial_state)])
    if dtype is None:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch_size, as_dtype(dtype))


def _copy_through(finished, new, old):
    """old where the sequence has finished ([batch] bool), else new."""
    return math_ops.where(array_ops.expand_dims(finished, 1), old, new)


def _with_static_time(stacked, time_steps):
    """The stacked outputs with the time dim TF knows statically, when known (a gather of steps
    0..T-1: its gradient keeps the stack's type)."""
    if time_steps is None:
        return stacked
    return gather(stacked, convert_to_tensor(list(range(int(time_steps))), dtype="int32"))


def _time_major_loop(cell, inputs, flat_inputs, initial_state, dtype, lengths, backward=False):
    """The loop of dynamic_rnn over time-major inputs: returns (the flat outputs, each
    [time, batch, ...], and the final state). Each step's outputs are written to TensorArrays
    (in place once compiled; the loop's gradient reads them back in O(steps)). ``backward`` reads
    the steps from the last to the first and writes each output at its own step, so the outputs
    come out in the inputs' order (reverse, run, reverse: the backward half of a bidirectional
    RNN)."""
    batch_size = _batch_size(flat_inputs)
    state = _initial_state(cell, initial_state, dtype, batch_size)
    flat_state = _flatten(state)
    out_dtype = flat_state[0].dtype if flat_state else flat_inputs[0].dtype
    steps = array_ops.shape(flat_inputs[0])[0]
    time_steps = _static_dim(flat_inputs[0], 0)
    static_batch = batch_size if isinstance(batch_size, int) else None
    arrays = [
        TensorArray(
            out_dtype,
            size=time_steps if time_steps is not None else steps,
            element_shape=[static_batch, int(n)],
        )
        for n in _flatten(cell.output_size)
    ]
    last = steps - 1

    def body(time, state, arrays):
        index = last - time if backward else time
        x_t = _pack(inputs, [gather(x, index) for x in flat_inputs])
        output, new_state = cell(x_t, state)
        flat_out = [convert_to_tensor(o) for o in _flatten(output)]
        flat_new = [convert_to_tensor(s) for s in _flatten(new_state)]
        if lengths is not None:
            finished = math_ops.greater_equal(time, lengths)
            flat_out = [_copy_through(finished, o, array_ops.zeros_like(o)) for o in flat_out]
            flat_new = [_copy_through(finished, n, o) for n, o in zip(flat_new, _flatten(state))]
        arrays = [a.write(index, o) for a, o in zip(arrays, flat_out)]
        return time + 1, _pack(state, flat_new), arrays

    _, final_state, arrays = while_loop(
        lambda time, state, arrays: math_ops.less(time, steps),
        body,
        [convert_to_tensor(0), state, arrays],
        name="while",
    )
    return [_with_static_time(a.stack(), time_steps) for a in arrays], final_state


def dynamic_rnn(
    cell,
    inputs,
    sequence_length=None,
    initial_state=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """Runs ``cell`` over the time steps of ``inputs`` ([batch, time, depth], or [time, batch,
    depth] with ``time_major``) in one compiled loop; returns (outputs, final state)."""
    return _dynamic_rnn(cell, inputs, sequence_length, initial_state, dtype, time_major, scope)


def _dynamic_rnn(
    cell, inputs, sequence_length, initial_state, dtype, time_major, scope, backward=False
):
    flat_inputs = _checked_inputs(inputs, time_major)
    with variable_scope(scope or "rnn"):
        if not time_major:
            flat_inputs = [_swap_batch_time(x) for x in flat_inputs]
        lengths = _sequence_lengths(sequence_length)
        if lengths is not None:
            text = "sequence_length must hold one length per batch row: lengths, batch size"
            lengths = _one_length_per_row(lengths, flat_inputs[0], 1, text)
        outputs, final_state = _time_major_loop(
            cell, inputs, flat_inputs, initial_state, dtype, lengths, backward
        )
        if not time_major:
            outputs = [_swap_batch_time(o) for o in outputs]
    return _pack(cell.output_size, outputs), final_state


def _stackable(steps: list) -> bool:
    """Whether the steps are single tensors of one static shape (then they run as one loop)."""
    if any(_flatten(x) != [x] for x in steps):
        return False
    shapes = {tuple(x.spec.shape) if x.spec.shape is not None else None for x in steps}
    dtypes = {x.dtype for x in steps}
    if len(shapes) != 1 or len(dtypes) != 1:
        return False
    (shape,) = shapes
    return shape is not None and len(shape) >= 2 and shape[-1] is not None


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Runs ``cell`` over a Python list of [batch, depth] inputs; returns (the list of outputs,
    final state). Steps of one shape are stacked and run as dynamic_rnn's compiled loop (the same
    numbers and variables as TF's unrolled graph, and compile time independent of the number of
    steps); other lists are unrolled, one cell call per step, as TF does."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    steps = [_pack(x, [convert_to_tensor(t) for t in _flatten(x)]) for x in inputs]
    lengths = _sequence_lengths(sequence_length)
    if _stackable(steps):
        with variable_scope(scope or "rnn"):
            stacked = array_ops.stack(steps, axis=0)
            outputs, state = _time_major_loop(
                cell, stacked, [stacked], initial_state, dtype, lengths
            )
            per_step = [array_ops.unstack(o, num=len(steps), axis=0) for o in outputs]
        return [_pack(cell.output_size, list(step)) for step in zip(*per_step)], state
    return _unrolled_rnn(cell, steps, initial_state, dtype, lengths, scope)


def _unrolled_rnn(cell, steps, initial_state, dtype, lengths, scope):
    first = _flatten(steps[0])[0]
    with variable_scope(scope or "rnn") as varscope:
        batch = _static_dim(first, 0)
        batch_size = int(batch) if batch is not None else array_ops.shape(first)[0]
        state = _initial_state(cell, initial_state, dtype, batch_size)
        outputs = []
        for time, x in enumerate(steps):
            if time > 0:
                varscope.reuse_variables()
            output, new_state = cell(x, state)
            if lengths is not None:
                finished = math_ops.greater_equal(time, lengths)
                output = _pack(
                    output,
                    [_copy_through(finished, o, array_ops.zeros_like(o)) for o in _flatten(output)],
                )
                new_state = _pack(
                    new_state,
                    [
                        _copy_through(finished, n, o)
                        for n, o in zip(_flatten(new_state), _flatten(state))
                    ],
                )
            outputs.append(output)
            state = new_state
    return outputs, state


# ---- bidirectional -------------------------------------------------------------------------------


def reverse_sequence(input, seq_lengths, seq_axis=None, batch_axis=0, name=None, seq_dim=None):
    """Reverses the first seq_lengths[b] steps of each sequence b along ``seq_axis``, leaving the
    steps past the length in place (`tf.reverse_sequence`); as a batched permutation matmul, so
    its gradient is the reverse permutation."""
    x = convert_to_tensor(input)
    seq_axis = seq_dim if seq_axis is None else seq_axis
    if seq_axis is None:
        raise ValueError("reverse_sequence needs seq_axis")
    rank = x.spec.rank
    if rank is None or rank < 2:
        raise ValueError(f"reverse_sequence needs an input of rank >= 2, not {x.shape}")
    seq_axis, batch_axis = int(seq_axis) % rank, int(batch_axis) % rank
    with get_default_graph().name_scope(name or "ReverseSequence"):
        # [batch, time, rest...] then [batch, time, features] for the matmul
        order = [batch_axis, seq_axis, *(a for a in range(rank) if a not in (batch_axis, seq_axis))]
        moved = array_ops.transpose(x, order)
        steps = _static_dim(moved, 1)
        if steps is None:
            raise ValueError(
                "tgc's reverse_sequence needs the sequence axis's length known when the graph is "
                f"built; '{x.name}' has shape {x.shape}"
            )
        lengths = math_ops.cast(convert_to_tensor(seq_lengths), "int32")
        text = f"Length of seq_lengths != input.dims({batch_axis}):"
        lengths = _one_length_per_row(lengths, moved, 0, text)
        positions = array_ops.expand_dims(
            convert_to_tensor(list(range(int(steps))), dtype="int32"), 0
        )  # [1, time]
        lengths = array_ops.expand_dims(lengths, 1)  # [batch, 1]
        source = math_ops.where(
            math_ops.less(positions, lengths),
            math_ops.subtract(math_ops.subtract(lengths, 1), positions),
            math_ops.add(positions, array_ops.zeros_like(lengths)),
        )  # [batch, time]: the step each output step reads
        # [batch, time (out), time (in)] one-hot rows picking each output step's input step
        permutation = array_ops.one_hot(source, int(steps), dtype=x.dtype)
        batch = _static_dim(moved, 0)
        flat = array_ops.reshape(moved, [-1 if batch is None else batch, int(steps), -1])
        # sum over the input steps of permutation[b, t, s] * flat[b, s, f] (no batched matmul)
        picked = math_ops.multiply(
            array_ops.expand_dims(permutation, 3), array_ops.expand_dims(flat, 1)
        )
        reversed_ = math_ops.reduce_sum(picked, axis=2)
        back = array_ops.reshape(reversed_, [-1 if d is None else d for d in moved.spec.shape])
        inverse = [order.index(a) for a in range(rank)]
        return array_ops.transpose(back, inverse)


def _reversed_inputs(inputs, lengths, time_axis: int, batch_axis: int):
    """Each sequence's first lengths[b] steps reversed (TF's reverse_sequence)."""
    return _pack(
        inputs,
        [
            reverse_sequence(
                convert_to_tensor(x), lengths, seq_axis=time_axis, batch_axis=batch_axis
            )
            for x in _flatten(inputs)
        ],
    )


def _scope_for(scope, default: str):
    return scope if isinstance(scope, VariableScope) else (scope or default)


def bidirectional_dynamic_rnn(
    cell_fw,
    cell_bw,
    inputs,
    sequence_length=None,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """A forward dynamic_rnn under ``fw`` and one over the reversed sequences under ``bw``, its
    outputs reversed back; returns ((output_fw, output_bw), (state_fw, state_bw))."""
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)
    lengths = _sequence_lengths(sequence_length)
    with variable_scope(_scope_for(scope, "bidirectional_rnn")):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(
                cell_fw,
                inputs,
                sequence_length=lengths,
                initial_state=initial_state_fw,
                dtype=dtype,
                time_major=time_major,
                scope=fw_scope,
            )
        with variable_scope("bw") as bw_scope:
            if lengths is None:  # the steps read backward: any number of steps
                output_bw, state_bw = _dynamic_rnn(
                    cell_bw,
                    inputs,
                    None,
                    initial_state_bw,
                    dtype,
                    time_major,
                    bw_scope,
                    backward=True,
                )
            else:
                reversed_inputs = _reversed_inputs(inputs, lengths, time_axis, batch_axis)
                reversed_out, state_bw = dynamic_rnn(
                    cell_bw,
                    reversed_inputs,
                    sequence_length=lengths,
                    initial_state=initial_state_bw,
                    dtype=dtype,
                    time_major=time_major,
                    scope=bw_scope,
                )
                output_bw = _reversed_inputs(reversed_out, lengths, time_axis, batch_axis)
    return (output_fw, output_bw), (state_fw, state_bw)


def static_bidirectional_rnn(
    cell_fw,
    cell_bw,
    inputs,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    sequence_length=None,
    scope=None,
):
    """static_rnn forward under ``fw`` and over the reversed list under ``bw``; each step's
    outputs concatenated [fw, bw]: returns (outputs, state_fw, state_bw)."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError("inputs must be a non-empty list")
    lengths = _sequence_lengths(sequence_length)
    with variable_scope(_scope_for(scope, "bidirectional_rnn")):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = static_rnn(
                cell_fw, inputs, initial_state_fw, dtype, lengths, scope=fw_scope
            )
        with variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_list(inputs, lengths)
            tmp, state_bw = static_rnn(
                cell_bw, reversed_inputs, initial_state_bw, dtype, lengths, scope=bw_scope
            )
    output_bw = _reverse_list(tmp, lengths)
    outputs = [
        array_ops.concat([fw, bw], 1)
        for fw, bw in zip(_flat_steps(output_fw), _flat_steps(output_bw))
    ]
    return outputs, state_fw, state_bw


def _flat_steps(steps: list) -> list:
    return [convert_to_tensor(_flatten(s)[0]) for s in steps]


def _reverse_list(steps: list, lengths):
    """The steps in reverse order; with lengths, each sequence's first lengths[b] steps reversed
    (TF's _reverse_seq: stack, reverse_sequence, unstack)."""
    if lengths is None:
        return list(reversed(steps))
    stacked = array_ops.stack([convert_to_tensor(s) for s in steps], axis=0)
    flipped = reverse_sequence(stacked, lengths, seq_axis=0, batch_axis=1)
    return array_ops.unstack(flipped, num=len(steps), axis=0)
