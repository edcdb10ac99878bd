"""Between-graph replication: every task runs this script, told its job and index.

    python -m tgc.runtime.ray.launch \\
        --cluster '{"ps": ["localhost:2222"], "worker": ["localhost:2223", "localhost:2224"]}' \\
        examples/ps_worker_between_graph.py

Each process builds its own copy of the graph, placed by tf.train.replica_device_setter: the weights
on /job:ps/task:0, its own training step on /job:worker/task:K. The ps task's process serves
(``server.join()``); each worker opens a Session on its server's target and trains asynchronously
against the weights the ps task holds, which the workers share: worker 0 (the chief) initializes
them, the others wait until it has. Each worker prints its losses and the global step it sees at
its end; ``--out DIR`` also writes them to DIR/worker_K.json. The global step counts every
worker's steps (the ps task adds each step's increment onto the current count), so the last worker
to finish sees workers x steps.
"""

import argparse
import json
import os
import time

import numpy as np

import tgc as tf

N, D, C = 32, 20, 5


def main(job_name, task_index, cluster, steps=30, out=None):
    server = tf.train.Server(tf.train.ClusterSpec(cluster), job_name, task_index)
    if job_name == "ps":
        server.join()  # serves the weights until the launcher ends the program
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, D], name="x")
    y = tf.placeholder(tf.float32, [None, C], name="y")
    # Variables on the ps tasks (in turn), everything else on this worker.
    setter = tf.train.replica_device_setter(
        cluster=cluster, worker_device=f"/job:worker/task:{task_index}"
    )
    with tf.device(setter):
        w = tf.Variable(rng.standard_normal((D, C)).astype(np.float32) * 0.1, name="weights")
        step = tf.train.get_or_create_global_step()  # counts every worker's steps, on the ps task
        loss = tf.reduce_mean(
            tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(x, w))
        )
        train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss, global_step=step)
    data = np.random.default_rng(1)
    images = data.standard_normal((N, D)).astype(np.float32)
    labels = np.eye(C, dtype=np.float32)[np.argmax(images[:, :C], axis=1)]  # learnable labels
    feeds = {x: images, y: labels}
    with tf.Session(server.target) as sess:
        if task_index == 0:
            sess.run(tf.global_variables_initializer())
        else:
            _wait_until_initialized(sess, [w, step])
        losses = []
        for t in range(steps):
            value, _ = sess.run([loss, train_op], feeds)
            losses.append(float(value))
        # The last worker to finish sees every worker's steps counted (none is lost).
        final_step = int(sess.run(step))
        print(f"worker {task_index}: loss {losses[0]:.4f} -> {losses[-1]:.4f}, step {final_step}")
    if out:
        with open(os.path.join(out, f"worker_{task_index}.json"), "w") as fh:
            json.dump({"losses": losses, "global_step": final_step}, fh)
    server.close()
    return losses


def _wait_until_initialized(sess, variables, seconds=60.0):
    deadline = time.monotonic() + seconds
    while True:
        try:
            sess.run(variables)
            return
        except tf.errors.FailedPreconditionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--job_name", required=True)
    parser.add_argument("--task_index", type=int, required=True)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    spec = json.loads(os.environ["TGC_CLUSTER_SPEC"])
    main(args.job_name, args.task_index, spec, args.steps, args.out)
