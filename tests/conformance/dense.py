"""Dense-layer chains drawn at random: the CPU's GEMM fast paths checked end to end.

The op-registry graphs (generator.py) draw matmuls of 1-4 wide operands: they never reach what a
dense layer takes on the CPU, where a wrong number can pass every one-op test. A chain here is
``x`` (a placeholder, its batch dim ``None`` or static, fed 0, 1, odd or larger sizes) through 1-3
layers ``act(h @ W + b)``: ``W`` a Variable (sometimes stored N x K and read with
``transpose_b``), the bias none, ``+ b`` or ``tf.nn.bias_add``, the activation relu, relu6 or none,
and sometimes a fan-out (the product or the activation also summed into the loss), so that the
GEMM epilogue's fusion must be refused. Widths are drawn from 1-20 (tgc-narrow-gemm's 2-16 wide C),
40-60, and 100-300 with ``K`` up to 1537 and batches up to 257, so that the generated kernel (a
``None`` dim, or over 2^18 multiply-adds, several K and row blocks) and the parallel runtime's split
of one-row GEMMs (batch 1, from 2^17) are reached.

Variants: ``session`` (the default Session), ``codegen_threads`` (``TGC_GEMM=codegen`` and a
Session with ``intra_op_parallelism_threads=2``), and ``artifact_train`` (a few SGD steps of
``GradientDescentOptimizer``, batches of varying sizes, in a Session and in the artifact of
``tgc compile``'s default, variables updated in place, loaded with the same thread count: each
step's loss and the final variables must agree, and both with numpy's SGD).

The loss is ``sum(term * weight)`` over the last activation and the fanned-out values, each weight
a fed placeholder (so the batch may change between steps). Forward values and ``tf.gradients``
(of ``x``, every ``W`` and ``b``) are compared with a float64 numpy reference within bounds
derived from the arithmetic, not a blanket tolerance: a K-term dot product in precision u is
within (K + 2) u (|A| @ |B|) (twice that allowed), carried through the chain, and an element whose
pre-activation lies within its forward bound of a kink (0, or 6 for relu6) may take either side's
gradient.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field, replace

import numpy as np

from conformance.checks import Outcome

ACTIVATIONS = ("relu", "relu6", "none")
BIAS_FORMS = ("none", "add", "bias_add")
FAN_OUTS = ("none", "none", "product", "activation")
DENSE_VARIANTS = ("session", "codegen_threads", "artifact_infer", "artifact_train")
KINKS = {"relu": (0.0,), "relu6": (0.0, 6.0), "none": ()}
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}
SAFETY = 2.0  # the bounds are first order: twice them covers the rest


@dataclass(frozen=True)
class Layer:
    units: int
    activation: str
    bias: str  # "none", "add" (h @ W + b) or "bias_add" (tf.nn.bias_add)
    transpose_b: bool  # W stored units x K, read with transpose_b=True
    fan_out: str  # "none", "product" (h @ W + b also in the loss), "activation" (act(.) too)


@dataclass
class DenseSpec:
    seed: int
    dtype: str
    features: int  # K of the first layer
    static_batch: int | None  # the placeholder's batch dim (None: unknown)
    layers: tuple
    variant: str
    threads: int = 1
    learning_rate: float = 0.0
    # the session variants fetch tf.gradients too (a product whose relu's gradient reads it keeps
    # it apart; without, relu and relu6 go into the GEMM's epilogue)
    gradients: bool = True
    params: list = field(default_factory=list)  # per layer: (W, b or None) in the dtype
    steps: list = field(default_factory=list)  # per step: (x, [loss weight per loss term])

    def loss_terms(self) -> list:
        """(layer, "product" or "activation") of each loss term, the last activation first."""
        terms = [(len(self.layers) - 1, "activation")]
        for i, layer in enumerate(self.layers):
            if layer.fan_out == "product":
                terms.append((i, "product"))
            elif layer.fan_out == "activation" and i < len(self.layers) - 1:
                terms.append((i, "activation"))
        return terms

    def describe(self) -> str:
        batch = "None" if self.static_batch is None else self.static_batch
        fed = [x.shape[0] for x, _ in self.steps]
        lines = [
            f"dense seed {self.seed} {self.dtype} variant={self.variant} threads={self.threads} "
            f"x=[{batch}, {self.features}] fed batches {fed} lr={self.learning_rate} "
            f"gradients={self.gradients}"
        ]
        k = self.features
        for i, layer in enumerate(self.layers):
            w = f"[{layer.units}, {k}]^T" if layer.transpose_b else f"[{k}, {layer.units}]"
            lines.append(
                f"  layer {i}: {layer.activation}(h @ W{w} bias={layer.bias}) "
                f"fan_out={layer.fan_out}"
            )
            k = layer.units
        return "\n".join(lines)


# ---- drawing -------------------------------------------------------------------------------------


def _width(ch) -> int:
    band = ch.integer(0, 9)
    if band < 4:
        return ch.integer(1, 20)  # tgc-narrow-gemm's C of 2-16, and 1 (a gemv's C column)
    if band < 7:
        return ch.integer(40, 60)
    return ch.integer(100, 300)


def _batch(ch) -> int:
    # past 97 rows: more than one of the generated kernel's row blocks
    return ch.choice([0, 1, 1, 2, 3, 5, 7, 17, 33, 64, 97, 257])


def draw_dense(ch, seed: int = 0, variant: str | None = None) -> DenseSpec:
    """A dense chain from ``ch`` (a generator.Chooser): layers, shapes, values and fed batches."""
    dtype = "float32" if ch.chance(65) else "float64"
    drawn = ch.choice(DENSE_VARIANTS)  # drawn always, so that a seed names one chain
    variant = variant or drawn
    train = variant == "artifact_train"
    artifact = variant in ("artifact_infer", "artifact_train")
    threads = 2 if variant == "codegen_threads" or (artifact and ch.chance(50)) else 1
    # a one-row GEMM the parallel runtime splits between threads (2^17 multiply-adds and more)
    gemv = threads == 2 and ch.chance(35)
    # K past 640: more than one of the kernel's K blocks
    features = _width(ch) if ch.chance(60) else ch.choice([256, 384, 512, 640, 1000, 1537])
    layers = [
        Layer(
            _width(ch),
            ch.choice(ACTIVATIONS),
            ch.choice(BIAS_FORMS),
            ch.chance(25),
            ch.choice(FAN_OUTS),
        )
        for _ in range(ch.integer(1, 3))
    ]
    batches = [_batch(ch) for _ in range(ch.integer(2, 3) if train else 1)]
    if gemv:
        features = ch.choice([512, 640])
        layers[0] = replace(layers[0], units=ch.integer(256, 300))
        batches[0] = 1
    static = None if ch.chance(70) or len(set(batches)) > 1 else batches[0]
    spec = DenseSpec(seed, dtype, features, static, tuple(layers), variant, threads)
    # powers of two: TF (and tgc) hold the rate as a float32 tensor, cast to a float64 variable
    spec.learning_rate = ch.choice([2.0**-6, 2.0**-4]) if train else 0.0
    spec.gradients = train or (variant != "artifact_infer" and ch.chance(60))
    rng = np.random.default_rng(ch.integer(0, 2**31 - 1))
    k = features
    for layer in layers:
        # scaled so that pre-activations are O(1) to O(10): relu6's clamp at 6 is reached
        scale = rng.choice([1.0, 3.0]) / np.sqrt(k)
        w = rng.standard_normal((k, layer.units)) * scale
        b = rng.uniform(-1.0, 1.0, layer.units) if layer.bias != "none" else None
        spec.params.append((w.astype(dtype), None if b is None else b.astype(dtype)))
        k = layer.units
    for n in batches:
        x = rng.uniform(-2.0, 2.0, (n, features)).astype(dtype)
        weights = [
            rng.standard_normal((n, layers[i].units)).astype(dtype) for i, _ in spec.loss_terms()
        ]
        spec.steps.append((x, weights))
    return spec


# ---- the numpy reference, with bounds ------------------------------------------------------------


def _activate(p: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(p, 0.0)
    if activation == "relu6":
        return np.clip(p, 0.0, 6.0)
    return p


def _mask(p: np.ndarray, activation: str) -> np.ndarray:
    """Where the activation passes the gradient (TF: relu's where p > 0, relu6's 0 < p < 6)."""
    if activation == "relu":
        return (p > 0).astype(np.float64)
    if activation == "relu6":
        return ((p > 0) & (p < 6)).astype(np.float64)
    return np.ones_like(p)


@dataclass
class Reference:
    products: list  # per layer: h @ W + b (float64)
    activations: list
    product_bounds: list  # per layer: what tgc's value may differ by (first order)
    loss: float
    loss_bound: float
    grads: dict  # name ("x", "w0", "b0", ...) -> (gradient, bound)


def _weight(spec: DenseSpec, params: list, i: int) -> tuple:
    w, b = params[i]
    w = np.asarray(w, np.float64)
    return w, (None if b is None else np.asarray(b, np.float64))


def reference(spec: DenseSpec, params: list, x: np.ndarray, loss_weights: list) -> Reference:
    """Forward values, loss and gradients in float64 with their error bounds in spec.dtype."""
    u = UNIT_ROUNDOFF[spec.dtype]
    h = np.asarray(x, np.float64)
    h_mag, h_err = np.abs(h), np.zeros(h.shape)  # |values| bound, and the error tgc may carry
    inputs, products, acts, bounds = [], [], [], []
    for i, layer in enumerate(spec.layers):
        w, b = _weight(spec, params, i)
        k = w.shape[0]
        p = h @ w
        p_mag = h_mag @ np.abs(w)
        if b is not None:
            p, p_mag = p + b, p_mag + np.abs(b)
        p_err = (k + 2) * u * p_mag + h_err @ np.abs(w)
        inputs.append((h, h_mag, h_err))
        products.append(p)
        bounds.append(p_err)
        h, h_mag, h_err = _activate(p, layer.activation), p_mag, p_err
        acts.append(h)
    terms = spec.loss_terms()
    loss, loss_bound = 0.0, 0.0
    upstream = [np.zeros(p.shape) for p in products]  # d loss / d activation (exact)
    from_products = [np.zeros(p.shape) for p in products]  # d loss / d product, direct terms
    for (i, kind), g in zip(terms, loss_weights):
        g = np.asarray(g, np.float64)
        value, err = (products[i] if kind == "product" else acts[i]), bounds[i]
        loss += float(np.sum(value * g))
        loss_bound += float(np.sum(err * np.abs(g)) + u * value.size * np.sum(np.abs(value * g)))
        (from_products if kind == "product" else upstream)[i] += g
    grads = {}
    g_a, e_a = upstream[-1], np.zeros(upstream[-1].shape)
    for i in reversed(range(len(spec.layers))):
        layer = spec.layers[i]
        w, b = _weight(spec, params, i)
        h, h_mag, h_err = inputs[i]
        p, p_err = products[i], bounds[i]
        mask = _mask(p, layer.activation)
        near = np.zeros(p.shape, bool)
        for kink in KINKS[layer.activation]:
            near |= np.abs(p - kink) <= SAFETY * p_err + u * abs(kink)
        g_p = g_a * mask + from_products[i]
        e_p = e_a * np.maximum(mask, near) + (np.abs(g_a) + e_a) * near
        g_mag = np.abs(g_a) + np.abs(from_products[i]) + e_a
        rows = p.shape[0]
        dw = h.T @ g_p
        dw_err = np.abs(h).T @ e_p + h_err.T @ g_mag + (rows + 2) * u * (h_mag.T @ g_mag)
        grads[f"w{i}"] = (dw, dw_err)
        if b is not None:
            grads[f"b{i}"] = (
                g_p.sum(axis=0),
                e_p.sum(axis=0) + (rows + 2) * u * g_mag.sum(axis=0),
            )
        g_h = g_p @ w.T
        e_h = e_p @ np.abs(w).T + (w.shape[1] + 2) * u * (g_mag @ np.abs(w).T)
        if i:
            g_a, e_a = g_h + upstream[i - 1], e_h
        else:
            grads["x"] = (g_h, e_h)
    return Reference(products, acts, bounds, loss, loss_bound, grads)


def sgd_reference(spec: DenseSpec) -> tuple:
    """(per-step loss, final params, final bounds) of numpy's SGD over spec.steps: each step's
    gradient bound, times the learning rate, added up (first order)."""
    params = [_weight(spec, spec.params, i) for i in range(len(spec.layers))]
    bounds = [(np.zeros(w.shape), None if b is None else np.zeros(b.shape)) for w, b in params]
    losses = []
    for x, weights in spec.steps:
        ref = reference(spec, params, x, weights)
        losses.append((ref.loss, ref.loss_bound))
        new_params, new_bounds = [], []
        for i, ((w, b), (wb, bb)) in enumerate(zip(params, bounds)):
            gw, ew = ref.grads[f"w{i}"]
            w = w - spec.learning_rate * gw
            wb = wb + spec.learning_rate * SAFETY * ew + 4 * UNIT_ROUNDOFF[spec.dtype] * np.abs(w)
            if b is not None:
                gb, eb = ref.grads[f"b{i}"]
                b = b - spec.learning_rate * gb
                bb = bb + spec.learning_rate * SAFETY * eb + 4 * UNIT_ROUNDOFF[spec.dtype] * abs(b)
            new_params.append((w, b))
            new_bounds.append((wb, bb))
        params, bounds = new_params, new_bounds
    return losses, params, bounds


# ---- tgc -----------------------------------------------------------------------------------------


class DenseWrong(Exception):
    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category


def compare(what: str, category: str, got, want, bound, dtype: str) -> None:
    got = np.asarray(got)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        raise DenseWrong(category, f"{what}: shape {got.shape}, expected {want.shape}")
    if got.dtype.name != dtype:
        raise DenseWrong(category, f"{what}: dtype {got.dtype}, expected {dtype}")
    allowed = SAFETY * np.asarray(bound) + 4 * UNIT_ROUNDOFF[dtype] * np.abs(want) + 1e-30
    error = np.abs(got.astype(np.float64) - want)
    bad = ~(error <= allowed)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DenseWrong(
            category,
            f"{what}: {int(bad.sum())} of {bad.size} elements differ; at {index} got "
            f"{got[index]!r}, expected {want[index]!r} (allowed {allowed[index]:.3g})",
        )


@dataclass
class BuiltChain:
    x: object
    loss_weights: list
    products: list
    activations: list
    variables: dict  # name -> tf.Variable
    loss: object


def build_chain(spec: DenseSpec) -> BuiltChain:
    """The chain through the TF1 API a user writes, in the current default graph."""
    import tgc as tf

    dtype = getattr(tf, spec.dtype)
    x = tf.placeholder(dtype, [spec.static_batch, spec.features], name="x")
    h, products, acts, variables = x, [], [], {}
    for i, (layer, (w0, b0)) in enumerate(zip(spec.layers, spec.params)):
        stored = w0.T.copy() if layer.transpose_b else w0
        w = tf.Variable(stored, name=f"w{i}")
        variables[f"w{i}"] = w
        p = tf.matmul(h, w, transpose_b=layer.transpose_b)
        if b0 is not None:
            b = tf.Variable(b0, name=f"b{i}")
            variables[f"b{i}"] = b
            p = tf.nn.bias_add(p, b) if layer.bias == "bias_add" else p + b
        products.append(p)
        if layer.activation == "relu":
            h = tf.nn.relu(p)
        elif layer.activation == "relu6":
            h = tf.nn.relu6(p)
        else:
            h = p
        acts.append(h)
    weights, loss = [], None
    for j, (i, kind) in enumerate(spec.loss_terms()):
        g = tf.placeholder(dtype, [spec.static_batch, spec.layers[i].units], name=f"g{j}")
        weights.append(g)
        term = tf.reduce_sum((products[i] if kind == "product" else acts[i]) * g)
        loss = term if loss is None else loss + term
    loss = tf.identity(loss, name="loss")
    return BuiltChain(x, weights, products, acts, variables, loss)


def _feeds(built: BuiltChain, step: tuple) -> dict:
    x, weights = step
    return {built.x: x, **dict(zip(built.loss_weights, weights))}


def _config(spec: DenseSpec):
    import tgc as tf

    return tf.ConfigProto(intra_op_parallelism_threads=spec.threads)


@contextlib.contextmanager
def _variant_environment(spec: DenseSpec):
    """TGC_GEMM=codegen for the codegen_threads variant; with 2 threads every core counts as free,
    so that the thread count asked is the one run, whatever the machine's load (as
    tests/unit/test_artifact_threads.py). Both undone after (a campaign's worker runs many)."""
    from tgc.runtime import blas_threads

    core_load = blas_threads.core_load()
    saved_gemm = os.environ.get("TGC_GEMM")
    if spec.variant == "codegen_threads":
        os.environ["TGC_GEMM"] = "codegen"
    if spec.threads > 1:
        core_load.free_cores = lambda: float(len(core_load.cpus))
    try:
        yield
    finally:
        vars(core_load).pop("free_cores", None)
        if saved_gemm is None:
            os.environ.pop("TGC_GEMM", None)
        else:
            os.environ["TGC_GEMM"] = saved_gemm


def _weights_grad_names(spec: DenseSpec) -> list:
    names = ["x"]
    for i, (_, b) in enumerate(spec.params):
        names += [f"w{i}"] + ([f"b{i}"] if b is not None else [])
    return names


def _stored(spec: DenseSpec, name: str, value: np.ndarray) -> np.ndarray:
    """A W's value or gradient as the reference holds it (K x N)."""
    if name.startswith("w") and spec.layers[int(name[1:])].transpose_b:
        return np.asarray(value).T
    return np.asarray(value)


def check_session_step(spec: DenseSpec, workdir: str | None = None) -> None:
    """One Session.run of the activations, the products the loss reads (a fetched product has a
    second user: no epilogue), the loss and (spec.gradients) the gradients, against the
    reference. With ``workdir`` (artifact_infer), the artifact of the same fetches, loaded with the
    spec's threads, gives the Session's numbers."""
    import tgc as tf

    x, weights = spec.steps[0]
    ref = reference(spec, spec.params, x, weights)
    fanned = [i for i, layer in enumerate(spec.layers) if layer.fan_out == "product"]
    names = _weights_grad_names(spec) if spec.gradients else []
    with tf.Graph().as_default():
        built = build_chain(spec)
        targets = [built.x if n == "x" else built.variables[n] for n in names]
        grads = tf.gradients(built.loss, targets) if targets else []
        products = [built.products[i] for i in fanned]
        fetches = built.activations + products + [built.loss] + list(grads)
        with tf.Session(config=_config(spec)) as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(fetches, _feeds(built, spec.steps[0]))
        if workdir is not None:
            got = _artifact_outputs(spec, fetches, workdir)
            bounds = ref.product_bounds + [ref.product_bounds[i] for i in fanned]
            for k, (s_out, a_out) in enumerate(zip(out, got)):
                bound = ref.loss_bound if k == len(out) - 1 else bounds[k]
                compare(f"fetch {k} (artifact against the Session)", "artifact_infer", a_out, s_out,
                        2 * np.asarray(bound), spec.dtype)  # fmt: skip
    n = len(spec.layers)
    for i in range(n):
        compare(f"layer {i} activation", "forward", out[i], ref.activations[i],
                ref.product_bounds[i], spec.dtype)  # fmt: skip
    for i, got in zip(fanned, out[n:]):
        compare(f"layer {i} product", "forward", got, ref.products[i], ref.product_bounds[i],
                spec.dtype)  # fmt: skip
    at = n + len(fanned)
    compare("loss", "forward", out[at], ref.loss, ref.loss_bound, spec.dtype)
    for name, got in zip(names, out[at + 1 :]):
        want, bound = ref.grads[name]
        compare(f"d loss/d {name}", "gradient", _stored(spec, name, got), want, bound, spec.dtype)


def _artifact_outputs(spec: DenseSpec, fetches: list, workdir: str) -> list:
    """The fetches' values from the artifact of the current graph (tgc compile's lowering), fed
    spec.steps[0], loaded with spec.threads."""
    from mlir import ir

    from conformance.checks import Stage, _unique
    from tgc.dialect.context import make_context
    from tgc.driver import aot
    from tgc.driver.signature import short_name
    from tgc.frontend.export import export_graph
    from tgc.runtime.artifact import load
    from tgc.tools.compile_cmd import mlir_module

    try:
        path = os.path.join(workdir, "graph.mlir")
        export_graph(_unique(fetches), None, path=path)
        options = aot.Options()
        with make_context(), ir.Location.unknown():
            lowered = aot.lower_module(mlir_module(path)(), "artifact", options)
        art = load(
            aot.write_artifact(lowered, options, os.path.join(workdir, "art")), threads=spec.threads
        )
    except Exception as exc:  # noqa: BLE001 - a chain tgc cannot compile is a finding
        raise Stage("artifact compile", exc) from None
    x, weights = spec.steps[0]
    feeds = {"x": x, **{f"g{j}": g for j, g in enumerate(weights)}}
    try:
        results = art(**feeds)
    except Exception as exc:  # noqa: BLE001
        raise Stage("artifact run", exc) from None
    return [results[short_name(t)] for t in fetches]


def _train_graph(chain, spec):
    import tgc as tf

    built = chain.build_chain(spec)
    train = tf.train.GradientDescentOptimizer(spec.learning_rate).minimize(built.loss, name="train")
    return built, train


def trained_in_session_and_artifact(spec, workdir: str, chain) -> tuple:
    """SGD steps of a chain (``chain``: the module that draws it, dense or conv, with its
    build_chain, sgd_reference, _feeds and _config) in a Session and in the in-place artifact, each
    step's loss compared with numpy's SGD and between the two; returns (numpy's final parameters,
    their bounds, the Session's variables, the loaded artifact) for the chain's own comparison."""
    import tgc as tf
    from tgc.runtime.artifact import load

    from conformance.checks import Stage
    from test_aot import compile_artifact

    want_losses, want_params, want_bounds = chain.sgd_reference(spec)
    with tf.Graph().as_default():
        built, train = _train_graph(chain, spec)
        with tf.Session(config=chain._config(spec)) as sess:
            sess.run(tf.global_variables_initializer())
            session_losses = [
                sess.run([built.loss, train], chain._feeds(built, step))[0] for step in spec.steps
            ]
            session_vars = {name: sess.run(v) for name, v in built.variables.items()}
    with tf.Graph().as_default():
        _train_graph(chain, spec)
        try:
            path = compile_artifact(["loss", "train"], None, workdir)
        except Exception as exc:  # noqa: BLE001 - a chain tgc cannot compile is a finding
            raise Stage("artifact compile", exc) from None
    art = load(path, threads=spec.threads)
    if not art.manifest["variables_in_place"]:
        raise DenseWrong("artifact_train", "the artifact does not update variables in place")
    artifact_losses = []
    for x, weights in spec.steps:
        feeds = {"x": x, **{f"g{j}": g for j, g in enumerate(weights)}}
        try:
            artifact_losses.append(art(**feeds)["loss"])
        except Exception as exc:  # noqa: BLE001
            raise Stage("artifact run", exc) from None
    for k, ((want, bound), got_s, got_a) in enumerate(
        zip(want_losses, session_losses, artifact_losses)
    ):
        scale = SAFETY * bound * (k + 1) + 1e-6 * abs(want) * (spec.dtype == "float32")
        compare(f"step {k} loss (Session)", "artifact_train", got_s, want, scale, spec.dtype)
        compare(f"step {k} loss (artifact)", "artifact_train", got_a, got_s, 2 * scale,
                spec.dtype)  # fmt: skip
    return want_params, want_bounds, session_vars, art


def check_training(spec: DenseSpec, workdir: str) -> None:
    """SGD steps in a Session and in the in-place artifact: losses and final variables agree with
    each other (within float rounding) and with numpy's SGD (within its bounds)."""
    want_params, want_bounds, session_vars, art = trained_in_session_and_artifact(
        spec, workdir, sys.modules[__name__]
    )
    for i, ((w, b), (wb, bb)) in enumerate(zip(want_params, want_bounds)):
        for name, want, bound in ((f"w{i}", w, wb), (f"b{i}", b, bb)):
            if want is None:
                continue
            got_s = _stored(spec, name, session_vars[name])
            got_a = _stored(spec, name, art.variables[name])
            compare(f"{name} after the steps (Session)", "artifact_train", got_s, want, bound,
                    spec.dtype)  # fmt: skip
            compare(f"{name} after the steps (artifact)", "artifact_train", got_a, got_s,
                    2 * bound, spec.dtype)  # fmt: skip


def run_chain(spec, check_session_step, check_training) -> Outcome:
    """Every check of one chain (a dense or a conv chain: its module's two checks) in this process
    (the caller isolates it); never raises for a tgc failure."""
    import tempfile

    from conformance.checks import Stage

    try:
        with _variant_environment(spec):
            if spec.variant == "artifact_train":
                with tempfile.TemporaryDirectory() as workdir:
                    check_training(spec, workdir)
            elif spec.variant == "artifact_infer":
                with tempfile.TemporaryDirectory() as workdir:
                    check_session_step(spec, workdir)
            else:
                check_session_step(spec)
    except DenseWrong as exc:
        return Outcome("wrong", exc.category, str(exc))
    except Stage as exc:
        return Outcome("error", exc.stage, str(exc))
    except Exception as exc:  # noqa: BLE001 - tgc refusing a valid chain is a finding
        return Outcome("error", spec.variant, f"{type(exc).__name__}: {exc}")
    return Outcome("pass", spec.variant)


def chain_isolated(run) -> Outcome:
    """``run()`` (a chain's checks) in a forked child (TGC_GEMM set there only); a signal is a
    crash outcome."""
    from registry_harness import IsolatedFailure, isolated

    try:
        return isolated(run)
    except IsolatedFailure as exc:
        text = str(exc)
        status = "crash" if "died with" in text else "error"
        return Outcome(status, text.split(":")[0] if status == "crash" else "suite", text[-1500:])


def run_dense(spec: DenseSpec) -> Outcome:
    return run_chain(spec, check_session_step, check_training)


def dense_isolated(spec: DenseSpec) -> Outcome:
    return chain_isolated(lambda: run_dense(spec))


def repro_code(spec: DenseSpec) -> str:
    """A short program that rebuilds the chain (values from the seed) and runs the check."""
    return (
        "import sys; sys.path[:0] = ['tests', 'tests/unit']\n"
        "from conformance.dense import draw_dense, run_dense\n"
        "from conformance.generator import RandomChooser\n"
        f"spec = draw_dense(RandomChooser({spec.seed}), seed={spec.seed}, "
        f"variant={spec.variant!r})\n"
        "print(spec.describe()); print(run_dense(spec))\n"
    )
