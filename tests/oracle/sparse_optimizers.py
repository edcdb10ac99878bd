"""TensorFlow 2.21's answers for tests/e2e/test_sparse_optimizers.py, written to
tests/e2e/sparse_optimizers_tf_values.json:

    /tmp/peers/bin/python tests/oracle/sparse_optimizers.py

(compat.v1, V2 behaviour off, on the CPU; the programs are tests/e2e/sparse_optimizer_cases.py.)
A Variable read only by gathers on axis 0 gets an IndexedSlices gradient in TF, and each
optimizer's sparse kernel updates only the rows gathered in that step: Momentum's accumulator,
RMSProp's and Adadelta's slots of the other rows keep their values, and those rows do not move.
Adam's sparse update decays m and v of every row (as its dense one does); Adagrad's and plain
SGD's equal their dense ones. A Variable also read by a dense op gets a dense gradient.
"""

import json
import os
import sys

import tensorflow.compat.v1 as tf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from sparse_optimizer_cases import losses, optimizers, train  # noqa: E402

tf.disable_v2_behavior()


def main():
    out = {f"{c}/{o}": train(tf, c, o) for c in losses(tf) for o in optimizers(tf)}
    path = os.path.join(os.path.dirname(HERE), "e2e", "sparse_optimizers_tf_values.json")
    with open(path, "w") as f:  # a case per line
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(out[k])}" for k in sorted(out)))
        f.write("\n}\n")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
