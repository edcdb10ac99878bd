"""An artifact's call against a Session's, for comparing two tgc trees (before/after a change).

In the tree ROOT (its tgc, its benchmarks): the tiny graph's per-call times of
benchmarks/aot_overhead.py (artifact, Session.run, numpy), then for each workload of
benchmarks/gemm_codegen.py (two_layer, convnet) an artifact built with default options (no --blas),
the same built with the other variable mode (--variables-read-only where the tree's default writes
variables in place, --variables-in-place where it does not; none in trees without either), a
default Session (no TGC_GEMM) and a Session calling OpenBLAS, interleaved: the median wall time
and CPU time of the calling thread ("cpu") and of the process ("process") per step in ms. The
Session calling OpenBLAS stays on 1 thread whatever THREADS says (a fixed reference): OpenBLAS's
workers spin for a while after a threaded call and would take a core from whichever implementation
the interleaving runs next.

THREADS (default 0) is every side's thread limit: the artifacts are loaded with
``tgc.runtime.load(path, threads=THREADS)`` and the Sessions made with
``intra_op_parallelism_threads=THREADS``; 0 lets tgc decide on both sides, as a user's defaults
do. Each side's ThreadScope still takes fewer threads while other processes keep cores busy: the
counts the last steps chose are recorded (``threads_chosen``). (gemm_codegen sets
OPENBLAS_NUM_THREADS=2 on import, so OPENBLAS_NUM_THREADS=1 in the environment does not make a run
single-threaded: THREADS=1 does.)

One process per tree (two trees' tgc cannot share a process): run the trees alternately, twice
each, and compare within a round; the machine may be shared. Run from anywhere:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/artifact_call_ab.py ROOT \\
        two_layer,convnet [THREADS]

Prints one JSON line.
"""

import dataclasses
import functools
import inspect
import json
import os
import sys
import tempfile
import time


def timed_steps(impls: dict, steps: int, warmup: int) -> dict:
    """gemm_codegen.timed_steps's interleaving (the order rotating each round), with the process's
    CPU time of each step beside the wall and the calling thread's: on 2 threads the calling
    thread's CPU time leaves out the workers', and on a shared machine the wall time counts the
    time other processes held the cores."""
    for fn in impls.values():
        for _ in range(warmup):
            fn()
    times = {name: {"wall": [], "cpu": [], "process": []} for name in impls}
    order = list(impls.items())
    for step in range(steps):
        shift = step % len(order)
        for name, fn in order[shift:] + order[:shift]:
            wall, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
            fn()
            times[name]["process"].append(time.process_time() - process)
            times[name]["cpu"].append(time.thread_time() - cpu)
            times[name]["wall"].append(time.perf_counter() - wall)
    return times


def session_step(g, build, threads: int, blas: bool):
    """A Session with intra_op_parallelism_threads=threads, as a user gets it (no TGC_GEMM forced)
    or calling OpenBLAS, after its optimized code is in."""
    if blas:
        return g.session_step(build, "blas", threads=threads, name="session-blas")
    os.environ.pop(g.GEMM_ENVIRONMENT, None)
    tf = g.tf
    tf.reset_default_graph()
    fetch, feed = build()
    sess = tf.Session(config=tf.ConfigProto(intra_op_parallelism_threads=threads))
    g.CHOSEN_THREADS["session-default"] = sess._blas_threads
    sess.run(tf.global_variables_initializer())
    sess.run(fetch, feed)
    sess.run(fetch, feed)
    g.tiered.wait_for_optimized_code()
    return lambda: sess.run(fetch, feed)


def artifact_step(g, build, feeds: dict, tmp: str, threads: int, name: str, in_place=None):
    """The artifact step compiled with default options (``in_place`` None) or with the variable
    mode ``in_place`` asks for, loaded with ``threads``; None in a tree without that option."""
    from tgc.driver import aot

    kwargs = {"threads": threads, "name": name}
    if "threads" not in inspect.signature(g.artifact_step).parameters:
        kwargs = {}
    if in_place is None:
        return g.artifact_step(build, ["train"], feeds, tmp, **kwargs)
    if "variables_in_place" not in {f.name for f in dataclasses.fields(aot.Options)}:
        return None
    options = aot.Options
    aot.Options = functools.partial(options, variables_in_place=in_place)
    try:
        return g.artifact_step(build, ["train"], feeds, tmp, **kwargs)
    finally:
        aot.Options = options


def default_in_place() -> bool:
    """Whether the tree's `tgc compile` writes variables in place by default."""
    from tgc.driver import aot

    options = aot.Options()
    method = getattr(options, "writes_variables_in_place", None)
    return method() if method else bool(getattr(options, "variables_in_place", False))


def main():
    root, workloads = os.path.abspath(sys.argv[1]), sys.argv[2].split(",")
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    sys.path[:0] = [root, os.path.join(root, "benchmarks")]
    import aot_overhead
    import gemm_codegen as g

    assert g.tf.__file__.startswith(root), g.tf.__file__
    record = {"root": root, "threads": threads, "load_before": os.getloadavg()[0]}
    other = not default_in_place()
    other_name = "artifact-in-place" if other else "artifact-read-only"
    record["artifact_default_in_place"] = not other
    with tempfile.TemporaryDirectory(prefix="tgc-artifact-ab-") as tmp:
        record.update(aot_overhead.tiny_overhead(tmp, 20000))
        for name in workloads:
            build = getattr(g, name + "_builder")()
            feeds = {"x": "x", "y": "y"}
            path = os.path.join(tmp, name)
            impls = {
                "artifact-default": artifact_step(
                    g, build, feeds, path, threads, "artifact-default"
                ),
                other_name: artifact_step(
                    g, build, feeds, path + "-other", threads, other_name, in_place=other
                ),
                "session-blas": session_step(g, build, 1, blas=True),
                "session-default": session_step(g, build, threads, blas=False),
            }
            impls = {impl: step for impl, step in impls.items() if step is not None}
            steps = 300 if name == "two_layer" else 30
            medians = g.medians(timed_steps(impls, steps, warmup=3))
            record[name] = {
                impl: {kind: round(s * 1e3, 4) for kind, s in kinds.items()}
                for impl, kinds in medians.items()
            }
            record[name]["threads_chosen"] = g.chosen_threads()
    record["load_after"] = os.getloadavg()[0]
    print(json.dumps(record))


if __name__ == "__main__":
    main()
