"""Core lowering of the random ops: one linalg.generic each, hashing the element index with
splitmix64.

This mirrors, op for op, the numpy reference in ``tgc/dialect/ops/random.py`` (read its docstring
for the scheme): the generic reads the rank-0 ``step`` operand, derives the run key from it (loop
invariant, so LLVM hoists it), takes each element's linear index from ``linalg.index`` and the
result's dims (read at run time when unknown), and turns the hashed words into values. i64 muli/addi
wrap modulo 2**64 exactly as numpy's uint64 does, and shifts are logical (``shrui``), so the bits
agree. Truncated normals redraw inside an ``scf.while`` that stops at the first candidate within two
stddev.
"""

from __future__ import annotations

import math as pymath

from mlir import ir
from mlir.dialects import arith, linalg, math, scf

from tgc.dialect.ops import random as ref
from tgc.lowering.to_core import lowers
from tgc.lowering.to_core.common import (
    PARALLEL,
    affine_map,
    const_index,
    dim,
    element_type,
    empty,
    generic,
    identity_map,
    scalar_const,
    shape_of,
)


# ---- i64 helpers ---------------------------------------------------------------------------------


def _i64() -> ir.Type:
    return ir.IntegerType.get_signless(64)


def _u64(n: int) -> ir.Value:
    """A 64-bit constant given as an unsigned Python int (stored two's complement)."""
    n &= ref.MASK64
    signed = n - (1 << 64) if n >= 1 << 63 else n
    return arith.ConstantOp(_i64(), ir.IntegerAttr.get(_i64(), signed)).result


def _mix(z: ir.Value) -> ir.Value:
    """splitmix64's finalizer, as ``ref.mix``."""
    z = arith.muli(arith.xori(z, arith.shrui(z, _u64(30))), _u64(ref.MIX1))
    z = arith.muli(arith.xori(z, arith.shrui(z, _u64(27))), _u64(ref.MIX2))
    return arith.xori(z, arith.shrui(z, _u64(31)))


def _run_key(base: int, step: ir.Value) -> ir.Value:
    return _mix(arith.addi(_u64(base), arith.muli(step, _u64(ref.GAMMA))))


def _linear_index(sizes: list) -> ir.Value:
    """Row-major linear index of the current element, as i64."""
    linear = None
    for axis, size in enumerate(sizes):
        i = linalg.IndexOp(axis).result
        linear = i if linear is None else arith.addi(arith.muli(linear, size), i)
    if linear is None:
        return _u64(0)
    return arith.index_cast(_i64(), linear)


class _Words:
    """The uint64 words of one element: ``word(stream)`` is
    ``ref.random_bits(...)[stream, index]``."""

    def __init__(self, key: ir.Value, linear: ir.Value, streams: int):
        self.key = key
        self.first = arith.muli(linear, _u64(streams))  # counter of stream 0, less the +1

    def word(self, stream) -> ir.Value:
        offset = stream if isinstance(stream, ir.Value) else _u64(stream)
        counter = arith.addi(arith.addi(self.first, offset), _u64(1))
        return _mix(arith.addi(self.key, arith.muli(counter, _u64(ref.GAMMA))))


# ---- words to values -----------------------------------------------------------------------------


def _f(value: float, t: ir.Type) -> ir.Value:
    return scalar_const(value, t)


def _to_dtype(x: ir.Value, t: ir.Type) -> ir.Value:
    """f32/f64 down to a narrower float type (a no-op when already there)."""
    return x if x.type == t else arith.truncf(t, x)


def _unit(word: ir.Value, elem: ir.Type) -> ir.Value:
    """Uniform [0, 1) from the top bits, as ``ref.bits_to_unit``."""
    bits = ref.UNIFORM_BITS[_dtype_name(elem)]
    work = ir.F64Type.get() if str(elem) == "f64" else ir.F32Type.get()
    top = arith.uitofp(work, arith.shrui(word, _u64(64 - bits)))
    return _to_dtype(arith.mulf(top, _f(2.0**-bits, work)), elem)


def _uniform_value(word, elem, minval, maxval):
    if isinstance(elem, ir.IntegerType):
        span = (int(maxval) - int(minval)) & ref.MASK64
        drawn = arith.addi(arith.remui(word, _u64(span)), _u64(int(minval)))
        return drawn if elem.width == 64 else arith.trunci(elem, drawn)
    unit = _unit(word, elem)
    return arith.addf(arith.mulf(unit, _f(maxval - minval, elem)), _f(minval, elem))


def _box_muller(w1: ir.Value, w2: ir.Value) -> ir.Value:
    """A standard normal in f64, as ``ref.box_muller``."""
    f64 = ir.F64Type.get()
    scale = _f(2.0**-53, f64)
    u1 = arith.mulf(arith.uitofp(f64, arith.addi(arith.shrui(w1, _u64(11)), _u64(1))), scale)
    u2 = arith.mulf(arith.uitofp(f64, arith.shrui(w2, _u64(11))), scale)
    radius = math.sqrt(arith.mulf(_f(-2.0, f64), math.log(u1)))
    return arith.mulf(radius, math.cos(arith.mulf(_f(2.0 * pymath.pi, f64), u2)))


def _scaled_normal(z: ir.Value, elem, mean, stddev) -> ir.Value:
    """f64 normal -> dtype (through f32, as ``ref.round_normal``) -> z * stddev + mean."""
    if str(elem) != "f64":
        z = _to_dtype(arith.truncf(ir.F32Type.get(), z), elem)
    return arith.addf(arith.mulf(z, _f(stddev, elem)), _f(mean, elem))


def _truncated(words: _Words) -> ir.Value:
    """The first of ``TRUNCATED_CANDIDATES`` normals inside (-2, 2), or 0 if none is (see ref)."""
    i64, f64, i1 = _i64(), ir.F64Type.get(), ir.IntegerType.get_signless(1)
    loop = scf.WhileOp([i64, f64, i1], [_u64(0)])
    before = loop.before.blocks.append(i64)
    with ir.InsertionPoint(before):
        j = before.arguments[0]
        stream = arith.muli(j, _u64(2))
        z = _box_muller(words.word(stream), words.word(arith.addi(stream, _u64(1))))
        inside = arith.cmpf(arith.CmpFPredicate.OLT, math.absf(z), _f(ref.TRUNCATED_BOUND, f64))
        following = arith.addi(j, _u64(1))
        more = arith.cmpi(arith.CmpIPredicate.slt, following, _u64(ref.TRUNCATED_CANDIDATES))
        rejected = arith.xori(inside, scalar_const(1, i1))
        scf.ConditionOp(arith.andi(rejected, more), [following, z, inside])
    after = loop.after.blocks.append(i64, f64, i1)
    with ir.InsertionPoint(after):
        scf.YieldOp([after.arguments[0]])
    _, z, inside = loop.results
    return arith.select(inside, z, _f(0.0, f64))


# ---- the generic --------------------------------------------------------------------------------


def _dtype_name(elem: ir.Type) -> str:
    from tgc.dialect.types import dtype_from_mlir

    return dtype_from_mlir(str(elem)).name


def _random_generic(op, step: ir.Value, like: ir.Value | None, streams: int, value_fn) -> ir.Value:
    """A generic over the result: ``value_fn(words, elem)`` gives one element from its words."""
    result_type = op.result_type
    shape = shape_of(result_type)
    sizes = [dim(like, i) if like is not None else const_index(d) for i, d in enumerate(shape)]
    init = empty(result_type, {i: sizes[i] for i, d in enumerate(shape) if d is None})
    elem = element_type(result_type)
    base = ref.base_key(op.attrs["seed"], op.attrs["seed2"])

    def body(step_value, _out):
        words = _Words(_run_key(base, step_value), _linear_index(sizes), streams)
        return value_fn(words, elem)

    maps = [affine_map(len(shape), []), identity_map(len(shape))]
    return generic([step], [init], maps, [PARALLEL] * len(shape), body)[0]


@lowers("random_uniform")
def _random_uniform(op):
    lo, hi = op.attrs["minval"], op.attrs["maxval"]
    return _random_generic(
        op, op.operands[0], None, 1, lambda w, elem: _uniform_value(w.word(0), elem, lo, hi)
    )


@lowers("random_uniform_like")
def _random_uniform_like(op):
    x, step = op.operands
    return _random_generic(
        op, step, x, 1, lambda w, elem: _uniform_value(w.word(0), elem, 0.0, 1.0)
    )


@lowers("random_normal")
def _random_normal(op):
    mean, stddev = op.attrs["mean"], op.attrs["stddev"]

    def value(words, elem):
        return _scaled_normal(_box_muller(words.word(0), words.word(1)), elem, mean, stddev)

    return _random_generic(op, op.operands[0], None, 2, value)


@lowers("truncated_normal")
def _truncated_normal(op):
    mean, stddev = op.attrs["mean"], op.attrs["stddev"]
    streams = 2 * ref.TRUNCATED_CANDIDATES
    return _random_generic(
        op,
        op.operands[0],
        None,
        streams,
        lambda words, elem: _scaled_normal(_truncated(words), elem, mean, stddev),
    )


# The *_sized ops: the same generics, the result's dims read from the size source.


@lowers("random_uniform_sized")
def _random_uniform_sized(op):
    source, step = op.operands
    lo, hi = op.attrs["minval"], op.attrs["maxval"]
    return _random_generic(
        op, step, source, 1, lambda w, elem: _uniform_value(w.word(0), elem, lo, hi)
    )


@lowers("random_normal_sized")
def _random_normal_sized(op):
    source, step = op.operands
    mean, stddev = op.attrs["mean"], op.attrs["stddev"]

    def value(words, elem):
        return _scaled_normal(_box_muller(words.word(0), words.word(1)), elem, mean, stddev)

    return _random_generic(op, step, source, 2, value)


@lowers("truncated_normal_sized")
def _truncated_normal_sized(op):
    source, step = op.operands
    mean, stddev = op.attrs["mean"], op.attrs["stddev"]
    streams = 2 * ref.TRUNCATED_CANDIDATES
    return _random_generic(
        op,
        step,
        source,
        streams,
        lambda words, elem: _scaled_normal(_truncated(words), elem, mean, stddev),
    )


@lowers("fold_step")
def _fold_step(op):
    """``ref.fold_step`` on the two rank-0 operands (wrapping i64 arithmetic, as uint64)."""
    step, iteration = op.operands
    init = empty(op.result_type, {})

    def body(step_value, iteration_value, _out):
        key = _mix(arith.addi(arith.muli(step_value, _u64(ref.GAMMA)), _u64(ref.FOLD_KEY)))
        counter = arith.addi(iteration_value, _u64(1))
        return _mix(arith.addi(key, arith.muli(counter, _u64(ref.GAMMA))))

    maps = [affine_map(0, []), affine_map(0, []), identity_map(0)]
    return generic([step, iteration], [init], maps, [], body)[0]
