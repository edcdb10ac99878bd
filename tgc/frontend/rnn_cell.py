"""`tf.nn.rnn_cell` (also `tf.contrib.rnn`): TF1's recurrent cells, as TensorFlow 2.21's compat.v1
legacy cells compute them and name their variables.

A cell is called as ``output, new_state = cell(inputs, state)``. Its variables are made on the
first call, in a variable scope named after the cell (``basic_lstm_cell``, ``lstm_cell``,
``gru_cell``, ``basic_rnn_cell``; ``multi_rnn_cell/cell_<i>/...`` for a stack), unique within the
entry of the enclosing scope as in TF, so ``tf.variable_scope(..., reuse=True)`` around a second
model with new cell objects shares the first one's variables. A ``scope=`` given to the call is
the variable scope itself (``scope/kernel``). Later calls reuse the variables of the first.

Everything is built from the frontend's ordinary ops (matmul, concat, split, sigmoid, tanh, ...), so
gradients need nothing of their own.
"""

from __future__ import annotations

import collections
import hashlib
import numbers
import re
import weakref

from tgc.dialect.types import as_dtype
from tgc.frontend import array_ops, math_ops, random_ops
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.control import _flatten, _pack, while_loop
from tgc.frontend.initializers import constant_initializer, zeros_initializer
from tgc.frontend.variables import VariableScope, get_variable, get_variable_scope, variable_scope
from tgc.graph.graph import Tensor, TensorShape, get_default_graph

# Default cell names taken per entry of a variable scope (tgc makes a new VariableScope object at
# each `with tf.variable_scope(...)`, as TF resets the counts of a scope's subscopes when it is
# entered again): two cells in one entry are basic_lstm_cell and basic_lstm_cell_1, while a new
# cell under a re-entered scope (reuse=True) takes basic_lstm_cell again and shares its variables.
_NAMES_TAKEN: "weakref.WeakKeyDictionary[VariableScope, dict]" = weakref.WeakKeyDictionary()


def _unique_cell_name(base: str) -> str:
    taken = _NAMES_TAKEN.setdefault(get_variable_scope(), {})
    count = taken.get(base, 0)
    taken[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM state: ``c`` the memory, ``h`` the output (`tf.nn.rnn_cell.LSTMStateTuple`)."""

    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype} vs {h.dtype}")
        return c.dtype


# ---- zero states ---------------------------------------------------------------------------------


def _batch_rows(batch_size, dtype):
    """A [batch_size, 1] tensor of zeros of ``dtype``: static when batch_size is a number, else
    built from the tensor whose run-time dim it is (``tf.shape(x)[k]``), or grown by a loop."""
    if isinstance(batch_size, numbers.Integral) or not isinstance(batch_size, Tensor):
        return array_ops.zeros([int(batch_size), 1], dtype=dtype)
    source = _dim_source(batch_size)
    if source is not None:
        tensor, axis = source
        others = [a for a in range(tensor.spec.rank) if a != axis]
        zeros = array_ops.zeros_like(tensor, dtype=dtype)
        rows = math_ops.reduce_sum(zeros, axis=others) if others else zeros
        return array_ops.expand_dims(rows, 1)
    return _rows_by_loop(batch_size, dtype)


def _dim_source(size):
    """(x, k) when ``size`` is ``tf.shape(x)[k]`` (a squeezed one-element strided slice of a shape
    op), else None."""
    op = size.op
    if op.opdef != "squeeze" or op.inputs[0].op.opdef != "strided_slice":
        return None
    sliced = op.inputs[0].op
    attrs = sliced.attrs
    if sliced.inputs[0].op.opdef != "shape" or attrs.get("strides") != [1]:
        return None
    begin, end = attrs.get("begin"), attrs.get("end")
    if not begin or not end or end[0] != begin[0] + 1 or attrs.get("begin_mask"):
        return None
    tensor = sliced.inputs[0].op.inputs[0]
    if tensor.spec.rank is None or not 0 <= begin[0] < tensor.spec.rank:
        return None
    return tensor, begin[0]


def _rows_by_loop(batch_size, dtype):
    """[batch_size, 1] zeros for a batch size known only as a scalar tensor: a loop adds a row per
    iteration (tgc has no op making a tensor of a run-time length from a scalar)."""
    size = math_ops.cast(convert_to_tensor(batch_size), "int32")
    _, rows = while_loop(
        lambda i, rows: math_ops.less(i, size),
        lambda i, rows: (i + 1, array_ops.concat([rows, array_ops.zeros([1, 1], dtype)], 0)),
        [0, array_ops.zeros([0, 1], dtype)],
        shape_invariants=[TensorShape([]), TensorShape([None, 1])],
        back_prop=False,
        name="zero_rows",
    )
    return rows


def _zeros(rows, size: int, batch_size):
    """[batch, size] zeros from the [batch, 1] rows (static batch: one fill)."""
    if isinstance(batch_size, numbers.Integral):
        return array_ops.zeros([int(batch_size), size], dtype=rows.dtype)
    return array_ops.tile(rows, [1, size])


def _state_sizes(state_size) -> list:
    return _flatten(state_size)


# ---- the base class ------------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    """Keras's to_snake_case: BasicLSTMCell -> basic_lstm_cell, MyCell -> my_cell."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    snake = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return snake if snake[0] != "_" else "private" + snake


class RNNCell:
    """TF1's ``tf.nn.rnn_cell.RNNCell``: ``state_size``, ``output_size``, ``zero_state`` and
    ``__call__(inputs, state, scope=None)``; subclasses define ``build(inputs_shape)`` (making
    variables with ``add_variable`` or ``tf.get_variable``) and ``call(inputs, state)``. The
    variable scope of the first call is the class name in snake case (``my_cell``), as in TF."""

    def __init__(self, trainable=True, name=None, dtype=None, _reuse=None, **kwargs):
        unknown = set(kwargs)
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(unknown)}"
            )
        self.trainable = trainable
        self._name = name
        self.dtype = as_dtype(dtype) if dtype is not None else None
        self._reuse = _reuse
        self._scope = None
        self.built = False
        self._variables = []

    @property
    def name(self):
        return self._scope.name.rsplit("/", 1)[-1] if self._scope is not None else self._name

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    @property
    def variables(self):
        return list(self._variables)

    weights = variables
    trainable_variables = variables
    trainable_weights = variables

    def zero_state(self, batch_size, dtype):
        """Zeros of shape [batch_size, s] for each size s in ``state_size``, in its nesting."""
        dtype = as_dtype(dtype)
        with get_default_graph().name_scope(f"{type(self).__name__}ZeroState"):
            rows = (
                None if isinstance(batch_size, numbers.Integral) else _batch_rows(batch_size, dtype)
            )
            flat = [
                _zeros(rows, int(s), batch_size)
                if rows is not None
                else array_ops.zeros([int(batch_size), int(s)], dtype=dtype)
                for s in _state_sizes(self.state_size)
            ]
        return _pack(self.state_size, flat)

    def add_variable(self, name, shape, dtype=None, initializer=None, trainable=True):
        var = get_variable(
            name,
            shape=shape,
            dtype=dtype or self.dtype or "float32",
            initializer=initializer,
            trainable=bool(trainable and self.trainable),
        )
        if all(v is not var for v in self._variables):
            self._variables.append(var)
        return var

    add_weight = add_variable

    def build(self, inputs_shape):
        """Makes the cell's variables; a cell without variables has nothing to do."""

    def call(self, inputs, state):
        raise NotImplementedError(f"{type(self).__name__} must define call")

    def __call__(self, inputs, state, scope=None):
        inputs = convert_to_tensor(inputs)
        if self._scope is None:
            return self._first_call(inputs, state, scope)
        with variable_scope(self._scope, reuse=True):
            return self.call(inputs, state)

    def _first_call(self, inputs, state, scope):
        if scope is not None:
            name_or_scope = scope
        elif self._name is not None:
            name_or_scope = self._name
        else:
            name_or_scope = _unique_cell_name(_snake_case(type(self).__name__))
        with variable_scope(name_or_scope, reuse=self._reuse) as captured:
            self._scope = captured
            if self.dtype is None:
                self.dtype = inputs.dtype
            self.build(_inputs_shape(inputs, type(self).__name__))
            self.built = True
            return self.call(inputs, state)


def _inputs_shape(inputs, cell: str) -> TensorShape:
    """The inputs' shape, given to build(); its last dim (the depth) must be known."""
    shape = inputs.spec.shape
    if shape is None or not shape or shape[-1] is None:
        raise ValueError(
            f"{cell}: expected inputs.shape[-1] to be known, saw shape: {inputs.shape}"
        )
    return TensorShape(list(shape))


def _depth(inputs_shape) -> int:
    return int(TensorShape(inputs_shape).as_list()[-1])


def _linear(inputs: list, kernel, bias=None):
    """concat(inputs, 1) @ kernel (+ bias)."""
    joined = inputs[0] if len(inputs) == 1 else array_ops.concat(inputs, 1)
    out = math_ops.matmul(joined, kernel)
    return out if bias is None else math_ops.add(out, bias)


def _activation(activation):
    return math_ops.tanh if activation is None else activation


# ---- the cells -----------------------------------------------------------------------------------


class BasicRNNCell(RNNCell):
    """output = new_state = activation(W [inputs, state] + b) (`tf.nn.rnn_cell.BasicRNNCell`)."""

    def __init__(self, num_units, activation=None, reuse=None, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        input_depth = _depth(inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable("kernel", [input_depth + n, n])
        self._bias = self.add_variable("bias", [n], initializer=zeros_initializer())

    def call(self, inputs, state):
        output = self._activation(_linear([inputs, state], self._kernel, self._bias))
        return output, output


class GRUCell(RNNCell):
    """Gated recurrent unit (`tf.nn.rnn_cell.GRUCell`): gates/kernel, gates/bias (ones),
    candidate/kernel, candidate/bias (zeros)."""

    def __init__(
        self,
        num_units,
        activation=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        input_depth = _depth(inputs_shape)
        n = self._num_units
        init = self._kernel_initializer
        self._gate_kernel = self.add_variable(
            "gates/kernel", [input_depth + n, 2 * n], initializer=init
        )
        self._gate_bias = self.add_variable(
            "gates/bias",
            [2 * n],
            initializer=self._bias_initializer or constant_initializer(1.0),
        )
        self._candidate_kernel = self.add_variable(
            "candidate/kernel", [input_depth + n, n], initializer=init
        )
        self._candidate_bias = self.add_variable(
            "candidate/bias", [n], initializer=self._bias_initializer or zeros_initializer()
        )

    def call(self, inputs, state):
        gates = math_ops.sigmoid(_linear([inputs, state], self._gate_kernel, self._gate_bias))
        r, u = array_ops.split(gates, 2, axis=1)
        candidate = self._activation(
            _linear(
                [inputs, math_ops.multiply(r, state)], self._candidate_kernel, self._candidate_bias
            )
        )
        # u * state + (1 - u) * candidate, as TF writes it
        new_h = math_ops.add(
            math_ops.multiply(u, state), math_ops.multiply(math_ops.subtract(1.0, u), candidate)
        )
        return new_h, new_h


def _lstm_state(state, state_is_tuple: bool, num_units: int):
    """(c, h) of an LSTM state: the tuple, or the [c, h] halves of a concatenated state."""
    if state_is_tuple:
        return state
    c = array_ops.slice(state, [0, 0], [-1, num_units])
    h = array_ops.slice(state, [0, num_units], [-1, -1])
    return c, h


def _lstm_new_state(c, h, state_is_tuple: bool):
    return LSTMStateTuple(c, h) if state_is_tuple else array_ops.concat([c, h], 1)


class BasicLSTMCell(RNNCell):
    """LSTM without peepholes or projection (`tf.nn.rnn_cell.BasicLSTMCell`): one kernel
    [input_depth + num_units, 4 * num_units] for the gates i, j, f, o, a zero bias, and
    ``forget_bias`` added to f."""

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self):
        return self._num_units

    def build(self, inputs_shape):
        input_depth = _depth(inputs_shape)
        n = self._num_units
        self._kernel = self.add_variable("kernel", [input_depth + n, 4 * n])
        self._bias = self.add_variable("bias", [4 * n], initializer=zeros_initializer())

    def call(self, inputs, state):
        c, h = _lstm_state(state, self._state_is_tuple, self._num_units)
        i, j, f, o = array_ops.split(_linear([inputs, h], self._kernel, self._bias), 4, axis=1)
        forget = math_ops.sigmoid(math_ops.add(f, self._forget_bias))
        new_c = math_ops.add(
            math_ops.multiply(c, forget),
            math_ops.multiply(math_ops.sigmoid(i), self._activation(j)),
        )
        new_h = math_ops.multiply(self._activation(new_c), math_ops.sigmoid(o))
        return new_h, _lstm_new_state(new_c, new_h, self._state_is_tuple)


class LSTMCell(RNNCell):
    """LSTM with optional peepholes (w_f_diag, w_i_diag, w_o_diag), cell clipping and a projection
    of the output (projection/kernel) with its clipping (`tf.nn.rnn_cell.LSTMCell`)."""

    def __init__(
        self,
        num_units,
        use_peepholes=False,
        cell_clip=None,
        initializer=None,
        num_proj=None,
        proj_clip=None,
        num_unit_shards=None,
        num_proj_shards=None,
        forget_bias=1.0,
        state_is_tuple=True,
        activation=None,
        reuse=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise ValueError(
                "LSTMCell: num_unit_shards and num_proj_shards (deprecated in TF 1) make "
                "partitioned variables, which tgc does not have; leave them None"
            )
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self):
        n, m = self._num_units, self._num_proj or self._num_units
        return LSTMStateTuple(n, m) if self._state_is_tuple else n + m

    @property
    def output_size(self):
        return self._num_proj or self._num_units

    def build(self, inputs_shape):
        input_depth = _depth(inputs_shape)
        n, h_depth = self._num_units, self._num_proj or self._num_units
        init = self._initializer
        self._kernel = self.add_variable("kernel", [input_depth + h_depth, 4 * n], initializer=init)
        self._bias = self.add_variable("bias", [4 * n], initializer=zeros_initializer())
        if self._use_peepholes:
            self._w_f_diag = self.add_variable("w_f_diag", [n], initializer=init)
            self._w_i_diag = self.add_variable("w_i_diag", [n], initializer=init)
            self._w_o_diag = self.add_variable("w_o_diag", [n], initializer=init)
        if self._num_proj is not None:
            self._proj_kernel = self.add_variable(
                "projection/kernel", [n, self._num_proj], initializer=init
            )

    def call(self, inputs, state):
        n = self._num_units
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev = array_ops.slice(state, [0, 0], [-1, n])
            m_prev = array_ops.slice(state, [0, n], [-1, -1])
        i, j, f, o = array_ops.split(_linear([inputs, m_prev], self._kernel, self._bias), 4, axis=1)
        mul, add, sigmoid = math_ops.multiply, math_ops.add, math_ops.sigmoid
        if self._use_peepholes:
            forget = sigmoid(add(add(f, self._forget_bias), mul(self._w_f_diag, c_prev)))
            keep_in = sigmoid(add(i, mul(self._w_i_diag, c_prev)))
        else:
            forget = sigmoid(add(f, self._forget_bias))
            keep_in = sigmoid(i)
        c = add(mul(forget, c_prev), mul(keep_in, self._activation(j)))
        if self._cell_clip is not None:
            c = math_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        if self._use_peepholes:
            m = mul(sigmoid(add(o, mul(self._w_o_diag, c))), self._activation(c))
        else:
            m = mul(sigmoid(o), self._activation(c))
        if self._num_proj is not None:
            m = math_ops.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = math_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        return m, _lstm_new_state(c, m, self._state_is_tuple)


class MultiRNNCell(RNNCell):
    """Cells stacked: cell i's output is cell i+1's input, each under ``cell_<i>``
    (`tf.nn.rnn_cell.MultiRNNCell`)."""

    def __init__(self, cells, state_is_tuple=True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(_flatten(c.state_size) != [c.state_size] for c in cells):
            raise ValueError(
                "Some cells return tuples of states, but the flag state_is_tuple is not set. "
                f"State sizes are: {[c.state_size for c in cells]}"
            )

    @property
    def state_size(self):
        if self._state_is_tuple:
            return tuple(cell.state_size for cell in self._cells)
        return sum(cell.state_size for cell in self._cells)

    @property
    def output_size(self):
        return self._cells[-1].output_size

    @property
    def variables(self):
        return [v for cell in self._cells for v in cell.variables]

    def zero_state(self, batch_size, dtype):
        if not self._state_is_tuple:
            return super().zero_state(batch_size, dtype)
        with get_default_graph().name_scope(f"{type(self).__name__}ZeroState"):
            return tuple(cell.zero_state(batch_size, dtype) for cell in self._cells)

    def call(self, inputs, state):
        output, new_states, start = inputs, [], 0
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    cell_state = state[i]
                else:
                    size = cell.state_size
                    cell_state = array_ops.slice(state, [0, start], [-1, size])
                    start += size
                output, new_state = cell(output, cell_state)
                new_states.append(new_state)
        if self._state_is_tuple:
            return output, tuple(new_states)
        return output, array_ops.concat(new_states, 1)


class _Wrapper(RNNCell):
    """A cell around another: no variable scope of its own (TF's wrappers call the wrapped cell
    with the caller's scope)."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    @property
    def variables(self):
        return self.cell.variables

    def zero_state(self, batch_size, dtype):
        with get_default_graph().name_scope(f"{type(self).__name__}ZeroState"):
            return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        return self._wrapped(convert_to_tensor(inputs), state, scope)


def _is_keep_all(keep_prob) -> bool:
    return isinstance(keep_prob, numbers.Real) and float(keep_prob) == 1.0


class DropoutWrapper(_Wrapper):
    """Dropout on the cell's inputs, state and outputs (`tf.nn.rnn_cell.DropoutWrapper`); an
    LSTM's memory ``c`` keeps its values, as TF's default ``dropout_state_filter_visitor`` leaves
    it.

    Called inside `tf.nn.dynamic_rnn`'s loop, each step draws a new mask (the loop folds its
    iteration into the random ops' counter: tgc/frontend/control.py). With
    ``variational_recurrent=True`` the noise is drawn once, here (outside any loop), one uniform
    [1, size] per tensor as TF's, so every step and every sequence of the batch share one mask;
    ``dtype`` is then required, and ``input_size`` too when the inputs are dropped. Each dropped
    tensor's op seed is TF's (``_gen_seed``: from ``seed``, the part and the tensor's index)."""

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
    ):
        super().__init__(cell)
        for what, keep in (
            ("input_keep_prob", input_keep_prob),
            ("output_keep_prob", output_keep_prob),
            ("state_keep_prob", state_keep_prob),
        ):
            if isinstance(keep, numbers.Real) and not 0.0 < float(keep) <= 1.0:
                raise ValueError(f"Parameter {what} must be between 0 and 1: {keep}")
        self._input_keep_prob = input_keep_prob
        self._output_keep_prob = output_keep_prob
        self._state_keep_prob = state_keep_prob
        self._seed = seed
        self._state_filter = dropout_state_filter_visitor or _keep_lstm_memory
        self._noise = None  # part -> the flat noise tensors, when variational
        if variational_recurrent:
            self._noise = self._recurrent_noise(cell, input_size, dtype)

    def _recurrent_noise(self, cell, input_size, dtype) -> dict:
        """TF's variational noise: uniform [1, size] for each tensor of the inputs (only when
        they are dropped), the state and the output, in TF's order (so TF's op seeds)."""
        if dtype is None:
            raise ValueError("When variational_recurrent=True, dtype must be provided")
        noise = {}
        if not _is_keep_all(self._input_keep_prob):
            if input_size is None:
                raise ValueError(
                    "When variational_recurrent=True and input_keep_prob < 1.0 or is unknown, "
                    "input_size must be provided"
                )
            noise["input"] = self._batch_noise(input_size, "input", dtype)
        noise["state"] = self._batch_noise(cell.state_size, "state", dtype)
        noise["output"] = self._batch_noise(cell.output_size, "output", dtype)
        return noise

    def _batch_noise(self, sizes, part: str, dtype) -> list:
        return [
            random_ops.random_uniform(
                [1, *TensorShape(size).as_list()], dtype=dtype, seed=self._gen_seed(part, i)
            )
            for i, size in enumerate(_flatten(sizes))
        ]

    def _gen_seed(self, part: str, index: int):
        """TF's op seed of the ``index``-th dropped tensor of ``part`` (None without a seed)."""
        if self._seed is None:
            return None
        text = f"{self._seed}{part}_{index}".encode("utf-8")
        return int(hashlib.md5(text).hexdigest()[:8], 16) & 0x7FFFFFFF

    def _dropout(self, x, keep_prob, part: str, index: int, position: int):
        """x dropped: the ``index``-th tensor TF's filter visits in ``part``, the
        ``position``-th of the part's flat structure (its variational noise)."""
        if self._noise is None:
            return random_ops.dropout(x, keep_prob=keep_prob, seed=self._gen_seed(part, index))
        keep = convert_to_tensor(keep_prob, dtype=x.dtype)
        mask = math_ops.floor(math_ops.add(keep, self._noise[part][position]))
        return math_ops.multiply(math_ops.divide(x, keep), mask)

    def _dropped(self, values, keep_prob, part: str):
        if _is_keep_all(keep_prob):
            return values
        flat = [self._dropout(v, keep_prob, part, i, i) for i, v in enumerate(_flatten(values))]
        return _pack(values, flat)

    def _wrapped(self, inputs, state, scope):
        inputs = self._dropped(inputs, self._input_keep_prob, "input")
        output, new_state = self.cell(inputs, state, scope=scope)
        if not _is_keep_all(self._state_keep_prob):
            new_state = _map_state(
                new_state,
                lambda s, keep, index, position: (
                    self._dropout(s, self._state_keep_prob, "state", index, position) if keep else s
                ),
                self._state_filter,
            )
        return self._dropped(output, self._output_keep_prob, "output"), new_state


def _keep_lstm_memory(substate) -> bool:
    """TF's default filter: dropout everywhere except an LSTMStateTuple's ``c``."""
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)
    return True


class _Visit:
    """Where _map_state stands: ``index`` counts the leaves of TF's shallow structure (a subtree
    the filter leaves whole is one), ``position`` the state's own flat leaves."""

    def __init__(self):
        self.index = 0
        self.position = 0

    def leaf(self, width: int = 1) -> tuple:
        at = (self.index, self.position)
        self.index += 1
        self.position += width
        return at


def _map_state(state, fn, state_filter, visit=None):
    """fn(s, drop, index, position) over the state's tensors; ``state_filter`` says which are
    dropped, as TF's dropout_state_filter_visitor does: True on a tuple goes into it (asking
    again for each part), False leaves it whole, a structure of bools decides part by part."""
    visit = visit or _Visit()
    return _apply_decision(state, state_filter(state), fn, state_filter, visit)


def _apply_decision(state, decision, fn, state_filter, visit):
    if not isinstance(state, (tuple, list)):
        return fn(state, bool(decision), *visit.leaf())
    if decision is False:
        visit.leaf(len(_flatten(state)))
        return state
    if decision is True:
        parts = [_map_state(s, fn, state_filter, visit) for s in state]
    else:
        parts = [_apply_decision(s, d, fn, state_filter, visit) for s, d in zip(state, decision)]
    return type(state)(*parts) if hasattr(state, "_fields") else type(state)(parts)


class ResidualWrapper(_Wrapper):
    """The cell's output plus its input (`tf.nn.rnn_cell.ResidualWrapper`), or
    ``residual_fn(inputs, outputs)``."""

    def __init__(self, cell, residual_fn=None):
        super().__init__(cell)
        self._residual_fn = residual_fn

    def _wrapped(self, inputs, state, scope):
        output, new_state = self.cell(inputs, state, scope=scope)
        if self._residual_fn is not None:
            return self._residual_fn(inputs, output), new_state
        if inputs.spec.shape is not None and output.spec.shape is not None:
            if inputs.spec.shape[-1] != output.spec.shape[-1]:
                raise ValueError(
                    f"ResidualWrapper: the cell's input {inputs.shape} and output "
                    f"{output.shape} must have the same depth"
                )
        return math_ops.add(inputs, output), new_state


class DeviceWrapper(_Wrapper):
    """The cell's ops on ``device`` (`tf.nn.rnn_cell.DeviceWrapper`)."""

    def __init__(self, cell, device):
        super().__init__(cell)
        self._device = device

    def _wrapped(self, inputs, state, scope):
        with get_default_graph().device(self._device):
            return self.cell(inputs, state, scope=scope)


# TF1's other names for the same classes
RNNCellBase = RNNCell
LayerRNNCell = RNNCell
