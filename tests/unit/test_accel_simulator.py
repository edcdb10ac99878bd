"""The accelerator simulator (tgc/runtime/accel): values, bfloat16 rounding, timing, trace, errors.

Programs are written here by hand, through a small builder that allocates buffer tiles and derives
each instruction's waits from the tiles it reads and writes. Values are checked against numpy
references written here independently of the runtime: bfloat16 rounding by choosing the nearer
of the two neighbouring bfloat16 values in float64 arithmetic (and against ml_dtypes).
docs/accel-machine.md is the model the timing figures come from.
"""

from __future__ import annotations

import copy
import json
import math

import ml_dtypes
import numpy as np
import pytest

from tgc.runtime.accel import (
    InputError,
    Machine,
    ProgramError,
    Simulator,
    from_bfloat16_bits,
    load_program,
    program_to_dict,
    to_bfloat16_bits,
)

MACHINE = Machine()
T = 128  # the array's side, the tile size of the programs below
SIZE = {"float32": 4, "bfloat16": 2}


# A reference for float32 -> bfloat16 rounding, independent of the runtime's bit trick.


def reference_bfloat16(values: np.ndarray) -> np.ndarray:
    """Each float32 rounded to the nearer bfloat16 (ties to an even last bit), as float64.

    The two candidates are the value with its low 16 bits cleared and the next bfloat16 away from
    zero, one bfloat16 step (2^(exponent - 7)) further; past the largest bfloat16 that is 2^128,
    which float32 (and bfloat16) cannot hold: infinity.
    """
    values = np.asarray(values, dtype=np.float32)
    bits = values.view(np.uint32).astype(np.int64)
    with np.errstate(invalid="ignore"):
        exact = values.astype(np.float64)
        toward_zero = (bits & 0xFFFF0000).astype(np.uint32).view(np.float32).astype(np.float64)
        biased_exponent = np.maximum((bits >> 23) & 0xFF, 1)
        step = np.ldexp(1.0, (biased_exponent - 127 - 7).astype(np.int32))
        away = toward_zero + np.where(np.signbit(values), -step, step)
        distance_down, distance_up = np.abs(exact - toward_zero), np.abs(away - exact)
    odd_down = ((bits >> 16) & 1) == 1
    pick_away = (distance_up < distance_down) | ((distance_up == distance_down) & odd_down)
    result = np.where(pick_away & np.isfinite(exact), away, toward_zero)
    result = np.where(np.abs(result) >= 2.0**128, np.copysign(np.inf, result), result)
    return np.where(np.isnan(exact), np.nan, result)


def special_float32s() -> np.ndarray:
    ties = np.array([0x3F808000, 0x3F818000, 0xBF808000, 0x00018000], dtype=np.uint32)  # x.5 ulp
    around_max = np.array([0x7F7F7FFF, 0x7F7F8000, 0x7F7FFFFF, 0x7F7EFFFF], dtype=np.uint32)
    tiny = np.array([0x00000001, 0x00007FFF, 0x00008000, 0x80010000], dtype=np.uint32)
    others = np.array([0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, 3.14159265, 1e-40], dtype=np.float32)
    bit_patterns = np.concatenate([ties, around_max, tiny]).view(np.float32)
    return np.concatenate([bit_patterns, others])


def test_bfloat16_rounding_is_round_to_nearest_even_on_every_kind_of_value():
    rng = np.random.default_rng(0)
    random_bits = rng.integers(0, 2**32, size=200_000, dtype=np.uint64).astype(np.uint32)
    values = np.concatenate([random_bits.view(np.float32), special_float32s()])
    got = from_bfloat16_bits(to_bfloat16_bits(values)).astype(np.float64)
    expected = reference_bfloat16(values)
    finite = ~np.isnan(expected)
    assert np.array_equal(got[finite], expected[finite])
    assert np.array_equal(np.signbit(got[finite]), np.signbit(expected[finite]))
    assert np.isnan(got[~finite]).all()
    assert np.array_equal(got[finite], values[finite].astype(ml_dtypes.bfloat16).astype(np.float64))


def test_bfloat16_ties_go_to_the_even_neighbour_and_overflow_to_infinity():
    one_and_half_ulp = np.array([0x3F808000], dtype=np.uint32).view(np.float32)  # 1 + 2^-8
    assert to_bfloat16_bits(one_and_half_ulp)[0] == 0x3F80  # down: 0x3F80 is even
    three_halves_ulp = np.array([0x3F818000], dtype=np.uint32).view(np.float32)
    assert to_bfloat16_bits(three_halves_ulp)[0] == 0x3F82  # up: 0x3F82 is even
    past_max = np.array([0x7F7F8000], dtype=np.uint32).view(np.float32)
    assert to_bfloat16_bits(past_max)[0] == 0x7F80  # +inf
    nan = np.array([0x7FC00001, 0xFF800001], dtype=np.uint32).view(np.float32)
    assert np.isnan(from_bfloat16_bits(to_bfloat16_bits(nan))).all()


# A program builder: tiles get buffer space, instructions get their waits from what they touch.


class Tile:
    """A buffer tile of the builder; `slot` names the storage it belongs to (for waits)."""

    def __init__(self, slot, at, rows, cols, dtype):
        self.slot, self.at, self.rows, self.cols, self.dtype = slot, at, rows, cols, dtype

    def json(self):
        return {"at": self.at, "shape": [self.rows, self.cols], "dtype": self.dtype}

    def rows_of(self, begin, count):
        """Rows [begin, begin + count): a tile within this one (row-major, so contiguous)."""
        offset = begin * self.cols * SIZE[self.dtype]
        return Tile(self.slot, self.at + offset, count, self.cols, self.dtype)

    def shaped(self, rows, cols):
        """The same storage holding a smaller rows x cols tile (an edge tile)."""
        assert rows * cols <= self.rows * self.cols
        return Tile(self.slot, self.at, rows, cols, self.dtype)


class Builder:
    def __init__(self, inputs, outputs):
        self.tensors = [
            {"shape": list(shape), "dtype": "float32", "kind": "input", "index": i}
            for i, shape in enumerate(inputs)
        ] + [
            {"shape": list(shape), "dtype": "float32", "kind": "output", "index": i}
            for i, shape in enumerate(outputs)
        ]
        self.instructions = []
        self.used = 0
        self.writer, self.readers = {}, {}
        self.slots = 0

    def tile(self, rows, cols, dtype="float32"):
        self.slots += 1
        tile = Tile(self.slots, self.used, rows, cols, dtype)
        self.used += rows * cols * SIZE[dtype]
        self.used += -self.used % 64
        return tile

    def emit(self, fields, reads, writes):
        waits = {self.writer[t.slot] for t in reads + writes if t.slot in self.writer}
        for tile in writes:
            waits.update(self.readers.get(tile.slot, []))
        index = len(self.instructions)
        self.instructions.append({**fields, "waits": sorted(waits)})
        for tile in reads:
            self.readers.setdefault(tile.slot, []).append(index)
        for tile in writes:
            self.writer[tile.slot], self.readers[tile.slot] = index, []
        return index

    def load(self, tensor, rows, cols, to):
        """A 2-D load of rows x cols ([begin, end) each) of the tensor."""
        return self.load_box(tensor, **box_of(rows, cols), to=to)

    def load_box(self, tensor, to, **box):
        fields = {"op": "dma_load", "tensor": tensor, **box, "to": to.at}
        return self.emit(fields, [], [to])

    def store(self, tensor, rows, cols, source):
        return self.store_box(tensor, source, **box_of(rows, cols))

    def store_box(self, tensor, source, **box):
        fields = {"op": "dma_store", "tensor": tensor, **box, "from": source.at}
        return self.emit(fields, [source], [])

    def cast(self, source, to):
        return self.emit({"op": "cast", "from": source.json(), "to": to.json()}, [source], [to])

    def zero(self, tile):
        return self.emit({"op": "zero", "at": tile.at, "shape": [tile.rows, tile.cols]}, [], [tile])

    def add(self, lhs, rhs, to):
        return self.binary("add", lhs, rhs, to)

    def unary(self, function, x, to):
        fields = {"op": "unary", "fn": function, "x": operand(x), "to": to.json()}
        return self.emit(fields, tiles(x), [to])

    def binary(self, function, lhs, rhs, to):
        fields = {"op": "binary", "fn": function, "lhs": operand(lhs), "rhs": operand(rhs)}
        return self.emit({**fields, "to": to.json()}, tiles(lhs, rhs), [to])

    def select(self, cond, lhs, rhs, to):
        fields = {"op": "select", "cond": operand(cond), "lhs": operand(lhs), "rhs": operand(rhs)}
        return self.emit({**fields, "to": to.json()}, tiles(cond, lhs, rhs), [to])

    def reduce(self, function, axis, source, to):
        fields = {"op": "reduce", "fn": function, "axis": axis, "from": source.json()}
        return self.emit({**fields, "to": to.json()}, [source, to], [to])

    def fill(self, tile, value):
        fields = {"op": "fill", "at": tile.at, "shape": [tile.rows, tile.cols], "value": value}
        return self.emit(fields, [], [tile])

    def matmul(self, lhs, rhs, acc):
        fields = {"op": "matmul", "lhs": lhs.json(), "rhs": rhs.json(), "acc": acc.json()}
        return self.emit(fields, [lhs, rhs, acc], [acc])

    def program(self):
        return {
            "machine": MACHINE.to_dict(),
            "tensors": self.tensors,
            "buffer_bytes": self.used,
            "instructions": self.instructions,
        }


def operand(value):
    """A vector operand's JSON: a tile's, or the number itself."""
    return value.json() if isinstance(value, Tile) else value


def tiles(*values):
    return [value for value in values if isinstance(value, Tile)]


def box_of(rows, cols):
    """The DMA box of rows x cols, each [begin, end)."""
    return {
        "begin": [rows[0], cols[0]],
        "count": [rows[1] - rows[0], cols[1] - cols[0]],
        "step": [1, 1],
    }


def tiles_of(extent):
    return [(begin, min(begin + T, extent)) for begin in range(0, extent, T)]


def simple_matmul_program(m, k, n):
    """C = A @ B, tile by tile: two staging slots per operand, one accumulator per column tile."""
    build = Builder([(m, k), (k, n)], [(m, n)])
    a_staged, a_cast = [build.tile(m, T) for _ in range(2)], [build.tile(m, T, "bfloat16")] * 2
    a_cast[1] = build.tile(m, T, "bfloat16")
    b_staged, b_cast = [build.tile(T, T) for _ in range(2)], [build.tile(T, T, "bfloat16")] * 2
    b_cast[1] = build.tile(T, T, "bfloat16")
    step = 0
    for n0, n1 in tiles_of(n):
        acc = build.tile(m, n1 - n0)
        build.zero(acc)
        for k0, k1 in tiles_of(k):
            slot = step % 2
            a32, a16 = (tile[slot].shaped(m, k1 - k0) for tile in (a_staged, a_cast))
            b32, b16 = (tile[slot].shaped(k1 - k0, n1 - n0) for tile in (b_staged, b_cast))
            build.load(0, [0, m], [k0, k1], a32)
            build.load(1, [k0, k1], [n0, n1], b32)
            build.cast(a32, a16)
            build.cast(b32, b16)
            build.matmul(a16, b16, acc)
            step += 1
        build.store(2, [0, m], [n0, n1], acc)
    return build.program()


def bfloat16_matmul_reference(a, b):
    """A @ B in float64 from the bfloat16-rounded operands (the products are then exact)."""
    return reference_bfloat16(a) @ reference_bfloat16(b)


# Values.


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (128, 128, 128), (300, 200, 130), (64, 384, 257)])
def test_matmul_program_matches_numpy_with_bfloat16_inputs_and_float32_sums(m, k, n):
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    (c,) = Simulator(simple_matmul_program(m, k, n)).run([a, b])
    assert c.dtype == np.float32 and c.shape == (m, n)
    exact_from_bf16 = bfloat16_matmul_reference(a, b)
    scale = np.abs(reference_bfloat16(a)) @ np.abs(reference_bfloat16(b))
    # Only the float32 summation differs from the float64 reference: a few ulps per term.
    assert np.all(np.abs(c - exact_from_bf16) <= k * 2.0**-23 * scale + 1e-30)
    # Against the float64 product of the unrounded inputs: bfloat16 tolerance, and really off.
    exact = a.astype(np.float64) @ b.astype(np.float64)
    relative = np.abs(c - exact).max() / np.abs(exact).max()
    assert relative < 2.0**-7
    if k > 1:
        assert relative > 2.0**-20  # the inputs really were rounded to bfloat16


def test_cast_round_trip_through_the_buffer_rounds_each_element_exactly():
    values = np.resize(special_float32s(), (4, 24))
    values[3] = np.random.default_rng(1).standard_normal(24).astype(np.float32)
    build = Builder([values.shape], [values.shape])
    f32, bf16, back = build.tile(4, 24), build.tile(4, 24, "bfloat16"), build.tile(4, 24)
    build.load(0, [0, 4], [0, 24], f32)
    build.cast(f32, bf16)
    build.cast(bf16, back)
    build.store(1, [0, 4], [0, 24], back)
    (out,) = Simulator(build.program()).run([values])
    expected = reference_bfloat16(values)
    assert np.array_equal(out.astype(np.float64), expected, equal_nan=True)


def test_add_and_zero_on_the_vector_unit():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.full((3, 4), 0.5, dtype=np.float32)
    build = Builder([(3, 4), (3, 4)], [(3, 4), (3, 4)])
    ta, tb, tsum, tzero = (build.tile(3, 4) for _ in range(4))
    build.load(0, [0, 3], [0, 4], ta)
    build.load(1, [0, 3], [0, 4], tb)
    build.add(ta, tb, tsum)
    build.zero(tzero)
    build.store(2, [0, 3], [0, 4], tsum)
    build.store(3, [0, 3], [0, 4], tzero)
    total, zeros = Simulator(build.program()).run([a, b])
    assert np.array_equal(total, a + b)
    assert np.array_equal(zeros, np.zeros((3, 4), np.float32))


def test_stores_of_parts_of_an_output_land_where_their_rows_and_cols_say():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    build = Builder([(4, 5)], [(4, 5)])
    top, bottom = build.tile(1, 5), build.tile(3, 5)
    build.load(0, [3, 4], [0, 5], top)
    build.load(0, [0, 3], [0, 5], bottom)
    build.store(1, [0, 1], [0, 5], top)
    build.store(1, [1, 4], [0, 5], bottom)
    (out,) = Simulator(build.program()).run([a])
    assert np.array_equal(out, np.concatenate([a[3:], a[:3]]))


# N-D DMA: one instruction moves a box of a tensor (begin, count, step per dim; perm; fill).


def run_one_load(tensor, rows, cols, **box):
    """The rows x cols tile one dma_load of `box` makes of `tensor` (stored whole)."""
    build = Builder([tensor.shape], [(rows, cols)])
    tile = build.tile(rows, cols)
    build.load_box(0, tile, **box)
    build.store(1, [0, rows], [0, cols], tile)
    (out,) = Simulator(build.program()).run([tensor])
    return out


def test_an_n_d_box_becomes_a_tile_of_the_product_of_its_counts_by_the_last():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    box = {"begin": [1, 0, 1, 2], "count": [1, 3, 2, 3], "step": [1, 1, 1, 1]}
    out = run_one_load(x, 6, 3, **box)
    assert np.array_equal(out, x[1:2, 0:3, 1:3, 2:5].reshape(6, 3))


def test_step_zero_broadcasts_a_dim_and_steps_past_one_stride():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    rows = run_one_load(x[:1], 5, 4, begin=[0, 0], count=[5, 4], step=[0, 1])  # a [1, 4] row
    assert np.array_equal(rows, np.broadcast_to(x[:1], (5, 4)))
    columns = run_one_load(x, 3, 6, begin=[0, 2], count=[3, 6], step=[1, 0])  # column 2, 6 times
    assert np.array_equal(columns, np.repeat(x[:, 2:3], 6, axis=1))
    strided = run_one_load(x, 2, 2, begin=[0, 1], count=[2, 2], step=[2, 2])
    assert np.array_equal(strided, x[0:3:2, 1:4:2])


def test_a_convolution_window_is_one_strided_load_with_fill_for_same_padding():
    """Input NHWC [1, 5, 5, 2], a 3 x 3 window at stride 2 with SAME padding (1 on each side):
    for tap (kh, kw) the rows of the tile are the output positions (oh, ow), its columns C."""
    x = np.random.default_rng(5).standard_normal((1, 5, 5, 2)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-7.0)
    for kh, kw in [(0, 0), (1, 2), (2, 2)]:
        box = {"begin": [0, kh - 1, kw - 1, 0], "count": [1, 3, 3, 2], "step": [1, 2, 2, 1]}
        out = run_one_load(x, 9, 2, **box, fill=-7.0)
        expected = padded[:, kh : kh + 5 : 2, kw : kw + 5 : 2, :].reshape(9, 2)
        assert np.array_equal(out, expected)


def test_a_transposing_load_puts_the_box_dims_in_the_tiles_order():
    x = np.arange(6 * 7, dtype=np.float32).reshape(6, 7)
    out = run_one_load(x, 3, 4, begin=[1, 2], count=[4, 3], step=[1, 1], perm=[1, 0])
    assert np.array_equal(out, x[1:5, 2:5].T)
    y = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    out = run_one_load(y, 8, 3, begin=[0, 0, 0], count=[2, 3, 4], step=[1, 1, 1], perm=[0, 2, 1])
    assert np.array_equal(out, y.transpose(0, 2, 1).reshape(8, 3))


def test_a_fill_covers_a_box_entirely_outside_and_an_empty_tensor():
    x = np.ones((2, 2), np.float32)
    out = run_one_load(x, 2, 3, begin=[-5, 1], count=[2, 3], step=[1, 1], fill=np.inf)
    assert np.array_equal(out, np.array([[np.inf] * 3] * 2, np.float32))
    empty = np.zeros((0, 3), np.float32)
    out = run_one_load(empty, 2, 3, begin=[0, 0], count=[2, 3], step=[1, 1], fill=2.5)
    assert np.array_equal(out, np.full((2, 3), 2.5, np.float32))


def test_stores_of_boxes_write_strided_transposed_and_scalar_tensors():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    build = Builder([(3, 4), ()], [(4, 3), (2, 3, 2), ()])
    whole, scalar = build.tile(3, 4), build.tile(1, 1)
    build.load(0, [0, 3], [0, 4], whole)
    build.load_box(1, scalar, begin=[], count=[], step=[])
    build.store_box(2, whole, begin=[0, 0], count=[4, 3], step=[1, 1], perm=[1, 0])
    # The tile's 12 elements, row-major, are the [2, 3, 2] box's in order: a reshape.
    build.store_box(3, whole, begin=[0, 0, 0], count=[2, 3, 2], step=[1, 1, 1])
    build.store_box(4, scalar, begin=[], count=[], step=[])
    inputs = [x, np.array(3.5, np.float32)]
    transposed, reshaped, copied = Simulator(build.program()).run(inputs)
    assert np.array_equal(transposed, x.T)
    assert np.array_equal(reshaped, x.reshape(2, 3, 2))
    assert copied.shape == () and copied == np.float32(3.5)


def test_a_strided_store_leaves_gaps_that_another_store_must_fill():
    x = np.arange(6, dtype=np.float32).reshape(1, 6)
    build = Builder([(1, 6)], [(1, 6)])
    tile = build.tile(1, 3)
    build.load_box(0, tile, begin=[0, 0], count=[1, 3], step=[1, 1])
    build.store_box(1, tile, begin=[0, 0], count=[1, 3], step=[1, 2])
    with pytest.raises(ProgramError, match=r"output 0: element \[0, 1\] is written by no"):
        Simulator(build.program())
    other = build.tile(1, 3)
    build.load_box(0, other, begin=[0, 3], count=[1, 3], step=[1, 1])
    build.store_box(1, other, begin=[0, 1], count=[1, 3], step=[1, 2])
    (out,) = Simulator(build.program()).run([x])
    assert np.array_equal(out, np.array([[0, 3, 1, 4, 2, 5]], np.float32))


def test_a_gathering_dma_pays_a_burst_per_element():
    """Transposed or strided along the tensor's last dim, each element is a burst of its own
    (dma_gather_bytes, 32 by default); a broadcast or strided outer dim costs like a copy."""
    x = np.zeros((128, 128), np.float32)
    costs = {}
    for name, box in {
        "plain": {"step": [1, 1]},
        "broadcast": {"step": [0, 1]},
        "strided outer": {"step": [1, 1], "count": [64, 128]},
        "transposed": {"step": [1, 1], "perm": [1, 0]},
        "strided last": {"step": [1, 2], "count": [128, 64]},
    }.items():
        build = Builder([x.shape], [(1, 1)])
        count = box.pop("count", [128, 128])
        tile, one = build.tile(count[0], count[1]), build.tile(1, 1)
        build.load_box(0, tile, begin=[0, 0], count=count, **box)
        build.load(0, [0, 1], [0, 1], one)
        build.store(1, [0, 1], [0, 1], one)
        first = Simulator(build.program()).slices[0]
        costs[name] = first.end - first.start
    assert costs["plain"] == costs["broadcast"] == 500 + 128 * 128 * 4 // 256
    assert costs["strided outer"] == 500 + 64 * 128 * 4 // 256
    assert costs["transposed"] == 500 + 128 * 128 * 32 // 256
    assert costs["strided last"] == 500 + 128 * 64 * 32 // 256


# Timing.


def test_each_instruction_takes_the_cycles_of_the_model():
    m, k, n = 200, 96, 128
    simulator = Simulator(simple_matmul_program(m, k, n))
    by_op = {}
    for piece in simulator.slices:
        by_op.setdefault(piece.op, []).append(piece)
    load_a, load_b = by_op["dma_load"]
    assert load_a.end - load_a.start == 500 + math.ceil(m * k * 4 / 256)
    assert load_b.end - load_b.start == 500 + math.ceil(k * n * 4 / 256)
    (matmul,) = by_op["matmul"]
    assert matmul.weights_end - matmul.weights_start == k
    assert matmul.end - matmul.start == m + 128
    cast_a = by_op["cast"][0]
    assert cast_a.end - cast_a.start == m * 1  # one 96-element row per cycle
    (store,) = by_op["dma_store"]
    assert store.start == matmul.end and store.end - store.start == 500 + m * n * 4 // 256
    assert simulator.stats.total_cycles == store.end


def test_units_overlap_and_an_instruction_waits_for_its_unit_and_its_waits():
    simulator = Simulator(simple_matmul_program(128, 256, 128))
    slices = simulator.slices
    loads = [s for s in slices if s.op == "dma_load"]
    # DMA-in runs back to back (its queue is in order), while the vector unit casts.
    assert [s.start for s in loads[1:]] == [s.end for s in loads[:-1]]
    first_cast = next(s for s in slices if s.op == "cast")
    assert first_cast.start == loads[0].end and first_cast.end <= loads[1].end
    instructions = simulator.program.instructions
    for piece in slices:
        instruction = instructions[piece.index]
        waits = [w for w in instruction.waits if slices[w].op != "matmul" or piece.op != "matmul"]
        assert all(slices[w].end <= piece.start for w in waits)
        if piece.op == "matmul":
            # The weights wait for all but the accumulator's previous step, whose rows need only
            # have entered the array (the pipeline keeps their order).
            assert all(slices[w].end <= piece.weights_start for w in waits)
            for w in set(instruction.waits) - set(waits):
                assert slices[w].start + instructions[w]["lhs"].shape[0] <= piece.start


def test_a_matmul_loads_its_weights_while_the_previous_one_streams_and_follows_it_through():
    m = 512
    build = Builder([(m, T), (T, T)], [(m, T)])
    a32, a16 = build.tile(m, T), build.tile(m, T, "bfloat16")
    b32, b16 = build.tile(T, T), build.tile(T, T, "bfloat16")
    acc = build.tile(m, T)
    build.load(0, [0, m], [0, T], a32)
    build.load(1, [0, T], [0, T], b32)
    build.cast(a32, a16)
    build.cast(b32, b16)
    build.zero(acc)
    build.matmul(a16, b16, acc)
    build.matmul(a16, b16, acc)
    build.store(2, [0, m], [0, T], acc)
    simulator = Simulator(build.program())
    first, second = (s for s in simulator.slices if s.op == "matmul")
    assert first.start == first.weights_end == first.weights_start + T
    assert first.end == first.start + m + T
    assert second.weights_start == first.start  # into the second weight buffer, meanwhile
    # Its rows enter right behind the first's last row (the pipeline keeps their order, so the
    # K sum into the same accumulator needs no more): one fill and drain for the pair.
    assert second.start == first.start + m
    assert second.end == second.start + m + T
    assert simulator.stats.busy_cycles["matrix"] == 2 * m + T
    a = np.ones((m, T), np.float32)
    (c,) = simulator.run([a, np.eye(T, dtype=np.float32)])
    assert np.array_equal(c, 2 * a)


def test_stats_count_useful_mac_cycles_against_the_total():
    m, k, n = 256, 384, 128
    stats = Simulator(simple_matmul_program(m, k, n)).stats
    assert stats.macs == m * k * n
    assert stats.useful_mac_cycles == m * k * n / (128 * 128)
    assert stats.matrix_utilisation == pytest.approx(stats.useful_mac_cycles / stats.total_cycles)
    assert stats.busy_cycles["matrix"] == 3 * (m + 128)
    assert stats.weight_load_cycles == 3 * 128
    assert stats.seconds == pytest.approx(stats.total_cycles / 940e6)
    assert stats.fraction_of_peak == pytest.approx(stats.matrix_utilisation)
    assert stats.peak_flops_per_s == pytest.approx(2 * 128 * 128 * 940e6)
    assert stats.dma_bytes_in == (m * k + k * n) * 4 and stats.dma_bytes_out == m * n * 4
    json.dumps(stats.to_dict())


def test_a_loaded_program_written_back_to_json_reads_the_same():
    program = load_program(json.dumps(simple_matmul_program(300, 200, 130)))
    again = load_program(json.dumps(program_to_dict(program)))
    assert again == program
    assert program_to_dict(again) == program_to_dict(program)


def test_a_given_machine_replaces_the_programs_own():
    program = simple_matmul_program(128, 128, 128)
    default = Simulator(program).stats.total_cycles
    fast_dma = Machine(dma_bytes_per_cycle=1024, dma_latency_cycles=0)
    assert Simulator(program, machine=fast_dma).stats.total_cycles < default
    with pytest.raises(ProgramError, match=r"instruction \d+ \(matmul\): field 'lhs.shape'"):
        Simulator(program, machine=Machine(array_rows=64, array_cols=64))


# The trace.


def test_trace_is_chrome_trace_events_one_track_per_unit_one_slice_per_instruction(tmp_path):
    simulator = Simulator(simple_matmul_program(300, 200, 130))
    simulator.write_trace(tmp_path / "trace.json")
    trace = json.loads((tmp_path / "trace.json").read_text())
    events = trace["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert sorted(names.values()) == sorted(
        [
            "DMA in (device memory -> buffer)",
            "DMA out (buffer -> device memory)",
            "matrix unit: streaming",
            "matrix unit: weight loads",
            "vector unit",
        ]
    )
    slices = [e for e in events if e["ph"] == "X"]
    for event in slices:
        assert {"name", "cat", "ph", "pid", "tid", "ts", "dur", "args"} <= set(event)
        assert event["tid"] in names and event["dur"] >= 0
        assert event["ts"] == pytest.approx(event["args"]["start_cycle"] / 940e6 * 1e6)
    instructions = simulator.program.instructions
    per_instruction = {}
    for event in slices:
        per_instruction.setdefault(event["args"]["instruction"], []).append(event)
    assert sorted(per_instruction) == list(range(len(instructions)))
    for index, events_of in per_instruction.items():
        tracks = sorted(names[e["tid"]] for e in events_of)
        if instructions[index].op == "matmul":
            assert tracks == ["matrix unit: streaming", "matrix unit: weight loads"]
        else:
            assert len(tracks) == 1 and events_of[0]["name"] == instructions[index].op
    for tid in names:  # slices on one track never overlap
        track = sorted((e["ts"], e["ts"] + e["dur"]) for e in slices if e["tid"] == tid)
        assert all(end <= next_start + 1e-9 for (_, end), (next_start, _) in zip(track, track[1:]))
    end = max(e["ts"] + e["dur"] for e in slices)
    assert end == pytest.approx(simulator.stats.total_cycles / 940e6 * 1e6)
    assert trace["otherData"]["total_cycles"] == simulator.stats.total_cycles


# Programs the machine cannot run, and inputs that do not fit.


def base_program():
    return simple_matmul_program(128, 128, 128)


def mutate(change):
    program = copy.deepcopy(base_program())
    change(program)
    return program


def index_of(program, op):
    return next(i for i, x in enumerate(program["instructions"]) if x["op"] == op)


def set_field(op, *path_and_value):
    *path, value = path_and_value

    def change(program):
        target = program["instructions"][index_of(program, op)]
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def drop_waits(op):
    def change(program):
        program["instructions"][index_of(program, op)]["waits"] = []

    return change


BAD_PROGRAMS = [
    (
        set_field("dma_load", "to", 10**9),
        r"instruction 1 \(dma_load\): field 'to': the 128x128 float32 tile at 1000000000 ends "
        r"at byte 1000065536, past the program's buffer",
    ),
    (
        set_field("matmul", "lhs", "shape", [128, 256]),
        r"instruction 5 \(matmul\): field 'lhs.shape': K = 256 is more than the array's 128 rows",
    ),
    (
        set_field("matmul", "rhs", "shape", [128, 256]),
        r"instruction 5 \(matmul\): field 'rhs.shape': N = 256 is more than the array's 128",
    ),
    (
        set_field("matmul", "waits", [6]),
        r"instruction 5 \(matmul\): field 'waits\[0\]': waits on instruction 6, "
        r"which is not earlier",
    ),
    (
        set_field("cast", "to", "dtype", "float16"),
        r"instruction 3 \(cast\): field 'to.dtype': unknown dtype 'float16'",
    ),
    (
        lambda p: p["tensors"][0].update(dtype="int8"),
        r"field 'tensors\[0\].dtype': unknown tensor dtype 'int8'",
    ),
    (
        set_field("dma_load", "tensor", 7),
        r"instruction 1 \(dma_load\): field 'tensor': 7 is not a tensor index \(0..2\)",
    ),
    (
        set_field("dma_load", "tensor", 2),
        r"instruction 1 \(dma_load\): field 'tensor': reads elements of output 0 that no earlier "
        r"dma_store wrote",
    ),
    (
        set_field("dma_load", "count", [129, 128]),
        r"instruction 1 \(dma_load\): field 'begin': dim 0: the box's indices 0..128 \(begin 0, "
        r"count 129, step 1\) are not within the tensor's 128; give 'fill' to load elements",
    ),
    (
        set_field("matmul", "acc", "shape", [128, 64]),
        r"instruction 5 \(matmul\): field 'acc.shape': \[128, 64\] is not lhs rows x rhs columns",
    ),
    (
        set_field("matmul", "acc", "at", 2),
        r"instruction 5 \(matmul\): field 'acc.at': 2 is not aligned to the 4 bytes of float32",
    ),
    (
        set_field("zero", "op", "transpose"),
        r"instruction 0 \(transpose\): field 'op': unknown op 'transpose'",
    ),
    (
        set_field("matmul", "bias", 3),
        r"instruction 5 \(matmul\): field 'bias': unknown field for matmul",
    ),
    (
        drop_waits("matmul"),
        r"instruction 5 \(matmul\): field 'lhs': reads buffer bytes \[\d+, \d+\) that instruction "
        r"\d \(cast\) also uses, without waiting for it",
    ),
    (
        lambda p: p["instructions"].pop(),
        r"field 'tensors\[2\]': output 0: element \[0, 0\] is written by no dma_store",
    ),
    (
        lambda p: p.update(buffer_bytes=10**9),
        r"field 'buffer_bytes': 1000000000 is more than the machine's 25165824",
    ),
    (
        lambda p: p["machine"].update(clock_ghz=1),
        r"machine.clock_ghz: unknown field",
    ),
    (
        lambda p: p["machine"].update(array_rows=0),
        r"accel program: machine.array_rows: must be positive, got 0",
    ),
    (
        lambda p: p["instructions"][5]["acc"].update(at=p["instructions"][5]["lhs"]["at"]),
        r"instruction 5 \(matmul\): field 'acc': overlaps lhs in the buffer",
    ),
    (
        set_field("cast", "to", "dtype", "float32"),
        r"instruction 3 \(cast\): field 'to.dtype': casts float32 to itself",
    ),
    (
        set_field("matmul", "waits", 3),
        r"instruction 5 \(matmul\): field 'waits': must be a list of instruction indices",
    ),
    (
        set_field("zero", "op", ["zero"]),
        r"instruction 0: field 'op': unknown op \['zero'\]",
    ),
    (
        set_field("dma_store", "from", -4),
        r"instruction 6 \(dma_store\): field 'from': must be a non-negative byte offset, got -4",
    ),
]


@pytest.mark.parametrize("change, message", BAD_PROGRAMS)
def test_a_program_the_machine_cannot_run_is_refused_naming_instruction_and_field(change, message):
    assert Simulator(base_program()).program  # the unchanged program is fine
    with pytest.raises(ProgramError, match=message) as refused:
        Simulator(mutate(change))
    error = refused.value  # raised on its own: no chained traceback from inside the reader
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert str(refused.value).startswith("accel program")


def test_a_program_that_races_on_a_reused_slot_is_refused():
    program = base_program()
    program["instructions"].append(copy.deepcopy(program["instructions"][1]))  # reload A's slot
    program["instructions"][-1]["waits"] = []
    with pytest.raises(ProgramError, match=r"instruction 7 \(dma_load\): field 'to': writes"):
        Simulator(program)


def test_a_matmul_whose_weights_another_matmul_writes_meanwhile_is_refused():
    build = Builder([(T, T)], [(T, 64)])
    a32, a16 = build.tile(T, T), build.tile(T, T, "bfloat16")
    build.load(0, [0, T], [0, T], a32)
    build.cast(a32, a16)
    acc = build.tile(T, 64)
    build.zero(acc)
    build.matmul(a16, a16.shaped(T, 64), acc)
    # The next matmul's weights are the bytes of that accumulator: they would load while the
    # first matmul still streams into them, even though the second waits for the first.
    weights = Tile(acc.slot, acc.at, T, T, "bfloat16")
    build.matmul(a16, weights, build.tile(T, T))
    build.store(1, [0, T], [0, 64], acc)
    with pytest.raises(
        ProgramError,
        match=r"instruction 4 \(matmul\): field 'rhs': reads buffer bytes \[\d+, \d+\) that "
        r"instruction 3 \(matmul\) also uses, without waiting for it \(a matmul's weights load "
        r"while the matmul before it streams",
    ):
        Simulator(build.program())


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([np.zeros((128, 128), np.float32)], r"takes 2 inputs, got 1"),
        (
            [np.zeros((128, 128), np.float64), np.zeros((128, 128), np.float32)],
            r"input 0: expected a float32 array of shape \[128, 128\], got a float64 array",
        ),
        (
            [np.zeros((128, 128), np.float32), np.zeros((128, 127), np.float32)],
            r"input 1: expected a float32 array of shape \[128, 128\], got a float32 array of "
            r"shape \[128, 127\]",
        ),
        (np.zeros((2, 128, 128), np.float32), r"inputs must be a list of 2 arrays"),
    ],
)
def test_inputs_that_do_not_fit_the_program_are_refused(inputs, message):
    with pytest.raises(InputError, match=message):
        Simulator(base_program()).run(inputs)


# The bar: a 1024 x 1024 x 1024 matmul at 90 % of the matrix unit. The array is a pipeline
# (a chain of matmuls pays its fill and drain once), so the model allows it; whether a program
# gets there depends on how well its DMAs hide behind the matmuls. docs/accel-machine.md has the
# figures.


def double_buffered_matmul_program(size=1024, group=6):
    """C = A @ B for size x size operands, every matmul streaming all `size` rows of A.

    A's column panels are loaded once and kept as bfloat16. The first `group` column tiles of C
    are computed K-outer (each A panel is used by `group` matmuls as soon as it arrives, B comes
    in 128 x 128 tiles), the rest N-outer with B's column panel in one DMA; C's tiles are stored
    as they complete, while the next ones compute. Staging slots are double-buffered.
    """
    build = Builder([(size, size), (size, size)], [(size, size)])
    tiles = size // T
    a_resident = [build.tile(size, T, "bfloat16") for _ in range(tiles)]
    a_staged = [build.tile(size, T) for _ in range(2)]
    acc = [build.tile(size, T) for _ in range(tiles)]
    b_staged, b_cast = [build.tile(T, T) for _ in range(2)], [build.tile(T, T, "bfloat16")]
    b_cast.append(build.tile(T, T, "bfloat16"))
    panel_staged = [build.tile(size, T) for _ in range(2)]
    panel_cast = [build.tile(size, T, "bfloat16") for _ in range(2)]

    def columns(tile):
        return [tile * T, (tile + 1) * T]

    build.zero(acc[0])
    step = 0
    for k in range(tiles):
        build.load(0, [0, size], columns(k), a_staged[k % 2])
        build.cast(a_staged[k % 2], a_resident[k])
        for n in range(group):
            slot, step = step % 2, step + 1
            build.load(1, columns(k), columns(n), b_staged[slot])
            build.cast(b_staged[slot], b_cast[slot])
            if k == 0 and n > 0:
                build.zero(acc[n])
            build.matmul(a_resident[k], b_cast[slot], acc[n])
            if k == tiles - 1:
                build.store(2, [0, size], columns(n), acc[n])
    for step, n in enumerate(range(group, tiles)):
        panel, panel16 = panel_staged[step % 2], panel_cast[step % 2]
        build.load(1, [0, size], columns(n), panel)
        build.cast(panel, panel16)
        build.zero(acc[n])
        for k in range(tiles):
            build.matmul(a_resident[k], panel16.rows_of(k * T, T), acc[n])
        build.store(2, [0, size], columns(n), acc[n])
    return build.program()


def test_1024_matmul_is_dma_bound_on_the_default_machine_and_past_90_percent_without_it():
    size = 1024
    simulator = Simulator(double_buffered_matmul_program(size))
    stats = simulator.stats
    matmuls = (size // T) ** 2
    assert stats.useful_mac_cycles == matmuls * size
    # The matmuls of a chain follow each other through the array: far less than a fill and drain
    # each (64 x 128 cycles) is added to their rows.
    assert matmuls * size <= stats.busy_cycles["matrix"] < matmuls * (size + 128)
    assert 0.80 <= stats.matrix_utilisation < 0.90  # its 128 x 128 loads of B: DMA-bound
    # With DMA free the same program keeps the matrix unit past the 90 %.
    free_dma = Machine(dma_bytes_per_cycle=2**20, dma_latency_cycles=0)
    ideal = Simulator(simulator.program, machine=free_dma).stats
    assert ideal.matrix_utilisation >= 0.90
    rng = np.random.default_rng(1024)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    (c,) = simulator.run([a, b])
    scale = np.abs(reference_bfloat16(a)) @ np.abs(reference_bfloat16(b))
    assert np.all(np.abs(c - bfloat16_matmul_reference(a, b)) <= size * 2.0**-23 * scale)


def set_box(**fields):
    def change(program):
        program["instructions"][index_of(program, "dma_load")].update(fields)

    return change


BAD_BOXES = [
    (
        set_box(begin=[0]),
        r"instruction 1 \(dma_load\): field 'begin': must be a list of 2 integers \(one per dim "
        r"of the tensor of shape \[128, 128\]\), got \[0\]",
    ),
    (
        set_box(count=[128, -1]),
        r"field 'count': must be a list of 2 integers >= 0",
    ),
    (set_box(step=[1, -1]), r"field 'step': must be a list of 2 integers >= 0"),
    (
        set_box(begin=[-1, 0]),
        r"field 'begin': dim 0: the box's indices -1..126 \(begin -1, count 128, step 1\) are "
        r"not within the tensor's 128; give 'fill'",
    ),
    (
        set_box(step=[2, 1]),
        r"field 'begin': dim 0: the box's indices 0..254 \(begin 0, count 128, step 2\)",
    ),
    (set_box(perm=[0, 0]), r"field 'perm': must be a permutation of 0..1, got \[0, 0\]"),
    (set_box(fill="zero"), r"field 'fill': must be a number, got 'zero'"),
    (set_box(rows=[0, 128]), r"field 'rows': unknown field for dma_load"),
    (
        set_field("dma_store", "fill", 0.0),
        r"instruction 6 \(dma_store\): field 'fill': unknown field for dma_store",
    ),
    (
        set_field("dma_store", "step", [0, 1]),
        r"instruction 6 \(dma_store\): field 'step': must be a list of 2 integers >= 1",
    ),
]


@pytest.mark.parametrize("change, message", BAD_BOXES)
def test_a_dma_box_the_machine_cannot_move_is_refused_naming_the_field(change, message):
    with pytest.raises(ProgramError, match=message):
        Simulator(mutate(change))


# The vector unit: elementwise functions, broadcasts, select, reductions (docs/accel-machine.md).

# float64 references; "exact" ones are correctly rounded in float32 (one IEEE operation or none),
# so the unit's float32 result equals the float64 result rounded to float32.
UNARY_REFERENCES = {
    "copy": (lambda x: x, "exact"),
    "neg": (np.negative, "exact"),
    "abs": (np.abs, "exact"),
    "sign": (np.sign, "exact"),
    "square": (np.square, "exact"),
    "relu": (lambda x: np.maximum(x, 0.0), "exact"),
    "floor": (np.floor, "exact"),
    "ceil": (np.ceil, "exact"),
    "round": (np.rint, "exact"),
    "not": (lambda x: (x == 0).astype(np.float64), "exact"),
    "sqrt": (np.sqrt, "exact"),
    "reciprocal": (lambda x: 1.0 / x, "exact"),
    "exp": (np.exp, "ulps"),
    "expm1": (np.expm1, "ulps"),
    "log": (np.log, "ulps"),
    "log1p": (np.log1p, "ulps"),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), "ulps"),
    "tanh": (np.tanh, "ulps"),
    "logistic": (lambda x: 1.0 / (1.0 + np.exp(-x)), "ulps"),
    "sin": (np.sin, "ulps"),
    "cos": (np.cos, "ulps"),
}
POSITIVE_ONLY = ("log", "sqrt", "rsqrt", "log1p")


def vector_inputs(function, rows=5, cols=7):
    values = np.random.default_rng(len(function)).standard_normal((rows, cols)) * 4
    values[0, :4] = [0.5, -0.5, 2.5, -1.5]  # rounding ties
    values[1, :3] = [0.0, 88.0, -90.0]  # exp's overflow and underflow edges
    if function in POSITIVE_ONLY:
        values = np.abs(values) + 0.25
    return values.astype(np.float32)


def ulps_apart(got, expected):
    """How many float32 steps (at the expected value's magnitude) separate the two."""
    spacing = np.spacing(np.abs(expected).astype(np.float32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - expected) / spacing


def run_vector(inputs, emit, out_shape):
    """Loads each input whole, runs emit(build, input tiles, output tile), stores the output."""
    build = Builder([x.shape for x in inputs], [out_shape])
    loaded = []
    for i, x in enumerate(inputs):
        loaded.append(build.tile(*x.shape))
        build.load(i, [0, x.shape[0]], [0, x.shape[1]], loaded[-1])
    out = build.tile(*out_shape)
    emit(build, loaded, out)
    build.store(len(inputs), [0, out_shape[0]], [0, out_shape[1]], out)
    simulator = Simulator(build.program())
    return simulator.run(list(inputs))[0], simulator


@pytest.mark.parametrize("function", sorted(UNARY_REFERENCES))
def test_each_unary_function_is_float32_numpy_exact_or_within_ulps(function):
    x = vector_inputs(function)
    got, _ = run_vector([x], lambda b, ins, out: b.unary(function, ins[0], out), x.shape)
    reference, accuracy = UNARY_REFERENCES[function]
    with np.errstate(all="ignore"):
        expected = reference(x.astype(np.float64))
    if accuracy == "exact":
        assert np.array_equal(got, expected.astype(np.float32))
    else:  # numpy's float32 libm: within a few ulps of the exact value (none overflows here)
        finite = np.isfinite(expected.astype(np.float32))
        assert np.all(ulps_apart(got[finite], expected[finite]) <= 4)
        assert np.array_equal(got[~finite], expected[~finite].astype(np.float32))


BINARY_REFERENCES = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


@pytest.mark.parametrize("function", sorted(BINARY_REFERENCES))
@pytest.mark.parametrize("rhs_kind", ["tile", "row", "column", "scalar"])
def test_binary_functions_broadcast_rows_columns_and_scalars_exactly(function, rhs_kind):
    rng = np.random.default_rng(7)
    lhs = rng.integers(-3, 4, size=(4, 6)).astype(np.float32) * 0.75  # many equal pairs
    rhs = {
        "tile": rng.integers(-3, 4, size=(4, 6)).astype(np.float32) * 0.75,
        "row": rng.integers(1, 4, size=(1, 6)).astype(np.float32) * 0.75,
        "column": rng.integers(1, 4, size=(4, 1)).astype(np.float32) * -0.75,
        "scalar": np.float32(0.75),
    }[rhs_kind]
    if rhs_kind == "scalar":
        emit = lambda b, ins, out: b.binary(function, ins[0], 0.75, out)  # noqa: E731
        got, _ = run_vector([lhs], emit, lhs.shape)
    else:
        emit = lambda b, ins, out: b.binary(function, ins[0], ins[1], out)  # noqa: E731
        got, _ = run_vector([lhs, rhs], emit, lhs.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = BINARY_REFERENCES[function](lhs.astype(np.float64), np.float64(1) * rhs)
    assert np.array_equal(got, expected.astype(np.float32))


def test_pow_is_within_ulps_and_a_scalar_may_be_the_left_operand():
    x = np.abs(vector_inputs("pow")) + 0.5
    got, _ = run_vector([x], lambda b, ins, out: b.binary("pow", ins[0], 1.5, out), x.shape)
    assert np.all(ulps_apart(got, x.astype(np.float64) ** 1.5) <= 4)
    got, _ = run_vector([x], lambda b, ins, out: b.binary("sub", 1.0, ins[0], out), x.shape)
    assert np.array_equal(got, (1.0 - x.astype(np.float64)).astype(np.float32))


def test_select_takes_lhs_where_cond_is_not_zero_and_broadcasts():
    cond = np.array([[1.0, 0.0, -2.0], [0.0, np.nan, 0.0]], np.float32)
    lhs = np.arange(6, dtype=np.float32).reshape(2, 3)
    column = np.array([[10.0], [20.0]], np.float32)
    got, _ = run_vector([cond, lhs, column], lambda b, ins, out: b.select(*ins, out), cond.shape)
    assert np.array_equal(got, np.array([[0, 10, 2], [20, 4, 20]], np.float32))


def test_an_elementwise_chain_runs_in_place_in_one_tile():
    x = vector_inputs("chain")

    def emit(build, ins, out):
        build.binary("mul", ins[0], 0.5, out)
        build.unary("tanh", out, out)
        build.binary("add", out, 1.0, out)

    got, _ = run_vector([x], emit, x.shape)
    expected = np.tanh(x.astype(np.float64) * 0.5) + 1.0
    # Each step rounds once (tanh within ulps); the add's operands are at most 1 in magnitude.
    assert np.all(np.abs(got - expected) <= 4 * 2.0**-23 * 2)


@pytest.mark.parametrize(
    "function, initial, reference",
    [
        ("sum", 0.0, np.sum),
        ("max", -np.inf, np.max),
        ("min", np.inf, np.min),
        ("prod", 1.0, np.prod),
    ],
)
@pytest.mark.parametrize("axis", [0, 1])
def test_reductions_accumulate_across_tiles(function, initial, reference, axis):
    """A 6 x 8 tensor reduced in two tiles of 3 rows (axis 0) or of 4 columns (axis 1)."""
    x = (np.random.default_rng(2).standard_normal((6, 8)) * 1.5).astype(np.float32)
    out_shape = (1, 8) if axis == 0 else (6, 1)
    build = Builder([x.shape], [out_shape])
    acc = build.tile(*out_shape)
    build.fill(acc, initial)
    parts = (
        [([0, 3], [0, 8]), ([3, 6], [0, 8])] if axis == 0 else [([0, 6], [0, 4]), ([0, 6], [4, 8])]
    )
    for rows, cols in parts:
        tile = build.tile(rows[1] - rows[0], cols[1] - cols[0])
        build.load(0, rows, cols, tile)
        build.reduce(function, axis, tile, acc)
    build.store(1, [0, out_shape[0]], [0, out_shape[1]], acc)
    (got,) = Simulator(build.program()).run([x])
    expected = reference(x.astype(np.float64), axis=axis, keepdims=True)
    if function in ("max", "min"):
        assert np.array_equal(got, expected.astype(np.float32))
    else:  # float32 sums of 8 terms: a few ulps of the largest partial
        scale = reference(np.abs(x.astype(np.float64)), axis=axis, keepdims=True)
        assert np.all(np.abs(got - expected) <= 8 * 2.0**-23 * scale)


def test_vector_timing_transcendentals_and_reduction_trees():
    x = np.zeros((256, 200), np.float32)  # 200 columns: two chunks of the 128 lanes per row
    cycles = {}
    for name, emit in {
        "add": lambda b, ins, out: b.binary("add", ins[0], 1.0, out),
        "exp": lambda b, ins, out: b.unary("exp", ins[0], out),
        "select": lambda b, ins, out: b.select(ins[0], 1.0, 2.0, out),
    }.items():
        _, simulator = run_vector([x], emit, x.shape)
        piece = simulator.slices[1]
        cycles[name] = piece.end - piece.start
    assert cycles["add"] == cycles["select"] == 256 * 2
    assert cycles["exp"] == 4 * 256 * 2  # Machine.vector_transcendental_cycles
    for axis, shape, tree in [(0, (1, 200), 0), (1, (256, 1), 7)]:
        _, simulator = run_vector(
            [x], lambda b, ins, out: b.reduce("sum", axis, ins[0], out), shape
        )
        piece = simulator.slices[1]
        assert piece.end - piece.start == 256 * 2 + tree


def vector_program(change):
    build = Builder([(4, 6)], [(4, 6)])
    x, out, row = build.tile(4, 6), build.tile(4, 6), build.tile(1, 6)
    build.load(0, [0, 4], [0, 6], x)
    build.binary("add", x, 1.0, out)
    build.reduce("sum", 0, x, row)
    build.store(1, [0, 4], [0, 6], out)
    program = build.program()
    change(program["instructions"])
    return program


BAD_VECTOR_PROGRAMS = [
    (
        lambda i: i[1].update(fn="atan"),
        r"instruction 1 \(binary\): field 'fn': unknown function 'atan' \(known: add, sub",
    ),
    (
        lambda i: i[1]["lhs"].update(shape=[2, 6]),
        r"instruction 1 \(binary\): field 'lhs.shape': \[2, 6\] does not broadcast to the output's "
        r"\[4, 6\] \(each dim the output's or 1\)",
    ),
    (
        lambda i: i[1].update(rhs="one"),
        r"instruction 1 \(binary\): field 'rhs': must be a number, got 'one'",
    ),
    (
        lambda i: i[1]["lhs"].update(at=i[1]["to"]["at"] + 4),
        r"instruction 1 \(binary\): field 'lhs': overlaps to in the buffer",
    ),
    (
        lambda i: i[2]["to"].update(shape=[4, 1]),
        r"instruction 2 \(reduce\): field 'to.shape': \[4, 1\]: reducing a 4x6 tile along axis 0 "
        r"accumulates into \[1, 6\]",
    ),
    (
        lambda i: i[2].update(axis=2),
        r"instruction 2 \(reduce\): field 'axis': must be 0 \(down the rows\) or 1",
    ),
    (
        lambda i: i[2].update(fn="mean"),
        r"instruction 2 \(reduce\): field 'fn': unknown function 'mean' \(known: sum, max, min, "
        r"prod\)",
    ),
    (
        lambda i: i.insert(1, {"op": "fill", "at": 0, "shape": [4, 6], "value": None, "waits": []}),
        r"instruction 1 \(fill\): field 'value': must be a number, got None",
    ),
]


@pytest.mark.parametrize("change, message", BAD_VECTOR_PROGRAMS)
def test_a_vector_instruction_the_unit_cannot_run_is_refused(change, message):
    assert Simulator(vector_program(lambda instructions: None)).program
    with pytest.raises(ProgramError, match=message):
        Simulator(vector_program(change))


def test_a_constant_tensor_travels_in_the_program_and_loads_like_an_input():
    program = {
        "machine": MACHINE.to_dict(),
        "tensors": [
            {
                "shape": [2, 3],
                "dtype": "float32",
                "kind": "constant",
                "index": 0,
                "values": [1, 2, 3, 4.5, -5, 6],
            },
            {"shape": [3, 2], "dtype": "float32", "kind": "output", "index": 0},
        ],
        "buffer_bytes": 24,
        "instructions": [
            {
                "op": "dma_load",
                "tensor": 0,
                "begin": [0, 0],
                "count": [2, 3],
                "step": [1, 1],
                "perm": [1, 0],
                "to": 0,
                "waits": [],
            },
            {
                "op": "dma_store",
                "tensor": 1,
                "begin": [0, 0],
                "count": [3, 2],
                "step": [1, 1],
                "from": 0,
                "waits": [0],
            },
        ],
    }
    simulator = Simulator(program)
    assert simulator.program.inputs == []  # nothing to hand in
    (out,) = simulator.run([])
    assert np.array_equal(out, np.array([[1, 4.5], [2, -5], [3, 6]], np.float32))
    assert load_program(program_to_dict(simulator.program)) == simulator.program
    program["tensors"][0]["values"] = [1, 2]
    with pytest.raises(
        ProgramError,
        match=r"field 'tensors\[0\].values': a constant's values "
        r"must be a list of its 6 numbers, row-major",
    ):
        Simulator(program)
    program["tensors"][0].update(kind="input", values=[1] * 6)
    with pytest.raises(ProgramError, match=r"field 'tensors\[0\].values': an input tensor has no"):
        Simulator(program)


def test_a_load_of_an_output_reads_what_earlier_stores_wrote_once_it_waits_for_them():
    """Device memory within a program: an op's result stored, then loaded by the next op."""
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    build = Builder([(3, 4)], [(3, 4)])
    tile, again, doubled = build.tile(3, 4), build.tile(3, 4), build.tile(3, 4)
    build.load(0, [0, 3], [0, 4], tile)
    store = build.store(1, [0, 3], [0, 4], tile)
    fields = {"op": "dma_load", "tensor": 1, **box_of([0, 3], [0, 4]), "to": again.at}
    load = build.emit({**fields, "waits": []}, [], [again])
    build.instructions[load]["waits"] = [store]  # the builder derives buffer waits only
    build.binary("add", again, again, doubled)
    build.store(1, [0, 3], [0, 4], doubled)
    program = build.program()
    simulator = Simulator(program)
    (out,) = simulator.run([x])
    assert np.array_equal(out, 2 * x)
    assert simulator.slices[load].start >= simulator.slices[store].end
    program["instructions"][load]["waits"] = []
    with pytest.raises(
        ProgramError,
        match=r"instruction 2 \(dma_load\): field 'tensor': reads "
        r"elements of output 0 that instruction 1 \(dma_store\) also uses, without "
        r"waiting for it \(add 1 to its waits\)",
    ):
        Simulator(program)
