"""The contents of one TF1 queue (FIFOQueue, RandomShuffleQueue, PaddingFIFOQueue) and its waits.

One ``QueueState`` holds a queue's elements (tuples of numpy arrays, one per component) behind a
condition, so that runs from several threads enqueue and dequeue at once. It lives in the Session
that runs the queue's ops (tgc/frontend/queues.py), or, for a queue shared between sessions or
placed on another task of a cluster, in that task's actor (tgc/runtime/ray/queues.py); both use
this class, which is why it sits in the runtime (numpy only).

Errors are TF's: a dequeue from a closed queue with too few elements is OutOfRangeError, an
enqueue into a closed one CancelledError, a wait past its deadline DeadlineExceededError. ``op``
is the graph op to name in them (None in an actor: the client names it).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

import numpy as np

from tgc.runtime import errors


@dataclass(frozen=True)
class QueueConfig:
    """What a queue is, as an actor needs it (picklable): its kind and name (for messages), its
    components' dtypes and shapes (a shared queue's users must agree on them, as TF checks),
    capacity, ``min_after_dequeue``, and for a RandomShuffleQueue the seed of its order (None:
    a random one; ``shuffle`` False: first in, first out)."""

    kind: str
    name: str
    dtypes: tuple
    shapes: tuple | None
    capacity: int
    min_after_dequeue: int = 0
    shuffle: bool = False
    seed: tuple | None = None

    def rng(self):
        return np.random.default_rng(self.seed) if self.shuffle else None

    def mismatch(self, other: "QueueConfig") -> str | None:
        """How ``other`` (a second user of the same shared queue) differs from this one."""
        for field in ("kind", "dtypes", "shapes", "capacity", "min_after_dequeue"):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                return f"Shared queue '{other.name}' has {field} {mine} but requested {theirs}"
        return None


class QueueState:
    """One queue's elements; ``take(k)`` removes k of them (a RandomShuffleQueue's at random)."""

    def __init__(self, config: QueueConfig, rng=None):
        self.config = config
        # FIFO: a deque (popleft in O(1)); shuffled: a list (a random element swaps to the end).
        self.rng = rng if rng is not None else config.rng()
        self.items = collections.deque() if self.rng is None else []
        self.closed = False
        self.cancelled = False  # close(cancel_pending_enqueues=True) or the session closed
        self.condition = threading.Condition()
        self.session_closed = False

    def cancel(self):
        """The session closed: every blocked run of this queue ends with CancelledError."""
        with self.condition:
            self.closed = self.cancelled = self.session_closed = True
            self.condition.notify_all()

    def _what(self, doing: str) -> str:
        return f"{doing} {self.config.kind} '{self.config.name}'"

    def _wait(self, ready, deadline, op, what):
        """Waits under the condition until ``ready()`` or the queue changes so that waiting is
        pointless; DeadlineExceededError past ``deadline`` (a time.monotonic() value)."""
        while True:
            if self.session_closed:
                raise errors.CancelledError(None, op, f"Session was closed while {what}")
            if ready():
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise errors.DeadlineExceededError(None, op, timed_out(what, op))
            self.condition.wait(remaining)

    def put(self, elements, op, deadline, partial=False) -> int:
        """Appends ``elements``, waiting while the queue is full; returns how many went in. With
        ``partial``, reaching ``deadline`` returns the count so far instead of raising."""
        c = self.config
        done = 0
        with self.condition:
            for element in elements:
                if self.closed:
                    raise errors.CancelledError(None, op, f"{c.kind} '{c.name}' is closed.")
                try:
                    self._wait(
                        lambda: self.cancelled or self.closed or len(self.items) < c.capacity,
                        deadline,
                        op,
                        self._what("enqueueing into"),
                    )
                except errors.DeadlineExceededError:
                    if partial:
                        return done
                    raise
                if self.closed:
                    raise errors.CancelledError(None, op, f"{c.kind} '{c.name}' is closed.")
                self.items.append(element)
                done += 1
                self.condition.notify_all()
        return done

    def take(self, n, op, deadline, up_to=False, partial=False):
        """n elements; with ``up_to``, fewer once the queue is closed (at least one). With
        ``partial``, reaching ``deadline`` returns None instead of raising."""
        c = self.config
        with self.condition:
            try:
                self._wait(
                    lambda: self.closed or len(self.items) >= n + c.min_after_dequeue,
                    deadline,
                    op,
                    self._what("dequeueing from"),
                )
            except errors.DeadlineExceededError:
                if partial:
                    return None
                raise
            available = len(self.items)
            if available < n and not (up_to and self.closed and available > 0):
                raise errors.OutOfRangeError(
                    None,
                    op,
                    f"{c.kind} '{c.name}' is closed and has insufficient elements (requested {n}, "
                    f"current size {available})",
                )
            taken = [self._pop() for _ in range(min(n, available))]
            self.condition.notify_all()
            return taken

    def _pop(self):
        if self.rng is None:
            return self.items.popleft()
        i = int(self.rng.integers(len(self.items)))
        self.items[i], self.items[-1] = self.items[-1], self.items[i]
        return self.items.pop()

    def close(self, cancel_pending_enqueues):
        with self.condition:
            self.closed = True
            self.cancelled = self.cancelled or bool(cancel_pending_enqueues)
            self.condition.notify_all()

    def size(self) -> int:
        with self.condition:
            return len(self.items)

    def is_closed(self) -> bool:
        return self.closed


def timed_out(what: str, op) -> str:
    name = getattr(op, "name", None)
    return f"Timed out waiting for notification while {what}" + (f" ('{name}')" if name else "")
