"""TF1 programs and @tgc.jit functions on a GPU device: ``ConfigProto(device_count={'GPU': 1})``
makes the GPUs the machine has, ``tf.device('/gpu:0')`` pins ops to one, soft placement sends what
a GPU cannot run (or every op, without a GPU) to the CPU. Without a GPU the GPU's schedule runs on
the host: under ``targets.selected("nvptx-emulated")`` GPU devices exist on any machine and run the
nvptx target's kernels and launch plans as loops (the numbers are the GPU code's numbers)."""

import numpy as np
import pytest

import tgc
import tgc as tf
from tgc.dialect import targets

GPU0 = "/job:localhost/replica:0/task:0/device:GPU:0"
CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
NO_GPU = targets.get("nvptx").available_devices() == 0


def _compiled_runs(session) -> list:
    return list(session._cache.values())


def _two_layer_net(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 8)).astype(np.float32)
    y = rng.standard_normal((32, 2)).astype(np.float32)
    w1 = (rng.standard_normal((8, 16)) * 0.3).astype(np.float32)
    w2 = (rng.standard_normal((16, 2)) * 0.3).astype(np.float32)
    return x, y, w1, w2


def _train(config, device: str | None, steps: int = 5):
    """The lectures' two-layer net trained by SGD; returns the losses and the final weights."""
    x_value, y_value, w1_value, w2_value = _two_layer_net()
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [32, 8])
        y = tf.placeholder(tf.float32, [32, 2])
        with tf.device(device):
            w1 = tf.Variable(w1_value)
            w2 = tf.Variable(w2_value)
            h = tf.nn.relu(tf.matmul(x, w1))
            loss = tf.reduce_mean(tf.square(tf.matmul(h, w2) - y))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([loss, step], {x: x_value, y: y_value})[0] for _ in range(steps)]
            return losses, sess.run([w1, w2]), _compiled_runs(sess)


def test_the_two_layer_net_trains_on_the_gpu_to_the_cpus_numbers():
    cpu_losses, cpu_weights, _ = _train(None, None)
    config = tf.ConfigProto(device_count={"GPU": 1})
    with targets.selected("nvptx-emulated"):
        gpu_losses, gpu_weights, runs = _train(config, "/gpu:0")
    assert gpu_losses[-1] < gpu_losses[0]
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    for gpu, cpu in zip(gpu_weights, cpu_weights):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-6)
    step_run = max(runs, key=lambda run: len(run.placement))
    assert step_run.target == "nvptx-emulated"  # the CPU had no partition to compile
    placed = {name: device for name, _, device in step_run.placement}
    assert {device for device in placed.values()} == {GPU0}


def test_log_device_placement_names_the_gpu(capsys):
    config = tf.ConfigProto(device_count={"GPU": 1}, log_device_placement=True)
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [4, 4], name="x")
        with tf.device("/gpu:0"):
            y = tf.exp(x, name="y")
        with tf.Session(config=config) as sess:
            value = sess.run(y, {x: np.zeros((4, 4), np.float32)})
    np.testing.assert_array_equal(value, np.ones((4, 4)))
    assert f"y: (tgc.exp): {GPU0}" in capsys.readouterr().err


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_without_a_gpu_soft_placement_runs_gpu_ops_on_the_cpu_and_hard_placement_says_why():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [2, 2], name="x")
        with tf.device("/gpu:0"):
            y = tf.exp(x, name="y")
        soft = tf.ConfigProto(device_count={"GPU": 1}, allow_soft_placement=True)
        assert soft.device_names() == (CPU0,)  # no GPU here: no GPU device
        with tf.Session(config=soft) as sess:
            np.testing.assert_array_equal(sess.run(y, {x: np.zeros((2, 2))}), np.ones((2, 2)))
        hard = tf.ConfigProto(device_count={"GPU": 1})
        with tf.Session(config=hard) as sess, pytest.raises(tgc.errors.CompileError) as caught:
            sess.run(y, {x: np.zeros((2, 2))})
    message = str(caught.value)
    assert "'y': error: cannot place 'tgc.exp' on requested device '/device:GPU:0'" in message
    assert f"available devices that can run it are ['{CPU0}']" in message


def test_jit_on_the_gpu_device_places_the_function_there():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    w = rng.standard_normal((5, 3)).astype(np.float32)
    with targets.selected("nvptx-emulated"):

        @tgc.jit(device="gpu")
        def layer(x, w):
            return tgc.nn.relu(tgc.matmul(x, w)) * 2.0

        np.testing.assert_allclose(layer(x, w), np.maximum(x @ w, 0) * 2, rtol=1e-6)
        [traced] = layer.cache.values()
        [run] = _compiled_runs(traced.session)
    assert run.target == "nvptx-emulated"
    assert {device for _, _, device in run.placement} == {GPU0}


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_jit_on_a_gpu_this_machine_lacks_is_refused_at_once():
    with pytest.raises(ValueError, match=f"this machine has no device {GPU0} \\(its devices: "):
        tgc.jit(lambda x: x * 2, device="gpu")


def test_variables_stay_on_the_gpu_between_steps(monkeypatch, tmp_path):
    """In steady state a training step moves only its feeds to the GPU and its fetches back: the
    weights it assigns stay in the GPU's memory (a checkpoint still sees their values)."""
    from tgc.runtime.device_array import DeviceArray
    from tgc.runtime.host_device import HostDevice

    moved = {"in": 0, "out": 0}
    copy_in, copy_out = HostDevice.copy_in, HostDevice.copy_out

    def counting_in(self, pointer, array):
        moved["in"] += array.nbytes
        copy_in(self, pointer, array)

    def counting_out(self, pointer, shape, dtype):
        out = copy_out(self, pointer, shape, dtype)
        moved["out"] += out.nbytes
        return out

    monkeypatch.setattr(HostDevice, "copy_in", counting_in)
    monkeypatch.setattr(HostDevice, "copy_out", counting_out)
    x_value, y_value, w1_value, w2_value = _two_layer_net()
    config = tf.ConfigProto(device_count={"GPU": 1})
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [32, 8])
        y = tf.placeholder(tf.float32, [32, 2])
        with tf.device("/gpu:0"):
            w1 = tf.Variable(w1_value)
            w2 = tf.Variable(w2_value)
            loss = tf.reduce_mean(tf.square(tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2) - y))
            step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
        saver = tf.train.Saver()
        with tf.Session(config=config) as sess:
            sess.run(tf.global_variables_initializer())
            feeds = {x: x_value, y: y_value}
            sess.run([loss, step], feeds)
            moved.update({"in": 0, "out": 0})
            for _ in range(3):
                sess.run([loss, step], feeds)
            assert moved == {"in": 3 * (x_value.nbytes + y_value.nbytes), "out": 3 * 4}
            assert isinstance(sess._variables[w1._name], DeviceArray)
            path = saver.save(sess, str(tmp_path / "model.ckpt"))
            trained = sess.run(w1)
        with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as cpu_sess:
            saver.restore(cpu_sess, path)
            np.testing.assert_array_equal(cpu_sess.run(w1), trained)
    assert not np.allclose(trained, w1_value)


def test_integer_powers_of_0d_tensors_run_on_the_gpu():
    """An integer pow in a kernel calls a helper function (its loop); the host-run kernels take
    it along (a drawn graph, seed 115 of the campaign, once failed to compile on nvptx-emulated)."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [3])
        with tf.device("/gpu:0"):
            i = tf.argmax(x, axis=0, output_type=tf.int32)
            p = tf.pow(i + 2, i + 1)
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            value = sess.run(p, {x: np.array([0.5, 3.0, 1.0], np.float32)})
    assert value == 3**2 and value.dtype == np.int32


def test_a_boolean_constant_reaches_the_kernel_as_true():
    """logical_not passes `true` to its kernel as an i1 argument: one byte holding 1 (MLIR reads
    the constant as -1; a campaign on nvptx-emulated, seed 502, found equal(b, not b) true)."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float64, [4])
        with tf.device("/gpu:0"):
            b = tf.less(1.0, x)
            same = tf.equal(b, tf.logical_not(b))
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            value = sess.run(same, {x: np.array([-1.0, 0.5, 2.0, 3.0])})
    np.testing.assert_array_equal(value, [False, False, False, False])


def test_the_gradient_of_a_concat_reshaped_runs_on_the_gpu():
    """The gradient of a concat slices the incoming gradient; its first half, reshaped, has the
    identity layout but is a view of a slice, which the kernel must take itself (the campaign on
    nvptx-emulated, seeds 575 and 955, found the slice left on the host and refused)."""
    graph = tf.Graph()
    with graph.as_default(), targets.selected("nvptx-emulated"):
        x = tf.placeholder(tf.float32, [2, 3, 1])
        with tf.device("/gpu:0"):
            s = tf.reduce_sum(x, axis=[0, 2])
            joined = tf.concat([s, s * 2.0], axis=-1)
            weights = np.float32([-0.5, 1.0, 2.0, 0.25, 3.0, -1.5])
            loss = tf.reduce_sum(tf.cosh(joined) * weights)
            (grad,) = tf.gradients(loss, [x])
        x_value = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3, 1)
        with tf.Session(config=tf.ConfigProto(device_count={"GPU": 1})) as sess:
            value = sess.run(grad, {x: x_value})
    s64 = x_value.astype(np.float64).sum(axis=(0, 2))
    joined64 = np.concatenate([s64, 2.0 * s64])
    d_joined = np.sinh(joined64) * weights
    d_s = d_joined[:3] + 2.0 * d_joined[3:]
    want = np.broadcast_to(d_s.reshape(1, 3, 1), (2, 3, 1))
    np.testing.assert_allclose(value, want, rtol=1e-5, atol=1e-6)
