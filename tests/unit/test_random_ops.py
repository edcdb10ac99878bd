"""Random ops, dropout and initializers: compiled numbers equal the numpy reference bit for bit.

The reference is ``tgc/dialect/ops/random.py`` (each op's ``eval``); a fresh Session feeds the
hidden step counter 1 on its first run that draws random numbers, 2 on the next, and so on.
"""

import numpy as np
import pytest

import tgc as tf
from tgc.dialect.ops import random as ref
from tgc.dialect.registry import REGISTRY
from tgc.frontend import initializers as init
from tgc.frontend import random_ops as rnd


def _reference(tensor, step, *operands):
    """The registry's numpy evaluation of a random op with this run's step."""
    op = tensor.op
    return REGISTRY[op.opdef].eval(*operands, np.asarray(step, np.int64), **op.attrs)


def _run(fetches, feeds=None):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


# ---- bit-exact agreement with the reference ------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "bfloat16"])
@pytest.mark.parametrize("draw", [rnd.random_uniform, rnd.random_normal, rnd.truncated_normal])
def test_compiled_values_equal_reference(draw, dtype):
    tf.set_random_seed(5)
    t = draw([37, 11], dtype=dtype, seed=3)
    assert (t.op.attrs["seed"], t.op.attrs["seed2"]) == (5, 3)
    got = _run(t)
    want = REGISTRY[t.op.opdef].eval(np.int64(1), **t.op.attrs)
    assert got.dtype == want.dtype and got.shape == (37, 11)
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def test_uniform_bounds_and_moments_parameters():
    tf.set_random_seed(1)
    u = rnd.random_uniform([4, 6], minval=-2.0, maxval=3.0, seed=2)
    n = rnd.random_normal([4, 6], mean=10.0, stddev=0.5, seed=3)
    got_u, got_n = _run([u, n])
    np.testing.assert_array_equal(got_u, ref.uniform_values((4, 6), "float32", 1, 2, 1, -2.0, 3.0))
    np.testing.assert_array_equal(got_n, ref.normal_values((4, 6), "float32", 1, 3, 1, 10.0, 0.5))
    assert got_u.min() >= -2.0 and got_u.max() < 3.0


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_uniform_equals_reference_and_covers_range(dtype):
    tf.set_random_seed(2)
    t = rnd.random_uniform([5000], minval=-4, maxval=7, dtype=dtype, seed=1)
    got = _run(t)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, ref.uniform_values((5000,), dtype, 2, 1, 1, -4, 7))
    counts = np.bincount(got + 4, minlength=11)
    assert len(counts) == 11 and counts.min() > 5000 / 11 * 0.8


def test_scalar_shape():
    tf.set_random_seed(2)
    t = rnd.random_normal([], seed=9)
    got = _run(t)
    assert got.shape == ()
    np.testing.assert_array_equal(got, ref.normal_values((), "float32", 2, 9, 1))


# ---- runs, seeds, reproducibility ----------------------------------------------------------------


def test_each_run_draws_new_numbers_from_the_step_counter():
    tf.set_random_seed(4)
    t = rnd.random_uniform([100], seed=1)
    with tf.Session() as sess:
        first, second = sess.run(t), sess.run(t)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, ref.uniform_values((100,), "float32", 4, 1, 1))
    np.testing.assert_array_equal(second, ref.uniform_values((100,), "float32", 4, 1, 2))


def test_same_graph_seed_and_op_seed_reproduce_in_a_fresh_graph():
    def draw(op_seed):
        with tf.Graph().as_default() as g:
            tf.set_random_seed(123)
            t = rnd.truncated_normal([50], seed=op_seed)
            with tf.Session(graph=g) as sess:
                return sess.run(t), sess.run(t)

    a1, a2 = draw(7)
    b1, b2 = draw(7)
    c1, _ = draw(8)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, c1)


def test_ops_without_op_seed_differ_within_a_graph_but_replay_across_graphs():
    def draw():
        with tf.Graph().as_default() as g:
            tf.set_random_seed(9)
            x, y = rnd.random_uniform([20]), rnd.random_uniform([20])
            with tf.Session(graph=g) as sess:
                return sess.run([x, y])

    (x1, y1), (x2, y2) = draw(), draw()
    assert not np.array_equal(x1, y1)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)


# ---- statistics ----------------------------------------------------------------------------------


def test_statistics_of_100k_samples():
    tf.set_random_seed(11)
    u = rnd.random_uniform([100_000], seed=1)
    n = rnd.random_normal([100_000], mean=1.0, stddev=2.0, seed=2)
    t = rnd.truncated_normal([100_000], mean=-1.0, stddev=3.0, seed=3)
    got_u, got_n, got_t = _run([u, n, t])
    assert abs(got_u.mean() - 0.5) < 0.005 and abs(got_u.std() - np.sqrt(1 / 12)) < 0.003
    assert got_u.min() >= 0.0 and got_u.max() < 1.0
    assert abs(got_n.mean() - 1.0) < 0.03 and abs(got_n.std() - 2.0) < 0.02
    assert abs(got_t.mean() + 1.0) < 0.03
    assert (
        abs(got_t.std() - 3.0 * 0.87962566) < 0.03
    )  # a standard normal cut at +-2 has stddev 0.8796
    assert got_t.min() >= -1.0 - 6.0 and got_t.max() <= -1.0 + 6.0
    assert np.mean(np.abs(got_t + 1.0) > 5.0) > 0.01  # the tails near the cut are populated


def test_truncated_reference_redraws_outliers_in_candidate_order():
    bits = ref.random_bits(1, 2, 3, 20_000, streams=2 * ref.TRUNCATED_CANDIDATES)
    first = ref.box_muller(bits[0], bits[1])
    second = ref.box_muller(bits[2], bits[3])
    got = ref.truncated_values((20_000,), "float64", 1, 2, 3)
    inside = np.abs(first) < 2.0
    np.testing.assert_array_equal(got[inside], first[inside])
    redrawn = ~inside & (np.abs(second) < 2.0)
    assert redrawn.sum() > 500
    np.testing.assert_array_equal(got[redrawn], second[redrawn])


# ---- dropout -------------------------------------------------------------------------------------


def _dropout_graph(keep_prob=0.7):
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    w = tf.placeholder(tf.float32, [None, 64], name="w")
    y = rnd.dropout(x, keep_prob, seed=5)
    (gx,) = tf.gradients(tf.reduce_sum(y * w), [x])
    return x, w, y, gx


def test_dropout_keeps_keep_prob_scales_and_matches_reference():
    tf.set_random_seed(1)
    x, w, y, gx = _dropout_graph(0.7)
    a = np.random.default_rng(0).uniform(1.0, 2.0, (500, 64)).astype(np.float32)
    wa = np.random.default_rng(1).standard_normal((500, 64)).astype(np.float32)
    out, grad = _run([y, gx], {x: a, w: wa})
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_array_equal(out[kept], a[kept] / np.float32(0.7))
    np.testing.assert_array_equal(out, _reference(y, 1, a, np.float32(0.7)))
    # the gradient redraws the same mask: d/dx sum(y * w) = w * mask / keep_prob
    np.testing.assert_allclose(grad, wa * kept / np.float32(0.7), rtol=1e-6)


def test_dropout_gradient_matches_finite_differences_of_reference():
    tf.set_random_seed(2)
    x = tf.placeholder(tf.float32, [3, 5])
    y = rnd.dropout(x, 0.5, seed=1)
    wv = np.arange(15, dtype=np.float32).reshape(3, 5) / 7
    (gx,) = tf.gradients(tf.reduce_sum(y * wv), [x])
    a = np.random.default_rng(3).standard_normal((3, 5))
    got = _run(gx, {x: a})

    def f(v):
        return np.sum(REGISTRY["dropout"].eval(v, np.float64(0.5), np.int64(1), **y.op.attrs) * wv)

    fd = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[i] = 1e-4
        fd[i] = (f(a + e) - f(a - e)) / 2e-4
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)


def test_dropout_serves_every_batch_size_and_redraws_each_run():
    tf.set_random_seed(3)
    x = tf.placeholder(tf.float32, [None, 8])
    y = rnd.dropout(x, rate=0.25, seed=2)
    with tf.Session() as sess:
        small = sess.run(y, {x: np.ones((3, 8), np.float32)})
        big = sess.run(y, {x: np.ones((9, 8), np.float32)})
        again = sess.run(y, {x: np.ones((9, 8), np.float32)})
        assert sess.compile_count == 1
    np.testing.assert_array_equal(
        small, _reference(y, 1, np.ones((3, 8), np.float32), np.float32(0.75))
    )
    np.testing.assert_array_equal(
        big, _reference(y, 2, np.ones((9, 8), np.float32), np.float32(0.75))
    )
    assert not np.array_equal(big, again)


def test_dropout_keep_prob_computed_at_run_time():
    tf.set_random_seed(4)
    x = tf.placeholder(tf.float32, [200, 50])
    kp_in = tf.placeholder(tf.float32, [1])
    y = rnd.dropout(x, tf.reduce_sum(kp_in), seed=3)
    a = np.ones((200, 50), np.float32)
    with tf.Session() as sess:
        low = sess.run(y, {x: a, kp_in: [0.2]})
        high = sess.run(y, {x: a, kp_in: [0.9]})
    assert abs((low != 0).mean() - 0.2) < 0.02 and abs((high != 0).mean() - 0.9) < 0.02
    np.testing.assert_array_equal(low, _reference(y, 1, a, np.float32(0.2)))
    np.testing.assert_allclose(high[high != 0], 1 / np.float32(0.9), rtol=1e-6)


def test_dropout_noise_shape_broadcasts_one_decision_per_row():
    tf.set_random_seed(5)
    x = tf.placeholder(tf.float32, [40, 16])
    y = rnd.dropout(x, 0.5, noise_shape=[40, 1], seed=4)
    out = _run(y, {x: np.ones((40, 16), np.float32)})
    rows_kept = out[:, 0] != 0
    assert 0 < rows_kept.sum() < 40
    np.testing.assert_array_equal(
        out, np.where(rows_kept[:, None], np.ones((40, 16), np.float32) * 2, 0)
    )


def test_dropout_keep_prob_one_is_identity_and_errors_are_clear():
    x = tf.placeholder(tf.float32, [None, 4])
    assert rnd.dropout(x, 1.0) is x
    with pytest.raises(ValueError, match=r"range \(0, 1\], got 1.5"):
        rnd.dropout(x, 1.5)
    with pytest.raises(ValueError, match="exactly one of keep_prob and rate"):
        rnd.dropout(x, 0.5, rate=0.5)
    with pytest.raises(ValueError, match="floating point tensor"):
        rnd.dropout(tf.placeholder(tf.int32, [3]), 0.5)
    with pytest.raises(ValueError, match="does not broadcast"):
        rnd.dropout(tf.placeholder(tf.float32, [4, 3]), 0.5, noise_shape=[4, 2])


# ---- errors --------------------------------------------------------------------------------------


def test_random_op_errors_name_the_problem():
    with pytest.raises(ValueError, match="Must specify maxval for integer dtype int32"):
        rnd.random_uniform([3], dtype=tf.int32)
    with pytest.raises(ValueError, match="minval < maxval"):
        rnd.random_uniform([3], minval=5, maxval=5, dtype=tf.int64)
    with pytest.raises(
        ValueError, match="random_normal needs a floating-point dtype but got int32"
    ):
        rnd.random_normal([3], dtype=tf.int32)
    p = tf.placeholder(tf.int32, [2])
    assert rnd.random_uniform(p).shape.as_list() == [None, None]  # a shape fed at run time
    with pytest.raises(ValueError, match="shape 'Placeholder_1:0' must be a vector of known len"):
        rnd.random_uniform(tf.placeholder(tf.int32, [None]))
    with pytest.raises(ValueError, match="non-negative dims"):
        rnd.random_uniform([2, -1])


def test_tensor_bounds_and_constant_shape():
    tf.set_random_seed(6)
    lo = tf.placeholder(tf.float32, [])
    u = rnd.random_uniform(tf.constant([2, 3]), minval=lo, maxval=4.0, seed=1)
    unit = u.op.inputs[0].op.inputs[0]  # (unit * (max - min)) + min
    assert unit.op.opdef == "random_uniform" and unit.shape.as_list() == [2, 3]


# ---- initializers --------------------------------------------------------------------------------


def _initial_value(initializer, shape, dtype=tf.float32):
    v = tf.get_variable("v", shape, dtype=dtype, initializer=initializer)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(v)


def test_constant_zeros_ones_initializers():
    np.testing.assert_array_equal(
        _initial_value(init.constant_initializer([1, 2, 3, 4, 5, 6]), [2, 3]),
        np.arange(1, 7, dtype=np.float32).reshape(2, 3),
    )
    tf.reset_default_graph()
    np.testing.assert_array_equal(
        _initial_value(init.constant_initializer(2.5), [3]), [2.5, 2.5, 2.5]
    )
    tf.reset_default_graph()
    np.testing.assert_array_equal(
        _initial_value(init.zeros_initializer(), [2, 2], tf.int32), np.zeros((2, 2), np.int32)
    )
    tf.reset_default_graph()
    np.testing.assert_array_equal(
        _initial_value(init.ones_initializer(), [4]), np.ones(4, np.float32)
    )
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="has 3 values but the shape"):
        tf.get_variable("w", [2, 2], initializer=init.constant_initializer([1, 2, 3]))


@pytest.mark.parametrize(
    "make, reference",
    [
        (
            lambda: init.random_normal_initializer(0.5, 2.0, seed=3),
            lambda shape: ref.normal_values(shape, "float32", 8, 3, 1, 0.5, 2.0),
        ),
        (
            lambda: init.random_uniform_initializer(-3.0, 1.0, seed=3),
            lambda shape: ref.uniform_values(shape, "float32", 8, 3, 1, -3.0, 1.0),
        ),
        (
            lambda: init.truncated_normal_initializer(1.0, 0.1, seed=3),
            lambda shape: ref.truncated_values(shape, "float32", 8, 3, 1, 1.0, 0.1),
        ),
        (
            lambda: init.glorot_uniform_initializer(seed=3),  # limit sqrt(3 * 1 / ((20 + 30) / 2))
            lambda shape: ref.uniform_values(
                shape, "float32", 8, 3, 1, -np.sqrt(3 * (1 / 25)), np.sqrt(3 * (1 / 25))
            ),
        ),
        (
            lambda: init.glorot_normal_initializer(seed=3),
            lambda shape: ref.truncated_values(
                shape, "float32", 8, 3, 1, 0.0, np.sqrt(1 / 25) / 0.87962566103423978
            ),
        ),
        (
            lambda: init.variance_scaling_initializer(2.0, "fan_in", "untruncated_normal", seed=3),
            lambda shape: ref.normal_values(shape, "float32", 8, 3, 1, 0.0, np.sqrt(2.0 / 20)),
        ),
        (
            lambda: init.variance_scaling_initializer(3.0, "fan_out", "uniform", seed=3),
            lambda shape: ref.uniform_values(
                shape, "float32", 8, 3, 1, -np.sqrt(3 * (3.0 / 30)), np.sqrt(3 * (3.0 / 30))
            ),
        ),
        (
            lambda: init.variance_scaling_initializer(seed=3),
            lambda shape: ref.truncated_values(
                shape, "float32", 8, 3, 1, 0.0, np.sqrt(1.0 / 20) / 0.87962566103423978
            ),
        ),
    ],
)
def test_random_initializers_through_get_variable(make, reference):
    tf.set_random_seed(8)
    got = _initial_value(make(), [20, 30])
    np.testing.assert_array_equal(got, reference((20, 30)))


def test_get_variable_default_initializer_is_glorot_uniform():
    tf.set_random_seed(8)
    got = _initial_value(None, [10, 40])
    limit = np.sqrt(3 * (1 / 25))  # glorot: sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 50)
    assert np.abs(got).max() <= limit and got.std() > limit / 2 / np.sqrt(3)
    np.testing.assert_array_equal(
        got, ref.uniform_values((10, 40), "float32", 8, 0, 1, -limit, limit)
    )


def test_variance_scaling_fans_for_conv_kernels_and_errors():
    assert init.compute_fans([3, 3, 16, 32]) == (144, 288)
    assert init.compute_fans([7]) == (7, 7) and init.compute_fans([]) == (1, 1)
    assert init.variance_scaling_initializer(2.0, "fan_avg").variance(
        [3, 3, 16, 32]
    ) == pytest.approx(2.0 / 216)
    with pytest.raises(ValueError, match="invalid `mode`"):
        init.variance_scaling_initializer(mode="fan_sideways")
    with pytest.raises(ValueError, match="positive float"):
        init.variance_scaling_initializer(scale=0.0)


def test_initializer_dtype_from_call_or_constructor():
    t = init.random_uniform_initializer(seed=1, dtype=tf.float64)([2])
    assert t.dtype == tf.float64
    t = init.truncated_normal_initializer(seed=1)([2], dtype=tf.float16)
    assert t.dtype == tf.float16


# ---- the registry samples, through the one-op harness (which skips stateful ops by default) ------

RANDOM_OPS = [
    "random_uniform",
    "random_normal",
    "truncated_normal",
    "random_uniform_like",
    "random_uniform_sized",
    "random_normal_sized",
    "truncated_normal_sized",
    "dropout",
]
SAMPLE_CASES = [(name, i) for name in RANDOM_OPS for i in range(len(REGISTRY[name].samples))]


@pytest.mark.parametrize("case", SAMPLE_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_samples_compiled_equal_reference_with_known_and_unknown_dims(case):
    import registry_harness as h

    name, index = case
    opdef = REGISTRY[name]
    sample = opdef.samples[index]
    arrays = h.draw_operands(sample, h.rng_for(name, index))
    attrs = h.sample_attrs(opdef, sample)
    (want,) = opdef.evaluate([a.copy() for a in arrays], attrs)
    for dynamic in {(), tuple(sample.dynamic)}:
        (got,), _ = h.run_compiled(opdef, attrs, arrays, dynamic=dynamic)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_dropout_sample_gradient_matches_finite_differences():
    import registry_harness as h

    opdef = REGISTRY["dropout"]
    sample = opdef.samples[0]
    arrays = h.draw_operands(sample, h.rng_for("dropout", 0), float64=True)
    attrs = h.sample_attrs(opdef, sample, float64=True)
    weights = h.gradient_weights(opdef, attrs, arrays, np.random.default_rng(0))
    (got,) = h.compiled_gradients(opdef, attrs, arrays, weights, [0])
    want = h.finite_difference(opdef, attrs, arrays, weights, 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


# ---- the core IR ---------------------------------------------------------------------------------


def _core_ir(opname, arg_specs, **attrs) -> str:
    import registry_harness as h

    return h.lowered_ir(
        arg_specs,
        lambda b, args: [b.op(opname, *args, **attrs)],
        h.GRAPH_TO_CORE,
    )


def _check_in_order(text, patterns):
    """FileCheck-style CHECK lines: each pattern found after the previous one."""
    pos = 0
    for pattern in patterns:
        found = text.find(pattern, pos)
        assert found >= 0, f"CHECK '{pattern}' not found after offset {pos} in:\n{text}"
        pos = found + len(pattern)


def test_core_ir_reads_unknown_dims_and_hashes_the_linear_index():
    from tgc.dialect.types import TensorSpec

    text = _core_ir(
        "random_uniform_like",
        [TensorSpec((None, 5), "float32"), TensorSpec((), "int64")],
        seed=1,
        seed2=2,
    )
    _check_in_order(
        text,
        [
            "tensor.dim",
            "tensor.empty(%",
            "linalg.generic",
            "arith.muli",
            "linalg.index 0",
            "linalg.index 1",
            "arith.index_cast",
            "arith.shrui",
            "arith.uitofp",
            "linalg.yield",
        ],
    )
    assert '"tgc.' not in text  # no tgc op is left (generic form "tgc.name"(...))


def test_core_ir_of_truncated_normal_redraws_in_a_while_loop():
    from tgc.dialect.types import TensorSpec

    text = _core_ir("truncated_normal", [TensorSpec((), "int64")], shape=[4], seed=1, seed2=2)
    _check_in_order(
        text,
        [
            "linalg.generic",
            "scf.while",
            "math.log",
            "math.cos",
            "math.absf",
            "scf.condition",
            "scf.yield",
            "arith.select",
            "arith.truncf",
            "linalg.yield",
        ],
    )
