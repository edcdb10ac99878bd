"""Registry-wide tests: every op, on every one of its samples, compiled for the CPU
against its numpy reference, with unknown dims, through autodiff against finite
differences, and the registry complete.

Parameterized over ``REGISTRY`` and each op's ``samples``, so an op is covered the moment it is
registered. Ops the one-op harness cannot run (stateful, module-level, meta) are listed with the
reason in ``registry_harness.skip_reason``.
"""

from __future__ import annotations

import numpy as np
import pytest

import registry_harness as h
from tgc.dialect.registry import NOT_DIFFERENTIABLE, REGISTRY
from tgc.dialect.shapes import FLOAT_DTYPES
from tgc.lowering.to_core import load_all_lowerings

CASES = h.sample_cases()
DYNAMIC_CASES = [(n, i) for n, i in CASES if REGISTRY[n].samples[i].dynamic]


def _case_id(case) -> str:
    return f"{case[0]}-{case[1]}"


def _setup(name, index, float64=False):
    opdef = REGISTRY[name]
    sample = opdef.samples[index]
    arrays = h.draw_operands(sample, h.rng_for(name, index), float64=float64)
    return opdef, sample, h.sample_attrs(opdef, sample, float64=float64), arrays


def _reference(opdef, attrs, arrays) -> list:
    return [np.asarray(r) for r in opdef.evaluate([a.copy() for a in arrays], attrs)]


# By float width: half precision keeps ~3 digits, single ~7, double ~16.
_TOLERANCE = {
    2: dict(rtol=1e-2, atol=1e-2),
    4: dict(rtol=1e-5, atol=1e-6),
    8: dict(rtol=1e-10, atol=1e-12),
}


def _assert_same(got, want, what):
    assert len(got) == len(want), f"{what}: {len(got)} results but the reference has {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype, f"{what} result {k}: dtype {g.dtype}, reference {w.dtype}"
        assert g.shape == w.shape, f"{what} result {k}: shape {g.shape}, reference {w.shape}"
        if w.dtype.name in FLOAT_DTYPES:
            tol = _TOLERANCE[w.dtype.itemsize]
            np.testing.assert_allclose(g, w, **tol, err_msg=f"{what} result {k}")
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what} result {k}")


# ---- forward: compiled vs reference --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_compiled_matches_reference(case):
    opdef, _, attrs, arrays = _setup(*case)
    want = _reference(opdef, attrs, arrays)
    got, _ = h.run_compiled(opdef, attrs, arrays)
    _assert_same(got, want, f"{opdef.name} sample {case[1]}")


@pytest.mark.parametrize("case", DYNAMIC_CASES, ids=_case_id)
def test_unknown_dims_give_the_same_numbers(case):
    opdef, sample, attrs, arrays = _setup(*case)
    want = _reference(opdef, attrs, arrays)
    got, specs = h.run_compiled(opdef, attrs, arrays, dynamic=sample.dynamic)
    assert any(None in s.shape for s in h.operand_specs(arrays, sample.dynamic))
    _assert_same(
        got, want, f"{opdef.name} sample {case[1]} with dims {list(sample.dynamic)} unknown"
    )
    for spec, w in zip(specs, want):  # infer may leave a dim unknown, never contradict the run
        assert all(s is None or s == n for s, n in zip(spec.shape, w.shape)), (spec, w.shape)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_infer_agrees_with_eval(case):
    opdef, _, attrs, arrays = _setup(*case)
    specs = opdef.result_specs(h.operand_specs(arrays), attrs)
    want = _reference(opdef, attrs, arrays)
    if "value_shaped" in opdef.traits:  # a size only the operands' values decide: left unknown
        assert all(
            len(s.shape) == len(w.shape)
            and all(d is None or d == n for d, n in zip(s.shape, w.shape))
            for s, w in zip(specs, want)
        ), (specs, [w.shape for w in want])
    else:
        assert [s.shape for s in specs] == [w.shape for w in want]
    assert [s.dtype for s in specs] == [w.dtype.name for w in want]


# ---- gradients: autodiff vs finite differences ---------------------------------------------------


def _gradient_cases() -> list:
    """Samples of differentiable ops with a float operand, whose float results
    are float64 when promoted.

    Exclusion is by dtype only: all-int/bool samples have nothing to differentiate, and a result
    cast to a narrower float would make finite differences meaningless.
    """
    cases = []
    for name, i in CASES:
        opdef = REGISTRY[name]
        if not opdef.differentiable:
            continue
        _, sample, attrs, arrays = _setup(name, i, float64=True)
        if not h.float_operands(arrays):
            continue
        dtypes = [s.dtype for s in opdef.result_specs(h.operand_specs(arrays), attrs)]
        floats = [d for d in dtypes if d in FLOAT_DTYPES]
        if floats and all(d == "float64" for d in floats):
            cases.append((name, i))
    return cases


GRADIENT_CASES = _gradient_cases()


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=_case_id)
def test_gradient_matches_finite_differences(case):
    opdef, _, attrs, arrays = _setup(*case, float64=True)
    weights = h.gradient_weights(opdef, attrs, arrays, h.rng_for(case[0] + "/weights", case[1]))
    indices = h.float_operands(arrays)
    got = h.compiled_gradients(opdef, attrs, arrays, weights, indices)
    for i, g in zip(indices, got):
        want = h.finite_difference(opdef, attrs, arrays, weights, i)
        assert g.shape == arrays[i].shape and g.dtype == np.float64
        np.testing.assert_allclose(
            g,
            want,
            rtol=1e-4,
            atol=1e-4,
            err_msg=f"d/d{opdef.operands[i]} of {opdef.name} sample {case[1]}",
        )


def test_gradient_cases_cover_the_float_ops():
    # Guards the dtype filter above: the float elementwise, reduce and matmul ops must be in it.
    names = {n for n, _ in GRADIENT_CASES}
    for name in (
        "add",
        "divide",
        "pow",
        "exp",
        "relu",
        "select",
        "reduce_sum",
        "reduce_max",
        "matmul",
    ):
        assert name in names, f"{name} has no float sample in the gradient test"


# ---- completeness --------------------------------------------------------------------------------


def test_every_op_has_infer_eval_and_a_gradient_decision():
    for name, opdef in h.registry().items():
        assert callable(opdef.infer), f"{name} has no infer"
        assert callable(opdef.eval), f"{name} has no eval"
        assert callable(opdef.grad) or opdef.grad is NOT_DIFFERENTIABLE, (
            f"{name}: grad is {opdef.grad!r}"
        )


def test_every_op_lowers_or_decomposes():
    lowerings = load_all_lowerings()
    missing = [
        name
        for name, opdef in h.registry().items()
        if name not in lowerings and opdef.decompose is None and name not in h.REMOVED_BY_PASS
    ]
    assert not missing, (
        f"ops with neither a lowering to core nor a decompose rule: {sorted(missing)}"
    )


def test_ops_removed_by_a_pass_exist():
    # Keeps REMOVED_BY_PASS honest: a renamed or deleted op must not linger in the exception list.
    for name, pass_name in h.REMOVED_BY_PASS.items():
        assert name in REGISTRY, f"{name} (removed by {pass_name}) is not a registered op"


def test_every_runnable_op_has_a_sample():
    missing = [name for name in h.runnable_ops() if not REGISTRY[name].samples]
    assert not missing, f"ops without samples: {missing}"


def test_skipped_ops_are_only_stateful_module_level_or_meta():
    skipped = {n: h.skip_reason(d) for n, d in h.registry().items() if h.skip_reason(d)}
    for name, reason in skipped.items():
        opdef = REGISTRY[name]
        assert opdef.stateful or opdef.module_level or name in h.META_OPS, (name, reason)
    assert {"gradient", "variable", "read_variable", "assign"} <= set(skipped)
