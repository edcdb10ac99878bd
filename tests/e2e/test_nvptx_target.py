"""The nvptx target: `tgc compile --target nvptx --emit ptx` prints PTX that `ptxas -arch=sm_90`
accepts, for each op the target lists as supported (on every sample the op registry declares for
it, for the families beyond elementwise ops), for small graphs of several and for the lecture
programs' training steps; `--emit gpu` shows the host's kernel launches. No GPU is needed: ptxas
checks the code (the tests skip when it is not on PATH). What the target does not run is refused in
one line."""

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from tgc.dialect import targets
from tgc.dialect.registry import REGISTRY, load_all_ops
from tgc.lowering.nvptx import pipeline
from tgc.lowering.nvptx.pipeline import VALIDATED_OPS
from tgc.lowering.nvptx.target import NVPTX
from tgc.tools.cli import main

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")

SHAPE = "37x50"  # neither dim a multiple of the 16x16 tile: the kernels check their bounds
UNARY = [
    "abs",
    "atan",
    "ceil",
    "cos",
    "cosh",
    "elu",
    "erf",
    "exp",
    "expm1",
    "floor",
    "log",
    "log1p",
    "negative",
    "relu",
    "round",
    "rsqrt",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "sqrt",
    "square",
    "tan",
    "tanh",
]
BINARY = ["add", "divide", "maximum", "minimum", "multiply", "pow", "subtract"]
COMPARISONS = ["equal", "greater", "greater_equal", "less", "less_equal", "not_equal"]


def _unary(op: str) -> str:
    t = f"tensor<{SHAPE}xf32>"
    return f"""
func.func @main(%x: {t}) -> {t} {{
  %y = "tgc.{op}"(%x) : ({t}) -> {t}
  return %y : {t}
}}
"""


def _binary(op: str) -> str:
    # The second operand is a row broadcast along the first dim.
    t, row = f"tensor<{SHAPE}xf32>", "tensor<50xf32>"
    return f"""
func.func @main(%x: {t}, %z: {row}) -> {t} {{
  %y = "tgc.{op}"(%x, %z) : ({t}, {row}) -> {t}
  return %y : {t}
}}
"""


def _comparison(op: str) -> str:
    t, b = f"tensor<{SHAPE}xf32>", f"tensor<{SHAPE}xi1>"
    return f"""
func.func @main(%x: {t}, %z: {t}) -> {b} {{
  %y = "tgc.{op}"(%x, %z) : ({t}, {t}) -> {b}
  return %y : {b}
}}
"""


MATMUL = """
func.func @main(%x: tensor<37x20xf32>, %w: tensor<20x50xf32>) -> tensor<37x50xf32> {
  %y = "tgc.matmul"(%x, %w) {transpose_a = false, transpose_b = false}
      : (tensor<37x20xf32>, tensor<20x50xf32>) -> tensor<37x50xf32>
  return %y : tensor<37x50xf32>
}
"""

# x * w + b, then relu: three elementwise ops that fuse into one kernel.
DENSE_RELU = """
func.func @main(%x: tensor<64x32xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>)
    -> tensor<64x32xf32> attributes {tgc.feed_names = ["x", "w", "b"], tgc.fetch_names = ["y"]} {
  %m = "tgc.multiply"(%x, %w) : (tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x32xf32>
  %a = "tgc.add"(%m, %b) : (tensor<64x32xf32>, tensor<32xf32>) -> tensor<64x32xf32>
  %r = "tgc.relu"(%a) : (tensor<64x32xf32>) -> tensor<64x32xf32>
  return %r : tensor<64x32xf32>
}
"""

# A scalar constant operand: the splat folds into the kernel as an immediate.
SPLAT_CONSTANT = """
func.func @main(%x: tensor<37x50xf32>) -> tensor<37x50xf32> {
  %c = "tgc.constant"() {value = dense<2.0> : tensor<f32>} : () -> tensor<f32>
  %y = "tgc.multiply"(%x, %c) : (tensor<37x50xf32>, tensor<f32>) -> tensor<37x50xf32>
  return %y : tensor<37x50xf32>
}
"""

SELECT = """
func.func @main(%c: tensor<37x50xi1>, %x: tensor<37x50xf32>, %y: tensor<37x50xf32>)
    -> tensor<37x50xf32> {
  %s = "tgc.select"(%c, %x, %y)
      : (tensor<37x50xi1>, tensor<37x50xf32>, tensor<37x50xf32>) -> tensor<37x50xf32>
  return %s : tensor<37x50xf32>
}
"""

# The families beyond elementwise ops are checked on every sample of the op registry (axes,
# keepdims, 0-d results, ranks, dtypes as each op declares them), one module per sample.
SAMPLE_FAMILIES = (
    pipeline.REDUCTION_OPS
    + pipeline.BROADCAST_OPS
    + pipeline.SHAPE_OPS
    + pipeline.NN_OPS
    + pipeline.CONV_OPS
    + pipeline.RANDOM_OPS
    + pipeline.BATCH_MATMUL_OPS
)


def _registry_harness():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "unit"))
    import registry_harness

    return registry_harness


def _sample(op: str, index: int) -> tuple:
    """(operands, attributes) of ``op``'s registry sample ``index``."""
    h = _registry_harness()
    opdef = load_all_ops()[op]
    sample = opdef.samples[index]
    return h.draw_operands(sample, h.rng_for(op, index)), h.sample_attrs(opdef, sample)


def _sample_module(op: str, index: int) -> str:
    """The tgc MLIR of ``func @main`` running ``op`` on its registry sample ``index``."""
    from mlir import ir

    from tgc.dialect.context import make_context

    h = _registry_harness()
    arrays, attrs = _sample(op, index)
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        h.build_main(
            module, h.operand_specs(arrays), lambda b, args: h._as_list(b.op(op, *args, **attrs))
        )
        return str(module)


CASES = {
    **{op: _unary(op) for op in UNARY},
    **{op: _binary(op) for op in BINARY},
    **{op: _comparison(op) for op in COMPARISONS},
    "matmul": MATMUL,
    "constant": SPLAT_CONSTANT,
    "select": SELECT,
}


def _compile(tmp_path, module: str, *args):
    source = tmp_path / "model.mlir"
    source.write_text(module)
    return CliRunner().invoke(
        main, ["compile", str(source), "--target", "nvptx", *args], catch_exceptions=False
    )


def _ptx(tmp_path, module: str, *args) -> str:
    result = _compile(tmp_path, module, "--emit", "ptx", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _ptxas(tmp_path, ptx: str, arch: str = "sm_90") -> None:
    path = tmp_path / "kernels.ptx"
    path.write_text(ptx)
    done = subprocess.run(
        [PTXAS, f"-arch={arch}", str(path), "-o", str(tmp_path / "kernels.cubin")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def _external_calls(ptx: str) -> set:
    """Functions the PTX calls but does not define (libdevice's, say): none may be left."""
    called = set(re.findall(r"\bcall(?:\.uni)?\s+(?:\([^)]*\),\s*)?(\w+)", ptx))
    defined = set(re.findall(r"^\.func\s+(?:\([^)]*\)\s*)?(\w+)\(", ptx, re.M))
    return called - defined


def _launched_kernels(gpu_ir: str) -> set:
    return set(re.findall(r"gpu\.launch_func\s+@\w+::@(\w+)", gpu_ir))


def test_every_supported_op_has_a_case_here():
    assert set(CASES) | set(SAMPLE_FAMILIES) == set(VALIDATED_OPS)
    assert set(CASES).isdisjoint(SAMPLE_FAMILIES)
    assert all(REGISTRY[op].samples for op in SAMPLE_FAMILIES)
    assert NVPTX.supported_ops() >= frozenset(VALIDATED_OPS)


def test_the_registry_serves_gpus_with_nvptx_and_cpus_as_before():
    assert targets.get("nvptx") is NVPTX
    assert targets.for_device_type("GPU") is NVPTX
    assert targets.for_device_type("CPU").name == "cpu"
    assert NVPTX.artifact_stages == ("gpu", "ptx", "artifact")


@needs_ptxas
@pytest.mark.parametrize("op", sorted(CASES))
def test_each_supported_op_gives_ptx_that_ptxas_accepts(op, tmp_path):
    ptx = _ptx(tmp_path, CASES[op])
    assert ".target sm_90" in ptx
    assert len(re.findall(r"^\.visible \.entry ", ptx, re.M)) >= 1
    assert "call" not in ptx  # no libdevice or other external function is needed
    _ptxas(tmp_path, ptx)


@needs_ptxas
@pytest.mark.parametrize("op", sorted(SAMPLE_FAMILIES))
def test_each_family_op_gives_ptx_that_ptxas_accepts_on_every_registry_sample(op, tmp_path):
    for index in range(len(REGISTRY[op].samples)):
        module = _sample_module(op, index)
        ptx = _ptx(tmp_path, module)
        if not ptx.strip():
            # No kernel: the result is a view of an argument or a constant, copied whole into the
            # out-param by the launch plan (device to device), or it has no elements.
            gpu = _compile(tmp_path, module, "--emit", "gpu").stdout
            assert "gpu.launch_func" not in gpu, f"sample {index}"
            assert "memref.copy" in gpu or re.search(r"memref<(\d+x)*0x", gpu), f"sample {index}"
            continue
        assert not _external_calls(ptx), f"sample {index}"
        _ptxas(tmp_path, ptx)


# By float width, as the registry-wide tests compare the CPU with numpy.
TOLERANCE = {4: dict(rtol=1e-5, atol=1e-6), 8: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("op", sorted(op for op in VALIDATED_OPS if REGISTRY[op].samples))
def test_each_supported_op_matches_numpy_on_every_registry_sample_with_the_gpu_schedule(op):
    """The same kernels and launch plan, run on the CPU (nvptx-emulated: blocks and threads as
    loops), give the registry's numpy results."""
    import tgc as tf
    from tgc.frontend.build import make_op

    opdef = REGISTRY[op]
    for index in range(len(opdef.samples)):
        arrays, attrs = _sample(op, index)
        want = [np.asarray(r) for r in opdef.evaluate([a.copy() for a in arrays], attrs)]
        tf.reset_default_graph()
        with targets.selected("nvptx-emulated"):
            feeds = [tf.placeholder(a.dtype, a.shape) for a in arrays]
            out = make_op(op, feeds, **attrs)
            with tf.Session() as sess:
                got = sess.run(out if isinstance(out, list) else [out], dict(zip(feeds, arrays)))
        for k, (g, w) in enumerate(zip(got, want)):
            what = f"{op} sample {index} result {k}"
            g = np.asarray(g)
            assert (g.dtype, g.shape) == (w.dtype, w.shape), what
            if w.dtype.kind == "f":
                np.testing.assert_allclose(g, w, **TOLERANCE[w.dtype.itemsize], err_msg=what)
            else:
                np.testing.assert_array_equal(g, w, err_msg=what)


INTEGER_POWERS = """
func.func @main(%x: tensor<4x3xi32>, %y: tensor<4x3xi32>) -> (tensor<4x3xi32>, tensor<3xi32>) {
  %p = "tgc.pow"(%x, %y) : (tensor<4x3xi32>, tensor<4x3xi32>) -> tensor<4x3xi32>
  %s = "tgc.reduce_sum"(%p) {axes = array<i64: 0>, keepdims = false}
      : (tensor<4x3xi32>) -> tensor<3xi32>
  %q = "tgc.pow"(%s, %s) : (tensor<3xi32>, tensor<3xi32>) -> tensor<3xi32>
  return %p, %q : tensor<4x3xi32>, tensor<3xi32>
}
"""


@needs_ptxas
def test_integer_powers_call_one_helper_in_the_kernels_module(tmp_path):
    gpu = _compile(tmp_path, INTEGER_POWERS, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    host, _, kernels = gpu.stdout.partition("gpu.module")
    assert "ipowi" not in host
    assert kernels.count("func.func private @__mlir_math_ipowi_i32(") == 1
    assert kernels.count("call @__mlir_math_ipowi_i32(") == 2
    _ptxas(tmp_path, _ptx(tmp_path, INTEGER_POWERS))


@needs_ptxas
def test_a_small_graph_fuses_into_one_kernel_and_ptxas_accepts_it(tmp_path):
    gpu = _compile(tmp_path, DENSE_RELU, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    kernels = _launched_kernels(gpu.stdout)
    assert len(kernels) == 1
    # The result goes straight into the caller's buffer: the host allocates nothing.
    assert "memref.alloc" not in gpu.stdout
    ptx = _ptx(tmp_path, DENSE_RELU)
    entries = re.findall(r"^\.visible \.entry (\w+)\(", ptx, re.M)
    assert entries == sorted(kernels)
    _ptxas(tmp_path, ptx)


@needs_ptxas
def test_matmul_has_one_entry_per_launched_kernel(tmp_path):
    gpu = _compile(tmp_path, MATMUL, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    kernels = _launched_kernels(gpu.stdout)
    assert len(kernels) == 2  # the zero fill, then the product (no fusion of the two yet)
    assert len(re.findall(r"^\s*gpu\.module @", gpu.stdout, re.M)) == 1
    ptx = _ptx(tmp_path, MATMUL)
    assert sorted(re.findall(r"^\.visible \.entry (\w+)\(", ptx, re.M)) == sorted(kernels)


@needs_ptxas
def test_target_cpu_picks_the_gpu_architecture(tmp_path):
    ptx = _ptx(tmp_path, DENSE_RELU, "--target-cpu", "sm_80")
    assert ".target sm_80" in ptx
    _ptxas(tmp_path, ptx, arch="sm_80")


def _error_line(result) -> str:
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


REDUCE_SUM = """
func.func @main(%x: tensor<37x50xf32>) -> tensor<37xf32> {
  %y = "tgc.reduce_sum"(%x) {axes = array<i64: 1>, keepdims = false}
      : (tensor<37x50xf32>) -> tensor<37xf32>
  return %y : tensor<37xf32>
}
"""


def test_an_op_the_target_does_not_run_is_one_error_naming_op_and_target(tmp_path, monkeypatch):
    # Every registry op a graph can place is among the target's ops: take one out.
    supported = NVPTX.supported_ops() - {"reduce_sum"}
    monkeypatch.setattr(type(NVPTX), "supported_ops", lambda self: supported)
    line = _error_line(_compile(tmp_path, REDUCE_SUM, "--emit", "ptx"))
    assert "no available device can run 'tgc.reduce_sum' (target nvptx does not run it)" in line
    assert "device:GPU:0" in line


def test_unknown_dims_are_refused_in_one_line(tmp_path):
    module = _unary("exp").replace(SHAPE, "?x50")
    line = _error_line(_compile(tmp_path, module, "--emit", "ptx"))
    assert "the nvptx target compiles static shapes only: argument 0 of @model_main is " in line
    assert "tensor<?x50xf32>" in line


ONE_THREAD = "blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)"


@needs_ptxas
def test_a_0d_computation_runs_in_a_one_thread_kernel(tmp_path):
    module = _unary("exp").replace(SHAPE + "x", "")
    gpu = _compile(tmp_path, module, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    launches = re.findall(r"gpu\.launch_func .*", gpu.stdout)
    assert len(launches) == 1 and ONE_THREAD in launches[0]
    _ptxas(tmp_path, _ptx(tmp_path, module))


def _reduce(axes: str, result: str, keepdims: bool = False) -> str:
    return f"""
func.func @main(%x: tensor<37x50xf32>) -> {result} {{
  %y = "tgc.reduce_sum"(%x) {{axes = array<i64: {axes}>, keepdims = {str(keepdims).lower()}}}
      : (tensor<37x50xf32>) -> {result}
  return %y : {result}
}}
"""


@needs_ptxas
def test_a_reduction_over_the_leading_axis_runs_one_thread_per_output_element(tmp_path):
    module = _reduce("0", "tensor<1x50xf32>", keepdims=True)
    gpu = _compile(tmp_path, module, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    # The fill, then the sum: 50 outputs over 2 blocks of 32 threads, each summing its column of 37
    # in a loop.
    launches = re.findall(r"gpu\.launch_func .*", gpu.stdout)
    assert len(launches) == 2
    assert "blocks in (%c2, %c1, %c1) threads in (%c32, %c1, %c1)" in launches[1]
    kernel = gpu.stdout.split("gpu.func")[2]
    assert "scf.for" in kernel and "gpu.thread_id  x" in kernel
    _ptxas(tmp_path, _ptx(tmp_path, module))


@needs_ptxas
def test_a_reduction_to_a_scalar_runs_in_a_one_thread_kernel(tmp_path):
    module = _reduce("0, 1", "tensor<f32>")
    gpu = _compile(tmp_path, module, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    launches = re.findall(r"gpu\.launch_func .*", gpu.stdout)
    assert len(launches) == 1 and ONE_THREAD in launches[0]
    _ptxas(tmp_path, _ptx(tmp_path, module))


EMPTY = """
func.func @main(%x: tensor<4x0xf32>) -> (tensor<4xf32>, tensor<4x0xf32>) {
  %y = "tgc.reduce_sum"(%x) {axes = array<i64: 1>, keepdims = false}
      : (tensor<4x0xf32>) -> tensor<4xf32>
  %z = "tgc.exp"(%x) : (tensor<4x0xf32>) -> tensor<4x0xf32>
  return %y, %z : tensor<4xf32>, tensor<4x0xf32>
}
"""


@needs_ptxas
def test_no_kernel_takes_an_empty_buffer(tmp_path):
    # The sum over an empty axis is its fill; the exp of an empty tensor is nothing.
    gpu = _compile(tmp_path, EMPTY, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    launches = re.findall(r"gpu\.launch_func .*", gpu.stdout)
    assert launches and not any("x0xf32>" in launch for launch in launches)
    _ptxas(tmp_path, _ptx(tmp_path, EMPTY))


SLICE = """
func.func @main(%x: tensor<37x50xf32>) -> tensor<20x30xf32> {
  %y = "tgc.slice"(%x) {begin = array<i64: 3, 7>, size = array<i64: 20, 30>}
      : (tensor<37x50xf32>) -> tensor<20x30xf32>
  %z = "tgc.exp"(%y) : (tensor<20x30xf32>) -> tensor<20x30xf32>
  return %z : tensor<20x30xf32>
}
"""


@needs_ptxas
def test_a_slice_is_taken_inside_the_kernel_which_gets_the_whole_buffer(tmp_path):
    gpu = _compile(tmp_path, SLICE, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    host, _, kernels = gpu.stdout.partition("gpu.module")
    assert "memref.subview" not in host
    launch = re.findall(r"gpu\.launch_func .*", host)[0]
    assert "%arg0 : memref<37x50xf32>" in launch
    assert "memref.subview %arg" in kernels and "[3, 7] [20, 30] [1, 1]" in kernels
    _ptxas(tmp_path, _ptx(tmp_path, SLICE))


DENSE_CONSTANT = """
func.func @main(%x: tensor<37x2xf32>) -> tensor<37x2xf32> {
  %c = "tgc.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = "tgc.add"(%x, %c) : (tensor<37x2xf32>, tensor<2xf32>) -> tensor<37x2xf32>
  return %y : tensor<37x2xf32>
}
"""


@needs_ptxas
def test_a_constant_that_is_not_a_splat_is_a_kernel_argument(tmp_path):
    gpu = _compile(tmp_path, DENSE_CONSTANT, "--emit", "gpu")
    assert gpu.exit_code == 0, gpu.output
    host = gpu.stdout.partition("gpu.module")[0]
    constant = re.search(r"(%\S+) = memref.get_global @\S+ : memref<2xf32>", host)
    assert constant, host
    launch = re.findall(r"gpu\.launch_func .*", host)[0]
    assert f"{constant.group(1)} : memref<2xf32>" in launch
    _ptxas(tmp_path, _ptx(tmp_path, DENSE_CONSTANT))


def test_in_process_loading_without_a_gpu_says_why(tmp_path):
    # In-process code runs on this machine's GPU (tgc/lowering/nvptx/in_process.py); without one,
    # loading says why in the user's terms.
    from tgc.errors import CompileError
    from tgc.runtime.cuda_device import cuda_status

    reason = cuda_status()
    if reason is None:
        pytest.skip("this machine has a GPU")
    with pytest.raises(
        CompileError, match=re.escape("the nvptx target cannot run here: " + reason)
    ):
        NVPTX.load_in_process(None, [], {})
    assert NVPTX.available_devices() == 0


def test_a_target_cpu_that_is_not_a_gpu_architecture_is_refused(tmp_path):
    line = _error_line(_compile(tmp_path, DENSE_RELU, "--emit", "ptx", "--target-cpu", "znver3"))
    assert "a GPU architecture such as sm_90, not 'znver3'" in line


def test_a_session_asking_for_gpu0_still_gets_the_placement_error():
    # A Session has CPU devices only (ConfigProto makes no GPU), so placement never picks nvptx.
    import tgc as tf

    graph = tf.Graph()
    with graph.as_default():
        with tf.device("/gpu:0"):
            y = tf.exp(tf.constant([1.0, 2.0]))
        with tf.Session() as sess:
            with pytest.raises(
                tf.errors.CompileError,
                match=r"cannot place 'tgc.constant' on requested device '/device:GPU:0': available "
                r"devices that can run it are \['/job:localhost/replica:0/task:0/device:CPU:0'\]",
            ):
                sess.run(y)


TWO_LAYER_FORWARD = """
import tgc as tf

x = tf.placeholder(tf.float32, [None, 784], name="x")
w1 = tf.placeholder(tf.float32, [784, 128], name="w1")
b1 = tf.placeholder(tf.float32, [128], name="b1")
w2 = tf.placeholder(tf.float32, [128, 10], name="w2")
hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
y = tf.tanh(tf.matmul(hidden, w2) * 0.5, name="y")
"""


@needs_ptxas
def test_a_python_two_layer_forward_compiles_once_its_batch_is_fixed(tmp_path):
    program = tmp_path / "two_layer.py"
    program.write_text(TWO_LAYER_FORWARD)

    def compile_(*args):
        return CliRunner().invoke(
            main,
            ["compile", str(program), "--target", "nvptx", "--fetch", "y", "--emit", "ptx", *args],
            catch_exceptions=False,
        )

    line = _error_line(compile_())
    assert "static shapes only: argument 0 of @model_main is tensor<?x784xf32>" in line
    feeds = ["--feed", "x:64x784", "--feed", "w1", "--feed", "b1", "--feed", "w2"]
    result = compile_(*feeds)
    assert result.exit_code == 0, result.output
    ptx = result.stdout
    # Two matmuls (a fill and a tiled product each), then the bias-relu and the scale-tanh, one
    # kernel each: a tiled product (tgc-nvptx-tile-matmul) leaves no parallel loop to fuse with.
    assert len(re.findall(r"^\.visible \.entry ", ptx, re.M)) == 6
    _ptxas(tmp_path, ptx)


def test_a_target_triple_other_than_nvptx64_is_refused(tmp_path):
    args = ("--emit", "ptx", "--target-triple", "x86_64-unknown-linux-gnu")
    line = _error_line(_compile(tmp_path, DENSE_RELU, *args))
    assert "generates code for nvptx64-nvidia-cuda, not 'x86_64-unknown-linux-gnu'" in line


def test_compile_stops_at_the_targets_last_stage_and_prints_its_code_generation(tmp_path):
    """Without --emit, `tgc compile --target nvptx` makes its last stage, the artifact (which needs
    -o); --emit ptx prints PTX; --print-pipeline shows the NVVM pipeline that makes it, not the
    CPU's opt | llc."""
    source = tmp_path / "dense_relu.mlir"
    source.write_text(DENSE_RELU)
    line = _error_line(CliRunner().invoke(main, ["compile", str(source), "--target", "nvptx"]))
    assert "--emit=artifact writes files: give -o PATH" in line
    result = CliRunner().invoke(
        main, ["compile", str(source), "--target", "nvptx", "--emit", "ptx"]
    )
    assert result.exit_code == 0, result.output
    assert ".target sm_90" in result.output and ".entry" in result.output
    printed = CliRunner().invoke(
        main, ["compile", str(source), "--target", "nvptx", "--print-pipeline"]
    )
    assert printed.exit_code == 0, printed.output
    assert "gpu-lower-to-nvvm-pipeline" in printed.output and "llc" not in printed.output
    cpu = CliRunner().invoke(main, ["compile", str(source), "--print-pipeline"])
    assert "| llc -O3" in cpu.output


# The lecture programs' training steps (forward, gradients, SGD update): variables are arguments of
# the compiled function and their updated values its results (out-params at the gpu level).
TWO_LAYER_RELU_SOFTMAX = """
import tgc as tf

x = tf.placeholder(tf.float32, [64, 784], name="x")
y = tf.placeholder(tf.float32, [64, 10], name="y")
w1 = tf.Variable(tf.random_normal([784, 128], stddev=0.01), name="w1")
b1 = tf.Variable(tf.zeros([128]), name="b1")
w2 = tf.Variable(tf.random_normal([128, 10], stddev=0.01), name="w2")
b2 = tf.Variable(tf.zeros([10]), name="b2")
hidden = tf.nn.relu(tf.matmul(x, w1) + b1)
scores = tf.nn.bias_add(tf.matmul(hidden, w2), b2)
loss = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss"
)
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
"""

TWO_LAYER_SIGMOID_SQUARED = """
import tgc as tf

x = tf.placeholder(tf.float32, [32, 20], name="x")
y = tf.placeholder(tf.float32, [32, 3], name="y")
w1 = tf.Variable(tf.random_normal([20, 16], stddev=0.1), name="w1")
b1 = tf.Variable(tf.zeros([16]), name="b1")
w2 = tf.Variable(tf.random_normal([16, 3], stddev=0.1), name="w2")
b2 = tf.Variable(tf.zeros([3]), name="b2")
hidden = tf.sigmoid(tf.matmul(x, w1) + b1)
out = tf.matmul(hidden, w2) + b2
loss = tf.reduce_mean(tf.square(out - y), name="loss")
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
"""

# Softmax regression as in examples/softmax_regression_digits.py, with its accuracy.
SOFTMAX_REGRESSION = """
import tgc as tf

x = tf.placeholder(tf.float32, [100, 784], name="x")
labels = tf.placeholder(tf.float32, [100, 10], name="labels")
with tf.variable_scope("softmax"):
    w = tf.get_variable("w", [784, 10], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [10], initializer=tf.zeros_initializer())
logits = tf.matmul(x, w) + b
loss = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss"
)
train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")
correct = tf.equal(tf.argmax(logits, 1), tf.argmax(labels, 1))
accuracy = tf.reduce_mean(tf.cast(correct, tf.float32), name="accuracy")
"""

# The lecture's convnet (examples/convnet.py): conv, bias and relu, max-pool, two dense layers with
# dropout between them, trained by Adam.
CONVNET = """
import tgc as tf

x = tf.placeholder(tf.float32, [50, 64], name="x")
y = tf.placeholder(tf.float32, [50, 10], name="y")
keep_prob = tf.placeholder(tf.float32, [], name="keep_prob")
x_image = tf.reshape(x, [-1, 8, 8, 1])
w_conv = tf.Variable(tf.truncated_normal([3, 3, 1, 16], stddev=0.1))
b_conv = tf.Variable(tf.constant(0.1, shape=[16]))
h_conv = tf.nn.relu(
    tf.nn.conv2d(x_image, w_conv, strides=[1, 1, 1, 1], padding="SAME") + b_conv
)
h_pool = tf.nn.max_pool(h_conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
w_fc1 = tf.Variable(tf.truncated_normal([4 * 4 * 16, 64], stddev=0.1))
b_fc1 = tf.Variable(tf.constant(0.1, shape=[64]))
h_fc1 = tf.nn.relu(tf.matmul(tf.reshape(h_pool, [-1, 4 * 4 * 16]), w_fc1) + b_fc1)
h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob, seed=1)
w_fc2 = tf.Variable(tf.truncated_normal([64, 10], stddev=0.1))
b_fc2 = tf.Variable(tf.constant(0.1, shape=[10]))
logits = tf.matmul(h_fc1_drop, w_fc2) + b_fc2
loss = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss"
)
train = tf.train.AdamOptimizer(1e-3).minimize(loss, name="train")
"""

# The README's softmax regression: sparse labels, get_variable in a variable_scope.
SOFTMAX_REGRESSION_SPARSE = """
import tgc as tf

x = tf.placeholder(tf.float32, [100, 784], name="x")
labels = tf.placeholder(tf.int64, [100], name="labels")
with tf.variable_scope("softmax"):
    w = tf.get_variable("w", [784, 10], initializer=tf.zeros_initializer())
    b = tf.get_variable("b", [10], initializer=tf.zeros_initializer())
logits = tf.matmul(x, w) + b
loss = tf.reduce_mean(
    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits), name="loss"
)
train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")
"""

TRAINING_STEPS = {
    # Six weights, Adam's two slots for each and its two beta powers.
    "convnet": (CONVNET, ["loss", "train"], 6 * 3 + 2),
    "two_layer_relu_softmax": (TWO_LAYER_RELU_SOFTMAX, ["loss", "train"], 4),
    "two_layer_sigmoid_squared": (TWO_LAYER_SIGMOID_SQUARED, ["loss", "train"], 4),
    "softmax_regression": (SOFTMAX_REGRESSION, ["loss", "train", "accuracy"], 2),
    "softmax_regression_sparse": (SOFTMAX_REGRESSION_SPARSE, ["loss", "train"], 2),
}


@needs_ptxas
@pytest.mark.parametrize("name", sorted(TRAINING_STEPS))
def test_a_lecture_training_step_gives_ptx_that_ptxas_accepts(name, tmp_path):
    source, fetches, variables = TRAINING_STEPS[name]
    program = tmp_path / f"{name}.py"
    program.write_text(source)
    args = ["compile", str(program), "--target", "nvptx"]
    for fetch in fetches:
        args += ["--fetch", fetch]
    gpu = CliRunner().invoke(main, [*args, "--emit", "gpu"], catch_exceptions=False)
    assert gpu.exit_code == 0, gpu.output
    # Results: the fetched values (the train op has none) and every updated variable.
    fetched = len(fetches) - 1
    assert f"tgc.out_params = {fetched + variables} : i64" in gpu.stdout
    ptx = CliRunner().invoke(main, [*args, "--emit", "ptx"], catch_exceptions=False)
    assert ptx.exit_code == 0, ptx.output
    assert len(re.findall(r"^\.visible \.entry ", ptx.stdout, re.M)) == len(
        _launched_kernels(gpu.stdout)
    )
    _ptxas(tmp_path, ptx.stdout)


def _batch(placeholder, is_input: bool, rng) -> np.ndarray:
    """Inputs drawn from a normal distribution; labels as one-hot rows, or as class indices when
    the placeholder is an integer one (sparse labels, ten classes)."""
    shape = tuple(placeholder.shape.as_list())
    if is_input:
        return rng.standard_normal(shape).astype(np.float32)
    if placeholder.dtype.is_integer:
        return rng.integers(0, 10, shape).astype(placeholder.dtype.as_numpy_dtype)
    return np.eye(shape[1], dtype=np.float32)[rng.integers(0, shape[1], shape[0])]


def _train(source: str, target: str, steps: int) -> tuple:
    """Losses of ``steps`` SGD steps of the program and its variables' final values, on fixed
    random data and initial values, compiled for ``target``."""
    import tgc as tf

    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    with targets.selected(target):
        namespace = {}
        exec(compile(source, "<program>", "exec"), namespace)
        graph = tf.get_default_graph()
        feeds = {}
        if "keep_prob" in namespace:
            feeds[namespace["keep_prob"]] = np.float32(0.75)
        for name in ("x", "y", "labels"):
            if name in namespace:
                feeds[namespace[name]] = _batch(namespace[name], name == "x", rng)
        loss, train = graph.get_tensor_by_name("loss:0"), graph.get_operation_by_name("train")
        # The initializers draw random numbers, which the GPU does not: the variables are set
        # from the same fed values on both targets instead (Adam's moments and beta powers
        # positive, as its square roots need).
        initial = {}
        for variable in tf.global_variables():
            shape = tuple(variable.shape.as_list())
            value = tf.placeholder(tf.float32, shape)
            adam = "Adam" in variable.name or "power" in variable.name
            draw = 0.1 * (rng.random(shape) + 0.01 if adam else rng.standard_normal(shape))
            initial[tf.assign(variable, value)] = (value, draw)
        with tf.Session() as sess:
            sess.run(list(initial), {value: array for value, array in initial.values()})
            losses = [sess.run([loss, train], feeds)[0] for _ in range(steps)]
            variables = sess.run(tf.global_variables())
    return np.array(losses), variables


@pytest.mark.parametrize("name", sorted(TRAINING_STEPS))
def test_a_lecture_training_step_trains_as_on_the_cpu_with_the_gpu_schedule(name):
    source = TRAINING_STEPS[name][0]
    cpu_losses, cpu_variables = _train(source, "cpu", steps=5)
    gpu_losses, gpu_variables = _train(source, "nvptx-emulated", steps=5)
    assert cpu_losses[-1] < cpu_losses[0]  # it trains
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-4)
    for gpu, cpu in zip(gpu_variables, cpu_variables):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-4, atol=1e-6)
