"""TensorFlow 2.21's answers for tests/conformance/test_generator_domains.py (``programs``:
UnsortedSegmentSum with a segment id past num_segments, and its gradient's GatherV2 on such an
id) and tests/e2e/test_segment_edges.py (``edges``: segment ops of data with no rows, unsorted max
and min of infinite rows), printed as TF_VALUES and EDGE_VALUES:

    /tmp/tfenv/bin/python tests/oracle/unsorted_segment_ids.py

(compat.v1 with v2 behaviour disabled, on the CPU.) Random-graph campaign seed 304738 gave the
registry's gather_grad (UnsortedSegmentSum) the id 1 for 1 row.
"""

import pprint

import numpy as np


def error_text(run):
    try:
        return ("ok", np.asarray(run()).tolist())
    except Exception as exc:  # noqa: BLE001 - the error is the answer
        # TF's text: "Graph execution error:", the op's traceback, then the kernel's message.
        lines = [line for line in str(exc).splitlines() if " is " in line and "[0, " in line]
        return (type(exc).__name__, lines[0].strip() if lines else str(exc))


def programs(t):
    data = t.placeholder(t.float64, [1, 3])
    ids = t.placeholder(t.int32, [1])
    sums = t.unsorted_segment_sum(data, ids, 1)
    (grad,) = t.gradients(t.reduce_sum(sums * [[0.198, 0.524, 1.635]]), [data])
    feeds = {data: [[1.0015, 0.8706, 1.1385]]}
    out = {}
    with t.Session() as sess:
        for name, value in (("in_range", [0]), ("negative", [-1]), ("past_the_rows", [1])):
            out[name] = error_text(lambda: sess.run(sums, {**feeds, ids: value}))
            out[name + "_grad"] = error_text(lambda: sess.run(grad, {**feeds, ids: value}))
    return out


def edges(t):
    """Values of segment ops on edge cases, as plain lists (shapes for empty results)."""
    no_rows32, no_rows64 = np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float64)
    no_ids = np.zeros((0,), np.int32)
    out = {}
    with t.Graph().as_default():
        data = t.placeholder(t.float32, [0, 2])
        sums = t.unsorted_segment_sum(data, no_ids, 2)
        (grad,) = t.gradients(t.reduce_sum(sums), [data])
        ops = {
            "sum_of_no_rows": sums,
            "mean_of_no_rows": t.unsorted_segment_mean(data, no_ids, 2),
            "prod_of_no_rows": t.unsorted_segment_prod(data, no_ids, 2),
            "min_of_no_rows_f32": t.unsorted_segment_min(data, no_ids, 2),
            "max_of_no_rows_f64": t.unsorted_segment_max(t.constant(no_rows64), no_ids, 2),
            "max_of_no_rows_i32": t.unsorted_segment_max(t.zeros([0, 2], t.int32), no_ids, 2),
            "max_of_minus_inf": t.unsorted_segment_max(
                t.constant([[-np.inf, 1.0]], t.float32), [0], 2
            ),
            "min_of_inf": t.unsorted_segment_min(t.constant([[np.inf, 1.0]], t.float64), [0], 2),
            "sorted_sum_of_no_rows_shape": t.shape(t.segment_sum(data, no_ids)),
            "grad_of_sum_of_no_rows_shape": t.shape(grad),
        }
        with t.Session() as sess:
            got = sess.run(ops, {data: no_rows32})
    for name, value in got.items():
        out[name] = np.asarray(value).tolist()
    return out


if __name__ == "__main__":
    import tensorflow.compat.v1 as tf

    tf.disable_v2_behavior()
    print("TF_VALUES =", end=" ")
    pprint.pprint(programs(tf))
    print("EDGE_VALUES =", end=" ")
    pprint.pprint(edges(tf))
