"""Runs one function of a launch plan on a device: copies inputs in, launches kernels, copies out,
and exchanges tensors with the run's other partitions.

A plan (made by tgc/lowering/nvptx/launch_plan.py, stored in an nvptx artifact's manifest) says,
for one compiled function::

    {"arguments": [{"shape": [64, 32], "dtype": "float32"}, ...],  # inputs, then the outputs
     "results": 2,                      # the last `results` arguments are written by the kernels
     "workspace_bytes": 4096,           # one allocation holding every intermediate
     "buffers": [{"shape": ..., "dtype": ..., "offset": 0}],       # intermediates in it
     "constants": [{"shape": ..., "dtype": ..., "data": "<base64, little-endian>"}],
     "steps": [{"launch": {"kernel": NAME, "grid": [x, y, z], "block": [x, y, z],
                           "args": [["i64", 16], ["f32", 0.5], ["argument", 2], ["buffer", 0],
                                    ["constant", 0]],
                           "shared_bytes": 65536}},  # dynamic shared memory; absent: none
               {"copy": {"source": ["constant", 0], "target": ["argument", 2], "bytes": 12}},
               {"send": {"key": 0, "source": ["buffer", 0], "shape": [4, 3], "dtype": "float32"}},
               {"recv": {"key": 1, "target": ["buffer", 1], "shape": [4, 3], "dtype": "bool"}},
               {"check": {"source": ["buffer", 2], "count": 7, "kind": 5, "message": "<JSON>"}}]}

A send copies its buffer to the host and hands it to the run's rendezvous under its key (the key id
of a Send/Recv pair of the partitioned graph); a recv waits there for the key's tensor, checks its
shape and dtype and copies it into its buffer. Their dtype is the tensor's: a bool tensor's buffer
stores one byte per element (int8 in "buffers").

A check copies its record (``count`` int64s a kernel wrote: a failed flag, then the check's values)
to the host; when the flag is set the call fails with the error the CPU's compiled code raises for
the same check (``kind`` and the JSON ``message``: tgc/runtime/executable.py runtime_error), such as
tf.gather's "indices[1,1] = -1 is not in [0, 5)". Its kernels wrote nothing out of bounds (a gather
clamps bad indices), so the call just stops there.

The device (HostDevice or CudaDevice) offers kernel, alloc, free, copy_in, copy_out (which waits for
the steps queued before it), copy (device to device), launch and synchronize. A launch with
dynamic shared memory passes its bytes as launch's (and launcher's) ``shared_bytes``; one without
calls them as before, with four arguments. Memory is allocated
once and reused by every call: the workspace, the constants, one buffer per argument (shapes are
static), and a pool for the outputs that stay on the device (a variable the function assigns comes
back as a DeviceArray, which the next call takes as it is: no trip to the host between steps).
"""

from __future__ import annotations

import base64
import ctypes
import threading

import numpy as np

from tgc.runtime import errors
from tgc.runtime.device_array import DeviceArray
from tgc.runtime.executable import runtime_error

_SCALAR_TYPES = {
    "i64": ctypes.c_int64,
    "i32": ctypes.c_int32,
    "i16": ctypes.c_int16,
    "i8": ctypes.c_int8,
    "f64": ctypes.c_double,
    "f32": ctypes.c_float,
}


class LaunchPlan:
    """One function of a plan, callable as ``plan(*inputs) -> [outputs]`` (numpy arrays)."""

    def __init__(
        self,
        plan: dict,
        device,
        name: str = "function",
        output_dtypes=None,
        transfers=None,
        resident_outputs=(),
    ):
        """``output_dtypes``: what the caller expects of each output where the buffer's dtype
        differs (a bool tensor's buffer holds one byte per element, 0 or 1). ``transfers``: the
        run's TransferHub (tgc/runtime/rendezvous.py), whose ``current`` rendezvous the send and
        recv steps go through; a plan with such steps needs one. ``resident_outputs``: indices of
        the outputs that stay on the device (variables it assigned): they come back as
        DeviceArrays, which a later call takes without a copy."""
        self.name = name
        self.device = device
        self.transfers = transfers
        _check_transfers(plan, name, transfers)
        self.arguments = plan["arguments"]
        self.num_results = plan["results"]
        self.num_inputs = len(self.arguments) - self.num_results
        outputs = self.arguments[self.num_inputs :]
        self._output_dtypes = [
            np.dtype(d if d is not None else a["dtype"])
            for a, d in zip(outputs, output_dtypes or [None] * len(outputs))
        ]
        self._resident = frozenset(resident_outputs)
        self._written = frozenset(plan.get("written_arguments", range(len(self.arguments))))
        self._lock = threading.Lock()  # the workspace and argument buffers serve every call
        # One buffer per argument, allocated at the first call and kept (shapes are static); a
        # resident output takes a buffer of the pool instead, which its DeviceArray gives back.
        self._argument_buffers = [None] * len(self.arguments)
        self._pool: dict = {}  # bytes -> free buffers
        self._pooled_sizes: dict = {}  # every pool buffer -> its bytes
        self._pool_lock = threading.Lock()
        self._workspace = device.alloc(plan["workspace_bytes"])
        self._buffers = [self._workspace + b["offset"] for b in plan["buffers"]]
        self._dtypes = {
            "argument": [a["dtype"] for a in self.arguments],
            "buffer": [b["dtype"] for b in plan["buffers"]],
            "constant": [c["dtype"] for c in plan["constants"]],
        }
        self._constants = [self._upload_constant(c) for c in plan["constants"]]
        self._steps = [self._prepare(step) for step in plan["steps"]]

    def __call__(self, *arrays) -> list:
        if len(arrays) != self.num_inputs:
            raise errors.InvalidArgumentError(
                None, None, f"{self.name} takes {self.num_inputs} inputs, got {len(arrays)}"
            )
        with self._lock:
            pointers = [self._input_pointer(i, a) for i, a in enumerate(arrays)]
            taken = []  # pool buffers of resident outputs, given back if the call fails
            for k in range(self.num_results):
                if k in self._resident:
                    taken.append(self._take(_nbytes(self.arguments[self.num_inputs + k])))
                    pointers.append(taken[-1])
                else:
                    pointers.append(self._argument_buffer(self.num_inputs + k))
            try:
                for step in self._steps:
                    step(pointers)
                self.device.synchronize()
                return [
                    self._output(k, pointers[self.num_inputs + k]) for k in range(self.num_results)
                ]
            except BaseException:
                for pointer in taken:
                    self._give_back(pointer)
                raise

    def close(self) -> None:
        buffers = [p for p in self._argument_buffers if p is not None]
        with self._pool_lock:
            pooled = [p for free in self._pool.values() for p in free]
            self._pool = {}
        for pointer in [self._workspace, *self._constants, *buffers, *pooled]:
            self.device.free(pointer)
        self._constants, self._argument_buffers = [], [None] * len(self.arguments)

    def _output(self, k: int, pointer: int):
        spec = self.arguments[self.num_inputs + k]
        shape, storage, dtype = (
            tuple(spec["shape"]),
            np.dtype(spec["dtype"]),
            self._output_dtypes[k],
        )
        if k in self._resident:
            return DeviceArray(self.device, pointer, shape, storage, dtype, self._give_back)
        return self.device.copy_out(pointer, shape, storage).astype(dtype, copy=False)

    def _argument_buffer(self, index: int) -> int:
        if self._argument_buffers[index] is None:
            self._argument_buffers[index] = self.device.alloc(_nbytes(self.arguments[index]))
        return self._argument_buffers[index]

    def _take(self, nbytes: int) -> int:
        with self._pool_lock:
            free = self._pool.get(nbytes)
            if free:
                return free.pop()
        pointer = self.device.alloc(nbytes)
        with self._pool_lock:
            self._pooled_sizes[pointer] = nbytes
        return pointer

    def _give_back(self, pointer: int) -> None:
        """Returns a resident output's buffer to the pool (its DeviceArray calls this when it
        goes)."""
        with self._pool_lock:
            self._pool.setdefault(self._pooled_sizes[pointer], []).append(pointer)

    def _input_pointer(self, index: int, array) -> int:
        """The device buffer holding input ``index``: a DeviceArray of this device as it is (unless
        a step may write that argument: then a copy on the device), anything else copied in."""
        spec = self.arguments[index]
        if isinstance(array, DeviceArray) and array.device is self.device:
            self._check_shape(index, array.shape)
            if np.dtype(spec["dtype"]) == array.storage:
                if index not in self._written:
                    return array.pointer
                pointer = self._argument_buffer(index)
                self.device.copy(pointer, array.pointer, array.nbytes)
                return pointer
        dtype = np.dtype(spec["dtype"])
        array = np.asarray(array, dtype=dtype, order="C")  # ascontiguousarray makes 0-d 1-d
        self._check_shape(index, array.shape)
        pointer = self._argument_buffer(index)
        self.device.copy_in(pointer, array)
        return pointer

    def _check_shape(self, index: int, shape) -> None:
        expected = list(self.arguments[index]["shape"])
        if list(shape) != expected:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"{self.name}: input {index} has shape {list(shape)}, but the function was "
                f"compiled for {expected}",
            )

    def _upload_constant(self, constant: dict) -> int:
        dtype = np.dtype(constant["dtype"]).newbyteorder("<")
        values = np.frombuffer(base64.b64decode(constant["data"]), dtype=dtype)
        values = values.astype(dtype.newbyteorder("=")).reshape(constant["shape"])
        pointer = self.device.alloc(values.nbytes)
        self.device.copy_in(pointer, values)
        return pointer

    def _prepare(self, step: dict):
        """The step as a function of the call's argument pointers."""
        if "copy" in step:
            return self._prepare_copy(step["copy"])
        if "send" in step:
            return self._prepare_send(step["send"])
        if "recv" in step:
            return self._prepare_recv(step["recv"])
        if "check" in step:
            return self._prepare_check(step["check"])
        return self._prepare_launch(step["launch"])

    def _pointer(self, kind: str, index: int, pointers: list) -> int:
        if kind == "argument":
            return pointers[index]
        return (self._buffers if kind == "buffer" else self._constants)[index]

    def _prepare_copy(self, copy: dict):
        nbytes = copy["bytes"]

        def run(pointers: list) -> None:
            target = self._pointer(*copy["target"], pointers)
            self.device.copy(target, self._pointer(*copy["source"], pointers), nbytes)

        return run

    def _prepare_send(self, send: dict):
        key, shape, dtype = send["key"], tuple(send["shape"]), np.dtype(send["dtype"])
        kind, index = send["source"]
        storage = np.dtype(self._dtypes[kind][index])

        def run(pointers: list) -> None:
            # copy_out waits for the launches before it: the tensor is complete when it leaves.
            value = self.device.copy_out(self._pointer(kind, index, pointers), shape, storage)
            self.transfers.current.send(key, value.astype(dtype, copy=False))

        return run

    def _prepare_recv(self, recv: dict):
        key, shape, dtype = recv["key"], tuple(recv["shape"]), np.dtype(recv["dtype"])
        kind, index = recv["target"]
        storage = np.dtype(self._dtypes[kind][index])

        def run(pointers: list) -> None:
            rendezvous = self.transfers.current
            value = rendezvous.recv(key)
            if value is None:  # the run was aborted (another partition failed, a deadlock)
                raise rendezvous.error
            value = np.asarray(value)
            if value.shape != shape or value.dtype != dtype:
                raise errors.InvalidArgumentError(
                    None,
                    None,
                    f"{self.name}: the tensor received as '{rendezvous.keys.get(key, key)}' is "
                    f"{value.dtype} of shape {list(value.shape)}, but the function was compiled "
                    f"for {dtype} of shape {list(shape)}",
                )
            # np.asarray keeps a 0-d tensor 0-d (ascontiguousarray would make it 1-d).
            self.device.copy_in(
                self._pointer(kind, index, pointers), np.asarray(value, storage, order="C")
            )

        return run

    def _prepare_check(self, check: dict):
        kind, index = check["source"]
        shape, code, message = (check["count"],), check["kind"], check["message"]

        def run(pointers: list) -> None:
            # copy_out waits for the launches before it: the record is complete.
            record = self.device.copy_out(self._pointer(kind, index, pointers), shape, np.int64)
            if record[0]:
                raise runtime_error(code, message, tuple(int(v) for v in record[1:]))

        return run

    def _prepare_launch(self, launch: dict):
        kernel = self.device.kernel(launch["kernel"])
        fixed, slots = [], []  # ctypes values; (position, argument index) filled per call
        for position, (kind, value) in enumerate(launch["args"]):
            if kind in _SCALAR_TYPES:
                fixed.append(_SCALAR_TYPES[kind](value))
            elif kind == "buffer":
                fixed.append(ctypes.c_void_p(self._buffers[value]))
            elif kind == "constant":
                fixed.append(ctypes.c_void_p(self._constants[value]))
            elif kind == "argument":
                fixed.append(ctypes.c_void_p(0))
                slots.append((position, value))
            else:
                raise ValueError(f"launch plan argument of unknown kind '{kind}'")
        params = (ctypes.c_void_p * len(fixed))(*[ctypes.addressof(v) for v in fixed])

        grid, block = tuple(launch["grid"]), tuple(launch["block"])
        if 0 in grid or 0 in block:
            return _nothing  # no thread to run (an empty tensor): CUDA refuses such a launch

        # A device that offers it gives a callable with the launch's arguments bound (CudaDevice:
        # much less Python per launch); the slots' values are read through ``params`` at the call.
        launcher = getattr(self.device, "launcher", None)
        shared = int(launch.get("shared_bytes", 0))
        dynamic = {"shared_bytes": shared} if shared else {}
        go = (
            launcher(kernel, grid, block, params, **dynamic)
            if launcher is not None
            else lambda: self.device.launch(kernel, grid, block, params, **dynamic)
        )

        def run(pointers: list) -> None:
            for position, index in slots:
                fixed[position].value = pointers[index]
            go()

        return run


def _nothing(pointers: list) -> None:
    pass


def _check_transfers(plan: dict, name: str, transfers) -> None:
    """A plan that sends or receives needs the rendezvous of a partitioned run."""
    keys = [s[kind]["key"] for s in plan["steps"] for kind in ("send", "recv") if kind in s]
    if keys and transfers is None:
        raise ValueError(
            f"{name} sends or receives tensors of other partitions (keys {sorted(set(keys))}): "
            "it runs only as part of a partitioned run, with the run's rendezvous"
        )


def _nbytes(spec: dict) -> int:
    return int(np.prod(spec["shape"], dtype=np.int64)) * np.dtype(spec["dtype"]).itemsize
