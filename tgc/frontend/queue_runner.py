"""TF1's input pipelines on queues: `tf.train.Coordinator`, `QueueRunner`, `start_queue_runners`,
`batch`, `shuffle_batch` and the numeric input producers (`input_producer`, `range_input_producer`,
`slice_input_producer`). The file-name producer and the readers of files are in
tgc/frontend/readers.py.

Runner threads call ``Session.run`` on the enqueue ops, as TF's do; the queues they fill live in
that session (tgc/frontend/queues.py).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import numpy as np

from tgc import errors
from tgc.frontend.build import convert_to_tensor
from tgc.frontend.gather_ops import gather
from tgc.frontend.queues import FIFOQueue, PaddingFIFOQueue, RandomShuffleQueue
from tgc.graph import default_session
from tgc.graph.graph import GraphKeys, get_default_graph

QUEUE_RUNNERS = GraphKeys.QUEUE_RUNNERS


class Coordinator:
    """`tf.train.Coordinator`: threads poll ``should_stop()``; any of them (or the main loop) calls
    ``request_stop(ex)``; ``join`` waits for the threads and re-raises the first exception reported
    (an OutOfRangeError, the normal end of the input, is not re-raised)."""

    def __init__(self, clean_stop_exception_types=None):
        self._clean = tuple(clean_stop_exception_types or (errors.OutOfRangeError,))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._exc_info = None
        self._registered: list = []
        self._joined = False

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def request_stop(self, ex=None):
        """Asks the threads to stop. ``ex`` (an exception or an exc_info tuple) is re-raised by
        ``join`` if it is the first reported before the stop; after ``join`` it is raised here, as
        nothing would report it."""
        exc_info = ex if isinstance(ex, tuple) or ex is None else (type(ex), ex, ex.__traceback__)
        if exc_info is not None and isinstance(exc_info[1], self._clean):
            exc_info = None
        with self._lock:
            if self._joined and exc_info is not None:
                raise exc_info[1].with_traceback(exc_info[2])
            if not self._stop.is_set():
                self._exc_info = exc_info
                self._stop.set()

    def clear_stop(self):
        with self._lock:
            self._joined = False
            self._exc_info = None
            self._stop.clear()

    def wait_for_stop(self, timeout=None) -> bool:
        return self._stop.wait(timeout)

    @contextlib.contextmanager
    def stop_on_exception(self):
        """Any exception in the block requests a stop with it (a clean one ends quietly)."""
        try:
            yield
        except Exception as ex:  # noqa: BLE001 - every error stops the threads, reported by join
            self.request_stop(ex)

    def register_thread(self, thread):
        with self._lock:
            self._registered.append(thread)

    def join(self, threads=None, stop_grace_period_secs=120, ignore_live_threads=False):
        """Waits until a stop is requested or every thread has ended, then gives the threads
        ``stop_grace_period_secs`` to end; RuntimeError names those still running."""
        with self._lock:
            threads = list(self._registered) + [
                t for t in (threads or []) if t not in self._registered
            ]
        while any(t.is_alive() for t in threads) and not self.wait_for_stop(0.05):
            pass
        deadline = time.monotonic() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        live = [t.name for t in threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._registered = [t for t in self._registered if t.is_alive()]
            exc_info = self._exc_info
        if exc_info is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        if live and not ignore_live_threads:
            raise RuntimeError(f"Coordinator stopped with threads still running: {' '.join(live)}")

    @property
    def joined(self) -> bool:
        return self._joined

    def raise_requested_exception(self):
        with self._lock:
            if self._exc_info is not None:
                raise self._exc_info[1].with_traceback(self._exc_info[2])


class QueueRunner:
    """`tf.train.QueueRunner`: one thread per enqueue op runs it until the coordinator stops, the
    input ends (OutOfRangeError: the last thread closes the queue) or the queue is closed."""

    def __init__(
        self,
        queue=None,
        enqueue_ops=None,
        close_op=None,
        cancel_op=None,
        queue_closed_exception_types=None,
    ):
        if queue is None or not enqueue_ops:
            raise ValueError("QueueRunner needs a queue and at least one enqueue op")
        self.queue = queue
        self.enqueue_ops = list(enqueue_ops)
        self.close_op = close_op if close_op is not None else queue.close()
        self.cancel_op = (
            cancel_op if cancel_op is not None else queue.close(cancel_pending_enqueues=True)
        )
        self._closed_types = tuple(
            queue_closed_exception_types or (errors.OutOfRangeError, errors.CancelledError)
        )
        self._lock = threading.Lock()
        self._exceptions_raised: list = []
        self._runs: dict = {}  # per session: how many enqueue threads still run

    @property
    def name(self):
        return self.queue.name

    @property
    def exceptions_raised(self):
        return list(self._exceptions_raised)

    def create_threads(self, sess, coord=None, daemon=False, start=False):
        with self._lock:
            if self._runs.get(id(sess), 0) > 0:
                return []  # already running in this session, as in TF
            self._runs[id(sess)] = len(self.enqueue_ops)
            self._exceptions_raised = []
        threads = [
            threading.Thread(
                target=self._run,
                args=(sess, op, coord),
                name=f"QueueRunner:{self.queue.name}:{i}",
                daemon=daemon,
            )
            for i, op in enumerate(self.enqueue_ops)
        ]
        if coord is not None:
            threads.append(
                threading.Thread(
                    target=self._close_on_stop,
                    args=(sess, coord),
                    name=f"QueueRunner:{self.queue.name}:close",
                    daemon=daemon,
                )
            )
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            if start:
                t.start()
        return threads

    def _run(self, sess, enqueue_op, coord):
        decremented = False
        try:
            while coord is None or not coord.should_stop():
                try:
                    sess.run(enqueue_op)
                except self._closed_types:
                    # The input ended or the queue was closed: the last thread closes it.
                    with self._lock:
                        self._runs[id(sess)] -= 1
                        decremented = True
                        last = self._runs[id(sess)] == 0
                    if last:
                        self._run_quietly(sess, self.close_op)
                    return
        except Exception as ex:  # noqa: BLE001 - reported to the coordinator, as in TF
            if _session_closed(sess) and (coord is None or coord.should_stop()):
                return
            self._exceptions_raised.append(ex)
            if coord is not None:
                coord.request_stop(ex)
            else:
                print(f"Exception in QueueRunner: {ex}", file=sys.stderr)
        finally:
            if not decremented:
                with self._lock:
                    self._runs[id(sess)] -= 1

    def _close_on_stop(self, sess, coord):
        """When the coordinator stops, pending enqueues end (the queue closes, cancelling them)."""
        coord.wait_for_stop()
        self._run_quietly(sess, self.cancel_op)

    @staticmethod
    def _run_quietly(sess, op):
        try:
            sess.run(op)
        except Exception:  # noqa: BLE001 - the session may be closed already
            pass


def _session_closed(sess) -> bool:
    return bool(getattr(sess, "_closed", False))


def add_queue_runner(qr, collection=QUEUE_RUNNERS):
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(sess=None, coord=None, daemon=True, start=True, collection=QUEUE_RUNNERS):
    """Starts the threads of every QueueRunner in the graph's collection; returns them."""
    if sess is None:
        sess = default_session.get_default_session()
        if sess is None:
            raise ValueError("Cannot start queue runners: no default session is registered.")
    threads = []
    for qr in sess.graph.get_collection(collection):
        threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads


# ---- batching ------------------------------------------------------------------------------------


def _flatten(tensors):
    """(flat list, rebuild) for a tensor, a list/tuple or a dict of tensors."""
    if isinstance(tensors, dict):
        keys = list(tensors)
        return [tensors[k] for k in keys], lambda outs: dict(zip(keys, outs))
    if isinstance(tensors, (list, tuple)):
        return list(tensors), list
    return [tensors], lambda outs: outs[0]


def _batch_queue(queue, flats, batch_size, num_threads, enqueue_many, allow_smaller_final_batch):
    """Enqueue ops of each list in ``flats`` (``num_threads`` threads each), run by a QueueRunner;
    the dequeue of a batch."""
    enqueues = [queue.enqueue_many(f) if enqueue_many else queue.enqueue(f) for f in flats]
    add_queue_runner(QueueRunner(queue, enqueues * num_threads))
    if allow_smaller_final_batch:
        out = queue.dequeue_up_to(batch_size)
    else:
        out = queue.dequeue_many(batch_size)
    return out if isinstance(out, list) else [out]


def _shapes_of(flat, shapes, enqueue_many, what):
    if shapes is not None:
        return [list(s) for s in shapes]
    found = []
    for t in flat:
        shape = t.spec.shape
        if shape is not None and enqueue_many:
            shape = shape[1:]
        if shape is None or None in shape:
            raise ValueError(
                f"{what}: all shapes must be fully defined: '{t.name}' has shape "
                f"{t.shape}; give shapes= (or dynamic_pad=True with a varying dim)"
            )
        found.append(list(shape))
    return found


def batch(
    tensors,
    batch_size,
    num_threads=1,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """`tf.train.batch`: a FIFO queue filled by ``num_threads`` runner threads that enqueue
    ``tensors``; returns a dequeue of ``batch_size`` in the same structure."""
    flat, rebuild = _flatten(tensors)
    flat = [convert_to_tensor(t) for t in flat]
    dtypes = [t.dtype for t in flat]
    if dynamic_pad:
        shapes = shapes or [[None] * len(t.spec.shape[1 if enqueue_many else 0 :]) for t in flat]
        queue = PaddingFIFOQueue(capacity, dtypes, shapes, name=name or "padding_fifo_queue")
    else:
        shapes = _shapes_of(flat, shapes, enqueue_many, "batch")
        queue = FIFOQueue(capacity, dtypes, shapes, name=name or "fifo_queue")
    outs = _batch_queue(
        queue, [flat], batch_size, num_threads, enqueue_many, allow_smaller_final_batch
    )
    return rebuild(outs)


def shuffle_batch(
    tensors,
    batch_size,
    capacity,
    min_after_dequeue,
    num_threads=1,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """`tf.train.shuffle_batch`: as ``batch``, through a RandomShuffleQueue that keeps at least
    ``min_after_dequeue`` elements to draw from."""
    flat, rebuild = _flatten(tensors)
    flat = [convert_to_tensor(t) for t in flat]
    shapes = _shapes_of(flat, shapes, enqueue_many, "shuffle_batch")
    queue = RandomShuffleQueue(
        capacity,
        min_after_dequeue,
        [t.dtype for t in flat],
        shapes,
        seed=seed,
        name=name or "shuffle_batch_queue",
    )
    outs = _batch_queue(
        queue, [flat], batch_size, num_threads, enqueue_many, allow_smaller_final_batch
    )
    return rebuild(outs)


def _joined(tensors_list, what):
    """The flat lists of ``tensors_list`` (same structure and dtypes each) and the rebuild."""
    if not tensors_list:
        raise ValueError(f"{what}: tensors_list is empty")
    flats, rebuild = [], None
    for tensors in tensors_list:
        flat, rebuild = _flatten(tensors)
        flats.append([convert_to_tensor(t) for t in flat])
    dtypes = [[t.dtype for t in f] for f in flats]
    if any(d != dtypes[0] for d in dtypes):
        raise ValueError(f"{what}: every list in tensors_list needs the same dtypes, got {dtypes}")
    return flats, rebuild


def batch_join(
    tensors_list,
    batch_size,
    capacity=32,
    enqueue_many=False,
    shapes=None,
    dynamic_pad=False,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """`tf.train.batch_join`: as ``batch``, one enqueue thread per list of ``tensors_list`` (each
    typically read by its own reader), into one FIFO queue."""
    flats, rebuild = _joined(tensors_list, "batch_join")
    dtypes = [t.dtype for t in flats[0]]
    if dynamic_pad:
        shapes = shapes or [
            [None] * len(t.spec.shape[1 if enqueue_many else 0 :]) for t in flats[0]
        ]
        queue = PaddingFIFOQueue(capacity, dtypes, shapes, name=name or "padding_fifo_queue")
    else:
        shapes = _shapes_of(flats[0], shapes, enqueue_many, "batch_join")
        queue = FIFOQueue(capacity, dtypes, shapes, name=name or "fifo_queue")
    outs = _batch_queue(queue, flats, batch_size, 1, enqueue_many, allow_smaller_final_batch)
    return rebuild(outs)


def shuffle_batch_join(
    tensors_list,
    batch_size,
    capacity,
    min_after_dequeue,
    seed=None,
    enqueue_many=False,
    shapes=None,
    allow_smaller_final_batch=False,
    shared_name=None,
    name=None,
):
    """`tf.train.shuffle_batch_join`: as ``shuffle_batch``, one enqueue thread per list of
    ``tensors_list``."""
    flats, rebuild = _joined(tensors_list, "shuffle_batch_join")
    shapes = _shapes_of(flats[0], shapes, enqueue_many, "shuffle_batch_join")
    queue = RandomShuffleQueue(
        capacity,
        min_after_dequeue,
        [t.dtype for t in flats[0]],
        shapes,
        seed=seed,
        name=name or "shuffle_batch_join_queue",
    )
    outs = _batch_queue(queue, flats, batch_size, 1, enqueue_many, allow_smaller_final_batch)
    return rebuild(outs)


# ---- input producers -----------------------------------------------------------------------------


def input_producer(
    input_tensor,
    element_shape=None,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    summary_name=None,
    name=None,
    cancel_op=None,
):
    """`tf.train.input_producer`: a FIFO queue of the rows of ``input_tensor``, enqueued once per
    epoch (shuffled per epoch with ``shuffle``) by a runner thread; after ``num_epochs`` epochs
    the queue is closed, so dequeues past the end raise OutOfRangeError."""
    input_tensor = convert_to_tensor(input_tensor)
    shape = input_tensor.spec.shape
    if element_shape is None:
        if shape is None or None in shape[1:]:
            raise ValueError(
                f"input_producer: '{input_tensor.name}' needs a known element shape "
                "(give element_shape=)"
            )
        element_shape = list(shape[1:])
    dtypes = [input_tensor.dtype]
    queue = FIFOQueue(capacity, dtypes, [element_shape], name=name or "input_producer")
    graph = get_default_graph()
    rng_seed = None if seed is None and graph.seed is None else [graph.seed or 87654321, seed or 0]
    enqueue = _epoch_enqueue(queue, input_tensor, num_epochs, shuffle, rng_seed)
    add_queue_runner(QueueRunner(queue, [enqueue], cancel_op=cancel_op))
    return queue


def _epoch_enqueue(queue, input_tensor, num_epochs, shuffle, rng_seed):
    """A host op that enqueues one epoch of rows per run: the epoch count and the shuffling
    generator are the session's (TF keeps the count in a local variable)."""

    def run(op, session, options, values):
        state = session.host_state(("epochs", op.name), lambda: _Epochs(rng_seed))
        rows = np.asarray(values[0])
        with state.lock:
            if num_epochs is not None and state.count >= num_epochs:
                raise errors.OutOfRangeError(
                    None, op, f"Reached limit of {num_epochs} epochs ('{op.name}')"
                )
            state.count += 1
            order = state.rng.permutation(len(rows)) if shuffle else np.arange(len(rows))
        elements = [(np.array(rows[i]),) for i in order]
        queue._state(session).put(elements, op, None)
        return ()

    return queue._op("QueueEnqueueManyV2", f"{queue.name}_EnqueueEpoch", [input_tensor], [], run)


class _Epochs:
    def __init__(self, seed):
        self.count = 0
        self.lock = threading.Lock()
        self.rng = np.random.default_rng(seed)


def range_input_producer(
    limit,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
):
    """`tf.train.range_input_producer`: a queue of the integers 0 .. limit-1, epoch by epoch."""
    values = np.arange(int(limit), dtype=np.int32)
    return input_producer(
        values, [], num_epochs, shuffle, seed, capacity, name=name or "range_input_producer"
    )


def slice_input_producer(
    tensor_list,
    num_epochs=None,
    shuffle=True,
    seed=None,
    capacity=32,
    shared_name=None,
    name=None,
):
    """`tf.train.slice_input_producer`: one row of every tensor of ``tensor_list`` per dequeue
    (the same row index for all), rows in a (seeded) random order per epoch with ``shuffle``."""
    tensors = [convert_to_tensor(t) for t in tensor_list]
    if not tensors:
        raise ValueError("slice_input_producer needs at least one tensor")
    sizes = {t.spec.shape[0] for t in tensors if t.spec.shape is not None}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(
            "slice_input_producer: every tensor needs the same known first dimension, got "
            f"{[t.shape for t in tensors]}"
        )
    queue = range_input_producer(
        sizes.pop(), num_epochs, shuffle, seed, capacity, name=name or "input_producer"
    )
    index = queue.dequeue()
    return [gather(t, index) for t in tensors]
