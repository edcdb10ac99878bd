"""The accel dialect: the accelerator's instructions as MLIR ops, declared once here.

Each op of the registry below is one instruction of the program the simulator runs
(tgc/runtime/accel, the format in docs/accel-machine.md): its operands are the device-memory tensors
(memrefs) it moves, its attributes the tile regions and on-chip buffer offsets. The IRDL text of the
dialect is generated from the registry (``dialect_irdl``) and loaded into a context on demand, as
the tgc dialect is (tgc/dialect/irdl.py); ops print in MLIR's generic form.

A DMA moves a box of a tensor of any rank: per dim a ``begin`` (negative, or past the end, with a
``fill``), a ``count`` and a ``step`` (0: the dim broadcast); an optional ``perm`` orders the box's
dims into the tile's (a transposing load). Optional attributes are not in the IRDL (it has no
optional attributes): ``read`` checks them.

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
    "indices": "#builtin.dense_array",  # one integer per dim of a tensor (a DMA's box)
    "shape": "#builtin.dense_array",  # rows x cols of a tile in the buffer
    "dtype": "#builtin.string",  # "float32" or "bfloat16"
    "name": "#builtin.string",  # a vector function's name
    "float": "#builtin.float",  # a value (a DMA's fill)
    "integer": "#builtin.integer",  # a number (a reduction's axis)
    "tile": "#builtin.dense_array",  # [at, rows, cols] of a float32 tile in the buffer
    "operand": None,  # a vector operand: a tile ([at, rows, cols]) or a float (every element)
}


@dataclasses.dataclass(frozen=True)
class AccelOp:
    name: str
    summary: str
    operands: tuple  # names of memref operands (device-memory tensors)
    attrs: dict  # name -> kind (a key of _KINDS)
    optional: dict = dataclasses.field(default_factory=dict)  # attributes that may be absent


OPS = {
    op.name: op
    for op in (
        AccelOp(
            "dma_load",
            "copies a box of a device-memory tensor (begin, count, step per dim; perm; fill "
            "outside the tensor) into the tile at `to`",
            ("source",),
            {"begin": "indices", "count": "indices", "step": "indices", "to": "offset"},
            {"perm": "indices", "fill": "float"},
        ),
        AccelOp(
            "dma_store",
            "copies the tile at `from` into a box of a device-memory tensor",
            ("target",),
            {"begin": "indices", "count": "indices", "step": "indices", "from": "offset"},
            {"perm": "indices"},
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
            "fill",
            "vector unit: sets every element of a float32 tile to `value`",
            (),
            {"at": "offset", "shape": "shape", "value": "float"},
        ),
        AccelOp(
            "unary",
            "vector unit: to = fn(x), elementwise (fn: exp, tanh, relu, ...)",
            (),
            {"fn": "name", "x": "operand", "to": "tile"},
        ),
        AccelOp(
            "binary",
            "vector unit: to = fn(lhs, rhs), elementwise; an operand may be a row, a column or a "
            "number, broadcast",
            (),
            {"fn": "name", "lhs": "operand", "rhs": "operand", "to": "tile"},
        ),
        AccelOp(
            "select",
            "vector unit: to = cond != 0 ? lhs : rhs, elementwise",
            (),
            {"cond": "operand", "lhs": "operand", "rhs": "operand", "to": "tile"},
        ),
        AccelOp(
            "reduce",
            "vector unit: to = fn(to, fn of `from` along axis): [1, cols] for axis 0, [rows, 1] "
            "for axis 1",
            (),
            {"fn": "name", "axis": "integer", "from": "tile", "to": "tile"},
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
        base = _KINDS[op.attrs[key]]
        lines.append(f"    %a_{key} = " + (f'irdl.base "{base}"' if base else "irdl.any"))
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
    if kind == "operand":
        kind = "float" if isinstance(value, (int, float)) else "tile"
    if kind in ("offset", "integer"):
        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(value))
    if kind in ("indices", "shape", "tile"):
        return ir.DenseI64ArrayAttr.get([int(v) for v in value])
    if kind == "float":
        return ir.FloatAttr.get(ir.F64Type.get(), float(value))
    return ir.StringAttr.get(str(value))


def box(rows, cols) -> dict:
    """The DMA box of a 2-D tensor's rows x cols, each [begin, end)."""
    return {
        "begin": [rows[0], cols[0]],
        "count": [rows[1] - rows[0], cols[1] - cols[0]],
        "step": [1, 1],
    }


def create(name: str, operands=(), **attrs) -> ir.Operation:
    """An accel op at the current insertion point; ``attrs`` as Python values (an attribute named
    like a Python keyword takes a trailing underscore: ``from_``). A DMA of a 2-D tensor may give
    ``rows`` and ``cols`` ([begin, end) each) for its box."""
    op = OPS[name]
    given = {key.rstrip("_"): value for key, value in attrs.items() if value is not None}
    if name in ("dma_load", "dma_store") and "rows" in given:
        given.update(box(given.pop("rows"), given.pop("cols")))
    missing, unknown = set(op.attrs) - set(given), set(given) - set(op.attrs) - set(op.optional)
    if missing or unknown:
        raise ValueError(
            f"accel.{name} takes {sorted(op.attrs)} (optional: {sorted(op.optional)}), "
            f"got {sorted(given)}"
        )
    if len(operands) != len(op.operands):
        raise ValueError(f"accel.{name} takes {len(op.operands)} operands, got {len(operands)}")
    kinds = {**op.attrs, **op.optional}
    return ir.Operation.create(
        f"{DIALECT}.{name}",
        operands=list(operands),
        attributes={key: _attribute(kinds[key], value) for key, value in given.items()},
    )


def _value(kind: str, attr: ir.Attribute):
    if kind == "operand":
        kind = "float" if isinstance(attr, ir.FloatAttr) else "tile"
    if kind in ("offset", "integer"):
        return ir.IntegerAttr(attr).value
    if kind in ("indices", "shape", "tile"):
        return list(ir.DenseI64ArrayAttr(attr))
    if kind == "float":
        return ir.FloatAttr(attr).value
    return ir.StringAttr(attr).value


def read(operation) -> dict:
    """The attributes of an accel op as Python values (its optional ones when present)."""
    op = OPS[operation.name.removeprefix(f"{DIALECT}.")]
    values = {key: _value(kind, operation.attributes[key]) for key, kind in op.attrs.items()}
    for key, kind in op.optional.items():
        if key in operation.attributes:
            try:
                values[key] = _value(kind, operation.attributes[key])
            except ValueError:
                raise ValueError(
                    f"{operation.name}: attribute '{key}' must be a {_KINDS[kind]}, "
                    f"got {operation.attributes[key]}"
                ) from None
    return values


def is_accel_op(operation) -> bool:
    return operation.name.startswith(f"{DIALECT}.")
