"""`tf.summary.FileWriter` and `tf.summary.FileWriterCache`: TensorBoard event files.

``FileWriter(logdir, graph)`` writes TensorBoard event files (tgc/runtime/events.py):
``add_summary`` for the serialized ``Summary`` protos that summary ops give, with a step;
``add_graph`` for the graph as a GraphDef (tgc/frontend/graph_def.py: scopes, devices, shapes);
``add_run_metadata`` for a traced run's step stats (tgc/frontend/run_metadata.py);
``add_event`` for any Event.
``FileWriterCache.get(logdir)`` is the one writer per logdir that tf.train's summary hooks share
(it writes the default graph when it makes the writer, as TF1's does). ``tgc.summary`` re-exports
both (they live here so that tgc/frontend/monitored.py can use them).
"""

from __future__ import annotations

import threading
import time


class FileWriter:
    """Writes summaries, the graph and events to an event file in ``logdir``
    (`tf.summary.FileWriter`).

    Every event is flushed to the file as it is added (``max_queue`` and ``flush_secs`` are accepted
    for compatibility and have nothing to delay), so a crash loses nothing already added.
    """

    def __init__(
        self,
        logdir,
        graph=None,
        max_queue=10,
        flush_secs=120,
        graph_def=None,
        filename_suffix=None,
        session=None,
    ):
        from tgc.runtime.events import EventFileWriter

        self._logdir = str(logdir)
        self._suffix = filename_suffix or ""
        self._writer = EventFileWriter(self._logdir, self._suffix)
        self._run_metadata_tags: set = set()
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def get_logdir(self) -> str:
        return self._logdir

    @property
    def event_file(self) -> str:
        return self._writer.path

    def add_event(self, event) -> None:
        """Writes an ``Event`` proto (or its serialized bytes); a missing wall time is now."""
        from tensorboard.compat.proto.event_pb2 import Event

        if isinstance(event, (bytes, bytearray)):
            event = Event.FromString(bytes(event))
        if not event.wall_time:
            event.wall_time = time.time()
        self._writer.write_event(event.SerializeToString())

    def add_summary(self, summary, global_step=None) -> None:
        """``summary``: what fetching a summary op gives (bytes) or a ``Summary`` proto."""
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        if isinstance(summary, (bytes, bytearray)):
            summary = Summary.FromString(bytes(summary))
        elif not isinstance(summary, Summary):
            raise TypeError(
                "add_summary takes a serialized Summary (bytes) or a Summary proto, not "
                f"{type(summary).__name__}"
            )
        event = Event(summary=summary)
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_graph(self, graph, global_step=None, graph_def=None) -> None:
        """The graph as a GraphDef, so TensorBoard's graph view shows scopes, devices and shapes."""
        from tensorboard.compat.proto.event_pb2 import Event

        from tgc.frontend.graph_def import graph_def as to_graph_def

        if graph_def is None:
            if not hasattr(graph, "get_operations"):
                raise TypeError(f"add_graph takes a tgc.Graph, not {type(graph).__name__}")
            graph_def = to_graph_def(graph)
        event = Event(graph_def=graph_def.SerializeToString())
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_run_metadata(self, run_metadata, tag, global_step=None) -> None:
        """A traced run's step stats under ``tag`` (TensorBoard's graph view shows each node's
        compute time per tag); a tag is used once per writer, as in TF."""
        from tensorboard.compat.proto.event_pb2 import Event, TaggedRunMetadata

        if tag in self._run_metadata_tags:
            raise ValueError("The provided tag was already used for this event type")
        self._run_metadata_tags.add(tag)
        serialized = run_metadata.SerializeToString()
        event = Event(tagged_run_metadata=TaggedRunMetadata(tag=tag, run_metadata=serialized))
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def add_session_log(self, session_log, global_step=None) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        event = Event(session_log=session_log)
        if global_step is not None:
            event.step = int(global_step)
        self.add_event(event)

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def reopen(self) -> None:
        """After ``close``: continue in a new event file in the same logdir."""
        from tgc.runtime.events import EventFileWriter

        if self._writer.closed:
            self._writer = EventFileWriter(self._logdir, self._suffix)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FileWriterCache:
    """One FileWriter per logdir, made with the default graph (TF1's
    ``tf.summary.FileWriterCache``): what SummarySaverHook and StepCounterHook write through."""

    _writers: dict = {}
    _lock = threading.Lock()

    @staticmethod
    def get(logdir) -> FileWriter:
        from tgc.graph.graph import get_default_graph

        key = str(logdir)
        with FileWriterCache._lock:
            writer = FileWriterCache._writers.get(key)
            if writer is not None and writer._writer.closed:
                writer.reopen()  # closed by its user: go on in a new event file
            if writer is None:
                writer = FileWriterCache._writers[key] = FileWriter(key, graph=get_default_graph())
            return writer

    @staticmethod
    def clear() -> None:
        """Closes and forgets every cached writer."""
        with FileWriterCache._lock:
            writers, FileWriterCache._writers = FileWriterCache._writers, {}
        for writer in writers.values():
            writer.close()
