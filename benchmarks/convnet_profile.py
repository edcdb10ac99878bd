"""Benchmark: where the convnet SGD step of benchmarks/harness.py spends its time in tgc.

The step (batch 32, 28x28x1, conv5x5x32 SAME, relu, pool, conv5x5x64, relu, pool, fc1024, fc10,
softmax cross-entropy, plain SGD) is timed whole and as parts, each part its own small graph with
the step's shapes: conv1 and conv2 forward, their filter and input gradients (of the conv, with
a fixed random tensor as the output's gradient: ``grad_ys``), max-pool and its gradient, the fc
layers' step. All variants run interleaved in one process, each call timed in thread CPU time
(``time.thread_time``, the calling thread's) and process CPU time (``time.process_time``, which
also counts worker threads, e.g. a multithreaded GEMM's), so other processes on a shared machine
cost little; with 1 thread the two agree. Wall time too: on 2 threads, a part whose wall is near
its calling thread's CPU time ran mostly on that thread (interleaved, a part run after one that
called OpenBLAS loses its second core to OpenBLAS's polling workers: time a part alone with
``--only`` for its 2-thread wall). Reported: medians per variant, and the step's FLOPs over its
process CPU time.

Run from the repository root, 1 thread:
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python benchmarks/convnet_profile.py [--steps 60] [--torch]
``--torch`` adds PyTorch eager's step (harness.py's, 1 thread), torch taken from ``--torch-site``
(the peers venv by default) when this environment has none.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tgc

import harness  # noqa: E402
import tgc as tf  # noqa: E402
from tgc.lowering.cpu.tiered import wait_for_optimized_code  # noqa: E402

BATCH = 32
X, Y, PARAMS = harness.convnet_data()
RNG = np.random.default_rng(2)  # the parts' other inputs
H1 = RNG.standard_normal((BATCH, 14, 14, 32)).astype(np.float32)
CONV1 = RNG.standard_normal((BATCH, 28, 28, 32)).astype(np.float32)
CONV2 = RNG.standard_normal((BATCH, 14, 14, 64)).astype(np.float32)

# Multiply-adds x 2 of the convs and fc layers, forward and the two gradients (conv1's input
# gradient is not needed: x is a placeholder).
_CONV1 = 2 * BATCH * 28 * 28 * 25 * 1 * 32
_CONV2 = 2 * BATCH * 14 * 14 * 25 * 32 * 64
_FC = 2 * BATCH * (3136 * 1024 + 1024 * 10)
STEP_FLOPS = 2 * _CONV1 + 3 * _CONV2 + 3 * _FC


def _pool(h):
    return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def _conv(h, f):
    return tf.nn.conv2d(h, f, strides=[1, 1, 1, 1], padding="SAME")


def _session(build):
    """A step function running the graph ``build`` makes: (fetch, feed)."""
    tf.reset_default_graph()
    fetch, feed = build()
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return lambda: sess.run(fetch, feed)


def _loss_and_feed():
    """The convnet's mean cross-entropy on fresh variables, and the feed of its placeholders."""
    v = {k: tf.Variable(p.copy()) for k, p in PARAMS.items()}
    x, y = tf.placeholder(tf.float32, [None, 28, 28, 1]), tf.placeholder(tf.float32, [None, 10])
    h = _pool(tf.nn.relu(_conv(x, v["c1"]) + v["b1"]))
    h = _pool(tf.nn.relu(_conv(h, v["c2"]) + v["b2"]))
    h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), v["f1"]) + v["b3"])
    logits = tf.matmul(h, v["f2"]) + v["b4"]
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    return loss, {x: X, y: Y}


def full_step():
    loss, feed = _loss_and_feed()
    return tf.train.GradientDescentOptimizer(1e-3).minimize(loss), feed


def forward_only():
    return _loss_and_feed()


def _conv_part(inputs, filt, which):
    """conv of ``inputs`` (fed) with ``filt`` (a variable); ``which``: 'fwd', 'dfilter', 'dinput'
    (the gradient of sum(conv * r) with respect to the filter or the input)."""
    x = tf.placeholder(tf.float32, inputs.shape)
    f = tf.Variable(filt.copy())
    out = _conv(x, f)
    if which == "fwd":
        return out, {x: inputs}
    r = tf.constant(RNG.standard_normal([BATCH] + out.shape.as_list()[1:]).astype(np.float32))
    (grad,) = tf.gradients(out, [f if which == "dfilter" else x], grad_ys=r)
    return grad, {x: inputs}


def _pool_part(inputs, grad):
    x = tf.placeholder(tf.float32, inputs.shape)
    out = _pool(x)
    if not grad:
        return out, {x: inputs}
    r = tf.constant(RNG.standard_normal([BATCH] + out.shape.as_list()[1:]).astype(np.float32))
    return tf.gradients(out, [x], grad_ys=r)[0], {x: inputs}


def _fc_step():
    v = {k: tf.Variable(PARAMS[k].copy()) for k in ("f1", "b3", "f2", "b4")}
    h0 = tf.placeholder(tf.float32, [None, 3136])
    y = tf.placeholder(tf.float32, [None, 10])
    h = tf.nn.relu(tf.matmul(h0, v["f1"]) + v["b3"])
    logits = tf.matmul(h, v["f2"]) + v["b4"]
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    feed = {h0: RNG.standard_normal((BATCH, 3136)).astype(np.float32), y: Y}
    return tf.train.GradientDescentOptimizer(1e-3).minimize(loss), feed


VARIANTS = {
    "step": full_step,
    "forward (loss)": forward_only,
    "conv1 fwd": lambda: _conv_part(X, PARAMS["c1"], "fwd"),
    "conv1 dfilter": lambda: _conv_part(X, PARAMS["c1"], "dfilter"),
    "conv2 fwd": lambda: _conv_part(H1, PARAMS["c2"], "fwd"),
    "conv2 dfilter": lambda: _conv_part(H1, PARAMS["c2"], "dfilter"),
    "conv2 dinput": lambda: _conv_part(H1, PARAMS["c2"], "dinput"),
    "pool1 fwd": lambda: _pool_part(CONV1, False),
    "pool1 grad": lambda: _pool_part(CONV1, True),
    "pool2 grad": lambda: _pool_part(CONV2, True),
    "fc step": _fc_step,
}


def _torch_step(site_packages):
    """harness.py's PyTorch eager step, 1 thread; torch from ``site_packages`` (appended to the
    path, so this environment's packages win) when it is not importable here."""
    if site_packages:
        sys.path.append(site_packages)
    import torch

    torch.set_num_threads(1)
    harness._LIBS["torch"] = torch
    return {"torch eager step": harness._torch_convnet(X, Y, PARAMS)["torch"]()}


def _ab_sessions(chosen, where):
    """Each variant compiled with the flag off and on (each session run until its optimized code
    is in place while the flag has its value, as the JIT compiles that code in the background)."""
    module_name, flag = where.split(":")
    module = importlib.import_module(module_name)
    saved = getattr(module, flag)
    impls = {}
    try:
        for value in (False, True):
            setattr(module, flag, value)
            for name, build in chosen.items():
                step = _session(build)
                for _ in range(3):
                    step()
                wait_for_optimized_code()
                impls[f"{name} [{flag}={value}]"] = step
    finally:
        setattr(module, flag, saved)
    return impls


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--only", nargs="*", help="variant names to time (default: all)")
    parser.add_argument(
        "--ab",
        metavar="MODULE:FLAG",
        help="time each variant twice, compiled with the module-level boolean FLAG of MODULE "
        "False and True (e.g. tgc.lowering.cpu.conv_gemm:VECTOR_RUNS)",
    )
    parser.add_argument("--torch", action="store_true", help="time PyTorch eager's step too")
    parser.add_argument(
        "--torch-site",
        default="/tmp/peers/lib/python3.11/site-packages",
        help="where torch is installed, if not in this environment ('' for none)",
    )
    args = parser.parse_args()
    chosen = {k: v for k, v in VARIANTS.items() if not args.only or k in args.only}
    impls = _ab_sessions(chosen, args.ab) if args.ab else {}
    if not args.ab:
        impls = {name: _session(build) for name, build in chosen.items()}
    if args.torch:
        impls.update(_torch_step(args.torch_site))
    for fn in impls.values():
        for _ in range(3):
            fn()
    wait_for_optimized_code()
    times = {name: [] for name in impls}
    process = {name: [] for name in impls}
    wall = {name: [] for name in impls}
    order = list(impls.items())
    shuffler = random.Random(0)
    for _ in range(args.steps):
        shuffler.shuffle(order)
        for name, fn in order:
            w, t, p = time.perf_counter(), time.thread_time(), time.process_time()
            fn()
            times[name].append(time.thread_time() - t)
            process[name].append(time.process_time() - p)
            wall[name].append(time.perf_counter() - w)
    print(f"Per call, median of {args.steps} (interleaved): thread CPU / process CPU / wall")
    for name, samples in times.items():
        q = np.percentile(samples, [25, 50, 75]) * 1e3
        proc, elapsed = np.median(process[name]) * 1e3, np.median(wall[name]) * 1e3
        print(
            f"  {name:48s} {q[1]:7.2f} ms  (p25 {q[0]:.2f}, p75 {q[2]:.2f})  {proc:7.2f} ms"
            f"  {elapsed:7.2f} ms"
        )
    if "step" in times:
        step = np.median(process["step"])
        print(f"step FLOPs {STEP_FLOPS / 1e9:.3f} G -> {STEP_FLOPS / step / 1e9:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
