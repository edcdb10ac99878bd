"""The target registry: every kind of device tgc compiles for, by name.

A target is one package under tgc/lowering/ (the CPU's is tgc/lowering/cpu/) that declares a
``Target``: the device type it serves (``CPU``, ``GPU``, ``ACCEL``), its speed and link for the
placer's cost model, the ops it can run, the pipeline that takes a module from the core level to
code, how that code is loaded in-process, and the artifact format it writes. Placement, the driver
and the CLI ask this registry; none of them names a target's modules.

The registry lives on the ground floor so that the target-neutral passes (placement) can consult it;
it imports no target: the built-in ones are imported by module path on first lookup, and a test or a
plugin adds its own with ``register``.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import threading
from importlib import import_module

# Module paths of the built-in targets; importing one registers its Target.
BUILTIN_TARGETS = ("tgc.lowering.cpu", "tgc.lowering.nvptx", "tgc.lowering.accel")


class UnknownTargetError(ValueError):
    """A target name or device type that no registered target serves."""


@dataclasses.dataclass(frozen=True)
class Target(abc.ABC):
    """What the compiler needs to know of one kind of device."""

    name: str  # the name users give: `tgc compile --target NAME`
    device_type: str  # the device kind of TensorFlow's device names: CPU, GPU, ACCEL
    flops_per_second: float  # the placer's estimate of one device's speed
    link_bytes_per_second: float  # of a transfer into or out of one device
    link_latency_seconds: float
    artifact_format: str  # the manifest's "format" of what `tgc compile` writes for it
    runtime_loader: str  # "module:function" that loads such an artifact (numpy and ctypes only)
    description: str = ""
    # The stages after the core level that `tgc compile --emit` can stop at, in order; the last
    # writes the artifact directory.
    artifact_stages: tuple = ()
    # The target's own pass classes: `tgc opt` runs them by their pipeline names.
    passes: tuple = ()
    # Its code is compiled for one shape of every tensor (a GPU kernel's grid is sized at compile
    # time): a Session and @tgc.jit compile once per combination of fed shapes.
    static_shapes: bool = False
    # The names of the target's own MLIR dialects (the prefix of their ops), which load_dialects
    # loads: `tgc opt` loads them for an input that uses them.
    dialects: tuple = ()

    @abc.abstractmethod
    def supported_ops(self) -> frozenset:
        """Registry op names a device of this target can run (before tgc-to-core)."""

    @abc.abstractmethod
    def pipeline_elements(self, *, for_session: bool) -> list:
        """core -> code, as pipeline elements: tgc pass objects and upstream pass texts.
        ``for_session``: the in-process variant, which may update variables in place."""

    @abc.abstractmethod
    def load_in_process(self, module, functions: list, symbols: dict, hub=None, devices=None):
        """Compiles a lowered module in this process. ``symbols`` (name -> ctypes function) are
        provided to its code; ``hub`` is the run's TransferHub (which those symbols call), for code
        that exchanges tensors without them; ``devices``: function -> the full name of the device
        its partition was placed on. Returns an object whose ``executable(function,
        inputs, outputs, in_place, variables_from)`` is a callable ``(*arrays) -> [arrays]``
        (``inputs``/``outputs``: numpy dtype and rank of each; ``in_place``: output index -> input
        index it may be written into; ``variables_from``: the outputs from there on are assigned
        variables, which a device may keep in its memory as array-likes until the next run)."""

    @abc.abstractmethod
    def resolve_machine(self, machine):
        """The machine code is generated for (an aot Machine), with the host's values filled in."""

    @abc.abstractmethod
    def code_generation(self, machine, options) -> str:
        """How code is made after the pipeline, as `tgc compile --print-pipeline` shows it."""

    @abc.abstractmethod
    def emit_stages(self, module, lowered, stop: str, options) -> None:
        """After this target's pipeline: fills ``lowered.stages`` from the target's code level up
        to ``stop`` (one of ``artifact_stages``)."""

    @abc.abstractmethod
    def write_artifact(self, lowered, options, directory: str) -> str:
        """Writes the artifact directory of a lowering that reached the last stage."""

    def load_dialects(self, context) -> None:
        """Loads the target's own MLIR dialects (those named in ``dialects``) into ``context``,
        for a tool that parses IR holding their ops."""

    def available_devices(self) -> int | None:
        """How many devices of this target the machine has; None: as many as a session asks for
        (the host's cores serve any number of logical CPU devices)."""
        return None

    def pass_table(self) -> dict:
        """Its passes as the pass registry lists them: name -> (module, class)."""
        return {cls.name: (cls.__module__, cls.__name__) for cls in self.passes}

    def load_artifact(self, path: str, **kwargs):
        """Loads an artifact of this target with its runtime loader."""
        module, _, function = self.runtime_loader.partition(":")
        return getattr(import_module(module), function)(path, **kwargs)

    def can_run(self, op_name: str) -> bool:
        return op_name in self.supported_ops()

    def can_place(self, operation, op_name: str) -> bool:
        """Whether this target runs this one op (a tgc op at the graph level, its operand and
        result types known). A target whose support depends on dtypes or shapes overrides it; by
        default the op's name decides."""
        return self.can_run(op_name)

    def transfer_seconds(self, nbytes: float) -> float:
        return self.link_latency_seconds + nbytes / self.link_bytes_per_second


_TARGETS: dict = {}
_DEFAULT_FOR_TYPE: dict = {}
_LOCK = threading.Lock()
_LOADED = []


def register(target: Target, *, default_for_type: bool | None = None) -> Target:
    """Adds ``target``; the first target of a device type is that type's default unless
    ``default_for_type`` says otherwise."""
    with _LOCK:
        if target.name in _TARGETS and _TARGETS[target.name] is not target:
            raise ValueError(f"a target named '{target.name}' is already registered")
        _TARGETS[target.name] = target
        if default_for_type or (
            default_for_type is None and target.device_type not in _DEFAULT_FOR_TYPE
        ):
            _DEFAULT_FOR_TYPE[target.device_type] = target.name
    return target


def unregister(name: str) -> None:
    """Removes a target (a test's); its device type falls back to another target of that type."""
    with _LOCK:
        target = _TARGETS.pop(name, None)
        if target is not None and _DEFAULT_FOR_TYPE.get(target.device_type) == name:
            others = [t.name for t in _TARGETS.values() if t.device_type == target.device_type]
            if others:
                _DEFAULT_FOR_TYPE[target.device_type] = others[0]
            else:
                del _DEFAULT_FOR_TYPE[target.device_type]


def _load_builtins() -> None:
    if not _LOADED:
        for module in BUILTIN_TARGETS:
            import_module(module)
        _LOADED.append(True)


def get(name: str) -> Target:
    _load_builtins()
    if name not in _TARGETS:
        known = ", ".join(sorted(_TARGETS)) or "none"
        raise UnknownTargetError(f"unknown target '{name}' (targets: {known})")
    return _TARGETS[name]


def names() -> list:
    _load_builtins()
    return sorted(_TARGETS)


def device_types() -> list:
    """The device types some target serves."""
    _load_builtins()
    return sorted(_DEFAULT_FOR_TYPE)


def for_device_type(device_type: str) -> Target | None:
    """The target that compiles for devices of ``device_type`` (None when no target serves it)."""
    _load_builtins()
    name = _DEFAULT_FOR_TYPE.get((device_type or "").upper())
    return _TARGETS[name] if name is not None else None


def for_artifact_format(artifact_format: str) -> Target | None:
    _load_builtins()
    return next((t for t in _TARGETS.values() if t.artifact_format == artifact_format), None)


@contextlib.contextmanager
def selected(name: str):
    """Within the block, the target ``name`` compiles for its device type (a session made inside
    compiles with it)."""
    target = get(name)
    with _LOCK:
        before = _DEFAULT_FOR_TYPE.get(target.device_type)
        _DEFAULT_FOR_TYPE[target.device_type] = target.name
    try:
        yield target
    finally:
        with _LOCK:
            if before is None:
                _DEFAULT_FOR_TYPE.pop(target.device_type, None)
            else:
                _DEFAULT_FOR_TYPE[target.device_type] = before
