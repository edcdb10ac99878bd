"""A drawn graph built in TensorFlow itself, against tgc: the random-graph suite's ``tf`` variant.

The suite's other checks compare tgc with a numpy reference (reference.py) and finite
differences: where both misread TF's semantics (broadcasting, dtype rules, a gradient's choice at a
kink or tie), nothing notices. Here the same drawn graph is built twice through the TF1 API, every
node by an API call (``spec.api = True``, so both sides are one program): in tgc (``import tgc as
tf``) and in TensorFlow 1 (``tensorflow.compat.v1`` in graph mode, V2 behaviour off: TF1's control
flow, ref Variables); each runs in its Session (forward fetches, the loss and ``tf.gradients`` of
the loss for every target), and tgc's numbers must be TensorFlow's within float32/float64 rounding
(the tolerances of checks.check_same: the two libraries reduce in different orders).

The TensorFlow side calls ``TF_CALLS``: registry op -> the TF call (tf.*, tf.nn.*, tf.bitwise.*,
or tf.raw_ops.* where the registry op is a TF kernel a user reaches only that way, as the
gradients' kernels). Ops with no TF call (tgc's own gradient ops, NOT_IN_TF) are not drawn in this
variant (``entries_tf``). A graph one side refuses to build or run and the other runs is a finding
of its own ("tf-refuses", "tgc-refuses", with both sides' messages); a graph both refuse passes.
TensorFlow is imported on first use (``tensorflow_or_none`` says whether it can be).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from conformance import checks
from conformance.checks import Outcome, Stage, Wrong

# Registry ops drawn elsewhere that have no TensorFlow call, and why.
NOT_IN_TF = {
    "gather_grad": "tgc's gradient of gather (TF's is an IndexedSlices, densified by an "
    "UnsortedSegmentSum of the gradient's rows, no user-facing op of these operands)",
    "unbroadcast_like": "tgc's gradient of a broadcast (TF sums over BroadcastGradientArgs)",
    "tile_grad": "tgc's gradient of tile (TF's deprecated TileGrad takes other operands)",
    "dim_size": "tgc's element count over some axes as a float (reduce_mean's gradient); "
    "TF's Size counts every element",
}


def tensorflow_or_none():
    """``tensorflow.compat.v1`` in TF1 graph mode, or None where TensorFlow is not importable."""
    try:
        import tensorflow.compat.v1 as tf
    except ImportError:
        return None
    tf.disable_v2_behavior()  # TF1's while_loop and cond, ref Variables: the programs tgc runs
    return tf


NOT_IMPORTABLE = (
    "TensorFlow is not importable in this Python ({python}): the tf variant needs it "
    "(/tmp/peers/bin/python has it; or `pip install tensorflow-cpu`)"
)


def _one_hot_value(value, dtype: str):
    """TF's one_hot takes on/off values of its dtype only (a float for an integer dtype is a
    TypeError), tgc casts them: the TF program gives them cast, as a TF user has to."""
    return np.asarray(value).astype(dtype)[()]


def _ints(values) -> np.ndarray:
    return np.asarray(list(values), np.int32)


def tf_calls(tf) -> dict:
    """Registry op -> ``call(tensors, attrs)`` in TensorFlow for every op this variant draws."""
    calls = checks._api_calls(tf)  # the calls tgc's side makes, on TensorFlow's module

    def one(fn):
        return lambda t, a: fn(t[0])

    def two(fn):
        return lambda t, a: fn(t[0], t[1])

    def pool(fn):
        return lambda t, a: fn(
            t[0], ksize=list(a["ksize"]), strides=list(a["strides"]), padding=a["padding"]
        )

    def pool_args(a):
        return dict(ksize=list(a["ksize"]), strides=list(a["strides"]), padding=a["padding"])

    unary = {
        "abs": tf.abs,
        "atan": tf.atan,
        "ceil": tf.ceil,
        "cos": tf.cos,
        "cosh": tf.cosh,
        "erf": tf.erf,
        "exp": tf.exp,
        "expm1": tf.expm1,
        "floor": tf.floor,
        "identity": tf.identity,
        "log": tf.log,
        "log1p": tf.log1p,
        "relu": tf.nn.relu,
        "elu": tf.nn.elu,
        "round": tf.round,
        "rsqrt": tf.rsqrt,
        "sigmoid": tf.sigmoid,
        "sign": tf.sign,
        "sin": tf.sin,
        "sinh": tf.sinh,
        "sqrt": tf.sqrt,
        "square": tf.square,
        "stop_gradient": tf.stop_gradient,
        "tan": tf.tan,
        "tanh": tf.tanh,
        "diag": tf.diag,
        "diag_part": tf.diag_part,
        "invert": tf.bitwise.invert,
        "logical_not": tf.logical_not,
        "matrix_determinant": tf.matrix_determinant,
        "matrix_inverse": tf.matrix_inverse,
    }
    binary = {
        "bitwise_and": tf.bitwise.bitwise_and,
        "bitwise_or": tf.bitwise.bitwise_or,
        "bitwise_xor": tf.bitwise.bitwise_xor,
        "left_shift": tf.bitwise.left_shift,
        "right_shift": tf.bitwise.right_shift,
        "equal": tf.equal,
        "not_equal": tf.not_equal,
        "greater": tf.greater,
        "greater_equal": tf.greater_equal,
        "less": tf.less,
        "less_equal": tf.less_equal,
        "logical_and": tf.logical_and,
        "logical_or": tf.logical_or,
    }
    calls.update({op: one(fn) for op, fn in unary.items()})
    calls.update({op: two(fn) for op, fn in binary.items()})
    calls.update(
        {
            # An empty Python list (the begin of a 0-d tensor's slice) converts to float32 in TF:
            # the TF program spells such index vectors as int32 arrays, as a TF user must.
            "slice": lambda t, a: tf.slice(t[0], _ints(a["begin"]), _ints(a["size"])),
            "strided_slice": lambda t, a: tf.strided_slice(
                t[0],
                _ints(a["begin"]),
                _ints(a["end"]),
                _ints(a["strides"]),
                begin_mask=a["begin_mask"],
                end_mask=a["end_mask"],
            ),
            "tile": lambda t, a: tf.tile(t[0], _ints(a["multiples"])),
            "transpose": lambda t, a: tf.transpose(t[0], perm=_ints(a["perm"])),
            "reshape": lambda t, a: tf.reshape(t[0], _ints(a["shape"])),
            "batch_matmul": lambda t, a: tf.matmul(
                t[0], t[1], transpose_a=a["transpose_a"], transpose_b=a["transpose_b"]
            ),
            "broadcast_like": lambda t, a: tf.broadcast_to(t[0], tf.shape(t[1])),
            "fill_like": lambda t, a: tf.fill(
                tf.shape(t[0]), tf.cast(tf.constant(a["value"], tf.float64), t[0].dtype)
            ),
            "squeeze": lambda t, a: tf.squeeze(t[0], axis=list(a["axes"])),
            "avg_pool": pool(tf.nn.avg_pool),
            "max_pool": pool(tf.nn.max_pool),
            "avg_pool_grad": lambda t, a: tf.raw_ops.AvgPoolGrad(
                orig_input_shape=tf.shape(t[0]), grad=t[1], **pool_args(a)
            ),
            "max_pool_grad_grad": lambda t, a: tf.raw_ops.MaxPoolGradGrad(
                orig_input=t[0],
                orig_output=tf.nn.max_pool(t[0], **pool_args(a)),
                grad=t[1],
                **pool_args(a),
            ),
            "max_pool_grad": lambda t, a: tf.raw_ops.MaxPoolGrad(
                orig_input=t[0],
                orig_output=tf.nn.max_pool(t[0], **pool_args(a)),
                grad=t[1],
                **pool_args(a),
            ),
            "split_like": lambda t, a: tf.split(
                t[0],
                tf.stack([tf.shape(t[1])[a["axis"]], tf.shape(t[2])[a["axis"]]]),
                axis=a["axis"],
                num=2,
            ),
            "strided_slice_grad": lambda t, a: tf.raw_ops.StridedSliceGrad(
                shape=tf.shape(t[1]),
                begin=_ints(a["begin"]),
                end=_ints(a["end"]),
                strides=_ints(a["strides"]),
                dy=t[0],
                begin_mask=a["begin_mask"],
                end_mask=a["end_mask"],
            ),
            "one_hot": lambda t, a: tf.one_hot(
                t[0],
                a["depth"],
                on_value=_one_hot_value(a["on_value"], a["dtype"]),
                off_value=_one_hot_value(a["off_value"], a["dtype"]),
                axis=a["axis"],
                dtype=a["dtype"],
            ),
        }
    )
    return calls


# The registry ops TensorFlow's API reaches only through tf.raw_ops (gradient kernels), which tgc
# does not have: on tgc's side they are the registry op itself (make_op), the same kernel.
RAW_OPS = ("avg_pool_grad", "max_pool_grad", "max_pool_grad_grad", "strided_slice_grad")


def tgc_calls() -> dict:
    """The same table on tgc's module: both sides run one program, call for call."""
    import tgc
    from tgc.frontend.build import make_op

    calls = tf_calls(tgc)
    for op in RAW_OPS:
        calls[op] = lambda t, a, op=op: make_op(op, t, **a)
    return calls


_CALLS: dict = {}
_TGC_CALLS: dict = {}


def _calls(tf) -> dict:
    if not _CALLS:
        _CALLS.update(tf_calls(tf))
    return _CALLS


def _tgc_calls() -> dict:
    if not _TGC_CALLS:
        _TGC_CALLS.update(tgc_calls())
    return _TGC_CALLS


def run_tgc_session(spec) -> dict:
    """The graph built by tgc's API with the same table, in a tgc Session (checks.run_session)."""
    import tgc

    with checks.building_with(tgc, _tgc_calls()):
        return checks.run_session(spec, checks.target_named("cpu"))


def entries_tf(entries: dict) -> dict:
    """The drawable ``entries`` that have a TensorFlow call (the catalogue less NOT_IN_TF)."""
    return {name: entry for name, entry in entries.items() if name in TF_OPS}


# Every op tf_calls builds (without importing TensorFlow: the generator needs the list in a
# Python without it, the pytest's collection for one).
TF_OPS = (
    "abs add argmax argmin atan avg_pool avg_pool_grad batch_matmul bitwise_and bitwise_or "
    "bitwise_xor broadcast_like cast ceil concat cos cosh diag diag_part divide elu equal erf exp "
    "expand_dims expm1 fill_like floor gather greater greater_equal identity invert l2_loss "
    "left_shift less less_equal log log1p log_softmax logical_and logical_not logical_or matmul "
    "matrix_determinant matrix_inverse max_pool max_pool_grad max_pool_grad_grad maximum minimum "
    "multiply negative "
    "not_equal one_hot pow reduce_max reduce_mean reduce_min reduce_prod reduce_sum relu reshape "
    "reshape_like right_shift round rsqrt select shape sigmoid sigmoid_cross_entropy_with_logits "
    "sign sin sinh slice softmax softmax_cross_entropy_with_logits "
    "sparse_softmax_cross_entropy_with_logits split split_like sqrt square squeeze stop_gradient "
    "strided_slice strided_slice_grad subtract tan tanh tile transpose"
).split()


# ---- one graph in TensorFlow ---------------------------------------------------------------------


def run_tf_session(spec, tf) -> dict:
    """The graph built by TensorFlow's API and run in a tf.Session: forward values, loss and
    ``tf.gradients`` (IndexedSlices made dense, as a user's ``tf.convert_to_tensor`` does)."""
    graph = tf.Graph()
    with graph.as_default(), checks.building_with(tf, _calls(tf)):
        try:
            built = checks.build_graph(spec)
            built.grads = [
                tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                for g in built.grads
            ]
            built.fetches = built.fetches[: len(spec.fetches) + 1] + [
                g for g in built.grads if g is not None
            ]
        except Exception as exc:  # noqa: BLE001 - TensorFlow refusing the graph is a finding
            raise Stage("build", exc) from None
        try:
            with tf.Session(graph=graph) as sess:
                if any(i.kind == "variable" for i in spec.inputs):
                    sess.run(tf.global_variables_initializer())
                out = sess.run(built.fetches, feed_dict=built.feeds)
        except Exception as exc:  # noqa: BLE001
            raise Stage("run", exc) from None
    return checks.unpack(spec, built, out)


# ---- tgc against TensorFlow ----------------------------------------------------------------------


def _message(exc: Stage) -> str:
    """The error's gist: its first line, and for TF's "Graph execution error" the kernel's."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    gist = [lines[0]]
    if "Graph execution error" in lines[0] and len(lines) > 1:
        # the kernel's message: after "Node: '<name>'" where TF names the node, else next
        nodes = [k for k, line in enumerate(lines) if line.startswith("Node: ")]
        at = nodes[0] if nodes else 0
        gist += lines[at : at + 2] if nodes else lines[1:2]
    return " | ".join(gist)[:400]


def run_tfdiff(spec, tf=None) -> Outcome:
    """tgc's Session against TensorFlow's on the graph built by API calls on both sides."""
    tf = tf or tensorflow_or_none()
    if tf is None:
        import sys

        return Outcome("error", "suite", NOT_IMPORTABLE.format(python=sys.executable))
    spec = dataclasses.replace(spec, api=True)
    ref = checks.compute_reference(spec)  # rounding for the tolerances, kinks to skip
    results, refused = {}, {}
    for side, run in (
        ("tgc", lambda: run_tgc_session(spec)),
        ("tf", lambda: run_tf_session(spec, tf)),
    ):
        try:
            results[side] = run()
        except Stage as exc:
            refused[side] = f"{exc.stage}: {_message(exc)}"
    if len(refused) == 2:
        return Outcome("pass", "both-refuse", f"tgc {refused['tgc']}\nTF {refused['tf']}")
    if refused:
        (side,) = refused
        other = "tgc" if side == "tf" else "TF"
        detail = f"{'TF' if side == 'tf' else 'tgc'} {refused[side]}\n{other}: builds and runs it"
        return _known(spec, ref, Outcome("wrong", f"{side}-refuses", detail))
    try:
        compare(spec, ref, results["tf"], results["tgc"])
    except Wrong as exc:
        return _known(spec, ref, Outcome("wrong", exc.category, str(exc)))
    return Outcome("pass", "tf")


# Disagreements understood and left (findings-tfdiff.md says why): (category, what the detail
# matches, the reason). Such a graph's outcome is "known", with the reason before its detail.
KNOWN = (
    (
        "tf-refuses",
        re.compile(r"incompatible with expected double"),
        "TF's bug: TF1 while_loop's gradient in float64 makes a float32 zero for a loop variable "
        "whose gradient is None (floor/ceil/round/a shape-only use in the body)",
    ),
    (
        "tf-refuses",
        re.compile(r"Node: 'gradients/.* must have the same size and shape"),
        "TF's bug: TF1 while_loop/cond gradients of broadcasting ops fail at run time "
        "(EluGrad, AddN of gradients of other shapes)",
    ),
    (
        "tf-refuses",
        re.compile(r"MatrixDeterminant_grad/MatrixInverse' \| Input is not invertible"),
        "TF's limitation: its determinant's gradient inverts the matrix, and fails at run time "
        "for a singular one (whose gradient, the adjugate's transpose, exists)",
    ),
    (
        "tf-refuses",
        re.compile(r"has DataType bool not in list of allowed values"),
        "tgc accepts what TF refuses: less/greater (and _equal) of bools, argmin/argmax of bools",
    ),
    (
        "tf-refuses",
        re.compile(r"softmax_cross_entropy_with_logits|IndexError: list index out of range"),
        "tgc accepts what TF refuses: softmax_cross_entropy_with_logits_v2 of labels and logits "
        "of other shapes or ranks (tgc broadcasts them; TF's Python transposes by the logits' "
        "rank, or indexes a scalar's shape)",
    ),
)


def _known(spec, ref, outcome: Outcome) -> Outcome:
    for category, pattern, reason in KNOWN:
        if outcome.category == category and pattern.search(outcome.detail):
            return Outcome("known", outcome.category, f"{reason}: {outcome.detail}")
    if (
        outcome.category == "tf-forward"
        and ": shape " in outcome.detail
        and any(n.op == "squeeze" and not n.attrs["axes"] for n in _all_nodes(spec.nodes))
    ):
        reason = (
            "tf.squeeze without axes of a tensor with unknown dims: TF removes the dims that are "
            "1 at run time (a rank known only then), tgc those known to be 1 when it builds"
        )
        return Outcome("known", outcome.category, f"{reason}: {outcome.detail}")
    if outcome.category == "tf-gradient" and _pool_ties(spec, ref):
        reason = (
            "a max pool of an input with equal values: its gradient at exact ties (TF's kernels "
            "and tgc's may pick another of the tied maxima)"
        )
        return Outcome("known", outcome.category, f"{reason}: {outcome.detail}")
    if outcome.category == "tf-gradient" and _softmax_labels_off(spec, ref):
        reason = (
            "softmax_cross_entropy_with_logits of labels not summing to 1: TF's gradient is "
            "documented as wrong there (it assumes they do), tgc's is the loss's derivative"
        )
        return Outcome("known", outcome.category, f"{reason}: {outcome.detail}")
    return outcome


def _softmax_labels_off(spec, ref) -> bool:
    """Whether a softmax cross-entropy of the graph has labels whose sum along its axis is not 1
    (one inside a loop or branch counts as such: its labels are not at hand)."""
    from conformance.generator import control_nodes

    op = "softmax_cross_entropy_with_logits"
    if any(n.op == op for c in control_nodes(spec.nodes) for n in _all_nodes([c])[1:]):
        return True
    for node in spec.nodes:
        if node.op == op:
            labels = ref.values64[node.args[0]]
            sums = np.sum(labels, axis=node.attrs["axis"]) if labels.ndim else labels
            if not np.allclose(sums, 1.0, atol=1e-6):
                return True
    return False


POOLS = ("max_pool", "max_pool_grad", "max_pool_grad_grad")


def _pool_ties(spec, ref) -> bool:
    """Whether a max pool's input holds equal values (one inside a loop or branch counts)."""
    from conformance.generator import control_nodes

    if any(n.op in POOLS for c in control_nodes(spec.nodes) for n in _all_nodes([c])[1:]):
        return True
    for node in spec.nodes:
        if node.op in POOLS:
            x = np.asarray(ref.values64[node.args[0]])
            if np.unique(x).size < x.size:
                return True
    return False


def _all_nodes(nodes) -> list:
    """``nodes`` and those of every loop body and branch in them."""
    out = []
    for node in nodes:
        out.append(node)
        if node.op in checks.CONTROL_OPS:
            bodies = [node.attrs["body"]] if node.op == "while_loop" else node.attrs["branches"]
            for body in bodies:
                out.extend(_all_nodes(body.nodes))
    return out


def compare(spec, ref, tf_result: dict, tgc_result: dict) -> None:
    """tgc's forward values, loss and gradients against TensorFlow's: the tolerances of
    checks.check_same (float rounding of either side; gradients at the reference's kinks not
    compared: either one-sided derivative is right there)."""
    for f, want, got in zip(spec.fetches, tf_result["forward"], tgc_result["forward"]):
        want64 = ref.values64[f]
        rounding = None
        if want64.dtype.kind == "f" and want64.shape == np.shape(want):
            rounding = np.abs(np.asarray(ref.values[f], np.float64) - want64)
            rounding = rounding + np.abs(np.asarray(want, np.float64) - want64)
        checks.compare_array(
            f"v{f} against TF", "tf-forward", got, want, spec.dtype, rounding=rounding
        )
    # The loss sums many terms, which may cancel: its rounding scales with the terms' magnitude.
    try:
        terms = sum(float(np.abs(ref.values64[v] * w).sum()) for v, w in spec.loss)
    except ValueError:  # a value of another shape than the reference's (a finding of its own)
        terms = abs(float(tf_result["loss"]))
    allowed = (1e-4 if spec.dtype == "float32" else 1e-9) * (1.0 + terms)
    error = abs(float(tgc_result["loss"]) - float(tf_result["loss"]))
    if not error <= allowed:
        raise Wrong(
            "tf-forward",
            f"loss: tgc {tgc_result['loss']!r}, TF {tf_result['loss']!r} (allowed {allowed:.3g})",
        )
    rtol, atol = (1e-4, 1e-5) if spec.dtype == "float32" else (1e-7, 1e-9)
    for t, want, got in zip(spec.targets, tf_result["grads"], tgc_result["grads"]):
        if (want is None) != (got is None):
            raise Wrong(
                "tf-gradient",
                f"d loss/d v{t}: tgc {'None' if got is None else _short(got)}, "
                f"TF {'None' if want is None else _short(want)}",
            )
        if want is not None:
            checks.compare_array(
                f"d loss/d v{t} against TF",
                "tf-gradient",
                got,
                want,
                spec.dtype,
                skip=_kinks(ref, t, want),
                rtol=rtol,
                atol_scale=atol,
            )


def _kinks(ref, t: int, want):
    """The reference's kink mask of target t, where it has TF's gradient's shape."""
    kink = ref.fd[t][1] if t in ref.fd else None
    return kink if kink is not None and kink.shape == np.shape(want) else None


def _short(array) -> str:
    a = np.asarray(array)
    return f"{a.dtype} {list(a.shape)} {a.ravel()[:4]}"
