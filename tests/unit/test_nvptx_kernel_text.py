"""KernelText (tgc/lowering/nvptx/kernel_text.py): fresh names and index constants never share a
name, however far the count runs, so the kernel text a writer builds always parses."""

import pytest
from mlir import ir

from tgc.dialect.context import make_context
from tgc.lowering.nvptx.kernel_text import KernelText


def _text_with_fresh_names_past(value: int, stem: str, prefix: str) -> str:
    """A function defining ``value`` fresh %<stem> names and the constant ``value`` under
    ``prefix``: with a shared name space the count meets the constant's name."""
    writer = KernelText()
    writer.prefix = prefix
    constant = writer.const(value)
    for _ in range(value):
        writer.emit(f"{writer.fresh(stem)} = arith.addi {constant}, {constant} : index")
    body = [*writer.constants.values(), *writer.lines]
    return "\n".join(["func.func @f() {", *body, "return", "}"])


@pytest.mark.parametrize("stem, prefix", [("k", "k"), ("c", "c"), ("hk", "hk")])
def test_a_fresh_count_reaching_a_constants_value_still_parses(stem, prefix):
    # gpu_check's 8-warp mma tiles reached %k1024 this way ("already in use").
    text = _text_with_fresh_names_past(1024, stem, prefix)
    with make_context():
        ir.Module.parse(text)


def test_fresh_names_differ_from_every_constant_name():
    writer = KernelText()
    writer.prefix = "k"
    fresh = {writer.fresh("k") for _ in range(300)}
    constants = {writer.const(value) for value in range(-5, 301)}
    assert len(fresh) == 300 and not fresh & constants


@pytest.mark.parametrize("stem", ["k.1", "", "9x", "a b"])
def test_a_stem_that_could_meet_another_name_is_refused(stem):
    with pytest.raises(ValueError, match="fresh: stem"):
        KernelText().fresh(stem)


def test_a_prefix_with_a_dot_is_refused():
    writer = KernelText()
    writer.prefix = "k.1"
    with pytest.raises(ValueError, match="const: prefix 'k.1'"):
        writer.const(3)
