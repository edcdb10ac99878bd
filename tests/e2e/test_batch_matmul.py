"""tf.matmul on rank > 2 (the batch_matmul op, TF's BatchMatMulV2) against TensorFlow 2.21's values:
ranks 3 and 4, unknown batch dims, transposes and adjoints, broadcast batch dims (also decided at
run time), with gradients; gradients against finite differences; TF's errors for mismatched inner
and batch dims, at build time and at run time.

``batch_matmul_tf_values.json`` is the output of

    /tmp/tfenv/bin/python tests/oracle/batch_matmul.py > tests/e2e/batch_matmul_tf_values.json

with tensorflow-cpu 2.21.0 (``tensorflow.compat.v1``, v2 behaviour disabled). The oracle holds the
programs (each takes the API module as ``t``); this test runs the same ones under tgc.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import tgc as tf
from tgc.lowering.cpu.blas import openblas_library

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location(
    "batch_matmul_oracle", _HERE.parent / "oracle" / "batch_matmul.py"
)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)
TF_VALUES = json.loads((_HERE / "batch_matmul_tf_values.json").read_text())


@pytest.mark.parametrize("case", sorted(oracle.CASES))
def test_values_and_gradients_match_tensorflow(case):
    got, want = oracle.product(tf, case), TF_VALUES[case]
    assert got["shape"] == want["shape"]
    for key in ("value", "grad_a", "grad_b"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-5, err_msg=key)


def test_batch_matmul_op_is_used_for_rank_3():
    with tf.Graph().as_default():
        c = tf.matmul(tf.zeros([2, 3, 4]), tf.zeros([2, 4, 5]))
        assert c.op.type == "BatchMatMulV2"
        assert tf.matmul(tf.zeros([3, 4]), tf.zeros([4, 5])).op.type == "MatMul"


def test_matmul_operator_on_rank_3():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    y = np.arange(40, dtype=np.float32).reshape(2, 4, 5) / 10
    with tf.Graph().as_default():
        c = tf.constant(x) @ tf.constant(y)
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(c), x @ y, rtol=1e-6)


def test_gradients_match_finite_differences_float64():
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal((2, 1, 3, 4))
    y0 = rng.standard_normal((3, 5, 4))
    w = rng.standard_normal((2, 3, 3, 5))
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float64, [None, 1, 3, 4])
        b = tf.placeholder(tf.float64, [3, 5, None])
        loss = tf.reduce_sum(tf.matmul(a, b, transpose_b=True) * w)
        ga, gb = tf.gradients(loss, [a, b])
        with tf.Session() as s:
            da, db = s.run([ga, gb], {a: x0, b: y0})

    def f(x, y):
        return float(np.sum(np.matmul(x, np.swapaxes(y, -1, -2)) * w))

    eps = 1e-6
    for got, base, which in ((da, x0, 0), (db, y0, 1)):
        numeric = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            up, down = base.copy(), base.copy()
            up[i] += eps
            down[i] -= eps
            args_up = (up, y0) if which == 0 else (x0, up)
            args_down = (down, y0) if which == 0 else (x0, down)
            numeric[i] = (f(*args_up) - f(*args_down)) / (2 * eps)
        np.testing.assert_allclose(got, numeric, rtol=1e-6, atol=1e-7)


def test_integer_batch_matmul():
    x = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    y = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    with tf.Graph().as_default():
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(tf.matmul(tf.constant(x), tf.constant(y))), x @ y)


@pytest.mark.parametrize(
    "sa, sb, message",
    [
        ((2, 3, 4), (2, 5, 6), r"inner dimensions differ: \(2, 3, 4\) and \(2, 5, 6\) \(4 vs 5\)"),
        ((2, 3, 4), (3, 4, 5), "batch dimensions are not broadcast-compatible"),
        ((3,), (2, 3, 4), "rank 2 or more"),
    ],
)
def test_build_time_errors(sa, sb, message):
    # TF 2.21: ValueError "Dimensions must be equal, but are 4 and 5" / "... are 2 and 3" (both
    # from BatchMatMulV2's shape function); a rank-1 operand: "Shape must be rank 2 but is rank 1".
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match=message):
            tf.matmul(tf.zeros(sa), tf.zeros(sb))


def test_run_time_error_for_incompatible_batch_dims():
    # TF 2.21: InvalidArgumentError "In[0] and In[1] must have compatible batch dimensions:
    # [2,3,4] vs. [3,4,5]".
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None, 3, 4])
        b = tf.placeholder(tf.float32, [None, 4, 5])
        c = tf.matmul(a, b)
        with tf.Session() as s:
            with pytest.raises(
                tf.errors.InvalidArgumentError,
                match=r"batch dimensions are not broadcast-compatible: \(2, 3, 4\) and \(3, 4, 5\)",
            ):
                s.run(c, {a: np.zeros((2, 3, 4)), b: np.zeros((3, 4, 5))})


def test_run_time_error_for_mismatched_inner_dims():
    # TF 2.21: InvalidArgumentError "Matrix size-incompatible: In[0]: [2,3,4], In[1]: [2,3,5]".
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [2, 3, None])
        b = tf.placeholder(tf.float32, [2, None, 5])
        c = tf.matmul(a, b)
        with tf.Session() as s:
            with pytest.raises(
                tf.errors.InvalidArgumentError,
                match=r"inner dimensions differ: \(2, 3, 4\) and \(2, 3, 5\)",
            ):
                s.run(c, {a: np.zeros((2, 3, 4)), b: np.zeros((2, 3, 5))})


# ---- the CPU's BLAS path -------------------------------------------------------------------------


def _lowered_to_blas(shapes, dtype, **attrs) -> str:
    """A one-batch_matmul function through the CPU pipeline up to tgc-blas-matmul."""
    sys.path.insert(0, str(_HERE.parent / "unit"))
    import registry_harness

    from tgc.dialect.types import TensorSpec

    upto = registry_harness.CPU_PIPELINE.up_to("tgc-blas-matmul").spec()
    return registry_harness.lowered_ir(
        [TensorSpec(s, dtype) for s in shapes],
        lambda b, args: [b.op("batch_matmul", *args, **attrs)],
        ",".join([registry_harness.GRAPH_TO_CORE, upto]),
    )


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_f32_batch_becomes_a_loop_of_sgemm_calls_with_transpose_flags():
    text = _lowered_to_blas([(None, 4, 3), (None, 4, 5)], "float32", transpose_a=True)
    assert "linalg.batch_matmul" not in text and "linalg.matmul" not in text
    assert "scf.for" in text
    assert text.count("call @scipy_cblas_sgemm64_(") >= 1
    assert "arith.constant 112 : i32" in text  # CblasTrans for A


@pytest.mark.skipif(openblas_library() is None, reason="numpy without bundled OpenBLAS")
def test_integer_batch_keeps_the_loop_path():
    text = _lowered_to_blas([(2, 3, 4), (2, 4, 5)], "int32")
    assert "linalg.batch_matmul" in text and "cblas" not in text


def test_blas_batch_with_broadcast_and_transposes_matches_numpy():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 1, 6, 5))
    y = rng.standard_normal((4, 7, 6))
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float64, [None, 1, 6, 5])
        b = tf.placeholder(tf.float64, [4, 7, None])
        c = tf.matmul(a, b, transpose_a=True, transpose_b=True)
        with tf.Session() as s:
            got = s.run(c, {a: x, b: y})
    want = np.matmul(np.swapaxes(x, -1, -2), np.swapaxes(y, -1, -2))
    np.testing.assert_allclose(got, want, rtol=1e-12)


# ---- einsum's batched products -------------------------------------------------------------------


@pytest.mark.parametrize(
    "equation, sa, sb",
    [
        ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
        ("bji,bjk->bik", (2, 4, 3), (2, 4, 5)),
        ("bij,bkj->bik", (2, 3, 4), (2, 5, 4)),
        ("bij,bjk->bki", (2, 3, 4), (2, 4, 5)),
        ("abij,abjk->abik", (2, 3, 2, 4), (2, 3, 4, 5)),
        ("ibj,bjk->bik", (3, 2, 4), (2, 4, 5)),
    ],
)
def test_einsum_batch_products_are_one_batch_matmul(equation, sa, sb):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(sa)
    y = rng.standard_normal(sb)
    with tf.Graph().as_default() as g:
        a = tf.placeholder(tf.float64, [None] + list(sa[1:]))
        b = tf.placeholder(tf.float64, list(sb))
        c = tf.einsum(equation, a, b)
        types = [op.type for op in g.get_operations()]
        ga, gb = tf.gradients(tf.reduce_sum(c * c), [a, b])
        with tf.Session() as s:
            got, da, db = s.run([c, ga, gb], {a: x, b: y})
    assert types.count("BatchMatMulV2") == 1 and "Sum" not in types
    want = np.einsum(equation, x, y)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # d/dx sum(c^2) = 2 einsum(c, y) over the output's letters: checked against numpy's
    ins, out = equation.split("->")
    sub_a, sub_b = ins.split(",")
    np.testing.assert_allclose(da, 2 * np.einsum(f"{out},{sub_b}->{sub_a}", want, y), rtol=1e-10)
    np.testing.assert_allclose(db, 2 * np.einsum(f"{out},{sub_a}->{sub_b}", want, x), rtol=1e-10)


def test_linalg_matmul_is_tf_matmul():
    x = np.ones((2, 3, 4), np.float32)
    with tf.Graph().as_default():
        c = tf.linalg.matmul(tf.constant(x), tf.constant(x), transpose_b=True)
        assert c.op.type == "BatchMatMulV2"
        with tf.Session() as s:
            np.testing.assert_allclose(s.run(c), np.full((2, 3, 3), 4.0))


# ---- other targets: the accelerator by placement, the GPU --------------------------------------

ACCEL0 = "/job:localhost/replica:0/task:0/device:ACCEL:0"


def _accel_product(config):
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [2, 3, 4])  # fed, so that the product is not folded
        with tf.device("/accel:0"):
            c = tf.matmul(a, a, transpose_b=True, name="bmm")
        with tf.Session(config=config) as s:
            return s.run(c, {a: x}), x @ np.swapaxes(x, -1, -2)


def test_asked_onto_the_accelerator_it_runs_on_the_cpu_by_soft_placement(capsys):
    """The accelerator's matrix unit takes rank-2 matmul tiles only (its ACCEL_OPS); a batch stays
    on the CPU, with the CPU's numbers."""
    config = tf.ConfigProto(
        device_count={"ACCEL": 1}, allow_soft_placement=True, log_device_placement=True
    )
    got, want = _accel_product(config)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    err = capsys.readouterr().err
    assert "bmm: (tgc.batch_matmul): /job:localhost/replica:0/task:0/device:CPU:0" in err


def test_asked_onto_the_accelerator_without_soft_placement_it_is_refused():
    import tgc

    with pytest.raises(tgc.errors.CompileError, match="cannot place 'tgc.batch_matmul'"):
        _accel_product(tf.ConfigProto(device_count={"ACCEL": 1}))


def test_the_accelerator_does_not_list_it_the_gpu_and_cpu_do():
    from tgc.dialect import targets

    assert "batch_matmul" not in targets.get("accel").supported_ops()
    assert "batch_matmul" in targets.get("nvptx").supported_ops()
    assert "batch_matmul" in targets.get("cpu").supported_ops()


def test_on_the_emulated_gpu_with_broadcast_transposes_and_gradients(capsys):
    """The GPU's kernels and launch plan (nvptx-emulated runs them on the host): a broadcast,
    transposed batch and both gradients on /gpu:0, against numpy."""
    from tgc.dialect import targets

    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 1, 4, 3)).astype(np.float32)
    y = rng.standard_normal((3, 5, 4)).astype(np.float32)
    w = rng.standard_normal((2, 3, 3, 5)).astype(np.float32)
    with targets.selected("nvptx-emulated"), tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [2, 1, 4, 3])
        b = tf.placeholder(tf.float32, [3, 5, 4])
        with tf.device("/gpu:0"):
            c = tf.matmul(a, b, transpose_a=True, transpose_b=True, name="bmm")
            loss = tf.reduce_sum(c * w)
            ga, gb = tf.gradients(loss, [a, b])
        config = tf.ConfigProto(device_count={"GPU": 1}, log_device_placement=True)
        with tf.Session(config=config) as s:
            got, da, db = s.run([c, ga, gb], {a: x, b: y})
    assert "bmm: (tgc.batch_matmul): /job:localhost/replica:0/task:0/device:GPU:0" in (
        capsys.readouterr().err
    )
    xt, yt = np.swapaxes(x, -1, -2), np.swapaxes(y, -1, -2)
    np.testing.assert_allclose(got, xt @ yt, rtol=1e-5, atol=1e-5)
    # d/dA^T = w @ B^T^T = w @ B, summed over A's broadcast batch dim; A's grad is its transpose
    np.testing.assert_allclose(
        da, np.swapaxes((w @ y).sum(axis=1, keepdims=True), -1, -2), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        db, np.swapaxes((np.swapaxes(xt, -1, -2) @ w).sum(axis=0), -1, -2), rtol=1e-5, atol=1e-5
    )


# ---- TF's GraphDef ------------------------------------------------------------------------------

# TF 2.21's GraphDef of a = placeholder [None, 3, 4], b = placeholder [4, 5],
# c = tf.matmul(a, b), d = tf.matmul(a, c, adjoint_a=True) (two BatchMatMulV2 nodes with T, adj_x,
# adj_y, grad_x, grad_y): g.as_graph_def().SerializeToString() under /tmp/tfenv/bin/python.
TF_GRAPH_DEF = bytes.fromhex(
    "0a3f0a0161120b506c616365686f6c6465722a200a05736861706512173a15120b08ffffffffffffffffff01"
    "12020803120208042a0b0a056474797065120230010a320a0162120b506c616365686f6c6465722a130a0573"
    "68617065120a3a0812020804120208052a0b0a056474797065120230010a570a0163120d42617463684d6174"
    "4d756c56321a01611a01622a070a0154120230012a0b0a0561646a5f78120228002a0c0a06677261645f7912"
    "0228002a0b0a0561646a5f79120228002a0c0a06677261645f78120228000a570a0164120d42617463684d61"
    "744d756c56321a01611a01632a070a0154120230012a0c0a06677261645f79120228002a0b0a0561646a5f78"
    "120228012a0b0a0561646a5f79120228002a0c0a06677261645f7812022800220308aa13"
)


def test_import_graph_def_of_tensorflows_batch_matmul():
    from tgc.frontend.import_graph_def import import_graph_def

    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 10
    y = np.arange(20, dtype=np.float32).reshape(4, 5) / 10
    with tf.Graph().as_default():
        (d,) = import_graph_def(TF_GRAPH_DEF, return_elements=["d:0"])
        assert d.op.type == "BatchMatMulV2" and d.shape.as_list() == [None, 4, 5]
        with tf.Session() as s:
            got = s.run(d, {"import/a:0": x, "import/b:0": y})
    np.testing.assert_allclose(got, np.swapaxes(x, -1, -2) @ (x @ y), rtol=1e-6)
    # TF 2.21's value of d[0, 0] (same command): 3.2400002479553223, ...
    np.testing.assert_allclose(got[0, 0], [3.2400002, 3.632, 4.024, 4.416, 4.808], rtol=1e-6)


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((0, 3, 4), (0, 4, 5)),
        ((2, 3, 0), (2, 0, 5)),
        ((2, 0, 4), (4, 5)),
        ((2, 0, 3, 4), (1, 4, 2)),
    ],
)
def test_empty_batches_and_matrices(sa, sb):
    x = np.ones(sa, np.float32)
    y = np.ones(sb, np.float32)
    with tf.Graph().as_default():
        a = tf.placeholder(tf.float32, [None] * len(sa))
        b = tf.placeholder(tf.float32, list(sb))
        c = tf.matmul(a, b)
        with tf.Session() as s:
            got = s.run(c, {a: x, b: y})
    np.testing.assert_array_equal(got, np.matmul(x, y))  # an empty inner dim gives zeros


# ---- run-time checks of code compiled for unknown dims (an artifact; a Session specialises) -----

_UNKNOWN_BATCH = (
    "func.func @main(%a: tensor<?x?x?xf32>, %b: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {\n"
    '  %0 = "tgc.batch_matmul"(%a, %b) {transpose_a = false, transpose_b = false} : '
    "(tensor<?x?x?xf32>, tensor<?x?x?xf32>) -> tensor<?x?x?xf32>\n"
    "  return %0 : tensor<?x?x?xf32>\n}\n"
)


@pytest.fixture(scope="module")
def unknown_batch_artifact(tmp_path_factory):
    from click.testing import CliRunner

    from tgc.runtime import load
    from tgc.tools.cli import main

    folder = tmp_path_factory.mktemp("bmm")
    source = folder / "bmm.mlir"
    source.write_text(_UNKNOWN_BATCH)
    result = CliRunner().invoke(main, ["compile", str(source), "-o", str(folder / "art")])
    assert result.exit_code == 0, result.output
    return load(str(folder / "art"))


def test_artifact_broadcasts_a_batch_of_one_at_run_time(unknown_batch_artifact):
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    y = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    got = unknown_batch_artifact(x, y)["result0"]
    np.testing.assert_allclose(got, np.matmul(x, y), rtol=1e-6)


@pytest.mark.parametrize(
    "sa, sb, shapes",
    [((2, 3, 4), (3, 4, 5), r"\[2,3,4\] vs. \[3,4,5\]"), ((2, 3, 4), (2, 3, 5), r"\[2,3,4\] vs")],
)
def test_artifact_reports_incompatible_dims_at_run_time(unknown_batch_artifact, sa, sb, shapes):
    # TF 2.21 at run time: "In[0] and In[1] must have compatible batch dimensions: [2,3,4] vs.
    # [3,4,5]" / "Matrix size-incompatible: In[0]: [2,3,4], In[1]: [2,3,5]".
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes: " + shapes):
        unknown_batch_artifact(np.ones(sa, np.float32), np.ones(sb, np.float32))
