"""Run-time errors from compiled code: a check that fails calls ``tgc_runtime_error``.

Compiled code cannot raise a Python exception, so a failed check (operands whose shapes do not
broadcast, an allocation that failed) calls ``tgc_runtime_error(kind, message, values, count)``:
``kind`` says which error (the codes in ``tgc.runtime.executable``), ``message`` points to a JSON
text made at compile time (the op's name and what else the error needs), ``values`` to ``count``
int64s known only at run time (the shapes). The module defines that function itself, weak, so a
compiled library links anywhere: it calls the handler that the runtime passed to the module's
``tgc_set_error_handler(handler)``. The runtime's handler (tgc/runtime/_fastcall.c) records the
error and unwinds to the call that entered the compiled code, which raises it. Without a handler (a
C program that installed none) the function writes the error to stderr and ends the process with
exit(1): the caller has no other way to learn that the call failed. A handler may return from any
check but a failed allocation: code after those checks stays within its buffers; after a failed
allocation it would write through a null pointer, so there the function writes the error and exits
the same way when the handler returns (the artifact's C header says so).

Host callbacks (``host_call``, ``send_tensor``) take the same path without unwinding:
``tgc_host_callback(action, message, values, count)`` calls the handler given to
``tgc_set_host_handler`` and returns, so a print (or the data of an assertion about to fail) reaches
the host where the op runs in program order; tgc/runtime/host_calls.py is that handler.

Everything here is LLVM dialect, built at whatever level the caller works at (tensor or memref): the
LLVM conversion passes leave it as it is.

A GPU's kernels cannot call the host. There a check is ``device_check``: the check's kernel writes a
record (tensor level: a tensor<N x i64> of a failed flag and the same values), and a call of
``tgc_device_check_<N>(id, record)`` says where the host reads it: the nvptx launch plan makes the
call a "check" step (tgc/runtime/launch_plan.py) that copies the record to the host and, when the
flag is set, raises the error ``tgc_runtime_error`` would have, from the check's kind and JSON
(kept, by ``id``, in the module attribute ``tgc.device_checks``). A target whose plan cannot read
the record refuses the call, as any other call on its host.
"""

from __future__ import annotations

import json

from mlir import ir
from mlir.dialects import arith, bufferization, func, llvm, memref, tensor

from tgc.lowering.artifact import AotError
from tgc.runtime.executable import (
    ERROR_FUNCTION,
    ERROR_HANDLER_GLOBAL,
    OUT_OF_MEMORY,
    SET_ERROR_HANDLER,
    library_setter_name,
)
from tgc.runtime.host_calls import (
    ARGUMENT_OUT_OF_RANGE,
    HOST_CALLBACK,
    HOST_HANDLER_GLOBAL,
    HOST_TENSOR,
    RESHAPE_SIZE_MISMATCH,
    SET_HOST_HANDLER,
)

_MESSAGE_PREFIX = "tgc_error_message_"
DEVICE_CHECK_PREFIX = "tgc_device_check_"  # + the record's length
DEVICE_CHECKS_ATTR = "tgc.device_checks"  # on the module: [{"kind": k, "message": JSON}, ...]


def _ptr() -> ir.Type:
    return ir.Type.parse("!llvm.ptr")


def _i64() -> ir.Type:
    return ir.IntegerType.get_signless(64)


def _symbols(module_op) -> dict:
    out = {}
    for op in module_op.regions[0].blocks[0].operations:
        if "sym_name" in op.attributes:
            out[ir.StringAttr(op.attributes["sym_name"]).value] = op
    return out


# One MLIR text per callback (the run-time error, the host callback): a handler global, its setter,
# and the weak function that calls the handler when one was set. Without a handler (a C program
# that did not install one) a print (kind >= 1; a tensor sent for a print, kind 0, is not one)
# writes one line to stderr, "tgc: <what> (no handler; see <setter>): <JSON>", so that nothing is
# skipped in silence; a failed check writes that line and ends the process (see _error_tail). The
# f-string pieces only keep the source lines within 100 columns.
def _definitions(function: str, handler_global: str, setter: str, what: str, tail) -> str:
    prefix = f"tgc: {what} (no handler; see {setter}): "
    size = len(prefix.encode()) + 1
    blocks, globals_text = tail(function, size)
    return (
        globals_text + f"""
llvm.func @write(i32, !llvm.ptr, i64) -> i64
llvm.func @strlen(!llvm.ptr) -> i64
llvm.func @exit(i32)
llvm.mlir.global private constant @tgc_newline("\\0A\\00") {{addr_space = 0 : i32}} """
        f""": !llvm.array<2 x i8>
llvm.mlir.global private constant @{function}_unhandled("{prefix}\\00") """
        f"""{{addr_space = 0 : i32}} : !llvm.array<{size} x i8>
llvm.mlir.global weak @{handler_global}() {{addr_space = 0 : i32}} : !llvm.ptr {{
  %0 = llvm.mlir.zero : !llvm.ptr
  llvm.return %0 : !llvm.ptr
}}
llvm.func weak @{setter}(%handler: !llvm.ptr) {{
  %slot = llvm.mlir.addressof @{handler_global} : !llvm.ptr
  llvm.store %handler, %slot : !llvm.ptr, !llvm.ptr
  llvm.return
}}
llvm.func weak @{function}(%kind: i64, %message: !llvm.ptr, """
        f"""%values: !llvm.ptr, %count: i64) {{
  %slot = llvm.mlir.addressof @{handler_global} : !llvm.ptr
  %handler = llvm.load %slot : !llvm.ptr -> !llvm.ptr
  %null = llvm.mlir.zero : !llvm.ptr
  %none = llvm.icmp "eq" %handler, %null : !llvm.ptr
  %one = llvm.mlir.constant(1 : i64) : i64
  %stderr = llvm.mlir.constant(2 : i32) : i32
  %newline = llvm.mlir.addressof @tgc_newline : !llvm.ptr
  llvm.cond_br %none, ^unhandled, ^report
^report:
  llvm.call %handler(%kind, %message, %values, %count) : """
        f"""!llvm.ptr, (i64, !llvm.ptr, !llvm.ptr, i64) -> ()
"""
        + blocks
        + """
^done:
  llvm.return
}
"""
    )


def _tell(tag: str, global_name: str, length: int) -> str:
    """Writes "<the global's text><message>\\n" to stderr (``length``: the global's without its
    NUL)."""
    write = "llvm.call @write(%stderr"
    types = ": (i32, !llvm.ptr, i64) -> i64"
    return f"""
  %{tag}_prefix = llvm.mlir.addressof @{global_name} : !llvm.ptr
  %{tag}_prefix_size = llvm.mlir.constant({length} : i64) : i64
  %{tag}_w0 = {write}, %{tag}_prefix, %{tag}_prefix_size) {types}
  %{tag}_length = llvm.call @strlen(%message) : (!llvm.ptr) -> i64
  %{tag}_w1 = {write}, %message, %{tag}_length) {types}
  %{tag}_w2 = {write}, %newline, %one) {types}"""


def _exit(tag: str) -> str:
    return f"""
  %{tag}_status = llvm.mlir.constant(1 : i32) : i32
  llvm.call @exit(%{tag}_status) : (i32) -> ()
  llvm.unreachable"""


def _host_tail(function: str, size: int) -> tuple:
    """The host callback's blocks after the handler's call (and no more globals): after the
    handler, done; without one, a print (kind >= 1) is told on stderr."""
    return (
        """  llvm.br ^done
^unhandled:
  %event = llvm.icmp "sge" %kind, %one : i64
  llvm.cond_br %event, ^tell, ^done
^tell:"""
        + _tell("u", f"{function}_unhandled", size - 1)
        + "\n  llvm.br ^done",
        "",
    )


# The run-time error: code after a failed check cannot go on where nobody can report it. Without a
# handler (a C program that installed none) the error is told on stderr and the process ends with
# exit(1) (exit, not _exit: stdio's buffers are flushed). A handler that returns is fine for checks
# whose code stays within its buffers afterwards (broadcast shapes, indices, assertions), but not
# for a failed allocation (the code would write through the null pointer) or a size or bound that
# does not fit (a reshape, a slice, a matmul's inner dims: the code would read past a buffer), the
# FATAL_KINDS: there the error is told as returned and the process ends the same way. The Python
# runtime's handler unwinds (tgc/runtime/_fastcall.c) and reaches neither.
FATAL_KINDS = (OUT_OF_MEMORY, RESHAPE_SIZE_MISMATCH, ARGUMENT_OUT_OF_RANGE)
RETURNED_PREFIX = (
    "tgc: the error handler returned from a failed allocation or a size out of range, which the "
    "compiled code cannot survive; exiting: "
)


def _is_fatal_kind() -> tuple:
    """(LLVM dialect lines, the name of their i1 result): whether ``%kind`` is one of
    FATAL_KINDS."""
    lines, result = [], None
    for k in FATAL_KINDS:
        lines.append(f"  %fatal_kind_{k} = llvm.mlir.constant({k} : i64) : i64")
        lines.append(f'  %is_{k} = llvm.icmp "eq" %kind, %fatal_kind_{k} : i64')
        if result is None:
            result = f"is_{k}"
        else:
            lines.append(f"  %fatal_{k} = llvm.or %{result}, %is_{k} : i1")
            result = f"fatal_{k}"
    return "\n".join(lines), result


def _error_tail(function: str, size: int) -> tuple:
    """The run-time error's blocks after the handler's call, and the global they need."""
    returned = len(RETURNED_PREFIX.encode())
    fatal_lines, fatal = _is_fatal_kind()
    blocks = (
        fatal_lines
        + f"""
  llvm.cond_br %{fatal}, ^returned, ^done
^returned:"""
        + _tell("r", f"{function}_returned", returned)
        + _exit("r")
        + "\n^unhandled:"
        + _tell("u", f"{function}_unhandled", size - 1)
        + _exit("u")
    )
    message = (
        f"""llvm.mlir.global private constant @{function}_returned("{RETURNED_PREFIX}\\00") """
        f"""{{addr_space = 0 : i32}} : !llvm.array<{returned + 1} x i8>"""
    )
    return blocks, message


_RUNTIME_DEFINITIONS = _definitions(
    ERROR_FUNCTION, ERROR_HANDLER_GLOBAL, SET_ERROR_HANDLER, "a run-time check failed", _error_tail
)
_HOST_DEFINITIONS = _definitions(
    HOST_CALLBACK, HOST_HANDLER_GLOBAL, SET_HOST_HANDLER, "a print was not written", _host_tail
)


def ensure_runtime_definitions(module_op, function: str = ERROR_FUNCTION) -> None:
    """Defines the handler global, its setter and ``function`` (``tgc_runtime_error`` or
    ``tgc_host_callback``) in the module, once."""
    if function in ir.SymbolTable(module_op):  # in C++: every report asks, so it must be cheap
        return
    text = _RUNTIME_DEFINITIONS if function == ERROR_FUNCTION else _HOST_DEFINITIONS
    parsed = ir.Module.parse(text)
    body = module_op.regions[0].blocks[0]
    present = _symbols(module_op)  # libc's write and strlen, declared by the other callback
    with ir.InsertionPoint.at_block_begin(body):
        for op in list(parsed.body.operations):
            if ir.StringAttr(op.operation.attributes["sym_name"]).value not in present:
                op.operation.clone()


def define_library_setter(module_op, prefix: str) -> str | None:
    """Defines ``<prefix>_set_error_handler(handler)``, which calls the module's
    ``tgc_set_error_handler`` (or the parallel runtime's, which replaces it where the library links
    that runtime), when the module has checks; returns its name (None without checks). An
    artifact's C program calls it by this name: with two tgc libraries in one process the name
    ``tgc_set_error_handler`` reaches the first one's only, while the library's own call binds to
    its own definition (the link step binds every reference inside the library locally)."""
    table = ir.SymbolTable(module_op)
    if SET_ERROR_HANDLER not in table:
        return None
    name = library_setter_name(prefix, "error_handler")
    if name == SET_ERROR_HANDLER:  # --name tgc: the library's own name is the shared one
        return name
    if name in table:
        raise AotError(
            f"--name {prefix}: the graph already has a function named {name}, the name of the "
            "library's error-handler setter; choose another --name"
        )
    # Parsed beside a declaration of the setter it calls (the parser verifies the call); only the
    # definition is copied into the module.
    text = f"""
llvm.func @{SET_ERROR_HANDLER}(!llvm.ptr)
llvm.func @{name}(%handler: !llvm.ptr) {{
  llvm.call @{SET_ERROR_HANDLER}(%handler) : (!llvm.ptr) -> ()
  llvm.return
}}
"""
    parsed = ir.Module.parse(text)  # kept alive while its op is cloned
    definition = list(parsed.body.operations)[-1]
    with ir.InsertionPoint(module_op.regions[0].blocks[0]):
        definition.operation.clone()
    return name


def message_global(module_op, payload: dict) -> str:
    """A private constant global holding ``payload`` as NUL-terminated JSON; one per distinct
    text, named ``tgc_error_message_<n>`` in the order they are made."""
    text = json.dumps(payload, sort_keys=True)
    data = text.encode("utf-8") + b"\0"
    # The messages made so far are looked up by name in MLIR's symbol table: scanning every op of
    # the module for each report made a module's checks quadratic (the two-layer SGD step's 75
    # reports spent 6 ms there).
    table = ir.SymbolTable(module_op)
    index = 0
    while (name := f"{_MESSAGE_PREFIX}{index}") in table:
        op = table[name]
        if "value" in op.attributes and ir.StringAttr(op.attributes["value"]).value_bytes == data:
            return name
        index += 1
    array = ir.Type.parse(f"!llvm.array<{len(data)} x i8>")
    body = module_op.regions[0].blocks[0]
    with ir.InsertionPoint.at_block_begin(body), ir.Location.unknown():
        llvm.GlobalOp(
            array,
            name,
            ir.Attribute.parse("#llvm.linkage<private>"),
            constant=True,
            value=ir.StringAttr.get(data),
        )
    return name


def report(module_op, kind: int, payload: dict, values: list) -> None:
    """At the insertion point: calls ``tgc_runtime_error`` with the JSON ``payload`` and ``values``
    (index or integer SSA values, passed as int64)."""
    _call(module_op, ERROR_FUNCTION, kind, payload, values)


def host_call(module_op, action: int, payload: dict, values: list) -> None:
    """At the insertion point: calls ``tgc_host_callback`` (which returns) with ``action``, the
    JSON ``payload`` and ``values``."""
    _call(module_op, HOST_CALLBACK, action, payload, values)


def send_tensor(module_op, value: ir.Value, dtype: str) -> None:
    """At the insertion point (tensor level): sends ``value`` (a ranked tensor of ``dtype``, bools
    already widened to i8) to the host as ``[data address, offset, rank, dims, strides]``. The
    buffer stays alive to the end of its block (ownership-based deallocation frees there), so the
    host reads it during the call."""
    tensor_type = ir.RankedTensorType(value.type)
    rank = tensor_type.rank
    dynamic = ir.ShapedType.get_dynamic_stride_or_offset()
    layout = ir.StridedLayoutAttr.get(dynamic, [dynamic] * rank)
    buffer_type = ir.MemRefType.get(tensor_type.shape, tensor_type.element_type, layout)
    buffer = bufferization.ToBufferOp(buffer_type, value, read_only=True).result
    address = memref.ExtractAlignedPointerAsIndexOp(buffer).result
    metadata = memref.ExtractStridedMetadataOp(buffer)
    results = list(metadata.results)
    offset, sizes, strides = results[1], results[2 : 2 + rank], results[2 + rank :]
    rank_value = arith.ConstantOp(ir.IndexType.get(), rank).result
    host_call(
        module_op, HOST_TENSOR, {"dtype": dtype}, [address, offset, rank_value, *sizes, *strides]
    )


def _call(module_op, function: str, kind: int, payload: dict, values: list) -> None:
    ensure_runtime_definitions(module_op, function)
    name = message_global(module_op, payload)
    # The values' buffer lives on the stack for the call only (an alloca scope restores the stack
    # after it): a print inside a loop would otherwise grow the stack by one buffer per iteration.
    scope = memref.AllocaScopeOp([])
    with ir.InsertionPoint(scope.bodyRegion.blocks.append()):
        _call_with_buffer(function, kind, name, values)
        memref.AllocaScopeReturnOp([])


def _call_with_buffer(function: str, kind: int, name: str, values: list) -> None:
    i64 = _i64()
    kind_value = arith.ConstantOp(i64, kind).result
    message = llvm.AddressOfOp(_ptr(), name).result
    count = arith.ConstantOp(i64, len(values)).result
    element = ir.TypeAttr.get(i64)
    buffer = llvm.AllocaOp(
        _ptr(), arith.ConstantOp(i64, max(len(values), 1)).result, element
    ).result
    no_wrap_flags = ir.IntegerAttr.get(ir.IntegerType.get_signless(32), 0)
    for i, v in enumerate(values):
        as_i64 = v if v.type == i64 else arith.IndexCastOp(i64, v).result
        slot = llvm.GEPOp(
            _ptr(), buffer, [], ir.DenseI32ArrayAttr.get([i]), element, no_wrap_flags
        ).result
        llvm.StoreOp(as_i64, slot)
    llvm.CallOp(
        None,
        [kind_value, message, buffer, count],
        [],
        ir.DenseI32ArrayAttr.get([]),
        callee=ir.FlatSymbolRefAttr.get(function),
    )


def device_check(module_op, kind: int, payload: dict, failed: ir.Value, values: list) -> None:
    """At the insertion point (tensor level, in a function a GPU runs): records the check (``kind``
    and the JSON ``payload``, as ``report`` takes them) and calls ``tgc_device_check_<N>(id,
    record)`` with the record [``failed`` (i1), ``values``...] as int64s; the launch plan reads it
    after the kernels before it and raises when ``failed`` was true."""
    i64 = _i64()
    items = [arith.extui(i64, failed)] + [
        v if v.type == i64 else arith.index_cast(i64, v) for v in values
    ]
    record = tensor.FromElementsOp(ir.RankedTensorType.get([len(items)], i64), items).result
    check_id = _register_device_check(module_op, kind, payload)
    callee = _declare_device_check(module_op, record.type)
    func.CallOp([], callee, [arith.ConstantOp(i64, check_id).result, record])


def device_checks(module_op) -> list:
    """The module's device checks, by id: [{"kind": k, "message": JSON text}, ...]."""
    if DEVICE_CHECKS_ATTR not in module_op.attributes:
        return []
    entries = ir.ArrayAttr(module_op.attributes[DEVICE_CHECKS_ATTR])
    return [json.loads(ir.StringAttr(entry).value) for entry in entries]


def _register_device_check(module_op, kind: int, payload: dict) -> int:
    checks = device_checks(module_op)
    checks.append({"kind": kind, "message": json.dumps(payload, sort_keys=True)})
    module_op.attributes[DEVICE_CHECKS_ATTR] = ir.ArrayAttr.get(
        [ir.StringAttr.get(json.dumps(c, sort_keys=True)) for c in checks]
    )
    return len(checks) - 1


def _declare_device_check(module_op, record_type: ir.Type) -> str:
    """``func.func private @tgc_device_check_<N>(i64, tensor<N x i64>)``, once per N."""
    name = f"{DEVICE_CHECK_PREFIX}{ir.RankedTensorType(record_type).shape[0]}"
    if name not in _symbols(module_op):
        body = module_op.regions[0].blocks[0]
        with ir.InsertionPoint.at_block_begin(body), ir.Location.unknown():
            func.FuncOp(name, ir.FunctionType.get([_i64(), record_type], []), visibility="private")
    return name


def node_description(location: ir.Location) -> str:
    """``scope/Name (defined at file.py:12)`` from the name-over-file locations the frontend gives
    ops."""
    text = str(location)
    if text.startswith('loc("') and '"("' in text:
        name, rest = text[5:].split('"("', 1)
        file_part, _, tail = rest.partition('":')
        line = tail.split(":")[0]
        return f"{name} (defined at {file_part}:{line})"
    if text.startswith('loc("') and '":' not in text:
        return text[5:].split('"', 1)[0]
    return ""
