"""Summary ops as host ops: graph nodes whose value the Session computes on the host.

A summary op (``ScalarSummary``, ``HistogramSummary``, ``ImageSummary``, ``TensorSummaryV2``,
``MergeSummary``) is an Operation with ``host_fn`` set (see ``_split_host`` in session.py): when it
is fetched, the compiled step returns the summarized tensor and ``host_fn`` turns the numpy value
into a serialized ``Summary`` proto (a ``string`` scalar, ``bytes`` in Python). Nothing is compiled
for a summary, so an unfetched summary costs nothing. Names and tags follow TensorFlow 1:
``scalar("loss", x)`` twice gives ops ``loss`` and ``loss_1`` tagged alike, under name scopes
``train/loss``; every summary is added to the ``summaries`` collection (``GraphKeys.SUMMARIES``) for
``merge_all``.
"""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np

from tgc import errors
from tgc.dialect.types import TensorSpec
from tgc.frontend.build import convert_to_tensor, graph_of, string_constant
from tgc.graph.graph import Tensor

SUMMARIES = "summaries"
_STRING = TensorSpec((), "string")
_INVALID_TAG_CHARS = re.compile(r"[^-/\w\.]")


from tgc.graph.graph import GraphKeys  # noqa: E402,F401  (re-exported for tgc.summary)


def clean_tag(name: str) -> str:
    """TF's rule: characters outside ``[-/\\w.]`` become ``_`` (op names cannot hold them)."""
    return _INVALID_TAG_CHARS.sub("_", name).lstrip("/") if name else name


# ---- building host ops ---------------------------------------------------------------------------


def host_op(op_type: str, name: str, inputs: list, host_fn, absolute: bool = True, attrs=None):
    """Adds a host op; ``host_fn(op, *numpy inputs)`` computes its one ``string`` output.

    ``absolute``: ``name`` is already the unique scoped name (summaries take their scope's name)."""
    graph = graph_of(inputs)
    operation = graph.create_op(
        op_type, op_type, inputs, attrs or {}, [_STRING], name=name + "/" if absolute else name
    )
    operation.host_fn = lambda *values: host_fn(operation, *values)
    return operation.outputs[0]


def summary_scope(graph, name: str, family=None) -> tuple[str, str]:
    """(op name, tag) for a summary called ``name``, as TF1's ``summary_scope`` makes them."""
    name = clean_tag(name)
    family = clean_tag(family) if family else None
    base = name if family is None else f"{family}/{name}"
    scoped = graph.unique_name(base)
    return scoped, scoped if family is None else f"{family}/{scoped}"


def _add_to_collections(tensor: Tensor, collections) -> None:
    for key in [SUMMARIES] if collections is None else collections:
        tensor.graph.add_to_collection(key, tensor)


def _numeric(tensor: Tensor, what: str) -> Tensor:
    if tensor.spec.dtype in ("string", "bool"):
        raise TypeError(
            f"{what} summarizes numbers, but tensor '{tensor.name}' has dtype {tensor.spec.dtype}"
        )
    return tensor


def _summary(*values) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary

    return Summary(value=list(values)).SerializeToString()


# ---- scalar --------------------------------------------------------------------------------------


def scalar(name, tensor, collections=None, family=None, op_type="ScalarSummary"):
    """A ``simple_value`` summary of a scalar tensor, tagged with the scoped name."""
    tensor = _numeric(convert_to_tensor(tensor), "scalar summary")
    if tensor.spec.shape is not None and tensor.spec.shape != ():
        raise ValueError(
            f"scalar summary '{name}' needs a scalar, but '{tensor.name}' has shape {tensor.shape}"
        )
    scoped, tag = summary_scope(tensor.graph, name, family)
    out = host_op(op_type, scoped, [tensor], lambda op, v: _scalar_value(op, [tag], v))
    _add_to_collections(out, collections)
    return out


def scalar_tags(tags, tensor, collections=None, name=None):
    """TF1's ``scalar_summary(tags, values)``: one tag per element of ``values`` (a str for a
    scalar)."""
    tensor = _numeric(convert_to_tensor(tensor), "scalar_summary")
    tags = [tags] if isinstance(tags, (str, bytes)) else list(tags)
    tags = [t.decode() if isinstance(t, bytes) else str(t) for t in tags]
    if tensor.spec.is_static and int(np.prod(tensor.spec.shape)) != len(tags):
        raise ValueError(
            f"scalar_summary: {len(tags)} tags for tensor '{tensor.name}' of shape {tensor.shape}"
        )
    graph = tensor.graph
    out = host_op(
        "ScalarSummary",
        graph.unique_name(name or "ScalarSummary"),
        [tensor],
        lambda op, v: _scalar_value(op, tags, v),
    )
    _add_to_collections(out, collections)
    return out


def _scalar_value(op, tags, value) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary

    value = np.asarray(value)
    if value.size != len(tags):
        raise errors.InvalidArgumentError(
            None,
            op,
            f"tags and values not the same shape: {len(tags)} tag(s) != {list(value.shape)} for "
            f"'{op.name}'",
        )
    return _summary(
        *[Summary.Value(tag=t, simple_value=float(v)) for t, v in zip(tags, value.ravel())]
    )


# ---- histogram -----------------------------------------------------------------------------------


def _default_bucket_limits() -> np.ndarray:
    """TensorFlow's histogram buckets: +-1e-12 growing by 10% to 1e20, zero, and +-DBL_MAX at the
    ends."""
    positive, v = [], 1e-12
    while v < 1e20:
        positive.append(v)
        v *= 1.1
    positive.append(np.finfo(np.float64).max)
    return np.array([-p for p in reversed(positive)] + [0.0] + positive)


_BUCKET_LIMITS = _default_bucket_limits()


def histogram_proto(values: np.ndarray):
    """A HistogramProto as TF encodes it: counts per default bucket, runs of empty buckets
    collapsed."""
    from tensorboard.compat.proto.summary_pb2 import HistogramProto

    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return HistogramProto(
            min=0.0,
            max=0.0,
            num=0,
            sum=0.0,
            sum_squares=0.0,
            bucket_limit=[float(np.finfo(np.float64).max)],
            bucket=[0.0],
        )
    counts = np.bincount(
        np.searchsorted(_BUCKET_LIMITS, values, side="right"), minlength=len(_BUCKET_LIMITS)
    )
    limits, buckets, i = [], [], 0
    while i < len(_BUCKET_LIMITS):
        end, count = _BUCKET_LIMITS[i], counts[i]
        i += 1
        while (
            count == 0 and i < len(_BUCKET_LIMITS) and counts[i] == 0
        ):  # collapse a run of empties
            end = _BUCKET_LIMITS[i]
            i += 1
        limits.append(float(end))
        buckets.append(float(count))
    return HistogramProto(
        min=float(values.min()),
        max=float(values.max()),
        num=float(values.size),
        sum=float(values.sum()),
        sum_squares=float(np.dot(values, values)),
        bucket_limit=limits,
        bucket=buckets,
    )


def histogram(name, values, collections=None, family=None, op_type="HistogramSummary", tag=None):
    """A histogram of every element of ``values`` (any shape); NaN or Inf is an error at run
    time."""
    tensor = _numeric(convert_to_tensor(values), "histogram summary")
    if tag is None:
        scoped, tag = summary_scope(tensor.graph, name, family)
    else:
        scoped = tensor.graph.unique_name(name)
    out = host_op(op_type, scoped, [tensor], lambda op, v: _histogram_value(op, tag, v))
    _add_to_collections(out, collections)
    return out


def _histogram_value(op, tag, value) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary

    value = np.asarray(value)
    if not np.all(np.isfinite(value)):
        kind = "Nan" if np.any(np.isnan(value)) else "Infinity"
        raise errors.InvalidArgumentError(None, op, f"{kind} in summary histogram for: {tag}")
    return _summary(Summary.Value(tag=tag, histo=histogram_proto(value)))


# ---- image ---------------------------------------------------------------------------------------


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 [height, width, channels] image, channels 1 (gray), 3 (RGB) or 4
    (RGBA)."""
    height, width, channels = image.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(image, dtype=np.uint8).reshape(height, width * channels)
    raw = np.concatenate(
        [np.zeros((height, 1), np.uint8), rows], axis=1
    ).tobytes()  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def to_uint8(image: np.ndarray) -> np.ndarray:
    """TF's ImageSummary scaling of one float image: non-negative values map max to 255; otherwise
    the largest magnitude maps to 127 around 128 (rounded to the nearest level). Non-finite values
    are drawn red."""
    image = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(image).all(axis=-1, keepdims=True)
    values = np.where(np.isfinite(image), image, 0.0)
    if values.min(initial=0.0) >= 0:
        top = values.max(initial=0.0)
        scale, offset = (255.0 / top if top > 0 else 0.0), 0.0
    else:
        top = np.abs(values).max()
        scale, offset = 127.0 / top, 128.0
    out = np.clip(np.rint(values * scale + offset), 0, 255).astype(
        np.uint8
    )  # max maps to 255 exactly
    red = np.array([255, 0, 0, 255][: image.shape[-1]] if image.shape[-1] > 1 else [255], np.uint8)
    return np.where(finite, out, red)


def image(
    name, tensor, max_outputs=3, collections=None, family=None, tag=None, op_type="ImageSummary"
):
    """Up to ``max_outputs`` PNG images from a [batch, height, width, channels] tensor
    (channels 1, 3, 4)."""
    tensor = _numeric(convert_to_tensor(tensor), "image summary")
    shape = tensor.spec.shape
    if shape is not None and (len(shape) != 4 or shape[3] not in (1, 3, 4, None)):
        raise ValueError(
            f"image summary '{name}' needs a [batch, height, width, channels] tensor with 1, 3 or "
            f"4 channels, but '{tensor.name}' has shape {tensor.shape}"
        )
    if tag is None:
        scoped, tag = summary_scope(tensor.graph, name, family)
    else:
        scoped = tensor.graph.unique_name(name)
    out = host_op(
        op_type, scoped, [tensor], lambda op, v: _image_value(op, tag, int(max_outputs), v)
    )
    _add_to_collections(out, collections)
    return out


def _image_value(op, tag, max_outputs, batch) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary

    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[3] not in (1, 3, 4):
        raise errors.InvalidArgumentError(
            None,
            op,
            f"image summary '{tag}' needs [batch, height, width, 1|3|4] images, got shape "
            f"{list(batch.shape)}",
        )
    images = batch[:max_outputs]
    values = []
    for i, picture in enumerate(images):
        encoded = encode_png(to_uint8(picture))
        name = f"{tag}/image" if max_outputs == 1 else f"{tag}/image/{i}"
        values.append(
            Summary.Value(
                tag=name,
                image=Summary.Image(
                    height=picture.shape[0],
                    width=picture.shape[1],
                    colorspace=picture.shape[2],
                    encoded_image_string=encoded,
                ),
            )
        )
    return _summary(*values)


# ---- text ----------------------------------------------------------------------------------------


def text(name, tensor, collections=None):
    """A text-plugin summary of a string tensor (or a Python string); TensorBoard renders it as
    Markdown."""
    if not isinstance(tensor, Tensor):
        tensor = string_constant(tensor)
    if tensor.spec.dtype != "string":
        raise TypeError(
            f"text summary '{name}' needs a string tensor, but '{tensor.name}' has dtype "
            f"{tensor.spec.dtype}"
        )
    scoped, tag = summary_scope(tensor.graph, name)
    out = host_op("TensorSummaryV2", scoped, [tensor], lambda op, v: _text_value(tag, v))
    _add_to_collections(out, collections)
    return out


def _text_value(tag, value) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto

    from tgc.frontend.graph_def import DATA_TYPES, shape_proto

    array = np.asarray(value, dtype=object)
    strings = [s if isinstance(s, bytes) else str(s).encode() for s in array.ravel()]
    proto = TensorProto(
        dtype=DATA_TYPES["string"], tensor_shape=shape_proto(array.shape), string_val=strings
    )
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    return _summary(Summary.Value(tag=tag, metadata=metadata, tensor=proto))


# ---- merging -------------------------------------------------------------------------------------


def merge(inputs, collections=None, name=None):
    """One serialized Summary holding every value of ``inputs`` (summary tensors); tags must
    differ."""
    inputs = [convert_to_tensor(t) for t in inputs]
    for t in inputs:
        if t.spec.dtype != "string":
            raise TypeError(f"merge takes summary tensors, but '{t.name}' has dtype {t.spec.dtype}")
    graph = graph_of(inputs)
    with graph.name_scope(name or "Merge"):
        out = host_op("MergeSummary", "MergeSummary", inputs, _merge_values, absolute=False)
    for key in collections or []:
        graph.add_to_collection(key, out)
    return out


def _merge_values(op, *serialized) -> bytes:
    from tensorboard.compat.proto.summary_pb2 import Summary

    merged, tags = Summary(), set()
    for blob in serialized:
        part = Summary.FromString(blob)
        for value in part.value:
            if value.tag in tags:
                raise errors.InvalidArgumentError(
                    None, op, f"Duplicate tag {value.tag} found in summary inputs"
                )
            tags.add(value.tag)
            merged.value.add().CopyFrom(value)
    return merged.SerializeToString()


def merge_all(key=SUMMARIES, scope=None, name=None, graph=None):
    """Merges every summary in collection ``key``; None when there is none (as in TensorFlow)."""
    from tgc.graph.graph import get_default_graph

    summaries = (graph or get_default_graph()).get_collection(key, scope)
    return merge(summaries, name=name) if summaries else None
