"""tgc.train optimizers end to end: graph -> MLIR -> JIT, checked against numpy
re-implementations of TensorFlow 1's update formulas (float64 references, written in the
textbook form of each rule)."""

import numpy as np
import pytest

import tgc as tf
from tgc.frontend import train
from threaded_runs import value_after_threaded_runs

W0 = (np.arange(6, dtype=np.float32).reshape(3, 2) - 2.0) / 10
B0 = np.array([0.1, -0.2], dtype=np.float32)
STEPS = 5


def _batches(seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.random((STEPS, 4, 3), dtype=np.float32)
    ys = rng.random((STEPS, 4, 2), dtype=np.float32) * 2
    return xs, ys


def _model():
    """Least squares: mean((x W + b - y)^2) with x and y fed, W and b variables."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 2], name="y")
    w = tf.Variable(W0, name="W")
    b = tf.Variable(B0, name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y))
    return x, y, w, b, loss


def _np_loss_and_grads(params, x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    r = x @ params["W"] + params["b"] - y
    d = 2 * r / r.size
    return np.mean(r**2), {"W": x.T @ d, "b": d.sum(axis=0)}


# ---- numpy references ----------------------------------------------------------------------------
# Hyperparameters go through f32() because TensorFlow makes them float32 tensors: 1 - 0.999 in
# float32 differs from the float64 value by 1.3e-5 relative, which shows in Adam's step.


def f32(value):
    return None if value is None else float(np.float32(value))


class RefSGD:
    def __init__(self, lr):
        self.lr, self.slots = f32(lr), {}

    def step(self, p, g, k, lr=None):
        return p - (self.lr if lr is None else f32(lr)) * g


class RefMomentum:
    def __init__(self, lr, momentum, nesterov=False):
        self.lr, self.mu, self.nesterov = f32(lr), f32(momentum), nesterov
        self.slots = {"momentum": {}}

    def step(self, p, g, k, lr=None):
        lr = self.lr if lr is None else f32(lr)
        a = self.mu * self.slots["momentum"].get(k, np.zeros_like(p)) + g
        self.slots["momentum"][k] = a
        return p - lr * (g + self.mu * a) if self.nesterov else p - lr * a


class RefAdam:
    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr, self.b1, self.b2, self.eps = f32(lr), f32(beta1), f32(beta2), f32(eps)
        self.slots = {"m": {}, "v": {}}
        # beta1^t and beta2^t are float32 variables in TF; 1 - beta2^t then
        # loses digits to cancellation
        self.powers = {}

    def step(self, p, g, k, lr=None):
        lr = self.lr if lr is None else f32(lr)
        b1p, b2p = self.powers.get(k, (np.float32(self.b1), np.float32(self.b2)))
        self.powers[k] = (b1p * np.float32(self.b1), b2p * np.float32(self.b2))
        m = self.b1 * self.slots["m"].get(k, 0.0) + (1 - self.b1) * g
        v = self.b2 * self.slots["v"].get(k, 0.0) + (1 - self.b2) * g * g
        self.slots["m"][k], self.slots["v"][k] = m, v
        lr_t = lr * np.sqrt(1 - float(b2p)) / (1 - float(b1p))
        return p - lr_t * m / (np.sqrt(v) + self.eps)


class RefAdagrad:
    def __init__(self, lr, init=0.1):
        self.lr, self.init = f32(lr), f32(init)
        self.slots = {"accumulator": {}}

    def step(self, p, g, k, lr=None):
        acc = self.slots["accumulator"].get(k, np.full_like(p, self.init)) + g * g
        self.slots["accumulator"][k] = acc
        return p - self.lr * g / np.sqrt(acc)


class RefAdadelta:
    def __init__(self, lr=0.001, rho=0.95, eps=1e-8):
        self.lr, self.rho, self.eps = f32(lr), f32(rho), f32(eps)
        self.slots = {"accum": {}, "accum_update": {}}

    def step(self, p, g, k, lr=None):
        acc = self.rho * self.slots["accum"].get(k, 0.0) + (1 - self.rho) * g * g
        acc_up = self.slots["accum_update"].get(k, np.zeros_like(p))
        update = np.sqrt(acc_up + self.eps) / np.sqrt(acc + self.eps) * g
        self.slots["accum"][k] = acc
        self.slots["accum_update"][k] = self.rho * acc_up + (1 - self.rho) * update * update
        return p - self.lr * update


class RefRMSProp:
    def __init__(self, lr, decay=0.9, momentum=0.0, eps=1e-10, centered=False):
        self.lr, self.rho, self.mu, self.eps, self.centered = (
            f32(lr),
            f32(decay),
            f32(momentum),
            f32(eps),
            centered,
        )
        self.slots = {"rms": {}, "momentum": {}} | ({"mg": {}} if centered else {})

    def step(self, p, g, k, lr=None):
        lr = self.lr if lr is None else f32(lr)
        ms = self.rho * self.slots["rms"].get(k, np.ones_like(p)) + (1 - self.rho) * g * g
        self.slots["rms"][k] = ms
        denom = ms
        if self.centered:
            mg = self.rho * self.slots["mg"].get(k, 0.0) + (1 - self.rho) * g
            self.slots["mg"][k] = mg
            denom = ms - mg * mg
        mom = self.mu * self.slots["momentum"].get(k, 0.0) + lr * g / np.sqrt(denom + self.eps)
        self.slots["momentum"][k] = mom
        return p - mom


def _reference_run(ref, xs, ys, lrs=None, clip=None):
    params = {"W": W0.astype(np.float64), "b": B0.astype(np.float64)}
    losses = []
    for i in range(STEPS):
        loss, grads = _np_loss_and_grads(params, xs[i], ys[i])
        losses.append(loss)
        for k in params:
            g = grads[k] if clip is None else np.clip(grads[k], -clip, clip)
            params[k] = ref.step(params[k], g, k, lr=None if lrs is None else lrs[i])
    return losses, params


CASES = {
    "sgd": (lambda: train.GradientDescentOptimizer(0.1), lambda: RefSGD(0.1)),
    "momentum": (lambda: train.MomentumOptimizer(0.05, 0.9), lambda: RefMomentum(0.05, 0.9)),
    "nesterov": (
        lambda: train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
        lambda: RefMomentum(0.05, 0.9, nesterov=True),
    ),
    "adam": (lambda: train.AdamOptimizer(0.05), lambda: RefAdam(0.05)),
    "adagrad": (lambda: train.AdagradOptimizer(0.1), lambda: RefAdagrad(0.1)),
    "adadelta": (lambda: train.AdadeltaOptimizer(1.0), lambda: RefAdadelta(1.0)),
    "rmsprop": (lambda: train.RMSPropOptimizer(0.01), lambda: RefRMSProp(0.01)),
    "rmsprop_centered": (
        lambda: train.RMSPropOptimizer(0.01, momentum=0.5, centered=True),
        lambda: RefRMSProp(0.01, momentum=0.5, centered=True),
    ),
}


def _assert_close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("case", sorted(CASES))
def test_minimize_five_steps_matches_numpy(case):
    make_opt, make_ref = CASES[case]
    x, y, w, b, loss = _model()
    global_step = train.get_or_create_global_step()
    opt = make_opt()
    step = opt.minimize(loss, global_step=global_step)
    xs, ys = _batches()
    got_losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(STEPS):
            got_losses.append(sess.run([loss, step], {x: xs[i], y: ys[i]})[0])
        got = sess.run({"W": w, "b": b, "step": global_step})
        slots = sess.run(
            {
                (n, k): opt.get_slot(v, n)
                for n in opt.get_slot_names()
                for k, v in (("W", w), ("b", b))
            }
        )
    ref = make_ref()
    want_losses, want = _reference_run(ref, xs, ys)
    _assert_close(got_losses, want_losses)  # each step's loss is computed before that step's update
    for k in ("W", "b"):
        _assert_close(got[k], want[k])
    assert np.abs(got["W"] - W0).max() > 1e-3  # the updates are far above the tolerance
    assert sorted(opt.get_slot_names()) == sorted(ref.slots)
    for (n, k), value in slots.items():
        _assert_close(value, ref.slots[n][k])
    assert got["step"] == STEPS and got["step"].dtype == np.int64


def test_adam_beta_power_accumulators():
    x, y, w, b, loss = _model()
    opt = train.AdamOptimizer(0.05, beta1=0.8, beta2=0.99)
    step = opt.minimize(loss)
    xs, ys = _batches(1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(STEPS):
            sess.run(step, {x: xs[i], y: ys[i]})
        beta1_power, beta2_power, got_w = sess.run(["beta1_power:0", "beta2_power:0", w])
    np.testing.assert_allclose(beta1_power, 0.8 ** (STEPS + 1), rtol=1e-6)
    np.testing.assert_allclose(beta2_power, 0.99 ** (STEPS + 1), rtol=1e-6)
    _assert_close(got_w, _reference_run(RefAdam(0.05, 0.8, 0.99), xs, ys)[1]["W"])


LR_CASES = {
    "sgd": (lambda lr: train.GradientDescentOptimizer(lr), lambda: RefSGD(None)),
    "momentum": (lambda lr: train.MomentumOptimizer(lr, 0.9), lambda: RefMomentum(None, 0.9)),
    "adam": (lambda lr: train.AdamOptimizer(lr), lambda: RefAdam(None)),
    "rmsprop": (
        lambda lr: train.RMSPropOptimizer(lr, momentum=0.3),
        lambda: RefRMSProp(None, momentum=0.3),
    ),
}


@pytest.mark.parametrize("case", sorted(LR_CASES))
def test_learning_rate_placeholder_fed_per_run(case):
    make_opt, make_ref = LR_CASES[case]
    x, y, w, b, loss = _model()
    lr = tf.placeholder(tf.float32, [], name="lr")
    step = make_opt(lr).minimize(loss)
    xs, ys = _batches(2)
    lrs = [0.1, 0.02, 0.3, 0.0, 0.05]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(STEPS):
            sess.run(step, {x: xs[i], y: ys[i], lr: lrs[i]})
        got_w, got_b = sess.run([w, b])
    _, want = _reference_run(make_ref(), xs, ys, lrs=lrs)
    _assert_close(got_w, want["W"])
    _assert_close(got_b, want["b"])


def test_apply_gradients_with_clipped_gradients():
    x, y, w, b, loss = _model()
    opt = train.MomentumOptimizer(0.1, 0.5)
    grads_and_vars = opt.compute_gradients(loss)
    assert [v for _, v in grads_and_vars] == [w, b]
    clipped = [(tf.minimum(tf.maximum(g, -0.05), 0.05), v) for g, v in grads_and_vars]
    global_step = train.create_global_step()
    step = opt.apply_gradients(clipped, global_step=global_step)
    xs, ys = _batches(3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        raw = sess.run([g for g, _ in grads_and_vars], {x: xs[0], y: ys[0]})
        for i in range(STEPS):
            sess.run(step, {x: xs[i], y: ys[i]})
        got_w, got_b, got_step = sess.run([w, b, global_step])
    assert max(np.abs(r).max() for r in raw) > 0.05  # the clip is active
    _, want = _reference_run(RefMomentum(0.1, 0.5), xs, ys, clip=0.05)
    _assert_close(got_w, want["W"])
    _assert_close(got_b, want["b"])
    assert got_step == STEPS


def test_var_list_limits_the_update_and_unused_variables_get_none():
    x, y, w, b, loss = _model()
    unused = tf.Variable(np.ones(3, np.float32), name="unused")
    opt = train.GradientDescentOptimizer(0.1)
    grads_and_vars = opt.compute_gradients(loss, var_list=[b, unused])
    assert grads_and_vars[1] == (None, unused)
    step = opt.apply_gradients(grads_and_vars)
    xs, ys = _batches(4)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step, {x: xs[0], y: ys[0]})
        got_w, got_b, got_unused = sess.run([w, b, unused])
    _, grads = _np_loss_and_grads(
        {"W": W0.astype(np.float64), "b": B0.astype(np.float64)}, xs[0], ys[0]
    )
    np.testing.assert_array_equal(got_w, W0)
    np.testing.assert_array_equal(got_unused, np.ones(3, np.float32))
    _assert_close(got_b, B0 - 0.1 * grads["b"])


def test_no_gradients_is_an_error():
    x, y, w, b, loss = _model()
    unused = tf.Variable(np.ones(3, np.float32), name="unused")
    opt = train.AdamOptimizer()
    with pytest.raises(
        ValueError, match="No gradients provided for any variable, check your graph"
    ):
        opt.minimize(loss, var_list=[unused])
    with pytest.raises(
        ValueError, match=r"No gradients provided for any variable: \[\"<tgc.Variable 'unused:0'"
    ):
        opt.apply_gradients([(None, unused)])
    with pytest.raises(ValueError, match="No variables to optimize"):
        opt.compute_gradients(loss, var_list=[])
    with pytest.raises(ValueError, match="Invalid type tf.int32 for"):
        opt.minimize(tf.constant(3), var_list=[w])
    with pytest.raises(
        ValueError, match=r"gradient .* has shape \(3,\) but variable b has shape \(2,\)"
    ):
        opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0]), b)])


def test_slot_names_and_collections():
    x, y, w, b, loss = _model()
    adam, momentum = train.AdamOptimizer(), train.MomentumOptimizer(0.1, 0.9)
    rms, adadelta = train.RMSPropOptimizer(0.1, centered=True), train.AdadeltaOptimizer()
    adagrad, sgd = (
        train.AdagradOptimizer(0.1, initial_accumulator_value=0.25),
        train.GradientDescentOptimizer(0.1),
    )
    for opt in (adam, momentum, rms, adadelta, adagrad, sgd):
        opt.minimize(loss)
    assert adam.get_slot_names() == ["m", "v"]
    assert (adam.get_slot(w, "m").name, adam.get_slot(w, "v").name) == ("W/Adam:0", "W/Adam_1:0")
    assert adam.get_slot(b, "v").name == "b/Adam_1:0"
    assert momentum.get_slot(w, "momentum").name == "W/Momentum:0"
    assert [rms.get_slot(w, n).name for n in ("rms", "mg", "momentum")] == [
        "W/RMSProp:0",
        "W/RMSProp_1:0",
        "W/RMSProp_2:0",
    ]
    assert [adadelta.get_slot(w, n).name for n in ("accum", "accum_update")] == [
        "W/Adadelta:0",
        "W/Adadelta_1:0",
    ]
    assert adagrad.get_slot(b, "accumulator").name == "b/Adagrad:0"
    assert sgd.get_slot_names() == [] and adam.get_slot(w, "nope") is None
    assert [v.name for v in adam.variables()] == [
        "W/Adam:0",
        "W/Adam_1:0",
        "b/Adam:0",
        "b/Adam_1:0",
        "beta1_power:0",
        "beta2_power:0",
    ]
    assert [v.name for v in tf.trainable_variables()] == ["W:0", "b:0"]
    assert all(v in tf.global_variables() for v in adam.variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run(
            [rms.get_slot(w, "rms"), rms.get_slot(w, "mg"), adagrad.get_slot(b, "accumulator")]
        )
    np.testing.assert_array_equal(got[0], np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(got[1], np.zeros((3, 2), np.float32))
    np.testing.assert_array_equal(got[2], np.full(2, 0.25, np.float32))


def test_train_op_names_and_collection():
    x, y, w, b, loss = _model()
    first = train.GradientDescentOptimizer(0.1).minimize(loss)
    second = train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    third = train.AdamOptimizer().minimize(loss, global_step=train.get_or_create_global_step())
    assert (first.name, second.name, third.name) == ("GradientDescent", "train", "Adam")
    assert isinstance(third, tf.Operation)
    assert tf.get_default_graph().get_collection(train.TRAIN_OP) == [first, second, third]


def test_global_step_helpers():
    assert train.get_global_step() is None
    step = train.create_global_step()
    assert step.name == "global_step:0" and step.dtype == tf.int64 and step.shape == ()
    assert train.get_global_step() is step and train.get_or_create_global_step() is step
    assert step not in tf.trainable_variables() and step in tf.global_variables()
    with pytest.raises(ValueError, match='"global_step" already exists.'):
        train.create_global_step()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(step) == 0


def test_global_step_must_be_an_integer_scalar():
    tf.Variable(1.5, name="global_step")
    with pytest.raises(
        TypeError, match='Existing "global_step" does not have integer type: .*float32'
    ):
        train.get_global_step()


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_drives_the_learning_rate(staircase):
    x, y, w, b, loss = _model()
    global_step = train.get_or_create_global_step()
    lr = train.exponential_decay(
        0.2, global_step, decay_steps=2, decay_rate=0.5, staircase=staircase
    )
    step = train.GradientDescentOptimizer(lr).minimize(loss, global_step=global_step)
    xs, ys = _batches(5)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        seen = []
        for i in range(STEPS):
            seen.append(sess.run(lr))
            sess.run(step, {x: xs[i], y: ys[i]})
        got_w = sess.run(w)
    exponents = [np.floor(i / 2) if staircase else i / 2 for i in range(STEPS)]
    want_lrs = [0.2 * 0.5**e for e in exponents]
    np.testing.assert_allclose(seen, want_lrs, rtol=1e-6)
    _assert_close(got_w, _reference_run(RefSGD(None), xs, ys, lrs=want_lrs)[1]["W"])


def test_exponential_decay_needs_a_global_step():
    with pytest.raises(ValueError, match="global_step is required for exponential_decay"):
        train.exponential_decay(0.1, None, 10, 0.9)


# ---- use_locking: an optimizer built with it serializes its updates against other locked runs ----

_LOCKING_OPTIMIZERS = [
    lambda: tf.train.GradientDescentOptimizer(0.1, use_locking=True),
    lambda: tf.train.MomentumOptimizer(0.1, 0.9, use_locking=True),
    lambda: tf.train.AdamOptimizer(0.1, use_locking=True),
    lambda: tf.train.AdagradOptimizer(0.1, use_locking=True),
    lambda: tf.train.AdadeltaOptimizer(0.1, use_locking=True),
    lambda: tf.train.RMSPropOptimizer(0.1, momentum=0.5, use_locking=True),
]


def _assignments(graph):
    return [
        op for op in graph.get_operations() if op.opdef in ("assign", "assign_add", "assign_sub")
    ]


@pytest.mark.parametrize("make_optimizer", _LOCKING_OPTIMIZERS)
def test_use_locking_marks_every_update_of_the_step(make_optimizer):
    graph = tf.Graph()
    with graph.as_default():
        w = tf.Variable([1.0, 2.0])
        step = tf.train.get_or_create_global_step()
        make_optimizer().minimize(tf.reduce_sum(w * w), global_step=step)
        initializers = {v.initializer for v in tf.global_variables()}  # slots' too: not the step's
        updates = [op for op in _assignments(graph) if op not in initializers]
        assert len(updates) >= 2 and all(op.use_locking for op in updates)
        assert not any(op.use_locking for op in initializers)


def test_optimizer_without_use_locking_leaves_updates_unlocked():
    graph = tf.Graph()
    with graph.as_default():
        w = tf.Variable([1.0, 2.0])
        tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(w * w))
        assert not any(op.use_locking for op in _assignments(graph))


def test_locked_sgd_steps_from_threads_lose_nothing():
    v = tf.Variable(0.0)
    step = tf.train.GradientDescentOptimizer(1.0, use_locking=True).minimize(-v)  # each step adds 1
    assert value_after_threaded_runs(v, step, threads=8, runs=200) == 8 * 200 + 1
