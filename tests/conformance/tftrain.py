"""A drawn graph trained in TensorFlow itself, against tgc: the random-graph suite's ``tf_train``
variant.

tfdiff.py compares one step's forward values and gradients with TensorFlow's. Training adds what
an optimizer does with them: its slots, its rules for each kind of gradient (TF gives a Variable
read only by gathers an IndexedSlices gradient, and Momentum, RMSProp and Adadelta then update the
gathered rows only), hyperparameters cast to each Variable's dtype, Adam's beta powers. Here the
graph's Variables (the drawn inputs of kind "variable") are trained by an optimizer chosen by the
graph's seed for STEPS steps in tgc and in TensorFlow 1 (``tensorflow.compat.v1``, graph mode),
both built call for call by tfdiff.py's tables; each step's loss and the Variables after the last
step must agree within float rounding, loosened by the steps' compounding (TOLERANCE).

The graph's float placeholders of static shapes become Variables (the suite's other variants
feed them). A graph whose loss depends on no Variable on either side (every gradient None: TF's
minimize refuses it, and so does tgc's) is not trained and passes as "no-variables"; None on one
side only is a finding.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from conformance import checks, tfdiff
from conformance.checks import Outcome, Stage

STEPS = 3

# name -> optimizer of the TF1 API on module ``tf``; hyperparameters small enough that three steps
# stay near the drawn values, large enough that a wrong rule shows
OPTIMIZERS = {
    "sgd": lambda tf: tf.train.GradientDescentOptimizer(0.05),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.05, 0.9),
    "nesterov": lambda tf: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    "adam": lambda tf: tf.train.AdamOptimizer(0.05),
    "adagrad": lambda tf: tf.train.AdagradOptimizer(0.05),
    "adadelta": lambda tf: tf.train.AdadeltaOptimizer(1.0, rho=0.5, epsilon=1e-3),
    "rmsprop": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5),
    "rmsprop_centered": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5, centered=True),
}

# (rtol, atol) of the losses and Variables: a step's rounding differences pass through the
# next steps' gradients (RMSProp and Adam divide by running magnitudes)
TOLERANCE = {"float32": (2e-3, 2e-4), "float64": (1e-6, 1e-8)}


def optimizer_of(spec) -> str:
    """The optimizer graph ``spec`` is trained with: a hash of its seed, so a seed names one run."""
    names = sorted(OPTIMIZERS)
    return names[zlib.crc32(f"{spec.seed}/optimizer".encode()) % len(names)]


def _as_variables(inputs) -> list:
    """The graph's float placeholders of static shapes as Variables (training needs Variables,
    and most drawn inputs are placeholders); those with None dims, and a predicate's bool
    placeholder, stay: the graph's static shapes are the ones drawn."""
    return [
        dataclasses.replace(i, kind="variable")
        if i.kind == "placeholder" and i.dtype is None and i.static == i.shape
        else i
        for i in inputs
    ]


def _variables(spec) -> list:
    return [i for i, inp in enumerate(spec.inputs) if inp.kind == "variable"]


class Untrained(Exception):
    """The loss depends on no Variable: every gradient is None (minimize would refuse it)."""


def train(spec, tf, calls: dict) -> dict:
    """The graph built with ``tf``'s API and ``calls``, trained STEPS steps: {"losses": [...],
    "variables": [...] (their values after the last step), "gradients": [...] (each step's, dense,
    zeros for None)}; Untrained where every gradient is None."""
    graph = tf.Graph()
    with graph.as_default(), checks.building_with(tf, calls):
        try:
            inputs, feeds = checks.make_inputs(spec)
            values = checks.build_values(spec, inputs)
            loss = checks.build_loss(spec, values)
            variables = [inputs[i] for i in _variables(spec)]
            optimizer = OPTIMIZERS[optimizer_of(spec)](tf)
            pairs = optimizer.compute_gradients(loss, var_list=variables)
            if all(g is None for g, _ in pairs):
                raise Untrained()
            # one gradient serves the step and the fetch: the step takes it as it is (TF's
            # IndexedSlices keep its sparse rules), the fetch densely, None as zeros
            grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in pairs]
            step = optimizer.apply_gradients([(g, v) for g, v in pairs if g is not None])
        except Untrained:
            raise
        except Exception as exc:  # noqa: BLE001 - a side refusing the graph is a finding
            raise Stage("build", exc) from None
        try:
            with tf.Session(graph=graph) as sess:
                sess.run(tf.global_variables_initializer())
                losses, gradients = [], []
                for _ in range(STEPS):
                    value, grad = sess.run([loss, grads], feed_dict=feeds)
                    losses.append(value)
                    gradients.append(grad)
                    sess.run(step, feed_dict=feeds)
                trained = sess.run(variables)
        except Exception as exc:  # noqa: BLE001
            raise Stage("run", exc) from None
    return {"losses": losses, "variables": trained, "gradients": gradients}


def run_tftrain(spec, tf=None) -> Outcome:
    """tgc's training of the graph's Variables against TensorFlow's."""
    tf = tf or tfdiff.tensorflow_or_none()
    if tf is None:
        import sys

        return Outcome("error", "suite", tfdiff.NOT_IMPORTABLE.format(python=sys.executable))
    spec = dataclasses.replace(spec, api=True, inputs=_as_variables(spec.inputs))
    if not _variables(spec):
        return Outcome("pass", "no-variables")
    import tgc

    results, refused, untrained = {}, {}, set()
    for side, module, calls in (
        ("tgc", tgc, tfdiff._tgc_calls()),
        ("tf", tf, tfdiff._calls(tf)),
    ):
        try:
            results[side] = train(spec, module, calls)
        except Untrained:
            untrained.add(side)
        except Stage as exc:
            refused[side] = f"{exc.stage}: {tfdiff._message(exc)}"
    name = optimizer_of(spec)
    if untrained == {"tgc", "tf"}:
        return Outcome("pass", "no-variables")
    if untrained and not refused:
        (side,) = untrained
        detail = f"{name}: every gradient of the loss by the Variables is None in {side} only"
        return Outcome("wrong", "tf-training", detail)
    refused.update({side: "build: every gradient is None" for side in untrained})
    if len(refused) == 2:
        return Outcome("pass", "both-refuse", f"tgc {refused['tgc']}\nTF {refused['tf']}")
    if refused:
        (side,) = refused
        detail = f"{name}: {'TF' if side == 'tf' else 'tgc'} {refused[side]}"
        return tfdiff._known(spec, None, Outcome("wrong", f"{side}-refuses", detail))
    problem = _compare(spec, results["tgc"], results["tf"])
    if problem and tfdiff._softmax_labels_off(spec, checks.compute_reference(spec)):
        reason = (
            "softmax_cross_entropy_with_logits of labels not summing to 1: TF's gradient is "
            "documented as wrong there, tgc's is the loss's derivative"
        )
        return Outcome("known", "tf-training", f"{reason}: {name}: {problem}")
    if problem:
        return Outcome("wrong", "tf-training", f"{name}: {problem}")
    return Outcome("pass", "tf_train", name)


# Adam divides each element's step by its gradient's running magnitude: an element whose
# gradient is rounding noise (log(x / x)'s) moves by about the learning rate in a direction the
# noise picks. Such elements (every step's |gradient| below this, times the loss's scale) are not
# compared after Adam's steps.
NOISE_GRADIENT = {"float32": 1e-4, "float64": 1e-10}


def _compare(spec, got: dict, want: dict) -> str | None:
    rtol, atol = TOLERANCE[spec.dtype]
    scale = 1.0 + sum(float(np.abs(w).sum()) for _, w in spec.loss)
    for k, (a, b) in enumerate(zip(got["losses"], want["losses"])):
        if np.isnan(a) and np.isnan(b):
            continue
        if not abs(float(a) - float(b)) <= rtol * abs(float(b)) + atol * scale:
            return f"loss before step {k + 1}: tgc {float(a)!r}, TF {float(b)!r}"
    noise = _noise_elements(spec, want, scale)
    for i, a, b, skip in zip(_variables(spec), got["variables"], want["variables"], noise):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if a.shape != b.shape:
            return f"Variable v{i}: tgc shape {a.shape}, TF {b.shape}"
        bad = ~np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True) & ~skip
        if bad.any():
            where = tuple(int(x) for x in np.argwhere(bad)[0])
            return (
                f"Variable v{i} after {STEPS} steps at {where}: tgc {a[where]!r}, TF {b[where]!r}"
                f" ({int(bad.sum())} of {a.size} elements differ)"
            )
    return None


def _noise_elements(spec, want: dict, scale: float) -> list:
    """Per Variable, a mask of the elements whose every gradient TF computed is rounding noise
    (compared only where the optimizer is not Adam)."""
    masks = []
    steps = want["gradients"]
    for k, array in enumerate(want["variables"]):
        mask = np.zeros(np.shape(array), bool)
        if optimizer_of(spec) == "adam" and steps:
            biggest = np.max([np.abs(np.asarray(g[k], np.float64)) for g in steps], axis=0)
            mask = biggest < NOISE_GRADIENT[spec.dtype] * scale
        masks.append(mask)
    return masks
