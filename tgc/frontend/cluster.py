"""TF1's cluster API: tf.train.ClusterSpec, tf.train.Server, tf.test.create_local_cluster.

A ClusterSpec names jobs and their tasks' addresses, as in TensorFlow. A Server stands for one task
of a cluster; where TensorFlow starts a gRPC server per task, tgc runs the cluster on Ray
(tgc/runtime/ray): the servers of one ClusterSpec in a process share one local Ray cluster on
loopback, with one actor per task. The addresses are the tasks' names in the spec (TF's own
``server.target`` strings, ``grpc://localhost:PORT``); nothing listens on those ports. A Session
given a server's target places and partitions its graph over every task's device
(``/job:ps/replica:0/task:0/device:CPU:0``, ...) and runs each task's partition in its actor.

The Ray cluster stops when the last server of its spec is closed (``server.close()``), or when the
program ends. Between-graph replication runs one process per task: started by the launcher
(``python -m tgc.runtime.ray.launch --cluster SPEC script.py``), a process's servers connect to the
launcher's cluster instead of starting one.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
import uuid
import weakref

from tgc import errors

_lock = threading.Lock()
_clusters: dict = {}  # frozen spec -> _SharedCluster
_targets: dict = {}  # "grpc://..." -> _SharedCluster
_session_tokens: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Session -> its id


def _session_token(session) -> str:
    """A name for ``session`` unique across processes (its private queues' keys in an actor)."""
    with _lock:
        token = _session_tokens.get(session)
        if token is None:
            token = _session_tokens[session] = uuid.uuid4().hex[:12]
        return token


class ClusterSpec:
    """Jobs and their tasks' addresses: ``ClusterSpec({"ps": ["h:2222"], "worker": [...]})``."""

    def __init__(self, cluster):
        if isinstance(cluster, ClusterSpec):
            jobs = cluster.as_dict()
        elif isinstance(cluster, dict):
            jobs = cluster
        else:
            raise TypeError(
                "ClusterSpec takes a dict of job name -> list (or dict) of task addresses, "
                f"or a ClusterSpec, not {type(cluster).__name__}"
            )
        self._jobs = {}
        for job, tasks in jobs.items():
            if not isinstance(job, str) or not job:
                raise ValueError(f"a job name must be a non-empty string, not {job!r}")
            if isinstance(tasks, dict):
                self._jobs[job] = {int(i): str(a) for i, a in tasks.items()}
            elif isinstance(tasks, (list, tuple)):
                self._jobs[job] = {i: str(a) for i, a in enumerate(tasks)}
            else:
                raise TypeError(f"the tasks of job '{job}' must be a list or dict of addresses")

    @property
    def jobs(self) -> list:
        return list(self._jobs)

    def as_dict(self) -> dict:
        """Each job's addresses: a list when its task indices are 0..n-1, else a dict."""
        out = {}
        for job, tasks in self._jobs.items():
            dense = sorted(tasks) == list(range(len(tasks)))
            out[job] = [tasks[i] for i in sorted(tasks)] if dense else dict(tasks)
        return out

    def num_tasks(self, job_name: str) -> int:
        return len(self._tasks(job_name))

    def task_indices(self, job_name: str) -> list:
        return sorted(self._tasks(job_name))

    def task_address(self, job_name: str, task_index: int) -> str:
        tasks = self._tasks(job_name)
        if task_index not in tasks:
            raise ValueError(f"No task with index {task_index} in job {job_name}")
        return tasks[task_index]

    def job_tasks(self, job_name: str) -> list:
        tasks = self._tasks(job_name)
        return [tasks.get(i) for i in range(max(tasks, default=-1) + 1)]

    def _tasks(self, job_name: str) -> dict:
        if job_name not in self._jobs:
            raise ValueError(f"No such job in cluster: {job_name!r}")
        return self._jobs[job_name]

    def devices(self) -> tuple:
        """Every task's CPU, as placement names them."""
        return tuple(
            f"/job:{job}/replica:0/task:{i}/device:CPU:0"
            for job, tasks in self._jobs.items()
            for i in sorted(tasks)
        )

    def _key(self) -> tuple:
        return tuple(sorted((job, tuple(sorted(t.items()))) for job, t in self._jobs.items()))

    def __eq__(self, other) -> bool:
        return isinstance(other, ClusterSpec) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __bool__(self) -> bool:
        return bool(self._jobs)

    def __repr__(self) -> str:
        return f"ClusterSpec({self.as_dict()!r})"


class _SharedCluster:
    """One Ray cluster and the servers of this process that use it."""

    def __init__(self, spec: ClusterSpec):
        from tgc.runtime.ray.launch import ADDRESS_VARIABLE
        from tgc.runtime.ray.local import LocalRayCluster

        self.spec = spec
        self.jobs = {job: spec.num_tasks(job) for job in spec.jobs}
        # A task started by the launcher joins the launcher's cluster when it first runs a step
        # (a ps task's process, which only joins, never connects); otherwise start one here.
        self._address = os.environ.get(ADDRESS_VARIABLE)
        self._ray = None if self._address else LocalRayCluster(self.jobs)
        self.servers = 0

    @property
    def ray(self):
        if self._ray is None:
            from tgc.runtime.ray.local import RayClusterConnection

            self._ray = RayClusterConnection(self._address, self.jobs)
        return self._ray

    def devices(self) -> tuple:
        return self.spec.devices()

    def variable_names(self) -> set:
        """The variables the cluster's tasks hold."""
        return self.ray.variable_names()

    def loader(self, ops=()):
        """What compile_run loads a run of ``ops`` with: the cluster's tasks run its partitions."""
        from tgc.driver.cluster import cluster_loader

        return cluster_loader(self.ray, ops)

    # ---- queues held by tasks (tgc/runtime/ray/queues.py) -------------------------------------

    def task_of_target(self, target: str):
        """The task ("worker/1") whose server's target ``target`` is; None for a ``ray://``."""
        for job in self.spec.jobs:
            for i in self.spec.task_indices(job):
                if target == f"grpc://{_reachable(self.spec.task_address(job, i))}":
                    return f"{job}/{i}"
        return None

    def queue_state(self, queue, session):
        """The state of ``queue`` for ``session``: a RemoteQueue calling the actor of the task
        that holds it, or None when it lives in the session (see ``queue_task``)."""
        from tgc.runtime.ray.queues import RemoteQueue

        task = self.queue_task(queue, getattr(session, "sess_str", ""))
        if task is None:
            return None
        if queue.shared_name is not None:
            key = queue.shared_name
        else:  # private to this session, as TF's queue without a shared_name
            key = f"_{_session_token(session)}_{queue.name}"
        actor = self.ray.actors[task]
        return RemoteQueue(actor, task, key, queue.config(), private=queue.shared_name is None)

    def queue_task(self, queue, target: str):
        """Which task's actor holds ``queue``, as TF's resource of the queue op's device: the
        task its device names, else (a shared queue) the session's own task. None keeps it in
        the session: a queue no other session can reach, on the session's own task or none (the
        client is that task's program, as a TF worker's client is in its server's process)."""
        from tgc.dialect.devices import DeviceSpec

        own = self.task_of_target(target)
        device = DeviceSpec.from_string(queue.device or "")
        if device.job is None:
            if queue.shared_name is None:
                return None
            if own is None:
                raise errors.InvalidArgumentError(
                    None,
                    queue.op,
                    f"{queue.kind} '{queue.name}' has shared_name '{queue.shared_name}' but no "
                    f"device, and the session's target {target!r} is no task of the cluster: "
                    "create it under tf.device('/job:ps/task:0') (or another task)",
                )
            return own
        index = device.task or 0
        task = f"{device.job}/{index}"
        if index >= self.jobs.get(device.job, 0):
            raise errors.InvalidArgumentError(
                None,
                queue.op,
                f"Cannot assign a device for operation {queue.name}: {queue.kind} '{queue.name}' "
                f"was explicitly assigned to {queue.device} but the cluster's devices are "
                f"{list(self.devices())}",
            )
        if task == own and queue.shared_name is None:
            return None
        return task

    def close(self) -> None:
        if self._ray is not None:
            self._ray.close()


class Server:
    """One task of a cluster (``tf.train.Server(cluster, job_name, task_index)``); its ``target``
    is what a Session takes to run on the cluster."""

    def __init__(
        self,
        server_or_cluster_def,
        job_name=None,
        task_index=None,
        protocol=None,
        config=None,
        start=True,
    ):
        spec = ClusterSpec(server_or_cluster_def)
        if job_name is None:
            if len(spec.jobs) != 1:
                raise ValueError("job_name must be given for a cluster of several jobs")
            job_name = spec.jobs[0]
        if task_index is None:
            indices = spec.task_indices(job_name)
            if len(indices) != 1:
                raise ValueError(f"task_index must be given: job '{job_name}' has several tasks")
            task_index = indices[0]
        address = spec.task_address(job_name, task_index)
        if protocol not in (None, "grpc"):
            raise ValueError(f"unknown protocol '{protocol}': tgc's servers speak 'grpc' names")
        self.cluster_spec = spec
        self.job_name, self.task_index = job_name, int(task_index)
        self.config = config
        self.target = f"grpc://{_reachable(address)}"
        self._cluster = None
        if start:
            self.start()

    @classmethod
    def create_local_server(cls, config=None, start=True):
        """A one-task cluster (job "localhost") on this machine."""
        return cls({"localhost": [f"localhost:{_free_port()}"]}, config=config, start=start)

    @property
    def server_def(self) -> dict:
        return {
            "cluster": self.cluster_spec.as_dict(),
            "job_name": self.job_name,
            "task_index": self.task_index,
            "protocol": "grpc",
        }

    def start(self) -> None:
        if self._cluster is not None:
            return
        with _lock:
            shared = _clusters.get(self.cluster_spec)
            if shared is None:
                shared = _clusters[self.cluster_spec] = _SharedCluster(self.cluster_spec)
            shared.servers += 1
            for job in self.cluster_spec.jobs:
                for i in self.cluster_spec.task_indices(job):
                    address = _reachable(self.cluster_spec.task_address(job, i))
                    _targets[f"grpc://{address}"] = shared
            self._cluster = shared

    def join(self) -> None:
        """Blocks while the cluster runs (a ps task's program ends here, as in TensorFlow)."""
        threading.Event().wait()

    def close(self) -> None:
        """Releases this server; the cluster stops with the last server of its spec."""
        with _lock:
            shared, self._cluster = self._cluster, None
            if shared is None:
                return
            shared.servers -= 1
            if shared.servers == 0:
                _clusters.pop(shared.spec, None)
                for target in [t for t, c in _targets.items() if c is shared]:
                    del _targets[target]
                shared.close()

    def __repr__(self) -> str:
        return f"<tf.train.Server {self.job_name}/{self.task_index} {self.target}>"


def create_local_cluster(num_workers, num_ps, protocol="grpc", worker_config=None, ps_config=None):
    """A cluster of ``num_workers`` workers and ``num_ps`` ps tasks on loopback (tf.test's): returns
    (worker servers, ps servers)."""
    ports = [_free_port() for _ in range(num_workers + num_ps)]
    spec = ClusterSpec(
        {
            "worker": [f"localhost:{p}" for p in ports[:num_workers]],
            "ps": [f"localhost:{p}" for p in ports[num_workers:]],
        }
    )
    workers = [Server(spec, "worker", i, protocol, worker_config) for i in range(num_workers)]
    ps = [Server(spec, "ps", i, protocol, ps_config) for i in range(num_ps)]
    return workers, ps


def cluster_of_target(target: str):
    """The running cluster a Session target names; TF's errors otherwise."""
    with _lock:
        shared = _targets.get(target)
    if shared is not None:
        return shared
    if isinstance(target, str) and target.startswith("ray://"):
        return _cluster_at(target[len("ray://") :])
    if isinstance(target, str) and target.startswith("grpc://"):
        raise errors.NotFoundError(
            None,
            None,
            f"no server at '{target}' in this process: start the cluster with "
            "tf.train.Server(cluster, job_name, task_index) or tf.test.create_local_cluster",
        )
    raise errors.NotFoundError(
        None,
        None,
        f'No session factory registered for the given session options: {{target: "{target}"}} '
        "Registered factories are {DIRECT_SESSION, GRPC_SESSION}.",
    )


class _ClusterAt(_SharedCluster):
    """A running Ray cluster of tgc tasks named by its address (``ray://127.0.0.1:PORT``, as the
    launcher prints it): its tasks are found by their actors' names."""

    def __init__(self, address: str):
        from tgc.runtime.ray.local import ClusterError, RayClusterConnection

        try:
            self._ray = RayClusterConnection(address)
        except ClusterError as exc:
            raise errors.NotFoundError(None, None, str(exc)) from None
        jobs = self._ray.jobs
        if not jobs:
            self._ray.close()
            raise errors.NotFoundError(None, None, f"the Ray cluster at {address} runs no tgc task")
        self.jobs = jobs
        self.spec = ClusterSpec(
            {job: [f"{address}/{job}/{i}" for i in range(n)] for job, n in jobs.items()}
        )
        self._address = address
        self.servers = 0


def _cluster_at(address: str):
    """The cluster at ``address``: this process's own local cluster when it is the one there."""
    with _lock:
        for shared in list(_clusters.values()) + list(_targets.values()):
            running = getattr(shared, "_ray", None)
            if running is not None and getattr(running, "address", None) == address:
                return shared
        shared = _targets.get(f"ray://{address}")
        if shared is None:
            shared = _targets[f"ray://{address}"] = _ClusterAt(address)
        return shared


def _reachable(address: str) -> str:
    """``localhost:2222`` as TF's targets spell it (an address without a host is local)."""
    return address if ":" in address and address.split(":")[0] else f"localhost:{address}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- tf.train.replica_device_setter --------------------------------------------------------------

# The op types TF1 places on parameter servers (``STANDARD_PS_OPS`` in TF's device_setter.py).
STANDARD_PS_OPS = (
    "Variable",
    "VariableV2",
    "AutoReloadVariable",
    "MutableHashTable",
    "MutableHashTableV2",
    "MutableHashTableOfTensors",
    "MutableHashTableOfTensorsV2",
    "MutableDenseHashTable",
    "MutableDenseHashTableV2",
    "VarHandleOp",
    "BoundedVariable",
)


class _RoundRobinStrategy:
    """The ps task of each new variable in turn: 0, 1, ..., n-1, 0, ..."""

    def __init__(self, num_tasks: int):
        self._num_tasks = num_tasks
        self._next = 0

    def __call__(self, unused_op) -> int:
        task = self._next
        self._next = (self._next + 1) % self._num_tasks
        return task


class GreedyLoadBalancingStrategy:
    """Each new variable to the ps task with the least load so far, its load ``load_fn(op)``
    (TF1's ``tf.contrib.training.GreedyLoadBalancingStrategy``; ``byte_size_load_fn``: bytes)."""

    def __init__(self, num_tasks: int, load_fn):
        self._num_tasks, self._load_fn = num_tasks, load_fn
        self._loads = [0] * num_tasks

    def __call__(self, op) -> int:
        task = min(range(self._num_tasks), key=lambda t: self._loads[t])  # the lowest, first
        self._loads[task] += self._load_fn(op)
        return task


def byte_size_load_fn(op) -> int:
    """The bytes of an op's first output (a variable's size): the load of a ps placement."""
    import numpy as np

    output = op.outputs[0]
    shape = output.get_shape()
    if not shape.is_fully_defined():
        raise ValueError(f"byte_size_load_fn: '{op.name}' has a shape not fully known: {shape}")
    return int(shape.num_elements()) * np.dtype(output.dtype.as_numpy_dtype).itemsize


class _ReplicaDeviceChooser:
    """The device function replica_device_setter returns (TF1's ``_ReplicaDeviceChooser``)."""

    def __init__(self, ps_tasks, ps_device, worker_device, merge_devices, ps_ops, ps_strategy):
        self._ps_tasks, self._ps_device = ps_tasks, ps_device
        self._worker_device, self._merge_devices = worker_device, merge_devices
        self._ps_ops, self._ps_strategy = ps_ops, ps_strategy

    def device_function(self, op) -> str:
        from tgc.dialect.devices import DeviceSpec

        # Without merging, a device an inner scope gave the op stands as it is.
        if not self._merge_devices and op.device:
            return op.device
        current = DeviceSpec.from_string(op.device or "")
        if self._ps_tasks and self._ps_device and op.type in self._ps_ops:
            ps = DeviceSpec.from_string(self._ps_device)
            # The strategy picks the task only where the op's own job (if any) is the ps job.
            if ps.job and (not current.job or current.job == ps.job):
                ps = dataclasses.replace(ps, task=self._ps_strategy(op))
            return ps.merge(current).to_string()
        return DeviceSpec.from_string(self._worker_device or "").merge(current).to_string()


def replica_device_setter(
    ps_tasks=0,
    ps_device="/job:ps",
    worker_device="/job:worker",
    merge_devices=True,
    cluster=None,
    ps_ops=None,
    ps_strategy=None,
):
    """A device function for ``tf.device``: variables (``ps_ops``) go to the ps tasks in turn
    (round robin, or ``ps_strategy(op) -> task``), every other op to ``worker_device``; a device an
    inner scope names is merged in (TF1's ``tf.train.replica_device_setter``). With ``cluster``
    the number of ps tasks is the ps job's; None when there is no ps task (no placement)."""
    from tgc.dialect.devices import DeviceSpec

    if cluster is not None:
        jobs = ClusterSpec(cluster).as_dict()
        ps_job = DeviceSpec.from_string(ps_device).job
        if ps_job not in jobs or jobs[ps_job] is None:
            return None
        ps_tasks = len(jobs[ps_job])
    if ps_tasks == 0:
        return None
    ps_ops = list(STANDARD_PS_OPS) if ps_ops is None else list(ps_ops)
    if ps_strategy is None:
        ps_strategy = _RoundRobinStrategy(ps_tasks)
    if not callable(ps_strategy):
        raise TypeError("ps_strategy must be callable")
    chooser = _ReplicaDeviceChooser(
        ps_tasks, ps_device, worker_device, merge_devices, ps_ops, ps_strategy
    )
    return chooser.device_function
