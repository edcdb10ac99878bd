"""The nvptx target on a real GPU: its registry op checks and timings against PyTorch CUDA.

Two modes, on two machines:

``prepare DIR`` (here: tgc and MLIR installed, no GPU needed) compiles every case with
``tgc compile --target nvptx`` into ``DIR/cases/NAME/artifact`` and writes ``DIR/cases.json``:

- one check per sample of every registry op the nvptx target lists (its ``supported_ops`` that the
  registry can sample): the operands are drawn as the registry-wide tests draw them
  (tests/unit/registry_harness.py), saved with the op's numpy result (``opdef.eval``);
- benchmarks at sizes where a GPU matters (elementwise chains, matmuls, the two-layer forward),
  whose inputs are drawn on the GPU machine from a seed and whose reference is PyTorch in float64
  on the GPU (too large to ship).

It also copies ``tgc/runtime`` to ``DIR/python/tgc/runtime`` (with an empty ``tgc`` package around
it): the GPU machine needs nothing of tgc but that and the artifacts. A case that does not compile
is recorded with tgc's error line and reported as not run.

``run DIR [OUT]`` (the GPU machine: numpy, cuda-bindings, PyTorch; no MLIR, no tgc install) loads
each artifact with the copied runtime, compares its results with the saved ones (checks) or
PyTorch's float64 ones (benchmarks), and times the benchmarks: tgc's call (inputs copied in,
outputs copied out: host to host) against PyTorch eager CUDA on the same host arrays, PyTorch eager
and torch.compile on tensors already on the GPU, and cuBLAS (torch.matmul, TF32 off) for matmuls;
the ``*tf32*`` benchmarks are compiled with ``--allow-tf32`` (tensor cores) and timed against
cuBLAS with TF32 on, within TF32's tolerance.
It writes ``gpu_check.json`` and ``gpu_check.md`` under OUT (default: $OUT, else DIR/results).
What it cannot run is listed as not run, with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback

import numpy as np

import gpu_check_training  # benchmarks/: beside this script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_RTOL = 2e-3  # float32 kernels against float64 PyTorch, sums of up to 4096 products
# TF32 products: operands keep 10 mantissa bits (relative error up to 2^-10 each when truncated);
# over 4096 terms of random sign the sum's error is about sqrt(4096) * 2^-9 * mean |x w|, ~1e-3 of
# the largest |C| (PyTorch's TF32 result is as far from float64). A wrong fragment layout gives
# errors of order 1.
TF32_RTOL = 1e-2

# name -> (inputs: [(name, shape)], tgc source (MLIR text of @main), PyTorch expression)
BENCHMARKS = {
    "add_4096x4096": (
        [("x", (4096, 4096)), ("y", (4096, 4096))],
        "add",
        "x + y",
    ),
    "exp_4096x4096": ([("x", (4096, 4096))], "exp", "torch.exp(x)"),
    "dense_relu_4096x4096": (
        [("x", (4096, 4096)), ("w", (4096, 4096)), ("b", (4096,))],
        "dense_relu",
        "torch.relu(x * w + b)",
    ),
    # A full reduction: two launches of shared-memory trees (tgc-nvptx-tree-reduce), memory bound.
    "sum_4096x4096": ([("x", (4096, 4096))], "sum", "torch.sum(x)"),
    "matmul_1024": ([("x", (1024, 1024)), ("w", (1024, 1024))], "matmul", "x @ w"),
    "matmul_4096": ([("x", (4096, 4096)), ("w", (4096, 4096))], "matmul", "x @ w"),
    # tensor cores in TF32 (tgc --allow-tf32) against cuBLAS in TF32 (torch allow_tf32), then
    # odd shapes and transposed operands on the same kernel (bounds tests, masked stores).
    "matmul_4096_tf32": ([("x", (4096, 4096)), ("w", (4096, 4096))], "matmul", "x @ w"),
    "matmul_4096_tf32_8warps": ([("x", (4096, 4096)), ("w", (4096, 4096))], "matmul", "x @ w"),
    "matmul_4096_tf32_2stages": ([("x", (4096, 4096)), ("w", (4096, 4096))], "matmul", "x @ w"),
    "matmul_4096_tf32_bk8_4stages": (
        [("x", (4096, 4096)), ("w", (4096, 4096))],
        "matmul",
        "x @ w",
    ),
    **{
        f"matmul_4096_tf32_{variant}": (
            [("x", (4096, 4096)), ("w", (4096, 4096))],
            "matmul",
            "x @ w",
        )
        for variant in ("bk16_3stages", "bk16_4stages", "bk32_4stages", "128x256")
    },
    "matmul_tf32_1000x999x777_ta": (
        [("x", (777, 1000)), ("w", (777, 999))],
        "matmul_ta",
        "x.T @ w",
    ),
    "matmul_tf32_1000x999x777_tb": (
        [("x", (1000, 777)), ("w", (999, 777))],
        "matmul_tb",
        "x @ w.T",
    ),
    "two_layer_forward_64x1000x100x10": (
        [("x", (64, 1000)), ("w1", (1000, 100)), ("b1", (100,)), ("w2", (100, 10))],
        "two_layer",
        "torch.tanh((torch.relu(x @ w1 + b1) @ w2) * 0.5)",
    ),
}


# Benchmarks compiled with TF32 tensor cores, timed against PyTorch with TF32 on, checked with
# TF32's tolerance.
TF32_BENCHMARKS = (
    "matmul_4096_tf32",
    "matmul_4096_tf32_8warps",
    "matmul_4096_tf32_2stages",
    "matmul_4096_tf32_bk8_4stages",
    "matmul_4096_tf32_bk16_3stages",
    "matmul_4096_tf32_bk16_4stages",
    "matmul_4096_tf32_bk32_4stages",
    "matmul_4096_tf32_128x256",
    "matmul_tf32_1000x999x777_ta",
    "matmul_tf32_1000x999x777_tb",
)


# The TF32 kernel with other tiles than tgc's default (tgc/lowering/nvptx/mma_kernel.py MmaTiles:
# 4 warps of 64x64 per 128x128 block, K steps of 32 in 3 stages of dynamic shared memory, 96 KiB),
# to compare on the GPU. ptxas sm_90 and the 4096 NN K loop's SASS (benchmarks/mma_sass.py) of each,
# as registers / shared bytes / loop instructions per HMMA; all without spills or bank conflicts:
# default 248 / 96 KiB / 2.0 (two blocks an SM);
# bk16_3stages, the 48 KiB static default before dynamic shared memory: 242 / 48 KiB / 2.8;
# bk16_4stages: 238 / 64 KiB / 2.6 (three K tiles in flight; a power-of-two stage count);
# bk32_4stages: 246 / 128 KiB / 2.4 (one block an SM: what a deeper pipeline buys against that);
# 128x256 (8 warps of 64x64, BK 32, 3 stages): 244 / 144 KiB / 2.3 (one block of 8 warps an SM:
# B's fragments shared by twice the warps, half the blocks);
# 8warps (64x32 warp tiles), 2stages and bk8_4stages at BK 16 as before (8warps: 126 / 48 KiB /
# 3.2; 2stages: what the third stage buys; bk8_4stages: three K tiles of 8 in flight).
TILE_VARIANTS = {
    "matmul_4096_tf32_8warps": "MmaTiles(bk=16, warps_m=2, warps_n=4)",
    "matmul_4096_tf32_2stages": "MmaTiles(bk=16, stages=2)",
    "matmul_4096_tf32_bk8_4stages": "MmaTiles(bk=8, stages=4)",
    "matmul_4096_tf32_bk16_3stages": "MmaTiles(bk=16, stages=3)",
    "matmul_4096_tf32_bk16_4stages": "MmaTiles(bk=16, stages=4)",
    "matmul_4096_tf32_bk32_4stages": "MmaTiles(bk=32, stages=4)",
    "matmul_4096_tf32_128x256": "MmaTiles(bn=256, warps_n=4, bk=32, stages=3)",
}


# ---- prepare (here) ------------------------------------------------------------------------------


def _tensor(shape) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}f32>"


def _benchmark_mlir(kind: str, inputs: list) -> str:
    """The tgc-dialect @main of a benchmark."""
    args = ", ".join(f"%{n}: {_tensor(s)}" for n, s in inputs)
    names = ", ".join(f'"{n}"' for n, _ in inputs)
    if kind.startswith("matmul"):
        x_shape, w_shape = inputs[0][1], inputs[1][1]
        out_shape = (
            x_shape[1] if kind == "matmul_ta" else x_shape[0],
            w_shape[0] if kind == "matmul_tb" else w_shape[1],
        )
    elif kind == "two_layer":
        out_shape = (inputs[0][1][0], inputs[3][1][1])
    elif kind == "sum":
        out_shape = ()
    else:
        out_shape = inputs[0][1]
    t, o = _tensor(inputs[0][1]), _tensor(out_shape)
    if kind == "add":
        body = f'%r = "tgc.add"(%x, %y) : ({t}, {t}) -> {t}'
    elif kind == "exp":
        body = f'%r = "tgc.exp"(%x) : ({t}) -> {t}'
    elif kind == "sum":
        axes = ", ".join(str(a) for a in range(len(inputs[0][1])))
        body = (
            f'%r = "tgc.reduce_sum"(%x) {{axes = array<i64: {axes}>, keepdims = false}} '
            f": ({t}) -> {o}"
        )
    elif kind == "dense_relu":
        b = _tensor(inputs[2][1])
        body = (
            f'%m = "tgc.multiply"(%x, %w) : ({t}, {t}) -> {t}\n'
            f'  %a = "tgc.add"(%m, %b) : ({t}, {b}) -> {t}\n'
            f'  %r = "tgc.relu"(%a) : ({t}) -> {t}'
        )
    elif kind.startswith("matmul"):
        w = _tensor(inputs[1][1])
        flags = (
            f"transpose_a = {str(kind == 'matmul_ta').lower()}, "
            f"transpose_b = {str(kind == 'matmul_tb').lower()}"
        )
        body = f'%r = "tgc.matmul"(%x, %w) {{{flags}}} : ({t}, {w}) -> {o}'
    else:  # two_layer: tanh((relu(x @ w1 + b1) @ w2) * 0.5)
        (_, xs), (_, w1s), (_, b1s), (_, w2s) = inputs
        h = _tensor((xs[0], w1s[1]))
        half = "tensor<f32>"
        body = (
            f'%h = "tgc.matmul"(%x, %w1) {{transpose_a = false, transpose_b = false}} '
            f": ({t}, {_tensor(w1s)}) -> {h}\n"
            f'  %hb = "tgc.add"(%h, %b1) : ({h}, {_tensor(b1s)}) -> {h}\n'
            f'  %hr = "tgc.relu"(%hb) : ({h}) -> {h}\n'
            f'  %s = "tgc.matmul"(%hr, %w2) {{transpose_a = false, transpose_b = false}} '
            f": ({h}, {_tensor(w2s)}) -> {o}\n"
            f'  %c = "tgc.constant"() {{value = dense<0.5> : {half}}} : () -> {half}\n'
            f'  %sc = "tgc.multiply"(%s, %c) : ({o}, {half}) -> {o}\n'
            f'  %r = "tgc.tanh"(%sc) : ({o}) -> {o}'
        )
    return (
        f"func.func @main({args}) -> {o} attributes {{tgc.feed_names = [{names}], "
        f'tgc.fetch_names = ["y"]}} {{\n  {body}\n  return %r : {o}\n}}\n'
    )


def _compile(source: str, artifact: str, args=(), target: str = "nvptx") -> str | None:
    """Compiles ``source`` for ``target`` into ``artifact``; None, or tgc's error line."""
    cli = [sys.executable, "-m", "tgc.tools.cli"]
    return _run_compile(cli, source, artifact, ["--target", target, *args])


def _run_compile(cli: list, source: str, artifact: str, args: list) -> str | None:
    """Runs ``cli compile source args -o artifact``; None, or its last error line."""
    result = subprocess.run(
        [*cli, "compile", source, *args, "-o", artifact], capture_output=True, text=True
    )
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {result.returncode}"


def _compile_with_tiles(source: str, artifact: str, tiles: str, args=()) -> str | None:
    """``_compile`` with the tensor-core matmul's tiles replaced by ``tiles`` (a MmaTiles
    expression), in a process of its own."""
    code = (
        "import sys; import tgc.lowering.nvptx.mma_matmul as m; "
        f"m.DEFAULT_TILES = m.{tiles}; "
        "from tgc.tools.cli import main; main(sys.argv[1:])"
    )
    return _run_compile(
        [sys.executable, "-c", code], source, artifact, ["--target", "nvptx", *args]
    )


def _op_cases() -> list:
    """(case name, op name, operands, attrs, float64 result, module text) per sample of each op
    the nvptx target lists."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
    import registry_harness as harness
    from mlir import ir

    from tgc.dialect import targets
    from tgc.dialect.context import make_context
    from tgc.dialect.registry import REGISTRY

    supported = targets.get("nvptx").supported_ops()
    cases = []
    for name in sorted(supported):
        opdef = REGISTRY.get(name)
        if opdef is None or harness.skip_reason(opdef) is not None:
            continue
        for index, sample in enumerate(opdef.samples):
            arrays = harness.draw_operands(sample, harness.rng_for(name, index))
            attrs = harness.sample_attrs(opdef, sample)
            # The op in float64 too: how far the sample's dtype itself rounds sets the tolerance.
            arrays64 = harness.draw_operands(sample, harness.rng_for(name, index), float64=True)
            want64 = opdef.evaluate(arrays64, harness.sample_attrs(opdef, sample, float64=True))
            specs = harness.operand_specs(arrays)
            with make_context(), ir.Location.unknown():
                module = ir.Module.create()
                harness.build_main(
                    module, specs, lambda b, args: harness._as_list(b.op(name, *args, **attrs))
                )
                text = str(module)
            cases.append((f"{name}.{index}", name, arrays, attrs, want64, text))
    return cases


def prepare(directory: str, random_graphs: int) -> None:
    from tgc.dialect.registry import REGISTRY

    cases_dir = os.path.join(directory, "cases")
    shutil.rmtree(cases_dir, ignore_errors=True)
    os.makedirs(cases_dir)
    _copy_runtime(directory)
    _vendor_jsonschema(directory)
    index = {"checks": [], "benchmarks": []}
    for case, op, arrays, attrs, want64, text in _op_cases():
        folder = os.path.join(cases_dir, case)
        os.makedirs(folder)
        source = os.path.join(folder, "model.mlir")
        with open(source, "w") as fh:
            fh.write(text)
        entry = {
            "name": case,
            "op": op,
            "error": _compile(source, os.path.join(folder, "artifact")),
        }
        if entry["error"] is None:
            want = REGISTRY[op].evaluate([a.copy() for a in arrays], attrs)
            expected = {}
            for i, (w, w64) in enumerate(zip(want, want64)):
                w, w64 = np.asarray(w), np.asarray(w64)
                expected[f"want/{i}"] = w
                if w.dtype.kind == "f":
                    expected[f"want64/{i}"] = w64
            np.savez(os.path.join(folder, "inputs.npz"), *arrays)
            np.savez(os.path.join(folder, "expected.npz"), **expected)
        index["checks"].append(entry)
        print(f"{case:40s} {'compiled' if entry['error'] is None else entry['error']}", flush=True)
    index["random_graphs"] = _random_graph_cases(cases_dir, random_graphs)
    index["training"] = gpu_check_training.prepare(cases_dir, _compile)
    for name, (inputs, kind, expression) in BENCHMARKS.items():
        folder = os.path.join(cases_dir, name)
        os.makedirs(folder)
        source = os.path.join(folder, "model.mlir")
        with open(source, "w") as fh:
            fh.write(_benchmark_mlir(kind, inputs))
        tf32 = name in TF32_BENCHMARKS
        args = ["--allow-tf32"] if tf32 else []
        artifact = os.path.join(folder, "artifact")
        if name in TILE_VARIANTS:
            error = _compile_with_tiles(source, artifact, TILE_VARIANTS[name], args)
        else:
            error = _compile(source, artifact, args)
        index["benchmarks"].append(
            {
                "name": name,
                "inputs": [[n, list(s)] for n, s in inputs],
                "torch": expression,
                "tf32": tf32,
                "error": error,
            }
        )
        print(f"{name:40s} {'compiled' if error is None else error}", flush=True)
    with open(os.path.join(directory, "cases.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    every = index["checks"] + index["random_graphs"] + index["training"] + index["benchmarks"]
    compiled, total = sum(e["error"] is None for e in every), len(every)
    print(f"prepared {compiled} of {total} cases in {directory}")


def _random_graph_cases(cases_dir: str, count: int) -> list:
    """Graphs of the random-graph suite (tests/conformance) drawn from the ops the nvptx target
    lists, forward values only: their inputs, and numpy's values in float64 with the rounding the
    graph's dtype adds (the suite's forward tolerance is made of both)."""
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import tgc as tf
    from conformance import checks, reference
    from conformance.generator import RandomChooser, catalogue, draw_graph

    from tgc.dialect import targets
    from tgc.driver.signature import short_name
    from tgc.frontend.export import export_graph

    supported = targets.get("nvptx").supported_ops()
    entries = {name: e for name, e in catalogue().items() if name in supported}
    entries_out = []
    for seed in range(count):
        spec = draw_graph(RandomChooser(seed), seed=seed, entries=entries, variant="artifact")
        name = f"graph.{seed}"
        folder = os.path.join(cases_dir, name)
        os.makedirs(folder)
        graph = tf.Graph()
        with graph.as_default():
            inputs, feeds = checks.make_inputs(spec)
            values = checks.build_values(spec, inputs)
            fetches = checks._unique([values[f] for f in spec.fetches])
            source = os.path.join(folder, "model.mlir")
            # Every feed at its drawn shape: the nvptx target compiles static shapes only.
            shapes = [(short_name(t), list(a.shape), spec.dtype) for t, a in feeds.items()]
            export_graph(fetches, shapes or None, path=source)
            fetch_ids = {values[f].name: f for f in spec.fetches}
            names = {short_name(t): fetch_ids[t.name] for t in fetches}
            feed_arrays = {short_name(t): a for t, a in feeds.items()}
        entry = {"name": name, "dtype": spec.dtype, "ops": sorted(spec.ops())}
        entry["error"] = _compile(source, os.path.join(folder, "artifact"))
        if entry["error"] is None:
            want = reference.evaluate(spec, spec.dtype)
            want64 = reference.evaluate(spec, "float64")
            expected = {}
            for fetch, value_id in names.items():
                expected[f"want64/{fetch}"] = np.asarray(want64[value_id])
                rounding = np.abs(np.asarray(want[value_id], np.float64) - want64[value_id])
                if np.asarray(want64[value_id]).dtype.kind == "f":
                    expected[f"rounding/{fetch}"] = rounding
            np.savez(os.path.join(folder, "inputs.npz"), **feed_arrays)
            np.savez(os.path.join(folder, "expected.npz"), **expected)
        entries_out.append(entry)
        print(f"{name:40s} {'compiled' if entry['error'] is None else entry['error']}", flush=True)
    return entries_out


def _copy_runtime(directory: str) -> None:
    """tgc/runtime (sources and schemas, no built extension) under an empty tgc package."""
    package = os.path.join(directory, "python", "tgc")
    shutil.rmtree(package, ignore_errors=True)
    shutil.copytree(
        os.path.join(ROOT, "tgc", "runtime"),
        os.path.join(package, "runtime"),
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"),
    )
    with open(os.path.join(package, "__init__.py"), "w") as fh:
        fh.write('"""tgc\'s runtime alone, copied by benchmarks/gpu_check.py prepare."""\n')


def _vendor_jsonschema(directory: str) -> None:
    """jsonschema (the runtime checks manifests with it) for the GPU machine's Python 3.12, in
    DIR/pydeps: that machine has no package registry. gpu_check.sh uses it only when that
    machine's Python has no jsonschema of its own."""
    import zipfile

    wheels, target = os.path.join(directory, "wheels"), os.path.join(directory, "pydeps")
    if os.path.isdir(target):
        return
    from importlib.metadata import version

    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
    command += ["--python-version", "3.12", "--implementation", "cp", "--platform"]
    command += ["manylinux_2_17_x86_64", "-d", wheels, f"jsonschema=={version('jsonschema')}"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"jsonschema for Python 3.12 not vendored: {result.stderr.strip()[-300:]}")
        return
    for wheel in os.listdir(wheels):
        with zipfile.ZipFile(os.path.join(wheels, wheel)) as archive:
            archive.extractall(target)
    shutil.rmtree(wheels)


# ---- run (on the GPU machine) --------------------------------------------------------------------


def _median_seconds(fn, sync, budget=1.0, least=3, most=50) -> float:
    """Median wall time of ``fn()`` (``sync()`` after each), after one warm-up call."""
    fn()
    sync()
    times, start = [], time.perf_counter()
    while len(times) < least or (len(times) < most and time.perf_counter() - start < budget):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _read_only(directory: str, entries: list, load, reason: str) -> list:
    """Each case loaded without a GPU: "not run" with ``reason``, or why it cannot even be read."""
    rows = []
    for entry in entries:
        row = {"name": entry["name"], "status": "not run", "reason": reason}
        if entry["error"] is not None:
            row["reason"] = f"not compiled: {entry['error']}"
        else:
            try:
                load(os.path.join(directory, "cases", entry["name"], "artifact"), device=None)
            except Exception as exc:  # noqa: BLE001 - reported per case
                row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        rows.append(row)
    return rows


def _run_checks(directory: str, entries: list, load) -> list:
    rows = []
    for entry in entries:
        row = {"name": entry["name"], "op": entry["op"]}
        if entry["error"] is not None:
            rows.append(dict(row, status="not run", reason=f"not compiled: {entry['error']}"))
            continue
        folder = os.path.join(directory, "cases", entry["name"])
        try:
            art = load(os.path.join(folder, "artifact"))
            with np.load(os.path.join(folder, "inputs.npz")) as data:
                arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
            with np.load(os.path.join(folder, "expected.npz")) as data:
                expected = {name: data[name] for name in data.files}
            got = list(art(*arrays).values())
            art.close()
            row.update(_compare(got, expected))
        except Exception as exc:  # noqa: BLE001 - one failed case must not stop the others
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(f"{row['name']:40s} {row['status']} {row.get('reason', '')}", flush=True)
    return rows


def forward_tolerance(dtype: str, want64: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """The random-graph suite's allowed |got - want| (tests/conformance/checks.py): the dtype's
    rounding plus ten times the error numpy itself makes in that dtype."""
    scale = 1.0 + (np.abs(want64).max() if want64.size else 0.0)
    if dtype == "float32":
        return 1e-4 * np.abs(want64) + 1e-5 * scale + 10 * rounding
    return 1e-9 * np.abs(want64) + 1e-10 * scale + 10 * rounding


def _run_random_graphs(directory: str, entries: list, load) -> list:
    rows = []
    for entry in entries:
        row = {"name": entry["name"], "ops": " ".join(entry["ops"])}
        if entry["error"] is not None:
            rows.append(dict(row, status="not run", reason=f"not compiled: {entry['error']}"))
            continue
        folder = os.path.join(directory, "cases", entry["name"])
        try:
            art = load(os.path.join(folder, "artifact"))
            with np.load(os.path.join(folder, "inputs.npz")) as data:
                feeds = {name: data[name] for name in data.files}
            with np.load(os.path.join(folder, "expected.npz")) as data:
                expected = {name: data[name] for name in data.files}
            got = art(**feeds)
            art.close()
            row.update(_compare_graph(got, expected, entry["dtype"]))
        except Exception as exc:  # noqa: BLE001 - one failed case must not stop the others
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(f"{row['name']:40s} {row['status']} {row.get('reason', '')}", flush=True)
    return rows


def _compare_graph(got: dict, expected: dict, dtype: str) -> dict:
    for key, want64 in expected.items():
        kind, _, fetch = key.partition("/")
        if kind != "want64":
            continue
        value = np.asarray(got[fetch])
        if value.shape != want64.shape:
            return {"status": "fail", "reason": f"{fetch}: shape {list(value.shape)}"}
        if want64.dtype.kind != "f":
            if not np.array_equal(value, want64):
                return {"status": "fail", "reason": f"{fetch}: values differ"}
            continue
        allowed = forward_tolerance(dtype, want64, expected[f"rounding/{fetch}"])
        bad = ~(np.abs(value.astype(np.float64) - want64) <= allowed)
        if bad.any():
            return {"status": "fail", "reason": f"{fetch}: {int(bad.sum())} of {bad.size} differ"}
    return {"status": "pass"}


def _compare(got: list, expected: dict) -> dict:
    """The op's results against numpy's: exact for integers and bools, the random-graph suite's
    forward tolerance for floats."""
    wanted = sorted(int(key.split("/")[1]) for key in expected if key.startswith("want/"))
    if len(got) != len(wanted):
        return {"status": "fail", "reason": f"{len(got)} results, expected {len(wanted)}"}
    worst = 0.0
    for i, value in zip(wanted, got):
        want = expected[f"want/{i}"]
        if value.shape != want.shape:
            return {"status": "fail", "reason": f"result {i}: shape {list(value.shape)}"}
        if want.dtype.kind != "f":
            if value.dtype != want.dtype or not np.array_equal(value, want):
                return {"status": "fail", "reason": f"result {i}: {value.dtype} values differ"}
            continue
        want64 = expected[f"want64/{i}"]
        rounding = np.abs(want.astype(np.float64) - want64)
        error = np.abs(value.astype(np.float64) - want64)
        bad = ~(error <= forward_tolerance(want.dtype.name, want64, rounding))
        bad &= ~(np.isnan(value) & np.isnan(want64))
        if bad.any():
            return {
                "status": "fail",
                "reason": f"result {i}: {int(bad.sum())} of {bad.size} differ (max abs error "
                f"{float(np.nanmax(error)):.3g})",
            }
        if error.size:
            worst = max(worst, float(np.nanmax(error, initial=0.0)))
    return {"status": "pass", "max_abs_error": worst}


def _run_benchmarks(directory: str, entries: list, load, compile_budget: float) -> list:
    import torch

    torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize
    rows, compile_left = [], compile_budget
    for entry in entries:
        row = {"name": entry["name"], "torch": entry["torch"]}
        # The float32 bar: cuBLAS without TF32; TF32 benchmarks: cuBLAS with it, as tgc.
        tf32 = entry.get("tf32", False)
        torch.backends.cuda.matmul.allow_tf32 = tf32
        if entry["error"] is not None:
            rows.append(dict(row, status="not run", reason=f"not compiled: {entry['error']}"))
            continue
        rng = np.random.default_rng(0)
        feeds = {n: rng.uniform(-1, 1, size=s).astype(np.float32) for n, s in entry["inputs"]}
        try:
            art = load(os.path.join(directory, "cases", entry["name"], "artifact"))
            got = next(iter(art(**feeds).values()))
            exact = _torch_eval(
                entry["torch"], {n: torch.from_numpy(a).cuda().double() for n, a in feeds.items()}
            )
            reference = exact.cpu().numpy()
            error = float(np.max(np.abs(got - reference)) / max(np.max(np.abs(reference)), 1e-30))
            row["max_rel_error"] = error
            row["status"] = "pass" if error <= (TF32_RTOL if tf32 else BENCH_RTOL) else "fail"
            row["tgc_host_ms"] = 1e3 * _median_seconds(lambda: art(**feeds), sync)
            row["tgc_device_ms"] = 1e3 * _median_seconds(_on_device(art, feeds), sync)
            art.close()
            on_gpu = {n: torch.from_numpy(a).cuda() for n, a in feeds.items()}

            def eager_host():
                inputs = {n: torch.from_numpy(a).cuda() for n, a in feeds.items()}
                return _torch_eval(entry["torch"], inputs).cpu()

            row["torch_eager_host_ms"] = 1e3 * _median_seconds(eager_host, sync)
            row["torch_eager_device_ms"] = 1e3 * _median_seconds(
                lambda: _torch_eval(entry["torch"], on_gpu), sync
            )
            row["torch_compile_device_ms"], compile_left = _torch_compile_time(
                entry["torch"], on_gpu, sync, compile_left
            )
        except Exception as exc:  # noqa: BLE001 - one failed case must not stop the others
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _on_device(art, feeds: dict):
    """A call of the artifact's launch plan on inputs already on the GPU whose outputs stay
    there: its kernels' time, without the copies to and from the host."""
    from tgc.runtime.device_array import DeviceArray
    from tgc.runtime.launch_plan import LaunchPlan

    device, function = art.device, art.launch_plan
    plan = LaunchPlan(function, device, resident_outputs=range(function["results"]))
    inputs = []
    for info in art.signature.inputs:
        array = np.ascontiguousarray(feeds[info.name], info.dtype)
        pointer = device.alloc(array.nbytes)
        device.copy_in(pointer, array)
        inputs.append(
            DeviceArray(device, pointer, array.shape, array.dtype, array.dtype, device.free)
        )
    return lambda: plan(*inputs)


def _torch_eval(expression: str, tensors: dict):
    import torch

    return eval(expression, {"torch": torch}, dict(tensors))  # noqa: S307 - our own table


def _torch_compile_time(expression: str, tensors: dict, sync, budget_left: float):
    """(median ms or the reason it was not run, budget left)."""
    import torch

    if budget_left <= 0:
        return "not run: torch.compile time budget spent", budget_left
    names = list(tensors)
    source = f"lambda {', '.join(names)}: {expression}"
    fn = eval(source, {"torch": torch})  # noqa: S307 - our own table
    start = time.perf_counter()
    try:
        compiled = torch.compile(fn)
        compiled(*tensors.values())
        sync()
    except Exception as exc:  # noqa: BLE001 - no triton or no C compiler: say so
        message = " ".join(str(exc).split())[:160]
        return f"not run: torch.compile failed ({type(exc).__name__}: {message})", 0.0
    spent = time.perf_counter() - start
    median = _median_seconds(lambda: compiled(*tensors.values()), sync)
    return 1e3 * median, budget_left - spent


def _hold_primary_context() -> None:
    """PyTorch retains GPU 0's primary context for the whole run, so the context each artifact
    retains and releases is not destroyed and made again per case."""
    try:
        import torch

        torch.cuda.init()
    except Exception as exc:  # noqa: BLE001 - only slower without it
        print(f"PyTorch does not hold the CUDA context ({type(exc).__name__}: {exc})")


def _machine() -> dict:
    import tgc.runtime

    info = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tgc_runtime": os.path.dirname(tgc.runtime.__file__),
    }
    try:
        import torch

        info.update(torch=torch.__version__, gpu=torch.cuda.get_device_name(0))
    except Exception as exc:  # noqa: BLE001 - the report says what is missing
        info["torch"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        from cuda import bindings

        info["cuda_bindings"] = getattr(bindings, "__version__", "installed")
    except ImportError:
        info["cuda_bindings"] = "not installed"
    return info


def run(directory: str, out: str, compile_budget: float) -> int:
    from tgc.runtime import load
    from tgc.runtime.cuda_device import cuda_status

    with open(os.path.join(directory, "cases.json")) as fh:
        index = json.load(fh)
    report = {"machine": _machine(), "cuda_status": cuda_status() or "usable"}
    not_run = [
        "random-graph suite: only the graphs drawn at prepare time, forward values only (gradients "
        "and the suite's other variants need MLIR on this machine)",
        "lecture programs: their SGD steps only (the examples' Adam and dropout are not prepared)",
        "bf16 tensor-core GEMM: tgc has no bfloat16 tensors on the nvptx target (TF32 only)",
    ]
    if cuda_status() is not None:
        # The artifacts are still read and checked (without a GPU) so that a bad preparation shows.
        report["checks"] = _read_only(directory, index["checks"], load, cuda_status())
        report["random_graphs"] = _read_only(directory, index["random_graphs"], load, cuda_status())
        report["training"] = _read_only(directory, index["training"], load, cuda_status())
        report["benchmarks"] = _read_only(directory, index["benchmarks"], load, cuda_status())
    else:
        _hold_primary_context()
        report["checks"] = _run_checks(directory, index["checks"], load)
        _save_partial(out, report)
        report["random_graphs"] = _run_random_graphs(directory, index["random_graphs"], load)
        _save_partial(out, report)
        # torch.compile's compile time is shared out: half to the training steps, half to the rest.
        report["training"] = gpu_check_training.run(
            directory, index["training"], load, _median_seconds, compile_budget / 2
        )
        _save_partial(out, report)
        report["benchmarks"] = _run_benchmarks(
            directory, index["benchmarks"], load, compile_budget / 2
        )
    report["not_run"] = not_run
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_check.json"), "w") as fh:
        json.dump(report, fh, indent=1)
    with open(os.path.join(out, "gpu_check.md"), "w") as fh:
        fh.write(markdown(report))
    print(markdown(report))
    rows = report["checks"] + report["random_graphs"] + report["training"] + report["benchmarks"]
    failed = [r for r in rows if r["status"] in ("fail", "error")]
    return 1 if failed or cuda_status() is not None else 0


def _save_partial(out: str, report: dict) -> None:
    """The sections done so far, so that a run cut off by its time limit still reports them."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "gpu_check.partial.json"), "w") as fh:
        json.dump(report, fh, indent=1)


def _ms(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value or "")


def _ratio(row: dict) -> str:
    tgc, torch = row.get("tgc_device_ms"), row.get("torch_eager_device_ms")
    return f"{tgc / torch:.2f}" if isinstance(tgc, float) and isinstance(torch, float) else ""


def markdown(report: dict) -> str:
    machine = report["machine"]
    lines = [
        "# nvptx on a GPU (benchmarks/gpu_check.py)",
        "",
        f"GPU: {machine.get('gpu', '?')}; torch {machine.get('torch')}; cuda-bindings "
        f"{machine.get('cuda_bindings')}; Python {machine['python']}; CUDA: "
        f"{report['cuda_status']}",
        "",
    ]
    for title, key in (
        ("Registry op checks against numpy", "checks"),
        ("Random graphs (forward) against numpy, the suite's tolerance", "random_graphs"),
    ):
        rows = report[key]
        counts = {
            s: sum(r["status"] == s for r in rows) for s in ("pass", "fail", "error", "not run")
        }
        lines += [
            f"## {title}: {counts['pass']} pass, {counts['fail']} fail, {counts['error']} error, "
            f"{counts['not run']} not run",
            "",
            "| case | status | detail |",
            "|---|---|---|",
        ]
        for row in rows:
            detail = row.get("reason") or (
                f"max abs error {row['max_abs_error']:.3g}" if "max_abs_error" in row else ""
            )
            ops = f" ({row['ops']})" if row.get("ops") else ""
            lines.append(f"| {row['name']}{ops} | {row['status']} | {detail} |")
        lines.append("")
    lines += [
        f"## Lecture programs: {gpu_check_training.STEPS} SGD steps against the CPU target's",
        "",
        "Losses per step within a relative "
        f"{gpu_check_training.LOSS_RTOL:g} of the CPU's; step times are medians in ms (tgc: "
        "feeds in, loss out; PyTorch: tensors on the GPU, same initial values).",
        "",
        "| program | status | first / last loss (torch's first) | max rel. loss error | "
        "tgc step | torch eager step | torch.compile step |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["training"]:
        losses = f"{row['first_loss']:.4f} / {row['last_loss']:.4f}" if "last_loss" in row else ""
        if "torch_first_loss" in row:
            losses += f" ({row['torch_first_loss']:.4f})"
        error = row.get("max_rel_loss_error")
        lines.append(
            f"| {row['name']} | {row['status']}{': ' + row['reason'] if 'reason' in row else ''} "
            f"| {losses} | {'' if error is None else f'{error:.2e}'} | "
            f"{_ms(row.get('tgc_step_host_ms'))} | {_ms(row.get('torch_eager_step_ms'))} | "
            f"{_ms(row.get('torch_compile_step_ms'))} |"
        )
    lines += ["", *gpu_check_training.profile_markdown(report["training"])]
    lines += [
        "",
        "## Timings (median ms; TF32 off but in the *tf32* benchmarks, tgc's and PyTorch's)",
        "",
        "host: numpy arrays in and out (tgc: `art(**feeds)`; PyTorch: the same transfers around "
        "eager PyTorch). device: inputs already on the GPU and outputs left there (tgc: the "
        "artifact's launch plan on DeviceArrays).",
        "",
        "| benchmark | status | rel. error vs torch f64 | tgc host | torch eager host | "
        "tgc device | torch eager device (cuBLAS for matmuls) | tgc / torch eager device | "
        "torch.compile device |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["benchmarks"]:
        error = row.get("max_rel_error")
        lines.append(
            f"| {row['name']} | {row['status']}{': ' + row['reason'] if 'reason' in row else ''} "
            f"| {'' if error is None else f'{error:.2e}'} | {_ms(row.get('tgc_host_ms'))} | "
            f"{_ms(row.get('torch_eager_host_ms'))} | {_ms(row.get('tgc_device_ms'))} | "
            f"{_ms(row.get('torch_eager_device_ms'))} | {_ratio(row)} | "
            f"{_ms(row.get('torch_compile_device_ms'))} |"
        )
    lines += ["", "## Not run", ""] + [f"- {item}" for item in report["not_run"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["prepare", "run"])
    parser.add_argument("directory")
    parser.add_argument("out", nargs="?", default=None)
    parser.add_argument(
        "--compile-budget",
        type=float,
        default=120.0,
        help="seconds torch.compile may spend compiling, over all training steps and benchmarks",
    )
    parser.add_argument(
        "--random-graphs", type=int, default=60, help="graphs of the random-graph suite to prepare"
    )
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.directory)
    if args.mode == "prepare":
        prepare(directory, args.random_graphs)
        return 0
    out = args.out or os.environ.get("OUT") or os.path.join(directory, "results")
    try:
        return run(directory, out, args.compile_budget)
    except Exception:  # noqa: BLE001 - the log of a GPU run must show where it stopped
        traceback.print_exc()
        return 2


if __name__ == "__main__":
    sys.exit(main())
