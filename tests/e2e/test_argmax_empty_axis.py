"""tf.argmax and tf.argmin over an axis of size 0 fail the run with TF's InvalidArgumentError
("Reduction axis -1 is empty in shape [3,0]", the axis as given) instead of giving index 0; over
another axis of a tensor with no elements they give an empty result. TF_VALUES: TensorFlow 2.21's
(`/tmp/tfenv/bin/python tests/oracle/argmax_empty_axis.py`, compat.v1, CPU), whose ``run_case``
runs each case here on tgc with dims unknown to the graph; the static-shape and GPU cases too."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tgc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nvptx_checks import session_run  # noqa: E402

_ORACLE = Path(__file__).resolve().parents[1] / "oracle" / "argmax_empty_axis.py"
_spec = importlib.util.spec_from_file_location("argmax_empty_axis", _ORACLE)
oracle = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oracle)

TF_VALUES = {
    "argmax_0_of_0": ("InvalidArgumentError", "Reduction axis 0 is empty in shape [0]"),
    "argmax_0_of_3x0": ("ok", []),
    "argmax_last_of_3x0": ("InvalidArgumentError", "Reduction axis -1 is empty in shape [3,0]"),
    "argmin_1_of_3x0": ("InvalidArgumentError", "Reduction axis 1 is empty in shape [3,0]"),
}


@pytest.mark.parametrize("name", sorted(oracle.CASES))
def test_arg_reductions_of_run_time_shapes_are_tensorflows(name):
    status, value = oracle.run_case(tgc, *oracle.CASES[name])
    assert status == TF_VALUES[name][0]
    if status == "ok":
        assert value == TF_VALUES[name][1]
    else:
        assert value.startswith(TF_VALUES[name][1])


@pytest.mark.parametrize("op, axis", [("argmax", -1), ("argmin", 1)])
def test_an_empty_axis_known_to_the_graph_fails_the_run(op, axis):
    x = tgc.placeholder(tgc.float64, [3, 0])
    out = getattr(tgc, op)(x, axis)
    with tgc.Session() as sess:
        with pytest.raises(tgc.errors.InvalidArgumentError) as caught:
            sess.run(out, {x: np.zeros((3, 0))})
    assert str(caught.value).startswith(f"Reduction axis {axis} is empty in shape [3,0]")


def test_on_the_gpu_the_check_is_the_launch_plans():
    """nvptx-emulated: the check's kernel writes a record the launch plan reads (a kernel cannot
    call the host); a non-empty axis still gives its indices."""

    def build(tf, fed):
        return [tf.argmax(fed["x"], 1)]

    with pytest.raises(tgc.errors.InvalidArgumentError, match=r"Reduction axis 1 is empty"):
        session_run(build, {"x": np.zeros((3, 0), np.float32)})
    (got,) = session_run(build, {"x": np.array([[1, 3], [4, 2], [0, 0]], np.float32)})
    np.testing.assert_array_equal(got, [1, 0, 0])
