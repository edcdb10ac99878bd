"""The recurrent-network programs of tests/e2e/test_rnn.py, and (run as a script) TensorFlow
2.21's values for them, printed as TF_VALUES:

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python tests/oracle/rnn_oracle.py

(TF 2.21's compat.v1 cells are tf_keras's legacy cells, hence TF_USE_LEGACY_KERAS.) Each program
takes the API as arguments (``tf``: the compat.v1 module, ``nn``: where ``rnn_cell``,
``dynamic_rnn``, ... live), builds its graph and returns ``run(sess) -> dict``; `evaluate` sets
every variable to deterministic values from its name (so both sides compute the same thing,
whatever their initializers) and runs it. The test runs the same programs under tgc.
"""

from __future__ import annotations

import numpy as np


def det(shape, salt: float) -> np.ndarray:
    """Deterministic float32 values in [-0.5, 0.5] of ``shape``."""
    n = int(np.prod(shape, dtype=np.int64))
    return (0.5 * np.sin(0.37 * np.arange(n) + salt)).astype(np.float32).reshape(shape)


def _salt(name: str) -> float:
    return (sum(map(ord, name.split(":")[0])) % 17) * 0.3


X = det((2, 4, 3), 0.5) * 2.0  # [batch, time, depth]


def evaluate(tf, nn, program) -> dict:
    """Builds ``program`` in a fresh graph, sets the variables, runs it; returns its values and
    the variables' names and shapes."""
    tf.reset_default_graph()
    run = program(tf, nn)
    variables = tf.global_variables()
    assigns = [tf.assign(v, det(v.shape.as_list(), _salt(v.name))) for v in variables]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(assigns)
        values = run(sess)
    values["variables"] = [(v.name, v.shape.as_list()) for v in variables]
    return values


def basic_lstm(tf, nn):
    """BasicLSTMCell with forget_bias, dynamic_rnn with sequence_length (batch-major)."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    lengths = tf.placeholder(tf.int32, [2])
    cell = nn.rnn_cell.BasicLSTMCell(5, forget_bias=0.7)
    outputs, state = nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    return lambda sess: dict(
        zip(("outputs", "c", "h"), sess.run([outputs, state.c, state.h], {x: X, lengths: [4, 2]}))
    )


def lstm_full(tf, nn):
    """LSTMCell with peepholes, projection, both clips, time-major, a fed initial state."""
    x = tf.placeholder(tf.float32, [4, 2, 3])
    c0 = tf.placeholder(tf.float32, [None, 4])
    h0 = tf.placeholder(tf.float32, [None, 3])
    cell = nn.rnn_cell.LSTMCell(
        4, use_peepholes=True, num_proj=3, cell_clip=0.6, proj_clip=0.5, forget_bias=0.5
    )
    state0 = nn.rnn_cell.LSTMStateTuple(c0, h0)
    outputs, state = nn.dynamic_rnn(cell, x, initial_state=state0, time_major=True)
    feeds = {x: X.transpose(1, 0, 2), c0: det((2, 4), 1.0), h0: det((2, 3), 2.0)}
    return lambda sess: dict(
        zip(("outputs", "c", "h"), sess.run([outputs, state.c, state.h], feeds))
    )


def multi_gru_rnn(tf, nn):
    """MultiRNNCell of a GRUCell and a BasicRNNCell, sequence_length."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    cell = nn.rnn_cell.MultiRNNCell([nn.rnn_cell.GRUCell(4), nn.rnn_cell.BasicRNNCell(3)])
    outputs, (s_gru, s_rnn) = nn.dynamic_rnn(cell, x, sequence_length=[3, 4], dtype=tf.float32)
    return lambda sess: dict(
        zip(("outputs", "gru", "rnn"), sess.run([outputs, s_gru, s_rnn], {x: X}))
    )


def wrappers(tf, nn):
    """A concatenated LSTM state, a ResidualWrapper and a DropoutWrapper keeping everything: the
    wrappers add no variable scope."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    flat_cell = nn.rnn_cell.BasicLSTMCell(3, state_is_tuple=False)
    out_flat, state_flat = nn.dynamic_rnn(flat_cell, x, dtype=tf.float32, scope="flat")
    residual = nn.rnn_cell.ResidualWrapper(nn.rnn_cell.GRUCell(3))
    out_res, state_res = nn.dynamic_rnn(residual, x, dtype=tf.float32, scope="res")
    dropout = nn.rnn_cell.DropoutWrapper(
        nn.rnn_cell.BasicLSTMCell(2), input_keep_prob=1.0, output_keep_prob=1.0
    )
    out_drop, state_drop = nn.dynamic_rnn(dropout, x, dtype=tf.float32, scope="drop")
    fetches = [out_flat, state_flat, out_res, state_res, out_drop, state_drop.h]
    names = ("out_flat", "state_flat", "out_res", "state_res", "out_drop", "h_drop")
    return lambda sess: dict(zip(names, sess.run(fetches, {x: X})))


def static_lstm(tf, nn):
    """static_rnn over a list of steps, with sequence_length."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    steps = tf.unstack(x, axis=1)
    cell = nn.rnn_cell.BasicLSTMCell(3)
    outputs, state = nn.static_rnn(cell, steps, dtype=tf.float32, sequence_length=[3, 1])
    return lambda sess: dict(
        zip(("outputs", "c", "h"), sess.run([outputs, state.c, state.h], {x: X}))
    )


def bidirectional(tf, nn):
    """bidirectional_dynamic_rnn (LSTM forward, GRU backward) and static_bidirectional_rnn, both
    with sequence_length."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    (out_fw, out_bw), (s_fw, s_bw) = nn.bidirectional_dynamic_rnn(
        nn.rnn_cell.BasicLSTMCell(3),
        nn.rnn_cell.GRUCell(2),
        x,
        sequence_length=[4, 2],
        dtype=tf.float32,
    )
    outputs, st_fw, st_bw = nn.static_bidirectional_rnn(
        nn.rnn_cell.BasicRNNCell(2),
        nn.rnn_cell.BasicRNNCell(2),
        tf.unstack(x, axis=1),
        dtype=tf.float32,
        sequence_length=[3, 4],
        scope="static_bi",
    )
    fetches = [out_fw, out_bw, s_fw.h, s_bw, outputs, st_fw, st_bw]
    names = ("out_fw", "out_bw", "h_fw", "s_bw", "static_out", "static_fw", "static_bw")
    return lambda sess: dict(zip(names, sess.run(fetches, {x: X})))


def gradients_and_sgd(tf, nn):
    """Gradients of a loss through dynamic_rnn (to the kernel, the bias and the inputs), then
    three SGD steps."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    cell = nn.rnn_cell.BasicLSTMCell(3)
    outputs, state = nn.dynamic_rnn(cell, x, sequence_length=[4, 3], dtype=tf.float32)
    loss = tf.reduce_sum(outputs * outputs) + tf.reduce_sum(state.c)
    kernel, bias = tf.global_variables()
    grads = tf.gradients(loss, [kernel, bias, x])
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)

    def run(sess):
        values = dict(zip(("g_kernel", "g_bias", "g_x"), sess.run(grads, {x: X})))
        values["losses"] = [float(sess.run([loss, train], {x: X})[0]) for _ in range(3)]
        values["kernel_after"] = sess.run(kernel)
        return values

    return run


def state_across_runs(tf, nn):
    """An LSTM's state fed back in across Session.run calls: two runs of two steps each give the
    four-step run's outputs and state."""
    x = tf.placeholder(tf.float32, [2, None, 3])
    cell = nn.rnn_cell.BasicLSTMCell(3)
    c0 = tf.placeholder_with_default(tf.zeros([2, 3]), [2, 3])
    h0 = tf.placeholder_with_default(tf.zeros([2, 3]), [2, 3])
    outputs, state = nn.dynamic_rnn(cell, x, initial_state=nn.rnn_cell.LSTMStateTuple(c0, h0))

    def run(sess):
        full = sess.run([outputs, state], {x: X})
        first = sess.run([outputs, state], {x: X[:, :2]})
        second = sess.run([outputs, state], {x: X[:, 2:], c0: first[1].c, h0: first[1].h})
        return {
            "full_outputs": full[0],
            "full_c": full[1].c,
            "split_outputs": np.concatenate([first[0], second[0]], axis=1),
            "split_c": second[1].c,
            "split_h": second[1].h,
        }

    return run


def scopes_and_reuse(tf, nn):
    """Variable names: cells called directly (basic_lstm_cell, basic_lstm_cell_1), a given scope,
    a re-entered scope with reuse=True sharing with new cell objects, zero_state of a run-time
    batch size."""
    x = tf.placeholder(tf.float32, [None, 3])
    c1, c2 = nn.rnn_cell.BasicLSTMCell(2), nn.rnn_cell.BasicLSTMCell(2)
    y1, _ = c1(x, c1.zero_state(tf.shape(x)[0], tf.float32))
    y2, _ = c2(x, c2.zero_state(tf.shape(x)[0], tf.float32))
    c3 = nn.rnn_cell.BasicRNNCell(2)
    y3, _ = c3(x, c3.zero_state(tf.shape(x)[0], tf.float32), scope="zz")
    seq = tf.placeholder(tf.float32, [None, 4, 3])
    with tf.variable_scope("model"):
        out_a, _ = nn.dynamic_rnn(nn.rnn_cell.GRUCell(2), seq, dtype=tf.float32)
    with tf.variable_scope("model", reuse=True):
        out_b, _ = nn.dynamic_rnn(nn.rnn_cell.GRUCell(2), seq, dtype=tf.float32)
    fetches = [y1, y2, y3, out_a, out_b]
    feeds = {x: X[:, 0], seq: X}
    return lambda sess: dict(zip(("y1", "y2", "y3", "out_a", "out_b"), sess.run(fetches, feeds)))


def bidirectional_any_length(tf, nn):
    """bidirectional_dynamic_rnn without sequence_length over a time dim unknown until run time,
    time-major."""
    x = tf.placeholder(tf.float32, [None, 2, 3])
    (out_fw, out_bw), (s_fw, s_bw) = nn.bidirectional_dynamic_rnn(
        nn.rnn_cell.GRUCell(2), nn.rnn_cell.BasicLSTMCell(3), x, dtype=tf.float32, time_major=True
    )
    fetches = [out_fw, out_bw, s_fw, s_bw.c, s_bw.h]
    names = ("out_fw", "out_bw", "s_fw", "c_bw", "h_bw")
    return lambda sess: dict(zip(names, sess.run(fetches, {x: X.transpose(1, 0, 2)})))


def options(tf, nn):
    """A concatenated LSTMCell state (peepholes, projection), a BasicRNNCell with relu, a GRUCell
    with a sigmoid activation and initializers (overwritten by evaluate: only names matter)."""
    x = tf.placeholder(tf.float32, [2, 4, 3])
    lstm = nn.rnn_cell.LSTMCell(3, use_peepholes=True, num_proj=2, state_is_tuple=False)
    out_lstm, state_lstm = nn.dynamic_rnn(lstm, x, dtype=tf.float32, scope="flat_lstm")
    relu = nn.rnn_cell.BasicRNNCell(3, activation=tf.nn.relu)
    out_relu, _ = nn.dynamic_rnn(relu, x, dtype=tf.float32, scope="relu")
    gru = nn.rnn_cell.GRUCell(
        2,
        activation=tf.nn.sigmoid,
        kernel_initializer=tf.ones_initializer(),
        bias_initializer=tf.zeros_initializer(),
    )
    out_gru, state_gru = nn.dynamic_rnn(gru, x, sequence_length=[2, 4], dtype=tf.float32)
    fetches = [out_lstm, state_lstm, out_relu, out_gru, state_gru]
    names = ("out_lstm", "state_lstm", "out_relu", "out_gru", "state_gru")
    return lambda sess: dict(zip(names, sess.run(fetches, {x: X})))


def custom_cell(tf, nn):
    """A user's RNNCell subclass making its variable with tf.get_variable in call(): its scope is
    the class name in snake case."""

    class MyGatedCell(nn.rnn_cell.RNNCell):
        def __init__(self, units):
            super().__init__()
            self.units = units

        @property
        def state_size(self):
            return self.units

        @property
        def output_size(self):
            return self.units

        def call(self, inputs, state):
            w = tf.get_variable("w", [inputs.shape[1] + self.units, 2 * self.units])
            gate, value = tf.split(tf.matmul(tf.concat([inputs, state], 1), w), 2, axis=1)
            new = tf.sigmoid(gate) * state + tf.tanh(value)
            return new, new

    x = tf.placeholder(tf.float32, [2, 4, 3])
    outputs, state = nn.dynamic_rnn(MyGatedCell(2), x, dtype=tf.float32)
    return lambda sess: dict(zip(("outputs", "state"), sess.run([outputs, state], {x: X})))


PROGRAMS = {
    "basic_lstm": basic_lstm,
    "lstm_full": lstm_full,
    "multi_gru_rnn": multi_gru_rnn,
    "wrappers": wrappers,
    "static_lstm": static_lstm,
    "bidirectional": bidirectional,
    "gradients_and_sgd": gradients_and_sgd,
    "state_across_runs": state_across_runs,
    "scopes_and_reuse": scopes_and_reuse,
    "custom_cell": custom_cell,
    "bidirectional_any_length": bidirectional_any_length,
    "options": options,
}


def _as_lists(value):
    if isinstance(value, dict):
        return {k: _as_lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not (len(value) == 2 and isinstance(value[0], str)):
        return [_as_lists(v) for v in value]
    if isinstance(value, (np.ndarray, np.floating, float)):
        return np.round(np.asarray(value, np.float64), 7).tolist()
    return value


if __name__ == "__main__":
    import pprint

    import tensorflow as tensorflow

    tf1 = tensorflow.compat.v1
    tf1.disable_v2_behavior()
    values = {"version": tensorflow.__version__}
    for name, program in PROGRAMS.items():
        values[name] = _as_lists(evaluate(tf1, tf1.nn, program))
    print("TF_VALUES = ", end="")
    pprint.pprint(values, width=100, compact=True)
