"""``tgc graph``: pictures of a program's graph after any stage of the compiler.

A stage is a point in the graph pipeline (the optimizing graph passes of tgc/driver/pipelines.py,
then tgc-place and tgc-partition): ``built`` is the tgc module as emitted from the frontend graph,
``autodiff``, ``decomposed``, ``folded`` and ``optimized`` follow the passes of those names,
``placed`` colours every op by its device, and ``partitioned`` draws one cluster per device function
with the send/recv pairs between them as red edges. The input is a TF1 program (``.py``) or tgc IR
(``.mlir``). A program runs until its first ``Session.run`` (a TF1 program has built its graph by
then; the training loop after it is not what a picture needs) and the graph of that session is
drawn, or, in a program that never runs a session, the default graph it leaves; either is emitted
with the run signature Session.run would choose (tgc/driver/signature.py). The program's prints go
to stderr, so stdout carries only the picture. The module is drawn as Graphviz DOT (``dot``,
``svg``, ``png`` through Graphviz's ``dot`` program) or written as a GraphDef event file for
TensorBoard (``tensorboard``, OUT is a log directory).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import click

STAGE_PASSES = {
    "built": None,
    "autodiff": "tgc-autodiff",
    "decomposed": "tgc-decompose",
    "folded": "tgc-fold",
    "optimized": "tgc-verify",
}
STAGES = tuple(STAGE_PASSES) + ("placed", "partitioned")
FORMATS = ("dot", "svg", "png", "tensorboard")
PALETTE = ("#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#fb9a99", "#ffff99", "#8dd3c7", "#bebada")


class GraphCommandError(Exception):
    """A problem the user can fix (input, stage, fetch, Graphviz); printed as
    ``tgc graph: error: ...``."""


# ---- the pipeline prefix -------------------------------------------------------------------------


def stage_pipeline(stage: str, devices: tuple, soft: bool) -> str:
    """The passes that bring a freshly emitted module to ``stage``."""
    from tgc.driver import pipelines

    if stage not in STAGES:
        raise GraphCommandError(f"unknown stage '{stage}' (stages: {', '.join(STAGES)})")
    graph = pipelines.graph_passes()
    if stage in STAGE_PASSES:
        last = STAGE_PASSES[stage]
        return "" if last is None else graph.up_to(last, last_occurrence=True).spec()
    placement = pipelines.placement(devices, soft)
    if stage != "partitioned":
        placement = placement.up_to("tgc-place")
    return (graph + placement).spec()


def requested_devices(module) -> tuple:
    """CPU:0 plus every device an op or variable of the module asks for, as full names."""
    from mlir import ir

    from tgc.dialect.devices import DEFAULT_DEVICE, full_device_name

    names = [DEFAULT_DEVICE]

    def visit(op):
        operation = op.operation if hasattr(op, "operation") else op
        if "device" in operation.attributes:
            name = full_device_name(ir.StringAttr(operation.attributes["device"]).value)
            if name not in names:
                names.append(name)
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    return tuple(names)


# ---- inputs --------------------------------------------------------------------------------------


def module_from_mlir(path: str):
    from tgc.tools.common import Source, parse_module

    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return parse_module(Source(path, text, text.splitlines(keepends=True))), {}


class _FirstSessionRun(BaseException):
    """Stops the program at its first Session.run; a BaseException so the program's own
    ``except Exception`` cannot swallow it."""

    def __init__(self, graph):
        super().__init__("stopped at the first Session.run")
        self.graph = graph


@contextlib.contextmanager
def _stop_at_first_session_run():
    """Session.run (which Tensor.eval and Operation.run call too) raises _FirstSessionRun
    meanwhile."""
    from tgc.frontend.session import Session

    def stop(session, *args, **kwargs):
        raise _FirstSessionRun(session.graph)

    original = Session.__dict__["run"]
    Session.run = stop
    try:
        yield
    finally:
        Session.run = original


def graph_from_program(path: str):
    """Runs a TF1 program as ``__main__`` up to its first Session.run, with its prints on stderr,
    and returns the graph of that session, or the default graph the program leaves if it runs
    none."""
    import tgc

    tgc.reset_default_graph()
    saved = sys.argv
    sys.argv = [path]
    graph = None
    try:
        with contextlib.redirect_stdout(sys.stderr), _stop_at_first_session_run():
            runpy.run_path(path, run_name="__main__")
    except _FirstSessionRun as stopped:
        graph = stopped.graph
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise GraphCommandError(f"running {path} exited with status {exc.code}") from None
    except OSError as exc:
        if not os.path.exists(path):
            raise
        raise GraphCommandError(f"running {path} failed: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's program failed: one line, no traceback
        raise GraphCommandError(f"running {path} failed: {type(exc).__name__}: {exc}") from None
    finally:
        sys.argv = saved
    if graph is None:
        graph = tgc.get_default_graph()
    if not graph.get_operations():
        raise GraphCommandError(
            f"{path} left no ops in the default graph (build the graph in the default graph)"
        )
    return graph


def default_fetches(graph) -> list:
    """Every compiled op that no other compiled op uses or waits on; a host op (summary) adds its
    inputs."""
    used = set()
    for op in graph.get_operations():
        if op.host_fn is None:
            used.update(t.op for t in op.inputs)
            used.update(op.control_inputs)
    fetches = []
    for op in graph.get_operations():
        if op.host_fn is not None:
            fetches += [t for t in op.inputs if t.op.host_fn is None]
        elif op not in used and op.opdef is not None:
            fetches += op.outputs if op.outputs else [op]
    return fetches


def feed_specs(graph, feed_texts=()) -> dict:
    """``--feed NAME:SHAPE[:DTYPE]`` (tgc compile's syntax) as {placeholder tensor: TensorSpec}."""
    from tgc.driver.signature import ExportError, element, feed_spec
    from tgc.tools.common import parse_feed

    specs = {}
    try:
        for text in feed_texts:
            name, shape, dtype = parse_feed(text)
            found = element(graph, name, "feed")
            tensor = found.outputs[0] if hasattr(found, "outputs") else found
            specs[tensor] = feed_spec(tensor, shape, dtype)
    except (ExportError, ValueError) as exc:
        raise GraphCommandError(f"bad --feed: {exc}") from None
    return specs


def module_from_graph(graph, fetch_names=(), feed_texts=()):
    """Emits the graph (pruned to the fetches) as Session.run does: every placeholder it needs
    becomes an argument, typed by ``--feed`` where given. Fetches by name as `tgc compile` takes
    them."""
    from mlir import ir

    from tgc.driver.signature import ExportError, select
    from tgc.graph.emit import EmitError, emit_function, emit_variables
    from tgc.graph.prune import variables_of

    given = feed_specs(graph, feed_texts)
    try:
        run = select(list(fetch_names) or default_fetches(graph), None, graph, narrowed=given)
    except ExportError as exc:
        raise GraphCommandError(str(exc)) from None
    module = ir.Module.create()
    try:
        emit_function(module, run.ops, run.feeds, run.fetches)
        emit_variables(module, variables_of(run.ops))
    except EmitError as exc:
        raise GraphCommandError(str(exc)) from None
    return module, {i: t.op.name for i, (t, _) in enumerate(run.feeds)}


# ---- the drawing model ---------------------------------------------------------------------------


@dataclass
class DrawNode:
    id: str
    name: str  # the graph name (scope/Op) or a description
    kind: str  # op, arg, variable, fetches
    op_type: str = ""
    device: str = ""
    cluster: str = ""  # the function it belongs to
    outputs: list = field(default_factory=list)  # TensorSpecs
    attrs: dict = field(default_factory=dict)


@dataclass
class DrawEdge:
    src: str
    dst: str
    label: str = ""
    style: str = "data"  # data, control, variable, transfer
    index: int = 0  # the producer's output index


@dataclass
class Drawing:
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    clusters: dict = field(
        default_factory=dict
    )  # function name -> device ("" when not partitioned)


def _type_text(type_) -> str:
    text = str(type_)
    return text[len("tensor<") : -1] if text.startswith("tensor<") else text


def _spec(type_):
    from tgc.dialect.attrs import spec_of_type

    try:
        return spec_of_type(type_)
    except Exception:  # noqa: BLE001 - a non-tensor value (token): no shape to show
        return None


class _Drawer:
    def __init__(self, arg_names):
        self.drawing = Drawing()
        self.arg_names = arg_names
        self.producers = {}  # ir.Value -> (node id, result index)
        self.sends, self.recvs = {}, {}  # key -> node id

    def node(self, **kwargs) -> DrawNode:
        node = DrawNode(id=f"n{len(self.drawing.nodes)}", **kwargs)
        self.drawing.nodes.append(node)
        return node

    def draw(self, module) -> Drawing:
        from mlir import ir

        from tgc.dialect.ir_helpers import declares_variable, functions

        variables = {}
        for op in module.body.operations:
            operation = op.operation
            if declares_variable(operation):
                name = ir.StringAttr(operation.attributes["sym_name"]).value
                variables[name] = self.node(
                    name=name, kind="variable", op_type="VariableV2", device=_device(operation)
                ).id
        for function in functions(module):  # a declaration has no ops to draw
            self.function(function.operation, variables)
        for key, src in self.sends.items():
            if key in self.recvs:
                self.drawing.edges.append(
                    DrawEdge(src, self.recvs[key], key.split(";")[0], "transfer")
                )
        return self.drawing

    def function(self, function, variables) -> None:
        from mlir import ir

        name = ir.StringAttr(function.attributes["sym_name"]).value
        device = (
            ir.StringAttr(function.attributes["tgc.device"]).value
            if "tgc.device" in function.attributes
            else ""
        )
        self.drawing.clusters[name] = device
        block = function.regions[0].blocks[0]
        by_name = {}
        for i, arg in enumerate(block.arguments):
            if len(list(arg.uses)):
                node = self.node(
                    name=self.arg_names.get(i, f"arg{i}"),
                    kind="arg",
                    op_type="Placeholder",
                    device=device,
                    cluster=name,
                    outputs=[_spec(arg.type)],
                )
                self.producers[arg] = (node.id, 0)
        for op in block.operations:
            self.operation(op.operation, name, variables, by_name)

    def operation(self, operation, cluster, variables, by_name) -> None:
        from tgc.passes.partition import control_deps, op_name

        if operation.name == "func.return":
            node = self.node(name="fetches", kind="fetches", op_type="_Retval", cluster=cluster)
        else:
            node = self.node(
                name=op_name(operation),
                kind="op",
                op_type=_tf_type(operation),
                device=_device(operation),
                cluster=cluster,
                outputs=[_spec(r.type) for r in operation.results],
                attrs=_attrs(operation),
            )
            by_name[node.name] = node.id
        for i, result in enumerate(operation.results):
            self.producers[result] = (node.id, i)
        for value in operation.operands:
            if value in self.producers:
                src, index = self.producers[value]
                self.drawing.edges.append(
                    DrawEdge(src, node.id, _type_text(value.type), "data", index)
                )
        self.links(operation, node, variables, by_name, control_deps(operation))

    def links(self, operation, node, variables, by_name, controls) -> None:
        """Variable, control and transfer edges, which are attributes rather than operands."""
        from mlir import ir

        from tgc.dialect.ir_helpers import is_send, is_transfer, reads_variable

        if "var" in operation.attributes:
            var = ir.FlatSymbolRefAttr(operation.attributes["var"]).value
            if var in variables:
                reads = reads_variable(operation)
                pair = (variables[var], node.id) if reads else (node.id, variables[var])
                self.drawing.edges.append(DrawEdge(*pair, style="variable"))
        for name in controls:
            if name in by_name:
                self.drawing.edges.append(DrawEdge(by_name[name], node.id, style="control"))
        if is_transfer(operation):
            key = ir.StringAttr(operation.attributes["key"]).value
            (self.sends if is_send(operation) else self.recvs)[key] = node.id


def _device(operation) -> str:
    from mlir import ir

    return (
        ir.StringAttr(operation.attributes["device"]).value
        if "device" in operation.attributes
        else ""
    )


def _tf_type(operation) -> str:
    """The TensorFlow op type a GraphDef shows: the registry's, _Send/_Recv for a transfer, else the
    MLIR name (an upstream op)."""
    from tgc.dialect.ir_helpers import is_send, is_transfer, opdef_of

    if is_transfer(operation):
        return "_Send" if is_send(operation) else "_Recv"
    opdef = opdef_of(operation)
    return opdef.tf_type if opdef is not None else operation.name


def _attrs(operation) -> dict:
    """Registry attributes as (kind, value), for the GraphDef; empty for ops outside the
    registry."""
    from tgc.dialect.builder import decode_attrs
    from tgc.dialect.ir_helpers import opdef_of

    opdef = opdef_of(operation)
    if opdef is None:
        return {}
    try:
        values = decode_attrs(operation, opdef)
    except Exception:  # noqa: BLE001 - an attribute the codec cannot read back is only left out of the picture
        return {}
    return {k: (opdef.attrs[k].kind, v) for k, v in values.items() if k in opdef.attrs}


def draw_module(module, arg_names=None) -> Drawing:
    return _Drawer(arg_names or {}).draw(module)


# ---- DOT -----------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short_device(device: str) -> str:
    return device.split("device:")[-1] if "device:" in device else device


def device_colours(drawing: Drawing) -> dict:
    devices = sorted(
        {n.device for n in drawing.nodes if n.device} | {d for d in drawing.clusters.values() if d}
    )
    return {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(devices)}


def _node_line(node: DrawNode, colours: dict) -> str:
    lines = [node.name]
    if node.op_type and node.kind == "op":
        lines.append(node.op_type)
    if node.device:
        lines.append("@" + _short_device(node.device))
    shape = {"arg": "invhouse", "variable": "cylinder", "fetches": "house"}.get(node.kind, "box")
    colour = colours.get(node.device, "#ffffff")
    return (
        f"  {node.id} [label={_quote(chr(10).join(lines))}, shape={shape}, "
        f"fillcolor={_quote(colour)}];"
    )


_EDGE_STYLES = {
    "data": "",
    "control": ", style=dashed, arrowhead=odot",
    "variable": ", style=dotted",
    "transfer": ", color=red, penwidth=2, fontcolor=red, constraint=false",
}


def to_dot(drawing: Drawing, title: str = "tgc") -> str:
    """The drawing as a Graphviz digraph: one cluster per function, nodes filled by device."""
    colours = device_colours(drawing)
    out = [
        f"digraph {_quote(title)} {{",
        "  rankdir=TB;",
        '  node [style="rounded,filled", fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for node in drawing.nodes:
        if not node.cluster:
            out.append(_node_line(node, colours))
    for index, (name, device) in enumerate(drawing.clusters.items()):
        label = name + (f" @ {_short_device(device)}" if device else "")
        out.append(f"  subgraph cluster_{index} {{")
        out.append(
            f"    label={_quote(label)}; style=rounded; "
            f"color={_quote(colours.get(device, '#888888'))};"
        )
        out += ["  " + _node_line(n, colours) for n in drawing.nodes if n.cluster == name]
        out.append("  }")
    for edge in drawing.edges:
        label = f", label={_quote(edge.label)}" if edge.label else ""
        out.append(
            f"  {edge.src} -> {edge.dst} [{label[2:]}{_EDGE_STYLES[edge.style]}];".replace(
                "[, ", "["
            )
        )
    out += _legend(colours)
    out.append("}")
    return "\n".join(out) + "\n"


def _legend(colours: dict) -> list:
    if not colours:
        return []
    rows = "".join(
        f'<TR><TD BGCOLOR="{c}">{_short_device(d)}</TD></TR>' for d, c in colours.items()
    )
    return [
        f'  legend [shape=plaintext, style="", label=<<TABLE BORDER="0" CELLBORDER="1">'
        f"<TR><TD><B>devices</B></TD></TR>{rows}</TABLE>>];"
    ]


def graphviz_dot(fmt: str) -> str:
    """The path of Graphviz's ``dot``, which svg and png need."""
    program = shutil.which("dot")
    if program is None:
        raise GraphCommandError(
            f"--format {fmt} needs Graphviz's 'dot' program, which is not on PATH: install "
            "Graphviz (apt install graphviz, brew install graphviz, conda install graphviz) "
            "or use --format dot"
        )
    return program


def render(dot_text: str, fmt: str) -> bytes:
    """SVG or PNG bytes from Graphviz's ``dot``."""
    program = graphviz_dot(fmt)
    done = subprocess.run(
        [program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=120
    )
    if done.returncode != 0:
        raise GraphCommandError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


# ---- GraphDef ------------------------------------------------------------------------------------


def to_graph_def(drawing: Drawing):
    """The drawing as a GraphDef: names unique, grouped under the function when there are
    several."""
    from tgc.frontend.graph_def import Node, nodes_to_graph_def, tensor_ref

    prefix = len(drawing.clusters) > 1
    names, taken = {}, set()
    for node in drawing.nodes:
        base = f"{node.cluster}/{node.name}" if prefix and node.cluster else node.name
        name, count = base, 0
        while name in taken:
            count += 1
            name = f"{base}_{count}"
        taken.add(name)
        names[node.id] = name
    nodes = {
        n.id: Node(
            names[n.id],
            n.op_type or "NoOp",
            [],
            n.device,
            [s for s in n.outputs if s is not None],
            n.attrs,
        )
        for n in drawing.nodes
    }
    for edge in drawing.edges:
        ref = (
            tensor_ref(names[edge.src], edge.index)
            if edge.style == "data"
            else "^" + names[edge.src]
        )
        nodes[edge.dst].inputs.append(ref)
    for node in nodes.values():  # TensorFlow lists data inputs before control inputs
        node.inputs.sort(key=lambda ref: ref.startswith("^"))
    return nodes_to_graph_def(list(nodes.values()))


# ---- the command ---------------------------------------------------------------------------------


def build_drawing(
    input_path: str, stage: str, fetches=(), devices=(), soft=False, feeds=()
) -> Drawing:
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.passes.pipeline import run_pipeline

    graph = _run_program(input_path) if input_path.endswith(".py") else None
    if graph is None and not input_path.endswith(".mlir"):
        raise GraphCommandError(f"{input_path}: expected a TF1 program (.py) or tgc IR (.mlir)")
    with make_context(), ir.Location.unknown():
        module, arg_names = (
            module_from_graph(graph, fetches, feeds)
            if graph is not None
            else module_from_mlir(input_path)
        )
        from tgc.dialect.devices import full_device_name

        chosen = tuple(full_device_name(d) for d in devices) or requested_devices(module)
        spec = stage_pipeline(stage, chosen, soft)
        if spec:
            run_pipeline(module, spec)
        return draw_module(module, arg_names)


def _program_step(path: str) -> str:
    return f"running {path}"


def _run_program(path: str):
    """graph_from_program, announced: should the program crash the process, the parent names it."""
    from tgc.passes.pipeline import announce

    announce(_program_step(path))
    graph = graph_from_program(path)
    announce("emitting the graph")
    return graph


def write_output(drawing: Drawing, fmt: str, output: str, title: str) -> None:
    if fmt == "tensorboard":
        from tgc.summary import FileWriter

        with FileWriter(output, graph_def=to_graph_def(drawing)):
            pass
        return
    dot_text = to_dot(drawing, title)
    data = dot_text.encode() if fmt == "dot" else render(dot_text, fmt)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    with open(output, "wb") as handle:
        handle.write(data)


@click.command("graph")
@click.argument("input_path", metavar="INPUT")
@click.option(
    "--stage",
    type=click.Choice(STAGES),
    default="built",
    show_default=True,
    help="The point in the pipeline to draw.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="dot",
    show_default=True,
    help="DOT text, SVG or PNG (Graphviz), or a TensorBoard log directory.",
)
@click.option(
    "-o",
    "output",
    default="-",
    help="Output file ('-' is stdout); a log directory for tensorboard.",
)
@click.option(
    "--fetch",
    "fetches",
    multiple=True,
    help="An op or tensor to compute (repeatable; .py input; default: every op nothing else uses).",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    help="NAME:SHAPE[:DTYPE], e.g. keep_prob:scalar or x:?x784: "
    "the shape of a placeholder (repeatable; .py input; needed for a placeholder of unknown rank).",
)
@click.option(
    "--device",
    "devices",
    multiple=True,
    help="A device to place on (repeatable; default: CPU:0 and every device the graph asks for).",
)
@click.option("--soft-placement", is_flag=True, help="Let ops fall back to an available device.")
def graph_command(input_path, stage, fmt, output, fetches, feeds, devices, soft_placement):
    """Draw the graph of INPUT (a TF1 program .py, or tgc IR .mlir) after a pipeline stage.

    A program runs only up to its first Session.run, whose graph is drawn; its prints go to stderr.
    svg and png need Graphviz's dot program."""
    from tgc.tools.isolation import ChildCrashed, ChildFailed, run_isolated

    if fmt in ("svg", "png") and output == "-" and sys.stdout.isatty():
        _fail(f"--format {fmt} writes binary data: give -o FILE")
    if fmt == "tensorboard" and output == "-":
        _fail("--format tensorboard writes an event file: give -o LOGDIR")
    try:
        # In a child process: MLIR (or the user's program) aborting becomes one error line, as in
        # tgc opt.
        run_isolated(
            lambda: _draw(input_path, stage, fmt, output, fetches, feeds, devices, soft_placement)
        )
    except ChildCrashed as crash:
        _fail(_crash_message(crash, input_path))
    except (
        ChildFailed
    ) as exc:  # _draw lets only non-Exception errors through: a tgc bug, still one line
        last = str(exc).strip().splitlines()[-1:] or ["no detail"]
        _fail(f"internal error (a tgc bug: please report it with this input): {last[0]}")


def _crash_message(crash, input_path: str) -> str:
    if crash.step == _program_step(input_path):
        reason = f": {crash.reason}" if crash.reason else ""
        return (
            f"running {input_path} crashed ({crash.signal_name}) before its first "
            f"Session.run{reason}"
        )
    return crash.message()


def _draw(input_path, stage, fmt, output, fetches, feeds, devices, soft_placement) -> None:
    """Builds the drawing and writes it; every user-level problem ends here as one error line."""
    from tgc.driver.errors import error_text
    from tgc.passes.base import PassFailure

    try:
        if fmt in ("svg", "png"):
            graphviz_dot(fmt)  # before running the user's program, which may take a while
        drawing = build_drawing(input_path, stage, fetches, devices, soft_placement, feeds)
        write_output(drawing, fmt, output, f"{os.path.basename(input_path)} ({stage})")
    except GraphCommandError as exc:
        _fail(str(exc))
    except PassFailure as exc:
        _fail(error_text(exc))
    except OSError as exc:
        _fail(f"{getattr(exc, 'filename', None) or input_path}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - MLIR parse errors and the like: one line, no traceback
        _fail(
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}"
        )


def _fail(message: str) -> None:
    click.echo(f"tgc graph: error: {message}", err=True)
    sys.exit(1)
