"""Per-kernel GPU timing (CudaDevice(profile=True), load(profile=True) / TGC_GPU_PROFILE=1) against
the fake ``cuda.bindings.driver`` of test_cuda_device: the events recorded around each launch, the
times read back per kernel, and the events reused. No GPU is needed."""

import ctypes

import numpy as np
import pytest
from test_cuda_device import PTX, FakeDriver, install, names

from tgc.runtime import cuda_device
from tgc.runtime.artifact import ArtifactError
from tgc.runtime.cuda_device import CudaDevice


class TimingDriver(FakeDriver):
    """Events are numbers; the time between two is what ``times`` says for the launch they
    bracket, in launch order."""

    def __init__(self, times=()):
        super().__init__()
        self.times, self.events = list(times), 0
        self.recorded = []  # (event, stream), in order

    def _cuEventCreate(self, flags):
        self.events += 1
        return self._answer("cuEventCreate", f"event{self.events}")

    def _cuEventRecord(self, event, stream):
        self.recorded.append((event, stream))
        return self._answer("cuEventRecord")

    def _cuEventElapsedTime(self, start, end):
        return self._answer("cuEventElapsedTime", self.times.pop(0))


def _launch(device, name):
    params = (ctypes.c_void_p * 1)()
    device.launch(device.kernel(name), (1, 1, 1), (32, 1, 1), params)


def test_without_profile_a_launch_is_one_driver_call(monkeypatch):
    driver = install(monkeypatch, TimingDriver())
    device = CudaDevice(PTX)
    _launch(device, "k0")
    device.synchronize()
    assert "cuEventRecord" not in names(driver)
    assert device.kernel_times() == {}


def test_each_launch_is_timed_between_two_events_and_summed_per_kernel(monkeypatch):
    driver = install(monkeypatch, TimingDriver(times=[0.5, 0.25, 2.0]))
    device = CudaDevice(PTX, profile=True)
    _launch(device, "k0")
    _launch(device, "k1")
    _launch(device, "k0")
    launches = [n for n in names(driver) if n in ("cuEventRecord", "cuLaunchKernel")]
    assert launches == ["cuEventRecord", "cuLaunchKernel", "cuEventRecord"] * 3
    assert all(stream == "stream" for _, stream in driver.recorded)
    assert device.kernel_times() == {"k0": (2, 2.5), "k1": (1, 0.25)}
    # The stream was synchronized before any time was read.
    order = names(driver)
    assert order.index("cuStreamSynchronize") < order.index("cuEventElapsedTime")


def test_events_are_reused_and_destroyed_with_the_device(monkeypatch):
    driver = install(monkeypatch, TimingDriver(times=[1.0, 1.0, 1.0]))
    device = CudaDevice(PTX, profile=True)
    _launch(device, "k0")
    device.synchronize()
    _launch(device, "k0")
    device.synchronize()
    assert driver.events == 2  # the first launch's pair served the second
    device.reset_kernel_times()
    _launch(device, "k0")
    assert device.kernel_times() == {"k0": (1, 1.0)}
    device.close()
    destroyed = [args[0] for name, args in driver.calls if name == "cuEventDestroy"]
    assert sorted(destroyed) == ["event1", "event2"]


def test_a_failed_event_call_names_the_call(monkeypatch):
    install(monkeypatch, TimingDriver())
    driver = cuda_device._driver()
    driver.fail["cuEventCreate"] = driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY
    device = CudaDevice(PTX, profile=True)
    with pytest.raises(
        cuda_device.CudaError, match="cuEventCreate failed: CUDA_ERROR_OUT_OF_MEMORY"
    ):
        _launch(device, "k0")


# ---- through an artifact -------------------------------------------------------------------------


@pytest.fixture
def dense_relu(tmp_path):
    from click.testing import CliRunner

    from tgc.tools.cli import main

    source = tmp_path / "m.mlir"
    source.write_text(
        """
func.func @main(%x: tensor<64x32xf32>, %b: tensor<32xf32>) -> tensor<64x32xf32>
    attributes {tgc.feed_names = ["x", "b"], tgc.fetch_names = ["y"]} {
  %a = "tgc.add"(%x, %b) : (tensor<64x32xf32>, tensor<32xf32>) -> tensor<64x32xf32>
  %r = "tgc.relu"(%a) : (tensor<64x32xf32>) -> tensor<64x32xf32>
  return %r : tensor<64x32xf32>
}
"""
    )
    out = tmp_path / "art"
    result = CliRunner().invoke(
        main, ["compile", str(source), "--target", "nvptx", "-o", str(out)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return out


def _feeds():
    return {"x": np.ones((64, 32), np.float32), "b": np.ones(32, np.float32)}


def test_an_artifact_loaded_with_profile_lists_its_kernels_by_time(dense_relu, monkeypatch):
    from tgc.runtime.gpu_artifact import load

    install(monkeypatch, TimingDriver(times=[0.75, 0.75]))
    art = load(str(dense_relu), profile=True)
    [kernel] = art.manifest["launch_plan"]["kernels"]
    art(**_feeds())
    art(**_feeds())
    assert art.kernel_times() == [(kernel, 2, 1.5)]
    art.reset_kernel_times()
    assert art.kernel_times() == []
    art.close()


def test_the_environment_turns_profiling_on(dense_relu, monkeypatch):
    import tgc.runtime

    driver = install(monkeypatch, TimingDriver(times=[0.5]))
    monkeypatch.setenv("TGC_GPU_PROFILE", "1")
    art = tgc.runtime.load(str(dense_relu))
    art(**_feeds())
    assert [count for _, count, _ in art.kernel_times()] == [1]
    assert "cuEventRecord" in names(driver)
    art.close()


def test_kernel_times_without_profile_says_how_to_get_them(dense_relu, monkeypatch):
    from tgc.runtime.gpu_artifact import load

    install(monkeypatch, TimingDriver())
    monkeypatch.delenv("TGC_GPU_PROFILE", raising=False)
    art = load(str(dense_relu))
    with pytest.raises(
        ArtifactError, match=r"not loaded with profile=True \(or TGC_GPU_PROFILE=1\)"
    ):
        art.kernel_times()
    art.close()


# ---- the launch plan's launcher ------------------------------------------------------------------


def test_a_launcher_makes_the_same_driver_call_as_launch(monkeypatch):
    driver = install(monkeypatch, TimingDriver())
    device = CudaDevice(PTX)
    handle = device.kernel("k0")
    params = (ctypes.c_void_p * 2)()
    device.launch(handle, (3, 2, 1), (256, 1, 1), params)
    go = device.launcher(handle, (3, 2, 1), (256, 1, 1), params)
    go()
    go()
    launches = [args for name, args in driver.calls if name == "cuLaunchKernel"]
    assert len(launches) == 3 and launches[1] == launches[0] == launches[2]
    assert launches[0] == (handle, 3, 2, 1, 256, 1, 1, 0, "stream", ctypes.addressof(params), 0)


def test_a_launcher_names_a_failed_launch_and_makes_the_context_current_on_new_threads(
    monkeypatch,
):
    import threading

    driver = install(monkeypatch, TimingDriver())
    device = CudaDevice(PTX)
    go = device.launcher(device.kernel("k0"), (1, 1, 1), (32, 1, 1), (ctypes.c_void_p * 1)())
    worker = threading.Thread(target=go)
    worker.start()
    worker.join()
    assert names(driver)[-2:] == ["cuCtxSetCurrent", "cuLaunchKernel"]
    driver.fail["cuLaunchKernel"] = driver.CUresult.CUDA_ERROR_INVALID_VALUE
    with pytest.raises(
        cuda_device.CudaError, match="cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE"
    ):
        go()


def test_an_artifacts_steps_launch_through_the_launcher(dense_relu, monkeypatch):
    from tgc.runtime.gpu_artifact import load

    driver = install(monkeypatch, TimingDriver())
    monkeypatch.delenv("TGC_GPU_PROFILE", raising=False)
    art = load(str(dense_relu))
    made = []
    real = type(art.device).launcher
    monkeypatch.setattr(type(art.device), "launcher", lambda *a: made.append(a) or real(*a))
    art.close()
    art = load(str(dense_relu))
    art(**_feeds())
    art(**_feeds())
    launches = [args for name, args in driver.calls if name == "cuLaunchKernel"]
    assert len(made) == 1 and len(launches) == 2 and launches[0] == launches[1]
    assert "cuEventRecord" not in names(driver)
    art.close()


def test_profiling_a_launcher_times_its_launches(monkeypatch):
    driver = install(monkeypatch, TimingDriver(times=[0.5]))
    device = CudaDevice(PTX, profile=True)
    device.launcher(device.kernel("k0"), (1, 1, 1), (32, 1, 1), (ctypes.c_void_p * 1)())()
    assert device.kernel_times() == {"k0": (1, 0.5)}
    assert names(driver).count("cuEventRecord") == 2
