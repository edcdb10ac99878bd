"""Queues that live in a task's actor, shared by every session and process that uses the cluster.

TF1 keeps a queue in the resource manager of the task its op is placed on; a ``shared_name`` makes
sessions (and between-graph workers, each its own client) find the same one. Here the task is a
Ray actor: ``QueueHost`` (mixed into TaskActor) holds the queues' states by key, and
``RemoteQueue`` is what a client session's queue ops call instead of a local QueueState.

Blocking: a dequeue from an empty queue (or an enqueue into a full one) must wait without tying
up the actor. Each call waits in the actor for at most ``WAIT_SLICE_SECONDS`` and returns what it
could do (None, or how many elements went in); the client calls again until done, past its
deadline (``RunOptions.timeout_in_ms``: DeadlineExceededError) or until its session closed
(CancelledError). So a blocked client holds one of the actor's threads for a slice at a time, and
queue calls run in a concurrency group of their own (``QUEUE_GROUP``): however many clients wait on
queues, the actor's steps and Send/Recv deliveries keep their threads, and an enqueue always finds
a thread to wake the waiting dequeues.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from tgc.runtime import errors
from tgc.runtime.queue_state import QueueConfig, QueueState, timed_out

QUEUE_GROUP = "queues"
QUEUE_CONCURRENCY = 16  # queue calls served at once by one actor
WAIT_SLICE_SECONDS = 0.25


class QueueHost:
    """The actor side: a task's queues by key (a shared_name, or a session's private name)."""

    def _queue(self, key: str, config: QueueConfig) -> QueueState:
        lock = self.__dict__.setdefault("_queues_lock", threading.Lock())
        with lock:
            queues = self.__dict__.setdefault("_queues", {})
            state = queues.get(key)
            if state is None:
                state = queues[key] = QueueState(config)
        problem = state.config.mismatch(config)
        if problem:
            raise errors.InvalidArgumentError(None, None, problem)
        return state

    def queue_put(self, key: str, config: QueueConfig, elements: list, wait: float) -> int:
        # Copies: an element that came through the object store is a read-only view of it, and a
        # queue holding it would keep that memory pinned.
        owned = [tuple(np.array(a) for a in element) for element in elements]
        return self._queue(key, config).put(owned, None, time.monotonic() + wait, partial=True)

    def queue_take(self, key: str, config: QueueConfig, n: int, up_to: bool, wait: float):
        deadline = time.monotonic() + wait
        return self._queue(key, config).take(n, None, deadline, up_to, partial=True)

    def queue_close(self, key: str, config: QueueConfig, cancel_pending_enqueues: bool) -> None:
        self._queue(key, config).close(cancel_pending_enqueues)

    def queue_size(self, key: str, config: QueueConfig) -> int:
        return self._queue(key, config).size()

    def queue_is_closed(self, key: str, config: QueueConfig) -> bool:
        return self._queue(key, config).is_closed()

    def queue_forget(self, key: str) -> None:
        """A session's private queue goes with its session (blocked calls end cancelled)."""
        with self.__dict__.setdefault("_queues_lock", threading.Lock()):
            state = self.__dict__.setdefault("_queues", {}).pop(key, None)
        if state is not None:
            state.cancel()

    def queue_keys(self) -> list:
        return sorted(self.__dict__.get("_queues", {}))


class RemoteQueue:
    """The client side of a queue held by a task's actor: the calls a queue op makes on its state
    (``put``, ``take``, ``close``, ``size``, ``is_closed``), each a call of the actor."""

    def __init__(self, actor, task: str, key: str, config: QueueConfig, private: bool):
        self.actor, self.task, self.key, self.config = actor, task, key, config
        self.private = private
        self.session_closed = False

    def _call(self, method: str, op, *args):
        import ray

        call = getattr(self.actor, method).options(concurrency_group=QUEUE_GROUP)
        try:
            return ray.get(call.remote(self.key, self.config, *args))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, errors.OpError):  # the queue's own error: name the op
                raise type(cause)(None, op, cause.message) from None
            raise cause from None
        except ray.exceptions.RayActorError:
            raise errors.UnavailableError(
                None,
                op,
                f"task {self.task}, which holds {self.config.kind} '{self.config.name}', was lost "
                "(its process died): the queue's elements are gone",
            ) from None

    def _slice(self, deadline, op, what: str) -> float:
        """How long the next call may wait in the actor; the errors of a wait that must end."""
        if self.session_closed:
            raise errors.CancelledError(None, op, f"Session was closed while {what}")
        if deadline is None:
            return WAIT_SLICE_SECONDS
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise errors.DeadlineExceededError(None, op, timed_out(what, op))
        return min(WAIT_SLICE_SECONDS, remaining)

    def _what(self, doing: str) -> str:
        return f"{doing} {self.config.kind} '{self.config.name}'"

    def put(self, elements, op, deadline) -> int:
        elements = list(elements)
        done = 0
        while done < len(elements):
            wait = self._slice(deadline, op, self._what("enqueueing into"))
            done += self._call("queue_put", op, elements[done:], wait)
        return done

    def take(self, n, op, deadline, up_to=False):
        while True:
            wait = self._slice(deadline, op, self._what("dequeueing from"))
            taken = self._call("queue_take", op, n, up_to, wait)
            if taken is not None:
                return taken

    def close(self, cancel_pending_enqueues) -> None:
        self._call("queue_close", None, bool(cancel_pending_enqueues))

    def size(self) -> int:
        return int(self._call("queue_size", None))

    def is_closed(self) -> bool:
        return bool(self._call("queue_is_closed", None))

    def cancel(self) -> None:
        """The client's session closed: its blocked runs end (CancelledError) within a slice; a
        private queue is dropped from the actor, a shared one stays for its other users."""
        self.session_closed = True
        if self.private:
            try:
                self.actor.queue_forget.options(concurrency_group=QUEUE_GROUP).remote(self.key)
            except Exception:  # noqa: BLE001 - the cluster may be gone already; nothing to drop
                pass
