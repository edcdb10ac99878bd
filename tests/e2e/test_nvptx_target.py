"""The nvptx target's first step: `tgc compile --target nvptx --emit ptx` prints PTX that
`ptxas -arch=sm_90` accepts, for each op the target lists as supported and for a small graph of
several; `--emit gpu` shows the host's kernel launches. No GPU is needed: ptxas checks the code
(the test skips when it is not on PATH). What the target does not run is refused in one line."""

import re
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from tgc.dialect import targets
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


def _launched_kernels(gpu_ir: str) -> set:
    return set(re.findall(r"gpu\.launch_func\s+@\w+::@(\w+)", gpu_ir))


def test_every_supported_op_has_a_case_here():
    assert set(CASES) == set(VALIDATED_OPS)
    assert NVPTX.supported_ops() == frozenset(VALIDATED_OPS)


def test_the_registry_serves_gpus_with_nvptx_and_cpus_as_before():
    assert targets.get("nvptx") is NVPTX
    assert targets.for_device_type("GPU") is NVPTX
    assert targets.for_device_type("CPU").name == "cpu"
    assert NVPTX.artifact_stages == ("gpu", "ptx")


@needs_ptxas
@pytest.mark.parametrize("op", sorted(CASES))
def test_each_supported_op_gives_ptx_that_ptxas_accepts(op, tmp_path):
    ptx = _ptx(tmp_path, CASES[op])
    assert ".target sm_90" in ptx
    assert len(re.findall(r"^\.visible \.entry ", ptx, re.M)) >= 1
    assert "call" not in ptx  # no libdevice or other external function is needed
    _ptxas(tmp_path, ptx)


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


def test_an_op_the_target_does_not_run_is_one_error_naming_op_and_target(tmp_path):
    line = _error_line(_compile(tmp_path, REDUCE_SUM, "--emit", "ptx"))
    assert "no available device can run 'tgc.reduce_sum' (target nvptx does not run it)" in line
    assert "device:GPU:0" in line


def test_unknown_dims_are_refused_in_one_line(tmp_path):
    module = _unary("exp").replace(SHAPE, "?x50")
    line = _error_line(_compile(tmp_path, module, "--emit", "ptx"))
    assert "the nvptx target compiles static shapes only: argument 0 of @model_main is " in line
    assert "tensor<?x50xf32>" in line


def test_a_0d_computation_is_refused_not_run_on_the_host(tmp_path):
    module = _unary("exp").replace(SHAPE + "x", "")
    line = _error_line(_compile(tmp_path, module, "--emit", "ptx"))
    assert "the nvptx target cannot run 'memref.load' of @model_main on the host" in line
    assert "arithmetic on 0-d tensors" in line


DENSE_CONSTANT = """
func.func @main(%x: tensor<37x2xf32>) -> tensor<37x2xf32> {
  %c = "tgc.constant"() {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %y = "tgc.add"(%x, %c) : (tensor<37x2xf32>, tensor<2xf32>) -> tensor<37x2xf32>
  return %y : tensor<37x2xf32>
}
"""


def test_a_constant_that_is_not_a_splat_is_refused(tmp_path):
    line = _error_line(_compile(tmp_path, DENSE_CONSTANT, "--emit", "ptx"))
    assert "the nvptx target cannot run 'memref.get_global' of @model_main on the host" in line
    assert "a constant tensor not folded into a kernel" in line


def test_there_is_no_artifact_stage_and_no_runtime_yet(tmp_path):
    result = _compile(tmp_path, DENSE_RELU, "--emit", "artifact", "-o", str(tmp_path / "out"))
    line = _error_line(result)
    assert "unknown stage 'artifact' for target nvptx (stages: tgc, core, gpu, ptx)" in line
    from tgc.errors import CompileError
    from tgc.lowering.artifact import AotError
    from tgc.runtime.artifact import ArtifactError

    message = "the nvptx target has no runtime yet: --emit ptx shows its code"
    with pytest.raises(AotError, match=message):
        NVPTX.write_artifact(None, None, str(tmp_path / "out"))
    with pytest.raises(CompileError, match=message):
        NVPTX.load_in_process(None, [], {})
    with pytest.raises(ArtifactError, match=message):
        NVPTX.load_artifact(str(tmp_path / "out"))


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
    # Two matmuls (a fill and a product each), the bias-relu and the scale-tanh kernels.
    assert len(re.findall(r"^\.visible \.entry ", ptx, re.M)) == 6
    _ptxas(tmp_path, ptx)


def test_a_target_triple_other_than_nvptx64_is_refused(tmp_path):
    args = ("--emit", "ptx", "--target-triple", "x86_64-unknown-linux-gnu")
    line = _error_line(_compile(tmp_path, DENSE_RELU, *args))
    assert "generates code for nvptx64-nvidia-cuda, not 'x86_64-unknown-linux-gnu'" in line


def test_compile_stops_at_the_targets_last_stage_and_prints_its_code_generation(tmp_path):
    """Without --emit, `tgc compile --target nvptx` prints PTX (its last stage);
    --print-pipeline shows the NVVM pipeline that makes it, not the CPU's opt | llc."""
    source = tmp_path / "dense_relu.mlir"
    source.write_text(DENSE_RELU)
    result = CliRunner().invoke(main, ["compile", str(source), "--target", "nvptx"])
    assert result.exit_code == 0, result.output
    assert ".target sm_90" in result.output and ".entry" in result.output
    printed = CliRunner().invoke(
        main, ["compile", str(source), "--target", "nvptx", "--print-pipeline"]
    )
    assert printed.exit_code == 0, printed.output
    assert "gpu-lower-to-nvvm-pipeline" in printed.output and "llc" not in printed.output
    cpu = CliRunner().invoke(main, ["compile", str(source), "--print-pipeline"])
    assert "| llc -O3" in cpu.output
