"""The lectures' parameter-server program: weights on ps tasks, the training step on workers.

    cluster = tf.train.ClusterSpec({"ps": [...], "worker": [...]})
    with tf.device("/job:ps/task:0"): weights_1 = tf.Variable(...)
    with tf.device("/job:ps/task:1"): weights_2 = tf.Variable(...)
    with tf.device("/job:worker/task:K"): ...the loss and gradients of batch shard K...
    with tf.Session(target) as sess: sess.run(train_op)

In-graph replication (one client): each of the two workers computes the two-layer net's loss and
gradients on its half of the batch; the ps tasks average the gradients and update the weights they
hold. tgc runs each task as a Ray actor of a local cluster on loopback
(tf.test.create_local_cluster), and the numbers are those of the same graph run in-process.

Run: python examples/ps_worker.py            (needs Ray: pip install 'tgc[ray]')
"""

import numpy as np

import tgc as tf

N, D, H, C = 64, 1000, 100, 10
NUM_WORKERS, NUM_PS = 2, 2


def build(learning_rate=1e-3, seed=0, num_workers=NUM_WORKERS):
    """The graph: (x, y, loss, train_op). w1 on ps 0, w2 on ps 1, shard K's step on worker K."""
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, shape=(N, D), name="x")
    y = tf.placeholder(tf.float32, shape=(N, C), name="y")
    with tf.device("/job:ps/task:0"):
        w1 = tf.Variable(tf.random_normal((D, H), stddev=0.01), name="weights_1")
    with tf.device("/job:ps/task:1"):
        w2 = tf.Variable(tf.random_normal((H, C), stddev=0.01), name="weights_2")
    shard = N // num_workers
    losses, grads = [], []
    for k in range(num_workers):
        with tf.device(f"/job:worker/task:{k}"), tf.name_scope(f"tower_{k}"):
            xs, ys = x[k * shard : (k + 1) * shard], y[k * shard : (k + 1) * shard]
            scores = tf.matmul(tf.nn.relu(tf.matmul(xs, w1)), w2)
            loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=ys, logits=scores))
            losses.append(loss)
            grads.append(tf.gradients(loss, [w1, w2]))
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    with tf.device("/job:ps/task:0"):
        g1 = tf.add_n([g[0] for g in grads]) / float(num_workers)
    with tf.device("/job:ps/task:1"):
        g2 = tf.add_n([g[1] for g in grads]) / float(num_workers)
    train_op = optimizer.apply_gradients([(g1, w1), (g2, w2)])
    return x, y, tf.add_n(losses), train_op


def main(steps=100, target=None, print_every=20, seed=0, config=None):
    """Trains for ``steps`` steps on ``target`` (None: a local cluster started here and stopped at
    the end; "": in-process); returns the loss at each step (before its update)."""
    tf.reset_default_graph()
    servers = []
    if target is None:
        workers, ps = tf.test.create_local_cluster(num_workers=NUM_WORKERS, num_ps=NUM_PS)
        servers, target = workers + ps, workers[0].target
    try:
        x, y, loss, train_op = build(seed=seed)
        rng = np.random.default_rng(seed)
        values = {
            x: rng.standard_normal((N, D)).astype(np.float32),
            y: np.eye(C, dtype=np.float32)[rng.integers(0, C, N)],
        }
        losses = []
        with tf.Session(target, config=config) as sess:
            sess.run(tf.global_variables_initializer())
            for t in range(steps):
                loss_val, _ = sess.run([loss, train_op], feed_dict=values)
                losses.append(float(loss_val))
                if print_every and t % print_every == 0:
                    print(f"step {t:4d}  loss {loss_val:.4f}")
        print(f"final loss {losses[-1]:.4f} (started at {losses[0]:.4f})")
        return losses
    finally:
        for server in servers:
            server.close()


if __name__ == "__main__":
    main()
