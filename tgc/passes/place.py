"""tgc-place: gives every tgc op a device, as TensorFlow's placer does.

Runs after the graph passes, before tgc-partition. Rules, in order:
1. a variable and all its reads and assigns share one device (colocation), the one its declaration
   (else its assigns) requests, among the devices whose target runs every one of those ops (an
   accelerator that cannot apply an optimizer's update does not get the variable);
2. an op's requested device (from `tgc.device` scopes, full or partial: `/job:ps/task:0`, `/gpu:0`,
   `/device:CPU:1`) restricts it to the matching available devices;
3. only devices whose target can run the op qualify (the target registry, tgc/dialect/targets.py:
   by name, or by the op's types for a target that says so); a target that compiles static shapes
   only (the GPU's, the accelerator's) does not get an op with an operand or result of unknown
   dims (a loop's or a cond's result whose shape is known at run time only) when another device
   can run it: such an op goes to the CPU, and partitioning makes the transfers (a single-target
   compile keeps it, and the target's lowering says which tensor lacks a shape);
   with ``soft`` (TensorFlow's allow_soft_placement) a request no device satisfies is dropped
   instead; a run-time check (tgc.assert) requested on a device that cannot run it goes to a CPU
   of the requested job and task, as TF's GPU Assert reads its inputs from host memory;
4. among what remains, the white paper's greedy heuristic: the device where the op would finish
   first, counting its estimated compute time (the op's registry cost rule at its target's speed)
   and the transfer of inputs that live on other devices (over the target's link).
A request that no available device satisfies is an error naming the op, its request and the devices.
"""

from __future__ import annotations

import dataclasses

from mlir import ir

from tgc.dialect import costs, targets
from tgc.dialect.attrs import spec_of_type
from tgc.dialect.builder import decode_attrs
from tgc.dialect.devices import DEFAULT_DEVICE, DeviceSpec, full_device_name, matches
from tgc.dialect.ir_helpers import (
    accesses_variable,
    assigns_variable,
    body_ops,
    declares_variable,
    functions,
    is_tgc_op,
    opdef_of,
)
from tgc.passes.base import ModulePass


def _bytes(value: ir.Value) -> int:
    return costs.nbytes(spec_of_type(value.type))


def estimated_flops(operation) -> float:
    """The registry's cost rule of the op (every op has one), on its types; an unknown dim counts
    as costs.UNKNOWN_DIM_GUESS."""
    opdef = opdef_of(operation)
    operands = [_known_dims(spec_of_type(v.type)) for v in operation.operands]
    results = [_known_dims(spec_of_type(v.type)) for v in operation.results]
    return float(opdef.flops(operands, results, decode_attrs(operation, opdef)))


def _known_dims(spec):
    """The spec with each unknown dim counted as costs.UNKNOWN_DIM_GUESS, as the cost rules
    expect."""
    shape = tuple(costs.UNKNOWN_DIM_GUESS if d is None else d for d in spec.shape)
    return type(spec)(shape, spec.dtype)


def _can_run(operation, device: DeviceSpec) -> bool:
    target = targets.for_device_type(device.device_type)
    opdef = opdef_of(operation)
    return target is not None and opdef is not None and target.can_place(operation, opdef.name)


def _unknown_shape(operation, named: bool = False) -> str:
    """'operand 0 is tensor<2x?xf32>' (with ``named``: "operand 0 of 'tgc.read' is ...") for the
    first operand or result of ``operation`` of unknown dims or rank, else ''."""
    for kind, values in (("operand", operation.operands), ("result", operation.results)):
        for i, value in enumerate(values):
            type_ = value.type
            if isinstance(type_, ir.ShapedType) and not ir.ShapedType(type_).has_static_shape:
                whose = f" of '{operation.name}'" if named else ""
                return f"{kind} {i}{whose} is {type_}"
    return ""


def _shape_refusal(members, device: DeviceSpec) -> str:
    """Why ``device`` cannot take the ops ``members`` for their shapes ('' when it can): its target
    compiles static shapes only (its kernels are compiled for one shape of every tensor) and one
    of them has a tensor of unknown dims."""
    target = targets.for_device_type(device.device_type)
    if target is None or not target.static_shapes:
        return ""
    for op in members:
        unknown = _unknown_shape(op, named=len(members) > 1)
        if unknown:
            return f"target {target.name} compiles static shapes only and {unknown}"
    return ""


# Run-time checks (tf.Assert, tf.debugging.assert_*, the argument checks of tf.range, tf.fill,
# gather_nd, image crops, ...) requested on a device that cannot run them run on a CPU of the same
# task, their condition and data sent there, with no soft placement needed: TF's GPU kernel of
# Assert takes its inputs in host memory, so a check under tf.device('/gpu:0') does too.
_HOST_CHECKS = ("tgc.assert",)


class _Placer:
    def __init__(self, pass_, devices, soft=False):
        self.pass_ = pass_
        self.devices = devices  # [(full name, DeviceSpec)]
        self.soft = soft  # allow_soft_placement: an unsatisfiable request falls back to any device

    def candidates(self, operation, requests, group=()):
        """The devices ``operation`` may go to, given its ``requests``; with ``group`` (the ops
        colocated with it: a variable's declaration, reads and assigns), only devices that run
        every op of the group."""
        members = list(group) or [operation]
        kinds_ok = [(n, d) for n, d in self.devices if all(_can_run(op, d) for op in members)]
        if not kinds_ok:
            self.pass_.fail(
                operation,
                f"no available device can run '{operation.name}'{_with_group(members)} "
                f"({self._targets()} does not run it); available: {self._names()}",
            )
        # An unknown dim keeps the op off static-shape targets while another device can run it; a
        # compile for such a target alone keeps it there, and the lowering names the tensor.
        runnable = [(n, d) for n, d in kinds_ok if not _shape_refusal(members, d)] or kinds_ok
        chosen = runnable
        for text in requests:
            request = DeviceSpec.from_string(text)
            narrowed = [(n, d) for n, d in chosen if matches(request, d)]
            if not narrowed and operation.name in _HOST_CHECKS:
                request = dataclasses.replace(request, device_type=None, device_index=None)
                narrowed = [(n, d) for n, d in chosen if matches(request, d)]
            if not narrowed and self.soft:
                continue
            chosen = narrowed
            if not chosen:
                self.pass_.fail(
                    operation,
                    f"cannot place '{operation.name}' on requested device '{text}': "
                    f"available devices that can run it{_with_group(members)} are "
                    f"{[n for n, _ in runnable]}{self._refusals(members, request)}"
                    f"{self._shape_refusals(members, request)}",
                )
        return chosen

    def _refusals(self, members, request) -> str:
        """Which colocated ops the requested devices cannot run (why a variable is refused)."""
        requested = [d for _, d in self.devices if matches(request, d)]
        refused = sorted({op.name for op in members for d in requested if not _can_run(op, d)})
        if len(members) < 2 or not refused or not requested:
            return ""
        return f" ('{requested[0].device_type}' does not run {', '.join(map(repr, refused))})"

    def _shape_refusals(self, members, request) -> str:
        """Why the requested devices do not take the ops for their shapes ('' when they would)."""
        requested = [d for _, d in self.devices if matches(request, d)]
        reasons = [r for r in (_shape_refusal(members, d) for d in requested) if r]
        return f" ({reasons[0]})" if reasons else ""

    def _names(self):
        return [n for n, _ in self.devices]

    def _targets(self) -> str:
        """The targets of the available devices, as the user picks them (`--target NAME`)."""
        found = {targets.for_device_type(d.device_type) for _, d in self.devices}
        names = sorted(t.name for t in found if t is not None)
        return "target " + ", ".join(names) if names else "no target"


def _with_group(members) -> str:
    """ " with its reads and assigns" when the op stands for a colocated group."""
    return " with its reads and assigns" if len(members) > 1 else ""


def _requested(operation) -> str:
    return (
        ir.StringAttr(operation.attributes["device"]).value
        if "device" in operation.attributes
        else ""
    )


def _set_device(operation, name: str) -> None:
    operation.attributes["device"] = ir.StringAttr.get(name)


@dataclasses.dataclass(frozen=True)
class PlacePass(ModulePass):
    """Assigns a device to every tgc op (scopes, colocation, kernels, then a cost model)."""

    name = "tgc-place"
    devices: tuple = (DEFAULT_DEVICE,)
    soft: bool = False

    def run(self, module: ir.Module) -> None:
        devices = [
            (full_device_name(d), DeviceSpec.from_string(full_device_name(d))) for d in self.devices
        ]
        placer = _Placer(self, devices, self.soft)
        variables = self._place_variables(module, placer)
        for function in functions(module):
            self._place_function(function, placer, variables)

    def _variable_members(self, module) -> dict:
        members: dict = {}
        for op in module.body.operations:
            if declares_variable(op):
                members.setdefault(decode_attrs(op.operation)["sym_name"], []).append(op.operation)
        for function in functions(module):
            for op in body_ops(function):
                if accesses_variable(op):
                    members.setdefault(decode_attrs(op)["var"], []).append(op)
        return members

    def _place_variables(self, module, placer) -> dict:
        """Colocation: one device per variable. The declaration's request decides (else its
        assigns'); reads made under another device scope are colocated anyway, and their value
        travels to their consumers, as TensorFlow's `read_value` identity does."""
        placed = {}
        for name, ops in self._variable_members(module).items():
            decl = [op for op in ops if declares_variable(op)]
            writers = [op for op in ops if assigns_variable(op)]
            deciding = decl if decl and _requested(decl[0]) else writers
            requests = [r for r in (_requested(op) for op in deciding) if r]
            anchor = next((op for op in deciding if _requested(op)), ops[0])
            device = placer.candidates(anchor, requests, group=ops)[0][0]
            for op in ops:
                _set_device(op, device)
            placed[name] = device
        return placed

    def _place_function(self, function, placer, variables) -> None:
        ready = {name: 0.0 for name, _ in placer.devices}
        finish: dict = {}  # value -> (device, time)
        for op in body_ops(function):
            if not is_tgc_op(op):
                continue
            if accesses_variable(op):
                device = variables[decode_attrs(op)["var"]]
                options = [(device, None)]
            else:
                options = placer.candidates(op, [r for r in [_requested(op)] if r])
            flops = estimated_flops(op)
            # Earliest finish wins; ties go to the device listed first.
            end, _, device = min(
                (self._finish_time(op, name, ready, finish, flops), i, name)
                for i, (name, _) in enumerate(options)
            )
            ready[device] = end
            _set_device(op, device)
            for r in op.results:
                finish[r] = (device, end)

    @staticmethod
    def _finish_time(op, device, ready, finish, flops) -> float:
        """When ``op`` would finish on ``device``: once the device is free and every input has
        arrived (over the device's link when it lives elsewhere), plus its compute time at the
        device's speed. Both rates come from the device's target."""
        target = targets.for_device_type(DeviceSpec.from_string(device).device_type)
        start = ready[device]
        for v in op.operands:
            if v in finish:
                src, t = finish[v]
                if src != device:
                    t += target.transfer_seconds(_bytes(v))
                start = max(start, t)
        return start + flops / target.flops_per_second
