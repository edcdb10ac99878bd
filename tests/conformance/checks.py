"""Builds a drawn graph in tgc through the TF1 API and checks it on a target.

Every graph runs once in a single-device Session (its ``Session.run`` fetches the forward values,
the loss and ``tf.gradients`` of the loss for every target at once): forward values against the
numpy reference, gradients against finite differences. One variant, named by the graph, then runs
the same graph another way and must agree with that Session within float32 rounding:

- ``tgc_grad``: ``tgc.grad(f, argnums=...)`` of the same function, against finite differences;
- ``two_devices``: each op under ``tf.device('/<target>:0')`` or ``':1'``,
  two devices in the config;
- ``opt_l0``: ``graph_options.optimizer_options.opt_level = L0`` (no graph optimizations);
- ``artifact``: ``tgc.export_graph`` -> ``tgc compile``'s lowering -> ``tgc.runtime.load``;
- ``jit``: ``@tgc.jit`` of the function returning the fetched values;
- ``cluster`` (CPU only, asked for by name: it needs Ray): the inputs on a ps task and each op on
  the worker or the ps task of a local Ray cluster (``tf.test.create_local_cluster``), the Session
  on the worker's target, as the lectures' ps/worker programs run.

A ``Target`` names what changes between targets (device names, the device count key, the variants it
supports, how its numbers are rounded). The accelerator (``accel``) runs beside the CPU: every op
is requested on ``/accel:0`` and soft placement keeps on the CPU what the accelerator cannot run;
the ops that ran there (read from the session's placement) are compared within the bounds their
bf16 matrix unit and float32 vector unit allow (``accel_numerics.py``), propagated through the rest
of the graph. ``run_checks`` returns an ``Outcome`` (pass, wrong, error); a crash of the process is
the caller's to see (``isolated`` runs it in a child).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import traceback
import zlib
from dataclasses import dataclass

import numpy as np

from conformance import reference
from conformance.reference import CONTROL_OPS

# ---- targets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    device_type: str  # "cpu" gives devices "/cpu:N" and ConfigProto(device_count={"CPU": N})
    variants: tuple  # the variants this target runs
    compiler: str = "cpu"  # the compiler's target (tgc/dialect/targets.py) its runs compile for
    # An accelerator beside the CPU: every op requested on it, soft placement, its numbers within
    # accel_numerics' bounds.
    accelerator: bool = False
    favour: tuple = ()  # ops the generator draws more often for it (an accelerator's own)

    def device(self, index: int) -> str:
        return f"/{self.device_type}:{index}"

    def config(self, devices: int = 1, opt_level=None):
        import tgc as tf

        config = tf.ConfigProto(
            device_count={self.device_type.upper(): devices},
            allow_soft_placement=self.accelerator,
            log_device_placement=self.accelerator,  # where each op ran decides its tolerance
        )
        if opt_level is not None:
            config.graph_options.optimizer_options.opt_level = opt_level
        return config


ALL_VARIANTS = ("artifact", "tgc_grad", "two_devices", "opt_l0", "jit")
# Variants a graph runs only when asked for by name (they need more than tgc: Ray).
NAMED_VARIANTS = ("cluster",)
TARGETS = {"cpu": Target("cpu", "cpu", ALL_VARIANTS + NAMED_VARIANTS)}


def entries_for(target, entries: dict) -> dict:
    """The drawable ``entries`` the target's compiler can run (every one on the CPU; every one
    beside an accelerator, whose CPU runs what it cannot). The two-device variant pins every op
    without soft placement, so a GPU target is drawn only what it supports."""
    from tgc.dialect import targets

    if target.accelerator:
        return entries
    supported = targets.get(target.compiler).supported_ops()
    return {name: entry for name, entry in entries.items() if name in supported}


def target_named(name: str) -> Target:
    """The suite's target ``name``: one of TARGETS, or any target registered with the compiler
    (tgc/dialect/targets.py) whose devices this machine has, run through every variant it can run.
    A session for a GPU-type target has the CPU besides its GPUs."""
    from tgc.dialect import targets

    if name in TARGETS:
        return TARGETS[name]
    try:
        compiler = targets.get(name)
    except targets.UnknownTargetError:
        raise KeyError(name) from None
    if compiler.available_devices() == 0:
        raise KeyError(name)  # this machine has none of its devices (a GPU target without a GPU)
    variants = tuple(v for v in ALL_VARIANTS if _runs_variant(compiler, v))
    accelerator = compiler.device_type in ACCELERATOR_TYPES
    favour = (
        tuple(op for op in MATRIX_UNIT_DRAWN if op in compiler.supported_ops())
        if accelerator
        else ()
    )
    return Target(name, compiler.device_type.lower(), variants, name, accelerator, favour)


# Device types whose targets compute in reduced precision (bf16 on the matrix unit).
ACCELERATOR_TYPES = ("ACCEL",)
# The bf16 ops the generator draws more often on an accelerator: one among about a hundred ops,
# it would be drawn once in twenty graphs (the vector unit's elementwise ops are common anyway).
MATRIX_UNIT_DRAWN = ("matmul",)


def draws_control_flow_pinned(target: Target) -> bool:
    """Whether graphs with loops and conds may pin them to the target's devices (the two_devices
    variant): where its compiler runs ``tgc.while`` and ``tgc.if``, or soft placement keeps them
    on the CPU (an accelerator). Elsewhere (the GPU) placement puts them on the CPU in the other
    variants, as it does any op the target lacks."""
    from tgc.dialect import targets

    supported = targets.get(target.compiler).supported_ops()
    return target.accelerator or {"while", "if"} <= set(supported)


def _runs_variant(compiler, variant: str) -> bool:
    """Whether a compiler target can run a variant: artifacts need an artifact format, and @tgc.jit
    and tgc.grad compile for the CPU."""
    if variant == "artifact":
        return bool(compiler.artifact_format)
    if variant in ("jit", "tgc_grad"):
        return compiler.device_type == "CPU"
    return True


# ---- outcomes ------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # "pass", "wrong" (a number or shape differs), "error" (tgc raised), "crash" (died)
    category: str  # where: "forward", "gradient", "<variant>", "build", "run", ...
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "pass"


class Wrong(AssertionError):
    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category


class Stage(Exception):
    """An exception raised by tgc while doing ``stage`` (building, compiling, running)."""

    def __init__(self, stage: str, exc: BaseException):
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.stage = stage
        self.trace = traceback.format_exc()


# ---- building a graph through the TF1 API --------------------------------------------------------

# The module whose API the building functions below call, and its op table: tgc (None), or
# TensorFlow's ``tensorflow.compat.v1`` with tfdiff.py's table while that module builds the same
# graph in TensorFlow itself (``building_with``).
_BUILDER: dict = {"module": None, "calls": None}


def api_module():
    """The module the graph is built with: tgc, or the one ``building_with`` names."""
    if _BUILDER["module"] is None:
        import tgc

        return tgc
    return _BUILDER["module"]


@contextlib.contextmanager
def building_with(module, calls: dict):
    """Build graphs with ``module``'s API (tensorflow.compat.v1) and ``calls`` (registry op ->
    ``call(tensors, attrs)``) for every node: an op without a call is refused, never made by
    tgc's make_op."""
    saved = dict(_BUILDER)
    _BUILDER.update(module=module, calls=calls)
    try:
        yield
    finally:
        _BUILDER.update(saved)


def _foreign() -> bool:
    return _BUILDER["module"] is not None


def _select(tf, t):
    """The registry's select broadcasts as TF's SelectV2 (tf.where_v2); TF1's tf.where takes
    operands of one shape only, so it builds the graphs whose operands have one known shape."""
    shapes = [x.shape for x in t[:3]]
    same = (
        all(s.is_fully_defined() for s in shapes) and len({tuple(s.as_list()) for s in shapes}) == 1
    )
    return (tf.where if same else tf.where_v2)(t[0], t[1], t[2])


def _api_calls(tf=None):
    """Registry op -> a call of the TF1 API that a user would write for it (with the node's attrs),
    in ``tf`` (tgc by default; tfdiff.py builds TensorFlow's table on TensorFlow's module).

    Ops not listed (and one-operand ops without attributes, which go through ``tf.<name>`` or
    ``tf.nn.<name>`` when those exist) are built with the frontend's generic ``make_op``."""
    if tf is None:
        import tgc as tf

    def reduction(fn):
        return lambda t, a: fn(t[0], axis=list(a["axes"]), keepdims=a["keepdims"])

    return {
        "add": lambda t, a: t[0] + t[1],
        "subtract": lambda t, a: t[0] - t[1],
        "multiply": lambda t, a: t[0] * t[1],
        "divide": lambda t, a: t[0] / t[1],
        "pow": lambda t, a: t[0] ** t[1],
        "negative": lambda t, a: -t[0],
        "maximum": lambda t, a: tf.maximum(t[0], t[1]),
        "minimum": lambda t, a: tf.minimum(t[0], t[1]),
        "reduce_sum": reduction(tf.reduce_sum),
        "reduce_mean": reduction(tf.reduce_mean),
        "reduce_max": reduction(tf.reduce_max),
        "reduce_min": reduction(tf.reduce_min),
        "reduce_prod": reduction(tf.reduce_prod),
        "transpose": lambda t, a: tf.transpose(t[0], perm=list(a["perm"])),
        "reshape": lambda t, a: tf.reshape(t[0], list(a["shape"])),
        "reshape_like": lambda t, a: tf.reshape(t[0], tf.shape(t[1])),
        "expand_dims": lambda t, a: tf.expand_dims(t[0], a["axis"]),
        "tile": lambda t, a: tf.tile(t[0], list(a["multiples"])),
        "slice": lambda t, a: tf.slice(t[0], list(a["begin"]), list(a["size"])),
        "strided_slice": lambda t, a: tf.strided_slice(
            t[0],
            list(a["begin"]),
            list(a["end"]),
            list(a["strides"]),
            begin_mask=a["begin_mask"],
            end_mask=a["end_mask"],
        ),
        "matmul": lambda t, a: tf.matmul(
            t[0], t[1], transpose_a=a["transpose_a"], transpose_b=a["transpose_b"]
        ),
        "softmax": lambda t, a: tf.nn.softmax(t[0], axis=a["axis"]),
        "log_softmax": lambda t, a: tf.nn.log_softmax(t[0], axis=a["axis"]),
        "softmax_cross_entropy_with_logits": lambda t, a: (
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=t[0], logits=t[1], axis=a["axis"])
        ),
        "sigmoid_cross_entropy_with_logits": lambda t, a: tf.nn.sigmoid_cross_entropy_with_logits(
            labels=t[0], logits=t[1]
        ),
        "sparse_softmax_cross_entropy_with_logits": lambda t, a: (
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t[0], logits=t[1])
        ),
        "concat": lambda t, a: tf.concat([t[0], t[1]], a["axis"]),
        "split": lambda t, a: tf.split(t[0], a["num_split"], axis=a["axis"]),
        "cast": lambda t, a: tf.cast(t[0], a["dtype"]),
        "argmax": lambda t, a: tf.argmax(t[0], axis=a["axis"], output_type=a["output_type"]),
        "argmin": lambda t, a: tf.argmin(t[0], axis=a["axis"], output_type=a["output_type"]),
        "select": lambda t, a: _select(tf, t),
        "shape": lambda t, a: tf.shape(t[0], out_type=a["out_type"]),
        "gather": lambda t, a: tf.gather(t[0], t[1]),
        "one_hot": lambda t, a: tf.one_hot(
            t[0],
            a["depth"],
            on_value=a["on_value"],
            off_value=a["off_value"],
            axis=a["axis"],
            dtype=a["dtype"],
        ),
        "l2_loss": lambda t, a: tf.nn.l2_loss(t[0]),
    }


_API = {}


def _api(op: str):
    if _foreign():
        return _BUILDER["calls"].get(op)
    if not _API:
        _API.update(_api_calls())
    return _API.get(op)


def _generic_api(op: str, operands: int):
    """``tf.<op>`` or ``tf.nn.<op>`` for a one-operand op without attributes, if the API has it."""
    import tgc as tf
    from tgc.dialect.registry import REGISTRY

    if operands != 1 or REGISTRY[op].attrs:
        return None
    fn = getattr(tf, op, None) or getattr(tf.nn, op, None)
    return (lambda t, a: fn(t[0])) if callable(fn) else None


def apply_node(node, tensors: list, dtype: str, use_api: bool) -> list:
    """The node's result tensors, built by the TF1 API call (``use_api``) or by ``make_op``."""
    tf = api_module()

    if node.op == "constant":
        return [tf.constant(np.asarray(node.attrs["value"]), dtype=dtype)]
    if _foreign():
        return _apply_foreign(node, tensors)
    from tgc.frontend.build import make_op

    call = (_api(node.op) or _generic_api(node.op, len(tensors))) if use_api else None
    out = call(tensors, node.attrs) if call else None
    if out is None or any(out is t or out is _graph_element(t) for t in tensors):
        # The API may hand back its input (tf.cast to the same dtype does, as in TF): then the
        # node's value would be that tensor, and a gradient with respect to it another one; the
        # registry op is a tensor of its own.
        out = make_op(node.op, tensors, **node.attrs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def _apply_foreign(node, tensors: list) -> list:
    """The node built by the foreign module's call (TensorFlow's): every node, by its table."""
    call = _api(node.op)
    if call is None:
        raise KeyError(f"no {api_module().__name__} call for registry op {node.op!r}")
    out = call(tensors, node.attrs)
    out = list(out) if isinstance(out, (list, tuple)) else [out]
    # tf.cast to the same dtype hands back its input: the node is a tensor of its own (a target
    # of tf.gradients), as the registry op is on tgc's side.
    return [api_module().identity(o) if any(o is t for t in tensors) else o for o in out]


def _graph_element(t):
    return t._as_graph_element() if hasattr(t, "_as_graph_element") else t


def build_values(spec, input_tensors: list, target: Target | None = None) -> list:
    """Tensors of every value id, the inputs given; with ``target`` each op
    goes on its node's device."""
    tf = api_module()

    values = list(input_tensors)
    for i, node in enumerate(spec.nodes):
        scope = tf.device(target.device(node.device)) if target else contextlib.nullcontext()
        with scope:
            values.extend(build_node(spec, node, [values[a] for a in node.args], str(i)))
    return values


def _use_api(spec, path: str) -> bool:
    """Whether the node at ``path`` (its index; a body's nodes: the control node's path, then
    theirs) is built by a TF1 API call: 70 % of them, by a hash of the seed and the path."""
    if spec.api is not None:
        return spec.api
    return zlib.crc32(f"{spec.seed}/{path}".encode()) % 10 < 7


def build_node(spec, node, tensors: list, path: str) -> list:
    """A node's result tensors: a registry op, or a loop, cond or case (generator.py)."""
    if node.op in CONTROL_OPS:
        return build_control(spec, node, tensors, path)
    return apply_node(node, tensors, spec.dtype, _use_api(spec, path))


def build_body(spec, body, params: list, path: str) -> list:
    """The tensors a ``Body`` returns on ``params`` (a loop's variables and captured tensors, or a
    branch's captured tensors)."""
    values = list(params)
    for j, node in enumerate(body.nodes):
        values.extend(build_node(spec, node, [values[a] for a in node.args], f"{path}/{j}"))
    return [values[o] for o in body.outputs]


def build_control(spec, node, tensors: list, path: str) -> list:
    """``tf.while_loop`` over a counter and the loop variables; ``tf.cond``; ``tf.case``."""
    tf = api_module()

    attrs = node.attrs
    if node.op == "while_loop":
        count = attrs["vars"]
        captured = tensors[count:]
        trips = attrs["trips"]

        def body(i, *loop_vars):
            return [i + 1] + build_body(spec, attrs["body"], [*loop_vars, *captured], path)

        invariants = attrs["invariants"]
        if invariants is not None:
            invariants = [tf.TensorShape([])] + [tf.TensorShape(list(s)) for s in invariants]
        out = tf.while_loop(
            lambda i, *loop_vars: i < trips,
            body,
            [tf.constant(0), *tensors[:count]],
            shape_invariants=invariants,
            maximum_iterations=attrs["maximum_iterations"],
        )
        return list(out)[1:]  # less the counter
    count = 1 if node.op == "cond" else attrs["preds"]
    preds, captured = tensors[:count], tensors[count:]
    fns = [
        (lambda b=b, k=k: build_body(spec, b, captured, f"{path}/{k}"))
        for k, b in enumerate(attrs["branches"])
    ]
    if node.op == "cond":
        out = tf.cond(preds[0], fns[0], fns[1], strict=True)
    else:
        out = tf.case(list(zip(preds, fns)), default=fns[-1], exclusive=False, strict=True)
    return list(out)


def build_loss(spec, values: list):
    """sum over the loss terms of reduce_sum(value * weight) (no reduction of a 0-d term)."""
    tf = api_module()

    total = None
    for v, weight in spec.loss:
        term = values[v] * tf.constant(weight.astype(spec.dtype))
        if len(weight.shape):
            term = tf.reduce_sum(term)
        total = term if total is None else total + term
    return total


def make_inputs(spec) -> tuple:
    """(input tensors or Variables, feed dict) of a fresh graph."""
    tf = api_module()

    tensors, feeds = [], {}
    for inp, array in zip(spec.inputs, spec.arrays):
        if inp.kind == "variable":
            tensors.append(tf.Variable(array, name=inp.name))
        else:
            t = tf.placeholder(inp.dtype or spec.dtype, list(inp.static), name=inp.name)
            tensors.append(t)
            feeds[t] = array
    return tensors, feeds


@dataclass
class Built:
    inputs: list
    feeds: dict
    values: list
    loss: object
    grads: list  # per target: a Tensor or None
    fetches: list  # tensors: forward fetches, the loss, the non-None gradients


def build_graph(spec, devices: Target | None = None) -> Built:
    inputs, feeds = make_inputs(spec)  # variables too: an accelerator that cannot hold one leaves
    # it on the CPU by soft placement
    return _built_on(spec, inputs, feeds, devices)


def _built_on(spec, inputs: list, feeds: dict, devices) -> Built:
    """The graph's ops on ``inputs``: each on its node's device of ``devices`` (a Target or
    ClusterTasks) where given, the loss and its gradients."""
    tf = api_module()

    values = build_values(spec, inputs, devices)  # a Variable enters ops as itself, as in TF
    loss = build_loss(spec, values)
    xs = [inputs[t] if t < len(inputs) else values[t] for t in spec.targets]
    grads = tf.gradients(loss, xs) if xs else []
    fetches = [values[f] for f in spec.fetches] + [loss] + [g for g in grads if g is not None]
    return Built(inputs, feeds, values, loss, list(grads), fetches)


def unpack(spec, built: Built, out: list) -> dict:
    """Session.run's list back into forward values, loss and gradients
    (None where tgc gave None)."""
    n = len(spec.fetches)
    forward, loss, rest = list(out[:n]), out[n], list(out[n + 1 :])
    grads = [rest.pop(0) if g is not None else None for g in built.grads]
    return {"forward": forward, "loss": loss, "grads": grads}


def run_session(spec, target: Target, config=None, devices: bool = False) -> dict:
    import tgc as tf

    graph = tf.Graph()
    log = io.StringIO()
    with graph.as_default():
        # On an accelerator every op (gradients too) asks for it; soft placement keeps the rest on
        # the CPU. (tf.device binds to the default graph: made inside it.)
        scope = tf.device(target.device(0)) if target.accelerator else contextlib.nullcontext()
        try:
            with scope:
                built = build_graph(spec, target if devices else None)
        except Exception as exc:  # noqa: BLE001 - a valid graph that tgc refuses to build is a finding
            raise Stage("build", exc) from None
        try:
            with tf.Session(config=config or target.config()) as sess, _placement_log(log, target):
                if any(i.kind == "variable" for i in spec.inputs):
                    sess.run(tf.global_variables_initializer())
                out = sess.run(built.fetches, feed_dict=built.feeds)
        except Exception as exc:  # noqa: BLE001
            raise Stage("run", exc) from None
    result = unpack(spec, built, out)
    if target.accelerator:
        result["placement"] = parse_placement(log.getvalue())
        result["node_names"] = node_op_names(spec, built.values)
    return result


def _placement_log(log: io.StringIO, target: Target):
    """log_device_placement's lines (an accelerator's config asks for them) go into ``log``."""
    return contextlib.redirect_stderr(log) if target.accelerator else contextlib.nullcontext()


PLACEMENT_LINE = re.compile(r"^(?P<name>.+): \((?P<op>[\w.]+)\): (?P<device>\S+)$")


def parse_placement(text: str) -> list:
    """(op name, op type, device) of each line log_device_placement printed."""
    found = (PLACEMENT_LINE.match(line) for line in text.splitlines())
    return [(m["name"], m["op"], m["device"]) for m in found if m]


def node_op_names(spec, values: list) -> list:
    """Per node: the graph op name of its first result (what the placement lists)."""
    names, value = [], len(spec.inputs)
    for node in spec.nodes:
        element = _graph_element(values[value])
        names.append(element.op.name if hasattr(element, "op") else None)
        value += node.results
    return names


# ---- the variants --------------------------------------------------------------------------------


def _function(spec, returns):
    """A plain Python function of the input arrays that builds the graph (for
    tgc.jit and tgc.grad)."""

    def fn(*args):
        values = build_values(spec, list(args))
        return returns(values)

    return fn


def run_jit(spec, target: Target) -> dict:
    import tgc

    fn = _function(spec, lambda values: [values[f] for f in spec.fetches])
    try:
        out = tgc.jit(fn)(*spec.arrays)
    except Exception as exc:  # noqa: BLE001
        raise Stage("jit", exc) from None
    return {"forward": list(out)}


def grad_argnums(spec) -> tuple:
    """The input targets (tgc.grad differentiates by arguments only), in the targets' order."""
    return tuple(t for t in spec.targets if t < len(spec.inputs))


def run_tgc_grad(spec, target: Target) -> dict:
    import tgc

    argnums = grad_argnums(spec)
    fn = _function(spec, lambda values: build_loss(spec, values))
    try:
        out = tgc.grad(fn, argnums=argnums)(*spec.arrays)
    except Exception as exc:  # noqa: BLE001
        raise Stage("tgc_grad", exc) from None
    return {"grads": list(out)}


def run_artifact(spec, target: Target) -> dict:
    """export_graph -> the lowering of `tgc compile file.mlir` -> tgc.runtime.load -> call."""
    import tgc as tf
    from mlir import ir

    from tgc.dialect.context import make_context
    from tgc.driver.signature import short_name
    from tgc.frontend.export import export_graph
    from tgc.driver import aot
    from tgc.runtime import load  # the loader of the artifact's format
    from tgc.tools.compile_cmd import mlir_module

    graph = tf.Graph()
    with graph.as_default(), tempfile.TemporaryDirectory() as out:
        try:
            built = build_graph(spec)
        except Exception as exc:  # noqa: BLE001
            raise Stage("build", exc) from None
        fetches = _unique(built.fetches)
        try:
            path = os.path.join(out, "graph.mlir")
            export_graph(fetches, None, path=path)
            options = aot.Options(target=target.compiler)
            with make_context(), ir.Location.unknown():
                lowered = aot.lower_module(mlir_module(path)(), "artifact", options)
            artifact = load(aot.write_artifact(lowered, options, os.path.join(out, "art")))
        except Exception as exc:  # noqa: BLE001
            raise Stage("artifact compile", exc) from None
        names = {i.name for i in artifact.signature.inputs}
        kwargs = {short_name(t): a for t, a in built.feeds.items() if short_name(t) in names}
        try:
            results = artifact(**kwargs)
        except Exception as exc:  # noqa: BLE001
            raise Stage("artifact run", exc) from None
        out_list = [results[short_name(t)] for t in built.fetches]
    return unpack(spec, built, out_list)


def _unique(tensors: list) -> list:
    seen, out = set(), []
    for t in tensors:
        if t.name not in seen:
            seen.add(t.name)
            out.append(t)
    return out


# ---- comparisons ---------------------------------------------------------------------------------


@dataclass
class Reference:
    values: list  # in the graph's dtype
    values64: list  # in float64
    fd: dict  # target value id -> (gradient, kink mask)


def compute_reference(spec, with_gradients: bool = True) -> Reference:
    values = reference.evaluate(spec, spec.dtype)
    values64 = reference.evaluate(spec, "float64")
    fd = (
        {t: reference.finite_difference(spec, t, values64) for t in spec.targets}
        if with_gradients
        else {}
    )
    return Reference(values, values64, fd)


def forward_tolerance(dtype: str, want64: np.ndarray, rounding: np.ndarray) -> np.ndarray:
    """Allowed |got - want| per element: the dtype's rounding, plus ten times the error the numpy
    reference itself makes in this dtype (an ill-conditioned graph amplifies
    rounding for everyone)."""
    scale = 1.0 + (np.abs(want64).max() if want64.size else 0.0)
    if dtype == "float32":
        return 1e-4 * np.abs(want64) + 1e-5 * scale + 10 * rounding
    return 1e-9 * np.abs(want64) + 1e-10 * scale + 10 * rounding


def compare_array(
    what: str,
    category: str,
    got,
    want,
    dtype: str,
    want64=None,
    rounding=None,
    skip=None,
    rtol=None,
    atol_scale=None,
    extra=None,
) -> None:
    """``extra``: an allowance on top (the accelerator's bounds, accel_numerics.py)."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        raise Wrong(category, f"{what}: shape {got.shape}, expected {want.shape}")
    if want.dtype.kind != "f":
        if got.dtype != want.dtype:
            raise Wrong(category, f"{what}: dtype {got.dtype}, expected {want.dtype}")
        if not np.array_equal(got, want):
            raise Wrong(
                category, f"{what}: values differ\n got {got.ravel()[:8]}\nwant {want.ravel()[:8]}"
            )
        return
    if got.dtype.name != dtype:
        raise Wrong(category, f"{what}: dtype {got.dtype}, expected {dtype}")
    want64 = np.asarray(want, np.float64) if want64 is None else np.asarray(want64, np.float64)
    if rtol is not None:
        scale = 1.0 + (np.abs(want64).max() if want64.size else 0.0)
        allowed = rtol * np.abs(want64) + atol_scale * scale
    else:
        rounding = np.zeros(want64.shape) if rounding is None else rounding
        allowed = forward_tolerance(dtype, want64, rounding)
    if extra is not None:
        allowed = allowed + extra
    error = np.abs(got.astype(np.float64) - want64)
    bad = ~(error <= allowed)  # NaN counts as bad
    if skip is not None:
        bad &= ~skip
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise Wrong(
            category,
            f"{what}: {int(bad.sum())} of {bad.size} elements differ; at {index} got "
            f"{got[index]!r}, expected {want64[index]!r} (allowed {allowed[index]:.3g})",
        )


GRAD_TOL = {"float64": (1e-4, 1e-5), "float32": (2e-2, 2e-3)}  # (rtol, atol per unit of scale)


# An accelerator's forward bounds are first-order (accel_numerics.py): twice them covers the
# products of two bounded errors, which are second order in 2^-8.
ACCEL_BOUND_FACTOR = 2.0


def accel_allowance(bounds, value: int):
    """The accelerator's allowance for ``value`` (None without an accelerator)."""
    return None if bounds is None else ACCEL_BOUND_FACTOR * bounds.forward[value]


def check_forward(
    spec, ref: Reference, forward: list, category: str = "forward", bounds=None
) -> None:
    for f, got in zip(spec.fetches, forward):
        if bounds is not None and f in bounds.uncertain:
            continue  # flips within the accelerator's rounding: no single right answer
        want, want64 = ref.values[f], ref.values64[f]
        rounding = (
            np.abs(np.asarray(want, np.float64) - want64) if want64.dtype.kind == "f" else None
        )
        extra = accel_allowance(bounds, f) if want64.dtype.kind == "f" else None
        compare_array(f"v{f}", category, got, want, spec.dtype, want64, rounding, extra=extra)


def check_gradients(
    spec, ref: Reference, grads: list, targets: tuple, category: str = "gradient", bounds=None
) -> None:
    rtol, atol = GRAD_TOL[spec.dtype]
    if bounds is not None:  # the accelerator's rounding, relative to the gradient's magnitude
        accel = bounds.gradient_rtol(spec.dtype)
        rtol, atol = rtol + accel, atol + accel
    for t, got in zip(targets, grads):
        fd, kink = ref.fd[t]
        extra = None
        if bounds is not None and t in bounds.gradients:  # the forward bounds' effect
            extra = ACCEL_BOUND_FACTOR * bounds.gradients[t]
        if got is None:
            if np.any(np.abs(fd[~kink]) > atol):
                raise Wrong(
                    category, f"d loss/d v{t}: None, but finite differences say {fd.ravel()[:6]}"
                )
            continue
        compare_array(
            f"d loss/d v{t}",
            category,
            got,
            fd.astype(spec.dtype),
            spec.dtype,
            fd,
            skip=kink,
            rtol=rtol,
            atol_scale=atol,
            extra=extra,
        )


def check_same(spec, ref: Reference, base: dict, other: dict, category: str, bounds=None) -> None:
    """A variant's results against the single-device Session's, within float32 rounding (and
    twice an accelerator's bounds: each run may be off by them, in opposite directions)."""
    for f, b, o in zip(spec.fetches, base.get("forward", []), other.get("forward", [])):
        if bounds is not None and f in bounds.uncertain:
            continue
        want64 = ref.values64[f]
        rounding = (
            np.abs(np.asarray(ref.values[f], np.float64) - want64)
            if want64.dtype.kind == "f"
            else None
        )
        compare_array(
            f"v{f} against the Session",
            category,
            o,
            b,
            spec.dtype,
            rounding=rounding
            if rounding is None
            else rounding + np.abs(np.asarray(b, np.float64) - want64),
            extra=None if rounding is None else _twice(accel_allowance(bounds, f)),
        )
    if "grads" in other and "grads" in base:
        rtol, atol = (1e-4, 1e-5) if spec.dtype == "float32" else (1e-7, 1e-9)
        if bounds is not None:
            rtol, atol = (x + 2 * bounds.gradient_rtol(spec.dtype) for x in (rtol, atol))
        allowances = bounds.gradients if bounds is not None else {}
        for t, b, o in zip(spec.targets, base["grads"], other["grads"]):
            if (b is None) != (o is None):
                raise Wrong(
                    category,
                    f"d loss/d v{t}: {'None' if o is None else 'a value'} against the Session's "
                    f"{'None' if b is None else 'value'}",
                )
            if b is not None:
                compare_array(
                    f"d loss/d v{t} against the Session",
                    category,
                    o,
                    b,
                    spec.dtype,
                    skip=ref.fd[t][1] if t in ref.fd else None,
                    rtol=rtol,
                    atol_scale=atol,
                    extra=_twice(accel_allowance_of(allowances, t)),
                )


def accel_allowance_of(allowances: dict, target: int):
    return ACCEL_BOUND_FACTOR * allowances[target] if target in allowances else None


def _twice(allowance):
    return None if allowance is None else 2 * allowance


# ---- one graph -----------------------------------------------------------------------------------


def run_checks(spec, target: str | Target = "cpu", variant: str | None = None) -> Outcome:
    """All checks of one drawn graph on ``target``; never raises for a tgc failure."""
    from tgc.dialect import targets

    target = target_named(target) if isinstance(target, str) else target
    with targets.selected(target.compiler):
        return _checks(spec, target, variant or spec.variant)


def _checks(spec, target: Target, variant: str) -> Outcome:
    try:
        ref = compute_reference(spec)
        base = run_session(spec, target)
        bounds = accel_bounds(spec, ref, base) if target.accelerator else None
        check_forward(spec, ref, base["forward"], bounds=bounds)
        check_gradients(spec, ref, base["grads"], spec.targets, bounds=bounds)
        if variant in target.variants:
            _run_variant(spec, target, variant, ref, base, bounds)
    except Wrong as exc:
        return Outcome("wrong", exc.category, str(exc))
    except Stage as exc:
        return Outcome("error", exc.stage, str(exc))
    if bounds is not None and bounds.uncertain:  # said, so that a campaign can count them
        uncertain = ", ".join(f"v{v}" for v in sorted(bounds.uncertain))
        return Outcome("pass", variant, f"{NOT_COMPARED}: {uncertain}")
    return Outcome("pass", variant)


# A pass's detail when the accelerator's rounding may flip some values (accel_numerics.py): those
# values and the gradients are not compared.
NOT_COMPARED = "not compared (may flip within the accelerator's rounding)"


def accel_bounds(spec, ref: Reference, base: dict):
    """The accelerator's bounds for the nodes the base Session placed on it (a node whose op the
    placement does not list, merged or folded away, counts as there when ops of its type were)."""
    from conformance.accel_numerics import PRODUCT_OPS, error_bounds, gradient_allowances

    computing = [(n, op, d) for n, op, d in base["placement"] if not TRANSFER_OP.search(op)]
    on_accel = [(name, op) for name, op, device in computing if ":ACCEL:" in device]
    names = {name for name, _ in on_accel}  # a composite op's parts all carry its name
    listed = {name for name, _, _ in computing}
    types = {op.removeprefix("tgc.") for _, op in on_accel}
    accel_nodes = {
        i
        for i, (node, name) in enumerate(zip(spec.nodes, base["node_names"]))
        if name in names or (name not in listed and node.op in types)
    }
    held = {
        i
        for i, inp in enumerate(spec.inputs)
        if inp.kind == "variable" and (inp.name, "tgc.variable") in set(on_accel)
    }
    with _control_flow_evaluable():
        bounds = error_bounds(spec, ref.values64, accel_nodes, held)
        bounds.gradients = gradient_allowances(spec, bounds, ref.fd)
    bounds.matrix_ops = sum(op.removeprefix("tgc.") in PRODUCT_OPS for _, op in on_accel)
    bounds.vector_ops = len(on_accel) - bounds.matrix_ops
    return bounds


@contextlib.contextmanager
def _control_flow_evaluable():
    """accel_numerics carries bounds through each node by evaluating it with REGISTRY; a loop or
    cond node (CPU, by soft placement) is no registry op. Until accel_numerics evaluates them
    itself (requests.md, randomflow 1), its evaluation runs them through reference.evaluate_op
    for the duration of a check (a no-op once it does)."""
    from conformance import accel_numerics

    original = accel_numerics._evaluate
    if "CONTROL_OPS" in vars(accel_numerics):  # it handles them itself
        yield
        return

    def evaluate(op, args, attrs):
        if op in CONTROL_OPS:
            return reference.evaluate_op(op, [a.copy() for a in args], attrs, None, None)
        return original(op, args, attrs)

    accel_numerics._evaluate = evaluate
    try:
        yield
    finally:
        accel_numerics._evaluate = original


def _artifact_applies(spec, target: Target, base: dict) -> bool:
    """An accelerator's artifact runs the whole graph there (`tgc compile --target accel`): only
    for a graph whose every op the Session placed on it, and whose placeholders declare every dim
    (the accelerator compiles static shapes; a Session knows them from the feeds, an artifact
    only from the graph)."""
    if not target.accelerator:
        return True
    if any(None in inp.static for inp in spec.inputs):
        return False
    return all(":ACCEL:" in device for _, _, device in base["placement"])


TRANSFER_OP = re.compile(r"send|recv", re.IGNORECASE)


# ---- the cluster variant -------------------------------------------------------------------------

_LOCAL_CLUSTER: list = []  # (worker servers, ps servers) of this process's cluster, once started


def local_cluster() -> tuple:
    """This process's local Ray cluster, one worker and one ps task, started on first use (seconds)
    and kept for the next graphs; ``close_local_cluster`` stops it."""
    import tgc as tf

    if not _LOCAL_CLUSTER:
        _LOCAL_CLUSTER.append(tf.test.create_local_cluster(num_workers=1, num_ps=1))
    return _LOCAL_CLUSTER[0]


def close_local_cluster() -> None:
    while _LOCAL_CLUSTER:
        workers, ps = _LOCAL_CLUSTER.pop()
        for server in workers + ps:
            server.close()


@dataclass(frozen=True)
class ClusterTasks:
    """A node's drawn device 0 or 1 as a task of the local cluster (``build_values``' target)."""

    tasks: tuple = ("/job:worker/task:0", "/job:ps/task:0")

    def device(self, index: int) -> str:
        return self.tasks[index]


def run_cluster(spec) -> dict:
    """The graph as a ps/worker program: inputs (variables too) on the ps task, each op on its
    node's task, run by a Session on the worker's target."""
    import tgc as tf

    workers, _ = local_cluster()
    tasks = ClusterTasks()
    graph = tf.Graph()
    with graph.as_default():
        try:
            with tf.device(tasks.device(1)):
                inputs, feeds = make_inputs(spec)
            built = _built_on(spec, inputs, feeds, tasks)
        except Exception as exc:  # noqa: BLE001 - a valid graph that tgc refuses to build is a finding
            raise Stage("build", exc) from None
        try:
            with tf.Session(workers[0].target) as sess:
                if any(i.kind == "variable" for i in spec.inputs):
                    sess.run(tf.global_variables_initializer())
                out = sess.run(built.fetches, feed_dict=built.feeds)
        except Exception as exc:  # noqa: BLE001
            raise Stage("run", exc) from None
    return unpack(spec, built, out)


def _run_variant(
    spec, target: Target, variant: str, ref: Reference, base: dict, bounds=None
) -> None:
    import tgc as tf

    if variant == "cluster":
        check_same(spec, ref, base, run_cluster(spec), variant)
    elif variant == "two_devices":
        check_same(
            spec,
            ref,
            base,
            run_session(spec, target, target.config(devices=2), devices=True),
            variant,
            bounds,
        )
    elif variant == "opt_l0":
        config = target.config(opt_level=tf.OptimizerOptions.L0)
        check_same(spec, ref, base, run_session(spec, target, config), variant, bounds)
    elif variant == "artifact" and _artifact_applies(spec, target, base):
        check_same(spec, ref, base, run_artifact(spec, target), variant, bounds)
    elif variant == "jit":
        check_same(spec, ref, base, run_jit(spec, target), variant)
    elif variant == "tgc_grad":
        argnums = grad_argnums(spec)
        if argnums:
            check_gradients(spec, ref, run_tgc_grad(spec, target)["grads"], argnums, variant)
