"""The TPU-like accelerator of the runtime: its machine model, its programs and their simulator.

numpy only. docs/accel-machine.md describes the machine, the program format and the timing model.
"""

from tgc.runtime.accel.machine import Machine
from tgc.runtime.accel.program import Program, ProgramError, load_program, program_to_dict
from tgc.runtime.accel.simulator import (
    InputError,
    Simulator,
    Stats,
    from_bfloat16_bits,
    to_bfloat16_bits,
)

__all__ = [
    "InputError",
    "Machine",
    "Program",
    "ProgramError",
    "Simulator",
    "Stats",
    "from_bfloat16_bits",
    "load_program",
    "program_to_dict",
    "to_bfloat16_bits",
]
