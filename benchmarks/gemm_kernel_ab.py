"""A/B of tgc's generated GEMM kernel (tgc/lowering/cpu/gemm_kernel.py): this checkout's kernel
against another git revision's, and against blockings of its own, with numpy, float32
C = op(A) @ op(B) at n x n x n or M x N x K, either operand transposed.

Each kernel is built as gemm_library.py builds its cached copy (opt -O3, llc -O3 -mcpu=native,
cc -shared) into a temporary directory and called through ctypes on numpy arrays (the expanded
memref ABI: allocated and aligned pointer, offset, sizes, strides per operand), so only the kernel
is timed, not a Session's step. The implementations run interleaved, the order rotating each
round, timed in the calling thread's CPU time (the machine may be shared: another process's time
on the core is left out, its cache traffic is not). Printed per size: GFLOP/s of the median call
and of the best call (the least disturbed one), and the machine's peak when ``--peak``.

Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_kernel_ab.py \\
        --against HEAD --variant kc384:kc=384,nc=720 --sizes 256,1024,2048

``--against REV``: the revision whose gemm_kernel.py is the "before" kernel (default HEAD; ``none``
leaves it out). ``--variant NAME:key=value,...``: this checkout's kernel with its f32 blocking's
fields replaced (mr, nr, kc, mc, nc; GemmShape checks that they fit together), any number of times;
``--variant ctl:`` (no fields) is a second copy of this checkout's kernel, a control: on the shared
2-core Xeon of issue 18 the first kernel built ("this") read 2-5 % below an identical copy in most
runs (findings-narrowtile.md), so compare the other implementations with the control.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import functools
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# numpy's OpenBLAS on one thread, as the kernel (set before numpy loads it).
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlir import ir  # noqa: E402

from tgc.lowering.cpu import gemm_library  # noqa: E402

KERNEL_PATH = "tgc/lowering/cpu/gemm_kernel.py"
BLOCKING_FIELDS = ("mr", "nr", "kc", "mc", "nc")


def load_kernel_module(path: str, name: str):
    """gemm_kernel.py at ``path`` as a module of its own (two revisions side by side)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses looks its module up while the file runs
    spec.loader.exec_module(module)
    return module


def kernel_of_revision(revision: str, tmp: str):
    """The gemm_kernel module of ``revision`` (git show), loaded from a copy in ``tmp``."""
    text = subprocess.run(
        ["git", "show", f"{revision}:{KERNEL_PATH}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = os.path.join(tmp, f"gemm_kernel_{revision.replace('/', '_')}.py")
    with open(path, "w") as fh:
        fh.write(text)
    return load_kernel_module(path, f"gemm_kernel_ab_{len(os.listdir(tmp))}")


def with_blocking(module, overrides: dict):
    """``module`` whose shape_for gives its f32 blocking with ``overrides`` replaced."""
    base = module.shape_for

    def shape_for(elem, isa=None):
        shape = base(elem, isa)
        return dataclasses.replace(shape, **overrides) if elem == "f32" else shape

    module.shape_for = shape_for
    return module


def build_kernel(module, tmp: str, tag: str):
    """The f32 kernel of ``module`` built into a library in ``tmp``; returns a call
    ``run(a, b, c)`` for C = A @ B."""
    shape = module.shape_for("f32")
    with ir.Context(), ir.Location.unknown():
        path = os.path.join(tmp, f"{tag}.so")
        lowering = gemm_library._Lowering(module.gemm_function_text(shape, private=False))
        gemm_library._build_library(lowering(), path)
    function = getattr(ctypes.CDLL(path), shape.symbol)
    memref = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_int64] * 5
    function.argtypes = memref * 4 + [ctypes.c_bool, ctypes.c_bool, ctypes.c_float, ctypes.c_float]
    function.restype = None

    def descriptor(x):
        pointer = x.ctypes.data
        return [pointer, pointer, 0, x.shape[0], x.shape[1], x.strides[0] // x.itemsize, 1]

    def run(a, b, c, ta=False, tb=False):
        function(*descriptor(a), *descriptor(b), *descriptor(c), *descriptor(c), ta, tb, 1.0, 0.0)

    run.shape = shape
    return run


def timed(impls: dict, rounds: int) -> dict:
    """name -> thread CPU seconds per call, implementations interleaved, the order rotating."""
    times = {name: [] for name in impls}
    order = list(impls.items())
    for step in range(rounds):
        shift = step % len(order)
        for name, fn in order[shift:] + order[:shift]:
            start = time.thread_time()
            fn()
            times[name].append(time.thread_time() - start)
    return times


def parse_variant(text: str) -> tuple:
    """ "NAME:kc=384,nc=720" -> ("NAME", {"kc": 384, "nc": 720})."""
    name, _, fields = text.partition(":")
    overrides = {}
    for item in filter(None, fields.split(",")):
        key, _, value = item.partition("=")
        if key not in BLOCKING_FIELDS:
            raise SystemExit(
                f"--variant {text}: {key!r} is not one of {', '.join(BLOCKING_FIELDS)}"
            )
        overrides[key] = int(value)
    return name, overrides


def parse_size(text: str) -> tuple:
    """ "1024" -> (1024, 1024, 1024, False, False); "25x32x25088:ta" -> (M, N, K, ta, tb): A
    stored K x M (":ta"), B stored N x K (":tb")."""
    dims, *flags = text.split(":")
    unknown = set(flags) - {"ta", "tb"}
    parts = [int(p) for p in dims.split("x")]
    if unknown or len(parts) not in (1, 3):
        raise SystemExit(f"--sizes: {text!r} is neither N nor MxNxK[:ta][:tb]")
    m, n, k = parts * 3 if len(parts) == 1 else parts
    return m, n, k, "ta" in flags, "tb" in flags


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision of the 'before' kernel")
    parser.add_argument("--variant", action="append", default=[], help="NAME:field=value,...")
    parser.add_argument(
        "--sizes", default="256,1024,2048", help="N (cubed) or MxNxK[:ta][:tb], ..."
    )
    parser.add_argument("--work", type=float, default=6e10, help="FLOP per implementation and size")
    parser.add_argument("--peak", action="store_true", help="run ../shared/tools/machine-peak too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tgc-gemm-ab-") as tmp:
        kernels = {
            "this": build_kernel(load_kernel_module(REPO / KERNEL_PATH, "gk_this"), tmp, "this")
        }
        if args.against != "none":
            kernels[args.against] = build_kernel(
                kernel_of_revision(args.against, tmp), tmp, "before"
            )
        for i, spec in enumerate(args.variant):
            name, overrides = parse_variant(spec)
            module = with_blocking(
                load_kernel_module(REPO / KERNEL_PATH, f"gk_variant{i}"), overrides
            )
            kernels[name] = build_kernel(module, tmp, f"variant{i}")
        for name, run in kernels.items():
            print(f"{name}: {run.shape}")
        for size in args.sizes.split(","):
            m, n, k, ta, tb = parse_size(size)
            rng = np.random.default_rng(0)
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            op_a, op_b = (a.T if ta else a), (b.T if tb else b)
            expected = op_a @ op_b
            outputs = {name: np.zeros((m, n), np.float32) for name in [*kernels, "numpy"]}
            impls = {
                name: functools.partial(run, a, b, outputs[name], ta, tb)
                for name, run in kernels.items()
            }
            impls["numpy"] = functools.partial(np.matmul, op_a, op_b, out=outputs["numpy"])
            for name, fn in impls.items():
                fn()  # warm up (page faults of the packs, the first touch of C)
                error = np.abs(outputs[name] - expected).max()
                if error > 1e-3 * np.sqrt(k):
                    raise SystemExit(f"{name} at {size}: largest error {error} against numpy")
            flop = 2 * m * n * k
            rounds = max(5, int(args.work / flop))
            times = timed(impls, rounds)
            cells = [
                f"{name} {flop / np.median(t) / 1e9:.1f} (best {flop / min(t) / 1e9:.1f})"
                for name, t in times.items()
            ]
            print(f"{size} rounds={rounds} load={os.getloadavg()[0]:.1f}  " + "  ".join(cells))
    if args.peak:
        tool = REPO.parent / "shared" / "tools" / "machine-peak"
        print(subprocess.run([str(tool)], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
