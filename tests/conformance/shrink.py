"""Shrinks a failing drawn graph and prints it as a short ``import tgc as tf`` program.

hypothesis shrinks the suite's failures by itself; campaign seeds come from a numpy Generator, so
this greedy shrinker does the same for them: keep only the ancestors of one value, drop gradient
targets and fetches, drop the variant, switch from TF1 API calls to ``make_op``, each step kept only
when the failure keeps its status and category. Each try runs in a forked child (``isolated``), so a
crash is a failure like any other.

    python tests/conformance/shrink.py SEED [--include-known-bugs] [--variant NAME] [--target NAME]
                                            [--control-flow PERCENT]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

import numpy as np

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, TESTS)

from conformance.checks import Outcome, run_checks, target_named  # noqa: E402
from conformance.generator import Body, GraphSpec  # noqa: E402
from conformance.reference import CONTROL_OPS, trip_count  # noqa: E402
from tgc.dialect.registry import REGISTRY  # noqa: E402


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
    for i, node in enumerate(spec.nodes):
        for simpler in _simpler_control(node):
            nodes = list(spec.nodes)
            nodes[i] = simpler
            yield replace(spec, nodes=nodes)


def _simpler_control(node):
    """A loop or cond with its bodies' dead nodes dropped; a loop without maximum_iterations (the
    same trip count), running once, without shape invariants."""
    if node.op not in CONTROL_OPS:
        return
    attrs = node.attrs
    key = "body" if node.op == "while_loop" else "branches"
    bodies = [attrs["body"]] if node.op == "while_loop" else list(attrs["branches"])
    pruned = [_pruned(b) for b in bodies]
    if pruned != bodies:
        yield replace(node, attrs={**attrs, key: pruned[0] if key == "body" else tuple(pruned)})
    if node.op != "while_loop":
        return
    count = trip_count(attrs)
    if attrs["maximum_iterations"] is not None:
        yield replace(node, attrs={**attrs, "maximum_iterations": None, "trips": count})
    if count > 1:
        yield replace(node, attrs={**attrs, "maximum_iterations": None, "trips": 1})
    if attrs["invariants"] is not None:
        yield replace(node, attrs={**attrs, "invariants": None})


def _pruned(body: Body) -> Body:
    """``body`` without the nodes its outputs do not need (its parameters stay)."""
    first_of, value = [], body.params
    for node in body.nodes:
        first_of.append(value)
        value += node.results
    needed, stack = set(), list(body.outputs)
    while stack:
        v = stack.pop()
        if v in needed or v < body.params:
            continue
        needed.add(v)
        i = max(k for k, f in enumerate(first_of) if f <= v)
        stack.extend(body.nodes[i].args)
    renumber = {p: p for p in range(body.params)}
    nodes, next_id = [], body.params
    for node, first in zip(body.nodes, first_of):
        if not any(first + k in needed for k in range(node.results)):
            continue
        nodes.append(replace(node, args=tuple(renumber[a] for a in node.args)))
        for k in range(node.results):
            renumber[first + k] = next_id + k
        next_id += node.results
    return Body(body.params, tuple(nodes), tuple(renumber[o] for o in body.outputs))


def repro_code(spec: GraphSpec, suite_target=None) -> str:
    """The graph as an ``import tgc as tf`` program (ops through the frontend's make_op), run on
    ``suite_target`` (a checks.Target; the plain CPU when None)."""
    lines = ["import numpy as np", "import tgc as tf", "from tgc.frontend.build import make_op", ""]
    kind = suite_target.device_type if suite_target is not None else "cpu"
    feeds = []
    for i, (inp, a) in enumerate(zip(spec.inputs, spec.arrays)):
        value = (
            repr(bool(a))  # a predicate's bool
            if inp.dtype == "bool"
            else f"np.array({np.round(a, 4).tolist()!r}, np.{spec.dtype})"
            if a.size
            else f"np.zeros({a.shape!r}, np.{spec.dtype})"  # [] would lose an empty one's shape
        )
        if inp.kind == "variable":
            lines.append(f"v{i} = tf.Variable({value})")
        else:
            dtype = inp.dtype or spec.dtype
            lines.append(f"v{i} = tf.placeholder(tf.{dtype}, {list(inp.static)})")
            feeds.append(f"v{i}: {value}")
    names = [f"v{i}" for i in range(len(spec.inputs))]
    lines.extend(_node_lines(spec, spec.nodes, names, "v", "", kind, [0]))
    loss = " + ".join(
        f"tf.reduce_sum(v{v} * np.zeros({np.shape(w)!r}, np.{spec.dtype}))"
        if np.ndim(w) and not np.size(w)  # [] would lose an empty weight's shape
        else f"tf.reduce_sum(v{v} * np.{spec.dtype}({np.round(w, 3).tolist()!r}))"
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
    lines.append(f"grads = [g for g in {grads} if g is not None]  # None: no path to the loss")
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


def _node_lines(spec, nodes, names: list, prefix: str, indent: str, kind: str, counter) -> list:
    """The program's lines for ``nodes`` whose operands are named ``names`` (value ids in order);
    the nodes' results are named ``prefix`` + their value id, and appended to ``names``."""
    lines = []
    for node in nodes:
        first = len(names)
        names.extend(f"{prefix}{first + k}" for k in range(node.results))
        target = ", ".join(names[first:]) + ("," if node.results > 1 else "")
        args = [names[a] for a in node.args]
        device = f"  # device /{kind}:{node.device}" if node.device else ""
        if node.op == "constant":
            value = float(node.attrs["value"])
            lines.append(f"{indent}{target} = tf.constant({value!r}, tf.{spec.dtype})")
        elif node.op in CONTROL_OPS:
            counter[0] += 1
            unpacked = ", ".join(names[first:]) + ","  # the loop and branches return lists
            lines.extend(_control_lines(spec, node, args, unpacked, indent, kind, counter))
        else:
            if REGISTRY[node.op].results == "variadic":
                target = ", ".join(names[first:]) + ","  # a list even of one (split in one)
            attrs = "".join(f", {k}={_literal(v)}" for k, v in node.attrs.items())
            call = f"make_op({node.op!r}, [{', '.join(args)}]{attrs})"
            lines.append(f"{indent}{target} = {call}{device}")
    return lines


def _body_lines(
    spec, body, params: list, header: str, indent: str, kind, counter, first=""
) -> list:
    """``header`` (a def line) and the body's lines, returning ``first`` and its outputs as a list;
    ``params`` name its parameters (a loop's variables, the outer tensors it captures)."""
    inner = indent + "    "
    names = list(params)
    local = header.split("def ")[1].split("(")[0] + "_"
    lines = [indent + header]
    lines.extend(_node_lines(spec, body.nodes, names, local, inner, kind, counter))
    lines.append(f"{inner}return [{first}{', '.join(names[o] for o in body.outputs)}]")
    return lines


def _control_lines(spec, node, args: list, target: str, indent: str, kind, counter) -> list:
    """A drawn loop as tf.while_loop over a counter, a cond or case as tf.cond / tf.case."""
    attrs, n = node.attrs, counter[0]
    if node.op == "while_loop":
        count = attrs["vars"]
        loop_vars, captured = args[:count], args[count:]
        params = [f"w{n}_{j}" for j in range(count)]
        header = f"def body{n}(i, {', '.join(params)}):"
        lines = _body_lines(
            spec, attrs["body"], params + captured, header, indent, kind, counter, "i + 1, "
        )
        extra = ""
        if attrs["invariants"] is not None:
            shapes = ", ".join(f"tf.TensorShape({list(s)!r})" for s in attrs["invariants"])
            extra += f", shape_invariants=[tf.TensorShape([]), {shapes}]"
        if attrs["maximum_iterations"] is not None:
            extra += f", maximum_iterations={attrs['maximum_iterations']}"
        lines.append(
            f"{indent}{target} = tf.while_loop(lambda i, *_: i < {attrs['trips']}, body{n}, "
            f"[tf.constant(0), {', '.join(loop_vars)}]{extra})[1:]"
        )
        return lines
    count = 1 if node.op == "cond" else attrs["preds"]
    preds, captured = args[:count], args[count:]
    lines, fns = [], []
    for k, branch in enumerate(attrs["branches"]):
        fns.append(f"branch{n}_{k}")
        # no parameters: a branch captures the outer tensors by name
        header = f"def {fns[-1]}():"
        lines.extend(_body_lines(spec, branch, captured, header, indent, kind, counter))
    if node.op == "cond":
        call = f"tf.cond({preds[0]}, {fns[0]}, {fns[1]}, strict=True)"
    else:
        pairs = ", ".join(f"({p}, {f})" for p, f in zip(preds, fns))
        call = f"tf.case([{pairs}], default={fns[-1]}, strict=True)"
    lines.append(f"{indent}{target} = {call}")
    return lines


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
    parser.add_argument(
        "--control-flow", type=int, default=0, metavar="PERCENT", help="as the campaign's"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(TESTS), "benchmarks"))
    from random_graphs import draw  # the campaign's drawing of a seed, options and all

    target = target_named(args.target)
    spec = draw(args.seed, args)
    print(spec.describe())
    small, outcome = shrink(spec, args.target)
    print(f"\n{outcome.status} {outcome.category}: {outcome.detail[:800]}\n")
    print(small.describe())
    print()
    print(repro_code(small, None if args.target == "cpu" else target))


if __name__ == "__main__":
    main()
