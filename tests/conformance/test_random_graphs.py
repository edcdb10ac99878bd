"""Random graphs drawn from the op registry, run through every path of a target (see checks.py).

``test_random_graphs_conform`` is the suite proper: for each variant, a fixed set of hypothesis
examples (derandomized; ``CONFORMANCE_EXAMPLES`` per variant), each checked in a forked child so a
crash fails one example. A failure prints the graph and a short ``import tgc as tf`` repro, shrunk
by hypothesis. The other tests check the machinery itself: the generator reaches the registry and
draws what it promises, the reference is right, and the checks do fail on a wrong number.
"""

import collections
import faulthandler
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import reference
from conformance.checks import Outcome, Wrong, check_forward, compute_reference, run_checks
from conformance.checks import entries_for as checks_entries_for
from conformance.reference import CONTROL_OPS
from conformance import generator
from conformance.generator import (
    EXCLUDED_OPS,
    EXCLUDED_TRAITS,
    KNOWN_BUGS,
    VARIANTS,
    GraphSpec,
    HypothesisChooser,
    Input,
    Node,
    Body,
    RandomChooser,
    catalogue,
    control_nodes,
    draw_graph,
)
from conformance.shrink import outcome_isolated, repro_code
from tgc.dialect.registry import REGISTRY, load_all_ops
from registry_harness import skip_reason

ENTRIES = catalogue()
_DRAWN = []


def drawn_specs() -> list:
    """300 graphs drawn by seed (default exclusions), shared by the generator's tests."""
    if not _DRAWN:
        _DRAWN.extend(
            draw_graph(RandomChooser(seed), seed=seed, entries=ENTRIES) for seed in range(300)
        )
    return _DRAWN


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@st.composite
def graphs(draw, variant, entries=None, favour=()):
    seed = draw(st.integers(0, 2**31 - 1))
    entries = ENTRIES if entries is None else entries
    return draw_graph(
        HypothesisChooser(draw), seed=seed, entries=entries, variant=variant, favour=favour
    )


def entries_for(target) -> dict:
    return checks_entries_for(target, ENTRIES)


# The artifact variant compiles to an object file and links a library: it gets half the examples.
EXAMPLE_SHARE = {"artifact": 0.5}


@pytest.mark.parametrize("variant", VARIANTS)
def test_random_graphs_conform(variant, target):
    if variant not in target.variants:
        pytest.skip(f"the {target.name} target does not run the {variant} variant")
    profile = settings.get_profile("conformance")
    examples = max(1, round(profile.max_examples * EXAMPLE_SHARE.get(variant, 1.0)))

    @settings(profile, max_examples=examples)
    @given(graphs(variant, entries_for(target), target.favour))
    def check(spec):
        outcome = outcome_isolated(spec, target.name)
        assert outcome.ok, (
            f"{outcome.status} in {outcome.category}: {outcome.detail}\n\n{spec.describe()}"
            f"\n\nrepro:\n{repro_code(spec, target)}"
        )

    check()


# ---- the generator -------------------------------------------------------------------------------

# Catalogued ops whose operands random graphs rarely form: they may go undrawn in the coverage test.
RARELY_DRAWN = {
    "max_pool": "needs a 4-D NHWC input (only graphs of rank-4 inputs have one)",
    "avg_pool": "needs a 4-D NHWC input (only graphs of rank-4 inputs have one)",
    "gather_grad": "needs int indices in range and a gradient of the gathered shape",
    "max_pool_grad": "needs a 4-D input and a gradient of the pooled shape",
    "avg_pool_grad": "needs a 4-D input and a gradient of the pooled shape",
    "max_pool_grad_grad": "needs a 4-D input and a gradient of its shape",
    "split_like": "needs two values whose sizes add up to a third's along an axis",
    "sparse_softmax_cross_entropy_with_logits": "needs int labels below the logits' class count",
    "gather": "needs non-negative int indices below the params' first dim",
}


def test_catalogue_is_the_registry_less_named_exclusions():
    ops = load_all_ops()
    runnable = {n for n, d in ops.items() if skip_reason(d) is None and d.samples}
    excluded_by_trait = {n for n in runnable if set(ops[n].traits) & set(EXCLUDED_TRAITS)}
    assert {"range", "reshape_to_shape"} <= {
        n for n, d in ops.items() if "value_shaped" in d.traits
    }
    missing = runnable - set(ENTRIES) - set(EXCLUDED_OPS) - excluded_by_trait
    # what is left out besides EXCLUDED_OPS has no drawable sample (fixed values or float16 only)
    for name in missing:
        assert all(
            s.values or {"float16", "bfloat16"} & set(s.operand_dtypes()) for s in ops[name].samples
        ), name
    assert not set(ENTRIES) & set(EXCLUDED_OPS)
    assert {
        "add",
        "matmul",
        "reduce_sum",
        "softmax",
        "select",
        "strided_slice",
        "split",
        "cast",
    } <= set(ENTRIES)


def test_generator_reaches_every_catalogued_op():
    drawn = collections.Counter()
    for seed in range(400):
        drawn.update(draw_graph(RandomChooser(seed), seed=seed, entries=ENTRIES).ops())
    never = set(ENTRIES) - set(drawn) - set(RARELY_DRAWN)
    assert not never, f"ops the generator never drew in 400 graphs: {sorted(never)}"


def test_generator_draws_what_it_promises():
    specs = drawn_specs()
    assert all(2 <= len(s.inputs) <= 4 for s in specs)
    drawn_ops = [len([n for n in s.nodes if n.op != "constant"]) for s in specs]
    assert max(drawn_ops) >= 12 and np.median(drawn_ops) >= 5

    def has(pred):
        return sum(1 for s in specs if pred(s))

    assert has(lambda s: any(None in i.static for i in s.inputs)) > 30  # unknown dims
    assert has(lambda s: any(0 in i.shape for i in s.inputs)) > 3  # empty tensors
    assert has(lambda s: any(i.kind == "variable" for i in s.inputs)) > 50
    assert has(lambda s: len(s.targets) >= 2) > 50  # several gradient targets at once
    assert has(lambda s: any(t >= len(s.inputs) for t in s.targets)) > 50  # intermediate targets
    assert has(lambda s: any(s.uses()[v] >= 2 for v in range(len(s.inputs)))) > 100  # fan-out
    assert has(lambda s: s.dtype == "float32") > 50 and has(lambda s: s.dtype == "float64") > 50
    assert has(lambda s: len({i.shape for i in s.inputs}) > 1) > 100  # broadcasting shapes
    assert {s.variant for s in specs} == set(VARIANTS)


def test_issue_12_situations_are_drawn():
    """Issue 12 #1-#4's and finding F2's shapes of graph, once excluded as
    known bugs, are drawn now."""

    def runtime_broadcast(s):
        for axis in range(1, 5):
            dims = [(i.static[-axis], i.shape[-axis]) for i in s.inputs if len(i.shape) >= axis]
            if any(st is None and fed == 1 for st, fed in dims) and any(fed > 1 for _, fed in dims):
                return True
        return False

    def reduce_no_axes(s):
        return any(n.op.startswith("reduce_") and not n.attrs["axes"] for n in s.nodes)

    def fan_out_second_target(s):
        return any(s.uses()[t] >= 2 and t < len(s.inputs) for t in s.targets[1:])

    def scalar_variable_artifact(s):  # finding F2
        return s.variant == "artifact" and any(
            i.kind == "variable" and not i.shape for i in s.inputs
        )

    def reshape_unknown_dims(s):
        return any(
            n.op == "reshape" and s.static[n.args[0]].shape and None in s.static[n.args[0]].shape
            for n in s.nodes
        )

    specs = drawn_specs()
    for situation in (
        runtime_broadcast,
        reduce_no_axes,
        fan_out_second_target,
        reshape_unknown_dims,
        scalar_variable_artifact,
    ):
        assert any(situation(s) for s in specs), situation.__name__


def test_no_known_bug_is_avoided_and_pools_of_no_channels_are_drawn():
    def pool_empty_channels(s):
        return any(
            n.op in ("max_pool", "avg_pool") and s.values[n.args[0]].shape[-1] == 0 for n in s.nodes
        )

    assert not KNOWN_BUGS  # "dynamic-control-results" went with its fix (tgc/passes/place.py)
    pools = {name: ENTRIES[name] for name in ("max_pool", "avg_pool", "strided_slice", "slice")}
    drawn = [draw_graph(RandomChooser(seed), seed=seed, entries=pools) for seed in range(200)]
    assert any(pool_empty_channels(s) for s in drawn)


def test_loop_results_of_unknown_shape_are_drawn_for_every_target():
    """Once a known bug on the GPU and the accelerator (KNOWN_BUGS "dynamic-control-results"): a
    loop whose shape invariant has a None dim; the drawing no longer depends on the target."""

    def unknown_loop_result(s):
        return any(
            n.op == "while_loop" and any(None in spec.shape for spec in n.attrs["specs"])
            for n in s.nodes
        )

    drawn = [draw_graph(RandomChooser(seed), seed=seed, control_flow=25) for seed in range(40)]
    assert any(unknown_loop_result(s) for s in drawn)


# ---- the reference and the checks ----------------------------------------------------------------


def hand_graph(
    nodes, shape=(2, 3), targets=(0,), dtype="float64", fetches=None, kinds=("placeholder",)
):
    """A GraphSpec written by hand: inputs of ``shape`` valued 0.1, 0.2, ...;
    the last value the loss."""
    arrays = [
        ((np.arange(np.prod(shape)) + 1) / 10).reshape(shape).astype(dtype) * (k + 1)
        for k in range(len(kinds))
    ]
    inputs = [Input(f"in{k}", kind, shape, shape, -2.0, 2.0) for k, kind in enumerate(kinds)]
    spec = GraphSpec(seed=0, dtype=dtype, inputs=inputs, nodes=list(nodes), arrays=arrays)
    last = spec.num_values - 1
    spec.fetches = tuple(fetches if fetches is not None else (last,))
    spec.loss = ((last, np.ones(shape)),)
    spec.targets = tuple(targets)
    spec.variant = "none"
    return spec


def test_finite_differences_follow_fan_out_and_stop_at_stop_gradient():
    # v1 = x * x; v2 = stop_gradient(x); v3 = v1 + v2: d/dx = 2x (no gradient through v2); d/dv1 = 1
    spec = hand_graph(
        [
            Node("multiply", (0, 0), {}, 1),
            Node("stop_gradient", (0,), {}, 1),
            Node("add", (1, 2), {}, 1),
        ],
        targets=(0, 1),
    )
    values = reference.evaluate(spec)
    np.testing.assert_allclose(values[3], spec.arrays[0] ** 2 + spec.arrays[0])
    grad, kink = reference.finite_difference(spec, 0, values)
    np.testing.assert_allclose(grad, 2 * spec.arrays[0], rtol=1e-6)
    assert not kink.any()
    grad, _ = reference.finite_difference(spec, 1, values)
    np.testing.assert_allclose(grad, np.ones((2, 3)), rtol=1e-6)


def test_finite_differences_mark_kinks():
    # relu(x - x) sits on relu's kink everywhere (an intermediate target)
    spec = hand_graph([Node("subtract", (0, 0), {}, 1), Node("relu", (1,), {}, 1)], targets=(1,))
    _, kink = reference.finite_difference(spec, 1, reference.evaluate(spec))
    assert kink.all()


def test_forward_check_fails_on_a_wrong_number():
    spec = hand_graph([Node("sin", (0,), {}, 1)], dtype="float32")
    ref = compute_reference(spec, with_gradients=False)
    right = np.sin(spec.arrays[0])
    check_forward(spec, ref, [right])
    for wrong in (right * (1 + 1e-3), right[:1], right.astype(np.float64), np.cos(spec.arrays[0])):
        with pytest.raises(Wrong):
            check_forward(spec, ref, [wrong])


def test_run_checks_reports_wrong_forward_and_gradient(monkeypatch, target):
    # A correct tgc against a reference broken on purpose: the checks must say "wrong".
    spec = hand_graph(
        [Node("sin", (0,), {}, 1), Node("multiply", (1, 0), {}, 1)],
        targets=(0, 1),
        kinds=("placeholder",),
    )
    assert run_checks(spec, target).ok
    monkeypatch.setattr(REGISTRY["sin"], "eval", lambda x: np.sin(x) * 1.01)
    outcome = run_checks(spec, target)
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome
    monkeypatch.setattr(
        REGISTRY["sin"], "eval", lambda x: np.sin(x) + 0.01 * x * x
    )  # same value at 0 only
    spec.fetches = ()
    outcome = run_checks(spec, target)
    assert (outcome.status, outcome.category) == ("wrong", "gradient"), outcome


def test_isolated_run_reports_a_crash_as_an_outcome(monkeypatch):
    spec = hand_graph([Node("sin", (0,), {}, 1)])
    monkeypatch.setattr(
        "conformance.checks.run_session", lambda *a, **k: (faulthandler.disable(), os.abort())
    )
    outcome = outcome_isolated(spec)
    assert outcome.status == "crash" and "SIGABRT" in outcome.detail
    assert isinstance(outcome, Outcome)


# ---- the campaign command ------------------------------------------------------------------------


def test_campaign_logs_each_seed_survives_a_crash_and_resumes(tmp_path):
    log = tmp_path / "log.jsonl"
    command = [
        sys.executable,
        os.path.join(ROOT, "benchmarks", "random_graphs.py"),
        "--log",
        str(log),
        "--jobs",
        "2",
        "--start",
        "0",
    ]
    env = dict(
        os.environ, TGC_CAMPAIGN_ABORT_SEED="1"
    )  # the worker aborts on seed 1, as a segfault would
    done = subprocess.run(
        command + ["--count", "3"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    records = {r["seed"]: r for r in map(json.loads, log.read_text().splitlines())}
    assert sorted(records) == [0, 1, 2]
    assert records[1]["status"] == "crash" and records[1]["category"] == "signal SIGABRT"
    assert records[1]["ops"]  # the crashed graph is still described
    for r in records.values():
        assert {"seed", "status", "category", "variant", "dtype", "ops", "dims", "seconds"} <= set(
            r
        )
    assert "graphs 3:" in done.stdout and "crash 1" in done.stdout
    again = subprocess.run(
        command + ["--count", "4"], env=env, capture_output=True, text=True, timeout=300
    )
    assert "1 graphs to run (3 already in" in again.stdout
    assert len(log.read_text().splitlines()) == 4


# ---- control flow: loops, conds and cases -------------------------------------------------------

CONTROL_PERCENT = 25  # the share of node draws that are a loop, cond or case in these tests
_DRAWN_CONTROL = []


def drawn_control_specs() -> list:
    if not _DRAWN_CONTROL:
        _DRAWN_CONTROL.extend(
            draw_graph(RandomChooser(s), seed=s, entries=ENTRIES, control_flow=CONTROL_PERCENT)
            for s in range(200)
        )
    return _DRAWN_CONTROL


def _bodies(node) -> list:
    return [node.attrs["body"]] if node.op == "while_loop" else list(node.attrs["branches"])


def _reaches_through_control(spec) -> bool:
    """A gradient target the loss reaches through a loop or cond (the target feeds one, or is
    its result)."""
    producers = spec.producers()
    control_values = {
        v for v, where in enumerate(producers) if where and spec.nodes[where[0]].op in CONTROL_OPS
    }
    feeding = {a for n in spec.nodes if n.op in CONTROL_OPS for a in n.args}
    return any(t in control_values or t in feeding for t in spec.targets)


def test_generator_draws_loops_and_branches():
    specs = drawn_control_specs()
    nodes = [n for s in specs for n in control_nodes(s.nodes)]
    kinds = collections.Counter(n.op for n in nodes)
    assert kinds["while_loop"] > 100 and kinds["cond"] > 50 and kinds["case"] > 20, kinds
    assert all(control_nodes(s.nodes) for s in specs)  # at least one per graph
    loops = [n for n in nodes if n.op == "while_loop"]
    assert sum(n.attrs["maximum_iterations"] is not None for n in loops) > 20
    assert sum(n.attrs["invariants"] is not None for n in loops) > 20  # None-dim invariants
    assert any(None in s for n in loops if n.attrs["invariants"] for s in n.attrs["invariants"])
    assert sum(len(n.args) > n.attrs["vars"] for n in loops) > 30  # bodies capturing tensors
    assert sum(n.attrs["vars"] >= 2 for n in loops) > 20
    assert any(len(set(n.args)) < len(n.args) for n in loops)  # one tensor in two places
    assert {n.attrs["trips"] for n in loops} == set(generator.LOOP_TRIPS)
    nested = [n for n in nodes if any(control_nodes(b.nodes) for b in _bodies(n))]
    assert len(nested) > 20  # a loop or cond inside a body or branch
    assert sum(s.inputs[-1].dtype == "bool" for s in specs) > 40  # a fed bool predicate
    conds = [n for n in nodes if n.op != "while_loop"]
    assert any(None in spec.shape for n in conds for spec in n.attrs["specs"])  # joined dims
    assert sum(_reaches_through_control(s) for s in specs) > 100
    assert {s.variant for s in specs} == set(VARIANTS)


def test_control_flow_is_drawn_only_when_asked():
    # control_flow=0 (the default) draws the graphs of earlier campaigns: seeds keep their graphs
    assert not any(control_nodes(s.nodes) for s in drawn_specs())
    pinned = [
        draw_graph(
            RandomChooser(s),
            seed=s,
            entries=ENTRIES,
            variant="two_devices",
            control_flow=CONTROL_PERCENT,
            control_on_pinned_devices=False,
        )
        for s in range(20)
    ]
    assert not any(control_nodes(s.nodes) for s in pinned)


def _loop_spec(trips=3, maximum_iterations=2):
    """v1 = loop (x, c) -> (x * c, c) run min(trips, maximum_iterations) times: x * c ** n."""
    body = Body(2, (Node("multiply", (0, 1), {}, 1),), (2,))
    spec = hand_graph([], kinds=("placeholder", "variable"), targets=(0, 1))
    attrs = {
        "vars": 1,
        "trips": trips,
        "maximum_iterations": maximum_iterations,
        "invariants": ((None, 3),),
        "body": body,
        "specs": (generator.TensorSpec((None, 3), "float64"),),
    }
    spec.nodes = [Node("while_loop", (0, 1), attrs, 1)]
    spec.fetches = (2,)
    spec.loss = ((2, np.ones((2, 3))),)
    return spec


def test_reference_runs_a_loop_and_its_finite_differences():
    spec = _loop_spec()
    x, c = spec.arrays
    values = reference.evaluate(spec)
    np.testing.assert_allclose(values[2], x * c * c)  # two trips: maximum_iterations=2 < 3
    grad_x, _ = reference.finite_difference(spec, 0, values)
    grad_c, _ = reference.finite_difference(spec, 1, values)
    np.testing.assert_allclose(grad_x, c * c, rtol=1e-6)
    np.testing.assert_allclose(grad_c, 2 * x * c, rtol=1e-6)
    assert reference.trip_count({"trips": 0, "maximum_iterations": None}) == 0


def test_reference_takes_the_first_branch_whose_predicate_holds():
    assert reference.taken_branch([np.array(False), np.array(True)]) == 1
    assert reference.taken_branch([np.array(True), np.array(True)]) == 0
    assert reference.taken_branch([np.array(False), np.array(False)]) == 2  # the default
    assert reference.taken_branch([np.array(False)]) == 1  # a cond's false branch


def test_run_checks_of_a_loop_pass_and_fail_on_a_wrong_trip_count(monkeypatch, target):
    spec = _loop_spec()
    assert run_checks(spec, target).ok
    monkeypatch.setattr(reference, "trip_count", lambda attrs: 1)
    outcome = run_checks(spec, target)
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome


def test_a_control_flow_repro_program_runs_and_the_shrinker_keeps_loops(capsys):
    from conformance.shrink import subgraph

    spec = next(s for s in drawn_control_specs() if s.inputs[-1].dtype == "bool")
    code = repro_code(spec)
    assert "tf.while_loop(" in code or "tf.cond(" in code or "tf.case(" in code
    exec(compile(code, "repro", "exec"), {})
    assert capsys.readouterr().out.startswith("[[")
    loop = next(
        v
        for v, where in enumerate(spec.producers())
        if where and spec.nodes[where[0]].op in CONTROL_OPS
    )
    small = subgraph(spec, loop)
    assert control_nodes(small.nodes) and len(small.nodes) <= len(spec.nodes)
    exec(compile(repro_code(small), "repro", "exec"), {})


def test_the_shrinker_simplifies_a_failing_loop(monkeypatch):
    """A loop whose reference is broken on purpose (one trip too many) shrinks to the loop alone:
    its body's dead node dropped, no maximum_iterations, one trip, no shape invariant."""
    from conformance.shrink import shrink

    spec = _loop_spec(trips=3, maximum_iterations=2)
    loop = spec.nodes[0]
    dead = Node("sin", (1,), {}, 1)  # local 2: unused; the multiply becomes local 3
    body = Body(2, (dead, Node("multiply", (0, 1), {}, 1)), (3,))
    spec.nodes = [replace(loop, attrs={**loop.attrs, "body": body})]
    monkeypatch.setattr(reference, "trip_count", lambda attrs: attrs["trips"] + 1)
    small, outcome = shrink(spec, log=lambda *a: None)
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome
    attrs = small.nodes[0].attrs
    assert [n.op for n in attrs["body"].nodes] == ["multiply"]
    assert attrs["body"].outputs == (2,)
    assert (attrs["trips"], attrs["maximum_iterations"], attrs["invariants"]) == (1, None, None)
    assert small.targets == () and small.api is False


# Control-flow seeds that fail for a bug another change is fixing (named in
# /tmp/notes/requests.md): strict xfails, so that a fix shows (the seed then loses its entry).
CONTROL_OPEN: dict = {}
CONTROL_SEEDS = range(20)


@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=CONTROL_OPEN[s]))
        if s in CONTROL_OPEN
        else s
        for s in CONTROL_SEEDS
    ],
)
def test_drawn_loops_and_branches_conform(seed, target):
    """Graphs with loops, conds and cases (nested, capturing, None-dim invariants), each variant
    in turn, gradients against finite differences: what the campaign's --control-flow draws."""
    from conformance.checks import draws_control_flow_pinned

    spec = draw_graph(
        RandomChooser(seed),
        seed=seed,
        entries=entries_for(target),
        variant=VARIANTS[seed % len(VARIANTS)],
        favour=target.favour,
        control_flow=CONTROL_PERCENT,
        control_on_pinned_devices=draws_control_flow_pinned(target),
    )
    outcome = outcome_isolated(spec, target.name)
    assert outcome.ok, (
        f"{outcome.status} in {outcome.category}: {outcome.detail}\n\n{spec.describe()}"
        f"\n\nrepro:\n{repro_code(spec, target)}"
    )


# ---- dense-layer chains: the CPU's GEMM fast paths (dense.py) ------------------------------------

# Shares of CONFORMANCE_EXAMPLES per dense variant: a chain compiles one to three GEMMs (a second
# each), an artifact chain a Session and an artifact (3-6 s): the default run holds 4 + 4 + 2 + 2.
DENSE_SHARE = {"session": 0.4, "codegen_threads": 0.4, "artifact_infer": 0.2, "artifact_train": 0.2}


@st.composite
def dense_chains(draw, variant):
    from conformance.dense import draw_dense

    seed = draw(st.integers(0, 2**31 - 1))
    return draw_dense(HypothesisChooser(draw), seed=seed, variant=variant)


@pytest.mark.parametrize("variant", sorted(DENSE_SHARE))
def test_dense_chains_conform(variant, target):
    """Dense-layer chains (matmul by a Variable, bias, relu/relu6, fan-out; None batches fed 0, 1
    and odd sizes; widths for the narrow kernels, the generated GEMM and its threaded one-row
    split) against numpy's values and gradients within their rounding bounds; the training
    variant's in-place artifact against a Session's SGD steps and numpy's."""
    from conformance.dense import dense_isolated, repro_code

    if target.name != "cpu":
        pytest.skip("the dense chains check the CPU's GEMM paths")
    _check_chains(dense_chains(variant), DENSE_SHARE[variant], dense_isolated, repro_code)


def _check_chains(chains, share: float, isolated, repro_code) -> None:
    """Hypothesis draws ``share`` of the conformance profile's examples from ``chains`` and runs
    each through ``isolated``; a failure shows the chain and its repro program."""
    profile = settings.get_profile("conformance")

    @settings(profile, max_examples=max(1, round(profile.max_examples * share)))
    @given(chains)
    def check(spec):
        outcome = isolated(spec)
        assert outcome.ok, (
            f"{outcome.status} in {outcome.category}: {outcome.detail}\n\n{spec.describe()}"
            f"\n\nrepro:\n{repro_code(spec)}"
        )

    check()


def _drawn_dense(count=300):
    from conformance.dense import draw_dense

    return [draw_dense(RandomChooser(seed), seed=seed) for seed in range(count)]


def test_dense_draws_reach_the_fast_paths():
    from conformance.dense import DENSE_VARIANTS

    specs = _drawn_dense()

    def has(pred):
        return sum(1 for s in specs if pred(s))

    def layers_with(s, pred):
        k, out = s.features, []
        for layer in s.layers:
            out.append(pred(k, layer))
            k = layer.units
        return any(out)

    def fed(s):
        return [x.shape[0] for x, _ in s.steps]

    assert {s.variant for s in specs} == set(DENSE_VARIANTS)
    assert has(lambda s: s.dtype == "float32") > 100 and has(lambda s: s.dtype == "float64") > 50
    assert has(lambda s: layers_with(s, lambda k, layer: 2 <= layer.units <= 16)) > 100  # narrow C
    assert has(lambda s: layers_with(s, lambda k, layer: 40 <= layer.units <= 60)) > 50
    assert has(lambda s: layers_with(s, lambda k, layer: layer.units == 1)) > 5  # a one-column C
    # the generated kernel by size (over 2^18 multiply-adds) and its threaded one-row split
    assert (
        has(lambda s: layers_with(s, lambda k, layer: k * layer.units * max(fed(s)) > 2**18)) > 30
    )
    gemv_split = has(
        lambda s: (
            s.threads == 2
            and 1 in fed(s)
            and layers_with(s, lambda k, layer: k * layer.units >= 2**17)
        )
    )
    assert gemv_split > 3
    assert has(lambda s: s.static_batch is None and 0 in fed(s)) > 10
    assert has(lambda s: s.static_batch is None and 1 in fed(s)) > 20
    assert has(lambda s: s.static_batch is None and any(n % 2 and n > 1 for n in fed(s))) > 50
    assert has(lambda s: s.static_batch is not None) > 30
    assert has(lambda s: len(set(fed(s))) > 1) > 20  # training batches of different sizes
    for attr, value in (
        ("activation", "relu"),
        ("activation", "relu6"),
        ("activation", "none"),
        ("bias", "bias_add"),
        ("bias", "add"),
        ("bias", "none"),
        ("fan_out", "product"),
        ("fan_out", "activation"),
        ("transpose_b", True),
    ):
        assert has(lambda s: any(getattr(layer, attr) == value for layer in s.layers)) > 30, value
    assert has(lambda s: len(s.layers) >= 2) > 100
    assert has(lambda s: not s.gradients) > 50  # inference: relu and relu6 fused into the GEMM


def _hand_dense(activation="relu6", bias="add", variant="session"):
    """One 4x3 layer on a batch of 2 whose products straddle relu6's clamp."""
    from conformance.dense import DenseSpec, Layer

    spec = DenseSpec(0, "float64", 4, None, (Layer(3, activation, bias, False, "none"),), variant)
    w = np.array([[1.0, -2.0, 3.0], [0.5, 1.0, 2.0], [-1.0, 0.5, 1.5], [2.0, 1.0, 1.0]])
    spec.params = [(w, np.array([0.25, -0.375, 1.0]) if bias != "none" else None)]
    x = np.array([[1.0, 2.0, -1.0, 0.5], [0.5, -1.0, 1.0, 2.0]])
    spec.steps = [(x, [np.array([[1.0, -1.0, 2.0], [0.5, 1.5, -2.0]])])]
    return spec


def test_dense_reference_and_bounds():
    from conformance import dense

    spec = _hand_dense()
    (x, (g,)), ((w, b),) = spec.steps[0], spec.params
    ref = dense.reference(spec, spec.params, x, [g])
    p = x @ w + b
    np.testing.assert_allclose(ref.products[0], p)
    assert p.max() > 6 and p.min() < 0  # both of relu6's kinks in play
    mask = (p > 0) & (p < 6)
    np.testing.assert_allclose(ref.loss, np.sum(np.clip(p, 0, 6) * g))
    np.testing.assert_allclose(ref.grads["w0"][0], x.T @ (g * mask))
    np.testing.assert_allclose(ref.grads["b0"][0], (g * mask).sum(axis=0))
    np.testing.assert_allclose(ref.grads["x"][0], (g * mask) @ w.T)
    for _, bound in ref.grads.values():  # float64 rounding: tiny, never zero
        assert 0 < bound.max() < 1e-12


def test_dense_checks_fail_on_a_wrong_number(monkeypatch):
    """A right tgc against a reference broken on purpose: each check says wrong."""
    from conformance import dense

    assert dense.run_dense(_hand_dense()).ok
    clamp_missing = dense._activate  # relu6 without its clamp at 6

    monkeypatch.setattr(
        dense, "_activate", lambda p, a: clamp_missing(p, "relu" if a == "relu6" else a)
    )
    outcome = dense.run_dense(_hand_dense())
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome
    monkeypatch.undo()
    monkeypatch.setattr(dense, "_mask", lambda p, a: np.ones_like(p))  # every gradient passed
    outcome = dense.run_dense(_hand_dense())
    assert (outcome.status, outcome.category) == ("wrong", "gradient"), outcome
    monkeypatch.undo()
    spec = _hand_dense(variant="artifact_train")
    spec.learning_rate = 2.0**-4
    spec.steps = spec.steps * 2
    assert dense.run_dense(spec).ok
    real = dense.sgd_reference

    def one_step_short(s):  # numpy's SGD without its last step's update
        losses = real(s)[0]
        return (losses, *real(replace(s, steps=s.steps[:-1]))[1:])

    monkeypatch.setattr(dense, "sgd_reference", one_step_short)
    outcome = dense.run_dense(spec)
    assert (outcome.status, outcome.category) == ("wrong", "artifact_train"), outcome


# ---- convolution chains: the CPU's conv paths (conv.py) ------------------------------------------

# Shares of CONFORMANCE_EXAMPLES per conv variant: a Session chain takes 0.5-3 s, an artifact one
# 2-5 s, a training one 3-13 s: the default run holds 3 + 3 + 1 + 1 (about 30 s on 2 shared cores).
CONV_SHARE = {"session": 0.3, "codegen_threads": 0.3, "artifact_infer": 0.1, "artifact_train": 0.1}


@st.composite
def conv_chains(draw, variant):
    from conformance.conv import draw_conv

    seed = draw(st.integers(0, 2**31 - 1))
    return draw_conv(HypothesisChooser(draw), seed=seed, variant=variant)


@pytest.mark.parametrize("variant", sorted(CONV_SHARE))
def test_conv_chains_conform(variant, target):
    """Conv chains (conv2d by a Variable of 1-5 kernels, strides, SAME/VALID, dilation, bias,
    relu, max/avg pool, fan-out, then a dense layer; None batches fed 0, 1 and odd sizes; shapes
    for the per-image im2col loops and the direct conv) against numpy's values and gradients
    within their rounding bounds; the training variant's in-place artifact against a Session's
    SGD steps and numpy's."""
    from conformance.conv import conv_isolated, repro_code

    if target.name != "cpu":
        pytest.skip("the conv chains check the CPU's conv paths")
    _check_chains(conv_chains(variant), CONV_SHARE[variant], conv_isolated, repro_code)


def test_conv_draws_reach_the_conv_paths():
    from conformance.conv import CONV_VARIANTS, draw_conv, paths

    specs = [draw_conv(RandomChooser(seed), seed=seed) for seed in range(300)]

    def has(pred):
        return sum(1 for s in specs if pred(s))

    def fed(s):
        return [x.shape[0] for x, _ in s.steps]

    assert {s.variant for s in specs} == set(CONV_VARIANTS)
    for path, least in (
        ("direct", 100),
        ("direct_filter_gradient", 50),
        ("per_image", 25),
        ("max_pool", 50),
        ("avg_pool", 30),
        ("dilation", 30),
        ("bias_relu", 50),
    ):
        assert has(lambda s: path in paths(s)) >= least, path
    assert has(lambda s: "per_image" in paths(s) and s.threads == 2) >= 10  # the threaded loops
    assert has(lambda s: s.dtype == "float64") > 50
    assert has(lambda s: s.static_batch is None and 0 in fed(s)) > 10
    assert has(lambda s: s.static_batch is None and 1 in fed(s)) > 20
    assert has(lambda s: any(n % 2 and n > 1 for n in fed(s))) > 50
    assert has(lambda s: s.static_batch is not None) > 30
    assert has(lambda s: len(s.layers) >= 2) > 100
    for fan_out in ("product", "activation"):
        assert has(lambda s: any(layer.fan_out == fan_out for layer in s.layers)) > 30
    assert has(lambda s: any(layer.strides != (1, 1) for layer in s.layers)) > 50
    assert has(lambda s: any(layer.padding == "VALID" for layer in s.layers)) > 50


def _hand_conv(pool="max", variant="session", dtype="float64"):
    """x [2, 6, 5, 2] through a 3x2 conv (stride (2, 1), SAME, bias, relu) and a 2x2 pool of stride
    1, then a 3x2 conv of dilation 2 (VALID, fanned out), then a dense layer of 2 units."""
    from conformance.conv import ConvLayer, ConvSpec, Pool

    layers = (
        ConvLayer((3, 2), 3, (2, 1), "SAME", 1, "add", "relu", Pool(pool, 2, 1, "SAME"), "none"),
        ConvLayer((2, 2), 2, (1, 1), "VALID", 2, "bias_add", "relu", None, "product"),
    )
    spec = ConvSpec(0, dtype, (6, 5, 2), None, layers, 2, True, variant)
    rng = np.random.default_rng(5)
    spec.params = [
        (rng.standard_normal((3, 2, 2, 3)), rng.uniform(-1, 1, 3)),
        (rng.standard_normal((2, 2, 3, 2)), rng.uniform(-1, 1, 2)),
    ]
    features = spec.flat_features()
    spec.params.append((rng.standard_normal((features, 2)), rng.uniform(-1, 1, 2)))
    spec.params = [(w.astype(dtype), b.astype(dtype)) for w, b in spec.params]
    x = rng.uniform(-2, 2, (2, 6, 5, 2)).astype(dtype)
    shapes = spec.shapes()
    weights = [rng.standard_normal((2, 2)), rng.standard_normal((2, *shapes[1][0]))]
    spec.steps = [(x, [w.astype(dtype) for w in weights])]
    return spec


def test_conv_reference_against_loops_and_finite_differences():
    """The numpy reference's conv against a plain loop over pixels and taps (TF's SAME padding:
    the odd pad after), and its gradients against central differences of its own loss."""
    from conformance import conv

    spec = _hand_conv()
    assert spec.shapes() == [((3, 5, 3), (3, 5, 3)), ((1, 3, 2), (1, 3, 2))]
    x, w = spec.steps[0][0], spec.params[0][0]
    xp = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])  # SAME: 6 rows stride 2 -> pad 1 after
    loops = np.zeros((2, 3, 5, 3))
    for n, i, j in np.ndindex(2, 3, 5):
        loops[n, i, j] = np.tensordot(xp[n, 2 * i : 2 * i + 3, j : j + 2], w, axes=3)
    win = conv.Window((3, 2), (2, 1), 1, "SAME", (6, 5))
    np.testing.assert_allclose(conv.conv(x, w, win), loops, rtol=1e-12)
    for pool in ("max", "avg"):
        spec = _hand_conv(pool)
        x, weights = spec.steps[0]
        ref = conv.reference(spec, spec.params, x, weights)
        rng = np.random.default_rng(1)
        for name in conv.grad_names(spec):
            grad, bound = ref.grads[name]
            assert 0 < bound.max() < 1e-11, name  # float64 rounding: tiny, never zero
            for index in [tuple(rng.integers(0, d) for d in grad.shape) for _ in range(3)]:
                fd = _central_difference(spec, name, index)
                np.testing.assert_allclose(grad[index], fd, rtol=1e-6, atol=1e-7, err_msg=name)


def _central_difference(spec, name, index, step=1e-6):
    from conformance import conv

    def loss(delta):
        params = [(w.copy(), b.copy()) for w, b in spec.params]
        x = spec.steps[0][0].copy()
        if name == "x":
            x[index] += delta
        else:
            layer = len(spec.layers) if name[1] == "d" else int(name[1:])
            params[layer][name[0] == "b"][index] += delta
        return conv.reference(spec, params, x, spec.steps[0][1]).loss

    return (loss(step) - loss(-step)) / (2 * step)


def test_conv_checks_fail_on_a_wrong_number(monkeypatch):
    """A right tgc against a reference broken on purpose: each check says wrong."""
    from conformance import conv

    for pool in ("max", "avg"):
        assert conv.run_conv(_hand_conv(pool)).ok
    real_conv = conv.conv

    def first_tap_dropped(x, w, win):
        w = w.copy()
        w[0, 0] = 0.0
        return real_conv(x, w, win)

    monkeypatch.setattr(conv, "conv", first_tap_dropped)
    outcome = conv.run_conv(_hand_conv())
    assert (outcome.status, outcome.category) == ("wrong", "forward"), outcome
    monkeypatch.undo()
    real_backward = conv.pool_backward
    monkeypatch.setattr(  # max-pool's gradient spread as avg-pool's
        conv, "pool_backward", lambda pool, *a: real_backward(replace(pool, kind="avg"), *a)
    )
    outcome = conv.run_conv(_hand_conv("max"))
    assert (outcome.status, outcome.category) == ("wrong", "gradient"), outcome
    monkeypatch.undo()
    spec = _hand_conv("avg", variant="artifact_train", dtype="float32")
    spec.learning_rate = 2.0**-6
    spec.steps = spec.steps * 2
    assert conv.run_conv(spec).ok
    real_sgd = conv.sgd_reference

    def one_step_short(s):  # numpy's SGD without its last step's update
        losses = real_sgd(s)[0]
        return (losses, *real_sgd(replace(s, steps=s.steps[:-1]))[1:])

    monkeypatch.setattr(conv, "sgd_reference", one_step_short)
    outcome = conv.run_conv(spec)
    assert (outcome.status, outcome.category) == ("wrong", "artifact_train"), outcome


def _racing_chain():
    """Campaign seed 281's chain reduced (findings-convfuzz.md C1): three plain convs, the
    second's sum also in the loss, on 2 threads; the first's filter gradient (3x2x22x1: K = 132,
    per-image im2col, summed in GRADIENT_PARTS parts) came out wrong in most runs."""
    from conformance.conv import ConvLayer, ConvSpec

    layers = (
        ConvLayer((3, 2), 1, (1, 1), "VALID", 1, "none", "none", None, "none"),
        ConvLayer((1, 5), 33, (2, 2), "VALID", 1, "none", "none", None, "product"),
        ConvLayer((1, 4), 1, (1, 1), "SAME", 1, "none", "none", None, "none"),
    )
    spec = ConvSpec(0, "float32", (26, 28, 22), None, layers, 4, False, "session", threads=2)
    rng = np.random.default_rng(3)
    c = 22
    for layer in layers:
        w = rng.standard_normal((*layer.kernel, c, layer.channels))
        spec.params.append(((w / np.sqrt(w[..., 0].size)).astype("float32"), None))
        c = layer.channels
    features = spec.flat_features()
    spec.params.append((rng.standard_normal((features, 4)).astype("float32") / 12, None))
    shapes = spec.shapes()
    x = rng.uniform(-2, 2, (7, 26, 28, 22)).astype("float32")
    weights = [rng.standard_normal((7, 4)), rng.standard_normal((7, *shapes[1][0]))]
    spec.steps = [(x, [w.astype("float32") for w in weights])]
    return spec


def test_conv_filter_gradient_per_image_on_two_threads():
    """Each part of the batch sums into its own row of the partials (conv_gemm.py's
    _filter_gradient_per_image): a zeroed accumulator of its own was hoisted out of the parts
    loop into one buffer shared by the threads' parts."""
    from conformance.conv import run_conv

    spec = _racing_chain()
    outcomes = [run_conv(spec) for _ in range(16)]  # wrong in 3-7 of 8 runs before the fix
    assert all(o.ok for o in outcomes), [o.detail[:200] for o in outcomes if not o.ok]


def test_conv_scratch_buffers_private_to_each_image_on_two_threads():
    """A dense layer's [1024, 16] result before a per-image im2col conv whose per-image GEMM
    result is also [1024, 16]: cse merged the two tensor.empty ops, and every image's GEMM wrote
    into the dense layer's one buffer while two threads ran images (tgc-private-loop-buffers)."""
    import tgc as tf

    rng = np.random.default_rng(0)
    x_value = rng.standard_normal((4, 32, 32, 16)).astype(np.float32)
    w_value = rng.standard_normal((3, 3, 16, 16)).astype(np.float32) / 12
    a_value = rng.standard_normal((1024, 5)).astype(np.float32)
    b_value = rng.standard_normal((5, 16)).astype(np.float32)
    graph = tf.Graph()
    with graph.as_default():
        a = tf.placeholder(tf.float32, [1024, 5])
        b = tf.placeholder(tf.float32, [5, 16])
        x = tf.placeholder(tf.float32, [4, 32, 32, 16])
        w = tf.placeholder(tf.float32, [3, 3, 16, 16])
        shifted = x + tf.reshape(tf.matmul(a, b), [1, 32, 32, 16])
        out = tf.nn.conv2d(shifted, w, [1, 1, 1, 1], "SAME")
    shifted_value = x_value + (a_value @ b_value).reshape(1, 32, 32, 16)
    padded = np.pad(shifted_value, [(0, 0), (1, 1), (1, 1), (0, 0)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    want = np.einsum("nhwcij,ijco->nhwo", windows, w_value)
    feed = {x: x_value, w: w_value, a: a_value, b: b_value}
    config = tf.ConfigProto(intra_op_parallelism_threads=2)
    with tf.Session(graph=graph, config=config) as sess:
        errors = [float(np.abs(sess.run(out, feed) - want).max()) for _ in range(16)]
    assert max(errors) < 1e-3, errors  # wrong in 1 to 8 of 8 runs before the pass
