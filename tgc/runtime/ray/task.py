"""One task of a cluster (``/job:ps/task:0``): the Ray actor that runs that task's partitions.

The actor loads the shared library of a compiled run (written by tgc/driver/cluster.py) with ctypes,
stores its transfer callbacks in the library's slots, and on each step calls its own partitions with
the feeds and the variables it holds. A partition's send hands the tensor to the actor of the
receiving task (``deliver``); its recv waits in this actor's mailbox for (run, step, key). Several
calls run at once in the actor (a threaded actor): a step's ``run`` blocks in a recv while another
task's ``deliver`` fills the mailbox.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
import threading
from dataclasses import dataclass, field

import numpy as np

from tgc.runtime import errors
from tgc.runtime.executable import (
    SET_ERROR_HANDLER,
    Executable,
    install_error_handler,
    install_host_handler,
)
from tgc.runtime.host_calls import SET_HOST_HANDLER
from tgc.runtime.ray.queues import QueueHost
from tgc.runtime.rendezvous import RendezvousError, TransferHub

# Tensors at least this large go through Ray's object store (zero-copy reads in the receiver);
# smaller ones ride inline in the call, which costs less (DISTRIBUTED-NOTES.md: ray.put adds ~2 ms).
OBJECT_STORE_BYTES = 100 * 1024
RECV_TIMEOUT_SECONDS = 120.0


@dataclass
class PartitionSpec:
    """What a task needs to call one partition: its function, argument and result types (numpy
    dtype name, rank), which results are fetches, the variables it reads and assigns, and those of
    them that the run only adds to (assign_add/assign_sub: ``additive``)."""

    function: str
    packed_symbol: str
    inputs: list
    outputs: list
    in_place: dict
    fetch_indices: list
    var_inputs: list
    var_outputs: list
    additive: list = field(default_factory=list)


@dataclass
class RunSpec:
    """One compiled run as a task sees it: the library, its transfer slots (slot symbol -> (kind,
    dtype name, rank)), the key texts, and the task that receives each key."""

    library: bytes
    slots: dict
    keys: dict
    receivers: dict  # key id -> task name ("ps/0") of the partition that receives it


class _StepRendezvous:
    """The rendezvous a partition's callbacks see for one step: sends go to the receiving task's
    actor, recvs wait in this actor's mailbox."""

    def __init__(self, task, run_id: str, step: int):
        self.task, self.run_id, self.step = task, run_id, step

    def send(self, key_id: int, value: np.ndarray) -> None:
        # An exception cannot cross the compiled code that called back: a failed send aborts the
        # step, and the task's run raises it once its partition returns.
        try:
            self.task.send(self.run_id, self.step, key_id, value)
        except Exception as exc:  # noqa: BLE001 - any failure of Ray's call is the step's error
            self.abort(RendezvousError(f"sending '{self.task.key_text(key_id)}' failed: {exc}"))

    def recv(self, key_id: int):
        return self.task.mailbox.take((self.run_id, self.step, key_id), self.task.key_text(key_id))

    def abort(self, error: Exception) -> None:
        self.task.mailbox.abort((self.run_id, self.step), error)


class _ThreadHub(TransferHub):
    """A TransferHub whose current rendezvous is the calling thread's: each step of each run runs
    on its own actor thread, and compiled code calls back on the thread that called it."""

    def __init__(self):
        self._local = threading.local()  # before TransferHub's __init__ sets ``current``
        super().__init__()

    @property
    def current(self):
        return self._local.rendezvous

    @current.setter
    def current(self, value):
        self._local.rendezvous = value


class Mailbox:
    """Received tensors by (run, step, key id); a recv waits for its key or its step's abort."""

    def __init__(self):
        self.values: dict = {}
        self.errors: dict = {}  # (run, step) -> the error that aborted it
        self.cond = threading.Condition()

    def put(self, key: tuple, value) -> None:
        with self.cond:
            self.values[key] = value
            self.cond.notify_all()

    def take(self, key: tuple, text: str, timeout: float = RECV_TIMEOUT_SECONDS):
        """The value sent under ``key``; None once its step was aborted (the caller parks)."""
        with self.cond:
            ok = self.cond.wait_for(
                lambda: key in self.values or key[:2] in self.errors, timeout=timeout
            )
            if key in self.values:
                return self.values.pop(key)
            if not ok:
                self.errors[key[:2]] = RendezvousError(
                    f"timed out after {timeout} s waiting for '{text}'"
                )
            return None

    def abort(self, step: tuple, error: Exception) -> None:
        with self.cond:
            self.errors.setdefault(step, error)
            self.cond.notify_all()

    def error(self, step: tuple):
        with self.cond:
            return self.errors.get(step)

    def forget(self, step: tuple) -> None:
        """Drops what is left of a finished step (values of an aborted one)."""
        with self.cond:
            self.errors.pop(step, None)
            for key in [k for k in self.values if k[:2] == step]:
                del self.values[key]


class _LoadedRun:
    def __init__(self, spec: RunSpec, partitions: list):
        self.spec = spec
        self.hub = _ThreadHub()
        # The loaded library stays mapped once its file is gone: nothing is left on disk.
        with tempfile.TemporaryDirectory(prefix="tgc-task-") as directory:
            path = os.path.join(directory, "partitions.so")
            with open(path, "wb") as fh:
                fh.write(spec.library)
            self.library = ctypes.CDLL(path)
        # dlsym on this library's handle finds its own setter; the library binds its checks to its
        # own handler (-Bsymbolic, tgc/lowering/cpu/artifact.py), so another tgc library loaded in
        # this process first cannot take them.
        setter = getattr(self.library, SET_ERROR_HANDLER, None)
        if setter is not None:
            install_error_handler(ctypes.cast(setter, ctypes.c_void_p).value)
        setter = getattr(self.library, SET_HOST_HANDLER, None)  # prints: this task's stderr
        if setter is not None:
            install_host_handler(ctypes.cast(setter, ctypes.c_void_p).value)
        for slot, (kind, dtype, rank) in spec.slots.items():
            callback = self.hub.callback(kind, np.dtype(dtype), rank)
            address = ctypes.cast(callback, ctypes.c_void_p).value
            ctypes.c_void_p.in_dll(self.library, slot).value = address
        self.partitions = [(p, self._executable(p)) for p in partitions]

    def _executable(self, p: PartitionSpec) -> Executable:
        address = ctypes.cast(getattr(self.library, p.packed_symbol), ctypes.c_void_p).value
        return Executable(
            address,
            [(np.dtype(d), r) for d, r in p.inputs],
            [(np.dtype(d), r) for d, r in p.outputs],
            keepalive=(self.library, self.hub),
            in_place=p.in_place,
        )


class TaskActor(QueueHost):
    """The actor of one task. Made by tgc/runtime/ray/local.py as a Ray actor class. It also
    holds the queues placed on its task or shared by name (QueueHost, tgc/runtime/ray/queues.py)."""

    def __init__(self, job: str, index: int):
        self.name = f"{job}/{index}"
        self.job, self.index = job, index
        self.variables: dict = {}
        self._commit_lock = threading.Lock()
        self.runs: dict = {}
        self.peers: dict = {}
        self.mailbox = Mailbox()
        self.sent: dict = {}  # run id -> [tensors sent to other tasks, their bytes]
        self._current_run = threading.local()

    def ready(self) -> str:
        return self.name

    def set_peers(self, peers: dict) -> None:
        """Handles of every task's actor, by task name: where sends go."""
        self.peers = dict(peers)

    def load(self, run_id: str, spec: RunSpec, partitions: list) -> None:
        if run_id not in self.runs:
            self.runs[run_id] = _LoadedRun(spec, partitions)

    def run(self, run_id: str, step: int, feeds: list) -> list:
        """Runs this task's partitions of ``run_id`` for one step; returns each one's fetches."""
        loaded = self.runs[run_id]
        loaded.hub.current = _StepRendezvous(self, run_id, step)
        self._current_run.keys = loaded.spec.keys
        results = []
        try:
            for partition, call in loaded.partitions:
                read = self._read(partition.var_inputs)
                outs = call(*feeds, *self._private_copies(partition, read))
                error = self.mailbox.error((run_id, step))
                if error is not None:
                    raise error
                n = len(partition.fetch_indices)
                self._commit(partition, dict(zip(partition.var_inputs, read)), outs[n:])
                results.append(outs[:n])
        finally:
            self.mailbox.forget((run_id, step))
        return results

    @staticmethod
    def _private_copies(partition, read: list) -> list:
        """The variable inputs to pass: a variable the partition assigns goes as a copy of its
        own (compiled code may write the new value into the buffer it was given), so the arrays
        the actor holds never change in place while other steps read them."""
        written = set(partition.var_outputs)
        return [
            np.array(value) if name in written else value
            for name, value in zip(partition.var_inputs, read)
        ]

    def _commit(self, partition, read: dict, values: list) -> None:
        """Stores the variables a partition assigned. A variable the run only adds to that another
        step changed since this one read it gets this step's change added onto the value it holds
        now, as TF's AssignAdd/AssignSub apply to the variable when they run: concurrent steps
        (async workers, client threads) lose no update. Any other assignment replaces the value
        (the last writer wins, as TF's Assign)."""
        with self._commit_lock:
            for name, value in zip(partition.var_outputs, values):
                before, now = read.get(name), self.variables.get(name)
                if name in partition.additive and before is not None and now is not None:
                    if now is not before:  # every commit stores a new array: changed meanwhile
                        value = now + (value - before)
                self.variables[name] = value

    def _read(self, names: list) -> list:
        try:
            return [self.variables[n] for n in names]
        except KeyError as missing:
            raise errors.FailedPreconditionError(
                None, None, f"Attempting to use uninitialized value {missing.args[0]}"
            ) from None

    def send(self, run_id: str, step: int, key_id: int, value: np.ndarray) -> None:
        import ray

        receiver = self.runs[run_id].spec.receivers[key_id]
        if receiver == self.name:
            self.mailbox.put((run_id, step, key_id), value)
            return
        payload = ray.put(value) if value.nbytes >= OBJECT_STORE_BYTES else value
        self.peers[receiver].deliver.remote(run_id, step, key_id, payload)
        counts = self.sent.setdefault(run_id, [0, 0])
        counts[0] += 1
        counts[1] += value.nbytes

    def deliver(self, run_id: str, step: int, key_id: int, value) -> None:
        # An ObjectRef passed as a top-level argument arrives resolved: a read-only zero-copy view.
        self.mailbox.put((run_id, step, key_id), value)

    def abort(self, run_id: str, step: int, message: str) -> None:
        """Another task's partition failed: recvs of this step stop waiting."""
        self.mailbox.abort((run_id, step), RendezvousError(message))

    def key_text(self, key_id: int) -> str:
        keys = getattr(self._current_run, "keys", {})
        return keys.get(key_id, str(key_id))

    def sent_to_tasks(self, run_id: str) -> tuple:
        """(tensors, bytes) this task sent to other tasks in all steps of ``run_id``."""
        return tuple(self.sent.get(run_id, (0, 0)))

    def variable_names(self) -> list:
        return sorted(self.variables)

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> tuple:
        """(Ray node id, its IP address) of the node this task runs on."""
        import ray

        context = ray.get_runtime_context()
        return context.get_node_id(), ray.util.get_node_ip_address()

    def environment(self, names: list) -> dict:
        """The values of environment variables ``names`` in this actor's process."""
        return {name: os.environ.get(name) for name in names}

    def loaded_modules(self, prefix: str) -> list:
        """The Python modules named ``prefix`` or under it that this actor's process imported
        (tests check that no MLIR is among them)."""
        import sys

        return sorted(m for m in sys.modules if m == prefix or m.startswith(prefix + "."))
