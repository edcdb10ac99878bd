"""``tf.gradients`` is None where TensorFlow's is: through floor, ceil and round (TF registers their
gradients as None, not zeros) and through ones_like/zeros_like; a value (zeros included) where
another path carries one. TensorFlow 2.21's answers are in gradient_none_tf_values.json
(tests/oracle/gradient_none.py writes them; found by the random graphs against TensorFlow,
tests/conformance/tfdiff.py)."""

import json
import os
import sys

import numpy as np
import pytest

import tgc as tf

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "oracle")
)
from gradient_none import CASES, SEVERAL, run_case  # noqa: E402

with open(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "gradient_none_tf_values.json")
) as fh:
    TF_VALUES = json.load(fh)["values"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_is_none_where_tensorflow_says_so(name):
    grad, loss = run_case(tf, CASES[name])
    want_grad, want_loss = TF_VALUES[name]
    assert loss == pytest.approx(want_loss)
    several = name in SEVERAL  # gradients by several tensors at once: a list each
    for got, want in zip(grad, want_grad) if several else [(grad, want_grad)]:
        if want is None:
            assert got is None
        else:
            assert got is not None
            np.testing.assert_allclose(got, want, rtol=1e-12)
