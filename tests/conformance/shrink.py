"""Shrinks a failing drawn graph and prints it as a short ``import tgc as tf`` program.

hypothesis shrinks the suite's failures by itself; campaign seeds come from a numpy Generator, so
this greedy shrinker does the same for them: keep only the ancestors of one value, drop gradient
targets and fetches, drop the variant, switch from TF1 API calls to ``make_op``, each step kept only
when the failure keeps its status and category. Each try runs in a forked child (``isolated``), so a
crash is a failure like any other.

    python tests/conformance/shrink.py SEED [--include-known-bugs] [--variant NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from conformance.checks import Outcome, run_checks, target_named  # noqa: E402
from conformance.generator import KNOWN_BUGS, GraphSpec, RandomChooser, draw_graph  # noqa: E402


def outcome_isolated(spec: GraphSpec, target: str = "cpu") -> Outcome:
    """run_checks in a forked child; a child killed by a signal is a crash outcome."""
    from registry_harness import IsolatedFailure, isolated

    try:
        return isolated(lambda: run_checks(spec, target))
    except IsolatedFailure as exc:
        text = str(exc)
        status = "crash" if "died with" in text else "error"
        return Outcome(status, text.split(":")[0] if status == "crash" else "suite", text[-1500:])


def subgraph(spec: GraphSpec, keep: int) -> GraphSpec:
    """The ancestors of value id ``keep`` only; ``keep`` fetched and (if float) the loss."""
    producers = spec.producers()
    needed, stack = set(), [keep]
    while stack:
        v = stack.pop()
        if v in needed:
            continue
        needed.add(v)
        if producers[v] is not None:
            stack.extend(spec.nodes[producers[v][0]].args)
    node_ids = sorted({producers[v][0] for v in needed if producers[v] is not None})
    used_inputs = sorted(v for v in needed if producers[v] is None)
    renumber = {old: new for new, old in enumerate(used_inputs)}
    nodes, next_id = [], len(used_inputs)
    for i in node_ids:
        node = spec.nodes[i]
        first = len(spec.inputs) + sum(n.results for n in spec.nodes[:i])
        nodes.append(replace(node, args=tuple(renumber[a] for a in node.args)))
        for k in range(node.results):
            renumber[first + k] = next_id + k
        next_id += node.results
    out = replace(
        spec,
        inputs=[spec.inputs[v] for v in used_inputs],
        nodes=nodes,
        arrays=[spec.arrays[v] for v in used_inputs],
        values=[],
        static=[],
    )
    new_keep = renumber[keep]
    out.fetches = (new_keep,)
    weight = next((w for v, w in spec.loss if v == keep), None)
    shape = np.shape(spec.values[keep]) if spec.values else None
    is_float = np.asarray(spec.values[keep]).dtype.kind == "f" if spec.values else True
    if is_float:
        out.loss = ((new_keep, weight if weight is not None else np.ones(shape)),)
        out.targets = tuple(renumber[t] for t in spec.targets if t in renumber)
    else:
        out.loss = ((0, np.ones(np.shape(spec.arrays[used_inputs[0]]))),)
        out.targets = ()
    return out


def shrink(spec: GraphSpec, target: str = "cpu", log=print) -> tuple:
    """(smallest spec found that fails the same way, its outcome)."""
    first = outcome_isolated(spec, target)
    if first.ok:
        return spec, first

    def same(o):
        return o.status == first.status and o.category.split(" ")[0] == first.category.split(" ")[0]

    best, best_outcome = spec, first
    candidates = sorted(range(len(spec.inputs), spec.num_values))
    for keep in candidates:  # the smallest subgraph that still fails: earliest value first
        trial = subgraph(best if best is spec else spec, keep)
        if len(trial.nodes) >= len(best.nodes) and best is not spec:
            continue
        o = outcome_isolated(trial, target)
        if same(o):
            best, best_outcome = trial, o
            log(f"  kept the ancestors of v{keep}: {len(trial.nodes)} nodes")
            break
    changed = True
    while changed:
        changed = False
        for attempt in _simplifications(best):
            o = outcome_isolated(attempt, target)
            if same(o):
                best, best_outcome, changed = attempt, o, True
                log(
                    f"  simpler: {len(best.nodes)} nodes, targets {best.targets}, "
                    f"variant {best.variant}"
                )
                break
    return best, best_outcome


def _simplifications(spec: GraphSpec):
    for i in range(len(spec.targets)):
        yield replace(spec, targets=spec.targets[:i] + spec.targets[i + 1 :])
    if spec.variant != "none":
        yield replace(spec, variant="none")
    if spec.api is not False:
        yield replace(spec, api=False)
    for i, inp in enumerate(spec.inputs):
        if inp.kind == "variable":
            inputs = list(spec.inputs)
            inputs[i] = replace(inp, kind="placeholder", static=inp.shape)
            yield replace(spec, inputs=inputs)
    for i, node in enumerate(spec.nodes):
        if node.device:
            nodes = list(spec.nodes)
            nodes[i] = replace(node, device=0)
            yield replace(spec, nodes=nodes)


def repro_code(spec: GraphSpec, suite_target=None) -> str:
    """The graph as an ``import tgc as tf`` program (ops through the frontend's make_op), run on
    ``suite_target`` (a checks.Target; the plain CPU when None)."""
    lines = ["import numpy as np", "import tgc as tf", "from tgc.frontend.build import make_op", ""]
    kind = suite_target.device_type if suite_target is not None else "cpu"
    feeds = []
    for i, (inp, a) in enumerate(zip(spec.inputs, spec.arrays)):
        value = (
            f"np.array({np.round(a, 4).tolist()!r}, np.{spec.dtype})"
            if a.size
            else f"np.zeros({a.shape!r}, np.{spec.dtype})"  # [] would lose an empty one's shape
        )
        if inp.kind == "variable":
            lines.append(f"v{i} = tf.Variable({value})")
        else:
            lines.append(f"v{i} = tf.placeholder(tf.{spec.dtype}, {list(inp.static)})")
            feeds.append(f"v{i}: {value}")
    value_id = len(spec.inputs)
    for node in spec.nodes:
        names = [f"v{value_id + k}" for k in range(node.results)]
        attrs = "".join(
            f", {k}={_literal(v)}"
            for k, v in node.attrs.items()
            if node.op != "constant"  # a constant's value is written by tf.constant below
        )
        target = ", ".join(names) + ("," if node.results > 1 else "")
        if node.op == "constant":
            lines.append(f"{target} = tf.constant({float(node.attrs['value'])!r}, tf.{spec.dtype})")
        else:
            device = f"  # device /{kind}:{node.device}" if node.device else ""
            args = ", ".join(f"v{a}" for a in node.args)
            lines.append(f"{target} = make_op({node.op!r}, [{args}]{attrs}){device}")
        value_id += node.results
    loss = " + ".join(
        f"tf.reduce_sum(v{v} * np.{spec.dtype}({np.round(w, 3).tolist()!r}))"
        if np.ndim(w)
        else f"v{v} * {float(w)!r}"
        for v, w in spec.loss
    )
    lines.append(f"loss = {loss}")
    fetch = ", ".join(f"v{f}" for f in spec.fetches)
    grads = (
        f"tf.gradients(loss, [{', '.join(f'v{t}' for t in spec.targets)}])"
        if spec.targets
        else "[]"
    )
    lines.append(f"grads = {grads}")
    accelerator = suite_target is not None and suite_target.accelerator
    if accelerator:  # every op asks for the accelerator; soft placement keeps the rest on the CPU
        first = lines.index("") + 1
        body = ["    " + line for line in lines[first:]]
        lines[first:] = [f"with tf.device({suite_target.device(0)!r}):", *body]
    if suite_target is None or suite_target.compiler == "cpu":
        lines.append("with tf.Session() as sess:")
    else:
        devices = suite_target.config().device_count
        compiler = suite_target.compiler
        lines.insert(3, "from tgc.dialect import targets")
        soft = ", allow_soft_placement=True, log_device_placement=True" if accelerator else ""
        lines.append(f"config = tf.ConfigProto(device_count={devices!r}{soft})")
        lines.append(f"with targets.selected({compiler!r}), tf.Session(config=config) as sess:")
    if any(i.kind == "variable" for i in spec.inputs):
        lines.append("    sess.run(tf.global_variables_initializer())")
    lines.append(f"    print(sess.run([[{fetch}], grads], {{{', '.join(feeds)}}}))")
    return "\n".join(lines)


def _literal(value):
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, str):
        return repr(value)
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="shrink a campaign seed to a small repro")
    parser.add_argument("seed", type=int)
    parser.add_argument("--include-known-bugs", action="store_true")
    parser.add_argument("--variant", default=None)
    parser.add_argument("--target", default="cpu")
    args = parser.parse_args(argv)
    avoid = set() if args.include_known_bugs else set(KNOWN_BUGS)
    target = target_named(args.target)
    spec = draw_graph(
        RandomChooser(args.seed),
        seed=args.seed,
        avoid=avoid,
        variant=args.variant,
        favour=target.favour,
    )
    print(spec.describe())
    small, outcome = shrink(spec, args.target)
    print(f"\n{outcome.status} {outcome.category}: {outcome.detail[:800]}\n")
    print(small.describe())
    print()
    print(repro_code(small, None if args.target == "cpu" else target))


if __name__ == "__main__":
    main()
