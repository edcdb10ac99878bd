"""The GPU's tiled matmul (tgc-nvptx-tile-matmul): shared-memory tiles, a register micro-tile per
thread. ptxas accepts its PTX for sm_90 without spills; run on the host (nvptx-emulated: the same
kernel, its barriers splitting it into phases over the block's threads) it matches float64 numpy
on square, odd, tiny and transposed shapes, in f32 and f64. No GPU is needed."""

import re

import numpy as np
import pytest

from nvptx_checks import compile_nvptx, needs_ptxas, ptxas_info, session_run


def _matmul_module(m: int, n: int, k: int, ta: bool, tb: bool, dtype: str = "f32") -> str:
    a = f"tensor<{k}x{m}x{dtype}>" if ta else f"tensor<{m}x{k}x{dtype}>"
    b = f"tensor<{n}x{k}x{dtype}>" if tb else f"tensor<{k}x{n}x{dtype}>"
    c = f"tensor<{m}x{n}x{dtype}>"
    flags = f"transpose_a = {str(ta).lower()}, transpose_b = {str(tb).lower()}"
    return f"""
func.func @main(%a: {a}, %b: {b}) -> {c} {{
  %c = "tgc.matmul"(%a, %b) {{{flags}}} : ({a}, {b}) -> {c}
  return %c : {c}
}}
"""


@needs_ptxas
@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_the_4096_gemm_kernel_uses_shared_memory_fma_and_no_spills(tmp_path, dtype):
    module = _matmul_module(4096, 4096, 4096, False, False, dtype)
    ptx = compile_nvptx(tmp_path, module, "--emit", "ptx")
    width = dtype[1:]
    # f32: 128x128 tiles, 8x8 per thread, K steps of 8: 8 * 64 FMAs per step, unrolled; two
    # tiles of 8 rows of 128 + 4 floats (16 bytes of padding: no bank conflicts) in shared
    # memory. f64: 64x64 tiles of 4x4: 8 * 16 FMAs, rows of 64 + 2 doubles.
    fmas, smem = (512, 8448) if dtype == "f32" else (128, 8448)
    assert len(re.findall(rf"\bfma\.rn\.f{width}\b", ptx)) == fmas
    assert "bar.sync" in ptx
    info = ptxas_info(tmp_path, ptx)
    assert f"{smem} bytes smem" in info
    assert " 0 bytes spill stores" in info


def test_the_launch_shows_the_grid_and_block_of_the_tiles(tmp_path):
    gpu = compile_nvptx(tmp_path, _matmul_module(300, 200, 64, False, False), "--emit", "gpu")
    # The zero fill (16x16 tiles), then the product: ceil(200/128) x ceil(300/128) blocks of
    # 16x16 threads, its constants inside the kernel (only the three buffers are parameters).
    launches = re.findall(r"gpu\.launch_func .*", gpu)
    assert len(launches) == 2
    assert "blocks in (%c2, %c3, %c1) threads in (%c16, %c16, %c1)" in launches[1]
    assert len(re.findall(r": memref<", launches[1])) == 3
    assert ": index" not in launches[1]


def _run_on_host(a: np.ndarray, b: np.ndarray, ta: bool, tb: bool) -> np.ndarray:
    def product(tf, fed):
        return tf.matmul(fed["a"], fed["b"], transpose_a=ta, transpose_b=tb)

    return session_run(product, {"a": a, "b": b})


# Square, one tile (no bound tests); odd sizes on every dim; tiny; K not a multiple of 8; several
# blocks each way; rows and K the tiles divide (tested columns only).
SHAPES = [(128, 128, 128), (37, 50, 21), (1, 1, 1), (3, 5, 7), (130, 260, 19), (256, 50, 16)]


@pytest.mark.parametrize("m, n, k", SHAPES)
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_the_tiled_schedule_matches_float64_numpy_on_the_host(m, n, k, ta, tb):
    rng = np.random.default_rng(m * 7 + n * 3 + k)
    a64 = rng.standard_normal((k, m) if ta else (m, k))
    b64 = rng.standard_normal((n, k) if tb else (k, n))
    a, b = a64.astype(np.float32), b64.astype(np.float32)
    got = _run_on_host(a, b, ta, tb)
    want = (a.astype(np.float64).T if ta else a) @ (b.astype(np.float64).T if tb else b)
    assert got.dtype == np.float32 and got.shape == (m, n)
    # f32 products summed over k in order: each term rounds at most 2^-24 relative, so the
    # error is below k * 2^-23 * sum |a||b| (a loose bound; unit-normal data keeps it small).
    scale = np.abs(a.T if ta else a).astype(np.float64) @ np.abs(b.T if tb else b)
    np.testing.assert_array_less(np.abs(got - want), k * 2.0**-23 * scale + 1e-30)


def test_f64_runs_its_own_tiles_to_float64_precision_on_the_host():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((70, 33)), rng.standard_normal((70, 90))
    got = _run_on_host(a, b, True, False)
    np.testing.assert_allclose(got, a.T @ b, rtol=1e-12, atol=1e-12)
