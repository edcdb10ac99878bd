"""tgc.summary: summary values against numpy, TF1 names and tags, event-file
framing, GraphDef contents."""

import io
import os

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from PIL import Image  # noqa: E402  (a tensorboard dependency; tgc itself encodes PNG without it)
from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: E402
from tensorboard.compat.proto.event_pb2 import Event  # noqa: E402
from tensorboard.compat.proto.summary_pb2 import Summary  # noqa: E402

import tgc as tf  # noqa: E402
import tgc.summary as summary  # noqa: E402
from tgc import errors  # noqa: E402
from tgc.frontend.graph_def import graph_def  # noqa: E402
from tgc.frontend.summary_ops import _BUCKET_LIMITS  # noqa: E402
from tgc.runtime import events  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()


def _values(blob):
    return {v.tag: v for v in Summary.FromString(blob).value}


# ---- event files ---------------------------------------------------------------------------------


def test_crc32c_known_vectors():
    assert events.crc32c(b"123456789") == 0xE3069283
    assert events.crc32c(b"") == 0
    assert events.crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros


def test_record_framing_round_trip_and_torn_tail(tmp_path):
    path = tmp_path / "records"
    payloads = [b"first", b"", os.urandom(1000)]
    path.write_bytes(b"".join(events.frame_record(p) for p in payloads))
    assert list(events.read_records(str(path))) == payloads
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # a crash in the middle of the last record
    assert list(events.read_records(str(path))) == payloads[:2]


def test_crash_mid_write_leaves_every_complete_record_readable(tmp_path):
    writer = summary.FileWriter(str(tmp_path))
    for step in range(5):
        writer.add_summary(Summary(value=[Summary.Value(tag="x", simple_value=step * 1.5)]), step)
    # No close and no flush call: each record is already on disk. Then a torn
    # record, as a crash leaves.
    with open(writer.event_file, "ab") as handle:
        handle.write(events.frame_record(b"\x08" * 40)[:20])
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("x")] == [(s, s * 1.5) for s in range(5)]


def test_first_record_is_the_version_event(tmp_path):
    with summary.FileWriter(str(tmp_path)) as writer:
        path = writer.event_file
    first = Event.FromString(next(events.read_records(path)))
    assert first.file_version == "brain.Event:2"
    assert os.path.basename(path).startswith("events.out.tfevents.")


# ---- summary ops ---------------------------------------------------------------------------------


def test_scalar_names_tags_and_values():
    x = tf.placeholder(tf.float32, [None], name="x")
    mean = tf.reduce_mean(x)
    first = summary.scalar("loss", mean)
    second = summary.scalar("loss", mean)
    with tf.name_scope("train"):
        scoped = summary.scalar("loss", mean)
    assert [first.op.name, second.op.name, scoped.op.name] == ["loss", "loss_1", "train/loss"]
    assert first.op.type == "ScalarSummary" and first.dtype.name == "string"
    a = np.array([1.0, 2.5, 4.0], np.float32)
    out = tf.Session().run([first, second, scoped], {x: a})
    for blob, tag in zip(out, ["loss", "loss_1", "train/loss"]):
        assert isinstance(blob, bytes)
        assert _values(blob)[tag].simple_value == pytest.approx(float(a.mean()))
    assert tf.get_default_graph().get_collection(summary.GraphKeys.SUMMARIES) == [
        first,
        second,
        scoped,
    ]


def test_scalar_needs_a_scalar_and_numbers():
    with pytest.raises(ValueError, match=r"scalar summary 'v' needs a scalar.*shape \(2,\)"):
        summary.scalar("v", tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="dtype bool"):
        summary.scalar("b", tf.constant(True))


def test_histogram_against_numpy():
    rng = np.random.default_rng(1)
    values = (rng.standard_normal((50, 7)) * 3).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 7])
    h = summary.histogram("weights", x * 2.0)
    histo = _values(tf.Session().run(h, {x: values}))["weights"].histo
    doubled = (values * np.float32(2.0)).astype(np.float64)
    assert histo.num == doubled.size
    assert histo.min == pytest.approx(doubled.min()) and histo.max == pytest.approx(doubled.max())
    assert histo.sum == pytest.approx(doubled.sum(), rel=1e-9)
    assert histo.sum_squares == pytest.approx((doubled**2).sum(), rel=1e-9)
    assert sum(histo.bucket) == doubled.size
    # Each non-empty bucket holds exactly the values in (previous limit, limit].
    limits = np.array(histo.bucket_limit)
    lower = np.concatenate([[-np.inf], limits[:-1]])
    for lo, hi, count in zip(lower, limits, histo.bucket):
        assert count == np.count_nonzero((doubled >= lo) & (doubled < hi))
    assert set(limits) <= set(_BUCKET_LIMITS)


def test_histogram_rejects_nan():
    x = tf.placeholder(tf.float32, [2])
    h = summary.histogram("w", x)
    with pytest.raises(errors.InvalidArgumentError, match="Nan in summary histogram for: w"):
        tf.Session().run(h, {x: np.array([1.0, np.nan], np.float32)})


def test_image_png_and_scaling():
    rng = np.random.default_rng(2)
    batch = rng.uniform(-1, 3, (4, 5, 6, 3)).astype(np.float32)
    gray = rng.uniform(0, 2, (2, 3, 4, 1)).astype(np.float32)
    x = tf.placeholder(tf.float32, [None, 5, 6, 3])
    g = tf.placeholder(tf.float32, [None, 3, 4, 1])
    colour = summary.image("pics", x, max_outputs=2)
    single = summary.image("gray", g, max_outputs=1)
    blob_c, blob_g = tf.Session().run([colour, single], {x: batch, g: gray})
    values = _values(blob_c)
    assert sorted(values) == ["pics/image/0", "pics/image/1"]
    for i in range(2):
        img = values[f"pics/image/{i}"].image
        assert (img.height, img.width, img.colorspace) == (5, 6, 3)
        decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
        expected = np.clip(
            np.rint(batch[i] * (127.0 / np.abs(batch[i]).max()) + 128), 0, 255
        ).astype(np.uint8)
        np.testing.assert_array_equal(decoded, expected)
    img = _values(blob_g)["gray/image"].image
    decoded = np.asarray(Image.open(io.BytesIO(img.encoded_image_string)))
    np.testing.assert_array_equal(
        decoded, np.rint(gray[0, :, :, 0] * (255.0 / gray[0].max())).astype(np.uint8)
    )
    assert decoded.max() == 255


def test_image_shape_error():
    with pytest.raises(ValueError, match=r"1, 3 or 4 channels.*\(2, 3, 3, 2\)"):
        summary.image("bad", tf.zeros([2, 3, 3, 2]))


def test_text_summary():
    t = summary.text("notes", "learning rate **0.1**")
    value = _values(tf.Session().run(t))["notes"]
    assert value.metadata.plugin_data.plugin_name == "text"
    assert list(value.tensor.string_val) == [b"learning rate **0.1**"]


def test_merge_all_merge_and_duplicate_tags():
    assert summary.merge_all() is None
    x = tf.placeholder(tf.float32, [3])
    summary.scalar("s", tf.reduce_sum(x))
    summary.histogram("h", x)
    merged = summary.merge_all()
    assert merged.op.name == "Merge/MergeSummary" and merged.op.type == "MergeSummary"
    a = np.array([1.0, -2.0, 5.0], np.float32)
    values = _values(tf.Session().run(merged, {x: a}))
    assert values["s"].simple_value == pytest.approx(4.0) and values["h"].histo.num == 3
    old = summary.scalar_summary("s", tf.reduce_max(x))  # the same tag as "s"
    clash = summary.merge([merged, old])
    with pytest.raises(
        errors.InvalidArgumentError, match="Duplicate tag s found in summary inputs"
    ):
        tf.Session().run(clash, {x: a})


def test_old_names():
    x = tf.placeholder(tf.float32, [2])
    s = summary.scalar_summary(["a", "b"], x)
    h = summary.histogram_summary("dist", x)
    assert (s.op.type, s.op.name, h.op.type) == (
        "ScalarSummary",
        "ScalarSummary",
        "HistogramSummary",
    )
    merged = summary.merge_all_summaries()
    values = _values(tf.Session().run(merged, {x: np.array([3.0, 4.0], np.float32)}))
    assert (values["a"].simple_value, values["b"].simple_value, values["dist"].histo.sum) == (
        3.0,
        4.0,
        7.0,
    )
    assert summary.SummaryWriter is summary.FileWriter
    assert tf.train.SummaryWriter is summary.FileWriter  # set by tgc/__init__.py


def test_summaries_are_not_compiled_and_cannot_feed_device_ops():
    x = tf.placeholder(tf.float32, [None])
    loss = tf.reduce_sum(x * x)
    s = summary.scalar("loss", loss)
    sess = tf.Session()
    value, blob = sess.run([loss, s], {x: np.array([1.0, 2.0], np.float32)})
    assert value == 5.0 and _values(blob)["loss"].simple_value == 5.0
    compiled_ops = [op for run in sess._cache.values() for op in run.ops]
    assert loss.op in compiled_ops and s.op not in compiled_ops
    with pytest.raises(TypeError, match="'loss' \\(ScalarSummary\\) runs on the host"):
        sess.run(tf.identity(s), {x: np.array([1.0], np.float32)})


# ---- the graph -----------------------------------------------------------------------------------


def test_graph_def_names_types_inputs_devices_shapes():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.name_scope("scores"), tf.device("/cpu:0"):
        w = tf.Variable(tf.zeros([3, 2]), name="W")
        s = tf.matmul(x, w)
    with tf.control_dependencies([s]):
        done = tf.no_op(name="done")
    nodes = {n.name: n for n in graph_def(tf.get_default_graph()).node}
    assert nodes["scores/W"].op == "VariableV2"
    assert nodes["scores/MatMul"].op == "MatMul"
    assert list(nodes["scores/MatMul"].input) == ["x", "scores/W"]
    assert list(nodes["scores/W/Assign"].input) == ["scores/W", "scores/zeros"]
    assert list(nodes[done.name].input) == ["^scores/MatMul"]
    assert nodes["scores/MatMul"].device.endswith("CPU:0")
    dims = [d.size for d in nodes["scores/MatMul"].attr["_output_shapes"].list.shape[0].dim]
    assert dims == [-1, 2]
    assert nodes["x"].attr["dtype"].type == 1  # DT_FLOAT


def test_file_writer_graph_and_summaries_read_back(tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(x)
    s = summary.scalar("mean", loss)
    sess = tf.Session()
    writer = summary.FileWriter(str(tmp_path), sess.graph)
    for step in range(3):
        writer.add_summary(sess.run(s, {x: np.full(4, step, np.float32)}), global_step=step)
    writer.close()
    acc = ea.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("mean")] == [(0, 0.0), (1, 1.0), (2, 2.0)]
    names = {n.name for n in acc.Graph().node}
    assert {"x", "loss/Mean", "mean"} <= names
