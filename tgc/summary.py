"""``tgc.summary``: TensorFlow 1's summary ops and ``FileWriter``, for TensorBoard.

The summary ops are host ops (tgc/frontend/summary_ops.py): fetching one yields a serialized
``Summary`` proto. ``FileWriter(logdir, graph)`` writes TensorBoard event files
(tgc/runtime/events.py): ``add_summary`` for those protos with a step, ``add_graph`` for the graph
as a GraphDef (tgc/frontend/graph_def.py), ``add_event`` for any Event. The lectures' older names
(``scalar_summary``, ``histogram_summary``, ``merge_all_summaries``, ``train.SummaryWriter``) are
here too, for ``tgc/__init__.py`` and ``tgc.train`` to re-export.
"""

from __future__ import annotations

import time

from tgc.frontend.summary_ops import (  # noqa: F401
    SUMMARIES,
    GraphKeys,
    histogram,
    image,
    merge,
    merge_all,
    scalar,
    scalar_tags,
    text,
)


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


# ---- TensorFlow's pre-1.0 names (the lectures use them) ------------------------------------------


def scalar_summary(tags, values, collections=None, name=None):
    """`tf.scalar_summary(tags, values)`: the tag is given, not derived from the op name."""
    return scalar_tags(tags, values, collections=collections, name=name)


def histogram_summary(tag, values, collections=None, name=None):
    return histogram(name or "HistogramSummary", values, collections=collections, tag=str(tag))


def image_summary(tag, tensor, max_images=3, collections=None, name=None):
    return image(
        name or "ImageSummary",
        tensor,
        max_outputs=max_images,
        collections=collections,
        tag=str(tag),
    )


def merge_summary(inputs, collections=None, name=None):
    return merge(inputs, collections=collections, name=name)


def merge_all_summaries(key=SUMMARIES):
    return merge_all(key)


SummaryWriter = FileWriter

__all__ = [
    "FileWriter",
    "GraphKeys",
    "SUMMARIES",
    "scalar",
    "histogram",
    "image",
    "text",
    "merge",
    "merge_all",
    "scalar_summary",
    "histogram_summary",
    "image_summary",
    "merge_summary",
    "merge_all_summaries",
    "SummaryWriter",
]
