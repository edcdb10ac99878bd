"""The random-graph suite's ``cluster`` variant (checks.py): drawn graphs (fan-out, broadcasting,
``None`` dims, several gradient targets, loops and conds) as ps/worker programs, their inputs on
the ps task and each op on the worker or the ps task of a local Ray cluster, agree with the
single-device Session, the numpy reference and finite differences. Skipped where Ray is not
installed; the long campaign is ``python benchmarks/random_graphs.py --variant cluster``."""

import numpy as np
import pytest

from conformance import checks
from conformance.generator import RandomChooser, draw_graph

pytest.importorskip("ray")

# Seeds drawn without and with control flow (15 % of the draws a loop, cond or case).
PLAIN_SEEDS = range(40, 48)
CONTROL_FLOW_SEEDS = range(1000, 1004)


@pytest.fixture(scope="module", autouse=True)
def cluster():
    yield checks.local_cluster()
    checks.close_local_cluster()


def _graph(seed: int, control_flow: int = 0):
    return draw_graph(RandomChooser(seed), seed=seed, variant="cluster", control_flow=control_flow)


def _spans_both_tasks(spec) -> bool:
    return {node.device for node in spec.nodes} == {0, 1}


@pytest.mark.parametrize("seed", PLAIN_SEEDS)
def test_drawn_graph_on_a_ps_and_a_worker_task(seed):
    outcome = checks.run_checks(_graph(seed), "cpu")
    assert outcome.status == "pass", outcome.detail
    assert outcome.category == "cluster"


@pytest.mark.parametrize("seed", CONTROL_FLOW_SEEDS)
def test_drawn_graph_with_control_flow_on_a_ps_and_a_worker_task(seed):
    spec = _graph(seed, control_flow=15)
    outcome = checks.run_checks(spec, "cpu")
    assert outcome.status == "pass", outcome.detail


def test_the_seeds_draw_what_the_variant_is_for():
    specs = [_graph(s) for s in PLAIN_SEEDS]
    assert sum(map(_spans_both_tasks, specs)) >= len(specs) // 2  # else hardly anything is sent
    assert any(None in i.static for spec in specs for i in spec.inputs)  # None dims
    assert any(i.kind == "variable" for spec in specs for i in spec.inputs)  # held by the ps task
    assert any(len(spec.targets) > 1 for spec in specs)  # several gradient targets


def test_a_wrong_number_from_the_cluster_is_found(monkeypatch):
    seed = next(s for s in PLAIN_SEEDS if _spans_both_tasks(_graph(s)))
    honest = checks.run_cluster

    def off_by_a_little(spec):
        result = honest(spec)
        result["forward"][0] = np.asarray(result["forward"][0]) * 1.01 + 0.01
        return result

    monkeypatch.setattr(checks, "run_cluster", off_by_a_little)
    outcome = checks.run_checks(_graph(seed), "cpu")
    assert outcome.status == "wrong"
    assert "against the Session" in outcome.detail
