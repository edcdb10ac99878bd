"""``tgc.runtime.load(path)``: runs an artifact written by `tgc compile`, with numpy and ctypes
only.

This is the deployment end of ahead-of-time compilation (tgc/driver/aot.py writes the artifact): it
never imports MLIR or the rest of tgc's compiler. The artifact's entry point is the C interface of
the compiled ``main`` (``_mlir_ciface_<fn>``): a pointer to the results (a struct of memref
descriptors), then one descriptor pointer per argument -- the feeds, then the values of the
variables it reads. It returns the fetches, then the new values of the variables it assigned: a
variable it reads too is updated in the Artifact's own array (by default; an artifact compiled with
--variables-read-only returns it in a new buffer), the rest in buffers it malloc'ed; each becomes a
numpy array over its buffer, freed with the array (as tgc/runtime/executable.py does for the JIT).

Variables live in the Artifact between calls, starting from the initial values stored at compile
time; ``save``/``restore`` checkpoint them (tgc/runtime/checkpoint.py). A graph with random ops
takes a step counter as its last argument; the Artifact fills it (1, 2, ...) so each call draws
anew.

The entry point is called through the C extension's guarded trampoline (tgc/runtime/_fastcall.c)
when it is built: a run-time check or an allocation that fails in the code raises TensorFlow's error
(InvalidArgumentError, ResourceExhaustedError) and the artifact stays usable. Its call_unpacked_plan
does the whole call in C, as a Session's call does: descriptors packed, results wrapped as arrays
over the buffers the code malloc'ed (no copy). Without the extension it is called by ctypes, with
the descriptors written here: shape errors are raised after the call, a failed allocation is not
survived. Results are the arrays' own memory on every path.

The code comes from the shipped shared library when it loads here; otherwise (another CPU, or no
library because it was cross-compiled) from the shipped LLVM IR, compiled for this CPU by llvmlite
if that is installed.

Nothing in an artifact is trusted before it is checked (tgc/runtime/artifact_checks.py): the
manifest against its JSON schema and itself, every file against the size and SHA-256 recorded at
compile time, the library's ELF header, every variable against its dtype and shape, and the
signature hash compiled into the code against the manifest's. A failed check raises ArtifactError
naming the file and the field or array.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import platform
import tarfile
import tempfile
import threading

import numpy as np

from tgc.runtime import artifact_checks as checks
from tgc.runtime import checkpoint
from tgc.runtime.blas_threads import ThreadScope
from tgc.runtime import executable, host_calls
from tgc.runtime.executable import (
    _GLOBAL_SENTINEL,
    _copy_out,
    _free,
    _is_c_contiguous,
    _MallocBlock,
    _typestr,
    descriptor_words,
    install_error_handler,
    install_host_handler,
    own_setter_names,
    raise_pending_error,
    runtime_error,
)

FORMAT_VERSION = 2
_NO_SCOPE = contextlib.nullcontext()  # reusable: the "with" of a call that needs no ThreadScope
STEP_NAME = "tgc/rng_step"
_DTYPES = {
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
}


class ArtifactError(Exception):
    """The artifact cannot be loaded or called as asked (said in the user's terms)."""


class InvalidArtifact(ArtifactError, checks.InvalidArtifact):
    """The artifact is damaged or was changed after compile: names the file and the field."""


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
        self.shape = tuple(None if d is None else int(d) for d in entry["shape"])

    @property
    def rank(self) -> int:
        return len(self.shape)

    def describe(self) -> str:
        return (
            "["
            + ", ".join("?" if d is None else str(d) for d in self.shape)
            + f"] {self.dtype.name}"
        )

    def __repr__(self) -> str:
        return f"{self.name}: {self.describe()}"


class Signature:
    def __init__(self, inputs: list, outputs: list, variables: list):
        self.inputs, self.outputs, self.variables = inputs, outputs, variables

    def __repr__(self) -> str:
        def show(items):
            return ", ".join(map(repr, items))

        return (
            f"Signature(inputs=[{show(self.inputs)}], outputs=[{show(self.outputs)}], "
            f"variables=[{show(self.variables)}])"
        )


class Artifact:
    """A loaded artifact: ``art(x=array)`` or ``art(array)`` returns {fetch name: array}.
    ``threads`` is the most threads a call's matmuls use when the artifact was compiled with
    ``--blas`` (numpy's OpenBLAS) and those of tgc's own GEMM code (its parallel runtime, linked
    into the library: ``tgc_set_threads``); 0: tgc decides, fewer while other processes keep cores
    busy: tgc/runtime/blas_threads.py."""

    def __init__(self, path: str, prefer: str = "library", threads: int = 0):
        if prefer not in ("library", "llvm-ir"):
            raise ArtifactError(f"prefer must be 'library' or 'llvm-ir', not {prefer!r}")
        try:
            self._blas_threads = ThreadScope(threads, "threads")
        except (TypeError, ValueError) as exc:
            raise ArtifactError(str(exc)) from None
        self.path = _unpacked(os.fspath(path), self)
        try:
            self._load(prefer)
        except checks.InvalidArtifact as exc:
            raise InvalidArtifact(str(exc)) from None

    def _load(self, prefer: str) -> None:
        self.manifest = _read_manifest(self.path)
        entry = self.manifest["entry_points"][0]
        self.signature = Signature(
            [TensorInfo(e) for e in self.manifest["inputs"]],
            [TensorInfo(e) for e in self.manifest["outputs"]],
            [TensorInfo(e) for e in self.manifest["variables"]],
        )
        self._arguments = [TensorInfo(e) for e in entry["arguments"]]
        self._results = [TensorInfo(e) for e in entry["results"]]
        self._var_inputs = list(self.manifest["variables_read"])
        self._var_outputs = list(self.manifest["variables_assigned"])
        self._initial = self._read_initial_values()
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0
        self.backend, self._keep, address, signature = _load_code(
            self.path, self.manifest, entry["symbol"], prefer
        )
        _check_compiled_signature(self.path, self.manifest, signature)
        # The library's own setters (<c_prefix>_set_...): tgc_set_... may be another tgc library's
        # where one defining those names was loaded globally first.
        self._c_prefix = self.manifest.get("c_prefix")
        _connect_error_handler(self.backend, self._keep, self._c_prefix)
        self._prepare_call(address)

    # ---- calling ---------------------------------------------------------------------------------

    def _prepare_call(self, address: int) -> None:
        n_args = len(self._arguments) + (1 if self._results else 0)
        self._fn = ctypes.CFUNCTYPE(None, *([ctypes.c_void_p] * n_args))(address)
        self._in_offsets = np.cumsum(
            [0] + [descriptor_words(a.rank) for a in self._arguments]
        ).tolist()
        self._out_offsets = np.cumsum(
            [0] + [descriptor_words(r.rank) for r in self._results]
        ).tolist()
        self._in_desc = np.zeros(max(self._in_offsets[-1], 1), np.int64)
        self._descriptors_lock = threading.Lock()
        self._out_desc = np.zeros(max(self._out_offsets[-1], 1), np.int64)
        pointers = [self._in_desc.ctypes.data + 8 * off for off in self._in_offsets[:-1]]
        self._pointers = ([self._out_desc.ctypes.data] if self._results else []) + pointers
        self._output_names = [o.name for o in self.signature.outputs]
        self._in_place_results = self._in_place()
        self._written = sorted(set(self._in_place_results.values()))
        # Code that calls OpenBLAS (built with --blas) or has tgc's parallel GEMM runtime linked in
        # (<c_prefix>_set_threads) needs its thread count set per call.
        self._blas_threads.runtime = _thread_setter(self.backend, self._keep, self._c_prefix)
        needs_scope = self.manifest.get("blas", True) or self._blas_threads.runtime is not None
        self._scope = self._blas_threads if needs_scope else _NO_SCOPE
        # With the C extension the entry point is called behind its guard: a failed allocation in
        # the code unwinds to the call and raises ResourceExhaustedError (a ctypes call cannot be
        # unwound). Its call_unpacked_plan does the whole call in C, as a Session's call does
        # (tgc/runtime/executable.py): descriptors packed, results wrapped without a copy.
        self._guard = executable._fastcall
        self._c_call_plan = None
        if self._guard is not None and n_args <= self._guard.max_unpacked_args():
            self._address = address
            self._pointer_array = (ctypes.c_void_p * max(n_args, 1))(*self._pointers)
            if hasattr(self._guard, "call_unpacked_plan"):  # an extension built before it lacks it
                self._c_call_plan = self._c_plan(address)
        else:
            self._guard = None

    def _in_place(self) -> dict:
        """Result index -> argument index of each variable the code reads and assigns. Code
        compiled in place (`tgc compile`'s default, manifest "variables_in_place") updates such a
        variable where it lies and returns it, as a Session's code does: then the result is the
        Artifact's own array, not a copy, and the array passed must be writable. Code compiled
        with --variables-read-only (or before the default changed) only reads its arguments and
        returns each new value in a buffer of its own."""
        first_variable = len(self._arguments) - len(self._var_inputs)
        fetched = len(self.signature.outputs)
        return {
            fetched + k: first_variable + self._var_inputs.index(name)
            for k, name in enumerate(self._var_outputs)
            if name in self._var_inputs
        }

    def _c_plan(self, address: int) -> tuple:
        """call_unpacked_plan's plan (tgc/runtime/_fastcall.c): a variable's argument may be
        written, and its result may be that argument's array."""
        in_place, written = self._in_place_results, self._written
        return (
            address,
            tuple(
                (a.dtype, a.rank, off, i in written)
                for i, (a, off) in enumerate(zip(self._arguments, self._in_offsets))
            ),
            tuple(
                (r.dtype, r.rank, off, in_place.get(i, -1))
                for i, (r, off) in enumerate(zip(self._results, self._out_offsets))
            ),
        )

    def _call_entry(self) -> None:
        """Runs the entry point on the descriptors _describe wrote; raises what a run-time check
        reported."""
        if self._guard is None:
            self._fn(*self._pointers)
            raise_pending_error()  # a shape check that failed (tgc/lowering/runtime_errors.py)
            return
        try:
            self._guard.call_unpacked(
                self._address, ctypes.addressof(self._pointer_array), len(self._pointers)
            )
        except self._guard.Failure as failure:
            raise runtime_error(*failure.args) from None

    def __call__(self, *args, **kwargs) -> dict:
        feeds = self._bind(args, kwargs)
        arrays = [self._check(info, value) for info, value in zip(self.signature.inputs, feeds)]
        if self.manifest.get("step_input"):
            self.step += 1
            arrays.append(np.asarray(self.step, np.int64))
        arrays += [self.variables[n] for n in self._var_inputs]
        outputs = self._call_code(arrays)
        fetched = len(self.signature.outputs)
        self.variables.update(zip(self._var_outputs, outputs[fetched:]))
        return dict(zip(self._output_names, outputs[:fetched]))

    def _call_code(self, arrays: list) -> list:
        """The entry point's results for the argument ``arrays`` (C-contiguous, of the
        arguments' dtypes): in one C call where the extension has call_unpacked_plan, else
        descriptors written here and the call made by the guard or ctypes."""
        with self._scope:
            if self._c_call_plan is not None:
                try:
                    out = self._guard.call_unpacked_plan(self._c_call_plan, tuple(arrays))
                except self._guard.Failure as failure:
                    raise runtime_error(*failure.args) from None
                if out is not None:
                    return out
            for i in self._written:  # the code may write there: never into a read-only array
                if not arrays[i].flags.writeable:
                    arrays[i] = arrays[i].copy()
            # One descriptor buffer per artifact, and a ctypes call releases the GIL: another
            # thread's call must not rewrite it before this call's results are read.
            with self._descriptors_lock:
                for info, off, a in zip(self._arguments, self._in_offsets, arrays):
                    self._describe(off, info.rank, a)
                self._call_entry()
                return self._collect(arrays)

    @functools.cached_property
    def _input_names(self) -> list:
        # Read by _bind, which the GPU's and the accelerator's artifacts share without running
        # this class's loading.
        return [i.name for i in self.signature.inputs]

    def _bind(self, args: tuple, kwargs: dict) -> list:
        names = self._input_names
        if not kwargs and len(args) == len(names):
            return list(args)  # every input in order
        if not args and len(kwargs) == len(names):
            try:  # every input by its name: the usual call
                return [kwargs[name] for name in names]
            except KeyError:
                pass  # names with ':0', or a wrong name: the general path says which
        inputs = self.signature.inputs
        if len(args) > len(inputs):
            raise ArtifactError(
                f"expected at most {len(inputs)} inputs ({self._names()}) but got {len(args)}"
            )
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
            raise ArtifactError(
                f"missing input(s) {', '.join(missing)}; the inputs are {self._names()}"
            )
        return [values[i.name] for i in inputs]

    def _names(self) -> str:
        return ", ".join(i.name for i in self.signature.inputs) or "none"

    @staticmethod
    def _check(info: TensorInfo, value) -> np.ndarray:
        if type(value) is np.ndarray and value.dtype == info.dtype:
            # An array of the input's dtype (the usual call): only its shape to check.
            if value.ndim == info.rank and all(
                d is None or d == s for d, s in zip(info.shape, value.shape)
            ):
                return value if value.flags.c_contiguous else np.ascontiguousarray(value)
            raise ArtifactError(
                f"input '{info.name}' has shape {info.describe()}, got {list(value.shape)}"
            )
        array = np.asarray(value)
        if array.dtype == object or not (
            np.can_cast(array.dtype, info.dtype, casting="same_kind")
            or (array.dtype.kind in "biu" and info.dtype.kind in "biuf")
        ):
            raise ArtifactError(
                f"input '{info.name}' wants {info.dtype.name}, got {array.dtype.name}"
            )
        if array.ndim != info.rank or any(
            d is not None and d != s for d, s in zip(info.shape, array.shape)
        ):
            raise ArtifactError(
                f"input '{info.name}' has shape {info.describe()}, got {list(array.shape)}"
            )
        return np.asarray(
            array, dtype=info.dtype, order="C"
        )  # ascontiguousarray would make 0-d 1-d

    def _describe(self, off: int, rank: int, a: np.ndarray) -> None:
        desc, p = self._in_desc, a.ctypes.data
        desc[off], desc[off + 1], desc[off + 2] = p, p, 0
        if rank:
            desc[off + 3 : off + 3 + rank] = a.shape
            desc[off + 3 + rank : off + 3 + 2 * rank] = (
                [s // a.itemsize for s in a.strides] if a.size else 1
            )

    def _collect(self, arrays: list) -> list:
        """The results the descriptors describe. A variable updated in place is its argument's
        array; a buffer the code malloc'ed becomes the array's memory (freed with the array, as a
        Session's results); a constant global, an argument's buffer or one an earlier result
        already took is copied."""
        input_pointers = [a.ctypes.data for a in arrays]
        out, owned = [], set()
        d = self._out_desc
        for i, (info, off) in enumerate(zip(self._results, self._out_offsets)):
            rank, size = info.rank, info.dtype.itemsize
            allocated, aligned, offset = int(d[off]), int(d[off + 1]), int(d[off + 2])
            shape = tuple(int(v) for v in d[off + 3 : off + 3 + rank])
            strides = tuple(int(v) * size for v in d[off + 3 + rank : off + 3 + 2 * rank])
            address = aligned + offset * size
            source = self._in_place_results.get(i)
            if (
                source is not None
                and allocated == address == input_pointers[source]
                and allocated not in owned
            ):
                owned.add(allocated)
                out.append(arrays[source])
                continue
            ours = allocated and allocated != _GLOBAL_SENTINEL and allocated not in input_pointers
            if ours and allocated not in owned:
                owned.add(allocated)
                out.append(_owned_result(allocated, address, shape, strides, info.dtype))
            else:
                out.append(_copy_result(address, shape, strides, info.dtype))
        return out

    # ---- variables and checkpoints ---------------------------------------------------------------

    def _read_initial_values(self) -> dict:
        """The variables' initial values, each checked against the manifest's dtype and shape."""
        infos = {v.name: v for v in self.signature.variables}
        if not infos:
            return {}
        path = checks.check_file(self.path, self.manifest["files"]["variables"], self.manifest)
        try:
            with np.load(path, allow_pickle=False) as data:
                stored = {n: data[n] for n in data.files}
        except Exception as exc:  # noqa: BLE001 - a damaged zip raises many kinds (BadZipFile, zlib.error, ...)
            raise InvalidArtifact(
                f"{path}: cannot read the variables ({type(exc).__name__}: {exc})"
            ) from None
        values = {}
        for name, info in infos.items():
            if name not in stored:
                raise InvalidArtifact(f"{path}: no value for variable '{name}'")
            values[name] = _as_variable(
                stored[name], info, f"{path}: variable '{name}'", InvalidArtifact
            )
        return values

    def reset(self) -> None:
        """Variables back to their initial values, step counter to 0."""
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0

    def save(self, path: str) -> str:
        """Checkpoints the variables (and the step counter), atomically."""
        return checkpoint.save(path, self.variables, self.step)

    def restore(self, path: str) -> None:
        try:
            values, step = checkpoint.restore(path)
        except checkpoint.CheckpointError as exc:
            raise ArtifactError(str(exc)) from None
        restored = {}
        for info in self.signature.variables:
            if info.name not in values:
                raise ArtifactError(f"checkpoint {path} has no value for variable '{info.name}'")
            restored[info.name] = _as_variable(
                values[info.name], info, f"checkpoint {path}: variable '{info.name}'", ArtifactError
            )
        self.variables = restored
        self.step = step or 0

    def __repr__(self) -> str:
        return f"<tgc Artifact {self.path} ({self.backend}) {self.signature}>"


def _as_variable(array: np.ndarray, info: TensorInfo, what: str, error) -> np.ndarray:
    """``array`` as the variable ``info`` describes it, or ``error`` when its dtype or shape
    differ."""
    if info.dtype.name == "bfloat16" and array.dtype.kind == "V" and array.dtype.itemsize == 2:
        array = array.view(info.dtype)  # .npz stores bfloat16 as raw 2-byte records
    if array.dtype != info.dtype:
        raise error(f"{what} is {array.dtype.name}, the manifest says {info.dtype.name}")
    if tuple(array.shape) != info.shape:
        raise error(f"{what} has shape {list(array.shape)}, the manifest says {info.describe()}")
    return np.asarray(array, dtype=info.dtype, order="C")


def _owned_result(
    allocated: int, address: int, shape: tuple, strides: tuple, dtype: np.dtype
) -> np.ndarray:
    """The result at ``address`` in the block ``allocated`` that the code malloc'ed for it: an
    array over the block, which frees it when the last array using it goes; a copy (the block
    freed now) when it is empty or not row-major."""
    if 0 in shape or not _is_c_contiguous(shape, strides, dtype.itemsize):
        array = _copy_result(address, shape, strides, dtype)
        _free(allocated)
        return array
    block = _MallocBlock(allocated)
    block.__array_interface__ = {
        "data": (address, False),
        "shape": shape,
        "typestr": _typestr(dtype),
        "version": 3,
    }
    array = np.asarray(block)
    return array if array.dtype == dtype else array.view(dtype)


def _copy_result(address: int, shape: tuple, strides: tuple, dtype: np.dtype) -> np.ndarray:
    """A numpy copy of a result buffer: one memmove when it is C-contiguous (the usual case)."""
    array = np.empty(shape, dtype)
    if array.strides == strides or array.size <= 1:
        if array.size:
            ctypes.memmove(array.ctypes.data, address, array.nbytes)
        return array
    return _copy_out(address, shape, strides, dtype)


# ---- loading -------------------------------------------------------------------------------------


def _unpacked(path: str, owner) -> str:
    """An artifact directory; an archive (.tar, .tar.gz, .tgz) is unpacked into a temporary one."""
    if os.path.isdir(path):
        return path
    if not os.path.exists(path):
        raise ArtifactError(f"no artifact at {path}")
    try:
        is_archive = tarfile.is_tarfile(path)
    except Exception as exc:  # noqa: BLE001 - a truncated .tar.gz raises EOFError here
        raise InvalidArtifact(
            f"{path}: cannot read the artifact archive ({type(exc).__name__}: {exc})"
        ) from None
    if not is_archive:
        raise ArtifactError(f"{path} is neither an artifact directory nor an artifact archive")
    owner._tmp = tempfile.TemporaryDirectory(prefix="tgc-artifact-")
    try:
        with tarfile.open(path) as archive:
            archive.extractall(owner._tmp.name, filter="data")
    except Exception as exc:  # noqa: BLE001 - a damaged archive raises many kinds (EOFError, zlib.error, ...)
        raise InvalidArtifact(
            f"{path}: cannot unpack the artifact archive ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())})"
        ) from None
    entries = os.listdir(owner._tmp.name)
    root = os.path.join(owner._tmp.name, entries[0]) if len(entries) == 1 else owner._tmp.name
    return root if os.path.isdir(root) else owner._tmp.name


def manifest_json(path: str, fmt: str, version: int, compile_command: str) -> dict:
    """The manifest.json of the artifact directory ``path`` as a dict of format ``fmt`` and
    ``version``; ArtifactError naming the file otherwise (each format's loader then checks the
    rest)."""
    where = os.path.join(path, "manifest.json")
    try:
        with open(where, encoding="utf-8") as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            f"{path} is not a tgc artifact: cannot read manifest.json ({exc})"
        ) from None
    if not isinstance(manifest, dict):
        kind = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
            type(manifest), "null"
        )
        raise InvalidArtifact(f"{where}: holds a JSON {kind}, not an object")
    if manifest.get("format") != fmt or manifest.get("format_version") != version:
        raise ArtifactError(
            f"{path}: unsupported artifact format {manifest.get('format')!r} "
            f"version {manifest.get('format_version')!r} "
            f"(this runtime reads {fmt} version {version}; "
            f"compile it again with {compile_command})"
        )
    return manifest


def _read_manifest(path: str) -> dict:
    where = os.path.join(path, "manifest.json")
    manifest = manifest_json(path, "tgc-artifact", FORMAT_VERSION, "tgc compile")
    checks.validate_manifest(manifest, where)
    if checks.signature_digest(manifest) != manifest["signature"]["sha256"]:
        raise InvalidArtifact(
            f"{where}: its entry point, inputs, outputs or variables were changed after "
            "compile (their hash is not the recorded one)"
        )
    return manifest


def _host_matches(triple: str) -> bool:
    arch = triple.split("-", 1)[0]
    machine = platform.machine().lower()
    aliases = {
        "x86_64": {"x86_64", "amd64"},
        "aarch64": {"aarch64", "arm64"},
        "arm64": {"aarch64", "arm64"},
    }
    return (
        machine in aliases.get(arch, {arch}) and platform.system() == "Linux" and "linux" in triple
    )


def _load_code(path: str, manifest: dict, symbol: str, prefer: str):
    """(backend name, objects to keep alive, address of the entry point, compiled signature
    hash)."""
    library = manifest["files"].get("library")
    reason = "the artifact has no shared library (cross-compiled)"
    signature_symbol = manifest["signature"]["symbol"]
    if prefer == "library" and library:
        if not _host_matches(manifest["target"]["triple"]):
            reason = f"its library is for {manifest['target']['triple']}"
        else:
            library_path = checks.check_file(path, library, manifest)
            checks.check_elf(library_path)
            try:
                lib = ctypes.CDLL(library_path)
                address = ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value
                signature = _c_string(
                    ctypes.cast(getattr(lib, signature_symbol), ctypes.c_void_p).value
                )
                return "library", lib, address, signature
            except (OSError, AttributeError) as exc:
                reason = f"its library does not load here ({exc})"
    return _load_llvm_ir(path, manifest, symbol, reason)


def _connect_error_handler(backend: str, keep, prefix: str | None) -> None:
    """The code's run-time checks report to this runtime, and its prints and assertions' data come
    to tgc/runtime/host_calls.py (artifacts compiled before them have no setters). The error
    handler goes through the library's own ``<prefix>_set_error_handler`` where it has one."""
    for names, install in (
        (own_setter_names(prefix, "error_handler"), install_error_handler),
        ([host_calls.SET_HOST_HANDLER], install_host_handler),
    ):
        address = _first_address(backend, keep, names)
        if address:
            install(address)


def _first_address(backend: str, keep, names: list) -> int:
    """The address of the first of ``names`` the loaded code defines (0: none)."""
    for name in names:
        if backend == "library":
            found = getattr(keep, name, None)
            address = ctypes.cast(found, ctypes.c_void_p).value if found is not None else 0
        else:
            address = keep[0].get_function_address(name)
        if address:
            return address
    return 0


def _thread_setter(backend: str, keep, prefix: str | None):
    """``<prefix>_set_threads`` (or, in a library built before it, ``tgc_set_threads``) of the
    library's parallel GEMM runtime (tgc/lowering/cpu/parallel_gemm.py), or None when it has none
    (LLVM IR compiled by llvmlite runs its GEMMs on the calling thread)."""
    if backend != "library":
        return None
    for name in own_setter_names(prefix, "threads"):
        setter = getattr(keep, name, None)
        if setter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            return setter
    return None


def _c_string(address: int | None) -> str | None:
    return ctypes.string_at(address, 64).decode("ascii", errors="replace") if address else None


def _check_compiled_signature(path: str, manifest: dict, compiled: str | None) -> None:
    """The code was compiled for the signature the manifest describes (tgc/driver/aot.py)."""
    if compiled != manifest["signature"]["sha256"]:
        raise InvalidArtifact(
            f"{path}: the compiled code was built for another signature than manifest.json "
            "describes (the signature hash in the code differs)"
        )


def _load_llvm_ir(path: str, manifest: dict, symbol: str, reason: str):
    """Compiles the shipped LLVM IR for this CPU with llvmlite (optional dependency)."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        raise ArtifactError(
            f"cannot run {path}: {reason}, and llvmlite (to compile its LLVM IR for this "
            "machine) is not installed"
        ) from None
    ir_path = checks.check_file(path, manifest["files"]["llvm_ir"], manifest)
    try:
        with open(ir_path, encoding="utf-8") as fh:
            text = fh.read()
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        machine = target.create_target_machine(
            cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3
        )
        lines = [
            line
            for line in text.splitlines()
            if not line.startswith(("target triple", "target datalayout"))
        ]
        module = llvm.parse_assembly("\n".join(lines))
        module.triple, module.data_layout = llvm.get_process_triple(), str(machine.target_data)
        module.verify()
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
    except (OSError, UnicodeDecodeError, RuntimeError) as exc:
        raise InvalidArtifact(
            f"{ir_path}: llvmlite cannot compile it ({' '.join(str(exc).split())})"
        ) from None
    signature = _c_string(engine.get_global_value_address(manifest["signature"]["symbol"]))
    return "llvmlite", (engine, module, machine), engine.get_function_address(symbol), signature


def load(path: str, prefer: str = "library", threads: int = 0) -> Artifact:
    """Loads an artifact directory or archive; ``prefer="llvm-ir"`` compiles its IR with
    llvmlite; ``threads``: the most threads a call's matmuls use, OpenBLAS's (built with --blas) or
    tgc's generated GEMM's (0: tgc decides)."""
    return Artifact(path, prefer, threads)


__all__ = ["load", "Artifact", "ArtifactError", "InvalidArtifact", "Signature", "TensorInfo"]
