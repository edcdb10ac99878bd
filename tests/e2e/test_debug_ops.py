"""Debugging from compiled code (issue 17): tf.Print and tf.print write from inside the compiled
program, in program order, in loops and conditionals; check_numerics, tf.Assert and the assert_*
family fail the run with TensorFlow's InvalidArgumentError; tf.gather refuses an index out of range.

Every expected text is TensorFlow 2.21's, recorded by ``/tmp/tfenv/bin/python
tests/oracle/print_oracle.py`` (compat.v1, v2 behaviour disabled); the lines quote its output.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import tgc as tf
from tgc.dialect import targets
from tgc.frontend import debug_ops as d
from tgc.runtime import host_calls

GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# ---- tf.Print ----------------------------------------------------------------------------------


def test_print_returns_its_input_and_writes_message_and_values_to_stderr(capsys):
    x = tf.constant([1, 2, 3])
    np.testing.assert_array_equal(_run(d.Print(x, [x], message="x is ")), [1, 2, 3])
    assert capsys.readouterr().err == "x is [1 2 3]\n"  # TF 2.21: "x is [1 2 3]"


def test_print_summarizes_the_first_elements_in_row_major_order(capsys):
    m = tf.placeholder(tf.float32, [None, 4])
    value = np.arange(12, dtype=np.float32).reshape(3, 4) / 3
    out = _run(d.Print(m * 2.0, [m, tf.constant(7)], message="", summarize=5), {m: value})
    np.testing.assert_allclose(out, value * 2.0, rtol=0)  # doubling is exact in float32
    # TF 2.21: float32 with 6 digits, 9 where 6 do not read back; "..." where elements were left.
    assert capsys.readouterr().err == "[[0 0.333333343 0.666666687 1][1.33333337...]...][7]\n"


def test_print_default_summarize_bools_doubles_and_all_elements(capsys):
    m = tf.constant([[1.5, 2.0], [3.25, -4.0]])
    b = tf.constant([True, False, True])
    v = tf.constant(np.arange(10, dtype=np.int64))
    dbl = tf.constant([0.1, 1.0 / 3.0, 2.0], tf.float64)
    _run(
        [
            d.Print(m, [m], message="m: "),
            d.Print(b, [b, tf.constant(2.5, tf.float64)], message="b"),
            d.Print(v, [v], summarize=-1),
            d.Print(dbl, [dbl]),
        ]
    )
    lines = capsys.readouterr().err.splitlines()
    assert sorted(lines) == sorted(
        [
            "m: [[1.5 2][3.25...]...]",
            "b[1 0 1][2.5]",
            "[0 1 2 3 4 5 6 7 8 9]",
            "[0.1 0.33333333333333331 2]",
        ]
    )


def test_print_first_n_prints_only_the_first_runs(capsys):
    i = tf.placeholder(tf.int32, [])
    p = d.Print(i, [i], message="n=", first_n=2)
    with tf.Session() as sess:
        assert [int(sess.run(p, {i: k})) for k in range(4)] == [0, 1, 2, 3]
    assert capsys.readouterr().err == "n=[0]\nn=[1]\n"


def test_print_floats_nan_inf_and_large_values(capsys):
    f = tf.constant([0.1, 1.0 / 3.0, 1e-7, 123456789.0, float("nan"), float("inf")], tf.float32)
    _run(d.Print(f, [f], summarize=-1))
    assert capsys.readouterr().err == "[0.1 0.333333343 1e-07 123456792 nan inf]\n"


def test_print_gradient_flows_to_its_input():
    x = tf.placeholder(tf.float32, [3])
    y = d.Print(x * x, [x], message="x")
    (g,) = tf.gradients(tf.reduce_sum(y), [x])
    np.testing.assert_allclose(_run(g, {x: [1.0, -2.0, 0.5]}), [2.0, -4.0, 1.0], rtol=0)


# ---- tf.print ----------------------------------------------------------------------------------


def test_tf_print_is_an_op_to_fetch(capsys):
    x = tf.constant([1, 2, 3])
    op = d.print_("x:", x)
    assert _run(op) is None
    assert capsys.readouterr().err == "x: [1 2 3]\n"


def test_tf_print_summarizes_each_dim_at_both_ends(capsys):
    m = tf.constant(np.arange(100, dtype=np.int32).reshape(10, 10))
    c = tf.constant(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4)
    with tf.Session() as sess:
        sess.run(d.print_(m))
        first = capsys.readouterr().err
        sess.run(d.print_(c, summarize=2))
        second = capsys.readouterr().err
    assert first == (
        "[[0 1 2 ... 7 8 9]\n [10 11 12 ... 17 18 19]\n [20 21 22 ... 27 28 29]\n ...\n"
        " [70 71 72 ... 77 78 79]\n [80 81 82 ... 87 88 89]\n [90 91 92 ... 97 98 99]]\n"
    )
    assert second == (
        "[[[0 0.25 0.5 0.75]\n  [1 1.25 1.5 1.75]\n  [2 2.25 2.5 2.75]]\n\n"
        " [[3 3.25 3.5 3.75]\n  [4 4.25 4.5 4.75]\n  [5 5.25 5.5 5.75]]]\n"
    )


def test_tf_print_sep_end_scalars_and_python_values(capsys):
    _run(d.print_(tf.constant(1.5), tf.constant(True), "s", 7, sep="|", end="!\n"))
    assert capsys.readouterr().err == "1.5|True|s|7!\n"


def test_tf_print_to_stdout_and_to_a_file(capsys, tmp_path):
    path = tmp_path / "log.txt"
    x = tf.constant([4, 5])
    _run(
        [d.print_("out", x, output_stream=sys.stdout), d.print_(x, output_stream=f"file://{path}")]
    )
    assert capsys.readouterr().out == "out [4 5]\n"
    assert path.read_text() == "[4 5]\n"
    with pytest.raises(ValueError, match="Unsupported output stream"):
        d.print_(x, output_stream=42)


def test_prints_in_a_while_loop_run_once_per_iteration_in_order(capsys):
    def body(i):
        return tf.tuple([i + 1], control_inputs=[d.print_("step", i)])[0]

    r = tf.while_loop(lambda i: i < 3, body, [tf.constant(0)])
    assert _run(r) == 3
    assert capsys.readouterr().err == "step 0\nstep 1\nstep 2\n"  # TF 2.21's three lines


def test_print_in_a_cond_runs_only_in_the_taken_branch(capsys):
    x = tf.placeholder(tf.float32, [3])
    c = tf.cond(
        tf.reduce_sum(x) > 0,
        lambda: d.Print(x, [x], message="pos"),
        lambda: d.Print(x, [-x], message="neg"),
    )
    with tf.Session() as sess:
        sess.run(c, {x: [1.0, 2.0, 3.0]})
        sess.run(c, {x: [-1.0, -2.0, -3.0]})
    assert capsys.readouterr().err == "pos[1 2 3]\nneg[1 2 3]\n"


def test_prints_keep_program_order_along_a_chain(capsys):
    x = tf.placeholder(tf.float32, [])
    a = d.Print(x + 1.0, [x], message="a")
    b = d.Print(a * 2.0, [a], message="b")
    c = d.Print(b - 1.0, [b], message="c")
    assert _run(c, {x: 1.0}) == 3.0
    assert capsys.readouterr().err == "a[1]\nb[2]\nc[4]\n"


# ---- check_numerics ----------------------------------------------------------------------------


def test_check_numerics_passes_finite_values_and_names_nan_and_inf():
    x = tf.placeholder(tf.float32, [None])
    checked = d.check_numerics(tf.log(x), "log of x")
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(checked, {x: [1.0, np.e]}), [0.0, 1.0], rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(checked, {x: [1.0, 0.0, -1.0]})
        # TF 2.21: "log of x : Tensor had Inf and NaN values" (log 0 = -inf, log -1 = nan)
        assert str(caught.value).startswith("log of x : Tensor had Inf and NaN values")
        assert "[[node CheckNumerics" in str(caught.value)
        with pytest.raises(tf.errors.InvalidArgumentError, match="log of x : Tensor had NaN"):
            sess.run(checked, {x: [-1.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="log of x : Tensor had Inf v"):
            sess.run(checked, {x: [0.0]})


def test_check_numerics_gradient_checks_the_incoming_gradient():
    x = tf.placeholder(tf.float32, [2])
    y = d.check_numerics(x, "x")
    (g,) = tf.gradients(tf.reduce_sum(tf.sqrt(y)), [x])
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: [4.0, 1.0]}), [0.25, 0.5], rtol=1e-6)
        with pytest.raises(tf.errors.InvalidArgumentError, match="detected in gradient. x : "):
            sess.run(g, {x: [0.0, 1.0]})  # d sqrt(x)/dx at 0 is inf


def test_add_check_numerics_ops_names_the_op_and_output():
    a = tf.constant([1.0, 0.0])
    y = tf.log(a, name="mylog")
    check = d.add_check_numerics_ops()
    with pytest.raises(tf.errors.InvalidArgumentError, match="mylog:0 : Tensor had Inf values"):
        _run([y, check])  # TF 2.21: "mylog:0 : Tensor had Inf values"


# ---- tf.Assert and the assert_* family ---------------------------------------------------------


def test_assert_passes_and_fails_with_its_data():
    x = tf.placeholder(tf.float32, [3])
    a = d.Assert(tf.reduce_all(x > 0), ["x must be positive", x])
    with tf.Session() as sess:
        sess.run(a, {x: [1.0, 2.0, 3.0]})
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(a, {x: [1.0, -2.0, 3.0]})
    # TF 2.21: "assertion failed: [x must be positive] [1 -2 3]"
    assert str(caught.value).startswith("assertion failed: [x must be positive] [1 -2 3]")


def test_an_assert_as_a_control_dependency_guards_the_result():
    x = tf.placeholder(tf.float32, [None])
    with tf.control_dependencies([d.assert_non_negative(x)]):
        y = tf.sqrt(x)
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y, {x: [4.0, 9.0]}), [2.0, 3.0], rtol=0)
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"x >= 0 did not hold"):
            sess.run(y, {x: [4.0, -9.0]})


@pytest.mark.parametrize(
    "check, y0, expected",
    [
        (
            d.assert_equal,
            [1, 5, 3],
            "assertion failed: [Condition x == y did not hold element-wise:] [x (Placeholder:0) = ]"
            " [1 2 3] [y (Placeholder_1:0) = ] [1 5 3]",
        ),
        (
            d.assert_less,
            [2, 2, 4],
            "assertion failed: [Condition x < y did not hold element-wise:] [x (Placeholder:0) = ]"
            " [1 2 3] [y (Placeholder_1:0) = ] [2 2 4]",
        ),
        (
            d.assert_less_equal,
            [2, 2, 2],
            "assertion failed: [Condition x <= y did not hold element-wise:] "
            "[x (Placeholder:0) = ] [1 2 3] [y (Placeholder_1:0) = ] [2 2 2]",
        ),
        (
            d.assert_greater,
            [0, 2, 4],
            "assertion failed: [Condition x > y did not hold element-wise:] [x (Placeholder:0) = ]"
            " [1 2 3] [y (Placeholder_1:0) = ] [0 2 4]",
        ),
    ],
)
def test_binary_asserts_fail_at_run_time_with_tf_data(check, y0, expected):
    x = tf.placeholder(tf.int32, [None])
    y = tf.placeholder(tf.int32, [None])
    op = check(x, y)
    with tf.Session() as sess:
        holding = {d.assert_equal: [1, 2, 3], d.assert_greater: [0, 1, 2]}.get(check, [5, 6, 7])
        sess.run(op, {x: [1, 2, 3], y: holding})
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(op, {x: [1, 2, 3], y: y0})
    assert str(caught.value).splitlines()[0] == expected


@pytest.mark.parametrize(
    "check, value, expected",
    [
        (
            d.assert_positive,
            [1, 0, 3],
            "assertion failed: [] [Condition x > 0 did not hold element-wise:] "
            "[x (Placeholder:0) = ] [1 0 3]",
        ),
        (
            d.assert_non_negative,
            [1, -1, 3],
            "assertion failed: [] [Condition x >= 0 did not hold element-wise:] "
            "[x (Placeholder:0) = ] [1 -1 3]",
        ),
        (
            lambda x: d.assert_negative(x, message="neg!"),
            [-1, 0],
            "assertion failed: [neg!.  ] [Condition x < 0 did not hold element-wise:] "
            "[x (Placeholder:0) = ] [-1 0]",
        ),
    ],
)
def test_sign_asserts_fail_at_run_time_with_tf_data(check, value, expected):
    x = tf.placeholder(tf.int32, [None])
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        _run(check(x), {x: value})
    assert str(caught.value).splitlines()[0] == expected


def test_static_asserts_raise_when_the_graph_is_built():
    with pytest.raises(tf.errors.InvalidArgumentError) as caught:
        d.assert_equal(tf.constant([1, 2]), tf.constant([1, 3]))
    # TF 2.21's first three lines
    assert str(caught.value).splitlines()[:3] == [
        "Condition x == y did not hold element-wise:",
        "x (Const:0) = ",
        "[1 2]",
    ]
    d.assert_equal(tf.constant([1, 2]), tf.constant([1, 2]))  # holds: a run-time op that passes
    with pytest.raises(ValueError, match=r"Tensor Const_\d+:0 must have rank 2.  Received rank 1"):
        d.assert_rank(tf.constant([1, 2]), 2)
    with pytest.raises(TypeError, match=r"Const_\d+:0 must be of type tf.float32; got tf.int32"):
        d.assert_type(tf.constant([1, 2]), tf.float32)
    d.assert_type(tf.constant([1.0]), tf.float32)


def test_assert_rank_of_an_unknown_rank_checks_at_run_time():
    p = tf.placeholder(tf.float32, None)
    op = d.assert_rank(p, 2)
    with tf.Session() as sess:
        sess.run(op, {p: np.zeros((2, 3), np.float32)})
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(op, {p: [1.0, 2.0]})
    assert str(caught.value).splitlines()[0] == (
        "assertion failed: [] [Tensor Placeholder:0 must have rank] [2] [Received shape: ] [2]"
    )


def test_debugging_namespace_has_the_checks():
    for name in ("check_numerics", "Assert", "assert_equal", "assert_rank", "assert_type"):
        assert callable(getattr(d.debugging, name))


# ---- tf.gather out of range --------------------------------------------------------------------


def test_gather_index_out_of_range_fails_as_tf_cpu_kernel():
    params = tf.constant(np.arange(10, dtype=np.float32).reshape(5, 2))
    idx = tf.placeholder(tf.int32, None)
    g = tf.gather(params, idx)
    e = tf.nn.embedding_lookup(params, idx)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {idx: [0, 4, 2]}), [[0, 1], [8, 9], [4, 5]])
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"^indices\[3\] = 7 is not in"):
            sess.run(g, {idx: [0, 1, 4, 7]})
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(g, {idx: [[0, 1, 2], [3, -1, 9]]})
        assert str(caught.value).startswith("indices[1,1] = -1 is not in [0, 5)")  # the first one
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = 5 is not in"):
            sess.run(e, {idx: [5]})


def test_gather_of_constant_indices_out_of_range_is_not_folded_to_zeros():
    g = tf.gather(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([1, 5, -1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[1\] = 5 is not in \[0, 2"):
        _run(g)


# ---- other targets: the checks stay on the CPU -------------------------------------------------


def test_on_the_gpu_print_and_checks_are_placed_on_the_cpu_and_gather_checks_there(capsys):
    """tf.Print and check_numerics call the host: soft placement keeps them on the CPU. tf.gather
    runs on the GPU and fails the run as on the CPU (its check's record read by the launch plan,
    tests/e2e/test_nvptx_gather.py)."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        params = tf.placeholder(tf.float32, [5, 2], name="params")
        idx = tf.placeholder(tf.int32, [3], name="idx")
        with tf.device("/gpu:0"):
            g = tf.gather(tf.exp(params), idx, name="g")
            p = d.Print(g * 2.0, [g], message="g: ", name="p")
            z = tf.reduce_sum(d.check_numerics(p, "checked") * 3.0, name="z")
        soft = tf.ConfigProto(
            device_count={"GPU": 1}, log_device_placement=True, allow_soft_placement=True
        )
        with tf.Session(config=soft) as sess:
            feed = {params: np.zeros((5, 2), np.float32)}
            assert sess.run(z, {**feed, idx: [0, 1, 4]}) == 36.0
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[2\] = 7"):
                sess.run(z, {**feed, idx: [0, 1, 7]})
        err = capsys.readouterr().err
        assert "g: [[1 1][1...]...]\n" in err
        for line in (f"g: (tgc.gather): {GPU0}", f"p: (tgc.print): {CPU0}", "z: (tgc.reduce_sum)"):
            assert line in err
        hard = tf.ConfigProto(device_count={"GPU": 1})
        with tf.Session(config=hard) as sess, pytest.raises(tf.errors.CompileError) as caught:
            sess.run(z, {**feed, idx: [0, 1, 4]})
    assert "cannot place 'tgc.print' on requested device '/device:GPU:0'" in str(caught.value)


def _asserts_under_the_gpu(x, n):
    """tf.Assert and tf.debugging.assert_less requested on /gpu:0, each guarding a GPU op."""
    with tf.device("/gpu:0"):
        positive = tf.Assert(tf.reduce_all(x > 0), ["x must be positive", x], name="positive")
        with tf.control_dependencies([positive]):
            y = tf.exp(x, name="y")
        small = tf.debugging.assert_less(n, 5, message="n is too big", name="small")
        with tf.control_dependencies([small]):
            z = tf.multiply(x, 2.0, name="z")
    return y, z


def _assert_errors(fetches, feeds, config):
    """The error text of each run of ``fetches`` with each of ``feeds`` ('' when none)."""
    texts = []
    with tf.Session(config=config) as sess:
        for feed in feeds:
            try:
                sess.run(fetches, feed)
                texts.append("")
            except tf.errors.InvalidArgumentError as exc:
                texts.append(str(exc))
        # by (name, op): a control edge across devices adds a send of a token named as its op
        placed = {(n, op): dev for r in sess._cache.values() for n, op, dev in r.placement or ()}
    return texts, placed


def test_asserts_requested_on_the_gpu_run_on_the_cpu_without_soft_placement():
    # tgc.assert, which only the CPU runs, refused a GPU request unless allow_soft_placement: any
    # op with a run-time check under tf.device('/gpu:0') needed it. As TF's GPU Assert reads its
    # inputs from host memory, the check now goes to the CPU (its condition and data sent there)
    # while the ops it guards stay on the GPU, and fails with the CPU's text.
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [2, 2], name="x")
        n = tf.placeholder(tf.int32, [], name="n")
        fetches = _asserts_under_the_gpu(x, n)
        ones = np.ones((2, 2), np.float32)
        feeds = [{x: ones, n: 1}, {x: -ones, n: 1}, {x: ones, n: 7}, {x: ones, n: 4}]
        on_gpu, placed = _assert_errors(fetches, feeds, tf.ConfigProto(device_count={"GPU": 1}))
        on_cpu, _ = _assert_errors(fetches, feeds, tf.ConfigProto(allow_soft_placement=True))
    assert on_gpu == on_cpu
    assert on_gpu[0] == on_gpu[3] == ""
    assert on_gpu[1].startswith("assertion failed: [x must be positive] [[-1 -1][-1...]...]\n")
    assert on_gpu[2].startswith("assertion failed: [n is too big] [Condition x < y did not hold")
    assert placed["positive", "tgc.assert"] == placed["small/Assert", "tgc.assert"] == CPU0
    assert placed["y", "tgc.exp"] == placed["z", "tgc.multiply"] == GPU0


def test_ops_with_run_time_checks_run_under_the_gpu_without_soft_placement():
    # tf.gather_nd, tf.ensure_shape and the image crops check their arguments with tgc.assert: under
    # tf.device('/gpu:0') they needed allow_soft_placement. Values and errors are the CPU's.
    from tgc.frontend import image_ops

    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        images = tf.placeholder(tf.float32, [2, 4, 5, 3])
        params = tf.placeholder(tf.float32, [4, 3])
        idx = tf.placeholder(tf.int32, [2, 2])
        with tf.device("/gpu:0"):
            fetches = [
                tf.gather_nd(params, idx),
                tf.ensure_shape(params, [4, 3]),
                image_ops.crop_to_bounding_box(images, 1, 1, 2, 3),
                image_ops.resize_image_with_crop_or_pad(images, 3, 6),
            ]
        feed = {
            images: np.random.RandomState(0).rand(2, 4, 5, 3).astype(np.float32),
            params: np.arange(12, dtype=np.float32).reshape(4, 3),
            idx: [[0, 1], [3, 2]],
        }
        bad = {**feed, idx: [[0, 1], [4, 2]]}
        got = {}
        for where, config in (
            ("gpu", tf.ConfigProto(device_count={"GPU": 1})),
            ("cpu", tf.ConfigProto(allow_soft_placement=True)),
        ):
            with tf.Session(config=config) as sess:
                values = sess.run(fetches, feed)
                with pytest.raises(tf.errors.InvalidArgumentError) as caught:
                    sess.run(fetches[0], bad)
            got[where] = values, str(caught.value)
    for on_gpu, on_cpu in zip(got["gpu"][0], got["cpu"][0]):
        np.testing.assert_allclose(on_gpu, on_cpu, rtol=1e-6)
    np.testing.assert_array_equal(got["gpu"][0][0], [1.0, 11.0])
    assert got["gpu"][1] == got["cpu"][1]
    assert got["gpu"][1].startswith("assertion failed: [gather_nd: indices do not all index into")


# ---- the formatting on its own -----------------------------------------------------------------


def test_summaries_match_tensorflow_on_edge_shapes():
    assert host_calls.summarize_v1(np.zeros((0, 3), np.float32), 3) == ""
    assert host_calls.summarize_v1(np.array(5, np.int32), 3) == "5"
    assert host_calls.summarize_v2(np.array(2.5, np.float32), 3) == "2.5"
    assert host_calls.summarize_v2(np.arange(8), 3) == "[0 1 2 ... 5 6 7]"
    assert host_calls.summarize_v2(np.arange(6), 3) == "[0 1 2 3 4 5]"
    assert host_calls.summarize_v1(np.arange(8).reshape(2, 2, 2), 5) == "[[0 1][2 3]][[4...]]..."


def test_print_in_a_subprocess_writes_to_the_process_stderr():
    """Without pytest's capture: the text goes to the real stderr, once per run."""
    program = (
        "import tgc as tf\n"
        "from tgc.frontend import debug_ops as d\n"
        "x = tf.constant([1, 2, 3])\n"
        "p = d.Print(x, [x], message='x is ')\n"
        "with tf.Session() as s:\n"
        "    s.run(p); s.run(p)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300, check=True
    )
    assert done.stderr.count("x is [1 2 3]\n") == 2


# ---- artifacts: tgc compile, tgc run, the runtime's loader, a C program --------------------------

_MODEL = """
import tgc as tf
from tgc.frontend import debug_ops as d
x = tf.placeholder(tf.float32, [None], name="x")
idx = tf.placeholder(tf.int32, [None], name="idx")
p = d.Print(x * 2.0, [x], message="x is ", name="p")
c = d.check_numerics(tf.log(p), "log")
with tf.control_dependencies([d.assert_positive(x)]):
    y = tf.identity(tf.gather(c, idx), name="y")
"""


def _tgc(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tgc.tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def debug_artifact(tmp_path_factory):
    directory = tmp_path_factory.mktemp("debug_artifact")
    (directory / "model.py").write_text(_MODEL)
    made = _tgc("compile", "model.py", "--fetch", "y", "--name", "dbg", "-o", "art", cwd=directory)
    assert made.returncode == 0, made.stderr
    return directory


def test_tgc_run_prints_and_fails_checks_in_one_line(debug_artifact):
    d_ = debug_artifact
    np.save(d_ / "x.npy", np.array([1.0, 2.0, 4.0], np.float32))
    np.save(d_ / "xneg.npy", np.array([1.0, -2.0, 4.0], np.float32))
    np.save(d_ / "i.npy", np.array([0, 2], np.int32))
    np.save(d_ / "ibad.npy", np.array([0, 3], np.int32))
    ok = _tgc("run", "art", "--input", "x=x.npy", "--input", "idx=i.npy", cwd=d_)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == "x is [1 2 4]\n"
    assert "0.693147 2.079442" in ok.stdout  # log(2), log(8)
    bad = _tgc("run", "art", "--input", "x=x.npy", "--input", "idx=ibad.npy", cwd=d_)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[-1].startswith("tgc run: error: indices[1] = 3 is not in [0, 3)")
    nan = _tgc("run", "art", "--input", "x=xneg.npy", "--input", "idx=i.npy", cwd=d_)
    assert nan.returncode == 1
    assert "Tensor had NaN values" in nan.stderr or "Condition x > 0" in nan.stderr


def test_the_runtime_loader_raises_the_checks(debug_artifact):
    from tgc.runtime.artifact import load

    model = load(str(debug_artifact / "art"))
    out = model(x=np.array([1.0, 2.0], np.float32), idx=np.array([1], np.int32))
    np.testing.assert_allclose(out["y"], [np.log(4.0)], rtol=1e-6)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"indices\[0\] = 5 is not in \[0, 2"):
        model(x=np.array([1.0, 0.5], np.float32), idx=np.array([5], np.int32))


_C_PROGRAM = r"""
#include <stdio.h>
#include "dbg.h"
int main(void) {
  float xv[3] = {1.0f, 2.0f, 4.0f};
  int32_t iv[2] = {0, 7};
  tgc_memref_float32_1d x = {xv, xv, 0, {3}, {1}};
  tgc_memref_int32_1d idx = {iv, iv, 0, {2}, {1}};
  dbg_results r;
  dbg_run(&r, &x, &idx);
  printf("ran\n");
  return 0;
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_a_c_program_without_handlers_is_told_on_stderr(debug_artifact):
    """The C API installs no handler: each print is one stderr line, not silence, and a failed
    check is one more and ends the process with exit status 1 (the call does not return results
    it could not compute)."""
    d_ = debug_artifact
    (d_ / "main.c").write_text(_C_PROGRAM)
    art = d_ / "art"
    built = subprocess.run(
        ["cc", "-I", str(art), "main.c", "-L", str(art), "-ldbg", f"-Wl,-rpath,{art}", "-o", "m"],
        capture_output=True,
        text=True,
        cwd=d_,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(d_ / "m")], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout == ""
    lines = ran.stderr.splitlines()
    assert len(lines) == 2, ran.stderr
    assert lines[0].startswith(
        "tgc: a print was not written (no handler; see tgc_set_host_handler): {"
    )
    assert '"message": "x is "' in lines[0]
    assert lines[1].startswith(
        "tgc: a run-time check failed (no handler; see tgc_set_error_handler): "
        '{"node": "GatherV2 (defined at model.py:'
    )


@pytest.mark.parametrize("target", ["nvptx", "accel"])
def test_gpu_and_accelerator_artifacts_refuse_host_ops_at_compile_time(debug_artifact, target):
    made = _tgc(
        "compile",
        "model.py",
        "--fetch",
        "y",
        "--target",
        target,
        "-o",
        f"a_{target}",
        cwd=debug_artifact,
    )
    assert made.returncode == 1
    assert made.stderr.strip() == (
        f"tgc compile: error: model.py:6:0: 'p': no available device can run 'tgc.print' "
        f"(target {target} does not run it); available: "
        f"['/job:localhost/replica:0/task:0/device:{'GPU' if target == 'nvptx' else 'ACCEL'}:0']"
    )
