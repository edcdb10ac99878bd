"""@tgc.jit, tgc.grad and tgc.value_and_grad, as JAX users expect them."""

import numpy as np
import pytest

import tgc


def test_jit_matches_numpy_and_compiles_once_per_signature():
    @tgc.jit
    def f(x, w):
        return tgc.tanh(x @ w), tgc.reduce_sum(x)

    rng = np.random.default_rng(0)
    x, w = rng.random((3, 4), dtype=np.float32), rng.random((4, 2), dtype=np.float32)
    a, b = f(x, w)
    np.testing.assert_allclose(a, np.tanh(x @ w), rtol=1e-5)
    np.testing.assert_allclose(b, x.sum(), rtol=1e-5)
    f(x + 1, w)
    assert f.compile_count == 1
    f(np.ones((5, 4), np.float32), w)
    assert f.compile_count == 2


def test_grad_with_respect_to_several_arguments():
    rng = np.random.default_rng(1)
    x, w = rng.random((3, 4)), rng.random((4, 2))
    gx, gw = tgc.grad(lambda x, w: tgc.reduce_sum(tgc.tanh(x @ w)), argnums=(0, 1))(x, w)
    d = 1 - np.tanh(x @ w) ** 2
    np.testing.assert_allclose(gx, d @ w.T, rtol=1e-10)
    np.testing.assert_allclose(gw, x.T @ d, rtol=1e-10)


def test_value_and_grad_and_has_aux():
    x = np.array([1.0, 2.0, 3.0])
    (value, aux), g = tgc.value_and_grad(lambda x: (tgc.reduce_sum(x * x), x * 2.0), has_aux=True)(
        x
    )
    assert value == 14.0
    np.testing.assert_allclose(aux, 2 * x)
    np.testing.assert_allclose(g, 2 * x)


def test_grad_of_unconnected_argument_is_zero():
    g = tgc.grad(lambda x, y: tgc.reduce_sum(x), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_allclose(g, np.zeros(3))


def test_grad_rejects_non_scalar_output():
    with pytest.raises(TypeError, match="scalar output"):
        tgc.grad(lambda x: x * 2.0)(np.ones(3))


def test_static_argnums_enter_the_cache_key():
    @tgc.jit(static_argnums=1)
    def scale(x, k):
        return x * float(k)

    np.testing.assert_allclose(scale(np.ones(2, np.float32), 3), [3.0, 3.0])
    np.testing.assert_allclose(scale(np.ones(2, np.float32), 4), [4.0, 4.0])
    assert scale.compile_count == 2


def test_second_order_gradients_through_tf_gradients():
    x = tgc.placeholder(tgc.float64, [3], name="x")
    y = tgc.reduce_sum(x * x * x)
    (dx,) = tgc.gradients(y, [x])
    (ddx,) = tgc.gradients(dx, [x])
    a = np.array([1.0, -2.0, 0.5])
    first, second = tgc.Session().run([dx, ddx], {x: a})
    np.testing.assert_allclose(first, 3 * a**2)
    np.testing.assert_allclose(second, 6 * a)
