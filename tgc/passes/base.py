"""What every tgc pass is: a frozen dataclass with a kebab-case name whose fields are its options.

``run(module)`` mutates the module in place and leaves it verified. A pass reports a user-facing
problem with ``fail(operation, message)``: the message carries the op's location (scope name and the
user's file:line), and the pipeline turns it into one PassFailure.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import ClassVar

from mlir import ir


class PassFailure(Exception):
    """A pass could not do its job; ``diagnostics`` are (location, message) pairs."""

    def __init__(self, pass_name: str, diagnostics: list):
        self.pass_name = pass_name
        self.diagnostics = diagnostics
        lines = [f"{loc}: error: {msg}" for loc, msg in diagnostics]
        super().__init__(f"pass '{pass_name}' failed:\n" + "\n".join(lines))


@dataclasses.dataclass(frozen=True)
class ModulePass(abc.ABC):
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def run(self, module: ir.Module) -> None:
        """Mutates ``module`` in place and leaves it verified."""

    def fail(self, operation, message: str):
        raise PassFailure(self.name, [(format_location(operation.location), message)])

    def spec(self) -> str:
        """The pass as it is written in a pipeline string, options included."""
        options = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                if isinstance(value, bool):
                    text = "true" if value else "false"  # as MLIR writes boolean options
                elif isinstance(value, (list, tuple)):
                    text = ",".join(map(str, value))
                else:
                    text = str(value)
                options.append(f"{field.name.replace('_', '-')}={text}")
        return self.name + ("{" + " ".join(options) + "}" if options else "")


def format_location(loc: ir.Location) -> str:
    """``file:line:col: scope/op`` from our fused name-over-file locations (printed nested)."""
    text = str(loc)
    # loc("scores/MatMul"("model.py":12:0)) -> model.py:12:0: 'scores/MatMul'
    if text.startswith('loc("') and '"("' in text:
        name, rest = text[5:].split('"("', 1)
        file_part, _, tail = rest.partition('":')
        numbers = tail.rstrip(")")
        return f"{file_part}:{numbers}: '{name}'"
    if text.startswith('loc("') and '":' in text:
        file_part, _, tail = text[5:].partition('":')
        return f"{file_part}:{tail.rstrip(')')}"
    return text
