"""Runs one registry op on its samples, compiled for the CPU and in numpy,
for the registry-wide tests.

Sits beside the frontend: it builds a one-op ``func.func @main`` directly in tgc MLIR with the
registry's IRBuilder (so result types come from each op's ``infer``), runs the same pipeline as
``tgc/driver/jit.py`` (graph passes, lowering, CPU), JITs it and calls it through the runtime's
Executable. Gradient checks build ``tgc.gradient(reduce_sum(op(x...) * w), x_i, 1)`` in float64 and
let ``tgc-autodiff`` expand it, then compare against central finite differences of ``opdef.eval``.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
import traceback
import zlib

import numpy as np
from mlir import ir
from mlir.dialects import func

from tgc.dialect.attrs import tensor_type
from tgc.dialect.builder import IRBuilder, Val
from tgc.dialect.context import make_context
from tgc.dialect.registry import REGISTRY, load_all_ops
from tgc.dialect.shapes import FLOAT_DTYPES
from tgc.dialect.types import TensorSpec, numpy_dtype
from tgc.dialect import targets
from tgc.driver import pipelines
from tgc.lowering import core_ops
from tgc.lowering.cpu.jit import jit
from tgc.passes.pipeline import run_pipeline
from tgc.runtime.executable import Executable

# Meta ops that only exist between the frontend and a pass; they have no
# run-time semantics of their own.
META_OPS = {"gradient": "meta op: a gradient request, replaced by the tgc-autodiff pass"}

# Ops that never reach tgc-to-core because an earlier pass removes them, and that pass.
REMOVED_BY_PASS = core_ops.REMOVED_BY_PASS  # the placer's table too

# The plain graph passes and the lowering to core, without placement; the CPU's pipeline from core
# as an artifact compiles it (every argument the caller's).
GRAPH_TO_CORE = (pipelines.graph_passes(optimize=False) + pipelines.core_lowering()).spec()
# The CPU pipeline of an artifact (for_session=False), except that tgc-gemm-autotune only reads the
# GEMM choice cache instead of timing each new matmul shape (seconds per test): with the empty cache
# each test gets (conftest.py), matmuls call OpenBLAS, as the IR tests of tgc-blas-matmul expect.
_CPU_SPEC = (
    pipelines.target_lowering(targets.get("cpu"), for_session=False)
    .spec()
    .replace("tgc-gemm-autotune{tune=true}", "tgc-gemm-autotune")
)
assert "tune=true" not in _CPU_SPEC, f"the GEMM tuner's options changed: {_CPU_SPEC}"
CPU_PIPELINE = pipelines.Pipeline(_CPU_SPEC)


def skip_reason(opdef) -> str | None:
    """Why the one-op harness does not run ``opdef`` (None when it does)."""
    if opdef.name in META_OPS:
        return META_OPS[opdef.name]
    if opdef.module_level:
        return "module-level declaration: not an op inside a function"
    if opdef.stateful:
        return (
            "stateful (session state or random draws): tested through the Session by its own tests"
        )
    return None


def registry() -> dict:
    return load_all_ops()


def runnable_ops() -> list:
    return sorted(name for name, d in registry().items() if skip_reason(d) is None)


def sample_cases() -> list:
    """(op name, sample index) for every sample of every runnable op."""
    return [(name, i) for name in runnable_ops() for i in range(len(REGISTRY[name].samples))]


# ---- operands -----------------------------------------------------------------------------------


def rng_for(name: str, index: int) -> np.random.Generator:
    """A generator seeded by op and sample, so each case draws the same operands on every run."""
    return np.random.default_rng(zlib.crc32(f"{name}/{index}".encode()))


def _promote(dtype: str, float64: bool) -> str:
    return "float64" if float64 and dtype in FLOAT_DTYPES else dtype


def draw_operands(sample, rng, float64=False) -> list:
    """The sample's operands as numpy arrays; with ``float64`` every float operand is float64."""
    out = []
    values = list(sample.values) + [None] * (len(sample.shapes) - len(sample.values))
    for shape, dtype, fixed in zip(sample.shapes, sample.operand_dtypes(), values):
        np_dtype = numpy_dtype(_promote(dtype, float64))
        if fixed is not None:
            out.append(np.array(fixed, dtype=np_dtype))
        elif dtype == "bool":
            out.append(rng.random(shape) < 0.5)
        elif dtype in FLOAT_DTYPES:
            out.append(rng.uniform(sample.low, sample.high, size=shape).astype(np_dtype))
        else:
            out.append(rng.integers(0, sample.int_high, size=shape).astype(np_dtype))
    return out


def sample_attrs(opdef, sample, float64=False) -> dict:
    """The sample's attributes, defaults filled; with ``float64`` dtype attributes naming
    a float become float64."""
    attrs = opdef.complete_attrs(dict(sample.attrs))
    if float64:
        for key, spec in opdef.attrs.items():
            if spec.kind == "dtype":
                attrs[key] = _promote(attrs[key], True)
    return attrs


def operand_specs(arrays, dynamic=()) -> list:
    """TensorSpecs of the arrays, with each (operand, dim) pair of ``dynamic`` unknown."""
    specs = []
    for i, a in enumerate(arrays):
        shape = [None if (i, d) in dynamic else n for d, n in enumerate(a.shape)]
        specs.append(TensorSpec(tuple(shape), a.dtype.name))
    return specs


# ---- compiling one function ---------------------------------------------------------------------


def build_main(module, arg_specs, build) -> list:
    """Adds ``func @main(args) -> build(b, args)`` to ``module`` (in an active
    context); returns the result Vals.

    ``build(b, args)`` gets the IRBuilder and the arguments as Vals and
    returns a list of result Vals.
    """
    arg_types = [tensor_type(s) for s in arg_specs]
    with ir.InsertionPoint(module.body):
        function = func.FuncOp("main", ir.FunctionType.get(arg_types, []))
    block = function.add_entry_block()
    b = IRBuilder(ir.InsertionPoint(block), ir.Location.unknown())
    results = build(b, [Val(a, s) for a, s in zip(block.arguments, arg_specs)])
    with ir.InsertionPoint(block):
        func.ReturnOp([v.value for v in results])
    function.attributes["function_type"] = ir.TypeAttr.get(
        ir.FunctionType.get(arg_types, [v.value.type for v in results])
    )
    return results


def lowered_ir(arg_specs, build, pipeline: str) -> str:
    """The IR of ``func @main(args) -> build(b, args)`` after ``pipeline``."""
    with make_context(), ir.Location.unknown():
        module = ir.Module.create()
        build_main(module, arg_specs, build)
        run_pipeline(module, pipeline)
        return str(module)


def compile_function(arg_specs, build):
    """JIT ``func @main(args) -> build(b, args)``; returns (Executable, result
    TensorSpecs, tgc IR text).

    ``build(b, args)`` gets the IRBuilder and the arguments as Vals and returns the result Vals.
    """
    with make_context() as context, ir.Location.unknown():
        context.enable_multithreading(False)  # one-op modules gain nothing; no threads to fork over
        module = ir.Module.create()
        results = build_main(module, arg_specs, build)
        function = module.body.operations[0]
        function.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
        tgc_ir = str(module)
        run_pipeline(module, GRAPH_TO_CORE)
        CPU_PIPELINE.run(module)
        engine, address = jit(module)
    inputs = [(numpy_dtype(s.dtype), len(s.shape)) for s in arg_specs]
    outputs = [(numpy_dtype(v.dtype), len(v.shape)) for v in results]
    return Executable(address, inputs, outputs, keepalive=engine), [v.spec for v in results], tgc_ir


class IsolatedFailure(AssertionError):
    """A compile-and-run that died (an MLIR assertion aborts the process) or raised in the child."""


_WARM = []


def _warm_up() -> None:
    """Compile and run one tiny function in this process, once.

    MLIR and LLVM initialise pass registries and the JIT target lazily (about 0.3 s); done here,
    before any fork, every child inherits them instead of paying again. Contexts are single-threaded
    (see compile_function), so no worker thread exists when we fork.
    """
    if _WARM:
        return
    spec = TensorSpec((2,), "float32")
    executable, _, _ = compile_function([spec, spec], lambda b, args: [b.add(*args)])
    executable(np.ones(2, np.float32), np.ones(2, np.float32))
    _WARM.append(executable)


def isolated(fn):
    """``fn()`` in a forked child, so that an MLIR assertion (SIGABRT) fails
    one test, not the session.

    The child's stderr goes to a file whose tail becomes the failure message; the result comes back
    pickled.
    """
    _warm_up()
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            code = 0
            try:
                os.dup2(err.fileno(), 2)
                try:
                    payload = ("ok", fn())
                except BaseException as exc:  # report any failure to the parent as text
                    payload = ("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
                out.write(pickle.dumps(payload))
                out.flush()
            except BaseException:
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")[-3000:]
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            raise IsolatedFailure(f"compile/run died with {name}:\n{stderr}")
        out.seek(0)
        data = out.read()
        if not data:
            raise IsolatedFailure(
                f"compile/run exited with status {os.WEXITSTATUS(status)}:\n{stderr}"
            )
        kind, value = pickle.loads(data)
        if kind == "error":
            raise IsolatedFailure(value)
        return value


def _as_list(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def run_compiled(opdef, attrs, arrays, dynamic=()):
    """The op compiled on ``arrays``' specs (``dynamic`` dims unknown) and called on them.

    Returns (results, result specs from infer).
    """
    specs = operand_specs(arrays, dynamic)

    def build(b, args):
        return _as_list(b.op(opdef.name, *args, **attrs))

    def compile_and_call():
        executable, result_specs, _ = compile_function(specs, build)
        return executable(*arrays), result_specs

    return isolated(compile_and_call)


# ---- gradients ----------------------------------------------------------------------------------


def float_operands(arrays) -> list:
    return [i for i, a in enumerate(arrays) if a.dtype.name in FLOAT_DTYPES]


def gradient_weights(opdef, attrs, arrays, rng) -> list:
    """One fixed random weight per element of each float result (None for other results)."""
    outs = opdef.evaluate([a.copy() for a in arrays], attrs)
    return [
        rng.standard_normal(o.shape) if np.asarray(o).dtype.name in FLOAT_DTYPES else None
        for o in outs
    ]


def objective(opdef, attrs, arrays, weights) -> float:
    """sum_k sum(out_k * w_k) over the float results, in float64 numpy."""
    outs = opdef.evaluate([a.copy() for a in arrays], attrs)
    return float(
        sum(np.sum(np.asarray(o, np.float64) * w) for o, w in zip(outs, weights) if w is not None)
    )


def finite_difference(opdef, attrs, arrays, weights, index, eps=1e-6) -> np.ndarray:
    """Central differences of the objective with respect to operand ``index``."""
    grad = np.zeros(arrays[index].shape, np.float64)
    for j in np.ndindex(arrays[index].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[index][j] += eps
        minus[index][j] -= eps
        grad[j] = (
            objective(opdef, attrs, plus, weights) - objective(opdef, attrs, minus, weights)
        ) / (2 * eps)
    return grad


def _weighted_sum(b, out: Val, weight: np.ndarray) -> Val:
    product = b.multiply(out, b.constant(weight, like=out))
    if not product.shape:
        return product
    return b.reduce_sum(product, axes=list(range(len(product.shape))), keepdims=False)


def compiled_gradients(opdef, attrs, arrays, weights, indices) -> list:
    """d objective / d operand i for each i in ``indices``, through
    tgc.gradient and the pipeline."""

    def build(b, args):
        outs = _as_list(b.op(opdef.name, *args, **attrs))
        terms = [_weighted_sum(b, o, w) for o, w in zip(outs, weights) if w is not None]
        total = terms[0]
        for term in terms[1:]:
            total = b.add(total, term)
        one = b.constant(1.0, like=total)
        return [b.gradient(total, args[i], one) for i in indices]

    def compile_and_call():
        executable, _, _ = compile_function(operand_specs(arrays), build)
        return executable(*arrays)

    return isolated(compile_and_call)
