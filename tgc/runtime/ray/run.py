"""The client side of one compiled run on a cluster, called by the Session as the local runner is.

A step sends the feeds to every task that has a partition of the run (once into the object store
when they are large), runs all of them at once, and gathers the fetches back into order. The first
task that fails aborts the step in the others (their recvs stop waiting) and its error is raised
here as the task raised it. A task whose process dies fails the step with UnavailableError; Ray
restarts its actor, and the next step loads the run into it again: a step whose restarted task
held none of the run's variables (a worker) then runs again; one whose task held variables (a ps
task: they are lost) fails with AbortedError, and the variables must be restored or initialized.

Variables stay in the tasks' actors: the Session sees a run that reads
and assigns none (``var_inputs``/``var_outputs`` are empty), and a fetched variable comes back as
any fetch does.
"""

from __future__ import annotations

import itertools
import threading
import uuid

from tgc.runtime.errors import AbortedError, UnavailableError
from tgc.runtime.ray.task import OBJECT_STORE_BYTES, RECV_TIMEOUT_SECONDS
from tgc.runtime.rendezvous import RendezvousError

_run_ids = itertools.count()


class RunNotLoaded(Exception):
    """A task does not hold the run (Ray restarted it since the run was loaded)."""

    def __init__(self, task: str):
        super().__init__(task)
        self.task = task


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
        self._spec = spec  # kept to load the run again into a task Ray restarted
        self._load(self.tasks)

    def _load(self, tasks: list) -> None:
        ray = self._ray
        library = ray.put(self._spec)  # one copy for every task
        try:
            # A task Ray restarted since the last run lacks its peers: introduce them all again.
            self.cluster.revive()
            ray.get(
                [
                    self.cluster.actors[task].load.remote(
                        self.run_id, library, self.partitions[task]
                    )
                    for task in tasks
                ]
            )
        except ray.exceptions.RayActorError as exc:
            raise UnavailableError(
                None, None, f"a task was lost while its run was being loaded: {exc}"
            ) from None

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
        if self.cluster.closed:
            raise UnavailableError(
                None, None, "the cluster of this session was shut down (its servers were closed)"
            )
        with self._lock:  # each step its own number: concurrent steps (client threads) keep apart
            self._step += 1
            step = self._step
        big = sum(getattr(f, "nbytes", 0) for f in feeds) >= OBJECT_STORE_BYTES
        shared = ray.put(list(feeds)) if big else list(feeds)
        try:
            results = self._step_on_tasks(step, shared)
        except RunNotLoaded as lost:
            # A task that Ray restarted (after its process died) has lost this run: load it there
            # again and run the step anew (the other tasks' share of the failed one was aborted).
            self.cluster.revive()
            self._load([lost.task])
            self._check_state_kept(lost.task)
            with self._lock:
                self._step += 1
                step = self._step
            results = self._step_on_tasks(step, shared)
        fetches = [None] * self.num_fetches
        for task, outs in results.items():
            for partition, values in zip(self.partitions[task], outs):
                for i, value in zip(partition.fetch_indices, values):
                    fetches[i] = value
        return fetches, {}

    def _check_state_kept(self, task: str) -> None:
        """A restarted task has lost the variables it held: a step that reads them cannot simply
        run again (TensorFlow's master aborts it too when a task's incarnation changes)."""
        reads = {n for p in self.partitions[task] for n in p.var_inputs}
        if not reads:
            return
        held = set(self._ray.get(self.cluster.actors[task].variable_names.remote()))
        names = sorted(reads - held)  # those restored since (a Saver's restore) are back
        if names:
            raise AbortedError(
                None,
                None,
                f"task {task} was restarted (its process died) and lost the variables it held "
                f"({', '.join(names)}): restore them from a checkpoint and run the step again "
                "(tf.train.MonitoredTrainingSession does)",
            )

    def _step_on_tasks(self, step: int, feeds) -> dict:
        refs = {
            task: self.cluster.actors[task].run.remote(self.run_id, step, feeds)
            for task in self.tasks
        }
        return self._gather(refs, step)

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
            task = task_of[ref]
            try:
                results[task] = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:
                self._abort(pending, task_of, step, f"task {task} failed: {exc.cause}")
                if isinstance(exc.cause, KeyError) and exc.cause.args == (self.run_id,):
                    raise RunNotLoaded(task) from None
                raise exc.cause from None
            except ray.exceptions.RayActorError:  # died, or unavailable while Ray restarts it
                self._abort(pending, task_of, step, f"task {task} was lost")
                self._revive_quietly()
                raise UnavailableError(
                    None,
                    None,
                    f"task {task} was lost during the step (its process died); Ray restarts it: "
                    "run the step again (its variables are gone unless restored)",
                ) from None
        return results

    def _revive_quietly(self) -> None:
        """Waits for Ray to restart a lost task and introduces it to its peers, so that the next
        step (or a new run) finds every task; a task still down is the next step's error."""
        try:
            self.cluster.revive()
        except self._ray.exceptions.RayActorError:
            pass

    def _abort(self, pending, task_of, step, message) -> None:
        for ref in pending:
            self.cluster.actors[task_of[ref]].abort.remote(self.run_id, step, message)
