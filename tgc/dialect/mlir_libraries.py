"""How MLIR's and LLVM's native libraries are loaded, so that they and another copy of LLVM in the
process (TensorFlow's) never bind to each other's functions.

Two copies of LLVM meet through the process's global namespace, in either order:

- ours global, theirs loaded later: TensorFlow's libraries bound their LLVM references to our
  libLLVM.so and aborted in an LLVM assertion. Nothing of ours is ever loaded RTLD_GLOBAL
  (tgc/lowering/cpu/jit.py: the ExecutionEngine gets no shared library to load).
- theirs global (TensorFlow loads its libraries RTLD_GLOBAL, for custom-op libraries), ours loaded
  later: MLIR's Python bindings bound ~20000 of their LLVM and MLIR references to TensorFlow's copy
  (LD_DEBUG=bindings) and crashed with SIGSEGV in ``import mlir.ir``. When another LLVM is global
  by the time MLIR's libraries load, they are loaded RTLD_DEEPBIND: each looks in its own
  dependencies (our libLLVM.so among them) before the global namespace.

RTLD_DEEPBIND only then: it would also make our libraries bypass an allocator that LD_PRELOAD put
in front of libc's, so it is not the default.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.machinery
import os
import sys
import threading

# Functions every LLVM build defines (TensorFlow 2.21's libtensorflow_framework.so.2 exports all
# three): one of them global means another LLVM's symbols are in the global namespace.
LLVM_PROBES = (
    b"_ZN4llvm11raw_ostream5writeEPKcm",  # llvm::raw_ostream::write(const char*, size_t)
    b"_ZN4llvm19SmallPtrSetImplBase14insert_imp_bigEPKv",
    b"_ZN4llvm2cl6Option11addArgumentEv",  # called by every cl::opt's constructor
)

# glibc's; 0 where the C library has none (musl), which then binds as before.
DEEPBIND = getattr(os, "RTLD_DEEPBIND", 0)

_dlsym = ctypes.CDLL(None).dlsym
_dlsym.restype, _dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]
_RTLD_DEFAULT = None  # dlsym's handle for the global namespace


def foreign_llvm_is_global() -> bool:
    """Whether LLVM's functions are in the global namespace (never ours: see the docstring)."""
    return any(_dlsym(_RTLD_DEFAULT, name) for name in LLVM_PROBES)


def load_private(path: str) -> ctypes.CDLL:
    """The library at ``path``, loaded RTLD_LOCAL (its functions found through the handle only),
    and RTLD_DEEPBIND when another LLVM is global, for a library that depends on LLVM."""
    mode = os.RTLD_LOCAL | (DEEPBIND if foreign_llvm_is_global() else 0)
    return ctypes.CDLL(path, mode=mode)


def bindings_libraries() -> list:
    """MLIR's Python bindings' native libraries: the shared ones first, then the extension modules
    (each of which depends on them)."""
    spec = importlib.machinery.PathFinder.find_spec("mlir")  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        return []
    found = []
    for root in spec.submodule_search_locations:
        libs = os.path.join(root, "_mlir_libs")
        found += sorted(glob.glob(os.path.join(libs, "lib*.so")))
        found += sorted(glob.glob(os.path.join(libs, "_mlir*.so")))
    return found


class _BeforeMlirLoads:
    """A sys.meta_path finder that finds nothing: it sees each import of an mlir module before it
    happens and, once another LLVM is global, loads all of MLIR's bindings' libraries with
    RTLD_DEEPBIND first (Python's own dlopen of an extension module then finds it loaded, its
    symbols already bound) and leaves. Until then it costs three dlsym calls per mlir module
    imported for the first time."""

    def __init__(self):
        self._lock = threading.Lock()

    def find_spec(self, name, path=None, target=None):
        if name == "mlir" or name.startswith("mlir."):
            self._prepare()
        return None

    def _prepare(self) -> None:
        if not foreign_llvm_is_global():
            return
        with self._lock:
            if self not in sys.meta_path:
                return  # another thread did it
            for path in bindings_libraries():  # those already loaded keep their bindings
                ctypes.CDLL(path, mode=os.RTLD_LOCAL | DEEPBIND)
            sys.meta_path.remove(self)


_HOOK = _BeforeMlirLoads()


def load_bindings_apart_from_a_foreign_llvm() -> None:
    """Installs the finder (once): called when tgc is imported, before anything of tgc imports
    mlir (tgc imports it lazily). MLIR's libraries already loaded keep their bindings; those
    loaded afterwards are covered."""
    if _HOOK not in sys.meta_path:
        sys.meta_path.insert(0, _HOOK)
