"""Random ops: uniform, normal, truncated normal and dropout, drawn from a counter-based generator.

Every element is a pure function of (seed, seed2, step, element linear index, stream), so the numpy
reference here and the compiled code (``tgc/lowering/to_core/random.py``) give the same numbers, and
a gradient rule can redraw exactly the numbers of the forward pass. The generator is splitmix64:

  base    = key of (seed, seed2)                  (compile-time constant, ``base_key``)
  run_key = mix(base + step * GAMMA)              (``step``: the session's run counter, an operand)
  bits    = mix(run_key + (counter + 1) * GAMMA)  (counter = index * streams + stream)

that is, each (op, run) gets its own splitmix64 sequence, and element ``index`` reads ``streams``
consecutive words of it. All arithmetic wraps modulo 2**64, as numpy uint64 and LLVM i64 both do.

Uniform floats take the top bits of a word (24 for f32, 53 for f64, 11 for f16, 8 for bf16), exact
in both numpy and LLVM. Normals use Box-Muller on two words, computed in f64 with libm's
log/cos/sqrt and rounded to f32 (then to the dtype), so one-ulp differences between libms almost
never show. ``step`` is the first operand of each random op: a rank-0 int64 tensor the session feeds
(see ``tgc/frontend/random_ops.py``); it changes every ``Session.run`` so each run draws anew, as TF
does. Inside a loop body the step is ``fold_step(step, iteration)`` (the ``fold_step`` op, added by
``tgc/frontend/control.py``), once per nesting level, so each iteration draws anew too.
"""

from __future__ import annotations

import numpy as np

from tgc.dialect.costs import (
    RANDOM_WORD_FLOPS,
    dropout_flops,
    random_normal_flops,
    random_uniform_flops,
    truncated_normal_flops,
)
from tgc.dialect.registry import NOT_DIFFERENTIABLE, Attr, Sample, ShapeError, op
from tgc.dialect.shapes import FLOAT_DTYPES, INT_DTYPES, spec
from tgc.dialect.types import as_dtype, format_shape, numpy_dtype

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15  # splitmix64's increment (2**64 / golden ratio, odd)
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB

# Mantissa bits a uniform draw keeps per float dtype: every value k * 2**-bits is then exact.
UNIFORM_BITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}

# Truncated normal: candidates per element. A standard normal falls outside (-2, 2) with probability
# 0.0455, so all 16 candidates fail with probability 0.0455**16 ~ 3e-22 per element (then the
# element is the mean). The compiled loop stops at the first accepted candidate: 1.05 draws on
# average.
TRUNCATED_CANDIDATES = 16
TRUNCATED_BOUND = 2.0


# ---- the generator (numpy reference; the lowering mirrors it op for op) --------------------------


def mix(z):
    """splitmix64's finalizer on uint64 (a numpy array or a Python int)."""
    if isinstance(z, int):
        z = (z ^ (z >> 30)) * MIX1 & MASK64
        z = (z ^ (z >> 27)) * MIX2 & MASK64
        return z ^ (z >> 31)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        return z ^ (z >> np.uint64(31))


def base_key(seed: int, seed2: int) -> int:
    """The per-op key, a compile-time constant. The offsets keep seed = seed2 = 0 away from
    mix(0) = 0."""
    return mix((mix((seed + GAMMA) & MASK64) ^ (seed2 & MASK64)) + GAMMA & MASK64)


def run_key(seed: int, seed2: int, step) -> int:
    step = int(np.asarray(step)) & MASK64
    return mix((base_key(seed, seed2) + step * GAMMA) & MASK64)


# Separates fold_step's key from every op's run key (an arbitrary odd constant).
FOLD_KEY = 0xD1B54A32D192ED03


def fold_step(step, iteration):
    """The step a random op inside a loop body reads in ``iteration`` (0, 1, ...) of the loop
    when the loop itself sees ``step``: word ``iteration`` of the splitmix64 sequence keyed by
    ``step``. For one step it differs in every iteration (mix is a bijection), so each iteration
    draws anew; a nested loop folds its own iteration into the result. Returned as int64 (the
    step operand's dtype), the bits of the uint64."""
    key = mix((int(np.asarray(step)) * GAMMA + FOLD_KEY) & MASK64)
    word = mix((key + (int(np.asarray(iteration)) + 1) * GAMMA) & MASK64)
    return np.uint64(word).view(np.int64)


def random_bits(seed, seed2, step, count: int, streams: int = 1) -> np.ndarray:
    """uint64 words of shape (streams, count): word [s, i] is stream s of element i."""
    key = np.uint64(run_key(seed, seed2, step))
    index = np.arange(count, dtype=np.uint64)[None, :]
    stream = np.arange(streams, dtype=np.uint64)[:, None]
    with np.errstate(over="ignore"):
        counter = index * np.uint64(streams) + stream + np.uint64(1)
        return mix(key + counter * np.uint64(GAMMA))


def bits_to_unit(bits: np.ndarray, dtype: str) -> np.ndarray:
    """Uniform [0, 1) in ``dtype`` from the top bits of each word (exact in every dtype)."""
    n = UNIFORM_BITS[dtype]
    work = np.float64 if dtype == "float64" else np.float32
    unit = (bits >> np.uint64(64 - n)).astype(work) * work(2.0**-n)
    return unit.astype(numpy_dtype(dtype))


def box_muller(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """Standard normals in f64: sqrt(-2 log u1) cos(2 pi u2) with u1 in (0, 1], u2 in [0, 1)."""
    u1 = ((b1 >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0**-53
    u2 = (b2 >> np.uint64(11)).astype(np.float64) * 2.0**-53
    radius = np.sqrt(-2.0 * np.log(u1))
    return radius * np.cos((2.0 * np.pi) * u2)


def round_normal(z: np.ndarray, dtype: str) -> np.ndarray:
    """f64 normals to ``dtype``, through f32 for narrower dtypes (the lowering does the same)."""
    if dtype == "float64":
        return z
    return z.astype(np.float32).astype(numpy_dtype(dtype))


def uniform_values(shape, dtype, seed, seed2, step, minval=0.0, maxval=1.0) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    bits = random_bits(seed, seed2, step, count)[0]
    if dtype in INT_DTYPES:
        span = np.uint64((int(maxval) - int(minval)) & MASK64)
        with np.errstate(over="ignore"):
            words = bits % span + np.uint64(int(minval) & MASK64)
        return words.view(np.int64).astype(numpy_dtype(dtype)).reshape(shape)
    np_type = numpy_dtype(dtype).type
    unit = bits_to_unit(bits, dtype)
    out = unit * np_type(maxval - minval) + np_type(minval)
    return out.astype(np_type, copy=False).reshape(shape)


def normal_values(shape, dtype, seed, seed2, step, mean=0.0, stddev=1.0) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    b1, b2 = random_bits(seed, seed2, step, count, streams=2)
    return _scale(round_normal(box_muller(b1, b2), dtype), dtype, mean, stddev).reshape(shape)


def truncated_values(shape, dtype, seed, seed2, step, mean=0.0, stddev=1.0) -> np.ndarray:
    count = int(np.prod(shape, dtype=np.int64))
    k = TRUNCATED_CANDIDATES
    bits = random_bits(seed, seed2, step, count, streams=2 * k)
    candidates = box_muller(bits[0::2], bits[1::2])  # (k, count): candidate j from streams 2j, 2j+1
    inside = np.abs(candidates) < TRUNCATED_BOUND
    first = np.argmax(inside, axis=0)
    z = np.where(inside.any(axis=0), candidates[first, np.arange(count)], 0.0)
    return _scale(round_normal(z, dtype), dtype, mean, stddev).reshape(shape)


def _scale(z, dtype, mean, stddev):
    np_type = numpy_dtype(dtype).type
    return (z * np_type(stddev) + np_type(mean)).astype(np_type, copy=False)


# ---- result rules --------------------------------------------------------------------------------


def check_step(step) -> None:
    if step.shape != () or step.dtype != "int64":
        raise ShapeError(f"step must be a rank-0 int64 tensor but got {step.describe()}")


def _static_shape(shape) -> tuple:
    if any(d < 0 for d in shape):
        raise ShapeError(f"random shape must be fully known but got {format_shape(tuple(shape))}")
    return tuple(shape)


def _float_only(dtype, what):
    if dtype not in FLOAT_DTYPES:
        raise ShapeError(f"{what} needs a floating-point dtype but got {dtype}")


_SEEDS = {"seed": Attr("int", 0), "seed2": Attr("int", 0)}
_STEP = np.array(3, np.int64)


# ---- ops -----------------------------------------------------------------------------------------


@op(
    "random_uniform",
    tf_type="RandomUniform",
    operands=("step",),
    stateful=True,
    attrs={
        "shape": Attr("ints"),
        "dtype": Attr("dtype", "float32"),
        **_SEEDS,
        "minval": Attr("float", 0.0),
        "maxval": Attr("float", 1.0),
    },
)
class RandomUniform:
    """Uniform in [minval, maxval) (`tf.random_uniform`); integers for int32/int64 dtypes."""

    flops = random_uniform_flops

    def infer(step, shape, dtype, seed, seed2, minval, maxval):
        check_step(step)
        _uniform_dtype_check(dtype, minval, maxval)
        return spec(_static_shape(shape), dtype)

    def eval(step, shape, dtype, seed, seed2, minval, maxval):
        return uniform_values(tuple(shape), dtype, seed, seed2, step, minval, maxval)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((),),
            dtypes="int64",
            values=(_STEP,),
            attrs={"shape": (3, 5), "dtype": "float32", "seed": 1, "seed2": 2},
        ),
        Sample(
            shapes=((),),
            dtypes="int64",
            values=(_STEP,),
            attrs={
                "shape": (4, 2),
                "dtype": "int32",
                "seed": 7,
                "seed2": 0,
                "minval": -3.0,
                "maxval": 9.0,
            },
        ),
    ]


def _normal_infer(name):
    def infer(step, shape, dtype, seed, seed2, mean, stddev):
        check_step(step)
        _float_only(dtype, name)
        return spec(_static_shape(shape), dtype)

    return infer


_NORMAL_ATTRS = {
    "shape": Attr("ints"),
    "dtype": Attr("dtype", "float32"),
    **_SEEDS,
    "mean": Attr("float", 0.0),
    "stddev": Attr("float", 1.0),
}


@op(
    "random_normal",
    tf_type="RandomStandardNormal",
    operands=("step",),
    stateful=True,
    attrs=_NORMAL_ATTRS,
)
class RandomNormal:
    """Normal with the given mean and stddev (`tf.random_normal`)."""

    flops = random_normal_flops

    infer = _normal_infer("random_normal")

    def eval(step, shape, dtype, seed, seed2, mean, stddev):
        return normal_values(tuple(shape), dtype, seed, seed2, step, mean, stddev)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((),),
            dtypes="int64",
            values=(_STEP,),
            attrs={"shape": (4, 3), "seed": 5, "seed2": 6, "mean": 1.0, "stddev": 2.0},
        )
    ]


@op(
    "truncated_normal",
    tf_type="TruncatedNormal",
    operands=("step",),
    stateful=True,
    attrs=_NORMAL_ATTRS,
)
class TruncatedNormal:
    """Normal cut at two standard deviations, outliers drawn again (`tf.truncated_normal`)."""

    flops = truncated_normal_flops

    infer = _normal_infer("truncated_normal")

    def eval(step, shape, dtype, seed, seed2, mean, stddev):
        return truncated_values(tuple(shape), dtype, seed, seed2, step, mean, stddev)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((),),
            dtypes="int64",
            values=(_STEP,),
            attrs={"shape": (5, 4), "seed": 9, "seed2": 1, "stddev": 0.5},
        )
    ]


@op(
    "random_uniform_like",
    tf_type="RandomUniform",
    operands=("x", "step"),
    stateful=True,
    attrs=dict(_SEEDS),
)
class RandomUniformLike:
    """Uniform [0, 1) of x's shape and dtype; x's unknown dims are read at run time
    (dropout's noise)."""

    flops = random_uniform_flops

    def infer(x, step, seed, seed2):
        check_step(step)
        _float_only(x.dtype, "random_uniform_like")
        return x

    def eval(x, step, seed, seed2):
        return uniform_values(x.shape, _dtype_name(x), seed, seed2, step)

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((3, 4), ()),
            dtypes=("float32", "int64"),
            values=(None, _STEP),
            attrs={"seed": 4, "seed2": 2},
            dynamic=((0, 0),),
        )
    ]


# ---- draws of a shape known at run time ----------------------------------------------------------
#
# `tf.random_normal(tf.shape(mu))` and `tf.random_uniform([tf.shape(x)[0], 2])` draw a shape the
# graph does not know. These ops take it from their first operand, whose values are never read:
# only its dims (the frontend passes `mu` itself for `tf.shape(mu)`, else `tf.zeros(shape)`, whose
# run-time fill checks the dims are non-negative as TF's does). Element i of a draw is the same
# function of (seeds, step, i) as in the static ops, so a shape known late gives the numbers the
# same shape known early would.


def _sized_spec(name, source, step, dtype):
    check_step(step)
    if source.shape is None:
        raise ShapeError(f"{name} needs a size source of known rank but got {source.describe()}")
    return spec(source.shape, dtype)


def _uniform_dtype_check(dtype, minval, maxval):
    if dtype not in FLOAT_DTYPES + INT_DTYPES:
        raise ShapeError(f"random_uniform does not support dtype {dtype}")
    if dtype in INT_DTYPES and not (
        minval < maxval and minval == int(minval) and maxval == int(maxval)
    ):
        raise ShapeError(
            f"integer random_uniform needs integer minval < maxval but got [{minval}, {maxval})"
        )


def _sized_sample(dtype, attrs):
    return Sample(
        shapes=((3, 4), ()),
        dtypes=(dtype, "int64"),
        values=(None, _STEP),
        attrs=attrs,
        dynamic=((0, 0), (0, 1)),
    )


@op(
    "random_uniform_sized",
    tf_type="RandomUniform",
    operands=("size_source", "step"),
    stateful=True,
    attrs={
        "dtype": Attr("dtype", "float32"),
        **_SEEDS,
        "minval": Attr("float", 0.0),
        "maxval": Attr("float", 1.0),
    },
)
class RandomUniformSized:
    """`random_uniform` of size_source's shape (its unknown dims read at run time) in ``dtype``."""

    flops = random_uniform_flops

    def infer(size_source, step, dtype, seed, seed2, minval, maxval):
        _uniform_dtype_check(dtype, minval, maxval)
        return _sized_spec("random_uniform", size_source, step, dtype)

    def eval(size_source, step, dtype, seed, seed2, minval, maxval):
        return uniform_values(size_source.shape, dtype, seed, seed2, step, minval, maxval)

    grad = NOT_DIFFERENTIABLE
    samples = [
        _sized_sample("float32", {"dtype": "float32", "seed": 1, "seed2": 2, "maxval": 3.0}),
        _sized_sample(
            "int32", {"dtype": "int32", "seed": 7, "seed2": 0, "minval": -3.0, "maxval": 9.0}
        ),
    ]


_NORMAL_SIZED_ATTRS = {k: v for k, v in _NORMAL_ATTRS.items() if k != "shape"}


@op(
    "random_normal_sized",
    tf_type="RandomStandardNormal",
    operands=("size_source", "step"),
    stateful=True,
    attrs=_NORMAL_SIZED_ATTRS,
)
class RandomNormalSized:
    """`random_normal` of size_source's shape (its unknown dims read at run time) in ``dtype``."""

    flops = random_normal_flops

    def infer(size_source, step, dtype, seed, seed2, mean, stddev):
        _float_only(dtype, "random_normal")
        return _sized_spec("random_normal", size_source, step, dtype)

    def eval(size_source, step, dtype, seed, seed2, mean, stddev):
        return normal_values(size_source.shape, dtype, seed, seed2, step, mean, stddev)

    grad = NOT_DIFFERENTIABLE
    samples = [
        _sized_sample("float32", {"seed": 5, "seed2": 6, "mean": 1.0, "stddev": 2.0}),
        _sized_sample("int32", {"dtype": "float64", "seed": 5, "seed2": 6}),
    ]


@op(
    "truncated_normal_sized",
    tf_type="TruncatedNormal",
    operands=("size_source", "step"),
    stateful=True,
    attrs=_NORMAL_SIZED_ATTRS,
)
class TruncatedNormalSized:
    """`truncated_normal` of size_source's shape (its unknown dims read at run time)."""

    flops = truncated_normal_flops

    def infer(size_source, step, dtype, seed, seed2, mean, stddev):
        _float_only(dtype, "truncated_normal")
        return _sized_spec("truncated_normal", size_source, step, dtype)

    def eval(size_source, step, dtype, seed, seed2, mean, stddev):
        return truncated_values(size_source.shape, dtype, seed, seed2, step, mean, stddev)

    grad = NOT_DIFFERENTIABLE
    samples = [_sized_sample("float32", {"seed": 9, "seed2": 1, "stddev": 0.5})]


@op("fold_step", tf_type="TgcFoldStep", operands=("step", "iteration"))
class FoldStep:
    """The step of the random ops inside a loop body in one iteration (``fold_step``): the loop's
    step with its iteration counter folded in (tgc/frontend/control.py adds both)."""

    def flops(operands, results, attrs):
        return 2.0 * RANDOM_WORD_FLOPS  # two splitmix64 words

    def infer(step, iteration):
        check_step(step)
        if iteration.shape != () or iteration.dtype != "int64":
            raise ShapeError(
                f"iteration must be a rank-0 int64 tensor but got {iteration.describe()}"
            )
        return step

    def eval(step, iteration):
        return np.asarray(fold_step(step, iteration))

    grad = NOT_DIFFERENTIABLE
    samples = [
        Sample(
            shapes=((), ()),
            dtypes="int64",
            values=(_STEP, np.array(4, np.int64)),
        ),
        Sample(
            shapes=((), ()),
            dtypes="int64",
            values=(np.array(-7, np.int64), np.array(0, np.int64)),
        ),
    ]


def dropout_mask(keep_prob, u):
    """floor(keep_prob + u): 1 with probability keep_prob, else 0, in u's dtype."""
    return np.floor(keep_prob + u).astype(u.dtype, copy=False)


@op(
    "dropout",
    tf_type="Dropout",
    operands=("x", "keep_prob", "step"),
    stateful=True,
    attrs=dict(_SEEDS),
    scalar_operands=("keep_prob", "step"),
)
class Dropout:
    """Keeps each element with probability keep_prob, scaled by 1/keep_prob (`tf.nn.dropout`)."""

    flops = dropout_flops

    def infer(x, keep_prob, step, seed, seed2):
        check_step(step)
        _float_only(x.dtype, "dropout")
        if keep_prob.shape != () or keep_prob.dtype != x.dtype:
            raise ShapeError(
                f"keep_prob must be a rank-0 {x.dtype} tensor like x {x.describe()} but got "
                f"{keep_prob.describe()}"
            )
        return x

    def eval(x, keep_prob, step, seed, seed2):
        u = uniform_values(x.shape, _dtype_name(x), seed, seed2, step)
        return (x * dropout_mask(keep_prob, u) / keep_prob).astype(x.dtype, copy=False)

    def decompose(b, op):
        x, keep_prob, _ = op.inputs
        return b.divide(b.multiply(x, _mask(b, op)), keep_prob)

    def grad(b, op, g):
        # The mask is redrawn rather than kept: with the same seeds and the same step operand (this
        # run's counter) random_uniform_like yields the very numbers the forward pass used, since
        # each element is a pure function of (seed, seed2, step, index). So
        # dx = g * mask / keep_prob.
        keep_prob = op.inputs[1]
        return [b.divide(b.multiply(g, _mask(b, op)), keep_prob), None, None]

    samples = [
        Sample(
            shapes=((4, 5), (), ()),
            dtypes=("float32", "float32", "int64"),
            values=(None, np.array(0.6, np.float32), _STEP),
            attrs={"seed": 3, "seed2": 8},
            dynamic=((0, 0),),
        )
    ]


def _mask(b, op):
    x, keep_prob, step = op.inputs
    u = b.random_uniform_like(x, step, seed=op.attrs["seed"], seed2=op.attrs["seed2"])
    return b.floor(b.add(keep_prob, u))


def _dtype_name(array) -> str:
    return as_dtype(array.dtype).name
