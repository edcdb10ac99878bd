"""``tgc.runtime.load(path)``: runs an artifact written by `tgc compile`, with numpy and ctypes only.

This is the deployment end of ahead-of-time compilation (tgc/lowering/aot.py writes the artifact): it
never imports MLIR or the rest of tgc's compiler. The artifact's entry point is the C interface of the
compiled ``main`` (``_mlir_ciface_<fn>``): a pointer to the results (a struct of memref descriptors),
then one descriptor pointer per argument -- the feeds, then the values of the variables it reads. It
returns the fetches, then the new values of the variables it assigned, in buffers it malloc'ed; the
caller copies them into numpy and frees them (as tgc/runtime/executable.py does for the JIT).

Variables live in the Artifact between calls, starting from the initial values stored at compile
time; ``save``/``restore`` checkpoint them (tgc/runtime/checkpoint.py). A graph with random ops takes
a step counter as its last argument; the Artifact fills it (1, 2, ...) so each call draws anew.

The code comes from the shipped shared library when it loads here; otherwise (another CPU, or no
library because it was cross-compiled) from the shipped LLVM IR, compiled for this CPU by llvmlite if
that is installed.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import tarfile
import tempfile

import numpy as np

from tgc.runtime import checkpoint
from tgc.runtime.executable import _GLOBAL_SENTINEL, _copy_out, _free, descriptor_words

FORMAT_VERSION = 1
STEP_NAME = "tgc/rng_step"
_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64, "int32": np.int32,
           "int64": np.int64, "bool": np.bool_}


class ArtifactError(Exception):
    """The artifact cannot be loaded or called as asked (said in the user's terms)."""


def _numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes  # a dependency of tgc; only needed for bfloat16 tensors

        return np.dtype(ml_dtypes.bfloat16)
    if name not in _DTYPES:
        raise ArtifactError(f"unsupported dtype '{name}' in the artifact")
    return np.dtype(_DTYPES[name])


class TensorInfo:
    """One input, output or variable: its name, numpy dtype and shape (None for dynamic dims)."""

    def __init__(self, entry: dict):
        self.name = entry["name"]
        self.dtype = _numpy_dtype(entry["dtype"])
        self.shape = tuple(entry["shape"])

    @property
    def rank(self) -> int:
        return len(self.shape)

    def describe(self) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in self.shape) + f"] {self.dtype.name}"

    def __repr__(self) -> str:
        return f"{self.name}: {self.describe()}"


class Signature:
    def __init__(self, inputs: list, outputs: list, variables: list):
        self.inputs, self.outputs, self.variables = inputs, outputs, variables

    def __repr__(self) -> str:
        show = lambda items: ", ".join(map(repr, items))
        return f"Signature(inputs=[{show(self.inputs)}], outputs=[{show(self.outputs)}], variables=[{show(self.variables)}])"


class Artifact:
    """A loaded artifact: ``art(x=array)`` or ``art(array)`` returns {fetch name: array}."""

    def __init__(self, path: str, prefer: str = "library"):
        self.path = _unpacked(os.fspath(path), self)
        self.manifest = _read_manifest(self.path)
        entry = self.manifest["entry_points"][0]
        self.signature = Signature([TensorInfo(e) for e in self.manifest["inputs"]],
                                   [TensorInfo(e) for e in self.manifest["outputs"]],
                                   [TensorInfo(e) for e in self.manifest["variables"]])
        self._arguments = [TensorInfo(e) for e in entry["arguments"]]
        self._results = [TensorInfo(e) for e in entry["results"]]
        self._var_inputs = list(self.manifest["variables_read"])
        self._var_outputs = list(self.manifest["variables_assigned"])
        self._initial = self._read_initial_values()
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0
        self.backend, self._keep, address = _load_code(self.path, self.manifest, entry["symbol"], prefer)
        self._prepare_call(address)

    # ---- calling -------------------------------------------------------------------------------------

    def _prepare_call(self, address: int) -> None:
        n_args = len(self._arguments) + (1 if self._results else 0)
        self._fn = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_args))(address)
        self._in_offsets = np.cumsum([0] + [descriptor_words(a.rank) for a in self._arguments]).tolist()
        self._out_offsets = np.cumsum([0] + [descriptor_words(r.rank) for r in self._results]).tolist()
        self._in_desc = np.zeros(max(self._in_offsets[-1], 1), np.int64)
        self._out_desc = np.zeros(max(self._out_offsets[-1], 1), np.int64)
        pointers = [self._in_desc.ctypes.data + 8 * off for off in self._in_offsets[:-1]]
        self._pointers = ([self._out_desc.ctypes.data] if self._results else []) + pointers

    def __call__(self, *args, **kwargs) -> dict:
        feeds = self._bind(args, kwargs)
        arrays = [self._check(info, value) for info, value in zip(self.signature.inputs, feeds)]
        if self.manifest.get("step_input"):
            self.step += 1
            arrays.append(np.asarray(self.step, np.int64))
        arrays += [self.variables[n] for n in self._var_inputs]
        for info, off, a in zip(self._arguments, self._in_offsets, arrays):
            self._describe(off, info.rank, a)
        self._fn(*self._pointers)
        outputs = self._collect({a.ctypes.data for a in arrays})
        fetched = len(self.signature.outputs)
        self.variables.update(zip(self._var_outputs, outputs[fetched:]))
        return dict(zip([o.name for o in self.signature.outputs], outputs[:fetched]))

    def _bind(self, args: tuple, kwargs: dict) -> list:
        inputs = self.signature.inputs
        if len(args) > len(inputs):
            raise ArtifactError(f"expected at most {len(inputs)} inputs ({self._names()}) but got {len(args)}")
        values = dict(zip([i.name for i in inputs], args))
        for key, value in kwargs.items():
            name = key[:-2] if key.endswith(":0") else key
            if name not in {i.name for i in inputs}:
                raise ArtifactError(f"unknown input '{key}'; the inputs are {self._names()}")
            if name in values:
                raise ArtifactError(f"input '{name}' given twice")
            values[name] = value
        missing = [i.name for i in inputs if i.name not in values]
        if missing:
            raise ArtifactError(f"missing input(s) {', '.join(missing)}; the inputs are {self._names()}")
        return [values[i.name] for i in inputs]

    def _names(self) -> str:
        return ", ".join(i.name for i in self.signature.inputs) or "none"

    @staticmethod
    def _check(info: TensorInfo, value) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype == object or not (np.can_cast(array.dtype, info.dtype, casting="same_kind")
                                         or (array.dtype.kind in "biu" and info.dtype.kind in "biuf")):
            raise ArtifactError(f"input '{info.name}' wants {info.dtype.name}, got {array.dtype.name}")
        if array.ndim != info.rank or any(d is not None and d != s for d, s in zip(info.shape, array.shape)):
            raise ArtifactError(f"input '{info.name}' has shape {info.describe()}, got {list(array.shape)}")
        return np.ascontiguousarray(array, dtype=info.dtype)

    def _describe(self, off: int, rank: int, a: np.ndarray) -> None:
        desc, p = self._in_desc, a.ctypes.data
        desc[off], desc[off + 1], desc[off + 2] = p, p, 0
        if rank:
            desc[off + 3: off + 3 + rank] = a.shape
            desc[off + 3 + rank: off + 3 + 2 * rank] = [s // a.itemsize for s in a.strides] if a.size else 1

    def _collect(self, input_pointers: set) -> list:
        out, owned = [], set()
        d = self._out_desc
        for info, off in zip(self._results, self._out_offsets):
            rank, size = info.rank, info.dtype.itemsize
            allocated, aligned, offset = int(d[off]), int(d[off + 1]), int(d[off + 2])
            shape = tuple(int(v) for v in d[off + 3: off + 3 + rank])
            strides = tuple(int(v) * size for v in d[off + 3 + rank: off + 3 + 2 * rank])
            out.append(_copy_result(aligned + offset * size, shape, strides, info.dtype))
            if allocated and allocated != _GLOBAL_SENTINEL and allocated not in input_pointers:
                owned.add(allocated)  # results may share a buffer: free each one once
        for pointer in owned:
            _free(pointer)
        return out

    # ---- variables and checkpoints -----------------------------------------------------------------

    def _read_initial_values(self) -> dict:
        infos = {v.name: v for v in self.signature.variables}
        if not infos:
            return {}
        with np.load(os.path.join(self.path, self.manifest["files"]["variables"]), allow_pickle=False) as data:
            return {n: np.ascontiguousarray(data[n], dtype=infos[n].dtype) for n in infos if n in data.files}

    def reset(self) -> None:
        """Variables back to their initial values, step counter to 0."""
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0

    def save(self, path: str) -> str:
        """Checkpoints the variables (and the step counter), atomically."""
        return checkpoint.save(path, self.variables, self.step)

    def restore(self, path: str) -> None:
        values, step = checkpoint.restore(path)
        for info in self.signature.variables:
            if info.name not in values:
                raise ArtifactError(f"checkpoint {path} has no value for variable '{info.name}'")
            if tuple(values[info.name].shape) != info.shape:
                raise ArtifactError(f"checkpoint value of '{info.name}' has shape {list(values[info.name].shape)}, "
                                    f"the variable {info.describe()}")
        self.variables = {i.name: np.ascontiguousarray(values[i.name], dtype=i.dtype) for i in self.signature.variables}
        self.step = step or 0

    def __repr__(self) -> str:
        return f"<tgc Artifact {self.path} ({self.backend}) {self.signature}>"


def _copy_result(address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
    """A numpy copy of a result buffer: one memmove when it is C-contiguous (the usual case)."""
    array = np.empty(shape, dtype)
    if array.strides == strides or array.size <= 1:
        if array.size:
            ctypes.memmove(array.ctypes.data, address, array.nbytes)
        return array
    return _copy_out(address, shape, strides, dtype)


# ---- loading -------------------------------------------------------------------------------------------


def _unpacked(path: str, owner) -> str:
    """An artifact directory; an archive (.tar, .tar.gz, .tgz) is unpacked into a temporary one."""
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise ArtifactError(f"no artifact at {path}")
    if not tarfile.is_tarfile(path):
        raise ArtifactError(f"{path} is neither an artifact directory nor an artifact archive")
    owner._tmp = tempfile.TemporaryDirectory(prefix="tgc-artifact-")
    with tarfile.open(path) as archive:
        archive.extractall(owner._tmp.name, filter="data")
    entries = os.listdir(owner._tmp.name)
    root = os.path.join(owner._tmp.name, entries[0]) if len(entries) == 1 else owner._tmp.name
    return root if os.path.isdir(root) else owner._tmp.name


def _read_manifest(path: str) -> dict:
    try:
        with open(os.path.join(path, "manifest.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{path} is not a tgc artifact: cannot read manifest.json ({exc})") from None
    if manifest.get("format") != "tgc-artifact" or manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{path}: unsupported artifact format {manifest.get('format')!r} "
                            f"version {manifest.get('format_version')!r} (this runtime reads version {FORMAT_VERSION})")
    return manifest


def _host_matches(triple: str) -> bool:
    arch = triple.split("-", 1)[0]
    machine = platform.machine().lower()
    aliases = {"x86_64": {"x86_64", "amd64"}, "aarch64": {"aarch64", "arm64"}, "arm64": {"aarch64", "arm64"}}
    return machine in aliases.get(arch, {arch}) and platform.system() == "Linux" and "linux" in triple


def _load_code(path: str, manifest: dict, symbol: str, prefer: str):
    """(backend name, objects to keep alive, address of the entry point)."""
    library = manifest["files"].get("library")
    reason = "the artifact has no shared library (cross-compiled)"
    if prefer == "library" and library:
        if not _host_matches(manifest["target"]["triple"]):
            reason = f"its library is for {manifest['target']['triple']}"
        else:
            try:
                lib = ctypes.CDLL(os.path.join(path, library))
                return "library", lib, ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
            except (OSError, AttributeError) as exc:
                reason = f"its library does not load here ({exc})"
    return _load_llvm_ir(path, manifest, symbol, reason)


def _load_llvm_ir(path: str, manifest: dict, symbol: str, reason: str):
    """Compiles the shipped LLVM IR for this CPU with llvmlite (optional dependency)."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        raise ArtifactError(f"cannot run {path}: {reason}, and llvmlite (to compile its LLVM IR for this "
                            "machine) is not installed") from None
    with open(os.path.join(path, manifest["files"]["llvm_ir"]), encoding="utf-8") as fh:
        text = fh.read()
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    machine = target.create_target_machine(cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
                                           opt=3)
    lines = [line for line in text.splitlines() if not line.startswith(("target triple", "target datalayout"))]
    module = llvm.parse_assembly("\n".join(lines))
    module.triple, module.data_layout = llvm.get_process_triple(), str(machine.target_data)
    module.verify()
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    return "llvmlite", (engine, module, machine), engine.get_function_address(symbol)


def load(path: str, prefer: str = "library") -> Artifact:
    """Loads an artifact directory or archive; ``prefer="llvm-ir"`` compiles its IR with llvmlite."""
    return Artifact(path, prefer)


__all__ = ["load", "Artifact", "ArtifactError", "Signature", "TensorInfo"]
