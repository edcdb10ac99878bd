"""The host's part of an accelerator function (tgc/runtime/accel/host_plan.py): its programs run in
turn on the simulator, float64 narrowed on the way in and widened on the way out, results in
buffers of their own; a plan whose references point nowhere is refused naming the field."""

import numpy as np
import pytest

from tgc.runtime.accel.host_plan import (
    HostPlanError,
    ProgramRun,
    check_host_plan,
    simulators_of,
)


def _copy_program(shape: list) -> dict:
    """One DMA in, one DMA out: the output is the input (float32, as device memory holds)."""
    box = {"begin": [0] * len(shape), "count": list(shape), "step": [1] * len(shape)}
    return {
        "tensors": [
            {"shape": shape, "dtype": "float32", "kind": "input", "index": 0},
            {"shape": shape, "dtype": "float32", "kind": "output", "index": 0},
        ],
        "buffer_bytes": 4 * int(np.prod(shape)),
        "instructions": [
            {"op": "dma_load", "tensor": 0, **box, "to": 0, "waits": []},
            {"op": "dma_store", "tensor": 1, **box, "from": 0, "waits": [0]},
        ],
    }


def _copy_plan(shape: list, dtype: str = "float64") -> dict:
    """argument 0 -> program 0 -> alloc 0, returned twice; alloc 1 written by nothing."""
    return {
        "arguments": 1,
        "programs": [{"inputs": [{"source": ["argument", 0], "dtype": dtype}]}],
        "allocs": [
            {"shape": shape, "dtype": dtype, "from": [0, 0]},
            {"shape": [2], "dtype": dtype, "from": None},
        ],
        "steps": [{"program": 0}],
        "results": [["alloc", 0], ["alloc", 0], ["alloc", 1], ["argument", 0]],
    }


def _run(shape, value, dtype="float64", on_run=None):
    simulators = simulators_of([_copy_program(shape)])
    plan = _copy_plan(shape, dtype)
    check_host_plan(plan, simulators)
    run = ProgramRun("f", simulators, plan, [dtype] * 4, on_run=on_run)
    return run(value)


def test_float64_is_narrowed_to_float32_in_device_memory_and_widened_back():
    value = np.full((2, 3), 1 / 3)
    first, second, zeros, passed = _run([2, 3], value)
    assert first.dtype == np.float64
    np.testing.assert_array_equal(first, np.float32(1 / 3))  # float32's 1/3, not float64's
    assert first[0, 0] != 1 / 3
    np.testing.assert_array_equal(zeros, np.zeros(2))  # no program writes it
    np.testing.assert_array_equal(passed, value)


def test_a_scalar_stays_a_scalar():
    first, _, _, passed = _run([], np.float64(2.5))
    assert first.shape == () and first == 2.5 and passed.shape == ()


def test_each_result_is_a_buffer_of_its_own():
    value = np.ones((2, 3))
    first, second, _, passed = _run([2, 3], value)
    first[0, 0] = 7
    assert second[0, 0] == 1  # two results of one allocation
    passed[0, 0] = 7
    assert value[0, 0] == 1  # an argument passed through (a variable's value)


def test_each_run_reports_its_programs_statistics():
    seen = []
    _run([2, 3], np.ones((2, 3)), on_run=lambda name, stats: seen.append((name, stats)))
    [(name, [stats])] = seen
    assert name == "f" and stats.dma_bytes_in == 24 and stats.dma_bytes_out == 24


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda p: p["results"].append(["alloc", 2]),
            "field 'host.results[4]': there is no alloc 2",
        ),
        (
            lambda p: p["results"].append(["argument", 1]),
            "field 'host.results[4]': there is no argument 1",
        ),
        (
            lambda p: p["results"].append(["received", 9]),
            "field 'host.results[4]': there is no received 9",
        ),
        (
            lambda p: p["programs"][0]["inputs"].append(p["programs"][0]["inputs"][0]),
            "field 'host.programs[0].inputs': 2 inputs, but program 0 takes 1",
        ),
        (
            lambda p: p["allocs"][0].update({"from": [0, 1]}),
            "field 'host.allocs[0].from': program 0 has no output 1",
        ),
        (
            lambda p: p["steps"].append({"program": 1}),
            "field 'host.steps[1].program': there is no program 1",
        ),
        (
            lambda p: p["programs"].append({"inputs": []}),
            "field 'host.programs': 2 entries for 1 programs",
        ),
        (
            lambda p: p["steps"].append(
                {"send": {"key": 1, "source": ["alloc", 5], "dtype": "float64"}}
            ),
            "field 'host.steps[1].send.source': there is no alloc 5",
        ),
    ],
)
def test_a_plan_pointing_nowhere_is_refused_naming_the_field(edit, message):
    plan = _copy_plan([2, 3])
    edit(plan)
    with pytest.raises(HostPlanError) as caught:
        check_host_plan(plan, simulators_of([_copy_program([2, 3])]))
    assert str(caught.value) == message


def test_a_plan_that_exchanges_tensors_needs_a_hub():
    plan = _copy_plan([2, 3])
    plan["steps"].append({"send": {"key": 1, "source": ["alloc", 0], "dtype": "float64"}})
    simulators = simulators_of([_copy_program([2, 3])])
    with pytest.raises(HostPlanError, match="^f exchanges tensors with other partitions but"):
        ProgramRun("f", simulators, plan, ["float64"] * 4)
