"""TF32 tensor cores for f32 matmuls on the GPU (tgc-nvptx-mma-matmul), opt-in with
`tgc compile --allow-tf32`: the PTX has mma.sync m16n8k8 .tf32 and cp.async copies and ptxas
accepts it for sm_90 (no spills; its stages in dynamic shared memory) on square, odd, tiny and
transposed shapes; without the flag the FMA kernel stays. The flag reaches the pipeline, the
manifest and `tgc inspect`; the CPU target refuses it; TF's switch
(tf.config.experimental.enable_tensor_float_32_execution) turns it on for sessions and programs.
On nvptx-emulated (the same kernel on the host, its mma.sync and cp.async emulated) the result is
the float64 product of the operands cut to TF32 within float32 summation, on odd, tiny,
transposed and divisible shapes. On a GPU the artifact's and a session's results are checked
against float64 numpy with TF32's tolerance; without one those tests are skipped."""

import json
import pathlib
import re

import jsonschema

import numpy as np
import pytest
from click.testing import CliRunner

import tgc.runtime
from tgc.dialect import targets
from tgc.lowering.nvptx import mma_matmul
from tgc.lowering.nvptx.mma_kernel import DYNAMIC_SHARED_BYTES
from tgc.lowering.nvptx.mma_matmul import MmaMatmulPass, MmaTiles
from tgc.lowering.nvptx.tile_matmul import TileMatmulPass
from tgc.runtime import cuda_device
from tgc.tools.cli import main

from nvptx_checks import compile_nvptx, invoke_compile, needs_ptxas, ptxas_info, session_run

CUDA_STATUS = cuda_device.cuda_status()
needs_gpu = pytest.mark.skipif(CUDA_STATUS is not None, reason=CUDA_STATUS or "")

MMA = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32"


def _matmul_module(m: int, n: int, k: int, ta: bool = False, tb: bool = False) -> str:
    a = f"tensor<{k}x{m}xf32>" if ta else f"tensor<{m}x{k}xf32>"
    b = f"tensor<{n}x{k}xf32>" if tb else f"tensor<{k}x{n}xf32>"
    c = f"tensor<{m}x{n}xf32>"
    flags = f"transpose_a = {str(ta).lower()}, transpose_b = {str(tb).lower()}"
    return f"""
func.func @main(%a: {a}, %b: {b}) -> {c}
    attributes {{tgc.feed_names = ["a", "b"], tgc.fetch_names = ["c"]}} {{
  %c = "tgc.matmul"(%a, %b) {{{flags}}} : ({a}, {b}) -> {c}
  return %c : {c}
}}
"""


@needs_ptxas
def test_the_4096_gemm_runs_on_tf32_tensor_cores_fed_by_cp_async(tmp_path):
    ptx = compile_nvptx(tmp_path, _matmul_module(4096, 4096, 4096), "--allow-tf32", "--emit", "ptx")
    # 4 warps of 4x8 mma tiles (64x64), K steps of 32 (four k8 steps), unrolled: 128 mma.sync.
    assert len(re.findall(re.escape(MMA), ptx)) == 128
    assert "fma.rn.f32" not in ptx
    # Plain B (ldmatrix transposes 16-bit values only) makes the mma compute C^T = B^T A^T: B's
    # fragments are 8-byte pairs (2 a 16-column block and k8 step: 4 x 2 x 4), A's (rows along k)
    # one ldmatrix x2 an 8-row block and k8 step (8 x 4); no scalar shared load.
    assert len(re.findall(r"ldmatrix\.sync\.aligned\.m8n8\.x2\.shared\.b16", ptx)) == 32
    assert len(re.findall(r"ld\.shared\.v2\.b32", ptx)) == 32
    assert not re.search(r"ld\.shared\.(b32|f32)", ptx)
    # C's zero fill is gone (the accumulators start at zero): one kernel, which never loads C.
    assert ptx.count(".entry") == 1 and "ld.global" not in ptx
    # 4096 is a multiple of every tile: 16-byte copies only (8 per operand and thread), for the
    # first two tiles before the loop (three stages) and the third ahead in it; one barrier per
    # K step, and the loop waits for its own tile only (one group stays in flight).
    assert len(re.findall(r"cp\.async\.cg\.shared\.global \[[^]]+\], \[[^]]+\], 16", ptx)) == 48
    assert re.search(r"cp\.async\.wait_group\s+1;", ptx)
    # Past the last K tile the prefetch fetches it again (a min of k, no test): every copy reads
    # its 16 bytes, none a selected source size (as a test of k against K would give).
    whole = r"cp\.async\.cg\.shared\.global \[[^]]+\], \[[^]]+\], 16, 16;"
    assert len(re.findall(whole, ptx)) == 48
    assert "cp.async.ca" not in ptx
    assert ptx.count("bar.sync") == 1
    # The stages are dynamic shared memory (16-byte aligned: the 16-byte copies), no
    # workgroup attribution; MLIR declares its symbol as one static byte.
    assert len(re.findall(r"\.shared \.align 16 \.b8 __dynamic_shmem__0;", ptx)) == 1
    assert "__wg_" not in ptx
    info = ptxas_info(tmp_path, ptx)
    assert "1 bytes smem" in info
    assert " 0 bytes spill stores" in info


@needs_ptxas
def test_without_allow_tf32_the_fma_kernel_stays(tmp_path):
    ptx = compile_nvptx(tmp_path, _matmul_module(256, 256, 64), "--emit", "ptx")
    assert "mma.sync" not in ptx and "cp.async" not in ptx
    assert len(re.findall(r"\bfma\.rn\.f32\b", ptx)) == 512


# Odd sizes on every dim, tiny, K below one step, several blocks, each transpose.
SHAPES = [
    (37, 50, 21, False, False),
    (130, 260, 19, True, False),
    (256, 384, 96, False, True),
    (3, 5, 7, True, True),
    (1000, 999, 777, True, False),
    (1, 1, 1, False, False),
]


@needs_ptxas
@pytest.mark.parametrize("m, n, k, ta, tb", SHAPES)
def test_any_shape_and_transpose_assembles_with_zero_filled_copies(tmp_path, m, n, k, ta, tb):
    ptx = compile_nvptx(tmp_path, _matmul_module(m, n, k, ta, tb), "--allow-tf32", "--emit", "ptx")
    assert MMA in ptx and "fma.rn.f32" not in ptx
    # Past M, N or K a copy reads nothing (source size 0 or 4: a select) and fills zeros.
    if (m % 128, n % 128, k % 16) != (0, 0, 0):
        assert re.search(r"cp\.async\.ca\.shared\.global \[[^]]+\], \[[^]]+\], 4, %r", ptx)
    info = ptxas_info(tmp_path, ptx)
    assert " 0 bytes spill stores" in info
    # The stages are dynamic: the one static byte is MLIR's symbol for them.
    assert [int(s) for s in re.findall(r"(\d+) bytes smem", info)] == [1]


def test_every_transpose_fits_99_kib_of_dynamic_shared_memory_with_the_default_tiles():
    tiles = MmaTiles()
    sizes = {t: tiles.shared_bytes(t) for t in [(False, False), (True, False), (False, True)]}
    # A (m, k): 128 rows of 32 floats, A^T (k, m) 32 rows of 128; likewise B; unpadded (the
    # tiles are swizzled instead); 3 stages: 96 KiB, which every GPU from sm_80 gives a block
    # (sm_86/89: 99 KiB) and two blocks share an sm_80/sm_90 SM's 164/228 KiB.
    assert set(sizes.values()) == {3 * 4 * 32 * (128 + 128)} == {98304}
    assert max(sizes.values()) <= 99 * 1024 <= DYNAMIC_SHARED_BYTES


def test_the_pass_shows_in_the_pipeline_only_with_the_flag(tmp_path):
    with_flag = compile_nvptx(tmp_path, _matmul_module(8, 8, 8), "--allow-tf32", "--print-pipeline")
    assert "tgc-nvptx-mma-matmul{allow-tf32=true},tgc-nvptx-tile-matmul" in with_flag
    assert "tgc-nvptx-mma-matmul" not in compile_nvptx(
        tmp_path, _matmul_module(8, 8, 8), "--print-pipeline"
    )


def test_the_cpu_target_refuses_the_flag(tmp_path):
    result = invoke_compile(
        tmp_path, _matmul_module(8, 8, 8), "--allow-tf32", "-o", str(tmp_path / "a")
    )
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "tgc compile: error: --allow-tf32 is an option of GPU targets (nvptx): the cpu target "
        "has no TF32 tensor cores"
    )


def test_the_flag_takes_no_value(tmp_path):
    result = invoke_compile(
        tmp_path, _matmul_module(8, 8, 8), "--target", "nvptx", "--allow-tf32=yes"
    )
    assert result.exit_code == 2
    assert "Option '--allow-tf32' does not take a value." in result.output


def _artifact(tmp_path, module: str, *args):
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "artifact"
    compile_nvptx(tmp_path, module, *args, "-o", str(path))
    return path


def test_the_manifest_records_the_flag_and_inspect_shows_it(tmp_path):
    on = _artifact(tmp_path / "on", _matmul_module(37, 50, 21), "--allow-tf32")
    off = _artifact(tmp_path / "off", _matmul_module(37, 50, 21))
    assert json.loads((on / "manifest.json").read_text())["target"]["allow_tf32"] is True
    assert json.loads((off / "manifest.json").read_text())["target"]["allow_tf32"] is False
    shown = CliRunner().invoke(main, ["inspect", str(on)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    assert "target   nvptx (nvptx64-nvidia-cuda gpu=sm_90 -O3, float32 matmuls in TF32 " in (
        shown.output
    )
    plain = CliRunner().invoke(main, ["inspect", str(off)], catch_exceptions=False).output
    assert "TF32" not in plain


def test_the_launch_plan_carries_the_kernels_dynamic_shared_bytes(tmp_path, monkeypatch):
    # The default tiles' 96 KiB, and 128 KiB with four stages: past the 48 KiB a kernel may
    # declare, which the CUDA runtime opts the kernel into (tests/unit/test_cuda_device.py).
    for tiles, nbytes in [(MmaTiles(), 98304), (MmaTiles(stages=4), 131072)]:
        monkeypatch.setattr(mma_matmul, "DEFAULT_TILES", tiles)
        path = _artifact(tmp_path / str(nbytes), _matmul_module(300, 200, 100), "--allow-tf32")
        manifest = json.loads((path / "manifest.json").read_text())
        schema = json.loads(
            (pathlib.Path(tgc.runtime.__file__).parent / "gpu_manifest.schema.json").read_text()
        )
        jsonschema.validate(manifest, schema)
        [plan] = manifest["launch_plan"]["functions"].values()
        [launch] = [step["launch"] for step in plan["steps"] if "launch" in step]
        assert launch["grid"] == [2, 3, 1] and launch["block"] == [128, 1, 1]
        assert launch["shared_bytes"] == nbytes


def _mma_passes(target) -> list:
    return [p for p in target.pipeline_elements(for_session=True) if isinstance(p, MmaMatmulPass)]


def test_the_emulated_target_emulates_the_tensor_core_kernel():
    # The host runs a block's threads one after another: its mma.sync and cp.async are emulated.
    emulated = targets.get("nvptx-emulated").with_options(allow_tf32=True)
    assert _mma_passes(emulated) == [MmaMatmulPass(allow_tf32=True, emulated=True)]
    gpu = targets.get("nvptx").with_options(allow_tf32=True)
    assert _mma_passes(gpu) == [MmaMatmulPass(allow_tf32=True)]
    passes = [type(p) for p in gpu.pipeline_elements(for_session=True)]
    assert passes.index(MmaMatmulPass) == passes.index(TileMatmulPass) - 1


def _tf32(x: np.ndarray) -> np.ndarray:
    """float32 cut to TF32: the low 13 mantissa bits cleared."""
    return (x.view(np.int32) & np.int32(-8192)).view(np.float32)


def _session_matmul(a, b, ta: bool, tb: bool, target: str | None = None) -> np.ndarray:
    def product(tf, fed):
        return tf.matmul(fed["a"], fed["b"], transpose_a=ta, transpose_b=tb)

    return session_run(product, {"a": a, "b": b}, target)


# Odd sizes with B transposed (bound tests, 4-byte copies), A transposed over two K steps and
# several blocks, tiny with both, and a shape the tiles divide (16-byte copies, the prefetch's k
# test) over two K steps.
EMULATED_SHAPES = [
    (37, 50, 21, False, True),
    (130, 260, 19, True, False),
    (3, 5, 7, True, True),
    (128, 128, 32, False, False),
]


@pytest.mark.parametrize("m, n, k, ta, tb", EMULATED_SHAPES)
def test_emulated_tf32_is_the_product_of_the_cut_operands(tf32_switch, m, n, k, ta, tb):
    tf32_switch.enable_tensor_float_32_execution(True)
    _check_emulated_product(m, n, k, ta, tb)


def _check_emulated_product(m: int, n: int, k: int, ta: bool, tb: bool) -> None:
    rng = np.random.default_rng(m * 7 + n * 3 + k)
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    got = _session_matmul(a, b, ta, tb, "nvptx-emulated")
    a64, b64 = _tf32(a).astype(np.float64), _tf32(b).astype(np.float64)
    a64, b64 = (a64.T if ta else a64), (b64.T if tb else b64)
    # Products of TF32 values are exact in float32; k float32 sums round by 2^-24 each: every
    # product is there once (a missed or doubled one would be off by far more).
    scale = np.abs(a64) @ np.abs(b64)
    np.testing.assert_array_less(np.abs(got - a64 @ b64), k * 2.0**-24 * scale + 1e-30)
    # ... and TF32 it is: the float32 operands' product is further away than float32 rounding.
    exact = (a.astype(np.float64).T if ta else a) @ (b.astype(np.float64).T if tb else b)
    assert np.max(np.abs(got - exact) / scale) > 2.0**-14


# Other tiles than the default, each swizzled its own way: gpu_check's 8 warps of 64x32 (16-byte
# copies, three K steps), K steps of 8 in four stages, and of 32 on 64x64 blocks (to fit the
# 48 KiB; odd shapes: bound tests).
OTHER_TILES = [
    (MmaTiles(warps_m=2, warps_n=4), (128, 128, 48, False, False)),
    (MmaTiles(bk=8, stages=4), (45, 70, 29, True, False)),
    (MmaTiles(bm=64, bn=64, bk=32, stages=2), (60, 33, 70, False, True)),
]


@pytest.mark.parametrize("tiles, shape", OTHER_TILES, ids=lambda x: str(x))
def test_emulated_tf32_with_other_tiles_is_the_product_too(tf32_switch, monkeypatch, tiles, shape):
    monkeypatch.setattr(mma_matmul, "DEFAULT_TILES", tiles)
    tf32_switch.enable_tensor_float_32_execution(True)
    _check_emulated_product(*shape)


@needs_gpu
@pytest.mark.parametrize("m, n, k, ta, tb", SHAPES + [(512, 512, 512, False, False)])
def test_on_a_gpu_tf32_matches_float64_numpy_within_tf32_rounding(tmp_path, m, n, k, ta, tb):
    path = _artifact(tmp_path, _matmul_module(m, n, k, ta, tb), "--allow-tf32")
    rng = np.random.default_rng(m + n + k)
    a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    art = tgc.runtime.load(str(path))
    try:
        got = art(a=a, b=b)["c"]
    finally:
        art.close()
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    want = (a64.T if ta else a64) @ (b64.T if tb else b64)
    # Each product's operands cut to 10 mantissa bits (2^-10 relative each: 2^-9 a product), the
    # sums in f32 (k * 2^-24 at most): below 2^-8 of sum |a||b| for these k, and a wrong fragment
    # or a missed tile is off by whole products.
    scale = np.abs(a64.T if ta else a64) @ np.abs(b64.T if tb else b64)
    np.testing.assert_array_less(np.abs(got - want), 2.0**-8 * scale + 1e-30)


# ---- TF's switch: tf.config.experimental.enable_tensor_float_32_execution -----------------------
# (tgc.frontend.tf_config until the lead exports it as tf.config.)


@pytest.fixture
def tf32_switch():
    from tgc.frontend import tf_config

    yield tf_config.experimental
    tf_config.experimental.enable_tensor_float_32_execution(False)


def test_tf_switch_is_off_by_default_and_turns_the_pass_on(tf32_switch):
    assert tf32_switch.tensor_float_32_execution_enabled() is False
    gpu, emulated = targets.get("nvptx"), targets.get("nvptx-emulated")
    assert MmaMatmulPass not in [type(p) for p in gpu.pipeline_elements(for_session=True)]
    tf32_switch.enable_tensor_float_32_execution(True)
    assert tf32_switch.tensor_float_32_execution_enabled() is True
    assert _mma_passes(gpu) == [MmaMatmulPass(allow_tf32=True)]
    assert _mma_passes(emulated) == [MmaMatmulPass(allow_tf32=True, emulated=True)]
    tf32_switch.enable_tensor_float_32_execution(False)
    assert MmaMatmulPass not in [type(p) for p in gpu.pipeline_elements(for_session=True)]


TF32_PROGRAM = """
import tgc as tf
from tgc.frontend.tf_config import experimental

experimental.enable_tensor_float_32_execution(True)
x = tf.placeholder(tf.float32, [64, 48], name="x")
w = tf.placeholder(tf.float32, [48, 32], name="w")
y = tf.matmul(x, w, name="y")
"""


def test_a_program_that_turns_tf32_on_compiles_its_matmuls_for_tensor_cores(tmp_path):
    program = tmp_path / "model.py"
    program.write_text(TF32_PROGRAM)
    out = tmp_path / "out"
    args = ["compile", str(program), "--target", "nvptx", "--fetch", "y", "-o", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert MMA in (out / "kernels.ptx").read_text()
    assert json.loads((out / "manifest.json").read_text())["target"]["allow_tf32"] is True


@needs_gpu
def test_on_a_gpu_a_session_with_tf32_on_matches_float64_within_tf32_rounding(tf32_switch):
    tf32_switch.enable_tensor_float_32_execution(True)
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (200, 300)).astype(np.float32)
    b = rng.uniform(-1, 1, (300, 100)).astype(np.float32)
    got = _session_matmul(a, b, False, False)
    want = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))
    np.testing.assert_array_less(np.abs(got - want), 2.0**-8 * scale)


def _two_layer_losses(steps: int = 2) -> list:
    import tgc as tf

    rng = np.random.default_rng(0)
    features = rng.standard_normal((16, 20)).astype(np.float32)
    labels = rng.standard_normal((16, 4)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"), tf.device("/gpu:0"):
        x, y = tf.placeholder(tf.float32, [16, 20]), tf.placeholder(tf.float32, [16, 4])
        w1 = tf.Variable(rng.uniform(-0.3, 0.3, (20, 12)).astype(np.float32))
        w2 = tf.Variable(rng.uniform(-0.3, 0.3, (12, 4)).astype(np.float32))
        hidden = tf.nn.relu(tf.matmul(x, w1))
        loss = tf.reduce_mean(tf.square(tf.matmul(hidden, w2) - y))
        step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            sess.run(tf.global_variables_initializer())
            return [
                float(sess.run([loss, step], {x: features, y: labels})[0]) for _ in range(steps)
            ]


def test_emulated_training_with_tf32_follows_float32_within_tf32_rounding(tf32_switch):
    # The gradients' transposed products (x^T . d, d . w^T) run on the emulated tensor cores too.
    float32 = _two_layer_losses()
    tf32_switch.enable_tensor_float_32_execution(True)
    tf32 = _two_layer_losses()
    np.testing.assert_allclose(tf32, float32, rtol=1e-2)
    assert tf32 != float32  # TF32's cut operands do change the numbers
