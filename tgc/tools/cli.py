"""The ``tgc`` command line: ``tgc opt`` runs pipelines on MLIR text, ``tgc dialect`` prints the
dialect.

``tgc opt`` is this project's ``mlir-opt``: it reads tgc IR mixed with upstream dialects, checks it
(IRDL while parsing, then ``tgc-verify``), runs a pipeline of tgc and upstream passes
(tgc.passes.pipeline) and prints the module. The lit tests under tests/lit drive it. Every problem
the user can cause is reported as ``where: error: message`` on stderr with exit status 1, never as a
traceback; ``where`` is ``file:line:col`` whenever the problem has a place in the input.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

import click

from tgc.driver.errors import one_line
from tgc.tools.common import PARSER_FILE, Source, parse_module, print_timing
from tgc.tools.compile_cmd import COMMANDS as AOT_COMMANDS
from tgc.tools.graph_cmd import graph_command
from tgc.tools.tune_cmd import tune_command

SPLIT_MARKER = re.compile(r"^[ \t]*// -----[ \t]*$", re.MULTILINE)
CHUNK_SEPARATOR = "// -----\n"
_FILE_LOCATION = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)")


class Reporter:
    """Prints diagnostics the way mlir-opt does: location, severity, message, then the source
    line."""

    def __init__(self, stream):
        self.stream = stream
        self.errors = 0

    def emit(self, where: str, severity: str, message: str, source: Source | None = None) -> None:
        if severity == "error":
            self.errors += 1
        click.echo(f"{where}: {severity}: {message}", file=self.stream)
        if source is not None:
            self._show_source_line(where, source)

    def _show_source_line(self, where: str, source: Source) -> None:
        # Only when the place is in this input: tgc op locations may point at the user's .py file.
        match = _FILE_LOCATION.match(where)
        if not match or match["file"] != source.name:
            return
        line, col = int(match["line"]), int(match["col"])
        if 1 <= line <= len(source.file_lines) and col >= 1:
            click.echo(source.file_lines[line - 1].rstrip("\n"), file=self.stream)
            click.echo(" " * (col - 1) + "^", file=self.stream)

    def mlir_error(self, exc, source: Source) -> None:
        """An ir.MLIRError: each error diagnostic with its notes (the notes name the failing op)."""
        diagnostics = list(getattr(exc, "error_diagnostics", None) or [])
        if not diagnostics:
            self.emit(source.name, "error", str(exc).strip() or "MLIR error")
        for diag in diagnostics:
            self._diagnostic(diag, source)

    def _diagnostic(self, diag, source: Source) -> None:
        self.emit(where_of(diag.location, source.name), severity_of(diag), diag.message, source)
        for note in diag.notes:  # notes show no source line, as in mlir-opt
            self.emit(where_of(note.location, source.name), "note", note.message)


def severity_of(diag) -> str:
    return str(diag.severity).rsplit(".", 1)[-1].lower()  # DiagnosticSeverity.ERROR -> error


def where_of(location, fallback: str) -> str:
    """``file:line:col`` (plus ``'scope/op'`` for graph ops) from a Location; the file name if
    unknown.

    The parser names its locations ``-`` (see parse_module): those are in ``fallback``, the input.
    """
    from tgc.passes.base import format_location

    text = format_location(location)
    if text.startswith("loc("):
        return fallback
    if text.startswith(PARSER_FILE + ":"):
        return fallback + text[len(PARSER_FILE) :]
    return text


# ---- reading and parsing -------------------------------------------------------------------------


def read_input(path: str) -> tuple[str, str]:
    """(display name, text); ``-`` is stdin, shown as ``<stdin>`` as mlir-opt does."""
    if path == "-":
        return "<stdin>", sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return path, handle.read()


def split_chunks(name: str, text: str, split: bool) -> list[Source]:
    """The inputs to process: the whole text, or each ``// -----`` chunk.

    A chunk is padded with the newlines that precede it in the file, so that parse locations carry
    the file's own line numbers (mlir-opt reports them the same way).
    """
    lines = text.splitlines(keepends=True)
    if not split:
        return [Source(name, text, lines)]
    chunks, start = [], 0
    for marker in SPLIT_MARKER.finditer(text):
        chunks.append((start, marker.start()))
        start = marker.end() + 1  # the chunk starts after the marker line's newline
    chunks.append((start, len(text)))
    return [Source(name, "\n" * text.count("\n", 0, s) + text[s:e], lines) for s, e in chunks]


# ---- running -------------------------------------------------------------------------------------


@dataclass
class OptOptions:
    print_after_all: bool = False
    print_after_change: bool = False
    timing: bool = False


def process(source: Source, pipeline, options: OptOptions, reporter: Reporter) -> str | None:
    """Parse, verify, run ``pipeline`` on one input; the printed module, or None after an error."""
    from mlir import ir

    from tgc.passes.base import PassFailure
    from tgc.passes.pipeline import announce, observe_stages
    from tgc.passes.verify import VerifyPass

    timing = [] if options.timing else None
    steps = []  # what was running when something failed
    try:
        with observe_stages(steps.append):
            announce("parsing the input")
            module = parse_module(source)
            announce("verifying the input (tgc-verify)")
            VerifyPass().run(module)
            pipeline.run(
                module,
                print_after_all=options.print_after_all,
                print_after_change=options.print_after_change,
                timing=timing,
                out=reporter.stream,
                verify_each=True,  # as mlir-opt: the pass that broke the IR is the one named
            )
    except ir.MLIRError as exc:
        reporter.mlir_error(exc, source)
        return None
    except PassFailure as exc:
        for where, message in exc.diagnostics:
            reporter.emit(where, "error", message, source)
        return None
    except Exception as exc:  # noqa: BLE001 - a pass met IR it does not handle: say which, no traceback
        step = steps[-1] if steps else "running the pipeline"
        reporter.emit(
            source.name,
            "error",
            f"internal error while {step} (a tgc bug: please report it with "
            f"this input): {type(exc).__name__}: {one_line(exc)}",
        )
        return None
    if timing is not None:
        print_timing(timing, reporter.stream)
    return str(module)


def fail(message: str, where: str = "tgc opt") -> None:
    click.echo(f"{where}: error: {message}", err=True)
    sys.exit(1)


# ---- commands ------------------------------------------------------------------------------------


def tgc_version() -> str:
    """``tgc.__version__`` when the package sets it, else the installed distribution's version."""
    import tgc

    version = getattr(tgc, "__version__", None)
    if version:
        return version
    from importlib import metadata

    try:
        return metadata.version("tgc")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(ctx, _param, value) -> None:
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"tgc {tgc_version()}")
    ctx.exit()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print tgc's version and exit.",
)
def main():
    """tgc: a compiler for TensorFlow-1-style graphs, built on MLIR."""


@main.command("opt")
@click.argument("input_path", metavar="[INPUT|-]", default="-")
@click.option(
    "-p",
    "--pass-pipeline",
    "spec",
    default="",
    help="Passes to run, e.g. 'tgc-autodiff,canonicalize'.",
)
@click.option(
    "--default-pipeline",
    is_flag=True,
    help="Run the default compile pipeline (the one --print-pipeline shows without -p).",
)
@click.option(
    "--split-input-file", is_flag=True, help="Process each '// -----' chunk independently."
)
@click.option(
    "--print-pipeline",
    is_flag=True,
    help="Print the pipeline as it will run (without -p: the default compile pipeline), then exit.",
)
@click.option("--list-passes", is_flag=True, help="List the tgc passes, then exit.")
@click.option(
    "--print-ir-after-all", is_flag=True, help="Print the IR to stderr after every stage."
)
@click.option(
    "--print-ir-after-change",
    is_flag=True,
    help="Print the IR to stderr after stages that change it.",
)
@click.option("--timing", is_flag=True, help="Report each stage's wall time on stderr.")
@click.option("-o", "output", default="-", help="Output file ('-' is stdout).")
def opt(
    input_path,
    spec,
    default_pipeline,
    split_input_file,
    print_pipeline,
    list_passes,
    print_ir_after_all,
    print_ir_after_change,
    timing,
    output,
):
    """Parse INPUT, verify it (tgc-verify), run the pass pipeline and print the module.

    tgc passes and upstream MLIR passes mix freely in one pipeline.
    """
    from tgc.passes import pass_help
    from tgc.passes.pipeline import Pipeline

    if list_passes:
        for name, doc in pass_help().items():
            click.echo(f"  {name:24s} {doc}")
        return
    if default_pipeline and spec:
        fail("give either -p PIPELINE or --default-pipeline, not both")
    if default_pipeline or (print_pipeline and not spec):
        from tgc.driver.pipelines import default_pipeline as default_spec

        spec = default_spec()
    try:
        pipeline = Pipeline(spec)
    except ValueError as exc:  # PipelineError, or an option value of the wrong type
        fail(str(exc).strip())
    if print_pipeline:
        click.echo(pipeline.spec())
        return
    try:
        name, text = read_input(input_path)
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read input file: {getattr(exc, 'strerror', None) or exc}", where=input_path)
    options = OptOptions(print_ir_after_all, print_ir_after_change, timing)
    results, errors = _run_all(split_chunks(name, text, split_input_file), pipeline, options)
    _write_output(output, CHUNK_SEPARATOR.join(r if r is not None else "" for r in results))
    if errors:
        sys.exit(1)


def _run_all(sources: list, pipeline, options: OptOptions) -> tuple[list, int]:
    """Each input in its own context, in a child process (tgc/tools/isolation.py) so that MLIR
    aborting on one input is reported as an error; an error in one chunk does not stop the
    others."""
    from tgc.tools.isolation import ChildCrashed, run_isolated

    reporter = Reporter(sys.stderr)
    results = []
    for source in sources:
        try:
            text, errors = run_isolated(lambda: _process_in_own_context(source, pipeline, options))
        except ChildCrashed as crash:
            text, errors = None, 0
            reporter.emit(source.name, "error", crash.message())
        reporter.errors += errors
        results.append(text)
    return results, reporter.errors


def _process_in_own_context(source: Source, pipeline, options: OptOptions) -> tuple:
    """(printed module or None, number of errors) for one input."""
    from mlir import ir

    from tgc.dialect.context import load_target_dialects, make_context

    reporter = Reporter(sys.stderr)
    with make_context() as context, ir.Location.unknown():
        load_target_dialects(context, source.text)
        # Warnings and remarks emitted outside a pass run reach this handler; errors come as
        # MLIRError.
        handler = context.attach_diagnostic_handler(lambda d: _print_loose(d, reporter))
        text = process(source, pipeline, options, reporter)
        handler.detach()
    return text, reporter.errors


def _print_loose(diag, reporter: Reporter) -> bool:
    reporter.emit(where_of(diag.location, "tgc opt"), severity_of(diag), diag.message)
    return True


def _write_output(output: str, text: str) -> None:
    if output == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        fail(f"cannot write output file: {exc.strerror or exc}", where=output)


@main.command("dialect")
@click.option(
    "--irdl", is_flag=True, help="Print the tgc dialect as IRDL (for mlir-opt --irdl-file)."
)
@click.option("--list-ops", is_flag=True, help="List every tgc op with its TensorFlow op type.")
def dialect(irdl, list_ops):
    """Print the tgc dialect, generated from the op registry."""
    from tgc.dialect.irdl import dialect_irdl
    from tgc.dialect.registry import load_all_ops

    if irdl == list_ops:
        fail("give exactly one of --irdl and --list-ops", where="tgc dialect")
    if irdl:
        click.echo(dialect_irdl(), nl=False)
        return
    registry = load_all_ops()
    width = max(len(opdef.mlir_name) for opdef in registry.values())
    for name in sorted(registry):
        click.echo(f"{registry[name].mlir_name:{width}s}  {registry[name].tf_type}")


main.add_command(graph_command)
main.add_command(tune_command)
for _command in AOT_COMMANDS:  # compile, run, inspect
    main.add_command(_command)

if __name__ == "__main__":
    main()
