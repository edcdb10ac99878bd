"""tgc's narrow GEMM kernels (tgc/lowering/cpu/narrow_gemm.py) against the generated GEMM and
OpenBLAS, on the lectures' GEMMs whose C is 10 wide.

Each shape is one tf.matmul compiled three times in one process: by default (the narrow kernel),
with TGC_GEMM=codegen and the narrow pass turned off (tgc's generated GEMM), and with
TGC_GEMM=blas (numpy's OpenBLAS). The compiled functions are timed alone (no Session.run around
them), in rounds that rotate the order, median per call. An accumulating update (C += A^T B, the
weight gradient's SGD step) is timed as ``w -= A^T B`` on a variable. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 python \
        benchmarks/narrow_gemm.py
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tgc as tf  # noqa: E402
from tgc.lowering.cpu import narrow_gemm  # noqa: E402
from tgc.lowering.cpu.tiered import wait_for_optimized_code  # noqa: E402

# (M, N, K, A transposed, accumulate): softmax regression's forward and update (100 x 784 -> 10),
# the two-layer net's second layer (64, 100 -> 10), the MLP's last layer at batch 1, 32 and 256,
# and its weight gradient at batch 256.
SHAPES = (
    (100, 10, 784, False, False),
    (784, 10, 100, True, True),
    (64, 10, 100, False, False),
    (100, 10, 64, True, True),
    (1, 10, 1024, False, False),
    (32, 10, 1024, False, False),
    (256, 10, 1024, False, False),
    (1024, 10, 256, True, True),
)
VARIANTS = ("narrow", "codegen", "blas")


@contextlib.contextmanager
def _variant(name: str):
    """The compile of ``name``: TGC_GEMM and whether the narrow pass rewrites anything."""
    saved_env, saved_rule = os.environ.get("TGC_GEMM"), narrow_gemm.narrow_kernel_for
    if name != "narrow":
        os.environ["TGC_GEMM"] = name
        narrow_gemm.narrow_kernel_for = lambda *args: None
    try:
        yield
    finally:
        narrow_gemm.narrow_kernel_for = saved_rule
        if saved_env is None:
            os.environ.pop("TGC_GEMM", None)
        else:
            os.environ["TGC_GEMM"] = saved_env


def _compiled_call(shape, variant: str):
    """The compiled function of the shape's step under ``variant``, with its arguments bound."""
    m, n, k, trans_a, accumulate = shape
    rng = np.random.default_rng(0)
    tf.reset_default_graph()
    a_value = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b_value = rng.standard_normal((k, n)).astype(np.float32)
    a = tf.placeholder(tf.float32, [None, None])
    b = tf.placeholder(tf.float32, [k, n])
    product = tf.matmul(a, b, transpose_a=trans_a)
    sess = tf.Session()
    if accumulate:
        w = tf.Variable(np.zeros((m, n), np.float32))
        fetch = tf.assign_sub(w, product).op
        sess.run(w.initializer)
    else:
        fetch = product
    feed = {a: a_value, b: b_value}
    with _variant(variant):
        for _ in range(3):
            sess.run(fetch, feed)
    wait_for_optimized_code()
    sess.run(fetch, feed)
    plan = next(p for key, p in sess._plans.items() if key[0] == id(fetch))
    fast = plan.fast
    variables = [sess._variables[name] for name in fast.var_inputs]
    return lambda: fast.call(a_value, b_value, *variables)


def per_call_us(calls: dict, rounds: int = 30, repeat: int = 200) -> dict:
    times = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = calls[name]
            fn()
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            times[name].append((time.perf_counter() - start) / repeat * 1e6)
    return {name: statistics.median(samples) for name, samples in times.items()}


def main():
    print(
        f"{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(default)')}"
    )
    for shape in SHAPES:
        m, n, k, trans_a, accumulate = shape
        calls = {variant: _compiled_call(shape, variant) for variant in VARIANTS}
        us = per_call_us(calls)
        what = f"{m}x{n}x{k}" + (" (A^T)" if trans_a else "") + (" C -= AB" if accumulate else "")
        print(
            f"{what:28s} "
            + "  ".join(f"{v} {us[v]:7.1f} us" for v in VARIANTS)
            + f"  narrow/codegen {us['narrow'] / us['codegen']:.2f}"
            + f"  narrow/blas {us['narrow'] / us['blas']:.2f}",
            flush=True,
        )
    print(f"{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
