"""Running an accel-level module in this process: each function's program on the simulator.

``load_in_process`` reads every public function into its program and host plan (program.py); the
executable of a function receives the tensors other partitions send it (through the run's
TransferHub), runs its programs on tgc.runtime.accel's Simulator, sends what other partitions wait
for and returns its results. The statistics of each function's last run (cycles per unit,
utilisation) are kept for ``last_stats``.
"""

from __future__ import annotations

import threading

import numpy as np

from tgc.errors import CompileError

_LAST_STATS: dict = {}  # function name -> the simulator's stats of its last run, per program
_STATS_LOCK = threading.Lock()


def last_stats(function: str | None = None) -> list | None:
    """The simulator's statistics of the last run of ``function`` (of any function when None):
    one per program it ran (usually one)."""
    with _STATS_LOCK:
        if function is not None:
            return _LAST_STATS.get(function)
        return _LAST_STATS.get(None)


def _record(function: str, stats) -> None:
    with _STATS_LOCK:
        _LAST_STATS[function] = stats
        _LAST_STATS[None] = stats


class AccelCode:
    """A module's programs; ``executable`` makes one function's callable."""

    def __init__(self, plans: dict, hub=None):
        self.plans = plans  # function name -> ([programs], host plan)
        self.hub = hub

    def executable(
        self, function: str, inputs: list, outputs: list, in_place=None, variables_from=None
    ):
        """``in_place`` and ``variables_from`` go unused: results come back as new arrays."""
        programs, host = self.plans[function]
        return ProgramRun(function, programs, host, [dtype for dtype, _ in outputs], self.hub)


class ProgramRun:
    """One function: receives, its programs on the simulator in turn, sends, results."""

    def __init__(self, name: str, programs: list, host: dict, output_dtypes: list, hub):
        from tgc.runtime.accel.machine import Machine
        from tgc.runtime.accel.program import ProgramError
        from tgc.runtime.accel.simulator import Simulator

        if any("recv" in step or "send" in step for step in host["steps"]) and hub is None:
            raise CompileError(f"{name} exchanges tensors with other partitions but has no hub")
        self.name, self.host, self.hub = name, host, hub
        self.output_dtypes = [np.dtype(d) for d in output_dtypes]
        machine = Machine().to_dict()
        try:
            self.simulators = [Simulator({"machine": machine, **p}) for p in programs]
        except ProgramError as exc:
            raise CompileError(
                f"the accel target made a program the machine refuses: {exc}"
            ) from None
        self._lock = threading.Lock()  # one run at a time: the allocations are the run's

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
            if self.simulators:
                _record(self.name, [simulator.stats for simulator in self.simulators])
            return [
                self._value(ref, values).astype(dtype, copy=False)
                for ref, dtype in zip(self.host["results"], self.output_dtypes)
            ]

    def _run_program(self, number: int, values: dict) -> None:
        """Device memory holds float32: a float64 tensor is narrowed on its way in (and widened
        on its way out, by _value)."""
        inputs = [
            np.ascontiguousarray(self._value(spec["source"], values), dtype=np.float32)
            for spec in self.host["programs"][number]["inputs"]
        ]
        outputs = self.simulators[number].run(inputs)
        for alloc, spec in enumerate(self.host["allocs"]):
            if spec["from"] is not None and spec["from"][0] == number:
                values["alloc"][alloc] = outputs[spec["from"][1]]

    def _value(self, ref: list, values: dict) -> np.ndarray:
        kind, index = ref
        if kind == "argument":
            return np.asarray(values["argument"][index])
        if kind == "received":
            return values["received"][index]
        spec = self.host["allocs"][index]
        if index not in values["alloc"]:  # no program writes it (an empty matmul)
            return np.zeros(**_of(spec))
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


def _of(spec: dict) -> dict:
    return {"shape": spec["shape"], "dtype": spec["dtype"]}


def load_programs(module, hub=None) -> AccelCode:
    """Reads each public function of an accel-level module into its program."""
    from tgc.lowering.accel.program import (
        ProgramError,
        function_name,
        public_functions,
        read_function,
    )

    plans = {}
    for function in public_functions(module):
        try:
            plans[function_name(function)] = read_function(function)
        except ProgramError as exc:
            raise CompileError(f"the accel target cannot run this graph: {exc}") from None
    return AccelCode(plans, hub)


def programs_json(module) -> str:
    """{function: {"programs": [...], "host": {...}}} of an accel-level module, as JSON text (the
    programs with their machine, as the simulator reads them)."""
    import json

    from tgc.runtime.accel.machine import Machine

    machine = Machine().to_dict()
    functions = {
        name: {"programs": [{"machine": machine, **p} for p in programs], "host": host}
        for name, (programs, host) in load_programs(module).plans.items()
    }
    return json.dumps(functions, indent=1) + "\n"
