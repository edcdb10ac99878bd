"""The data behind the GEMM default rule (gemm_tuning.default_callee): OpenBLAS against tgc's
generated kernel on the lectures' GEMM shapes, each timed by the tuner's own ``measure`` (the
calls a Session makes; at 1 thread in the calling thread's CPU time, so that a shared machine's
other processes count less), with the callee the rule gives each shape when nothing is cached.

Shapes: the two-layer net 64-1000-100-10 (forward and backward), softmax regression 100x784 -> 10,
the MLP 784-1024-1024-10 at batch 1 and 256, GEMM 256, and the convnet's (batch 32) convolutions
as GEMMs, dense layers and filter gradients. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/gemm_default_rule.py --threads 1
Prints one line per shape: both callees' microseconds per GEMM, their ratio, and the rule's pick.
"""

from __future__ import annotations

import argparse

from tgc.lowering.cpu import gemm_autotune
from tgc.lowering.cpu.gemm_tuning import MatmulShape, default_callee


def lecture_shapes(threads: int) -> list:
    """(M, N, K, trans_a, trans_b) of each lecture GEMM as a MatmulShape at ``threads``."""
    dims = [
        # two-layer 64-1000-100-10: forward, dW1 (A^T), dh (B^T), dW2 (A^T), logits
        (64, 100, 1000, False, False),
        (1000, 100, 64, True, False),
        (64, 100, 10, False, True),
        (100, 10, 64, True, False),
        (64, 10, 100, False, False),
        # softmax regression 100x784 -> 10: forward, dW
        (100, 10, 784, False, False),
        (784, 10, 100, True, False),
        # MLP 784-1024-1024-10 at batch 1 and 256
        (1, 1024, 784, False, False),
        (1, 1024, 1024, False, False),
        (1, 10, 1024, False, False),
        (256, 1024, 784, False, False),
        (256, 10, 1024, False, False),
        (256, 1024, 10, False, True),
        (1024, 10, 256, True, False),
        (256, 256, 256, False, False),
        # convnet at batch 32: conv1 and conv2 as GEMMs, fc1, fc2, filter gradients, fc1's dx
        (25088, 32, 25, False, False),
        (6272, 64, 800, False, False),
        (32, 1024, 3136, False, False),
        (32, 10, 1024, False, False),
        (25, 32, 25088, True, False),
        (800, 64, 6272, True, False),
        (32, 3136, 1024, False, True),
    ]
    return [
        MatmulShape("f32", m, n, k, trans_a=ta, trans_b=tb, threads=threads)
        for m, n, k, ta, tb in dims
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="both callees' thread count")
    parser.add_argument("--budget", type=float, default=0.3, help="seconds per shape")
    args = parser.parse_args()
    for shape in lecture_shapes(args.threads):
        seconds = gemm_autotune.measure(shape, args.budget)
        blas, codegen = seconds["blas"] * 1e6, seconds["codegen"] * 1e6
        print(
            f"{shape.describe():48s} blas {blas:9.1f} us  codegen {codegen:9.1f} us  "
            f"codegen/blas {codegen / blas:4.2f}  rule: {default_callee(shape)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
