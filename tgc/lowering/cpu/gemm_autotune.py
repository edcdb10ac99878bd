"""tgc-gemm-autotune: each f32/f64 matmul's GEMM, OpenBLAS or tgc's generated kernel, chosen for
its shape by measurement on this machine (gemm_tuning.py: the cache and the rules).

Runs right before tgc-blas-matmul and leaves its choice as the matmul's ``tgc.gemm`` attribute,
which tgc-blas-matmul obeys. A matmul that already has one (a user's, a test's) keeps it. With
``tune``, a shape not cached yet is timed now; without, it takes the nearest cached shape, else
the default rule (gemm_tuning.default_callee: the generated kernel but on tiny GEMMs).
Where numpy bundles no OpenBLAS every candidate gets the generated kernel. The choices
are listed, as JSON, in the module's ``tgc.gemm_choices`` attribute (gemm_tuning.CHOICES_ATTRIBUTE)
for the artifact's manifest and ``tgc inspect``.

Timing (``measure``): both callees run through one small compiled probe per (element type,
transposes, beta), the same calls tgc-blas-matmul emits for a Session (the cblas call; the
generated kernel compiled once per process, called through the parallel runtime's driver where
that runtime is built, parallel_gemm.py), with dynamic sizes so that one compile (about 1.5 s)
serves every shape. Both run at the shape's thread count (the session's, MatmulShape.threads):
OpenBLAS's and the parallel runtime's counts are set to it for the measurement and put back.
Each probe call repeats the matmul enough times to last about ``_CALL_SECONDS``; each callee gets
the best of up to ``_ROUNDS`` calls, the generated kernel's first (``measure`` says why), stopping
early once its half of ``DEFAULT_BUDGET_S`` per shape is spent. At one thread the time is the
calling thread's CPU time (``_clock``), else wall time.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import json
import math
import time

import numpy as np
from mlir import ir

from tgc.dialect.ir_helpers import all_ops, find_function, functions
from tgc.lowering.cpu import blas, gemm_kernel, gemm_tuning, parallel_gemm
from tgc.lowering.cpu.vector_runs import PARALLEL_FOR
from tgc.passes.base import ModulePass, format_location

DEFAULT_BUDGET_S = 0.5  # timing budget per shape
_ROUNDS = 5  # at most this many timed calls of each callee
_CALL_SECONDS = 0.002  # each timed call repeats the matmul about this long
_NUMPY = {"f32": np.float32, "f64": np.float64}


def shape_of(operation, trans_a: bool, trans_b: bool) -> gemm_tuning.MatmulShape:
    """The matmul's MatmulShape (None for a dim unknown at compile time)."""
    a, _, c = (ir.MemRefType(v.type) for v in operation.operands)

    def size(t: ir.MemRefType, i: int):
        return None if t.is_dynamic_dim(i) else t.shape[i]

    return gemm_tuning.MatmulShape(
        elem=str(a.element_type),
        m=size(c, 0),
        n=size(c, 1),
        k=size(a, 0 if trans_a else 1),
        trans_a=trans_a,
        trans_b=trans_b,
        beta_zero=blas._zero_fill_before(operation, operation.operands[2]) is not None,
        threads=gemm_tuning.openblas_threads(),
    )


def _called_in_parallel_loops(module: ir.Module) -> set:
    """The functions called, directly or through each other, from loops tagged PARALLEL_FOR (the
    im2col convolution's per-image GEMM, conv_gemm.py)."""

    def callees(root) -> list:
        return [
            ir.FlatSymbolRefAttr(op.attributes["callee"]).value
            for op in all_ops(root)
            if op.name == "func.call"
        ]

    waiting = [
        name
        for function in functions(module)
        for op in all_ops(function)
        if op.name == "scf.for" and PARALLEL_FOR in op.attributes
        for name in callees(op)
    ]
    found: set = set()
    while waiting:
        name = waiting.pop()
        function = None if name in found else find_function(module, name)
        if function is not None:
            found.add(name)
            waiting.extend(callees(function))
    return found


def _inside_parallel_loop(operation) -> bool:
    parent = operation.parent
    while parent is not None and parent.name != "func.func":
        if parent.name == "scf.for" and PARALLEL_FOR in parent.attributes:
            return True
        parent = parent.parent
    return False


def _record_choices(module: ir.Module, records: list) -> None:
    """Appends ``records`` to the module's list of GEMM choices (gemm_tuning.CHOICES_ATTRIBUTE)."""
    attributes = module.operation.attributes
    name = gemm_tuning.CHOICES_ATTRIBUTE
    earlier = json.loads(ir.StringAttr(attributes[name]).value) if name in attributes else []
    attributes[name] = ir.StringAttr.get(json.dumps(earlier + records))


@dataclasses.dataclass(frozen=True)
class GemmAutotunePass(ModulePass):
    """Sets each f32/f64 matmul's ``tgc.gemm`` to the GEMM measured faster for its shape
    (``tune``: measure the shapes not cached yet)."""

    name = "tgc-gemm-autotune"
    tune: bool = False
    # The generated kernel's ISA as tgc-blas-matmul's isa option ("": the compiling host's). Code
    # for a CPU of another ISA (an artifact for another machine) gets OpenBLAS for every matmul:
    # this host's measurements, and its kernel, are not that CPU's.
    isa: str = ""

    def run(self, module: ir.Module) -> None:
        has_blas = blas.openblas_library() is not None
        elsewhere = bool(self.isa) and self.isa != gemm_kernel.chosen_isa()
        records: list = []
        choices = None  # the cache, read at the first candidate
        in_loops = None  # the functions called from parallel loops, found at the first candidate
        for function in functions(module):
            # tgc-blas-matmul's split of a batch_matmul, done first so that its matmuls get a
            # choice too (the split is the same; tgc-blas-matmul then finds none left).
            for operation in blas._batch_matmuls(function):
                if blas._batch_candidate(operation):
                    blas._split_batch(operation)
            for operation in blas._matmuls(function):
                if blas.GEMM_ATTRIBUTE in operation.attributes:
                    continue
                candidate = blas._blas_candidate(operation)
                if candidate is None:
                    continue
                if elsewhere or not has_blas:
                    # No library to call or time, or code for a CPU this host's measurements and
                    # kernel do not describe: OpenBLAS where there is one.
                    default = gemm_tuning.Choice("blas" if has_blas else "codegen", "default")
                    records.append(self._record(operation, candidate, default))
                    continue
                if choices is None:
                    choices = gemm_tuning.load_cache()
                    in_loops = _called_in_parallel_loops(module)
                name = ir.StringAttr(function.attributes["sym_name"]).value
                looped = name in in_loops or _inside_parallel_loop(operation)
                records.append(self._choose(operation, candidate, choices, looped))
        if records:
            _record_choices(module, records)

    def _record(self, operation, transposes, choice: gemm_tuning.Choice) -> dict:
        """Sets the matmul's tgc.gemm to ``choice``; returns its entry of tgc.gemm_choices."""
        operation.attributes[blas.GEMM_ATTRIBUTE] = ir.StringAttr.get(choice.callee)
        return {
            "matmul": format_location(operation.location),
            "shape": shape_of(operation, *transposes).to_json(),
            "callee": choice.callee,
            "source": choice.source,
            "seconds": choice.seconds,
            "measured_as": choice.measured_as,
        }

    def _choose(self, operation, transposes, choices: dict, in_parallel_loop: bool) -> dict:
        """``in_parallel_loop``: the matmul runs in a loop tgc-parallel-loops may spread over the
        session's threads, each iteration's GEMM on its thread alone. OpenBLAS there would keep
        the whole loop on the calling thread (the pass outlines no loop that calls it), so with
        more than one thread the generated kernel is taken (source ``parallel-loop``; the
        harness's convnet step on 2 threads: 19-20 ms with OpenBLAS per image, the 2-thread
        choice cached for 196x64x800, against 14.2 ms); on one thread the shape is chosen as any
        other."""
        shape = shape_of(operation, *transposes)
        if in_parallel_loop and shape.threads > 1:
            choice = gemm_tuning.Choice("codegen", "parallel-loop")
            return self._record(operation, transposes, choice)
        timer = measure if self.tune else None
        choice = gemm_tuning.choose(shape, timer, choices=choices)
        return self._record(operation, transposes, choice)


# ---- measuring ----------------------------------------------------------------------------------


def _probe_text(elem: str, trans_a: bool, trans_b: bool, beta_zero: bool) -> str:
    """Two functions, ``run_blas`` and ``run_codegen``: ``reps`` times (fill C with 0 when
    beta_zero) C (+)= op(A) op(B), the matmul marked for one callee."""
    memref = f"memref<?x?x{elem}>"
    a_map = "(d2, d0)" if trans_a else "(d0, d2)"
    b_map = "(d1, d2)" if trans_b else "(d2, d1)"
    maps = (
        f"indexing_maps = [affine_map<(d0, d1, d2) -> {a_map}>, "
        f"affine_map<(d0, d1, d2) -> {b_map}>, affine_map<(d0, d1, d2) -> (d0, d1)>]"
    )
    fill = f"linalg.fill ins(%zero : {elem}) outs(%c : {memref})\n" if beta_zero else ""
    return "\n".join(
        f"""func.func @run_{callee}(%a: {memref}, %b: {memref}, %c: {memref}, %reps: index)
    attributes {{llvm.emit_c_interface}} {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : {elem}
  scf.for %i = %c0 to %reps step %c1 {{
    {fill}    linalg.matmul {maps} {{tgc.gemm = "{callee}"}}
      ins(%a, %b : {memref}, {memref}) outs(%c : {memref})
  }}
  return
}}"""
        for callee in gemm_tuning.CALLEES
    )


_LOWER_PROBE = (
    "func.func(convert-linalg-to-loops)",
    "expand-strided-metadata",
    "lower-affine",
    "convert-scf-to-cf",
    "convert-vector-to-llvm",
    "convert-to-llvm",
    "reconcile-unrealized-casts",
)


class _Probe:
    """The compiled probe of one (element type, transposes, beta), in a context of its own."""

    def __init__(self, elem: str, trans_a: bool, trans_b: bool, beta_zero: bool):
        from mlir.passmanager import PassManager

        from tgc.lowering.cpu.jit import jit_functions

        self.context = ir.Context()
        with self.context, ir.Location.unknown():
            module = ir.Module.parse(_probe_text(elem, trans_a, trans_b, beta_zero))
            # Each matmul's tgc.gemm names its callee; the generated one is called as a Session
            # calls it: the per-process -O3 copy, through the parallel driver when there is one.
            self.parallel = parallel_gemm.library() is not None
            blas.BlasMatmulPass(kernel="external", parallel=self.parallel).run(module)
            PassManager.parse(f"builtin.module({','.join(_LOWER_PROBE)})").run(module.operation)
            names = [f"run_{c}" for c in gemm_tuning.CALLEES]
            self.engine, _ = jit_functions(module, names, {}, 3)

    def run(self, callee: str, a, b, c, reps: int, clock=time.perf_counter) -> float:
        """Seconds per matmul over ``reps`` repetitions in one call, by ``clock``."""
        from mlir.runtime import get_ranked_memref_descriptor

        arguments = [
            ctypes.pointer(ctypes.pointer(get_ranked_memref_descriptor(x))) for x in (a, b, c)
        ]
        count = ctypes.c_int64(reps)
        start = clock()
        self.engine.invoke(f"run_{callee}", *arguments, ctypes.pointer(count))
        return (clock() - start) / reps


@functools.lru_cache(maxsize=None)
def _probe(elem: str, trans_a: bool, trans_b: bool, beta_zero: bool) -> _Probe:
    return _Probe(elem, trans_a, trans_b, beta_zero)


@contextlib.contextmanager
def _threads(threads: int):
    """OpenBLAS and the generated GEMM's parallel runtime at ``threads`` threads while the probes
    run, as the shape's key says: both callees are timed at the count a Session runs them at."""
    with _openblas_threads(threads), _runtime_threads(threads):
        yield


@contextlib.contextmanager
def _openblas_threads(threads: int):
    from tgc.runtime.blas_threads import openblas

    library = openblas()
    if library is None:
        yield
        return
    found = library.get()
    library.set(threads)
    try:
        yield
    finally:
        library.set(found)


@contextlib.contextmanager
def _runtime_threads(threads: int):
    """The in-process parallel runtime's count (none built: the kernel runs on the calling thread,
    as it then does in a Session). Put back as found (tgc_set_threads answers the old count), so
    that a ThreadScope's record of what it set stays true."""
    library = parallel_gemm.library()
    if library is None:
        yield
        return
    found = library.tgc_set_threads(threads)
    try:
        yield
    finally:
        library.tgc_set_threads(found)


def _clock(threads: int):
    """The calling thread's CPU time when both callees run on it alone (one OpenBLAS thread): on a
    shared machine it leaves out the time other processes hold the core, which wall time counts
    (the GEMM 1024 step under a load of 9 on 2 cores: 77 ms wall, 15 ms CPU). With more threads
    OpenBLAS works on others too, and only wall time counts them."""
    return time.thread_time if threads == 1 else time.perf_counter


def measure(shape: gemm_tuning.MatmulShape, budget_s: float | None = None) -> dict:
    """Seconds per matmul of each callee on ``shape`` (known dims): the best of up to _ROUNDS timed
    calls each, within about half of ``budget_s`` (DEFAULT_BUDGET_S) each. The generated kernel
    is timed first, then OpenBLAS: after a threaded call OpenBLAS's idle workers spin on the other
    cores for a while, and a parallel kernel timed between its calls lost them (1024^3 on 2
    threads of the shared 2-core machine: 5.9-6.3 ms alone, 9-11 ms alternating with OpenBLAS)."""
    if not shape.known:
        raise ValueError(f"cannot time a matmul of unknown size {shape.describe()}")
    probe = _probe(shape.elem, shape.trans_a, shape.trans_b, shape.beta_zero)
    rng = np.random.default_rng(0)
    dtype = _NUMPY[shape.elem]
    a = rng.standard_normal((shape.k, shape.m) if shape.trans_a else (shape.m, shape.k))
    b = rng.standard_normal((shape.n, shape.k) if shape.trans_b else (shape.k, shape.n))
    a, b = a.astype(dtype), b.astype(dtype)
    c = np.zeros((shape.m, shape.n), dtype)
    share_s = (budget_s or DEFAULT_BUDGET_S) / len(gemm_tuning.CALLEES)
    clock = _clock(shape.threads)
    best = {}
    with _threads(shape.threads):
        for callee in _TIMING_ORDER:
            if callee == "codegen" and shape.threads > 1:
                _wait_for_idle_openblas()
            best[callee] = _best_time(probe, callee, (a, b, c), clock, share_s)
    _openblas_timed_until[0] = time.perf_counter()
    return best


_TIMING_ORDER = ("codegen", "blas")  # OpenBLAS last: its workers spin after it (measure)
# OpenBLAS's idle workers poll for 2^28 cycles (its THREAD_TIMEOUT default), about 0.07 s at
# 3.7 GHz, before they sleep; a shape's threaded kernel is timed once that much has passed since
# the previous shape's OpenBLAS calls (``tgc tune`` with several shapes).
OPENBLAS_IDLE_S = 0.15
_openblas_timed_until = [-math.inf]


def _wait_for_idle_openblas() -> None:
    left = _openblas_timed_until[0] + OPENBLAS_IDLE_S - time.perf_counter()
    if left > 0:
        time.sleep(left)


def _best_time(probe: _Probe, callee: str, operands: tuple, clock, budget_s: float) -> float:
    """The best seconds per matmul of up to _ROUNDS timed calls of ``callee``, stopping once
    ``budget_s`` is spent; a first call (page faults, OpenBLAS's buffers) sets the repetitions."""
    deadline = time.perf_counter() + budget_s
    first = probe.run(callee, *operands, 1, clock)
    reps = max(1, int(_CALL_SECONDS / max(first, 1e-9)))
    best = math.inf
    for _ in range(_ROUNDS):
        best = min(best, probe.run(callee, *operands, reps, clock))
        if time.perf_counter() > deadline:
            break
    return best
