"""What a cluster's task runs, checked without Ray: the partitions of a run compiled into one shared
library (tgc/driver/cluster.py) and the mailbox where a task's recvs wait (tgc/runtime/ray/task.py).

The library is loaded here with ctypes as a task's actor loads it, its transfer slots given the
local rendezvous' callbacks, and the partitions run by the local runner: the numbers must be those
of the in-process JIT.
"""

import ctypes
import os
import tempfile
import threading

import numpy as np

import tgc as tf
from tgc.driver import cluster as cluster_driver
from tgc.driver import jit
from tgc.lowering.to_core.transfer import transfer_symbol
from tgc.runtime.executable import Executable
from tgc.runtime.partitioned import Partition, PartitionedRun
from tgc.runtime.ray.task import Mailbox
from tgc.runtime.rendezvous import RendezvousError, TransferHub

DEVICES = ("/job:ps/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:0/device:CPU:0")


class _OnTasks(tf.ConfigProto):
    def device_names(self):
        return DEVICES


def _library_loader(loaded: list):
    """A compile_run loader that runs the partitions from the shared library, not the JIT."""

    def load(modules, owners, layout, keys, transfers, feeds, signature, var_specs):
        ((target, module),) = modules
        library = cluster_driver.shared_library(
            module, [name for name, *_ in layout], [transfer_symbol(*t) for t in transfers]
        )
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "partitions.so")
            with open(path, "wb") as fh:
                fh.write(library)
            lib = ctypes.CDLL(path)
        hub = TransferHub()
        for kind, dtype, rank in transfers:
            callback = hub.callback(kind, jit._np(dtype), rank)
            slot = cluster_driver.slot_symbol(transfer_symbol(kind, dtype, rank))
            ctypes.c_void_p.in_dll(lib, slot).value = ctypes.cast(callback, ctypes.c_void_p).value
        fetch_specs = [s for _, s in signature.fetches]
        partitions = []
        for name, device, fetch_indices, var_inputs, var_outputs in layout:
            inputs = [s for _, s in feeds] + [var_specs[n] for n in var_inputs]
            outputs = [fetch_specs[i] for i in fetch_indices] + [var_specs[n] for n in var_outputs]
            symbol = cluster_driver.packed_symbol(name)
            call = Executable(
                ctypes.cast(getattr(lib, symbol), ctypes.c_void_p).value,
                [(jit._np(s.dtype), s.rank) for s in inputs],
                [(jit._np(s.dtype), s.rank) for s in outputs],
                keepalive=(lib, hub),
            )
            partitions.append(Partition(call, device, fetch_indices, var_inputs, var_outputs))
        loaded.append(len(partitions))
        return PartitionedRun(partitions, hub, keys, len(fetch_specs))

    return load


def _train(use_library: bool):
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    x = tf.placeholder(tf.float32, [None, 6], name="x")
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(rng.standard_normal((6, 3)).astype(np.float32), name="w")
    with tf.device("/job:worker/task:0"):
        loss = tf.reduce_sum(tf.square(tf.matmul(x, w) - 1.0))
        train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    loaded = []
    original = jit._load
    if use_library:
        jit._load = _library_loader(loaded)
    try:
        a = rng.standard_normal((4, 6)).astype(np.float32)
        with tf.Session(config=_OnTasks()) as sess:
            sess.run(w.initializer)
            losses = [sess.run([loss, train], {x: a})[0] for _ in range(4)]
            return np.array(losses), sess.run(w), loaded
    finally:
        jit._load = original


def test_partitions_run_from_the_shared_library_as_from_the_jit():
    from_library, w_library, loaded = _train(use_library=True)
    from_jit, w_jit, _ = _train(use_library=False)
    assert 2 in loaded  # the training step ran as two partitions (ps and worker)
    assert from_library[-1] < from_library[0]
    np.testing.assert_array_equal(from_library, from_jit)  # the same code, compiled twice
    np.testing.assert_array_equal(w_library, w_jit)


def test_a_recv_gets_the_value_delivered_under_its_run_step_and_key():
    box = Mailbox()
    got = []
    reader = threading.Thread(target=lambda: got.append(box.take(("r", 1, 7), "x:0", timeout=10)))
    reader.start()
    box.put(("r", 2, 7), np.float32(2.0))  # another step's value: not this recv's
    box.put(("r", 1, 7), np.float32(1.0))
    reader.join()
    assert got == [1.0]
    box.forget(("r", 2))
    assert box.values == {}


def test_an_aborted_step_releases_its_recvs_and_a_lost_send_times_out():
    box = Mailbox()
    got = []
    reader = threading.Thread(target=lambda: got.append(box.take(("r", 3, 0), "w:0", timeout=10)))
    reader.start()
    box.abort(("r", 3), RendezvousError("task worker/0 failed"))
    reader.join()
    assert got == [None] and "worker/0 failed" in str(box.error(("r", 3)))
    assert box.take(("r", 4, 0), "w:0", timeout=0.05) is None
    assert "timed out after 0.05 s waiting for 'w:0'" in str(box.error(("r", 4)))
