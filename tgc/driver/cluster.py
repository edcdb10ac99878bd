"""A partitioned run compiled into one shared library that processes without MLIR can load.

The local runner JIT-compiles the partitions in the client's process and hands the compiled code
the rendezvous' ctypes callbacks through MLIR's ExecutionEngine. A task of a cluster runs in another
process (a Ray actor), which needs only the runtime (numpy and ctypes): so the client lowers the
module as for a session, then makes it a self-contained library before code generation:

- each transfer function the partitions call (``_mlir_ciface_tgc_send_float32_2``, ...; declared,
  never defined) gets a body that calls through a global function pointer,
  ``tgc_slot_<transfer>``; the loading process stores its own callback there (a library cannot
  have undefined symbols that a process provides from Python);
- each partition gets ``tgc_packed_<partition>(void **args)``, the packed calling convention that
  tgc.runtime.executable.Executable calls (the ExecutionEngine makes that wrapper for the JIT).

The CPU target then writes the library as it does for an artifact (LLVM IR, opt, llc, cc). Every
task of the run loads the same library and calls only its own partitions.
"""

from __future__ import annotations

from tgc.dialect import targets
from tgc.lowering.artifact import Lowered, Machine, Options, Signature

SLOT_PREFIX = "tgc_slot_"
PACKED_PREFIX = "tgc_packed_"
_CIFACE = "_mlir_ciface_"


def slot_symbol(transfer: str) -> str:
    """The global holding the callback of ``transfer`` (e.g. ``tgc_send_float32_2``)."""
    return SLOT_PREFIX + transfer


def packed_symbol(partition: str) -> str:
    return PACKED_PREFIX + partition


def shared_library(module, partitions: list, transfers: list, target_name: str = "cpu") -> bytes:
    """The bytes of a library holding ``partitions`` (function names) of ``module`` (lowered to the
    LLVM dialect by the session pipeline), with a slot per transfer in ``transfers`` (symbol
    names, such as ``tgc_recv_float32_2``)."""
    from mlir import ir

    target = targets.get(target_name)
    arities = _remove_transfer_declarations(module, set(transfers))
    # Printed without verifying: the calls to the erased declarations resolve once the shims are in.
    text = module.operation.get_asm(assume_verified=True)
    shims = [_slot_definition(name, arities[name]) for name in sorted(arities)]
    shims += [_packed_wrapper(name, _ciface_arity(module, name)) for name in partitions]
    closing = text.rstrip().rfind("}")
    complete = ir.Module.parse(text[:closing] + "\n".join(shims) + "\n}\n")
    lowered = Lowered(
        Signature([], [], []),
        entry="tgc_cluster",
        machine=target.resolve_machine(Machine()),
    )
    # blas: the session pipeline calls OpenBLAS for small matmuls (tgc's kernel, defined in the
    # module, for the rest); the library finds numpy's by rpath.
    target.emit_stages(complete, lowered, "so", Options(blas=True, name="tgc_cluster"))
    return lowered.stages["so"]


def _remove_transfer_declarations(module, transfers: set) -> dict:
    """Erases the declarations of the transfer functions' C interfaces; returns their parameter
    lists as LLVM dialect types, by transfer name."""
    from mlir import ir

    found = {}
    for op in list(module.body.operations):
        if op.operation.name != "llvm.func":
            continue
        name = ir.StringAttr(op.attributes["sym_name"]).value
        if name.startswith(_CIFACE) and name[len(_CIFACE) :] in transfers:
            if len(op.regions[0].blocks) == 0:
                found[name[len(_CIFACE) :]] = _parameter_types(op)
                op.operation.erase()
    return found


def _parameter_types(function) -> list:
    from mlir import ir

    text = str(ir.TypeAttr(function.attributes["function_type"]).value)
    # !llvm.func<void (i64, ptr)>: the parameters between the outer parentheses.
    inner = text[text.index("(") + 1 : text.rindex(")")]
    return [("!llvm.ptr" if t.strip() == "ptr" else t.strip()) for t in inner.split(",") if t]


def _ciface_arity(module, partition: str) -> int:
    from mlir import ir

    for op in module.body.operations:
        if op.operation.name == "llvm.func":
            if ir.StringAttr(op.attributes["sym_name"]).value == _CIFACE + partition:
                return len(_parameter_types(op))
    raise ValueError(f"the lowered module has no C interface for partition '{partition}'")


def _slot_definition(transfer: str, types: list) -> str:
    """A zeroed global function pointer and the C interface that calls through it."""
    slot = slot_symbol(transfer)
    params = ", ".join(f"%a{i}: {t}" for i, t in enumerate(types))
    args = ", ".join(f"%a{i}" for i in range(len(types)))
    return f"""
  llvm.mlir.global external @{slot}() {{addr_space = 0 : i32}} : !llvm.ptr {{
    %z = llvm.mlir.zero : !llvm.ptr
    llvm.return %z : !llvm.ptr
  }}
  llvm.func @{_CIFACE}{transfer}({params}) {{
    %s = llvm.mlir.addressof @{slot} : !llvm.ptr
    %f = llvm.load %s : !llvm.ptr -> !llvm.ptr
    llvm.call %f({args}) : !llvm.ptr, ({", ".join(types)}) -> ()
    llvm.return
  }}"""


def _packed_wrapper(partition: str, arity: int) -> str:
    """``void tgc_packed_P(void **args)``: calls P's C interface with *args[i] as argument i."""
    lines = [f"  llvm.func @{packed_symbol(partition)}(%args: !llvm.ptr) {{"]
    for i in range(arity):
        lines += [
            f"    %s{i} = llvm.getelementptr %args[{i}] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr",
            f"    %p{i} = llvm.load %s{i} : !llvm.ptr -> !llvm.ptr",
            f"    %d{i} = llvm.load %p{i} : !llvm.ptr -> !llvm.ptr",
        ]
    args = ", ".join(f"%d{i}" for i in range(arity))
    types = ", ".join(["!llvm.ptr"] * arity)
    lines += [
        f"    llvm.call @{_CIFACE}{partition}({args}) : ({types}) -> ()",
        "    llvm.return",
        "  }",
    ]
    return "\n".join(lines)


# ---- loading a compiled run on a cluster's tasks -------------------------------------------------


def task_of_device(device: str) -> str:
    """The task a device belongs to, as the cluster names its actors: ``ps/0``."""
    from tgc.dialect.devices import DeviceSpec

    spec = DeviceSpec.from_string(device)
    return f"{spec.job}/{spec.task or 0}"


def additive_variables(ops) -> set:
    """The variables that the run's ops change only by assign_add/assign_sub: a task applies such
    a step's change onto the variable's current value (tgc/runtime/ray/task.py), as TF's
    AssignAdd does, so concurrent steps lose no update."""
    from tgc.dialect.ops.state import ASSIGNMENT_OPS

    kinds: dict = {}
    for op in ops:
        variable = getattr(op, "variable", None)
        if variable is not None and op.opdef in ASSIGNMENT_OPS:
            kinds.setdefault(variable._name, set()).add(op.opdef)
    return {name for name, found in kinds.items() if found <= {"assign_add", "assign_sub"}}


def cluster_loader(cluster, ops=()):
    """A loader for tgc.driver.jit.compile_run that runs the partitions on ``cluster``'s tasks
    (a tgc.runtime.ray.local.LocalRayCluster) instead of on threads of this process; ``ops``: the
    run's graph ops (which variables it only adds to)."""
    additive = additive_variables(ops)

    def load(modules, owners, layout, keys, transfers, feeds, signature, var_specs):
        del owners  # every partition runs CPU code: the cluster's tasks hold CPUs only
        return _load_on_cluster(
            cluster, modules, layout, keys, transfers, feeds, signature, var_specs, additive
        )

    return load


def _load_on_cluster(
    cluster, modules, layout, keys, transfers, feeds, signature, var_specs, additive
):
    from tgc import errors
    from tgc.driver.jit import _np
    from tgc.lowering.to_core.transfer import transfer_symbol
    from tgc.runtime.ray.run import ClusterRun
    from tgc.runtime.ray.task import PartitionSpec, RunSpec

    if len(modules) != 1 or modules[0][0].name != "cpu":
        names = ", ".join(target.name for target, _ in modules)
        raise errors.CompileError(f"a cluster's tasks run CPU code only; this run needs {names}")
    target, module = modules[0]
    slots = {
        slot_symbol(transfer_symbol(kind, dtype, rank)): (kind, _np(dtype).str, rank)
        for kind, dtype, rank in transfers
    }
    library = shared_library(
        module,
        [name for name, *_ in layout],
        [transfer_symbol(kind, dtype, rank) for kind, dtype, rank in transfers],
        target.name,
    )
    spec = RunSpec(
        library=library,
        slots=slots,
        keys=dict(keys),
        receivers={k: task_of_device(text.rsplit(";", 1)[1]) for k, text in keys.items()},
    )
    fetch_specs = [s for _, s in signature.fetches]
    placed: dict = {}
    for name, device, fetch_indices, var_inputs, var_outputs in layout:
        inputs = [(s.dtype, s.rank) for _, s in feeds]
        inputs += [(var_specs[n].dtype, var_specs[n].rank) for n in var_inputs]
        outputs = [(fetch_specs[i].dtype, fetch_specs[i].rank) for i in fetch_indices]
        outputs += [(var_specs[n].dtype, var_specs[n].rank) for n in var_outputs]
        in_place = {
            len(fetch_indices) + k: len(feeds) + var_inputs.index(n)
            for k, n in enumerate(var_outputs)
            if n in var_inputs
        }
        partition = PartitionSpec(
            function=name,
            packed_symbol=packed_symbol(name),
            inputs=[(_np(d).str, r) for d, r in inputs],
            outputs=[(_np(d).str, r) for d, r in outputs],
            in_place=in_place,
            fetch_indices=list(fetch_indices),
            var_inputs=list(var_inputs),
            var_outputs=list(var_outputs),
            additive=[n for n in var_outputs if n in additive],
        )
        placed.setdefault(task_of_device(device), []).append(partition)
    return ClusterRun(cluster, placed, spec, len(fetch_specs))
