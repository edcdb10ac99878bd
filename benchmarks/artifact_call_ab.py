"""An artifact's call against a Session's, for comparing two tgc trees (before/after a change).

In the tree ROOT (its tgc, its benchmarks): the tiny graph's per-call times of
benchmarks/aot_overhead.py (artifact, Session.run, numpy), then for each workload of
benchmarks/gemm_codegen.py (two_layer, convnet) an artifact built with default options (no --blas),
the same built with --variables-in-place (in trees that have it), a default Session (no TGC_GEMM)
and a Session calling OpenBLAS, interleaved, median wall and CPU time per step in ms. One process
per tree (two trees' tgc cannot share a process): run the trees alternately, twice each, and
compare within a round; the machine may be shared. Run from anywhere:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/artifact_call_ab.py ROOT two_layer,convnet

Prints one JSON line.
"""

import dataclasses
import functools
import json
import os
import sys
import tempfile


def default_session_step(g, build):
    """A Session as a user gets it (no TGC_GEMM forced), after its optimized code is in."""
    os.environ.pop(g.GEMM_ENVIRONMENT, None)
    tf = g.tf
    tf.reset_default_graph()
    fetch, feed = build()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run(fetch, feed)
    sess.run(fetch, feed)
    g.tiered.wait_for_optimized_code()
    return lambda: sess.run(fetch, feed)


def in_place_artifact_step(g, build, feeds: dict, tmp: str):
    """The artifact step compiled with --variables-in-place, or None in a tree without it."""
    from tgc.driver import aot

    if "variables_in_place" not in {f.name for f in dataclasses.fields(aot.Options)}:
        return None
    options = aot.Options
    aot.Options = functools.partial(options, variables_in_place=True)
    try:
        return g.artifact_step(build, ["train"], feeds, tmp)
    finally:
        aot.Options = options


def main():
    root, workloads = os.path.abspath(sys.argv[1]), sys.argv[2].split(",")
    sys.path[:0] = [root, os.path.join(root, "benchmarks")]
    import aot_overhead
    import gemm_codegen as g

    assert g.tf.__file__.startswith(root), g.tf.__file__
    record = {"root": root, "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="tgc-artifact-ab-") as tmp:
        record.update(aot_overhead.tiny_overhead(tmp, 20000))
        for name in workloads:
            build = getattr(g, name + "_builder")()
            feeds = {"x": "x", "y": "y"}
            impls = {
                "artifact-default": g.artifact_step(
                    build, ["train"], feeds, os.path.join(tmp, name)
                ),
                "artifact-in-place": in_place_artifact_step(
                    g, build, feeds, os.path.join(tmp, name + "-in-place")
                ),
                "session-blas": g.session_step(build, "blas"),
                "session-default": default_session_step(g, build),
            }
            impls = {impl: step for impl, step in impls.items() if step is not None}
            steps = 300 if name == "two_layer" else 30
            medians = g.medians(g.timed_steps(impls, steps, warmup=3))
            record[name] = {
                impl: {kind: round(s * 1e3, 4) for kind, s in kinds.items()}
                for impl, kinds in medians.items()
            }
    record["load_after"] = os.getloadavg()[0]
    print(json.dumps(record))


if __name__ == "__main__":
    main()
