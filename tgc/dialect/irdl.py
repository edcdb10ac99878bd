"""Generates the IRDL definition of the tgc dialect from the registry and loads it into contexts.

IRDL cannot say everything (element types, broadcasting, variadic shapes): ``verify.py`` checks
those in Python from the same registry. Each operand and result gets its own constraint variable,
because an IRDL variable binds one type per op instance.
"""

from __future__ import annotations

from functools import lru_cache

from tgc.dialect.registry import ATTR_KINDS, VARIADIC_SLOTS, load_all_ops


def _operation_irdl(opdef) -> list[str]:
    lines = [f"  irdl.operation @{opdef.name} {{"]
    names = []
    if opdef.operands == "variadic":
        # IRDL binds one type per constraint variable, so one `variadic` group would make every
        # operand the same type: up to VARIADIC_SLOTS optional operands instead, each of its own
        # type (the op's operandSegmentSizes says which are present, 1s then 0s).
        for i in range(VARIADIC_SLOTS):
            lines.append(f'    %in{i} = irdl.base "!builtin.tensor"')
            names.append(f"in{i}: optional %in{i}")
    else:
        for i, _ in enumerate(opdef.operands):
            lines.append(f'    %in{i} = irdl.base "!builtin.tensor"')
            names.append(f"{_}: %in{i}")
    attr_entries = []
    for key, attr in opdef.attrs.items():
        lines.append(f'    %a_{key} = irdl.base "{ATTR_KINDS[attr.kind]}"')
        attr_entries.append(f'"{key}" = %a_{key}')
    if attr_entries:
        lines.append("    irdl.attributes { " + ", ".join(attr_entries) + " }")
    if names:
        lines.append("    irdl.operands(" + ", ".join(names) + ")")
    if opdef.results == "variadic" and opdef.operands == "variadic":  # as the operands
        outs = []
        for i in range(VARIADIC_SLOTS):
            lines.append(f'    %out{i} = irdl.base "!builtin.tensor"')
            outs.append(f"out{i}: optional %out{i}")
        lines.append("    irdl.results(" + ", ".join(outs) + ")")
    elif opdef.results == "variadic":
        lines.append('    %out = irdl.base "!builtin.tensor"')
        lines.append("    irdl.results(outs: variadic %out)")
    elif opdef.results:
        outs = []
        for i in range(opdef.results):
            lines.append(f'    %out{i} = irdl.base "!builtin.tensor"')
            outs.append(f"out{i}: %out{i}")
        lines.append("    irdl.results(" + ", ".join(outs) + ")")
    lines.append("  }")
    return lines


@lru_cache(maxsize=1)
def dialect_irdl() -> str:
    """The whole dialect as IRDL text, ops sorted by name (stable across runs)."""
    registry = load_all_ops()
    lines = [
        "// The tgc dialect, generated from tgc/dialect/ops by `tgc dialect --irdl`.",
        "irdl.dialect @tgc {",
    ]
    for name in sorted(registry):
        lines.extend(_operation_irdl(registry[name]))
    lines.append("}")
    return "\n".join(lines) + "\n"


def load_dialect(context) -> None:
    """Loads the tgc dialect into ``context`` once (loading twice aborts the process)."""
    from mlir import ir
    from mlir.dialects import irdl

    if context.is_registered_operation("tgc.add"):
        return
    _no_python_module("tgc")
    with context:
        irdl.load_dialects(ir.Module.parse(dialect_irdl()))


def _no_python_module(namespace: str) -> None:
    """Tells MLIR's Python bindings that the IRDL dialect ``namespace`` has no Python module of
    ops: they look for ``mlir.dialects.<namespace>`` whenever they wrap one of its ops and remember
    only a module they found, so each tgc op wrapped cost a failed import (813 on the first run of
    the two-layer SGD step, about 20 ms). An empty module is found once and remembered."""
    import sys
    import types

    name = f"mlir.dialects.{namespace}"
    if name not in sys.modules:
        sys.modules[name] = types.ModuleType(
            name, f"tgc: the {namespace} dialect has no op classes"
        )
