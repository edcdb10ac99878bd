"""tgc-partition: cuts each placed function into one function per device, joined by send/recv pairs.

Runs after tgc-place. Every cut edge gets one ``tgc.send`` on the producing device and one
``tgc.recv`` on the consuming device — one pair per (tensor, destination device), however many
consumers — keyed ``tensor;source device;destination device``. A control edge between devices
(``control_deps``) becomes a pair carrying a token, keyed ``^op;source;destination``, sent after the
op runs and received before the dependent op. Each partition takes all of the original function's
arguments (the host feeds every device) and returns the fetches it computes; ``tgc.device``,
``tgc.partition_of`` and ``tgc.fetch_indices`` on each partition tell the runtime how to run them
and put the results back in order. Ops keep their program order, so every partition sends before
anything that waits on it can be needed, and a DAG cannot deadlock.
"""

from __future__ import annotations

import dataclasses

from mlir import ir
from mlir.dialects import func

from tgc.dialect.attrs import encode, spec_of_type
from tgc.dialect.ir_helpers import body_ops, defining_op, functions, has_body, is_tgc_op
from tgc.passes.base import ModulePass


def op_device(operation) -> str:
    return (
        ir.StringAttr(operation.attributes["device"]).value
        if "device" in operation.attributes
        else ""
    )


def op_name(operation) -> str:
    """The graph name of an op, from its name location."""
    text = str(operation.location)
    return text[5:].split('"', 1)[0] if text.startswith('loc("') else operation.name


def control_deps(operation) -> list:
    if "control_deps" not in operation.attributes:
        return []
    return [ir.StringAttr(a).value for a in ir.ArrayAttr(operation.attributes["control_deps"])]


def tensor_name(value: ir.Value) -> str:
    """``scope/Op:index`` from the producing op's name location, as TensorFlow names tensors."""
    operation = defining_op(value)
    index = list(operation.results).index(value) if len(operation.results) > 1 else 0
    return f"{op_name(operation)}:{index}"


class _Partitions:
    """The per-device functions being built, and the transfers made so far."""

    def __init__(self, module, original):
        self.module = module
        self.original = original
        self.ftype = ir.FunctionType(ir.TypeAttr(original.attributes["function_type"]).value)
        self.blocks: dict = {}
        self.functions: dict = {}
        self.received: dict = {}  # (value, device) -> value on that device
        self.signalled: set = set()  # (op name, device) pairs whose control edge is already carried
        self.next_key = 0

    def block(self, device: str):
        if device not in self.blocks:
            name = (
                f"{ir.StringAttr(self.original.attributes['sym_name']).value}_p{len(self.blocks)}"
            )
            with ir.InsertionPoint(self.original), self.original.location:
                fn = func.FuncOp(name, ir.FunctionType.get(list(self.ftype.inputs), []))
            fn.attributes["tgc.device"] = ir.StringAttr.get(device)
            fn.attributes["tgc.partition_of"] = ir.StringAttr.get(
                ir.StringAttr(self.original.attributes["sym_name"]).value
            )
            fn.attributes["llvm.emit_c_interface"] = ir.UnitAttr.get()
            self.functions[device] = fn
            self.blocks[device] = fn.add_entry_block()
        return self.blocks[device]

    def value_on(self, value: ir.Value, device: str, producers: dict) -> ir.Value:
        """``value`` as seen on ``device``: an argument of its function, local, or a recv."""
        if isinstance(value.owner, ir.Block):
            return self.block(device).arguments[value.arg_number]
        source = producers[value]
        if source == device:
            return value
        if (value, device) not in self.received:
            self.received[(value, device)] = self._transfer(value, source, device)
        return self.received[(value, device)]

    def control_edge(self, producer, source: str, device: str, loc) -> None:
        """Makes ``device`` wait until ``producer`` has run on ``source``: a token sent right after
        it."""
        name = op_name(producer)
        if (name, device) in self.signalled:
            return
        self.signalled.add((name, device))
        from tgc.dialect.builder import IRBuilder

        token = IRBuilder(ir.InsertionPoint.after(producer), loc).constant(0, dtype="int32")
        token.value.owner.attributes["device"] = encode("str", source)
        self._transfer(token.value, source, device, key_name=f"^{name}")

    def _transfer(self, value, source: str, device: str, key_name: str | None = None) -> ir.Value:
        key = f"{key_name or tensor_name(value)};{source};{device}"
        key_id = self.next_key
        self.next_key += 1
        common = {
            "key": encode("str", key),
            "key_id": encode("int", key_id),
            "src_device": encode("str", source),
            "dst_device": encode("str", device),
        }
        producer = defining_op(value)
        loc = producer.location
        # The send goes right after its producer, never later: a send queued behind a recv of the
        # same device could wait on a device that waits on it (a deadlock).
        ir.Operation.create(
            "tgc.send",
            results=[],
            operands=[value],
            attributes=dict(common, device=encode("str", source)),
            loc=loc,
            ip=ir.InsertionPoint.after(producer),
        )
        spec = spec_of_type(value.type)
        recv_attrs = dict(
            common,
            shape=encode("ints", [-1 if d is None else d for d in spec.shape]),
            dtype=encode("dtype", spec.dtype),
            device=encode("str", device),
        )
        recv = ir.Operation.create(
            "tgc.recv",
            results=[value.type],
            operands=[],
            attributes=recv_attrs,
            loc=loc,
            ip=ir.InsertionPoint(self.block(device)),
        )
        return recv.results[0]


@dataclasses.dataclass(frozen=True)
class PartitionPass(ModulePass):
    """Splits each placed function into per-device functions joined by tgc.send/tgc.recv pairs."""

    name = "tgc-partition"

    def run(self, module: ir.Module) -> None:
        for function in functions(module):
            if "tgc.partition_of" in function.attributes or not has_body(function):
                continue
            self._partition(module, function)

    def _partition(self, module, function) -> None:
        if not any(is_tgc_op(op) for op in body_ops(function)):
            self._single(function)  # nothing to place: the function is its own only partition
            return
        parts = _Partitions(module, function)
        producers: dict = {}
        ops = body_ops(function)
        by_name = {op_name(op): op for op in ops[:-1]}
        for op in ops[:-1]:
            device = op_device(op)
            if not device:
                self.fail(op, f"'{op.name}' has no device; run tgc-place before tgc-partition")
            for name in control_deps(op):
                producer = by_name.get(name)  # a dependency that folding removed has no effect left
                if producer is not None and op_device(producer) != device:
                    parts.control_edge(producer, op_device(producer), device, op.location)
            block = parts.block(device)
            new_operands = [parts.value_on(v, device, producers) for v in op.operands]
            _append(block, op)
            for i, v in enumerate(new_operands):
                if op.operands[i] != v:
                    op.operands[i] = v
            for r in op.results:
                producers[r] = device
        self._returns(parts, ops[-1], producers)
        function.erase()

    @staticmethod
    def _single(function) -> None:
        from tgc.dialect.devices import DEFAULT_DEVICE

        function.attributes["tgc.device"] = ir.StringAttr.get(DEFAULT_DEVICE)
        function.attributes["tgc.partition_of"] = function.attributes["sym_name"]
        results = ir.FunctionType(ir.TypeAttr(function.attributes["function_type"]).value).results
        function.attributes["tgc.fetch_indices"] = ir.DenseI64ArrayAttr.get(
            list(range(len(results)))
        )

    def _returns(self, parts, ret, producers) -> None:
        """Each partition returns the fetches computed on it; a fetched argument goes to the
        first."""
        per_device: dict = {}
        devices = list(parts.blocks) or [""]
        for index, value in enumerate(ret.operands):
            device = devices[0] if isinstance(value.owner, ir.Block) else producers[value]
            per_device.setdefault(device, []).append((index, value))
        for device in devices:
            if not device:
                continue
            block = parts.block(device)
            fetched = per_device.get(device, [])
            values = [parts.value_on(v, device, producers) for _, v in fetched]
            with ir.InsertionPoint(block), ret.location:
                func.ReturnOp(values)
            fn = parts.functions[device]
            fn.attributes["function_type"] = ir.TypeAttr.get(
                ir.FunctionType.get(list(parts.ftype.inputs), [v.type for v in values])
            )
            fn.attributes["tgc.fetch_indices"] = ir.DenseI64ArrayAttr.get([i for i, _ in fetched])


def _append(block, operation) -> None:
    """Moves ``operation`` to the end of ``block`` (which has no terminator yet)."""
    if len(block.operations):
        operation.move_after(block.operations[len(block.operations) - 1])
    else:
        operation.detach_from_parent()
        block.append(operation)
