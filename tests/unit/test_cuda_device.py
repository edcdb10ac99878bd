"""CudaDevice and cuda_status against a fake ``cuda.bindings.driver``: the driver calls made, in
order and with their arguments, and the messages of every way CUDA can be missing or fail. No GPU
is needed: the fake records what a real driver would be asked."""

import ctypes
import enum
import sys
import types

import numpy as np
import pytest

from tgc.runtime import cuda_device
from tgc.runtime.cuda_device import CudaDevice, CudaError, cuda_status


class CUresult(enum.IntEnum):
    CUDA_SUCCESS = 0
    CUDA_ERROR_INVALID_VALUE = 1
    CUDA_ERROR_OUT_OF_MEMORY = 2
    CUDA_ERROR_INSUFFICIENT_DRIVER = 35
    CUDA_ERROR_NO_DEVICE = 100
    CUDA_ERROR_INVALID_PTX = 218
    CUDA_ERROR_NOT_FOUND = 500


class CUdevice_attribute(enum.IntEnum):
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97


class CUfunction_attribute(enum.IntEnum):
    CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1
    CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8


H200_SHARED_OPTIN = 232448  # bytes: 227 KiB, an H100's/H200's opt-in limit per block


OK = CUresult.CUDA_SUCCESS


class FakeDriver(types.ModuleType):
    """Answers like cuda.bindings.driver: a tuple (CUresult, values...) per call; ``fail`` maps
    a call's name to the CUresult it returns instead."""

    CUresult = CUresult
    CUdevice_attribute = CUdevice_attribute
    CUfunction_attribute = CUfunction_attribute
    static_shared = 1  # bytes: what MLIR's dynamic shared memory symbol takes (ptxas -v)

    def __init__(self, fail=None, devices=1, init_raises=None):
        super().__init__("cuda.bindings.driver")
        self.calls, self.fail, self.devices = [], dict(fail or {}), devices
        self.init_raises = init_raises
        self.memory = {}  # device pointer -> bytearray
        self.next_pointer = 0x7F0000000000
        self.launched = []

    def _answer(self, name, *values):
        if name in self.fail:
            return (self.fail[name],) + tuple(None for _ in values)
        return (OK, *values)

    def __getattr__(self, name):
        if not name.startswith("cu"):
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name, args))
            return getattr(self, "_" + name, lambda *a: self._answer(name))(*args)

        return call

    def _cuInit(self, flags):
        if self.init_raises is not None:
            raise self.init_raises
        return self._answer("cuInit")

    def _cuDeviceGetCount(self):
        return self._answer("cuDeviceGetCount", self.devices)

    def _cuDeviceGet(self, ordinal):
        return self._answer("cuDeviceGet", 1000 + ordinal)

    def _cuDevicePrimaryCtxRetain(self, device):
        return self._answer("cuDevicePrimaryCtxRetain", "context")

    def _cuStreamCreate(self, flags):
        return self._answer("cuStreamCreate", "stream")

    def _cuModuleLoadData(self, image):
        return self._answer("cuModuleLoadData", "module")

    def _cuModuleGetFunction(self, module, name):
        return self._answer("cuModuleGetFunction", ("function", name))

    def _cuDeviceGetAttribute(self, attribute, device):
        if attribute == CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
            return self._answer("cuDeviceGetAttribute", H200_SHARED_OPTIN)
        major = attribute == CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
        return self._answer("cuDeviceGetAttribute", 9 if major else 0)

    def _cuFuncGetAttribute(self, attribute, function):
        assert attribute == CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES
        return self._answer("cuFuncGetAttribute", self.static_shared)

    def _cuMemAlloc(self, nbytes):
        if "cuMemAlloc" in self.fail:
            return self._answer("cuMemAlloc", None)
        pointer = self.next_pointer
        self.next_pointer += 256
        self.memory[pointer] = bytearray(nbytes)
        return self._answer("cuMemAlloc", pointer)

    def _cuMemcpyHtoDAsync(self, pointer, host, nbytes, stream):
        self.memory[pointer][:nbytes] = ctypes.string_at(host, nbytes)
        return self._answer("cuMemcpyHtoDAsync")

    def _cuMemcpyDtoHAsync(self, host, pointer, nbytes, stream):
        ctypes.memmove(host, bytes(self.memory[pointer][:nbytes]), nbytes)
        return self._answer("cuMemcpyDtoHAsync")

    def _cuLaunchKernel(self, f, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        self.launched.append((f, (gx, gy, gz), (bx, by, bz), shared, stream, params, extra))
        return self._answer("cuLaunchKernel")

    def _cuGetErrorString(self, result):
        texts = {
            CUresult.CUDA_ERROR_OUT_OF_MEMORY: b"out of memory",
            CUresult.CUDA_ERROR_INVALID_PTX: b"a PTX JIT compilation failed",
        }
        return (OK, texts.get(result, b""))


def install(monkeypatch, driver: FakeDriver) -> FakeDriver:
    """Makes ``from cuda.bindings import driver`` give the fake."""
    cuda, bindings = types.ModuleType("cuda"), types.ModuleType("cuda.bindings")
    cuda.bindings, bindings.driver = bindings, driver
    monkeypatch.setitem(sys.modules, "cuda", cuda)
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.driver", driver)
    return driver


def names(driver: FakeDriver) -> list:
    return [name for name, _ in driver.calls if name != "cuGetErrorString"]


# ---- cuda_status ---------------------------------------------------------------------------------


def test_status_without_cuda_bindings_says_how_to_install_them(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda", None)  # import cuda raises ImportError
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    assert cuda_status() == "cuda-bindings is not installed: pip install 'tgc[gpu]'"


def test_status_without_the_driver_library(monkeypatch):
    install(monkeypatch, FakeDriver(init_raises=RuntimeError("Failed to dlopen libcuda.so.1")))
    assert cuda_status() == "no CUDA driver"


def test_status_without_a_gpu(monkeypatch):
    install(monkeypatch, FakeDriver(fail={"cuInit": CUresult.CUDA_ERROR_NO_DEVICE}))
    assert cuda_status() == "no CUDA GPU"
    install(monkeypatch, FakeDriver(devices=0))
    assert cuda_status() == "no CUDA GPU"


def test_status_names_any_other_failure_of_cuinit(monkeypatch):
    install(monkeypatch, FakeDriver(fail={"cuInit": CUresult.CUDA_ERROR_INSUFFICIENT_DRIVER}))
    assert cuda_status() == (
        "the CUDA driver does not start: cuInit failed: CUDA_ERROR_INSUFFICIENT_DRIVER"
    )


def test_status_with_a_gpu_is_none(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    assert cuda_status() is None
    assert names(driver) == ["cuInit", "cuDeviceGetCount"]


def test_gpu_count_is_the_drivers_count_or_zero_without_a_usable_gpu(monkeypatch):
    install(monkeypatch, FakeDriver(devices=2))
    assert cuda_device.gpu_count() == 2
    install(monkeypatch, FakeDriver(fail={"cuInit": CUresult.CUDA_ERROR_NO_DEVICE}))
    assert cuda_device.gpu_count() == 0
    install(monkeypatch, FakeDriver(init_raises=RuntimeError("Failed to dlopen libcuda.so.1")))
    assert cuda_device.gpu_count() == 0


def test_importing_the_module_does_not_import_cuda_bindings():
    import subprocess

    code = (
        "import sys, tgc.runtime.cuda_device; print(any(m.startswith('cuda') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- CudaDevice ----------------------------------------------------------------------------------


PTX = b"//\n// Generated by LLVM NVPTX Back-End\n.version 8.0\n.target sm_90\n"


def test_a_device_retains_the_primary_context_and_loads_ptx_as_a_c_string(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    assert names(driver) == [
        "cuInit",
        "cuDeviceGet",
        "cuDevicePrimaryCtxRetain",
        "cuCtxSetCurrent",
        "cuStreamCreate",
        "cuModuleLoadData",
    ]
    assert driver.calls[1][1] == (0,)
    assert driver.calls[3][1] == ("context",)
    assert driver.calls[5][1] == (PTX + b"\0",)
    device.close()
    assert names(driver)[-3:] == ["cuModuleUnload", "cuStreamDestroy", "cuDevicePrimaryCtxRelease"]
    assert driver.calls[-1][1] == (1000,)


def test_the_context_is_made_current_on_each_thread_that_uses_the_device(monkeypatch):
    import threading

    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    device.synchronize()
    assert names(driver).count("cuCtxSetCurrent") == 1
    worker = threading.Thread(target=lambda: (device.synchronize(), device.synchronize()))
    worker.start()
    worker.join()
    assert names(driver)[-3:] == ["cuCtxSetCurrent", "cuStreamSynchronize", "cuStreamSynchronize"]
    assert names(driver).count("cuCtxSetCurrent") == 2


def test_a_cubin_is_loaded_as_it_is(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    cubin = b"\x7fELF\x02\x01\x01" + bytes(57)
    CudaDevice(cubin)
    assert driver.calls[-1] == ("cuModuleLoadData", (cubin,))


def test_kernels_are_looked_up_once_by_name(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    first = device.kernel("model_main_kernel_0")
    assert device.kernel("model_main_kernel_0") is first
    lookups = [args for name, args in driver.calls if name == "cuModuleGetFunction"]
    assert lookups == [("module", b"model_main_kernel_0")]


def test_copies_go_through_device_memory_on_the_stream(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    pointer = device.alloc(x.nbytes)
    device.copy_in(pointer, x)
    back = device.copy_out(pointer, (3, 4), np.float32)
    np.testing.assert_array_equal(back, x)
    assert names(driver)[-4:] == [
        "cuMemAlloc",
        "cuMemcpyHtoDAsync",
        "cuMemcpyDtoHAsync",
        "cuStreamSynchronize",
    ]
    htod = next(args for name, args in driver.calls if name == "cuMemcpyHtoDAsync")
    assert htod == (pointer, x.ctypes.data, 48, "stream")


def test_freed_memory_is_reused_by_allocations_of_its_size(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    first = device.alloc(48)
    assert [args for name, args in driver.calls if name == "cuMemAlloc"] == [(512,)]
    device.free(first)
    assert "cuMemFree" not in names(driver)
    assert device.alloc(500) == first  # the same rounded size: the freed block
    other = device.alloc(48)  # the block is taken: a new one
    assert other != first
    bigger = device.alloc(513)
    assert [args for name, args in driver.calls if name == "cuMemAlloc"] == [
        (512,),
        (512,),
        (1024,),
    ]
    for pointer in (first, other, bigger):
        device.free(pointer)
    device.close()
    freed = sorted(args[0] for name, args in driver.calls if name == "cuMemFree")
    assert freed == sorted([first, other, bigger])


def test_out_of_memory_returns_the_pool_to_the_driver_and_tries_again(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    cached = device.alloc(512)
    device.free(cached)
    answers = iter([(CUresult.CUDA_ERROR_OUT_OF_MEMORY, None)])
    real = driver._cuMemAlloc
    monkeypatch.setattr(driver, "_cuMemAlloc", lambda n: next(answers, None) or real(n))
    pointer = device.alloc(4096)
    sequence = [n for n in names(driver) if n in ("cuMemAlloc", "cuMemFree")]
    assert sequence == ["cuMemAlloc", "cuMemAlloc", "cuMemFree", "cuMemAlloc"]
    assert ("cuMemFree", (cached,)) in driver.calls
    assert pointer != cached


def test_out_of_memory_with_nothing_cached_is_the_drivers_error(monkeypatch):
    install(monkeypatch, FakeDriver(fail={"cuMemAlloc": CUresult.CUDA_ERROR_OUT_OF_MEMORY}))
    device = CudaDevice(PTX)
    with pytest.raises(CudaError, match="^cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY"):
        device.alloc(1 << 40)


def test_a_device_to_device_copy_is_queued_on_the_stream(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    device.copy(0x7F0000000100, 0x7F0000000000, 48)
    device.copy(0x7F0000000100, 0x7F0000000000, 0)  # nothing to copy: no call
    copies = [args for name, args in driver.calls if name == "cuMemcpyDtoDAsync"]
    assert copies == [(0x7F0000000100, 0x7F0000000000, 48, "stream")]


def test_an_empty_tensor_gets_a_pointer_of_its_own_and_no_copy(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    a, b = device.alloc(0), device.alloc(0)
    assert a != b
    assert [args for name, args in driver.calls if name == "cuMemAlloc"] == [(512,), (512,)]
    device.copy_in(a, np.zeros((0, 3), np.float32))
    out = device.copy_out(a, (0, 3), np.float32)
    assert out.shape == (0, 3)
    assert "cuMemcpyHtoDAsync" not in names(driver) and "cuMemcpyDtoHAsync" not in names(driver)


def test_launch_passes_grid_block_stream_and_the_parameter_array(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    kernel = device.kernel("k")
    size, pointer = ctypes.c_int64(16), ctypes.c_void_p(0x7F0000000000)
    params = (ctypes.c_void_p * 2)(ctypes.addressof(size), ctypes.addressof(pointer))
    device.launch(kernel, [4, 2, 1], (16, 16, 1), params)
    device.synchronize()
    assert driver.launched == [
        (("function", b"k"), (4, 2, 1), (16, 16, 1), 0, "stream", ctypes.addressof(params), 0)
    ]
    # The address is the array's: its entries point at the argument values.
    assert ctypes.c_int64.from_address(params[0]).value == 16
    assert ctypes.c_void_p.from_address(params[1]).value == 0x7F0000000000
    assert names(driver)[-1] == "cuStreamSynchronize"


def test_compute_capability_reads_major_and_minor(monkeypatch):
    install(monkeypatch, FakeDriver())
    assert CudaDevice(PTX).compute_capability() == "sm_90"


def test_a_failed_call_names_the_call_and_the_error(monkeypatch):
    install(monkeypatch, FakeDriver(fail={"cuMemAlloc": CUresult.CUDA_ERROR_OUT_OF_MEMORY}))
    device = CudaDevice(PTX)
    with pytest.raises(CudaError) as caught:
        device.alloc(1 << 40)
    assert str(caught.value) == "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)"
    assert caught.value.call == "cuMemAlloc"
    assert caught.value.error_name == "CUDA_ERROR_OUT_OF_MEMORY"


def test_bad_ptx_is_refused_when_the_module_loads(monkeypatch):
    install(monkeypatch, FakeDriver(fail={"cuModuleLoadData": CUresult.CUDA_ERROR_INVALID_PTX}))
    with pytest.raises(
        CudaError,
        match=r"^cuModuleLoadData failed: CUDA_ERROR_INVALID_PTX \(a PTX JIT compilation failed\)$",
    ):
        CudaDevice(PTX)


def test_an_unknown_kernel_and_a_failed_launch(monkeypatch):
    fail = {
        "cuModuleGetFunction": CUresult.CUDA_ERROR_NOT_FOUND,
        "cuLaunchKernel": CUresult.CUDA_ERROR_INVALID_VALUE,
    }
    install(monkeypatch, FakeDriver(fail=fail))
    device = CudaDevice(PTX)
    with pytest.raises(CudaError, match=r"^cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND$"):
        device.kernel("missing")
    with pytest.raises(CudaError, match=r"^cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE$"):
        device.launch("f", (1, 1, 1), (1, 1, 1), (ctypes.c_void_p * 1)())


def test_a_device_without_a_module_has_no_kernels(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(b"")
    assert "cuModuleLoadData" not in names(driver)
    with pytest.raises(CudaError, match="no module holds kernel k"):
        device.kernel("k")


def test_the_driver_is_found_through_the_import_system(monkeypatch):
    # The fake stands where the real module is imported from: nothing in cuda_device is patched.
    driver = install(monkeypatch, FakeDriver())
    assert cuda_device._driver() is driver


# ---- dynamic shared memory -----------------------------------------------------------------------


def _launch_with_shared(device, shared_bytes: int, launcher: bool = False) -> None:
    params = (ctypes.c_void_p * 1)()
    kernel = device.kernel("k")
    if launcher:
        device.launcher(kernel, (2, 1, 1), (128, 1, 1), params, shared_bytes)()
    else:
        device.launch(kernel, (2, 1, 1), (128, 1, 1), params, shared_bytes)


def test_up_to_48_kib_of_dynamic_shared_memory_needs_no_opt_in(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    _launch_with_shared(device, 48 * 1024)
    assert [launch[3] for launch in driver.launched] == [49152]
    assert "cuFuncSetAttribute" not in names(driver)


@pytest.mark.parametrize("launcher", [False, True])
def test_past_48_kib_the_kernel_opts_in_once_and_launches_with_its_bytes(monkeypatch, launcher):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    _launch_with_shared(device, 98304, launcher)
    _launch_with_shared(device, 98304, launcher)
    opt_ins = [args for name, args in driver.calls if name == "cuFuncSetAttribute"]
    assert opt_ins == [
        (
            ("function", b"k"),
            CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            98304,
        )
    ]
    queries = [args for name, args in driver.calls if name == "cuDeviceGetAttribute"]
    assert queries == [
        (CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 1000)
    ]
    assert [launch[3] for launch in driver.launched] == [98304, 98304]
    # The opt-in comes before the first launch that needs it.
    order = names(driver)
    assert order.index("cuFuncSetAttribute") < order.index("cuLaunchKernel")


def test_a_larger_size_opts_in_again(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    _launch_with_shared(device, 65536)
    _launch_with_shared(device, 131072)
    sizes = [args[2] for name, args in driver.calls if name == "cuFuncSetAttribute"]
    assert sizes == [65536, 131072]


def test_more_than_the_device_allows_is_refused_naming_the_kernel_and_the_limit(monkeypatch):
    driver = install(monkeypatch, FakeDriver())
    device = CudaDevice(PTX)
    # 227 KiB of dynamic memory and the symbol's static byte: one byte past the opt-in limit.
    with pytest.raises(
        CudaError,
        match=r"^cuFuncSetAttribute failed: CUDA_ERROR_INVALID_VALUE \(kernel k needs 232448 "
        r"bytes of dynamic shared memory besides its 1 static bytes, and this GPU gives a block "
        r"at most 232448 ",
    ):
        _launch_with_shared(device, H200_SHARED_OPTIN)
    assert driver.launched == [] and "cuFuncSetAttribute" not in names(driver)
    _launch_with_shared(device, H200_SHARED_OPTIN - 1)
    assert [launch[3] for launch in driver.launched] == [H200_SHARED_OPTIN - 1]
