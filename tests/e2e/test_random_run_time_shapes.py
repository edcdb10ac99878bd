"""Random draws of shapes known only at run time: `tf.random_normal(tf.shape(mu))` (the VAE's
reparameterization), `tf.random_uniform([tf.shape(x)[0], 2])`, truncated normals, dropout's
noise_shape with a run-time dim, multinomial of a run-time batch.

The numbers are checked against the generator's numpy reference (``tgc/dialect/ops/random.py``):
element i of a draw depends on (seeds, run step, i) only, so a shape known late draws exactly what
the same shape known early does. A first run's step is 1."""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf
from tgc.dialect.ops import random as ref


def _run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


# ---- the VAE's reparameterization ---------------------------------------------------------------


def _vae(x, latent=2):
    hidden = tf.layers.dense(x, 16, activation=tf.nn.relu, name="enc")
    mu = tf.layers.dense(hidden, latent, name="mu")
    logvar = tf.layers.dense(hidden, latent, name="logvar")
    eps = tf.random_normal(tf.shape(mu), dtype=tf.float32, mean=0.0, stddev=1.0, seed=4)
    z = mu + tf.exp(0.5 * logvar) * eps
    decoded = tf.layers.dense(tf.layers.dense(z, 16, activation=tf.nn.relu), 6, name="dec")
    recon = tf.reduce_sum(tf.square(decoded - x), axis=1)
    kl = -0.5 * tf.reduce_sum(1.0 + logvar - tf.square(mu) - tf.exp(logvar), axis=1)
    return mu, logvar, eps, z, tf.reduce_mean(recon + kl)


def test_vae_with_a_none_batch_trains_and_draws_eps_of_each_fed_batch():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(32, 6)).astype(np.float32)
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 6])
        mu, _, eps, z, loss = _vae(x)
        assert eps.shape.as_list() == [None, 2] and z.shape.as_list() == [None, 2]
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            first = sess.run(loss, {x: data})
            for _ in range(60):
                sess.run(train, {x: data})
            last = np.mean([sess.run(loss, {x: data}) for _ in range(5)])
            for batch in (1, 5, 32):
                got_eps, got_z = sess.run([eps, z], {x: data[:batch]})
                assert got_eps.shape == got_z.shape == (batch, 2)
    assert np.isfinite(first) and last < 0.8 * first


def test_reparameterization_gradients_are_the_formulas_with_the_fetched_eps():
    """d sum(w z)/d mu = w and d/d logvar = w * 0.5 exp(0.5 logvar) eps, eps from the same run."""
    rng = np.random.default_rng(1)
    with tf.Graph().as_default():
        mu = tf.placeholder(tf.float64, [None, 3])
        logvar = tf.placeholder(tf.float64, [None, 3])
        w = tf.placeholder(tf.float64, [None, 3])
        eps = tf.random_normal(tf.shape(mu), dtype=tf.float64, seed=2)
        z = mu + tf.exp(0.5 * logvar) * eps
        d_mu, d_logvar = tf.gradients(tf.reduce_sum(w * z), [mu, logvar])
        m, lv, wv = (rng.normal(size=(4, 3)) for _ in range(3))
        got_eps, got_z, g_mu, g_lv = _run([eps, z, d_mu, d_logvar], {mu: m, logvar: lv, w: wv})
    np.testing.assert_allclose(got_z, m + np.exp(0.5 * lv) * got_eps, rtol=1e-12)
    np.testing.assert_allclose(g_mu, wv, rtol=1e-12)
    np.testing.assert_allclose(g_lv, wv * 0.5 * np.exp(0.5 * lv) * got_eps, rtol=1e-12)


# ---- the same numbers as a static shape ---------------------------------------------------------


def _first_run_draw(make, shape_known):
    with tf.Graph().as_default():
        tf.set_random_seed(3)
        x = tf.placeholder(tf.float32, [None, 5])
        draw = make([4, 5] if shape_known else tf.shape(x))
        return _run(draw, {x: np.zeros((4, 5), np.float32)})


@pytest.mark.parametrize(
    "make",
    [
        lambda s: tf.random_normal(s, seed=7),
        lambda s: tf.random_normal(s, mean=2.0, stddev=0.5, dtype=tf.float64, seed=7),
        lambda s: tf.random_uniform(s, minval=-1.0, maxval=2.0, seed=7),
        lambda s: tf.random_uniform(s, minval=-5, maxval=9, dtype=tf.int32, seed=7),
        lambda s: tf.truncated_normal(s, stddev=3.0, seed=7),
    ],
    ids=["normal", "normal-f64", "uniform", "uniform-int32", "truncated"],
)
def test_run_time_shape_draws_the_static_shapes_numbers(make):
    static = _first_run_draw(make, True)
    late = _first_run_draw(make, False)
    assert late.dtype == static.dtype and late.shape == static.shape == (4, 5)
    np.testing.assert_array_equal(late, static)


def test_run_time_shape_numbers_are_the_reference_generators():
    with tf.Graph().as_default():
        tf.set_random_seed(6)
        x = tf.placeholder(tf.float32, [None, 3])
        normal = tf.random_normal(tf.shape(x), seed=1)
        trunc = tf.truncated_normal([tf.shape(x)[0], 2], seed=2)
        got_normal, got_trunc = _run([normal, trunc], {x: np.zeros((7, 3), np.float32)})
    np.testing.assert_array_equal(got_normal, ref.normal_values((7, 3), "float32", 6, 1, 1))
    np.testing.assert_array_equal(got_trunc, ref.truncated_values((7, 2), "float32", 6, 2, 1))
    assert np.all(np.abs(got_trunc) < 2.0)


def test_a_fed_shape_vector_draws_the_static_shapes_numbers():
    with tf.Graph().as_default():
        tf.set_random_seed(2)
        dims = tf.placeholder(tf.int64, [2])
        draw = tf.random_uniform(dims, seed=9)
        assert draw.shape.as_list() == [None, None]
        got = _run(draw, {dims: [3, 4]})
    np.testing.assert_array_equal(got, ref.uniform_values((3, 4), "float32", 2, 9, 1))


def test_the_shape_of_a_known_tensor_draws_with_the_static_op():
    with tf.Graph().as_default():
        eps = tf.random_normal(tf.shape(tf.zeros([2, 3])), seed=1)
        assert eps.op.type == "RandomStandardNormal" and eps.op.opdef == "random_normal"
        assert eps.shape.as_list() == [2, 3]


def test_random_uniform_of_a_computed_first_dim_has_its_bounds_and_shape():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        u = tf.random_uniform([tf.shape(x)[0], 2], minval=-2.0, maxval=3.0)
        ints = tf.random_uniform([tf.shape(x)[0] * 2], minval=4, maxval=7, dtype=tf.int64)
        assert u.shape.as_list() == [None, 2] and ints.shape.as_list() == [None]
        with tf.Session() as sess:
            for rows in (0, 1, 500):
                got, got_ints = sess.run([u, ints], {x: np.zeros((rows, 3), np.float32)})
                assert got.shape == (rows, 2) and got_ints.shape == (2 * rows,)
                assert np.all((got >= -2.0) & (got < 3.0)) and got_ints.dtype == np.int64
                assert np.all((got_ints >= 4) & (got_ints < 7))
    assert got.std() > 1.0 and set(got_ints) == {4, 5, 6}


def test_a_negative_run_time_dim_fails_the_run_as_tfs_fill_does():
    with tf.Graph().as_default():
        n = tf.placeholder(tf.int32, [])
        u = tf.random_normal([n, 2])
        with tf.Session() as sess:
            assert sess.run(u, {n: 3}).shape == (3, 2)
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"Fill dims must be >= 0"):
                sess.run(u, {n: -2})


def test_a_shape_vector_of_unknown_length_is_refused_with_the_reason():
    with tf.Graph().as_default():
        dims = tf.placeholder(tf.int32, [None])
        with pytest.raises(ValueError, match=r"random_normal: shape 'Placeholder:0' must be a "):
            tf.random_normal(dims)


# ---- dropout, multinomial -----------------------------------------------------------------------


@pytest.mark.parametrize("noise", ["computed", "none-entry"])
def test_dropout_noise_shape_with_a_run_time_dim_keeps_or_drops_whole_rows(noise):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 6])
        noise_shape = [tf.shape(x)[0], 1] if noise == "computed" else [None, 1]
        y = tf.nn.dropout(x, 0.5, noise_shape=noise_shape, seed=3)
        grad = tf.gradients(tf.reduce_sum(y), x)[0]
        data = np.random.default_rng(2).uniform(1.0, 2.0, size=(200, 6)).astype(np.float32)
        got, got_grad = _run([y, grad], {x: data})
    kept = got[:, 0] != 0
    np.testing.assert_allclose(got[kept], 2.0 * data[kept], rtol=1e-6)
    assert np.all(got[~kept] == 0)
    np.testing.assert_array_equal(got_grad, np.where(kept[:, None], 2.0, 0.0) * np.ones((1, 6)))
    assert 60 < kept.sum() < 140


def test_multinomial_of_a_run_time_batch():
    with tf.Graph().as_default():
        logits = tf.placeholder(tf.float32, [None, 3])
        draws = tf.multinomial(logits, 4000, seed=1)
        probs = np.array([0.2, 0.5, 0.3], np.float32)
        for batch in (2, 3):
            got = _run(draws, {logits: np.tile(np.log(probs), (batch, 1))})
            assert got.shape == (batch, 4000)
            freq = np.bincount(got.reshape(-1), minlength=3) / got.size
            np.testing.assert_allclose(freq, probs, atol=0.02)


# ---- placement ----------------------------------------------------------------------------------


def test_gpu_soft_placement_keeps_a_run_time_shape_draw_on_the_cpu():
    """On the emulated GPU a draw of unknown dims is kept on the CPU (the GPU compiles static
    shapes only) under soft placement, and draws the CPU's numbers."""
    from tgc.dialect import targets

    with tf.Graph().as_default(), targets.selected("nvptx-emulated"):
        tf.set_random_seed(6)
        x = tf.placeholder(tf.float32, [None, 3])
        with tf.device("/gpu:0"):
            eps = tf.random_normal(tf.shape(x), seed=1, name="eps")
        config = tf.ConfigProto(allow_soft_placement=True, device_count={"GPU": 1})
        with tf.Session(config=config) as sess:
            got = sess.run(eps, {x: np.zeros((5, 3), np.float32)})
            placed = {
                name: device[-5:]
                for run in sess._cache.values()
                for name, _, device in run.placement or ()
            }
    assert placed["eps"] == "CPU:0"
    np.testing.assert_array_equal(got, ref.normal_values((5, 3), "float32", 6, 1, 1))


# ---- random_crop ---------------------------------------------------------------------------------


def _offsets_of(block, image):
    """The (row, column) at which ``block`` sits in ``image`` (each element is unique there)."""
    row, col = np.argwhere(image[:, :, 0] == block[0, 0, 0])[0]
    rows, cols = block.shape[:2]
    np.testing.assert_array_equal(block, image[row : row + rows, col : col + cols])
    return int(row), int(col)


@pytest.mark.parametrize("size_kind", ["list", "vector", "static-size"])
def test_random_crop_of_run_time_dims_or_size_is_a_block_at_every_offset(size_kind):
    image = np.arange(5 * 4 * 3, dtype=np.float32).reshape(5, 4, 3)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, None, 3])
        h = tf.placeholder(tf.int32, [])
        size = {
            "list": [h, 2, 3],
            "vector": tf.stack([h, 2, 3]),
            "static-size": [3, 2, 3],
        }[size_kind]
        crop = tf.random_crop(x, size, seed=1)
        want_known = {"list": [None, 2, 3], "vector": [None] * 3, "static-size": [3, 2, 3]}
        assert crop.shape.as_list() == want_known[size_kind]
        with tf.Session() as sess:
            offsets = {_offsets_of(sess.run(crop, {x: image, h: 3}), image) for _ in range(60)}
            assert sess.run(crop, {x: image[:3, :2], h: 3}).shape == (3, 2, 3)
            with pytest.raises(
                tf.errors.InvalidArgumentError,
                match=r"Need value.shape >= size, got \] \[2 4 3\] \[3 2 3\]",
            ):
                sess.run(crop, {x: image[:2], h: 3})
    assert offsets == {(r, c) for r in range(3) for c in range(3)}


def test_accel_soft_placement_draws_eps_on_the_cpu_beside_the_accelerators_ops():
    """The accelerator has no random ops: under /accel:0 with soft placement the run-time shape
    draw runs on the CPU with the CPU's numbers, the reparameterization around it as placed."""
    rng = np.random.default_rng(3)
    with tf.Graph().as_default():
        tf.set_random_seed(6)
        x = tf.placeholder(tf.float32, [None, 8])
        with tf.device("/accel:0"):
            w = tf.constant(rng.normal(size=(8, 4)).astype(np.float32))
            mu = tf.matmul(x, w, name="mu")
            eps = tf.random_normal(tf.shape(mu), seed=1, name="eps")
            z = tf.add(mu, tf.exp(0.5 * mu) * eps, name="z")
        config = tf.ConfigProto(allow_soft_placement=True, device_count={"ACCEL": 1})
        with tf.Session(config=config) as sess:
            data = rng.normal(size=(6, 8)).astype(np.float32)
            got_mu, got_eps, got_z = sess.run([mu, eps, z], {x: data})
            placed = {
                name: device.split("/")[-1]
                for run in sess._cache.values()
                for name, _, device in run.placement or ()
            }
    # (the rest goes where the placement's costs say: this small matmul stays on the CPU)
    assert placed["eps"] == "device:CPU:0" and "device:ACCEL:0" in placed.values(), placed
    np.testing.assert_array_equal(got_eps, ref.normal_values((6, 4), "float32", 6, 1, 1))
    np.testing.assert_allclose(got_z, got_mu + np.exp(0.5 * got_mu) * got_eps, rtol=1e-5)
