"""TensorFlow 2.21's answers for tests/e2e/test_max_pool_second_order.py, written to
tests/e2e/max_pool_second_order_tf_values.json:

    /tmp/peers/bin/python tests/oracle/max_pool_second_order.py

(compat.v1, V2 behaviour off, on the CPU; the programs are
tests/e2e/max_pool_second_order_cases.py.) TF differentiates MaxPoolGrad with MaxPoolGradGrad
(each window's entry of the incoming gradient at the window's first maximum) and zeros for the
pooled input.
"""

import json
import os
import sys

import numpy as np
import tensorflow.compat.v1 as tf

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
from max_pool_second_order_cases import POOLS, penalty  # noqa: E402

tf.disable_v2_behavior()


def main():
    out = {
        f"{pool}/{dtype}": penalty(tf, pool, dtype)
        for pool in POOLS
        for dtype in ("float32", "float64")
    }
    path = os.path.join(os.path.dirname(HERE), "e2e", "max_pool_second_order_tf_values.json")
    with open(path, "w") as f:  # a case per line
        f.write("{\n" + ",\n".join(f"{json.dumps(k)}: {json.dumps(out[k])}" for k in sorted(out)))
        f.write("\n}\n")
    print(f"wrote {len(out)} cases to {path}", np.asarray(out[sorted(out)[0]]["dw"]))


if __name__ == "__main__":
    main()
