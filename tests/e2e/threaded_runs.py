"""Runs one op from many threads on one Session, for the tests of use_locking."""

import threading

import tgc as tf


def value_after_threaded_runs(variable, update, threads=8, runs=200) -> float:
    """``variable``'s value after ``threads`` threads each ran ``update`` ``runs`` times on one
    Session (after one run that compiles it, so the threads start together on the compiled step)."""
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(update)
        start = threading.Barrier(threads)

        def work():
            start.wait()
            for _ in range(runs):
                sess.run(update)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return float(sess.run(variable))
