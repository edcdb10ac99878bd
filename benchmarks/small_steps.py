"""The harness's small workloads (1 two-layer SGD step, 2 softmax regression SGD step, 3a MLP
inference at batch 1) on tgc and numpy only, timed as benchmarks/harness.py times them (its
``in_blocks``: rounds of blocks, each implementation alone after the others' workers went idle).

A quick check of tgc's ratio to numpy on these steps, without the peers' imports and compiles.
``--no-narrow`` compiles tgc's steps without tgc-narrow-gemm (its 10-wide GEMMs then take the
generated GEMM or OpenBLAS, as before that pass): run it beside a plain run for a before/after.
Thread counts come from the environment, as in the harness's children: for its one-thread
setting run
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        OMP_WAIT_POLICY=PASSIVE python benchmarks/small_steps.py [--no-narrow] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

SMALL = ("1 ", "2 ", "3a ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-narrow", action="store_true", help="compile without tgc-narrow-gemm")
    parser.add_argument("--repeats", type=int, default=3, help="in_blocks runs per workload")
    parser.add_argument("--steps", type=int, default=100, help="timed steps per run")
    args = parser.parse_args()
    if args.no_narrow:
        from tgc.lowering.cpu import narrow_gemm

        narrow_gemm.narrow_kernel_for = lambda *arguments: None
    label = "without narrow" if args.no_narrow else "default"
    for name, make in harness.WORKLOADS.items():
        if not name.startswith(SMALL):
            continue
        builders = {k: v for k, v in make().items() if k in ("tgc", "numpy")}
        fns, _ = harness.build_impls(builders)
        for _ in range(args.repeats):
            times = harness.in_blocks(fns, args.steps, 5)
            ms = {impl: statistics.median(t) * 1e3 for impl, t in times.items()}
            print(
                f"{label:14s} {name[:44]:44s} tgc {ms['tgc']:.4f} ms  numpy {ms['numpy']:.4f} ms  "
                f"tgc/numpy {ms['tgc'] / ms['numpy']:.3f}  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
