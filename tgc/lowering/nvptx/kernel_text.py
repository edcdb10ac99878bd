"""What the passes that write a kernel as MLIR text share (tgc-nvptx-tile-matmul,
tgc-nvptx-tree-reduce): fresh SSA names, the lines written so far, and index constants written once
each, named by ``prefix`` (a writer switches the prefix, and the constants, per region)."""

from __future__ import annotations


class KernelText:
    def __init__(self):
        self.lines: list[str] = []
        self.count = 0
        self.constants: dict[str, str] = {}
        self.prefix = "c"

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"%{stem}{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def const(self, value: int) -> str:
        name = f"%{self.prefix}{value}"
        if name not in self.constants:
            self.constants[name] = f"{name} = arith.constant {value} : index"
        return name
