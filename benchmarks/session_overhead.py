"""Steady-state Python overhead of Session.run on a tiny graph (issue 5's bar: under 20 us).

Run:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/session_overhead.py [--runs 50000]

Prints, for y = x * 2 + 1 on 4 floats, the median over 7 repeats of: Session.run with a feed, the
compiled run without the session (PartitionedRun), the Executable alone, the bare ctypes call into the
compiled code, and numpy's own x * 2 + 1; writes a JSON record under benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

import numpy as np


def per_call_us(fn, runs: int) -> float:
    fn()
    samples = []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        samples.append((time.perf_counter() - start) / runs * 1e6)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50000)
    args = parser.parse_args()

    import tgc as tf

    x = tf.placeholder(tf.float32, [4], name="x")
    y = x * 2.0 + 1.0
    sess = tf.Session()
    a = np.ones(4, np.float32)
    sess.run(y, {x: a})
    (compiled,) = sess._cache.values()
    run = compiled.call
    executable = run.partitions[0].call
    figures = {
        "Session.run": per_call_us(lambda: sess.run(y, {x: a}), args.runs),
        "compiled run (no session)": per_call_us(lambda: run([a], {}), args.runs),
        "Executable": per_call_us(lambda: executable(a), args.runs),
        "bare ctypes call": per_call_us(lambda: executable._fn(executable._packed_address), args.runs),
        "numpy x * 2 + 1": per_call_us(lambda: a * 2.0 + 1.0, args.runs),
    }
    for name, us in figures.items():
        print(f"{name:28s} {us:7.2f} us per call")
    print(f"bar: Session.run under 20 us -> {'met' if figures['Session.run'] < 20 else 'not met'}")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S")
    with open(os.path.join(out, f"session_overhead-{stamp}.json"), "w") as fh:
        json.dump({"us_per_call": figures, "load_average": os.getloadavg()}, fh, indent=1)


if __name__ == "__main__":
    main()
