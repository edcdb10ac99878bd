"""Running an accel-level module in this process: each function's program on the simulator.

``load_in_process`` reads every public function into its programs and host plan (program.py); the
executable of a function is the runtime's ProgramRun (tgc/runtime/accel/host_plan.py, what an
artifact runs too): it receives the tensors other partitions send it (through the run's
TransferHub), runs its programs on tgc.runtime.accel's Simulator, sends what other partitions wait
for and returns its results. The statistics of each function's last run (cycles per unit,
utilisation) are kept for ``last_stats``.
"""

from __future__ import annotations

import threading

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


def all_last_stats() -> dict:
    """{function name: the simulator's statistics of its last run, per program} of every function
    run since the last ``clear_stats`` (a Session step runs one per accelerator partition)."""
    with _STATS_LOCK:
        return {name: stats for name, stats in _LAST_STATS.items() if name is not None}


def clear_stats() -> None:
    """Forgets the statistics of earlier runs (before a step whose programs are to be summed)."""
    with _STATS_LOCK:
        _LAST_STATS.clear()


def _record(function: str, stats: list) -> None:
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
        from tgc.runtime.accel.host_plan import HostPlanError, ProgramRun, simulators_of
        from tgc.runtime.accel.program import ProgramError

        programs, host = self.plans[function]
        try:
            simulators = simulators_of(programs)
            return ProgramRun(
                function,
                simulators,
                host,
                [dtype for dtype, _ in outputs],
                self.hub,
                on_run=_record,
            )
        except ProgramError as exc:
            raise CompileError(
                f"the accel target made a program the machine refuses: {exc}"
            ) from None
        except HostPlanError as exc:
            raise CompileError(str(exc)) from None


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
