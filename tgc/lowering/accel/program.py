"""Reads an accel-level function into the accelerator's program and the host's part around it.

After the accel pipeline a public function's body is straight-line code: accel ops on memrefs,
allocations of the tensors they write, casts between static and dynamic memref types, sends and
receives of tensors (calls of ``tgc_send_<dtype>_<rank>`` and ``tgc_recv_<dtype>_<rank>``, the
transfer functions of the core level, tgc/lowering/to_core/transfer.py) and a return. A received
tensor's shape is the static type it is cast to. This module turns it into

- programs (the JSON the simulator runs, format in docs/accel-machine.md), one per stretch of
  accel ops between exchanges with the host: the device-memory tensors the DMAs touch (what a
  program loads first is an input, a memref.global a constant, what it stores an output; a load of
  a tensor it stored reads that output back), the instructions in order, each with the ``waits``
  its dependencies need, in the buffer and in device memory;
- the host plan: which argument, received tensor or allocation feeds each program input, which
  program output each allocation is (zeros if none writes it), the steps in the function's order
  (receive a tensor, run a program, send a tensor: the accel ops before a send run as programs
  before it, so that a partition on the CPU waiting for it can go on and send what the next
  programs need), and where each result comes from.

A whole-buffer copy into a fresh allocation (bufferization's copy of a tensor that is both sent and
returned: it cannot know that a send only reads) makes the allocation another name of the copied
tensor.

Device memory holds float32: a float64 tensor is narrowed by the host on its way in and widened on
its way out (the matrix unit computes in bf16 anyway); a bool tensor is 0.0 and 1.0 there.

Waits: an instruction waits for the latest earlier instruction of each unit that writes buffer
bytes it reads (or reads or writes bytes it writes). Instructions of one unit run in order, so one
wait per other unit is enough, and none on its own unit. In device memory a load of an output
waits for the latest store whose box may overlap it, a store for the latest such load.
"""

from __future__ import annotations

import numpy as np
from mlir import ir

from tgc.dialect.attrs import buffer_dtype_name
from tgc.lowering.accel import ops as accel

ELEMENT_BYTES = {"float32": 4, "bfloat16": 2}
UNITS = {
    "dma_load": "dma_in",
    "dma_store": "dma_out",
    "matmul": "matrix",
    "cast": "vector",
    "zero": "vector",
    "fill": "vector",
    "unary": "vector",
    "binary": "vector",
    "select": "vector",
    "reduce": "vector",
}
VECTOR_OPERANDS = {
    "unary": ("x",),
    "binary": ("lhs", "rhs"),
    "select": ("cond", "lhs", "rhs"),
    "reduce": ("from", "to"),  # a reduction accumulates into its output
}


SEND_PREFIX, RECV_PREFIX = "tgc_send_", "tgc_recv_"


class ProgramError(ValueError):
    """Code that the accelerator's program cannot express."""


def _callee(op) -> str:
    return ir.FlatSymbolRefAttr(op.attributes["callee"]).value


def transfer_kind(op) -> str | None:
    """ "send" or "recv" for a call of a transfer function, else None."""
    if op.name != "func.call":
        return None
    callee = _callee(op)
    if callee.startswith(SEND_PREFIX):
        return "send"
    return "recv" if callee.startswith(RECV_PREFIX) else None


def transfer_dtype(op) -> str:
    """The tensor's dtype as the transfer's symbol names it: tgc_send_float32_2 -> float32."""
    return _callee(op).removeprefix(SEND_PREFIX).removeprefix(RECV_PREFIX).rsplit("_", 1)[0]


def read_function(function) -> tuple:
    """([programs], host plan) of one lowered function."""
    return _FunctionReader(function).read()


def public_functions(module: ir.Module) -> list:
    found = []
    for op in module.body.operations:
        if op.operation.name != "func.func" or len(op.regions[0].blocks) == 0:
            continue
        visibility = op.attributes["sym_visibility"] if "sym_visibility" in op.attributes else None
        if visibility is None or ir.StringAttr(visibility).value == "public":
            found.append(op)
    return found


def function_name(function) -> str:
    return ir.StringAttr(function.attributes["sym_name"]).value


def _numpy_dtype(element: ir.Type) -> str:
    try:
        return buffer_dtype_name(element)
    except ValueError:
        raise ProgramError(f"tensors of {element} are not supported on the accelerator") from None


class _FunctionReader:
    def __init__(self, function):
        self.function = function
        self.name = function_name(function)
        self.refs = {}  # memref value -> ["argument", i] | ["received", key] | ["alloc", i]
        self.scalars = {}  # i64 constant value -> its number
        # tuple(ref) -> the shape its program tensors have: an argument's, a received tensor's, an
        # allocation's own or, when it leaves the function reshaped (returned or sent through a
        # view adding or dropping unit dims), that view's: the host hands it on as it comes.
        self.shapes = {}
        self.constants = {}  # a memref.global's name -> its values (numpy)
        self.subviews = {}  # a slice -> (its tensor, offsets, strides)
        self.views = {}  # a reshape adding or dropping unit dims -> its source
        self.allocs = []  # per allocation: shape, dtype, and [program, output] that writes it
        self.results = []
        self.accel_ops = []  # (op, the ref of the tensor a DMA moves, or None), in order
        self.events = []  # ("accel", (op, ref)) | ("recv", recv) | ("send", send), in order

    def read(self) -> tuple:
        """([programs], host plan)."""
        block = self.function.regions[0].blocks[0]
        for index, argument in enumerate(block.arguments):
            self.refs[argument] = ["argument", index]
            self._set_shape(self.refs[argument], argument.type)
        for op in block.operations:
            self._read_op(op.operation)
        programs, host_programs, steps, pending = [], [], [], []

        def run_pending() -> None:
            for ops in self._segments(pending):
                program, inputs = _ProgramWriter(self, len(programs)).write(ops)
                steps.append({"program": len(programs)})
                programs.append(program)
                host_programs.append({"inputs": inputs})
            pending.clear()

        for kind, event in self.events:
            if kind == "accel":
                pending.append(event)
                continue
            if kind == "send":
                run_pending()  # what it sends may be computed by the ops before it
            steps.append({kind: event})
        run_pending()
        host = {
            "arguments": len(block.arguments),
            "programs": host_programs,
            "allocs": self.allocs,
            "steps": steps,
            "results": self.results,
        }
        return programs, host

    def _segments(self, accel_ops: list) -> list:
        """The accel ops between two exchanges with the host: one program. A load of a tensor
        the program stored earlier reads it from device memory (an output of the program),
        waiting for the stores it reads."""
        return [accel_ops] if accel_ops else []

    def _read_op(self, op) -> None:
        name = op.name
        if accel.is_accel_op(op):
            ref = self._ref(op.operands[0], op) if len(op.operands) else None
            if op.name == "accel.dma_store" and ref[0] != "alloc":
                raise ProgramError(
                    f"@{self.name}: the accelerator writes only tensors it allocates, "
                    f"not its {ref[0]} tensor {ref[1]}"
                )
            self.accel_ops.append((op, ref))
            self.events.append(("accel", (op, ref)))
        elif name == "arith.constant":
            if isinstance(op.result.type, ir.IntegerType):
                self.scalars[op.result] = ir.IntegerAttr(op.attributes["value"]).value
        elif name == "memref.alloc":
            self._alloc(op)
        elif name == "memref.copy":
            self._copy(op)
        elif name == "memref.get_global":
            if len(list(op.result.uses)):  # unused: a shape operand whose values nobody reads
                self._constant(op)
        elif name == "memref.dim":
            pass  # the size of a dynamic allocation, which only a copy targets
        elif name in ("memref.expand_shape", "memref.collapse_shape"):
            self._view(op)
        elif name == "memref.subview":
            self._subview(op)
        elif name == "memref.cast":
            self.refs[op.result] = self._ref(op.operands[0], op)
        elif transfer_kind(op) == "recv":
            self._recv(op)
        elif transfer_kind(op) == "send":
            self._send(op)
        elif name == "func.return":
            self.results = [self._ref(value, op) for value in op.operands]
            for value in op.operands:
                self._escapes(value, op)
        elif name != "memref.dealloc":
            raise ProgramError(f"@{self.name}: the accelerator cannot run '{name}'")

    def _view(self, op) -> None:
        """A reshape that adds or drops dims of size 1 (expand_dims, squeeze): the same tensor,
        its DMA boxes translated to the source's dims when the program is written."""
        source, result = op.operands[0], op.results[0]
        if _non_unit_dims(source.type) != _non_unit_dims(result.type):
            raise ProgramError(
                f"@{self.name}: the accelerator reshapes only by adding or dropping dims of size "
                f"1, not {source.type} to {result.type}"
            )
        self.refs[result] = self._ref(source, op)
        self.views[result] = source

    def _constant(self, op) -> None:
        """A constant tensor (a memref.global): it travels inside the programs that load it."""
        name = ir.FlatSymbolRefAttr(op.attributes["name"]).value
        if name not in self.constants:
            self.constants[name] = _global_values(self.function, name, op.result.type)
        self.refs[op.result] = ["constant", name]

    def _subview(self, op) -> None:
        """A slice of a tensor (static offsets, sizes and strides, every dim kept): the same
        tensor; a DMA box in the slice is a box in the tensor."""
        source, result = op.operands[0], op.results[0]
        if (
            len(op.operands) > 1
            or ir.MemRefType(source.type).rank != ir.MemRefType(result.type).rank
        ):
            raise ProgramError(
                f"@{self.name}: the accelerator slices tensors by static offsets, sizes and "
                f"strides, keeping every dim, not '{op}'"
            )
        offsets = list(ir.DenseI64ArrayAttr(op.attributes["static_offsets"]))
        strides = list(ir.DenseI64ArrayAttr(op.attributes["static_strides"]))
        self.refs[result] = self._ref(source, op)
        self.subviews[result] = (source, offsets, strides)

    def _set_shape(self, ref: list, type_: ir.Type) -> None:
        memref = ir.MemRefType(type_)
        if memref.has_static_shape:
            self.shapes[tuple(ref)] = list(memref.shape)

    def _escapes(self, value, op) -> None:
        """A returned or sent allocation has the shape it leaves with (maybe a view's). A
        constant cannot leave (tgc-accel-tile-generic copies one that would)."""
        ref = self._ref(value, op)
        if ref[0] == "constant":
            raise ProgramError(f"@{self.name}: '{op.name}' takes the constant {ref[1]} itself")
        type_ = _leaving_type(value)
        if ref[0] == "alloc" and type_.has_static_shape:
            self._set_shape(ref, type_)
            self.allocs[ref[1]]["shape"] = list(type_.shape)

    def _alloc(self, op) -> None:
        """An allocation of unknown size can only be the target of a copy (which makes it another
        name of the source): the DMAs take static types."""
        type_ = ir.MemRefType(op.result.type)
        shape = list(type_.shape) if type_.has_static_shape else None
        self.refs[op.result] = ["alloc", len(self.allocs)]
        self._set_shape(self.refs[op.result], type_)
        self.allocs.append(
            {"shape": shape, "dtype": _numpy_dtype(type_.element_type), "from": None}
        )

    def _copy(self, op) -> None:
        """A whole-buffer copy into an allocation nothing touched yet: another name of the
        source."""
        source, target = op.operands
        ref = self._ref(target, op)
        touched = any(r == ref for _, r in self.accel_ops)
        if (
            ref[0] != "alloc"
            or touched
            or not (_row_major(source.type) and _row_major(target.type))
        ):
            raise ProgramError(f"@{self.name}: the accelerator cannot run '{op}'")
        self.refs[target] = self._ref(source, op)

    def _recv(self, op) -> None:
        key = self._key(op.operands[0], op)
        result = op.results[0]
        self.refs[result] = ["received", key]
        casts = [use.owner for use in result.uses if use.owner.name == "memref.cast"]
        types = [ir.MemRefType(result.type)] + [ir.MemRefType(c.results[0].type) for c in casts]
        static = [t for t in types if t.has_static_shape]
        shape = list(static[0].shape) if static else None  # None: passed on as it comes
        if shape is not None:
            self.shapes[("received", key)] = shape
        self.events.append(("recv", {"key": key, "shape": shape, "dtype": transfer_dtype(op)}))

    def _send(self, op) -> None:
        key_value, value = op.operands
        send = {
            "key": self._key(key_value, op),
            "source": self._ref(value, op),
            "dtype": transfer_dtype(op),
        }
        self._escapes(value, op)
        self.events.append(("send", send))

    def _key(self, value, op) -> int:
        if value not in self.scalars:
            raise ProgramError(f"@{self.name}: '{op.name}' takes a key computed at run time")
        return self.scalars[value]

    def _ref(self, value, op) -> list:
        ref = self.refs.get(value)
        if ref is None:
            raise ProgramError(f"@{self.name}: '{op.name}' takes a tensor made on the host")
        return ref


class _ProgramWriter:
    """One program: its tensors (inputs read, outputs stored) and instructions with waits."""

    def __init__(self, reader: _FunctionReader, number: int):
        self.reader = reader
        self.number = number
        self.tensors = []
        self.tensor_of = {}  # (tuple(ref), kind) -> index in self.tensors
        self.inputs = []  # per input: {"source": ref, "dtype": the tensor's own}
        self.num_outputs = 0
        self.num_constants = 0
        self.instructions = []
        self.memory = {}  # (tensor, "dma_load" | "dma_store") -> [(instruction, bounds)]
        self.stored = set()  # tuple(ref) of the tensors this program has stored so far
        self.refs_of = {}  # tensor index -> its ref
        self.hazards = _Hazards()

    def write(self, ops: list) -> tuple:
        for op, ref in ops:
            self._instruction(op, ref)
        program = {
            "tensors": self.tensors,
            "buffer_bytes": self.hazards.buffer_bytes,
            "instructions": self.instructions,
        }
        return program, self.inputs

    def _tensor(self, value, ref: list, kind: str, shape: list) -> int:
        """The program's index of the tensor a DMA moves: an input it loads, an output it
        stores."""
        key = (tuple(ref), kind)
        if key not in self.tensor_of:
            type_ = ir.MemRefType(value.type)
            own_dtype = _numpy_dtype(type_.element_type)
            if own_dtype not in ("float32", "float64", "bool", "int8"):  # int8: a bool's storage
                raise ProgramError(
                    f"@{self.reader.name}: the accelerator's DMA moves floats and bools, "
                    f"not {type_}"
                )
            entry = {"shape": shape, "dtype": "float32", "kind": kind}
            if kind == "output":
                entry["index"] = self.num_outputs
                self.reader.allocs[ref[1]]["from"] = [self.number, self.num_outputs]
                self.num_outputs += 1
            elif ref[0] == "constant":  # its values come with the program
                entry.update(kind="constant", index=self.num_constants)
                entry["values"] = self.reader.constants[ref[1]].reshape(-1).tolist()
                self.num_constants += 1
            else:
                entry["index"] = len(self.inputs)
                self.inputs.append({"source": ref, "dtype": own_dtype})
            self.tensor_of[key] = len(self.tensors)
            self.refs_of[len(self.tensors)] = ref
            self.tensors.append(entry)
        return self.tensor_of[key]

    def _unsliced(self, value, box: dict) -> tuple:
        """A box of a slice is a box of its tensor, also through reshapes that add or drop unit
        dims of a slice (the expand_dims of a split's half): (the tensor, the box in its dims).
        A reshape of a whole tensor is left to the caller (its tensor takes the shape it leaves
        with)."""
        views = self.reader.views
        while value in self.reader.subviews or (value in views and self._slices(value)):
            if value in views:
                source = views[value]
                view_shape = list(ir.MemRefType(value.type).shape)
                source_shape = list(ir.MemRefType(source.type).shape)
                box = _unreshaped_box(box, view_shape, source_shape, self.reader.name)
                value = source
                continue
            source, offsets, strides = self.reader.subviews[value]
            box = _unsliced_box(box, offsets, strides, self.reader.name)
            value = source
        return value, box

    def _slices(self, value) -> bool:
        """Whether a chain of reshapes ends at a slice."""
        while value in self.reader.views:
            value = self.reader.views[value]
        return value in self.reader.subviews

    def _instruction(self, op, ref) -> None:
        kind = op.name.removeprefix("accel.")
        attrs = accel.read(op)
        if kind in ("dma_load", "dma_store"):
            loads = kind == "dma_load"
            value, attrs = self._unsliced(op.operands[0], attrs)
            shape = list(ir.MemRefType(value.type).shape)
            target = self.reader.shapes.setdefault(tuple(ref), shape)
            if target != shape:  # through a view: the box in the tensor's own dims
                attrs = _unreshaped_box(attrs, shape, target, self.reader.name)
            stored = tuple(ref) in self.stored
            kind_of_tensor = "output" if not loads or stored else "input"
            tensor = self._tensor(value, ref, kind_of_tensor, target)
            fields = ("begin", "count", "step", "perm", "fill")
            instruction = {"tensor": tensor, **{key: attrs[key] for key in fields if key in attrs}}
            at = attrs["to" if loads else "from"]
            instruction["to" if loads else "from"] = at
            tile = _bytes(at, _tile_shape(attrs), "float32")
            reads, writes = ([], [tile]) if loads else ([tile], [])
        elif kind == "cast":
            source = _operand(attrs["from_at"], attrs["shape"], attrs["from_dtype"])
            target = _operand(attrs["to_at"], attrs["shape"], attrs["to_dtype"])
            instruction = {"from": source, "to": target}
            reads, writes = [_bytes(**source)], [_bytes(**target)]
        elif kind in ("zero", "fill"):
            instruction = {"at": attrs["at"], "shape": attrs["shape"]}
            if kind == "fill":
                instruction["value"] = attrs["value"]
            reads, writes = [], [_bytes(attrs["at"], attrs["shape"], "float32")]
        elif kind in VECTOR_OPERANDS:
            instruction = {
                key: _vector_operand(value) if key in VECTOR_OPERANDS[kind] + ("to",) else value
                for key, value in attrs.items()
            }
            operands = [instruction[name] for name in VECTOR_OPERANDS[kind]]
            reads = [_bytes(**tile, dtype="float32") for tile in operands if isinstance(tile, dict)]
            writes = [_bytes(**instruction["to"], dtype="float32")]
        else:  # matmul
            lhs, rhs, acc = (
                _operand(attrs[f"{n}_at"], attrs[f"{n}_shape"], dtype)
                for n, dtype in (("lhs", "bfloat16"), ("rhs", "bfloat16"), ("acc", "float32"))
            )
            instruction = {
                key: {"at": v["at"], "shape": v["shape"]}
                for key, v in (("lhs", lhs), ("rhs", rhs), ("acc", acc))
            }
            reads, writes = [_bytes(**lhs), _bytes(**rhs), _bytes(**acc)], [_bytes(**acc)]
        index = len(self.instructions)
        waits = self.hazards.access(index, UNITS[kind], reads, writes)
        if kind in ("dma_load", "dma_store"):
            waits = sorted(set(waits) | set(self._memory_waits(index, kind, instruction)))
        self.instructions.append({"op": kind, **instruction, "waits": waits})

    def _memory_waits(self, index: int, kind: str, instruction: dict) -> list:
        """Device memory within the program: a load of an output waits for the latest store
        whose elements it may read; a store for the latest load of elements it may overwrite
        (stores run in order on DMA out). Boxes overlap by their bounding ranges."""
        tensor = instruction["tensor"]
        if self.tensors[tensor]["kind"] != "output":
            return []
        bounds = _box_bounds(instruction, self.tensors[tensor]["shape"])
        other = "dma_load" if kind == "dma_store" else "dma_store"
        earlier = [i for i, b in self.memory.get((tensor, other), []) if _intersect(b, bounds)]
        self.memory.setdefault((tensor, kind), []).append((index, bounds))
        if kind == "dma_store":
            self.stored.add(tuple(self.refs_of[tensor]))
        return [max(earlier)] if earlier else []


def _global_values(function, name: str, type_: ir.Type):
    """The elements of the memref.global ``name`` of the function's module, as float32."""
    module = function.operation.parent
    for op in module.regions[0].blocks[0].operations:
        if op.name == "memref.global" and ir.StringAttr(op.attributes["sym_name"]).value == name:
            attr = ir.DenseElementsAttr(op.attributes["initial_value"])
            shape = list(ir.MemRefType(type_).shape)
            if attr.is_splat:
                splat = attr.get_splat_value()
                value = splat.value if hasattr(splat, "value") else float(splat)
                return np.full(shape, float(value), np.float32)
            return np.array(attr, dtype=np.float32).reshape(shape)
    raise ProgramError(f"the constant {name} is not in the module")


def _unsliced_box(attrs: dict, offsets: list, strides: list, function: str) -> dict:
    """A DMA box over a slice (offsets, strides per dim), over the sliced tensor."""
    if "fill" in attrs:
        raise ProgramError(f"@{function}: a DMA of a slice takes no fill")
    box = dict(attrs)
    box["begin"] = [o + b * s for o, b, s in zip(offsets, attrs["begin"], strides)]
    box["step"] = [step * s for step, s in zip(attrs["step"], strides)]
    return box


def _leaving_type(value) -> ir.MemRefType:
    """The type ``value`` leaves with: a cast to a dynamic type (what a transfer function takes)
    leaves in its source's static shape (a reshape's, say: the receiver expects that rank), and so
    does a buffer of dynamic type that a whole copy of such a cast fills (bufferization's copy of a
    sent tensor: the reader makes it another name of the copied tensor)."""
    memref = ir.MemRefType(value.type)
    while not memref.has_static_shape:
        source = _cast_source(value)
        if source is None:
            source = _copied_source(value)
        if source is None:
            break
        value = source
        memref = ir.MemRefType(value.type)
    return memref


def _cast_source(value):
    """The operand of the memref.cast that makes ``value``; None if no cast makes it."""
    if getattr(value.owner, "name", None) == "memref.cast":
        return value.owner.operands[0]
    return None


def _copied_source(value):
    """The source of the one memref.copy into the allocation ``value``; None otherwise."""
    if getattr(value.owner, "name", None) != "memref.alloc":
        return None
    sources = [
        use.owner.operands[0]
        for use in value.uses
        if use.owner.name == "memref.copy" and use.owner.operands[1] == value
    ]
    return sources[0] if len(sources) == 1 else None


def _non_unit_dims(type_: ir.Type) -> list:
    return [d for d in ir.MemRefType(type_).shape if d != 1]


def _unreshaped_box(attrs: dict, view_shape: list, source_shape: list, function: str) -> dict:
    """A DMA box over one shape of a tensor, over another that adds or drops unit dims: the
    non-unit dims correspond in order; the unit dims of the view must be taken once at index 0
    (the other's get begin 0, count 1, step 1). The tile's order (perm) keeps the non-unit dims'."""
    kept = [j for j, d in enumerate(view_shape) if d != 1]
    for j, extent in enumerate(view_shape):
        if extent == 1 and (attrs["begin"][j], attrs["count"][j]) != (0, 1):
            raise ProgramError(
                f"@{function}: a DMA box of a reshaped tensor takes its dim {j} of size 1 "
                f"other than once at 0"
            )
    box = {key: value for key, value in attrs.items() if key not in ("begin", "count", "step")}
    box.update(begin=[], count=[], step=[])
    targets = iter(kept)
    for extent in source_shape:
        j = next(targets) if extent != 1 else None
        for key, unit in (("begin", 0), ("count", 1), ("step", 1)):
            box[key].append(unit if j is None else attrs[key][j])
    if "perm" in attrs:
        source_dim = dict(zip(kept, [i for i, d in enumerate(source_shape) if d != 1]))
        units = [i for i, d in enumerate(source_shape) if d == 1]
        perm = units + [source_dim[j] for j in attrs["perm"] if j in source_dim]
        box.pop("perm")
        if perm != sorted(perm):
            box["perm"] = perm
    return box


def _row_major(type_: ir.Type) -> bool:
    memref = ir.MemRefType(type_)
    identity = ir.MemRefType.get([1] * memref.rank, memref.element_type).layout
    return memref.layout == identity


def _tile_shape(box: dict) -> list:
    """rows x cols of the tile a DMA's box fills: the counts in tile order (``perm``), the last
    one the columns, the product of the others the rows (the machine's rule)."""
    counts = [box["count"][dim] for dim in box.get("perm", range(len(box["count"])))]
    rows = 1
    for count in counts[:-1]:
        rows *= count
    return [rows, counts[-1] if counts else 1]


def _vector_operand(value):
    """A vector operand in the program: a tile ([at, rows, cols] in the IR) or a number."""
    if isinstance(value, float):
        return value
    at, rows, cols = value
    return {"at": at, "shape": [rows, cols]}


def _operand(at: int, shape: list, dtype: str) -> dict:
    return {"at": at, "shape": list(shape), "dtype": dtype}


def _bytes(at: int, shape: list, dtype: str) -> tuple:
    """A region of the buffer: (first byte, end byte)."""
    return (at, at + shape[0] * shape[1] * ELEMENT_BYTES[dtype])


def _box_bounds(box: dict, shape: list) -> list:
    """Per dim the [first, last] index a DMA box touches within the tensor (None: none)."""
    bounds = []
    for begin, count, step, extent in zip(box["begin"], box["count"], box["step"], shape):
        indices = [begin + i * step for i in (0, count - 1)] if count else []
        inside = [min(max(i, 0), extent - 1) for i in indices]
        bounds.append((min(inside), max(inside)) if inside and extent else None)
    return bounds


def _intersect(a: list, b: list) -> bool:
    if any(r is None for r in a + b):
        return False
    return all(lo1 <= hi2 and lo2 <= hi1 for (lo1, hi1), (lo2, hi2) in zip(a, b))


def _overlap(a: tuple, b: tuple) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class _Hazards:
    """The last writer and the latest reader of each unit since, of every buffer region touched so
    far."""

    def __init__(self):
        self.regions = {}  # (first, end) -> [last writer (index, unit) or None, {unit: reader}]
        self.buffer_bytes = 0

    def access(self, index: int, unit: str, reads: list, writes: list) -> list:
        latest = {}  # unit -> the latest instruction of it to wait for

        def depend(on) -> None:
            # Its own unit runs instructions in order: no wait needed on it.
            if on is not None and on[1] != unit:
                latest[on[1]] = max(latest.get(on[1], -1), on[0])

        for region, (writer, readers) in self.regions.items():
            if any(_overlap(region, r) for r in reads):
                depend(writer)
            if any(_overlap(region, w) for w in writes):
                depend(writer)
                for reader_unit, reader in readers.items():
                    depend((reader, reader_unit))
        for region in reads:
            self.regions.setdefault(region, [None, {}])[1][unit] = index
        for region in writes:
            self.regions[region] = [(index, unit), {}]
        for region in reads + writes:
            self.buffer_bytes = max(self.buffer_bytes, region[1])
        return sorted(latest.values())
