"""TF1's queues (`tf.FIFOQueue`, `tf.RandomShuffleQueue`, `tf.PaddingFIFOQueue`) as host ops.

A queue's contents live in the Session that runs its ops, one queue per session (as variables are),
behind a lock and a condition, so runs from several threads (queue runners) enqueue and dequeue at
once. Its ops never enter compiled code: an enqueue is a sink (its inputs are computed by the
compiled part of the run, then pushed), a dequeue is a source (it runs first, and its outputs are
fed to the compiled part of the same run), see ``_split_host`` in tgc/frontend/session.py.

On a cluster session (tgc/frontend/cluster.py), a queue that other sessions can reach lives in a
task's actor instead (tgc/runtime/ray/queues.py): one with a ``shared_name`` (TF's way to share a
queue between sessions and between-graph workers), or one whose device (``tf.device`` around its
creation) names another task than the session's own. The queue op made with the queue carries that
device, as TF's queue resource op does, and every op of the queue is placed with it.
"""

from __future__ import annotations

import time
import weakref

import numpy as np

from tgc import errors
from tgc.dialect.types import TensorSpec, as_dtype, numpy_dtype
from tgc.frontend.build import convert_to_tensor
from tgc.graph.graph import get_default_graph
from tgc.runtime.queue_state import QueueConfig, QueueState

_INT32 = "int32"

# Graphs holding queue ops: only there can a host op's output feed compiled code, so only there does
# the run planner search the compiled part for host sources (a cost per plan on large graphs).
GRAPHS_WITH_QUEUES: weakref.WeakSet = weakref.WeakSet()


class RunOptions:
    """`tf.RunOptions`: ``timeout_in_ms`` bounds how long a run waits on a queue (0: forever); a
    run past it raises DeadlineExceededError. ``trace_level`` (any but NO_TRACE) has a run given
    ``run_metadata=`` record its step stats (tgc/frontend/run_metadata.py). Other fields are
    accepted and ignored."""

    NO_TRACE = 0
    SOFTWARE_TRACE = 1
    HARDWARE_TRACE = 2
    FULL_TRACE = 3

    def __init__(self, timeout_in_ms=0, trace_level=0, **ignored):
        self.timeout_in_ms = int(timeout_in_ms)
        self.trace_level = trace_level


def _deadline(options):
    timeout = getattr(options, "timeout_in_ms", 0) or 0
    return None if timeout <= 0 else time.monotonic() + timeout / 1000.0


class QueueBase:
    """A queue of tuples of tensors: ``dtypes`` per component, ``shapes`` (optional) per
    component."""

    kind = "FIFOQueue"

    def __init__(
        self,
        capacity,
        dtypes,
        shapes=None,
        names=None,
        shared_name=None,
        name=None,
        min_after_dequeue=0,
        seed=None,
    ):
        self._graph = get_default_graph()
        single = not isinstance(dtypes, (list, tuple))
        self.dtypes = [as_dtype(d) for d in ([dtypes] if single else dtypes)]
        if shapes is not None:
            shapes = _shape_list(shapes)
            if len(shapes) != len(self.dtypes):
                raise ValueError(
                    f"{self.kind}: {len(shapes)} shapes given for {len(self.dtypes)} dtypes"
                )
            shapes = [None if s is None else tuple(_dims(s)) for s in shapes]
        self.shapes = shapes
        self.names = list(names) if names is not None else None
        if self.names is not None and len(self.names) != len(self.dtypes):
            raise ValueError(f"{self.kind}: {len(self.names)} names for {len(self.dtypes)} dtypes")
        # With a shared_name, the sessions on one task (and between-graph workers) share the
        # queue: on a cluster it lives in its task's actor.
        self.shared_name = shared_name or None
        self.capacity = int(capacity)
        self.min_after_dequeue = int(min_after_dequeue)
        self.seed = seed
        # The queue's own op (TF's FIFOQueueV2 resource op): its name is the queue's, its device
        # (from the device scopes around the queue's creation) is where the queue lives.
        self.op = self._graph.create_op(
            f"{self.kind}V2", f"{self.kind}V2", [], {}, [], name=name or _default_name(self.kind)
        )
        self.op.host_fn = _needs_session
        self.op.session_fn = self._create_in
        self.name = self.op.name
        self.device = self.op.device

    # ---- the state in a session ----------------------------------------------------------------

    def _state(self, session):
        """This queue's state for ``session``: a QueueState in the session, or a RemoteQueue
        calling the actor of the task that holds it (tgc/frontend/cluster.py decides)."""
        return session.host_state(("queue", self.name), lambda: self._make_state(session))

    def _create_in(self, session, options, *values):
        """Running the queue's own op makes the queue (in the session or its task)."""
        self._state(session)
        return ()

    def _make_state(self, session):
        cluster = getattr(session, "_cluster", None)
        if cluster is not None:
            remote = cluster.queue_state(self, session)
            if remote is not None:
                return remote
        return QueueState(self.config())

    def config(self) -> QueueConfig:
        """What the queue is, for its state wherever it lives."""
        shuffle = self.kind == "RandomShuffleQueue"
        seed = None
        graph_seed = self._graph.seed
        if shuffle and (self.seed is not None or graph_seed is not None):
            seed = (graph_seed or 87654321, self.seed or 0)
        return QueueConfig(
            kind=self.kind,
            name=self.shared_name or self.name,
            dtypes=tuple(d.name for d in self.dtypes),
            shapes=None if self.shapes is None else tuple(self.shapes),
            capacity=self.capacity,
            min_after_dequeue=self.min_after_dequeue,
            shuffle=shuffle,
            seed=seed,
        )

    # ---- building ops --------------------------------------------------------------------------

    def _op(self, op_type, name, inputs, specs, run):
        op = self._graph.create_op(op_type, op_type, inputs, {}, specs, name=name)
        op.device = self.device  # a queue's ops run where the queue is (TF colocates them)
        GRAPHS_WITH_QUEUES.add(self._graph)
        op.queue = self
        op.host_fn = _needs_session
        op.session_fn = lambda session, options, *values: run(op, session, options, values)
        return op

    def _components(self, vals, many):
        if isinstance(vals, dict):
            if self.names is None:
                raise ValueError(f"{self.kind} '{self.name}' has no names: enqueue a list")
            vals = [vals[n] for n in self.names]
        elif not isinstance(vals, (list, tuple)):
            vals = [vals]
        if len(vals) != len(self.dtypes):
            raise ValueError(
                f"{self.kind} '{self.name}' takes {len(self.dtypes)} components, got {len(vals)}"
            )
        tensors = []
        for i, (v, dtype) in enumerate(zip(vals, self.dtypes)):
            t = convert_to_tensor(v, dtype=dtype)
            if t.spec.dtype != dtype.name:
                raise TypeError(
                    f"{self.kind} '{self.name}' component {i} has dtype {dtype.name}, not "
                    f"{t.spec.dtype}"
                )
            shape = self._shape(i)
            have = t.spec.shape
            if many and have is not None:
                have = have[1:]
            if not _compatible(shape, have):
                raise ValueError(
                    f"{self.kind} '{self.name}' component {i} has shape {_text(shape)}; "
                    f"'{t.name}' has shape {_text(have)}"
                )
            tensors.append(t)
        return tensors

    def _shape(self, i):
        return None if self.shapes is None else self.shapes[i]

    def enqueue(self, vals, name=None):
        tensors = self._components(vals, many=False)

        def run(op, session, options, values):
            element = tuple(self._checked(op, i, np.array(v)) for i, v in enumerate(values))
            self._state(session).put([element], op, _deadline(options))
            return ()

        return self._op("QueueEnqueueV2", name or f"{self.name}_enqueue", tensors, [], run)

    def enqueue_many(self, vals, name=None):
        tensors = self._components(vals, many=True)

        def run(op, session, options, values):
            arrays = [np.asarray(v) for v in values]
            counts = {a.shape[0] if a.ndim else None for a in arrays}
            if None in counts or len(counts) != 1:
                raise errors.InvalidArgumentError(
                    None,
                    op,
                    f"'{op.name}': every component of enqueue_many needs the same first dimension, "
                    f"got shapes {[a.shape for a in arrays]}",
                )
            elements = [
                tuple(self._checked(op, i, np.array(a[k])) for i, a in enumerate(arrays))
                for k in range(counts.pop())
            ]
            self._state(session).put(elements, op, _deadline(options))
            return ()

        return self._op("QueueEnqueueManyV2", name or f"{self.name}_EnqueueMany", tensors, [], run)

    def _checked(self, op, i, array):
        shape = self._shape(i)
        if shape is not None and not _compatible(shape, array.shape):
            raise errors.InvalidArgumentError(
                None,
                op,
                f"Shape mismatch in tuple component {i}. Expected {list(shape)}, got "
                f"{list(array.shape)}",
            )
        return array

    def _dequeue(self, op_type, name, n, up_to=False):
        batched = n is not None
        specs = []
        for i, dtype in enumerate(self.dtypes):
            shape = self._shape(i)
            if batched and shape is not None:
                shape = (None if up_to else n, *shape)
            specs.append(TensorSpec(shape, dtype.name))

        def run(op, session, options, values):
            taken = self._state(session).take(1 if n is None else n, op, _deadline(options), up_to)
            outs = []
            for i, dtype in enumerate(self.dtypes):
                target = numpy_dtype(dtype.name)
                parts = [element[i] for element in taken]
                if batched:
                    outs.append(self._stack(op, i, parts, target))
                elif dtype.name == "string" and np.ndim(parts[0]) == 0:
                    outs.append(np.asarray(parts[0]).item())  # a scalar string: bytes, as TF's
                else:
                    outs.append(np.array(parts[0], dtype=target, order="C"))
            return outs

        op = self._op(op_type, name, [], specs, run)
        outs = op.outputs
        if self.names is not None:
            return dict(zip(self.names, outs))
        return outs[0] if len(outs) == 1 else list(outs)

    def _stack(self, op, i, parts, target):
        shapes = {p.shape for p in parts}
        if len(shapes) > 1:
            # A queue made without shapes takes elements of any shape; a batch needs one shape.
            raise errors.InvalidArgumentError(
                None,
                op,
                f"'{op.name}': component {i} of the dequeued elements has shapes "
                f"{sorted(shapes)}; dequeue_many needs one shape (give the queue shapes=, or "
                "use a PaddingFIFOQueue)",
            )
        return np.array(np.stack(parts), dtype=target, order="C")

    def dequeue(self, name=None):
        return self._dequeue("QueueDequeueV2", name or f"{self.name}_Dequeue", None)

    def dequeue_many(self, n, name=None):
        return self._dequeue("QueueDequeueManyV2", name or f"{self.name}_DequeueMany", int(n))

    def dequeue_up_to(self, n, name=None):
        return self._dequeue(
            "QueueDequeueUpToV2", name or f"{self.name}_DequeueUpTo", int(n), up_to=True
        )

    def size(self, name=None):
        def run(op, session, options, values):
            return [np.asarray(self._state(session).size(), np.int32)]

        op = self._op("QueueSizeV2", name or f"{self.name}_Size", [], [TensorSpec((), _INT32)], run)
        return op.outputs[0]

    def is_closed(self, name=None):
        def run(op, session, options, values):
            return [np.asarray(self._state(session).is_closed())]

        op = self._op(
            "QueueIsClosedV2", name or f"{self.name}_IsClosed", [], [TensorSpec((), "bool")], run
        )
        return op.outputs[0]

    def close(self, cancel_pending_enqueues=False, name=None):
        def run(op, session, options, values):
            self._state(session).close(cancel_pending_enqueues)
            return ()

        return self._op("QueueCloseV2", name or f"{self.name}_Close", [], [], run)

    @property
    def queue_ref(self):
        return self


class FIFOQueue(QueueBase):
    """`tf.FIFOQueue`: elements leave in the order they came."""

    kind = "FIFOQueue"

    def __init__(self, capacity, dtypes, shapes=None, names=None, shared_name=None, name=None):
        super().__init__(capacity, dtypes, shapes, names, shared_name, name or "fifo_queue")


class PaddingFIFOQueue(QueueBase):
    """`tf.PaddingFIFOQueue`: a FIFO queue whose dequeue_many pads each component with zeros to
    the largest shape in the batch (``None`` dims in ``shapes`` may vary between elements)."""

    kind = "PaddingFIFOQueue"

    def __init__(self, capacity, dtypes, shapes, names=None, shared_name=None, name=None):
        if shapes is None:
            raise ValueError("PaddingFIFOQueue needs shapes (use None for dims that vary)")
        super().__init__(capacity, dtypes, shapes, names, shared_name, name or "padding_fifo_queue")
        if any(s is None for s in self.shapes):
            raise ValueError("PaddingFIFOQueue needs every component's rank")

    def _stack(self, op, i, parts, target):
        dims = np.max([p.shape for p in parts], axis=0) if parts and parts[0].ndim else ()
        out = np.zeros((len(parts), *[int(d) for d in dims]), target)
        for k, p in enumerate(parts):
            out[(k, *[slice(0, d) for d in p.shape])] = p
        return out


class RandomShuffleQueue(QueueBase):
    """`tf.RandomShuffleQueue`: each dequeue takes a uniformly random element, and leaves at least
    ``min_after_dequeue`` until the queue is closed. With a seed (op or graph), the order is the
    same in every session."""

    kind = "RandomShuffleQueue"

    def __init__(
        self,
        capacity,
        min_after_dequeue,
        dtypes,
        shapes=None,
        names=None,
        seed=None,
        shared_name=None,
        name=None,
    ):
        if min_after_dequeue >= capacity:
            raise ValueError(
                f"RandomShuffleQueue: min_after_dequeue ({min_after_dequeue}) must be less than "
                f"capacity ({capacity})"
            )
        super().__init__(
            capacity,
            dtypes,
            shapes,
            names,
            shared_name,
            name or "random_shuffle_queue",
            min_after_dequeue,
            seed,
        )


def _needs_session(*values):
    raise RuntimeError("a queue op runs only in Session.run")


def _default_name(kind):
    return {"FIFOQueue": "fifo_queue", "RandomShuffleQueue": "random_shuffle_queue"}.get(
        kind, "queue"
    )


def _shape_list(shapes) -> list:
    """TF's rule: a list of ints (or Nones) is one shape; else one shape per component."""
    if hasattr(shapes, "as_list"):
        return [shapes]
    shapes = list(shapes)
    if all(d is None or isinstance(d, (int, np.integer)) for d in shapes):
        return [shapes]
    return shapes


def _dims(shape):
    if shape is None:
        return None
    dims = getattr(shape, "as_list", None)
    if dims is not None:
        return dims()
    return [None if d is None else int(d) for d in shape]


def _compatible(expected, actual) -> bool:
    if expected is None or actual is None:
        return True
    return len(expected) == len(actual) and all(
        e is None or a is None or e == a for e, a in zip(expected, actual)
    )


def _text(shape) -> str:
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"
