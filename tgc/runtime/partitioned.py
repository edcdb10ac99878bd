"""The local runner: one executor thread per device partition, exchanging tensors by rendezvous.

Each partition of a compiled run takes every feed, then the variables it reads, and returns its
share of the fetches, then the variables it assigned. A run with one partition is a plain call on
the calling thread; with several, each runs on its own thread and the runner gathers the fetches
back into order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tgc.runtime.rendezvous import Rendezvous, TransferHub

DEFAULT_TIMEOUT_SECONDS = 120.0


@dataclass
class Partition:
    call: object  # an Executable
    device: str
    fetch_indices: list
    var_inputs: list
    var_outputs: list


class PartitionedRun:
    def __init__(
        self,
        partitions: list,
        hub: TransferHub,
        keys: dict,
        num_fetches: int,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ):
        self.partitions = partitions
        self.hub = hub
        self.keys = keys
        self.num_fetches = num_fetches
        self.timeout = timeout
        self._lock = threading.Lock()  # one step at a time: the hub has one current rendezvous
        only = partitions[0] if len(partitions) == 1 else None
        # One partition computing every fetch in order: its results are the answer as they come.
        self._direct = (
            only
            if only is not None and list(only.fetch_indices) == list(range(num_fetches))
            else None
        )

    @property
    def var_inputs(self) -> list:
        return [n for p in self.partitions for n in p.var_inputs]

    @property
    def var_outputs(self) -> list:
        return [n for p in self.partitions for n in p.var_outputs]

    def __call__(self, feeds: list, variables: dict):
        """Returns (fetch values in order, {variable: new value})."""
        direct = self._direct
        if direct is not None:
            outs = direct.call(*feeds, *[variables[n] for n in direct.var_inputs])
            return outs[: self.num_fetches], dict(zip(direct.var_outputs, outs[self.num_fetches :]))
        if len(self.partitions) == 1:
            results = [self._run_one(self.partitions[0], feeds, variables)]
        else:
            results = self._run_threads(feeds, variables)
        fetches = [None] * self.num_fetches
        updated = {}
        for p, outs in zip(self.partitions, results):
            n = len(p.fetch_indices)
            for i, value in zip(p.fetch_indices, outs[:n]):
                fetches[i] = value
            updated.update(zip(p.var_outputs, outs[n:]))
        return fetches, updated

    @staticmethod
    def _run_one(partition, feeds, variables):
        return partition.call(*feeds, *[variables[n] for n in partition.var_inputs])

    def _run_threads(self, feeds, variables):
        with self._lock:
            rendezvous = Rendezvous(self.keys, len(self.partitions), self.timeout)
            self.hub.current = rendezvous
            results = [None] * len(self.partitions)
            errors = []
            done = threading.Semaphore(0)

            def work(i, partition):
                try:
                    results[i] = self._run_one(partition, feeds, variables)
                except Exception as exc:  # reported by the runner below
                    errors.append(exc)
                    rendezvous.abort(exc)
                finally:
                    rendezvous.finished()
                    done.release()

            for i, p in enumerate(self.partitions):
                threading.Thread(
                    target=work, args=(i, p), daemon=True, name=f"tgc {p.device}"
                ).start()
            for _ in self.partitions:
                if not _acquire_or_abort(done, rendezvous):
                    break
            if rendezvous.error is not None:
                raise rendezvous.error
            if errors:
                raise errors[0]
            return results


def _acquire_or_abort(done, rendezvous) -> bool:
    """Waits for one partition to end; False once the run was aborted (parked threads never end)."""
    while not done.acquire(timeout=0.05):
        if rendezvous.error is not None:
            return False
    return True
