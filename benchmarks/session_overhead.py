"""Steady-state Python overhead of Session.run on a tiny graph (issue 5's bar: under 20 us).

Run:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/session_overhead.py
            [--runs 50000] [--cold-calls 3000 --cold-mb 32]

Prints, for y = x * 2 + 1 on 4 floats, the median over 7 repeats of: Session.run with a feed, the
same run forced through the ThreadScope (which code starting no threads skips), the compiled run
without the session (PartitionedRun), the Executable alone, the bare ctypes call into the compiled
code, and numpy's own x * 2 + 1. Then the same with caches cold: before each call the
script writes --cold-mb MB of other memory, as the harness's interleaved peers do to each other, and
takes the median of --cold-calls single calls (the order rotating). Both go in a JSON record under
benchmarks/results/, with the call path the runtime used (the C extension or pure Python; set
TGC_PURE_PYTHON_CALLS=1 to time the latter).
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


def cold_per_call_us(fns: dict, calls: int, megabytes: int) -> dict:
    """name -> median us of one call made right after writing ``megabytes`` MB of other memory."""
    junk = np.ones(megabytes * 262144, np.float32)
    names = list(fns)
    times = {name: [] for name in names}
    for i in range(calls):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            junk += 1.0
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) * 1e6 for name, samples in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50000)
    parser.add_argument("--cold-calls", type=int, default=3000)
    parser.add_argument("--cold-mb", type=int, default=32)
    args = parser.parse_args()

    import tgc as tf
    from tgc.runtime import executable as runtime

    x = tf.placeholder(tf.float32, [4], name="x")
    y = x * 2.0 + 1.0
    sess = tf.Session()
    a = np.ones(4, np.float32)
    sess.run(y, {x: a})
    (compiled,) = sess._cache.values()
    # The same run with the ThreadScope that code starting no threads skips (Session.run): what
    # the scope costs on this machine now.
    scoped = tf.Session()
    scoped.run(y, {x: a})
    for plan in scoped._plans.values():
        plan.fast.single_threaded = False
    run = compiled.call
    executable = run.partitions[0].call
    executable._call_python(
        (a,)
    )  # fills the Executable's own descriptors, which the bare call reuses
    calls = {
        "Session.run": lambda: sess.run(y, {x: a}),
        "Session.run in ThreadScope": lambda: scoped.run(y, {x: a}),
        "compiled run (no session)": lambda: run([a], {}),
        "Executable": lambda: executable(a),
        "bare ctypes call": lambda: executable._fn(executable._packed_address),
        "numpy x * 2 + 1": lambda: a * 2.0 + 1.0,
    }
    path = "C extension" if runtime._fastcall is not None else "pure Python"
    figures = {name: per_call_us(fn, args.runs) for name, fn in calls.items()}
    print(f"call path: {path}")
    for name, us in figures.items():
        print(f"{name:28s} {us:7.2f} us per call")
    print(f"bar: Session.run under 20 us -> {'met' if figures['Session.run'] < 20 else 'not met'}")
    cold = cold_per_call_us(calls, args.cold_calls, args.cold_mb) if args.cold_calls else {}
    if cold:
        print(
            f"with caches cold ({args.cold_mb} MB written before each call, median of "
            f"{args.cold_calls}):"
        )
    for name, us in cold.items():
        print(f"{name:28s} {us:7.2f} us per call")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S")
    with open(os.path.join(out, f"session_overhead-{stamp}.json"), "w") as fh:
        json.dump(
            {
                "call_path": path,
                "us_per_call": figures,
                "cold_us_per_call": cold,
                "cold_mb": args.cold_mb,
                "load_average": os.getloadavg(),
            },
            fh,
            indent=1,
        )


if __name__ == "__main__":
    main()
