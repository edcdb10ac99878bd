"""TF1's optimizers on Variables read by gathers: TensorFlow's numbers, IndexedSlices semantics
included (tests/e2e/sparse_optimizer_cases.py; TF 2.21's values recorded by
tests/oracle/sparse_optimizers.py in sparse_optimizers_tf_values.json).

TF gives a Variable read only by gathers on axis 0 an IndexedSlices gradient, and Momentum,
RMSProp and Adadelta then update only the rows gathered in the step: the other rows keep their
slots and their values. A dense gradient (zeros in those rows) would decay their slots and move
them by the momentum left from earlier steps.
"""

import json
import os

import numpy as np
import pytest

import tgc as tf
from sparse_optimizer_cases import losses, optimizers, train

with open(os.path.join(os.path.dirname(__file__), "sparse_optimizers_tf_values.json")) as f:
    TF_VALUES = json.load(f)


@pytest.mark.parametrize("optimizer", sorted(optimizers(tf)))
@pytest.mark.parametrize("case", sorted(losses(tf)))
def test_training_matches_tensorflow(case, optimizer):
    want = TF_VALUES[f"{case}/{optimizer}"]
    got = train(tf, case, optimizer)
    assert sorted(got) == sorted(want)  # the same slots
    for name in want:
        np.testing.assert_allclose(
            got[name], want[name], rtol=2e-6, atol=1e-7, err_msg=f"{case}/{optimizer}: {name}"
        )
