"""The tensor-core matmul's kernel (mma_kernel.py) for nvptx-emulated
(tgc-nvptx-mma-matmul{emulated=true}).

The host runs a block's threads one after another (tgc-nvptx-kernels-on-host), so it can run
neither a warp-wide mma.sync (each lane holds a piece of the warp's operands) nor an asynchronous
copy. This writer emits the same kernel (tiles, warps, lanes, shared stages, fragment positions,
bounds) with these emulated:

- a cp.async becomes the copy itself: ``width`` loads (zero past M, N or K) stored into the stage
  (the wait before the barrier then has nothing to wait for);
- an ldmatrix becomes the loads of what it hands each lane: float q of lane l is float l % 4 of
  the row whose address lane 8q + l / 4 gives (that lane's address computed from its number);
- the mma.sync of a k8 step become an exchange through a workgroup buffer: each thread stores its
  fragments (A's a0..a3 and B's b0, b1 cut to TF32, its accumulators c0..c3) at its (warp, lane),
  a barrier, then each thread computes its own c0..c3 from the lanes that hold the rows and columns
  it needs, in PTX's m16n8k8 layout: c_i += sum over k < 8 of A(row_i, k) * B(k, col_i), A(r, k)
  held by lane 4 * (r % 8) + k % 4 as a[(r >= 8) + 2 * (k >= 4)], B(k, n) by lane 4 * n + k % 4 as
  b[k >= 4]. A second buffer half for the next k8 step spares a barrier: a thread may store the next
  step's fragments while others still read this step's.

TF32 here truncates each operand to 10 mantissa bits (the low 13 bits of the float32 cleared, as
the tensor cores take a float32 register); the products of two such are exact in float32 and are
summed in float32 in k order. So the emulated numbers are the GPU's up to the order of the sums.
"""

from __future__ import annotations

from tgc.lowering.nvptx.mma_kernel import MMA_K, WARP, MmaWriter

SLOTS = 10  # a0..a3, b0, b1, c0..c3 of one mma tile, per lane
_A, _B, _C = 0, 4, 6
TF32_MASK = -8192  # 0xFFFFE000 as i32: sign, exponent and the top 10 mantissa bits


class EmulatedMmaWriter(MmaWriter):
    def _attributions(self) -> str:
        """The exchange buffer: emulation's own, a static workgroup buffer beside the tiles."""
        return f"%Xs : {self._exchange_type()}"

    def _exchange_type(self) -> str:
        size = 2 * self._exchange_half()
        return f"memref<{size}xf32, #gpu.address_space<workgroup>>"

    def _exchange_half(self) -> int:
        t = self.t
        return t.warps_m * t.warps_n * WARP * self._tiles_per_warp() * SLOTS

    def _tiles_per_warp(self) -> int:
        return (self.t.warp_m // 16) * (self.t.warp_n // 8)

    # ---- copies: done at once --------------------------------------------------------------------

    def _copy(self, operand: int, where: tuple, shared: tuple, at: tuple, width: int, ok) -> None:
        g_slow, g_fast = where
        stage, slow_i, fast_i = at
        for w in range(width):
            source_fast, target_fast = g_fast, fast_i
            if w:
                source_fast, target_fast = (
                    self._add(g_fast, self.const(w)),
                    self._add(fast_i, self.const(w)),
                )
            buffer, type_ = f"%{'AB'[operand]}", str(self.types[operand])
            value = self._load_or_zero(ok, buffer, type_, f"{g_slow}, {source_fast}")
            self.emit(
                f"memref.store {value}, {shared[0]}[{stage}, {slow_i}, {target_fast}] : {shared[1]}"
            )

    def _group(self, tokens: list) -> None:
        return None

    def _wait(self, group, pending: int) -> None:
        """Nothing is in flight: the copies were made at once."""

    # ---- ldmatrix: each lane reads what the instruction would hand it --------------------------

    def _ldmatrix(self, operand: int, shared: tuple, tiles: int, row_of) -> list:
        """Float q of lane l is float l % 4 (quad) of the row that lane 8q + l / 4 (group)
        addresses: that lane's address computed here, from its lane number."""
        values = []
        for q in range(tiles):
            source = self._add(self.const(8 * q), "%group")
            mn, k = row_of(source)
            column = self._add(self._swizzled(operand, mn, k), "%quad")
            value = self.fresh("lm")
            self.emit(f"{value} = memref.load {shared[0]}[%stage, {mn}, {column}] : {shared[1]}")
            values.append(value)
        return values

    # ---- mma.sync: an exchange through workgroup memory ----------------------------------------

    def _multiply(self, kk: int, tiles: list, a: dict, b: dict, acc: list) -> list:
        half = (kk // MMA_K) % 2
        a = {i: [self._tf32(v) for v in values] for i, values in a.items()}
        b = {j: [self._tf32(v) for v in values] for j, values in b.items()}
        for n, (i, j) in enumerate(tiles):
            values = [*a[i], *b[j], *self._elements(acc[n])]
            for slot, value in enumerate(values):
                index = self._exchange_index(half, "%lane", n, self.const(slot))
                self.emit(f"memref.store {value}, %Xs[{index}] : {self._exchange_type()}")
        self.emit("gpu.barrier")
        return [self._own_tile(half, n) for n in range(len(tiles))]

    def _elements(self, fragment: str) -> list:
        values = []
        for at in ("[0, 0]", "[0, 1]", "[1, 0]", "[1, 1]"):
            name = self.fresh("cel")
            self.emit(f"{name} = vector.extract {fragment}{at} : f32 from vector<2x2xf32>")
            values.append(name)
        return values

    def _tf32(self, value: str) -> str:
        bits, cut, name = self.fresh("bits"), self.fresh("cut"), self.fresh("tf32")
        self.emit(f"{bits} = arith.bitcast {value} : f32 to i32")
        self.emit(f"{cut} = arith.andi {bits}, {self._i32(TF32_MASK)} : i32")
        self.emit(f"{name} = arith.bitcast {cut} : i32 to f32")
        return name

    def _i32(self, value: int) -> str:
        name = f"%i32_{abs(value)}{'n' if value < 0 else ''}"
        if name not in self.constants:
            self.constants[name] = f"{name} = arith.constant {value} : i32"
        return name

    def _exchange_index(self, half: int, lane: str, tile: int, slot: str) -> str:
        """((half * warps + warp) * 32 + lane) * tiles + tile) * SLOTS + slot."""
        t = self.t
        warps = t.warps_m * t.warps_n
        name = self.fresh("x")
        self.emit(f"{name}_w = arith.addi %warp, {self.const(half * warps)} : index")
        self.emit(f"{name}_l0 = arith.muli {name}_w, {self.const(WARP)} : index")
        self.emit(f"{name}_l = arith.addi {name}_l0, {lane} : index")
        self.emit(f"{name}_t0 = arith.muli {name}_l, {self.const(self._tiles_per_warp())} : index")
        self.emit(f"{name}_t = arith.addi {name}_t0, {self.const(tile)} : index")
        self.emit(f"{name}_s0 = arith.muli {name}_t, {self.const(SLOTS)} : index")
        self.emit(f"{name} = arith.addi {name}_s0, {slot} : index")
        return name

    def _own_tile(self, half: int, tile: int) -> str:
        """This thread's c0..c3 of mma tile ``tile`` after the k8 step: (row group (+8),
        column 2 * quad (+1)) of the 16x8 tile."""
        values = [self._own_element(half, tile, i) for i in range(4)]
        name = self.fresh("d")
        self.emit(f"{name} = vector.from_elements {', '.join(values)} : vector<2x2xf32>")
        return name

    def _own_element(self, half: int, tile: int, i: int) -> str:
        xt = self._exchange_type()
        low_high, odd = i // 2, i % 2
        c = self.fresh("cv")
        index = self._exchange_index(half, "%lane", tile, self.const(_C + i))
        self.emit(f"{c} = memref.load %Xs[{index}] : {xt}")
        # The lanes of this element's row (group = lane / 4) and column (2 * quad + odd).
        col4 = self.fresh("col4")
        self.emit(f"{col4}_ = arith.muli %quad, {self.const(8)} : index")
        self.emit(f"{col4} = arith.addi {col4}_, {self.const(4 * odd)} : index")
        row4 = self.fresh("row4")
        self.emit(f"{row4} = arith.muli %group, {self.const(4)} : index")
        total, k = self.fresh("sum"), self.fresh("kk")
        self.emit(
            f"{total} = scf.for {k} = {self.const(0)} to {self.const(MMA_K)} step "
            f"{self.const(1)} iter_args({total}_acc = {c}) -> (f32) {{"
        )
        kq, kh = self.fresh("kq"), self.fresh("kh")
        self.emit(f"{kq} = arith.remui {k}, {self.const(4)} : index")
        self.emit(f"{kh} = arith.divui {k}, {self.const(4)} : index")
        a_lane, b_lane = self._add(row4, kq), self._add(col4, kq)
        a_slot = self.fresh("as")
        self.emit(f"{a_slot}_ = arith.muli {kh}, {self.const(2)} : index")
        self.emit(f"{a_slot} = arith.addi {a_slot}_, {self.const(_A + low_high)} : index")
        b_slot = self._add(kh, self.const(_B))
        av, bv = self.fresh("av"), self.fresh("bv")
        self.emit(
            f"{av} = memref.load %Xs[{self._exchange_index(half, a_lane, tile, a_slot)}] : {xt}"
        )
        self.emit(
            f"{bv} = memref.load %Xs[{self._exchange_index(half, b_lane, tile, b_slot)}] : {xt}"
        )
        updated = self.fresh("upd")
        self.emit(f"{updated} = math.fma {av}, {bv}, {total}_acc : f32")
        self.emit(f"scf.yield {updated} : f32")
        self.emit("}")
        return total
