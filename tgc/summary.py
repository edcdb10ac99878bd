"""``tgc.summary``: TensorFlow 1's summary ops and ``FileWriter``, for TensorBoard.

The summary ops are host ops (tgc/frontend/summary_ops.py): fetching one yields a serialized
``Summary`` proto. ``FileWriter(logdir, graph)`` writes TensorBoard event files
(tgc/runtime/events.py): ``add_summary`` for those protos with a step, ``add_graph`` for the graph
as a GraphDef (tgc/frontend/graph_def.py), ``add_event`` for any Event. The lectures' older names
(``scalar_summary``, ``histogram_summary``, ``merge_all_summaries``, ``train.SummaryWriter``) are
here too, for ``tgc/__init__.py`` and ``tgc.train`` to re-export.
"""

from __future__ import annotations

# FileWriter lives in the frontend so that tf.train's summary hooks (tgc/frontend/monitored.py)
# can write events; tgc.summary re-exports it.
from tgc.frontend.summary_writer import FileWriter, FileWriterCache  # noqa: F401
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
    "FileWriterCache",
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
