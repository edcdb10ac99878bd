"""Probe: does every registry op check dims it only learns at run time, or read past a buffer?

A ``tf.cond`` whose branches differ in size on one axis gives a tensor whose dim there is unknown
(``?``) when the graph is compiled, while the other dims and operands stay static: a lowering that
trusts the static ones (a slice's bounds, a matmul's other operand) reads past the smaller branch's
buffer in silence. The probe builds that situation for each op of the registry, each sample and
each (operand, axis): the op compiled (tests/unit/registry_harness.py, the CPU pipeline of an
artifact) with that one dim unknown, then called with the sample's operands (the control), with the
axis one shorter and one longer. Each call is classified against the op's numpy ``eval`` on the
same operands:

- ``ok``: the same numbers (or numpy fails and so does the run with InvalidArgumentError);
- ``error``: numpy gives numbers but the run fails with InvalidArgumentError (a clear refusal;
  TF's kernel may refuse too where numpy is lenient, a slice past the end for one);
- ``WRONG``: numbers that differ from numpy's, numbers where numpy fails, any other error;
- ``COMPILE``: the op does not compile with that dim unknown (the control fails too), ``CRASH``:
  the compiled function (or the compiler) died on a signal; a graph that refuses the unknown dim
  when it is built (a ShapeError, as conv2d's spatial dims) is ``ok``.

The operand is resized by cutting its last entry along the axis, or by repeating its first one, so
indices and other values stay in their domain. Each compilation runs in a forked child.

    python tests/conformance/run_time_dims_probe.py [--ops matmul,slice] [--only-wrong]
        [--all-unknown]

About 1200 compilations for the whole registry (about 3 minutes on two shared cores). At 666aaeb:
{'ok': 3133, 'known': 102, 'WRONG': 14, 'error': 41}, the WRONG ones gather_grad's (the frontend's
segment ops check their sizes themselves) and broadcast_like's (now known); the 41 errors are
refusals TF's kernels make too (conv backprops, a TensorArray write, a slice past the end).
With --all-unknown (about 4 minutes): {'ok': 3078, 'WRONG': 9, 'error': 25, 'known': 33},
gather_grad's 9. At trustleft's b08d744 (gather_grad, avg_pool_grad, max_pool_grad and
unbroadcast_like check their operands, no longer known): {'ok': 3221, 'error': 82, 'known': 49},
no WRONG; the known ones split_like's, tile_grad's, strided_slice_grad's (one a SIGABRT, a write
past a buffer), reshape_to_shape's and broadcast_like's. Those three check their operands since,
and are no longer known, as reshape_to_shape (its lowering checks the shape vector as TF's
Reshape). At 4638508: {'ok': 3250, 'error': 100, 'known': 4} (broadcast_like's), and with
--all-unknown {'ok': 3099, 'error': 46}: no WRONG, COMPILE or CRASH.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))

import registry_harness as h  # noqa: E402
from tgc.dialect.registry import REGISTRY, ShapeError  # noqa: E402
from tgc.dialect.shapes import FLOAT_DTYPES  # noqa: E402

_TOLERANCE = {2: dict(rtol=1e-2, atol=1e-2), 4: dict(rtol=1e-5, atol=1e-6), 8: dict(rtol=1e-10)}


def resized(array: np.ndarray, axis: int, delta: int) -> np.ndarray:
    """``array`` with ``axis`` one shorter (its last entry cut) or one longer (its first
    repeated)."""
    if delta < 0:
        return np.take(array, range(array.shape[axis] - 1), axis=axis)
    if array.shape[axis]:
        first = np.take(array, [0], axis=axis)
    else:  # nothing to repeat: a zero entry
        first = np.zeros(array.shape[:axis] + (1,) + array.shape[axis + 1 :], array.dtype)
    return np.concatenate([array, first], axis=axis)


def reference(opdef, attrs, arrays):
    """numpy's results, or the text of its error."""
    try:
        return [np.asarray(r) for r in opdef.evaluate([a.copy() for a in arrays], attrs)]
    except Exception as exc:  # any numpy failure is the op refusing these operands
        return f"{type(exc).__name__}: {exc}"


def same(got, want) -> str | None:
    """None when ``got`` matches ``want``; else what differs."""
    if len(got) != len(want):
        return f"{len(got)} results, numpy {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            return f"result {k} shape {g.shape}, numpy {w.shape}"
        if w.dtype.name in FLOAT_DTYPES:
            if not np.allclose(g, w, equal_nan=True, **_TOLERANCE[w.dtype.itemsize]):
                return f"result {k} differs: {np.ravel(g)[:6]} vs numpy {np.ravel(w)[:6]}"
        elif not np.array_equal(g, w):
            return f"result {k} differs: {np.ravel(g)[:6]} vs numpy {np.ravel(w)[:6]}"
    return None


def classify(got, want) -> tuple:
    """(class, detail) of one call: ``got`` results or an error's text; ``want`` numpy's."""
    if isinstance(got, str):
        refused = got.startswith("InvalidArgumentError")
        if isinstance(want, str):
            return ("ok", got) if refused else ("WRONG", got)
        return ("error", got) if refused else ("WRONG", got)
    if isinstance(want, str):
        return "WRONG", f"numbers where numpy fails ({want})"
    diff = same(got, want)
    return ("ok", "") if diff is None else ("WRONG", diff)


def run_variants(opdef, attrs, arrays, operand, axis, all_unknown=False) -> list:
    """Compile with (operand, axis) unknown (``all_unknown``: every operand's every dim); call on
    the control and the resized operands. Returns [(delta, results or error text)]."""
    unknown = {(operand, axis)}
    if all_unknown:
        unknown = {(i, j) for i, a in enumerate(arrays) for j in range(a.ndim)}
    specs = h.operand_specs(arrays, dynamic=unknown)
    deltas = [0, -1, 1] if arrays[operand].shape[axis] else [0, 1]

    def build(b, args):
        out = b.op(opdef.name, *args, **attrs)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def compile_and_call():
        try:
            executable, _, _ = h.compile_function(specs, build)
        except ShapeError as exc:  # the graph refuses the unknown dim when it is built
            return [(None, f"REFUSED: {exc}")]
        except Exception as exc:  # classified by the caller
            return [(None, f"COMPILE: {type(exc).__name__}: {exc}")]
        outcomes = []
        for delta in deltas:
            call = list(arrays)
            if delta:
                call[operand] = resized(arrays[operand], axis, delta)
            try:
                outcomes.append((delta, [np.asarray(r) for r in executable(*call)]))
            except Exception as exc:  # classified by the caller
                outcomes.append((delta, f"{type(exc).__name__}: {exc}"))
        return outcomes

    try:
        return h.isolated(compile_and_call)
    except h.IsolatedFailure as exc:  # a crash: died on a signal
        return [(None, f"CRASH: {str(exc)[:300]}")]


def probe_case(name, index, all_unknown=False):
    """[(op, sample, operand, axis, delta, class, detail)] for one sample of one op."""
    opdef = REGISTRY[name]
    sample = opdef.samples[index]
    arrays = h.draw_operands(sample, h.rng_for(name, index))
    attrs = h.sample_attrs(opdef, sample)
    rows = []
    for operand, array in enumerate(arrays):
        for axis in range(array.ndim):
            for delta, got in run_variants(opdef, attrs, arrays, operand, axis, all_unknown):
                where = (name, index, operand, axis, delta)
                if delta is None:  # no call ran: refused at build, not compiled, or crashed
                    kind = got.split(":")[0]
                    rows.append((*where, "ok" if kind == "REFUSED" else kind, got))
                    continue
                call = list(arrays)
                if delta:
                    call[operand] = resized(arrays[operand], axis, delta)
                kind, detail = classify(got, reference(opdef, attrs, call))
                if delta == 0 and kind == "error":
                    kind = "WRONG"  # the control's operands are the sample's own
                rows.append((*where, kind, detail))
    return rows


PROBLEMS = ("WRONG", "COMPILE", "CRASH")

# Ops whose operands cannot disagree at run time where the graph builds them, or whose check the
# frontend adds: their problems print as ``known`` (with --only-wrong too) and fail nothing.
KNOWN = {
    # TF 2.21's BroadcastTo of a [3] to a [4, 2] known as [4, ?] gives [4, 3] too, where numpy
    # refuses.
    "broadcast_like": "tf.broadcast_to to a shape known at run time only: TF gives x's dims too",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", help="comma-separated op names (default: every runnable op)")
    parser.add_argument("--only-wrong", action="store_true", help="print problems only")
    parser.add_argument(
        "--all-unknown",
        action="store_true",
        help="compile with every dim of every operand unknown (as an artifact compiled with None "
        "dims), still resizing one axis at a time",
    )
    args = parser.parse_args(argv)
    names = args.ops.split(",") if args.ops else h.runnable_ops()
    counts: dict = {}
    start = time.time()
    for name in names:
        for index in range(len(REGISTRY[name].samples)):
            for row in probe_case(name, index, args.all_unknown):
                if name in KNOWN and row[5] in PROBLEMS:
                    row = (*row[:5], "known", f"{KNOWN[name]}; {row[5]}: {row[6]}")
                counts[row[5]] = counts.get(row[5], 0) + 1
                if not args.only_wrong or row[5] in (*PROBLEMS, "known"):
                    op, sample, operand, axis, delta, kind, detail = row
                    line = " ".join(str(detail).split())[:300]
                    step = "" if delta is None else f" {delta:+d}"
                    where = f"{op}[{sample}] operand {operand} axis {axis}{step}"
                    print(f"{kind:7} {where}: {line}", flush=True)
    print(f"# {counts} in {time.time() - start:.0f} s", flush=True)
    return 1 if any(counts.get(kind) for kind in PROBLEMS) else 0


if __name__ == "__main__":
    sys.exit(main())
