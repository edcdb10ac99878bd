"""``tgc tune``: the GEMM choice cache (tgc/lowering/cpu/gemm_tuning.py) from the command line.

``--shape MxNxK`` (repeatable) times OpenBLAS and tgc's generated kernel on that matmul now and
records the faster for this machine, replacing a cached choice; ``--show`` lists the choices
cached for this machine; ``--clear`` deletes every cache file. A Session reads the cache (its
matmuls of a tuned shape call the winner); ``tgc compile --blas`` tunes its own shapes.
"""

from __future__ import annotations

import re
import sys

import click

_SHAPE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*[xX]\s*(\d+)\s*$")


def fail(message: str) -> None:
    click.echo(f"tgc tune: error: {message}", err=True)
    sys.exit(1)


def parse_shape(text: str) -> tuple:
    """(M, N, K) from ``MxNxK``, each at least 1."""
    match = _SHAPE.match(text)
    if not match:
        fail(f"--shape {text!r}: expected MxNxK, e.g. 256x256x256 (C is MxN, the sum runs over K)")
    dims = tuple(int(d) for d in match.groups())
    if min(dims) < 1:
        fail(f"--shape {text!r}: every dim must be at least 1")
    return dims


@click.command("tune")
@click.option(
    "--shape",
    "shapes",
    multiple=True,
    metavar="MxNxK",
    help="Time both GEMMs on C[M,N] = A[M,K] B[K,N] now and cache the faster (repeatable).",
)
@click.option("--dtype", type=click.Choice(["f32", "f64"]), default="f32", show_default=True)
@click.option("--trans-a", is_flag=True, help="A is stored K x M (the matmul reads A^T).")
@click.option("--trans-b", is_flag=True, help="B is stored N x K (the matmul reads B^T).")
@click.option("--accumulate", is_flag=True, help="C += A B (beta = 1) instead of C = A B.")
@click.option(
    "--threads",
    type=int,
    default=None,
    help=(
        "Threads to time both GEMMs with, OpenBLAS's and tgc's parallel runtime's "
        "[default: OpenBLAS's count, as a Session would use]."
    ),
)
@click.option(
    "--budget",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Timing budget per shape [default: 0.5].",
)
@click.option("--show", is_flag=True, help="List the choices cached for this machine.")
@click.option("--clear", is_flag=True, help="Delete every GEMM choice cache file.")
def tune_command(shapes, dtype, trans_a, trans_b, accumulate, threads, budget, show, clear):
    """Choose between OpenBLAS and tgc's generated GEMM per matmul shape, by measurement."""
    from tgc.dialect import targets

    gemm_autotune = targets.get("cpu").gemm_tuning()
    gemm_tuning = gemm_autotune.gemm_tuning
    if clear and (shapes or show):
        fail("--clear deletes the cache: give it alone, not with --shape or --show")
    if not (shapes or show or clear):
        fail("nothing to do: give --shape MxNxK (to tune), --show or --clear")
    dims = [parse_shape(text) for text in shapes]
    if threads is not None and threads < 1:
        fail(f"--threads {threads}: at least 1")
    if budget is not None and not budget > 0:
        fail(f"--budget {budget}: a positive number of seconds")
    kind = {"trans_a": trans_a, "trans_b": trans_b, "beta_zero": not accumulate}
    threads = threads or gemm_tuning.openblas_threads()
    try:
        if clear:
            for path in gemm_tuning.clear_cache():
                click.echo(f"removed {path}")
        for m, n, k in dims:
            shape = gemm_tuning.MatmulShape(dtype, m, n, k, threads=threads, **kind)
            _tune(gemm_tuning, gemm_autotune.measure(shape, budget), shape)
        if show:
            _show(gemm_tuning)
    except OSError as exc:
        fail(f"the GEMM tuning cache in {gemm_tuning.cache_dir()}: {exc}")


def _tune(gemm_tuning, seconds: dict, shape) -> None:
    callee = gemm_tuning.winner(seconds)
    gemm_tuning.store_choice(shape, callee, seconds)
    click.echo(f"{shape.describe()}: {gemm_tuning.Choice(callee, 'tuned', seconds).summary()}")


def _show(gemm_tuning) -> None:
    path = gemm_tuning.cache_path()
    choices = gemm_tuning.load_cache(path)
    click.echo(f"cache {path}: {len(choices)} shape{'s' if len(choices) != 1 else ''}")
    for entry in sorted(choices.values(), key=lambda e: _order(gemm_tuning, e)):
        shape = gemm_tuning.MatmulShape.from_json(entry["shape"])
        choice = gemm_tuning.Choice(entry["callee"], "cache", entry["seconds"])
        click.echo(f"  {shape.describe():52s} {choice.summary()}")
    others = [p for p in gemm_tuning.cache_files() if p != path]
    if others:
        click.echo(f"(and {len(others)} cache file(s) of other machines or tgc versions)")


def _order(gemm_tuning, entry) -> tuple:
    shape = gemm_tuning.MatmulShape.from_json(entry["shape"])
    return (shape.kind(), shape.m * shape.n * shape.k, shape.key())
