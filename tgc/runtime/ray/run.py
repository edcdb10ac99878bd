"""The client side of one compiled run on a cluster, called by the Session as the local runner is.

A step sends the feeds to every task that has a partition of the run (once into the object store
when they are large), runs all of them at once, and gathers the fetches back into order. The first
task that fails aborts the step in the others (their recvs stop waiting) and its error is raised
here as the task raised it. Variables stay in the tasks' actors: the Session sees a run that reads
and assigns none (``var_inputs``/``var_outputs`` are empty), and a fetched variable comes back as
any fetch does.
"""

from __future__ import annotations

import itertools
import threading
import uuid

from tgc.runtime.ray.task import OBJECT_STORE_BYTES, RECV_TIMEOUT_SECONDS
from tgc.runtime.rendezvous import RendezvousError

_run_ids = itertools.count()


class ClusterRun:
    def __init__(self, cluster, placed: dict, spec, num_fetches: int):
        """``placed``: task name -> [PartitionSpec] of that task; ``spec``: the RunSpec."""
        import ray

        self.cluster = cluster
        self.run_id = f"{uuid.uuid4().hex[:8]}-{next(_run_ids)}"
        self.num_fetches = num_fetches
        self.tasks = list(placed)
        self.partitions = placed
        self._lock = threading.Lock()
        self._step = 0
        self._ray = ray
        library = ray.put(spec)  # one copy for every task
        ray.get(
            [
                cluster.actors[task].load.remote(self.run_id, library, partitions)
                for task, partitions in placed.items()
            ]
        )

    @property
    def var_inputs(self) -> list:
        return []

    @property
    def var_outputs(self) -> list:
        return []

    @property
    def steps(self) -> int:
        return self._step

    def transfers(self) -> tuple:
        """(tensors, bytes) moved between tasks by Send/Recv over every step so far."""
        ray = self._ray
        counts = ray.get(
            [self.cluster.actors[t].sent_to_tasks.remote(self.run_id) for t in self.tasks]
        )
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    def __call__(self, feeds: list, variables: dict):
        """(fetch values in order, {}): the tasks keep the variables they assign."""
        ray = self._ray
        with self._lock:  # each step its own number: concurrent steps (client threads) keep apart
            self._step += 1
            step = self._step
        big = sum(getattr(f, "nbytes", 0) for f in feeds) >= OBJECT_STORE_BYTES
        shared = ray.put(list(feeds)) if big else list(feeds)
        refs = {
            task: self.cluster.actors[task].run.remote(self.run_id, step, shared)
            for task in self.tasks
        }
        results = self._gather(refs, step)
        fetches = [None] * self.num_fetches
        for task, outs in results.items():
            for partition, values in zip(self.partitions[task], outs):
                for i, value in zip(partition.fetch_indices, values):
                    fetches[i] = value
        return fetches, {}

    def _gather(self, refs: dict, step: int) -> dict:
        ray = self._ray
        task_of = {ref: task for task, ref in refs.items()}
        pending, results = list(refs.values()), {}
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=RECV_TIMEOUT_SECONDS + 10)
            if not done:
                names = sorted(task_of[r] for r in pending)
                self._abort(pending, task_of, step, "the step timed out")
                raise RendezvousError(f"timed out waiting for tasks {names} to finish the step")
            ref = done[0]
            try:
                results[task_of[ref]] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                self._abort(pending, task_of, step, f"task {task_of[ref]} failed: {exc.cause}")
                raise exc.cause from None
            except ray.exceptions.RayActorError as exc:
                self._abort(pending, task_of, step, f"task {task_of[ref]} died")
                raise RendezvousError(f"task {task_of[ref]} died during the step: {exc}") from None
        return results

    def _abort(self, pending, task_of, step, message) -> None:
        for ref in pending:
            self.cluster.actors[task_of[ref]].abort.remote(self.run_id, step, message)
