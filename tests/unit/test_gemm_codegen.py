"""tgc's generated GEMM (tgc/lowering/cpu/gemm_kernel.py) against numpy.

The kernel itself at awkward shapes (partial register tiles and cache blocks, K = 0, transposes,
alpha and beta), for f32 and f64 and for both vector widths (AVX-512 and AVX2 blockings, which
both run on an AVX-512 host); then graphs through a Session with TGC_GEMM=codegen and through an
artifact built without --blas, compared with the OpenBLAS path. No timings: see
benchmarks/gemm_codegen.py.
"""

from __future__ import annotations

import ctypes
import os

import numpy as np
import pytest
from mlir import ir
from mlir.execution_engine import ExecutionEngine
from mlir.passmanager import PassManager
from mlir.runtime import get_ranked_memref_descriptor

import tgc as tf
from tgc.lowering.cpu import gemm_kernel
from tgc.lowering.cpu.target import GEMM_ENVIRONMENT

RNG = np.random.default_rng(18)
NP = {"f32": np.float32, "f64": np.float64}
CTYPE = {"f32": ctypes.c_float, "f64": ctypes.c_double}
LOWER = (
    "builtin.module(canonicalize,expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "convert-vector-to-llvm,convert-to-llvm,reconcile-unrealized-casts)"
)


class Kernel:
    """The generated function for one blocking, JIT-compiled behind a wrapper taking plain
    row-major memrefs."""

    def __init__(self, shape: gemm_kernel.GemmShape):
        t = shape.elem
        general = f"memref<?x?x{t}, strided<[?, 1], offset: ?>>"
        plain = f"memref<?x?x{t}>"
        casts = "\n".join(
            f"  %{v} = memref.cast %{v.upper()} : {plain} to {general}"
            for v in ("a", "b", "c", "ci")
        )
        wrapper = (
            f"func.func @run(%A: {plain}, %B: {plain}, %C: {plain}, %CI: {plain}, %ta: i1, "
            f"%tb: i1, %al: {t}, %be: {t}) attributes {{llvm.emit_c_interface}} {{\n{casts}\n"
            f"  func.call @{shape.symbol}(%a, %b, %c, %ci, %ta, %tb, %al, %be) : ({general}, "
            f"{general}, {general}, {general}, i1, i1, {t}, {t}) -> ()\n  return\n}}\n"
        )
        self.context = ir.Context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(wrapper + gemm_kernel.gemm_function_text(shape))
            PassManager.parse(LOWER).run(module.operation)
            self.engine = ExecutionEngine(module, opt_level=2)
        self.scalar = CTYPE[t]

    def __call__(self, a, b, c, ta, tb, alpha, beta, c_in=None):
        """C = alpha op(A) op(B) + beta C_in (C_in: C itself when None)."""
        operands = (a, b, c, c if c_in is None else c_in)
        memrefs = [
            ctypes.pointer(ctypes.pointer(get_ranked_memref_descriptor(x))) for x in operands
        ]
        scalars = [ctypes.c_bool(ta), ctypes.c_bool(tb), self.scalar(alpha), self.scalar(beta)]
        self.engine.invoke("run", *memrefs, *(ctypes.pointer(s) for s in scalars))


# The ISAs' default blockings, and AVX-512 f32's wide tile (6 x 64, shape_for_matmul) run at every
# shape: its edges as the default's.
KERNELS = [(e, i) for e in ("f32", "f64") for i in ("avx512", "avx2")] + [("f32", "avx512-wide")]


@pytest.fixture(scope="module", params=KERNELS, ids=["-".join(k) for k in KERNELS])
def kernel(request):
    elem, isa = request.param
    if isa == "avx512-wide":
        return elem, Kernel(gemm_kernel.shape_for_matmul(elem, "avx512", 64, 64))
    return elem, Kernel(gemm_kernel.shape_for(elem, isa))


# (M, N, K): single elements, one row (the gemv path) and one column, partial register tiles,
# whole tiles, columns past one NC block (NC 128 to 256) and reductions past one KC block (KC 256
# to 512), rows past one MC block (MC at most 6144), K = 0. (24, 48, 1024): whole MR-row panels
# and K a multiple of the lanes over two KC blocks, so that every k step's pack store (8 or 6 rows
# stored as 16 or 8 lanes) runs into the next step, the next panel or the packs' slack. N = 65, 32
# and 80 (48 + 32): last column tiles of 17 to 32 columns, which AVX-512 f32 computes two vectors
# wide (f64: N = 13). The micro-kernel reads A's whole MR-row panels from A itself (its rows; its
# columns when transposed and N is at most 3 column tiles: 144 for AVX-512 f32, 48 for AVX2 f32)
# and packs only a last partial panel: (203, 144, 530) has 25 whole panels and a partial one (AVX2:
# 33 and one) over two or three KC blocks; (203, 145, 37) packs all of a transposed A.
SHAPES = [
    (1, 1, 1),
    (1, 70, 40),
    (1, 37, 7),
    (40, 1, 30),
    (7, 13, 5),
    (33, 65, 17),
    (14, 32, 64),
    (24, 48, 1024),
    (29, 300, 600),
    (9, 80, 20),
    (6200, 3, 2),
    (5, 3, 0),
    (203, 144, 530),
    (203, 145, 37),
    (35, 48, 9),
    (35, 49, 9),
]


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 0.0), (1.0, 1.0), (0.5, -2.0)])
def test_kernel_matches_numpy(kernel, m, n, k, ta, tb, alpha, beta):
    elem, run = kernel
    dtype = NP[elem]
    a = RNG.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = RNG.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    c = RNG.standard_normal((m, n)).astype(dtype)
    want = alpha * ((a.T if ta else a) @ (b.T if tb else b)) + beta * c
    if beta == 0.0:
        c[:] = np.nan  # beta = 0 must never read C (as BLAS)
    run(a, b, c, ta, tb, alpha, beta)
    tolerance = 1e-4 if elem == "f32" else 1e-11
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * max(1, k) ** 0.5)


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("beta", [0.0, 1.0, -2.0])
def test_kernel_reads_beta_term_from_a_separate_c_in(kernel, m, n, k, ta, tb, beta):
    """C = alpha op(A) op(B) + beta C_in with C_in another buffer (a copy into C folded away): C's
    old values are never read (NaN here), C_in is left as it was. K up to 1024 spans several KC
    blocks, whose later ones add to C's partial sums, not to C_in."""
    elem, run = kernel
    dtype = NP[elem]
    a = RNG.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = RNG.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    c_in = RNG.standard_normal((m, n)).astype(dtype)
    kept = c_in.copy()
    c = np.full((m, n), np.nan, dtype)
    want = 0.5 * ((a.T if ta else a) @ (b.T if tb else b)) + beta * c_in
    run(a, b, c, ta, tb, 0.5, beta, c_in)
    tolerance = 1e-4 if elem == "f32" else 1e-11
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * max(1, k) ** 0.5)
    np.testing.assert_array_equal(c_in, kept)


def test_kernel_reads_views_with_offsets_and_row_strides(kernel):
    elem, run = kernel
    dtype = NP[elem]
    big_a = RNG.standard_normal((40, 50)).astype(dtype)
    big_b = RNG.standard_normal((30, 60)).astype(dtype)
    big_c = RNG.standard_normal((45, 70)).astype(dtype)
    a, b, c = big_a[3:22, 5:34], big_b[1:30, 7:40], big_c[2:21, 9:42]
    outside = big_c.copy()
    want = a @ b + c
    run(a, b, c, 0, 0, 1.0, 1.0)
    tolerance = 1e-4 if elem == "f32" else 1e-11
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance)
    outside[2:21, 9:42] = c
    np.testing.assert_array_equal(big_c, outside)  # nothing written past the view's edges


@pytest.mark.parametrize("ta", [0, 1])
def test_kernel_reads_narrow_gemms_a_unpacked_from_views(kernel, ta):
    """A's panels are read where A lies (C narrow for a transposed A): through A's offset and
    row stride, either way round, with rows of A past M and columns past K left out. 27 rows:
    whole MR-row panels and a partial one (packed)."""
    elem, run = kernel
    dtype = NP[elem]
    big_a = RNG.standard_normal((60, 70)).astype(dtype)
    big_b = RNG.standard_normal((50, 40)).astype(dtype)
    m, n, k = 27, 40, 33
    a = big_a[4 : 4 + k, 3 : 3 + m] if ta else big_a[4 : 4 + m, 3 : 3 + k]
    b = big_b[5 : 5 + k, :n]
    c = RNG.standard_normal((m, n)).astype(dtype)
    want = (a.T if ta else a) @ b + 2.0 * c
    run(a, b, c, ta, 0, 1.0, 2.0)
    tolerance = 1e-4 if elem == "f32" else 1e-11
    np.testing.assert_allclose(c, want, rtol=tolerance, atol=tolerance * k**0.5)


def test_unknown_forced_isa_is_refused(monkeypatch):
    monkeypatch.setenv(gemm_kernel.ISA_ENVIRONMENT, "sse2")
    with pytest.raises(ValueError, match="TGC_GEMM_ISA='sse2'.*avx2, avx512"):
        gemm_kernel.shape_for("f32")


# ---- graphs through the CPU pipeline --------------------------------------------------------


@pytest.fixture
def codegen(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")


def _session_run(fetches, feeds):
    with tf.Session() as sess:
        return sess.run(fetches, feeds)


@pytest.mark.parametrize("isa", ["avx512", "avx2"])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, True)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_session_matmul_with_unknown_dims(codegen, monkeypatch, isa, ta, tb, dtype):
    monkeypatch.setenv(gemm_kernel.ISA_ENVIRONMENT, isa)
    tf.reset_default_graph()
    x = tf.placeholder(getattr(tf, dtype), [None, None])
    w = tf.placeholder(getattr(tf, dtype), [None, None])
    y = tf.matmul(x, w, transpose_a=ta, transpose_b=tb)
    for m, k, n in [(1, 1, 1), (7, 5, 13), (33, 17, 65), (1, 40, 30), (30, 40, 1), (4, 0, 3)]:
        a = RNG.standard_normal((k, m) if ta else (m, k)).astype(dtype)
        b = RNG.standard_normal((n, k) if tb else (k, n)).astype(dtype)
        got = _session_run(y, {x: a, w: b})
        want = (a.T if ta else a) @ (b.T if tb else b)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_session_batch_matmul_with_unknown_batch(codegen):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 9, 20])
    w = tf.placeholder(tf.float32, [None, 17, 20])
    y = tf.matmul(x, w, transpose_b=True)
    a = RNG.standard_normal((3, 9, 20)).astype(np.float32)
    b = RNG.standard_normal((3, 17, 20)).astype(np.float32)
    got = _session_run(y, {x: a, w: b})
    np.testing.assert_allclose(got, a @ b.transpose(0, 2, 1), rtol=1e-5, atol=1e-5)


def test_pipeline_calls_the_generated_kernel_not_blas(codegen):
    from tgc.lowering.cpu.target import CPU

    passes = CPU.pipeline_elements(for_session=True)
    blas = [p for p in passes if getattr(p, "name", "") == "tgc-blas-matmul"]
    # Through the parallel runtime's driver (parallel_gemm.py) where it could be built.
    assert [p.spec() for p in blas] == [
        "tgc-blas-matmul{gemm=codegen kernel=external parallel=true}"
    ]
    # An artifact without --blas takes the generated kernel whatever TGC_GEMM says.
    artifact = CPU.pipeline_elements(for_session=False, external_libraries=False)
    specs = [p.spec() for p in artifact if hasattr(p, "spec")]
    assert "tgc-blas-matmul{gemm=codegen parallel=true}" in specs


def _two_layer(seed=3):
    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    y = tf.placeholder(tf.float32, [None, 10], name="y")
    w1 = tf.Variable(tf.random_normal((64, 100), stddev=0.1), name="w1")
    w2 = tf.Variable(tf.random_normal((100, 10), stddev=0.1), name="w2")
    h = tf.nn.relu(tf.matmul(x, w1))
    logits = tf.matmul(h, w2, name="logits")
    loss = tf.reduce_mean(
        tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss"
    )
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    return x, y, loss, train


def _batches(n=5, size=37):
    rng = np.random.default_rng(5)
    return [
        (
            rng.standard_normal((size, 64)).astype(np.float32),
            np.eye(10, dtype=np.float32)[rng.integers(0, 10, size)],
        )
        for _ in range(n)
    ]


def _losses(sess, x, y, loss, train):
    sess.run(tf.global_variables_initializer())
    return [sess.run([loss, train], {x: xs, y: ys})[0] for xs, ys in _batches()]


def test_two_layer_training_matches_the_blas_path(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "blas")
    x, y, loss, train = _two_layer()
    with tf.Session() as sess:
        blas = _losses(sess, x, y, loss, train)
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    x, y, loss, train = _two_layer()
    with tf.Session() as sess:
        generated = _losses(sess, x, y, loss, train)
    np.testing.assert_allclose(generated, blas, rtol=1e-5)


def test_artifact_without_blas_trains_as_the_blas_session(tmp_path, monkeypatch):
    from test_aot import compile_artifact

    from tgc.runtime.artifact import load

    x, y, loss, train = _two_layer()
    directory = compile_artifact(["loss", "train"], None, str(tmp_path))
    art = load(directory)
    monkeypatch.setenv(GEMM_ENVIRONMENT, "blas")
    with tf.Session() as sess:
        want = _losses(sess, x, y, loss, train)
    got = [float(art(x=xs, y=ys)["loss"]) for xs, ys in _batches()]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    # The library carries the generated kernel and refers to no BLAS symbol.
    (ir_file,) = [f for f in os.listdir(directory) if f.endswith(".ll")]
    (library,) = [f for f in os.listdir(directory) if f.endswith(".so")]
    with open(os.path.join(directory, ir_file)) as fh:
        assert "@tgc_gemm_f32_" in fh.read()
    with open(os.path.join(directory, library), "rb") as fh:
        binary = fh.read()
    assert b"cblas" not in binary and b"openblas" not in binary


def _convnet_losses():
    tf.reset_default_graph()
    tf.set_random_seed(4)
    x = tf.placeholder(tf.float32, [None, 12, 12, 1])
    y = tf.placeholder(tf.float32, [None, 10])
    k1 = tf.Variable(tf.random_normal((5, 5, 1, 8), stddev=0.2))
    k2 = tf.Variable(tf.random_normal((3, 3, 8, 16), stddev=0.2))
    w = tf.Variable(tf.random_normal((3 * 3 * 16, 10), stddev=0.1))
    h = tf.nn.relu(tf.nn.conv2d(x, k1, [1, 1, 1, 1], "SAME"))
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = tf.nn.relu(tf.nn.conv2d(h, k2, [1, 1, 1, 1], "SAME"))
    h = tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    logits = tf.matmul(tf.reshape(h, [-1, 3 * 3 * 16]), w)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    rng = np.random.default_rng(9)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = []
        for _ in range(4):
            xs = rng.standard_normal((6, 12, 12, 1)).astype(np.float32)
            ys = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 6)]
            out.append(sess.run([loss, train], {x: xs, y: ys})[0])
        return out


def test_convnet_training_matches_the_blas_path(monkeypatch):
    monkeypatch.setenv(GEMM_ENVIRONMENT, "blas")
    blas = _convnet_losses()
    monkeypatch.setenv(GEMM_ENVIRONMENT, "codegen")
    np.testing.assert_allclose(_convnet_losses(), blas, rtol=1e-5)


def test_an_unknown_callee_is_refused_naming_the_choices():
    from tgc.dialect.context import make_context
    from tgc.lowering.cpu.blas import BlasMatmulPass
    from tgc.passes.base import PassFailure

    text = (
        "func.func @f(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {\n"
        '  linalg.matmul {tgc.gemm = "mkl"} ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) '
        "outs(%c : memref<4x16xf32>)\n  return\n}\n"
    )
    with make_context(), ir.Location.unknown():
        module = ir.Module.parse(text)
        with pytest.raises(PassFailure, match="unknown GEMM callee 'mkl'.*blas, codegen"):
            BlasMatmulPass().run(module)
        with pytest.raises(PassFailure, match="unknown GEMM callee 'eigen'"):
            BlasMatmulPass(gemm="eigen").run(module)


@pytest.mark.parametrize(
    "elem, isa, m, n, tile",
    [
        ("f32", "avx512", 196, 64, (6, 64)),  # the convnet's conv2 (per image)
        ("f32", "avx512", 64, 1024, (6, 64)),
        ("f32", "avx512", 63, 64, (8, 48)),  # few rows: the 6-row tiles' padding costs
        ("f32", "avx512", 196, 80, (8, 48)),  # N not a multiple of 64
        ("f32", "avx512", 196, 0, (8, 48)),
        ("f32", "avx512", None, 64, (8, 48)),  # unknown sizes
        ("f32", "avx512", 196, None, (8, 48)),
        ("f64", "avx512", 196, 64, (8, 24)),  # measured for f32 only
        ("f32", "avx2", 196, 64, (6, 16)),
    ],
)
def test_the_wide_tile_is_chosen_by_cs_known_shape(elem, isa, m, n, tile):
    shape = gemm_kernel.shape_for_matmul(elem, isa, m, n)
    assert (shape.mr, shape.nr) == tile
    assert gemm_kernel.shape_of_symbol(shape.symbol) == shape  # the in-process library finds it


def test_a_session_matmul_of_a_multiple_of_64_columns_calls_the_wide_kernel(codegen, monkeypatch):
    from tgc.lowering.cpu import gemm_library

    monkeypatch.setenv(gemm_kernel.ISA_ENVIRONMENT, "avx512")
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [196, 800])
    w = tf.placeholder(tf.float32, [800, 64])
    a = RNG.standard_normal((196, 800)).astype(np.float32)
    b = RNG.standard_normal((800, 64)).astype(np.float32)
    got = _session_run(tf.matmul(x, w), {x: a, w: b})
    np.testing.assert_allclose(got, a @ b, rtol=1e-4, atol=1e-3)
    assert "tgc_gemm_f32_6x64v16" in gemm_library._KERNELS


def test_a_blocking_of_partial_tiles_is_refused():
    with pytest.raises(ValueError, match="MC of MR"):
        gemm_kernel.GemmShape("f32", 16, 14, 32, 512, 2048, 256)
    with pytest.raises(ValueError, match="NR must be a multiple of the vector lanes"):
        gemm_kernel.GemmShape("f32", 16, 14, 24, 512, 3066, 240)


@pytest.mark.parametrize(
    "cpu, symbol",
    [("znver3", "tgc_gemm_f32_6x16v8"), ("skylake-avx512", "tgc_gemm_f32_8x48v16")],
)
def test_an_artifact_for_another_cpu_gets_that_cpus_blocking(tmp_path, cpu, symbol):
    from tgc.dialect.context import make_context
    from tgc.driver import aot
    from tgc.frontend.export import export_graph
    from tgc.tools.compile_cmd import mlir_module

    tf.reset_default_graph()
    # 40 columns: wider than one vector, so the GEMM is the blocked kernel's, not tgc-narrow-gemm's.
    x = tf.placeholder(tf.float32, [None, 20], name="x")
    tf.matmul(x, tf.Variable(np.ones((20, 40), np.float32)), name="scores")
    export_graph(["scores"], path=str(tmp_path / "g.mlir"))
    options = aot.Options(aot.Machine(None, cpu))
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(str(tmp_path / "g.mlir"))(), "llvm-ir", options)
    assert f"@{symbol}(" in lowered.stages["llvm-ir"]


@pytest.mark.parametrize(
    "cpu, symbol",
    [("znver3", "tgc_gemm_f32_6x16v8"), ("skylake-avx512", "tgc_gemm_f32_6x64v16")],
)
def test_an_artifact_for_another_cpu_gets_that_cpus_tile_for_a_known_shape(tmp_path, cpu, symbol):
    from tgc.dialect.context import make_context
    from tgc.driver import aot
    from tgc.frontend.export import export_graph
    from tgc.tools.compile_cmd import mlir_module

    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [128, 20], name="x")
    tf.matmul(x, tf.Variable(np.ones((20, 64), np.float32)), name="scores")
    export_graph(["scores"], path=str(tmp_path / "g.mlir"))
    options = aot.Options(aot.Machine(None, cpu))
    with make_context(), ir.Location.unknown():
        lowered = aot.lower_module(mlir_module(str(tmp_path / "g.mlir"))(), "llvm-ir", options)
    assert f"@{symbol}(" in lowered.stages["llvm-ir"]


def test_an_unknown_kernel_isa_is_refused():
    from tgc.dialect.context import make_context
    from tgc.lowering.cpu.blas import BlasMatmulPass
    from tgc.passes.base import PassFailure

    with make_context(), ir.Location.unknown():
        module = ir.Module.parse("func.func @f() {\n  return\n}\n")
        with pytest.raises(PassFailure, match="unknown ISA 'sse4'.*avx2, avx512"):
            BlasMatmulPass(gemm="codegen", isa="sse4").run(module)


def test_the_kernel_ab_benchmark_builds_this_checkouts_kernel_and_it_matches_numpy(
    tmp_path, monkeypatch
):
    """benchmarks/gemm_kernel_ab.py builds kernels through gemm_library's internals: it must keep
    up with them (it broke once when _Lowering started taking the kernel's text)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gemm_kernel_ab.py"
    spec = importlib.util.spec_from_file_location("gemm_kernel_ab_under_test", path)
    ab = importlib.util.module_from_spec(spec)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # the module sets it: put back after the test
    spec.loader.exec_module(ab)
    kernel = ab.load_kernel_module(str(ab.REPO / ab.KERNEL_PATH), "gk_under_test")
    run = ab.build_kernel(kernel, str(tmp_path), "this")
    rng = np.random.default_rng(7)
    a = rng.standard_normal((70, 50)).astype(np.float32)
    b = rng.standard_normal((50, 90)).astype(np.float32)
    c = np.full((70, 90), np.nan, np.float32)
    run(a, b, c)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-4)
