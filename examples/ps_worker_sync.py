"""Synchronous data parallelism between graphs: every task runs this script (TF1's
SyncReplicasOptimizer program), told its job and index.

    python -m tgc.runtime.ray.launch \\
        --cluster '{"ps": ["localhost:2222", "localhost:2223"],
                    "worker": ["localhost:2224", "localhost:2225"]}' \\
        examples/ps_worker_sync.py

Each worker builds the two-layer net (placed by tf.train.replica_device_setter: weights on the ps
tasks, its step on its own worker) and computes the gradients of its half of the global batch;
tf.train.SyncReplicasOptimizer hands them to the ps tasks, and the chief (worker 0) applies their
average once a step, while the other worker waits for that update before its next step. The
weights therefore follow single-process training on the whole batch (``single_process``). A
tf.train.MonitoredTrainingSession runs each worker's loop until the global step reaches
``--steps``; ``--out DIR`` makes the chief write the final weights to DIR/weights.npz.
"""

import argparse
import json
import os

import numpy as np

import tgc as tf

N, D, H, C = 16, 20, 16, 5  # N: the global batch, split over the workers


def data():
    rng = np.random.default_rng(3)
    images = rng.standard_normal((N, D)).astype(np.float32)
    return images, np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]


def initial_weights():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((D, H)).astype(np.float32) * 0.1,
        rng.standard_normal((H, C)).astype(np.float32) * 0.1,
    )


def loss_of(x, labels, w1, w2):
    scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=scores))


def main(job_name, task_index, cluster, steps=10, out=None):
    server = tf.train.Server(tf.train.ClusterSpec(cluster), job_name, task_index)
    if job_name == "ps":
        server.join()  # serves the weights until the launcher ends the program
    num_workers = len(cluster["worker"])
    shard = N // num_workers
    setter = tf.train.replica_device_setter(
        cluster=cluster, worker_device=f"/job:worker/task:{task_index}"
    )
    with tf.device(setter):
        step = tf.train.get_or_create_global_step()
        w1, w2 = (tf.Variable(w, name=f"w{i + 1}") for i, w in enumerate(initial_weights()))
        x = tf.placeholder(tf.float32, [shard, D], name="x")
        labels = tf.placeholder(tf.float32, [shard, C], name="labels")
        sync = tf.train.SyncReplicasOptimizer(
            tf.train.GradientDescentOptimizer(0.1),
            replicas_to_aggregate=num_workers,
            total_num_replicas=num_workers,
        )
        train_op = sync.minimize(loss_of(x, labels, w1, w2), global_step=step)
    images, targets = data()
    mine = slice(task_index * shard, (task_index + 1) * shard)
    feeds = {x: images[mine], labels: targets[mine]}
    is_chief = task_index == 0
    hooks = [sync.make_session_run_hook(is_chief), tf.train.StopAtStepHook(last_step=steps)]
    with tf.train.MonitoredTrainingSession(
        master=server.target, is_chief=is_chief, hooks=hooks
    ) as sess:
        while not sess.should_stop():
            sess.run(train_op, feeds)
        final = sess.run([w1, w2])
    print(f"worker {task_index}: {steps} synchronous steps done")
    if out and is_chief:
        np.savez(os.path.join(out, "weights.npz"), w1=final[0], w2=final[1])
    server.close()
    return final


def single_process(steps=10):
    """The same net trained in-process on the whole batch: what the workers together compute."""
    tf.reset_default_graph()
    w1, w2 = (tf.Variable(w, name=f"w{i + 1}") for i, w in enumerate(initial_weights()))
    x = tf.placeholder(tf.float32, [N, D], name="x")
    labels = tf.placeholder(tf.float32, [N, C], name="labels")
    train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss_of(x, labels, w1, w2))
    images, targets = data()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train_op, {x: images, labels: targets})
        return sess.run([w1, w2])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--job_name", required=True)
    parser.add_argument("--task_index", type=int, required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    spec = json.loads(os.environ["TGC_CLUSTER_SPEC"])
    main(args.job_name, args.task_index, spec, args.steps, args.out)
