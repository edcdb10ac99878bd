"""CudaDevice: one NVIDIA GPU through the CUDA driver API (``cuda.bindings.driver``).

It implements the device interface that tgc/runtime/launch_plan.py drives (kernel, alloc, free,
copy_in, copy_out, launch, synchronize): the primary context of GPU 0, one module loaded from PTX
text (the driver compiles it for the GPU) or a cubin (ptxas's code for one architecture), and one
stream that every copy and launch is queued on, in order.

cuda-bindings is imported when a device is made, never when this module is: a machine without it
still loads the runtime and reads artifacts. ``cuda_status()`` says in one line why no GPU is
usable. Every failed driver call raises CudaError naming the call and the driver's error name.

Device memory is pooled: a freed block is kept and handed out again for an allocation of its
rounded size, so calls that allocate the same buffers reuse them without a cuMemAlloc/cuMemFree
pair each; when the driver runs out of memory the pool is returned to it and the allocation
retried.

Per-kernel timing is opt-in (``CudaDevice(profile=True)``, or ``TGC_GPU_PROFILE=1`` for an
artifact's ``load``): each launch is then bracketed by a pair of CUDA events on the stream, and
``kernel_times()`` gives each kernel's launches and GPU milliseconds. Off, a launch is the one
cuLaunchKernel call.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

NOT_INSTALLED = "cuda-bindings is not installed: pip install 'tgc[gpu]'"
NO_DRIVER = "no CUDA driver"
NO_GPU = "no CUDA GPU"
ELF_MAGIC = b"\x7fELF"
POOL_GRANULE = 512  # bytes: allocation sizes are rounded up to this, so freed blocks fit again
# Dynamic shared memory a kernel may take without opting in (cuFuncSetAttribute) on every GPU.
DEFAULT_SHARED_BYTES = 48 * 1024


class CudaError(RuntimeError):
    """A CUDA driver call failed, e.g. ``cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of
    memory)``."""

    def __init__(self, call: str, error_name: str, description: str = ""):
        self.call, self.error_name = call, error_name
        detail = f" ({description})" if description and description != error_name else ""
        super().__init__(f"{call} failed: {error_name}{detail}")


def _driver():
    """The ``cuda.bindings.driver`` module (ImportError when cuda-bindings is not installed)."""
    from cuda.bindings import driver

    return driver


def _error_text(driver, result) -> tuple:
    """(error name, description) of a CUresult, from the driver when it can say."""
    name = getattr(result, "name", str(result))
    description = ""
    try:
        err, text = driver.cuGetErrorString(result)
        if int(err) == 0 and text:
            description = text.decode() if isinstance(text, bytes) else str(text)
    except Exception:  # noqa: BLE001 - a description is a courtesy; the name says enough
        pass
    return name, description


def _check(driver, call: str, returned):
    """The values a driver call returned after its CUresult, or CudaError when it failed."""
    result, *values = returned if isinstance(returned, tuple) else (returned,)
    if int(result) != 0:
        raise CudaError(call, *_error_text(driver, result))
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def cuda_status() -> str | None:
    """None when a CUDA GPU is usable here; otherwise why not, in one line."""
    try:
        driver = _driver()
    except ImportError:
        return NOT_INSTALLED
    try:
        (result,) = driver.cuInit(0)
    except Exception:  # noqa: BLE001 - cuda-bindings raises its own kinds when libcuda is absent
        return NO_DRIVER
    name = getattr(result, "name", str(result))
    if name == "CUDA_ERROR_NO_DEVICE":
        return NO_GPU
    if int(result) != 0:
        return f"the CUDA driver does not start: cuInit failed: {name}"
    count = _check(driver, "cuDeviceGetCount", driver.cuDeviceGetCount())
    return None if int(count) > 0 else NO_GPU


def gpu_count() -> int:
    """How many CUDA GPUs this machine has (0 when none is usable: cuda_status() says why)."""
    if cuda_status() is not None:
        return 0
    driver = _driver()
    return int(_check(driver, "cuDeviceGetCount", driver.cuDeviceGetCount()))


class CudaDevice:
    """GPU ``ordinal`` with ``image`` (PTX text or a cubin; empty: no kernels) loaded as one
    module."""

    def __init__(self, image: bytes = b"", ordinal: int = 0, profile: bool = False):
        self._driver = _driver()
        self.profile = bool(profile)
        self._kernel_names: dict = {}  # id(handle) -> its kernel's name (for the profile)
        self._opted_in: dict = {}  # id(handle) -> the dynamic shared bytes it may take
        self._pending: list = []  # (kernel name, start event, end event) not yet read
        self._free_events: list = []
        self._times: dict = {}  # kernel name -> [launches, milliseconds]
        self._module = self._stream = self._context = None
        self._current_on: set = set()  # the threads this device made its context current on
        self._call("cuInit", 0)
        self._device = self._call("cuDeviceGet", ordinal)
        self._context = self._call("cuDevicePrimaryCtxRetain", self._device)
        self._stream = self._call("cuStreamCreate", 0)
        self._kernels: dict = {}
        self._sizes: dict = {}  # pointer -> size of each block handed out
        self._pool: dict = {}  # size -> blocks freed, kept for reuse
        if image:
            self.load_module(image)

    def _call(self, name: str, *args):
        self._make_current()
        return _check(self._driver, name, getattr(self._driver, name)(*args))

    def _make_current(self) -> None:
        if self._context is not None and threading.get_ident() not in self._current_on:
            # A context is current per thread: a call from a new thread makes it current there.
            self._current_on.add(threading.get_ident())
            _check(self._driver, "cuCtxSetCurrent", self._driver.cuCtxSetCurrent(self._context))

    # ---- the device interface (tgc/runtime/launch_plan.py) --------------------------------------

    def kernel(self, name: str):
        """The kernel ``name`` of the loaded module."""
        if name not in self._kernels:
            if self._module is None:
                raise CudaError(
                    "cuModuleGetFunction", "CUDA_ERROR_NOT_FOUND", f"no module holds kernel {name}"
                )
            handle = self._call("cuModuleGetFunction", self._module, name.encode())
            self._kernels[name] = handle
            self._kernel_names[id(handle)] = name
        return self._kernels[name]

    def alloc(self, nbytes: int) -> int:
        """Device memory of at least ``nbytes`` (0 too: a pointer of its own), from the blocks
        freed before when one of the same rounded size is there."""
        size = -(-max(int(nbytes), 1) // POOL_GRANULE) * POOL_GRANULE
        cached = self._pool.get(size)
        pointer = cached.pop() if cached else self._fresh(size)
        self._sizes[pointer] = size
        return pointer

    def _fresh(self, size: int) -> int:
        try:
            return int(self._call("cuMemAlloc", size))
        except CudaError as exc:
            if exc.error_name != "CUDA_ERROR_OUT_OF_MEMORY" or not any(self._pool.values()):
                raise
        self.release_cached()  # the cache may hold what this allocation needs
        return int(self._call("cuMemAlloc", size))

    def free(self, pointer: int) -> None:
        """Keeps the block for a later alloc: every use of it is queued on the one stream before
        any later one, so it can be handed out again at once (no cuMemFree and its device-wide
        synchronization per call)."""
        self._pool.setdefault(self._sizes.pop(pointer), []).append(pointer)

    def release_cached(self) -> None:
        """Returns the freed blocks to the driver."""
        self.synchronize()
        for blocks in self._pool.values():
            for pointer in blocks:
                self._call("cuMemFree", pointer)
        self._pool.clear()

    def copy_in(self, pointer: int, array: np.ndarray) -> None:
        """Host -> device; the array may be freed on return (pageable memory is staged)."""
        if array.nbytes:
            self._call("cuMemcpyHtoDAsync", pointer, array.ctypes.data, array.nbytes, self._stream)

    def copy_out(self, pointer: int, shape, dtype) -> np.ndarray:
        """Device -> a new host array, after every launch queued before it has finished."""
        array = np.empty(shape, dtype)
        if array.nbytes:
            self._call("cuMemcpyDtoHAsync", array.ctypes.data, pointer, array.nbytes, self._stream)
        self.synchronize()
        return array

    def copy(self, target: int, source: int, nbytes: int) -> None:
        """Device -> device, queued after the launches before it."""
        if nbytes:
            self._call("cuMemcpyDtoDAsync", target, source, nbytes, self._stream)

    def launch(self, handle, grid, block, params, shared_bytes: int = 0) -> None:
        """Queues ``handle`` on the stream; ``params`` is a ctypes array of pointers, one per kernel
        argument (cuLaunchKernel's kernelParams); ``shared_bytes`` of dynamic shared memory per
        block (see _allow_shared). Profiling, an event is recorded on the stream before and after
        it."""
        self._allow_shared(handle, shared_bytes)
        if self.profile:
            start = self._event()
            self._call("cuEventRecord", start, self._stream)
        gx, gy, gz = (int(v) for v in grid)
        bx, by, bz = (int(v) for v in block)
        self._call(
            "cuLaunchKernel",
            handle,
            gx,
            gy,
            gz,
            bx,
            by,
            bz,
            int(shared_bytes),
            self._stream,
            ctypes.addressof(params),
            0,  # no `extra` options
        )
        if self.profile:
            end = self._event()
            self._call("cuEventRecord", end, self._stream)
            self._pending.append((self._kernel_names.get(id(handle), "?"), start, end))

    def launcher(self, handle, grid, block, params, shared_bytes: int = 0):
        """launch() of these arguments as a callable of none, for a launch plan's step that runs
        every call: the driver call's arguments are made once, and each call checks only that
        the context is current on its thread and the result (with a do-nothing driver on a busy
        2-core machine: ~6 us of Python per launch() and ~0.5-0.9 us per launcher call).
        Profiling, it is launch() itself (the events around it)."""
        if self.profile:
            return lambda: self.launch(handle, grid, block, params, shared_bytes)
        self._allow_shared(handle, shared_bytes)
        driver = self._driver
        call = driver.cuLaunchKernel
        arguments = (
            handle,
            *(int(v) for v in grid),
            *(int(v) for v in block),
            int(shared_bytes),
            self._stream,
            ctypes.addressof(params),
            0,  # no `extra` options
        )
        current_on, thread = self._current_on, threading.get_ident

        def run() -> None:
            if thread() not in current_on:
                self._make_current()
            returned = call(*arguments)
            result = returned[0] if isinstance(returned, tuple) else returned
            if int(result) != 0:
                raise CudaError("cuLaunchKernel", *_error_text(driver, result))

        return run

    def _allow_shared(self, handle, shared_bytes: int) -> None:
        """Past 48 KiB of dynamic shared memory a kernel must opt in (cuFuncSetAttribute's
        MAX_DYNAMIC_SHARED_SIZE_BYTES), up to the device's opt-in limit less the kernel's static
        shared memory; a launch past that is refused here, naming the kernel and the limit.
        Once per kernel and size (the attribute stays set)."""
        if (
            shared_bytes <= DEFAULT_SHARED_BYTES
            or self._opted_in.get(id(handle), 0) >= shared_bytes
        ):
            return
        driver = self._driver
        static = int(
            self._call(
                "cuFuncGetAttribute",
                driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                handle,
            )
        )
        most = int(
            self._call(
                "cuDeviceGetAttribute",
                driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                self._device,
            )
        )
        if static + shared_bytes > most:
            name = self._kernel_names.get(id(handle), "?")
            raise CudaError(
                "cuFuncSetAttribute",
                "CUDA_ERROR_INVALID_VALUE",
                f"kernel {name} needs {shared_bytes} bytes of dynamic shared memory besides its "
                f"{static} static bytes, and this GPU gives a block at most {most} "
                "(compile for this GPU or with smaller tiles)",
            )
        self._call(
            "cuFuncSetAttribute",
            handle,
            driver.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            int(shared_bytes),
        )
        self._opted_in[id(handle)] = shared_bytes

    def synchronize(self) -> None:
        self._call("cuStreamSynchronize", self._stream)
        if self._pending:
            self._read_events()

    # ---- per-kernel timing (profile=True) -------------------------------------------------------

    def kernel_times(self) -> dict:
        """{kernel name: (launches, GPU milliseconds)} of the launches since the device was made
        or reset_kernel_times() was called (empty unless profiling)."""
        self.synchronize()
        return {name: (count, ms) for name, (count, ms) in self._times.items()}

    def reset_kernel_times(self) -> None:
        self.synchronize()
        self._times = {}

    def _event(self):
        if self._free_events:
            return self._free_events.pop()
        return self._call("cuEventCreate", 0)  # CU_EVENT_DEFAULT: timing on

    def _read_events(self) -> None:
        """Adds the finished launches' times (the stream was just synchronized) to the totals and
        keeps their events for the next launches."""
        for name, start, end in self._pending:
            ms = float(self._call("cuEventElapsedTime", start, end))
            entry = self._times.setdefault(name, [0, 0.0])
            entry[0] += 1
            entry[1] += ms
            self._free_events += [start, end]
        self._pending = []

    # ---- what the artifact loader asks ----------------------------------------------------------

    def compute_capability(self) -> str:
        """``sm_90`` for an H100/H200: the architecture a cubin must be built for."""
        attribute = self._driver.CUdevice_attribute
        major = self._call(
            "cuDeviceGetAttribute",
            attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
            self._device,
        )
        minor = self._call(
            "cuDeviceGetAttribute",
            attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
            self._device,
        )
        return f"sm_{int(major)}{int(minor)}"

    def load_module(self, image: bytes) -> None:
        """Loads ``image`` (PTX text or a cubin) as the device's module, replacing the one loaded
        (kernel handles of that one become invalid)."""
        if self._module is not None:
            self._call("cuModuleUnload", self._module)
            self._module = None
        self._kernels, self._opted_in = {}, {}
        # A cubin is an ELF file; PTX is read as a C string and needs its terminating NUL.
        self._module = self._call(
            "cuModuleLoadData", image if image.startswith(ELF_MAGIC) else image + b"\0"
        )

    def close(self) -> None:
        """Frees its memory, unloads the module, destroys the stream, releases the primary
        context."""
        if self._stream is not None:
            for pointer in list(self._sizes):
                self.free(pointer)
            self.release_cached()
            for event in self._free_events:
                self._call("cuEventDestroy", event)
            self._free_events = []
        if self._module is not None:
            self._call("cuModuleUnload", self._module)
            self._module = None
        if self._stream is not None:
            self._call("cuStreamDestroy", self._stream)
            self._stream = None
        if self._context is not None:
            self._call("cuDevicePrimaryCtxRelease", self._device)
            self._context = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
