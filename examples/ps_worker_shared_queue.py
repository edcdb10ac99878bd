"""A work queue shared by between-graph workers: TF1's pattern of a queue on a ps task.

    python -m tgc.runtime.ray.launch \\
        --cluster '{"ps": ["localhost:2222"],
                    "worker": ["localhost:2223", "localhost:2224", "localhost:2225"]}' \\
        examples/ps_worker_shared_queue.py --items 40

Every task runs this script. Two queues live on /job:ps/task:0, found by every process through
their ``shared_name``: ``work`` (rows to process) and ``done`` (results). Worker 0 (the chief)
enqueues the rows and closes ``work``; the other workers dequeue rows until the queue is closed
and empty (``OutOfRangeError``), each computing its row's squared norm on its own task, and
enqueue (row id, worker, value) into ``done``; the chief dequeues every result and checks them.
Each row is processed by exactly one worker. ``--out FILE`` writes the chief's results as JSON.
"""

import argparse
import json
import os

import numpy as np

import tgc as tf

D = 8


def rows(count):
    return np.random.default_rng(3).standard_normal((count, D)).astype(np.float32)


def main(job_name, task_index, cluster, items=40, out=None):
    server = tf.train.Server(tf.train.ClusterSpec(cluster), job_name, task_index)
    if job_name == "ps":
        server.join()  # holds the queues until the launcher ends the program
    with tf.device("/job:ps/task:0"):
        work = tf.FIFOQueue(items, [tf.int32, tf.float32], shapes=[[], [D]], shared_name="work")
        done = tf.FIFOQueue(
            items, [tf.int32, tf.int32, tf.float32], shapes=[[], [], []], shared_name="done"
        )
    with tf.Session(server.target) as sess:
        if task_index == 0:
            results = chief(sess, work, done, items)
            if out:
                with open(out, "w") as fh:
                    json.dump(results, fh)
        else:
            processed = consumer(sess, work, done, task_index)
            print(f"worker {task_index}: processed {processed} rows")
    server.close()


def chief(sess, work, done, items):
    ids = tf.placeholder(tf.int32, [None])
    values = tf.placeholder(tf.float32, [None, D])
    sess.run(work.enqueue_many([ids, values]), {ids: np.arange(items), values: rows(items)})
    sess.run(work.close())  # the consumers end when it is empty
    got_ids, workers, norms = sess.run(done.dequeue_many(items))
    results = sorted(zip(got_ids.tolist(), workers.tolist(), norms.tolist()))
    print(f"chief: {items} results; rows per worker {np.bincount(workers).tolist()}")
    return results


def consumer(sess, work, done, task_index):
    with tf.device(f"/job:worker/task:{task_index}"):
        row_id, row = work.dequeue()
        norm = tf.reduce_sum(tf.square(row))  # computed on this worker's task
        report = done.enqueue([row_id, tf.constant(task_index), norm])
    processed = 0
    while True:
        try:
            sess.run(report)  # dequeue a row, compute, enqueue the result: one run
        except tf.errors.OutOfRangeError:
            return processed
        processed += 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--job_name", required=True)
    parser.add_argument("--task_index", type=int, required=True)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    spec = json.loads(os.environ["TGC_CLUSTER_SPEC"])
    main(args.job_name, args.task_index, spec, args.items, args.out)
