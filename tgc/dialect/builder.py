"""Builds tgc ops in MLIR from the registry: what gradient and decomposition rules write with.

``b.matmul(x, y, transpose_b=True)`` creates a ``tgc.matmul`` whose result type comes from the
registry's result rule, at the builder's insertion point and location. Values are wrapped in ``Val``
so that rules can read ``.shape`` and ``.dtype`` as they would on a frontend tensor.
"""

from __future__ import annotations

import numpy as np
from mlir import ir

from tgc.dialect import attrs as attr_codec
from tgc.dialect.registry import REGISTRY, VARIADIC_SLOTS, ShapeError, lookup
from tgc.dialect.types import TensorSpec, numpy_dtype


class Val:
    """An SSA value with its TensorSpec."""

    __slots__ = ("value", "spec")

    def __init__(self, value: ir.Value, spec: TensorSpec | None = None):
        self.value = value
        self.spec = spec or attr_codec.spec_of_type(value.type)

    @property
    def shape(self) -> tuple:
        return self.spec.shape

    @property
    def dtype(self) -> str:
        return self.spec.dtype

    def __repr__(self) -> str:
        return f"Val({self.spec.mlir_text()})"


class OpInfo:
    """A tgc op as rules see it: wrapped inputs and outputs and decoded attributes."""

    def __init__(self, operation: ir.Operation):
        self.operation = operation
        self.opdef = lookup(operation.name)
        self.inputs = [Val(v) for v in operation.operands]
        self.outputs = [Val(v) for v in operation.results]
        self.attrs = decode_attrs(operation, self.opdef)


def decode_attrs(operation: ir.Operation, opdef=None) -> dict:
    opdef = opdef or lookup(operation.name)
    present = operation.attributes
    return {
        k: attr_codec.decode(spec.kind, present[k])
        for k, spec in opdef.attrs.items()
        if k in present
    }


def encode_attrs(opdef, values: dict) -> dict:
    return {k: attr_codec.encode(opdef.attrs[k].kind, v) for k, v in values.items()}


class IRBuilder:
    """Creates tgc ops before ``anchor`` (an ir.Operation) or at an insertion point, at ``loc``."""

    def __init__(self, ip: ir.InsertionPoint, loc: ir.Location, device: ir.Attribute | None = None):
        self.ip = ip
        self.loc = loc
        self.device = device  # a requested device the created ops inherit
        # When set, each created op's location: namer(its TF type) (tgc-autodiff's backward ops
        # get TF's gradient names this way: tgc/dialect/gradient_names.py).
        self.namer = None

    @classmethod
    def before(cls, operation: ir.Operation) -> "IRBuilder":
        """Builds in place of ``operation``: its location, and its requested device if it has
        one."""
        device = operation.attributes["device"] if "device" in operation.attributes else None
        return cls(ir.InsertionPoint(operation), operation.location, device)

    def op(self, name: str, *operands, **attrs):
        opdef = REGISTRY[name]
        values = [self._as_val(v) for v in operands]
        full = opdef.complete_attrs(attrs)
        specs = opdef.result_specs([v.spec for v in values], full)
        attributes = encode_attrs(opdef, full)
        if opdef.operands == "variadic":  # IRDL's optional operands: which slots are present
            attributes["operandSegmentSizes"] = _present_slots(len(values), opdef.tf_type)
        created = ir.Operation.create(
            opdef.mlir_name,
            results=[attr_codec.tensor_type(s) for s in specs],
            operands=[v.value for v in values],
            attributes=attributes,
            loc=self.loc if self.namer is None else self.namer(opdef.tf_type),
            ip=self.ip,
        )
        if self.device is not None:
            created.attributes["device"] = self.device
        outs = [Val(r, s) for r, s in zip(created.results, specs)]
        return outs[0] if len(outs) == 1 else outs

    def __getattr__(self, name: str):
        if name in REGISTRY:
            return lambda *operands, **attrs: self.op(name, *operands, **attrs)
        raise AttributeError(name)

    def _as_val(self, v) -> Val:
        if isinstance(v, Val):
            return v
        if isinstance(v, ir.Value):
            return Val(v)
        raise TypeError(f"expected an IR value but got {type(v).__name__}")

    # ---- helpers every rule uses ---------------------------------------------------------------

    def constant(self, value, like: Val | None = None, dtype: str | None = None) -> Val:
        """A scalar or array constant, in ``like``'s dtype when given."""
        dtype = dtype or (like.dtype if like is not None else None)
        array = np.asarray(value, dtype=numpy_dtype(dtype) if dtype else None)
        return self.op("constant", value=array)

    def zeros_like(self, x: Val) -> Val:
        return self.op("fill_like", x, value=0.0)

    def ones_like(self, x: Val) -> Val:
        return self.op("fill_like", x, value=1.0)

    def unbroadcast(self, g: Val, x: Val) -> Val:
        """Sum ``g`` (the gradient of a broadcast result) back down to ``x``'s shape.

        Leading axes that x lacks are summed away; axes where x has size 1 and g does not are summed
        with keepdims. An unknown dim of x may turn out to be 1 at run time: ``unbroadcast_like``
        sums those then (lowered to nothing where the dims are equal by construction).
        """
        lead = len(g.shape) - len(x.shape)
        ones = [lead + i for i, d in enumerate(x.shape) if d == 1 and g.shape[lead + i] != 1]
        axes = list(range(lead)) + ones
        summed = g
        if axes:
            summed = self.op("reduce_sum", g, axes=axes, keepdims=True)
            if lead:
                summed = self.op("squeeze", summed, axes=list(range(lead)))
        if any(d is None and e != 1 for d, e in zip(x.shape, summed.shape)):
            summed = self.op("unbroadcast_like", summed, x)  # x's unknown dims may be 1 at run time
        return summed


def _present_slots(count: int, tf_type: str) -> ir.Attribute:
    """The segment sizes of ``count`` operands among an op's VARIADIC_SLOTS optional ones."""
    if count > VARIADIC_SLOTS:
        raise ShapeError(f"{tf_type} takes at most {VARIADIC_SLOTS} tensors, not {count}")
    return ir.DenseI32ArrayAttr.get([1] * count + [0] * (VARIADIC_SLOTS - count))
