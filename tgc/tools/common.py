"""What the subcommands of ``tgc`` share: reading MLIR input with its file's locations, the timing
report, and the ``--feed NAME[:SHAPE[:DTYPE]]`` syntax. Error texts come from tgc/driver/errors.py.

The commands (cli.py's ``opt`` and ``dialect``, graph_cmd.py, compile_cmd.py) import this module;
cli.py gathers the commands. Nothing here imports a command.
"""

from __future__ import annotations

from dataclasses import dataclass

import click

PARSER_FILE = "-"  # the file name ir.Module.parse gives every location it makes


@dataclass
class Source:
    """One input to parse: its display name, its own text, the whole file's lines (for carets)."""

    name: str
    text: str
    file_lines: list


def parse_module(source: Source):
    """Parses ``source`` into an ir.Module whose locations name the input file.

    ``Module.parse`` does what mlir-opt does with a file (several top-level ops or none are wrapped
    in a module; aliases and resources anywhere), but names every location ``-``; the parser's own
    locations are renamed afterwards. Locations written in the text (``loc(...)``) stay as written.
    """
    from mlir import ir

    module = ir.Module.parse(source.text)
    module.operation.walk(lambda op: _rename_locations(op, source.name))
    return module


def _rename_locations(op, name: str):
    from mlir import ir

    operation = op.operation if hasattr(op, "operation") else op
    renamed = _in_file(operation.location, name)
    if renamed is not None:
        operation.location = renamed
    for region in operation.regions:
        for block in region.blocks:
            for argument in block.arguments:
                renamed = _in_file(argument.location, name)
                if renamed is not None:
                    argument.set_location(renamed)
    return ir.WalkResult.ADVANCE


def _in_file(location, name: str):
    from mlir import ir

    if location.is_a_file() and location.filename == PARSER_FILE:
        return ir.Location.file(name, location.start_line, location.start_col)
    return None


def print_timing(timing: list, stream) -> None:
    """Per-stage wall time, in the shape of mlir-opt's ``--mlir-timing`` report."""
    total = sum(seconds for _, seconds in timing) or 1e-12
    rule = "===" + "-" * 73 + "==="
    click.echo(rule, file=stream)
    click.echo("... Execution time report ...".center(79), file=stream)
    click.echo(rule, file=stream)
    click.echo(f"  Total Execution Time: {total:.4f} seconds\n", file=stream)
    click.echo("  ----Wall Time----  ----Name----", file=stream)
    for spec, seconds in timing:
        click.echo(f"  {seconds:8.4f} ({100 * seconds / total:5.1f}%)  {spec}", file=stream)
    click.echo(f"  {total:8.4f} (100.0%)  Total", file=stream)


def parse_feed(text: str) -> tuple:
    """``NAME[:SHAPE[:DTYPE]]`` -> (name, shape or None, dtype or None). A digits-only part right
    after the name is a tensor index (``split:1:?x3``), as in TensorFlow tensor names; so a 1-d
    shape right after an op name needs its index or dtype: ``x:0:10`` or ``x:10:float32``."""
    from tgc.driver.signature import parse_shape

    parts = text.split(":")
    name, rest = parts[0], parts[1:]
    if rest and rest[0].isdigit() and (len(rest) == 1 or not _is_dtype(rest[1])):
        name, rest = f"{name}:{rest[0]}", rest[1:]
    if not name or len(rest) > 2:
        raise ValueError(f"bad --feed '{text}': expected NAME[:SHAPE[:DTYPE]]")
    shape = parse_shape(rest[0]) if rest and rest[0] else None
    dtype = rest[1] if len(rest) > 1 and rest[1] else None
    return name, shape, dtype


def _is_dtype(part: str) -> bool:
    return part[:1].isalpha() and part != "scalar"
