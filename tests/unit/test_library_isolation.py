"""tgc keeps MLIR's and LLVM's symbols out of the process's global namespace
(tgc/lowering/cpu/jit.py RUNNER_UTILS): the ExecutionEngine is given no shared library to load
(it would load it RTLD_GLOBAL, and with it libMLIR.so and libLLVM.so); MLIR's runner utilities are
loaded RTLD_LOCAL and their functions given to the JIT by address. A library with an LLVM of its
own loaded later (TensorFlow's) otherwise bound to ours and aborted in an LLVM assertion on
``import tensorflow`` after a Session had run.

The checks run in a fresh interpreter: a symbol made global stays global for the process."""

import ctypes
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering.cpu import jit

# Global after a compile before the fix (LD_DEBUG=scopes: "add .../libLLVM.so to global scope",
# from the dlopen of libmlir_c_runner_utils.so by LLVM's DynamicLibrary::getPermanentLibrary).
LLVM_SYMBOL = "_ZN4llvm19SmallPtrSetImplBase14insert_imp_bigEPKv"  # the assertion's SmallPtrSet
MLIR_SYMBOL = "mlirContextCreate"  # libMLIR.so's C API
RUNNER_SYMBOL = "memrefCopy"  # libmlir_c_runner_utils.so itself

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
        for name in {[LLVM_SYMBOL, MLIR_SYMBOL, RUNNER_SYMBOL]!r}:
            print(name, dlsym(None, name.encode()))  # None: RTLD_DEFAULT, the global namespace
        """)
    done = _run_python(sys.executable, code)
    assert done.returncode == 0, done.stderr[-3000:]
    found = dict(line.split() for line in done.stdout.splitlines())
    assert found == {LLVM_SYMBOL: "None", MLIR_SYMBOL: "None", RUNNER_SYMBOL: "None"}


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


@pytest.mark.parametrize("peer", sorted(PEER_USES))
def test_a_peer_framework_imported_after_a_session_ran_works(peer):
    if not _can_import(PEER_PYTHON, peer):
        pytest.skip(f"{PEER_PYTHON} has no {peer} (set TGC_PEER_PYTHON to one that has)")
    done = _run_python(PEER_PYTHON, SESSION_STEPS + PEER_USES[peer] + "\nprint('done')\n")
    assert done.returncode == 0 and done.stdout.endswith("done\n"), (
        done.returncode,
        done.stderr[-3000:],
    )
