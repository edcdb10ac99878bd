"""`tf.Summary` and `tf.HistogramProto`: the protocol buffers TF1 programs build by hand.

    summary = tf.Summary(value=[tf.Summary.Value(tag="reward", simple_value=1.0)])
    summary.value.add(tag="length", simple_value=12.0)
    writer.add_summary(summary, step)

They are TensorBoard's own classes (``tensorboard.compat.proto.summary_pb2``, the same messages as
TF's ``summary_pb2``), so everything TF1 code does with them (``Summary.Value``, ``value.add``,
``SerializeToString``, ``FromString``) works and ``FileWriter.add_summary`` writes them as they
are. TensorBoard is an optional dependency: without it importing this module raises ImportError,
and ``tf.Summary`` is refused with the reason (as ``tf.GraphDef`` is).
"""

from __future__ import annotations

from tensorboard.compat.proto.summary_pb2 import (  # noqa: F401
    HistogramProto,
    Summary,
    SummaryDescription,
)

__all__ = ["HistogramProto", "Summary", "SummaryDescription"]
