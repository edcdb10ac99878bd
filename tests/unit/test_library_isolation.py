"""tgc's LLVM and another LLVM in the same process (TensorFlow's) never bind to each other's
functions (tgc/dialect/mlir_libraries.py), in either order:

- tgc first: MLIR's and LLVM's symbols stay out of the global namespace (tgc/lowering/cpu/jit.py
  RUNNER_UTILS: the ExecutionEngine is given no shared library, which it would load RTLD_GLOBAL
  with libMLIR.so and libLLVM.so; the runner utilities' functions go to the JIT by address).
  TensorFlow imported after a Session had run aborted in an LLVM assertion.
- the other LLVM global first: MLIR's libraries are loaded RTLD_DEEPBIND. ``import tensorflow``
  before tgc's first compile crashed with SIGSEGV in ``import mlir.ir``. Without TensorFlow, a
  stand-in library that defines three LLVM functions (each exits with FOREIGN_EXIT) plays it.

The checks run in a fresh interpreter: a symbol made global stays global for the process."""

import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mlir import ir

from tgc.dialect import mlir_libraries
from tgc.dialect.context import make_context
from tgc.lowering.cpu import jit

# Global after a compile before the fix (LD_DEBUG=scopes: "add .../libLLVM.so to global scope",
# from the dlopen of libmlir_c_runner_utils.so by LLVM's DynamicLibrary::getPermanentLibrary):
# libLLVM.so's (the assertion's SmallPtrSet among them), libMLIR.so's, the runner utilities'.
GLOBAL_BEFORE_THE_FIX = [
    *(name.decode() for name in mlir_libraries.LLVM_PROBES),
    "mlirContextCreate",
    "memrefCopy",
]

# A Session's step, run until its optimized (second-tier) code has replaced the quick code.
SESSION_STEPS = """
import numpy as np
import tgc as tf
from tgc.lowering.cpu import tiered

x = tf.placeholder(tf.float32, [2, 2])
y = tf.matmul(x, x)
with tf.Session() as sess:
    for _ in range(3):
        got = sess.run(y, {x: 2 * np.eye(2, dtype=np.float32)})
    tiered.wait_for_optimized_code()
    got = sess.run(y, {x: 2 * np.eye(2, dtype=np.float32)})
assert (got == 4 * np.eye(2)).all(), got
"""


def _run_python(python: str, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )


def test_no_llvm_or_mlir_symbol_is_global_after_a_session_ran():
    code = SESSION_STEPS + textwrap.dedent(f"""
        import ctypes
        dlsym = ctypes.CDLL(None).dlsym
        dlsym.restype, dlsym.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_char_p]
        for name in {GLOBAL_BEFORE_THE_FIX!r}:
            print(name, dlsym(None, name.encode()))  # None: RTLD_DEFAULT, the global namespace
        """)
    done = _run_python(sys.executable, code)
    assert done.returncode == 0, done.stderr[-3000:]
    found = dict(line.split() for line in done.stdout.splitlines())
    assert found == {name: "None" for name in GLOBAL_BEFORE_THE_FIX}


def test_runner_utilities_are_given_to_the_jit_by_address():
    text = "llvm.func @memrefCopy(i64, !llvm.ptr, !llvm.ptr)"
    with make_context():
        symbols = jit.library_symbols(ir.Module.parse(text))
    path = os.path.join(jit.runtime_library_dir(), jit.RUNNER_UTILS)
    utils = ctypes.CDLL(path, mode=os.RTLD_LOCAL)  # the same, already loaded, library
    assert symbols["memrefCopy"].value == ctypes.cast(utils.memrefCopy, ctypes.c_void_p).value
    assert not hasattr(ctypes.CDLL(None), "memrefCopy")


def test_a_conversion_that_code_generation_calls_a_library_for_runs():
    # LLVM compiles f64 -> bf16 truncation to a call of __truncdfbf2 on x86-64 whatever the CPU
    # (llc -mcpu=sapphirerapids too); no module declares it and no global library defines it.
    text = """
    llvm.func @to_bf16(%x: f64) -> i16 {
      %b = llvm.fptrunc %x : f64 to bf16
      %i = llvm.bitcast %b : bf16 to i16
      llvm.return %i : i16
    }
    """
    with make_context():
        engine, _ = jit.jit_functions(ir.Module.parse(text), [], {})
    value, result = ctypes.c_double(1.0 / 3.0), ctypes.c_int16()
    address = engine.raw_lookup("to_bf16")  # its packed wrapper; 0 when a symbol is missing
    assert address, "to_bf16 did not link"
    packed = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
    packed((ctypes.c_void_p * 2)(ctypes.addressof(value), ctypes.addressof(result)))
    # bf16 keeps float32's top 16 bits, rounded to nearest even: 1/3 is 0x3EAAAAAB -> 0x3EAB.
    expected = (np.float32(1.0 / 3.0).view(np.uint32) + 0x8000) >> 16
    assert result.value == int(expected) == 0x3EAB


FOREIGN_EXIT = 3
FOREIGN_LLVM_C = (
    "#include <unistd.h>\n"
    'static void called(void) { write(2, "foreign LLVM called\\n", 20); _exit(%d); }\n'
    % FOREIGN_EXIT
) + "".join(f"void {name.decode()}(void) {{ called(); }}\n" for name in mlir_libraries.LLVM_PROBES)


@pytest.fixture(scope="module")
def foreign_llvm(tmp_path_factory) -> str:
    """A library defining LLVM functions that are not ours (unversioned, like TensorFlow's)."""
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    folder = tmp_path_factory.mktemp("foreign_llvm")
    source, library = folder / "foreign_llvm.c", folder / "libforeign_llvm.so"
    source.write_text(FOREIGN_LLVM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return str(library)


def _foreign_llvm_first(library: str) -> str:
    return textwrap.dedent(f"""
        import ctypes, os
        import tgc
        ctypes.CDLL({library!r}, mode=os.RTLD_GLOBAL)  # as TensorFlow loads its libraries
        from tgc.dialect import mlir_libraries
        assert mlir_libraries.foreign_llvm_is_global()
        """)


def test_a_session_runs_after_a_foreign_llvm_was_loaded_globally(foreign_llvm):
    done = _run_python(sys.executable, _foreign_llvm_first(foreign_llvm) + SESSION_STEPS)
    assert done.returncode == 0, done.stderr[-3000:]


def test_without_deep_binding_mlir_would_call_the_foreign_llvm(foreign_llvm):
    # What the test above guards against: MLIR's libraries loaded as Python loads them.
    no_hook = "import sys\nsys.meta_path.remove(mlir_libraries._HOOK)\n"
    done = _run_python(sys.executable, _foreign_llvm_first(foreign_llvm) + no_hook + SESSION_STEPS)
    assert done.returncode == FOREIGN_EXIT, (done.returncode, done.stderr[-3000:])
    assert "foreign LLVM called" in done.stderr


def _can_import(python: str, module: str) -> bool:
    done = _run_python(python, f"import importlib.util as u; assert u.find_spec({module!r})")
    return done.returncode == 0


# An interpreter that has TensorFlow (or PyTorch, JAX) besides tgc; CI's has none of them.
PEER_PYTHON = os.environ.get("TGC_PEER_PYTHON", sys.executable)

PEER_USES = {
    "tensorflow": "import tensorflow as peer\nassert int(peer.reduce_sum(peer.ones([3]))) == 3",
    "torch": "import torch as peer\nassert int(peer.ones(3).sum()) == 3",
    "jax": "import jax.numpy as peer\nassert int(peer.ones(3).sum()) == 3",
}


@pytest.mark.parametrize("peer_first", [False, True], ids=["tgc_first", "peer_first"])
@pytest.mark.parametrize("peer", sorted(PEER_USES))
def test_a_peer_framework_and_a_session_in_one_process(peer, peer_first):
    if not _can_import(PEER_PYTHON, peer):
        pytest.skip(f"{PEER_PYTHON} has no {peer} (set TGC_PEER_PYTHON to one that has)")
    steps = [PEER_USES[peer], SESSION_STEPS] if peer_first else [SESSION_STEPS, PEER_USES[peer]]
    done = _run_python(PEER_PYTHON, "\n".join(steps) + "\nprint('done')\n")
    assert done.returncode == 0 and done.stdout.endswith("done\n"), (
        done.returncode,
        done.stderr[-3000:],
    )
