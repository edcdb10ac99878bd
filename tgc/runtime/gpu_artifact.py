"""Loads and runs an nvptx artifact ("tgc-nvptx-artifact", written by `tgc compile --target nvptx`)
on an NVIDIA GPU, with numpy, ctypes and cuda-bindings only.

The artifact directory holds::

    manifest.json   the signature (inputs, outputs, variables, as the CPU artifact's), the
                    launch plan (kernels, grid and block of each launch, argument order,
                    workspace), the GPU architecture, each file's size and SHA-256, the hash of
                    the signature
    kernels.ptx     the kernels as PTX; its first line is the signature hash
    kernels.cubin   the same, assembled by ptxas for the manifest's gpu_arch (absent without ptxas)
    variables.npz   initial variable values

``load(path)`` checks all of it (the manifest against gpu_manifest.schema.json and against itself,
the launch plan's indices and sizes, every file's checksum, the PTX's signature line) before a byte
reaches the GPU, then loads the cubin when the GPU is of its architecture and the PTX otherwise (the
driver compiles it). The loaded artifact is called as the CPU's is: ``art(x=array)`` returns
{fetch name: array}; variables live in ``art.variables`` between calls (on the GPU: a variable the
function assigns stays there as a DeviceArray, which numpy reads as an array), ``save``/``restore``
checkpoint them. Without a usable GPU, loading raises ArtifactError saying why (``cuda_status``);
``load(path, device=None)`` reads and checks the artifact without a GPU (`tgc inspect` does).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os

import numpy as np

from tgc.runtime import artifact_checks as checks
from tgc.runtime import errors
from tgc.runtime.artifact import (
    Artifact,
    ArtifactError,
    InvalidArtifact,
    Signature,
    TensorInfo,
    _unpacked,
    manifest_json,
)

FORMAT = "tgc-nvptx-artifact"
FORMAT_VERSION = 1
SCHEMA_FILE = "gpu_manifest.schema.json"
SIGNED_FIELDS = (*checks.SIGNATURE_FIELDS, "launch_plan", "target")
PTX_SIGNATURE_PREFIX = "// tgc signature sha256 "
POINTER_KINDS = ("argument", "buffer", "constant")
# How kernels store a dtype that has no memory type of its own: a bool is one byte, 0 or 1.
STORAGE = {"bool": "int8"}


def signature_digest(manifest: dict) -> str:
    """SHA-256 (hex) of what the kernels and launches were compiled for: the signature fields,
    the launch plan and the target."""
    fields = {key: manifest[key] for key in SIGNED_FIELDS}
    return hashlib.sha256(
        json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def ptx_signature_line(digest: str) -> str:
    """The comment the PTX starts with, tying it to its manifest."""
    return PTX_SIGNATURE_PREFIX + digest


# ---- checking the manifest -----------------------------------------------------------------------


def read_manifest(path: str) -> dict:
    """The manifest of the artifact directory ``path``, checked against the schema and itself."""
    where = os.path.join(path, "manifest.json")
    manifest = manifest_json(path, FORMAT, FORMAT_VERSION, "tgc compile --target nvptx")
    _validate(manifest, where)
    if signature_digest(manifest) != manifest["signature"]["sha256"]:
        raise InvalidArtifact(
            f"{where}: its signature, launch plan or target were changed after compile (their "
            "hash is not the recorded one)"
        )
    return manifest


def _validate(manifest: dict, where: str) -> None:
    # The schema, then the entry point against the inputs and variables, then the plan.
    checks.validate_manifest(manifest, where, SCHEMA_FILE)
    _check_plan(manifest, where)


def _check_plan(manifest: dict, where: str) -> None:
    """The entry point's function is in the plan with the entry's arguments, and every index and
    offset of the plan stays inside what it indexes: a wrong one would make a kernel write
    through a pointer into some other buffer."""
    entry = manifest["entry_points"][0]
    plan = manifest["launch_plan"]
    function = plan["functions"].get(entry["symbol"])
    field = f"launch_plan.functions.{entry['symbol']}"
    if function is None:
        raise InvalidArtifact(f"{where}: field 'launch_plan.functions': no '{entry['symbol']}'")
    wanted = entry["arguments"] + entry["results"]
    have = function["arguments"]
    if (
        len(have) != len(wanted)
        or function["results"] != len(entry["results"])
        or any(not _stores(h, w) for h, w in zip(have, wanted))
    ):
        raise InvalidArtifact(
            f"{where}: field '{field}.arguments': they are not the entry point's arguments and "
            "results"
        )
    for index in function.get("written_arguments", []):
        if index >= len(have):
            raise InvalidArtifact(
                f"{where}: field '{field}.written_arguments': there is no argument {index}"
            )
    for index, buffer in enumerate(function["buffers"]):
        if buffer["offset"] + _nbytes(buffer) > function["workspace_bytes"]:
            raise InvalidArtifact(
                f"{where}: field '{field}.buffers[{index}]': it ends past the workspace"
            )
    for index, constant in enumerate(function["constants"]):
        try:
            size = len(base64.b64decode(constant["data"], validate=True))
        except binascii.Error:
            size = -1
        if size != _nbytes(constant):
            raise InvalidArtifact(
                f"{where}: field '{field}.constants[{index}].data': not the base64 of "
                f"{_nbytes(constant)} bytes"
            )
    sizes = {
        "argument": [_nbytes(a) for a in function["arguments"]],
        "buffer": [_nbytes(b) for b in function["buffers"]],
        "constant": [_nbytes(c) for c in function["constants"]],
    }
    for index, step in enumerate(function["steps"]):
        where_step = f"{where}: field '{field}.steps[{index}]"
        if "launch" in step:
            _check_launch(step["launch"], plan["kernels"], sizes, where_step)
        elif "check" in step:
            _check_record(step["check"], sizes, where_step)
        else:
            _check_copy(step["copy"], sizes, where_step)


def _check_launch(launch: dict, kernels: list, sizes: dict, where: str) -> None:
    if launch["kernel"] not in kernels:
        raise InvalidArtifact(
            f"{where}.launch.kernel': '{launch['kernel']}' is not in launch_plan.kernels"
        )
    for position, (kind, value) in enumerate(launch["args"]):
        if kind in POINTER_KINDS and not (isinstance(value, int) and 0 <= value < len(sizes[kind])):
            raise InvalidArtifact(f"{where}.launch.args[{position}]': there is no {kind} {value}")


def _check_record(check: dict, sizes: dict, where: str) -> None:
    """A device check's record is a buffer of ``count`` int64s: reading more would read past it."""
    kind, value = check["source"]
    if value >= len(sizes[kind]) or sizes[kind][value] < 8 * check["count"]:
        raise InvalidArtifact(f"{where}.check.source': there is no {kind} {value} of that size")


def _check_copy(copy: dict, sizes: dict, where: str) -> None:
    for end in ("source", "target"):
        kind, value = copy[end]
        if value >= len(sizes[kind]):
            raise InvalidArtifact(f"{where}.copy.{end}': there is no {kind} {value}")
        if copy["bytes"] > sizes[kind][value]:
            raise InvalidArtifact(
                f"{where}.copy.bytes': {copy['bytes']} bytes do not fit {kind} {value} "
                f"({sizes[kind][value]} bytes)"
            )


def _stores(buffer: dict, tensor: dict) -> bool:
    """Whether the plan's buffer holds the tensor: same shape, and its dtype or its storage."""
    dtype = buffer["dtype"]
    return buffer["shape"] == tensor["shape"] and (
        dtype == tensor["dtype"] or dtype == STORAGE.get(tensor["dtype"])
    )


def _arch_number(arch: str) -> int:
    """90 for sm_90 and sm_90a."""
    return int("".join(c for c in arch[3:] if c.isdigit()))


def _nbytes(spec: dict) -> int:
    return int(np.prod(spec["shape"], dtype=np.int64)) * _dtype(spec["dtype"]).itemsize


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


# ---- the loaded artifact -------------------------------------------------------------------------


class GpuArtifact(Artifact):
    """A loaded nvptx artifact: ``art(x=array)`` or ``art(array)`` returns {fetch name: array}."""

    def __init__(self, path: str, device: str | None = "cuda", profile: bool | None = None):
        """``profile``: time each kernel launch on the GPU (kernel_times()); None: when the
        environment sets TGC_GPU_PROFILE=1."""
        if device not in ("cuda", None):
            raise ArtifactError(f"device must be 'cuda' or None, not {device!r}")
        self.path = _unpacked(os.fspath(path), self)
        self.backend, self._device, self._plan = "no kernels", None, None
        if profile is None:
            profile = os.environ.get("TGC_GPU_PROFILE", "") not in ("", "0")
        self.profile = profile
        try:
            self._read()
        except checks.InvalidArtifact as exc:
            raise InvalidArtifact(str(exc)) from None
        if device == "cuda":
            self._start_cuda()

    def _read(self) -> None:
        self.manifest = read_manifest(self.path)
        entry = self.manifest["entry_points"][0]
        self.signature = Signature(
            [TensorInfo(e) for e in self.manifest["inputs"]],
            [TensorInfo(e) for e in self.manifest["outputs"]],
            [TensorInfo(e) for e in self.manifest["variables"]],
        )
        self.function = entry["symbol"]
        self._results = [TensorInfo(e) for e in entry["results"]]
        self.launch_plan = self.manifest["launch_plan"]["functions"][self.function]
        self._var_inputs = list(self.manifest["variables_read"])
        self._var_outputs = list(self.manifest["variables_assigned"])
        self._initial = self._read_initial_values()
        self.variables = {n: v.copy() for n, v in self._initial.items()}
        self.step = 0
        self._ptx = self._read_file("ptx")
        first_line = self._ptx.split(b"\n", 1)[0].decode(errors="replace")
        if first_line != ptx_signature_line(self.manifest["signature"]["sha256"]):
            raise InvalidArtifact(
                f"{os.path.join(self.path, self.manifest['files']['ptx'])}: the PTX was not "
                "compiled with this manifest (its signature line differs)"
            )

    def _read_file(self, key: str) -> bytes:
        with open(
            checks.check_file(self.path, self.manifest["files"][key], self.manifest), "rb"
        ) as f:
            return f.read()

    def _start_cuda(self) -> None:
        from tgc.runtime.cuda_device import CudaDevice, CudaError, cuda_status
        from tgc.runtime.launch_plan import LaunchPlan

        reason = cuda_status()
        if reason is not None:
            raise ArtifactError(f"cannot run {self.path}: {reason}")
        try:
            # Asked only when profiling: a device without the option still serves the rest.
            self._device = CudaDevice(profile=True) if self.profile else CudaDevice()
            arch = self._device.compute_capability()
            if self.manifest["launch_plan"]["kernels"]:
                self._refuse_older_gpu(arch)
                self.backend = self._load_code(arch)
            fetched = len(self.signature.outputs)
            self._plan = LaunchPlan(
                self.launch_plan,
                self._device,
                name=self.function,
                # A bool comes back as bool from its one-byte storage.
                output_dtypes=[r.dtype for r in self._results],
                # The variables' new values stay on the GPU for the next call (DeviceArrays).
                resident_outputs=range(fetched, len(self._results)),
            )
        except CudaError as exc:
            self.close()
            raise ArtifactError(f"cannot run {self.path} on the GPU: {exc}") from None
        except ArtifactError:
            self.close()
            raise

    def _refuse_older_gpu(self, arch: str) -> None:
        """PTX for sm_XX runs on GPUs of sm_XX and later only: say so instead of a JIT error."""
        wanted = self.manifest["target"]["gpu_arch"]
        if _arch_number(arch) < _arch_number(wanted):
            raise ArtifactError(
                f"cannot run {self.path}: it was compiled for {wanted} and this GPU is {arch} "
                f"(compile it with --target-cpu {arch})"
            )

    def _load_code(self, arch: str) -> str:
        """Loads the kernels: the cubin when it was assembled for this GPU's architecture and the
        driver takes it (a driver older than the ptxas that made it may not), else the PTX, which
        the driver compiles. Returns which was loaded."""
        from tgc.runtime.cuda_device import CudaError

        ptx = f"ptx (compiled by the driver for {arch})"
        if not self.manifest["files"]["cubin"] or arch != self.manifest["target"]["gpu_arch"]:
            self._device.load_module(self._ptx)
            return ptx
        try:
            self._device.load_module(self._read_file("cubin"))
            return f"cubin ({arch})"
        except CudaError as exc:
            self._device.load_module(self._ptx)
            return f"{ptx}; the cubin did not load: {exc}"

    def __call__(self, *args, **kwargs) -> dict:
        if self._plan is None:
            raise ArtifactError(
                f"{self.path} was loaded without a GPU (device=None): it can be inspected, not run"
            )
        from tgc.runtime.cuda_device import CudaError

        feeds = self._bind(args, kwargs)
        arrays = [self._check(info, value) for info, value in zip(self.signature.inputs, feeds)]
        if self.manifest["step_input"]:
            self.step += 1
            arrays.append(np.asarray(self.step, np.int64))
        arrays += [self.variables[n] for n in self._var_inputs]
        try:
            outputs = self._plan(*arrays)
        except CudaError as exc:
            raise errors.InternalError(
                None, None, f"running {self.function} on the GPU: {exc}"
            ) from None
        fetched = len(self.signature.outputs)
        self.variables.update(zip(self._var_outputs, outputs[fetched:]))
        return dict(zip([o.name for o in self.signature.outputs], outputs[:fetched]))

    def kernel_times(self) -> list:
        """[(kernel, launches, GPU milliseconds)] since the load or the last reset_kernel_times(),
        the most time first; loaded with profile=True (or TGC_GPU_PROFILE=1) only."""
        if self._device is None or not self.profile:
            raise ArtifactError(
                f"{self.path} was not loaded with profile=True (or TGC_GPU_PROFILE=1): "
                "no kernel times were taken"
            )
        times = self._device.kernel_times()
        rows = [(name, count, ms) for name, (count, ms) in times.items()]
        return sorted(rows, key=lambda row: -row[2])

    def reset_kernel_times(self) -> None:
        if self._device is not None:
            self._device.reset_kernel_times()

    @property
    def device(self):
        """The CudaDevice the artifact runs on (None when it was loaded without a GPU)."""
        return self._device

    def close(self) -> None:
        """Frees the GPU memory and module of this artifact; its variables stay readable (their
        values are copied to the host first)."""
        self.variables = {n: np.array(v) for n, v in self.variables.items()}
        if self._plan is not None:
            self._plan.close()
            self._plan = None
        if self._device is not None:
            self._device.close()
            self._device = None

    def __repr__(self) -> str:
        where = self.backend if self._plan is not None else "not loaded on a GPU"
        return f"<tgc GpuArtifact {self.path} ({where}) {self.signature}>"


def load(path: str, device: str | None = "cuda", profile: bool | None = None) -> GpuArtifact:
    """Loads an nvptx artifact directory or archive onto the GPU (``device=None``: read and check
    it only; ``profile=True``: time each kernel, see GpuArtifact.kernel_times)."""
    return GpuArtifact(path, device, profile)


__all__ = ["load", "GpuArtifact", "read_manifest", "signature_digest", "ptx_signature_line"]
