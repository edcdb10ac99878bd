"""The placement cost model: every registry op has a flops rule, and its numbers are right."""

from __future__ import annotations

import math

import pytest

from tgc.dialect import costs
from tgc.dialect.registry import REGISTRY, load_all_ops
from tgc.dialect.types import DTYPES, TensorSpec, numpy_dtype

load_all_ops()

_KEYS = {"key": "x;cpu0;cpu1", "key_id": 0, "src_device": "cpu0", "dst_device": "cpu1"}

# Operands and attributes for the ops that have no registry samples (the one-op harness does not run
# them: module-level, stateful or meta ops).
_CASES_WITHOUT_SAMPLES = {
    "gradient": (((2, 3), (3, 4), (2, 3)), {}),
    "variable": ((), {"sym_name": "v", "shape": (3, 4), "dtype": "float32"}),
    "read_variable": ((), {"var": "v", "shape": (3, 4), "dtype": "float32"}),
    "reread_variable": (((3, 4),), {"var": "v"}),
    "assign": (((3, 4),), {"var": "v"}),
    "assign_add": (((3, 4),), {"var": "v"}),
    "assign_sub": (((3, 4),), {"var": "v"}),
    "send": (((3, 4),), _KEYS),
    "recv": ((), dict(_KEYS, shape=(3, 4), dtype="float32")),
    "while": (((), (3, 4)), {"cond": "c", "body": "b", "num_vars": 1}),  # its body is elsewhere
    "relax_shape": (((3, 4),), {"shape": (-1, 4)}),
    # its branches are elsewhere; a bool predicate, then a captured tensor
    "if": (
        (TensorSpec((), "bool"), (3, 4)),
        {"then_branch": "t", "else_branch": "e", "result_types": "tensor<3x4xf32>"},
    ),
}


def _float32(*shapes) -> list:
    """float32 specs of these shapes (a TensorSpec stays as it is)."""
    return [s if isinstance(s, TensorSpec) else TensorSpec(s, "float32") for s in shapes]


def flops(name, operands, attrs=None) -> float:
    """The op's flops rule on these operand specs, its results from the op's own result rule."""
    opdef = REGISTRY[name]
    attrs = opdef.complete_attrs(attrs or {})
    return opdef.flops(operands, opdef.result_specs(operands, attrs), attrs)


def _sample_cases() -> list:
    cases = []
    for name, opdef in sorted(REGISTRY.items()):
        for i, sample in enumerate(opdef.samples):
            operands = [
                TensorSpec(shape, dtype)
                for shape, dtype in zip(sample.shapes, sample.operand_dtypes())
            ]
            cases.append(pytest.param(name, operands, dict(sample.attrs), id=f"{name}-{i}"))
    for name, (shapes, attrs) in _CASES_WITHOUT_SAMPLES.items():
        cases.append(pytest.param(name, _float32(*shapes), attrs, id=f"{name}-by-hand"))
    return cases


# ---- coverage -----------------------------------------------------------------------------------


def test_every_op_has_a_flops_rule():
    missing = sorted(name for name, opdef in REGISTRY.items() if opdef.flops is None)
    assert not missing, (
        f"ops without a flops rule (set `flops = ...` from tgc.dialect.costs): {missing}"
    )


def test_every_op_without_samples_has_a_case_here():
    without = sorted(name for name, opdef in REGISTRY.items() if not opdef.samples)
    assert without == sorted(_CASES_WITHOUT_SAMPLES), (
        "ops without registry samples need a case in _CASES_WITHOUT_SAMPLES"
    )


@pytest.mark.parametrize("name, operands, attrs", _sample_cases())
def test_rule_gives_a_finite_non_negative_float(name, operands, attrs):
    value = flops(name, operands, attrs)
    assert isinstance(value, float) and math.isfinite(value) and value >= 0.0, (name, value)


# ---- numbers ------------------------------------------------------------------------------------


def test_matmul_is_two_m_n_k_whatever_the_transposes():
    assert flops("matmul", _float32((3, 4), (4, 5))) == 2 * 3 * 5 * 4
    transposed = {"transpose_a": True, "transpose_b": True}
    assert flops("matmul", _float32((4, 3), (5, 4)), transposed) == 2 * 3 * 5 * 4


def test_conv2d_counts_a_multiply_add_per_output_element_and_filter_tap():
    operands = _float32((2, 8, 8, 3), (3, 3, 3, 16))
    taps = 3 * 3 * 3  # KH * KW * C
    same = {"strides": (1, 1, 1, 1), "padding": "SAME"}
    assert flops("conv2d", operands, same) == 2 * (2 * 8 * 8 * 16) * taps
    strided = {"strides": (1, 2, 2, 1), "padding": "VALID"}  # 8x8 -> 3x3
    assert flops("conv2d", operands, strided) == 2 * (2 * 3 * 3 * 16) * taps


def test_conv2d_backprops_cost_what_the_forward_conv_costs():
    attrs = {"strides": (1, 2, 2, 1), "padding": "VALID"}
    forward = flops("conv2d", _float32((2, 8, 8, 3), (3, 3, 3, 16)), attrs)
    grad = (2, 3, 3, 16)
    by_input = flops("conv2d_backprop_input", _float32((3, 3, 3, 16), grad, (2, 8, 8, 3)), attrs)
    by_filter = flops(
        "conv2d_backprop_filter",
        _float32((2, 8, 8, 3), grad),
        dict(attrs, filter_shape=(3, 3, 3, 16)),
    )
    assert by_input == by_filter == forward == 2 * (2 * 3 * 3 * 16) * 27


def test_pooling_counts_each_window_element():
    attrs = {"ksize": (1, 2, 2, 1), "strides": (1, 2, 2, 1), "padding": "SAME"}  # 5x5 -> 3x3
    assert flops("max_pool", _float32((2, 5, 5, 3)), attrs) == (2 * 3 * 3 * 3) * 4
    assert (
        flops("avg_pool_grad", _float32((2, 5, 5, 3), (2, 3, 3, 3)), attrs) == (2 * 3 * 3 * 3) * 4
    )


def test_reduction_counts_its_input_elements():
    assert flops("reduce_sum", _float32((3, 4, 5)), {"axes": [1]}) == 60
    assert flops("argmax", _float32((3, 4)), {"axis": 0}) == 12


def test_elementwise_counts_the_broadcast_result():
    assert flops("add", _float32((4, 1, 3), (2, 3))) == 4 * 2 * 3
    assert flops("exp", _float32((3, 4))) == 12 * costs.TRANSCENDENTAL_FLOPS


def test_data_movement_costs_no_flops_but_its_bytes():
    assert flops("transpose", _float32((3, 4)), {"perm": (1, 0)}) == 0.0
    assert flops("reshape", _float32((3, 4)), {"shape": (12,)}) == 0.0
    assert costs.bytes_moved(_float32((3, 4)), _float32((4, 3))) == 2 * 12 * 4


def test_sizes_guess_unknown_dims_and_know_every_dtype():
    assert costs.elements(TensorSpec((None, 3), "float32")) == costs.UNKNOWN_DIM_GUESS * 3
    assert costs.elements(TensorSpec((), "float32")) == 1
    assert costs.nbytes(TensorSpec((2, 3), "bool")) == 6
    assert costs.bytes_moved([TensorSpec((2,), "float64")], [TensorSpec((2,), "int32")]) == 24
    assert sorted(costs.ITEMSIZE) == sorted(DTYPES)
    for name, size in costs.ITEMSIZE.items():
        if name not in ("bfloat16", "string"):  # numpy may lack bfloat16; strings are host objects
            assert numpy_dtype(name).itemsize == size, name
