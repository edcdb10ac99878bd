"""The host's part of an accelerator function: receive tensors, run its programs on the simulator,
send tensors, return results. numpy only: an artifact runs with this, without MLIR or the compiler.

A host plan (made by tgc/lowering/accel/program.py from a lowered function) is JSON::

    {"arguments": 2,                                    how many arguments the function takes
     "programs": [{"inputs": [{"source": ["argument", 0], "dtype": "float64"}, ...]}],
     "allocs": [{"shape": [4, 2], "dtype": "float64", "from": [0, 0]}],
     "steps": [{"recv": {"key": 3, "shape": [4, 3], "dtype": "float32"}},
               {"program": 0},
               {"send": {"key": 4, "source": ["alloc", 0], "dtype": "float64"}}],
     "results": [["alloc", 0]]}

A reference (``source``, a result) names an argument, a received tensor (by its key) or an
allocation; an allocation is the output ``[program, output]`` of a program, or zeros when no program
writes it (an empty matmul). Device memory holds float32: a float64 tensor is narrowed on its way in
to a program and widened on its way out (the matrix unit computes in bf16 anyway).

``check_host_plan`` says what is wrong with a plan before anything runs (an artifact's manifest may
have been edited); ``ProgramRun`` runs one.
"""

from __future__ import annotations

import threading

import numpy as np

from tgc.runtime.accel.machine import Machine
from tgc.runtime.accel.simulator import Simulator

REFERENCE_KINDS = ("argument", "received", "alloc")


class HostPlanError(ValueError):
    """A host plan that does not agree with itself or its programs; names the field."""


def check_host_plan(host: dict, simulators: list, field: str = "host") -> None:
    """Every reference in ``host`` points at something that exists and every program gets the
    inputs it takes: a damaged plan fails here, in one line naming the field, not in the middle
    of a run. ``simulators``: the function's programs, loaded."""
    received = {step["recv"]["key"] for step in host["steps"] if "recv" in step}
    outputs = [len(s.program.outputs) for s in simulators]

    def check_reference(ref, where: str) -> None:
        kind, index = ref
        valid = {
            "argument": isinstance(index, int) and 0 <= index < host["arguments"],
            "received": index in received,
            "alloc": isinstance(index, int) and 0 <= index < len(host["allocs"]),
        }
        if not valid.get(kind, False):
            raise HostPlanError(f"field '{where}': there is no {kind} {index}")

    if len(host["programs"]) != len(simulators):
        raise HostPlanError(
            f"field '{field}.programs': {len(host['programs'])} entries for "
            f"{len(simulators)} programs"
        )
    for number, (spec, simulator) in enumerate(zip(host["programs"], simulators)):
        takes = len(simulator.program.inputs)
        if len(spec["inputs"]) != takes:
            raise HostPlanError(
                f"field '{field}.programs[{number}].inputs': {len(spec['inputs'])} inputs, but "
                f"program {number} takes {takes}"
            )
        for position, source in enumerate(spec["inputs"]):
            check_reference(source["source"], f"{field}.programs[{number}].inputs[{position}]")
    for index, alloc in enumerate(host["allocs"]):
        if alloc["from"] is not None:
            number, output = alloc["from"]
            if not (0 <= number < len(simulators) and 0 <= output < outputs[number]):
                raise HostPlanError(
                    f"field '{field}.allocs[{index}].from': program {number} has no output {output}"
                )
    for position, step in enumerate(host["steps"]):
        if "program" in step and not 0 <= step["program"] < len(simulators):
            raise HostPlanError(
                f"field '{field}.steps[{position}].program': there is no program {step['program']}"
            )
        if "send" in step:
            check_reference(step["send"]["source"], f"{field}.steps[{position}].send.source")
    for position, ref in enumerate(host["results"]):
        check_reference(ref, f"{field}.results[{position}]")


def exchanges_tensors(host: dict) -> bool:
    """Whether the plan receives or sends tensors (it then needs a run's TransferHub)."""
    return any("recv" in step or "send" in step for step in host["steps"])


def simulators_of(programs: list, machine: dict | None = None) -> list:
    """A Simulator per program; ``machine`` (a Machine's dict), when given, is each program's
    machine unless the program names its own. Raises ProgramError for a program the machine
    refuses."""
    machine = machine if machine is not None else Machine().to_dict()
    return [Simulator({"machine": machine, **program}) for program in programs]


class ProgramRun:
    """One function: receives, its programs on the simulator in turn, sends, results.

    ``simulators``: its programs (``simulators_of``); ``hub``: the run's TransferHub, needed only
    when the plan sends or receives; ``on_run(stats)``: called after each run with the stats of
    its programs (the compiler keeps them for ``last_stats``)."""

    def __init__(
        self,
        name: str,
        simulators: list,
        host: dict,
        output_dtypes: list,
        hub=None,
        on_run=None,
    ):
        if exchanges_tensors(host) and hub is None:
            raise HostPlanError(f"{name} exchanges tensors with other partitions but has no hub")
        self.name, self.host, self.hub, self.on_run = name, host, hub, on_run
        self.simulators = simulators
        self.output_dtypes = [np.dtype(d) for d in output_dtypes]
        self._lock = threading.Lock()  # one run at a time: the allocations are the run's

    @property
    def stats(self) -> list:
        """The simulator's statistics of each program (known before any run: the timing depends
        on the program only)."""
        return [simulator.stats for simulator in self.simulators]

    def __call__(self, *arrays) -> list:
        with self._lock:
            values = {"argument": arrays, "received": {}, "alloc": {}}
            for step in self.host["steps"]:
                if "recv" in step:
                    values["received"][step["recv"]["key"]] = self._receive(step["recv"])
                elif "program" in step:
                    self._run_program(step["program"], values)
                else:
                    self._send(step["send"], values)
            if self.simulators and self.on_run is not None:
                self.on_run(self.name, self.stats)
            return [
                self._result(ref, values, dtype)
                for ref, dtype in zip(self.host["results"], self.output_dtypes)
            ]

    def _run_program(self, number: int, values: dict) -> None:
        """Device memory holds float32: a float64 tensor is narrowed on its way in (and widened
        on its way out, by _value). np.asarray with order="C", not np.ascontiguousarray, which
        makes a 0-d tensor 1-d."""
        inputs = [
            np.asarray(self._value(spec["source"], values), dtype=np.float32, order="C")
            for spec in self.host["programs"][number]["inputs"]
        ]
        outputs = self.simulators[number].run(inputs)
        for alloc, spec in enumerate(self.host["allocs"]):
            if spec["from"] is not None and spec["from"][0] == number:
                values["alloc"][alloc] = outputs[spec["from"][1]]

    def _result(self, ref: list, values: dict, dtype: np.dtype) -> np.ndarray:
        """A result of the function's dtype, in a buffer of its own: two results of one
        allocation, or an argument passed through (a variable's value), must not share one."""
        return np.array(self._value(ref, values), dtype=dtype)

    def _value(self, ref: list, values: dict) -> np.ndarray:
        kind, index = ref
        if kind == "argument":
            return np.asarray(values["argument"][index])
        if kind == "received":
            return values["received"][index]
        spec = self.host["allocs"][index]
        if index not in values["alloc"]:  # no program writes it (an empty matmul)
            return np.zeros(spec["shape"], spec["dtype"])
        return np.asarray(values["alloc"][index]).astype(spec["dtype"], copy=False)

    def _send(self, send: dict, values: dict) -> None:
        value = self._value(send["source"], values).astype(send["dtype"], copy=False)
        self.hub.current.send(send["key"], value)

    def _receive(self, recv: dict) -> np.ndarray:
        from tgc.runtime import errors

        rendezvous = self.hub.current
        value = rendezvous.recv(recv["key"])
        if value is None:  # the run was aborted (another partition failed, a deadlock)
            raise rendezvous.error
        value = np.asarray(value)
        shape = recv["shape"] if recv["shape"] is not None else list(value.shape)
        if list(value.shape) != shape or value.dtype != np.dtype(recv["dtype"]):
            raise errors.InvalidArgumentError(
                None,
                None,
                f"{self.name}: the tensor received as "
                f"'{rendezvous.keys.get(recv['key'], recv['key'])}' is {value.dtype} of shape "
                f"{list(value.shape)}, but the function was compiled for {recv['dtype']} of "
                f"shape {recv['shape']}",
            )
        return value


__all__ = [
    "HostPlanError",
    "ProgramRun",
    "check_host_plan",
    "exchanges_tensors",
    "simulators_of",
]
