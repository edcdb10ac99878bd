"""The nvptx artifact: `tgc compile --target nvptx -o DIR` writes PTX, a cubin (ptxas on PATH), the
launch plan and the signature; `tgc inspect` shows them; `tgc run` and `tgc.runtime.load` run it on
a GPU, and without one say why in one line. The loader checks every file and the plan's indices
before anything reaches a GPU. A device standing in for CudaDevice (host memory, the kernel written
in numpy) runs the whole calling path here; the test that runs the PTX on a real GPU skips without
one, giving cuda_status()'s reason."""

import ctypes
import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import tgc.runtime
from tgc.lowering.artifact import AotError
from tgc.lowering.nvptx.artifact import assemble
from tgc.runtime import cuda_device
from tgc.runtime.artifact import ArtifactError, InvalidArtifact
from tgc.runtime.artifact_checks import file_record
from tgc.runtime.device_array import DeviceArray
from tgc.runtime.gpu_artifact import load, ptx_signature_line, read_manifest, signature_digest
from tgc.tools.cli import main

PTXAS = shutil.which("ptxas")
needs_ptxas = pytest.mark.skipif(PTXAS is None, reason="ptxas (CUDA toolkit) is not on PATH")
CUDA_STATUS = cuda_device.cuda_status()
needs_gpu = pytest.mark.skipif(CUDA_STATUS is not None, reason=CUDA_STATUS or "")

# relu(x * w + b): one fused kernel over a 64x32 grid of 16x16 tiles.
DENSE_RELU = """
func.func @main(%x: tensor<64x32xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>)
    -> tensor<64x32xf32> attributes {tgc.feed_names = ["x", "w", "b"], tgc.fetch_names = ["y"]} {
  %m = "tgc.multiply"(%x, %w) : (tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x32xf32>
  %a = "tgc.add"(%m, %b) : (tensor<64x32xf32>, tensor<32xf32>) -> tensor<64x32xf32>
  %r = "tgc.relu"(%a) : (tensor<64x32xf32>) -> tensor<64x32xf32>
  return %r : tensor<64x32xf32>
}
"""


def _inputs(seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((64, 32)).astype(np.float32),
        "w": rng.standard_normal((64, 32)).astype(np.float32),
        "b": rng.standard_normal(32).astype(np.float32),
    }


def _reference(x, w, b) -> np.ndarray:
    return np.maximum(x * w + b, 0)


def _compile(tmp_path, *args, module=DENSE_RELU, out="out"):
    source = tmp_path / "dense_relu.mlir"
    source.write_text(module)
    result = CliRunner().invoke(
        main,
        ["compile", str(source), "--target", "nvptx", "-o", str(tmp_path / out), *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return tmp_path / out


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    return _compile(tmp_path_factory.mktemp("nvptx"))


def _manifest(path) -> dict:
    return json.loads((path / "manifest.json").read_text())


def _rewrite(path, manifest: dict, resign: bool = True) -> None:
    """Writes an edited manifest, with the signature hash recomputed when ``resign``."""
    if resign:
        manifest["signature"]["sha256"] = signature_digest(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _copy(artifact, tmp_path):
    return shutil.copytree(artifact, tmp_path / "copy")


# ---- what is written -----------------------------------------------------------------------------


def test_the_artifact_holds_ptx_the_launch_plan_and_the_signature(artifact):
    names = sorted(p.name for p in artifact.iterdir())
    expected = ["kernels.ptx", "manifest.json", "variables.npz"]
    assert names == sorted(expected + (["kernels.cubin"] if PTXAS else []))
    manifest = read_manifest(str(artifact))  # schema, agreement, plan indices: all pass
    assert manifest["format"] == "tgc-nvptx-artifact" and manifest["format_version"] == 1
    assert manifest["target"] == {
        "name": "nvptx",
        "triple": "nvptx64-nvidia-cuda",
        "gpu_arch": "sm_90",
        "opt_level": 3,
        "allow_tf32": False,
    }
    assert [i["name"] for i in manifest["inputs"]] == ["x", "w", "b"]
    assert manifest["outputs"] == [{"name": "y", "dtype": "float32", "shape": [64, 32]}]
    entry = manifest["entry_points"][0]
    assert entry["symbol"] == "model_main"
    plan = manifest["launch_plan"]
    function = plan["functions"]["model_main"]
    assert function["arguments"] == [
        {"shape": [64, 32], "dtype": "float32"},
        {"shape": [64, 32], "dtype": "float32"},
        {"shape": [32], "dtype": "float32"},
        {"shape": [64, 32], "dtype": "float32"},
    ]
    assert function["results"] == 1
    [step] = function["steps"]
    launch = step["launch"]
    assert launch["kernel"] in plan["kernels"]
    assert launch["grid"] == [1, 8, 1] and launch["block"] == [32, 8, 1]
    pointers = [value for kind, value in launch["args"] if kind == "argument"]
    assert pointers == [0, 1, 2, 3]
    ptx = (artifact / "kernels.ptx").read_text()
    assert ptx.splitlines()[0] == ptx_signature_line(manifest["signature"]["sha256"])
    assert f".visible .entry {launch['kernel']}(" in ptx
    assert ".target sm_90" in ptx


@needs_ptxas
def test_ptxas_assembles_a_cubin_for_the_chosen_architecture(tmp_path):
    path = _compile(tmp_path, "--target-cpu", "sm_80")
    manifest = read_manifest(str(path))
    assert manifest["target"]["gpu_arch"] == "sm_80"
    assert manifest["files"]["cubin"] == "kernels.cubin"
    assert manifest["assembler"].startswith("ptxas -arch=sm_80 (")
    assert (path / "kernels.cubin").read_bytes()[:4] == b"\x7fELF"


# tf.shape(x)[0] fetched, and doubled: the fetch copied one element of the shape's buffer out of a
# view on the host, which tgc-nvptx-check-host refused ("memref.subview ... outside a kernel").
ELEMENT_OF_A_SHAPE = """
func.func @main(%x: tensor<3x4xf32>) -> (tensor<i32>, tensor<i32>)
    attributes {tgc.feed_names = ["x"], tgc.fetch_names = ["rows", "doubled"]} {
  %s = "tgc.shape"(%x) {out_type = i32} : (tensor<3x4xf32>) -> tensor<2xi32>
  %e = "tgc.strided_slice"(%s) {begin = array<i64: 0>, begin_mask = 0 : i64,
      end = array<i64: 1>, end_mask = 0 : i64, strides = array<i64: 1>}
      : (tensor<2xi32>) -> tensor<1xi32>
  %r = "tgc.squeeze"(%e) {axes = array<i64: 0>} : (tensor<1xi32>) -> tensor<i32>
  %two = "tgc.constant"() {value = dense<2> : tensor<i32>} : () -> tensor<i32>
  %d = "tgc.multiply"(%r, %two) : (tensor<i32>, tensor<i32>) -> tensor<i32>
  return %r, %d : tensor<i32>, tensor<i32>
}
"""


@needs_ptxas
def test_an_element_of_a_shape_is_fetched_by_a_kernel_that_ptxas_assembles(tmp_path):
    path = _compile(tmp_path, module=ELEMENT_OF_A_SHAPE)
    manifest = read_manifest(str(path))
    assert manifest["assembler"].startswith("ptxas -arch=sm_90 (")
    assert (path / "kernels.cubin").read_bytes()[:4] == b"\x7fELF"


def test_without_ptxas_the_artifact_has_ptx_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    path = _compile(tmp_path)
    manifest = read_manifest(str(path))
    assert manifest["files"]["cubin"] is None and manifest["assembler"] is None
    assert not (path / "kernels.cubin").exists()


@needs_ptxas
def test_a_ptxas_failure_is_an_error_with_its_message():
    with pytest.raises(AotError, match=r"^ptxas -arch=sm_90 failed: .*kernels\.ptx.*"):
        assemble(".version 8.0\n.target sm_90\n.address_size 64\nnot ptx at all\n", "sm_90")


def test_an_archive_is_written_and_inspected(tmp_path):
    archive = _compile(tmp_path, out="model.tar.gz")
    result = CliRunner().invoke(main, ["inspect", str(archive)])
    assert result.exit_code == 0, result.output
    assert "target   nvptx (nvptx64-nvidia-cuda gpu=sm_90 -O3)" in result.output


# ---- inspect and run -----------------------------------------------------------------------------


def test_inspect_shows_the_target_kernels_and_launches(artifact):
    result = CliRunner().invoke(main, ["inspect", str(artifact)])
    assert result.exit_code == 0, result.output
    manifest = _manifest(artifact)
    kernel = manifest["launch_plan"]["kernels"][0]
    lines = result.output.splitlines()
    assert lines[0] == f"artifact {artifact} (format 1, entry model_main)"
    assert lines[1] == "target   nvptx (nvptx64-nvidia-cuda gpu=sm_90 -O3)"
    assert "  x                        [64, 32] float32" in lines
    assert "  y                        [64, 32] float32" in lines
    assert f"kernels: {kernel}" in lines
    assert "function model_main: 1 step" in lines
    assert f"  launch {kernel:32s} grid 1x8x1  block 32x8x1" in lines
    assert "  workspace 0 bytes, 0 buffers" in lines
    code = next(line for line in lines if line.startswith("code     "))
    assert code.startswith("code     kernels.ptx, ")
    if PTXAS:
        assert "kernels.cubin" in code and "(cubin by ptxas -arch=sm_90 (" in code
    as_json = CliRunner().invoke(main, ["inspect", "--json", str(artifact)])
    assert json.loads(as_json.output) == manifest


@pytest.mark.skipif(CUDA_STATUS is None, reason="a CUDA GPU is usable here")
def test_run_without_a_gpu_says_why_in_one_line(artifact):
    result = CliRunner().invoke(main, ["run", str(artifact)])
    assert result.exit_code == 1
    assert result.output == f"tgc run: error: cannot run {artifact}: {CUDA_STATUS}\n"
    with pytest.raises(ArtifactError, match=re.escape(f"cannot run {artifact}: {CUDA_STATUS}")):
        tgc.runtime.load(str(artifact))


def test_loaded_without_a_device_it_is_read_but_not_run(artifact):
    art = load(str(artifact), device=None)
    assert [i.name for i in art.signature.inputs] == ["x", "w", "b"]
    with pytest.raises(ArtifactError, match=r"loaded without a GPU \(device=None\)"):
        art(**_inputs())
    with pytest.raises(ArtifactError, match="device must be 'cuda' or None, not 'tpu'"):
        load(str(artifact), device="tpu")


# ---- the checks before anything reaches the GPU --------------------------------------------------


def test_a_changed_launch_plan_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["launch_plan"]["functions"]["model_main"]["steps"][0]["launch"]["grid"] = [8, 2, 1]
    _rewrite(path, manifest, resign=False)
    with pytest.raises(InvalidArtifact, match="launch plan or target were changed after compile"):
        load(str(path), device=None)
    _rewrite(path, manifest)  # the manifest agrees with itself now, but not with the PTX
    with pytest.raises(InvalidArtifact, match="the PTX was not compiled with this manifest"):
        load(str(path), device=None)


def test_a_launch_without_threads_is_accepted(artifact, tmp_path):
    # An empty tensor's kernel gets a 0 in its grid: the runtime skips such a launch.
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["launch_plan"]["functions"]["model_main"]["steps"][0]["launch"]["grid"] = [0, 2, 1]
    _rewrite(path, manifest)
    (path / "kernels.ptx").write_text(
        "\n".join(
            [ptx_signature_line(manifest["signature"]["sha256"])]
            + (path / "kernels.ptx").read_text().split("\n")[1:]
        )
    )
    manifest["checksums"]["kernels.ptx"] = file_record((path / "kernels.ptx").read_bytes())
    _rewrite(path, manifest)
    assert load(str(path), device=None).launch_plan["steps"][0]["launch"]["grid"] == [0, 2, 1]


def test_a_launch_argument_out_of_range_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    args = manifest["launch_plan"]["functions"]["model_main"]["steps"][0]["launch"]["args"]
    position = next(i for i, (kind, _) in enumerate(args) if kind == "argument")
    args[position] = ["buffer", 3]
    _rewrite(path, manifest)
    with pytest.raises(
        InvalidArtifact,
        match=rf"field 'launch_plan\.functions\.model_main\.steps\[0\]\.launch\.args"
        rf"\[{position}\]': there is no buffer 3",
    ):
        load(str(path), device=None)


def test_a_copy_larger_than_its_buffers_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    function = manifest["launch_plan"]["functions"]["model_main"]
    function["steps"].append({"copy": {"source": ["argument", 2], "target": ["argument", 3]}})
    function["steps"][-1]["copy"]["bytes"] = 4 * 64 * 32  # argument 2 (b) holds 32 floats
    _rewrite(path, manifest)
    with pytest.raises(
        InvalidArtifact,
        match=r"field 'launch_plan\.functions\.model_main\.steps\[1\]\.copy\.bytes': 8192 bytes "
        r"do not fit argument 2 \(128 bytes\)",
    ):
        load(str(path), device=None)


def test_a_written_argument_that_does_not_exist_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["launch_plan"]["functions"]["model_main"]["written_arguments"] = [3, 4]
    _rewrite(path, manifest)
    with pytest.raises(
        InvalidArtifact,
        match=r"field 'launch_plan\.functions\.model_main\.written_arguments': there is no "
        "argument 4",
    ):
        load(str(path), device=None)


def test_plan_arguments_that_are_not_the_signature_are_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["launch_plan"]["functions"]["model_main"]["arguments"][2]["shape"] = [64]
    _rewrite(path, manifest)
    with pytest.raises(InvalidArtifact, match="they are not the entry point's arguments"):
        load(str(path), device=None)


def test_a_changed_ptx_file_is_refused(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    ptx = path / "kernels.ptx"
    ptx.write_text(ptx.read_text().replace(".target sm_90", ".target sm_80"))  # same size
    with pytest.raises(InvalidArtifact, match=r"kernels\.ptx: its SHA-256 differs"):
        load(str(path), device=None)


def test_a_manifest_field_of_the_wrong_kind_is_named(artifact, tmp_path):
    path = _copy(artifact, tmp_path)
    manifest = _manifest(path)
    manifest["target"]["gpu_arch"] = "znver3"
    _rewrite(path, manifest)
    with pytest.raises(InvalidArtifact, match=r"field 'target\.gpu_arch': 'znver3' does not match"):
        load(str(path), device=None)


# ---- the calling path, on a device standing in for the GPU ---------------------------------------


class NumpyDevice:
    """The device interface over host memory; each kernel is a Python function of its launch's
    argument values (read through kernelParams as cuLaunchKernel would)."""

    def __init__(self, kernels: dict, arch: str = "sm_90"):
        self.kernels, self.arch, self.memory, self.images, self.launches = kernels, arch, {}, [], []

    def compute_capability(self):
        return self.arch

    def load_module(self, image):
        self.images.append(image)

    def kernel(self, name):
        return name

    def alloc(self, nbytes):
        block = np.zeros(max(nbytes, 1), np.uint8)
        self.memory[block.ctypes.data] = block
        return block.ctypes.data

    def free(self, pointer):
        del self.memory[pointer]

    def copy_in(self, pointer, array):
        ctypes.memmove(pointer, array.ctypes.data, array.nbytes)

    def copy_out(self, pointer, shape, dtype):
        out = np.empty(shape, dtype)
        ctypes.memmove(out.ctypes.data, pointer, out.nbytes)
        return out

    def copy(self, target, source, nbytes):
        ctypes.memmove(target, source, nbytes)

    def launch(self, handle, grid, block, params):
        self.launches.append((handle, tuple(grid), tuple(block)))
        self.kernels[handle](self, [params[i] for i in range(len(params))])

    def synchronize(self):
        pass

    def close(self):
        pass

    def array(self, pointer, shape, dtype=np.float32):
        return np.frombuffer(self.memory[pointer], dtype, int(np.prod(shape))).reshape(shape)


def _dense_relu_kernel(args_kinds):
    """relu(x * w + b) on the buffers the launch's ``argument`` parameters point at."""
    positions = [i for i, (kind, _) in enumerate(args_kinds) if kind == "argument"]

    def run(device, params):
        x, w, b, y = (ctypes.c_void_p.from_address(params[i]).value for i in positions)
        result = _reference(
            device.array(x, (64, 32)), device.array(w, (64, 32)), device.array(b, (32,))
        )
        device.array(y, (64, 32))[...] = result

    return run


@pytest.fixture
def standing_in_for_the_gpu(artifact, monkeypatch):
    launch = _manifest(artifact)["launch_plan"]["functions"]["model_main"]["steps"][0]["launch"]
    devices = []

    def make(image=b"", ordinal=0):
        devices.append(NumpyDevice({launch["kernel"]: _dense_relu_kernel(launch["args"])}))
        return devices[-1]

    monkeypatch.setattr(cuda_device, "cuda_status", lambda: None)
    monkeypatch.setattr(cuda_device, "CudaDevice", make)
    return devices


def test_an_artifact_runs_through_its_launch_plan_with_the_cpu_artifacts_api(
    artifact, standing_in_for_the_gpu
):
    art = tgc.runtime.load(str(artifact))
    [device] = standing_in_for_the_gpu
    feeds = _inputs()
    result = art(**feeds)
    assert list(result) == ["y"]
    np.testing.assert_allclose(result["y"], _reference(**feeds), rtol=1e-6)
    positional = art(feeds["x"], feeds["w"], b=feeds["b"])
    np.testing.assert_array_equal(positional["y"], result["y"])
    kernel = _manifest(artifact)["launch_plan"]["kernels"][0]
    assert device.launches == [(kernel, (1, 8, 1), (32, 8, 1))] * 2
    with pytest.raises(ArtifactError, match=r"input 'b' has shape \[32\] float32, got \[31\]"):
        art(feeds["x"], feeds["w"], np.zeros(31, np.float32))
    with pytest.raises(ArtifactError, match="missing input"):
        art(feeds["x"])
    art.close()
    assert device.memory == {}  # the workspace and every call's buffers were freed


def test_the_cubin_is_loaded_on_its_architecture_and_the_ptx_elsewhere(
    artifact, standing_in_for_the_gpu, monkeypatch
):
    ptx = (artifact / "kernels.ptx").read_bytes()
    art = load(str(artifact))
    [device] = standing_in_for_the_gpu
    if PTXAS:
        assert art.backend == "cubin (sm_90)"
        assert device.images == [(artifact / "kernels.cubin").read_bytes()]
    else:
        assert art.backend == "ptx (compiled by the driver for sm_90)"
        assert device.images == [ptx]
    monkeypatch.setattr(NumpyDevice, "compute_capability", lambda self: "sm_100")
    art = load(str(artifact))
    assert art.backend == "ptx (compiled by the driver for sm_100)"
    assert standing_in_for_the_gpu[-1].images == [ptx]


def test_a_gpu_older_than_the_code_is_refused_in_one_line(
    artifact, standing_in_for_the_gpu, monkeypatch
):
    monkeypatch.setattr(NumpyDevice, "compute_capability", lambda self: "sm_80")
    with pytest.raises(
        ArtifactError,
        match=rf"^cannot run {artifact}: it was compiled for sm_90 and this GPU is sm_80 "
        r"\(compile it with --target-cpu sm_80\)$",
    ):
        load(str(artifact))
    assert standing_in_for_the_gpu[-1].images == []


@needs_ptxas
def test_a_cubin_the_driver_refuses_gives_way_to_the_ptx(
    artifact, standing_in_for_the_gpu, monkeypatch
):
    def refuse_cubins(self, image):
        if image.startswith(b"\x7fELF"):
            raise cuda_device.CudaError("cuModuleLoadData", "CUDA_ERROR_INVALID_IMAGE")
        self.images.append(image)

    monkeypatch.setattr(NumpyDevice, "load_module", refuse_cubins)
    art = load(str(artifact))
    assert art.backend == (
        "ptx (compiled by the driver for sm_90); the cubin did not load: "
        "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE"
    )
    assert standing_in_for_the_gpu[-1].images == [(artifact / "kernels.ptx").read_bytes()]
    feeds = _inputs()
    np.testing.assert_allclose(art(**feeds)["y"], _reference(**feeds), rtol=1e-6)


@needs_gpu
def test_on_a_gpu_the_artifact_computes_what_numpy_does(artifact):
    art = tgc.runtime.load(str(artifact))
    try:
        for seed in range(3):
            feeds = _inputs(seed)
            np.testing.assert_allclose(art(**feeds)["y"], _reference(**feeds), rtol=1e-6)
    finally:
        art.close()


LESS = """
func.func @main(%x: tensor<8x16xf32>, %y: tensor<8x16xf32>) -> tensor<8x16xi1>
    attributes {tgc.feed_names = ["x", "y"], tgc.fetch_names = ["less"]} {
  %r = "tgc.less"(%x, %y) : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xi1>
  return %r : tensor<8x16xi1>
}
"""


def test_a_bool_result_comes_back_as_bool_from_its_byte_storage(tmp_path, monkeypatch):
    path = _compile(tmp_path, module=LESS)
    manifest = _manifest(path)
    assert manifest["outputs"] == [{"name": "less", "dtype": "bool", "shape": [8, 16]}]
    function = manifest["launch_plan"]["functions"]["model_main"]
    assert function["arguments"][2] == {"shape": [8, 16], "dtype": "int8"}
    [step] = function["steps"]
    positions = [i for i, (kind, _) in enumerate(step["launch"]["args"]) if kind == "argument"]

    def less(device, params):
        x, y, out = (ctypes.c_void_p.from_address(params[i]).value for i in positions)
        flags = device.array(x, (8, 16)) < device.array(y, (8, 16))
        device.array(out, (8, 16), np.int8)[...] = flags

    monkeypatch.setattr(cuda_device, "cuda_status", lambda: None)
    monkeypatch.setattr(
        cuda_device, "CudaDevice", lambda: NumpyDevice({step["launch"]["kernel"]: less})
    )
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2, 8, 16)).astype(np.float32)
    result = tgc.runtime.load(str(path))(x=x, y=y)["less"]
    assert result.dtype == np.bool_
    np.testing.assert_array_equal(result, x < y)


TRAINING_PROGRAM = """
import numpy as np

import tgc as tf

x = tf.placeholder(tf.float32, [4, 8], name="x")
w = tf.Variable(np.full((4, 8), 0.5, np.float32), name="w")
y = tf.tanh(x * w, name="y")
train = tf.group(w.assign(w * x), name="train")
"""


def _elementwise_kernel(args_kinds):
    """out = tanh(a * b) when it writes argument 2 (the fetch y), else a * b (the new w)."""
    pointers = [(i, value) for i, (kind, value) in enumerate(args_kinds) if kind == "argument"]

    def run(device, params):
        a, b, out = (ctypes.c_void_p.from_address(params[i]).value for i, _ in pointers)
        product = device.array(a, (4, 8)) * device.array(b, (4, 8))
        device.array(out, (4, 8))[...] = np.tanh(product) if pointers[-1][1] == 2 else product

    return run


def test_a_python_program_with_a_variable_keeps_it_between_calls(tmp_path, monkeypatch):
    program = tmp_path / "model.py"
    program.write_text(TRAINING_PROGRAM)
    fetches = ["--fetch", "y", "--fetch", "train"]
    result = CliRunner().invoke(
        main,
        ["compile", str(program), "--target", "nvptx", *fetches, "-o", str(tmp_path / "out")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "out"
    manifest = read_manifest(str(path))
    assert manifest["variables_read"] == ["w"] and manifest["variables_assigned"] == ["w"]
    inspect = CliRunner().invoke(main, ["inspect", str(path)])
    assert "variables:\n  w                        [4, 8] float32\n" in inspect.output
    steps = manifest["launch_plan"]["functions"]["model_main"]["steps"]
    kernels = {s["launch"]["kernel"]: _elementwise_kernel(s["launch"]["args"]) for s in steps}
    monkeypatch.setattr(cuda_device, "cuda_status", lambda: None)
    monkeypatch.setattr(cuda_device, "CudaDevice", lambda: NumpyDevice(kernels))
    art = tgc.runtime.load(str(path))
    x = np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8)
    w = np.full((4, 8), 0.5, np.float32)
    for _ in range(2):
        np.testing.assert_allclose(art(x=x)["y"], np.tanh(x * w), rtol=1e-6)
        w = w * x
        np.testing.assert_allclose(art.variables["w"], w, rtol=1e-6)
    # The new value stayed on the device for the next call.
    assert isinstance(art.variables["w"], DeviceArray)
    saved = art.save(str(tmp_path / "ckpt"))
    art.reset()
    np.testing.assert_array_equal(art.variables["w"], np.full((4, 8), 0.5, np.float32))
    art.restore(saved)
    np.testing.assert_allclose(art.variables["w"], w, rtol=1e-6)
    art(x=x)
    art.close()  # the variables are read back to the host first
    assert isinstance(art.variables["w"], np.ndarray)
    np.testing.assert_allclose(art.variables["w"], w * x, rtol=1e-6)
