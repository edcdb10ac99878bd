"""Two tiers of JIT code for the host CPU: quick code first, optimized code once a function is
called again.

LLVM's -O3 takes most of a first ``Session.run``: on the lecture's two-layer SGD step it optimized
and generated code for 0.4 s, against 0.12 s at -O0, while the step itself ran about 10 % slower at
-O0 (BLAS does its matmuls at every level). So a run signature is first compiled at QUICK_OPT_LEVEL,
its functions marked optnone (``mark_quick``), and runs at once; its second call queues the same
LLVM-dialect module (kept as bytecode) for OPTIMIZED_OPT_LEVEL on a background thread, and when that
code is ready every executable of the module is pointed at it (``Executable.retarget``). A function
run once is never compiled twice.

Both tiers compute the same numbers bit for bit: tgc's code carries no fast-math flags, so LLVM
may not reassociate, contract or approximate floating-point operations at any level.

The background compile goes through MLIR's C API by ctypes, which releases the GIL: the Python
binding's ``ExecutionEngine`` holds it for the whole compile, which would stall the caller's thread
as long as the compile itself. One worker thread compiles one module at a time, so that the
optimizing compiles of many sessions do not crowd the cores their steps run on. A fork waits for
the compile in progress (a child must not inherit LLVM's locks held by a thread it does not have);
the child drops the queue and keeps its quick code.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import io
import os
import threading
import time
import warnings
import weakref

from mlir import ir

from tgc.runtime.executable import Executable

QUICK_OPT_LEVEL = 0
OPTIMIZED_OPT_LEVEL = 3
# The call that queues the optimizing compile: a run signature called twice is likely a step of a
# loop (a training or an inference loop) worth the compile; one run once (an initializer, a
# checkpoint's restore, most tests) is not.
TIER_UP_AT_CALL = 2
WORKER_THREAD_NAME = "tgc-optimizing-jit"


def module_bytecode(module: ir.Module) -> bytes:
    """The module as MLIR bytecode: several times faster to write than its text, and smaller."""
    buffer = io.BytesIO()
    module.operation.write_bytecode(buffer)
    return buffer.getvalue()


def mark_quick(module: ir.Module) -> None:
    """Marks each function defined in the LLVM-dialect module ``optnone`` (with ``noinline``, which
    LLVM requires beside it) for the quick tier: the ExecutionEngine generates code at -O2 whatever
    its IR level, and on such functions instruction selection takes its fast path and the
    machine-level optimizations are skipped (the two-layer step's code took 0.07 s of CPU instead
    of 0.10 s, and ran as fast). A function that must be inlined is left as it is."""
    unit = ir.UnitAttr.get(module.context)
    for op in module.body.operations:
        operation = op.operation
        if operation.name != "llvm.func" or not operation.regions[0].blocks:
            continue
        if "always_inline" in operation.attributes:
            continue
        operation.attributes["optimize_none"] = unit
        operation.attributes["no_inline"] = unit


class TieredExecutable(Executable):
    """An executable of quick code that queues its module's optimizing compile at its
    TIER_UP_AT_CALL-th call."""

    def __init__(self, recompile: "OptimizingRecompile", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._recompile = recompile
        self._calls = 0

    def __call__(self, *arrays) -> list:
        self._calls += 1
        recompile = self._recompile  # read once: another thread may be calling too
        if self._calls >= TIER_UP_AT_CALL and recompile is not None:
            self._recompile = None
            # From now on a plain Executable (retarget does the rest): this override cost 0.4 us
            # of every call (a frame and the arguments packed again).
            self.__class__ = Executable
            recompile.start()
        return Executable.__call__(self, *arrays)


class OptimizingRecompile:
    """The optimizing compile of one module: ``start`` queues it (once); when its code is ready each
    registered executable is retargeted to its function there. A compile that fails leaves the
    quick code in place, with a warning."""

    def __init__(self, bytecode: bytes, symbols: dict, shared_libraries: list, connect):
        self._bytecode = bytecode
        self._symbols = symbols  # name -> ctypes function the code calls
        self._shared_libraries = shared_libraries
        self._connect = connect  # connect(lookup): the run-time handlers, given a packed lookup
        self._executables: list = []  # (function name, weak reference to its Executable)
        self._lock = threading.Lock()
        self._started = False
        self.state = "quick"  # then "queued", and "optimized", "failed" or "dropped"
        self.seconds = None  # how long the optimizing compile took
        self.error = None

    def register(self, name: str, executable: Executable) -> None:
        # Held weakly: a session closed before its compile ran has nothing left to optimize.
        with self._lock:
            self._executables.append((name, weakref.ref(executable)))

    def _live_executables(self) -> list:
        with self._lock:
            registered, self._executables = self._executables, []
        live = [(name, ref()) for name, ref in registered]
        return [(name, executable) for name, executable in live if executable is not None]

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self.state = "queued"
        _WORKER.submit(self)

    def run(self) -> None:
        """Compiles at OPTIMIZED_OPT_LEVEL and retargets the executables (on the worker thread)."""
        executables = self._live_executables()  # alive until they are retargeted
        if not executables:
            self.state, self._bytecode = "dropped", None
            return
        start = time.perf_counter()
        try:
            engine = _CApiEngine(self._bytecode, self._symbols, self._shared_libraries)
            self._connect(engine.lookup_packed)
            addresses = {name: engine.function_address(name) for name, _ in executables}
        except Exception as exc:  # noqa: BLE001 - any failure keeps the (correct) quick code
            self.state, self.error = "failed", exc
            warnings.warn(
                f"tgc: the optimizing compile of a run failed ({exc}); it keeps its quick code",
                RuntimeWarning,
                stacklevel=1,
            )
            return
        finally:
            self._bytecode = None
            self.seconds = time.perf_counter() - start
        for name, executable in executables:
            executable.retarget(addresses[name], (engine, self._symbols))
        self.state = "optimized"


def wait_for_optimized_code() -> None:
    """Returns when every queued optimizing compile has finished (its executables retargeted, or
    failed): what a benchmark of the steady state waits for."""
    _WORKER.wait_idle()


class _Worker:
    """One background thread that runs the queued compiles in order and exits when none is left."""

    def __init__(self):
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queue = collections.deque()
        self._thread = None
        # Held while a compile runs: a fork waits on it (before_fork).
        self._compiling = threading.Lock()

    def submit(self, job: OptimizingRecompile) -> None:
        with self._lock:
            self._queue.append(job)
            if self._thread is None:
                # A daemon thread: at exit, abandon() drops the queue and waits for the compile in
                # progress, so the interpreter does not wait for compiles nobody will use.
                self._thread = threading.Thread(
                    target=self._work, name=WORKER_THREAD_NAME, daemon=True
                )
                self._thread.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    self._idle.notify_all()
                    return
                job = self._queue.popleft()
            with self._compiling:
                try:
                    job.run()
                except Exception as exc:  # noqa: BLE001 - the worker must go on to the next job
                    job.state, job.error = "failed", exc
                    warnings.warn(f"tgc: an optimizing compile failed ({exc})", RuntimeWarning)

    def wait_idle(self) -> None:
        with self._lock:
            while self._thread is not None:
                self._idle.wait()

    def abandon(self) -> None:
        with self._lock:
            self._queue.clear()
        self.wait_idle()

    def before_fork(self) -> None:
        self._compiling.acquire()

    def after_fork_in_parent(self) -> None:
        self._compiling.release()

    def after_fork_in_child(self) -> None:
        # The child has no worker thread: its queued compiles are dropped (their executables keep
        # their quick code) and a later tier-up starts a thread of its own.
        for job in self._queue:
            job.state = "quick"
        self._reset()


_WORKER = _Worker()
atexit.register(_WORKER.abandon)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_WORKER.before_fork,
        after_in_parent=_WORKER.after_fork_in_parent,
        after_in_child=_WORKER.after_fork_in_child,
    )


# ---- MLIR's C API through ctypes (calls that release the GIL) ----------------------------------


class _StringRef(ctypes.Structure):
    _fields_ = [("data", ctypes.c_char_p), ("length", ctypes.c_size_t)]


def _string_ref(data: bytes) -> _StringRef:
    return _StringRef(data, len(data))


_CAPI = None


def _capi() -> ctypes.CDLL:
    """The Python bindings' own libMLIRPythonCAPI (the same library, already loaded: the contexts
    it makes are theirs)."""
    global _CAPI
    if _CAPI is None:
        import mlir._mlir_libs

        path = os.path.join(os.path.dirname(mlir._mlir_libs.__file__), "libMLIRPythonCAPI.so")
        lib = ctypes.CDLL(path)
        pointer, string = ctypes.c_void_p, _StringRef  # MlirModule & co. are one pointer
        flag, count = ctypes.c_bool, ctypes.c_int
        _declare(lib.mlirModuleCreateParse, pointer, [pointer, string])
        _declare(lib.mlirModuleDestroy, None, [pointer])
        _declare(
            lib.mlirExecutionEngineCreate,
            pointer,
            # module, opt level, number of libraries, their paths, object dump, PIC
            [pointer, count, count, ctypes.POINTER(string), flag, flag],
        )
        _declare(lib.mlirExecutionEngineDestroy, None, [pointer])
        _declare(lib.mlirExecutionEngineLookupPacked, pointer, [pointer, string])
        _declare(lib.mlirExecutionEngineLookup, pointer, [pointer, string])
        _declare(lib.mlirExecutionEngineRegisterSymbol, None, [pointer, string, pointer])
        _CAPI = lib
    return _CAPI


def _declare(function, restype, argtypes) -> None:
    function.restype = restype
    function.argtypes = argtypes


# ctypes.pythonapi holds the GIL during its calls (a PyDLL), as these two need.
_get_capsule_name = ctypes.PyDLL(None).PyCapsule_GetName
_declare(_get_capsule_name, ctypes.c_char_p, [ctypes.py_object])
_get_capsule_pointer = ctypes.PyDLL(None).PyCapsule_GetPointer
_declare(_get_capsule_pointer, ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p])


def _capsule_pointer(capsule) -> int:
    """The pointer in a binding object's ``_CAPIPtr`` capsule (an MlirContext's, here)."""
    return _get_capsule_pointer(capsule, _get_capsule_name(capsule))


def optimized_engine(bytecode: bytes, symbols: dict, shared_libraries: list) -> "_CApiEngine":
    """An ExecutionEngine of the LLVM-dialect module ``bytecode`` at OPTIMIZED_OPT_LEVEL (made
    without the GIL held)."""
    return _CApiEngine(bytecode, symbols, shared_libraries)


class _CApiEngine:
    """An ExecutionEngine made through the C API from a module's bytecode, at
    OPTIMIZED_OPT_LEVEL; destroyed with this object."""

    def __init__(self, bytecode: bytes, symbols: dict, shared_libraries: list):
        capi = _capi()
        # A context of its own: the bytecode holds only builtin and LLVM-dialect ops, which the
        # parser loads on demand from the registered dialects.
        context = ir.Context()
        module = capi.mlirModuleCreateParse(
            _capsule_pointer(context._CAPIPtr), _string_ref(bytecode)
        )
        if not module:
            raise RuntimeError("the module's bytecode did not parse")
        paths = [p.encode() for p in shared_libraries]
        refs = (_StringRef * max(len(paths), 1))(*[_string_ref(p) for p in paths])
        try:
            self._engine = capi.mlirExecutionEngineCreate(
                module, OPTIMIZED_OPT_LEVEL, len(paths), refs, False, False
            )
        finally:
            capi.mlirModuleDestroy(module)  # the engine holds its own LLVM module
        if not self._engine:
            raise RuntimeError("MLIR's ExecutionEngine could not be created")
        self._capi = capi
        for name, fn in symbols.items():
            capi.mlirExecutionEngineRegisterSymbol(
                self._engine, _string_ref(name.encode()), ctypes.cast(fn, ctypes.c_void_p)
            )

    def lookup_packed(self, name: str) -> int:
        """The address of ``name``'s packed wrapper (the first lookup generates the code), or 0."""
        return self._capi.mlirExecutionEngineLookupPacked(self._engine, _string_ref(name.encode()))

    def symbol_address(self, name: str) -> int:
        """The address of the function ``name`` itself (its own calling convention), or 0."""
        return self._capi.mlirExecutionEngineLookup(self._engine, _string_ref(name.encode()))

    def function_address(self, function: str) -> int:
        address = self.lookup_packed(f"_mlir_ciface_{function}")
        if not address:
            raise RuntimeError(f"compiled module has no function '{function}'")
        return address

    def __del__(self):
        engine, self._engine = getattr(self, "_engine", None), None
        if engine:
            self._capi.mlirExecutionEngineDestroy(engine)
