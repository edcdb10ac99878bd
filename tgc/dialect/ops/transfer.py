"""Transfers between devices: ``tgc.send`` and ``tgc.recv``, inserted by the tgc-partition pass.

A send hands a tensor to the runtime's rendezvous under a key naming the tensor and both devices;
the recv with the same key on the destination device receives it. ``key_id`` is the key's index in
the module, which is how compiled code names it. Both are stateful: never folded, merged or removed.
"""

from __future__ import annotations

from tgc.dialect.costs import no_flops
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, ShapeError, op
from tgc.dialect.shapes import spec

_KEY_ATTRS = {
    "key": Attr("str"),
    "key_id": Attr("int"),
    "src_device": Attr("str"),
    "dst_device": Attr("str"),
}


class TransferOutsideRun(RuntimeError):
    pass


@op(
    "send",
    tf_type="_Send",
    operands=("value",),
    results=0,
    stateful=True,
    attrs=dict(_KEY_ATTRS),
    traits=("transfer",),
)
class Send:
    """Hands ``value`` to the destination device's matching recv (TensorFlow's `_Send`)."""

    flops = no_flops

    def infer(value, key, key_id, src_device, dst_device):
        if src_device == dst_device:
            raise ShapeError(
                f"send '{key}' has the same source and destination device {src_device}"
            )
        return []

    def eval(value, key, key_id, src_device, dst_device):
        raise TransferOutsideRun(
            f"tgc.send '{key}' has effect only inside a partitioned run (the rendezvous)"
        )

    grad = NOT_DIFFERENTIABLE


@op(
    "recv",
    tf_type="_Recv",
    stateful=True,
    attrs=dict(_KEY_ATTRS, shape=Attr("ints"), dtype=Attr("dtype")),
    traits=("transfer",),
)
class Recv:
    """Receives the tensor sent under ``key`` (TensorFlow's `_Recv`); -1 in ``shape`` is an unknown
    dim."""

    flops = no_flops

    def infer(key, key_id, src_device, dst_device, shape, dtype):
        return spec(tuple(None if d < 0 else d for d in shape), dtype)

    def eval(key, key_id, src_device, dst_device, shape, dtype):
        raise TransferOutsideRun(
            f"tgc.recv '{key}' has a value only inside a partitioned run (the rendezvous)"
        )

    grad = NOT_DIFFERENTIABLE
