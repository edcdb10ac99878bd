"""Shared-memory bank conflicts counted by running a kernel's index arithmetic for one warp
(tgc/lowering/nvptx/bank_conflicts.py): the counter's model on hand-made accesses and launches,
and the tensor-core matmul's kernel (mma_kernel.py) free of conflicts in its fragment reads and its
cp.async copies, for every warp, each transpose, divisible and odd shapes."""

import re

import numpy as np
import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering.nvptx.bank_conflicts import CountError, count_launch, launches, totals
from tgc.lowering.nvptx.bank_conflicts import wavefronts as count_wavefronts
from tgc.lowering.nvptx.mma_kernel import MmaTiles, MmaWriter
from tgc.lowering.nvptx.tile_matmul import TiledMatmulWriter, _tiles_for

LANES = np.arange(32)


def test_consecutive_words_take_one_wavefront_and_a_stride_of_32_words_takes_32():
    assert count_wavefronts(LANES * 4, 4) == (1, 1)
    assert count_wavefronts(LANES * 128, 4) == (32, 1)
    # Two words per bank: two wavefronts; the same word for every lane is a broadcast.
    assert count_wavefronts(LANES * 8, 4) == (2, 1)
    assert count_wavefronts(np.zeros(32, dtype=np.int64), 4) == (1, 1)


def test_16_byte_accesses_go_in_quarter_warps_and_inactive_lanes_take_no_bank():
    assert count_wavefronts(LANES * 16, 16) == (4, 4)
    # Rows of 20 floats, 4 lanes a row: lanes 0 and 7 of each quarter meet (the old padding).
    rows = (LANES // 4) * 80 + (LANES % 4) * 16
    assert count_wavefronts(rows, 16) == (8, 4)
    half = np.where(LANES < 16, LANES * 128, -1)
    assert count_wavefronts(half, 4) == (16, 1)


def _launch_text(index: str) -> str:
    """A block of 64 threads storing to shared element ``index`` (of %tx) of a 64x64 tile."""
    shared = "memref<64x64xf32, #gpu.address_space<workgroup>>"
    return f"""
func.func @f() {{
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %one = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
      threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
      workgroup(%S : {shared}) {{
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %row = arith.remui %tx, %c64 : index
    %col = arith.muli %c0, %c4 : index
    memref.store %one, %S[{index}] : {shared}
    gpu.terminator
  }}
  return
}}
"""


def _count(text: str, **kwargs) -> dict:
    with make_context():
        module = ir.Module.parse(text)  # kept: the launch is an op of it
        (launch,) = launches(module)
        return totals(count_launch(launch, **kwargs))


def test_a_column_of_a_64_float_tile_is_a_32_way_conflict_and_a_row_none():
    assert _count(_launch_text("%row, %col")) == {("store", 0, 4): (32, 1)}
    assert _count(_launch_text("%col, %row"), warp=1) == {("store", 0, 4): (1, 1)}


def test_a_loop_over_a_threads_elements_runs_each_lane_its_own_trips():
    # for i = tx to 80 step 64: S[i % 64][0] (a column: one bank). Warp 0 runs two trips, all
    # 32 lanes then lanes 0..15 (i = 64..79): 32 + 16 wavefronts where 2 do.
    text = (
        _launch_text("%row, %col")
        .replace(
            "    memref.store %one, %S[%row, %col]",
            "    %c80 = arith.constant 80 : index\n"
            "    scf.for %i = %tx to %c80 step %c64 {\n"
            "      %r = arith.remui %i, %c64 : index\n"
            "      memref.store %one, %S[%r, %col]",
        )
        .replace("    gpu.terminator", "    }\n    gpu.terminator")
    )
    assert _count(text) == {("store", 0, 4): (48, 2)}
    # Warp 1 (i = 32..63, then 96.. past 80): one trip.
    assert _count(text, warp=1) == {("store", 0, 4): (32, 1)}


def test_an_address_from_loaded_data_is_refused():
    text = _launch_text("%row, %col").replace(
        "memref.store %one, %S[%row, %col]",
        "%v = memref.load %S[%c0, %c0] : memref<64x64xf32, #gpu.address_space<workgroup>>\n"
        "    %i = arith.fptoui %v : f32 to i32\n"
        "    %j = arith.index_cast %i : i32 to index\n"
        "    memref.store %one, %S[%j, %col]",
    )
    with pytest.raises(CountError, match="a shared address computed from loaded data"):
        _count(text)


def _mma_counts(m, n, k, ta, tb, warp: int, tiles: MmaTiles = MmaTiles()) -> dict:
    with make_context():
        a = ir.MemRefType.parse(f"memref<{k}x{m}xf32>" if ta else f"memref<{m}x{k}xf32>")
        b = ir.MemRefType.parse(f"memref<{n}x{k}xf32>" if tb else f"memref<{k}x{n}xf32>")
        c = ir.MemRefType.parse(f"memref<{m}x{n}xf32>")
        text = MmaWriter(tiles, [a, b, c], (m, n, k), (ta, tb)).text()
        module = ir.Module.parse(text)
        (launch,) = launches(module)
        return totals(count_launch(launch, warp=warp))


@pytest.mark.parametrize(
    "m, n, k, ta, tb",
    [
        (256, 256, 64, False, False),
        (256, 256, 64, True, False),
        (256, 256, 64, False, True),
        (256, 256, 64, True, True),
        (37, 50, 21, False, False),  # 4-byte copies with bound tests
    ],
)
def test_the_tensor_core_kernel_meets_no_bank_twice(m, n, k, ta, tb):
    for warp in range(4):
        counts = _mma_counts(m, n, k, ta, tb, warp)
        # Per warp and K tile (k = 64: 4 tiles): 32 wavefronts of fragment reads a k8 step (A 16,
        # B 16): scalar loads, or ldmatrix (4 phases of 16 bytes) where a tile's rows run along k.
        reads = {(kind, buffer): least for (kind, buffer, _), (_, least) in counts.items()}
        assert sum(v for (kind, _), v in reads.items() if kind != "cp.async") == (
            (4 if k == 64 else 2) * 2 * 32
        )
        along_k = {0} if not ta else set()
        along_k |= {1} if tb else set()
        assert {buffer for kind, buffer in reads if kind == "ldmatrix"} == along_k
        conflicts = {key: taken - least for key, (taken, least) in counts.items()}
        assert set(conflicts.values()) == {0}, (warp, counts)


# The swizzle for other tiles: gpu_check's 8 warps of 64x32, K steps of 8 (rows of 8 floats: 4 to
# a line of banks) and of 32 (a row a line).
OTHER_TILES = [
    MmaTiles(warps_m=2, warps_n=4),
    MmaTiles(bk=8, stages=4),
    MmaTiles(bm=64, bn=64, bk=32, stages=2),
    MmaTiles(bk=32, stages=2),  # (beyond the 48 KiB: for the count only)
]


@pytest.mark.parametrize("tiles", OTHER_TILES, ids=str)
@pytest.mark.parametrize("ta, tb", [(False, False), (True, True)])
def test_other_tiles_meet_no_bank_twice_either(tiles, ta, tb):
    for warp in range(tiles.warps_m * tiles.warps_n):
        counts = _mma_counts(256, 256, 64, ta, tb, warp, tiles)
        assert {taken - least for taken, least in counts.values()} == {0}, (warp, counts)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"bk": 12}, "BK 12 a power of two from 8"),
        ({"bm": 80}, "BM 80 and BN 128 must be multiples of 32"),
        ({"stages": 1}, "1 stages; the copies ahead need 2 or more"),
        ({"bm": 32, "warps_m": 4}, "a warp's tile (32/4 x 128/2) must be whole 16x8 mma tiles"),
    ],
)
def test_tiles_the_swizzle_cannot_serve_are_refused(fields, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        MmaTiles(**fields)


@pytest.mark.parametrize("element", ["f32", "f64"])
@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True)])
def test_the_fma_kernel_meets_no_bank_twice_either(element, ta, tb):
    # tgc-nvptx-tile-matmul's kernel: before its rows were padded, a warp's stores of A (and of
    # B^T) into As[k][m] were 8-way conflicts: 128 wavefronts where 16 do.
    m = n = 256
    k = 32
    with make_context():
        a = f"memref<{k}x{m}x{element}>" if ta else f"memref<{m}x{k}x{element}>"
        b = f"memref<{n}x{k}x{element}>" if tb else f"memref<{k}x{n}x{element}>"
        types = [ir.MemRefType.parse(t) for t in (a, b, f"memref<{m}x{n}x{element}>")]
        tiles = _tiles_for(types[0].element_type)
        module = ir.Module.parse(TiledMatmulWriter(tiles, types, (m, n, k), (ta, tb)).text())
        (launch,) = launches(module)
        for warp in (0, 5):
            counts = totals(count_launch(launch, warp=warp))
            assert {taken - least for taken, least in counts.values()} == {0}, counts
            # 4 K steps: per thread 4 stores of each tile (f32; 2 in f64, of 8 bytes: 2 phases).
            assert counts[("store", 0, int(element[1:]) // 8)][1] == 16
