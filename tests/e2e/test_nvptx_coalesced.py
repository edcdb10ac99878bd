"""Elementwise kernels on the GPU put the buffers' contiguous (last) dim on threadIdx.x / blockIdx.x
(tgc-nvptx-contiguous-dim-first), so a warp reads consecutive elements of a row (a long 1-d loop:
rows of 32 elements, 256-thread blocks), and every launch stays inside the GPU's grid limits (y and
z at most 65535 blocks): a wide tensor (its columns on x) and a tall one (too many rows for y: one
loop over the flat element index, as for a last dim narrower than a warp). Checked at the gpu level
(the launches' grid and block, the kernel's indices), numerically on nvptx-emulated against numpy,
and through `ptxas -arch=sm_90`. No GPU is needed; none has timed it yet."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from tgc.dialect import targets
from tgc.lowering.nvptx.contiguous_dim_first import MAX_GRID
from tgc.tools.cli import main

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")

# Past what the old 16x16 tiles allowed on y (65535 * 16 = 1_048_560 rows or columns).
LONG = 1_100_000


def _add(shape: tuple) -> str:
    t = f"tensor<{'x'.join(map(str, shape))}xf32>"
    return f"""
func.func @main(%x: {t}, %y: {t}) -> {t} {{
  %z = "tgc.add"(%x, %y) : ({t}, {t}) -> {t}
  return %z : {t}
}}
"""


def _compile(tmp_path, module: str, emit: str) -> str:
    source = tmp_path / "model.mlir"
    source.write_text(module)
    result = CliRunner().invoke(
        main,
        ["compile", str(source), "--target", "nvptx", "--emit", emit],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _launch_sizes(gpu_ir: str) -> list:
    """(grid, block) of each gpu.launch_func, from the host's index constants."""
    constants = dict(re.findall(r"(%c\w*) = arith\.constant (\d+) : index", gpu_ir))
    sizes = []
    for grid, block in re.findall(
        r"gpu\.launch_func .* blocks in \(([^)]*)\) threads in \(([^)]*)\)", gpu_ir
    ):
        sizes.append(
            tuple([int(constants[v.strip()]) for v in part.split(",")] for part in (grid, block))
        )
    return sizes


def _kernel_indices(gpu_ir: str) -> tuple:
    """The SSA names of thread x's global index and the add's (row, column) load indices."""
    x_index = re.search(r"(%\d+) = arith\.addi %thread_id_x, ", gpu_ir).group(1)
    row, column = re.search(r"memref\.load %arg\d+\[(%\d+), (%\d+)\]", gpu_ir).groups()
    return x_index, row, column


def test_a_2d_elementwise_kernel_has_the_last_dim_on_x_in_blocks_of_32_by_8(tmp_path):
    gpu_ir = _compile(tmp_path, _add((37, 50)), "gpu")
    # 50 columns: 2 blocks of 32 on x; 37 rows: 5 blocks of 8 on y.
    assert _launch_sizes(gpu_ir) == [([2, 5, 1], [32, 8, 1])]
    x_index, row, column = _kernel_indices(gpu_ir)
    assert column == x_index and row != x_index  # consecutive threads, consecutive columns


@pytest.mark.parametrize(
    "shape, grid, block",
    [
        # Wide: the columns on x (34375 blocks); the old order had them on y, past 65535.
        ((2, LONG), [LONG // 32, 1, 1], [32, 8, 1]),
        # Tall and narrow: LONG rows on y would be 137500 blocks of 8, and 2 columns would leave
        # 30 of each warp's 32 threads idle: rows of 32 elements of the flat index.
        ((LONG, 2), [1, 8594, 1], [32, 8, 1]),
        # Tall past 65535 blocks of 256 elements: the flat index in blocks of 32 on x.
        ((2_000_000, 16), [1_000_000, 1, 1], [32, 1, 1]),
        # Rank 3: reversed, the leading dim on z with blocks of 1.
        ((3, 5, 70), [3, 1, 3], [32, 8, 1]),
        # 1-d: rows of 32 elements, 8 rows a block (32 rows of 32 cover 1000).
        ((1000,), [1, 4, 1], [32, 8, 1]),
        # 1-d past 65535 blocks of 256 on y: blocks of 32 on x.
        ((17_000_000,), [531_250, 1, 1], [32, 1, 1]),
    ],
)
def test_wide_tall_rank3_and_1d_launches_stay_inside_the_grid_limits(tmp_path, shape, grid, block):
    gpu_ir = _compile(tmp_path, _add(shape), "gpu")
    ((got_grid, got_block),) = _launch_sizes(gpu_ir)
    assert (got_grid, got_block) == (grid, block)
    assert all(n <= most for n, most in zip(got_grid, MAX_GRID))


def _emulated_add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    import tgc as tf

    config = tf.ConfigProto(device_count={"GPU": 1})
    with tf.Graph().as_default(), targets.selected("nvptx-emulated"), tf.device("/gpu:0"):
        a = tf.placeholder(tf.float32, x.shape)
        b = tf.placeholder(tf.float32, y.shape)
        total = tf.add(tf.exp(a), b)
        with tf.Session(config=config) as sess:
            got = sess.run(total, {a: x, b: y})
            (run,) = sess._cache.values()
    assert run.target == "nvptx-emulated"  # the GPU's kernels and launch plan, run on the host
    return got


# Reversed (37x50, wide, rank 3), flattened into rows (tall, narrow rank 3, 1-d), flattened into
# blocks of 32 (a narrow rank 3 within one block; 17M elements, too many rows for y).
NUMERIC_SHAPES = [
    (37, 50),
    (2, LONG),
    (LONG, 2),
    (3, 5, 70),
    (100, 7, 3),
    (7, 11, 3),
    (1000,),
    (LONG,),
    (1_062_500, 16),
]


@pytest.mark.parametrize("shape", NUMERIC_SHAPES)
def test_the_reordered_kernels_match_numpy_on_nvptx_emulated(shape):
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_allclose(_emulated_add(x, y), np.exp(x) + y, rtol=1e-6, atol=1e-6)


@needs_ptxas
@pytest.mark.parametrize("shape", [(37, 50), (2, LONG), (LONG, 2), (3, 5, 70), (1000,), (7, 11, 3)])
def test_the_reordered_kernels_pass_ptxas(tmp_path, shape):
    path = tmp_path / "kernels.ptx"
    path.write_text(_compile(tmp_path, _add(shape), "ptx"))
    done = subprocess.run(
        [PTXAS, "-arch=sm_90", str(path), "-o", str(tmp_path / "kernels.cubin")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
