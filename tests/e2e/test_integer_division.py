"""Integer division by zero fails the run as TF's CPU kernels do: tf.floordiv, tf.div, tf.floormod
(tf.mod), the ``//`` and ``%`` operators, tf.truncatediv and tf.truncatemod raise
InvalidArgumentError "Integer division by zero" naming the op, when the run reaches it.

``TF_VALUES`` and ``TF_ERRORS`` are from ``/tmp/tfenv/bin/python
tests/oracle/integer_division_oracle.py`` with tensorflow-cpu 2.21.0 (the same values for int8,
int16, int32 and int64, the dtype's minimum written MIN). TF 2.21 raises InternalError ("Unexpected
error in binary operator (only integer div and mod should have errors)") for TruncateDiv and
TruncateMod by zero; tgc raises its InvalidArgumentError there too (both are tf.errors.OpError).
"""

from __future__ import annotations

import numpy as np
import pytest

import tgc as tf

MIN = "MIN"
X = [7, -7, 7, -7, MIN, 0]
Y = [2, 2, -2, -2, -1, 3]
TF_VALUES = {
    "floordiv": [3, -4, -4, 3, MIN, 0],
    "operator_floordiv": [3, -4, -4, 3, MIN, 0],
    "div": [3, -4, -4, 3, MIN, 0],
    "floormod": [1, 1, -1, -1, 0, 0],
    "mod": [1, 1, -1, -1, 0, 0],
    "operator_mod": [1, 1, -1, -1, 0, 0],
    "truncatediv": [3, -3, -3, 3, MIN, 0],
    "truncatemod": [1, -1, 1, -1, 0, 0],  # int32 and int64 (TF has no int8/int16 TruncateMod)
}
TF_ERRORS = {  # by [7, 1] // [0, 1]: TF's class, and the node TF names
    "floordiv": ("InvalidArgumentError", "floordiv"),
    "operator_floordiv": ("InvalidArgumentError", "floordiv"),
    "div": ("InvalidArgumentError", "div"),
    "floormod": ("InvalidArgumentError", "FloorMod"),
    "mod": ("InvalidArgumentError", "FloorMod"),
    "operator_mod": ("InvalidArgumentError", "mod"),
    "truncatediv": ("InternalError", "TruncateDiv"),
    "truncatemod": ("InternalError", "TruncateMod"),
}
OPS = {
    "floordiv": lambda a, b: tf.floordiv(a, b),
    "operator_floordiv": lambda a, b: a // b,
    "div": lambda a, b: tf.div(a, b),
    "floormod": lambda a, b: tf.floormod(a, b),
    "mod": lambda a, b: tf.mod(a, b),
    "operator_mod": lambda a, b: a % b,
    "truncatediv": lambda a, b: tf.truncatediv(a, b),
    "truncatemod": lambda a, b: tf.truncatemod(a, b),
}


def _values(values, dtype):
    low = np.iinfo(dtype).min
    return np.array([low if v == MIN else v for v in values], dtype)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "int16"])
def test_integer_divisions_give_tfs_numbers(dtype):
    a = tf.placeholder(dtype, [6])
    b = tf.placeholder(dtype, [6])
    fetches = {name: fn(a, b) for name, fn in OPS.items()}
    with tf.Session() as sess:
        got = sess.run(fetches, {a: _values(X, dtype), b: _values(Y, dtype)})
    for name, expected in TF_VALUES.items():
        np.testing.assert_array_equal(got[name], _values(expected, dtype), err_msg=name)
        assert got[name].dtype == np.dtype(dtype), name


@pytest.mark.parametrize("name", sorted(OPS))
def test_division_by_zero_fails_the_run_naming_the_op(name):
    a = tf.placeholder(tf.int32, [2])
    b = tf.placeholder(tf.int32, [2])
    result = OPS[name](a, b)
    _, node = TF_ERRORS[name]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(result, {a: [7, 1], b: [2, 1]}).shape, [2])
        with pytest.raises(tf.errors.InvalidArgumentError) as caught:
            sess.run(result, {a: [7, 1], b: [0, 1]})
        # the session still runs after the failure
        assert sess.run(result, {a: [7, 1], b: [2, 1]}).tolist()[1] == (0 if "mod" in name else 1)
    first, where = str(caught.value).splitlines()[:2]
    assert first == "Integer division by zero"
    assert where.startswith(f"\t [[node {node}"), where


def test_a_broadcast_scalar_divisor_of_zero_fails():
    a = tf.placeholder(tf.int64, [None, 3])
    b = tf.placeholder(tf.int64, [])
    with tf.Session() as sess:
        got = sess.run(a // b, {a: np.arange(6).reshape(2, 3), b: 2})
        np.testing.assert_array_equal(got, [[0, 0, 1], [1, 2, 2]])
        with pytest.raises(tf.errors.InvalidArgumentError, match="^Integer division by zero"):
            sess.run(a // b, {a: np.ones((2, 3), np.int64), b: 0})
        # an empty result divides nothing: TF returns it without an error
        assert sess.run(a // b, {a: np.zeros((0, 3), np.int64), b: 0}).shape == (0, 3)


def test_a_constant_divisor_with_a_zero_fails_at_run_time_not_when_built():
    a = tf.placeholder(tf.int32, [3])
    q = a // tf.constant([1, 0, 2])
    c = tf.constant([4, 5]) % tf.constant([0, 1])  # all constants: not folded away
    with tf.Session() as sess:
        for fetch, feed in ((q, {a: [1, 2, 3]}), (c, {})):
            with pytest.raises(tf.errors.InvalidArgumentError, match="^Integer division by zero"):
                sess.run(fetch, feed)
        np.testing.assert_array_equal(sess.run(a // 2, {a: [5, -5, 4]}), [2, -3, 2])


def test_a_division_in_a_branch_not_taken_does_not_fail():
    p = tf.placeholder(tf.bool, [])
    a = tf.placeholder(tf.int32, [2])
    b = tf.placeholder(tf.int32, [2])
    out = tf.cond(p, lambda: a // b, lambda: a + b)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(out, {p: False, a: [3, 4], b: [0, 1]}), [3, 5])
        with pytest.raises(tf.errors.InvalidArgumentError, match="^Integer division by zero"):
            sess.run(out, {p: True, a: [3, 4], b: [0, 1]})


def test_float_division_by_zero_is_still_inf():
    x = tf.placeholder(tf.float32, [2])
    with tf.Session() as sess:
        got = sess.run([x / 0.0, x // 0.0, tf.div(x, 0.0)], {x: [1.0, -2.0]})
    for value in got:
        np.testing.assert_array_equal(value, [np.inf, -np.inf])


@pytest.mark.parametrize("name", ["floordiv", "mod", "truncatediv"])
def test_division_by_zero_on_the_gpu_fails_as_on_the_cpu(name):
    # On the GPU the divisor's check was skipped (a kernel cannot call the host): [7, 1] // [0, 1]
    # gave a number. Now the check's kernel writes a record that the launch plan reads, raising the
    # CPU's error (runtime_errors.device_check). nvptx-emulated runs the nvptx kernels on the host.
    from tgc.dialect import targets

    a = tf.placeholder(tf.int32, [2])
    b = tf.placeholder(tf.int32, [2])
    with tf.device("/gpu:0"):
        result = OPS[name](a, b)
    _, node = TF_ERRORS[name]
    with targets.selected("nvptx-emulated"):
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            assert sess.run(result, {a: [7, -7], b: [2, 2]}).tolist() == TF_VALUES[name][:2]
            with pytest.raises(tf.errors.InvalidArgumentError) as caught:
                sess.run(result, {a: [7, 1], b: [0, 1]})
            assert sess.run(result, {a: [7, -7], b: [2, 2]}).tolist() == TF_VALUES[name][:2]
            placed = {n: d for r in sess._cache.values() for n, _, d in r.placement or ()}
    assert any("GPU" in d for n, d in placed.items() if node.lower() in n.lower()), placed
    first, where = str(caught.value).splitlines()[:2]
    assert first == "Integer division by zero"
    assert where.startswith(f"\t [[node {node}"), where


DIVISION_PROGRAM = """
import tgc as tf
a = tf.placeholder(tf.int32, [4], name="a")
b = tf.placeholder(tf.int32, [4], name="b")
q = tf.floordiv(a, b, name="q")
"""


def test_a_single_gpu_compile_checks_the_divisor_in_ptx_that_ptxas_accepts(tmp_path, monkeypatch):
    # The nvptx artifact's launch plan has the check step (kind 6: INTEGER_DIVISION_BY_ZERO, as the
    # CPU's tgc_runtime_error reports it), and ptxas -arch=sm_90 assembles the kernels.
    import json
    import shutil

    from click.testing import CliRunner

    from tgc.tools.cli import main

    monkeypatch.setenv("TGC_NO_FORK", "1")  # as tests/e2e/test_nvptx_gather.py compiles
    program = tmp_path / "division.py"
    program.write_text(DIVISION_PROGRAM)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["compile", str(program), "--target", "nvptx", "--fetch", "q", "-o", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "manifest.json").read_text())["launch_plan"]
    steps = [s for f in plan["functions"].values() for s in f["steps"]]
    checks = [s["check"] for s in steps if "check" in s]
    assert [c["kind"] for c in checks] == [6]
    assert json.loads(checks[0]["message"])["node"].startswith("q ")
    # the check comes before the division's kernel: no step divides by a zero it has not seen
    assert "check" in steps[1] and "launch" in steps[2]
    if shutil.which("ptxas"):
        assert (out / "kernels.cubin").read_bytes()[:4] == b"\x7fELF"
