"""What the passes that write a kernel as MLIR text share (tgc-nvptx-tile-matmul,
tgc-nvptx-tree-reduce): fresh SSA names, the lines written so far, and index constants written once
each, named by ``prefix`` (a writer switches the prefix, and the constants, per region).

The two kinds of names are disjoint by construction: a fresh name is ``%<stem>.<count>`` and
nothing else a writer names contains a dot (a constant is ``%<prefix><value>``; the fixed names,
%lane, %acc3, %k_next, are letters, digits and underscores). Without the dot, ``fresh("k")``
reached ``%k1024`` and met ``const(1024)`` under prefix "k": the text no longer parsed."""

from __future__ import annotations

import re

# A stem or prefix: what MLIR allows in a name, less the dot that separates a fresh name's count.
_NAME_PART = re.compile(r"[A-Za-z_$-][A-Za-z0-9_$-]*")


class KernelText:
    def __init__(self):
        self.lines: list[str] = []
        self.count = 0
        self.constants: dict[str, str] = {}
        self.prefix = "c"

    def fresh(self, stem: str) -> str:
        """A name no other fresh name or constant has: ``%<stem>.<count>``."""
        if not _NAME_PART.fullmatch(stem):
            raise ValueError(f"KernelText.fresh: stem {stem!r} is not a name without a dot")
        self.count += 1
        return f"%{stem}.{self.count}"

    def emit(self, line: str) -> None:
        self.lines.append(line)

    def const(self, value: int) -> str:
        if not _NAME_PART.fullmatch(self.prefix):
            prefix = self.prefix
            raise ValueError(f"KernelText.const: prefix {prefix!r} is not a name without a dot")
        name = f"%{self.prefix}{value}"
        if name not in self.constants:
            self.constants[name] = f"{name} = arith.constant {value} : index"
        return name
