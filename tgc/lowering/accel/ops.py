"""The accel dialect: the accelerator's instructions as MLIR ops, declared once here.

Each op of the registry below is one instruction of the program the simulator runs
(tgc/runtime/accel, the format in docs/accel-machine.md): its operands are the device-memory tensors
(memrefs) it moves, its attributes the tile regions and on-chip buffer offsets. The IRDL text of the
dialect is generated from the registry (``dialect_irdl``) and loaded into a context on demand, as
the tgc dialect is (tgc/dialect/irdl.py); ops print in MLIR's generic form.

Buffer regions are attributes, not SSA values: the on-chip buffer is one software-managed array and
tgc-accel-tile-matmul assigns its byte offsets; the dependencies between instructions are derived
from those regions when the program is written (program.py).
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

from mlir import ir

DIALECT = "accel"

# Attribute kinds -> the IRDL base constraint and how a Python value becomes the attribute.
_KINDS = {
    "offset": "#builtin.integer",  # a byte offset in the on-chip buffer
    "range": "#builtin.dense_array",  # [begin, end) of rows or cols of a device-memory tensor
    "shape": "#builtin.dense_array",  # rows x cols of a tile in the buffer
    "dtype": "#builtin.string",  # "float32" or "bfloat16"
}


@dataclasses.dataclass(frozen=True)
class AccelOp:
    name: str
    summary: str
    operands: tuple  # names of memref operands (device-memory tensors)
    attrs: dict  # name -> kind (a key of _KINDS)


OPS = {
    op.name: op
    for op in (
        AccelOp(
            "dma_load",
            "copies rows x cols of a device-memory tensor into the buffer at `to` (row-major)",
            ("source",),
            {"rows": "range", "cols": "range", "to": "offset"},
        ),
        AccelOp(
            "dma_store",
            "copies the tile at `from` into rows x cols of a device-memory tensor",
            ("target",),
            {"rows": "range", "cols": "range", "from": "offset"},
        ),
        AccelOp(
            "cast",
            "vector unit: converts a tile between float32 and bfloat16 (round to nearest even)",
            (),
            {
                "from_at": "offset",
                "from_dtype": "dtype",
                "to_at": "offset",
                "to_dtype": "dtype",
                "shape": "shape",
            },
        ),
        AccelOp(
            "zero",
            "vector unit: fills a float32 tile (an accumulator) with zeros",
            (),
            {"at": "offset", "shape": "shape"},
        ),
        AccelOp(
            "matmul",
            "matrix unit: acc (M x N, f32) += lhs (M x K, bf16) . rhs (K x N, bf16, the weights)",
            (),
            {
                "lhs_at": "offset",
                "lhs_shape": "shape",
                "rhs_at": "offset",
                "rhs_shape": "shape",
                "acc_at": "offset",
                "acc_shape": "shape",
            },
        ),
    )
}


def _operation_irdl(op: AccelOp) -> list:
    lines = [f"  irdl.operation @{op.name} {{"]
    for key in op.attrs:
        lines.append(f'    %a_{key} = irdl.base "{_KINDS[op.attrs[key]]}"')
    entries = ", ".join(f'"{key}" = %a_{key}' for key in op.attrs)
    lines.append(f"    irdl.attributes {{ {entries} }}")
    if op.operands:
        for name in op.operands:
            lines.append(f'    %{name} = irdl.base "!builtin.memref"')
        lines.append("    irdl.operands(" + ", ".join(f"{n}: %{n}" for n in op.operands) + ")")
    lines.append("  }")
    return lines


@lru_cache(maxsize=1)
def dialect_irdl() -> str:
    """The accel dialect as IRDL text, ops sorted by name."""
    lines = [
        "// The accel dialect, generated from tgc/lowering/accel/ops.py.",
        f"irdl.dialect @{DIALECT} {{",
    ]
    for name in sorted(OPS):
        lines.extend(_operation_irdl(OPS[name]))
    lines.append("}")
    return "\n".join(lines) + "\n"


def load_dialect(context: ir.Context) -> None:
    """Loads the accel dialect into ``context`` once (loading twice aborts the process)."""
    from mlir.dialects import irdl

    if context.is_registered_operation(f"{DIALECT}.matmul"):
        return
    with context:
        irdl.load_dialects(ir.Module.parse(dialect_irdl()))


def _attribute(kind: str, value) -> ir.Attribute:
    if kind == "offset":
        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))
    if kind in ("range", "shape"):
        return ir.DenseI64ArrayAttr.get([int(v) for v in value])
    return ir.StringAttr.get(str(value))


def create(name: str, operands=(), **attrs) -> ir.Operation:
    """An accel op at the current insertion point; ``attrs`` as Python values (an attribute named
    like a Python keyword takes a trailing underscore: ``from_``)."""
    op = OPS[name]
    given = {key.rstrip("_"): value for key, value in attrs.items()}
    if set(given) != set(op.attrs):
        raise ValueError(f"accel.{name} takes {sorted(op.attrs)}, got {sorted(given)}")
    if len(operands) != len(op.operands):
        raise ValueError(f"accel.{name} takes {len(op.operands)} operands, got {len(operands)}")
    return ir.Operation.create(
        f"{DIALECT}.{name}",
        operands=list(operands),
        attributes={key: _attribute(op.attrs[key], given[key]) for key in op.attrs},
    )


def read(operation) -> dict:
    """The attributes of an accel op as Python values."""
    op = OPS[operation.name.removeprefix(f"{DIALECT}.")]
    values = {}
    for key, kind in op.attrs.items():
        attr = operation.attributes[key]
        if kind == "offset":
            values[key] = ir.IntegerAttr(attr).value
        elif kind in ("range", "shape"):
            values[key] = list(ir.DenseI64ArrayAttr(attr))
        else:
            values[key] = ir.StringAttr(attr).value
    return values


def is_accel_op(operation) -> bool:
    return operation.name.startswith(f"{DIALECT}.")
