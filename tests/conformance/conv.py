"""Convolution chains drawn at random: the CPU's conv paths checked end to end.

The op-registry graphs (generator.py) draw conv2d at tiny sizes; the CPU's real convolution paths
are reached only at a convnet's sizes (tgc/lowering/cpu/conv_gemm.py): im2col one image at a time
in loops run on the session's threads (a patch matrix of 256 KiB and more, ``_per_image``), the
direct convolution of windows of few elements and its filter gradient summed in GRADIENT_PARTS
parts (conv_direct.py, ``direct_wins``), bias and relu fused into the conv, max-pool and its
gradient (pool_vector.py), col2im for the input gradient, and the per-image GEMM on tgc's generated
kernel on 2 threads. A chain here is ``x`` (a placeholder [batch, H, W, C], the batch ``None`` or
static, fed 0, 1, odd sizes up to 40) through 1-3 layers ``pool(act(conv2d(h, W) + b))``: kernels
1-5 (each side drawn), strides 1-2, SAME or VALID, sometimes a dilation of 2 (stride 1, as TF's
CPU kernels require), the bias none, ``+ b`` or ``tf.nn.bias_add``, relu or none, sometimes a
max_pool or avg_pool, and sometimes a fan-out (the conv's sum or its activation also in the loss,
so that the fusion of bias and relu into the conv must be refused); then flatten and a dense
layer. tgc implements NHWC only (conv_ops.py refuses NCHW), so NCHW is not drawn.

Variants as dense.py's: ``session``, ``codegen_threads`` (``TGC_GEMM=codegen``, 2 threads),
``artifact_infer`` and ``artifact_train`` (SGD steps in a Session and in the in-place artifact of
``tgc compile``'s default, loaded with the same thread count; losses and final variables agree
with each other and with numpy's SGD).

The loss is ``sum(dense * g0) + sum(term * g_j)`` over the fanned-out values, each weight a fed
placeholder. Forward values and ``tf.gradients`` (of x, every filter and bias, the dense weights)
are compared with a float64 numpy reference within bounds derived from the arithmetic: a K-term
dot product (K = KH*KW*C for the conv, the count of summed terms for each gradient) in precision
u is within (K + 2) u (|A| |B|) (twice that allowed), carried through the chain; an element whose
pre-activation lies within its bound of relu's kink, and a max-pool window whose largest values
lie within their bounds of each other, may take either side's gradient.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from conformance.checks import Outcome
from conformance.dense import (
    SAFETY,
    UNIT_ROUNDOFF,
    _artifact_outputs,
    chain_isolated,
    compare,
    run_chain,
    trained_in_session_and_artifact,
)

CONV_VARIANTS = ("session", "codegen_threads", "artifact_infer", "artifact_train")
BIAS_FORMS = ("none", "add", "bias_add")
FAN_OUTS = ("none", "none", "product", "activation")
MAX_MULTIPLY_ADDS = 1.5e8  # per chain's forward: the batch is cut to keep a chain a few seconds


@dataclass(frozen=True)
class Pool:
    kind: str  # "max" or "avg"
    ksize: int
    stride: int
    padding: str


@dataclass(frozen=True)
class ConvLayer:
    kernel: tuple  # (KH, KW)
    channels: int  # O
    strides: tuple  # (SH, SW)
    padding: str
    dilation: int  # both dims; 2 only with strides (1, 1)
    bias: str  # "none", "add" or "bias_add"
    activation: str  # "relu" or "none"
    pool: Pool | None
    fan_out: str  # "none", "product" (conv + b also in the loss), "activation" (act(.) too)


@dataclass
class ConvSpec:
    seed: int
    dtype: str
    image: tuple  # (H, W, C) of x
    static_batch: int | None
    layers: tuple
    units: int  # the dense layer's outputs
    dense_bias: bool
    variant: str
    threads: int = 1
    learning_rate: float = 0.0
    gradients: bool = True
    params: list = field(default_factory=list)  # per conv layer (W, b or None), then (Wd, bd)
    steps: list = field(default_factory=list)  # per step: (x, [loss weight per loss term])

    def loss_terms(self) -> list:
        """(layer, "dense", "product" or "activation") of each loss term, the dense first."""
        terms = [(len(self.layers), "dense")]
        for i, layer in enumerate(self.layers):
            if layer.fan_out != "none":
                terms.append((i, layer.fan_out))
        return terms

    def shapes(self) -> list:
        """Per layer: (conv output [OH, OW, O], the layer's output after the pool)."""
        h, w, _ = self.image
        out = []
        for layer in self.layers:
            oh = _out_size(h, layer.kernel[0], layer.strides[0], layer.dilation, layer.padding)
            ow = _out_size(w, layer.kernel[1], layer.strides[1], layer.dilation, layer.padding)
            h, w = oh, ow
            if layer.pool is not None:
                p = layer.pool
                h = _out_size(h, p.ksize, p.stride, 1, p.padding)
                w = _out_size(w, p.ksize, p.stride, 1, p.padding)
            out.append(((oh, ow, layer.channels), (h, w, layer.channels)))
        return out

    def flat_features(self) -> int:
        return int(np.prod(self.shapes()[-1][1]))

    def describe(self) -> str:
        batch = "None" if self.static_batch is None else self.static_batch
        fed = [x.shape[0] for x, _ in self.steps]
        lines = [
            f"conv seed {self.seed} {self.dtype} variant={self.variant} threads={self.threads} "
            f"x=[{batch}, {', '.join(map(str, self.image))}] fed batches {fed} "
            f"lr={self.learning_rate} gradients={self.gradients}"
        ]
        c = self.image[2]
        for i, (layer, (conv_shape, out_shape)) in enumerate(zip(self.layers, self.shapes())):
            pool = "" if layer.pool is None else f" {layer.pool}"
            lines.append(
                f"  layer {i}: {layer.activation}(conv2d(h, W[{layer.kernel[0]}, "
                f"{layer.kernel[1]}, {c}, {layer.channels}], strides={layer.strides}, "
                f"{layer.padding}, dilation={layer.dilation}) bias={layer.bias}) -> "
                f"{list(conv_shape)}{pool} -> {list(out_shape)} fan_out={layer.fan_out}"
            )
            c = layer.channels
        lines.append(
            f"  dense: flatten [{self.flat_features()}] @ Wd[{self.flat_features()}, "
            f"{self.units}] bias={self.dense_bias}"
        )
        return "\n".join(lines)


def _out_size(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """TF's output size of a window op (SAME: ceil(size / stride))."""
    if padding == "SAME":
        return -(-size // stride)
    return (size - ((k - 1) * dilation + 1)) // stride + 1


def _pad_before(size: int, k: int, stride: int, dilation: int, padding: str) -> int:
    """TF's padding before the first element (SAME puts the odd one after)."""
    if padding == "VALID":
        return 0
    out = -(-size // stride)
    return max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0) // 2


# ---- drawing -------------------------------------------------------------------------------------


def _channels(ch) -> int:
    band = ch.integer(0, 9)
    if band < 3:
        return ch.integer(1, 3)  # the direct conv's few-channel windows
    if band < 6:
        return ch.integer(4, 16)
    return ch.integer(17, 40)


def _draw_layer(ch, size: tuple) -> ConvLayer:
    """A layer whose output (and its pool's) is at least 1x1 on an input of ``size`` (H, W)."""
    kernel = (ch.integer(1, 5), ch.integer(1, 5))
    strides = (1, 1) if ch.chance(55) else (ch.integer(1, 2), ch.integer(1, 2))
    dilation = 2 if strides == (1, 1) and ch.chance(20) else 1
    padding = ch.choice(["SAME", "VALID"])
    reach = [(k - 1) * dilation + 1 for k in kernel]
    if any(r > s for r, s in zip(reach, size)):
        padding = "SAME"
    out = [_out_size(s, k, st, dilation, padding) for s, k, st in zip(size, kernel, strides)]
    pool = None
    if ch.chance(40):
        ksize, stride = ch.integer(2, 3), ch.integer(1, 2)
        pool_padding = ch.choice(["SAME", "VALID"])
        if min(out) < ksize:
            pool_padding = "SAME"
        pool = Pool(ch.choice(["max", "max", "avg"]), ksize, stride, pool_padding)
    return ConvLayer(
        kernel,
        _channels(ch),
        strides,
        padding,
        dilation,
        ch.choice(BIAS_FORMS),
        ch.choice(["relu", "relu", "none"]),
        pool,
        ch.choice(FAN_OUTS),
    )


def _batch(ch) -> int:
    return ch.choice([0, 1, 1, 2, 3, 5, 7, 8, 13, 32, 40])


def _multiply_adds(spec: ConvSpec) -> int:
    """Multiply-adds of one image's forward (the gradients take about twice more)."""
    c, total = spec.image[2], 0
    for layer, (conv_shape, _) in zip(spec.layers, spec.shapes()):
        total += int(np.prod(conv_shape)) * layer.kernel[0] * layer.kernel[1] * c
        c = layer.channels
    return total + spec.flat_features() * spec.units


def draw_conv(ch, seed: int = 0, variant: str | None = None) -> ConvSpec:
    """A conv chain from ``ch`` (a generator.Chooser): layers, shapes, values and fed batches."""
    dtype = "float32" if ch.chance(65) else "float64"
    drawn = ch.choice(CONV_VARIANTS)  # drawn always, so that a seed names one chain
    variant = variant or drawn
    train = variant == "artifact_train"
    artifact = variant in ("artifact_infer", "artifact_train")
    threads = 2 if variant == "codegen_threads" or (artifact and ch.chance(50)) else 1
    image = (ch.integer(5, 30), ch.integer(5, 30), _channels(ch))
    layers, size = [], image[:2]
    for _ in range(ch.integer(1, 3)):
        layer = _draw_layer(ch, size)
        layers.append(layer)
        size = ConvSpec(0, dtype, (*size, 1), None, (layer,), 1, False, "").shapes()[0][1][:2]
    units = ch.integer(1, 10)
    dense_bias = ch.chance(50)
    batches = [_batch(ch) for _ in range(ch.integer(2, 3) if train else 1)]
    spec = ConvSpec(seed, dtype, image, None, tuple(layers), units, dense_bias, variant, threads)
    per_image = max(_multiply_adds(spec), 1)
    cap = max(1, int(MAX_MULTIPLY_ADDS // per_image))
    batches = [min(n, cap) for n in batches]
    static = None if ch.chance(70) or len(set(batches)) > 1 else batches[0]
    spec.static_batch = static
    spec.learning_rate = ch.choice([2.0**-8, 2.0**-6]) if train else 0.0
    spec.gradients = train or (variant != "artifact_infer" and ch.chance(70))
    rng = np.random.default_rng(ch.integer(0, 2**31 - 1))
    c = image[2]
    for layer in layers:
        k = layer.kernel[0] * layer.kernel[1] * c
        # scaled so that sums are O(1): relu's kink and max-pool's near ties are reached
        w = rng.standard_normal((*layer.kernel, c, layer.channels)) * rng.choice([1.0, 2.0])
        w /= np.sqrt(k)
        b = rng.uniform(-1.0, 1.0, layer.channels) if layer.bias != "none" else None
        spec.params.append((w.astype(dtype), None if b is None else b.astype(dtype)))
        c = layer.channels
    features = spec.flat_features()
    wd = rng.standard_normal((features, units)) / np.sqrt(features)
    bd = rng.uniform(-1.0, 1.0, units) if dense_bias else None
    spec.params.append((wd.astype(dtype), None if bd is None else bd.astype(dtype)))
    shapes = spec.shapes()
    for n in batches:
        x = rng.uniform(-2.0, 2.0, (n, *image)).astype(dtype)
        weights = []
        for i, kind in spec.loss_terms():
            shape = (units,) if kind == "dense" else shapes[i][0]
            weights.append(rng.standard_normal((n, *shape)).astype(dtype))
        spec.steps.append((x, weights))
    return spec


# ---- the numpy reference, with bounds ------------------------------------------------------------
# A tensor is carried as (value, magnitude, error): float64 values, a bound of |value| as tgc's
# arithmetic sums it, and the error tgc's value may carry (first order).


@dataclass(frozen=True)
class Window:
    """The geometry of one window op on [N, H, W, C]."""

    kernel: tuple
    strides: tuple
    dilation: int
    padding: str
    in_hw: tuple

    @property
    def out_hw(self) -> tuple:
        return tuple(
            _out_size(s, k, st, self.dilation, self.padding)
            for s, k, st in zip(self.in_hw, self.kernel, self.strides)
        )

    def pads(self) -> list:
        """(before, after) per spatial dim of the padded input the taps read."""
        pads = []
        for s, k, st, o in zip(self.in_hw, self.kernel, self.strides, self.out_hw):
            before = _pad_before(s, k, st, self.dilation, self.padding)
            after = max((o - 1) * st + (k - 1) * self.dilation + 1 - s - before, 0)
            pads.append((before, after))
        return pads

    def taps(self):
        """(kh, kw, the padded input's slices that tap reads for every output pixel)."""
        (oh, ow), (sh, sw), d = self.out_hw, self.strides, self.dilation
        for a in range(self.kernel[0]):
            for b in range(self.kernel[1]):
                rows = slice(a * d, a * d + (oh - 1) * sh + 1, sh)
                cols = slice(b * d, b * d + (ow - 1) * sw + 1, sw)
                yield a, b, (slice(None), rows, cols)

    def pad(self, v: np.ndarray, value: float = 0.0) -> np.ndarray:
        return np.pad(v, [(0, 0), *self.pads(), (0, 0)], constant_values=value)

    def crop(self, vp: np.ndarray) -> np.ndarray:
        (t, _), (left, _) = self.pads()
        return vp[:, t : t + self.in_hw[0], left : left + self.in_hw[1], :]


def conv(x: np.ndarray, w: np.ndarray, win: Window) -> np.ndarray:
    xp = win.pad(x)
    out = np.zeros((x.shape[0], *win.out_hw, w.shape[3]))
    for a, b, sl in win.taps():
        out += xp[sl] @ w[a, b]
    return out


def conv_input_gradient(g: np.ndarray, w: np.ndarray, win: Window, channels: int) -> np.ndarray:
    """The adjoint of conv in its input."""
    gp = win.pad(np.zeros((g.shape[0], *win.in_hw, channels)))
    for a, b, sl in win.taps():
        gp[sl] += g @ w[a, b].T
    return win.crop(gp)


def conv_filter_gradient(x: np.ndarray, g: np.ndarray, win: Window, shape: tuple) -> np.ndarray:
    xp = win.pad(x)
    dw = np.zeros(shape)
    for a, b, sl in win.taps():
        dw[a, b] = np.tensordot(xp[sl], g, axes=([0, 1, 2], [0, 1, 2]))
    return dw


def _pool_window(pool: Pool, in_hw: tuple) -> Window:
    return Window((pool.ksize,) * 2, (pool.stride,) * 2, 1, pool.padding, in_hw)


def _tap_stack(v: np.ndarray, win: Window, pad_value: float) -> np.ndarray:
    vp = win.pad(v, pad_value)
    return np.stack([vp[sl] for _, _, sl in win.taps()])


def pool_forward(pool: Pool, win: Window, v, m, e, u: float) -> tuple:
    """(value, magnitude, error) of the pool; TF's avg_pool divides by the in-bounds count."""
    valid = _tap_stack(np.ones(v.shape), win, 0.0)
    if pool.kind == "max":
        value = _tap_stack(v, win, -np.inf).max(axis=0)
        return value, _tap_stack(m, win, 0.0).max(axis=0), _tap_stack(e, win, 0.0).max(axis=0)
    count = valid.sum(axis=0)
    mag = _tap_stack(m, win, 0.0).sum(axis=0) / count
    err = _tap_stack(e, win, 0.0).sum(axis=0) / count + (valid.shape[0] + 2) * u * mag
    return _tap_stack(v, win, 0.0).sum(axis=0) / count, mag, err


def pool_backward(pool: Pool, win: Window, v, e, g, g_err, u: float) -> tuple:
    """The gradient of the pool's input and its bound: max-pool's goes to the window's first
    largest value (TF's choice); a window whose largest values lie within their bounds of each
    other may send it to any of them, so each such candidate gets |g| + its bound."""
    shape = v.shape
    grad = win.pad(np.zeros(shape))
    bound = win.pad(np.zeros(shape))
    if pool.kind == "max":
        values = _tap_stack(v, win, -np.inf)
        errors = _tap_stack(e, win, 0.0)
        first = values.argmax(axis=0)
        top = values.max(axis=0)
        top_err = np.take_along_axis(errors, first[None], 0)[0]
        near = values >= top - SAFETY * (errors + top_err) - 4 * u * np.abs(top)
        tied = near.sum(axis=0) > 1
        for t, (_, _, sl) in enumerate(win.taps()):
            chosen = first == t
            grad[sl] += np.where(chosen, g, 0.0)
            bound[sl] += np.where(chosen, g_err, 0.0)
            bound[sl] += np.where(near[t] & tied, np.abs(g) + g_err, 0.0)
        return win.crop(grad), win.crop(bound)
    valid = _tap_stack(np.ones(shape), win, 0.0)
    count = valid.sum(axis=0)
    for _, _, sl in win.taps():
        grad[sl] += g / count
        bound[sl] += g_err / count + (valid.shape[0] + 2) * u * np.abs(g) / count
    return win.crop(grad), win.crop(bound)


@dataclass
class Reference:
    products: list  # per layer: conv + b
    activations: list
    outputs: list  # per layer: after the pool
    product_bounds: list
    output_bounds: list
    dense: np.ndarray
    dense_bound: np.ndarray
    loss: float
    loss_bound: float
    grads: dict  # name ("x", "w0", "b0", ..., "wd", "bd") -> (gradient, bound)


def _as64(params: list) -> list:
    return [(np.asarray(w, np.float64), None if b is None else np.asarray(b, np.float64))
            for w, b in params]  # fmt: skip


def _windows(spec: ConvSpec) -> list:
    """Per layer: (the conv's Window, the pool's Window or None)."""
    hw, out = spec.image[:2], []
    for layer in spec.layers:
        cw = Window(layer.kernel, layer.strides, layer.dilation, layer.padding, hw)
        hw = cw.out_hw
        pw = None if layer.pool is None else _pool_window(layer.pool, hw)
        hw = hw if pw is None else pw.out_hw
        out.append((cw, pw))
    return out


def reference(spec: ConvSpec, params: list, x: np.ndarray, loss_weights: list) -> Reference:
    """Forward values, loss and gradients in float64 with their error bounds in spec.dtype."""
    u = UNIT_ROUNDOFF[spec.dtype]
    params = _as64(params)
    windows = _windows(spec)
    h = np.asarray(x, np.float64)
    hm, he = np.abs(h), np.zeros(h.shape)
    inputs, products, p_bounds, acts, outs, o_bounds, pooled_inputs = [], [], [], [], [], [], []
    for layer, (w, b), (cw, pw) in zip(spec.layers, params, windows):
        k = w.shape[0] * w.shape[1] * w.shape[2]
        p, pm = conv(h, w, cw), conv(hm, np.abs(w), cw)
        if b is not None:
            p, pm = p + b, pm + np.abs(b)
        pe = (k + 2) * u * pm + conv(he, np.abs(w), cw)
        inputs.append((h, hm, he))
        products.append(p)
        p_bounds.append(pe)
        a = np.maximum(p, 0.0) if layer.activation == "relu" else p
        acts.append(a)
        pooled_inputs.append((a, pe))
        h, hm, he = a, pm, pe
        if pw is not None:
            h, hm, he = pool_forward(layer.pool, pw, h, hm, he, u)
        outs.append(h)
        o_bounds.append(he)
    n = h.shape[0]
    flat, flat_m, flat_e = (t.reshape(n, spec.flat_features()) for t in (h, hm, he))
    wd, bd = params[-1]
    d, dm = flat @ wd, flat_m @ np.abs(wd)
    if bd is not None:
        d, dm = d + bd, dm + np.abs(bd)
    de = (wd.shape[0] + 2) * u * dm + flat_e @ np.abs(wd)
    loss, loss_bound = 0.0, 0.0
    upstream = [np.zeros(a.shape) for a in acts]
    from_products = [np.zeros(p.shape) for p in products]
    g_dense = None
    for (i, kind), g in zip(spec.loss_terms(), loss_weights):
        g = np.asarray(g, np.float64)
        if kind == "dense":
            value, err = d, de
        else:
            value, err = (products[i] if kind == "product" else acts[i]), p_bounds[i]
        loss += float(np.sum(value * g))
        loss_bound += float(np.sum(err * np.abs(g)) + u * value.size * np.sum(np.abs(value * g)))
        if kind == "dense":
            g_dense = g
        else:
            (from_products if kind == "product" else upstream)[i] += g
    grads = {}
    rows = n
    grads["wd"] = (
        flat.T @ g_dense,
        flat_e.T @ np.abs(g_dense) + (rows + 2) * u * (flat_m.T @ np.abs(g_dense)),
    )
    if bd is not None:
        grads["bd"] = (g_dense.sum(axis=0), (rows + 2) * u * np.abs(g_dense).sum(axis=0))
    g_h = (g_dense @ wd.T).reshape(h.shape)
    e_h = ((wd.shape[1] + 2) * u * (np.abs(g_dense) @ np.abs(wd).T)).reshape(h.shape)
    for i in reversed(range(len(spec.layers))):
        layer, (w, b), (cw, pw) = spec.layers[i], params[i], windows[i]
        if pw is not None:
            a, ae = pooled_inputs[i]
            g_h, e_h = pool_backward(layer.pool, pw, a, ae, g_h, e_h, u)
        g_a, e_a = g_h + upstream[i], e_h
        p, pe = products[i], p_bounds[i]
        if layer.activation == "relu":
            mask = (p > 0).astype(np.float64)
            near = np.abs(p) <= SAFETY * pe
        else:
            mask, near = np.ones(p.shape), np.zeros(p.shape, bool)
        g_p = g_a * mask + from_products[i]
        e_p = e_a * np.maximum(mask, near) + (np.abs(g_a) + e_a) * near
        g_mag = np.abs(g_a) + np.abs(from_products[i]) + e_a
        hv, hm, he = inputs[i]
        terms = p.shape[0] * p.shape[1] * p.shape[2]
        grads[f"w{i}"] = (
            conv_filter_gradient(hv, g_p, cw, w.shape),
            conv_filter_gradient(np.abs(hv), e_p, cw, w.shape)
            + conv_filter_gradient(he, g_mag, cw, w.shape)
            + (terms + 2) * u * conv_filter_gradient(hm, g_mag, cw, w.shape),
        )
        if b is not None:
            grads[f"b{i}"] = (
                g_p.sum(axis=(0, 1, 2)),
                e_p.sum(axis=(0, 1, 2)) + (terms + 2) * u * g_mag.sum(axis=(0, 1, 2)),
            )
        channels = w.shape[2]
        taps = w.shape[0] * w.shape[1] * w.shape[3]
        g_h = conv_input_gradient(g_p, w, cw, channels)
        e_h = conv_input_gradient(e_p, np.abs(w), cw, channels) + (taps + 2) * u * (
            conv_input_gradient(g_mag, np.abs(w), cw, channels)
        )
    grads["x"] = (g_h, e_h)
    return Reference(products, acts, outs, p_bounds, o_bounds, d, de, loss, loss_bound, grads)


def grad_names(spec: ConvSpec) -> list:
    names = ["x"]
    for i, (_, b) in enumerate(spec.params[:-1]):
        names += [f"w{i}"] + ([f"b{i}"] if b is not None else [])
    return names + ["wd"] + (["bd"] if spec.dense_bias else [])


def sgd_reference(spec: ConvSpec) -> tuple:
    """(per-step (loss, bound), final params by name, final bounds by name) of numpy's SGD."""
    names = [n for n in grad_names(spec) if n != "x"]
    params = {n: v for n, v in zip(names, _param_list(spec.params)) if v is not None}
    bounds = {n: np.zeros(np.shape(v)) for n, v in params.items()}
    u = UNIT_ROUNDOFF[spec.dtype]
    losses = []
    for x, weights in spec.steps:
        ref = reference(spec, _param_pairs(spec, params), x, weights)
        losses.append((ref.loss, ref.loss_bound))
        for name in params:
            g, e = ref.grads[name]
            params[name] = params[name] - spec.learning_rate * g
            bounds[name] = (
                bounds[name] + spec.learning_rate * SAFETY * e + 4 * u * np.abs(params[name])
            )
    return losses, params, bounds


def _param_list(params: list) -> list:
    """The params in grad_names' order (without x), as float64, skipping absent biases."""
    out = []
    for w, b in params:
        out.append(np.asarray(w, np.float64))
        if b is not None:
            out.append(np.asarray(b, np.float64))
    return out


def _param_pairs(spec: ConvSpec, named: dict) -> list:
    pairs = [(named[f"w{i}"], named.get(f"b{i}")) for i in range(len(spec.layers))]
    return pairs + [(named["wd"], named.get("bd"))]


# ---- tgc -----------------------------------------------------------------------------------------


@dataclass
class BuiltChain:
    x: object
    loss_weights: list
    products: list
    activations: list
    outputs: list
    dense: object
    variables: dict
    loss: object


def build_chain(spec: ConvSpec) -> BuiltChain:
    """The chain through the TF1 API a user writes, in the current default graph."""
    import tgc as tf

    dtype = getattr(tf, spec.dtype)
    x = tf.placeholder(dtype, [spec.static_batch, *spec.image], name="x")
    h, products, acts, outs, variables = x, [], [], [], {}
    for i, (layer, (w0, b0)) in enumerate(zip(spec.layers, spec.params)):
        w = variables[f"w{i}"] = tf.Variable(w0, name=f"w{i}")
        p = tf.nn.conv2d(
            h,
            w,
            strides=[1, *layer.strides, 1],
            padding=layer.padding,
            dilations=[1, layer.dilation, layer.dilation, 1],
        )
        if b0 is not None:
            b = variables[f"b{i}"] = tf.Variable(b0, name=f"b{i}")
            p = tf.nn.bias_add(p, b) if layer.bias == "bias_add" else p + b
        products.append(p)
        h = tf.nn.relu(p) if layer.activation == "relu" else p
        acts.append(h)
        if layer.pool is not None:
            pool = tf.nn.max_pool if layer.pool.kind == "max" else tf.nn.avg_pool
            window = [1, layer.pool.ksize, layer.pool.ksize, 1]
            h = pool(h, window, [1, layer.pool.stride, layer.pool.stride, 1], layer.pool.padding)
        outs.append(h)
    flat = tf.reshape(h, [-1, spec.flat_features()])
    wd0, bd0 = spec.params[-1]
    wd = variables["wd"] = tf.Variable(wd0, name="wd")
    dense = tf.matmul(flat, wd)
    if bd0 is not None:
        bd = variables["bd"] = tf.Variable(bd0, name="bd")
        dense = dense + bd
    weights, loss = [], None
    shapes = spec.shapes()
    for j, (i, kind) in enumerate(spec.loss_terms()):
        shape = [spec.units] if kind == "dense" else list(shapes[i][0])
        g = tf.placeholder(dtype, [spec.static_batch, *shape], name=f"g{j}")
        weights.append(g)
        if kind == "dense":
            value = dense
        else:
            value = products[i] if kind == "product" else acts[i]
        term = tf.reduce_sum(value * g)
        loss = term if loss is None else loss + term
    loss = tf.identity(loss, name="loss")
    return BuiltChain(x, weights, products, acts, outs, dense, variables, loss)


def _feeds(built: BuiltChain, step: tuple) -> dict:
    x, weights = step
    return {built.x: x, **dict(zip(built.loss_weights, weights))}


def _config(spec: ConvSpec):
    import tgc as tf

    return tf.ConfigProto(intra_op_parallelism_threads=spec.threads)


def check_session_step(spec: ConvSpec, workdir: str | None = None) -> None:
    """One Session.run of every layer's activation and output, the dense layer, the loss and
    (spec.gradients) the gradients, against the reference; with ``workdir`` (artifact_infer) the
    artifact of the same fetches, loaded with the spec's threads, gives the Session's numbers."""
    import tgc as tf

    x, weights = spec.steps[0]
    ref = reference(spec, spec.params, x, weights)
    names = grad_names(spec) if spec.gradients else []
    with tf.Graph().as_default():
        built = build_chain(spec)
        targets = [built.x if n == "x" else built.variables[n] for n in names]
        grads = tf.gradients(built.loss, targets) if targets else []
        fetches = built.activations + built.outputs + [built.dense, built.loss] + list(grads)
        with tf.Session(config=_config(spec)) as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run(fetches, _feeds(built, spec.steps[0]))
        if workdir is not None:
            got = _artifact_outputs(spec, fetches, workdir)
            bounds = ref.product_bounds + ref.output_bounds + [ref.dense_bound, ref.loss_bound]
            for k, (s_out, a_out) in enumerate(zip(out, got)):
                compare(f"fetch {k} (artifact against the Session)", "artifact_infer", a_out, s_out,
                        2 * np.asarray(bounds[k]), spec.dtype)  # fmt: skip
    n = len(spec.layers)
    for i in range(n):
        compare(f"layer {i} activation", "forward", out[i], ref.activations[i],
                ref.product_bounds[i], spec.dtype)  # fmt: skip
        compare(f"layer {i} output", "forward", out[n + i], ref.outputs[i], ref.output_bounds[i],
                spec.dtype)  # fmt: skip
    compare("dense", "forward", out[2 * n], ref.dense, ref.dense_bound, spec.dtype)
    compare("loss", "forward", out[2 * n + 1], ref.loss, ref.loss_bound, spec.dtype)
    for name, got in zip(names, out[2 * n + 2 :]):
        want, bound = ref.grads[name]
        compare(f"d loss/d {name}", "gradient", got, want, bound, spec.dtype)


def check_training(spec: ConvSpec, workdir: str) -> None:
    """SGD steps in a Session and in the in-place artifact: losses and final variables agree with
    each other (within float rounding) and with numpy's SGD (within its bounds)."""
    want_params, want_bounds, session_vars, art = trained_in_session_and_artifact(
        spec, workdir, sys.modules[__name__]
    )
    for name, want in want_params.items():
        bound = want_bounds[name]
        compare(f"{name} after the steps (Session)", "artifact_train", session_vars[name], want,
                bound, spec.dtype)  # fmt: skip
        compare(f"{name} after the steps (artifact)", "artifact_train", art.variables[name],
                session_vars[name], 2 * bound, spec.dtype)  # fmt: skip


def run_conv(spec: ConvSpec) -> Outcome:
    return run_chain(spec, check_session_step, check_training)


def conv_isolated(spec: ConvSpec) -> Outcome:
    return chain_isolated(lambda: run_conv(spec))


def repro_code(spec: ConvSpec) -> str:
    """A short program that rebuilds the chain (values from the seed) and runs the check."""
    return (
        "import sys; sys.path[:0] = ['tests', 'tests/unit']\n"
        "from conformance.conv import draw_conv, run_conv\n"
        "from conformance.generator import RandomChooser\n"
        f"spec = draw_conv(RandomChooser({spec.seed}), seed={spec.seed}, "
        f"variant={spec.variant!r})\n"
        "print(spec.describe()); print(run_conv(spec))\n"
    )


def paths(spec: ConvSpec) -> set:
    """The CPU conv paths (tgc/lowering/cpu/conv_gemm.py) the chain's shapes pick, by name: a
    layer's forward conv per image ("per_image": one image's patch matrix of PER_IMAGE_PATCH_BYTES
    or more) or direct ("direct", conv_direct.direct_wins), its filter gradient direct
    ("direct_filter_gradient"), and the pools and dilations drawn."""
    from tgc.lowering.cpu.conv_direct import direct_wins
    from tgc.lowering.cpu.conv_gemm import PER_IMAGE_PATCH_BYTES

    elem, elem_bytes = ("f64", 8) if spec.dtype == "float64" else ("f32", 4)
    found, c = set(), spec.image[2]
    for layer, (conv_shape, _) in zip(spec.layers, spec.shapes()):
        filter_shape = (*layer.kernel, c, layer.channels)
        window = layer.kernel[0] * layer.kernel[1] * c
        if direct_wins(filter_shape, elem):
            found.add("direct")
        elif conv_shape[0] * conv_shape[1] * window * elem_bytes >= PER_IMAGE_PATCH_BYTES:
            found.add("per_image")
        if spec.gradients and direct_wins(filter_shape, elem, filter_gradient=True):
            found.add("direct_filter_gradient")
        if layer.pool is not None:
            found.add(f"{layer.pool.kind}_pool")
        if layer.dilation > 1:
            found.add("dilation")
        if layer.bias != "none" and layer.activation == "relu" and layer.fan_out != "product":
            found.add("bias_relu")
        c = layer.channels
    return found
