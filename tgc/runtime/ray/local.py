"""A Ray cluster on this machine for a ClusterSpec: one actor per task, started and stopped here.

Ray 2.60's sharp edges (../shared/DISTRIBUTED-NOTES.md) are handled before Ray is imported:

- loopback only: ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` makes every Ray server bind and talk on
  127.0.0.1 (by default Ray advertises the host's primary address);
- no telemetry: ``RAY_USAGE_STATS_ENABLED=0``; no automatic ``ray.init()`` by a Ray call made
  after the cluster closed (``RAY_ENABLE_AUTO_CONNECT=0``);
- token authentication with a token made for this cluster, given in the environment
  (``RAY_AUTH_TOKEN``) so that nothing is written to ``~/.ray/auth_token``;
- ``ray.init(address="local")``: always a new cluster, never one a stale ``ray start`` left in
  ``/tmp/ray/ray_current_cluster`` or ``RAY_ADDRESS``;
- a capped object store, no dashboard, and Ray's session folder (logs, sockets) in a temporary
  folder of the cluster's own, removed when it closes.

Each task is an actor pinned by a custom resource named after its job (``{"ps": 1}`` of the
``{"ps": 2, "worker": 3}`` the cluster declares), with ``num_cpus=0`` (Ray reserves no core for
it), and its math libraries' thread pools sized to its share of the cores (``OPENBLAS_NUM_THREADS``
and the like: cores // tasks, at least 1), so that the tasks together do not oversubscribe them.

``close()`` (and an ``atexit`` hook) shuts Ray down, which ends every process it started. One local
cluster runs in a process at a time (Ray allows one connection per driver).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
import threading

DEFAULT_OBJECT_STORE_BYTES = 256 * 2**20
ACTOR_CONCURRENCY = 32  # steps blocked in a recv, plus deliveries, run at once in one actor

_lock = threading.Lock()
_running: "LocalRayCluster | None" = None


THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_per_task(tasks: int) -> int:
    """Threads for each task's math libraries when ``tasks`` share this machine's cores."""
    return max(1, (os.cpu_count() or 1) // max(tasks, 1))


class ClusterError(RuntimeError):
    """The local cluster cannot be started or used as asked."""


def prepare_environment() -> None:
    """The environment Ray must see before it is imported (see the module's docstring)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # A Ray call after the cluster closed must fail, not start a default (non-loopback) Ray.
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    if not os.environ.get("RAY_AUTH_TOKEN") and not os.environ.get("RAY_AUTH_TOKEN_PATH"):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    if "ray" in sys.modules:
        # Ray read its configuration (the auth mode among it) when it was imported: re-read it,
        # as Ray's own ray.init does after it turns token authentication on.
        from ray._private import auto_init_hook
        from ray._raylet import Config

        Config.initialize("")
        auto_init_hook.enable_auto_connect = os.environ["RAY_ENABLE_AUTO_CONNECT"] != "0"
        # Ray read RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER at import too: keep its nodes on loopback.
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] != "0"


def import_ray():
    prepare_environment()
    try:
        import ray
    except ImportError:
        raise ClusterError(
            "running on a cluster needs Ray: pip install 'tgc[ray]' (ray==2.60.0)"
        ) from None
    return ray


class _Tasks:
    """What the client asks of every task, for a cluster started here or connected to."""

    def variable_names(self) -> set:
        import ray

        return {
            n
            for names in ray.get([a.variable_names.remote() for a in self.actors.values()])
            for n in names
        }

    def revive(self) -> None:
        """Waits for every task to be up (Ray restarts a lost one) and gives each its peers again
        (a restarted actor starts without them)."""
        import ray

        _introduce(ray, self.actors)


class LocalRayCluster(_Tasks):
    """Ray on loopback with one actor per task of ``jobs`` ({job name: number of tasks})."""

    def __init__(
        self,
        jobs: dict,
        object_store_memory: int = DEFAULT_OBJECT_STORE_BYTES,
        nodes: int | None = None,
    ):
        """``nodes``: Ray nodes to start on this machine (default: $TGC_RAY_NODES, else 1); with
        several, the tasks are spread over them (see ``node_resources``), so that Send/Recv and
        the object store work between nodes as between machines."""
        global _running
        ray = import_ray()
        with _lock:
            if _running is not None and not _running.closed:
                raise ClusterError(
                    "a local cluster is already running in this process; close its servers first"
                )
            if ray.is_initialized():
                raise ClusterError("Ray is already initialized in this process by someone else")
            # Ray's logs and sockets go to a folder of this cluster's own, removed by close().
            self._temp_dir = tempfile.mkdtemp(prefix="tgc-ray-")
            self.nodes = nodes or nodes_wanted()
            self._node_cluster = None
            if self.nodes == 1:
                ray.init(
                    address="local",
                    _temp_dir=self._temp_dir,
                    num_cpus=os.cpu_count() or 1,
                    resources={job: count for job, count in jobs.items()},
                    include_dashboard=False,
                    log_to_driver=False,
                    object_store_memory=object_store_memory,
                    namespace="tgc",
                )
            else:
                self._node_cluster = _start_nodes(
                    jobs, self.nodes, self._temp_dir, object_store_memory
                )
                ray.init(
                    address=self._node_cluster.address,
                    namespace="tgc",
                    log_to_driver=False,
                    _node_ip_address="127.0.0.1",
                )
            _running = self
        self.closed = False
        self.jobs = dict(jobs)
        atexit.register(self.close)
        self.actors = self._start_actors(ray)

    def _start_actors(self, ray) -> dict:
        return start_task_actors(ray, self.jobs, threads_per_task(sum(self.jobs.values())))

    @property
    def temp_dir(self) -> str:
        """The folder of Ray's logs and sockets for this cluster (removed by close())."""
        return self._temp_dir

    @property
    def address(self) -> str:
        """The cluster's GCS address (127.0.0.1:PORT), where other processes connect."""
        import ray

        return ray.get_runtime_context().gcs_address

    def close(self) -> None:
        """Shuts down Ray and every process it started (idempotent)."""
        global _running
        with _lock:
            if self.closed:
                return
            self.closed = True
            import ray

            self.actors = {}
            if ray.is_initialized():
                ray.shutdown()
            if self._node_cluster is not None:
                address = self._node_cluster.address
                self._node_cluster.shutdown()
                _forget_address_file(address)
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            if _running is self:
                _running = None


NODES_VARIABLE = "TGC_RAY_NODES"
MIN_OBJECT_STORE_BYTES = 80 * 2**20  # Ray refuses a store under 75 MiB


def nodes_wanted() -> int:
    """How many Ray nodes a local cluster starts: $TGC_RAY_NODES (default 1)."""
    text = os.environ.get(NODES_VARIABLE, "") or "1"
    if not text.isdigit() or int(text) < 1:
        raise ClusterError(f"{NODES_VARIABLE} must be a positive number of nodes, not {text!r}")
    return int(text)


def node_resources(jobs: dict, nodes: int) -> list:
    """Each node's custom resources: the tasks in the spec's order, cut into ``nodes`` runs of
    consecutive tasks (``{"ps": 2, "worker": 2}`` on 2 nodes: both ps tasks on the first, both
    workers on the second), each task one unit of its job's resource on its node."""
    tasks = [job for job, count in jobs.items() for _ in range(count)]
    per_node = -(-len(tasks) // nodes)
    resources = []
    for k in range(nodes):
        mine: dict = {}
        for job in tasks[k * per_node : (k + 1) * per_node]:
            mine[job] = mine.get(job, 0) + 1
        resources.append(mine)
    return resources


def _start_nodes(jobs: dict, nodes: int, temp_dir: str, object_store_memory: int):
    """A Ray cluster of ``nodes`` nodes on this machine (Ray's cluster_utils, its tool for
    multi-node runs on one machine), each with its share of the cores and of the object store."""
    from ray.cluster_utils import Cluster

    common = {
        "node_ip_address": "127.0.0.1",  # loopback, as the one-node cluster
        "num_cpus": max(1, (os.cpu_count() or 1) // nodes),
        "object_store_memory": max(MIN_OBJECT_STORE_BYTES, object_store_memory // nodes),
        "include_dashboard": False,
        "temp_dir": temp_dir,
    }
    resources = node_resources(jobs, nodes)
    # cluster_utils writes the head's address to /tmp/ray/ray_current_cluster and fails when that
    # folder is missing; _forget_address_file removes the file (and a folder made here) on close.
    from ray._common.utils import get_ray_address_file

    folder = os.path.dirname(get_ray_address_file(None))
    if not os.path.isdir(folder):
        os.makedirs(folder)
        _made_folders.add(folder)
    cluster = None
    try:
        cluster = Cluster(
            initialize_head=True, head_node_args={**common, "resources": resources[0]}
        )
        for mine in resources[1:]:
            cluster.add_node(**common, resources=mine)
        cluster.wait_for_nodes()
    except BaseException:
        address = None if cluster is None else cluster.address
        if cluster is not None:
            cluster.shutdown()
        _forget_address_file(address)
        raise
    return cluster


_made_folders: set = set()


def _forget_address_file(address) -> None:
    """Ray's cluster_utils records the head's address in /tmp/ray/ray_current_cluster (for a
    later ``ray.init()`` to find): removed when it names this closed cluster, with its folder
    when _start_nodes made it and nothing else is left there."""
    from ray._common.utils import get_ray_address_file

    path = get_ray_address_file(None)
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read().strip() == address:
                os.remove(path)
    except OSError:
        pass
    folder = os.path.dirname(path)
    if folder in _made_folders:
        try:
            os.rmdir(folder)  # only if empty
            _made_folders.discard(folder)
        except OSError:
            pass


def start_task_actors(ray, jobs: dict, threads: int) -> dict:
    """One actor per task of ``jobs``, named "job/index" in namespace "tgc", pinned by its job's
    custom resource; its math libraries get ``threads`` threads."""
    from tgc.runtime.ray.queues import QUEUE_CONCURRENCY, QUEUE_GROUP
    from tgc.runtime.ray.task import TaskActor

    # Queue calls (which may wait) get threads of their own: tgc/runtime/ray/queues.py.
    remote = ray.remote(concurrency_groups={QUEUE_GROUP: QUEUE_CONCURRENCY})(TaskActor)
    # Each actor's OpenBLAS/OpenMP pools get their share of the cores, set before its process
    # loads numpy: tasks on one machine share its cores instead of each taking all of them.
    env = {name: str(threads) for name in THREAD_VARIABLES}
    actors = {
        f"{job}/{i}": remote.options(
            name=f"{job}/{i}",
            num_cpus=0,
            resources={job: 1},
            max_concurrency=ACTOR_CONCURRENCY,
            runtime_env={"env_vars": env},
            max_restarts=-1,  # a task whose process dies is started again by Ray
        ).remote(job, i)
        for job, count in jobs.items()
        for i in range(count)
    }
    _introduce(ray, actors)
    return actors


def _introduce(ray, actors: dict) -> None:
    ray.get([a.ready.remote() for a in actors.values()])
    ray.get([a.set_peers.remote(actors) for a in actors.values()])


def _tasks_running(ray) -> dict:
    """{job: number of tasks} of the task actors running on the connected cluster."""
    from ray.util import list_named_actors

    jobs: dict = {}
    for entry in list_named_actors(all_namespaces=True):
        job, _, index = entry["name"].rpartition("/")
        if entry["namespace"] == "tgc" and job and index.isdigit():
            jobs[job] = max(jobs.get(job, 0), int(index) + 1)
    return jobs


class RayClusterConnection(_Tasks):
    """A process's connection to a cluster another process started (tgc/runtime/ray/launch.py):
    the tasks' actors found by name. ``close`` disconnects and leaves the cluster running."""

    def __init__(self, address: str, jobs: dict | None = None):
        """``jobs``: {job: number of tasks} the cluster must have; None: every task it has."""
        global _running
        ray = import_ray()
        with _lock:
            if _running is not None and not _running.closed:
                raise ClusterError(
                    f"cannot connect to {address}: this process is already connected to a "
                    "cluster (Ray allows one per process)"
                )
            if not ray.is_initialized():
                _allow_remote_nodes(address)
                try:
                    ray.init(address=address, namespace="tgc", log_to_driver=False)
                except (ConnectionError, ValueError) as exc:
                    raise ClusterError(f"no Ray cluster at {address}: {exc}") from None
            _running = self
        self.closed = False
        self.address = address
        atexit.register(self.close)
        self.jobs = dict(jobs) if jobs is not None else _tasks_running(ray)
        self.actors = {}
        for job, count in self.jobs.items():
            for i in range(count):
                try:
                    self.actors[f"{job}/{i}"] = ray.get_actor(f"{job}/{i}", namespace="tgc")
                except ValueError:
                    self.close()
                    raise ClusterError(
                        f"the cluster at {address} has no task {job}/{i}: was it launched with "
                        "the same ClusterSpec?"
                    ) from None

    def close(self) -> None:
        global _running
        with _lock:
            if self.closed:
                return
            self.closed = True
            import ray

            self.actors = {}
            if ray.is_initialized():
                ray.shutdown()
            if _running is self:
                _running = None


class RayClusterTasks(_Tasks):
    """The tasks of a ClusterSpec started on a Ray cluster that runs already, on one machine or
    several (``ray start --head --resources='{"ps": 1}'`` on one host, ``ray start
    --address=HEAD:6379 --resources='{"worker": 2}'`` on others): one actor per task, pinned by its
    job's custom resource to the nodes that offer it. ``close`` ends the actors and disconnects;
    the Ray cluster keeps running."""

    def __init__(self, address: str, jobs: dict):
        global _running
        ray = import_ray()
        with _lock:
            if _running is not None and not _running.closed:
                raise ClusterError("this process already runs or uses a cluster (one per process)")
            _allow_remote_nodes(address)
            try:
                ray.init(address=address, namespace="tgc", log_to_driver=False)
            except (ConnectionError, ValueError) as exc:
                raise ClusterError(f"no Ray cluster at {address}: {exc}") from None
            _running = self
        self.closed = False
        self.jobs = dict(jobs)
        self.actors = {}
        atexit.register(self.close)
        offered = ray.cluster_resources()
        missing = {j: n for j, n in jobs.items() if offered.get(j, 0) < n}
        if missing:
            self.close()
            raise ClusterError(
                f"the Ray cluster at {address} offers {_offer(offered, missing)} for the tasks "
                f"{missing}: start its nodes with custom resources named after the jobs, e.g. "
                "ray start --resources='{\"ps\": 1}'"
            )
        cores = int(offered.get("CPU", 1))
        self.actors = start_task_actors(ray, self.jobs, max(1, cores // sum(jobs.values())))

    @property
    def address(self) -> str:
        import ray

        return ray.get_runtime_context().gcs_address

    def close(self) -> None:
        global _running
        with _lock:
            if self.closed:
                return
            self.closed = True
            import ray

            actors, self.actors = self.actors, {}
            if ray.is_initialized():
                for actor in actors.values():
                    ray.kill(actor, no_restart=True)
                ray.shutdown()
            if _running is self:
                _running = None


def _allow_remote_nodes(address: str) -> None:
    """A cluster whose head is another address than loopback has nodes on other machines: this
    process must then name itself by its network address, not 127.0.0.1 (Ray's
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER, which the local clusters turn off); the processes the
    launcher starts inherit the setting."""
    host = address.rsplit(":", 1)[0]
    if host in ("127.0.0.1", "localhost", "::1"):
        return
    from ray._private import ray_constants

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "1"
    ray_constants.ENABLE_RAY_CLUSTER = True


def _offer(offered: dict, jobs: dict) -> str:
    return ", ".join(f"{int(offered.get(job, 0))} '{job}'" for job in jobs)
