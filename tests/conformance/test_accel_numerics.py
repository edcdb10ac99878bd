"""The accelerator's tolerances (accel_numerics.py): derived from its bf16 matrix unit and carried
through the graph, tight enough that a wrong number fails and a CPU tolerance would not do."""

import numpy as np
import pytest

from conformance import accel_numerics, checks, reference
from conformance.accel_numerics import error_bounds
from conformance.checks import run_checks, target_named
from conformance.generator import Node
from conformance.test_random_graphs import hand_graph
from tgc.dialect.registry import REGISTRY

PLAIN = {"transpose_a": False, "transpose_b": False}
BF16_PRODUCT = 2.0**-7 + 2.0**-16  # two operands each rounded to bf16: relative error of a product


def _bounds(spec, accel_nodes):
    return error_bounds(spec, reference.evaluate(spec, "float64"), accel_nodes)


def test_a_matmuls_bound_is_its_bf16_products_summed_in_float32():
    spec = hand_graph([Node("matmul", (0, 1), PLAIN, 1)], shape=(3, 3), kinds=("placeholder",) * 2)
    a, b = spec.arrays
    bounds = _bounds(spec, {0})
    want = (BF16_PRODUCT + 3 * 2.0**-23) * (np.abs(a) @ np.abs(b))
    np.testing.assert_allclose(bounds.forward[2], want, rtol=1e-12)
    assert not _bounds(spec, set()).forward[2].any()  # on the CPU: no bf16 at all


def test_transposed_operands_sum_over_their_own_k():
    spec = hand_graph(
        [Node("matmul", (0, 1), {"transpose_a": True, "transpose_b": False}, 1)],
        shape=(2, 3),
        kinds=("placeholder",) * 2,
    )
    a, b = spec.arrays
    want = (BF16_PRODUCT + 2 * 2.0**-23) * (np.abs(a).T @ np.abs(b))
    np.testing.assert_allclose(_bounds(spec, {0}).forward[2], want, rtol=1e-12)


def test_bounds_are_carried_through_cpu_ops_to_first_order():
    # v2 = a @ b (accel), v3 = tanh(v2), v4 = a @ b again (accel), v5 = v2 - v4
    spec = hand_graph(
        [
            Node("matmul", (0, 1), PLAIN, 1),
            Node("tanh", (2,), {}, 1),
            Node("matmul", (0, 1), PLAIN, 1),
            Node("subtract", (2, 4), {}, 1),
        ],
        shape=(3, 3),
        kinds=("placeholder",) * 2,
    )
    bounds = _bounds(spec, {0, 2})
    product = bounds.forward[2]
    slope = 1 - np.tanh(reference.evaluate(spec)[2]) ** 2
    # The larger of the two secants: the derivative's bound, and a little more where tanh curves.
    assert np.all(bounds.forward[3] >= slope * product)
    np.testing.assert_allclose(bounds.forward[3], slope * product, rtol=5e-2)
    # The two errors may have opposite signs: they add, they do not cancel.
    np.testing.assert_allclose(bounds.forward[5], 2 * product, rtol=1e-9)


def test_a_comparison_that_flips_within_the_bound_has_no_single_answer():
    # v2 = a @ b on the accelerator; v3 = (v2 <= a @ b computed on the CPU): equal, so either way
    spec = hand_graph(
        [
            Node("matmul", (0, 1), PLAIN, 1),
            Node("matmul", (0, 1), PLAIN, 1),
            Node("less_equal", (2, 3), {}, 1),
            Node("cast", (4,), {"dtype": "float64"}, 1),
        ],
        shape=(3, 3),
        kinds=("placeholder",) * 2,
    )
    bounds = _bounds(spec, {0})
    assert bounds.uncertain == {4, 5}
    assert _bounds(spec, set()).uncertain == set()


def _matmul_graph(dtype):
    spec = hand_graph(
        [Node("matmul", (0, 1), PLAIN, 1), Node("sin", (2,), {}, 1)],
        shape=(4, 4),
        dtype=dtype,
        targets=(0, 2),
        kinds=("placeholder", "variable"),
    )
    spec.fetches = (2, 3)
    return spec


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_matmul_on_the_accelerator_passes_within_its_bounds_only(dtype, monkeypatch):
    spec = _matmul_graph(dtype)
    accel = target_named("accel")
    outcome = run_checks(spec, accel)
    assert outcome.ok, outcome
    # Without the bf16 allowance the same numbers fail: the CPU's tolerances stay what they were.
    monkeypatch.setattr(checks, "ACCEL_BOUND_FACTOR", 0.0)
    outcome = run_checks(spec, accel)
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome


def test_a_wrong_number_on_the_accelerator_fails(monkeypatch):
    spec = _matmul_graph("float64")
    # A reference 3 % off: beyond bf16 (0.8 % per product at worst) but within a blanket 5 %.
    matmul = REGISTRY["matmul"].eval
    monkeypatch.setattr(REGISTRY["matmul"], "eval", lambda *a, **k: matmul(*a, **k) * 1.03)
    outcome = run_checks(spec, "accel")
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome


def test_the_gradient_allowance_counts_the_matrix_units_roundings():
    bounds = accel_numerics.Bounds(forward=[], matrix_ops=3, vector_ops=2)
    assert bounds.gradient_rtol("float32") == 3 * BF16_PRODUCT
    assert bounds.gradient_rtol("float64") == 3 * BF16_PRODUCT + 2 * 4 * 2.0**-24


def test_a_gradient_may_move_as_far_as_the_forward_bounds_move_it():
    # loss = sum((a @ b)^2): d loss/d a = 2 (a @ b) @ b^T, and a @ b is off by up to B
    spec = hand_graph(
        [Node("matmul", (0, 1), PLAIN, 1), Node("square", (2,), {}, 1)],
        shape=(3, 3),
        kinds=("placeholder",) * 2,
    )
    spec.targets = (0,)
    values = reference.evaluate(spec)
    bounds = error_bounds(spec, values, {0})
    fd = {0: reference.finite_difference(spec, 0, values)}
    allowance = accel_numerics.gradient_allowances(spec, bounds, fd)[0]
    b = spec.arrays[1]
    np.testing.assert_allclose(allowance, 2 * bounds.forward[2] @ b.T, rtol=1e-4)


def test_a_kink_within_the_forward_bounds_is_not_compared():
    # relu(a @ b - a @ b + 1e-4): the accelerator's product may be 1e-3 lower, past relu's kink
    spec = hand_graph(
        [
            Node("matmul", (0, 1), PLAIN, 1),
            Node("matmul", (0, 1), PLAIN, 1),
            Node("subtract", (2, 3), {}, 1),
            Node("constant", (), {"value": np.array(1e-4)}, 1),
            Node("add", (4, 5), {}, 1),
            Node("relu", (6,), {}, 1),
        ],
        shape=(3, 3),
        kinds=("placeholder",) * 2,
    )
    spec.targets = (2,)
    values = reference.evaluate(spec)
    bounds = error_bounds(spec, values, {0})
    fd = {2: reference.finite_difference(spec, 2, values)}
    assert not fd[2][1].any()  # no kink where the reference stands
    allowance = accel_numerics.gradient_allowances(spec, bounds, fd)[2]
    assert np.all(allowance >= 0.99)  # the slope may be 1 or 0
