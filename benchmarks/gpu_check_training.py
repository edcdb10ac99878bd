"""The lecture programs' training steps for benchmarks/gpu_check.py: prepared here, run on a GPU.

Each program (the two-layer net, softmax regression, the convnet, all with plain SGD) is compiled
with ``--fetch loss --fetch train`` twice: for nvptx (shipped) and for the CPU, whose artifact runs
``STEPS`` steps here on fixed feeds to record the losses and the final variables. On the GPU the
nvptx artifact runs the same steps from the same initial values and must follow the CPU within
float32 rounding; its step is timed against the same step in PyTorch (eager, and torch.compile
where it works), starting from the same values.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

STEPS = 50
PROFILE_STEPS = 20  # steps timed kernel by kernel (GPU events around each launch)
PROFILE_TOP = 10  # kernels listed per program, the most time first
LOSS_RTOL = 1e-3  # per step, relative: float32 rounding grows over the steps
VARIABLE_RTOL, VARIABLE_ATOL = 1e-3, 1e-5

_TWO_LAYER = """
import tgc as tf

tf.set_random_seed(0)
x = tf.placeholder(tf.float32, (64, 1000), name="x")
y = tf.placeholder(tf.float32, (64, 10), name="y")
w1 = tf.Variable(tf.random_normal((1000, 100), stddev=0.01), name="w1")
w2 = tf.Variable(tf.random_normal((100, 10), stddev=0.01), name="w2")
scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
loss = tf.reduce_sum(
    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss"
)
train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss, name="train")
"""

_SOFTMAX_REGRESSION = """
import tgc as tf

x = tf.placeholder(tf.float32, (64, 784), name="x")
y = tf.placeholder(tf.float32, (64, 10), name="y")
w = tf.Variable(tf.zeros((784, 10)), name="w")
b = tf.Variable(tf.zeros((10,)), name="b")
scores = tf.matmul(x, w) + b
loss = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores), name="loss"
)
train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")
"""

_CONVNET = """
import tgc as tf

N = 50
tf.set_random_seed(0)
x = tf.placeholder(tf.float32, (N, 64), name="x")
y = tf.placeholder(tf.float32, (N, 10), name="y")
image = tf.reshape(x, [N, 8, 8, 1])
w_conv = tf.Variable(tf.truncated_normal([3, 3, 1, 16], stddev=0.1), name="w_conv")
b_conv = tf.Variable(tf.constant(0.1, shape=[16]), name="b_conv")
conv = tf.nn.relu(tf.nn.conv2d(image, w_conv, strides=[1, 1, 1, 1], padding="SAME") + b_conv)
pool = tf.nn.max_pool(conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
w_fc1 = tf.Variable(tf.truncated_normal([256, 64], stddev=0.1), name="w_fc1")
b_fc1 = tf.Variable(tf.constant(0.1, shape=[64]), name="b_fc1")
hidden = tf.nn.relu(tf.matmul(tf.reshape(pool, [N, 256]), w_fc1) + b_fc1)
w_fc2 = tf.Variable(tf.truncated_normal([64, 10], stddev=0.1), name="w_fc2")
b_fc2 = tf.Variable(tf.constant(0.1, shape=[10]), name="b_fc2")
logits = tf.matmul(hidden, w_fc2) + b_fc2
loss = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss"
)
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
"""

# name -> (program, batch, features, learning rate, PyTorch loss of the step)
PROGRAMS = {
    "two_layer_sgd_64x1000x100x10": (_TWO_LAYER, 64, 1000, 1e-3, "two_layer"),
    "softmax_regression_sgd_64x784x10": (_SOFTMAX_REGRESSION, 64, 784, 0.5, "softmax"),
    "convnet_sgd_50x8x8": (_CONVNET, 50, 64, 0.1, "convnet"),
}


# ---- prepare (here) ------------------------------------------------------------------------------


def _feeds(batch: int, features: int) -> dict:
    rng = np.random.default_rng(0)
    return {
        "x": rng.standard_normal((batch, features)).astype(np.float32),
        "y": np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch)],
    }


def prepare(cases_dir: str, compile_) -> list:
    """Compiles each program for nvptx and the CPU, and records the CPU's training run."""
    import tgc.runtime

    entries = []
    for name, (program, batch, features, _, _) in PROGRAMS.items():
        folder = os.path.join(cases_dir, name)
        os.makedirs(folder)
        source = os.path.join(folder, "model.py")
        with open(source, "w") as fh:
            fh.write(program)
        fetches = ["--fetch", "loss", "--fetch", "train"]
        entry = {"name": name, "steps": STEPS}
        entry["error"] = compile_(source, os.path.join(folder, "artifact"), fetches)
        cpu = os.path.join(folder, "cpu_artifact")
        if entry["error"] is None:
            entry["error"] = compile_(source, cpu, fetches, target="cpu")
        if entry["error"] is None:
            entry["error"] = _same_initial_values(folder, cpu)
        if entry["error"] is None:
            feeds = _feeds(batch, features)
            art = tgc.runtime.load(cpu)
            losses = [float(art(**feeds)["loss"]) for _ in range(STEPS)]
            np.savez(os.path.join(folder, "feeds.npz"), **feeds)
            np.savez(
                os.path.join(folder, "reference.npz"),
                losses=np.array(losses),
                **{f"var/{n}": v for n, v in art.variables.items()},
            )
        shutil.rmtree(cpu, ignore_errors=True)  # the GPU machine needs only its reference
        entries.append(entry)
        print(f"{name:40s} {'compiled' if entry['error'] is None else entry['error']}", flush=True)
    return entries


def _same_initial_values(folder: str, cpu: str) -> str | None:
    """Both compiles drew the same initial values (the programs seed their random draws)."""
    with np.load(os.path.join(folder, "artifact", "variables.npz")) as gpu_values:
        with np.load(os.path.join(cpu, "variables.npz")) as cpu_values:
            for name in cpu_values.files:
                if not np.array_equal(gpu_values[name], cpu_values[name]):
                    return f"the two compiles drew different initial values for '{name}'"
    return None


# ---- run (on the GPU machine) --------------------------------------------------------------------


def run(directory: str, entries: list, load, median_seconds, compile_budget: float) -> list:
    """Rows per program; torch.compile gets ``compile_budget`` seconds over all programs."""
    import torch

    rows, budget = [], {"left": compile_budget}
    for entry in entries:
        row = {"name": entry["name"]}
        if entry["error"] is not None:
            rows.append(dict(row, status="not run", reason=f"not compiled: {entry['error']}"))
            continue
        folder = os.path.join(directory, "cases", entry["name"])
        try:
            row.update(_train(folder, entry, load, median_seconds, budget, torch))
        except Exception as exc:  # noqa: BLE001 - one failed case must not stop the others
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(row, flush=True)
    return rows


def _train(folder: str, entry: dict, load, median_seconds, budget: dict, torch) -> dict:
    with np.load(os.path.join(folder, "feeds.npz")) as data:
        feeds = {n: data[n] for n in data.files}
    with np.load(os.path.join(folder, "reference.npz")) as data:
        reference = {n: data[n] for n in data.files}
    art = load(os.path.join(folder, "artifact"))
    initial = {n: v.copy() for n, v in art.variables.items()}
    losses = np.array([float(art(**feeds)["loss"]) for _ in range(entry["steps"])])
    want = reference["losses"]
    loss_error = float(np.max(np.abs(losses - want) / np.maximum(np.abs(want), 1e-30)))
    variables_ok = all(
        np.allclose(art.variables[n], reference[f"var/{n}"], VARIABLE_RTOL, VARIABLE_ATOL)
        for n in art.variables
    )
    result = {
        "first_loss": float(losses[0]),
        "last_loss": float(losses[-1]),
        "max_rel_loss_error": loss_error,
        "status": "pass" if loss_error <= LOSS_RTOL and variables_ok else "fail",
    }
    if not variables_ok:
        result["reason"] = "the trained variables differ from the CPU's"
    sync = torch.cuda.synchronize
    result["tgc_step_host_ms"] = 1e3 * median_seconds(lambda: art(**feeds), sync)
    art.close()
    try:
        result["kernel_profile"] = _kernel_profile(folder, feeds, load)
    except Exception as exc:  # noqa: BLE001 - the step's numbers above stand without it
        result["kernel_profile"] = f"not run: {type(exc).__name__}: {exc}"
    try:
        step, params, inputs = _torch_step(entry["name"], feeds, initial, torch)
        # From the same values PyTorch's first loss is the CPU's: the two programs agree.
        result["torch_first_loss"] = float(step(*inputs, *params))
        result["torch_eager_step_ms"] = 1e3 * median_seconds(lambda: step(*inputs, *params), sync)
        result["torch_compile_step_ms"] = _compiled_step_time(
            step, inputs, params, median_seconds, sync, budget, torch
        )
    except Exception as exc:  # noqa: BLE001 - the tgc half above stands on its own
        result["torch_eager_step_ms"] = f"not run: {type(exc).__name__}: {exc}"
    return result


def _kernel_profile(folder: str, feeds: dict, load) -> dict:
    """Where a step's GPU time goes: each kernel's launches and milliseconds per step, timed by
    CUDA events around each launch (load(..., profile=True)), over PROFILE_STEPS steps after
    three warm-up steps; its grid and block from the launch plan."""
    art = load(os.path.join(folder, "artifact"), profile=True)
    try:
        for _ in range(3):
            art(**feeds)
        art.reset_kernel_times()
        start = time.perf_counter()
        for _ in range(PROFILE_STEPS):
            art(**feeds)
        wall = (time.perf_counter() - start) / PROFILE_STEPS
        times = art.kernel_times()
        shapes = {
            step["launch"]["kernel"]: (step["launch"]["grid"], step["launch"]["block"])
            for step in art.launch_plan["steps"]
            if "launch" in step
        }
    finally:
        art.close()
    return {
        "steps": PROFILE_STEPS,
        "launches_per_step": sum(count for _, count, _ in times) / PROFILE_STEPS,
        "kernel_ms_per_step": sum(ms for _, _, ms in times) / PROFILE_STEPS,
        "wall_ms_per_step": 1e3 * wall,  # with the events' own cost
        "kernels": [
            {
                "kernel": name,
                "launches_per_step": count / PROFILE_STEPS,
                "ms_per_step": ms / PROFILE_STEPS,
                "grid": shapes.get(name, ([], []))[0],
                "block": shapes.get(name, ([], []))[1],
            }
            for name, count, ms in times
        ],
    }


def profile_markdown(rows: list) -> list:
    """The report's lines for each program's kernel profile (top PROFILE_TOP kernels)."""
    lines = [
        "## Lecture programs: GPU time per kernel (CUDA events around each launch)",
        "",
        f"Per step, over {PROFILE_STEPS} steps after 3 warm-up steps; wall: the step's host time "
        "with the events' own cost; the rest of the wall time is the host's (launches, copies).",
        "",
    ]
    for row in rows:
        profile = row.get("kernel_profile")
        if profile is None:
            continue
        if isinstance(profile, str):
            lines += [f"- {row['name']}: {profile}", ""]
            continue
        lines += [
            f"### {row['name']}: {profile['launches_per_step']:.0f} launches, "
            f"{profile['kernel_ms_per_step']:.3f} ms in kernels, "
            f"{profile['wall_ms_per_step']:.3f} ms wall per step",
            "",
            "| kernel | grid | block | launches | ms per step | share |",
            "|---|---|---|---|---|---|",
        ]
        total = profile["kernel_ms_per_step"] or 1.0
        for k in profile["kernels"][:PROFILE_TOP]:
            lines.append(
                f"| {k['kernel']} | {'x'.join(map(str, k['grid']))} | "
                f"{'x'.join(map(str, k['block']))} | {k['launches_per_step']:g} | "
                f"{k['ms_per_step']:.4f} | {100 * k['ms_per_step'] / total:.0f} % |"
            )
        lines.append("")
    return lines


def _torch_step(name: str, feeds: dict, initial: dict, torch):
    """(step function, parameters, inputs) of the program in PyTorch, from the same values."""
    functional = torch.nn.functional
    kind, lr = PROGRAMS[name][4], PROGRAMS[name][3]
    x, y = (torch.from_numpy(feeds[n]).cuda() for n in ("x", "y"))
    order = {
        "two_layer": ["w1", "w2"],
        "softmax": ["w", "b"],
        "convnet": ["w_conv", "b_conv", "w_fc1", "b_fc1", "w_fc2", "b_fc2"],
    }[kind]
    params = [torch.from_numpy(initial[n]).cuda().requires_grad_() for n in order]

    def cross_entropy(logits, labels):
        return -(labels * functional.log_softmax(logits, dim=1)).sum(dim=1)

    def loss_of(x, y, *p):
        if kind == "two_layer":
            return cross_entropy(torch.relu(x @ p[0]) @ p[1], y).sum()
        if kind == "softmax":
            return cross_entropy(x @ p[0] + p[1], y).mean()
        n = x.shape[0]
        image = x.reshape(n, 8, 8, 1).permute(0, 3, 1, 2)  # NHWC -> NCHW
        conv = functional.conv2d(image, p[0].permute(3, 2, 0, 1), p[1], padding=1)
        pool = functional.max_pool2d(torch.relu(conv), 2)
        flat = pool.permute(0, 2, 3, 1).reshape(n, 256)  # TF's NHWC order
        hidden = torch.relu(flat @ p[2] + p[3])
        return cross_entropy(hidden @ p[4] + p[5], y).mean()

    def step(x, y, *p):
        loss = loss_of(x, y, *p)
        grads = torch.autograd.grad(loss, p)
        with torch.no_grad():
            for parameter, grad in zip(p, grads):
                parameter -= lr * grad
        return loss.detach()

    return step, params, (x, y)


def _compiled_step_time(step, inputs, params, median_seconds, sync, budget: dict, torch):
    """Median ms of the torch.compile'd step, or why it was not run; spends from ``budget``."""
    if budget["left"] <= 0:
        return "not run: torch.compile time budget spent"
    start = time.perf_counter()
    try:
        compiled = torch.compile(step)
        compiled(*inputs, *params)
        sync()
    except Exception as exc:  # noqa: BLE001 - no triton or no C compiler: say so
        message = " ".join(str(exc).split())[:120]
        return f"not run: torch.compile failed ({type(exc).__name__}: {message})"
    budget["left"] -= time.perf_counter() - start
    return 1e3 * median_seconds(lambda: compiled(*inputs, *params), sync)
