"""The accelerator's table, after the TPU paper's (Jouppi et al., ISCA 2017, table 3 and figure 5):
per workload, the matrix unit's utilisation, the fraction of peak, the achieved Tflop/s, the
arithmetic intensity (flops per byte of DMA) and what bounds it; and its roofline picture.

Workloads, each one step run on /accel:0 in a Session (every op requested there,
``ConfigProto(device_count={'ACCEL': 1}, allow_soft_placement=True)``: the accelerator runs what it
can, the CPU the rest):

- the 1024 x 1024 x 1024 matmul (issue 15's 90 % bar);
- an MLP's inference: 3 dense layers (784 -> 1024 -> 1024 -> 10, relu), batch 1024;
- an MLP's training step: the same with softmax cross-entropy and SGD, batch 512;
- the convnet's training step: the TensorFlow tutorial's two conv layers (5x5x32, 5x5x64, SAME,
  each with relu and 2x2 max-pool) and dense 3136 -> 1024 -> 10 on 28 x 28 images, batch 50, SGD;
- the lecture's two-layer net's training step (benchmarks/two_layer_step.py: N, D, H, C = 64, 1000,
  100, 10; relu, summed softmax cross-entropy, SGD).

The step is run once to compile, then once more with the simulator's statistics cleared; the
statistics of every accelerator program it ran are summed (programs run one after another: their
cycles add). The accelerator's time only: what ran on the CPU (by soft placement) and the transfers
are not in it. Matrix utilisation = MACs / (128 * 128) / cycles, the fraction of peak the same
(the matrix unit does all the flops counted), achieved flop/s = 2 MACs / (cycles / clock),
arithmetic intensity = 2 MACs / (DMA bytes in + out). "Bound by": the unit busy the longest of the
step's cycles (the matrix unit, DMA in, DMA out, the vector unit), or "latency" when none is busy
half the time (the units wait on each other: DMA latencies and dependencies).

Writes benchmarks/results/accel_roofline-<time>.md and .json and docs/accel-roofline.svg (a roofline
drawn by hand: log-log axes, the compute roof, the DMA slope, one point per workload).

Run from the repository root:
    python benchmarks/accel_roofline.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
from pathlib import Path

import numpy as np

import tgc as tf
from tgc.errors import CompileError
from tgc.lowering.accel import in_process
from tgc.runtime.accel.machine import Machine

REPO = Path(__file__).resolve().parents[1]
CONFIG = dict(device_count={"ACCEL": 1}, allow_soft_placement=True)
UNITS = ("matrix", "dma_in", "dma_out", "vector")


# ---- the workloads: each returns (feed, what to run) built in the default graph ------------------


def _dense(x, fan_in: int, fan_out: int, rng, relu: bool):
    w = tf.Variable((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32))
    b = tf.Variable(np.zeros(fan_out, np.float32))
    y = tf.matmul(x, w) + b
    return tf.nn.relu(y) if relu else y


def _labels(rng, batch: int, classes: int) -> np.ndarray:
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, batch)]


def matmul_1024(rng):
    a = tf.placeholder(tf.float32, [1024, 1024])
    b = tf.placeholder(tf.float32, [1024, 1024])
    feed = {a: rng.standard_normal((1024, 1024)).astype(np.float32)}
    feed[b] = rng.standard_normal((1024, 1024)).astype(np.float32)
    return feed, tf.matmul(a, b)


def _mlp(rng, batch: int):
    x = tf.placeholder(tf.float32, [batch, 784])
    h = _dense(x, 784, 1024, rng, relu=True)
    h = _dense(h, 1024, 1024, rng, relu=True)
    logits = _dense(h, 1024, 10, rng, relu=False)
    return x, logits


def mlp_inference(rng):
    x, logits = _mlp(rng, 1024)
    return {x: rng.standard_normal((1024, 784)).astype(np.float32)}, logits


def _training_step(logits, labels, rate: float):
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    return tf.train.GradientDescentOptimizer(rate).minimize(loss)


def mlp_training(rng):
    x, logits = _mlp(rng, 512)
    y = tf.placeholder(tf.float32, [512, 10])
    feed = {x: rng.standard_normal((512, 784)).astype(np.float32), y: _labels(rng, 512, 10)}
    return feed, _training_step(logits, y, 0.01)


def _conv_layer(x, kernel: int, channels: int, filters: int, rng):
    w = tf.Variable(
        (rng.standard_normal((kernel, kernel, channels, filters)) * 0.1).astype(np.float32)
    )
    b = tf.Variable(np.full(filters, 0.1, np.float32))
    h = tf.nn.relu(tf.nn.conv2d(x, w, strides=[1, 1, 1, 1], padding="SAME") + b)
    return tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def convnet_training(rng):
    batch = 50
    x = tf.placeholder(tf.float32, [batch, 28, 28, 1])
    y = tf.placeholder(tf.float32, [batch, 10])
    h = _conv_layer(x, 5, 1, 32, rng)
    h = _conv_layer(h, 5, 32, 64, rng)
    h = _dense(tf.reshape(h, [batch, 7 * 7 * 64]), 7 * 7 * 64, 1024, rng, relu=True)
    logits = _dense(h, 1024, 10, rng, relu=False)
    feed = {x: rng.standard_normal((batch, 28, 28, 1)).astype(np.float32)}
    feed[y] = _labels(rng, batch, 10)
    return feed, _training_step(logits, y, 0.01)


def two_layer_training(rng):
    n, d, h_size, c = 64, 1000, 100, 10  # benchmarks/two_layer_step.py
    x = tf.placeholder(tf.float32, [n, d])
    y = tf.placeholder(tf.float32, [n, c])
    w1 = tf.Variable((rng.standard_normal((d, h_size)) * 0.01).astype(np.float32))
    w2 = tf.Variable((rng.standard_normal((h_size, c)) * 0.01).astype(np.float32))
    scores = tf.matmul(tf.nn.relu(tf.matmul(x, w1)), w2)
    loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=scores))
    train = tf.train.GradientDescentOptimizer(1e-3).minimize(loss)
    feed = {x: rng.standard_normal((n, d)).astype(np.float32), y: _labels(rng, n, c)}
    return feed, train


WORKLOADS = {
    "matmul 1024^3": matmul_1024,
    "MLP inference (3 dense, batch 1024)": mlp_inference,
    "MLP training step (batch 512)": mlp_training,
    "convnet training step (2 conv + 2 dense, batch 50)": convnet_training,
    "two-layer net training step (64 x 1000 x 100 x 10)": two_layer_training,
}


# ---- running one step and summing its programs' statistics ---------------------------------------


def _all_last_stats() -> dict:
    """function -> [Stats] of each accelerator function's last run."""
    if hasattr(in_process, "all_last_stats"):
        return in_process.all_last_stats()
    with in_process._STATS_LOCK:  # until in_process exposes them: its own record, read only
        return {k: v for k, v in in_process._LAST_STATS.items() if k is not None}


def _clear_stats() -> None:
    if hasattr(in_process, "clear_stats"):
        in_process.clear_stats()
        return
    with in_process._STATS_LOCK:
        in_process._LAST_STATS.clear()


def run_step(build) -> dict:
    """One step of the workload on /accel:0 (after one run to compile): its programs' stats."""
    tf.reset_default_graph()
    rng = np.random.default_rng(0)
    with tf.device("/accel:0"):
        feed, fetch = build(rng)
    with tf.Session(config=tf.ConfigProto(**CONFIG)) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(fetch, feed)
        _clear_stats()
        sess.run(fetch, feed)
        return _all_last_stats()


def summarise(name: str, per_function: dict, machine: Machine) -> dict:
    programs = [stats for stats_list in per_function.values() for stats in stats_list or []]
    cycles = sum(s.total_cycles for s in programs)
    macs = sum(s.macs for s in programs)
    moved = sum(s.dma_bytes_in + s.dma_bytes_out for s in programs)
    busy = {unit: sum(s.busy_cycles[unit] for s in programs) for unit in UNITS}
    seconds = cycles / machine.clock_hz
    utilisation = macs / (machine.array_rows * machine.array_cols) / cycles if cycles else 0.0
    achieved = 2 * macs / seconds if seconds else 0.0
    return {
        "workload": name,
        "functions": len(per_function),
        "programs": len(programs),
        "cycles": cycles,
        "macs": macs,
        "dma_bytes": moved,
        "busy_cycles": busy,
        "matrix_utilisation": utilisation,
        "fraction_of_peak": achieved / machine.peak_flops_per_s,
        "achieved_tflops": achieved / 1e12,
        "arithmetic_intensity": 2 * macs / moved if moved else 0.0,
        "bound_by": _bound(busy, cycles),
    }


def _bound(busy: dict, cycles: int) -> str:
    """The unit busy the longest share of the cycles, or latency when none is busy half the time."""
    if not cycles:
        return "-"
    unit = max(UNITS, key=lambda u: busy[u])
    share = busy[unit] / cycles
    names = {
        "matrix": "matrix unit",
        "dma_in": "DMA in",
        "dma_out": "DMA out",
        "vector": "vector unit",
    }
    if share < 0.5:
        return f"latency (busiest: {names[unit]}, {share:.0%})"
    return f"{names[unit]} ({share:.0%} busy)"


# ---- outputs -------------------------------------------------------------------------------------


def markdown(rows: list, machine: Machine, commit: str) -> str:
    peak = machine.peak_flops_per_s / 1e12
    bandwidth = machine.dma_bytes_per_cycle * machine.clock_hz / 1e9
    lines = [
        f"# The accelerator's table (commit {commit})",
        "",
        f"Default machine: {machine.array_rows} x {machine.array_cols} bf16 matrix unit at "
        f"{machine.clock_hz / 1e9:.2f} GHz (peak {peak:.1f} Tflop/s), DMA "
        f"{machine.dma_bytes_per_cycle} bytes a cycle each way ({bandwidth:.0f} GB/s) with "
        f"{machine.dma_latency_cycles} cycles of latency. One step on /accel:0, the accelerator's "
        "cycles only (ops it does not run stay on the CPU).",
        "",
        "| workload | programs | MACs | cycles | matrix utilisation | fraction of peak | "
        "Tflop/s | flops per DMA byte | bound by |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        if "failed" in row:
            lines.append(
                f"| {row['workload']} | - | - | - | - | - | - | - | failed: {row['failed']} |"
            )
            continue
        lines.append(
            f"| {row['workload']} | {row['programs']} | {row['macs']:,} | {row['cycles']:,} | "
            f"{row['matrix_utilisation']:.1%} | {row['fraction_of_peak']:.1%} | "
            f"{row['achieved_tflops']:.2f} | {row['arithmetic_intensity']:.1f} | "
            f"{row['bound_by']} |"
        )
    return "\n".join(lines) + "\n"


def roofline_svg(rows: list, machine: Machine) -> str:
    """A log-log roofline: x = flops per DMA byte, y = flop/s; the compute roof, the DMA slope (one
    DMA unit's bandwidth), one labelled point per workload."""
    width, height, margin = 760, 480, (70, 30, 40, 60)  # left, right, top, bottom
    x_range, y_range = (0.1, 10_000.0), (1e9, 1e14)
    plot_w = width - margin[0] - margin[1]
    plot_h = height - margin[2] - margin[3]

    def px(ai):
        span = math.log10(x_range[1]) - math.log10(x_range[0])
        return margin[0] + (math.log10(ai) - math.log10(x_range[0])) / span * plot_w

    def py(flops):
        span = math.log10(y_range[1]) - math.log10(y_range[0])
        return margin[2] + plot_h - (math.log10(flops) - math.log10(y_range[0])) / span * plot_h

    peak = machine.peak_flops_per_s
    bandwidth = machine.dma_bytes_per_cycle * machine.clock_hz
    ridge = peak / bandwidth
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">'
        "tgc's accelerator: roofline of the default machine, one step per workload</text>",
    ]
    for decade in range(-1, 5):  # x grid and ticks
        x = px(10.0**decade)
        parts.append(
            f'<line x1="{x:.1f}" y1="{margin[2]}" x2="{x:.1f}" y2="{margin[2] + plot_h}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{margin[2] + plot_h + 16}" text-anchor="middle">'
            f"{10.0**decade:g}</text>"
        )
    for decade in range(9, 15):  # y grid and ticks
        y = py(10.0**decade)
        parts.append(
            f'<line x1="{margin[0]}" y1="{y:.1f}" x2="{margin[0] + plot_w}" y2="{y:.1f}" '
            'stroke="#ddd"/>'
        )
        label = f"{10.0 ** (decade - 12):g} T" if decade >= 12 else f"{10.0 ** (decade - 9):g} G"
        parts.append(f'<text x="{margin[0] - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(
        f'<rect x="{margin[0]}" y="{margin[2]}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="black"/>'
    )
    parts.append(
        f'<text x="{margin[0] + plot_w / 2}" y="{height - 18}" text-anchor="middle">'
        "arithmetic intensity (flops per byte of DMA, in + out)</text>"
    )
    parts.append(
        f'<text x="18" y="{margin[2] + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {margin[2] + plot_h / 2})">flop/s</text>'
    )
    # The roof: the DMA slope up to the ridge, then the matrix unit's peak.
    start = max(x_range[0], y_range[0] / bandwidth)
    roof = [(start, start * bandwidth), (ridge, peak), (x_range[1], peak)]
    points = " ".join(f"{px(ai):.1f},{py(f):.1f}" for ai, f in roof)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#c00" stroke-width="2"/>')
    parts.append(
        f'<text x="{margin[0] + plot_w - 6}" y="{py(peak) - 8:.1f}" fill="#c00" '
        f'text-anchor="end">peak {peak / 1e12:.1f} Tflop/s (128 x 128 bf16 at '
        f"{machine.clock_hz / 1e9:.2f} GHz)</text>"
    )
    slope_at = math.sqrt(start * ridge)
    angle = math.degrees(
        math.atan2(py(ridge * bandwidth) - py(start * bandwidth), px(ridge) - px(start))
    )
    anchor = (px(slope_at), py(slope_at * bandwidth) - 8)
    parts.append(
        f'<text x="{anchor[0]:.1f}" y="{anchor[1]:.1f}" fill="#c00" text-anchor="middle" '
        f'transform="rotate({angle:.1f} {anchor[0]:.1f} {anchor[1]:.1f})">'
        f"DMA {bandwidth / 1e9:.0f} GB/s (one unit; ridge at {ridge:.0f} flops/byte)</text>"
    )
    # Points: numbered, with a legend in the plot's lower right (the roof's empty side).
    colours = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]
    legend_y = margin[2] + plot_h - 14 * len(rows) - 8
    for number, row in enumerate(rows, start=1):
        colour = colours[(number - 1) % len(colours)]
        text = f"{number}. {_escape(row['workload'])}"
        if row.get("arithmetic_intensity") and row.get("achieved_tflops"):
            x, y = px(row["arithmetic_intensity"]), py(row["achieved_tflops"] * 1e12)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colour}"/>')
            parts.append(
                f'<text x="{x - 7:.1f}" y="{y + 16:.1f}" fill="{colour}" text-anchor="end">'
                f"{number}</text>"
            )
            text += f": {row['matrix_utilisation']:.0%} of peak"
        else:
            text += ": not run"
        parts.append(
            f'<text x="{margin[0] + plot_w - 8}" y="{legend_y + 14 * number:.1f}" '
            f'fill="{colour}" text-anchor="end">{text}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    parser.add_argument("--svg", default=str(REPO / "docs" / "accel-roofline.svg"))
    parser.add_argument("--only", help="run the workloads whose name contains this")
    args = parser.parse_args()
    machine = Machine()
    rows = []
    for name, build in WORKLOADS.items():
        if args.only and args.only not in name:
            continue
        try:
            rows.append(summarise(name, run_step(build), machine))
        except (CompileError, ValueError) as error:  # a step the target cannot run yet: say so
            rows.append({"workload": name, "failed": str(error).splitlines()[0]})
        print(markdown(rows[-1:], machine, "").splitlines()[-1], flush=True)
    commit = _commit()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H%M%S%z")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(rows, machine, commit)
    (out / f"accel_roofline-{stamp}.md").write_text(table)
    record = {"commit": commit, "machine": machine.to_dict(), "workloads": rows}
    (out / f"accel_roofline-{stamp}.json").write_text(json.dumps(record, indent=2) + "\n")
    Path(args.svg).write_text(roofline_svg(rows, machine))
    print(table)
    print(f"wrote {out}/accel_roofline-{stamp}.md, .json and {args.svg}")


if __name__ == "__main__":
    main()
