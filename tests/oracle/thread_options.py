"""TensorFlow 2.21's answers to ConfigProto's thread counts, the oracle of
tests/unit/test_blas_threads.py's error tests. Each case runs in a child process, since a
negative intra-op count aborts TensorFlow's process:

    /tmp/tfenv/bin/python tests/oracle/thread_options.py

Printed (TF 2.21.0, compat.v1 with v2 behaviour disabled):

    intra_op_parallelism_threads=-1: aborted: Check failed: num_threads >= 1 (-1 vs. 1)
    inter_op_parallelism_threads=-1: ok 2.0
    intra_op_parallelism_threads=1.5: TypeError: 'float' object cannot be interpreted as an integer
    intra_op_parallelism_threads='2': TypeError: 'str' object cannot be interpreted as an integer
    intra_op_parallelism_threads=2147483648: ValueError: Value out of range: 2147483648
    intra_op_parallelism_threads=True: TypeError: Field
        tensorflow.ConfigProto.intra_op_parallelism_threads: Expected an int, got a boolean.
    intra_op_parallelism_threads=0: ok 2.0
"""

import subprocess
import sys

CASES = [
    ("intra_op_parallelism_threads", -1),
    ("inter_op_parallelism_threads", -1),
    ("intra_op_parallelism_threads", 1.5),
    ("intra_op_parallelism_threads", "2"),
    ("intra_op_parallelism_threads", 2**31),
    ("intra_op_parallelism_threads", True),
    ("intra_op_parallelism_threads", 0),
]

CHILD = """
import sys
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
try:
    config = tf.ConfigProto(**{sys.argv[1]: eval(sys.argv[2])})
    with tf.Session(config=config) as sess:
        print("ok", sess.run(tf.constant(1.0) + 1))
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}")
"""


def main():
    for field, value in CASES:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, field, repr(value)], capture_output=True, text=True
        )
        check = [line for line in child.stderr.splitlines() if "Check failed" in line]
        answer = child.stdout.strip() or (
            "aborted: " + check[0].split("] ", 1)[1].strip() if check else child.stderr[-200:]
        )
        print(f"{field}={value!r}: {answer}")


if __name__ == "__main__":
    main()
