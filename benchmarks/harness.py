"""Issue 5's harness: the lectures' workloads on tgc and on the peers a user would pick instead.

Workloads (float32): 1 the two-layer net's SGD step (64,1000,100,10); 2 softmax regression, one SGD
step (100, 784 -> 10); 3 MLP 784-1024-1024-10 inference at batch 1 and 256; 4 the small convnet's
SGD step (batch 32, 28x28x1, conv5x5x32, pool, conv5x5x64, pool, fc1024, fc10); 5 GEMM at 256, 1024,
2048. Peers: numpy by hand (workloads 1-3 and 5), PyTorch eager and torch.compile, JAX (one
`jax.jit` of the whole step, parameters donated) and TensorFlow 2 (`tf.function(jit_compile=True)`
over tf.Variables), all workloads, whichever are installed (the `bench` extra installs them; one
that fails to import is skipped with a note). In one process the implementations of a workload run
in rounds of blocks (each block one implementation alone, after the others' worker threads have gone
idle; the order shuffled each round), so machine noise hits all alike. Reported per
implementation: median, quartiles, first-call time (compile + one step), and the ratio tgc/peer;
GEMM also in GFLOP/s against numpy and the machine peak.

The parent process runs everything twice in child processes, with 1 thread and with each library's
default. Thread counts are fixed before the libraries load: OMP/OpenBLAS/MKL variables
(numpy, torch), PJRT_NPROC (the size of XLA's CPU thread pools, read by JAX and by TensorFlow's
XLA), then, right after import, torch.set_num_threads and TensorFlow's intra/inter-op settings. It
then writes benchmarks/results/harness-<time>.json and .md. Run from the repository root:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/harness.py
``--quick`` (5 steps, 1 warm-up, nothing written) checks that every peer builds and runs.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The checkout this file is in, not whichever tgc the interpreter would find: a script's sys.path
# starts at benchmarks/, and an editable install may point at another checkout (or none).
sys.path.insert(0, str(REPO))
# PJRT_NPROC sizes XLA's CPU thread pools (xla::DefaultThreadPoolSize); in jaxlib 0.10.2 XLA_FLAGS'
# --xla_cpu_multi_thread_eigen=false no longer changes anything (a 2048 GEMM still used 2 cores).
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PJRT_NPROC")


# ---- timing -------------------------------------------------------------------------------------


def first_call(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# Rounds of blocks: each round runs every implementation once, in a shuffled order, so machine
# drift hits all alike; each block runs one implementation alone for its share of the steps.
ROUNDS = 10
# A library's worker threads keep polling for a while after its call (OpenBLAS's for 2^28 cycles,
# its THREAD_TIMEOUT default, about 0.07 s here): a block starts once the previous library's
# workers have gone to sleep, as in a program that uses one library.
SETTLE_S = 0.15


def in_blocks(impls: dict, steps: int, warmup: int) -> dict:
    """name -> per-step seconds, measured in rounds of blocks (ROUNDS, SETTLE_S).

    Interleaving single steps measured something else on 2 threads: whatever ran right after a
    library with polling workers lost its second core to them (tgc's 2-thread GEMM 1024 ran at its
    1-thread speed after numpy's threaded sgemm; tgc's own workers sleep after 200 us, so numpy
    following tgc did not pay the same). A user's training loop runs one library, so each block
    does, after the previous one's workers are idle. The first step of a block is not timed: it
    brings the block's data back into the caches the previous block used.
    """
    for fn in impls.values():
        for _ in range(warmup):
            fn()
    _wait_for_optimized_tgc_code()
    times = {name: [] for name in impls}
    order = list(impls.items())
    shuffler = random.Random(0)
    rounds = min(ROUNDS, steps)
    for r in range(rounds):
        shuffler.shuffle(order)
        block = steps // rounds + (1 if r < steps % rounds else 0)
        for name, fn in order:
            time.sleep(SETTLE_S)
            fn()
            for _ in range(block):
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
    return times


def _wait_for_optimized_tgc_code() -> None:
    """tgc's JIT gives a step quick code first and compiles its optimized code in the background
    from the step's second call (tgc/lowering/cpu/tiered.py): steps are timed once it is in place,
    as they run in a training loop after its first half second."""
    tiered = sys.modules.get("tgc.lowering.cpu.tiered")
    if tiered is not None:
        tiered.wait_for_optimized_code()


def summary(samples: list) -> dict:
    import numpy as np

    q = np.percentile(samples, [25, 50, 75])
    return {
        "median_ms": q[1] * 1e3,
        "p25_ms": q[0] * 1e3,
        "p75_ms": q[2] * 1e3,
        "min_ms": min(samples) * 1e3,
    }


# ---- workloads: each returns {impl name: (setup -> step fn)} -------------------------------------


def _tgc_session(build):
    """Builds the TF1 graph in a fresh default graph; returns a step function running ``fetch`` with
    ``feed``."""
    import tgc as tf

    tf.reset_default_graph()
    fetch, feed = build(tf)
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    return lambda: sess.run(fetch, feed)


def _softmax_ce_grad(scores, y, mean):
    import numpy as np

    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return (p - y) / (scores.shape[0] if mean else 1)


def dense_step(sizes, batch, lr, mean):
    """An MLP SGD step (relu between layers, softmax cross-entropy): tgc, numpy and torch
    versions."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    ws = [(rng.standard_normal((a, b)) * 0.01).astype(np.float32) for a, b in zip(sizes, sizes[1:])]

    def tgc_build(tf):
        xp, yp = (
            tf.placeholder(tf.float32, [None, sizes[0]]),
            tf.placeholder(tf.float32, [None, sizes[-1]]),
        )
        h = xp
        for i, w in enumerate(ws):
            h = tf.matmul(h, tf.Variable(w.copy()))
            h = tf.nn.relu(h) if i < len(ws) - 1 else h
        ce = tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=h)
        loss = tf.reduce_mean(ce) if mean else tf.reduce_sum(ce)
        return tf.train.GradientDescentOptimizer(lr).minimize(loss), {xp: x, yp: y}

    np_ws = [w.copy() for w in ws]

    def numpy_step():
        hs = [x]
        for i, w in enumerate(np_ws):
            z = hs[-1] @ w
            hs.append(np.maximum(z, 0) if i < len(np_ws) - 1 else z)
        d = _softmax_ce_grad(hs[-1], y, mean)
        for i in reversed(range(len(np_ws))):
            grad = hs[i].T @ d
            if i:
                d = (d @ np_ws[i].T) * (hs[i] > 0)
            np_ws[i] -= lr * grad
        return np_ws

    impls = {"tgc": lambda: _tgc_session(tgc_build), "numpy": lambda: numpy_step}
    for peer in (_torch_dense, _jax_dense, _tf2_dense):
        impls.update(peer(x, y, ws, lr, mean))
    return impls


def mlp_inference(batch):
    import numpy as np

    rng = np.random.default_rng(1)
    sizes = (784, 1024, 1024, 10)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    ws = [(rng.standard_normal((a, b)) * 0.03).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]

    def tgc_build(tf):
        xp = tf.placeholder(tf.float32, [None, 784])
        h = xp
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = tf.matmul(h, tf.constant(w)) + tf.constant(b)
            h = tf.nn.relu(h) if i < 2 else h
        return h, {xp: x}

    def numpy_fwd():
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b
            h = np.maximum(h, 0) if i < 2 else h
        return h

    impls = {"tgc": lambda: _tgc_session(tgc_build), "numpy": lambda: numpy_fwd}
    for peer in (_torch_mlp_inference, _jax_mlp_inference, _tf2_mlp_inference):
        impls.update(peer(x, ws, bs))
    return impls


def convnet_data() -> tuple:
    """The convnet step's batch (x, y) and initial parameters, the same in every run (also
    benchmarks/convnet_profile.py's)."""
    import numpy as np

    rng = np.random.default_rng(2)
    x = rng.standard_normal((32, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 32)]
    params = {
        "c1": (rng.standard_normal((5, 5, 1, 32)) * 0.1).astype(np.float32),
        "b1": np.full(32, 0.1, np.float32),
        "c2": (rng.standard_normal((5, 5, 32, 64)) * 0.1).astype(np.float32),
        "b2": np.full(64, 0.1, np.float32),
        "f1": (rng.standard_normal((7 * 7 * 64, 1024)) * 0.01).astype(np.float32),
        "b3": np.full(1024, 0.1, np.float32),
        "f2": (rng.standard_normal((1024, 10)) * 0.01).astype(np.float32),
        "b4": np.full(10, 0.1, np.float32),
    }
    return x, y, params


def convnet_step():
    x, y, params = convnet_data()

    def tgc_build(tf):
        v = {k: tf.Variable(p.copy()) for k, p in params.items()}
        xp, yp = (
            tf.placeholder(tf.float32, [None, 28, 28, 1]),
            tf.placeholder(tf.float32, [None, 10]),
        )

        def pool(h):
            return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")

        h = pool(
            tf.nn.relu(tf.nn.conv2d(xp, v["c1"], strides=[1, 1, 1, 1], padding="SAME") + v["b1"])
        )
        h = pool(
            tf.nn.relu(tf.nn.conv2d(h, v["c2"], strides=[1, 1, 1, 1], padding="SAME") + v["b2"])
        )
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), v["f1"]) + v["b3"])
        logits = tf.matmul(h, v["f2"]) + v["b4"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yp, logits=logits))
        return tf.train.GradientDescentOptimizer(1e-3).minimize(loss), {xp: x, yp: y}

    impls = {"tgc": lambda: _tgc_session(tgc_build)}
    for peer in (_torch_convnet, _jax_convnet, _tf2_convnet):
        impls.update(peer(x, y, params))
    return impls


def gemm(n):
    import numpy as np

    rng = np.random.default_rng(3)
    a, b = (
        rng.standard_normal((n, n)).astype(np.float32),
        rng.standard_normal((n, n)).astype(np.float32),
    )

    def tgc_build(tf):
        ap, bp = tf.placeholder(tf.float32, [n, n]), tf.placeholder(tf.float32, [n, n])
        return tf.matmul(ap, bp), {ap: a, bp: b}

    impls = {"tgc": lambda: _tgc_session(tgc_build), "numpy": lambda: lambda: a @ b}
    for peer in (_torch_gemm, _jax_gemm, _tf2_gemm):
        impls.update(peer(a, b))
    return impls


# ---- peer libraries: imported once per child, before any timing -------------------------------

# Import order matters: tgc's MLIR bindings (tgc.lowering.cpu) must load before tensorflow, whose
# own LLVM/MLIR symbols make the bindings' site initialisation segfault when TF came first (jax or
# torch first is fine). torch, jax and tensorflow among themselves showed no protobuf or OpenMP
# clash in any order (torch 2.13, jaxlib 0.10.2, tensorflow-cpu 2.21).
PEER_LIBS = ("torch", "jax", "tensorflow")
_LIBS: dict = {}  # name -> module, for the peers that imported
_TORCH_COMPILE = True
QUICK_STEPS, QUICK_WARMUP = 5, 1  # --quick: does every peer build and run, not how fast


def load_peers(one_thread: bool) -> dict:
    """Imports each peer library (a failure skips that peer with a note) and sets its threads;
    returns facts."""
    start = time.perf_counter()
    importlib.import_module("tgc.lowering.cpu")
    # tgc's import, as the peers' imports: its modules, the lowering rules and the MLIR dialect
    # bindings they load (linalg's builds its named ops at import, 0.14 s) are loaded here, not
    # lazily inside the first workload's first call, which is then its compile and one step, as
    # JAX's and TF2's are.
    importlib.import_module("tgc")
    importlib.import_module("tgc.lowering.to_core").load_all_lowerings()
    facts = {"tgc": {"import_s": time.perf_counter() - start}}
    for name in PEER_LIBS:
        start = time.perf_counter()
        try:
            module = importlib.import_module(name)
            _set_threads(name, module, one_thread)
        except Exception as exc:  # noqa: BLE001 (not only ImportError: a clashing native library raises anything)
            facts[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
            print(f"note: {name} peer skipped ({type(exc).__name__}: {exc})", flush=True)
            continue
        _LIBS[name] = module
        facts[name] = {"version": module.__version__, "import_s": time.perf_counter() - start}
    # Imports first, then first compiles: each library's import time is measured alone.
    facts["tgc"]["first_compile_s"] = first_call(_tgc_first_compile)
    for name, module in _LIBS.items():
        try:
            facts[name]["first_compile_s"] = first_call(lambda: _FIRST_COMPILE[name](module))
        except Exception as exc:  # noqa: BLE001 (the workloads' builds then fail and say why)
            facts[name]["first_compile_error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            print(f"note: {name}'s first compile failed ({type(exc).__name__})", flush=True)
    return facts


# Each library's first compile in a process pays one-off costs: torch.compile's took 12-14 s with
# an empty cache (Dynamo's and Inductor's imports, the C++ compiler's probe, the kernels' common
# header), its next ones 0.1-2.4 s; JAX's and tgc's about 0.1 s. Paid here, once, on a tiny
# function (reported as first_compile_s), a workload's first call is its own compile and one step,
# and the first workload is not charged for the process's start.
def _tgc_first_compile() -> None:
    import numpy as np

    def build(tf):
        x = tf.placeholder(tf.float32, [8])
        return x * 2.0 + 1.0, {x: np.ones(8, np.float32)}

    _tgc_session(build)()


def _torch_first_compile(torch) -> None:
    """Eager needs none; torch.compile's forward and its autograd (AOT) path both warm up."""
    if not _TORCH_COMPILE:
        return
    x = torch.ones(8, requires_grad=True)
    torch.compile(lambda x: (x * 2.0 + 1.0).sum())(x).backward()


def _jax_first_compile(jax) -> None:
    jax.jit(lambda x: x * 2.0 + 1.0)(jax.numpy.ones(8)).block_until_ready()


def _tf2_first_compile(tf) -> None:
    tf.function(lambda x: x * 2.0 + 1.0, jit_compile=True)(tf.ones(8))


_FIRST_COMPILE = {
    "torch": _torch_first_compile,
    "jax": _jax_first_compile,
    "tensorflow": _tf2_first_compile,
}


def _set_threads(name: str, module, one_thread: bool) -> None:
    """Runtime thread settings; they must come before the library's first op creates its pools."""
    if not one_thread:
        return
    if name == "torch":
        module.set_num_threads(1)
        module.set_num_interop_threads(1)
    elif name == "tensorflow":
        # jit_compile'd functions run on XLA, whose pool PJRT_NPROC=1 already caps; these cap TF's
        # own.
        module.config.threading.set_intra_op_parallelism_threads(1)
        module.config.threading.set_inter_op_parallelism_threads(1)


# ---- PyTorch peers (eager and torch.compile) -----------------------------------------------------


def _torch_variants(make_fn):
    """{"torch": eager step, "torch.compile": compiled step}, each built lazily (setup
    timed as first call)."""
    torch = _LIBS.get("torch")
    if torch is None:
        return {}
    out = {"torch": lambda: make_fn(torch, lambda f: f)}
    if _TORCH_COMPILE:
        out["torch.compile"] = lambda: make_fn(torch, torch.compile)
    return out


def _torch_dense(x, y, ws, lr, mean):
    def make(torch, wrap):
        tx, ty = torch.from_numpy(x), torch.from_numpy(y).argmax(1)
        tws = [torch.tensor(w, requires_grad=True) for w in ws]
        reduction = "mean" if mean else "sum"

        def loss_fn():
            h = tx
            for i, w in enumerate(tws):
                h = h @ w
                h = torch.relu(h) if i < len(tws) - 1 else h
            return torch.nn.functional.cross_entropy(h, ty, reduction=reduction)

        loss_fn = wrap(loss_fn)

        def step():
            loss = loss_fn()
            grads = torch.autograd.grad(loss, tws)
            with torch.no_grad():
                for w, g in zip(tws, grads):
                    w -= lr * g
            return tws

        step()
        return step

    return _torch_variants(make)


def _torch_mlp_inference(x, ws, bs):
    def make(torch, wrap):
        tx = torch.from_numpy(x)
        # Copies: with from_numpy torch would read the numpy peer's own weight arrays, and whichever
        # of the two ran last would leave them warm in cache for the other (MLP batch 1: numpy 0.32
        # ms beside torch against 0.47 with caches flushed; tgc, JAX and TF2 hold their own copies).
        tws, tbs = [torch.tensor(w) for w in ws], [torch.tensor(b) for b in bs]

        def fwd():
            h = tx
            for i, (w, b) in enumerate(zip(tws, tbs)):
                h = h @ w + b
                h = torch.relu(h) if i < 2 else h
            return h

        fwd = wrap(fwd)

        def step():
            with torch.no_grad():
                return fwd()

        step()
        return step

    return _torch_variants(make)


def _torch_convnet(x, y, params):
    def make(torch, wrap):
        import torch.nn.functional as F

        tx = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()  # NCHW, torch's native layout
        ty = torch.from_numpy(y).argmax(1)
        p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

        def c1():
            return p["c1"].permute(3, 2, 0, 1)

        def c2():
            return p["c2"].permute(3, 2, 0, 1)

        def loss_fn():
            h = F.max_pool2d(torch.relu(F.conv2d(tx, c1(), p["b1"], padding=2)), 2)
            h = F.max_pool2d(torch.relu(F.conv2d(h, c2(), p["b2"], padding=2)), 2)
            h = torch.relu(h.permute(0, 2, 3, 1).reshape(-1, 7 * 7 * 64) @ p["f1"] + p["b3"])
            return F.cross_entropy(h @ p["f2"] + p["b4"], ty)

        loss_fn = wrap(loss_fn)
        names = list(p)

        def step():
            grads = torch.autograd.grad(loss_fn(), [p[k] for k in names])
            with torch.no_grad():
                for k, g in zip(names, grads):
                    p[k] -= 1e-3 * g
            return [p[k] for k in names]

        step()
        return step

    return _torch_variants(make)


def _torch_gemm(a, b):
    def make(torch, wrap):
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        mm = wrap(lambda: ta @ tb)
        mm()
        return mm

    return _torch_variants(make)


# ---- JAX peers: one jax.jit of the whole step ----------------------------------------------------


def _jax_peer(make_fn):
    """{"jax": lazily built step} when JAX imported, else {}."""
    jax = _LIBS.get("jax")
    return {"jax": lambda: make_fn(jax, jax.numpy)} if jax is not None else {}


def _jax_put(jax, arrays):
    """Device copies of numpy arrays: the jitted step donates them, so they must not alias the
    shared inputs."""
    return [jax.device_put(a.copy()) for a in arrays]


def _jax_sgd(jax, loss, params, data, lr):
    """Forward, jax.grad and the SGD update in one jit; the parameters are donated so XLA may update
    in place.

    The step returns the new parameters after block_until_ready, so its time includes the work."""

    @functools.partial(jax.jit, donate_argnums=0)
    def update(params, *data):
        grads = jax.grad(loss)(params, *data)
        return [p - lr * g for p, g in zip(params, grads)]

    state = {"params": params}

    def step():
        state["params"] = jax.block_until_ready(update(state["params"], *data))
        return state["params"]

    step()
    return step


def _jax_softmax_ce(jax, jnp, logits, y, mean):
    ce = -jnp.sum(y * jax.nn.log_softmax(logits, axis=1), axis=1)
    return jnp.mean(ce) if mean else jnp.sum(ce)


def _jax_dense(x, y, ws, lr, mean):
    def make(jax, jnp):
        def loss(ws, x, y):
            h = x
            for i, w in enumerate(ws):
                h = h @ w
                h = jax.nn.relu(h) if i < len(ws) - 1 else h
            return _jax_softmax_ce(jax, jnp, h, y, mean)

        return _jax_sgd(jax, loss, _jax_put(jax, ws), _jax_put(jax, [x, y]), lr)

    return _jax_peer(make)


def _jax_mlp_inference(x, ws, bs):
    def make(jax, jnp):
        @jax.jit
        def fwd(ws, bs, x):
            h = x
            for i, (w, b) in enumerate(zip(ws, bs)):
                h = h @ w + b
                h = jax.nn.relu(h) if i < 2 else h
            return h

        args = (_jax_put(jax, ws), _jax_put(jax, bs), jax.device_put(x))

        def step():
            return fwd(*args).block_until_ready()

        step()
        return step

    return _jax_peer(make)


def _jax_convnet(x, y, params):
    names = list(params)

    def make(jax, jnp):
        lax = jax.lax

        def conv(h, w):
            return lax.conv_general_dilated(
                h, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )

        def pool(h):
            return lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")

        def loss(ps, x, y):
            p = dict(zip(names, ps))
            h = pool(jax.nn.relu(conv(x, p["c1"]) + p["b1"]))
            h = pool(jax.nn.relu(conv(h, p["c2"]) + p["b2"]))
            h = jax.nn.relu(h.reshape(-1, 7 * 7 * 64) @ p["f1"] + p["b3"])
            return _jax_softmax_ce(jax, jnp, h @ p["f2"] + p["b4"], y, mean=True)

        return _jax_sgd(
            jax, loss, _jax_put(jax, [params[k] for k in names]), _jax_put(jax, [x, y]), 1e-3
        )

    return _jax_peer(make)


def _jax_gemm(a, b):
    def make(jax, jnp):
        mm = jax.jit(lambda a, b: a @ b)
        args = _jax_put(jax, [a, b])

        def step():
            return mm(*args).block_until_ready()

        step()
        return step

    return _jax_peer(make)


# ---- TensorFlow 2 peers: tf.Variables and tf.function(jit_compile=True) --------------------------


def _tf2_fetch(tensor):
    """The result as numpy. np.asarray shares the CPU tensor's buffer; .numpy() copies it
    (16 MB at GEMM 2048), a cost no other implementation here pays: tgc and numpy hand out their
    result arrays as they are."""
    import numpy as np

    return np.asarray(tensor)


def _tf2_peer(make_fn):
    """{"tf2": lazily built step} when TensorFlow imported, else {}."""
    tf = _LIBS.get("tensorflow")
    return {"tf2": lambda: make_fn(tf)} if tf is not None else {}


def _tf2_sgd(tf, loss, params, data, lr):
    """GradientTape and assign_sub in one XLA-compiled function over tf.Variables.

    Eager TF runs a function call synchronously on the CPU, so the step's time includes the update
    without fetching anything; it returns the variables (unused by the timing)."""
    vs = [tf.Variable(p) for p in params]
    data = [tf.constant(d) for d in data]

    @tf.function(jit_compile=True)
    def update(*data):
        with tf.GradientTape() as tape:
            value = loss(vs, *data)
        for v, g in zip(vs, tape.gradient(value, vs)):
            v.assign_sub(lr * g)

    def step():
        update(*data)
        return vs

    step()
    return step


def _tf2_softmax_ce(tf, logits, y, mean):
    ce = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
    return tf.reduce_mean(ce) if mean else tf.reduce_sum(ce)


def _tf2_dense(x, y, ws, lr, mean):
    def make(tf):
        def loss(vs, x, y):
            h = x
            for i, w in enumerate(vs):
                h = tf.matmul(h, w)
                h = tf.nn.relu(h) if i < len(vs) - 1 else h
            return _tf2_softmax_ce(tf, h, y, mean)

        return _tf2_sgd(tf, loss, ws, [x, y], lr)

    return _tf2_peer(make)


def _tf2_mlp_inference(x, ws, bs):
    def make(tf):
        tws, tbs, tx = [tf.Variable(w) for w in ws], [tf.Variable(b) for b in bs], tf.constant(x)

        @tf.function(jit_compile=True)
        def fwd(x):
            h = x
            for i, (w, b) in enumerate(zip(tws, tbs)):
                h = tf.matmul(h, w) + b
                h = tf.nn.relu(h) if i < 2 else h
            return h

        def step():
            return _tf2_fetch(fwd(tx))

        step()
        return step

    return _tf2_peer(make)


def _tf2_convnet(x, y, params):
    names = list(params)

    def make(tf):
        def pool(h):
            return tf.nn.max_pool2d(h, 2, 2, "SAME")

        def loss(vs, x, y):
            p = dict(zip(names, vs))
            h = pool(tf.nn.relu(tf.nn.conv2d(x, p["c1"], 1, "SAME") + p["b1"]))
            h = pool(tf.nn.relu(tf.nn.conv2d(h, p["c2"], 1, "SAME") + p["b2"]))
            h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 64]), p["f1"]) + p["b3"])
            return _tf2_softmax_ce(tf, tf.matmul(h, p["f2"]) + p["b4"], y, mean=True)

        return _tf2_sgd(tf, loss, [params[k] for k in names], [x, y], 1e-3)

    return _tf2_peer(make)


def _tf2_gemm(a, b):
    def make(tf):
        mm = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=True)
        ta, tb = tf.constant(a), tf.constant(b)

        def step():
            return _tf2_fetch(mm(ta, tb))

        step()
        return step

    return _tf2_peer(make)


WORKLOADS = {
    "1 two-layer SGD step (64,1000,100,10)": lambda: dense_step(
        (1000, 100, 10), 64, 1e-3, mean=False
    ),
    "2 softmax regression SGD step (100, 784->10)": lambda: dense_step(
        (784, 10), 100, 0.5, mean=True
    ),
    "3a MLP 784-1024-1024-10 inference, batch 1": lambda: mlp_inference(1),
    "3b MLP 784-1024-1024-10 inference, batch 256": lambda: mlp_inference(256),
    "4 convnet SGD step (batch 32, 28x28x1)": convnet_step,
    "5a GEMM 256": lambda: gemm(256),
    "5b GEMM 1024": lambda: gemm(1024),
    "5c GEMM 2048": lambda: gemm(2048),
}


# ---- one child run (one thread setting) ---------------------------------------------------------


def build_impls(builders: dict) -> tuple[dict, dict]:
    """Builds each implementation's step, timing the build (compile + one step) as its first call.

    A peer whose build fails (a compiler missing, an op its version lacks) is left out with a
    note."""
    fns, first = {}, {}
    for impl, build in builders.items():
        holder = {}
        try:
            first[impl] = first_call(lambda: holder.setdefault("fn", build()))
        except Exception as exc:
            if impl == "tgc":
                raise
            print(f"note: {impl} left out ({type(exc).__name__}: {str(exc)[:300]})", flush=True)
            continue
        fns[impl] = holder["fn"]
    return fns, first


def run_all(steps: int, warmup: int, only: str | None) -> dict:
    record = {}
    for name, make in WORKLOADS.items():
        if only and only not in name:
            continue
        fns, first = build_impls(make())
        n = steps if not name.startswith("5c") else max(steps // 5, 5)
        times = in_blocks(fns, n, warmup)
        record[name] = {
            impl: dict(summary(t), first_call_s=first[impl]) for impl, t in times.items()
        }
        if name.startswith("5"):
            size = int(name.split()[-1])
            for impl in record[name].values():
                impl["gflops"] = 2 * size**3 / (impl["median_ms"] * 1e-3) / 1e9
        print(
            f"  {name}: "
            + ", ".join(f"{k} {v['median_ms']:.3f} ms" for k, v in record[name].items()),
            flush=True,
        )
    return record


# ---- parent: both thread settings, machine facts, JSON + Markdown --------------------------------


def machine() -> dict:
    out = {"cores": os.cpu_count(), "load_1min": os.getloadavg()[0]}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
        out["model"] = fields.get("Model name", "").strip()
        flags = fields.get("Flags", "")
        out["fma_width_f32"] = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
        mhz = fields.get("CPU max MHz") or fields.get("CPU MHz")
        if mhz:
            ghz = float(mhz) / 1000
            out["ghz"] = ghz
            # two FMA units per core on Zen / recent Intel: 2 x width x 2 flops per cycle
            out["lscpu_peak_gflops_f32"] = out["cores"] * ghz * out["fma_width_f32"] * 2 * 2
    except (OSError, ValueError):
        pass
    for tool in (
        REPO.parent / "shared" / "tools" / "machine-peak",
        REPO / "shared" / "tools" / "machine-peak",
    ):
        if tool.exists():
            res = subprocess.run([str(tool)], capture_output=True, text=True, timeout=120)
            out["machine_peak_output"] = res.stdout.strip()
            break
    return out


def summary_table(record: dict) -> list:
    """workload | tgc ms | fastest peer | tgc/fastest, by median."""
    lines = ["| workload | tgc ms | fastest peer (ms) | tgc/fastest |", "| --- | --- | --- | --- |"]
    for name, impls in record.items():
        tgc_median = impls["tgc"]["median_ms"]
        peers = {impl: s["median_ms"] for impl, s in impls.items() if impl != "tgc"}
        if not peers:
            lines.append(f"| {name} | {tgc_median:.3f} | (none) | |")
            continue
        best = min(peers, key=peers.get)
        lines.append(
            f"| {name} | {tgc_median:.3f} | {best} {peers[best]:.3f} | "
            f"{tgc_median / peers[best]:.2f} |"
        )
    return lines + [""]


def markdown(result: dict) -> str:
    lines = [
        f"# tgc vs peers ({result['date']})",
        "",
        f"Machine: {json.dumps(result['machine'])}",
        "",
    ]
    for setting, record in result["runs"].items():
        libraries = result.get("libraries", {}).get(setting, {})
        lines += [f"## {setting}", "", f"Peer libraries: {json.dumps(libraries)}", ""]
        lines += summary_table(record)
        lines += [
            "| workload | impl | median ms | p25-p75 ms | first call s | tgc/impl | GFLOP/s |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, impls in record.items():
            tgc_median = impls["tgc"]["median_ms"]
            for impl, s in impls.items():
                ratio = f"{tgc_median / s['median_ms']:.2f}" if impl != "tgc" else ""
                gf = f"{s['gflops']:.1f}" if "gflops" in s else ""
                lines.append(
                    f"| {name} | {impl} | {s['median_ms']:.3f} | "
                    f"{s['p25_ms']:.3f}-{s['p75_ms']:.3f} | "
                    f"{s['first_call_s']:.3f} | {ratio} | {gf} |"
                )
        lines.append("")
    return "\n".join(lines)


def child_env(setting: str, inductor_cache: str) -> dict:
    """The environment of the child run with ``setting`` threads ("1" or "default")."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env.pop(var, None)
        if setting == "1":
            env[var] = "1"
    # torch's OpenMP workers spin after each op; interleaved with numpy/tgc on 2 cores they
    # starved OpenBLAS's threads (two-layer step: numpy 0.52 -> 48 ms, tgc 0.59 -> 52 ms).
    # Passive waiting removes that interference without changing any library's thread count.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("JAX_PLATFORMS", "cpu")  # a CPU-speed harness: never JAX on an accelerator
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up notices, not errors
    # First calls are compiles from nothing, as tgc's (it keeps no compiled code on disk): Inductor
    # otherwise reuses the kernels of earlier runs from /tmp/torchinductor_<user> (its first
    # compile in a process took 3.5 s instead of 12, the next ones 0.09 s instead of 1.4), and JAX
    # would reuse a persistent cache named by this variable.
    env["TORCHINDUCTOR_CACHE_DIR"] = inductor_cache
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    return env


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="timed steps per workload (default 100)")
    parser.add_argument("--warmup", type=int, help="untimed steps before them (default 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a check that every peer runs: {QUICK_STEPS} steps, {QUICK_WARMUP} warm-up, "
        "no results files written",
    )
    parser.add_argument("--only", help="run the workloads whose name contains this text")
    parser.add_argument(
        "--no-torch-compile", action="store_true", help="leave out torch.compile (slow to compile)"
    )
    parser.add_argument("--child", choices=["1", "default"], help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    default_steps, default_warmup = (QUICK_STEPS, QUICK_WARMUP) if args.quick else (100, 5)
    args.steps = default_steps if args.steps is None else args.steps
    args.warmup = default_warmup if args.warmup is None else args.warmup
    global _TORCH_COMPILE
    _TORCH_COMPILE = not args.no_torch_compile
    if args.child:
        libraries = load_peers(one_thread=args.child == "1")
        record = run_all(args.steps, args.warmup, args.only)
        print(json.dumps({"workloads": record, "libraries": libraries}), flush=True)
        return
    runs, libraries = {}, {}
    for setting in ("1", "default"):
        print(f"threads: {setting}", flush=True)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            setting,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
        ]
        cmd += (["--only", args.only] if args.only else []) + (
            ["--no-torch-compile"] if args.no_torch_compile else []
        )
        with tempfile.TemporaryDirectory(prefix="harness-inductor-") as inductor_cache:
            proc = subprocess.run(
                cmd,
                env=child_env(setting, inductor_cache),
                capture_output=True,
                text=True,
                cwd=REPO,
            )
        if proc.returncode:
            sys.exit(f"child run ({setting} threads) failed:\n{proc.stderr[-4000:]}")
        lines = proc.stdout.rstrip().splitlines()
        print("\n".join(lines[:-1]))
        child = json.loads(lines[-1])
        runs[f"{setting} thread(s)"], libraries[f"{setting} thread(s)"] = (
            child["workloads"],
            child["libraries"],
        )
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": runs,
        "libraries": libraries,
    }
    print(markdown(result))
    if args.quick:
        # Too few steps for figures anyone should quote: nothing goes to benchmarks/results.
        print("quick run: no results files written")
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"harness-{result['date'].replace(':', '')}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1))
    stem.with_suffix(".md").write_text(markdown(result))
    print(f"records: {stem}.json, .md")


if __name__ == "__main__":
    main()
