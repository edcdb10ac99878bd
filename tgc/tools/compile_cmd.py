"""``tgc compile``, ``tgc run`` and ``tgc inspect``: ahead-of-time compilation from the command
line.

``tgc compile INPUT`` takes a tgc-dialect ``.mlir`` file (as `tgc.export_graph` writes) or a Python
program, which is run (as ``__main__``) for its default graph; ``--fetch``/``--feed`` choose the run
signature as tfcompile's config does. ``--emit`` stops at any stage of tgc/driver/aot.py and prints
it (text stages) or writes it (``-o``). ``tgc run`` calls an artifact through
tgc/runtime/artifact.py (no MLIR), ``tgc inspect`` prints its signature. Every user error is one
line on stderr, exit 1.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import tarfile
import tempfile

import click
import numpy as np

from tgc.driver import aot
from tgc.driver.errors import error_text, one_line
from tgc.tools.common import Source, parse_feed, parse_module, print_timing


def fail(where: str, message: str) -> None:
    click.echo(f"{where}: error: {message}", err=True)
    sys.exit(1)


# ---- compile -------------------------------------------------------------------------------------


def graph_module(program: str, fetches: tuple, feeds: tuple):
    """Runs the program, selects the signature and computes initial values; returns a function that
    emits the tgc module (inside the caller's MLIR context)."""
    import tgc
    from tgc.driver.export import emit_module
    from tgc.driver.signature import select
    from tgc.frontend.export import initial_values

    if not fetches:
        raise aot.AotError("a Python input needs at least one --fetch NAME")
    tgc.reset_default_graph()
    argv = sys.argv
    try:
        sys.argv = [program]
        with contextlib.redirect_stdout(
            sys.stderr
        ):  # the program's prints must not mix with --emit text
            runpy.run_path(program, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise aot.AotError(f"running {program} exited with status {exc.code}") from None
    except Exception as exc:  # noqa: BLE001 - the user's program failed: one line, no traceback
        raise aot.AotError(f"running {program} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.argv = argv
    graph = tgc.get_default_graph()
    run = select(list(fetches), [parse_feed(f) for f in feeds] if feeds else None, graph)
    values = initial_values(run.variables, graph)
    return lambda: emit_module(run, values)


def mlir_module(path: str):
    from tgc.passes.pipeline import announce
    from tgc.passes.verify import VerifyPass

    with open(path, encoding="utf-8") as fh:
        text = fh.read()

    def build():
        announce("parsing the input")
        module = parse_module(Source(path, text, text.splitlines(True)))
        announce("verifying the input (tgc-verify)")
        VerifyPass().run(module)
        return module

    return build


def compile_input(input_path: str, fetches: tuple, feeds: tuple, stop: str, options: aot.Options):
    from mlir import ir

    from tgc.dialect.context import make_context

    if input_path.endswith(".py"):
        build = graph_module(input_path, fetches, feeds)
    else:
        if fetches or feeds:
            raise aot.AotError(
                "--fetch/--feed choose a signature in a Python program; a .mlir input has one"
            )
        build = mlir_module(input_path)
    with make_context(), ir.Location.unknown():
        return aot.lower_module(build(), stop, options)


def _errors():
    from mlir import ir

    from tgc import errors
    from tgc.driver.signature import ExportError
    from tgc.passes.base import PassFailure

    return (
        aot.AotError,
        ExportError,
        ValueError,
        OSError,
        UnicodeDecodeError,
        errors.OpError,
        errors.CompileError if hasattr(errors, "CompileError") else aot.AotError,
        PassFailure,
        ir.MLIRError,
    )


@click.command("compile")
@click.argument("input_path", metavar="INPUT")
@click.option(
    "-o",
    "output",
    default=None,
    help="Output file, or the artifact directory (.tar.gz: one archive).",
)
@click.option(
    "--emit",
    "stage",
    default=None,
    metavar="STAGE",
    help="The stage to stop at and print or write: tgc, core, then the target's own "
    "(cpu: llvm-dialect, llvm-ir, asm, obj, so, header, artifact); default: the target's last.",
)
@click.option("--fetch", "fetches", multiple=True, help="A tensor or op to compute (Python input).")
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="NAME[:SHAPE[:DTYPE]]",
    help="A fed tensor, e.g. x:?x784:float32 (Python input; default: the placeholders needed).",
)
@click.option(
    "--target",
    default="cpu",
    show_default=True,
    metavar="NAME",
    help="The target to compile for, by its name in the target registry.",
)
@click.option(
    "--target-triple", default=None, help="e.g. aarch64-unknown-linux-gnu (default: the host)."
)
@click.option("--target-cpu", default=None, help="e.g. znver3, neoverse-v1 (default: the host's).")
@click.option(
    "-O", "opt_level", type=click.IntRange(0, 3), default=3, show_default=True, help="-O0 .. -O3"
)
@click.option(
    "--name",
    default="model",
    show_default=True,
    help="C prefix: NAME_run in NAME.h, library libNAME.so.",
)
@click.option(
    "--blas",
    is_flag=True,
    help="Matmuls call numpy's OpenBLAS (the library then needs it); without it they call "
    "tgc's generated GEMM.",
)
@click.option(
    "--variables-in-place/--variables-read-only",
    default=None,
    help="cpu: the entry point updates each variable it reads and assigns in the caller's array "
    "and returns it, as a Session does (the default; the variables' buffers must be writable), "
    "or, read-only, writes each new value to a buffer of its own and only reads its inputs.",
)
@click.option(
    "--allow-tf32",
    is_flag=True,
    help="nvptx: float32 matmuls on TF32 tensor cores (10-bit mantissa products; "
    "as PyTorch's allow_tf32).",
)
@click.option(
    "--print-pipeline", is_flag=True, help="Print the pipelines that would run, then exit."
)
@click.option("--timing", is_flag=True, help="Report each stage's wall time on stderr.")
def compile_command(
    input_path,
    output,
    stage,
    fetches,
    feeds,
    target,
    target_triple,
    target_cpu,
    opt_level,
    name,
    blas,
    variables_in_place,
    allow_tf32,
    print_pipeline,
    timing,
):
    """Compile INPUT (.mlir in the tgc dialect, or a Python program) ahead of time."""
    where = "tgc compile"
    options = aot.Options(
        aot.Machine(target_triple, target_cpu),
        opt_level,
        name=name,
        blas=blas,
        timing=[] if timing else None,
        target=target,
        allow_tf32=allow_tf32,
        variables_in_place=variables_in_place,
    )
    stage = _check_target_and_stage(where, target, stage)
    try:
        aot.configured_target(options)  # refuses target options the target does not have
    except aot.AotError as exc:
        fail(where, str(exc))
    if print_pipeline:
        _print_pipeline(options)
        return
    if stage in ("obj", "so", "artifact") and output is None:
        fail(where, f"--emit={stage} writes files: give -o PATH")
    from tgc.tools.isolation import ChildCrashed, run_isolated

    try:
        # In a child process: MLIR aborting on the input becomes one error line
        # (tgc/tools/isolation.py).
        run_isolated(lambda: _compile_and_write(input_path, fetches, feeds, stage, output, options))
    except ChildCrashed as crash:
        fail(where, crash.message())


def _compile_and_write(
    input_path, fetches, feeds, stage: str, output, options: aot.Options
) -> None:
    from tgc.passes.pipeline import observe_stages

    steps = []  # what was running when something failed
    try:
        with observe_stages(steps.append):
            lowered = compile_input(input_path, fetches, feeds, stage, options)
            _write_stage(lowered, stage, output, options)
    except _errors() as exc:
        fail("tgc compile", error_text(exc))
    except Exception as exc:  # noqa: BLE001 - a pass met IR it does not handle: one line, no traceback
        step = steps[-1] if steps else "compiling"
        fail(
            "tgc compile",
            f"internal error while {step} (a tgc bug: please report it with this input): "
            f"{type(exc).__name__}: {one_line(exc)}",
        )
    if options.timing is not None:
        print_timing(options.timing, sys.stderr)


def _check_target_and_stage(where: str, target: str, stage: str | None) -> str:
    """The stage to stop at (the target's last when none is given), known to exist."""
    from tgc.dialect import targets

    try:
        known = aot.stages(target)
    except targets.UnknownTargetError as exc:
        fail(where, str(exc))
    stage = stage or known[-1]
    if stage not in known:
        fail(
            where,
            f"--emit: unknown stage '{stage}' for target {target} (stages: {', '.join(known)})",
        )
    return stage


def _print_pipeline(options: aot.Options) -> None:
    from tgc.dialect import targets

    target = targets.get(options.target)
    machine = target.resolve_machine(options.machine)
    click.echo(aot.compile_pipelines(options).spec())
    click.echo(target.code_generation(machine, options))


def _write_stage(lowered, stage: str, output: str | None, options: aot.Options) -> None:
    if stage == "artifact":
        _write_artifact(lowered, options, output)
        return
    data = lowered.stages[stage]
    if output is None or output == "-":
        click.echo(data, nl=not data.endswith("\n"))
        return
    with open(output, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


def _write_artifact(lowered, options: aot.Options, output: str) -> None:
    archive = output.endswith((".tar.gz", ".tgz", ".tar"))
    if not archive:
        aot.write_artifact(lowered, options, output)
        click.echo(f"wrote {output}", err=True)
        return
    os.makedirs(
        os.path.dirname(os.path.abspath(output)), exist_ok=True
    )  # as for an artifact directory
    with tempfile.TemporaryDirectory(prefix="tgc-artifact-") as tmp:
        directory = aot.write_artifact(lowered, options, os.path.join(tmp, "artifact"))
        staging = output + ".tmp"
        with tarfile.open(staging, "w:gz" if output.endswith("gz") else "w") as tar:
            tar.add(directory, arcname="artifact")
        os.replace(staging, output)
    click.echo(f"wrote {output}", err=True)


# ---- run and inspect -----------------------------------------------------------------------------


# What the loader of a format is given so that `tgc inspect` reads an artifact on a machine that
# cannot run it (an nvptx artifact without a GPU).
_INSPECT_ONLY = {"tgc-nvptx-artifact": {"device": None}}


def _load(path: str, inspect_only: bool = False):
    """Loads an artifact with the runtime loader of the target that writes its format."""
    from tgc.dialect import targets
    from tgc.runtime.artifact import ArtifactError
    from tgc.runtime.loaders import artifact_format

    found = artifact_format(path)
    target = targets.for_artifact_format(found)
    if target is None:
        raise ArtifactError(
            f"{path}: artifact format '{found}' is not one that a tgc target writes"
        )
    return target.load_artifact(path, **(_INSPECT_ONLY.get(found, {}) if inspect_only else {}))


def _read_input(spec: str) -> tuple:
    if "=" not in spec:
        raise ValueError(f"bad --input '{spec}': expected NAME=FILE.npy")
    name, path = spec.split("=", 1)
    try:
        return name, np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read input '{name}' from {path}: {exc}") from None


@click.command("run")
@click.argument("artifact", metavar="ARTIFACT")
@click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy", help="An input value.")
@click.option(
    "--output", default=None, help="Write the results to this .npz instead of printing them."
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Call it this many times (a training step trains).",
)
@click.option("--restore", default=None, help="Start from the variables in this checkpoint.")
@click.option("--save", default=None, help="Checkpoint the variables after the last call.")
def run_command(artifact, inputs, output, steps, restore, save):
    """Run a compiled ARTIFACT (directory or archive) on inputs from .npy files."""
    from tgc.errors import OpError
    from tgc.runtime.artifact import ArtifactError

    try:
        art = _load(artifact)
        if restore:
            art.restore(restore)
        feeds = dict(_read_input(s) for s in inputs)
        for _ in range(steps):
            results = art(**feeds)
        if save:
            art.save(save)
        if output:
            np.savez(output, **results)
            return
    except (
        ArtifactError,
        OpError,
        ValueError,
        OSError,
        TypeError,
    ) as exc:  # OpError: a run-time check failed
        fail("tgc run", error_text(exc))
    for name, value in results.items():
        click.echo(f"{name}: {value.dtype.name}{list(value.shape)}")
        click.echo(np.array2string(value, threshold=20, precision=6))


@click.command("inspect")
@click.argument("artifact", metavar="ARTIFACT")
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
@click.option(
    "--trace",
    "trace_dir",
    default=None,
    metavar="DIR",
    help="accel artifacts: write each program's simulated timeline into DIR (Chrome trace JSON: "
    "open it in ui.perfetto.dev or chrome://tracing).",
)
def inspect_command(artifact, as_json, trace_dir):
    """Show an artifact's signature, variables and target (an accel artifact: the cycles and
    utilisation of each program)."""
    from tgc.runtime.artifact import ArtifactError
    from tgc.tools import accel_inspect

    try:
        art = _load(artifact, inspect_only=True)
    except (ArtifactError, OSError) as exc:
        fail("tgc inspect", error_text(exc))
    m = art.manifest
    accel = m["format"] == accel_inspect.FORMAT
    if trace_dir is not None and not accel:
        fail(
            "tgc inspect",
            f"--trace: only an accel artifact has a simulated timeline; this is a {m['format']}",
        )
    if as_json:
        click.echo(json.dumps(art.manifest, indent=2))
        return
    click.echo(
        f"artifact {art.path} (format {m['format_version']}, entry "
        f"{m['entry_points'][0]['symbol']})"
    )
    if accel:
        click.echo(accel_inspect.target_line(m))
    else:
        label, key = _MACHINE_FIELD.get(m["format"], _MACHINE_FIELD["tgc-artifact"])
        tf32 = ", float32 matmuls in TF32 (--allow-tf32)" if m["target"].get("allow_tf32") else ""
        click.echo(
            f"target   {m['target'].get('name', 'cpu')} ({m['target']['triple']} "
            f"{label}={m['target'][key]} -O{m['target']['opt_level']}{tf32})"
        )
    for title, items in (
        ("inputs", art.signature.inputs),
        ("outputs", art.signature.outputs),
        ("variables", art.signature.variables),
    ):
        click.echo(f"{title}:")
        for info in items:
            click.echo(f"  {info.name:24s} {info.describe()}")
    if m.get("step_input"):
        click.echo("random ops: the runtime passes a step counter (1, 2, ...) on each call")
    if m.get("variables_in_place"):
        click.echo("in place: calls update the variables where they lie (--variables-in-place)")
    elif m["format"] == "tgc-artifact" and m.get("variables_assigned"):  # the cpu target's
        click.echo("read-only: calls return new variable values in buffers of their own")
    if m.get("gemm_choices"):
        _show_gemm_choices(m["gemm_choices"])
    if "launch_plan" in m:
        _show_launch_plan(m)
    if accel:
        accel_inspect.show_programs(art)
        if trace_dir is not None:
            try:
                accel_inspect.write_traces(art, trace_dir)
            except OSError as exc:
                fail("tgc inspect", f"--trace: cannot write into {trace_dir}: {exc}")


# The manifest's target field naming the machine code was made for, by format, and its label.
_MACHINE_FIELD = {"tgc-artifact": ("cpu", "cpu"), "tgc-nvptx-artifact": ("gpu", "gpu_arch")}


def _show_gemm_choices(choices: list) -> None:
    """Each matmul's shape and the GEMM it calls (--blas: chosen per shape by measurement)."""
    from tgc.dialect import targets

    tuning = targets.get("cpu").gemm_tuning().gemm_tuning
    Choice, MatmulShape = tuning.Choice, tuning.MatmulShape

    click.echo("matmuls (GEMM chosen per shape: OpenBLAS or tgc's generated kernel):")
    for record in choices:
        shape = MatmulShape.from_json(record["shape"])
        choice = Choice(
            record["callee"], record["source"], record["seconds"], record.get("measured_as")
        )
        click.echo(f"  {record['matmul']:24s} {shape.describe()}: {choice.summary()}")


def _show_launch_plan(m: dict) -> None:
    """The host side of a GPU artifact: its code files, kernels, and per function its launches,
    workspace and buffers."""
    files = [name for name in m["files"].values() if name]
    assembler = f" (cubin by {m['assembler']})" if m.get("assembler") else ""
    click.echo(f"code     {', '.join(files)}{assembler}")
    plan = m["launch_plan"]
    click.echo(f"kernels: {', '.join(plan['kernels']) or 'none'}")
    for name, function in plan["functions"].items():
        steps = function["steps"]
        click.echo(f"function {name}: {len(steps)} step{'s' if len(steps) != 1 else ''}")
        for step in steps:
            click.echo(_describe_step(step))
        buffers = function["buffers"]
        click.echo(
            f"  workspace {function['workspace_bytes']} bytes, {len(buffers)} "
            f"buffer{'s' if len(buffers) != 1 else ''}"
        )
        for index, buffer in enumerate(buffers):
            click.echo(
                f"    buffer {index}: {_dims(buffer['shape'])} {buffer['dtype']} at offset "
                f"{buffer['offset']}"
            )
        for index, constant in enumerate(function["constants"]):
            click.echo(f"    constant {index}: {_dims(constant['shape'])} {constant['dtype']}")


def _describe_step(step: dict) -> str:
    if "launch" in step:
        launch = step["launch"]
        return (
            f"  launch {launch['kernel']:32s} grid {_dims(launch['grid'])}  block "
            f"{_dims(launch['block'])}"
        )
    copy = step["copy"]
    return (
        f"  copy   {copy['bytes']} bytes from {' '.join(map(str, copy['source']))} to "
        f"{' '.join(map(str, copy['target']))}"
    )


def _dims(values: list) -> str:
    return "x".join(str(v) for v in values) if values else "scalar"


COMMANDS = [compile_command, run_command, inspect_command]
